/*
 * The replicated key-value map as a pure state machine: apply one decoded
 * set / compare-and-set / delete at a commit index, get, canonical save and
 * all-or-nothing load, and the op's wire codec. Internal to src/cluster.
 *
 * Deliberately NOT here: I/O, the loop, the cluster, watches and
 * completions (cluster_kv.c turns a result into those). Every decision
 * depends only on the state, the op and the commit index, so every member
 * that applies the same ops in the same order holds the same map, and
 * cluster_kv_state_save() gives the same bytes.
 *
 * The one impurity is malloc: an apply that cannot allocate returns
 * -ENOMEM and leaves the map unchanged, which would make this member
 * diverge; cluster_kv.c logs it as an error (see there).
 */
#ifndef CTGT_CLUSTER_KV_STATE_H
#define CTGT_CLUSTER_KV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"

/* One key: key and value live in the same allocation. */
struct cluster_kv_entry {
	uint64_t version;      /* commit index of the last change; never 0 */
	uint32_t vlen;
	uint16_t klen;
	uint8_t *val;          /* points into data, after the key's NUL */
	char key[];            /* klen bytes + NUL, then the value */
};

/* Entries sorted by key (bytewise, as strcmp), so lookups are a binary
 * search and save is canonical without sorting. */
struct cluster_kv_state {
	struct cluster_kv_entry **ents;
	uint32_t count;
	uint32_t cap;
	uint64_t bytes;        /* keys + values, for logs and limits */
};

enum cluster_kv_op_type {
	CLUSTER_KV_OP_SET = 1,
	CLUSTER_KV_OP_CAS = 2,
	CLUSTER_KV_OP_DEL = 3,
};

/* A decoded op. key is NOT NUL-terminated (it points into the message);
 * klen is its length. */
struct cluster_kv_op {
	enum cluster_kv_op_type type;
	const char *key;
	size_t klen;
	uint64_t expect;       /* CAS only: required version, 0 = absent */
	const void *val;       /* SET/CAS */
	size_t vlen;
};

/* The outcome of one apply, and the change event for watches. */
struct cluster_kv_result {
	int status;            /* 0, -ECANCELED (CAS mismatch), -EINVAL
	                          (invalid op), -ENOMEM (map unchanged) */
	uint64_t version;      /* status 0: the key's new version; a delete
	                          of a present key: the commit index; a
	                          delete of an absent key: 0 */
	bool changed;          /* the map changed: fire watches */
	char key[CLUSTER_KV_KEY_MAX + 1];
	const void *val;       /* NULL: deleted; else valid until the next
	                          apply/load/reset */
	size_t vlen;
};

void cluster_kv_state_init(struct cluster_kv_state *st);
/* Frees every entry; the state is then empty (init'ed). */
void cluster_kv_state_reset(struct cluster_kv_state *st);

/* Whether op is well formed: type known, 1..CLUSTER_KV_KEY_MAX key bytes
 * without NUL, value <= CLUSTER_KV_VALUE_MAX, no value for DEL, no expect
 * outside CAS. */
bool cluster_kv_op_valid(const struct cluster_kv_op *op);

/* Applies op at commit index (> every version in the map). Always fills
 * res. Returns res->status. */
int cluster_kv_state_apply(struct cluster_kv_state *st,
			   const struct cluster_kv_op *op, uint64_t index,
			   struct cluster_kv_result *res);

/* NULL when absent. key is NUL-terminated. */
const struct cluster_kv_entry *
cluster_kv_state_get(const struct cluster_kv_state *st, const char *key);

/* Canonical bytes (malloc'ed): equal maps give equal bytes.
 *   u32 magic "CKVS", u16 format version (1), u16 flags (0), u32 count,
 *   count x { u16 klen, u16 0, u32 vlen, u64 version, key, value }
 * big-endian, keys strictly ascending. 0 or -ENOMEM. */
int cluster_kv_state_save(const struct cluster_kv_state *st, void **data,
			  size_t *len);
/* Replaces the map with saved bytes, all or nothing: 0, -EINVAL
 * (malformed, truncated, trailing bytes, keys out of order, a limit
 * exceeded: the map is unchanged) or -ENOMEM. */
int cluster_kv_state_load(struct cluster_kv_state *st, const void *data,
			  size_t len);

/* Wire codec of one op:
 *   u8 format version (1), u8 type, u16 klen, u32 vlen, u64 expect,
 *   key (klen bytes, no NUL), value (vlen bytes)
 * big-endian. */
#define CLUSTER_KV_OP_WIRE_VERSION 1
#define CLUSTER_KV_OP_HDR 16u

size_t cluster_kv_op_size(const struct cluster_kv_op *op);
/* Writes the op into buf (cap bytes). Returns the size, -EINVAL (invalid
 * op) or -ENOSPC. */
long cluster_kv_op_encode(const struct cluster_kv_op *op, void *buf,
			  size_t cap);
/* Decodes defensively: 0 (op points into buf) or -EINVAL for anything
 * malformed (unknown version or type, lengths that disagree with len,
 * an invalid op). */
int cluster_kv_op_decode(const void *buf, size_t len,
			 struct cluster_kv_op *op);

#endif
