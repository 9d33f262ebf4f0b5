/*
 * ctgtadm: the thin client of ctgtd's control socket (docs/control.md).
 *
 * It turns a command line into one JSON request, waits for the reply and
 * prints it readably (or raw with --json). "lock" is the one command that
 * stays: the lock belongs to this client's connection, so ctgtadm keeps
 * the connection open while it holds the lock (--hold SECONDS, or until
 * SIGTERM/SIGINT), then unlocks; if ctgtadm dies, ctgtd releases it.
 *
 * Exit status: 0 ok, 1 the operation failed (ctgtd said ok:false), 2 usage
 * error, cannot connect, or the connection broke.
 *
 * Deliberately thin: no retries, no state, nothing a shell loop cannot do.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#define CTGTADM_SOCKET_DEFAULT "/run/ctgt/ctgtd.sock"
#define CTGTADM_REPLY_MAX (4u << 20)

enum { CTGTADM_OK = 0, CTGTADM_FAILED = 1, CTGTADM_USAGE = 2 };

static struct {
	const char *socket;
	bool json;
	int fd;
	char *buf;             /* received, not yet consumed */
	size_t len, cap;
	int64_t next_id;
} ctgtadm = { .socket = CTGTADM_SOCKET_DEFAULT, .fd = -1, .next_id = 1 };

static volatile sig_atomic_t ctgtadm_stop;

static void ctgtadm_usage(FILE *f)
{
	fprintf(f,
"usage: ctgtadm [-S SOCKET] [--json] COMMAND\n"
"\n"
"  status                     daemon version and uptime\n"
"  view                       cluster membership, quorum, readiness\n"
"  kv get KEY                 read a replicated key (local read)\n"
"  kv set KEY VALUE           set it (ordered commit; prints the version)\n"
"  kv cas KEY VERSION VALUE   set it only if it is at VERSION (0: absent)\n"
"  kv del KEY                 delete it\n"
"  lock NAME [--shared] [--range START LEN] [--cache] [--hold SECONDS]\n"
"            [--timeout MS] [--id LOCK_ID]\n"
"                             take a cluster lock (exclusive, whole\n"
"                             resource by default); print \"granted\", hold\n"
"                             it SECONDS (default: until SIGTERM/SIGINT),\n"
"                             then release it. --timeout: give up if not\n"
"                             granted within MS milliseconds\n"
"  notify TOPIC DATA          send to every member; returns after all acked\n"
"\n"
"  -S, --socket PATH  control socket (default %s)\n"
"      --json         print ctgtd's replies as they are (one JSON a line)\n"
"\n"
"Exit status: 0 ok, 1 the operation failed, 2 usage or connection error.\n",
		CTGTADM_SOCKET_DEFAULT);
}

static int ctgtadm_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(ctgtadm.socket) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ctgtadm: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, ctgtadm.socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctgtadm: cannot connect to %s: %s%s\n",
			ctgtadm.socket, strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ?
			" (is ctgtd running? -S names its socket)" : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ctgtadm.fd = fd;
	return 0;
}

/* Sends req (consumed) with a fresh id; returns the id, or -1. */
static int64_t ctgtadm_send(struct json_object *req)
{
	const char *text;
	int64_t id = ctgtadm.next_id++;
	size_t len, off = 0;
	ssize_t n;
	char *line;

	json_object_object_add(req, "id", json_object_new_int64(id));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	line = malloc(len + 1);
	if (!line) {
		json_object_put(req);
		return -1;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	json_object_put(req);
	while (off < len + 1) {
		n = send(ctgtadm.fd, line + off, len + 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "ctgtadm: send to ctgtd: %s\n",
				strerror(errno));
			free(line);
			return -1;
		}
		off += (size_t)n;
	}
	free(line);
	return id;
}

/* Reads one reply line; NULL on EOF/error (said on stderr) or, with
 * timeout_ms >= 0, when nothing came in time (*timed_out set). A signal
 * that sets ctgtadm_stop also ends the wait (*timed_out set). */
static struct json_object *ctgtadm_recv(int timeout_ms, bool *timed_out)
{
	struct json_object *o;
	struct pollfd p;
	char *nl;
	ssize_t n;
	int r;

	if (timed_out)
		*timed_out = false;
	for (;;) {
		nl = ctgtadm.len ? memchr(ctgtadm.buf, '\n', ctgtadm.len) :
		     NULL;
		if (nl) {
			*nl = '\0';
			if (ctgtadm.json)
				printf("%s\n", ctgtadm.buf);
			o = json_tokener_parse(ctgtadm.buf);
			ctgtadm.len -= (size_t)(nl + 1 - ctgtadm.buf);
			memmove(ctgtadm.buf, nl + 1, ctgtadm.len);
			if (!o || !json_object_is_type(o, json_type_object)) {
				fprintf(stderr, "ctgtadm: malformed reply "
					"from ctgtd\n");
				json_object_put(o);
				return NULL;
			}
			return o;
		}
		if (ctgtadm.len == ctgtadm.cap) {
			size_t cap = ctgtadm.cap ? ctgtadm.cap * 2 : 4096;
			char *b;

			if (cap > CTGTADM_REPLY_MAX ||
			    !(b = realloc(ctgtadm.buf, cap))) {
				fprintf(stderr, "ctgtadm: reply too long\n");
				return NULL;
			}
			ctgtadm.buf = b;
			ctgtadm.cap = cap;
		}
		if (timeout_ms >= 0 || timed_out) {
			p.fd = ctgtadm.fd;
			p.events = POLLIN;
			r = poll(&p, 1, timeout_ms);
			if (r < 0 && errno == EINTR) {
				if (ctgtadm_stop && timed_out) {
					*timed_out = true;
					return NULL;
				}
				continue;
			}
			if (r == 0) {
				*timed_out = true;
				return NULL;
			}
		}
		n = recv(ctgtadm.fd, ctgtadm.buf + ctgtadm.len,
			 ctgtadm.cap - ctgtadm.len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "ctgtadm: connection to ctgtd lost%s%s\n",
				n ? ": " : "", n ? strerror(errno) : "");
			return NULL;
		}
		ctgtadm.len += (size_t)n;
	}
}

/* The reply to request id (other replies are skipped). */
static struct json_object *ctgtadm_reply(int64_t id)
{
	struct json_object *o, *v;

	for (;;) {
		o = ctgtadm_recv(-1, NULL);
		if (!o)
			return NULL;
		if (json_object_object_get_ex(o, "id", &v) &&
		    json_object_get_int64(v) == id)
			return o;
		json_object_put(o);
	}
}

static bool ctgtadm_ok(struct json_object *o)
{
	struct json_object *v;

	return json_object_object_get_ex(o, "ok", &v) &&
	       json_object_get_boolean(v);
}

static const char *ctgtadm_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : "";
}

static int64_t ctgtadm_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_int64(v) : 0;
}

/* Prints an ok:false reply; returns the exit status. */
static int ctgtadm_failed(struct json_object *o)
{
	if (!ctgtadm.json)
		fprintf(stderr, "ctgtadm: %s (%s)\n", ctgtadm_str(o, "error"),
			ctgtadm_str(o, "code"));
	json_object_put(o);
	return CTGTADM_FAILED;
}

/* One request, one reply: NULL on a connection error (said). */
static struct json_object *ctgtadm_call(struct json_object *req)
{
	int64_t id = ctgtadm_send(req);

	return id < 0 ? NULL : ctgtadm_reply(id);
}

static struct json_object *ctgtadm_req(const char *cmd)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "cmd", json_object_new_string(cmd));
	return o;
}

static bool ctgtadm_u64_parse(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s[0] || s[0] == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int ctgtadm_status(struct json_object *o)
{
	if (!ctgtadm_ok(o))
		return ctgtadm_failed(o);
	if (!ctgtadm.json)
		printf("ctgtd %s, pid %" PRId64 ", up %" PRId64 " s, cluster "
		       "backend %s, group %s, %s\n", ctgtadm_str(o, "version"),
		       ctgtadm_int(o, "pid"), ctgtadm_int(o, "uptime_s"),
		       ctgtadm_str(o, "backend"), ctgtadm_str(o, "group"),
		       strcmp(ctgtadm_str(o, "ready"), "true") ? "NOT ready" :
		       "ready");
	json_object_put(o);
	return CTGTADM_OK;
}

static int ctgtadm_view(struct json_object *o)
{
	struct json_object *ms, *m, *v;
	size_t i, n;

	if (!ctgtadm_ok(o))
		return ctgtadm_failed(o);
	if (!ctgtadm.json) {
		printf("local node %" PRId64 ", view %" PRId64 ": %s, %s\n",
		       ctgtadm_int(o, "local_id"), ctgtadm_int(o, "seq"),
		       json_object_object_get_ex(o, "quorate", &v) &&
		       json_object_get_boolean(v) ? "quorate" : "NOT quorate",
		       json_object_object_get_ex(o, "ready", &v) &&
		       json_object_get_boolean(v) ? "ready" : "NOT ready");
		n = json_object_object_get_ex(o, "members", &ms) ?
		    json_object_array_length(ms) : 0;
		printf("members (%zu):", n);
		for (i = 0; i < n; i++) {
			m = json_object_array_get_idx(ms, i);
			printf("%s %" PRId64 "%s%s", i ? "," : "",
			       ctgtadm_int(m, "id"),
			       ctgtadm_str(m, "name")[0] ? " " : "",
			       ctgtadm_str(m, "name"));
		}
		printf("\n");
	}
	json_object_put(o);
	return CTGTADM_OK;
}

static int ctgtadm_kv(int argc, char **argv)
{
	struct json_object *req, *o, *v;
	const char *sub = argc > 0 ? argv[0] : "";
	uint64_t version = 0;

	if (!strcmp(sub, "get") && argc == 2) {
		req = ctgtadm_req("kv-get");
	} else if (!strcmp(sub, "set") && argc == 3) {
		req = ctgtadm_req("kv-set");
		json_object_object_add(req, "value",
				       json_object_new_string(argv[2]));
	} else if (!strcmp(sub, "cas") && argc == 4) {
		if (!ctgtadm_u64_parse(argv[2], INT64_MAX, &version)) {
			fprintf(stderr, "ctgtadm: kv cas: bad VERSION \"%s\"\n",
				argv[2]);
			return CTGTADM_USAGE;
		}
		req = ctgtadm_req("kv-cas");
		json_object_object_add(req, "version",
				       json_object_new_int64((int64_t)version));
		json_object_object_add(req, "value",
				       json_object_new_string(argv[3]));
	} else if (!strcmp(sub, "del") && argc == 2) {
		req = ctgtadm_req("kv-del");
	} else {
		ctgtadm_usage(stderr);
		return CTGTADM_USAGE;
	}
	json_object_object_add(req, "key", json_object_new_string(argv[1]));
	if (ctgtadm_connect())
		return CTGTADM_USAGE;
	o = ctgtadm_call(req);
	if (!o)
		return CTGTADM_USAGE;
	if (!ctgtadm_ok(o))
		return ctgtadm_failed(o);
	if (!ctgtadm.json) {
		if (!strcmp(sub, "get") &&
		    json_object_object_get_ex(o, "value", &v))
			printf("%s = \"%s\" (version %" PRId64 ")\n", argv[1],
			       json_object_get_string(v),
			       ctgtadm_int(o, "version"));
		else if (!strcmp(sub, "get"))
			printf("%s = hex:%s (version %" PRId64 ")\n", argv[1],
			       ctgtadm_str(o, "value_hex"),
			       ctgtadm_int(o, "version"));
		else if (!strcmp(sub, "del"))
			printf("%s: deleted (version %" PRId64 ")\n", argv[1],
			       ctgtadm_int(o, "version"));
		else
			printf("%s: version %" PRId64 "\n", argv[1],
			       ctgtadm_int(o, "version"));
	}
	json_object_put(o);
	return CTGTADM_OK;
}

static void ctgtadm_signal(int sig)
{
	(void)sig;
	ctgtadm_stop = 1;
}

static uint64_t ctgtadm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int ctgtadm_lock(int argc, char **argv)
{
	struct json_object *req, *o;
	struct sigaction sa;
	uint64_t start = 0, len = 0, hold = 0, timeout = 0, deadline;
	bool shared = false, cache = false, hold_set = false, t;
	char id[64];
	const char *name = NULL;
	int64_t lid;
	int i, status;

	snprintf(id, sizeof(id), "ctgtadm-%ld", (long)getpid());
	/* By hand: NAME may come before or after the options, and --range
	 * takes two arguments (getopt would reorder them). */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--shared")) {
			shared = true;
		} else if (!strcmp(a, "--cache")) {
			cache = true;
		} else if (!strcmp(a, "--range")) {
			if (i + 2 >= argc ||
			    !ctgtadm_u64_parse(argv[i + 1], INT64_MAX, &start) ||
			    !ctgtadm_u64_parse(argv[i + 2], INT64_MAX, &len)) {
				fprintf(stderr, "ctgtadm: --range START LEN: "
					"two numbers\n");
				return CTGTADM_USAGE;
			}
			i += 2;
		} else if (!strcmp(a, "--hold")) {
			if (!v || !ctgtadm_u64_parse(v, 86400 * 365, &hold)) {
				fprintf(stderr, "ctgtadm: --hold SECONDS\n");
				return CTGTADM_USAGE;
			}
			hold_set = true;
			i++;
		} else if (!strcmp(a, "--timeout")) {
			if (!v || !ctgtadm_u64_parse(v, 86400000, &timeout) ||
			    !timeout) {
				fprintf(stderr, "ctgtadm: --timeout MS (1.."
					"86400000)\n");
				return CTGTADM_USAGE;
			}
			i++;
		} else if (!strcmp(a, "--id")) {
			if (!v || !v[0] || strlen(v) >= sizeof(id)) {
				fprintf(stderr, "ctgtadm: --id LOCK_ID (1..63 "
					"bytes)\n");
				return CTGTADM_USAGE;
			}
			snprintf(id, sizeof(id), "%s", v);
			i++;
		} else if (a[0] == '-' || name) {
			ctgtadm_usage(stderr);
			return CTGTADM_USAGE;
		} else {
			name = a;
		}
	}
	if (!name) {
		ctgtadm_usage(stderr);
		return CTGTADM_USAGE;
	}

	/* A signal while waiting or holding: unlock, then exit. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ctgtadm_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (ctgtadm_connect())
		return CTGTADM_USAGE;
	req = ctgtadm_req("lock");
	json_object_object_add(req, "lock_id", json_object_new_string(id));
	json_object_object_add(req, "name", json_object_new_string(name));
	json_object_object_add(req, "mode", json_object_new_string(
				       shared ? "shared" : "exclusive"));
	json_object_object_add(req, "start",
			       json_object_new_int64((int64_t)start));
	json_object_object_add(req, "len", json_object_new_int64((int64_t)len));
	json_object_object_add(req, "cache", json_object_new_boolean(cache));
	if (timeout)
		json_object_object_add(req, "timeout_ms",
				       json_object_new_int64((int64_t)timeout));
	lid = ctgtadm_send(req);
	if (lid < 0)
		return CTGTADM_USAGE;
	/* Waiting: a signal gives up (closing the connection cancels). */
	for (;;) {
		o = ctgtadm_recv(-1, &t);
		if (!o)
			return t ? CTGTADM_FAILED : CTGTADM_USAGE;
		if (ctgtadm_int(o, "id") == lid)
			break;
		json_object_put(o);
	}
	if (!ctgtadm_ok(o))
		return ctgtadm_failed(o);
	json_object_put(o);
	if (!ctgtadm.json)
		printf("granted %s\n", name);
	fflush(stdout);

	/* Hold: until the time is up, a signal, or ctgtd goes away. */
	deadline = hold_set ? ctgtadm_now_ms() + hold * 1000 : UINT64_MAX;
	while (!ctgtadm_stop) {
		uint64_t now = ctgtadm_now_ms();
		int wait_ms = deadline == UINT64_MAX ? -1 :
			      now >= deadline ? 0 :
			      deadline - now > INT_MAX ? INT_MAX :
			      (int)(deadline - now);

		if (wait_ms == 0)
			break;
		o = ctgtadm_recv(wait_ms, &t);
		if (!o && !t)
			return CTGTADM_USAGE;
		json_object_put(o);
	}
	req = ctgtadm_req("unlock");
	json_object_object_add(req, "lock_id", json_object_new_string(id));
	o = ctgtadm_call(req);
	if (!o)
		return CTGTADM_USAGE;
	status = ctgtadm_ok(o) ? CTGTADM_OK : ctgtadm_failed(o);
	if (status == CTGTADM_OK) {
		json_object_put(o);
		if (!ctgtadm.json)
			printf("released %s\n", name);
	}
	return status;
}

static int ctgtadm_notify(int argc, char **argv)
{
	struct json_object *req, *o;
	uint64_t topic;

	if (argc != 2 || !ctgtadm_u64_parse(argv[0], 65535, &topic)) {
		fprintf(stderr, "ctgtadm: notify TOPIC(0..65535) DATA\n");
		return CTGTADM_USAGE;
	}
	req = ctgtadm_req("notify");
	json_object_object_add(req, "topic",
			       json_object_new_int64((int64_t)topic));
	json_object_object_add(req, "data", json_object_new_string(argv[1]));
	if (ctgtadm_connect())
		return CTGTADM_USAGE;
	o = ctgtadm_call(req);
	if (!o)
		return CTGTADM_USAGE;
	if (!ctgtadm_ok(o))
		return ctgtadm_failed(o);
	if (!ctgtadm.json)
		printf("notify topic %" PRIu64 ": acked by %" PRId64
		       " member(s)\n", topic, ctgtadm_int(o, "acked"));
	json_object_put(o);
	return CTGTADM_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *o;
	const char *cmd;
	int ch;

	/* "+": options end at the command (lock has options of its own) */
	while ((ch = getopt_long(argc, argv, "+S:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			ctgtadm.socket = optarg;
			break;
		case 'j':
			ctgtadm.json = true;
			break;
		case 'h':
			ctgtadm_usage(stdout);
			return CTGTADM_OK;
		default:
			ctgtadm_usage(stderr);
			return CTGTADM_USAGE;
		}
	}
	if (optind >= argc) {
		ctgtadm_usage(stderr);
		return CTGTADM_USAGE;
	}
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	if (!strcmp(cmd, "kv"))
		return ctgtadm_kv(argc, argv);
	if (!strcmp(cmd, "lock"))
		return ctgtadm_lock(argc + 1, argv - 1);
	if (!strcmp(cmd, "notify"))
		return ctgtadm_notify(argc, argv);
	if ((strcmp(cmd, "status") && strcmp(cmd, "view")) || argc) {
		ctgtadm_usage(stderr);
		return CTGTADM_USAGE;
	}
	if (ctgtadm_connect())
		return CTGTADM_USAGE;
	o = ctgtadm_call(ctgtadm_req(cmd));
	if (!o)
		return CTGTADM_USAGE;
	return !strcmp(cmd, "status") ? ctgtadm_status(o) : ctgtadm_view(o);
}
