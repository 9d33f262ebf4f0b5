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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/loop.h"
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
