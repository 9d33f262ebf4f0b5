/*
 * SCSI-2 reservations (SPC-2 5.5.1, 7.17, 7.21): RESERVE(6)/(10) and
 * RELEASE(6)/(10) of the whole logical unit by one I_T nexus, and how they
 * meet persistent reservations (SPC-4 5.14.3, compatible reservation
 * handling, CRH).
 *
 * Deliberately NOT here: which commands a SCSI-2 reservation lets through
 * (the core's gate knows its opcodes), third-party and extent
 * reservations (refused by the core's CDB decode), the cluster (a
 * departed node's reservation is ended by the caller via pr_scsi2_reset).
 */
#include <string.h>

#include "pr/pr.h"

static bool pr_scsi2_is_holder(const struct pr_state *st,
			       const struct pr_nexus *n)
{
	return st->s2_reserved && st->s2_holder.rtpi == n->rtpi &&
	       pr_tid_equal(&st->s2_holder.tid, &n->tid);
}

/*
 * SPC-4 5.14.3: with PR registrations present, RESERVE and RELEASE
 * complete with GOOD and no effect from a PR holder or from a registrant
 * of a registrants-only / all-registrants reservation (CRH = 1 only), and
 * conflict from everyone else (SPC-2 5.5.1). Returns true when the PR
 * state decided (*status set), false to go on with SPC-2.
 */
static bool pr_scsi2_pr_decides(const struct pr_state *st,
				const struct pr_nexus *n,
				enum pr_status *status)
{
	if (st->nregs == 0)
		return false;
	*status = PR_STATUS_RESERVATION_CONFLICT;
	if (!st->cfg.crh)
		return true;
	if (pr_state_is_holder(st, n) ||
	    (pr_reg_find(st, n) && st->type != PR_TYPE_NONE &&
	     st->type != PR_TYPE_WR_EX && st->type != PR_TYPE_EX_AC))
		*status = PR_STATUS_GOOD;
	return true;
}

enum pr_status pr_scsi2_reserve(struct pr_state *st, const struct pr_nexus *n)
{
	enum pr_status status;
	if (pr_scsi2_pr_decides(st, n, &status))
		return status;
	if (st->s2_reserved && !pr_scsi2_is_holder(st, n))
		return PR_STATUS_RESERVATION_CONFLICT;
	st->s2_reserved = true;
	st->s2_holder = *n;
	return PR_STATUS_GOOD;
}

enum pr_status pr_scsi2_release(struct pr_state *st, const struct pr_nexus *n)
{
	enum pr_status status;
	if (pr_scsi2_pr_decides(st, n, &status))
		return status;
	/* SPC-2 7.17: releasing what one does not hold is GOOD, a no-op */
	if (pr_scsi2_is_holder(st, n))
		pr_scsi2_reset(st, NULL);
	return PR_STATUS_GOOD;
}

bool pr_scsi2_conflict(const struct pr_state *st, const struct pr_nexus *n)
{
	return st->s2_reserved && !pr_scsi2_is_holder(st, n);
}

void pr_scsi2_reset(struct pr_state *st, const struct pr_nexus *n)
{
	if (n && !pr_scsi2_is_holder(st, n))
		return;
	st->s2_reserved = false;
	memset(&st->s2_holder, 0, sizeof(st->s2_holder));
}
