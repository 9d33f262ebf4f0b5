/*
 * Private to the SBC-3 handlers (sbc.c, xcopy.c): the per-LUN state behind
 * lu->sbc, the LBA range lock that makes COMPARE AND WRITE and ORWRITE
 * atomic on this node, and the small asynchronous command runner both
 * files use to chain backstore I/O.
 *
 * Nothing here parses a CDB or knows a sense code beyond the reason enum;
 * the cluster-wide CAW lock (DESIGN.md) will sit behind sbc_range_lock()
 * later without changing its callers.
 */
#ifndef CTGT_SCSI_SBC_H
#define CTGT_SCSI_SBC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backstore/backstore.h"
#include "base/list.h"
#include "scsi/scsi_internal.h"

struct base_loop;

/* VPD B0 WSNZ: sbc.c and spc.c both follow SCSI_WSNZ (scsi_internal.h).
 * 0 is what libiscsi's WriteSame*.ZeroBlocks passes with; 1 would make
 * WRITE SAME with 0 blocks INVALID FIELD IN CDB. */
#define SBC_WSNZ SCSI_WSNZ

/* Bounce buffers (WRITE SAME pattern, VERIFY, CAW, XCOPY) never exceed
 * this; longer work is chunked, one backstore request at a time. */
#define SBC_BOUNCE_MAX (1u << 20)

/* --- LBA range lock (one LUN, this node) --- */

struct sbc_range {
	struct list_head link;          /* lu->sbc->busy or ->waiting */
	uint64_t lba;
	uint64_t nblocks;
	struct base_loop *loop;         /* where granted() runs */
	void (*granted)(struct sbc_range *r);
	struct sbc_range *retry_next;   /* grant whose hop failed (ENOMEM) */
};

/* Takes [lba, lba + nblocks) of lu. true: held now. false: queued;
 * r->granted(r) runs later on r->loop once every overlapping holder has
 * released (FIFO among overlapping waiters). Never blocks the thread. */
bool sbc_range_lock(struct scsi_lun *lu, struct sbc_range *r);
void sbc_range_unlock(struct scsi_lun *lu, struct sbc_range *r);

/* --- EXTENDED COPY bookkeeping for RECEIVE COPY RESULTS --- */

#define SBC_XCOPY_RECORDS 32u      /* per LUN, oldest finished reused */

enum sbc_xcopy_state {
	SBC_XCOPY_FREE = 0,
	SBC_XCOPY_RUNNING,
	SBC_XCOPY_DONE,
	SBC_XCOPY_FAILED,
};

struct sbc_xcopy_record {
	enum sbc_xcopy_state state;
	uint8_t list_id;
	/* The I_T nexus that sent it, by name: target port + initiator
	 * port, so a new session of the same initiator port finds it. */
	const struct scsi_tport *tport;
	char initiator_port[SCSI_PORT_NAME_MAX];
	uint16_t segments_done;
	uint64_t bytes_done;
	uint64_t stamp;                 /* for reuse: lower is older */
};

struct sbc_lun {
	pthread_mutex_t lock;           /* busy, waiting, xcopy records */
	struct list_head busy;          /* held sbc_range */
	struct list_head waiting;       /* queued sbc_range, arrival order */
	struct sbc_range *retry;        /* granted, not yet told (see .c) */
	struct sbc_xcopy_record xcopy[SBC_XCOPY_RECORDS];
	uint64_t xcopy_stamp;
	unsigned xcopy_running;         /* copies in flight (bounce each) */
};

/* I_T nexus loss (SAM-5 6.3.4): forgets the finished EXTENDED COPY
 * results held for n on lu (SPC-4 6.3.1: held data is discarded on I_T
 * nexus loss). For lun.c's scsi_nexus_destroy(), once per I_T_L nexus;
 * any thread. */
void sbc_xcopy_nexus_lost(struct scsi_lun *lu, const struct scsi_nexus *n);

/* --- asynchronous command runner --- */

struct sbc_cmd;

/* A step of a command. res is the previous backstore result (0 on the
 * first call). Returns true when a request is in flight again (the next
 * step runs in its completion), false when the command is over with the
 * outcome in c->sr (and c->info for MISCOMPARE). */
typedef bool (*sbc_step_fn)(struct sbc_cmd *c, int res);

struct sbc_cmd {
	struct scsi_task *t;
	struct scsi_lun *lu;
	struct bs_io io;
	struct iovec iov;
	sbc_step_fn step;
	sbc_step_fn after_read;          /* read-modify-write: the modify step */
	enum scsi_sense_reason sr;
	uint64_t info;                  /* MISCOMPARE INFORMATION */
	bool locked;
	struct sbc_range range;
	bool clocked;                   /* holds crange on the cluster */
	struct scsi_lu_range crange;

	uint8_t *bounce;                /* owned, SBC_BOUNCE_MAX at most */
	uint32_t bounce_len;
	uint64_t lba;                   /* next LBA to work on */
	uint64_t left;                  /* blocks still to do */
	uint64_t pos;                   /* bytes of task->buf consumed */
	uint32_t chunk;                 /* blocks in the request in flight */
	unsigned io_flags;              /* BS_IO_FUA */
	uint32_t mode;                  /* per-command detail */

	void *priv;                     /* xcopy.c's state */
	void (*priv_free)(struct sbc_cmd *c);
};

struct sbc_cmd *sbc_cmd_new(struct scsi_task *t);
/* Runs the first step now: DONE (outcome set on t, c freed) or PENDING. */
enum scsi_exec sbc_cmd_start(struct sbc_cmd *c, sbc_step_fn first);
/* Same, but first takes c->range (set by the caller) on this node and,
 * for a clustered LU, on the cluster (scsi.h range_lock); waits if busy. */
enum scsi_exec sbc_cmd_start_locked(struct sbc_cmd *c, sbc_step_fn first);
/* Submits one request; next runs on its completion. false: not
 * submitted, c->sr set (BUSY on -ENOMEM/-EAGAIN). buf may be NULL for
 * FLUSH/UNMAP/WRITE_ZEROES. */
bool sbc_cmd_io(struct sbc_cmd *c, struct backstore *bs, enum bs_op op,
		uint64_t offset, uint64_t len, void *buf, sbc_step_fn next);
/* Sets c->sr from a failed backstore result; returns false. */
bool sbc_cmd_fail(struct sbc_cmd *c, int res, bool write);
/* 4096-aligned buffer (any O_DIRECT store accepts it), or NULL. */
void *sbc_bounce_alloc(size_t len);

/* A backstore -errno as a sense reason. */
enum scsi_sense_reason sbc_bs_reason(int res, bool write);

#endif
