/*
 * SBC-3 block commands: READ/WRITE (6/10/12/16), WRITE AND VERIFY, VERIFY,
 * WRITE SAME, UNMAP, GET LBA STATUS, READ CAPACITY, SYNCHRONIZE CACHE,
 * COMPARE AND WRITE, ORWRITE and PRE-FETCH, plus the per-LUN state behind
 * lu->sbc (the LBA range lock) and the small asynchronous runner that
 * chains backstore requests for one command.
 *
 * This file decodes CDBs and turns them into byte-addressed backstore
 * requests (DESIGN.md: backstores never see a CDB). It does not run the
 * gates (unit attention, reservations, write protect: task.c does, before
 * any handler here), does not build sense data (sense.c) and does not do
 * EXTENDED COPY (xcopy.c).
 *
 * Choices worth knowing:
 * - No cache of our own: DPO and FUA on reads are accepted and change
 *   nothing; FUA on writes (and every write while WCE = 0) becomes
 *   BS_IO_FUA. PRE-FETCH therefore returns GOOD, never CONDITION MET
 *   (SBC-3 5.7: CONDITION MET means the blocks now sit in a cache).
 * - No protection information: RDPROTECT/WRPROTECT/VRPROTECT/ORPROTECT
 *   other than 000b is INVALID FIELD IN CDB.
 * - Residuals (RFC 7143 11.4.5): task->xfer_len is what the CDB asks for;
 *   the fabric reports over/underflow against the EDTL. We never touch
 *   more than EDTL bytes of task->buf: a write transfers only the whole
 *   blocks the EDTL covers, a read returns min(xfer_len, EDTL) bytes,
 *   both with GOOD status (what libiscsi's residual tests expect).
 * - WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 follows SBC_WSNZ (sbc.h),
 *   which VPD B0 must report; ANC_SUP = 0: ANCHOR = 1 is INVALID FIELD.
 * - Data-out that disagrees with the CDB: WRITE SAME needs exactly one
 *   block and COMPARE AND WRITE exactly 2 x NUMBER OF LOGICAL BLOCKS,
 *   else INVALID FIELD IN CDB (at the length field).
 * - UNMAP on a fully provisioned LU (LBPU = 0) is INVALID OPERATION CODE;
 *   WRITE SAME's UNMAP bit there just writes.
 * - Backstore errors: -ENOMEM/-EAGAIN are BUSY (back-pressure), -EIO and
 *   the like MEDIUM ERROR (READ / WRITE ERROR), a vanished device
 *   LOGICAL UNIT COMMUNICATION FAILURE (sbc_bs_reason).
 * - COMPARE AND WRITE and ORWRITE hold an LBA range lock on this node for
 *   their read-modify-write; overlapping ones queue and resume on their
 *   own loop. On a clustered LU they then take the same range on the
 *   cluster (the LU's sequencer, range_lock: cached by the node while
 *   no other node asks), so they are atomic across nodes too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backstore.h"
#include "base/log.h"
#include "base/loop.h"
#include "scsi/sbc.h"
#include "scsi/scsi_internal.h"

/* GET LBA STATUS: descriptors returned per command at most. */
#define SBC_LBA_STATUS_MAX_DESC 64u

/* ------------------------------------------------------------------ */
/* per-LUN state */

int sbc_lun_init(struct scsi_lun *lu)
{
	struct sbc_lun *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return -ENOMEM;
	}
	list_init(&s->busy);
	list_init(&s->waiting);
	lu->sbc = s;
	return 0;
}

void sbc_lun_fini(struct scsi_lun *lu)
{
	struct sbc_lun *s = lu->sbc;

	if (!s)
		return;
	if (!list_empty(&s->busy) || !list_empty(&s->waiting))
		LOG_WARN("sbc: LUN freed with range locks outstanding");
	pthread_mutex_destroy(&s->lock);
	free(s);
	lu->sbc = NULL;
}

/* ------------------------------------------------------------------ */
/* LBA range lock */

static bool sbc_range_overlap(const struct sbc_range *a,
			      const struct sbc_range *b)
{
	/* Both ranges lie inside the LUN, so the sums cannot wrap. */
	return a->lba < b->lba + b->nblocks && b->lba < a->lba + a->nblocks;
}

static bool sbc_range_conflicts(const struct list_head *h,
				const struct sbc_range *r,
				const struct sbc_range *stop)
{
	const struct sbc_range *o;

	list_for_each_entry(o, h, link) {
		if (o == stop)
			break;
		if (sbc_range_overlap(o, r))
			return true;
	}
	return false;
}

static void sbc_range_grant_run(void *arg)
{
	struct sbc_range *r = arg;

	r->granted(r);
}

/* Tells a granted waiter on its own loop. When the hop cannot be
 * allocated the grant is parked on s->retry and the next lock or unlock
 * of the LUN, from any thread, tries again: back-pressure, not a lost
 * wake-up (the range stays held for the waiter meanwhile). */
static void sbc_range_grant(struct sbc_lun *s, struct sbc_range *w)
{
	if (base_loop_post(w->loop, sbc_range_grant_run, w) == 0)
		return;
	if (w->loop == base_loop_current()) {
		w->granted(w);
		return;
	}
	pthread_mutex_lock(&s->lock);
	w->retry_next = s->retry;
	__atomic_store_n(&s->retry, w, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
}

static void sbc_range_retry(struct sbc_lun *s)
{
	struct sbc_range *w;

	if (!__atomic_load_n(&s->retry, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&s->lock);
	w = s->retry;
	__atomic_store_n(&s->retry, NULL, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
	while (w) {
		struct sbc_range *next = w->retry_next;

		sbc_range_grant(s, w);
		w = next;
	}
}

bool sbc_range_lock(struct scsi_lun *lu, struct sbc_range *r)
{
	struct sbc_lun *s = lu->sbc;
	bool held;

	sbc_range_retry(s);

	pthread_mutex_lock(&s->lock);
	/* Waiters ahead of us keep their place: no overtaking. */
	held = !sbc_range_conflicts(&s->busy, r, NULL) &&
	       !sbc_range_conflicts(&s->waiting, r, NULL);
	list_add_tail(held ? &s->busy : &s->waiting, &r->link);
	pthread_mutex_unlock(&s->lock);
	return held;
}

void sbc_range_unlock(struct scsi_lun *lu, struct sbc_range *r)
{
	struct sbc_lun *s = lu->sbc;
	struct sbc_range *w, *tmp, *grant[16];
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	list_del(&r->link);
	list_for_each_entry_safe(w, tmp, &s->waiting, link) {
		if (n == ARRAY_SIZE(grant))
			break;
		if (sbc_range_conflicts(&s->busy, w, NULL) ||
		    sbc_range_conflicts(&s->waiting, w, w))
			continue;
		list_del(&w->link);
		list_add_tail(&s->busy, &w->link);
		grant[n++] = w;
	}
	pthread_mutex_unlock(&s->lock);

	/* Each waiter resumes on its own nexus's loop, outside our stack. */
	for (unsigned i = 0; i < n; i++)
		sbc_range_grant(s, grant[i]);
	sbc_range_retry(s);
}

/* ------------------------------------------------------------------ */
/* the asynchronous runner */

enum scsi_sense_reason sbc_bs_reason(int res, bool write)
{
	switch (res) {
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
		return SCSI_SR_BUSY; /* back-pressure, retried by the host */
	case -ERANGE:
		return SCSI_SR_LBA_OUT_OF_RANGE;
	case -EROFS:
		return SCSI_SR_WRITE_PROTECTED;
	case -ENXIO:
	case -ENODEV:
	case -ESHUTDOWN:
	case -ENOTCONN:
	case -EBADF:
		return SCSI_SR_LU_COMM_FAILURE;
	case -EINVAL:
	case -EOPNOTSUPP:
		return SCSI_SR_INTERNAL_TARGET_FAILURE;
	default:
		return write ? SCSI_SR_WRITE_ERROR : SCSI_SR_READ_ERROR;
	}
}

void *sbc_bounce_alloc(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len ? len : 1) != 0)
		return NULL;
	return p;
}

struct sbc_cmd *sbc_cmd_new(struct scsi_task *t)
{
	struct sbc_cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->t = t;
	c->lu = t->lu;
	list_init(&c->range.link);
	t->core_priv = c;
	return c;
}

static void sbc_cmd_free(struct sbc_cmd *c)
{
	if (c->clocked) {
		c->clocked = false;
		c->lu->seq->range_unlock(c->lu->seq, &c->crange);
	}
	if (c->locked) {
		c->locked = false;
		sbc_range_unlock(c->lu, &c->range);
	}
	if (c->priv_free)
		c->priv_free(c);
	free(c->bounce);
	c->t->core_priv = NULL;
	free(c);
}

/* Puts the outcome on the task. */
static void sbc_cmd_settle(struct sbc_cmd *c)
{
	struct scsi_task *t = c->t;

	if (c->sr == SCSI_SR_OK)
		return;
	t->data_len = 0;
	if (c->sr == SCSI_SR_MISCOMPARE)
		scsi_task_error_info(t, c->sr, c->info);
	else
		scsi_task_error(t, c->sr);
}

static void sbc_cmd_end(struct sbc_cmd *c)
{
	struct scsi_task *t = c->t;

	sbc_cmd_settle(c);
	sbc_cmd_free(c); /* releases the range before anyone sees status */
	scsi_task_finish(t);
}

static void sbc_cmd_io_done(struct bs_io *io, int res)
{
	struct sbc_cmd *c = container_of(io, struct sbc_cmd, io);

	if (c->step(c, res))
		return;
	sbc_cmd_end(c);
}

bool sbc_cmd_fail(struct sbc_cmd *c, int res, bool write)
{
	c->sr = sbc_bs_reason(res, write);
	return false;
}

bool sbc_cmd_io(struct sbc_cmd *c, struct backstore *bs, enum bs_op op,
		uint64_t offset, uint64_t len, void *buf, sbc_step_fn next)
{
	int err;

	memset(&c->io, 0, sizeof(c->io));
	c->io.op = op;
	c->io.flags = op == BS_OP_WRITE ? c->io_flags : 0;
	c->io.offset = offset;
	c->io.len = len;
	if (buf) {
		c->iov.iov_base = buf;
		c->iov.iov_len = (size_t)len;
		c->io.iov = &c->iov;
		c->io.iovcnt = 1;
	}
	c->io.done = sbc_cmd_io_done;
	c->step = next;
	err = bs_submit(bs, &c->io);
	if (err < 0)
		return sbc_cmd_fail(c, err, op != BS_OP_READ);
	return true;
}

enum scsi_exec sbc_cmd_start(struct sbc_cmd *c, sbc_step_fn first)
{
	c->step = first;
	if (first(c, 0))
		return SCSI_EXEC_PENDING;
	sbc_cmd_settle(c);
	sbc_cmd_free(c);
	return SCSI_EXEC_DONE;
}

/* Both locks held: the command runs. */
static void sbc_cmd_run_locked(struct sbc_cmd *c)
{
	/* Aborted while waiting: the core reports the abort. */
	if (!scsi_task_is_aborted(c->t) && c->step(c, 0))
		return;
	sbc_cmd_end(c);
}

static void sbc_cmd_cluster_granted(struct scsi_lu_range *r, int status)
{
	struct sbc_cmd *c = container_of(r, struct sbc_cmd, crange);

	if (status) {
		/* Not ready (no quorum): nothing ran, a retry may go
		 * through another node (SPC-4 5.15.2.4.5). */
		c->sr = SCSI_SR_LU_NOT_READY_UNAVAILABLE;
		sbc_cmd_end(c);
		return;
	}
	c->clocked = true;
	sbc_cmd_run_locked(c);
}

/* The node's range is held: on a clustered LU, the cluster's next.
 * true: held; false: waiting (resumes in sbc_cmd_cluster_granted), or
 * failed with c->sr set and *failed. */
static bool sbc_cmd_cluster_lock(struct sbc_cmd *c, bool *failed)
{
	struct scsi_lu_seq *seq = c->lu->seq;
	int rc;

	*failed = false;
	if (!seq || !seq->range_lock)
		return true;
	c->crange.lba = c->range.lba;
	c->crange.nblocks = c->range.nblocks;
	c->crange.loop = c->range.loop;
	c->crange.granted = sbc_cmd_cluster_granted;
	rc = seq->range_lock(seq, &c->crange);
	if (rc > 0) {
		c->clocked = true;  /* held already (the node's lease) */
		return true;
	}
	if (rc == 0)
		return false;
	c->sr = SCSI_SR_BUSY;
	*failed = true;
	return false;
}

static void sbc_cmd_granted(struct sbc_range *r)
{
	struct sbc_cmd *c = container_of(r, struct sbc_cmd, range);
	bool failed;

	if (!sbc_cmd_cluster_lock(c, &failed)) {
		if (failed)
			sbc_cmd_end(c);
		return;
	}
	sbc_cmd_run_locked(c);
}

enum scsi_exec sbc_cmd_start_locked(struct sbc_cmd *c, sbc_step_fn first)
{
	bool failed;

	c->step = first;
	c->range.loop = base_loop_current();
	c->range.granted = sbc_cmd_granted;
	c->locked = true;
	if (!sbc_range_lock(c->lu, &c->range))
		return SCSI_EXEC_PENDING; /* resumes in sbc_cmd_granted */
	if (!sbc_cmd_cluster_lock(c, &failed)) {
		if (!failed)
			return SCSI_EXEC_PENDING;
		sbc_cmd_settle(c);
		sbc_cmd_free(c);
		return SCSI_EXEC_DONE;
	}
	return sbc_cmd_start(c, first);
}

/* ------------------------------------------------------------------ */
/* CDB decoding shared by the block commands */

struct sbc_rw {
	uint64_t lba;
	uint64_t nblocks;
	uint8_t protect;     /* RD/WR/VR/ORPROTECT, byte 1 bits 7..5 */
	bool fua;
	uint16_t len_field;  /* byte offset of the TRANSFER LENGTH field */
};

/* SBC-3 clause 5: the LBA / TRANSFER LENGTH layouts of the 6, 10, 12 and
 * 16 byte CDBs (and COMPARE AND WRITE's one-byte length). */
static void sbc_rw_decode(const uint8_t *cdb, struct sbc_rw *rw)
{
	memset(rw, 0, sizeof(*rw));
	switch (cdb[0]) {
	case 0x08: /* READ (6) */
	case 0x0A: /* WRITE (6) */
		/* SBC-3 5.10 / 5.33: 21-bit LBA; 0 blocks means 256. */
		rw->lba = scsi_get_be24(cdb + 1) & 0x1FFFFFu;
		rw->nblocks = cdb[4] ? cdb[4] : 256u;
		rw->len_field = 4;
		return;
	case 0x89: /* COMPARE AND WRITE: SBC-3 5.2, table 19 */
		rw->lba = scsi_get_be64(cdb + 2);
		rw->nblocks = cdb[13];
		rw->len_field = 13;
		break;
	default:
		switch (cdb[0] >> 5) {
		case 1: /* 10-byte group (20h..3Fh) */
			rw->lba = scsi_get_be32(cdb + 2);
			rw->nblocks = scsi_get_be16(cdb + 7);
			rw->len_field = 7;
			break;
		case 5: /* 12-byte group (A0h..BFh) */
			rw->lba = scsi_get_be32(cdb + 2);
			rw->nblocks = scsi_get_be32(cdb + 6);
			rw->len_field = 6;
			break;
		default: /* 16-byte group (80h..9Fh) */
			rw->lba = scsi_get_be64(cdb + 2);
			rw->nblocks = scsi_get_be32(cdb + 10);
			rw->len_field = 10;
			break;
		}
		break;
	}
	rw->protect = cdb[1] >> 5;
	rw->fua = (cdb[1] & 0x08) != 0;
}

/* LBA OUT OF RANGE when the first LBA lies past the last one
 * (even for 0 blocks) or the range runs past the end. Overflow-safe. */
static bool sbc_lba_in_range(const struct scsi_lun *lu, uint64_t lba,
			     uint64_t nblocks)
{
	uint64_t cap = lu->cfg.nblocks;

	return lba < cap && nblocks <= cap - lba;
}

/* Common checks of a data-transferring command; false: error set. */
static bool sbc_rw_check(struct scsi_task *t, const struct sbc_rw *rw,
			 bool limit)
{
	struct scsi_lun *lu = t->lu;

	if (rw->protect) {
		/* No protection information: PROT_EN = 0 in READ
		 * CAPACITY (16), so any *PROTECT other than 000b is
		 * an invalid field. */
		scsi_task_error_cdb(t, 1, 7);
		return false;
	}
	if (!sbc_lba_in_range(lu, rw->lba, rw->nblocks)) {
		scsi_task_error(t, SCSI_SR_LBA_OUT_OF_RANGE);
		return false;
	}
	/* VPD B0 MAXIMUM TRANSFER LENGTH (SBC-3 6.5.3). */
	if (limit && rw->nblocks > (SCSI_MAX_XFER_BYTES >> lu->block_shift)) {
		scsi_task_error_cdb(t, rw->len_field, -1);
		return false;
	}
	return true;
}

static unsigned sbc_write_flags(const struct scsi_task *t, bool fua)
{
	/* WCE = 0 is write-through: every write is durable on completion. */
	if (fua || !atomic_load_explicit(&t->lu->wce, memory_order_relaxed))
		return BS_IO_FUA;
	return 0;
}

/* Data-out bytes the fabric holds for this command. */
static uint32_t sbc_dataout_len(const struct scsi_task *t)
{
	if (t->dir != SCSI_DIR_OUT || !t->buf)
		return 0;
	return t->edtl;
}

static uint32_t sbc_min32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* ------------------------------------------------------------------ */
/* READ (6/10/12/16): SBC-3 5.10 - 5.13 */

static bool sbc_read_done(struct sbc_cmd *c, int res)
{
	if (res < 0)
		return sbc_cmd_fail(c, res, false);
	if (c->bounce)
		memcpy(c->t->buf, c->bounce, c->t->data_len);
	return false;
}

static bool sbc_read_first(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;
	uint64_t off = c->lba << lu->block_shift;
	uint64_t len = c->left << lu->block_shift;

	return sbc_cmd_io(c, lu->bs, BS_OP_READ, off, len,
			  c->bounce ? c->bounce : c->t->buf, sbc_read_done);
}

enum scsi_exec sbc_read(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t bs = lu->cfg.block_size, bytes;
	struct sbc_cmd *c;
	struct sbc_rw rw;

	sbc_rw_decode(t->cdb, &rw);
	/* DPO and FUA (byte 1 bits 4, 3) need nothing: we keep no cache. */
	if (!sbc_rw_check(t, &rw, true))
		return SCSI_EXEC_DONE;
	t->xfer_len = (uint32_t)(rw.nblocks << lu->block_shift);
	bytes = (t->dir == SCSI_DIR_IN && t->buf) ? sbc_min32(t->xfer_len,
							      t->edtl) : 0;
	if (bytes == 0)
		return SCSI_EXEC_DONE;

	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->lba = rw.lba;
	c->left = (bytes + bs - 1) >> lu->block_shift;
	if (bytes % bs) {
		/* EDTL ends inside a block: read the block whole, send part. */
		c->bounce = sbc_bounce_alloc((size_t)c->left * bs);
		if (!c->bounce) {
			sbc_cmd_free(c);
			return scsi_task_error(t, SCSI_SR_BUSY);
		}
	}
	t->data_len = bytes;
	return sbc_cmd_start(c, sbc_read_first);
}

/* ------------------------------------------------------------------ */
/* WRITE (6/10/12/16): SBC-3 5.33 - 5.36; WRITE AND VERIFY (10/12/16):
 * 5.38 - 5.40 */

static bool sbc_write_done(struct sbc_cmd *c, int res)
{
	if (res < 0)
		return sbc_cmd_fail(c, res, true);
	return false;
}

static bool sbc_write_first(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;

	return sbc_cmd_io(c, lu->bs, BS_OP_WRITE, c->lba << lu->block_shift,
			  c->left << lu->block_shift, c->t->buf,
			  sbc_write_done);
}

static enum scsi_exec sbc_write_common(struct scsi_task *t, bool verify)
{
	struct scsi_lun *lu = t->lu;
	struct sbc_cmd *c;
	struct sbc_rw rw;
	uint64_t blocks;

	sbc_rw_decode(t->cdb, &rw);
	if (!sbc_rw_check(t, &rw, true))
		return SCSI_EXEC_DONE;
	if (verify && ((t->cdb[1] >> 1) & 3) > 1) {
		/* SBC-4 BYTCHK 10b/11b: reserved for WRITE AND VERIFY. */
		return scsi_task_error_cdb(t, 1, 2);
	}
	t->xfer_len = (uint32_t)(rw.nblocks << lu->block_shift);
	/* Only the whole blocks the EDTL covers (see the top). */
	blocks = sbc_min32(t->xfer_len, sbc_dataout_len(t)) >> lu->block_shift;
	if (blocks == 0)
		return SCSI_EXEC_DONE;

	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->lba = rw.lba;
	c->left = blocks;
	/* WRITE AND VERIFY: the medium is what gets verified, so the write
	 * must be on it; comparing with the data we just wrote cannot fail. */
	c->io_flags = sbc_write_flags(t, rw.fua || verify);
	return sbc_cmd_start(c, sbc_write_first);
}

enum scsi_exec sbc_write(struct scsi_task *t)
{
	return sbc_write_common(t, false);
}

enum scsi_exec sbc_write_verify(struct scsi_task *t)
{
	return sbc_write_common(t, true);
}

/* ------------------------------------------------------------------ */
/* VERIFY (10/12/16): SBC-3 5.29 - 5.31 */

#define SBC_VERIFY_BYTCHK_ALL 1u   /* 01b: n blocks of data-out */
#define SBC_VERIFY_BYTCHK_ONE 3u   /* 11b: one block, compared n times */

static bool sbc_verify_read(struct sbc_cmd *c, int res);

static bool sbc_verify_cmp(struct sbc_cmd *c, int res)
{
	struct scsi_task *t = c->t;
	uint32_t bs = c->lu->cfg.block_size;
	uint32_t have = sbc_dataout_len(t);
	uint64_t chunk_bytes = (uint64_t)c->chunk * bs;

	if (res < 0)
		return sbc_cmd_fail(c, res, false);
	if (c->mode == SBC_VERIFY_BYTCHK_ALL) {
		/* Compare what the data-out holds of this chunk. */
		uint64_t n = chunk_bytes;

		if (c->pos + n > have)
			n = have > c->pos ? have - c->pos : 0;
		for (uint64_t i = 0; i < n; i++) {
			if (c->bounce[i] != t->buf[c->pos + i]) {
				c->info = c->pos + i;
				c->sr = SCSI_SR_MISCOMPARE;
				return false;
			}
		}
	} else {
		uint32_t n = have < bs ? have : bs;

		for (uint32_t b = 0; b < c->chunk; b++) {
			const uint8_t *m = c->bounce + (size_t)b * bs;

			for (uint32_t i = 0; i < n; i++) {
				if (m[i] != t->buf[i]) {
					c->info = c->pos + (uint64_t)b * bs + i;
					c->sr = SCSI_SR_MISCOMPARE;
					return false;
				}
			}
		}
	}
	c->pos += chunk_bytes;
	c->lba += c->chunk;
	c->left -= c->chunk;
	return sbc_verify_read(c, 0);
}

static bool sbc_verify_read(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;

	if (c->left == 0 || scsi_task_is_aborted(c->t))
		return false;
	if (c->mode == SBC_VERIFY_BYTCHK_ALL &&
	    c->pos >= sbc_dataout_len(c->t))
		return false; /* nothing left to compare against */
	c->chunk = sbc_min32(c->left, c->bounce_len >> lu->block_shift);
	return sbc_cmd_io(c, lu->bs, BS_OP_READ, c->lba << lu->block_shift,
			  (uint64_t)c->chunk << lu->block_shift, c->bounce,
			  sbc_verify_cmp);
}

enum scsi_exec sbc_verify(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t bs = lu->cfg.block_size;
	unsigned bytchk = (t->cdb[1] >> 1) & 3;
	struct sbc_cmd *c;
	struct sbc_rw rw;
	uint64_t bytes;

	sbc_rw_decode(t->cdb, &rw);
	if (bytchk == 2) /* BYTCHK 10b: reserved */
		return scsi_task_error_cdb(t, 1, 2);
	if (!sbc_rw_check(t, &rw, bytchk != 0))
		return SCSI_EXEC_DONE;
	/* BYTCHK 00b: the medium is verified without data-out; we have no
	 * medium errors to find beyond the range check. */
	if (bytchk == 0 || rw.nblocks == 0)
		return SCSI_EXEC_DONE;
	t->xfer_len = bytchk == SBC_VERIFY_BYTCHK_ALL
			      ? (uint32_t)(rw.nblocks << lu->block_shift)
			      : bs;
	if (sbc_dataout_len(t) == 0)
		return SCSI_EXEC_DONE; /* nothing to compare (residual) */

	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->mode = bytchk;
	c->lba = rw.lba;
	c->left = rw.nblocks;
	bytes = rw.nblocks * bs;
	c->bounce_len = sbc_min32(bytes, SBC_BOUNCE_MAX);
	c->bounce = sbc_bounce_alloc(c->bounce_len);
	if (!c->bounce) {
		sbc_cmd_free(c);
		return scsi_task_error(t, SCSI_SR_BUSY);
	}
	return sbc_cmd_start(c, sbc_verify_read);
}

/* ------------------------------------------------------------------ */
/* WRITE SAME (10/16): SBC-3 5.44, 5.45 */

#define SBC_WS_PATTERN 0u
#define SBC_WS_UNMAP 1u
#define SBC_WS_ZEROES 2u

static bool sbc_ws_write(struct sbc_cmd *c, int res);

static bool sbc_ws_written(struct sbc_cmd *c, int res)
{
	if (res < 0)
		return sbc_cmd_fail(c, res, true);
	c->lba += c->chunk;
	c->left -= c->chunk;
	return sbc_ws_write(c, 0);
}

static bool sbc_ws_write(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;

	/* One chunk per completion: bounded work per loop turn, and a TMF
	 * can stop a long WRITE SAME between chunks. */
	if (c->left == 0 || scsi_task_is_aborted(c->t))
		return false;
	c->chunk = sbc_min32(c->left, c->bounce_len >> lu->block_shift);
	return sbc_cmd_io(c, lu->bs, BS_OP_WRITE, c->lba << lu->block_shift,
			  (uint64_t)c->chunk << lu->block_shift, c->bounce,
			  sbc_ws_written);
}

static bool sbc_ws_whole(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;
	enum bs_op op = c->mode == SBC_WS_UNMAP ? BS_OP_UNMAP
						: BS_OP_WRITE_ZEROES;

	return sbc_cmd_io(c, lu->bs, op, c->lba << lu->block_shift,
			  c->left << lu->block_shift, NULL, sbc_write_done);
}

static bool sbc_is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Thin LUN: UNMAP and WRITE SAME's UNMAP bit deallocate (reads return
 * zeroes afterwards: LBPRZ = 1); a store that cannot punch holes gets
 * WRITE ZEROES, which reads back the same. */
static uint32_t sbc_unmap_mode(const struct scsi_lun *lu)
{
	return bs_can_unmap(lu->bs) ? SBC_WS_UNMAP : SBC_WS_ZEROES;
}

enum scsi_exec sbc_write_same(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t bs = lu->cfg.block_size;
	bool ws16 = t->cdb[0] == 0x93;
	bool unmap = t->cdb[1] & 0x08, anchor = t->cdb[1] & 0x10;
	bool ndob = ws16 && (t->cdb[1] & 0x01);
	uint16_t nfield = ws16 ? 10 : 7;
	uint64_t lba, n;
	struct sbc_cmd *c;
	bool zero;

	if (ws16) {
		lba = scsi_get_be64(t->cdb + 2);
		n = scsi_get_be32(t->cdb + 10);
	} else {
		lba = scsi_get_be32(t->cdb + 2);
		n = scsi_get_be16(t->cdb + 7);
	}
	if (t->cdb[1] >> 5) /* WRPROTECT: no protection information */
		return scsi_task_error_cdb(t, 1, 7);
	if (anchor) /* ANC_SUP = 0 (VPD B2) */
		return scsi_task_error_cdb(t, 1, 4);
	if (!sbc_lba_in_range(lu, lba, n))
		return scsi_task_error(t, SCSI_SR_LBA_OUT_OF_RANGE);
	/* 0 blocks: "to the last LBA" (SBC-3 5.44) unless WSNZ = 1; either
	 * way no more than MAXIMUM WRITE SAME LENGTH. */
	if (n == 0 && !SBC_WSNZ)
		n = lu->cfg.nblocks - lba;
	if (n == 0 || n > SCSI_MAX_WRITE_SAME_BLOCKS)
		return scsi_task_error_cdb(t, nfield, -1);

	t->xfer_len = ndob ? 0 : bs;
	/* Exactly one block of data-out (libiscsi's
	 * writesame*_invalid_dataout_size): anything else means the CDB and
	 * the transfer disagree. */
	if (!ndob && sbc_dataout_len(t) != bs)
		return scsi_task_error_cdb(t, nfield, -1);
	zero = ndob || sbc_is_zero(t->buf, bs);

	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->lba = lba;
	c->left = n;
	c->io_flags = sbc_write_flags(t, false);
	/* UNMAP bit on a thin LU: deallocate whatever the data says (as LIO
	 * does, SBC-3 5.45 leaves the choice to the device server); reads then
	 * return zeroes (LBPRZ = 1), which libiscsi's WriteSame10.UnmapUntilEnd
	 * checks after sending 0xFF data with UNMAP set. */
	if (unmap && lu->cfg.thin) {
		c->mode = sbc_unmap_mode(lu);
		return sbc_cmd_start(c, sbc_ws_whole);
	}
	if (zero) {
		c->mode = SBC_WS_ZEROES;
		return sbc_cmd_start(c, sbc_ws_whole);
	}
	c->mode = SBC_WS_PATTERN;
	c->bounce_len = sbc_min32(n * bs, SBC_BOUNCE_MAX);
	c->bounce = sbc_bounce_alloc(c->bounce_len);
	if (!c->bounce) {
		sbc_cmd_free(c);
		return scsi_task_error(t, SCSI_SR_BUSY);
	}
	for (uint32_t off = 0; off < c->bounce_len; off += bs)
		memcpy(c->bounce + off, t->buf, bs);
	return sbc_cmd_start(c, sbc_ws_write);
}

/* ------------------------------------------------------------------ */
/* UNMAP: SBC-3 5.28 */

#define SBC_UNMAP_HDR 8u
#define SBC_UNMAP_DESC 16u

static bool sbc_unmap_next(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;
	const uint8_t *d;
	uint64_t lba;
	uint32_t n;

	if (res < 0)
		return sbc_cmd_fail(c, res, true);
	/* c->left: descriptors left; c->pos: offset of the next one. */
	while (c->left) {
		if (scsi_task_is_aborted(c->t))
			return false;
		d = c->t->buf + c->pos;
		lba = scsi_get_be64(d);
		n = scsi_get_be32(d + 8);
		c->pos += SBC_UNMAP_DESC;
		c->left--;
		if (n == 0)
			continue;
		return sbc_cmd_io(c, lu->bs,
				  c->mode == SBC_WS_UNMAP ? BS_OP_UNMAP
							  : BS_OP_WRITE_ZEROES,
				  lba << lu->block_shift,
				  (uint64_t)n << lu->block_shift, NULL,
				  sbc_unmap_next);
	}
	return false;
}

enum scsi_exec sbc_unmap(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t plen = scsi_get_be16(t->cdb + 7), have, bdl, ndesc;
	struct sbc_cmd *c;

	if (!lu->cfg.thin) {
		/* LBPU = 0 (VPD B2): the command is not supported here. */
		return scsi_task_error(t, SCSI_SR_INVALID_OPCODE);
	}
	if (t->cdb[1] & 0x01) /* ANCHOR, ANC_SUP = 0 */
		return scsi_task_error_cdb(t, 1, 0);
	t->xfer_len = plen;
	if (plen == 0)
		return SCSI_EXEC_DONE; /* SBC-3 5.28: not an error */
	have = sbc_min32(plen, sbc_dataout_len(t));
	if (plen < SBC_UNMAP_HDR || have < SBC_UNMAP_HDR)
		return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);

	/* SBC-3 5.28.2: UNMAP DATA LENGTH (n - 1), UNMAP BLOCK
	 * DESCRIPTOR DATA LENGTH (n - 7). */
	bdl = scsi_get_be16(t->buf + 2);
	if (bdl > have - SBC_UNMAP_HDR)
		return scsi_task_error(t, SCSI_SR_PARAM_LIST_LENGTH_ERROR);
	if (bdl % SBC_UNMAP_DESC)
		return scsi_task_error_param(t, 2, -1);
	ndesc = bdl / SBC_UNMAP_DESC;
	if (ndesc > SCSI_MAX_UNMAP_DESCRIPTORS)
		return scsi_task_error_param(t, 2, -1);
	/* Validate everything before deallocating anything. */
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *d = t->buf + SBC_UNMAP_HDR + i * SBC_UNMAP_DESC;
		uint64_t lba = scsi_get_be64(d);
		uint32_t n = scsi_get_be32(d + 8);

		if (n > SCSI_MAX_UNMAP_LBA_COUNT)
			return scsi_task_error_param(
				t, (uint16_t)(SBC_UNMAP_HDR + i * SBC_UNMAP_DESC + 8),
				-1);
		/* A descriptor of 0 blocks deallocates nothing, wherever it
		 * points (libiscsi unmap_0blocks sends one at end-of-LUN). */
		if (n != 0 && !sbc_lba_in_range(lu, lba, n))
			return scsi_task_error(t, SCSI_SR_LBA_OUT_OF_RANGE);
	}
	if (ndesc == 0)
		return SCSI_EXEC_DONE;

	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->mode = sbc_unmap_mode(lu);
	c->left = ndesc;
	c->pos = SBC_UNMAP_HDR;
	return sbc_cmd_start(c, sbc_unmap_next);
}

/* ------------------------------------------------------------------ */
/* GET LBA STATUS: SBC-3 5.4 */

enum scsi_exec sbc_get_lba_status(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint64_t lba = scsi_get_be64(t->cdb + 2), cap = lu->cfg.nblocks;
	uint32_t alloc = scsi_get_be32(t->cdb + 10);
	uint32_t bs = lu->cfg.block_size;
	uint8_t buf[8 + SBC_LBA_STATUS_MAX_DESC * 16];
	unsigned n = 0;

	if (lba >= cap)
		return scsi_task_error(t, SCSI_SR_LBA_OUT_OF_RANGE);
	memset(buf, 0, sizeof(buf));
	/* Descriptors are built whatever the allocation length, so the
	 * PARAMETER DATA LENGTH tells the truth (SPC-4 4.2.5.6). */
	while (lba < cap && n < SBC_LBA_STATUS_MAX_DESC) {
		uint8_t *d = buf + 8 + n * 16;
		uint64_t blocks, len;
		bool mapped = true;
		int64_t run;

		if (lu->cfg.thin) {
			run = bs_map_status(lu->bs, lba << lu->block_shift,
					    &mapped);
			if (run < 0)
				return scsi_task_error(t, SCSI_SR_READ_ERROR);
			len = (uint64_t)run;
			/* A block is deallocated only if all of it is. */
			blocks = mapped ? (len + bs - 1) / bs : len / bs;
			if (blocks == 0) {
				blocks = 1;
				mapped = true;
			}
		} else {
			blocks = cap - lba; /* fully provisioned */
		}
		if (blocks > cap - lba)
			blocks = cap - lba;
		if (blocks > 0xFFFFFFFFu)
			blocks = 0xFFFFFFFFu;
		/* SBC-3 5.4.2: the run's LBA, length, PROVISIONING STATUS
		 * (0h mapped, 1h deallocated). Merge equal neighbours. */
		if (n && (d[-4] & 0x0F) == (mapped ? 0 : 1) &&
		    (uint64_t)scsi_get_be32(d - 8) + blocks <= 0xFFFFFFFFu) {
			scsi_put_be32(d - 8, scsi_get_be32(d - 8) +
						     (uint32_t)blocks);
		} else {
			scsi_put_be64(d, lba);
			scsi_put_be32(d + 8, (uint32_t)blocks);
			d[12] = mapped ? 0x0 : 0x1;
			n++;
		}
		lba += blocks;
	}
	/* PARAMETER DATA LENGTH: n - 3 (SBC-3 5.4.2). */
	scsi_put_be32(buf, 4 + n * 16);
	scsi_task_put_data(t, buf, 8 + n * 16, alloc);
	return SCSI_EXEC_DONE;
}

/* ------------------------------------------------------------------ */
/* READ CAPACITY (10/16): SBC-3 5.15, 5.16 */

enum scsi_exec sbc_read_capacity10(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint64_t last = lu->cfg.nblocks - 1;
	uint8_t buf[8];

	/* PMI = 0 requires LOGICAL BLOCK ADDRESS 0 (SBC-3 5.15); PMI = 1
	 * (obsolete) reports the last LBA all the same: no delays here. */
	if (!(t->cdb[8] & 0x01) && scsi_get_be32(t->cdb + 2) != 0)
		return scsi_task_error_cdb(t, 2, -1);
	/* Past 32 bits: FFFFFFFFh sends the host to READ CAPACITY (16). */
	scsi_put_be32(buf, last > 0xFFFFFFFFull ? 0xFFFFFFFFu : (uint32_t)last);
	scsi_put_be32(buf + 4, lu->cfg.block_size);
	scsi_task_put_data(t, buf, sizeof(buf), sizeof(buf));
	return SCSI_EXEC_DONE;
}

enum scsi_exec sbc_read_capacity16(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint32_t alloc = scsi_get_be32(t->cdb + 10);
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	scsi_put_be64(buf, lu->cfg.nblocks - 1);
	scsi_put_be32(buf + 8, lu->cfg.block_size);
	/* byte 12: no protection; byte 13: LOGICAL BLOCKS PER PHYSICAL
	 * BLOCK EXPONENT 0; bytes 14-15: LBPME, LBPRZ, LOWEST ALIGNED
	 * LBA 0 (SBC-3 5.16.2). */
	if (lu->cfg.thin)
		buf[14] = 0x80 | 0x40;
	scsi_task_put_data(t, buf, sizeof(buf), alloc);
	return SCSI_EXEC_DONE;
}

/* ------------------------------------------------------------------ */
/* SYNCHRONIZE CACHE (10/16): SBC-3 5.26, 5.27; PRE-FETCH: 5.7, 5.8 */

/* Range of a command whose NUMBER OF LOGICAL BLOCKS 0 means "to the
 * end"; false with LBA OUT OF RANGE set. */
static bool sbc_range_check_open(struct scsi_task *t, uint64_t *lba_out)
{
	struct sbc_rw rw;

	sbc_rw_decode(t->cdb, &rw);
	if (!sbc_lba_in_range(t->lu, rw.lba, rw.nblocks)) {
		scsi_task_error(t, SCSI_SR_LBA_OUT_OF_RANGE);
		return false;
	}
	if (lba_out)
		*lba_out = rw.lba;
	return true;
}

static bool sbc_flush_first(struct sbc_cmd *c, int res)
{
	return sbc_cmd_io(c, c->lu->bs, BS_OP_FLUSH, 0, 0, NULL,
			  sbc_write_done);
}

enum scsi_exec sbc_sync_cache(struct scsi_task *t)
{
	struct sbc_cmd *c;

	if (!sbc_range_check_open(t, NULL))
		return SCSI_EXEC_DONE;
	/* The whole store is flushed whatever the range (fdatasync). IMMED
	 * is honoured by waiting anyway: GOOD after the flush is allowed. */
	c = sbc_cmd_new(t);
	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	return sbc_cmd_start(c, sbc_flush_first);
}

/* READ DEFECT DATA (10) and (12), SBC-3 5.11 and 5.12: a virtual LU has
 * no defects, so the answer is a header with an empty list, in the format
 * asked for, with PLISTV/GLISTV echoing which lists were requested. */
enum scsi_exec sbc_read_defect_data(struct scsi_task *t)
{
	bool rdd12 = t->cdb[0] == 0xB7;
	uint8_t req = rdd12 ? t->cdb[1] : t->cdb[2];
	uint8_t hdr[8] = { 0 };
	uint32_t alloc;

	alloc = rdd12 ? scsi_get_be32(t->cdb + 6) : scsi_get_be16(t->cdb + 7);
	hdr[1] = req & 0x1F; /* PLISTV, GLISTV, DEFECT LIST FORMAT */
	scsi_task_put_data(t, hdr, rdd12 ? 8 : 4, alloc);
	return SCSI_EXEC_DONE;
}

enum scsi_exec sbc_prefetch(struct scsi_task *t)
{
	/* No cache to load: GOOD (SBC-3 5.7: CONDITION MET only when the
	 * blocks were placed in a cache). */
	(void)sbc_range_check_open(t, NULL);
	return SCSI_EXEC_DONE;
}

/* ------------------------------------------------------------------ */
/* COMPARE AND WRITE: SBC-3 5.2; ORWRITE (16): SBC-3 5.5 */

static bool sbc_caw_written(struct sbc_cmd *c, int res)
{
	if (res < 0)
		return sbc_cmd_fail(c, res, true);
	return false;
}

static bool sbc_caw_compare(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;
	uint64_t len = c->left << lu->block_shift;

	if (res < 0)
		return sbc_cmd_fail(c, res, false);
	if (scsi_task_is_aborted(c->t))
		return false;
	for (uint64_t i = 0; i < len; i++) {
		if (c->bounce[i] != c->t->buf[i]) {
			/* Offset into the data-out buffer of the first
			 * differing byte (SBC-3 5.2). */
			c->info = i;
			c->sr = SCSI_SR_MISCOMPARE;
			return false;
		}
	}
	/* The write half goes through the aligned bounce buffer. */
	memcpy(c->bounce, c->t->buf + len, len);
	return sbc_cmd_io(c, lu->bs, BS_OP_WRITE, c->lba << lu->block_shift,
			  len, c->bounce, sbc_caw_written);
}

static bool sbc_rmw_read(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;

	return sbc_cmd_io(c, lu->bs, BS_OP_READ, c->lba << lu->block_shift,
			  c->left << lu->block_shift, c->bounce,
			  c->after_read);
}

/* COMPARE AND WRITE and ORWRITE: under the range lock, read the blocks
 * into a bounce buffer, then modify() compares or ORs and writes them. */
static enum scsi_exec sbc_rmw_start(struct scsi_task *t, uint64_t lba,
				    uint64_t blocks, bool fua,
				    sbc_step_fn modify)
{
	struct sbc_cmd *c = sbc_cmd_new(t);

	if (!c)
		return scsi_task_error(t, SCSI_SR_BUSY);
	c->lba = lba;
	c->left = blocks;
	c->io_flags = sbc_write_flags(t, fua);
	c->bounce_len = (uint32_t)(blocks << t->lu->block_shift);
	c->bounce = sbc_bounce_alloc(c->bounce_len);
	if (!c->bounce) {
		sbc_cmd_free(c);
		return scsi_task_error(t, SCSI_SR_BUSY);
	}
	c->range.lba = lba;
	c->range.nblocks = blocks;
	c->after_read = modify;
	return sbc_cmd_start_locked(c, sbc_rmw_read);
}

enum scsi_exec sbc_compare_and_write(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct sbc_rw rw;
	uint64_t len;

	sbc_rw_decode(t->cdb, &rw);
	if (!sbc_rw_check(t, &rw, false))
		return SCSI_EXEC_DONE;
	if (rw.nblocks > SCSI_MAX_CAW_BLOCKS)
		return scsi_task_error_cdb(t, 13, -1);
	len = rw.nblocks << lu->block_shift;
	t->xfer_len = (uint32_t)(2 * len);
	/* Verify data + write data, exactly: a data-out of another size
	 * means the CDB and the transfer disagree (libiscsi's
	 * compareandwrite_invalid_dataout_size, and 256 blocks wrapping to
	 * 0 in the one-byte field in compareandwrite_miscompare). */
	if (sbc_dataout_len(t) != 2 * len)
		return scsi_task_error_cdb(t, 13, -1);
	if (rw.nblocks == 0)
		return SCSI_EXEC_DONE; /* SBC-3 5.2: not an error */
	return sbc_rmw_start(t, rw.lba, rw.nblocks, rw.fua, sbc_caw_compare);
}

static bool sbc_orwrite_or(struct sbc_cmd *c, int res)
{
	struct scsi_lun *lu = c->lu;
	uint64_t len = c->left << lu->block_shift;

	if (res < 0)
		return sbc_cmd_fail(c, res, false);
	if (scsi_task_is_aborted(c->t))
		return false;
	for (uint64_t i = 0; i < len; i++)
		c->bounce[i] |= c->t->buf[i];
	return sbc_cmd_io(c, lu->bs, BS_OP_WRITE, c->lba << lu->block_shift,
			  len, c->bounce, sbc_caw_written);
}

enum scsi_exec sbc_orwrite(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	struct sbc_rw rw;
	uint64_t blocks;

	sbc_rw_decode(t->cdb, &rw);
	if (!sbc_rw_check(t, &rw, true))
		return SCSI_EXEC_DONE;
	t->xfer_len = (uint32_t)(rw.nblocks << lu->block_shift);
	blocks = sbc_min32(t->xfer_len, sbc_dataout_len(t)) >> lu->block_shift;
	if (blocks == 0)
		return SCSI_EXEC_DONE;
	return sbc_rmw_start(t, rw.lba, blocks, rw.fua, sbc_orwrite_or);
}
