/*
 * The CmdSN window of one session (RFC 7143 4.2.2.1) as a pure state
 * machine: classify an arriving command's CmdSN, account for commands that
 * are in flight, and compute the MaxCmdSN to advertise.
 *
 * The window is credit based: MaxCmdSN = ExpCmdSN - 1 + (limit - in flight),
 * so it opens when commands complete, not when they arrive. Back-pressure
 * (no memory for a task) halves the limit; completions grow it back by one
 * each, up to the configured window. The advertised MaxCmdSN never moves
 * backwards: initiators ignore a MaxCmdSN that decreases (RFC 7143 4.2.2.1),
 * so shrinking the window means "stop advancing", never "go back".
 *
 * No I/O, no clock, no locks: the session owns one and calls it on its loop.
 */
#ifndef CTGT_ISCSI_CMDSN_H
#define CTGT_ISCSI_CMDSN_H

#include <stdbool.h>
#include <stdint.h>

struct iscsi_cmdsn_window {
	uint32_t exp_cmdsn;   /* next CmdSN we expect */
	uint32_t max_cmdsn;   /* last MaxCmdSN advertised */
	uint32_t window;      /* configured size (max_cmds_per_session) */
	uint32_t limit;       /* current size, <= window (back-pressure) */
	uint32_t in_flight;   /* non-immediate commands received, not done */
};

enum iscsi_cmdsn_verdict {
	ISCSI_CMDSN_IMMEDIATE, /* immediate delivery: not counted (4.2.2.1) */
	ISCSI_CMDSN_NEXT,      /* CmdSN == ExpCmdSN: deliver now */
	ISCSI_CMDSN_QUEUE,     /* in the window but ahead: hold until its turn */
	ISCSI_CMDSN_DROP,      /* outside the window: silently ignored */
};

/* cmdsn: the CmdSN of the leading login request (RFC 7143 11.12.7). */
void iscsi_cmdsn_init(struct iscsi_cmdsn_window *w, uint32_t cmdsn,
		      uint32_t window);

enum iscsi_cmdsn_verdict iscsi_cmdsn_classify(
	const struct iscsi_cmdsn_window *w, uint32_t cmdsn, bool immediate);

/* The NEXT command is taken: ExpCmdSN advances, one more in flight. */
void iscsi_cmdsn_accept(struct iscsi_cmdsn_window *w);

/* A command taken with accept() is finished (its response is queued). */
void iscsi_cmdsn_complete(struct iscsi_cmdsn_window *w);

/* Out of resources: halve the current limit (never below 1). */
void iscsi_cmdsn_throttle(struct iscsi_cmdsn_window *w);

/* MaxCmdSN to put in the next PDU; monotonic. */
uint32_t iscsi_cmdsn_max(struct iscsi_cmdsn_window *w);

#endif
