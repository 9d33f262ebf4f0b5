/*
 * The simulation tests' shared world: setup and teardown, the state
 * comparison across nodes, the random schedule driver and the seed loop
 * (see sim_util.h). What a node is and what else holds is the tests'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/loop.h"
#include "sim_util.h"

struct sim_world *sim_cur;

uint64_t sim_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t sim_rand(struct sim_world *sw, uint64_t n)
{
	return cluster_sim_rand(sw->sim) % n;
}

void sim_world_init(struct sim_world *sw, const char *name,
		    const struct sim_ops *ops,
		    const struct cluster_sim_config *sc)
{
	assert_true(sc->nodes <= SIM_MAXN);
	sim_cur = sw;
	sw->name = name;
	sw->ops = ops;
	sw->seed = sc->seed;
	sw->n = sc->nodes;
	assert_int_equal(base_loop_create(&sw->loop), 0);
	assert_int_equal(cluster_sim_create(sc, &sw->sim), 0);
}

void sim_world_fini(struct sim_world *sw)
{
	for (uint32_t id = 1; id <= sw->n; id++)
		if (sw->ops->node_cluster(sw, id))
			sw->ops->node_stop(sw, id);
	cluster_sim_destroy(sw->sim);
	base_loop_destroy(sw->loop);
	sim_cur = NULL;
}

void *sim_state_check(struct sim_world *sw, uint32_t id, size_t *len)
{
	uint64_t epoch = 0, index = 0, h, slot;
	void *data;
	uint8_t *b;

	assert_int_equal(cluster_state_save(sw->ops->node_cluster(sw, id),
					    &data, len), 0);
	b = data;
	for (int k = 0; k < 8; k++) {
		epoch = epoch << 8 | b[k];
		index = index << 8 | b[8 + k];
	}
	h = sim_fnv(0xcbf29ce484222325ull, b, *len);
	sw->checks++;
	slot = (epoch * 0x9e3779b97f4a7c15ull ^ index) % SIM_HT_SIZE;
	for (;;) {
		struct sim_state_ent *e = &sw->ht[slot];

		if (!e->used) {
			*e = (struct sim_state_ent){ epoch, index, h, true };
			break;
		}
		if (e->epoch == epoch && e->index == index) {
			SIM_CHECK(e->hash == h, "node %u: state at epoch %"
				  PRIu64 " index %" PRIu64 " differs", id,
				  epoch, index);
			break;
		}
		slot = (slot + 1) % SIM_HT_SIZE;
	}
	return data;
}

void sim_check_states(struct sim_world *sw)
{
	for (uint32_t id = 1; id <= sw->n; id++) {
		struct cluster *c = sw->ops->node_cluster(sw, id);
		size_t len;

		if (c && cluster_is_ready(c))
			free(sim_state_check(sw, id, &len));
	}
}

void sim_settle(struct sim_world *sw)
{
	while (base_loop_run_ready(sw->loop) > 0)
		;
	sw->ops->check(sw);
}

void sim_random_partition(struct sim_world *sw)
{
	uint32_t k = 1 + (uint32_t)sim_rand(sw, 3);

	for (uint32_t i = 0; i < sw->n; i++)
		sw->label[i] = (uint32_t)sim_rand(sw, k);
	cluster_sim_partition(sw->sim, sw->label);
	if (sw->ops->membership)
		sw->ops->membership(sw);
}

void sim_merge(struct sim_world *sw)
{
	memset(sw->label, 0, sizeof(sw->label));
	cluster_sim_merge(sw->sim);
	if (sw->ops->membership)
		sw->ops->membership(sw);
}

void sim_schedule_run(struct sim_world *sw, const struct sim_schedule *s,
		      uint32_t steps)
{
	const struct sim_ops *ops = sw->ops;
	bool crashes, calm;
	uint32_t id;

	/* Some nodes start late: joins in the middle of traffic. */
	for (id = 1; id <= sw->n; id++)
		if (id <= sw->n / 2 + 1 || sim_rand(sw, 2))
			ops->node_start(sw, id);
	crashes = sim_rand(sw, 2);
	calm = sw->seed % 3 == 0;

	for (uint32_t step = 0; step < steps; step++) {
		uint64_t r = sim_rand(sw, 1000);

		/* Calm schedules: long runs of traffic between membership
		 * changes. */
		if (calm && r >= s->extra && sim_rand(sw, s->calm_odds))
			r = 0;
		if (r < s->step) {
			cluster_sim_step(sw->sim);
		} else if (r < s->traffic) {
			ops->traffic(sw);
		} else if (r < s->extra) {
			ops->extra(sw);
		} else if (r < s->partition) {
			sim_random_partition(sw);
		} else if (r < s->merge) {
			sim_merge(sw);
		} else if (r < s->crash && crashes) {
			id = 1 + (uint32_t)sim_rand(sw, sw->n);
			if (ops->node_cluster(sw, id)) {
				ops->node_stop(sw, id);
				sw->crashes = true;
			}
		} else {
			id = 1 + (uint32_t)sim_rand(sw, sw->n);
			if (!ops->node_cluster(sw, id))
				ops->node_start(sw, id);
		}
		sim_settle(sw);
	}
}

void sim_heal(struct sim_world *sw)
{
	for (uint32_t id = 1; id <= sw->n; id++)
		if (!sw->ops->node_cluster(sw, id))
			sw->ops->node_start(sw, id);
	sim_merge(sw);
}

void sim_check_converged(struct sim_world *sw)
{
	void *d1;
	size_t l1;

	assert_int_equal(cluster_state_save(sw->ops->node_cluster(sw, 1), &d1,
					    &l1), 0);
	for (uint32_t id = 1; id <= sw->n; id++) {
		struct cluster *c = sw->ops->node_cluster(sw, id);
		void *d;
		size_t l;

		SIM_CHECK(cluster_is_ready(c),
			  "node %u not ready after healing", id);
		assert_int_equal(cluster_state_save(c, &d, &l), 0);
		SIM_CHECK(l == l1 && !memcmp(d, d1, l),
			  "node %u differs from node 1 after healing", id);
		free(d);
	}
	free(d1);
}

uint64_t sim_seeds_run(void (*run)(uint64_t seed, uint32_t steps),
		       uint64_t seeds, uint32_t steps)
{
	const char *one = getenv("SIM_SEED"), *count = getenv("SIM_SEEDS");
	uint64_t n = count ? strtoull(count, NULL, 0) : seeds;

	if (one) {
		run(strtoull(one, NULL, 0), steps);
		return 0;
	}
	for (uint64_t s = 1; s <= n; s++)
		run(s, steps);
	return n;
}
