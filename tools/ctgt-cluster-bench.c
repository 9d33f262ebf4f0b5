/*
 * ctgt-cluster-bench: the cluster service's own benchmark. One process per
 * node, all in one group, using cluster.h only (no corosync type): the
 * figures are what a ctgt user of the service pays, to be set beside the
 * raw CPG figures of shared/bench/cpgping.c (bench/cluster.sh does both).
 *
 *   ctgt-cluster-bench [-g GROUP] [-b corosync|single] [-v] member [--contend]
 *       passive member: applies and acks; with --contend it also takes
 *       part in the contended-lock test. Exits when the runner says stop.
 *   ctgt-cluster-bench [-g GROUP] [-b ...] run -m N [-n SAMPLES] [-w WARMUP]
 *                      [-s BYTES] [-t TEST,...]
 *       waits for N members (itself included) and readiness, then measures
 *       one operation at a time, in this order, and prints one RESULT line
 *       each (median, p99 in microseconds):
 *         commit       cluster_submit of an S-byte (256) payload -> done
 *                      (every member applied it)
 *         lock         uncontended exclusive named lock, no cache:
 *                      acquire -> granted, then release
 *         lock_cached  the same with CLUSTER_LOCK_CACHE: re-take from the
 *                      node's cache (the first take is not counted)
 *         lock_contended  exclusive acquire -> granted while a --contend
 *                      member takes and releases the same lock in a loop
 *         notify       cluster_notify_send -> every handler finished
 *         kv_set       cluster_kv_set of an S-byte value -> done
 *       then tells the members to stop. -t runs only the tests named.
 *
 * Deliberately not here: throughput under concurrency (one operation in
 * flight at a time: latency is what an initiator waits for), and any
 * corosync API (the raw figures come from cpgping).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"

#define BENCH_CH_ID 0x4243        /* "BC": the benchmark's channel */
#define BENCH_TOPIC_STOP 0xbe00
#define BENCH_TOPIC_PING 0xbe01
#define BENCH_TOPIC_CONTEND 0xbe02 /* payload: 1 start, 0 stop */
#define BENCH_LOCK_NAME_CONTENDED "bench-contended"
#define BENCH_KV_CONTENDER "bench/contender"

enum bench_phase {
	BENCH_WAIT = 0,
	BENCH_COMMIT,
	BENCH_LOCK,
	BENCH_LOCK_CACHED,
	BENCH_CONTEND_START,
	BENCH_LOCK_CONTENDED,
	BENCH_CONTEND_STOP,
	BENCH_NOTIFY,
	BENCH_KV_SET,
	BENCH_STOP,
	BENCH_DONE,
};

static const char *const bench_phase_names[] = {
	[BENCH_COMMIT] = "commit",
	[BENCH_LOCK] = "lock",
	[BENCH_LOCK_CACHED] = "lock_cached",
	[BENCH_LOCK_CONTENDED] = "lock_contended",
	[BENCH_NOTIFY] = "notify",
	[BENCH_KV_SET] = "kv_set",
};

struct bench {
	struct base_loop *loop;
	struct cluster *c;
	struct cluster_channel *ch;
	struct cluster_notify_handler h_stop, h_ping, h_contend;
	bool run_mode, contend_opt;
	unsigned tests;           /* bit per phase to run (-t) */
	uint32_t want_members;
	int samples, warmup, size;
	char *payload;

	enum bench_phase phase;
	int i;                    /* sample index in the phase, from -warmup */
	uint64_t t0;
	uint64_t *samp;
	bool have_contender;
	uint64_t applied;         /* channel applies seen (all nodes' submits) */

	struct cluster_lock lk;   /* the runner's lock */
	bool lk_cached_held;      /* lock_cached: first take done */

	/* contender */
	bool contending, contend_stop;
	struct cluster_lock clk;
	struct base_defer contend_kick;
	uint64_t contend_rounds;

	struct base_defer kick;   /* next sample, outside the completion */
	struct base_timer retry;
	struct base_timer exit_timer;
	int status;
};

static struct bench bench_g;

static uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bench_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void bench_report(struct bench *b, const char *what)
{
	int n = b->samples;
	double sum = 0;
	int i;

	qsort(b->samp, (size_t)n, sizeof(b->samp[0]), bench_u64_cmp);
	for (i = 0; i < n; i++)
		sum += (double)b->samp[i];
	printf("RESULT %s size=%d members=%" PRIu32 " n=%d min=%.1fus "
	       "median=%.1fus mean=%.1fus p90=%.1fus p99=%.1fus max=%.1fus\n",
	       what, b->size, cluster_view_get(b->c)->count, n,
	       b->samp[0] / 1e3, b->samp[n / 2] / 1e3, sum / n / 1e3,
	       b->samp[(int)(n * 0.90)] / 1e3, b->samp[(int)(n * 0.99)] / 1e3,
	       b->samp[n - 1] / 1e3);
	fflush(stdout);
}

static void bench_fail(struct bench *b, const char *what, int err)
{
	fprintf(stderr, "ctgt-cluster-bench: %s: %s\n", what, strerror(-err));
	b->status = 1;
	base_loop_stop(b->loop);
}

static void bench_kick(struct bench *b)
{
	base_defer(b->loop, &b->kick);
}

/* One sample ended at now: record it, move on. */
static void bench_sample_done(struct bench *b)
{
	uint64_t dt = bench_now_ns() - b->t0;

	if (b->i >= 0)
		b->samp[b->i] = dt;
	b->i++;
	if (b->i >= b->samples) {
		bench_report(b, bench_phase_names[b->phase]);
		b->phase++;
		b->i = -b->warmup;
	}
	bench_kick(b);
}

/* ------------------------------------------------------------- channel */

static int bench_ch_apply(void *arg, const struct cluster_msg_info *mi,
			  const void *data, size_t len,
			  struct cluster_apply *token)
{
	struct bench *b = arg;

	(void)mi;
	(void)data;
	(void)len;
	(void)token;
	b->applied++;
	return CLUSTER_APPLY_DONE;
}

/* The channel's replicated state: the count of applies (the same on every
 * member at the same point of the order). */
static int bench_ch_save(void *arg, void **data, size_t *len)
{
	struct bench *b = arg;
	uint64_t *p = malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	*p = b->applied;
	*data = p;
	*len = sizeof(*p);
	return 0;
}

static int bench_ch_load(void *arg, const void *data, size_t len)
{
	struct bench *b = arg;

	if (len != sizeof(uint64_t))
		return -EINVAL;
	memcpy(&b->applied, data, sizeof(uint64_t));
	return 0;
}

static void bench_ch_reset(void *arg)
{
	((struct bench *)arg)->applied = 0;
}

static const struct cluster_channel_ops bench_ch_ops = {
	.id = BENCH_CH_ID,
	.name = "bench",
	.apply = bench_ch_apply,
	.save = bench_ch_save,
	.load = bench_ch_load,
	.reset = bench_ch_reset,
};

/* ------------------------------------------------------------ contender */

static void bench_contend_lock_cb(struct cluster_lock *lk, int status);

static void bench_contend_next(struct base_defer *d)
{
	struct bench *b = container_of(d, struct bench, contend_kick);
	int err;

	if (!b->contending || b->contend_stop) {
		b->contending = false;
		return;
	}
	memset(&b->clk, 0, sizeof(b->clk));
	snprintf(b->clk.name, sizeof(b->clk.name), "%s", BENCH_LOCK_NAME_CONTENDED);
	b->clk.mode = CLUSTER_LOCK_EXCLUSIVE;
	b->clk.cb = bench_contend_lock_cb;
	b->clk.ctx = b;
	err = cluster_lock_acquire(b->c, &b->clk);
	if (err < 0) {
		LOG_WARN("bench contender: acquire: %s", strerror(-err));
		b->contending = false;
	}
}

static void bench_contend_lock_cb(struct cluster_lock *lk, int status)
{
	struct bench *b = lk->ctx;

	if (status != 0) {
		LOG_WARN("bench contender: lock: %s", strerror(-status));
		b->contending = false;
		return;
	}
	cluster_lock_release(b->c, lk);
	b->contend_rounds++;
	base_defer(b->loop, &b->contend_kick);
}

/* -------------------------------------------------------------- notify */

static void bench_exit_timer_cb(struct base_timer *t)
{
	struct bench *b = container_of(t, struct bench, exit_timer);

	base_loop_stop(b->loop);
}

static int bench_on_stop(struct cluster_notify_handler *h,
			 const struct cluster_msg_info *mi, const void *data,
			 size_t len, struct cluster_apply *token)
{
	struct bench *b = container_of(h, struct bench, h_stop);

	(void)mi;
	(void)data;
	(void)len;
	(void)token;
	if (!b->run_mode) {
		/* leave a moment for our ack to go out */
		printf("member: stop (contended rounds %" PRIu64 ")\n",
		       b->contend_rounds);
		fflush(stdout);
		base_timer_start(b->loop, &b->exit_timer, 200);
	}
	return CLUSTER_APPLY_DONE;
}

static int bench_on_ping(struct cluster_notify_handler *h,
			 const struct cluster_msg_info *mi, const void *data,
			 size_t len, struct cluster_apply *token)
{
	(void)h;
	(void)mi;
	(void)data;
	(void)len;
	(void)token;
	return CLUSTER_APPLY_DONE;
}

static int bench_on_contend(struct cluster_notify_handler *h,
			    const struct cluster_msg_info *mi,
			    const void *data, size_t len,
			    struct cluster_apply *token)
{
	struct bench *b = container_of(h, struct bench, h_contend);
	uint8_t on = len > 0 ? ((const uint8_t *)data)[0] : 0;

	(void)mi;
	(void)token;
	if (b->run_mode || !b->contend_opt)
		return CLUSTER_APPLY_DONE;
	if (on && !b->contending) {
		b->contending = true;
		b->contend_stop = false;
		base_defer(b->loop, &b->contend_kick);
	} else if (!on) {
		b->contend_stop = true;
	}
	return CLUSTER_APPLY_DONE;
}

/* -------------------------------------------------------------- runner */

static void bench_commit_done(void *ctx, int status)
{
	struct bench *b = ctx;

	if (status != 0)
		return bench_fail(b, "commit", status);
	bench_sample_done(b);
}

static void bench_kv_done(void *ctx, int status, uint64_t version)
{
	struct bench *b = ctx;

	(void)version;
	if (status != 0)
		return bench_fail(b, "kv_set", status);
	bench_sample_done(b);
}

static void bench_lock_cb(struct cluster_lock *lk, int status)
{
	struct bench *b = lk->ctx;

	if (status != 0)
		return bench_fail(b, "lock", status);
	if (b->phase == BENCH_LOCK_CACHED && !b->lk_cached_held) {
		/* the first take goes through the cluster: not a sample */
		b->lk_cached_held = true;
		cluster_lock_release(b->c, lk);
		bench_kick(b);
		return;
	}
	cluster_lock_release(b->c, lk);
	bench_sample_done(b);
}

static void bench_ctl_done(void *ctx, int status)
{
	struct bench *b = ctx;

	if (status != 0)
		return bench_fail(b, "notify (control)", status);
	b->phase++;
	b->i = -b->warmup;
	bench_kick(b);
}

static void bench_stop_done(void *ctx, int status)
{
	struct bench *b = ctx;

	(void)status;
	b->phase = BENCH_DONE;
	base_loop_stop(b->loop);
}

static void bench_ping_done(void *ctx, int status)
{
	struct bench *b = ctx;

	if (status != 0)
		return bench_fail(b, "notify", status);
	bench_sample_done(b);
}

static void bench_lock_start(struct bench *b, const char *name,
			     unsigned flags)
{
	int err;

	memset(&b->lk, 0, sizeof(b->lk));
	snprintf(b->lk.name, sizeof(b->lk.name), "%s", name);
	b->lk.mode = CLUSTER_LOCK_EXCLUSIVE;
	b->lk.flags = flags;
	b->lk.cb = bench_lock_cb;
	b->lk.ctx = b;
	b->t0 = bench_now_ns();
	err = cluster_lock_acquire(b->c, &b->lk);
	if (err == -EAGAIN) {
		base_timer_start(b->loop, &b->retry, 10);
		return;
	}
	if (err < 0)
		bench_fail(b, "cluster_lock_acquire", err);
}

/* Whether the current phase was asked for (-t); the contention switches
 * go with lock_contended. */
static bool bench_phase_wanted(const struct bench *b, enum bench_phase p)
{
	if (p == BENCH_CONTEND_START || p == BENCH_CONTEND_STOP)
		p = BENCH_LOCK_CONTENDED;
	if (p == BENCH_WAIT || p >= BENCH_STOP)
		return true;
	return (b->tests & (1u << p)) != 0;
}

/* Starts the next sample of the current phase. */
static void bench_step(struct bench *b)
{
	const struct cluster_view *v = cluster_view_get(b->c);
	char name[CLUSTER_LOCK_NAME_MAX + 1];
	uint8_t on;
	int err = 0;

	while (!bench_phase_wanted(b, b->phase))
		b->phase++;
	switch (b->phase) {
	case BENCH_WAIT:
		if (!cluster_is_ready(b->c) || v->count < b->want_members)
			return; /* the ready/view events kick again */
		b->have_contender = cluster_kv_get(b->c, BENCH_KV_CONTENDER,
			&(const void *){ NULL }, &(size_t){ 0 },
			&(uint64_t){ 0 }) == 0;
		printf("run: %" PRIu32 " members ready, contender: %s\n",
		       v->count, b->have_contender ? "yes" : "no");
		fflush(stdout);
		b->phase = BENCH_COMMIT;
		b->i = -b->warmup;
		bench_kick(b);
		return;
	case BENCH_COMMIT:
		b->t0 = bench_now_ns();
		err = cluster_submit(b->ch, b->payload, (size_t)b->size,
				     bench_commit_done, b);
		break;
	case BENCH_LOCK:
		snprintf(name, sizeof(name), "bench-u-%" PRIu32,
			 cluster_local_id(b->c));
		bench_lock_start(b, name, 0);
		return;
	case BENCH_LOCK_CACHED:
		snprintf(name, sizeof(name), "bench-c-%" PRIu32,
			 cluster_local_id(b->c));
		bench_lock_start(b, name, CLUSTER_LOCK_CACHE);
		return;
	case BENCH_CONTEND_START:
	case BENCH_CONTEND_STOP:
		if (!b->have_contender) {
			b->phase = b->phase == BENCH_CONTEND_START ?
				   BENCH_CONTEND_STOP : BENCH_NOTIFY;
			if (b->phase == BENCH_CONTEND_STOP)
				printf("RESULT lock_contended skipped (no "
				       "member --contend)\n");
			bench_kick(b);
			return;
		}
		on = b->phase == BENCH_CONTEND_START;
		err = cluster_notify_send(b->c, BENCH_TOPIC_CONTEND, &on, 1,
					  bench_ctl_done, b);
		break;
	case BENCH_LOCK_CONTENDED:
		bench_lock_start(b, BENCH_LOCK_NAME_CONTENDED, 0);
		return;
	case BENCH_NOTIFY:
		b->t0 = bench_now_ns();
		err = cluster_notify_send(b->c, BENCH_TOPIC_PING, b->payload,
					  (size_t)b->size, bench_ping_done, b);
		break;
	case BENCH_KV_SET:
		b->t0 = bench_now_ns();
		err = cluster_kv_set(b->c, "bench/kv", b->payload,
				     (size_t)b->size, bench_kv_done, b);
		break;
	case BENCH_STOP:
		err = cluster_notify_send(b->c, BENCH_TOPIC_STOP, NULL, 0,
					  bench_stop_done, b);
		break;
	case BENCH_DONE:
		return;
	}
	if (err == -EAGAIN) {
		base_timer_start(b->loop, &b->retry, 10);
		return;
	}
	if (err < 0)
		bench_fail(b, "submit", err);
}

static void bench_kick_cb(struct base_defer *d)
{
	struct bench *b = container_of(d, struct bench, kick);

	if (b->run_mode)
		bench_step(b);
}

static void bench_retry_cb(struct base_timer *t)
{
	struct bench *b = container_of(t, struct bench, retry);

	bench_kick(b);
}

/* --------------------------------------------------------------- events */

static void bench_contender_announce_done(void *ctx, int status,
					  uint64_t version)
{
	(void)ctx;
	(void)version;
	if (status != 0)
		LOG_WARN("bench: contender announce: %s", strerror(-status));
}

static void bench_on_view(void *arg, const struct cluster_view *v,
			  const uint32_t *left, uint32_t nleft,
			  const uint32_t *joined, uint32_t njoined)
{
	struct bench *b = arg;
	uint32_t i;

	(void)left;
	(void)joined;
	printf("view: %" PRIu32 " member(s)%s:", v->count,
	       v->quorate ? ", quorate" : "");
	for (i = 0; i < v->count; i++)
		printf(" %" PRIu32 "%s%s", v->members[i].id,
		       v->members[i].name[0] ? "/" : "", v->members[i].name);
	printf(" (left %" PRIu32 ", joined %" PRIu32 ")\n", nleft, njoined);
	fflush(stdout);
	if (b->run_mode && b->phase == BENCH_WAIT)
		bench_kick(b);
	if (b->run_mode && b->phase != BENCH_WAIT && b->phase != BENCH_DONE &&
	    v->count < b->want_members)
		fprintf(stderr, "ctgt-cluster-bench: a member left during "
			"the run; figures may be off\n");
}

static void bench_on_ready(void *arg, bool ready)
{
	struct bench *b = arg;
	char id[16];
	int err;

	printf("ready: %s\n", ready ? "yes" : "no");
	fflush(stdout);
	if (ready && b->contend_opt) {
		snprintf(id, sizeof(id), "%" PRIu32, cluster_local_id(b->c));
		err = cluster_kv_set(b->c, BENCH_KV_CONTENDER, id,
				     strlen(id) + 1,
				     bench_contender_announce_done, b);
		if (err < 0)
			LOG_WARN("bench: contender announce: %s",
				 strerror(-err));
	}
	if (b->run_mode && b->phase == BENCH_WAIT)
		bench_kick(b);
}

static unsigned bench_tests_parse(const char *list)
{
	char *dup = strdup(list), *tok, *save = NULL;
	unsigned mask = 0;
	size_t p;

	if (!dup)
		return 0;
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (p = 0; p < ARRAY_SIZE(bench_phase_names); p++)
			if (bench_phase_names[p] &&
			    !strcmp(tok, bench_phase_names[p]))
				break;
		if (p == ARRAY_SIZE(bench_phase_names)) {
			free(dup);
			return 0;
		}
		mask |= 1u << p;
	}
	free(dup);
	return mask;
}

static void bench_usage(void)
{
	fprintf(stderr,
		"usage: ctgt-cluster-bench [-g GROUP] [-b corosync|single] "
		"[-v] member [--contend]\n"
		"       ctgt-cluster-bench [-g GROUP] [-b corosync|single] "
		"[-v] run -m N [-n SAMPLES] [-w WARMUP] [-s BYTES] "
		"[-t TEST,...]\n"
		"tests: commit lock lock_cached lock_contended notify kv_set "
		"(default: all, in this order)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "contend", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench *b = &bench_g;
	struct cluster_config cfg = {
		.backend = CLUSTER_BACKEND_COROSYNC,
		.group = "ctgt-bench",
	};
	struct cluster_events ev = {
		.view = bench_on_view,
		.ready = bench_on_ready,
		.arg = b,
	};
	const char *mode;
	int opt, err;

	b->samples = 2000;
	b->warmup = 100;
	b->size = 256;
	b->want_members = 1;
	b->tests = ~0u;
	log_set_level(LOG_LVL_INFO);
	while ((opt = getopt_long(argc, argv, "+g:b:vm:n:w:s:", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'g': cfg.group = optarg; break;
		case 'b':
			if (!strcmp(optarg, "single"))
				cfg.backend = CLUSTER_BACKEND_SINGLE;
			else if (!strcmp(optarg, "corosync"))
				cfg.backend = CLUSTER_BACKEND_COROSYNC;
			else
				bench_usage();
			break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'm': b->want_members = (uint32_t)atoi(optarg); break;
		case 'n': b->samples = atoi(optarg); break;
		case 'w': b->warmup = atoi(optarg); break;
		case 's': b->size = atoi(optarg); break;
		case 'C': b->contend_opt = true; break;
		default: bench_usage();
		}
	}
	if (optind >= argc)
		bench_usage();
	mode = argv[optind++];
	/* options after the mode word too (member --contend, run -m 3) */
	while ((opt = getopt_long(argc, argv, "m:n:w:s:t:", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 't':
			b->tests = bench_tests_parse(optarg);
			if (!b->tests)
				bench_usage();
			break;
		case 'm': b->want_members = (uint32_t)atoi(optarg); break;
		case 'n': b->samples = atoi(optarg); break;
		case 'w': b->warmup = atoi(optarg); break;
		case 's': b->size = atoi(optarg); break;
		case 'C': b->contend_opt = true; break;
		default: bench_usage();
		}
	}
	if (!strcmp(mode, "run"))
		b->run_mode = true;
	else if (strcmp(mode, "member"))
		bench_usage();
	if (b->samples < 1 || b->warmup < 0 || b->size < 1 ||
	    (unsigned)b->size > CLUSTER_KV_VALUE_MAX)
		bench_usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	b->samp = calloc((size_t)b->samples, sizeof(uint64_t));
	b->payload = calloc(1, (size_t)b->size);
	if (!b->samp || !b->payload)
		return 1;
	memset(b->payload, 0x5a, (size_t)b->size);
	base_defer_init(&b->kick, bench_kick_cb);
	base_defer_init(&b->contend_kick, bench_contend_next);
	base_timer_init(&b->retry, bench_retry_cb);
	base_timer_init(&b->exit_timer, bench_exit_timer_cb);

	err = base_loop_create(&b->loop);
	if (err < 0) {
		fprintf(stderr, "base_loop_create: %s\n", strerror(-err));
		return 1;
	}
	err = cluster_open(b->loop, &cfg, &ev, &b->c);
	if (err < 0) {
		fprintf(stderr, "cluster_open: %s\n", strerror(-err));
		return 1;
	}
	err = cluster_channel_open(b->c, &bench_ch_ops, b, &b->ch);
	if (err < 0) {
		fprintf(stderr, "cluster_channel_open: %s\n", strerror(-err));
		return 1;
	}
	b->h_stop.topic = BENCH_TOPIC_STOP;
	b->h_stop.cb = bench_on_stop;
	b->h_ping.topic = BENCH_TOPIC_PING;
	b->h_ping.cb = bench_on_ping;
	b->h_contend.topic = BENCH_TOPIC_CONTEND;
	b->h_contend.cb = bench_on_contend;
	cluster_notify_register(b->c, &b->h_stop);
	cluster_notify_register(b->c, &b->h_ping);
	cluster_notify_register(b->c, &b->h_contend);

	base_loop_run(b->loop);

	base_timer_stop(b->loop, &b->retry);
	base_timer_stop(b->loop, &b->exit_timer);
	cluster_notify_unregister(b->c, &b->h_stop);
	cluster_notify_unregister(b->c, &b->h_ping);
	cluster_notify_unregister(b->c, &b->h_contend);
	cluster_close(b->c);
	base_loop_destroy(b->loop);
	free(b->samp);
	free(b->payload);
	return b->status;
}
