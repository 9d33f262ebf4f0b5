/*
 * ctgtd as a cluster member: the control thread ("ctl") with its own
 * event loop, on which the cluster service and the control socket live.
 *
 * member_start() opens the cluster service (config "cluster") and the
 * control socket (config "control", or -S) and returns once both are
 * open, or with -errno after logging why; member_stop() closes them in
 * order (control socket, cluster) and ends the thread.
 *
 * The I/O loops never run cluster code: whatever needs the cluster
 * reaches it with base_loop_post() on member_loop().
 */
#ifndef CTGT_DAEMON_MEMBER_H
#define CTGT_DAEMON_MEMBER_H

struct base_loop;
struct cluster;
struct config;
struct member;

/* control_path: -S (NULL: the configuration's). */
int member_start(const struct config *c, const char *control_path,
		 struct member **out);
void member_stop(struct member *m);

/* The SCSI targets of the configuration given to member_start() exist
 * (wire_start() ran): with the corosync backend their port group state
 * and REPORT TARGET PORT GROUPS answer follow the cluster's port
 * directory from now on (ports.h). Call once. */
void member_attach_targets(struct member *m);

struct base_loop *member_loop(const struct member *m);
struct cluster *member_cluster(const struct member *m);

#endif
