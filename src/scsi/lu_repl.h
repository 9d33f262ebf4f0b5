/*
 * The reservation state of one logical unit as replicated state, and the
 * messages that change it (issue 5, DESIGN.md "Cluster model"); every LU
 * uses it, a "single" one applied at once. For a clustered LU every node
 * applies the same messages, in the cluster's total order, with
 * lu_repl_apply, so
 * every node holds the same state (lu_repl_save bytes); the effects of a
 * message come back as data, the same on every node, and each node acts
 * on the part that concerns its own I_T nexuses (UAs, aborts) and its own
 * APTPL file before it acks.
 *
 * Deliberately NOT here: the cluster channel, tasks, locks, files, clocks,
 * logging, iSCSI types. The PR engine (src/pr) decides PR OUT and SCSI-2
 * RESERVE/RELEASE; this module adds what only the cluster needs: the
 * apply-time SCSI-2 gate for PR OUT, the REGISTER AND MOVE port check
 * against every node's ports, LUN RESET, I_T nexus loss and node loss,
 * the APTPL image sequence, the canonical snapshot and the message codec
 * (lu_repl_msg.c).
 *
 * The glue: src/scsi/repl.c applies messages to a LU and acts on the
 * effects for this node's nexuses (UAs, aborts, the APTPL write), for a
 * single LU at once and for a clustered one in the cluster's order;
 * src/daemon/device.c is the cluster channel of the clustered LUs
 * (submit, apply, NODE_LEFT from the port directory's RTPIs, save /
 * load / reset). docs/cluster-device.md, "Wiring: the device channel".
 */
#ifndef CTGT_SCSI_LU_REPL_H
#define CTGT_SCSI_LU_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pr/pr.h"

#define LU_REPL_VERSION 1u          /* message and snapshot format */
#define LU_REPL_NODE_RTPIS_MAX 16   /* = PORT_DIR_NODE_PORTS_MAX */

/* Message types (wire values). */
enum lu_repl_msg_type {
	LU_REPL_MSG_PR_OUT = 1,         /* SPC-4 6.16 */
	LU_REPL_MSG_SCSI2_RESERVE = 2,  /* RESERVE(6)/(10), SPC-2 7.21 */
	LU_REPL_MSG_SCSI2_RELEASE = 3,  /* RELEASE(6)/(10), SPC-2 7.17 */
	LU_REPL_MSG_LUN_RESET = 4,      /* SAM-5 7.7, 6.3.3 */
	LU_REPL_MSG_NEXUS_LOSS = 5,     /* SAM-5 6.3.4 */
	LU_REPL_MSG_NODE_LEFT = 6,      /* a node left the view */
	LU_REPL_MSG_TARGET_RESET = 7,   /* TARGET WARM/COLD RESET, SAM-5
	                                   6.3.2, for each LU it covers */
};
#define LU_REPL_MSG_TYPE_LAST LU_REPL_MSG_TARGET_RESET

/* One message, a plain value (no pointers). */
struct lu_repl_msg {
	uint8_t type;                   /* enum lu_repl_msg_type */
	struct pr_nexus nexus;          /* issuing / lost nexus (not NODE_LEFT) */
	struct pr_out_req req;          /* PR_OUT */
	uint32_t node;                  /* NODE_LEFT */
	uint32_t nrtpis;                /* NODE_LEFT: its ports */
	uint16_t rtpis[LU_REPL_NODE_RTPIS_MAX];
};

/* Unit attention kinds of lu_repl effects: the PR engine's (pr_ua_kind)
 * plus the reset. */
enum lu_repl_ua {
	LU_REPL_UA_RESERVATIONS_PREEMPTED = PR_UA_RESERVATIONS_PREEMPTED,
	LU_REPL_UA_RESERVATIONS_RELEASED = PR_UA_RESERVATIONS_RELEASED,
	LU_REPL_UA_REGISTRATIONS_PREEMPTED = PR_UA_REGISTRATIONS_PREEMPTED,
	LU_REPL_UA_LUN_RESET = 0x10,    /* 29/03 BUS DEVICE RESET FUNCTION
	                                   OCCURRED (SAM-5 6.3.3) */
	LU_REPL_UA_POWER_ON = 0x11,     /* 29/00 POWER ON, RESET, OR BUS
	                                   DEVICE RESET OCCURRED (6.3.2) */
};

/* The replicated state of one LU. */
struct lu_repl {
	struct pr_state pr;       /* PRs and the SCSI-2 reservation */
	uint64_t lun_resets;      /* LUN RESETs applied */
	/* APTPL image sequence: incremented by every message after which
	 * the image must be written; images carry it as their epoch
	 * (pr_aptpl_encode), so (epoch, generation) orders every image of
	 * this LU's history, RESERVE and RELEASE included (which leave
	 * PRgeneration alone). */
	uint64_t aptpl_epoch;
	/* PRgeneration of that last image: a node that joins compares
	 * (aptpl_epoch, aptpl_generation) with its own file's
	 * (pr_aptpl_peek) and writes the current image when they differ. */
	uint32_t aptpl_generation;
};

/*
 * What a message did, the same on every node. Point pr.ua / pr.aborts at
 * arrays of lu->pr.cfg.max_regs entries each (or fewer: the rest is
 * counted in *_lost) before lu_repl_apply.
 */
struct lu_repl_effects {
	/* For the issuer: status (GOOD, RESERVATION CONFLICT, CHECK
	 * CONDITION with reason and field pointer); the UA targets (kind:
	 * enum lu_repl_ua) and PREEMPT AND ABORT's abort targets. */
	struct pr_result pr;
	/* The issuing nexus: never given a UA by its own PR OUT (SPC-4
	 * 5.14.11), never aborted by its own PREEMPT AND ABORT. */
	bool has_issuer;
	struct pr_nexus issuer;
	/* LUN RESET (TARGET RESET): UA ua_all_kind on every I_T nexus of
	 * the LU, issuer included, and abort every task of the LU on every
	 * I_T nexus (SAM-5 6.3.3, 6.3.2). */
	bool ua_all;
	uint8_t ua_all_kind;
	bool abort_all;
	bool lun_reset;           /* also: the LU's local reset state */
	/* The SCSI-2 reservation ended (reset, nexus loss, node loss). */
	bool s2_released;
	/* Write the APTPL image of lu->pr with epoch persist_epoch (SPC-4
	 * 5.14.5), before acking. */
	bool persist;
	uint64_t persist_epoch;
	uint32_t persist_generation;
};

/* Whether rtpi is a target port of some node (port_dir_port_exists). */
typedef bool (*lu_repl_port_fn)(void *arg, uint16_t rtpi);

/* 0 or -ENOMEM; cfg as pr_state_init (every node the same). */
int lu_repl_init(struct lu_repl *lu, const struct pr_config *cfg);
void lu_repl_fini(struct lu_repl *lu);
/* Back to the initial state (no reservations, counters 0). */
void lu_repl_reset(struct lu_repl *lu);

/* Resets counts and flags of fx (keeps the arrays). */
void lu_repl_effects_reset(struct lu_repl_effects *fx);

/*
 * Applies one message. The outcome depends only on lu, m and the port
 * check (the port directory, itself replicated in the same order). A
 * message of an unknown type changes nothing and answers CHECK CONDITION
 * (the decoder never produces one).
 */
void lu_repl_apply(struct lu_repl *lu, const struct lu_repl_msg *m,
		   lu_repl_port_fn port_exists, void *port_arg,
		   struct lu_repl_effects *fx);

/*
 * What the effects mean for one I_T nexus n of this node (the glue walks
 * its own I_T_L nexuses of the LU with these):
 * lu_repl_effects_ua_for: the UAs to raise on n, a mask of
 *   (1u << enum lu_repl_ua): the listed targets covering n, except when n
 *   is the issuer (SPC-4 5.14.11: never the PR OUT's own nexus); with
 *   ua_all, ua_all_kind for every nexus.
 * lu_repl_effects_abort_for: whether to abort n's tasks of the LU: every
 *   nexus with abort_all; else the abort targets covering n, never the
 *   issuer (SPC-4 5.14.11.2.4: PREEMPT AND ABORT spares its own nexus).
 */
uint32_t lu_repl_effects_ua_for(const struct lu_repl_effects *fx,
				const struct pr_nexus *n);
bool lu_repl_effects_abort_for(const struct lu_repl_effects *fx,
			       const struct pr_nexus *n);

/* Whether a and b hold the same state. */
bool lu_repl_equal(const struct lu_repl *a, const struct lu_repl *b);

/*
 * Snapshot (state transfer), version 1, big-endian, canonical:
 *   0 4 "CTLU"   4 2 version   6 2 reserved (0)
 *   8 4 max_regs   12 1 flags (bit 0 PTPL_C, bit 1 CRH)   13 3 reserved
 *  16 8 LUN resets   24 8 APTPL epoch   32 4 APTPL generation
 *  36 4 PRgeneration   40 4 registrations N   44 4 holder (FFFFFFFFh:
 *  none)   48 1 type   49 1 scope   50 1 flags (bit 0 APTPL, bit 1
 *  SCSI-2 reserved)   51 1 reserved
 *  52   the SCSI-2 holder nexus when reserved: 2 RTPI, 2 TransportID
 *       length T, T bytes (pr_tid_encode)
 *       N registrations: 8 key, 2 RTPI, 1 flags (bit 0 ALL_TG_PT),
 *       1 reserved, 2 T, T bytes TransportID
 * save: 0 with *data (malloc'ed), *len; -ENOMEM; -EINVAL (a TransportID
 * pr_tid_encode refuses). load: all or nothing; 0, -ENODATA (truncated),
 * -EPROTONOSUPPORT, -EINVAL (malformed, or a configuration other than
 * lu's: every node must configure the LU alike), -ENOMEM.
 */
int lu_repl_save(const struct lu_repl *lu, void **data, size_t *len);
int lu_repl_load(struct lu_repl *lu, const void *data, size_t len);

/*
 * Messages on the wire (lu_repl_msg.c), version 1, big-endian:
 *   0 1 version   1 1 type   2 2 reserved (0)
 *   nexus (all but NODE_LEFT; TARGET_RESET = LUN_RESET with 29/00):
 *     2 RTPI (not 0), 2 T, T bytes TransportID
 *     of PORT format, canonical (as pr_tid_encode writes it)
 *   PR_OUT: 1 service action, 1 scope, 1 type, 1 flags (bit 0 APTPL,
 *     1 ALL_TG_PT, 2 SPEC_I_PT, 3 UNREG), 8 key, 8 SA key, 2 move RTPI,
 *     2 TransportID count K; K times: 2 offset in the parameter list,
 *     2 T, T bytes TransportID
 *   NODE_LEFT: 4 node, 2 count R, 2 reserved, R times 2 RTPI (ascending,
 *     not 0)
 * The decoder accepts exactly what pr_out_decode can produce and the
 * encoder writes; anything else (truncated, trailing bytes, reserved
 * bits, unknown version or type) is refused.
 */
#define LU_REPL_MSG_MAX \
	(4 + 4 + 256 + 24 + PR_OUT_TIDS_MAX * (4 + 256) + \
	 8 + 2 * LU_REPL_NODE_RTPIS_MAX)
/* Returns the length, -ENOSPC, or -EINVAL (a message decode would
 * refuse). */
ssize_t lu_repl_msg_encode(const struct lu_repl_msg *m, uint8_t *buf,
			   size_t cap);
/* 0, -ENODATA (truncated), -EPROTONOSUPPORT (version), -EINVAL. */
int lu_repl_msg_decode(const uint8_t *buf, size_t len, struct lu_repl_msg *m);

const char *lu_repl_msg_type_str(uint8_t type);

#endif
