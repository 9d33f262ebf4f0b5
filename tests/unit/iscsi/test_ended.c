/*
 * ended.c: the bounded ring of ended write tasks' ITTs whose late Data-Out
 * is discarded (RFC 7143 11.5.1) rather than rejected.
 *
 *   initiator --- 64 writes waiting for Data-Out --- target
 *                 all aborted at once (PREEMPT AND ABORT)
 *
 * Every one of the 64 must be remembered with the default window (128);
 * the ring never grows past its capacity, whatever is added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "iscsi/ended.h"

static void test_ended_cap(void **state)
{
	(void)state;
	assert_int_equal(iscsi_ended_cap(1), ISCSI_ENDED_MIN);
	assert_int_equal(iscsi_ended_cap(128), 256);
	assert_int_equal(iscsi_ended_cap(0xffffffffu), ISCSI_ENDED_MAX);
}

static void test_ended_mass_abort(void **state)
{
	struct iscsi_ended e;

	(void)state;
	iscsi_ended_init(&e, iscsi_ended_cap(128));
	assert_false(iscsi_ended_has(&e, 7)); /* nothing allocated yet */
	/* 64 writes ended before their data (more than the old 32) */
	for (uint32_t itt = 0x100; itt < 0x100 + 64; itt++)
		iscsi_ended_add(&e, itt);
	for (uint32_t itt = 0x100; itt < 0x100 + 64; itt++)
		assert_true(iscsi_ended_has(&e, itt));
	assert_false(iscsi_ended_has(&e, 0x100 + 64));
	assert_false(iscsi_ended_has(&e, 0xff));
	/* the reserved tag is never "ended" */
	iscsi_ended_add(&e, ISCSI_ENDED_FREE);
	assert_false(iscsi_ended_has(&e, ISCSI_ENDED_FREE));
	iscsi_ended_fini(&e);
}

/* Full: the oldest entries go first; adding an ITT already there does not
 * push anything out. */
static void test_ended_bounded(void **state)
{
	struct iscsi_ended e;

	(void)state;
	iscsi_ended_init(&e, 32);
	for (uint32_t itt = 1; itt <= 32; itt++)
		iscsi_ended_add(&e, itt);
	iscsi_ended_add(&e, 5); /* duplicate: no slot taken */
	assert_true(iscsi_ended_has(&e, 1));
	iscsi_ended_add(&e, 33);
	assert_false(iscsi_ended_has(&e, 1)); /* the oldest */
	assert_true(iscsi_ended_has(&e, 2));
	assert_true(iscsi_ended_has(&e, 33));
	/* a flood keeps exactly the last 32 */
	for (uint32_t itt = 1000; itt < 1000 + 100000; itt++)
		iscsi_ended_add(&e, itt);
	assert_int_equal(e.cap, 32);
	for (uint32_t itt = 1000 + 100000 - 32; itt < 1000 + 100000; itt++)
		assert_true(iscsi_ended_has(&e, itt));
	assert_false(iscsi_ended_has(&e, 1000 + 100000 - 33));
	assert_false(iscsi_ended_has(&e, 33));
	iscsi_ended_fini(&e);
	iscsi_ended_fini(&e); /* idempotent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ended_cap),
		cmocka_unit_test(test_ended_mass_abort),
		cmocka_unit_test(test_ended_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
