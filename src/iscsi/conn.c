/*
 * One iSCSI connection: the receive state machine (BHS -> AHS -> header
 * digest -> data -> pad -> data digest, RFC 7143 11.2) with a read-ahead
 * buffer and in-place Data-Out, the login phase driver, the NOP-In ping
 * timer, and the connection's life from accept to free.
 *
 * It does not interpret full-feature PDUs: those go to session.c (CmdSN
 * window, NOP, Text, Logout), cmd.c (SCSI commands and Data-Out) and tmf.c;
 * sending is conn_tx.c's. Closing happens in exactly one place,
 * iscsi_conn_close(); the memory is released later from a deferred reap,
 * once every task the SCSI core holds has come back through its done().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "iscsi/runtime.h"

#define ISCSI_CONN_TICK_MS 1000u
#define ISCSI_CONN_REINSTATE_POLL_MS 5u
#define ISCSI_CONN_RX_BUDGET 32u /* PDUs per readiness callback */
#define ISCSI_CONN_LOGOUT_GRACE_S 2u /* shutdown: time to log out */
#define ISCSI_ASYNC_LOGOUT_REQUEST 1 /* RFC 7143 11.9.1 AsyncEvent */
#define ISCSI_CONN_STAGE_BYTES ISCSI_CONN_STAGE_SIZE

/* RFC 7143 11.1 + RFC 3720 B.4: the CRC32C goes least significant byte
 * first (base/crc32c.h). */
static uint32_t iscsi_conn_get_digest(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------------ */
/* teardown */

static void iscsi_conn_reap_cb(struct base_defer *d)
{
	struct iscsi_conn *c = container_of(d, struct iscsi_conn, reap);

	if (c->n_submitted || c->n_tmfs || !list_empty(&c->tasks))
		return; /* the last done() calls iscsi_conn_maybe_reap() */
	if (c->tx_defer.queued || c->rx_defer.queued) {
		base_defer(c->loop, d); /* after it, never before */
		return;
	}
	iscsi_session_release(c);
	list_del(&c->loop_link);
	if (c->bfd.fd >= 0)
		close(c->bfd.fd);
	LOG_INFO("iscsi %s: connection freed", c->peer);
	free(c->rx_data);
	free(c->stage);
	iscsi_ended_fini(&c->ended);
	free(c);
	pthread_mutex_lock(&iscsi_fabric.lock);
	iscsi_fabric_conn_gone_locked();
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

void iscsi_conn_maybe_reap(struct iscsi_conn *c)
{
	if (c->state == ISCSI_CONN_CLOSING)
		base_defer(c->loop, &c->reap);
}

void iscsi_conn_close(struct iscsi_conn *c, const char *why)
{
	struct iscsi_txpdu *p, *tmp;

	if (c->state == ISCSI_CONN_CLOSING)
		return;
	LOG_INFO("iscsi %s: closing connection: %s", c->peer, why);
	c->state = ISCSI_CONN_CLOSING;
	if (c->bfd.fd >= 0) {
		base_loop_del(c->loop, &c->bfd);
		shutdown(c->bfd.fd, SHUT_RDWR);
	}
	base_timer_stop(c->loop, &c->timer);
	list_for_each_entry_safe(p, tmp, &c->txq, link) {
		list_del(&p->link);
		iscsi_txpdu_free(p);
	}
	if (c->held_login_rsp) {
		iscsi_txpdu_free(c->held_login_rsp);
		c->held_login_rsp = NULL;
	}
	if (c->reinstating) {
		iscsi_session_put(c->reinstating);
		c->reinstating = NULL;
	}
	if (c->login) {
		iscsi_login_destroy(c->login);
		c->login = NULL;
	}
	iscsi_session_drop_held(c);
	free(c->text_req);
	free(c->text_rsp);
	c->text_req = c->text_rsp = NULL;
	/* Tasks still waiting for Data-Out never reached the core; tasks
	 * with the core are freed by their done() (RFC 7143 6.3.5.1). */
	iscsi_cmd_abort_unsubmitted(c, -1, true, true);
	if (c->rx_task) {
		struct iscsi_task *t = c->rx_task;

		c->rx_task = NULL;
		c->rx_dest = NULL;
		iscsi_task_put(t);
	}
	base_defer(c->loop, &c->reap);
}

/* Shutdown: ask the initiator to log out (RFC 7143 11.9.1, AsyncEvent 1)
 * and close anyway once the grace period is over (timer). */
static void iscsi_conn_request_logout(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);

	if (!p) {
		iscsi_conn_close(c, "target shutting down");
		return;
	}
	p->bhs[0] = ISCSI_OP_ASYNC_MSG;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	iscsi_bhs_set_itt(p->bhs, ISCSI_RSVD_TAG);
	p->bhs[36] = ISCSI_ASYNC_LOGOUT_REQUEST;
	iscsi_put_be16(p->bhs + 42, ISCSI_CONN_LOGOUT_GRACE_S); /* Parameter3 */
	p->status = true;
	iscsi_conn_queue(c, p);
	c->logout_deadline_ms = base_now_ms() + ISCSI_CONN_LOGOUT_GRACE_S * 1000u;
	LOG_INFO("iscsi %s: asked the initiator to log out", c->peer);
}

void iscsi_conn_close_loop(void *arg)
{
	struct iscsi_loop_ctx *lctx = arg;
	struct iscsi_conn *c, *tmp;

	list_for_each_entry_safe(c, tmp, &lctx->conns, loop_link) {
		if (c->state == ISCSI_CONN_FULL && c->sess &&
		    c->sess->type == ISCSI_SESSION_NORMAL)
			iscsi_conn_request_logout(c);
		else
			iscsi_conn_close(c, "target shutting down");
	}
	pthread_mutex_lock(&iscsi_fabric.lock);
	iscsi_fabric.n_loop_posts--;
	pthread_cond_broadcast(&iscsi_fabric.cond);
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

/* ------------------------------------------------------------------ */
/* login phase */

static const struct iscsi_target_config *iscsi_conn_find_target(
	void *arg, const char *name, const struct iscsi_tpg_config **tpg)
{
	struct iscsi_conn *c = arg;
	const struct iscsi_target_config *found = NULL;
	unsigned i, j, k;

	pthread_mutex_lock(&iscsi_fabric.lock);
	for (i = 0; i < iscsi_fabric.n_targets && !found; i++) {
		const struct iscsi_target_config *t = iscsi_fabric.targets[i];

		if (strcasecmp(t->name, name) != 0)
			continue;
		for (j = 0; j < t->n_tpgs && !found; j++) {
			const struct iscsi_tpg_config *g = &t->tpgs[j];

			for (k = 0; k < g->n_portals; k++) {
				if (g->portals[k].port == c->portal_port &&
				    strcmp(g->portals[k].addr,
					   c->portal_addr) == 0) {
					found = t;
					*tpg = g;
					break;
				}
			}
		}
	}
	pthread_mutex_unlock(&iscsi_fabric.lock);
	return found;
}

/* Login done and the session bound: enter full feature phase. */
static void iscsi_conn_enter_ffp(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p = c->held_login_rsp;

	c->held_login_rsp = NULL;
	if (iscsi_session_start(c) < 0) {
		if (p)
			iscsi_txpdu_free(p);
		iscsi_conn_close(c, "cannot create the I_T nexus");
		return;
	}
	c->state = ISCSI_CONN_FULL;
	if (p) {
		/* The final login response advertises the session's window. */
		iscsi_put_be32(p->bhs + 28, c->sess->win.exp_cmdsn);
		iscsi_put_be32(p->bhs + 32, iscsi_session_max_cmdsn(c->sess));
		iscsi_conn_queue(c, p);
	}
	LOG_INFO("iscsi %s: full feature phase, %s session tsih %u", c->peer,
		 c->sess->type == ISCSI_SESSION_DISCOVERY ? "discovery" :
							     "normal",
		 c->sess->tsih);
}

static void iscsi_conn_rx_login(struct iscsi_conn *c, uint8_t *data,
				uint32_t len)
{
	struct iscsi_pdu req, rsp;
	struct iscsi_txpdu *p;
	enum iscsi_login_step step;
	bool first = !c->login;

	if (iscsi_bhs_opcode(c->rx_bhs) != ISCSI_OP_LOGIN_REQ) {
		/* RFC 7143 6.2: only Login Requests before full feature */
		free(data);
		iscsi_conn_close(c, "non-login PDU during login");
		return;
	}
	if (first) {
		c->login_env.find_target = iscsi_conn_find_target;
		c->login_env.portal_tpgt = c->portal_tpgt;
		c->login_env.bind_session = iscsi_session_bind;
		c->login_env.arg = c;
		c->login_env.global = &iscsi_fabric.g;
		if (iscsi_login_create(&c->login_env, &c->login) < 0) {
			free(data);
			iscsi_conn_close(c, "no memory for login");
			return;
		}
		/* RFC 7143 11.13.4: the first response's StatSN starts the
		 * connection's numbering; we follow the initiator's guess. */
		c->stat_sn = iscsi_bhs_expstatsn(c->rx_bhs);
		c->cid = iscsi_get_be16(c->rx_bhs + 20);
	}
	memset(&req, 0, sizeof(req));
	memset(&rsp, 0, sizeof(rsp));
	memcpy(req.bhs, c->rx_bhs, ISCSI_BHS_LEN);
	req.data = data;
	req.data_len = len;
	step = iscsi_login_step(c->login, &req, &rsp);
	free(data);
	if (c->state == ISCSI_CONN_CLOSING) {
		free(rsp.data);
		return;
	}
	p = iscsi_txpdu_alloc(c);
	if (!p) {
		free(rsp.data);
		iscsi_conn_close(c, "no memory for login response");
		return;
	}
	memcpy(p->bhs, rsp.bhs, ISCSI_BHS_LEN);
	p->data = rsp.data;
	p->data_len = rsp.data_len;
	p->free_data = true;
	p->fill_sn = false;
	iscsi_put_be32(p->bhs + 24, c->stat_sn++);

	switch (step) {
	case ISCSI_LOGIN_CONTINUE:
		iscsi_conn_queue(c, p);
		break;
	case ISCSI_LOGIN_FAIL:
		LOG_INFO("iscsi %s: login failed, status 0x%04x", c->peer,
			 iscsi_get_be16(p->bhs + 36));
		iscsi_conn_queue(c, p);
		iscsi_conn_close_after_tx(c);
		break;
	case ISCSI_LOGIN_DONE: {
		const struct iscsi_login_result *r =
			iscsi_login_result(c->login);

		if (!c->sess) {
			/* login.c reached DONE without bind_session */
			iscsi_txpdu_free(p);
			iscsi_conn_close(c, "login done without a session");
			return;
		}
		c->params = r->params;
		c->held_login_rsp = p;
		/* Digests start with the first PDU after the final login
		 * response (RFC 7143 13.1); that response is already built
		 * without them. */
		c->tx_hdig = c->rx_hdig = r->params.header_digest;
		c->tx_ddig = c->rx_ddig = r->params.data_digest;
		c->rx_max_dsl = r->params.max_recv_dsl;
		if (c->rx_max_dsl < 512)
			c->rx_max_dsl = 512;
		if (c->rx_max_dsl > ISCSI_MAX_DSL_CAP)
			c->rx_max_dsl = ISCSI_MAX_DSL_CAP;
		if (c->params.max_xmit_dsl < 512)
			c->params.max_xmit_dsl = 512;
		if (c->params.max_xmit_dsl > ISCSI_MAX_DSL_CAP)
			c->params.max_xmit_dsl = ISCSI_MAX_DSL_CAP;
		if (c->params.max_burst < 512)
			c->params.max_burst = 512;
		if (c->params.max_outstanding_r2t == 0)
			c->params.max_outstanding_r2t = 1;
		iscsi_login_destroy(c->login);
		c->login = NULL;
		if (c->reinstating) {
			/* RFC 7143 6.3.5: the old session is cleaned up (I_T
			 * nexus loss) before the new one answers. */
			c->state = ISCSI_CONN_REINSTATE_WAIT;
			base_timer_stop(c->loop, &c->timer);
			base_timer_start(c->loop, &c->timer,
					 ISCSI_CONN_REINSTATE_POLL_MS);
			return;
		}
		iscsi_conn_enter_ffp(c);
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/* receive */

static void iscsi_conn_rx_pdu(struct iscsi_conn *c, uint8_t *data,
			      uint32_t len, bool ddig_err)
{
	const uint8_t *bhs = c->rx_bhs;
	uint8_t op = iscsi_bhs_opcode(bhs);

	LOG_DEBUG("iscsi %s: rx op 0x%02x itt 0x%08x dsl %u", c->peer, op,
		  iscsi_bhs_itt(bhs), len);
	if (c->state == ISCSI_CONN_LOGIN) {
		if (ddig_err) {
			free(data);
			iscsi_conn_close(c, "data digest error in login");
			return;
		}
		iscsi_conn_rx_login(c, data, len);
		return;
	}
	if (c->state != ISCSI_CONN_FULL) {
		/* REINSTATE_WAIT: the initiator may not send before the final
		 * login response (RFC 7143 6.2). */
		free(data);
		iscsi_conn_close(c, "PDU before the login response");
		return;
	}
	if (c->rx_reject) {
		free(data);
		iscsi_conn_reject(c, bhs, (enum iscsi_reject_reason)c->rx_reject);
		return;
	}
	if (op == ISCSI_OP_DATA_OUT) {
		iscsi_cmd_rx_data_out(c, bhs, data, len, ddig_err);
		free(data);
		return;
	}
	if (ddig_err) {
		/* RFC 7143 7.8: reject with Data-Digest-Error and discard.
		 * At ERL0 a discarded command leaves a CmdSN hole nothing can
		 * fill, so the connection goes too (6.1.5, session recovery). */
		free(data);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_DIGEST_ERROR);
		iscsi_conn_close_after_tx(c);
		return;
	}
	switch (op) {
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
		iscsi_session_rx_pdu(c, bhs, c->rx_ahs, c->rx_ahs_len, data,
				     len);
		return;
	default:
		/* not reached: iscsi_pdu_check_ffp() refused it already */
		free(data);
		iscsi_conn_reject(c, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return;
	}
}

/* Copies into buf until want bytes are there: first from the staging
 * buffer, then with one large read() into it for small parts (BHS,
 * digests, short data), or straight into buf for large data segments so
 * big writes are not copied twice. 1: complete, 0: EAGAIN, -1: closed. */
static int iscsi_conn_rx_fill(struct iscsi_conn *c, uint8_t *buf,
			      uint32_t want)
{
	while (c->rx_off < want) {
		uint32_t need = want - c->rx_off;
		uint8_t *dst;
		size_t len;
		ssize_t r;

		if (c->stage_pos < c->stage_len) {
			uint32_t n = c->stage_len - c->stage_pos;

			if (n > need)
				n = need;
			memcpy(buf + c->rx_off, c->stage + c->stage_pos, n);
			c->stage_pos += n;
			c->rx_off += n;
			continue;
		}
		if (need >= ISCSI_CONN_STAGE_BYTES / 2) {
			dst = buf + c->rx_off;
			len = need;
		} else {
			dst = c->stage;
			len = ISCSI_CONN_STAGE_BYTES;
		}
		r = read(c->bfd.fd, dst, len);
		if (r > 0) {
			if (dst == c->stage) {
				c->stage_pos = 0;
				c->stage_len = (uint32_t)r;
			} else {
				c->rx_off += (uint32_t)r;
			}
			continue;
		}
		if (r == 0) {
			iscsi_conn_close(c, "peer closed the connection");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		LOG_INFO("iscsi %s: read: %s", c->peer, strerror(errno));
		iscsi_conn_close(c, "read error");
		return -1;
	}
	c->rx_off = 0;
	return 1;
}

/* A buffer for this PDU's data segment. A write whose data all comes as
 * immediate data gets one fit to become the task's buffer (aligned for
 * O_DIRECT), so cmd.c adopts it instead of copying. */
static uint8_t *iscsi_conn_rx_alloc(struct iscsi_conn *c)
{
	const uint8_t *b = c->rx_bhs;
	void *p = NULL;

	if (c->state == ISCSI_CONN_FULL &&
	    iscsi_bhs_opcode(b) == ISCSI_OP_SCSI_CMD &&
	    (iscsi_bhs_flags(b) & (ISCSI_CMD_FLAG_WRITE | ISCSI_CMD_FLAG_READ)) ==
		    ISCSI_CMD_FLAG_WRITE &&
	    iscsi_bhs_word20(b) == c->rx_dsl && c->rx_dsl % 512 == 0) {
		if (posix_memalign(&p, ISCSI_TASK_BUF_ALIGN, c->rx_dsl) != 0)
			return NULL;
		return p;
	}
	return malloc(c->rx_dsl);
}

/* BHS complete: check what it announces before reading more. */
static bool iscsi_conn_rx_check_bhs(struct iscsi_conn *c)
{
	uint32_t dsl = iscsi_bhs_dsl(c->rx_bhs);
	uint32_t max = c->state == ISCSI_CONN_LOGIN ? ISCSI_LOGIN_MAX_DSL :
						      c->rx_max_dsl;

	c->rx_ahs_len = iscsi_bhs_ahs_len(c->rx_bhs);
	c->rx_dsl = dsl;
	c->rx_reject = 0;
	if (c->state == ISCSI_CONN_FULL && dsl <= max)
		/* opcode, AHS, SNACK at ERL0...: rejected once the PDU is
		 * read whole, so the stream stays in step */
		c->rx_reject = iscsi_pdu_check_ffp(c->rx_bhs, max, 0);
	if (dsl > max) {
		/* RFC 7143 13.12: the initiator exceeded our
		 * MaxRecvDataSegmentLength; we cannot resync the stream. */
		LOG_INFO("iscsi %s: data segment %u > %u", c->peer, dsl, max);
		if (c->state == ISCSI_CONN_LOGIN) {
			iscsi_conn_close(c, "oversized login PDU");
		} else {
			iscsi_conn_reject(c, c->rx_bhs,
					  ISCSI_REJECT_PROTOCOL_ERROR);
			iscsi_conn_close_after_tx(c);
		}
		return false;
	}
	return true;
}

static void iscsi_conn_rx(struct iscsi_conn *c)
{
	unsigned pdus = 0;

	for (;;) {
		int r = 1;

		/* Level-triggered epoll calls again: leave room for the other
		 * connections of this loop. */
		if (c->state == ISCSI_CONN_CLOSING || c->rx_stopped)
			return;
		if (pdus >= ISCSI_CONN_RX_BUDGET) {
			/* bytes already staged get no new epoll event */
			if (c->stage_pos < c->stage_len)
				base_defer(c->loop, &c->rx_defer);
			return;
		}
		switch (c->rx_state) {
		case ISCSI_RX_BHS:
			r = iscsi_conn_rx_fill(c, c->rx_bhs, ISCSI_BHS_LEN);
			if (r <= 0)
				return;
			c->last_rx_ms = base_now_ms();
			if (!iscsi_conn_rx_check_bhs(c))
				return;
			c->rx_state = ISCSI_RX_AHS;
			break;
		case ISCSI_RX_AHS:
			if (c->rx_ahs_len) {
				r = iscsi_conn_rx_fill(c, c->rx_ahs,
						       c->rx_ahs_len);
				if (r <= 0)
					return;
			}
			c->rx_state = ISCSI_RX_HDIGEST;
			break;
		case ISCSI_RX_HDIGEST:
			if (c->rx_hdig) {
				uint32_t crc;

				r = iscsi_conn_rx_fill(c, c->rx_digest,
						       ISCSI_DIGEST_LEN);
				if (r <= 0)
					return;
				crc = crc32c(0, c->rx_bhs, ISCSI_BHS_LEN);
				if (c->rx_ahs_len)
					crc = crc32c(crc, c->rx_ahs,
						     c->rx_ahs_len);
				if (crc != iscsi_conn_get_digest(c->rx_digest)) {
					/* RFC 7143 7.8: a header digest error
					 * at ERL0 drops the connection. */
					iscsi_conn_close(c, "header digest error");
					return;
				}
			}
			c->rx_state = ISCSI_RX_DATA;
			if (!c->rx_dsl)
				break;
			/* Data-Out goes straight into its task's buffer when
			 * the header fits the task (cmd.c checks it all again
			 * once the PDU is complete). */
			if (c->state == ISCSI_CONN_FULL && !c->rx_reject &&
			    iscsi_bhs_opcode(c->rx_bhs) == ISCSI_OP_DATA_OUT)
				c->rx_dest = iscsi_cmd_data_out_dest(
					c, c->rx_bhs, c->rx_dsl, &c->rx_task);
			if (!c->rx_task) {
				free(c->rx_data);
				c->rx_data = iscsi_conn_rx_alloc(c);
				if (!c->rx_data) {
					iscsi_conn_close(c, "no memory for rx");
					return;
				}
				c->rx_dest = c->rx_data;
			}
			break;
		case ISCSI_RX_DATA:
			if (c->rx_dsl) {
				r = iscsi_conn_rx_fill(c, c->rx_dest, c->rx_dsl);
				if (r <= 0)
					return;
			}
			c->rx_state = ISCSI_RX_PAD;
			break;
		case ISCSI_RX_PAD:
			if (iscsi_pad4(c->rx_dsl) != c->rx_dsl) {
				r = iscsi_conn_rx_fill(c, c->rx_pad,
						       iscsi_pad4(c->rx_dsl) -
							       c->rx_dsl);
				if (r <= 0)
					return;
			}
			c->rx_state = ISCSI_RX_DDIGEST;
			break;
		case ISCSI_RX_DDIGEST: {
			bool bad = false;
			uint8_t *data;

			if (c->rx_ddig && c->rx_dsl) {
				uint32_t crc;

				r = iscsi_conn_rx_fill(c, c->rx_digest,
						       ISCSI_DIGEST_LEN);
				if (r <= 0)
					return;
				crc = crc32c(0, c->rx_dest, c->rx_dsl);
				if (iscsi_pad4(c->rx_dsl) != c->rx_dsl)
					crc = crc32c(crc, c->rx_pad,
						     iscsi_pad4(c->rx_dsl) -
							     c->rx_dsl);
				bad = crc != iscsi_conn_get_digest(c->rx_digest);
			}
			c->rx_state = ISCSI_RX_BHS;
			pdus++;
			if (c->rx_task) {
				struct iscsi_task *t = c->rx_task;

				LOG_DEBUG("iscsi %s: rx Data-Out itt 0x%08x dsl %u"
					  " in place", c->peer,
					  iscsi_bhs_itt(c->rx_bhs), c->rx_dsl);
				c->rx_task = NULL;
				iscsi_cmd_rx_data_out(c, c->rx_bhs, c->rx_dest,
						      c->rx_dsl, bad);
				iscsi_task_put(t);
				c->rx_dest = NULL;
				break;
			}
			data = c->rx_dsl ? c->rx_data : NULL;
			c->rx_data = NULL;
			c->rx_dest = NULL;
			pdus++;
			iscsi_conn_rx_pdu(c, data, c->rx_dsl, bad);
			break;
		}
		}
	}
}

static void iscsi_conn_rx_defer_cb(struct base_defer *d)
{
	iscsi_conn_rx(container_of(d, struct iscsi_conn, rx_defer));
}

static void iscsi_conn_fd_cb(struct base_fd *f, uint32_t events)
{
	struct iscsi_conn *c = container_of(f, struct iscsi_conn, bfd);

	if (c->state != ISCSI_CONN_CLOSING && (events & EPOLLOUT))
		iscsi_conn_tx_flush(c);
	if (c->state == ISCSI_CONN_CLOSING)
		return;
	if (c->rx_stopped) {
		if (events & (EPOLLERR | EPOLLHUP))
			iscsi_conn_close(c, "connection reset");
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
		iscsi_conn_rx(c);
}

/* ------------------------------------------------------------------ */
/* timer: login timeout, reinstatement wait, NOP-In pings (RFC 7143 11.19) */

static void iscsi_conn_ping(struct iscsi_conn *c, uint64_t now)
{
	struct iscsi_txpdu *p = iscsi_txpdu_alloc(c);

	if (!p)
		return; /* try again next tick */
	c->next_ttt++;
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt = 1;
	c->ping_ttt = c->next_ttt;
	c->ping_sent_ms = now;
	p->bhs[0] = ISCSI_OP_NOP_IN;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	iscsi_bhs_set_itt(p->bhs, ISCSI_RSVD_TAG);
	iscsi_put_be32(p->bhs + 20, c->ping_ttt);
	/* StatSN not advanced for ITT 0xffffffff (RFC 7143 11.19.3) */
	iscsi_conn_queue(c, p);
}

static void iscsi_conn_timer_cb(struct base_timer *t)
{
	struct iscsi_conn *c = container_of(t, struct iscsi_conn, timer);
	uint64_t now = base_now_ms();
	const struct iscsi_global_config *g = &iscsi_fabric.g;

	switch (c->state) {
	case ISCSI_CONN_LOGIN:
		if (now - c->created_ms > ISCSI_LOGIN_TIMEOUT_MS) {
			iscsi_conn_close(c, "login timeout");
			return;
		}
		break;
	case ISCSI_CONN_REINSTATE_WAIT:
		if (now - c->created_ms > 2 * ISCSI_LOGIN_TIMEOUT_MS) {
			/* the old session's tasks are stuck in the core */
			iscsi_conn_close(c, "session reinstatement timed out");
			return;
		}
		if (!iscsi_session_is_dead(c->reinstating)) {
			base_timer_start(c->loop, t,
					 ISCSI_CONN_REINSTATE_POLL_MS);
			return;
		}
		iscsi_session_put(c->reinstating);
		c->reinstating = NULL;
		iscsi_conn_enter_ffp(c);
		if (c->state == ISCSI_CONN_CLOSING)
			return;
		break;
	case ISCSI_CONN_FULL:
		if (c->logout_deadline_ms && now >= c->logout_deadline_ms) {
			iscsi_conn_close(c, "target shutting down");
			return;
		}
		if (c->ping_ttt != ISCSI_RSVD_TAG) {
			if (g->nop_timeout_s &&
			    now - c->ping_sent_ms >
				    (uint64_t)g->nop_timeout_s * 1000) {
				iscsi_conn_close(c, "NOP-In ping timed out");
				return;
			}
		} else if (g->nop_interval_s &&
			   now - c->last_rx_ms >=
				   (uint64_t)g->nop_interval_s * 1000) {
			iscsi_conn_ping(c, now);
			if (c->state == ISCSI_CONN_CLOSING)
				return;
		}
		break;
	case ISCSI_CONN_CLOSING:
		return;
	}
	base_timer_start(c->loop, t, ISCSI_CONN_TICK_MS);
}

/* ------------------------------------------------------------------ */
/* creation */

struct iscsi_conn *iscsi_conn_create(int fd, struct iscsi_loop_ctx *lctx,
				     const struct iscsi_portal_config *pc,
				     uint16_t tpgt)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (!c)
		return NULL;
	c->stage = malloc(ISCSI_CONN_STAGE_BYTES);
	if (!c->stage) {
		free(c);
		return NULL;
	}
	c->bfd.fd = fd;
	c->bfd.cb = iscsi_conn_fd_cb;
	c->lctx = lctx;
	c->loop = lctx->loop;
	list_init(&c->loop_link);
	list_init(&c->tasks);
	list_init(&c->held);
	snprintf(c->portal_addr, sizeof(c->portal_addr), "%s", pc->addr);
	c->portal_port = pc->port;
	c->portal_tpgt = tpgt;
	c->state = ISCSI_CONN_LOGIN;
	c->rx_state = ISCSI_RX_BHS;
	c->rx_max_dsl = ISCSI_LOGIN_MAX_DSL;
	c->ping_ttt = ISCSI_RSVD_TAG;
	c->text_ttt = ISCSI_RSVD_TAG;
	iscsi_ended_init(&c->ended, 0); /* sized at session bind */
	iscsi_params_default(&c->params);
	base_timer_init(&c->timer, iscsi_conn_timer_cb);
	base_defer_init(&c->reap, iscsi_conn_reap_cb);
	iscsi_conn_tx_init(c);
	base_defer_init(&c->rx_defer, iscsi_conn_rx_defer_cb);
	snprintf(c->peer, sizeof(c->peer), "fd%d", fd);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				  c->local_addr, sizeof(c->local_addr));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  c->local_addr, sizeof(c->local_addr));
	}
	sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char host[64] = "?";

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			snprintf(c->peer, sizeof(c->peer), "%s:%u", host,
				 ntohs(in->sin_port));
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, host,
				  sizeof(host));
			snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host,
				 ntohs(in6->sin6_port));
		}
	}
	return c;
}

void iscsi_conn_start(void *arg)
{
	struct iscsi_conn *c = arg;
	bool stopping;

	list_add_tail(&c->lctx->conns, &c->loop_link);
	c->created_ms = c->last_rx_ms = base_now_ms();
	pthread_mutex_lock(&iscsi_fabric.lock);
	stopping = iscsi_fabric.shutting_down;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	if (stopping) {
		c->state = ISCSI_CONN_CLOSING;
		base_defer(c->loop, &c->reap);
		return;
	}
	if (base_loop_add(c->loop, &c->bfd, EPOLLIN | EPOLLRDHUP) < 0) {
		c->state = ISCSI_CONN_CLOSING;
		base_defer(c->loop, &c->reap);
		return;
	}
	LOG_INFO("iscsi %s: connection accepted on %s:%u", c->peer,
		 c->portal_addr, c->portal_port);
	base_timer_start(c->loop, &c->timer, ISCSI_CONN_TICK_MS);
}
