/*
 * Text keys and operational parameter negotiation (RFC 7143 6.1, 6.2, 13).
 *
 * Its one job: turn key=value data segments into pairs, and answer the
 * operational keys an initiator offers during login, keeping the result
 * in struct iscsi_params. The keys live in one table (name, type, range,
 * our value, where they are allowed, the function that answers); adding
 * a key is adding a row.
 *
 * It deliberately does not know about login stages, security keys
 * (AuthMethod, CHAP_*), InitiatorName/TargetName/SessionType or PDUs:
 * login.c feeds it the keys it does not own itself and decides what a
 * failure means for the connection.
 */
#include "iscsi/param.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "iscsi/iscsi.h"
#include "iscsi/pdu.h"

#define ISCSI_PARAM_OUR_MAX_R2T 16u       /* MaxOutstandingR2T we accept */
#define ISCSI_PARAM_OUR_TIME2WAIT 2u      /* 13.15 default */
#define ISCSI_PARAM_OUR_TIME2RETAIN 20u   /* 13.16 default */
#define ISCSI_KV_BUF_MAX (1u << 20)       /* never build more than this */

void iscsi_params_default(struct iscsi_params *p)
{
	/* RFC 7143 13.x defaults; what holds when a key is never sent */
	memset(p, 0, sizeof(*p));
	p->header_digest = false;
	p->data_digest = false;
	p->max_xmit_dsl = ISCSI_PARAM_RFC_MAX_RECV_DSL;
	p->max_recv_dsl = ISCSI_PARAM_RFC_MAX_RECV_DSL;
	p->max_burst = ISCSI_PARAM_RFC_MAX_BURST;
	p->first_burst = ISCSI_PARAM_RFC_FIRST_BURST;
	p->initial_r2t = true;
	p->immediate_data = true;
	p->max_outstanding_r2t = 1;
	p->data_pdu_in_order = true;
	p->data_sequence_in_order = true;
	p->default_time2wait = ISCSI_PARAM_OUR_TIME2WAIT;
	p->default_time2retain = ISCSI_PARAM_OUR_TIME2RETAIN;
	p->max_connections = 1;
	p->error_recovery_level = 0;
}

/* ------------------------------------------------------------------ */
/* key=value iterator (RFC 7143 6.1) */

void iscsi_kv_iter_init(struct iscsi_kv_iter *it, const uint8_t *data,
			uint32_t len)
{
	it->data = (const char *)data;
	it->len = data ? len : 0;
	it->pos = 0;
	it->key[0] = '\0';
	it->value[0] = '\0';
}

int iscsi_kv_next(struct iscsi_kv_iter *it, const char **key,
		  const char **value)
{
	const char *p, *end, *nul, *eq;
	size_t klen, vlen;

	/* tolerate padding: empty strings between pairs are skipped */
	while (it->pos < it->len && it->data[it->pos] == '\0')
		it->pos++;
	if (it->pos >= it->len)
		return 0;
	p = it->data + it->pos;
	end = it->data + it->len;
	nul = memchr(p, '\0', (size_t)(end - p));
	if (!nul) {
		/* every pair ends with a NUL (6.1); stop iterating */
		it->pos = it->len;
		return -EINVAL;
	}
	it->pos = (uint32_t)(nul - it->data) + 1;
	eq = memchr(p, '=', (size_t)(nul - p));
	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - p);
	vlen = (size_t)(nul - eq - 1);
	if (klen == 0 || klen > ISCSI_KV_KEY_MAX || klen >= sizeof(it->key) ||
	    vlen > ISCSI_KV_VALUE_MAX || vlen >= sizeof(it->value))
		return -EINVAL;
	memcpy(it->key, p, klen);
	it->key[klen] = '\0';
	memcpy(it->value, eq + 1, vlen);
	it->value[vlen] = '\0';
	*key = it->key;
	*value = it->value;
	return 1;
}

/* ------------------------------------------------------------------ */
/* output buffer */

static bool iscsi_kv_buf_reserve(struct iscsi_kv_buf *b, size_t need)
{
	size_t cap;
	char *n;

	if (b->oom)
		return false;
	if ((size_t)b->len + need <= b->cap)
		return true;
	if ((size_t)b->len + need > ISCSI_KV_BUF_MAX) {
		b->oom = true;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < (size_t)b->len + need)
		cap *= 2;
	n = realloc(b->data, cap);
	if (!n) {
		b->oom = true;
		return false;
	}
	b->data = n;
	b->cap = (uint32_t)cap;
	return true;
}

void iscsi_kv_add(struct iscsi_kv_buf *b, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (!iscsi_kv_buf_reserve(b, kl + vl + 2))
		return;
	memcpy(b->data + b->len, key, kl);
	b->data[b->len + kl] = '=';
	memcpy(b->data + b->len + kl + 1, value, vl);
	b->data[b->len + kl + 1 + vl] = '\0';
	b->len += (uint32_t)(kl + vl + 2);
}

void iscsi_kv_addf(struct iscsi_kv_buf *b, const char *key, const char *fmt, ...)
{
	char small[256], *val = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		val = malloc((size_t)n + 1);
		if (!val) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(val, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	iscsi_kv_add(b, key, val);
	if (val != small)
		free(val);
}

/* ------------------------------------------------------------------ */
/* values (RFC 7143 5.1) */

int iscsi_param_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10, d;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return -EINVAL;
	}
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

/* Yes/No (5.1 boolean); -EINVAL for anything else. */
static int iscsi_param_parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "Yes") == 0)
		*out = true;
	else if (strcmp(s, "No") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the key table (RFC 7143 13) */

struct iscsi_key_row;
typedef enum iscsi_neg_result (*iscsi_key_fn)(struct iscsi_neg *n,
					      const struct iscsi_key_row *row,
					      const char *value,
					      struct iscsi_kv_buf *out,
					      uint16_t *status);

enum iscsi_key_flag {
	ISCSI_KEY_LO = 1u << 0,            /* leading connection only */
	ISCSI_KEY_IRR_DISCOVERY = 1u << 1, /* Irrelevant when Discovery */
};

struct iscsi_key_row {
	const char *name;
	iscsi_key_fn fn;
	uint32_t min, max;   /* admissible range of numerical values */
	uint32_t ours;       /* our value/limit (bool: 0/1) */
	size_t off;          /* field in struct iscsi_params, or SIZE_MAX */
	unsigned flags;
	const char *fixed;   /* our answer for ISCSI_KEY_FIXED rows */
};

#define ISCSI_PARAM_FIELD(f) offsetof(struct iscsi_params, f)
#define ISCSI_PARAM_NONE SIZE_MAX

static bool *iscsi_neg_bool_field(struct iscsi_neg *n,
				  const struct iscsi_key_row *row)
{
	return (bool *)(void *)((char *)&n->params + row->off);
}

static uint32_t *iscsi_neg_u32_field(struct iscsi_neg *n,
				     const struct iscsi_key_row *row)
{
	return (uint32_t *)(void *)((char *)&n->params + row->off);
}

/* Numerical value within the row's range, else -EINVAL. */
static int iscsi_neg_parse_num(const struct iscsi_key_row *row,
			       const char *value, uint32_t *out)
{
	uint64_t v;

	if (iscsi_param_parse_u64(value, &v) < 0 || v < row->min ||
	    v > row->max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* 13.1: a list of CRC32C/None; we answer with the first we support,
 * which is any of the two. An empty or all-unknown list -> Reject. */
static enum iscsi_neg_result iscsi_neg_digest(struct iscsi_neg *n,
					      const struct iscsi_key_row *row,
					      const char *value,
					      struct iscsi_kv_buf *out,
					      uint16_t *status)
{
	const char *p = value;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 6 && strncmp(p, "CRC32C", 6) == 0) {
			*iscsi_neg_bool_field(n, row) = true;
			iscsi_kv_add(out, row->name, "CRC32C");
			return ISCSI_NEG_OK;
		}
		if (len == 4 && strncmp(p, "None", 4) == 0) {
			*iscsi_neg_bool_field(n, row) = false;
			iscsi_kv_add(out, row->name, "None");
			return ISCSI_NEG_OK;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	/* 6.2.1: no common value */
	iscsi_kv_add(out, row->name, "Reject");
	return ISCSI_NEG_OK;
}

/* 6.2.2 Boolean OR (Yes if either side says Yes) and AND (Yes only if
 * both do), against our value row->ours. */
static enum iscsi_neg_result iscsi_neg_bool(struct iscsi_neg *n,
					    const struct iscsi_key_row *row,
					    const char *value,
					    struct iscsi_kv_buf *out, bool and)
{
	bool v;

	if (iscsi_param_parse_bool(value, &v) < 0) {
		iscsi_kv_add(out, row->name, "Reject");
		return ISCSI_NEG_OK;
	}
	v = and ? v && row->ours : v || row->ours;
	*iscsi_neg_bool_field(n, row) = v;
	iscsi_kv_add(out, row->name, v ? "Yes" : "No");
	return ISCSI_NEG_OK;
}

static enum iscsi_neg_result iscsi_neg_bool_or(struct iscsi_neg *n,
					       const struct iscsi_key_row *row,
					       const char *value,
					       struct iscsi_kv_buf *out,
					       uint16_t *status)
{
	return iscsi_neg_bool(n, row, value, out, false);
}

static enum iscsi_neg_result iscsi_neg_bool_and(struct iscsi_neg *n,
						const struct iscsi_key_row *row,
						const char *value,
						struct iscsi_kv_buf *out,
						uint16_t *status)
{
	return iscsi_neg_bool(n, row, value, out, true);
}

/* Our limit for a numerical row: configured limits override the row. */
static uint32_t iscsi_neg_ours(const struct iscsi_neg *n,
			       const struct iscsi_key_row *row)
{
	if (row->off == ISCSI_PARAM_FIELD(max_burst))
		return n->our_max_burst;
	if (row->off == ISCSI_PARAM_FIELD(first_burst))
		return n->our_first_burst < n->params.max_burst ?
			       n->our_first_burst : n->params.max_burst;
	return row->ours;
}

/* 6.2.2 numerical minimum and maximum, against our value. */
static enum iscsi_neg_result iscsi_neg_num(struct iscsi_neg *n,
					   const struct iscsi_key_row *row,
					   const char *value,
					   struct iscsi_kv_buf *out, bool max)
{
	uint32_t v, ours = iscsi_neg_ours(n, row);

	if (iscsi_neg_parse_num(row, value, &v) < 0) {
		iscsi_kv_add(out, row->name, "Reject");
		return ISCSI_NEG_OK;
	}
	if (max ? v < ours : v > ours)
		v = ours;
	*iscsi_neg_u32_field(n, row) = v;
	iscsi_kv_addf(out, row->name, "%u", v);
	return ISCSI_NEG_OK;
}

static enum iscsi_neg_result iscsi_neg_num_min(struct iscsi_neg *n,
					       const struct iscsi_key_row *row,
					       const char *value,
					       struct iscsi_kv_buf *out,
					       uint16_t *status)
{
	return iscsi_neg_num(n, row, value, out, false);
}

static enum iscsi_neg_result iscsi_neg_num_max(struct iscsi_neg *n,
					       const struct iscsi_key_row *row,
					       const char *value,
					       struct iscsi_kv_buf *out,
					       uint16_t *status)
{
	return iscsi_neg_num(n, row, value, out, true);
}

/* 13.12: the initiator declares how much it can receive: that is how much
 * we may send. Declarations are not answered; ours goes out through
 * iscsi_neg_declare(). A value we cannot parse leaves us not knowing how
 * to talk to the initiator: the login fails. */
static enum iscsi_neg_result iscsi_neg_declared_dsl(
	struct iscsi_neg *n, const struct iscsi_key_row *row, const char *value,
	struct iscsi_kv_buf *out, uint16_t *status)
{
	uint32_t v;

	if (iscsi_neg_parse_num(row, value, &v) < 0) {
		*status = ISCSI_LS_INITIATOR_ERROR;
		return ISCSI_NEG_FAIL;
	}
	n->params.max_xmit_dsl = v;
	return ISCSI_NEG_OK;
}

/* Declarations we only take note of (InitiatorAlias is kept by login.c). */
static enum iscsi_neg_result iscsi_neg_ignore(struct iscsi_neg *n,
					      const struct iscsi_key_row *row,
					      const char *value,
					      struct iscsi_kv_buf *out,
					      uint16_t *status)
{
	return ISCSI_NEG_OK;
}

/* Keys with one answer whatever the offer: obsolete markers (13.25),
 * TaskReporting (13.23: we only do the RFC 3720 behaviour). */
static enum iscsi_neg_result iscsi_neg_fixed(struct iscsi_neg *n,
					     const struct iscsi_key_row *row,
					     const char *value,
					     struct iscsi_kv_buf *out,
					     uint16_t *status)
{
	iscsi_kv_add(out, row->name, row->fixed);
	return ISCSI_NEG_OK;
}

/* Keys only a target may send (13.9, 13.8, 13.7): from the initiator
 * they are a protocol error. */
static enum iscsi_neg_result iscsi_neg_target_only(
	struct iscsi_neg *n, const struct iscsi_key_row *row, const char *value,
	struct iscsi_kv_buf *out, uint16_t *status)
{
	*status = ISCSI_LS_INITIATOR_ERROR;
	return ISCSI_NEG_FAIL;
}

#define ISCSI_KEY_F(f) .off = ISCSI_PARAM_FIELD(f)
#define ISCSI_KEY_NUM(lo, hi) .min = (lo), .max = (hi)
#define ISCSI_KEY_DSL ISCSI_KEY_NUM(ISCSI_PARAM_DSL_MIN, ISCSI_PARAM_DSL_MAX)
#define ISCSI_KEY_NOFIELD .off = ISCSI_PARAM_NONE
#define ISCSI_KEY_LO_IRR (ISCSI_KEY_LO | ISCSI_KEY_IRR_DISCOVERY)

/*
 * One row per key of RFC 7143 13. "ours" is our value (Boolean: 1 = Yes)
 * or our limit; MaxBurstLength/FirstBurstLength take theirs from the
 * configuration (iscsi_neg_ours). MaxBurstLength precedes FirstBurstLength
 * so that FirstBurst <= MaxBurst settles in order.
 */
static const struct iscsi_key_row iscsi_key_table[] = {
	/* 13.1 */
	{ "HeaderDigest", iscsi_neg_digest, ISCSI_KEY_F(header_digest) },
	{ "DataDigest", iscsi_neg_digest, ISCSI_KEY_F(data_digest) },
	/* 13.2: one connection per session */
	{ "MaxConnections", iscsi_neg_num_min, ISCSI_KEY_NUM(1, 65535),
	  .ours = 1, ISCSI_KEY_F(max_connections), .flags = ISCSI_KEY_LO_IRR },
	/* 13.10: OR, we would take unsolicited data */
	{ "InitialR2T", iscsi_neg_bool_or, .ours = 0,
	  ISCSI_KEY_F(initial_r2t), .flags = ISCSI_KEY_LO_IRR },
	/* 13.11: AND, we take immediate data */
	{ "ImmediateData", iscsi_neg_bool_and, .ours = 1,
	  ISCSI_KEY_F(immediate_data), .flags = ISCSI_KEY_LO_IRR },
	/* 13.12: declarative, per connection */
	{ "MaxRecvDataSegmentLength", iscsi_neg_declared_dsl, ISCSI_KEY_DSL,
	  ISCSI_KEY_F(max_xmit_dsl) },
	/* 13.13, 13.14: minimum */
	{ "MaxBurstLength", iscsi_neg_num_min, ISCSI_KEY_DSL,
	  ISCSI_KEY_F(max_burst), .flags = ISCSI_KEY_LO_IRR },
	{ "FirstBurstLength", iscsi_neg_num_min, ISCSI_KEY_DSL,
	  ISCSI_KEY_F(first_burst), .flags = ISCSI_KEY_LO_IRR },
	/* 13.15: maximum, 13.16: minimum */
	{ "DefaultTime2Wait", iscsi_neg_num_max, ISCSI_KEY_NUM(0, 3600),
	  .ours = ISCSI_PARAM_OUR_TIME2WAIT, ISCSI_KEY_F(default_time2wait),
	  .flags = ISCSI_KEY_LO },
	{ "DefaultTime2Retain", iscsi_neg_num_min, ISCSI_KEY_NUM(0, 3600),
	  .ours = ISCSI_PARAM_OUR_TIME2RETAIN, ISCSI_KEY_F(default_time2retain),
	  .flags = ISCSI_KEY_LO },
	/* 13.17: minimum */
	{ "MaxOutstandingR2T", iscsi_neg_num_min, ISCSI_KEY_NUM(1, 65535),
	  .ours = ISCSI_PARAM_OUR_MAX_R2T, ISCSI_KEY_F(max_outstanding_r2t),
	  .flags = ISCSI_KEY_LO_IRR },
	/* 13.18, 13.19: OR, we want data in order */
	{ "DataPDUInOrder", iscsi_neg_bool_or, .ours = 1,
	  ISCSI_KEY_F(data_pdu_in_order), .flags = ISCSI_KEY_LO_IRR },
	{ "DataSequenceInOrder", iscsi_neg_bool_or, .ours = 1,
	  ISCSI_KEY_F(data_sequence_in_order), .flags = ISCSI_KEY_LO_IRR },
	/* 13.20: minimum, we do level 0 */
	{ "ErrorRecoveryLevel", iscsi_neg_num_min, ISCSI_KEY_NUM(0, 2),
	  .ours = 0, ISCSI_KEY_F(error_recovery_level), .flags = ISCSI_KEY_LO },
	/* 13.6, 13.7, 13.8, 13.9: declarations */
	{ "InitiatorAlias", iscsi_neg_ignore, ISCSI_KEY_NOFIELD },
	{ "TargetAlias", iscsi_neg_target_only, ISCSI_KEY_NOFIELD },
	{ "TargetAddress", iscsi_neg_target_only, ISCSI_KEY_NOFIELD },
	{ "TargetPortalGroupTag", iscsi_neg_target_only, ISCSI_KEY_NOFIELD },
	/* 13.23: only the RFC 3720 task reporting */
	{ "TaskReporting", iscsi_neg_fixed, ISCSI_KEY_NOFIELD,
	  .flags = ISCSI_KEY_LO, .fixed = "RFC3720" },
	/* 13.25: markers are obsolete */
	{ "OFMarker", iscsi_neg_fixed, ISCSI_KEY_NOFIELD, .fixed = "No" },
	{ "IFMarker", iscsi_neg_fixed, ISCSI_KEY_NOFIELD, .fixed = "No" },
	{ "OFMarkInt", iscsi_neg_fixed, ISCSI_KEY_NOFIELD, .fixed = "Reject" },
	{ "IFMarkInt", iscsi_neg_fixed, ISCSI_KEY_NOFIELD, .fixed = "Reject" },
};

/* offered/declared are bit masks over the rows */
_Static_assert(ARRAY_SIZE(iscsi_key_table) <= 64, "key table too long");

static const struct iscsi_key_row *iscsi_neg_find(const char *key,
						  unsigned *idx)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(iscsi_key_table); i++) {
		if (strcmp(iscsi_key_table[i].name, key) == 0) {
			*idx = i;
			return &iscsi_key_table[i];
		}
	}
	return NULL;
}

/* Keys login.c owns; everything else unknown is NotUnderstood. */
static const char *const iscsi_neg_login_keys[] = {
	"InitiatorName", "TargetName", "SessionType", "AuthMethod",
	"CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R", "SendTargets",
};

bool iscsi_neg_is_operational(const char *key)
{
	unsigned idx;

	return iscsi_neg_find(key, &idx) != NULL;
}

void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_global_config *g,
		    bool discovery, bool leading)
{
	memset(n, 0, sizeof(*n));
	iscsi_params_default(&n->params);
	n->our_max_recv_dsl = g && g->max_recv_dsl ? g->max_recv_dsl :
						     ISCSI_PARAM_DEFAULT_MAX_RECV_DSL;
	if (n->our_max_recv_dsl < ISCSI_PARAM_DSL_MIN)
		n->our_max_recv_dsl = ISCSI_PARAM_DSL_MIN;
	if (n->our_max_recv_dsl > ISCSI_PARAM_DSL_MAX)
		n->our_max_recv_dsl = ISCSI_PARAM_DSL_MAX;
	n->our_max_burst = g && g->max_burst ? g->max_burst :
					       ISCSI_PARAM_RFC_MAX_BURST;
	n->our_first_burst = g && g->first_burst ? g->first_burst :
						   ISCSI_PARAM_RFC_FIRST_BURST;
	if (n->our_max_burst < ISCSI_PARAM_DSL_MIN)
		n->our_max_burst = ISCSI_PARAM_DSL_MIN;
	if (n->our_max_burst > ISCSI_PARAM_DSL_MAX)
		n->our_max_burst = ISCSI_PARAM_DSL_MAX;
	if (n->our_first_burst < ISCSI_PARAM_DSL_MIN)
		n->our_first_burst = ISCSI_PARAM_DSL_MIN;
	if (n->our_first_burst > n->our_max_burst)
		n->our_first_burst = n->our_max_burst;
	n->params.max_recv_dsl = n->our_max_recv_dsl;
	n->discovery = discovery;
	n->leading = leading;
}

enum iscsi_neg_result iscsi_neg_key(struct iscsi_neg *n, const char *key,
				    const char *value, struct iscsi_kv_buf *out,
				    uint16_t *status)
{
	const struct iscsi_key_row *row;
	unsigned idx, i;

	row = iscsi_neg_find(key, &idx);
	if (!row) {
		for (i = 0; i < ARRAY_SIZE(iscsi_neg_login_keys); i++)
			if (strcmp(iscsi_neg_login_keys[i], key) == 0)
				return ISCSI_NEG_NOT_OPERATIONAL;
		/* 6.2: unknown keys, X- and X# extensions included */
		iscsi_kv_add(out, key, "NotUnderstood");
		return ISCSI_NEG_OK;
	}
	/* 6.2: a key may be negotiated once per login */
	if (n->offered & (1ull << idx)) {
		*status = ISCSI_LS_INITIATOR_ERROR;
		return ISCSI_NEG_FAIL;
	}
	n->offered |= 1ull << idx;
	/* 6.2: LO keys on a connection that joins a session */
	if ((row->flags & ISCSI_KEY_LO) && !n->leading) {
		*status = ISCSI_LS_INITIATOR_ERROR;
		return ISCSI_NEG_FAIL;
	}
	if ((row->flags & ISCSI_KEY_IRR_DISCOVERY) && n->discovery) {
		iscsi_kv_add(out, key, "Irrelevant");
		return ISCSI_NEG_OK;
	}
	return row->fn(n, row, value, out, status);
}

void iscsi_neg_settle(struct iscsi_neg *n)
{
	/* 13.14: FirstBurstLength MUST NOT exceed MaxBurstLength */
	if (n->params.first_burst > n->params.max_burst)
		n->params.first_burst = n->params.max_burst;
}

void iscsi_neg_declare(struct iscsi_neg *n, struct iscsi_kv_buf *out)
{
	unsigned idx;

	if (!iscsi_neg_find("MaxRecvDataSegmentLength", &idx) ||
	    (n->declared & (1ull << idx)))
		return;
	n->declared |= 1ull << idx;
	iscsi_kv_addf(out, "MaxRecvDataSegmentLength", "%u",
		      n->our_max_recv_dsl);
}
