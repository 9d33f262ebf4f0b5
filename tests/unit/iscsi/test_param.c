/*
 * param.c: the key=value iterator and output buffer (RFC 7143 6.1), and the
 * operational key table (RFC 7143 13) one key at a time, table-driven.
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

#include "iscsi/iscsi.h"
#include "iscsi/param.h"
#include "iscsi/pdu.h"

/* ------------------------------------------------------------------ */
/* iterator */

static void test_kv_iter_pairs(void **state)
{
	static const char text[] = "A=1\0Bee=\0C=x=y\0\0\0"; /* padding */
	struct iscsi_kv_iter it;
	const char *k, *v;

	iscsi_kv_iter_init(&it, (const uint8_t *)text, sizeof(text) - 1);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_string_equal(k, "A");
	assert_string_equal(v, "1");
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_string_equal(k, "Bee");
	assert_string_equal(v, "");
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_string_equal(k, "C");
	assert_string_equal(v, "x=y"); /* only the first '=' splits */
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 0);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 0);
}

static void test_kv_iter_empty(void **state)
{
	struct iscsi_kv_iter it;
	const char *k, *v;

	iscsi_kv_iter_init(&it, NULL, 0);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 0);
	iscsi_kv_iter_init(&it, (const uint8_t *)"\0\0", 2);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 0);
}

struct kv_bad_case {
	const char *what;
	const char *text;
	size_t len;
	int first; /* result of the first iscsi_kv_next */
};

static void test_kv_iter_malformed(void **state)
{
	static const struct kv_bad_case cases[] = {
		{ "missing '='", "NoEquals\0", 9, -EINVAL },
		{ "no NUL terminator", "A=1", 3, -EINVAL },
		{ "empty key", "=v\0", 3, -EINVAL },
	};
	struct iscsi_kv_iter it;
	const char *k, *v;
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		iscsi_kv_iter_init(&it, (const uint8_t *)cases[i].text,
				   (uint32_t)cases[i].len);
		printf("case: %s\n", cases[i].what);
		assert_int_equal(iscsi_kv_next(&it, &k, &v), cases[i].first);
	}
	/* an unterminated pair ends the iteration */
	iscsi_kv_iter_init(&it, (const uint8_t *)"A=1\0B=2", 7);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), -EINVAL);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 0);
}

static void test_kv_iter_oversize(void **state)
{
	size_t big = 64 + 2 + 8200;
	char *buf = malloc(big);
	struct iscsi_kv_iter it;
	const char *k, *v;

	/* key of 63 bytes is fine, 64 is not (RFC 7143 6.1) */
	memset(buf, 'K', 63);
	buf[63] = '=';
	buf[64] = '\0';
	iscsi_kv_iter_init(&it, (uint8_t *)buf, 65);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_int_equal(strlen(k), 63);

	memset(buf, 'K', 64);
	buf[64] = '=';
	buf[65] = '\0';
	iscsi_kv_iter_init(&it, (uint8_t *)buf, 66);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), -EINVAL);

	/* value of 8192 bytes is fine, 8193 is not */
	buf[0] = 'V';
	buf[1] = '=';
	memset(buf + 2, 'v', 8192);
	buf[2 + 8192] = '\0';
	iscsi_kv_iter_init(&it, (uint8_t *)buf, 2 + 8192 + 1);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), 1);
	assert_int_equal(strlen(v), 8192);
	memset(buf + 2, 'v', 8193);
	buf[2 + 8193] = '\0';
	iscsi_kv_iter_init(&it, (uint8_t *)buf, 2 + 8193 + 1);
	assert_int_equal(iscsi_kv_next(&it, &k, &v), -EINVAL);
	free(buf);
}

static void test_kv_buf(void **state)
{
	struct iscsi_kv_buf b = { 0 };
	unsigned i;

	iscsi_kv_add(&b, "A", "1");
	iscsi_kv_addf(&b, "B", "%u-%s", 42u, "x");
	assert_false(b.oom);
	assert_int_equal(b.len, 4 + 7);
	assert_memory_equal(b.data, "A=1\0B=42-x\0", 11);
	/* growth well past the first allocation */
	for (i = 0; i < 1000; i++)
		iscsi_kv_addf(&b, "TargetAddress", "10.0.0.%u:3260,1", i % 250);
	assert_false(b.oom);
	assert_true(b.len > 20000);
	assert_int_equal(b.data[b.len - 1], '\0');
	free(b.data);

	/* a long formatted value (> the on-stack buffer) */
	memset(&b, 0, sizeof(b));
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	iscsi_kv_addf(&b, "K", "%s", big);
	assert_int_equal(b.len, 2 + 999 + 1);
	free(b.data);
}

static void test_parse_u64(void **state)
{
	uint64_t v;

	assert_int_equal(iscsi_param_parse_u64("262144", &v), 0);
	assert_int_equal(v, 262144);
	assert_int_equal(iscsi_param_parse_u64("0x10", &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(iscsi_param_parse_u64("", &v), -EINVAL);
	assert_int_equal(iscsi_param_parse_u64("0x", &v), -EINVAL);
	assert_int_equal(iscsi_param_parse_u64("12a", &v), -EINVAL);
	assert_int_equal(iscsi_param_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(iscsi_param_parse_u64("99999999999999999999999", &v),
			 -EINVAL);
}

static void test_params_default(void **state)
{
	struct iscsi_params p;

	iscsi_params_default(&p);
	assert_false(p.header_digest);
	assert_false(p.data_digest);
	assert_int_equal(p.max_xmit_dsl, 8192);
	assert_int_equal(p.max_burst, 262144);
	assert_int_equal(p.first_burst, 65536);
	assert_true(p.initial_r2t);
	assert_true(p.immediate_data);
	assert_int_equal(p.max_outstanding_r2t, 1);
	assert_true(p.data_pdu_in_order);
	assert_true(p.data_sequence_in_order);
	assert_int_equal(p.default_time2wait, 2);
	assert_int_equal(p.default_time2retain, 20);
	assert_int_equal(p.max_connections, 1);
	assert_int_equal(p.error_recovery_level, 0);
}

/* ------------------------------------------------------------------ */
/* negotiation, one key at a time */

/* The single answer in b, or "" if none. */
static const char *answer_of(const struct iscsi_kv_buf *b, char *out,
			     size_t cap)
{
	const char *eq;

	out[0] = '\0';
	if (!b->len)
		return out;
	eq = memchr(b->data, '=', b->len);
	assert_non_null(eq);
	snprintf(out, cap, "%s", eq + 1);
	assert_int_equal(strlen(b->data) + 1, b->len); /* exactly one pair */
	return out;
}

enum field { F_NONE, F_HDIG, F_DDIG, F_MAXCONN, F_IR2T, F_IMM, F_XMIT, F_MAXB,
	     F_FIRSTB, F_T2W, F_T2R, F_MR2T, F_PDUORD, F_SEQORD, F_ERL };

static uint32_t field_get(const struct iscsi_params *p, enum field f)
{
	switch (f) {
	case F_HDIG: return p->header_digest;
	case F_DDIG: return p->data_digest;
	case F_MAXCONN: return p->max_connections;
	case F_IR2T: return p->initial_r2t;
	case F_IMM: return p->immediate_data;
	case F_XMIT: return p->max_xmit_dsl;
	case F_MAXB: return p->max_burst;
	case F_FIRSTB: return p->first_burst;
	case F_T2W: return p->default_time2wait;
	case F_T2R: return p->default_time2retain;
	case F_MR2T: return p->max_outstanding_r2t;
	case F_PDUORD: return p->data_pdu_in_order;
	case F_SEQORD: return p->data_sequence_in_order;
	case F_ERL: return p->error_recovery_level;
	case F_NONE: break;
	}
	return 0;
}

struct neg_case {
	const char *key;
	const char *offer;
	const char *answer;  /* "" = no answer (declaration) */
	enum field field;
	uint32_t value;      /* resulting parameter */
};

/* Limits used: max_recv_dsl 65536, max_burst 131072, first_burst 32768. */
static const struct neg_case neg_cases[] = {
	/* 13.1 lists: the first value we support */
	{ "HeaderDigest", "CRC32C,None", "CRC32C", F_HDIG, 1 },
	{ "HeaderDigest", "None,CRC32C", "None", F_HDIG, 0 },
	{ "HeaderDigest", "MD5,CRC32C", "CRC32C", F_HDIG, 1 },
	{ "HeaderDigest", "MD5,SHA1", "Reject", F_HDIG, 0 },
	{ "DataDigest", "CRC32C", "CRC32C", F_DDIG, 1 },
	{ "DataDigest", "None", "None", F_DDIG, 0 },
	/* 13.2 MaxConnections: min, we do 1 */
	{ "MaxConnections", "8", "1", F_MAXCONN, 1 },
	{ "MaxConnections", "0", "Reject", F_MAXCONN, 1 },
	{ "MaxConnections", "65536", "Reject", F_MAXCONN, 1 },
	/* 13.10 InitialR2T: OR (ours No) */
	{ "InitialR2T", "No", "No", F_IR2T, 0 },
	{ "InitialR2T", "Yes", "Yes", F_IR2T, 1 },
	{ "InitialR2T", "yes", "Reject", F_IR2T, 1 },
	/* 13.11 ImmediateData: AND (ours Yes) */
	{ "ImmediateData", "Yes", "Yes", F_IMM, 1 },
	{ "ImmediateData", "No", "No", F_IMM, 0 },
	{ "ImmediateData", "Maybe", "Reject", F_IMM, 1 },
	/* 13.12 declarative: the initiator's value is what we may send */
	{ "MaxRecvDataSegmentLength", "1048576", "", F_XMIT, 1048576 },
	{ "MaxRecvDataSegmentLength", "512", "", F_XMIT, 512 },
	{ "MaxRecvDataSegmentLength", "0x2000", "", F_XMIT, 8192 },
	/* 13.13/13.14 min */
	{ "MaxBurstLength", "262144", "131072", F_MAXB, 131072 },
	{ "MaxBurstLength", "4096", "4096", F_MAXB, 4096 },
	{ "MaxBurstLength", "511", "Reject", F_MAXB, 262144 },
	{ "MaxBurstLength", "16777216", "Reject", F_MAXB, 262144 },
	{ "FirstBurstLength", "65536", "32768", F_FIRSTB, 32768 },
	{ "FirstBurstLength", "8192", "8192", F_FIRSTB, 8192 },
	{ "FirstBurstLength", "abc", "Reject", F_FIRSTB, 65536 },
	/* 13.15 max, 13.16 min */
	{ "DefaultTime2Wait", "0", "2", F_T2W, 2 },
	{ "DefaultTime2Wait", "10", "10", F_T2W, 10 },
	{ "DefaultTime2Wait", "3601", "Reject", F_T2W, 2 },
	{ "DefaultTime2Retain", "0", "0", F_T2R, 0 },
	{ "DefaultTime2Retain", "3600", "20", F_T2R, 20 },
	/* 13.17 min */
	{ "MaxOutstandingR2T", "1", "1", F_MR2T, 1 },
	{ "MaxOutstandingR2T", "1000", "16", F_MR2T, 16 },
	{ "MaxOutstandingR2T", "0", "Reject", F_MR2T, 1 },
	/* 13.18/13.19 OR (ours Yes) */
	{ "DataPDUInOrder", "No", "Yes", F_PDUORD, 1 },
	{ "DataSequenceInOrder", "No", "Yes", F_SEQORD, 1 },
	/* 13.20 min, we do 0 */
	{ "ErrorRecoveryLevel", "2", "0", F_ERL, 0 },
	{ "ErrorRecoveryLevel", "3", "Reject", F_ERL, 0 },
	/* 13.25 markers are obsolete */
	{ "OFMarker", "Yes", "No", F_NONE, 0 },
	{ "IFMarker", "No", "No", F_NONE, 0 },
	{ "OFMarkInt", "2048~8192", "Reject", F_NONE, 0 },
	/* 13.23 */
	{ "TaskReporting", "ResponseFence,FastAbort", "RFC3720", F_NONE, 0 },
	/* 6.2 unknown keys */
	{ "X-com.example.Foo", "1", "NotUnderstood", F_NONE, 0 },
	{ "X#Foo", "1", "NotUnderstood", F_NONE, 0 },
	{ "FancyNewKey", "1", "NotUnderstood", F_NONE, 0 },
	{ "InitiatorAlias", "host1", "", F_NONE, 0 },
};

static const struct iscsi_global_config neg_global = {
	.max_recv_dsl = 65536,
	.max_burst = 131072,
	.first_burst = 32768,
};

static void test_neg_table(void **state)
{
	unsigned i;

	for (i = 0; i < sizeof(neg_cases) / sizeof(neg_cases[0]); i++) {
		const struct neg_case *c = &neg_cases[i];
		struct iscsi_neg n;
		struct iscsi_kv_buf b = { 0 };
		uint16_t status = 0;
		char ans[64];

		printf("case %u: %s=%s\n", i, c->key, c->offer);
		iscsi_neg_init(&n, &neg_global, false, true);
		assert_int_equal(iscsi_neg_key(&n, c->key, c->offer, &b,
					       &status),
				 ISCSI_NEG_OK);
		assert_string_equal(answer_of(&b, ans, sizeof(ans)), c->answer);
		if (c->field != F_NONE)
			assert_int_equal(field_get(&n.params, c->field),
					 c->value);
		free(b.data);
	}
}

static void test_neg_failures(void **state)
{
	struct iscsi_neg n;
	struct iscsi_kv_buf b = { 0 };
	uint16_t status = 0;

	/* 6.2: offered twice */
	iscsi_neg_init(&n, NULL, false, true);
	assert_int_equal(iscsi_neg_key(&n, "MaxBurstLength", "8192", &b, &status),
			 ISCSI_NEG_OK);
	assert_int_equal(iscsi_neg_key(&n, "MaxBurstLength", "8192", &b, &status),
			 ISCSI_NEG_FAIL);
	assert_int_equal(status, ISCSI_LS_INITIATOR_ERROR);

	/* LO key on a connection joining a session */
	status = 0;
	iscsi_neg_init(&n, NULL, false, false);
	assert_int_equal(iscsi_neg_key(&n, "InitialR2T", "No", &b, &status),
			 ISCSI_NEG_FAIL);
	assert_int_equal(status, ISCSI_LS_INITIATOR_ERROR);
	/* ...but connection-scoped keys are fine */
	assert_int_equal(iscsi_neg_key(&n, "HeaderDigest", "None", &b, &status),
			 ISCSI_NEG_OK);

	/* declarative value we cannot use */
	status = 0;
	iscsi_neg_init(&n, NULL, false, true);
	assert_int_equal(iscsi_neg_key(&n, "MaxRecvDataSegmentLength", "100",
				       &b, &status),
			 ISCSI_NEG_FAIL);
	assert_int_equal(status, ISCSI_LS_INITIATOR_ERROR);

	/* keys only a target sends */
	status = 0;
	assert_int_equal(iscsi_neg_key(&n, "TargetPortalGroupTag", "1", &b,
				       &status),
			 ISCSI_NEG_FAIL);
	assert_int_equal(status, ISCSI_LS_INITIATOR_ERROR);

	/* login's own keys are not negotiated here */
	assert_int_equal(iscsi_neg_key(&n, "AuthMethod", "None", &b, &status),
			 ISCSI_NEG_NOT_OPERATIONAL);
	assert_int_equal(iscsi_neg_key(&n, "CHAP_A", "5", &b, &status),
			 ISCSI_NEG_NOT_OPERATIONAL);
	free(b.data);
}

static void test_neg_discovery_irrelevant(void **state)
{
	struct iscsi_neg n;
	struct iscsi_kv_buf b = { 0 };
	uint16_t status = 0;
	char ans[64];

	iscsi_neg_init(&n, NULL, true, true);
	assert_int_equal(iscsi_neg_key(&n, "MaxBurstLength", "8192", &b, &status),
			 ISCSI_NEG_OK);
	assert_string_equal(answer_of(&b, ans, sizeof(ans)), "Irrelevant");
	assert_int_equal(n.params.max_burst, 262144);
	free(b.data);
	memset(&b, 0, sizeof(b));
	/* digests stay relevant */
	assert_int_equal(iscsi_neg_key(&n, "HeaderDigest", "CRC32C", &b, &status),
			 ISCSI_NEG_OK);
	assert_string_equal(answer_of(&b, ans, sizeof(ans)), "CRC32C");
	free(b.data);
}

static void test_neg_first_le_max(void **state)
{
	struct iscsi_neg n;
	struct iscsi_kv_buf b = { 0 };
	uint16_t status = 0;

	/* FirstBurst offered before MaxBurst, MaxBurst then smaller */
	iscsi_neg_init(&n, NULL, false, true);
	iscsi_neg_key(&n, "FirstBurstLength", "65536", &b, &status);
	iscsi_neg_key(&n, "MaxBurstLength", "16384", &b, &status);
	iscsi_neg_settle(&n);
	assert_int_equal(n.params.max_burst, 16384);
	assert_int_equal(n.params.first_burst, 16384);
	free(b.data);

	/* configured first_burst above max_burst is clamped at init */
	struct iscsi_global_config g = { .max_burst = 8192, .first_burst = 65536 };
	iscsi_neg_init(&n, &g, false, true);
	assert_int_equal(n.our_first_burst, 8192);
}

static void test_neg_declare(void **state)
{
	struct iscsi_neg n;
	struct iscsi_kv_buf b = { 0 };

	iscsi_neg_init(&n, NULL, false, true);
	assert_int_equal(n.params.max_recv_dsl, 262144);
	iscsi_neg_declare(&n, &b);
	iscsi_neg_declare(&n, &b); /* once per login */
	assert_int_equal(b.len, strlen("MaxRecvDataSegmentLength=262144") + 1);
	assert_string_equal(b.data, "MaxRecvDataSegmentLength=262144");
	free(b.data);

	memset(&b, 0, sizeof(b));
	iscsi_neg_init(&n, &neg_global, false, true);
	assert_int_equal(n.params.max_recv_dsl, 65536);
	iscsi_neg_declare(&n, &b);
	assert_string_equal(b.data, "MaxRecvDataSegmentLength=65536");
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_iter_pairs),
		cmocka_unit_test(test_kv_iter_empty),
		cmocka_unit_test(test_kv_iter_malformed),
		cmocka_unit_test(test_kv_iter_oversize),
		cmocka_unit_test(test_kv_buf),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_params_default),
		cmocka_unit_test(test_neg_table),
		cmocka_unit_test(test_neg_failures),
		cmocka_unit_test(test_neg_discovery_irrelevant),
		cmocka_unit_test(test_neg_first_le_max),
		cmocka_unit_test(test_neg_declare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
