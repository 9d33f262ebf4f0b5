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

/* 0 and *out set: every portal listens. -errno: the reason was logged and
 * everything created so far is undone (the fabric is shut down), so the
 * caller only stops its loops. c must outlive the wire; wire_start() fills
 * in its scsi/tport pointers and the sizes taken from files. */
int wire_start(struct config *c, struct base_loop **loops, unsigned n_loops,
	       struct wire **out);

/* One human line per target: what is served, where. */
void wire_print_serving(const struct wire *w, FILE *f);

/* iscsi_shutdown(): stops listening, aborts in-flight commands, closes
 * sessions. The loops must still run. */
void wire_stop_fabric(struct wire *w);

/* After the loops stopped: destroys the SCSI objects and closes (flushes)
 * every backstore; frees w. */
void wire_destroy(struct wire *w);

#endif
