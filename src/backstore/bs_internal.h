/*
 * Private to src/backstore: the ops table every backend fills in, and the
 * common header each backend's object embeds.
 *
 * backstore.c validates a request (range, read-only, iovec count, that a
 * loop is current) before it reaches a backend, so backends only check
 * what is specific to them (e.g. O_DIRECT alignment).
 */
#ifndef CTGT_BACKSTORE_BS_INTERNAL_H
#define CTGT_BACKSTORE_BS_INTERNAL_H

#include "backstore/backstore.h"

struct bs_ops {
	const char *type; /* bs_config.type that selects this backend */
	int (*open)(const struct bs_config *cfg, struct backstore **out);
	void (*close)(struct backstore *bs);
	/* Same contract as bs_submit(), on a validated request. */
	int (*submit)(struct backstore *bs, struct bs_io *io);
	/* Same contract as bs_map_status(), offset < size. */
	int64_t (*map_status)(struct backstore *bs, uint64_t offset,
			      bool *mapped);
};

/* Embedded in each backend's object; backends use container_of. */
struct backstore {
	const struct bs_ops *ops;
	uint64_t size;
	uint32_t dio_align; /* 1 when buffers need no alignment */
	bool can_unmap;
	bool readonly;
};

/* Test hook: while on, every file-backend submit takes the synchronous
 * path, as when io_uring is unavailable. */
void bs_file_test_force_sync(bool on);

extern const struct bs_ops bs_file_ops;
extern const struct bs_ops bs_ram_ops;
extern const struct bs_ops bs_null_ops;

#endif
