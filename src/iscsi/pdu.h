/*
 * iSCSI PDU layout (RFC 7143 11): the 48-byte Basic Header Segment, opcodes,
 * flags and field accessors. Header-only and pure; no I/O.
 *
 * A PDU in ctgt is the BHS bytes plus pointers to AHS and data. Fields are
 * read and written through the accessors below, never by casting the bytes
 * to a struct, so endianness and alignment are handled in one place.
 */
#ifndef CTGT_ISCSI_PDU_H
#define CTGT_ISCSI_PDU_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4

/* RFC 7143 11.1.1 opcodes: initiator */
enum iscsi_op_i {
	ISCSI_OP_NOP_OUT = 0x00,
	ISCSI_OP_SCSI_CMD = 0x01,
	ISCSI_OP_TMF_REQ = 0x02,
	ISCSI_OP_LOGIN_REQ = 0x03,
	ISCSI_OP_TEXT_REQ = 0x04,
	ISCSI_OP_DATA_OUT = 0x05,
	ISCSI_OP_LOGOUT_REQ = 0x06,
	ISCSI_OP_SNACK_REQ = 0x10,
};

/* target */
enum iscsi_op_t {
	ISCSI_OP_NOP_IN = 0x20,
	ISCSI_OP_SCSI_RSP = 0x21,
	ISCSI_OP_TMF_RSP = 0x22,
	ISCSI_OP_LOGIN_RSP = 0x23,
	ISCSI_OP_TEXT_RSP = 0x24,
	ISCSI_OP_DATA_IN = 0x25,
	ISCSI_OP_LOGOUT_RSP = 0x26,
	ISCSI_OP_R2T = 0x31,
	ISCSI_OP_ASYNC_MSG = 0x32,
	ISCSI_OP_REJECT = 0x3f,
};

#define ISCSI_OPCODE_MASK 0x3f
#define ISCSI_FLAG_IMMEDIATE 0x40 /* byte 0 */
#define ISCSI_FLAG_FINAL 0x80     /* byte 1 */

/* SCSI Command (11.3) byte 1 */
#define ISCSI_CMD_FLAG_READ 0x40
#define ISCSI_CMD_FLAG_WRITE 0x20
#define ISCSI_CMD_ATTR_MASK 0x07
/* SCSI Response / Data-In (11.4, 11.7) byte 1 */
#define ISCSI_FLAG_ACK 0x40            /* Data-In A */
#define ISCSI_FLAG_BIDI_OVERFLOW 0x10  /* o */
#define ISCSI_FLAG_BIDI_UNDERFLOW 0x08 /* u */
#define ISCSI_FLAG_OVERFLOW 0x04       /* O */
#define ISCSI_FLAG_UNDERFLOW 0x02      /* U */
#define ISCSI_FLAG_STATUS 0x01         /* Data-In S */
/* Login (11.12) byte 1 */
#define ISCSI_LOGIN_FLAG_TRANSIT 0x80
#define ISCSI_LOGIN_FLAG_CONTINUE 0x40
#define ISCSI_LOGIN_CSG(b1) (((b1) >> 2) & 3)
#define ISCSI_LOGIN_NSG(b1) ((b1) & 3)
enum iscsi_login_stage {
	ISCSI_STAGE_SECURITY = 0,
	ISCSI_STAGE_OPERATIONAL = 1,
	ISCSI_STAGE_FULL_FEATURE = 3,
};
/* Text (11.10) byte 1 */
#define ISCSI_TEXT_FLAG_CONTINUE 0x40

/* Reject reasons (11.17.1) */
enum iscsi_reject_reason {
	ISCSI_REJECT_DIGEST_ERROR = 0x02,
	ISCSI_REJECT_SNACK_REJECT = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR = 0x04,
	ISCSI_REJECT_CMD_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMMEDIATE_CMD_REJECT = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_LONG_OP_REJECT = 0x0a,
	ISCSI_REJECT_DEPRECATED = 0x0b,
	ISCSI_REJECT_WAITING_FOR_LOGOUT = 0x0c,
};

/* Login status class/detail (11.13.5) */
#define ISCSI_LOGIN_STATUS(cls, det) ((uint16_t)((cls) << 8 | (det)))
enum iscsi_login_status {
	ISCSI_LS_SUCCESS = 0x0000,
	ISCSI_LS_INITIATOR_ERROR = 0x0200,
	ISCSI_LS_AUTH_FAILED = 0x0201,
	ISCSI_LS_AUTHORIZATION_FAILED = 0x0202,
	ISCSI_LS_NOT_FOUND = 0x0203,
	ISCSI_LS_TARGET_REMOVED = 0x0204,
	ISCSI_LS_UNSUPPORTED_VERSION = 0x0205,
	ISCSI_LS_TOO_MANY_CONNECTIONS = 0x0206,
	ISCSI_LS_MISSING_PARAMETER = 0x0207,
	ISCSI_LS_CANT_INCLUDE_IN_SESSION = 0x0208,
	ISCSI_LS_SESSION_TYPE_UNSUPPORTED = 0x0209,
	ISCSI_LS_SESSION_DOES_NOT_EXIST = 0x020a,
	ISCSI_LS_INVALID_DURING_LOGIN = 0x020b,
	ISCSI_LS_TARGET_ERROR = 0x0300,
	ISCSI_LS_SERVICE_UNAVAILABLE = 0x0301,
	ISCSI_LS_OUT_OF_RESOURCES = 0x0302,
};

/* TMF functions (11.5.1) and responses (11.6.1) */
enum iscsi_tmf_func {
	ISCSI_TMF_ABORT_TASK = 1,
	ISCSI_TMF_ABORT_TASK_SET = 2,
	ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4,
	ISCSI_TMF_LUN_RESET = 5,
	ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7,
	ISCSI_TMF_TASK_REASSIGN = 8,
};
enum iscsi_tmf_response {
	ISCSI_TMF_RSP_COMPLETE = 0,
	ISCSI_TMF_RSP_NO_TASK = 1,
	ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_TASK_ALLEGIANT = 3,
	ISCSI_TMF_RSP_NO_FAILOVER = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5,
	ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_REJECTED = 255,
};

struct iscsi_pdu {
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t *ahs;          /* TotalAHSLength * 4 bytes, or NULL */
	uint8_t *data;         /* DataSegmentLength bytes (unpadded), or NULL */
	uint32_t data_len;
};

static inline uint32_t iscsi_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline void iscsi_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline uint16_t iscsi_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void iscsi_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Fields common to every BHS (11.2.1) */
static inline uint8_t iscsi_bhs_opcode(const uint8_t *b)
{
	return b[0] & ISCSI_OPCODE_MASK;
}
static inline bool iscsi_bhs_immediate(const uint8_t *b)
{
	return b[0] & ISCSI_FLAG_IMMEDIATE;
}
static inline uint8_t iscsi_bhs_flags(const uint8_t *b) { return b[1]; }
static inline uint32_t iscsi_bhs_ahs_len(const uint8_t *b) /* bytes */
{
	return (uint32_t)b[4] * 4;
}
static inline uint32_t iscsi_bhs_dsl(const uint8_t *b)
{
	return (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
}
static inline void iscsi_bhs_set_dsl(uint8_t *b, uint32_t len)
{
	b[5] = (uint8_t)(len >> 16);
	b[6] = (uint8_t)(len >> 8);
	b[7] = (uint8_t)len;
}
static inline uint64_t iscsi_bhs_lun(const uint8_t *b)
{
	return (uint64_t)iscsi_get_be32(b + 8) << 32 | iscsi_get_be32(b + 12);
}
static inline void iscsi_bhs_set_lun(uint8_t *b, uint64_t lun)
{
	iscsi_put_be32(b + 8, (uint32_t)(lun >> 32));
	iscsi_put_be32(b + 12, (uint32_t)lun);
}
static inline uint32_t iscsi_bhs_itt(const uint8_t *b) { return iscsi_get_be32(b + 16); }
static inline void iscsi_bhs_set_itt(uint8_t *b, uint32_t v) { iscsi_put_be32(b + 16, v); }
/* bytes 20..23: TTT (most PDUs) / EDTL (SCSI Command) / CID (login, logout) */
static inline uint32_t iscsi_bhs_word20(const uint8_t *b) { return iscsi_get_be32(b + 20); }
/* bytes 24..27: CmdSN (initiator PDUs) / StatSN (target PDUs) */
static inline uint32_t iscsi_bhs_cmdsn(const uint8_t *b) { return iscsi_get_be32(b + 24); }
/* bytes 28..31: ExpStatSN (initiator PDUs) / ExpCmdSN (target PDUs) */
static inline uint32_t iscsi_bhs_expstatsn(const uint8_t *b) { return iscsi_get_be32(b + 28); }

static inline uint32_t iscsi_pad4(uint32_t len) { return (len + 3) & ~3u; }

/* Serial number arithmetic (RFC 1982, RFC 7143 4.2.2.1) for 32-bit SNs. */
static inline bool iscsi_sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}
static inline bool iscsi_sn_le(uint32_t a, uint32_t b)
{
	return a == b || iscsi_sn_lt(a, b);
}

/* ------------------------------------------------------------------ */
/* Added by the protocol engineer (pdu.c): non-inline helpers. */

/* RFC 7143 11.1.1: a printable name of an opcode, for logs. */
const char *iscsi_pdu_opcode_name(uint8_t opcode);

/*
 * Checks a BHS received in full feature phase before its data is read:
 * an initiator opcode we know (11.1.1), not a Login Request (6.2: only
 * during login), SNACK only with ErrorRecoveryLevel > 0, a data segment no
 * longer than max_recv_dsl (13.12) and no AHS on PDUs that carry none.
 * Returns 0 if acceptable, otherwise the Reject reason (11.17.1) to send.
 */
int iscsi_pdu_check_ffp(const uint8_t *bhs, uint32_t max_recv_dsl,
			uint32_t error_recovery_level);

/*
 * Fills out as a Reject PDU (11.17) for the rejected header bad_bhs: the
 * header is the data segment (malloc'd into out->data; free it), ITT is
 * the reserved 0xffffffff, DataSN/R2TSN 0. StatSN/ExpCmdSN/MaxCmdSN are
 * left to the caller. Returns 0 or -ENOMEM.
 */
int iscsi_pdu_build_reject(struct iscsi_pdu *out, const uint8_t *bad_bhs,
			   enum iscsi_reject_reason reason);

#endif
