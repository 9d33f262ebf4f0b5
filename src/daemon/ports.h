/*
 * The port-directory channel: this node's target ports announced to the
 * cluster, every node's ports known here (scsi/port_dir.h), and the
 * cluster-wide REPORT TARGET PORT GROUPS answer published to the local
 * SCSI targets. Only with the corosync backend (the single backend keeps
 * the core's local answer). docs/cluster-device.md, "Wiring: the port
 * directory in ctgtd".
 *
 * Everything here runs on the control thread (member.c's loop), where
 * the cluster service lives.
 */
#ifndef CTGT_DAEMON_PORTS_H
#define CTGT_DAEMON_PORTS_H

#include <stdbool.h>

struct cluster;
struct config;
struct ports;
struct port_dir;

/* The channel id of the port directory on the cluster service: fixed,
 * every node registers it (CLUSTER_CH_USER + 0). */
#define PORTS_CHANNEL_ID 16u

/* Registers the channel on c (before the node can become ready) and
 * builds this node's ANNOUNCE from cfg (which must outlive it). 0, or
 * -errno after logging why (a configuration the directory cannot hold,
 * e.g. more than PORT_DIR_NODE_PORTS_MAX ports). */
int ports_open(struct cluster *c, const struct config *cfg,
	       struct ports **out);
/* After cluster_close() (which closed the channel and fired the pending
 * submit): frees p. */
void ports_free(struct ports *p);

/* The node's readiness changed (cluster_events.ready): ready announces
 * this node's ports; the local port group follows (ACTIVE/OPTIMIZED when
 * ready, UNAVAILABLE when not). */
void ports_ready(struct ports *p, bool ready);

/* The local SCSI targets exist now (wire_start() filled cfg's target
 * pointers): from now on their port group state and their RTPG answer
 * follow the directory. */
void ports_attach(struct ports *p);

/* The replicated directory, for the device channel (device.c): on the
 * control thread, in the cluster's order. */
const struct port_dir *ports_dir(const struct ports *p);

#endif
