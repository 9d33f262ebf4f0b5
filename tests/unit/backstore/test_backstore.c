/*
 * Backstores through a running event loop: the file backend (in a temp
 * dir on disk, once on io_uring and once on the synchronous fallback) and
 * the ram backend. Each case: write/read back with split iovecs, FUA,
 * flush, unmap and write-zeroes read back as zeroes, bs_map_status sees
 * holes, request checks (range, read-only, iovec sum, off-loop), many
 * requests in flight, and that done never runs inside bs_submit().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backstore/backstore.h"
#include "backstore/bs_internal.h"
#include "base/loop.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static char tmpdir[64];
static char path[128];

/* ---- running requests on a loop ---- */

struct tio {
	struct bs_io io;
	struct iovec iov[4];
	int res;
	bool done;
};

struct run {
	struct base_loop *loop;
	struct base_defer start;
	struct backstore *bs;
	struct tio **tios;
	int n;
	int ndone;
	int submit_err; /* first non-zero bs_submit result */
	bool in_submit;
	bool done_in_submit;
};

static struct run *run_cur;

static void tio_done(struct bs_io *io, int res)
{
	struct tio *t = container_of(io, struct tio, io);

	if (run_cur->in_submit)
		run_cur->done_in_submit = true;
	t->res = res;
	t->done = true;
	if (++run_cur->ndone == run_cur->n)
		base_loop_stop(run_cur->loop);
}

static void run_start(struct base_defer *d)
{
	struct run *r = container_of(d, struct run, start);
	int i;

	for (i = 0; i < r->n; i++) {
		int err;

		r->tios[i]->io.done = tio_done;
		r->in_submit = true;
		err = bs_submit(r->bs, &r->tios[i]->io);
		r->in_submit = false;
		if (err) {
			if (!r->submit_err)
				r->submit_err = err;
			r->tios[i]->res = err;
			r->tios[i]->done = true;
			if (++r->ndone == r->n)
				base_loop_stop(r->loop);
		}
	}
}

/* Submits n requests from inside a running loop and waits for all. */
static int run_many(struct backstore *bs, struct tio **tios, int n)
{
	struct run r = { .bs = bs, .tios = tios, .n = n };

	assert_int_equal(base_loop_create(&r.loop), 0);
	run_cur = &r;
	base_defer_init(&r.start, run_start);
	base_defer(r.loop, &r.start);
	assert_int_equal(base_loop_run(r.loop), 0);
	assert_int_equal(r.ndone, n);
	assert_false(r.done_in_submit);
	base_loop_destroy(r.loop);
	run_cur = NULL;
	return r.submit_err;
}

/* One request; returns bs_submit's error or the completion result. */
static int run_one(struct backstore *bs, struct tio *t)
{
	int err = run_many(bs, &t, 1);

	return err ? err : t->res;
}

static void tio_set(struct tio *t, enum bs_op op, uint64_t off, uint64_t len)
{
	memset(t, 0, sizeof(*t));
	t->io.op = op;
	t->io.offset = off;
	t->io.len = len;
	t->io.iov = t->iov;
}

/* Splits buf into 3 uneven iovecs. */
static void tio_buf3(struct tio *t, void *buf, size_t len)
{
	size_t a = len / 4, b = len / 2;

	t->iov[0] = (struct iovec){ buf, a };
	t->iov[1] = (struct iovec){ (char *)buf + a, b };
	t->iov[2] = (struct iovec){ (char *)buf + a + b, len - a - b };
	t->io.iovcnt = 3;
}

static int do_rw(struct backstore *bs, enum bs_op op, unsigned flags,
		 uint64_t off, void *buf, size_t len)
{
	struct tio t;

	tio_set(&t, op, off, len);
	t.io.flags = flags;
	tio_buf3(&t, buf, len);
	return run_one(bs, &t);
}

static int do_op(struct backstore *bs, enum bs_op op, uint64_t off,
		 uint64_t len)
{
	struct tio t;

	tio_set(&t, op, off, len);
	return run_one(bs, &t);
}

static void fill(unsigned char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- fixtures ---- */

static int file_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/var/tmp/ctgt-bs-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(path, sizeof(path), "%s/lun0.img", tmpdir);
	return 0;
}

static int file_teardown(void **state)
{
	unlink(path);
	rmdir(tmpdir);
	bs_file_test_force_sync(false);
	return 0;
}

static int file_setup_sync(void **state)
{
	bs_file_test_force_sync(true);
	return file_setup(state);
}

static struct backstore *open_file(uint64_t size, bool direct, bool ro)
{
	struct bs_config cfg = { .type = "file", .path = path, .size = size,
				 .direct = direct, .readonly = ro };
	struct backstore *bs = NULL;

	assert_int_equal(bs_open(&cfg, &bs), 0);
	assert_non_null(bs);
	return bs;
}

/* The common body: works on any backend of at least 1 MiB. */
static void exercise(struct backstore *bs, bool tracks_holes,
		     bool byte_granular)
{
	static unsigned char wbuf[64 * KIB], rbuf[64 * KIB];
	int64_t run;
	bool mapped;

	/* Write 12 KiB at 4 KiB (FUA), read it back in another split. */
	fill(wbuf, 12 * KIB, 1);
	assert_int_equal(do_rw(bs, BS_OP_WRITE, BS_IO_FUA, 4 * KIB, wbuf,
			       12 * KIB),
			 0);
	memset(rbuf, 0xee, sizeof(rbuf));
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 4 * KIB, rbuf, 12 * KIB), 0);
	assert_memory_equal(rbuf, wbuf, 12 * KIB);
	assert_int_equal(do_op(bs, BS_OP_FLUSH, 0, 0), 0);

	/* Never-written space reads as zeroes. */
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 0, rbuf, 4 * KIB), 0);
	assert_true(all_zero(rbuf, 4 * KIB));

	if (tracks_holes) {
		run = bs_map_status(bs, 0, &mapped);
		assert_false(mapped);
		assert_int_equal(run, 4 * KIB);
		run = bs_map_status(bs, 4 * KIB, &mapped);
		assert_true(mapped);
		assert_int_equal(run, 12 * KIB);
		run = bs_map_status(bs, 16 * KIB, &mapped);
		assert_false(mapped);
		assert_int_equal(run, (int64_t)(bs_size(bs) - 16 * KIB));
	} else {
		run = bs_map_status(bs, 0, &mapped);
		assert_true(mapped);
		assert_int_equal(run, (int64_t)bs_size(bs));
	}
	assert_int_equal(bs_map_status(bs, bs_size(bs), &mapped), -ERANGE);

	/* UNMAP the middle 4 KiB: zeroes there, data around it stays. */
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 8 * KIB, 4 * KIB), 0);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 4 * KIB, rbuf, 12 * KIB), 0);
	assert_memory_equal(rbuf, wbuf, 4 * KIB);
	assert_true(all_zero(rbuf + 4 * KIB, 4 * KIB));
	assert_memory_equal(rbuf + 8 * KIB, wbuf + 8 * KIB, 4 * KIB);
	if (tracks_holes) {
		run = bs_map_status(bs, 8 * KIB, &mapped);
		assert_false(mapped);
		assert_int_equal(run, 4 * KIB);
	}

	/* WRITE ZEROES over the last 4 KiB and an unaligned piece. */
	assert_int_equal(do_op(bs, BS_OP_WRITE_ZEROES, 12 * KIB, 4 * KIB), 0);
	if (byte_granular) /* block devices zero whole logical blocks */
		assert_int_equal(do_op(bs, BS_OP_WRITE_ZEROES, 4 * KIB + 100,
				       200),
				 0);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 4 * KIB, rbuf, 12 * KIB), 0);
	if (byte_granular) {
		assert_memory_equal(rbuf, wbuf, 100);
		assert_true(all_zero(rbuf + 100, 200));
		assert_memory_equal(rbuf + 300, wbuf + 300, 4 * KIB - 300);
	} else {
		assert_memory_equal(rbuf, wbuf, 4 * KIB);
	}
	assert_true(all_zero(rbuf + 8 * KIB, 4 * KIB));

	/* Zero-length requests complete too. */
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 0, 0), 0);

	/* The last byte is reachable, one past it is not. */
	assert_int_equal(do_rw(bs, BS_OP_WRITE, 0, bs_size(bs) - 4 * KIB,
			       wbuf, 4 * KIB),
			 0);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, bs_size(bs) - 4 * KIB + 1,
			       rbuf, 4 * KIB),
			 -ERANGE);
	assert_int_equal(do_op(bs, BS_OP_UNMAP, UINT64_MAX - 10, 20), -ERANGE);
}

static void exercise_checks(struct backstore *bs)
{
	unsigned char buf[8 * KIB];
	struct tio t;
	int err;

	/* iovec lengths must add up to len. */
	tio_set(&t, BS_OP_READ, 0, sizeof(buf));
	t.iov[0] = (struct iovec){ buf, 4 * KIB };
	t.io.iovcnt = 1;
	assert_int_equal(run_one(bs, &t), -EINVAL);

	/* Off-loop: refused, done not called. */
	tio_set(&t, BS_OP_READ, 0, 4 * KIB);
	t.iov[0] = (struct iovec){ buf, 4 * KIB };
	t.io.iovcnt = 1;
	t.io.done = tio_done;
	err = bs_submit(bs, &t.io);
	assert_int_equal(err, -EINVAL);
	assert_false(t.done);
}

/* Many requests at once: more than the ring has entries. */
static void exercise_many(struct backstore *bs)
{
	enum { N = 300, SZ = 4 * KIB };
	static struct tio tios[N];
	static struct tio *ptrs[N];
	/* Page-aligned rows, so direct (O_DIRECT) stores accept them. */
	static unsigned char data[N][SZ] __attribute__((aligned(4096)));
	static unsigned char back[N][SZ] __attribute__((aligned(4096)));
	int i;

	for (i = 0; i < N; i++) {
		fill(data[i], SZ, (unsigned)i);
		tio_set(&tios[i], BS_OP_WRITE, (uint64_t)i * SZ, SZ);
		tios[i].iov[0] = (struct iovec){ data[i], SZ };
		tios[i].io.iovcnt = 1;
		ptrs[i] = &tios[i];
	}
	assert_int_equal(run_many(bs, ptrs, N), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(tios[i].res, 0);

	for (i = 0; i < N; i++) {
		tio_set(&tios[i], BS_OP_READ, (uint64_t)i * SZ, SZ);
		tios[i].iov[0] = (struct iovec){ back[i], SZ };
		tios[i].io.iovcnt = 1;
	}
	assert_int_equal(run_many(bs, ptrs, N), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(tios[i].res, 0);
		assert_memory_equal(back[i], data[i], SZ);
	}
}

/* ---- file ---- */

static void test_file_create_sparse(void **state)
{
	struct backstore *bs = open_file(MIB, false, false);
	struct stat st;
	bool mapped;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, MIB);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(bs_size(bs), MIB);
	assert_true(bs_can_unmap(bs));
	assert_int_equal(bs_dio_align(bs), 1);
	assert_int_equal(bs_map_status(bs, 0, &mapped), MIB);
	assert_false(mapped);
	bs_close(bs);
}

static void test_file_io(void **state)
{
	struct backstore *bs = open_file(2 * MIB, false, false);

	exercise(bs, true, true);
	exercise_checks(bs);
	exercise_many(bs);
	bs_close(bs);
}

static void test_file_sizes_and_readonly(void **state)
{
	struct backstore *bs;
	struct bs_config cfg = { .type = "file", .path = path };
	unsigned char buf[4 * KIB] = { 1 };
	struct stat st;

	/* Missing file, no size: refused, nothing created. */
	assert_int_equal(bs_open(&cfg, &bs), -ENOENT);
	assert_int_not_equal(stat(path, &st), 0);

	bs = open_file(MIB, false, false);
	bs_close(bs);
	/* Size 0 takes the file's size; a larger size extends it. */
	bs = open_file(0, false, false);
	assert_int_equal(bs_size(bs), MIB);
	bs_close(bs);
	bs = open_file(2 * MIB, false, false);
	assert_int_equal(bs_size(bs), 2 * MIB);
	bs_close(bs);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2 * MIB);

	/* Read-only: reads and flush work, writes are -EROFS. */
	bs = open_file(0, false, true);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(do_rw(bs, BS_OP_WRITE, 0, 0, buf, sizeof(buf)),
			 -EROFS);
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 0, 4 * KIB), -EROFS);
	assert_int_equal(do_op(bs, BS_OP_FLUSH, 0, 0), 0);
	bs_close(bs);

	cfg.type = "tape";
	assert_int_equal(bs_open(&cfg, &bs), -EINVAL);
}

static void test_file_direct(void **state)
{
	struct bs_config cfg = { .type = "file", .path = path, .size = MIB,
				 .direct = true };
	struct backstore *bs = NULL;
	unsigned char *w, *r;
	int err = bs_open(&cfg, &bs);

	if (err == -EINVAL) {
		skip(); /* filesystem without O_DIRECT */
		return;
	}
	assert_int_equal(err, 0);
	assert_true(bs_dio_align(bs) >= 512 && bs_dio_align(bs) <= 4096);
	assert_int_equal(bs_dio_align(bs) & (bs_dio_align(bs) - 1), 0);
	assert_int_equal(posix_memalign((void **)&w, 4096, 16 * KIB), 0);
	assert_int_equal(posix_memalign((void **)&r, 4096, 16 * KIB), 0);
	fill(w, 16 * KIB, 9);
	{
		struct tio t;

		/* Misaligned buffer, offset or length: refused up front. */
		tio_set(&t, BS_OP_WRITE, 64 * KIB, 4 * KIB);
		t.iov[0] = (struct iovec){ w + 1, 4 * KIB };
		t.io.iovcnt = 1;
		assert_int_equal(run_one(bs, &t), -EINVAL);
		tio_set(&t, BS_OP_WRITE, 64 * KIB + 1, 4 * KIB);
		t.iov[0] = (struct iovec){ w, 4 * KIB };
		t.io.iovcnt = 1;
		assert_int_equal(run_one(bs, &t), -EINVAL);
		tio_set(&t, BS_OP_READ, 64 * KIB, 100);
		t.iov[0] = (struct iovec){ r, 100 };
		t.io.iovcnt = 1;
		assert_int_equal(run_one(bs, &t), -EINVAL);

		tio_set(&t, BS_OP_WRITE, 64 * KIB, 16 * KIB);
		t.iov[0] = (struct iovec){ w, 16 * KIB };
		t.io.iovcnt = 1;
		t.io.flags = BS_IO_FUA;
		assert_int_equal(run_one(bs, &t), 0);
		tio_set(&t, BS_OP_READ, 64 * KIB, 16 * KIB);
		t.iov[0] = (struct iovec){ r, 8 * KIB };
		t.iov[1] = (struct iovec){ r + 8 * KIB, 8 * KIB };
		t.io.iovcnt = 2;
		assert_int_equal(run_one(bs, &t), 0);
		assert_memory_equal(r, w, 16 * KIB);
	}
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 64 * KIB, 4 * KIB), 0);
	free(w);
	free(r);
	bs_close(bs);
}

/* A file cut short behind our back: the read gets part of the data, the
 * continuation gets 0 bytes, and the request fails with -EIO rather than
 * returning stale buffer contents as data. */
static void test_file_short_read(void **state)
{
	struct backstore *bs = open_file(MIB, false, false);
	unsigned char buf[8 * KIB];
	struct tio t;

	fill(buf, sizeof(buf), 5);
	assert_int_equal(do_rw(bs, BS_OP_WRITE, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(truncate(path, 4 * KIB), 0);
	tio_set(&t, BS_OP_READ, 0, sizeof(buf));
	t.iov[0] = (struct iovec){ buf, 1 * KIB };
	t.iov[1] = (struct iovec){ buf + 1 * KIB, 7 * KIB };
	t.io.iovcnt = 2;
	assert_int_equal(run_one(bs, &t), -EIO);
	bs_close(bs);
}

/* tmpfs has no FALLOC_FL_ZERO_RANGE: WRITE_ZEROES falls back to writing
 * zeroes, over more than one 256 KiB chunk and with ragged edges. */
static void zero_fallback_body(void)
{
	static unsigned char buf[2 * MIB];
	struct backstore *bs;
	char shm_path[64];

	snprintf(shm_path, sizeof(shm_path), "/dev/shm/ctgt-bs-%d", getpid());
	{
		struct bs_config cfg = { .type = "file", .path = shm_path,
					 .size = 2 * MIB };

		unlink(shm_path);
		assert_int_equal(bs_open(&cfg, &bs), 0);
	}
	fill(buf, sizeof(buf), 3);
	assert_int_equal(do_rw(bs, BS_OP_WRITE, 0, 0, buf, sizeof(buf)), 0);
	assert_int_equal(do_op(bs, BS_OP_WRITE_ZEROES, 1000, MIB + 512), 0);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 0, buf, sizeof(buf)), 0);
	{
		static unsigned char want[2 * MIB];

		fill(want, sizeof(want), 3);
		memset(want + 1000, 0, MIB + 512);
		assert_memory_equal(buf, want, sizeof(buf));
	}
	/* UNMAP punches (tmpfs can) and reads back zeroes. */
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 1536 * KIB, 64 * KIB), 0);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 1536 * KIB, buf, 64 * KIB),
			 0);
	assert_true(all_zero(buf, 64 * KIB));
	bs_close(bs);
	unlink(shm_path);
}

static void test_file_zero_fallback(void **state)
{
	zero_fallback_body();
}

static void test_file_zero_fallback_sync(void **state)
{
	bs_file_test_force_sync(true);
	zero_fallback_body();
	bs_file_test_force_sync(false);
}

/* Two loop threads on one file backstore: each thread gets its own ring,
 * completions come back on the submitting thread, and rings are torn
 * down at thread exit while the loops still exist (daemon shutdown
 * order: threads joined, then loops destroyed). */
struct worker {
	struct backstore *bs;
	struct base_loop *loop;
	pthread_t thread;
	struct base_defer start;
	struct tio tios[64];
	unsigned char data[64][4 * KIB];
	unsigned char back[64][4 * KIB];
	int ndone;
	int phase; /* 0 writing, 1 reading */
	int failures;
	uint64_t base;
};

static void worker_done(struct bs_io *io, int res)
{
	struct tio *t = container_of(io, struct tio, io);
	struct worker *w = t->iov[3].iov_base;
	int i;

	if (res != 0 || !pthread_equal(pthread_self(), w->thread))
		w->failures++;
	if (++w->ndone < 64)
		return;
	w->ndone = 0;
	if (w->phase == 1) {
		for (i = 0; i < 64; i++)
			if (memcmp(w->data[i], w->back[i], 4 * KIB) != 0)
				w->failures++;
		base_loop_stop(w->loop);
		return;
	}
	w->phase = 1;
	for (i = 0; i < 64; i++) {
		struct tio *r = &w->tios[i];

		tio_set(r, BS_OP_READ, w->base + (uint64_t)i * 4 * KIB, 4 * KIB);
		r->iov[0] = (struct iovec){ w->back[i], 4 * KIB };
		r->iov[3].iov_base = w;
		r->io.iovcnt = 1;
		r->io.done = worker_done;
		if (bs_submit(w->bs, &r->io) != 0)
			w->failures++;
	}
}

static void worker_start(struct base_defer *d)
{
	struct worker *w = container_of(d, struct worker, start);
	int i;

	for (i = 0; i < 64; i++) {
		struct tio *t = &w->tios[i];

		fill(w->data[i], 4 * KIB, (unsigned)(w->base / KIB) + (unsigned)i);
		tio_set(t, BS_OP_WRITE, w->base + (uint64_t)i * 4 * KIB, 4 * KIB);
		t->iov[0] = (struct iovec){ w->data[i], 4 * KIB };
		t->iov[3].iov_base = w; /* spare slot: back pointer */
		t->io.iovcnt = 1;
		t->io.done = worker_done;
		if (bs_submit(w->bs, &t->io) != 0)
			w->failures++;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	base_defer_init(&w->start, worker_start);
	base_defer(w->loop, &w->start);
	if (base_loop_run(w->loop) != 0)
		w->failures++;
	return NULL;
}

static void test_file_two_threads(void **state)
{
	struct backstore *bs = open_file(2 * MIB, false, false);
	static struct worker w[2];
	int i;

	for (i = 0; i < 2; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].bs = bs;
		w[i].base = (uint64_t)i * MIB;
		assert_int_equal(base_loop_create(&w[i].loop), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main,
						&w[i]),
				 0);
	for (i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].failures, 0);
		assert_int_equal(w[i].phase, 1);
	}
	for (i = 0; i < 2; i++)
		base_loop_destroy(w[i].loop);
	bs_close(bs);
}

/* A real block device, when CTGT_TEST_BLKDEV names one that may be
 * overwritten (e.g. a loop device over a scratch file). */
static void test_blkdev(void **state)
{
	const char *dev = getenv("CTGT_TEST_BLKDEV");
	struct bs_config cfg = { .type = "file", .path = dev };
	struct backstore *bs = NULL;

	if (!dev) {
		skip();
		return;
	}
	assert_int_equal(bs_open(&cfg, &bs), 0);
	assert_true(bs_size(bs) >= 2 * MIB);
	print_message("%s: %llu bytes, can_unmap %d\n", dev,
		      (unsigned long long)bs_size(bs), bs_can_unmap(bs));
	assert_int_equal(do_op(bs, BS_OP_WRITE_ZEROES, 0, bs_size(bs)), 0);
	exercise(bs, false, false);
	exercise_many(bs);
	bs_close(bs);

	cfg.direct = true;
	assert_int_equal(bs_open(&cfg, &bs), 0);
	assert_true(bs_dio_align(bs) >= 512);
	exercise_many(bs);
	bs_close(bs);
}

/* ---- ram ---- */

static void test_ram_io(void **state)
{
	struct bs_config cfg = { .type = "ram", .size = 4 * MIB };
	struct backstore *bs = NULL;

	assert_int_equal(bs_open(&cfg, &bs), 0);
	assert_int_equal(bs_size(bs), 4 * MIB);
	assert_true(bs_can_unmap(bs));
	exercise(bs, false, true);
	exercise_checks(bs);
	exercise_many(bs);
	bs_close(bs);

	cfg.size = 0;
	assert_int_equal(bs_open(&cfg, &bs), -EINVAL);
}

static void test_null(void **state)
{
	struct bs_config cfg = { .type = "null", .size = MIB };
	struct backstore *bs = NULL;
	unsigned char buf[4 * KIB];
	bool mapped = true;

	assert_int_equal(bs_open(&cfg, &bs), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(do_rw(bs, BS_OP_WRITE, BS_IO_FUA, 0, buf, sizeof(buf)),
			 0);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, 0, buf, sizeof(buf)), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(do_op(bs, BS_OP_FLUSH, 0, 0), 0);
	assert_int_equal(do_op(bs, BS_OP_UNMAP, 0, MIB), 0);
	assert_int_equal(bs_map_status(bs, 4 * KIB, &mapped), MIB - 4 * KIB);
	assert_false(mapped);
	assert_int_equal(do_rw(bs, BS_OP_READ, 0, MIB, buf, sizeof(buf)),
			 -ERANGE);
	exercise_checks(bs);
	bs_close(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_create_sparse,
						file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_io, file_setup,
						file_teardown),
		cmocka_unit_test_setup_teardown(test_file_io, file_setup_sync,
						file_teardown),
		cmocka_unit_test_setup_teardown(test_file_sizes_and_readonly,
						file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_direct, file_setup,
						file_teardown),
		cmocka_unit_test_setup_teardown(test_file_two_threads,
						file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_file_short_read, file_setup,
						file_teardown),
		cmocka_unit_test_setup_teardown(test_file_short_read,
						file_setup_sync, file_teardown),
		cmocka_unit_test(test_file_zero_fallback),
		cmocka_unit_test(test_file_zero_fallback_sync),
		cmocka_unit_test(test_blkdev),
		cmocka_unit_test(test_ram_io),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
