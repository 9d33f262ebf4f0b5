/*
 * The device channel: the replicated state of every clustered LU
 * ("cluster_impl": "cluster") on the cluster service, so that every node
 * serving the LU is one SCSI device (issue 5, docs/cluster-device.md,
 * "Wiring: the device channel").
 *
 * Each clustered LU gets this channel as its sequencer (scsi.h, struct
 * scsi_lu_seq): the core's messages (PR OUT, RESERVE, RELEASE, resets,
 * I_T nexus loss) are submitted here, applied on every node in the
 * cluster's order by scsi_lun_repl_apply(), and the issuer hears back once
 * every member has applied them.
 *
 * Everything here runs on the control thread (member.c's loop), where the
 * cluster service lives; the sequencer's submit may be called from any
 * thread and posts there.
 */
#ifndef CTGT_DAEMON_DEVICE_H
#define CTGT_DAEMON_DEVICE_H

#include <stdbool.h>

struct cluster;
struct config;
struct device;
struct ports;

/* The channel id of the device channel (CLUSTER_CH_USER + 1). */
#define DEVICE_CHANNEL_ID 17u

/* Registers the channel on c for cfg's clustered LUs (wired: their lu
 * pointers are set) and makes it their sequencer. ports (may be NULL:
 * the single backend) answers which target ports exist on other nodes.
 * 0, or -errno after logging why. With no clustered LU: 0, *out NULL. */
int device_open(struct cluster *c, const struct config *cfg,
		struct ports *ports, struct device **out);
/* At a clean stop, once the sessions are closed (this node serves
 * nothing any more): tells the others, so that its departure holds
 * nothing (device.c, "Fencing"). done(arg) runs on the control thread
 * once the BYE is ordered, or at once when it cannot be, or after 2 s. */
void device_bye(struct device *d, void (*done)(void *arg), void *arg);
/* Before cluster_close(): detaches the LUs (their messages are applied
 * here alone from now on) and fails what is still queued; after it
 * (which closed the channel and fired the pending submits): frees d. */
void device_detach(struct device *d);
/* cluster_events.ready: once ready, this node offers its APTPL files
 * while the cluster awaits them (device.c, whole-cluster restart). */
void device_ready(struct device *d, bool ready);
void device_free(struct device *d);

#endif
