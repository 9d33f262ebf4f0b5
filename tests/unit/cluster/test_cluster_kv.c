/*
 * Unit tests of the replicated key-value map (src/cluster/cluster_kv_state.c):
 * set / compare-and-set / delete and their versions, values past 64 KiB,
 * the op codec, and canonical save / all-or-nothing load (every
 * truncation of a saved map is refused and leaves the map as it was).
 * Pure: no loop, no cluster.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/cluster_kv_state.h"
#include "../t_eq.h"

#define T_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct cluster_kv_op t_op(enum cluster_kv_op_type type,
				 const char *key, uint64_t expect,
				 const char *val)
{
	struct cluster_kv_op op = {
		.type = type, .key = key, .klen = strlen(key),
		.expect = expect, .val = val, .vlen = val ? strlen(val) : 0,
	};
	return op;
}

/* Applies through the codec, as the channel does. */
static int t_apply(struct cluster_kv_state *st, struct cluster_kv_op op,
		   uint64_t index, struct cluster_kv_result *res)
{
	uint8_t buf[1024];
	struct cluster_kv_op dec;
	long n = cluster_kv_op_encode(&op, buf, sizeof(buf));

	if (n < 0) {
		res->status = (int)n;
		return (int)n;
	}
	assert_int_equal(cluster_kv_op_decode(buf, (size_t)n, &dec), 0);
	return cluster_kv_state_apply(st, &dec, index, res);
}

static void t_expect_val(struct cluster_kv_state *st, const char *key,
			 const char *val, uint64_t version)
{
	const struct cluster_kv_entry *e = cluster_kv_state_get(st, key);
	if (!val) {
		if (e)
			fail_msg("%s: present, expected absent", key);
		return;
	}
	if (!e)
		fail_msg("%s: absent, expected '%s'", key, val);
	T_EQ(key, e->vlen, strlen(val));
	assert_memory_equal(e->val, val, e->vlen);
	T_EQ(key, e->version, version);
}

/* One step of a table: op at index, expected status / version, and the
 * key's value and version afterwards (NULL: absent). */
struct t_step {
	enum cluster_kv_op_type type;
	const char *key;
	uint64_t expect;
	const char *val;
	int status;
	uint64_t version;
	bool changed;
	const char *after;
	uint64_t after_version;
};

static void test_kv_ops_table(void **state)
{
	(void)state;
	static const struct t_step steps[] = {
		/* index 1.. in order */
		{ CLUSTER_KV_OP_SET, "a", 0, "1", 0, 1, true, "1", 1 },
		{ CLUSTER_KV_OP_SET, "a", 0, "2", 0, 2, true, "2", 2 },
		/* CAS: expect 0 = must not exist */
		{ CLUSTER_KV_OP_CAS, "a", 0, "x", -ECANCELED, 0, false, "2", 2 },
		{ CLUSTER_KV_OP_CAS, "b", 0, "b1", 0, 4, true, "b1", 4 },
		{ CLUSTER_KV_OP_CAS, "a", 1, "x", -ECANCELED, 0, false, "2", 2 },
		{ CLUSTER_KV_OP_CAS, "a", 2, "3", 0, 6, true, "3", 6 },
		{ CLUSTER_KV_OP_DEL, "a", 0, NULL, 0, 7, true, NULL, 0 },
		/* delete of an absent key: success, no change */
		{ CLUSTER_KV_OP_DEL, "a", 0, NULL, 0, 0, false, NULL, 0 },
		{ CLUSTER_KV_OP_CAS, "a", 6, "y", -ECANCELED, 0, false, NULL, 0 },
		{ CLUSTER_KV_OP_CAS, "a", 0, "z", 0, 10, true, "z", 10 },
		/* empty value is a value */
		{ CLUSTER_KV_OP_SET, "e", 0, "", 0, 11, true, "", 11 },
		/* keys that are prefixes of each other are distinct */
		{ CLUSTER_KV_OP_SET, "ab", 0, "ab", 0, 12, true, "ab", 12 },
		{ CLUSTER_KV_OP_DEL, "ab", 0, NULL, 0, 13, true, NULL, 0 },
	};
	struct cluster_kv_state st;
	struct cluster_kv_result res;

	cluster_kv_state_init(&st);
	for (size_t i = 0; i < T_ARRAY_SIZE(steps); i++) {
		const struct t_step *s = &steps[i];
		char label[32];
		snprintf(label, sizeof(label), "step %zu", i);
		t_apply(&st, t_op(s->type, s->key, s->expect, s->val), i + 1,
			&res);
		T_EQ(label, res.status, s->status);
		T_EQ(label, res.version, s->version);
		T_EQ(label, res.changed, s->changed);
		if (res.changed) {
			assert_string_equal(res.key, s->key);
			if (s->after) {
				T_EQ(label, res.vlen, strlen(s->after));
				assert_non_null(res.val);
			} else {
				assert_null(res.val);
			}
		}
		t_expect_val(&st, s->key, s->after, s->after_version);
	}
	t_expect_val(&st, "b", "b1", 4);
	T_EQ("count", st.count, 3); /* a, b, e */
	cluster_kv_state_reset(&st);
}

static void test_kv_invalid_ops(void **state)
{
	(void)state;
	char longkey[CLUSTER_KV_KEY_MAX + 2];
	struct cluster_kv_state st;
	struct cluster_kv_result res;
	struct cluster_kv_op op;

	memset(longkey, 'k', sizeof(longkey));
	longkey[sizeof(longkey) - 1] = '\0';
	cluster_kv_state_init(&st);

	op = t_op(CLUSTER_KV_OP_SET, "", 0, "v");
	T_EQ("empty key", cluster_kv_state_apply(&st, &op, 1, &res), -EINVAL);
	op = t_op(CLUSTER_KV_OP_SET, longkey, 0, "v");
	T_EQ("long key", cluster_kv_state_apply(&st, &op, 1, &res), -EINVAL);
	longkey[CLUSTER_KV_KEY_MAX] = '\0';
	op = t_op(CLUSTER_KV_OP_SET, longkey, 0, "v");
	T_EQ("max key", cluster_kv_state_apply(&st, &op, 1, &res), 0);
	op = t_op(CLUSTER_KV_OP_SET, "k", 5, "v");
	T_EQ("set with expect", cluster_kv_state_apply(&st, &op, 2, &res),
	     -EINVAL);
	op = t_op(CLUSTER_KV_OP_DEL, "k", 0, "v");
	T_EQ("del with value", cluster_kv_state_apply(&st, &op, 2, &res),
	     -EINVAL);
	op = t_op(7, "k", 0, NULL);
	T_EQ("bad type", cluster_kv_state_apply(&st, &op, 2, &res), -EINVAL);
	op = t_op(CLUSTER_KV_OP_SET, "k\0v", 0, "v");
	op.klen = 3; /* embedded NUL */
	T_EQ("NUL in key", cluster_kv_state_apply(&st, &op, 2, &res), -EINVAL);
	op = t_op(CLUSTER_KV_OP_SET, "k", 0, "v");
	op.vlen = CLUSTER_KV_VALUE_MAX + 1;
	T_EQ("value too big", cluster_kv_state_apply(&st, &op, 2, &res),
	     -EINVAL);
	T_EQ("count", st.count, 1);
	assert_null(cluster_kv_state_get(&st, ""));
	cluster_kv_state_reset(&st);
}

static void test_kv_big_values(void **state)
{
	(void)state;
	static const size_t sizes[] = { 65535, 65536, 65537,
					CLUSTER_KV_VALUE_MAX };
	struct cluster_kv_state st, st2;
	struct cluster_kv_result res;
	uint8_t *val = malloc(CLUSTER_KV_VALUE_MAX);
	uint8_t *wire = malloc(CLUSTER_KV_OP_HDR + 16 +
			       CLUSTER_KV_VALUE_MAX);
	void *saved;
	size_t saved_len;

	assert_true(CLUSTER_KV_VALUE_MAX >= 64 * 1024);
	for (size_t i = 0; i < CLUSTER_KV_VALUE_MAX; i++)
		val[i] = (uint8_t)(i * 31 + 7);
	cluster_kv_state_init(&st);
	cluster_kv_state_init(&st2);
	for (size_t i = 0; i < T_ARRAY_SIZE(sizes); i++) {
		char key[16];
		struct cluster_kv_op op, dec;
		long n;

		snprintf(key, sizeof(key), "big/%zu", i);
		op = (struct cluster_kv_op){ .type = CLUSTER_KV_OP_SET,
					     .key = key, .klen = strlen(key),
					     .val = val, .vlen = sizes[i] };
		n = cluster_kv_op_encode(&op, wire, CLUSTER_KV_OP_HDR + 16 +
					 CLUSTER_KV_VALUE_MAX);
		T_EQ(key, n, CLUSTER_KV_OP_HDR + strlen(key) + sizes[i]);
		assert_true((size_t)n <= CLUSTER_MSG_MAX);
		T_EQ(key, cluster_kv_op_decode(wire, (size_t)n, &dec), 0);
		T_EQ(key, cluster_kv_state_apply(&st, &dec, i + 1, &res), 0);
		const struct cluster_kv_entry *e = cluster_kv_state_get(&st,
									key);
		assert_non_null(e);
		T_EQ(key, e->vlen, sizes[i]);
		assert_memory_equal(e->val, val, sizes[i]);
	}
	assert_int_equal(cluster_kv_state_save(&st, &saved, &saved_len), 0);
	assert_int_equal(cluster_kv_state_load(&st2, saved, saved_len), 0);
	const struct cluster_kv_entry *e = cluster_kv_state_get(&st2, "big/3");
	assert_non_null(e);
	T_EQ("reloaded", e->vlen, CLUSTER_KV_VALUE_MAX);
	assert_memory_equal(e->val, val, CLUSTER_KV_VALUE_MAX);
	free(saved);
	free(val);
	free(wire);
	cluster_kv_state_reset(&st);
	cluster_kv_state_reset(&st2);
}

static void test_kv_codec_rejects(void **state)
{
	(void)state;
	struct cluster_kv_op op = t_op(CLUSTER_KV_OP_CAS, "key", 9, "value");
	struct cluster_kv_op dec;
	uint8_t buf[64], bad[64];
	long n = cluster_kv_op_encode(&op, buf, sizeof(buf));

	T_EQ("size", n, CLUSTER_KV_OP_HDR + 3 + 5);
	T_EQ("small buffer", cluster_kv_op_encode(&op, buf, 10), -ENOSPC);
	assert_int_equal(cluster_kv_op_decode(buf, (size_t)n, &dec), 0);
	T_EQ("type", dec.type, CLUSTER_KV_OP_CAS);
	T_EQ("expect", dec.expect, 9);
	T_EQ("klen", dec.klen, 3);
	assert_memory_equal(dec.key, "key", 3);
	assert_memory_equal(dec.val, "value", 5);
	/* every truncation and one extra byte */
	for (long cut = 0; cut < n; cut++)
		T_EQ("truncated", cluster_kv_op_decode(buf, (size_t)cut, &dec),
		     -EINVAL);
	T_EQ("trailing", cluster_kv_op_decode(buf, (size_t)n + 1, &dec),
	     -EINVAL);
	/* every single-byte corruption of the header either decodes to a
	 * valid op or is refused: never out of bounds (ASan) */
	for (long i = 0; i < (long)CLUSTER_KV_OP_HDR; i++) {
		for (int v = 0; v < 256; v += 17) {
			memcpy(bad, buf, (size_t)n);
			bad[i] = (uint8_t)v;
			if (cluster_kv_op_decode(bad, (size_t)n, &dec) == 0)
				assert_true(cluster_kv_op_valid(&dec));
		}
	}
	memcpy(bad, buf, (size_t)n);
	bad[0] = 2;
	T_EQ("version", cluster_kv_op_decode(bad, (size_t)n, &dec), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[1] = 0;
	T_EQ("type 0", cluster_kv_op_decode(bad, (size_t)n, &dec), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[CLUSTER_KV_OP_HDR + 1] = 0;
	T_EQ("NUL in key", cluster_kv_op_decode(bad, (size_t)n, &dec),
	     -EINVAL);
}

static void t_fill(struct cluster_kv_state *st, unsigned n, unsigned seed)
{
	struct cluster_kv_result res;
	uint64_t index = 1;
	for (unsigned i = 0; i < n; i++) {
		char key[32], val[64];
		snprintf(key, sizeof(key), "k/%u", (i * 7919u + seed) % 1000);
		snprintf(val, sizeof(val), "v%u-%u", i, seed);
		t_apply(st, t_op(CLUSTER_KV_OP_SET, key, 0, val), index++,
			&res);
		assert_int_equal(res.status, 0);
	}
}

static void test_kv_save_load(void **state)
{
	(void)state;
	struct cluster_kv_state a, b, c;
	struct cluster_kv_result res;
	void *sa, *sb, *sc;
	size_t la, lb, lc;

	cluster_kv_state_init(&a);
	cluster_kv_state_init(&b);
	cluster_kv_state_init(&c);
	t_fill(&a, 20, 3);
	t_apply(&a, t_op(CLUSTER_KV_OP_DEL, "k/3", 0, NULL), 100, &res);
	assert_int_equal(cluster_kv_state_save(&a, &sa, &la), 0);

	/* round trip gives the same bytes */
	assert_int_equal(cluster_kv_state_load(&b, sa, la), 0);
	assert_int_equal(cluster_kv_state_save(&b, &sb, &lb), 0);
	T_EQ("round trip", la, lb);
	assert_memory_equal(sa, sb, la);

	/* c holds something else; every truncation is refused and c keeps
	 * its own state */
	t_fill(&c, 5, 11);
	assert_int_equal(cluster_kv_state_save(&c, &sc, &lc), 0);
	for (size_t cut = 0; cut < la; cut++) {
		void *s2;
		size_t l2;
		if (cluster_kv_state_load(&c, sa, cut) != -EINVAL)
			fail_msg("truncation at %zu of %zu accepted", cut, la);
		assert_int_equal(cluster_kv_state_save(&c, &s2, &l2), 0);
		T_EQ("unchanged", l2, lc);
		assert_memory_equal(s2, sc, lc);
		free(s2);
	}
	/* a trailing byte */
	uint8_t *longer = malloc(la + 1);
	memcpy(longer, sa, la);
	longer[la] = 0;
	T_EQ("trailing", cluster_kv_state_load(&c, longer, la + 1), -EINVAL);
	free(longer);

	/* malformed fields */
	uint8_t *bad = malloc(la);
	static const struct { size_t off; uint8_t v; const char *what; } m[] = {
		{ 0, 'X', "magic" },
		{ 5, 2, "format" },
		{ 7, 1, "flags" },
		{ 11, 0x7f, "count" },
		{ 12 + 3, 0, "reserved" },
		{ 12 + 8 + 7, 0, "version 0" }, /* low byte of a small version */
		{ 12 + 16 + 1, 0, "NUL in key" },
	};
	for (size_t i = 0; i < T_ARRAY_SIZE(m); i++) {
		memcpy(bad, sa, la);
		if (m[i].off == 12 + 8 + 7)
			memset(bad + 12 + 8, 0, 8);
		else
			bad[m[i].off] = m[i].v;
		if (m[i].off == 12 + 3)
			bad[m[i].off] = 1;
		if (cluster_kv_state_load(&c, bad, la) != -EINVAL)
			fail_msg("%s accepted", m[i].what);
	}
	free(bad);

	/* keys out of order: swap the first two entries of a saved map of
	 * two same-sized entries */
	{
		struct cluster_kv_state d;
		void *sd;
		size_t ld;
		cluster_kv_state_init(&d);
		t_apply(&d, t_op(CLUSTER_KV_OP_SET, "x1", 0, "aa"), 1, &res);
		t_apply(&d, t_op(CLUSTER_KV_OP_SET, "x2", 0, "bb"), 2, &res);
		assert_int_equal(cluster_kv_state_save(&d, &sd, &ld), 0);
		size_t esz = (ld - 12) / 2;
		uint8_t *sw = malloc(ld);
		memcpy(sw, sd, 12);
		memcpy(sw + 12, (uint8_t *)sd + 12 + esz, esz);
		memcpy(sw + 12 + esz, (uint8_t *)sd + 12, esz);
		T_EQ("out of order", cluster_kv_state_load(&c, sw, ld),
		     -EINVAL);
		/* a duplicate key */
		memcpy(sw + 12 + esz, sw + 12, esz);
		T_EQ("duplicate", cluster_kv_state_load(&c, sw, ld), -EINVAL);
		free(sw);
		free(sd);
		cluster_kv_state_reset(&d);
	}

	/* loading the empty map */
	cluster_kv_state_reset(&b);
	void *se;
	size_t le;
	assert_int_equal(cluster_kv_state_save(&b, &se, &le), 0);
	T_EQ("empty", le, 12);
	assert_int_equal(cluster_kv_state_load(&c, se, le), 0);
	T_EQ("emptied", c.count, 0);
	free(se);

	free(sa);
	free(sb);
	free(sc);
	cluster_kv_state_reset(&a);
	cluster_kv_state_reset(&b);
	cluster_kv_state_reset(&c);
}

/* Two maps fed the same ops in different insertion histories end up with
 * the same bytes when they hold the same keys, values and versions. */
static void test_kv_canonical(void **state)
{
	(void)state;
	struct cluster_kv_state a, b;
	struct cluster_kv_result res;
	void *sa, *sb;
	size_t la, lb;
	unsigned seed = 12345;

	cluster_kv_state_init(&a);
	cluster_kv_state_init(&b);
	for (uint64_t idx = 1; idx <= 5000; idx++) {
		char key[16], val[16];
		seed = seed * 1103515245u + 12345u;
		snprintf(key, sizeof(key), "r/%u", (seed >> 16) % 64);
		snprintf(val, sizeof(val), "%u", seed);
		struct cluster_kv_op op;
		switch ((seed >> 8) % 3) {
		case 0:
			op = t_op(CLUSTER_KV_OP_SET, key, 0, val);
			break;
		case 1: {
			const struct cluster_kv_entry *e =
				cluster_kv_state_get(&a, key);
			op = t_op(CLUSTER_KV_OP_CAS, key,
				  e && (seed & 1) ? e->version : 0, val);
			break;
		}
		default:
			op = t_op(CLUSTER_KV_OP_DEL, key, 0, NULL);
		}
		struct cluster_kv_result rb;
		t_apply(&a, op, idx, &res);
		t_apply(&b, op, idx, &rb);
		T_EQ("same status", res.status, rb.status);
		T_EQ("same version", res.version, rb.version);
		assert_true(res.status == 0 || res.status == -ECANCELED);
	}
	assert_int_equal(cluster_kv_state_save(&a, &sa, &la), 0);
	assert_int_equal(cluster_kv_state_save(&b, &sb, &lb), 0);
	T_EQ("len", la, lb);
	assert_memory_equal(sa, sb, la);
	/* versions only grow: every version is a past index */
	for (uint32_t i = 0; i < a.count; i++)
		assert_true(a.ents[i]->version >= 1 &&
			    a.ents[i]->version <= 5000);
	free(sa);
	free(sb);
	cluster_kv_state_reset(&a);
	cluster_kv_state_reset(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_ops_table),
		cmocka_unit_test(test_kv_invalid_ops),
		cmocka_unit_test(test_kv_big_values),
		cmocka_unit_test(test_kv_codec_rejects),
		cmocka_unit_test(test_kv_save_load),
		cmocka_unit_test(test_kv_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
