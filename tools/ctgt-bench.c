/*
 * ctgt-bench: a load generator for one iSCSI LUN, on libiscsi's async API.
 *
 * Its one job: keep exactly --qd READ(16) or WRITE(16) commands of --bs
 * bytes in flight on each of --sessions sessions (default 1) to one LUN for
 * --seconds, then print one line of figures (IOPS, MB/s with MB = 10^6
 * bytes, mean/p50/p99 latency in microseconds), or one JSON object with
 * --json. Offsets come from READ CAPACITY(16), so no command ever leaves
 * the LUN. Every failed command is reported on stderr and counted; the exit
 * status is 1 if any failed.
 *
 * Latency is measured from the call that queues the command in libiscsi to
 * its completion callback, so it includes libiscsi's own queueing. The
 * percentiles come from a log-linear histogram (under 1% error), which
 * keeps memory bounded whatever the duration.
 *
 * Deliberately not here: data verification, several LUNs or connections
 * per session, mixed read/write workloads, and CPU pinning (the caller
 * uses taskset). All sessions share one thread and one poll loop.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define BENCH_INITIATOR_DEFAULT "iqn.2026-11.org.ctgt:bench-initiator"
#define BENCH_QD_MAX 1024
#define BENCH_SESSIONS_MAX 64
#define BENCH_BS_MAX (64u * 1024 * 1024)
#define BENCH_SECONDS_MAX 3600.0
#define BENCH_ERRORS_PRINTED 20	/* first N failures in full, then a count */
#define BENCH_POLL_MS 100	/* also the pace of libiscsi's timeout checks */

/* Log-linear histogram: 2^BENCH_HIST_SUB_BITS linear buckets per power of 2. */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS (BENCH_HIST_SUB * (64 - BENCH_HIST_SUB_BITS + 1))

enum bench_rw {
	BENCH_RW_RANDREAD,
	BENCH_RW_RANDWRITE,
	BENCH_RW_READ,
	BENCH_RW_WRITE,
};

static const char *const bench_rw_names[] = {
	[BENCH_RW_RANDREAD] = "randread",
	[BENCH_RW_RANDWRITE] = "randwrite",
	[BENCH_RW_READ] = "read",
	[BENCH_RW_WRITE] = "write",
};

struct bench_opts {
	const char *url;
	const char *initiator;
	enum bench_rw rw;
	uint32_t bs;
	int qd;			/* per session */
	int sessions;
	double seconds;
	int timeout_s;
	uint64_t seed;
	bool json;
	bool one_pass;		/* sequential: stop after one pass over the LUN */
};

struct bench_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t buckets[BENCH_HIST_BUCKETS];
};

struct bench;

/* One logged-in session (one TCP connection), its own libiscsi context. */
struct bench_sess {
	struct iscsi_context *iscsi;
	int outstanding;
};

/* One queue slot: one command in flight at a time, with its own buffer. */
struct bench_slot {
	struct bench *b;
	struct bench_sess *sess;
	unsigned char *buf;
	struct scsi_iovec iov;
	uint64_t lba;
	uint64_t start_ns;
	bool busy;
};

struct bench {
	const struct bench_opts *o;
	struct bench_sess *sess;	/* o->sessions of them */
	int nslots;			/* o->sessions * o->qd */
	int lun;
	uint32_t block_size;
	uint64_t num_blocks;
	uint32_t io_blocks;	/* blocks per command */
	uint64_t io_slots;	/* bs-aligned positions that fit in the LUN */
	uint64_t next_seq;	/* next position for sequential workloads */
	uint64_t rng;
	struct bench_slot *slots;
	int outstanding;
	bool stopping;		/* no new commands: time is up or we failed */
	bool closing;		/* context teardown: completions are not counted */
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t ios;
	uint64_t bytes;
	uint64_t errors;
	struct bench_hist hist;
};

static volatile sig_atomic_t bench_signalled;

static void bench_signal_handle(int sig)
{
	(void)sig;
	bench_signalled = 1;
}

static uint64_t bench_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and good enough to spread offsets over a LUN. */
static uint64_t bench_rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned bench_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - BENCH_HIST_SUB_BITS;
	/* (v >> shift) lies in [SUB, 2*SUB) */
	return BENCH_HIST_SUB * (shift + 1) + (unsigned)((v >> shift) - BENCH_HIST_SUB);
}

/* The middle of a bucket's value range: what a percentile reports. */
static double bench_hist_value(unsigned idx)
{
	unsigned shift;
	uint64_t lo;

	if (idx < BENCH_HIST_SUB)
		return idx;
	shift = idx / BENCH_HIST_SUB - 1;
	lo = ((uint64_t)(idx % BENCH_HIST_SUB) + BENCH_HIST_SUB) << shift;
	return (double)lo + ((double)((uint64_t)1 << shift) - 1.0) / 2.0;
}

static void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	if (h->count == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	h->sum_ns += ns;
	h->buckets[bench_hist_index(ns)]++;
}

/* Nearest-rank percentile, in nanoseconds; clamped to the observed range. */
static double bench_hist_percentile(const struct bench_hist *h, double pct)
{
	uint64_t rank, seen = 0;
	double v;
	unsigned i;

	if (h->count == 0)
		return 0.0;
	rank = (uint64_t)(pct / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	v = bench_hist_value(i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1);
	if (v < (double)h->min_ns)
		v = (double)h->min_ns;
	if (v > (double)h->max_ns)
		v = (double)h->max_ns;
	return v;
}

static bool bench_rw_is_read(enum bench_rw rw)
{
	return rw == BENCH_RW_RANDREAD || rw == BENCH_RW_READ;
}

static bool bench_rw_is_random(enum bench_rw rw)
{
	return rw == BENCH_RW_RANDREAD || rw == BENCH_RW_RANDWRITE;
}

/* The next command's LBA; false when a --one-pass run has covered the LUN. */
static bool bench_lba_next(struct bench *b, uint64_t *lba)
{
	uint64_t pos;

	if (bench_rw_is_random(b->o->rw)) {
		pos = bench_rng_next(&b->rng) % b->io_slots;
	} else {
		if (b->o->one_pass && b->next_seq == b->io_slots)
			return false;
		pos = b->next_seq++;
		if (b->next_seq == b->io_slots && !b->o->one_pass)
			b->next_seq = 0;
	}
	*lba = pos * b->io_blocks;
	return true;
}

static const char *bench_status_str(int status)
{
	switch (status) {
	case SCSI_STATUS_GOOD: return "GOOD";
	case SCSI_STATUS_CHECK_CONDITION: return "CHECK CONDITION";
	case SCSI_STATUS_BUSY: return "BUSY";
	case SCSI_STATUS_RESERVATION_CONFLICT: return "RESERVATION CONFLICT";
	case SCSI_STATUS_TASK_SET_FULL: return "TASK SET FULL";
	case SCSI_STATUS_CANCELLED: return "cancelled";
	case SCSI_STATUS_ERROR: return "transport error";
	case SCSI_STATUS_TIMEOUT: return "timed out";
	default: return "unknown status";
	}
}

static void bench_error_report(struct bench *b, const struct bench_slot *s,
			       int status, struct scsi_task *task)
{
	const char *op = bench_rw_is_read(b->o->rw) ? "READ(16)" : "WRITE(16)";

	b->errors++;
	if (b->errors > BENCH_ERRORS_PRINTED) {
		if (b->errors == BENCH_ERRORS_PRINTED + 1)
			fprintf(stderr, "ctgt-bench: further failures are counted, not printed\n");
		return;
	}
	if (status == SCSI_STATUS_CHECK_CONDITION && task) {
		fprintf(stderr,
			"ctgt-bench: %s lba %" PRIu64 " blocks %" PRIu32
			" failed: CHECK CONDITION, %s (0x%x), asc/ascq 0x%04x %s\n",
			op, s->lba, b->io_blocks,
			scsi_sense_key_str(task->sense.key), task->sense.key,
			task->sense.ascq, scsi_sense_ascq_str(task->sense.ascq));
	} else if (status == SCSI_STATUS_GOOD && task) {
		fprintf(stderr,
			"ctgt-bench: %s lba %" PRIu64 " blocks %" PRIu32
			" failed: residual %s of %zu bytes\n",
			op, s->lba, b->io_blocks,
			task->residual_status == SCSI_RESIDUAL_UNDERFLOW ?
				"underflow" : "overflow",
			(size_t)task->residual);
	} else {
		fprintf(stderr,
			"ctgt-bench: %s lba %" PRIu64 " blocks %" PRIu32
			" failed: %s (0x%x): %s\n",
			op, s->lba, b->io_blocks, bench_status_str(status),
			(unsigned)status, iscsi_get_error(s->sess->iscsi));
	}
}

static int bench_slot_submit(struct bench_slot *s);

static void bench_slot_done(struct iscsi_context *iscsi, int status,
			    void *command_data, void *private_data)
{
	struct bench_slot *s = private_data;
	struct bench *b = s->b;
	struct scsi_task *task = command_data;
	uint64_t now = bench_clock_now_ns();

	(void)iscsi;
	s->busy = false;
	b->outstanding--;
	s->sess->outstanding--;
	if (b->closing) {
		/* Already counted as failed when the run was cut short. */
		if (task)
			scsi_free_scsi_task(task);
		return;
	}
	b->end_ns = now;
	if (status == SCSI_STATUS_GOOD && task &&
	    task->residual_status == SCSI_RESIDUAL_NO_RESIDUAL) {
		bench_hist_add(&b->hist, now - s->start_ns);
		b->ios++;
		b->bytes += b->o->bs;
	} else {
		bench_error_report(b, s, status, task);
		/*
		 * Not a SCSI status: the command never got an answer (timeout,
		 * lost connection). Issuing more would only pile up failures
		 * that say the same thing.
		 */
		if (status >= SCSI_STATUS_CANCELLED)
			b->stopping = true;
	}
	if (task)
		scsi_free_scsi_task(task);
	if (!b->stopping)
		bench_slot_submit(s);
}

/* Queues the slot's next command; on failure to queue, counts it and stops. */
static int bench_slot_submit(struct bench_slot *s)
{
	struct bench *b = s->b;
	struct scsi_task *task;

	if (!bench_lba_next(b, &s->lba)) {
		b->stopping = true;
		return 0;
	}
	s->iov.iov_base = s->buf;
	s->iov.iov_len = b->o->bs;
	s->start_ns = bench_clock_now_ns();
	if (bench_rw_is_read(b->o->rw))
		task = iscsi_read16_iov_task(s->sess->iscsi, b->lun, s->lba, b->o->bs,
					     (int)b->block_size, 0, 0, 0, 0, 0,
					     bench_slot_done, s, &s->iov, 1);
	else
		task = iscsi_write16_iov_task(s->sess->iscsi, b->lun, s->lba, NULL,
					      b->o->bs, (int)b->block_size,
					      0, 0, 0, 0, 0,
					      bench_slot_done, s, &s->iov, 1);
	if (!task) {
		bench_error_report(b, s, SCSI_STATUS_ERROR, NULL);
		b->stopping = true;
		return -1;
	}
	s->busy = true;
	b->outstanding++;
	s->sess->outstanding++;
	return 0;
}

static int bench_size_parse(const char *arg, uint32_t *out)
{
	char *end;
	unsigned long long v;
	unsigned long long mult = 1;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'i' || *end == 'b' || *end == 'B')	/* 4KiB, 4kB, 4K */
		end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
	if (*end != '\0' || v == 0 || v > BENCH_BS_MAX / mult)
		return -1;
	*out = (uint32_t)(v * mult);
	return 0;
}

static void bench_usage_print(FILE *f)
{
	fprintf(f,
		"usage: ctgt-bench [options] iscsi://<host>[:<port>]/<target-iqn>/<lun>\n"
		"  --rw randread|randwrite|read|write   workload (default randread)\n"
		"  --bs SIZE            bytes per command: 512, 4k, 1m ... (default 4k)\n"
		"  --qd N               commands kept in flight per session, 1..%d (default 1)\n"
		"  --sessions N         sessions (TCP connections) to the LUN, 1..%d (default 1)\n"
		"  --seconds S          run time, at most %.0f (default 10)\n"
		"  --initiator-name IQN (default %s)\n"
		"  --timeout S          per-command timeout in seconds (default 10)\n"
		"  --seed N             random offset seed (default 1)\n"
		"  --json               print one JSON object instead of key=value\n"
		"  --one-pass           read/write: stop after one pass over the LUN\n"
		"                       (or at --seconds, whichever comes first)\n"
		"Prints: rw bs qd sessions seconds ios errors iops mbps (MB = 10^6 bytes)\n"
		"lat_mean_us lat_p50_us lat_p99_us. Exit status 1 if any command failed.\n",
		BENCH_QD_MAX, BENCH_SESSIONS_MAX, BENCH_SECONDS_MAX,
		BENCH_INITIATOR_DEFAULT);
}

static int bench_opts_parse(int argc, char **argv, struct bench_opts *o)
{
	enum { OPT_RW = 256, OPT_BS, OPT_QD, OPT_SECONDS, OPT_INITIATOR,
	       OPT_TIMEOUT, OPT_SEED, OPT_JSON, OPT_ONE_PASS, OPT_SESSIONS,
	       OPT_HELP };
	static const struct option longopts[] = {
		{ "rw", required_argument, NULL, OPT_RW },
		{ "bs", required_argument, NULL, OPT_BS },
		{ "qd", required_argument, NULL, OPT_QD },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "initiator-name", required_argument, NULL, OPT_INITIATOR },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "one-pass", no_argument, NULL, OPT_ONE_PASS },
		{ "sessions", required_argument, NULL, OPT_SESSIONS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	size_t i;
	int c;

	*o = (struct bench_opts){
		.initiator = BENCH_INITIATOR_DEFAULT,
		.rw = BENCH_RW_RANDREAD,
		.bs = 4096,
		.qd = 1,
		.sessions = 1,
		.seconds = 10.0,
		.timeout_s = 10,
		.seed = 1,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RW:
			for (i = 0; i < sizeof(bench_rw_names) / sizeof(bench_rw_names[0]); i++)
				if (strcmp(optarg, bench_rw_names[i]) == 0)
					break;
			if (i == sizeof(bench_rw_names) / sizeof(bench_rw_names[0])) {
				fprintf(stderr, "ctgt-bench: --rw %s: not one of randread, randwrite, read, write\n", optarg);
				return -1;
			}
			o->rw = (enum bench_rw)i;
			break;
		case OPT_BS:
			if (bench_size_parse(optarg, &o->bs) < 0) {
				fprintf(stderr, "ctgt-bench: --bs %s: expected a size from 1 to 64m\n", optarg);
				return -1;
			}
			break;
		case OPT_QD:
			o->qd = (int)strtol(optarg, &end, 10);
			if (*end || o->qd < 1 || o->qd > BENCH_QD_MAX) {
				fprintf(stderr, "ctgt-bench: --qd %s: expected 1..%d\n", optarg, BENCH_QD_MAX);
				return -1;
			}
			break;
		case OPT_SECONDS:
			o->seconds = strtod(optarg, &end);
			if (*end || !(o->seconds > 0.0) || o->seconds > BENCH_SECONDS_MAX) {
				fprintf(stderr, "ctgt-bench: --seconds %s: expected (0, %.0f]\n", optarg, BENCH_SECONDS_MAX);
				return -1;
			}
			break;
		case OPT_INITIATOR:
			o->initiator = optarg;
			break;
		case OPT_TIMEOUT:
			o->timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || o->timeout_s < 1 || o->timeout_s > 3600) {
				fprintf(stderr, "ctgt-bench: --timeout %s: expected 1..3600\n", optarg);
				return -1;
			}
			break;
		case OPT_SEED:
			o->seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "ctgt-bench: --seed %s: not a number\n", optarg);
				return -1;
			}
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_ONE_PASS:
			o->one_pass = true;
			break;
		case OPT_SESSIONS:
			o->sessions = (int)strtol(optarg, &end, 10);
			if (*end || o->sessions < 1 || o->sessions > BENCH_SESSIONS_MAX) {
				fprintf(stderr, "ctgt-bench: --sessions %s: expected 1..%d\n", optarg, BENCH_SESSIONS_MAX);
				return -1;
			}
			break;
		case 'h':
		case OPT_HELP:
			bench_usage_print(stdout);
			exit(0);
		default:
			bench_usage_print(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		bench_usage_print(stderr);
		return -1;
	}
	o->url = argv[optind];
	return 0;
}

/*
 * Logs one session in (header and data digests off) and verifies the LUN
 * answers. Each context gets its own random ISID from libiscsi, so several
 * sessions from one initiator name are distinct I_T nexuses.
 */
static int bench_sess_connect(struct bench *b, struct bench_sess *sess)
{
	struct iscsi_url *url;
	int rc;

	sess->iscsi = iscsi_create_context(b->o->initiator);
	if (!sess->iscsi) {
		fprintf(stderr, "ctgt-bench: cannot create an iSCSI context\n");
		return -1;
	}
	url = iscsi_parse_full_url(sess->iscsi, b->o->url);
	if (!url) {
		fprintf(stderr, "ctgt-bench: %s: %s\n", b->o->url,
			iscsi_get_error(sess->iscsi));
		return -1;
	}
	iscsi_set_targetname(sess->iscsi, url->target);
	iscsi_set_session_type(sess->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(sess->iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (url->user[0])
		iscsi_set_initiator_username_pwd(sess->iscsi, url->user, url->passwd);
	/* A dropped connection is a failure to report, not to paper over. */
	iscsi_set_noautoreconnect(sess->iscsi, 1);
	iscsi_set_timeout(sess->iscsi, b->o->timeout_s);
	b->lun = url->lun;
	rc = iscsi_full_connect_sync(sess->iscsi, url->portal, url->lun);
	if (rc != 0)
		fprintf(stderr, "ctgt-bench: login to %s at %s failed: %s\n",
			url->target, url->portal, iscsi_get_error(sess->iscsi));
	iscsi_destroy_url(url);
	return rc == 0 ? 0 : -1;
}

static int bench_connect(struct bench *b)
{
	int i;

	b->sess = calloc((size_t)b->o->sessions, sizeof(*b->sess));
	if (!b->sess)
		return -1;
	for (i = 0; i < b->o->sessions; i++)
		if (bench_sess_connect(b, &b->sess[i]) < 0)
			return -1;
	return 0;
}

/* SBC-4 5.20: READ CAPACITY(16) gives the block size and the last LBA. */
static int bench_capacity_read(struct bench *b)
{
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;

	task = iscsi_readcapacity16_sync(b->sess[0].iscsi, b->lun);
	if (!task || task->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "ctgt-bench: READ CAPACITY(16) failed: %s\n",
			iscsi_get_error(b->sess[0].iscsi));
		if (task)
			scsi_free_scsi_task(task);
		return -1;
	}
	rc16 = scsi_datain_unmarshall(task);
	if (!rc16 || rc16->block_length == 0) {
		fprintf(stderr, "ctgt-bench: READ CAPACITY(16): unusable reply\n");
		scsi_free_scsi_task(task);
		return -1;
	}
	b->block_size = rc16->block_length;
	b->num_blocks = rc16->returned_lba + 1;
	scsi_free_scsi_task(task);

	if (b->o->bs % b->block_size != 0) {
		fprintf(stderr, "ctgt-bench: --bs %" PRIu32 " is not a multiple of the "
			"LUN's %" PRIu32 "-byte blocks\n", b->o->bs, b->block_size);
		return -1;
	}
	b->io_blocks = b->o->bs / b->block_size;
	b->io_slots = b->num_blocks / b->io_blocks;
	if (b->io_slots == 0) {
		fprintf(stderr, "ctgt-bench: --bs %" PRIu32 " is larger than the LUN\n",
			b->o->bs);
		return -1;
	}
	return 0;
}

static int bench_slots_alloc(struct bench *b)
{
	long page = sysconf(_SC_PAGESIZE);
	int i;

	b->nslots = b->o->qd * b->o->sessions;
	b->slots = calloc((size_t)b->nslots, sizeof(*b->slots));
	if (!b->slots)
		return -1;
	for (i = 0; i < b->nslots; i++) {
		struct bench_slot *s = &b->slots[i];
		void *p;

		s->b = b;
		s->sess = &b->sess[i / b->o->qd];
		if (posix_memalign(&p, page > 0 ? (size_t)page : 4096, b->o->bs) != 0)
			return -1;
		s->buf = p;
		/* Non-zero data, so a target cannot shortcut zero writes. */
		for (uint32_t j = 0; j < b->o->bs; j += 8) {
			uint64_t r = bench_rng_next(&b->rng);

			memcpy(s->buf + j, &r, b->o->bs - j < 8 ? b->o->bs - j : 8);
		}
	}
	return 0;
}

/*
 * The poll loop: keep qd commands queued on every session until time is up,
 * then drain. Any session failing ends the run for all of them.
 */
static int bench_loop_run(struct bench *b)
{
	struct pollfd pfd[BENCH_SESSIONS_MAX];
	uint64_t deadline, drain_deadline = 0, now;
	int i, nsess = b->o->sessions;

	b->start_ns = bench_clock_now_ns();
	b->end_ns = b->start_ns;
	deadline = b->start_ns + (uint64_t)(b->o->seconds * 1e9);
	for (i = 0; i < b->nslots && !b->stopping; i++)
		bench_slot_submit(&b->slots[i]);

	for (;;) {
		int n, timeout_ms = BENCH_POLL_MS;

		now = bench_clock_now_ns();
		if (!b->stopping && (now >= deadline || bench_signalled))
			b->stopping = true;
		if (b->stopping && drain_deadline == 0)
			drain_deadline = now + (uint64_t)b->o->timeout_s * 1000000000u
					 + 1000000000u;
		if (b->stopping && b->outstanding == 0)
			return 0;
		if (b->stopping && now >= drain_deadline) {
			fprintf(stderr, "ctgt-bench: no completion for %d s "
				"while draining\n", b->o->timeout_s + 1);
			return -1;
		}
		if (!b->stopping && deadline - now < (uint64_t)timeout_ms * 1000000u)
			timeout_ms = (int)((deadline - now) / 1000000u) + 1;

		for (i = 0; i < nsess; i++) {
			int events = iscsi_which_events(b->sess[i].iscsi);

			/* 0: libiscsi asks for a pause; poll skips fd -1 */
			pfd[i].fd = events ? iscsi_get_fd(b->sess[i].iscsi) : -1;
			pfd[i].events = (short)events;
			pfd[i].revents = 0;
		}
		n = poll(pfd, (nfds_t)nsess, timeout_ms);
		if (n < 0 && errno != EINTR) {
			perror("ctgt-bench: poll");
			return -1;
		}
		for (i = 0; i < nsess; i++) {
			/* revents 0 still lets libiscsi expire timed-out commands */
			if (iscsi_service(b->sess[i].iscsi,
					  n > 0 ? pfd[i].revents : 0) < 0) {
				fprintf(stderr, "ctgt-bench: session %d: connection "
					"failed: %s\n", i,
					iscsi_get_error(b->sess[i].iscsi));
				b->stopping = true;
				return -1;
			}
		}
	}
}

static void bench_report_print(const struct bench *b)
{
	const struct bench_opts *o = b->o;
	uint64_t span = b->end_ns > b->start_ns ? b->end_ns - b->start_ns : 1;
	double secs = (double)span / 1e9;
	double iops = (double)b->ios / secs;
	double mbps = (double)b->bytes / secs / 1e6;
	const struct bench_hist *h = &b->hist;
	double mean = h->count ? (double)h->sum_ns / (double)h->count / 1e3 : 0.0;
	double p50 = bench_hist_percentile(h, 50.0) / 1e3;
	double p99 = bench_hist_percentile(h, 99.0) / 1e3;
	double lmin = (double)h->min_ns / 1e3, lmax = (double)h->max_ns / 1e3;

	if (o->json)
		printf("{\"rw\":\"%s\",\"bs\":%" PRIu32 ",\"qd\":%d,\"sessions\":%d,"
		       "\"seconds\":%.3f,"
		       "\"ios\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"iops\":%.1f,"
		       "\"mbps\":%.2f,\"lat_mean_us\":%.1f,\"lat_p50_us\":%.1f,"
		       "\"lat_p99_us\":%.1f,\"lat_min_us\":%.1f,\"lat_max_us\":%.1f,"
		       "\"block_size\":%" PRIu32 ",\"lun_blocks\":%" PRIu64 "}\n",
		       bench_rw_names[o->rw], o->bs, o->qd, o->sessions, secs,
		       b->ios, b->errors, iops, mbps, mean, p50, p99, lmin, lmax,
		       b->block_size, b->num_blocks);
	else
		printf("rw=%s bs=%" PRIu32 " qd=%d sessions=%d seconds=%.3f ios=%" PRIu64
		       " errors=%" PRIu64 " iops=%.1f mbps=%.2f lat_mean_us=%.1f"
		       " lat_p50_us=%.1f lat_p99_us=%.1f lat_min_us=%.1f"
		       " lat_max_us=%.1f\n",
		       bench_rw_names[o->rw], o->bs, o->qd, o->sessions, secs,
		       b->ios, b->errors, iops, mbps, mean, p50, p99, lmin, lmax);
	fflush(stdout);
}

static void bench_free(struct bench *b)
{
	int i;

	/* In-flight commands complete as cancelled inside destroy. */
	b->closing = true;
	for (i = 0; b->sess && i < b->o->sessions; i++)
		if (b->sess[i].iscsi)
			iscsi_destroy_context(b->sess[i].iscsi);
	free(b->sess);
	if (b->slots) {
		for (i = 0; i < b->nslots; i++)
			free(b->slots[i].buf);
		free(b->slots);
	}
	free(b);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench *b;
	struct sigaction sa;
	int rc;

	if (bench_opts_parse(argc, argv, &o) < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_signal_handle;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	b = calloc(1, sizeof(*b));
	if (!b)
		return 2;
	b->o = &o;
	b->rng = o.seed ? o.seed : 1;
	if (bench_connect(b) < 0 || bench_capacity_read(b) < 0) {
		bench_free(b);
		return 2;
	}
	if (bench_slots_alloc(b) < 0) {
		fprintf(stderr, "ctgt-bench: out of memory for %d x %" PRIu32 " bytes\n",
			o.qd * o.sessions, o.bs);
		bench_free(b);
		return 2;
	}
	rc = bench_loop_run(b);
	if (rc < 0 && b->outstanding > 0) {
		fprintf(stderr, "ctgt-bench: %d commands in flight when the run "
			"was cut short, counted as failed\n", b->outstanding);
		b->errors += (uint64_t)b->outstanding;
	}
	for (int i = 0; rc == 0 && i < o.sessions; i++)
		iscsi_logout_sync(b->sess[i].iscsi);
	bench_report_print(b);
	if (b->errors)
		fprintf(stderr, "ctgt-bench: %" PRIu64 " commands failed\n", b->errors);
	rc = (rc < 0 || b->errors) ? 1 : 0;
	bench_free(b);
	return rc;
}
