/*
 * The replicated key-value store under seeded random schedules on the sim
 * bus: N nodes (3..5) in one process, one base_loop, stepped one bus event
 * at a time; set / compare-and-set / delete from every node on a few keys
 * (some values of several KiB, so snapshots come in fragments), with
 * partitions, merges, crashes and restarts.
 *
 *   node 1 ... node N      each: a watch on every key ("" prefix)
 *        \      |      /
 *   [ sim bus: components, views, total order ]
 *         keys k0..k7, values "n<node>-o<op>..." of 0..3000 bytes
 *
 * Checked after every step:
 *   - two ready nodes at the same (epoch, commit index) hold byte-
 *     identical state;
 * at every completion with 0:
 *   - the submitter and every ready node of its view see the op: the
 *     key's version is at least the op's, and at the op's version the
 *     value is the op's (or the key is absent after a delete);
 *   - a SET or DEL never fails a compare; a CAS fails only with
 *     -ECANCELED; every op completes exactly once;
 * at every watch callback:
 *   - the store already holds what the callback reports, and versions of
 *     a key only grow on a node (between two state transfers).
 * At the end everyone is restarted or merged and the bus drains: all
 * nodes hold the same state, and (without crashes) every op completed
 * with 0 is visible on every node.
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

#include <cmocka.h>

#include "base/list.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "cluster/cluster_sim.h"
#include "sim_util.h"

#define KEYS 8
#define MAXOPS 1200
#define VAL_MAX 3000

enum { OP_SET, OP_CAS, OP_DEL };

struct world;

struct kop {
	struct world *w;
	uint32_t node;
	int type;
	int key;
	uint64_t expect;
	uint8_t *val;
	size_t len;
	int calls;
	int status;
	uint64_t version;
	bool crashed;
};

struct tnode {
	struct world *w;
	uint32_t id;
	struct cluster *c;
	struct cluster_kv_watch watch;
	uint64_t seen[KEYS];        /* last version watched per key */
	uint64_t loads;             /* snapshots_loaded when seen[] began */
	uint64_t events;
};

struct world {
	struct sim_world sw;
	struct tnode nodes[SIM_MAXN + 1];
	struct kop ops[MAXOPS];
	uint32_t nops;
	uint64_t ok, cancelled, again, events;
};

static struct world *world_of(struct sim_world *sw)
{
	return container_of(sw, struct world, sw);
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return sim_rand(&w->sw, n);
}

static void key_name(int k, char *buf, size_t len)
{
	snprintf(buf, len, "k%d", k);
}

/* Whether node t's store reflects op m (completed with version v). */
static void check_visible(struct tnode *t, const struct kop *m,
			  uint32_t opno)
{
	char key[8];
	const void *val;
	size_t len;
	uint64_t ver;
	int r;

	key_name(m->key, key, sizeof(key));
	r = cluster_kv_get(t->c, key, &val, &len, &ver);
	if (m->type == OP_DEL) {
		SIM_CHECK(r == -ENOENT || ver > m->version,
			  "node %u: op %u (del %s at %" PRIu64 ") not visible: "
			  "version %" PRIu64, t->id, opno, key, m->version,
			  r ? 0 : ver);
		return;
	}
	if (r == -ENOENT)
		return;  /* deleted later */
	SIM_CHECK(ver >= m->version, "node %u: op %u (%s at %" PRIu64 ") "
		  "not visible: version %" PRIu64, t->id, opno, key,
		  m->version, ver);
	if (ver == m->version)
		SIM_CHECK(len == m->len && !memcmp(val, m->val, len),
			  "node %u: op %u (%s at %" PRIu64 "): other value",
			  t->id, opno, key, m->version);
}

/* ---------------------------------------------------------------- watch */

static void watch_cb(struct cluster_kv_watch *wt, const char *key,
		     const void *val, size_t len, uint64_t version)
{
	struct tnode *t = container_of(wt, struct tnode, watch);
	uint64_t loads = cluster_stats_get(t->c)->snapshots_loaded;
	const void *cur;
	size_t curlen;
	uint64_t curver;
	int k = atoi(key + 1), r;

	SIM_CHECK(key[0] == 'k' && k >= 0 && k < KEYS, "node %u: watch on '%s'",
		  t->id, key);
	if (loads != t->loads) {
		memset(t->seen, 0, sizeof(t->seen));
		t->loads = loads;
	}
	SIM_CHECK(version > t->seen[k], "node %u: %s version %" PRIu64
		  " after %" PRIu64, t->id, key, version, t->seen[k]);
	t->seen[k] = version;
	r = cluster_kv_get(t->c, key, &cur, &curlen, &curver);
	if (!val) {
		SIM_CHECK(r == -ENOENT, "node %u: watch says %s deleted", t->id,
			  key);
	} else {
		SIM_CHECK(r == 0 && curver == version && curlen == len &&
			  !memcmp(cur, val, len),
			  "node %u: watch and store disagree on %s", t->id,
			  key);
	}
	t->events++;
	t->w->events++;
}

/* ----------------------------------------------------------- completion */

static void op_done(void *ctx, int status, uint64_t version)
{
	struct kop *m = ctx;
	struct world *w = m->w;
	uint32_t opno = (uint32_t)(m - w->ops);
	struct tnode *s = &w->nodes[m->node];

	m->calls++;
	m->status = status;
	m->version = version;
	SIM_CHECK(m->calls == 1, "op %u completes twice", opno);
	switch (status) {
	case 0:
		w->ok++;
		SIM_CHECK(version > 0 || m->type == OP_DEL, "op %u: version 0",
			  opno);
		if (m->type == OP_DEL && version == 0)
			return;  /* deleted nothing */
		check_visible(s, m, opno);
		{
			const struct cluster_view *v = cluster_view_get(s->c);
			for (uint32_t i = 0; i < v->count; i++) {
				struct tnode *o = &w->nodes[v->members[i].id];
				if (!o->c || !cluster_is_ready(o->c) ||
				    cluster_view_get(o->c)->ring_id !=
				    v->ring_id)
					continue;
				check_visible(o, m, opno);
			}
		}
		break;
	case -ECANCELED:
		SIM_CHECK(m->type == OP_CAS, "op %u: -ECANCELED for a %s", opno,
			  m->type == OP_SET ? "set" : "del");
		w->cancelled++;
		break;
	case -EAGAIN:
		w->again++;
		break;
	case -ESHUTDOWN:
		SIM_CHECK(m->crashed, "op %u: -ESHUTDOWN without close", opno);
		break;
	default:
		SIM_CHECK(0, "op %u: status %d", opno, status);
	}
}

static void op_random(struct world *w)
{
	uint32_t id = 1 + (uint32_t)rnd(w, w->sw.n);
	struct tnode *t = &w->nodes[id];
	struct kop *m;
	char key[8];
	int r;

	if (!t->c || w->nops >= MAXOPS)
		return;
	m = &w->ops[w->nops];
	memset(m, 0, sizeof(*m));
	m->w = w;
	m->node = id;
	m->key = (int)rnd(w, KEYS);
	m->type = (int)rnd(w, 10) < 5 ? OP_SET : rnd(w, 5) < 3 ? OP_CAS
						       : OP_DEL;
	key_name(m->key, key, sizeof(key));
	if (m->type != OP_DEL) {
		m->len = rnd(w, 8) == 0 ? rnd(w, VAL_MAX + 1) : rnd(w, 24);
		m->val = malloc(m->len + 1);
		assert_non_null(m->val);
		for (size_t i = 0; i < m->len; i++)
			m->val[i] = (uint8_t)(w->nops * 7 + i);
		if (m->len >= 8)
			snprintf((char *)m->val, 8, "o%u", w->nops);
	}
	if (m->type == OP_CAS) {
		uint64_t ver = 0;
		/* the version seen here, or a stale / made-up one */
		if (cluster_kv_get(t->c, key, NULL, NULL, &ver))
			ver = 0;
		m->expect = rnd(w, 4) ? ver : ver + rnd(w, 3);
	}
	switch (m->type) {
	case OP_SET:
		r = cluster_kv_set(t->c, key, m->val, m->len, op_done, m);
		break;
	case OP_CAS:
		r = cluster_kv_cas(t->c, key, m->expect, m->val, m->len,
				   op_done, m);
		break;
	default:
		r = cluster_kv_del(t->c, key, op_done, m);
		break;
	}
	if (r == 0) {
		SIM_CHECK(m->calls == 0, "op completed inside the call");
		w->nops++;
		return;
	}
	SIM_CHECK(r == -EAGAIN && !cluster_is_ready(t->c),
		  "node %u: submit: %d", id, r);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ nodes */

static void node_start(struct sim_world *sw, uint32_t id)
{
	struct world *w = world_of(sw);
	struct tnode *t = &w->nodes[id];
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SIM };

	assert_null(t->c);
	t->w = w;
	t->id = id;
	assert_int_equal(cluster_sim_bus_create(sw->sim, id, &cfg.bus), 0);
	assert_int_equal(cluster_open(sw->loop, &cfg, NULL, &t->c), 0);
	memset(t->seen, 0, sizeof(t->seen));
	t->loads = 0;
	t->watch.prefix = "";
	t->watch.cb = watch_cb;
	cluster_kv_watch_add(t->c, &t->watch);
}

static void node_stop(struct sim_world *sw, uint32_t id)
{
	struct world *w = world_of(sw);
	struct tnode *t = &w->nodes[id];

	for (uint32_t i = 0; i < w->nops; i++)
		if (w->ops[i].node == id && !w->ops[i].calls)
			w->ops[i].crashed = true;
	cluster_close(t->c);
	t->c = NULL;
}

static struct cluster *node_cluster(struct sim_world *sw, uint32_t id)
{
	return world_of(sw)->nodes[id].c;
}

static void kv_traffic(struct sim_world *sw)
{
	op_random(world_of(sw));
}

static const struct sim_ops kv_ops = {
	.node_cluster = node_cluster,
	.node_start = node_start,
	.node_stop = node_stop,
	.traffic = kv_traffic,
	.check = sim_check_states,
};

/* per mille: 60% bus steps, 34% ops, then membership changes */
static const struct sim_schedule kv_schedule = {
	.step = 600, .traffic = 940, .extra = 940, .partition = 955,
	.merge = 975, .crash = 985, .calm_odds = 20,
};

static struct world *world_new(const struct cluster_sim_config *sc)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	sim_world_init(&w->sw, "sim_kv", &kv_ops, sc);
	return w;
}

static void world_free(struct world *w)
{
	sim_world_fini(&w->sw);
	for (uint32_t i = 0; i < w->nops; i++)
		free(w->ops[i].val);
	free(w);
}

static void run_schedule(uint64_t seed, uint32_t steps)
{
	struct cluster_sim_config sc = { 0 };
	struct world *w;
	uint32_t id;

	sc.seed = seed;
	sc.nodes = 3 + (uint32_t)(seed % 3);
	/* room for the largest op; snapshots come in fragments */
	sc.max_msg = 3500 + (seed / 3) % 4096;
	/* flow control now and then: send() pushes back */
	sc.outbox_limit = (seed / 7) % 3 == 0 ? 2 : 0;
	w = world_new(&sc);
	sim_schedule_run(&w->sw, &kv_schedule, steps);

	/* Heal: everyone up, one component, drain. */
	sim_heal(&w->sw);
	for (uint32_t idle = 0; idle < 5;) {
		bool moved = cluster_sim_step(w->sw.sim);
		if (base_loop_run_ready(w->sw.loop) > 0)
			moved = true;
		sim_check_states(&w->sw);
		idle = moved ? 0 : idle + 1;
	}
	sim_check_converged(&w->sw);
	for (uint32_t i = 0; i < w->nops; i++) {
		struct kop *m = &w->ops[i];
		SIM_CHECK(m->calls == 1, "op %u (node %u) completed %d times",
			  i, m->node, m->calls);
		if (m->status == 0 && !w->sw.crashes &&
		    !(m->type == OP_DEL && m->version == 0))
			for (id = 1; id <= w->sw.n; id++)
				check_visible(&w->nodes[id], m, i);
	}

	if (getenv("SIM_VERBOSE"))
		print_message("seed %" PRIu64 ": %u nodes, %u ops, %" PRIu64
			      " ok, %" PRIu64 " cas mismatches, %" PRIu64
			      " -EAGAIN, %" PRIu64 " watch events, %" PRIu64
			      " checks\n", seed, w->sw.n, w->nops, w->ok,
			      w->cancelled, w->again, w->events, w->sw.checks);
	world_free(w);
}

static void test_sim_kv_random(void **state)
{
	uint64_t n = sim_seeds_run(run_schedule, 200, 2000);

	if (n)
		print_message("%" PRIu64 " seeded KV schedules passed\n", n);
}
/* A 100 KiB value, then a node joins: it receives the value in the
 * snapshot and its own ops work on top of it (the random schedules cover
 * snapshots cut in fragments).
 *
 *   node 1, node 2: up, set "k0" = 100 KiB      node 3: joins later */
static void test_sim_kv_big_value_join(void **state)
{
	struct cluster_sim_config sc = { .nodes = 3, .seed = 5,
					 .max_msg = 160 * 1024 };
	struct world *w = world_new(&sc);
	size_t big = 100 * 1024;
	struct kop *m;
	const void *val;
	size_t len;
	uint64_t ver;

	node_start(&w->sw, 1);
	node_start(&w->sw, 2);
	while (cluster_sim_step(w->sw.sim))
		sim_settle(&w->sw);
	sim_settle(&w->sw);
	assert_true(cluster_is_ready(w->nodes[1].c));

	m = &w->ops[w->nops++];
	m->w = w;
	m->node = 1;
	m->type = OP_SET;
	m->key = 0;
	m->len = big;
	m->val = malloc(big);
	assert_non_null(m->val);
	for (size_t i = 0; i < big; i++)
		m->val[i] = (uint8_t)(i * 13 + (i >> 10));
	assert_int_equal(cluster_kv_set(w->nodes[1].c, "k0", m->val, big,
					op_done, m), 0);
	while (cluster_sim_step(w->sw.sim) || !m->calls)
		sim_settle(&w->sw);
	assert_int_equal(m->status, 0);

	node_start(&w->sw, 3);
	while (cluster_sim_step(w->sw.sim))
		sim_settle(&w->sw);
	sim_settle(&w->sw);
	assert_true(cluster_is_ready(w->nodes[3].c));
	assert_int_equal(cluster_stats_get(w->nodes[3].c)->snapshots_loaded,
			 1);
	assert_int_equal(cluster_kv_get(w->nodes[3].c, "k0", &val, &len,
					&ver), 0);
	assert_int_equal(len, big);
	assert_int_equal(ver, m->version);
	assert_memory_equal(val, m->val, big);

	/* node 3 changes it by compare-and-set on the version it got */
	m = &w->ops[w->nops++];
	m->w = w;
	m->node = 3;
	m->type = OP_CAS;
	m->key = 0;
	m->expect = ver;
	m->len = 3;
	m->val = malloc(3);
	memcpy(m->val, "new", 3);
	assert_int_equal(cluster_kv_cas(w->nodes[3].c, "k0", ver, m->val, 3,
					op_done, m), 0);
	while (cluster_sim_step(w->sw.sim) || !m->calls)
		sim_settle(&w->sw);
	assert_int_equal(m->status, 0);
	for (uint32_t id = 1; id <= 3; id++)
		check_visible(&w->nodes[id], m, 1);

	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_kv_big_value_join),
		cmocka_unit_test(test_sim_kv_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
