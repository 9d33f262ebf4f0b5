/*
 * bus_smoke: the cluster service on real corosync, by hand or from a
 * harness script. Opens the service (cluster_open, backend corosync by
 * default) in the node's namespaces, prints every view and readiness
 * change, submits COMMITS small messages one at a time on its own channel
 * and prints every apply (index, sender, text), then prints a checksum of
 * the whole replicated state so runs on several nodes can be compared
 * line by line.
 *
 *   scripts/cluster.sh spawn 1 smoke -- build/tests/integration/cluster/bus_smoke -n 0
 *   scripts/cluster.sh exec 2 -- build/tests/integration/cluster/bus_smoke -m 3 -n 100
 *
 *   -g GROUP    CPG group (default "ctgt-smoke")
 *   -b single   the in-process backend instead (no corosync needed)
 *   -m N        wait for N members and readiness before submitting
 *   -n COMMITS  submit this many, then print the state and exit (default
 *               10); 0: submit nothing, run until SIGINT/SIGTERM
 *   -i MS       pause between submits (default 0)
 *   -q          do not print every apply
 *
 * A commit that completes with -EAGAIN (a view change came first: no
 * member applied it) is submitted again. Exit status: 0 when every commit
 * completed with 0; 1 otherwise (the failing status is printed). Deliberately not a test with assertions:
 * the harness scripts compare the printed views and state checksums.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"

#define BUS_SMOKE_CH_ID 0x534d /* "SM" */

struct bus_smoke {
	struct base_loop *loop;
	struct cluster *c;
	struct cluster_channel *ch;
	uint32_t want_members;
	int commits, sent, done, interval_ms;
	bool quiet, started;
	uint64_t applied;
	uint32_t digest;              /* crc32c over every applied message */
	struct base_timer next;
	struct base_timer sig_poll;
	int status;
};

static volatile sig_atomic_t bus_smoke_signalled;

static void bus_smoke_on_signal(int sig)
{
	(void)sig;
	bus_smoke_signalled = 1;
}

static void bus_smoke_state_print(struct bus_smoke *s)
{
	void *data = NULL;
	size_t len = 0;
	int err = cluster_state_save(s->c, &data, &len);

	if (err < 0) {
		printf("state: error %s\n", strerror(-err));
		return;
	}
	printf("state: %zu bytes crc32c %08" PRIx32 " applied %" PRIu64
	       " digest %08" PRIx32 "\n", len, crc32c(0, data, len),
	       s->applied, s->digest);
	free(data);
}

static int bus_smoke_apply(void *arg, const struct cluster_msg_info *mi,
			   const void *data, size_t len,
			   struct cluster_apply *token)
{
	struct bus_smoke *s = arg;

	(void)token;
	s->applied++;
	s->digest = crc32c(s->digest, data, len);
	if (!s->quiet)
		printf("apply: index %" PRIu64 " from %" PRIu32 "%s: %.*s\n",
		       mi->index, mi->from, mi->local_ctx ? " (mine)" : "",
		       (int)len, (const char *)data);
	return CLUSTER_APPLY_DONE;
}

static int bus_smoke_save(void *arg, void **data, size_t *len)
{
	struct bus_smoke *s = arg;
	uint8_t *p = malloc(12);

	if (!p)
		return -ENOMEM;
	memcpy(p, &s->applied, 8);
	memcpy(p + 8, &s->digest, 4);
	*data = p;
	*len = 12;
	return 0;
}

static int bus_smoke_load(void *arg, const void *data, size_t len)
{
	struct bus_smoke *s = arg;

	if (len != 12)
		return -EINVAL;
	memcpy(&s->applied, data, 8);
	memcpy(&s->digest, (const uint8_t *)data + 8, 4);
	return 0;
}

static void bus_smoke_reset(void *arg)
{
	struct bus_smoke *s = arg;

	s->applied = 0;
	s->digest = 0;
}

static const struct cluster_channel_ops bus_smoke_ch_ops = {
	.id = BUS_SMOKE_CH_ID,
	.name = "smoke",
	.apply = bus_smoke_apply,
	.save = bus_smoke_save,
	.load = bus_smoke_load,
	.reset = bus_smoke_reset,
};

static void bus_smoke_submit_next(struct bus_smoke *s);

static void bus_smoke_done(void *ctx, int status)
{
	struct bus_smoke *s = ctx;

	if (status == -EAGAIN) {
		/* Not applied anywhere (the view changed before it was
		 * committed): the same commit again, later in the order. */
		printf("commit %d: not committed (view change), again\n",
		       s->done + 1);
		s->sent--;
		base_timer_start(s->loop, &s->next, 50);
		return;
	}
	s->done++;
	if (status != 0) {
		printf("commit %d: %s\n", s->done, strerror(-status));
		s->status = 1;
	}
	if (s->done >= s->commits) {
		bus_smoke_state_print(s);
		base_loop_stop(s->loop);
		return;
	}
	base_timer_start(s->loop, &s->next, (uint64_t)s->interval_ms);
}

static void bus_smoke_submit_next(struct bus_smoke *s)
{
	char msg[64];
	int n, err;

	n = snprintf(msg, sizeof(msg), "node %" PRIu32 " commit %d",
		     cluster_local_id(s->c), s->sent + 1);
	err = cluster_submit(s->ch, msg, (size_t)n, bus_smoke_done, s);
	if (err == -EAGAIN) {
		base_timer_start(s->loop, &s->next, 50);
		return;
	}
	if (err < 0) {
		printf("submit: %s\n", strerror(-err));
		s->status = 1;
		base_loop_stop(s->loop);
		return;
	}
	s->sent++;
}

static void bus_smoke_next_cb(struct base_timer *t)
{
	struct bus_smoke *s = container_of(t, struct bus_smoke, next);

	bus_smoke_submit_next(s);
}

static void bus_smoke_maybe_start(struct bus_smoke *s)
{
	if (s->started || s->commits == 0 || !cluster_is_ready(s->c) ||
	    cluster_view_get(s->c)->count < s->want_members)
		return;
	s->started = true;
	base_timer_start(s->loop, &s->next, 0);
}

static void bus_smoke_on_view(void *arg, const struct cluster_view *v,
			      const uint32_t *left, uint32_t nleft,
			      const uint32_t *joined, uint32_t njoined)
{
	struct bus_smoke *s = arg;
	uint32_t i;

	printf("view: id %016" PRIx64 " local %" PRIu32 " %s, %" PRIu32
	       " member(s):", v->ring_id, v->local_id,
	       v->quorate ? "quorate" : "NOT quorate", v->count);
	for (i = 0; i < v->count; i++)
		printf(" %" PRIu32 "%s%s", v->members[i].id,
		       v->members[i].name[0] ? "/" : "", v->members[i].name);
	printf(" left [");
	for (i = 0; i < nleft; i++)
		printf("%s%" PRIu32, i ? " " : "", left[i]);
	printf("] joined [");
	for (i = 0; i < njoined; i++)
		printf("%s%" PRIu32, i ? " " : "", joined[i]);
	printf("]\n");
	bus_smoke_maybe_start(s);
}

static void bus_smoke_on_ready(void *arg, bool ready)
{
	struct bus_smoke *s = arg;

	printf("ready: %s\n", ready ? "yes" : "no");
	if (ready && !s->quiet)
		bus_smoke_state_print(s);
	bus_smoke_maybe_start(s);
}

static void bus_smoke_sig_poll_cb(struct base_timer *t)
{
	struct bus_smoke *s = container_of(t, struct bus_smoke, sig_poll);

	if (bus_smoke_signalled) {
		bus_smoke_state_print(s);
		base_loop_stop(s->loop);
		return;
	}
	base_timer_start(s->loop, t, 100);
}

int main(int argc, char **argv)
{
	static struct bus_smoke s;
	struct cluster_config cfg = {
		.backend = CLUSTER_BACKEND_COROSYNC,
		.group = "ctgt-smoke",
	};
	struct cluster_events ev = {
		.view = bus_smoke_on_view,
		.ready = bus_smoke_on_ready,
		.arg = &s,
	};
	int opt, err;

	s.commits = 10;
	s.want_members = 1;
	while ((opt = getopt(argc, argv, "g:b:m:n:i:qv")) != -1) {
		switch (opt) {
		case 'g': cfg.group = optarg; break;
		case 'b':
			cfg.backend = strcmp(optarg, "single") ?
				      CLUSTER_BACKEND_COROSYNC :
				      CLUSTER_BACKEND_SINGLE;
			break;
		case 'm': s.want_members = (uint32_t)atoi(optarg); break;
		case 'n': s.commits = atoi(optarg); break;
		case 'i': s.interval_ms = atoi(optarg); break;
		case 'q': s.quiet = true; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		default:
			fprintf(stderr, "usage: bus_smoke [-g GROUP] [-b single] "
				"[-m N] [-n COMMITS] [-i MS] [-q] [-v]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, bus_smoke_on_signal);
	signal(SIGTERM, bus_smoke_on_signal);
	base_timer_init(&s.next, bus_smoke_next_cb);
	base_timer_init(&s.sig_poll, bus_smoke_sig_poll_cb);

	err = base_loop_create(&s.loop);
	if (err < 0) {
		fprintf(stderr, "base_loop_create: %s\n", strerror(-err));
		return 1;
	}
	err = cluster_open(s.loop, &cfg, &ev, &s.c);
	if (err < 0) {
		fprintf(stderr, "cluster_open: %s\n", strerror(-err));
		return 1;
	}
	err = cluster_channel_open(s.c, &bus_smoke_ch_ops, &s, &s.ch);
	if (err < 0) {
		fprintf(stderr, "cluster_channel_open: %s\n", strerror(-err));
		return 1;
	}
	base_timer_start(s.loop, &s.sig_poll, 100);
	base_loop_run(s.loop);
	base_timer_stop(s.loop, &s.next);
	base_timer_stop(s.loop, &s.sig_poll);
	cluster_close(s.c);
	base_loop_destroy(s.loop);
	return s.status;
}
