/*
 * The "cluster" and "control" objects of ctgtd's configuration
 * (docs/config.md): which cluster backend and group this node joins, and
 * where its control socket listens.
 *
 * Parsing is pure, like the rest of config.c, which calls
 * config_cluster_parse() once per file; messages use config.c's format
 * (key path first). This file neither opens the cluster nor the socket
 * (daemon/member.c does).
 */
#ifndef CTGT_DAEMON_CONFIG_CLUSTER_H
#define CTGT_DAEMON_CONFIG_CLUSTER_H

#include <stdbool.h>

#include "cluster/cluster.h"

struct config;
struct config_msgs;
struct json_object;

#define CONFIG_CLUSTER_GROUP_DEFAULT "ctgt"
#define CONFIG_CLUSTER_GROUP_MAX 64u       /* corosync allows 128 */
#define CONFIG_CLUSTER_JOIN_TIMEOUT_DEFAULT 60u  /* seconds */
#define CONFIG_CLUSTER_JOIN_TIMEOUT_MAX 3600u
#define CONFIG_CLUSTER_FENCE_DELAY_DEFAULT 1000u  /* ms */
#define CONFIG_CLUSTER_FENCE_DELAY_MAX 60000u
#define CONFIG_CONTROL_SOCKET_DEFAULT "/run/ctgt/ctgtd.sock"
#define CONFIG_CONTROL_SOCKET_MAX 107u     /* sun_path minus the NUL */

struct config_cluster {
	enum cluster_backend_kind backend;  /* SINGLE or COROSYNC */
	char group[CONFIG_CLUSTER_GROUP_MAX + 1];
	/* Seconds ctgtd waits at start for its first view (the backend
	 * retries meanwhile) before it gives up and exits 1. */
	unsigned join_timeout_s;
	/* Milliseconds a node holds its clustered LUs and their completions
	 * after a view in which nodes left (device.c, "Fencing"); 0: none. */
	unsigned fence_delay_ms;
};

struct config_control {
	bool enabled;                       /* default true */
	/* true when "socket" was given: then a socket held by another
	 * live ctgtd is an error, not a warning (docs/config.md). */
	bool socket_set;
	char socket[CONFIG_CONTROL_SOCKET_MAX + 1];
};

/* Applies the defaults, then reads root's "cluster" and "control"
 * members (absent: defaults). Errors go to msgs; 0, or -ENOMEM. */
int config_cluster_parse(struct json_object *root, struct config *c,
			 struct config_msgs *msgs);

const char *config_cluster_backend_name(enum cluster_backend_kind k);

#endif
