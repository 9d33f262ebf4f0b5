/*
 * Reservations, LUN RESET and COMPARE AND WRITE across the cluster, over
 * libiscsi: several ctgtd nodes export ONE LU ("cluster_impl": "cluster",
 * a shared file) and an initiator logged in through one node must see
 * what another node's initiator did, with the node's own RTPI. The
 * sequences are the ones real clusters send (fence_scsi, PREEMPT AND
 * ABORT with writes in flight, REGISTER AND MOVE, ALL_TG_PT, READ FULL
 * STATUS, LUN RESET, a node dying with a SCSI-2 reservation, APTPL across
 * a whole-cluster restart), checked step by step: status, sense
 * (key/ASC/ASCQ, field pointer), keys, reservation, PRgeneration, RTPI.
 *
 * As tests/integration/pr_scenarios.c (the single-node scenarios; the
 * initiator side both use is scsi_it.[ch]): every command is built by
 * hand and PR IN data is decoded there, independently of src/pr. One line per scenario
 * on stdout: "PASS dev.scenario.NAME (detail)", "FAIL dev.scenario.NAME:
 * step: what", "SKIP dev.scenario.NAME: reason"; anything else (the node
 * commands' output) goes to stderr. Exit status 1 if a scenario failed.
 *
 *   cluster_pr [--harness CLUSTER_SH] [--kill-cmd CMD] [--restart-cmd CMD]
 *              [--stop-cmd CMD] [--start-cmd CMD] [--partition-cmd CMD]
 *              [--heal-cmd CMD] [--caw-rounds N] [--only NAME] [--list]
 *              URL1 URL2 URL3
 *
 * URLi is iscsi://HOST:PORT/TARGET/LUN of node i (RTPI i, ALUA group i;
 * the same TARGET and LUN everywhere). The node commands are shell
 * commands run as `sh -c CMD sh N` for node N:
 *   --kill-cmd     node N dies (kill -9 of everything in it, corosync too);
 *   --restart-cmd  node N comes back (its corosync, then its ctgtd);
 *   --stop-cmd     ctgtd on node N stops (SIGTERM); the node stays;
 *   --start-cmd    ctgtd on node N starts again, same configuration;
 *   --partition-cmd  node N is cut off the others (a minority of one);
 *   --heal-cmd     node N is connected again and merges.
 * With --harness, the kill, restart, partition and heal commands default
 * to `bash CLUSTER_SH kill|restart|partition|heal N`, which works where
 * the cluster was brought up (the root namespace). cluster_device.sh
 * runs this program inside node 1's namespaces, so it passes all six,
 * each entering the script's own (root) namespaces first (nsenter -t
 * <its pid> -n -m). Without them the scenarios that need them (merge_ua,
 * scsi2_node_killed, aptpl_restart, aptpl_restart_stale_node) SKIP.
 * Those run last: they cut off or restart nodes, and leave every node
 * serving again.
 *
 * Deliberately NOT here: the single-node PR rules (pr_scenarios.c, and
 * libiscsi's iscsi-test-cu with its two URLs on two nodes, which
 * cluster_device.sh runs first), and bringing the cluster up.
 *
 * Every scenario starts from a clean PR state (REGISTER AND IGNORE +
 * CLEAR of whatever an earlier one left), uses its own keys and ISIDs,
 * and clears what it made before it returns.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scsi_it.h"

#define NODES 3          /* node n: portal it_portal[n], RTPI n */

static const char *o_url[NODES + 1], *o_harness, *o_only;
static const char *o_kill_cmd, *o_restart_cmd, *o_stop_cmd, *o_start_cmd;
static const char *o_partition_cmd, *o_heal_cmd;
static char o_portal[NODES + 1][256], o_target[256];
static int o_lun = -1;
static int o_caw_rounds = 200;
static bool o_list;
static int n_failed;

/* One initiator name per role; the ISID tells the I_T nexuses apart. */
static const char *const ini_name[NODES + 1] = {
	NULL,
	"iqn.2026-11.org.ctgt:cluster-pr-a",
	"iqn.2026-11.org.ctgt:cluster-pr-b",
	"iqn.2026-11.org.ctgt:cluster-pr-c",
};

/* ------------------------------------------------------ node commands */

/* Runs `sh -c cmd sh node`, its output on stderr; 0 if it exited 0. */
static int node_cmd(const char *what, const char *cmdline, int node)
{
	char arg[16];
	int st;
	pid_t pid;

	snprintf(arg, sizeof(arg), "%d", node);
	fprintf(stderr, "cluster_pr: %s node %d: %s\n", what, node, cmdline);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(2, 1);
		execl("/bin/sh", "sh", "-c", cmdline, "sh", arg, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What a scenario did to each node, so that the nodes are back whatever
 * way it ends (node_recover). */
enum node_down { NODE_UP = 0, NODE_KILLED, NODE_STOPPED, NODE_CUT };
static enum node_down node_down[NODES + 1];

/* Each way a scenario takes a node down, and the way back (the node
 * commands above). */
static const struct {
	const char *down, *up;
	const char *const *down_cmd, *const *up_cmd;
} node_ways[] = {
	[NODE_KILLED] = { "kill", "restart", &o_kill_cmd, &o_restart_cmd },
	[NODE_STOPPED] = { "stop ctgtd", "start ctgtd", &o_stop_cmd,
			   &o_start_cmd },
	[NODE_CUT] = { "partition", "heal", &o_partition_cmd, &o_heal_cmd },
};

static void node_do(const char *what, const char *cmdline, int node)
{
	int rc = node_cmd(what, cmdline, node);

	if (rc != 0)
		sc_fail("%s node %d: `%s` failed with status %d", what, node,
			cmdline, rc);
}

/* Takes node down that way. It counts as down before the command, so a
 * scenario that fails half-way still brings it back (node_recover). */
static void node_down_by(int node, enum node_down way)
{
	node_down[node] = way;
	node_do(node_ways[way].down, *node_ways[way].down_cmd, node);
}

/* Brings node back the way it went down; up once that worked. */
static void node_up(int node)
{
	enum node_down way = node_down[node];

	if (way == NODE_UP)
		return;
	node_do(node_ways[way].up, *node_ways[way].up_cmd, node);
	node_down[node] = NODE_UP;
}

/* After a scenario: brings back what it left down (a failed one). */
static void node_recover(void)
{
	for (int n = 1; n <= NODES; n++) {
		enum node_down way = node_down[n];
		int rc;

		if (way == NODE_UP)
			continue;
		rc = node_cmd("recover", *node_ways[way].up_cmd, n);
		if (rc)
			fprintf(stderr, "cluster_pr: node %d not recovered"
				" (status %d)\n", n, rc);
		node_down[n] = NODE_UP;
	}
}

/* One TEST UNIT READY through node in a fresh session, after its unit
 * attentions: false (and err) when the login or the command fails. */
static bool node_probe(int node, struct reply *r, char *err, size_t errlen)
{
	struct iscsi_context *ctx =
		ctx_login(ini_name[3], 0x00F000u + (uint32_t)node, 0x1FF, node,
			  o_lun, err, errlen);
	bool ok = false;

	if (!ctx)
		return false;
	for (int i = 0; i < 10; i++) {
		struct scsi_task *t = iscsi_testunitready_sync(ctx, o_lun);
		if (!t) {
			snprintf(err, errlen, "TEST UNIT READY: %s",
				 iscsi_get_error(ctx));
			break;
		}
		reply_from_task(r, t);
		scsi_free_scsi_task(t);
		snprintf(err, errlen, "TEST UNIT READY: %s %x/%04x",
			 status_name(r->status), r->sense_key, r->asc);
		ok = true;
		if (r->status != ST_CHECK || r->sense_key != SK_UA)
			break;
	}
	iscsi_logout_sync(ctx);
	iscsi_destroy_context(ctx);
	return ok;
}

/* Waits until node serves the LU: a login and TEST UNIT READY GOOD (after
 * unit attentions; NOT READY while it is not ready). Returns the seconds
 * it took. */
static double node_wait_serving(int node, double limit)
{
	double t0 = now_s();
	char err[512] = "";
	struct reply r;

	while (now_s() - t0 < limit) {
		if (node_probe(node, &r, err, sizeof(err)) && r.status == ST_GOOD)
			return now_s() - t0;
		sleep_s(0.3);
	}
	sc_fail("node %d does not serve the LU %.0f s after its start (last: %s)",
		node, limit, err);
}

/* ------------------------------------------------------------ scenarios */

/* A fresh key space per scenario: 5C, scenario number, role. */
#define KEY(sc, who) (0x5C00000000000000ull | (uint64_t)(sc) << 32 | \
		      (uint64_t)(who) << 8 | 0x5Cu)
/* ISIDs: scenario number and role in the random part. */
#define ISID(sc, who) (0x00C000u | (uint32_t)(sc) << 4 | (uint32_t)(who))

/*
 * 1. fence_scsi, the fencing agent's sequence, across nodes:
 *
 *   fencer   B (ini2) --- node 1 (RTPI 1) ---+
 *   victim   A (ini1) --- node 2 (RTPI 2) ---+--- one LU (shared file)
 *   observer C (ini3) --- node 3 (RTPI 3) ---+
 *
 * A and B register (REGISTER AND IGNORE EXISTING KEY) through their
 * nodes, B reserves Write Exclusive - Registrants Only through node 1,
 * both write. B fences A (PREEMPT AND ABORT of A's key) through node 1:
 * through node 2, A's next command reports 2A/05 REGISTRATIONS PREEMPTED
 * (SPC-4 5.14.11.2.4, table 49), then its writes conflict while its reads
 * run (SPC-4 table 63, WR_EX_RO, not registered); node 3 lists B's key
 * only. A unfences (registers again) and writes.
 */
static void sc_fence_scsi(void)
{
	enum { SC = 1 };
	struct sess A, B, C;
	struct reply r;
	struct keys k;
	struct resv v;

	sess_open(&B, "B@1", 2, 1, ISID(SC, 2), o_lun);
	sess_open(&A, "A@2", 1, 2, ISID(SC, 1), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &B, &A, &C }, 3);

	step("A REGISTER AND IGNORE EXISTING KEY through node 2");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	step("B REGISTER AND IGNORE EXISTING KEY through node 1");
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 2), 0);
	step("READ KEYS through node 3");
	read_keys(&C, &k);
	EQ("PRgeneration", k.gen, g0 + 2);
	EQ("number of keys", k.n, 2);
	EQ("A's key listed", keys_has(&k, KEY(SC, 1)), 1);
	EQ("B's key listed", keys_has(&k, KEY(SC, 2)), 1);

	step("B RESERVE WR_EX_RO through node 1");
	pr_ok(&B, SA_RESERVE, TYPE_WR_EX_RO, KEY(SC, 2), 0, 0);
	step("READ RESERVATION through node 2");
	read_resv(&A, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, KEY(SC, 2));
	EQ("type", v.type, TYPE_WR_EX_RO);
	EQ("PRgeneration (RESERVE does not count)", v.gen, g0 + 2);
	step("A (registrant) writes through node 2");
	write_expect(&A, ST_GOOD);
	step("B (holder) writes through node 1");
	write_expect(&B, ST_GOOD);
	step("C (not registered) writes through node 3");
	write_expect(&C, ST_CONFLICT);

	step("B fences A: PREEMPT AND ABORT A's key through node 1");
	pr_ok(&B, SA_PREEMPT_ABORT, TYPE_WR_EX_RO, KEY(SC, 2), KEY(SC, 1), 0);
	step("READ KEYS through node 3 after the fence");
	read_keys(&C, &k);
	EQ("PRgeneration", k.gen, g0 + 3);
	EQ("number of keys", k.n, 1);
	EQ("only B's key", k.key[0], KEY(SC, 2));
	step("READ RESERVATION through node 3 after the fence");
	read_resv(&C, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, KEY(SC, 2));
	EQ("type", v.type, TYPE_WR_EX_RO);

	step("A's first write through node 2: UA REGISTRATIONS PREEMPTED");
	io10(&A, true, 8, 1, &r);
	expect_sense(&A, &r, SK_UA, ASC_REGS_PREEMPTED);
	step("A writes again through node 2: RESERVATION CONFLICT");
	write_expect(&A, ST_CONFLICT);
	step("A reads through node 2 (WR_EX_RO lets everyone read)");
	read_expect(&A, ST_GOOD);
	step("A REGISTER with its old key: not registered any more");
	pr_out(&A, SA_REGISTER, 0, KEY(SC, 1), KEY(SC, 1), 0, &r);
	expect_status(&A, &r, ST_CONFLICT);
	step("B writes through node 1");
	write_expect(&B, ST_GOOD);

	step("A unfences: REGISTER AND IGNORE EXISTING KEY through node 2");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	read_keys(&C, &k);
	EQ("PRgeneration", k.gen, g0 + 4);
	EQ("number of keys", k.n, 2);
	step("A (registrant again) writes through node 2");
	write_expect(&A, ST_GOOD);

	step("clean up: B CLEAR");
	pr_ok(&B, SA_CLEAR, 0, KEY(SC, 2), 0, 0);
}

/*
 * 1b. fence_scsi against a multipath victim (mpathpersist registers the
 * key through every path):
 *
 *   fencer B   (ini2)          --- node 1 (RTPI 1) ---+
 *   victim A@2 (ini1, ISID a)  --- node 2 (RTPI 2) ---+--- one LU
 *   victim A@3 (ini1, ISID a)  --- node 3 (RTPI 3) ---+
 *
 * A registers the same key through both its paths: two registrations,
 * one per I_T nexus (READ FULL STATUS: RTPI 2 and RTPI 3). B reserves
 * WR_EX_RO and PREEMPTs AND ABORTs A's key through node 1: both of A's
 * registrations go in one command (SPC-4 5.14.11.2.4: every registration
 * with that key), and each path, on its own node, reports 2A/05 on its
 * next command, then conflicts on writes.
 */
static const struct fs_desc *fs_find_at(const struct full_status *fs,
					const struct sess *s, int rtpi)
{
	uint8_t tid[256];
	uint32_t len = tid_of(tid, s);

	for (int i = 0; i < fs->n; i++)
		if (fs->d[i].tid_len == len && !memcmp(fs->d[i].tid, tid, len) &&
		    fs->d[i].rtpi == rtpi)
			return &fs->d[i];
	sc_fail("READ FULL STATUS lists no registration for %s at RTPI %d"
		" (%d listed)", s->label, rtpi, fs->n);
}

static void sc_fence_multipath(void)
{
	enum { SC = 11 };
	struct sess A2, A3, B;
	struct reply r;
	struct keys k;
	struct full_status fs;

	sess_open(&B, "B@1", 2, 1, ISID(SC, 2), o_lun);
	sess_open(&A2, "A@2", 1, 2, ISID(SC, 1), o_lun);
	sess_open(&A3, "A@3", 1, 3, ISID(SC, 1), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &B, &A2, &A3 }, 3);

	step("A registers its key through node 2 and through node 3");
	pr_ok(&A2, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	pr_ok(&A3, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	step("B registers and reserves WR_EX_RO through node 1");
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 2), 0);
	pr_ok(&B, SA_RESERVE, TYPE_WR_EX_RO, KEY(SC, 2), 0, 0);
	step("READ FULL STATUS through node 1: A once per path");
	read_full_status(&B, &fs);
	EQ("PRgeneration", fs.gen, g0 + 3);
	EQ("registrations", fs.n, 3);
	EQ("A@2's key", fs_find_at(&fs, &A2, 2)->key, KEY(SC, 1));
	EQ("A@3's key", fs_find_at(&fs, &A3, 3)->key, KEY(SC, 1));
	step("A writes through both paths");
	write_expect(&A2, ST_GOOD);
	write_expect(&A3, ST_GOOD);

	step("B PREEMPT AND ABORT A's key through node 1");
	pr_ok(&B, SA_PREEMPT_ABORT, TYPE_WR_EX_RO, KEY(SC, 2), KEY(SC, 1), 0);
	step("A@2's next command (node 2): UA REGISTRATIONS PREEMPTED");
	io10(&A2, true, 8, 1, &r);
	expect_sense(&A2, &r, SK_UA, ASC_REGS_PREEMPTED);
	step("A@3's next command (node 3): UA REGISTRATIONS PREEMPTED");
	io10(&A3, true, 8, 1, &r);
	expect_sense(&A3, &r, SK_UA, ASC_REGS_PREEMPTED);
	step("READ KEYS through node 3: B only, one generation more");
	read_keys(&A3, &k);
	EQ("PRgeneration", k.gen, g0 + 4);
	EQ("number of keys", k.n, 1);
	EQ("B's key", k.key[0], KEY(SC, 2));
	step("A writes through both paths: RESERVATION CONFLICT");
	write_expect(&A2, ST_CONFLICT);
	write_expect(&A3, ST_CONFLICT);
	step("clean up: B CLEAR");
	pr_ok(&B, SA_CLEAR, 0, KEY(SC, 2), 0, 0);
}

/*
 * 2. PREEMPT AND ABORT issued on one node, the victim's writes in flight
 * on another:
 *
 *   B (ini2) --- node 1 (RTPI 1) ---+   PREEMPT AND ABORT A's key
 *   A (ini1) --- node 2 (RTPI 2) ---+-- one LU
 *                                   |   32 x WRITE(10) of 128 KiB, each
 *                                   |   with 64 KiB immediate data,
 *                                   |   waiting for the data of its R2T
 *   C (ini3) --- node 3 (RTPI 3) ---+   READ KEYS afterwards
 *
 * As pr_scenarios' preempt_abort (SPC-4 5.14.11.2.4, SAM-5 5.6): A sends
 * its writes and answers none of the R2Ts; once node 2 has sent an R2T
 * for every write, they are all in A's task set, and B's PREEMPT AND
 * ABORT goes to node 1 while A stays silent. Node 2 must abort A's tasks
 * (it derives that from the ordered PR OUT) before node 1 answers B.
 * Per write of A, with node 2's TAS (control mode page, set through A's
 * nexus: 1, then 0 in preempt_abort_remote_tas0): TAS = 1: TASK ABORTED,
 * before the response to A's probe (a TEST UNIT READY sent after B's
 * GOOD); TAS = 0: no response at all.
 * Never GOOD, RESERVATION CONFLICT or CHECK CONDITION. A then sees 2A/05
 * REGISTRATIONS PREEMPTED (and 2F/00 with TAS = 0), its next write
 * conflicts, and node 3 lists B's key alone.
 */
#define PA_WRITES 32
#define PA_BYTES (128u * 1024u)

static void sc_preempt_abort_remote_run(bool want_tas, char *detail,
					size_t dlen)
{
	enum { SC = 2 };
	struct sess A, B, C;
	struct keys k;
	struct resv v;
	struct aio *w[PA_WRITES];

	sess_open(&B, "B@1", 2, 1, ISID(SC, 2), o_lun);
	sess_open(&A, "A@2", 1, 2, ISID(SC, 1), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &B, &A, &C }, 3);
	step("node 2's TAS, through A's nexus");
	bool tas = tas_read(&A);
	if (tas != want_tas) {
		step("set node 2's TAS through A's nexus");
		tas_set(&A, want_tas);
		tas = want_tas;
		ua_drain(&A);
		ua_drain(&B);
		ua_drain(&C);
	}
	uint32_t bs = read_block_size(&A);

	step("A registers through node 2 and reserves WR_EX_RO, B registers"
	     " through node 1");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 2), 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX_RO, KEY(SC, 1), 0, 0);

	step("A queues its writes of 128 KiB on node 2");
	aio_phase = 0;
	writes_withheld(&A, w, PA_WRITES, 4096, PA_BYTES, bs);
	EQ("A's writes completed before the preemption (A withholds their"
	   " data)", aio_pending, PA_WRITES);

	step("B PREEMPT AND ABORT A's key through node 1, A's writes in"
	     " flight on node 2");
	double tp = now_s();
	pr_ok_alone(&B, SA_PREEMPT_ABORT, TYPE_WR_EX_RO, KEY(SC, 2), KEY(SC, 1),
		    "A not sending its solicited data");
	double pa_ms = (now_s() - tp) * 1000;

	step("A's probe on node 2 after B's GOOD");
	struct aio *probe = probe_after(&A, (struct sess *[]){ &A, &B }, 2);
	int n_aborted = writes_aborted(w, PA_WRITES, tas);

	step("A's unit attentions on node 2: 2A/05, and 2F/00 with TAS = 0");
	struct ua_seen u;
	ua_collect(&A, probe, &u);
	EQ("A saw 2A/05 REGISTRATIONS PREEMPTED",
	   ua_seen_has(&u, ASC_REGS_PREEMPTED), 1);
	EQ("A saw 2F/00 COMMANDS CLEARED BY ANOTHER INITIATOR",
	   ua_seen_has(&u, ASC_CMDS_CLEARED), !tas);

	step("A writes through node 2 after the preemption");
	write_expect(&A, ST_CONFLICT);
	step("READ KEYS through node 3: only B");
	read_keys(&C, &k);
	EQ("number of keys", k.n, 1);
	EQ("B's key", k.key[0], KEY(SC, 2));
	EQ("PRgeneration", k.gen, g0 + 3);
	step("READ RESERVATION through node 3: B took it over");
	read_resv(&C, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, KEY(SC, 2));
	EQ("type", v.type, TYPE_WR_EX_RO);
	snprintf(detail, dlen, "TAS=%d on node 2: %d writes waiting for data,"
		 " %d aborted %s; PR OUT status after %.1f ms", tas, PA_WRITES,
		 n_aborted,
		 tas ? "with TASK ABORTED" : "without status", pa_ms);
	step("clean up: B CLEAR");
	pr_ok(&B, SA_CLEAR, 0, KEY(SC, 2), 0, 0);
	if (!tas) {
		step("clean up: node 2's TAS back to 1");
		ua_drain(&A);
		tas_set(&A, true);
	}
}

static void sc_preempt_abort_remote(char *detail, size_t dlen)
{
	sc_preempt_abort_remote_run(true, detail, dlen);
}

static void sc_preempt_abort_remote_tas0(char *detail, size_t dlen)
{
	sc_preempt_abort_remote_run(false, detail, dlen);
}

/*
 * 3. REGISTER AND MOVE to another node's port (SPC-4 5.14.8, 6.16.4):
 *
 *   holder A (ini1) --- node 1 (RTPI 1) ---+
 *   B (ini2) ---------- node 2 (RTPI 2) ---+--- one LU
 *   C (ini3) ---------- node 3 (RTPI 3) ---+
 *
 * A reserves WR_EX through node 1 and moves it to B's TransportID with
 * RELATIVE TARGET PORT IDENTIFIER 2, node 2's port: B, unregistered, is
 * registered with the SERVICE ACTION RESERVATION KEY through RTPI 2 and
 * holds; READ RESERVATION through node 2 and READ FULL STATUS through node
 * 3 say so. A move to RTPI 77, which no node has, is refused with ILLEGAL
 * REQUEST, INVALID FIELD IN PARAMETER LIST (field pointer: byte 18, the
 * RTPI) and changes nothing.
 */
static void sc_register_move_remote(void)
{
	enum { SC = 3 };
	struct sess A, B, C;
	struct reply r;
	struct resv v;
	struct keys k;
	struct full_status fs;
	uint8_t p[512];
	uint32_t len;

	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B, &C }, 3);

	step("A registers and reserves WR_EX through node 1");
	pr_ok(&A, SA_REGISTER, 0, 0, KEY(SC, 1), 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX, KEY(SC, 1), 0, 0);

	step("A REGISTER AND MOVE to B's TransportID at RTPI 2, UNREG = 0");
	move_param(p, &len, KEY(SC, 1), KEY(SC, 9), false, 2, &B);
	pr_out_raw(&A, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_status(&A, &r, ST_GOOD);
	step("READ RESERVATION through node 2 after the move");
	read_resv(&B, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key = SERVICE ACTION RESERVATION KEY", v.key, KEY(SC, 9));
	EQ("type", v.type, TYPE_WR_EX);
	EQ("PRgeneration", v.gen, g0 + 2);
	step("READ FULL STATUS through node 3 after the move");
	read_full_status(&C, &fs);
	EQ("registrations", fs.n, 2);
	const struct fs_desc *da = fs_find_sess(&fs, &A);
	const struct fs_desc *db = fs_find_sess(&fs, &B);
	EQ("A's key", da->key, KEY(SC, 1));
	EQ("A R_HOLDER", da->r_holder, 0);
	EQ("A RTPI", da->rtpi, 1);
	EQ("B's key", db->key, KEY(SC, 9));
	EQ("B R_HOLDER", db->r_holder, 1);
	EQ("B type", db->type, TYPE_WR_EX);
	EQ("B RTPI (node 2's port)", db->rtpi, 2);
	EQ("B ALL_TG_PT", db->all_tg_pt, 0);
	step("B (new holder) writes through node 2");
	write_expect(&B, ST_GOOD);
	step("A (registrant of WR_EX, not holder) writes through node 1");
	write_expect(&A, ST_CONFLICT);
	step("C writes through node 3");
	write_expect(&C, ST_CONFLICT);

	step("B moves it to A at RTPI 77 (no node has it)");
	move_param(p, &len, KEY(SC, 9), KEY(SC, 8), false, 77, &A);
	pr_out_raw(&B, SA_REGISTER_MOVE, TYPE_WR_EX, p, len, &r);
	expect_sense(&B, &r, SK_ILLEGAL, ASC_INVALID_FIELD_PARAM);
	EQ("SKSV", r.sksv, 1);
	EQ("C/D (parameter list)", r.cd, 0);
	EQ("FIELD POINTER (RELATIVE TARGET PORT IDENTIFIER)", r.field, 18);
	step("nothing changed after the refused move (through node 1)");
	read_keys(&A, &k);
	EQ("keys", k.n, 2);
	EQ("PRgeneration", k.gen, g0 + 2);
	read_resv(&A, &v);
	EQ("holder key", v.key, KEY(SC, 9));

	step("clean up: B CLEAR");
	pr_ok(&B, SA_CLEAR, 0, KEY(SC, 9), 0, 0);
}

/*
 * 4. ALL_TG_PT across nodes (SPC-4 6.16.3):
 *
 *   A@1 (ini1, ISID a) --- node 1 (RTPI 1) ---+
 *   B@2 (ini2) ----------- node 2 (RTPI 2) ---+--- one LU
 *   A@3 (ini1, ISID a) --- node 3 (RTPI 3) ---+--- C@3 (ini3)
 *
 * A registers through node 1 with ALL_TG_PT = 1: one registration for
 * A's initiator port through every target port of every node. READ FULL
 * STATUS through each node lists it with ALL_TG_PT = 1; the same
 * initiator port through node 3 is registered (REGISTER with key 0
 * conflicts) and RESERVEs with the key; A writes through both nodes, the
 * unregistered B does not.
 */
static void sc_all_tg_pt(void)
{
	enum { SC = 4 };
	struct sess A1, A3, B, C;
	struct reply r;
	struct keys k;
	struct resv v;
	struct caps c;

	sess_open(&A1, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A1, &B, &C }, 3);

	step("REPORT CAPABILITIES through node 1: ATP_C");
	report_caps(&A1, &c);
	EQ("ATP_C", c.atp_c, 1);
	step("A@1 REGISTER with ALL_TG_PT through node 1");
	pr_ok(&A1, SA_REGISTER, 0, 0, KEY(SC, 1), 0x04);

	struct sess *via[NODES + 1] = { NULL, &A1, &B, &C };
	for (int n = 1; n <= NODES; n++) {
		struct full_status fs;
		stepf("READ FULL STATUS through node %d", n);
		read_full_status(via[n], &fs);
		EQ("PRgeneration", fs.gen, g0 + 1);
		EQ("registrations", fs.n, 1);
		const struct fs_desc *d = fs_find_sess(&fs, &A1);
		EQ("key", d->key, KEY(SC, 1));
		EQ("ALL_TG_PT", d->all_tg_pt, 1);
		EQ("R_HOLDER", d->r_holder, 0);
	}

	sess_open(&A3, "A@3", 1, 3, ISID(SC, 1), o_lun);
	ua_drain(&A3);
	step("A@3 (A's port through node 3) REGISTER with key 0: already"
	     " registered");
	pr_out(&A3, SA_REGISTER, 0, 0, KEY(SC, 7), 0, &r);
	expect_status(&A3, &r, ST_CONFLICT);
	step("A@3 RESERVE WR_EX with A's key through node 3");
	pr_ok(&A3, SA_RESERVE, TYPE_WR_EX, KEY(SC, 1), 0, 0);
	step("READ RESERVATION through node 2");
	read_resv(&B, &v);
	EQ("reservation held", v.held, 1);
	EQ("holder key", v.key, KEY(SC, 1));
	EQ("type", v.type, TYPE_WR_EX);
	step("A@3 writes through node 3");
	write_expect(&A3, ST_GOOD);
	step("A@1 writes through node 1 (the same registration holds)");
	write_expect(&A1, ST_GOOD);
	step("B (not registered) writes through node 2");
	write_expect(&B, ST_CONFLICT);
	step("C (not registered) writes through node 3");
	write_expect(&C, ST_CONFLICT);

	step("A@1 RELEASE and unregisters through node 1: gone everywhere");
	pr_ok(&A1, SA_RELEASE, TYPE_WR_EX, KEY(SC, 1), 0, 0);
	pr_ok(&A1, SA_REGISTER, 0, KEY(SC, 1), 0, 0);
	read_keys(&C, &k);
	EQ("keys", k.n, 0);
	EQ("PRgeneration", k.gen, g0 + 2);
	pr_out(&A3, SA_RESERVE, TYPE_WR_EX, KEY(SC, 1), 0, 0, &r);
	expect_status(&A3, &r, ST_CONFLICT);
}

/*
 * 5. READ FULL STATUS is one answer, whichever node is asked (SPC-4
 * 6.15.5):
 *
 *   A@1  (ini1, ISID a)  --- node 1 (RTPI 1) ---+
 *   B'@1 (ini2, ISID b') --- node 1             |
 *   B@2  (ini2, ISID b)  --- node 2 (RTPI 2) ---+--- one LU
 *   C@3  (ini3)          --- node 3 (RTPI 3) ---+
 *   A'@3 (ini1, ISID a') --- node 3, ALL_TG_PT = 1
 *
 * Five registrations made through the three nodes, C holds Exclusive
 * Access. READ FULL STATUS returns byte-identical data through every
 * node (and so do READ KEYS and READ RESERVATION); each ALL_TG_PT = 0
 * registration's RELATIVE TARGET PORT IDENTIFIER is the RTPI of the node
 * it was made through.
 */
static void sc_full_status_identical(char *detail, size_t dlen)
{
	enum { SC = 5 };
	struct sess A, A2, B, B2, C;
	struct full_status fs[NODES + 1];
	uint8_t keys_raw[NODES + 1][256], resv_raw[NODES + 1][64];
	int keys_len[NODES + 1], resv_len[NODES + 1];

	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	sess_open(&A2, "A'@3", 1, 3, ISID(SC, 4), o_lun);
	sess_open(&B2, "B'@1", 2, 1, ISID(SC, 5), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ &A, &B, &C, &A2, &B2 }, 5);

	step("registrations through all three nodes, C reserves EX_AC");
	pr_ok(&A, SA_REGISTER, 0, 0, KEY(SC, 1), 0);
	pr_ok(&B, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 2), 0);
	pr_ok(&C, SA_REGISTER, 0, 0, KEY(SC, 3), 0);
	pr_ok(&A2, SA_REGISTER, 0, 0, KEY(SC, 4), 0x04);
	pr_ok(&B2, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 5), 0);
	pr_ok(&C, SA_RESERVE, TYPE_EX_AC, KEY(SC, 3), 0, 0);

	struct sess *via[NODES + 1] = { NULL, &A, &B, &C };
	for (int n = 1; n <= NODES; n++) {
		stepf("READ FULL STATUS, READ KEYS, READ RESERVATION through"
		      " node %d", n);
		read_full_status(via[n], &fs[n]);
		keys_len[n] = pr_in_bytes(via[n], IN_READ_KEYS, keys_raw[n],
					  sizeof(keys_raw[n]));
		resv_len[n] = pr_in_bytes(via[n], IN_READ_RESERVATION,
					  resv_raw[n], sizeof(resv_raw[n]));
	}
	step("READ FULL STATUS through node 1: the registrations");
	EQ("PRgeneration", fs[1].gen, g0 + 5);
	EQ("registrations", fs[1].n, 5);
	const struct sess *who[] = { &A, &B, &C, &B2 };
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		const struct fs_desc *d = fs_find_sess(&fs[1], who[i]);
		stepf("READ FULL STATUS through node 1: %s", who[i]->label);
		EQ("ALL_TG_PT", d->all_tg_pt, 0);
		EQ("RELATIVE TARGET PORT IDENTIFIER = the node it registered"
		   " through", d->rtpi, who[i]->rtpi);
		EQ("R_HOLDER", d->r_holder, who[i] == &C);
	}
	const struct fs_desc *d = fs_find_sess(&fs[1], &A2);
	step("READ FULL STATUS through node 1: A'@3");
	EQ("ALL_TG_PT", d->all_tg_pt, 1);
	EQ("key", d->key, KEY(SC, 4));
	d = fs_find_sess(&fs[1], &C);
	EQ("C TYPE", d->type, TYPE_EX_AC);
	EQ("C key", d->key, KEY(SC, 3));
	for (int n = 2; n <= NODES; n++) {
		stepf("node %d's data is byte-identical to node 1's", n);
		EQ("READ FULL STATUS length", fs[n].raw_len, fs[1].raw_len);
		if (memcmp(fs[n].raw, fs[1].raw, (size_t)fs[1].raw_len)) {
			int off = 0;
			while (fs[n].raw[off] == fs[1].raw[off])
				off++;
			sc_fail("READ FULL STATUS differs at byte %d: 0x%02x"
				" through node %d, 0x%02x through node 1", off,
				fs[n].raw[off], n, fs[1].raw[off]);
		}
		EQ("READ KEYS length", keys_len[n], keys_len[1]);
		EQ("READ KEYS bytes", memcmp(keys_raw[n], keys_raw[1],
					     (size_t)keys_len[1]), 0);
		EQ("READ RESERVATION length", resv_len[n], resv_len[1]);
		EQ("READ RESERVATION bytes", memcmp(resv_raw[n], resv_raw[1],
						    (size_t)resv_len[1]), 0);
	}
	snprintf(detail, dlen, "5 registrations, %d bytes, identical through"
		 " nodes 1-3", fs[1].raw_len);
	step("clean up: C CLEAR");
	pr_ok(&C, SA_CLEAR, 0, KEY(SC, 3), 0, 0);
}

/*
 * 6. COMPARE AND WRITE races across nodes (SBC-3 5.2):
 *
 *   A (ini1) --- node 1 ---+
 *   B (ini2) --- node 2 ---+--- one LU, one block at LBA 2048
 *   C (ini3) --- node 3 ---+
 *
 * For N rounds, each of A, B and C queues at the same moment a 1-block
 * COMPARE AND WRITE of the same LBA, comparing with the block's content
 * at the start of the round and writing its own pattern. COMPARE AND
 * WRITE is atomic across nodes (DESIGN.md), so exactly one wins (GOOD),
 * the other two get MISCOMPARE (0E/1D/00), and a READ through node 3
 * returns the winner's pattern, which the next round compares with.
 */
#define CAW_LBA 2048u

static void caw_fill(uint8_t *b, uint32_t bs, int round, int who)
{
	for (uint32_t i = 0; i < bs; i++)
		b[i] = (uint8_t)(round * 7 + who * 31 + (int)i);
	snprintf((char *)b, bs, "caw round %d by %d", round, who);
}

static void sc_caw_race(char *detail, size_t dlen)
{
	enum { SC = 6 };
	static uint8_t cur[4096], buf[NODES + 1][2 * 4096];
	struct sess A, B, C;
	struct reply r;
	int wins[NODES + 1] = { 0 };

	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	sc_begin((struct sess *[]){ &A, &B, &C }, 3);
	struct sess *ss[NODES + 1] = { NULL, &A, &B, &C };

	step("READ CAPACITY(10): block size");
	uint32_t bs = read_block_size(&A);
	if (bs < 512 || bs > 4096)
		sc_fail("block size %u", bs);

	step("A writes the start pattern through node 1");
	caw_fill(cur, bs, 0, 0);
	uint8_t wcdb[10] = { 0x2A };
	put32(wcdb + 2, CAW_LBA);
	put16(wcdb + 7, 1);
	cmd(&A, wcdb, 10, cur, bs, 0, &r);
	expect_status(&A, &r, ST_GOOD);

	double t0 = now_s();
	for (int round = 1; round <= o_caw_rounds; round++) {
		struct aio *io[NODES + 1];
		uint8_t cdb[16] = { 0x89 };
		put64(cdb + 2, CAW_LBA);
		cdb[13] = 1;
		stepf("round %d: three COMPARE AND WRITEs", round);
		/* queue in a rotating order, then send them together */
		for (int j = 0; j < NODES; j++) {
			int n = 1 + (round + j) % NODES;
			memcpy(buf[n], cur, bs);
			caw_fill(buf[n] + bs, bs, round, n);
			io[n] = aio_submit(ss[n], cdb, 16, buf[n], 2 * bs, 0);
		}
		double tr = now_s();
		while (aio_pending > 0) {
			sess_service_once(ss + 1, NODES, 10);
			if (now_s() - tr > 30)
				sc_fail("%d COMPARE AND WRITEs without status after"
					" 30 s", aio_pending);
		}
		int winner = 0, good = 0;
		for (int n = 1; n <= NODES; n++) {
			if (io[n]->status == ST_GOOD) {
				good++;
				winner = winner ? winner : n;
				continue;
			}
			if (io[n]->status != ST_CHECK ||
			    io[n]->sense_key != SK_MISCOMPARE ||
			    io[n]->asc != ASC_MISCOMPARE)
				sc_fail("node %d: %s (sense %x/%04x), want GOOD or"
					" MISCOMPARE (e/1d00)", n,
					status_name(io[n]->status),
					io[n]->sense_key, io[n]->asc);
		}
		for (int n = 1; n <= NODES; n++)
			aio_release(io[n]);
		if (good != 1)
			sc_fail("%d of 3 COMPARE AND WRITEs won (GOOD), want"
				" exactly 1: %s (wins so far: node 1 %d, node 2"
				" %d, node 3 %d)", good,
				good ? "COMPARE AND WRITE is not atomic across"
				       " nodes" : "nobody matched the block",
				wins[1], wins[2], wins[3]);
		wins[winner]++;
		caw_fill(cur, bs, round, winner);
		uint8_t rcdb[10] = { 0x28 };
		put32(rcdb + 2, CAW_LBA);
		put16(rcdb + 7, 1);
		cmd(&C, rcdb, 10, NULL, 0, bs, &r);
		expect_status(&C, &r, ST_GOOD);
		if (r.len != (int)bs || memcmp(r.data, cur, bs))
			sc_fail("the block read through node 3 is not node %d's"
				" (the winner's) pattern: \"%.24s\"", winner,
				(const char *)r.data);
	}
	snprintf(detail, dlen, "%d rounds in %.1f s, one winner each (node 1:"
		 " %d, node 2: %d, node 3: %d)", o_caw_rounds, now_s() - t0,
		 wins[1], wins[2], wins[3]);
}

/*
 * 7. LUN RESET through one node resets the device for all (SAM-5 6.3.3):
 *
 *   A@1 (ini1) --- node 1 ---+   LUN RESET
 *   B@2 (ini2) --- node 2 ---+--- one LU, RESERVE(6) by B before
 *   C@3 (ini3) --- node 3 ---+   next command: UA 29/03
 *
 * B's SCSI-2 reservation (through node 2) makes A's write and C's TEST
 * UNIT READY conflict. After A's LUN RESET through node 1 (FUNCTION
 * COMPLETE), every I_T nexus of the LU, on every node, reports UA 29/03
 * BUS DEVICE RESET FUNCTION OCCURRED on its next command, and the SCSI-2
 * reservation is gone (SPC-2 5.5.1: a LUN reset releases it).
 */
struct tmf_wait {
	int done;
	int status;
	uint32_t response;
};

static void tmf_cb(struct iscsi_context *ctx, int status, void *data,
		   void *priv)
{
	struct tmf_wait *w = priv;

	(void)ctx;
	w->status = status;
	if (data)
		w->response = *(uint32_t *)data;
	w->done = 1;
}

/* LUN RESET through s; FUNCTION COMPLETE within 30 s, or fail (why: what
 * a missing response would mean). */
static void lun_reset(struct sess *s, const char *why)
{
	struct tmf_wait w = { 0 };

	if (iscsi_task_mgmt_lun_reset_async(s->ctx, (uint32_t)s->lun, tmf_cb,
					    &w) != 0)
		sc_fail("%s: cannot queue LUN RESET: %s", s->label,
			iscsi_get_error(s->ctx));
	sess_service((struct sess *[]){ s }, 1, 30, &w.done);
	if (!w.done)
		sc_fail("%s: no response to LUN RESET within 30 s%s%s%s", s->label,
			why ? " (" : "", why ? why : "", why ? ")" : "");
	EQ("task management status", w.status, SCSI_STATUS_GOOD);
	EQ("response (0: FUNCTION COMPLETE)", w.response, 0);
}

static void sc_lun_reset_ua(void)
{
	enum { SC = 7 };
	static const uint8_t reserve6[6] = { 0x16 }, release6[6] = { 0x17 };
	struct sess A, B, C;
	struct reply r;

	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	sc_begin((struct sess *[]){ &A, &B, &C }, 3);

	step("B RESERVE(6) through node 2");
	cmd(&B, reserve6, 6, NULL, 0, 0, &r);
	expect_status(&B, &r, ST_GOOD);
	step("A writes through node 1 under B's reservation");
	write_expect(&A, ST_CONFLICT);
	step("C TEST UNIT READY through node 3 under B's reservation");
	tur(&C, &r);
	expect_status(&C, &r, ST_CONFLICT);

	step("A LUN RESET through node 1");
	lun_reset(&A, NULL);

	step("C's next command through node 3: UA 29/03");
	tur(&C, &r);
	expect_sense(&C, &r, SK_UA, ASC_RESET_OCCURRED);
	step("C TEST UNIT READY again: GOOD (B's reservation is gone)");
	tur(&C, &r);
	expect_status(&C, &r, ST_GOOD);
	step("B's next command through node 2: UA 29/03");
	tur(&B, &r);
	expect_sense(&B, &r, SK_UA, ASC_RESET_OCCURRED);
	step("A's next command through node 1: UA 29/03");
	io10(&A, true, 8, 1, &r);
	expect_sense(&A, &r, SK_UA, ASC_RESET_OCCURRED);
	step("A writes through node 1: no reservation any more");
	write_expect(&A, ST_GOOD);
	step("C RESERVE(6) through node 3, then RELEASE(6)");
	cmd(&C, reserve6, 6, NULL, 0, 0, &r);
	expect_status(&C, &r, ST_GOOD);
	write_expect(&B, ST_CONFLICT);
	cmd(&C, release6, 6, NULL, 0, 0, &r);
	expect_status(&C, &r, ST_GOOD);
	write_expect(&B, ST_GOOD);
}

/*
 * 7b. LUN RESET through one node aborts the tasks of another node
 * (SAM-5 LOGICAL UNIT RESET; DESIGN.md: each node aborts its own tasks
 * before it acks):
 *
 *   C@1 (ini3) --- node 1 ---+   LUN RESET
 *   A@2 (ini1) --- node 2 ---+--- one LU; 32 x WRITE(10) of 128 KiB in
 *                            |    flight, their solicited data withheld
 *   B@3 (ini2) --- node 3 ---+
 *
 * As preempt_abort_remote, with a LUN RESET through node 1 instead of a
 * PR OUT: the response is FUNCTION COMPLETE while A stays silent, so
 * node 2 ended A's tasks without their data: with node 2's TAS = 1 each
 * with TASK ABORTED before the response to A's probe, with TAS = 0 with
 * no response. A's probe and B's next command report 29/03; A's writes
 * run afterwards.
 */
static void sc_lun_reset_abort_remote(char *detail, size_t dlen)
{
	enum { SC = 12 };
	struct sess A, B, C;
	struct reply r;
	struct aio *w[PA_WRITES];

	sess_open(&C, "C@1", 3, 1, ISID(SC, 3), o_lun);
	sess_open(&A, "A@2", 1, 2, ISID(SC, 1), o_lun);
	sess_open(&B, "B@3", 2, 3, ISID(SC, 2), o_lun);
	sc_begin((struct sess *[]){ &C, &A, &B }, 3);
	step("node 2's TAS, through A's nexus");
	bool tas = tas_read(&A);

	step("A queues its writes of 128 KiB on node 2");
	aio_phase = 0;
	writes_withheld(&A, w, PA_WRITES, 4096, PA_BYTES, 512);
	EQ("A's writes completed before the reset (A withholds their data)",
	   aio_pending, PA_WRITES);

	step("C LUN RESET through node 1, A's writes in flight on node 2");
	double tp = now_s();
	lun_reset(&C, "A not sending its solicited data");
	double reset_ms = (now_s() - tp) * 1000;

	step("A's probe on node 2 after the reset");
	struct aio *probe = probe_after(&A, (struct sess *[]){ &A }, 1);
	int n_aborted = writes_aborted(w, PA_WRITES, tas);

	step("A's unit attentions on node 2: 29/03");
	struct ua_seen u;
	ua_collect(&A, probe, &u);
	EQ("A saw 29/03 BUS DEVICE RESET FUNCTION OCCURRED",
	   ua_seen_has(&u, ASC_RESET_OCCURRED), 1);
	step("B's next command through node 3: UA 29/03");
	tur(&B, &r);
	expect_sense(&B, &r, SK_UA, ASC_RESET_OCCURRED);
	step("A writes through node 2 after the reset");
	write_expect(&A, ST_GOOD);
	snprintf(detail, dlen, "TAS=%d on node 2: %d writes waiting for data,"
		 " %d aborted %s; LUN RESET response after %.1f ms", tas,
		 PA_WRITES, n_aborted,
		 tas ? "with TASK ABORTED" : "without status", reset_ms);
}

/* The start of both APTPL scenarios: A@1 and B@2 register with APTPL = 1
 * and A reserves WR_EX_RO (step what); SKIP without --stop-cmd /
 * --start-cmd or with PTPL_C = 0. Returns the generation before. */
static uint32_t aptpl_begin(int sc, struct sess *A, struct sess *B,
			    const char *what)
{
	struct caps c;

	if (!o_stop_cmd || !o_start_cmd)
		sc_skip("no --stop-cmd/--start-cmd: cannot restart ctgtd");
	sess_open(A, "A@1", 1, 1, ISID(sc, 1), o_lun);
	sess_open(B, "B@2", 2, 2, ISID(sc, 2), o_lun);
	uint32_t g0 = sc_begin((struct sess *[]){ A, B }, 2);
	step("REPORT CAPABILITIES: PTPL_C");
	report_caps(A, &c);
	if (!c.ptpl_c)
		sc_skip("PTPL_C = 0: the LU cannot persist through power loss");

	step(what);
	pr_ok(A, SA_REGISTER, 0, 0, KEY(sc, 1), 0x01);
	pr_ok(B, SA_REGISTER, 0, 0, KEY(sc, 2), 0x01);
	pr_ok(A, SA_RESERVE, TYPE_WR_EX_RO, KEY(sc, 1), 0, 0);
	return g0;
}

/* Initiator ini ("A", "B", "C") through node, its UAs drained. */
static void sess_open_at(struct sess *s, int ini, int node, uint32_t isid)
{
	static const char *const label[][NODES + 1] = {
		{ NULL }, { NULL, "A@1", "A@2", "A@3" },
		{ NULL, "B@1", "B@2", "B@3" }, { NULL, "C@1", "C@2", "C@3" },
	};

	sess_open(s, label[ini][node], ini, node, isid, o_lun);
	ua_drain(s);
}

/* The same READ FULL STATUS parameter data, byte for byte. */
static bool fs_raw_same(const struct full_status *a,
			const struct full_status *b)
{
	return a->raw_len == b->raw_len &&
	       !memcmp(a->raw, b->raw, (size_t)a->raw_len);
}

/*
 * 7c. A node that was away hears what changed meanwhile (SPC-4 5.14.11,
 * SAM-5 6.3.3; repl.c, "missed"):
 *
 *   A@1 (ini1) --- node 1 ---+
 *                  node 2 ---+--- one LU
 *   C@3 (ini3) --- node 3 ---+    node 3 cut off, then healed
 *   D@3 (ini2) ---/
 *
 * A, C and D register; C reserves Exclusive Access. Node 3 is cut off
 * the cluster (--partition-cmd 3): it loses quorum and applies nothing;
 * node 1 holds the LU for the fencing of node 3 (NOT READY 02/04/0A for
 * cluster.fence_delay_ms), then serves. Meanwhile, through node 1, A
 * PREEMPTs C's key as Write Exclusive and resets the LU. Node 3 heals (--heal-cmd 3) and takes the cluster's
 * state. C and D stayed logged in to node 3 (idle while it was cut off);
 * their commands, retried while node 3 is not ready, report among the
 * ALUA 2A/06s: C 29/03 and 2A/05 REGISTRATIONS PREEMPTED, D 29/03 and
 * 2A/04 RESERVATIONS RELEASED (still registered, its reservation changed
 * type); then C's and D's writes conflict (A holds Write Exclusive) and
 * node 3 lists A's and D's keys.
 */
struct uas_until_good {
	int asc[16];
	int n;
	int not_ready;
};

/* TEST UNIT READY through s until GOOD (30 s at most): the UAs on the
 * way, NOT READY (a node not ready yet) retried. */
static void uas_until_good(struct sess *s, struct uas_until_good *u)
{
	double t0 = now_s();
	struct reply r;

	memset(u, 0, sizeof(*u));
	for (;;) {
		tur(s, &r);
		if (r.status == ST_GOOD)
			return;
		if (r.status == ST_CHECK && r.sense_key == SK_UA &&
		    u->n < (int)(sizeof(u->asc) / sizeof(u->asc[0])))
			u->asc[u->n++] = r.asc;
		else if (r.status == ST_CHECK && r.sense_key == SK_NOT_READY)
			u->not_ready++;
		else
			sc_fail("%s: TEST UNIT READY: %s (sense %x/%04x)",
				s->label, status_name(r.status), r.sense_key,
				r.asc);
		if (now_s() - t0 > 30)
			sc_fail("%s: TEST UNIT READY not GOOD 30 s after the "
				"heal (%d UAs, %d NOT READY)", s->label, u->n,
				u->not_ready);
		if (r.sense_key == SK_NOT_READY)
			sleep_s(0.2);
	}
}

static bool uas_have(const struct uas_until_good *u, int asc)
{
	for (int i = 0; i < u->n; i++)
		if (u->asc[i] == asc)
			return true;
	return false;
}

static void uas_str(const struct uas_until_good *u, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (int i = 0; i < u->n && off + 8 < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%02X/%02X",
					i ? " " : "", u->asc[i] >> 8,
					u->asc[i] & 0xff);
}

/* TEST UNIT READY through s (UAs and GOOD on the way are fine) until
 * the node holds the LU for the fencing of a departed node (NOT READY
 * 02/04/0A: device.c, "Fencing"; limit seconds at most), then until
 * GOOD (uas_until_good): the node noticed the departure, waited, and
 * serves again. Returns the seconds from the first hold seen to GOOD. */
static double fence_pass(struct sess *s, double limit)
{
	double t0 = now_s(), t_held;
	struct uas_until_good u;
	struct reply r;

	for (;;) {
		tur(s, &r);
		if (r.status == ST_CHECK && r.sense_key == SK_NOT_READY &&
		    r.asc == 0x040A)
			break;
		if (r.status != ST_GOOD &&
		    !(r.status == ST_CHECK && r.sense_key == SK_UA))
			sc_fail("%s: TEST UNIT READY while waiting for the "
				"fencing of a departed node: %s (sense %x/%04x)",
				s->label, status_name(r.status), r.sense_key,
				r.asc);
		if (now_s() - t0 > limit)
			sc_fail("%s: no hold (NOT READY 02/04/0A) for the "
				"fencing %.0f s after a node left", s->label,
				limit);
		sleep_s(0.05);
	}
	t_held = now_s();
	uas_until_good(s, &u);
	return now_s() - t_held;
}

/* TEST UNIT READY through s for secs: never NOT READY 02/04/0A (the
 * node did not hold the LU: the node that left had stopped cleanly,
 * device.c "Fencing"); UAs and GOOD are fine. */
static void no_hold(struct sess *s, double secs)
{
	double t0 = now_s();
	struct reply r;

	while (now_s() - t0 < secs) {
		tur(s, &r);
		if (r.status == ST_CHECK && r.sense_key == SK_NOT_READY)
			sc_fail("%s: NOT READY (sense %x/%04x) after a clean "
				"stop of another node: held as if it had "
				"failed", s->label, r.sense_key, r.asc);
		if (r.status != ST_GOOD &&
		    !(r.status == ST_CHECK && r.sense_key == SK_UA))
			sc_fail("%s: TEST UNIT READY: %s (sense %x/%04x)",
				s->label, status_name(r.status), r.sense_key,
				r.asc);
		sleep_s(0.05);
	}
}

static void sc_merge_ua(char *detail, size_t dlen)
{
	enum { SC = 13 };
	struct sess A, C, D;
	struct uas_until_good uc, ud;
	char sc_[96], sd[96];
	struct keys k;

	if (!o_partition_cmd || !o_heal_cmd)
		sc_skip("no --partition-cmd/--heal-cmd (nor --harness): cannot"
			" cut node 3 off");
	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&C, "C@3", 3, 3, ISID(SC, 3), o_lun);
	sess_open(&D, "D@3", 2, 3, ISID(SC, 2), o_lun);
	sc_begin((struct sess *[]){ &A, &C, &D }, 3);

	step("A, C and D register; C RESERVE EX_AC through node 3");
	pr_ok(&A, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 1), 0);
	pr_ok(&C, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 3), 0);
	pr_ok(&D, SA_REGISTER_IGNORE, 0, 0, KEY(SC, 2), 0);
	pr_ok(&C, SA_RESERVE, TYPE_EX_AC, KEY(SC, 3), 0, 0);

	step("node 3 is cut off the cluster");
	node_down_by(3, NODE_CUT);
	step("node 1 holds the LU while node 3 is fenced, then serves");
	double fenced = fence_pass(&A, 15);
	step("A PREEMPTs C's key as WR_EX through node 1, then LUN RESET");
	pr_ok(&A, SA_PREEMPT, TYPE_WR_EX, KEY(SC, 1), KEY(SC, 3), 0);
	lun_reset(&A, NULL);
	ua_drain(&A);

	step("node 3 heals");
	node_up(3);
	step("C's commands through node 3 until GOOD");
	uas_until_good(&C, &uc);
	uas_str(&uc, sc_, sizeof(sc_));
	step("D's commands through node 3 until GOOD");
	uas_until_good(&D, &ud);
	uas_str(&ud, sd, sizeof(sd));
	if (!uas_have(&uc, ASC_REGS_PREEMPTED) ||
	    !uas_have(&uc, ASC_RESET_OCCURRED))
		sc_fail("C (preempted while node 3 was away) reported %s: "
			"want 29/03 and 2A/05 among them", uc.n ? sc_ : "no UA");
	if (!uas_have(&ud, ASC_RES_RELEASED) ||
	    !uas_have(&ud, ASC_RESET_OCCURRED) ||
	    uas_have(&ud, ASC_REGS_PREEMPTED))
		sc_fail("D (still registered; its reservation changed type "
			"while node 3 was away) reported %s: want 29/03 and "
			"2A/04, not 2A/05", ud.n ? sd : "no UA");

	step("C and D write through node 3: A holds WR_EX");
	write_expect(&C, ST_CONFLICT);
	write_expect(&D, ST_CONFLICT);
	step("READ KEYS through node 3");
	read_keys(&D, &k);
	EQ("number of keys", k.n, 2);
	EQ("A's key listed", keys_has(&k, KEY(SC, 1)), 1);
	EQ("D's key listed", keys_has(&k, KEY(SC, 2)), 1);
	step("clean up: A CLEAR");
	ua_drain(&A);  /* 2A/06: node 3's port group is back */
	pr_ok(&A, SA_CLEAR, 0, KEY(SC, 1), 0, 0);
	snprintf(detail, dlen, "C: %s; D: %s (%d and %d NOT READY retried);"
		 " node 1 held %.1f s for the fencing of node 3",
		 sc_, sd, uc.not_ready, ud.not_ready, fenced);
}

/*
 * 8. A SCSI-2 reservation ends when its node dies (DESIGN.md,
 * "Membership"):
 *
 *   A@1 (ini1) --- node 1 ---+
 *   B@2 (ini2) --- node 2 ---+--- one LU, RESERVE(6) by B; then node 2
 *                  node 3 ---+    dies (kill -9 of all of it)
 *
 * B reserves through node 2, A's writes through node 1 conflict. Node 2
 * is killed (--kill-cmd 2): once the others' view drops it (token +
 * consensus, a few seconds) its SCSI-2 reservation is released
 * cluster-wide and A's write through node 1 runs (polled every 0.25 s for
 * up to 15 s: meanwhile only RESERVATION CONFLICT, unit attentions such
 * as 2A/06 for node 2's port group going unavailable, and NOT READY
 * 02/04/0A while node 1 fences node 2 after the view: at least one, or
 * node 1 did not wait for node 2 to stop; device.c, "Fencing"). Without node
 * 2, A registers and reserves WR_EX_RO; node 2 comes back (--restart-cmd
 * 2), serves again, and has that state (the state transfer on its join):
 * READ FULL STATUS through it is node 1's, byte for byte, and B's new
 * session there conflicts on a write.
 */
static void sc_scsi2_node_killed(char *detail, size_t dlen)
{
	enum { SC = 8 };
	static const uint8_t reserve6[6] = { 0x16 };
	struct sess A, B, B2;
	struct reply r;
	struct resv v;
	struct full_status fs1, fs2;

	if (!o_kill_cmd || !o_restart_cmd)
		sc_skip("no --kill-cmd/--restart-cmd (nor --harness): cannot"
			" kill and restart node 2");
	sess_open(&A, "A@1", 1, 1, ISID(SC, 1), o_lun);
	sess_open(&B, "B@2", 2, 2, ISID(SC, 2), o_lun);
	sc_begin((struct sess *[]){ &A, &B }, 2);

	step("B RESERVE(6) through node 2");
	cmd(&B, reserve6, 6, NULL, 0, 0, &r);
	expect_status(&B, &r, ST_GOOD);
	step("A writes through node 1 under B's reservation");
	write_expect(&A, ST_CONFLICT);

	step("node 2 dies");
	node_down_by(2, NODE_KILLED);
	double t0 = now_s();
	sess_drop(&B);
	step("A writes through node 1 until node 2's reservation is released");
	int n_conflict = 0, n_ua = 0, n_held = 0;
	bool saw_2a06 = false;
	for (;;) {
		io10(&A, true, 8, 1, &r);
		if (r.status == ST_GOOD)
			break;
		if (r.status == ST_CONFLICT) {
			n_conflict++;
		} else if (r.status == ST_CHECK && r.sense_key == SK_UA) {
			n_ua++;
			saw_2a06 |= r.asc == ASC_ALUA_CHANGED;
		} else if (r.status == ST_CHECK &&
			   r.sense_key == SK_NOT_READY && r.asc == 0x040A) {
			n_held++;  /* node 2 fenced (device.c, "Fencing") */
		} else {
			expect_status(&A, &r, ST_CONFLICT);
		}
		if (now_s() - t0 > 15)
			sc_fail("A's write still conflicts 15 s after node 2 was"
				" killed: its SCSI-2 reservation was not released"
				" when it left the view");
		sleep_s(0.25);
	}
	double released = now_s() - t0;
	if (!n_held)
		sc_fail("A's write ran through node 1 with no NOT READY "
			"(02/04/0A) before it: node 1 did not hold the LU while "
			"node 2 was fenced");

	step("without node 2: A registers and reserves WR_EX_RO through node 1");
	ua_drain(&A);
	pr_ok(&A, SA_REGISTER, 0, 0, KEY(SC, 1), 0);
	pr_ok(&A, SA_RESERVE, TYPE_WR_EX_RO, KEY(SC, 1), 0, 0);
	read_full_status(&A, &fs1);
	EQ("registrations", fs1.n, 1);

	step("node 2 comes back");
	node_up(2);
	double back = node_wait_serving(2, 60);
	sess_open(&B2, "B@2", 2, 2, ISID(SC, 3), o_lun);
	ua_drain(&B2);
	step("READ FULL STATUS through the restarted node 2: what node 1 says");
	read_full_status(&B2, &fs2);
	if (!fs_raw_same(&fs2, &fs1))
		sc_fail("%d bytes through node 2, %d through node 1, not the"
			" same: node 2 did not get the state made while it was"
			" down", fs2.raw_len, fs1.raw_len);
	read_resv(&B2, &v);
	EQ("holder key", v.key, KEY(SC, 1));
	step("B (not registered) writes through the restarted node 2");
	write_expect(&B2, ST_CONFLICT);
	step("A (holder) writes through node 1");
	ua_drain(&A);  /* 2A/06: node 2's port group is back */
	write_expect(&A, ST_GOOD);
	step("clean up: A CLEAR");
	pr_ok(&A, SA_CLEAR, 0, KEY(SC, 1), 0, 0);
	snprintf(detail, dlen, "released %.1f s after the kill (%d conflicts,"
		 " %d UAs%s, %d NOT READY of the fencing before); node 2"
		 " serving %.1f s after its restart", released, n_conflict,
		 n_ua, saw_2a06 ? " incl. 2A/06" : "", n_held, back);
}

/*
 * 9. APTPL across a whole-cluster restart (SPC-4 5.14.5; DESIGN.md:
 * recovered by the highest (epoch, generation)):
 *
 *   A@1 (ini1) --- node 1 ---+
 *   B@2 (ini2) --- node 2 ---+--- one LU, APTPL = 1
 *                  node 3 ---+
 *
 * A (through node 1) and B (through node 2) register with APTPL = 1, A
 * reserves WR_EX_RO. ctgtd stops on every node (--stop-cmd 1, 2, 3) and
 * starts again in the other order, 3, 2, 1 (--start-cmd), the next one
 * as soon as the previous one was started. Once every node serves, READ
 * KEYS, READ RESERVATION and READ FULL STATUS are the same as before
 * the restart, byte for byte, through every node; PTPL_A = 1.
 */
static void sc_aptpl_restart(char *detail, size_t dlen)
{
	enum { SC = 9 };
	struct sess A, B, S[NODES + 1];
	struct reply r;
	struct caps c;
	struct resv v;
	struct full_status fs0, fs;
	uint8_t keys0[256], resv0[64];
	int keys0_len, resv0_len;

	uint32_t g0 = aptpl_begin(SC, &A, &B, "A and B register with APTPL"
				  " = 1, A reserves WR_EX_RO");
	step("the state before the restart (through node 1)");
	read_full_status(&A, &fs0);
	EQ("PRgeneration", fs0.gen, g0 + 2);
	EQ("registrations", fs0.n, 2);
	keys0_len = pr_in_bytes(&A, IN_READ_KEYS, keys0, sizeof(keys0));
	resv0_len = pr_in_bytes(&A, IN_READ_RESERVATION, resv0, sizeof(resv0));
	report_caps(&A, &c);
	EQ("PTPL_A before the restart", c.ptpl_a, 1);
	sess_close_all();

	step("ctgtd stops on nodes 1, 2, 3");
	for (int n = 1; n <= NODES; n++)
		node_down_by(n, NODE_STOPPED);
	step("ctgtd starts on nodes 3, 2, 1");
	double t0 = now_s();
	for (int n = NODES; n >= 1; n--)
		node_up(n);
	for (int n = NODES; n >= 1; n--)
		node_wait_serving(n, 60);
	double up = now_s() - t0;

	for (int n = 1; n <= NODES; n++) {
		sess_open_at(&S[n], 1, n, ISID(SC, 1));
		stepf("READ FULL STATUS through node %d after the restart", n);
		read_full_status(&S[n], &fs);
		EQ("PRgeneration", fs.gen, fs0.gen);
		EQ("registrations", fs.n, fs0.n);
		if (!fs_raw_same(&fs, &fs0))
			sc_fail("READ FULL STATUS through node %d: %d bytes, not"
				" the %d bytes from before the restart", n,
				fs.raw_len, fs0.raw_len);
		stepf("READ KEYS and READ RESERVATION through node %d after the"
		      " restart", n);
		pr_in(&S[n], IN_READ_KEYS, sizeof(keys0), &r);
		EQ("READ KEYS length", r.len, keys0_len);
		EQ("READ KEYS bytes", memcmp(r.data, keys0, (size_t)keys0_len), 0);
		pr_in(&S[n], IN_READ_RESERVATION, sizeof(resv0), &r);
		EQ("READ RESERVATION length", r.len, resv0_len);
		EQ("READ RESERVATION bytes", memcmp(r.data, resv0,
						    (size_t)resv0_len), 0);
		read_resv(&S[n], &v);
		EQ("holder key", v.key, KEY(SC, 1));
		report_caps(&S[n], &c);
		EQ("PTPL_A", c.ptpl_a, 1);
	}
	step("the restored reservation acts: A holds through node 1");
	write_expect(&S[1], ST_GOOD);
	step("clean up: CLEAR through node 1");
	pr_ok(&S[1], SA_CLEAR, 0, KEY(SC, 1), 0, 0);
	snprintf(detail, dlen, "every node serving %.1f s after the first start;"
		 " keys, reservation, PRgeneration %u identical", up, fs0.gen);
}

/*
 * 10. APTPL across a whole-cluster restart, one node's image stale
 * (DESIGN.md: the highest (epoch, generation) wins, not the first node
 * up nor the last writer):
 *
 *   A@1 (ini1) --- node 1 ---+
 *   B@2 (ini2) --- node 2 ---+--- one LU, APTPL = 1
 *                  node 3 ---+    stopped first: its image is old
 *
 * A and B register with APTPL = 1 and A reserves WR_EX_RO (image 1, on
 * every node). ctgtd stops on node 3: cleanly (its BYE), so nodes 1 and
 * 2 serve on without holding the LU for its fencing; then A releases, B reserves
 * Exclusive Access and A changes its key (image 2, on nodes 1 and 2
 * only). ctgtd stops on nodes 1 and 2. Node 3 starts first, alone for 2
 * s: one node of three is no quorum, so it must not serve its old image
 * (TEST UNIT READY: NOT READY, which fails libiscsi's login already). Then nodes 2 and 1 start; once all
 * serve, every node reports image 2, byte for byte, and node 3's file
 * does not come back.
 */
static void sc_aptpl_restart_stale(char *detail, size_t dlen)
{
	enum { SC = 10 };
	struct sess A, B, S[NODES + 1];
	struct uas_until_good u;
	struct reply r;
	struct resv v;
	struct keys k;
	struct full_status fs1, fs2, fs;
	char err[512] = "";

	uint32_t g0 = aptpl_begin(SC, &A, &B, "image 1: A and B register"
				  " with APTPL = 1, A reserves WR_EX_RO");
	read_full_status(&A, &fs1);

	step("ctgtd stops on node 3");
	node_down_by(3, NODE_STOPPED);
	step("nodes 1 and 2 serve on: node 3 stopped cleanly (BYE), no hold");
	no_hold(&A, 1.5);
	uas_until_good(&A, &u);
	uas_until_good(&B, &u);
	step("image 2 (nodes 1 and 2): A releases, B reserves EX_AC, A"
	     " changes its key");
	pr_ok(&A, SA_RELEASE, TYPE_WR_EX_RO, KEY(SC, 1), 0, 0);
	/* the release of a registrants-only reservation tells the other
	 * registrants (SPC-4 RELEASE service action) */
	io10(&B, false, 8, 1, &r);
	expect_sense(&B, &r, SK_UA, ASC_RES_RELEASED);
	pr_ok(&B, SA_RESERVE, TYPE_EX_AC, KEY(SC, 2), 0, 0);
	pr_ok(&A, SA_REGISTER, 0, KEY(SC, 1), KEY(SC, 3), 0x01);
	read_full_status(&B, &fs2);
	EQ("PRgeneration of image 2", fs2.gen, g0 + 3);
	EQ("registrations", fs2.n, 2);
	sess_close_all();

	step("ctgtd stops on nodes 1 and 2");
	node_down_by(1, NODE_STOPPED);
	node_down_by(2, NODE_STOPPED);
	step("ctgtd starts on node 3 alone (old image): it must not serve");
	double t0 = now_s();
	node_up(3);
	char alone[512] = "";
	while (now_s() - t0 < 2.0) {
		bool answered = node_probe(3, &r, err, sizeof(err));
		/* libiscsi's login ends with TEST UNIT READY: NOT READY there
		 * fails the login */
		snprintf(alone, sizeof(alone), "%s", err);
		if (answered) {
			if (r.status == ST_GOOD)
				sc_fail("node 3 alone (1 of 3 nodes, its image"
					" stale) serves the LU");
			if (r.status != ST_CHECK || r.sense_key != SK_NOT_READY)
				sc_fail("node 3 alone: %s, want NOT READY or no"
					" login", err);
		}
		sleep_s(0.3);
	}
	if (!strstr(alone, "NOT READY"))
		sc_fail("node 3 alone, 2 s after its start: %s, want NOT READY",
			alone);
	step("ctgtd starts on nodes 2 and 1");
	node_up(2);
	node_up(1);
	for (int n = NODES; n >= 1; n--)
		node_wait_serving(n, 60);
	double up = now_s() - t0;

	for (int n = 1; n <= NODES; n++) {
		sess_open_at(&S[n], 2, n, ISID(SC, 2));
		stepf("READ FULL STATUS through node %d after the restart", n);
		read_full_status(&S[n], &fs);
		if (fs.gen == fs1.gen && fs_raw_same(&fs, &fs1))
			sc_fail("node %d reports image 1 (PRgeneration %u), node"
				" 3's stale file, not image 2 (PRgeneration %u)",
				n, fs1.gen, fs2.gen);
		EQ("PRgeneration (image 2's)", fs.gen, fs2.gen);
		EQ("registrations", fs.n, fs2.n);
		if (!fs_raw_same(&fs, &fs2))
			sc_fail("READ FULL STATUS through node %d: %d bytes, not"
				" image 2's %d bytes", n, fs.raw_len, fs2.raw_len);
		read_resv(&S[n], &v);
		EQ("holder key", v.key, KEY(SC, 2));
		EQ("type", v.type, TYPE_EX_AC);
		read_keys(&S[n], &k);
		EQ("A's new key listed", keys_has(&k, KEY(SC, 3)), 1);
	}
	step("the restored reservation acts: B holds EX_AC through node 2");
	write_expect(&S[2], ST_GOOD);
	step("B's initiator port through node 3 is another I_T nexus,"
	     " not registered");
	write_expect(&S[3], ST_CONFLICT);
	step("clean up: CLEAR through node 2");
	pr_ok(&S[2], SA_CLEAR, 0, KEY(SC, 2), 0, 0);
	snprintf(detail, dlen, "node 3 alone not serving (%.80s); all serving"
		 " %.1f s after node 3's start; image 2 (PRgeneration %u)"
		 " everywhere", alone, up, fs2.gen);
}

/* ------------------------------------------------------------------ main */

static bool sc_selected(const char *name)
{
	const char *p = "dev.scenario.";

	return !o_only || !strcmp(o_only, name) ||
	       (!strncmp(name, p, strlen(p)) && !strcmp(o_only, name + strlen(p)));
}

struct sc_entry {
	void (*plain)(void);
	void (*with_detail)(char *, size_t);
	char detail[300];
};

static void sc_entry_call(void *arg)
{
	struct sc_entry *e = arg;

	if (e->plain)
		e->plain();
	else
		e->with_detail(e->detail, sizeof(e->detail));
}

/* Runs one scenario and prints its line. */
static void sc_run(const char *name, void (*plain)(void),
		   void (*with_detail)(char *, size_t))
{
	struct sc_entry e = { plain, with_detail, "" };

	if (!sc_selected(name))
		return;
	if (o_list) {
		printf("%s\n", name);
		return;
	}
	double t0 = now_s();
	int rc = sc_call(sc_entry_call, &e);
	node_recover();
	if (rc == 1) {
		printf("FAIL %s: %s\n", name, sc_msg);
		n_failed++;
	} else if (rc == 2) {
		printf("SKIP %s: %s\n", name, sc_msg);
	} else {
		printf("PASS %s (%d steps, %.1f s%s%s)\n", name, sc_steps,
		       now_s() - t0, *e.detail ? "; " : "", e.detail);
	}
	fflush(stdout);
}

/* iscsi://HOST:PORT/TARGET/LUN */
static void url_parse(int node, const char *url)
{
	const char *p = url, *slash, *slash2;

	if (strncmp(p, "iscsi://", 8))
		goto bad;
	p += 8;
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= sizeof(o_portal[0]))
		goto bad;
	snprintf(o_portal[node], sizeof(o_portal[0]), "%.*s", (int)(slash - p), p);
	slash2 = strrchr(slash + 1, '/');
	if (!slash2 || slash2 == slash + 1 || !slash2[1])
		goto bad;
	char target[256];
	if ((size_t)(slash2 - slash - 1) >= sizeof(target))
		goto bad;
	snprintf(target, sizeof(target), "%.*s", (int)(slash2 - slash - 1),
		 slash + 1);
	char *end;
	long lun = strtol(slash2 + 1, &end, 10);
	if (*end || lun < 0 || lun > 16383)
		goto bad;
	if (o_target[0] && (strcmp(o_target, target) || o_lun != lun)) {
		fprintf(stderr, "cluster_pr: %s: every URL must name the same"
			" target and LUN\n", url);
		exit(2);
	}
	snprintf(o_target, sizeof(o_target), "%s", target);
	o_lun = (int)lun;
	return;
bad:
	fprintf(stderr, "cluster_pr: %s: not iscsi://HOST:PORT/TARGET/LUN\n", url);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cluster_pr [--harness CLUSTER_SH] [--kill-cmd CMD]"
		" [--restart-cmd CMD]\n"
		"                  [--stop-cmd CMD] [--start-cmd CMD]"
		" [--partition-cmd CMD] [--heal-cmd CMD]\n"
		"                 "
		" [--caw-rounds N] [--only NAME] [--list]\n"
		"                  URL1 URL2 URL3\n"
		"  CMD runs as `sh -c CMD sh N` for node N\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char def_kill[1200], def_restart[1200], def_cut[1200],
		def_heal[1200];
	int nurl = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--list")) {
			o_list = true;
			continue;
		}
		if (strncmp(a, "--", 2)) {
			if (nurl >= NODES)
				usage();
			o_url[++nurl] = a;
			continue;
		}
		if (!v)
			usage();
		if (!strcmp(a, "--harness")) o_harness = v;
		else if (!strcmp(a, "--kill-cmd")) o_kill_cmd = v;
		else if (!strcmp(a, "--restart-cmd")) o_restart_cmd = v;
		else if (!strcmp(a, "--stop-cmd")) o_stop_cmd = v;
		else if (!strcmp(a, "--start-cmd")) o_start_cmd = v;
		else if (!strcmp(a, "--partition-cmd")) o_partition_cmd = v;
		else if (!strcmp(a, "--heal-cmd")) o_heal_cmd = v;
		else if (!strcmp(a, "--caw-rounds")) o_caw_rounds = atoi(v);
		else if (!strcmp(a, "--only")) o_only = v;
		else usage();
		i++;
	}
	if (!o_list && nurl != NODES)
		usage();
	for (int n = 1; n <= nurl; n++)
		url_parse(n, o_url[n]);
	if (o_caw_rounds < 1)
		usage();
	if (o_harness && !o_kill_cmd) {
		snprintf(def_kill, sizeof(def_kill), "bash '%s' kill \"$1\"",
			 o_harness);
		o_kill_cmd = def_kill;
	}
	if (o_harness && !o_restart_cmd) {
		snprintf(def_restart, sizeof(def_restart),
			 "bash '%s' restart \"$1\"", o_harness);
		o_restart_cmd = def_restart;
	}
	if (o_harness && !o_partition_cmd) {
		snprintf(def_cut, sizeof(def_cut),
			 "bash '%s' partition \"$1\"", o_harness);
		o_partition_cmd = def_cut;
	}
	if (o_harness && !o_heal_cmd) {
		snprintf(def_heal, sizeof(def_heal), "bash '%s' heal \"$1\"",
			 o_harness);
		o_heal_cmd = def_heal;
	}
	it_target = o_target;
	for (int n = 1; n <= NODES; n++) {
		it_portal[n] = o_portal[n];
		it_ini[n] = ini_name[n];
	}
	it_io_blocks = 1;  /* one 512-byte block, the LU's in cluster_device.sh */
	setvbuf(stdout, NULL, _IOLBF, 0);

	sc_run("dev.scenario.fence_scsi", sc_fence_scsi, NULL);
	sc_run("dev.scenario.fence_multipath", sc_fence_multipath, NULL);
	sc_run("dev.scenario.preempt_abort_remote", NULL,
	       sc_preempt_abort_remote);
	sc_run("dev.scenario.preempt_abort_remote_tas0", NULL,
	       sc_preempt_abort_remote_tas0);
	sc_run("dev.scenario.register_and_move_remote", sc_register_move_remote,
	       NULL);
	sc_run("dev.scenario.all_tg_pt", sc_all_tg_pt, NULL);
	sc_run("dev.scenario.read_full_status_identical", NULL,
	       sc_full_status_identical);
	sc_run("dev.scenario.caw_race", NULL, sc_caw_race);
	sc_run("dev.scenario.lun_reset_ua", sc_lun_reset_ua, NULL);
	sc_run("dev.scenario.lun_reset_abort_remote", NULL,
	       sc_lun_reset_abort_remote);
	/* these cut or restart nodes: last */
	sc_run("dev.scenario.merge_ua", NULL, sc_merge_ua);
	sc_run("dev.scenario.scsi2_node_killed", NULL, sc_scsi2_node_killed);
	sc_run("dev.scenario.aptpl_restart", NULL, sc_aptpl_restart);
	sc_run("dev.scenario.aptpl_restart_stale_node", NULL,
	       sc_aptpl_restart_stale);
	return n_failed ? 1 : 0;
}
