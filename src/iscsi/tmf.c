/*
 * Task Management Function Requests (RFC 7143 11.5) and their responses
 * (11.6). Each function maps onto scsi_tmf_submit(); the response is sent
 * only after the core's done(), which itself comes after every affected
 * task's done(), so aborted tasks' responses precede it (11.5.1).
 *
 * The fabric's own tasks that the core has not seen (those still waiting
 * for Data-Out) are aborted here without a response. TASK REASSIGN needs
 * ErrorRecoveryLevel 2 and is refused. Nothing here parses CDBs or knows
 * about LUN state: that is the core's.
 */
#include <stdlib.h>

#include "base/log.h"
#include "iscsi/runtime.h"

struct iscsi_tmf_req {
	struct scsi_tmf tmf;
	struct iscsi_conn *conn;
	uint32_t itt;
	uint8_t func;
	bool counted;
};

static void iscsi_tmf_respond(struct iscsi_conn *c, uint32_t itt,
			      uint8_t response, bool counted)
{
	struct iscsi_txpdu *p;

	if (counted && c->sess)
		iscsi_session_cmd_complete(c->sess);
	if (c->state == ISCSI_CONN_CLOSING)
		return;
	p = iscsi_txpdu_alloc(c);
	if (!p) {
		iscsi_conn_close(c, "no memory for a TMF response");
		return;
	}
	LOG_DEBUG("iscsi %s: TMF itt 0x%08x response %u", c->peer, itt,
		  response);
	/* RFC 7143 11.6 */
	p->bhs[0] = ISCSI_OP_TMF_RSP;
	p->bhs[1] = ISCSI_FLAG_FINAL;
	p->bhs[2] = response;
	iscsi_bhs_set_itt(p->bhs, itt);
	p->status = true;
	iscsi_conn_queue(c, p);
}

static uint8_t iscsi_tmf_map_resp(enum scsi_tmf_resp r)
{
	switch (r) {
	case SCSI_TMF_RESP_COMPLETE:
	case SCSI_TMF_RESP_SUCCEEDED:
		return ISCSI_TMF_RSP_COMPLETE;
	case SCSI_TMF_RESP_TASK_NOT_FOUND:
		return ISCSI_TMF_RSP_NO_TASK;
	case SCSI_TMF_RESP_LUN_NOT_FOUND:
		return ISCSI_TMF_RSP_NO_LUN;
	case SCSI_TMF_RESP_NOT_SUPPORTED:
		return ISCSI_TMF_RSP_NOT_SUPPORTED;
	case SCSI_TMF_RESP_REJECTED:
	default:
		return ISCSI_TMF_RSP_REJECTED;
	}
}

static void iscsi_tmf_done(struct scsi_tmf *tmf, enum scsi_tmf_resp resp)
{
	struct iscsi_tmf_req *req = container_of(tmf, struct iscsi_tmf_req, tmf);
	struct iscsi_conn *c = req->conn;

	c->n_tmfs--;
	iscsi_tmf_respond(c, req->itt, iscsi_tmf_map_resp(resp), req->counted);
	if (req->func == ISCSI_TMF_TARGET_COLD_RESET &&
	    resp == SCSI_TMF_RESP_COMPLETE && c->state != ISCSI_CONN_CLOSING) {
		/* RFC 7143 11.5.1: after a cold reset the target drops all
		 * its connections, this one once the response is out. */
		if (c->sess && c->sess->target)
			iscsi_session_close_target(c->sess->target, c->sess);
		iscsi_conn_close_after_tx(c);
	}
	free(req);
	iscsi_conn_maybe_reap(c);
}

static void iscsi_tmf_submit(struct iscsi_conn *c, const uint8_t *bhs,
			     enum scsi_tmf_fn fn, bool counted)
{
	struct iscsi_tmf_req *req = calloc(1, sizeof(*req));
	uint32_t itt = iscsi_bhs_itt(bhs);

	if (!req) {
		iscsi_tmf_respond(c, itt, ISCSI_TMF_RSP_REJECTED, counted);
		return;
	}
	req->conn = c;
	req->itt = itt;
	req->func = bhs[1] & 0x7f;
	req->counted = counted;
	req->tmf.nexus = c->sess->nexus;
	req->tmf.fn = fn;
	req->tmf.lun = iscsi_bhs_lun(bhs);
	req->tmf.ref_tag = iscsi_bhs_word20(bhs);
	req->tmf.done = iscsi_tmf_done;
	c->n_tmfs++;
	if (scsi_tmf_submit(&req->tmf) < 0) {
		c->n_tmfs--;
		free(req);
		iscsi_tmf_respond(c, itt, ISCSI_TMF_RSP_REJECTED, counted);
	}
}

/* ABORT TASK (RFC 7143 11.5.1). */
static void iscsi_tmf_abort_task(struct iscsi_conn *c, const uint8_t *bhs,
				 bool counted)
{
	uint32_t rtt = iscsi_bhs_word20(bhs);
	uint32_t ref_cmdsn = iscsi_get_be32(bhs + 32);
	uint32_t cmdsn = iscsi_bhs_cmdsn(bhs);
	struct iscsi_task *t = iscsi_cmd_find(c, rtt);
	struct iscsi_cmdsn_window *w = &c->sess->win;
	uint8_t rsp;

	if (t && t->state == ISCSI_TASK_DATA_WAIT) {
		/* ours alone: the core never saw it, no response for it */
		iscsi_cmd_abort_local(t);
		iscsi_tmf_respond(c, iscsi_bhs_itt(bhs),
				  ISCSI_TMF_RSP_COMPLETE, counted);
		return;
	}
	if (t) {
		iscsi_tmf_submit(c, bhs, SCSI_TMF_ABORT_TASK, counted);
		return;
	}
	if (iscsi_session_abort_held(c, rtt)) {
		/* received out of order, not run yet: it never will */
		iscsi_tmf_respond(c, iscsi_bhs_itt(bhs),
				  ISCSI_TMF_RSP_COMPLETE, counted);
		return;
	}
	/* Not found: a command still on its way (RefCmdSN inside the window
	 * and before this request) is taken as received and aborted ->
	 * Function complete; otherwise Task does not exist. */
	if (iscsi_sn_le(w->exp_cmdsn, ref_cmdsn) &&
	    iscsi_sn_le(ref_cmdsn, w->max_cmdsn) &&
	    iscsi_sn_lt(ref_cmdsn, cmdsn)) {
		rsp = ISCSI_TMF_RSP_COMPLETE;
		iscsi_session_skip_cmdsn(c, ref_cmdsn);
	} else {
		rsp = ISCSI_TMF_RSP_NO_TASK;
	}
	iscsi_tmf_respond(c, iscsi_bhs_itt(bhs), rsp, counted);
}

/* This connection's own tasks of one LUN that the core has not seen: the
 * nexus that asks for an abort gets no response for them (SAM-5 5.6). */
static void iscsi_tmf_abort_own(struct iscsi_conn *c, uint64_t lun)
{
	int id = scsi_task_lun_id(lun);

	if (id >= 0)
		iscsi_cmd_abort_unsubmitted(c, id, false, true);
}

void iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs, bool counted)
{
	uint8_t func = bhs[1] & 0x7f;
	uint64_t lun = iscsi_bhs_lun(bhs);

	LOG_INFO("iscsi %s: TMF function %u lun 0x%llx itt 0x%08x", c->peer,
		 func, (unsigned long long)lun, iscsi_bhs_itt(bhs));
	switch (func) {
	case ISCSI_TMF_ABORT_TASK:
		iscsi_tmf_abort_task(c, bhs, counted);
		return;
	case ISCSI_TMF_ABORT_TASK_SET:
		iscsi_tmf_abort_own(c, lun);
		iscsi_tmf_submit(c, bhs, SCSI_TMF_ABORT_TASK_SET, counted);
		return;
	case ISCSI_TMF_CLEAR_TASK_SET:
		iscsi_tmf_abort_own(c, lun);
		iscsi_tmf_submit(c, bhs, SCSI_TMF_CLEAR_TASK_SET, counted);
		return;
	case ISCSI_TMF_CLEAR_ACA:
		iscsi_tmf_submit(c, bhs, SCSI_TMF_CLEAR_ACA, counted);
		return;
	case ISCSI_TMF_LUN_RESET:
		iscsi_tmf_abort_own(c, lun);
		iscsi_tmf_submit(c, bhs, SCSI_TMF_LUN_RESET, counted);
		return;
	case ISCSI_TMF_TARGET_WARM_RESET:
		iscsi_cmd_abort_unsubmitted(c, -1, true, true);
		iscsi_tmf_submit(c, bhs, SCSI_TMF_TARGET_WARM_RESET, counted);
		return;
	case ISCSI_TMF_TARGET_COLD_RESET:
		iscsi_cmd_abort_unsubmitted(c, -1, true, true);
		iscsi_tmf_submit(c, bhs, SCSI_TMF_TARGET_COLD_RESET, counted);
		return;
	case ISCSI_TMF_TASK_REASSIGN:
		/* RFC 7143 11.5.1: reassignment needs ErrorRecoveryLevel 2 */
		iscsi_tmf_respond(c, iscsi_bhs_itt(bhs),
				  ISCSI_TMF_RSP_NO_FAILOVER, counted);
		return;
	default:
		iscsi_tmf_respond(c, iscsi_bhs_itt(bhs),
				  ISCSI_TMF_RSP_NOT_SUPPORTED, counted);
		return;
	}
}
