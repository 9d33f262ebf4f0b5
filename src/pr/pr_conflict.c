/*
 * The command-vs-reservation conflict check (SPC-4 5.14.2, table 63) as a
 * table: reservation type x role of the issuing nexus x command class;
 * plus the one SPC-2 rule about persistent-reservation commands: none
 * runs while a SCSI-2 reservation is held (SPC-2 5.5.1).
 *
 * Deliberately NOT here: which command is in which class (the core's
 * opcode table carries that), which commands other nexuses may send
 * under a SCSI-2 reservation (the core's gate, SCSI_OPF_S2_OK rows), the
 * RESERVE/RELEASE exceptions under PRs (pr_scsi2.c), PR OUT service
 * action rules (pr_out_apply decides those).
 */
#include "pr/pr.h"

#define A true  /* allowed */
#define C false /* conflict */

/* One row per type, for a nexus that is not a holder:
 * [registered][class], class order of enum pr_class. */
struct pr_conflict_row {
	uint8_t type;
	bool allowed[2][PR_CLASS_COUNT];
};

/* SPC-4 5.14.2, table 63 condensed. Columns: ALLOWED READ WRITE CONFLICT
 * PR_IN PR_OUT. Row [0]: registered non-holder, [1]: not registered. */
static const struct pr_conflict_row pr_conflict_table[] = {
	{ PR_TYPE_WR_EX,    { { A, A, C, C, A, A }, { A, A, C, C, A, A } } },
	{ PR_TYPE_EX_AC,    { { A, C, C, C, A, A }, { A, C, C, C, A, A } } },
	/* registrants only: a registrant has full access */
	{ PR_TYPE_WR_EX_RO, { { A, A, A, A, A, A }, { A, A, C, C, A, A } } },
	{ PR_TYPE_EX_AC_RO, { { A, A, A, A, A, A }, { A, C, C, C, A, A } } },
	/* all registrants: registrants are holders, the row [0] is unused */
	{ PR_TYPE_WR_EX_AR, { { A, A, A, A, A, A }, { A, A, C, C, A, A } } },
	{ PR_TYPE_EX_AC_AR, { { A, A, A, A, A, A }, { A, C, C, C, A, A } } },
};

#undef A
#undef C

bool pr_conflict_allowed(uint8_t type, enum pr_role role, enum pr_class cls)
{
	if ((unsigned)cls >= PR_CLASS_COUNT)
		return false;
	if (type == PR_TYPE_NONE || role == PR_ROLE_HOLDER)
		return true;
	for (size_t i = 0; i < sizeof(pr_conflict_table) /
			       sizeof(pr_conflict_table[0]); i++) {
		const struct pr_conflict_row *r = &pr_conflict_table[i];
		if (r->type == type)
			return r->allowed[role == PR_ROLE_REGISTERED ? 0 : 1][cls];
	}
	return false;
}

enum pr_role pr_state_role(const struct pr_state *st, const struct pr_nexus *n)
{
	if (pr_state_is_holder(st, n))
		return PR_ROLE_HOLDER;
	return pr_reg_find(st, n) ? PR_ROLE_REGISTERED : PR_ROLE_NOT_REGISTERED;
}

enum pr_status pr_check(const struct pr_state *st, const struct pr_nexus *n,
			enum pr_class cls)
{
	/* SPC-2 5.5.1: "If a logical unit has been reserved by any RESERVE
	 * command and is still reserved by any initiator, all PERSISTENT
	 * RESERVE IN and all PERSISTENT RESERVE OUT commands shall conflict
	 * regardless of initiator or service action". The holder included:
	 * the SCSI-2 gate lets the holder through, this gate does not. (SPC-4
	 * 5.14.3 only relaxes the other direction, RESERVE/RELEASE under
	 * PRs; LIO answers the same.) */
	if (st->s2_reserved &&
	    (cls == PR_CLASS_PR_IN || cls == PR_CLASS_PR_OUT))
		return PR_STATUS_RESERVATION_CONFLICT;
	if (st->type == PR_TYPE_NONE)
		return PR_STATUS_GOOD;
	return pr_conflict_allowed(st->type, pr_state_role(st, n), cls) ?
	       PR_STATUS_GOOD : PR_STATUS_RESERVATION_CONFLICT;
}
