/*
 * Wiring: a validated struct config -> running objects. Opens one backstore
 * per LUN, creates the SCSI targets, target ports (one per portal group)
 * and LUNs, then starts the iSCSI fabric on the event loops and adds every
 * target (which opens the portals).
 *
 * It does not parse or validate configuration (config.c) and does not own
 * threads or signals (main.c): the loops it is given must already run.
 */
#ifndef CTGT_DAEMON_WIRE_H
#define CTGT_DAEMON_WIRE_H

#include <stdio.h>

#include "daemon/config.h"

struct base_loop;
struct wire;

/* The objects, in two steps, so that the cluster can know the LUs before
 * anything is reachable (main.c):
 * wire_build: backstores, targets, ports, LUs. 0 and *out set, or -errno
 *   (logged; everything created so far undone). c must outlive the wire;
 *   it fills in c's scsi/tport/lu pointers and the sizes taken from files.
 * wire_serve: the iSCSI fabric; 0: every portal listens; -errno (logged;
 *   the fabric is shut down again, wire_destroy() frees the rest). */
int wire_build(struct config *c, struct wire **out);
int wire_serve(struct wire *w, struct base_loop **loops, unsigned n_loops);

/* One human line per target: what is served, where. */
void wire_print_serving(const struct wire *w, FILE *f);

/* iscsi_shutdown(): stops listening, aborts in-flight commands, closes
 * sessions. The loops must still run. */
void wire_stop_fabric(struct wire *w);

/* After the loops stopped: destroys the SCSI objects and closes (flushes)
 * every backstore; frees w. */
void wire_destroy(struct wire *w);

#endif
