/*
 * The byte codec under lu_repl's two formats (lu_repl.h): the snapshot
 * (lu_repl.c) and the wire messages (lu_repl_msg.c) both write big-endian
 * integers and length-prefixed canonical TransportIDs, and read them back
 * checking every length. Private to src/scsi/lu_repl*.c.
 *
 * Errors stick: after the first one, writes do nothing and reads return
 * 0, so a codec checks err once at the end (or where a value decides
 * what comes next).
 *
 * Deliberately NOT here: any field or layout of either format.
 */
#ifndef CTGT_SCSI_LU_REPL_CODEC_H
#define CTGT_SCSI_LU_REPL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pr/transportid.h"

#define LU_REPL_TID_MAX 256u     /* largest iSCSI TransportID, rounded up */

/* A buffer of cap bytes at p (-ENOSPC past it) or, with grow, one that
 * realloc()s as needed (from nothing; -ENOMEM; the caller frees p). */
struct lu_repl_wr {
	uint8_t *p;
	size_t cap, pos;
	bool grow;
	int err;
};

void lu_repl_wr_bytes(struct lu_repl_wr *w, const void *s, size_t n);
void lu_repl_wr_be(struct lu_repl_wr *w, uint64_t v, unsigned bytes);
/* 2 bytes length, then the canonical TransportID (-EINVAL if
 * pr_tid_encode refuses it). */
void lu_repl_wr_tid(struct lu_repl_wr *w, const struct pr_tid *tid);

struct lu_repl_rd {
	const uint8_t *p;
	size_t len, pos;
	int err;
};

/* An unsigned big-endian integer of 1..8 bytes (-ENODATA past the end). */
uint64_t lu_repl_rd_be(struct lu_repl_rd *r, unsigned bytes);
/* What lu_repl_wr_tid writes; -EINVAL unless it is the canonical
 * encoding of what it decodes to, so that one value has one encoding. */
void lu_repl_rd_tid(struct lu_repl_rd *r, struct pr_tid *tid);
/* Marks the input malformed (-EINVAL) unless it already failed. */
void lu_repl_rd_bad(struct lu_repl_rd *r);

#endif
