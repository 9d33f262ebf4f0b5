/*
 * scsi_it: the libiscsi initiator side shared by the integration
 * scenarios (pr_scenarios.c, cluster_pr.c); see scsi_it.h for what it is
 * and is not.
 */
#include "scsi_it.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *it_target;
const char *it_portal[IT_PORTS_MAX + 1];
const char *it_ini[IT_PORTS_MAX + 1];
uint16_t it_io_blocks = 8;

/* ------------------------------------------------------ failure handling */

static jmp_buf sc_jmp;
char sc_msg[1024];
static const char *sc_step = "setup";
static char sc_step_buf[160];
int sc_steps;

void sc_fail(const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(sc_msg, sizeof(sc_msg), "%s: ", sc_step);

	va_start(ap, fmt);
	vsnprintf(sc_msg + n, sizeof(sc_msg) - (size_t)n, fmt, ap);
	va_end(ap);
	longjmp(sc_jmp, 1);
}

void sc_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc_msg, sizeof(sc_msg), fmt, ap);
	va_end(ap);
	longjmp(sc_jmp, 2);
}

void step(const char *name)
{
	sc_step = name;
	sc_steps++;
}

void stepf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc_step_buf, sizeof(sc_step_buf), fmt, ap);
	va_end(ap);
	step(sc_step_buf);
}

int sc_call(void (*fn)(void *), void *arg)
{
	int rc;

	sc_step = "setup";
	sc_steps = 0;
	sc_msg[0] = 0;
	rc = setjmp(sc_jmp);
	if (rc == 0)
		fn(arg);
	sess_close_all();
	return rc;
}

/* ------------------------------------------------------------ byte helpers */

void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}
void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}
uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}
uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* ------------------------------------------------------- async tasks */

#define AIO_MAX 128
static struct aio aio_pool[AIO_MAX];
int aio_phase;
int aio_pending;
char aio_err[256];
struct aio *aio_probe;
static bool aio_service_err_ok;

void aio_free_all(void)
{
	for (int i = 0; i < AIO_MAX; i++) {
		if (aio_pool[i].task)
			scsi_free_scsi_task(aio_pool[i].task);
		aio_pool[i] = (struct aio){ 0 };
	}
	aio_pending = 0;
	aio_probe = NULL;
}

static void aio_cb(struct iscsi_context *ctx, int status, void *data,
		   void *priv)
{
	struct aio *io = priv;
	struct scsi_task *t = data ? data : io->task;

	if (status == SCSI_STATUS_CANCELLED || !t)
		return;  /* the context went away */
	if (io->status != ST_NONE)
		return;  /* answered already */
	io->status = t->status;
	if (status == SCSI_STATUS_ERROR) {
		snprintf(aio_err, sizeof(aio_err), "%s", iscsi_get_error(ctx));
		/* libiscsi 1.19 knows no TASK ABORTED: it reports "Unknown
		 * SCSI status :64." and makes iscsi_service() fail once */
		if (strstr(aio_err, "status :64")) {
			io->status = ST_TASK_ABORTED;
			aio_service_err_ok = true;
		}
	}
	if (t->status == SCSI_STATUS_CHECK_CONDITION) {
		io->sense_key = t->sense.key;
		io->asc = t->sense.ascq;
	}
	io->phase = aio_phase;
	aio_pending--;
	if (io == aio_probe)
		aio_phase = 2;
}

struct aio *aio_submit(struct sess *s, const uint8_t *cdb, int cdb_len,
		       const void *out, uint32_t out_len, uint32_t in_len)
{
	struct aio *io = NULL;
	struct iscsi_data d = { .size = out_len, .data = (unsigned char *)out };
	int dir = out_len ? SCSI_XFER_WRITE :
		  in_len ? SCSI_XFER_READ : SCSI_XFER_NONE;

	for (int i = 0; i < AIO_MAX && !io; i++)
		if (!aio_pool[i].used)
			io = &aio_pool[i];
	if (!io)
		sc_fail("%s: more than %d commands in flight", s->label, AIO_MAX);
	*io = (struct aio){ .status = ST_NONE, .used = true };
	io->task = scsi_create_task(cdb_len, (unsigned char *)cdb, dir,
				    (int)(out_len ? out_len : in_len));
	if (!io->task)
		sc_fail("%s: scsi_create_task: out of memory", s->label);
	if (iscsi_scsi_command_async(s->ctx, s->lun, io->task, aio_cb,
				     out_len ? &d : NULL, io) != 0)
		sc_fail("%s: cannot queue command 0x%02x: %s", s->label, cdb[0],
			iscsi_get_error(s->ctx));
	aio_pending++;
	return io;
}

void aio_release(struct aio *io)
{
	if (io->task)
		scsi_free_scsi_task(io->task);
	*io = (struct aio){ 0 };
}

bool aio_wait(struct aio *io, struct sess *const *ss, int n, double secs)
{
	double t0 = now_s();

	while (io->status == ST_NONE && now_s() - t0 < secs)
		sess_service_once(ss, n, 10);
	return io->status != ST_NONE;
}

void writes_withheld(struct sess *s, struct aio **w, int n, uint32_t lba,
		     uint32_t bytes, uint32_t bs)
{
	static uint8_t buf[256 * 1024];

	if (bytes > sizeof(buf))
		sc_fail("%s: writes of %u bytes (at most %zu)", s->label, bytes,
			sizeof(buf));
	memset(buf, 0xA5, bytes);
	for (int i = 0; i < n; i++) {
		uint8_t cdb[10] = { 0x2A };
		put32(cdb + 2, lba + (uint32_t)i * (bytes / bs));
		put16(cdb + 7, (uint16_t)(bytes / bs));
		w[i] = aio_submit(s, cdb, 10, buf, bytes, 0);
	}
	/* service s for writing only, so that it neither reads the R2Ts nor
	 * sends the solicited data */
	double t0 = now_s();
	while (now_s() - t0 < 2.0) {
		if (!(iscsi_which_events(s->ctx) & POLLOUT))
			break;
		struct pollfd pfd = { iscsi_get_fd(s->ctx), POLLOUT, 0 };
		if (poll(&pfd, 1, 10) > 0 && (pfd.revents & POLLOUT) &&
		    iscsi_service(s->ctx, POLLOUT) < 0)
			sc_fail("%s: iscsi_service: %s", s->label,
				iscsi_get_error(s->ctx));
	}
	/* the target has every command once each has answered with at least
	 * one PDU (an R2T, 48 bytes): that many bytes in s's receive queue,
	 * not read */
	int pending = 0;
	double t1 = now_s();
	while (now_s() - t1 < 5.0) {
		if (ioctl(iscsi_get_fd(s->ctx), FIONREAD, &pending) < 0)
			sc_fail("%s: FIONREAD: %s", s->label, strerror(errno));
		if (pending >= 48 * n)
			break;
		sleep_s(0.005);
	}
	if (pending < 48 * n)
		sc_fail("%s: the target (port %d) answered %d bytes (want an R2T,"
			" 48 bytes, for each of %d writes) within 5 s", s->label,
			s->rtpi, pending, n);
}

struct aio *probe_after(struct sess *s, struct sess *const *ss, int n)
{
	uint8_t tcdb[6] = { 0 };

	aio_phase = 1;
	struct aio *probe = aio_submit(s, tcdb, 6, NULL, 0, 0);
	aio_probe = probe;
	if (!aio_wait(probe, ss, n, 60))
		sc_fail("%s: no status for TEST UNIT READY", s->label);
	sess_service(ss, n, 2.0, NULL);
	return probe;
}

int writes_aborted(struct aio *const *w, int n, bool tas)
{
	int n_aborted = 0;

	for (int i = 0; i < n; i++) {
		const struct aio *io = w[i];
		switch (io->status) {
		case ST_NONE:
			if (tas)
				sc_fail("write %d: no response with TAS = 1 (want"
					" TASK ABORTED)", i);
			n_aborted++;
			break;
		case ST_TASK_ABORTED:
			if (!tas)
				sc_fail("write %d: TASK ABORTED with TAS = 0 (want"
					" no response)", i);
			if (io->phase == 2)
				sc_fail("write %d: TASK ABORTED after the response"
					" to the probe", i);
			n_aborted++;
			break;
		case ST_GOOD:
			sc_fail("write %d: GOOD (%s the probe): it was not"
				" aborted", i, io->phase == 2 ? "after" : "before");
		case ST_CONFLICT:
			sc_fail("write %d: RESERVATION CONFLICT: it was in the task"
				" set before the abort, so it should have been"
				" aborted", i);
		case ST_CHECK:
			sc_fail("write %d: CHECK CONDITION %x/%04x with TAS = %d: it"
				" should have been aborted", i, io->sense_key,
				io->asc, tas);
		default:
			sc_fail("write %d: %s (0x%x) with TAS = %d, want %s (%s)", i,
				status_name(io->status), io->status, tas,
				tas ? "TASK ABORTED" : "no response", aio_err);
		}
	}
	return n_aborted;
}

static void ua_seen_add(struct ua_seen *u, int asc)
{
	if (u->n < (int)(sizeof(u->asc) / sizeof(u->asc[0])))
		u->asc[u->n++] = asc;
}

void ua_collect(struct sess *s, const struct aio *probe, struct ua_seen *u)
{
	struct reply r;

	u->n = 0;
	if (probe && probe->status == ST_CHECK) {
		if (probe->sense_key != SK_UA)
			sc_fail("probe: sense %x/%04x", probe->sense_key,
				probe->asc);
		ua_seen_add(u, probe->asc);
	}
	for (int i = 0; i < 4; i++) {
		tur(s, &r);
		if (r.status == ST_GOOD)
			break;
		expect_status(s, &r, ST_CHECK);
		if (r.sense_key != SK_UA)
			sc_fail("%s: TUR sense %x/%04x", s->label, r.sense_key,
				r.asc);
		ua_seen_add(u, r.asc);
	}
}

bool ua_seen_has(const struct ua_seen *u, int asc)
{
	for (int i = 0; i < u->n; i++)
		if (u->asc[i] == asc)
			return true;
	return false;
}

/* --------------------------------------------------------------- sessions */

/* Every open context, for closing after a scenario (its struct sess
 * lives on the scenario's stack, gone by then). */
static struct iscsi_context *sc_ctx[MAX_SESS];

struct iscsi_context *ctx_login(const char *name, uint32_t isid_rnd,
				uint16_t qual, int port, int lun, char *err,
				size_t errlen)
{
	struct iscsi_context *ctx = iscsi_create_context(name);

	if (!ctx) {
		snprintf(err, errlen, "iscsi_create_context failed");
		return NULL;
	}
	iscsi_set_targetname(ctx, it_target);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(ctx, ISCSI_HEADER_DIGEST_NONE);
	iscsi_set_isid_random(ctx, isid_rnd, qual);
	iscsi_set_noautoreconnect(ctx, 1);
	iscsi_set_timeout(ctx, 30);
	if (iscsi_full_connect_sync(ctx, it_portal[port], lun) != 0) {
		snprintf(err, errlen, "login to %s LUN %d failed: %s",
			 it_portal[port], lun, iscsi_get_error(ctx));
		iscsi_destroy_context(ctx);
		return NULL;
	}
	return ctx;
}

/* libiscsi's iscsi_set_isid_random(): type 80h, 24 random bits, a 16-bit
 * qualifier. */
static void sess_isid(struct sess *s, uint32_t rnd, uint16_t qual)
{
	s->isid[0] = 0x80;
	s->isid[1] = (uint8_t)(rnd >> 16);
	s->isid[2] = (uint8_t)(rnd >> 8);
	s->isid[3] = (uint8_t)rnd;
	s->isid[4] = (uint8_t)(qual >> 8);
	s->isid[5] = (uint8_t)qual;
}

void sess_open(struct sess *s, const char *label, int ini, int port,
	       uint32_t isid_rnd, int lun)
{
	uint16_t qual = (uint16_t)(0x100 + ini);
	char err[512];

	memset(s, 0, sizeof(*s));
	s->label = label;
	s->name = it_ini[ini];
	s->rtpi = port;
	s->lun = lun;
	sess_isid(s, isid_rnd, qual);
	s->ctx = ctx_login(s->name, isid_rnd, qual, port, lun, err,
			   sizeof(err));
	if (!s->ctx)
		sc_fail("%s: %s", label, err);
	for (int i = 0; i < MAX_SESS; i++)
		if (!sc_ctx[i]) {
			sc_ctx[i] = s->ctx;
			return;
		}
	sc_fail("%s: more than %d sessions", label, MAX_SESS);
}

static void sess_forget(struct iscsi_context *ctx)
{
	for (int i = 0; i < MAX_SESS; i++)
		if (sc_ctx[i] == ctx)
			sc_ctx[i] = NULL;
}

void sess_close(struct sess *s)
{
	if (!s->ctx)
		return;
	sess_forget(s->ctx);
	iscsi_logout_sync(s->ctx);
	iscsi_destroy_context(s->ctx);
	s->ctx = NULL;
}

void sess_drop(struct sess *s)
{
	if (!s->ctx)
		return;
	sess_forget(s->ctx);
	iscsi_destroy_context(s->ctx);
	s->ctx = NULL;
}

void sess_close_all(void)
{
	for (int i = 0; i < MAX_SESS; i++)
		if (sc_ctx[i]) {
			iscsi_logout_sync(sc_ctx[i]);
			iscsi_destroy_context(sc_ctx[i]);
			sc_ctx[i] = NULL;
		}
	aio_free_all();
}

void sess_service_once(struct sess *const *ss, int n, int timeout_ms)
{
	struct pollfd pfd[MAX_SESS];

	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ iscsi_get_fd(ss[i]->ctx),
			(short)iscsi_which_events(ss[i]->ctx), 0 };
	int r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r < 0 && errno != EINTR)
		sc_fail("poll: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		aio_service_err_ok = false;
		if (iscsi_service(ss[i]->ctx, r > 0 ? pfd[i].revents : 0) < 0 &&
		    !aio_service_err_ok)
			sc_fail("%s: iscsi_service: %s", ss[i]->label,
				iscsi_get_error(ss[i]->ctx));
	}
}

void sess_service(struct sess *const *ss, int n, double secs,
		  const int *stop)
{
	double end = now_s() + secs;

	while (now_s() < end && !(stop && *stop))
		sess_service_once(ss, n, 10);
}

/* ------------------------------------------------------------- commands */

const char *status_name(int st)
{
	switch (st) {
	case ST_GOOD: return "GOOD";
	case ST_CHECK: return "CHECK CONDITION";
	case ST_CONFLICT: return "RESERVATION CONFLICT";
	case ST_TASK_ABORTED: return "TASK ABORTED";
	case ST_NONE: return "no response";
	default: return "other";
	}
}

void reply_from_task(struct reply *r, struct scsi_task *t)
{
	memset(r, 0, offsetof(struct reply, data));
	r->status = t->status;
	if (t->status == SCSI_STATUS_CHECK_CONDITION) {
		r->sense_key = t->sense.key;
		r->asc = t->sense.ascq;
		r->sksv = t->sense.sense_specific;
		r->cd = t->sense.ill_param_in_cdb;
		r->field = t->sense.field_pointer;
	}
	r->len = 0;
	if (t->datain.size > 0 && t->datain.data) {
		r->len = t->datain.size < (int)sizeof(r->data) ?
			 t->datain.size : (int)sizeof(r->data);
		memcpy(r->data, t->datain.data, (size_t)r->len);
	}
}

void cmd(struct sess *s, const uint8_t *cdb, int cdb_len, const void *out,
	 uint32_t out_len, uint32_t in_len, struct reply *r)
{
	struct scsi_task *t;
	struct iscsi_data d = { .size = out_len, .data = (unsigned char *)out };
	int dir = out_len ? SCSI_XFER_WRITE :
		  in_len ? SCSI_XFER_READ : SCSI_XFER_NONE;

	t = scsi_create_task(cdb_len, (unsigned char *)cdb, dir,
			     (int)(out_len ? out_len : in_len));
	if (!t)
		sc_fail("%s: scsi_create_task: out of memory", s->label);
	if (!iscsi_scsi_command_sync(s->ctx, s->lun, t, out_len ? &d : NULL)) {
		scsi_free_scsi_task(t);
		sc_fail("%s: transport error: %s", s->label,
			iscsi_get_error(s->ctx));
	}
	if (t->status == SCSI_STATUS_ERROR || t->status == SCSI_STATUS_CANCELLED ||
	    t->status == SCSI_STATUS_TIMEOUT) {
		int st = t->status;
		scsi_free_scsi_task(t);
		sc_fail("%s: command 0x%02x: transport status 0x%x: %s",
			s->label, cdb[0], st, iscsi_get_error(s->ctx));
	}
	reply_from_task(r, t);
	scsi_free_scsi_task(t);
}

void expect_status(const struct sess *s, const struct reply *r, int want)
{
	if (r->status == want)
		return;
	if (r->status == ST_CHECK)
		sc_fail("%s: %s (sense %x/%02x/%02x), want %s", s->label,
			status_name(r->status), r->sense_key, r->asc >> 8,
			r->asc & 0xff, status_name(want));
	sc_fail("%s: %s (0x%02x), want %s", s->label, status_name(r->status),
		r->status, status_name(want));
}

void expect_sense(const struct sess *s, const struct reply *r, int key,
		  int asc)
{
	if (r->status != ST_CHECK)
		sc_fail("%s: %s (0x%02x), want CHECK CONDITION %x/%02x/%02x",
			s->label, status_name(r->status), r->status, key,
			asc >> 8, asc & 0xff);
	if (r->sense_key != key || r->asc != asc)
		sc_fail("%s: sense %x/%02x/%02x, want %x/%02x/%02x", s->label,
			r->sense_key, r->asc >> 8, r->asc & 0xff, key,
			asc >> 8, asc & 0xff);
}

void tur(struct sess *s, struct reply *r)
{
	uint8_t cdb[6] = { 0 };

	cmd(s, cdb, 6, NULL, 0, 0, r);
}

void io10(struct sess *s, bool write, uint32_t lba, uint16_t nblocks,
	  struct reply *r)
{
	static uint8_t buf[64 * IT_BLOCK];
	uint8_t cdb[10] = { write ? 0x2A : 0x28 };

	if (nblocks > 64)
		sc_fail("%s: io10 of %u blocks (at most 64)", s->label, nblocks);
	put32(cdb + 2, lba);
	put16(cdb + 7, nblocks);
	memset(buf, write ? 0x5A : 0, sizeof(buf));
	if (write)
		cmd(s, cdb, 10, buf, nblocks * IT_BLOCK, 0, r);
	else
		cmd(s, cdb, 10, NULL, 0, nblocks * IT_BLOCK, r);
}

void write_expect(struct sess *s, int want)
{
	struct reply r;

	io10(s, true, 8, it_io_blocks, &r);
	expect_status(s, &r, want);
}

void read_expect(struct sess *s, int want)
{
	struct reply r;

	io10(s, false, 8, it_io_blocks, &r);
	expect_status(s, &r, want);
}

uint32_t read_block_size(struct sess *s)
{
	uint8_t rc10[10] = { 0x25 };
	struct reply r;

	cmd(s, rc10, 10, NULL, 0, 8, &r);
	expect_status(s, &r, ST_GOOD);
	return get32(r.data + 4);
}

void ua_drain(struct sess *s)
{
	struct reply r;

	for (int i = 0; i < 8; i++) {
		tur(s, &r);
		if (r.status == ST_GOOD)
			return;
		if (r.status != ST_CHECK || r.sense_key != SK_UA)
			sc_fail("%s: TEST UNIT READY: %s (sense %x/%04x)", s->label,
				status_name(r.status), r.sense_key, r.asc);
	}
	sc_fail("%s: more than 8 unit attentions pending", s->label);
}

/* MODE SENSE(10) of the control mode page (DBD) into r; the page. */
static const uint8_t *tas_page(struct sess *s, struct reply *r)
{
	uint8_t cdb[10] = { 0x5A, 0x08, 0x0A };

	put16(cdb + 7, 64);
	cmd(s, cdb, 10, NULL, 0, 64, r);
	expect_status(s, r, ST_GOOD);
	uint16_t bdl = get16(r->data + 6);
	const uint8_t *pg = r->data + 8 + bdl;
	if (r->len < 8 + bdl + 12 || (pg[0] & 0x3f) != 0x0A)
		sc_fail("%s: MODE SENSE: no control mode page", s->label);
	return pg;
}

bool tas_read(struct sess *s)
{
	struct reply r;

	return tas_page(s, &r)[5] & 0x40;
}

void tas_set(struct sess *s, bool tas)
{
	struct reply r;
	const uint8_t *pg = tas_page(s, &r);
	uint8_t p[8 + 12];

	memset(p, 0, 8);
	memcpy(p + 8, pg, 12);
	p[8] &= 0x3f;  /* PS is reserved in MODE SELECT */
	p[8 + 5] = (uint8_t)((p[8 + 5] & ~0x40) | (tas ? 0x40 : 0));
	uint8_t sel[10] = { 0x55, 0x10 };  /* MODE SELECT(10), PF */
	put16(sel + 7, sizeof(p));
	cmd(s, sel, 10, p, sizeof(p), 0, &r);
	expect_status(s, &r, ST_GOOD);
	EQ("TAS read back from the control mode page", tas_read(s), tas);
}

/* ------------------------------------------------- persistent reservations */

void pr_out_raw(struct sess *s, int sa, int type, const uint8_t *param,
		uint32_t len, struct reply *r)
{
	uint8_t cdb[10] = { 0x5F, (uint8_t)sa, (uint8_t)type };

	put32(cdb + 5, len);
	cmd(s, cdb, 10, param, len, 0, r);
}

void pr_out_tids(struct sess *s, int sa, int type, uint64_t key,
		 uint64_t sa_key, uint8_t flags, const uint8_t *tids,
		 uint32_t tids_len, struct reply *r)
{
	uint8_t p[1024];
	uint32_t len = 24;

	memset(p, 0, sizeof(p));
	put64(p, key);
	put64(p + 8, sa_key);
	p[20] = flags;
	if (flags & 0x08) {
		if (tids_len > sizeof(p) - 28)
			sc_fail("%s: %u bytes of TransportIDs", s->label,
				tids_len);
		put32(p + 24, tids_len);
		memcpy(p + 28, tids, tids_len);
		len = 28 + tids_len;
	}
	pr_out_raw(s, sa, type, p, len, r);
}

void pr_out(struct sess *s, int sa, int type, uint64_t key, uint64_t sa_key,
	    uint8_t flags, struct reply *r)
{
	pr_out_tids(s, sa, type, key, sa_key, flags, NULL, 0, r);
}

void pr_ok(struct sess *s, int sa, int type, uint64_t key, uint64_t sa_key,
	   uint8_t flags)
{
	struct reply r;

	pr_out(s, sa, type, key, sa_key, flags, &r);
	expect_status(s, &r, ST_GOOD);
}

static const char *const pr_out_name[] = {
	"REGISTER", "RESERVE", "RELEASE", "CLEAR", "PREEMPT",
	"PREEMPT AND ABORT", "REGISTER AND IGNORE EXISTING KEY",
	"REGISTER AND MOVE",
};

void pr_ok_alone(struct sess *s, int sa, int type, uint64_t key,
		 uint64_t sa_key, const char *why)
{
	static uint8_t param[24];  /* libiscsi sends it from here */
	uint8_t cdb[10] = { 0x5F, (uint8_t)sa, (uint8_t)type };
	const char *name = sa >= 0 && sa <= SA_REGISTER_MOVE ?
			   pr_out_name[sa] : "PR OUT";

	memset(param, 0, sizeof(param));
	put64(param, key);
	put64(param + 8, sa_key);
	put32(cdb + 5, sizeof(param));
	struct aio *io = aio_submit(s, cdb, 10, param, sizeof(param), 0);
	if (!aio_wait(io, (struct sess *[]){ s }, 1, 30))
		sc_fail("%s: no status for %s within 30 s (%s)", s->label, name,
			why);
	if (io->status != ST_GOOD)
		sc_fail("%s: %s: %s (sense %x/%04x), want GOOD", s->label, name,
			status_name(io->status), io->sense_key, io->asc);
}

void pr_in(struct sess *s, int sa, uint16_t alloc, struct reply *r)
{
	uint8_t cdb[10] = { 0x5E, (uint8_t)sa };

	put16(cdb + 7, alloc);
	cmd(s, cdb, 10, NULL, 0, alloc, r);
	expect_status(s, r, ST_GOOD);
}

int pr_in_bytes(struct sess *s, int sa, uint8_t *buf, uint16_t size)
{
	struct reply r;

	pr_in(s, sa, size, &r);
	memcpy(buf, r.data, (size_t)r.len);
	return r.len;
}

void read_keys(struct sess *s, struct keys *k)
{
	struct reply r;

	pr_in(s, IN_READ_KEYS, 4096, &r);
	if (r.len < 8)
		sc_fail("%s: READ KEYS: %d bytes", s->label, r.len);
	k->gen = get32(r.data);
	uint32_t addl = get32(r.data + 4);
	if (addl % 8 || 8 + addl > (uint32_t)r.len)
		sc_fail("%s: READ KEYS: ADDITIONAL LENGTH %u, %d bytes",
			s->label, addl, r.len);
	k->n = (int)(addl / 8);
	for (int i = 0; i < k->n && i < 64; i++)
		k->key[i] = get64(r.data + 8 + 8 * i);
}

bool keys_has(const struct keys *k, uint64_t key)
{
	for (int i = 0; i < k->n; i++)
		if (k->key[i] == key)
			return true;
	return false;
}

void read_resv(struct sess *s, struct resv *v)
{
	struct reply r;

	pr_in(s, IN_READ_RESERVATION, 256, &r);
	if (r.len < 8)
		sc_fail("%s: READ RESERVATION: %d bytes", s->label, r.len);
	memset(v, 0, sizeof(*v));
	v->gen = get32(r.data);
	uint32_t addl = get32(r.data + 4);
	if (addl == 0)
		return;
	if (addl != 16 || r.len < 24)
		sc_fail("%s: READ RESERVATION: ADDITIONAL LENGTH %u (want 0 or 16)",
			s->label, addl);
	v->held = true;
	v->key = get64(r.data + 8);
	v->scope = r.data[21] >> 4;
	v->type = r.data[21] & 0x0f;
}

void parse_full_status(const struct sess *s, const uint8_t *b, int len,
		       struct full_status *fs)
{
	memset(fs, 0, sizeof(*fs));
	if (len < 8)
		sc_fail("%s: READ FULL STATUS: %d bytes", s->label, len);
	fs->raw_len = len < (int)sizeof(fs->raw) ? len : (int)sizeof(fs->raw);
	memcpy(fs->raw, b, (size_t)fs->raw_len);
	fs->gen = get32(b);
	fs->addl = get32(b + 4);
	uint32_t end = 8 + fs->addl, off = 8;
	if (end > (uint32_t)len)
		sc_fail("%s: READ FULL STATUS: ADDITIONAL LENGTH %u, %d bytes",
			s->label, fs->addl, len);
	while (off + 24 <= end && fs->n < 16) {
		struct fs_desc *d = &fs->d[fs->n++];
		d->key = get64(b + off);
		d->all_tg_pt = b[off + 12] & 0x02;
		d->r_holder = b[off + 12] & 0x01;
		d->scope = b[off + 13] >> 4;
		d->type = b[off + 13] & 0x0f;
		d->rtpi = get16(b + off + 18);
		d->tid_len = get32(b + off + 20);
		if (off + 24 + d->tid_len > end || d->tid_len > sizeof(d->tid))
			sc_fail("%s: READ FULL STATUS: descriptor %d: TransportID"
				" length %u runs past the data", s->label,
				fs->n, d->tid_len);
		memcpy(d->tid, b + off + 24, d->tid_len);
		off += 24 + d->tid_len;
	}
	if (off != end)
		sc_fail("%s: READ FULL STATUS: descriptors end at %u, ADDITIONAL"
			" LENGTH says %u", s->label, off, end);
}

void read_full_status(struct sess *s, struct full_status *fs)
{
	struct reply r;

	pr_in(s, IN_READ_FULL_STATUS, 8192, &r);
	parse_full_status(s, r.data, r.len, fs);
}

void report_caps(struct sess *s, struct caps *c)
{
	struct reply r;

	pr_in(s, IN_REPORT_CAPS, 8, &r);
	if (r.len < 8 || get16(r.data) != 8)
		sc_fail("%s: REPORT CAPABILITIES: %d bytes, LENGTH %u", s->label,
			r.len, r.len >= 2 ? get16(r.data) : 0);
	c->crh = r.data[2] & 0x10;
	c->sip_c = r.data[2] & 0x08;
	c->atp_c = r.data[2] & 0x04;
	c->ptpl_c = r.data[2] & 0x01;
	c->tmv = r.data[3] & 0x80;
	c->ptpl_a = r.data[3] & 0x01;
	c->types = get16(r.data + 4);
}

uint32_t tid_build(uint8_t *b, const char *name, const uint8_t *isid)
{
	char str[300];
	size_t n;
	uint32_t total;

	if (isid)
		snprintf(str, sizeof(str), "%s,i,0x%02x%02x%02x%02x%02x%02x",
			 name, isid[0], isid[1], isid[2], isid[3], isid[4],
			 isid[5]);
	else
		snprintf(str, sizeof(str), "%s", name);
	n = strlen(str);
	total = (uint32_t)(4 + ((n + 1 + 3) & ~(size_t)3));
	if (total < 24)
		total = 24;
	memset(b, 0, total);
	b[0] = (uint8_t)((isid ? 0x40 : 0x00) | 0x05);
	put16(b + 2, (uint16_t)(total - 4));
	memcpy(b + 4, str, n);
	return total;
}

uint32_t tid_of(uint8_t *b, const struct sess *s)
{
	return tid_build(b, s->name, s->isid);
}

const struct fs_desc *fs_find(const struct full_status *fs,
			      const uint8_t *tid, uint32_t len,
			      const char *who)
{
	for (int i = 0; i < fs->n; i++)
		if (fs->d[i].tid_len == len && !memcmp(fs->d[i].tid, tid, len))
			return &fs->d[i];
	sc_fail("READ FULL STATUS lists no registration for %s (%d listed)",
		who, fs->n);
}

const struct fs_desc *fs_find_sess(const struct full_status *fs,
				   const struct sess *s)
{
	uint8_t tid[256];
	uint32_t len = tid_of(tid, s);

	return fs_find(fs, tid, len, s->label);
}

void move_param(uint8_t *p, uint32_t *len, uint64_t key, uint64_t sa_key,
		bool unreg, uint16_t rtpi, const struct sess *dest)
{
	memset(p, 0, 512);
	put64(p, key);
	put64(p + 8, sa_key);
	p[17] = unreg ? 0x02 : 0;
	put16(p + 18, rtpi);
	uint32_t tl = tid_of(p + 24, dest);
	put32(p + 20, tl);
	*len = 24 + tl;
}

uint32_t pr_clean(struct sess *s)
{
	struct keys k;
	struct resv v;

	step("clean start: READ KEYS");
	read_keys(s, &k);
	if (k.n) {
		step("clean start: REGISTER AND IGNORE + CLEAR");
		pr_ok(s, SA_REGISTER_IGNORE, 0, 0, 0xC1EA4, 0);
		pr_ok(s, SA_CLEAR, 0, 0xC1EA4, 0, 0);
		read_keys(s, &k);
		EQ("keys after CLEAR", k.n, 0);
	}
	read_resv(s, &v);
	EQ("reservation held at the start", v.held, 0);
	return k.gen;
}

uint32_t sc_begin(struct sess *const *ss, int n)
{
	for (int i = 0; i < n; i++)
		ua_drain(ss[i]);
	uint32_t g0 = pr_clean(ss[0]);
	for (int i = 0; i < n; i++)
		ua_drain(ss[i]);
	return g0;
}
