/*
 * Reservations in the core: PERSISTENT RESERVE IN/OUT (SPC-4 6.15, 6.16),
 * RESERVE(6/10) and RELEASE(6/10) (SPC-2 7.21, 7.17), I_T nexus loss,
 * and the LU's APTPL file at creation.
 *
 * PR IN reads the LU's state under pr_lock. Everything that changes it
 * is a message (scsi/lu_repl.h) that repl.c orders and applies, on this
 * node alone or on every cluster node alike: the handlers here decode
 * the command (syntax errors never become a message), hand the message
 * to scsi_lu_req_submit() and turn what the apply left in the request
 * into the command's status.
 *
 * APTPL (SPC-4 5.14.5, 6.16.1): a LU with an APTPL file (cfg.aptpl_file)
 * reports PTPL_C = 1. The apply queues the image when the state changes
 * while APTPL is 1, or as it goes 1 -> 0 (repl.c); the status goes out
 * once it is durable. A failed write answers CHECK CONDITION, MEDIUM
 * ERROR, WRITE ERROR (03/0C/00; SPC-4 4.5.6: the command could not
 * record its effect on non-volatile storage). The state in memory has
 * changed all the same and stays: it is what every other command (and
 * every cluster node) already sees; undoing it would need the undo to
 * persist too. The next successful write carries it. With APTPL 0 the
 * image holds no registrations, so a restart after APTPL went from 1 to
 * 0 restores nothing. At LU creation the file, when there is one, is
 * decoded and installed; a file that cannot be read or decoded is logged
 * (path and reason) and ignored: the LU starts with no persistent
 * reservations, never half-loaded.
 *
 * Deliberately NOT here: the conflict rules and the PR OUT semantics (the
 * engine, lu_repl.c), applying and its side effects (repl.c), sense
 * encoding (sense.c), the image format (pr_aptpl.c), file I/O
 * (pr_store.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "pr/pr_aptpl.h"
#include "scsi/scsi_internal.h"

/* Installs the LU's APTPL file, if it has one and it decodes. */
static void spc_pr_restore(struct scsi_lun *lu)
{
	const char *path = scsi_pr_store_path(lu->pr_store);
	uint8_t *buf;
	size_t len;
	int rc;

	rc = scsi_pr_store_read(lu->pr_store,
				pr_aptpl_size_max(lu->repl.pr.cfg.max_regs),
				&buf, &len);
	if (rc == -ENOENT)
		return;
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: APTPL file %s: cannot read: %s; "
			"starting with no persistent reservations",
			lu->target->name, lu->index, path, strerror(-rc));
		return;
	}
	rc = pr_aptpl_decode(buf, len, &lu->repl.pr, &lu->file_epoch);
	free(buf);
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: APTPL file %s: %s; ignored, "
			"starting with no persistent reservations",
			lu->target->name, lu->index, path,
			pr_aptpl_strerror(rc));
		return;
	}
	/* The image sequence goes on from the file's. */
	lu->file_generation = lu->repl.pr.generation;
	lu->repl.aptpl_epoch = lu->file_epoch;
	lu->repl.aptpl_generation = lu->file_generation;
	LOG_INFO("scsi: %s: LUN %u: restored from %s: %u registration%s, "
		 "reservation type %u, generation %u, APTPL %u",
		 lu->target->name, lu->index, path, lu->repl.pr.nregs,
		 lu->repl.pr.nregs == 1 ? "" : "s", lu->repl.pr.type,
		 lu->repl.pr.generation, lu->repl.pr.aptpl);
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
	lu->file_epoch = 0;
	lu->file_generation = 0;
	lu->seq = NULL;
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
	rc = lu_repl_init(&lu->repl, &cfg);
	if (rc) {
		scsi_pr_store_close(lu->pr_store);
		lu->pr_store = NULL;
		return rc;
	}
	pthread_mutex_init(&lu->pr_lock, NULL);
	atomic_init(&lu->pr_any, false);
	atomic_init(&lu->repl_hold, false);
	if (lu->pr_store) {
		spc_pr_restore(lu);
		scsi_lun_repl_any_update(lu);
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
	scsi_lun_repl_fini(lu);
	pthread_mutex_destroy(&lu->pr_lock);
}

/* SAM-5 6.3.4: I_T nexus loss ends the nexus's SCSI-2 reservation (on
 * every node: a message like any other; nobody waits for it). */
void scsi_lun_pr_nexus_lost(struct scsi_lun *lu, const struct scsi_nexus *n)
{
	struct scsi_lu_req *req;

	req = scsi_lu_req_nexus(lu, LU_REPL_MSG_NEXUS_LOSS, &n->pr);
	if (!req) {
		LOG_ERR("scsi: %s: LUN %u: out of memory: the SCSI-2 "
			"reservation of a lost I_T nexus (%s) stays",
			lu->target->name, lu->index, n->initiator_port);
		return;
	}
	if (scsi_lu_req_submit(req))
		scsi_lu_req_free(req);
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
	n = pr_in_build(&lu->repl.pr, t->cdb[1] & 0x1F, buf, cap, &full,
			&res);
	pthread_mutex_unlock(&lu->pr_lock);
	if (res.status != PR_STATUS_GOOD)
		return spc_pr_fail(t, &res);
	t->data_len = cap ? n : 0;
	t->xfer_len = full < alloc ? full : alloc;
	return SCSI_EXEC_DONE;
}

/* --- changes: PERSISTENT RESERVE OUT, RESERVE, RELEASE --- */

/* The command's status from the apply's outcome (on the task's loop). */
static enum scsi_exec spc_pr_req_status(struct scsi_task *t,
					const struct scsi_lu_req *req)
{
	struct pr_result res = { 0 };

	if (req->status == -EAGAIN)
		/* Not ordered (the node has no quorum): nothing changed, a
		 * retry may go through another node (SPC-4 5.15.2.4.5). */
		return scsi_task_error(t, SCSI_SR_LU_NOT_READY_UNAVAILABLE);
	if (req->status || !req->applied) {
		/* Ordered but not applied here (the node loaded the state
		 * instead), or outcome unknown: the initiator must look
		 * (READ KEYS / READ RESERVATION) before it retries. */
		LOG_WARN("scsi: %s: LUN %u: %s: outcome not known here (%s)",
			 t->lu->target->name, t->lu->index,
			 lu_repl_msg_type_str(req->type),
			 req->status ? strerror(-req->status) : "not applied");
		return scsi_task_error(t, SCSI_SR_ABORTED_COMMAND);
	}
	res.status = (enum pr_status)req->res_status;
	res.reason = (enum pr_reason)req->res_reason;
	res.field = req->res_field;
	if (res.status == PR_STATUS_GOOD && req->persist_err)
		/* SPC-4 4.5.6: not durable (see the top of this file). */
		return scsi_task_error(t, SCSI_SR_WRITE_ERROR);
	return spc_pr_status(t, &res);
}

static void spc_pr_req_finish(struct scsi_lu_req *req)
{
	struct scsi_task *t = req->task;

	spc_pr_req_status(t, req);
	scsi_lu_req_free(req);
	scsi_task_finish(t);
}

/* Orders req (the task's nexus's message; NULL: no memory) and answers
 * once it is applied. */
static enum scsi_exec spc_pr_change(struct scsi_task *t,
				    struct scsi_lu_req *req)
{
	enum scsi_exec ex;

	if (!req)
		return scsi_task_error(t, SCSI_SR_BUSY);
	req->task = t;
	req->loop = scsi_task_loop(t);
	req->finish = spc_pr_req_finish;
	if (scsi_lu_req_submit(req) == 0)
		return SCSI_EXEC_PENDING;
	ex = spc_pr_req_status(t, req);
	scsi_lu_req_free(req);
	return ex;
}

/* PERSISTENT RESERVE OUT (SPC-4 6.16): decoded here, applied in order
 * (REGISTER AND MOVE's port check included, lu_repl.c). */
enum scsi_exec spc_pr_out(struct scsi_task *t)
{
	struct lu_repl_msg *m = calloc(1, sizeof(*m));
	struct pr_result res = { 0 };
	struct scsi_lu_req *req;

	if (!m)
		return scsi_task_error(t, SCSI_SR_BUSY);
	if (!pr_out_decode(t->cdb, t->buf, t->buf ? t->edtl : 0, &m->req,
			   &res)) {
		free(m);
		return spc_pr_fail(t, &res);
	}
	m->type = LU_REPL_MSG_PR_OUT;
	m->nexus = t->nexus->pr;
	req = scsi_lu_req_new(t->lu, m);
	free(m);
	return spc_pr_change(t, req);
}

/* --- RESERVE / RELEASE (SPC-2 7.21, 7.17) --- */

/* Third-party reservations are not supported (SPC-2 7.21.2): 3RDPTY in
 * RESERVE(10)/RELEASE(10) is an invalid field. */
static bool spc_s2_third_party(struct scsi_task *t)
{
	return t->cdb[0] != 0x16 && t->cdb[0] != 0x17 && (t->cdb[1] & 0x10);
}

static enum scsi_exec spc_s2(struct scsi_task *t, uint8_t type)
{
	if (spc_s2_third_party(t))
		return scsi_task_error_cdb(t, 1, 4);
	return spc_pr_change(t, scsi_lu_req_nexus(t->lu, type,
						  &t->nexus->pr));
}

enum scsi_exec spc_reserve(struct scsi_task *t)
{
	return spc_s2(t, LU_REPL_MSG_SCSI2_RESERVE);
}

enum scsi_exec spc_release(struct scsi_task *t)
{
	return spc_s2(t, LU_REPL_MSG_SCSI2_RELEASE);
}
