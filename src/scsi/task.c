/*
 * The life of a SCSI task in the core, and task management.
 *
 * scsi_task_submit() resolves the LUN, decodes the opcode through the
 * table, places the task in its I_T_L task set (SAM-5 8.6, 8.7: SIMPLE,
 * ORDERED, HEAD OF QUEUE) and, when the task may start, runs the gates in
 * DESIGN.md's fixed order (LUN state -> unit attention -> SCSI-2
 * reservation -> PR conflict -> read-only -> handler). Every task ends in
 * scsi_task_complete(), which takes it out of its task set, calls done(),
 * settles a waiting TMF and starts the tasks that were waiting behind it.
 *
 * scsi_tmf_submit() implements SAM-5 7 task management. Other nexuses'
 * tasks belong to other threads: the TMF sends one "piece" to each affected
 * nexus's loop (base_loop_post), the piece aborts there and comes back to
 * the requesting loop when every task it aborted has completed; the TMF's
 * done() follows the last piece.
 *
 * Nothing here takes a mutex per command: the task set belongs to the
 * nexus's loop. It does not build sense data (sense.c) or execute commands
 * (spc.c, sbc.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "scsi/scsi_internal.h"

/* One TMF's work on one affected I_T nexus. */
struct scsi_tmf_piece {
	struct scsi_tmf *tmf;
	struct scsi_nexus *req;    /* the nexus that issued the TMF, or NULL
	                              (an abort ordered by the cluster) */
	struct base_loop *home;    /* where the piece comes back (req's) */
	struct scsi_nexus *nexus;  /* the nexus whose tasks are aborted */
	int lun_index;             /* -1: the tasks naming no LU (after a
	                              target reset's LU resets) */
	bool by_tag;               /* ABORT TASK: only tmf->ref_tag */
	bool raise_cleared;        /* 2F/00 where TAS = 0 lost tasks (PR) */
	int pending;               /* aborted running tasks not yet done */
	bool sweeping;             /* still inside scsi_tmf_piece_run */
};

static void scsi_task_dispatch(struct scsi_itl *itl);
static void scsi_tmf_piece_settle(struct scsi_tmf_piece *p);

/* SAM-5 4.7: the 8-byte LUN. Single level, peripheral device (00b) or flat
 * space (01b) addressing; returns the LUN id or -1. */
static int scsi_task_lun_decode(uint64_t wire)
{
	uint8_t b0 = (uint8_t)(wire >> 56), b1 = (uint8_t)(wire >> 48);
	unsigned id;

	if (wire & 0x0000FFFFFFFFFFFFull) /* second..fourth level */
		return -1;
	switch (b0 >> 6) {
	case 0: /* peripheral device: BUS IDENTIFIER must be 0 */
		if (b0 & 0x3F)
			return -1;
		id = b1;
		break;
	case 1: /* flat space */
		id = (unsigned)(b0 & 0x3F) << 8 | b1;
		break;
	default:
		return -1;
	}
	return id < SCSI_LUN_MAX ? (int)id : -1;
}

int scsi_task_lun_id(uint64_t lun)
{
	return scsi_task_lun_decode(lun);
}

/* --- results --- */

void scsi_task_put_data(struct scsi_task *t, const void *data, uint32_t len,
			uint32_t alloc_len)
{
	uint32_t n = len < alloc_len ? len : alloc_len;
	uint32_t copy = n < t->edtl ? n : t->edtl;

	t->xfer_len = n;
	if (copy && t->buf)
		memcpy(t->buf, data, copy);
	else
		copy = 0;
	t->data_len = copy;
}

/* --- completion: the one way out --- */

static void scsi_task_complete(struct scsi_task *t)
{
	struct scsi_itl *itl = t->itl;
	struct scsi_tmf_piece *p = t->core_tmf;

	if (t->core_flags & SCSI_TF_ABORTED) {
		t->aborted = true;
		t->no_response = (t->core_flags & SCSI_TF_QUIET) != 0;
		/* SAM-5 5.6: TAS = 1 -> TASK ABORTED status to other nexuses. */
		t->status = SCSI_STATUS_TASK_ABORTED;
		t->sense_len = 0;
		t->data_len = 0;
	}
	if (t->core_flags & SCSI_TF_IN_SET) {
		list_del(&t->link);
		if (t->attr == SCSI_ATTR_ORDERED)
			itl->n_ordered--;
		t->core_flags &= ~SCSI_TF_IN_SET;
	}
	t->core_flags |= SCSI_TF_DONE;
	t->core_tmf = NULL;
	/* done() before the waiters start, so responses leave in the order
	 * the task set completed them. t may be gone after done(). */
	t->done(t);

	if (p && --p->pending == 0 && !p->sweeping)
		scsi_tmf_piece_settle(p);
	if (itl && itl->n_waiting)
		scsi_task_dispatch(itl);
}

void scsi_task_finish(struct scsi_task *t)
{
	scsi_task_complete(t);
}

/* --- gates --- */

/* SPC-2 5.5.1: while another I_T nexus holds a SCSI-2 reservation only the
 * rows flagged SCSI_OPF_S2_OK run (INQUIRY, REPORT LUNS, REQUEST SENSE,
 * RELEASE(6/10), and the SPC-3/4 reports REPORT TARGET PORT GROUPS, REPORT
 * SUPPORTED OPERATION CODES / TASK MANAGEMENT FUNCTIONS: opcodes.c says
 * why); everything else gets RESERVATION CONFLICT. PERSISTENT RESERVE
 * IN/OUT conflict for the holder as well: the next gate (pr_check) says
 * so. No reservation held: one atomic load, no lock. */
enum scsi_sense_reason scsi_lun_check_reservation(struct scsi_task *t,
						  const struct scsi_opcode *op)
{
	struct scsi_lun *lu = t->lu;
	bool conflict;

	if (!atomic_load_explicit(&lu->pr_any, memory_order_acquire) ||
	    (op->flags & SCSI_OPF_S2_OK))
		return SCSI_SR_OK;
	pthread_mutex_lock(&lu->pr_lock);
	conflict = pr_scsi2_conflict(&lu->repl.pr, &t->nexus->pr);
	pthread_mutex_unlock(&lu->pr_lock);
	return conflict ? SCSI_SR_RESERVATION_CONFLICT : SCSI_SR_OK;
}

/* SPC-4 5.14.2, table 63: the row's pr_class (whose values are the
 * engine's enum pr_class) against the reservation type and the nexus's
 * role. The same lock-free fast path as above. */
enum scsi_sense_reason scsi_lun_check_pr(struct scsi_task *t,
					 const struct scsi_opcode *op)
{
	struct scsi_lun *lu = t->lu;
	enum pr_status st;

	if (!atomic_load_explicit(&lu->pr_any, memory_order_acquire))
		return SCSI_SR_OK;
	pthread_mutex_lock(&lu->pr_lock);
	st = pr_check(&lu->repl.pr, &t->nexus->pr,
		      (enum pr_class)op->pr_class);
	pthread_mutex_unlock(&lu->pr_lock);
	return st == PR_STATUS_GOOD ? SCSI_SR_OK : SCSI_SR_RESERVATION_CONFLICT;
}

_Static_assert((int)SCSI_PR_ALLOWED == (int)PR_CLASS_ALLOWED &&
	       (int)SCSI_PR_READ == (int)PR_CLASS_READ &&
	       (int)SCSI_PR_WRITE == (int)PR_CLASS_WRITE &&
	       (int)SCSI_PR_CONFLICT == (int)PR_CLASS_CONFLICT &&
	       (int)SCSI_PR_PR_IN == (int)PR_CLASS_PR_IN &&
	       (int)SCSI_PR_PR_OUT == (int)PR_CLASS_PR_OUT,
	       "opcode table pr_class must equal enum pr_class");

/* Runs the gates and the handler of a task allowed to start. */
static void scsi_task_start(struct scsi_task *t)
{
	const struct scsi_opcode *op = t->core_op;
	struct scsi_lun *lu = t->lu;
	enum scsi_sense_reason r;
	int ua;

	t->core_flags = (t->core_flags & ~SCSI_TF_WAITING) | SCSI_TF_STARTED;

	/* 1. LUN state as seen through this target port: its ALUA group's
	 *    access state (a node without quorum is UNAVAILABLE), then a
	 *    clustered LU held while the cluster gathers its APTPL state
	 *    (scsi_lun_repl_hold: a transition, retried by initiators). */
	r = alua_check(t, op);
	if (r == SCSI_SR_OK && !(op->flags & SCSI_OPF_ALUA_OK) &&
	    atomic_load_explicit(&lu->repl_hold, memory_order_relaxed))
		r = SCSI_SR_NOT_READY_TRANSITIONING;
	if (r != SCSI_SR_OK) {
		scsi_task_error(t, r);
		scsi_task_complete(t);
		return;
	}

	/* 2. Unit attention, SAM-5 5.14 / SPC-4 5.14: one per command, the
	 *    highest priority first, cleared when reported. */
	if (!(op->flags & SCSI_OPF_UA_OK)) {
		ua = scsi_itl_ua_next(t->itl, true);
		if (ua >= 0) {
			struct scsi_sense_detail d = { .ua = ua, .bit = -1 };

			scsi_sense_build(t, SCSI_SR_UNIT_ATTENTION, &d);
			scsi_task_complete(t);
			return;
		}
	}

	/* 3. SCSI-2 reservation, 4. persistent reservation. */
	r = scsi_lun_check_reservation(t, op);
	if (r == SCSI_SR_OK)
		r = scsi_lun_check_pr(t, op);

	/* 5. Medium state: stopped (SBC-3 5.25) and write protect. */
	if (r == SCSI_SR_OK && (op->flags & SCSI_OPF_MEDIUM) &&
	    atomic_load_explicit(&lu->stopped, memory_order_relaxed))
		r = SCSI_SR_NOT_READY_STOPPED;
	if (r == SCSI_SR_OK && (op->flags & SCSI_OPF_WRITES) &&
	    scsi_lun_write_protected(lu))
		r = SCSI_SR_WRITE_PROTECTED; /* SBC-3 4.11 */
	if (r != SCSI_SR_OK) {
		scsi_task_error(t, r);
		scsi_task_complete(t);
		return;
	}

	/* 6. The handler. */
	if (op->exec(t) == SCSI_EXEC_DONE)
		scsi_task_complete(t);
	/* PENDING: t belongs to the handler until scsi_task_finish(). */
}

/* --- task sets (SAM-5 8.6, 8.7) --- */

/* The first waiting task allowed to start: an ORDERED task once every
 * earlier task has completed, a SIMPLE task once no earlier ORDERED task is
 * left. HEAD OF QUEUE tasks never wait. */
static struct scsi_task *scsi_task_set_next(struct scsi_itl *itl)
{
	struct scsi_task *t;
	bool earlier = false;

	list_for_each_entry(t, &itl->tasks, link) {
		if (t->core_flags & SCSI_TF_WAITING) {
			if (t->attr == SCSI_ATTR_ORDERED ? !earlier : true)
				return t;
		}
		if (t->attr == SCSI_ATTR_ORDERED)
			return NULL; /* blocks everything behind it */
		earlier = true;
	}
	return NULL;
}

/* Starts every task that may start. Not re-entrant: a task completing
 * inline while we start tasks just returns here and the loop rescans. */
static void scsi_task_dispatch(struct scsi_itl *itl)
{
	struct scsi_task *t;

	if (itl->dispatching)
		return;
	itl->dispatching = true;
	while (itl->n_waiting && (t = scsi_task_set_next(itl))) {
		itl->n_waiting--;
		scsi_task_start(t);
	}
	itl->dispatching = false;
}

void scsi_task_submit(struct scsi_task *t)
{
	struct scsi_nexus *n = t->nexus;
	const struct scsi_opcode *op;
	struct scsi_itl *itl = NULL;
	bool sa_invalid = false, start;
	int id;

	t->status = SCSI_STATUS_GOOD;
	t->sense_len = 0;
	t->data_len = 0;
	t->xfer_len = 0;
	t->aborted = false;
	t->no_response = false;
	t->itl = NULL;
	t->lu = NULL;
	t->core_flags = 0;
	t->core_priv = NULL;
	t->core_op = NULL;
	t->core_tmf = NULL;
	list_init(&t->link);

	id = scsi_task_lun_decode(t->lun);
	if (id >= 0)
		itl = atomic_load_explicit(&n->itls[id], memory_order_acquire);
	if (itl) {
		t->itl = itl;
		t->lu = itl->lu;
	}

	op = scsi_opcode_lookup(t->cdb, &sa_invalid);
	t->core_op = op;

	if (!itl) {
		/* SPC-4 6.6.2, 6.33, 6.39: INQUIRY, REPORT LUNS and REQUEST
		 * SENSE answer for an unknown LUN; everything else fails. */
		if (op && (op->flags & SCSI_OPF_NO_LUN_OK) &&
		    !(t->cdb[op->cdb_len - 1] & 0x04)) {
			if (op->exec(t) == SCSI_EXEC_DONE)
				scsi_task_complete(t);
			return;
		}
		scsi_task_error(t, SCSI_SR_LUN_NOT_SUPPORTED);
		scsi_task_complete(t);
		return;
	}
	if (!op) {
		/* SPC-4 4.5.6: an unsupported service action is an invalid
		 * field (byte 1, bits 4..0), an unknown opcode INVALID OPCODE. */
		if (sa_invalid)
			scsi_task_error_cdb(t, 1, 4);
		else
			scsi_task_error(t, SCSI_SR_INVALID_OPCODE);
		scsi_task_complete(t);
		return;
	}
	if (t->cdb_len && t->cdb_len < op->cdb_len) {
		scsi_task_error(t, SCSI_SR_INVALID_OPCODE);
		scsi_task_complete(t);
		return;
	}
	/* SAM-5 5.11: CONTROL byte NACA = 1 needs ACA, which we lack. */
	if (t->cdb[op->cdb_len - 1] & 0x04) {
		scsi_task_error_cdb(t, (uint16_t)(op->cdb_len - 1), 2);
		scsi_task_complete(t);
		return;
	}
	/* SAM-5 8.6.5: the ACA attribute without an ACA condition. */
	if (t->attr == SCSI_ATTR_ACA) {
		scsi_task_error(t, SCSI_SR_INVALID_FIELD_IN_CDB);
		scsi_task_complete(t);
		return;
	}

	switch (t->attr) {
	case SCSI_ATTR_HEAD_OF_QUEUE:
		start = true;
		break;
	case SCSI_ATTR_ORDERED:
		start = list_empty(&itl->tasks);
		itl->n_ordered++;
		break;
	default:
		t->attr = SCSI_ATTR_SIMPLE;
		/* No ORDERED task in the set implies no waiting task. */
		start = itl->n_ordered == 0;
		break;
	}
	list_add_tail(&itl->tasks, &t->link);
	t->core_flags |= SCSI_TF_IN_SET;
	if (start) {
		scsi_task_start(t);
	} else {
		t->core_flags |= SCSI_TF_WAITING;
		itl->n_waiting++;
	}
}

/* --- task management (SAM-5 7) --- */

/* Back on the requesting nexus's loop: one piece is over. */
static void scsi_tmf_put(struct scsi_tmf *tmf)
{
	if (--tmf->pending == 0)
		tmf->done(tmf, tmf->resp);
}

static void scsi_tmf_piece_return(void *arg)
{
	struct scsi_tmf_piece *p = arg;
	struct scsi_tmf *tmf = p->tmf;

	scsi_nexus_put(p->nexus);
	if (p->req)
		scsi_nexus_put(p->req);
	free(p);
	scsi_tmf_put(tmf);
}

/* On the affected nexus's loop: every task the piece aborted is done. */
static void scsi_tmf_piece_settle(struct scsi_tmf_piece *p)
{
	if (p->nexus->loop == p->home) {
		scsi_tmf_piece_return(p);
		return;
	}
	if (base_loop_post(p->home, scsi_tmf_piece_return, p)) {
		/* Cannot hop back: the TMF would hang. Report it and leak the
		 * piece rather than touch the other loop's state from here. */
		LOG_ERR("scsi: TMF completion lost: out of memory");
	}
}

/* Aborts one task of the piece's nexus (on that nexus's loop). */
static void scsi_tmf_abort_task(struct scsi_tmf_piece *p, struct scsi_task *t)
{
	bool quiet;

	if (t->core_flags & SCSI_TF_ABORTED)
		return; /* TODO: a second TMF does not wait for it */
	/* SAM-5 7.1: no response to the nexus that asked; the others get
	 * TASK ABORTED when TAS = 1 and nothing when TAS = 0. */
	quiet = t->nexus == p->req || !atomic_load(&t->lu->tas);
	t->core_flags |= SCSI_TF_ABORTED | (quiet ? SCSI_TF_QUIET : 0);
	if (t->core_flags & SCSI_TF_WAITING) {
		t->core_flags &= ~SCSI_TF_WAITING;
		t->itl->n_waiting--;
		scsi_task_complete(t);
		return;
	}
	/* Running: its backstore I/O completes later, then it completes
	 * aborted and settles the piece. */
	t->core_tmf = p;
	p->pending++;
}

/* The fabric's tasks of one LUN of p's nexus that the core has not seen
 * (still collecting write data): SAM-5 5.6 as for the core's own, quiet
 * for the nexus that asked and where TAS = 0, TASK ABORTED otherwise.
 * Returns how many the fabric aborted. */
static unsigned scsi_tmf_piece_unsubmitted(struct scsi_tmf_piece *p,
					   struct scsi_itl *itl, int lun_index)
{
	struct scsi_nexus *n = p->nexus;
	bool quiet;

	if (p->by_tag || !n->ops || !n->ops->abort_unsubmitted)
		return 0;
	quiet = n == p->req || !itl || !atomic_load(&itl->lu->tas);
	return n->ops->abort_unsubmitted(n, lun_index, quiet);
}

/* unsubmitted: how many of the nexus's tasks of this LUN the fabric has
 * just aborted (they count for the unit attention below). */
static void scsi_tmf_piece_sweep(struct scsi_tmf_piece *p,
				 struct scsi_itl *itl, unsigned unsubmitted)
{
	struct scsi_task *t, *tmp;
	bool was, any = unsubmitted > 0;

	/* No task may start while we walk the set. */
	was = itl->dispatching;
	itl->dispatching = true;
	list_for_each_entry_safe(t, tmp, &itl->tasks, link) {
		if (p->by_tag && t->tag != p->tmf->ref_tag)
			continue;
		scsi_tmf_abort_task(p, t);
		any = true;
	}
	/* SAM-5 5.6, SPC-4 5.13.11.2.4: with TAS = 0 the other initiator
	 * learns that its tasks are gone from a unit attention. */
	if (any && p->raise_cleared && itl->nexus != p->req &&
	    !atomic_load(&itl->lu->tas))
		scsi_itl_ua_raise(itl, SCSI_UA_COMMANDS_CLEARED);
	itl->dispatching = was;
	if (itl->n_waiting)
		scsi_task_dispatch(itl);
}

static void scsi_tmf_piece_run(void *arg)
{
	struct scsi_tmf_piece *p = arg;
	struct scsi_nexus *n = p->nexus;
	struct scsi_itl *itl;
	unsigned unsubmitted;

	p->sweeping = true;
	if (atomic_load(&n->gone)) {
		/* The session ended meanwhile: its tasks are gone with it. */
		p->sweeping = false;
		scsi_tmf_piece_settle(p);
		return;
	}
	if (p->lun_index >= 0) {
		itl = atomic_load(&n->itls[p->lun_index]);
		unsubmitted = scsi_tmf_piece_unsubmitted(p, itl, p->lun_index);
		if (itl)
			scsi_tmf_piece_sweep(p, itl, unsubmitted);
	} else if (!p->by_tag && n->ops && n->ops->abort_unsubmitted) {
		/* What is left names no LU of this nexus (it would fail with
		 * LOGICAL UNIT NOT SUPPORTED): no TAS applies, end it quietly. */
		n->ops->abort_unsubmitted(n, -1, true);
	}
	p->sweeping = false;
	if (p->pending == 0)
		scsi_tmf_piece_settle(p);
}

/* Sends a piece to nexus n (the caller holds a reference on n for it). */
static void scsi_tmf_piece_send(struct scsi_tmf *tmf, struct scsi_nexus *n,
				int lun_index, bool by_tag, bool raise_cleared)
{
	struct scsi_tmf_piece *p = calloc(1, sizeof(*p));

	if (!p) {
		LOG_ERR("scsi: TMF: no memory to abort a nexus's tasks");
		tmf->resp = SCSI_TMF_RESP_REJECTED;
		scsi_nexus_put(n);
		return;
	}
	p->tmf = tmf;
	p->req = tmf->nexus;
	if (p->req)
		scsi_nexus_get(p->req);
	p->home = tmf->home;
	p->nexus = n;
	p->lun_index = lun_index;
	p->by_tag = by_tag;
	p->raise_cleared = raise_cleared;
	tmf->pending++;
	if (n->loop == tmf->home) {
		scsi_tmf_piece_run(p);
		return;
	}
	if (base_loop_post(n->loop, scsi_tmf_piece_run, p)) {
		LOG_ERR("scsi: TMF: cannot reach a nexus's loop");
		tmf->resp = SCSI_TMF_RESP_REJECTED;
		tmf->pending--;
		scsi_nexus_put(n);
		if (p->req)
			scsi_nexus_put(p->req);
		free(p);
	}
}

/* Every I_T nexus with an I_T_L nexus on lu (for which match() holds, when
 * given), referenced; or NULL. */
static struct scsi_nexus **scsi_tmf_lun_nexuses(
	struct scsi_lun *lu, bool (*match)(const struct scsi_nexus *, void *),
	void *arg, unsigned *count)
{
	struct scsi_nexus **v;
	struct scsi_itl *itl;
	unsigned n = 0, i = 0;

	pthread_mutex_lock(&lu->itl_lock);
	list_for_each_entry(itl, &lu->itls, lu_link)
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v) {
		list_for_each_entry(itl, &lu->itls, lu_link) {
			if (match && !match(itl->nexus, arg))
				continue;
			scsi_nexus_get(itl->nexus);
			v[i++] = itl->nexus;
		}
	}
	pthread_mutex_unlock(&lu->itl_lock);
	*count = i;
	return v;
}

static struct scsi_nexus **scsi_tmf_target_nexuses(struct scsi_target *t,
						   unsigned *count)
{
	struct scsi_nexus **v, *n;
	unsigned c = 0, i = 0;

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(n, &t->nexuses, target_link)
		c++;
	v = calloc(c ? c : 1, sizeof(*v));
	if (v) {
		list_for_each_entry(n, &t->nexuses, target_link) {
			scsi_nexus_get(n);
			v[i++] = n;
		}
	}
	pthread_mutex_unlock(&t->lock);
	*count = i;
	return v;
}

/* A reset's part for one LU, back on the TMF's loop. */
static void scsi_tmf_reset_finish(struct scsi_lu_req *req)
{
	struct scsi_tmf *tmf = req->tmf;

	if (req->status) {
		/* Not ordered (no quorum) or outcome unknown: the TMF did
		 * not do what it says on this LU (RFC 7143 11.6.1). */
		LOG_WARN("scsi: %s: LUN %u: %s: %s", req->lu->target->name,
			 req->lu->index, lu_repl_msg_type_str(req->type),
			 strerror(-req->status));
		tmf->resp = SCSI_TMF_RESP_REJECTED;
	}
	scsi_lu_req_free(req);
	scsi_tmf_put(tmf);
}

/*
 * SAM-5 6.3.3 (LOGICAL UNIT RESET) or 6.3.2 (TARGET RESET) of one LU: a
 * message, so that every node aborts the LU's tasks, ends the SCSI-2
 * reservation (SPC-2 5.5.1; PRs stay) and PREVENT ALLOW MEDIUM REMOVAL
 * (SPC-4 6.14), and raises 29/03 (29/00 for a target reset) on every
 * I_T nexus of the LU, before the TMF completes. One piece of tmf.
 */
static void scsi_tmf_reset_lu(struct scsi_tmf *tmf, struct scsi_lun *lu,
			      uint8_t type)
{
	struct scsi_lu_req *req = scsi_lu_req_nexus(lu, type, &tmf->nexus->pr);

	if (!req) {
		tmf->resp = SCSI_TMF_RESP_REJECTED;
		return;
	}
	req->tmf = tmf;
	req->nexus = tmf->nexus;
	scsi_nexus_get(req->nexus);
	req->loop = tmf->home;
	req->finish = scsi_tmf_reset_finish;
	tmf->pending++;
	if (scsi_lu_req_submit(req))
		scsi_tmf_reset_finish(req);
}

int scsi_tmf_submit(struct scsi_tmf *tmf)
{
	struct scsi_nexus *n = tmf->nexus;
	struct scsi_target *t = n->target;
	struct scsi_itl *itl = NULL;
	struct scsi_task *task;
	int id;

	tmf->resp = SCSI_TMF_RESP_COMPLETE;
	tmf->pending = 1; /* ours, dropped at the end */
	tmf->lu = NULL;
	tmf->home = n->loop;

	id = scsi_task_lun_decode(tmf->lun);
	if (id >= 0)
		itl = atomic_load(&n->itls[id]);
	if (itl)
		tmf->lu = itl->lu;

	switch (tmf->fn) {
	case SCSI_TMF_ABORT_TASK:
	case SCSI_TMF_QUERY_TASK:
		if (!itl) {
			tmf->resp = SCSI_TMF_RESP_LUN_NOT_FOUND;
			break;
		}
		tmf->resp = SCSI_TMF_RESP_TASK_NOT_FOUND;
		list_for_each_entry(task, &itl->tasks, link) {
			if (task->tag == tmf->ref_tag) {
				tmf->resp = SCSI_TMF_RESP_COMPLETE;
				break;
			}
		}
		if (tmf->fn == SCSI_TMF_QUERY_TASK) {
			/* SAM-5 7.9: SUCCEEDED when the task is in the set. */
			tmf->resp = tmf->resp == SCSI_TMF_RESP_COMPLETE
					    ? SCSI_TMF_RESP_SUCCEEDED
					    : SCSI_TMF_RESP_COMPLETE;
			break;
		}
		if (tmf->resp == SCSI_TMF_RESP_COMPLETE) {
			scsi_nexus_get(n);
			scsi_tmf_piece_send(tmf, n, id, true, false);
		}
		break;
	case SCSI_TMF_ABORT_TASK_SET:
	case SCSI_TMF_CLEAR_TASK_SET:
		/* TST = 001b (lun.c): the task set is this nexus's, so both
		 * touch only the requesting nexus's tasks of the LUN. */
		if (!itl) {
			tmf->resp = SCSI_TMF_RESP_LUN_NOT_FOUND;
			break;
		}
		scsi_nexus_get(n);
		scsi_tmf_piece_send(tmf, n, id, false, false);
		break;
	case SCSI_TMF_CLEAR_ACA:
		tmf->resp = SCSI_TMF_RESP_NOT_SUPPORTED; /* no NACA support */
		break;
	case SCSI_TMF_LUN_RESET:
		if (!itl) {
			tmf->resp = SCSI_TMF_RESP_LUN_NOT_FOUND;
			break;
		}
		scsi_tmf_reset_lu(tmf, itl->lu, LU_REPL_MSG_LUN_RESET);
		break;
	case SCSI_TMF_TARGET_WARM_RESET:
	case SCSI_TMF_TARGET_COLD_RESET: {
		struct scsi_lun **luns = NULL, *lu;
		struct scsi_nexus **v;
		unsigned nluns = 0, k = 0, count = 0;

		/* SAM-5 6.3.2: a LUN reset of every LU of the target, with
		 * the power on / reset UA (29/00). The fabric drops the
		 * sessions after a cold reset. LUs live as long as the
		 * target: the list is walked after the lock. */
		pthread_mutex_lock(&t->lock);
		list_for_each_entry(lu, &t->luns, target_link)
			nluns++;
		luns = calloc(nluns ? nluns : 1, sizeof(*luns));
		if (luns)
			list_for_each_entry(lu, &t->luns, target_link)
				luns[k++] = lu;
		pthread_mutex_unlock(&t->lock);
		if (!luns)
			return -ENOMEM;
		for (k = 0; k < nluns; k++)
			scsi_tmf_reset_lu(tmf, luns[k],
					  LU_REPL_MSG_TARGET_RESET);
		free(luns);
		/* Tasks naming no LU of the target: ended quietly. */
		v = scsi_tmf_target_nexuses(t, &count);
		if (!v) {
			tmf->resp = SCSI_TMF_RESP_REJECTED;
			break;
		}
		for (k = 0; k < count; k++)
			scsi_tmf_piece_send(tmf, v[k], -1, false, false);
		free(v);
		break;
	}
	default:
		tmf->resp = SCSI_TMF_RESP_NOT_SUPPORTED;
		break;
	}
	scsi_tmf_put(tmf);
	return 0;
}

int scsi_lun_abort_nexuses(struct scsi_tmf *tmf, struct scsi_lun *lu,
			   struct base_loop *home, bool raise_cleared,
			   bool (*match)(const struct scsi_nexus *n, void *arg),
			   void *arg)
{
	struct scsi_nexus **v;
	unsigned count = 0;

	tmf->resp = SCSI_TMF_RESP_COMPLETE;
	tmf->pending = 1;
	tmf->lu = lu;
	tmf->home = home;
	v = scsi_tmf_lun_nexuses(lu, match, arg, &count);
	if (!v)
		return -ENOMEM;
	for (unsigned i = 0; i < count; i++)
		scsi_tmf_piece_send(tmf, v[i], (int)lu->index, false,
				    raise_cleared);
	free(v);
	scsi_tmf_put(tmf);
	return 0;
}
