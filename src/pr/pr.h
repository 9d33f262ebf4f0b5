/*
 * Persistent reservations (SPC-4 5.14, 6.15, 6.16) as a pure state
 * machine: registrations, the reservation, PRgeneration, PR OUT decode and
 * apply, PR IN data, and the command-vs-reservation conflict table.
 *
 * Deliberately NOT here: I/O, clocks, sessions, the cluster, SCSI-core
 * headers, sense data, APTPL persistence. I_T nexuses are values (initiator
 * port TransportID + relative target port identifier); the results are
 * data (status, reason, field pointer, unit attentions to raise, nexuses
 * whose tasks to abort) that the caller turns into sense data, UAs and
 * aborts. Every decision depends only on the state and the inputs, and
 * registrations keep insertion order, so every cluster node that applies
 * the same ordered requests holds byte-identical state.
 *
 * How the core uses it, per logical unit (one struct pr_state, under the
 * LU's lock; in a cluster every node applies the same ordered requests):
 *   gates:    pr_scsi2_conflict(st, nexus) for the SCSI-2 reservation,
 *             pr_check(st, nexus, opcode row's pr_class) for PR;
 *   PR OUT:   pr_out_decode(cdb, data) -> pr_out_apply(st, nexus, req)
 *             -> status/reason/field to sense data; raise res.ua[] on the
 *             I_T_L nexuses pr_target_match() accepts; for PREEMPT AND
 *             ABORT abort the tasks of res.aborts[] the same way;
 *   PR IN:    pr_in_build(st, sa, buf, allocation length);
 *   RESERVE(6/10) / RELEASE(6/10): pr_scsi2_reserve / pr_scsi2_release;
 *   LUN reset, I_T nexus loss: pr_scsi2_reset.
 *
 * Split: pr.c (state, PR OUT apply), pr_decode.c (PR OUT CDB and
 * parameter list), pr_in.c (PR IN data), pr_conflict.c (SPC-4 5.14.2),
 * pr_scsi2.c (SPC-2 RESERVE/RELEASE and their SPC-4 5.14.3 exceptions).
 * APTPL images of a pr_state (bytes only; the core writes the files):
 * pr_aptpl.h / pr_aptpl.c.
 */
#ifndef CTGT_PR_PR_H
#define CTGT_PR_PR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pr/transportid.h"

/* SPC-4 6.16.2, table 170: PERSISTENT RESERVE OUT service actions */
enum pr_out_sa {
	PR_OUT_REGISTER = 0x00,
	PR_OUT_RESERVE = 0x01,
	PR_OUT_RELEASE = 0x02,
	PR_OUT_CLEAR = 0x03,
	PR_OUT_PREEMPT = 0x04,
	PR_OUT_PREEMPT_AND_ABORT = 0x05,
	PR_OUT_REGISTER_AND_IGNORE = 0x06,
	PR_OUT_REGISTER_AND_MOVE = 0x07,
	PR_OUT_REPLACE_LOST = 0x08,
};

/* SPC-4 6.15.1, table 160: PERSISTENT RESERVE IN service actions */
enum pr_in_sa {
	PR_IN_READ_KEYS = 0x00,
	PR_IN_READ_RESERVATION = 0x01,
	PR_IN_REPORT_CAPABILITIES = 0x02,
	PR_IN_READ_FULL_STATUS = 0x03,
};

/* SPC-4 6.15.3.3, table 165: persistent reservation types */
enum pr_type {
	PR_TYPE_NONE = 0x0,      /* no reservation (never on the wire) */
	PR_TYPE_WR_EX = 0x1,
	PR_TYPE_EX_AC = 0x3,
	PR_TYPE_WR_EX_RO = 0x5,
	PR_TYPE_EX_AC_RO = 0x6,
	PR_TYPE_WR_EX_AR = 0x7,
	PR_TYPE_EX_AC_AR = 0x8,
};

#define PR_SCOPE_LU 0x0  /* SPC-4 6.15.3.2: LU_SCOPE, the only scope */

/* What a command answers. CHECK CONDITION carries a reason. */
enum pr_status {
	PR_STATUS_GOOD = 0,
	PR_STATUS_RESERVATION_CONFLICT,
	PR_STATUS_CHECK_CONDITION,
};

/* Sense reasons the engine produces; the core maps them to its own. */
enum pr_reason {
	PR_REASON_NONE = 0,
	PR_REASON_INVALID_FIELD_IN_CDB,          /* 05/24/00 */
	PR_REASON_INVALID_FIELD_IN_PARAM_LIST,   /* 05/26/00 */
	PR_REASON_PARAM_LIST_LENGTH_ERROR,       /* 05/1A/00 */
	PR_REASON_INVALID_RELEASE,               /* 05/26/04 */
	PR_REASON_INSUFFICIENT_REG_RESOURCES,    /* 05/55/04 */
};

/* Sense-key specific field pointer (SPC-4 4.5.2.4.2). */
struct pr_field {
	bool valid;
	bool cdb;          /* C/D: true = CDB, false = parameter list */
	int8_t bit;        /* < 0: no bit pointer */
	uint16_t byte;
};

/* Unit attention kinds the engine asks for (SPC-4 5.14.11, table 49). */
enum pr_ua_kind {
	PR_UA_RESERVATIONS_PREEMPTED = 0,   /* 2A/03 */
	PR_UA_RESERVATIONS_RELEASED,        /* 2A/04 */
	PR_UA_REGISTRATIONS_PREEMPTED,      /* 2A/05 */
};

/* One I_T nexus, by value. */
struct pr_nexus {
	struct pr_tid tid;   /* initiator port: PORT format from the fabric */
	uint16_t rtpi;       /* relative target port identifier */
};

/* The nexuses a UA or an abort is for: every I_T nexus whose initiator
 * port pr_tid_match(&tid, ...) names, through rtpi or, with all_ports,
 * through every target port. */
struct pr_target {
	struct pr_tid tid;
	uint16_t rtpi;
	bool all_ports;
	uint8_t kind;        /* enum pr_ua_kind (UA lists only) */
};

/* Whether the UA / abort target t covers nexus n (for the core's walk of
 * its I_T_L nexuses). */
bool pr_target_match(const struct pr_target *t, const struct pr_nexus *n);

/* One registration (SPC-4 5.14.7). all_tg_pt: one entry standing for the
 * initiator port on every target port, present and future; rtpi is then
 * the port it was registered through (reported, never matched). */
struct pr_reg {
	struct pr_tid tid;
	uint16_t rtpi;
	bool all_tg_pt;
	uint64_t key;
};

/* What the logical unit supports; fixed at configuration. */
struct pr_config {
	unsigned max_regs;   /* registrations held; more: 05/55/04 */
	bool ptpl_c;         /* APTPL accepted (REPORT CAPABILITIES PTPL_C) */
	bool crh;            /* SPC-4 5.14.3 compatible reservation handling */
};

#define PR_HOLDER_NONE UINT32_MAX

/* The whole PR state of one logical unit. regs is an array of
 * cfg.max_regs entries, allocated once by pr_state_init; no other memory
 * is ever allocated. Entries [0, nregs) are live, in registration order. */
struct pr_state {
	struct pr_config cfg;
	struct pr_reg *regs;
	uint32_t nregs;
	uint32_t generation;   /* PRgeneration (SPC-4 6.15.2), wraps */
	uint8_t type;          /* enum pr_type; PR_TYPE_NONE: not reserved */
	uint8_t scope;
	uint32_t holder;       /* index in regs; PR_HOLDER_NONE for none and
	                          for all-registrants types */
	bool aptpl;            /* last REGISTER-class command's APTPL bit */
	/* SCSI-2 RESERVE(6)/(10) (SPC-2 5.5.1): one holder nexus */
	bool s2_reserved;
	struct pr_nexus s2_holder;
};

/* Returns 0 or -ENOMEM. */
int pr_state_init(struct pr_state *st, const struct pr_config *cfg);
void pr_state_fini(struct pr_state *st);

/* Whether a and b hold the same PR and SCSI-2 state (registrations in the
 * same order, reservation, generation, APTPL): the check the cluster
 * simulation makes after every delivery. */
bool pr_state_equal(const struct pr_state *a, const struct pr_state *b);

/* Makes dst (initialised with the same max_regs) hold src's state: for
 * snapshots, and for checking that a refused request changed nothing.
 * Returns 0, or -EINVAL when the limits differ. */
int pr_state_copy(struct pr_state *dst, const struct pr_state *src);

/* Whether type is one of the six SPC-4 types. */
bool pr_type_valid(uint8_t type);
/* WR_EX_AR / EX_AC_AR: every registrant is a holder (SPC-4 5.14.10). */
bool pr_type_all_registrants(uint8_t type);

/* The registration of nexus n, or NULL. An exact (tid, rtpi) entry wins
 * over an ALL_TG_PT one; DEVICE-format TransportIDs (from SPEC_I_PT) cover
 * every ISID of their name. */
const struct pr_reg *pr_reg_find(const struct pr_state *st,
				 const struct pr_nexus *n);
/* Whether n holds the reservation (for all-registrants types: is
 * registered). */
bool pr_state_is_holder(const struct pr_state *st, const struct pr_nexus *n);

/* ---------------------------------------------------------------- decode */

#define PR_OUT_TIDS_MAX 16   /* SPEC_I_PT TransportIDs per command */

/* A decoded PERSISTENT RESERVE OUT: no pointers, a plain value that can be
 * replicated as is. */
struct pr_out_req {
	uint8_t sa;            /* enum pr_out_sa */
	uint8_t scope;
	uint8_t type;
	uint64_t key;          /* RESERVATION KEY */
	uint64_t sa_key;       /* SERVICE ACTION RESERVATION KEY */
	bool spec_i_pt;
	bool all_tg_pt;
	bool aptpl;
	bool unreg;            /* REGISTER AND MOVE */
	uint16_t move_rtpi;    /* REGISTER AND MOVE destination port */
	uint32_t ntids;        /* SPEC_I_PT list, or 1 for REGISTER AND MOVE */
	struct pr_tid tids[PR_OUT_TIDS_MAX];
	uint16_t tid_off[PR_OUT_TIDS_MAX]; /* offset in the parameter list */
};

/* The outcome of decode / apply. ua and aborts point at caller-provided
 * arrays (may be NULL with cap 0); pr_state.cfg.max_regs entries each are
 * always enough. Entries beyond the cap are counted in *_lost. */
struct pr_result {
	enum pr_status status;
	enum pr_reason reason;
	struct pr_field field;
	struct pr_target *ua;
	uint32_t ua_cap, ua_count, ua_lost;
	struct pr_target *aborts;  /* PREEMPT AND ABORT */
	uint32_t abort_cap, abort_count, abort_lost;
};

/* Resets status, reason, field and counts (keeps the arrays). */
void pr_result_reset(struct pr_result *res);

/* Decodes a PR OUT CDB (10 bytes) and its parameter list (param_len bytes
 * received). Returns true with *req filled, or false with res set to
 * CHECK CONDITION and a field pointer. Pure syntax: nothing about state. */
bool pr_out_decode(const uint8_t *cdb, const uint8_t *param,
		   uint32_t param_len, struct pr_out_req *req,
		   struct pr_result *res);

/* ----------------------------------------------------------------- apply */

/* Applies a decoded PR OUT received on nexus n (SPC-4 5.14). On GOOD the
 * state changed as the standard says, res lists the UAs to raise and, for
 * PREEMPT AND ABORT, the nexuses whose tasks to abort. The issuer's own
 * registration is never listed, but an all-ports target of the same
 * initiator port may cover n: the caller skips n itself when raising. On any
 * other status the state is unchanged. The RTPI of REGISTER AND MOVE is
 * not checked against the existing ports: the caller does that. */
void pr_out_apply(struct pr_state *st, const struct pr_nexus *n,
		  const struct pr_out_req *req, struct pr_result *res);

/* ------------------------------------------------------------------- in */

/* Builds PERSISTENT RESERVE IN data for service action sa into buf
 * (alloc_len bytes). Returns the bytes written (<= alloc_len); *full_len
 * (may be NULL) gets the untruncated length. An unknown sa returns 0 and
 * sets res to INVALID FIELD IN CDB. */
uint32_t pr_in_build(const struct pr_state *st, uint8_t sa, uint8_t *buf,
		     uint32_t alloc_len, uint32_t *full_len,
		     struct pr_result *res);

/* ------------------------------------------------------------- conflict */

/* Command classes; values match the core's enum scsi_pr_class so its
 * opcode table's pr_class casts directly. */
enum pr_class {
	PR_CLASS_ALLOWED = 0,   /* never conflicts */
	PR_CLASS_READ,          /* conflicts with Exclusive Access types */
	PR_CLASS_WRITE,         /* conflicts with every type */
	PR_CLASS_CONFLICT,      /* like WRITE (MODE SELECT, RESERVE, ...) */
	PR_CLASS_PR_IN,         /* never conflicts with a persistent
	                           reservation (SPC-4 5.14.2, table 63);
	                           conflicts while a SCSI-2 RESERVE is held
	                           by any nexus, the holder too (SPC-2
	                           5.5.1, pr_check) */
	PR_CLASS_PR_OUT,        /* the same SCSI-2 rule; otherwise allowed
	                           here and pr_out_apply decides */
	PR_CLASS_COUNT
};

/* How the issuing nexus relates to the reservation. */
enum pr_role {
	PR_ROLE_HOLDER = 0,
	PR_ROLE_REGISTERED,     /* registered, not a holder */
	PR_ROLE_NOT_REGISTERED,
	PR_ROLE_COUNT
};

/* SPC-4 5.14.2, table 63: whether a command of class cls from a nexus in
 * role may run while a reservation of type is held (PR_TYPE_NONE:
 * always). */
bool pr_conflict_allowed(uint8_t type, enum pr_role role, enum pr_class cls);

/* The role of n in st. */
enum pr_role pr_state_role(const struct pr_state *st, const struct pr_nexus *n);

/* The gate: PR_STATUS_GOOD or PR_STATUS_RESERVATION_CONFLICT. */
enum pr_status pr_check(const struct pr_state *st, const struct pr_nexus *n,
			enum pr_class cls);

/* ---------------------------------------------------------------- SCSI-2 */

/* RESERVE(6)/(10) from n (SPC-2 7.21; no third-party or extent
 * reservations): GOOD or RESERVATION CONFLICT. With PR registrations
 * present: CRH = 0 conflicts always (SPC-2 5.5.1); CRH = 1 answers GOOD
 * without reserving to a PR holder, or to a registrant of a registrants-
 * only / all-registrants reservation, and conflicts otherwise (SPC-4
 * 5.14.3). */
enum pr_status pr_scsi2_reserve(struct pr_state *st, const struct pr_nexus *n);
/* RELEASE(6)/(10) from n (SPC-2 7.17): releases n's reservation; GOOD
 * without effect from any other nexus. The same PR exceptions. */
enum pr_status pr_scsi2_release(struct pr_state *st, const struct pr_nexus *n);
/* Whether a SCSI-2 reservation is held by a nexus other than n: the core
 * then lets only its exempt commands through (SPC-2 5.5.1: INQUIRY,
 * REPORT LUNS, REQUEST SENSE, RELEASE, PERSISTENT RESERVE IN...). */
bool pr_scsi2_conflict(const struct pr_state *st, const struct pr_nexus *n);
/* LUN reset, power on, I_T nexus loss of the holder (n = NULL: always):
 * the SCSI-2 reservation ends (SAM-5 6.3, SPC-2 5.5.1). PR state stays. */
void pr_scsi2_reset(struct pr_state *st, const struct pr_nexus *n);

#endif
