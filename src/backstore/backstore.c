/*
 * Backstore front door: picks the backend by type and checks every request
 * before a backend sees it.
 *
 * The checks here are the ones every backend needs: the byte range lies
 * within the store, writes go to a writable store, READ/WRITE carry an
 * iovec whose lengths add up to len, and the caller runs on an event loop
 * (completions are delivered on it). Deliberately not here: anything SCSI
 * (block sizes, LBAs, sense): the core turns our -errno into sense data.
 */
#include "backstore/backstore.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "backstore/bs_internal.h"
#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"

static const struct bs_ops *const bs_ops_table[] = {
	&bs_file_ops,
	&bs_ram_ops,
	&bs_null_ops,
};

int bs_open(const struct bs_config *cfg, struct backstore **out)
{
	size_t i;

	if (!cfg || !cfg->type) {
		LOG_ERR("backstore: no type given");
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(bs_ops_table); i++) {
		const struct bs_ops *ops = bs_ops_table[i];
		int err;

		if (strcmp(ops->type, cfg->type) != 0)
			continue;
		err = ops->open(cfg, out);
		if (err == 0) {
			(*out)->ops = ops;
			LOG_INFO("backstore %s%s%s: %llu bytes%s%s", cfg->type,
				 cfg->path ? " " : "",
				 cfg->path ? cfg->path : "",
				 (unsigned long long)(*out)->size,
				 cfg->direct ? ", direct" : "",
				 cfg->readonly ? ", read-only" : "");
		}
		return err;
	}
	LOG_ERR("backstore: unknown type \"%s\" (file, ram or null)",
		cfg->type);
	return -EINVAL;
}

void bs_close(struct backstore *bs)
{
	if (bs)
		bs->ops->close(bs);
}

uint64_t bs_size(const struct backstore *bs)
{
	return bs->size;
}

bool bs_can_unmap(const struct backstore *bs)
{
	return bs->can_unmap;
}

uint32_t bs_dio_align(const struct backstore *bs)
{
	return bs->dio_align;
}

int64_t bs_map_status(struct backstore *bs, uint64_t offset, bool *mapped)
{
	if (offset >= bs->size)
		return -ERANGE;
	return bs->ops->map_status(bs, offset, mapped);
}

static int bs_io_check(const struct backstore *bs, const struct bs_io *io)
{
	uint64_t sum = 0;
	int i;

	if (!io->done)
		return -EINVAL;
	switch (io->op) {
	case BS_OP_FLUSH:
		return 0; /* offset/len ignored */
	case BS_OP_READ:
	case BS_OP_WRITE:
		if (io->iovcnt < 0 || io->iovcnt > IOV_MAX ||
		    (io->iovcnt > 0 && !io->iov))
			return -EINVAL;
		for (i = 0; i < io->iovcnt; i++)
			sum += io->iov[i].iov_len;
		if (sum != io->len)
			return -EINVAL;
		break;
	case BS_OP_UNMAP:
	case BS_OP_WRITE_ZEROES:
		break;
	default:
		return -EINVAL;
	}
	if (io->offset > bs->size || io->len > bs->size - io->offset)
		return -ERANGE;
	if (io->op != BS_OP_READ && bs->readonly)
		return -EROFS;
	return 0;
}

int bs_submit(struct backstore *bs, struct bs_io *io)
{
	int err;

	if (!base_loop_current())
		return -EINVAL;
	err = bs_io_check(bs, io);
	if (err)
		return err;
	return bs->ops->submit(bs, io);
}
