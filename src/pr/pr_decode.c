/*
 * PERSISTENT RESERVE OUT decode (SPC-4 6.16): the CDB and the parameter
 * list into a plain struct pr_out_req, with field pointers for the sense
 * data of every syntax error.
 *
 * Deliberately NOT here: anything that depends on the state or on the
 * logical unit's configuration (key checks, APTPL support, the
 * registration limit): pr_out_apply does those, so that a replicated
 * request decodes the same everywhere and is judged by the state alone.
 */
#include <string.h>

#include "pr/pr.h"

static uint32_t pr_decode_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t pr_decode_be64(const uint8_t *p)
{
	return (uint64_t)pr_decode_be32(p) << 32 | pr_decode_be32(p + 4);
}

static bool pr_decode_fail(struct pr_result *res, enum pr_reason reason,
			   bool cdb, uint32_t byte, int bit)
{
	res->status = PR_STATUS_CHECK_CONDITION;
	res->reason = reason;
	res->field.valid = reason == PR_REASON_INVALID_FIELD_IN_CDB ||
			   reason == PR_REASON_INVALID_FIELD_IN_PARAM_LIST;
	res->field.cdb = cdb;
	res->field.byte = (uint16_t)byte;
	res->field.bit = (int8_t)bit;
	return false;
}

/* Decodes up to max TransportIDs from param[off, end) into req. A fault
 * past the end (a TransportID cut by the list length) points at the
 * list's length field, len_field (SPC-4 6.16.3: the length truncates a
 * TransportID). */
static bool pr_decode_tids(const uint8_t *param, uint32_t off, uint32_t end,
			   uint32_t len_field, uint32_t max,
			   struct pr_out_req *req, struct pr_result *res)
{
	while (off < end) {
		size_t bad = 0;
		if (req->ntids == max)
			return pr_decode_fail(res,
				PR_REASON_INSUFFICIENT_REG_RESOURCES, false, 0, -1);
		int n = pr_tid_decode(param + off, end - off,
				      &req->tids[req->ntids], &bad);
		if (n < 0) {
			uint32_t at = off + (uint32_t)bad;
			return pr_decode_fail(res,
				PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
				at < end ? at : len_field, -1);
		}
		req->tid_off[req->ntids++] = (uint16_t)off;
		off += (uint32_t)n;
	}
	return true;
}

bool pr_out_decode(const uint8_t *cdb, const uint8_t *param,
		   uint32_t param_len, struct pr_out_req *req,
		   struct pr_result *res)
{
	memset(req, 0, sizeof(*req));
	pr_result_reset(res);

	req->sa = cdb[1] & 0x1f;
	req->scope = cdb[2] >> 4;
	req->type = cdb[2] & 0x0f;
	uint32_t len = pr_decode_be32(cdb + 5);

	/* SPC-4 6.16.2: REPLACE LOST RESERVATION needs a reservation that
	 * can be lost (a failed APTPL restore); ctgt never loses one, so the
	 * service action is not supported: INVALID FIELD IN CDB. */
	if (req->sa > PR_OUT_REGISTER_AND_MOVE)
		return pr_decode_fail(res, PR_REASON_INVALID_FIELD_IN_CDB,
				      true, 1, 4);

	switch (req->sa) {
	case PR_OUT_RESERVE:
	case PR_OUT_RELEASE:
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_AND_ABORT:
	case PR_OUT_REGISTER_AND_MOVE:
		/* SPC-4 6.16.2: SCOPE and TYPE matter for these */
		if (req->scope != PR_SCOPE_LU)
			return pr_decode_fail(res,
				PR_REASON_INVALID_FIELD_IN_CDB, true, 2, 7);
		if (!pr_type_valid(req->type))
			return pr_decode_fail(res,
				PR_REASON_INVALID_FIELD_IN_CDB, true, 2, 3);
		break;
	default:
		/* REGISTER, REGISTER AND IGNORE, CLEAR ignore both */
		req->scope = 0;
		req->type = 0;
		break;
	}

	if (len < 24 || param_len < len)
		return pr_decode_fail(res, PR_REASON_PARAM_LIST_LENGTH_ERROR,
				      false, 0, -1);
	req->key = pr_decode_be64(param);
	req->sa_key = pr_decode_be64(param + 8);

	if (req->sa == PR_OUT_REGISTER_AND_MOVE) {
		/* SPC-4 6.16.4, table 176 */
		req->unreg = param[17] & 0x02;
		req->aptpl = param[17] & 0x01;
		req->move_rtpi = (uint16_t)(param[18] << 8 | param[19]);
		/* 6.16.4: the list must hold the whole TransportID; bytes
		 * after it are ignored */
		uint32_t tdl = pr_decode_be32(param + 20);
		if (tdl > len - 24)
			return pr_decode_fail(res,
				PR_REASON_PARAM_LIST_LENGTH_ERROR, false, 0, -1);
		if (tdl == 0)
			return pr_decode_fail(res,
				PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
				20, -1);
		if (!pr_decode_tids(param, 24, 24 + tdl, 20, 1, req, res))
			return false;
		return true;
	}

	/* SPC-4 6.16.3, table 174: the basic parameter list */
	req->spec_i_pt = param[20] & 0x08;
	req->all_tg_pt = param[20] & 0x04;
	req->aptpl = param[20] & 0x01;
	/* SPC-4 6.16.3: SPEC_I_PT with anything but REGISTER */
	if (req->spec_i_pt && req->sa != PR_OUT_REGISTER)
		return pr_decode_fail(res,
			PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 20, 3);
	/* ALL_TG_PT only means something to the two REGISTERs */
	if (req->sa != PR_OUT_REGISTER &&
	    req->sa != PR_OUT_REGISTER_AND_IGNORE)
		req->all_tg_pt = false;
	if (!req->spec_i_pt) {
		if (len != 24)
			return pr_decode_fail(res,
				PR_REASON_PARAM_LIST_LENGTH_ERROR, false, 0, -1);
		return true;
	}
	if (len < 28)
		return pr_decode_fail(res, PR_REASON_PARAM_LIST_LENGTH_ERROR,
				      false, 0, -1);
	/* 6.16.3: a list length beyond the parameter list is a length
	 * error; a TransportID cut by the list length is an invalid field
	 * (pr_tid_decode finds it); bytes after the list are ignored */
	uint32_t tdl = pr_decode_be32(param + 24);
	if (tdl > len - 28)
		return pr_decode_fail(res, PR_REASON_PARAM_LIST_LENGTH_ERROR,
				      false, 0, -1);
	return pr_decode_tids(param, 28, 28 + tdl, 24, PR_OUT_TIDS_MAX, req,
			      res);
}
