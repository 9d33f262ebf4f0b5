/*
 * One clustered logical unit under seeded random schedules on the sim
 * bus: N nodes (3..5) in one process, each with the real replicated LU
 * state (src/scsi/lu_repl.c over the PR engine) on a cluster channel and
 * the cluster lock service for COMPARE AND WRITE; partitions, merges,
 * crashes and restarts.
 *
 *   initiators i0..i3 (iSCSI names, one ISID each), through any port:
 *        |                |                         |
 *   node 1           node 2            ...     node N
 *   RTPI 1, 17       RTPI 2, 18                RTPI N, 16 + N
 *   [lu_repl]        [lu_repl]                 [lu_repl]
 *        \                |                         /
 *         [ sim bus: components, views, total order ]
 *     channel 16: the LU's messages; lock resource "lu0" [0, 16): CAW
 *
 * The port table is the same constant on every node: node k owns RTPIs
 * k and 16 + k; port_exists says whether an RTPI is in it.
 *
 * Traffic: PR OUT from a random initiator through a random port of a
 * random node (every service action but REPLACE LOST, all six types,
 * ALL_TG_PT, APTPL, SPEC_I_PT with PORT and DEVICE TransportIDs,
 * REGISTER AND MOVE to other nodes' ports and to no port), built as an
 * initiator's CDB and parameter list and decoded by pr_out_decode as the
 * issuing node does; SCSI-2 RESERVE / RELEASE, LUN RESET, TARGET RESET,
 * I_T nexus loss; each encoded and submitted. Keys come from a small
 * set; mostly the key the initiator would send (its own as the issuing
 * node sees it, or 0), and half the time the issuing nexus is one
 * registered there, so that many commands succeed. One schedule in four
 * is mostly SCSI-2. An apply that writes APTPL or aborts tasks sometimes
 * defers its ack (CLUSTER_APPLY_PENDING) and ends later. CAW: an
 * exclusive lock on 1..4 blocks of "lu0", sometimes cached, held for a
 * few steps and released.
 *
 * The oracle. Every apply and every round's view callback records, keyed
 * by where it sits in the history, what it did:
 *   - the log: (epoch, commit index) -> the message's bytes, the index
 *     of the LU message before it in the epoch (commit indexes are
 *     shared with the lock service's messages), the hash of its effects
 *     (status, reason, field, UA and abort targets, the per-nexus UA
 *     masks and aborts, persist, persist epoch...) and the hash of the
 *     LU state after it;
 *   - the epochs: epoch -> the round's base index, the parent epoch (the
 *     one before it in the node's lineage), the members, the departed
 *     nodes whose NODE_LEFT the callback applied, the effects and the
 *     state after them.
 * Epochs are unique per round and every state's lineage names its chain
 * of epochs (docs/cluster-protocol.md), so these tables describe a tree
 * of histories that crashes and restarts may fork. Checked:
 *   1. every node that applies at (epoch, index), or runs the transition
 *      of an epoch, computes what the first one recorded: the same
 *      bytes, effects and state (for epochs: base, parent, members and
 *      departed nodes, the latter exactly the parent's members not in
 *      this view); the same LU message before it, so no node skips or
 *      reorders one;
 *   2. replay: per epoch, ONE fresh lu_repl (never loaded, never reset)
 *      that applied the whole chain from the root epoch in order, the
 *      NODE_LEFT messages at each round and the logged messages between
 *      rounds, follows the nodes after every step and must match every
 *      recorded effect and state hash on the way. So a node that loaded a
 *      snapshot holds what applying the committed history gives, and the
 *      cluster applied exactly that history. After the final heal its
 *      state must equal every node's, byte for byte. (Not a shadow per
 *      node fed from the node's own snapshot: that would run the same
 *      load path. The replay never loads, so a load or save that loses
 *      something, a snapshot of the wrong point, an apply missed or
 *      doubled, a transition with the wrong departed nodes, or an
 *      outcome that depends on anything but the state and the message,
 *      shows up as a mismatch. A message no node applied is in no
 *      history: lost commits are sim_commit's business);
 *   3. a ready node's state is the one its (epoch, index) says, and two
 *      ready nodes at the same (epoch, index) hold byte-identical cluster
 *      state (sim_check_states);
 *   4. no two CAW holders, on any nodes, hold overlapping ranges at once
 *      (a node cut off from a quorate component, or down, loses its
 *      holders at that moment as far as the oracle is concerned, as in
 *      sim_lock.c). Except two grants of forked histories (neither
 *      grant's epoch descends from the other's), which only restarted
 *      nodes, empty, can make by forming a quorum apart from the holders
 *      of the latest state: one history is dropped at the merge and its
 *      holder is not told (docs/cluster-protocol.md, "What survives
 *      what"; test_sim_device_caw_forked_histories shows it step by
 *      step). They are counted, and refused in a schedule without
 *      crashes;
 *   5. every submit completes exactly once, never inside the call, with
 *      0, -EAGAIN, -EIO or -ESHUTDOWN (after a close); on 0 the
 *      submitter's own apply ran with its local_ctx, and the submitter's
 *      state, when ready, contains that apply's (epoch, index).
 *
 * SIM_SEED=<seed> replays one schedule, SIM_SEEDS=<count> sets how many,
 * SIM_VERBOSE=1 prints each seed's figures.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "cluster/cluster_sim.h"
#include "pr/pr.h"
#include "scsi/lu_repl.h"
#include "sim_util.h"
#include "../unit/t_pr_nexus.h"

#define DEV_CH 16            /* the LU's channel (CLUSTER_CH_USER) */
#define DEV_INITS 4          /* initiators */
#define DEV_REGS 12          /* max_regs: fewer than the nexuses */
#define DEV_CAWS 3           /* CAW slots per node */
#define DEV_BLOCKS 16        /* the LU's blocks, for CAW ranges */
#define DEV_NO_PORT 99       /* an RTPI no node has */
#define DEV_HELD_MAX 8       /* deferred acks per node */
#define DEV_REQ_MAX 4096
#define DEV_LOG_SIZE 32768
#define DEV_EPOCH_MAX 2048
#define FNV_BASIS 0xcbf29ce484222325ull

static const uint64_t dev_keys[] = {
	0x1111000000000001ull, 0x2222000000000002ull, 0x3333000000000003ull,
};

enum { CAW_FREE, CAW_WAITING, CAW_HELD };

struct world;
struct dnode;

struct dcaw {
	struct cluster_lock lk;
	struct dnode *t;
	int state;
	bool revoked;          /* the oracle no longer counts this lock */
	bool in_call;
	uint64_t hold_until;   /* step of the release */
	uint64_t epoch;        /* its node's epoch at the grant */
};

struct dnode {
	struct world *w;
	uint32_t id;
	struct cluster *c;             /* NULL: down */
	struct cluster_channel *ch;
	struct lu_repl lu;
	struct pr_target ua[DEV_REGS], ab[DEV_REGS];
	struct lu_repl_effects fx;
	/* where the state sits: the epoch and the index of its last LU
	 * message (or the epoch's base); set by the round's view callback,
	 * moved by every apply; loaded: a snapshot came in, its transition
	 * not yet */
	uint64_t epoch, index;
	bool loaded;
	bool minority;                 /* oracle: not in a quorate component */
	/* applies whose ack waits (an APTPL write, aborts in progress) */
	struct cluster_apply *held[DEV_HELD_MAX];
	uint32_t nheld;
	struct dcaw caws[DEV_CAWS];
};

struct dreq {
	uint32_t node;
	int calls, status;
	bool in_call, crashed, applied;
	uint64_t hash;                 /* of the message bytes */
	uint64_t epoch, index;         /* where its node applied it */
	uint8_t answer;                /* its status there (enum pr_status) */
};

/* (epoch, index) -> one applied message; prev: the index of the LU's
 * message before it in the epoch (or the epoch's base): commit indexes
 * are shared with the lock service's messages */
struct dlog {
	uint64_t epoch, index, prev;
	bool used;
	uint8_t *msg;
	size_t len;
	uint64_t fx_hash, lu_hash;
};

/* One round's transition, and the replay cursor of its epoch. */
struct depoch {
	uint64_t epoch, base, parent;   /* parent 0: a root (base 0) */
	uint32_t nmembers, members[SIM_MAXN];
	uint32_t nleft, left[SIM_MAXN];
	uint64_t fx_hash, lu_hash;
	bool built;
	struct lu_repl cur;             /* the replay, up to cur_index */
	uint64_t cur_index, cur_last;   /* cur_last: its last message */
};

struct world {
	struct sim_world sw;
	struct dnode nodes[SIM_MAXN + 1];
	struct pr_config cfg;
	struct dreq reqs[DEV_REQ_MAX];
	uint32_t nreqs;
	struct dlog log[DEV_LOG_SIZE];
	uint32_t nlog;
	struct depoch ep[DEV_EPOCH_MAX];
	uint32_t nep;
	/* the replay's effects */
	struct pr_target rua[DEV_REGS], rab[DEV_REGS];
	struct lu_repl_effects rfx;
	uint64_t steps;
	uint32_t pr_share;              /* per cent of commands that are PR OUT */
	/* figures */
	uint64_t refused, done_ok, done_again, done_eio, done_shut;
	uint64_t good, conflict, check, s2_node_left, persists;
	uint64_t caw_grants, caw_revokes, caw_forks, replayed;
};

static struct {
	uint64_t reqs, refused, ok, again, eio, shut, good, conflict, check;
	uint64_t s2_node_left, persists, caw_grants, caw_revokes, caw_forks;
	uint64_t replayed, epochs, snapshots, checks;
} tot;

static struct world *world_of(struct sim_world *sw)
{
	return container_of(sw, struct world, sw);
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return sim_rand(&w->sw, n);
}

static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!getenv("SIM_TRACE"))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ the ports */

/* Node k's ports: RTPI k and 16 + k. */
static uint16_t dev_rtpi(uint32_t node, uint32_t which)
{
	return (uint16_t)(which ? 16 + node : node);
}

static bool dev_port_exists(void *arg, uint16_t rtpi)
{
	struct world *w = arg;

	return (rtpi >= 1 && rtpi <= w->sw.n) ||
	       (rtpi >= 17 && rtpi <= 16 + w->sw.n);
}

static void dev_init_name(char *buf, size_t cap, uint32_t i)
{
	snprintf(buf, cap, "iqn.2026-11.sim:i%u", i);
}

static void dev_nexus(struct pr_nexus *n, uint32_t init, uint16_t rtpi)
{
	char name[64];

	dev_init_name(name, sizeof(name), init);
	t_nexus(n, name, (uint8_t)(init + 1), rtpi);
}

/* --------------------------------------------------------------- hashes */

static uint64_t h64(uint64_t h, uint64_t v)
{
	return sim_fnv(h, &v, sizeof(v));
}

static uint64_t h_tid(uint64_t h, const struct pr_tid *t)
{
	h = h64(h, t->format);
	h = sim_fnv(h, t->name, strlen(t->name) + 1);
	return sim_fnv(h, t->isid, strlen(t->isid) + 1);
}

static uint64_t h_target(uint64_t h, const struct pr_target *t)
{
	h = h_tid(h, &t->tid);
	h = h64(h, t->rtpi);
	h = h64(h, t->all_ports);
	return h64(h, t->kind);
}

/* Everything an apply reports, field by field, and what it means for
 * every nexus of the cluster. */
static uint64_t dev_fx_hash(struct world *w, uint64_t h,
			    const struct lu_repl_effects *fx)
{
	const struct pr_result *r = &fx->pr;

	h = h64(h, r->status);
	h = h64(h, r->reason);
	h = h64(h, r->field.valid);
	h = h64(h, r->field.cdb);
	h = h64(h, (uint64_t)(int64_t)r->field.bit);
	h = h64(h, r->field.byte);
	h = h64(h, r->ua_count);
	h = h64(h, r->ua_lost);
	h = h64(h, r->abort_count);
	h = h64(h, r->abort_lost);
	for (uint32_t i = 0; i < r->ua_count && i < r->ua_cap; i++)
		h = h_target(h, &r->ua[i]);
	for (uint32_t i = 0; i < r->abort_count && i < r->abort_cap; i++)
		h = h_target(h, &r->aborts[i]);
	h = h64(h, fx->has_issuer);
	if (fx->has_issuer) {
		h = h_tid(h, &fx->issuer.tid);
		h = h64(h, fx->issuer.rtpi);
	}
	h = h64(h, fx->ua_all);
	h = h64(h, fx->ua_all_kind);
	h = h64(h, fx->abort_all);
	h = h64(h, fx->lun_reset);
	h = h64(h, fx->s2_released);
	h = h64(h, fx->persist);
	h = h64(h, fx->persist_epoch);
	h = h64(h, fx->persist_generation);
	for (uint32_t i = 0; i < DEV_INITS; i++)
		for (uint32_t k = 1; k <= w->sw.n; k++)
			for (uint32_t p = 0; p < 2; p++) {
				struct pr_nexus n;

				dev_nexus(&n, i, dev_rtpi(k, p));
				h = h64(h, lu_repl_effects_ua_for(fx, &n));
				h = h64(h, lu_repl_effects_abort_for(fx, &n));
			}
	return h;
}

static uint64_t dev_lu_hash(const struct lu_repl *lu)
{
	void *d;
	size_t l;
	uint64_t h;

	assert_int_equal(lu_repl_save(lu, &d, &l), 0);
	h = sim_fnv(FNV_BASIS, d, l);
	free(d);
	return h;
}

static void dev_fx_arrays(struct lu_repl_effects *fx, struct pr_target *ua,
			  struct pr_target *ab)
{
	memset(fx, 0, sizeof(*fx));
	fx->pr.ua = ua;
	fx->pr.ua_cap = DEV_REGS;
	fx->pr.aborts = ab;
	fx->pr.abort_cap = DEV_REGS;
}

/* NODE_LEFT for node as every node builds it from the port table, through
 * the codec. */
static void dev_node_left_msg(uint32_t node, struct lu_repl_msg *m)
{
	struct lu_repl_msg out;
	uint8_t buf[LU_REPL_MSG_MAX];
	ssize_t n;

	memset(&out, 0, sizeof(out));
	out.type = LU_REPL_MSG_NODE_LEFT;
	out.node = node;
	out.nrtpis = 2;
	out.rtpis[0] = dev_rtpi(node, 0);
	out.rtpis[1] = dev_rtpi(node, 1);
	n = lu_repl_msg_encode(&out, buf, sizeof(buf));
	SIM_CHECK(n > 0, "NODE_LEFT %u: encode %zd", node, n);
	SIM_CHECK(lu_repl_msg_decode(buf, (size_t)n, m) == 0,
		  "NODE_LEFT %u: decode", node);
}

/* ----------------------------------------------------------- the tables */

static struct dlog *log_slot(struct world *w, uint64_t epoch,
			     uint64_t index)
{
	uint64_t s = (epoch * 0x9e3779b97f4a7c15ull ^ index *
		      0xc2b2ae3d27d4eb4full) % DEV_LOG_SIZE;

	for (;;) {
		struct dlog *e = &w->log[s];

		if (!e->used || (e->epoch == epoch && e->index == index))
			return e;
		s = (s + 1) % DEV_LOG_SIZE;
	}
}

static struct dlog *log_find(struct world *w, uint64_t epoch,
			     uint64_t index)
{
	struct dlog *e = log_slot(w, epoch, index);

	return e->used ? e : NULL;
}

/* Records (or checks against the record) what node t's apply at
 * (epoch, index) did. */
static void log_record(struct world *w, const struct dnode *t,
		       uint64_t prev, const void *msg, size_t len,
		       uint64_t fx_hash, uint64_t lu_hash)
{
	struct dlog *e = log_slot(w, t->epoch, t->index);

	if (!e->used) {
		w->good += t->fx.pr.status == PR_STATUS_GOOD;
		w->conflict += t->fx.pr.status ==
			       PR_STATUS_RESERVATION_CONFLICT;
		w->check += t->fx.pr.status == PR_STATUS_CHECK_CONDITION;
		w->persists += t->fx.persist;
		assert_true(w->nlog < DEV_LOG_SIZE * 3 / 4);
		e->used = true;
		e->epoch = t->epoch;
		e->index = t->index;
		e->prev = prev;
		e->msg = malloc(len);
		assert_non_null(e->msg);
		memcpy(e->msg, msg, len);
		e->len = len;
		e->fx_hash = fx_hash;
		e->lu_hash = lu_hash;
		w->nlog++;
		return;
	}
	SIM_CHECK(e->len == len && !memcmp(e->msg, msg, len),
		  "node %u: epoch %" PRIx64 " index %" PRIu64 ": another "
		  "message than the first node applied there", t->id,
		  t->epoch, t->index);
	SIM_CHECK(e->prev == prev, "node %u: epoch %" PRIx64 " index %"
		  PRIu64 ": applied after index %" PRIu64 ", the first node "
		  "after %" PRIu64, t->id, t->epoch, t->index, prev, e->prev);
	SIM_CHECK(e->fx_hash == fx_hash, "node %u: epoch %" PRIx64
		  " index %" PRIu64 ": other effects than the first node's",
		  t->id, t->epoch, t->index);
	SIM_CHECK(e->lu_hash == lu_hash, "node %u: epoch %" PRIx64
		  " index %" PRIu64 ": another state than the first node's",
		  t->id, t->epoch, t->index);
}

static struct depoch *epoch_find(struct world *w, uint64_t epoch)
{
	for (uint32_t i = 0; i < w->nep; i++)
		if (w->ep[i].epoch == epoch)
			return &w->ep[i];
	return NULL;
}

static bool ids_has(const uint32_t *ids, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Records (or checks) the transition of epoch d->epoch as node t ran it. */
static void epoch_record(struct world *w, const struct dnode *t,
			 const struct depoch *d)
{
	struct depoch *e = epoch_find(w, d->epoch), *p;
	uint32_t nl = 0;

	if (!e) {
		/* departed: exactly the parent's members not in this view */
		if (d->parent) {
			p = epoch_find(w, d->parent);
			SIM_CHECK(p, "node %u: epoch %" PRIx64 " has parent %"
				  PRIx64 " that no node ran", t->id, d->epoch,
				  d->parent);
			for (uint32_t i = 0; i < p->nmembers; i++) {
				if (ids_has(d->members, d->nmembers,
					    p->members[i]))
					continue;
				SIM_CHECK(nl < d->nleft &&
					  d->left[nl] == p->members[i],
					  "node %u: epoch %" PRIx64 ": node %u "
					  "left and is not in the list", t->id,
					  d->epoch, p->members[i]);
				nl++;
			}
			SIM_CHECK(p->base <= d->base, "node %u: epoch %" PRIx64
				  " base %" PRIu64 " below its parent's",
				  t->id, d->epoch, d->base);
		}
		SIM_CHECK(nl == d->nleft, "node %u: epoch %" PRIx64 ": %u "
			  "departed, %u expected", t->id, d->epoch, d->nleft,
			  nl);
		SIM_CHECK(d->parent || d->base == 0, "node %u: root epoch %"
			  PRIx64 " at index %" PRIu64, t->id, d->epoch,
			  d->base);
		assert_true(w->nep < DEV_EPOCH_MAX);
		e = &w->ep[w->nep++];
		*e = *d;
		e->built = false;
		return;
	}
	SIM_CHECK(e->base == d->base && e->parent == d->parent &&
		  e->nmembers == d->nmembers &&
		  !memcmp(e->members, d->members,
			  d->nmembers * sizeof(d->members[0])) &&
		  e->nleft == d->nleft &&
		  !memcmp(e->left, d->left, d->nleft * sizeof(d->left[0])),
		  "node %u: epoch %" PRIx64 ": another transition (base %"
		  PRIu64 ", parent %" PRIx64 ") than the first node's (%"
		  PRIu64 ", %" PRIx64 ")", t->id, d->epoch, d->base,
		  d->parent, e->base, e->parent);
	SIM_CHECK(e->fx_hash == d->fx_hash && e->lu_hash == d->lu_hash,
		  "node %u: epoch %" PRIx64 ": NODE_LEFT gave other effects "
		  "or state than on the first node", t->id, d->epoch);
}

/* ------------------------------------------------------------ the replay */

/* The replay (lu, whose last message was at *last) applies the message
 * logged at (epoch, index) if any: commit indexes without one went to
 * the lock service. */
static void replay_apply(struct world *w, struct lu_repl *lu, uint64_t epoch,
			 uint64_t index, uint64_t *last)
{
	struct dlog *l = log_find(w, epoch, index);
	struct lu_repl_msg m;

	if (!l)
		return;
	SIM_CHECK(l->prev == *last, "replay: epoch %" PRIx64 " index %"
		  PRIu64 ": the nodes applied it after index %" PRIu64
		  ", the replay's last is %" PRIu64, epoch, index, l->prev,
		  *last);
	*last = index;
	SIM_CHECK(lu_repl_msg_decode(l->msg, l->len, &m) == 0,
		  "replay: epoch %" PRIx64 " index %" PRIu64 ": decode",
		  epoch, index);
	lu_repl_apply(lu, &m, dev_port_exists, w, &w->rfx);
	w->replayed++;
	SIM_CHECK(dev_fx_hash(w, FNV_BASIS, &w->rfx) == l->fx_hash,
		  "replay: epoch %" PRIx64 " index %" PRIu64 ": the nodes' "
		  "effects differ from the replay's", epoch, index);
	SIM_CHECK(dev_lu_hash(lu) == l->lu_hash,
		  "replay: epoch %" PRIx64 " index %" PRIu64 ": the nodes' "
		  "state differs from the replay's", epoch, index);
}

/* The replay runs the transition of epoch d on lu. */
static void replay_transition(struct world *w, const struct depoch *d,
			      struct lu_repl *lu)
{
	uint64_t fxh = FNV_BASIS;

	for (uint32_t i = 0; i < d->nleft; i++) {
		struct lu_repl_msg m;

		dev_node_left_msg(d->left[i], &m);
		lu_repl_apply(lu, &m, dev_port_exists, w, &w->rfx);
		fxh = dev_fx_hash(w, fxh, &w->rfx);
	}
	SIM_CHECK(fxh == d->fx_hash && dev_lu_hash(lu) == d->lu_hash,
		  "replay: epoch %" PRIx64 ": NODE_LEFT gives other effects "
		  "or state than on the nodes", d->epoch);
}

/* Builds epoch e's replay from nothing: a fresh state, the chain of
 * epochs from the root, each transition and the messages up to the next
 * epoch's base. */
static void replay_build(struct world *w, struct depoch *e)
{
	static struct depoch *chain[DEV_EPOCH_MAX];
	uint32_t n = 0;

	for (struct depoch *d = e; d; d = d->parent ? epoch_find(w, d->parent)
						    : NULL) {
		assert_true(n < DEV_EPOCH_MAX);
		chain[n++] = d;
		SIM_CHECK(!d->parent || epoch_find(w, d->parent),
			  "replay: epoch %" PRIx64 " has an unknown parent",
			  d->epoch);
	}
	assert_int_equal(lu_repl_init(&e->cur, &w->cfg), 0);
	e->built = true;
	while (n--) {
		struct depoch *d = chain[n];
		uint64_t last = d->base;

		replay_transition(w, d, &e->cur);
		if (d == e)
			break;
		for (uint64_t k = d->base + 1; k <= chain[n - 1]->base; k++)
			replay_apply(w, &e->cur, d->epoch, k, &last);
	}
	e->cur_index = e->cur_last = e->base;
}

/* Moves epoch's replay up to index (the logged states on the way must be
 * the replay's). */
static void replay_advance(struct world *w, uint64_t epoch, uint64_t index)
{
	struct depoch *e = epoch_find(w, epoch);

	SIM_CHECK(e, "epoch %" PRIx64 " ran by no node", epoch);
	if (!e->built)
		replay_build(w, e);
	if (e->cur_index > index)
		return;  /* a node behind another of its epoch */
	while (e->cur_index < index)
		replay_apply(w, &e->cur, epoch, ++e->cur_index, &e->cur_last);
	SIM_CHECK(e->cur_last == index, "replay: epoch %" PRIx64 ": a node "
		  "at index %" PRIu64 ", no LU message logged there", epoch,
		  index);
}

/* Whether the history of (epoch, index) contains the apply at (ae, ai). */
static bool history_has(struct world *w, uint64_t epoch, uint64_t index,
			uint64_t ae, uint64_t ai)
{
	uint64_t upper = index;

	for (struct depoch *d = epoch_find(w, epoch); d;
	     d = d->parent ? epoch_find(w, d->parent) : NULL) {
		if (d->epoch == ae)
			return ai > d->base && ai <= upper;
		upper = d->base;
	}
	return false;
}

/* ------------------------------------------------------------ the channel */

static int dev_apply(void *arg, const struct cluster_msg_info *mi,
		     const void *data, size_t len, struct cluster_apply *token)
{
	struct dnode *t = arg;
	struct world *w = t->w;
	struct lu_repl_msg m;
	uint64_t prev;
	int r;

	SIM_CHECK(!t->loaded && t->epoch, "node %u: apply at index %" PRIu64
		  " outside an epoch", t->id, mi->index);
	SIM_CHECK(mi->index > t->index, "node %u: index %" PRIu64
		  " after %" PRIu64, t->id, mi->index, t->index);
	prev = t->index;
	t->index = mi->index;
	r = lu_repl_msg_decode(data, len, &m);
	SIM_CHECK(r == 0, "node %u: index %" PRIu64 ": decode %d", t->id,
		  mi->index, r);
	lu_repl_apply(&t->lu, &m, dev_port_exists, w, &t->fx);
	log_record(w, t, prev, data, len, dev_fx_hash(w, FNV_BASIS, &t->fx),
		   dev_lu_hash(&t->lu));
	trace("node %u apply %" PRIx64 ":%" PRIu64 " %s sa %u type %u from "
	      "%u: status %d s2 %d\n", t->id, t->epoch, t->index,
	      lu_repl_msg_type_str(m.type), m.req.sa, m.req.type, mi->from,
	      t->fx.pr.status, t->lu.pr.s2_reserved);

	if (mi->local_ctx) {
		struct dreq *q = mi->local_ctx;

		SIM_CHECK(q >= w->reqs && q < w->reqs + w->nreqs,
			  "node %u: local_ctx %p is no request", t->id,
			  mi->local_ctx);
		SIM_CHECK(mi->from == t->id && q->node == t->id,
			  "node %u: local_ctx of node %u's request, from %u",
			  t->id, q->node, mi->from);
		SIM_CHECK(q->hash == sim_fnv(FNV_BASIS, data, len),
			  "node %u: local_ctx with other bytes", t->id);
		SIM_CHECK(!q->applied, "node %u: request %td applied twice",
			  t->id, q - w->reqs);
		SIM_CHECK(!q->calls, "node %u: request %td applied after its "
			  "completion", t->id, q - w->reqs);
		q->applied = true;
		q->epoch = t->epoch;
		q->index = t->index;
		q->answer = (uint8_t)t->fx.pr.status;
	}
	/* An APTPL write or aborts take time: the ack waits for them. */
	if (token && t->nheld < DEV_HELD_MAX &&
	    (t->fx.persist || t->fx.abort_all || t->fx.pr.abort_count) &&
	    rnd(w, 2)) {
		t->held[t->nheld++] = token;
		return CLUSTER_APPLY_PENDING;
	}
	return CLUSTER_APPLY_DONE;
}

static uint64_t be_get(const uint8_t *b, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* The round's transition: where the state now sits, read from the head
 * of cluster_state_save (u64 epoch, u64 index, u32 n, n member ids, u32
 * n, n times (u64 epoch, u64 base): the lineage, oldest first;
 * cluster_sync.c), then NODE_LEFT for every departed node. */
static void dev_view(void *arg, const struct cluster_view *v,
		     const uint32_t *left, uint32_t nleft,
		     const uint32_t *joined, uint32_t njoined)
{
	struct dnode *t = arg;
	struct world *w = t->w;
	struct depoch d;
	const uint8_t *b;
	uint32_t nl;
	size_t len, off;
	void *data;

	memset(&d, 0, sizeof(d));
	assert_int_equal(cluster_state_save(t->c, &data, &len), 0);
	b = data;
	d.epoch = be_get(b, 8);
	d.base = be_get(b + 8, 8);
	d.nmembers = (uint32_t)be_get(b + 16, 4);
	assert_true(d.nmembers <= SIM_MAXN);
	off = 20;
	for (uint32_t i = 0; i < d.nmembers; i++, off += 4)
		d.members[i] = (uint32_t)be_get(b + off, 4);
	nl = (uint32_t)be_get(b + off, 4);
	off += 4;
	SIM_CHECK(nl >= 1 && be_get(b + off + 16 * (nl - 1), 8) == d.epoch &&
		  be_get(b + off + 16 * (nl - 1) + 8, 8) == d.base,
		  "node %u: the lineage does not end with the new epoch",
		  t->id);
	d.parent = nl >= 2 ? be_get(b + off + 16 * (nl - 2), 8) : 0;
	free(data);

	SIM_CHECK(v->quorate, "node %u: round in a view without quorum",
		  t->id);
	SIM_CHECK(d.nmembers == v->count, "node %u: %u state members, %u in "
		  "the view", t->id, d.nmembers, v->count);
	SIM_CHECK(nleft <= SIM_MAXN, "node %u: %u left", t->id, nleft);
	d.nleft = nleft;
	memcpy(d.left, left, nleft * sizeof(*left));
	d.fx_hash = FNV_BASIS;
	for (uint32_t i = 0; i < nleft; i++) {
		struct lu_repl_msg m;

		dev_node_left_msg(left[i], &m);
		lu_repl_apply(&t->lu, &m, dev_port_exists, w, &t->fx);
		d.fx_hash = dev_fx_hash(w, d.fx_hash, &t->fx);
		w->s2_node_left += t->fx.s2_released;
	}
	d.lu_hash = dev_lu_hash(&t->lu);
	t->epoch = d.epoch;
	t->index = d.base;
	t->loaded = false;
	trace("node %u round %" PRIx64 " base %" PRIu64 " parent %" PRIx64
	      " left %u\n", t->id, d.epoch, d.base, d.parent, nleft);
	epoch_record(w, t, &d);
}

static int dev_save(void *arg, void **data, size_t *len)
{
	struct dnode *t = arg;

	return lu_repl_save(&t->lu, data, len);
}

static int dev_load(void *arg, const void *data, size_t len)
{
	struct dnode *t = arg;
	int r = lu_repl_load(&t->lu, data, len);

	SIM_CHECK(r == 0, "node %u: snapshot refused: %d", t->id, r);
	t->loaded = true;
	t->epoch = 0;
	t->index = 0;
	return r;
}

static void dev_reset(void *arg)
{
	struct dnode *t = arg;

	lu_repl_reset(&t->lu);
	t->epoch = 0;
	t->index = 0;
	t->loaded = false;
}

static const struct cluster_channel_ops dev_ops = {
	.id = DEV_CH,
	.name = "lu0",
	.apply = dev_apply,
	.view = dev_view,
	.save = dev_save,
	.load = dev_load,
	.reset = dev_reset,
};

/* -------------------------------------------------------------- the CAWs */

static bool caw_overlap(const struct cluster_lock *a,
			const struct cluster_lock *b)
{
	return a->start < b->start + b->len && b->start < a->start + a->len;
}

/* Whether epoch a is b or one of b's ancestors. */
static bool epoch_descends(struct world *w, uint64_t a, uint64_t b)
{
	for (struct depoch *d = epoch_find(w, b); d;
	     d = d->parent ? epoch_find(w, d->parent) : NULL)
		if (d->epoch == a)
			return true;
	return false;
}

/* Two grants that forked histories made: only restarted nodes (empty
 * state) can form a quorum apart from the holders of the latest state
 * (docs/cluster-protocol.md, "What survives what"); one of the two
 * histories is dropped at the next merge, and a holder is not told that
 * its grant went with it. */
static bool caw_forked(struct world *w, const struct dcaw *a,
		       const struct dcaw *b)
{
	return a->epoch && b->epoch && !epoch_descends(w, a->epoch, b->epoch) &&
	       !epoch_descends(w, b->epoch, a->epoch);
}

static void caw_check(struct world *w)
{
	struct dcaw *held[SIM_MAXN * DEV_CAWS];
	uint32_t n = 0;

	for (uint32_t id = 1; id <= w->sw.n; id++)
		for (int k = 0; k < DEV_CAWS; k++) {
			struct dcaw *x = &w->nodes[id].caws[k];

			if (w->nodes[id].c && x->state == CAW_HELD &&
			    !x->revoked)
				held[n++] = x;
		}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++) {
			if (!caw_overlap(&held[i]->lk, &held[j]->lk))
				continue;
			if (caw_forked(w, held[i], held[j])) {
				SIM_CHECK(w->sw.crashes, "CAW: overlapping "
					  "grants of forked histories without "
					  "a crash");
				w->caw_forks++;
				continue;
			}
			SIM_CHECK(0,
				  "CAW: node %u slot %td [%" PRIu64 ", +%"
				  PRIu64 ") and node %u slot %td [%" PRIu64
				  ", +%" PRIu64 ") held at once",
				  held[i]->t->id, held[i] - held[i]->t->caws,
				  held[i]->lk.start, held[i]->lk.len,
				  held[j]->t->id, held[j] - held[j]->t->caws,
				  held[j]->lk.start, held[j]->lk.len);
		}
}

/* Which up nodes sit in a quorate component (more than half of N up with
 * the same label); one that drops out loses its CAW locks now. */
static void caw_oracle_update(struct sim_world *sw)
{
	struct world *w = world_of(sw);

	for (uint32_t id = 1; id <= sw->n; id++) {
		struct dnode *t = &w->nodes[id];
		uint32_t size = 0;

		if (!t->c)
			continue;
		for (uint32_t o = 1; o <= sw->n; o++)
			if (w->nodes[o].c &&
			    sw->label[o - 1] == sw->label[id - 1])
				size++;
		t->minority = size * 2 <= sw->n;
		trace("oracle: node %u label %u minority %d\n", id,
		      sw->label[id - 1], t->minority);
		if (!t->minority)
			continue;
		for (int k = 0; k < DEV_CAWS; k++)
			if (t->caws[k].state == CAW_HELD &&
			    !t->caws[k].revoked) {
				t->caws[k].revoked = true;
				w->caw_revokes++;
			}
	}
}

static void caw_cb(struct cluster_lock *lk, int status)
{
	struct dcaw *x = container_of(lk, struct dcaw, lk);
	struct world *w = x->t->w;

	trace("node %u caw %td cb %d [%" PRIu64 ", +%" PRIu64 ") minority %d\n",
	      x->t->id, x - x->t->caws, status, x->lk.start, x->lk.len,
	      x->t->minority);
	SIM_CHECK(!x->in_call, "node %u: CAW callback inside the call",
		  x->t->id);
	SIM_CHECK(x->state == CAW_WAITING, "node %u: CAW callback (%d) in "
		  "state %d", x->t->id, status, x->state);
	switch (status) {
	case 0:
		x->state = CAW_HELD;
		x->revoked = x->t->minority || !x->t->c;
		x->epoch = x->t->loaded ? 0 : x->t->epoch;
		x->hold_until = w->steps + 1 + rnd(w, 6);
		w->caw_grants++;
		break;
	case -EAGAIN:
	case -ESHUTDOWN:
		x->state = CAW_FREE;
		break;
	default:
		SIM_CHECK(0, "node %u: CAW status %d", x->t->id, status);
	}
}

/* One CAW step on a random slot of a random node, inside a turn of the
 * loop: take a range, or let go of one held long enough. */
static void caw_act(void *arg)
{
	struct world *w = arg;
	struct dnode *t = &w->nodes[1 + rnd(w, w->sw.n)];
	struct dcaw *x = &t->caws[rnd(w, DEV_CAWS)];
	int r;

	if (!t->c)
		return;
	if (x->state == CAW_HELD && w->steps >= x->hold_until) {
		trace("node %u caw %td release\n", t->id, x - t->caws);
		cluster_lock_release(t->c, &x->lk);
		x->state = CAW_FREE;
		return;
	}
	if (x->state != CAW_FREE)
		return;
	memset(&x->lk, 0, sizeof(x->lk));
	snprintf(x->lk.name, sizeof(x->lk.name), "lu0");
	x->lk.len = 1 + rnd(w, 4);
	x->lk.start = rnd(w, DEV_BLOCKS - x->lk.len + 1);
	x->lk.mode = CLUSTER_LOCK_EXCLUSIVE;
	x->lk.flags = rnd(w, 2) ? CLUSTER_LOCK_CACHE : 0;
	x->lk.cb = caw_cb;
	x->revoked = false;
	x->in_call = true;
	r = cluster_lock_acquire(t->c, &x->lk);
	x->in_call = false;
	trace("node %u caw %td acquire [%" PRIu64 ", +%" PRIu64 ") %s: %d\n",
	      t->id, x - t->caws, x->lk.start, x->lk.len,
	      x->lk.flags & CLUSTER_LOCK_CACHE ? "cache" : "", r);
	if (r == 0) {
		x->state = CAW_WAITING;
		return;
	}
	SIM_CHECK(r == -EAGAIN && !cluster_is_ready(t->c),
		  "node %u: CAW acquire: %d", t->id, r);
}

/* A view without quorum: the node's CAWs stop relying on their locks. */
static void node_events_view(void *arg, const struct cluster_view *v,
			     const uint32_t *left, uint32_t nleft,
			     const uint32_t *joined, uint32_t njoined)
{
	struct dnode *t = arg;

	if (v->quorate)
		return;
	trace("node %u view without quorum\n", t->id);
	for (int k = 0; k < DEV_CAWS; k++)
		if (t->caws[k].state == CAW_HELD) {
			cluster_lock_release(t->c, &t->caws[k].lk);
			t->caws[k].state = CAW_FREE;
		}
}

/* ---------------------------------------------------------- the traffic */

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t pick_key(struct world *w)
{
	return dev_keys[rnd(w, sizeof(dev_keys) / sizeof(dev_keys[0]))];
}

/* A registered key as the issuing node sees it (or a key of the set). */
static uint64_t pick_reg_key(struct world *w, const struct pr_state *st)
{
	if (st->nregs && rnd(w, 3))
		return st->regs[rnd(w, st->nregs)].key;
	return pick_key(w);
}

static void random_tid(struct world *w, struct pr_tid *tid)
{
	uint32_t i = (uint32_t)rnd(w, DEV_INITS);

	if (rnd(w, 3) == 0) {
		memset(tid, 0, sizeof(*tid));
		tid->format = PR_TID_FORMAT_DEVICE;
		dev_init_name(tid->name, sizeof(tid->name), i);
	} else {
		struct pr_nexus n;

		dev_nexus(&n, i, 1);
		*tid = n.tid;
	}
}

/* A PR OUT from nexus nx as the initiator sends it and the issuing node
 * decodes it (false: the decode refused it; the node answers alone). */
static bool random_pr_out(struct world *w, const struct dnode *t,
			  const struct pr_nexus *nx, struct lu_repl_msg *m)
{
	static const uint8_t sas[] = {
		PR_OUT_REGISTER, PR_OUT_REGISTER, PR_OUT_REGISTER_AND_IGNORE,
		PR_OUT_RESERVE, PR_OUT_RESERVE, PR_OUT_RELEASE, PR_OUT_CLEAR,
		PR_OUT_PREEMPT, PR_OUT_PREEMPT_AND_ABORT,
		PR_OUT_REGISTER_AND_MOVE,
	};
	static const uint8_t types[] = {
		PR_TYPE_WR_EX, PR_TYPE_EX_AC, PR_TYPE_WR_EX_RO,
		PR_TYPE_EX_AC_RO, PR_TYPE_WR_EX_AR, PR_TYPE_EX_AC_AR,
	};
	const struct pr_state *st = &t->lu.pr;
	const struct pr_reg *own = pr_reg_find(st, nx);
	uint8_t cdb[10] = { 0x5f }, param[1024];
	struct pr_result res;
	uint8_t sa = sas[rnd(w, sizeof(sas))], type;
	uint64_t key, sa_key;
	uint32_t len = 24;

	memset(param, 0, sizeof(param));
	memset(&res, 0, sizeof(res));
	type = st->type != PR_TYPE_NONE && rnd(w, 2) ? st->type
						       : types[rnd(w, 6)];
	/* mostly the key an initiator would send: its own, or 0 */
	if (rnd(w, 5) == 0)
		key = pick_key(w);
	else
		key = own ? own->key : 0;
	switch (sa) {
	case PR_OUT_REGISTER:
	case PR_OUT_REGISTER_AND_IGNORE:
		sa_key = rnd(w, 6) ? pick_key(w) : 0;
		break;
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_AND_ABORT:
		sa_key = rnd(w, 8) ? pick_reg_key(w, st) : 0;
		break;
	default:
		sa_key = rnd(w, 2) ? pick_key(w) : 0;
		break;
	}
	cdb[1] = sa;
	cdb[2] = type;
	put_be(param, key, 8);
	put_be(param + 8, sa_key, 8);
	if (sa == PR_OUT_REGISTER_AND_MOVE) {
		struct pr_nexus dn;
		struct pr_tid dest;
		uint16_t rtpi;
		int k;

		if (rnd(w, 10) == 0) {
			rtpi = DEV_NO_PORT;
		} else {
			uint32_t node = 1 + (uint32_t)rnd(w, w->sw.n);

			rtpi = dev_rtpi(node, (uint32_t)rnd(w, 2));
		}
		dev_nexus(&dn, (uint32_t)rnd(w, DEV_INITS), rtpi);
		dest = dn.tid;
		k = pr_tid_encode(&dest, param + 24, sizeof(param) - 24);
		assert_true(k > 0);
		param[17] = (uint8_t)((rnd(w, 3) == 0 ? 0x02 : 0) |
				      (rnd(w, 5) == 0 ? 0x01 : 0));
		put_be(param + 18, rtpi, 2);
		put_be(param + 20, (uint32_t)k, 4);
		len += (uint32_t)k;
	} else {
		bool spec = sa == PR_OUT_REGISTER ? rnd(w, 6) == 0
						  : rnd(w, 60) == 0;

		param[20] = (uint8_t)((rnd(w, 4) == 0 ? 0x04 : 0) |
				      (rnd(w, 5) == 0 ? 0x01 : 0) |
				      (spec ? 0x08 : 0));
		if (spec) {
			uint32_t ntids = 1 + (uint32_t)rnd(w, 2);

			len = 28;
			for (uint32_t i = 0; i < ntids; i++) {
				struct pr_tid tid;
				int k;

				random_tid(w, &tid);
				k = pr_tid_encode(&tid, param + len,
						  sizeof(param) - len);
				assert_true(k > 0);
				len += (uint32_t)k;
			}
			put_be(param + 24, len - 28, 4);
		}
	}
	put_be(cdb + 5, len, 4);
	memset(m, 0, sizeof(*m));
	m->type = LU_REPL_MSG_PR_OUT;
	m->nexus = *nx;
	return pr_out_decode(cdb, param, len, &m->req, &res);
}

static void dev_done(void *ctx, int status)
{
	struct dreq *q = ctx;
	struct world *w = world_of(sim_cur);
	struct dnode *t = &w->nodes[q->node];
	uint32_t id = (uint32_t)(q - w->reqs);

	q->calls++;
	q->status = status;
	trace("done req %u node %u status %d\n", id, q->node, status);
	SIM_CHECK(q->calls == 1, "request %u completes twice", id);
	SIM_CHECK(!q->in_call, "request %u completes inside the submit", id);
	switch (status) {
	case 0:
		w->done_ok++;
		SIM_CHECK(q->applied, "request %u (node %u) done without its "
			  "local apply", id, q->node);
		if (t->c && cluster_is_ready(t->c) && !t->loaded && t->epoch)
			SIM_CHECK(history_has(w, t->epoch, t->index, q->epoch,
					      q->index),
				  "request %u done, but node %u's state (epoch "
				  "%" PRIx64 " index %" PRIu64 ") does not hold "
				  "it (epoch %" PRIx64 " index %" PRIu64 ")",
				  id, q->node, t->epoch, t->index, q->epoch,
				  q->index);
		break;
	case -EAGAIN:
		w->done_again++;
		break;
	case -EIO:
		w->done_eio++;
		break;
	case -ESHUTDOWN:
		w->done_shut++;
		SIM_CHECK(q->crashed, "request %u: -ESHUTDOWN without close",
			  id);
		break;
	default:
		SIM_CHECK(0, "request %u: status %d", id, status);
	}
}

/* A random nexus through one of t's ports; half the time one that is
 * registered (as t sees it), so that commands get past the key checks. */
static void random_issuer(struct world *w, const struct dnode *t,
			  struct pr_nexus *nx)
{
	struct pr_nexus cand[DEV_INITS * 2];
	uint32_t n = 0;

	if (rnd(w, 2)) {
		for (uint32_t i = 0; i < DEV_INITS; i++)
			for (uint32_t p = 0; p < 2; p++) {
				dev_nexus(&cand[n], i, dev_rtpi(t->id, p));
				if (pr_reg_find(&t->lu.pr, &cand[n]))
					n++;
			}
		if (n) {
			*nx = cand[rnd(w, n)];
			return;
		}
	}
	dev_nexus(nx, (uint32_t)rnd(w, DEV_INITS),
		  dev_rtpi(t->id, (uint32_t)rnd(w, 2)));
}

/* Ends one deferred apply of node t, if it has any. */
static void dev_held_release(struct world *w, struct dnode *t)
{
	uint32_t k;

	if (!t->c || !t->nheld)
		return;
	k = (uint32_t)rnd(w, t->nheld);
	cluster_apply_done(t->held[k]);
	t->held[k] = t->held[--t->nheld];
}

/* Node t encodes m and submits it: the request, or NULL when t is not
 * ready (-EAGAIN, nothing sent). */
static struct dreq *dev_submit(struct world *w, struct dnode *t,
			       const struct lu_repl_msg *m)
{
	static uint8_t buf[LU_REPL_MSG_MAX];
	struct dreq *q;
	ssize_t n;
	int rc;

	n = lu_repl_msg_encode(m, buf, sizeof(buf));
	SIM_CHECK(n > 0, "encode %s: %zd", lu_repl_msg_type_str(m->type), n);
	assert_true(w->nreqs < DEV_REQ_MAX);
	q = &w->reqs[w->nreqs];
	memset(q, 0, sizeof(*q));
	q->node = t->id;
	q->hash = sim_fnv(FNV_BASIS, buf, (size_t)n);
	q->in_call = true;
	w->nreqs++;
	rc = cluster_submit(t->ch, buf, (size_t)n, dev_done, q);
	q->in_call = false;
	if (rc == 0) {
		trace("submit req %td node %u %s\n", q - w->reqs, t->id,
		      lu_repl_msg_type_str(m->type));
		return q;
	}
	SIM_CHECK(rc == -EAGAIN && !cluster_is_ready(t->c),
		  "node %u: submit: %d (ready %d)", t->id, rc,
		  cluster_is_ready(t->c));
	SIM_CHECK(!q->calls, "node %u: a refused submit completed", t->id);
	w->nreqs--;
	return NULL;
}

/* One command from a random initiator through a random port of a random
 * node. */
static void dev_traffic(struct sim_world *sw)
{
	struct world *w = world_of(sw);
	struct dnode *t = &w->nodes[1 + rnd(w, sw->n)];
	struct lu_repl_msg m;
	struct pr_nexus nx;
	uint64_t r;

	if (!t->c || w->nreqs >= DEV_REQ_MAX)
		return;
	if (t->nheld && rnd(w, 3) == 0) {
		dev_held_release(w, t);
		return;
	}
	random_issuer(w, t, &nx);
	r = rnd(w, 100);
	memset(&m, 0, sizeof(m));
	m.nexus = nx;
	if (r < w->pr_share) {
		if (!random_pr_out(w, t, &nx, &m)) {
			w->refused++;
			return;
		}
	} else if (r < w->pr_share + (100 - w->pr_share) * 8 / 34) {
		m.type = LU_REPL_MSG_SCSI2_RESERVE;
	} else if (r < w->pr_share + (100 - w->pr_share) * 20 / 34) {
		m.type = LU_REPL_MSG_SCSI2_RELEASE;
	} else if (r < w->pr_share + (100 - w->pr_share) * 25 / 34) {
		m.type = rnd(w, 3) ? LU_REPL_MSG_LUN_RESET
				   : LU_REPL_MSG_TARGET_RESET;
	} else {
		m.type = LU_REPL_MSG_NEXUS_LOSS;
	}
	/* the SCSI-2 holder, as this node sees it, releases or loses its
	 * nexus now and then (else the reservation blocks every PR OUT) */
	if ((m.type == LU_REPL_MSG_SCSI2_RELEASE ||
	     m.type == LU_REPL_MSG_NEXUS_LOSS) && t->lu.pr.s2_reserved &&
	    (t->lu.pr.s2_holder.rtpi == dev_rtpi(t->id, 0) ||
	     t->lu.pr.s2_holder.rtpi == dev_rtpi(t->id, 1)) && rnd(w, 2))
		m.nexus = t->lu.pr.s2_holder;
	dev_submit(w, t, &m);
}

static void dev_caw(struct sim_world *sw)
{
	assert_int_equal(base_loop_post(sw->loop, caw_act, world_of(sw)), 0);
}

/* ---------------------------------------------------------------- nodes */

static void node_open(void *arg)
{
	struct dnode *t = arg;
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SIM };
	struct cluster_events ev = { .view = node_events_view, .arg = t };

	assert_int_equal(cluster_sim_bus_create(t->w->sw.sim, t->id,
						&cfg.bus), 0);
	assert_int_equal(cluster_open(t->w->sw.loop, &cfg, &ev, &t->c), 0);
	assert_int_equal(cluster_channel_open(t->c, &dev_ops, t, &t->ch), 0);
}

/* A fresh node (empty state), opened inside a turn of the loop as a
 * daemon does. */
static void node_start(struct sim_world *sw, uint32_t id)
{
	struct dnode *t = &world_of(sw)->nodes[id];

	assert_null(t->c);
	dev_reset(t);
	for (int k = 0; k < DEV_CAWS; k++) {
		memset(&t->caws[k], 0, sizeof(t->caws[k]));
		t->caws[k].t = t;
	}
	assert_int_equal(base_loop_post(sw->loop, node_open, t), 0);
	while (!t->c)
		assert_true(base_loop_run_ready(sw->loop) >= 0);
	caw_oracle_update(sw);
}

static void node_stop(struct sim_world *sw, uint32_t id)
{
	struct world *w = world_of(sw);
	struct dnode *t = &w->nodes[id];

	assert_non_null(t->c);
	for (uint32_t i = 0; i < w->nreqs; i++)
		if (w->reqs[i].node == id && !w->reqs[i].calls)
			w->reqs[i].crashed = true;
	tot.snapshots += cluster_stats_get(t->c)->snapshots_loaded;
	cluster_close(t->c);   /* waiting CAWs and submits: -ESHUTDOWN */
	t->c = NULL;
	t->ch = NULL;
	t->nheld = 0;          /* the held tokens die with it */
	for (int k = 0; k < DEV_CAWS; k++) {
		SIM_CHECK(t->caws[k].state != CAW_WAITING,
			  "node %u: CAW slot %d still waiting after close",
			  id, k);
		t->caws[k].state = CAW_FREE;
	}
	caw_oracle_update(sw);
}

static struct cluster *node_cluster(struct sim_world *sw, uint32_t id)
{
	return world_of(sw)->nodes[id].c;
}

/* -------------------------------------------------------------- checking */

/* After every step: the cluster states, each ready node's LU state
 * against its (epoch, index), the replays, the CAW holders. */
static void dev_check(struct sim_world *sw)
{
	struct world *w = world_of(sw);

	w->steps++;
	sim_check_states(sw);
	for (uint32_t id = 1; id <= sw->n; id++) {
		struct dnode *t = &w->nodes[id];
		struct depoch *e;
		uint64_t want;

		if (!t->c || t->loaded || !t->epoch)
			continue;
		replay_advance(w, t->epoch, t->index);
		if (!cluster_is_ready(t->c))
			continue;
		e = epoch_find(w, t->epoch);
		if (t->index == e->base) {
			want = e->lu_hash;
		} else {
			struct dlog *l = log_find(w, t->epoch, t->index);

			SIM_CHECK(l, "node %u: no log at its index", id);
			want = l->lu_hash;
		}
		SIM_CHECK(dev_lu_hash(&t->lu) == want, "node %u: its LU state "
			  "is not the one of epoch %" PRIx64 " index %" PRIu64,
			  id, t->epoch, t->index);
	}
	caw_check(w);
}

static const struct sim_ops dev_sim_ops = {
	.node_cluster = node_cluster,
	.node_start = node_start,
	.node_stop = node_stop,
	.traffic = dev_traffic,
	.extra = dev_caw,
	.membership = caw_oracle_update,
	.check = dev_check,
};

/* per mille: 60% bus steps, 25% commands (some of them release a
 * deferred ack), 9% CAW steps, then membership changes; calm schedules:
 * those 10 times rarer */
static const struct sim_schedule dev_schedule = {
	.step = 600, .traffic = 850, .extra = 940, .partition = 950,
	.merge = 970, .crash = 980, .calm_odds = 10,
};

static struct world *world_new(const struct cluster_sim_config *sc,
			       bool crh)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->cfg = (struct pr_config){ .max_regs = DEV_REGS, .ptpl_c = true,
				     .crh = crh };
	for (uint32_t id = 1; id <= SIM_MAXN; id++) {
		struct dnode *t = &w->nodes[id];

		t->w = w;
		t->id = id;
		assert_int_equal(lu_repl_init(&t->lu, &w->cfg), 0);
		dev_fx_arrays(&t->fx, t->ua, t->ab);
	}
	dev_fx_arrays(&w->rfx, w->rua, w->rab);
	sim_world_init(&w->sw, "sim_device", &dev_sim_ops, sc);
	return w;
}

static void world_free(struct world *w)
{
	for (uint32_t id = 1; id <= w->sw.n; id++)
		if (w->nodes[id].c)
			tot.snapshots += cluster_stats_get(w->nodes[id].c)
					     ->snapshots_loaded;
	sim_world_fini(&w->sw);
	for (uint32_t id = 1; id <= SIM_MAXN; id++)
		lu_repl_fini(&w->nodes[id].lu);
	for (uint32_t i = 0; i < w->nep; i++)
		if (w->ep[i].built)
			lu_repl_fini(&w->ep[i].cur);
	for (uint32_t i = 0; i < DEV_LOG_SIZE; i++)
		free(w->log[i].msg);
	free(w);
}

static bool caws_waiting(struct world *w)
{
	for (uint32_t id = 1; id <= w->sw.n; id++)
		for (int k = 0; k < DEV_CAWS; k++)
			if (w->nodes[id].caws[k].state == CAW_WAITING)
				return true;
	return false;
}

static bool reqs_open(struct world *w)
{
	for (uint32_t i = 0; i < w->nreqs; i++)
		if (!w->reqs[i].calls)
			return true;
	return false;
}

/* Steps the bus, ends the deferred applies and releases the CAWs until
 * nothing moves, nothing waits and every submit completed (at most 5 s
 * of real time: the lock manager's retries run on a 100 ms poll). */
static void drain(struct world *w)
{
	uint64_t t0 = base_now_ms();
	uint32_t idle = 0;

	for (;;) {
		bool moved = cluster_sim_step(w->sw.sim), waiting;

		for (uint32_t id = 1; id <= w->sw.n; id++)
			for (int k = 0; k < DEV_CAWS; k++) {
				struct dcaw *x = &w->nodes[id].caws[k];

				if (x->state != CAW_HELD)
					continue;
				cluster_lock_release(w->nodes[id].c, &x->lk);
				x->state = CAW_FREE;
				moved = true;
			}
		for (uint32_t id = 1; id <= w->sw.n; id++)
			while (w->nodes[id].nheld) {
				dev_held_release(w, &w->nodes[id]);
				moved = true;
			}
		if (base_loop_run_ready(w->sw.loop) > 0)
			moved = true;
		dev_check(&w->sw);
		waiting = caws_waiting(w) || reqs_open(w);
		if (moved) {
			idle = 0;
			continue;
		}
		if (!waiting && ++idle >= 5)
			break;
		if (base_now_ms() - t0 > 5000)
			break;
		if (waiting)
			usleep(1000);
	}
}

static void run_schedule(uint64_t seed, uint32_t steps)
{
	struct cluster_sim_config sc = { 0 };
	struct world *w;
	struct dnode *t1;
	struct depoch *e;
	void *d1, *d;
	size_t l1, l;

	if (getenv("SIM_TRACE"))
		log_set_level(LOG_LVL_DEBUG);
	sc.seed = seed;
	sc.nodes = 3 + (uint32_t)(seed % 3);
	/* the largest message (SPEC_I_PT with two TransportIDs) fits;
	 * snapshots come in fragments */
	sc.max_msg = 1024 + (seed / 3) % 1024;
	sc.outbox_limit = (seed / 7) % 3 == 0 ? 2 : 0;
	w = world_new(&sc, (seed / 2) % 2);
	/* one schedule in four mostly SCSI-2 (fewer registrations, so
	 * RESERVE gets through and NODE_LEFT has something to end) */
	w->pr_share = seed % 4 == 3 ? 25 : 66;
	sim_schedule_run(&w->sw, &dev_schedule, steps);

	/* Heal: everyone up, one component; the CAWs let go; drain. */
	sim_heal(&w->sw);
	drain(w);
	sim_check_converged(&w->sw);
	for (uint32_t i = 0; i < w->nreqs; i++)
		SIM_CHECK(w->reqs[i].calls == 1, "request %u (node %u) "
			  "completed %d times", i, w->reqs[i].node,
			  w->reqs[i].calls);
	SIM_CHECK(!caws_waiting(w), "a CAW still waits after healing");

	/* Every node holds what the fresh replay of the history gives,
	 * byte for byte. */
	t1 = &w->nodes[1];
	SIM_CHECK(t1->epoch && !t1->loaded, "node 1 in no epoch after healing");
	replay_advance(w, t1->epoch, t1->index);
	e = epoch_find(w, t1->epoch);
	assert_int_equal(lu_repl_save(&e->cur, &d1, &l1), 0);
	for (uint32_t id = 1; id <= w->sw.n; id++) {
		struct dnode *t = &w->nodes[id];

		SIM_CHECK(t->epoch == t1->epoch && t->index == t1->index,
			  "node %u at another point than node 1", id);
		assert_int_equal(lu_repl_save(&t->lu, &d, &l), 0);
		SIM_CHECK(l == l1 && !memcmp(d, d1, l), "node %u: its LU state "
			  "is not the replay's", id);
		free(d);
	}
	free(d1);

	if (getenv("SIM_VERBOSE"))
		print_message("seed %" PRIu64 ": %u nodes, %u requests (%" PRIu64
			      " ok, %" PRIu64 " again, %" PRIu64 " eio, %"
			      PRIu64 " shut), %u applies logged, %u epochs, %"
			      PRIu64 " replayed, %" PRIu64 " CAW grants (%"
			      PRIu64 " fork overlaps), %" PRIu64 " checks\n",
			      seed, w->sw.n, w->nreqs, w->done_ok,
			      w->done_again, w->done_eio, w->done_shut,
			      w->nlog, w->nep, w->replayed, w->caw_grants,
			      w->caw_forks, w->sw.checks);
	tot.reqs += w->nreqs;
	tot.refused += w->refused;
	tot.ok += w->done_ok;
	tot.again += w->done_again;
	tot.eio += w->done_eio;
	tot.shut += w->done_shut;
	tot.s2_node_left += w->s2_node_left;
	tot.caw_grants += w->caw_grants;
	tot.caw_revokes += w->caw_revokes;
	tot.caw_forks += w->caw_forks;
	tot.replayed += w->replayed;
	tot.epochs += w->nep;
	tot.checks += w->sw.checks;
	tot.good += w->good;
	tot.conflict += w->conflict;
	tot.check += w->check;
	tot.persists += w->persists;
	world_free(w);
}

static void test_sim_device_random(void **state)
{
	uint64_t n;

	memset(&tot, 0, sizeof(tot));
	n = sim_seeds_run(run_schedule, 500, 1500);

	if (!n)
		return;
	print_message("%" PRIu64 " seeded device schedules passed: %" PRIu64
		      " commands (%" PRIu64 " refused by the decoder first), %"
		      PRIu64 " done, %" PRIu64 " -EAGAIN, %" PRIu64 " -EIO, %"
		      PRIu64 " -ESHUTDOWN\n", n, tot.reqs, tot.refused, tot.ok,
		      tot.again, tot.eio, tot.shut);
	print_message("  outcomes: %" PRIu64 " GOOD, %" PRIu64 " RESERVATION "
		      "CONFLICT, %" PRIu64 " CHECK CONDITION, %" PRIu64
		      " APTPL writes\n", tot.good, tot.conflict, tot.check,
		      tot.persists);
	print_message("  %" PRIu64 " epochs, %" PRIu64 " snapshots loaded, %"
		      PRIu64 " applies replayed, %" PRIu64 " SCSI-2 "
		      "reservations ended by NODE_LEFT, %" PRIu64 " CAW grants, %"
		      PRIu64 " revoked, %" PRIu64 " checks that found CAWs "
		      "of forked histories overlapping, %" PRIu64 " state "
		      "checks\n", tot.epochs,
		      tot.snapshots, tot.replayed, tot.s2_node_left,
		      tot.caw_grants, tot.caw_revokes, tot.caw_forks,
		      tot.checks);
	if (n < 500)
		return;
	/* the default schedules reach what they are meant to */
	assert_true(tot.snapshots > 0);
	assert_true(tot.s2_node_left > 0);
	assert_true(tot.caw_revokes > 0);
	assert_true(tot.good > 0 && tot.conflict > 0 && tot.check > 0);
	assert_true(tot.persists > 0);
}

/* ------------------------------------------------------ a scripted case */

/* The nodes n, all up, ready. */
static struct world *world_up(uint32_t n, uint64_t seed)
{
	struct cluster_sim_config sc = { .nodes = n, .seed = seed };
	struct world *w = world_new(&sc, false);

	for (uint32_t id = 1; id <= n; id++)
		node_start(&w->sw, id);
	drain(w);
	for (uint32_t id = 1; id <= n; id++)
		assert_true(cluster_is_ready(w->nodes[id].c));
	return w;
}

/* Node id submits a command of type (not PR OUT) or, with sa_key, a
 * REGISTER, from initiator init through its port `which`; runs until
 * it is done and returns its answer. */
static uint8_t scripted(struct world *w, uint32_t id, uint8_t type,
			uint32_t init, uint32_t which, uint64_t sa_key)
{
	struct dnode *t = &w->nodes[id];
	struct lu_repl_msg m;
	struct dreq *q;

	memset(&m, 0, sizeof(m));
	m.type = type;
	dev_nexus(&m.nexus, init, dev_rtpi(id, which));
	m.req.sa = PR_OUT_REGISTER;
	m.req.sa_key = sa_key;
	q = dev_submit(w, t, &m);
	assert_non_null(q);
	drain(w);
	assert_int_equal(q->calls, 1);
	assert_int_equal(q->status, 0);
	return q->answer;
}

/*
 *   i0 --RTPI 2-- node 2: RESERVE(6)      (held through node 2's port)
 *   i1 --RTPI 1-- node 1: REGISTER        -> RESERVATION CONFLICT
 *                 node 2 crashes
 *   nodes 1 and 3: NODE_LEFT of node 2 (RTPIs 2, 18) ends the SCSI-2
 *   reservation (SPC-2 5.5.1, SAM-5 6.3.4)
 *   i1 --RTPI 1-- node 1: REGISTER        -> GOOD
 * Every step through the real cluster; the oracle runs after each.
 */
static void test_sim_device_holder_node_leaves(void **state)
{
	struct world *w = world_up(3, 21);

	assert_int_equal(scripted(w, 2, LU_REPL_MSG_SCSI2_RESERVE, 0, 0, 0),
			 PR_STATUS_GOOD);
	for (uint32_t id = 1; id <= 3; id++) {
		assert_true(w->nodes[id].lu.pr.s2_reserved);
		assert_int_equal(w->nodes[id].lu.pr.s2_holder.rtpi, 2);
	}
	assert_int_equal(scripted(w, 1, LU_REPL_MSG_PR_OUT, 1, 0, 0x11),
			 PR_STATUS_RESERVATION_CONFLICT);
	node_stop(&w->sw, 2);
	drain(w);
	assert_int_equal(w->s2_node_left, 2);  /* on node 1 and node 3 */
	assert_false(w->nodes[1].lu.pr.s2_reserved);
	assert_false(w->nodes[3].lu.pr.s2_reserved);
	assert_int_equal(scripted(w, 1, LU_REPL_MSG_PR_OUT, 1, 0, 0x11),
			 PR_STATUS_GOOD);
	assert_int_equal(w->nodes[3].lu.pr.nregs, 1);
	/* node 2 comes back empty and loads the others' state */
	node_start(&w->sw, 2);
	drain(w);
	assert_int_equal(w->nodes[2].lu.pr.nregs, 1);
	sim_check_converged(&w->sw);
	world_free(w);
}

/* Delivers and orders the events of the nodes in mask (bit id), turning
 * the loop and checking after each, until nothing moves. */
static void pump(struct world *w, uint32_t mask)
{
	bool moved = true;

	while (moved) {
		moved = false;
		for (uint32_t id = 1; id <= w->sw.n; id++) {
			if (!(mask & 1u << id) || !w->nodes[id].c)
				continue;
			moved |= cluster_sim_deliver(w->sw.sim, id);
			moved |= cluster_sim_sequence(w->sw.sim, id);
		}
		if (base_loop_run_ready(w->sw.loop) > 0)
			moved = true;
		dev_check(&w->sw);
	}
}

/* Node id's CAW slot k asks for [start, start + len). */
static struct dcaw *caw_take(struct world *w, uint32_t id, int k,
			     uint64_t start, uint64_t len)
{
	struct dcaw *x = &w->nodes[id].caws[k];

	memset(&x->lk, 0, sizeof(x->lk));
	snprintf(x->lk.name, sizeof(x->lk.name), "lu0");
	x->lk.start = start;
	x->lk.len = len;
	x->lk.mode = CLUSTER_LOCK_EXCLUSIVE;
	x->lk.cb = caw_cb;
	x->hold_until = UINT64_MAX;
	x->in_call = true;
	assert_int_equal(cluster_lock_acquire(w->nodes[id].c, &x->lk), 0);
	x->in_call = false;
	x->state = CAW_WAITING;
	return x;
}

/*
 * What in-memory state allows (docs/cluster-protocol.md, "What survives
 * what"), step by step: history H on {1, 2, 3}, N = 3.
 *   node 1 holds CAW [0, 4); node 2 waits for [0, 4)
 *   node 1 releases; the give-back is ordered in H, not yet delivered
 *   to node 2; then {2} | {1, 3}, and nodes 1 and 3 crash and restart
 *   empty: {1, 3} is a quorum and starts a new history H'
 *   node 1 takes [0, 4) in H'
 *   merge; node 2, still delivering H, applies the give-back: [0, 4)
 *   is node 2's in H
 * Two holders of [0, 4) at once, granted by forked histories: the
 * oracle counts them (w->caw_forks) and does not fail. After the merge
 * one history wins and everything converges.
 */
static void test_sim_device_caw_forked_histories(void **state)
{
	static const uint32_t label[3] = { 0, 1, 0 };
	struct world *w = world_up(3, 22);
	struct dcaw *a, *b, *a2;

	a = caw_take(w, 1, 0, 0, 4);
	pump(w, 0xe);
	assert_int_equal(a->state, CAW_HELD);
	b = caw_take(w, 2, 0, 0, 4);
	pump(w, 0xe);
	assert_int_equal(b->state, CAW_WAITING);

	cluster_lock_release(w->nodes[1].c, &a->lk);
	a->state = CAW_FREE;
	while (base_loop_run_ready(w->sw.loop) > 0)
		;
	assert_true(cluster_sim_sequence(w->sw.sim, 1));
	memcpy(w->sw.label, label, sizeof(label));
	cluster_sim_partition(w->sw.sim, w->sw.label);
	caw_oracle_update(&w->sw);
	node_stop(&w->sw, 1);
	node_stop(&w->sw, 3);
	w->sw.crashes = true;
	node_start(&w->sw, 1);
	node_start(&w->sw, 3);
	pump(w, 0xa);
	assert_true(cluster_is_ready(w->nodes[1].c));
	a2 = caw_take(w, 1, 0, 0, 4);
	pump(w, 0xa);
	assert_int_equal(a2->state, CAW_HELD);
	assert_false(a2->revoked);

	sim_merge(&w->sw);
	while (b->state == CAW_WAITING &&
	       cluster_sim_deliver(w->sw.sim, 2)) {
		while (base_loop_run_ready(w->sw.loop) > 0)
			;
		dev_check(&w->sw);
	}
	assert_int_equal(b->state, CAW_HELD);
	assert_false(b->revoked);
	assert_true(w->caw_forks > 0);

	drain(w);
	sim_check_converged(&w->sw);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_device_holder_node_leaves),
		cmocka_unit_test(test_sim_device_caw_forked_histories),
		cmocka_unit_test(test_sim_device_random),
	};

	log_set_level(getenv("SIM_VERBOSE") ? LOG_LVL_INFO : LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
