/*
 * scsi_it: what the libiscsi integration scenarios (pr_scenarios.c, one
 * ctgtd; cluster_pr.c, one LU across the nodes of a cluster) share: an
 * initiator port logged in through one target port (struct sess), a
 * scenario's steps and failures (step, EQ, sc_fail: longjmp back to
 * sc_call), SCSI commands sent synchronously (cmd) or queued (aio_*),
 * status and sense expectations, PERSISTENT RESERVE OUT / IN built by
 * hand and PR IN data (READ KEYS, READ RESERVATION, READ FULL STATUS,
 * REPORT CAPABILITIES) decoded here, independently of src/pr, so that
 * the target's encoding is what is under test.
 *
 * Deliberately NOT here: the scenarios themselves, their names and the
 * PASS / FAIL / SKIP line each program prints, option parsing, and
 * anything that starts, stops or kills ctgtd or a cluster node.
 *
 * The names are the scenarios' vocabulary (step, EQ, pr_ok, read_keys):
 * a scenario reads as the sequence of commands it sends.
 */
#ifndef CTGT_TESTS_SCSI_IT_H
#define CTGT_TESTS_SCSI_IT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

/* ------------------------------------------------------------ constants */

#define IT_BLOCK 512u           /* the LUs' block size in the test setups */
#define IT_PORTS_MAX 3          /* target ports (nodes) 1..3 */

/* SPC-4 6.16.2, table 170 / 6.15.1, table 160 */
enum { SA_REGISTER = 0, SA_RESERVE, SA_RELEASE, SA_CLEAR, SA_PREEMPT,
       SA_PREEMPT_ABORT, SA_REGISTER_IGNORE, SA_REGISTER_MOVE };
enum { IN_READ_KEYS = 0, IN_READ_RESERVATION, IN_REPORT_CAPS,
       IN_READ_FULL_STATUS };
/* SPC-4 6.15.3.3, table 165 */
enum { TYPE_WR_EX = 1, TYPE_EX_AC = 3, TYPE_WR_EX_RO = 5 };

#define ST_GOOD 0x00
#define ST_CHECK 0x02
#define ST_CONFLICT 0x18
#define ST_TASK_ABORTED 0x40
#define ST_NONE (-1)            /* no response (yet) */

#define SK_NOT_READY 0x2
#define SK_ILLEGAL 0x5
#define SK_UA 0x6
#define SK_MISCOMPARE 0xE

/* ASC/ASCQ as 16 bits (libiscsi's sense.ascq) */
#define ASC_INVALID_FIELD_PARAM 0x2600
#define ASC_RESET_OCCURRED 0x2903     /* BUS DEVICE RESET FUNCTION OCCURRED */
#define ASC_REGS_PREEMPTED 0x2A05
#define ASC_RES_PREEMPTED 0x2A03
#define ASC_RES_RELEASED 0x2A04
#define ASC_ALUA_CHANGED 0x2A06
#define ASC_CMDS_CLEARED 0x2F00
#define ASC_MISCOMPARE 0x1D00         /* MISCOMPARE DURING VERIFY */

/* What the program's options set before the first scenario. */
extern const char *it_target;                      /* the target's IQN */
extern const char *it_portal[IT_PORTS_MAX + 1];    /* HOST:PORT of port i */
extern const char *it_ini[IT_PORTS_MAX + 1];       /* initiator i's name */
/* Blocks that write_expect / read_expect move at LBA 8. */
extern uint16_t it_io_blocks;

/* ------------------------------------------------------ failure handling */

/* A scenario fails (or skips) by longjmp back to sc_call, with sc_msg
 * "STEP: what" (or the reason to skip). */
extern char sc_msg[1024];
extern int sc_steps;

void sc_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void sc_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
/* A step: names what the following checks are about. */
void step(const char *name);
void stepf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs fn(arg) as one scenario: 0 it passed, 1 it failed, 2 it skipped
 * (sc_msg says why). Every session is closed and every queued task freed
 * afterwards. */
int sc_call(void (*fn)(void *), void *arg);

#define EQ(what, a, b)                                                    \
	do {                                                              \
		long long eq_a_ = (long long)(a), eq_b_ = (long long)(b);  \
		if (eq_a_ != eq_b_)                                       \
			sc_fail("%s: %s == %s (0x%llx == 0x%llx)", (what), \
				#a, #b, eq_a_, eq_b_);                    \
	} while (0)

/* ------------------------------------------------------------ byte helpers */

void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
void put64(uint8_t *p, uint64_t v);
uint16_t get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
uint64_t get64(const uint8_t *p);

double now_s(void);
void sleep_s(double s);

/* --------------------------------------------------------------- sessions */

/* One I_T nexus: an initiator port (name + ISID) logged in through one
 * target port (RTPI = port; in a cluster, the node). */
struct sess {
	const char *label;        /* "A@1" */
	struct iscsi_context *ctx;
	const char *name;
	uint8_t isid[6];
	int rtpi;
	int lun;
};

#define MAX_SESS 8

/* A context logged in to port's portal, or NULL (error in err). */
struct iscsi_context *ctx_login(const char *name, uint32_t isid_rnd,
				uint16_t qual, int port, int lun, char *err,
				size_t errlen);
/* Logs initiator ini in through port, ISID 80h + isid_rnd (24 bits) +
 * qualifier 100h + ini, so that TransportIDs can name the port. */
void sess_open(struct sess *s, const char *label, int ini, int port,
	       uint32_t isid_rnd, int lun);
/* Logs s out (mid-scenario). */
void sess_close(struct sess *s);
/* Drops s without a logout: its node is gone. */
void sess_drop(struct sess *s);
/* Logs out every open session; frees every queued task (aio_free_all). */
void sess_close_all(void);

/* One poll (up to timeout_ms) and one iscsi_service() per session. */
void sess_service_once(struct sess *const *ss, int n, int timeout_ms);
/* Services the sessions for secs, or until *stop is non-zero. */
void sess_service(struct sess *const *ss, int n, double secs,
		  const int *stop);

/* ------------------------------------------------------------- commands */

struct reply {
	int status;             /* SCSI status, or ST_NONE */
	int sense_key;
	int asc;                /* ASC << 8 | ASCQ */
	bool sksv;              /* sense-key specific: field pointer valid */
	bool cd;                /* field pointer in the CDB */
	int field;
	uint8_t data[8192];
	int len;                /* data-in bytes received */
};

const char *status_name(int st);
void reply_from_task(struct reply *r, struct scsi_task *t);
/* Runs one command synchronously; a transport error fails the scenario. */
void cmd(struct sess *s, const uint8_t *cdb, int cdb_len, const void *out,
	 uint32_t out_len, uint32_t in_len, struct reply *r);
void expect_status(const struct sess *s, const struct reply *r, int want);
void expect_sense(const struct sess *s, const struct reply *r, int key,
		  int asc);

/* An asynchronous command. The task is freed only once the contexts are
 * gone (aio_free_all): libiscsi may cancel it with no task pointer, and
 * after an early response (TASK ABORTED while Data-Out is still queued)
 * it still sends that data from the task's buffer. */
struct aio {
	struct scsi_task *task;
	int status;       /* ST_NONE until the callback */
	int sense_key, asc;
	int phase;        /* aio_phase when it completed */
	bool used;
};

extern int aio_phase;     /* the scenario's phase, stamped on completion */
extern int aio_pending;   /* queued, not answered */
extern char aio_err[256]; /* libiscsi's error of the last failed one */
/* When this one completes, aio_phase becomes 2: responses processed
 * after it, even in the same iscsi_service() call, are "after" it. */
extern struct aio *aio_probe;

/* Queues cdb on s; the result lands in the returned aio. */
struct aio *aio_submit(struct sess *s, const uint8_t *cdb, int cdb_len,
		       const void *out, uint32_t out_len, uint32_t in_len);
/* Releases an answered aio (its task is no longer libiscsi's). */
void aio_release(struct aio *io);
void aio_free_all(void);
/* Services ss until io is answered or secs pass; false if it was not. */
bool aio_wait(struct aio *io, struct sess *const *ss, int n, double secs);

/* Queues n WRITE(10)s of bytes each on s, write i at lba + i * bytes /
 * bs, lets the commands and their immediate data leave but none of the
 * solicited data, and waits until the target has answered each with an
 * R2T: then they are all in s's task set, waiting for data that s
 * withholds. */
void writes_withheld(struct sess *s, struct aio **w, int n, uint32_t lba,
		     uint32_t bytes, uint32_t bs);
/* The probe after an abort: a TEST UNIT READY on s, queued in phase 1
 * and serviced with ss until answered (60 s); responses processed after
 * its own, even in the same iscsi_service() call, are phase 2. Then 2 s
 * more of service for late responses. */
struct aio *probe_after(struct sess *s, struct sess *const *ss, int n);
/* Each of the n writes must have been aborted (SAM-5 5.6): with TAS = 1
 * ended with TASK ABORTED before the probe's response (phase < 2), with
 * TAS = 0 without any status; never completed. Returns how many. */
int writes_aborted(struct aio *const *w, int n, bool tas);

/* The unit attentions s reports after an event: the probe's (if not
 * NULL and it ended with one), then those of up to 4 TEST UNIT READYs,
 * until GOOD. Anything but a UA fails. */
struct ua_seen {
	int n;
	int asc[8];
};
void ua_collect(struct sess *s, const struct aio *probe, struct ua_seen *u);
bool ua_seen_has(const struct ua_seen *u, int asc);

void tur(struct sess *s, struct reply *r);
/* WRITE(10) / READ(10) of nblocks at lba. */
void io10(struct sess *s, bool write, uint32_t lba, uint16_t nblocks,
	  struct reply *r);
/* it_io_blocks at LBA 8, expecting status want. */
void write_expect(struct sess *s, int want);
void read_expect(struct sess *s, int want);
/* READ CAPACITY(10): the logical block length. */
uint32_t read_block_size(struct sess *s);
/* Reports and clears this nexus's pending unit attentions (setup only). */
void ua_drain(struct sess *s);

/* TAS in the control mode page (SPC-4 7.5.8) of s's port. */
bool tas_read(struct sess *s);
void tas_set(struct sess *s, bool tas);

/* ------------------------------------------------- persistent reservations */

/* PERSISTENT RESERVE OUT (SPC-4 6.16.1, table 169) with a raw list. */
void pr_out_raw(struct sess *s, int sa, int type, const uint8_t *param,
		uint32_t len, struct reply *r);
/* The basic parameter list (SPC-4 6.16.3, table 174): flags is byte 20
 * (SPEC_I_PT 08h, ALL_TG_PT 04h, APTPL 01h); tids/tids_len: the
 * TransportID list for SPEC_I_PT. */
void pr_out_tids(struct sess *s, int sa, int type, uint64_t key,
		 uint64_t sa_key, uint8_t flags, const uint8_t *tids,
		 uint32_t tids_len, struct reply *r);
/* pr_out_tids without TransportIDs. */
void pr_out(struct sess *s, int sa, int type, uint64_t key, uint64_t sa_key,
	    uint8_t flags, struct reply *r);
/* pr_out expecting GOOD. */
void pr_ok(struct sess *s, int sa, int type, uint64_t key, uint64_t sa_key,
	   uint8_t flags);
/* pr_ok, but queued on s and serviced alone (the other sessions are not
 * read meanwhile) until its status: GOOD within 30 s, else fail (why:
 * what a missing status would mean). */
void pr_ok_alone(struct sess *s, int sa, int type, uint64_t key,
		 uint64_t sa_key, const char *why);
/* PERSISTENT RESERVE IN, expecting GOOD. */
void pr_in(struct sess *s, int sa, uint16_t alloc, struct reply *r);
/* pr_in's parameter data into buf (at most size bytes); its length. */
int pr_in_bytes(struct sess *s, int sa, uint8_t *buf, uint16_t size);

struct keys {
	uint32_t gen;
	int n;
	uint64_t key[64];
};

/* READ KEYS (SPC-4 6.15.2) */
void read_keys(struct sess *s, struct keys *k);
bool keys_has(const struct keys *k, uint64_t key);

struct resv {
	uint32_t gen;
	bool held;
	uint64_t key;
	int scope, type;
};

/* READ RESERVATION (SPC-4 6.15.3) */
void read_resv(struct sess *s, struct resv *v);

/* One READ FULL STATUS descriptor (SPC-4 6.15.5, table 167). */
struct fs_desc {
	uint64_t key;
	bool all_tg_pt, r_holder;
	int scope, type;
	uint16_t rtpi;
	uint8_t tid[256];
	uint32_t tid_len;
};

struct full_status {
	uint32_t gen;
	uint32_t addl;
	int n;
	struct fs_desc d[16];
	uint8_t raw[8192];     /* the parameter data as received */
	int raw_len;
};

void parse_full_status(const struct sess *s, const uint8_t *b, int len,
		       struct full_status *fs);
void read_full_status(struct sess *s, struct full_status *fs);

/* REPORT CAPABILITIES (SPC-4 6.15.4): byte 2 and 3 flags. */
struct caps {
	bool crh, sip_c, atp_c, ptpl_c, tmv, ptpl_a;
	uint16_t types;
};

void report_caps(struct sess *s, struct caps *c);

/* TransportID for iSCSI (SPC-4 7.6.4.6, table 508): format 00b the name,
 * 01b "name,i,0x<ISID>"; NUL-terminated, padded to a multiple of 4, at
 * least 24 bytes. Returns its length. */
uint32_t tid_build(uint8_t *b, const char *name, const uint8_t *isid);
/* s's initiator port (format 01b). */
uint32_t tid_of(uint8_t *b, const struct sess *s);

/* The registration (descriptor) for TransportID tid, or fail. */
const struct fs_desc *fs_find(const struct full_status *fs,
			      const uint8_t *tid, uint32_t len,
			      const char *who);
/* The registration of s's initiator port, or fail. */
const struct fs_desc *fs_find_sess(const struct full_status *fs,
				   const struct sess *s);

/* The REGISTER AND MOVE parameter list (SPC-4 6.16.4, table 176) into p
 * (512 bytes): move to dest's TransportID at RTPI rtpi. */
void move_param(uint8_t *p, uint32_t *len, uint64_t key, uint64_t sa_key,
		bool unreg, uint16_t rtpi, const struct sess *dest);

/* A clean PR state on s's LU: whatever an earlier run left is cleared
 * (REGISTER AND IGNORE EXISTING KEY, then CLEAR; SPC-4 5.14.11.3), then
 * READ KEYS must list nothing. Returns the generation to count from. */
uint32_t pr_clean(struct sess *s);
/* The start of a scenario on open sessions: drains their UAs and cleans
 * the PR state through the first; returns the generation. */
uint32_t sc_begin(struct sess *const *ss, int n);

#endif
