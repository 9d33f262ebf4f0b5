/*
 * PERSISTENT RESERVE IN data (SPC-4 6.15): READ KEYS, READ RESERVATION,
 * REPORT CAPABILITIES, READ FULL STATUS, built from the state into a
 * caller buffer. Every answer honours the allocation length: the header
 * reports the full length, the data beyond alloc_len is cut off.
 *
 * Deliberately NOT here: the CDB (the caller passes the service action
 * and the allocation length), any state change.
 */
#include <string.h>

#include "pr/pr.h"

/* A bounded writer: bytes past cap are counted, not written. */
struct pr_in_buf {
	uint8_t *buf;
	uint32_t cap;
	uint32_t len;
};

static void pr_in_put(struct pr_in_buf *b, const void *src, uint32_t n)
{
	if (b->len < b->cap) {
		uint32_t room = b->cap - b->len;
		memcpy(b->buf + b->len, src, n < room ? n : room);
	}
	b->len += n;
}

static void pr_in_put_be16(struct pr_in_buf *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	pr_in_put(b, p, 2);
}

static void pr_in_put_be32(struct pr_in_buf *b, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };
	pr_in_put(b, p, 4);
}

static void pr_in_put_be64(struct pr_in_buf *b, uint64_t v)
{
	pr_in_put_be32(b, (uint32_t)(v >> 32));
	pr_in_put_be32(b, (uint32_t)v);
}

static void pr_in_put_zero(struct pr_in_buf *b, uint32_t n)
{
	static const uint8_t zero[16];
	while (n) {
		uint32_t k = n < sizeof(zero) ? n : (uint32_t)sizeof(zero);
		pr_in_put(b, zero, k);
		n -= k;
	}
}

/* SPC-4 6.15.2 */
static void pr_in_read_keys(const struct pr_state *st, struct pr_in_buf *b)
{
	pr_in_put_be32(b, st->generation);
	pr_in_put_be32(b, st->nregs * 8);
	for (uint32_t i = 0; i < st->nregs; i++)
		pr_in_put_be64(b, st->regs[i].key);
}

/* SPC-4 6.15.3: an all-registrants reservation reports key 0. */
static void pr_in_read_reservation(const struct pr_state *st,
				   struct pr_in_buf *b)
{
	pr_in_put_be32(b, st->generation);
	if (st->type == PR_TYPE_NONE) {
		pr_in_put_be32(b, 0);
		return;
	}
	pr_in_put_be32(b, 16);
	uint64_t key = 0;
	if (!pr_type_all_registrants(st->type))
		key = st->regs[st->holder].key;
	pr_in_put_be64(b, key);
	pr_in_put_zero(b, 5);                 /* obsolete, reserved */
	uint8_t st_byte = (uint8_t)(st->scope << 4 | st->type);
	pr_in_put(b, &st_byte, 1);
	pr_in_put_zero(b, 2);                 /* obsolete */
}

/* SPC-4 6.15.4, table 167 */
static void pr_in_report_capabilities(const struct pr_state *st,
				      struct pr_in_buf *b)
{
	uint8_t p[8] = { 0, 8 };
	p[2] = (uint8_t)((st->cfg.crh ? 0x10 : 0) | 0x08 /* SIP_C */ |
			 0x04 /* ATP_C */ | (st->cfg.ptpl_c ? 0x01 : 0));
	/* TMV, ALLOW COMMANDS 001b (TEST UNIT READY through WR_EX and
	 * EX_AC), PTPL_A */
	p[3] = (uint8_t)(0x80 | 0x10 | (st->aptpl ? 0x01 : 0));
	/* type mask: WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX | EX_AC_AR */
	p[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	p[5] = 0x01;
	pr_in_put(b, p, sizeof(p));
}

/* SPC-4 6.15.5, tables 168-169 */
static void pr_in_read_full_status(const struct pr_state *st,
				   struct pr_in_buf *b)
{
	uint8_t tid[PR_TID_NAME_MAX + 64];
	uint32_t total = 0;

	for (uint32_t i = 0; i < st->nregs; i++) {
		int n = pr_tid_encode(&st->regs[i].tid, tid, sizeof(tid));
		total += 24 + (uint32_t)(n > 0 ? n : 0);
	}
	pr_in_put_be32(b, st->generation);
	pr_in_put_be32(b, total);
	for (uint32_t i = 0; i < st->nregs; i++) {
		const struct pr_reg *r = &st->regs[i];
		bool holder = st->type != PR_TYPE_NONE &&
			      (pr_type_all_registrants(st->type) ||
			       st->holder == i);
		int n = pr_tid_encode(&r->tid, tid, sizeof(tid));
		if (n < 0)
			n = 0;
		uint8_t flags = (uint8_t)((r->all_tg_pt ? 0x02 : 0) |
					  (holder ? 0x01 : 0));
		uint8_t st_byte = holder ?
			(uint8_t)(st->scope << 4 | st->type) : 0;
		pr_in_put_be64(b, r->key);
		pr_in_put_zero(b, 4);
		pr_in_put(b, &flags, 1);
		pr_in_put(b, &st_byte, 1);
		pr_in_put_zero(b, 4);
		pr_in_put_be16(b, r->rtpi);
		pr_in_put_be32(b, (uint32_t)n);
		pr_in_put(b, tid, (uint32_t)n);
	}
}

uint32_t pr_in_build(const struct pr_state *st, uint8_t sa, uint8_t *buf,
		     uint32_t alloc_len, uint32_t *full_len,
		     struct pr_result *res)
{
	struct pr_in_buf b = { buf, alloc_len, 0 };

	pr_result_reset(res);
	switch (sa) {
	case PR_IN_READ_KEYS:
		pr_in_read_keys(st, &b);
		break;
	case PR_IN_READ_RESERVATION:
		pr_in_read_reservation(st, &b);
		break;
	case PR_IN_REPORT_CAPABILITIES:
		pr_in_report_capabilities(st, &b);
		break;
	case PR_IN_READ_FULL_STATUS:
		pr_in_read_full_status(st, &b);
		break;
	default:
		res->status = PR_STATUS_CHECK_CONDITION;
		res->reason = PR_REASON_INVALID_FIELD_IN_CDB;
		res->field.valid = true;
		res->field.cdb = true;
		res->field.byte = 1;
		res->field.bit = 4;
		if (full_len)
			*full_len = 0;
		return 0;
	}
	if (full_len)
		*full_len = b.len;
	return b.len < alloc_len ? b.len : alloc_len;
}
