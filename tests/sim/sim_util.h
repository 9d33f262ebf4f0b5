/*
 * What the simulation tests share: a world of N cluster nodes in one
 * process (one base_loop, one sim bus), the seeded random schedule that
 * drives it (bus steps, traffic, partitions, merges, crashes, restarts),
 * the check that two ready nodes at the same (epoch, commit index) hold
 * byte-identical state, and the SIM_SEED / SIM_SEEDS handling.
 *
 * Each test embeds a struct sim_world in its own world and says, through
 * struct sim_ops, how its nodes start and stop, what its traffic is and
 * what else it checks. It does not know what a node holds: the tests keep
 * their node types, oracles and scripted cases. Include it after
 * <cmocka.h> (SIM_CHECK reports through cmocka).
 */
#ifndef CTGT_TESTS_SIM_UTIL_H
#define CTGT_TESTS_SIM_UTIL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "cluster/cluster_sim.h"

#define SIM_MAXN 5
#define SIM_HT_SIZE 8192

struct sim_world;

struct sim_ops {
	/* node id up (it has a cluster) or down */
	struct cluster *(*node_cluster)(struct sim_world *sw, uint32_t id);
	void (*node_start)(struct sim_world *sw, uint32_t id);
	void (*node_stop)(struct sim_world *sw, uint32_t id);
	/* one unit of the test's traffic, and an optional second kind */
	void (*traffic)(struct sim_world *sw);
	void (*extra)(struct sim_world *sw);
	/* after every partition and merge (optional) */
	void (*membership)(struct sim_world *sw);
	/* after every step: sim_check_states and the test's own checks */
	void (*check)(struct sim_world *sw);
};

/* The bands of a random schedule: each step draws r in [0, 1000) and
 * does the first that holds:
 *   r < step: one bus event; r < traffic: ops->traffic; r < extra:
 *   ops->extra; r < partition: a random partition; r < merge: a merge;
 *   r < crash (in schedules with crashes): close a random node;
 *   otherwise restart a random node if it is down.
 * A calm schedule (seed % 3 == 0) keeps a membership draw (r >= extra)
 * only one time in calm_odds and makes the others bus steps. */
struct sim_schedule {
	uint32_t step, traffic, extra, partition, merge, crash;
	uint32_t calm_odds;
};

struct sim_state_ent {
	uint64_t epoch, index, hash;
	bool used;
};

struct sim_world {
	const char *name;            /* for failure messages */
	const struct sim_ops *ops;
	uint64_t seed;
	struct base_loop *loop;
	struct cluster_sim *sim;
	uint32_t n;
	uint32_t label[SIM_MAXN];    /* the components of the last partition */
	bool crashes;                /* a node was closed by the schedule */
	uint64_t checks;
	struct sim_state_ent ht[SIM_HT_SIZE];
};

/* The world under test, for SIM_CHECK and callbacks without context. */
extern struct sim_world *sim_cur;

#define SIM_CHECK(cond, ...)                                               \
	do {                                                               \
		if (!(cond)) {                                             \
			print_error("%s: seed %" PRIu64 ": ", sim_cur->name, \
				    sim_cur->seed);                        \
			print_error(__VA_ARGS__);                          \
			print_error(" [%s:%d: %s]\n", __FILE__, __LINE__,  \
				    #cond);                                \
			fail();                                            \
		}                                                          \
	} while (0)

uint64_t sim_fnv(uint64_t h, const void *p, size_t len);
uint64_t sim_rand(struct sim_world *sw, uint64_t n);

/* Creates the loop and the sim bus (sc->nodes nodes, none started) and
 * makes sw the world under test. */
void sim_world_init(struct sim_world *sw, const char *name,
		    const struct sim_ops *ops,
		    const struct cluster_sim_config *sc);
/* Stops the nodes still up, destroys the bus and the loop. */
void sim_world_fini(struct sim_world *sw);

/* Saves node id's state and checks it against what any node held at the
 * same (epoch, commit index); returns the blob (the caller frees it). */
void *sim_state_check(struct sim_world *sw, uint32_t id, size_t *len);
/* sim_state_check on every ready node, the blobs dropped. */
void sim_check_states(struct sim_world *sw);

/* Runs the loop's ready work, then ops->check. */
void sim_settle(struct sim_world *sw);
void sim_random_partition(struct sim_world *sw);
void sim_merge(struct sim_world *sw);

/* Starts the first majority and some of the others, then runs `steps`
 * random steps of the schedule, settling after each. */
void sim_schedule_run(struct sim_world *sw, const struct sim_schedule *s,
		      uint32_t steps);
/* Heal: every node up, one component. */
void sim_heal(struct sim_world *sw);
/* Every node is ready and holds the same state as node 1. */
void sim_check_converged(struct sim_world *sw);

/* SIM_SEED=<seed>: run(seed, steps) once and return 0; otherwise run
 * seeds 1..SIM_SEEDS (default `seeds`) and return how many ran. */
uint64_t sim_seeds_run(void (*run)(uint64_t seed, uint32_t steps),
		       uint64_t seeds, uint32_t steps);

#endif
