/*
 * The cluster service's wire codec: plain, versioned, big-endian messages
 * with an explicit encoder and decoder. Every message is a fixed header
 * followed by a type-specific payload; no pointer and no host-endian
 * integer crosses the wire.
 *
 *   header (CLUSTER_MSG_HDR_LEN = 28 bytes, big-endian):
 *     u32 magic 'CTGC' | u8 version | u8 type | u16 channel |
 *     u32 payload length | u64 seq | u64 incarnation
 *   DATA:      channel payload (channel = wire id, seq = submitter's
 *              seq, incarnation = the submitter's, random per open)
 *   ACK:       u64 index           ("the sender has applied up to index")
 *   ANNOUNCE:  u64 tag | u64 state epoch | u64 seen epoch | u64 index
 *   SNAPSHOT:  u64 tag | u32 total | u32 offset | fragment bytes
 *   LOADED:    u64 tag             ("the sender loaded the snapshot")
 *
 * Deliberately NOT here: what the messages mean (cluster.c) and the
 * layout of the snapshot blob the fragments carry (cluster.c too). The
 * decoder rejects, it never repairs: a message with a bad magic, an
 * unknown version or type, or a length that does not match is refused
 * whole.
 */
#ifndef CTGT_CLUSTER_MSG_H
#define CTGT_CLUSTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MSG_MAGIC 0x43544743u /* "CTGC" */
#define CLUSTER_MSG_VERSION 1
#define CLUSTER_MSG_HDR_LEN 28u

enum cluster_msg_type {
	CLUSTER_MSG_DATA = 1,
	CLUSTER_MSG_ACK = 2,
	CLUSTER_MSG_ANNOUNCE = 3,
	CLUSTER_MSG_SNAPSHOT = 4,
	CLUSTER_MSG_LOADED = 5,
};

#define CLUSTER_MSG_ACK_LEN 8u
#define CLUSTER_MSG_ANNOUNCE_LEN 32u
#define CLUSTER_MSG_SNAPSHOT_HDR_LEN 16u /* before the fragment bytes */
#define CLUSTER_MSG_LOADED_LEN 8u

/* A decoded message; data points into the decoded buffer. */
struct cluster_msg {
	uint8_t type;
	uint16_t channel;
	uint64_t seq;
	uint64_t inc;
	union {
		struct {
			uint64_t index;
		} ack;
		struct {
			uint64_t tag;
			uint64_t state_epoch;
			uint64_t seen_epoch;
			uint64_t index;
		} announce;
		struct {
			uint64_t tag;
			uint32_t total;
			uint32_t offset;
		} snapshot;
		struct {
			uint64_t tag;
		} loaded;
	} u;
	const void *data; /* DATA payload / SNAPSHOT fragment */
	size_t len;
};

/* Fills a header into hdr[CLUSTER_MSG_HDR_LEN]. */
void cluster_msg_hdr_encode(uint8_t *hdr, uint8_t type, uint16_t channel,
			    uint32_t payload_len, uint64_t seq, uint64_t inc);

/* Whole fixed-size messages into buf; return the length written. The
 * header's seq and incarnation are 0 in these. */
size_t cluster_msg_ack_encode(uint8_t *buf, uint64_t index);
size_t cluster_msg_announce_encode(uint8_t *buf, uint64_t tag,
				   uint64_t state_epoch, uint64_t seen_epoch,
				   uint64_t index);
size_t cluster_msg_loaded_encode(uint8_t *buf, uint64_t tag);
/* The header and SNAPSHOT fields (HDR_LEN + SNAPSHOT_HDR_LEN bytes);
 * the fragment bytes follow in the caller's buffer or iovec. */
size_t cluster_msg_snapshot_hdr_encode(uint8_t *buf, uint64_t tag,
				       uint32_t total, uint32_t offset,
				       uint32_t frag_len);

/* 0, or -EBADMSG (bad magic, short, length mismatch, bad fields),
 * -EPROTONOSUPPORT (unknown version), -EPROTO (unknown type). */
int cluster_msg_decode(const void *buf, size_t len, struct cluster_msg *m);

/* Big-endian helpers, shared with the snapshot blob codec. */
static inline void cluster_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void cluster_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void cluster_put_u64(uint8_t *p, uint64_t v)
{
	cluster_put_u32(p, (uint32_t)(v >> 32));
	cluster_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t cluster_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t cluster_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t cluster_get_u64(const uint8_t *p)
{
	return ((uint64_t)cluster_get_u32(p) << 32) | cluster_get_u32(p + 4);
}

#endif
