/*
 * Unit tests of the SBC-3 handlers (sbc.c, xcopy.c) through the core's
 * public path: scsi_task_submit() on a loop run by the test thread, real
 * backstores underneath, status / sense / data checked byte by byte.
 *
 *    initiator iqn.sbc (ISID 1) -- tport TPGT 1 --+-- LUN 0: ram, 512 B x 131072, thick
 *                                                  +-- LUN 1: file (sparse, tmp), 512 B x 2048, thin
 *                                                  +-- LUN 2: ram, 512 B x 8192, thick (XCOPY target)
 *                                                  +-- LUN 3: ram 1 MiB, 512 B x (2^32 + 10) (capacity only)
 *
 * Everything runs on one loop in this thread: each command is posted to
 * the loop, and its done() stops the loop. test_caw_two_loops adds a
 * second I_T nexus (iqn.sbc2, ISID 2) on a second loop in its own thread.
 *
 * Covered: write/read round trips (6/10/16), LBA range checks up to
 * 2^64 - 1, MAXIMUM TRANSFER LENGTH, *PROTECT fields, EDTL residual
 * handling, VERIFY BYTCHK 00b/01b/10b/11b with the MISCOMPARE offset,
 * WRITE SAME (pattern over several bounce chunks, zeroes, NDOB, UNMAP on a
 * thin LUN, WSNZ, ANCHOR, data-out size), UNMAP parameter list checks,
 * GET LBA STATUS after unmap (sparse file), READ CAPACITY (10) clamp and
 * (16) fields, COMPARE AND WRITE match/miscompare/limits, ORWRITE, the
 * range lock (same loop and across loops), a sequencer's range lock (held
 * already, granted later, not granted, refused), EXTENDED COPY between LUNs with
 * RECEIVE COPY RESULTS and the descriptor errors, ABORT TASK of a long
 * WRITE SAME.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backstore/backstore.h"
#include "base/loop.h"
#include "scsi/sbc.h"
#include "scsi/scsi_internal.h"

#define LU0_BLOCKS 131072u
#define LU1_BLOCKS 2048u
#define LU2_BLOCKS 8192u
#define LU3_BLOCKS ((1ull << 32) + 10)

struct fx {
	struct base_loop *loop;
	struct scsi_target *tgt;
	struct scsi_tport *tp;
	struct backstore *bs[4];
	struct scsi_lun *lu[4];
	struct scsi_nexus *n;
	char dir[64];
	char path[128];
};

static struct fx *F;

/* ------------------------------------------------------------ commands */

struct tc {
	struct scsi_task t;
	int done;
};

static void tc_done(struct scsi_task *t)
{
	struct tc *c = container_of(t, struct tc, t);

	c->done++;
	base_loop_stop(F->loop);
}

static void tc_submit(void *arg)
{
	scsi_task_submit(arg);
}

static uint8_t *buf_new(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len ? len : 1), 0);
	memset(p, 0, len ? len : 1);
	return p;
}

/* Runs one CDB to completion. buf holds the data-out (dir OUT) or gets
 * the data-in (dir IN); edtl bytes of it. */
static void tc_run(struct tc *c, unsigned lun, const uint8_t *cdb,
		   unsigned cdb_len, enum scsi_dir dir, uint8_t *buf,
		   uint32_t edtl)
{
	memset(c, 0, sizeof(*c));
	c->t.nexus = F->n;
	c->t.lun = (uint64_t)lun << 48;
	memcpy(c->t.cdb, cdb, cdb_len);
	c->t.cdb_len = (uint8_t)cdb_len;
	c->t.attr = SCSI_ATTR_SIMPLE;
	c->t.dir = edtl ? dir : SCSI_DIR_NONE;
	c->t.edtl = edtl;
	c->t.buf = edtl ? buf : NULL;
	c->t.done = tc_done;
	assert_int_equal(base_loop_post(F->loop, tc_submit, &c->t), 0);
	assert_int_equal(base_loop_run(F->loop), 0);
	assert_int_equal(c->done, 1);
}

static void expect_good_at(const struct tc *c, int line)
{
	if (c->t.status != SCSI_STATUS_GOOD)
		fail_msg("line %d: status 0x%02x sense %02x/%02x/%02x", line,
			 c->t.status, c->t.sense[2] & 0xF, c->t.sense[12],
			 c->t.sense[13]);
}

#define expect_good(c) expect_good_at((c), __LINE__)

/* Fixed-format sense (D_SENSE = 0 by default). */
static void expect_sense(const struct tc *c, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	assert_int_equal(c->t.status, SCSI_STATUS_CHECK_CONDITION);
	assert_true(c->t.sense_len >= 18);
	assert_int_equal(c->t.sense[0] & 0x7F, 0x70);
	assert_int_equal(c->t.sense[2] & 0x0F, key);
	assert_int_equal(c->t.sense[12], asc);
	assert_int_equal(c->t.sense[13], ascq);
}

static void expect_lba_oob(const struct tc *c)
{
	expect_sense(c, 0x5, 0x21, 0x00);
}

/* INVALID FIELD IN CDB (cdb) / PARAMETER LIST with the field pointer. */
static void expect_field(const struct tc *c, bool cdb, uint16_t field,
			 int bit)
{
	expect_sense(c, 0x5, cdb ? 0x24 : 0x26, 0x00);
	assert_int_equal(c->t.sense[15] & 0x80, 0x80);              /* SKSV */
	assert_int_equal(!!(c->t.sense[15] & 0x40), cdb);            /* C/D */
	assert_int_equal(scsi_get_be16(c->t.sense + 16), field);
	if (bit >= 0) {
		assert_int_equal(c->t.sense[15] & 0x08, 0x08);       /* BPV */
		assert_int_equal(c->t.sense[15] & 0x07, bit);
	}
}

static void expect_miscompare(const struct tc *c, uint32_t info)
{
	expect_sense(c, 0xE, 0x1D, 0x00);
	assert_int_equal(c->t.sense[0] & 0x80, 0x80); /* VALID */
	assert_int_equal(scsi_get_be32(c->t.sense + 3), info);
}

static void cdb16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	scsi_put_be64(cdb + 2, lba);
	scsi_put_be32(cdb + 10, n);
}

static void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	scsi_put_be32(cdb + 2, lba);
	scsi_put_be16(cdb + 7, n);
}

static void do_write(unsigned lun, uint64_t lba, uint32_t n,
		     const uint8_t *data)
{
	uint8_t cdb[16];
	uint8_t *b = buf_new((size_t)n * 512);
	struct tc c;

	memcpy(b, data, (size_t)n * 512);
	cdb16(cdb, 0x8A, lba, n);
	tc_run(&c, lun, cdb, 16, SCSI_DIR_OUT, b, n * 512);
	expect_good(&c);
	free(b);
}

static uint8_t *do_read(unsigned lun, uint64_t lba, uint32_t n)
{
	uint8_t cdb[16];
	uint8_t *b = buf_new((size_t)n * 512);
	struct tc c;

	cdb16(cdb, 0x88, lba, n);
	tc_run(&c, lun, cdb, 16, SCSI_DIR_IN, b, n * 512);
	expect_good(&c);
	assert_int_equal(c.t.data_len, n * 512);
	return b;
}

static void fill(uint8_t *p, size_t len, uint8_t v)
{
	memset(p, v, len);
}

/* ------------------------------------------------------------- fixture */

static void clear_uas(unsigned lun)
{
	static const uint8_t tur[6] = { 0 };
	struct tc c;

	for (int i = 0; i < 8; i++) {
		tc_run(&c, lun, tur, 6, SCSI_DIR_NONE, NULL, 0);
		if (c.t.status == SCSI_STATUS_GOOD)
			return;
	}
	fail_msg("unit attentions do not clear on LUN %u", lun);
}

static int fx_setup(void **state)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0, 0, 1 };
	struct scsi_lun_config c;
	struct fx *f = calloc(1, sizeof(*f));
	static const struct {
		uint64_t nblocks, size;
		bool thin, file;
	} lus[4] = {
		{ LU0_BLOCKS, (uint64_t)LU0_BLOCKS * 512, false, false },
		{ LU1_BLOCKS, (uint64_t)LU1_BLOCKS * 512, true, true },
		{ LU2_BLOCKS, (uint64_t)LU2_BLOCKS * 512, false, false },
		{ LU3_BLOCKS, 1u << 20, false, false },
	};

	assert_non_null(f);
	F = f;
	snprintf(f->dir, sizeof(f->dir), "/tmp/ctgt-sbc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/lu1.img", f->dir);
	assert_int_equal(base_loop_create(&f->loop), 0);
	assert_int_equal(scsi_target_create("iqn.2026-01.test:sbc", &f->tgt), 0);
	assert_int_equal(scsi_tport_create(f->tgt, 1, 1, 1, &f->tp), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct bs_config bc = { .type = lus[i].file ? "file" : "ram",
					.path = lus[i].file ? f->path : NULL,
					.size = lus[i].size };

		assert_int_equal(bs_open(&bc, &f->bs[i]), 0);
		memset(&c, 0, sizeof(c));
		c.lun_id = i;
		c.bs = f->bs[i];
		c.block_size = 512;
		c.nblocks = lus[i].nblocks;
		c.thin = lus[i].thin;
		c.write_cache = true;
		snprintf(c.serial, sizeof(c.serial), "SBC%u", i);
		c.naa[0] = 0x60;
		for (int k = 1; k < 16; k++)
			c.naa[k] = (uint8_t)(0x10 * i + k);
		assert_int_equal(scsi_lun_create(f->tgt, &c, &f->lu[i]), 0);
	}
	assert_int_equal(scsi_nexus_create(f->tp, "iqn.sbc", isid, f->loop,
					   NULL, f, &f->n), 0);
	for (unsigned i = 0; i < 4; i++)
		clear_uas(i);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	scsi_nexus_destroy(f->n);
	scsi_target_destroy(f->tgt);
	for (unsigned i = 0; i < 4; i++)
		bs_close(f->bs[i]);
	base_loop_destroy(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	F = NULL;
	return 0;
}

/* --------------------------------------------------------------- tests */

static void test_write_read_roundtrip(void **state)
{
	uint8_t data[4 * 512], *r;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	do_write(0, 100, 4, data);
	r = do_read(0, 100, 4);
	assert_memory_equal(r, data, sizeof(data));
	free(r);

	/* READ (10) and READ (6) of the same blocks. */
	{
		uint8_t cdb[10], *b = buf_new(1024);
		struct tc c;

		cdb10(cdb, 0x28, 101, 2);
		tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 1024);
		expect_good(&c);
		assert_int_equal(c.t.xfer_len, 1024);
		assert_int_equal(c.t.data_len, 1024);
		assert_memory_equal(b, data + 512, 1024);

		memset(cdb, 0, sizeof(cdb));
		cdb[0] = 0x08;
		cdb[3] = 102;
		cdb[4] = 1;
		memset(b, 0, 1024);
		tc_run(&c, 0, cdb, 6, SCSI_DIR_IN, b, 512);
		expect_good(&c);
		assert_memory_equal(b, data + 1024, 512);
		free(b);
	}
}

static void test_range_checks(void **state)
{
	uint8_t cdb[16], *b = buf_new(4096);
	struct tc c;

	/* LBA near 2^64: lba + n wraps, must not pass. */
	cdb16(cdb, 0x88, UINT64_MAX, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 512);
	expect_lba_oob(&c);
	cdb16(cdb, 0x88, UINT64_MAX - 1, 2);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 1024);
	expect_lba_oob(&c);
	cdb16(cdb, 0x8A, 1ull << 63, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_lba_oob(&c);
	/* Last block fine, one past not; 0 blocks at the capacity fails. */
	cdb16(cdb, 0x88, LU0_BLOCKS - 1, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 512);
	expect_good(&c);
	cdb16(cdb, 0x88, LU0_BLOCKS - 1, 2);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 1024);
	expect_lba_oob(&c);
	cdb16(cdb, 0x88, LU0_BLOCKS, 0);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_lba_oob(&c);
	cdb16(cdb, 0x88, 0, 0);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 0);
	/* VERIFY (16) and WRITE SAME (16) past the end. */
	cdb16(cdb, 0x8F, LU0_BLOCKS, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_lba_oob(&c);
	cdb16(cdb, 0x93, UINT64_MAX, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_lba_oob(&c);
	/* SYNCHRONIZE CACHE (16) and PRE-FETCH (16). */
	cdb16(cdb, 0x91, LU0_BLOCKS - 4, 5);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_lba_oob(&c);
	cdb16(cdb, 0x91, 0, 0);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	cdb16(cdb, 0x90, LU0_BLOCKS - 4, 4);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	cdb16(cdb, 0x90, LU0_BLOCKS, 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_lba_oob(&c);
	free(b);
}

static void test_transfer_limits(void **state)
{
	uint8_t cdb[16], *b = buf_new(4096);
	uint32_t max = SCSI_MAX_XFER_BYTES / 512;
	struct tc c;

	cdb16(cdb, 0x88, 0, max + 1);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 4096);
	expect_field(&c, true, 10, -1);
	cdb10(cdb, 0x2A, 0, 0xFFFF);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 4096);
	expect_field(&c, true, 7, -1);
	/* RDPROTECT / WRPROTECT: no protection information. */
	cdb10(cdb, 0x28, 0, 1);
	cdb[1] = 0x20;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 512);
	expect_field(&c, true, 1, 7);
	cdb16(cdb, 0x8A, 0, 1);
	cdb[1] = 0x60;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_field(&c, true, 1, 7);
	/* FUA and DPO are accepted. */
	cdb16(cdb, 0x8A, 0, 1);
	cdb[1] = 0x18;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	cdb16(cdb, 0x88, 0, 1);
	cdb[1] = 0x18;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_IN, b, 512);
	expect_good(&c);
	free(b);
}

static void test_residuals(void **state)
{
	uint8_t cdb[10], a[1024], *b = buf_new(4096), *r;
	struct tc c;

	fill(a, sizeof(a), 'a');
	do_write(0, 10, 2, a);
	/* WRITE (10) of 2 blocks with EDTL of one: only that one written. */
	fill(b, 4096, 'b');
	cdb10(cdb, 0x2A, 10, 2);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 1024);
	r = do_read(0, 10, 2);
	for (int i = 0; i < 512; i++)
		assert_int_equal(r[i], 'b');
	for (int i = 512; i < 1024; i++)
		assert_int_equal(r[i], 'a');
	free(r);
	/* EDTL 200 < one block: nothing written, GOOD. */
	fill(b, 4096, 'c');
	cdb10(cdb, 0x2A, 11, 1);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 200);
	expect_good(&c);
	r = do_read(0, 11, 1);
	assert_int_equal(r[0], 'a');
	free(r);
	/* READ (10) of one block with EDTL 200: 200 bytes, GOOD. */
	memset(b, 0, 4096);
	cdb10(cdb, 0x28, 10, 1);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 200);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 512);
	assert_int_equal(c.t.data_len, 200);
	assert_int_equal(b[199], 'b');
	assert_int_equal(b[200], 0);
	/* EDTL larger than the transfer: only the transfer. */
	cdb10(cdb, 0x28, 10, 1);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 4096);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 512);
	/* READ flagged as a write: no data-in, GOOD. */
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 0);
	free(b);
}

static void test_verify(void **state)
{
	uint8_t cdb[10], d[3 * 512], *b = buf_new(3 * 512);
	struct tc c;

	for (unsigned i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i ^ 0x5A);
	do_write(0, 200, 3, d);
	/* BYTCHK 01b, equal data. */
	memcpy(b, d, sizeof(d));
	cdb10(cdb, 0x2F, 200, 3);
	cdb[1] = 0x02;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, sizeof(d));
	expect_good(&c);
	/* One byte differs at offset 700: MISCOMPARE, INFORMATION 700. */
	b[700] ^= 0xFF;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, sizeof(d));
	expect_miscompare(&c, 700);
	/* BYTCHK 00b: no compare. */
	cdb[1] = 0x00;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	/* BYTCHK 10b reserved. */
	cdb[1] = 0x04;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, sizeof(d));
	expect_field(&c, true, 1, 2);
	/* VRPROTECT. */
	cdb[1] = 0x22;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, sizeof(d));
	expect_field(&c, true, 1, 7);
	/* BYTCHK 11b: one block against every block. */
	fill(d, 512, 0x3C);
	do_write(0, 300, 1, d);
	do_write(0, 301, 1, d);
	d[5] = 0;
	do_write(0, 302, 1, d);
	fill(b, 512, 0x3C);
	cdb10(cdb, 0x2F, 300, 2);
	cdb[1] = 0x06;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	cdb10(cdb, 0x2F, 300, 3);
	cdb[1] = 0x06;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_miscompare(&c, 2 * 512 + 5);
	free(b);
}

static void test_write_same(void **state)
{
	uint8_t cdb[16], *b = buf_new(1024), *r;
	const uint32_t n = 2500; /* > 1 MiB of 512 B blocks: two chunks */
	struct tc c;

	for (int i = 0; i < 512; i++)
		b[i] = (uint8_t)(i + 1);
	cdb16(cdb, 0x93, 1000, n);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 512);
	r = do_read(0, 1000, n);
	for (uint32_t k = 0; k < n; k++)
		assert_memory_equal(r + (size_t)k * 512, b, 512);
	free(r);
	/* WRITE SAME (10), zero data: zeroes (WRITE ZEROES). */
	memset(b, 0, 512);
	cdb10(cdb, 0x41, 1000, 10);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	r = do_read(0, 1000, 11);
	for (int i = 0; i < 10 * 512; i++)
		assert_int_equal(r[i], 0);
	assert_int_equal(r[10 * 512], 1);
	free(r);
	/* NDOB: zeroes without a data-out buffer. */
	cdb16(cdb, 0x93, 1010, 1);
	cdb[1] = 0x01;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 0);
	r = do_read(0, 1010, 1);
	assert_int_equal(r[0], 0);
	free(r);
	/* Zero blocks: an invalid field (WSNZ = 1) or to the end. */
	for (int i = 0; i < 512; i++)
		b[i] = (uint8_t)(0xA0 + i);
	cdb16(cdb, 0x93, LU0_BLOCKS - 3, 0);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	if (SBC_WSNZ) {
		expect_field(&c, true, 10, -1);
	} else {
		expect_good(&c);
		r = do_read(0, LU0_BLOCKS - 3, 3);
		for (uint32_t k = 0; k < 3; k++)
			assert_memory_equal(r + (size_t)k * 512, b, 512);
		free(r);
		/* ... within MAXIMUM WRITE SAME LENGTH only. */
		cdb16(cdb, 0x93, 0, 0);
		tc_run(&c, 3, cdb, 16, SCSI_DIR_OUT, b, 512);
		expect_field(&c, true, 10, -1);
	}
	/* Beyond MAXIMUM WRITE SAME LENGTH. */
	cdb16(cdb, 0x93, 0, SCSI_MAX_WRITE_SAME_BLOCKS + 1);
	scsi_put_be64(cdb + 2, 0);
	tc_run(&c, 2, cdb, 16, SCSI_DIR_OUT, b, 512);
	assert_int_equal(c.t.status, SCSI_STATUS_CHECK_CONDITION); /* OOB too */
	/* ANCHOR without ANC_SUP; data-out of the wrong size. */
	cdb10(cdb, 0x41, 0, 1);
	cdb[1] = 0x18;
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 512);
	expect_field(&c, true, 1, 4);
	cdb10(cdb, 0x41, 0, 1);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 256);
	expect_field(&c, true, 7, -1);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 1024);
	expect_field(&c, true, 7, -1);
	free(b);
}

/* Status descriptor i of a GET LBA STATUS reply. */
static void lba_desc(const uint8_t *p, unsigned i, uint64_t *lba,
		     uint32_t *n, uint8_t *st)
{
	const uint8_t *d = p + 8 + 16 * i;

	*lba = scsi_get_be64(d);
	*n = scsi_get_be32(d + 8);
	*st = d[12] & 0x0F;
}

static void test_unmap_and_lba_status(void **state)
{
	uint8_t cdb[16], d[16 * 512], *b = buf_new(4096), *r;
	uint64_t lba;
	uint32_t n;
	uint8_t st;
	struct tc c;

	/* Map LBA 0..15 (8 KiB) on the thin file LUN. */
	fill(d, sizeof(d), 0xAB);
	do_write(1, 0, 16, d);
	/* WRITE SAME (16) UNMAP, zero data, LBA 8..15 (one 4 KiB page). */
	memset(b, 0, 512);
	cdb16(cdb, 0x93, 8, 8);
	cdb[1] = 0x08;
	tc_run(&c, 1, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_good(&c);
	r = do_read(1, 0, 16);
	assert_int_equal(r[8 * 512 - 1], 0xAB);
	for (int i = 8 * 512; i < 16 * 512; i++)
		assert_int_equal(r[i], 0);
	free(r);

	/* GET LBA STATUS at 0: 0..7 mapped, 8.. deallocated. */
	memset(cdb, 0, 16);
	cdb[0] = 0x9E;
	cdb[1] = 0x12;
	scsi_put_be64(cdb + 2, 0);
	scsi_put_be32(cdb + 10, 4096);
	memset(b, 0, 4096);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 4096);
	expect_good(&c);
	assert_true(scsi_get_be32(b) >= 4 + 2 * 16);
	lba_desc(b, 0, &lba, &n, &st);
	assert_int_equal(lba, 0);
	assert_int_equal(n, 8);
	assert_int_equal(st, 0);
	lba_desc(b, 1, &lba, &n, &st);
	assert_int_equal(lba, 8);
	assert_int_equal(n, LU1_BLOCKS - 8);
	assert_int_equal(st, 1);
	/* Allocation length 24: one descriptor, truthful header. */
	scsi_put_be32(cdb + 10, 24);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 4096);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 24);
	/* Beyond the end. */
	scsi_put_be64(cdb + 2, LU1_BLOCKS);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 4096);
	expect_lba_oob(&c);

	/* UNMAP 0..7 with one descriptor, then everything reads zero. */
	memset(b, 0, 4096);
	scsi_put_be16(b, 6 + 16);
	scsi_put_be16(b + 2, 16);
	scsi_put_be64(b + 8, 0);
	scsi_put_be32(b + 16, 8);
	memset(cdb, 0, 10);
	cdb[0] = 0x42;
	scsi_put_be16(cdb + 7, 24);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 24);
	expect_good(&c);
	r = do_read(1, 0, 8);
	for (int i = 0; i < 8 * 512; i++)
		assert_int_equal(r[i], 0);
	free(r);
	memset(cdb, 0, 16);
	cdb[0] = 0x9E;
	cdb[1] = 0x12;
	scsi_put_be32(cdb + 10, 4096);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 4096);
	expect_good(&c);
	lba_desc(b, 0, &lba, &n, &st);
	assert_int_equal(lba, 0);
	assert_int_equal(n, LU1_BLOCKS);
	assert_int_equal(st, 1);
	free(b);
}

static void test_unmap_validation(void **state)
{
	uint8_t cdb[10], *b = buf_new(8192);
	struct tc c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x42;
	/* Thick LUN: UNMAP is not supported (LBPU = 0). */
	scsi_put_be16(cdb + 7, 24);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_OUT, b, 24);
	expect_sense(&c, 0x5, 0x20, 0x00);
	/* Parameter list length 0: nothing, GOOD. */
	scsi_put_be16(cdb + 7, 0);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	/* Shorter than the header. */
	scsi_put_be16(cdb + 7, 4);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 4);
	expect_sense(&c, 0x5, 0x1A, 0x00);
	/* Block descriptor length past the list. */
	memset(b, 0, 8192);
	scsi_put_be16(b + 2, 32);
	scsi_put_be16(cdb + 7, 24);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 24);
	expect_sense(&c, 0x5, 0x1A, 0x00);
	/* LBA count above MAXIMUM UNMAP LBA COUNT: pointer at the count. */
	scsi_put_be16(b + 2, 32);
	scsi_put_be64(b + 8, 0);
	scsi_put_be32(b + 16, 1);
	scsi_put_be64(b + 24, 0);
	scsi_put_be32(b + 32, SCSI_MAX_UNMAP_LBA_COUNT + 1);
	scsi_put_be16(cdb + 7, 40);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 40);
	expect_field(&c, false, 32, -1);
	/* Past the end. */
	scsi_put_be64(b + 24, LU1_BLOCKS - 1);
	scsi_put_be32(b + 32, 2);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 40);
	expect_lba_oob(&c);
	/* 0 blocks at the end of the LUN: fine (libiscsi unmap_0blocks). */
	scsi_put_be64(b + 24, LU1_BLOCKS);
	scsi_put_be32(b + 32, 0);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 40);
	expect_good(&c);
	/* Too many descriptors. */
	scsi_put_be16(b + 2, (SCSI_MAX_UNMAP_DESCRIPTORS + 1) * 16);
	memset(b + 8, 0, (SCSI_MAX_UNMAP_DESCRIPTORS + 1) * 16);
	scsi_put_be16(cdb + 7, 8 + (SCSI_MAX_UNMAP_DESCRIPTORS + 1) * 16);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b,
	       8 + (SCSI_MAX_UNMAP_DESCRIPTORS + 1) * 16);
	expect_field(&c, false, 2, -1);
	/* ANCHOR. */
	cdb[1] = 0x01;
	scsi_put_be16(cdb + 7, 8);
	tc_run(&c, 1, cdb, 10, SCSI_DIR_OUT, b, 8);
	expect_field(&c, true, 1, 0);
	free(b);
}

static void test_read_capacity(void **state)
{
	uint8_t cdb[16], b[32];
	struct tc c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x25;
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 8);
	expect_good(&c);
	assert_int_equal(scsi_get_be32(b), LU0_BLOCKS - 1);
	assert_int_equal(scsi_get_be32(b + 4), 512);
	/* More than 2^32 blocks: FFFFFFFFh. */
	tc_run(&c, 3, cdb, 10, SCSI_DIR_IN, b, 8);
	expect_good(&c);
	assert_int_equal(scsi_get_be32(b), 0xFFFFFFFFu);
	/* PMI = 0 with an LBA: invalid field at byte 2. */
	scsi_put_be32(cdb + 2, 5);
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 8);
	expect_field(&c, true, 2, -1);
	/* READ CAPACITY (16): full LBA, thin bits, allocation length. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9E;
	cdb[1] = 0x10;
	scsi_put_be32(cdb + 10, 32);
	memset(b, 0xEE, sizeof(b));
	tc_run(&c, 3, cdb, 16, SCSI_DIR_IN, b, 32);
	expect_good(&c);
	assert_true(scsi_get_be64(b) == LU3_BLOCKS - 1);
	assert_int_equal(b[14] & 0xC0, 0);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 32);
	expect_good(&c);
	assert_int_equal(scsi_get_be64(b), LU1_BLOCKS - 1);
	assert_int_equal(b[14] & 0xC0, 0xC0); /* LBPME, LBPRZ */
	assert_int_equal(b[13] & 0x0F, 0);
	scsi_put_be32(cdb + 10, 12);
	tc_run(&c, 1, cdb, 16, SCSI_DIR_IN, b, 32);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 12);
}

/* READ DEFECT DATA: an empty list in the requested format, headers of 4
 * and 8 bytes, allocation length honoured. */
static void test_read_defect_data(void **state)
{
	uint8_t cdb[12], b[16];
	struct tc c;

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x37;
	cdb[2] = 0x18 | 0x05; /* REQ_PLIST, REQ_GLIST, format 101b */
	scsi_put_be16(cdb + 7, 32);
	memset(b, 0xEE, sizeof(b));
	tc_run(&c, 0, cdb, 10, SCSI_DIR_IN, b, 16);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 4);
	assert_int_equal(b[1], 0x1D);
	assert_int_equal(scsi_get_be16(b + 2), 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xB7;
	cdb[1] = 0x08 | 0x04; /* REQ_GLIST, format 100b */
	scsi_put_be32(cdb + 6, 6);
	memset(b, 0xEE, sizeof(b));
	tc_run(&c, 0, cdb, 12, SCSI_DIR_IN, b, 16);
	expect_good(&c);
	assert_int_equal(c.t.data_len, 6);
	assert_int_equal(b[1], 0x0C);
	assert_int_equal(b[6], 0xEE); /* nothing past the allocation length */
}

static void test_compare_and_write(void **state)
{
	uint8_t cdb[16], a[512], *b = buf_new(1024), *r;
	struct tc c;

	fill(a, 512, 'A');
	do_write(0, 5, 1, a);
	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	scsi_put_be64(cdb + 2, 5);
	cdb[13] = 1;
	/* Match: written. */
	fill(b, 512, 'A');
	fill(b + 512, 512, 'B');
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_good(&c);
	assert_int_equal(c.t.xfer_len, 1024);
	r = do_read(0, 5, 1);
	assert_int_equal(r[0], 'B');
	assert_int_equal(r[511], 'B');
	free(r);
	/* Miscompare at byte 100: not written, INFORMATION 100. */
	fill(b, 512, 'B');
	b[100] = 'X';
	fill(b + 512, 512, 'C');
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_miscompare(&c, 100);
	r = do_read(0, 5, 1);
	assert_int_equal(r[0], 'B');
	free(r);
	/* Above MAXIMUM COMPARE AND WRITE LENGTH; wrong data-out size;
	 * 0 blocks; past the end. */
	cdb[13] = 2;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_field(&c, true, 13, -1);
	cdb[13] = 1;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 512);
	expect_field(&c, true, 13, -1);
	cdb[13] = 0;
	tc_run(&c, 0, cdb, 16, SCSI_DIR_NONE, NULL, 0);
	expect_good(&c);
	/* 0 blocks with data-out (256 wrapped to 0 in the one-byte field). */
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_field(&c, true, 13, -1);
	cdb[13] = 1;
	scsi_put_be64(cdb + 2, LU0_BLOCKS);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_lba_oob(&c);
	free(b);
}

static void test_orwrite(void **state)
{
	uint8_t cdb[16], a[1024], *b = buf_new(1024), *r;
	struct tc c;

	fill(a, sizeof(a), 0x0F);
	do_write(0, 40, 2, a);
	fill(b, 1024, 0x30);
	cdb16(cdb, 0x8B, 40, 2);
	tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
	expect_good(&c);
	r = do_read(0, 40, 2);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(r[i], 0x3F);
	free(r);
	free(b);
}

/* Range lock: an overlapping waiter resumes on its loop after unlock. */
static int granted_count;

static void range_granted(struct sbc_range *r)
{
	granted_count++;
	base_loop_stop(F->loop);
}

/* A sequencer's range lock (a clustered LU's, device.c) as sbc.c sees
 * it: held already (1), granted later (0, then granted() with 0 or an
 * error) or refused (-errno). */
static struct {
	int ret;            /* what range_lock returns */
	int grant;          /* with ret 0: the status granted() gets */
	int locks, unlocks;
} seqr;

static void seqr_grant(void *arg)
{
	struct scsi_lu_range *r = arg;

	r->granted(r, seqr.grant);
}

static int seqr_lock(struct scsi_lu_seq *seq, struct scsi_lu_range *r)
{
	(void)seq;
	seqr.locks++;
	if (seqr.ret == 0)
		assert_int_equal(base_loop_post(r->loop, seqr_grant, r), 0);
	return seqr.ret;
}

static void seqr_unlock(struct scsi_lu_seq *seq, struct scsi_lu_range *r)
{
	(void)seq;
	(void)r;
	seqr.unlocks++;
}

/* Also when the test fails midway: the other tests run without it. */
static int seqr_teardown(void **state)
{
	(void)state;
	scsi_lun_set_seq(F->lu[0], NULL);
	return 0;
}

/* COMPARE AND WRITE under each answer of the sequencer's range lock:
 * held now and granted later run it (and unlock once); not granted
 * (node not ready) is 02/04/0C and a refusal BUSY, neither writing nor
 * unlocking. */
static void test_caw_sequencer_range(void **state)
{
	static const struct {
		int ret, grant;
		bool written;
	} rows[] = {
		{ 1, 0, true },
		{ 0, 0, true },
		{ 0, -EAGAIN, false },
		{ -ENOMEM, 0, false },
	};
	struct scsi_lu_seq seq = { .range_lock = seqr_lock,
				   .range_unlock = seqr_unlock };
	uint8_t cdb[16] = { 0x89 }, a[512], *b = buf_new(1024), *r;
	struct tc c;

	(void)state;
	scsi_put_be64(cdb + 2, 9);
	cdb[13] = 1;
	scsi_lun_set_seq(F->lu[0], &seq);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		fill(a, 512, 'a');
		do_write(0, 9, 1, a);
		fill(b, 512, 'a');
		fill(b + 512, 512, (char)('0' + i));
		memset(&seqr, 0, sizeof(seqr));
		seqr.ret = rows[i].ret;
		seqr.grant = rows[i].grant;
		tc_run(&c, 0, cdb, 16, SCSI_DIR_OUT, b, 1024);
		assert_int_equal(seqr.locks, 1);
		if (rows[i].written) {
			expect_good(&c);
			assert_int_equal(seqr.unlocks, 1);
		} else if (rows[i].ret == 0) {
			expect_sense(&c, 0x2 /* NOT READY */, 0x04, 0x0C);
			assert_int_equal(seqr.unlocks, 0);
		} else {
			assert_int_equal(c.t.status, SCSI_STATUS_BUSY);
			assert_int_equal(seqr.unlocks, 0);
		}
		r = do_read(0, 9, 1);
		assert_int_equal(r[0], rows[i].written ? '0' + i : 'a');
		free(r);
	}
	free(b);
}

static void test_range_lock(void **state)
{
	struct scsi_lun *lu = F->lu[0];
	struct sbc_range a = { .lba = 0, .nblocks = 10 };
	struct sbc_range b = { .lba = 9, .nblocks = 1, .loop = F->loop,
			       .granted = range_granted };
	struct sbc_range d = { .lba = 10, .nblocks = 5 };
	struct sbc_range e = { .lba = 12, .nblocks = 1, .loop = F->loop,
			       .granted = range_granted };

	granted_count = 0;
	assert_true(sbc_range_lock(lu, &a));
	assert_false(sbc_range_lock(lu, &b));  /* overlaps a */
	assert_true(sbc_range_lock(lu, &d));   /* adjacent: no overlap */
	assert_false(sbc_range_lock(lu, &e));  /* overlaps d */
	sbc_range_unlock(lu, &a);
	assert_int_equal(base_loop_run(F->loop), 0);
	assert_int_equal(granted_count, 1);    /* b, not e */
	sbc_range_unlock(lu, &d);
	assert_int_equal(base_loop_run(F->loop), 0);
	assert_int_equal(granted_count, 2);
	sbc_range_unlock(lu, &b);
	sbc_range_unlock(lu, &e);
	assert_true(list_empty(&lu->sbc->busy));
	assert_true(list_empty(&lu->sbc->waiting));
}

/* --- COMPARE AND WRITE atomicity across two loops ---
 *
 *    nexus A (loop of this thread) --\
 *                                     >-- LUN 0, LBA 7: a 64-bit counter
 *    nexus B (loop2, another thread) -/
 *
 * Four clients per nexus, each looping READ -> CAW(old -> old + 1), so
 * CAWs overlap both on one loop (between backstore completions) and
 * across the two threads. The range lock must make every successful CAW
 * count: final value == number of GOOD CAWs. (The plain READ may race a
 * CAW's write of the block in the ram store, which TSan reports; a torn
 * read only costs a miscompare.) */

#define CAW_ROUNDS 200
#define CAW_LBA 7
#define CAW_CLIENTS 4

struct cawc {
	struct scsi_task t;
	struct base_loop *loop;
	struct scsi_nexus *n;
	uint8_t *buf;           /* 1024: compare + write */
	int stage;              /* 0 TUR, 1 READ, 2 CAW */
	int rounds;
	int good;
	int miscompares;
	int other;
	atomic_int *running;    /* clients of this loop still going */
	bool on_right_thread;
};

static void cawc_issue(struct cawc *k);

static void cawc_done(struct scsi_task *t)
{
	struct cawc *k = container_of(t, struct cawc, t);

	if (base_loop_current() != k->loop)
		k->on_right_thread = false;
	if (k->stage == 0) {
		if (t->status == SCSI_STATUS_GOOD)
			k->stage = 1;
	} else if (k->stage == 1) {
		if (t->status == SCSI_STATUS_GOOD) {
			uint64_t v = scsi_get_be64(k->buf);

			memcpy(k->buf + 512, k->buf, 512);
			scsi_put_be64(k->buf + 512, v + 1);
			k->stage = 2;
		} else {
			k->other++;
		}
	} else {
		if (t->status == SCSI_STATUS_GOOD)
			k->good++;
		else if (t->status == SCSI_STATUS_CHECK_CONDITION &&
			 (t->sense[2] & 0xF) == 0xE)
			k->miscompares++;
		else
			k->other++;
		k->stage = 1;
		k->rounds++;
	}
	if (k->rounds == CAW_ROUNDS) {
		if (atomic_fetch_sub(k->running, 1) == 1)
			base_loop_stop(k->loop);
		return;
	}
	cawc_issue(k);
}

static void cawc_issue_cb(void *arg)
{
	cawc_issue(arg);
}

static void cawc_issue(struct cawc *k)
{
	struct scsi_task *t = &k->t;

	memset(t, 0, sizeof(*t));
	t->nexus = k->n;
	t->lun = 0;
	t->attr = SCSI_ATTR_SIMPLE;
	t->done = cawc_done;
	t->buf = k->buf;
	switch (k->stage) {
	case 0:
		t->cdb_len = 6;
		t->dir = SCSI_DIR_NONE;
		t->buf = NULL;
		break;
	case 1:
		cdb16(t->cdb, 0x88, CAW_LBA, 1);
		t->cdb_len = 16;
		t->dir = SCSI_DIR_IN;
		t->edtl = 512;
		break;
	default:
		t->cdb[0] = 0x89;
		scsi_put_be64(t->cdb + 2, CAW_LBA);
		t->cdb[13] = 1;
		t->cdb_len = 16;
		t->dir = SCSI_DIR_OUT;
		t->edtl = 1024;
		break;
	}
	scsi_task_submit(t);
}

static void *cawc_thread(void *arg)
{
	base_loop_run(arg);
	return NULL;
}

static void test_caw_two_loops(void **state)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0, 0, 2 };
	struct cawc k[2 * CAW_CLIENTS];
	atomic_int running[2];
	struct base_loop *loop2;
	struct scsi_nexus *n2;
	uint8_t zero[512] = { 0 }, *r;
	int good = 0, mis = 0;
	pthread_t thr;
	uint64_t final;

	do_write(0, CAW_LBA, 1, zero);
	assert_int_equal(base_loop_create(&loop2), 0);
	assert_int_equal(scsi_nexus_create(F->tp, "iqn.sbc2", isid, loop2,
					   NULL, NULL, &n2), 0);
	atomic_init(&running[0], CAW_CLIENTS);
	atomic_init(&running[1], CAW_CLIENTS);
	memset(k, 0, sizeof(k));
	for (int i = 0; i < 2 * CAW_CLIENTS; i++) {
		bool second = i >= CAW_CLIENTS;

		k[i].loop = second ? loop2 : F->loop;
		k[i].n = second ? n2 : F->n;
		/* The first command of nexus B's clients meets its
		 * power-on UA: start them with TEST UNIT READY. */
		k[i].stage = second ? 0 : 1;
		k[i].running = &running[second];
		k[i].buf = buf_new(1024);
		k[i].on_right_thread = true;
		assert_int_equal(base_loop_post(k[i].loop, cawc_issue_cb,
						&k[i]), 0);
	}
	assert_int_equal(pthread_create(&thr, NULL, cawc_thread, loop2), 0);
	while (atomic_load(&running[0]))
		assert_int_equal(base_loop_run(F->loop), 0);
	pthread_join(thr, NULL);

	r = do_read(0, CAW_LBA, 1);
	final = scsi_get_be64(r);
	free(r);
	for (int i = 0; i < 2 * CAW_CLIENTS; i++) {
		assert_true(k[i].on_right_thread);
		assert_int_equal(k[i].other, 0);
		assert_int_equal(k[i].good + k[i].miscompares, CAW_ROUNDS);
		good += k[i].good;
		mis += k[i].miscompares;
		free(k[i].buf);
	}
	/* No lost update: every GOOD CAW incremented the counter once. */
	assert_int_equal(final, (uint64_t)good);
	assert_true(good > 0 && mis > 0); /* there was contention */

	scsi_nexus_destroy(n2);
	base_loop_destroy(loop2);
}

/* --- EXTENDED COPY --- */

static unsigned xcopy_cscd(uint8_t *d, unsigned lun)
{
	memset(d, 0, 32);
	d[0] = 0xE4;
	d[4] = 0x01;             /* binary */
	d[5] = 0x03;             /* NAA, associated with the LU */
	d[7] = 16;
	memcpy(d + 8, F->lu[lun]->cfg.naa, 16);
	d[30] = 0x02;            /* block size 512 */
	return 32;
}

static unsigned xcopy_b2b(uint8_t *d, uint16_t src, uint16_t dst,
			  uint16_t n, uint64_t slba, uint64_t dlba)
{
	memset(d, 0, 28);
	d[0] = 0x02;
	scsi_put_be16(d + 2, 24);
	scsi_put_be16(d + 4, src);
	scsi_put_be16(d + 6, dst);
	scsi_put_be16(d + 10, n);
	scsi_put_be64(d + 12, slba);
	scsi_put_be64(d + 20, dlba);
	return 28;
}

static void xcopy_hdr(uint8_t *p, uint8_t list_id, uint16_t tdl,
		      uint32_t sdl)
{
	memset(p, 0, 16);
	p[0] = list_id;
	scsi_put_be16(p + 2, tdl);
	scsi_put_be32(p + 8, sdl);
}

static void xcopy_run(struct tc *c, uint8_t *p, uint32_t len)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x83;
	scsi_put_be32(cdb + 10, len);
	tc_run(c, 0, cdb, 16, SCSI_DIR_OUT, p, len);
}

static void rcr_run(struct tc *c, uint8_t sa, uint8_t list_id, uint8_t *b,
		    uint32_t alloc)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x84;
	cdb[1] = sa;
	cdb[2] = list_id;
	scsi_put_be32(cdb + 10, alloc);
	tc_run(c, 0, cdb, 16, SCSI_DIR_IN, b, alloc);
}

static void test_xcopy(void **state)
{
	const uint16_t n = 3000; /* ~1.5 MiB: more than one bounce chunk */
	uint8_t *src = buf_new((size_t)n * 512), *p = buf_new(4096), *r;
	uint8_t b[64];
	unsigned off;
	struct tc c;

	for (size_t i = 0; i < (size_t)n * 512; i++)
		src[i] = (uint8_t)(i / 512 + i);
	do_write(0, 2000, n, src);

	/* LUN 0 LBA 2000 -> LUN 2 LBA 100, list id 7. */
	off = 16;
	off += xcopy_cscd(p + off, 0);
	off += xcopy_cscd(p + off, 2);
	off += xcopy_b2b(p + off, 0, 1, n, 2000, 100);
	xcopy_hdr(p, 7, 64, 28);
	xcopy_run(&c, p, off);
	expect_good(&c);
	r = do_read(2, 100, n);
	assert_memory_equal(r, src, (size_t)n * 512);
	free(r);

	/* COPY STATUS of list 7: done, 1 segment, n * 512 bytes. */
	rcr_run(&c, 0x00, 7, b, sizeof(b));
	expect_good(&c);
	assert_int_equal(c.t.data_len, 12);
	assert_int_equal(scsi_get_be32(b), 8);
	assert_int_equal(b[4], 0x01);
	assert_int_equal(scsi_get_be16(b + 5), 1);
	assert_int_equal(b[7], 0x00);
	assert_int_equal(scsi_get_be32(b + 8), (uint32_t)n * 512);
	/* Unknown list id. */
	rcr_run(&c, 0x00, 8, b, sizeof(b));
	expect_field(&c, true, 2, -1);
	/* Another I_T nexus does not see list 7 (SPC-4: per I_T nexus). */
	{
		static const uint8_t isid3[6] = { 0x80, 0, 0, 0, 0, 3 };
		struct scsi_nexus *saved = F->n, *other;

		assert_int_equal(scsi_nexus_create(F->tp, "iqn.sbc3", isid3,
						   F->loop, NULL, NULL,
						   &other), 0);
		F->n = other;
		clear_uas(0);
		rcr_run(&c, 0x00, 7, b, sizeof(b));
		expect_field(&c, true, 2, -1);
		F->n = saved;
		scsi_nexus_destroy(other);
	}
	/* OPERATING PARAMETERS. */
	rcr_run(&c, 0x03, 0, b, sizeof(b));
	expect_good(&c);
	assert_int_equal(scsi_get_be16(b + 8), 8);    /* CSCD */
	assert_int_equal(scsi_get_be16(b + 10), 64);  /* segments */
	assert_int_equal(scsi_get_be32(b + 12), 8 * 32 + 64 * 28);
	assert_int_equal(b[43], 2);
	assert_int_equal(b[44], 0x02);
	assert_int_equal(b[45], 0xE4);

	/* Parameter list length 0: GOOD. */
	xcopy_run(&c, p, 0);
	expect_good(&c);
	/* Truncated list. */
	xcopy_hdr(p, 9, 64, 28);
	xcopy_run(&c, p, 16 + 64 + 27);
	expect_sense(&c, 0x5, 0x1A, 0x00);
	/* Too many CSCD descriptors (9). */
	off = 16;
	for (int i = 0; i < 9; i++)
		off += xcopy_cscd(p + off, 0);
	off += xcopy_b2b(p + off, 0, 0, 1, 0, 1);
	xcopy_hdr(p, 10, 9 * 32, 28);
	xcopy_run(&c, p, off);
	expect_sense(&c, 0x5, 0x26, 0x06);
	/* Unsupported CSCD type, unsupported segment type. */
	off = 16;
	off += xcopy_cscd(p + off, 0);
	p[16] = 0xE0;
	off += xcopy_b2b(p + off, 0, 0, 1, 0, 1);
	xcopy_hdr(p, 11, 32, 28);
	xcopy_run(&c, p, off);
	expect_sense(&c, 0x5, 0x26, 0x07);
	p[16] = 0xE4;
	p[48] = 0x0B;
	xcopy_run(&c, p, off);
	expect_sense(&c, 0x5, 0x26, 0x09);
	p[48] = 0x02;
	/* NUL CSCD; bad index; past the end: COPY ABORTED 0D/02. */
	p[17] = 0x20;
	xcopy_run(&c, p, off);
	expect_sense(&c, 0xA, 0x0D, 0x02);
	p[17] = 0x00;
	scsi_put_be16(p + 48 + 6, 1);
	xcopy_run(&c, p, off);
	expect_sense(&c, 0xA, 0x0D, 0x02);
	scsi_put_be16(p + 48 + 6, 0);
	scsi_put_be64(p + 48 + 20, LU0_BLOCKS - 1);
	scsi_put_be16(p + 48 + 10, 2);
	xcopy_run(&c, p, off);
	expect_sense(&c, 0xA, 0x0D, 0x02);
	/* Finally the fixed list copies LBA 0..1 to 1..2 within LUN 0, with
	 * a reserved LU ID TYPE, which libiscsi 1.19 expects to work. */
	scsi_put_be64(p + 48 + 20, 1);
	p[17] = 0x80;
	{
		uint8_t *before = do_read(0, 0, 2);

		xcopy_run(&c, p, off);
		expect_good(&c);
		r = do_read(0, 1, 2);
		assert_memory_equal(r, before, 1024);
		free(r);
		free(before);
	}
	/* Every copy, failed or not, gave its concurrency slot back. */
	assert_int_equal(F->lu[0]->sbc->xcopy_running, 0);
	/* Records are reused oldest first only when none is free: fill
	 * every record with list ids 100.., then list 7 (the oldest) is
	 * gone and list 100 still there. */
	for (unsigned i = 0; i < SBC_XCOPY_RECORDS; i++) {
		p[0] = (uint8_t)(100 + i);
		p[17] = 0x00;
		xcopy_run(&c, p, off);
		expect_good(&c);
	}
	rcr_run(&c, 0x00, 100, b, sizeof(b));
	expect_good(&c);
	assert_int_equal(b[4], 0x01);
	rcr_run(&c, 0x00, 7, b, sizeof(b));
	expect_field(&c, true, 2, -1);
	/* I_T nexus loss forgets the held results. */
	rcr_run(&c, 0x00, 100, b, sizeof(b));
	expect_good(&c);
	sbc_xcopy_nexus_lost(F->lu[0], F->n);
	rcr_run(&c, 0x00, 100, b, sizeof(b));
	expect_field(&c, true, 2, -1);
	free(src);
	free(p);
}

/* --- ABORT TASK stops a long WRITE SAME between chunks --- */

struct abort_ctx {
	struct tc c;
	struct scsi_tmf tmf;
	uint8_t *buf;
	int tmf_done;
	enum scsi_tmf_resp resp;
};

static void abort_tmf_done(struct scsi_tmf *tmf, enum scsi_tmf_resp resp)
{
	struct abort_ctx *a = container_of(tmf, struct abort_ctx, tmf);

	a->tmf_done++;
	a->resp = resp;
}

static void abort_task_done(struct scsi_task *t)
{
	struct tc *c = container_of(t, struct tc, t);

	c->done++;
	base_loop_stop(F->loop);
}

static void abort_start(void *arg)
{
	struct abort_ctx *a = arg;

	scsi_task_submit(&a->c.t);
	/* Same loop turn: the first chunk's completion has not run yet. */
	assert_int_equal(scsi_tmf_submit(&a->tmf), 0);
}

static void test_abort_write_same(void **state)
{
	struct abort_ctx a;
	uint8_t *r;

	memset(&a, 0, sizeof(a));
	a.buf = buf_new(512);
	fill(a.buf, 512, 0x77);
	do_write(0, 50000, 1, (uint8_t[512]){ 0 });
	/* 40000 blocks of 512 B: 20 chunks of 1 MiB. */
	a.c.t.nexus = F->n;
	a.c.t.lun = 0;
	cdb16(a.c.t.cdb, 0x93, 10000, 40001);
	a.c.t.cdb_len = 16;
	a.c.t.attr = SCSI_ATTR_SIMPLE;
	a.c.t.dir = SCSI_DIR_OUT;
	a.c.t.edtl = 512;
	a.c.t.buf = a.buf;
	a.c.t.tag = 0x1234;
	a.c.t.done = abort_task_done;
	a.tmf.nexus = F->n;
	a.tmf.fn = SCSI_TMF_ABORT_TASK;
	a.tmf.lun = 0;
	a.tmf.ref_tag = 0x1234;
	a.tmf.done = abort_tmf_done;
	assert_int_equal(base_loop_post(F->loop, abort_start, &a), 0);
	assert_int_equal(base_loop_run(F->loop), 0);
	assert_int_equal(a.c.done, 1);
	assert_true(a.c.t.aborted);
	assert_int_equal(a.tmf_done, 1);
	assert_int_equal(a.resp, SCSI_TMF_RESP_COMPLETE);
	/* Stopped early: the last block of the range was never written. */
	r = do_read(0, 50000, 1);
	assert_int_equal(r[0], 0);
	free(r);
	free(a.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_roundtrip),
		cmocka_unit_test(test_range_checks),
		cmocka_unit_test(test_transfer_limits),
		cmocka_unit_test(test_residuals),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_unmap_and_lba_status),
		cmocka_unit_test(test_unmap_validation),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_read_defect_data),
		cmocka_unit_test(test_compare_and_write),
		cmocka_unit_test(test_orwrite),
		cmocka_unit_test(test_range_lock),
		cmocka_unit_test(test_caw_two_loops),
		cmocka_unit_test_teardown(test_caw_sequencer_range,
					  seqr_teardown),
		cmocka_unit_test(test_xcopy),
		cmocka_unit_test(test_abort_write_same),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
