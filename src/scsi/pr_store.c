/*
 * APTPL files: durable writes of a LU's persistent-reservation image
 * (SPC-4 5.14.5) off the event loops, and the one read at start.
 *
 * One writer thread for the process, fed by a FIFO of stores with work.
 * scsi_pr_store_submit() hands over an encoded image and never blocks on
 * I/O; a later image of the same store replaces one not yet written (the
 * file only ever needs the newest), and every waiter completes once a
 * write that includes its image (its sequence number or a later one) is
 * durable, or with the error of that write. A write is: the image into
 * "<path>.tmp" in the same directory, fsync, rename over <path>, fsync of
 * the directory, so after a crash the file holds the old image or the new
 * one, never a mix (a leftover .tmp is removed at open). Waiters hear back
 * on their own event loop (base_loop_post), or on the writer thread when
 * they name no loop.
 *
 * Deliberately NOT here: what the image contains (src/pr/pr_aptpl.c),
 * when a write is due and what the command answers (spc_pr.c). Lock
 * order: lu->pr_lock -> the writer lock; the writer thread takes no other
 * lock and does no I/O while holding its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "scsi/scsi_internal.h"

struct scsi_pr_store {
	char *path;
	char *tmp;                  /* "<path>.tmp" */
	char *dir;                  /* the directory holding both */
	struct list_head queue_link;
	bool queued;                /* in the writer's FIFO */
	bool writing;               /* the writer holds an image of it */
	uint8_t *pending;           /* newest image not yet being written */
	size_t pending_len;
	uint64_t pending_seq;
	uint64_t next_seq;          /* last sequence number given out */
	uint64_t done_seq;          /* last sequence number written or failed */
	int last_err;               /* of the write that ended done_seq */
	struct list_head waiters;   /* scsi_pr_store_waiter, by seq */
};

/* The writer: a thread started with the first store, stopped with the
 * last; everything below is under lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;        /* the FIFO got an entry, or stop */
	pthread_cond_t idle;        /* a write ended */
	struct list_head fifo;
	pthread_t thread;
	unsigned stores;
	bool stop;
} scsi_pr_writer = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
	.fifo = LIST_HEAD_INIT(scsi_pr_writer.fifo),
};

/* Serialises starting and joining the writer thread (config time), so
 * an open never races with the join of the last close. Taken before
 * scsi_pr_writer.lock, never by the writer thread. */
static pthread_mutex_t scsi_pr_writer_life = PTHREAD_MUTEX_INITIALIZER;

int (*scsi_pr_store_fault)(const char *step, const char *path);

/* A failure injected by the unit tests at one step of a write. */
static int scsi_pr_store_fault_at(const char *step, const char *path)
{
	return scsi_pr_store_fault ? scsi_pr_store_fault(step, path) : 0;
}

static int scsi_pr_store_dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The whole write; 0 or -errno. Never leaves a .tmp behind on error. */
static int scsi_pr_store_write_file(struct scsi_pr_store *s,
				    const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int fd, err;

	err = scsi_pr_store_fault_at("open", s->path);
	if (err)
		return err;
	fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n;

		err = scsi_pr_store_fault_at("write", s->path);
		if (err)
			goto fail;
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	err = scsi_pr_store_fault_at("fsync", s->path);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	fd = -1;
	if (err)
		goto fail;
	err = scsi_pr_store_fault_at("rename", s->path);
	if (!err && rename(s->tmp, s->path) < 0)
		err = -errno;
	if (err)
		goto fail;
	/* The rename is durable once the directory is. */
	err = scsi_pr_store_fault_at("dirsync", s->path);
	if (!err)
		err = scsi_pr_store_dir_sync(s->dir);
	return err;
fail:
	if (fd >= 0)
		close(fd);
	unlink(s->tmp);
	return err;
}

static void scsi_pr_store_waiter_run(void *arg)
{
	struct scsi_pr_store_waiter *w = arg;

	w->done(w);
}

/* Hands w back on its loop. The writer thread may wait for memory. */
static void scsi_pr_store_waiter_deliver(struct scsi_pr_store_waiter *w)
{
	const struct timespec ms = { 0, 1000 * 1000 };
	unsigned tries = 0;

	if (!w->loop) {
		w->done(w);
		return;
	}
	while (base_loop_post(w->loop, scsi_pr_store_waiter_run, w) != 0) {
		if (tries++ % 1000 == 0)
			LOG_WARN("scsi: APTPL: no memory to complete a "
				 "command; retrying");
		nanosleep(&ms, NULL);
	}
}

static void *scsi_pr_store_writer_run(void *arg)
{
	struct list_head done;
	struct scsi_pr_store_waiter *w, *wn;

	(void)arg;
	pthread_mutex_lock(&scsi_pr_writer.lock);
	for (;;) {
		struct scsi_pr_store *s;
		uint8_t *buf;
		size_t len;
		uint64_t seq;
		int err;

		if (list_empty(&scsi_pr_writer.fifo)) {
			if (scsi_pr_writer.stop)
				break;
			pthread_cond_wait(&scsi_pr_writer.work,
					  &scsi_pr_writer.lock);
			continue;
		}
		s = list_first_entry(&scsi_pr_writer.fifo, struct scsi_pr_store,
				     queue_link);
		list_del(&s->queue_link);
		s->queued = false;
		buf = s->pending;
		len = s->pending_len;
		seq = s->pending_seq;
		s->pending = NULL;
		s->writing = true;
		pthread_mutex_unlock(&scsi_pr_writer.lock);

		err = scsi_pr_store_write_file(s, buf, len);
		free(buf);
		if (err)
			LOG_ERR("scsi: APTPL file %s: write failed: %s",
				s->path, strerror(-err));

		list_init(&done);
		pthread_mutex_lock(&scsi_pr_writer.lock);
		s->writing = false;
		s->done_seq = seq;
		s->last_err = err;
		list_for_each_entry_safe(w, wn, &s->waiters, link) {
			if (w->seq > seq)
				break;
			list_del(&w->link);
			w->err = err;
			list_add_tail(&done, &w->link);
		}
		pthread_cond_broadcast(&scsi_pr_writer.idle);
		pthread_mutex_unlock(&scsi_pr_writer.lock);
		/* s may be closed from here on: only the waiters are used. */
		list_for_each_entry_safe(w, wn, &done, link) {
			list_del(&w->link);
			scsi_pr_store_waiter_deliver(w);
		}
		pthread_mutex_lock(&scsi_pr_writer.lock);
	}
	pthread_mutex_unlock(&scsi_pr_writer.lock);
	return NULL;
}

/* mkdir -p of dir; each directory made is made durable in its parent. */
static int scsi_pr_store_mkdir(const char *dir)
{
	char *p = strdup(dir), *slash;
	struct stat st;
	int err = 0;

	if (!p)
		return -ENOMEM;
	if (stat(p, &st) == 0) {
		err = S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
		free(p);
		return err;
	}
	slash = strrchr(p, '/');
	if (slash && slash != p) {
		*slash = '\0';
		err = scsi_pr_store_mkdir(p);
		*slash = '/';
	}
	if (!err && mkdir(p, 0700) < 0 && errno != EEXIST)
		err = -errno;
	if (!err && slash) {
		if (slash == p)
			err = scsi_pr_store_dir_sync("/");
		else {
			*slash = '\0';
			err = scsi_pr_store_dir_sync(p);
		}
	}
	free(p);
	return err;
}

int scsi_pr_store_open(const char *path, struct scsi_pr_store **out)
{
	struct scsi_pr_store *s;
	const char *slash;
	int err;

	if (!path || !*path || path[strlen(path) - 1] == '/')
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	list_init(&s->waiters);
	list_init(&s->queue_link);
	slash = strrchr(path, '/');
	s->path = strdup(path);
	if (asprintf(&s->tmp, "%s.tmp", path) < 0)
		s->tmp = NULL;
	if (!slash)
		s->dir = strdup(".");
	else if (slash == path)
		s->dir = strdup("/");
	else
		s->dir = strndup(path, (size_t)(slash - path));
	if (!s->path || !s->tmp || !s->dir) {
		err = -ENOMEM;
		goto fail;
	}
	err = scsi_pr_store_mkdir(s->dir);
	if (!err && access(s->dir, W_OK | X_OK) < 0)
		err = -errno;
	if (err)
		goto fail;
	/* A crash between write and rename leaves the old file and a
	 * .tmp nobody will rename: drop it. */
	unlink(s->tmp);

	pthread_mutex_lock(&scsi_pr_writer_life);
	if (scsi_pr_writer.stores == 0) {
		scsi_pr_writer.stop = false;
		err = -pthread_create(&scsi_pr_writer.thread, NULL,
				      scsi_pr_store_writer_run, NULL);
		if (!err)
			pthread_setname_np(scsi_pr_writer.thread, "aptpl");
	}
	if (!err) {
		pthread_mutex_lock(&scsi_pr_writer.lock);
		scsi_pr_writer.stores++;
		pthread_mutex_unlock(&scsi_pr_writer.lock);
	}
	pthread_mutex_unlock(&scsi_pr_writer_life);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	free(s->dir);
	free(s->tmp);
	free(s->path);
	free(s);
	return err;
}

const char *scsi_pr_store_path(const struct scsi_pr_store *s)
{
	return s->path;
}

int scsi_pr_store_read(const struct scsi_pr_store *s, size_t max,
		       uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b;
	size_t off = 0;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
		goto out;
	}
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, b + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Shorter than fstat said: decode sees it cut. */
			if (n < 0) {
				err = -errno;
				free(b);
				goto out;
			}
			break;
		}
		off += (size_t)n;
	}
	*buf = b;
	*len = off;
out:
	close(fd);
	return err;
}

uint64_t scsi_pr_store_submit(struct scsi_pr_store *s, uint8_t *buf,
			      size_t len, struct scsi_pr_store_waiter *w)
{
	uint64_t seq;

	pthread_mutex_lock(&scsi_pr_writer.lock);
	free(s->pending); /* superseded: the new image includes it */
	s->pending = buf;
	s->pending_len = len;
	seq = s->pending_seq = ++s->next_seq;
	if (w) {
		w->seq = seq;
		w->err = 0;
		list_add_tail(&s->waiters, &w->link);
	}
	if (!s->queued) {
		s->queued = true;
		list_add_tail(&scsi_pr_writer.fifo, &s->queue_link);
		pthread_cond_signal(&scsi_pr_writer.work);
	}
	pthread_mutex_unlock(&scsi_pr_writer.lock);
	return seq;
}

int scsi_pr_store_flush(struct scsi_pr_store *s)
{
	int err;

	pthread_mutex_lock(&scsi_pr_writer.lock);
	while (s->done_seq < s->next_seq || s->writing || s->queued)
		pthread_cond_wait(&scsi_pr_writer.idle, &scsi_pr_writer.lock);
	err = s->last_err;
	pthread_mutex_unlock(&scsi_pr_writer.lock);
	return err;
}

void scsi_pr_store_close(struct scsi_pr_store *s)
{
	bool join = false;

	if (!s)
		return;
	scsi_pr_store_flush(s);
	pthread_mutex_lock(&scsi_pr_writer_life);
	pthread_mutex_lock(&scsi_pr_writer.lock);
	if (--scsi_pr_writer.stores == 0) {
		scsi_pr_writer.stop = true;
		pthread_cond_signal(&scsi_pr_writer.work);
		join = true;
	}
	pthread_mutex_unlock(&scsi_pr_writer.lock);
	if (join)
		pthread_join(scsi_pr_writer.thread, NULL);
	pthread_mutex_unlock(&scsi_pr_writer_life);
	free(s->pending);
	free(s->dir);
	free(s->tmp);
	free(s->path);
	free(s);
}
