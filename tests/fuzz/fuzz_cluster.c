/*
 * libFuzzer harness: every decoder of the cluster service that reads bytes
 * another node sent. The first input byte picks the target:
 *   0  cluster_msg_decode (the wire header and each message type)
 *   1  a run of KV ops: each decoded, the valid ones applied in order
 *   2  cluster_kv_state_load (a state transfer of the KV store)
 *   3  a run of lock ops from several nodes, with node departures
 *   4  cluster_lock_table_load (a state transfer of the lock table)
 * Any input must be decoded or refused without a crash or an out-of-bounds
 * read, and the oracles below must hold: what loads saves back to the same
 * bytes (the formats are canonical), a refused load leaves the state as it
 * was, and the lock table keeps its invariants after every op.
 *
 * Runs (modes 1 and 3) are chunks: [u8 node][u16 length][op bytes]...; a
 * zero length in mode 3 means "node left".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_kv_state.h"
#include "cluster/cluster_lock_table.h"
#include "cluster/cluster_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A copy of exactly len bytes, so a read past the input is caught. */
static uint8_t *fuzz_cluster_dup(const uint8_t *p, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	if (b && len)
		memcpy(b, p, len);
	return b;
}

/* Whether saving st gives exactly img. */
static bool fuzz_cluster_kv_saves_as(const struct cluster_kv_state *st,
				     const void *img, size_t len)
{
	void *out = NULL;
	size_t olen = 0;
	bool same;

	if (cluster_kv_state_save(st, &out, &olen))
		return true; /* out of memory: nothing to compare */
	same = olen == len && memcmp(out, img, len) == 0;
	free(out);
	return same;
}

static bool fuzz_cluster_lock_saves_as(const struct cluster_lock_table *t,
				       const void *img, size_t len)
{
	void *out = NULL;
	size_t olen = 0;
	bool same;

	if (cluster_lock_table_save(t, &out, &olen))
		return true;
	same = olen == len && memcmp(out, img, len) == 0;
	free(out);
	return same;
}

static void fuzz_cluster_msg(const uint8_t *p, size_t len)
{
	uint8_t *b = fuzz_cluster_dup(p, len);
	struct cluster_msg m;

	if (!b)
		return;
	if (cluster_msg_decode(b, len, &m) == 0 && m.data &&
	    ((const uint8_t *)m.data < b ||
	     (const uint8_t *)m.data + m.len > b + len))
		abort(); /* payload outside the message */
	free(b);
}

static void fuzz_cluster_kv_ops(const uint8_t *p, size_t len)
{
	struct cluster_kv_state st, again;
	uint64_t index = 0;
	void *img = NULL;
	size_t ilen = 0;

	cluster_kv_state_init(&st);
	cluster_kv_state_init(&again);
	while (len >= 3) {
		size_t n = (size_t)p[1] << 8 | p[2];
		struct cluster_kv_result res;
		struct cluster_kv_op op;
		uint8_t *b;

		p += 3;
		len -= 3;
		if (n > len)
			n = len;
		b = fuzz_cluster_dup(p, n);
		if (!b)
			break;
		if (cluster_kv_op_decode(b, n, &op) == 0) {
			if (!cluster_kv_op_valid(&op))
				abort(); /* decode accepted an invalid op */
			cluster_kv_state_apply(&st, &op, ++index, &res);
		}
		free(b);
		p += n;
		len -= n;
	}
	/* The applied state survives a transfer unchanged. */
	if (cluster_kv_state_save(&st, &img, &ilen) == 0) {
		if (cluster_kv_state_load(&again, img, ilen) != 0 ||
		    !fuzz_cluster_kv_saves_as(&again, img, ilen))
			abort();
		free(img);
	}
	cluster_kv_state_reset(&again);
	cluster_kv_state_reset(&st);
}

static void fuzz_cluster_kv_load(const uint8_t *p, size_t len)
{
	static const uint8_t key[] = "fuzz";
	struct cluster_kv_op op = {
		.type = CLUSTER_KV_OP_SET, .key = (const char *)key,
		.klen = sizeof(key) - 1, .val = key, .vlen = 4,
	};
	struct cluster_kv_result res;
	struct cluster_kv_state st;
	void *before = NULL;
	size_t blen = 0;
	uint8_t *b = fuzz_cluster_dup(p, len);

	cluster_kv_state_init(&st);
	cluster_kv_state_apply(&st, &op, 1, &res);
	if (b && cluster_kv_state_save(&st, &before, &blen) == 0) {
		if (cluster_kv_state_load(&st, b, len) == 0) {
			if (!fuzz_cluster_kv_saves_as(&st, b, len))
				abort(); /* not canonical */
		} else if (!fuzz_cluster_kv_saves_as(&st, before, blen)) {
			abort(); /* a refused load changed the map */
		}
	}
	free(before);
	free(b);
	cluster_kv_state_reset(&st);
}

static void fuzz_cluster_lock_check(const struct cluster_lock_table *t)
{
	char why[128];

	if (cluster_lock_table_check(t, why, sizeof(why)))
		abort();
}

static void fuzz_cluster_lock_ops(const uint8_t *p, size_t len)
{
	struct cluster_lock_table t, again;
	struct cluster_lock_result res;
	void *img = NULL;
	size_t ilen = 0;

	cluster_lock_table_init(&t);
	cluster_lock_table_init(&again);
	while (len >= 3) {
		uint32_t node = 1 + p[0] % 5;
		size_t n = (size_t)p[1] << 8 | p[2];
		struct cluster_lock_op op;
		uint8_t *b;

		p += 3;
		len -= 3;
		if (n > len)
			n = len;
		if (n == 0) {
			cluster_lock_table_node_left(&t, node, &res);
			fuzz_cluster_lock_check(&t);
			continue;
		}
		b = fuzz_cluster_dup(p, n);
		if (!b)
			break;
		if (cluster_lock_op_decode(b, n, &op) == 0) {
			if (!cluster_lock_op_valid(&op))
				abort();
			cluster_lock_table_apply(&t, node, &op, &res);
			fuzz_cluster_lock_check(&t);
		}
		free(b);
		p += n;
		len -= n;
	}
	if (cluster_lock_table_save(&t, &img, &ilen) == 0) {
		if (cluster_lock_table_load(&again, img, ilen) != 0 ||
		    !fuzz_cluster_lock_saves_as(&again, img, ilen))
			abort();
		free(img);
	}
	cluster_lock_table_reset(&again);
	cluster_lock_table_reset(&t);
}

static void fuzz_cluster_lock_load(const uint8_t *p, size_t len)
{
	static const char name[] = "fuzz";
	struct cluster_lock_op op = {
		.type = CLUSTER_LOCK_OP_REQUEST, .req_id = 1, .name = name,
		.nlen = sizeof(name) - 1, .mode = CLUSTER_LOCK_EXCLUSIVE,
	};
	struct cluster_lock_result res;
	struct cluster_lock_table t;
	void *before = NULL;
	size_t blen = 0;
	uint8_t *b = fuzz_cluster_dup(p, len);

	cluster_lock_table_init(&t);
	cluster_lock_table_apply(&t, 1, &op, &res);
	if (b && cluster_lock_table_save(&t, &before, &blen) == 0) {
		if (cluster_lock_table_load(&t, b, len) == 0) {
			fuzz_cluster_lock_check(&t);
			if (!fuzz_cluster_lock_saves_as(&t, b, len))
				abort();
		} else if (!fuzz_cluster_lock_saves_as(&t, before, blen)) {
			abort();
		}
	}
	free(before);
	free(b);
	cluster_lock_table_reset(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_cluster_msg(data + 1, size - 1);
		break;
	case 1:
		fuzz_cluster_kv_ops(data + 1, size - 1);
		break;
	case 2:
		fuzz_cluster_kv_load(data + 1, size - 1);
		break;
	case 3:
		fuzz_cluster_lock_ops(data + 1, size - 1);
		break;
	case 4:
		fuzz_cluster_lock_load(data + 1, size - 1);
		break;
	}
	return 0;
}
