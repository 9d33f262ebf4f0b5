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

#define MAXN 5
#define KEYS 8
#define MAXOPS 1200
#define VAL_MAX 3000
#define HT_SIZE 8192

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

struct ht_ent {
	uint64_t epoch, index, hash;
	bool used;
};

struct world {
	uint64_t seed;
	struct base_loop *loop;
	struct cluster_sim *sim;
	uint32_t n;
	struct tnode nodes[MAXN + 1];
	struct kop ops[MAXOPS];
	uint32_t nops;
	struct ht_ent ht[HT_SIZE];
	bool crashes;
	uint64_t ok, cancelled, again, checks, events;
};

static struct world *cur_world;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			print_error("sim_kv: seed %" PRIu64 ": ",           \
				    cur_world->seed);                      \
			print_error(__VA_ARGS__);                          \
			print_error(" [%s:%d: %s]\n", __FILE__, __LINE__,  \
				    #cond);                                \
			fail();                                            \
		}                                                          \
	} while (0)

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return cluster_sim_rand(w->sim) % n;
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
		CHECK(r == -ENOENT || ver > m->version,
		      "node %u: op %u (del %s at %" PRIu64 ") not visible: "
		      "version %" PRIu64, t->id, opno, key, m->version,
		      r ? 0 : ver);
		return;
	}
	if (r == -ENOENT)
		return;  /* deleted later */
	CHECK(ver >= m->version, "node %u: op %u (%s at %" PRIu64 ") not "
	      "visible: version %" PRIu64, t->id, opno, key, m->version, ver);
	if (ver == m->version)
		CHECK(len == m->len && !memcmp(val, m->val, len),
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

	CHECK(key[0] == 'k' && k >= 0 && k < KEYS, "node %u: watch on '%s'",
	      t->id, key);
	if (loads != t->loads) {
		memset(t->seen, 0, sizeof(t->seen));
		t->loads = loads;
	}
	CHECK(version > t->seen[k], "node %u: %s version %" PRIu64 " after %"
	      PRIu64, t->id, key, version, t->seen[k]);
	t->seen[k] = version;
	r = cluster_kv_get(t->c, key, &cur, &curlen, &curver);
	if (!val) {
		CHECK(r == -ENOENT, "node %u: watch says %s deleted", t->id,
		      key);
	} else {
		CHECK(r == 0 && curver == version && curlen == len &&
		      !memcmp(cur, val, len),
		      "node %u: watch and store disagree on %s", t->id, key);
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
	CHECK(m->calls == 1, "op %u completes twice", opno);
	switch (status) {
	case 0:
		w->ok++;
		CHECK(version > 0 || m->type == OP_DEL, "op %u: version 0",
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
		CHECK(m->type == OP_CAS, "op %u: -ECANCELED for a %s", opno,
		      m->type == OP_SET ? "set" : "del");
		w->cancelled++;
		break;
	case -EAGAIN:
		w->again++;
		break;
	case -ESHUTDOWN:
		CHECK(m->crashed, "op %u: -ESHUTDOWN without close", opno);
		break;
	default:
		CHECK(0, "op %u: status %d", opno, status);
	}
}

static void op_random(struct world *w)
{
	uint32_t id = 1 + (uint32_t)rnd(w, w->n);
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
		CHECK(m->calls == 0, "op completed inside the call");
		w->nops++;
		return;
	}
	CHECK(r == -EAGAIN && !cluster_is_ready(t->c), "node %u: submit: %d",
	      id, r);
	free(m->val);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ nodes */

static void node_start(struct world *w, uint32_t id)
{
	struct tnode *t = &w->nodes[id];
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SIM };

	assert_null(t->c);
	assert_int_equal(cluster_sim_bus_create(w->sim, id, &cfg.bus), 0);
	assert_int_equal(cluster_open(w->loop, &cfg, NULL, &t->c), 0);
	memset(t->seen, 0, sizeof(t->seen));
	t->loads = 0;
	t->watch.prefix = "";
	t->watch.cb = watch_cb;
	cluster_kv_watch_add(t->c, &t->watch);
}

static void node_stop(struct world *w, uint32_t id)
{
	struct tnode *t = &w->nodes[id];

	for (uint32_t i = 0; i < w->nops; i++)
		if (w->ops[i].node == id && !w->ops[i].calls)
			w->ops[i].crashed = true;
	cluster_close(t->c);
	t->c = NULL;
}

static void check_states(struct world *w)
{
	for (uint32_t id = 1; id <= w->n; id++) {
		struct tnode *t = &w->nodes[id];
		uint64_t epoch = 0, index = 0, h, slot;
		uint8_t *b;
		size_t len;
		void *data;

		if (!t->c || !cluster_is_ready(t->c))
			continue;
		assert_int_equal(cluster_state_save(t->c, &data, &len), 0);
		b = data;
		for (int k = 0; k < 8; k++) {
			epoch = epoch << 8 | b[k];
			index = index << 8 | b[8 + k];
		}
		h = fnv(0xcbf29ce484222325ull, b, len);
		free(data);
		w->checks++;
		slot = (epoch * 0x9e3779b97f4a7c15ull ^ index) % HT_SIZE;
		for (;;) {
			struct ht_ent *e = &w->ht[slot];
			if (!e->used) {
				*e = (struct ht_ent){ epoch, index, h, true };
				break;
			}
			if (e->epoch == epoch && e->index == index) {
				CHECK(e->hash == h, "node %u: state at epoch %"
				      PRIu64 " index %" PRIu64 " differs",
				      id, epoch, index);
				break;
			}
			slot = (slot + 1) % HT_SIZE;
		}
	}
}

static void settle(struct world *w)
{
	while (base_loop_run_ready(w->loop) > 0)
		;
	check_states(w);
}

static void random_partition(struct world *w)
{
	uint32_t label[MAXN], k = 1 + (uint32_t)rnd(w, 3);

	for (uint32_t i = 0; i < w->n; i++)
		label[i] = (uint32_t)rnd(w, k);
	cluster_sim_partition(w->sim, label);
}

static void run_schedule(uint64_t seed, uint32_t steps)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cluster_sim_config sc = { 0 };
	uint32_t id, step, idle;
	bool crashes, calm;

	assert_non_null(w);
	cur_world = w;
	w->seed = seed;
	sc.seed = seed;
	sc.nodes = 3 + (uint32_t)(seed % 3);
	/* room for the largest op; snapshots come in fragments */
	sc.max_msg = 3500 + (seed / 3) % 4096;
	/* flow control now and then: send() pushes back */
	sc.outbox_limit = (seed / 7) % 3 == 0 ? 2 : 0;
	w->n = sc.nodes;
	assert_int_equal(base_loop_create(&w->loop), 0);
	assert_int_equal(cluster_sim_create(&sc, &w->sim), 0);
	for (id = 1; id <= w->n; id++) {
		w->nodes[id].w = w;
		w->nodes[id].id = id;
	}
	for (id = 1; id <= w->n; id++)
		if (id <= w->n / 2 + 1 || rnd(w, 2))
			node_start(w, id);
	crashes = rnd(w, 2);
	calm = seed % 3 == 0;

	for (step = 0; step < steps; step++) {
		uint64_t r = rnd(w, 1000);

		if (r >= 940 && calm && rnd(w, 20))
			r = 0;
		if (r < 600) {
			cluster_sim_step(w->sim);
		} else if (r < 940) {
			op_random(w);
		} else if (r < 955) {
			random_partition(w);
		} else if (r < 975) {
			cluster_sim_merge(w->sim);
		} else if (r < 985 && crashes) {
			id = 1 + (uint32_t)rnd(w, w->n);
			if (w->nodes[id].c) {
				node_stop(w, id);
				w->crashes = true;
			}
		} else {
			id = 1 + (uint32_t)rnd(w, w->n);
			if (!w->nodes[id].c)
				node_start(w, id);
		}
		settle(w);
	}

	/* Heal: everyone up, one component, drain. */
	for (id = 1; id <= w->n; id++)
		if (!w->nodes[id].c)
			node_start(w, id);
	cluster_sim_merge(w->sim);
	for (idle = 0; idle < 5;) {
		bool moved = cluster_sim_step(w->sim);
		if (base_loop_run_ready(w->loop) > 0)
			moved = true;
		check_states(w);
		idle = moved ? 0 : idle + 1;
	}
	{
		void *d1;
		size_t l1;
		assert_int_equal(cluster_state_save(w->nodes[1].c, &d1, &l1),
				 0);
		for (id = 1; id <= w->n; id++) {
			void *d;
			size_t l;
			CHECK(cluster_is_ready(w->nodes[id].c),
			      "node %u not ready after healing", id);
			assert_int_equal(cluster_state_save(w->nodes[id].c, &d,
							    &l), 0);
			CHECK(l == l1 && !memcmp(d, d1, l),
			      "node %u differs from node 1 after healing", id);
			free(d);
		}
		free(d1);
	}
	for (uint32_t i = 0; i < w->nops; i++) {
		struct kop *m = &w->ops[i];
		CHECK(m->calls == 1, "op %u (node %u) completed %d times", i,
		      m->node, m->calls);
		if (m->status == 0 && !w->crashes &&
		    !(m->type == OP_DEL && m->version == 0))
			for (id = 1; id <= w->n; id++)
				check_visible(&w->nodes[id], m, i);
	}

	for (id = 1; id <= w->n; id++)
		if (w->nodes[id].c)
			node_stop(w, id);
	for (uint32_t i = 0; i < w->nops; i++)
		free(w->ops[i].val);
	cluster_sim_destroy(w->sim);
	base_loop_destroy(w->loop);
	if (getenv("SIM_VERBOSE"))
		print_message("seed %" PRIu64 ": %u nodes, %u ops, %" PRIu64
			      " ok, %" PRIu64 " cas mismatches, %" PRIu64
			      " -EAGAIN, %" PRIu64 " watch events, %" PRIu64
			      " checks\n", seed, w->n, w->nops, w->ok,
			      w->cancelled, w->again, w->events, w->checks);
	cur_world = NULL;
	free(w);
}

static void test_sim_kv_random(void **state)
{
	const char *one = getenv("SIM_SEED"), *count = getenv("SIM_SEEDS");
	uint64_t n = count ? strtoull(count, NULL, 0) : 200;

	if (one) {
		run_schedule(strtoull(one, NULL, 0), 2000);
		return;
	}
	for (uint64_t s = 1; s <= n; s++)
		run_schedule(s, 2000);
	print_message("%" PRIu64 " seeded KV schedules passed\n", n);
}

/* A 100 KiB value, then a node joins: it receives the value in the
 * snapshot and its own ops work on top of it (the random schedules cover
 * snapshots cut in fragments).
 *
 *   node 1, node 2: up, set "k0" = 100 KiB      node 3: joins later */
static void test_sim_kv_big_value_join(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cluster_sim_config sc = { .nodes = 3, .seed = 5,
					 .max_msg = 160 * 1024 };
	size_t big = 100 * 1024;
	struct kop *m;
	const void *val;
	size_t len;
	uint64_t ver;

	assert_non_null(w);
	cur_world = w;
	w->seed = 5;
	w->n = 3;
	assert_int_equal(base_loop_create(&w->loop), 0);
	assert_int_equal(cluster_sim_create(&sc, &w->sim), 0);
	for (uint32_t id = 1; id <= 3; id++) {
		w->nodes[id].w = w;
		w->nodes[id].id = id;
	}
	node_start(w, 1);
	node_start(w, 2);
	while (cluster_sim_step(w->sim))
		settle(w);
	settle(w);
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
	while (cluster_sim_step(w->sim) || !m->calls)
		settle(w);
	assert_int_equal(m->status, 0);

	node_start(w, 3);
	while (cluster_sim_step(w->sim))
		settle(w);
	settle(w);
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
	while (cluster_sim_step(w->sim) || !m->calls)
		settle(w);
	assert_int_equal(m->status, 0);
	for (uint32_t id = 1; id <= 3; id++)
		check_visible(&w->nodes[id], m, 1);

	for (uint32_t id = 1; id <= 3; id++)
		node_stop(w, id);
	for (uint32_t i = 0; i < w->nops; i++)
		free(w->ops[i].val);
	cluster_sim_destroy(w->sim);
	base_loop_destroy(w->loop);
	cur_world = NULL;
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sim_kv_big_value_join),
		cmocka_unit_test(test_sim_kv_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
