/*
 * "ram" backstore: the store is anonymous memory, for tests and benchmarks.
 *
 * The memory is one private anonymous mapping with MAP_NORESERVE, so a
 * large store costs nothing until written, and unmapped ranges go back to
 * the kernel (madvise MADV_DONTNEED reads back as zeroes). Requests are
 * copied synchronously inside bs_submit(); the done callback runs from a
 * base_defer on the caller's loop, as the backstore contract requires.
 *
 * Deliberately not here: persistence, O_DIRECT alignment (ignored), and
 * allocation tracking: bs_map_status() reports every byte as mapped.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backstore/bs_internal.h"
#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"

struct bs_ram {
	struct backstore bs;
	unsigned char *mem;
};

/* One per request: carries the result to the deferred completion. */
struct bs_ram_req {
	struct base_defer defer;
	struct bs_io *io;
	int res;
};

static int bs_ram_open(const struct bs_config *cfg, struct backstore **out)
{
	struct bs_ram *r;
	void *mem;

	if (cfg->size == 0 || cfg->size > SIZE_MAX / 2) {
		LOG_ERR("backstore ram: size %llu is not usable",
			(unsigned long long)cfg->size);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	mem = mmap(NULL, (size_t)cfg->size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;

		LOG_ERR("backstore ram: mmap %llu bytes: %s",
			(unsigned long long)cfg->size, strerror(errno));
		free(r);
		return err;
	}
	r->mem = mem;
	r->bs.size = cfg->size;
	r->bs.dio_align = 1;
	r->bs.can_unmap = true;
	r->bs.readonly = cfg->readonly;
	*out = &r->bs;
	return 0;
}

static void bs_ram_close(struct backstore *bs)
{
	struct bs_ram *r = container_of(bs, struct bs_ram, bs);

	munmap(r->mem, (size_t)r->bs.size);
	free(r);
}

/* Zeroes [off, off + len): whole pages are handed back to the kernel,
 * partial pages at the edges are cleared in place. */
static void bs_ram_zero(struct bs_ram *r, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t end = off + len;
	uint64_t in_start = (off + page - 1) & ~(page - 1);
	uint64_t in_end = end & ~(page - 1);

	if (in_start >= in_end ||
	    madvise(r->mem + in_start, (size_t)(in_end - in_start),
		    MADV_DONTNEED) != 0) {
		memset(r->mem + off, 0, (size_t)len);
		return;
	}
	memset(r->mem + off, 0, (size_t)(in_start - off));
	memset(r->mem + in_end, 0, (size_t)(end - in_end));
}

static void bs_ram_copy(struct bs_ram *r, const struct bs_io *io)
{
	unsigned char *p = r->mem + io->offset;
	int i;

	for (i = 0; i < io->iovcnt; i++) {
		size_t n = io->iov[i].iov_len;

		if (io->op == BS_OP_READ)
			memcpy(io->iov[i].iov_base, p, n);
		else
			memcpy(p, io->iov[i].iov_base, n);
		p += n;
	}
}

static void bs_ram_req_done(struct base_defer *d)
{
	struct bs_ram_req *req = container_of(d, struct bs_ram_req, defer);
	struct bs_io *io = req->io;
	int res = req->res;

	free(req);
	io->done(io, res);
}

static int bs_ram_submit(struct backstore *bs, struct bs_io *io)
{
	struct bs_ram *r = container_of(bs, struct bs_ram, bs);
	struct bs_ram_req *req;

	req = malloc(sizeof(*req));
	if (!req)
		return -ENOMEM;

	switch (io->op) {
	case BS_OP_READ:
	case BS_OP_WRITE:
		bs_ram_copy(r, io);
		break;
	case BS_OP_UNMAP:
	case BS_OP_WRITE_ZEROES:
		if (io->len)
			bs_ram_zero(r, io->offset, io->len);
		break;
	case BS_OP_FLUSH:
		break;
	}

	req->io = io;
	req->res = 0;
	base_defer_init(&req->defer, bs_ram_req_done);
	base_defer(base_loop_current(), &req->defer);
	return 0;
}

static int64_t bs_ram_map_status(struct backstore *bs, uint64_t offset,
				 bool *mapped)
{
	*mapped = true;
	return (int64_t)(bs->size - offset);
}

const struct bs_ops bs_ram_ops = {
	.type = "ram",
	.open = bs_ram_open,
	.close = bs_ram_close,
	.submit = bs_ram_submit,
	.map_status = bs_ram_map_status,
};
