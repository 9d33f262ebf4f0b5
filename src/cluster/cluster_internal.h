/*
 * The protocol engine's private state, shared by cluster.c (ordered
 * commit, acks, channels, notify) and cluster_sync.c (the sync round and
 * state transfer). Nothing outside src/cluster/cluster*.c of the engine
 * includes this; the KV store and lock manager use cluster.h and
 * cluster_services.h only.
 */
#ifndef CTGT_CLUSTER_INTERNAL_H
#define CTGT_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/list.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "cluster/cluster_bus.h"

struct cluster_msg;

struct cluster_channel {
	struct cluster *c;
	struct cluster_channel_ops ops;
	void *arg;
	struct list_head link; /* c->channels, sorted by id */
};

struct cluster_apply {
	struct cluster *c;
	uint64_t index;
	bool done;
	bool tracked;          /* on c->applies (else orphaned or free) */
	struct list_head link;
};

/* One local submit, from cluster_submit to its completion. */
struct cluster_pending {
	uint64_t seq;          /* DATA header seq: matches the delivery */
	cluster_done_fn done;
	void *ctx;
	uint64_t index;        /* commit index, 0 until applied here */
	int status;            /* != 0: complete with it at the next flush */
	bool delivered;        /* its DATA came back in the order */
	uint64_t epoch;        /* state epoch it was applied in */
	bool unresolved;       /* applied in an earlier view, not complete:
	                          the next activation decides by the
	                          lineage whether the state holds it */
	bool resolved;         /* complete with 0 at the next flush */
	uint32_t nwait;        /* members of the delivery view (self out) */
	uint32_t wait[CLUSTER_NODES_MAX];
	struct list_head link; /* c->pendings, in seq order */
};

/* One round in the history of the replicated state: from index base
 * on, the state was at epoch (until the next entry's base). Part of the
 * state, so a submitter can tell after any view change and state
 * transfer whether the state it now holds contains its message. */
struct cluster_lineage {
	uint64_t epoch;
	uint64_t base;
};

#define CLUSTER_LINEAGE_MAX 128

/* A member of the current view as the protocol sees it. */
struct cluster_peer {
	uint32_t id;
	uint64_t acked;        /* highest index it acked */
	bool announced;        /* its ANNOUNCE of this round arrived */
	bool synced;           /* holds this round's state (up to date at
	                          the announce point, or LOADED since) */
	uint64_t state_epoch, seen_epoch, index;
};

enum cluster_sync_state {
	CLUSTER_SYNC_NONE = 0, /* no quorate view: nothing applies */
	CLUSTER_SYNC_ANNOUNCE, /* collecting ANNOUNCEs; DATA buffered */
	CLUSTER_SYNC_SNAPSHOT, /* behind: waiting for the source's SNAPSHOT */
	CLUSTER_SYNC_ACTIVATE, /* holds the round's state; waiting until
	                          every member does (LOADED); DATA buffered */
	CLUSTER_SYNC_DONE,     /* active: DATA applied as delivered */
	CLUSTER_SYNC_FAILED,   /* could not sync in this view (ENOMEM, bad
	                          snapshot); retried at the next view */
};

/* A DATA message delivered during a round, kept until it may apply. */
struct cluster_buffered {
	struct list_head link;
	uint32_t from;
	uint16_t channel;
	uint64_t seq;
	uint64_t inc;
	size_t len;
	uint8_t data[];
};

struct cluster {
	struct base_loop *loop;
	struct cluster_bus *bus;
	struct cluster_bus_upcalls up;
	struct cluster_events ev;
	bool bus_started;
	bool closing;
	bool fatal;
	bool ready;            /* last value told to ev.ready */
	int in_flush;
	bool free_later;

	/* The bus's current view and its members' protocol state. */
	struct cluster_view view;
	bool have_view;
	uint64_t view_seq;
	uint64_t tag;          /* this view's agreed tag */
	struct cluster_peer peers[CLUSTER_NODES_MAX]; /* as view.members */

	/* Replicated state's position: part of the state. */
	uint64_t state_epoch;  /* epoch of the state held */
	uint64_t seen_epoch;   /* highest epoch ever heard of (>= state's) */
	uint64_t index;        /* commit index of the last applied DATA */
	uint32_t nstate_members;
	uint32_t state_members[CLUSTER_NODES_MAX]; /* last primary view */
	struct cluster_lineage lineage[CLUSTER_LINEAGE_MAX]; /* oldest first */
	uint32_t nlineage;
	uint64_t inc;          /* this incarnation's id (DATA headers) */

	/* The sync round of the current view (cluster_sync.c). */
	enum cluster_sync_state sync;
	uint32_t nannounced;
	uint32_t nsynced;
	uint32_t source_id;
	uint64_t src_epoch, src_index, new_epoch;
	uint8_t *snap;
	size_t snap_total, snap_have;
	struct list_head buffered;

	/* Applies whose local ack waits (CLUSTER_APPLY_PENDING). */
	struct list_head applies;      /* by index */
	struct list_head apply_orphans;
	struct list_head apply_free;
	uint64_t ack_sent;     /* highest index this node has acked */
	uint64_t ack_needed;   /* highest index of another node's DATA */

	/* Submits and the send queue. */
	uint64_t next_seq;
	struct list_head pendings;
	struct cluster_pending *pending_hint; /* last found; see _find */
	struct list_head outq;
	struct base_defer flush_defer;

	struct list_head channels;
	struct cluster_channel *notify_ch;
	struct list_head notify_handlers;
	struct cluster_kv *kv;
	struct cluster_locks *locks;

	struct cluster_stats stats;
};

/* cluster.c */
int cluster_send(struct cluster *c, const struct iovec *iov, int iovcnt);
void cluster_flush_schedule(struct cluster *c);
struct cluster_channel *cluster_channel_find(struct cluster *c, uint16_t id);
struct cluster_pending *cluster_pending_find(struct cluster *c,
					     uint64_t seq);
void cluster_pending_fail(struct cluster *c, struct cluster_pending *p,
			  int status);
void cluster_data_apply(struct cluster *c, uint32_t from, uint16_t channel,
			uint64_t seq, uint64_t inc, const void *data,
			size_t len);
void cluster_pendings_resolve(struct cluster *c);
void cluster_channels_view(struct cluster *c, const uint32_t *left,
			   uint32_t nleft, const uint32_t *joined,
			   uint32_t njoined);
void cluster_ready_changed(struct cluster *c);
void cluster_applies_orphan(struct cluster *c);
bool cluster_view_has(const struct cluster_view *v, uint32_t id);
int cluster_submitv(struct cluster_channel *ch, const struct iovec *data,
		    int datacnt, cluster_done_fn done, void *ctx);

/* cluster_notify.c */
int cluster_notify_attach(struct cluster *c);

/* cluster_sync.c */
void cluster_sync_start(struct cluster *c);
void cluster_sync_view_change(struct cluster *c);
void cluster_sync_abandon(struct cluster *c);
int cluster_sync_buffer(struct cluster *c, uint32_t from,
			const struct cluster_msg *m);
void cluster_sync_announce(struct cluster *c, uint32_t from,
			   const struct cluster_msg *m);
void cluster_sync_snapshot(struct cluster *c, uint32_t from,
			   const struct cluster_msg *m);
void cluster_sync_loaded(struct cluster *c, uint32_t from,
			 const struct cluster_msg *m);

#endif
