/*
 * The APTPL image codec (format in pr_aptpl.h): a struct pr_state to
 * versioned, big-endian, CRC32C-protected bytes and back.
 *
 * Deliberately NOT here: files and durability (src/scsi/pr_store.c), the
 * decision when an image is written (spc_pr.c). Decode trusts nothing: a
 * file may be cut short by a crash of the file system, damaged, written
 * by a newer ctgt or by something else entirely; every field is checked
 * and the result lands in a scratch state, copied into the target state
 * only when the whole image was good.
 */
#include <errno.h>
#include <string.h>

#include "base/crc32c.h"
#include "pr/pr_aptpl.h"

#define PR_APTPL_FLAG_APTPL 0x01u
#define PR_APTPL_REC_ALL_TG_PT 0x01u

static void pr_aptpl_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void pr_aptpl_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void pr_aptpl_put64(uint8_t *p, uint64_t v)
{
	pr_aptpl_put32(p, (uint32_t)(v >> 32));
	pr_aptpl_put32(p + 4, (uint32_t)v);
}

static uint16_t pr_aptpl_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t pr_aptpl_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t pr_aptpl_get64(const uint8_t *p)
{
	return (uint64_t)pr_aptpl_get32(p) << 32 | pr_aptpl_get32(p + 4);
}

size_t pr_aptpl_size_max(unsigned max_regs)
{
	return PR_APTPL_HEADER_LEN +
	       (size_t)max_regs * (PR_APTPL_REC_LEN + PR_APTPL_TID_MAX) +
	       PR_APTPL_CRC_LEN;
}

ssize_t pr_aptpl_encode(const struct pr_state *st, uint64_t epoch,
			uint8_t *buf, size_t cap)
{
	/* SPC-4 5.14.5: with APTPL 0 nothing but the counters survives. */
	uint32_t nregs = st->aptpl ? st->nregs : 0;
	uint8_t type = st->aptpl ? st->type : PR_TYPE_NONE;
	uint32_t holder = st->aptpl ? st->holder : PR_HOLDER_NONE;
	size_t pos = PR_APTPL_HEADER_LEN;

	if (type == PR_TYPE_NONE || pr_type_all_registrants(type))
		holder = PR_HOLDER_NONE;
	if (cap < PR_APTPL_HEADER_LEN + PR_APTPL_CRC_LEN)
		return -ENOSPC;
	for (uint32_t i = 0; i < nregs; i++) {
		const struct pr_reg *r = &st->regs[i];
		int n;

		if (cap - pos < PR_APTPL_REC_LEN + PR_APTPL_CRC_LEN)
			return -ENOSPC;
		n = pr_tid_encode(&r->tid, buf + pos + PR_APTPL_REC_LEN,
				  cap - pos - PR_APTPL_REC_LEN -
				  PR_APTPL_CRC_LEN);
		if (n < 0)
			return n;
		pr_aptpl_put64(buf + pos, r->key);
		pr_aptpl_put16(buf + pos + 8, r->rtpi);
		buf[pos + 10] = r->all_tg_pt ? PR_APTPL_REC_ALL_TG_PT : 0;
		buf[pos + 11] = 0;
		pr_aptpl_put16(buf + pos + 12, (uint16_t)n);
		pr_aptpl_put16(buf + pos + 14, 0);
		pos += PR_APTPL_REC_LEN + (size_t)n;
	}

	memcpy(buf, PR_APTPL_MAGIC, 4);
	pr_aptpl_put16(buf + 4, PR_APTPL_VERSION);
	pr_aptpl_put16(buf + 6, PR_APTPL_HEADER_LEN);
	pr_aptpl_put64(buf + 8, epoch);
	pr_aptpl_put32(buf + 16, st->generation);
	pr_aptpl_put32(buf + 20, nregs);
	pr_aptpl_put32(buf + 24, holder);
	buf[28] = type;
	buf[29] = type == PR_TYPE_NONE ? 0 : st->scope;
	buf[30] = st->aptpl ? PR_APTPL_FLAG_APTPL : 0;
	buf[31] = 0;
	pr_aptpl_put32(buf + 32, (uint32_t)(pos - PR_APTPL_HEADER_LEN));
	pr_aptpl_put32(buf + 36, 0);
	pr_aptpl_put32(buf + pos, crc32c(0, buf, pos));
	return (ssize_t)(pos + PR_APTPL_CRC_LEN);
}

/* The checks every version shares: magic, length, CRC. */
static int pr_aptpl_frame_check(const uint8_t *buf, size_t len)
{
	if (len < 4 || memcmp(buf, PR_APTPL_MAGIC, 4) != 0)
		return len < 4 ? -ENODATA : -EINVAL;
	if (len < 24 + PR_APTPL_CRC_LEN)
		return -ENODATA;
	if (pr_aptpl_get32(buf + len - PR_APTPL_CRC_LEN) !=
	    crc32c(0, buf, len - PR_APTPL_CRC_LEN))
		return -EBADMSG;
	return 0;
}

int pr_aptpl_peek(const uint8_t *buf, size_t len, uint64_t *epoch,
		  uint32_t *generation)
{
	int rc = pr_aptpl_frame_check(buf, len);

	if (rc)
		return rc;
	if (pr_aptpl_get16(buf + 6) < 24 ||
	    pr_aptpl_get16(buf + 6) > len - PR_APTPL_CRC_LEN)
		return -EINVAL;
	if (epoch)
		*epoch = pr_aptpl_get64(buf + 8);
	if (generation)
		*generation = pr_aptpl_get32(buf + 16);
	return 0;
}

bool pr_aptpl_reg_dup(const struct pr_reg *regs, uint32_t n,
		      const struct pr_reg *r)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct pr_reg *o = &regs[i];

		if (o->all_tg_pt == r->all_tg_pt &&
		    (r->all_tg_pt || o->rtpi == r->rtpi) &&
		    pr_tid_equal(&o->tid, &r->tid))
			return true;
	}
	return false;
}

/* The records into scratch (regs has room for nregs). */
static int pr_aptpl_records_decode(const uint8_t *p, size_t rlen,
				   uint32_t nregs, struct pr_state *sc)
{
	size_t pos = 0, bad;

	for (uint32_t i = 0; i < nregs; i++) {
		struct pr_reg *r = &sc->regs[i];
		uint16_t tlen;
		int n;

		if (rlen - pos < PR_APTPL_REC_LEN)
			return -EINVAL;
		tlen = pr_aptpl_get16(p + pos + 12);
		if (p[pos + 10] & ~PR_APTPL_REC_ALL_TG_PT || p[pos + 11] ||
		    pr_aptpl_get16(p + pos + 14) ||
		    tlen > rlen - pos - PR_APTPL_REC_LEN)
			return -EINVAL;
		memset(r, 0, sizeof(*r));
		r->key = pr_aptpl_get64(p + pos);
		r->rtpi = pr_aptpl_get16(p + pos + 8);
		r->all_tg_pt = p[pos + 10] & PR_APTPL_REC_ALL_TG_PT;
		/* SPC-4 5.14.7: a registered key is never 0; RTPI 0 is
		 * reserved (7.8.6.5). */
		if (r->key == 0 || r->rtpi == 0)
			return -EINVAL;
		n = pr_tid_decode(p + pos + PR_APTPL_REC_LEN, tlen, &r->tid,
				  &bad);
		if (n < 0 || (size_t)n != tlen)
			return -EINVAL;
		if (pr_aptpl_reg_dup(sc->regs, i, r))
			return -EINVAL;
		pos += PR_APTPL_REC_LEN + tlen;
	}
	return pos == rlen ? 0 : -EINVAL;
}

int pr_aptpl_decode(const uint8_t *buf, size_t len, struct pr_state *st,
		    uint64_t *epoch)
{
	struct pr_state sc;
	uint32_t nregs, holder, rlen;
	uint8_t type, scope, flags;
	int rc;

	if (len < 4)
		return -ENODATA;
	if (memcmp(buf, PR_APTPL_MAGIC, 4) != 0)
		return -EINVAL;
	if (len < 24 + PR_APTPL_CRC_LEN)
		return -ENODATA;
	/* Length before CRC, so that a cut image says "truncated". */
	if (pr_aptpl_get16(buf + 4) == PR_APTPL_VERSION) {
		if (len < PR_APTPL_HEADER_LEN + PR_APTPL_CRC_LEN)
			return -ENODATA;
		rlen = pr_aptpl_get32(buf + 32);
		if (rlen > len - PR_APTPL_HEADER_LEN - PR_APTPL_CRC_LEN)
			return -ENODATA;
	}
	rc = pr_aptpl_frame_check(buf, len);
	if (rc)
		return rc;
	if (pr_aptpl_get16(buf + 4) != PR_APTPL_VERSION)
		return -EPROTONOSUPPORT;
	rlen = pr_aptpl_get32(buf + 32);
	if (pr_aptpl_get16(buf + 6) != PR_APTPL_HEADER_LEN ||
	    rlen != len - PR_APTPL_HEADER_LEN - PR_APTPL_CRC_LEN)
		return -EINVAL;

	nregs = pr_aptpl_get32(buf + 20);
	holder = pr_aptpl_get32(buf + 24);
	type = buf[28];
	scope = buf[29];
	flags = buf[30];
	if (flags & ~PR_APTPL_FLAG_APTPL || buf[31] ||
	    pr_aptpl_get32(buf + 36))
		return -EINVAL;
	if (nregs > st->cfg.max_regs)
		return -E2BIG;
	/* SPC-4 6.15.3.3 table 165 types, LU_SCOPE only; the holder is a
	 * registration unless there is no holder to name (5.14.10). */
	if (type != PR_TYPE_NONE && !pr_type_valid(type))
		return -EINVAL;
	if (type == PR_TYPE_NONE || pr_type_all_registrants(type)) {
		if (holder != PR_HOLDER_NONE)
			return -EINVAL;
		if (type == PR_TYPE_NONE && scope != 0)
			return -EINVAL;
		if (pr_type_all_registrants(type) && nregs == 0)
			return -EINVAL;
	} else if (holder >= nregs) {
		return -EINVAL;
	}
	if (scope != PR_SCOPE_LU)
		return -EINVAL;
	/* An image with APTPL 0 carries nothing but its counters. */
	if (!(flags & PR_APTPL_FLAG_APTPL) && (nregs || type != PR_TYPE_NONE))
		return -EINVAL;

	rc = pr_state_init(&sc, &st->cfg);
	if (rc)
		return rc;
	rc = pr_aptpl_records_decode(buf + PR_APTPL_HEADER_LEN, rlen, nregs,
				     &sc);
	if (rc == 0) {
		sc.nregs = nregs;
		sc.generation = pr_aptpl_get32(buf + 16);
		sc.type = type;
		sc.scope = scope;
		sc.holder = holder;
		sc.aptpl = flags & PR_APTPL_FLAG_APTPL;
		sc.s2_reserved = false;
		rc = pr_state_copy(st, &sc);
	}
	if (rc == 0 && epoch)
		*epoch = pr_aptpl_get64(buf + 8);
	pr_state_fini(&sc);
	return rc;
}

const char *pr_aptpl_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -ENODATA:
		return "truncated";
	case -EINVAL:
		return "not an APTPL image or malformed";
	case -EBADMSG:
		return "CRC32C mismatch (corrupt)";
	case -EPROTONOSUPPORT:
		return "unknown format version";
	case -E2BIG:
		return "more registrations than the LU holds";
	case -ENOMEM:
		return "out of memory";
	default:
		return "unreadable";
	}
}
