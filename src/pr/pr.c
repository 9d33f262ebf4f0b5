/*
 * The persistent-reservation state machine (SPC-4 5.14): registrations in
 * insertion order, the reservation, PRgeneration, and the application of
 * a decoded PERSISTENT RESERVE OUT from one I_T nexus.
 *
 * Deliberately NOT here: CDB and parameter-list syntax (pr_decode.c), PR
 * IN data (pr_in.c), the conflict table (pr_conflict.c), raising UAs or
 * aborting tasks (the result lists them; the core does it), persistence.
 * No pointer, clock or hash order ever takes part in a decision.
 *
 * Generation (SPC-4 6.15.2): incremented by every successful REGISTER,
 * REGISTER AND IGNORE EXISTING KEY, CLEAR, PREEMPT, PREEMPT AND ABORT and
 * REGISTER AND MOVE; not by RESERVE, RELEASE, errors, conflicts, nor by a
 * REGISTER of key 0 from an unregistered nexus (a no-op, as in LIO).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pr/pr.h"

int pr_state_init(struct pr_state *st, const struct pr_config *cfg)
{
	memset(st, 0, sizeof(*st));
	st->cfg = *cfg;
	st->holder = PR_HOLDER_NONE;
	st->type = PR_TYPE_NONE;
	if (cfg->max_regs) {
		st->regs = calloc(cfg->max_regs, sizeof(*st->regs));
		if (!st->regs)
			return -ENOMEM;
	}
	return 0;
}

void pr_state_fini(struct pr_state *st)
{
	free(st->regs);
	st->regs = NULL;
	st->nregs = 0;
}

int pr_state_copy(struct pr_state *dst, const struct pr_state *src)
{
	struct pr_reg *regs = dst->regs;

	if (dst->cfg.max_regs != src->cfg.max_regs)
		return -EINVAL;
	*dst = *src;
	dst->regs = regs;
	if (src->nregs)
		memcpy(regs, src->regs, src->nregs * sizeof(*regs));
	return 0;
}

bool pr_state_equal(const struct pr_state *a, const struct pr_state *b)
{
	if (a->nregs != b->nregs || a->generation != b->generation ||
	    a->type != b->type || a->scope != b->scope ||
	    a->holder != b->holder || a->aptpl != b->aptpl ||
	    a->s2_reserved != b->s2_reserved)
		return false;
	if (a->s2_reserved &&
	    (a->s2_holder.rtpi != b->s2_holder.rtpi ||
	     !pr_tid_equal(&a->s2_holder.tid, &b->s2_holder.tid)))
		return false;
	for (uint32_t i = 0; i < a->nregs; i++) {
		const struct pr_reg *x = &a->regs[i], *y = &b->regs[i];
		if (x->key != y->key || x->rtpi != y->rtpi ||
		    x->all_tg_pt != y->all_tg_pt ||
		    !pr_tid_equal(&x->tid, &y->tid))
			return false;
	}
	return true;
}

bool pr_type_valid(uint8_t type)
{
	switch (type) {
	case PR_TYPE_WR_EX:
	case PR_TYPE_EX_AC:
	case PR_TYPE_WR_EX_RO:
	case PR_TYPE_EX_AC_RO:
	case PR_TYPE_WR_EX_AR:
	case PR_TYPE_EX_AC_AR:
		return true;
	default:
		return false;
	}
}

bool pr_type_all_registrants(uint8_t type)
{
	return type == PR_TYPE_WR_EX_AR || type == PR_TYPE_EX_AC_AR;
}

void pr_result_reset(struct pr_result *res)
{
	res->status = PR_STATUS_GOOD;
	res->reason = PR_REASON_NONE;
	memset(&res->field, 0, sizeof(res->field));
	res->field.bit = -1;
	res->ua_count = res->ua_lost = 0;
	res->abort_count = res->abort_lost = 0;
}

/* Whether two TransportIDs can name a common initiator port. */
static bool pr_tid_overlap(const struct pr_tid *a, const struct pr_tid *b)
{
	return pr_tid_match(a, b) || pr_tid_match(b, a);
}

/* Index of the registration for (tid, rtpi), or -1: an exact entry first,
 * then an ALL_TG_PT one, each in registration order. */
static int pr_reg_index(const struct pr_state *st, const struct pr_tid *tid,
			uint16_t rtpi)
{
	for (uint32_t i = 0; i < st->nregs; i++) {
		const struct pr_reg *r = &st->regs[i];
		if (!r->all_tg_pt && r->rtpi == rtpi &&
		    pr_tid_overlap(&r->tid, tid))
			return (int)i;
	}
	for (uint32_t i = 0; i < st->nregs; i++) {
		const struct pr_reg *r = &st->regs[i];
		if (r->all_tg_pt && pr_tid_overlap(&r->tid, tid))
			return (int)i;
	}
	return -1;
}

const struct pr_reg *pr_reg_find(const struct pr_state *st,
				 const struct pr_nexus *n)
{
	int i = pr_reg_index(st, &n->tid, n->rtpi);
	return i < 0 ? NULL : &st->regs[i];
}

static bool pr_state_index_is_holder(const struct pr_state *st, int idx)
{
	if (idx < 0 || st->type == PR_TYPE_NONE)
		return false;
	if (pr_type_all_registrants(st->type))
		return true;
	return st->holder == (uint32_t)idx;
}

bool pr_state_is_holder(const struct pr_state *st, const struct pr_nexus *n)
{
	return pr_state_index_is_holder(st,
					pr_reg_index(st, &n->tid, n->rtpi));
}

/* ---------------------------------------------------------------- result */

static void pr_result_fail(struct pr_result *res, enum pr_status status,
			   enum pr_reason reason)
{
	res->status = status;
	res->reason = reason;
	res->field.valid = false;
}

static void pr_result_field(struct pr_result *res, enum pr_reason reason,
			    bool cdb, uint16_t byte, int bit)
{
	pr_result_fail(res, PR_STATUS_CHECK_CONDITION, reason);
	res->field.valid = true;
	res->field.cdb = cdb;
	res->field.byte = byte;
	res->field.bit = (int8_t)bit;
}

static void pr_result_conflict(struct pr_result *res)
{
	pr_result_fail(res, PR_STATUS_RESERVATION_CONFLICT, PR_REASON_NONE);
}

bool pr_target_match(const struct pr_target *t, const struct pr_nexus *n)
{
	return (t->all_ports || t->rtpi == n->rtpi) &&
	       pr_tid_match(&t->tid, &n->tid);
}

static void pr_target_from_reg(struct pr_target *t, const struct pr_reg *r,
			       uint8_t kind)
{
	t->tid = r->tid;
	t->rtpi = r->rtpi;
	t->all_ports = r->all_tg_pt;
	t->kind = kind;
}

static void pr_result_add_ua(struct pr_result *res, const struct pr_reg *r,
			     enum pr_ua_kind kind)
{
	if (res->ua_count < res->ua_cap)
		pr_target_from_reg(&res->ua[res->ua_count++], r, (uint8_t)kind);
	else
		res->ua_lost++;
}

static void pr_result_add_abort(struct pr_result *res, const struct pr_reg *r)
{
	if (res->abort_count < res->abort_cap)
		pr_target_from_reg(&res->aborts[res->abort_count++], r, 0);
	else
		res->abort_lost++;
}

/* ----------------------------------------------------------------- state */

/* Removes regs[idx], keeping order; fixes the holder index. A removed
 * holder leaves the reservation to the caller; an all-registrants
 * reservation ends with its last registrant (SPC-4 5.14.11.2.2). */
static void pr_reg_remove(struct pr_state *st, uint32_t idx)
{
	memmove(&st->regs[idx], &st->regs[idx + 1],
		(st->nregs - idx - 1) * sizeof(st->regs[0]));
	st->nregs--;
	memset(&st->regs[st->nregs], 0, sizeof(st->regs[0]));
	if (st->holder != PR_HOLDER_NONE) {
		if (st->holder == idx)
			st->holder = PR_HOLDER_NONE;
		else if (st->holder > idx)
			st->holder--;
	}
	if (pr_type_all_registrants(st->type) && st->nregs == 0)
		st->type = PR_TYPE_NONE;
}

static uint32_t pr_reg_add(struct pr_state *st, const struct pr_tid *tid,
			   uint16_t rtpi, bool all_tg_pt, uint64_t key)
{
	struct pr_reg *r = &st->regs[st->nregs];
	memset(r, 0, sizeof(*r));
	r->tid = *tid;
	r->rtpi = rtpi;
	r->all_tg_pt = all_tg_pt;
	r->key = key;
	return st->nregs++;
}

static void pr_res_release(struct pr_state *st)
{
	st->type = PR_TYPE_NONE;
	st->scope = 0;
	st->holder = PR_HOLDER_NONE;
}

static void pr_res_establish(struct pr_state *st, uint32_t idx, uint8_t type,
			     uint8_t scope)
{
	st->type = type;
	st->scope = scope;
	st->holder = pr_type_all_registrants(type) ? PR_HOLDER_NONE : idx;
}

/* UA kind for every registration but skip (may be -1). */
static void pr_ua_all_but(struct pr_state *st, int skip, enum pr_ua_kind kind,
			  struct pr_result *res)
{
	for (uint32_t i = 0; i < st->nregs; i++)
		if ((int)i != skip)
			pr_result_add_ua(res, &st->regs[i], kind);
}

/* Unregisters regs[idx] on the request of its own nexus (SPC-4 5.14.11.3:
 * a holder that unregisters releases its reservation; registrants-only
 * types then tell the remaining registrants). */
static void pr_out_unregister(struct pr_state *st, uint32_t idx,
			      struct pr_result *res)
{
	uint8_t type = st->type;
	bool was_holder = st->holder == idx;
	pr_reg_remove(st, idx);
	if (!was_holder)
		return;
	pr_res_release(st);
	if (type == PR_TYPE_WR_EX_RO || type == PR_TYPE_EX_AC_RO)
		pr_ua_all_but(st, -1, PR_UA_RESERVATIONS_RELEASED, res);
}

/* ----------------------------------------------------------- REGISTER */

static bool pr_ports_overlap(uint16_t a, bool a_all, uint16_t b, bool b_all)
{
	return a_all || b_all || a == b;
}

/* Whether (tid, rtpi/all) names a nexus already registered. */
static bool pr_reg_taken(const struct pr_state *st, const struct pr_tid *tid,
			 uint16_t rtpi, bool all)
{
	for (uint32_t i = 0; i < st->nregs; i++) {
		const struct pr_reg *r = &st->regs[i];
		if (pr_ports_overlap(r->rtpi, r->all_tg_pt, rtpi, all) &&
		    pr_tid_overlap(&r->tid, tid))
			return true;
	}
	return false;
}

/* SPC-4 5.14.7 and 6.16.3: REGISTER (ignore = false) and REGISTER AND
 * IGNORE EXISTING KEY (ignore = true). */
static void pr_out_register(struct pr_state *st, const struct pr_nexus *n,
			    const struct pr_out_req *req, bool ignore,
			    struct pr_result *res)
{
	int idx = pr_reg_index(st, &n->tid, n->rtpi);

	if (idx >= 0) {
		struct pr_reg *r = &st->regs[idx];
		if (!ignore && req->key != r->key) {
			pr_result_conflict(res);
			return;
		}
		/* A registered nexus cannot register others (LIO answers the
		 * same; SPC-4 5.14.7 table 39 lists it as an error). */
		if (req->spec_i_pt) {
			pr_result_field(res,
				PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 20, 3);
			return;
		}
		if (req->aptpl && !st->cfg.ptpl_c) {
			pr_result_field(res,
				PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 20, 0);
			return;
		}
		if (req->sa_key == 0)
			pr_out_unregister(st, (uint32_t)idx, res);
		else
			r->key = req->sa_key;
		st->aptpl = req->aptpl;
		st->generation++;
		return;
	}

	/* not registered (SPC-4 5.14.7, table 38) */
	if (!ignore && req->key != 0) {
		pr_result_conflict(res);
		return;
	}
	if (req->aptpl && !st->cfg.ptpl_c) {
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 20, 0);
		return;
	}
	if (req->sa_key == 0)
		return; /* unregistering nothing: GOOD, nothing changes */

	/* ALL_TG_PT acts "as if received through each target port" (SPC-4
	 * 6.16.3): where this initiator port is registered already, REGISTER
	 * (RESERVATION KEY 0) conflicts; REGISTER AND IGNORE replaces those
	 * keys, and those entries stay (holder included). */
	uint32_t elsewhere = 0;
	if (req->all_tg_pt)
		for (uint32_t i = 0; i < st->nregs; i++)
			elsewhere += pr_tid_overlap(&st->regs[i].tid, &n->tid);
	if (elsewhere && !ignore) {
		pr_result_conflict(res);
		return;
	}

	/* SPEC_I_PT: all or none (SPC-4 6.16.3: "if a registration fails for
	 * any initiator port ... no registrations shall be made"). A
	 * TransportID naming an I_T nexus already registered (through this
	 * port, or through every port with ALL_TG_PT), the issuing one, or one
	 * named earlier in the list fails the whole list with INVALID FIELD
	 * IN PARAMETER LIST at that TransportID (SPC-4 5.14.7; LIO skips such
	 * TransportIDs, SCST rewrites their key: docs/design-notes.md). */
	uint32_t ntids = req->spec_i_pt ? req->ntids : 0;
	for (uint32_t i = 0; i < ntids; i++) {
		const struct pr_tid *t = &req->tids[i];
		bool dup = pr_reg_taken(st, t, n->rtpi, req->all_tg_pt) ||
			   pr_tid_overlap(t, &n->tid);
		for (uint32_t j = 0; j < i && !dup; j++)
			dup = pr_tid_overlap(t, &req->tids[j]);
		if (dup) {
			pr_result_field(res,
				PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
				req->tid_off[i], -1);
			return;
		}
	}
	if (st->nregs + 1 + ntids > st->cfg.max_regs) {
		pr_result_fail(res, PR_STATUS_CHECK_CONDITION,
			       PR_REASON_INSUFFICIENT_REG_RESOURCES);
		return;
	}
	for (uint32_t i = 0; elsewhere && i < st->nregs; i++)
		if (pr_tid_overlap(&st->regs[i].tid, &n->tid))
			st->regs[i].key = req->sa_key;
	pr_reg_add(st, &n->tid, n->rtpi, req->all_tg_pt, req->sa_key);
	for (uint32_t i = 0; i < ntids; i++)
		pr_reg_add(st, &req->tids[i], n->rtpi, req->all_tg_pt,
			   req->sa_key);
	st->aptpl = req->aptpl;
	st->generation++;
}

/* ------------------------------------------------------ RESERVE, RELEASE */

/* The issuer's registration if its RESERVATION KEY matches, else -1 with
 * RESERVATION CONFLICT (SPC-4 5.14.7.1: every service action but the
 * REGISTERs needs a registered nexus and its key). */
static int pr_out_issuer(const struct pr_state *st, const struct pr_nexus *n,
			 const struct pr_out_req *req, struct pr_result *res)
{
	int idx = pr_reg_index(st, &n->tid, n->rtpi);
	if (idx < 0 || st->regs[idx].key != req->key) {
		pr_result_conflict(res);
		return -1;
	}
	return idx;
}

/* SPC-4 5.14.9 */
static void pr_out_reserve(struct pr_state *st, const struct pr_nexus *n,
			   const struct pr_out_req *req, struct pr_result *res)
{
	int idx = pr_out_issuer(st, n, req, res);
	if (idx < 0)
		return;
	if (st->type == PR_TYPE_NONE) {
		pr_res_establish(st, (uint32_t)idx, req->type, req->scope);
		return;
	}
	/* the holder may repeat its own reservation, nothing else */
	if (!pr_state_index_is_holder(st, idx) || st->type != req->type ||
	    st->scope != req->scope)
		pr_result_conflict(res);
}

/* SPC-4 5.14.11.2 */
static void pr_out_release(struct pr_state *st, const struct pr_nexus *n,
			   const struct pr_out_req *req, struct pr_result *res)
{
	int idx = pr_out_issuer(st, n, req, res);
	if (idx < 0)
		return;
	/* no reservation, or not the holder: GOOD, nothing released */
	if (!pr_state_index_is_holder(st, idx))
		return;
	if (st->type != req->type || st->scope != req->scope) {
		pr_result_fail(res, PR_STATUS_CHECK_CONDITION,
			       PR_REASON_INVALID_RELEASE);
		return;
	}
	uint8_t type = st->type;
	pr_res_release(st);
	if (type != PR_TYPE_WR_EX && type != PR_TYPE_EX_AC)
		pr_ua_all_but(st, idx, PR_UA_RESERVATIONS_RELEASED, res);
}

/* SPC-4 5.14.11.3 */
static void pr_out_clear(struct pr_state *st, const struct pr_nexus *n,
			 const struct pr_out_req *req, struct pr_result *res)
{
	int idx = pr_out_issuer(st, n, req, res);
	if (idx < 0)
		return;
	pr_ua_all_but(st, idx, PR_UA_RESERVATIONS_PREEMPTED, res);
	pr_res_release(st);
	if (st->nregs)
		memset(st->regs, 0, st->nregs * sizeof(st->regs[0]));
	st->nregs = 0;
	st->generation++;
}

/* ------------------------------------------------------------- PREEMPT */

/* Removes every registration whose key is key (all of them but keep when
 * all is set), keeping *keep pointing at the issuer (or -1 if it went).
 * UAs REGISTRATIONS PREEMPTED and aborts go to every removed one but the
 * issuer. */
static void pr_out_preempt_remove(struct pr_state *st, uint64_t key, bool all,
				  int *keep, bool self_too, bool abort,
				  struct pr_result *res)
{
	uint32_t i = 0;
	while (i < st->nregs) {
		struct pr_reg *r = &st->regs[i];
		bool issuer = (int)i == *keep;
		if ((!all && r->key != key) || (issuer && !self_too)) {
			i++;
			continue;
		}
		if (!issuer) {
			pr_result_add_ua(res, r, PR_UA_REGISTRATIONS_PREEMPTED);
			if (abort)
				pr_result_add_abort(res, r);
		}
		pr_reg_remove(st, i);
		if (issuer)
			*keep = -1;
		else if (*keep > (int)i)
			(*keep)--;
	}
}

/* SPC-4 5.14.11.4 (PREEMPT) and 5.14.11.5 (PREEMPT AND ABORT). */
static void pr_out_preempt(struct pr_state *st, const struct pr_nexus *n,
			   const struct pr_out_req *req, bool abort,
			   struct pr_result *res)
{
	int idx = pr_out_issuer(st, n, req, res);
	if (idx < 0)
		return;
	bool ar = st->type != PR_TYPE_NONE && pr_type_all_registrants(st->type);

	/* SPC-4 5.14.11.4.1: SERVICE ACTION RESERVATION KEY 0 preempts an
	 * all-registrants reservation and is invalid otherwise. */
	if (req->sa_key == 0 && !ar) {
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 8, -1);
		return;
	}
	bool preempt_res = ar ? req->sa_key == 0 :
		st->type != PR_TYPE_NONE &&
		st->regs[st->holder].key == req->sa_key;

	if (!preempt_res) {
		/* 5.14.11.4.3: remove the registrations of that key; the
		 * reservation (if any, all-registrants) stays with the rest */
		bool found = false;
		for (uint32_t i = 0; i < st->nregs; i++)
			found |= st->regs[i].key == req->sa_key;
		if (!found) {
			pr_result_conflict(res);
			return;
		}
		pr_out_preempt_remove(st, req->sa_key, false, &idx, true,
				      abort, res);
		st->generation++;
		return;
	}

	/* 5.14.11.4.2: preempt the reservation. The issuer keeps its own
	 * registration even when its key is the one preempted. */
	uint8_t old_type = st->type, old_scope = st->scope;
	pr_out_preempt_remove(st, req->sa_key, ar, &idx, false, abort, res);
	pr_res_establish(st, (uint32_t)idx, req->type, req->scope);
	if (old_type != req->type || old_scope != req->scope)
		pr_ua_all_but(st, idx, PR_UA_RESERVATIONS_RELEASED, res);
	st->generation++;
}

/* ---------------------------------------------------- REGISTER AND MOVE */

/* SPC-4 5.14.8 */
static void pr_out_register_and_move(struct pr_state *st,
				     const struct pr_nexus *n,
				     const struct pr_out_req *req,
				     struct pr_result *res)
{
	int idx = pr_out_issuer(st, n, req, res);
	if (idx < 0)
		return;
	/* only the holder of a non all-registrants reservation moves it */
	if (st->type == PR_TYPE_NONE || pr_type_all_registrants(st->type) ||
	    !pr_state_index_is_holder(st, idx)) {
		pr_result_conflict(res);
		return;
	}
	if (req->sa_key == 0) {
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 8, -1);
		return;
	}
	if (req->aptpl && !st->cfg.ptpl_c) {
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, 17, 0);
		return;
	}
	const struct pr_tid *dt = &req->tids[0];
	const struct pr_reg *ir = &st->regs[idx];
	/* the destination may not be the issuing nexus */
	if (pr_tid_overlap(dt, &n->tid) &&
	    pr_ports_overlap(req->move_rtpi, false, n->rtpi, ir->all_tg_pt)) {
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				false, req->tid_off[0], -1);
		return;
	}
	int didx = pr_reg_index(st, dt, req->move_rtpi);
	if (didx < 0) {
		if (st->nregs >= st->cfg.max_regs) {
			pr_result_fail(res, PR_STATUS_CHECK_CONDITION,
				       PR_REASON_INSUFFICIENT_REG_RESOURCES);
			return;
		}
		/* an unregistered destination gets the SA key */
		didx = (int)pr_reg_add(st, dt, req->move_rtpi, false,
				       req->sa_key);
	}
	pr_res_establish(st, (uint32_t)didx, req->type, req->scope);
	if (req->unreg) {
		pr_reg_remove(st, (uint32_t)idx);
		/* the holder index moved if the issuer was before it */
	}
	st->aptpl = req->aptpl;
	st->generation++;
}

void pr_out_apply(struct pr_state *st, const struct pr_nexus *n,
		  const struct pr_out_req *req, struct pr_result *res)
{
	pr_result_reset(res);
	switch (req->sa) {
	case PR_OUT_REGISTER:
		pr_out_register(st, n, req, false, res);
		break;
	case PR_OUT_REGISTER_AND_IGNORE:
		pr_out_register(st, n, req, true, res);
		break;
	case PR_OUT_RESERVE:
		pr_out_reserve(st, n, req, res);
		break;
	case PR_OUT_RELEASE:
		pr_out_release(st, n, req, res);
		break;
	case PR_OUT_CLEAR:
		pr_out_clear(st, n, req, res);
		break;
	case PR_OUT_PREEMPT:
		pr_out_preempt(st, n, req, false, res);
		break;
	case PR_OUT_PREEMPT_AND_ABORT:
		pr_out_preempt(st, n, req, true, res);
		break;
	case PR_OUT_REGISTER_AND_MOVE:
		pr_out_register_and_move(st, n, req, res);
		break;
	default:
		/* REPLACE LOST RESERVATION and beyond (see pr_decode.c) */
		pr_result_field(res, PR_REASON_INVALID_FIELD_IN_CDB, true, 1, 4);
		break;
	}
}
