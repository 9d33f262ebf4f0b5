/*
 * SCSI commands over iSCSI (RFC 7143 11.3-11.8): turning a SCSI Command PDU
 * into a scsi_task, collecting write data (immediate data, unsolicited
 * Data-Out, R2T-solicited bursts, with the DataSN/BufferOffset checks of
 * 11.7), handing the complete task to the SCSI core, and sending the result
 * back as Data-In PDUs and/or a SCSI Response with residuals (11.4.5).
 *
 * It does not order commands (the CmdSN window is session.c's) and does not
 * decode CDBs (the core does). Bidirectional commands are not supported:
 * they are answered with CHECK CONDITION, INVALID FIELD IN CDB once their
 * unsolicited data is in. Data-Out payloads are received straight into the
 * task buffer when their header fits (conn.c asks iscsi_cmd_data_out_dest),
 * immediate data is copied once; Data-In goes out straight from the buffer.
 *
 * A task lives until nothing refers to it: the connection (until its
 * response is queued or it is aborted), the core (submit .. done()) and
 * every queued PDU that points into its buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "iscsi/runtime.h"

#define ISCSI_AHS_EXTENDED_CDB 1 /* RFC 7143 11.2.2 */
#define ISCSI_DATAIN_BATCH 16u   /* Data-In PDUs queued ahead per task */

static void iscsi_cmd_done(struct scsi_task *st);

/* ------------------------------------------------------------------ */
/* lifetime */

void iscsi_task_put(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	if (--t->refs > 0)
		return;
	list_del(&t->link);
	c->buf_bytes -= t->buf_size;
	free(t->st.buf);
	free(t);
	iscsi_conn_maybe_reap(c);
}

/* The task's fate is sealed (response queued, aborted, or the connection
 * is gone): release the CmdSN slot and the connection's reference. */
static void iscsi_cmd_retire(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	if (t->state == ISCSI_TASK_RESPONDING)
		return;
	if (t->state == ISCSI_TASK_DATA_WAIT && t->write) {
		/* Data-Out may still be on its way: remember to drop it */
		iscsi_ended_add(&c->ended, t->itt);
	}
	t->state = ISCSI_TASK_RESPONDING;
	if (t->counted && c->sess)
		iscsi_session_cmd_complete(c->sess);
	t->counted = false;
	iscsi_task_put(t);
}

struct iscsi_task *iscsi_cmd_find(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t;

	list_for_each_entry(t, &c->tasks, link)
		if (t->itt == itt && t->state != ISCSI_TASK_RESPONDING)
			return t;
	return NULL;
}

void iscsi_cmd_abort_local(struct iscsi_task *t)
{
	if (t->state != ISCSI_TASK_DATA_WAIT)
		return;
	LOG_DEBUG("iscsi %s: task itt 0x%08x aborted before submission",
		  t->conn->peer, t->itt);
	iscsi_cmd_retire(t);
}

static void iscsi_cmd_respond(struct iscsi_task *t);

/* A task still collecting its write data, aborted by another I_T nexus's
 * command or TMF with TAS = 1: TASK ABORTED status, no sense data (SAM-5
 * 5.6, SPC-4 7.5.8 control mode page). It is answered at once, not after
 * the data the R2Ts already asked for: that data is discarded when it
 * comes (retire() remembers the ITT, RFC 7143 11.5.1). */
static void iscsi_cmd_abort_status(struct iscsi_task *t)
{
	LOG_DEBUG("iscsi %s: task itt 0x%08x aborted before submission: "
		  "TASK ABORTED", t->conn->peer, t->itt);
	t->st.aborted = true;
	t->st.status = SCSI_STATUS_TASK_ABORTED;
	t->st.sense_len = 0;
	t->st.data_len = 0;
	t->st.xfer_len = 0;
	iscsi_cmd_respond(t);
}

unsigned iscsi_cmd_abort_unsubmitted(struct iscsi_conn *c, int lun_id,
				     bool all_luns, bool quiet)
{
	struct iscsi_task *t, *tmp;
	unsigned n = 0;

	/* retire() may free t; tmp stays valid because only t is freed,
	 * unless answering t closed the connection: the close has aborted
	 * every other waiting task itself (quietly), so stop there. */
	list_for_each_entry_safe(t, tmp, &c->tasks, link) {
		if (t->state != ISCSI_TASK_DATA_WAIT ||
		    (!all_luns && scsi_task_lun_id(t->st.lun) != lun_id))
			continue;
		n++;
		if (quiet || c->state == ISCSI_CONN_CLOSING) {
			iscsi_cmd_abort_local(t);
			continue;
		}
		iscsi_cmd_abort_status(t);
		if (c->state == ISCSI_CONN_CLOSING)
			break;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* responses */

static void iscsi_cmd_residual(const struct iscsi_task *t, uint8_t *flags,
			       uint32_t *resid)
{
	uint32_t x = t->st.xfer_len;

	/* RFC 7143 11.4.5 */
	*flags = 0;
	*resid = 0;
	if (x < t->edtl) {
		*flags = ISCSI_FLAG_UNDERFLOW;
		*resid = t->edtl - x;
	} else if (x > t->edtl) {
		*flags = ISCSI_FLAG_OVERFLOW;
		*resid = x - t->edtl;
	}
}

/* Renders the next Data-In of t into p (RFC 7143 11.7). */
static void iscsi_cmd_datain_render(struct iscsi_task *t,
				    struct iscsi_txpdu *p)
{
	struct iscsi_conn *c = t->conn;
	uint32_t n = t->datain_len - t->datain_off;
	bool last;

	if (n > c->params.max_xmit_dsl)
		n = c->params.max_xmit_dsl;
	if (n > t->burst_left)
		n = t->burst_left;
	last = t->datain_off + n == t->datain_len;
	memset(p->bhs, 0, ISCSI_BHS_LEN);
	p->bhs[0] = ISCSI_OP_DATA_IN;
	/* F ends each input sequence of at most MaxBurstLength (11.7.1) */
	if (last || n == t->burst_left)
		p->bhs[1] |= ISCSI_FLAG_FINAL;
	p->status = false;
	if (last && t->datain_status) {
		uint8_t rf;
		uint32_t resid;

		/* status in the final Data-In (11.7.4) */
		iscsi_cmd_residual(t, &rf, &resid);
		p->bhs[1] |= ISCSI_FLAG_STATUS | ISCSI_FLAG_FINAL | rf;
		p->bhs[3] = t->st.status;
		iscsi_put_be32(p->bhs + 44, resid);
		p->status = true;
	}
	iscsi_bhs_set_lun(p->bhs, t->st.lun);
	iscsi_bhs_set_itt(p->bhs, t->itt);
	iscsi_put_be32(p->bhs + 20, ISCSI_RSVD_TAG);
	iscsi_put_be32(p->bhs + 36, t->datain_sn++);
	iscsi_put_be32(p->bhs + 40, t->datain_off);
	p->data = t->st.buf + t->datain_off;
	p->data_len = n;
	t->datain_off += n;
	t->burst_left -= n;
	if (t->burst_left == 0)
		t->burst_left = c->params.max_burst;
}

static bool iscsi_cmd_datain_refill(struct iscsi_txpdu *p)
{
	struct iscsi_task *t = p->task;

	if (t->datain_off >= t->datain_len)
		return false;
	iscsi_cmd_datain_render(t, p);
	return true;
}

/* How many Data-In PDUs len bytes take (for ExpDataSN, 11.4.8). */
static uint32_t iscsi_cmd_datain_count(const struct iscsi_conn *c,
				       uint32_t len)
{
	uint32_t count = 0, burst = c->params.max_burst;

	while (len) {
		uint32_t b = len < burst ? len : burst;

		count += (b + c->params.max_xmit_dsl - 1) / c->params.max_xmit_dsl;
		len -= b;
	}
	return count;
}

static void iscsi_cmd_send_response(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct scsi_task *st = &t->st;
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);
	uint8_t rf;
	uint32_t resid;

	if (!p) {
		iscsi_conn_close(c, "no memory for a SCSI Response");
		return;
	}
	iscsi_cmd_residual(t, &rf, &resid);
	/* RFC 7143 11.4 */
	p->bhs[0] = ISCSI_OP_SCSI_RSP;
	p->bhs[1] = ISCSI_FLAG_FINAL | rf;
	p->bhs[2] = 0; /* command completed at target */
	p->bhs[3] = st->status;
	iscsi_bhs_set_itt(p->bhs, t->itt);
	iscsi_put_be32(p->bhs + 36, t->exp_datasn_rsp);
	iscsi_put_be32(p->bhs + 44, resid);
	if (st->sense_len) {
		/* 11.4.7: SenseLength + sense data */
		uint8_t *d = malloc(2u + st->sense_len);

		if (!d) {
			iscsi_txpdu_free(p);
			iscsi_conn_close(c, "no memory for sense data");
			return;
		}
		iscsi_put_be16(d, st->sense_len);
		memcpy(d + 2, st->sense, st->sense_len);
		p->data = d;
		p->data_len = 2u + st->sense_len;
		p->free_data = true;
	}
	p->status = true;
	iscsi_conn_queue(c, p);
}

static void iscsi_cmd_respond(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct scsi_task *st = &t->st;
	uint32_t len = st->data_len;

	/* queueing may close the connection, which aborts DATA_WAIT tasks:
	 * keep t alive until the end */
	t->refs++;

	if (len > t->edtl)
		len = t->edtl;
	if (!t->read || !st->buf)
		len = 0;
	t->datain_status = st->status == SCSI_STATUS_GOOD && !st->sense_len;
	if (len) {
		unsigned i;

		t->datain_off = 0;
		t->datain_sn = 0;
		t->datain_len = len;
		t->burst_left = c->params.max_burst;
		t->exp_datasn_rsp = iscsi_cmd_datain_count(c, len);
		/* The first PDUs are queued one by one so they leave in one
		 * sendmsg; the last of them renders the rest in place as it
		 * goes (a long read does not cost one entry per PDU). */
		for (i = 0; t->datain_off < t->datain_len; i++) {
			struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);
			bool train;

			if (!p || c->state == ISCSI_CONN_CLOSING) {
				free(p);
				iscsi_conn_close(c, "no memory for Data-In");
				iscsi_cmd_retire(t);
				iscsi_task_put(t);
				return;
			}
			t->refs++;
			p->task = t;
			iscsi_cmd_datain_render(t, p);
			if (i + 1 == ISCSI_DATAIN_BATCH &&
			    t->datain_off < t->datain_len)
				p->refill = iscsi_cmd_datain_refill;
			train = p->refill != NULL;
			iscsi_conn_queue(c, p); /* p may be gone now */
			if (train)
				break;
		}
	} else {
		t->datain_status = false;
	}
	if (!t->datain_status && c->state != ISCSI_CONN_CLOSING)
		iscsi_cmd_send_response(t);
	iscsi_cmd_retire(t);
	iscsi_task_put(t);
}

static void iscsi_cmd_done(struct scsi_task *st)
{
	struct iscsi_task *t = container_of(st, struct iscsi_task, st);
	struct iscsi_conn *c = t->conn;

	c->n_submitted--;
	if (c->state == ISCSI_CONN_CLOSING || st->no_response) {
		LOG_DEBUG("iscsi %s: itt 0x%08x done, no response", c->peer,
			  t->itt);
		iscsi_cmd_retire(t);
	} else {
		LOG_DEBUG("iscsi %s: itt 0x%08x done, status 0x%02x len %u",
			  c->peer, t->itt, st->status, st->data_len);
		iscsi_cmd_respond(t);
	}
	iscsi_task_put(t); /* the core's reference */
}

/* Fails a task that never reached the core: status from reason. */
static void iscsi_cmd_fail(struct iscsi_task *t, enum scsi_sense_reason r)
{
	scsi_task_set_sense(&t->st, r);
	t->st.data_len = 0;
	t->st.xfer_len = 0;
	iscsi_cmd_respond(t);
}

static void iscsi_cmd_submit(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	t->state = ISCSI_TASK_SUBMITTED;
	t->refs++;
	c->n_submitted++;
	LOG_DEBUG("iscsi %s: submit itt 0x%08x op 0x%02x edtl %u", c->peer,
		  t->itt, t->st.cdb[0], t->edtl);
	scsi_task_submit(&t->st); /* done() may run before this returns */
}

/* ------------------------------------------------------------------ */
/* write data: R2T (11.8) and progress */

static bool iscsi_cmd_send_r2t(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_r2t *r = NULL;
	struct iscsi_txpdu *p;
	uint32_t len;
	unsigned i;

	for (i = 0; i < ISCSI_MAX_R2T_SLOTS; i++) {
		if (!t->r2t[i].active) {
			r = &t->r2t[i];
			break;
		}
	}
	if (!r)
		return false;
	p = iscsi_txpdu_alloc(c);
	if (!p)
		return false; /* retried on the next Data-Out */
	len = t->edtl - t->r2t_next;
	if (len > c->params.max_burst)
		len = c->params.max_burst;
	c->next_ttt++;
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt = 1;
	r->active = true;
	r->ttt = c->next_ttt;
	r->r2tsn = t->r2tsn++;
	r->offset = t->r2t_next;
	r->len = len;
	r->rcvd = 0;
	r->exp_datasn = 0;
	t->r2t_next += len;
	t->r2t_active++;
	t->exp_datasn_rsp++;
	p->bhs[0] = ISCSI_OP_R2T;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	iscsi_bhs_set_lun(p->bhs, t->st.lun);
	iscsi_bhs_set_itt(p->bhs, t->itt);
	iscsi_put_be32(p->bhs + 20, r->ttt);
	iscsi_put_be32(p->bhs + 36, r->r2tsn);
	iscsi_put_be32(p->bhs + 40, r->offset);
	iscsi_put_be32(p->bhs + 44, r->len);
	iscsi_conn_queue(c, p);
	return true;
}

/* Decides what a write task needs next: more R2Ts, submission, or (when
 * it failed before reaching the core) its error response once the data
 * the initiator was already committed to send is in (RFC 7143 7.8). */
static void iscsi_cmd_progress(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	unsigned max_r2t = c->params.max_outstanding_r2t;

	if (!t->unsol_done)
		return;
	if (t->fail != SCSI_SR_OK) {
		if (t->r2t_active == 0)
			iscsi_cmd_fail(t, t->fail);
		return;
	}
	if (max_r2t > ISCSI_MAX_R2T_SLOTS)
		max_r2t = ISCSI_MAX_R2T_SLOTS;
	while (t->r2t_next < t->edtl && t->r2t_active < max_r2t &&
	       c->state == ISCSI_CONN_FULL) {
		if (!iscsi_cmd_send_r2t(t))
			break;
	}
	if (t->r2t_next >= t->edtl && t->r2t_active == 0 &&
	    c->state == ISCSI_CONN_FULL)
		iscsi_cmd_submit(t);
}

/* A Data-Out that breaks the sequence rules of RFC 7143 11.7 (DataSN,
 * BufferOffset, length, F bit, unknown TTT). ERL0 cannot recover the
 * command (no recovery R2T, 7.4), but the session need not die for it: the
 * task ends now with CHECK CONDITION, ABORTED COMMAND, and later Data-Out
 * for its ITT is discarded as for any finished task. No Reject is sent:
 * it would complete the command a second time at the initiator. */
static void iscsi_cmd_data_out_violation(struct iscsi_task *t,
					 const uint8_t *bhs, const char *what)
{
	LOG_INFO("iscsi %s: bad Data-Out itt 0x%08x (DataSN %u offset %u): %s",
		 t->conn->peer, iscsi_bhs_itt(bhs), iscsi_get_be32(bhs + 36),
		 iscsi_get_be32(bhs + 40), what);
	iscsi_cmd_fail(t, SCSI_SR_ABORTED_COMMAND);
}

uint8_t *iscsi_cmd_data_out_dest(struct iscsi_conn *c, const uint8_t *bhs,
				 uint32_t len, struct iscsi_task **task)
{
	struct iscsi_task *t = iscsi_cmd_find(c, iscsi_bhs_itt(bhs));
	uint32_t off = iscsi_get_be32(bhs + 40);

	*task = NULL;
	if (!t || t->state != ISCSI_TASK_DATA_WAIT || !t->st.buf ||
	    t->fail != SCSI_SR_OK || off > t->edtl || len > t->edtl - off)
		return NULL;
	t->refs++;
	*task = t;
	return t->st.buf + off;
}

void iscsi_cmd_rx_data_out(struct iscsi_conn *c, const uint8_t *bhs,
			   const uint8_t *data, uint32_t len,
			   bool digest_error)
{
	uint32_t itt = iscsi_bhs_itt(bhs);
	uint32_t ttt = iscsi_bhs_word20(bhs);
	uint32_t datasn = iscsi_get_be32(bhs + 36);
	uint32_t off = iscsi_get_be32(bhs + 40);
	bool final = iscsi_bhs_flags(bhs) & ISCSI_FLAG_FINAL;
	struct iscsi_task *t = iscsi_cmd_find(c, itt);

	if (!t || t->state != ISCSI_TASK_DATA_WAIT) {
		/* Data for a task that ended (aborted, failed) before all its
		 * data came is discarded (RFC 7143 11.5.1); data for a task
		 * that never was is an invalid field (11.17.1). */
		if (iscsi_ended_has(&c->ended, itt)) {
			LOG_DEBUG("iscsi %s: Data-Out for ended itt 0x%08x "
				  "dropped", c->peer, itt);
			return;
		}
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return;
	}
	if (digest_error) {
		/* RFC 7143 7.8: Reject, then (ERL0, no recovery R2T) end the
		 * task with CHECK CONDITION once all its data is in. */
		if (t->fail == SCSI_SR_OK)
			t->fail = SCSI_SR_DATA_DIGEST_ERROR;
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_DIGEST_ERROR);
		if (c->state == ISCSI_CONN_CLOSING)
			return;
	}
	if (ttt == ISCSI_RSVD_TAG) {
		/* unsolicited data (11.7.1) */
		if (t->unsol_done || datasn != t->unsol_datasn ||
		    off != t->unsol_rcvd || len > t->unsol_end - off) {
			iscsi_cmd_data_out_violation(t, bhs, "unsolicited");
			return;
		}
		if (t->st.buf && !digest_error && len &&
		    data != t->st.buf + off)
			memcpy(t->st.buf + off, data, len);
		t->unsol_rcvd += len;
		t->unsol_datasn++;
		if (final || t->unsol_rcvd == t->unsol_end) {
			/* An early F shortens the burst; the rest is
			 * solicited (no R2T has been sent yet). */
			t->unsol_done = true;
			t->unsol_end = t->unsol_rcvd;
			t->r2t_next = t->unsol_rcvd;
		}
	} else {
		struct iscsi_r2t *r = NULL;
		unsigned i;

		for (i = 0; i < ISCSI_MAX_R2T_SLOTS; i++) {
			if (t->r2t[i].active && t->r2t[i].ttt == ttt) {
				r = &t->r2t[i];
				break;
			}
		}
		if (!r) {
			iscsi_cmd_data_out_violation(t, bhs, "unknown TTT");
			return;
		}
		if (datasn != r->exp_datasn || off != r->offset + r->rcvd ||
		    len > r->len - r->rcvd) {
			iscsi_cmd_data_out_violation(t, bhs, "solicited");
			return;
		}
		if (t->st.buf && !digest_error && len &&
		    data != t->st.buf + off)
			memcpy(t->st.buf + off, data, len);
		r->rcvd += len;
		r->exp_datasn++;
		if (r->rcvd == r->len) {
			r->active = false;
			t->r2t_active--;
		} else if (final) {
			iscsi_cmd_data_out_violation(t, bhs,
						     "F before end of burst");
			return;
		}
	}
	iscsi_cmd_progress(t);
}

/* ------------------------------------------------------------------ */
/* SCSI Command (11.3) */

static enum scsi_task_attr iscsi_cmd_attr(uint8_t a)
{
	switch (a & ISCSI_CMD_ATTR_MASK) {
	case 2:
		return SCSI_ATTR_ORDERED;
	case 3:
		return SCSI_ATTR_HEAD_OF_QUEUE;
	case 4:
		return SCSI_ATTR_ACA;
	default: /* 0 untagged, 1 simple */
		return SCSI_ATTR_SIMPLE;
	}
}

/* CDB from the BHS plus an Extended CDB AHS (11.2.2.3). false if the AHS
 * is malformed or the CDB longer than we hold. */
static bool iscsi_cmd_parse_cdb(struct scsi_task *st, const uint8_t *bhs,
				const uint8_t *ahs, uint32_t ahs_len)
{
	uint32_t off = 0;

	memcpy(st->cdb, bhs + 32, 16);
	st->cdb_len = 16;
	while (off + 4 <= ahs_len) {
		uint32_t alen = iscsi_get_be16(ahs + off);
		uint8_t type = ahs[off + 2];

		if (alen == 0 || off + 3 + alen > ahs_len)
			return false;
		if (type == ISCSI_AHS_EXTENDED_CDB) {
			uint32_t ext = alen - 1;

			if (16 + ext > SCSI_CDB_MAX)
				return false;
			memcpy(st->cdb + 16, ahs + off + 4, ext);
			st->cdb_len = (uint8_t)(16 + ext);
		}
		off += iscsi_pad4(3 + alen);
	}
	return true;
}

/* No memory even for a task: answer TASK SET FULL and shrink the window. */
static void iscsi_cmd_reply_busy(struct iscsi_conn *c, const uint8_t *bhs,
				 bool counted)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);

	iscsi_cmdsn_throttle(&c->sess->win);
	if (counted)
		iscsi_session_cmd_complete(c->sess);
	if (!p) {
		iscsi_conn_close(c, "out of memory");
		return;
	}
	p->bhs[0] = ISCSI_OP_SCSI_RSP;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	p->bhs[3] = SCSI_STATUS_TASK_SET_FULL;
	iscsi_bhs_set_itt(p->bhs, iscsi_bhs_itt(bhs));
	p->status = true;
	iscsi_conn_queue(c, p);
}

void iscsi_cmd_rx(struct iscsi_conn *c, const uint8_t *bhs,
		  const uint8_t *ahs, uint32_t ahs_len,
		  uint8_t **datap, uint32_t len, bool counted)
{
	uint8_t *data = *datap;
	const struct iscsi_params *prm = &c->params;
	uint8_t flags = iscsi_bhs_flags(bhs);
	uint32_t itt = iscsi_bhs_itt(bhs);
	uint32_t edtl = iscsi_bhs_word20(bhs);
	bool rd = flags & ISCSI_CMD_FLAG_READ;
	bool wr = flags & ISCSI_CMD_FLAG_WRITE;
	bool final = flags & ISCSI_FLAG_FINAL;
	struct iscsi_task *t;

	if (len && (!wr || !prm->immediate_data || len > edtl ||
		    len > prm->first_burst)) {
		/* RFC 7143 11.3.4 / 13.10 / 13.14: immediate data only for
		 * writes, when negotiated, within EDTL and FirstBurstLength */
		if (counted)
			iscsi_session_cmd_complete(c->sess);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	if (iscsi_cmd_find(c, itt)) {
		if (counted)
			iscsi_session_cmd_complete(c->sess);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_TASK_IN_PROGRESS);
		return;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		iscsi_cmd_reply_busy(c, bhs, counted);
		return;
	}
	t->conn = c;
	t->refs = 1;
	t->state = ISCSI_TASK_DATA_WAIT;
	t->itt = itt;
	t->cmdsn = iscsi_bhs_cmdsn(bhs);
	t->counted = counted;
	t->read = rd;
	t->write = wr;
	t->edtl = edtl;
	list_add_tail(&c->tasks, &t->link);

	t->st.nexus = c->sess->nexus;
	t->st.lun = iscsi_bhs_lun(bhs);
	t->st.attr = iscsi_cmd_attr(flags);
	t->st.dir = rd && wr ? SCSI_DIR_BIDI :
		    rd       ? SCSI_DIR_IN :
		    wr       ? SCSI_DIR_OUT :
			       SCSI_DIR_NONE;
	t->st.tag = itt;
	t->st.done = iscsi_cmd_done;
	t->st.edtl = rd || wr ? edtl : 0;

	if (!iscsi_cmd_parse_cdb(&t->st, bhs, ahs, ahs_len))
		t->fail = SCSI_SR_INVALID_FIELD_IN_CDB;
	else if (rd && wr)
		t->fail = SCSI_SR_INVALID_FIELD_IN_CDB; /* no bidi, see top */
	else if (t->st.edtl > SCSI_MAX_XFER_BYTES)
		t->fail = SCSI_SR_INVALID_FIELD_IN_CDB;
	else if (wr && len == t->st.edtl && len % 512 == 0 &&
		 ((uintptr_t)data & (ISCSI_TASK_BUF_ALIGN - 1)) == 0 &&
		 c->buf_bytes + len <= ISCSI_CONN_BUF_BUDGET) {
		/* all the data came as immediate data into a buffer made to
		 * be the task's (conn.c): adopt it, no copy */
		t->st.buf = data;
		t->buf_size = len;
		c->buf_bytes += len;
		*datap = NULL;
	} else if (t->st.edtl) {
		void *buf = NULL;
		size_t sz = (t->st.edtl + 511u) & ~511u;

		/* back-pressure, not failure: over this connection's buffer
		 * budget or out of memory, the window shrinks and the command
		 * gets TASK SET FULL (SAM-5 5.3.1) for the initiator to retry */
		if (c->buf_bytes + sz > ISCSI_CONN_BUF_BUDGET ||
		    posix_memalign(&buf, ISCSI_TASK_BUF_ALIGN, sz) != 0) {
			iscsi_cmdsn_throttle(&c->sess->win);
			t->fail = SCSI_SR_TASK_SET_FULL;
		} else {
			/* the core fills data_len bytes; only those are sent */
			t->st.buf = buf;
			t->buf_size = sz;
			c->buf_bytes += sz;
		}
	}

	if (!wr) {
		if (t->fail != SCSI_SR_OK)
			iscsi_cmd_fail(t, t->fail);
		else
			iscsi_cmd_submit(t);
		return;
	}

	/* write: immediate data, then unsolicited Data-Out, then R2Ts */
	t->imm_len = len;
	if (len && t->st.buf && t->st.buf != data)
		memcpy(t->st.buf, data, len);
	t->unsol_rcvd = len;
	if (final || prm->initial_r2t) {
		t->unsol_end = len;
	} else {
		t->unsol_end = edtl < prm->first_burst ? edtl : prm->first_burst;
		if (t->unsol_end < len)
			t->unsol_end = len;
	}
	t->unsol_done = t->unsol_rcvd >= t->unsol_end;
	t->r2t_next = t->unsol_end;
	iscsi_cmd_progress(t);
}
