/*
 * CmdSN window arithmetic (see cmdsn.h). Serial number comparisons follow
 * RFC 1982 as RFC 7143 4.2.2.1 requires; nothing here knows about PDUs.
 */
#include "iscsi/cmdsn.h"

#include "iscsi/pdu.h"

void iscsi_cmdsn_init(struct iscsi_cmdsn_window *w, uint32_t cmdsn,
		      uint32_t window)
{
	if (window == 0)
		window = 1;
	w->exp_cmdsn = cmdsn;
	w->window = window;
	w->limit = window;
	w->in_flight = 0;
	w->max_cmdsn = cmdsn - 1 + window;
}

/* The highest CmdSN the initiator may send right now. */
static uint32_t iscsi_cmdsn_computed_max(const struct iscsi_cmdsn_window *w)
{
	uint32_t room = w->limit > w->in_flight ? w->limit - w->in_flight : 0;

	return w->exp_cmdsn - 1 + room;
}

enum iscsi_cmdsn_verdict iscsi_cmdsn_classify(
	const struct iscsi_cmdsn_window *w, uint32_t cmdsn, bool immediate)
{
	if (immediate)
		return ISCSI_CMDSN_IMMEDIATE;
	/* RFC 7143 4.2.2.1: outside [ExpCmdSN, MaxCmdSN] -> ignore. The
	 * window checked is the one advertised, not the current credit:
	 * a closed window (MaxCmdSN == ExpCmdSN - 1) drops everything. */
	if (!iscsi_sn_le(w->exp_cmdsn, cmdsn) ||
	    !iscsi_sn_le(cmdsn, w->max_cmdsn))
		return ISCSI_CMDSN_DROP;
	return cmdsn == w->exp_cmdsn ? ISCSI_CMDSN_NEXT : ISCSI_CMDSN_QUEUE;
}

void iscsi_cmdsn_accept(struct iscsi_cmdsn_window *w)
{
	w->exp_cmdsn++;
	w->in_flight++;
}

void iscsi_cmdsn_complete(struct iscsi_cmdsn_window *w)
{
	if (w->in_flight > 0)
		w->in_flight--;
	if (w->limit < w->window)
		w->limit++;
}

void iscsi_cmdsn_throttle(struct iscsi_cmdsn_window *w)
{
	w->limit /= 2;
	if (w->limit == 0)
		w->limit = 1;
}

uint32_t iscsi_cmdsn_max(struct iscsi_cmdsn_window *w)
{
	uint32_t m = iscsi_cmdsn_computed_max(w);

	if (iscsi_sn_lt(w->max_cmdsn, m))
		w->max_cmdsn = m;
	return w->max_cmdsn;
}
