/*
 * Persistent-reservation scenarios against a running ctgtd, over libiscsi:
 * the sequences real clusters send (fence_scsi, PREEMPT AND ABORT with
 * writes in flight, REGISTER AND MOVE, SPEC_I_PT, ALL_TG_PT, READ FULL
 * STATUS, APTPL across a restart), step by step, checking status, sense
 * (key/ASC/ASCQ, field pointer), keys, reservation and PRgeneration.
 *
 * Every PR command is built by hand (CDB and parameter list bytes) and the
 * PR IN data is decoded (scsi_it.[ch], shared with cluster_pr.c),
 * independently of src/pr, so the target's encoding is what is under
 * test. One line per scenario on stdout:
 * "PASS pr.NAME (detail)", "FAIL pr.NAME: step: what", "SKIP pr.NAME:
 * reason" (run.sh's format); exit status 1 if any scenario failed.
 *
 * Deliberately NOT here: starting or killing ctgtd (run.sh does that; the
 * APTPL scenario runs in two invocations, --phase before/after, around
 * the restart), the conflict table exhaustively (tests/unit/pr does that
 * on the pure engine), and anything libiscsi's iscsi-test-cu already
 * covers command by command.
 *
 *   pr_scenarios --portal1 HOST:PORT --portal2 HOST:PORT --target IQN
 *                --ini1 NAME --ini2 NAME --lun-base N [--only NAME]
 *                [--phase aptpl-before|aptpl-after --state FILE] [--list]
 *
 * --list prints the names of the scenarios the same arguments would run,
 * so the runner can tell a scenario that printed nothing (a crash).
 * Scenario k uses LUN lun-base + k (a fresh LUN each; 7 and 8 are the
 * APTPL ones, 9 the SCSI-2 one); each also clears
 * what an earlier run may have left (REGISTER AND IGNORE + CLEAR) and
 * checks generations relative to where it started.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "scsi_it.h"

static const char *o_only, *o_phase, *o_state;
static int o_lun_base = 0;
static bool o_list;  /* --list: print the scenario names only */
static int n_failed;

/* ------------------------------------------------------------ scenarios */

#define KEY_A 0xA1A1A1A1A1A1A1A1ull
#define KEY_B 0xB2B2B2B2B2B2B2B2ull
#define KEY_M 0x4D4D00000000004Dull
#define KEY_A2 0xA2A20000000000A2ull

/*
 * 1. fence_scsi (the cluster fencing agent's sequence):
 *
 *   node A (ini1) --- port 1 (RTPI 1) ---+
 *                                        +--- LU
 *   node B (ini2) --- port 2 (RTPI 2) ---+
 *
 * Both register with REGISTER AND IGNORE EXISTING KEY, A reserves Write
 * Exclusive - Registrants Only, both write; B fences A with PREEMPT AND
 * ABORT of A's key: A's next command reports 2A/05 REGISTRATIONS
 * PREEMPTED (SPC-4 5.14.11.2.4, table 49), then A's writes conflict while
 * its reads run (table 63, WR_EX_RO, not registered). A unfences by
 * registering again and can write.
 */
static void sc_fence_scsi(int lun)
{
	struct sess A, B;
	struct reply r;
	struct keys k;
	struct resv v;

	sess_open(&A, "A@1", 1, 1, 0x00A001, lun);
	sess_open(&B, "B@2", 2, 2, 0x00B002, lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B }, 2);

	step("A REGISTER AND IGNORE EXISTING KEY");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY_A, 0);
	step("B REGISTER AND IGNORE EXISTING KEY");
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY_B, 0);
	step("READ KEYS after both registered");
	read_keys(&B, &k);
	EQ("PRgeneration", k.gen, g0 + 2);
	EQ("number of keys", k.n, 2);
	EQ("A's key listed", keys_has(&k, KEY_A), 1);
	EQ("B's key listed", keys_has(&k, KEY_B), 1);

	step("A RESERVE WR_EX_RO");
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX_RO, KEY_A, 0, 0);
	step("READ RESERVATION after A reserved");
	read_resv(&B, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, KEY_A);
	EQ("type", v.type, TYPE_WR_EX_RO);
	EQ("scope", v.scope, 0);
	EQ("PRgeneration (RESERVE does not count)", v.gen, g0 + 2);

	step("B (registrant) writes under WR_EX_RO");
	write_expect(&B, ST_GOOD);
	step("A (holder) writes");
	write_expect(&A, ST_GOOD);

	step("B PREEMPT AND ABORT A's key");
	pr_ok(&B, SA_PREEMPT_ABORT, TYPE_WR_EX_RO, KEY_B, KEY_A, 0);
	step("READ KEYS after the preemption");
	read_keys(&B, &k);
	EQ("PRgeneration", k.gen, g0 + 3);
	EQ("number of keys", k.n, 1);
	EQ("only B's key", k.key[0], KEY_B);
	step("READ RESERVATION after the preemption");
	read_resv(&B, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key (B took it over)", v.key, KEY_B);
	EQ("type", v.type, TYPE_WR_EX_RO);

	step("A's first write after the preemption: UA REGISTRATIONS PREEMPTED");
	io10(&A, true, 8, 8, &r);
	expect_sense(&A, &r, SK_UA, ASC_REGS_PREEMPTED);
	step("A writes again: RESERVATION CONFLICT");
	write_expect(&A, ST_CONFLICT);
	step("A reads (WR_EX_RO lets everyone read)");
	read_expect(&A, ST_GOOD);
	step("A REGISTER with its old key: not registered any more");
	pr_out(&A, SA_REGISTER, 0, KEY_A, KEY_A, 0, &r);
	expect_status(&A, &r, ST_CONFLICT);
	step("B writes");
	write_expect(&B, ST_GOOD);

	step("A unfences: REGISTER AND IGNORE EXISTING KEY");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY_A, 0);
	read_keys(&A, &k);
	EQ("PRgeneration", k.gen, g0 + 4);
	EQ("number of keys", k.n, 2);
	step("A (registrant again) writes");
	write_expect(&A, ST_GOOD);
	step("B still holds the reservation");
	read_resv(&A, &v);
	EQ("holder key", v.key, KEY_B);
}

/*
 * 2. PREEMPT AND ABORT with the victim's writes in flight:
 *
 *   victim A (ini1) --- port 1 --+   N x WRITE(10) of 256 KiB, each with
 *                                |   64 KiB immediate data, waiting for
 *                                +-- LU (RAM)      the data of their R2T
 *   B (ini2) ---------- port 2 --+   PREEMPT AND ABORT A's key
 *
 * SPC-4 5.14.11.2.4 / SAM-5 5.6: the device server aborts every task of
 * the preempted I_T nexuses; with TAS = 0 an aborted task gets no status
 * at all (the victim learns it from 2F/00 COMMANDS CLEARED BY ANOTHER
 * INITIATOR or, here, 2A/05), with TAS = 1 it ends with TASK ABORTED.
 *
 * A sends its N writes and answers none of the R2Ts; once the target has
 * sent an R2T for every write (bytes in A's receive queue, not read), the
 * writes are in A's task set, and B sends PREEMPT AND ABORT while A stays
 * silent: the target must end A's tasks without their data. After B's
 * GOOD, A is serviced again (its late Data-Out must be discarded, RFC 7143
 * 11.5.1) and sends a probe (TEST UNIT READY). Per write of A:
 *   - TAS = 0: no response at all, ever (2 s after the probe);
 *   - TAS = 1: TASK ABORTED, before the probe's response;
 *   - never GOOD, RESERVATION CONFLICT or CHECK CONDITION: it was in the
 *     task set before the preemption, so it is aborted, not completed.
 * Then A sees 2A/05 REGISTRATIONS PREEMPTED (and, with TAS = 0, 2F/00
 * COMMANDS CLEARED BY ANOTHER INITIATOR), and its next write conflicts.
 * N = 24 and 64; TAS set with MODE SELECT (control mode page, SPC-4
 * 7.5.8).
 */
#define PA_MAX 64
#define PA_BLOCKS 512     /* 256 KiB */

static void sc_preempt_abort(int lun, bool tas, int nw, char *detail,
			     size_t dlen)
{
	struct sess A, B;
	struct aio *w[PA_MAX];

	if (nw > PA_MAX)
		sc_fail("at most %d writes", PA_MAX);
	struct keys k;

	sess_open(&A, "A@1", 1, 1, 0x00A011, lun);
	sess_open(&B, "B@2", 2, 2, 0x00B012, lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B }, 2);
	step("set TAS in the control mode page");
	tas_set(&A, tas);
	ua_drain(&B);  /* 2A/01 MODE PARAMETERS CHANGED */

	step("A and B register, A reserves WR_EX_RO");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY_A, 0);
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY_B, 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX_RO, KEY_A, 0, 0);

	step("A queues its writes of 256 KiB");
	aio_phase = 0;
	writes_withheld(&A, w, nw, 0, PA_BLOCKS * IT_BLOCK, IT_BLOCK);
	if (aio_pending != nw)
		sc_fail("A: %d writes completed before the preemption (none"
			" should: A withholds their data)", nw - aio_pending);

	step("B PREEMPT AND ABORT A's key while A's writes are in flight");
	/* A stays silent meanwhile (its R2Ts unanswered): the target must
	 * end A's tasks without waiting for their data. */
	pr_ok_alone(&B, SA_PREEMPT_ABORT, TYPE_WR_EX_RO, KEY_B, KEY_A,
		    "A not sending its solicited data");

	step("A's probe after B's GOOD");
	struct aio *probe = probe_after(&A, (struct sess *[]){ &A, &B }, 2);

	/* Every write was in A's task set at the preemption (each had its
	 * R2T): SAM-5 5.6 / SPC-4 5.14.11.2.4 want each aborted, with no
	 * status (TAS = 0) or TASK ABORTED (TAS = 1), and never completed. */
	int n_aborted = writes_aborted(w, nw, tas);

	step("A's unit attentions: 2A/05 reported once, 2F/00 with TAS = 0");
	struct ua_seen u;
	ua_collect(&A, probe, &u);
	EQ("A saw 2A/05 REGISTRATIONS PREEMPTED",
	   ua_seen_has(&u, ASC_REGS_PREEMPTED), 1);
	/* SAM-5 5.6: TAS = 0, tasks aborted by another I_T nexus: UA 2F/00
	 * COMMANDS CLEARED BY ANOTHER INITIATOR for the nexus that lost them
	 * (here all of them were still waiting for their Data-Out); TAS = 1:
	 * TASK ABORTED instead, no 2F/00. */
	EQ("A saw 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR",
	   ua_seen_has(&u, ASC_CMDS_CLEARED), !tas);

	step("A writes after the preemption: RESERVATION CONFLICT");
	write_expect(&A, ST_CONFLICT);
	step("READ KEYS: only B");
	read_keys(&B, &k);
	EQ("number of keys", k.n, 1);
	EQ("B's key", k.key[0], KEY_B);
	EQ("PRgeneration", k.gen, g0 + 3);
	snprintf(detail, dlen, "TAS=%d: %d writes waiting for data, %d aborted %s",
		 tas, nw, n_aborted,
		 tas ? "with TASK ABORTED" : "without status");
	/* leave TAS as configured by default (1) for later users */
	step("restore TAS = 1");
	ua_drain(&B);
	tas_set(&B, true);
}

/*
 * 3. REGISTER AND MOVE (SPC-4 5.14.8, 6.16.4):
 *
 *   holder A (ini1) --- port 1 (RTPI 1) ---+
 *                                          +--- LU
 *   B (ini2) ---------- port 2 (RTPI 2) ---+
 *
 * A moves its WR_EX reservation to B's I_T nexus (B's TransportID +
 * RTPI 2): B, unregistered, is registered with the SERVICE ACTION
 * RESERVATION KEY and holds; A stays registered (UNREG = 0). Then B moves
 * it back to A (unregistered by then) with UNREG = 1: B's registration
 * is gone. A move to an RTPI that does not exist is refused with
 * ILLEGAL REQUEST / INVALID FIELD IN PARAMETER LIST and changes nothing.
 */
static void sc_register_move(int lun)
{
	struct sess A, B;
	struct reply r;
	struct resv v;
	struct keys k;
	struct full_status fs;
	uint8_t p[512], tidA[256], tidB[256];
	uint32_t len;

	sess_open(&A, "A@1", 1, 1, 0x00A021, lun);
	sess_open(&B, "B@2", 2, 2, 0x00B022, lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B }, 2);
	uint32_t la = tid_of(tidA, &A), lb = tid_of(tidB, &B);

	step("A registers and reserves WR_EX");
	pr_ok(&A, SA_REGISTER, 0, 0, KEY_A, 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX, KEY_A, 0, 0);

	step("B (not registered) cannot move it");
	move_param(p, &len, KEY_B, KEY_M, false, 1, &A);
	pr_out_raw(&B, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_status(&B, &r, ST_CONFLICT);

	step("A REGISTER AND MOVE to B@RTPI 2, UNREG = 0");
	move_param(p, &len, KEY_A, KEY_M, false, 2, &B);
	pr_out_raw(&A, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_status(&A, &r, ST_GOOD);
	step("READ RESERVATION after the move");
	read_resv(&A, &v);
	EQ("holder key = SERVICE ACTION RESERVATION KEY", v.key, KEY_M);
	EQ("type", v.type, TYPE_WR_EX);
	EQ("PRgeneration", v.gen, g0 + 2);
	step("READ FULL STATUS after the move");
	read_full_status(&B, &fs);
	EQ("registrations", fs.n, 2);
	const struct fs_desc *da = fs_find(&fs, tidA, la, "A");
	const struct fs_desc *db = fs_find(&fs, tidB, lb, "B");
	EQ("A's key", da->key, KEY_A);
	EQ("A R_HOLDER", da->r_holder, 0);
	EQ("A RTPI", da->rtpi, 1);
	EQ("B's key", db->key, KEY_M);
	EQ("B R_HOLDER", db->r_holder, 1);
	EQ("B type", db->type, TYPE_WR_EX);
	EQ("B RTPI", db->rtpi, 2);
	EQ("B ALL_TG_PT", db->all_tg_pt, 0);
	step("B (new holder) writes, A (registrant of WR_EX) conflicts");
	write_expect(&B, ST_GOOD);
	write_expect(&A, ST_CONFLICT);
	read_expect(&A, ST_GOOD);

	step("A unregisters");
	pr_ok(&A, SA_REGISTER, 0, KEY_A, 0, 0);
	step("B REGISTER AND MOVE back to A@RTPI 1, UNREG = 1");
	move_param(p, &len, KEY_M, KEY_A2, true, 1, &A);
	pr_out_raw(&B, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_status(&B, &r, ST_GOOD);
	step("READ FULL STATUS after the move back");
	read_full_status(&A, &fs);
	EQ("registrations (B unregistered itself)", fs.n, 1);
	da = fs_find(&fs, tidA, la, "A");
	EQ("A's key = SERVICE ACTION RESERVATION KEY", da->key, KEY_A2);
	EQ("A R_HOLDER", da->r_holder, 1);
	EQ("A RTPI", da->rtpi, 1);
	EQ("PRgeneration", fs.gen, g0 + 4);
	step("B, unregistered, conflicts on REGISTER with its old key");
	pr_out(&B, SA_REGISTER, 0, KEY_M, KEY_B, 0, &r);
	expect_status(&B, &r, ST_CONFLICT);
	write_expect(&B, ST_CONFLICT);

	step("A moves to an RTPI that does not exist (77)");
	move_param(p, &len, KEY_A2, KEY_B, false, 77, &B);
	pr_out_raw(&A, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_sense(&A, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
	step("nothing changed after the refused move");
	read_keys(&A, &k);
	EQ("keys", k.n, 1);
	EQ("PRgeneration", k.gen, g0 + 4);
	read_resv(&A, &v);
	EQ("holder key", v.key, KEY_A2);
}

/*
 * 4. SPEC_I_PT (SPC-4 5.14.7, 6.16.3):
 *
 *   A  (ini1, ISID a) ---+
 *   A' (ini1, ISID a') --+--- port 1 (RTPI 1) --- LU
 *   B  (ini2, ISID b) ---+
 *
 * A registers and, in the same command, names B by iSCSI name alone
 * (format 00b: every ISID of ini2) and A' by name + ISID (format 01b).
 * All three are registered through port 1 with A's key: READ FULL STATUS
 * lists the three TransportIDs, B can RESERVE with the key, A' can change
 * its key. Atomicity: a list with one malformed TransportID, or one naming
 * an I_T nexus that is already registered (SPC-4 5.14.7, 6.16.3: all or
 * none; docs/design-notes.md), is refused with 05/26/00 pointing at that
 * TransportID, and registers nobody.
 */
static void sc_spec_i_pt(int lun)
{
	struct sess A, A2, B;
	struct reply r;
	struct keys k;
	struct full_status fs;
	uint8_t tids[512], tidA[256], tidA2[256], tidBn[256];
	uint32_t tl, la, la2, lbn;

	sess_open(&A, "A@1", 1, 1, 0x00A031, lun);
	sess_open(&A2, "A'@1", 1, 1, 0x00A032, lun);
	sess_open(&B, "B@1", 2, 1, 0x00B033, lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &A2, &B }, 3);
	la = tid_of(tidA, &A);
	la2 = tid_of(tidA2, &A2);
	lbn = tid_build(tidBn, B.name, NULL);

	step("REPORT CAPABILITIES: SIP_C");
	struct caps c;
	report_caps(&A, &c);
	EQ("SIP_C", c.sip_c, 1);

	step("atomicity: a list with a malformed second TransportID");
	tl = tid_build(tids, B.name, NULL);
	uint32_t bad_off = tl;
	tl += tid_of(tids + tl, &A2);
	tids[bad_off] = 0x41;  /* format 01b, protocol 1 (SPI): not iSCSI */
	pr_out_tids(&A, SA_REGISTER, 0, 0, KEY_A, 0x08, tids, tl, &r);
	expect_sense(&A, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
	EQ("SKSV", r.sksv, 1);
	EQ("C/D (parameter list)", r.cd, 0);
	EQ("FIELD POINTER (the bad TransportID's first byte)", r.field,
	   28 + bad_off);
	step("nobody registered after the refused list");
	read_keys(&A, &k);
	EQ("keys", k.n, 0);
	EQ("PRgeneration", k.gen, g0);
	pr_out(&B, SA_RESERVE, TYPE_WR_EX, KEY_A, 0, 0, &r);
	expect_status(&B, &r, ST_CONFLICT);

	step("a list naming an I_T nexus already registered: refused whole");
	pr_ok(&B, SA_REGISTER, 0, 0, KEY_B, 0);
	tl = tid_of(tids, &A2);
	bad_off = tl;
	tl += tid_of(tids + tl, &B);
	pr_out_tids(&A, SA_REGISTER, 0, 0, KEY_A, 0x08, tids, tl, &r);
	expect_sense(&A, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
	EQ("SKSV", r.sksv, 1);
	EQ("FIELD POINTER (B's TransportID)", r.field, 28 + bad_off);
	read_keys(&A, &k);
	EQ("keys (B's only)", k.n, 1);
	EQ("B's key", k.key[0], KEY_B);
	EQ("PRgeneration (B's REGISTER only)", k.gen, g0 + 1);
	pr_out(&A2, SA_REGISTER, 0, KEY_A, KEY_A2, 0, &r);
	expect_status(&A2, &r, ST_CONFLICT);
	step("B unregisters");
	pr_ok(&B, SA_REGISTER, 0, KEY_B, 0, 0);
	g0 += 2;

	step("A REGISTER, SPEC_I_PT: ini2 by name, A' by name + ISID");
	tl = tid_build(tids, B.name, NULL);
	tl += tid_of(tids + tl, &A2);
	pr_out_tids(&A, SA_REGISTER, 0, 0, KEY_A, 0x08, tids, tl, &r);
	expect_status(&A, &r, ST_GOOD);
	step("READ FULL STATUS: three registrations");
	read_full_status(&A, &fs);
	EQ("PRgeneration (one command, one increment)", fs.gen, g0 + 1);
	EQ("registrations", fs.n, 3);
	const struct fs_desc *d;
	d = fs_find(&fs, tidA, la, "A (the issuer)");
	EQ("A key", d->key, KEY_A);
	EQ("A RTPI", d->rtpi, 1);
	d = fs_find(&fs, tidBn, lbn, "ini2 by name (format 00b)");
	EQ("ini2 key", d->key, KEY_A);
	EQ("ini2 RTPI", d->rtpi, 1);
	d = fs_find(&fs, tidA2, la2, "A' by name + ISID (format 01b)");
	EQ("A' key", d->key, KEY_A);
	EQ("A' RTPI", d->rtpi, 1);

	step("B (ini2, any ISID) is registered: RESERVE with the key");
	pr_ok(&B, SA_RESERVE, TYPE_WR_EX, KEY_A, 0, 0);
	write_expect(&B, ST_GOOD);
	pr_ok(&B, SA_RELEASE, TYPE_WR_EX, KEY_A, 0, 0);
	step("A' is registered: REGISTER changes its key");
	pr_ok(&A2, SA_REGISTER, 0, KEY_A, KEY_A2, 0);
	read_keys(&A, &k);
	EQ("keys", k.n, 3);
	EQ("A' new key listed", keys_has(&k, KEY_A2), 1);
	EQ("PRgeneration", k.gen, g0 + 2);

	step("a registered nexus may not name others (SPEC_I_PT)");
	tl = tid_build(tids, "iqn.2026-11.org.ctgt:nobody", NULL);
	pr_out_tids(&A, SA_REGISTER, 0, KEY_A, KEY_A, 0x08, tids, tl, &r);
	expect_sense(&A, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
	read_keys(&A, &k);
	EQ("keys", k.n, 3);
	EQ("PRgeneration", k.gen, g0 + 2);
}

/*
 * 5. ALL_TG_PT (SPC-4 6.16.3):
 *
 *   A@1 (ini1, ISID a) --- port 1 (RTPI 1) ---+
 *                                             +--- LU
 *   A@2 (ini1, ISID a) --- port 2 (RTPI 2) ---+--- B@2 (ini2)
 *
 * A registers through port 1 with ALL_TG_PT = 1: the same initiator port
 * through port 2 is registered as well (one registration, "as if received
 * through each target port"): a REGISTER with key 0 through port 2
 * conflicts, RESERVE with the key works and A writes through both ports;
 * B, not registered, conflicts. READ FULL STATUS shows one descriptor with
 * ALL_TG_PT = 1. A@1 and A@2 (same ISID, two TPGs: two sessions, two
 * I_T nexuses, RFC 7143 4.4.3) are logged in at the same time, as a
 * multipath initiator is.
 */
static void sc_all_tg_pt(int lun)
{
	struct sess A1, A2, B;
	struct reply r;
	struct keys k;
	struct full_status fs;
	uint8_t tidA[256];

	sess_open(&B, "B@2", 2, 2, 0x00B042, lun);
	sess_open(&A1, "A@1", 1, 1, 0x00A041, lun);
	ua_drain(&A1);
	uint32_t g0 = pr_clean(&A1);
	ua_drain(&A1);
	ua_drain(&B);
	uint32_t la = tid_of(tidA, &A1);

	step("REPORT CAPABILITIES: ATP_C");
	struct caps c;
	report_caps(&A1, &c);
	EQ("ATP_C", c.atp_c, 1);

	step("A@1 REGISTER with ALL_TG_PT");
	pr_ok(&A1, SA_REGISTER, 0, 0, KEY_A, 0x04);
	read_keys(&B, &k);
	EQ("PRgeneration", k.gen, g0 + 1);
	EQ("keys", k.n, 1);

	sess_open(&A2, "A@2", 1, 2, 0x00A041, lun);
	ua_drain(&A2);
	step("A@2 (through port 2) REGISTER with key 0: already registered");
	pr_out(&A2, SA_REGISTER, 0, 0, KEY_A2, 0, &r);
	expect_status(&A2, &r, ST_CONFLICT);
	step("A@2 RESERVE EX_AC with A's key");
	pr_ok(&A2, SA_RESERVE, TYPE_EX_AC, KEY_A, 0, 0);
	step("A@2 writes");
	write_expect(&A2, ST_GOOD);
	step("B (not registered) cannot read under EX_AC");
	read_expect(&B, ST_CONFLICT);
	step("READ FULL STATUS: one descriptor, ALL_TG_PT = 1");
	read_full_status(&B, &fs);
	EQ("registrations", fs.n, 1);
	const struct fs_desc *d = fs_find(&fs, tidA, la, "A");
	EQ("ALL_TG_PT", d->all_tg_pt, 1);
	EQ("R_HOLDER", d->r_holder, 1);
	EQ("type", d->type, TYPE_EX_AC);
	EQ("key", d->key, KEY_A);

	step("A@1, still logged in, writes: the reservation taken through"
	     " port 2 holds here");
	ua_drain(&A1);
	write_expect(&A1, ST_GOOD);
	step("A@2 still logged in too");
	write_expect(&A2, ST_GOOD);
	step("A@1 RELEASE and unregisters: gone on both ports");
	pr_ok(&A1, SA_RELEASE, TYPE_EX_AC, KEY_A, 0, 0);
	pr_ok(&A1, SA_REGISTER, 0, KEY_A, 0, 0);
	read_keys(&B, &k);
	EQ("keys", k.n, 0);
	EQ("PRgeneration", k.gen, g0 + 2);
	pr_out(&A1, SA_RESERVE, TYPE_EX_AC, KEY_A, 0, 0, &r);
	expect_status(&A1, &r, ST_CONFLICT);
	step("A@1 logs out: A@2's session (another I_T nexus) goes on");
	sess_close(&A1);
	write_expect(&A2, ST_GOOD);
}

/*
 * 5b. One initiator port through two target ports at once:
 *
 *   A@1 (ini1, ISID a) --- TPG 1 (RTPI 1) ---+
 *                                            +--- LU
 *   A@2 (ini1, ISID a) --- TPG 2 (RTPI 2) ---+
 *
 * RFC 7143 4.4.3 / 10.12.5: a session is named by (ISID, TPGT), so the
 * second login is a new session, not a reinstatement of the first; both
 * I_T nexuses stay usable. This is what an ALL_TG_PT registrant with
 * multipath does.
 */
static void sc_same_isid(int lun)
{
	struct sess A1, A2;
	struct reply r;

	sess_open(&A1, "A@1", 1, 1, 0x00A071, lun);
	ua_drain(&A1);
	sess_open(&A2, "A@2", 1, 2, 0x00A071, lun);
	ua_drain(&A2);
	step("A@1 still logged in after A@2 logged in through TPG 2");
	tur(&A1, &r);
	if (r.status == ST_CHECK && r.sense_key == SK_UA)
		tur(&A1, &r);
	expect_status(&A1, &r, ST_GOOD);
	tur(&A2, &r);
	expect_status(&A2, &r, ST_GOOD);
}

/*
 * 6. READ FULL STATUS fields and truncation (SPC-4 6.15.5):
 *
 *   A@1 (ini1) --- port 1 (RTPI 1) ---+
 *                                     +--- LU
 *   B@2 (ini2) --- port 2 (RTPI 2) ---+
 *
 * Each descriptor's key, R_HOLDER, ALL_TG_PT, SCOPE/TYPE (holder only),
 * RTPI and TransportID bytes match what was registered; with allocation
 * lengths cut anywhere, the data is a prefix of the full data and
 * ADDITIONAL LENGTH still gives the full length (SPC-4 4.2.5.6).
 */
static void sc_full_status(int lun)
{
	struct sess A, B;
	struct reply r, full;
	struct full_status fs;
	uint8_t tidA[256], tidB[256];

	sess_open(&A, "A@1", 1, 1, 0x00A051, lun);
	sess_open(&B, "B@2", 2, 2, 0x00B052, lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B }, 2);
	uint32_t la = tid_of(tidA, &A), lb = tid_of(tidB, &B);

	step("A registers (ALL_TG_PT = 0), B with ALL_TG_PT = 1, B reserves");
	pr_ok(&A, SA_REGISTER, 0, 0, KEY_A, 0);
	pr_ok(&B, SA_REGISTER, 0, 0, KEY_B, 0x04);
	pr_ok(&B, SA_RESERVE, TYPE_WR_EX_RO, KEY_B, 0, 0);

	step("READ FULL STATUS, whole");
	pr_in(&A, IN_READ_FULL_STATUS, 8192, &full);
	parse_full_status(&A, full.data, full.len, &fs);
	EQ("PRgeneration", fs.gen, g0 + 2);
	EQ("registrations", fs.n, 2);
	EQ("ADDITIONAL LENGTH", fs.addl, 2 * 24 + la + lb);
	EQ("bytes returned", full.len, 8 + 2 * 24 + la + lb);
	const struct fs_desc *d = fs_find(&fs, tidA, la, "A");
	EQ("A key", d->key, KEY_A);
	EQ("A R_HOLDER", d->r_holder, 0);
	EQ("A ALL_TG_PT", d->all_tg_pt, 0);
	EQ("A RTPI", d->rtpi, 1);
	EQ("A TransportID: iSCSI, format 01b", d->tid[0], 0x45);
	d = fs_find(&fs, tidB, lb, "B");
	EQ("B key", d->key, KEY_B);
	EQ("B R_HOLDER", d->r_holder, 1);
	EQ("B ALL_TG_PT", d->all_tg_pt, 1);
	EQ("B SCOPE", d->scope, 0);
	EQ("B TYPE", d->type, TYPE_WR_EX_RO);

	step("READ FULL STATUS with short allocation lengths");
	static const uint16_t cuts[] = { 8, 9, 15, 31, 32, 33, 40, 60 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		uint16_t a = cuts[i];
		if (a > full.len)
			continue;
		pr_in(&A, IN_READ_FULL_STATUS, a, &r);
		EQ("bytes returned = allocation length", r.len, a);
		EQ("prefix of the full data", memcmp(r.data, full.data, a), 0);
		EQ("ADDITIONAL LENGTH unchanged by truncation",
		   get32(r.data + 4), fs.addl);
	}
	step("READ KEYS with allocation length 12: ADDITIONAL LENGTH 16");
	pr_in(&A, IN_READ_KEYS, 12, &r);
	EQ("bytes returned", r.len, 12);
	EQ("ADDITIONAL LENGTH", get32(r.data + 4), 16);
}

/*
 * 7. APTPL across a restart (SPC-4 5.14.5): two invocations around a
 * kill -9 and restart of ctgtd with the same configuration.
 *
 *   A@1 (ini1) --- port 1 ---+--- LU p (APTPL = 1: must survive)
 *   B@2 (ini2) --- port 2 ---+--- LU v (APTPL = 0: must not survive)
 *
 * before: on LU v, A and B register (APTPL = 0), A reserves; on LU p the
 * same with APTPL = 1 (if REPORT CAPABILITIES says PTPL_C = 1). The
 * expected state (keys, holder, type, generation) goes to --state.
 * after: LU p reports the same keys, reservation and generation, PTPL_A
 * = 1; LU v has no registrations and no reservation.
 */
struct aptpl_state {
	int ptpl_c;
	uint32_t gen;
	int nkeys;
	uint64_t keys[2];
	uint64_t holder;
	int type;
};

static void aptpl_setup(int lun, bool aptpl, struct aptpl_state *out)
{
	struct sess A, B;
	struct keys k;
	struct resv v;
	char lab[2][16];

	snprintf(lab[0], sizeof(lab[0]), "A@1/LUN%d", lun);
	snprintf(lab[1], sizeof(lab[1]), "B@2/LUN%d", lun);
	sess_open(&A, lab[0], 1, 1, 0x00A061, lun);
	sess_open(&B, lab[1], 2, 2, 0x00B062, lun);
	ua_drain(&A);
	pr_clean(&A);
	ua_drain(&B);
	step(aptpl ? "APTPL=1: A and B register, A reserves WR_EX_RO"
		   : "APTPL=0: A and B register, A reserves WR_EX_RO");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY_A, aptpl ? 0x01 : 0);
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY_B, aptpl ? 0x01 : 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX_RO, KEY_A, 0, 0);
	read_keys(&A, &k);
	read_resv(&A, &v);
	out->gen = k.gen;
	out->nkeys = k.n;
	out->keys[0] = k.n > 0 ? k.key[0] : 0;
	out->keys[1] = k.n > 1 ? k.key[1] : 0;
	out->holder = v.key;
	out->type = v.type;
	if (aptpl) {
		struct caps c;
		report_caps(&A, &c);
		EQ("PTPL_A after APTPL = 1", c.ptpl_a, 1);
	}
	sess_close_all();
}

static void sc_aptpl_before(int lun_p, int lun_v)
{
	struct aptpl_state p = { 0 }, v = { 0 };
	struct sess A;
	struct caps c;

	sess_open(&A, "A@1", 1, 1, 0x00A060, lun_p);
	step("REPORT CAPABILITIES");
	report_caps(&A, &c);
	sess_close_all();
	p.ptpl_c = c.ptpl_c;
	if (!p.ptpl_c) {
		/* SPC-4 6.16.3: APTPL = 1 without support is refused */
		struct reply r;
		sess_open(&A, "A@1", 1, 1, 0x00A060, lun_p);
		ua_drain(&A);
		pr_clean(&A);
		step("PTPL_C = 0: REGISTER with APTPL = 1 is refused");
		pr_out(&A, SA_REGISTER, 0, 0, KEY_A, 0x01, &r);
		expect_sense(&A, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
		struct keys k;
		read_keys(&A, &k);
		EQ("keys after the refused REGISTER", k.n, 0);
		sess_close_all();
	}
	aptpl_setup(lun_v, false, &v);
	if (p.ptpl_c)
		aptpl_setup(lun_p, true, &p);
	FILE *f = fopen(o_state, "w");
	if (!f)
		sc_fail("cannot write %s: %s", o_state, strerror(errno));
	fprintf(f, "%d %u %d %" PRIx64 " %" PRIx64 " %" PRIx64 " %d\n",
		p.ptpl_c, p.gen, p.nkeys, p.keys[0], p.keys[1], p.holder,
		p.type);
	fclose(f);
}

/* after the restart; *skip set when PTPL_C was 0 (only LU v checked) */
static void sc_aptpl_after_v(int lun_v)
{
	struct sess A;
	struct keys k;
	struct resv v;

	sess_open(&A, "A@1", 1, 1, 0x00A063, lun_v);
	step("APTPL=0 LU after the restart: READ KEYS");
	read_keys(&A, &k);
	EQ("registrations left", k.n, 0);
	read_resv(&A, &v);
	EQ("reservation left", v.held, 0);
	step("APTPL=0 LU: writes run (no reservation)");
	write_expect(&A, ST_GOOD);
}

static void sc_aptpl_after_p(int lun_p)
{
	struct aptpl_state p = { 0 };
	struct sess A, B;
	struct keys k;
	struct resv v;
	struct caps c;
	FILE *f = fopen(o_state, "r");

	if (!f)
		sc_fail("cannot read %s: %s", o_state, strerror(errno));
	int n = fscanf(f, "%d %u %d %" SCNx64 " %" SCNx64 " %" SCNx64 " %d",
		       &p.ptpl_c, &p.gen, &p.nkeys, &p.keys[0], &p.keys[1],
		       &p.holder, &p.type);
	fclose(f);
	if (n != 7)
		sc_fail("%s: malformed", o_state);
	if (!p.ptpl_c)
		sc_skip("APTPL not supported by target (PTPL_C=0)");
	sess_open(&A, "A@1", 1, 1, 0x00A061, lun_p);
	sess_open(&B, "B@2", 2, 2, 0x00B062, lun_p);
	step("APTPL=1 LU after the restart: READ KEYS");
	read_keys(&A, &k);
	EQ("PRgeneration", k.gen, p.gen);
	EQ("keys", k.n, p.nkeys);
	EQ("first key listed", keys_has(&k, p.keys[0]), 1);
	EQ("second key listed", keys_has(&k, p.keys[1]), 1);
	step("APTPL=1 LU after the restart: READ RESERVATION");
	read_resv(&A, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, p.holder);
	EQ("type", v.type, p.type);
	step("REPORT CAPABILITIES: PTPL_A");
	report_caps(&A, &c);
	EQ("PTPL_A", c.ptpl_a, 1);
	step("the restored registrations act: B writes, A still holds");
	ua_drain(&B);
	write_expect(&B, ST_GOOD);
	step("clean up: CLEAR");
	pr_ok(&A, SA_CLEAR, 0, KEY_A, 0, 0);
}

/*
 * 8. Commands under another nexus's SCSI-2 reservation (SPC-2 5.5.1):
 *
 *   holder A (ini1) --- port 1 (RTPI 1) ---+
 *                                          +--- LU, RESERVE(6) by A
 *   other  B (ini2) --- port 2 (RTPI 2) ---+
 *
 * B may send what SPC-2 5.5.1 exempts (INQUIRY, REPORT LUNS, REQUEST
 * SENSE, RELEASE: GOOD without effect) and the SPC-3/4 reports that SPC-4
 * table 63 allows to everyone (REPORT TARGET PORT GROUPS, REPORT
 * SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS);
 * everything else conflicts, TEST UNIT READY and READ CAPACITY included.
 * PERSISTENT RESERVE IN/OUT conflict for both, the holder too ("regardless
 * of initiator or service action"). After A's RELEASE all of it runs.
 */
struct s2_cmd {
	const char *label;
	uint8_t cdb[12];
	int cdb_len;
	uint32_t in_len;
	bool pr_out;         /* a 24-byte REGISTER parameter list */
	int want;
};

static void s2_run(struct sess *s, const struct s2_cmd *c)
{
	uint8_t param[24] = { 0 };
	struct reply r;
	char name[96];

	put64(param + 8, KEY_B);
	snprintf(name, sizeof(name), "%s: %s", s->label, c->label);
	step(name);
	cmd(s, c->cdb, c->cdb_len, c->pr_out ? param : NULL,
	    c->pr_out ? 24 : 0, c->in_len, &r);
	expect_status(s, &r, c->want);
}

static void sc_scsi2_reserve(int lun)
{
	struct sess A, B;
	struct reply r;
	struct keys k;

	sess_open(&A, "A@1", 1, 1, 0x00A081, lun);
	sess_open(&B, "B@2", 2, 2, 0x00B082, lun);
	sc_begin((struct sess *[]){ &A, &B }, 2);

	static const uint8_t reserve6[6] = { 0x16 }, release6[6] = { 0x17 };
	static const struct s2_cmd other[] = {
		{ "INQUIRY", { 0x12, 0, 0, 0, 96 }, 6, 96, false, ST_GOOD },
		{ "REPORT LUNS", { 0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 12, 256,
		  false, ST_GOOD },
		{ "REQUEST SENSE", { 0x03, 0, 0, 0, 18 }, 6, 18, false, ST_GOOD },
		{ "REPORT TARGET PORT GROUPS",
		  { 0xA3, 0x0A, 0, 0, 0, 0, 0, 0, 1, 0 }, 12, 256, false,
		  ST_GOOD },
		{ "REPORT SUPPORTED OPERATION CODES",
		  { 0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0 }, 12, 4096, false,
		  ST_GOOD },
		{ "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
		  { 0xA3, 0x0D, 0, 0, 0, 0, 0, 0, 0, 16 }, 12, 16, false,
		  ST_GOOD },
		{ "TEST UNIT READY", { 0 }, 6, 0, false, ST_CONFLICT },
		{ "READ CAPACITY(10)", { 0x25 }, 10, 8, false, ST_CONFLICT },
		{ "READ(10)", { 0x28, 0, 0, 0, 0, 8, 0, 0, 1 }, 10, 512, false,
		  ST_CONFLICT },
		{ "MODE SENSE(6)", { 0x1A, 0x08, 0x3F, 0, 255 }, 6, 255, false,
		  ST_CONFLICT },
		{ "PERSISTENT RESERVE IN (READ KEYS)",
		  { 0x5E, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, 256, false,
		  ST_CONFLICT },
		{ "PERSISTENT RESERVE OUT (REGISTER)",
		  { 0x5F, 0, 0, 0, 0, 0, 0, 0, 24 }, 10, 0, true, ST_CONFLICT },
		{ "RESERVE(6)", { 0x16 }, 6, 0, false, ST_CONFLICT },
		{ "RELEASE(6) (not the holder: no effect)", { 0x17 }, 6, 0,
		  false, ST_GOOD },
		{ "TEST UNIT READY after its RELEASE", { 0 }, 6, 0, false,
		  ST_CONFLICT },
	};
	static const struct s2_cmd holder[] = {
		{ "READ(10)", { 0x28, 0, 0, 0, 0, 8, 0, 0, 1 }, 10, 512, false,
		  ST_GOOD },
		{ "TEST UNIT READY", { 0 }, 6, 0, false, ST_GOOD },
		{ "PERSISTENT RESERVE IN (READ KEYS)",
		  { 0x5E, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, 256, false,
		  ST_CONFLICT },
		{ "PERSISTENT RESERVE OUT (REGISTER)",
		  { 0x5F, 0, 0, 0, 0, 0, 0, 0, 24 }, 10, 0, true, ST_CONFLICT },
		{ "RESERVE(6) again", { 0x16 }, 6, 0, false, ST_GOOD },
	};

	step("A RESERVE(6)");
	cmd(&A, reserve6, 6, NULL, 0, 0, &r);
	expect_status(&A, &r, ST_GOOD);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		s2_run(&B, &other[i]);
	for (size_t i = 0; i < sizeof(holder) / sizeof(holder[0]); i++)
		s2_run(&A, &holder[i]);
	step("A RELEASE(6)");
	cmd(&A, release6, 6, NULL, 0, 0, &r);
	expect_status(&A, &r, ST_GOOD);
	step("B after the RELEASE: TEST UNIT READY, READ KEYS");
	tur(&B, &r);
	expect_status(&B, &r, ST_GOOD);
	read_keys(&B, &k);
	EQ("keys", k.n, 0);
}

/* ------------------------------------------------------------------ main */

typedef void (*sc_fn)(int lun);

static bool sc_selected(const char *name)
{
	return !o_only || !strcmp(o_only, name) ||
	       (!strncmp(name, "pr.", 3) && !strcmp(o_only, name + 3));
}

/* Runs one scenario and prints its line. 0 pass, 1 fail, 2 skip. */
static int sc_run(const char *name, void (*fn)(void *), void *arg,
		  const char *detail)
{
	int rc;

	if (!sc_selected(name))
		return 0;
	if (o_list) {
		printf("%s\n", name);
		return 0;
	}
	rc = sc_call(fn, arg);
	if (rc == 1) {
		printf("FAIL %s: %s\n", name, sc_msg);
		n_failed++;
	} else if (rc == 2) {
		printf("SKIP %s: %s\n", name, sc_msg);
	} else if (detail && *detail) {
		printf("PASS %s (%d steps; %s)\n", name, sc_steps, detail);
	} else {
		printf("PASS %s (%d steps)\n", name, sc_steps);
	}
	fflush(stdout);
	return rc;
}

struct sc_call {
	sc_fn fn;
	int lun;
	bool tas;
	int nw;
	char detail[200];
};

static void sc_call_plain(void *arg)
{
	struct sc_call *c = arg;
	c->fn(c->lun);
}

static void sc_call_pa(void *arg)
{
	struct sc_call *c = arg;
	sc_preempt_abort(c->lun, c->tas, c->nw, c->detail, sizeof(c->detail));
}

static void sc_call_aptpl_before(void *arg)
{
	struct sc_call *c = arg;
	sc_aptpl_before(c->lun, c->lun + 1);
}

static void sc_call_aptpl_after_v(void *arg)
{
	struct sc_call *c = arg;
	sc_aptpl_after_v(c->lun + 1);
}

static void sc_call_aptpl_after_p(void *arg)
{
	struct sc_call *c = arg;
	sc_aptpl_after_p(c->lun);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pr_scenarios --portal1 H:P --portal2 H:P --target IQN"
		" --ini1 NAME --ini2 NAME [--lun-base N] [--only NAME]\n"
		"       [--phase aptpl-before|aptpl-after --state FILE] [--list]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--list")) {
			o_list = true;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--portal1")) it_portal[1] = v;
		else if (!strcmp(a, "--portal2")) it_portal[2] = v;
		else if (!strcmp(a, "--target")) it_target = v;
		else if (!strcmp(a, "--ini1")) it_ini[1] = v;
		else if (!strcmp(a, "--ini2")) it_ini[2] = v;
		else if (!strcmp(a, "--lun-base")) o_lun_base = atoi(v);
		else if (!strcmp(a, "--only")) o_only = v;
		else if (!strcmp(a, "--phase")) o_phase = v;
		else if (!strcmp(a, "--state")) o_state = v;
		else usage();
		i++;
	}
	if (!o_list && (!it_portal[1] || !it_portal[2] || !it_target ||
			!it_ini[1] || !it_ini[2]))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sc_call c = { 0 };
	int b = o_lun_base;

	if (o_phase) {
		if (!o_state && !o_list)
			usage();
		/* APTPL: LU b+7 keeps APTPL = 1 state, b+8 APTPL = 0 */
		c.lun = b + 7;
		if (!strcmp(o_phase, "aptpl-before")) {
			sc_run("pr.aptpl.setup", sc_call_aptpl_before, &c,
			       NULL);
		} else if (!strcmp(o_phase, "aptpl-after")) {
			sc_run("pr.aptpl.not_persisted", sc_call_aptpl_after_v,
			       &c, "APTPL=0 state gone after kill -9 + restart");
			sc_run("pr.aptpl.persisted", sc_call_aptpl_after_p, &c,
			       "same keys, reservation and PRgeneration after"
			       " kill -9 + restart");
		} else {
			usage();
		}
		return n_failed ? 1 : 0;
	}

	/* scenario k on LUN lun-base + k; preempt_abort (no fn) three ways */
	static const struct {
		const char *name;
		sc_fn fn;
		int lun;
		bool tas;
		int nw;
	} runs[] = {
		{ "pr.fence_scsi", sc_fence_scsi, 1, false, 0 },
		{ "pr.preempt_abort.inflight_tas0", NULL, 2, false, 24 },
		{ "pr.preempt_abort.inflight_tas0_qd64", NULL, 2, false, 64 },
		{ "pr.preempt_abort.inflight_tas1", NULL, 2, true, 24 },
		{ "pr.register_and_move", sc_register_move, 3, false, 0 },
		{ "pr.spec_i_pt", sc_spec_i_pt, 4, false, 0 },
		{ "pr.all_tg_pt", sc_all_tg_pt, 5, false, 0 },
		{ "pr.read_full_status", sc_full_status, 6, false, 0 },
		{ "pr.scsi2.reserve_exempt_commands", sc_scsi2_reserve, 9, false,
		  0 },
		{ "pr.iscsi.same_isid_two_tpgs", sc_same_isid, 6, false, 0 },
	};
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		c = (struct sc_call){ runs[i].fn, b + runs[i].lun, runs[i].tas,
				      runs[i].nw, "" };
		sc_run(runs[i].name, c.fn ? sc_call_plain : sc_call_pa, &c,
		       c.detail);
	}
	return n_failed ? 1 : 0;
}
