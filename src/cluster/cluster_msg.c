/*
 * The cluster wire codec (see cluster_msg.h for the layout). Pure: no
 * allocation, no logging; the caller counts and logs what is refused.
 */
#include "cluster/cluster_msg.h"

#include <errno.h>
#include <string.h>

void cluster_msg_hdr_encode(uint8_t *hdr, uint8_t type, uint16_t channel,
			    uint32_t payload_len, uint64_t seq, uint64_t inc)
{
	cluster_put_u32(hdr, CLUSTER_MSG_MAGIC);
	hdr[4] = CLUSTER_MSG_VERSION;
	hdr[5] = type;
	cluster_put_u16(hdr + 6, channel);
	cluster_put_u32(hdr + 8, payload_len);
	cluster_put_u64(hdr + 12, seq);
	cluster_put_u64(hdr + 20, inc);
}

size_t cluster_msg_ack_encode(uint8_t *buf, uint64_t index)
{
	cluster_msg_hdr_encode(buf, CLUSTER_MSG_ACK, 0, CLUSTER_MSG_ACK_LEN, 0, 0);
	cluster_put_u64(buf + CLUSTER_MSG_HDR_LEN, index);
	return CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_ACK_LEN;
}

size_t cluster_msg_announce_encode(uint8_t *buf, uint64_t tag,
				   uint64_t state_epoch, uint64_t seen_epoch,
				   uint64_t index)
{
	uint8_t *p = buf + CLUSTER_MSG_HDR_LEN;

	cluster_msg_hdr_encode(buf, CLUSTER_MSG_ANNOUNCE, 0,
			       CLUSTER_MSG_ANNOUNCE_LEN, 0, 0);
	cluster_put_u64(p, tag);
	cluster_put_u64(p + 8, state_epoch);
	cluster_put_u64(p + 16, seen_epoch);
	cluster_put_u64(p + 24, index);
	return CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_ANNOUNCE_LEN;
}

size_t cluster_msg_loaded_encode(uint8_t *buf, uint64_t tag)
{
	cluster_msg_hdr_encode(buf, CLUSTER_MSG_LOADED, 0,
			       CLUSTER_MSG_LOADED_LEN, 0, 0);
	cluster_put_u64(buf + CLUSTER_MSG_HDR_LEN, tag);
	return CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_LOADED_LEN;
}

size_t cluster_msg_snapshot_hdr_encode(uint8_t *buf, uint64_t tag,
				       uint32_t total, uint32_t offset,
				       uint32_t frag_len)
{
	uint8_t *p = buf + CLUSTER_MSG_HDR_LEN;

	cluster_msg_hdr_encode(buf, CLUSTER_MSG_SNAPSHOT, 0,
			       CLUSTER_MSG_SNAPSHOT_HDR_LEN + frag_len, 0, 0);
	cluster_put_u64(p, tag);
	cluster_put_u32(p + 8, total);
	cluster_put_u32(p + 12, offset);
	return CLUSTER_MSG_HDR_LEN + CLUSTER_MSG_SNAPSHOT_HDR_LEN;
}

int cluster_msg_decode(const void *buf, size_t len, struct cluster_msg *m)
{
	const uint8_t *b = buf, *p;
	uint32_t plen;

	memset(m, 0, sizeof(*m));
	if (len < CLUSTER_MSG_HDR_LEN)
		return -EBADMSG;
	if (cluster_get_u32(b) != CLUSTER_MSG_MAGIC)
		return -EBADMSG;
	if (b[4] != CLUSTER_MSG_VERSION)
		return -EPROTONOSUPPORT;
	plen = cluster_get_u32(b + 8);
	if (plen != len - CLUSTER_MSG_HDR_LEN)
		return -EBADMSG;
	m->type = b[5];
	m->channel = cluster_get_u16(b + 6);
	m->seq = cluster_get_u64(b + 12);
	m->inc = cluster_get_u64(b + 20);
	p = b + CLUSTER_MSG_HDR_LEN;

	switch (m->type) {
	case CLUSTER_MSG_DATA:
		m->data = p;
		m->len = plen;
		return 0;
	case CLUSTER_MSG_ACK:
		if (plen != CLUSTER_MSG_ACK_LEN)
			return -EBADMSG;
		m->u.ack.index = cluster_get_u64(p);
		return 0;
	case CLUSTER_MSG_ANNOUNCE:
		if (plen != CLUSTER_MSG_ANNOUNCE_LEN)
			return -EBADMSG;
		m->u.announce.tag = cluster_get_u64(p);
		m->u.announce.state_epoch = cluster_get_u64(p + 8);
		m->u.announce.seen_epoch = cluster_get_u64(p + 16);
		m->u.announce.index = cluster_get_u64(p + 24);
		/* The seen epoch includes the state's own. */
		if (m->u.announce.seen_epoch < m->u.announce.state_epoch)
			return -EBADMSG;
		return 0;
	case CLUSTER_MSG_SNAPSHOT:
		if (plen < CLUSTER_MSG_SNAPSHOT_HDR_LEN)
			return -EBADMSG;
		m->u.snapshot.tag = cluster_get_u64(p);
		m->u.snapshot.total = cluster_get_u32(p + 8);
		m->u.snapshot.offset = cluster_get_u32(p + 12);
		m->data = p + CLUSTER_MSG_SNAPSHOT_HDR_LEN;
		m->len = plen - CLUSTER_MSG_SNAPSHOT_HDR_LEN;
		/* A fragment lies inside the blob; an empty one only when
		 * the blob is empty. */
		if (m->u.snapshot.offset > m->u.snapshot.total ||
		    m->len > m->u.snapshot.total - m->u.snapshot.offset ||
		    (m->len == 0 && m->u.snapshot.total != 0))
			return -EBADMSG;
		return 0;
	case CLUSTER_MSG_LOADED:
		if (plen != CLUSTER_MSG_LOADED_LEN)
			return -EBADMSG;
		m->u.loaded.tag = cluster_get_u64(p);
		return 0;
	default:
		return -EPROTO;
	}
}
