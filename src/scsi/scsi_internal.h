/*
 * Inside the SCSI core: the command-handler contract, the LUN object and the
 * block limits every part of the core agrees on. Not for fabrics.
 *
 * Handlers: enum scsi_exec h(struct scsi_task *t). A handler either
 *   - finishes inline: sets data (scsi_task_put_data) or an error
 *     (scsi_task_error*) and returns SCSI_EXEC_DONE, or
 *   - starts asynchronous work and returns SCSI_EXEC_PENDING, then calls
 *     scsi_task_finish() exactly once, on the nexus's loop, when done.
 * Nothing else. Status defaults to GOOD; an error helper sets it.
 */
#ifndef CTGT_SCSI_INTERNAL_H
#define CTGT_SCSI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "pr/pr.h"
#include "scsi/lu_repl.h"
#include "scsi/scsi.h"

enum scsi_exec { SCSI_EXEC_DONE, SCSI_EXEC_PENDING };

typedef enum scsi_exec (*scsi_exec_fn)(struct scsi_task *t);

/* --- block limits (SBC-3 6.5.3, VPD B0), one place for all of the core --- */
#define SCSI_MAX_XFER_BLOCKS_BYTES SCSI_MAX_XFER_BYTES
#define SCSI_MAX_UNMAP_LBA_COUNT (1u << 20)     /* blocks per UNMAP; libiscsi
                                                   calls > 1M "insanely big" */
#define SCSI_MAX_UNMAP_DESCRIPTORS 256u          /* finite: see libiscsi quirk */
/* Below 64 Ki blocks: libiscsi's WriteSame16.Unmap then checks the unmap
 * with a WRITE/READ of that many blocks, which must fit in one transfer. */
#define SCSI_MAX_WRITE_SAME_BLOCKS 65535u
/* VPD B0 WSNZ (SBC-3 6.5.3): 0 = WRITE SAME with NUMBER OF LOGICAL BLOCKS
 * 0 writes from the LBA to the last block (bounded by the limit above). */
#define SCSI_WSNZ 0
#define SCSI_MAX_CAW_BLOCKS 1u                   /* MAXIMUM COMPARE AND WRITE LENGTH */

/* --- results --- */

/* Copies up to len bytes of data-in into task->buf, honouring the command's
 * allocation length and the fabric's edtl. xfer_len = min(len, alloc_len). */
void scsi_task_put_data(struct scsi_task *t, const void *data, uint32_t len,
			uint32_t alloc_len);

enum scsi_exec scsi_task_error(struct scsi_task *t, enum scsi_sense_reason r);
/* INVALID FIELD IN CDB / PARAMETER LIST with the sense-key specific field
 * pointer (SPC-4 4.5.2.4.2); bit < 0 means no bit pointer. */
enum scsi_exec scsi_task_error_cdb(struct scsi_task *t, uint16_t byte, int bit);
enum scsi_exec scsi_task_error_param(struct scsi_task *t, uint16_t byte, int bit);
/* A reason with the INFORMATION field set (e.g. MISCOMPARE offset). */
enum scsi_exec scsi_task_error_info(struct scsi_task *t,
				    enum scsi_sense_reason r, uint64_t info);

/* For PENDING handlers: the command is over (status already set). */
void scsi_task_finish(struct scsi_task *t);

/* --- the logical unit --- */

struct sbc_lun; /* sbc.c's per-LUN state (CAW range locks, ...) */

struct scsi_lun {
	struct scsi_target *target;
	struct list_head target_link;
	struct scsi_lun_config cfg;     /* block_size, nblocks, readonly, thin... */
	struct backstore *bs;
	uint8_t block_shift;            /* log2(cfg.block_size) */
	unsigned index;                 /* position in the target's LUN table */

	/* Mode parameters (changeable by MODE SELECT). */
	atomic_bool wce;                /* caching page WCE */
	atomic_bool d_sense;            /* control page D_SENSE */
	atomic_bool tas;                /* control page TAS */
	atomic_uint_fast8_t qerr;       /* control page QErr */

	/* Every I_T_L nexus of this LUN, for UAs and resets (not the I/O path). */
	pthread_mutex_t itl_lock;
	struct list_head itls;

	struct sbc_lun *sbc;

	/* --- core-private additions (lun.c, spc.c) --- */
	struct list_head registry_link; /* global NAA registry (XCOPY) */
	atomic_bool stopped;            /* START STOP UNIT START=0 (SBC-3 5.25) */
	atomic_uint prevent;            /* PREVENT ALLOW MEDIUM REMOVAL state */
	atomic_bool swp;                /* control page SWP (software write
	                                   protect), changeable by MODE SELECT */

	/* Reservations: the LU's replicated state (lu_repl: the PR engine's
	 * state, SCSI-2 reservation included, and the APTPL image sequence),
	 * changed only by repl.c's apply, under pr_lock (and read there by
	 * PR IN and by the gates when pr_any is set). pr_any says whether
	 * any reservation (SCSI-2 or PR) is held; it is written under
	 * pr_lock after every change and read without it by the gates, so
	 * the common no-reservation path takes no lock. A command racing
	 * with RESERVE may pass on the old value: the two were concurrent,
	 * either order is correct. Registrations alone never make a command
	 * conflict (SPC-4 5.14.2, table 63). */
	pthread_mutex_t pr_lock;
	struct lu_repl repl;
	atomic_bool pr_any;
	/* Who orders the messages (scsi.h): NULL applies them at once. */
	struct scsi_lu_seq *seq;
	/* scsi_lun_repl_hold: the cluster gathers the APTPL images; only
	 * the ALUA-allowed commands run (task.c, gate 1). */
	atomic_bool repl_hold;
	/* APTPL (SPC-4 5.14.5, pr_store.c): where the image goes (NULL:
	 * no persistence, PTPL_C = 0), and the (epoch, generation) of the
	 * last image handed to it (or restored from it). Under pr_lock. */
	struct scsi_pr_store *pr_store;
	uint64_t file_epoch;
	uint32_t file_generation;
	/* The state this node's nexuses were last told of, kept by a state
	 * reset until the load that follows it (repl.c, "missed"); NULL
	 * otherwise. Under pr_lock. */
	struct lu_repl *told;
};

/* Registrations held per LU (more: 05/55/04). */
#define SCSI_PR_MAX_REGS 256u

/* SBC-3 4.11: writes fail with WRITE PROTECTED when the LUN is configured
 * read-only or SWP is set. Checked by the gate in task.c for table rows
 * with SCSI_OPF_WRITES; XCOPY checks its destination with it. */
static inline bool scsi_lun_write_protected(struct scsi_lun *lu)
{
	return lu->cfg.readonly ||
	       atomic_load_explicit(&lu->swp, memory_order_relaxed);
}

/* sbc.c: per-LUN state, created and freed with the LUN. */
int sbc_lun_init(struct scsi_lun *lu);
void sbc_lun_fini(struct scsi_lun *lu);
/* I_T nexus loss: drop the copy results held for n (xcopy.c). */
void sbc_xcopy_nexus_lost(struct scsi_lun *lu, const struct scsi_nexus *n);

/* Big-endian helpers for CDBs and parameter data. */
static inline uint16_t scsi_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t scsi_get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t scsi_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t scsi_get_be64(const uint8_t *p)
{
	return (uint64_t)scsi_get_be32(p) << 32 | scsi_get_be32(p + 4);
}
static inline void scsi_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void scsi_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void scsi_put_be64(uint8_t *p, uint64_t v)
{
	scsi_put_be32(p, (uint32_t)(v >> 32));
	scsi_put_be32(p + 4, (uint32_t)v);
}

/* --- SBC-3 command handlers (sbc.c, xcopy.c), referenced by the opcode
 * table in opcodes.c --- */
enum scsi_exec sbc_read(struct scsi_task *t);            /* 08 28 A8 88 */
enum scsi_exec sbc_write(struct scsi_task *t);           /* 0A 2A AA 8A */
enum scsi_exec sbc_write_verify(struct scsi_task *t);    /* 2E AE 8E */
enum scsi_exec sbc_verify(struct scsi_task *t);          /* 2F AF 8F */
enum scsi_exec sbc_write_same(struct scsi_task *t);      /* 41 93 */
enum scsi_exec sbc_unmap(struct scsi_task *t);           /* 42 */
enum scsi_exec sbc_get_lba_status(struct scsi_task *t);  /* 9E/12 */
enum scsi_exec sbc_read_capacity10(struct scsi_task *t); /* 25 */
enum scsi_exec sbc_read_capacity16(struct scsi_task *t); /* 9E/10 */
enum scsi_exec sbc_sync_cache(struct scsi_task *t);      /* 35 91 */
enum scsi_exec sbc_compare_and_write(struct scsi_task *t); /* 89 */
enum scsi_exec sbc_orwrite(struct scsi_task *t);         /* 8B */
enum scsi_exec sbc_prefetch(struct scsi_task *t);        /* 34 90 */
enum scsi_exec sbc_read_defect_data(struct scsi_task *t); /* 37 B7 */
enum scsi_exec sbc_xcopy(struct scsi_task *t);           /* 83/00 LID1 */
enum scsi_exec sbc_receive_copy_results(struct scsi_task *t); /* 84 */

/* For XCOPY: find a LUN of any target by its NAA designator. */
struct scsi_lun *scsi_lun_find_by_naa(const uint8_t *naa, unsigned len);

/* ------------------------------------------------------------------------
 * Additions by the core (lun.c, task.c, sense.c, spc.c, opcodes.c, alua.c).
 * ------------------------------------------------------------------------ */

#define SCSI_LUN_MAX 256u /* flat single-level addressing: LUN 0..255 */

/* Vendor/product defaults when a LUN config leaves them empty. */
#define SCSI_DEFAULT_VENDOR "CTGT"
#define SCSI_DEFAULT_PRODUCT "ctgt disk"
#define SCSI_DEFAULT_REVISION "0001"

/*
 * Unit attention conditions (SAM-5 5.14, SPC-4 table 49 ASC/ASCQ). One bit
 * per condition in an I_T_L nexus's atomic pending mask; a lower number is
 * reported first. The reset class (29h) comes first because it tells the
 * initiator that everything it knew may be stale; the 2Ah parameter /
 * reservation changes follow; the 3Fh inventory changes come last.
 */
enum scsi_ua {
	SCSI_UA_POWER_ON = 0,            /* 29/00 power on, reset, target reset */
	SCSI_UA_LUN_RESET,               /* 29/03 bus device reset function */
	SCSI_UA_NEXUS_LOSS,              /* 29/07 I_T nexus loss occurred */
	SCSI_UA_COMMANDS_CLEARED,        /* 2F/00 by another initiator (TAS=0) */
	SCSI_UA_RESERVATIONS_PREEMPTED,  /* 2A/03 */
	SCSI_UA_RESERVATIONS_RELEASED,   /* 2A/04 */
	SCSI_UA_REGISTRATIONS_PREEMPTED, /* 2A/05 */
	SCSI_UA_ASYMMETRIC_ACCESS_CHANGED, /* 2A/06 */
	SCSI_UA_MODE_PARAMS_CHANGED,     /* 2A/01 */
	SCSI_UA_CAPACITY_CHANGED,        /* 2A/09 */
	SCSI_UA_INQUIRY_DATA_CHANGED,    /* 3F/03 */
	SCSI_UA_REPORTED_LUNS_CHANGED,   /* 3F/0E */
	SCSI_UA_COUNT
};

#define SCSI_LOST_PORTS 16u /* remembered I_T nexus losses per target */

struct scsi_target {
	char name[SCSI_NAME_MAX];
	pthread_mutex_t lock;             /* tports, nexuses, lun table writes */
	struct list_head tports;
	struct list_head nexuses;
	struct list_head luns;            /* scsi_lun.target_link, by id */
	/* Read lock-free on the I/O path; written under lock. */
	struct scsi_lun *_Atomic lun_table[SCSI_LUN_MAX];
	/* Recently lost I_T nexuses (initiator port + RTPI), under lock: a
	 * returning initiator port sees 29/07 instead of 29/00 (lun.c). */
	struct {
		char port[SCSI_PORT_NAME_MAX];
		uint16_t rtpi;
	} lost[SCSI_LOST_PORTS];
	unsigned lost_next;
	/* REPORT TARGET PORT GROUPS descriptors published by the daemon
	 * (scsi_target_rtpg_publish), under lock; rtpg_len 0: local ports. */
	uint32_t rtpg_len;
	uint8_t rtpg[SCSI_RTPG_DESC_MAX];
};

struct scsi_tport {
	struct scsi_target *target;
	struct list_head target_link;
	uint16_t tpg_tag;
	uint16_t rtpi;
	uint16_t port_group;
	char name[SCSI_PORT_NAME_MAX];    /* "<target>,t,0x<tpgt>" (SPC-4 7.8.6.10) */
	atomic_uint alua_state;           /* enum alua_state of its port group */
};

struct scsi_nexus {
	struct scsi_target *target;
	struct scsi_tport *tport;
	struct list_head target_link;     /* target->nexuses, under target->lock */
	char initiator_name[SCSI_NAME_MAX];
	uint8_t isid[6];
	char initiator_port[SCSI_PORT_NAME_MAX]; /* "<name>,i,0x<isid>" */
	struct base_loop *loop;           /* runs every task and TMF of this nexus */
	const struct scsi_fabric_ops *ops;
	void *fabric_priv;
	atomic_int refs;                  /* the fabric's + in-flight TMF pieces */
	atomic_bool gone;                 /* scsi_nexus_destroy() ran: pieces
	                                     still queued must not call ops */
	/* I_T_L nexuses by LUN id; written under target->lock. */
	struct scsi_itl *_Atomic itls[SCSI_LUN_MAX];
	/* The nexus as the PR engine names it: initiator port TransportID
	 * (name + ISID) and the target port's RTPI. Set at creation. */
	struct pr_nexus pr;
};

/* One I_T_L nexus: the unit attentions pending for it and its task set
 * (TST = 001b: one task set per I_T nexus, see lun.c). The task set is only
 * touched on nexus->loop; ua_pending is atomic so any thread may raise. */
struct scsi_itl {
	struct scsi_nexus *nexus;
	struct scsi_lun *lu;
	struct list_head lu_link;         /* lu->itls, under lu->itl_lock */
	atomic_uint ua_pending;           /* bit (1u << enum scsi_ua) */
	struct list_head tasks;           /* arrival order */
	unsigned n_ordered;               /* ORDERED tasks in the set */
	unsigned n_waiting;               /* tasks not started yet */
	bool dispatching;                 /* guard against recursive starts */
};

/* Raise a UA on one I_T_L nexus (any thread). */
void scsi_itl_ua_raise(struct scsi_itl *itl, enum scsi_ua ua);
/* Raise a UA on every I_T_L nexus of a LUN except `except` (may be NULL).
 * Takes lu->itl_lock. */
void scsi_lun_ua_raise_all(struct scsi_lun *lu, enum scsi_ua ua,
			   const struct scsi_nexus *except);
/* The highest-priority pending UA of an I_T_L nexus, or -1. With clear set,
 * it is taken off the pending mask atomically (reported exactly once). */
int scsi_itl_ua_next(struct scsi_itl *itl, bool clear);

uint32_t scsi_lun_id(const struct scsi_lun *lu);
/* The LUN with this id in the target, or NULL (lock-free). */
struct scsi_lun *scsi_target_lun(struct scsi_target *t, uint32_t id);

/* Accessors for handlers (sbc.c, xcopy.c). */
static inline struct base_loop *scsi_task_loop(const struct scsi_task *t)
{
	return t->nexus->loop;
}
static inline uint32_t scsi_task_block_size(const struct scsi_task *t)
{
	return t->lu->cfg.block_size;
}

/* Whether a TMF aborted this running task: long handlers (XCOPY, large
 * WRITE SAME) may stop early and call scsi_task_finish(); the core then
 * reports the abort, whatever status the handler set. */
static inline bool scsi_task_is_aborted(const struct scsi_task *t)
{
	return (t->core_flags & 0x08u) != 0; /* SCSI_TF_ABORTED */
}

/* Nexus references for work posted to a nexus's loop (lun.c). */
void scsi_nexus_get(struct scsi_nexus *n);
void scsi_nexus_put(struct scsi_nexus *n);

/* --- the one sense builder (sense.c) --- */

/* Optional detail for the sense data: the sense-key specific field pointer
 * (SPC-4 4.5.2.4.2) and the INFORMATION field (SPC-4 4.5.2.1). */
struct scsi_sense_detail {
	bool sks_valid;
	bool cdb;          /* C/D: 1 = field in the CDB, 0 = parameter list */
	int8_t bit;        /* < 0: no bit pointer (BPV = 0) */
	uint16_t field;    /* byte offset */
	bool info_valid;
	uint64_t info;
	int ua;            /* SCSI_SR_UNIT_ATTENTION: enum scsi_ua */
};

/* THE function mapping a sense reason to status + sense (sense.c). */
void scsi_sense_build(struct scsi_task *t, enum scsi_sense_reason r,
		      const struct scsi_sense_detail *d);
/* ASC/ASCQ of a UA (sense.c's UA table). */
void scsi_sense_ua_code(enum scsi_ua ua, uint8_t *asc, uint8_t *ascq);
/* Sense data returned as parameter data by REQUEST SENSE (SPC-4 6.39):
 * reason r (SCSI_SR_OK: NO SENSE; SCSI_SR_UNIT_ATTENTION with ua), fixed
 * or descriptor format. Returns the length written to buf (<= size). */
uint32_t scsi_sense_request(uint8_t *buf, uint32_t size,
			    enum scsi_sense_reason r, int ua, bool desc);

/* --- the opcode table (opcodes.c) --- */

/* Row flags. */
#define SCSI_OPF_UA_OK       0x01u /* runs with a pending UA (SPC-4 5.14) */
#define SCSI_OPF_NO_LUN_OK   0x02u /* runs on an unknown LUN */
#define SCSI_OPF_WRITES      0x04u /* modifies the medium: read-only check */
#define SCSI_OPF_MEDIUM      0x08u /* medium access: NOT READY when stopped */
#define SCSI_OPF_SA          0x10u /* row selected by service action too */
#define SCSI_OPF_ALUA_OK     0x20u /* runs in ALUA standby, unavailable,
                                      transitioning (SPC-4 5.15.2.4.4-6) */
#define SCSI_OPF_STANDBY_OK  0x40u /* runs in ALUA standby too (5.15.2.4.4) */
#define SCSI_OPF_S2_OK       0x80u /* runs while another I_T nexus holds a
                                      SCSI-2 reservation (SPC-2 5.5.1) */

/* Persistent reservation conflict classes (SPC-4 5.13.1, table 63 rows
 * condensed): what a command needs from a PR holder it is not part of. */
enum scsi_pr_class {
	SCSI_PR_ALLOWED,        /* never conflicts (INQUIRY, REPORT LUNS, ...) */
	SCSI_PR_READ,           /* conflicts with Exclusive Access types */
	SCSI_PR_WRITE,          /* conflicts with Write Exclusive and EA types */
	SCSI_PR_CONFLICT,       /* conflicts with any reservation held by others */
	SCSI_PR_PR_IN,          /* PERSISTENT RESERVE IN: always allowed */
	SCSI_PR_PR_OUT,         /* PERSISTENT RESERVE OUT: decided by the engine */
};

struct scsi_opcode {
	uint8_t opcode;
	uint8_t sa;             /* service action, with SCSI_OPF_SA */
	uint8_t cdb_len;
	uint8_t flags;
	uint8_t pr_class;       /* enum scsi_pr_class */
	uint16_t timeout_s;     /* RSOC command timeouts descriptor */
	const char *name;
	scsi_exec_fn exec;
	/* CDB usage data (SPC-4 6.35.3): byte 0 is the opcode, then a mask of
	 * the bits the device server honours; the last byte is CONTROL. */
	uint8_t usage[SCSI_CDB_MAX];
};

/* The row for a CDB (opcode + service action where the opcode has them),
 * or NULL. *sa_invalid is set when the opcode exists but not the SA. */
const struct scsi_opcode *scsi_opcode_lookup(const uint8_t *cdb, bool *sa_invalid);
/* Every row, in table order, for REPORT SUPPORTED OPERATION CODES. */
const struct scsi_opcode *scsi_opcode_rows(unsigned *count);
/* Whether any row of this opcode has a service action. */
bool scsi_opcode_has_sa(uint8_t opcode);

/* --- SPC-4 handlers (spc.c) and ALUA (alua.c) --- */
enum scsi_exec spc_test_unit_ready(struct scsi_task *t);
enum scsi_exec spc_inquiry(struct scsi_task *t);
enum scsi_exec spc_request_sense(struct scsi_task *t);
enum scsi_exec spc_report_luns(struct scsi_task *t);
enum scsi_exec spc_report_supported_opcodes(struct scsi_task *t);
enum scsi_exec spc_report_supported_tmf(struct scsi_task *t);
enum scsi_exec spc_mode_sense(struct scsi_task *t);
enum scsi_exec spc_mode_select(struct scsi_task *t);
enum scsi_exec spc_start_stop_unit(struct scsi_task *t);
enum scsi_exec spc_prevent_allow(struct scsi_task *t);
enum scsi_exec alua_report_tpgs(struct scsi_task *t);

/* --- reservations (spc_pr.c) --- */
enum scsi_exec spc_pr_in(struct scsi_task *t);            /* 5E */
enum scsi_exec spc_pr_out(struct scsi_task *t);           /* 5F */
enum scsi_exec spc_reserve(struct scsi_task *t);          /* 16 56 */
enum scsi_exec spc_release(struct scsi_task *t);          /* 17 57 */
/* LU life: 0 or -ENOMEM; fini frees. */
int scsi_lun_pr_init(struct scsi_lun *lu);
void scsi_lun_pr_fini(struct scsi_lun *lu);
/* I_T nexus loss of n (SAM-5 6.3.4): the SCSI-2 reservation n holds on
 * the LU ends, on every node (a NEXUS_LOSS message). PRs stay. */
void scsi_lun_pr_nexus_lost(struct scsi_lun *lu, const struct scsi_nexus *n);

/* --- the replicated state (repl.c; scsi.h) --- */

/* One message of a LU on its way: encoded, with who waits for it. */
struct scsi_lu_req {
	struct scsi_lun *lu;
	uint8_t type;                 /* enum lu_repl_msg_type */
	/* Who waits, on loop: finish(req) after scsi_lu_req_done (then
	 * finish frees req with scsi_lu_req_free); no finish: nobody. */
	struct base_loop *loop;
	void (*finish)(struct scsi_lu_req *req);
	struct scsi_task *task;       /* PR OUT, RESERVE, RELEASE */
	struct scsi_tmf *tmf;         /* LUN / TARGET RESET */
	struct scsi_nexus *nexus;     /* the issuing nexus, referenced */
	struct scsi_lu_apply local;   /* the apply without a sequencer */
	bool in_submit, done_inline;
	int status;                   /* scsi_lu_req_done's */
	/* This node's apply of it, when it ran here. */
	bool applied;
	uint8_t res_status;           /* enum pr_status */
	uint8_t res_reason;           /* enum pr_reason */
	struct pr_field res_field;
	int persist_err;              /* its APTPL write's */
	size_t len;
	uint8_t msg[];
};

/* The request for message m (encoded), or NULL (no memory; logged). */
struct scsi_lu_req *scsi_lu_req_new(struct scsi_lun *lu,
				    const struct lu_repl_msg *m);
/* The same for a message that carries only a type and the nexus n (all
 * but PR_OUT and NODE_LEFT). */
struct scsi_lu_req *scsi_lu_req_nexus(struct scsi_lun *lu, uint8_t type,
				      const struct pr_nexus *n);
/* After every change of lu->repl, under pr_lock (or before serving):
 * pr_any follows it. */
void scsi_lun_repl_any_update(struct scsi_lun *lu);
/* At the LU's end: its replicated state and what repl.c kept with it. */
void scsi_lun_repl_fini(struct scsi_lun *lu);
void scsi_lu_req_free(struct scsi_lu_req *req);
/* Orders req (its sequencer, or at once here). 0: req->finish runs
 * later on req->loop; 1: it completed inside the call (req->status and
 * the result are set, finish is not called: the caller goes on). */
int scsi_lu_req_submit(struct scsi_lu_req *req);

/* --- APTPL files (pr_store.c) --- */

/* One LU's APTPL file: durable writes off the event loops. */
struct scsi_pr_store;

/* Waits for an image to be durable. Filled by scsi_pr_store_submit; done
 * runs once, on loop (or on the writer thread when loop is NULL), with
 * err 0 when a write that includes the image is durable, else the -errno
 * of the write that should have carried it. */
struct scsi_pr_store_waiter {
	struct list_head link;
	uint64_t seq;
	int err;
	struct base_loop *loop;
	void (*done)(struct scsi_pr_store_waiter *w);
};

/* Config time: makes the file's directory if missing (mkdir -p) and
 * checks it is writable, removes a stale "<path>.tmp", starts the writer
 * thread with the first store. 0 or -errno. */
int scsi_pr_store_open(const char *path, struct scsi_pr_store **out);
/* Waits for every submitted image, then frees s (config time). */
void scsi_pr_store_close(struct scsi_pr_store *s);
const char *scsi_pr_store_path(const struct scsi_pr_store *s);
/* Reads the file (at most max bytes): 0 with *buf (free it) and *len;
 * -ENOENT when there is none, -EFBIG when larger, other -errno. */
int scsi_pr_store_read(const struct scsi_pr_store *s, size_t max,
		       uint8_t **buf, size_t *len);
/* Queues buf (malloc'ed, len bytes; the store frees it) as the file's
 * next content and returns its sequence number; w (may be NULL) hears
 * when it is durable. Never blocks on I/O; an image not yet written is
 * replaced (the new one includes its change). Call under the lock that
 * orders the images (lu->pr_lock). */
uint64_t scsi_pr_store_submit(struct scsi_pr_store *s, uint8_t *buf,
			      size_t len, struct scsi_pr_store_waiter *w);
/* Blocks until every submitted image is written (not on an event loop);
 * returns the last write's 0 or -errno. */
int scsi_pr_store_flush(struct scsi_pr_store *s);
/* Unit tests only: when set, called before each step of a write ("open",
 * "write", "fsync", "rename", "dirsync"); non-zero (-errno) fails it. */
extern int (*scsi_pr_store_fault)(const char *step, const char *path);

/* A target port as ALUA reports it; local today, remote (other cluster
 * nodes) later. */
struct alua_port {
	uint16_t rtpi;
	uint16_t port_group;
	uint8_t state;          /* enum alua_state */
	bool local;
};

/* SPC-4 6.27, table 167: ASYMMETRIC ACCESS STATE */
enum alua_state {
	ALUA_STATE_ACTIVE_OPTIMIZED = 0x0,
	ALUA_STATE_ACTIVE_NON_OPTIMIZED = 0x1,
	ALUA_STATE_STANDBY = 0x2,
	ALUA_STATE_UNAVAILABLE = 0x3,
	ALUA_STATE_TRANSITIONING = 0xF,
};

/* Sets the state of a local target port group (e.g. UNAVAILABLE when the
 * node loses quorum) and raises ASYMMETRIC ACCESS STATE CHANGED on every
 * I_T_L nexus of the target (SPC-4 5.15.2.6, implicit transition).
 * Returns the number of ports changed. Not the I/O path. */
unsigned alua_group_set_state(struct scsi_target *t, uint16_t port_group,
			      enum alua_state state);
/* The ALUA gate (task.c): SCSI_SR_OK, or why a command through this port
 * may not run in its group's state (SPC-4 5.15.2.4). */
enum scsi_sense_reason alua_check(const struct scsi_task *t,
				  const struct scsi_opcode *op);
/* Fills up to max ports of t; returns how many exist (may exceed max). */
unsigned alua_target_ports(struct scsi_target *t, struct alua_port *out,
			   unsigned max);

/* --- gates the PR engine will fill (task.c) --- */
/* SCSI-2 RESERVE/RELEASE (SPC-2 5.5.1): SCSI_SR_OK or RESERVATION_CONFLICT. */
enum scsi_sense_reason scsi_lun_check_reservation(struct scsi_task *t,
						  const struct scsi_opcode *op);
/* Persistent reservations (SPC-4 5.13.1): the row's pr_class against the
 * current holder and type. */
enum scsi_sense_reason scsi_lun_check_pr(struct scsi_task *t,
					 const struct scsi_opcode *op);

/* For PREEMPT AND ABORT (SPC-4 5.13.11.2.4) and the PR engine: aborts the
 * tasks of lu on every I_T nexus for which match(nexus, arg) holds (called
 * under lu->itl_lock: no blocking). Those nexuses' aborted tasks follow
 * TAS; with TAS = 0 each other nexus that lost tasks gets UA 2F/00. The
 * requester is tmf->nexus (its own tasks end without a response);
 * tmf->done(tmf, COMPLETE) comes on its loop after every aborted task
 * completed. Same return contract as scsi_tmf_submit(). */
int scsi_lun_abort_nexuses(struct scsi_tmf *tmf, struct scsi_lun *lu,
			   struct base_loop *home, bool raise_cleared,
			   bool (*match)(const struct scsi_nexus *n, void *arg),
			   void *arg);
/* Calls fn on every I_T_L nexus of lu under lu->itl_lock (not the I/O
 * path; fn must not block or take itl_lock). For the PR engine to pick the
 * nexuses whose UAs a reservation change raises. */
void scsi_lun_itl_foreach(struct scsi_lun *lu,
			  void (*fn)(struct scsi_itl *itl, void *arg),
			  void *arg);

/* Task core_flags (task.c). */
#define SCSI_TF_IN_SET   0x01u /* linked in itl->tasks */
#define SCSI_TF_WAITING  0x02u /* in the set, not started */
#define SCSI_TF_STARTED  0x04u /* handler called */
#define SCSI_TF_ABORTED  0x08u /* aborted while running */
#define SCSI_TF_QUIET    0x10u /* aborted: no_response */
#define SCSI_TF_DONE     0x20u /* done() called (debug aid) */

#endif
