/*
 * Text keys (RFC 7143 6.1, 6.2 and 13): parsing key=value data segments and
 * negotiating the operational parameters. Pure: no I/O, no session.
 */
#ifndef CTGT_ISCSI_PARAM_H
#define CTGT_ISCSI_PARAM_H

#include <stdbool.h>
#include <stdint.h>

/* The negotiated operational parameters of a session/connection (13.x). */
struct iscsi_params {
	bool header_digest;             /* CRC32C */
	bool data_digest;
	uint32_t max_xmit_dsl;          /* the initiator's MaxRecvDataSegmentLength:
	                                   the most we may send in one PDU */
	uint32_t max_recv_dsl;          /* ours: the most we accept */
	uint32_t max_burst;
	uint32_t first_burst;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_connections;
	uint32_t error_recovery_level;
};

/* RFC 7143 defaults (13.x), with our max_recv_dsl. */
void iscsi_params_default(struct iscsi_params *p);

/* Iterates key=value pairs of a data segment (NUL-separated, RFC 7143
 * 6.1). Returns 1 with key/value pointing into a scratch copy, 0 at the
 * end, -EINVAL on a malformed pair (no '=', key too long, value > 8192). */
struct iscsi_kv_iter {
	const char *data;
	uint32_t len;
	uint32_t pos;
	char key[64];
	char value[8193];
};
void iscsi_kv_iter_init(struct iscsi_kv_iter *it, const uint8_t *data,
			uint32_t len);
int iscsi_kv_next(struct iscsi_kv_iter *it, const char **key,
		  const char **value);

/* Growable key=value output buffer. */
struct iscsi_kv_buf {
	char *data;
	uint32_t len;
	uint32_t cap;
	bool oom;
};
void iscsi_kv_add(struct iscsi_kv_buf *b, const char *key, const char *value);
void iscsi_kv_addf(struct iscsi_kv_buf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Added by the protocol engineer (param.c): operational negotiation as
 * used by login.c. Existing declarations above are unchanged. */

struct iscsi_global_config;

/* Our limits and the RFC 7143 13.x defaults they fall back to. */
#define ISCSI_PARAM_DEFAULT_MAX_RECV_DSL 262144u /* ours, unless configured */
#define ISCSI_PARAM_RFC_MAX_RECV_DSL 8192u       /* 13.12 default */
#define ISCSI_PARAM_RFC_MAX_BURST 262144u        /* 13.13 */
#define ISCSI_PARAM_RFC_FIRST_BURST 65536u       /* 13.14 */
#define ISCSI_PARAM_DSL_MIN 512u
#define ISCSI_PARAM_DSL_MAX 16777215u            /* 2^24 - 1 */
#define ISCSI_KV_KEY_MAX 63u                     /* 6.1: key names */
#define ISCSI_KV_VALUE_MAX 8192u                 /* 6.1: text values */

/* Outcome of one operational key (iscsi_neg_key). */
enum iscsi_neg_result {
	ISCSI_NEG_OK = 0,          /* answered (or nothing to answer) */
	ISCSI_NEG_NOT_OPERATIONAL, /* a login/security key: not ours */
	ISCSI_NEG_FAIL,            /* fail the login with *status */
};

/* Negotiation state of one login (a whole sequence of Login PDUs). */
struct iscsi_neg {
	struct iscsi_params params;     /* the result so far */
	uint32_t our_max_recv_dsl;      /* effective limits (zero -> default) */
	uint32_t our_max_burst;
	uint32_t our_first_burst;
	bool discovery;                 /* SessionType=Discovery */
	bool leading;                   /* TSIH 0: LO keys allowed */
	uint64_t offered;               /* bit per key row: the initiator sent it */
	uint64_t declared;              /* bit per key row: we sent it */
};

/* g may be NULL (all defaults). */
void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_global_config *g,
		    bool discovery, bool leading);

/* Negotiates one key offered by the initiator, appending our answer to
 * out (RFC 7143 6.2). Keys this module does not own (InitiatorName,
 * AuthMethod, CHAP_*, ...) return ISCSI_NEG_NOT_OPERATIONAL untouched.
 * Unknown keys get NotUnderstood; keys offered twice or not allowed on a
 * non-leading connection fail with *status (a login status). */
enum iscsi_neg_result iscsi_neg_key(struct iscsi_neg *n, const char *key,
				    const char *value, struct iscsi_kv_buf *out,
				    uint16_t *status);

/* True if key is one of the operational keys of the table (13.x). */
bool iscsi_neg_is_operational(const char *key);

/* After a PDU's keys: FirstBurstLength <= MaxBurstLength (13.14). */
void iscsi_neg_settle(struct iscsi_neg *n);

/* Our declaration of MaxRecvDataSegmentLength (13.12), once per login. */
void iscsi_neg_declare(struct iscsi_neg *n, struct iscsi_kv_buf *out);

/* Parses a decimal or 0x-hex number (RFC 7143 5.1 numerical values);
 * returns 0 or -EINVAL. */
int iscsi_param_parse_u64(const char *s, uint64_t *out);

#endif
