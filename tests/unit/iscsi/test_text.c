/*
 * text.c: SendTargets (RFC 7143 Appendix C) over a fixed set of targets:
 * All, one name, the session's target, ACL filtering, IPv6 brackets.
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

#include "iscsi/text.h"

/*
 *   target A  (TPG 1: 192.0.2.1:3260, [2001:db8::1]:3260; TPG 2: 192.0.2.2:3261)
 *   target B  (TPG 7: 198.51.100.9:3260)   hidden from "evil" by the ACL
 */
static struct iscsi_portal_config pa1[] = {
	{ "192.0.2.1", 3260 }, { "2001:db8::1", 3260 } };
static struct iscsi_portal_config pa2[] = { { "192.0.2.2", 3261 } };
static struct iscsi_portal_config pb[] = { { "198.51.100.9", 3260 } };
static struct iscsi_tpg_config tpga[] = { { 1, NULL, 2, pa1 }, { 2, NULL, 1, pa2 } };
static struct iscsi_tpg_config tpgb[] = { { 7, NULL, 1, pb } };
static struct iscsi_target_config ta, tb;
static const struct iscsi_target_config *targets[2];

static int setup(void **state)
{
	memset(&ta, 0, sizeof(ta));
	memset(&tb, 0, sizeof(tb));
	strcpy(ta.name, "iqn.2026-01.test:a");
	ta.n_tpgs = 2;
	ta.tpgs = tpga;
	strcpy(tb.name, "iqn.2026-01.test:b");
	tb.n_tpgs = 1;
	tb.tpgs = tpgb;
	targets[0] = &ta;
	targets[1] = &tb;
	return 0;
}

static int visible_not_b(void *arg, const struct iscsi_target_config *t)
{
	return t != &tb;
}

/* Renders the NUL-separated output with '\n' separators for comparison. */
static char *render(const struct iscsi_kv_buf *b)
{
	char *s = calloc(1, b->len + 1);
	uint32_t i;

	for (i = 0; i < b->len; i++)
		s[i] = b->data[i] ? b->data[i] : '\n';
	return s;
}

static void run(const char *req, size_t req_len,
		const struct iscsi_target_config *session_target,
		int (*vis)(void *, const struct iscsi_target_config *),
		int want_rc, const char *want)
{
	struct iscsi_kv_buf b = { 0 };
	char *s;

	assert_int_equal(iscsi_text_sendtargets((const uint8_t *)req,
						(uint32_t)req_len, targets, 2,
						session_target, vis, NULL, &b),
			 want_rc);
	s = render(&b);
	assert_string_equal(s, want);
	free(s);
	free(b.data);
}

#define REQ(s) s, sizeof(s) - 1

static void test_sendtargets_all(void **state)
{
	run(REQ("SendTargets=All\0"), NULL, NULL, 0,
	    "TargetName=iqn.2026-01.test:a\n"
	    "TargetAddress=192.0.2.1:3260,1\n"
	    "TargetAddress=[2001:db8::1]:3260,1\n"
	    "TargetAddress=192.0.2.2:3261,2\n"
	    "TargetName=iqn.2026-01.test:b\n"
	    "TargetAddress=198.51.100.9:3260,7\n");
}

/* Other cluster nodes' portals of target A (the port directory's) come
 * after its own, with their TPG tags; an IPv6 one in brackets. */
static void test_sendtargets_remote(void **state)
{
	static struct iscsi_remote_portal remote[] = {
		{ { "192.0.2.12", 3260 }, 1 }, { { "2001:db8::13", 3262 }, 3 } };

	ta.remote = remote;
	ta.n_remote = 2;
	run(REQ("SendTargets=iqn.2026-01.test:a\0"), NULL, NULL, 0,
	    "TargetName=iqn.2026-01.test:a\n"
	    "TargetAddress=192.0.2.1:3260,1\n"
	    "TargetAddress=[2001:db8::1]:3260,1\n"
	    "TargetAddress=192.0.2.2:3261,2\n"
	    "TargetAddress=192.0.2.12:3260,1\n"
	    "TargetAddress=[2001:db8::13]:3262,3\n");
}

static void test_sendtargets_acl(void **state)
{
	run(REQ("SendTargets=All\0"), NULL, visible_not_b, 0,
	    "TargetName=iqn.2026-01.test:a\n"
	    "TargetAddress=192.0.2.1:3260,1\n"
	    "TargetAddress=[2001:db8::1]:3260,1\n"
	    "TargetAddress=192.0.2.2:3261,2\n");
	/* asking for a hidden target by name gives nothing */
	run(REQ("SendTargets=iqn.2026-01.test:b\0"), NULL, visible_not_b, 0, "");
}

static void test_sendtargets_name(void **state)
{
	run(REQ("SendTargets=IQN.2026-01.test:B\0"), NULL, NULL, 0,
	    "TargetName=iqn.2026-01.test:b\n"
	    "TargetAddress=198.51.100.9:3260,7\n");
	run(REQ("SendTargets=iqn.2026-01.test:nope\0"), NULL, NULL, 0, "");
}

static void test_sendtargets_session(void **state)
{
	run(REQ("SendTargets=\0"), &tb, NULL, 0,
	    "TargetName=iqn.2026-01.test:b\n"
	    "TargetAddress=198.51.100.9:3260,7\n");
	run(REQ("SendTargets=\0"), NULL, NULL, 0, "");
}

static void test_sendtargets_no_key(void **state)
{
	run(REQ("Foo=Bar\0"), NULL, NULL, -EINVAL, "");
	run(REQ(""), NULL, NULL, -EINVAL, "");
	run(REQ("SendTargets"), NULL, NULL, -EINVAL, "");
	/* other keys before it are skipped */
	run(REQ("X-a=1\0SendTargets=iqn.2026-01.test:a\0"), NULL,
	    visible_not_b, 0,
	    "TargetName=iqn.2026-01.test:a\n"
	    "TargetAddress=192.0.2.1:3260,1\n"
	    "TargetAddress=[2001:db8::1]:3260,1\n"
	    "TargetAddress=192.0.2.2:3261,2\n");
}

/* A wildcard portal is reported as the address the request came in on. */
static void test_sendtargets_wildcard(void **state)
{
	static struct iscsi_portal_config pw[] = {
		{ "0.0.0.0", 3260 }, { "::", 3262 }, { "192.0.2.5", 3263 } };
	static struct iscsi_tpg_config tpgw[] = { { 4, NULL, 3, pw } };
	struct iscsi_kv_buf b = { 0 };
	static const char req[] = "SendTargets=All";
	char *s;

	ta.n_tpgs = 1;
	ta.tpgs = tpgw;
	assert_int_equal(iscsi_text_sendtargets_local(
				 (const uint8_t *)req, sizeof(req), targets, 1,
				 NULL, NULL, NULL, "10.1.2.3", &b),
			 0);
	s = render(&b);
	assert_string_equal(s, "TargetName=iqn.2026-01.test:a\n"
			       "TargetAddress=10.1.2.3:3260,4\n"
			       "TargetAddress=10.1.2.3:3262,4\n"
			       "TargetAddress=192.0.2.5:3263,4\n");
	free(s);
	free(b.data);

	memset(&b, 0, sizeof(b));
	assert_int_equal(iscsi_text_sendtargets_local(
				 (const uint8_t *)req, sizeof(req), targets, 1,
				 NULL, NULL, NULL, "fe80::1", &b),
			 0);
	s = render(&b);
	assert_string_equal(s, "TargetName=iqn.2026-01.test:a\n"
			       "TargetAddress=[fe80::1]:3260,4\n"
			       "TargetAddress=[fe80::1]:3262,4\n"
			       "TargetAddress=192.0.2.5:3263,4\n");
	free(s);
	free(b.data);

	/* without a local address: as configured */
	memset(&b, 0, sizeof(b));
	assert_int_equal(iscsi_text_sendtargets((const uint8_t *)req,
						sizeof(req), targets, 1, NULL,
						NULL, NULL, &b),
			 0);
	s = render(&b);
	assert_string_equal(s, "TargetName=iqn.2026-01.test:a\n"
			       "TargetAddress=0.0.0.0:3260,4\n"
			       "TargetAddress=[::]:3262,4\n"
			       "TargetAddress=192.0.2.5:3263,4\n");
	free(s);
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sendtargets_all, setup),
		cmocka_unit_test_setup(test_sendtargets_acl, setup),
		cmocka_unit_test_setup(test_sendtargets_remote, setup),
		cmocka_unit_test_setup(test_sendtargets_name, setup),
		cmocka_unit_test_setup(test_sendtargets_session, setup),
		cmocka_unit_test_setup(test_sendtargets_no_key, setup),
		cmocka_unit_test_setup(test_sendtargets_wildcard, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
