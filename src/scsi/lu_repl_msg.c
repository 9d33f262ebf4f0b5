/*
 * The wire codec of lu_repl messages (format in lu_repl.h): a struct
 * lu_repl_msg to versioned big-endian bytes and back.
 *
 * Deliberately NOT here: what a message does (lu_repl.c). The decoder
 * trusts nothing: the bytes come off the cluster bus and may have been
 * written by another version of ctgt. It checks every length, enum and
 * reserved bit, accepts only what the encoder writes (TransportIDs in
 * their canonical encoding, so one value has one encoding), and leaves a
 * zeroed message on error.
 */
#include <errno.h>
#include <string.h>

#include "scsi/lu_repl.h"
#include "scsi/lu_repl_codec.h"

#define LU_REPL_MSG_HDR 4u
/* PR_OUT flags byte */
#define LU_REPL_F_APTPL 0x01u
#define LU_REPL_F_ALL_TG_PT 0x02u
#define LU_REPL_F_SPEC_I_PT 0x04u
#define LU_REPL_F_UNREG 0x08u

/* Whether m's request is one pr_out_decode can produce (pr_decode.c):
 * the encoder refuses anything else, so the decoder can too. */
static bool lu_repl_msg_req_valid(const struct pr_out_req *q)
{
	bool typed;

	if (q->sa > PR_OUT_REGISTER_AND_MOVE || q->ntids > PR_OUT_TIDS_MAX)
		return false;
	typed = q->sa == PR_OUT_RESERVE || q->sa == PR_OUT_RELEASE ||
		q->sa == PR_OUT_PREEMPT || q->sa == PR_OUT_PREEMPT_AND_ABORT ||
		q->sa == PR_OUT_REGISTER_AND_MOVE;
	/* SPC-4 6.16.2: SCOPE LU_SCOPE and a valid TYPE where they matter,
	 * zero where they do not */
	if (typed ? (q->scope != PR_SCOPE_LU || !pr_type_valid(q->type))
		  : (q->scope != 0 || q->type != 0))
		return false;
	if (q->sa == PR_OUT_REGISTER_AND_MOVE) {
		/* SPC-4 6.16.4: exactly one TransportID at byte 24 */
		return q->ntids == 1 && !q->spec_i_pt && !q->all_tg_pt &&
		       q->tid_off[0] == 24;
	}
	if (q->unreg || q->move_rtpi != 0)
		return false;
	if (q->spec_i_pt && q->sa != PR_OUT_REGISTER)
		return false;
	if (q->all_tg_pt && q->sa != PR_OUT_REGISTER &&
	    q->sa != PR_OUT_REGISTER_AND_IGNORE)
		return false;
	if (!q->spec_i_pt)
		return q->ntids == 0;
	/* SPC-4 6.16.3: TransportIDs from byte 28 on, in list order */
	for (uint32_t i = 0; i < q->ntids; i++)
		if (q->tid_off[i] < (i ? q->tid_off[i - 1] + 24u : 28u))
			return false;
	return true;
}

static bool lu_repl_msg_has_nexus(uint8_t type)
{
	return type != LU_REPL_MSG_NODE_LEFT;
}

ssize_t lu_repl_msg_encode(const struct lu_repl_msg *m, uint8_t *buf,
			   size_t cap)
{
	struct lu_repl_wr w = { .p = buf, .cap = cap };

	if (m->type < LU_REPL_MSG_PR_OUT || m->type > LU_REPL_MSG_TYPE_LAST)
		return -EINVAL;
	lu_repl_wr_be(&w, LU_REPL_VERSION, 1);
	lu_repl_wr_be(&w, m->type, 1);
	lu_repl_wr_be(&w, 0, 2);
	if (lu_repl_msg_has_nexus(m->type)) {
		if (m->nexus.rtpi == 0 ||
		    m->nexus.tid.format != PR_TID_FORMAT_PORT)
			return -EINVAL;
		lu_repl_wr_be(&w, m->nexus.rtpi, 2);
		lu_repl_wr_tid(&w, &m->nexus.tid);
	}
	if (m->type == LU_REPL_MSG_PR_OUT) {
		const struct pr_out_req *q = &m->req;

		if (!lu_repl_msg_req_valid(q))
			return -EINVAL;
		lu_repl_wr_be(&w, q->sa, 1);
		lu_repl_wr_be(&w, q->scope, 1);
		lu_repl_wr_be(&w, q->type, 1);
		lu_repl_wr_be(&w, (q->aptpl ? LU_REPL_F_APTPL : 0) |
			      (q->all_tg_pt ? LU_REPL_F_ALL_TG_PT : 0) |
			      (q->spec_i_pt ? LU_REPL_F_SPEC_I_PT : 0) |
			      (q->unreg ? LU_REPL_F_UNREG : 0), 1);
		lu_repl_wr_be(&w, q->key, 8);
		lu_repl_wr_be(&w, q->sa_key, 8);
		lu_repl_wr_be(&w, q->move_rtpi, 2);
		lu_repl_wr_be(&w, q->ntids, 2);
		for (uint32_t i = 0; i < q->ntids; i++) {
			lu_repl_wr_be(&w, q->tid_off[i], 2);
			lu_repl_wr_tid(&w, &q->tids[i]);
		}
	}
	if (m->type == LU_REPL_MSG_NODE_LEFT) {
		if (m->nrtpis > LU_REPL_NODE_RTPIS_MAX)
			return -EINVAL;
		for (uint32_t i = 0; i < m->nrtpis; i++)
			if (m->rtpis[i] == 0 ||
			    (i && m->rtpis[i] <= m->rtpis[i - 1]))
				return -EINVAL;
		lu_repl_wr_be(&w, m->node, 4);
		lu_repl_wr_be(&w, m->nrtpis, 2);
		lu_repl_wr_be(&w, 0, 2);
		for (uint32_t i = 0; i < m->nrtpis; i++)
			lu_repl_wr_be(&w, m->rtpis[i], 2);
	}
	return w.err ? w.err : (ssize_t)w.pos;
}

static void lu_repl_msg_get_req(struct lu_repl_rd *r,
				struct pr_out_req *q)
{
	uint8_t f;

	q->sa = (uint8_t)lu_repl_rd_be(r, 1);
	q->scope = (uint8_t)lu_repl_rd_be(r, 1);
	q->type = (uint8_t)lu_repl_rd_be(r, 1);
	f = (uint8_t)lu_repl_rd_be(r, 1);
	q->key = lu_repl_rd_be(r, 8);
	q->sa_key = lu_repl_rd_be(r, 8);
	q->move_rtpi = (uint16_t)lu_repl_rd_be(r, 2);
	q->ntids = (uint32_t)lu_repl_rd_be(r, 2);
	if (r->err)
		return;
	if (f & ~(LU_REPL_F_APTPL | LU_REPL_F_ALL_TG_PT | LU_REPL_F_SPEC_I_PT |
		  LU_REPL_F_UNREG) || q->ntids > PR_OUT_TIDS_MAX) {
		lu_repl_rd_bad(r);
		return;
	}
	q->aptpl = f & LU_REPL_F_APTPL;
	q->all_tg_pt = f & LU_REPL_F_ALL_TG_PT;
	q->spec_i_pt = f & LU_REPL_F_SPEC_I_PT;
	q->unreg = f & LU_REPL_F_UNREG;
	for (uint32_t i = 0; i < q->ntids && !r->err; i++) {
		q->tid_off[i] = (uint16_t)lu_repl_rd_be(r, 2);
		lu_repl_rd_tid(r, &q->tids[i]);
	}
	if (!r->err && !lu_repl_msg_req_valid(q))
		lu_repl_rd_bad(r);
}

int lu_repl_msg_decode(const uint8_t *buf, size_t len, struct lu_repl_msg *m)
{
	struct lu_repl_rd r = { .p = buf, .len = len };
	uint8_t version;

	memset(m, 0, sizeof(*m));
	version = (uint8_t)lu_repl_rd_be(&r, 1);
	if (r.err)
		return r.err;
	if (version != LU_REPL_VERSION)
		return -EPROTONOSUPPORT;
	m->type = (uint8_t)lu_repl_rd_be(&r, 1);
	if (lu_repl_rd_be(&r, 2) != 0)
		lu_repl_rd_bad(&r);
	if (!r.err && (m->type < LU_REPL_MSG_PR_OUT ||
		       m->type > LU_REPL_MSG_TYPE_LAST))
		lu_repl_rd_bad(&r);
	if (!r.err && lu_repl_msg_has_nexus(m->type)) {
		m->nexus.rtpi = (uint16_t)lu_repl_rd_be(&r, 2);
		lu_repl_rd_tid(&r, &m->nexus.tid);
		/* an I_T nexus: one initiator port, a real target port */
		if (!r.err && (m->nexus.rtpi == 0 ||
			       m->nexus.tid.format != PR_TID_FORMAT_PORT))
			lu_repl_rd_bad(&r);
	}
	if (!r.err && m->type == LU_REPL_MSG_PR_OUT)
		lu_repl_msg_get_req(&r, &m->req);
	if (!r.err && m->type == LU_REPL_MSG_NODE_LEFT) {
		m->node = (uint32_t)lu_repl_rd_be(&r, 4);
		m->nrtpis = (uint32_t)lu_repl_rd_be(&r, 2);
		if (lu_repl_rd_be(&r, 2) != 0 ||
		    m->nrtpis > LU_REPL_NODE_RTPIS_MAX)
			lu_repl_rd_bad(&r);
		for (uint32_t i = 0; i < m->nrtpis && !r.err; i++) {
			m->rtpis[i] = (uint16_t)lu_repl_rd_be(&r, 2);
			if (!r.err && (m->rtpis[i] == 0 ||
				       (i && m->rtpis[i] <= m->rtpis[i - 1])))
				lu_repl_rd_bad(&r);
		}
	}
	if (!r.err && r.pos != len)
		lu_repl_rd_bad(&r);   /* trailing bytes */
	if (r.err)
		memset(m, 0, sizeof(*m));
	return r.err;
}

const char *lu_repl_msg_type_str(uint8_t type)
{
	switch (type) {
	case LU_REPL_MSG_PR_OUT:
		return "PR_OUT";
	case LU_REPL_MSG_SCSI2_RESERVE:
		return "SCSI2_RESERVE";
	case LU_REPL_MSG_SCSI2_RELEASE:
		return "SCSI2_RELEASE";
	case LU_REPL_MSG_LUN_RESET:
		return "LUN_RESET";
	case LU_REPL_MSG_NEXUS_LOSS:
		return "NEXUS_LOSS";
	case LU_REPL_MSG_NODE_LEFT:
		return "NODE_LEFT";
	case LU_REPL_MSG_TARGET_RESET:
		return "TARGET_RESET";
	default:
		return "unknown";
	}
}
