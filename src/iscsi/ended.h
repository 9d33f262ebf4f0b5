/*
 * The ITTs of write tasks that ended before all their Data-Out came (an
 * abort, an early failure), so that Data-Out still on its way for them is
 * silently discarded (RFC 7143 11.5.1: data for a task that no longer
 * exists) instead of being rejected as naming no task (11.17.1, Reject
 * 09h), which would make the initiator fail a command already ended.
 *
 * Bounded: a ring of cap ITTs, the oldest forgotten first; memory does not
 * depend on what the initiator sends. The connection sizes it from the
 * session's CmdSN window (iscsi_ended_cap): no more non-immediate commands
 * than the window can be outstanding at once (RFC 7143 4.2.2.1), so even an
 * abort of every one of them, twice over, fits; immediate writes beyond
 * that only push the oldest entries out. Looked up only for Data-Out that
 * finds no live task.
 *
 * Pure: no I/O, no locks; the connection owns one and uses it on its loop.
 */
#ifndef CTGT_ISCSI_ENDED_H
#define CTGT_ISCSI_ENDED_H

#include <stdbool.h>
#include <stdint.h>

#define ISCSI_ENDED_MIN 32u       /* never fewer slots than this */
#define ISCSI_ENDED_MAX 65536u    /* 256 KiB per connection at most */

struct iscsi_ended {
	uint32_t *itt;   /* cap slots, ISCSI_ENDED_FREE when unused; NULL
	                    until the first add */
	uint32_t cap;
	uint32_t head;   /* next slot written (the oldest entry) */
};

/* Slot value for "no ITT": the reserved tag, never a command's ITT
 * (RFC 7143 11.2.1.8). */
#define ISCSI_ENDED_FREE 0xffffffffu

/* Slots for a session whose CmdSN window is window commands. */
uint32_t iscsi_ended_cap(uint32_t window);

/* Sets the capacity (nothing allocated yet); fini releases. */
void iscsi_ended_init(struct iscsi_ended *e, uint32_t cap);
void iscsi_ended_fini(struct iscsi_ended *e);

/* Remembers itt, replacing the oldest entry when full. Best effort: with
 * no memory nothing is remembered (later Data-Out is then rejected). */
void iscsi_ended_add(struct iscsi_ended *e, uint32_t itt);

bool iscsi_ended_has(const struct iscsi_ended *e, uint32_t itt);

#endif
