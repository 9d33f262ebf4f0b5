/*
 * ctgtd's configuration file: JSON text in, a validated struct config out.
 *
 * Everything up to config_check_files() is pure (a string in, a struct and
 * messages out), so the unit tests can drive every rule. Each rule reports
 * the key path it is about and validation goes on after an error, so one
 * run lists every mistake in the file. Defaults are applied here, in one
 * place, and match docs/config.md.
 *
 * This file deliberately knows nothing about running objects: wire.c opens
 * backstores and creates the SCSI and iSCSI objects.
 */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/sha.h>

#include "base/hex.h"
#include "base/list.h"

#define CONFIG_PATH_MAX 256
#define CONFIG_GOT_MAX 48      /* how much of an offending value to quote */
#define CONFIG_FILE_MAX (16u << 20)

/* iSCSI defaults (docs/config.md) */
#define CONFIG_DEF_MAX_RECV_DSL 262144u
#define CONFIG_DEF_MAX_BURST 1048576u
#define CONFIG_DEF_FIRST_BURST 65536u
#define CONFIG_DEF_MAX_CMDS 128u
#define CONFIG_DEF_NOP_INTERVAL 0u
#define CONFIG_DEF_NOP_TIMEOUT 30u
#define CONFIG_ISCSI_LEN_MIN 512u
#define CONFIG_ISCSI_LEN_MAX 16777215u  /* 2^24 - 1, RFC 7143 13.12 */
#define CONFIG_MAX_CMDS_MAX 2048u
#define CONFIG_NOP_MAX 3600u

#define CONFIG_CHAP_MAX 255u
#define CONFIG_CHAP_SECRET_WARN_MIN 12u
#define CONFIG_CHAP_SECRET_WARN_MAX 16u

struct config_ctx {
	struct config_msgs *msgs;
	bool oom;
};

/* ------------------------------------------------------------------ */
/* messages */

static void config_msgs_append(struct config_msgs *m, const char *s, size_t n)
{
	size_t need = m->len + n + 1;
	char *p;

	if (need > m->cap) {
		size_t cap = m->cap ? m->cap : 256;

		while (cap < need)
			cap *= 2;
		p = realloc(m->text, cap);
		if (!p)
			return;
		m->text = p;
		m->cap = cap;
	}
	memcpy(m->text + m->len, s, n);
	m->len += n;
	m->text[m->len] = '\0';
}

static void config_msgs_vadd(struct config_msgs *m, bool warning,
			     const char *path, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0;
	int r;

	if (warning)
		m->n_warnings++;
	else
		m->n_errors++;
	if (m->n_errors + m->n_warnings > CONFIG_MAX_MSGS) {
		m->n_dropped++;
		return;
	}
	/* Room is kept for the newline; a long line is cut, not lost. */
	line[0] = '\0';
	if (warning)
		n = (size_t)snprintf(line, sizeof(line) - 1, "warning: ");
	if (path && path[0] && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - 1 - n, "%s: ", path);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n < sizeof(line) - 1) {
		r = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
		n += r > 0 ? (size_t)r : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	config_msgs_append(m, line, n);
}

__attribute__((format(printf, 3, 4)))
static void config_err(struct config_ctx *x, const char *path,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_msgs_vadd(x->msgs, false, path, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static void config_warn(struct config_ctx *x, const char *path,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_msgs_vadd(x->msgs, true, path, fmt, ap);
	va_end(ap);
}

void config_msg_add(struct config_msgs *m, bool warning, const char *path,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_msgs_vadd(m, warning, path, fmt, ap);
	va_end(ap);
}

void config_msgs_free(struct config_msgs *m)
{
	free(m->text);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ */
/* key paths and JSON access */

/* Paths are cut at CONFIG_PATH_MAX; a cut path still names the key. */
static void config_path_key(char *buf, const char *parent, const char *key)
{
	int n;

	if (parent && parent[0])
		n = snprintf(buf, CONFIG_PATH_MAX, "%s.%s", parent, key);
	else
		n = snprintf(buf, CONFIG_PATH_MAX, "%s", key);
	if (n < 0)
		buf[0] = '\0';
}

static void config_path_index(char *buf, const char *parent, size_t i)
{
	if (snprintf(buf, CONFIG_PATH_MAX, "%s[%zu]", parent, i) < 0)
		buf[0] = '\0';
}

/* The offending value, quoted as JSON and cut short. */
static const char *config_value_quote(struct json_object *v, char *buf,
				      size_t size)
{
	const char *s =
		json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

	if (!s)
		s = "?";
	if (strlen(s) >= size)
		snprintf(buf, size, "%.*s...", (int)size - 4, s);
	else
		snprintf(buf, size, "%s", s);
	return buf;
}

static const char *config_type_describe(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a bool";
	case json_type_double: return "a number with a fraction";
	case json_type_int: return "an integer";
	case json_type_object: return "an object";
	case json_type_array: return "an array";
	case json_type_string: return "a string";
	}
	return "?";
}

static void config_err_type(struct config_ctx *x, const char *path,
			    const char *want, struct json_object *v)
{
	char got[CONFIG_GOT_MAX];

	config_err(x, path, "must be %s, got %s %s", want,
		   config_type_describe(v),
		   config_value_quote(v, got, sizeof(got)));
}

/* Unknown keys are errors: a typo must never fall back to a default. */
static void config_keys_check(struct config_ctx *x, struct json_object *obj,
			      const char *path, const char *const *known)
{
	char p[CONFIG_PATH_MAX], list[512];
	size_t i, n = 0;

	json_object_object_foreach(obj, key, val) {
		bool ok = false;

		(void)val;
		for (i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				ok = true;
		if (ok)
			continue;
		list[0] = '\0';
		n = 0;
		for (i = 0; known[i] && n < sizeof(list); i++) {
			int r = snprintf(list + n, sizeof(list) - n, "%s%s",
					 i ? ", " : "", known[i]);

			n += r > 0 ? (size_t)r : 0;
		}
		config_path_key(p, path, key);
		config_err(x, p, "unknown key (known here: %s)", list);
	}
}

/* The member key of obj when present and of JSON type type: 1 with *v set
 * and its key path in p (CONFIG_PATH_MAX bytes), 0 when absent, -1 when
 * of another type (reported as "must be <what>"). */
static int config_member_get(struct config_ctx *x, struct json_object *obj,
			     const char *path, const char *key,
			     enum json_type type, const char *what,
			     struct json_object **v, char *p)
{
	if (!json_object_object_get_ex(obj, key, v))
		return 0;
	config_path_key(p, path, key);
	if (!json_object_is_type(*v, type)) {
		config_err_type(x, p, what, *v);
		return -1;
	}
	return 1;
}

/* 1: present and valid, 0: absent, -1: present and invalid (reported). */
static int config_uint_get(struct config_ctx *x, struct json_object *obj,
			   const char *path, const char *key, uint64_t min,
			   uint64_t max, uint64_t *out)
{
	char p[CONFIG_PATH_MAX], got[CONFIG_GOT_MAX];
	struct json_object *v;
	uint64_t u;
	int rc;

	rc = config_member_get(x, obj, path, key, json_type_int, "an integer",
			       &v, p);
	if (rc <= 0)
		return rc;
	if (json_object_get_int64(v) < 0) {
		config_err(x, p, "must be %llu..%llu, got %s",
			   (unsigned long long)min, (unsigned long long)max,
			   config_value_quote(v, got, sizeof(got)));
		return -1;
	}
	u = json_object_get_uint64(v);
	if (u < min || u > max) {
		config_err(x, p, "must be %llu..%llu, got %s",
			   (unsigned long long)min, (unsigned long long)max,
			   config_value_quote(v, got, sizeof(got)));
		return -1;
	}
	*out = u;
	return 1;
}

static int config_bool_get(struct config_ctx *x, struct json_object *obj,
			   const char *path, const char *key, bool *out)
{
	char p[CONFIG_PATH_MAX];
	struct json_object *v;
	int rc;

	rc = config_member_get(x, obj, path, key, json_type_boolean,
			       "true or false", &v, p);
	if (rc <= 0)
		return rc;
	*out = json_object_get_boolean(v);
	return 1;
}

/* A string of 1..max bytes without NUL; *out points into the JSON tree. */
static int config_string_get(struct config_ctx *x, struct json_object *obj,
			     const char *path, const char *key, size_t max,
			     const char **out)
{
	char p[CONFIG_PATH_MAX];
	struct json_object *v;
	const char *s;
	size_t n;
	int rc;

	rc = config_member_get(x, obj, path, key, json_type_string, "a string",
			       &v, p);
	if (rc <= 0)
		return rc;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n) {
		config_err(x, p, "must not contain NUL characters");
		return -1;
	}
	if (n == 0) {
		config_err(x, p, "must not be empty");
		return -1;
	}
	if (n > max) {
		config_err(x, p, "longer than %zu bytes (%zu)", max, n);
		return -1;
	}
	*out = s;
	return 1;
}

/* An object member that must be an object (or absent). */
static int config_object_get(struct config_ctx *x, struct json_object *obj,
			     const char *path, const char *key,
			     struct json_object **out)
{
	char p[CONFIG_PATH_MAX];
	struct json_object *v;
	int rc;

	rc = config_member_get(x, obj, path, key, json_type_object,
			       "an object", &v, p);
	if (rc <= 0)
		return rc;
	*out = v;
	return 1;
}

static int config_array_get(struct config_ctx *x, struct json_object *obj,
			    const char *path, const char *key,
			    struct json_object **out)
{
	char p[CONFIG_PATH_MAX];
	struct json_object *v;
	int rc;

	rc = config_member_get(x, obj, path, key, json_type_array, "an array",
			       &v, p);
	if (rc <= 0)
		return rc;
	if (json_object_array_length(v) == 0) {
		config_err(x, p, "must not be empty");
		return -1;
	}
	*out = v;
	return 1;
}

static bool config_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

static bool config_printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

static bool config_all_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (base_hex_value((unsigned char)s[i]) < 0)
			return false;
	return s[n] == '\0';
}

/* ------------------------------------------------------------------ */
/* value syntaxes: sizes, portals, iSCSI names */

const char *config_size_parse(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	uint64_t v = 0, mult = 1;
	const char *u;

	if (!s || !*s)
		return "empty size";
	if (!isdigit((unsigned char)*s))
		return "not a size: expected digits with an optional K, M, G, "
		       "T or P suffix (powers of 1024)";
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return "too large (more than 2^63-1 bytes)";
		v = v * 10 + d;
	}
	if (*s) {
		u = strchr(units, toupper((unsigned char)*s));
		if (!u)
			return "unknown suffix: use K, M, G, T or P (powers "
			       "of 1024)";
		mult = 1ull << (10 * (unsigned)(u - units + 1));
		s++;
		if ((s[0] == 'i' || s[0] == 'I') &&
		    (s[1] == 'B' || s[1] == 'b'))
			s += 2;
		else if (s[0] == 'B' || s[0] == 'b')
			return "ambiguous suffix: use K, M, G, T, P or KiB, "
			       "MiB, GiB, TiB, PiB (powers of 1024)";
		if (*s)
			return "unexpected characters after the suffix";
	}
	if (v > (uint64_t)INT64_MAX / mult)
		return "too large (more than 2^63-1 bytes)";
	*out = v * mult;
	return NULL;
}

static const char *config_port_parse(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (!*s)
		return "missing port after ':'";
	for (i = 0; s[i]; i++) {
		if (!isdigit((unsigned char)s[i]) || i >= 5)
			return "port must be 1..65535";
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return "port must be 1..65535";
	*port = (uint16_t)v;
	return NULL;
}

const char *config_portal_parse(const char *s, struct iscsi_portal_config *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *end, *colon;
	uint16_t port = ISCSI_DEFAULT_PORT;
	const char *why;
	size_t n;

	if (!s || !*s)
		return "empty portal";
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return "missing ']' after the IPv6 address";
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= sizeof(addr))
			return "not an IPv6 address";
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return "not an IPv6 address";
		if (end[1] == ':') {
			why = config_port_parse(end + 2, &port);
			if (why)
				return why;
		} else if (end[1]) {
			return "expected ':PORT' after ']'";
		}
		if (!inet_ntop(AF_INET6, bin, out->addr, sizeof(out->addr)))
			return "not an IPv6 address";
		out->port = port;
		return NULL;
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':'))
		return "IPv6 addresses must be in brackets, e.g. [::1]:3260";
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		return "not an IPv4 address (A.B.C.D) or [IPv6]";
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1)
		return "not an IPv4 address (A.B.C.D) or [IPv6]; host names "
		       "are not accepted";
	if (colon) {
		why = config_port_parse(colon + 1, &port);
		if (why)
			return why;
	}
	if (!inet_ntop(AF_INET, bin, out->addr, sizeof(out->addr)))
		return "not an IPv4 address";
	out->port = port;
	return NULL;
}

/* RFC 7143 4.2.7: iqn./eui./naa. formats, at most 223 bytes. */
const char *config_iscsi_name_check(const char *name)
{
	static const char config_iqn_date[] =
		"iqn. must be followed by a date YYYY-MM and '.'";
	size_t n = name ? strlen(name) : 0, i;
	const char *p;

	if (n == 0)
		return "empty iSCSI name";
	if (n > SCSI_NAME_MAX - 1)
		return "longer than 223 bytes";
	if (strncmp(name, "eui.", 4) == 0) {
		if (n != 4 + 16 || !config_all_hex(name + 4, 16))
			return "eui. must be followed by 16 hex digits";
		return NULL;
	}
	if (strncmp(name, "naa.", 4) == 0) {
		if (!((n == 4 + 16 && config_all_hex(name + 4, 16)) ||
		      (n == 4 + 32 && config_all_hex(name + 4, 32))))
			return "naa. must be followed by 16 or 32 hex digits";
		return NULL;
	}
	if (strncmp(name, "iqn.", 4) != 0)
		return "must start with iqn., eui. or naa. (lower case)";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (isupper(c))
			return "upper case is not allowed (iSCSI names are "
			       "lower case after stringprep)";
		if (!(islower(c) || isdigit(c) || c == '-' || c == '.' ||
		      c == ':'))
			return "only a-z, 0-9, '-', '.' and ':' are allowed";
	}
	/* iqn.YYYY-MM.reversed.domain[:...] */
	p = name + 4;
	for (i = 0; i < 4; i++)
		if (!isdigit((unsigned char)p[i]))
			return config_iqn_date;
	if (p[4] != '-' || !isdigit((unsigned char)p[5]) ||
	    !isdigit((unsigned char)p[6]) || p[7] != '.')
		return config_iqn_date;
	i = (size_t)(p[5] - '0') * 10 + (size_t)(p[6] - '0');
	if (i < 1 || i > 12)
		return "the month in iqn.YYYY-MM must be 01..12";
	p += 8;
	if (!isalnum((unsigned char)*p))
		return "iqn.YYYY-MM. must be followed by a reversed domain "
		       "name";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* derived identity */

static void config_name_hash(const char *prefix, const char *target,
			     uint64_t lun, uint8_t md[SHA256_DIGEST_LENGTH])
{
	char buf[SCSI_NAME_MAX + 64];
	int n;

	n = snprintf(buf, sizeof(buf), "%s%s:%llu", prefix,
		     target ? target : "", (unsigned long long)lun);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1;
	SHA256((const unsigned char *)buf, (size_t)n, md);
}

/* "6" + company id (6 hex digits) + the first 25 hex digits of H. */
void config_naa_derive(const char *target, uint64_t lun, uint8_t naa[16])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	uint8_t nib[32];
	unsigned i;

	config_name_hash("ctgt:", target, lun, md);
	nib[0] = 6;
	for (i = 0; i < 6; i++)
		nib[1 + i] = (CONFIG_NAA_COMPANY_ID >> (20 - 4 * i)) & 0xf;
	for (i = 0; i < 25; i++)
		nib[7 + i] = (i & 1) ? (md[i / 2] & 0xf) : (md[i / 2] >> 4);
	for (i = 0; i < 16; i++)
		naa[i] = (uint8_t)(nib[2 * i] << 4 | nib[2 * i + 1]);
}

void config_serial_derive(const char *target, uint64_t lun, char serial[33])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t md[SHA256_DIGEST_LENGTH];
	unsigned i;

	config_name_hash("ctgt-serial:", target, lun, md);
	for (i = 0; i < 8; i++) {
		serial[2 * i] = hex[md[i] >> 4];
		serial[2 * i + 1] = hex[md[i] & 0xf];
	}
	serial[16] = '\0';
}

/* ------------------------------------------------------------------ */
/* sections */

static void config_auth_parse(struct config_ctx *x, struct json_object *obj,
			      const char *path, struct iscsi_auth_config *a)
{
	static const char *const keys[] = { "chap_required", "user", "secret",
		"mutual_user", "mutual_secret", NULL };
	const char *user = NULL, *secret = NULL, *muser = NULL, *msecret = NULL;
	char p[CONFIG_PATH_MAX];
	int ru, rs, rmu, rms;

	config_keys_check(x, obj, path, keys);
	config_bool_get(x, obj, path, "chap_required", &a->chap_required);
	ru = config_string_get(x, obj, path, "user", CONFIG_CHAP_MAX, &user);
	rs = config_string_get(x, obj, path, "secret", CONFIG_CHAP_MAX,
			       &secret);
	rmu = config_string_get(x, obj, path, "mutual_user", CONFIG_CHAP_MAX,
				&muser);
	rms = config_string_get(x, obj, path, "mutual_secret", CONFIG_CHAP_MAX,
				&msecret);
	if (user && config_has_control(user)) {
		config_path_key(p, path, "user");
		config_err(x, p, "must not contain control characters");
	}
	if (muser && config_has_control(muser)) {
		config_path_key(p, path, "mutual_user");
		config_err(x, p, "must not contain control characters");
	}
	if (ru == 1 && rs == 0) {
		config_path_key(p, path, "secret");
		config_err(x, p, "required when user is set");
	}
	if (rs == 1 && ru == 0) {
		config_path_key(p, path, "user");
		config_err(x, p, "required when secret is set");
	}
	if (rmu == 1 && rms == 0) {
		config_path_key(p, path, "mutual_secret");
		config_err(x, p, "required when mutual_user is set");
	}
	if (rms == 1 && rmu == 0) {
		config_path_key(p, path, "mutual_user");
		config_err(x, p, "required when mutual_secret is set");
	}
	if ((rmu == 1 || rms == 1) && ru == 0 && rs == 0) {
		config_path_key(p, path, "user");
		config_err(x, p, "mutual CHAP needs user and secret too");
	}
	if (a->chap_required && ru == 0 && rs == 0) {
		config_path_key(p, path, "chap_required");
		config_err(x, p, "needs user and secret");
	}
	if (secret && msecret && strcmp(secret, msecret) == 0) {
		config_path_key(p, path, "mutual_secret");
		config_err(x, p, "must differ from secret (RFC 7143 9.2.1)");
	}
	if (secret && (strlen(secret) < CONFIG_CHAP_SECRET_WARN_MIN ||
		       strlen(secret) > CONFIG_CHAP_SECRET_WARN_MAX)) {
		config_path_key(p, path, "secret");
		config_warn(x, p, "%zu bytes; 12..16 is safest (RFC 7143 asks "
			    "for at least 96 bits, some initiators accept at "
			    "most 16)", strlen(secret));
	}
	if (msecret && (strlen(msecret) < CONFIG_CHAP_SECRET_WARN_MIN ||
			strlen(msecret) > CONFIG_CHAP_SECRET_WARN_MAX)) {
		config_path_key(p, path, "mutual_secret");
		config_warn(x, p, "%zu bytes; 12..16 is safest (RFC 7143 asks "
			    "for at least 96 bits, some initiators accept at "
			    "most 16)", strlen(msecret));
	}
	if (user)
		snprintf(a->incoming.user, sizeof(a->incoming.user), "%s",
			 user);
	if (secret)
		snprintf(a->incoming.secret, sizeof(a->incoming.secret), "%s",
			 secret);
	if (muser)
		snprintf(a->outgoing.user, sizeof(a->outgoing.user), "%s",
			 muser);
	if (msecret)
		snprintf(a->outgoing.secret, sizeof(a->outgoing.secret), "%s",
			 msecret);
}

static void config_iscsi_parse(struct config_ctx *x, struct json_object *obj,
			       struct iscsi_global_config *g)
{
	static const char *const keys[] = { "max_recv_data_segment_length",
		"max_burst_length", "first_burst_length",
		"max_cmds_per_session", "nop_interval", "nop_timeout",
		"discovery_auth", NULL };
	struct json_object *auth;
	uint64_t v;
	int rf, rb;

	config_keys_check(x, obj, "iscsi", keys);
	if (config_uint_get(x, obj, "iscsi", "max_recv_data_segment_length",
			    CONFIG_ISCSI_LEN_MIN, CONFIG_ISCSI_LEN_MAX,
			    &v) == 1)
		g->max_recv_dsl = (uint32_t)v;
	rb = config_uint_get(x, obj, "iscsi", "max_burst_length",
			     CONFIG_ISCSI_LEN_MIN, CONFIG_ISCSI_LEN_MAX, &v);
	if (rb == 1)
		g->max_burst = (uint32_t)v;
	rf = config_uint_get(x, obj, "iscsi", "first_burst_length",
			     CONFIG_ISCSI_LEN_MIN, CONFIG_ISCSI_LEN_MAX, &v);
	if (rf == 1)
		g->first_burst = (uint32_t)v;
	/* A default never contradicts an explicit value: without
	 * first_burst_length, a small max_burst_length lowers it. */
	if (rf == 0 && g->first_burst > g->max_burst)
		g->first_burst = g->max_burst;
	if (rf == 1 && rb >= 0 && g->first_burst > g->max_burst)
		config_err(x, "iscsi.first_burst_length",
			   "%u is larger than max_burst_length %u",
			   g->first_burst, g->max_burst);
	if (config_uint_get(x, obj, "iscsi", "max_cmds_per_session", 1,
			    CONFIG_MAX_CMDS_MAX, &v) == 1)
		g->max_cmds_per_session = (uint32_t)v;
	if (config_uint_get(x, obj, "iscsi", "nop_interval", 0, CONFIG_NOP_MAX,
			    &v) == 1)
		g->nop_interval_s = (uint32_t)v;
	if (config_uint_get(x, obj, "iscsi", "nop_timeout", 1, CONFIG_NOP_MAX,
			    &v) == 1)
		g->nop_timeout_s = (uint32_t)v;
	if (config_object_get(x, obj, "iscsi", "discovery_auth", &auth) == 1)
		config_auth_parse(x, auth, "iscsi.discovery_auth",
				  &g->discovery_auth);
}

static void config_acl_parse(struct config_ctx *x, struct json_object *obj,
			     const char *path, struct iscsi_target_config *t)
{
	static const char *const keys[] = { "open_access", "initiators", NULL };
	char p[CONFIG_PATH_MAX], pi[CONFIG_PATH_MAX];
	struct json_object *arr = NULL;
	int rinit;
	size_t i, j, n;

	config_keys_check(x, obj, path, keys);
	t->open_access = false;
	config_bool_get(x, obj, path, "open_access", &t->open_access);
	rinit = config_array_get(x, obj, path, "initiators", &arr);
	config_path_key(p, path, "initiators");
	if (rinit == 1) {
		if (t->open_access) {
			config_err(x, p, "not allowed with open_access true "
				   "(open access lets every initiator in)");
			return;
		}
		n = json_object_array_length(arr);
		t->initiators = calloc(n, sizeof(*t->initiators));
		if (!t->initiators) {
			x->oom = true;
			return;
		}
		for (i = 0; i < n; i++) {
			struct json_object *v =
				json_object_array_get_idx(arr, i);
			const char *why, *s;

			config_path_index(pi, p, i);
			if (!json_object_is_type(v, json_type_string)) {
				config_err_type(x, pi, "an iSCSI name (string)",
						v);
				continue;
			}
			s = json_object_get_string(v);
			why = config_iscsi_name_check(s);
			if (why) {
				config_err(x, pi,
					   "bad iSCSI name \"%.223s\": %s", s,
					   why);
				continue;
			}
			for (j = 0; j < t->n_initiators; j++)
				if (strcasecmp(t->initiators[j], s) == 0)
					break;
			if (j < t->n_initiators) {
				config_err(x, pi, "duplicate initiator \"%s\"",
					   s);
				continue;
			}
			snprintf(t->initiators[t->n_initiators++],
				 sizeof(t->initiators[0]), "%s", s);
		}
	} else if (rinit == 0 && !t->open_access) {
		config_err(x, path, "lets nobody in: set \"open_access\": true "
			   "or list \"initiators\"");
	}
}

static void config_tpgs_parse(struct config_ctx *x, struct json_object *arr,
			      const char *tpath, struct config_target *ct)
{
	static const char *const keys[] = { "tag", "rtpi", "portals", NULL };
	struct iscsi_target_config *t = &ct->iscsi;
	char path[CONFIG_PATH_MAX], pp[CONFIG_PATH_MAX], pi[CONFIG_PATH_MAX];
	size_t n = json_object_array_length(arr), i, j, k, m;

	config_path_key(pp, tpath, "portal_groups");
	t->tpgs = calloc(n, sizeof(*t->tpgs));
	ct->rtpis = calloc(n, sizeof(*ct->rtpis));
	if (!t->tpgs || !ct->rtpis) {
		x->oom = true;
		return;
	}
	t->n_tpgs = (unsigned)n;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct iscsi_tpg_config *g = &t->tpgs[i];
		struct json_object *portals = NULL;
		uint64_t v;
		int r;

		config_path_index(path, pp, i);
		g->tag = (uint16_t)(i + 1);
		if (!json_object_is_type(o, json_type_object)) {
			config_err_type(x, path, "an object", o);
			continue;
		}
		config_keys_check(x, o, path, keys);
		if (config_uint_get(x, o, path, "tag", 1, 65535, &v) == 1)
			g->tag = (uint16_t)v;
		for (j = 0; j < i; j++) {
			if (t->tpgs[j].tag == g->tag) {
				config_path_key(pi, path, "tag");
				config_err(x, pi, "%u is already the tag of "
					   "portal_groups[%zu]", g->tag, j);
				break;
			}
		}
		if (config_uint_get(x, o, path, "rtpi", 1, 65535, &v) == 1)
			ct->rtpis[i] = (uint16_t)v;
		r = config_array_get(x, o, path, "portals", &portals);
		if (r == 0) {
			config_path_key(pi, path, "portals");
			config_err(x, pi,
				   "required (at least one \"ADDR:PORT\")");
		}
		if (r != 1)
			continue;
		m = json_object_array_length(portals);
		g->portals = calloc(m, sizeof(*g->portals));
		if (!g->portals) {
			x->oom = true;
			return;
		}
		config_path_key(pp, path, "portals");
		for (k = 0; k < m; k++) {
			struct json_object *pv =
				json_object_array_get_idx(portals, k);
			struct iscsi_portal_config pc;
			const char *why, *s;
			size_t a, b;
			bool dup = false;

			config_path_index(pi, pp, k);
			if (!json_object_is_type(pv, json_type_string)) {
				config_err_type(x, pi, "a portal string "
						"(\"ADDR:PORT\")", pv);
				continue;
			}
			s = json_object_get_string(pv);
			memset(&pc, 0, sizeof(pc));
			why = config_portal_parse(s, &pc);
			if (why) {
				config_err(x, pi, "bad portal \"%.64s\": %s", s,
					   why);
				continue;
			}
			/* RFC 7143: a portal is in one portal group of a
			 * target */
			for (a = 0; a <= i && !dup; a++) {
				unsigned na = a == i ? g->n_portals :
					      t->tpgs[a].n_portals;

				for (b = 0; b < na && !dup; b++) {
					struct iscsi_portal_config *q =
						&t->tpgs[a].portals[b];

					if (q->port != pc.port ||
					    strcmp(q->addr, pc.addr))
						continue;
					dup = true;
					if (a == i)
						config_err(x, pi, "duplicate "
							   "portal \"%s\"", s);
					else
						config_err(x, pi,
							   "portal \"%s\""
							   " is already in "
							   "portal_groups[%zu]"
							   " (a portal belongs "
							   "to one group)",
							   s, a);
				}
			}
			if (!dup)
				g->portals[g->n_portals++] = pc;
		}
		config_path_key(pp, tpath, "portal_groups");
	}
}

static void config_ident_copy(struct config_ctx *x, struct json_object *o,
			      const char *path, const char *key, char *dst,
			      size_t size)
{
	char p[CONFIG_PATH_MAX];
	const char *s;

	if (config_string_get(x, o, path, key, size - 1, &s) != 1)
		return;
	if (!config_printable_ascii(s)) {
		config_path_key(p, path, key);
		config_err(x, p, "must be printable ASCII (0x20..0x7e)");
		return;
	}
	snprintf(dst, size, "%s", s);
}

static void config_backstore_parse(struct config_ctx *x,
				   struct json_object *o, const char *path,
				   struct config_lun *l)
{
	static const char *const keys[] = { "type", "path", "size", "direct",
		NULL };
	char p[CONFIG_PATH_MAX], got[CONFIG_GOT_MAX];
	struct json_object *v;
	const char *type = NULL, *fpath = NULL;
	bool is_file = false, is_ram = false;
	int rt, rp;

	config_keys_check(x, o, path, keys);
	rt = config_string_get(x, o, path, "type", 16, &type);
	config_path_key(p, path, "type");
	if (rt == 0) {
		config_err(x, p, "required: \"file\" or \"ram\"");
	} else if (rt == 1) {
		is_file = strcmp(type, "file") == 0;
		is_ram = strcmp(type, "ram") == 0;
		if (!is_file && !is_ram)
			config_err(x, p, "must be \"file\" or \"ram\", got "
				   "\"%.16s\"", type);
		else
			snprintf(l->type, sizeof(l->type), "%s", type);
	}
	if (is_ram)
		l->bs.direct = false;
	l->bs.type = l->type;

	rp = config_string_get(x, o, path, "path", PATH_MAX - 1, &fpath);
	config_path_key(p, path, "path");
	if (rp == 1 && is_ram)
		config_err(x, p, "only for type \"file\"");
	else if (rp == 0 && is_file)
		config_err(x, p, "required for type \"file\"");
	if (rp == 1 && is_file) {
		l->path = strdup(fpath);
		if (!l->path)
			x->oom = true;
		l->bs.path = l->path;
	}

	config_path_key(p, path, "size");
	if (json_object_object_get_ex(o, "size", &v)) {
		const char *why = NULL;
		uint64_t size = 0;

		if (json_object_is_type(v, json_type_int)) {
			if (json_object_get_int64(v) < 0)
				why = "must not be negative";
			else
				size = json_object_get_uint64(v);
			if (!why && size > (uint64_t)INT64_MAX)
				why = "too large (more than 2^63-1 bytes)";
		} else if (json_object_is_type(v, json_type_string)) {
			why = config_size_parse(json_object_get_string(v),
						&size);
		} else {
			config_err_type(x, p, "a size (bytes, or a string "
					"like \"512M\")", v);
			why = "";
		}
		if (why && why[0])
			config_err(x, p, "%s, got %s", why,
				   config_value_quote(v, got, sizeof(got)));
		else if (!why && size == 0)
			config_err(x, p, "must not be zero");
		else if (!why) {
			l->bs.size = size;
			l->size_set = true;
		}
	} else if (is_ram) {
		config_err(x, p, "required for type \"ram\"");
	}

	if (config_bool_get(x, o, path, "direct", &l->bs.direct) == 1 &&
	    is_ram) {
		config_path_key(p, path, "direct");
		config_err(x, p, "only for type \"file\"");
	}
}

/* An absolute path (a file, so no trailing '/'; "/" alone for dir_ok):
 * 1 with a heap copy in *out, 0 absent, -1 invalid (reported). */
static int config_abs_path_get_ex(struct config_ctx *x,
				  struct json_object *o, const char *path,
				  const char *key, bool dir_ok, char **out)
{
	char p[CONFIG_PATH_MAX];
	const char *str;
	size_t n;
	int r;

	r = config_string_get(x, o, path, key, PATH_MAX - 64, &str);
	if (r != 1)
		return r;
	config_path_key(p, path, key);
	n = strlen(str);
	if (str[0] != '/') {
		config_err(x, p, "must be an absolute path, got \"%.64s\"",
			   str);
		return -1;
	}
	if (config_has_control(str)) {
		config_err(x, p, "must not contain control characters");
		return -1;
	}
	if (dir_ok) {
		while (n > 1 && str[n - 1] == '/')
			n--;
	} else if (str[n - 1] == '/') {
		config_err(x, p, "must name a file, not a directory, got "
			   "\"%.64s\"", str);
		return -1;
	}
	*out = strndup(str, n);
	if (!*out) {
		x->oom = true;
		return -1;
	}
	return 1;
}

static int config_abs_path_get(struct config_ctx *x, struct json_object *o,
			       const char *path, const char *key, char **out)
{
	return config_abs_path_get_ex(x, o, path, key, false, out);
}

static void config_lun_parse(struct config_ctx *x, struct json_object *o,
			     const char *path, size_t index,
			     const char *target, struct config_lun *l)
{
	static const char *const keys[] = { "lun", "backstore", "block_size",
		"read_only", "thin", "write_cache", "serial", "naa", "vendor",
		"product", "revision", "aptpl_file", "cluster_impl", NULL };
	struct scsi_lun_config *s = &l->scsi;
	char p[CONFIG_PATH_MAX], got[CONFIG_GOT_MAX];
	struct json_object *bs = NULL, *v;
	const char *str;
	bool bs_ok = false, bsize_ok = true;
	uint64_t u;
	int r;

	s->lun_id = index;
	s->block_size = 512;
	s->thin = true;
	s->write_cache = true;
	if (!json_object_is_type(o, json_type_object)) {
		config_err_type(x, path, "an object", o);
		return;
	}
	config_keys_check(x, o, path, keys);
	if (config_uint_get(x, o, path, "lun", 0, CONFIG_MAX_LUN, &u) == 1)
		s->lun_id = u;

	config_path_key(p, path, "block_size");
	if (json_object_object_get_ex(o, "block_size", &v)) {
		bsize_ok = false;
		if (!json_object_is_type(v, json_type_int))
			config_err_type(x, p, "512 or 4096", v);
		else if (json_object_get_int64(v) != 512 &&
			 json_object_get_int64(v) != 4096)
			config_err(x, p, "must be 512 or 4096, got %s",
				   config_value_quote(v, got, sizeof(got)));
		else {
			s->block_size = (uint32_t)json_object_get_int64(v);
			bsize_ok = true;
		}
	}

	/* The kernel RFC's cluster_impl: "single" or "cluster". */
	config_path_key(p, path, "cluster_impl");
	r = config_string_get(x, o, path, "cluster_impl", 16, &str);
	if (r == 1 && !strcmp(str, "cluster"))
		l->clustered = true;
	else if (r == 1 && strcmp(str, "single"))
		config_err(x, p, "must be \"single\" or \"cluster\", got "
			   "\"%.16s\"", str);

	config_bool_get(x, o, path, "read_only", &s->readonly);
	config_bool_get(x, o, path, "thin", &s->thin);
	/* A clustered LU is written through several nodes: the caching
	 * mode page says write-through unless the file says otherwise
	 * (SBC-3 6.4.5: WCE 0, every write durable before its status). */
	s->write_cache = !l->clustered;
	config_bool_get(x, o, path, "write_cache", &s->write_cache);

	r = config_object_get(x, o, path, "backstore", &bs);
	config_path_key(p, path, "backstore");
	if (r == 0)
		config_err(x, p, "required");
	if (r == 1) {
		unsigned before = x->msgs->n_errors;

		/* DESIGN.md "Storage": a clustered LU's file is shared, so no
		 * node's page cache may serve what another node wrote. */
		l->bs.direct = l->clustered;
		config_backstore_parse(x, bs, p, l);
		bs_ok = x->msgs->n_errors == before;
		if (bs_ok && l->clustered && !strcmp(l->type, "ram"))
			config_warn(x, p, "a \"ram\" backstore is this node's "
				    "own memory: a clustered LU on it shares "
				    "reservations, not data");
	}
	l->bs.readonly = s->readonly;
	if (bs_ok && bsize_ok && l->size_set) {
		if (l->bs.size % s->block_size) {
			config_path_key(p, path, "backstore.size");
			config_err(x, p, "%llu is not a multiple of block_size "
				   "%u", (unsigned long long)l->bs.size,
				   s->block_size);
		} else {
			s->nblocks = l->bs.size / s->block_size;
		}
	}

	config_path_key(p, path, "serial");
	r = config_string_get(x, o, path, "serial", sizeof(s->serial) - 1,
			      &str);
	if (r == 1 && !config_printable_ascii(str))
		config_err(x, p, "must be printable ASCII (0x20..0x7e)");
	else if (r == 1)
		snprintf(s->serial, sizeof(s->serial), "%s", str);
	else if (r == 0)
		config_serial_derive(target, s->lun_id, s->serial);

	config_path_key(p, path, "naa");
	r = config_string_get(x, o, path, "naa", 64, &str);
	if (r == 1) {
		if (strlen(str) != 32 || !config_all_hex(str, 32) ||
		    str[0] != '6') {
			config_err(x, p, "must be 32 hex digits starting with "
				   "6 (NAA IEEE Registered Extended), got "
				   "\"%.64s\"", str);
		} else {
			unsigned i;

			for (i = 0; i < 16; i++) {
				int hi = base_hex_value(str[2 * i]);
				int lo = base_hex_value(str[2 * i + 1]);

				s->naa[i] = (uint8_t)(hi << 4 | lo);
			}
		}
	} else if (r == 0) {
		config_naa_derive(target, s->lun_id, s->naa);
	}

	config_ident_copy(x, o, path, "vendor", s->vendor, sizeof(s->vendor));
	config_ident_copy(x, o, path, "product", s->product,
			  sizeof(s->product));
	config_ident_copy(x, o, path, "revision", s->revision,
			  sizeof(s->revision));

	/* SPC-4 5.14.5: where APTPL keeps this LU's reservations. */
	if (config_abs_path_get(x, o, path, "aptpl_file", &l->aptpl_file) ==
	    1)
		l->aptpl_file_set = true;
}

static void config_target_parse(struct config_ctx *x, struct json_object *o,
				const char *path, struct config_target *ct)
{
	static const char *const keys[] = { "name", "alias", "portal_groups",
		"acl", "auth", "luns", NULL };
	struct iscsi_target_config *t = &ct->iscsi;
	char p[CONFIG_PATH_MAX], pl[CONFIG_PATH_MAX];
	struct json_object *v = NULL;
	const char *s, *why, *name = "";
	size_t i, j, n;
	int r;

	t->open_access = true;
	if (!json_object_is_type(o, json_type_object)) {
		config_err_type(x, path, "an object", o);
		return;
	}
	config_keys_check(x, o, path, keys);

	config_path_key(p, path, "name");
	r = config_string_get(x, o, path, "name", 4096, &s);
	if (r == 0)
		config_err(x, p, "required (an iSCSI name such as "
			   "\"iqn.2026-11.org.example:disk1\")");
	if (r == 1) {
		name = s;
		why = config_iscsi_name_check(s);
		if (why)
			config_err(x, p, "bad iSCSI name \"%.223s\": %s", s,
				   why);
		else
			snprintf(t->name, sizeof(t->name), "%s", s);
	}

	config_path_key(p, path, "alias");
	r = config_string_get(x, o, path, "alias", sizeof(t->alias) - 1, &s);
	if (r == 1) {
		if (config_has_control(s))
			config_err(x, p, "must not contain control characters");
		else
			snprintf(t->alias, sizeof(t->alias), "%s", s);
	}

	config_path_key(p, path, "portal_groups");
	r = config_array_get(x, o, path, "portal_groups", &v);
	if (r == 0)
		config_err(x, p, "required (at least one portal group)");
	if (r == 1)
		config_tpgs_parse(x, v, path, ct);
	if (x->oom)
		return;

	if (config_object_get(x, o, path, "acl", &v) == 1) {
		config_path_key(p, path, "acl");
		config_acl_parse(x, v, p, t);
	}
	if (config_object_get(x, o, path, "auth", &v) == 1) {
		config_path_key(p, path, "auth");
		config_auth_parse(x, v, p, &t->auth);
	}
	if (x->oom)
		return;

	config_path_key(p, path, "luns");
	r = config_array_get(x, o, path, "luns", &v);
	if (r == 0)
		config_err(x, p, "required (at least one LUN)");
	if (r != 1)
		return;
	n = json_object_array_length(v);
	ct->luns = calloc(n, sizeof(*ct->luns));
	if (!ct->luns) {
		x->oom = true;
		return;
	}
	ct->n_luns = (unsigned)n;
	for (i = 0; i < n; i++) {
		struct config_lun *l = &ct->luns[i];

		config_path_index(pl, p, i);
		config_lun_parse(x, json_object_array_get_idx(v, i), pl, i,
				 name, l);
		for (j = 0; j < i; j++) {
			if (ct->luns[j].scsi.lun_id == l->scsi.lun_id) {
				char pk[CONFIG_PATH_MAX];

				config_path_key(pk, pl, "lun");
				config_err(x, pk,
					   "LUN %llu is already "
					   "luns[%zu]",
					   (unsigned long long)l->scsi.lun_id,
					   j);
				break;
			}
		}
	}
}

/* Cross-target rules: unique names, unique RTPIs (then the automatic
 * ones), no backing file used twice. */
static void config_cross_check(struct config_ctx *x, struct config *c)
{
	char p[CONFIG_PATH_MAX];
	uint8_t *used;
	unsigned i, j, k, l, next = 1;

	for (i = 0; i < c->n_targets; i++) {
		struct config_target *a = &c->targets[i];

		for (j = 0; j < i && a->iscsi.name[0]; j++) {
			if (strcasecmp(c->targets[j].iscsi.name,
				       a->iscsi.name) == 0) {
				snprintf(p, sizeof(p), "targets[%u].name", i);
				config_err(x, p,
					   "\"%s\" is already targets[%u]",
					   a->iscsi.name, j);
				break;
			}
		}
	}

	used = calloc(65536 / 8, 1);
	if (!used) {
		x->oom = true;
		return;
	}
	for (i = 0; i < c->n_targets; i++) {
		struct config_target *a = &c->targets[i];

		for (k = 0; k < a->iscsi.n_tpgs && a->rtpis; k++) {
			uint16_t r = a->rtpis[k];
			bool dup = false;

			if (!r)
				continue;
			for (j = 0; j <= i && !dup; j++) {
				struct config_target *b = &c->targets[j];
				unsigned lim = j == i ? k : b->iscsi.n_tpgs;

				for (l = 0; l < lim && !dup; l++) {
					if (b->rtpis[l] != r)
						continue;
					dup = true;
					snprintf(p, sizeof(p),
						 "targets[%u].portal_groups[%u]"
						 ".rtpi", i, k);
					config_err(x, p,
						   "%u is already used by "
						   "targets[%u].portal_groups"
						   "[%u] (RTPIs are unique "
						   "across the file)",
						   r, j, l);
				}
			}
			used[r / 8] |= (uint8_t)(1u << (r % 8));
		}
	}
	for (i = 0; i < c->n_targets; i++) {
		struct config_target *a = &c->targets[i];

		for (k = 0; k < a->iscsi.n_tpgs && a->rtpis; k++) {
			if (a->rtpis[k])
				continue;
			while (next < 65536 &&
			       (used[next / 8] >> (next % 8)) & 1)
				next++;
			if (next >= 65536) {
				snprintf(p, sizeof(p),
					 "targets[%u].portal_groups[%u].rtpi",
					 i, k);
				config_err(x, p, "no free RTPI left");
				break;
			}
			a->rtpis[k] = (uint16_t)next;
			used[next / 8] |= (uint8_t)(1u << (next % 8));
		}
	}
	free(used);

	for (i = 0; i < c->n_targets; i++) {
		for (k = 0; k < c->targets[i].n_luns; k++) {
			const char *path = c->targets[i].luns[k].path;
			bool dup = false;

			if (!path)
				continue;
			for (j = 0; j <= i && !dup; j++) {
				unsigned lim =
					j == i ? k : c->targets[j].n_luns;

				for (l = 0; l < lim && !dup; l++) {
					const char *q =
						c->targets[j].luns[l].path;

					if (!q || strcmp(q, path))
						continue;
					dup = true;
					snprintf(p, sizeof(p),
						 "targets[%u].luns"
						 "[%u].backstore.path",
						 i, k);
					config_err(x, p, "%s is already the "
						   "backstore of targets[%u]."
						   "luns[%u]", path, j, l);
				}
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* top level */

static void config_defaults_apply(struct config *c)
{
	c->log_level = LOG_LVL_INFO;
	c->port_group = 1;
	c->iscsi.max_recv_dsl = CONFIG_DEF_MAX_RECV_DSL;
	c->iscsi.max_burst = CONFIG_DEF_MAX_BURST;
	c->iscsi.first_burst = CONFIG_DEF_FIRST_BURST;
	c->iscsi.max_cmds_per_session = CONFIG_DEF_MAX_CMDS;
	c->iscsi.nop_interval_s = CONFIG_DEF_NOP_INTERVAL;
	c->iscsi.nop_timeout_s = CONFIG_DEF_NOP_TIMEOUT;
}

static void config_root_parse(struct config_ctx *x, struct json_object *root,
			      struct config *c)
{
	static const char *const keys[] = { "threads", "log_level", "node",
		"iscsi", "targets", "cluster", "control", NULL };
	static const char *const node_keys[] = { "port_group", "state_dir",
		NULL };
	static const char *const levels[] = { "error", "warn", "info",
		"debug" };
	struct json_object *v;
	const char *s;
	char p[CONFIG_PATH_MAX];
	uint64_t u;
	size_t i, n;
	int r;

	config_keys_check(x, root, "", keys);
	if (config_uint_get(x, root, "", "threads", 1, CONFIG_MAX_THREADS,
			    &u) == 1)
		c->threads = (unsigned)u;
	if (config_string_get(x, root, "", "log_level", 16, &s) == 1) {
		for (i = 0; i < ARRAY_SIZE(levels); i++)
			if (strcmp(s, levels[i]) == 0)
				break;
		if (i == ARRAY_SIZE(levels)) {
			config_err(x, "log_level",
				   "must be \"error\", \"warn\", "
				   "\"info\" or \"debug\", got \"%.16s\"",
				   s);
		} else {
			c->log_level = (enum log_level)i;
			c->log_level_set = true;
		}
	}
	if (config_object_get(x, root, "", "node", &v) == 1) {
		config_keys_check(x, v, "node", node_keys);
		if (config_uint_get(x, v, "node", "port_group", 1, 65535,
				    &u) == 1)
			c->port_group = (uint16_t)u;
		config_abs_path_get_ex(x, v, "node", "state_dir", true,
				       &c->state_dir);
	}
	if (config_object_get(x, root, "", "iscsi", &v) == 1)
		config_iscsi_parse(x, v, &c->iscsi);
	if (config_cluster_parse(root, c, x->msgs) == -ENOMEM)
		x->oom = true;

	r = config_array_get(x, root, "", "targets", &v);
	if (r == 0)
		config_err(x, "targets", "required (at least one target)");
	if (r != 1)
		return;
	n = json_object_array_length(v);
	c->targets = calloc(n, sizeof(*c->targets));
	if (!c->targets) {
		x->oom = true;
		return;
	}
	c->n_targets = (unsigned)n;
	for (i = 0; i < n && !x->oom; i++) {
		config_path_index(p, "targets", i);
		config_target_parse(x, json_object_array_get_idx(v, i), p,
				    &c->targets[i]);
	}
	if (!x->oom)
		config_cross_check(x, c);
}

/* The APTPL file of every LU without aptpl_file:
 * <state_dir>/pr/naa.<32 hex digits of its NAA>.aptpl (docs/config.md).
 * 0 or -ENOMEM. */
static int config_aptpl_derive(struct config *c, const char *state_dir)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(state_dir);

	while (n > 1 && state_dir[n - 1] == '/')
		n--;
	for (unsigned i = 0; i < c->n_targets; i++) {
		for (unsigned k = 0; k < c->targets[i].n_luns; k++) {
			struct config_lun *l = &c->targets[i].luns[k];
			char naa[33];

			if (!l->aptpl_file_set) {
				for (unsigned j = 0; j < 16; j++) {
					naa[2 * j] = hex[l->scsi.naa[j] >> 4];
					naa[2 * j + 1] =
						hex[l->scsi.naa[j] & 0xf];
				}
				naa[32] = '\0';
				free(l->aptpl_file);
				l->aptpl_file = NULL;
				if (asprintf(&l->aptpl_file,
					     "%.*s/pr/naa.%s.aptpl", (int)n,
					     n == 1 && state_dir[0] == '/' ?
					     "" : state_dir, naa) < 0) {
					l->aptpl_file = NULL;
					return -ENOMEM;
				}
			}
			l->scsi.aptpl_file = l->aptpl_file;
		}
	}
	return 0;
}

int config_state_dir_apply(struct config *c, const char *state_dir)
{
	if (c->state_dir)
		return 0;
	return config_aptpl_derive(c, state_dir);
}

static void config_parse_error(struct config_ctx *x, const char *text,
			       size_t off, const char *what)
{
	unsigned line = 1, col = 1;
	size_t i;

	for (i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	config_err(x, NULL, "line %u, column %u: JSON parse error: %s", line,
		   col, what);
}

int config_parse(const char *text, struct config **out,
		 struct config_msgs *msgs)
{
	struct config_ctx x = { .msgs = msgs };
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	struct config *c;
	size_t len = strlen(text);

	*out = NULL;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text,
				     (int)(len > INT_MAX ? INT_MAX : len));
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		/* The input ended inside a value. */
		config_parse_error(&x, text, len, "unexpected end of input");
		json_tokener_free(tok);
		return -EINVAL;
	}
	if (jerr != json_tokener_success || !root) {
		config_parse_error(&x, text, json_tokener_get_parse_end(tok),
				   json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		json_object_put(root);
		return -EINVAL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		config_err_type(&x, "(top level)", "an object", root);
		json_object_put(root);
		return -EINVAL;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		json_object_put(root);
		return -ENOMEM;
	}
	config_defaults_apply(c);
	config_root_parse(&x, root, c);
	json_object_put(root);
	if (!x.oom && !msgs->n_errors &&
	    config_aptpl_derive(c, c->state_dir ? c->state_dir :
				CONFIG_STATE_DIR_DEFAULT) < 0)
		x.oom = true;
	if (x.oom) {
		config_free(c);
		return -ENOMEM;
	}
	if (msgs->n_errors) {
		config_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

int config_load_file(const char *path, struct config **out,
		     struct config_msgs *msgs)
{
	struct config_ctx x = { .msgs = msgs };
	struct stat st;
	char *text;
	size_t n = 0;
	ssize_t r;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		config_err(&x, NULL, "cannot open: %s", strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > CONFIG_FILE_MAX) {
		config_err(&x, NULL, "not a regular file of at most 16 MiB");
		close(fd);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			config_err(&x, NULL, "cannot read: %s",
				   strerror(errno));
			free(text);
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	text[n] = '\0';
	if (strlen(text) != n) {
		config_err(&x, NULL, "contains a NUL byte: not a JSON text");
		free(text);
		return -EINVAL;
	}
	err = config_parse(text, out, msgs);
	free(text);
	return err;
}

/* JSON string body for s (quotes not included). */
static char *config_json_escape(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *r = malloc(n * 6 + 1);

	if (!r)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			r[o++] = '\\';
			r[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)sprintf(r + o, "\\u%04x", ch);
		} else {
			r[o++] = (char)ch;
		}
	}
	r[o] = '\0';
	return r;
}

char *config_default_json(const char *state_dir)
{
	static const char fmt[] =
		"{\n"
		"  \"targets\": [\n"
		"    {\n"
		"      \"name\": \"" CONFIG_DEFAULT_IQN "\",\n"
		"      \"portal_groups\": [\n"
		"        { \"tag\": 1, \"rtpi\": 1, \"portals\": [\""
		CONFIG_DEFAULT_PORTAL "\"] }\n"
		"      ],\n"
		"      \"acl\": { \"open_access\": true },\n"
		"      \"luns\": [\n"
		"        {\n"
		"          \"lun\": 0,\n"
		"          \"backstore\": { \"type\": \"file\", \"path\": "
		"\"%s/" CONFIG_DEFAULT_IMAGE "\", \"size\": \"1G\" },\n"
		"          \"block_size\": 512,\n"
		"          \"thin\": true,\n"
		"          \"write_cache\": true\n"
		"        }\n"
		"      ]\n"
		"    }\n"
		"  ]\n"
		"}\n";
	char *dir, *out = NULL;
	size_t n;

	n = strlen(state_dir);
	while (n > 1 && state_dir[n - 1] == '/')
		n--;
	dir = strndup(state_dir, n);
	if (!dir)
		return NULL;
	{
		char *esc = config_json_escape(dir);

		if (esc && asprintf(&out, fmt, esc) < 0)
			out = NULL;
		free(esc);
	}
	free(dir);
	return out;
}

int config_default(const char *state_dir, struct config **out,
		   struct config_msgs *msgs)
{
	char *text = config_default_json(state_dir);
	int err;

	*out = NULL;
	if (!text)
		return -ENOMEM;
	err = config_parse(text, out, msgs);
	free(text);
	return err;
}

/* ------------------------------------------------------------------ */
/* file-system checks */

static void config_file_check(struct config_ctx *x, const char *p,
			      const struct config_lun *l)
{
	uint64_t bsz = l->scsi.block_size;
	struct stat st;

	if (stat(l->path, &st) < 0) {
		char *dir, *slash;

		if (errno != ENOENT) {
			config_err(x, p, "%s: %s", l->path, strerror(errno));
			return;
		}
		if (!l->size_set) {
			config_err(x, p, "%s does not exist and no size is "
				   "given", l->path);
			return;
		}
		if (l->scsi.readonly) {
			config_err(x, p, "%s does not exist and read_only is "
				   "set", l->path);
			return;
		}
		dir = strdup(l->path);
		if (!dir) {
			x->oom = true;
			return;
		}
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			strcpy(dir, ".");
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			config_err(x, p, "%s does not exist and cannot be "
				   "created: no directory %s", l->path, dir);
		else if (access(dir, W_OK | X_OK) < 0)
			config_err(x, p, "%s does not exist and cannot be "
				   "created in %s: %s", l->path, dir,
				   strerror(errno));
		free(dir);
		return;
	}
	if (access(l->path, l->scsi.readonly ? R_OK : R_OK | W_OK) < 0) {
		config_err(x, p, "%s: %s", l->path, strerror(errno));
		return;
	}
	if (S_ISREG(st.st_mode)) {
		uint64_t fsz = (uint64_t)st.st_size;

		if (!l->size_set && fsz == 0)
			config_err(x, p, "%s is empty and no size is given",
				   l->path);
		else if (!l->size_set && fsz % bsz)
			config_err(x, p, "%s: its size %llu is not a multiple "
				   "of block_size %llu", l->path,
				   (unsigned long long)fsz,
				   (unsigned long long)bsz);
		else if (l->size_set && fsz < l->bs.size && l->scsi.readonly)
			config_err(x, p, "%s is smaller (%llu bytes) than size "
				   "and read_only is set", l->path,
				   (unsigned long long)fsz);
	} else if (S_ISBLK(st.st_mode)) {
		uint64_t dsz = 0;
		int fd = open(l->path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dsz) < 0) {
			config_err(x, p, "%s: %s", l->path, strerror(errno));
		} else if (l->size_set && l->bs.size > dsz) {
			config_err(x, p, "size %llu exceeds the device %s "
				   "(%llu bytes)",
				   (unsigned long long)l->bs.size, l->path,
				   (unsigned long long)dsz);
		} else if (!l->size_set && dsz % bsz) {
			config_err(x, p, "%s: its size %llu is not a multiple "
				   "of block_size %llu", l->path,
				   (unsigned long long)dsz,
				   (unsigned long long)bsz);
		}
		if (fd >= 0)
			close(fd);
	} else {
		config_err(x, p, "%s is not a regular file or a block device",
			   l->path);
	}
}

int config_check_files(const struct config *c, struct config_msgs *msgs)
{
	struct config_ctx x = { .msgs = msgs };
	unsigned before = msgs->n_errors, i, k;
	char p[CONFIG_PATH_MAX];

	for (i = 0; i < c->n_targets; i++) {
		for (k = 0; k < c->targets[i].n_luns; k++) {
			const struct config_lun *l = &c->targets[i].luns[k];

			if (!l->path)
				continue;
			snprintf(p, sizeof(p), "targets[%u].luns[%u].backstore."
				 "path", i, k);
			config_file_check(&x, p, l);
		}
	}
	if (x.oom)
		return -ENOMEM;
	return msgs->n_errors > before ? -EINVAL : 0;
}

void config_free(struct config *c)
{
	unsigned i, k;

	if (!c)
		return;
	for (i = 0; i < c->n_targets; i++) {
		struct config_target *t = &c->targets[i];

		for (k = 0; t->iscsi.tpgs && k < t->iscsi.n_tpgs; k++)
			free(t->iscsi.tpgs[k].portals);
		free(t->iscsi.tpgs);
		free(t->iscsi.initiators);
		free(t->rtpis);
		for (k = 0; k < t->n_luns; k++) {
			free(t->luns[k].path);
			free(t->luns[k].aptpl_file);
		}
		free(t->luns);
	}
	free(c->targets);
	free(c->state_dir);
	free(c);
}
