/*
 * Unit tests of the APTPL file writer (src/scsi/pr_store.c), on a real
 * file system in a fresh temporary directory:
 *
 *   test thread --submit(image, waiter)--> writer thread --> <dir>/f.tmp
 *        ^                                     |   fsync, rename -> <dir>/f
 *        +------ waiter->done (loop or writer) +   fsync <dir>
 *
 * A fault hook stops or fails the writer at one step (open, write, fsync,
 * rename, dirsync), so the tests see what a reader finds mid-write, that
 * a later image supersedes queued ones, and the error path.
 *
 * Then the core on top (spc_pr.c), through scsi_task_submit:
 *
 *    initiator iqn.2026-11.test:a (ISID 1) -- tport TPGT 1, RTPI 1 -- LUN 0
 *                                                (ram, aptpl_file in tmp)
 *
 * PTPL_C, the file after REGISTER/RESERVE with APTPL = 1, a status held
 * back until the write is durable, 03/0C/00 when it fails, APTPL 1 -> 0,
 * restore at LU creation, a corrupt file ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backstore/backstore.h"
#include "base/loop.h"
#include "pr/pr_aptpl.h"
#include "scsi/scsi_internal.h"

#define T_EQ(label, a, b)                                                 \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ != t_b_)                                         \
			fail_msg("%s: %s == %s (%lld == %lld)", (label), #a, \
				 #b, t_a_, t_b_);                         \
	} while (0)

static char t_dir[64];
static char t_path[256];

/* ------------------------------------------------------------ the hook */

static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond = PTHREAD_COND_INITIALIZER;
static const char *hk_block;   /* step to stop at (once) */
static bool hk_blocked, hk_release;
static const char *hk_fail;    /* step to fail */
static int hk_fail_err;
static unsigned hk_renames;

static int t_hook(const char *step, const char *path)
{
	int err = 0;

	(void)path;
	pthread_mutex_lock(&hk_lock);
	if (strcmp(step, "rename") == 0)
		hk_renames++;
	if (hk_block && strcmp(step, hk_block) == 0) {
		hk_block = NULL;
		hk_blocked = true;
		pthread_cond_broadcast(&hk_cond);
		while (!hk_release)
			pthread_cond_wait(&hk_cond, &hk_lock);
		hk_blocked = false;
		hk_release = false;
	}
	if (hk_fail && strcmp(step, hk_fail) == 0)
		err = hk_fail_err;
	pthread_mutex_unlock(&hk_lock);
	return err;
}

static void t_hook_wait_blocked(void)
{
	pthread_mutex_lock(&hk_lock);
	while (!hk_blocked)
		pthread_cond_wait(&hk_cond, &hk_lock);
	pthread_mutex_unlock(&hk_lock);
}

static void t_hook_release(void)
{
	pthread_mutex_lock(&hk_lock);
	hk_release = true;
	pthread_cond_broadcast(&hk_cond);
	pthread_mutex_unlock(&hk_lock);
}

/* ------------------------------------------------------------- waiters */

struct t_waiter {
	struct scsi_pr_store_waiter w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned calls;
	int err;
	pthread_t thread;
};

static void t_waiter_done(struct scsi_pr_store_waiter *w)
{
	struct t_waiter *tw = (struct t_waiter *)w;

	pthread_mutex_lock(&tw->lock);
	tw->calls++;
	tw->err = w->err;
	tw->thread = pthread_self();
	pthread_cond_broadcast(&tw->cond);
	pthread_mutex_unlock(&tw->lock);
}

static void t_waiter_init(struct t_waiter *tw, struct base_loop *loop)
{
	memset(tw, 0, sizeof(*tw));
	pthread_mutex_init(&tw->lock, NULL);
	pthread_cond_init(&tw->cond, NULL);
	tw->w.loop = loop;
	tw->w.done = t_waiter_done;
}

static void t_waiter_wait(struct t_waiter *tw)
{
	pthread_mutex_lock(&tw->lock);
	while (!tw->calls)
		pthread_cond_wait(&tw->cond, &tw->lock);
	pthread_mutex_unlock(&tw->lock);
}

/* ----------------------------------------------------------- fixtures */

static int t_setup(void **state)
{
	(void)state;
	snprintf(t_dir, sizeof(t_dir), "/tmp/test_pr_store.XXXXXX");
	if (!mkdtemp(t_dir))
		return -1;
	snprintf(t_path, sizeof(t_path), "%s/a/b/pr/naa.6.aptpl", t_dir);
	hk_block = hk_fail = NULL;
	hk_blocked = hk_release = false;
	hk_renames = 0;
	scsi_pr_store_fault = t_hook;
	return 0;
}

static int t_teardown(void **state)
{
	char cmd[128];

	(void)state;
	scsi_pr_store_fault = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *t_image(char fill, size_t len)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	memset(b, fill, len);
	return b;
}

/* The file holds exactly len bytes of fill. */
static void t_file_is(const char *label, struct scsi_pr_store *s, char fill,
		      size_t len)
{
	uint8_t *buf;
	size_t n;

	T_EQ(label, scsi_pr_store_read(s, 1 << 20, &buf, &n), 0);
	T_EQ(label, n, len);
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (uint8_t)fill)
			fail_msg("%s: byte %zu is %02x", label, i, buf[i]);
	free(buf);
}

static bool t_tmp_exists(void)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "%s.tmp", t_path);
	return access(tmp, F_OK) == 0;
}

/* -------------------------------------------------------------- tests */

static void test_write_read_back(void **state)
{
	struct scsi_pr_store *s;
	struct t_waiter tw;
	uint8_t *buf;
	size_t n;
	uint64_t seq;

	(void)state;
	T_EQ("open (mkdir -p)", scsi_pr_store_open(t_path, &s), 0);
	T_EQ("path", strcmp(scsi_pr_store_path(s), t_path), 0);
	T_EQ("no file yet", scsi_pr_store_read(s, 100, &buf, &n), -ENOENT);
	t_waiter_init(&tw, NULL);
	seq = scsi_pr_store_submit(s, t_image('A', 1000), 1000, &tw.w);
	T_EQ("first seq", seq, 1);
	t_waiter_wait(&tw);
	T_EQ("durable", tw.err, 0);
	T_EQ("once", tw.calls, 1);
	T_EQ("flush", scsi_pr_store_flush(s), 0);
	t_file_is("A", s, 'A', 1000);
	T_EQ("no tmp", t_tmp_exists(), false);
	T_EQ("too large", scsi_pr_store_read(s, 999, &buf, &n), -EFBIG);
	/* A write without a waiter, then an empty image. */
	scsi_pr_store_submit(s, t_image('B', 10), 10, NULL);
	T_EQ("flush B", scsi_pr_store_flush(s), 0);
	t_file_is("B", s, 'B', 10);
	scsi_pr_store_close(s);
}

/* While the writer is stopped between writing the temp file and the
 * rename, a reader sees the old file whole; queued images collapse into
 * the newest, and every waiter completes with it. */
static void test_no_partial_file_and_supersede(void **state)
{
	struct scsi_pr_store *s;
	struct t_waiter w1, w2, w3;

	(void)state;
	T_EQ("open", scsi_pr_store_open(t_path, &s), 0);
	scsi_pr_store_submit(s, t_image('A', 300), 300, NULL);
	T_EQ("flush A", scsi_pr_store_flush(s), 0);
	hk_renames = 0;

	hk_block = "rename";
	t_waiter_init(&w1, NULL);
	scsi_pr_store_submit(s, t_image('B', 5000), 5000, &w1.w);
	t_hook_wait_blocked();
	/* The temp file is written and fsynced; the file is still A. */
	T_EQ("tmp there", t_tmp_exists(), true);
	t_file_is("old whole", s, 'A', 300);
	t_waiter_init(&w2, NULL);
	t_waiter_init(&w3, NULL);
	scsi_pr_store_submit(s, t_image('C', 200), 200, &w2.w);
	scsi_pr_store_submit(s, t_image('D', 100), 100, &w3.w);
	T_EQ("w1 not yet", w1.calls, 0);
	t_hook_release();
	t_waiter_wait(&w1);
	t_waiter_wait(&w2);
	t_waiter_wait(&w3);
	T_EQ("w1", w1.err, 0);
	T_EQ("w2", w2.err, 0);
	T_EQ("w3", w3.err, 0);
	T_EQ("flush", scsi_pr_store_flush(s), 0);
	T_EQ("two writes: B, then D (C superseded)", hk_renames, 2);
	t_file_is("newest", s, 'D', 100);
	T_EQ("no tmp", t_tmp_exists(), false);
	scsi_pr_store_close(s);
}

/* A crash after the temp file was written: the old file stays, and the
 * leftover temp file is dropped at the next open. */
static void test_crash_leftover_tmp(void **state)
{
	struct scsi_pr_store *s;
	char tmp[300];
	int fd;

	(void)state;
	T_EQ("open", scsi_pr_store_open(t_path, &s), 0);
	scsi_pr_store_submit(s, t_image('A', 64), 64, NULL);
	T_EQ("flush", scsi_pr_store_flush(s), 0);
	scsi_pr_store_close(s);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	T_EQ("half a new image", write(fd, "BBBB", 4), 4);
	close(fd);
	T_EQ("reopen", scsi_pr_store_open(t_path, &s), 0);
	T_EQ("tmp dropped", t_tmp_exists(), false);
	t_file_is("old image", s, 'A', 64);
	scsi_pr_store_close(s);
}

static void test_write_errors(void **state)
{
	static const char *const steps[] = { "open", "write", "fsync",
					     "rename", "dirsync" };
	struct scsi_pr_store *s;

	(void)state;
	T_EQ("open", scsi_pr_store_open(t_path, &s), 0);
	scsi_pr_store_submit(s, t_image('A', 64), 64, NULL);
	T_EQ("flush", scsi_pr_store_flush(s), 0);
	for (unsigned i = 0; i < 5; i++) {
		struct t_waiter tw;

		hk_fail = steps[i];
		hk_fail_err = -ENOSPC;
		t_waiter_init(&tw, NULL);
		scsi_pr_store_submit(s, t_image('X', 32), 32, &tw.w);
		t_waiter_wait(&tw);
		T_EQ(steps[i], tw.err, -ENOSPC);
		T_EQ(steps[i], scsi_pr_store_flush(s), -ENOSPC);
		/* Before the rename the file is untouched; a failed
		 * directory fsync comes after it (the rename may or may
		 * not survive a crash: the command says it failed). */
		if (i < 4)
			t_file_is(steps[i], s, 'A', 64);
		T_EQ("no tmp", t_tmp_exists(), false);
		hk_fail = NULL;
		scsi_pr_store_submit(s, t_image('A', 64), 64, NULL);
		T_EQ("recovers", scsi_pr_store_flush(s), 0);
	}
	t_file_is("after", s, 'A', 64);
	scsi_pr_store_close(s);
}

/* A real failure, not the hook: the directory disappears under the
 * store and a file takes its name. */
static void test_write_error_real(void **state)
{
	struct scsi_pr_store *s;
	struct t_waiter tw;
	char dir[300], cmd[400];
	int fd;

	(void)state;
	T_EQ("open", scsi_pr_store_open(t_path, &s), 0);
	snprintf(dir, sizeof(dir), "%s/a/b/pr", t_dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_EQ("rm", system(cmd), 0);
	fd = open(dir, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	t_waiter_init(&tw, NULL);
	scsi_pr_store_submit(s, t_image('A', 64), 64, &tw.w);
	t_waiter_wait(&tw);
	T_EQ("ENOTDIR", tw.err, -ENOTDIR);
	scsi_pr_store_close(s);
	/* And open refuses such a path. */
	T_EQ("open under a file", scsi_pr_store_open(t_path, &s), -ENOTDIR);
	T_EQ("empty path", scsi_pr_store_open("", &s), -EINVAL);
	T_EQ("directory path", scsi_pr_store_open("/tmp/", &s), -EINVAL);
}

static void *t_loop_run(void *arg)
{
	base_loop_run(arg);
	return NULL;
}

/* With a loop, done runs on the loop's thread. */
static void test_waiter_on_loop(void **state)
{
	struct scsi_pr_store *s, *s2;
	struct base_loop *loop;
	struct t_waiter tw, tw2;
	pthread_t th;
	char p2[300];

	(void)state;
	assert_int_equal(base_loop_create(&loop), 0);
	assert_int_equal(pthread_create(&th, NULL, t_loop_run, loop), 0);
	T_EQ("open", scsi_pr_store_open(t_path, &s), 0);
	snprintf(p2, sizeof(p2), "%s/other.aptpl", t_dir);
	T_EQ("open 2", scsi_pr_store_open(p2, &s2), 0);
	t_waiter_init(&tw, loop);
	t_waiter_init(&tw2, loop);
	scsi_pr_store_submit(s, t_image('A', 64), 64, &tw.w);
	scsi_pr_store_submit(s2, t_image('Z', 16), 16, &tw2.w);
	t_waiter_wait(&tw);
	t_waiter_wait(&tw2);
	T_EQ("ok", tw.err, 0);
	T_EQ("on the loop thread", pthread_equal(tw.thread, th) != 0, 1);
	T_EQ("ok 2", tw2.err, 0);
	t_file_is("s", s, 'A', 64);
	t_file_is("s2", s2, 'Z', 16);
	scsi_pr_store_close(s2);
	scsi_pr_store_close(s);
	base_loop_stop(loop);
	pthread_join(th, NULL);
	base_loop_destroy(loop);
}

/* Many threads submitting to two stores: every waiter hears exactly
 * once, after its image or a later one is on disk. */
#define T_STRESS_THREADS 4
#define T_STRESS_ROUNDS 200

static struct scsi_pr_store *t_stress_s[2];

static void *t_stress_run(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	struct t_waiter tw;

	for (unsigned r = 0; r < T_STRESS_ROUNDS; r++) {
		struct scsi_pr_store *s = t_stress_s[(id + r) & 1];
		size_t len = 1 + (id * 31 + r) % 97;

		t_waiter_init(&tw, NULL);
		scsi_pr_store_submit(s, t_image((char)('a' + id), len), len,
				     &tw.w);
		t_waiter_wait(&tw);
		if (tw.err || tw.calls != 1)
			return (void *)1;
	}
	return NULL;
}

static void test_stress(void **state)
{
	pthread_t th[T_STRESS_THREADS];
	char p2[300];
	void *ret;

	(void)state;
	snprintf(p2, sizeof(p2), "%s/two.aptpl", t_dir);
	T_EQ("open", scsi_pr_store_open(t_path, &t_stress_s[0]), 0);
	T_EQ("open 2", scsi_pr_store_open(p2, &t_stress_s[1]), 0);
	for (uintptr_t i = 0; i < T_STRESS_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, t_stress_run,
						(void *)i), 0);
	for (unsigned i = 0; i < T_STRESS_THREADS; i++) {
		pthread_join(th[i], &ret);
		T_EQ("thread ok", (uintptr_t)ret, 0);
	}
	T_EQ("flush", scsi_pr_store_flush(t_stress_s[0]), 0);
	T_EQ("flush 2", scsi_pr_store_flush(t_stress_s[1]), 0);
	T_EQ("no tmp", t_tmp_exists(), false);
	scsi_pr_store_close(t_stress_s[1]);
	scsi_pr_store_close(t_stress_s[0]);
}

/* ------------------------------------------------- the core on top */

#define KEY_A 0xA1A2A3A4A5A6A7A8ull
#define KEY_B 0xB1B2B3B4B5B6B7B8ull

static struct {
	struct base_loop *loop;
	struct scsi_target *tgt;
	struct scsi_tport *tp;
	struct backstore *bs;
	struct scsi_lun *lu;
	struct scsi_nexus *n;
	char file[300];
} C;

struct tc {
	struct scsi_task t;
	atomic_int done;
	uint8_t buf[512];
};

static void tc_done(struct scsi_task *t)
{
	struct tc *c = container_of(t, struct tc, t);

	atomic_fetch_add(&c->done, 1);
	base_loop_stop(C.loop);
}

static void tc_submit(void *arg)
{
	scsi_task_submit(arg);
}

static void tc_prep(struct tc *c, const uint8_t *cdb, unsigned cdb_len,
		    enum scsi_dir dir, uint32_t edtl)
{
	memset(&c->t, 0, sizeof(c->t));
	atomic_init(&c->done, 0);
	c->t.nexus = C.n;
	c->t.lun = 0;
	memcpy(c->t.cdb, cdb, cdb_len);
	c->t.cdb_len = (uint8_t)cdb_len;
	c->t.attr = SCSI_ATTR_SIMPLE;
	c->t.dir = edtl ? dir : SCSI_DIR_NONE;
	c->t.edtl = edtl;
	c->t.buf = edtl ? c->buf : NULL;
	c->t.done = tc_done;
}

static void tc_run(struct tc *c)
{
	assert_int_equal(base_loop_post(C.loop, tc_submit, &c->t), 0);
	assert_int_equal(base_loop_run(C.loop), 0);
	T_EQ("done once", atomic_load(&c->done), 1);
}

static void tc_tur_until_good(void)
{
	static const uint8_t tur[6] = { 0 };
	struct tc c;

	for (int i = 0; i < 8; i++) {
		tc_prep(&c, tur, 6, SCSI_DIR_NONE, 0);
		tc_run(&c);
		if (c.t.status == SCSI_STATUS_GOOD)
			return;
	}
	fail_msg("TEST UNIT READY never GOOD");
}

static void t_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* PERSISTENT RESERVE OUT (SPC-4 6.16.1), 24-byte basic parameter list. */
static void tc_prout_prep(struct tc *c, uint8_t sa, uint8_t type,
			  uint64_t key, uint64_t sa_key, uint8_t flags)
{
	uint8_t cdb[10] = { 0x5F, sa, type, 0, 0, 0, 0, 0, 24, 0 };

	tc_prep(c, cdb, 10, SCSI_DIR_OUT, 24);
	memset(c->buf, 0, 24);
	t_put64(c->buf, key);
	t_put64(c->buf + 8, sa_key);
	c->buf[20] = flags;
}

static void tc_prout(struct tc *c, uint8_t sa, uint8_t type, uint64_t key,
		     uint64_t sa_key, uint8_t flags)
{
	tc_prout_prep(c, sa, type, key, sa_key, flags);
	tc_run(c);
}

static void tc_prin(struct tc *c, uint8_t sa)
{
	uint8_t cdb[10] = { 0x5E, sa, 0, 0, 0, 0, 0, 0x01, 0x00, 0 };

	tc_prep(c, cdb, 10, SCSI_DIR_IN, 256);
	tc_run(c);
	T_EQ("PR IN status", c->t.status, SCSI_STATUS_GOOD);
}

static void t_expect_good(const char *label, const struct tc *c)
{
	if (c->t.status != SCSI_STATUS_GOOD)
		fail_msg("%s: status 0x%02x sense %x/%02x/%02x", label,
			 c->t.status, c->t.sense[2] & 0xF, c->t.sense[12],
			 c->t.sense[13]);
}

/* The state the file holds, decoded. */
static void t_file_state(struct pr_state *st)
{
	struct pr_config cfg = { .max_regs = SCSI_PR_MAX_REGS };
	uint8_t b[65536];
	ssize_t n;
	int fd;

	assert_int_equal(pr_state_init(st, &cfg), 0);
	fd = open(C.file, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, b, sizeof(b));
	close(fd);
	assert_true(n > 0);
	T_EQ("file decodes", pr_aptpl_decode(b, (size_t)n, st, NULL), 0);
}

static void t_lun_create(const char *aptpl_file)
{
	struct scsi_lun_config c;

	memset(&c, 0, sizeof(c));
	c.lun_id = 0;
	c.bs = C.bs;
	c.block_size = 512;
	c.nblocks = 2048;
	c.write_cache = true;
	snprintf(c.serial, sizeof(c.serial), "APTPL0");
	c.naa[0] = 0x60;
	c.naa[15] = 0x01;
	c.aptpl_file = aptpl_file;
	assert_int_equal(scsi_lun_create(C.tgt, &c, &C.lu), 0);
	tc_tur_until_good();
}

static int t_core_setup(void **state)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0, 0, 1 };
	struct bs_config bc = { .type = "ram", .size = 2048 * 512 };

	if (t_setup(state))
		return -1;
	memset(&C, 0, sizeof(C));
	snprintf(C.file, sizeof(C.file), "%s/pr/lu0.aptpl", t_dir);
	assert_int_equal(base_loop_create(&C.loop), 0);
	assert_int_equal(scsi_target_create("iqn.2026-11.test:aptpl", &C.tgt),
			 0);
	assert_int_equal(scsi_tport_create(C.tgt, 1, 1, 1, &C.tp), 0);
	assert_int_equal(bs_open(&bc, &C.bs), 0);
	assert_int_equal(scsi_nexus_create(C.tp, "iqn.2026-11.test:a", isid,
					   C.loop, NULL, NULL, &C.n), 0);
	t_lun_create(C.file);
	return 0;
}

static int t_core_teardown(void **state)
{
	scsi_nexus_destroy(C.n);
	scsi_target_destroy(C.tgt);
	bs_close(C.bs);
	base_loop_destroy(C.loop);
	return t_teardown(state);
}

static void test_core_aptpl(void **state)
{
	struct pr_state st;
	struct tc c;

	(void)state;
	/* SPC-4 6.15.4: PTPL_C = 1, PTPL_A = 0. */
	tc_prin(&c, PR_IN_REPORT_CAPABILITIES);
	T_EQ("PTPL_C", c.buf[2] & 0x01, 1);
	T_EQ("PTPL_A", c.buf[3] & 0x01, 0);
	T_EQ("no file before APTPL", access(C.file, F_OK), -1);

	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	t_expect_good("REGISTER APTPL", &c);
	t_file_state(&st);
	T_EQ("file regs", st.nregs, 1);
	T_EQ("file key", st.regs[0].key, KEY_A);
	T_EQ("file aptpl", st.aptpl, true);
	pr_state_fini(&st);
	tc_prin(&c, PR_IN_REPORT_CAPABILITIES);
	T_EQ("PTPL_A", c.buf[3] & 0x01, 1);

	tc_prout(&c, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	t_expect_good("RESERVE", &c);
	t_file_state(&st);
	T_EQ("file type", st.type, PR_TYPE_WR_EX);
	T_EQ("file holder", st.holder, 0);
	pr_state_fini(&st);
}

static void *t_loop_thread(void *arg)
{
	(void)arg;
	base_loop_run(C.loop);
	return NULL;
}

/* The status waits for the write; a failed write is 03/0C/00. */
static void test_core_status_after_durable(void **state)
{
	struct pr_state st;
	pthread_t th;
	struct tc c;

	(void)state;
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	t_expect_good("REGISTER APTPL", &c);

	hk_block = "rename";
	tc_prout_prep(&c, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_A, 0, 0);
	assert_int_equal(base_loop_post(C.loop, tc_submit, &c.t), 0);
	assert_int_equal(pthread_create(&th, NULL, t_loop_thread, NULL), 0);
	t_hook_wait_blocked();
	usleep(20 * 1000);
	T_EQ("no status before the rename", atomic_load(&c.done), 0);
	t_hook_release();
	pthread_join(th, NULL); /* tc_done stops the loop */
	T_EQ("done", atomic_load(&c.done), 1);
	t_expect_good("RESERVE", &c);

	/* The write fails: SPC-4 4.5.6 MEDIUM ERROR, WRITE ERROR. */
	hk_fail = "fsync";
	hk_fail_err = -EIO;
	tc_prout(&c, PR_OUT_RELEASE, PR_TYPE_EX_AC, KEY_A, 0, 0);
	T_EQ("status", c.t.status, SCSI_STATUS_CHECK_CONDITION);
	T_EQ("key", c.t.sense[2] & 0x0F, 0x03);
	T_EQ("asc", c.t.sense[12], 0x0C);
	T_EQ("ascq", c.t.sense[13], 0x00);
	hk_fail = NULL;
	/* The change stands in memory; the file still has the reservation. */
	tc_prin(&c, PR_IN_READ_RESERVATION);
	T_EQ("released in memory", c.buf[7], 0);
	t_file_state(&st);
	T_EQ("file still reserved", st.type, PR_TYPE_EX_AC);
	pr_state_fini(&st);
	/* The next write carries it. */
	tc_prout(&c, PR_OUT_REGISTER_AND_IGNORE, 0, 0, KEY_B, 0x01);
	t_expect_good("REGISTER AND IGNORE", &c);
	t_file_state(&st);
	T_EQ("file released", st.type, PR_TYPE_NONE);
	T_EQ("file key", st.regs[0].key, KEY_B);
	pr_state_fini(&st);
}

/* Restart: the file comes back at LU creation; APTPL 1 -> 0 empties it;
 * a corrupt file is ignored. */
static void test_core_restore(void **state)
{
	struct pr_state st;
	struct tc c;
	int fd;

	(void)state;
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	t_expect_good("REGISTER APTPL", &c);
	tc_prout(&c, PR_OUT_RESERVE, PR_TYPE_EX_AC_RO, KEY_A, 0, 0);
	t_expect_good("RESERVE", &c);

	scsi_lun_destroy(C.lu);
	t_lun_create(C.file);
	tc_prin(&c, PR_IN_READ_KEYS);
	T_EQ("generation", c.buf[3], 1);
	T_EQ("one key", c.buf[7], 8);
	T_EQ("key", c.buf[15], (uint8_t)KEY_A);
	tc_prin(&c, PR_IN_READ_RESERVATION);
	T_EQ("reserved", c.buf[7], 16);
	T_EQ("type", c.buf[21] & 0x0F, PR_TYPE_EX_AC_RO);
	tc_prin(&c, PR_IN_REPORT_CAPABILITIES);
	T_EQ("PTPL_A restored", c.buf[3] & 0x01, 1);
	/* The restored holder still holds (same I_T nexus): RELEASE. */
	tc_prout(&c, PR_OUT_RELEASE, PR_TYPE_EX_AC_RO, KEY_A, 0, 0);
	t_expect_good("RELEASE by the restored holder", &c);

	/* APTPL 1 -> 0: the file keeps nothing. */
	tc_prout(&c, PR_OUT_REGISTER, 0, KEY_A, KEY_B, 0x00);
	t_expect_good("REGISTER APTPL 0", &c);
	t_file_state(&st);
	T_EQ("no regs", st.nregs, 0);
	T_EQ("aptpl 0", st.aptpl, false);
	pr_state_fini(&st);
	scsi_lun_destroy(C.lu);
	t_lun_create(C.file);
	tc_prin(&c, PR_IN_READ_KEYS);
	T_EQ("no keys after restart", c.buf[7], 0);

	/* A corrupt file: the LU starts empty, APTPL still offered. */
	fd = open(C.file, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	T_EQ("garbage", write(fd, "CTPR garbage", 12), 12);
	close(fd);
	scsi_lun_destroy(C.lu);
	t_lun_create(C.file);
	tc_prin(&c, PR_IN_READ_KEYS);
	T_EQ("empty", c.buf[7], 0);
	tc_prin(&c, PR_IN_REPORT_CAPABILITIES);
	T_EQ("PTPL_C", c.buf[2] & 0x01, 1);
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	t_expect_good("REGISTER over a corrupt file", &c);
	t_file_state(&st);
	T_EQ("rewritten", st.nregs, 1);
	pr_state_fini(&st);
}

/* Without a file: PTPL_C = 0 and APTPL = 1 refused (SPC-4 6.16.3). */
static void test_core_no_file(void **state)
{
	struct tc c;

	(void)state;
	scsi_lun_destroy(C.lu);
	t_lun_create(NULL);
	tc_prin(&c, PR_IN_REPORT_CAPABILITIES);
	T_EQ("PTPL_C", c.buf[2] & 0x01, 0);
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	T_EQ("refused", c.t.status, SCSI_STATUS_CHECK_CONDITION);
	T_EQ("ILLEGAL REQUEST", c.t.sense[2] & 0x0F, 0x05);
}

/* PREEMPT AND ABORT with APTPL: the status waits for the aborts and the
 * write, whichever comes last (the write, held at rename, here). */
static void test_core_preempt_and_abort(void **state)
{
	static const uint8_t isid_b[6] = { 0x80, 0, 0, 0, 0, 2 };
	struct scsi_nexus *a = C.n, *b;
	struct pr_state st;
	pthread_t th;
	struct tc c;

	(void)state;
	assert_int_equal(scsi_nexus_create(C.tp, "iqn.2026-11.test:b", isid_b,
					   C.loop, NULL, NULL, &b), 0);
	C.n = b;
	tc_tur_until_good();
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_B, 0x01);
	t_expect_good("REGISTER B", &c);
	tc_prout(&c, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_B, 0, 0);
	t_expect_good("RESERVE B", &c);
	C.n = a;
	tc_prout(&c, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	t_expect_good("REGISTER A", &c);

	hk_block = "rename";
	tc_prout_prep(&c, PR_OUT_PREEMPT_AND_ABORT, PR_TYPE_WR_EX, KEY_A,
		      KEY_B, 0);
	assert_int_equal(base_loop_post(C.loop, tc_submit, &c.t), 0);
	assert_int_equal(pthread_create(&th, NULL, t_loop_thread, NULL), 0);
	t_hook_wait_blocked();
	usleep(20 * 1000);
	T_EQ("aborts done, write not yet", atomic_load(&c.done), 0);
	t_hook_release();
	pthread_join(th, NULL);
	t_expect_good("PREEMPT AND ABORT", &c);
	t_file_state(&st);
	T_EQ("one reg left", st.nregs, 1);
	T_EQ("A's", st.regs[0].key, KEY_A);
	T_EQ("A holds", st.holder, 0);
	pr_state_fini(&st);
	scsi_nexus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read_back, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(
			test_no_partial_file_and_supersede, t_setup,
			t_teardown),
		cmocka_unit_test_setup_teardown(test_crash_leftover_tmp,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_write_errors, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_write_error_real, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_waiter_on_loop, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_stress, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_core_aptpl,
						t_core_setup, t_core_teardown),
		cmocka_unit_test_setup_teardown(test_core_status_after_durable,
						t_core_setup, t_core_teardown),
		cmocka_unit_test_setup_teardown(test_core_restore,
						t_core_setup, t_core_teardown),
		cmocka_unit_test_setup_teardown(test_core_preempt_and_abort,
						t_core_setup, t_core_teardown),
		cmocka_unit_test_setup_teardown(test_core_no_file,
						t_core_setup, t_core_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
