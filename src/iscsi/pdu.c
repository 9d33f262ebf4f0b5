/*
 * PDU helpers that are more than a field accessor (RFC 7143 11): the
 * full-feature-phase sanity check of a received header, building a Reject,
 * and opcode names for logs.
 *
 * Pure: no sockets, no sessions. Whether a rejected PDU also closes the
 * connection, and the sequence numbers of what is sent, are the runtime's
 * decisions (conn.c).
 */
#include "iscsi/pdu.h"

#include <errno.h>
#include <stdlib.h>

/* One row per opcode: name, who sends it, whether it may carry an AHS. */
struct iscsi_pdu_op_row {
	const char *name;
	bool from_initiator;
	bool ahs_allowed;
};

static const struct iscsi_pdu_op_row iscsi_pdu_ops[ISCSI_OPCODE_MASK + 1] = {
	[ISCSI_OP_NOP_OUT] = { "NOP-Out", true, false },
	[ISCSI_OP_SCSI_CMD] = { "SCSI Command", true, true },   /* 11.3.5 */
	[ISCSI_OP_TMF_REQ] = { "Task Management Request", true, false },
	[ISCSI_OP_LOGIN_REQ] = { "Login Request", true, false },
	[ISCSI_OP_TEXT_REQ] = { "Text Request", true, false },
	[ISCSI_OP_DATA_OUT] = { "SCSI Data-Out", true, false },
	[ISCSI_OP_LOGOUT_REQ] = { "Logout Request", true, false },
	[ISCSI_OP_SNACK_REQ] = { "SNACK Request", true, false },
	[ISCSI_OP_NOP_IN] = { "NOP-In", false, false },
	[ISCSI_OP_SCSI_RSP] = { "SCSI Response", false, false },
	[ISCSI_OP_TMF_RSP] = { "Task Management Response", false, false },
	[ISCSI_OP_LOGIN_RSP] = { "Login Response", false, false },
	[ISCSI_OP_TEXT_RSP] = { "Text Response", false, false },
	[ISCSI_OP_DATA_IN] = { "SCSI Data-In", false, false },
	[ISCSI_OP_LOGOUT_RSP] = { "Logout Response", false, false },
	[ISCSI_OP_R2T] = { "R2T", false, false },
	[ISCSI_OP_ASYNC_MSG] = { "Asynchronous Message", false, false },
	[ISCSI_OP_REJECT] = { "Reject", false, false },
};

const char *iscsi_pdu_opcode_name(uint8_t opcode)
{
	const struct iscsi_pdu_op_row *r = &iscsi_pdu_ops[opcode & ISCSI_OPCODE_MASK];

	return r->name ? r->name : "unknown";
}

int iscsi_pdu_check_ffp(const uint8_t *bhs, uint32_t max_recv_dsl,
			uint32_t error_recovery_level)
{
	uint8_t op = iscsi_bhs_opcode(bhs);
	const struct iscsi_pdu_op_row *r = &iscsi_pdu_ops[op];

	/* 11.1.1: vendor-specific and unassigned codes, target opcodes */
	if (!r->name || !r->from_initiator)
		return ISCSI_REJECT_CMD_NOT_SUPPORTED;
	/* 6.2: login only before full feature phase */
	if (op == ISCSI_OP_LOGIN_REQ)
		return ISCSI_REJECT_PROTOCOL_ERROR;
	/* 7.1.3: SNACK support is required from ErrorRecoveryLevel 1 on */
	if (op == ISCSI_OP_SNACK_REQ && error_recovery_level == 0)
		return ISCSI_REJECT_SNACK_REJECT;
	/* 13.12: never more data than we declared we can receive */
	if (iscsi_bhs_dsl(bhs) > max_recv_dsl)
		return ISCSI_REJECT_PROTOCOL_ERROR;
	/* 11.2.1.2: only the SCSI Command defines AHS types */
	if (iscsi_bhs_ahs_len(bhs) && !r->ahs_allowed)
		return ISCSI_REJECT_PROTOCOL_ERROR;
	return 0;
}

int iscsi_pdu_build_reject(struct iscsi_pdu *out, const uint8_t *bad_bhs,
			   enum iscsi_reject_reason reason)
{
	uint8_t *copy = malloc(ISCSI_BHS_LEN);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, bad_bhs, ISCSI_BHS_LEN);
	memset(out->bhs, 0, ISCSI_BHS_LEN);
	/* RFC 7143 11.17 */
	out->bhs[0] = ISCSI_OP_REJECT;
	out->bhs[1] = ISCSI_FLAG_FINAL;
	out->bhs[2] = (uint8_t)reason;
	iscsi_bhs_set_dsl(out->bhs, ISCSI_BHS_LEN);
	iscsi_bhs_set_itt(out->bhs, 0xffffffffu);
	out->ahs = NULL;
	out->data = copy;
	out->data_len = ISCSI_BHS_LEN;
	return 0;
}
