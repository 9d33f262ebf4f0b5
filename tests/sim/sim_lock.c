/*
 * The lock manager under seeded random schedules on the sim bus: N nodes
 * (3..5) in one process, one base_loop, stepped one bus event at a time,
 * each node with a few lock users taking shared / exclusive, named and
 * range locks on two resources, cached or not, releasing, cancelling,
 * re-taking from the cache; partitions, merges, crashes and restarts.
 *
 *   node 1: users u0..u5   node 2: users ...   node N: users ...
 *        \                    |                    /
 *         [ sim bus: components, views, total order ]
 *                 resources "r0" [0, 32) and "r1" (whole)
 *
 * Checked after every step:
 *   - two ready nodes at the same (epoch, commit index) hold byte-
 *     identical state;
 *   - every ready node's lock table loads (so it keeps the table's
 *     invariants: no two granted conflicting entries, nothing grantable
 *     left waiting) and holds no entry of a node outside its view (a
 *     departed node's locks are released);
 *   - no two users hold conflicting locks at once, across all nodes. A
 *     node cut off in a minority component, or whose component loses
 *     quorum, loses its locks at that moment as far as the oracle is
 *     concerned (the others may grant them on once they see it go; its
 *     users are told through cluster_events: the view is not quorate):
 *     those users' locks are "revoked" and not counted;
 *   - `contended` fires only for a held cached lock (half the users that
 *     cache set it, and release in it, as a user with a cache of its own
 *     does);
 *   - every callback fires once per acquire, never inside the call,
 *     with 0 / -ECANCELED (after a cancel) / -EAGAIN / -ESHUTDOWN (close).
 * At the end everyone is restarted or merged, the users release what
 * they hold, the bus drains: every request has completed, no entry waits
 * in any table, and all nodes hold the same state.
 *
 * SIM_SEED=<seed> replays one schedule, SIM_SEEDS=<count> sets how many.
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
#include "cluster/cluster_lock_table.h"
#include "cluster/cluster_sim.h"
#include "sim_util.h"

#define USERS 6

enum { U_FREE, U_WAITING, U_CANCELLING, U_HELD };

struct world;
struct tnode;

struct tuser {
	struct cluster_lock lk;
	struct tnode *t;
	int state;
	bool revoked;      /* the oracle no longer counts this lock */
	bool in_call;      /* inside acquire / cancel */
	int contended;     /* times told someone waits behind it */
};

struct tnode {
	struct world *w;
	uint32_t id;
	struct cluster *c;       /* NULL: down */
	struct tuser users[USERS];
	bool minority;           /* oracle: not in a quorate component */
};

struct world {
	struct sim_world sw;
	struct tnode nodes[SIM_MAXN + 1];
	uint64_t grants, waits, cancels, agains, revokes, cached_hits;
	uint64_t contended;
};

static struct world *world_of(struct sim_world *sw)
{
	return container_of(sw, struct world, sw);
}

static void trace(const struct tuser *u, const char *what, int v)
{
	if (getenv("SIM_TRACE"))
		fprintf(stderr, "node %u user %td %s %d: %s %" PRIu64 "+%"
			PRIu64 " %s req %" PRIu64 "\n", u->t->id,
			u - u->t->users, what, v, u->lk.name, u->lk.start,
			u->lk.len, u->lk.mode ? "X" : "S", u->lk.priv_id);
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return sim_rand(&w->sw, n);
}

/* ---------------------------------------------------------------- oracle */

/* Recomputes which up nodes sit in a quorate component (more than half
 * of the configured N up with the same label); a node that drops out of
 * one loses its locks now. */
static void oracle_update(struct sim_world *sw)
{
	struct world *w = world_of(sw);

	for (uint32_t id = 1; id <= sw->n; id++) {
		struct tnode *t = &w->nodes[id];
		uint32_t size = 0;

		if (!t->c)
			continue;
		for (uint32_t o = 1; o <= sw->n; o++)
			if (w->nodes[o].c &&
			    sw->label[o - 1] == sw->label[id - 1])
				size++;
		t->minority = size * 2 <= sw->n;
		if (!t->minority)
			continue;
		for (int u = 0; u < USERS; u++)
			if (t->users[u].state == U_HELD &&
			    !t->users[u].revoked) {
				t->users[u].revoked = true;
				w->revokes++;
			}
	}
}

static bool lk_conflict(const struct cluster_lock *a,
			const struct cluster_lock *b)
{
	if (strcmp(a->name, b->name))
		return false;
	if (a->mode != CLUSTER_LOCK_EXCLUSIVE &&
	    b->mode != CLUSTER_LOCK_EXCLUSIVE)
		return false;
	if (a->len == 0 || b->len == 0)
		return true;
	return a->start < b->start + b->len && b->start < a->start + a->len;
}

static void check_holders(struct world *w)
{
	struct tuser *held[SIM_MAXN * USERS];
	uint32_t n = 0;

	for (uint32_t id = 1; id <= w->sw.n; id++)
		for (int u = 0; u < USERS; u++) {
			struct tuser *x = &w->nodes[id].users[u];
			if (w->nodes[id].c && x->state == U_HELD &&
			    !x->revoked)
				held[n++] = x;
		}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			SIM_CHECK(!lk_conflict(&held[i]->lk, &held[j]->lk),
				  "node %u user %td (%s %" PRIu64 "+%" PRIu64
				  " %s) and node %u user %td (%s %" PRIu64 "+%"
				  PRIu64 " %s) hold conflicting locks",
				  held[i]->t->id, held[i] - held[i]->t->users,
				  held[i]->lk.name, held[i]->lk.start,
				  held[i]->lk.len,
				  held[i]->lk.mode ? "X" : "S", held[j]->t->id,
				  held[j] - held[j]->t->users, held[j]->lk.name,
				  held[j]->lk.start, held[j]->lk.len,
				  held[j]->lk.mode ? "X" : "S");
}

/* The lock channel's part of a state blob: u16 id 2, u32 len, then the
 * table, which opens with "CLKT". */
static const uint8_t *lock_part(const uint8_t *b, size_t len, size_t *plen)
{
	for (size_t p = 6; p + 4 <= len; p++) {
		size_t l;
		if (memcmp(b + p, "CLKT", 4) || b[p - 6] != 0 || b[p - 5] != 2)
			continue;
		l = (size_t)b[p - 4] << 24 | (size_t)b[p - 3] << 16 |
		    (size_t)b[p - 2] << 8 | b[p - 1];
		if (l <= len - p) {
			*plen = l;
			return b + p;
		}
	}
	return NULL;
}

/* After every step: the state comparison, each ready node's lock table,
 * and who holds what. */
static void lock_check(struct sim_world *sw)
{
	struct world *w = world_of(sw);

	for (uint32_t id = 1; id <= sw->n; id++) {
		struct tnode *t = &w->nodes[id];
		const uint8_t *part;
		size_t len, plen;
		void *data;

		if (!t->c || !cluster_is_ready(t->c))
			continue;
		data = sim_state_check(sw, id, &len);

		/* the table is sound and holds only members' entries */
		part = lock_part(data, len, &plen);
		SIM_CHECK(part, "node %u: no lock table in the state", id);
		struct cluster_lock_table tab;
		cluster_lock_table_init(&tab);
		SIM_CHECK(cluster_lock_table_load(&tab, part, plen) == 0,
			  "node %u: its lock table breaks the invariants", id);
		const struct cluster_view *v = cluster_view_get(t->c);
		for (uint32_t r = 0; r < tab.nres; r++) {
			struct cluster_lock_entry *e;
			list_for_each_entry(e, &tab.res[r]->entries, link) {
				bool member = false;
				for (uint32_t m = 0; m < v->count; m++)
					member |= v->members[m].id == e->node;
				SIM_CHECK(member, "node %u: entry of node %u, "
					  "not in the view", id, e->node);
			}
		}
		cluster_lock_table_reset(&tab);
		free(data);
	}
	check_holders(w);
}

/* ------------------------------------------------------------- callbacks */

static void user_cb(struct cluster_lock *lk, int status)
{
	struct tuser *u = container_of(lk, struct tuser, lk);
	struct world *w = u->t->w;

	trace(u, "cb", status);
	SIM_CHECK(!u->in_call, "node %u: callback inside the call", u->t->id);
	SIM_CHECK(u->state == U_WAITING || u->state == U_CANCELLING,
		  "node %u: callback (%d) in state %d", u->t->id, status,
		  u->state);
	switch (status) {
	case 0:
		u->state = U_HELD;
		/* granted on a node cut off: the others may already have
		 * dropped it; the oracle does not count it */
		u->revoked = u->t->minority || !u->t->c;
		w->grants++;
		break;
	case -ECANCELED:
		SIM_CHECK(u->state == U_CANCELLING,
			  "node %u: -ECANCELED without cancel", u->t->id);
		u->state = U_FREE;
		w->cancels++;
		break;
	case -EAGAIN:
		u->state = U_FREE;
		w->agains++;
		break;
	case -ESHUTDOWN:
		u->state = U_FREE;
		break;
	default:
		SIM_CHECK(0, "node %u: status %d", u->t->id, status);
	}
}

/* A user that keeps its cached lock between uses hears someone waits
 * behind it, and lets it go. */
static void user_contended(struct cluster_lock *lk)
{
	struct tuser *u = container_of(lk, struct tuser, lk);

	trace(u, "contended", 0);
	SIM_CHECK(!u->in_call, "node %u: contended inside a call", u->t->id);
	SIM_CHECK(u->state == U_HELD && (lk->flags & CLUSTER_LOCK_CACHE),
		  "node %u: contended in state %d, flags %u", u->t->id,
		  u->state, lk->flags);
	u->contended++;
	u->t->w->contended++;
	cluster_lock_release(u->t->c, lk);
	u->state = U_FREE;
}

/* Users stop relying on their locks when their node's view is not
 * quorate, and let them go. */
static void node_view(void *arg, const struct cluster_view *v,
		      const uint32_t *left, uint32_t nleft,
		      const uint32_t *joined, uint32_t njoined)
{
	struct tnode *t = arg;

	if (v->quorate)
		return;
	for (int u = 0; u < USERS; u++)
		if (t->users[u].state == U_HELD) {
			trace(&t->users[u], "view-release", 0);
			cluster_lock_release(t->c, &t->users[u].lk);
			t->users[u].state = U_FREE;
		}
}

/* ------------------------------------------------------------------ nodes */

static void node_open(void *arg)
{
	struct tnode *t = arg;
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SIM };
	struct cluster_events ev = { .view = node_view, .arg = t };

	assert_int_equal(cluster_sim_bus_create(t->w->sw.sim, t->id,
						&cfg.bus), 0);
	assert_int_equal(cluster_open(t->w->sw.loop, &cfg, &ev, &t->c), 0);
}

/* Opens the node inside a turn of the loop, as a daemon does (the lock
 * manager takes its loop from there). */
static void node_start(struct sim_world *sw, uint32_t id)
{
	struct tnode *t = &world_of(sw)->nodes[id];

	assert_null(t->c);
	t->w = world_of(sw);
	t->id = id;
	for (int u = 0; u < USERS; u++) {
		memset(&t->users[u], 0, sizeof(t->users[u]));
		t->users[u].t = t;
	}
	assert_int_equal(base_loop_post(sw->loop, node_open, t), 0);
	while (!t->c)
		assert_true(base_loop_run_ready(sw->loop) >= 0);
	oracle_update(sw);
}

static void node_stop(struct sim_world *sw, uint32_t id)
{
	struct tnode *t = &world_of(sw)->nodes[id];

	assert_non_null(t->c);
	cluster_close(t->c);  /* waiting users get -ESHUTDOWN */
	t->c = NULL;
	for (int u = 0; u < USERS; u++) {
		SIM_CHECK(t->users[u].state == U_FREE ||
			  t->users[u].state == U_HELD,
			  "node %u user %d: state %d after close", id, u,
			  t->users[u].state);
		t->users[u].state = U_FREE;
	}
	oracle_update(sw);
}

/* One user action on a random node, run inside a turn of the loop (as
 * every call of the service is). */
static void user_act(void *arg)
{
	struct world *w = arg;
	uint32_t id = 1 + (uint32_t)rnd(w, w->sw.n);
	struct tnode *t = &w->nodes[id];
	struct tuser *u = &t->users[rnd(w, USERS)];
	uint64_t before;
	int r;

	if (!t->c)
		return;
	switch (u->state) {
	case U_FREE: {
		bool whole = rnd(w, 4) == 0;
		/* half the time a user that had a cached lock takes the
		 * same again (the cache's fast path) */
		if (!(u->lk.flags & CLUSTER_LOCK_CACHE) || !u->lk.cb ||
		    rnd(w, 2)) {
			snprintf(u->lk.name, sizeof(u->lk.name), "r%d",
				 whole ? 1 : 0);
			u->lk.start = whole ? 0 : rnd(w, 28);
			u->lk.len = whole ? 0 : 1 + rnd(w, 6);
			if (!whole && rnd(w, 8) == 0)
				u->lk.len = 0;  /* whole r0 */
			u->lk.mode = rnd(w, 3) ? CLUSTER_LOCK_EXCLUSIVE
					       : CLUSTER_LOCK_SHARED;
			u->lk.flags = rnd(w, 2) ? CLUSTER_LOCK_CACHE : 0;
			u->lk.contended = u->lk.flags && rnd(w, 2)
					  ? user_contended : NULL;
		}
		u->lk.cb = user_cb;
		u->revoked = false;
		before = cluster_stats_get(t->c)->submitted;
		u->in_call = true;
		r = cluster_lock_acquire(t->c, &u->lk);
		u->in_call = false;
		trace(u, "acquire", r);
		if (r == 0) {
			u->state = U_WAITING;
			w->waits++;
			if (cluster_stats_get(t->c)->submitted == before)
				w->cached_hits++;
		} else {
			SIM_CHECK(r == -EAGAIN && !cluster_is_ready(t->c),
				  "node %u: acquire: %d", id, r);
		}
		break;
	}
	case U_WAITING:
		if (rnd(w, 3) == 0) {
			u->state = U_CANCELLING;
			trace(u, "cancel", 0);
			u->in_call = true;
			cluster_lock_cancel(t->c, &u->lk);
			u->in_call = false;
		}
		break;
	case U_HELD:
		trace(u, "release", 0);
		cluster_lock_release(t->c, &u->lk);
		u->state = U_FREE;
		break;
	default:
		break;
	}
}

/* Node id's lock table as its saved state holds it (the caller resets
 * it). */
static void node_table(struct world *w, uint32_t id,
		       struct cluster_lock_table *tab)
{
	const uint8_t *part;
	size_t l, plen;
	void *d;

	assert_int_equal(cluster_state_save(w->nodes[id].c, &d, &l), 0);
	part = lock_part(d, l, &plen);
	cluster_lock_table_init(tab);
	assert_int_equal(cluster_lock_table_load(tab, part, plen), 0);
	free(d);
}

/* Whether every node's table holds only granted cached entries. */
static bool tables_clean(struct world *w)
{
	bool clean = true;

	for (uint32_t id = 1; id <= w->sw.n && clean; id++) {
		struct cluster_lock_table tab;

		node_table(w, id, &tab);
		for (uint32_t r = 0; r < tab.nres; r++) {
			struct cluster_lock_entry *e;
			list_for_each_entry(e, &tab.res[r]->entries, link)
				clean &= e->granted && e->cached;
		}
		cluster_lock_table_reset(&tab);
	}
	return clean;
}

/* A probe: user x takes and (in drain) drops a shared lock on a third
 * resource, from inside the loop. */
static void probe_act(void *arg)
{
	struct tuser *x = arg;

	memset(&x->lk, 0, sizeof(x->lk));
	snprintf(x->lk.name, sizeof(x->lk.name), "probe");
	x->lk.mode = CLUSTER_LOCK_SHARED;
	x->lk.cb = user_cb;
	x->revoked = false;
	SIM_CHECK(x->state == U_FREE, "probe: user busy");
	SIM_CHECK(cluster_lock_acquire(x->t->c, &x->lk) == 0, "probe refused");
	x->state = U_WAITING;
}

/* Steps the bus, releases whatever users hold and turns the loop until
 * nothing moves and nobody waits (for at least 300 ms of real time when
 * poll: the lock manager's poll runs every 100 ms). */
static void drain(struct world *w, bool poll)
{
	uint64_t t0 = base_now_ms(), quiet = base_now_ms();
	uint32_t idle = 0;

	for (;;) {
		bool moved = cluster_sim_step(w->sw.sim), waiting = false;

		for (uint32_t id = 1; id <= w->sw.n; id++)
			for (int u = 0; u < USERS; u++) {
				struct tuser *x = &w->nodes[id].users[u];
				if (x->state == U_HELD) {
					cluster_lock_release(w->nodes[id].c,
							     &x->lk);
					x->state = U_FREE;
					moved = true;
				}
				waiting |= x->state == U_WAITING ||
					   x->state == U_CANCELLING;
			}
		if (base_loop_run_ready(w->sw.loop) > 0)
			moved = true;
		lock_check(&w->sw);
		if (moved) {
			idle = 0;
			quiet = base_now_ms();
			continue;
		}
		if (!waiting && ++idle >= 5 &&
		    (!poll || base_now_ms() - quiet >= 300))
			break;
		if (base_now_ms() - t0 > 5000)
			break;
		if (waiting || poll)
			usleep(1000);
	}
}

static struct cluster *node_cluster(struct sim_world *sw, uint32_t id)
{
	return world_of(sw)->nodes[id].c;
}

/* A user action, inside a turn of the loop. */
static void lock_traffic(struct sim_world *sw)
{
	assert_int_equal(base_loop_post(sw->loop, user_act, world_of(sw)), 0);
}

static const struct sim_ops lock_ops = {
	.node_cluster = node_cluster,
	.node_start = node_start,
	.node_stop = node_stop,
	.traffic = lock_traffic,
	.membership = oracle_update,
	.check = lock_check,
};

/* per mille: 55% bus steps, 39% user actions, then membership changes;
 * calm schedules: membership changes 20 times rarer */
static const struct sim_schedule lock_schedule = {
	.step = 550, .traffic = 940, .extra = 940, .partition = 955,
	.merge = 975, .crash = 985, .calm_odds = 20,
};

static struct world *world_new(const struct cluster_sim_config *sc)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	sim_world_init(&w->sw, "sim_lock", &lock_ops, sc);
	return w;
}

static void world_free(struct world *w)
{
	sim_world_fini(&w->sw);
	free(w);
}

static void run_schedule(uint64_t seed, uint32_t steps)
{
	struct cluster_sim_config sc = { 0 };
	struct world *w;
	uint32_t id;

	if (getenv("SIM_TRACE"))
		log_set_level(LOG_LVL_DEBUG);
	sc.seed = seed;
	sc.nodes = 3 + (uint32_t)(seed % 3);
	sc.max_msg = 512 + (seed / 3) % 1024;
	/* flow control now and then: send() pushes back */
	sc.outbox_limit = (seed / 7) % 3 == 0 ? 2 : 0;
	w = world_new(&sc);
	sim_schedule_run(&w->sw, &lock_schedule, steps);

	/* Heal: everyone up, one component; users release what they get
	 * and stop asking; drain. */
	sim_heal(&w->sw);
	drain(w, false);
	/* A node that could not give something back while it was not
	 * ready retries at its next acquire, apply or poll (100 ms of real
	 * time). Most schedules poke every node with a probe lock; then
	 * the test waits (real time, at most 3 s) until every table holds
	 * only idle cached entries. */
	if (seed % 4) {
		for (id = 1; id <= w->sw.n; id++) {
			struct tuser *x = &w->nodes[id].users[0];
			assert_int_equal(base_loop_post(w->sw.loop, probe_act,
							x), 0);
		}
		drain(w, false);
	}
	if (getenv("SIM_TRACE"))
		fprintf(stderr, "clean: %d\n", tables_clean(w));
	for (uint64_t t0 = base_now_ms(); !tables_clean(w) &&
	     base_now_ms() - t0 < 3000;) {
		usleep(2000);
		drain(w, false);
	}
	for (id = 1; id <= w->sw.n; id++)
		for (int u = 0; u < USERS; u++)
			SIM_CHECK(w->nodes[id].users[u].state == U_FREE,
				  "node %u user %d still in state %d after "
				  "healing", id, u,
				  w->nodes[id].users[u].state);
	sim_check_converged(&w->sw);
	{
		struct cluster_lock_table tab;

		node_table(w, 1, &tab);
		for (uint32_t r = 0; r < tab.nres; r++) {
			struct cluster_lock_entry *e;
			list_for_each_entry(e, &tab.res[r]->entries, link)
				SIM_CHECK(e->granted && e->cached,
					  "after healing: an entry of node %u "
					  "(req %" PRIu64 ") that is %s",
					  e->node, e->req_id,
					  e->granted ? "granted, not cached"
						     : "waiting");
		}
		cluster_lock_table_reset(&tab);
	}

	if (getenv("SIM_VERBOSE"))
		print_message("seed %" PRIu64 ": %u nodes, %" PRIu64
			      " requests, %" PRIu64 " grants (%" PRIu64
			      " from cache), %" PRIu64 " cancelled, %" PRIu64
			      " -EAGAIN, %" PRIu64 " revoked, %" PRIu64
			      " contended, %" PRIu64 " checks\n", seed,
			      w->sw.n, w->waits, w->grants, w->cached_hits,
			      w->cancels, w->agains, w->revokes, w->contended,
			      w->sw.checks);
	world_free(w);
}

static void test_sim_lock_random(void **state)
{
	uint64_t n = sim_seeds_run(run_schedule, 200, 2000);

	if (n)
		print_message("%" PRIu64 " seeded lock schedules passed\n", n);
}

/* ------------------------------------------------------ scripted cases */

/* n nodes, all up. */
static struct world *world_up(uint32_t n, uint64_t seed)
{
	struct cluster_sim_config sc = { .nodes = n, .seed = seed };
	struct world *w = world_new(&sc);

	for (uint32_t id = 1; id <= n; id++)
		node_start(&w->sw, id);
	return w;
}

/* Until the bus and the loop are quiet; nothing is released. ms > 0:
 * keep turning the loop that long (real time, for the poll). */
static void run(struct world *w, uint64_t ms)
{
	uint64_t t0 = base_now_ms();

	for (;;) {
		bool moved = cluster_sim_step(w->sw.sim);
		if (base_loop_run_ready(w->sw.loop) > 0)
			moved = true;
		lock_check(&w->sw);
		if (moved)
			continue;
		if (base_now_ms() - t0 >= ms)
			break;
		usleep(1000);
	}
}

static struct tuser *take(struct world *w, uint32_t id, int u,
			  const char *name, uint64_t start, uint64_t len,
			  enum cluster_lock_mode mode, unsigned flags)
{
	struct tuser *x = &w->nodes[id].users[u];

	memset(&x->lk, 0, sizeof(x->lk));
	snprintf(x->lk.name, sizeof(x->lk.name), "%s", name);
	x->lk.start = start;
	x->lk.len = len;
	x->lk.mode = mode;
	x->lk.flags = flags;
	x->lk.cb = user_cb;
	x->revoked = false;
	x->contended = 0;
	x->in_call = true;
	assert_int_equal(cluster_lock_acquire(w->nodes[id].c, &x->lk), 0);
	x->in_call = false;
	x->state = U_WAITING;
	return x;
}

static void drop(struct world *w, struct tuser *x)
{
	assert_int_equal(x->state, U_HELD);
	cluster_lock_release(w->nodes[x->t->id].c, &x->lk);
	x->state = U_FREE;
}

/* The entries of node `owner` in node id's table (granted / cached
 * counted apart). */
static void count_entries(struct world *w, uint32_t id, uint32_t owner,
			  uint32_t *granted, uint32_t *cached,
			  uint32_t *waiting)
{
	struct cluster_lock_table tab;

	*granted = *cached = *waiting = 0;
	node_table(w, id, &tab);
	for (uint32_t r = 0; r < tab.nres; r++) {
		struct cluster_lock_entry *e;
		list_for_each_entry(e, &tab.res[r]->entries, link) {
			if (e->node != owner)
				continue;
			if (!e->granted)
				(*waiting)++;
			else if (e->cached)
				(*cached)++;
			else
				(*granted)++;
		}
	}
	cluster_lock_table_reset(&tab);
}

/*   node 1: waits for X r0      node 2: holds X r0, crashes
 *   node 3: a bystander
 * The departed holder's lock is released and node 1 gets it. */
static void test_sim_lock_holder_crash(void **state)
{
	struct world *w = world_up(3, 11);
	struct tuser *a, *b;
	uint32_t g, c, q;

	run(w, 0);
	b = take(w, 2, 0, "r0", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	run(w, 0);
	assert_int_equal(b->state, U_HELD);
	a = take(w, 1, 0, "r0", 0, 8, CLUSTER_LOCK_SHARED, 0);
	run(w, 0);
	assert_int_equal(a->state, U_WAITING);
	node_stop(&w->sw, 2);
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	for (uint32_t id = 1; id <= 3; id += 2) {
		count_entries(w, id, 2, &g, &c, &q);
		assert_int_equal(g + c + q, 0);
	}
	drop(w, a);
	run(w, 0);
	world_free(w);
}

/*   node 1: caches X r0 [0,10), re-takes [2,4) with no traffic
 *   node 2: asks S [5,6): node 1 gives the cached lock up
 * then node 1 asks again and waits for node 2. */
static void test_sim_lock_cache_across_nodes(void **state)
{
	struct world *w = world_up(3, 12);
	struct tuser *a, *b;
	uint32_t g, c, q;
	uint64_t before;

	run(w, 0);
	a = take(w, 1, 0, "r0", 0, 10, CLUSTER_LOCK_EXCLUSIVE,
		 CLUSTER_LOCK_CACHE);
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	drop(w, a);
	run(w, 0);
	count_entries(w, 3, 1, &g, &c, &q);
	assert_int_equal(c, 1);  /* still cached, seen by everyone */

	before = cluster_stats_get(w->nodes[1].c)->submitted;
	a = take(w, 1, 0, "r0", 2, 2, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(a->state, U_WAITING);  /* not inside the call */
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	assert_int_equal(cluster_stats_get(w->nodes[1].c)->submitted, before);

	/* node 2 asks while node 1 uses it: node 2 waits; node 1's
	 * release gives the cached entry up */
	b = take(w, 2, 0, "r0", 5, 1, CLUSTER_LOCK_SHARED, 0);
	run(w, 0);
	assert_int_equal(b->state, U_WAITING);
	drop(w, a);
	run(w, 0);
	assert_int_equal(b->state, U_HELD);
	count_entries(w, 2, 1, &g, &c, &q);
	assert_int_equal(g + c + q, 0);

	/* node 1 again: X overlaps node 2's S: it waits, then gets it */
	a = take(w, 1, 0, "r0", 0, 10, CLUSTER_LOCK_EXCLUSIVE,
		 CLUSTER_LOCK_CACHE);
	run(w, 0);
	assert_int_equal(a->state, U_WAITING);
	drop(w, b);
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	drop(w, a);
	run(w, 0);
	world_free(w);
}

/*   node 1: holds X r0 [0,4) cached, with `contended`
 *   node 2: asks S [2,3)
 * node 1 hears nothing while nobody waits, then contended once node 2's
 * request is applied; it releases in the callback and node 2 gets the
 * range. A holder without `contended` is not told, and gives the lock
 * up at its release. */
static void test_sim_lock_contended(void **state)
{
	struct world *w = world_up(3, 14);
	struct tuser *a, *b, *c;
	uint32_t g, k, q;

	run(w, 0);
	a = take(w, 1, 0, "r0", 0, 4, CLUSTER_LOCK_EXCLUSIVE,
		 CLUSTER_LOCK_CACHE);
	a->lk.contended = user_contended;
	c = take(w, 3, 0, "r0", 10, 2, CLUSTER_LOCK_EXCLUSIVE, 0);
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	assert_int_equal(c->state, U_HELD);
	assert_int_equal(a->contended, 0);  /* [10,12) does not overlap */

	b = take(w, 2, 0, "r0", 2, 1, CLUSTER_LOCK_SHARED, 0);
	run(w, 0);
	assert_int_equal(a->contended, 1);
	assert_int_equal(a->state, U_FREE);  /* released in the callback */
	assert_int_equal(b->state, U_HELD);
	count_entries(w, 2, 1, &g, &k, &q);
	assert_int_equal(g + k + q, 0);      /* given up, not kept cached */
	drop(w, b);
	drop(w, c);
	run(w, 0);

	/* the same without `contended`: held until its user lets go */
	a = take(w, 1, 0, "r0", 0, 4, CLUSTER_LOCK_EXCLUSIVE,
		 CLUSTER_LOCK_CACHE);
	run(w, 0);
	b = take(w, 2, 0, "r0", 2, 1, CLUSTER_LOCK_SHARED, 0);
	run(w, 0);
	assert_int_equal(a->state, U_HELD);
	assert_int_equal(a->contended, 0);
	assert_int_equal(b->state, U_WAITING);
	drop(w, a);
	run(w, 0);
	assert_int_equal(b->state, U_HELD);
	drop(w, b);
	run(w, 0);
	world_free(w);
}

/*   {node 1, node 2} | {node 3}
 * node 3 waits for a lock node 1 holds when the partition cuts it off:
 * its request fails with -EAGAIN (found by the quorum poll); the
 * majority drops node 3's entries; after the merge node 3 holds the
 * majority's state and can lock again. */
static void test_sim_lock_minority(void **state)
{
	struct world *w = world_up(3, 13);
	static const uint32_t label[3] = { 0, 0, 1 };
	struct tuser *a, *c3;
	uint32_t g, c, q;

	run(w, 0);
	a = take(w, 1, 0, "r0", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	run(w, 0);
	c3 = take(w, 3, 0, "r0", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	run(w, 0);
	assert_int_equal(c3->state, U_WAITING);
	memcpy(w->sw.label, label, sizeof(label));
	cluster_sim_partition(w->sw.sim, w->sw.label);
	oracle_update(&w->sw);
	run(w, 400);
	assert_int_equal(c3->state, U_FREE);
	assert_true(w->agains >= 1);
	count_entries(w, 1, 3, &g, &c, &q);
	assert_int_equal(g + c + q, 0);

	sim_merge(&w->sw);
	run(w, 0);
	assert_true(cluster_is_ready(w->nodes[3].c));
	c3 = take(w, 3, 0, "r0", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	run(w, 0);
	assert_int_equal(c3->state, U_WAITING);
	drop(w, a);
	run(w, 0);
	assert_int_equal(c3->state, U_HELD);
	drop(w, c3);
	run(w, 0);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_lock_holder_crash),
		cmocka_unit_test(test_sim_lock_cache_across_nodes),
		cmocka_unit_test(test_sim_lock_contended),
		cmocka_unit_test(test_sim_lock_minority),
		cmocka_unit_test(test_sim_lock_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
