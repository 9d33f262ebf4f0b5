/*
 * The contract between the cluster service (cluster.c, the protocol) and a
 * transport backend: an ordered bus. A backend gives the service three
 * things, all on the service's loop thread:
 *   - total order: every member delivers the same messages in the same
 *     order (corosync CPG's agreed order), a sender included;
 *   - views: a view change is delivered in that same order (virtual
 *     synchrony: every member that delivers a message delivers it in the
 *     same view);
 *   - quorum: each view says whether it is quorate, computed from the view
 *     itself (members' votes against the expected votes), so every member
 *     of the view agrees.
 * Messages are opaque bytes here: the service's codec (cluster_msg.h)
 * gives them meaning.
 *
 * Backends: single (cluster_bus_single.c, a view of one, delivery through
 * base_defer), corosync (cluster_bus_corosync.c, the only file that
 * includes corosync headers) and sim (cluster_sim.c, tests).
 *
 * Deliberately NOT here: acks, state transfer, channels: the service
 * builds those from the three properties above.
 */
#ifndef CTGT_CLUSTER_BUS_H
#define CTGT_CLUSTER_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cluster/cluster.h"

struct base_loop;

/* What the backend calls (the service implements these). */
struct cluster_bus_upcalls {
	/* One message in total order, from node `from`, in the current
	 * view. data is valid only during the call. */
	void (*deliver)(void *arg, uint32_t from, const void *data,
			size_t len);
	/* A new view (members sorted by id, names filled when known,
	 * quorate set, local_id set, ring_id set when the backend has one;
	 * seq is left to the service). */
	void (*view)(void *arg, const struct cluster_view *v);
	/* The backend is writable again after send() returned -EAGAIN. */
	void (*writable)(void *arg);
	/* The backend failed for good (corosync went away): the service
	 * reports not ready; the node must restart to rejoin. */
	void (*fatal)(void *arg, int err);
	void *arg;
};

struct cluster_bus_ops {
	const char *name;
	/* Joins the group; the first view arrives later through upcalls. */
	int (*start)(struct cluster_bus *bus, struct base_loop *loop,
		     const char *group, const struct cluster_bus_upcalls *up);
	/* Multicasts one message to the group in total order. 0, -EAGAIN
	 * (flow control: nothing sent, writable() follows), -EMSGSIZE, or
	 * another -errno. Never blocks the loop. */
	int (*send)(struct cluster_bus *bus, const struct iovec *iov,
		    int iovcnt);
	/* The largest message send() takes. */
	size_t (*max_msg)(struct cluster_bus *bus);
	/* Leaves the group; no upcall after it returns. */
	void (*stop)(struct cluster_bus *bus);
	void (*destroy)(struct cluster_bus *bus);
};

struct cluster_bus {
	const struct cluster_bus_ops *ops;
	void *priv;
};

/* Backend constructors. */
int cluster_bus_single_create(struct cluster_bus **out);
/* -ENOTSUP when built without corosync. */
int cluster_bus_corosync_create(struct cluster_bus **out);

#endif
