/*
 * Unit tests of the APTPL image codec (src/pr/pr_aptpl.c): round trips of
 * states the engine builds through real PR OUT requests, and refusals of
 * every damaged image with the target state left as it was.
 *
 *   initiator I1 (iqn...:i1, ISID 1)      initiator I2 (iqn...:i2, ISID 2)
 *        |            \                    /            |
 *   target port P1 (RTPI 1)          target port P2 (RTPI 2)
 *              \                                /
 *               +------------ LUN 0 -----------+
 *
 * Nexuses: A = I1/P1, B = I2/P1, C = I1/P2, D = I2/P2. The states are
 * built with pr_out_apply (REGISTER with APTPL = 1, RESERVE, ...), so
 * every image here is one the core can write.
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

#include "base/crc32c.h"
#include "pr/pr.h"
#include "pr/pr_aptpl.h"
#include "../t_eq.h"
#include "../t_pr_nexus.h"

#define KEY_A 0xAAAA0000000000A1ull
#define KEY_B 0xBBBB0000000000B2ull
#define T_MAX_REGS 8u

static struct pr_nexus NA, NB, NC, ND;
static struct pr_target t_ua[300], t_ab[300];

static int t_setup(void **state)
{
	(void)state;
	t_nexus(&NA, "iqn.2026-11.test:i1", 1, 1);
	t_nexus(&NB, "iqn.2026-11.test:i2", 2, 1);
	t_nexus(&NC, "iqn.2026-11.test:i1", 1, 2);
	t_nexus(&ND, "iqn.2026-11.test:i2", 2, 2);
	return 0;
}

static void t_state(struct pr_state *st, unsigned max_regs)
{
	struct pr_config cfg = { .max_regs = max_regs, .ptpl_c = true,
				 .crh = true };

	assert_int_equal(pr_state_init(st, &cfg), 0);
}

/* A PR OUT through the real decode and apply; returns the status. */
static enum pr_status t_out(struct pr_state *st, const struct pr_nexus *n,
			    uint8_t sa, uint8_t type, uint64_t key,
			    uint64_t sa_key, uint8_t flags)
{
	uint8_t cdb[10] = { 0x5F, sa, type, 0, 0, 0, 0, 0, 24, 0 };
	uint8_t param[24] = { 0 };
	struct pr_out_req req;
	struct pr_result res = { .ua = t_ua, .ua_cap = 300, .aborts = t_ab,
				 .abort_cap = 300 };

	for (int i = 0; i < 8; i++) {
		param[i] = (uint8_t)(key >> (56 - 8 * i));
		param[8 + i] = (uint8_t)(sa_key >> (56 - 8 * i));
	}
	param[20] = flags;
	pr_result_reset(&res);
	if (!pr_out_decode(cdb, param, sizeof(param), &req, &res))
		return res.status;
	pr_out_apply(st, n, &req, &res);
	return res.status;
}

#define APTPL 0x01
#define ALL_TG_PT 0x04

/* Encodes st, decodes into a fresh state, checks equality. */
static void t_round_trip(const char *label, const struct pr_state *st,
			 uint64_t epoch)
{
	size_t cap = pr_aptpl_size_max(st->cfg.max_regs);
	uint8_t *buf = malloc(cap);
	struct pr_state back;
	uint64_t e = 0, pe = 0;
	uint32_t pg = 0;
	ssize_t n;

	assert_non_null(buf);
	n = pr_aptpl_encode(st, epoch, buf, cap);
	if (n < 0)
		fail_msg("%s: encode %zd", label, n);
	t_state(&back, st->cfg.max_regs);
	T_EQ(label, pr_aptpl_decode(buf, (size_t)n, &back, &e), 0);
	T_EQ(label, e, epoch);
	if (!pr_state_equal(st, &back))
		fail_msg("%s: decoded state differs", label);
	T_EQ(label, pr_aptpl_peek(buf, (size_t)n, &pe, &pg), 0);
	T_EQ(label, pe, epoch);
	T_EQ(label, pg, st->generation);
	/* Encoding is a function of the state: same bytes again. */
	{
		uint8_t *again = malloc(cap);

		assert_non_null(again);
		T_EQ(label, pr_aptpl_encode(&back, epoch, again, cap), n);
		T_EQ(label, memcmp(buf, again, (size_t)n), 0);
		free(again);
	}
	pr_state_fini(&back);
	free(buf);
}

static void test_round_trip_empty(void **state)
{
	struct pr_state st;

	(void)state;
	t_state(&st, T_MAX_REGS);
	t_round_trip("empty", &st, 0);
	st.generation = 0xFFFFFFFFu;
	t_round_trip("empty, generation wrapped", &st, UINT64_MAX);
	pr_state_fini(&st);
}

static void test_round_trip_reserved(void **state)
{
	struct pr_state st;

	(void)state;
	t_state(&st, T_MAX_REGS);
	T_EQ("reg A", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reg B", t_out(&st, &NB, PR_OUT_REGISTER, 0, 0, KEY_B, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reg D", t_out(&st, &ND, PR_OUT_REGISTER, 0, 0, KEY_B, APTPL),
	     PR_STATUS_GOOD);
	t_round_trip("three regs", &st, 7);
	T_EQ("reserve B", t_out(&st, &NB, PR_OUT_RESERVE, PR_TYPE_EX_AC,
				KEY_B, 0, 0), PR_STATUS_GOOD);
	T_EQ("holder", st.holder, 1);
	t_round_trip("EX_AC held by B", &st, 8);
	T_EQ("release", t_out(&st, &NB, PR_OUT_RELEASE, PR_TYPE_EX_AC, KEY_B,
			      0, 0), PR_STATUS_GOOD);
	T_EQ("reserve D", t_out(&st, &ND, PR_OUT_RESERVE, PR_TYPE_WR_EX_RO,
				KEY_B, 0, 0), PR_STATUS_GOOD);
	t_round_trip("WR_EX_RO held by D", &st, 9);
	pr_state_fini(&st);
}

static void test_round_trip_all_registrants(void **state)
{
	struct pr_state st;

	(void)state;
	t_state(&st, T_MAX_REGS);
	T_EQ("reg A", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reg B", t_out(&st, &NB, PR_OUT_REGISTER, 0, 0, KEY_B, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reserve AR", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC_AR,
				 KEY_A, 0, 0), PR_STATUS_GOOD);
	T_EQ("no holder index", st.holder, PR_HOLDER_NONE);
	t_round_trip("EX_AC_AR", &st, 1);
	pr_state_fini(&st);
}

static void test_round_trip_all_tg_pt(void **state)
{
	struct pr_state st;

	(void)state;
	t_state(&st, T_MAX_REGS);
	T_EQ("reg A all ports", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A,
				      APTPL | ALL_TG_PT), PR_STATUS_GOOD);
	T_EQ("reg D", t_out(&st, &ND, PR_OUT_REGISTER, 0, 0, KEY_B, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("A all_tg_pt", st.regs[0].all_tg_pt, true);
	T_EQ("reserve from C (same port, ALL_TG_PT)",
	     t_out(&st, &NC, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0),
	     PR_STATUS_GOOD);
	t_round_trip("ALL_TG_PT", &st, 2);
	pr_state_fini(&st);
}

/* max_regs registrations with the longest TransportIDs: the size bound
 * holds, and the image decodes into a state of the same limit. */
static void test_round_trip_max_regs(void **state)
{
	enum { N = 256 };
	struct pr_state st;
	char name[224];
	ssize_t n;
	uint8_t *buf;

	(void)state;
	t_state(&st, N);
	for (unsigned i = 0; i < N; i++) {
		struct pr_nexus x;
		uint8_t isid[6] = { 0x80, 0, 0, 0, (uint8_t)(i >> 8),
				    (uint8_t)i };

		snprintf(name, sizeof(name), "iqn.2026-11.test:%03u-", i);
		memset(name + strlen(name), 'x', 223 - strlen(name));
		name[223] = '\0';
		memset(&x, 0, sizeof(x));
		pr_tid_from_port(&x.tid, name, isid);
		x.rtpi = (uint16_t)(1 + i % 3);
		T_EQ("reg", t_out(&st, &x, PR_OUT_REGISTER, 0, 0, 1000 + i,
				  APTPL | (i % 5 == 0 ? ALL_TG_PT : 0)),
		     PR_STATUS_GOOD);
	}
	T_EQ("full", st.nregs, N);
	st.type = PR_TYPE_WR_EX;
	st.holder = N - 1;
	t_round_trip("max_regs", &st, 42);

	/* The same image refused by a state with room for one less. */
	buf = malloc(pr_aptpl_size_max(N));
	assert_non_null(buf);
	n = pr_aptpl_encode(&st, 42, buf, pr_aptpl_size_max(N));
	assert_true(n > 0);
	{
		struct pr_state small;

		t_state(&small, N - 1);
		T_EQ("over limit", pr_aptpl_decode(buf, (size_t)n, &small,
						   NULL), -E2BIG);
		T_EQ("untouched", small.nregs, 0);
		pr_state_fini(&small);
	}
	T_EQ("too small a buffer", pr_aptpl_encode(&st, 42, buf,
						   (size_t)n - 1), -ENOSPC);
	free(buf);
	pr_state_fini(&st);
}

/* APTPL 0: the image carries no registrations, only the counters. */
static void test_aptpl_cleared(void **state)
{
	struct pr_state st, back;
	uint8_t buf[64 + 2 * 300];
	ssize_t n;
	uint64_t e;

	(void)state;
	t_state(&st, T_MAX_REGS);
	T_EQ("reg A", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reg B no aptpl", t_out(&st, &NB, PR_OUT_REGISTER, 0, 0, KEY_B,
				     0), PR_STATUS_GOOD);
	T_EQ("aptpl now 0", st.aptpl, false);
	n = pr_aptpl_encode(&st, 5, buf, sizeof(buf));
	T_EQ("header only", n, PR_APTPL_HEADER_LEN + PR_APTPL_CRC_LEN);
	t_state(&back, T_MAX_REGS);
	T_EQ("reg in back", t_out(&back, &NC, PR_OUT_REGISTER, 0, 0, KEY_A,
				  APTPL), PR_STATUS_GOOD);
	T_EQ("decode", pr_aptpl_decode(buf, (size_t)n, &back, &e), 0);
	T_EQ("no regs", back.nregs, 0);
	T_EQ("no reservation", back.type, PR_TYPE_NONE);
	T_EQ("aptpl", back.aptpl, false);
	T_EQ("generation kept", back.generation, st.generation);
	T_EQ("epoch", e, 5);
	pr_state_fini(&back);
	pr_state_fini(&st);
}

/* A sample image for the refusal tests: two regs, a reservation. */
static ssize_t t_sample(struct pr_state *st, uint8_t *buf, size_t cap)
{
	t_state(st, T_MAX_REGS);
	T_EQ("reg A", t_out(st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("reg D", t_out(st, &ND, PR_OUT_REGISTER, 0, 0, KEY_B,
			    APTPL | ALL_TG_PT), PR_STATUS_GOOD);
	T_EQ("reserve", t_out(st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A,
			      0, 0), PR_STATUS_GOOD);
	return pr_aptpl_encode(st, 0x0102030405060708ull, buf, cap);
}

/* A target state with content of its own, to see that it stays. */
static void t_target(struct pr_state *t, struct pr_state *copy)
{
	t_state(t, T_MAX_REGS);
	T_EQ("target reg", t_out(t, &NB, PR_OUT_REGISTER, 0, 0, 0x77, APTPL),
	     PR_STATUS_GOOD);
	T_EQ("target reserve", t_out(t, &NB, PR_OUT_RESERVE, PR_TYPE_EX_AC,
				     0x77, 0, 0), PR_STATUS_GOOD);
	t->s2_reserved = true;
	t->s2_holder = NC;
	t_state(copy, T_MAX_REGS);
	assert_int_equal(pr_state_copy(copy, t), 0);
}

static void test_truncation(void **state)
{
	struct pr_state st, tgt, copy;
	uint8_t buf[2048];
	ssize_t n;

	(void)state;
	n = t_sample(&st, buf, sizeof(buf));
	assert_true(n > 0);
	t_target(&tgt, &copy);
	for (size_t len = 0; len < (size_t)n; len++) {
		/* Exact-size heap copy: a read past the end is caught. */
		uint8_t *cut = malloc(len ? len : 1);
		int rc;

		assert_non_null(cut);
		memcpy(cut, buf, len);
		rc = pr_aptpl_decode(cut, len, &tgt, NULL);
		if (rc == 0)
			fail_msg("length %zu of %zd accepted", len, n);
		if (len >= 4 && rc != -ENODATA)
			fail_msg("length %zu: %d, not -ENODATA", len, rc);
		if (pr_aptpl_peek(cut, len, NULL, NULL) == 0)
			fail_msg("peek accepted length %zu", len);
		if (!pr_state_equal(&tgt, &copy))
			fail_msg("length %zu changed the target", len);
		free(cut);
	}
	/* A trailing byte is refused too (CRC, then length). */
	buf[n] = 0;
	assert_int_not_equal(pr_aptpl_decode(buf, (size_t)n + 1, &tgt, NULL),
			     0);
	assert_true(pr_state_equal(&tgt, &copy));
	T_EQ("whole", pr_aptpl_decode(buf, (size_t)n, &tgt, NULL), 0);
	T_EQ("s2 ended", tgt.s2_reserved, false);
	T_EQ("installed", pr_state_equal(&tgt, &st), true);
	pr_state_fini(&copy);
	pr_state_fini(&tgt);
	pr_state_fini(&st);
}

static void test_corruption(void **state)
{
	struct pr_state st, tgt, copy;
	uint8_t buf[2048];
	ssize_t n;
	unsigned refused = 0;

	(void)state;
	n = t_sample(&st, buf, sizeof(buf));
	assert_true(n > 0);
	t_target(&tgt, &copy);
	for (ssize_t i = 0; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			int rc;

			buf[i] ^= (uint8_t)(1u << bit);
			rc = pr_aptpl_decode(buf, (size_t)n, &tgt, NULL);
			if (rc == 0)
				fail_msg("byte %zd bit %u accepted", i, bit);
			if (pr_aptpl_peek(buf, (size_t)n, NULL, NULL) == 0)
				fail_msg("peek: byte %zd bit %u", i, bit);
			if (!pr_state_equal(&tgt, &copy))
				fail_msg("byte %zd changed the target", i);
			buf[i] ^= (uint8_t)(1u << bit);
			refused++;
		}
		/* Every other value of the byte, too. */
		for (unsigned v = 0; v < 256; v++) {
			uint8_t keep = buf[i];

			if (v == keep)
				continue;
			buf[i] = (uint8_t)v;
			if (pr_aptpl_decode(buf, (size_t)n, &tgt, NULL) == 0)
				fail_msg("byte %zd = %u accepted", i, v);
			buf[i] = keep;
		}
	}
	T_EQ("refusals", refused, (unsigned)n * 8);
	assert_true(pr_state_equal(&tgt, &copy));
	T_EQ("intact again", pr_aptpl_decode(buf, (size_t)n, &tgt, NULL), 0);
	pr_state_fini(&copy);
	pr_state_fini(&tgt);
	pr_state_fini(&st);
}

/* Rewrites the CRC after an edit: the checks behind the CRC. */
static void t_recrc(uint8_t *buf, size_t n)
{
	uint32_t c = crc32c(0, buf, n - 4);

	buf[n - 4] = (uint8_t)(c >> 24);
	buf[n - 3] = (uint8_t)(c >> 16);
	buf[n - 2] = (uint8_t)(c >> 8);
	buf[n - 1] = (uint8_t)c;
}

static void t_expect(const char *label, const uint8_t *orig, size_t n,
		     size_t off, uint8_t val, int want)
{
	uint8_t buf[2048];
	struct pr_state tgt, copy;
	int rc;

	memcpy(buf, orig, n);
	buf[off] = val;
	t_recrc(buf, n);
	t_target(&tgt, &copy);
	rc = pr_aptpl_decode(buf, n, &tgt, NULL);
	if (rc != want)
		fail_msg("%s: %d, want %d", label, rc, want);
	if (!pr_state_equal(&tgt, &copy))
		fail_msg("%s: target changed", label);
	pr_state_fini(&copy);
	pr_state_fini(&tgt);
}

static void test_malformed(void **state)
{
	struct pr_state st;
	uint8_t buf[2048];
	ssize_t n;
	uint64_t e;
	uint32_t g;

	(void)state;
	n = t_sample(&st, buf, sizeof(buf));
	assert_true(n > 0);
	/* Record 0 at 40: key 40..47, rtpi 48..49, flags 50, tid len 52. */
	t_expect("bad magic", buf, (size_t)n, 0, 'X', -EINVAL);
	t_expect("version 2", buf, (size_t)n, 5, 2, -EPROTONOSUPPORT);
	t_expect("version 0", buf, (size_t)n, 5, 0, -EPROTONOSUPPORT);
	t_expect("header length", buf, (size_t)n, 7, 44, -EINVAL);
	t_expect("nregs 9 > 8", buf, (size_t)n, 23, 9, -E2BIG);
	t_expect("nregs 3 > records", buf, (size_t)n, 23, 3, -EINVAL);
	t_expect("nregs 1 < records", buf, (size_t)n, 23, 1, -EINVAL);
	t_expect("holder 2 of 2", buf, (size_t)n, 27, 2, -EINVAL);
	t_expect("type 2", buf, (size_t)n, 28, 2, -EINVAL);
	t_expect("type 9", buf, (size_t)n, 28, 9, -EINVAL);
	t_expect("type none with a holder", buf, (size_t)n, 28, 0, -EINVAL);
	t_expect("AR with a holder", buf, (size_t)n, 28, PR_TYPE_WR_EX_AR,
		 -EINVAL);
	t_expect("scope 1", buf, (size_t)n, 29, 1, -EINVAL);
	t_expect("flag bit 1", buf, (size_t)n, 30, 3, -EINVAL);
	t_expect("aptpl 0 with regs", buf, (size_t)n, 30, 0, -EINVAL);
	t_expect("reserved 31", buf, (size_t)n, 31, 1, -EINVAL);
	t_expect("reserved 39", buf, (size_t)n, 39, 1, -EINVAL);
	t_expect("records length short", buf, (size_t)n, 35,
		 (uint8_t)(buf[35] - 4), -EINVAL);
	t_expect("records length long", buf, (size_t)n, 35,
		 (uint8_t)(buf[35] + 4), -ENODATA);
	{
		uint8_t k0[2048];

		memcpy(k0, buf, (size_t)n);
		memset(k0 + 40, 0, 7); /* key bytes 0..6; t_expect sets 7 */
		t_expect("key 0", k0, (size_t)n, 47, 0, -EINVAL);
	}
	t_expect("rtpi 0", buf, (size_t)n, 49, 0, -EINVAL);
	t_expect("record flag bit 1", buf, (size_t)n, 50, 2, -EINVAL);
	t_expect("record reserved", buf, (size_t)n, 51, 1, -EINVAL);
	t_expect("record reserved 2", buf, (size_t)n, 55, 1, -EINVAL);
	t_expect("tid length +4", buf, (size_t)n, 53,
		 (uint8_t)(buf[53] + 4), -EINVAL);
	t_expect("tid length -4", buf, (size_t)n, 53,
		 (uint8_t)(buf[53] - 4), -EINVAL);
	t_expect("tid protocol", buf, (size_t)n, 56, 0x01, -EINVAL);
	t_expect("tid name byte", buf, (size_t)n, 60, ',', -EINVAL);

	/* A duplicate registration: record 1 made a copy of record 0. */
	{
		uint8_t dup[2048];
		size_t r0 = PR_APTPL_HEADER_LEN;
		size_t l0 = PR_APTPL_REC_LEN + (size_t)(buf[52] << 8 | buf[53]);
		size_t m = PR_APTPL_HEADER_LEN + 2 * l0 + 4;
		struct pr_state tgt, copy;

		memcpy(dup, buf, PR_APTPL_HEADER_LEN);
		memcpy(dup + r0, buf + r0, l0);
		memcpy(dup + r0 + l0, buf + r0, l0);
		dup[32] = (uint8_t)((2 * l0) >> 24);
		dup[33] = (uint8_t)((2 * l0) >> 16);
		dup[34] = (uint8_t)((2 * l0) >> 8);
		dup[35] = (uint8_t)(2 * l0);
		t_recrc(dup, m);
		t_target(&tgt, &copy);
		T_EQ("duplicate", pr_aptpl_decode(dup, m, &tgt, NULL),
		     -EINVAL);
		T_EQ("untouched", pr_state_equal(&tgt, &copy), true);
		/* The same with record 1's key changed: still a duplicate
		 * registration (same I_T nexus). */
		dup[r0 + l0] ^= 0x10;
		t_recrc(dup, m);
		T_EQ("duplicate nexus", pr_aptpl_decode(dup, m, &tgt, NULL),
		     -EINVAL);
		pr_state_fini(&copy);
		pr_state_fini(&tgt);
	}

	/* peek reads a future version's counters (same frame). */
	{
		uint8_t v2[2048];

		memcpy(v2, buf, (size_t)n);
		v2[5] = 2;
		t_recrc(v2, (size_t)n);
		T_EQ("peek v2", pr_aptpl_peek(v2, (size_t)n, &e, &g), 0);
		T_EQ("peek epoch", e, 0x0102030405060708ull);
		T_EQ("peek generation", g, st.generation);
	}
	T_EQ("strerror", strcmp(pr_aptpl_strerror(-EBADMSG),
				"CRC32C mismatch (corrupt)"), 0);
	pr_state_fini(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_round_trip_reserved),
		cmocka_unit_test(test_round_trip_all_registrants),
		cmocka_unit_test(test_round_trip_all_tg_pt),
		cmocka_unit_test(test_round_trip_max_regs),
		cmocka_unit_test(test_aptpl_cleared),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, t_setup, NULL);
}
