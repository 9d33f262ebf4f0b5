/*
 * The replicated key-value map (cluster_kv_state.h): a sorted array of
 * entries, the apply of set / compare-and-set / delete, canonical save and
 * all-or-nothing load, and the op codec.
 *
 * A sorted array rather than a hash: the map holds configuration-sized
 * data (ports, nodes, a few hundred keys), save must be sorted anyway, and
 * binary search keeps get cheap. Deliberately no I/O, no clock, nothing
 * but the state, the op and the commit index.
 */
#include "cluster/cluster_kv_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER_KV_STATE_MAGIC 0x434b5653u  /* "CKVS" */
#define CLUSTER_KV_STATE_FORMAT 1
#define CLUSTER_KV_STATE_HDR 12u
#define CLUSTER_KV_STATE_ENT_HDR 16u

/* ------------------------------------------------------------ big endian */

static void cluster_kv_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void cluster_kv_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void cluster_kv_put64(uint8_t *p, uint64_t v)
{
	cluster_kv_put32(p, (uint32_t)(v >> 32));
	cluster_kv_put32(p + 4, (uint32_t)v);
}

static uint16_t cluster_kv_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t cluster_kv_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t cluster_kv_get64(const uint8_t *p)
{
	return ((uint64_t)cluster_kv_get32(p) << 32) | cluster_kv_get32(p + 4);
}

/* ------------------------------------------------------------------ keys */

/* strcmp order on keys with explicit lengths (a prefix sorts first). */
static int cluster_kv_key_cmp(const char *a, size_t alen, const char *b,
			      size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool cluster_kv_key_valid(const char *key, size_t klen)
{
	return klen >= 1 && klen <= CLUSTER_KV_KEY_MAX &&
	       memchr(key, '\0', klen) == NULL;
}

/* Index of key, or of where it would be inserted (*found false). */
static uint32_t cluster_kv_state_find(const struct cluster_kv_state *st,
				      const char *key, size_t klen,
				      bool *found)
{
	uint32_t lo = 0, hi = st->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct cluster_kv_entry *e = st->ents[mid];
		int r = cluster_kv_key_cmp(e->key, e->klen, key, klen);
		if (r == 0) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct cluster_kv_entry *cluster_kv_entry_new(const char *key,
						     size_t klen,
						     const void *val,
						     size_t vlen,
						     uint64_t version)
{
	struct cluster_kv_entry *e = malloc(sizeof(*e) + klen + 1 + vlen);
	if (!e)
		return NULL;
	e->version = version;
	e->klen = (uint16_t)klen;
	e->vlen = (uint32_t)vlen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	e->val = (uint8_t *)e->key + klen + 1;
	if (vlen)
		memcpy(e->val, val, vlen);
	return e;
}

static int cluster_kv_state_reserve(struct cluster_kv_state *st,
				    uint32_t need)
{
	if (need <= st->cap)
		return 0;
	uint32_t cap = st->cap ? st->cap : 16;
	while (cap < need)
		cap *= 2;
	struct cluster_kv_entry **n = realloc(st->ents, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	st->ents = n;
	st->cap = cap;
	return 0;
}

/* ----------------------------------------------------------------- state */

void cluster_kv_state_init(struct cluster_kv_state *st)
{
	memset(st, 0, sizeof(*st));
}

void cluster_kv_state_reset(struct cluster_kv_state *st)
{
	for (uint32_t i = 0; i < st->count; i++)
		free(st->ents[i]);
	free(st->ents);
	cluster_kv_state_init(st);
}

bool cluster_kv_op_valid(const struct cluster_kv_op *op)
{
	if (!op->key || !cluster_kv_key_valid(op->key, op->klen))
		return false;
	if (op->vlen > CLUSTER_KV_VALUE_MAX || (op->vlen && !op->val))
		return false;
	switch (op->type) {
	case CLUSTER_KV_OP_SET:
		return op->expect == 0;
	case CLUSTER_KV_OP_CAS:
		return true;
	case CLUSTER_KV_OP_DEL:
		return op->expect == 0 && op->vlen == 0;
	}
	return false;
}

const struct cluster_kv_entry *
cluster_kv_state_get(const struct cluster_kv_state *st, const char *key)
{
	size_t klen = strlen(key);
	bool found;
	uint32_t i;

	if (!cluster_kv_key_valid(key, klen))
		return NULL;
	i = cluster_kv_state_find(st, key, klen, &found);
	return found ? st->ents[i] : NULL;
}

int cluster_kv_state_apply(struct cluster_kv_state *st,
			   const struct cluster_kv_op *op, uint64_t index,
			   struct cluster_kv_result *res)
{
	struct cluster_kv_entry *e, *old;
	bool found;
	uint32_t i;

	memset(res, 0, sizeof(*res));
	if (!cluster_kv_op_valid(op) || index == 0) {
		res->status = -EINVAL;
		return res->status;
	}
	memcpy(res->key, op->key, op->klen);
	res->key[op->klen] = '\0';
	i = cluster_kv_state_find(st, op->key, op->klen, &found);
	old = found ? st->ents[i] : NULL;

	if (op->type == CLUSTER_KV_OP_DEL) {
		if (!old)
			return 0;  /* absent: success, nothing changed */
		st->bytes -= old->klen + old->vlen;
		free(old);
		memmove(&st->ents[i], &st->ents[i + 1],
			(st->count - i - 1) * sizeof(*st->ents));
		st->count--;
		res->version = index;
		res->changed = true;
		return 0;
	}

	if (op->type == CLUSTER_KV_OP_CAS &&
	    (old ? old->version : 0) != op->expect) {
		res->status = -ECANCELED;
		return res->status;
	}

	e = cluster_kv_entry_new(op->key, op->klen, op->val, op->vlen, index);
	if (!e || (!old && cluster_kv_state_reserve(st, st->count + 1))) {
		free(e);
		res->status = -ENOMEM;
		return res->status;
	}
	if (old) {
		st->bytes -= old->klen + old->vlen;
		free(old);
		st->ents[i] = e;
	} else {
		memmove(&st->ents[i + 1], &st->ents[i],
			(st->count - i) * sizeof(*st->ents));
		st->ents[i] = e;
		st->count++;
	}
	st->bytes += e->klen + e->vlen;
	res->version = index;
	res->changed = true;
	res->val = e->val;
	res->vlen = e->vlen;
	return 0;
}

/* ------------------------------------------------------------ save, load */

int cluster_kv_state_save(const struct cluster_kv_state *st, void **data,
			  size_t *len)
{
	size_t total = CLUSTER_KV_STATE_HDR;
	uint8_t *buf, *p;

	for (uint32_t i = 0; i < st->count; i++)
		total += CLUSTER_KV_STATE_ENT_HDR + st->ents[i]->klen +
			 st->ents[i]->vlen;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = buf;
	cluster_kv_put32(p, CLUSTER_KV_STATE_MAGIC);
	cluster_kv_put16(p + 4, CLUSTER_KV_STATE_FORMAT);
	cluster_kv_put16(p + 6, 0);
	cluster_kv_put32(p + 8, st->count);
	p += CLUSTER_KV_STATE_HDR;
	for (uint32_t i = 0; i < st->count; i++) {
		const struct cluster_kv_entry *e = st->ents[i];
		cluster_kv_put16(p, e->klen);
		cluster_kv_put16(p + 2, 0);
		cluster_kv_put32(p + 4, e->vlen);
		cluster_kv_put64(p + 8, e->version);
		p += CLUSTER_KV_STATE_ENT_HDR;
		memcpy(p, e->key, e->klen);
		p += e->klen;
		if (e->vlen)
			memcpy(p, e->val, e->vlen);
		p += e->vlen;
	}
	*data = buf;
	*len = total;
	return 0;
}

int cluster_kv_state_load(struct cluster_kv_state *st, const void *data,
			  size_t len)
{
	const uint8_t *p = data, *end = p + len;
	struct cluster_kv_state n;
	uint32_t count;
	int err = -EINVAL;

	if (len < CLUSTER_KV_STATE_HDR ||
	    cluster_kv_get32(p) != CLUSTER_KV_STATE_MAGIC ||
	    cluster_kv_get16(p + 4) != CLUSTER_KV_STATE_FORMAT ||
	    cluster_kv_get16(p + 6) != 0)
		return -EINVAL;
	count = cluster_kv_get32(p + 8);
	p += CLUSTER_KV_STATE_HDR;
	/* Each entry takes at least a header and one key byte: a count the
	 * bytes cannot hold is rejected before anything is allocated. */
	if (count > (size_t)(end - p) / (CLUSTER_KV_STATE_ENT_HDR + 1))
		return -EINVAL;

	cluster_kv_state_init(&n);
	if (count && cluster_kv_state_reserve(&n, count))
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		uint16_t klen;
		uint32_t vlen;
		uint64_t version;
		const char *key;
		struct cluster_kv_entry *e;

		if ((size_t)(end - p) < CLUSTER_KV_STATE_ENT_HDR)
			goto fail;
		klen = cluster_kv_get16(p);
		vlen = cluster_kv_get32(p + 4);
		version = cluster_kv_get64(p + 8);
		if (cluster_kv_get16(p + 2) != 0 || version == 0 ||
		    vlen > CLUSTER_KV_VALUE_MAX)
			goto fail;
		p += CLUSTER_KV_STATE_ENT_HDR;
		if ((size_t)(end - p) < (size_t)klen + vlen)
			goto fail;
		key = (const char *)p;
		if (!cluster_kv_key_valid(key, klen))
			goto fail;
		if (i > 0) {
			const struct cluster_kv_entry *prev = n.ents[i - 1];
			if (cluster_kv_key_cmp(prev->key, prev->klen, key,
					       klen) >= 0)
				goto fail;
		}
		e = cluster_kv_entry_new(key, klen, p + klen, vlen, version);
		if (!e) {
			err = -ENOMEM;
			goto fail;
		}
		n.ents[n.count++] = e;
		n.bytes += klen + vlen;
		p += klen + vlen;
	}
	if (p != end)
		goto fail;
	cluster_kv_state_reset(st);
	*st = n;
	return 0;
fail:
	cluster_kv_state_reset(&n);
	return err;
}

/* ------------------------------------------------------------------ codec */

size_t cluster_kv_op_size(const struct cluster_kv_op *op)
{
	return CLUSTER_KV_OP_HDR + op->klen + op->vlen;
}

long cluster_kv_op_encode(const struct cluster_kv_op *op, void *buf,
			  size_t cap)
{
	uint8_t *p = buf;
	size_t size;

	if (!cluster_kv_op_valid(op))
		return -EINVAL;
	size = cluster_kv_op_size(op);
	if (size > cap)
		return -ENOSPC;
	p[0] = CLUSTER_KV_OP_WIRE_VERSION;
	p[1] = (uint8_t)op->type;
	cluster_kv_put16(p + 2, (uint16_t)op->klen);
	cluster_kv_put32(p + 4, (uint32_t)op->vlen);
	cluster_kv_put64(p + 8, op->expect);
	memcpy(p + CLUSTER_KV_OP_HDR, op->key, op->klen);
	if (op->vlen)
		memcpy(p + CLUSTER_KV_OP_HDR + op->klen, op->val, op->vlen);
	return (long)size;
}

int cluster_kv_op_decode(const void *buf, size_t len,
			 struct cluster_kv_op *op)
{
	const uint8_t *p = buf;
	size_t klen, vlen;

	memset(op, 0, sizeof(*op));
	if (len < CLUSTER_KV_OP_HDR || p[0] != CLUSTER_KV_OP_WIRE_VERSION)
		return -EINVAL;
	klen = cluster_kv_get16(p + 2);
	vlen = cluster_kv_get32(p + 4);
	if (len - CLUSTER_KV_OP_HDR != klen + vlen)
		return -EINVAL;
	op->type = (enum cluster_kv_op_type)p[1];
	op->expect = cluster_kv_get64(p + 8);
	op->key = (const char *)p + CLUSTER_KV_OP_HDR;
	op->klen = klen;
	op->val = vlen ? p + CLUSTER_KV_OP_HDR + klen : NULL;
	op->vlen = vlen;
	if (!cluster_kv_op_valid(op)) {
		memset(op, 0, sizeof(*op));
		return -EINVAL;
	}
	return 0;
}
