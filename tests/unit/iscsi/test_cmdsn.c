/*
 * Unit tests of the CmdSN window (src/iscsi/cmdsn.c, RFC 7143 4.2.2.1):
 * classification of arriving CmdSNs, credit accounting, back-pressure and
 * the rule that the advertised MaxCmdSN never moves backwards, including
 * across the 2^32 wrap (RFC 1982 serial arithmetic).
 *
 *   initiator --CmdSN--> [ExpCmdSN .. MaxCmdSN] --in order--> SCSI core
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "iscsi/cmdsn.h"

static void test_cmdsn_init(void **state)
{
	struct iscsi_cmdsn_window w;

	iscsi_cmdsn_init(&w, 100, 8);
	assert_int_equal(w.exp_cmdsn, 100);
	assert_int_equal(iscsi_cmdsn_max(&w), 107);
}

/* One row: window state, then an arriving CmdSN and its verdict. */
struct cmdsn_case {
	uint32_t start;
	uint32_t window;
	uint32_t cmdsn;
	bool immediate;
	enum iscsi_cmdsn_verdict want;
};

static const struct cmdsn_case cmdsn_cases[] = {
	{ 100, 8, 100, false, ISCSI_CMDSN_NEXT },
	{ 100, 8, 101, false, ISCSI_CMDSN_QUEUE },
	{ 100, 8, 107, false, ISCSI_CMDSN_QUEUE },   /* == MaxCmdSN */
	{ 100, 8, 108, false, ISCSI_CMDSN_DROP },    /* beyond MaxCmdSN */
	{ 100, 8, 99, false, ISCSI_CMDSN_DROP },     /* already seen */
	{ 100, 8, 5000, true, ISCSI_CMDSN_IMMEDIATE },
	{ 0xfffffffe, 8, 0xfffffffe, false, ISCSI_CMDSN_NEXT },
	{ 0xfffffffe, 8, 1, false, ISCSI_CMDSN_QUEUE },  /* across the wrap */
	{ 0xfffffffe, 8, 5, false, ISCSI_CMDSN_QUEUE },
	{ 0xfffffffe, 8, 6, false, ISCSI_CMDSN_DROP },
	{ 0xfffffffe, 8, 0xfffffffd, false, ISCSI_CMDSN_DROP },
};

static void test_cmdsn_classify_table(void **state)
{
	unsigned i;

	for (i = 0; i < sizeof(cmdsn_cases) / sizeof(cmdsn_cases[0]); i++) {
		const struct cmdsn_case *c = &cmdsn_cases[i];
		struct iscsi_cmdsn_window w;

		iscsi_cmdsn_init(&w, c->start, c->window);
		iscsi_cmdsn_max(&w);
		print_message("case %u: start %u cmdsn %u\n", i, c->start,
			      c->cmdsn);
		assert_int_equal(iscsi_cmdsn_classify(&w, c->cmdsn,
						      c->immediate),
				 c->want);
	}
}

/* The window opens on completion, not on arrival. */
static void test_cmdsn_credit(void **state)
{
	struct iscsi_cmdsn_window w;
	uint32_t i;

	iscsi_cmdsn_init(&w, 1, 4);
	for (i = 1; i <= 4; i++) {
		assert_int_equal(iscsi_cmdsn_classify(&w, i, false),
				 ISCSI_CMDSN_NEXT);
		iscsi_cmdsn_accept(&w);
	}
	/* four in flight: the window is closed (MaxCmdSN = ExpCmdSN - 1) */
	assert_int_equal(w.exp_cmdsn, 5);
	assert_int_equal(iscsi_cmdsn_max(&w), 4);
	assert_int_equal(iscsi_cmdsn_classify(&w, 5, false), ISCSI_CMDSN_DROP);
	iscsi_cmdsn_complete(&w);
	assert_int_equal(iscsi_cmdsn_max(&w), 5);
	assert_int_equal(iscsi_cmdsn_classify(&w, 5, false), ISCSI_CMDSN_NEXT);
}

/* Back-pressure shrinks the credit but MaxCmdSN never goes back. */
static void test_cmdsn_throttle_monotonic(void **state)
{
	struct iscsi_cmdsn_window w;
	uint32_t max_before, i;

	iscsi_cmdsn_init(&w, 10, 8);
	max_before = iscsi_cmdsn_max(&w);
	iscsi_cmdsn_accept(&w);
	iscsi_cmdsn_throttle(&w);        /* limit 8 -> 4 */
	iscsi_cmdsn_throttle(&w);        /* 4 -> 2 */
	iscsi_cmdsn_throttle(&w);        /* 2 -> 1 */
	iscsi_cmdsn_throttle(&w);        /* stays 1 */
	assert_int_equal(w.limit, 1);
	assert_int_equal(iscsi_cmdsn_max(&w), max_before);
	/* completions grow the limit back by one each */
	iscsi_cmdsn_complete(&w);
	assert_int_equal(w.limit, 2);
	for (i = 0; i < 10; i++)
		iscsi_cmdsn_complete(&w);
	assert_int_equal(w.limit, 8);
	assert_int_equal(w.in_flight, 0);
	/* exp 11, 8 free slots: 11 + 8 - 1 */
	assert_int_equal(iscsi_cmdsn_max(&w), 18);
}

/* Immediate commands neither advance ExpCmdSN nor use credit. */
static void test_cmdsn_immediate_not_counted(void **state)
{
	struct iscsi_cmdsn_window w;

	iscsi_cmdsn_init(&w, 7, 2);
	assert_int_equal(iscsi_cmdsn_classify(&w, 7, true),
			 ISCSI_CMDSN_IMMEDIATE);
	assert_int_equal(w.exp_cmdsn, 7);
	assert_int_equal(iscsi_cmdsn_max(&w), 8);
}

static void test_cmdsn_zero_window(void **state)
{
	struct iscsi_cmdsn_window w;

	iscsi_cmdsn_init(&w, 1, 0); /* treated as 1 */
	assert_int_equal(iscsi_cmdsn_max(&w), 1);
	assert_int_equal(iscsi_cmdsn_classify(&w, 1, false), ISCSI_CMDSN_NEXT);
	assert_int_equal(iscsi_cmdsn_classify(&w, 2, false), ISCSI_CMDSN_DROP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdsn_init),
		cmocka_unit_test(test_cmdsn_classify_table),
		cmocka_unit_test(test_cmdsn_credit),
		cmocka_unit_test(test_cmdsn_throttle_monotonic),
		cmocka_unit_test(test_cmdsn_immediate_not_counted),
		cmocka_unit_test(test_cmdsn_zero_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
