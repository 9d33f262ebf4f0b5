/*
 * ctgt-scsi-lat: latency of the SCSI commands a cluster has to order or
 * lock (issue 5), one command outstanding, on libiscsi's sync API.
 *
 * Its one job: send one kind of command to one LUN, one at a time, and
 * print one RESULT line with the latency distribution (microseconds, the
 * format of shared/bench/cpgping.c, so bench/cluster_device.sh reads both
 * the same way):
 *
 *   ctgt-scsi-lat [options] pr URL
 *       PERSISTENT RESERVE OUT, REGISTER AND IGNORE EXISTING KEY, the new
 *       key alternating between two values: every command changes the
 *       registration of this I_T nexus (a new PRgeneration), so every one
 *       is a PR state change. The registration is removed at the end.
 *   ctgt-scsi-lat [options] caw URL
 *       COMPARE AND WRITE of one block at --lba: the compare half is what
 *       this process last saw in the block, the write half a new record
 *       (writer id, sequence number, and the record it replaces). On a
 *       MISCOMPARE the block is read again (not timed) and the next CAW
 *       compares with that: the loop of an initiator using CAW as a
 *       test-and-set (VMware ATS). Several processes on the same LBA, on
 *       different nodes, measure contended CAW; the MISCOMPARE share is
 *       printed. With --log every successful CAW writes a line "PREV NEW"
 *       (records as writer:seq, seq from the wall clock in microseconds,
 *       so records of different runs differ): two successes that replaced
 *       the same record, across all logs, mean CAW was not atomic.
 *
 * Options: -n SAMPLES (2000), -w WARMUP (100, not counted), -t SECONDS
 * (stop early after that long; 0 = no limit), --lba N (0), --id N (caw
 * writer id, 1), --log FILE, --start-at EPOCH_S (wait after login until
 * CLOCK_REALTIME reaches it: lines up processes on several nodes),
 * -i INITIATOR, --timeout S (10).
 *
 * Latency runs from the sync call to its return (libiscsi's own poll loop
 * included). Exit status: 0 all commands completed with GOOD (or, for
 * caw, MISCOMPARE); 1 some failed otherwise; 2 setup failed.
 *
 * Deliberately not here: more than one command in flight (ctgt-bench does
 * throughput), other PR service actions, verification of data other than
 * the CAW records.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define LAT_INITIATOR_DEFAULT "iqn.2026-11.org.ctgt:lat-initiator"
#define LAT_ERRORS_PRINTED 10
#define LAT_BLOCK_MAX 4096u
#define LAT_KEY_A 0x6374677400000001ull /* "ctgt" + 1 */
#define LAT_KEY_B 0x6374677400000002ull
#define LAT_CAW_MAGIC "CTGTCAW1"

/* SPC-4 6.16.2, table 170 */
#define LAT_SA_REGISTER_IGNORE 6

enum lat_mode { LAT_MODE_PR, LAT_MODE_CAW };

struct lat_opts {
	enum lat_mode mode;
	const char *url;
	const char *initiator;
	const char *log_path;
	int samples;
	int warmup;
	double seconds;
	uint64_t lba;
	uint64_t id;
	double start_at;
	int timeout_s;
};

/* One CAW record, at the start of the block (the rest is a fill pattern). */
struct lat_caw_rec {
	uint64_t writer, seq;
};

struct lat {
	const struct lat_opts *o;
	struct iscsi_context *iscsi;
	int lun;
	uint32_t block_size;
	uint64_t *ns;          /* the samples, in order */
	int n;
	int errors;
	int miscompares;
	FILE *log;
	/* caw */
	unsigned char seen[LAT_BLOCK_MAX];  /* the block as last known */
	uint64_t seq;          /* the last record's, from the start time */
};

static uint64_t lat_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lat_be64_put(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t lat_be64_get(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* A block not written by this tool is record 0:0. */
static struct lat_caw_rec lat_caw_rec_decode(const unsigned char *blk)
{
	struct lat_caw_rec r = { 0, 0 };

	if (!memcmp(blk, LAT_CAW_MAGIC, 8)) {
		r.writer = lat_be64_get(blk + 8);
		r.seq = lat_be64_get(blk + 16);
	}
	return r;
}

static void lat_caw_rec_encode(unsigned char *blk, uint32_t bs,
			       struct lat_caw_rec r, struct lat_caw_rec prev)
{
	uint32_t i;

	memcpy(blk, LAT_CAW_MAGIC, 8);
	lat_be64_put(blk + 8, r.writer);
	lat_be64_put(blk + 16, r.seq);
	lat_be64_put(blk + 24, prev.writer);
	lat_be64_put(blk + 32, prev.seq);
	for (i = 40; i < bs; i++)
		blk[i] = (unsigned char)(r.seq * 31 + i);
}

static void lat_error_report(struct lat *l, const char *what,
			     struct scsi_task *task)
{
	l->errors++;
	if (l->errors > LAT_ERRORS_PRINTED)
		return;
	if (task && task->status == SCSI_STATUS_CHECK_CONDITION)
		fprintf(stderr, "ctgt-scsi-lat: %s: CHECK CONDITION, sense key "
			"0x%x, ASC/ASCQ 0x%04x\n", what, task->sense.key,
			task->sense.ascq);
	else if (task)
		fprintf(stderr, "ctgt-scsi-lat: %s: status 0x%02x: %s\n", what,
			task->status, iscsi_get_error(l->iscsi));
	else
		fprintf(stderr, "ctgt-scsi-lat: %s: %s\n", what,
			iscsi_get_error(l->iscsi));
}

static bool lat_task_good(struct scsi_task *task)
{
	return task && task->status == SCSI_STATUS_GOOD;
}

/* SPC-4 6.16.2: REGISTER AND IGNORE EXISTING KEY with SA key @key (0
 * removes the registration). Returns the command's latency, 0 on failure. */
static uint64_t lat_pr_register(struct lat *l, uint64_t key)
{
	struct scsi_persistent_reserve_out_basic p = {
		.service_action_reservation_key = key,
	};
	struct scsi_task *task;
	uint64_t t0, t1;

	t0 = lat_clock_now_ns();
	task = iscsi_persistent_reserve_out_sync(l->iscsi, l->lun,
						 LAT_SA_REGISTER_IGNORE, 0, 0,
						 &p);
	t1 = lat_clock_now_ns();
	if (!lat_task_good(task)) {
		lat_error_report(l, "PR OUT REGISTER AND IGNORE", task);
		t1 = t0;
	}
	if (task)
		scsi_free_scsi_task(task);
	return t1 - t0;
}

static int lat_caw_reread(struct lat *l)
{
	struct scsi_task *task;

	task = iscsi_read16_sync(l->iscsi, l->lun, l->o->lba, l->block_size,
				 l->block_size, 0, 0, 0, 0, 0);
	if (!lat_task_good(task) || task->datain.size < (int)l->block_size) {
		lat_error_report(l, "READ(16) of the CAW block", task);
		if (task)
			scsi_free_scsi_task(task);
		return -1;
	}
	memcpy(l->seen, task->datain.data, l->block_size);
	scsi_free_scsi_task(task);
	return 0;
}

/* SBC-4 5.3: one COMPARE AND WRITE of one block. Returns its latency (0
 * on failure); a MISCOMPARE counts and re-reads the block. */
static uint64_t lat_caw_one(struct lat *l, bool counted)
{
	unsigned char buf[2 * LAT_BLOCK_MAX];
	uint32_t bs = l->block_size;
	struct lat_caw_rec prev = lat_caw_rec_decode(l->seen);
	struct lat_caw_rec next = { l->o->id, ++l->seq };
	struct scsi_task *task;
	uint64_t t0, t1;

	memcpy(buf, l->seen, bs);
	lat_caw_rec_encode(buf + bs, bs, next, prev);
	t0 = lat_clock_now_ns();
	task = iscsi_compareandwrite_sync(l->iscsi, l->lun, l->o->lba, buf,
					  2 * bs, (int)bs, 0, 0, 0, 0, 0);
	t1 = lat_clock_now_ns();
	if (lat_task_good(task)) {
		memcpy(l->seen, buf + bs, bs);
		if (l->log)
			fprintf(l->log, "%" PRIu64 ":%" PRIu64 " %" PRIu64
				":%" PRIu64 "\n", prev.writer, prev.seq,
				next.writer, next.seq);
	} else if (task && task->status == SCSI_STATUS_CHECK_CONDITION &&
		   task->sense.key == SCSI_SENSE_MISCOMPARE) {
		if (counted)
			l->miscompares++;
		if (lat_caw_reread(l) < 0)
			t1 = t0;
	} else {
		lat_error_report(l, "COMPARE AND WRITE", task);
		t1 = t0;
	}
	if (task)
		scsi_free_scsi_task(task);
	return t1 - t0;
}

static int lat_connect(struct lat *l)
{
	struct iscsi_url *url;
	struct scsi_task *task;
	struct scsi_readcapacity16 *rc16;
	int rc;

	l->iscsi = iscsi_create_context(l->o->initiator);
	if (!l->iscsi) {
		fprintf(stderr, "ctgt-scsi-lat: cannot create an iSCSI context\n");
		return -1;
	}
	url = iscsi_parse_full_url(l->iscsi, l->o->url);
	if (!url) {
		fprintf(stderr, "ctgt-scsi-lat: %s: %s\n", l->o->url,
			iscsi_get_error(l->iscsi));
		return -1;
	}
	iscsi_set_targetname(l->iscsi, url->target);
	iscsi_set_session_type(l->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(l->iscsi, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_noautoreconnect(l->iscsi, 1);
	iscsi_set_timeout(l->iscsi, l->o->timeout_s);
	l->lun = url->lun;
	rc = iscsi_full_connect_sync(l->iscsi, url->portal, url->lun);
	if (rc != 0)
		fprintf(stderr, "ctgt-scsi-lat: login to %s at %s failed: %s\n",
			url->target, url->portal, iscsi_get_error(l->iscsi));
	iscsi_destroy_url(url);
	if (rc != 0)
		return -1;

	/* SBC-4 5.20: the block size (CAW moves one block each way). */
	task = iscsi_readcapacity16_sync(l->iscsi, l->lun);
	rc16 = lat_task_good(task) ? scsi_datain_unmarshall(task) : NULL;
	if (!rc16 || rc16->block_length == 0 ||
	    rc16->block_length > LAT_BLOCK_MAX ||
	    rc16->returned_lba < l->o->lba) {
		fprintf(stderr, "ctgt-scsi-lat: READ CAPACITY(16) failed or "
			"unusable (block size, --lba beyond the LUN)\n");
		if (task)
			scsi_free_scsi_task(task);
		return -1;
	}
	l->block_size = rc16->block_length;
	scsi_free_scsi_task(task);
	return 0;
}

static void lat_start_wait(const struct lat_opts *o)
{
	struct timespec now, ts;
	double d;

	if (o->start_at <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	d = o->start_at - ((double)now.tv_sec + now.tv_nsec / 1e9);
	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int lat_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted samples, in microseconds. */
static double lat_pct(const struct lat *l, double pct)
{
	int i = (int)(pct / 100.0 * l->n + 0.999999) - 1;

	if (i < 0)
		i = 0;
	if (i >= l->n)
		i = l->n - 1;
	return (double)l->ns[i] / 1e3;
}

static void lat_report_print(struct lat *l, double elapsed_s)
{
	double sum = 0;
	int i;

	if (l->n == 0) {
		printf("RESULT %s n=0 errors=%d\n",
		       l->o->mode == LAT_MODE_PR ? "pr_out" : "caw", l->errors);
		return;
	}
	for (i = 0; i < l->n; i++)
		sum += (double)l->ns[i];
	qsort(l->ns, (size_t)l->n, sizeof(*l->ns), lat_cmp_u64);
	printf("RESULT %s n=%d min=%.1fus median=%.1fus mean=%.1fus "
	       "p90=%.1fus p99=%.1fus max=%.1fus errors=%d seconds=%.2f",
	       l->o->mode == LAT_MODE_PR ? "pr_out" : "caw", l->n,
	       (double)l->ns[0] / 1e3, lat_pct(l, 50), sum / l->n / 1e3,
	       lat_pct(l, 90), lat_pct(l, 99),
	       (double)l->ns[l->n - 1] / 1e3, l->errors, elapsed_s);
	if (l->o->mode == LAT_MODE_CAW)
		printf(" miscompare=%d miscompare_pct=%.1f", l->miscompares,
		       100.0 * l->miscompares / l->n);
	printf("\n");
}

static int lat_run(struct lat *l)
{
	const struct lat_opts *o = l->o;
	uint64_t t_start, t_end = 0, d;
	int i;

	if (o->mode == LAT_MODE_PR)
		lat_pr_register(l, 0);  /* whatever an earlier run left */
	else if (lat_caw_reread(l) < 0)
		return -1;
	/* Records stay unique across runs of the same --id: sequence
	 * numbers start at the wall clock in microseconds. */
	if (o->mode == LAT_MODE_CAW) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		l->seq = (uint64_t)ts.tv_sec * 1000000u +
			 (uint64_t)ts.tv_nsec / 1000u;
	}
	lat_start_wait(o);
	t_start = lat_clock_now_ns();
	if (o->seconds > 0)
		t_end = t_start + (uint64_t)(o->seconds * 1e9);
	for (i = 0; i < o->warmup + o->samples; i++) {
		bool counted = i >= o->warmup;

		if (o->mode == LAT_MODE_PR)
			d = lat_pr_register(l, i % 2 ? LAT_KEY_B : LAT_KEY_A);
		else
			d = lat_caw_one(l, counted);
		if (d > 0 && counted)
			l->ns[l->n++] = d;
		if (!iscsi_is_logged_in(l->iscsi)) {
			fprintf(stderr, "ctgt-scsi-lat: the session is gone\n");
			l->errors++;
			break;
		}
		if (t_end && lat_clock_now_ns() >= t_end)
			break;
	}
	d = lat_clock_now_ns() - t_start;
	if (o->mode == LAT_MODE_PR)
		lat_pr_register(l, 0);
	lat_report_print(l, (double)d / 1e9);
	return 0;
}

static void lat_usage_print(FILE *f)
{
	fprintf(f,
		"usage: ctgt-scsi-lat [-n SAMPLES] [-w WARMUP] [-t SECONDS] "
		"[--lba N] [--id N]\n"
		"                     [--log FILE] [--start-at EPOCH_S] "
		"[-i INITIATOR] [--timeout S]\n"
		"                     pr|caw iscsi://HOST[:PORT]/IQN/LUN\n");
}

static int lat_opts_parse(int argc, char **argv, struct lat_opts *o)
{
	static const struct option longopts[] = {
		{ "lba", required_argument, NULL, 'L' },
		{ "id", required_argument, NULL, 'I' },
		{ "log", required_argument, NULL, 'o' },
		{ "start-at", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	*o = (struct lat_opts){ .initiator = LAT_INITIATOR_DEFAULT,
				.samples = 2000, .warmup = 100, .id = 1,
				.timeout_s = 10 };
	while ((c = getopt_long(argc, argv, "n:w:t:i:h", longopts, NULL)) != -1) {
		errno = 0;
		end = NULL;
		switch (c) {
		case 'n': o->samples = (int)strtol(optarg, &end, 10); break;
		case 'w': o->warmup = (int)strtol(optarg, &end, 10); break;
		case 't': o->seconds = strtod(optarg, &end); break;
		case 'L': o->lba = strtoull(optarg, &end, 10); break;
		case 'I': o->id = strtoull(optarg, &end, 10); break;
		case 'S': o->start_at = strtod(optarg, &end); break;
		case 'T': o->timeout_s = (int)strtol(optarg, &end, 10); break;
		case 'i': o->initiator = optarg; break;
		case 'o': o->log_path = optarg; break;
		case 'h': lat_usage_print(stdout); exit(0);
		default: return -1;
		}
		if (end && (*end || errno)) {
			fprintf(stderr, "ctgt-scsi-lat: bad number '%s'\n", optarg);
			return -1;
		}
	}
	if (argc - optind != 2 || o->samples < 1 || o->samples > 10000000 ||
	    o->warmup < 0 || o->seconds < 0 || o->timeout_s < 1 || o->id == 0)
		return -1;
	if (!strcmp(argv[optind], "pr"))
		o->mode = LAT_MODE_PR;
	else if (!strcmp(argv[optind], "caw"))
		o->mode = LAT_MODE_CAW;
	else
		return -1;
	o->url = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct lat_opts o;
	struct lat *l;
	int rc;

	if (lat_opts_parse(argc, argv, &o) < 0) {
		lat_usage_print(stderr);
		return 2;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return 2;
	l->o = &o;
	l->ns = calloc((size_t)o.samples, sizeof(*l->ns));
	if (!l->ns)
		return 2;
	if (o.log_path) {
		l->log = fopen(o.log_path, "w");
		if (!l->log) {
			fprintf(stderr, "ctgt-scsi-lat: %s: %s\n", o.log_path,
				strerror(errno));
			return 2;
		}
	}
	rc = lat_connect(l) < 0 || lat_run(l) < 0 ? 2 : 0;
	if (rc == 0 && l->errors > 0)
		rc = 1;
	if (l->errors > LAT_ERRORS_PRINTED)
		fprintf(stderr, "ctgt-scsi-lat: %d failed commands in all\n",
			l->errors);
	if (l->log)
		fclose(l->log);
	if (l->iscsi) {
		if (iscsi_is_logged_in(l->iscsi))
			iscsi_logout_sync(l->iscsi);
		iscsi_destroy_context(l->iscsi);
	}
	free(l->ns);
	free(l);
	return rc;
}
