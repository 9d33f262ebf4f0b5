/*
 * Unit tests of the replicated lock table (src/cluster/cluster_lock_table.c):
 * the conflict rule (modes x ranges, table-driven), the grant rule (FIFO
 * among conflicting requests, unrelated waiters do not block), release,
 * cancel, node-left, caching and cache-release, the op codec, canonical
 * save / all-or-nothing load, and a seeded random walk that checks the
 * invariants after every op. Pure: no loop, no cluster.
 *
 *   node 1            node 2            node 3
 *     |                 |                 |
 *     +------- ordered ops (apply) -------+
 *                       |
 *          lock table: resource -> entries in commit order
 *          "lun0"  [start, start + len) S/X  granted | waiting
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

#include "cluster/cluster_lock_table.h"
#include "../t_eq.h"

#define T_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define S CLUSTER_LOCK_SHARED
#define X CLUSTER_LOCK_EXCLUSIVE

static struct cluster_lock_table tab;
static struct cluster_lock_result res;

static void t_check(const char *label)
{
	char why[160];
	if (cluster_lock_table_check(&tab, why, sizeof(why)))
		fail_msg("%s: invariant broken: %s", label, why);
}

/* Every op goes through the codec, as the channel does. */
static int t_op(enum cluster_lock_op_type type, uint32_t node, uint64_t id,
		const char *name, uint64_t start, uint64_t len,
		enum cluster_lock_mode mode, bool cache)
{
	struct cluster_lock_op op = {
		.type = type, .req_id = id, .name = name,
		.nlen = strlen(name), .start = start, .len = len,
		.mode = mode, .cache = cache,
	}, dec;
	uint8_t buf[CLUSTER_LOCK_OP_MAX];
	long n = cluster_lock_op_encode(&op, buf, sizeof(buf));
	int rc;

	if (n < 0)
		return (int)n;
	assert_int_equal(cluster_lock_op_decode(buf, (size_t)n, &dec), 0);
	rc = cluster_lock_table_apply(&tab, node, &dec, &res);
	t_check("after op");
	return rc;
}

static int t_req(uint32_t node, uint64_t id, const char *name,
		 uint64_t start, uint64_t len, enum cluster_lock_mode mode)
{
	return t_op(CLUSTER_LOCK_OP_REQUEST, node, id, name, start, len, mode,
		    false);
}

static int t_req_cached(uint32_t node, uint64_t id, const char *name,
			uint64_t start, uint64_t len,
			enum cluster_lock_mode mode)
{
	return t_op(CLUSTER_LOCK_OP_REQUEST, node, id, name, start, len, mode,
		    true);
}

static int t_rel(uint32_t node, uint64_t id, const char *name)
{
	return t_op(CLUSTER_LOCK_OP_RELEASE, node, id, name, 0, 0, S, false);
}

static int t_cancel(uint32_t node, uint64_t id, const char *name)
{
	return t_op(CLUSTER_LOCK_OP_CANCEL, node, id, name, 0, 0, S, false);
}

static int t_cache_rel(uint32_t node, uint64_t id, const char *name)
{
	return t_op(CLUSTER_LOCK_OP_CACHE_RELEASE, node, id, name, 0, 0, S,
		    false);
}

static bool t_granted(uint32_t node, uint64_t id, const char *name)
{
	struct cluster_lock_entry *e =
		cluster_lock_table_find(&tab, name, strlen(name), node, id);
	if (!e)
		fail_msg("%u/%llu on %s: no such entry", node,
			 (unsigned long long)id, name);
	return e->granted;
}

static bool t_present(uint32_t node, uint64_t id, const char *name)
{
	return cluster_lock_table_find(&tab, name, strlen(name), node, id);
}

/* The ids (node * 1000 + req_id) of a result list, in order, as a
 * string "1001,2001". */
static const char *t_list(struct list_head *h, bool blockers)
{
	static char buf[256];
	struct cluster_lock_entry *e;
	size_t off = 0;

	buf[0] = '\0';
	if (!blockers) {
		list_for_each_entry(e, h, grant_link)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
				"%s%llu", off ? "," : "",
				(unsigned long long)(e->node * 1000 +
						     e->req_id));
	} else {
		list_for_each_entry(e, h, block_link)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
				"%s%llu", off ? "," : "",
				(unsigned long long)(e->node * 1000 +
						     e->req_id));
	}
	return buf;
}

#define T_GRANTED(expect) assert_string_equal(t_list(&res.granted, false), \
					      (expect))
#define T_BLOCKERS(expect) assert_string_equal(t_list(&res.blockers, true), \
					       (expect))

static int t_setup(void **state)
{
	(void)state;
	cluster_lock_table_init(&tab);
	return 0;
}

static int t_teardown(void **state)
{
	(void)state;
	cluster_lock_table_reset(&tab);
	return 0;
}

/* ------------------------------------------------------------- conflicts */

struct t_conflict {
	const char *what;
	const char *na; uint64_t sa, la; enum cluster_lock_mode ma;
	const char *nb; uint64_t sb, lb; enum cluster_lock_mode mb;
	bool conflict;
};

static void test_lock_conflict_table(void **state)
{
	(void)state;
	static const struct t_conflict rows[] = {
		{ "S/S whole",        "r", 0, 0, S,    "r", 0, 0, S,    false },
		{ "S/X whole",        "r", 0, 0, S,    "r", 0, 0, X,    true },
		{ "X/S whole",        "r", 0, 0, X,    "r", 0, 0, S,    true },
		{ "X/X whole",        "r", 0, 0, X,    "r", 0, 0, X,    true },
		{ "X/X other name",   "r", 0, 0, X,    "q", 0, 0, X,    false },
		{ "X/X same range",   "r", 10, 5, X,   "r", 10, 5, X,   true },
		{ "X/X adjacent lo",  "r", 10, 5, X,   "r", 5, 5, X,    false },
		{ "X/X adjacent hi",  "r", 10, 5, X,   "r", 15, 5, X,   false },
		{ "X/X overlap 1 lo", "r", 10, 5, X,   "r", 6, 5, X,    true },
		{ "X/X overlap 1 hi", "r", 10, 5, X,   "r", 14, 5, X,   true },
		{ "X/X inside",       "r", 10, 5, X,   "r", 11, 1, X,   true },
		{ "X/X around",       "r", 10, 5, X,   "r", 0, 100, X,  true },
		{ "S/S overlap",      "r", 10, 5, S,   "r", 12, 5, S,   false },
		{ "S/X overlap",      "r", 10, 5, S,   "r", 12, 5, X,   true },
		{ "whole/range X",    "r", 0, 0, X,    "r", 1000, 1, X, true },
		{ "range/whole S-X",  "r", 7, 1, S,    "r", 0, 0, X,    true },
		{ "whole/range S-S",  "r", 0, 0, S,    "r", 7, 1, S,    false },
		{ "top of space",     "r", UINT64_MAX - 1, 1, X,
		                      "r", UINT64_MAX - 2, 2, X,        true },
		{ "top adjacent",     "r", UINT64_MAX - 1, 1, X,
		                      "r", UINT64_MAX - 3, 2, X,        false },
	};

	for (size_t i = 0; i < T_ARRAY_SIZE(rows); i++) {
		const struct t_conflict *r = &rows[i];
		cluster_lock_table_init(&tab);
		assert_int_equal(t_req(1, 1, r->na, r->sa, r->la, r->ma), 0);
		assert_int_equal(t_req(2, 1, r->nb, r->sb, r->lb, r->mb), 0);
		if (t_granted(2, 1, r->nb) == r->conflict)
			fail_msg("%s: second %s", r->what,
				 r->conflict ? "granted" : "waits");
		T_GRANTED(r->conflict ? "" : "2001");
		struct cluster_lock_entry *a = cluster_lock_table_find(
			&tab, r->na, strlen(r->na), 1, 1);
		struct cluster_lock_entry *b = cluster_lock_table_find(
			&tab, r->nb, strlen(r->nb), 2, 1);
		T_EQ(r->what, cluster_lock_entry_conflict(a, b), r->conflict);
		T_EQ(r->what, cluster_lock_entry_conflict(b, a), r->conflict);
		/* releasing the first grants the second */
		assert_int_equal(t_rel(1, 1, r->na), 0);
		T_GRANTED(r->conflict ? "2001" : "");
		assert_true(t_granted(2, 1, r->nb));
		cluster_lock_table_reset(&tab);
	}
}

/* ------------------------------------------------------------ grant rule */

static void test_lock_fifo(void **state)
{
	(void)state;
	/* node1 holds S; node2 asks X (waits); node3 asks S: compatible
	 * with the granted S but behind the waiting X, so it waits too. */
	assert_int_equal(t_req(1, 1, "lun0", 0, 0, S), 0);
	T_GRANTED("1001");
	assert_int_equal(t_req(2, 1, "lun0", 0, 0, X), 0);
	T_GRANTED("");
	assert_int_equal(t_req(3, 1, "lun0", 0, 0, S), 0);
	T_GRANTED("");
	assert_false(t_granted(3, 1, "lun0"));
	/* an unrelated resource is not held up */
	assert_int_equal(t_req(3, 2, "lun1", 0, 0, X), 0);
	T_GRANTED("3002");
	/* release S: X goes first, alone */
	assert_int_equal(t_rel(1, 1, "lun0"), 0);
	T_GRANTED("2001");
	assert_false(t_granted(3, 1, "lun0"));
	/* release X: the S behind it */
	assert_int_equal(t_rel(2, 1, "lun0"), 0);
	T_GRANTED("3001");
}

static void test_lock_fifo_ranges(void **state)
{
	(void)state;
	/* X [0,10) granted; X [5,15) waits; X [20,30) does not overlap
	 * either: granted at once; X [12,22) overlaps the waiting [5,15)
	 * and the granted [20,30): waits. */
	assert_int_equal(t_req(1, 1, "d", 0, 10, X), 0);
	assert_int_equal(t_req(2, 1, "d", 5, 10, X), 0);
	T_GRANTED("");
	assert_int_equal(t_req(3, 1, "d", 20, 10, X), 0);
	T_GRANTED("3001");
	assert_int_equal(t_req(1, 2, "d", 12, 10, X), 0);
	T_GRANTED("");
	/* S [10,12) overlaps only the waiting [5,15): FIFO, waits */
	assert_int_equal(t_req(3, 2, "d", 10, 2, S), 0);
	T_GRANTED("");
	assert_int_equal(t_rel(1, 1, "d"), 0);
	T_GRANTED("2001");
	assert_int_equal(t_rel(3, 1, "d"), 0);
	T_GRANTED("");  /* [12,22) still overlaps [5,15) */
	assert_int_equal(t_rel(2, 1, "d"), 0);
	/* both behind it: [12,22) X and [10,12) S do not overlap */
	T_GRANTED("1002,3002");
}

static void test_lock_several_granted_at_once(void **state)
{
	(void)state;
	assert_int_equal(t_req(1, 1, "r", 0, 0, X), 0);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(t_req(2, id, "r", 0, 0, S), 0);
	assert_int_equal(t_req(3, 1, "r", 0, 0, X), 0);
	assert_int_equal(t_req(3, 2, "r", 0, 0, S), 0);
	assert_int_equal(t_rel(1, 1, "r"), 0);
	T_GRANTED("2001,2002,2003,2004");
	assert_false(t_granted(3, 1, "r"));
	assert_false(t_granted(3, 2, "r"));
}

static void test_lock_same_node_conflicts(void **state)
{
	(void)state;
	/* locks belong to users: two requests of one node conflict */
	assert_int_equal(t_req(1, 1, "r", 0, 8, X), 0);
	assert_int_equal(t_req(1, 2, "r", 4, 8, X), 0);
	assert_false(t_granted(1, 2, "r"));
	assert_int_equal(t_rel(1, 1, "r"), 0);
	T_GRANTED("1002");
}

static void test_lock_errors(void **state)
{
	(void)state;
	char longname[CLUSTER_LOCK_NAME_MAX + 2];

	assert_int_equal(t_req(1, 1, "r", 0, 0, X), 0);
	T_EQ("dup id", t_req(1, 1, "r", 5, 1, S), -EEXIST);
	T_EQ("same id other node", t_req(2, 1, "r", 5, 1, S), 0);
	T_EQ("release unknown", t_rel(1, 9, "r"), -ENOENT);
	T_EQ("release other name", t_rel(1, 1, "q"), -ENOENT);
	T_EQ("release of other node", t_rel(3, 1, "r"), -ENOENT);
	T_EQ("cancel granted", t_cancel(1, 1, "r"), -EBUSY);
	assert_true(t_granted(1, 1, "r"));
	T_EQ("cache-release of uncached", t_cache_rel(1, 1, "r"), -EBUSY);
	T_EQ("wrapping range", t_req(1, 5, "r", UINT64_MAX, 2, X), -EINVAL);
	T_EQ("empty name", t_req(1, 5, "", 0, 0, X), -EINVAL);
	memset(longname, 'n', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	T_EQ("long name", t_req(1, 5, longname, 0, 0, X), -EINVAL);
	longname[CLUSTER_LOCK_NAME_MAX] = '\0';
	T_EQ("max name", t_req(1, 5, longname, 0, 0, X), 0);
	T_EQ("up to the top", t_req(1, 6, "top", UINT64_MAX - 5, 5, X), 0);
	T_EQ("entries", tab.nentries, 4);
}

/* ------------------------------------------------------- release, cancel */

static void test_lock_cancel(void **state)
{
	(void)state;
	assert_int_equal(t_req(1, 1, "r", 0, 0, X), 0);
	assert_int_equal(t_req(2, 1, "r", 0, 0, X), 0);
	assert_int_equal(t_req(3, 1, "r", 0, 0, S), 0);
	/* cancel the waiting X: the S behind it is still blocked by 1001 */
	assert_int_equal(t_cancel(2, 1, "r"), 0);
	assert_false(t_present(2, 1, "r"));
	T_GRANTED("");
	assert_int_equal(t_rel(1, 1, "r"), 0);
	T_GRANTED("3001");
	/* cancel after the grant raced ahead: nothing happens */
	T_EQ("raced", t_cancel(3, 1, "r"), -EBUSY);
	assert_true(t_granted(3, 1, "r"));
	/* a waiting entry can also be released (same as cancel) */
	assert_int_equal(t_req(2, 2, "r", 0, 0, X), 0);
	assert_int_equal(t_rel(2, 2, "r"), 0);
	assert_false(t_present(2, 2, "r"));
	/* the last entry gone, the resource is gone */
	assert_int_equal(t_rel(3, 1, "r"), 0);
	T_EQ("resources", tab.nres, 0);
	T_EQ("entries", tab.nentries, 0);
}

static void test_lock_node_left(void **state)
{
	(void)state;
	/* node2 holds a, waits for b; node1 waits behind it on a; node3
	 * holds b and c */
	assert_int_equal(t_req(2, 1, "a", 0, 0, X), 0);
	assert_int_equal(t_req(3, 1, "b", 0, 0, X), 0);
	assert_int_equal(t_req(3, 2, "c", 0, 100, S), 0);
	assert_int_equal(t_req(2, 2, "b", 0, 0, S), 0);
	assert_int_equal(t_req(1, 1, "a", 0, 0, S), 0);
	assert_int_equal(t_req(1, 2, "b", 0, 0, S), 0);
	assert_int_equal(t_req(2, 3, "c", 50, 10, S), 0);
	T_GRANTED("2003");

	cluster_lock_table_node_left(&tab, 2, &res);
	t_check("node 2 left");
	T_GRANTED("1001");  /* b: 1002 still behind 3001 */
	assert_false(t_present(2, 1, "a"));
	assert_false(t_present(2, 2, "b"));
	assert_false(t_present(2, 3, "c"));

	cluster_lock_table_node_left(&tab, 3, &res);
	t_check("node 3 left");
	T_GRANTED("1002");
	T_EQ("resources", tab.nres, 2);
	T_EQ("entries", tab.nentries, 2);

	cluster_lock_table_node_left(&tab, 9, &res);
	T_GRANTED("");
	cluster_lock_table_node_left(&tab, 1, &res);
	T_EQ("resources", tab.nres, 0);
	T_EQ("entries", tab.nentries, 0);
}

/* --------------------------------------------------------------- caching */

static void test_lock_cache(void **state)
{
	(void)state;
	struct cluster_lock_entry *e;

	/* node1 takes X [0,100) with caching: granted, no blocker */
	assert_int_equal(t_req_cached(1, 1, "lun0", 0, 100, X), 0);
	T_GRANTED("1001");
	T_BLOCKERS("");
	e = cluster_lock_table_find(&tab, "lun0", 4, 1, 1);
	assert_true(e->cached);
	/* covers: same resource, range inside, mode not stronger */
	assert_true(cluster_lock_entry_covers(e, 10, 5, X));
	assert_true(cluster_lock_entry_covers(e, 0, 100, S));
	assert_false(cluster_lock_entry_covers(e, 95, 10, S));
	assert_false(cluster_lock_entry_covers(e, 0, 0, S));
	assert_false(cluster_lock_entry_blocks(e));
	/* a non-overlapping request does not make it a blocker */
	assert_int_equal(t_req(2, 1, "lun0", 100, 10, X), 0);
	T_GRANTED("2001");
	T_BLOCKERS("");
	/* an overlapping one does: the owner is told */
	assert_int_equal(t_req(2, 2, "lun0", 50, 10, S), 0);
	T_GRANTED("");
	T_BLOCKERS("1001");
	assert_true(cluster_lock_entry_blocks(e));
	/* a third waiter: still named (the owner sends once) */
	assert_int_equal(t_req(3, 1, "lun0", 0, 0, S), 0);
	T_BLOCKERS("1001");
	/* cache-release: 2002 granted; 3001 (whole) still behind 2001 X */
	assert_int_equal(t_cache_rel(1, 1, "lun0"), 0);
	T_GRANTED("2002");
	T_BLOCKERS("");
	assert_false(t_present(1, 1, "lun0"));
	/* a second cache-release (raced with node-left...) finds nothing */
	T_EQ("again", t_cache_rel(1, 1, "lun0"), -ENOENT);

	/* a cached S shared by readers is no blocker for S requests */
	assert_int_equal(t_req_cached(1, 2, "r2", 0, 0, S), 0);
	assert_int_equal(t_req(2, 3, "r2", 0, 0, S), 0);
	T_GRANTED("2003");
	T_BLOCKERS("");
	/* a waiting cached request reports nothing until granted */
	assert_int_equal(t_req(3, 2, "r2", 0, 0, X), 0);
	T_BLOCKERS("1002");
	assert_int_equal(t_req_cached(3, 3, "r3", 0, 0, X), 0);
	assert_int_equal(t_req_cached(1, 3, "r3", 0, 0, X), 0);
	T_BLOCKERS("3003");
	/* cache-release of a waiting cached entry: refused */
	T_EQ("waiting", t_cache_rel(1, 3, "r3"), -EBUSY);
	/* the new grant is named as a blocker in the same result */
	assert_int_equal(t_req(2, 4, "r3", 0, 0, X), 0);
	assert_int_equal(t_cache_rel(3, 3, "r3"), 0);
	T_GRANTED("1003");
	T_BLOCKERS("1003");
}

/* ----------------------------------------------------------------- codec */

static void test_lock_codec(void **state)
{
	(void)state;
	struct cluster_lock_op op = {
		.type = CLUSTER_LOCK_OP_REQUEST, .req_id = 0x1122334455667788ull,
		.name = "lun0", .nlen = 4, .start = 512, .len = 8,
		.mode = X, .cache = true,
	}, dec;
	uint8_t buf[CLUSTER_LOCK_OP_MAX], bad[CLUSTER_LOCK_OP_MAX];
	long n = cluster_lock_op_encode(&op, buf, sizeof(buf));

	T_EQ("size", n, CLUSTER_LOCK_OP_HDR + 4);
	/* the layout is the documented one */
	T_EQ("version", buf[0], 1);
	T_EQ("type", buf[1], 1);
	T_EQ("mode", buf[2], 1);
	T_EQ("flags", buf[3], 1);
	T_EQ("req_id msb", buf[8], 0x11);
	T_EQ("start lsb", buf[23], 0x00);
	T_EQ("start", buf[22], 0x02);
	T_EQ("len", buf[31], 8);
	assert_int_equal(cluster_lock_op_decode(buf, (size_t)n, &dec), 0);
	T_EQ("req_id", dec.req_id, op.req_id);
	T_EQ("start", dec.start, 512);
	T_EQ("len", dec.len, 8);
	T_EQ("mode", dec.mode, X);
	assert_true(dec.cache);
	for (long cut = 0; cut < n; cut++)
		T_EQ("cut", cluster_lock_op_decode(buf, (size_t)cut, &dec),
		     -EINVAL);
	T_EQ("trailing", cluster_lock_op_decode(buf, (size_t)n + 1, &dec),
	     -EINVAL);
	static const struct { size_t off; uint8_t v; } m[] = {
		{ 0, 2 }, { 1, 0 }, { 1, 5 }, { 2, 2 }, { 3, 2 }, { 6, 1 },
		{ 5, 5 }, { CLUSTER_LOCK_OP_HDR + 2, 0 },
	};
	for (size_t i = 0; i < T_ARRAY_SIZE(m); i++) {
		memcpy(bad, buf, (size_t)n);
		bad[m[i].off] = m[i].v;
		if (cluster_lock_op_decode(bad, (size_t)n, &dec) != -EINVAL)
			fail_msg("corruption %zu accepted", i);
	}
	/* a release carries no range or mode */
	memcpy(bad, buf, (size_t)n);
	bad[1] = CLUSTER_LOCK_OP_RELEASE;
	T_EQ("release with range", cluster_lock_op_decode(bad, (size_t)n,
							    &dec), -EINVAL);
	/* wrapping range */
	memcpy(bad, buf, (size_t)n);
	memset(bad + 16, 0xff, 8);
	T_EQ("wrap", cluster_lock_op_decode(bad, (size_t)n, &dec), -EINVAL);
	/* random bytes never crash and decode only to valid ops */
	unsigned seed = 7;
	for (int i = 0; i < 20000; i++) {
		size_t len = CLUSTER_LOCK_OP_HDR + (seed >> 7) % 8;
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			bad[j] = (uint8_t)(seed >> 16);
		}
		bad[0] = 1;
		bad[4] = 0;
		bad[5] = (uint8_t)(len - CLUSTER_LOCK_OP_HDR);
		bad[6] = bad[7] = 0;
		if (cluster_lock_op_decode(bad, len, &dec) == 0)
			assert_true(cluster_lock_op_valid(&dec));
	}
}

/* ------------------------------------------------------------ save, load */

static void t_save(void **data, size_t *len)
{
	assert_int_equal(cluster_lock_table_save(&tab, data, len), 0);
}

static void test_lock_save_load(void **state)
{
	(void)state;
	struct cluster_lock_table other;
	void *s1, *s2, *s3;
	size_t l1, l2, l3;

	assert_int_equal(t_req(1, 1, "b", 0, 0, X), 0);
	assert_int_equal(t_req_cached(2, 1, "a", 10, 10, S), 0);
	assert_int_equal(t_req(3, 1, "a", 0, 0, X), 0);
	assert_int_equal(t_req(2, 2, "b", 0, 0, S), 0);
	t_save(&s1, &l1);

	cluster_lock_table_init(&other);
	assert_int_equal(cluster_lock_table_load(&other, s1, l1), 0);
	assert_int_equal(cluster_lock_table_save(&other, &s2, &l2), 0);
	T_EQ("round trip", l1, l2);
	assert_memory_equal(s1, s2, l1);
	struct cluster_lock_entry *e =
		cluster_lock_table_find(&other, "a", 1, 2, 1);
	assert_non_null(e);
	assert_true(e->granted && e->cached);
	/* the loaded table works: releasing 2/1 grants 3/1 */
	struct cluster_lock_op op = { .type = CLUSTER_LOCK_OP_RELEASE,
				      .req_id = 1, .name = "a", .nlen = 1 };
	assert_int_equal(cluster_lock_table_apply(&other, 2, &op, &res), 0);
	T_GRANTED("3001");

	/* every truncation refused, the table unchanged */
	assert_int_equal(cluster_lock_table_save(&other, &s3, &l3), 0);
	for (size_t cut = 0; cut < l1; cut++) {
		void *s4;
		size_t l4;
		if (cluster_lock_table_load(&other, s1, cut) != -EINVAL)
			fail_msg("truncation at %zu of %zu accepted", cut, l1);
		assert_int_equal(cluster_lock_table_save(&other, &s4, &l4), 0);
		T_EQ("unchanged", l4, l3);
		assert_memory_equal(s4, s3, l3);
		free(s4);
	}
	uint8_t *bad = malloc(l1 + 1);
	memcpy(bad, s1, l1);
	bad[l1] = 0;
	T_EQ("trailing", cluster_lock_table_load(&other, bad, l1 + 1),
	     -EINVAL);
	/* layout: header 12, "a" resource: 8 + 1, then entries of 32 */
	size_t ent0 = 12 + 8 + 1;
	static const struct { size_t off; uint8_t v; const char *what; } m[] = {
		{ 0, 'x', "magic" }, { 5, 9, "format" }, { 7, 1, "flags" },
		{ 19, 0, "resource count 0" }, { 12 + 8, 0, "NUL name" },
		{ 12 + 8, 'c', "names out of order" },
		{ 12 + 2, 1, "reserved" },
		{ 21 + 4, 2, "mode" }, { 21 + 5, 4, "entry flags" },
		{ 21 + 6, 1, "entry reserved" },
		/* 3/1 X waiting -> granted: two conflicting granted */
		{ 21 + 32 + 5, 1, "conflicting grants" },
		/* 2/1 S granted -> waiting: waits for nothing */
		{ 21 + 5, 2, "waits for nothing" },
		/* 3/1 -> 2/1: the same request twice */
		{ 21 + 32 + 3, 2, "duplicate request" },
	};
	(void)ent0;
	for (size_t i = 0; i < T_ARRAY_SIZE(m); i++) {
		memcpy(bad, s1, l1);
		bad[m[i].off] = m[i].v;
		if (cluster_lock_table_load(&other, bad, l1) != -EINVAL)
			fail_msg("%s accepted", m[i].what);
	}
	free(bad);
	free(s1);
	free(s2);
	free(s3);
	cluster_lock_table_reset(&other);
}

/* ------------------------------------------------------------ random walk */

/* Some entry of node (granted ones only when granted_only), or NULL. */
static struct cluster_lock_entry *t_pick(uint32_t node, bool granted_only,
					 unsigned r)
{
	struct cluster_lock_entry *e, *cand[256];
	unsigned n = 0;

	for (uint32_t i = 0; i < tab.nres; i++)
		list_for_each_entry(e, &tab.res[i]->entries, link)
			if (e->node == node && (!granted_only || e->granted) &&
			    n < T_ARRAY_SIZE(cand))
				cand[n++] = e;
	return n ? cand[r % n] : NULL;
}

/* A model of the owners: which requests each node has outstanding. The
 * walk issues requests, releases, cancels, cache-releases (also for
 * entries that are gone: those must be refused without harm) and
 * node-left, checks the invariants after every op, that every newly
 * granted entry was waiting and is now granted, that a replay into a
 * second table gives the same bytes, and that save/load round-trips. */
static void test_lock_random(void **state)
{
	(void)state;
	enum { NODES = 4, NAMES = 3, OPS = 20000 };
	static const char *names[NAMES] = { "lun0", "lun1", "n" };
	struct cluster_lock_table replay;
	uint64_t next_id[NODES + 1] = { 0 };
	unsigned seed = 0xC0FFEEu;
	unsigned grants = 0, waits = 0, lefts = 0, granted_total = 0;

	cluster_lock_table_init(&replay);
	for (int i = 0; i < OPS; i++) {
		struct cluster_lock_result r2;
		struct cluster_lock_op op = { 0 };
		char pname[CLUSTER_LOCK_NAME_MAX + 1];
		uint32_t node;
		unsigned kind;

		seed = seed * 1103515245u + 12345u;
		node = 1 + (seed >> 16) % NODES;
		seed = seed * 1103515245u + 12345u;
		kind = (seed >> 16) % 100;
		op.name = names[(seed >> 8) % NAMES];
		op.nlen = strlen(op.name);
		seed = seed * 1103515245u + 12345u;

		if (kind < 2) {
			cluster_lock_table_node_left(&tab, node, &res);
			cluster_lock_table_node_left(&replay, node, &r2);
			lefts++;
			goto check;
		}
		if (kind < 45) {
			op.type = CLUSTER_LOCK_OP_REQUEST;
			op.req_id = ++next_id[node];
			op.mode = (seed >> 16) & 1 ? X : S;
			op.cache = (seed >> 17) & 1;
			if ((seed >> 18) % 4 == 0) {
				op.start = op.len = 0;
			} else {
				op.start = (seed >> 20) % 64;
				op.len = 1 + (seed >> 26) % 16;
			}
		} else {
			/* target some id of this node, possibly gone */
			op.type = kind < 80 ? CLUSTER_LOCK_OP_RELEASE
				: kind < 90 ? CLUSTER_LOCK_OP_CANCEL
				: CLUSTER_LOCK_OP_CACHE_RELEASE;
			if (!next_id[node])
				continue;
			op.req_id = 1 + (seed >> 16) % next_id[node];
			/* mostly an entry the node has (granted ones for
			 * releases), sometimes any id, possibly gone */
			if ((seed >> 20) % 8) {
				struct cluster_lock_entry *pick =
					t_pick(node, op.type ==
					       CLUSTER_LOCK_OP_RELEASE ||
					       op.type ==
					       CLUSTER_LOCK_OP_CACHE_RELEASE,
					       seed >> 4);
				if (pick) {
					/* a copy: the op may free the
					 * resource before the replay */
					memcpy(pname, pick->res->name,
					       pick->res->nlen + 1);
					op.req_id = pick->req_id;
					op.name = pname;
					op.nlen = pick->res->nlen;
				}
			}
		}
		/* remember waiting-ness before the op */
		cluster_lock_table_apply(&tab, node, &op, &res);
		cluster_lock_table_apply(&replay, node, &op, &r2);
		T_EQ("same status", res.status, r2.status);
		if (op.type == CLUSTER_LOCK_OP_REQUEST) {
			assert_int_equal(res.status, 0);
			if (res.entry->granted)
				grants++;
			else
				waits++;
		}
check:
		{
			char why[160];
			struct cluster_lock_entry *e;
			if (cluster_lock_table_check(&tab, why, sizeof(why)))
				fail_msg("op %d: %s", i, why);
			list_for_each_entry(e, &res.granted, grant_link) {
				assert_true(e->granted);
				granted_total++;
			}
			list_for_each_entry(e, &res.blockers, block_link)
				assert_true(e->granted && e->cached &&
					    cluster_lock_entry_blocks(e));
		}
		if (i % 97 == 0) {
			void *a, *b;
			size_t la, lb;
			struct cluster_lock_table copy;
			t_save(&a, &la);
			assert_int_equal(cluster_lock_table_save(&replay, &b,
								 &lb), 0);
			T_EQ("replay len", la, lb);
			assert_memory_equal(a, b, la);
			free(b);
			cluster_lock_table_init(&copy);
			assert_int_equal(cluster_lock_table_load(&copy, a, la),
					 0);
			assert_int_equal(cluster_lock_table_save(&copy, &b,
								 &lb), 0);
			assert_memory_equal(a, b, la);
			free(a);
			free(b);
			cluster_lock_table_reset(&copy);
		}
	}
	print_message("lock random walk: %d ops, %u requests granted at "
		      "once, %u waited, %u grants in all, %u node-left, %u "
		      "entries at the end\n", OPS, grants, waits,
		      granted_total, lefts, tab.nentries);
	assert_true(grants > 100 && waits > 100 && granted_total > 2000);
	cluster_lock_table_reset(&replay);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_conflict_table),
		cmocka_unit_test_setup_teardown(test_lock_fifo, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_fifo_ranges, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(
			test_lock_several_granted_at_once, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_same_node_conflicts,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_errors, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_cancel, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_node_left, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_cache, t_setup,
						t_teardown),
		cmocka_unit_test(test_lock_codec),
		cmocka_unit_test_setup_teardown(test_lock_save_load, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_random, t_setup,
						t_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
