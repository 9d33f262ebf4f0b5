/*
 * libFuzzer harness: the login state machine (login.c) fed a sequence of
 * Login Requests cut from the input: each is a 48-byte BHS followed by as
 * many data bytes as its DataSegmentLength says (capped by what is left).
 * Login must answer every request, never crash, and stop at DONE or FAIL.
 *
 *   initiator (fuzzed) ---- portal, TPG 1 ---- target iqn.2026-11.test:fuzz
 *                                             (ACL: iqn.2026-11.test:ok,
 *                                              CHAP user "u" / 12-byte secret)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_login_acl[1][224] = { "iqn.2026-11.test:ok" };
static struct iscsi_portal_config fuzz_login_portal = { "127.0.0.1", 3260 };
static struct iscsi_tpg_config fuzz_login_tpg = { 1, NULL, 1, &fuzz_login_portal };
static struct iscsi_target_config fuzz_login_target;
static struct iscsi_global_config fuzz_login_global;

static const struct iscsi_target_config *fuzz_login_find(
	void *arg, const char *name, const struct iscsi_tpg_config **tpg)
{
	if (strcmp(name, fuzz_login_target.name) != 0)
		return NULL;
	*tpg = &fuzz_login_tpg;
	return &fuzz_login_target;
}

static uint16_t fuzz_login_bind(void *arg, const struct iscsi_login_result *r,
				uint16_t *tsih)
{
	*tsih = 1;
	return ISCSI_LS_SUCCESS;
}

static void fuzz_login_setup(uint8_t mode)
{
	memset(&fuzz_login_target, 0, sizeof(fuzz_login_target));
	strcpy(fuzz_login_target.name, "iqn.2026-11.test:fuzz");
	fuzz_login_target.n_initiators = 1;
	fuzz_login_target.initiators = fuzz_login_acl;
	fuzz_login_target.open_access = mode & 1;
	fuzz_login_target.n_tpgs = 1;
	fuzz_login_target.tpgs = &fuzz_login_tpg;
	if (mode & 2) {
		fuzz_login_target.auth.chap_required = true;
		strcpy(fuzz_login_target.auth.incoming.user, "u");
		strcpy(fuzz_login_target.auth.incoming.secret, "secret123456");
		strcpy(fuzz_login_target.auth.outgoing.user, "t");
		strcpy(fuzz_login_target.auth.outgoing.secret, "tsecret12345");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_login_env env = {
		.find_target = fuzz_login_find,
		.portal_tpgt = 1,
		.bind_session = fuzz_login_bind,
		.global = &fuzz_login_global,
	};
	struct iscsi_login *l;
	size_t pos = 1;

	if (size < 1)
		return 0;
	fuzz_login_setup(data[0]);
	if (iscsi_login_create(&env, &l) != 0)
		return 0;
	while (size - pos >= ISCSI_BHS_LEN) {
		struct iscsi_pdu req = { 0 }, rsp = { 0 };
		enum iscsi_login_step step;
		uint32_t dsl;

		memcpy(req.bhs, data + pos, ISCSI_BHS_LEN);
		pos += ISCSI_BHS_LEN;
		dsl = iscsi_bhs_dsl(req.bhs);
		if (dsl > size - pos)
			dsl = (uint32_t)(size - pos);
		req.data = dsl ? malloc(dsl) : NULL;
		if (dsl && !req.data)
			break;
		if (dsl)
			memcpy(req.data, data + pos, dsl);
		req.data_len = dsl;
		pos += iscsi_pad4(dsl) < size - pos ? iscsi_pad4(dsl) : size - pos;
		step = iscsi_login_step(l, &req, &rsp);
		free(req.data);
		free(rsp.data);
		if (step != ISCSI_LOGIN_CONTINUE)
			break;
	}
	iscsi_login_destroy(l);
	return 0;
}
