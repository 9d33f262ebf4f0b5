/*
 * The LU's replicated state in the core (issue 5, scsi.h "the LU's
 * replicated state"; docs/cluster-device.md): every change of the
 * reservation state is an lu_repl message, and this file is the one place
 * that applies it to a LU and acts on what it did on this node.
 *
 *   issuing loop                       every node, in the order
 *   spc_pr.c / task.c:                 scsi_lun_repl_apply():
 *     scsi_lu_req_new(msg)               lu_repl_apply under pr_lock
 *     scsi_lu_req_submit() ---seq-->     UAs on this node's I_T_L nexuses
 *       (no seq: apply here, now)        APTPL image to the writer thread
 *     req->finish() <-- done --------    aborts of this node's tasks
 *                                        a->done() when all that is over
 *
 * Without a sequencer (the single-node default) scsi_lu_req_submit()
 * applies the message itself, on the issuing loop: the same function,
 * the same effects, no special case. With one (the daemon's cluster
 * channel) the message comes back through scsi_lun_repl_apply() on every
 * node, in the cluster's order, and the issuer hears scsi_lu_req_done()
 * once every member has applied it.
 *
 * The order of one apply's local steps is the one SPC-4 asks for: the
 * state and its unit attentions under pr_lock (5.14.11), then the aborts
 * of PREEMPT AND ABORT or a reset (5.14.11.2.4, SAM-5 6.3.3) after it
 * (an abort may complete tasks inline, and tasks then started run the
 * gates, which take pr_lock), and the APTPL image queued under pr_lock so
 * that images queue in the order the state changed (5.14.5). Lock order:
 * target->lock -> lu->pr_lock -> lu->itl_lock; REGISTER AND MOVE's port
 * is therefore looked up before pr_lock is taken.
 *
 * Deliberately NOT here: what a message does to the state (lu_repl.c and
 * the PR engine), how the cluster orders it (src/daemon), the file I/O
 * (pr_store.c), how a status is told to the initiator (spc_pr.c, task.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/loop.h"
#include "base/log.h"
#include "pr/pr_aptpl.h"
#include "scsi/lu_repl.h"
#include "scsi/scsi_internal.h"

/* ------------------------------------------------------------ requests */

struct scsi_lu_req *scsi_lu_req_new(struct scsi_lun *lu,
				    const struct lu_repl_msg *m)
{
	uint8_t *buf = malloc(LU_REPL_MSG_MAX);
	struct scsi_lu_req *req = NULL;
	ssize_t n;

	if (!buf)
		return NULL;
	n = lu_repl_msg_encode(m, buf, LU_REPL_MSG_MAX);
	if (n < 0) {
		LOG_ERR("scsi: %s: LUN %u: cannot encode a %s message: %s",
			lu->target->name, lu->index,
			lu_repl_msg_type_str(m->type), strerror((int)-n));
	} else {
		req = calloc(1, sizeof(*req) + (size_t)n);
	}
	if (req) {
		req->lu = lu;
		req->type = m->type;
		req->len = (size_t)n;
		memcpy(req->msg, buf, (size_t)n);
	}
	free(buf);
	return req;
}

struct scsi_lu_req *scsi_lu_req_nexus(struct scsi_lun *lu, uint8_t type,
				      const struct pr_nexus *n)
{
	struct lu_repl_msg *m = calloc(1, sizeof(*m));
	struct scsi_lu_req *req;

	if (!m)
		return NULL;
	m->type = type;
	m->nexus = *n;
	req = scsi_lu_req_new(lu, m);
	free(m);
	return req;
}

void scsi_lu_req_free(struct scsi_lu_req *req)
{
	if (!req)
		return;
	if (req->nexus)
		scsi_nexus_put(req->nexus);
	free(req);
}

const void *scsi_lu_req_msg(const struct scsi_lu_req *req, size_t *len)
{
	*len = req->len;
	return req->msg;
}

bool scsi_lu_req_unwaited(const struct scsi_lu_req *req)
{
	return !req->finish;
}

static void scsi_lu_req_finish(void *arg)
{
	struct scsi_lu_req *req = arg;

	if (req->finish)
		req->finish(req);
	else
		scsi_lu_req_free(req); /* nobody waits (nexus loss) */
}

void scsi_lu_req_done(struct scsi_lu_req *req, int status)
{
	req->status = status;
	if (req->in_submit) {
		req->done_inline = true;
		return;
	}
	if (!req->loop) {
		scsi_lu_req_finish(req);
		return;
	}
	if (base_loop_post(req->loop, scsi_lu_req_finish, req))
		/* The waiter would hang; say so rather than touch its loop's
		 * state from here (as task.c does for TMF pieces). */
		LOG_ERR("scsi: %s completion lost: out of memory",
			lu_repl_msg_type_str(req->type));
}

static void scsi_lu_req_local_done(struct scsi_lu_apply *a)
{
	struct scsi_lu_req *req = container_of(a, struct scsi_lu_req, local);

	scsi_lu_req_done(req, 0);
}

int scsi_lu_req_submit(struct scsi_lu_req *req)
{
	struct scsi_lun *lu = req->lu;
	int err;

	req->in_submit = true;
	if (lu->seq) {
		err = lu->seq->submit(lu->seq, req);
		if (err)
			scsi_lu_req_done(req, err);
	} else {
		req->local.loop = req->loop;
		req->local.done = scsi_lu_req_local_done;
		if (scsi_lun_repl_apply(lu, req->msg, req->len, req,
					&req->local) == 0)
			scsi_lu_req_done(req, 0);
	}
	req->in_submit = false;
	return req->done_inline ? 1 : 0;
}

void scsi_lun_set_seq(struct scsi_lun *lu, struct scsi_lu_seq *seq)
{
	lu->seq = seq;
}

/* -------------------------------------------------------------- apply */

/* One apply in progress: what this node still waits for before the
 * apply is done. Every piece comes back on a->loop, so the count needs
 * no atomics. */
struct scsi_repl_job {
	struct scsi_lun *lu;
	struct scsi_lu_apply *a;
	struct scsi_lu_req *issuer;
	unsigned pending;
	struct scsi_pr_store_waiter store;
	struct scsi_tmf tmf;
};

static void scsi_repl_job_put(struct scsi_repl_job *j)
{
	struct scsi_lu_apply *a = j->a;

	if (--j->pending)
		return;
	free(j);
	a->done(a);
}

static void scsi_repl_store_done(struct scsi_pr_store_waiter *sw)
{
	struct scsi_repl_job *j = container_of(sw, struct scsi_repl_job,
					       store);

	if (sw->err)
		LOG_ERR("scsi: %s: LUN %u: APTPL: the image was not written: "
			"%s", j->lu->target->name, j->lu->index,
			strerror(-sw->err));
	if (j->issuer)
		j->issuer->persist_err = sw->err;
	scsi_repl_job_put(j);
}

static void scsi_repl_abort_done(struct scsi_tmf *tmf,
				 enum scsi_tmf_resp resp)
{
	(void)resp;
	scsi_repl_job_put(container_of(tmf, struct scsi_repl_job, tmf));
}

static enum scsi_ua scsi_repl_ua(unsigned kind)
{
	switch (kind) {
	case LU_REPL_UA_RESERVATIONS_PREEMPTED:
		return SCSI_UA_RESERVATIONS_PREEMPTED;
	case LU_REPL_UA_RESERVATIONS_RELEASED:
		return SCSI_UA_RESERVATIONS_RELEASED;
	case LU_REPL_UA_REGISTRATIONS_PREEMPTED:
		return SCSI_UA_REGISTRATIONS_PREEMPTED;
	case LU_REPL_UA_POWER_ON:
		return SCSI_UA_POWER_ON;
	default:
		return SCSI_UA_LUN_RESET;
	}
}

/* SPC-4 5.14.11, SAM-5 6.3.3: the UAs the effects name for one of this
 * node's I_T_L nexuses (never the PR OUT's own nexus). */
static void scsi_repl_ua_one(struct scsi_itl *itl, void *arg)
{
	uint32_t mask = lu_repl_effects_ua_for(arg, &itl->nexus->pr);

	for (unsigned k = 0; mask; k++, mask >>= 1)
		if (mask & 1u)
			scsi_itl_ua_raise(itl, scsi_repl_ua(k));
}

static bool scsi_repl_abort_match(const struct scsi_nexus *n, void *arg)
{
	return lu_repl_effects_abort_for(arg, &n->pr);
}

/* REGISTER AND MOVE names a target port; whether it exists is resolved
 * before pr_lock (the local ports take target->lock, which comes first
 * in the lock order). */
struct scsi_repl_port {
	uint16_t rtpi;
	bool exists;
};

static bool scsi_repl_port_answer(void *arg, uint16_t rtpi)
{
	const struct scsi_repl_port *p = arg;

	return rtpi == p->rtpi && p->exists;
}

static bool scsi_repl_local_port(struct scsi_lun *lu, uint16_t rtpi)
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

/* Under pr_lock: the image of the state, with epoch, queued for the
 * writer thread; w (may be NULL) hears when it is durable. Remembers
 * (epoch, generation) as what the file will hold: the pair the state
 * names its last image with (scsi_repl_file_sync compares the two).
 * 0, or -errno when it cannot be encoded (logged; nothing queued). */
static int scsi_repl_write_image(struct scsi_lun *lu, uint64_t epoch,
				 uint32_t generation,
				 struct scsi_pr_store_waiter *w)
{
	size_t cap = pr_aptpl_size_max(lu->repl.pr.cfg.max_regs);
	uint8_t *img = malloc(cap);
	ssize_t n;

	n = img ? pr_aptpl_encode(&lu->repl.pr, epoch, img, cap) : -ENOMEM;
	if (n < 0) {
		LOG_ERR("scsi: %s: LUN %u: APTPL: cannot encode the state: "
			"%s", lu->target->name, lu->index, strerror((int)-n));
		free(img);
		return (int)n;
	}
	lu->file_epoch = epoch;
	lu->file_generation = generation;
	scsi_pr_store_submit(lu->pr_store, img, (size_t)n, w);
	return 0;
}

/* Under pr_lock: the image of the state just reached (SPC-4 5.14.5:
 * durable before the command's status). */
static void scsi_repl_persist(struct scsi_repl_job *j,
			      const struct lu_repl_effects *fx)
{
	int err;

	j->store.loop = j->a->loop;
	j->store.done = scsi_repl_store_done;
	err = scsi_repl_write_image(j->lu, fx->persist_epoch,
				    fx->persist_generation, &j->store);
	if (!err)
		j->pending++;
	else if (j->issuer)
		j->issuer->persist_err = err;
}

/* After pr_lock: abort this node's tasks the effects name. */
static void scsi_repl_abort(struct scsi_repl_job *j,
			    struct lu_repl_effects *fx)
{
	struct scsi_tmf *tmf = &j->tmf;

	memset(tmf, 0, sizeof(*tmf));
	/* The issuing nexus's own tasks end without a response (SAM-5
	 * 7.1); it is on this node only where this node issued. */
	tmf->nexus = j->issuer ? j->issuer->nexus : NULL;
	tmf->fn = SCSI_TMF_ABORT_TASK_SET;
	tmf->done = scsi_repl_abort_done;
	j->pending++;
	/* 2F/00 for PREEMPT AND ABORT's victims where TAS = 0 (SPC-4
	 * 5.14.11.2.4); a reset's own UA (29/xx) says it all. */
	if (scsi_lun_abort_nexuses(tmf, j->lu, j->a->loop, !fx->abort_all,
				   scsi_repl_abort_match, fx)) {
		LOG_ERR("scsi: %s: LUN %u: cannot abort tasks: out of memory",
			j->lu->target->name, j->lu->index);
		j->pending--;
	}
}

void scsi_lun_repl_any_update(struct scsi_lun *lu)
{
	const struct pr_state *st = &lu->repl.pr;

	atomic_store_explicit(&lu->pr_any,
			      st->s2_reserved || st->type != PR_TYPE_NONE,
			      memory_order_release);
}

static void scsi_repl_result(struct scsi_lu_req *issuer,
			     const struct lu_repl_effects *fx)
{
	issuer->applied = true;
	issuer->res_status = fx->pr.status;
	issuer->res_reason = fx->pr.reason;
	issuer->res_field = fx->pr.field;
}

int scsi_lun_repl_apply(struct scsi_lun *lu, const void *msg, size_t len,
			struct scsi_lu_req *issuer, struct scsi_lu_apply *a)
{
	struct lu_repl_msg *m = malloc(sizeof(*m));
	struct lu_repl_effects fx = { 0 };
	struct scsi_repl_port port = { 0 };
	struct pr_target *arr = NULL;
	struct scsi_repl_job *j = calloc(1, sizeof(*j));
	uint32_t cap;
	int err;

	if (!m || !j) {
		/* Every node must apply it: losing it here would make this
		 * node diverge. Nothing to do but say so loudly. */
		LOG_ERR("scsi: %s: LUN %u: out of memory applying a message: "
			"this node's reservation state may now differ",
			lu->target->name, lu->index);
		free(m);
		free(j);
		return 0;
	}
	j->lu = lu;
	j->a = a;
	j->issuer = issuer;
	j->pending = 1; /* this call's */
	err = lu_repl_msg_decode(msg, len, m);
	if (err) {
		LOG_WARN("scsi: %s: LUN %u: a message that does not decode "
			 "(%s) changes nothing", lu->target->name, lu->index,
			 strerror(-err));
		fx.pr.status = PR_STATUS_CHECK_CONDITION; /* 04/44/00 */
		goto out;
	}
	if (m->type == LU_REPL_MSG_PR_OUT) {
		if (m->req.sa == PR_OUT_REGISTER_AND_MOVE) {
			port.rtpi = m->req.move_rtpi;
			port.exists = lu->seq && lu->seq->port_exists
				? lu->seq->port_exists(lu->seq, port.rtpi)
				: scsi_repl_local_port(lu, port.rtpi);
		}
	}

	pthread_mutex_lock(&lu->pr_lock);
	if (m->type == LU_REPL_MSG_PR_OUT) {
		/* UA and abort targets name registrations that exist now:
		 * nregs entries each are enough (the engine counts more as
		 * lost). Sized here, under the lock, not for max_regs: the
		 * apply is on every node's ack path. */
		cap = lu->repl.pr.nregs + 1;
		arr = calloc(2 * (size_t)cap, sizeof(*arr));
		fx.pr.ua = arr;
		fx.pr.aborts = arr ? arr + cap : NULL;
		fx.pr.ua_cap = fx.pr.abort_cap = arr ? cap : 0;
	}
	lu_repl_apply(&lu->repl, m, scsi_repl_port_answer, &port, &fx);
	scsi_lun_repl_any_update(lu);
	if (fx.lun_reset)
		/* SPC-4 6.14: a reset ends PREVENT ALLOW MEDIUM REMOVAL. */
		atomic_store(&lu->prevent, 0);
	if (fx.persist && lu->pr_store)
		scsi_repl_persist(j, &fx);
	if (fx.ua_all || fx.pr.ua_count)
		scsi_lun_itl_foreach(lu, scsi_repl_ua_one, &fx);
	pthread_mutex_unlock(&lu->pr_lock);
	if (fx.pr.ua_lost || fx.pr.abort_lost)
		LOG_WARN("scsi: %s: LUN %u: %s: %u UAs, %u aborts lost",
			 lu->target->name, lu->index,
			 lu_repl_msg_type_str(m->type), fx.pr.ua_lost,
			 fx.pr.abort_lost);
	if (fx.s2_released)
		LOG_DEBUG("scsi: %s: LUN %u: %s ended the SCSI-2 reservation",
			  lu->target->name, lu->index,
			  lu_repl_msg_type_str(m->type));
	if (fx.abort_all || fx.pr.abort_count)
		scsi_repl_abort(j, &fx);
out:
	if (issuer)
		scsi_repl_result(issuer, &fx);
	free(arr);
	free(m);
	if (--j->pending == 0) {
		free(j);
		return 0;
	}
	return 1;
}

/* ---------------------------------------------------- state transfer */

int scsi_lun_repl_save(struct scsi_lun *lu, void **data, size_t *len)
{
	int err;

	pthread_mutex_lock(&lu->pr_lock);
	err = lu_repl_save(&lu->repl, data, len);
	pthread_mutex_unlock(&lu->pr_lock);
	return err;
}

/* After a load: the LU's APTPL file holds the image of the state the
 * cluster has (a node that was away rewrites an older one). Nobody waits
 * for it: the node is not serving yet. */
static void scsi_repl_file_sync(struct scsi_lun *lu)
{
	if (!lu->pr_store || lu->repl.aptpl_epoch == 0 ||
	    (lu->file_epoch == lu->repl.aptpl_epoch &&
	     lu->file_generation == lu->repl.aptpl_generation))
		return;
	scsi_repl_write_image(lu, lu->repl.aptpl_epoch,
			      lu->repl.aptpl_generation, NULL);
}

/*
 * What a node that was away missed. A node out of the quorate view (its
 * port groups UNAVAILABLE) applies nothing; when it comes back, a state
 * reset and a load replace its state with the cluster's, and the changes
 * made meanwhile never passed through its apply: its I_T nexuses would
 * not hear of them. So the reset keeps the state they were last told of
 * (lu->told) and the load raises, on each of this node's I_T_L nexuses,
 * the UA one command would have raised for the difference (SPC-4
 * 5.14.11, table 49; SAM-5 6.3.3):
 *   the LU was reset meanwhile (its reset count moved)    29/03
 *   its registration is gone (PREEMPT, CLEAR)             2A/05
 *   still registered, and the reservation it lived under
 *   ended or changed type, scope or holder:
 *     it held it (alone: not an all-registrants type)     2A/03
 *     it did not                                          2A/04
 * The node cannot tell which commands ran, so this errs toward telling:
 * a RELEASE of a Write Exclusive reservation, which SPC-4 announces to
 * nobody, is told as 2A/04 here; CLEAR's 2A/03 arrives as 2A/05.
 */
/* Whether n alone holds st's reservation (an all-registrants one is
 * every registrant's: nobody's alone). */
static bool scsi_repl_sole_holder(const struct pr_state *st,
				  const struct pr_nexus *n)
{
	return st->type != PR_TYPE_NONE &&
	       !pr_type_all_registrants(st->type) &&
	       pr_state_is_holder(st, n);
}

static void scsi_repl_missed_one(struct scsi_itl *itl, void *arg)
{
	const struct lu_repl *was = arg;
	const struct lu_repl *now = &itl->lu->repl;
	const struct pr_nexus *n = &itl->nexus->pr;
	bool reg_was = pr_reg_find(&was->pr, n) != NULL;
	bool held = scsi_repl_sole_holder(&was->pr, n);

	if (now->lun_resets != was->lun_resets)
		scsi_itl_ua_raise(itl, SCSI_UA_LUN_RESET);
	if (!reg_was)
		return;
	if (!pr_reg_find(&now->pr, n)) {
		scsi_itl_ua_raise(itl, SCSI_UA_REGISTRATIONS_PREEMPTED);
		return;
	}
	if (was->pr.type == PR_TYPE_NONE)
		return;
	if (now->pr.type != was->pr.type || now->pr.scope != was->pr.scope ||
	    scsi_repl_sole_holder(&now->pr, n) != held)
		scsi_itl_ua_raise(itl, held ? SCSI_UA_RESERVATIONS_PREEMPTED
					    : SCSI_UA_RESERVATIONS_RELEASED);
}

/* Under pr_lock: keeps the current state as what the nexuses were told,
 * unless an earlier reset kept one its load never replaced (a refused
 * snapshot): that one is still what they know. Without a nexus (a node
 * starting) there is nobody to tell. */
static void scsi_repl_told_keep(struct scsi_lun *lu)
{
	struct lu_repl *t;
	bool nexuses;

	pthread_mutex_lock(&lu->itl_lock);
	nexuses = !list_empty(&lu->itls);
	pthread_mutex_unlock(&lu->itl_lock);
	if (lu->told || !nexuses)
		return;
	t = malloc(sizeof(*t));
	if (!t || lu_repl_init(t, &lu->repl.pr.cfg)) {
		free(t);
		LOG_WARN("scsi: %s: LUN %u: out of memory: changes made while "
			 "this node was away raise no unit attention",
			 lu->target->name, lu->index);
		return;
	}
	pr_state_copy(&t->pr, &lu->repl.pr);
	t->lun_resets = lu->repl.lun_resets;
	lu->told = t;
}

static void scsi_repl_told_drop(struct scsi_lun *lu)
{
	if (!lu->told)
		return;
	lu_repl_fini(lu->told);
	free(lu->told);
	lu->told = NULL;
}

int scsi_lun_repl_load(struct scsi_lun *lu, const void *data, size_t len)
{
	int err;

	pthread_mutex_lock(&lu->pr_lock);
	err = lu_repl_load(&lu->repl, data, len);
	if (!err) {
		scsi_lun_repl_any_update(lu);
		scsi_repl_file_sync(lu);
		if (lu->told)
			scsi_lun_itl_foreach(lu, scsi_repl_missed_one,
					     lu->told);
		scsi_repl_told_drop(lu);
	}
	pthread_mutex_unlock(&lu->pr_lock);
	return err;
}

void scsi_lun_repl_fini(struct scsi_lun *lu)
{
	scsi_repl_told_drop(lu);
	lu_repl_fini(&lu->repl);
}

void scsi_lun_repl_reset(struct scsi_lun *lu)
{
	pthread_mutex_lock(&lu->pr_lock);
	scsi_repl_told_keep(lu);
	lu_repl_reset(&lu->repl);
	scsi_lun_repl_any_update(lu);
	pthread_mutex_unlock(&lu->pr_lock);
}

/* ------------------------------------------- whole-cluster restart */

void scsi_lun_repl_hold(struct scsi_lun *lu, bool hold)
{
	atomic_store(&lu->repl_hold, hold);
}

int scsi_lun_repl_image(struct scsi_lun *lu, void **img, size_t *len)
{
	uint8_t *buf;
	int err;

	if (!lu->pr_store)
		return -ENOENT;
	err = scsi_pr_store_read(lu->pr_store,
				 pr_aptpl_size_max(lu->repl.pr.cfg.max_regs),
				 &buf, len);
	if (!err)
		*img = buf;
	return err;
}

int scsi_lun_repl_adopt(struct scsi_lun *lu, const void *img, size_t len)
{
	uint64_t epoch;
	uint32_t gen;
	int err;

	err = pr_aptpl_peek(img, len, &epoch, &gen);
	if (err)
		return err;
	pthread_mutex_lock(&lu->pr_lock);
	if (epoch < lu->repl.aptpl_epoch ||
	    (epoch == lu->repl.aptpl_epoch &&
	     gen <= lu->repl.aptpl_generation)) {
		pthread_mutex_unlock(&lu->pr_lock);
		return 0;
	}
	/* All or nothing: a bad image leaves the state as it is. */
	err = pr_aptpl_decode(img, len, &lu->repl.pr, NULL);
	if (!err) {
		lu->repl.aptpl_epoch = epoch;
		lu->repl.aptpl_generation = gen;
		scsi_lun_repl_any_update(lu);
		scsi_repl_file_sync(lu);
	}
	pthread_mutex_unlock(&lu->pr_lock);
	return err ? err : 1;
}
