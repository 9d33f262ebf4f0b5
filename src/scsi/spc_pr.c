/*
 * Reservations in the core: the glue between the LU and the pure PR engine
 * (src/pr). PERSISTENT RESERVE IN/OUT (SPC-4 6.15, 6.16), RESERVE(6/10)
 * and RELEASE(6/10) (SPC-2 7.21, 7.17), and the side effects the engine
 * asks for: unit attentions on the I_T_L nexuses a pr_target names, task
 * aborts for PREEMPT AND ABORT, the end of a SCSI-2 reservation on reset
 * and I_T nexus loss.
 *
 * One struct pr_state per LU under lu->pr_lock; lu->pr_any mirrors "some
 * reservation is held" for the lock-free fast path of the gates (task.c).
 * Lock order: target->lock -> lu->pr_lock -> lu->itl_lock. Aborts are
 * started after pr_lock is dropped: an abort may complete tasks inline,
 * and tasks then started run the gates, which take pr_lock.
 *
 * Deliberately NOT here: the conflict rules and the PR OUT semantics (the
 * engine), sense encoding (sense.c), APTPL persistence (not built: the LU
 * reports PTPL_C = 0 and refuses APTPL = 1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "scsi/scsi_internal.h"

/* Called under pr_lock after every change of lu->pr. */
static void spc_pr_update_any(struct scsi_lun *lu)
{
	atomic_store_explicit(&lu->pr_any,
			      lu->pr.s2_reserved || lu->pr.type != PR_TYPE_NONE,
			      memory_order_release);
}

int scsi_lun_pr_init(struct scsi_lun *lu)
{
	/* CRH = 1 (SPC-4 5.14.3); PTPL_C = 0 until APTPL is persisted. */
	struct pr_config cfg = {
		.max_regs = SCSI_PR_MAX_REGS, .ptpl_c = false, .crh = true,
	};
	int rc = pr_state_init(&lu->pr, &cfg);

	if (rc)
		return rc;
	pthread_mutex_init(&lu->pr_lock, NULL);
	atomic_init(&lu->pr_any, false);
	return 0;
}

void scsi_lun_pr_fini(struct scsi_lun *lu)
{
	pr_state_fini(&lu->pr);
	pthread_mutex_destroy(&lu->pr_lock);
}

void scsi_lun_pr_reset(struct scsi_lun *lu, const struct scsi_nexus *n)
{
	pthread_mutex_lock(&lu->pr_lock);
	pr_scsi2_reset(&lu->pr, n ? &n->pr : NULL);
	spc_pr_update_any(lu);
	pthread_mutex_unlock(&lu->pr_lock);
}

/* The engine's CHECK CONDITION reasons as sense data. */
static enum scsi_exec spc_pr_fail(struct scsi_task *t,
				  const struct pr_result *res)
{
	int bit = res->field.bit;

	switch (res->reason) {
	case PR_REASON_INVALID_FIELD_IN_CDB:
		if (res->field.valid)
			return scsi_task_error_cdb(t, res->field.byte, bit);
		return scsi_task_error(t, SCSI_SR_INVALID_FIELD_IN_CDB);
	case PR_REASON_INVALID_FIELD_IN_PARAM_LIST:
		if (res->field.valid)
			return scsi_task_error_param(t, res->field.byte, bit);
		return scsi_task_error(t, SCSI_SR_INVALID_FIELD_IN_PARAM_LIST);
	case PR_REASON_PARAM_LIST_LENGTH_ERROR:
		return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);
	case PR_REASON_INVALID_RELEASE:
		return scsi_task_error(t, SCSI_SR_INVALID_RELEASE_OF_PR);
	case PR_REASON_INSUFFICIENT_REG_RESOURCES:
		return scsi_task_error(t, SCSI_SR_INSUFFICIENT_REG_RESOURCES);
	case PR_REASON_NONE:
	default:
		return scsi_task_error(t, SCSI_SR_INTERNAL_TARGET_FAILURE);
	}
}

static enum scsi_exec spc_pr_status(struct scsi_task *t,
				    const struct pr_result *res)
{
	switch (res->status) {
	case PR_STATUS_GOOD:
		return SCSI_EXEC_DONE;
	case PR_STATUS_RESERVATION_CONFLICT:
		return scsi_task_error(t, SCSI_SR_RESERVATION_CONFLICT);
	default:
		return spc_pr_fail(t, res);
	}
}

/* --- PERSISTENT RESERVE IN (SPC-4 6.15) --- */

enum scsi_exec spc_pr_in(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t alloc = scsi_get_be16(t->cdb + 7), cap, full = 0, n;
	struct pr_result res = { 0 };
	uint8_t dummy[8];
	uint8_t *buf;

	cap = alloc < t->edtl ? alloc : t->edtl;
	if (!t->buf)
		cap = 0;
	buf = cap ? t->buf : dummy;
	pthread_mutex_lock(&lu->pr_lock);
	n = pr_in_build(&lu->pr, t->cdb[1] & 0x1F, buf, cap, &full, &res);
	pthread_mutex_unlock(&lu->pr_lock);
	if (res.status != PR_STATUS_GOOD)
		return spc_pr_fail(t, &res);
	t->data_len = cap ? n : 0;
	t->xfer_len = full < alloc ? full : alloc;
	return SCSI_EXEC_DONE;
}

/* --- PERSISTENT RESERVE OUT (SPC-4 6.16) --- */

/* Whether rtpi is a port of lu's target (REGISTER AND MOVE). Remote
 * ports of other cluster nodes join this check with the cluster. */
static bool spc_pr_port_exists(struct scsi_lun *lu, uint16_t rtpi)
{
	struct scsi_target *tg = lu->target;
	struct scsi_tport *tp;
	bool found = false;

	pthread_mutex_lock(&tg->lock);
	list_for_each_entry(tp, &tg->tports, target_link) {
		if (tp->rtpi == rtpi) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&tg->lock);
	return found;
}

struct spc_pr_ua_walk {
	const struct pr_result *res;
	const struct scsi_nexus *issuer;
};

static enum scsi_ua spc_pr_ua_kind(uint8_t kind)
{
	switch (kind) {
	case PR_UA_RESERVATIONS_PREEMPTED:
		return SCSI_UA_RESERVATIONS_PREEMPTED;
	case PR_UA_RESERVATIONS_RELEASED:
		return SCSI_UA_RESERVATIONS_RELEASED;
	default:
		return SCSI_UA_REGISTRATIONS_PREEMPTED;
	}
}

/* SPC-4 5.14.11: the UAs go to every I_T_L nexus a target names, never to
 * the nexus that sent the PR OUT. */
static void spc_pr_ua_one(struct scsi_itl *itl, void *arg)
{
	struct spc_pr_ua_walk *w = arg;

	if (itl->nexus == w->issuer)
		return;
	for (uint32_t i = 0; i < w->res->ua_count; i++)
		if (pr_target_match(&w->res->ua[i], &itl->nexus->pr))
			scsi_itl_ua_raise(itl,
					  spc_pr_ua_kind(w->res->ua[i].kind));
}

/* PREEMPT AND ABORT: the pending abort, finishing the PR OUT task. */
struct spc_pr_abort {
	struct scsi_tmf tmf;
	struct scsi_task *task;
	const struct scsi_nexus *issuer;
	uint32_t count;
	struct pr_target targets[];
};

static bool spc_pr_abort_match(const struct scsi_nexus *n, void *arg)
{
	struct spc_pr_abort *a = arg;

	if (n == a->issuer)
		return false;
	for (uint32_t i = 0; i < a->count; i++)
		if (pr_target_match(&a->targets[i], &n->pr))
			return true;
	return false;
}

static void spc_pr_abort_done(struct scsi_tmf *tmf, enum scsi_tmf_resp resp)
{
	struct spc_pr_abort *a = container_of(tmf, struct spc_pr_abort, tmf);
	struct scsi_task *t = a->task;

	free(a);
	scsi_task_finish(t); /* GOOD: status after the aborts completed */
}

enum scsi_exec spc_pr_out(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct pr_out_req *req;
	struct pr_result res = { 0 };
	struct pr_target *arr;
	struct spc_pr_abort *ab = NULL;
	uint32_t cap = lu->pr.cfg.max_regs;
	enum scsi_exec ex;

	req = malloc(sizeof(*req));
	arr = calloc(2 * (size_t)cap, sizeof(*arr));
	if (!req || !arr) {
		free(req);
		free(arr);
		return scsi_task_error(t, SCSI_SR_BUSY);
	}
	if (!pr_out_decode(t->cdb, t->buf, t->buf ? t->edtl : 0, req, &res)) {
		ex = spc_pr_fail(t, &res);
		goto out;
	}
	/* SPC-4 6.16.4: REGISTER AND MOVE to a port that does not exist. */
	if (req->sa == PR_OUT_REGISTER_AND_MOVE &&
	    !spc_pr_port_exists(lu, req->move_rtpi)) {
		ex = scsi_task_error_param(t, 18, -1);
		goto out;
	}

	res.ua = arr;
	res.ua_cap = cap;
	res.aborts = arr + cap;
	res.abort_cap = cap;
	pthread_mutex_lock(&lu->pr_lock);
	pr_out_apply(&lu->pr, &t->nexus->pr, req, &res);
	spc_pr_update_any(lu);
	if (res.status == PR_STATUS_GOOD && res.ua_count) {
		struct spc_pr_ua_walk w = { .res = &res, .issuer = t->nexus };

		scsi_lun_itl_foreach(lu, spc_pr_ua_one, &w);
	}
	pthread_mutex_unlock(&lu->pr_lock);
	if (res.ua_lost || res.abort_lost)
		LOG_WARN("scsi: PR OUT: %u UAs, %u aborts lost", res.ua_lost,
			 res.abort_lost);

	ex = spc_pr_status(t, &res);
	if (res.status != PR_STATUS_GOOD || !res.abort_count)
		goto out;

	/* SPC-4 5.14.11.2.4: abort the preempted nexuses' tasks; the
	 * PR OUT completes after they have. */
	ab = malloc(sizeof(*ab) + res.abort_count * sizeof(ab->targets[0]));
	if (!ab) {
		LOG_ERR("scsi: PREEMPT AND ABORT: no memory to abort tasks");
		goto out;
	}
	memcpy(ab->targets, res.aborts,
	       res.abort_count * sizeof(ab->targets[0]));
	ab->count = res.abort_count;
	ab->task = t;
	ab->issuer = t->nexus;
	memset(&ab->tmf, 0, sizeof(ab->tmf));
	ab->tmf.nexus = t->nexus;
	ab->tmf.fn = SCSI_TMF_ABORT_TASK_SET;
	ab->tmf.lun = t->lun;
	ab->tmf.done = spc_pr_abort_done;
	free(req);
	free(arr);
	if (scsi_lun_abort_nexuses(&ab->tmf, lu, spc_pr_abort_match, ab)) {
		LOG_ERR("scsi: PREEMPT AND ABORT: cannot abort tasks");
		free(ab);
		return SCSI_EXEC_DONE;
	}
	return SCSI_EXEC_PENDING;
out:
	free(req);
	free(arr);
	return ex;
}

/* --- RESERVE / RELEASE (SPC-2 7.21, 7.17) --- */

/* Third-party reservations are not supported (SPC-2 7.21.2): 3RDPTY in
 * RESERVE(10)/RELEASE(10) is an invalid field. */
static bool spc_s2_third_party(struct scsi_task *t)
{
	return t->cdb[0] != 0x16 && t->cdb[0] != 0x17 && (t->cdb[1] & 0x10);
}

enum scsi_exec spc_reserve(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	enum pr_status st;

	if (spc_s2_third_party(t))
		return scsi_task_error_cdb(t, 1, 4);
	pthread_mutex_lock(&lu->pr_lock);
	st = pr_scsi2_reserve(&lu->pr, &t->nexus->pr);
	spc_pr_update_any(lu);
	pthread_mutex_unlock(&lu->pr_lock);
	if (st != PR_STATUS_GOOD)
		return scsi_task_error(t, SCSI_SR_RESERVATION_CONFLICT);
	return SCSI_EXEC_DONE;
}

enum scsi_exec spc_release(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	enum pr_status st;

	if (spc_s2_third_party(t))
		return scsi_task_error_cdb(t, 1, 4);
	pthread_mutex_lock(&lu->pr_lock);
	st = pr_scsi2_release(&lu->pr, &t->nexus->pr);
	spc_pr_update_any(lu);
	pthread_mutex_unlock(&lu->pr_lock);
	if (st != PR_STATUS_GOOD)
		return scsi_task_error(t, SCSI_SR_RESERVATION_CONFLICT);
	return SCSI_EXEC_DONE;
}
