/*
 * The cluster service's protocol engine: ordered commit with acks,
 * quorum, channels, views, and the opening of a backend.
 * docs/cluster-protocol.md is the long form; in short:
 *
 *   - DATA messages are applied in delivery order by every member of an
 *     active (quorate, synced) view; each gets the next commit index.
 *   - members ack cumulatively (one ACK per loop turn, and only when a
 *     message of another node was applied: submitters are the only ones
 *     who wait on acks); a submitter completes when every other member
 *     of the delivery view has acked and its own apply is done. A view
 *     change in between defers the answer to the next activation, which
 *     decides it from the state's lineage.
 *   - on a view change every member buffers DATA and runs a sync round
 *     (cluster_sync.c): ANNOUNCE, the source's SNAPSHOT for members
 *     behind, LOADED; the view activates when every member holds the
 *     round's state.
 *
 * Deliberately NOT here: the wire layout (cluster_msg.c), the sync round
 * (cluster_sync.c), notify (cluster_notify.c), transports
 * (cluster_bus_*.c, cluster_sim.c), and the KV store and lock manager
 * (cluster_kv*.c, cluster_lock*.c: channels like any other user).
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster_bus.h"
#include "cluster/cluster_internal.h"
#include "cluster/cluster_msg.h"
#include "cluster/cluster_services.h"

/* ------------------------------------------------------------- helpers */

static struct cluster_peer *cluster_peer_find(struct cluster *c, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < c->view.count; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	return NULL;
}

bool cluster_view_has(const struct cluster_view *v, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < v->count; i++)
		if (v->members[i].id == id)
			return true;
	return false;
}

/* FNV-1a over the ring id and the member ids: equal at every member of
 * one view, different for views with other members or another ring. */
static uint64_t cluster_view_tag(const struct cluster_view *v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t b[8];
	uint32_t i, k;

	cluster_put_u64(b, v->ring_id);
	for (k = 0; k < 8; k++)
		h = (h ^ b[k]) * 0x100000001b3ull;
	for (i = 0; i < v->count; i++) {
		cluster_put_u32(b, v->members[i].id);
		for (k = 0; k < 4; k++)
			h = (h ^ b[k]) * 0x100000001b3ull;
	}
	return h ? h : 1;
}

void cluster_flush_schedule(struct cluster *c)
{
	if (!c->closing)
		base_defer(c->loop, &c->flush_defer);
}

/* The highest index such that every apply up to it is finished. */
static uint64_t cluster_local_done(const struct cluster *c)
{
	const struct cluster_apply *a;

	if (list_empty(&c->applies))
		return c->index;
	a = list_first_entry(&c->applies, struct cluster_apply, link);
	return a->index - 1;
}

bool cluster_is_ready(const struct cluster *c)
{
	return !c->closing && !c->fatal && c->view.quorate &&
	       c->sync == CLUSTER_SYNC_DONE;
}

static void cluster_ready_update(struct cluster *c)
{
	bool r = cluster_is_ready(c);

	if (r == c->ready)
		return;
	c->ready = r;
	/* users log readiness in their own terms (cluster_events) */
	LOG_DEBUG("cluster: node %u %s (epoch %llu, index %llu)",
		 c->view.local_id, r ? "ready" : "not ready",
		 (unsigned long long)c->state_epoch,
		 (unsigned long long)c->index);
	/* Out of the quorate view, waiting lock requests fail; back in,
	 * the lock manager gives back what nobody stands behind. */
	cluster_locks_ready(c->locks, r);
	if (c->ev.ready && !c->closing)
		c->ev.ready(c->ev.arg, r);
}

/* ----------------------------------------------------------- sending */

struct cluster_outmsg {
	struct list_head link;
	size_t len;
	uint8_t data[];
};

/* Sends now, or queues behind what is already queued (order kept) when
 * the bus pushes back. Returns 0 or a -errno from the bus other than
 * -EAGAIN. */
int cluster_send(struct cluster *c, const struct iovec *iov, int iovcnt)
{
	struct cluster_outmsg *o;
	size_t len = 0, off = 0;
	int i, r;

	if (list_empty(&c->outq)) {
		r = c->bus->ops->send(c->bus, iov, iovcnt);
		if (r != -EAGAIN)
			return r;
	}
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	for (i = 0; i < iovcnt; i++) {
		memcpy(o->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	o->len = len;
	list_add_tail(&c->outq, &o->link);
	c->stats.send_queued++;
	return 0;
}

static void cluster_outq_drain(struct cluster *c)
{
	while (!list_empty(&c->outq)) {
		struct cluster_outmsg *o =
			list_first_entry(&c->outq, struct cluster_outmsg, link);
		struct iovec iov = { o->data, o->len };
		int r = c->bus->ops->send(c->bus, &iov, 1);

		if (r == -EAGAIN)
			return;
		if (r)
			LOG_ERR("cluster: send of a queued message failed: %s",
				strerror(-r));
		list_del(&o->link);
		free(o);
	}
}

static void cluster_bus_writable(void *arg)
{
	cluster_outq_drain(arg);
}

/* ---------------------------------------------------------- channels */

struct cluster_channel *cluster_channel_find(struct cluster *c, uint16_t id)
{
	struct cluster_channel *ch;

	list_for_each_entry(ch, &c->channels, link)
		if (ch->ops.id == id)
			return ch;
	return NULL;
}

int cluster_channel_open(struct cluster *c,
			 const struct cluster_channel_ops *ops, void *arg,
			 struct cluster_channel **out)
{
	struct cluster_channel *ch, *pos;

	if (!ops || !ops->apply || !ops->save || !ops->load)
		return -EINVAL;
	if (cluster_channel_find(c, ops->id))
		return -EEXIST;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->c = c;
	ch->ops = *ops;
	ch->arg = arg;
	/* Kept sorted by id: state bytes and snapshots list channels in
	 * id order on every node. */
	list_for_each_entry(pos, &c->channels, link)
		if (pos->ops.id > ops->id)
			break;
	list_insert(&ch->link, pos->link.prev, &pos->link);
	*out = ch;
	return 0;
}

void cluster_channel_close(struct cluster_channel *ch)
{
	if (!ch)
		return;
	list_del(&ch->link);
	free(ch);
}

/* ------------------------------------------------------------ applies */

static struct cluster_apply *cluster_apply_get(struct cluster *c)
{
	struct cluster_apply *a;

	if (!list_empty(&c->apply_free)) {
		a = list_first_entry(&c->apply_free, struct cluster_apply,
				     link);
		list_del(&a->link);
	} else {
		a = malloc(sizeof(*a));
		if (!a)
			return NULL;
		list_init(&a->link);
	}
	a->c = c;
	a->index = 0;
	a->done = false;
	a->tracked = false;
	return a;
}

static void cluster_apply_put(struct cluster *c, struct cluster_apply *a)
{
	list_add_head(&c->apply_free, &a->link);
}

void cluster_apply_done(struct cluster_apply *a)
{
	struct cluster *c;

	if (!a)
		return;
	c = a->c;
	a->done = true;
	if (!a->tracked) {
		/* Orphaned by a state load: nobody waits on it. */
		list_del(&a->link);
		cluster_apply_put(c, a);
		return;
	}
	while (!list_empty(&c->applies)) {
		struct cluster_apply *h = list_first_entry(
			&c->applies, struct cluster_apply, link);

		if (!h->done)
			break;
		list_del(&h->link);
		cluster_apply_put(c, h);
	}
	cluster_flush_schedule(c);
}

/* Forgets the pending applies of a state that is being replaced: their
 * acks mean nothing in the loaded state. */
void cluster_applies_orphan(struct cluster *c)
{
	struct cluster_apply *a, *tmp;

	list_for_each_entry_safe(a, tmp, &c->applies, link) {
		list_del(&a->link);
		a->tracked = false;
		list_add_tail(&c->apply_orphans, &a->link);
	}
}

/* ------------------------------------------------------------ pendings */

/* A node's own messages come back in the order it sent them, so the
 * pending after the last one found is almost always the one: with
 * thousands of submits outstanding, a walk from the head on every own
 * delivery was most of the submitter's CPU. */
struct cluster_pending *cluster_pending_find(struct cluster *c,
					     uint64_t seq)
{
	struct cluster_pending *p = c->pending_hint;

	if (p && p->link.next != &c->pendings) {
		p = list_entry(p->link.next, struct cluster_pending, link);
		if (p->seq == seq)
			return c->pending_hint = p;
	}
	list_for_each_entry(p, &c->pendings, link)
		if (p->seq == seq)
			return c->pending_hint = p;
	return NULL;
}

static void cluster_pending_free(struct cluster *c, struct cluster_pending *p)
{
	if (c->pending_hint == p)
		c->pending_hint = NULL;
	list_del(&p->link);
	free(p);
}

/* Whether the state holds the message applied here at (epoch, index):
 * the state went through that epoch and past that index in it. Epochs
 * are unique per round, so this is exact while the lineage reaches back
 * far enough. */
static bool cluster_lineage_has(const struct cluster *c, uint64_t epoch,
				uint64_t index)
{
	uint32_t j;

	for (j = 0; j < c->nlineage; j++) {
		uint64_t end;

		if (c->lineage[j].epoch != epoch)
			continue;
		end = j + 1 < c->nlineage ? c->lineage[j + 1].base : c->index;
		return index > c->lineage[j].base && index <= end;
	}
	return false;
}

/* At an activation: the submits applied in an earlier view learn from
 * the state the whole view now holds whether their message is in it. */
void cluster_pendings_resolve(struct cluster *c)
{
	struct cluster_pending *p;

	list_for_each_entry(p, &c->pendings, link) {
		if (!p->unresolved || p->status || p->resolved)
			continue;
		p->unresolved = false;
		if (cluster_lineage_has(c, p->epoch, p->index))
			p->resolved = true;
		else
			p->status = -EAGAIN;
	}
	cluster_flush_schedule(c);
}

/* Applies one DATA message at the next commit index. */
void cluster_data_apply(struct cluster *c, uint32_t from, uint16_t channel,
			uint64_t seq, uint64_t inc, const void *data,
			size_t len)
{
	struct cluster_channel *ch = cluster_channel_find(c, channel);
	struct cluster_pending *p = NULL;
	struct cluster_msg_info mi;
	struct cluster_apply *a;
	int r = CLUSTER_APPLY_DONE;

	c->index++;
	if (from == c->view.local_id && inc == c->inc)
		p = cluster_pending_find(c, seq);
	if (p) {
		p->index = c->index;
		p->epoch = c->state_epoch;
	} else
		c->ack_needed = c->index;
	mi.from = from;
	mi.index = c->index;
	mi.local_ctx = p ? p->ctx : NULL;
	c->stats.applied++;

	if (!ch) {
		/* Every node treats it the same way: a no-op that still
		 * takes its index. */
		LOG_WARN("cluster: message for unknown channel %u applied as "
			 "a no-op", channel);
		cluster_flush_schedule(c);
		return;
	}
	a = cluster_apply_get(c);
	if (a)
		a->index = c->index;
	r = ch->ops.apply(ch->arg, &mi, data, len, a);
	if (a) {
		if (r == CLUSTER_APPLY_PENDING) {
			a->tracked = true;
			list_add_tail(&c->applies, &a->link);
		} else {
			cluster_apply_put(c, a);
		}
	} else if (r == CLUSTER_APPLY_PENDING) {
		LOG_ERR("cluster: out of memory for an apply token; the ack "
			"of index %llu does not wait for it",
			(unsigned long long)c->index);
	}
	cluster_flush_schedule(c);
}

static bool cluster_pending_complete(struct cluster *c,
				     const struct cluster_pending *p)
{
	uint32_t i;

	if (p->status)
		return true;
	/* Resolved from the state: the lineage put it in this history's
	 * numbering, so the local side effects of its apply (if this node
	 * applied it and has not loaded since) are waited for as usual. */
	if (p->resolved)
		return cluster_local_done(c) >= p->index;
	/* Only an active view completes: its members all hold the state
	 * (DONE implies every member synced), so what they acked survives
	 * any later view that intersects this one. */
	if (c->sync != CLUSTER_SYNC_DONE || p->unresolved || !p->index ||
	    cluster_local_done(c) < p->index)
		return false;
	for (i = 0; i < p->nwait; i++) {
		const struct cluster_peer *peer =
			cluster_peer_find(c, p->wait[i]);

		if (peer && peer->acked < p->index)
			return false;
	}
	return true;
}

/* The one place submit completions fire (outside every caller's stack),
 * and the one place ACKs are sent: once per loop turn. */
static void cluster_flush_run(struct base_defer *d)
{
	struct cluster *c = container_of(d, struct cluster, flush_defer);
	struct cluster_pending *p, *tmp;
	uint64_t done;

	if (c->sync == CLUSTER_SYNC_DONE) {
		done = cluster_local_done(c);
		if (done > c->ack_sent && c->ack_needed > c->ack_sent) {
			uint8_t buf[CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_ACK_LEN];
			struct iovec iov = { buf,
					     cluster_msg_ack_encode(buf, done) };
			int r = cluster_send(c, &iov, 1);

			if (r)
				LOG_ERR("cluster: ack send: %s", strerror(-r));
			c->ack_sent = done;
			c->stats.acks_sent++;
		}
	}

	c->in_flush++;
	list_for_each_entry_safe(p, tmp, &c->pendings, link) {
		if (!cluster_pending_complete(c, p))
			continue;
		{
			cluster_done_fn fn = p->done;
			void *ctx = p->ctx;
			int status = p->status;

			cluster_pending_free(c, p);
			fn(ctx, status);
		}
		if (c->closing)
			break;
	}
	c->in_flush--;
	if (c->closing && !c->in_flush && c->free_later)
		free(c);
}

/* Ends a pending submit with an error at the next flush. */
void cluster_pending_fail(struct cluster *c, struct cluster_pending *p,
			  int status)
{
	p->status = status;
	cluster_flush_schedule(c);
}

int cluster_submitv(struct cluster_channel *ch, const struct iovec *data,
		    int datacnt, cluster_done_fn done, void *ctx)
{
	struct cluster *c = ch->c;
	uint8_t hdr[CLUSTER_MSG_HDR_LEN];
	struct iovec iov[4];
	struct cluster_pending *p;
	size_t len = 0;
	int i, r;

	if (datacnt > 3 || !done)
		return -EINVAL;
	for (i = 0; i < datacnt; i++)
		len += data[i].iov_len;
	if (len > CLUSTER_MSG_MAX ||
	    len + CLUSTER_MSG_HDR_LEN > c->bus->ops->max_msg(c->bus))
		return -EMSGSIZE;
	if (!cluster_is_ready(c))
		return -EAGAIN;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->seq = ++c->next_seq;
	p->done = done;
	p->ctx = ctx;
	cluster_msg_hdr_encode(hdr, CLUSTER_MSG_DATA, ch->ops.id,
			       (uint32_t)len, p->seq, c->inc);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	for (i = 0; i < datacnt; i++)
		iov[i + 1] = data[i];
	r = cluster_send(c, iov, datacnt + 1);
	if (r) {
		free(p);
		return r;
	}
	list_add_tail(&c->pendings, &p->link);
	c->stats.submitted++;
	return 0;
}

int cluster_submit(struct cluster_channel *ch, const void *data, size_t len,
		   cluster_done_fn done, void *ctx)
{
	struct iovec iov = { (void *)data, len };

	return cluster_submitv(ch, &iov, 1, done, ctx);
}

/* ------------------------------------------------------------ delivery */

static void cluster_data_deliver(struct cluster *c, uint32_t from,
				 const struct cluster_msg *m)
{
	struct cluster_pending *p = NULL;

	if (from == c->view.local_id && m->inc == c->inc) {
		p = cluster_pending_find(c, m->seq);
		if (p) {
			/* Waits for the members of the delivery view. */
			uint32_t i;

			p->delivered = true;
			p->nwait = 0;
			for (i = 0; i < c->view.count; i++)
				if (c->view.members[i].id != from)
					p->wait[p->nwait++] =
						c->view.members[i].id;
		}
	}

	switch (c->sync) {
	case CLUSTER_SYNC_DONE:
		cluster_data_apply(c, from, m->channel, m->seq, m->inc,
				   m->data, m->len);
		return;
	case CLUSTER_SYNC_ANNOUNCE:
	case CLUSTER_SYNC_SNAPSHOT:
	case CLUSTER_SYNC_ACTIVATE:
		if (cluster_sync_buffer(c, from, m) == 0)
			return;
		/* Cannot buffer: this node drops out of the round. */
		LOG_ERR("cluster: out of memory buffering a message during "
			"sync; node %u stays not ready until the next view",
			c->view.local_id);
		if (p)
			cluster_pending_fail(c, p, -EIO);
		cluster_sync_abandon(c);
		return;
	case CLUSTER_SYNC_NONE:
		/* A non-quorate view: no member applies it. */
		if (p)
			cluster_pending_fail(c, p, -EAGAIN);
		return;
	case CLUSTER_SYNC_FAILED:
	default:
		/* The others may apply it or not; this node cannot follow
		 * the round, so it cannot tell. */
		if (p)
			cluster_pending_fail(c, p, -EIO);
		return;
	}
}

static void cluster_bus_deliver(void *arg, uint32_t from, const void *data,
				size_t len)
{
	struct cluster *c = arg;
	struct cluster_peer *peer;
	struct cluster_msg m;
	int r;

	if (c->closing)
		return;
	r = cluster_msg_decode(data, len, &m);
	if (r) {
		c->stats.rejected++;
		LOG_WARN("cluster: message from node %u refused (%zu bytes): "
			 "%s", from, len, strerror(-r));
		return;
	}
	switch (m.type) {
	case CLUSTER_MSG_DATA:
		cluster_data_deliver(c, from, &m);
		break;
	case CLUSTER_MSG_ACK:
		peer = cluster_peer_find(c, from);
		if (peer && m.u.ack.index > peer->acked) {
			peer->acked = m.u.ack.index;
			if (!list_empty(&c->pendings))
				cluster_flush_schedule(c);
		}
		break;
	case CLUSTER_MSG_ANNOUNCE:
		cluster_sync_announce(c, from, &m);
		break;
	case CLUSTER_MSG_SNAPSHOT:
		cluster_sync_snapshot(c, from, &m);
		break;
	case CLUSTER_MSG_LOADED:
		cluster_sync_loaded(c, from, &m);
		break;
	}
}

/* --------------------------------------------------------------- views */

static void cluster_view_diff(const struct cluster_view *a,
			      const struct cluster_view *b, uint32_t *left,
			      uint32_t *nleft, uint32_t *joined,
			      uint32_t *njoined)
{
	uint32_t i, j;

	*nleft = *njoined = 0;
	for (i = 0; i < a->count; i++) {
		for (j = 0; j < b->count; j++)
			if (b->members[j].id == a->members[i].id)
				break;
		if (j == b->count)
			left[(*nleft)++] = a->members[i].id;
	}
	for (j = 0; j < b->count; j++) {
		for (i = 0; i < a->count; i++)
			if (b->members[j].id == a->members[i].id)
				break;
		if (i == a->count)
			joined[(*njoined)++] = b->members[j].id;
	}
}

static void cluster_bus_view(void *arg, const struct cluster_view *nv)
{
	struct cluster *c = arg;
	struct cluster_view old = c->view;
	struct cluster_peer oldpeers[CLUSTER_NODES_MAX];
	uint32_t left[CLUSTER_NODES_MAX], joined[CLUSTER_NODES_MAX];
	uint32_t nleft, njoined, i, j;
	struct cluster_pending *p;

	if (c->closing)
		return;
	if (nv->count > CLUSTER_NODES_MAX || nv->count == 0) {
		LOG_ERR("cluster: view of %u members refused", nv->count);
		return;
	}
	/* An incomplete round ends here for every member of the old view
	 * at the same point of the order. */
	cluster_sync_view_change(c);

	memcpy(oldpeers, c->peers, sizeof(oldpeers));
	c->view = *nv;
	c->view.seq = ++c->view_seq;
	c->tag = cluster_view_tag(nv);
	memset(c->peers, 0, sizeof(c->peers));
	for (i = 0; i < nv->count; i++) {
		c->peers[i].id = nv->members[i].id;
		for (j = 0; j < old.count; j++)
			if (oldpeers[j].id == nv->members[i].id)
				c->peers[i].acked = oldpeers[j].acked;
	}
	if (c->have_view) {
		cluster_view_diff(&old, nv, left, &nleft, joined, &njoined);
	} else {
		nleft = 0;
		njoined = nv->count;
		for (i = 0; i < nv->count; i++)
			joined[i] = nv->members[i].id;
	}
	c->have_view = true;

	/* A submit applied in the old view and not complete: whether it
	 * survives is decided at the next activation (the members that
	 * left may or may not have applied it; the state will tell). The
	 * ones buffered in an incomplete round were voided just above. */
	list_for_each_entry(p, &c->pendings, link)
		if (p->index && !p->status && !p->resolved)
			p->unresolved = true;

	LOG_DEBUG("cluster: view %llu: %u members, %squorate",
		 (unsigned long long)c->view.seq, nv->count,
		 nv->quorate ? "" : "not ");
	if (c->ev.view)
		c->ev.view(c->ev.arg, &c->view, left, nleft, joined, njoined);
	if (nv->quorate)
		cluster_sync_start(c);
	cluster_ready_update(c);
	cluster_flush_schedule(c);
}

/* Called when the round completes (synced, state transition): the
 * channels see the view relative to the previous primary view's
 * members, the same on every member. */
void cluster_channels_view(struct cluster *c, const uint32_t *left,
			   uint32_t nleft, const uint32_t *joined,
			   uint32_t njoined)
{
	struct cluster_channel *ch, *tmp;

	list_for_each_entry_safe(ch, tmp, &c->channels, link)
		if (ch->ops.view)
			ch->ops.view(ch->arg, &c->view, left, nleft, joined,
				     njoined);
}

void cluster_ready_changed(struct cluster *c)
{
	cluster_ready_update(c);
	cluster_flush_schedule(c);
}

static void cluster_bus_fatal(void *arg, int err)
{
	struct cluster *c = arg;
	struct cluster_pending *p;

	LOG_ERR("cluster: the bus failed: %s; restart the node to rejoin",
		strerror(-err));
	c->fatal = true;
	cluster_sync_abandon(c);
	list_for_each_entry(p, &c->pendings, link)
		if (!p->status)
			p->status = -EIO;
	cluster_ready_update(c);
	cluster_flush_schedule(c);
	if (c->ev.fatal && !c->closing)
		c->ev.fatal(c->ev.arg, err);
}

const struct cluster_view *cluster_view_get(const struct cluster *c)
{
	return &c->view;
}

uint32_t cluster_local_id(const struct cluster *c)
{
	return c->view.local_id;
}

struct base_loop *cluster_loop(const struct cluster *c)
{
	return c->loop;
}

/* -------------------------------------------------------------- opening */

struct cluster_kv *cluster_kv_of(struct cluster *c)
{
	return c->kv;
}

struct cluster_locks *cluster_locks_of(struct cluster *c)
{
	return c->locks;
}

/* A new incarnation id: never 0, different for every open in this
 * process and (with the clock and pid) across restarts. */
static uint64_t cluster_inc_new(void)
{
	static uint64_t counter;
	struct timespec ts;
	uint64_t z;

	clock_gettime(CLOCK_REALTIME, &ts);
	z = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^
	    ((uint64_t)getpid() << 40) ^ (++counter * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

static int cluster_bus_make(const struct cluster_config *cfg,
			    struct cluster_bus **out)
{
	switch (cfg->backend) {
	case CLUSTER_BACKEND_SINGLE:
		return cluster_bus_single_create(out);
	case CLUSTER_BACKEND_COROSYNC:
		/* -ENOTSUP when built without corosync (cluster_bus_none.c) */
		return cluster_bus_corosync_create(out);
	case CLUSTER_BACKEND_SIM:
		if (!cfg->bus)
			return -EINVAL;
		*out = cfg->bus;
		return 0;
	}
	return -EINVAL;
}

int cluster_open(struct base_loop *loop, const struct cluster_config *cfg,
		 const struct cluster_events *ev, struct cluster **out)
{
	struct cluster *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	if (ev)
		c->ev = *ev;
	list_init(&c->channels);
	list_init(&c->applies);
	list_init(&c->apply_free);
	list_init(&c->apply_orphans);
	list_init(&c->pendings);
	list_init(&c->outq);
	list_init(&c->buffered);
	list_init(&c->notify_handlers);
	base_defer_init(&c->flush_defer, cluster_flush_run);
	c->up.deliver = cluster_bus_deliver;
	c->up.view = cluster_bus_view;
	c->up.writable = cluster_bus_writable;
	c->up.fatal = cluster_bus_fatal;
	c->up.arg = c;
	c->sync = CLUSTER_SYNC_NONE;
	c->inc = cluster_inc_new();

	r = cluster_bus_make(cfg, &c->bus);
	if (r) {
		free(c);
		return r;
	}
	r = cluster_notify_attach(c);
	if (r)
		goto fail;
	r = cluster_kv_attach(c, &c->kv);
	if (r)
		goto fail;
	r = cluster_locks_attach(c, &c->locks);
	if (r)
		goto fail;
	r = c->bus->ops->start(c->bus, loop, cfg->group ? cfg->group : "ctgt",
			       &c->up);
	if (r)
		goto fail;
	c->bus_started = true;
	*out = c;
	return 0;

fail:
	cluster_close(c);
	return r;
}

void cluster_close(struct cluster *c)
{
	struct cluster_channel *ch, *chtmp;
	struct cluster_apply *a, *atmp;
	struct cluster_outmsg *o, *otmp;
	struct cluster_pending *p;

	if (!c || c->closing)
		return;
	/* Users' completions first, while the service still looks alive
	 * to them; then nothing may come in. */
	if (c->locks)
		cluster_locks_detach(c->locks);
	c->locks = NULL;
	if (c->kv)
		cluster_kv_detach(c->kv);
	c->kv = NULL;
	c->closing = true;
	if (c->bus_started)
		c->bus->ops->stop(c->bus);
	c->bus_started = false;
	base_defer_cancel(c->loop, &c->flush_defer);
	cluster_sync_abandon(c);

	while (!list_empty(&c->pendings)) {
		p = list_first_entry(&c->pendings, struct cluster_pending,
				     link);
		list_del(&p->link);
		c->pending_hint = NULL;
		p->done(p->ctx, -ESHUTDOWN);
		free(p);
	}
	list_for_each_entry_safe(ch, chtmp, &c->channels, link)
		cluster_channel_close(ch);
	list_for_each_entry_safe(a, atmp, &c->applies, link)
		free(a);
	list_for_each_entry_safe(a, atmp, &c->apply_orphans, link)
		free(a);
	list_for_each_entry_safe(a, atmp, &c->apply_free, link)
		free(a);
	list_for_each_entry_safe(o, otmp, &c->outq, link)
		free(o);
	if (c->bus)
		c->bus->ops->destroy(c->bus);
	if (c->in_flush)
		c->free_later = true;
	else
		free(c);
}

const struct cluster_stats *cluster_stats_get(const struct cluster *c)
{
	return &c->stats;
}
