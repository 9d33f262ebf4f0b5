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

#endif
