/*
 * The replicated state of one clustered logical unit (lu_repl.h): apply a
 * message, report its effects as data, save and load the state as
 * canonical bytes.
 *
 * Deliberately NOT here: the PR rules themselves (src/pr decides PR OUT,
 * RESERVE and RELEASE), the message codec (lu_repl_msg.c), acting on the
 * effects (the glue raises UAs, aborts tasks, writes APTPL files). No
 * clock, pointer or local fact takes part in a decision: only the state,
 * the message and the port check, itself a function of the replicated
 * port directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pr/pr_aptpl.h"
#include "scsi/lu_repl.h"
#include "scsi/lu_repl_codec.h"

#define LU_REPL_MAGIC "CTLU"
#define LU_REPL_CFG_PTPL_C 0x01u
#define LU_REPL_CFG_CRH 0x02u
#define LU_REPL_ST_APTPL 0x01u
#define LU_REPL_ST_S2 0x02u
#define LU_REPL_REG_ALL_TG_PT 0x01u

int lu_repl_init(struct lu_repl *lu, const struct pr_config *cfg)
{
	memset(lu, 0, sizeof(*lu));
	return pr_state_init(&lu->pr, cfg);
}

void lu_repl_fini(struct lu_repl *lu)
{
	pr_state_fini(&lu->pr);
}

void lu_repl_reset(struct lu_repl *lu)
{
	struct pr_reg *regs = lu->pr.regs;
	struct pr_config cfg = lu->pr.cfg;

	if (regs)
		memset(regs, 0, cfg.max_regs * sizeof(*regs));
	memset(lu, 0, sizeof(*lu));
	lu->pr.cfg = cfg;
	lu->pr.regs = regs;
	lu->pr.holder = PR_HOLDER_NONE;
	lu->pr.type = PR_TYPE_NONE;
}

void lu_repl_effects_reset(struct lu_repl_effects *fx)
{
	pr_result_reset(&fx->pr);
	fx->has_issuer = false;
	memset(&fx->issuer, 0, sizeof(fx->issuer));
	fx->ua_all = false;
	fx->ua_all_kind = 0;
	fx->abort_all = false;
	fx->lun_reset = false;
	fx->s2_released = false;
	fx->persist = false;
	fx->persist_epoch = 0;
	fx->persist_generation = 0;
}

bool lu_repl_equal(const struct lu_repl *a, const struct lu_repl *b)
{
	return a->lun_resets == b->lun_resets &&
	       a->aptpl_epoch == b->aptpl_epoch &&
	       a->aptpl_generation == b->aptpl_generation &&
	       pr_state_equal(&a->pr, &b->pr);
}

/* ----------------------------------------------------------------- apply */

static void lu_repl_fx_issuer(struct lu_repl_effects *fx,
			      const struct pr_nexus *n)
{
	fx->has_issuer = true;
	fx->issuer = *n;
}

static void lu_repl_fx_status(struct lu_repl_effects *fx,
			      enum pr_status status)
{
	fx->pr.status = status;
	fx->pr.reason = PR_REASON_NONE;
}

/* PERSISTENT RESERVE OUT, judged against the state at its place in the
 * order (the issuing node's gates ran against an older state). */
static void lu_repl_apply_pr_out(struct lu_repl *lu, const struct lu_repl_msg *m,
				 lu_repl_port_fn port_exists, void *port_arg,
				 struct lu_repl_effects *fx)
{
	struct pr_state *st = &lu->pr;
	bool was_aptpl = st->aptpl;

	lu_repl_fx_issuer(fx, &m->nexus);
	/* SPC-2 5.5.1: while a SCSI-2 reservation is held, every PERSISTENT
	 * RESERVE OUT conflicts, from any nexus (the holder too). A RESERVE
	 * ordered before this PR OUT wins even if the issuer's gate saw no
	 * reservation. */
	if (st->s2_reserved) {
		lu_repl_fx_status(fx, PR_STATUS_RESERVATION_CONFLICT);
		return;
	}
	/* SPC-4 6.16.4: REGISTER AND MOVE to a RELATIVE TARGET PORT
	 * IDENTIFIER that names no target port (of any node: the cluster is
	 * one SCSI target device): INVALID FIELD IN PARAMETER LIST at byte
	 * 18, as spc_pr.c answers it, before any other check. */
	if (m->req.sa == PR_OUT_REGISTER_AND_MOVE &&
	    !(port_exists && port_exists(port_arg, m->req.move_rtpi))) {
		fx->pr.status = PR_STATUS_CHECK_CONDITION;
		fx->pr.reason = PR_REASON_INVALID_FIELD_IN_PARAM_LIST;
		fx->pr.field.valid = true;
		fx->pr.field.cdb = false;
		fx->pr.field.byte = 18;
		fx->pr.field.bit = -1;
		return;
	}
	pr_out_apply(st, &m->nexus, &m->req, &fx->pr);
	/* SPC-4 5.14.5: with APTPL 1 the new state must survive a power
	 * loss; a command that set APTPL to 0 writes the image that says
	 * nothing survives (spc_pr.c's rule). */
	if (fx->pr.status == PR_STATUS_GOOD && st->cfg.ptpl_c &&
	    (was_aptpl || st->aptpl)) {
		fx->persist = true;
		fx->persist_epoch = ++lu->aptpl_epoch;
		fx->persist_generation = lu->aptpl_generation = st->generation;
	}
}

static void lu_repl_s2_end(struct lu_repl *lu, const struct pr_nexus *n,
			   struct lu_repl_effects *fx)
{
	bool was = lu->pr.s2_reserved;

	pr_scsi2_reset(&lu->pr, n);
	fx->s2_released = was && !lu->pr.s2_reserved;
}

/* SAM-5 6.3.3 (logical unit reset) for LOGICAL UNIT RESET (SAM-5 7.7):
 * abort every task of the LU on every I_T nexus, end the SCSI-2
 * reservation (SPC-2 5.5.1; persistent reservations stay, SPC-4 5.14.1),
 * and UA 29/03 BUS DEVICE RESET FUNCTION OCCURRED on every I_T nexus of
 * the LU, on every node. */
static void lu_repl_apply_lun_reset(struct lu_repl *lu,
				    const struct lu_repl_msg *m,
				    struct lu_repl_effects *fx)
{
	bool target = m->type == LU_REPL_MSG_TARGET_RESET;

	lu_repl_fx_issuer(fx, &m->nexus);
	lu_repl_s2_end(lu, NULL, fx);
	lu->lun_resets++;
	fx->lun_reset = true;
	fx->abort_all = true;
	fx->ua_all = true;
	/* SAM-5 6.3.2: a target reset's UA is 29/00 on each LU it covers. */
	fx->ua_all_kind = target ? LU_REPL_UA_POWER_ON : LU_REPL_UA_LUN_RESET;
}

/* A node left the view: a SCSI-2 reservation held through one of its
 * ports ends (its I_T nexuses are lost, SAM-5 6.3.4; SPC-2 5.5.1). PR
 * registrations and the persistent reservation stay (SPC-4 5.14.1: they
 * survive I_T nexus loss). */
static void lu_repl_apply_node_left(struct lu_repl *lu,
				    const struct lu_repl_msg *m,
				    struct lu_repl_effects *fx)
{
	if (!lu->pr.s2_reserved)
		return;
	for (uint32_t i = 0; i < m->nrtpis && i < LU_REPL_NODE_RTPIS_MAX;
	     i++) {
		if (lu->pr.s2_holder.rtpi == m->rtpis[i]) {
			lu_repl_s2_end(lu, NULL, fx);
			return;
		}
	}
}

void lu_repl_apply(struct lu_repl *lu, const struct lu_repl_msg *m,
		   lu_repl_port_fn port_exists, void *port_arg,
		   struct lu_repl_effects *fx)
{
	lu_repl_effects_reset(fx);
	switch (m->type) {
	case LU_REPL_MSG_PR_OUT:
		lu_repl_apply_pr_out(lu, m, port_exists, port_arg, fx);
		break;
	case LU_REPL_MSG_SCSI2_RESERVE:
		lu_repl_fx_issuer(fx, &m->nexus);
		lu_repl_fx_status(fx, pr_scsi2_reserve(&lu->pr, &m->nexus));
		break;
	case LU_REPL_MSG_SCSI2_RELEASE: {
		bool was = lu->pr.s2_reserved;

		lu_repl_fx_issuer(fx, &m->nexus);
		lu_repl_fx_status(fx, pr_scsi2_release(&lu->pr, &m->nexus));
		fx->s2_released = was && !lu->pr.s2_reserved;
		break;
	}
	case LU_REPL_MSG_LUN_RESET:
	case LU_REPL_MSG_TARGET_RESET:
		lu_repl_apply_lun_reset(lu, m, fx);
		break;
	case LU_REPL_MSG_NEXUS_LOSS:
		/* SAM-5 6.3.4: the lost nexus's SCSI-2 reservation ends;
		 * its tasks are aborted by the node that held the nexus. */
		lu_repl_s2_end(lu, &m->nexus, fx);
		break;
	case LU_REPL_MSG_NODE_LEFT:
		lu_repl_apply_node_left(lu, m, fx);
		break;
	default:
		fx->pr.status = PR_STATUS_CHECK_CONDITION;
		fx->pr.reason = PR_REASON_NONE;
		break;
	}
}

/* ------------------------------------------------------ per-nexus effects */

static bool lu_repl_fx_is_issuer(const struct lu_repl_effects *fx,
				 const struct pr_nexus *n)
{
	return fx->has_issuer && fx->issuer.rtpi == n->rtpi &&
	       pr_tid_equal(&fx->issuer.tid, &n->tid);
}

uint32_t lu_repl_effects_ua_for(const struct lu_repl_effects *fx,
				const struct pr_nexus *n)
{
	uint32_t mask = 0;

	if (fx->ua_all)
		mask |= 1u << fx->ua_all_kind;
	if (lu_repl_fx_is_issuer(fx, n))
		return mask;
	for (uint32_t i = 0; i < fx->pr.ua_count && i < fx->pr.ua_cap; i++)
		if (pr_target_match(&fx->pr.ua[i], n))
			mask |= 1u << fx->pr.ua[i].kind;
	return mask;
}

bool lu_repl_effects_abort_for(const struct lu_repl_effects *fx,
			       const struct pr_nexus *n)
{
	if (fx->abort_all)
		return true;
	if (lu_repl_fx_is_issuer(fx, n))
		return false;
	for (uint32_t i = 0; i < fx->pr.abort_count && i < fx->pr.abort_cap;
	     i++)
		if (pr_target_match(&fx->pr.aborts[i], n))
			return true;
	return false;
}

/* ------------------------------------------------------------- snapshot */

int lu_repl_save(const struct lu_repl *lu, void **data, size_t *len)
{
	const struct pr_state *st = &lu->pr;
	struct lu_repl_wr w = { .grow = true };

	lu_repl_wr_bytes(&w, LU_REPL_MAGIC, 4);
	lu_repl_wr_be(&w, LU_REPL_VERSION, 2);
	lu_repl_wr_be(&w, 0, 2);
	lu_repl_wr_be(&w, st->cfg.max_regs, 4);
	lu_repl_wr_be(&w, (st->cfg.ptpl_c ? LU_REPL_CFG_PTPL_C : 0) |
			  (st->cfg.crh ? LU_REPL_CFG_CRH : 0), 1);
	lu_repl_wr_be(&w, 0, 3);
	lu_repl_wr_be(&w, lu->lun_resets, 8);
	lu_repl_wr_be(&w, lu->aptpl_epoch, 8);
	lu_repl_wr_be(&w, lu->aptpl_generation, 4);
	lu_repl_wr_be(&w, st->generation, 4);
	lu_repl_wr_be(&w, st->nregs, 4);
	lu_repl_wr_be(&w, st->holder, 4);
	lu_repl_wr_be(&w, st->type, 1);
	lu_repl_wr_be(&w, st->scope, 1);
	lu_repl_wr_be(&w, (st->aptpl ? LU_REPL_ST_APTPL : 0) |
			  (st->s2_reserved ? LU_REPL_ST_S2 : 0), 1);
	lu_repl_wr_be(&w, 0, 1);
	if (st->s2_reserved) {
		lu_repl_wr_be(&w, st->s2_holder.rtpi, 2);
		lu_repl_wr_tid(&w, &st->s2_holder.tid);
	}
	for (uint32_t i = 0; i < st->nregs; i++) {
		const struct pr_reg *r = &st->regs[i];

		lu_repl_wr_be(&w, r->key, 8);
		lu_repl_wr_be(&w, r->rtpi, 2);
		lu_repl_wr_be(&w, r->all_tg_pt ? LU_REPL_REG_ALL_TG_PT : 0, 1);
		lu_repl_wr_be(&w, 0, 1);
		lu_repl_wr_tid(&w, &r->tid);
	}
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*data = w.p;
	*len = w.pos;
	return 0;
}

/* The header fields after the configuration, checked against each other
 * (the same rules as pr_aptpl_decode, SPC-4 6.15.3.3, 5.14.10). */
static int lu_repl_load_check(const struct pr_state *sc, uint32_t nregs)
{
	if (nregs > sc->cfg.max_regs)
		return -EINVAL;
	if (sc->type != PR_TYPE_NONE && !pr_type_valid(sc->type))
		return -EINVAL;
	if (sc->scope != PR_SCOPE_LU)
		return -EINVAL;
	if (sc->type == PR_TYPE_NONE || pr_type_all_registrants(sc->type)) {
		if (sc->holder != PR_HOLDER_NONE)
			return -EINVAL;
		if (pr_type_all_registrants(sc->type) && nregs == 0)
			return -EINVAL;
	} else if (sc->holder >= nregs) {
		return -EINVAL;
	}
	/* pr_out_register refuses APTPL 1 without PTPL_C */
	if (sc->aptpl && !sc->cfg.ptpl_c)
		return -EINVAL;
	return 0;
}

int lu_repl_load(struct lu_repl *lu, const void *data, size_t len)
{
	struct lu_repl_rd r = { .p = data, .len = len };
	struct lu_repl sc;
	uint32_t max_regs, nregs;
	uint8_t cfgf, stf;
	int rc;

	if (len < 4)
		return -ENODATA;
	if (memcmp(data, LU_REPL_MAGIC, 4) != 0)
		return -EINVAL;
	r.pos = 4;
	if (lu_repl_rd_be(&r, 2) != LU_REPL_VERSION)
		return r.err ? r.err : -EPROTONOSUPPORT;
	if (lu_repl_rd_be(&r, 2) != 0)
		return r.err ? r.err : -EINVAL;
	max_regs = (uint32_t)lu_repl_rd_be(&r, 4);
	cfgf = (uint8_t)lu_repl_rd_be(&r, 1);
	if (lu_repl_rd_be(&r, 3) != 0)
		return r.err ? r.err : -EINVAL;
	if (r.err)
		return r.err;
	/* Every node configures the LU alike; a snapshot from a node that
	 * does not would make the states diverge. */
	if ((cfgf & ~(LU_REPL_CFG_PTPL_C | LU_REPL_CFG_CRH)) ||
	    max_regs != lu->pr.cfg.max_regs ||
	    !(cfgf & LU_REPL_CFG_PTPL_C) != !lu->pr.cfg.ptpl_c ||
	    !(cfgf & LU_REPL_CFG_CRH) != !lu->pr.cfg.crh)
		return -EINVAL;

	rc = lu_repl_init(&sc, &lu->pr.cfg);
	if (rc)
		return rc;
	sc.lun_resets = lu_repl_rd_be(&r, 8);
	sc.aptpl_epoch = lu_repl_rd_be(&r, 8);
	sc.aptpl_generation = (uint32_t)lu_repl_rd_be(&r, 4);
	sc.pr.generation = (uint32_t)lu_repl_rd_be(&r, 4);
	nregs = (uint32_t)lu_repl_rd_be(&r, 4);
	sc.pr.holder = (uint32_t)lu_repl_rd_be(&r, 4);
	sc.pr.type = (uint8_t)lu_repl_rd_be(&r, 1);
	sc.pr.scope = (uint8_t)lu_repl_rd_be(&r, 1);
	stf = (uint8_t)lu_repl_rd_be(&r, 1);
	if (lu_repl_rd_be(&r, 1) != 0)
		lu_repl_rd_bad(&r);
	if (!r.err && (stf & ~(LU_REPL_ST_APTPL | LU_REPL_ST_S2)))
		r.err = -EINVAL;
	sc.pr.aptpl = stf & LU_REPL_ST_APTPL;
	sc.pr.s2_reserved = stf & LU_REPL_ST_S2;
	if (!r.err)
		r.err = lu_repl_load_check(&sc.pr, nregs);
	if (sc.pr.s2_reserved && !r.err) {
		sc.pr.s2_holder.rtpi = (uint16_t)lu_repl_rd_be(&r, 2);
		lu_repl_rd_tid(&r, &sc.pr.s2_holder.tid);
		/* a nexus: an initiator port (PORT format), RTPI not 0 */
		if (!r.err && (sc.pr.s2_holder.rtpi == 0 ||
			       sc.pr.s2_holder.tid.format != PR_TID_FORMAT_PORT))
			r.err = -EINVAL;
	}
	for (uint32_t i = 0; i < nregs && !r.err; i++) {
		struct pr_reg *g = &sc.pr.regs[i];

		g->key = lu_repl_rd_be(&r, 8);
		g->rtpi = (uint16_t)lu_repl_rd_be(&r, 2);
		uint8_t f = (uint8_t)lu_repl_rd_be(&r, 1);
		if (lu_repl_rd_be(&r, 1) != 0)
			lu_repl_rd_bad(&r);
		lu_repl_rd_tid(&r, &g->tid);
		if (r.err)
			break;
		g->all_tg_pt = f & LU_REPL_REG_ALL_TG_PT;
		/* SPC-4 5.14.7: keys are never 0; RTPI 0 is reserved */
		if ((f & ~LU_REPL_REG_ALL_TG_PT) || g->key == 0 ||
		    g->rtpi == 0 || pr_aptpl_reg_dup(sc.pr.regs, i, g))
			r.err = -EINVAL;
		else
			sc.pr.nregs = i + 1;
	}
	rc = r.err;
	if (!rc && r.pos != len)
		rc = -EINVAL;
	if (!rc) {
		rc = pr_state_copy(&lu->pr, &sc.pr);
		if (!rc) {
			lu->lun_resets = sc.lun_resets;
			lu->aptpl_epoch = sc.aptpl_epoch;
			lu->aptpl_generation = sc.aptpl_generation;
		}
	}
	lu_repl_fini(&sc);
	return rc;
}
