/*
 * The cluster service: membership, ordered commit, a replicated key-value
 * store, locks and notify-with-acknowledge (the kernel RFC's DLM_CKV, in
 * userspace). This header is all the rest of ctgt sees of the cluster; it
 * names no corosync type.
 *
 * The model (DESIGN.md, "Cluster model"): every change of replicated state
 * is a message in one total order. Every member applies every message in
 * that order through the apply function of the message's channel, so all
 * members hold the same state. The submitter's completion fires only after
 * every member of the view the message was delivered in has applied it
 * (a member that leaves counts as done). Nothing is applied locally first
 * and published later.
 *
 * Deliberately NOT here: the transport (backends behind cluster_bus.h:
 * single, corosync, sim), the wire codec (cluster_msg.h), and anything
 * SCSI. Users of the service (the KV store and lock manager in this
 * folder, the SCSI device state in issue 5) are channels.
 *
 * Threads: one cluster instance lives on one base_loop. Every function
 * here must be called on that loop's thread, and every callback runs on
 * it. Other threads use base_loop_post().
 *
 * Callbacks follow libuv's rule: a function that takes a completion and
 * returns an error never calls it; one that returns 0 calls it exactly
 * once, never from inside the call itself.
 */
#ifndef CTGT_CLUSTER_CLUSTER_H
#define CTGT_CLUSTER_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct base_loop;
struct cluster;
struct cluster_bus;

#define CLUSTER_NODES_MAX 32
#define CLUSTER_NODE_NAME_MAX 64

/* ------------------------------------------------------------ membership */

struct cluster_node {
	uint32_t id;                          /* corosync nodeid; stable */
	char name[CLUSTER_NODE_NAME_MAX];     /* "" when unknown */
};

/* A membership view. Members are sorted by id. seq counts the views this
 * node has seen (local; not comparable across nodes). quorate: this view
 * may apply messages; computed from the view itself, so every member of a
 * view agrees on it at the same point of the order. */
struct cluster_view {
	uint64_t seq;
	/* The backend's agreed identity of this view: the same at every
	 * member, never reused for another view (corosync: the totem ring
	 * id, e.g. ring seq << 32 | ring nodeid); 0 if the backend has none.
	 * The sync round tags its messages with it, so a message sent for
	 * an older view with the same members is never taken for this
	 * view's. Added by the protocol engine (issue 4). */
	uint64_t ring_id;
	uint32_t local_id;
	bool quorate;
	uint32_t count;
	struct cluster_node members[CLUSTER_NODES_MAX];
};

/* The current view (valid until the next callback returns). */
const struct cluster_view *cluster_view_get(const struct cluster *c);

/* Whether this node holds the replicated state of the primary (quorate)
 * component and may serve clustered resources: quorate, and state
 * transfer done. */
bool cluster_is_ready(const struct cluster *c);

/* ---------------------------------------------------------------- opening */

enum cluster_backend_kind {
	CLUSTER_BACKEND_SINGLE = 0,  /* in-process, a view of one; default */
	CLUSTER_BACKEND_COROSYNC,    /* CPG + votequorum + cmap */
	CLUSTER_BACKEND_SIM,         /* tests: see cluster_sim.h */
};

struct cluster_config {
	enum cluster_backend_kind backend;
	const char *group;           /* CPG group name; NULL: "ctgt" */
	struct cluster_bus *bus;     /* SIM: the node's bus (cluster_sim.h) */
};

/* Node-level events, delivered in order with messages. */
struct cluster_events {
	/* A new view. left/joined are node ids relative to the previous
	 * view. Runs before any message of the new view is applied. */
	void (*view)(void *arg, const struct cluster_view *v,
		     const uint32_t *left, uint32_t nleft,
		     const uint32_t *joined, uint32_t njoined);
	/* cluster_is_ready() changed. */
	void (*ready)(void *arg, bool ready);
	/* The backend failed for good (corosync went away): the node stays
	 * not ready from now on; a daemon exits so that its supervisor
	 * restarts it and it rejoins (may be NULL). */
	void (*fatal)(void *arg, int err);
	void *arg;
};

/* Creates the service on loop (the caller's thread) and starts joining.
 * Returns 0 or -errno (-ENOTSUP for a backend not built in). */
int cluster_open(struct base_loop *loop, const struct cluster_config *cfg,
		 const struct cluster_events *ev, struct cluster **out);

/* Leaves the group and frees everything, channels still open included.
 * Every outstanding completion (submit, KV, lock, notify) fires with
 * -ESHUTDOWN inside this call: the one exception to the rule above.
 * May be called from a submit completion; not from apply, view, ready or
 * load callbacks. Apply tokens still held die with it: do not call
 * cluster_apply_done() after close. */
void cluster_close(struct cluster *c);

uint32_t cluster_local_id(const struct cluster *c);

/* The loop the service lives on (cluster_open's). */
struct base_loop *cluster_loop(const struct cluster *c);

/* --------------------------------------------------------------- channels */

/* A channel is a user of ordered commit with its own replicated state:
 * the KV store, the lock manager, notify, a SCSI logical unit. Every node
 * registers the same channels (same id) before it becomes ready. */
struct cluster_channel;

/* Token of one apply whose completion (the local ack) is deferred. */
struct cluster_apply;

/* Where a message came from and where it sits in the order. */
struct cluster_msg_info {
	uint32_t from;        /* submitting node id */
	uint64_t index;       /* commit index: the same on every member */
	void *local_ctx;      /* submit's ctx on the submitting node; NULL
	                         on every other node */
};

#define CLUSTER_APPLY_DONE 0
#define CLUSTER_APPLY_PENDING 1

struct cluster_channel_ops {
	uint16_t id;          /* stable wire id; unique per channel */
	const char *name;     /* for logs */

	/* Applies one committed message. The state change happens here,
	 * synchronously and deterministically (it depends only on the state
	 * and the message). Side effects that take time (fsync, aborting
	 * tasks) may finish later: return CLUSTER_APPLY_PENDING and call
	 * cluster_apply_done(token) when they are done; the node's ack waits
	 * for it. Return CLUSTER_APPLY_DONE otherwise (token is then dead).
	 * A message the channel cannot decode is logged and applied as a
	 * no-op, the same way on every node. */
	int (*apply)(void *arg, const struct cluster_msg_info *mi,
		     const void *data, size_t len, struct cluster_apply *token);

	/* Membership, in order with apply (may be NULL). Departed nodes'
	 * locks, SCSI-2 reservations... are released here. Part of the
	 * replicated state: it runs once per sync round of a quorate view
	 * (before any DATA of the view is applied), with left/joined
	 * relative to the previous primary view's members, the same on
	 * every member whatever views each saw in between; on a member
	 * that loads a snapshot it runs right after the load.
	 * (docs/cluster-protocol.md) */
	void (*view)(void *arg, const struct cluster_view *v,
		     const uint32_t *left, uint32_t nleft,
		     const uint32_t *joined, uint32_t njoined);

	/* State transfer. save: the channel's whole replicated state as
	 * canonical bytes (equal states give equal bytes; malloc'ed, the
	 * service frees it). load: replace the state with saved bytes; 0 or
	 * -EINVAL (then the node stays not ready and says why). reset: back
	 * to the initial state (may be NULL). */
	int (*save)(void *arg, void **data, size_t *len);
	int (*load)(void *arg, const void *data, size_t len);
	void (*reset)(void *arg);
};

/* Registers a channel. Returns 0, -EEXIST (id taken) or -ENOMEM. */
int cluster_channel_open(struct cluster *c,
			 const struct cluster_channel_ops *ops, void *arg,
			 struct cluster_channel **out);
void cluster_channel_close(struct cluster_channel *ch);

/* Completion of a submit: 0 when every member of the delivery view has
 * applied the message; -EAGAIN when the node is not in a quorate view (no
 * member applied it; retry later); -ESHUTDOWN on close.
 * After a view change interrupts it: 0 once the node's next synced view
 * holds a state that contains the message (that state may have been
 * loaded from a snapshot and moved on since the local apply); -EAGAIN if
 * it does not (no member of the surviving history applied it); -EIO if
 * this node could not follow the sync round (out of memory, snapshot
 * refused: the outcome is unknown here). */
typedef void (*cluster_done_fn)(void *ctx, int status);

/* Submits data (at most CLUSTER_MSG_MAX bytes) for ordered commit on ch.
 * Returns 0 (done fires exactly once, later) or -errno: -EMSGSIZE,
 * -ENOMEM, -EAGAIN (not ready; nothing sent). ctx is also handed to the
 * local apply as mi->local_ctx, so the apply can leave its result for
 * the submitter. */
int cluster_submit(struct cluster_channel *ch, const void *data, size_t len,
		   cluster_done_fn done, void *ctx);

#define CLUSTER_MSG_MAX (256u * 1024u)

/* Ends a deferred apply (CLUSTER_APPLY_PENDING). */
void cluster_apply_done(struct cluster_apply *token);

/* -------------------------------------------------------------- key-value */

/* A replicated key-value store: get is local (no traffic), changes are
 * ordered commits. Keys are NUL-terminated strings of at most
 * CLUSTER_KV_KEY_MAX bytes; values up to CLUSTER_KV_VALUE_MAX bytes.
 * Every key carries a version: the commit index of its last change (so
 * versions only grow and are the same on every node). */
#define CLUSTER_KV_KEY_MAX 255
#define CLUSTER_KV_VALUE_MAX (128u * 1024u)

/* Local read. Returns 0 with *val (valid until the next callback returns
 * to the loop) , *len, *version; -ENOENT. */
int cluster_kv_get(struct cluster *c, const char *key, const void **val,
		   size_t *len, uint64_t *version);

/* status 0 and the new version; -ECANCELED: compare-and-set mismatch;
 * -EAGAIN, -ESHUTDOWN as cluster_done_fn. */
typedef void (*cluster_kv_done_fn)(void *ctx, int status, uint64_t version);

int cluster_kv_set(struct cluster *c, const char *key, const void *val,
		   size_t len, cluster_kv_done_fn done, void *ctx);
/* Sets only if the key's version is expect (0: the key must not exist). */
int cluster_kv_cas(struct cluster *c, const char *key, uint64_t expect,
		   const void *val, size_t len, cluster_kv_done_fn done,
		   void *ctx);
/* Deletes (no error if absent). */
int cluster_kv_del(struct cluster *c, const char *key,
		   cluster_kv_done_fn done, void *ctx);

/* Watch: cb runs on every node, at apply time, for each change of a key
 * starting with prefix (val NULL: deleted). Embedded in the caller. */
struct cluster_kv_watch {
	const char *prefix;
	void (*cb)(struct cluster_kv_watch *w, const char *key,
		   const void *val, size_t len, uint64_t version);
	struct list_head link;
};

void cluster_kv_watch_add(struct cluster *c, struct cluster_kv_watch *w);
void cluster_kv_watch_del(struct cluster *c, struct cluster_kv_watch *w);

/* ------------------------------------------------------------------ locks */

/* Named locks and LBA-range locks, shared or exclusive, granted in commit
 * order and queued fairly (FIFO among conflicting requests). A lock is
 * (resource name, [start, start + len)); len 0 means the whole resource
 * (a named lock). Locks of a node that leaves the view are released.
 *
 * Caching: with CLUSTER_LOCK_CACHE, a released lock stays owned by this
 * node; the node takes it again with no traffic while no other node has
 * asked for a conflicting range, and gives it up when one does. A user
 * that keeps such a lock held between its own uses (its own cache, e.g.
 * on other threads) sets `contended`: it fires while the lock is held
 * and a request waits behind it, so that the user releases it soon
 * (the release then gives it up). */
enum cluster_lock_mode {
	CLUSTER_LOCK_SHARED = 0,
	CLUSTER_LOCK_EXCLUSIVE,
};

#define CLUSTER_LOCK_CACHE 0x1u
#define CLUSTER_LOCK_NAME_MAX 127

struct cluster_lock;

/* status 0: granted; -EAGAIN: the node left the quorate view before the
 * grant; -ECANCELED: cancelled; -ESHUTDOWN. */
typedef void (*cluster_lock_fn)(struct cluster_lock *lk, int status);

/* One request / held lock, embedded in the caller; opaque fields after
 * the public ones. */
struct cluster_lock {
	char name[CLUSTER_LOCK_NAME_MAX + 1];
	uint64_t start, len;
	enum cluster_lock_mode mode;
	unsigned flags;
	cluster_lock_fn cb;
	void *ctx;
	/* Optional, CLUSTER_LOCK_CACHE only: on the service's loop, after
	 * cb(lk, 0) and until the release, when an op (a request, a node
	 * leaving) makes a request wait behind this lock; may fire more
	 * than once. It may release lk (nothing else of the lock manager).
	 * Not after a state transfer: users let their locks go whenever
	 * cluster_events.ready reports false (see cluster_lock.c). */
	void (*contended)(struct cluster_lock *lk);
	/* private to the lock manager */
	uint64_t priv_id;
	uint32_t priv_state;
	struct list_head priv_link;
};

/* Asks for a lock. Fill name/start/len/mode/flags/cb/ctx first. Returns
 * 0 (cb fires exactly once, later) or -errno (-EINVAL, -EAGAIN not
 * ready, -ENOMEM). */
int cluster_lock_acquire(struct cluster *c, struct cluster_lock *lk);
/* Releases a granted lock (cb does not fire). */
void cluster_lock_release(struct cluster *c, struct cluster_lock *lk);
/* Cancels a request not yet granted: cb fires with -ECANCELED, or with 0
 * if the grant raced ahead (then release it). */
void cluster_lock_cancel(struct cluster *c, struct cluster_lock *lk);

/* ----------------------------------------------------------------- notify */

/* Notify with blocking acknowledge: an event sent to every member; the
 * sender's completion fires when every member's handler has finished
 * (a handler may defer with CLUSTER_APPLY_PENDING). Topics are small
 * integers agreed by the users. */
struct cluster_notify_handler {
	uint16_t topic;
	int (*cb)(struct cluster_notify_handler *h,
		  const struct cluster_msg_info *mi, const void *data,
		  size_t len, struct cluster_apply *token);
	struct list_head link;
};

void cluster_notify_register(struct cluster *c,
			     struct cluster_notify_handler *h);
void cluster_notify_unregister(struct cluster *c,
			       struct cluster_notify_handler *h);
int cluster_notify_send(struct cluster *c, uint16_t topic, const void *data,
			size_t len, cluster_done_fn done, void *ctx);

/* ----------------------------------------------------------------- tests */

/* Canonical bytes of the whole replicated state (every channel's save in
 * id order, with the commit index): two members hold the same state iff
 * their bytes are equal. malloc'ed. */
int cluster_state_save(struct cluster *c, void **data, size_t *len);

/* Counters of the protocol engine (for tests and the control socket).
 * Added by the protocol engine (issue 4). */
struct cluster_stats {
	uint64_t submitted;    /* cluster_submit accepted */
	uint64_t applied;      /* DATA applied (commit indexes taken) */
	uint64_t rejected;     /* malformed / unknown-version messages */
	uint64_t voided;       /* DATA dropped by an incomplete sync round */
	uint64_t acks_sent;
	uint64_t send_queued;  /* sends queued behind bus flow control */
	uint64_t syncs;        /* sync rounds completed */
	uint64_t snapshots_sent;
	uint64_t snapshots_loaded;
};

const struct cluster_stats *cluster_stats_get(const struct cluster *c);

#endif
