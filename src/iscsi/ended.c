/*
 * A bounded ring of ended write tasks' ITTs (ended.h says why). It only
 * remembers and answers "was it one of ours": it does not decide what a
 * Data-Out deserves (cmd.c does).
 */
#include "iscsi/ended.h"

#include <stdlib.h>

uint32_t iscsi_ended_cap(uint32_t window)
{
	uint64_t cap = 2ull * window;

	if (cap < ISCSI_ENDED_MIN)
		cap = ISCSI_ENDED_MIN;
	if (cap > ISCSI_ENDED_MAX)
		cap = ISCSI_ENDED_MAX;
	return (uint32_t)cap;
}

void iscsi_ended_init(struct iscsi_ended *e, uint32_t cap)
{
	e->itt = NULL;
	e->cap = cap ? cap : ISCSI_ENDED_MIN;
	e->head = 0;
}

void iscsi_ended_fini(struct iscsi_ended *e)
{
	free(e->itt);
	e->itt = NULL;
}

void iscsi_ended_add(struct iscsi_ended *e, uint32_t itt)
{
	if (itt == ISCSI_ENDED_FREE || iscsi_ended_has(e, itt))
		return;
	if (!e->itt) {
		e->itt = malloc(e->cap * sizeof(*e->itt));
		if (!e->itt)
			return;
		for (uint32_t i = 0; i < e->cap; i++)
			e->itt[i] = ISCSI_ENDED_FREE;
	}
	e->itt[e->head] = itt;
	e->head = (e->head + 1) % e->cap;
}

bool iscsi_ended_has(const struct iscsi_ended *e, uint32_t itt)
{
	if (!e->itt || itt == ISCSI_ENDED_FREE)
		return false;
	for (uint32_t i = 0; i < e->cap; i++)
		if (e->itt[i] == itt)
			return true;
	return false;
}
