/*
 * login.c: whole login conversations fed as Login Request PDUs, the way
 * libiscsi and the Linux initiator send them, and the failures of RFC 7143
 * 11.13.5 each from its cause.
 *
 *   initiator iqn.2026-01.test:init1 (in the ACL)
 *   initiator iqn.2026-01.test:evil  (not in the ACL)
 *        |
 *   portal, TPG 3 ---- target iqn.2026-01.test:disk (alias "disk one")
 *
 * bind_session is a stub that hands out TSIH 0x1234 (or fails on demand)
 * and keeps a copy of what login passed it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "iscsi/chap.h"
#include "iscsi/login.h"

#define INIT1 "iqn.2026-01.test:init1"
#define EVIL "iqn.2026-01.test:evil"
#define DISK "iqn.2026-01.test:disk"
#define TEST_TSIH 0x1234
#define TEST_ITT 0x01020304u
#define TEST_CMDSN 0x7000u

static const uint8_t test_isid[6] = { 0x80, 0x12, 0x34, 0x56, 0x00, 0x01 };

static char acl[1][224] = { INIT1 };
static struct iscsi_portal_config portal = { "192.0.2.1", 3260 };
static struct iscsi_tpg_config tpg = { 3, NULL, 1, &portal };
static struct iscsi_target_config target;
static struct iscsi_global_config global;

static unsigned bind_calls;
static uint16_t bind_status;
static struct iscsi_login_result bound;

static const struct iscsi_target_config *find_target(
	void *arg, const char *name, const struct iscsi_tpg_config **t)
{
	if (strcmp(name, target.name) != 0)
		return NULL;
	*t = &tpg;
	return &target;
}

static uint16_t bind_session(void *arg, const struct iscsi_login_result *r,
			     uint16_t *tsih)
{
	bind_calls++;
	bound = *r;
	if (bind_status)
		return bind_status;
	*tsih = TEST_TSIH;
	return ISCSI_LS_SUCCESS;
}

static struct iscsi_login_env env = {
	.find_target = find_target,
	.portal_tpgt = 9,
	.bind_session = bind_session,
	.global = &global,
};

static int setup(void **state)
{
	struct iscsi_login *l;

	memset(&target, 0, sizeof(target));
	strcpy(target.name, DISK);
	strcpy(target.alias, "disk one");
	target.n_initiators = 1;
	target.initiators = acl;
	target.n_tpgs = 1;
	target.tpgs = &tpg;
	memset(&global, 0, sizeof(global));
	bind_calls = 0;
	bind_status = 0;
	memset(&bound, 0, sizeof(bound));
	assert_int_equal(iscsi_login_create(&env, &l), 0);
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	iscsi_login_destroy(*state);
	return 0;
}

static void set_chap(struct iscsi_auth_config *a, bool mutual)
{
	a->chap_required = true;
	strcpy(a->incoming.user, "alice");
	strcpy(a->incoming.secret, "alice-secret-1");
	if (mutual) {
		strcpy(a->outgoing.user, "tgt");
		strcpy(a->outgoing.secret, "target-secret-2");
	}
}

/* ------------------------------------------------------------------ */
/* requests and responses */

#define F_T ISCSI_LOGIN_FLAG_TRANSIT
#define F_C ISCSI_LOGIN_FLAG_CONTINUE
#define STAGES(csg, nsg) (uint8_t)((csg) << 2 | (nsg))

/* text uses '\n' between pairs; every pair gets its NUL */
static void mk_req(struct iscsi_pdu *p, uint8_t flags, const char *text)
{
	size_t n = strlen(text), i;

	memset(p, 0, sizeof(*p));
	p->bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_FLAG_IMMEDIATE;
	p->bhs[1] = flags;
	p->bhs[2] = 0; /* VersionMax */
	p->bhs[3] = 0; /* VersionMin */
	memcpy(p->bhs + 8, test_isid, 6);
	iscsi_bhs_set_itt(p->bhs, TEST_ITT);
	iscsi_put_be16(p->bhs + 20, 1); /* CID */
	iscsi_put_be32(p->bhs + 24, TEST_CMDSN);
	iscsi_put_be32(p->bhs + 28, 0x55);
	if (n) {
		p->data = malloc(n + 1);
		for (i = 0; i < n; i++)
			p->data[i] = text[i] == '\n' ? '\0' : (uint8_t)text[i];
		p->data[n] = '\0';
		p->data_len = (uint32_t)(text[n - 1] == '\n' ? n : n + 1);
	}
	iscsi_bhs_set_dsl(p->bhs, p->data_len);
}

struct step {
	enum iscsi_login_step rc;
	struct iscsi_pdu rsp;
};

static struct step send_req(struct iscsi_login *l, uint8_t flags,
			    const char *text)
{
	struct iscsi_pdu req;
	struct step s;

	mk_req(&req, flags, text);
	memset(&s.rsp, 0xcc, sizeof(s.rsp));
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	free(req.data);
	return s;
}

static uint16_t rsp_status(const struct step *s)
{
	return iscsi_get_be16(s->rsp.bhs + 36);
}

/* A key's value in a response (parsed here, not with param.c). */
static const char *rsp_get(const struct step *s, const char *key)
{
	size_t kl = strlen(key);
	uint32_t pos = 0;

	while (pos < s->rsp.data_len) {
		const char *p = (const char *)s->rsp.data + pos;
		size_t n = strnlen(p, s->rsp.data_len - pos);

		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
			return p + kl + 1;
		pos += (uint32_t)n + 1;
	}
	return NULL;
}

static void step_free(struct step *s)
{
	free(s->rsp.data);
	s->rsp.data = NULL;
}

/* Checks common to every response. */
static void check_rsp_header(const struct step *s)
{
	const uint8_t *b = s->rsp.bhs;

	assert_int_equal(b[0], ISCSI_OP_LOGIN_RSP);
	assert_int_equal(b[2], 0); /* VersionMax */
	assert_int_equal(b[3], 0); /* VersionActive */
	assert_memory_equal(b + 8, test_isid, 6);
	assert_int_equal(iscsi_bhs_itt(b), TEST_ITT);
	assert_int_equal(iscsi_get_be32(b + 28), TEST_CMDSN); /* ExpCmdSN */
	assert_int_equal(iscsi_get_be32(b + 32), TEST_CMDSN); /* MaxCmdSN */
	assert_int_equal(iscsi_bhs_dsl(b), s->rsp.data_len);
	assert_false(b[1] & F_C);
}

static void expect_fail(struct step *s, uint16_t status)
{
	check_rsp_header(s);
	assert_int_equal(s->rc, ISCSI_LOGIN_FAIL);
	assert_int_equal(rsp_status(s), status);
	assert_false(s->rsp.bhs[1] & F_T);
	assert_int_equal(bind_calls, 0);
	step_free(s);
}

/* The operational keys libiscsi sends (lib/login.c), CSG=1. */
#define LIBISCSI_OPNEG                                                      \
	"InitiatorName=" INIT1 "\nTargetName=" DISK "\nSessionType=Normal\n" \
	"HeaderDigest=None,CRC32C\nDataDigest=None\nInitialR2T=No\n"         \
	"ImmediateData=Yes\nMaxBurstLength=262144\nFirstBurstLength=65536\n" \
	"DefaultTime2Wait=2\nDefaultTime2Retain=0\nMaxOutstandingR2T=1\n"    \
	"ErrorRecoveryLevel=0\nIFMarker=No\nOFMarker=No\nMaxConnections=1\n" \
	"MaxRecvDataSegmentLength=262144\nDataPDUInOrder=Yes\n"              \
	"DataSequenceInOrder=Yes\n"

static void expect_done(struct step *s)
{
	check_rsp_header(s);
	assert_int_equal(s->rc, ISCSI_LOGIN_DONE);
	assert_int_equal(rsp_status(s), 0);
	assert_true(s->rsp.bhs[1] & F_T);
	assert_int_equal(ISCSI_LOGIN_NSG(s->rsp.bhs[1]), 3);
	assert_int_equal(iscsi_get_be16(s->rsp.bhs + 14), TEST_TSIH);
	assert_int_equal(bind_calls, 1);
}

/* ------------------------------------------------------------------ */
/* successful logins */

static void test_login_no_auth_libiscsi(void **state)
{
	struct iscsi_login *l = *state;
	const struct iscsi_login_result *r;
	struct step s;

	target.open_access = false;
	global.max_recv_dsl = 131072;
	s = send_req(l, F_T | STAGES(1, 3), LIBISCSI_OPNEG);
	expect_done(&s);
	assert_int_equal(ISCSI_LOGIN_CSG(s.rsp.bhs[1]), 1);
	assert_string_equal(rsp_get(&s, "TargetPortalGroupTag"), "3");
	assert_string_equal(rsp_get(&s, "TargetAlias"), "disk one");
	assert_string_equal(rsp_get(&s, "MaxRecvDataSegmentLength"), "131072");
	assert_string_equal(rsp_get(&s, "HeaderDigest"), "None");
	assert_string_equal(rsp_get(&s, "DataDigest"), "None");
	assert_string_equal(rsp_get(&s, "InitialR2T"), "No");
	assert_string_equal(rsp_get(&s, "ImmediateData"), "Yes");
	assert_string_equal(rsp_get(&s, "MaxBurstLength"), "262144");
	assert_string_equal(rsp_get(&s, "FirstBurstLength"), "65536");
	assert_string_equal(rsp_get(&s, "DefaultTime2Retain"), "0");
	assert_string_equal(rsp_get(&s, "MaxConnections"), "1");
	assert_string_equal(rsp_get(&s, "OFMarker"), "No");
	assert_null(rsp_get(&s, "InitiatorName"));
	step_free(&s);

	r = iscsi_login_result(l);
	assert_int_equal(r->type, ISCSI_SESSION_NORMAL);
	assert_string_equal(r->initiator_name, INIT1);
	assert_ptr_equal(r->target, &target);
	assert_ptr_equal(r->tpg, &tpg);
	assert_memory_equal(r->isid, test_isid, 6);
	assert_int_equal(r->tsih, 0); /* requested: a new session */
	assert_int_equal(r->cid, 1);
	assert_int_equal(r->cmdsn, TEST_CMDSN);
	assert_int_equal(r->exp_statsn, 0x55);
	assert_int_equal(r->params.max_xmit_dsl, 262144);
	assert_int_equal(r->params.max_recv_dsl, 131072);
	assert_false(r->params.initial_r2t);
	assert_true(r->params.immediate_data);
	assert_int_equal(r->params.default_time2retain, 0);
	/* bind_session saw the same */
	assert_string_equal(bound.initiator_name, INIT1);
	assert_int_equal(bound.params.max_xmit_dsl, 262144);

	/* after DONE, any further request is refused */
	s = send_req(l, F_T | STAGES(1, 3), "");
	assert_int_equal(s.rc, ISCSI_LOGIN_FAIL);
	step_free(&s);
}

/* Security stage with AuthMethod=None, then operational (Linux style). */
static void test_login_auth_none_two_stages(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nInitiatorAlias=host\n"
		     "SessionType=Normal\nTargetName=" DISK "\n"
		     "AuthMethod=None\n");
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(rsp_status(&s), 0);
	assert_int_equal(s.rsp.bhs[1], F_T | STAGES(0, 1));
	assert_string_equal(rsp_get(&s, "AuthMethod"), "None");
	assert_string_equal(rsp_get(&s, "TargetPortalGroupTag"), "3");
	assert_int_equal(iscsi_get_be16(s.rsp.bhs + 14), 0);
	step_free(&s);

	s = send_req(l, F_T | STAGES(1, 3),
		     "HeaderDigest=CRC32C\nDataDigest=CRC32C,None\n"
		     "MaxRecvDataSegmentLength=65536\nX-vendor.Key=1\n"
		     "ErrorRecoveryLevel=2\n");
	expect_done(&s);
	assert_null(rsp_get(&s, "TargetPortalGroupTag")); /* only the first */
	assert_string_equal(rsp_get(&s, "HeaderDigest"), "CRC32C");
	assert_string_equal(rsp_get(&s, "DataDigest"), "CRC32C");
	assert_string_equal(rsp_get(&s, "X-vendor.Key"), "NotUnderstood");
	assert_string_equal(rsp_get(&s, "ErrorRecoveryLevel"), "0");
	assert_string_equal(rsp_get(&s, "MaxRecvDataSegmentLength"), "262144");
	step_free(&s);
	assert_true(iscsi_login_result(l)->params.header_digest);
	assert_true(iscsi_login_result(l)->params.data_digest);
	assert_int_equal(iscsi_login_result(l)->params.max_xmit_dsl, 65536);
	assert_string_equal(iscsi_login_result(l)->initiator_alias, "host");
}

/* Security stage straight to full feature phase (NSG=3 from CSG=0). */
static void test_login_security_to_ffp(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	s = send_req(l, F_T | STAGES(0, 3),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=CHAP,None\n");
	expect_done(&s);
	assert_string_equal(rsp_get(&s, "AuthMethod"), "None");
	assert_string_equal(rsp_get(&s, "MaxRecvDataSegmentLength"), "262144");
	step_free(&s);
}

/* The initiator's side of CHAP, computed here with EVP one-shot calls. */
static void chap_answer(int alg, const struct step *s, const char *secret,
			char *out)
{
	const EVP_MD *md = alg == 5 ? EVP_md5() : alg == 6 ? EVP_sha1() :
			   alg == 7 ? EVP_sha256() : EVP_sha3_256();
	const char *ci = rsp_get(s, "CHAP_I"), *cc = rsp_get(s, "CHAP_C");
	uint8_t msg[512], d[EVP_MAX_MD_SIZE];
	size_t n = 0, i, sl = strlen(secret);
	unsigned int dl = 0;

	assert_non_null(ci);
	assert_non_null(cc);
	assert_true(cc[0] == '0' && cc[1] == 'x');
	msg[n++] = (uint8_t)atoi(ci);
	memcpy(msg + n, secret, sl);
	n += sl;
	for (i = 2; cc[i] && cc[i + 1]; i += 2) {
		unsigned v;

		sscanf(cc + i, "%2x", &v);
		msg[n++] = (uint8_t)v;
	}
	assert_int_equal(EVP_Digest(msg, n, d, &dl, md, NULL), 1);
	strcpy(out, "0x");
	for (i = 0; i < dl; i++)
		sprintf(out + 2 + 2 * i, "%02X", d[i]); /* libiscsi: upper */
}

/* libiscsi's CHAP conversation (MD5, T=1 on the offer and the response). */
static void test_login_chap_one_way(void **state)
{
	struct iscsi_login *l = *state;
	char r[80], text[256];
	struct step s;

	set_chap(&target.auth, false);
	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "SessionType=Normal\nAuthMethod=CHAP,None\n");
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(s.rsp.bhs[1] & F_T, 0); /* not yet */
	assert_string_equal(rsp_get(&s, "AuthMethod"), "CHAP");
	step_free(&s);

	s = send_req(l, STAGES(0, 1), "CHAP_A=5\n");
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(s.rsp.bhs[1] & F_T, 0);
	assert_string_equal(rsp_get(&s, "CHAP_A"), "5");
	assert_int_equal(strlen(rsp_get(&s, "CHAP_C")), 2 + 32);
	chap_answer(5, &s, "alice-secret-1", r);
	step_free(&s);

	snprintf(text, sizeof(text), "CHAP_N=alice\nCHAP_R=%s\n", r);
	s = send_req(l, F_T | STAGES(0, 1), text);
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(rsp_status(&s), 0);
	assert_int_equal(s.rsp.bhs[1], F_T | STAGES(0, 1));
	assert_null(rsp_get(&s, "CHAP_N"));
	step_free(&s);

	s = send_req(l, F_T | STAGES(1, 3), LIBISCSI_OPNEG);
	expect_done(&s);
	step_free(&s);
}

static void test_login_chap_mutual(void **state)
{
	struct iscsi_login *l = *state;
	char r[80], text[512], want[80];
	struct step s, mine;
	static const char ichal[] = "0x00112233445566778899aabbccddeeff";

	set_chap(&target.auth, true);
	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=CHAP\n");
	assert_string_equal(rsp_get(&s, "AuthMethod"), "CHAP");
	step_free(&s);

	s = send_req(l, STAGES(0, 1), "CHAP_A=7,5\n");
	assert_string_equal(rsp_get(&s, "CHAP_A"), "7");
	assert_int_equal(strlen(rsp_get(&s, "CHAP_C")), 2 + 64);
	chap_answer(7, &s, "alice-secret-1", r);
	step_free(&s);

	snprintf(text, sizeof(text),
		 "CHAP_N=alice\nCHAP_R=%s\nCHAP_I=9\nCHAP_C=%s\n", r, ichal);
	s = send_req(l, F_T | STAGES(0, 1), text);
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(s.rsp.bhs[1], F_T | STAGES(0, 1));
	assert_string_equal(rsp_get(&s, "CHAP_N"), "tgt");
	/* expected target response: H(9 || target secret || ichal) */
	memset(&mine, 0, sizeof(mine));
	{
		static const char fake[] = "CHAP_I=9\0CHAP_C=0x00112233445566778899aabbccddeeff";

		mine.rsp.data = (uint8_t *)fake;
		mine.rsp.data_len = sizeof(fake);
		chap_answer(7, &mine, "target-secret-2", want);
	}
	assert_true(strcasecmp(rsp_get(&s, "CHAP_R"), want) == 0);
	step_free(&s);

	s = send_req(l, F_T | STAGES(1, 3), "MaxRecvDataSegmentLength=8192\n");
	expect_done(&s);
	step_free(&s);
}

static void test_login_chap_mutual_reflected(void **state)
{
	struct iscsi_login *l = *state;
	char r[80], text[512];
	struct step s;

	set_chap(&target.auth, true);
	s = send_req(l, STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=CHAP\n");
	step_free(&s);
	s = send_req(l, STAGES(0, 1), "CHAP_A=5\n");
	chap_answer(5, &s, "alice-secret-1", r);
	/* hand our own challenge back */
	snprintf(text, sizeof(text), "CHAP_N=alice\nCHAP_R=%s\nCHAP_I=%s\nCHAP_C=%s\n",
		 r, rsp_get(&s, "CHAP_I"), rsp_get(&s, "CHAP_C"));
	step_free(&s);
	s = send_req(l, F_T | STAGES(0, 1), text);
	expect_fail(&s, ISCSI_LS_AUTH_FAILED);
}

static void test_login_chap_wrong_secret(void **state)
{
	struct iscsi_login *l = *state;
	char r[80], text[256];
	struct step s;

	set_chap(&target.auth, false);
	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=CHAP,None\n");
	step_free(&s);
	s = send_req(l, STAGES(0, 1), "CHAP_A=5\n");
	chap_answer(5, &s, "not-the-secret", r);
	step_free(&s);
	snprintf(text, sizeof(text), "CHAP_N=alice\nCHAP_R=%s\n", r);
	s = send_req(l, F_T | STAGES(0, 1), text);
	expect_fail(&s, ISCSI_LS_AUTH_FAILED);
}

/* Key/value text split over two PDUs with C=1. */
static void test_login_continue(void **state)
{
	struct iscsi_login *l = *state;
	struct iscsi_pdu req;
	struct step s;
	static const char all[] = "InitiatorName=" INIT1 "\0TargetName=" DISK
				  "\0MaxRecvDataSegmentLength=16384";
	uint32_t cut = 30; /* in the middle of TargetName */

	mk_req(&req, F_C | STAGES(1, 0), "");
	req.data = (uint8_t *)all;
	req.data_len = cut;
	iscsi_bhs_set_dsl(req.bhs, cut);
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(rsp_status(&s), 0);
	assert_int_equal(s.rsp.data_len, 0);
	assert_int_equal(s.rsp.bhs[1] & F_T, 0);
	step_free(&s);

	mk_req(&req, F_T | STAGES(1, 3), "");
	req.data = (uint8_t *)all + cut;
	req.data_len = sizeof(all) - cut;
	iscsi_bhs_set_dsl(req.bhs, req.data_len);
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	expect_done(&s);
	step_free(&s);
	assert_int_equal(iscsi_login_result(l)->params.max_xmit_dsl, 16384);
}

static void test_login_discovery(void **state)
{
	struct iscsi_login *l = *state;
	const struct iscsi_login_result *r;
	struct step s;

	set_chap(&target.auth, false); /* not used for discovery */
	s = send_req(l, F_T | STAGES(1, 3),
		     "InitiatorName=" EVIL "\nSessionType=Discovery\n"
		     "MaxBurstLength=8192\nHeaderDigest=None\n");
	expect_done(&s);
	assert_null(rsp_get(&s, "TargetPortalGroupTag"));
	assert_string_equal(rsp_get(&s, "MaxBurstLength"), "Irrelevant");
	assert_string_equal(rsp_get(&s, "HeaderDigest"), "None");
	step_free(&s);
	r = iscsi_login_result(l);
	assert_int_equal(r->type, ISCSI_SESSION_DISCOVERY);
	assert_null(r->target);
	assert_string_equal(r->initiator_name, EVIL);
}

static void test_login_discovery_chap_required(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	set_chap(&global.discovery_auth, false);
	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nSessionType=Discovery\n"
		     "AuthMethod=None\n");
	expect_fail(&s, ISCSI_LS_AUTH_FAILED);
}

/* ------------------------------------------------------------------ */
/* failures, one per row */

struct fail_case {
	const char *what;
	uint8_t flags;
	const char *text;
	bool chap_required;
	uint16_t status;
};

static const struct fail_case fail_cases[] = {
	{ "unknown target", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=iqn.2026-01.test:nope\n",
	  false, ISCSI_LS_NOT_FOUND },
	{ "initiator not in the ACL", F_T | STAGES(1, 3),
	  "InitiatorName=" EVIL "\nTargetName=" DISK "\n", false,
	  ISCSI_LS_AUTHORIZATION_FAILED },
	{ "missing InitiatorName", F_T | STAGES(1, 3),
	  "TargetName=" DISK "\n", false, ISCSI_LS_MISSING_PARAMETER },
	{ "missing TargetName", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nSessionType=Normal\n", false,
	  ISCSI_LS_MISSING_PARAMETER },
	{ "bad SessionType", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nSessionType=Boot\n", false,
	  ISCSI_LS_SESSION_TYPE_UNSUPPORTED },
	{ "AuthMethod=None when CHAP is required", F_T | STAGES(0, 1),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\nAuthMethod=None\n",
	  true, ISCSI_LS_AUTH_FAILED },
	{ "skipping security when CHAP is required", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\n", true,
	  ISCSI_LS_AUTH_FAILED },
	{ "security key in the operational stage", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\nAuthMethod=None\n",
	  false, ISCSI_LS_INITIATOR_ERROR },
	{ "T and C both set", F_T | F_C | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "NSG not after CSG", F_T | STAGES(1, 0),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "reserved NSG 2", F_T | STAGES(1, 2),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "reserved CSG 2", STAGES(2, 0),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "pair without '='", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\nGarbage\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "key offered twice", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK
	  "\nMaxBurstLength=512\nMaxBurstLength=512\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "two different InitiatorNames", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nInitiatorName=" EVIL "\nTargetName=" DISK
	  "\n", false, ISCSI_LS_INITIATOR_ERROR },
	{ "unusable MaxRecvDataSegmentLength", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK
	  "\nMaxRecvDataSegmentLength=huge\n", false,
	  ISCSI_LS_INITIATOR_ERROR },
	{ "target-only key from the initiator", F_T | STAGES(1, 3),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\nTargetAlias=x\n",
	  false, ISCSI_LS_INITIATOR_ERROR },
	{ "no common AuthMethod", F_T | STAGES(0, 1),
	  "InitiatorName=" INIT1 "\nTargetName=" DISK "\nAuthMethod=SRP\n",
	  false, ISCSI_LS_AUTH_FAILED },
};

static void test_login_failures(void **state)
{
	unsigned i;

	for (i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++) {
		const struct fail_case *c = &fail_cases[i];
		struct iscsi_login *l;
		struct step s;

		printf("case: %s\n", c->what);
		setup((void **)&l);
		target.auth.chap_required = c->chap_required;
		if (c->chap_required)
			set_chap(&target.auth, false);
		s = send_req(l, c->flags, c->text);
		expect_fail(&s, c->status);
		assert_int_equal(s.rsp.data_len, 0);
		iscsi_login_destroy(l);
	}
}

static void test_login_bad_version(void **state)
{
	struct iscsi_login *l = *state;
	struct iscsi_pdu req;
	struct step s;

	mk_req(&req, F_T | STAGES(1, 3),
	       "InitiatorName=" INIT1 "\nTargetName=" DISK "\n");
	req.bhs[2] = 2; /* VersionMax */
	req.bhs[3] = 1; /* VersionMin > 0 */
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	free(req.data);
	expect_fail(&s, ISCSI_LS_UNSUPPORTED_VERSION);
}

static void test_login_bad_data_segment(void **state)
{
	struct iscsi_login *l = *state;
	struct iscsi_pdu req;
	struct step s;

	/* DataSegmentLength disagrees with the data handed over */
	mk_req(&req, F_T | STAGES(1, 3), "InitiatorName=" INIT1 "\n");
	iscsi_bhs_set_dsl(req.bhs, req.data_len + 10);
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	free(req.data);
	expect_fail(&s, ISCSI_LS_INITIATOR_ERROR);
}

static void test_login_bad_data_unterminated(void **state)
{
	struct iscsi_login *l = *state;
	struct iscsi_pdu req;
	struct step s;
	static const char text[] = "InitiatorName=" INIT1;

	mk_req(&req, F_T | STAGES(1, 3), "");
	req.data = (uint8_t *)text;
	req.data_len = sizeof(text) - 1; /* no NUL */
	iscsi_bhs_set_dsl(req.bhs, req.data_len);
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	expect_fail(&s, ISCSI_LS_INITIATOR_ERROR);
}

static void test_login_isid_changes(void **state)
{
	struct iscsi_login *l = *state;
	struct iscsi_pdu req;
	struct step s;

	s = send_req(l, STAGES(0, 0),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=None\n");
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	step_free(&s);
	mk_req(&req, F_T | STAGES(0, 1), "");
	req.bhs[13] ^= 1;
	s.rc = iscsi_login_step(l, &req, &s.rsp);
	assert_int_equal(s.rc, ISCSI_LOGIN_FAIL);
	assert_int_equal(rsp_status(&s), ISCSI_LS_INITIATOR_ERROR);
	step_free(&s);
}

static void test_login_stage_mismatch(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	/* we did not agree to transit: the next request must stay in CSG 0 */
	set_chap(&target.auth, false);
	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "AuthMethod=CHAP\n");
	assert_int_equal(s.rsp.bhs[1] & F_T, 0);
	step_free(&s);
	s = send_req(l, F_T | STAGES(1, 3), "");
	expect_fail(&s, ISCSI_LS_INITIATOR_ERROR);
}

static void test_login_bind_refused(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	bind_status = ISCSI_LS_TOO_MANY_CONNECTIONS;
	s = send_req(l, F_T | STAGES(1, 3), LIBISCSI_OPNEG);
	check_rsp_header(&s);
	assert_int_equal(s.rc, ISCSI_LOGIN_FAIL);
	assert_int_equal(rsp_status(&s), ISCSI_LS_TOO_MANY_CONNECTIONS);
	assert_int_equal(bind_calls, 1);
	step_free(&s);
}

static void test_login_key_twice_across_pdus(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	s = send_req(l, STAGES(1, 0),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "MaxBurstLength=8192\n");
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_string_equal(rsp_get(&s, "MaxBurstLength"), "8192");
	step_free(&s);
	s = send_req(l, F_T | STAGES(1, 3), "MaxBurstLength=8192\n");
	expect_fail(&s, ISCSI_LS_INITIATOR_ERROR);
}

/* 6.2.1: AuthMethod is the first of the initiator's list we support. */
static void test_login_auth_method_order(void **state)
{
	static const struct {
		const char *offer;
		bool configured, required;
		const char *answer; /* NULL: login fails 0x0201 */
	} cases[] = {
		{ "CHAP,None", true, false, "CHAP" },
		{ "None,CHAP", true, false, "None" },
		{ "None,CHAP", true, true, "CHAP" },
		{ "CHAP,None", false, false, "None" },
		{ "CHAP", false, false, NULL },
		{ "None", true, true, NULL },
		{ "KRB5,SRP,None", false, false, "None" },
		{ "", false, false, NULL },
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_login *l;
		char text[256];
		struct step s;

		printf("AuthMethod=%s configured=%d required=%d\n",
		       cases[i].offer, cases[i].configured, cases[i].required);
		setup((void **)&l);
		if (cases[i].configured)
			set_chap(&target.auth, false);
		target.auth.chap_required = cases[i].required;
		snprintf(text, sizeof(text),
			 "InitiatorName=" INIT1 "\nTargetName=" DISK
			 "\nAuthMethod=%s\n", cases[i].offer);
		s = send_req(l, F_T | STAGES(0, 1), text);
		if (!cases[i].answer) {
			expect_fail(&s, ISCSI_LS_AUTH_FAILED);
		} else {
			assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
			assert_string_equal(rsp_get(&s, "AuthMethod"),
					    cases[i].answer);
			/* transit only once authenticated */
			assert_int_equal(!!(s.rsp.bhs[1] & F_T),
					 strcmp(cases[i].answer, "None") == 0);
			step_free(&s);
		}
		iscsi_login_destroy(l);
	}
}

/* The identity keys may be repeated with the same value (libiscsi does in
 * the operational stage) but not changed. */
static void test_login_identity_repeated(void **state)
{
	struct iscsi_login *l = *state;
	struct step s;

	s = send_req(l, F_T | STAGES(0, 1),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "SessionType=Normal\nAuthMethod=None\n");
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	step_free(&s);
	s = send_req(l, STAGES(1, 0),
		     "InitiatorName=" INIT1 "\nTargetName=" DISK "\n"
		     "SessionType=Normal\n");
	assert_int_equal(s.rc, ISCSI_LOGIN_CONTINUE);
	assert_int_equal(rsp_status(&s), 0);
	step_free(&s);
	s = send_req(l, F_T | STAGES(1, 3), "SessionType=Discovery\n");
	assert_int_equal(s.rc, ISCSI_LOGIN_FAIL);
	assert_int_equal(bind_calls, 0);
	step_free(&s);
}

/* Robustness: random and mutated requests never crash, and every answer
 * is a well-formed Login Response whose step agrees with its status. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void test_login_random(void **state)
{
	static const char *const pieces[] = {
		"InitiatorName=" INIT1, "TargetName=" DISK, "SessionType=Normal",
		"SessionType=Discovery", "AuthMethod=CHAP,None", "AuthMethod=None",
		"CHAP_A=5", "CHAP_A=7,8", "CHAP_N=alice", "CHAP_R=0x00",
		"CHAP_R=0bAAAA", "CHAP_I=1", "CHAP_C=0x0102", "HeaderDigest=CRC32C",
		"MaxRecvDataSegmentLength=512", "MaxBurstLength=x", "X-y=z", "=",
		"NoEquals", "InitiatorName=", "TargetName=" EVIL,
	};
	unsigned iter;

	for (iter = 0; iter < 3000; iter++) {
		struct iscsi_login *l;
		unsigned pdus = 1 + rnd() % 5, p;

		setup((void **)&l);
		if (iter % 3 == 0)
			set_chap(&target.auth, iter % 2);
		target.open_access = iter % 5 == 0;
		for (p = 0; p < pdus; p++) {
			uint8_t buf[600];
			uint32_t len = 0, k, n = rnd() % 6;
			struct iscsi_pdu req, rsp;
			enum iscsi_login_step rc;
			uint16_t st;

			for (k = 0; k < n; k++) {
				const char *piece = pieces[rnd() % (sizeof(pieces) /
								    sizeof(pieces[0]))];
				size_t pl = strlen(piece) + 1;

				if (len + pl > sizeof(buf))
					break;
				memcpy(buf + len, piece, pl);
				len += (uint32_t)pl;
			}
			if (len && rnd() % 4 == 0)
				buf[rnd() % len] = (uint8_t)rnd(); /* corrupt */
			if (len && rnd() % 8 == 0)
				len -= 1 + rnd() % len; /* truncate */
			mk_req(&req, (uint8_t)rnd(), "");
			if (rnd() % 4)
				req.bhs[1] &= (uint8_t)~F_C;
			if (rnd() % 8 == 0)
				req.bhs[3] = (uint8_t)rnd();
			req.data = len ? buf : NULL;
			req.data_len = len;
			iscsi_bhs_set_dsl(req.bhs, len);
			memset(&rsp, 0, sizeof(rsp));
			rc = iscsi_login_step(l, &req, &rsp);
			st = iscsi_get_be16(rsp.bhs + 36);
			assert_int_equal(rsp.bhs[0], ISCSI_OP_LOGIN_RSP);
			assert_int_equal(iscsi_bhs_dsl(rsp.bhs), rsp.data_len);
			assert_true(rsp.data_len == 0 || rsp.data != NULL);
			if (rsp.data_len)
				assert_int_equal(rsp.data[rsp.data_len - 1], 0);
			if (rc == ISCSI_LOGIN_FAIL)
				assert_int_not_equal(st, 0);
			else
				assert_int_equal(st, 0);
			if (rc == ISCSI_LOGIN_DONE)
				assert_int_equal(ISCSI_LOGIN_NSG(rsp.bhs[1]), 3);
			free(rsp.data);
			if (rc != ISCSI_LOGIN_CONTINUE)
				break;
		}
		iscsi_login_destroy(l);
	}
}

/* RFC 7143 4.4.3 / 6.3.5: which existing session a leading login names.
 *
 *   init1 (ISID i) --- TPG 3 ---+
 *                               +--- target disk
 *   init1 (ISID i) --- TPG 4 ---+     (and a second target, other)
 *
 * The same initiator port through TPG 3 again is a reinstatement; through
 * TPG 4, with another ISID or to another target it is another session. */
static void test_login_same_session(void **state)
{
	static struct iscsi_portal_config portal4 = { "192.0.2.2", 3261 };
	static struct iscsi_tpg_config tpg4 = { 4, NULL, 1, &portal4 };
	static struct iscsi_target_config other;
	static const uint8_t isid2[6] = { 0x80, 0x12, 0x34, 0x56, 0x00, 0x02 };
	struct iscsi_login_result r = { 0 };

	(void)state;
	r.type = ISCSI_SESSION_NORMAL;
	snprintf(r.initiator_name, sizeof(r.initiator_name), "%s", INIT1);
	memcpy(r.isid, test_isid, 6);
	r.target = &target;
	r.tpg = &tpg;

	/* same name (any case), ISID, target and TPG: reinstatement */
	assert_true(iscsi_login_same_session(&r, INIT1, test_isid, &target,
					     &tpg));
	assert_true(iscsi_login_same_session(&r, "IQN.2026-01.TEST:INIT1",
					     test_isid, &target, &tpg));
	/* another TPG: another session, another I_T nexus */
	assert_false(iscsi_login_same_session(&r, INIT1, test_isid, &target,
					      &tpg4));
	r.tpg = &tpg4;
	assert_false(iscsi_login_same_session(&r, INIT1, test_isid, &target,
					      &tpg));
	assert_true(iscsi_login_same_session(&r, INIT1, test_isid, &target,
					     &tpg4));
	r.tpg = &tpg;
	/* another ISID, initiator or target */
	assert_false(iscsi_login_same_session(&r, INIT1, isid2, &target,
					      &tpg));
	assert_false(iscsi_login_same_session(&r, EVIL, test_isid, &target,
					      &tpg));
	assert_false(iscsi_login_same_session(&r, INIT1, test_isid, &other,
					      &tpg));
	/* discovery sessions are never reinstated by a normal login */
	r.type = ISCSI_SESSION_DISCOVERY;
	assert_false(iscsi_login_same_session(&r, INIT1, test_isid, &target,
					      &tpg));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_login_no_auth_libiscsi),
		T(test_login_auth_none_two_stages),
		T(test_login_security_to_ffp),
		T(test_login_chap_one_way),
		T(test_login_chap_mutual),
		T(test_login_chap_mutual_reflected),
		T(test_login_chap_wrong_secret),
		T(test_login_continue),
		T(test_login_discovery),
		T(test_login_discovery_chap_required),
		T(test_login_failures),
		T(test_login_bad_version),
		T(test_login_bad_data_segment),
		T(test_login_bad_data_unterminated),
		T(test_login_isid_changes),
		T(test_login_stage_mismatch),
		T(test_login_bind_refused),
		T(test_login_key_twice_across_pdus),
		T(test_login_auth_method_order),
		T(test_login_identity_repeated),
		T(test_login_random),
		T(test_login_same_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
