/*
 * The sim backend (see cluster_sim.h for the model): outboxes, delivery
 * queues, component labels and views, stepped by the test. One job: be a
 * correct, deterministic ordered bus with virtual synchrony and
 * partitions. It knows nothing of the protocol on top of it.
 */
#include "cluster/cluster_sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "cluster/cluster_bus.h"

#define SIM_NODES_MAX 32
#define SIM_MAX_MSG_DEFAULT (1024u * 1024u)

struct sim_ev {
	struct list_head link;
	bool is_view;
	uint32_t from;
	size_t len;
	uint8_t data[]; /* message bytes, or a struct cluster_view */
};

struct sim_bus;

struct sim_node {
	struct cluster_sim *s;
	uint32_t id;
	struct sim_bus *bus;   /* NULL: no node process */
	bool up;               /* started, not stopped */
	uint32_t label;
	uint64_t view_mask;    /* members of the last view queued to it */
	struct list_head outbox;
	uint32_t outbox_len;
	struct list_head queue;
	uint32_t queue_len;
	bool want_writable;
	struct cluster_bus_upcalls up_calls;
};

struct sim_bus {
	struct cluster_bus bus;
	struct sim_node *n;
};

struct cluster_sim {
	struct cluster_sim_config cfg;
	uint64_t rng;
	uint64_t ring;
	struct sim_node nodes[SIM_NODES_MAX + 1]; /* by id; [0] unused */
};

uint64_t cluster_sim_rand(struct cluster_sim *s)
{
	/* splitmix64: small, good enough, the same everywhere */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void sim_list_free(struct list_head *h)
{
	while (!list_empty(h)) {
		struct sim_ev *e = list_first_entry(h, struct sim_ev, link);

		list_del(&e->link);
		free(e);
	}
}

static uint64_t sim_component_mask(struct cluster_sim *s, uint32_t label)
{
	uint64_t mask = 0;
	uint32_t id;

	for (id = 1; id <= s->cfg.nodes; id++)
		if (s->nodes[id].up && s->nodes[id].label == label)
			mask |= 1ull << id;
	return mask;
}

static int sim_view_queue(struct cluster_sim *s, struct sim_node *n,
			  uint64_t mask, uint64_t ring)
{
	struct sim_ev *e = calloc(1, sizeof(*e) + sizeof(struct cluster_view));
	struct cluster_view *v;
	uint32_t id;

	if (!e)
		return -ENOMEM;
	e->is_view = true;
	e->len = sizeof(*v);
	v = (struct cluster_view *)(void *)e->data;
	v->ring_id = ring;
	v->local_id = n->id;
	for (id = 1; id <= s->cfg.nodes; id++) {
		if (!(mask & (1ull << id)))
			continue;
		v->members[v->count].id = id;
		snprintf(v->members[v->count].name,
			 sizeof(v->members[v->count].name), "node%u", id);
		v->count++;
	}
	v->quorate = v->count * 2 > s->cfg.nodes;
	list_add_tail(&n->queue, &e->link);
	n->queue_len++;
	return 0;
}

/* Gives every component whose members changed a new view, queued to all
 * its members at once (one ring id per component). */
static void sim_views_update(struct cluster_sim *s)
{
	uint32_t id, m;

	for (id = 1; id <= s->cfg.nodes; id++) {
		struct sim_node *n = &s->nodes[id];
		uint64_t mask, ring;

		if (!n->up)
			continue;
		mask = sim_component_mask(s, n->label);
		if (mask == n->view_mask)
			continue;
		ring = ++s->ring;
		for (m = 1; m <= s->cfg.nodes; m++) {
			struct sim_node *o = &s->nodes[m];

			if (!o->up || o->label != n->label)
				continue;
			if (sim_view_queue(s, o, mask, ring) == 0)
				o->view_mask = mask;
		}
	}
}

/* ---------------------------------------------------------- bus ops */

static int sim_bus_start(struct cluster_bus *bus, struct base_loop *loop,
			 const char *group, const struct cluster_bus_upcalls *up)
{
	struct sim_node *n = ((struct sim_bus *)bus->priv)->n;

	n->up_calls = *up;
	n->up = true;
	n->view_mask = 0;
	sim_views_update(n->s);
	return 0;
}

static int sim_bus_send(struct cluster_bus *bus, const struct iovec *iov,
			int iovcnt)
{
	struct sim_node *n = ((struct sim_bus *)bus->priv)->n;
	struct cluster_sim *s = n->s;
	size_t len = 0, off = 0;
	struct sim_ev *e;
	int i;

	if (!n->up)
		return -ENOTCONN;
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > (s->cfg.max_msg ? s->cfg.max_msg : SIM_MAX_MSG_DEFAULT))
		return -EMSGSIZE;
	if (s->cfg.outbox_limit && n->outbox_len >= s->cfg.outbox_limit) {
		n->want_writable = true;
		return -EAGAIN;
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->is_view = false;
	e->from = n->id;
	e->len = len;
	for (i = 0; i < iovcnt; i++) {
		memcpy(e->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	list_add_tail(&n->outbox, &e->link);
	n->outbox_len++;
	return 0;
}

static size_t sim_bus_max_msg(struct cluster_bus *bus)
{
	struct sim_node *n = ((struct sim_bus *)bus->priv)->n;

	return n->s->cfg.max_msg ? n->s->cfg.max_msg : SIM_MAX_MSG_DEFAULT;
}

static void sim_bus_stop(struct cluster_bus *bus)
{
	struct sim_node *n = ((struct sim_bus *)bus->priv)->n;

	if (!n->up)
		return;
	n->up = false;
	n->view_mask = 0;
	n->want_writable = false;
	sim_list_free(&n->outbox);
	sim_list_free(&n->queue);
	n->outbox_len = n->queue_len = 0;
	sim_views_update(n->s);
}

static void sim_bus_destroy(struct cluster_bus *bus)
{
	struct sim_bus *b = bus->priv;

	sim_bus_stop(bus);
	b->n->bus = NULL;
	free(b);
}

static const struct cluster_bus_ops sim_bus_ops = {
	.name = "sim",
	.start = sim_bus_start,
	.send = sim_bus_send,
	.max_msg = sim_bus_max_msg,
	.stop = sim_bus_stop,
	.destroy = sim_bus_destroy,
};

/* -------------------------------------------------------------- world */

int cluster_sim_create(const struct cluster_sim_config *cfg,
		       struct cluster_sim **out)
{
	struct cluster_sim *s;
	uint32_t id;

	if (!cfg->nodes || cfg->nodes > SIM_NODES_MAX)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->rng = cfg->seed;
	for (id = 0; id <= SIM_NODES_MAX; id++) {
		s->nodes[id].s = s;
		s->nodes[id].id = id;
		list_init(&s->nodes[id].outbox);
		list_init(&s->nodes[id].queue);
	}
	*out = s;
	return 0;
}

void cluster_sim_destroy(struct cluster_sim *s)
{
	uint32_t id;

	if (!s)
		return;
	for (id = 1; id <= s->cfg.nodes; id++) {
		sim_list_free(&s->nodes[id].outbox);
		sim_list_free(&s->nodes[id].queue);
		if (s->nodes[id].bus)
			s->nodes[id].bus->n = NULL; /* leaked by the test */
	}
	free(s);
}

int cluster_sim_bus_create(struct cluster_sim *s, uint32_t id,
			   struct cluster_bus **out)
{
	struct sim_bus *b;

	if (id < 1 || id > s->cfg.nodes)
		return -EINVAL;
	if (s->nodes[id].bus)
		return -EBUSY;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->bus.ops = &sim_bus_ops;
	b->bus.priv = b;
	b->n = &s->nodes[id];
	s->nodes[id].bus = b;
	*out = &b->bus;
	return 0;
}

void cluster_sim_partition(struct cluster_sim *s, const uint32_t *label)
{
	uint32_t id;

	for (id = 1; id <= s->cfg.nodes; id++)
		s->nodes[id].label = label[id - 1];
	sim_views_update(s);
}

void cluster_sim_merge(struct cluster_sim *s)
{
	uint32_t id;

	for (id = 1; id <= s->cfg.nodes; id++)
		s->nodes[id].label = 0;
	sim_views_update(s);
}

bool cluster_sim_node_up(const struct cluster_sim *s, uint32_t id)
{
	return id >= 1 && id <= s->cfg.nodes && s->nodes[id].up;
}

uint32_t cluster_sim_backlog(const struct cluster_sim *s, uint32_t id)
{
	if (!cluster_sim_node_up(s, id))
		return 0;
	return s->nodes[id].outbox_len + s->nodes[id].queue_len;
}

uint32_t cluster_sim_queued(const struct cluster_sim *s, uint32_t id)
{
	if (!cluster_sim_node_up(s, id))
		return 0;
	return s->nodes[id].queue_len;
}

bool cluster_sim_sequence(struct cluster_sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	struct sim_ev *e;
	uint32_t m;

	if (!cluster_sim_node_up(s, id) || list_empty(&n->outbox))
		return false;
	e = list_first_entry(&n->outbox, struct sim_ev, link);
	list_del(&e->link);
	n->outbox_len--;
	for (m = 1; m <= s->cfg.nodes; m++) {
		struct sim_node *o = &s->nodes[m];
		struct sim_ev *c;

		if (!o->up || o->label != n->label)
			continue;
		c = malloc(sizeof(*c) + e->len);
		if (!c)
			continue; /* tests run with memory */
		memcpy(c, e, sizeof(*c) + e->len);
		list_add_tail(&o->queue, &c->link);
		o->queue_len++;
	}
	free(e);
	if (n->want_writable) {
		n->want_writable = false;
		n->up_calls.writable(n->up_calls.arg);
	}
	return true;
}

bool cluster_sim_deliver(struct cluster_sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	struct sim_ev *e;

	if (!cluster_sim_node_up(s, id) || list_empty(&n->queue))
		return false;
	e = list_first_entry(&n->queue, struct sim_ev, link);
	list_del(&e->link);
	n->queue_len--;
	if (e->is_view)
		n->up_calls.view(n->up_calls.arg,
				 (const struct cluster_view *)(void *)e->data);
	else
		n->up_calls.deliver(n->up_calls.arg, e->from, e->data, e->len);
	free(e);
	return true;
}

bool cluster_sim_step(struct cluster_sim *s)
{
	uint32_t cand[2 * SIM_NODES_MAX], ncand = 0, id, pick;

	for (id = 1; id <= s->cfg.nodes; id++) {
		struct sim_node *n = &s->nodes[id];

		if (!n->up)
			continue;
		if (!list_empty(&n->outbox))
			cand[ncand++] = id;            /* sequence */
		if (!list_empty(&n->queue))
			cand[ncand++] = id | 0x80000000u; /* deliver */
	}
	if (!ncand)
		return false;
	pick = cand[cluster_sim_rand(s) % ncand];
	if (pick & 0x80000000u)
		return cluster_sim_deliver(s, pick & 0x7fffffffu);
	return cluster_sim_sequence(s, pick);
}
