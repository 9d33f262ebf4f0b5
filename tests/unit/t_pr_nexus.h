/*
 * The I_T nexus the PR tests use: an iSCSI initiator port (name + an ISID
 * ending in isid_last) through target port rtpi, as a struct pr_nexus.
 */
#ifndef CTGT_TESTS_UNIT_T_PR_NEXUS_H
#define CTGT_TESTS_UNIT_T_PR_NEXUS_H

#include <stdint.h>
#include <string.h>

#include "pr/pr.h"

static inline void t_nexus(struct pr_nexus *n, const char *name,
			   uint8_t isid_last, uint16_t rtpi)
{
	uint8_t isid[6] = { 0x00, 0x02, 0x3d, 0x00, 0x00, isid_last };

	memset(n, 0, sizeof(*n));
	pr_tid_from_port(&n->tid, name, isid);
	n->rtpi = rtpi;
}

#endif
