/*
 * The sim backend: an in-process fake ordered bus for N nodes, for tests
 * (tests/sim). Deterministic from a seed; nothing moves unless the test
 * steps it, one event at a time, so invariants can be checked after every
 * single delivery.
 *
 * Model (what corosync CPG gives, made explicit):
 *   - each node has an outbox (sent, not yet ordered) and a delivery
 *     queue (ordered, not yet delivered);
 *   - "sequence" takes the head of a node's outbox and appends it to the
 *     delivery queue of every member of the node's current component at
 *     once: that is the total order, and since a view change is appended
 *     to all members' queues the same way, virtual synchrony holds (the
 *     members that go from view V to V' together deliver the same
 *     messages in V);
 *   - a message sent in one view may be ordered in a later one (it waits
 *     in the outbox across view changes, as on a real ring);
 *   - components: each node carries a component label; the up nodes with
 *     one label form one component with its own views and order; quorate
 *     = more than half of the configured N. Partitions and merges relabel;
 *     a node that starts (cluster_open) joins the component of its label;
 *     a node that stops (cluster_close: a crash, as far as the others can
 *     tell) leaves, and its outbox and queue are lost.
 *
 * Node ids are 1..N. Deliberately NOT here: timing (steps are the clock),
 * message loss inside a component (the bus is reliable), byzantine nodes.
 */
#ifndef CTGT_CLUSTER_SIM_H
#define CTGT_CLUSTER_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_bus;
struct cluster_sim;

struct cluster_sim_config {
	uint32_t nodes;        /* configured N (ids 1..N), <= 32 */
	uint64_t seed;
	size_t max_msg;        /* bus max_msg; 0: 1 MiB */
	uint32_t outbox_limit; /* send() -EAGAIN beyond this; 0: no limit */
};

int cluster_sim_create(const struct cluster_sim_config *cfg,
		       struct cluster_sim **out);
/* Every node's bus must be destroyed (cluster_close) first. */
void cluster_sim_destroy(struct cluster_sim *s);

/* A bus for node id, for cluster_config.bus (CLUSTER_BACKEND_SIM). The
 * node is up from the bus's start until its stop; cluster_close()
 * destroys the bus. -EBUSY if node id has a bus already. */
int cluster_sim_bus_create(struct cluster_sim *s, uint32_t id,
			   struct cluster_bus **out);

/* Relabels the nodes: label[i] is node i+1's component (down nodes keep
 * it for when they start). Every component whose members change gets a
 * new view. */
void cluster_sim_partition(struct cluster_sim *s, const uint32_t *label);
/* Every node in component 0. */
void cluster_sim_merge(struct cluster_sim *s);

/* One step chosen at random (seeded) among the possible ones: order the
 * head of some outbox, or deliver the head of some queue. Returns false
 * when there is nothing to do. */
bool cluster_sim_step(struct cluster_sim *s);
/* Scripted steps: false if there was nothing to do. */
bool cluster_sim_sequence(struct cluster_sim *s, uint32_t id);
bool cluster_sim_deliver(struct cluster_sim *s, uint32_t id);
/* Whether node id is up (has a started bus). */
bool cluster_sim_node_up(const struct cluster_sim *s, uint32_t id);
/* Events waiting in node id's outbox and queue. */
uint32_t cluster_sim_backlog(const struct cluster_sim *s, uint32_t id);
/* Events ordered for node id and not yet delivered to it (0: it has
 * caught up with everything its components ordered). */
uint32_t cluster_sim_queued(const struct cluster_sim *s, uint32_t id);

/* The sim's seeded generator, for the test's own choices. */
uint64_t cluster_sim_rand(struct cluster_sim *s);

#endif
