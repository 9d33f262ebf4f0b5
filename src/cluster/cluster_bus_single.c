/*
 * The single backend: an ordered bus with one member (node id 1, named
 * after the host), always quorate. Total order and virtual synchrony are
 * trivial with one member; what this file does keep from a real bus is
 * asynchrony: a message sent is delivered later, from a deferral on the
 * loop, never inside send(), so the protocol engine runs the same code
 * paths as on corosync.
 *
 * Deliberately NOT here: any notion of other nodes, persistence, flow
 * control (send never returns -EAGAIN).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/list.h"
#include "base/loop.h"
#include "cluster/cluster_bus.h"

#define CLUSTER_SINGLE_ID 1u
#define CLUSTER_SINGLE_MAX_MSG (1024u * 1024u)

struct cluster_single_msg {
	struct list_head link;
	size_t len;
	uint8_t data[];
};

struct cluster_single {
	struct cluster_bus bus;
	struct base_loop *loop;
	struct cluster_bus_upcalls up;
	struct base_defer defer;
	bool started;
	bool view_sent;
	struct list_head queue;
};

static void cluster_single_run(struct base_defer *d)
{
	struct cluster_single *s = container_of(d, struct cluster_single,
						defer);
	struct list_head batch;

	if (!s->view_sent) {
		struct cluster_view v;

		memset(&v, 0, sizeof(v));
		v.ring_id = 1;
		v.local_id = CLUSTER_SINGLE_ID;
		v.quorate = true;
		v.count = 1;
		v.members[0].id = CLUSTER_SINGLE_ID;
		if (gethostname(v.members[0].name,
				sizeof(v.members[0].name) - 1) < 0)
			v.members[0].name[0] = '\0';
		s->view_sent = true;
		s->up.view(s->up.arg, &v);
		if (!s->started)
			return;
	}
	/* Deliver what was sent before this run; what the deliveries send
	 * goes to the next run (a batch per loop turn, as a real bus). */
	list_init(&batch);
	if (!list_empty(&s->queue)) {
		batch.next = s->queue.next;
		batch.prev = s->queue.prev;
		batch.next->prev = &batch;
		batch.prev->next = &batch;
		list_init(&s->queue);
	}
	while (!list_empty(&batch)) {
		struct cluster_single_msg *m = list_first_entry(
			&batch, struct cluster_single_msg, link);

		list_del(&m->link);
		if (s->started)
			s->up.deliver(s->up.arg, CLUSTER_SINGLE_ID, m->data,
				      m->len);
		free(m);
	}
}

static int cluster_single_start(struct cluster_bus *bus,
				struct base_loop *loop, const char *group,
				const struct cluster_bus_upcalls *up)
{
	struct cluster_single *s = bus->priv;

	s->loop = loop;
	s->up = *up;
	s->started = true;
	base_defer(loop, &s->defer);
	return 0;
}

static int cluster_single_send(struct cluster_bus *bus,
			       const struct iovec *iov, int iovcnt)
{
	struct cluster_single *s = bus->priv;
	struct cluster_single_msg *m;
	size_t len = 0, off = 0;
	int i;

	if (!s->started)
		return -ENOTCONN;
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > CLUSTER_SINGLE_MAX_MSG)
		return -EMSGSIZE;
	m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	for (i = 0; i < iovcnt; i++) {
		memcpy(m->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	m->len = len;
	list_add_tail(&s->queue, &m->link);
	base_defer(s->loop, &s->defer);
	return 0;
}

static size_t cluster_single_max_msg(struct cluster_bus *bus)
{
	return CLUSTER_SINGLE_MAX_MSG;
}

static void cluster_single_stop(struct cluster_bus *bus)
{
	struct cluster_single *s = bus->priv;

	/* The run in progress (if stop comes from an upcall) sees
	 * started == false and delivers nothing more. */
	s->started = false;
	if (s->loop)
		base_defer_cancel(s->loop, &s->defer);
	while (!list_empty(&s->queue)) {
		struct cluster_single_msg *m = list_first_entry(
			&s->queue, struct cluster_single_msg, link);

		list_del(&m->link);
		free(m);
	}
}

static void cluster_single_destroy(struct cluster_bus *bus)
{
	struct cluster_single *s = bus->priv;

	cluster_single_stop(bus);
	free(s);
}

static const struct cluster_bus_ops cluster_single_ops = {
	.name = "single",
	.start = cluster_single_start,
	.send = cluster_single_send,
	.max_msg = cluster_single_max_msg,
	.stop = cluster_single_stop,
	.destroy = cluster_single_destroy,
};

int cluster_bus_single_create(struct cluster_bus **out)
{
	struct cluster_single *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->bus.ops = &cluster_single_ops;
	s->bus.priv = s;
	base_defer_init(&s->defer, cluster_single_run);
	list_init(&s->queue);
	*out = &s->bus;
	return 0;
}
