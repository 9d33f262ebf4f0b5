/*
 * "null" backstore: stores nothing. Reads return zeroes, writes and
 * everything else succeed and are forgotten.
 *
 * For measuring the fabric and the core without any storage cost (DESIGN.md
 * lists it next to ram). Completions run from a base_defer on the caller's
 * loop, as the backstore contract requires.
 *
 * Deliberately not here: any data. bs_map_status() reports the whole store
 * as deallocated, which is what reading zeroes means under LBPRZ.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/bs_internal.h"
#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"

struct bs_null_req {
	struct base_defer defer;
	struct bs_io *io;
};

static int bs_null_open(const struct bs_config *cfg, struct backstore **out)
{
	struct backstore *bs;

	if (cfg->size == 0) {
		LOG_ERR("backstore null: a size is required");
		return -EINVAL;
	}
	bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	bs->size = cfg->size;
	bs->dio_align = 1;
	bs->can_unmap = true;
	bs->readonly = cfg->readonly;
	*out = bs;
	return 0;
}

static void bs_null_close(struct backstore *bs)
{
	free(bs);
}

static void bs_null_req_done(struct base_defer *d)
{
	struct bs_null_req *req = container_of(d, struct bs_null_req, defer);
	struct bs_io *io = req->io;

	free(req);
	io->done(io, 0);
}

static int bs_null_submit(struct backstore *bs, struct bs_io *io)
{
	struct bs_null_req *req = malloc(sizeof(*req));
	int i;

	if (!req)
		return -ENOMEM;
	if (io->op == BS_OP_READ)
		for (i = 0; i < io->iovcnt; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	req->io = io;
	base_defer_init(&req->defer, bs_null_req_done);
	base_defer(base_loop_current(), &req->defer);
	return 0;
}

static int64_t bs_null_map_status(struct backstore *bs, uint64_t offset,
				  bool *mapped)
{
	*mapped = false;
	return (int64_t)(bs->size - offset);
}

const struct bs_ops bs_null_ops = {
	.type = "null",
	.open = bs_null_open,
	.close = bs_null_close,
	.submit = bs_null_submit,
	.map_status = bs_null_map_status,
};
