/*
 * pdu.c: the full-feature-phase header check (one row per case) and the
 * Reject PDU (RFC 7143 11.17).
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

#include "iscsi/pdu.h"

struct check_case {
	uint8_t op;
	uint32_t dsl;
	uint8_t ahs_words;
	uint32_t erl;
	int want;
};

static const struct check_case check_cases[] = {
	{ ISCSI_OP_NOP_OUT, 0, 0, 0, 0 },
	{ ISCSI_OP_SCSI_CMD, 8192, 0, 0, 0 },
	{ ISCSI_OP_SCSI_CMD, 8192, 4, 0, 0 },     /* extended CDB AHS */
	{ ISCSI_OP_SCSI_CMD, 8193, 0, 0, ISCSI_REJECT_PROTOCOL_ERROR },
	{ ISCSI_OP_DATA_OUT, 8192, 0, 0, 0 },
	{ ISCSI_OP_DATA_OUT, 16384, 0, 0, ISCSI_REJECT_PROTOCOL_ERROR },
	{ ISCSI_OP_DATA_OUT, 0, 1, 0, ISCSI_REJECT_PROTOCOL_ERROR },
	{ ISCSI_OP_TMF_REQ, 0, 0, 0, 0 },
	{ ISCSI_OP_TEXT_REQ, 100, 0, 0, 0 },
	{ ISCSI_OP_LOGOUT_REQ, 0, 0, 0, 0 },
	{ ISCSI_OP_LOGIN_REQ, 0, 0, 0, ISCSI_REJECT_PROTOCOL_ERROR },
	{ ISCSI_OP_SNACK_REQ, 0, 0, 0, ISCSI_REJECT_SNACK_REJECT },
	{ ISCSI_OP_SNACK_REQ, 0, 0, 1, 0 },
	{ 0x1c, 0, 0, 0, ISCSI_REJECT_CMD_NOT_SUPPORTED }, /* vendor */
	{ 0x07, 0, 0, 0, ISCSI_REJECT_CMD_NOT_SUPPORTED }, /* unassigned */
	{ ISCSI_OP_SCSI_RSP, 0, 0, 0, ISCSI_REJECT_CMD_NOT_SUPPORTED },
	{ ISCSI_OP_REJECT, 0, 0, 0, ISCSI_REJECT_CMD_NOT_SUPPORTED },
};

static void test_pdu_check_ffp(void **state)
{
	unsigned i;

	for (i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *c = &check_cases[i];
		uint8_t bhs[ISCSI_BHS_LEN] = { 0 };

		bhs[0] = c->op | ISCSI_FLAG_IMMEDIATE;
		bhs[1] = ISCSI_FLAG_FINAL;
		bhs[4] = c->ahs_words;
		iscsi_bhs_set_dsl(bhs, c->dsl);
		printf("case %u: op 0x%02x (%s)\n", i, c->op,
		       iscsi_pdu_opcode_name(c->op));
		assert_int_equal(iscsi_pdu_check_ffp(bhs, 8192, c->erl),
				 c->want);
	}
	assert_string_equal(iscsi_pdu_opcode_name(ISCSI_OP_R2T), "R2T");
	assert_string_equal(iscsi_pdu_opcode_name(0x1d), "unknown");
}

static void test_pdu_build_reject(void **state)
{
	uint8_t bad[ISCSI_BHS_LEN];
	struct iscsi_pdu r;
	unsigned i;

	for (i = 0; i < ISCSI_BHS_LEN; i++)
		bad[i] = (uint8_t)(i * 7 + 1);
	memset(&r, 0xee, sizeof(r));
	assert_int_equal(iscsi_pdu_build_reject(&r, bad,
						ISCSI_REJECT_INVALID_PDU_FIELD),
			 0);
	assert_int_equal(iscsi_bhs_opcode(r.bhs), ISCSI_OP_REJECT);
	assert_int_equal(r.bhs[1], 0x80);
	assert_int_equal(r.bhs[2], 0x09);
	assert_int_equal(iscsi_bhs_dsl(r.bhs), 48);
	assert_int_equal(iscsi_bhs_itt(r.bhs), 0xffffffffu);
	assert_int_equal(iscsi_bhs_ahs_len(r.bhs), 0);
	assert_int_equal(iscsi_get_be32(r.bhs + 36), 0); /* DataSN/R2TSN */
	assert_int_equal(r.data_len, 48);
	assert_null(r.ahs);
	assert_memory_equal(r.data, bad, 48);
	free(r.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdu_check_ffp),
		cmocka_unit_test(test_pdu_build_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
