/*
 * The cluster-wide target port directory (port_dir.h): ANNOUNCE and
 * NODE_LEFT applied to a table of ports kept in RTPI order, the lookups
 * the SCSI core needs (RTPI -> node, group, live), REPORT TARGET PORT
 * GROUPS data for the whole cluster, the canonical save/load and the
 * ANNOUNCE codec.
 *
 * Deliberately NOT here: anything that is not a function of the
 * directory and its inputs (no clock, no I/O, no locks, no logging, no
 * cluster calls). The table is a fixed array allocated once; no decision
 * depends on a pointer or on the order messages were built in (an
 * announcement is sorted by RTPI before it is judged).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/port_dir.h"

#define PORT_DIR_MAGIC "CTPD"
#define PORT_DIR_SAVE_HDR 12u
#define PORT_DIR_REC_HDR 13u
#define PORT_DIR_FLAG_LIVE 0x01u
#define PORT_DIR_MSG_ANNOUNCE 1u
#define PORT_DIR_MSG_HDR 12u
/* SPC-4 6.27: 8-byte extended header, per group 8 bytes + 4 per port */
#define PORT_DIR_RTPG_MAX (8u + PORT_DIR_PORTS_MAX * (8u + 4u))

struct port_dir {
	uint32_t nports;
	struct port_dir_port ports[PORT_DIR_PORTS_MAX];   /* by RTPI */
};

/* --------------------------------------------------------------- helpers */

/* Length of a valid name or portal string of at most max - 1 bytes, each
 * 21h..7Eh (no space, no control character), or 0 when invalid. */
static size_t port_dir_str_check(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n == max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return n;
}

/* Whether p (from an announcement or a load) may be stored. */
static bool port_dir_port_valid(const struct port_dir_port *p)
{
	if (p->rtpi == 0 || p->nportals > PORT_DIR_PORTALS_MAX ||
	    !port_dir_str_check(p->target, PORT_DIR_NAME_MAX))
		return false;
	for (unsigned i = 0; i < p->nportals; i++)
		if (!port_dir_str_check(p->portals[i], PORT_DIR_PORTAL_MAX))
			return false;
	return true;
}

/* A copy of p with every unused byte zero (so equal ports compare equal
 * as memory too). */
static void port_dir_port_canon(struct port_dir_port *dst,
				const struct port_dir_port *p, uint32_t node,
				bool live)
{
	memset(dst, 0, sizeof(*dst));
	dst->node = node;
	dst->rtpi = p->rtpi;
	dst->port_group = p->port_group;
	dst->tpg_tag = p->tpg_tag;
	dst->live = live;
	dst->nportals = p->nportals;
	strcpy(dst->target, p->target);
	for (unsigned i = 0; i < p->nportals; i++)
		strcpy(dst->portals[i], p->portals[i]);
}

static int port_dir_index(const struct port_dir *d, uint16_t rtpi)
{
	uint32_t lo = 0, hi = d->nports;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (d->ports[mid].rtpi == rtpi)
			return (int)mid;
		if (d->ports[mid].rtpi < rtpi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Insertion sort by RTPI (at most PORT_DIR_NODE_PORTS_MAX entries). */
static void port_dir_sort(struct port_dir_port *v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct port_dir_port t = v[i];
		uint32_t j = i;

		while (j > 0 && v[j - 1].rtpi > t.rtpi) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
}

/* ------------------------------------------------------------- lifetime */

int port_dir_create(struct port_dir **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void port_dir_destroy(struct port_dir *d)
{
	free(d);
}

void port_dir_reset(struct port_dir *d)
{
	memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------ operations */

static enum port_dir_verdict port_dir_verdict_set(struct port_dir_result *res,
						  enum port_dir_verdict v,
						  uint16_t rtpi, uint16_t group,
						  uint32_t other)
{
	res->verdict = v;
	res->rtpi = rtpi;
	res->port_group = group;
	res->other_node = other;
	return v;
}

/* Whether the departed port p is forgotten when node announces ports
 * v[0, n) of group: it collides in RTPI or group. */
static bool port_dir_evicts(const struct port_dir_port *p, uint32_t node,
			    const struct port_dir_port *v, uint32_t n,
			    uint16_t group)
{
	if (p->node == node || p->live || n == 0)
		return false;
	if (p->port_group == group)
		return true;
	for (uint32_t i = 0; i < n; i++)
		if (v[i].rtpi == p->rtpi)
			return true;
	return false;
}

enum port_dir_verdict port_dir_announce(struct port_dir *d,
					const struct port_dir_announce *a,
					struct port_dir_result *res)
{
	struct port_dir_port v[PORT_DIR_NODE_PORTS_MAX];
	struct port_dir_result dummy;
	uint32_t n = a->nports, keep = 0, evicted = 0;
	uint16_t group;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (a->node == 0 || n > PORT_DIR_NODE_PORTS_MAX)
		return port_dir_verdict_set(res, PORT_DIR_INVALID, 0, 0, 0);
	for (uint32_t i = 0; i < n; i++) {
		if (!port_dir_port_valid(&a->ports[i]))
			return port_dir_verdict_set(res, PORT_DIR_INVALID,
						    a->ports[i].rtpi, 0, 0);
		port_dir_port_canon(&v[i], &a->ports[i], a->node, true);
	}
	port_dir_sort(v, n);
	group = n ? v[0].port_group : 0;
	for (uint32_t i = 0; i < n; i++) {
		/* one group per node (DESIGN.md), each RTPI once */
		if (v[i].port_group != group ||
		    (i > 0 && v[i].rtpi == v[i - 1].rtpi))
			return port_dir_verdict_set(res, PORT_DIR_INVALID,
						    v[i].rtpi, 0, 0);
	}

	/* SPC-4 7.8.6.5: an RTPI names one target port of the SCSI target
	 * device, here the whole cluster; a live node keeps what it has. */
	for (uint32_t i = 0; i < n; i++) {
		int k = port_dir_index(d, v[i].rtpi);

		if (k >= 0 && d->ports[k].node != a->node && d->ports[k].live)
			return port_dir_verdict_set(res, PORT_DIR_CLASH_RTPI,
						    v[i].rtpi, 0,
						    d->ports[k].node);
	}
	for (uint32_t i = 0; n && i < d->nports; i++) {
		const struct port_dir_port *p = &d->ports[i];

		if (p->port_group == group && p->node != a->node && p->live)
			return port_dir_verdict_set(res, PORT_DIR_CLASH_GROUP,
						    0, group, p->node);
	}

	for (uint32_t i = 0; i < d->nports; i++) {
		const struct port_dir_port *p = &d->ports[i];

		if (p->node == a->node)
			continue;
		if (port_dir_evicts(p, a->node, v, n, group))
			evicted++;
		else
			keep++;
	}
	if (keep + n > PORT_DIR_PORTS_MAX)
		return port_dir_verdict_set(res, PORT_DIR_FULL, 0, 0, 0);

	/* Accepted: drop the node's old ports and the evicted ones, then
	 * merge the new ones in RTPI order. */
	uint32_t w = 0;
	for (uint32_t i = 0; i < d->nports; i++) {
		const struct port_dir_port *p = &d->ports[i];

		if (p->node == a->node ||
		    port_dir_evicts(p, a->node, v, n, group))
			continue;
		if (w != i)
			d->ports[w] = *p;
		w++;
	}
	for (uint32_t i = w; i < d->nports; i++)
		memset(&d->ports[i], 0, sizeof(d->ports[i]));
	d->nports = w;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t at = d->nports;

		while (at > 0 && d->ports[at - 1].rtpi > v[i].rtpi) {
			d->ports[at] = d->ports[at - 1];
			at--;
		}
		d->ports[at] = v[i];
		d->nports++;
	}
	res->evicted = evicted;
	return port_dir_verdict_set(res, PORT_DIR_OK, 0, 0, 0);
}

uint32_t port_dir_node_left(struct port_dir *d, uint32_t node)
{
	uint32_t changed = 0;

	for (uint32_t i = 0; i < d->nports; i++) {
		if (d->ports[i].node == node && d->ports[i].live) {
			d->ports[i].live = false;
			changed++;
		}
	}
	return changed;
}

/* --------------------------------------------------------------- lookups */

const struct port_dir_port *port_dir_find(const struct port_dir *d,
					  uint16_t rtpi)
{
	int k = port_dir_index(d, rtpi);

	return k < 0 ? NULL : &d->ports[k];
}

bool port_dir_port_exists(void *arg, uint16_t rtpi)
{
	return port_dir_index(arg, rtpi) >= 0;
}

uint32_t port_dir_count(const struct port_dir *d)
{
	return d->nports;
}

const struct port_dir_port *port_dir_at(const struct port_dir *d, uint32_t i)
{
	return i < d->nports ? &d->ports[i] : NULL;
}

uint32_t port_dir_node_rtpis(const struct port_dir *d, uint32_t node,
			     uint16_t *out, uint32_t max)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < d->nports; i++) {
		if (d->ports[i].node != node)
			continue;
		if (n < max)
			out[n] = d->ports[i].rtpi;
		n++;
	}
	return n;
}

/* Every group, ascending by id, into g (room for PORT_DIR_PORTS_MAX). A
 * group belongs to one node (the invariant), so its state is its node's. */
static uint32_t port_dir_groups_all(const struct port_dir *d,
				    struct port_dir_group *g)
{
	uint32_t ng = 0;

	for (uint32_t i = 0; i < d->nports; i++) {
		const struct port_dir_port *p = &d->ports[i];
		uint32_t k = 0;

		while (k < ng && g[k].id < p->port_group)
			k++;
		if (k == ng || g[k].id != p->port_group) {
			memmove(&g[k + 1], &g[k], (ng - k) * sizeof(g[0]));
			memset(&g[k], 0, sizeof(g[k]));
			g[k].id = p->port_group;
			g[k].node = p->node;
			g[k].state = p->live ? PORT_DIR_STATE_ACTIVE_OPTIMIZED
					     : PORT_DIR_STATE_UNAVAILABLE;
			ng++;
		}
		/* ports come in RTPI order, so each list is ascending */
		if (g[k].nports < PORT_DIR_NODE_PORTS_MAX)
			g[k].rtpis[g[k].nports++] = p->rtpi;
	}
	return ng;
}

uint32_t port_dir_groups(const struct port_dir *d, struct port_dir_group *out,
			 uint32_t max)
{
	struct port_dir_group g[PORT_DIR_PORTS_MAX];   /* ~11 KiB */
	uint32_t ng = port_dir_groups_all(d, g);

	memcpy(out, g, (ng < max ? ng : max) * sizeof(g[0]));
	return ng;
}

/* ------------------------------------------------------------------ RTPG */

static void port_dir_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void port_dir_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t port_dir_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t port_dir_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int port_dir_rtpg_build(const struct port_dir *d, unsigned format,
			uint8_t transition_s, bool all_unavailable,
			uint8_t *buf, uint32_t alloc_len, uint32_t *full_len)
{
	struct port_dir_group g[PORT_DIR_PORTS_MAX];   /* ~11 KiB */
	uint8_t data[PORT_DIR_RTPG_MAX];                /* ~3 KiB */
	uint32_t ng, n;

	/* SPC-4 6.27.1, table 163: PARAMETER DATA FORMAT 000b / 001b */
	if (format > 1)
		return -EINVAL;
	memset(data, 0, sizeof(data));
	ng = port_dir_groups_all(d, g);
	n = format == 1 ? 8 : 4;
	for (uint32_t i = 0; i < ng; i++) {
		uint8_t *p = data + n;

		/* SPC-4 6.27.2, table 166: PREF 0, ASYMMETRIC ACCESS STATE */
		p[0] = (all_unavailable ? PORT_DIR_STATE_UNAVAILABLE
					: g[i].state) & 0x0F;
		/* T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP: as alua.c reports */
		p[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
		port_dir_put16(p + 2, g[i].id);
		p[5] = 0x00;    /* STATUS CODE: no status available */
		p[7] = (uint8_t)g[i].nports;   /* TARGET PORT COUNT */
		n += 8;
		for (uint32_t k = 0; k < g[i].nports; k++) {
			/* table 168: obsolete (2 bytes), RTPI */
			port_dir_put16(data + n + 2, g[i].rtpis[k]);
			n += 4;
		}
	}
	/* RETURN DATA LENGTH: the bytes after the first four. */
	port_dir_put32(data, n - 4);
	if (format == 1) {
		data[4] = 0x10;         /* FORMAT TYPE 001b */
		data[5] = transition_s; /* IMPLICIT TRANSITION TIME */
	}
	if (full_len)
		*full_len = n;
	if (n > alloc_len)
		n = alloc_len;
	if (n)
		memcpy(buf, data, n);
	return (int)n;
}

/* ------------------------------------------------------- records (codec) */

struct port_dir_wr {
	uint8_t *p;
	size_t cap, pos;
	bool overflow;
};

static void port_dir_wr_bytes(struct port_dir_wr *w, const void *s, size_t n)
{
	if (w->overflow || w->cap - w->pos < n) {
		w->overflow = true;
		return;
	}
	memcpy(w->p + w->pos, s, n);
	w->pos += n;
}

static void port_dir_wr8(struct port_dir_wr *w, uint8_t v)
{
	port_dir_wr_bytes(w, &v, 1);
}

static void port_dir_wr16(struct port_dir_wr *w, uint16_t v)
{
	uint8_t b[2];

	port_dir_put16(b, v);
	port_dir_wr_bytes(w, b, 2);
}

static void port_dir_wr32(struct port_dir_wr *w, uint32_t v)
{
	uint8_t b[4];

	port_dir_put32(b, v);
	port_dir_wr_bytes(w, b, 4);
}

static void port_dir_rec_write(struct port_dir_wr *w,
			       const struct port_dir_port *p, uint32_t node,
			       uint8_t flags)
{
	size_t tl = strlen(p->target);

	port_dir_wr32(w, node);
	port_dir_wr16(w, p->rtpi);
	port_dir_wr16(w, p->port_group);
	port_dir_wr16(w, p->tpg_tag);
	port_dir_wr8(w, flags);
	port_dir_wr8(w, p->nportals);
	port_dir_wr8(w, (uint8_t)tl);
	port_dir_wr_bytes(w, p->target, tl);
	for (unsigned i = 0; i < p->nportals; i++) {
		size_t pl = strlen(p->portals[i]);

		port_dir_wr8(w, (uint8_t)pl);
		port_dir_wr_bytes(w, p->portals[i], pl);
	}
}

struct port_dir_rd {
	const uint8_t *p;
	size_t len, pos;
	int err;
};

static const uint8_t *port_dir_rd_bytes(struct port_dir_rd *r, size_t n)
{
	const uint8_t *s;

	if (r->err || r->len - r->pos < n) {
		if (!r->err)
			r->err = -ENODATA;
		return NULL;
	}
	s = r->p + r->pos;
	r->pos += n;
	return s;
}

static uint8_t port_dir_rd8(struct port_dir_rd *r)
{
	const uint8_t *s = port_dir_rd_bytes(r, 1);

	return s ? s[0] : 0;
}

static uint16_t port_dir_rd16(struct port_dir_rd *r)
{
	const uint8_t *s = port_dir_rd_bytes(r, 2);

	return s ? port_dir_get16(s) : 0;
}

static uint32_t port_dir_rd32(struct port_dir_rd *r)
{
	const uint8_t *s = port_dir_rd_bytes(r, 4);

	return s ? port_dir_get32(s) : 0;
}

/* A string of 1..max-1 bytes into dst; -EINVAL for a bad length or byte. */
static void port_dir_rd_str(struct port_dir_rd *r, uint8_t n, char *dst,
			    size_t max)
{
	const uint8_t *s;

	if (r->err)
		return;
	if (n == 0 || n >= max) {
		r->err = -EINVAL;
		return;
	}
	s = port_dir_rd_bytes(r, n);
	if (!s)
		return;
	memcpy(dst, s, n);
	dst[n] = '\0';
	if (port_dir_str_check(dst, max) != n)
		r->err = -EINVAL;
}

/* One record into p (zeroed first); *flags gets its flags byte. */
static void port_dir_rec_read(struct port_dir_rd *r, struct port_dir_port *p,
			      uint8_t *flags)
{
	uint8_t tl;

	memset(p, 0, sizeof(*p));
	p->node = port_dir_rd32(r);
	p->rtpi = port_dir_rd16(r);
	p->port_group = port_dir_rd16(r);
	p->tpg_tag = port_dir_rd16(r);
	*flags = port_dir_rd8(r);
	p->nportals = port_dir_rd8(r);
	tl = port_dir_rd8(r);
	if (r->err)
		return;
	if (p->nportals > PORT_DIR_PORTALS_MAX || p->rtpi == 0) {
		r->err = -EINVAL;
		return;
	}
	port_dir_rd_str(r, tl, p->target, PORT_DIR_NAME_MAX);
	for (unsigned i = 0; i < p->nportals; i++)
		port_dir_rd_str(r, port_dir_rd8(r), p->portals[i],
				PORT_DIR_PORTAL_MAX);
}

/* ------------------------------------------------------------- save/load */

int port_dir_save(const struct port_dir *d, void **data, size_t *len)
{
	size_t cap = PORT_DIR_SAVE_HDR;
	struct port_dir_wr w = { 0 };

	for (uint32_t i = 0; i < d->nports; i++) {
		const struct port_dir_port *p = &d->ports[i];

		cap += PORT_DIR_REC_HDR + strlen(p->target);
		for (unsigned k = 0; k < p->nportals; k++)
			cap += 1 + strlen(p->portals[k]);
	}
	w.p = malloc(cap);
	w.cap = cap;
	if (!w.p)
		return -ENOMEM;
	port_dir_wr_bytes(&w, PORT_DIR_MAGIC, 4);
	port_dir_wr16(&w, PORT_DIR_VERSION);
	port_dir_wr16(&w, 0);
	port_dir_wr32(&w, d->nports);
	for (uint32_t i = 0; i < d->nports; i++)
		port_dir_rec_write(&w, &d->ports[i], d->ports[i].node,
				   d->ports[i].live ? PORT_DIR_FLAG_LIVE : 0);
	if (w.overflow || w.pos != cap) {
		free(w.p);
		return -EINVAL; /* a port that was never valid */
	}
	*data = w.p;
	*len = w.pos;
	return 0;
}

/* The directory invariants: one group per node, one node per group. */
static bool port_dir_invariants_hold(const struct port_dir *d)
{
	for (uint32_t i = 0; i < d->nports; i++)
		for (uint32_t k = 0; k < i; k++) {
			const struct port_dir_port *a = &d->ports[i];
			const struct port_dir_port *b = &d->ports[k];

			if ((a->node == b->node) !=
			    (a->port_group == b->port_group))
				return false;
			if (a->node == b->node && a->live != b->live)
				return false;
		}
	return true;
}

int port_dir_load(struct port_dir *d, const void *data, size_t len)
{
	struct port_dir_rd r = { .p = data, .len = len };
	struct port_dir *sc;
	const uint8_t *magic;
	uint32_t n;
	int rc = 0;

	magic = port_dir_rd_bytes(&r, 4);
	if (!magic)
		return -ENODATA;
	if (memcmp(magic, PORT_DIR_MAGIC, 4) != 0)
		return -EINVAL;
	if (port_dir_rd16(&r) != PORT_DIR_VERSION)
		return r.err ? r.err : -EPROTONOSUPPORT;
	if (port_dir_rd16(&r) != 0)
		return r.err ? r.err : -EINVAL;
	n = port_dir_rd32(&r);
	if (r.err)
		return r.err;
	if (n > PORT_DIR_PORTS_MAX)
		return -EINVAL;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !r.err; i++) {
		struct port_dir_port *p = &sc->ports[i];
		uint8_t flags;

		port_dir_rec_read(&r, p, &flags);
		if (r.err)
			break;
		if ((flags & ~PORT_DIR_FLAG_LIVE) || p->node == 0 ||
		    (i > 0 && sc->ports[i - 1].rtpi >= p->rtpi))
			r.err = -EINVAL;
		p->live = flags & PORT_DIR_FLAG_LIVE;
		sc->nports = i + 1;
	}
	rc = r.err;
	if (!rc && r.pos != len)
		rc = -EINVAL;    /* trailing bytes */
	if (!rc && !port_dir_invariants_hold(sc))
		rc = -EINVAL;
	if (!rc)
		memcpy(d, sc, sizeof(*d));
	free(sc);
	return rc;
}

/* ------------------------------------------------------- ANNOUNCE codec */

ssize_t port_dir_announce_encode(const struct port_dir_announce *a,
				 uint8_t *buf, size_t cap)
{
	struct port_dir_wr w = { .p = buf, .cap = cap };

	if (a->nports > PORT_DIR_NODE_PORTS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < a->nports; i++)
		if (!port_dir_port_valid(&a->ports[i]))
			return -EINVAL;
	port_dir_wr8(&w, PORT_DIR_VERSION);
	port_dir_wr8(&w, PORT_DIR_MSG_ANNOUNCE);
	port_dir_wr16(&w, 0);
	port_dir_wr32(&w, a->node);
	port_dir_wr16(&w, (uint16_t)a->nports);
	port_dir_wr16(&w, 0);
	for (uint32_t i = 0; i < a->nports; i++)
		port_dir_rec_write(&w, &a->ports[i], a->node, 0);
	return w.overflow ? -ENOSPC : (ssize_t)w.pos;
}

int port_dir_announce_decode(const uint8_t *buf, size_t len,
			     struct port_dir_announce *a)
{
	struct port_dir_rd r = { .p = buf, .len = len };
	uint8_t version, type;
	uint32_t n;

	memset(a, 0, sizeof(*a));
	version = port_dir_rd8(&r);
	if (r.err)
		return r.err;
	if (version != PORT_DIR_VERSION)
		return -EPROTONOSUPPORT;
	type = port_dir_rd8(&r);
	if (port_dir_rd16(&r) != 0 || (!r.err && type != PORT_DIR_MSG_ANNOUNCE))
		return r.err ? r.err : -EINVAL;
	a->node = port_dir_rd32(&r);
	n = port_dir_rd16(&r);
	if (port_dir_rd16(&r) != 0)
		return r.err ? r.err : -EINVAL;
	if (r.err)
		return r.err;
	if (n > PORT_DIR_NODE_PORTS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t flags;

		port_dir_rec_read(&r, &a->ports[i], &flags);
		if (r.err)
			break;
		if (flags || a->ports[i].node != a->node) {
			r.err = -EINVAL;
			break;
		}
		a->nports = i + 1;
	}
	if (!r.err && r.pos != len)
		r.err = -EINVAL;
	if (r.err)
		memset(a, 0, sizeof(*a));
	return r.err;
}

const char *port_dir_verdict_str(enum port_dir_verdict v)
{
	switch (v) {
	case PORT_DIR_OK:
		return "accepted";
	case PORT_DIR_CLASH_RTPI:
		return "RTPI held by another live node";
	case PORT_DIR_CLASH_GROUP:
		return "port group held by another live node";
	case PORT_DIR_INVALID:
		return "malformed port list";
	case PORT_DIR_FULL:
		return "port directory full";
	default:
		return "unknown verdict";
	}
}
