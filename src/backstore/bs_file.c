/*
 * "file" backstore: a regular file or a block device, driven by io_uring.
 *
 * Each event-loop thread gets one io_uring, created on its first submit
 * and tied to the loop current at that time: the ring's completions raise
 * an eventfd watched by that loop, whose handler reaps CQEs and calls the
 * done callbacks on that thread. Submissions are batched: SQEs prepared
 * during one loop turn go to the kernel in one io_uring_submit() from a
 * base_defer at the end of the turn.
 *
 * Operations: READ/WRITE are readv/writev (RWF_DSYNC for BS_IO_FUA) and a
 * short transfer continues where it stopped (zero bytes is -EIO); FLUSH is
 * fsync(DATASYNC); UNMAP punches a hole and WRITE_ZEROES zeroes a range
 * with fallocate, each falling back (EOPNOTSUPP) to the next of: punch
 * hole -> zero range -> writing zeroes. On block devices fallocate maps to
 * discard / write-zeroes in the kernel.
 *
 * If io_uring cannot be set up (old kernel, seccomp), the thread falls
 * back to plain syscalls done inside bs_submit() and completes through a
 * base_defer: slower, but the same contract.
 *
 * Deliberately not here: caching, read-ahead, request merging, and
 * fixed/registered buffers. O_DIRECT needs aligned buffers: bs_dio_align()
 * says how aligned, and bs_submit() rejects misaligned requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backstore/bs_internal.h"
#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"

#define BS_FILE_RING_ENTRIES 256
#define BS_FILE_REQ_CACHE_MAX 256         /* free requests kept per ring */
#define BS_FILE_ZERO_CHUNK (256u * 1024u) /* zero-writing fallback step */
#define BS_FILE_DIO_ALIGN_FILE 4096u      /* O_DIRECT, when statx cannot tell */

/* Stages of UNMAP / WRITE_ZEROES, tried in order while the kernel answers
 * EOPNOTSUPP. */
enum bs_file_zero_stage {
	BS_FILE_ZERO_PUNCH, /* deallocate (UNMAP only) */
	BS_FILE_ZERO_RANGE, /* fallocate ZERO_RANGE */
	BS_FILE_ZERO_WRITE, /* write from a zero buffer, chunk by chunk */
};

struct bs_file {
	struct backstore bs;
	int fd;
	bool is_blkdev;
	char *path; /* for log messages */
};

struct bs_file_ring;

/* One in-flight bs_io. */
struct bs_file_req {
	struct bs_io *io;
	struct bs_file *file;
	struct bs_file_ring *ring; /* NULL on the synchronous path */
	struct list_head link;     /* ring's free cache */
	struct base_defer defer;   /* synchronous path completion */
	uint64_t done_bytes;       /* progress of READ/WRITE/zero writes */
	struct iovec *rest;        /* iov remaining after a short transfer */
	int rest_cnt;
	enum bs_file_zero_stage stage;
	struct iovec zero_iov;
	int res; /* synchronous path result */
};

/* The io_uring of one event-loop thread. Lives until the thread exits;
 * the kernel objects live while 'up' (from first submit until the loop is
 * destroyed). */
struct bs_file_ring {
	struct io_uring uring;
	struct base_loop *loop;
	struct base_fd efd;
	struct base_loop_hook hook;
	struct base_defer submit_defer;
	unsigned inflight;
	struct list_head free_reqs;
	unsigned nfree;
	bool up;
	bool unavailable; /* io_uring failed to set up: synchronous path */
};

static _Thread_local struct bs_file_ring *bs_file_tls_ring;
static pthread_key_t bs_file_ring_key;
static pthread_once_t bs_file_ring_key_once = PTHREAD_ONCE_INIT;
static atomic_bool bs_file_warned_no_uring;
static atomic_bool bs_file_force_sync;

/* Never written: the source of the zero-writing fallback. */
static unsigned char bs_file_zeroes[BS_FILE_ZERO_CHUNK]
	__attribute__((aligned(4096)));

static void bs_file_req_finish(struct bs_file_req *req, int res);
static int bs_file_req_prep(struct bs_file_req *req);

/* ---- the per-thread ring ---------------------------------------------- */

static void bs_file_ring_down(struct bs_file_ring *ring)
{
	if (!ring->up)
		return;
	if (ring->inflight)
		LOG_WARN("backstore file: io_uring closed with %u requests in "
			 "flight; their callbacks will not run",
			 ring->inflight);
	base_loop_del(ring->loop, &ring->efd);
	base_loop_hook_del(ring->loop, &ring->hook);
	io_uring_queue_exit(&ring->uring);
	close(ring->efd.fd);
	ring->inflight = 0;
	ring->loop = NULL;
	ring->up = false;
}

static void bs_file_ring_free(void *arg)
{
	struct bs_file_ring *ring = arg;

	bs_file_ring_down(ring);
	while (!list_empty(&ring->free_reqs)) {
		struct bs_file_req *req = list_first_entry(
			&ring->free_reqs, struct bs_file_req, link);

		list_del(&req->link);
		free(req);
	}
	free(ring);
}

static void bs_file_ring_key_create(void)
{
	/* Failure leaves the destructor out: rings leak at thread exit. */
	if (pthread_key_create(&bs_file_ring_key, bs_file_ring_free) != 0)
		LOG_WARN("backstore file: no thread key; rings leak at exit");
}

static void bs_file_ring_loop_destroyed(struct base_loop_hook *h,
					struct base_loop *loop)
{
	struct bs_file_ring *ring = container_of(h, struct bs_file_ring, hook);

	/* base_loop_destroy() already unlinked the hook. */
	list_init(&ring->hook.link);
	bs_file_ring_down(ring);
}

static void bs_file_ring_submit_cb(struct base_defer *d)
{
	struct bs_file_ring *ring =
		container_of(d, struct bs_file_ring, submit_defer);
	int ret = io_uring_submit(&ring->uring);

	/* -EBUSY/-EAGAIN: the CQ is backed up; the SQEs stay queued and go
	 * in after the completion handler has reaped. */
	if (ret < 0 && ret != -EBUSY && ret != -EAGAIN)
		LOG_ERR("backstore file: io_uring_submit: %s", strerror(-ret));
}

static void bs_file_ring_reap(struct bs_file_ring *ring)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&ring->uring, &cqe) == 0) {
		struct bs_file_req *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&ring->uring, cqe);
		bs_file_req_finish(req, res);
		if (!ring->up)
			return; /* a callback destroyed the loop */
	}
	if (io_uring_sq_ready(&ring->uring))
		base_defer(ring->loop, &ring->submit_defer);
}

static void bs_file_ring_efd_cb(struct base_fd *f, uint32_t events)
{
	struct bs_file_ring *ring = container_of(f, struct bs_file_ring, efd);
	uint64_t count;

	while (read(f->fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	bs_file_ring_reap(ring);
}

static int bs_file_ring_up(struct bs_file_ring *ring, struct base_loop *loop)
{
	int err;

	err = io_uring_queue_init(BS_FILE_RING_ENTRIES, &ring->uring, 0);
	if (err < 0) {
		if (!atomic_exchange(&bs_file_warned_no_uring, true))
			LOG_WARN("backstore file: io_uring unavailable (%s); "
				 "using synchronous I/O",
				 strerror(-err));
		ring->unavailable = true;
		return 0;
	}
	ring->efd.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ring->efd.fd < 0) {
		err = -errno;
		goto fail_ring;
	}
	ring->efd.cb = bs_file_ring_efd_cb;
	err = io_uring_register_eventfd(&ring->uring, ring->efd.fd);
	if (err < 0)
		goto fail_efd;
	err = base_loop_add(loop, &ring->efd, EPOLLIN);
	if (err < 0)
		goto fail_efd;

	ring->hook.cb = bs_file_ring_loop_destroyed;
	base_loop_hook_add(loop, &ring->hook);
	base_defer_init(&ring->submit_defer, bs_file_ring_submit_cb);
	ring->loop = loop;
	ring->inflight = 0;
	ring->up = true;
	return 0;

fail_efd:
	close(ring->efd.fd);
fail_ring:
	io_uring_queue_exit(&ring->uring);
	LOG_ERR("backstore file: io_uring setup: %s", strerror(-err));
	return err;
}

/* The calling thread's ring for loop: *out is NULL when this thread uses
 * the synchronous path. */
static int bs_file_ring_get(struct base_loop *loop, struct bs_file_ring **out)
{
	struct bs_file_ring *ring = bs_file_tls_ring;
	int err;

	if (!ring) {
		ring = calloc(1, sizeof(*ring));
		if (!ring)
			return -ENOMEM;
		list_init(&ring->free_reqs);
		list_init(&ring->hook.link);
		pthread_once(&bs_file_ring_key_once, bs_file_ring_key_create);
		pthread_setspecific(bs_file_ring_key, ring);
		bs_file_tls_ring = ring;
	}
	if (ring->up && ring->loop != loop) {
		/* The thread moved to another loop (tests do this). */
		if (ring->inflight)
			return -EBUSY;
		bs_file_ring_down(ring);
	}
	if (!ring->up && !ring->unavailable) {
		err = bs_file_ring_up(ring, loop);
		if (err)
			return err;
	}
	*out = ring->unavailable ? NULL : ring;
	return 0;
}

void bs_file_test_force_sync(bool on)
{
	atomic_store(&bs_file_force_sync, on);
}

static struct bs_file_req *bs_file_req_alloc(struct bs_file_ring *ring)
{
	struct bs_file_req *req;

	if (ring && !list_empty(&ring->free_reqs)) {
		req = list_first_entry(&ring->free_reqs, struct bs_file_req,
				       link);
		list_del(&req->link);
		ring->nfree--;
	} else {
		req = malloc(sizeof(*req));
		if (!req)
			return NULL;
	}
	memset(req, 0, sizeof(*req));
	list_init(&req->link);
	req->ring = ring;
	return req;
}

static void bs_file_req_release(struct bs_file_req *req)
{
	struct bs_file_ring *ring = req->ring;

	free(req->rest);
	req->rest = NULL;
	if (ring && ring->up && ring->nfree < BS_FILE_REQ_CACHE_MAX) {
		list_add_head(&ring->free_reqs, &req->link);
		ring->nfree++;
	} else {
		free(req);
	}
}

/* ---- request state machine (io_uring path) ------------------------------ */

static struct io_uring_sqe *bs_file_sqe_get(struct bs_file_ring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->uring);

	if (!sqe) {
		/* SQ full: hand the batch to the kernel now, then retry. */
		io_uring_submit(&ring->uring);
		sqe = io_uring_get_sqe(&ring->uring);
	}
	return sqe;
}

/* After a short transfer of done_bytes, the part of io->iov still to go. */
static int bs_file_req_rest_build(struct bs_file_req *req)
{
	const struct bs_io *io = req->io;
	uint64_t skip = req->done_bytes;
	int i = 0, n;

	while (i < io->iovcnt && skip >= io->iov[i].iov_len) {
		skip -= io->iov[i].iov_len;
		i++;
	}
	n = io->iovcnt - i;
	free(req->rest);
	req->rest = malloc((size_t)n * sizeof(*req->rest));
	if (!req->rest)
		return -ENOMEM;
	memcpy(req->rest, io->iov + i, (size_t)n * sizeof(*req->rest));
	req->rest[0].iov_base = (char *)req->rest[0].iov_base + skip;
	req->rest[0].iov_len -= skip;
	req->rest_cnt = n;
	return 0;
}

static int bs_file_fallocate_mode(const struct bs_file_req *req)
{
	if (req->stage == BS_FILE_ZERO_PUNCH)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

static void bs_file_zero_iov_next(struct bs_file_req *req)
{
	uint64_t left = req->io->len - req->done_bytes;

	req->zero_iov.iov_base = bs_file_zeroes;
	req->zero_iov.iov_len =
		left < BS_FILE_ZERO_CHUNK ? (size_t)left : BS_FILE_ZERO_CHUNK;
}

/* Queues the next SQE of req; 0 or -errno (nothing queued). */
static int bs_file_req_prep(struct bs_file_req *req)
{
	struct bs_io *io = req->io;
	int fd = req->file->fd;
	struct io_uring_sqe *sqe = bs_file_sqe_get(req->ring);
	const struct iovec *iov = req->rest ? req->rest : io->iov;
	int iovcnt = req->rest ? req->rest_cnt : io->iovcnt;
	int rwf = (io->flags & BS_IO_FUA) ? RWF_DSYNC : 0;

	if (!sqe)
		return -EAGAIN;
	switch (io->op) {
	case BS_OP_READ:
		io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt,
				    io->offset + req->done_bytes);
		break;
	case BS_OP_WRITE:
		io_uring_prep_writev2(sqe, fd, iov, (unsigned)iovcnt,
				      io->offset + req->done_bytes, rwf);
		break;
	case BS_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case BS_OP_UNMAP:
	case BS_OP_WRITE_ZEROES:
		if (req->stage == BS_FILE_ZERO_WRITE) {
			bs_file_zero_iov_next(req);
			io_uring_prep_writev2(sqe, fd, &req->zero_iov, 1,
					      io->offset + req->done_bytes, rwf);
		} else {
			io_uring_prep_fallocate(sqe, fd,
						bs_file_fallocate_mode(req),
						io->offset, io->len);
		}
		break;
	}
	io_uring_sqe_set_data(sqe, req);
	base_defer(req->ring->loop, &req->ring->submit_defer);
	return 0;
}

/* Handles one CQE of req: either queues the next step or completes. */
static void bs_file_req_finish(struct bs_file_req *req, int res)
{
	struct bs_io *io = req->io;
	struct bs_file_ring *ring = req->ring;
	bool again = false;

	switch (io->op) {
	case BS_OP_READ:
	case BS_OP_WRITE:
		if (res < 0)
			break;
		if (res == 0 && req->done_bytes < io->len) {
			res = -EIO; /* EOF or no progress */
			break;
		}
		req->done_bytes += (uint64_t)res;
		if (req->done_bytes < io->len) {
			res = bs_file_req_rest_build(req);
			again = res == 0;
		}
		break;
	case BS_OP_FLUSH:
		break;
	case BS_OP_UNMAP:
	case BS_OP_WRITE_ZEROES:
		if (req->stage != BS_FILE_ZERO_WRITE) {
			if (res == -EOPNOTSUPP) {
				req->stage++;
				again = true;
			}
			break;
		}
		if (res < 0)
			break;
		if (res == 0) {
			res = -EIO;
			break;
		}
		req->done_bytes += (uint64_t)res;
		again = req->done_bytes < io->len;
		break;
	}

	if (again) {
		res = bs_file_req_prep(req);
		if (res == 0)
			return;
	}
	if (res > 0)
		res = 0;
	ring->inflight--;
	bs_file_req_release(req);
	io->done(io, res);
}

/* ---- synchronous path (no io_uring on this thread) ---------------------- */

static int bs_file_sync_rw(struct bs_file_req *req)
{
	struct bs_io *io = req->io;
	int rwf = (io->flags & BS_IO_FUA) ? RWF_DSYNC : 0;

	while (req->done_bytes < io->len) {
		const struct iovec *iov = req->rest ? req->rest : io->iov;
		int cnt = req->rest ? req->rest_cnt : io->iovcnt;
		off_t off = (off_t)(io->offset + req->done_bytes);
		ssize_t n;
		int err;

		if (io->op == BS_OP_READ)
			n = preadv2(req->file->fd, iov, cnt, off, 0);
		else
			n = pwritev2(req->file->fd, iov, cnt, off, rwf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		req->done_bytes += (uint64_t)n;
		if (req->done_bytes < io->len) {
			err = bs_file_req_rest_build(req);
			if (err)
				return err;
		}
	}
	return 0;
}

static int bs_file_sync_zero(struct bs_file_req *req)
{
	struct bs_io *io = req->io;
	int fd = req->file->fd;
	int rwf = (io->flags & BS_IO_FUA) ? RWF_DSYNC : 0;

	for (; req->stage != BS_FILE_ZERO_WRITE; req->stage++) {
		if (fallocate(fd, bs_file_fallocate_mode(req),
			      (off_t)io->offset, (off_t)io->len) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
	}
	while (req->done_bytes < io->len) {
		struct iovec v;
		ssize_t n;

		bs_file_zero_iov_next(req);
		v = req->zero_iov;
		n = pwritev2(fd, &v, 1, (off_t)(io->offset + req->done_bytes),
			     rwf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		req->done_bytes += (uint64_t)n;
	}
	return 0;
}

static void bs_file_sync_done(struct base_defer *d)
{
	struct bs_file_req *req = container_of(d, struct bs_file_req, defer);
	struct bs_io *io = req->io;
	int res = req->res;

	bs_file_req_release(req);
	io->done(io, res);
}

static void bs_file_sync_run(struct bs_file_req *req, struct base_loop *loop)
{
	struct bs_io *io = req->io;

	switch (io->op) {
	case BS_OP_READ:
	case BS_OP_WRITE:
		req->res = bs_file_sync_rw(req);
		break;
	case BS_OP_FLUSH:
		req->res = fdatasync(req->file->fd) == 0 ? 0 : -errno;
		break;
	case BS_OP_UNMAP:
	case BS_OP_WRITE_ZEROES:
		req->res = bs_file_sync_zero(req);
		break;
	}
	base_defer_init(&req->defer, bs_file_sync_done);
	base_defer(loop, &req->defer);
}

/* ---- ops ---------------------------------------------------------------- */

static bool bs_file_io_aligned(const struct bs_file *f, const struct bs_io *io)
{
	uint64_t mask = f->bs.dio_align - 1;
	int i;

	if ((io->offset | io->len) & mask)
		return false;
	for (i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) &
		    mask)
			return false;
	return true;
}

static int bs_file_submit(struct backstore *bs, struct bs_io *io)
{
	struct bs_file *f = container_of(bs, struct bs_file, bs);
	struct base_loop *loop = base_loop_current();
	struct bs_file_ring *ring;
	struct bs_file_req *req;
	bool zero_work;
	int err;

	if (f->bs.dio_align > 1 &&
	    (io->op == BS_OP_READ || io->op == BS_OP_WRITE) &&
	    !bs_file_io_aligned(f, io))
		return -EINVAL;

	if (atomic_load_explicit(&bs_file_force_sync, memory_order_relaxed))
		ring = NULL;
	else if ((err = bs_file_ring_get(loop, &ring)) != 0)
		return err;
	req = bs_file_req_alloc(ring);
	if (!req)
		return -ENOMEM;
	req->io = io;
	req->file = f;
	req->stage = io->op == BS_OP_UNMAP ? BS_FILE_ZERO_PUNCH
					   : BS_FILE_ZERO_RANGE;

	/* Nothing to do (fallocate rejects len 0): complete on the loop. */
	zero_work = io->op != BS_OP_FLUSH && io->len == 0;
	if (!ring || zero_work) {
		req->ring = NULL;
		if (zero_work) {
			req->res = 0;
			base_defer_init(&req->defer, bs_file_sync_done);
			base_defer(loop, &req->defer);
		} else {
			bs_file_sync_run(req, loop);
		}
		return 0;
	}

	err = bs_file_req_prep(req);
	if (err) {
		bs_file_req_release(req);
		return err;
	}
	ring->inflight++;
	return 0;
}

static int64_t bs_file_map_status(struct backstore *bs, uint64_t offset,
				  bool *mapped)
{
	struct bs_file *f = container_of(bs, struct bs_file, bs);
	uint64_t end = bs->size;
	off_t data, hole;

	*mapped = true;
	if (f->is_blkdev)
		return (int64_t)(end - offset);

	data = lseek(f->fd, (off_t)offset, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) { /* only a hole from here to EOF */
			*mapped = false;
			return (int64_t)(end - offset);
		}
		if (errno == EINVAL) /* SEEK_DATA unsupported: all data */
			return (int64_t)(end - offset);
		return -errno;
	}
	if ((uint64_t)data > offset) {
		*mapped = false;
		return (int64_t)(((uint64_t)data < end ? (uint64_t)data : end) -
				 offset);
	}
	hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
	if (hole < 0)
		return -errno;
	return (int64_t)(((uint64_t)hole < end ? (uint64_t)hole : end) -
			 offset);
}

/* Whether a block device can deallocate: its queue's discard_max_bytes
 * (a partition's queue is its disk's). */
static bool bs_file_blkdev_can_discard(dev_t rdev)
{
	static const char *const fmts[] = {
		"/sys/dev/block/%u:%u/queue/discard_max_bytes",
		"/sys/dev/block/%u:%u/../queue/discard_max_bytes",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fmts); i++) {
		char path[128];
		unsigned long long v = 0;
		FILE *fp;
		int n;

		snprintf(path, sizeof(path), fmts[i], major(rdev),
			 minor(rdev));
		fp = fopen(path, "re");
		if (!fp)
			continue;
		n = fscanf(fp, "%llu", &v);
		fclose(fp);
		return n == 1 && v > 0;
	}
	return false;
}

/* O_DIRECT alignment of a regular file: what statx reports (Linux 6.1+,
 * e.g. 512 on ext4 over a 512-byte device), else a safe 4096. */
static uint32_t bs_file_dio_align_file(int fd)
{
	struct statx stx;
	uint32_t a;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0 ||
	    !(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_offset_align == 0)
		return BS_FILE_DIO_ALIGN_FILE;
	a = stx.stx_dio_offset_align;
	if (stx.stx_dio_mem_align > a)
		a = stx.stx_dio_mem_align;
	/* The checks use a mask: anything odd gets the safe default. */
	return (a & (a - 1)) == 0 ? a : BS_FILE_DIO_ALIGN_FILE;
}

static int bs_file_size_setup(struct bs_file *f, const struct bs_config *cfg,
			      const struct stat *st)
{
	if (S_ISBLK(st->st_mode)) {
		uint64_t devsize;
		int lbs;

		f->is_blkdev = true;
		if (ioctl(f->fd, BLKGETSIZE64, &devsize) < 0)
			return -errno;
		if (cfg->size > devsize) {
			LOG_ERR("backstore file %s: size %llu exceeds the "
				"device's %llu bytes",
				cfg->path, (unsigned long long)cfg->size,
				(unsigned long long)devsize);
			return -EINVAL;
		}
		f->bs.size = cfg->size ? cfg->size : devsize;
		if (cfg->direct) {
			if (ioctl(f->fd, BLKSSZGET, &lbs) < 0 || lbs <= 0)
				lbs = 512;
			f->bs.dio_align = (uint32_t)lbs;
		}
		f->bs.can_unmap = bs_file_blkdev_can_discard(st->st_rdev);
		return 0;
	}
	if (!S_ISREG(st->st_mode)) {
		LOG_ERR("backstore file %s: not a regular file or block "
			"device",
			cfg->path);
		return -EINVAL;
	}
	if (cfg->size == 0) {
		if (st->st_size == 0) {
			LOG_ERR("backstore file %s: empty file and no size",
				cfg->path);
			return -EINVAL;
		}
		f->bs.size = (uint64_t)st->st_size;
	} else {
		if ((uint64_t)st->st_size < cfg->size) {
			if (cfg->readonly) {
				LOG_ERR("backstore file %s: smaller than size "
					"and read-only",
					cfg->path);
				return -EINVAL;
			}
			if (ftruncate(f->fd, (off_t)cfg->size) < 0) {
				int err = -errno;

				LOG_ERR("backstore file %s: extend to %llu: %s",
					cfg->path,
					(unsigned long long)cfg->size,
					strerror(errno));
				return err;
			}
		}
		f->bs.size = cfg->size;
	}
	if (cfg->direct)
		f->bs.dio_align = bs_file_dio_align_file(f->fd);
	f->bs.can_unmap = true;
	return 0;
}

static int bs_file_open(const struct bs_config *cfg, struct backstore **out)
{
	struct bs_file *f;
	struct stat st;
	bool created = false;
	int flags, err;

	if (!cfg->path || !cfg->path[0]) {
		LOG_ERR("backstore file: no path");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(cfg->path);
	if (!f->path) {
		free(f);
		return -ENOMEM;
	}
	f->bs.dio_align = 1;
	f->bs.readonly = cfg->readonly;

	flags = (cfg->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		(cfg->direct ? O_DIRECT : 0);
	f->fd = open(cfg->path, flags);
	if (f->fd < 0 && errno == ENOENT && cfg->size && !cfg->readonly) {
		f->fd = open(cfg->path, flags | O_CREAT | O_EXCL, 0600);
		created = f->fd >= 0;
	}
	if (f->fd < 0) {
		err = -errno;
		LOG_ERR("backstore file %s: open%s: %s", cfg->path,
			cfg->direct ? " (O_DIRECT)" : "", strerror(errno));
		if (cfg->direct && errno == EINVAL)
			LOG_ERR("backstore file %s: the filesystem does not "
				"support O_DIRECT (tmpfs?)",
				cfg->path);
		goto fail;
	}
	if (fstat(f->fd, &st) < 0) {
		err = -errno;
		goto fail_fd;
	}
	err = bs_file_size_setup(f, cfg, &st);
	if (err)
		goto fail_fd;

	*out = &f->bs;
	return 0;

fail_fd:
	close(f->fd);
	if (created)
		unlink(cfg->path);
fail:
	free(f->path);
	free(f);
	return err;
}

static void bs_file_close(struct backstore *bs)
{
	struct bs_file *f = container_of(bs, struct bs_file, bs);

	if (!f->bs.readonly && fdatasync(f->fd) < 0)
		LOG_ERR("backstore file %s: fdatasync at close: %s", f->path,
			strerror(errno));
	if (close(f->fd) < 0)
		LOG_ERR("backstore file %s: close: %s", f->path,
			strerror(errno));
	free(f->path);
	free(f);
}

const struct bs_ops bs_file_ops = {
	.type = "file",
	.open = bs_file_open,
	.close = bs_file_close,
	.submit = bs_file_submit,
	.map_status = bs_file_map_status,
};
