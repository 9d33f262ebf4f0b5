/*
 * The lock manager as a channel of the cluster service (cluster.h,
 * "locks"): acquire / release / cancel become ordered ops on
 * CLUSTER_CH_LOCK; every member applies them to the pure lock table
 * (cluster_lock_table.c), so every member agrees on who holds what; each
 * node fires the callbacks of its own requests when its apply of the op
 * that granted them runs. Departed nodes' entries are dropped in the
 * channel's view callback, in order with the ops.
 *
 * Caching (CLUSTER_LOCK_CACHE): the entry stays granted in the table after
 * the local release, with no traffic. A later local acquire that the idle
 * cached entry covers (same resource, range inside, mode not stronger) is
 * granted from it with no traffic, unless some request already waits
 * behind it (fairness). When an apply shows a waiter blocked by this
 * node's cached entry, the node gives it up with a cache-release op, once,
 * as soon as no local user holds it; a local user that holds it is told
 * (cluster_lock.contended), after the op's grant callbacks.
 *
 * Losing the quorate view: outstanding requests fail with -EAGAIN. The
 * channel sees no callback for a view that is not quorate, so cluster.c
 * tells the manager through cluster_locks_ready(). A state transfer that drops this node's waiting
 * entries fails them too. A sync round inside a quorate view (a node
 * joins) fails nothing: the entries are replicated state and survive it.
 * Granted locks are NOT revoked here: the other members drop them when
 * they see this node leave, so from then on another node may be granted a
 * conflicting lock. Local users must stop relying on their locks when
 * cluster_events.ready reports false (the SCSI layer stops serving
 * clustered LUNs then) and release them; a release of an entry the
 * cluster already dropped sends nothing.
 *
 * Deliberately NOT here: the grant rule and the codec (the table), order
 * and acks (cluster.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "cluster/cluster_lock_table.h"
#include "cluster/cluster_services.h"

/* lk->priv_state */
enum {
	CLUSTER_LOCK_ST_IDLE = 0,     /* not known to the manager */
	CLUSTER_LOCK_ST_WAITING,      /* request submitted, not granted */
	CLUSTER_LOCK_ST_CANCELLING,   /* cancel submitted */
	CLUSTER_LOCK_ST_HELD,         /* granted, callback fired */
	CLUSTER_LOCK_ST_DEFER_GRANT,  /* granted from the cache, callback
	                                 queued */
	CLUSTER_LOCK_ST_DEFER_CANCEL, /* -ECANCELED queued */
	CLUSTER_LOCK_ST_DEFER_AGAIN,  /* -EAGAIN queued */
};

struct cluster_locks {
	struct cluster *c;
	struct cluster_channel *ch;
	struct cluster_lock_table tab;
	uint64_t next_req_id;
	struct list_head waiting;   /* WAITING, CANCELLING */
	struct list_head held;      /* HELD */
	struct list_head deferred;  /* DEFER_*: callbacks to fire */
	struct list_head subs;      /* submitted ops not completed */
	struct base_loop *loop;     /* the service's: deferred callbacks */
	struct base_defer defer;
	struct base_defer sweep_defer;
	bool sweep_pending;         /* a round completed: sweep when ready */
	bool stale;                 /* table reset, load not yet done */
};

/* One submitted op until the engine completes it (exactly once, also
 * after a detach; lm is NULL once detached). */
struct cluster_lock_sub {
	struct list_head link;
	struct cluster_locks *lm;
	enum cluster_lock_op_type type;
	uint64_t req_id;
	size_t nlen;
	char name[CLUSTER_LOCK_NAME_MAX + 1];
};

static void cluster_locks_sweep(struct cluster_locks *lm);

/* An op that gives something back could not be submitted (the node is
 * not ready, or out of memory): the sweep retries it once ops flow. */
static void cluster_locks_later(struct cluster_locks *lm, const char *what,
				const char *name, int r)
{
	LOG_DEBUG("cluster lock: %s of %s: %d; retried when ready", what,
		  name, r);
	lm->sweep_pending = true;
}

/* The first request id of this incarnation. Ids must never repeat for a
 * node id: a node that crashes and comes back before a primary view saw
 * it go finds its old entries in the table, and a reused id would match
 * them. Wall-clock nanoseconds keep incarnations of different processes
 * apart (far fewer than 10^9 requests a second); the static floor keeps
 * incarnations inside one process (tests) 2^32 ids apart. */
static uint64_t cluster_locks_first_id(void)
{
	static uint64_t floor_id;  /* clusters open on one thread at a time */
	struct timespec ts;
	uint64_t id;

	clock_gettime(CLOCK_REALTIME, &ts);
	id = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (id < floor_id)
		id = floor_id;
	floor_id = id + (1ull << 32);
	return id;
}

static uint32_t cluster_locks_self(const struct cluster_locks *lm)
{
	return cluster_local_id(lm->c);
}

static struct cluster_lock *cluster_locks_find(struct list_head *h,
					       uint64_t req_id)
{
	struct cluster_lock *lk;

	list_for_each_entry(lk, h, priv_link)
		if (lk->priv_id == req_id)
			return lk;
	return NULL;
}

static struct cluster_lock_entry *
cluster_locks_entry_of(struct cluster_locks *lm, const struct cluster_lock *lk)
{
	return cluster_lock_table_find(&lm->tab, lk->name, strlen(lk->name),
				       cluster_locks_self(lm), lk->priv_id);
}

/* ------------------------------------------------------------- deferred */

/* Tells the local user holding a cached entry that blocks a waiter
 * (cluster.h: contended). Only ever after the table changed, never
 * inside the table's apply: the user may release. */
static void cluster_locks_contended(struct cluster_lock_entry *e)
{
	struct cluster_lock *lk = e->local_user;

	if (lk && lk->contended && lk->priv_state == CLUSTER_LOCK_ST_HELD &&
	    !e->local_release_sent && cluster_lock_entry_blocks(e))
		lk->contended(lk);
}

static void cluster_locks_defer_run(struct base_defer *d)
{
	struct cluster_locks *lm = container_of(d, struct cluster_locks,
						defer);

	/* One at a time from the head: a callback may acquire, release or
	 * cancel other locks (and queue more). */
	while (!list_empty(&lm->deferred)) {
		struct cluster_lock *lk = list_first_entry(
			&lm->deferred, struct cluster_lock, priv_link);
		struct cluster_lock_entry *e = NULL;
		int status = 0;

		list_del(&lk->priv_link);
		switch (lk->priv_state) {
		case CLUSTER_LOCK_ST_DEFER_GRANT:
			lk->priv_state = CLUSTER_LOCK_ST_HELD;
			list_add_tail(&lm->held, &lk->priv_link);
			e = cluster_locks_entry_of(lm, lk);
			break;
		case CLUSTER_LOCK_ST_DEFER_CANCEL:
			status = -ECANCELED;
			lk->priv_state = CLUSTER_LOCK_ST_IDLE;
			break;
		default:
			status = -EAGAIN;
			lk->priv_state = CLUSTER_LOCK_ST_IDLE;
			break;
		}
		lk->cb(lk, status);
		/* taken from the cache while a waiter came behind it */
		if (e)
			cluster_locks_contended(e);
	}
}

/* Queues lk's callback with the status its state says; it fires from
 * the loop, never inside the caller's stack. */
static void cluster_locks_defer(struct cluster_locks *lm,
				struct cluster_lock *lk, uint32_t state)
{
	list_del(&lk->priv_link);
	lk->priv_state = state;
	list_add_tail(&lm->deferred, &lk->priv_link);
	base_defer(lm->loop, &lm->defer);
}

/* ------------------------------------------------------------ submitting */

static void cluster_locks_sub_done(void *ctx, int status);

static int cluster_locks_submit(struct cluster_locks *lm,
				const struct cluster_lock_op *op)
{
	uint8_t buf[CLUSTER_LOCK_OP_MAX];
	struct cluster_lock_sub *sub;
	long n = cluster_lock_op_encode(op, buf, sizeof(buf));
	int r;

	if (n < 0)
		return (int)n;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	sub->lm = lm;
	sub->type = op->type;
	sub->req_id = op->req_id;
	sub->nlen = op->nlen;
	memcpy(sub->name, op->name, op->nlen);
	r = cluster_submit(lm->ch, buf, (size_t)n, cluster_locks_sub_done,
			   sub);
	if (r) {
		free(sub);
		return r;
	}
	list_add_tail(&lm->subs, &sub->link);
	return 0;
}

/* Release / cancel / cache-release of (name, req_id). */
static int cluster_locks_submit_simple(struct cluster_locks *lm,
				       enum cluster_lock_op_type type,
				       const char *name, size_t nlen,
				       uint64_t req_id)
{
	struct cluster_lock_op op = {
		.type = type, .req_id = req_id, .name = name, .nlen = nlen,
	};
	return cluster_locks_submit(lm, &op);
}

/* Submits a release or cache-release of e and marks it: an entry with a
 * release on its way is never taken from the cache, nor given back a
 * second time. */
static void cluster_locks_give_back(struct cluster_locks *lm,
				    struct cluster_lock_entry *e,
				    enum cluster_lock_op_type type)
{
	int r;

	if (e->local_release_sent)
		return;
	r = cluster_locks_submit_simple(lm, type, e->res->name, e->res->nlen,
					e->req_id);
	if (r)
		cluster_locks_later(lm, type == CLUSTER_LOCK_OP_RELEASE ?
				    "release" : "cache-release",
				    e->res->name, r);
	else
		e->local_release_sent = true;
	LOG_DEBUG("cluster lock: node %u gives back req %llu on %s (%d): %d",
		  cluster_locks_self(lm), (unsigned long long)e->req_id,
		  e->res->name, (int)type, r);
}

/* Gives up an idle cached entry that blocks a waiter, once. */
static void cluster_locks_cache_yield(struct cluster_locks *lm,
				      struct cluster_lock_entry *e)
{
	if (e->local_user || !cluster_lock_entry_blocks(e))
		return;
	cluster_locks_give_back(lm, e, CLUSTER_LOCK_OP_CACHE_RELEASE);
}

static void cluster_locks_sub_done(void *ctx, int status)
{
	struct cluster_lock_sub *sub = ctx;
	struct cluster_locks *lm = sub->lm;

	LOG_DEBUG("cluster lock: op %d req %llu on %s done: %d",
		  (int)sub->type, (unsigned long long)sub->req_id, sub->name,
		  status);

	if (lm) {
		list_del(&sub->link);
		if (!status && sub->type == CLUSTER_LOCK_OP_REQUEST &&
		    !lm->stale) {
			/* applied everywhere, yet not in the table while
			 * its user still waits: a state transfer dropped
			 * it (this node had left the primary view) */
			struct cluster_lock *lk = cluster_locks_find(
				&lm->waiting, sub->req_id);
			if (lk && !cluster_locks_entry_of(lm, lk))
				cluster_locks_defer(lm, lk,
					lk->priv_state ==
					CLUSTER_LOCK_ST_CANCELLING ?
					CLUSTER_LOCK_ST_DEFER_CANCEL :
					CLUSTER_LOCK_ST_DEFER_AGAIN);
		}
		if (status) {
			struct cluster_lock *lk;
			struct cluster_lock_entry *e;

			switch (sub->type) {
			case CLUSTER_LOCK_OP_REQUEST:
			case CLUSTER_LOCK_OP_CANCEL:
				/* not applied anywhere: the request fails
				 * (a cancel that failed: the request is
				 * in the table or fails by itself; treat
				 * it as cancelled, a later grant of it is
				 * released) */
				lk = cluster_locks_find(&lm->waiting,
							sub->req_id);
				if (lk)
					cluster_locks_defer(lm, lk,
						sub->type ==
						CLUSTER_LOCK_OP_CANCEL ?
						CLUSTER_LOCK_ST_DEFER_CANCEL :
						CLUSTER_LOCK_ST_DEFER_AGAIN);
				if (sub->type == CLUSTER_LOCK_OP_CANCEL)
					cluster_locks_later(lm, "cancel",
							    sub->name, status);
				break;
			case CLUSTER_LOCK_OP_CACHE_RELEASE:
				e = cluster_lock_table_find(&lm->tab,
					sub->name, sub->nlen,
					cluster_locks_self(lm), sub->req_id);
				if (e)
					e->local_release_sent = false;
				cluster_locks_later(lm, "cache-release",
						    sub->name, status);
				break;
			case CLUSTER_LOCK_OP_RELEASE:
				/* voided by a round that did not complete:
				 * the entry may still be there */
				e = cluster_lock_table_find(&lm->tab,
					sub->name, sub->nlen,
					cluster_locks_self(lm), sub->req_id);
				if (e)
					e->local_release_sent = false;
				cluster_locks_later(lm, "release", sub->name,
						    status);
				break;
			}
		}
	}
	free(sub);
}

/* ----------------------------------------------------------------- apply */

/* Turns one table result into this node's callbacks and cache-releases.
 * Callbacks run last, after the lists are consumed: a callback may call
 * back into the manager, which never changes the table synchronously. */
static void cluster_locks_result(struct cluster_locks *lm,
				 struct cluster_lock_result *res)
{
	uint32_t self = cluster_locks_self(lm);
	struct cluster_lock_entry *e;
	struct list_head fire;

	list_init(&fire);
	list_for_each_entry(e, &res->granted, grant_link) {
		struct cluster_lock *lk;

		if (e->node != self)
			continue;
		lk = cluster_locks_find(&lm->waiting, e->req_id);
		if (lk) {
			list_del(&lk->priv_link);
			lk->priv_state = CLUSTER_LOCK_ST_HELD;
			list_add_tail(&fire, &lk->priv_link);
			if (e->cached)
				e->local_user = lk;
		} else if (!e->cached) {
			/* nobody wants it any more (its request failed or
			 * was cancelled locally): give it back */
			cluster_locks_give_back(lm, e,
						CLUSTER_LOCK_OP_RELEASE);
		}
		/* a cached one without a user is simply idle in cache */
	}
	list_for_each_entry(e, &res->blockers, block_link)
		if (e->node == self)
			cluster_locks_cache_yield(lm, e);

	while (!list_empty(&fire)) {
		struct cluster_lock *lk = list_first_entry(
			&fire, struct cluster_lock, priv_link);
		list_del(&lk->priv_link);
		list_add_tail(&lm->held, &lk->priv_link);
		lk->cb(lk, 0);
	}
	/* entries are freed only by an apply: the list holds */
	list_for_each_entry(e, &res->blockers, block_link)
		if (e->node == self)
			cluster_locks_contended(e);
}

static void cluster_locks_relink(struct cluster_locks *lm);

static int cluster_locks_apply(void *arg, const struct cluster_msg_info *mi,
			       const void *data, size_t len,
			       struct cluster_apply *token)
{
	struct cluster_locks *lm = arg;
	struct cluster_lock_result res;
	struct cluster_lock_op op;
	bool local;

	if (lm->stale)
		cluster_locks_relink(lm);
	cluster_locks_sweep(lm);
	if (cluster_lock_op_decode(data, len, &op)) {
		LOG_WARN("cluster lock: malformed op (%zu bytes) from node %u "
			 "at index %llu applied as a no-op", len, mi->from,
			 (unsigned long long)mi->index);
		return CLUSTER_APPLY_DONE;
	}
	cluster_lock_table_apply(&lm->tab, mi->from, &op, &res);
	local = mi->from == cluster_locks_self(lm);
	LOG_DEBUG("cluster lock: node %u applies index %llu: op %d from %u "
		  "req %llu on %.*s: %d", cluster_locks_self(lm),
		  (unsigned long long)mi->index, (int)op.type, mi->from,
		  (unsigned long long)op.req_id, (int)op.nlen, op.name,
		  res.status);
	if (res.status == -ENOMEM)
		LOG_ERR("cluster lock: out of memory applying index %llu: "
			"this node's lock table now differs from the "
			"cluster's; restart it", (unsigned long long)mi->index);

	if (local && res.status &&
	    (op.type == CLUSTER_LOCK_OP_REQUEST ||
	     (op.type == CLUSTER_LOCK_OP_CANCEL && res.status == -ENOENT))) {
		/* a request refused, or a cancel of an entry already gone
		 * (a node-left or a state transfer raced it) */
		struct cluster_lock *lk = cluster_locks_find(&lm->waiting,
							     op.req_id);
		if (lk)
			cluster_locks_defer(lm, lk,
				op.type == CLUSTER_LOCK_OP_CANCEL ?
				CLUSTER_LOCK_ST_DEFER_CANCEL :
				CLUSTER_LOCK_ST_DEFER_AGAIN);
	}
	if (local && op.type == CLUSTER_LOCK_OP_REQUEST && res.status == 0 &&
	    !res.entry->granted &&
	    !cluster_locks_find(&lm->waiting, op.req_id)) {
		/* its user gave up while the request was on its way (a
		 * cancel that could not be sent): nobody will wait for it */
		cluster_locks_give_back(lm, res.entry, CLUSTER_LOCK_OP_RELEASE);
	}
	if (local && op.type == CLUSTER_LOCK_OP_CANCEL && res.status == 0) {
		struct cluster_lock *lk = cluster_locks_find(&lm->waiting,
							     op.req_id);
		if (lk)
			cluster_locks_defer(lm, lk,
					    CLUSTER_LOCK_ST_DEFER_CANCEL);
	}
	cluster_locks_result(lm, &res);
	return CLUSTER_APPLY_DONE;
}

/* Whether the request req_id is still on its way (submitted, not
 * completed): its entry may not be in the table yet. */
static bool cluster_locks_in_flight(const struct cluster_locks *lm,
				    uint64_t req_id)
{
	const struct cluster_lock_sub *sub;

	list_for_each_entry(sub, &lm->subs, link)
		if (sub->type == CLUSTER_LOCK_OP_REQUEST &&
		    sub->req_id == req_id)
			return true;
	return false;
}

/* This node's entries that no local user stands behind: a release that
 * could not be sent (the node was not ready), a request whose user was
 * told -EAGAIN or -ECANCELED. Given back once ops flow again: the view
 * callback runs when a round completes but before the node may submit,
 * so it only marks the sweep pending; the sweep runs at the first apply,
 * loop turn, acquire or readiness change that finds the node ready. An idle cached
 * entry that blocks someone is given up too. */
static void cluster_locks_sweep(struct cluster_locks *lm)
{
	uint32_t self = cluster_locks_self(lm);

	if (!lm->sweep_pending || !cluster_is_ready(lm->c))
		return;
	lm->sweep_pending = false;
	LOG_DEBUG("cluster lock: node %u sweeps", self);

	for (uint32_t i = 0; i < lm->tab.nres; i++) {
		struct cluster_lock_res *r = lm->tab.res[i];
		struct cluster_lock_entry *e;

		list_for_each_entry(e, &r->entries, link) {
			bool used;

			if (e->node != self || e->local_release_sent)
				continue;
			if (e->granted && e->cached) {
				cluster_locks_cache_yield(lm, e);
				continue;
			}
			/* a grant found in a loaded snapshot may still
			 * wait in the deferred list for its callback */
			if (e->granted) {
				struct cluster_lock *d = cluster_locks_find(
					&lm->deferred, e->req_id);
				used = cluster_locks_find(&lm->held,
							  e->req_id) ||
				       (d && d->priv_state ==
					CLUSTER_LOCK_ST_DEFER_GRANT);
			} else
				used = cluster_locks_find(&lm->waiting,
							  e->req_id);
			if (!used)
				cluster_locks_give_back(lm, e,
						CLUSTER_LOCK_OP_RELEASE);
		}
	}
}

static void cluster_locks_view(void *arg, const struct cluster_view *v,
			       const uint32_t *left, uint32_t nleft,
			       const uint32_t *joined, uint32_t njoined)
{
	struct cluster_locks *lm = arg;
	struct cluster_lock_result res;

	if (lm->stale)
		cluster_locks_relink(lm);
	for (uint32_t i = 0; i < nleft; i++) {
		if (left[i] == cluster_locks_self(lm))
			continue;
		cluster_lock_table_node_left(&lm->tab, left[i], &res);
		cluster_locks_result(lm, &res);
	}
	lm->sweep_pending = true;
	base_defer(lm->loop, &lm->sweep_defer);
}

static void cluster_locks_sweep_run(struct base_defer *d)
{
	cluster_locks_sweep(container_of(d, struct cluster_locks,
					 sweep_defer));
}

/* After the table was replaced (state transfer) or emptied: local
 * requests whose entries are gone fail with -EAGAIN (not those still on
 * their way: the DATA buffered during the round applies them after the
 * load, or their submit fails); local users of the new table's entries
 * are linked to them again. */
static void cluster_locks_relink(struct cluster_locks *lm)
{
	struct cluster_lock *lk, *tmp;
	struct cluster_lock_sub *sub;

	lm->stale = false;
	list_for_each_entry_safe(lk, tmp, &lm->waiting, priv_link) {
		struct cluster_lock_entry *e = cluster_locks_entry_of(lm, lk);

		LOG_DEBUG("cluster lock: node %u relinks req %llu: %s",
			  cluster_locks_self(lm),
			  (unsigned long long)lk->priv_id,
			  !e ? "gone" : e->granted ? "granted" : "waiting");

		if (e && e->granted) {
			/* granted inside the snapshot: this node never
			 * applied the op that granted it (a cancel lost the
			 * race: the grant wins, as in an apply) */
			if (e->cached)
				e->local_user = lk;
			cluster_locks_defer(lm, lk,
					    CLUSTER_LOCK_ST_DEFER_GRANT);
		} else if (!e && !cluster_locks_in_flight(lm, lk->priv_id)) {
			cluster_locks_defer(lm, lk,
				lk->priv_state == CLUSTER_LOCK_ST_CANCELLING ?
				CLUSTER_LOCK_ST_DEFER_CANCEL :
				CLUSTER_LOCK_ST_DEFER_AGAIN);
		}
	}
	list_for_each_entry(lk, &lm->held, priv_link) {
		struct cluster_lock_entry *e = cluster_locks_entry_of(lm, lk);
		if (e && e->cached)
			e->local_user = lk;
	}
	list_for_each_entry(sub, &lm->subs, link) {
		struct cluster_lock_entry *e;
		if (sub->type != CLUSTER_LOCK_OP_RELEASE &&
		    sub->type != CLUSTER_LOCK_OP_CACHE_RELEASE)
			continue;
		e = cluster_lock_table_find(&lm->tab, sub->name, sub->nlen,
					    cluster_locks_self(lm),
					    sub->req_id);
		if (e)
			e->local_release_sent = true;
	}
	list_for_each_entry_safe(lk, tmp, &lm->deferred, priv_link) {
		struct cluster_lock_entry *e = cluster_locks_entry_of(lm, lk);
		if (lk->priv_state != CLUSTER_LOCK_ST_DEFER_GRANT)
			continue;
		if (!e)
			lk->priv_state = CLUSTER_LOCK_ST_DEFER_AGAIN;
		else if (e->cached)
			e->local_user = lk;
	}
}

static int cluster_locks_save(void *arg, void **data, size_t *len)
{
	struct cluster_locks *lm = arg;
	return cluster_lock_table_save(&lm->tab, data, len);
}

static int cluster_locks_load(void *arg, const void *data, size_t len)
{
	struct cluster_locks *lm = arg;
	int r;

	r = cluster_lock_table_load(&lm->tab, data, len);
	if (r) {
		LOG_ERR("cluster lock: state transfer refused (%zu bytes): %d",
			len, r);
		return r;
	}
	cluster_locks_relink(lm);
	return 0;
}

static void cluster_locks_reset(void *arg)
{
	struct cluster_locks *lm = arg;

	/* cluster.c resets every channel right before it loads a
	 * snapshot: the requests are judged against the loaded table,
	 * not the empty one (see relink) */
	cluster_lock_table_reset(&lm->tab);
	lm->stale = true;
}

/* cluster_is_ready() changed (cluster.c calls it). Out of the quorate view: every outstanding request
 * fails with -EAGAIN; granted locks stay with their users (see the
 * opening comment). */
void cluster_locks_ready(struct cluster_locks *lm, bool ready)
{
	struct cluster_lock *lk, *tmp;

	if (!lm)
		return;
	if (ready) {
		cluster_locks_sweep(lm);
		return;
	}
	if (cluster_view_get(lm->c)->quorate)
		return;
	list_for_each_entry_safe(lk, tmp, &lm->waiting, priv_link)
		cluster_locks_defer(lm, lk,
			lk->priv_state == CLUSTER_LOCK_ST_CANCELLING ?
			CLUSTER_LOCK_ST_DEFER_CANCEL :
			CLUSTER_LOCK_ST_DEFER_AGAIN);
	list_for_each_entry(lk, &lm->deferred, priv_link) {
		struct cluster_lock_entry *e;

		if (lk->priv_state != CLUSTER_LOCK_ST_DEFER_GRANT)
			continue;
		/* the user will not hold it: the cached entry is idle */
		e = cluster_locks_entry_of(lm, lk);
		if (e && e->local_user == lk)
			e->local_user = NULL;
		lk->priv_state = CLUSTER_LOCK_ST_DEFER_AGAIN;
	}
}

/* ------------------------------------------------------------- cluster.h */

static bool cluster_locks_valid(const struct cluster_lock *lk)
{
	size_t n = strnlen(lk->name, sizeof(lk->name));

	return n >= 1 && n <= CLUSTER_LOCK_NAME_MAX && lk->cb &&
	       (lk->mode == CLUSTER_LOCK_SHARED ||
		lk->mode == CLUSTER_LOCK_EXCLUSIVE) &&
	       lk->len <= UINT64_MAX - lk->start &&
	       !(lk->flags & ~CLUSTER_LOCK_CACHE);
}

/* The cache fast path: an idle cached entry of this node that covers lk
 * and has nobody waiting behind it. */
static struct cluster_lock_entry *
cluster_locks_cache_find(struct cluster_locks *lm,
			 const struct cluster_lock *lk)
{
	struct cluster_lock_res *r = cluster_lock_table_res(
		&lm->tab, lk->name, strlen(lk->name));
	uint32_t self = cluster_locks_self(lm);
	struct cluster_lock_entry *e;

	if (!r)
		return NULL;
	list_for_each_entry(e, &r->entries, link)
		if (e->node == self && e->granted && e->cached &&
		    !e->local_user && !e->local_release_sent &&
		    cluster_lock_entry_covers(e, lk->start, lk->len,
					      lk->mode) &&
		    !cluster_lock_entry_blocks(e))
			return e;
	return NULL;
}

int cluster_lock_acquire(struct cluster *c, struct cluster_lock *lk)
{
	struct cluster_locks *lm = c ? cluster_locks_of(c) : NULL;
	struct cluster_lock_entry *e;
	struct cluster_lock_op op;
	int r;

	if (!lm || !lk || !cluster_locks_valid(lk))
		return -EINVAL;
	if (!cluster_is_ready(c))
		return -EAGAIN;
	list_init(&lk->priv_link);
	cluster_locks_sweep(lm);

	e = cluster_locks_cache_find(lm, lk);
	if (e) {
		e->local_user = lk;
		lk->priv_id = e->req_id;
		cluster_locks_defer(lm, lk, CLUSTER_LOCK_ST_DEFER_GRANT);
		return 0;
	}

	op = (struct cluster_lock_op){
		.type = CLUSTER_LOCK_OP_REQUEST, .req_id = lm->next_req_id + 1,
		.name = lk->name, .nlen = strlen(lk->name),
		.start = lk->start, .len = lk->len, .mode = lk->mode,
		.cache = lk->flags & CLUSTER_LOCK_CACHE,
	};
	r = cluster_locks_submit(lm, &op);
	if (r)
		return r;
	lm->next_req_id++;
	lk->priv_id = op.req_id;
	lk->priv_state = CLUSTER_LOCK_ST_WAITING;
	list_add_tail(&lm->waiting, &lk->priv_link);
	return 0;
}

void cluster_lock_release(struct cluster *c, struct cluster_lock *lk)
{
	struct cluster_locks *lm = c ? cluster_locks_of(c) : NULL;
	struct cluster_lock_entry *e;

	if (!lm || !lk)
		return;
	if (lk->priv_state != CLUSTER_LOCK_ST_HELD) {
		/* not granted yet: a release is a cancel whose callback
		 * the caller does not want */
		LOG_WARN("cluster lock: release of %s in state %u",
			 lk->name, lk->priv_state);
		return;
	}
	list_del(&lk->priv_link);
	lk->priv_state = CLUSTER_LOCK_ST_IDLE;
	e = cluster_locks_entry_of(lm, lk);
	if (!e)
		return;  /* dropped by the cluster already: nothing to send */
	if (e->cached) {
		/* keep it, idle; give it up now if someone waits */
		if (e->local_user == lk)
			e->local_user = NULL;
		cluster_locks_cache_yield(lm, e);
		return;
	}
	cluster_locks_give_back(lm, e, CLUSTER_LOCK_OP_RELEASE);
}

void cluster_lock_cancel(struct cluster *c, struct cluster_lock *lk)
{
	struct cluster_locks *lm = c ? cluster_locks_of(c) : NULL;
	struct cluster_lock_entry *e;

	if (!lm || !lk)
		return;
	switch (lk->priv_state) {
	case CLUSTER_LOCK_ST_WAITING:
		if (cluster_locks_submit_simple(lm, CLUSTER_LOCK_OP_CANCEL,
						lk->name, strlen(lk->name),
						lk->priv_id)) {
			/* the request's grant, if it comes, finds no user
			 * and is released; an entry left waiting is swept */
			cluster_locks_defer(lm, lk,
					    CLUSTER_LOCK_ST_DEFER_CANCEL);
			cluster_locks_later(lm, "cancel", lk->name, -EAGAIN);
			return;
		}
		lk->priv_state = CLUSTER_LOCK_ST_CANCELLING;
		return;
	case CLUSTER_LOCK_ST_DEFER_GRANT:
		/* granted from the cache, callback not fired: undo */
		e = cluster_locks_entry_of(lm, lk);
		if (e && e->local_user == lk) {
			e->local_user = NULL;
			cluster_locks_cache_yield(lm, e);
		}
		lk->priv_state = CLUSTER_LOCK_ST_DEFER_CANCEL;
		return;
	default:
		/* cancelling, held (the grant raced ahead: cb fired with
		 * 0), or a callback already queued */
		return;
	}
}

/* ------------------------------------------------------ attach / detach */

int cluster_locks_attach(struct cluster *c, struct cluster_locks **out)
{
	static const struct cluster_channel_ops ops = {
		.id = CLUSTER_CH_LOCK,
		.name = "lock",
		.apply = cluster_locks_apply,
		.view = cluster_locks_view,
		.save = cluster_locks_save,
		.load = cluster_locks_load,
		.reset = cluster_locks_reset,
	};
	struct cluster_locks *lm = calloc(1, sizeof(*lm));
	int r;

	if (!lm)
		return -ENOMEM;
	lm->c = c;
	lm->next_req_id = cluster_locks_first_id();
	cluster_lock_table_init(&lm->tab);
	list_init(&lm->waiting);
	list_init(&lm->held);
	list_init(&lm->deferred);
	list_init(&lm->subs);
	base_defer_init(&lm->defer, cluster_locks_defer_run);
	base_defer_init(&lm->sweep_defer, cluster_locks_sweep_run);
	lm->loop = cluster_loop(c);
	r = cluster_channel_open(c, &ops, lm, &lm->ch);
	if (r) {
		free(lm);
		return r;
	}
	*out = lm;
	return 0;
}

void cluster_locks_detach(struct cluster_locks *lm)
{
	struct cluster_lock_sub *sub, *stmp;
	struct cluster_lock *lk;

	if (!lm)
		return;
	base_defer_cancel(lm->loop, &lm->defer);
	base_defer_cancel(lm->loop, &lm->sweep_defer);
	/* Outstanding requests and queued callbacks end with -ESHUTDOWN
	 * here (cluster_close's exception); a queued grant too, as its
	 * entry goes away with the table. Held locks just stop existing. */
	while (!list_empty(&lm->waiting) || !list_empty(&lm->deferred)) {
		struct list_head *h = !list_empty(&lm->waiting) ?
			&lm->waiting : &lm->deferred;
		lk = list_first_entry(h, struct cluster_lock, priv_link);
		list_del(&lk->priv_link);
		lk->priv_state = CLUSTER_LOCK_ST_IDLE;
		lk->cb(lk, -ESHUTDOWN);
	}
	while (!list_empty(&lm->held)) {
		lk = list_first_entry(&lm->held, struct cluster_lock,
				      priv_link);
		list_del(&lk->priv_link);
		lk->priv_state = CLUSTER_LOCK_ST_IDLE;
	}
	/* The engine completes the submits later: orphan them. */
	list_for_each_entry_safe(sub, stmp, &lm->subs, link) {
		list_del(&sub->link);
		sub->lm = NULL;
	}
	cluster_channel_close(lm->ch);
	cluster_lock_table_reset(&lm->tab);
	free(lm);
}
