/*
 * The sync round: what every member does between a view change and the
 * point where it may apply DATA again, and the state transfer to members
 * that are behind.
 *
 * In a quorate view every member buffers DATA and multicasts
 * ANNOUNCE(tag, state epoch, seen epoch, index). The delivery of the last
 * member's ANNOUNCE is the same point of the order for everyone: each
 * member computes the source (highest (state epoch, index), lowest id on
 * ties) and the new epoch (highest seen epoch + 1). Members at the
 * source's position are up to date: they run the view transition at
 * once; the source first saves its state and multicasts it as SNAPSHOT
 * fragments when someone is behind. Members behind keep buffering until
 * the whole SNAPSHOT of this view arrives, load it, run the same
 * transition and multicast LOADED. The view activates (everyone applies
 * the buffered DATA, then DATA as delivered) only once every member holds
 * the round's state: applying earlier could lose a completed commit if a
 * member behind left before loading (docs/cluster-protocol.md).
 *
 * The view transition is part of the replicated state: channels' view
 * callbacks run here, with left/joined relative to the previous primary
 * view's members (kept in the state), so every member changes its state
 * the same way whatever views it saw in between.
 *
 * Deliberately NOT here: the ordinary apply and ack path (cluster.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/cluster_internal.h"
#include "cluster/cluster_msg.h"

#define CLUSTER_EPOCH_TAG_BITS 24

/* Drops the buffered DATA. At a view change before the activation no
 * member of the view applies them (they all drop the same ones at the
 * same point), so the local submits among them learn -EAGAIN for sure;
 * when this node alone gives up (own_status -EIO) the others may still
 * apply them. */
static void cluster_sync_drop(struct cluster *c, int own_status)
{
	struct cluster_buffered *b, *tmp;

	list_for_each_entry_safe(b, tmp, &c->buffered, link) {
		if (b->from == c->view.local_id && b->inc == c->inc) {
			struct cluster_pending *p =
				cluster_pending_find(c, b->seq);

			if (p && !p->status && !p->resolved)
				cluster_pending_fail(c, p, own_status);
		}
		c->stats.voided++;
		list_del(&b->link);
		free(b);
	}
	free(c->snap);
	c->snap = NULL;
	c->snap_total = c->snap_have = 0;
}

void cluster_sync_view_change(struct cluster *c)
{
	cluster_sync_drop(c, -EAGAIN);
	c->sync = CLUSTER_SYNC_NONE;
}

void cluster_sync_abandon(struct cluster *c)
{
	struct cluster_pending *p;

	cluster_sync_drop(c, -EIO);
	if (c->sync != CLUSTER_SYNC_NONE)
		c->sync = CLUSTER_SYNC_FAILED;
	list_for_each_entry(p, &c->pendings, link)
		if (p->index && !p->status && !p->resolved)
			p->unresolved = true;
	cluster_ready_changed(c);
}

void cluster_sync_start(struct cluster *c)
{
	uint8_t buf[CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_ANNOUNCE_LEN];
	struct iovec iov = { buf, 0 };
	uint32_t i;
	int r;

	c->sync = CLUSTER_SYNC_ANNOUNCE;
	c->nannounced = 0;
	c->nsynced = 0;
	for (i = 0; i < c->view.count; i++) {
		c->peers[i].announced = false;
		c->peers[i].synced = false;
	}
	iov.iov_len = cluster_msg_announce_encode(buf, c->tag, c->state_epoch,
						  c->seen_epoch, c->index);
	r = cluster_send(c, &iov, 1);
	if (r) {
		LOG_ERR("cluster: announce send: %s", strerror(-r));
		cluster_sync_abandon(c);
	}
}

int cluster_sync_buffer(struct cluster *c, uint32_t from,
			const struct cluster_msg *m)
{
	struct cluster_buffered *b = malloc(sizeof(*b) + m->len);

	if (!b)
		return -ENOMEM;
	b->from = from;
	b->channel = m->channel;
	b->seq = m->seq;
	b->inc = m->inc;
	b->len = m->len;
	memcpy(b->data, m->data, m->len);
	list_add_tail(&c->buffered, &b->link);
	return 0;
}

/* ------------------------------------------------------- state bytes */

/* The canonical bytes of the replicated state:
 *   u64 epoch | u64 index | u32 nmembers | u32 id * nmembers |
 *   u32 nlineage | (u64 epoch | u64 base) * nlineage |
 *   u32 nchannels | (u16 id | u32 len | bytes) * nchannels
 * lineage oldest first, channels in id order. */
static int cluster_state_build(struct cluster *c, uint8_t **out,
			       size_t *outlen)
{
	struct cluster_channel *ch;
	uint32_t nch = 0, i;
	size_t len, off;
	void **datas = NULL;
	size_t *lens = NULL;
	uint8_t *buf;
	int r = 0;

	list_for_each_entry(ch, &c->channels, link)
		nch++;
	datas = calloc(nch ? nch : 1, sizeof(*datas));
	lens = calloc(nch ? nch : 1, sizeof(*lens));
	if (!datas || !lens) {
		r = -ENOMEM;
		goto out;
	}
	len = 8 + 8 + 4 + 4u * c->nstate_members + 4 + 16u * c->nlineage + 4;
	i = 0;
	list_for_each_entry(ch, &c->channels, link) {
		r = ch->ops.save(ch->arg, &datas[i], &lens[i]);
		if (r) {
			LOG_ERR("cluster: channel %s: save: %s", ch->ops.name,
				strerror(-r));
			goto out;
		}
		if (lens[i] > UINT32_MAX) {
			r = -EOVERFLOW;
			goto out;
		}
		len += 6 + lens[i];
		i++;
	}
	buf = malloc(len);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	cluster_put_u64(buf, c->state_epoch);
	cluster_put_u64(buf + 8, c->index);
	cluster_put_u32(buf + 16, c->nstate_members);
	off = 20;
	for (i = 0; i < c->nstate_members; i++, off += 4)
		cluster_put_u32(buf + off, c->state_members[i]);
	cluster_put_u32(buf + off, c->nlineage);
	off += 4;
	for (i = 0; i < c->nlineage; i++, off += 16) {
		cluster_put_u64(buf + off, c->lineage[i].epoch);
		cluster_put_u64(buf + off + 8, c->lineage[i].base);
	}
	cluster_put_u32(buf + off, nch);
	off += 4;
	i = 0;
	list_for_each_entry(ch, &c->channels, link) {
		cluster_put_u16(buf + off, ch->ops.id);
		cluster_put_u32(buf + off + 2, (uint32_t)lens[i]);
		off += 6;
		if (lens[i])
			memcpy(buf + off, datas[i], lens[i]);
		off += lens[i];
		i++;
	}
	*out = buf;
	*outlen = len;
out:
	if (datas)
		for (i = 0; i < nch; i++)
			free(datas[i]);
	free(datas);
	free(lens);
	return r;
}

int cluster_state_save(struct cluster *c, void **data, size_t *len)
{
	uint8_t *b;
	int r = cluster_state_build(c, &b, len);

	if (!r)
		*data = b;
	return r;
}

/* Checks the whole blob before anything is reset; returns the offset
 * of the lineage in *lin_off. */
static int cluster_state_check(const uint8_t *b, size_t len,
			       size_t *lin_off)
{
	uint32_t n, nch, no, i;
	size_t off;

	if (len < 20)
		return -EINVAL;
	n = cluster_get_u32(b + 16);
	if (n > CLUSTER_NODES_MAX || len - 20 < 4u * n + 4)
		return -EINVAL;
	off = 20 + 4u * n;
	*lin_off = off;
	no = cluster_get_u32(b + off);
	off += 4;
	if (no > CLUSTER_LINEAGE_MAX || (len - off) / 16 < no ||
	    len - off - 16u * no < 4)
		return -EINVAL;
	off += 16u * no;
	nch = cluster_get_u32(b + off);
	off += 4;
	for (i = 0; i < nch; i++) {
		uint32_t l;

		if (len - off < 6)
			return -EINVAL;
		l = cluster_get_u32(b + off + 2);
		off += 6;
		if (len - off < l)
			return -EINVAL;
		off += l;
	}
	return off == len ? 0 : -EINVAL;
}

static int cluster_state_load(struct cluster *c, const uint8_t *b, size_t len)
{
	struct cluster_channel *ch;
	uint32_t n, nch, no, i;
	size_t off, ooff;
	int r;

	r = cluster_state_check(b, len, &ooff);
	if (r)
		return r;
	list_for_each_entry(ch, &c->channels, link)
		if (ch->ops.reset)
			ch->ops.reset(ch->arg);
	/* Until every channel took its part the node holds no valid
	 * state: (0, 0) puts it behind everyone at the next round. */
	c->state_epoch = 0;
	c->index = 0;
	c->nstate_members = 0;
	c->nlineage = 0;
	n = cluster_get_u32(b + 16);
	no = cluster_get_u32(b + ooff);
	off = ooff + 4 + 16u * no;
	nch = cluster_get_u32(b + off);
	off += 4;
	for (i = 0; i < nch; i++) {
		uint16_t id = cluster_get_u16(b + off);
		uint32_t l = cluster_get_u32(b + off + 2);

		off += 6;
		ch = cluster_channel_find(c, id);
		if (!ch) {
			LOG_WARN("cluster: snapshot has state for channel %u, "
				 "not open here: skipped", id);
		} else {
			r = ch->ops.load(ch->arg, b + off, l);
			if (r) {
				LOG_ERR("cluster: channel %s refused its "
					"snapshot: %s", ch->ops.name,
					strerror(-r));
				return r;
			}
		}
		off += l;
	}
	for (i = 0, off = ooff + 4; i < no; i++, off += 16) {
		c->lineage[i].epoch = cluster_get_u64(b + off);
		c->lineage[i].base = cluster_get_u64(b + off + 8);
	}
	c->nlineage = no;
	c->state_epoch = cluster_get_u64(b);
	c->index = cluster_get_u64(b + 8);
	c->nstate_members = n;
	for (i = 0, off = 20; i < n; i++, off += 4)
		c->state_members[i] = cluster_get_u32(b + off);
	return 0;
}

/* ---------------------------------------------------------- the round */

/* The state transition of a completed round: the new epoch, the view
 * as the channels see it (relative to the previous primary view). */
static void cluster_sync_transition(struct cluster *c)
{
	uint32_t left[CLUSTER_NODES_MAX], joined[CLUSTER_NODES_MAX];
	uint32_t nleft = 0, njoined = 0, i;

	for (i = 0; i < c->nstate_members; i++)
		if (!cluster_view_has(&c->view, c->state_members[i]))
			left[nleft++] = c->state_members[i];
	for (i = 0; i < c->view.count; i++) {
		uint32_t id = c->view.members[i].id, k;

		for (k = 0; k < c->nstate_members; k++)
			if (c->state_members[k] == id)
				break;
		if (k == c->nstate_members)
			joined[njoined++] = id;
	}
	c->nstate_members = c->view.count;
	for (i = 0; i < c->view.count; i++)
		c->state_members[i] = c->view.members[i].id;
	c->state_epoch = c->new_epoch;
	if (c->seen_epoch < c->new_epoch)
		c->seen_epoch = c->new_epoch;
	if (c->nlineage == CLUSTER_LINEAGE_MAX) {
		memmove(&c->lineage[0], &c->lineage[1],
			(CLUSTER_LINEAGE_MAX - 1) * sizeof(c->lineage[0]));
		c->nlineage--;
	}
	c->lineage[c->nlineage].epoch = c->new_epoch;
	c->lineage[c->nlineage].base = c->index;
	c->nlineage++;
	c->sync = CLUSTER_SYNC_ACTIVATE;
	cluster_channels_view(c, left, nleft, joined, njoined);
}

/* Every member holds the round's state: the same point of the order for
 * all of them. DATA applies from here on, the buffered first. */
static void cluster_sync_activate(struct cluster *c)
{
	struct cluster_buffered *b;
	uint32_t i;

	c->sync = CLUSTER_SYNC_DONE;
	c->stats.syncs++;
	/* Acks count from here: a member acks only while active, and every
	 * ACK sent before its ANNOUNCE is ordered before this point, so what
	 * was acked before (perhaps in another history) is forgotten. The
	 * submits that wait for acks are all delivered in this view. */
	for (i = 0; i < c->view.count; i++)
		c->peers[i].acked = 0;
	while (!list_empty(&c->buffered) && c->sync == CLUSTER_SYNC_DONE) {
		b = list_first_entry(&c->buffered, struct cluster_buffered,
				     link);
		list_del(&b->link);
		cluster_data_apply(c, b->from, b->channel, b->seq, b->inc,
				   b->data, b->len);
		free(b);
	}
	if (c->sync == CLUSTER_SYNC_DONE)
		cluster_pendings_resolve(c);
	cluster_ready_changed(c);
}

static void cluster_sync_snapshot_send(struct cluster *c)
{
	uint8_t hdr[CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_SNAPSHOT_HDR_LEN];
	size_t len, off = 0, frag, max = c->bus->ops->max_msg(c->bus);
	uint8_t *blob;
	int r;

	if (max <= sizeof(hdr)) {
		LOG_ERR("cluster: bus messages too small for a snapshot");
		return;
	}
	frag = max - sizeof(hdr);
	r = cluster_state_build(c, &blob, &len);
	if (!r && len > UINT32_MAX)
		r = -EOVERFLOW;
	if (r) {
		/* The members behind stay not ready until the next view. */
		LOG_ERR("cluster: snapshot: %s", strerror(-r));
		return;
	}
	do {
		size_t n = len - off < frag ? len - off : frag;
		struct iovec iov[2] = { { hdr, sizeof(hdr) },
					{ blob + off, n } };

		cluster_msg_snapshot_hdr_encode(hdr, c->tag, (uint32_t)len,
						(uint32_t)off, (uint32_t)n);
		r = cluster_send(c, iov, 2);
		if (r) {
			LOG_ERR("cluster: snapshot send: %s", strerror(-r));
			break;
		}
		off += n;
	} while (off < len);
	c->stats.snapshots_sent++;
	free(blob);
}

static void cluster_sync_complete(struct cluster *c)
{
	const struct cluster_peer *src = NULL, *me = NULL;
	uint64_t seen = 0;
	bool behind = false;
	uint32_t i;

	/* Peers are sorted by id: a strict > keeps the lowest id on ties. */
	for (i = 0; i < c->view.count; i++) {
		const struct cluster_peer *p = &c->peers[i];

		if (!src || p->state_epoch > src->state_epoch ||
		    (p->state_epoch == src->state_epoch &&
		     p->index > src->index))
			src = p;
		if (p->seen_epoch > seen)
			seen = p->seen_epoch;
		if (p->id == c->view.local_id)
			me = p;
	}
	c->nsynced = 0;
	for (i = 0; i < c->view.count; i++) {
		struct cluster_peer *p = &c->peers[i];

		p->synced = p->state_epoch == src->state_epoch &&
			    p->index == src->index;
		if (p->synced)
			c->nsynced++;
		else
			behind = true;
	}
	c->source_id = src->id;
	c->src_epoch = src->state_epoch;
	c->src_index = src->index;
	/* The round counter in the high bits, this view's tag in the low
	 * ones: two histories that went through as many rounds (possible
	 * once restarted nodes, which start from nothing, make up a
	 * quorum) still never share an epoch. */
	c->new_epoch = (((seen >> CLUSTER_EPOCH_TAG_BITS) + 1)
			<< CLUSTER_EPOCH_TAG_BITS) |
		       (c->tag & ((1ull << CLUSTER_EPOCH_TAG_BITS) - 1));

	if (me->synced) {
		/* The source saves exactly here, before the transition the
		 * members behind will run after loading. */
		if (me == src && behind)
			cluster_sync_snapshot_send(c);
		cluster_sync_transition(c);
		if (c->nsynced == c->view.count)
			cluster_sync_activate(c);
		return;
	}
	/* Behind: an epoch newer than this node's state exists now, even
	 * if the snapshot never arrives (see docs/cluster-protocol.md). */
	if (c->seen_epoch < c->new_epoch)
		c->seen_epoch = c->new_epoch;
	c->sync = CLUSTER_SYNC_SNAPSHOT;
	LOG_INFO("cluster: node %u behind (epoch %llu index %llu), waiting "
		 "for node %u's snapshot (epoch %llu index %llu)",
		 c->view.local_id, (unsigned long long)me->state_epoch,
		 (unsigned long long)me->index, src->id,
		 (unsigned long long)src->state_epoch,
		 (unsigned long long)src->index);
}

void cluster_sync_announce(struct cluster *c, uint32_t from,
			   const struct cluster_msg *m)
{
	struct cluster_peer *p = NULL;
	uint32_t i;

	/* An ANNOUNCE sent for another view is ignored by everyone. */
	if (c->sync != CLUSTER_SYNC_ANNOUNCE || m->u.announce.tag != c->tag)
		return;
	for (i = 0; i < c->view.count; i++)
		if (c->peers[i].id == from)
			p = &c->peers[i];
	if (!p || p->announced)
		return;
	p->announced = true;
	p->state_epoch = m->u.announce.state_epoch;
	p->seen_epoch = m->u.announce.seen_epoch;
	p->index = m->u.announce.index;
	if (++c->nannounced == c->view.count)
		cluster_sync_complete(c);
}

void cluster_sync_snapshot(struct cluster *c, uint32_t from,
			   const struct cluster_msg *m)
{
	int r;

	if (c->sync != CLUSTER_SYNC_SNAPSHOT || m->u.snapshot.tag != c->tag ||
	    from != c->source_id)
		return;
	if (!c->snap) {
		if (m->u.snapshot.offset != 0)
			goto bad;
		c->snap = malloc(m->u.snapshot.total ? m->u.snapshot.total
						     : 1);
		if (!c->snap) {
			LOG_ERR("cluster: no memory for a %u-byte snapshot",
				m->u.snapshot.total);
			cluster_sync_abandon(c);
			return;
		}
		c->snap_total = m->u.snapshot.total;
		c->snap_have = 0;
	}
	if (m->u.snapshot.total != c->snap_total ||
	    m->u.snapshot.offset != c->snap_have)
		goto bad;
	memcpy(c->snap + c->snap_have, m->data, m->len);
	c->snap_have += m->len;
	if (c->snap_have < c->snap_total)
		return;

	if (c->snap_total < 16 || cluster_get_u64(c->snap) != c->src_epoch ||
	    cluster_get_u64(c->snap + 8) != c->src_index)
		goto bad;
	cluster_applies_orphan(c);
	r = cluster_state_load(c, c->snap, c->snap_total);
	free(c->snap);
	c->snap = NULL;
	if (r) {
		cluster_sync_abandon(c);
		return;
	}
	c->stats.snapshots_loaded++;
	/* Acks below the loaded index mean nothing to anybody now. */
	c->ack_sent = c->index;
	c->ack_needed = 0;
	cluster_sync_transition(c);
	{
		uint8_t buf[CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_LOADED_LEN];
		struct iovec iov = { buf,
				     cluster_msg_loaded_encode(buf, c->tag) };

		r = cluster_send(c, &iov, 1);
		if (r) {
			LOG_ERR("cluster: loaded send: %s", strerror(-r));
			cluster_sync_abandon(c);
		}
	}
	return;

bad:
	LOG_ERR("cluster: snapshot from node %u does not fit (offset %u of "
		"%u); node %u stays not ready until the next view", from,
		m->u.snapshot.offset, m->u.snapshot.total, c->view.local_id);
	cluster_sync_abandon(c);
}

void cluster_sync_loaded(struct cluster *c, uint32_t from,
			 const struct cluster_msg *m)
{
	uint32_t i;

	if ((c->sync != CLUSTER_SYNC_ACTIVATE &&
	     c->sync != CLUSTER_SYNC_SNAPSHOT) ||
	    m->u.loaded.tag != c->tag)
		return;
	for (i = 0; i < c->view.count; i++) {
		struct cluster_peer *p = &c->peers[i];

		if (p->id != from || p->synced)
			continue;
		p->synced = true;
		c->nsynced++;
	}
	/* A member behind only loads before its own LOADED, so it is in
	 * ACTIVATE when the last one arrives. */
	if (c->nsynced == c->view.count && c->sync == CLUSTER_SYNC_ACTIVATE)
		cluster_sync_activate(c);
}
