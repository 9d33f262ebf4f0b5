/*
 * The replicated lock table (cluster_lock_table.h): resources sorted by
 * name, each with its entries in commit order; the grant rule, the ops,
 * canonical save / all-or-nothing load, the op codec and the invariant
 * check the tests run after every op.
 *
 * The grant rule is evaluated per resource only (entries of different
 * resources never conflict), so a pass costs O(n^2) in the entries of
 * one resource, not of the table. Deliberately no I/O, no clock, no
 * callbacks: results are lists the lock manager turns into callbacks.
 */
#include "cluster/cluster_lock_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER_LOCK_TABLE_MAGIC 0x434c4b54u  /* "CLKT" */
#define CLUSTER_LOCK_TABLE_FORMAT 1
#define CLUSTER_LOCK_TABLE_HDR 12u
#define CLUSTER_LOCK_TABLE_RES_HDR 8u
#define CLUSTER_LOCK_TABLE_ENT 32u

#define CLUSTER_LOCK_ENT_GRANTED 0x1u
#define CLUSTER_LOCK_ENT_CACHED 0x2u
#define CLUSTER_LOCK_OP_FLAG_CACHE 0x1u

/* ------------------------------------------------------------ big endian */

static void cluster_lock_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void cluster_lock_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void cluster_lock_put64(uint8_t *p, uint64_t v)
{
	cluster_lock_put32(p, (uint32_t)(v >> 32));
	cluster_lock_put32(p + 4, (uint32_t)v);
}

static uint16_t cluster_lock_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t cluster_lock_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t cluster_lock_get64(const uint8_t *p)
{
	return ((uint64_t)cluster_lock_get32(p) << 32) |
	       cluster_lock_get32(p + 4);
}

/* -------------------------------------------------------------- conflict */

static bool cluster_lock_range_overlap(uint64_t as, uint64_t al, uint64_t bs,
				       uint64_t bl)
{
	if (al == 0 || bl == 0)
		return true;
	/* valid ranges never wrap: start + len <= UINT64_MAX */
	return as < bs + bl && bs < as + al;
}

bool cluster_lock_entry_conflict(const struct cluster_lock_entry *a,
				 const struct cluster_lock_entry *b)
{
	if (a->res != b->res)
		return false;
	if (a->mode != CLUSTER_LOCK_EXCLUSIVE &&
	    b->mode != CLUSTER_LOCK_EXCLUSIVE)
		return false;
	return cluster_lock_range_overlap(a->start, a->len, b->start, b->len);
}

bool cluster_lock_entry_blocks(const struct cluster_lock_entry *e)
{
	const struct cluster_lock_entry *w;

	list_for_each_entry(w, &e->res->entries, link)
		if (!w->granted && cluster_lock_entry_conflict(e, w))
			return true;
	return false;
}

bool cluster_lock_entry_covers(const struct cluster_lock_entry *e,
			       uint64_t start, uint64_t len,
			       enum cluster_lock_mode mode)
{
	if (mode == CLUSTER_LOCK_EXCLUSIVE && e->mode != CLUSTER_LOCK_EXCLUSIVE)
		return false;
	if (e->len == 0)
		return true;
	if (len == 0)
		return false;
	return start >= e->start && start + len <= e->start + e->len;
}

/* Whether waiting e may be granted now: no conflict with a granted entry
 * anywhere in the queue, nor with a waiting entry ahead of it. */
static bool cluster_lock_entry_grantable(const struct cluster_lock_entry *e)
{
	const struct cluster_lock_entry *o;
	bool ahead = true;

	list_for_each_entry(o, &e->res->entries, link) {
		if (o == e) {
			ahead = false;
			continue;
		}
		if ((o->granted || ahead) && cluster_lock_entry_conflict(o, e))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------- resources */

static int cluster_lock_name_cmp(const char *a, size_t alen, const char *b,
				 size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool cluster_lock_name_valid(const char *name, size_t nlen)
{
	return name && nlen >= 1 && nlen <= CLUSTER_LOCK_NAME_MAX &&
	       memchr(name, '\0', nlen) == NULL;
}

static uint32_t cluster_lock_table_find_res(const struct cluster_lock_table *t,
					    const char *name, size_t nlen,
					    bool *found)
{
	uint32_t lo = 0, hi = t->nres;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct cluster_lock_res *r = t->res[mid];
		int c = cluster_lock_name_cmp(r->name, r->nlen, name, nlen);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct cluster_lock_res *
cluster_lock_table_res(const struct cluster_lock_table *t, const char *name,
		       size_t nlen)
{
	bool found;
	uint32_t i = cluster_lock_table_find_res(t, name, nlen, &found);
	return found ? t->res[i] : NULL;
}

struct cluster_lock_entry *
cluster_lock_table_find(const struct cluster_lock_table *t, const char *name,
			size_t nlen, uint32_t node, uint64_t req_id)
{
	struct cluster_lock_res *r = cluster_lock_table_res(t, name, nlen);
	struct cluster_lock_entry *e;

	if (!r)
		return NULL;
	list_for_each_entry(e, &r->entries, link)
		if (e->node == node && e->req_id == req_id)
			return e;
	return NULL;
}

/* Inserts an empty resource at index i (from find_res). */
static struct cluster_lock_res *
cluster_lock_table_add_res(struct cluster_lock_table *t, uint32_t i,
			   const char *name, size_t nlen)
{
	struct cluster_lock_res *r;

	if (t->nres == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		struct cluster_lock_res **n =
			realloc(t->res, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->res = n;
		t->cap = cap;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	list_init(&r->entries);
	memcpy(r->name, name, nlen);
	r->nlen = (uint16_t)nlen;
	memmove(&t->res[i + 1], &t->res[i], (t->nres - i) * sizeof(*t->res));
	t->res[i] = r;
	t->nres++;
	return r;
}

static void cluster_lock_table_drop_res(struct cluster_lock_table *t,
					struct cluster_lock_res *r)
{
	bool found;
	uint32_t i = cluster_lock_table_find_res(t, r->name, r->nlen, &found);

	if (found) {
		memmove(&t->res[i], &t->res[i + 1],
			(t->nres - i - 1) * sizeof(*t->res));
		t->nres--;
	}
	free(r);
}

static void cluster_lock_table_remove(struct cluster_lock_table *t,
				      struct cluster_lock_entry *e)
{
	list_del(&e->link);
	e->res->count--;
	t->nentries--;
	free(e);
}

/* The grant rule over a whole resource, then every cached entry that
 * blocks a waiter: after a node left (several entries at once). r may
 * be freed here when it is empty. */
static void cluster_lock_res_settle(struct cluster_lock_table *t,
				    struct cluster_lock_res *r,
				    struct cluster_lock_result *res)
{
	struct cluster_lock_entry *e;

	if (r->count == 0) {
		cluster_lock_table_drop_res(t, r);
		return;
	}
	list_for_each_entry(e, &r->entries, link) {
		if (!e->granted && cluster_lock_entry_grantable(e)) {
			e->granted = true;
			list_add_tail(&res->granted, &e->grant_link);
		}
	}
	list_for_each_entry(e, &r->entries, link)
		if (e->granted && e->cached && cluster_lock_entry_blocks(e))
			list_add_tail(&res->blockers, &e->block_link);
}

/* After a request appended e (the last entry of its resource): only e can
 * become granted (the others' blockers did not change), and only cached
 * entries that conflict with e can newly block a waiter. O(n). */
static void cluster_lock_res_settle_request(struct cluster_lock_entry *e,
					    struct cluster_lock_result *res)
{
	struct cluster_lock_entry *g;

	if (cluster_lock_entry_grantable(e)) {
		/* nothing waits behind the last entry */
		e->granted = true;
		list_add_tail(&res->granted, &e->grant_link);
		return;
	}
	list_for_each_entry(g, &e->res->entries, link)
		if (g->granted && g->cached && cluster_lock_entry_conflict(g, e))
			list_add_tail(&res->blockers, &g->block_link);
}

/* After one entry (gone, a copy) left r: a waiting entry that did not
 * conflict with it is still blocked by what blocked it (an earlier
 * waiter that gets granted now still conflicts with it), so only the
 * waiters that conflicted with gone are candidates, in order. Blockers:
 * the newly granted cached entries with a waiter behind them. O(k n) for
 * k such waiters instead of a full pass. */
static void cluster_lock_res_settle_remove(struct cluster_lock_table *t,
					   struct cluster_lock_res *r,
					   const struct cluster_lock_entry *gone,
					   struct cluster_lock_result *res)
{
	struct cluster_lock_entry *e;

	if (r->count == 0) {
		cluster_lock_table_drop_res(t, r);
		return;
	}
	list_for_each_entry(e, &r->entries, link) {
		if (!e->granted && cluster_lock_entry_conflict(e, gone) &&
		    cluster_lock_entry_grantable(e)) {
			e->granted = true;
			list_add_tail(&res->granted, &e->grant_link);
		}
	}
	list_for_each_entry(e, &res->granted, grant_link)
		if (e->cached && cluster_lock_entry_blocks(e))
			list_add_tail(&res->blockers, &e->block_link);
}

/* ----------------------------------------------------------------- table */

void cluster_lock_table_init(struct cluster_lock_table *t)
{
	memset(t, 0, sizeof(*t));
}

void cluster_lock_table_reset(struct cluster_lock_table *t)
{
	for (uint32_t i = 0; i < t->nres; i++) {
		struct cluster_lock_entry *e, *tmp;
		list_for_each_entry_safe(e, tmp, &t->res[i]->entries, link)
			free(e);
		free(t->res[i]);
	}
	free(t->res);
	cluster_lock_table_init(t);
}

bool cluster_lock_op_valid(const struct cluster_lock_op *op)
{
	if (!cluster_lock_name_valid(op->name, op->nlen))
		return false;
	if (op->mode != CLUSTER_LOCK_SHARED &&
	    op->mode != CLUSTER_LOCK_EXCLUSIVE)
		return false;
	switch (op->type) {
	case CLUSTER_LOCK_OP_REQUEST:
		return op->len <= UINT64_MAX - op->start;
	case CLUSTER_LOCK_OP_RELEASE:
	case CLUSTER_LOCK_OP_CANCEL:
	case CLUSTER_LOCK_OP_CACHE_RELEASE:
		return op->start == 0 && op->len == 0 &&
		       op->mode == CLUSTER_LOCK_SHARED && !op->cache;
	}
	return false;
}

static void cluster_lock_result_init(struct cluster_lock_result *res)
{
	res->status = 0;
	res->entry = NULL;
	list_init(&res->granted);
	list_init(&res->blockers);
}

static int cluster_lock_table_request(struct cluster_lock_table *t,
				      uint32_t node,
				      const struct cluster_lock_op *op,
				      struct cluster_lock_result *res)
{
	struct cluster_lock_res *r = NULL;  /* set on both paths below;
	                                       gcc -O2 with ASan cannot tell */
	struct cluster_lock_entry *e;
	bool found;
	uint32_t i;

	i = cluster_lock_table_find_res(t, op->name, op->nlen, &found);
	if (found) {
		r = t->res[i];
		list_for_each_entry(e, &r->entries, link)
			if (e->node == node && e->req_id == op->req_id)
				return -EEXIST;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (!found) {
		r = cluster_lock_table_add_res(t, i, op->name, op->nlen);
		if (!r) {
			free(e);
			return -ENOMEM;
		}
	}
	e->node = node;
	e->req_id = op->req_id;
	e->start = op->start;
	e->len = op->len;
	e->mode = op->mode;
	e->cached = op->cache;
	e->res = r;
	list_init(&e->grant_link);
	list_init(&e->block_link);
	list_add_tail(&r->entries, &e->link);
	r->count++;
	t->nentries++;
	res->entry = e;
	cluster_lock_res_settle_request(e, res);
	return 0;
}

int cluster_lock_table_apply(struct cluster_lock_table *t, uint32_t node,
			     const struct cluster_lock_op *op,
			     struct cluster_lock_result *res)
{
	struct cluster_lock_entry *e, gone;
	struct cluster_lock_res *r;

	cluster_lock_result_init(res);
	if (!cluster_lock_op_valid(op)) {
		res->status = -EINVAL;
		return res->status;
	}
	if (op->type == CLUSTER_LOCK_OP_REQUEST) {
		res->status = cluster_lock_table_request(t, node, op, res);
		return res->status;
	}

	e = cluster_lock_table_find(t, op->name, op->nlen, node, op->req_id);
	if (!e) {
		res->status = -ENOENT;
		return res->status;
	}
	if ((op->type == CLUSTER_LOCK_OP_CANCEL && e->granted) ||
	    (op->type == CLUSTER_LOCK_OP_CACHE_RELEASE &&
	     !(e->granted && e->cached))) {
		res->status = -EBUSY;
		res->entry = e;
		return res->status;
	}
	r = e->res;
	gone = *e;
	cluster_lock_table_remove(t, e);
	cluster_lock_res_settle_remove(t, r, &gone, res);
	return 0;
}

void cluster_lock_table_node_left(struct cluster_lock_table *t,
				  uint32_t node,
				  struct cluster_lock_result *res)
{
	cluster_lock_result_init(res);
	for (uint32_t i = 0; i < t->nres;) {
		struct cluster_lock_res *r = t->res[i];
		struct cluster_lock_entry *e, *tmp;
		bool touched = false;

		list_for_each_entry_safe(e, tmp, &r->entries, link) {
			if (e->node == node) {
				cluster_lock_table_remove(t, e);
				touched = true;
			}
		}
		/* settle drops an emptied resource: then i is the next one */
		bool dropped = touched && r->count == 0;
		if (touched)
			cluster_lock_res_settle(t, r, res);
		if (!dropped)
			i++;
	}
}

int cluster_lock_table_check(const struct cluster_lock_table *t, char *why,
			     size_t whylen)
{
	uint32_t total = 0;
	char dummy[8];

	if (!why) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	for (uint32_t i = 0; i < t->nres; i++) {
		const struct cluster_lock_res *r = t->res[i];
		const struct cluster_lock_entry *a, *b;
		uint32_t n = 0;

		if (i > 0 && cluster_lock_name_cmp(t->res[i - 1]->name,
						   t->res[i - 1]->nlen,
						   r->name, r->nlen) >= 0) {
			snprintf(why, whylen, "resources out of order at %u",
				 i);
			return -EINVAL;
		}
		if (!cluster_lock_name_valid(r->name, r->nlen)) {
			snprintf(why, whylen, "bad resource name at %u", i);
			return -EINVAL;
		}
		list_for_each_entry(a, &r->entries, link) {
			n++;
			if (a->res != r) {
				snprintf(why, whylen, "%s: entry of another "
					 "resource", r->name);
				return -EINVAL;
			}
			bool ahead = true, blocked = false;
			list_for_each_entry(b, &r->entries, link) {
				if (b == a) {
					ahead = false;
					continue;
				}
				if (b->node == a->node &&
				    b->req_id == a->req_id) {
					snprintf(why, whylen,
						 "%s: request %u/%" PRIu64
						 " twice", r->name, a->node,
						 a->req_id);
					return -EINVAL;
				}
				if (!cluster_lock_entry_conflict(a, b))
					continue;
				if (a->granted && b->granted) {
					snprintf(why, whylen,
						 "%s: %u/%" PRIu64 " and %u/%"
						 PRIu64 " granted together",
						 r->name, a->node, a->req_id,
						 b->node, b->req_id);
					return -EINVAL;
				}
				if (b->granted || ahead)
					blocked = true;
			}
			if (!a->granted && !blocked) {
				snprintf(why, whylen,
					 "%s: %u/%" PRIu64 " waits for nothing",
					 r->name, a->node, a->req_id);
				return -EINVAL;
			}
		}
		if (n == 0 || n != r->count) {
			snprintf(why, whylen, "%s: count %u, %u entries",
				 r->name, r->count, n);
			return -EINVAL;
		}
		total += n;
	}
	if (total != t->nentries) {
		snprintf(why, whylen, "nentries %u, %u entries", t->nentries,
			 total);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ save, load */

int cluster_lock_table_save(const struct cluster_lock_table *t, void **data,
			    size_t *len)
{
	size_t total = CLUSTER_LOCK_TABLE_HDR;
	uint8_t *buf, *p;

	for (uint32_t i = 0; i < t->nres; i++)
		total += CLUSTER_LOCK_TABLE_RES_HDR + t->res[i]->nlen +
			 (size_t)t->res[i]->count * CLUSTER_LOCK_TABLE_ENT;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = buf;
	cluster_lock_put32(p, CLUSTER_LOCK_TABLE_MAGIC);
	cluster_lock_put16(p + 4, CLUSTER_LOCK_TABLE_FORMAT);
	cluster_lock_put16(p + 6, 0);
	cluster_lock_put32(p + 8, t->nres);
	p += CLUSTER_LOCK_TABLE_HDR;
	for (uint32_t i = 0; i < t->nres; i++) {
		const struct cluster_lock_res *r = t->res[i];
		const struct cluster_lock_entry *e;

		cluster_lock_put16(p, r->nlen);
		cluster_lock_put16(p + 2, 0);
		cluster_lock_put32(p + 4, r->count);
		p += CLUSTER_LOCK_TABLE_RES_HDR;
		memcpy(p, r->name, r->nlen);
		p += r->nlen;
		list_for_each_entry(e, &r->entries, link) {
			cluster_lock_put32(p, e->node);
			p[4] = (uint8_t)e->mode;
			p[5] = (uint8_t)((e->granted ? CLUSTER_LOCK_ENT_GRANTED
					  : 0) |
					 (e->cached ? CLUSTER_LOCK_ENT_CACHED
					  : 0));
			cluster_lock_put16(p + 6, 0);
			cluster_lock_put64(p + 8, e->req_id);
			cluster_lock_put64(p + 16, e->start);
			cluster_lock_put64(p + 24, e->len);
			p += CLUSTER_LOCK_TABLE_ENT;
		}
	}
	*data = buf;
	*len = total;
	return 0;
}

int cluster_lock_table_load(struct cluster_lock_table *t, const void *data,
			    size_t len)
{
	const uint8_t *p = data, *end = p + len;
	struct cluster_lock_table n;
	uint32_t nres;
	int err = -EINVAL;

	if (len < CLUSTER_LOCK_TABLE_HDR ||
	    cluster_lock_get32(p) != CLUSTER_LOCK_TABLE_MAGIC ||
	    cluster_lock_get16(p + 4) != CLUSTER_LOCK_TABLE_FORMAT ||
	    cluster_lock_get16(p + 6) != 0)
		return -EINVAL;
	nres = cluster_lock_get32(p + 8);
	p += CLUSTER_LOCK_TABLE_HDR;
	cluster_lock_table_init(&n);
	for (uint32_t i = 0; i < nres; i++) {
		struct cluster_lock_res *r;
		uint16_t nlen;
		uint32_t count;
		const char *name;
		bool found;
		uint32_t at;

		if ((size_t)(end - p) < CLUSTER_LOCK_TABLE_RES_HDR)
			goto fail;
		nlen = cluster_lock_get16(p);
		count = cluster_lock_get32(p + 4);
		if (cluster_lock_get16(p + 2) != 0 || count == 0)
			goto fail;
		p += CLUSTER_LOCK_TABLE_RES_HDR;
		if ((size_t)(end - p) < nlen)
			goto fail;
		name = (const char *)p;
		if (!cluster_lock_name_valid(name, nlen))
			goto fail;
		/* strictly ascending: the new name sorts after the last */
		at = cluster_lock_table_find_res(&n, name, nlen, &found);
		if (found || at != n.nres)
			goto fail;
		p += nlen;
		if ((size_t)(end - p) / CLUSTER_LOCK_TABLE_ENT < count)
			goto fail;
		r = cluster_lock_table_add_res(&n, at, name, nlen);
		if (!r) {
			err = -ENOMEM;
			goto fail;
		}
		for (uint32_t j = 0; j < count; j++) {
			struct cluster_lock_entry *e;
			uint8_t mode = p[4], flags = p[5];
			uint64_t start = cluster_lock_get64(p + 16);
			uint64_t elen = cluster_lock_get64(p + 24);

			if ((mode != CLUSTER_LOCK_SHARED &&
			     mode != CLUSTER_LOCK_EXCLUSIVE) ||
			    (flags & ~(CLUSTER_LOCK_ENT_GRANTED |
				       CLUSTER_LOCK_ENT_CACHED)) ||
			    cluster_lock_get16(p + 6) != 0 ||
			    elen > UINT64_MAX - start)
				goto fail;
			e = calloc(1, sizeof(*e));
			if (!e) {
				err = -ENOMEM;
				goto fail;
			}
			e->node = cluster_lock_get32(p);
			e->mode = (enum cluster_lock_mode)mode;
			e->granted = flags & CLUSTER_LOCK_ENT_GRANTED;
			e->cached = flags & CLUSTER_LOCK_ENT_CACHED;
			e->req_id = cluster_lock_get64(p + 8);
			e->start = start;
			e->len = elen;
			e->res = r;
			list_init(&e->grant_link);
			list_init(&e->block_link);
			list_add_tail(&r->entries, &e->link);
			r->count++;
			n.nentries++;
			p += CLUSTER_LOCK_TABLE_ENT;
		}
	}
	if (p != end || cluster_lock_table_check(&n, NULL, 0))
		goto fail;
	cluster_lock_table_reset(t);
	*t = n;
	return 0;
fail:
	cluster_lock_table_reset(&n);
	return err;
}

/* ------------------------------------------------------------------ codec */

long cluster_lock_op_encode(const struct cluster_lock_op *op, void *buf,
			    size_t cap)
{
	uint8_t *p = buf;
	size_t size;

	if (!cluster_lock_op_valid(op))
		return -EINVAL;
	size = CLUSTER_LOCK_OP_HDR + op->nlen;
	if (size > cap)
		return -ENOSPC;
	p[0] = CLUSTER_LOCK_OP_WIRE_VERSION;
	p[1] = (uint8_t)op->type;
	p[2] = (uint8_t)op->mode;
	p[3] = op->cache ? CLUSTER_LOCK_OP_FLAG_CACHE : 0;
	cluster_lock_put16(p + 4, (uint16_t)op->nlen);
	cluster_lock_put16(p + 6, 0);
	cluster_lock_put64(p + 8, op->req_id);
	cluster_lock_put64(p + 16, op->start);
	cluster_lock_put64(p + 24, op->len);
	memcpy(p + CLUSTER_LOCK_OP_HDR, op->name, op->nlen);
	return (long)size;
}

int cluster_lock_op_decode(const void *buf, size_t len,
			   struct cluster_lock_op *op)
{
	const uint8_t *p = buf;

	memset(op, 0, sizeof(*op));
	if (len < CLUSTER_LOCK_OP_HDR || p[0] != CLUSTER_LOCK_OP_WIRE_VERSION ||
	    (p[3] & ~CLUSTER_LOCK_OP_FLAG_CACHE) ||
	    cluster_lock_get16(p + 6) != 0 ||
	    len - CLUSTER_LOCK_OP_HDR != cluster_lock_get16(p + 4))
		return -EINVAL;
	op->type = (enum cluster_lock_op_type)p[1];
	op->mode = (enum cluster_lock_mode)p[2];
	op->cache = p[3] & CLUSTER_LOCK_OP_FLAG_CACHE;
	op->nlen = cluster_lock_get16(p + 4);
	op->req_id = cluster_lock_get64(p + 8);
	op->start = cluster_lock_get64(p + 16);
	op->len = cluster_lock_get64(p + 24);
	op->name = (const char *)p + CLUSTER_LOCK_OP_HDR;
	if (!cluster_lock_op_valid(op)) {
		memset(op, 0, sizeof(*op));
		return -EINVAL;
	}
	return 0;
}
