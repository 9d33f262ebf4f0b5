/*
 * The byte codec lu_repl.c and lu_repl_msg.c share (lu_repl_codec.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/lu_repl_codec.h"

void lu_repl_wr_bytes(struct lu_repl_wr *w, const void *s, size_t n)
{
	if (w->err)
		return;
	if (w->cap - w->pos < n) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *p;

		if (!w->grow) {
			w->err = -ENOSPC;
			return;
		}
		while (cap - w->pos < n)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->pos, s, n);
	w->pos += n;
}

void lu_repl_wr_be(struct lu_repl_wr *w, uint64_t v, unsigned bytes)
{
	uint8_t b[8];

	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	lu_repl_wr_bytes(w, b, bytes);
}

void lu_repl_wr_tid(struct lu_repl_wr *w, const struct pr_tid *tid)
{
	uint8_t b[LU_REPL_TID_MAX];
	int n = pr_tid_encode(tid, b, sizeof(b));

	if (n < 0) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	lu_repl_wr_be(w, (uint64_t)n, 2);
	lu_repl_wr_bytes(w, b, (size_t)n);
}

uint64_t lu_repl_rd_be(struct lu_repl_rd *r, unsigned bytes)
{
	uint64_t v = 0;

	if (r->err)
		return 0;
	if (r->len - r->pos < bytes) {
		r->err = -ENODATA;
		return 0;
	}
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->pos + i];
	r->pos += bytes;
	return v;
}

void lu_repl_rd_bad(struct lu_repl_rd *r)
{
	if (!r->err)
		r->err = -EINVAL;
}

void lu_repl_rd_tid(struct lu_repl_rd *r, struct pr_tid *tid)
{
	uint8_t b[LU_REPL_TID_MAX];
	size_t tl = (size_t)lu_repl_rd_be(r, 2), bad;
	int n;

	if (r->err)
		return;
	if (r->len - r->pos < tl) {
		r->err = -ENODATA;
		return;
	}
	n = pr_tid_decode(r->p + r->pos, tl, tid, &bad);
	if (n < 0 || (size_t)n != tl ||
	    pr_tid_encode(tid, b, sizeof(b)) != n ||
	    memcmp(b, r->p + r->pos, tl) != 0) {
		lu_repl_rd_bad(r);
		return;
	}
	r->pos += tl;
}
