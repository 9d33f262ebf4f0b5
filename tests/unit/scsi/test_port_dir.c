/*
 * Unit tests of the cluster-wide target port directory (src/scsi/
 * port_dir.c): ANNOUNCE / NODE_LEFT, the RTPI and port group clash rule,
 * lookups, REPORT TARGET PORT GROUPS data, save/load and the ANNOUNCE
 * codec. Every scenario starts from this cluster unless its picture says
 * otherwise:
 *
 *   node 1 (group 1)                 node 2 (group 2)
 *   iqn...:t1  TPG 1 RTPI 1          iqn...:t2  TPG 1 RTPI 3
 *   iqn...:t1  TPG 2 RTPI 2          iqn...:t2  TPG 2 RTPI 4
 *          \                              /
 *           +----- one SCSI device ------+
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

#include "scsi/port_dir.h"
#include "../t_eq.h"

/* Fills a with node's ports rtpis[0, n), all in group, target "t<node>",
 * TPG tags 1.., one portal each. */
static void t_announce(struct port_dir_announce *a, uint32_t node,
		       uint16_t group, const uint16_t *rtpis, uint32_t n)
{
	memset(a, 0, sizeof(*a));
	a->node = node;
	a->nports = n;
	for (uint32_t i = 0; i < n; i++) {
		struct port_dir_port *p = &a->ports[i];

		p->rtpi = rtpis[i];
		p->port_group = group;
		p->tpg_tag = (uint16_t)(i + 1);
		snprintf(p->target, sizeof(p->target),
			 "iqn.2026-11.test:t%u", node);
		p->nportals = 1;
		snprintf(p->portals[0], sizeof(p->portals[0]),
			 "192.168.%u.%u:3260", node, i + 1);
	}
}

static enum port_dir_verdict t_ann(struct port_dir *d, uint32_t node,
				   uint16_t group, const uint16_t *rtpis,
				   uint32_t n, struct port_dir_result *res)
{
	struct port_dir_announce a;

	t_announce(&a, node, group, rtpis, n);
	return port_dir_announce(d, &a, res);
}

/* The two-node cluster of the picture. */
static struct port_dir *t_cluster(void)
{
	struct port_dir *d;

	assert_int_equal(port_dir_create(&d), 0);
	T_EQ("node 1", t_ann(d, 1, 1, (uint16_t[]){ 1, 2 }, 2, NULL),
	     PORT_DIR_OK);
	T_EQ("node 2", t_ann(d, 2, 2, (uint16_t[]){ 4, 3 }, 2, NULL),
	     PORT_DIR_OK);
	return d;
}

/* Saved bytes of d (free them). */
static uint8_t *t_save(const struct port_dir *d, size_t *len)
{
	void *data;

	assert_int_equal(port_dir_save(d, &data, len), 0);
	return data;
}

static void t_same_bytes(const struct port_dir *a, const struct port_dir *b)
{
	size_t la, lb;
	uint8_t *x = t_save(a, &la), *y = t_save(b, &lb);

	T_EQ("saved length", la, lb);
	assert_memory_equal(x, y, la);
	free(x);
	free(y);
}

/* ------------------------------------------------------------ scenarios */

/* Lookups after two announcements; the announcement order of RTPIs does
 * not matter (node 2 sent 4, 3). */
static void test_announce_lookup(void **state)
{
	struct port_dir *d = t_cluster();
	const struct port_dir_port *p;
	struct port_dir_group g[4];
	uint16_t r[4];

	(void)state;
	T_EQ("ports", port_dir_count(d), 4);
	for (uint32_t i = 0; i < 4; i++)
		T_EQ("RTPI order", port_dir_at(d, i)->rtpi, i + 1);
	p = port_dir_find(d, 3);
	assert_non_null(p);
	T_EQ("node of RTPI 3", p->node, 2);
	T_EQ("group of RTPI 3", p->port_group, 2);
	assert_true(p->live);
	assert_string_equal(p->target, "iqn.2026-11.test:t2");
	assert_null(port_dir_find(d, 5));
	assert_true(port_dir_port_exists(d, 4));
	assert_false(port_dir_port_exists(d, 9));
	T_EQ("node 2 ports", port_dir_node_rtpis(d, 2, r, 4), 2);
	T_EQ("first", r[0], 3);
	T_EQ("second", r[1], 4);
	T_EQ("groups", port_dir_groups(d, g, 4), 2);
	T_EQ("group 1", g[0].id, 1);
	T_EQ("group 1 ports", g[0].nports, 2);
	T_EQ("group 2 node", g[1].node, 2);
	T_EQ("group 2 state", g[1].state, PORT_DIR_STATE_ACTIVE_OPTIMIZED);
	port_dir_destroy(d);
}

/*
 *   node 1 (group 1) RTPI 1,2     node 2 (group 2) RTPI 3,4
 *   node 3 announces RTPI 4,5 group 3   -> refused: RTPI 4 is node 2's
 *   node 3 announces RTPI 5   group 2   -> refused: group 2 is node 2's
 */
static void test_rtpi_clash_refused(void **state)
{
	struct port_dir *d = t_cluster(), *ref = t_cluster();
	struct port_dir_result res;

	(void)state;
	T_EQ("verdict", t_ann(d, 3, 3, (uint16_t[]){ 5, 4 }, 2, &res),
	     PORT_DIR_CLASH_RTPI);
	T_EQ("clashing RTPI", res.rtpi, 4);
	T_EQ("holder", res.other_node, 2);
	t_same_bytes(d, ref);   /* unchanged */
	assert_null(port_dir_find(d, 5));

	T_EQ("verdict", t_ann(d, 3, 2, (uint16_t[]){ 5 }, 1, &res),
	     PORT_DIR_CLASH_GROUP);
	T_EQ("clashing group", res.port_group, 2);
	T_EQ("holder", res.other_node, 2);
	t_same_bytes(d, ref);

	/* the first clash in RTPI order is the one reported */
	T_EQ("verdict", t_ann(d, 3, 3, (uint16_t[]){ 4, 2 }, 2, &res),
	     PORT_DIR_CLASH_RTPI);
	T_EQ("first clash", res.rtpi, 2);
	T_EQ("its holder", res.other_node, 1);
	assert_string_equal(port_dir_verdict_str(res.verdict),
			    "RTPI held by another live node");
	port_dir_destroy(ref);
	port_dir_destroy(d);
}

/*
 *   node 2 restarts (leaves, comes back) and announces RTPI 3 only, then
 *   3,4 again: accepted both times, it is its own RTPI.
 */
static void test_reannounce_same_node(void **state)
{
	struct port_dir *d = t_cluster();
	struct port_dir_result res;

	(void)state;
	T_EQ("left", port_dir_node_left(d, 2), 2);
	T_EQ("left again", port_dir_node_left(d, 2), 0);
	assert_false(port_dir_find(d, 3)->live);
	T_EQ("back", t_ann(d, 2, 2, (uint16_t[]){ 3 }, 1, &res), PORT_DIR_OK);
	T_EQ("nothing evicted", res.evicted, 0);
	assert_true(port_dir_find(d, 3)->live);
	assert_null(port_dir_find(d, 4));  /* replaced, not merged */
	/* a live node re-announcing (config reload) is accepted too */
	T_EQ("again", t_ann(d, 2, 2, (uint16_t[]){ 3, 4 }, 2, &res),
	     PORT_DIR_OK);
	T_EQ("ports", port_dir_count(d), 4);
	/* and may move to a free group */
	T_EQ("new group", t_ann(d, 2, 7, (uint16_t[]){ 3, 4 }, 2, &res),
	     PORT_DIR_OK);
	T_EQ("group", port_dir_find(d, 4)->port_group, 7);
	port_dir_destroy(d);
}

/*
 *   node 2 leaves; node 3 (group 3) announces RTPI 4,5: accepted, node 2's
 *   RTPI 4 is forgotten (node 3 took it), RTPI 3 stays known, not live.
 *   node 2 comes back with RTPI 3,4: refused, RTPI 4 is live node 3's.
 *   node 4 takes group 2 of departed node 2: node 2's ports go.
 */
static void test_departed_ports_taken_over(void **state)
{
	struct port_dir *d = t_cluster();
	struct port_dir_result res;

	(void)state;
	port_dir_node_left(d, 2);
	T_EQ("node 3", t_ann(d, 3, 3, (uint16_t[]){ 4, 5 }, 2, &res),
	     PORT_DIR_OK);
	T_EQ("evicted", res.evicted, 1);
	T_EQ("RTPI 4 now", port_dir_find(d, 4)->node, 3);
	T_EQ("RTPI 3 still", port_dir_find(d, 3)->node, 2);
	assert_false(port_dir_find(d, 3)->live);

	T_EQ("node 2 back", t_ann(d, 2, 2, (uint16_t[]){ 3, 4 }, 2, &res),
	     PORT_DIR_CLASH_RTPI);
	T_EQ("RTPI", res.rtpi, 4);
	T_EQ("node", res.other_node, 3);

	T_EQ("node 4", t_ann(d, 4, 2, (uint16_t[]){ 9 }, 1, &res),
	     PORT_DIR_OK);
	T_EQ("evicted", res.evicted, 1);
	assert_null(port_dir_find(d, 3));
	T_EQ("ports", port_dir_count(d), 5);   /* 1 2 4 5 9 */
	port_dir_destroy(d);
}

static void test_invalid_announcements(void **state)
{
	struct port_dir *d = t_cluster(), *ref = t_cluster();
	struct port_dir_announce a;
	struct port_dir_result res;

	(void)state;
	T_EQ("RTPI 0", t_ann(d, 3, 3, (uint16_t[]){ 0 }, 1, &res),
	     PORT_DIR_INVALID);
	T_EQ("twice", t_ann(d, 3, 3, (uint16_t[]){ 6, 6 }, 2, &res),
	     PORT_DIR_INVALID);
	T_EQ("at", res.rtpi, 6);
	T_EQ("node 0", t_ann(d, 0, 3, (uint16_t[]){ 6 }, 1, &res),
	     PORT_DIR_INVALID);
	t_announce(&a, 3, 3, (uint16_t[]){ 6, 7 }, 2);
	a.ports[1].port_group = 4;   /* one group per node */
	T_EQ("two groups", port_dir_announce(d, &a, &res), PORT_DIR_INVALID);
	t_announce(&a, 3, 3, (uint16_t[]){ 6 }, 1);
	a.ports[0].target[0] = '\0';
	T_EQ("no name", port_dir_announce(d, &a, &res), PORT_DIR_INVALID);
	t_announce(&a, 3, 3, (uint16_t[]){ 6 }, 1);
	strcpy(a.ports[0].portals[0], "10.0.0.1 3260");
	T_EQ("space", port_dir_announce(d, &a, &res), PORT_DIR_INVALID);
	t_announce(&a, 3, 3, (uint16_t[]){ 6 }, 1);
	a.ports[0].nportals = PORT_DIR_PORTALS_MAX + 1;
	T_EQ("portals", port_dir_announce(d, &a, &res), PORT_DIR_INVALID);
	t_announce(&a, 3, 3, (uint16_t[]){ 6 }, 1);
	memset(a.ports[0].target, 'a', sizeof(a.ports[0].target));
	T_EQ("unterminated", port_dir_announce(d, &a, NULL), PORT_DIR_INVALID);
	a.nports = PORT_DIR_NODE_PORTS_MAX + 1;
	T_EQ("too many", port_dir_announce(d, &a, NULL), PORT_DIR_INVALID);
	t_same_bytes(d, ref);
	port_dir_destroy(ref);
	port_dir_destroy(d);
}

/* 16 nodes x 16 ports fill the directory; a 17th node is refused. */
static void test_full(void **state)
{
	struct port_dir *d;
	uint16_t r[PORT_DIR_NODE_PORTS_MAX];
	struct port_dir_result res;

	(void)state;
	assert_int_equal(port_dir_create(&d), 0);
	for (uint32_t node = 1; node <= 16; node++) {
		for (uint32_t i = 0; i < PORT_DIR_NODE_PORTS_MAX; i++)
			r[i] = (uint16_t)(node * 100 + i);
		T_EQ("node", t_ann(d, node, (uint16_t)node, r,
				   PORT_DIR_NODE_PORTS_MAX, NULL),
		     PORT_DIR_OK);
	}
	T_EQ("count", port_dir_count(d), PORT_DIR_PORTS_MAX);
	T_EQ("17th", t_ann(d, 17, 17, (uint16_t[]){ 7 }, 1, &res),
	     PORT_DIR_FULL);
	/* a node already in replaces its own: no growth, accepted */
	T_EQ("re-announce", t_ann(d, 16, 16, r, PORT_DIR_NODE_PORTS_MAX, NULL),
	     PORT_DIR_OK);
	port_dir_destroy(d);
}

/* -------------------------------------------------------------- RTPG */

/*
 *   node 1 (group 1) RTPI 1,2 live      node 2 (group 2) RTPI 3,4 left
 *   REPORT TARGET PORT GROUPS, extended header (SPC-4 6.27):
 */
static void test_rtpg_node_left_unavailable(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x00, 0x00, 0x24,       /* RETURN DATA LENGTH 36 */
		0x10, 10, 0x00, 0x00,         /* FORMAT TYPE 001b, 10 s */
		/* group 1: ACTIVE/OPTIMIZED, 2 ports */
		0x00, 0x8f, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
		/* group 2: UNAVAILABLE, 2 ports */
		0x03, 0x8f, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
	};
	struct port_dir *d = t_cluster();
	uint8_t buf[128];
	uint32_t full = 0;

	(void)state;
	port_dir_node_left(d, 2);
	T_EQ("length", port_dir_rtpg_build(d, 1, 10, false, buf, sizeof(buf),
					   &full), sizeof(want));
	T_EQ("full", full, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* length-only header: the same descriptors after 4 bytes */
	memset(buf, 0xee, sizeof(buf));
	T_EQ("format 0", port_dir_rtpg_build(d, 0, 10, false, buf,
					     sizeof(buf), &full),
	     sizeof(want) - 4);
	T_EQ("RETURN DATA LENGTH", buf[3], 32);
	assert_memory_equal(buf + 4, want + 8, sizeof(want) - 8);

	/* allocation length: never a byte more, the same prefix */
	for (uint32_t alloc = 0; alloc <= sizeof(want) + 2; alloc++) {
		memset(buf, 0xee, sizeof(buf));
		int n = port_dir_rtpg_build(d, 1, 10, false, buf, alloc,
					    &full);
		uint32_t expect = alloc < sizeof(want) ? alloc : sizeof(want);

		T_EQ("written", n, expect);
		T_EQ("full length", full, sizeof(want));
		assert_memory_equal(buf, want, expect);
		T_EQ("past the end", buf[expect], 0xee);
	}
	/* without quorum every group is UNAVAILABLE */
	port_dir_rtpg_build(d, 1, 10, true, buf, sizeof(buf), NULL);
	T_EQ("group 1", buf[8], PORT_DIR_STATE_UNAVAILABLE);
	T_EQ("format 2", port_dir_rtpg_build(d, 2, 10, false, buf,
					     sizeof(buf), NULL), -EINVAL);
	port_dir_destroy(d);
}

/* An empty directory answers a header alone. */
static void test_rtpg_empty(void **state)
{
	struct port_dir *d;
	uint8_t buf[16];
	uint32_t full;

	(void)state;
	assert_int_equal(port_dir_create(&d), 0);
	T_EQ("len", port_dir_rtpg_build(d, 1, 0, false, buf, 16, &full), 8);
	T_EQ("RETURN DATA LENGTH", buf[3], 4);
	port_dir_destroy(d);
}

/* ---------------------------------------------------------- determinism */

static uint32_t t_rand_state;

static uint32_t t_rand(void)
{
	t_rand_state = t_rand_state * 1103515245u + 12345u;
	return t_rand_state >> 8;
}

/*
 * Two directories fed the same messages (random announcements from 5
 * nodes over 12 RTPIs and 6 groups, clashes and departures included)
 * hold the same bytes and answer the same RTPG data after every step,
 * and load(save()) rebuilds an equal directory.
 */
static void test_two_directories_same_bytes(void **state)
{
	struct port_dir *a, *b, *c;
	uint8_t ra[1024], rb[1024];

	(void)state;
	t_rand_state = 0x5eed;
	assert_int_equal(port_dir_create(&a), 0);
	assert_int_equal(port_dir_create(&b), 0);
	assert_int_equal(port_dir_create(&c), 0);
	for (int step = 0; step < 2000; step++) {
		uint32_t node = 1 + t_rand() % 5;

		if (t_rand() % 4 == 0) {
			T_EQ("left", port_dir_node_left(a, node),
			     port_dir_node_left(b, node));
		} else {
			uint16_t r[4];
			uint32_t n = t_rand() % 4;
			uint16_t group = (uint16_t)(1 + t_rand() % 6);
			struct port_dir_result x, y;

			for (uint32_t i = 0; i < n; i++)
				r[i] = (uint16_t)(1 + (t_rand() % 12));
			T_EQ("verdict", t_ann(a, node, group, r, n, &x),
			     t_ann(b, node, group, r, n, &y));
			assert_memory_equal(&x, &y, sizeof(x));
		}
		t_same_bytes(a, b);
		memset(ra, 0, sizeof(ra));
		memset(rb, 0, sizeof(rb));
		T_EQ("rtpg", port_dir_rtpg_build(a, 1, 0, false, ra,
						 sizeof(ra), NULL),
		     port_dir_rtpg_build(b, 1, 0, false, rb, sizeof(rb),
					 NULL));
		assert_memory_equal(ra, rb, sizeof(ra));

		size_t len;
		uint8_t *s = t_save(a, &len);

		assert_int_equal(port_dir_load(c, s, len), 0);
		free(s);
		t_same_bytes(a, c);
	}
	port_dir_destroy(c);
	port_dir_destroy(b);
	port_dir_destroy(a);
}

/* ------------------------------------------------------------ save/load */

static void test_save_load_rejects(void **state)
{
	struct port_dir *d = t_cluster(), *e, *ref;
	size_t len;
	uint8_t *s, *bad;

	(void)state;
	port_dir_node_left(d, 2);
	s = t_save(d, &len);
	assert_int_equal(port_dir_create(&e), 0);
	assert_int_equal(port_dir_create(&ref), 0);
	t_ann(e, 9, 9, (uint16_t[]){ 99 }, 1, NULL);
	t_ann(ref, 9, 9, (uint16_t[]){ 99 }, 1, NULL);

	/* every truncation: -ENODATA, e unchanged */
	for (size_t cut = 0; cut < len; cut++)
		T_EQ("truncated", port_dir_load(e, s, cut), -ENODATA);
	t_same_bytes(e, ref);

	bad = malloc(len + 1);
	memcpy(bad, s, len);
	bad[len] = 0;
	T_EQ("trailing", port_dir_load(e, bad, len + 1), -EINVAL);
	bad[0] = 'X';
	T_EQ("magic", port_dir_load(e, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[5] = 2;
	T_EQ("version", port_dir_load(e, bad, len), -EPROTONOSUPPORT);
	memcpy(bad, s, len);
	bad[12 + 10] = 0x02;   /* first record: reserved flag */
	T_EQ("flags", port_dir_load(e, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[12 + 5] = 2;       /* first record's RTPI 1 -> 2: not ascending */
	T_EQ("order", port_dir_load(e, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[12 + 7] = 2;       /* RTPI 1 in group 2: node 1 has two groups */
	T_EQ("groups", port_dir_load(e, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[12 + 10] = 0x00;   /* node 1's RTPI 1 dead, RTPI 2 live */
	T_EQ("liveness", port_dir_load(e, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[12 + 13] = ' ';    /* a space in the target name */
	T_EQ("name", port_dir_load(e, bad, len), -EINVAL);
	t_same_bytes(e, ref);

	T_EQ("good", port_dir_load(e, s, len), 0);
	t_same_bytes(e, d);
	port_dir_reset(e);
	T_EQ("reset", port_dir_count(e), 0);
	free(bad);
	free(s);
	port_dir_destroy(ref);
	port_dir_destroy(e);
	port_dir_destroy(d);
}

static void test_announce_codec(void **state)
{
	struct port_dir_announce a, b;
	uint8_t buf[PORT_DIR_ANNOUNCE_MAX + 1];
	ssize_t n;

	(void)state;
	t_announce(&a, 7, 3, (uint16_t[]){ 30, 31, 32 }, 3);
	a.ports[1].nportals = 2;
	strcpy(a.ports[1].portals[1], "[fd00::7]:3261");
	n = port_dir_announce_encode(&a, buf, sizeof(buf));
	assert_true(n > 12);
	T_EQ("decode", port_dir_announce_decode(buf, (size_t)n, &b), 0);
	T_EQ("node", b.node, 7);
	T_EQ("ports", b.nports, 3);
	assert_string_equal(b.ports[1].portals[1], "[fd00::7]:3261");
	T_EQ("TPG tag", b.ports[2].tpg_tag, 3);
	for (ssize_t cut = 0; cut < n; cut++)
		T_EQ("truncated", port_dir_announce_decode(buf, (size_t)cut,
							   &b), -ENODATA);
	T_EQ("small buffer", port_dir_announce_encode(&a, buf, (size_t)n - 1),
	     -ENOSPC);
	n = port_dir_announce_encode(&a, buf, sizeof(buf));
	buf[n] = 0;
	T_EQ("trailing", port_dir_announce_decode(buf, (size_t)n + 1, &b),
	     -EINVAL);
	buf[0] = 2;
	T_EQ("version", port_dir_announce_decode(buf, (size_t)n, &b),
	     -EPROTONOSUPPORT);
	buf[0] = 1;
	buf[1] = 2;
	T_EQ("type", port_dir_announce_decode(buf, (size_t)n, &b), -EINVAL);
	buf[1] = 1;
	buf[12 + 10] = 1;      /* live flag on the wire */
	T_EQ("flags", port_dir_announce_decode(buf, (size_t)n, &b), -EINVAL);
	buf[12 + 10] = 0;
	buf[12 + 3] = 8;       /* record node != message node */
	T_EQ("node", port_dir_announce_decode(buf, (size_t)n, &b), -EINVAL);
	a.ports[0].rtpi = 0;
	T_EQ("encode RTPI 0", port_dir_announce_encode(&a, buf, sizeof(buf)),
	     -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announce_lookup),
		cmocka_unit_test(test_rtpi_clash_refused),
		cmocka_unit_test(test_reannounce_same_node),
		cmocka_unit_test(test_departed_ports_taken_over),
		cmocka_unit_test(test_invalid_announcements),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_rtpg_node_left_unavailable),
		cmocka_unit_test(test_rtpg_empty),
		cmocka_unit_test(test_two_directories_same_bytes),
		cmocka_unit_test(test_save_load_rejects),
		cmocka_unit_test(test_announce_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
