/*
 * The control protocol's dispatcher (control_cmd.c) without sockets:
 * sessions fed request lines, replies collected. First without a cluster
 * (framing of requests, errors, the table), then on a real single-backend
 * cluster service: KV set/get/CAS/delete, locks held per session and
 * released when the session closes, timeouts, unlock of a waiting lock,
 * notify. Last, the server (control.c) over a real socket: stale and
 * live socket files, pipelined requests split across writes, an oversized
 * request, a client that goes away holding a lock.
 *
 *   session A --\
 *                +-- control_cmd --> cluster (single backend, node 1)
 *   session B --/
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "base/loop.h"
#include "cluster/cluster.h"
#include "daemon/control.h"

#define T_REPLIES_MAX 32

struct t_sess {
	struct control_session s;
	struct json_object *replies[T_REPLIES_MAX];
	unsigned n;          /* replies received */
	unsigned taken;      /* replies looked at */
	bool idle;
};

struct t_env {
	struct base_loop *loop;
	struct cluster *c;
	struct control_env env;
	struct t_sess a, b;
};

static void t_reply(struct control_session *s, const char *line, size_t len)
{
	struct t_sess *t = container_of(s, struct t_sess, s);
	struct json_object *o;

	assert_null(memchr(line, '\n', len));   /* one line per reply */
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_true(t->n < T_REPLIES_MAX);
	t->replies[t->n++] = o;
}

static void t_idle(struct control_session *s)
{
	container_of(s, struct t_sess, s)->idle = true;
}

static void t_sess_init(struct t_env *e, struct t_sess *t)
{
	memset(t, 0, sizeof(*t));
	control_session_init(&t->s, &e->env, t_reply);
	t->s.idle = t_idle;
}

static void t_sess_fini(struct t_sess *t)
{
	unsigned i;

	for (i = 0; i < t->n; i++)
		json_object_put(t->replies[i]);
	t->n = t->taken = 0;
}

/* Turns the loop until cond holds, for up to 5 s (timers need time). */
#define T_RUN_UNTIL(e, cond)                                            \
	do {                                                            \
		int _i;                                                 \
		for (_i = 0; _i < 5000 && !(cond); _i++) {              \
			if (base_loop_run_ready((e)->loop) == 0)        \
				usleep(1000);                           \
		}                                                       \
		assert_true(cond);                                      \
	} while (0)

static void t_req(struct t_sess *t, const char *line)
{
	control_session_request(&t->s, line, strlen(line));
}

/* The next reply of t (waits for it). */
static struct json_object *t_next(struct t_env *e, struct t_sess *t)
{
	if (e->c)
		T_RUN_UNTIL(e, t->n > t->taken);
	assert_true(t->n > t->taken);
	return t->replies[t->taken++];
}

static bool t_ok(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "ok", &v) &&
	       json_object_get_boolean(v);
}

static const char *t_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : "";
}

static int64_t t_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_int64(v) : -1;
}

/* The next reply is ok:false with code and an error containing text. */
static void t_expect_err(struct t_env *e, struct t_sess *t, const char *code,
			 const char *text)
{
	struct json_object *o = t_next(e, t);

	if (t_ok(o) || strcmp(t_str(o, "code"), code) ||
	    !strstr(t_str(o, "error"), text))
		fprintf(stderr, "want code %s and \"%s\", got %s\n", code,
			text, json_object_to_json_string(o));
	assert_false(t_ok(o));
	assert_string_equal(t_str(o, "code"), code);
	assert_non_null(strstr(t_str(o, "error"), text));
}

static struct json_object *t_expect_ok(struct t_env *e, struct t_sess *t)
{
	struct json_object *o = t_next(e, t);

	if (!t_ok(o))
		fprintf(stderr, "want ok, got %s\n",
			json_object_to_json_string(o));
	assert_true(t_ok(o));
	return o;
}

/* ------------------------------------------------------ without cluster */

static int t_setup_bare(void **state)
{
	struct t_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(base_loop_create(&e->loop), 0);
	e->env.loop = e->loop;
	e->env.backend = "single";
	e->env.group = "ctgt";
	e->env.start_ms = base_now_ms();
	t_sess_init(e, &e->a);
	t_sess_init(e, &e->b);
	*state = e;
	return 0;
}

static int t_teardown(void **state)
{
	struct t_env *e = *state;

	control_session_close(&e->a.s);
	control_session_close(&e->b.s);
	if (e->c)
		cluster_close(e->c);
	assert_int_equal(e->a.s.pending, 0);
	assert_int_equal(e->b.s.pending, 0);
	t_sess_fini(&e->a);
	t_sess_fini(&e->b);
	base_loop_destroy(e->loop);
	free(e);
	return 0;
}

static void test_status_and_id(void **state)
{
	struct t_env *e = *state;
	struct json_object *o, *id;

	t_req(&e->a, "{\"cmd\":\"status\",\"id\":[1,\"x\"]}");
	o = t_expect_ok(e, &e->a);
	assert_string_equal(t_str(o, "backend"), "single");
	assert_string_equal(t_str(o, "group"), "ctgt");
	assert_true(t_int(o, "pid") > 0);
	assert_true(t_int(o, "uptime_s") >= 0);
	assert_true(strlen(t_str(o, "version")) > 0);
	/* any JSON value is echoed as the id */
	assert_true(json_object_object_get_ex(o, "id", &id));
	assert_string_equal(json_object_to_json_string_ext(id,
				JSON_C_TO_STRING_PLAIN), "[1,\"x\"]");
	assert_int_equal(e->a.s.pending, 0);
}

static void test_malformed(void **state)
{
	struct t_env *e = *state;

	t_req(&e->a, "{\"cmd\":");
	t_expect_err(e, &e->a, "EINVAL", "malformed request");
	t_req(&e->a, "not json");
	t_expect_err(e, &e->a, "EINVAL", "malformed request");
	t_req(&e->a, "[1,2]");
	t_expect_err(e, &e->a, "EINVAL", "not a JSON object");
	t_req(&e->a, "{\"cmd\":\"status\"} {\"cmd\":\"status\"}");
	t_expect_err(e, &e->a, "EINVAL", "malformed request");
	t_req(&e->a, "{\"id\":3}");
	t_expect_err(e, &e->a, "EINVAL", "no \"cmd\"");
	t_req(&e->a, "{\"cmd\":7}");
	t_expect_err(e, &e->a, "EINVAL", "no \"cmd\"");
	t_req(&e->a, "{\"cmd\":\"format-disk\"}");
	t_expect_err(e, &e->a, "ENOSYS", "unknown command \"format-disk\"");
	t_req(&e->a, "{\"cmd\":\"status\",\"verbose\":true}");
	t_expect_err(e, &e->a, "EINVAL", "unknown key \"verbose\"");
	/* a NUL inside the line is not the end of the request */
	control_session_request(&e->a.s, "{\"cmd\":\"status\"}\0x", 18);
	t_expect_err(e, &e->a, "EINVAL", "malformed request");
	/* cluster commands without a cluster service */
	t_req(&e->a, "{\"cmd\":\"kv-get\",\"key\":\"k\"}");
	t_expect_err(e, &e->a, "ENOTSUP", "no cluster service");
	assert_int_equal(e->a.n, e->a.taken);
	assert_int_equal(e->a.s.pending, 0);
}

static void test_close_idle(void **state)
{
	struct t_env *e = *state;

	control_session_close(&e->a.s);
	assert_true(e->a.idle);
	/* a closed session answers nothing */
	t_req(&e->a, "{\"cmd\":\"status\"}");
	assert_int_equal(e->a.n, 0);
}

/* --------------------------------------------------- on a single cluster */

static int t_setup_cluster(void **state)
{
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SINGLE };
	struct cluster_events ev = { 0 };
	struct t_env *e;

	t_setup_bare(state);
	e = *state;
	assert_int_equal(cluster_open(e->loop, &cfg, &ev, &e->c), 0);
	e->env.cluster = e->c;
	T_RUN_UNTIL(e, cluster_is_ready(e->c));
	return 0;
}

static void test_view(void **state)
{
	struct t_env *e = *state;
	struct json_object *o, *ms;

	t_req(&e->a, "{\"cmd\":\"view\"}");
	o = t_expect_ok(e, &e->a);
	assert_int_equal(t_int(o, "local_id"), 1);
	assert_string_equal(t_str(o, "quorate"), "true");
	assert_string_equal(t_str(o, "ready"), "true");
	assert_true(json_object_object_get_ex(o, "members", &ms));
	assert_int_equal(json_object_array_length(ms), 1);
	assert_int_equal(t_int(json_object_array_get_idx(ms, 0), "id"), 1);
}

static void test_kv(void **state)
{
	struct t_env *e = *state;
	struct json_object *o;
	int64_t v1, v2;
	char line[256];

	t_req(&e->a, "{\"cmd\":\"kv-get\",\"key\":\"color\"}");
	t_expect_err(e, &e->a, "ENOENT", "no such key");
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"color\",\"value\":\"blue\"}");
	assert_int_equal(e->a.n, e->a.taken); /* answered at commit, later */
	o = t_expect_ok(e, &e->a);
	v1 = t_int(o, "version");
	assert_true(v1 > 0);
	t_req(&e->b, "{\"cmd\":\"kv-get\",\"key\":\"color\"}");
	o = t_expect_ok(e, &e->b);
	assert_string_equal(t_str(o, "value"), "blue");
	assert_int_equal(t_int(o, "version"), v1);

	/* CAS with a stale version: refused, the current one is named */
	snprintf(line, sizeof(line), "{\"cmd\":\"kv-cas\",\"key\":\"color\","
		 "\"version\":%lld,\"value\":\"red\"}", (long long)v1 + 100);
	t_req(&e->a, line);
	snprintf(line, sizeof(line), "at version %lld", (long long)v1);
	t_expect_err(e, &e->a, "ECANCELED", line);
	snprintf(line, sizeof(line), "{\"cmd\":\"kv-cas\",\"key\":\"color\","
		 "\"version\":%lld,\"value\":\"red\"}", (long long)v1);
	t_req(&e->a, line);
	v2 = t_int(t_expect_ok(e, &e->a), "version");
	assert_true(v2 > v1);
	/* version 0: only if absent */
	t_req(&e->a, "{\"cmd\":\"kv-cas\",\"key\":\"color\",\"version\":0,"
	      "\"value\":\"x\"}");
	t_expect_err(e, &e->a, "ECANCELED", "version mismatch");

	/* bytes that are not UTF-8 travel as hex */
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"bin\",\"value_hex\":"
	      "\"00ff41\"}");
	t_expect_ok(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"kv-get\",\"key\":\"bin\"}");
	assert_string_equal(t_str(t_expect_ok(e, &e->a), "value_hex"),
			    "00ff41");
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"u\",\"value\":\"h\\u00e9\"}");
	t_expect_ok(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"kv-get\",\"key\":\"u\"}");
	assert_string_equal(t_str(t_expect_ok(e, &e->a), "value"), "h\xc3\xa9");

	/* argument errors */
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"k\"}");
	t_expect_err(e, &e->a, "EINVAL", "exactly one of");
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"k\",\"value_hex\":\"0g\"}");
	t_expect_err(e, &e->a, "EINVAL", "hex digits");
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"\",\"value\":\"v\"}");
	t_expect_err(e, &e->a, "EINVAL", "\"key\" must be 1..");
	t_req(&e->a, "{\"cmd\":\"kv-cas\",\"key\":\"k\",\"value\":\"v\"}");
	t_expect_err(e, &e->a, "EINVAL", "\"version\" is required");
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"k\",\"vale\":\"v\"}");
	t_expect_err(e, &e->a, "EINVAL", "unknown key \"vale\"");

	t_req(&e->a, "{\"cmd\":\"kv-del\",\"key\":\"color\"}");
	t_expect_ok(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"kv-get\",\"key\":\"color\"}");
	t_expect_err(e, &e->a, "ENOENT", "color");
}

static void test_locks(void **state)
{
	struct t_env *e = *state;
	struct json_object *o;

	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"a1\",\"name\":\"L\"}");
	o = t_expect_ok(e, &e->a);
	assert_string_equal(t_str(o, "lock_id"), "a1");
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"a1\",\"name\":\"M\"}");
	t_expect_err(e, &e->a, "EEXIST", "a1");

	/* B waits; with a timeout it gives up */
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"b1\",\"name\":\"L\","
	      "\"timeout_ms\":100}");
	t_expect_err(e, &e->b, "ETIMEDOUT", "not granted within 100 ms");
	/* B waits without a timeout; an unlock cancels the wait */
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"b2\",\"name\":\"L\"}");
	T_RUN_UNTIL(e, e->b.s.pending == 1 && base_loop_run_ready(e->loop) == 0);
	assert_int_equal(e->b.n, e->b.taken);
	t_req(&e->b, "{\"cmd\":\"unlock\",\"lock_id\":\"b2\"}");
	t_expect_ok(e, &e->b);
	t_expect_err(e, &e->b, "ECANCELED", "cancelled by unlock");
	t_req(&e->b, "{\"cmd\":\"unlock\",\"lock_id\":\"b2\"}");
	t_expect_err(e, &e->b, "ENOENT", "no lock b2");

	/* B waits; A's session ends: A's lock goes, B gets it */
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"b3\",\"name\":\"L\"}");
	T_RUN_UNTIL(e, e->b.s.pending == 1 && base_loop_run_ready(e->loop) == 0);
	assert_int_equal(e->b.n, e->b.taken);
	control_session_close(&e->a.s);
	assert_true(e->a.idle);
	o = t_expect_ok(e, &e->b);
	assert_string_equal(t_str(o, "lock_id"), "b3");
	t_req(&e->b, "{\"cmd\":\"unlock\",\"lock_id\":\"b3\"}");
	t_expect_ok(e, &e->b);

	/* shared locks coexist; disjoint ranges coexist */
	t_sess_fini(&e->a);
	t_sess_init(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"s\",\"name\":\"S\","
	      "\"mode\":\"shared\"}");
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"s\",\"name\":\"S\","
	      "\"mode\":\"shared\",\"timeout_ms\":2000}");
	t_expect_ok(e, &e->a);
	t_expect_ok(e, &e->b);
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"r\",\"name\":\"R\","
	      "\"start\":0,\"len\":8}");
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"r\",\"name\":\"R\","
	      "\"start\":8,\"len\":8,\"timeout_ms\":2000}");
	t_expect_ok(e, &e->a);
	t_expect_ok(e, &e->b);
	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"r2\",\"name\":\"R\","
	      "\"start\":4,\"len\":8,\"timeout_ms\":100}");
	t_expect_err(e, &e->b, "ETIMEDOUT", "r2");

	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"x\",\"name\":\"X\","
	      "\"mode\":\"weird\"}");
	t_expect_err(e, &e->a, "EINVAL", "\"mode\"");
	/* session close with granted locks: nothing left pending */
	control_session_close(&e->b.s);
	assert_true(e->b.idle);
}

static void test_lock_cache(void **state)
{
	struct t_env *e = *state;
	struct json_object *o, *st;

	/* a cached lock taken, released, taken again: granted both times
	 * (the second time from the node's cache) */
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"c\",\"name\":\"C\","
	      "\"cache\":true}");
	t_expect_ok(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"unlock\",\"lock_id\":\"c\"}");
	t_expect_ok(e, &e->a);
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"c\",\"name\":\"C\","
	      "\"cache\":true,\"timeout_ms\":2000}");
	t_expect_ok(e, &e->a);
	/* status with a cluster: ready and the engine's counters */
	t_req(&e->b, "{\"cmd\":\"status\"}");
	o = t_expect_ok(e, &e->b);
	assert_string_equal(t_str(o, "ready"), "true");
	assert_true(json_object_object_get_ex(o, "cluster_stats", &st));
	assert_true(t_int(st, "applied") >= 1);
}

static void test_notify(void **state)
{
	struct t_env *e = *state;

	t_req(&e->a, "{\"cmd\":\"notify\",\"topic\":65280,\"data\":\"hi\"}");
	assert_int_equal(t_int(t_expect_ok(e, &e->a), "acked"), 1);
	t_req(&e->a, "{\"cmd\":\"notify\",\"topic\":70000}");
	t_expect_err(e, &e->a, "EINVAL", "\"topic\" must be 0..65535");
}

/* A request in flight when the cluster closes: ESHUTDOWN, then idle. */
static void test_shutdown(void **state)
{
	struct t_env *e = *state;

	t_req(&e->b, "{\"cmd\":\"lock\",\"lock_id\":\"l\",\"name\":\"L\"}");
	t_expect_ok(e, &e->b);
	t_req(&e->a, "{\"cmd\":\"kv-set\",\"key\":\"k\",\"value\":\"v\"}");
	t_req(&e->a, "{\"cmd\":\"lock\",\"lock_id\":\"l\",\"name\":\"L\"}");
	assert_int_equal(e->a.s.pending, 2);
	control_session_close(&e->b.s);
	cluster_close(e->c);
	e->c = NULL;
	/* one completed before the close or with ESHUTDOWN: all answered */
	assert_int_equal(e->a.s.pending, 0);
	assert_int_equal(e->a.n, 2);
}


/* ------------------------------------------------------------ the server */

static void t_sock_path(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/ctgt-test-control-%ld/ctl.sock",
		 (long)getpid());
}

static int t_client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void t_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL),
			 (ssize_t)strlen(s));
}

/* Turns the loop until fd has n newline-terminated lines (or EOF); they
 * are returned in buf. */
static size_t t_read_lines(struct t_env *e, int fd, unsigned n, char *buf,
			   size_t size, bool *eof)
{
	size_t len = 0;
	unsigned lines = 0;
	ssize_t r;
	int i;

	*eof = false;
	for (i = 0; i < 5000 && lines < n && !*eof; i++) {
		if (base_loop_run_ready(e->loop) == 0)
			usleep(1000);
		while ((r = recv(fd, buf + len, size - 1 - len,
				 MSG_DONTWAIT)) > 0) {
			for (ssize_t k = 0; k < r; k++)
				lines += buf[len + (size_t)k] == '\n';
			len += (size_t)r;
		}
		if (r == 0)
			*eof = true;
	}
	buf[len] = '\0';
	return lines;
}

static void test_server(void **state)
{
	struct t_env *e = *state;
	struct control *ctl, *ctl2;
	char path[108], dir[108], buf[65536], *big;
	struct stat st;
	bool eof;
	int c1, c2, fd;
	size_t n;

	t_sock_path(path, sizeof(path));
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	/* a stale socket file (nobody listens) is replaced; the directory
	 * is created */
	mkdir(dir, 0755);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	assert_int_equal(control_open(&e->env, path, &ctl), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a live one is not taken over */
	assert_int_equal(control_open(&e->env, path, &ctl2), -EADDRINUSE);

	/* two requests in one write, a third split across two */
	c1 = t_client(path);
	t_send(c1, "{\"cmd\":\"status\",\"id\":1}\n\n{\"cmd\":\"view\",\"id\":2}\n"
	       "{\"cmd\":\"kv-set\",\"key\":\"s\",");
	assert_int_equal(t_read_lines(e, c1, 2, buf, sizeof(buf), &eof), 2);
	assert_non_null(strstr(buf, "\"id\":1"));
	assert_non_null(strstr(buf, "\"local_id\":1"));
	t_send(c1, "\"value\":\"v\",\"id\":3}\r\n");
	assert_int_equal(t_read_lines(e, c1, 1, buf, sizeof(buf), &eof), 1);
	assert_non_null(strstr(buf, "\"ok\":true,\"key\":\"s\""));

	/* c1 takes a lock and goes away; c2 waits for it and gets it */
	t_send(c1, "{\"cmd\":\"lock\",\"lock_id\":\"x\",\"name\":\"L\"}\n");
	assert_int_equal(t_read_lines(e, c1, 1, buf, sizeof(buf), &eof), 1);
	assert_non_null(strstr(buf, "\"granted\":true"));
	c2 = t_client(path);
	t_send(c2, "{\"cmd\":\"lock\",\"lock_id\":\"y\",\"name\":\"L\"}\n");
	assert_int_equal(t_read_lines(e, c2, 1, buf, sizeof(buf), &eof), 0);
	close(c1);
	assert_int_equal(t_read_lines(e, c2, 1, buf, sizeof(buf), &eof), 1);
	assert_non_null(strstr(buf, "\"lock_id\":\"y\",\"granted\":true"));

	/* a request line beyond the limit: an error, then the connection
	 * is closed; the other connections are not affected */
	c1 = t_client(path);
	n = CONTROL_REQUEST_MAX + 4096;
	big = malloc(n);
	assert_non_null(big);
	memset(big, 'a', n);
	for (size_t off = 0; off < n;) {
		ssize_t r = send(c1, big + off, n - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r > 0)
			off += (size_t)r;
		else if (base_loop_run_ready(e->loop) == 0)
			usleep(1000);
		if (r < 0 && errno != EAGAIN)
			break;
	}
	free(big);
	t_read_lines(e, c1, 2, buf, sizeof(buf), &eof);
	assert_non_null(strstr(buf, "\"EMSGSIZE\""));
	assert_true(eof);
	close(c1);
	t_send(c2, "{\"cmd\":\"status\"}\n");
	assert_int_equal(t_read_lines(e, c2, 1, buf, sizeof(buf), &eof), 1);
	assert_non_null(strstr(buf, "\"ok\":true"));

	/* close with a client still connected (holding y): the file goes,
	 * the client sees EOF */
	control_close(ctl);
	assert_int_equal(stat(path, &st), -1);
	t_read_lines(e, c2, 1, buf, sizeof(buf), &eof);
	assert_true(eof);
	close(c2);
	cluster_close(e->c);
	e->c = NULL;
	control_free(ctl);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_and_id,
						t_setup_bare, t_teardown),
		cmocka_unit_test_setup_teardown(test_malformed, t_setup_bare,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_close_idle, t_setup_bare,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_view, t_setup_cluster,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_kv, t_setup_cluster,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_locks, t_setup_cluster,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_lock_cache,
						t_setup_cluster, t_teardown),
		cmocka_unit_test_setup_teardown(test_notify, t_setup_cluster,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, t_setup_cluster,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_server, t_setup_cluster,
						t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
