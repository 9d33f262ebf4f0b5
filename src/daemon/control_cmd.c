/*
 * The control protocol's commands: one client session, one request at a
 * time in, one reply per request out (docs/control.md).
 *
 * A request is a JSON object {"cmd": NAME, "id": ANY, ...}; the reply is
 * {"ok": true, "id": ANY, ...} or {"ok": false, "id": ANY, "error": TEXT,
 * "code": ERRNO_NAME}. The dispatcher is a table, one row per command with
 * the keys it accepts (unknown keys are refused, as in the configuration).
 * Replies of ordered operations (KV changes, locks, notify) are sent when
 * the cluster completes them, so a client may have several requests in
 * flight; "id" tells the replies apart.
 *
 * Locks are taken by ctgtd on the client's behalf under a lock id the
 * client chooses; they live until "unlock" or until the session closes
 * (the client's connection is gone), so a client that dies never leaves
 * a lock behind.
 *
 * No sockets, no framing here (control.c); nothing blocks.
 */
#include "daemon/control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/hex.h"
#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"

#ifndef CTGT_VERSION
#define CTGT_VERSION "unknown"
#endif

/* One request whose reply waits for a completion. */
struct control_req {
	struct control_session *s;
	struct json_object *id;      /* the request's "id" (a reference) */
	char key[CLUSTER_KV_KEY_MAX + 1];
};

enum control_lock_state {
	CONTROL_LOCK_WAITING,
	CONTROL_LOCK_GRANTED,
};

/* A lock held or awaited on a client's behalf. */
struct control_lock {
	struct cluster_lock lk;      /* lk.ctx == this */
	struct control_session *s;
	struct control_req *req;     /* the "lock" request, until answered */
	char id[CONTROL_LOCK_ID_MAX + 1];
	enum control_lock_state state;
	bool unlocked;               /* "unlock" (or close) while waiting */
	bool timed_out;
	uint32_t timeout_ms;         /* 0: wait as long as it takes */
	struct base_timer timer;
	struct list_head link;       /* in s->locks */
};

struct control_cmd {
	const char *name;
	/* Answers r (now or later: r is then kept). keys: accepted besides
	 * "cmd" and "id". needs_cluster: refused without one. */
	void (*fn)(struct control_req *r, struct json_object *req);
	const char *const *keys;
	bool needs_cluster;
};

/* ------------------------------------------------------------- replies */

static const char *control_errno_name(int err)
{
	static const struct { int e; const char *name; } names[] = {
		{ EAGAIN, "EAGAIN" }, { ECANCELED, "ECANCELED" },
		{ ENOENT, "ENOENT" }, { EINVAL, "EINVAL" },
		{ ESHUTDOWN, "ESHUTDOWN" }, { EMSGSIZE, "EMSGSIZE" },
		{ ENOMEM, "ENOMEM" }, { EEXIST, "EEXIST" },
		{ ETIMEDOUT, "ETIMEDOUT" }, { ENOTSUP, "ENOTSUP" },
		{ EBUSY, "EBUSY" }, { ENOSYS, "ENOSYS" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].e == err)
			return names[i].name;
	return "EIO";
}

/* The one place a cluster status becomes text for the client. */
static const char *control_errno_text(int err)
{
	switch (err) {
	case EAGAIN:
		return "cluster not ready (no quorum, or state transfer in "
		       "progress): retry later";
	case ECANCELED:
		return "cancelled";
	case ESHUTDOWN:
		return "ctgtd is shutting down";
	case ENOENT:
		return "no such key";
	case EMSGSIZE:
		return "too large";
	default:
		return strerror(err);
	}
}

static struct control_req *control_req_new(struct control_session *s,
					   struct json_object *id)
{
	struct control_req *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->s = s;
	r->id = json_object_get(id);
	s->pending++;
	return r;
}

/* The request is answered (or its session gone): forget it. */
static void control_req_end(struct control_req *r)
{
	struct control_session *s = r->s;

	json_object_put(r->id);
	free(r);
	s->pending--;
	if (s->closed && s->pending == 0 && s->idle)
		s->idle(s);
}

/* Sends reply obj (consumed) for r and ends r. */
static void control_reply_send(struct control_req *r, struct json_object *obj)
{
	struct control_session *s = r->s;
	const char *text;

	if (!s->closed) {
		if (r->id)
			json_object_object_add(obj, "id",
					       json_object_get(r->id));
		text = json_object_to_json_string_ext(obj,
						      JSON_C_TO_STRING_PLAIN);
		if (text)
			s->reply(s, text, strlen(text));
	}
	json_object_put(obj);
	control_req_end(r);
}

static struct json_object *control_ok_new(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(true));
	return o;
}

__attribute__((format(printf, 3, 4)))
static void control_reply_err(struct control_req *r, int err,
			      const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", json_object_new_string(text));
	json_object_object_add(o, "code",
			       json_object_new_string(control_errno_name(err)));
	control_reply_send(r, o);
}

static void control_reply_status(struct control_req *r, int err,
				 const char *what)
{
	control_reply_err(r, err, "%s: %s", what, control_errno_text(err));
}

/* -------------------------------------------------------- request fields */

/* A string member: 1 with *out (and *len), 0 absent, -1 answered. */
static int control_str_get(struct control_req *r, struct json_object *req,
			   const char *key, size_t max, bool required,
			   const char **out, size_t *len)
{
	struct json_object *v;
	size_t n;

	if (!json_object_object_get_ex(req, key, &v)) {
		if (!required)
			return 0;
		control_reply_err(r, EINVAL, "\"%s\" is required", key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string)) {
		control_reply_err(r, EINVAL, "\"%s\" must be a string", key);
		return -1;
	}
	*out = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n > max || (required && n == 0)) {
		control_reply_err(r, EINVAL, "\"%s\" must be %s..%zu bytes, "
				  "got %zu", key, required ? "1" : "0", max, n);
		return -1;
	}
	if (len)
		*len = n;
	return 1;
}

/* An integer member in [0, max]: 1, 0 absent, -1 answered. */
static int control_uint_get(struct control_req *r, struct json_object *req,
			    const char *key, uint64_t max, bool required,
			    uint64_t *out)
{
	struct json_object *v;
	int64_t i;

	if (!json_object_object_get_ex(req, key, &v)) {
		if (!required)
			return 0;
		control_reply_err(r, EINVAL, "\"%s\" is required", key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_int)) {
		control_reply_err(r, EINVAL, "\"%s\" must be an integer", key);
		return -1;
	}
	i = json_object_get_int64(v);
	if (i < 0 || (uint64_t)i > max) {
		control_reply_err(r, EINVAL, "\"%s\" must be 0..%llu", key,
				  (unsigned long long)max);
		return -1;
	}
	*out = (uint64_t)i;
	return 1;
}

static int control_bool_get(struct control_req *r, struct json_object *req,
			    const char *key, bool *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		control_reply_err(r, EINVAL, "\"%s\" must be true or false",
				  key);
		return -1;
	}
	*out = json_object_get_boolean(v);
	return 1;
}

static int control_key_get(struct control_req *r, struct json_object *req)
{
	const char *k;
	size_t n;

	if (control_str_get(r, req, "key", CLUSTER_KV_KEY_MAX, true, &k,
			    &n) < 0)
		return -1;
	if (strlen(k) != n) {
		control_reply_err(r, EINVAL, "\"key\" must not contain NUL");
		return -1;
	}
	memcpy(r->key, k, n + 1);
	return 0;
}

/* The value: "value" (a string) or "value_hex". Heap copy in *out. */
static int control_value_get(struct control_req *r, struct json_object *req,
			     void **out, size_t *len)
{
	const char *s, *h;
	size_t n, i;
	uint8_t *b;
	int rs, rh, hi, lo;

	rs = control_str_get(r, req, "value", CLUSTER_KV_VALUE_MAX, false, &s,
			     &n);
	if (rs < 0)
		return -1;
	rh = control_str_get(r, req, "value_hex", 2 * CLUSTER_KV_VALUE_MAX,
			     false, &h, rs ? NULL : &n);
	if (rh < 0)
		return -1;
	if (rs + rh != 1) {
		control_reply_err(r, EINVAL, "exactly one of \"value\" and "
				  "\"value_hex\" is required");
		return -1;
	}
	if (rs) {
		b = malloc(n ? n : 1);
		if (!b)
			goto oom;
		memcpy(b, s, n);
	} else {
		if (n % 2) {
			control_reply_err(r, EINVAL, "\"value_hex\" must have "
					  "an even number of digits");
			return -1;
		}
		n /= 2;
		b = malloc(n ? n : 1);
		if (!b)
			goto oom;
		for (i = 0; i < n; i++) {
			hi = base_hex_value(h[2 * i]);
			lo = base_hex_value(h[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				free(b);
				control_reply_err(r, EINVAL, "\"value_hex\" "
						  "must be hex digits");
				return -1;
			}
			b[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	*out = b;
	*len = n;
	return 0;
oom:
	control_reply_err(r, ENOMEM, "out of memory");
	return -1;
}

/* Whether bytes are UTF-8 without NUL (then they travel as a JSON string). */
static bool control_utf8_check(const uint8_t *p, size_t n)
{
	size_t i = 0, k, need;
	uint32_t cp;

	while (i < n) {
		if (p[i] == 0)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3;
			cp = p[i] & 0x07;
		} else {
			return false;
		}
		if (i + need >= n)
			return false;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

static void control_value_put(struct json_object *o, const void *val,
			      size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = val;
	char *hex;
	size_t i;

	if (control_utf8_check(b, len)) {
		json_object_object_add(o, "value", json_object_new_string_len(
					       (const char *)b, (int)len));
		return;
	}
	hex = malloc(2 * len + 1);
	if (!hex)
		return;
	for (i = 0; i < len; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[2 * len] = '\0';
	json_object_object_add(o, "value_hex", json_object_new_string(hex));
	free(hex);
}

/* ------------------------------------------------------------ commands */

/* The protocol engine's counters, for an operator wondering whether
 * commits flow (docs/control.md). */
static void control_stats_put(struct json_object *o, struct cluster *c)
{
	const struct cluster_stats *st = cluster_stats_get(c);
	struct json_object *j = json_object_new_object();
	const struct {
		const char *name;
		uint64_t v;
	} rows[] = {
		{ "submitted", st->submitted }, { "applied", st->applied },
		{ "rejected", st->rejected }, { "voided", st->voided },
		{ "acks_sent", st->acks_sent },
		{ "send_queued", st->send_queued }, { "syncs", st->syncs },
		{ "snapshots_sent", st->snapshots_sent },
		{ "snapshots_loaded", st->snapshots_loaded },
	};
	size_t i;

	json_object_object_add(o, "ready",
			       json_object_new_boolean(cluster_is_ready(c)));
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		json_object_object_add(j, rows[i].name,
				       json_object_new_int64((int64_t)rows[i].v));
	json_object_object_add(o, "cluster_stats", j);
}

static void control_cmd_status(struct control_req *r, struct json_object *req)
{
	const struct control_env *env = r->s->env;
	struct json_object *o = control_ok_new();

	(void)req;
	json_object_object_add(o, "version",
			       json_object_new_string(CTGT_VERSION));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "uptime_s", json_object_new_int64(
		(int64_t)((base_now_ms() - env->start_ms) / 1000)));
	json_object_object_add(o, "backend", json_object_new_string(
		env->backend ? env->backend : "none"));
	if (env->group)
		json_object_object_add(o, "group",
				       json_object_new_string(env->group));
	if (env->cluster)
		control_stats_put(o, env->cluster);
	control_reply_send(r, o);
}

static void control_cmd_view(struct control_req *r, struct json_object *req)
{
	struct cluster *c = r->s->env->cluster;
	const struct cluster_view *v = cluster_view_get(c);
	struct json_object *o = control_ok_new(), *ms, *m;
	uint32_t i;

	(void)req;
	json_object_object_add(o, "local_id",
			       json_object_new_int64(cluster_local_id(c)));
	json_object_object_add(o, "quorate",
			       json_object_new_boolean(v && v->quorate));
	json_object_object_add(o, "ready",
			       json_object_new_boolean(cluster_is_ready(c)));
	json_object_object_add(o, "seq",
			       json_object_new_int64(v ? (int64_t)v->seq : 0));
	ms = json_object_new_array();
	for (i = 0; v && i < v->count; i++) {
		m = json_object_new_object();
		json_object_object_add(m, "id",
				       json_object_new_int64(v->members[i].id));
		json_object_object_add(m, "name", json_object_new_string(
					       v->members[i].name));
		json_object_array_add(ms, m);
	}
	json_object_object_add(o, "members", ms);
	control_reply_send(r, o);
}

static void control_cmd_kv_get(struct control_req *r, struct json_object *req)
{
	const void *val;
	size_t len;
	uint64_t version;
	struct json_object *o;
	int err;

	if (control_key_get(r, req))
		return;
	err = cluster_kv_get(r->s->env->cluster, r->key, &val, &len, &version);
	if (err) {
		control_reply_err(r, -err, "%s: %s", r->key,
				  control_errno_text(-err));
		return;
	}
	o = control_ok_new();
	json_object_object_add(o, "key", json_object_new_string(r->key));
	control_value_put(o, val, len);
	json_object_object_add(o, "version",
			       json_object_new_int64((int64_t)version));
	control_reply_send(r, o);
}

static void control_kv_done(void *ctx, int status, uint64_t version)
{
	struct control_req *r = ctx;
	struct json_object *o;
	const void *val;
	size_t len;
	uint64_t cur;

	if (status == -ECANCELED) {
		/* Say what the version is now, so the client can retry
		 * with it: read locally, right after the refusal applied. */
		if (!r->s->closed && cluster_kv_get(r->s->env->cluster,
						    r->key, &val, &len,
						    &cur) == 0)
			control_reply_err(r, ECANCELED, "%s: version mismatch "
					  "(the key is at version %llu)",
					  r->key, (unsigned long long)cur);
		else
			control_reply_err(r, ECANCELED, "%s: version mismatch "
					  "(the key does not exist)", r->key);
		return;
	}
	if (status) {
		control_reply_status(r, -status, r->key);
		return;
	}
	o = control_ok_new();
	json_object_object_add(o, "key", json_object_new_string(r->key));
	json_object_object_add(o, "version",
			       json_object_new_int64((int64_t)version));
	control_reply_send(r, o);
}

static void control_kv_change(struct control_req *r, struct json_object *req,
			      bool cas, bool del)
{
	struct cluster *c = r->s->env->cluster;
	uint64_t expect = 0;
	void *val = NULL;
	size_t len = 0;
	int err;

	if (control_key_get(r, req))
		return;
	if (cas && control_uint_get(r, req, "version", INT64_MAX, true,
				    &expect) < 0)
		return;
	if (!del && control_value_get(r, req, &val, &len))
		return;
	if (del)
		err = cluster_kv_del(c, r->key, control_kv_done, r);
	else if (cas)
		err = cluster_kv_cas(c, r->key, expect, val, len,
				     control_kv_done, r);
	else
		err = cluster_kv_set(c, r->key, val, len, control_kv_done, r);
	/* The service copies the value before it returns. */
	free(val);
	if (err)
		control_reply_status(r, -err, r->key);
}

static void control_cmd_kv_set(struct control_req *r, struct json_object *req)
{
	control_kv_change(r, req, false, false);
}

static void control_cmd_kv_cas(struct control_req *r, struct json_object *req)
{
	control_kv_change(r, req, true, false);
}

static void control_cmd_kv_del(struct control_req *r, struct json_object *req)
{
	control_kv_change(r, req, false, true);
}

/* -------------------------------------------------------------- locks */

static struct control_lock *control_lock_find(struct control_session *s,
					      const char *id)
{
	struct control_lock *l;

	list_for_each_entry(l, &s->locks, link)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static void control_lock_free(struct control_lock *l)
{
	base_timer_stop(l->s->env->loop, &l->timer);
	list_del(&l->link);
	l->s->nlocks--;
	free(l);
}

static void control_lock_timeout(struct base_timer *t)
{
	struct control_lock *l = container_of(t, struct control_lock, timer);

	l->timed_out = true;
	/* The completion answers (-ECANCELED, or 0 if the grant won). */
	cluster_lock_cancel(l->s->env->cluster, &l->lk);
}

static void control_lock_done(struct cluster_lock *lk, int status)
{
	struct control_lock *l = lk->ctx;
	struct control_req *r = l->req;
	struct json_object *o;

	l->req = NULL;
	base_timer_stop(l->s->env->loop, &l->timer);
	if (status == 0 && (l->unlocked || l->s->closed)) {
		/* Granted after the client gave up: give it back. */
		cluster_lock_release(l->s->env->cluster, &l->lk);
		status = -ECANCELED;
	}
	if (status) {
		if (l->timed_out && status == -ECANCELED)
			control_reply_err(r, ETIMEDOUT, "lock %s (id %s): not "
					  "granted within %u ms", l->lk.name,
					  l->id, l->timeout_ms);
		else if (l->unlocked && status == -ECANCELED)
			control_reply_err(r, ECANCELED, "lock %s: cancelled by "
					  "unlock", l->id);
		else
			control_reply_status(r, -status, l->id);
		control_lock_free(l);
		return;
	}
	l->state = CONTROL_LOCK_GRANTED;
	o = control_ok_new();
	json_object_object_add(o, "lock_id", json_object_new_string(l->id));
	json_object_object_add(o, "granted", json_object_new_boolean(true));
	control_reply_send(r, o);
}

static void control_cmd_lock(struct control_req *r, struct json_object *req)
{
	struct control_session *s = r->s;
	struct control_lock *l;
	const char *id, *name, *mode = "exclusive";
	uint64_t start = 0, len = 0, timeout = 0;
	bool cache = false;
	int err;

	if (control_str_get(r, req, "lock_id", CONTROL_LOCK_ID_MAX, true, &id,
			    NULL) < 0 ||
	    control_str_get(r, req, "name", CLUSTER_LOCK_NAME_MAX, true, &name,
			    NULL) < 0 ||
	    control_str_get(r, req, "mode", 16, false, &mode, NULL) < 0 ||
	    control_uint_get(r, req, "start", INT64_MAX, false, &start) < 0 ||
	    control_uint_get(r, req, "len", INT64_MAX, false, &len) < 0 ||
	    control_uint_get(r, req, "timeout_ms", 24u * 3600 * 1000, false,
			     &timeout) < 0 ||
	    control_bool_get(r, req, "cache", &cache) < 0)
		return;
	if (strcmp(mode, "exclusive") && strcmp(mode, "shared")) {
		control_reply_err(r, EINVAL, "\"mode\" must be \"exclusive\" "
				  "or \"shared\"");
		return;
	}
	if (control_lock_find(s, id)) {
		control_reply_err(r, EEXIST, "lock id %s is in use on this "
				  "connection", id);
		return;
	}
	if (s->nlocks >= CONTROL_LOCKS_MAX) {
		control_reply_err(r, EBUSY, "at most %u locks per connection",
				  CONTROL_LOCKS_MAX);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		control_reply_err(r, ENOMEM, "out of memory");
		return;
	}
	snprintf(l->id, sizeof(l->id), "%s", id);
	snprintf(l->lk.name, sizeof(l->lk.name), "%s", name);
	l->lk.start = start;
	l->lk.len = len;
	l->lk.mode = strcmp(mode, "shared") ? CLUSTER_LOCK_EXCLUSIVE :
		     CLUSTER_LOCK_SHARED;
	l->lk.flags = cache ? CLUSTER_LOCK_CACHE : 0;
	l->lk.cb = control_lock_done;
	l->lk.ctx = l;
	l->s = s;
	l->req = r;
	l->state = CONTROL_LOCK_WAITING;
	l->timeout_ms = (uint32_t)timeout;
	base_timer_init(&l->timer, control_lock_timeout);
	err = cluster_lock_acquire(s->env->cluster, &l->lk);
	if (err) {
		free(l);
		control_reply_status(r, -err, id);
		return;
	}
	list_add_tail(&s->locks, &l->link);
	s->nlocks++;
	if (timeout)
		base_timer_start(s->env->loop, &l->timer, timeout);
}

static void control_cmd_unlock(struct control_req *r, struct json_object *req)
{
	struct control_lock *l;
	const char *id;

	if (control_str_get(r, req, "lock_id", CONTROL_LOCK_ID_MAX, true, &id,
			    NULL) < 0)
		return;
	l = control_lock_find(r->s, id);
	if (!l || l->unlocked) {
		control_reply_err(r, ENOENT, "no lock %s on this connection",
				  id);
		return;
	}
	if (l->state == CONTROL_LOCK_GRANTED) {
		cluster_lock_release(r->s->env->cluster, &l->lk);
		control_lock_free(l);
	} else {
		/* The lock request is answered by its completion. */
		l->unlocked = true;
		cluster_lock_cancel(r->s->env->cluster, &l->lk);
	}
	control_reply_send(r, control_ok_new());
}

/* ------------------------------------------------------------- notify */

static void control_notify_done(void *ctx, int status)
{
	struct control_req *r = ctx;
	const struct cluster_view *v;
	struct json_object *o;

	if (status) {
		control_reply_status(r, -status, "notify");
		return;
	}
	/* Every member of the delivery view acked; the current view is the
	 * best count this side of the service has of it. */
	v = r->s->closed ? NULL : cluster_view_get(r->s->env->cluster);
	o = control_ok_new();
	json_object_object_add(o, "acked",
			       json_object_new_int64(v ? v->count : 0));
	control_reply_send(r, o);
}

static void control_cmd_notify(struct control_req *r, struct json_object *req)
{
	const char *data = "";
	uint64_t topic;
	size_t len = 0;
	int err;

	if (control_uint_get(r, req, "topic", 65535, true, &topic) < 0 ||
	    control_str_get(r, req, "data", CLUSTER_KV_VALUE_MAX, false, &data,
			    &len) < 0)
		return;
	err = cluster_notify_send(r->s->env->cluster, (uint16_t)topic, data,
				  len, control_notify_done, r);
	if (err)
		control_reply_status(r, -err, "notify");
}

/* ------------------------------------------------------------- dispatch */

static const char *const control_keys_none[] = { NULL };
static const char *const control_keys_key[] = { "key", NULL };
static const char *const control_keys_set[] = { "key", "value", "value_hex",
	NULL };
static const char *const control_keys_cas[] = { "key", "version", "value",
	"value_hex", NULL };
static const char *const control_keys_lock[] = { "lock_id", "name", "start",
	"len", "mode", "cache", "timeout_ms", NULL };
static const char *const control_keys_unlock[] = { "lock_id", NULL };
static const char *const control_keys_notify[] = { "topic", "data", NULL };

static const struct control_cmd control_cmds[] = {
	{ "status", control_cmd_status, control_keys_none, false },
	{ "view", control_cmd_view, control_keys_none, true },
	{ "kv-get", control_cmd_kv_get, control_keys_key, true },
	{ "kv-set", control_cmd_kv_set, control_keys_set, true },
	{ "kv-cas", control_cmd_kv_cas, control_keys_cas, true },
	{ "kv-del", control_cmd_kv_del, control_keys_key, true },
	{ "lock", control_cmd_lock, control_keys_lock, true },
	{ "unlock", control_cmd_unlock, control_keys_unlock, true },
	{ "notify", control_cmd_notify, control_keys_notify, true },
};

/* Refuses keys the command does not take: a typo ("vale") must not turn
 * into a default. 0 or -1 (answered). */
static int control_keys_check(struct control_req *r, struct json_object *req,
			      const struct control_cmd *cmd)
{
	size_t i;

	json_object_object_foreach(req, key, val) {
		bool ok = !strcmp(key, "cmd") || !strcmp(key, "id");

		(void)val;
		for (i = 0; !ok && cmd->keys[i]; i++)
			ok = strcmp(key, cmd->keys[i]) == 0;
		if (!ok) {
			control_reply_err(r, EINVAL, "%s: unknown key \"%.64s\"",
					  cmd->name, key);
			return -1;
		}
	}
	return 0;
}

void control_session_request(struct control_session *s, const char *line,
			     size_t len)
{
	struct json_tokener *tok;
	struct json_object *req = NULL, *v, *id = NULL;
	struct control_req *r;
	const char *name;
	size_t i;

	tok = json_tokener_new();
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		req = json_tokener_parse_ex(tok, line, (int)len);
		/* A request must be exactly one complete JSON value. */
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len) {
			json_object_put(req);
			req = NULL;
		}
	}
	if (req && json_object_is_type(req, json_type_object))
		json_object_object_get_ex(req, "id", &id);
	r = control_req_new(s, id);
	if (!r) {
		/* Out of memory: the client gets no answer; drop it. */
		json_object_put(req);
		if (tok)
			json_tokener_free(tok);
		return;
	}
	if (!tok) {
		control_reply_err(r, ENOMEM, "out of memory");
	} else if (!req) {
		control_reply_err(r, EINVAL, "malformed request: %s",
				  json_tokener_get_error(tok) ==
				  json_tokener_success ? "trailing bytes after "
				  "the JSON object" : json_tokener_error_desc(
					  json_tokener_get_error(tok)));
	} else if (!json_object_is_type(req, json_type_object)) {
		control_reply_err(r, EINVAL, "malformed request: not a JSON "
				  "object");
	} else if (!json_object_object_get_ex(req, "cmd", &v) ||
		   !json_object_is_type(v, json_type_string)) {
		control_reply_err(r, EINVAL, "malformed request: no \"cmd\" "
				  "string");
	} else {
		name = json_object_get_string(v);
		for (i = 0; i < ARRAY_SIZE(control_cmds); i++)
			if (strcmp(name, control_cmds[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(control_cmds))
			control_reply_err(r, ENOSYS, "unknown command \"%.64s\"",
					  name);
		else if (control_cmds[i].needs_cluster && !s->env->cluster)
			control_reply_err(r, ENOTSUP, "%s: no cluster service "
					  "in this ctgtd", name);
		else if (control_keys_check(r, req, &control_cmds[i]) == 0)
			control_cmds[i].fn(r, req);
	}
	json_object_put(req);
	if (tok)
		json_tokener_free(tok);
}

void control_session_init(struct control_session *s,
			  const struct control_env *env,
			  control_reply_fn reply)
{
	memset(s, 0, sizeof(*s));
	s->env = env;
	s->reply = reply;
	list_init(&s->locks);
}

void control_session_close(struct control_session *s)
{
	struct control_lock *l, *tmp;

	if (s->closed)
		return;
	s->closed = true;
	list_for_each_entry_safe(l, tmp, &s->locks, link) {
		if (l->state == CONTROL_LOCK_GRANTED) {
			cluster_lock_release(s->env->cluster, &l->lk);
			control_lock_free(l);
		} else if (!l->unlocked) {
			/* Its completion frees it (and says nothing). */
			l->unlocked = true;
			cluster_lock_cancel(s->env->cluster, &l->lk);
		}
	}
	if (s->pending == 0 && s->idle)
		s->idle(s);
}
