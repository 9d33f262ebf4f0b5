/*
 * iSCSI sessions: the registry (TSIH allocation, session reinstatement,
 * RFC 7143 6.3.5), the I_T nexus each normal session owns, the CmdSN
 * window that orders commands (4.2.2.1), and the non-SCSI requests of full
 * feature phase: NOP-Out (11.18), Text (11.10) and Logout (11.14).
 *
 * MaxConnections is 1, so a session has exactly one connection and lives
 * on that connection's loop. The registry is shared by every loop and is
 * locked; it is only used at login, reinstatement and teardown. SCSI
 * commands and task management are handed to cmd.c and tmf.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "iscsi/runtime.h"
#include "iscsi/text.h"

/* A PDU held because its CmdSN is ahead of ExpCmdSN. */
struct iscsi_held_pdu {
	struct list_head link;
	uint32_t cmdsn;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t *ahs;
	uint32_t ahs_len;
	uint8_t *data;
	uint32_t data_len;
	bool aborted;        /* consumes its CmdSN, never runs (11.5.1) */
};

/* ------------------------------------------------------------------ */
/* registry */

static void iscsi_session_free_locked(struct iscsi_session *s)
{
	if (s->registered) {
		list_del(&s->reg_link);
		s->registered = false;
	}
	free(s);
}

static void iscsi_session_unref_locked(struct iscsi_session *s)
{
	if (--s->refs == 0)
		iscsi_session_free_locked(s);
}

void iscsi_session_put(struct iscsi_session *s)
{
	pthread_mutex_lock(&iscsi_fabric.lock);
	iscsi_session_unref_locked(s);
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

bool iscsi_session_is_dead(struct iscsi_session *s)
{
	bool dead;

	pthread_mutex_lock(&iscsi_fabric.lock);
	dead = s->dead;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	return dead;
}

static struct iscsi_session *iscsi_session_find_tsih_locked(uint16_t tsih)
{
	struct iscsi_session *s;

	list_for_each_entry(s, &iscsi_fabric.sessions, reg_link)
		if (s->tsih == tsih)
			return s;
	return NULL;
}

static uint16_t iscsi_session_alloc_tsih_locked(void)
{
	unsigned tries;

	for (tries = 0; tries < 65536; tries++) {
		uint16_t t = iscsi_fabric.next_tsih++;

		if (t == 0)
			continue;
		if (!iscsi_session_find_tsih_locked(t))
			return t;
	}
	return 0;
}

/* Runs on s->loop: closes the session's connection (reinstatement by a
 * login elsewhere, a cold reset on another session, shutdown). */
static void iscsi_session_remote_close(void *arg)
{
	struct iscsi_session *s = arg;

	if (s->conn)
		iscsi_conn_close(s->conn, "session closed from elsewhere");
	iscsi_session_put(s);
}

/* Posts a close to s's loop; takes its own reference. Lock held. */
static int iscsi_session_post_close_locked(struct iscsi_session *s)
{
	int rc;

	s->refs++;
	rc = base_loop_post(s->loop, iscsi_session_remote_close, s);
	if (rc < 0)
		s->refs--;
	else
		s->close_posted = true;
	return rc;
}

void iscsi_session_close_target(const struct iscsi_target_config *t,
				const struct iscsi_session *except)
{
	struct iscsi_session *s;

	pthread_mutex_lock(&iscsi_fabric.lock);
	list_for_each_entry(s, &iscsi_fabric.sessions, reg_link) {
		if (s == except || s->close_posted || s->dead ||
		    s->target != t)
			continue;
		if (iscsi_session_post_close_locked(s) < 0)
			LOG_WARN("iscsi: cannot post a session close");
	}
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

/* login.h bind_session: RFC 7143 6.3.5 (reinstatement) and 11.12.5. */
uint16_t iscsi_session_bind(void *arg, const struct iscsi_login_result *r,
			    uint16_t *tsih)
{
	struct iscsi_conn *c = arg;
	struct iscsi_session *s, *old = NULL;
	uint16_t status = ISCSI_LS_SUCCESS;

	if (c->sess)
		return ISCSI_LS_TARGET_ERROR; /* bound twice */
	s = calloc(1, sizeof(*s));
	if (!s)
		return ISCSI_LS_OUT_OF_RESOURCES;

	pthread_mutex_lock(&iscsi_fabric.lock);
	if (iscsi_fabric.shutting_down) {
		status = ISCSI_LS_SERVICE_UNAVAILABLE;
		goto out_fail;
	}
	if (r->type == ISCSI_SESSION_NORMAL &&
	    (!r->target || !r->tpg ||
	     !iscsi_fabric_acl_allows(r->target, r->initiator_name))) {
		status = r->target ? ISCSI_LS_AUTHORIZATION_FAILED :
				     ISCSI_LS_NOT_FOUND;
		goto out_fail;
	}
	if (r->tsih != 0) {
		/* Adding a connection to a session: MaxConnections=1. */
		status = iscsi_session_find_tsih_locked(r->tsih) ?
				 ISCSI_LS_TOO_MANY_CONNECTIONS :
				 ISCSI_LS_SESSION_DOES_NOT_EXIST;
		goto out_fail;
	}
	if (r->type == ISCSI_SESSION_NORMAL) {
		struct iscsi_session *o;

		list_for_each_entry(o, &iscsi_fabric.sessions, reg_link) {
			/* same initiator port through the same TPG only:
			 * another TPG is another session (RFC 7143 4.4.3) */
			if (o->type == ISCSI_SESSION_NORMAL && !o->dead &&
			    iscsi_login_same_session(r, o->initiator, o->isid,
						     o->target, o->tpg)) {
				old = o;
				break;
			}
		}
	}
	s->tsih = iscsi_session_alloc_tsih_locked();
	if (s->tsih == 0) {
		status = ISCSI_LS_OUT_OF_RESOURCES;
		goto out_fail;
	}
	if (old) {
		/* Reinstatement: the old session is closed on its own loop;
		 * the new login answers once its nexus is gone (conn.c). */
		LOG_INFO("iscsi %s: reinstating session tsih %u of %s",
			 c->peer, old->tsih, old->initiator);
		if (iscsi_session_post_close_locked(old) < 0) {
			status = ISCSI_LS_OUT_OF_RESOURCES;
			goto out_fail;
		}
		old->refs++;
		c->reinstating = old;
		list_del(&old->reg_link);
		old->registered = false;
	}
	s->refs = 1; /* the connection's */
	s->conn = c;
	s->loop = c->loop;
	s->type = r->type;
	snprintf(s->initiator, sizeof(s->initiator), "%s", r->initiator_name);
	memcpy(s->isid, r->isid, 6);
	s->target = r->target;
	s->tpg = r->tpg;
	iscsi_cmdsn_init(&s->win, r->cmdsn, iscsi_fabric.g.max_cmds_per_session);
	/* late Data-Out of every command the window admits (ended.h) */
	iscsi_ended_fini(&c->ended);
	iscsi_ended_init(&c->ended,
			 iscsi_ended_cap(iscsi_fabric.g.max_cmds_per_session));
	list_add_tail(&iscsi_fabric.sessions, &s->reg_link);
	s->registered = true;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	c->sess = s;
	*tsih = s->tsih;
	return ISCSI_LS_SUCCESS;

out_fail:
	pthread_mutex_unlock(&iscsi_fabric.lock);
	free(s);
	LOG_INFO("iscsi %s: session refused, status 0x%04x", c->peer, status);
	return status;
}

/* scsi.h abort_unsubmitted: the core says whether to answer. */
static unsigned iscsi_session_abort_unsubmitted(struct scsi_nexus *n,
						int lun_id, bool quiet)
{
	struct iscsi_session *s = scsi_nexus_fabric_priv(n);

	if (!s || !s->conn)
		return 0;
	return iscsi_cmd_abort_unsubmitted(s->conn, lun_id, lun_id < 0, quiet);
}

static const struct scsi_fabric_ops iscsi_session_fabric_ops = {
	.abort_unsubmitted = iscsi_session_abort_unsubmitted,
};

int iscsi_session_start(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;
	int rc;

	if (s->type != ISCSI_SESSION_NORMAL)
		return 0;
	rc = scsi_nexus_create(s->tpg->tport, s->initiator, s->isid, s->loop,
			       &iscsi_session_fabric_ops, s, &s->nexus);
	if (rc < 0) {
		LOG_ERR("iscsi %s: scsi_nexus_create: %s", c->peer,
			strerror(-rc));
		s->nexus = NULL;
		return rc;
	}
	return 0;
}

void iscsi_session_release(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;

	if (!s)
		return;
	c->sess = NULL;
	if (s->nexus) {
		/* I_T nexus loss (SAM-5 6.3.4): no task is outstanding. */
		scsi_nexus_destroy(s->nexus);
		s->nexus = NULL;
	}
	LOG_INFO("iscsi %s: session tsih %u ended", c->peer, s->tsih);
	pthread_mutex_lock(&iscsi_fabric.lock);
	s->dead = true;
	s->conn = NULL;
	if (s->registered) {
		list_del(&s->reg_link);
		s->registered = false;
	}
	iscsi_session_unref_locked(s);
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

uint32_t iscsi_session_max_cmdsn(struct iscsi_session *s)
{
	return iscsi_cmdsn_max(&s->win);
}

void iscsi_session_cmd_complete(struct iscsi_session *s)
{
	iscsi_cmdsn_complete(&s->win);
}

/* ------------------------------------------------------------------ */
/* NOP-Out (RFC 7143 11.18) */

static void iscsi_session_nop_out(struct iscsi_conn *c, const uint8_t *bhs,
				  uint8_t *data, uint32_t len)
{
	uint32_t itt = iscsi_bhs_itt(bhs);
	uint32_t ttt = iscsi_bhs_word20(bhs);
	struct iscsi_txpdu *p;

	if (ttt != ISCSI_RSVD_TAG) {
		/* An answer to our ping (11.19). */
		if (ttt == c->ping_ttt)
			c->ping_ttt = ISCSI_RSVD_TAG;
		free(data);
		return;
	}
	if (itt == ISCSI_RSVD_TAG) {
		free(data); /* a one-way ping: no answer */
		return;
	}
	p = iscsi_txpdu_alloc(c);
	if (!p) {
		free(data);
		iscsi_conn_close(c, "no memory for NOP-In");
		return;
	}
	p->bhs[0] = ISCSI_OP_NOP_IN;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	memcpy(p->bhs + 8, bhs + 8, 8); /* LUN echoed */
	iscsi_bhs_set_itt(p->bhs, itt);
	iscsi_put_be32(p->bhs + 20, ISCSI_RSVD_TAG);
	p->status = true;
	/* ping data echoed, at most what the initiator accepts */
	if (len > c->params.max_xmit_dsl)
		len = c->params.max_xmit_dsl;
	p->data = data;
	p->data_len = data ? len : 0;
	p->free_data = true;
	iscsi_conn_queue(c, p);
}

/* ------------------------------------------------------------------ */
/* Text (RFC 7143 11.10, 11.11) */

static int iscsi_session_text_visible(void *arg,
				      const struct iscsi_target_config *t)
{
	struct iscsi_conn *c = arg;

	return c->sess && iscsi_fabric_acl_allows(t, c->sess->initiator);
}

static void iscsi_session_text_send(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);
	uint32_t left = c->text_rsp_len - c->text_rsp_off;
	uint32_t n = left < c->params.max_xmit_dsl ? left :
						      c->params.max_xmit_dsl;
	uint8_t *chunk = n ? malloc(n) : NULL;

	if (!p || (n && !chunk)) {
		free(p);
		free(chunk);
		iscsi_conn_close(c, "no memory for a text response");
		return;
	}
	if (n)
		memcpy(chunk, c->text_rsp + c->text_rsp_off, n);
	c->text_rsp_off += n;
	p->bhs[0] = ISCSI_OP_TEXT_RSP;
	iscsi_bhs_set_itt(p->bhs, itt);
	if (c->text_rsp_off < c->text_rsp_len) {
		/* more to come: C=1, a TTT the initiator echoes (11.11.2) */
		p->bhs[1] = ISCSI_TEXT_FLAG_CONTINUE;
		c->next_ttt++;
		if (c->next_ttt == ISCSI_RSVD_TAG)
			c->next_ttt = 1;
		c->text_ttt = c->next_ttt;
		c->text_itt = itt;
	} else {
		p->bhs[1] = ISCSI_FLAG_FINAL;
		c->text_ttt = ISCSI_RSVD_TAG;
		free(c->text_rsp);
		c->text_rsp = NULL;
		c->text_rsp_len = c->text_rsp_off = 0;
	}
	iscsi_put_be32(p->bhs + 20, c->text_ttt);
	p->data = chunk;
	p->data_len = n;
	p->free_data = true;
	p->status = true;
	iscsi_conn_queue(c, p);
}

static void iscsi_session_text_continue(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);

	if (!p) {
		iscsi_conn_close(c, "no memory for a text response");
		return;
	}
	c->next_ttt++;
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt = 1;
	c->text_ttt = c->next_ttt;
	p->bhs[0] = ISCSI_OP_TEXT_RSP;
	iscsi_bhs_set_itt(p->bhs, itt);
	iscsi_put_be32(p->bhs + 20, c->text_ttt);
	p->status = true;
	iscsi_conn_queue(c, p);
}

static void iscsi_session_text(struct iscsi_conn *c, const uint8_t *bhs,
			       uint8_t *data, uint32_t len)
{
	uint32_t itt = iscsi_bhs_itt(bhs);
	uint32_t ttt = iscsi_bhs_word20(bhs);
	bool more = iscsi_bhs_flags(bhs) & ISCSI_TEXT_FLAG_CONTINUE;
	struct iscsi_kv_buf kv = { 0 };
	int rc;

	if (ttt != ISCSI_RSVD_TAG && c->text_rsp) {
		/* the initiator asks for the next part of our response */
		free(data);
		if (ttt != c->text_ttt) {
			iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
			return;
		}
		iscsi_session_text_send(c, itt);
		return;
	}
	if (ttt == ISCSI_RSVD_TAG) {
		/* a new exchange resets any earlier one (11.10.4) */
		free(c->text_rsp);
		c->text_rsp = NULL;
		c->text_rsp_len = c->text_rsp_off = 0;
		free(c->text_req);
		c->text_req = NULL;
		c->text_req_len = 0;
	} else if (!c->text_req || ttt != c->text_ttt) {
		/* a TTT that continues nothing of ours */
		free(data);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return;
	}
	if (c->text_req_len + len > ISCSI_TEXT_MAX_BYTES) {
		free(data);
		free(c->text_req);
		c->text_req = NULL;
		c->text_req_len = 0;
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	if (len) {
		uint8_t *n = realloc(c->text_req, c->text_req_len + len);

		if (!n) {
			free(data);
			iscsi_conn_close(c, "no memory for a text request");
			return;
		}
		memcpy(n + c->text_req_len, data, len);
		c->text_req = n;
		c->text_req_len += len;
	}
	free(data);
	c->text_itt = itt;
	if (more) {
		/* The request continues (C=1): an empty response with F=0
		 * and a TTT the next part echoes (RFC 7143 11.10.2, 11.11). */
		if (!c->text_req) {
			c->text_req = malloc(1); /* mark "collecting" */
			if (!c->text_req) {
				iscsi_conn_close(c, "no memory for a text request");
				return;
			}
		}
		iscsi_session_text_continue(c, itt);
		return;
	}

	pthread_mutex_lock(&iscsi_fabric.lock);
	rc = iscsi_text_sendtargets_local(
		c->text_req, c->text_req_len,
		(const struct iscsi_target_config *const *)iscsi_fabric.targets,
		iscsi_fabric.n_targets, c->sess->target,
		iscsi_session_text_visible, c, c->local_addr, &kv);
	pthread_mutex_unlock(&iscsi_fabric.lock);
	free(c->text_req);
	c->text_req = NULL;
	c->text_req_len = 0;
	if (rc < 0 || kv.oom) {
		/* no SendTargets key (or no memory): an empty response */
		free(kv.data);
		kv.data = NULL;
		kv.len = 0;
	}
	c->text_rsp = (uint8_t *)kv.data;
	c->text_rsp_len = kv.len;
	c->text_rsp_off = 0;
	iscsi_session_text_send(c, itt);
}

/* ------------------------------------------------------------------ */
/* Logout (RFC 7143 11.14, 11.15) */

#define ISCSI_LOGOUT_CLOSE_SESSION 0
#define ISCSI_LOGOUT_CLOSE_CONN 1
#define ISCSI_LOGOUT_RECOVERY 2

static void iscsi_session_logout(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint8_t reason = bhs[1] & 0x7f;
	uint16_t cid = iscsi_get_be16(bhs + 20);
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);
	uint8_t response;

	if (!p) {
		iscsi_conn_close(c, "no memory for a logout response");
		return;
	}
	switch (reason) {
	case ISCSI_LOGOUT_CLOSE_SESSION:
		response = 0; /* closed successfully */
		break;
	case ISCSI_LOGOUT_CLOSE_CONN:
		response = cid == c->cid ? 0 : 1; /* 1: CID not found */
		break;
	case ISCSI_LOGOUT_RECOVERY:
		response = 2; /* connection recovery is not supported (ERL0) */
		break;
	default:
		iscsi_txpdu_free(p);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return;
	}
	LOG_INFO("iscsi %s: logout reason %u, response %u", c->peer, reason,
		 response);
	p->bhs[0] = ISCSI_OP_LOGOUT_RSP;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	p->bhs[2] = response;
	iscsi_bhs_set_itt(p->bhs, iscsi_bhs_itt(bhs));
	/* Time2Wait / Time2Retain 0: nothing to recover at ERL0 (11.15.2) */
	p->status = true;
	iscsi_conn_queue(c, p);
	if (response == 0)
		iscsi_conn_close_after_tx(c);
}

/* ------------------------------------------------------------------ */
/* the CmdSN window (RFC 7143 4.2.2.1, 3.2.2.1 ordering) */

static void iscsi_session_dispatch(struct iscsi_conn *c, const uint8_t *bhs,
				   const uint8_t *ahs, uint32_t ahs_len,
				   uint8_t *data, uint32_t len, bool counted)
{
	struct iscsi_session *s = c->sess;

	switch (iscsi_bhs_opcode(bhs)) {
	case ISCSI_OP_SCSI_CMD:
		iscsi_cmd_rx(c, bhs, ahs, ahs_len, &data, len, counted);
		free(data);
		return; /* the task releases its window slot */
	case ISCSI_OP_TMF_REQ:
		free(data);
		iscsi_tmf_rx(c, bhs, counted);
		return;
	case ISCSI_OP_NOP_OUT:
		iscsi_session_nop_out(c, bhs, data, len);
		break;
	case ISCSI_OP_TEXT_REQ:
		iscsi_session_text(c, bhs, data, len);
		break;
	case ISCSI_OP_LOGOUT_REQ:
		free(data);
		iscsi_session_logout(c, bhs);
		break;
	default:
		free(data);
		break;
	}
	if (counted)
		iscsi_cmdsn_complete(&s->win);
}

static void iscsi_session_hold(struct iscsi_conn *c, const uint8_t *bhs,
			       const uint8_t *ahs, uint32_t ahs_len,
			       uint8_t *data, uint32_t len, uint32_t cmdsn)
{
	struct iscsi_held_pdu *h, *pos;

	list_for_each_entry(pos, &c->held, link) {
		if (pos->cmdsn == cmdsn) {
			free(data); /* a duplicate: ignore (4.2.2.1) */
			return;
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h || (ahs_len && !(h->ahs = malloc(ahs_len)))) {
		free(h);
		free(data);
		iscsi_conn_close(c, "no memory to hold a command");
		return;
	}
	h->cmdsn = cmdsn;
	memcpy(h->bhs, bhs, ISCSI_BHS_LEN);
	if (ahs_len)
		memcpy(h->ahs, ahs, ahs_len);
	h->ahs_len = ahs_len;
	h->data = data;
	h->data_len = len;
	/* sorted by CmdSN */
	list_for_each_entry(pos, &c->held, link) {
		if (iscsi_sn_lt(cmdsn, pos->cmdsn))
			break;
	}
	list_add_tail(&pos->link, &h->link);
	LOG_DEBUG("iscsi %s: holding CmdSN %u (expecting %u)", c->peer, cmdsn,
		  c->sess->win.exp_cmdsn);
}

void iscsi_session_drop_held(struct iscsi_conn *c)
{
	struct iscsi_held_pdu *h, *tmp;

	list_for_each_entry_safe(h, tmp, &c->held, link) {
		list_del(&h->link);
		free(h->ahs);
		free(h->data);
		free(h);
	}
}

/* Runs the held commands whose turn has come. */
static void iscsi_session_drain_held(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;

	while (c->state == ISCSI_CONN_FULL && !list_empty(&c->held)) {
		struct iscsi_held_pdu *h =
			list_first_entry(&c->held, struct iscsi_held_pdu, link);

		if (h->cmdsn != s->win.exp_cmdsn)
			break;
		list_del(&h->link);
		iscsi_cmdsn_accept(&s->win);
		if (h->aborted)
			iscsi_cmdsn_complete(&s->win);
		else
			iscsi_session_dispatch(c, h->bhs, h->ahs, h->ahs_len,
					       h->data, h->data_len, true);
		free(h->ahs);
		free(h);
	}
}

void iscsi_session_rx_pdu(struct iscsi_conn *c, const uint8_t *bhs,
			  const uint8_t *ahs, uint32_t ahs_len,
			  uint8_t *data, uint32_t data_len)
{
	struct iscsi_session *s = c->sess;
	uint8_t op = iscsi_bhs_opcode(bhs);
	uint32_t cmdsn = iscsi_bhs_cmdsn(bhs);
	bool imm = iscsi_bhs_immediate(bhs);

	c->exp_stat_sn = iscsi_bhs_expstatsn(bhs);
	if (s->type == ISCSI_SESSION_DISCOVERY && op != ISCSI_OP_TEXT_REQ &&
	    op != ISCSI_OP_NOP_OUT && op != ISCSI_OP_LOGOUT_REQ) {
		/* RFC 7143 4.3: discovery sessions carry only Text, NOP and
		 * Logout. */
		free(data);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	switch (iscsi_cmdsn_classify(&s->win, cmdsn, imm)) {
	case ISCSI_CMDSN_IMMEDIATE:
		iscsi_session_dispatch(c, bhs, ahs, ahs_len, data, data_len,
				       false);
		return;
	case ISCSI_CMDSN_DROP:
		LOG_DEBUG("iscsi %s: CmdSN %u outside [%u, %u]: dropped",
			  c->peer, cmdsn, s->win.exp_cmdsn, s->win.max_cmdsn);
		free(data);
		return;
	case ISCSI_CMDSN_QUEUE:
		iscsi_session_hold(c, bhs, ahs, ahs_len, data, data_len, cmdsn);
		return;
	case ISCSI_CMDSN_NEXT:
		break;
	}
	iscsi_cmdsn_accept(&s->win);
	iscsi_session_dispatch(c, bhs, ahs, ahs_len, data, data_len, true);
	iscsi_session_drain_held(c);
}

/* RFC 7143 11.5.1: ABORT TASK for a command we hold out of order: it keeps
 * its place in CmdSN order but will not run. */
bool iscsi_session_abort_held(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_held_pdu *h;

	list_for_each_entry(h, &c->held, link) {
		if (!h->aborted &&
		    iscsi_bhs_opcode(h->bhs) == ISCSI_OP_SCSI_CMD &&
		    iscsi_bhs_itt(h->bhs) == itt) {
			h->aborted = true;
			free(h->data);
			h->data = NULL;
			h->data_len = 0;
			return true;
		}
	}
	return false;
}

/* RFC 7143 11.5.1 a): ABORT TASK for a command not received yet whose
 * RefCmdSN is in the window: "consider the CmdSN as received". A
 * placeholder takes the CmdSN; the command itself, if it ever comes, is a
 * duplicate and dropped. */
void iscsi_session_skip_cmdsn(struct iscsi_conn *c, uint32_t cmdsn)
{
	struct iscsi_session *s = c->sess;
	struct iscsi_held_pdu *h, *pos;

	if (iscsi_cmdsn_classify(&s->win, cmdsn, false) == ISCSI_CMDSN_DROP)
		return;
	list_for_each_entry(pos, &c->held, link)
		if (pos->cmdsn == cmdsn)
			return;
	h = calloc(1, sizeof(*h));
	if (!h)
		return; /* the command, if it comes, simply runs */
	h->cmdsn = cmdsn;
	h->aborted = true;
	list_for_each_entry(pos, &c->held, link)
		if (iscsi_sn_lt(cmdsn, pos->cmdsn))
			break;
	list_add_tail(&pos->link, &h->link);
	iscsi_session_drain_held(c);
}
