/*
 * Backstore interface: the storage under a LUN.
 *
 * A backstore never sees a CDB (DESIGN.md): the SCSI core decodes commands
 * and submits byte-addressed operations here. Implementations: "file" (a
 * regular file or block device on io_uring, optionally O_DIRECT), "ram"
 * (memory, for tests and benchmarks) and "null" (stores nothing, reads
 * zeroes: for measuring the fabric alone).
 *
 * Threading: bs_submit() may be called from any event-loop thread; the done
 * callback runs later on the same thread's loop, never inside bs_submit().
 * The file backend keeps one io_uring per loop thread for this.
 */
#ifndef CTGT_BACKSTORE_BACKSTORE_H
#define CTGT_BACKSTORE_BACKSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum bs_op {
	BS_OP_READ,
	BS_OP_WRITE,
	BS_OP_FLUSH,        /* offset/len ignored: the whole store (fdatasync) */
	BS_OP_UNMAP,        /* deallocate; reads return zeroes afterwards */
	BS_OP_WRITE_ZEROES, /* zero the range; may deallocate when thin */
};

#define BS_IO_FUA 0x1u /* write is durable before done (RWF_DSYNC) */

struct bs_io {
	enum bs_op op;
	unsigned flags;
	uint64_t offset; /* bytes */
	uint64_t len;    /* bytes; for READ/WRITE the sum of the iov lengths */
	const struct iovec *iov;
	int iovcnt;
	/* res: 0 on success, -errno on failure (short transfers are -EIO). */
	void (*done)(struct bs_io *io, int res);
};

struct bs_config {
	const char *type;  /* "file", "ram" or "null" */
	const char *path;  /* file: path; created sparse if missing and size set */
	uint64_t size;     /* bytes; 0 = take the file's size */
	bool direct;       /* O_DIRECT */
	bool readonly;
};

struct backstore;

/* 0 and *out set, or -errno with a logged reason. */
int bs_open(const struct bs_config *cfg, struct backstore **out);
void bs_close(struct backstore *bs);
uint64_t bs_size(const struct backstore *bs);
bool bs_can_unmap(const struct backstore *bs);
/* Whether a byte range is allocated (for GET LBA STATUS). Returns the
 * length of the run starting at offset that shares one state, in bytes,
 * with *mapped set; or -errno. Synchronous (lseek SEEK_DATA/SEEK_HOLE). */
int64_t bs_map_status(struct backstore *bs, uint64_t offset, bool *mapped);

/* 0: done will be called exactly once, later, on this thread's loop.
 * <0 (-errno): done will not be called. Must be called on an event-loop
 * thread (base_loop_current() != NULL), else -EINVAL. Other errors:
 * -ERANGE beyond bs_size(), -EROFS writing a read-only store, -EINVAL bad
 * iovec or (direct) misalignment, -ENOMEM / -EAGAIN out of resources:
 * retry later (back-pressure, not a medium error). */
int bs_submit(struct backstore *bs, struct bs_io *io);

/* Alignment in bytes that READ/WRITE buffers, offsets and lengths need:
 * 1 normally; with direct (O_DIRECT) the device's logical block size, or
 * for a regular file what statx(STATX_DIOALIGN) reports (4096 if it cannot
 * tell); at most 4096 in practice. The fabric allocates task buffers with
 * posix_memalign(4096) so that any LUN accepts them. (Added after the
 * first contract.) */
uint32_t bs_dio_align(const struct backstore *bs);

#endif
