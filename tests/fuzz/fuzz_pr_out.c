/*
 * libFuzzer harness: PERSISTENT RESERVE OUT decoding (pr_decode.c,
 * SPC-4 6.16) and the state machine behind it. The input is a sequence of
 * commands, each: issuing nexus (1 byte: initiator 0..3, port 1..2), a
 * 10-byte CDB, a 1-byte parameter list length, that many bytes. Every
 * request that decodes is applied to one state with few registration
 * slots, so the limits are reached too; nothing may crash or read out of
 * bounds, and a request that fails must not change the state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pr/pr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PR_MAX_REGS 4

static void fuzz_pr_nexus(struct pr_nexus *n, uint8_t sel)
{
	char name[64];
	uint8_t isid[6] = { 0x80, 0, 0, 0, 0, (uint8_t)(sel & 3) };

	snprintf(name, sizeof(name), "iqn.2026-11.test:i%u", (sel >> 2) & 1);
	memset(n, 0, sizeof(*n));
	pr_tid_from_port(&n->tid, name, isid);
	n->rtpi = 1 + ((sel >> 3) & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_state st, before;
	struct pr_target ua[FUZZ_PR_MAX_REGS], ab[FUZZ_PR_MAX_REGS];
	struct pr_result res = { .ua = ua, .ua_cap = FUZZ_PR_MAX_REGS,
				 .aborts = ab, .abort_cap = FUZZ_PR_MAX_REGS };
	struct pr_out_req *req = malloc(sizeof(*req));
	size_t pos = 0;

	if (!req || pr_state_init(&st, &(struct pr_config){
			     .max_regs = FUZZ_PR_MAX_REGS, .ptpl_c = true,
			     .crh = true }) != 0) {
		free(req);
		return 0;
	}
	if (pr_state_init(&before, &st.cfg) != 0) {
		pr_state_fini(&st);
		free(req);
		return 0;
	}
	while (size - pos >= 12) {
		struct pr_nexus n;
		const uint8_t *cdb = data + pos + 1;
		uint32_t plen = data[pos + 11];
		uint8_t *param;

		fuzz_pr_nexus(&n, data[pos]);
		pos += 12;
		if (plen > size - pos)
			plen = (uint32_t)(size - pos);
		/* An exact-size copy, so a read past the list is caught. */
		param = malloc(plen ? plen : 1);
		if (!param)
			break;
		memcpy(param, data + pos, plen);
		pos += plen;
		pr_result_reset(&res);
		if (pr_out_decode(cdb, param, plen, req, &res)) {
			if (pr_state_copy(&before, &st) != 0)
				abort();
			pr_result_reset(&res);
			pr_out_apply(&st, &n, req, &res);
			if (res.status != PR_STATUS_GOOD &&
			    !pr_state_equal(&before, &st))
				abort(); /* a refused request changed the state */
		}
		free(param);
	}
	pr_state_fini(&before);
	pr_state_fini(&st);
	free(req);
	return 0;
}
