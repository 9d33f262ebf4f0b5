/*
 * Unit tests of the SCSI target core: sense building, the opcode table,
 * INQUIRY / VPD / MODE / REPORT data, unit attentions, task sets and task
 * management across threads.
 *
 * Topology used by the tests that need nexuses:
 *
 *    initiator iqn.i1 (ISID 1) --\                    /-- LUN 0 (ram, 1 MiB)
 *                                 > tport TPGT 1 ----<
 *    initiator iqn.i2 (ISID 2) --/   RTPI 1, group 7  \-- LUN 3 (ram, thin)
 *
 *    nexus A runs on loop1 (the test thread), nexus B on loop2 (a thread).
 *
 * The SBC handlers are stubbed here (this test links the core sources, not
 * sbc.c): READ records the task and returns PENDING, so the tests decide
 * when "backstore I/O" completes and can observe task sets and aborts.
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
#include "scsi/lu_repl.h"
#include "scsi/scsi_internal.h"
#include "../t_pr_nexus.h"

/* ---------------------------------------------------------------- stubs */

#define MAX_PENDING 64
static pthread_mutex_t stub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scsi_task *stub_pending[MAX_PENDING];
static int stub_npending;
static int stub_reads_started;

static enum scsi_exec stub_pend(struct scsi_task *t)
{
	pthread_mutex_lock(&stub_lock);
	stub_pending[stub_npending++] = t;
	stub_reads_started++;
	pthread_mutex_unlock(&stub_lock);
	return SCSI_EXEC_PENDING;
}

static bool stub_take(struct scsi_task *t)
{
	bool found = false;

	pthread_mutex_lock(&stub_lock);
	for (int i = 0; i < stub_npending; i++) {
		if (stub_pending[i] == t) {
			stub_pending[i] = stub_pending[--stub_npending];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&stub_lock);
	return found;
}

static enum scsi_exec stub_unsupported(struct scsi_task *t)
{
	return scsi_task_error(t, SCSI_SR_INVALID_OPCODE);
}

enum scsi_exec sbc_read(struct scsi_task *t) { return stub_pend(t); }
enum scsi_exec sbc_write(struct scsi_task *t) { return SCSI_EXEC_DONE; }
enum scsi_exec sbc_write_verify(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_verify(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_write_same(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_unmap(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_get_lba_status(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_read_capacity10(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_read_capacity16(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_sync_cache(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_compare_and_write(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_orwrite(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_prefetch(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_read_defect_data(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_xcopy(struct scsi_task *t) { return stub_unsupported(t); }
enum scsi_exec sbc_receive_copy_results(struct scsi_task *t) { return stub_unsupported(t); }
int sbc_lun_init(struct scsi_lun *lu) { return 0; }
void sbc_lun_fini(struct scsi_lun *lu) { }
void sbc_xcopy_nexus_lost(struct scsi_lun *lu, const struct scsi_nexus *n) { }

/* -------------------------------------------------------------- fixture */

struct fx {
	struct base_loop *loop1, *loop2;
	pthread_t thr2;
	struct scsi_target *tgt;
	struct scsi_tport *tp;
	struct backstore *bs0, *bs3;
	struct scsi_lun *lu0, *lu3;
	struct scsi_nexus *a, *b;
	/* The fabric stub's abort_unsubmitted (called on either loop, so
	 * under ulock): calls, the quiet flag of the last call per nexus
	 * (0 = A, 1 = B) and LUN id (-1 none yet), the catch-all calls
	 * (lun_id < 0), and how many not-yet-submitted tasks the "fabric"
	 * holds per nexus and LUN id, handed back by the call covering them. */
	pthread_mutex_t ulock;
	int unsubmitted_calls;
	int quiet[2][4];
	int catch_all[2];
	unsigned held[2][4];
};

struct ttask {
	struct scsi_task t;
	uint8_t buf[4096];
	atomic_int done;
};

static void ttask_done(struct scsi_task *t)
{
	struct ttask *tt = container_of(t, struct ttask, t);

	atomic_fetch_add(&tt->done, 1);
}

static unsigned fx_abort_unsubmitted(struct scsi_nexus *n, int lun_id,
				     bool quiet)
{
	struct fx *f = scsi_nexus_fabric_priv(n);
	int x = n == f->a ? 0 : 1;
	unsigned count = 0;

	pthread_mutex_lock(&f->ulock);
	f->unsubmitted_calls++;
	for (int i = 0; i < 4; i++) {
		if (lun_id >= 0 && lun_id != i)
			continue;
		count += f->held[x][i];
		f->held[x][i] = 0;
	}
	if (lun_id < 0)
		f->catch_all[x]++;
	else if (lun_id < 4)
		f->quiet[x][lun_id] = quiet;
	pthread_mutex_unlock(&f->ulock);
	return count;
}

static int fx_quiet(struct fx *f, int x, int lun_id)
{
	int q;

	pthread_mutex_lock(&f->ulock);
	q = f->quiet[x][lun_id];
	pthread_mutex_unlock(&f->ulock);
	return q;
}

static const struct scsi_fabric_ops fx_ops = {
	.abort_unsubmitted = fx_abort_unsubmitted,
};

static void *fx_loop2_main(void *arg)
{
	base_loop_run(arg);
	return NULL;
}

static uint64_t lun_wire(unsigned id)
{
	return (uint64_t)id << 48; /* peripheral device addressing */
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct scsi_lun_config c = { 0 };
	static const uint8_t isid1[6] = { 0x80, 0, 0, 0, 0, 1 };
	static const uint8_t isid2[6] = { 0x80, 0, 0, 0, 0, 2 };

	assert_non_null(f);
	pthread_mutex_init(&f->ulock, NULL);
	memset(f->quiet, 0xff, sizeof(f->quiet));
	assert_int_equal(base_loop_create(&f->loop1), 0);
	assert_int_equal(base_loop_create(&f->loop2), 0);
	assert_int_equal(pthread_create(&f->thr2, NULL, fx_loop2_main, f->loop2), 0);
	assert_int_equal(scsi_target_create("iqn.2026-01.test:tgt", &f->tgt), 0);
	assert_int_equal(scsi_tport_create(f->tgt, 1, 1, 7, &f->tp), 0);

	assert_int_equal(bs_open(&(struct bs_config){ .type = "ram",
						      .size = 1 << 20 },
				 &f->bs0), 0);
	assert_int_equal(bs_open(&(struct bs_config){ .type = "ram",
						      .size = 1 << 20 },
				 &f->bs3), 0);
	c.lun_id = 0;
	c.bs = f->bs0;
	c.block_size = 512;
	c.nblocks = 2048;
	c.write_cache = true;
	snprintf(c.serial, sizeof(c.serial), "SER0");
	for (int i = 0; i < 16; i++)
		c.naa[i] = (uint8_t)(0x60 + i);
	snprintf(c.vendor, sizeof(c.vendor), "ACME");
	snprintf(c.product, sizeof(c.product), "Disk");
	snprintf(c.revision, sizeof(c.revision), "1.0");
	assert_int_equal(scsi_lun_create(f->tgt, &c, &f->lu0), 0);
	c.lun_id = 3;
	c.bs = f->bs3;
	c.thin = true;
	c.block_size = 4096;
	c.nblocks = 256;
	c.naa[15] = 0xEE;
	assert_int_equal(scsi_lun_create(f->tgt, &c, &f->lu3), 0);

	assert_int_equal(scsi_nexus_create(f->tp, "iqn.i1", isid1, f->loop1,
					   &fx_ops, f, &f->a), 0);
	assert_int_equal(scsi_nexus_create(f->tp, "iqn.i2", isid2, f->loop2,
					   &fx_ops, f, &f->b), 0);
	stub_npending = 0;
	stub_reads_started = 0;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	base_loop_stop(f->loop2);
	pthread_join(f->thr2, NULL);
	scsi_nexus_destroy(f->a);
	scsi_nexus_destroy(f->b);
	scsi_target_destroy(f->tgt);
	bs_close(f->bs0);
	bs_close(f->bs3);
	base_loop_destroy(f->loop1);
	base_loop_destroy(f->loop2);
	free(f);
	return 0;
}

static void tt_prep(struct ttask *tt, struct scsi_nexus *n, unsigned lun,
		    const uint8_t *cdb, unsigned cdb_len, enum scsi_task_attr attr)
{
	memset(tt, 0, sizeof(*tt));
	tt->t.nexus = n;
	tt->t.lun = lun_wire(lun);
	memcpy(tt->t.cdb, cdb, cdb_len);
	tt->t.cdb_len = 16;
	tt->t.attr = attr;
	tt->t.edtl = sizeof(tt->buf);
	tt->t.buf = tt->buf;
	tt->t.done = ttask_done;
}

/* Submits on the calling thread (nexus A's loop) and expects inline done. */
static void run_cdb(struct ttask *tt, struct scsi_nexus *n, unsigned lun,
		    const uint8_t *cdb, unsigned cdb_len)
{
	tt_prep(tt, n, lun, cdb, cdb_len, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&tt->t);
	assert_int_equal(atomic_load(&tt->done), 1);
}

/* Runs fn(arg) on loop and waits for it. */
struct on_loop {
	void (*fn)(void *);
	void *arg;
	atomic_bool ran;
};

static void on_loop_tramp(void *arg)
{
	struct on_loop *o = arg;

	o->fn(o->arg);
	atomic_store(&o->ran, true);
}

static void on_loop(struct base_loop *loop, void (*fn)(void *), void *arg)
{
	struct on_loop o = { .fn = fn, .arg = arg };

	assert_int_equal(base_loop_post(loop, on_loop_tramp, &o), 0);
	while (!atomic_load(&o.ran))
		usleep(100);
}

static void stop_loop(void *arg)
{
	base_loop_stop(arg);
}

/* Turns loop1 (in this thread) until *flag is set or ~2 s pass. */
static void run_loop1_until(struct fx *f, atomic_int *flag)
{
	for (int i = 0; i < 2000 && !atomic_load(flag); i++) {
		base_loop_post(f->loop1, stop_loop, f->loop1);
		base_loop_run(f->loop1);
		if (!atomic_load(flag))
			usleep(1000);
	}
}

static void expect_sense(const struct scsi_task *t, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	assert_int_equal(t->status, SCSI_STATUS_CHECK_CONDITION);
	if (t->sense[0] == 0x72) {
		assert_true(t->sense_len >= 8);
		assert_int_equal(t->sense[1], key);
		assert_int_equal(t->sense[2], asc);
		assert_int_equal(t->sense[3], ascq);
	} else {
		assert_true(t->sense_len >= 14);
		assert_int_equal(t->sense[0] & 0x7F, 0x70);
		assert_int_equal(t->sense[2] & 0x0F, key);
		assert_int_equal(t->sense[12], asc);
		assert_int_equal(t->sense[13], ascq);
	}
}

static const uint8_t CDB_TUR[6] = { 0x00 };

/* Clears the power-on UA of nexus n on lun. */
static void clear_ua(struct scsi_nexus *n, unsigned lun)
{
	struct ttask tt;

	run_cdb(&tt, n, lun, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_CHECK_CONDITION);
	run_cdb(&tt, n, lun, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* ---------------------------------------------------------------- sense */

static void test_sense_fixed_field_pointer(void **state)
{
	struct scsi_task t = { 0 };

	scsi_task_error_cdb(&t, 2, 7);
	assert_int_equal(t.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(t.sense_len, 18);
	assert_int_equal(t.sense[0], 0x70);
	assert_int_equal(t.sense[2], 0x05);
	assert_int_equal(t.sense[7], 10);
	assert_int_equal(t.sense[12], 0x24);
	assert_int_equal(t.sense[13], 0x00);
	/* SKSV | C/D | BPV | bit 7, field 2 */
	assert_int_equal(t.sense[15], 0xCF);
	assert_int_equal(t.sense[16], 0x00);
	assert_int_equal(t.sense[17], 0x02);

	scsi_task_error_param(&t, 0x0102, -1);
	assert_int_equal(t.sense[12], 0x26);
	assert_int_equal(t.sense[15], 0x80); /* SKSV only: param list, no BPV */
	assert_int_equal(t.sense[16], 0x01);
	assert_int_equal(t.sense[17], 0x02);
}

static void test_sense_fixed_info(void **state)
{
	struct scsi_task t = { 0 };

	scsi_task_error_info(&t, SCSI_SR_MISCOMPARE, 0x1234);
	assert_int_equal(t.sense[0], 0xF0); /* VALID */
	assert_int_equal(t.sense[2], 0x0E);
	assert_int_equal(scsi_get_be32(t.sense + 3), 0x1234);
	assert_int_equal(t.sense[12], 0x1D);
	assert_int_equal(t.sense[15], 0x00); /* no SKSV */
}

static void test_sense_descriptor(void **state)
{
	struct scsi_lun lu = { 0 };
	struct scsi_task t = { .lu = &lu };

	atomic_init(&lu.d_sense, true);
	scsi_task_error_cdb(&t, 9, -1);
	assert_int_equal(t.sense[0], 0x72);
	assert_int_equal(t.sense[1], 0x05);
	assert_int_equal(t.sense[2], 0x24);
	assert_int_equal(t.sense[3], 0x00);
	assert_int_equal(t.sense[7], 8);
	assert_int_equal(t.sense_len, 16);
	assert_int_equal(t.sense[8], 0x02); /* sense key specific descriptor */
	assert_int_equal(t.sense[9], 0x06);
	assert_int_equal(t.sense[12], 0xC0); /* SKSV | C/D, no BPV */
	assert_int_equal(scsi_get_be16(t.sense + 13), 9);

	scsi_task_error_info(&t, SCSI_SR_MISCOMPARE, 0x1122334455ull);
	assert_int_equal(t.sense[1], 0x0E);
	assert_int_equal(t.sense[7], 12);
	assert_int_equal(t.sense[8], 0x00); /* information descriptor */
	assert_int_equal(t.sense[9], 0x0A);
	assert_int_equal(t.sense[10], 0x80);
	assert_int_equal(scsi_get_be64(t.sense + 12), 0x1122334455ull);
}

static void test_sense_status_only(void **state)
{
	struct scsi_task t = { 0 };

	scsi_task_set_sense(&t, SCSI_SR_RESERVATION_CONFLICT);
	assert_int_equal(t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(t.sense_len, 0);
	scsi_task_set_sense(&t, SCSI_SR_WRITE_PROTECTED);
	assert_int_equal(t.sense[2], 0x07);
	assert_int_equal(t.sense[12], 0x27);
	scsi_task_set_sense(&t, SCSI_SR_NOT_READY_STOPPED);
	assert_int_equal(t.sense[2], 0x02);
	assert_int_equal(t.sense[12], 0x04);
	assert_int_equal(t.sense[13], 0x02);
}

/* --------------------------------------------------------------- opcodes */

static void test_opcode_table(void **state)
{
	unsigned count;
	const struct scsi_opcode *rows = scsi_opcode_rows(&count);
	bool sa_invalid;

	assert_true(count > 30);
	for (unsigned i = 0; i < count; i++) {
		const struct scsi_opcode *r = &rows[i];
		unsigned group = r->opcode >> 5, want;
		uint8_t cdb[SCSI_CDB_MAX] = { r->opcode, r->sa };

		assert_int_equal(r->usage[0], r->opcode);
		switch (group) {
		case 0: want = 6; break;
		case 1: case 2: want = 10; break;
		case 4: want = 16; break;
		case 5: want = 12; break;
		default: want = 0; break;
		}
		assert_int_equal(r->cdb_len, want);
		assert_int_equal(r->usage[r->cdb_len - 1], 0x04); /* CONTROL */
		assert_non_null(r->exec);
		if (r->flags & SCSI_OPF_SA)
			assert_int_equal(r->usage[1] & 0x1F, r->sa);
		assert_ptr_equal(scsi_opcode_lookup(cdb, &sa_invalid), r);
	}
	/* 9Eh with an unknown service action; an unknown opcode. */
	{
		uint8_t cdb[16] = { 0x9E, 0x1F };

		assert_null(scsi_opcode_lookup(cdb, &sa_invalid));
		assert_true(sa_invalid);
		cdb[0] = 0x5F; cdb[1] = 0x08; /* REPLACE LOST RESERVATION */
		assert_null(scsi_opcode_lookup(cdb, &sa_invalid));
		assert_true(sa_invalid);
		cdb[0] = 0xC0; cdb[1] = 0; /* vendor specific: unknown */
		assert_null(scsi_opcode_lookup(cdb, &sa_invalid));
		assert_false(sa_invalid);
	}
}

/* --------------------------------------------------------------- INQUIRY */

static void test_inquiry_standard(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t cdb[6] = { 0x12, 0, 0, 0, 255 };
	const uint8_t *d = tt.buf;

	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.t.data_len, 96);
	assert_int_equal(d[0], 0x00);
	assert_int_equal(d[1], 0x00);   /* RMB 0 */
	assert_int_equal(d[2], 0x06);   /* SPC-4 */
	assert_int_equal(d[3], 0x12);   /* HISUP, format 2 */
	assert_int_equal(d[4], 91);
	assert_int_equal(d[5], 0x18);   /* TPGS 01b, 3PC */
	assert_int_equal(d[6], 0x10);   /* MULTIP */
	assert_int_equal(d[7], 0x02);   /* CMDQUE */
	assert_memory_equal(d + 8, "ACME    ", 8);
	assert_memory_equal(d + 16, "Disk            ", 16);
	assert_memory_equal(d + 32, "1.0 ", 4);
	assert_int_equal(scsi_get_be16(d + 58), 0x00A0);
	assert_int_equal(scsi_get_be16(d + 60), 0x0960);
	assert_int_equal(scsi_get_be16(d + 62), 0x0460);
	assert_int_equal(scsi_get_be16(d + 64), 0x04C0);

	/* Allocation length 36 truncates. */
	{
		const uint8_t c36[6] = { 0x12, 0, 0, 0, 36 };

		run_cdb(&tt, f->a, 0, c36, 6);
		assert_int_equal(tt.t.data_len, 36);
		assert_int_equal(tt.t.xfer_len, 36);
	}
	/* EVPD = 0 with a page code: INVALID FIELD IN CDB, byte 2. */
	{
		const uint8_t bad[6] = { 0x12, 0, 0x80, 0, 255 };

		run_cdb(&tt, f->a, 0, bad, 6);
		expect_sense(&tt.t, 0x05, 0x24, 0x00);
		assert_int_equal(tt.t.sense[15] & 0xC0, 0xC0);
		assert_int_equal(scsi_get_be16(tt.t.sense + 16), 2);
	}
}

static void test_inquiry_vpd(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	uint8_t cdb[6] = { 0x12, 0x01, 0x00, 0x02, 0x00 };
	const uint8_t *d = tt.buf;
	static const uint8_t pages[] = { 0, 0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2 };

	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(d[1], 0x00);
	assert_int_equal(scsi_get_be16(d + 2), sizeof(pages));
	assert_memory_equal(d + 4, pages, sizeof(pages));

	cdb[2] = 0x80;
	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(scsi_get_be16(d + 2), 4);
	assert_memory_equal(d + 4, "SER0", 4);

	/* Device identification: NAA, RTPI, TPG, two SCSI name strings. */
	cdb[2] = 0x83;
	run_cdb(&tt, f->a, 0, cdb, 6);
	{
		unsigned len = scsi_get_be16(d + 2), off = 4;
		const uint8_t *p;

		p = d + off;
		assert_int_equal(p[0], 0x01);
		assert_int_equal(p[1], 0x03);
		assert_int_equal(p[3], 16);
		assert_int_equal(p[4], 0x60);
		off += 4 + p[3];
		p = d + off;
		assert_int_equal(p[1], 0x94);
		assert_int_equal(scsi_get_be16(p + 6), 1); /* RTPI */
		off += 4 + p[3];
		p = d + off;
		assert_int_equal(p[1], 0x95);
		assert_int_equal(scsi_get_be16(p + 6), 7); /* port group */
		off += 4 + p[3];
		p = d + off;
		assert_int_equal(p[0], 0x53);
		assert_int_equal(p[1], 0x98);
		assert_int_equal(p[3] % 4, 0);
		assert_string_equal((const char *)p + 4,
				    "iqn.2026-01.test:tgt,t,0x0001");
		off += 4 + p[3];
		p = d + off;
		assert_int_equal(p[1], 0xA8);
		assert_string_equal((const char *)p + 4, "iqn.2026-01.test:tgt");
		off += 4 + p[3];
		assert_int_equal(off, len + 4);
	}

	/* Block limits: not thin on LUN 0, thin on LUN 3 (4096 bytes). */
	cdb[2] = 0xB0;
	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(scsi_get_be16(d + 2), 0x3C);
	assert_int_equal(d[5], 1);
	assert_int_equal(scsi_get_be32(d + 8), SCSI_MAX_XFER_BYTES / 512);
	assert_int_equal(scsi_get_be32(d + 20), 0);
	assert_int_equal(scsi_get_be32(d + 24), 0);
	assert_int_equal(scsi_get_be64(d + 36), SCSI_MAX_WRITE_SAME_BLOCKS);
	clear_ua(f->a, 3);
	run_cdb(&tt, f->a, 3, cdb, 6);
	assert_int_equal(scsi_get_be32(d + 8), SCSI_MAX_XFER_BYTES / 4096);
	assert_int_equal(scsi_get_be32(d + 20), SCSI_MAX_UNMAP_LBA_COUNT);
	assert_int_equal(scsi_get_be32(d + 24), SCSI_MAX_UNMAP_DESCRIPTORS);

	cdb[2] = 0xB1;
	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(scsi_get_be16(d + 4), 1);

	cdb[2] = 0xB2;
	run_cdb(&tt, f->a, 0, cdb, 6);
	assert_int_equal(d[5], 0);
	run_cdb(&tt, f->a, 3, cdb, 6);
	assert_int_equal(d[5], 0xE4);
	assert_int_equal(d[6] & 7, 2);

	cdb[2] = 0xC7;
	run_cdb(&tt, f->a, 0, cdb, 6);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
}

/* ---------------------------------------------------------- unknown LUN */

static void test_unknown_lun(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 96 };
	const uint8_t rs[6] = { 0x03, 0, 0, 0, 18 };
	const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	run_cdb(&tt, f->a, 5, inq, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[0], 0x7F);

	run_cdb(&tt, f->a, 5, CDB_TUR, 6);
	expect_sense(&tt.t, 0x05, 0x25, 0x00);

	run_cdb(&tt, f->a, 5, rs, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[2], 0x05);
	assert_int_equal(tt.buf[12], 0x25);

	run_cdb(&tt, f->a, 5, rl, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(scsi_get_be32(tt.buf), 16);
	assert_int_equal(tt.buf[8 + 1], 0);
	assert_int_equal(tt.buf[16 + 1], 3);
}

/* ------------------------------------------------------ unit attentions */

static void test_ua_power_on(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 36 };
	const uint8_t rs[6] = { 0x03, 0, 0, 0, 18 };

	/* INQUIRY does not report or clear the UA. */
	run_cdb(&tt, f->a, 0, inq, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x00);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* The other LUN still has its own. REQUEST SENSE reports it (GOOD
	 * status, UA in the data) and clears it. */
	run_cdb(&tt, f->a, 3, rs, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.t.data_len, 18);
	assert_int_equal(tt.buf[2], 0x06);
	assert_int_equal(tt.buf[12], 0x29);
	run_cdb(&tt, f->a, 3, rs, 6);
	assert_int_equal(tt.buf[2], 0x00);
	run_cdb(&tt, f->a, 3, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

static void test_ua_priority(void **state)
{
	struct fx *f = *state;
	struct scsi_itl *itl = atomic_load(&f->a->itls[0]);
	struct ttask tt;

	clear_ua(f->a, 0);
	scsi_itl_ua_raise(itl, SCSI_UA_REPORTED_LUNS_CHANGED);
	scsi_itl_ua_raise(itl, SCSI_UA_MODE_PARAMS_CHANGED);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x01);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x3F, 0x0E);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* A reset class UA supersedes the parameter-change ones. */
	scsi_itl_ua_raise(itl, SCSI_UA_MODE_PARAMS_CHANGED);
	scsi_itl_ua_raise(itl, SCSI_UA_LUN_RESET);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x03);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* MODE SELECT on nexus A: B gets 2A/01, A does not; D_SENSE applies. */
static void test_mode_select_ua(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t ms[6] = { 0x1A, 0x08, 0x0A, 0, 255 };
	uint8_t sel[6] = { 0x15, 0x10, 0, 0, 16 };
	uint8_t page[16];
	struct scsi_itl *itlb = atomic_load(&f->b->itls[0]);

	clear_ua(f->a, 0);
	atomic_store(&itlb->ua_pending, 0);

	run_cdb(&tt, f->a, 0, ms, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[0], 4 + 12 - 1);
	assert_int_equal(tt.buf[3], 0);  /* DBD: no block descriptor */
	assert_int_equal(tt.buf[4], 0x0A);
	assert_int_equal(tt.buf[6] & 0xE0, 0x20); /* TST 001b */
	assert_int_equal(tt.buf[6] & 0x04, 0);    /* D_SENSE 0 */
	assert_int_equal(tt.buf[9] & 0x40, 0x40); /* TAS 1 */

	/* Set D_SENSE. */
	memset(page, 0, sizeof(page));
	memcpy(page + 4, tt.buf + 4, 12);
	page[4 + 2] |= 0x04;
	tt_prep(&tt, f->a, 0, sel, 6, SCSI_ATTR_SIMPLE);
	memcpy(tt.buf, page, 16);
	tt.t.edtl = 16;
	scsi_task_submit(&tt.t);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_true(atomic_load(&f->lu0->d_sense));
	assert_int_equal(atomic_load(&itlb->ua_pending),
			 1u << SCSI_UA_MODE_PARAMS_CHANGED);
	assert_int_equal(atomic_load(&((struct scsi_itl *)atomic_load(
					&f->a->itls[0]))->ua_pending), 0);

	/* Changing a non-changeable field (QUEUE ALGORITHM MODIFIER). */
	page[4 + 3] ^= 0x10;
	tt_prep(&tt, f->a, 0, sel, 6, SCSI_ATTR_SIMPLE);
	memcpy(tt.buf, page, 16);
	tt.t.edtl = 16;
	scsi_task_submit(&tt.t);
	/* Descriptor format now: 72h, ILLEGAL REQUEST, 26/00, pointer 7. */
	assert_int_equal(tt.t.sense[0], 0x72);
	expect_sense(&tt.t, 0x05, 0x26, 0x00);
	assert_int_equal(tt.t.sense[12], 0x80 | 0x08 | 4);
	assert_int_equal(scsi_get_be16(tt.t.sense + 13), 7);

	/* SWP (changeable): writes fail, MODE SENSE reports WP. */
	page[4 + 3] ^= 0x10;
	page[4 + 4] |= 0x08;
	tt_prep(&tt, f->a, 0, sel, 6, SCSI_ATTR_SIMPLE);
	memcpy(tt.buf, page, 16);
	tt.t.edtl = 16;
	scsi_task_submit(&tt.t);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	{
		const uint8_t wr10[10] = { 0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

		run_cdb(&tt, f->a, 0, wr10, 10);
		expect_sense(&tt.t, 0x07, 0x27, 0x00);
		run_cdb(&tt, f->a, 0, ms, 6);
		assert_int_equal(tt.buf[2], 0x90); /* WP | DPOFUA */
		assert_int_equal(tt.buf[4 + 4] & 0x08, 0x08);
	}

	/* SP = 1 */
	sel[1] = 0x11;
	tt_prep(&tt, f->a, 0, sel, 6, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&tt.t);
	expect_sense(&tt.t, 0x05, 0x39, 0x00);
}

static void test_mode_sense_all(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t ms10[10] = { 0x5A, 0x10, 0x3F, 0, 0, 0, 0, 0x10, 0 };
	const uint8_t saved[6] = { 0x1A, 0, 0xC8, 0, 255 };
	const uint8_t chg[6] = { 0x1A, 0x08, 0x48, 0, 255 };

	clear_ua(f->a, 0);
	run_cdb(&tt, f->a, 0, ms10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	/* 8 header + 16 long block descriptor + 12 + 20 + 12 + 12 */
	assert_int_equal(scsi_get_be16(tt.buf), 8 + 16 + 56 - 2);
	assert_int_equal(tt.buf[3], 0x10);      /* DPOFUA, not WP */
	assert_int_equal(tt.buf[4], 0x01);      /* LONGLBA */
	assert_int_equal(scsi_get_be16(tt.buf + 6), 16);
	assert_int_equal(scsi_get_be64(tt.buf + 8), 2048);
	assert_int_equal(scsi_get_be32(tt.buf + 8 + 12), 512);
	assert_int_equal(tt.buf[24], 0x01);
	assert_int_equal(tt.buf[36], 0x08);
	assert_int_equal(tt.buf[38] & 0x04, 0x04); /* WCE from config */
	assert_int_equal(tt.buf[56], 0x0A);
	assert_int_equal(tt.buf[68], 0x1C);

	run_cdb(&tt, f->a, 0, saved, 6);
	expect_sense(&tt.t, 0x05, 0x39, 0x00);

	run_cdb(&tt, f->a, 0, chg, 6);
	assert_int_equal(tt.buf[4 + 2], 0x04);
}

static void test_report_luns(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 15 };

	run_cdb(&tt, f->a, 0, rl, 12);
	expect_sense(&tt.t, 0x05, 0x24, 0x00); /* allocation length < 16 */
	rl[9] = 16;
	run_cdb(&tt, f->a, 0, rl, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(scsi_get_be32(tt.buf), 16);
	assert_int_equal(tt.t.data_len, 16);
	assert_int_equal(tt.t.xfer_len, 16);
	rl[2] = 3;
	run_cdb(&tt, f->a, 0, rl, 12);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
}

static void test_rsoc(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	uint8_t c[12] = { 0xA3, 0x0C, 0x00, 0, 0, 0, 0, 0, 0x10, 0 };
	unsigned count;

	clear_ua(f->a, 0);
	scsi_opcode_rows(&count);
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(scsi_get_be32(tt.buf), count * 8);

	/* RCTD: 20-byte descriptors. */
	c[2] = 0x80;
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(scsi_get_be32(tt.buf), count * 20);

	/* One command, INQUIRY. */
	c[2] = 0x01;
	c[3] = 0x12;
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[1] & 7, 3);
	assert_int_equal(scsi_get_be16(tt.buf + 2), 6);
	assert_int_equal(tt.buf[4], 0x12);

	/* Opcode with service actions under option 1: error; option 2 ok. */
	c[3] = 0x9E;
	run_cdb(&tt, f->a, 0, c, 12);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
	c[2] = 0x02;
	c[5] = 0x10;
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[1] & 7, 3);
	assert_int_equal(tt.buf[4], 0x9E);
	assert_int_equal(tt.buf[5], 0x10);
	/* Unsupported opcode: SUPPORT 001b. */
	c[2] = 0x01;
	c[3] = 0xC0;
	c[5] = 0;
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[1] & 7, 1);
}

static void test_naca_and_invalid(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t naca[6] = { 0x00, 0, 0, 0, 0, 0x04 };
	const uint8_t bad[6] = { 0xFF };
	const uint8_t badsa[16] = { 0x9E, 0x1F };
	const uint8_t wr10[10] = { 0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	clear_ua(f->a, 0);
	run_cdb(&tt, f->a, 0, naca, 6);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
	assert_int_equal(tt.t.sense[15], 0xC0 | 0x08 | 2);
	assert_int_equal(scsi_get_be16(tt.t.sense + 16), 5);
	run_cdb(&tt, f->a, 0, bad, 6);
	expect_sense(&tt.t, 0x05, 0x20, 0x00);
	run_cdb(&tt, f->a, 0, badsa, 16);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
	assert_int_equal(scsi_get_be16(tt.t.sense + 16), 1);

	/* Read-only LUN: WRITE -> DATA PROTECT / WRITE PROTECTED. */
	f->lu0->cfg.readonly = true;
	run_cdb(&tt, f->a, 0, wr10, 10);
	expect_sense(&tt.t, 0x07, 0x27, 0x00);
	f->lu0->cfg.readonly = false;
	run_cdb(&tt, f->a, 0, wr10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* ------------------------------------------------------------ task sets */

static const uint8_t CDB_READ10[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

static void test_ordered_blocks(void **state)
{
	struct fx *f = *state;
	struct ttask a, b, c, d, e;

	clear_ua(f->a, 0);
	tt_prep(&a, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	tt_prep(&b, f->a, 0, CDB_READ10, 10, SCSI_ATTR_ORDERED);
	tt_prep(&c, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	tt_prep(&d, f->a, 0, CDB_READ10, 10, SCSI_ATTR_HEAD_OF_QUEUE);
	tt_prep(&e, f->a, 0, CDB_READ10, 10, SCSI_ATTR_ORDERED);

	scsi_task_submit(&a.t);
	assert_int_equal(stub_reads_started, 1);
	scsi_task_submit(&b.t);  /* waits for a */
	scsi_task_submit(&c.t);  /* waits for b */
	scsi_task_submit(&d.t);  /* head of queue: runs now */
	scsi_task_submit(&e.t);  /* waits for everything */
	assert_int_equal(stub_reads_started, 2);
	assert_true(stub_take(&a.t) && stub_take(&d.t));

	scsi_task_finish(&a.t);
	assert_int_equal(atomic_load(&a.done), 1);
	assert_int_equal(stub_reads_started, 3); /* b started: d is later */
	assert_true(stub_take(&b.t));
	scsi_task_finish(&d.t);
	assert_int_equal(stub_reads_started, 3);
	scsi_task_finish(&b.t);
	assert_int_equal(stub_reads_started, 4); /* c, not e */
	assert_true(stub_take(&c.t));
	scsi_task_finish(&c.t);
	assert_int_equal(stub_reads_started, 5);
	assert_true(stub_take(&e.t));
	scsi_task_finish(&e.t);
	assert_int_equal(atomic_load(&e.done), 1);
	assert_int_equal(e.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(stub_npending, 0);
}

static void test_aca_attr(void **state)
{
	struct fx *f = *state;
	struct ttask tt;

	clear_ua(f->a, 0);
	tt_prep(&tt, f->a, 0, CDB_TUR, 6, SCSI_ATTR_ACA);
	scsi_task_submit(&tt.t);
	expect_sense(&tt.t, 0x05, 0x24, 0x00);
}

/* --------------------------------------------------------------- TMFs */

struct ttmf {
	struct scsi_tmf tmf;
	atomic_int done;
	enum scsi_tmf_resp resp;
};

static void ttmf_done(struct scsi_tmf *tmf, enum scsi_tmf_resp resp)
{
	struct ttmf *x = container_of(tmf, struct ttmf, tmf);

	x->resp = resp;
	atomic_fetch_add(&x->done, 1);
}

struct submit_arg {
	struct ttask *tt;
};

static void submit_on_loop(void *arg)
{
	scsi_task_submit(arg);
}

static void finish_on_loop(void *arg)
{
	scsi_task_finish(arg);
}

static void test_lun_reset_other_nexus(void **state)
{
	struct fx *f = *state;
	struct ttask ta, tb, tb2, tu;
	struct ttmf x = { 0 };

	clear_ua(f->a, 0);
	/* B's power-on UA: cleared on B's loop. */
	tt_prep(&tu, f->b, 0, CDB_TUR, 6, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tu.t);
	expect_sense(&tu.t, 0x06, 0x29, 0x00);

	/* A has one running READ; B has one running and one waiting. */
	tt_prep(&ta, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&ta.t);
	tt_prep(&tb, f->b, 0, CDB_READ10, 10, SCSI_ATTR_ORDERED);
	tt_prep(&tb2, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tb.t);
	on_loop(f->loop2, submit_on_loop, &tb2.t);
	assert_int_equal(stub_reads_started, 2);

	x.tmf.nexus = f->a;
	x.tmf.fn = SCSI_TMF_LUN_RESET;
	x.tmf.lun = lun_wire(0);
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_int_equal(atomic_load(&x.done), 0); /* tasks still running */

	/* B's loop has run the piece: the waiting task is gone already. */
	for (int i = 0; i < 2000 && !atomic_load(&tb2.done); i++)
		usleep(1000);
	assert_int_equal(atomic_load(&tb2.done), 1);
	assert_true(tb2.t.aborted);
	assert_false(tb2.t.no_response);           /* TAS = 1 */
	assert_int_equal(tb2.t.status, SCSI_STATUS_TASK_ABORTED);

	/* The backstore finishes: A's on loop1, B's on loop2. */
	assert_true(stub_take(&ta.t));
	scsi_task_finish(&ta.t);
	assert_int_equal(atomic_load(&ta.done), 1);
	assert_true(ta.t.aborted);
	assert_true(ta.t.no_response);             /* requester */
	assert_int_equal(atomic_load(&x.done), 0);
	assert_true(stub_take(&tb.t));
	on_loop(f->loop2, finish_on_loop, &tb.t);
	assert_true(tb.t.aborted);
	assert_false(tb.t.no_response);
	assert_int_equal(tb.t.status, SCSI_STATUS_TASK_ABORTED);

	run_loop1_until(f, &x.done);
	assert_int_equal(atomic_load(&x.done), 1);
	assert_int_equal(x.resp, SCSI_TMF_RESP_COMPLETE);
	assert_int_equal(f->unsubmitted_calls, 2);
	/* SAM-5 5.6: the fabric's unsubmitted tasks end like the core's:
	 * quietly for the requester, TASK ABORTED for B (TAS = 1). */
	assert_int_equal(fx_quiet(f, 0, 0), 1);
	assert_int_equal(fx_quiet(f, 1, 0), 0);
	assert_int_equal(stub_reads_started, 2); /* tb2 never started */

	/* UA 29/03 on both nexuses. */
	tt_prep(&tu, f->b, 0, CDB_TUR, 6, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tu.t);
	expect_sense(&tu.t, 0x06, 0x29, 0x03);
	run_cdb(&tu, f->a, 0, CDB_TUR, 6);
	expect_sense(&tu.t, 0x06, 0x29, 0x03);
	/* LUN 3 untouched. */
	assert_int_equal(atomic_load(&((struct scsi_itl *)atomic_load(
					&f->a->itls[3]))->ua_pending),
			 1u << SCSI_UA_POWER_ON);
}

static void test_abort_task_and_query(void **state)
{
	struct fx *f = *state;
	struct ttask t1, t2;
	struct ttmf x = { 0 };

	clear_ua(f->a, 0);
	tt_prep(&t1, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	t1.t.tag = 11;
	tt_prep(&t2, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	t2.t.tag = 12;
	scsi_task_submit(&t1.t);
	scsi_task_submit(&t2.t);

	x.tmf.nexus = f->a;
	x.tmf.fn = SCSI_TMF_QUERY_TASK;
	x.tmf.lun = lun_wire(0);
	x.tmf.ref_tag = 12;
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_int_equal(x.resp, SCSI_TMF_RESP_SUCCEEDED);

	x.tmf.fn = SCSI_TMF_ABORT_TASK;
	x.tmf.ref_tag = 99;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_int_equal(x.resp, SCSI_TMF_RESP_TASK_NOT_FOUND);

	x.tmf.ref_tag = 12;
	atomic_store(&x.done, 0);
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_int_equal(atomic_load(&x.done), 0);
	assert_true(stub_take(&t2.t));
	scsi_task_finish(&t2.t);
	assert_int_equal(atomic_load(&x.done), 1);
	assert_int_equal(x.resp, SCSI_TMF_RESP_COMPLETE);
	assert_true(t2.t.aborted && t2.t.no_response);
	assert_int_equal(f->unsubmitted_calls, 0); /* not for ABORT TASK */

	/* t1 is unaffected. */
	assert_true(stub_take(&t1.t));
	scsi_task_finish(&t1.t);
	assert_false(t1.t.aborted);
	assert_int_equal(t1.t.status, SCSI_STATUS_GOOD);

	/* No UA from ABORT TASK. */
	run_cdb(&t1, f->a, 0, CDB_TUR, 6);
	assert_int_equal(t1.t.status, SCSI_STATUS_GOOD);
}

/* TARGET WARM RESET from A with TAS = 0: B's running task ends without a
 * response, every LUN of both nexuses gets 29/00. */
static void test_target_reset_tas0(void **state)
{
	struct fx *f = *state;
	struct ttask ta, tb, tu;
	struct ttmf x = { 0 };

	for (unsigned lun = 0; lun < 4; lun += 3) {
		atomic_store(&((struct scsi_itl *)atomic_load(
				&f->a->itls[lun]))->ua_pending, 0);
		atomic_store(&((struct scsi_itl *)atomic_load(
				&f->b->itls[lun]))->ua_pending, 0);
	}
	atomic_store(&f->lu0->tas, false);

	tt_prep(&ta, f->a, 3, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&ta.t);
	tt_prep(&tb, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tb.t);
	assert_int_equal(stub_reads_started, 2);

	x.tmf.nexus = f->a;
	x.tmf.fn = SCSI_TMF_TARGET_WARM_RESET;
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_true(stub_take(&ta.t));
	scsi_task_finish(&ta.t);
	assert_true(ta.t.aborted && ta.t.no_response);
	assert_true(stub_take(&tb.t));
	on_loop(f->loop2, finish_on_loop, &tb.t);
	assert_true(tb.t.aborted);
	assert_true(tb.t.no_response); /* TAS = 0 on LUN 0 */
	run_loop1_until(f, &x.done);
	assert_int_equal(atomic_load(&x.done), 1);
	assert_int_equal(x.resp, SCSI_TMF_RESP_COMPLETE);
	/* per nexus: LUN 0, LUN 3, then the rest (no LU) quietly */
	assert_int_equal(f->unsubmitted_calls, 6);
	assert_int_equal(f->catch_all[0], 1);
	assert_int_equal(f->catch_all[1], 1);
	/* TAS is per LU: B's LUN 0 (TAS = 0) quiet, LUN 3 (TAS = 1) not */
	assert_int_equal(fx_quiet(f, 1, 0), 1);
	assert_int_equal(fx_quiet(f, 1, 3), 0);
	assert_int_equal(fx_quiet(f, 0, 0), 1);
	assert_int_equal(fx_quiet(f, 0, 3), 1);

	run_cdb(&tu, f->a, 0, CDB_TUR, 6);
	expect_sense(&tu.t, 0x06, 0x29, 0x00);
	run_cdb(&tu, f->a, 3, CDB_TUR, 6);
	expect_sense(&tu.t, 0x06, 0x29, 0x00);
	tt_prep(&tu, f->b, 3, CDB_TUR, 6, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tu.t);
	expect_sense(&tu.t, 0x06, 0x29, 0x00);
}

/* CLEAR TASK SET (TST = 001b) touches only the requesting nexus; waiting
 * tasks end at once, running ones when their I/O completes. */
static void test_clear_task_set_own_nexus(void **state)
{
	struct fx *f = *state;
	struct ttask a1, a2, b1, tu;
	struct ttmf x = { 0 };

	clear_ua(f->a, 0);
	atomic_store(&((struct scsi_itl *)atomic_load(&f->b->itls[0]))
			      ->ua_pending, 0);
	tt_prep(&a1, f->a, 0, CDB_READ10, 10, SCSI_ATTR_ORDERED);
	tt_prep(&a2, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	tt_prep(&b1, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&a1.t);
	scsi_task_submit(&a2.t);
	on_loop(f->loop2, submit_on_loop, &b1.t);
	assert_int_equal(stub_reads_started, 2);

	x.tmf.nexus = f->a;
	x.tmf.fn = SCSI_TMF_CLEAR_TASK_SET;
	x.tmf.lun = lun_wire(0);
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	assert_int_equal(atomic_load(&a2.done), 1); /* waiting: at once */
	assert_true(a2.t.aborted && a2.t.no_response);
	assert_int_equal(atomic_load(&x.done), 0);
	assert_true(stub_take(&a1.t));
	scsi_task_finish(&a1.t);
	assert_int_equal(atomic_load(&x.done), 1);
	assert_int_equal(stub_reads_started, 2);   /* a2 never started */

	/* B's task is untouched and completes normally. */
	assert_true(stub_take(&b1.t));
	on_loop(f->loop2, finish_on_loop, &b1.t);
	assert_false(b1.t.aborted);
	assert_int_equal(b1.t.status, SCSI_STATUS_GOOD);

	/* No UA for A from its own CLEAR TASK SET. */
	run_cdb(&tu, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tu.t.status, SCSI_STATUS_GOOD);
}

/* A LUN added while nexuses exist: new I_T_L nexuses with 29/00, and
 * 3F/0E on the others, cleared by REPORT LUNS. */
static void test_lun_added(void **state)
{
	struct fx *f = *state;
	struct scsi_lun_config c = { 0 };
	struct scsi_lun *lu;
	struct ttask tt;
	const uint8_t rl[12] = { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t naa[16];

	clear_ua(f->a, 0);
	c.lun_id = 9;
	c.bs = f->bs3;
	c.block_size = 512;
	c.nblocks = 16;
	for (int i = 0; i < 16; i++)
		c.naa[i] = (uint8_t)(0x90 + i);
	memcpy(naa, c.naa, 16);
	assert_int_equal(scsi_lun_create(f->tgt, &c, &lu), 0);
	assert_ptr_equal(scsi_lun_find_by_naa(naa, 16), lu);
	naa[15] ^= 1;
	assert_null(scsi_lun_find_by_naa(naa, 16));

	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x3F, 0x0E);
	scsi_itl_ua_raise(atomic_load(&f->a->itls[0]),
			  SCSI_UA_REPORTED_LUNS_CHANGED);
	run_cdb(&tt, f->a, 0, rl, 12);
	assert_int_equal(scsi_get_be32(tt.buf), 24);
	assert_int_equal(tt.buf[8 + 16 + 1], 9);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	run_cdb(&tt, f->a, 9, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x00);

	scsi_lun_destroy(lu);
	run_cdb(&tt, f->a, 9, CDB_TUR, 6);
	expect_sense(&tt.t, 0x05, 0x25, 0x00);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x3F, 0x0E);
}

/* The PR engine's PREEMPT AND ABORT path: A aborts B's tasks of LUN 0;
 * with TAS = 0 B gets no response and UA 2F/00; A's own task stays. */
static bool match_b(const struct scsi_nexus *n, void *arg)
{
	return n == arg;
}

static void test_abort_nexuses_tas0(void **state)
{
	struct fx *f = *state;
	struct ttask ta, tb, tu;
	struct ttmf x = { 0 };

	clear_ua(f->a, 0);
	atomic_store(&((struct scsi_itl *)atomic_load(&f->b->itls[0]))
			      ->ua_pending, 0);
	atomic_store(&f->lu0->tas, false);
	tt_prep(&ta, f->a, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	scsi_task_submit(&ta.t);
	tt_prep(&tb, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tb.t);
	assert_int_equal(stub_reads_started, 2);

	x.tmf.nexus = f->a;
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_lun_abort_nexuses(&x.tmf, f->lu0, f->a->loop,
						true, match_b, f->b), 0);
	assert_true(stub_take(&tb.t));
	on_loop(f->loop2, finish_on_loop, &tb.t);
	assert_true(tb.t.aborted && tb.t.no_response);
	run_loop1_until(f, &x.done);
	assert_int_equal(atomic_load(&x.done), 1);

	assert_true(stub_take(&ta.t));
	scsi_task_finish(&ta.t);
	assert_false(ta.t.aborted);

	tt_prep(&tu, f->b, 0, CDB_TUR, 6, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tu.t);
	expect_sense(&tu.t, 0x06, 0x2F, 0x00);
	run_cdb(&tu, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tu.t.status, SCSI_STATUS_GOOD);
}

/* PREEMPT AND ABORT with B's tasks still in its fabric (an iSCSI write
 * waiting for Data-Out), none in the core:
 *
 *   A (requester, loop1) --+                  +-- B: 2 writes of LUN 0
 *                          +-- tport -- LU 0 -+   not submitted yet
 *
 * SAM-5 5.6: TAS = 0: the fabric ends them quietly and B gets 2F/00
 * COMMANDS CLEARED BY ANOTHER INITIATOR, as if the core had held them;
 * TAS = 1: the fabric answers TASK ABORTED and no 2F/00 is raised. */
static void test_abort_nexuses_unsubmitted(void **state)
{
	struct fx *f = *state;
	struct ttask tu;

	for (int tas = 0; tas <= 1; tas++) {
		struct ttmf x = { 0 };

		atomic_store(&((struct scsi_itl *)atomic_load(&f->a->itls[0]))
				      ->ua_pending, 0);
		atomic_store(&((struct scsi_itl *)atomic_load(&f->b->itls[0]))
				      ->ua_pending, 0);
		atomic_store(&f->lu0->tas, tas != 0);
		pthread_mutex_lock(&f->ulock);
		f->held[1][0] = 2;
		f->held[0][0] = 1; /* A's own: not asked for (not matched) */
		pthread_mutex_unlock(&f->ulock);

		x.tmf.nexus = f->a;
		x.tmf.done = ttmf_done;
		assert_int_equal(scsi_lun_abort_nexuses(&x.tmf, f->lu0,
							f->a->loop, true,
							match_b, f->b), 0);
		run_loop1_until(f, &x.done);
		assert_int_equal(atomic_load(&x.done), 1);
		assert_int_equal(fx_quiet(f, 1, 0), !tas);
		pthread_mutex_lock(&f->ulock);
		assert_int_equal(f->held[1][0], 0);
		assert_int_equal(f->held[0][0], 1);
		f->held[0][0] = 0;
		pthread_mutex_unlock(&f->ulock);

		tt_prep(&tu, f->b, 0, CDB_TUR, 6, SCSI_ATTR_SIMPLE);
		on_loop(f->loop2, submit_on_loop, &tu.t);
		if (tas) {
			assert_int_equal(tu.t.status, SCSI_STATUS_GOOD);
		} else {
			expect_sense(&tu.t, 0x06, 0x2F, 0x00);
		}
		run_cdb(&tu, f->a, 0, CDB_TUR, 6);
		assert_int_equal(tu.t.status, SCSI_STATUS_GOOD);
	}
	atomic_store(&f->lu0->tas, true);
}

/* Random CDBs and parameter data through every emulated command: nothing
 * may crash (ASan/UBSan builds), every task ends in exactly one done(),
 * and CHECK CONDITION always carries sense data. */
static void test_random_cdbs(void **state)
{
	struct fx *f = *state;
	unsigned count, seed = 12345;
	const struct scsi_opcode *rows = scsi_opcode_rows(&count);
	static struct ttask tt;

	for (unsigned iter = 0; iter < 20000; iter++) {
		const struct scsi_opcode *r = &rows[iter % count];
		uint8_t cdb[16];

		if (r->exec == sbc_read)
			continue; /* the stub keeps READs pending */
		for (unsigned i = 0; i < sizeof(cdb); i++) {
			seed = seed * 1103515245u + 12345u;
			cdb[i] = (uint8_t)(seed >> 16);
		}
		cdb[0] = r->opcode;
		cdb[r->cdb_len - 1] &= (uint8_t)~0x04; /* NACA: get past it */
		if (r->flags & SCSI_OPF_SA)
			cdb[1] = (uint8_t)((cdb[1] & 0xE0) | r->sa);
		tt_prep(&tt, f->a, (iter & 4) ? 0 : 3, cdb, 16,
			SCSI_ATTR_SIMPLE);
		for (unsigned i = 0; i < sizeof(tt.buf); i++) {
			seed = seed * 1103515245u + 12345u;
			tt.buf[i] = (uint8_t)(seed >> 16);
		}
		tt.t.edtl = (seed >> 8) % (sizeof(tt.buf) + 1);
		scsi_task_submit(&tt.t);
		assert_int_equal(atomic_load(&tt.done), 1);
		assert_true(tt.t.data_len <= tt.t.edtl);
		if (tt.t.status == SCSI_STATUS_CHECK_CONDITION)
			assert_true(tt.t.sense_len >= 8);
	}
	/* Whatever MODE SELECT did, the LUN still answers. */
	atomic_store(&f->lu0->swp, false);
}

/* ALUA: the node's group goes UNAVAILABLE (quorum lost) and back. */
static void test_alua_states(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	const uint8_t rtpg[12] = { 0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0 };
	const uint8_t inq[6] = { 0x12, 0, 0, 0, 36 };
	const uint8_t ms[6] = { 0x1A, 0x08, 0x3F, 0, 255 };

	clear_ua(f->a, 0);
	assert_int_equal(alua_group_set_state(f->tgt, 7, ALUA_STATE_UNAVAILABLE), 1);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x02, 0x04, 0x0C);
	run_cdb(&tt, f->a, 0, inq, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	run_cdb(&tt, f->a, 0, rtpg, 12); /* RTPG reports the 2A/06 UA */
	expect_sense(&tt.t, 0x06, 0x2A, 0x06);
	run_cdb(&tt, f->a, 0, rtpg, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.buf[4] & 0x0F, ALUA_STATE_UNAVAILABLE);
	assert_int_equal(tt.buf[5], 0x8F);

	alua_group_set_state(f->tgt, 7, ALUA_STATE_STANDBY);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x02, 0x04, 0x0B);
	run_cdb(&tt, f->a, 0, ms, 6); /* MODE SENSE runs in standby */
	expect_sense(&tt.t, 0x06, 0x2A, 0x06);

	assert_int_equal(alua_group_set_state(f->tgt, 7,
					      ALUA_STATE_ACTIVE_OPTIMIZED), 1);
	assert_int_equal(alua_group_set_state(f->tgt, 7,
					      ALUA_STATE_ACTIVE_OPTIMIZED), 0);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x06);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/*
 * RTPG from published descriptors (the daemon's cluster port directory):
 * the core adds the header for format 0 and 1, cuts at the allocation
 * length, and answers from the local ports again once unpublished.
 *
 *   group 1: AO, RTPI 1        group 3: UNAVAILABLE, RTPIs 3, 4
 */
static void test_alua_published(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	uint8_t rtpg[12] = { 0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t desc[] = {
		0x00, 0x8F, 0, 1, 0, 0, 0, 1,   0, 0, 0, 1,
		0x03, 0x8F, 0, 3, 0, 0, 0, 2,   0, 0, 0, 3,   0, 0, 0, 4,
	};
	static uint8_t big[SCSI_RTPG_DESC_MAX + 1];

	clear_ua(f->a, 0);
	assert_int_equal(scsi_target_rtpg_publish(f->tgt, big, sizeof(big)),
			 -E2BIG);
	assert_int_equal(scsi_target_rtpg_publish(f->tgt, desc, sizeof(desc)),
			 0);
	run_cdb(&tt, f->a, 0, rtpg, 12);  /* a change: 2A/06 first (5.15.2.6) */
	expect_sense(&tt.t, 0x06, 0x2A, 0x06);
	/* The same bytes again: no change, no UA. */
	assert_int_equal(scsi_target_rtpg_publish(f->tgt, desc, sizeof(desc)),
			 0);
	run_cdb(&tt, f->a, 0, rtpg, 12);                /* format 0 */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.t.data_len, 4 + sizeof(desc));
	assert_int_equal(scsi_get_be32(tt.buf), sizeof(desc));
	assert_memory_equal(tt.buf + 4, desc, sizeof(desc));

	rtpg[1] = 0x0A | 0x20;                          /* format 1 */
	run_cdb(&tt, f->a, 0, rtpg, 12);
	assert_int_equal(tt.t.data_len, 8 + sizeof(desc));
	assert_int_equal(scsi_get_be32(tt.buf), 4 + sizeof(desc));
	assert_int_equal(tt.buf[4], 0x10);
	assert_memory_equal(tt.buf + 8, desc, sizeof(desc));

	rtpg[8] = 0;
	rtpg[9] = 10;                                   /* allocation length */
	run_cdb(&tt, f->a, 0, rtpg, 12);
	assert_int_equal(tt.t.data_len, 10);

	/* Unpublished: the local port (group 7) again. */
	assert_int_equal(scsi_target_rtpg_publish(f->tgt, NULL, 0), 0);
	rtpg[1] = 0x0A;
	rtpg[8] = 1;
	rtpg[9] = 0;
	run_cdb(&tt, f->a, 0, rtpg, 12);
	expect_sense(&tt.t, 0x06, 0x2A, 0x06);
	run_cdb(&tt, f->a, 0, rtpg, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(scsi_get_be16(tt.buf + 6), 7);

	/* The group's state for commands: UNAVAILABLE and back. */
	assert_int_equal(scsi_target_group_available(f->tgt, 7, false), 1);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);   /* the ALUA gate comes first */
	expect_sense(&tt.t, 0x02, 0x04, 0x0C);
	assert_int_equal(scsi_target_group_available(f->tgt, 7, true), 1);
	assert_int_equal(scsi_target_group_available(f->tgt, 7, true), 0);
	clear_ua(f->a, 0);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* I_T nexus loss: the same initiator port logging in again through the
 * same target port sees 29/07; another port still 29/00. */
static void test_nexus_loss_ua(void **state)
{
	struct fx *f = *state;
	static const uint8_t isid1[6] = { 0x80, 0, 0, 0, 0, 1 };
	static const uint8_t isid9[6] = { 0x80, 0, 0, 0, 0, 9 };
	struct scsi_nexus *n;
	struct ttask tt;

	scsi_nexus_destroy(f->a);
	assert_int_equal(scsi_nexus_create(f->tp, "iqn.i1", isid1, f->loop1,
					   &fx_ops, f, &f->a), 0);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x07);
	run_cdb(&tt, f->a, 3, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x07);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	assert_int_equal(scsi_nexus_create(f->tp, "iqn.i1", isid9, f->loop1,
					   &fx_ops, f, &n), 0);
	run_cdb(&tt, n, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x00);
	scsi_nexus_destroy(n);
}

static void test_lun_resize_ua(void **state)
{
	struct fx *f = *state;
	struct ttask tt;

	clear_ua(f->a, 0);
	assert_int_equal(scsi_lun_resize(f->lu0, 1024), 0);
	assert_int_equal(f->lu0->cfg.nblocks, 1024);
	assert_int_equal(scsi_lun_resize(f->lu0, 4096), -EINVAL); /* > 1 MiB */
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x09);
	run_cdb(&tt, f->a, 0, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

static void test_report_tpgs(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	uint8_t c[12] = { 0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0 };

	clear_ua(f->a, 0);
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(scsi_get_be32(tt.buf), 12);
	assert_int_equal(tt.buf[4] & 0x0F, 0);          /* active/optimized */
	assert_int_equal(scsi_get_be16(tt.buf + 6), 7); /* group */
	assert_int_equal(tt.buf[11], 1);                /* one port */
	assert_int_equal(scsi_get_be16(tt.buf + 14), 1);

	c[1] = 0x2A; /* extended header */
	run_cdb(&tt, f->a, 0, c, 12);
	assert_int_equal(scsi_get_be32(tt.buf), 16);
	assert_int_equal(tt.buf[4], 0x10);
	assert_int_equal(scsi_get_be16(tt.buf + 8 + 2), 7);
}

/* ------------------------------------------------------- reservations */

/*
 * Persistent and SCSI-2 reservations through scsi_task_submit, on the
 * fixture's topology (nexus A = iqn.i1 on loop1, nexus B = iqn.i2 on
 * loop2, one port RTPI 1, LUN 0):
 *
 *    A --REGISTER 0xA, RESERVE WR_EX--> LUN 0 <--WRITE (conflict), READ-- B
 */
static const uint8_t CDB_WRITE10[10] = { 0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

/* Submits cdb on nexus n (A inline, B on loop2) and waits for done. */
static void pr_run(struct fx *f, struct ttask *tt, struct scsi_nexus *n,
		   const uint8_t *cdb, unsigned len)
{
	if (n == f->a) {
		run_cdb(tt, n, 0, cdb, len);
		return;
	}
	tt_prep(tt, n, 0, cdb, len, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tt->t);
	assert_int_equal(atomic_load(&tt->done), 1);
}

/* PERSISTENT RESERVE OUT sa/type with the basic 24-byte parameter list. */
static void pr_out(struct fx *f, struct ttask *tt, struct scsi_nexus *n,
		   uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key)
{
	uint8_t cdb[10] = { 0x5F, sa, type, 0, 0, 0, 0, 0, 24, 0 };

	tt_prep(tt, n, 0, cdb, 10, SCSI_ATTR_SIMPLE);
	tt->t.edtl = 24;
	tt->t.dir = SCSI_DIR_OUT;
	scsi_put_be64(tt->buf, key);
	scsi_put_be64(tt->buf + 8, sa_key);
	if (n == f->a) {
		scsi_task_submit(&tt->t);
		run_loop1_until(f, &tt->done);
	} else {
		on_loop(f->loop2, submit_on_loop, &tt->t);
		for (int i = 0; i < 2000 && !atomic_load(&tt->done); i++)
			usleep(1000);
	}
	assert_int_equal(atomic_load(&tt->done), 1);
}

static void pr_clear_uas(struct fx *f)
{
	struct ttask tt;

	clear_ua(f->a, 0);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x00);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

static void test_pr_write_exclusive(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	static const uint8_t rk[10] = { 0x5E, 0x00, 0, 0, 0, 0, 0, 0x10, 0x00, 0 };

	pr_clear_uas(f);
	pr_out(f, &tt, f->a, 0x00, 0, 0, 0xA);           /* REGISTER 0xA */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_out(f, &tt, f->a, 0x01, 0x01, 0xA, 0);        /* RESERVE WR_EX */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* B: WRITE conflicts, READ passes the gates (the stub pends it). */
	pr_run(f, &tt, f->b, CDB_WRITE10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(tt.t.sense_len, 0);
	tt_prep(&tt, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &tt.t);
	assert_int_equal(stub_reads_started, 1);
	assert_true(stub_take(&tt.t));
	on_loop(f->loop2, finish_on_loop, &tt.t);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	/* A, the holder, writes. */
	pr_run(f, &tt, f->a, CDB_WRITE10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* READ KEYS from B: generation 1 (one REGISTER), one key. */
	pr_run(f, &tt, f->b, rk, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	assert_int_equal(tt.t.data_len, 16);
	assert_int_equal(scsi_get_be32(tt.buf), 1);
	assert_int_equal(scsi_get_be32(tt.buf + 4), 8);
	assert_int_equal(scsi_get_be64(tt.buf + 8), 0xA);

	/* B is not registered: its RESERVE conflicts. */
	pr_out(f, &tt, f->b, 0x01, 0x01, 0xB, 0);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	/* A releases with the wrong type: 05/26/04. */
	pr_out(f, &tt, f->a, 0x02, 0x03, 0xA, 0);
	expect_sense(&tt.t, 0x05, 0x26, 0x04);
	pr_out(f, &tt, f->a, 0x02, 0x01, 0xA, 0);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_WRITE10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* A preempts B's registration: B sees 2A/05 (REGISTRATIONS PREEMPTED),
 * A (the issuer) sees no UA. */
static void test_pr_preempt_ua(void **state)
{
	struct fx *f = *state;
	struct ttask tt;

	pr_clear_uas(f);
	pr_out(f, &tt, f->b, 0x00, 0, 0, 0xB);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_out(f, &tt, f->a, 0x00, 0, 0, 0xA);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_out(f, &tt, f->a, 0x04, 0x03, 0xA, 0xB);     /* PREEMPT, EX_AC */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x05);
	/* B's key is gone: its REGISTER with key 0xB conflicts. */
	pr_out(f, &tt, f->b, 0x00, 0, 0xB, 0xC);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
}

/* PREEMPT AND ABORT (SPC-4 5.14.11.2.4): B's running READ is aborted and
 * A's PR OUT completes only after it has; B then sees 2A/05. */
static void test_pr_preempt_and_abort(void **state)
{
	struct fx *f = *state;
	struct ttask tt, rd, po;
	uint8_t cdb[10] = { 0x5F, 0x05, 0x01, 0, 0, 0, 0, 0, 24, 0 };

	pr_clear_uas(f);
	pr_out(f, &tt, f->b, 0x00, 0, 0, 0xB);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_out(f, &tt, f->a, 0x00, 0, 0, 0xA);
	pr_out(f, &tt, f->a, 0x01, 0x01, 0xA, 0);       /* RESERVE WR_EX */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	tt_prep(&rd, f->b, 0, CDB_READ10, 10, SCSI_ATTR_SIMPLE);
	on_loop(f->loop2, submit_on_loop, &rd.t);
	assert_int_equal(stub_reads_started, 1);

	tt_prep(&po, f->a, 0, cdb, 10, SCSI_ATTR_SIMPLE);
	po.t.edtl = 24;
	po.t.dir = SCSI_DIR_OUT;
	scsi_put_be64(po.buf, 0xA);
	scsi_put_be64(po.buf + 8, 0xB);
	scsi_task_submit(&po.t);
	for (int i = 0; i < 50; i++) {
		base_loop_post(f->loop1, stop_loop, f->loop1);
		base_loop_run(f->loop1);
		usleep(1000);
	}
	assert_int_equal(atomic_load(&po.done), 0); /* B's READ still runs */
	assert_true(stub_take(&rd.t));
	on_loop(f->loop2, finish_on_loop, &rd.t);
	assert_true(rd.t.aborted);
	assert_int_equal(rd.t.status, SCSI_STATUS_TASK_ABORTED); /* TAS = 1 */
	run_loop1_until(f, &po.done);
	assert_int_equal(atomic_load(&po.done), 1);
	assert_int_equal(po.t.status, SCSI_STATUS_GOOD);
	assert_false(po.t.aborted);

	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x05);
	pr_run(f, &tt, f->b, CDB_WRITE10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
}

/* SPC-2 5.5.1: RESERVE(6) from A; B's TEST UNIT READY conflicts, its
 * INQUIRY and RELEASE(6) (no effect) do not; A's RELEASE ends it, and so
 * does a LUN RESET. */
static void test_reserve6(void **state)
{
	struct fx *f = *state;
	struct ttask tt;
	struct ttmf x = { 0 };
	static const uint8_t rsv[6] = { 0x16 }, rel[6] = { 0x17 };
	static const uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };

	pr_clear_uas(f);
	pr_run(f, &tt, f->a, rsv, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	pr_run(f, &tt, f->b, rsv, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	pr_run(f, &tt, f->b, inq, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, rel, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);
	pr_run(f, &tt, f->a, rel, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* LUN RESET ends the reservation. */
	pr_run(f, &tt, f->a, rsv, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	x.tmf.nexus = f->a;
	x.tmf.fn = SCSI_TMF_LUN_RESET;
	x.tmf.lun = lun_wire(0);
	x.tmf.done = ttmf_done;
	assert_int_equal(scsi_tmf_submit(&x.tmf), 0);
	run_loop1_until(f, &x.done);
	assert_int_equal(atomic_load(&x.done), 1);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x03);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

/* ------------------------------------------- a node that was away */

/* Applies m to st (no port lookups, effects dropped). */
static void missed_apply(struct lu_repl *st, const struct lu_repl_msg *m)
{
	struct lu_repl_effects fx;

	memset(&fx, 0, sizeof(fx));
	lu_repl_apply(st, m, NULL, NULL, &fx);
	assert_int_equal(fx.pr.status, PR_STATUS_GOOD);
}

/* The cluster's copy of LUN 0's state, for its history meanwhile. */
static void missed_begin(struct fx *f, struct lu_repl *cl)
{
	void *img;
	size_t len;

	assert_int_equal(lu_repl_init(cl, &f->lu0->repl.pr.cfg), 0);
	assert_int_equal(scsi_lun_repl_save(f->lu0, &img, &len), 0);
	assert_int_equal(lu_repl_load(cl, img, len), 0);
	free(img);
}

/* The state transfer of cl into LUN 0 (reset, then load); cl is gone.
 * Returns the snapshot (malloc'ed) in *img, *len. */
static void missed_transfer(struct fx *f, struct lu_repl *cl, void **img,
			    size_t *len)
{
	assert_int_equal(lu_repl_save(cl, img, len), 0);
	lu_repl_fini(cl);
	scsi_lun_repl_reset(f->lu0);
	assert_int_equal(scsi_lun_repl_load(f->lu0, *img, *len), 0);
}

/*
 * The node was away while the cluster changed LUN 0's state: C (a nexus
 * of another node) registered, PREEMPTed B's key taking B's Exclusive
 * Access reservation as Write Exclusive, and reset the LU. The state
 * transfer (reset, then load) tells this node's nexuses what one command
 * each would have (repl.c, "missed"): B 29/03 then 2A/05, A (registered,
 * its reservation changed) 29/03 then 2A/04. A load without a reset
 * before it tells nothing.
 */
static void test_repl_missed(void **state)
{
	struct fx *f = *state;
	struct lu_repl cl;
	struct lu_repl_msg m;
	struct ttask tt;
	void *img;
	size_t len;

	pr_clear_uas(f);
	pr_out(f, &tt, f->a, 0x00, 0, 0, 0xA);        /* REGISTER 0xA */
	pr_out(f, &tt, f->b, 0x00, 0, 0, 0xB);        /* REGISTER 0xB */
	pr_out(f, &tt, f->b, 0x01, PR_TYPE_EX_AC, 0xB, 0); /* RESERVE EX_AC */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);

	/* The cluster's history meanwhile, on a copy of the state. */
	missed_begin(f, &cl);
	memset(&m, 0, sizeof(m));
	m.type = LU_REPL_MSG_PR_OUT;
	t_nexus(&m.nexus, "iqn.other-node", 3, 2);
	m.req.sa = PR_OUT_REGISTER;
	m.req.sa_key = 0xC;
	missed_apply(&cl, &m);
	m.req.sa = PR_OUT_PREEMPT;
	m.req.type = PR_TYPE_WR_EX;
	m.req.key = 0xC;
	m.req.sa_key = 0xB;
	missed_apply(&cl, &m);
	m.type = LU_REPL_MSG_LUN_RESET;
	missed_apply(&cl, &m);
	missed_transfer(f, &cl, &img, &len);

	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x03);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x05);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x29, 0x03);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x04);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	/* B's key is gone, so its WRITE conflicts (WR_EX, C holds it). */
	pr_run(f, &tt, f->b, CDB_WRITE10, 10);
	assert_int_equal(tt.t.status, SCSI_STATUS_RESERVATION_CONFLICT);

	/* The same state loaded again, no reset before: nothing to tell. */
	assert_int_equal(scsi_lun_repl_load(f->lu0, img, len), 0);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	pr_run(f, &tt, f->b, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	free(img);

	/* An all-registrants reservation is nobody's alone: A, registered
	 * under C's Write Exclusive - All Registrants, hears of C's RELEASE
	 * as 2A/04 (as SPC-4 tells the other registrants), not 2A/03. */
	pr_out(f, &tt, f->a, 0x04, PR_TYPE_WR_EX_AR, 0xA, 0xC); /* PREEMPT */
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
	missed_begin(f, &cl);
	m.type = LU_REPL_MSG_PR_OUT;
	t_nexus(&m.nexus, "iqn.other-node", 3, 2);
	m.req.sa = PR_OUT_REGISTER;
	m.req.key = 0;
	m.req.sa_key = 0xD;
	missed_apply(&cl, &m);
	m.req.sa = PR_OUT_RELEASE;
	m.req.type = PR_TYPE_WR_EX_AR;
	m.req.key = 0xD;
	m.req.sa_key = 0;
	missed_apply(&cl, &m);
	missed_transfer(f, &cl, &img, &len);
	free(img);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	expect_sense(&tt.t, 0x06, 0x2A, 0x04);
	pr_run(f, &tt, f->a, CDB_TUR, 6);
	assert_int_equal(tt.t.status, SCSI_STATUS_GOOD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sense_fixed_field_pointer),
		cmocka_unit_test(test_sense_fixed_info),
		cmocka_unit_test(test_sense_descriptor),
		cmocka_unit_test(test_sense_status_only),
		cmocka_unit_test(test_opcode_table),
		cmocka_unit_test_setup_teardown(test_inquiry_standard, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_vpd, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_lun, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ua_power_on, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ua_priority, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mode_select_ua, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mode_sense_all, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_luns, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rsoc, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_naca_and_invalid, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ordered_blocks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_aca_attr, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lun_reset_other_nexus, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_abort_task_and_query, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_target_reset_tas0, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_clear_task_set_own_nexus, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lun_added, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_abort_nexuses_tas0, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_abort_nexuses_unsubmitted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_random_cdbs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alua_states, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alua_published, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nexus_loss_ua, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lun_resize_ua, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_tpgs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pr_write_exclusive, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pr_preempt_ua, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pr_preempt_and_abort, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reserve6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_repl_missed, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
