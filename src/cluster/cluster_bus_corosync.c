/*
 * The corosync backend of the cluster bus (cluster_bus.h): CPG for total
 * order and views, votequorum for the quorum threshold, cmap for node names
 * and votes. The only file of ctgt that includes corosync headers.
 *
 * What it does: joins one CPG group, multicasts with CPG_TYPE_AGREED,
 * turns CPG configuration changes into node-level views (one member per
 * nodeid, sorted, named, with a quorate flag every member computes the same
 * way), and keeps everything on the service's base_loop: the CPG and
 * votequorum fds are watched there, nothing ever sleeps or retries in a
 * loop (corosync's TRY_AGAIN becomes a timer or -EAGAIN + writable()).
 *
 * What it deliberately does not do: acks, state transfer, message framing
 * (the bytes go to CPG as they are: the sender's identity comes from CPG
 * itself), and fencing. It never changes corosync's configuration.
 *
 * Choices, with the corosync behaviour they rest on (corosync 3.1.7 on
 * Debian 12, measured in a private namespace, see docs/benchmarks.md):
 *
 *  - Quorum. A view is quorate when the votes of its member NODES reach the
 *    threshold; votes per node come from cmap nodelist.node.X.quorum_votes
 *    (default 1). The threshold is the larger of votequorum's `quorum` and
 *    a strict majority of the expected votes (the largest of
 *    quorum.expected_votes, the sum over the nodelist and votequorum's
 *    expected votes; none known: no view is quorate). These depend on the
 *    configuration every node shares, so every member of a view computes
 *    the same flag at the same point of the order, which votequorum's own
 *    flag (a separate IPC stream, not ordered with CPG) cannot give. The
 *    majority floor means two_node, last_man_standing and
 *    auto_tie_breaker never lower ctgt's threshold: ctgt has no fencing of
 *    its own, and a storage target serving persistent reservations on both
 *    halves of a split is the one failure it must not have. A threshold
 *    change notified by votequorum (corosync-quorumtool -e 5 on 3 nodes:
 *    2 -> 3 votes, measured) takes effect at the next view, never in the
 *    middle of one (members would not agree where). votequorum's own
 *    quorate flag is tracked and a disagreement is logged.
 *  - Views are the CPG group, not the corosync membership: a node whose
 *    corosync runs without ctgt brings no votes to ctgt (it holds none of
 *    the replicated state).
 *  - Views and rings: CPG's configuration changes during a corosync sync
 *    are folded into one view reported at the totem confchg that ends the
 *    sync (the confchg callback below says why), so every member reports
 *    the same views; ring_id never repeats (cluster_bus_corosync_ring_id
 *    says how). Measured on 3 nodes: join, leave, restart of a ctgt,
 *    partition and heal of a node: the same views with the same ids on
 *    every member.
 *  - One ctgt per node. If two processes of one nodeid are in the group,
 *    the node counts once: the process that was already counted stays
 *    counted; otherwise one that did not just join; otherwise the lowest
 *    pid (CPG hands every member the same member and joined lists, so they
 *    all pick the same one). Messages of the other process are dropped by
 *    every member, the error names both pids, and the duplicate itself
 *    leaves the group and reports fatal(-EEXIST).
 *  - Dispatch: CS_DISPATCH_ALL on each readable event, so one loop turn
 *    delivers everything corosync has queued (the service then batches its
 *    acks after the turn); ONE would add an epoll round per message.
 *  - max_msg: 1047552 bytes, which is what cpg_max_atomic_msgsize_get()
 *    reports here (the IPC ring minus headers). Larger messages do go
 *    through (libcpg fragments them; 64 MiB was delivered), but a message
 *    that fits in one IPC request is never split, so it costs one
 *    delivery. CLUSTER_MSG_MAX (256 KiB) plus the service's header fits.
 *  - Start: cpg_initialize returns CS_ERR_LIBRARY while corosync is not
 *    listening yet and CS_ERR_TRY_AGAIN while it synchronises; both are
 *    retried every 100 ms for 60 s on a timer, then fatal(-ETIMEDOUT).
 *  - Flow control: cpg_mcast_joined returns CS_ERR_TRY_AGAIN when the IPC
 *    ring or totem's queue is full; send() then returns -EAGAIN and
 *    writable() follows after the next dispatch (our own deliveries drain
 *    the queue) or a timer, whichever comes first: 1 ms, doubling up to
 *    16 ms while the refusals last (a sync refuses every mcast).
 *  - Fatal: any dispatch error, an fd hangup, or CS_ERR_BAD_HANDLE /
 *    CS_ERR_LIBRARY from a call means corosync went away (a library
 *    handle never recovers): the fds leave the loop and fatal() is
 *    upcalled once, from a deferral (never inside the service's own call).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster_bus.h"

#define CLUSTER_BUS_COROSYNC_MSG_MAX 1047552u
#define CLUSTER_BUS_COROSYNC_RETRY_MS 100
#define CLUSTER_BUS_COROSYNC_START_MS 60000
#define CLUSTER_BUS_COROSYNC_WRITABLE_MS 1
#define CLUSTER_BUS_COROSYNC_WRITABLE_MAX_MS 16
/* CPG group members handled per configuration change: one ctgt per node
 * plus room for duplicates we only log. */
#define CLUSTER_BUS_COROSYNC_PROCS_MAX (2 * CLUSTER_NODES_MAX)

/* A node of the corosync nodelist (cmap). */
struct cluster_bus_corosync_node {
	uint32_t id;
	uint32_t votes;
	char name[CLUSTER_NODE_NAME_MAX];
};

/* The process counted for a node of the current group. */
struct cluster_bus_corosync_proc {
	uint32_t nodeid;
	uint32_t pid;
};

enum cluster_bus_corosync_phase {
	CLUSTER_BUS_COROSYNC_IDLE = 0,
	CLUSTER_BUS_COROSYNC_CONNECTING,   /* start() retrying on a timer */
	CLUSTER_BUS_COROSYNC_JOINED,
	CLUSTER_BUS_COROSYNC_DEAD,         /* fatal or stopped */
};

struct cluster_bus_corosync {
	struct cluster_bus bus;
	struct base_loop *loop;
	struct cluster_bus_upcalls up;
	struct cpg_name group;
	enum cluster_bus_corosync_phase phase;
	uint64_t start_deadline_ms;

	bool cmap_open, vq_open, cpg_open, cpg_joined;
	bool gone;               /* corosync is dead: no finalize requests */
	cmap_handle_t cmap;
	votequorum_handle_t vq;
	cpg_handle_t cpg;
	struct base_fd cpg_fd, vq_fd;
	bool cpg_fd_added, vq_fd_added;
	uint32_t local_id, local_pid;
	uint32_t max_msg;

	/* nodelist from cmap */
	struct cluster_bus_corosync_node nodes[CLUSTER_NODES_MAX];
	uint32_t nnodes;
	uint32_t cfg_expected;   /* quorum.expected_votes or nodelist sum */
	uint32_t vq_quorum, vq_expected;
	bool vq_quorate, vq_known;
	uint32_t threshold;      /* votes a view needs */

	/* CPG configuration changes not reported yet: folded until the
	 * totem ring they belong to is known (see the opening comment) */
	bool ring_known, sync_pending, pend;
	struct cpg_ring_id ring;
	struct cpg_address pend_ml[CLUSTER_BUS_COROSYNC_PROCS_MAX];
	size_t pend_mn;
	struct cpg_address pend_jl[CLUSTER_BUS_COROSYNC_PROCS_MAX];
	size_t pend_jn;
	/* the last confchg's joined and left entries (for ring_id) */
	struct cpg_address pend_chg[CLUSTER_BUS_COROSYNC_PROCS_MAX];
	size_t pend_chgn;
	struct cpg_ring_id view_ring;   /* ring of the last reported view */

	/* the current view and its counted processes */
	struct cluster_view view;
	bool have_view;
	struct cluster_bus_corosync_proc counted[CLUSTER_NODES_MAX];
	uint32_t ncounted;

	struct base_timer start_timer;
	struct base_timer writable_timer;
	struct base_defer fatal_defer;
	bool want_writable;
	uint32_t writable_delay_ms;   /* current retry delay after TRY_AGAIN */
	bool fatal_queued, fatal_sent;
	int fatal_err;

	/* re-entrancy: stop/destroy from inside an upcall during dispatch */
	int dispatch_depth;
	bool stop_pending, destroy_pending;
};

static struct cluster_bus_corosync *cluster_bus_corosync_of(
	struct cluster_bus *bus)
{
	return container_of(bus, struct cluster_bus_corosync, bus);
}

static int cluster_bus_corosync_errno(cs_error_t rc)
{
	switch (rc) {
	case CS_OK: return 0;
	case CS_ERR_TRY_AGAIN: return -EAGAIN;
	case CS_ERR_NO_MEMORY: return -ENOMEM;
	case CS_ERR_TOO_BIG: return -EMSGSIZE;
	case CS_ERR_ACCESS: return -EACCES;
	case CS_ERR_EXIST: return -EEXIST;
	case CS_ERR_NOT_EXIST: return -ENOENT;
	case CS_ERR_INVALID_PARAM: return -EINVAL;
	case CS_ERR_TIMEOUT: return -ETIMEDOUT;
	case CS_ERR_BAD_HANDLE:
	case CS_ERR_LIBRARY:
	case CS_ERR_NOT_SUPPORTED:
		return -ENOTCONN;
	default: return -EIO;
	}
}

/* Library errors that mean the handle is gone for good. */
static bool cluster_bus_corosync_is_gone(cs_error_t rc)
{
	return rc == CS_ERR_BAD_HANDLE || rc == CS_ERR_LIBRARY;
}

/* ------------------------------------------------------------- teardown */

static void cluster_bus_corosync_close_handles(struct cluster_bus_corosync *b)
{
	if (b->cpg_fd_added) {
		base_loop_del(b->loop, &b->cpg_fd);
		b->cpg_fd_added = false;
	}
	if (b->vq_fd_added) {
		base_loop_del(b->loop, &b->vq_fd);
		b->vq_fd_added = false;
	}
	/* With corosync dead, each *_finalize() sends a request and waits
	 * for an answer that never comes: the three together blocked the
	 * loop for 120 ms here (kill -9 of corosync). The handles are then
	 * left to process exit (the node must restart to rejoin anyway). */
	if (b->gone) {
		b->cpg_open = b->vq_open = b->cmap_open = false;
		b->cpg_joined = false;
	}
	if (b->cpg_open) {
		/* finalize also leaves the group: the others see PROCDOWN */
		cpg_finalize(b->cpg);
		b->cpg_open = false;
		b->cpg_joined = false;
	}
	if (b->vq_open) {
		votequorum_finalize(b->vq);
		b->vq_open = false;
	}
	if (b->cmap_open) {
		cmap_finalize(b->cmap);
		b->cmap_open = false;
	}
	if (b->loop) {
		base_timer_stop(b->loop, &b->start_timer);
		base_timer_stop(b->loop, &b->writable_timer);
	}
}

static void cluster_bus_corosync_fatal_run(struct base_defer *d)
{
	struct cluster_bus_corosync *b =
		container_of(d, struct cluster_bus_corosync, fatal_defer);

	if (b->fatal_sent || b->stop_pending || !b->up.fatal)
		return;
	b->fatal_sent = true;
	b->up.fatal(b->up.arg, b->fatal_err);
}

/* Corosync is gone (or this process must not be in the group): drop every
 * handle now, tell the service once, from a deferral. */
static void cluster_bus_corosync_fatal(struct cluster_bus_corosync *b,
				       int err, const char *what)
{
	if (b->phase == CLUSTER_BUS_COROSYNC_DEAD)
		return;
	LOG_ERR("cluster corosync: %s: %s; leaving the cluster", what,
		strerror(-err));
	b->phase = CLUSTER_BUS_COROSYNC_DEAD;
	b->fatal_err = err;
	b->gone = err != -EEXIST && err != -ETIMEDOUT;
	/* Inside cpg_dispatch the handle must stay valid until it returns
	 * (libcpg walks its ring after our callback): finalize after. */
	if (b->dispatch_depth == 0)
		cluster_bus_corosync_close_handles(b);
	if (!b->fatal_queued) {
		b->fatal_queued = true;
		base_defer(b->loop, &b->fatal_defer);
	}
}

/* ----------------------------------------------------------------- cmap */

/* Reads the nodelist (ids, names, votes) and the configured expected
 * votes. Called at start and when a view shows an unknown nodeid (a node
 * added by a configuration reload). */
static void cluster_bus_corosync_nodes_load(struct cluster_bus_corosync *b)
{
	uint32_t i, sum = 0, expected = 0;
	char key[128];

	b->nnodes = 0;
	for (i = 0; b->nnodes < CLUSTER_NODES_MAX; i++) {
		struct cluster_bus_corosync_node *n = &b->nodes[b->nnodes];
		char *s = NULL;
		uint32_t id, votes = 1;

		snprintf(key, sizeof(key), "nodelist.node.%" PRIu32 ".nodeid",
			 i);
		if (cmap_get_uint32(b->cmap, key, &id) != CS_OK)
			break;
		snprintf(key, sizeof(key),
			 "nodelist.node.%" PRIu32 ".quorum_votes", i);
		if (cmap_get_uint32(b->cmap, key, &votes) != CS_OK)
			votes = 1;
		n->id = id;
		n->votes = votes;
		n->name[0] = '\0';
		snprintf(key, sizeof(key), "nodelist.node.%" PRIu32 ".name",
			 i);
		if (cmap_get_string(b->cmap, key, &s) != CS_OK) {
			snprintf(key, sizeof(key),
				 "nodelist.node.%" PRIu32 ".ring0_addr", i);
			if (cmap_get_string(b->cmap, key, &s) != CS_OK)
				s = NULL;
		}
		if (s) {
			snprintf(n->name, sizeof(n->name), "%s", s);
			free(s);
		}
		sum += votes;
		b->nnodes++;
	}
	if (cmap_get_uint32(b->cmap, "quorum.expected_votes", &expected) !=
	    CS_OK)
		expected = 0;
	b->cfg_expected = expected > sum ? expected : sum;
}

static const struct cluster_bus_corosync_node *cluster_bus_corosync_node_find(
	const struct cluster_bus_corosync *b, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < b->nnodes; i++)
		if (b->nodes[i].id == id)
			return &b->nodes[i];
	return NULL;
}

/* ----------------------------------------------------------- votequorum */

static void cluster_bus_corosync_threshold_update(
	struct cluster_bus_corosync *b)
{
	uint32_t expected = b->cfg_expected, majority, t;

	if (b->vq_known && b->vq_expected > expected)
		expected = b->vq_expected;
	if (expected == 0) {
		/* No nodelist and no votequorum answer yet: a majority of
		 * nothing would make any lone node quorate. Nothing is. */
		if (b->threshold != UINT32_MAX)
			LOG_ERR("cluster corosync: no expected votes (no "
				"nodelist in cmap, no votequorum): no view "
				"is quorate");
		b->threshold = UINT32_MAX;
		return;
	}
	majority = expected / 2 + 1;
	t = majority;
	if (b->vq_known && b->vq_quorum > t)
		t = b->vq_quorum;
	if (b->vq_known && b->vq_quorum && b->vq_quorum < majority)
		LOG_WARN("cluster corosync: votequorum needs %" PRIu32
			 " votes, below the majority %" PRIu32 " of %" PRIu32
			 " configured votes (two_node/last_man_standing?); "
			 "ctgt keeps the majority",
			 b->vq_quorum, majority, expected);
	if (t != b->threshold) {
		if (b->threshold && b->threshold != UINT32_MAX)
			LOG_INFO("cluster corosync: quorum threshold %" PRIu32
				 " -> %" PRIu32 " votes (from the next view)",
				 b->threshold, t);
		b->threshold = t;
	}
}

static void cluster_bus_corosync_vq_refresh(struct cluster_bus_corosync *b)
{
	struct votequorum_info info;
	cs_error_t rc;

	memset(&info, 0, sizeof(info));
	rc = votequorum_getinfo(b->vq, b->local_id, &info);
	if (rc != CS_OK) {
		if (cluster_bus_corosync_is_gone(rc))
			cluster_bus_corosync_fatal(b,
				cluster_bus_corosync_errno(rc),
				"votequorum_getinfo");
		return;
	}
	b->vq_quorum = info.quorum;
	b->vq_expected = info.node_expected_votes;
	b->vq_quorate = (info.flags & VOTEQUORUM_INFO_QUORATE) != 0;
	b->vq_known = true;
	cluster_bus_corosync_threshold_update(b);
}

/* Logs when corosync's own quorum flag and the current view's differ in
 * the direction that matters: we act on a view corosync calls inquorate.
 * (The other direction is normal: corosync is quorate while fewer ctgt
 * processes than a majority run.) The two streams are not ordered with
 * each other, so a short-lived disagreement around a change is expected. */
static void cluster_bus_corosync_vq_check(struct cluster_bus_corosync *b)
{
	if (!b->have_view || !b->vq_known)
		return;
	if (b->view.quorate && !b->vq_quorate)
		LOG_INFO("cluster corosync: view of %" PRIu32 " node(s) is "
			 "quorate but votequorum says inquorate (normal for "
			 "a moment after a merge: votequorum notifies later)",
			 b->view.count);
	else if (!b->view.quorate && b->vq_quorate)
		LOG_DEBUG("cluster corosync: corosync is quorate; the ctgt "
			  "group (%" PRIu32 " node(s)) is not",
			  b->view.count);
}

static void cluster_bus_corosync_vq_quorum_cb(votequorum_handle_t h,
					      uint64_t context,
					      uint32_t quorate,
					      uint32_t n,
					      votequorum_node_t nodes[])
{
	struct cluster_bus_corosync *b = (void *)(uintptr_t)context;

	(void)h;
	(void)nodes;
	if (b->phase == CLUSTER_BUS_COROSYNC_DEAD)
		return;
	LOG_DEBUG("cluster corosync: votequorum quorate=%" PRIu32
		  " nodes=%" PRIu32, quorate, n);
	cluster_bus_corosync_vq_refresh(b);
	b->vq_quorate = quorate != 0;
	cluster_bus_corosync_vq_check(b);
}

static void cluster_bus_corosync_vq_expected_cb(votequorum_handle_t h,
						uint64_t context,
						uint32_t expected)
{
	struct cluster_bus_corosync *b = (void *)(uintptr_t)context;

	(void)h;
	if (b->phase == CLUSTER_BUS_COROSYNC_DEAD)
		return;
	LOG_INFO("cluster corosync: votequorum expected votes %" PRIu32,
		 expected);
	cluster_bus_corosync_vq_refresh(b);
}

/* After a dispatch of one of the handles (rc, on fd events): finishes
 * what a callback started (a fatal error, stop or destroy from inside it:
 * the handles close, and b is freed, once no dispatch runs) and turns a
 * failed dispatch or a hang-up into a fatal error. Returns whether the bus
 * is still alive (false: b may be freed). */
static bool cluster_bus_corosync_dispatched(struct cluster_bus_corosync *b,
					    cs_error_t rc, uint32_t events,
					    const char *call, const char *hup)
{
	if (b->phase == CLUSTER_BUS_COROSYNC_DEAD) {
		if (!b->dispatch_depth)
			cluster_bus_corosync_close_handles(b);
		if (b->destroy_pending && !b->dispatch_depth)
			free(b);
		return false;
	}
	if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
		cluster_bus_corosync_fatal(b, cluster_bus_corosync_errno(rc),
					   call);
		return false;
	}
	if ((events & (EPOLLHUP | EPOLLERR)) && rc != CS_OK) {
		cluster_bus_corosync_fatal(b, -ENOTCONN, hup);
		return false;
	}
	return true;
}

static void cluster_bus_corosync_vq_fd_cb(struct base_fd *f, uint32_t events)
{
	struct cluster_bus_corosync *b =
		container_of(f, struct cluster_bus_corosync, vq_fd);
	cs_error_t rc;

	b->dispatch_depth++;
	rc = votequorum_dispatch(b->vq, CS_DISPATCH_ALL);
	b->dispatch_depth--;
	cluster_bus_corosync_dispatched(b, rc, events, "votequorum_dispatch",
					"votequorum connection hung up");
}

/* ------------------------------------------------------------------ CPG */

static bool cluster_bus_corosync_is_counted(
	const struct cluster_bus_corosync *b, uint32_t nodeid, uint32_t pid)
{
	uint32_t i;

	for (i = 0; i < b->ncounted; i++)
		if (b->counted[i].nodeid == nodeid)
			return b->counted[i].pid == pid;
	return false;
}

static bool cluster_bus_corosync_addr_in(const struct cpg_address *l,
					 size_t n, uint32_t nodeid,
					 uint32_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i].nodeid == nodeid && l[i].pid == pid)
			return true;
	return false;
}

static int cluster_bus_corosync_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void cluster_bus_corosync_view_emit(struct cluster_bus_corosync *b,
					  bool sync);

static void cluster_bus_corosync_deliver_cb(cpg_handle_t h,
					    const struct cpg_name *g,
					    uint32_t nodeid, uint32_t pid,
					    void *msg, size_t len)
{
	struct cluster_bus_corosync *b = NULL;

	(void)g;
	if (cpg_context_get(h, (void **)&b) != CS_OK || !b)
		return;
	if (b->phase != CLUSTER_BUS_COROSYNC_JOINED)
		return;
	if (b->pend) {
		/* Not seen here: corosync delivers no message during a sync.
		 * Should it happen, the message must not precede its view. */
		LOG_WARN("cluster corosync: a message arrived before the "
			 "totem confchg; reporting the view now");
		cluster_bus_corosync_view_emit(b, b->sync_pending);
		b->sync_pending = false;
		if (b->phase != CLUSTER_BUS_COROSYNC_JOINED)
			return;
	}
	if (!b->have_view)
		return;
	/* A second ctgt on one node: every member drops its messages. */
	if (!cluster_bus_corosync_is_counted(b, nodeid, pid)) {
		LOG_DEBUG("cluster corosync: dropped a message of node %"
			  PRIu32 " pid %" PRIu32 " (not counted)", nodeid,
			  pid);
		return;
	}
	b->up.deliver(b->up.arg, nodeid, msg, len);
}

/* Picks one process per nodeid (see the opening comment) and fills
 * counted[]. Returns false if the local process is not the counted one. */
static bool cluster_bus_corosync_count(struct cluster_bus_corosync *b,
				       const struct cpg_address *ml, size_t mn,
				       const struct cpg_address *jl, size_t jn)
{
	struct cluster_bus_corosync_proc next[CLUSTER_NODES_MAX];
	uint32_t nnext = 0;
	bool local_ok = false;
	size_t i, j;

	for (i = 0; i < mn; i++) {
		uint32_t id = ml[i].nodeid, pick = 0;
		bool seen = false, dup = false, kept = false;

		for (j = 0; j < nnext; j++)
			if (next[j].nodeid == id)
				seen = true;
		if (seen)
			continue;
		/* the previously counted process of this node, if present */
		for (j = 0; j < mn; j++) {
			if (ml[j].nodeid != id)
				continue;
			if (ml[j].pid != ml[i].pid)
				dup = true;
			if (cluster_bus_corosync_is_counted(b, id, ml[j].pid)) {
				pick = ml[j].pid;
				kept = true;
			}
		}
		if (!kept) {
			bool old_found = false;

			pick = ml[i].pid;
			for (j = 0; j < mn; j++) {
				bool old;

				if (ml[j].nodeid != id)
					continue;
				old = !cluster_bus_corosync_addr_in(jl, jn, id,
								   ml[j].pid);
				if (old && (!old_found || ml[j].pid < pick)) {
					pick = ml[j].pid;
					old_found = true;
				} else if (!old_found && ml[j].pid < pick) {
					pick = ml[j].pid;
				}
			}
		}
		if (dup) {
			char pids[256];
			size_t off = 0;

			pids[0] = '\0';
			for (j = 0; j < mn && off < sizeof(pids) - 16; j++)
				if (ml[j].nodeid == id)
					off += (size_t)snprintf(pids + off,
						sizeof(pids) - off, " %" PRIu32,
						ml[j].pid);
			LOG_ERR("cluster corosync: node %" PRIu32 " has several "
				"ctgt processes in group %.*s (pids%s): only pid %"
				PRIu32 " counts; run one ctgt per node", id,
				(int)b->group.length, b->group.value, pids, pick);
		}
		if (nnext == CLUSTER_NODES_MAX) {
			LOG_ERR("cluster corosync: more than %d nodes in the "
				"group; node %" PRIu32 " ignored",
				CLUSTER_NODES_MAX, id);
			continue;
		}
		next[nnext].nodeid = id;
		next[nnext].pid = pick;
		nnext++;
		if (id == b->local_id && pick == b->local_pid)
			local_ok = true;
	}
	memcpy(b->counted, next, nnext * sizeof(next[0]));
	b->ncounted = nnext;
	return local_ok;
}

static uint64_t cluster_bus_corosync_fnv(uint64_t h, uint64_t w)
{
	int i;

	for (i = 0; i < 8; i++)
		h = (h ^ ((w >> (8 * i)) & 0xff)) * 1099511628211ull;
	return h;
}

/* The view's agreed identity (cluster_view.ring_id), hashed (FNV-1a):
 *  - the totem ring: a view reported at the end of a corosync sync has a
 *    ring no earlier view had;
 *  - the counted processes (nodeid, pid): a ctgt that restarts while its
 *    node stays in the ring makes a view with a new pid;
 *  - for a view made by a process join or leave (no sync), that confchg's
 *    joined and left processes, which every member receives alike: two
 *    views of the same processes in the same ring ({1,2} -> {1,2,3} ->
 *    {1,2} when a ctgt on node 3 starts and stops) differ by it. A folded
 *    sync leaves them out: members see different confchgs during a sync. */
static uint64_t cluster_bus_corosync_ring_id(const struct cluster_bus_corosync *b,
					     const uint32_t *ids, uint32_t n,
					     bool sync)
{
	uint64_t h = 1469598103934665603ull;
	uint32_t i, k;

	h = cluster_bus_corosync_fnv(h, b->ring.seq);
	h = cluster_bus_corosync_fnv(h, b->ring.nodeid);
	for (k = 0; k < n; k++) {
		uint32_t pid = 0;

		for (i = 0; i < b->ncounted; i++)
			if (b->counted[i].nodeid == ids[k])
				pid = b->counted[i].pid;
		h = cluster_bus_corosync_fnv(h, ((uint64_t)ids[k] << 32) | pid);
	}
	if (!sync)
		for (k = 0; k < b->pend_chgn; k++)
			h = cluster_bus_corosync_fnv(h,
				((uint64_t)b->pend_chg[k].nodeid << 32 |
				 b->pend_chg[k].pid) ^
				((uint64_t)b->pend_chg[k].reason << 60));
	return h ? h : 1;
}

/* Turns the folded configuration change into a view upcall. sync: it
 * ends a corosync sync (a new ring). A view is reported when the counted
 * processes changed, or at a new ring even with the same ones (a node cut
 * off and back within one sync missed messages: the service must run its
 * round), or when the quorate flag changes. */
static void cluster_bus_corosync_view_emit(struct cluster_bus_corosync *b,
					  bool sync)
{
	struct cluster_view *v = &b->view;
	struct cluster_bus_corosync_proc before[CLUSTER_NODES_MAX];
	uint32_t ids[CLUSTER_NODES_MAX], i, j, nbefore, votes = 0;
	bool changed, unknown = false;
	uint64_t ring_id;

	b->pend = false;
	nbefore = b->ncounted;
	memcpy(before, b->counted, nbefore * sizeof(before[0]));
	/* Our own leave (cpg_leave/finalize) is not a view to report. */
	if (!cluster_bus_corosync_addr_in(b->pend_ml, b->pend_mn, b->local_id,
					  b->local_pid))
		return;
	if (!cluster_bus_corosync_count(b, b->pend_ml, b->pend_mn, b->pend_jl,
					b->pend_jn)) {
		cluster_bus_corosync_fatal(b, -EEXIST,
			"another ctgt process of this node is already in the "
			"group");
		return;
	}
	b->pend_jn = 0;
	for (i = 0; i < b->ncounted; i++) {
		ids[i] = b->counted[i].nodeid;
		if (!cluster_bus_corosync_node_find(b, ids[i]))
			unknown = true;
	}
	qsort(ids, b->ncounted, sizeof(ids[0]), cluster_bus_corosync_u32_cmp);
	if (unknown) {
		/* Names and votes come from the shared configuration: re-read
		 * it (a reload may have added the node). Still unknown: one
		 * vote, no name, on every member alike. */
		cluster_bus_corosync_nodes_load(b);
		cluster_bus_corosync_threshold_update(b);
	}
	ring_id = cluster_bus_corosync_ring_id(b, ids, b->ncounted, sync);
	changed = !b->have_view || nbefore != b->ncounted ||
		  (sync && (b->ring.seq != b->view_ring.seq ||
			    b->ring.nodeid != b->view_ring.nodeid));
	for (i = 0; !changed && i < b->ncounted; i++) {
		bool found = false;

		for (j = 0; j < nbefore; j++)
			if (before[j].nodeid == b->counted[i].nodeid &&
			    before[j].pid == b->counted[i].pid)
				found = true;
		changed = !found;
	}

	for (i = 0; i < b->ncounted; i++) {
		const struct cluster_bus_corosync_node *n =
			cluster_bus_corosync_node_find(b, ids[i]);

		votes += n ? n->votes : 1;
	}
	if (!changed && v->quorate == (votes >= b->threshold))
		return; /* a duplicate came or went: no node-level change */

	v->local_id = b->local_id;
	v->ring_id = ring_id;
	b->view_ring = b->ring;
	v->count = b->ncounted;
	for (i = 0; i < b->ncounted; i++) {
		const struct cluster_bus_corosync_node *n =
			cluster_bus_corosync_node_find(b, ids[i]);

		v->members[i].id = ids[i];
		if (n)
			snprintf(v->members[i].name,
				 sizeof(v->members[i].name), "%s", n->name);
		else
			v->members[i].name[0] = '\0';
	}
	v->quorate = votes >= b->threshold;
	b->have_view = true;
	LOG_INFO("cluster corosync: view of %" PRIu32 " node(s) (ring %"
		 PRIu32 ".%" PRIu64 ", id %016" PRIx64 "), %" PRIu32 " of %"
		 PRIu32 " votes needed: %s", v->count, b->ring.nodeid,
		 b->ring.seq, ring_id, votes, b->threshold,
		 v->quorate ? "quorate" : "not quorate");
	cluster_bus_corosync_vq_check(b);
	b->up.view(b->up.arg, v);
}

/* A CPG configuration change. corosync 3 (exec/cpg.c) reports a totem
 * membership change to a group as several confchgs during its sync (one
 * per process a joinlist brings, reason NODEUP; one for the chosen
 * downlist, NODEDOWN), and only then, at sync activation, the totem
 * confchg with the new ring. The confchgs differ between nodes (a merging
 * node sees the others arrive one by one; they see it arrive once), the
 * final membership does not. So a NODEUP/NODEDOWN confchg is folded and
 * reported at the totem confchg that follows, as one view with the new
 * ring: every member reports the same views. A process join or leave
 * (JOIN, LEAVE, PROCDOWN: a totem message, no sync) is reported at once
 * with the current ring. No application message is delivered during a
 * sync (exec/main.c turns IPC flow control on while sync_in_process:
 * mcasts get TRY_AGAIN), so folding moves no message to another view; the
 * deliver callback still reports a pending view first should one come. */
static void cluster_bus_corosync_confchg_cb(cpg_handle_t h,
					    const struct cpg_name *g,
					    const struct cpg_address *ml,
					    size_t mn,
					    const struct cpg_address *ll,
					    size_t ln,
					    const struct cpg_address *jl,
					    size_t jn)
{
	struct cluster_bus_corosync *b = NULL;
	size_t i;

	(void)g;
	if (cpg_context_get(h, (void **)&b) != CS_OK || !b)
		return;
	if (b->phase != CLUSTER_BUS_COROSYNC_JOINED)
		return;
	if (mn > CLUSTER_BUS_COROSYNC_PROCS_MAX) {
		LOG_ERR("cluster corosync: %zu processes in the group; only "
			"the first %d are considered", mn,
			CLUSTER_BUS_COROSYNC_PROCS_MAX);
		mn = CLUSTER_BUS_COROSYNC_PROCS_MAX;
	}
	memcpy(b->pend_ml, ml, mn * sizeof(ml[0]));
	b->pend_mn = mn;
	for (i = 0; i < jn && b->pend_jn < CLUSTER_BUS_COROSYNC_PROCS_MAX; i++)
		b->pend_jl[b->pend_jn++] = jl[i];
	b->pend_chgn = 0;
	for (i = 0; i < jn && b->pend_chgn < CLUSTER_BUS_COROSYNC_PROCS_MAX; i++)
		b->pend_chg[b->pend_chgn++] = jl[i];
	for (i = 0; i < ln && b->pend_chgn < CLUSTER_BUS_COROSYNC_PROCS_MAX; i++)
		b->pend_chg[b->pend_chgn++] = ll[i];
	for (i = 0; i < jn; i++)
		if (jl[i].reason == CPG_REASON_NODEUP)
			b->sync_pending = true;
	for (i = 0; i < ln; i++)
		if (ll[i].reason == CPG_REASON_NODEDOWN)
			b->sync_pending = true;
	b->pend = true;
	/* Our first confchg comes before the initial totem confchg
	 * (CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF sends it right after). */
	if (!b->ring_known || b->sync_pending)
		return;
	cluster_bus_corosync_view_emit(b, false);
}

static void cluster_bus_corosync_totem_cb(cpg_handle_t h,
					  struct cpg_ring_id ring,
					  uint32_t n, const uint32_t *members)
{
	struct cluster_bus_corosync *b = NULL;
	bool sync;

	(void)members;
	if (cpg_context_get(h, (void **)&b) != CS_OK || !b)
		return;
	if (b->phase != CLUSTER_BUS_COROSYNC_JOINED)
		return;
	LOG_DEBUG("cluster corosync: totem ring %" PRIu32 ".%" PRIu64
		  " with %" PRIu32 " node(s)", ring.nodeid, ring.seq, n);
	sync = b->sync_pending;

	b->ring = ring;
	b->ring_known = true;
	b->sync_pending = false;
	if (b->pend)
		cluster_bus_corosync_view_emit(b, sync);
}

static void cluster_bus_corosync_writable_fire(struct cluster_bus_corosync *b)
{
	if (!b->want_writable || b->phase != CLUSTER_BUS_COROSYNC_JOINED)
		return;
	b->want_writable = false;
	base_timer_stop(b->loop, &b->writable_timer);
	b->up.writable(b->up.arg);
}

static void cluster_bus_corosync_writable_timer_cb(struct base_timer *t)
{
	struct cluster_bus_corosync *b =
		container_of(t, struct cluster_bus_corosync, writable_timer);

	cluster_bus_corosync_writable_fire(b);
}

static void cluster_bus_corosync_cpg_fd_cb(struct base_fd *f, uint32_t events)
{
	struct cluster_bus_corosync *b =
		container_of(f, struct cluster_bus_corosync, cpg_fd);
	cs_error_t rc;

	b->dispatch_depth++;
	rc = cpg_dispatch(b->cpg, CS_DISPATCH_ALL);
	b->dispatch_depth--;
	if (cluster_bus_corosync_dispatched(b, rc, events,
					    "cpg_dispatch (corosync gone?)",
					    "CPG connection hung up"))
		cluster_bus_corosync_writable_fire(b);
}

/* ---------------------------------------------------------------- start */

/* One step of connecting: whatever is not open yet. Returns 0 when joined,
 * -EAGAIN to retry later, another -errno on a hard error. */
static int cluster_bus_corosync_connect(struct cluster_bus_corosync *b)
{
	cs_error_t rc;
	int fd, err;

	if (!b->cmap_open) {
		rc = cmap_initialize(&b->cmap);
		if (rc != CS_OK)
			goto fail;
		b->cmap_open = true;
		cluster_bus_corosync_nodes_load(b);
	}
	if (!b->cpg_open) {
		cpg_model_v1_data_t md = {
			.model = CPG_MODEL_V1,
			.cpg_deliver_fn = cluster_bus_corosync_deliver_cb,
			.cpg_confchg_fn = cluster_bus_corosync_confchg_cb,
			.cpg_totem_confchg_fn = cluster_bus_corosync_totem_cb,
			.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
		};
		uint32_t atomic = 0;

		rc = cpg_model_initialize(&b->cpg, CPG_MODEL_V1,
					  (cpg_model_data_t *)&md, b);
		if (rc != CS_OK)
			goto fail;
		b->cpg_open = true;
		rc = cpg_local_get(b->cpg, &b->local_id);
		if (rc == CS_OK)
			rc = cpg_fd_get(b->cpg, &fd);
		if (rc != CS_OK) {
			/* the next try starts this step over */
			cpg_finalize(b->cpg);
			b->cpg_open = false;
			goto fail;
		}
		if (cpg_max_atomic_msgsize_get(b->cpg, &atomic) == CS_OK &&
		    atomic && atomic < b->max_msg)
			b->max_msg = atomic;
		b->cpg_fd.fd = fd;
		b->cpg_fd.cb = cluster_bus_corosync_cpg_fd_cb;
	}
	if (!b->vq_open) {
		votequorum_callbacks_t cbs = {
			.votequorum_quorum_notify_fn =
				cluster_bus_corosync_vq_quorum_cb,
			.votequorum_expectedvotes_notify_fn =
				cluster_bus_corosync_vq_expected_cb,
		};

		rc = votequorum_initialize(&b->vq, &cbs);
		if (rc != CS_OK)
			goto fail;
		b->vq_open = true;
		rc = votequorum_trackstart(b->vq, (uint64_t)(uintptr_t)b,
					   CS_TRACK_CHANGES);
		if (rc == CS_OK)
			rc = votequorum_fd_get(b->vq, &fd);
		if (rc != CS_OK) {
			votequorum_finalize(b->vq);
			b->vq_open = false;
			goto fail;
		}
		b->vq_fd.fd = fd;
		b->vq_fd.cb = cluster_bus_corosync_vq_fd_cb;
		err = base_loop_add(b->loop, &b->vq_fd, EPOLLIN);
		if (err < 0)
			return err;
		b->vq_fd_added = true;
		cluster_bus_corosync_vq_refresh(b);
	}
	if (!b->cpg_joined) {
		/* Joined before the fd is watched: the first event on it is
		 * the confchg that brings our first view. */
		b->phase = CLUSTER_BUS_COROSYNC_JOINED;
		rc = cpg_join(b->cpg, &b->group);
		if (rc != CS_OK) {
			b->phase = CLUSTER_BUS_COROSYNC_CONNECTING;
			goto fail;
		}
		b->cpg_joined = true;
		err = base_loop_add(b->loop, &b->cpg_fd, EPOLLIN);
		if (err < 0)
			return err;
		b->cpg_fd_added = true;
	}
	LOG_INFO("cluster corosync: node %" PRIu32 " pid %" PRIu32
		 " joined group %.*s (%" PRIu32 " nodes configured, %" PRIu32
		 " votes needed, max message %" PRIu32 " bytes)", b->local_id,
		 b->local_pid, (int)b->group.length, b->group.value, b->nnodes,
		 b->threshold, b->max_msg);
	return 0;
fail:
	/* LIBRARY: corosync is not listening yet; TRY_AGAIN: it is busy
	 * (starting, or synchronising after a membership change). */
	if (rc == CS_ERR_TRY_AGAIN || rc == CS_ERR_LIBRARY)
		return -EAGAIN;
	return cluster_bus_corosync_errno(rc);
}

static void cluster_bus_corosync_start_timer_cb(struct base_timer *t)
{
	struct cluster_bus_corosync *b =
		container_of(t, struct cluster_bus_corosync, start_timer);
	int err;

	if (b->phase != CLUSTER_BUS_COROSYNC_CONNECTING)
		return;
	err = cluster_bus_corosync_connect(b);
	if (err == 0)
		return;
	if (err == -EAGAIN && base_now_ms() < b->start_deadline_ms) {
		base_timer_start(b->loop, &b->start_timer,
				 CLUSTER_BUS_COROSYNC_RETRY_MS);
		return;
	}
	cluster_bus_corosync_fatal(b, err == -EAGAIN ? -ETIMEDOUT : err,
				   "cannot join the corosync group");
}

static int cluster_bus_corosync_start(struct cluster_bus *bus,
				      struct base_loop *loop,
				      const char *group,
				      const struct cluster_bus_upcalls *up)
{
	struct cluster_bus_corosync *b = cluster_bus_corosync_of(bus);
	size_t glen;
	int err;

	if (b->phase != CLUSTER_BUS_COROSYNC_IDLE)
		return -EALREADY;
	if (!group || !*group)
		group = "ctgt";
	glen = strlen(group);
	if (glen > CPG_MAX_NAME_LENGTH)
		return -ENAMETOOLONG;
	b->loop = loop;
	b->up = *up;
	b->group.length = (uint32_t)glen;
	memcpy(b->group.value, group, glen);
	b->local_pid = (uint32_t)getpid();
	b->phase = CLUSTER_BUS_COROSYNC_CONNECTING;
	b->start_deadline_ms = base_now_ms() + CLUSTER_BUS_COROSYNC_START_MS;

	err = cluster_bus_corosync_connect(b);
	if (err == -EAGAIN) {
		LOG_INFO("cluster corosync: corosync not ready yet; retrying "
			 "every %d ms", CLUSTER_BUS_COROSYNC_RETRY_MS);
		base_timer_start(loop, &b->start_timer,
				 CLUSTER_BUS_COROSYNC_RETRY_MS);
		return 0;
	}
	if (err < 0) {
		LOG_ERR("cluster corosync: cannot join group %s: %s", group,
			strerror(-err));
		cluster_bus_corosync_close_handles(b);
		b->phase = CLUSTER_BUS_COROSYNC_IDLE;
		return err;
	}
	return 0;
}

/* ------------------------------------------------------------ send, etc */

static int cluster_bus_corosync_send(struct cluster_bus *bus,
				     const struct iovec *iov, int iovcnt)
{
	struct cluster_bus_corosync *b = cluster_bus_corosync_of(bus);
	size_t len = 0;
	cs_error_t rc;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > b->max_msg)
		return -EMSGSIZE;
	if (b->phase == CLUSTER_BUS_COROSYNC_DEAD)
		return -ENOTCONN;
	if (b->phase != CLUSTER_BUS_COROSYNC_JOINED) {
		/* still connecting: writable() follows the join */
		b->want_writable = true;
		return -EAGAIN;
	}
	rc = cpg_mcast_joined(b->cpg, CPG_TYPE_AGREED, iov,
			      (unsigned int)iovcnt);
	if (rc == CS_OK) {
		b->writable_delay_ms = 0;
		return 0;
	}
	if (rc == CS_ERR_TRY_AGAIN) {
		/* 1, 2, 4 ... 16 ms while it lasts: during a corosync sync
		 * every mcast is refused for a few hundred ms, and each try
		 * is an IPC round trip to a corosync that is busy. */
		b->writable_delay_ms = b->writable_delay_ms ?
			b->writable_delay_ms * 2 :
			CLUSTER_BUS_COROSYNC_WRITABLE_MS;
		if (b->writable_delay_ms > CLUSTER_BUS_COROSYNC_WRITABLE_MAX_MS)
			b->writable_delay_ms =
				CLUSTER_BUS_COROSYNC_WRITABLE_MAX_MS;
		b->want_writable = true;
		if (!b->writable_timer.armed)
			base_timer_start(b->loop, &b->writable_timer,
					 b->writable_delay_ms);
		return -EAGAIN;
	}
	if (cluster_bus_corosync_is_gone(rc)) {
		cluster_bus_corosync_fatal(b, -ENOTCONN, "cpg_mcast_joined");
		return -ENOTCONN;
	}
	LOG_ERR("cluster corosync: cpg_mcast_joined of %zu bytes: error %d",
		len, (int)rc);
	return cluster_bus_corosync_errno(rc);
}

static size_t cluster_bus_corosync_max_msg(struct cluster_bus *bus)
{
	return cluster_bus_corosync_of(bus)->max_msg;
}

static void cluster_bus_corosync_stop(struct cluster_bus *bus)
{
	struct cluster_bus_corosync *b = cluster_bus_corosync_of(bus);

	/* No upcall after this returns, fatal included. */
	b->stop_pending = true;
	if (b->loop)
		base_defer_cancel(b->loop, &b->fatal_defer);
	b->fatal_sent = true;
	b->phase = CLUSTER_BUS_COROSYNC_DEAD;
	if (b->dispatch_depth == 0)
		cluster_bus_corosync_close_handles(b);
}

static void cluster_bus_corosync_destroy(struct cluster_bus *bus)
{
	struct cluster_bus_corosync *b = cluster_bus_corosync_of(bus);

	cluster_bus_corosync_stop(bus);
	if (b->dispatch_depth > 0) {
		/* freed when the dispatch that called us returns */
		b->destroy_pending = true;
		return;
	}
	free(b);
}

static const struct cluster_bus_ops cluster_bus_corosync_ops = {
	.name = "corosync",
	.start = cluster_bus_corosync_start,
	.send = cluster_bus_corosync_send,
	.max_msg = cluster_bus_corosync_max_msg,
	.stop = cluster_bus_corosync_stop,
	.destroy = cluster_bus_corosync_destroy,
};

int cluster_bus_corosync_create(struct cluster_bus **out)
{
	struct cluster_bus_corosync *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->bus.ops = &cluster_bus_corosync_ops;
	b->bus.priv = b;
	b->max_msg = CLUSTER_BUS_COROSYNC_MSG_MAX;
	base_timer_init(&b->start_timer, cluster_bus_corosync_start_timer_cb);
	base_timer_init(&b->writable_timer,
			cluster_bus_corosync_writable_timer_cb);
	base_defer_init(&b->fatal_defer, cluster_bus_corosync_fatal_run);
	*out = &b->bus;
	return 0;
}
