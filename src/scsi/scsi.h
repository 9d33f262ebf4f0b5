/*
 * The SCSI target core's contract with fabrics (iSCSI today; NVMe-oF or vhost
 * could plug in the same way). Nothing in here knows about iSCSI.
 *
 * A fabric:
 *   1. creates an I_T nexus per session (scsi_nexus_create), naming the loop
 *      that owns the session;
 *   2. fills a struct scsi_task (CDB, LUN, attribute, buffer with all the
 *      write data or room for the read data) and calls scsi_task_submit();
 *   3. gets task->done() exactly once, on the nexus's loop, with status,
 *      sense and data_len set;
 *   4. sends task management through scsi_tmf_submit(), whose done() comes
 *      only after every affected task's done() (SAM-5 7.1, RFC 7143 11.5.1).
 *
 * The iSCSI task embeds the SCSI task and gets back with container_of.
 */
#ifndef CTGT_SCSI_SCSI_H
#define CTGT_SCSI_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct base_loop;
struct backstore;

#define SCSI_CDB_MAX 32
#define SCSI_SENSE_MAX 96
#define SCSI_NAME_MAX 224      /* iSCSI name: 223 bytes + NUL (RFC 7143 4.2.7.1) */
#define SCSI_PORT_NAME_MAX 256 /* name + ",i,0x" + 12 hex digits + NUL */

/* SAM-5 5.3 status codes */
enum scsi_status {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
	SCSI_STATUS_CONDITION_MET = 0x04,
	SCSI_STATUS_BUSY = 0x08,
	SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	SCSI_STATUS_TASK_SET_FULL = 0x28,
	SCSI_STATUS_ACA_ACTIVE = 0x30,
	SCSI_STATUS_TASK_ABORTED = 0x40,
};

enum scsi_task_attr {
	SCSI_ATTR_SIMPLE,
	SCSI_ATTR_ORDERED,
	SCSI_ATTR_HEAD_OF_QUEUE,
	SCSI_ATTR_ACA,
};

enum scsi_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_IN = 1,  /* data to the initiator (read) */
	SCSI_DIR_OUT = 2, /* data from the initiator (write) */
	SCSI_DIR_BIDI = 3,
};

/*
 * Every SCSI outcome is one of these (LIO's sense_reason_t). Exactly one
 * function, scsi_task_set_sense(), turns a reason into status + sense data.
 */
enum scsi_sense_reason {
	SCSI_SR_OK = 0,
	SCSI_SR_INVALID_OPCODE,               /* 05/20/00 */
	SCSI_SR_INVALID_FIELD_IN_CDB,         /* 05/24/00 */
	SCSI_SR_INVALID_FIELD_IN_PARAM_LIST,  /* 05/26/00 */
	SCSI_SR_PARAM_LIST_LENGTH_ERROR,      /* 05/1A/00 */
	SCSI_SR_LBA_OUT_OF_RANGE,             /* 05/21/00 */
	SCSI_SR_LUN_NOT_SUPPORTED,            /* 05/25/00 */
	SCSI_SR_SAVING_PARAMS_UNSUPPORTED,    /* 05/39/00 */
	SCSI_SR_WRITE_PROTECTED,              /* 07/27/00 */
	SCSI_SR_MISCOMPARE,                   /* 0E/1D/00 + information */
	SCSI_SR_READ_ERROR,                   /* 03/11/00 */
	SCSI_SR_WRITE_ERROR,                  /* 03/0C/00 */
	SCSI_SR_LU_COMM_FAILURE,              /* 04/08/00 */
	SCSI_SR_INTERNAL_TARGET_FAILURE,      /* 04/44/00 */
	SCSI_SR_NOT_READY_STOPPED,            /* 02/04/02 initializing command required */
	SCSI_SR_NOT_READY_TRANSITIONING,      /* 02/04/0A ALUA state transition */
	SCSI_SR_LU_NOT_READY_UNAVAILABLE,     /* 02/04/0C target port unavailable */
	SCSI_SR_MEDIUM_REMOVAL_PREVENTED,     /* 05/53/02 */
	SCSI_SR_INSUFFICIENT_REG_RESOURCES,   /* 05/55/04 */
	SCSI_SR_COPY_TARGET_DEVICE_NOT_REACHABLE, /* 05/0D/02 */
	SCSI_SR_TOO_MANY_SEGMENT_DESCRIPTORS, /* 05/26/08 */
	SCSI_SR_TOO_MANY_TARGET_DESCRIPTORS,  /* 05/26/06 */
	SCSI_SR_UNSUPPORTED_TARGET_DESC_TYPE, /* 05/26/07 */
	SCSI_SR_UNSUPPORTED_SEGMENT_DESC_TYPE,/* 05/26/09 */
	SCSI_SR_OPERATION_IN_PROGRESS,        /* 0B/00/16 */
	SCSI_SR_COMMANDS_CLEARED_BY_OTHER,    /* 06/2F/00 */
	SCSI_SR_ABORTED_COMMAND,              /* 0B/00/00 */
	SCSI_SR_DATA_DIGEST_ERROR,            /* 0B/47/05 (iSCSI fabrics) */
	SCSI_SR_OVERLAPPED_COMMANDS,          /* 0B/4E/00 */
	/* status only, no sense data */
	SCSI_SR_RESERVATION_CONFLICT,
	SCSI_SR_BUSY,
	SCSI_SR_TASK_SET_FULL,
	SCSI_SR_TASK_ABORTED,
	/* Unit attentions are raised by the core from its own queue. */
	SCSI_SR_UNIT_ATTENTION,
	/* additions (appended: values above stay stable) */
	SCSI_SR_LU_NOT_READY_STANDBY,         /* 02/04/0B target port in standby */
	SCSI_SR_INVALID_RELEASE_OF_PR,        /* 05/26/04 */
};

struct scsi_target;
struct scsi_tport;
struct scsi_lun;
struct scsi_nexus;
struct scsi_itl;

struct scsi_task {
	/* --- set by the fabric before scsi_task_submit() --- */
	struct scsi_nexus *nexus;
	uint64_t lun;              /* SAM LUN, the 8 wire bytes big endian */
	uint8_t cdb[SCSI_CDB_MAX];
	uint8_t cdb_len;
	enum scsi_task_attr attr;
	enum scsi_dir dir;
	uint64_t tag;              /* the fabric's task tag, for ABORT TASK */
	uint32_t edtl;             /* expected data transfer length */
	uint8_t *buf;              /* OUT: all edtl bytes; IN: room for edtl */
	void (*done)(struct scsi_task *task);

	/* --- results, valid in done() --- */
	uint8_t status;            /* enum scsi_status */
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t data_len;         /* IN: bytes of buf to send (<= edtl) */
	uint32_t xfer_len;         /* bytes the command itself transfers, for
	                              residuals (RFC 7143 11.4.5) */
	bool aborted;              /* terminated by a TMF or preemption */
	bool no_response;          /* aborted: send nothing (TAS = 0 or the
	                              nexus that asked for the abort) */

	/* --- core private --- */
	struct scsi_itl *itl;
	struct scsi_lun *lu;
	struct list_head link;     /* in the I_T_L task set */
	uint32_t core_flags;
	void *core_priv;           /* per-command scratch (CAW, XCOPY, ...) */
	const void *core_op;       /* the opcode table row */
	void *core_tmf;            /* the TMF piece waiting for this abort */
	struct {
		uint64_t lba;
		uint32_t nblocks;
		uint32_t aux;
	} op;
};

/* Task management functions (SAM-5 7) */
enum scsi_tmf_fn {
	SCSI_TMF_ABORT_TASK,
	SCSI_TMF_ABORT_TASK_SET,
	SCSI_TMF_CLEAR_TASK_SET,
	SCSI_TMF_CLEAR_ACA,
	SCSI_TMF_LUN_RESET,
	SCSI_TMF_TARGET_WARM_RESET,
	SCSI_TMF_TARGET_COLD_RESET,
	SCSI_TMF_QUERY_TASK,
};

enum scsi_tmf_resp {
	SCSI_TMF_RESP_COMPLETE,
	SCSI_TMF_RESP_TASK_NOT_FOUND,
	SCSI_TMF_RESP_LUN_NOT_FOUND,
	SCSI_TMF_RESP_NOT_SUPPORTED,
	SCSI_TMF_RESP_REJECTED,
	SCSI_TMF_RESP_SUCCEEDED, /* QUERY TASK: the task exists */
};

struct scsi_tmf {
	struct scsi_nexus *nexus;
	enum scsi_tmf_fn fn;
	uint64_t lun;
	uint64_t ref_tag;          /* ABORT TASK, QUERY TASK */
	void (*done)(struct scsi_tmf *tmf, enum scsi_tmf_resp resp);
	/* core private */
	int pending;
	enum scsi_tmf_resp resp;
	struct scsi_lun *lu;
	struct base_loop *home;    /* where the pieces come back */
};

/* What the core may ask of a fabric, per nexus. Called on the nexus's loop. */
struct scsi_fabric_ops {
	/* Abort the tasks the fabric holds that the core has not seen yet
	 * (e.g. iSCSI tasks still waiting for Data-Out) for LUN lun_id (as
	 * scsi_task_lun_id() decodes a task's lun), or for every LUN when lun_id
	 * is negative. Part of every TMF but ABORT TASK, and of PREEMPT AND
	 * ABORT. The core decides how they end (SAM-5 5.6), the fabric only
	 * sends or not: quiet, no response at all (the nexus that asked for
	 * the abort, or TAS = 0); otherwise TASK ABORTED status, no sense
	 * data, as for an aborted task the core has (done() with aborted set
	 * and no_response clear). Returns how many tasks it aborted: with
	 * TAS = 0 the core raises 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR
	 * for them where it would for its own. */
	unsigned (*abort_unsubmitted)(struct scsi_nexus *nexus, int lun_id,
				      bool quiet);
};

/* --- configuration-time objects (created before serving, not on the I/O
 * path; every call here returns 0 or -errno and logs why) --- */

struct scsi_lun_config {
	uint64_t lun_id;           /* 0..255, flat (peripheral) addressing */
	struct backstore *bs;
	uint32_t block_size;       /* 512 or 4096 */
	uint64_t nblocks;
	bool readonly;
	bool thin;                 /* thin provisioning: UNMAP, LBPME */
	bool write_cache;          /* WCE in the caching mode page */
	char serial[33];           /* unit serial number (VPD 80) */
	uint8_t naa[16];           /* NAA IEEE Registered Extended (type 6) */
	char vendor[9];
	char product[17];
	char revision[5];
	/* APTPL file of the LU's persistent reservations (SPC-4 5.14.5);
	 * NULL: APTPL not supported (PTPL_C = 0). Read by scsi_lun_create
	 * (restored when it exists) and copied: need not outlive the call. */
	const char *aptpl_file;
};

int scsi_target_create(const char *name, struct scsi_target **out);
void scsi_target_destroy(struct scsi_target *t);
const char *scsi_target_name(const struct scsi_target *t);

/* A target port: target + target portal group. rtpi is unique across the
 * cluster (SPC-4 7.8.6.5 relative target port identifier); port_group is
 * the ALUA target port group (one per node). */
int scsi_tport_create(struct scsi_target *t, uint16_t tpg_tag, uint16_t rtpi,
		      uint16_t port_group, struct scsi_tport **out);
uint16_t scsi_tport_rtpi(const struct scsi_tport *tp);

/*
 * The cluster's view of the target's ports, for REPORT TARGET PORT GROUPS
 * (SPC-4 6.27). The core knows only this node's ports; in a cluster the
 * daemon builds the cluster-wide answer off the I/O path (its port
 * directory) and publishes it here, and alua.c copies it under the
 * target's lock: the I/O path never waits on the cluster.
 *
 * scsi_target_rtpg_publish: desc is the sequence of target port group
 * descriptors (table 166: everything after the parameter data header),
 * len at most SCSI_RTPG_DESC_MAX; the core adds the header for format 0
 * or 1. desc NULL (len 0): back to this node's own ports. 0 or -E2BIG.
 * When the descriptors change, UA ASYMMETRIC ACCESS STATE CHANGED (2A/06)
 * is raised on every I_T_L nexus of the target's LUs (SPC-4 5.15.2.6).
 *
 * scsi_target_group_available: moves this node's port group port_group
 * to ACTIVE/OPTIMIZED (true) or UNAVAILABLE (false), an implicit ALUA
 * transition with UA 2A/06 (e.g. a node without quorum stops serving).
 * Returns the number of ports changed. Neither is the I/O path.
 */
#define SCSI_RTPG_DESC_MAX 4096u
int scsi_target_rtpg_publish(struct scsi_target *t, const uint8_t *desc,
			     size_t len);
unsigned scsi_target_group_available(struct scsi_target *t,
				     uint16_t port_group, bool available);

int scsi_lun_create(struct scsi_target *t, const struct scsi_lun_config *cfg,
		    struct scsi_lun **out);
/* Config time: no task of the LUN may be outstanding. */
void scsi_lun_destroy(struct scsi_lun *lu);
/* The backstore grew or shrank: new capacity in blocks, UA CAPACITY DATA
 * HAS CHANGED (2A/09) on every I_T_L nexus of the LUN (SBC-3 4.8). */
int scsi_lun_resize(struct scsi_lun *lu, uint64_t nblocks);

/* I_T nexus for one session: initiator port = name + ISID (SPC-4 7.6.4.6
 * TransportID format 01b), target port = tport. The nexus's tasks and
 * callbacks all run on loop. */
int scsi_nexus_create(struct scsi_tport *tp, const char *initiator_name,
		      const uint8_t isid[6], struct base_loop *loop,
		      const struct scsi_fabric_ops *ops, void *fabric_priv,
		      struct scsi_nexus **out);
void *scsi_nexus_fabric_priv(const struct scsi_nexus *n);
/* I_T nexus loss (SAM-5 6.3.4). No task of the nexus may be outstanding. */
void scsi_nexus_destroy(struct scsi_nexus *n);

/*
 * --- the LU's replicated state (issue 5; docs/cluster-device.md) ---
 *
 * Every change of a LU's reservation state is a message (scsi/lu_repl.h):
 * PR OUT, RESERVE and RELEASE, LOGICAL UNIT RESET, TARGET RESET, I_T
 * nexus loss. The core encodes the message and hands it to the LU's
 * sequencer. Without one (the single-node default) the core applies it
 * at once on the issuing loop. With one, the daemon orders it through
 * the cluster, calls scsi_lun_repl_apply() on every node in that order
 * and scsi_lu_req_done() on the issuing node once every member applied
 * it; the command's status or the TMF's response waits for that. The
 * gates of the I/O path read the local copy and never wait.
 */
struct scsi_lu_req;

/* A cluster-wide LBA range lock request (scsi_lu_seq.range_lock). */
struct scsi_lu_range {
	uint64_t lba, nblocks;
	struct base_loop *loop;      /* where granted() runs */
	/* status 0: held; -errno: not taken (node not ready...) */
	void (*granted)(struct scsi_lu_range *r, int status);
	void *seq_priv;              /* the sequencer's, while held */
};

struct scsi_lu_seq {
	/* Any thread. 0: scsi_lu_req_done(req, ...) is called exactly
	 * once, later; or -errno (not ordered; nothing was applied). */
	int (*submit)(struct scsi_lu_seq *seq, struct scsi_lu_req *req);
	/* At apply time: whether rtpi is a target port of some node
	 * (REGISTER AND MOVE, SPC-4 6.16.4). */
	bool (*port_exists)(struct scsi_lu_seq *seq, uint16_t rtpi);
	/* COMPARE AND WRITE and ORWRITE (SBC-3 5.3, 5.9) are atomic
	 * across nodes under an exclusive lock of their LBA range, taken
	 * after the node's own range lock. range_lock: any thread; 0 and
	 * r->granted later, 1 when held already (no granted: the node
	 * kept the range from an earlier command), or -errno (then no
	 * granted). range_unlock: any thread, for a held r. */
	int (*range_lock)(struct scsi_lu_seq *seq, struct scsi_lu_range *r);
	void (*range_unlock)(struct scsi_lu_seq *seq,
			     struct scsi_lu_range *r);
};

/* Before serving (no task of the LU outstanding): seq must outlive the
 * LU or be detached with NULL. */
void scsi_lun_set_seq(struct scsi_lun *lu, struct scsi_lu_seq *seq);

/* The encoded lu_repl message of req. */
const void *scsi_lu_req_msg(const struct scsi_lu_req *req, size_t *len);
/* Whether nobody waits for req (I_T nexus loss): the sequencer orders it
 * eventually, again once ready after a -EAGAIN, rather than drop it. */
bool scsi_lu_req_unwaited(const struct scsi_lu_req *req);
/* Any thread: status 0 when every member applied the message, -EAGAIN
 * when it was not ordered (node not ready), another -errno when its
 * outcome is unknown here. */
void scsi_lu_req_done(struct scsi_lu_req *req, int status);

/* One apply of a message on this node; done runs on loop when it has
 * raised its UAs, aborted its tasks and written the LU's APTPL image. */
struct scsi_lu_apply {
	struct base_loop *loop;
	void (*done)(struct scsi_lu_apply *a);
};

/*
 * Applies one ordered message on this node; call on a->loop. issuer is
 * the req when this node submitted it (its result goes there), else
 * NULL. A message that does not decode is logged and changes nothing
 * (the same on every node). Returns 0 when everything is done, or 1:
 * a->done runs later.
 */
int scsi_lun_repl_apply(struct scsi_lun *lu, const void *msg, size_t len,
			struct scsi_lu_req *issuer, struct scsi_lu_apply *a);
/* State transfer (lu_repl_save / _load / _reset under the LU's lock).
 * load: 0, or -errno (a snapshot of an LU configured otherwise). After
 * a load the LU's APTPL file is rewritten when it holds another image,
 * and this node's I_T nexuses get the unit attentions for what changed
 * since the reset before it (a node that was away: repl.c, "missed"). */
int scsi_lun_repl_save(struct scsi_lun *lu, void **data, size_t *len);
int scsi_lun_repl_load(struct scsi_lun *lu, const void *data, size_t len);
void scsi_lun_repl_reset(struct scsi_lun *lu);

/*
 * Whole-cluster restart (DESIGN.md: the highest (epoch, generation)
 * wins, whichever node starts first). The daemon holds the LU while it
 * gathers every first member's APTPL image: commands other than the
 * ALUA-allowed ones (INQUIRY, REPORT LUNS, RTPG...) get NOT READY,
 * ASYMMETRIC ACCESS STATE TRANSITION (02/04/0A), which initiators retry.
 * scsi_lun_repl_image: this node's APTPL file (0 with *img malloc'ed,
 * -ENOENT when there is none or no file is configured, -errno).
 * scsi_lun_repl_adopt: in the cluster's order, on every node: installs
 * img when its (epoch, generation) is above the state's and writes it to
 * this node's file; 1 adopted, 0 not newer, -errno an image that does not
 * decode (nothing changes).
 */
void scsi_lun_repl_hold(struct scsi_lun *lu, bool hold);
int scsi_lun_repl_image(struct scsi_lun *lu, void **img, size_t *len);
int scsi_lun_repl_adopt(struct scsi_lun *lu, const void *img, size_t len);

/* --- the I/O path --- */

/* Always ends in exactly one task->done(), possibly before returning. */
void scsi_task_submit(struct scsi_task *task);

/* The LUN id a task's 8-byte LUN field names (SAM-5 4.7: single level,
 * peripheral or flat addressing), or -1 when it names none. */
int scsi_task_lun_id(uint64_t lun);

/* For a fabric that must fail a task before submitting it (e.g. no
 * memory for the buffer): sets status + sense from reason. */
void scsi_task_set_sense(struct scsi_task *task, enum scsi_sense_reason r);

/* 0: done() will be called exactly once, later or before returning.
 * <0: done() will not be called. */
int scsi_tmf_submit(struct scsi_tmf *tmf);

/* Block limits this core advertises (VPD B0), for fabric buffer sizing. */
#define SCSI_MAX_XFER_BYTES (8u << 20)

#endif
