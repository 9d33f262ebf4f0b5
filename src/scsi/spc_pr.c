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
 * APTPL (SPC-4 5.14.5, 6.16.1): a LU with an APTPL file (cfg.aptpl_file)
 * reports PTPL_C = 1. After a PR OUT that ends GOOD while APTPL is 1, or
 * that just set it to 0, the new state is encoded (pr_aptpl.c) under
 * pr_lock, so images queue in the order the state changed, and handed to
 * the writer thread (pr_store.c); the command's status goes out only once
 * that image, or a later one, is durable (persist before reply), and
 * after the aborts of PREEMPT AND ABORT. A failed write answers CHECK
 * CONDITION, MEDIUM ERROR, WRITE ERROR (03/0C/00; SPC-4 4.5.6: the
 * command could not record its effect on non-volatile storage). The
 * state in memory has changed all the same and stays: it is what every
 * other command (and every cluster node) already sees; undoing it would
 * need the undo to persist too. The next successful write carries it.
 * With APTPL 0 the image holds no registrations, so a restart after
 * APTPL went from 1 to 0 restores nothing (SPC-4 5.14.5). At LU creation
 * the file, when there is one, is decoded and installed; a file that
 * cannot be read or decoded is logged (path and reason) and ignored: the
 * LU starts with no persistent reservations, never half-loaded.
 *
 * Deliberately NOT here: the conflict rules and the PR OUT semantics (the
 * engine), sense encoding (sense.c), the image format (pr_aptpl.c), file
 * I/O (pr_store.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pr/pr_aptpl.h"
#include "scsi/scsi_internal.h"

/* Called under pr_lock after every change of lu->pr. */
static void spc_pr_update_any(struct scsi_lun *lu)
{
	atomic_store_explicit(&lu->pr_any,
			      lu->pr.s2_reserved || lu->pr.type != PR_TYPE_NONE,
			      memory_order_release);
}

/* Installs the LU's APTPL file, if it has one and it decodes. */
static void spc_pr_restore(struct scsi_lun *lu)
{
	const char *path = scsi_pr_store_path(lu->pr_store);
	uint8_t *buf;
	size_t len;
	int rc;

	rc = scsi_pr_store_read(lu->pr_store,
				pr_aptpl_size_max(lu->pr.cfg.max_regs), &buf,
				&len);
	if (rc == -ENOENT)
		return;
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: APTPL file %s: cannot read: %s; "
			"starting with no persistent reservations",
			lu->target->name, lu->index, path, strerror(-rc));
		return;
	}
	rc = pr_aptpl_decode(buf, len, &lu->pr, &lu->pr_epoch);
	free(buf);
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: APTPL file %s: %s; ignored, "
			"starting with no persistent reservations",
			lu->target->name, lu->index, path,
			pr_aptpl_strerror(rc));
		return;
	}
	LOG_INFO("scsi: %s: LUN %u: restored from %s: %u registration%s, "
		 "reservation type %u, generation %u, APTPL %u",
		 lu->target->name, lu->index, path, lu->pr.nregs,
		 lu->pr.nregs == 1 ? "" : "s", lu->pr.type,
		 lu->pr.generation, lu->pr.aptpl);
}

int scsi_lun_pr_init(struct scsi_lun *lu)
{
	/* CRH = 1 (SPC-4 5.14.3); PTPL_C = 1 when there is an APTPL file. */
	struct pr_config cfg = {
		.max_regs = SCSI_PR_MAX_REGS, .ptpl_c = false, .crh = true,
	};
	const char *path = lu->cfg.aptpl_file;
	int rc;

	lu->cfg.aptpl_file = NULL; /* the caller's string */
	lu->pr_store = NULL;
	lu->pr_epoch = 0;
	if (path) {
		rc = scsi_pr_store_open(path, &lu->pr_store);
		if (rc)
			LOG_WARN("scsi: %s: LUN %u: APTPL file %s: %s; APTPL "
				 "not supported (PTPL_C = 0)",
				 lu->target->name, lu->index, path,
				 strerror(-rc));
		else
			lu->cfg.aptpl_file = scsi_pr_store_path(lu->pr_store);
	}
	cfg.ptpl_c = lu->pr_store != NULL;
	rc = pr_state_init(&lu->pr, &cfg);
	if (rc) {
		scsi_pr_store_close(lu->pr_store);
		lu->pr_store = NULL;
		return rc;
	}
	pthread_mutex_init(&lu->pr_lock, NULL);
	atomic_init(&lu->pr_any, false);
	if (lu->pr_store) {
		spc_pr_restore(lu);
		spc_pr_update_any(lu);
	}
	return 0;
}

void scsi_lun_pr_fini(struct scsi_lun *lu)
{
	/* Every PR OUT has completed (no task is outstanding), so this
	 * only waits for nothing or for a write nobody waits for. */
	scsi_pr_store_close(lu->pr_store);
	lu->pr_store = NULL;
	lu->cfg.aptpl_file = NULL;
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

/* What a PR OUT waits for before its status goes out: the aborts of
 * PREEMPT AND ABORT (SPC-4 5.14.11.2.4) and the APTPL write (5.14.5).
 * One reference per piece plus the handler's own; every piece comes back
 * on the task's loop, so the count needs no atomics. */
struct spc_pr_wait {
	struct scsi_pr_store_waiter store;
	struct scsi_task *task;
	unsigned pending;
	int err;                    /* the APTPL write's, or 0 */
};

/* Drops one reference; the last one reports the outcome. Returns true
 * when that was the last (the task's status is set, w is freed). */
static bool spc_pr_wait_put(struct spc_pr_wait *w)
{
	struct scsi_task *t = w->task;

	if (--w->pending)
		return false;
	/* SPC-4 4.5.6: MEDIUM ERROR, 0C/00 WRITE ERROR: the change could
	 * not be made durable (see the top of this file). */
	if (w->err)
		scsi_task_error(t, SCSI_SR_WRITE_ERROR);
	free(w);
	return true;
}

static void spc_pr_store_done(struct scsi_pr_store_waiter *sw)
{
	struct spc_pr_wait *w = container_of(sw, struct spc_pr_wait, store);
	struct scsi_task *t = w->task;

	w->err = sw->err;
	if (spc_pr_wait_put(w))
		scsi_task_finish(t);
}

/* PREEMPT AND ABORT: the pending abort, one piece of the wait. */
struct spc_pr_abort {
	struct scsi_tmf tmf;
	struct spc_pr_wait *wait;
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
	struct spc_pr_wait *w = a->wait;
	struct scsi_task *t = w->task;

	(void)resp;
	free(a);
	if (spc_pr_wait_put(w))
		scsi_task_finish(t); /* status after the aborts completed */
}

/* Under pr_lock, after a GOOD PR OUT: queue the new image when APTPL is
 * 1 or was 1 before this command (SPC-4 5.14.5: the file then says
 * "nothing survives"). Takes *img on success. */
static void spc_pr_persist(struct scsi_lun *lu, bool was_aptpl,
			   struct spc_pr_wait *w, uint8_t **img, size_t cap)
{
	ssize_t n;

	if (!lu->pr_store || (!was_aptpl && !lu->pr.aptpl))
		return;
	n = pr_aptpl_encode(&lu->pr, lu->pr_epoch, *img, cap);
	if (n < 0) {
		LOG_ERR("scsi: %s: LUN %u: APTPL: cannot encode the state: "
			"%s", lu->target->name, lu->index, strerror((int)-n));
		w->err = (int)n;
		return;
	}
	w->pending++;
	w->store.loop = scsi_task_loop(w->task);
	w->store.done = spc_pr_store_done;
	scsi_pr_store_submit(lu->pr_store, *img, (size_t)n, &w->store);
	*img = NULL;
}

enum scsi_exec spc_pr_out(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct pr_out_req *req;
	struct pr_result res = { 0 };
	struct pr_target *arr;
	struct spc_pr_abort *ab = NULL;
	struct spc_pr_wait *w;
	uint32_t cap = lu->pr.cfg.max_regs;
	size_t img_cap = pr_aptpl_size_max(cap);
	uint8_t *img = NULL;
	enum scsi_exec ex;
	bool was_aptpl;

	req = malloc(sizeof(*req));
	arr = calloc(2 * (size_t)cap, sizeof(*arr));
	w = calloc(1, sizeof(*w));
	if (lu->pr_store)
		img = malloc(img_cap);
	if (!req || !arr || !w || (lu->pr_store && !img)) {
		free(req);
		free(arr);
		free(w);
		free(img);
		return scsi_task_error(t, SCSI_SR_BUSY);
	}
	w->task = t;
	w->pending = 1; /* this handler's */
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
	was_aptpl = lu->pr.aptpl;
	pr_out_apply(&lu->pr, &t->nexus->pr, req, &res);
	spc_pr_update_any(lu);
	if (res.status == PR_STATUS_GOOD) {
		spc_pr_persist(lu, was_aptpl, w, &img, img_cap);
		if (res.ua_count) {
			struct spc_pr_ua_walk uw = { .res = &res,
						     .issuer = t->nexus };

			scsi_lun_itl_foreach(lu, spc_pr_ua_one, &uw);
		}
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
	ab->wait = w;
	ab->issuer = t->nexus;
	memset(&ab->tmf, 0, sizeof(ab->tmf));
	ab->tmf.nexus = t->nexus;
	ab->tmf.fn = SCSI_TMF_ABORT_TASK_SET;
	ab->tmf.lun = t->lun;
	ab->tmf.done = spc_pr_abort_done;
	w->pending++;
	if (scsi_lun_abort_nexuses(&ab->tmf, lu, spc_pr_abort_match, ab)) {
		LOG_ERR("scsi: PREEMPT AND ABORT: cannot abort tasks");
		free(ab);
		w->pending--;
	}
out:
	free(req);
	free(arr);
	free(img);
	/* Status now, or when the last piece comes back. */
	if (!spc_pr_wait_put(w))
		return SCSI_EXEC_PENDING;
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
