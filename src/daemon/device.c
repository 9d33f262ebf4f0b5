/*
 * The device channel (device.h): one cluster channel for every clustered
 * LU of this node, keyed by the LU's NAA (the same on every node: it is
 * the LU's identity, SPC-4 7.8.6.6).
 *
 *   task loop                control thread (every node)
 *   core: seq.submit(req) -> cluster_submit(NAA + message) (from the
 *                            task loop itself when the control loop is
 *                            idle: device_seq_submit)
 *                            ... total order ...
 *                            apply: scsi_lun_repl_apply(lu, message,
 *                                   req here / NULL elsewhere)
 *                                   PENDING until its UAs, aborts and
 *                                   APTPL write are done, then acked
 *   core: req finishes    <- submit done: every member applied it
 *
 * Whole-cluster restart (DESIGN.md: "the state with the highest (epoch,
 * generation) wins, whichever node starts first"): the first quorate
 * view of a history (the device state not formed yet) makes its members
 * the awaited ones and holds every clustered LU (scsi_lun_repl_hold:
 * 02/04/0A, retried). Each awaited member, once ready, submits an OFFER
 * with its own APTPL file of every LU; every node applies the offers in
 * the same order and adopts an image whose (epoch, generation) is above
 * the state's (scsi_lun_repl_adopt). When no member is awaited any more
 * (offered, or left), the LUs are served. Why the first view's members
 * are enough: every image was made durable on every member of the view
 * that changed it before its command completed, and any two quorate
 * views share a member, so the newest completed image is on some member
 * of the first quorate view after the restart.
 *
 * Wire format, version 1, big-endian:
 *   0 1 version   1 1 kind   2 2 reserved (0)
 *   kind 1 (LU message): 4 16 NAA   20 .. the lu_repl message (lu_repl.h)
 *   kind 2 (OFFER): 4 4 LU count; per LU: 16 NAA, 4 length L, L bytes of
 *     the APTPL image (L = 0: no file)
 *   kind 3 (BYE): nothing more (4 bytes in all)
 * Snapshot (state transfer), version 1:
 *   0 4 "CTDV"   4 2 version   6 1 formed   7 1 reserved   8 4 LU count
 *   12 4 awaited count W, W times 4 node id (ascending)
 *   per LU, by NAA: 16 NAA, 8 blocks, 4 block size, 4 length L, L bytes
 *   of lu_repl_save
 * A snapshot from a node whose clustered LUs differ from this node's (a
 * missing LU, another size or block size for the same NAA) is refused:
 * the node stays not ready and says which LU differs. Every node must
 * export the same clustered LUs (DESIGN.md, "Cluster model").
 *
 * A view with departed nodes applies NODE_LEFT (their RTPIs from the
 * port directory) to every LU: a SCSI-2 reservation held through them
 * ends; registrations stay (SPC-4 5.14.1).
 *
 * Fencing (DESIGN.md, "Membership": a partitioned minority never acts on
 * stale reservations). A node cut off from the others stops serving when
 * its own corosync reports the lost quorum; the others' view without it
 * comes at about the same moment (both sides time the same token out:
 * measured on the local harness, the minority stopped 1 to 53 ms BEFORE
 * the majority was ready), so which comes first is a race, not a rule.
 * For cluster.fence_delay_ms after a view in which nodes left, this node
 * holds its clustered LUs (02/04/0A, retried) and holds back every
 * device-channel completion and CAW range grant: nothing decided in the
 * new view (a PREEMPT, a released SCSI-2 reservation or CAW lock, a
 * write under the new state) reaches an initiator before the departed
 * node has had that long to stop. The messages themselves are ordered
 * and applied meanwhile. A node that stops cleanly says BYE once its
 * sessions are closed, before it leaves: nothing is left to fence, so
 * its departure holds nothing (a BYE counts for that incarnation only:
 * the node's next join forgets it).
 *
 * Deliberately NOT here: what a message does (lu_repl.c, repl.c), the
 * port directory (ports.c), the ordering protocol (src/cluster).
 */
#include "daemon/device.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "daemon/config.h"
#include "daemon/ports.h"
#include "scsi/lu_repl.h"
#include "scsi/port_dir.h"
#include "scsi/scsi.h"

#define DEVICE_VERSION 1u
#define DEVICE_KIND_LU 1u
#define DEVICE_KIND_OFFER 2u
#define DEVICE_KIND_BYE 3u
/* How long a stopping node waits for its BYE to be ordered. */
#define DEVICE_BYE_WAIT_MS 2000u
#define DEVICE_HDR 20u
#define DEVICE_SNAP_HDR 16u
#define DEVICE_SNAP_LU 32u
/* CAW ranges a node keeps leased per LU (see "COMPARE AND WRITE") */
#define DEVICE_CAW_LEASES_MAX 256u

struct device;
struct device_range;

struct device_lu {
	struct scsi_lu_seq seq;     /* the LU's sequencer: this channel */
	struct device *dev;
	struct scsi_lun *lu;
	uint8_t naa[16];
	uint64_t nblocks;
	uint32_t block_size;
	char name[96];              /* "<target> LUN <n>", for logs */
	/* The CAW ranges this node keeps locked (see "COMPARE AND WRITE") */
	pthread_mutex_t lease_mu;
	uint32_t nleases;
	struct device_range *leases[DEVICE_CAW_LEASES_MAX];
};

struct device {
	struct cluster *cluster;
	struct base_loop *loop;
	struct cluster_channel *ch;
	struct ports *ports;
	bool detached;
	unsigned n;
	struct device_lu *lus;      /* sorted by NAA */
	/* replicated: the restart's gathering (see the top) */
	bool formed;
	uint32_t nawait;
	uint32_t await[CLUSTER_NODES_MAX];   /* ascending */
	/* this node's */
	bool ready;
	bool offering;              /* an OFFER submit is in flight */
	/* Messages nobody waits for (I_T nexus loss) that could not be
	 * ordered (-EAGAIN): submitted again once ready. */
	struct list_head retry;
	/* Fencing departed nodes (see the top). */
	unsigned fence_ms;
	bool fencing;
	struct base_timer fence;
	struct list_head held;      /* struct device_held, in order */
	uint32_t nbye;              /* members that said BYE */
	uint32_t bye[CLUSTER_NODES_MAX];
	/* This node's own BYE: who hears when it is over. */
	void (*bye_done)(void *arg);
	void *bye_arg;
	struct base_timer bye_timer;
};

/* A completion or a grant held back while fencing. */
struct device_held {
	struct list_head link;
	void (*run)(void *arg);
	void *arg;
};

/* One apply waiting for its local effects before the ack. */
struct device_apply {
	struct scsi_lu_apply a;
	struct cluster_apply *token;  /* NULL: a view's NODE_LEFT */
};

/* A submit on its way to the control thread, then the submit's ctx. */
struct device_submit {
	struct device_lu *e;
	struct scsi_lu_req *req;
	struct list_head link;      /* device.retry: waiting for readiness */
	int status;                 /* the submit's, while held */
};

static void device_put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t device_get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static struct device_lu *device_find(struct device *d, const uint8_t *naa)
{
	for (unsigned i = 0; i < d->n; i++)
		if (!memcmp(d->lus[i].naa, naa, 16))
			return &d->lus[i];
	return NULL;
}

/* ---------------------------------------------------------- submitting */

static void device_submit_send(struct device_submit *s);

/* A message nobody waits for must still be ordered: an I_T nexus loss
 * dropped while the node is briefly not ready (a sync round) would leave
 * the lost nexus's SCSI-2 reservation held on every node. */
static bool device_submit_keep(struct device_submit *s, int status)
{
	struct device *d = s->e->dev;

	if (status != -EAGAIN || d->detached ||
	    !scsi_lu_req_unwaited(s->req))
		return false;
	list_add_tail(&d->retry, &s->link);
	return true;
}

/* Runs fn(arg) now, or when the fencing ends (see the top). */
static void device_after_fence(struct device *d, void (*fn)(void *),
			       void *arg)
{
	struct device_held *h;

	if (!d->fencing) {
		fn(arg);
		return;
	}
	h = malloc(sizeof(*h));
	if (!h) {
		LOG_ERR("device: out of memory: a completion is not held back "
			"for the fencing of departed nodes");
		fn(arg);
		return;
	}
	h->run = fn;
	h->arg = arg;
	list_add_tail(&d->held, &h->link);
}

static void device_submit_finish(void *arg)
{
	struct device_submit *s = arg;

	scsi_lu_req_done(s->req, s->status);
	free(s);
}

static void device_submit_done(void *ctx, int status)
{
	struct device_submit *s = ctx;

	if (device_submit_keep(s, status))
		return;
	s->status = status;
	device_after_fence(s->e->dev, device_submit_finish, s);
}

static void device_submit_send(struct device_submit *s)
{
	struct device_lu *e = s->e;
	const void *msg;
	uint8_t *buf;
	size_t len;
	int err = -ESHUTDOWN;

	msg = scsi_lu_req_msg(s->req, &len);
	buf = malloc(DEVICE_HDR + len);
	if (!buf) {
		device_submit_done(s, -ENOMEM);
		return;
	}
	buf[0] = DEVICE_VERSION;
	buf[1] = DEVICE_KIND_LU;
	buf[2] = buf[3] = 0;
	memcpy(buf + 4, e->naa, 16);
	memcpy(buf + DEVICE_HDR, msg, len);
	if (!e->dev->detached)
		err = cluster_submit(e->dev->ch, buf, DEVICE_HDR + len,
				     device_submit_done, s);
	free(buf);
	if (err)
		device_submit_done(s, err);
}

static void device_submit_on_loop(void *arg)
{
	device_submit_send(arg);
}

static void device_retry_all(struct device *d)
{
	struct device_submit *s, *tmp;
	unsigned n = 0;

	/* Only those waiting now: a send that fails again is queued again
	 * for the next readiness, not retried in this loop. */
	list_for_each_entry(s, &d->retry, link)
		n++;
	list_for_each_entry_safe(s, tmp, &d->retry, link) {
		if (n-- == 0)
			break;
		list_del(&s->link);
		device_submit_send(s);
	}
}

/* Any thread: on the control thread's loop, where the cluster lives.
 * When that loop is idle the submit goes out from here, the loop entered
 * (base_loop_try_enter): waking the control thread for it cost a PR OUT
 * about 0.05x of the raw corosync round (docs/benchmarks.md). When it is
 * busy the submit is posted; the caller never waits. */
static int device_seq_submit(struct scsi_lu_seq *seq, struct scsi_lu_req *req)
{
	struct device_lu *e = container_of(seq, struct device_lu, seq);
	struct device_submit *s = malloc(sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->e = e;
	s->req = req;
	if (base_loop_try_enter(e->dev->loop)) {
		device_submit_send(s);
		base_loop_leave(e->dev->loop);
		return 0;
	}
	err = base_loop_post(e->dev->loop, device_submit_on_loop, s);
	if (err)
		free(s);
	return err;
}

/* At apply time, on the control thread: a port of any node, live or not
 * (RTPG lists a departed node's ports UNAVAILABLE: they still exist). */
static bool device_seq_port_exists(struct scsi_lu_seq *seq, uint16_t rtpi)
{
	struct device_lu *e = container_of(seq, struct device_lu, seq);

	return port_dir_port_exists((void *)ports_dir(e->dev->ports), rtpi);
}

static void device_naa_str(const uint8_t *naa, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < 16; i++) {
		out[2 * i] = hex[naa[i] >> 4];
		out[2 * i + 1] = hex[naa[i] & 15];
	}
	out[32] = '\0';
}

/* ------------------------------------------------- COMPARE AND WRITE */

/*
 * A CAW's cluster range lock: the resource "caw.<NAA>", the command's LBA
 * range, exclusive (DESIGN.md, "COMPARE AND WRITE").
 *
 * Leases. An uncontended CAW should cost what it costs on a single node,
 * so its common case must not even hop to the control thread (two
 * wake-ups cost a 1-block CAW 40%: docs/benchmarks.md). After a CAW this
 * node keeps the range locked on the cluster: a lease, taken with
 * CLUSTER_LOCK_CACHE so that the lock manager says when a request waits
 * behind it (contended). The next CAW of the same range on this node
 * takes the idle lease on its own loop, under lease_mu: no message, no
 * hop (range_lock returns 1); its unlock makes the lease idle again.
 *
 *   task loop                            control thread
 *   range_lock: an idle lease? take it
 *     else post ---------------------->  a new lease (or, past
 *                                         DEVICE_CAW_LEASES_MAX, a lock
 *                                         for this CAW alone): acquire
 *   granted <--------------------------  granted (after the fencing)
 *   range_unlock: the lease idle again   contended: idle lease: release;
 *     yielding: post the release ----->    busy: yield after this CAW
 *
 * No fencing on the fast path: a lease's lock was granted in an earlier
 * view and held since, so no node that left could hold it meanwhile
 * (only grants of the current view wait for the fencing). When this node
 * is not ready, every lease goes (device_leases_drop): the others drop
 * its locks when they see it leave, so a lease kept would outlive its
 * lock. Only one CAW at a time uses a range: the node's own range lock
 * (sbc.c) serializes overlapping CAWs before they get here.
 */
struct device_range {
	struct cluster_lock lk;     /* control thread */
	struct device_lu *e;
	/* The CAW that holds / awaits it; for a lease (under e->lease_mu)
	 * NULL means idle: granted, and no CAW uses it. */
	struct scsi_lu_range *r;
	int status;                 /* the grant's, until answered */
	bool lease;                 /* kept between CAWs, in e->leases */
	bool yield;                 /* a lease's (under lease_mu): another
	                               node waits, let it go after this CAW */
};

/* Under lease_mu: the lease of exactly [lba, lba + nblocks), or NULL. */
static struct device_range *device_lease_find(struct device_lu *e,
					      uint64_t lba, uint64_t nblocks)
{
	for (uint32_t i = 0; i < e->nleases; i++)
		if (e->leases[i]->lk.start == lba &&
		    e->leases[i]->lk.len == nblocks)
			return e->leases[i];
	return NULL;
}

/* Under lease_mu: false when dr was not (any more) a lease of e. */
static bool device_lease_remove(struct device_lu *e, struct device_range *dr)
{
	for (uint32_t i = 0; i < e->nleases; i++) {
		if (e->leases[i] == dr) {
			e->leases[i] = e->leases[--e->nleases];
			return true;
		}
	}
	return false;
}

static void device_range_granted_run(void *arg)
{
	struct device_range *dr = arg;
	struct scsi_lu_range *r = dr->r;
	int status = dr->status;

	if (status) {
		free(dr);
		r->seq_priv = NULL;
	}
	r->granted(r, status);
}

static void device_range_answer_post(void *arg)
{
	struct device_range *dr = arg;

	if (base_loop_post(dr->r->loop, device_range_granted_run, dr))
		LOG_ERR("device: %s: a CAW lock grant was lost: out of memory",
			dr->e->name);
}

/* Back to the command's loop with the outcome (after the fencing). */
static void device_range_answer(struct device_range *dr, int status)
{
	dr->status = status;
	device_after_fence(dr->e->dev, device_range_answer_post, dr);
}

static void device_range_cb(struct cluster_lock *lk, int status)
{
	struct device_range *dr = container_of(lk, struct device_range, lk);
	struct device_lu *e = dr->e;

	if (dr->lease && status) {
		pthread_mutex_lock(&e->lease_mu);
		device_lease_remove(e, dr);
		pthread_mutex_unlock(&e->lease_mu);
	}
	device_range_answer(dr, status);
}

/* Control thread: a request waits behind a lease (maybe again: a lease
 * that yielded is no longer in e->leases, its release on its way). */
static void device_lease_contended(struct cluster_lock *lk)
{
	struct device_range *dr = container_of(lk, struct device_range, lk);
	struct device_lu *e = dr->e;
	bool idle = false;

	pthread_mutex_lock(&e->lease_mu);
	if (dr->r)
		dr->yield = true;   /* released by the CAW's unlock */
	else
		idle = device_lease_remove(e, dr);
	pthread_mutex_unlock(&e->lease_mu);
	if (idle) {
		cluster_lock_release(e->dev->cluster, &dr->lk);
		free(dr);
	}
}

/* Control thread, the node not ready: every lease goes, idle ones now,
 * busy ones after their CAW. */
static void device_leases_drop(struct device *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		struct device_lu *e = &d->lus[i];
		struct device_range *idle[DEVICE_CAW_LEASES_MAX];
		uint32_t n = 0;

		pthread_mutex_lock(&e->lease_mu);
		for (uint32_t k = 0; k < e->nleases;) {
			struct device_range *dr = e->leases[k];

			if (dr->r) {
				/* in use: let go after its CAW (a request
				 * still waiting fails by itself) */
				dr->yield = true;
				k++;
				continue;
			}
			idle[n++] = dr;
			e->leases[k] = e->leases[--e->nleases];
		}
		pthread_mutex_unlock(&e->lease_mu);
		for (uint32_t k = 0; k < n; k++) {
			cluster_lock_release(d->cluster, &idle[k]->lk);
			free(idle[k]);
		}
	}
}

static void device_range_lock_on_loop(void *arg)
{
	struct device_range *dr = arg;
	struct device_lu *e = dr->e;
	int err = -ESHUTDOWN;

	pthread_mutex_lock(&e->lease_mu);
	if (!device_lease_find(e, dr->lk.start, dr->lk.len) &&
	    e->nleases < DEVICE_CAW_LEASES_MAX && !e->dev->detached &&
	    e->dev->ready) {
		dr->lease = true;
		dr->lk.flags = CLUSTER_LOCK_CACHE;
		dr->lk.contended = device_lease_contended;
		e->leases[e->nleases++] = dr;
	}
	/* else a lock for this CAW alone (all leases taken, or not ready).
	 * No lease of the range is in use here: the node's own range lock
	 * lets one CAW of it run at a time, and an idle one the command
	 * took already. */
	pthread_mutex_unlock(&e->lease_mu);
	if (!e->dev->detached)
		err = cluster_lock_acquire(e->dev->cluster, &dr->lk);
	if (err)
		device_range_cb(&dr->lk, err);
}

/* Any thread. 1: granted now, from an idle lease. */
static int device_seq_range_lock(struct scsi_lu_seq *seq,
				 struct scsi_lu_range *r)
{
	struct device_lu *e = container_of(seq, struct device_lu, seq);
	struct device_range *dr;
	char naa[33];
	int err;

	pthread_mutex_lock(&e->lease_mu);
	dr = device_lease_find(e, r->lba, r->nblocks);
	if (dr && !dr->r) {
		dr->r = r;
		r->seq_priv = dr;
		pthread_mutex_unlock(&e->lease_mu);
		return 1;
	}
	pthread_mutex_unlock(&e->lease_mu);

	dr = calloc(1, sizeof(*dr));
	if (!dr)
		return -ENOMEM;
	device_naa_str(e->naa, naa);
	snprintf(dr->lk.name, sizeof(dr->lk.name), "caw.%s", naa);
	dr->lk.start = r->lba;
	dr->lk.len = r->nblocks;
	dr->lk.mode = CLUSTER_LOCK_EXCLUSIVE;
	dr->lk.cb = device_range_cb;
	dr->e = e;
	dr->r = r;
	r->seq_priv = dr;
	err = base_loop_post(e->dev->loop, device_range_lock_on_loop, dr);
	if (err) {
		r->seq_priv = NULL;
		free(dr);
	}
	return err;
}

static void device_range_unlock_on_loop(void *arg)
{
	struct device_range *dr = arg;

	if (!dr->e->dev->detached)
		cluster_lock_release(dr->e->dev->cluster, &dr->lk);
	free(dr);
}

/* Any thread: a lease stays (idle) unless it yields. */
static void device_seq_range_unlock(struct scsi_lu_seq *seq,
				    struct scsi_lu_range *r)
{
	struct device_range *dr = r->seq_priv;
	struct device_lu *e = dr->e;

	(void)seq;
	r->seq_priv = NULL;
	if (dr->lease) {
		pthread_mutex_lock(&e->lease_mu);
		dr->r = NULL;
		if (!dr->yield) {
			pthread_mutex_unlock(&e->lease_mu);
			return;
		}
		device_lease_remove(e, dr);
		pthread_mutex_unlock(&e->lease_mu);
	}
	if (base_loop_post(e->dev->loop, device_range_unlock_on_loop, dr))
		LOG_ERR("device: %s: a CAW lock release was lost: out of "
			"memory", e->name);
}

/* ------------------------------------------------- restart: offers */

static bool device_awaits(const struct device *d, uint32_t node)
{
	for (uint32_t i = 0; i < d->nawait; i++)
		if (d->await[i] == node)
			return true;
	return false;
}

/* The LUs are held exactly while some member is awaited or departed
 * nodes are being fenced. */
static void device_hold_update(struct device *d)
{
	for (unsigned i = 0; i < d->n; i++)
		scsi_lun_repl_hold(d->lus[i].lu, d->nawait > 0 || d->fencing);
}

/* The fencing is over: what it held back runs, in order (nothing new
 * is held from here on: device_after_fence runs it at once). */
static void device_fence_end(struct device *d)
{
	struct device_held *h;

	if (!d->fencing)
		return;
	d->fencing = false;
	base_timer_stop(d->loop, &d->fence);
	device_hold_update(d);
	while (!list_empty(&d->held)) {
		h = list_first_entry(&d->held, struct device_held, link);
		list_del(&h->link);
		h->run(h->arg);
		free(h);
	}
}

static void device_fence_timer(struct base_timer *t)
{
	device_fence_end(container_of(t, struct device, fence));
}

static bool device_bye_drop(struct device *d, uint32_t node)
{
	for (uint32_t i = 0; i < d->nbye; i++) {
		if (d->bye[i] == node) {
			d->bye[i] = d->bye[--d->nbye];
			return true;
		}
	}
	return false;
}

/* Nodes left: hold for fence_ms from now, unless each of them said BYE
 * (see the top). */
static void device_fence_start(struct device *d, const uint32_t *left,
			       uint32_t nleft)
{
	uint32_t unclean = 0;

	for (uint32_t i = 0; i < nleft; i++)
		unclean += !device_bye_drop(d, left[i]);
	if (!unclean) {
		LOG_INFO("device: %u node%s left after stopping cleanly: "
			 "nothing to fence", nleft, nleft == 1 ? "" : "s");
		return;
	}
	if (!d->fence_ms || d->detached)
		return;
	LOG_INFO("device: %u node%s left: the clustered LUs wait %u ms for "
		 "%s to stop serving", unclean, unclean == 1 ? "" : "s",
		 d->fence_ms, unclean == 1 ? "it" : "them");
	d->fencing = true;
	base_timer_start(d->loop, &d->fence, d->fence_ms);
}

static void device_await_drop(struct device *d, uint32_t node)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < d->nawait; i++)
		if (d->await[i] != node)
			d->await[k++] = d->await[i];
	d->nawait = k;
	if (!d->nawait)
		LOG_INFO("device: every first member's APTPL state is in: "
			 "serving the clustered LUs");
}

static void device_offer(struct device *d);

static void device_offer_done(void *ctx, int status)
{
	struct device *d = ctx;

	d->offering = false;
	if (status == -ESHUTDOWN)
		return;
	if (status)
		LOG_INFO("device: APTPL offer not ordered (%s): again when "
			 "ready", strerror(-status));
	device_offer(d);
}

/* This node's APTPL files, once ready, while the cluster awaits them. */
static void device_offer(struct device *d)
{
	uint32_t self = cluster_local_id(d->cluster);
	void **img = NULL;
	size_t *ilen = NULL, total = 8, off;
	uint8_t *b = NULL;
	int err = -ENOMEM;

	if (d->offering || !d->ready || d->detached ||
	    !device_awaits(d, self))
		return;
	img = calloc(d->n, sizeof(*img));
	ilen = calloc(d->n, sizeof(*ilen));
	if (!img || !ilen)
		goto out;
	for (unsigned i = 0; i < d->n; i++) {
		err = scsi_lun_repl_image(d->lus[i].lu, &img[i], &ilen[i]);
		if (err) {
			if (err != -ENOENT)
				LOG_WARN("device: %s: APTPL file not readable "
					 "(%s): offered as none", d->lus[i].name,
					 strerror(-err));
			img[i] = NULL;
			ilen[i] = 0;
		}
		total += 20 + ilen[i];
	}
	b = malloc(total);
	err = -ENOMEM;
	if (!b)
		goto out;
	b[0] = DEVICE_VERSION;
	b[1] = DEVICE_KIND_OFFER;
	b[2] = b[3] = 0;
	device_put_be(b + 4, d->n, 4);
	off = 8;
	for (unsigned i = 0; i < d->n; i++) {
		memcpy(b + off, d->lus[i].naa, 16);
		device_put_be(b + off + 16, ilen[i], 4);
		if (ilen[i])
			memcpy(b + off + 20, img[i], ilen[i]);
		off += 20 + ilen[i];
	}
	err = cluster_submit(d->ch, b, total, device_offer_done, d);
	if (!err)
		d->offering = true;
out:
	if (err && err != -EAGAIN)
		LOG_ERR("device: cannot offer this node's APTPL state: %s",
			strerror(-err));
	for (unsigned i = 0; img && i < d->n; i++)
		free(img[i]);
	free(img);
	free(ilen);
	free(b);
}

/* An OFFER, in order on every node: adopt what is newer. */
static void device_apply_offer(struct device *d, uint32_t from,
			       const uint8_t *b, size_t len)
{
	size_t off = 8;
	uint32_t count;
	int r;

	if (!device_awaits(d, from)) {
		LOG_DEBUG("device: node %u's APTPL offer comes late: ignored",
			  from);
		return;
	}
	count = len >= 8 ? (uint32_t)device_get_be(b + 4, 4) : 0;
	for (uint32_t i = 0; i < count; i++) {
		struct device_lu *e;
		size_t l;

		if (len - off < 20)
			break;
		l = (size_t)device_get_be(b + off + 16, 4);
		if (len - off - 20 < l)
			break;
		e = device_find(d, b + off);
		if (e && l) {
			r = scsi_lun_repl_adopt(e->lu, b + off + 20, l);
			if (r == 1)
				LOG_INFO("device: %s: node %u's APTPL state is "
					 "the newest so far: adopted", e->name,
					 from);
			else if (r < 0)
				LOG_WARN("device: %s: node %u's APTPL image "
					 "does not decode (%s): ignored",
					 e->name, from, strerror(-r));
		}
		off += 20 + l;
	}
	device_await_drop(d, from);
	device_hold_update(d);
}

void device_ready(struct device *d, bool ready)
{
	if (!d)
		return;
	d->ready = ready;
	if (!ready)
		device_leases_drop(d);
	device_offer(d);
	if (ready)
		device_retry_all(d);
}

/* ------------------------------------------------------------ applying */

static void device_apply_done(struct scsi_lu_apply *a)
{
	struct device_apply *da = container_of(a, struct device_apply, a);

	if (da->token)
		cluster_apply_done(da->token);
	free(da);
}

static void device_apply_ignore(struct scsi_lu_apply *a)
{
	(void)a;
}

/* Applies msg to e's LU; returns CLUSTER_APPLY_DONE or _PENDING. */
static int device_lu_apply(struct device *d, struct device_lu *e,
			   const void *msg, size_t len,
			   struct scsi_lu_req *issuer,
			   struct cluster_apply *token)
{
	static struct scsi_lu_apply oom = { .done = device_apply_ignore };
	struct device_apply *da = calloc(1, sizeof(*da));

	if (!da) {
		/* The state must change like everywhere else; only the
		 * wait for this node's effects is lost (acked at once). */
		LOG_ERR("device: %s: out of memory: acking before this "
			"node's effects are done", e->name);
		oom.loop = d->loop;
		scsi_lun_repl_apply(e->lu, msg, len, issuer, &oom);
		return CLUSTER_APPLY_DONE;
	}
	da->a.loop = d->loop;
	da->a.done = device_apply_done;
	da->token = token;
	if (scsi_lun_repl_apply(e->lu, msg, len, issuer, &da->a) == 0) {
		free(da);
		return CLUSTER_APPLY_DONE;
	}
	return CLUSTER_APPLY_PENDING;
}

static int device_apply(void *arg, const struct cluster_msg_info *mi,
			const void *data, size_t len,
			struct cluster_apply *token)
{
	struct device *d = arg;
	const uint8_t *b = data;
	struct device_lu *e;

	if (len >= 8 && b[0] == DEVICE_VERSION &&
	    b[1] == DEVICE_KIND_OFFER && !b[2] && !b[3]) {
		device_apply_offer(d, mi->from, b, len);
		return CLUSTER_APPLY_DONE;
	}
	if (len == 4 && b[0] == DEVICE_VERSION && b[1] == DEVICE_KIND_BYE &&
	    !b[2] && !b[3]) {
		if (mi->from != cluster_local_id(d->cluster) &&
		    d->nbye < CLUSTER_NODES_MAX) {
			device_bye_drop(d, mi->from);
			d->bye[d->nbye++] = mi->from;
		}
		return CLUSTER_APPLY_DONE;
	}
	if (len < DEVICE_HDR || b[0] != DEVICE_VERSION ||
	    b[1] != DEVICE_KIND_LU || b[2] || b[3]) {
		LOG_WARN("device: a message from node %u that does not decode "
			 "(%zu bytes) changes nothing", mi->from, len);
		return CLUSTER_APPLY_DONE;
	}
	e = device_find(d, b + 4);
	if (!e) {
		/* Refused at the state transfer already: cannot happen
		 * between nodes that synced. */
		LOG_WARN("device: a message from node %u for an LU this node "
			 "does not have", mi->from);
		return CLUSTER_APPLY_DONE;
	}
	return device_lu_apply(d, e, b + DEVICE_HDR, len - DEVICE_HDR,
			       mi->local_ctx ? ((struct device_submit *)
						mi->local_ctx)->req : NULL,
			       token);
}

/* SAM-5 6.3.4, SPC-2 5.5.1: a node that left took its I_T nexuses with
 * it: the SCSI-2 reservation held through one of its ports ends, on
 * every LU. */
static void device_view(void *arg, const struct cluster_view *v,
			const uint32_t *left, uint32_t nleft,
			const uint32_t *joined, uint32_t njoined)
{
	struct device *d = arg;
	uint8_t buf[LU_REPL_MSG_MAX];
	struct lu_repl_msg *m;
	ssize_t n;

	if (!d->formed) {
		/* The first quorate view of this history: its members'
		 * APTPL files decide (see the top). */
		d->formed = true;
		d->nawait = 0;
		for (uint32_t i = 0; i < v->count && i < CLUSTER_NODES_MAX;
		     i++)
			d->await[d->nawait++] = v->members[i].id;
		LOG_INFO("device: a new cluster history: waiting for the "
			 "APTPL state of its %u first member%s", d->nawait,
			 d->nawait == 1 ? "" : "s");
	}
	for (uint32_t i = 0; i < nleft; i++)
		if (device_awaits(d, left[i]))
			device_await_drop(d, left[i]);
	/* A BYE counts for the incarnation that said it. */
	for (uint32_t i = 0; i < njoined; i++)
		device_bye_drop(d, joined[i]);
	if (nleft)
		device_fence_start(d, left, nleft);
	/* This node offers once ready (device_ready): not from here, in
	 * the middle of the sync round. */
	device_hold_update(d);
	if (!nleft || !d->ports)
		return;
	m = calloc(1, sizeof(*m));
	if (!m) {
		LOG_ERR("device: out of memory: departed nodes' SCSI-2 "
			"reservations stay on this node");
		return;
	}
	for (uint32_t i = 0; i < nleft; i++) {
		memset(m, 0, sizeof(*m));
		m->type = LU_REPL_MSG_NODE_LEFT;
		m->node = left[i];
		m->nrtpis = port_dir_node_rtpis(ports_dir(d->ports), left[i],
						m->rtpis,
						LU_REPL_NODE_RTPIS_MAX);
		if (m->nrtpis > LU_REPL_NODE_RTPIS_MAX)
			m->nrtpis = LU_REPL_NODE_RTPIS_MAX;
		n = lu_repl_msg_encode(m, buf, sizeof(buf));
		if (n < 0)
			continue;
		for (unsigned k = 0; k < d->n; k++)
			device_lu_apply(d, &d->lus[k], buf, (size_t)n, NULL,
					NULL);
	}
	free(m);
}

/* ------------------------------------------------------ state transfer */

static int device_save(void *arg, void **data, size_t *len)
{
	struct device *d = arg;
	size_t total = DEVICE_SNAP_HDR + 4u * d->nawait, off;
	void **parts = calloc(d->n ? d->n : 1, sizeof(*parts));
	size_t *plen = calloc(d->n ? d->n : 1, sizeof(*plen));
	uint8_t *b = NULL;
	int err = 0;

	if (!parts || !plen) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < d->n && !err; i++) {
		err = scsi_lun_repl_save(d->lus[i].lu, &parts[i], &plen[i]);
		total += DEVICE_SNAP_LU + plen[i];
	}
	if (err)
		goto out;
	b = malloc(total);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(b, "CTDV", 4);
	device_put_be(b + 4, DEVICE_VERSION, 2);
	b[6] = d->formed;
	b[7] = 0;
	device_put_be(b + 8, d->n, 4);
	device_put_be(b + 12, d->nawait, 4);
	off = DEVICE_SNAP_HDR;
	for (uint32_t i = 0; i < d->nawait; i++, off += 4)
		device_put_be(b + off, d->await[i], 4);
	for (unsigned i = 0; i < d->n; i++) {
		memcpy(b + off, d->lus[i].naa, 16);
		device_put_be(b + off + 16, d->lus[i].nblocks, 8);
		device_put_be(b + off + 24, d->lus[i].block_size, 4);
		device_put_be(b + off + 28, plen[i], 4);
		memcpy(b + off + DEVICE_SNAP_LU, parts[i], plen[i]);
		off += DEVICE_SNAP_LU + plen[i];
	}
	*data = b;
	*len = total;
out:
	for (unsigned i = 0; parts && i < d->n; i++)
		free(parts[i]);
	free(parts);
	free(plen);
	return err;
}


/* Whether the snapshot names exactly this node's clustered LUs, with the
 * same identity; says what differs. */
static bool device_snap_matches(struct device *d, const uint8_t *b,
				size_t len, size_t off)
{
	uint32_t count = (uint32_t)device_get_be(b + 8, 4);
	char naa[33];

	if (count != d->n) {
		LOG_ERR("device: the cluster has %u clustered LU%s, this node "
			"%u: every node must export the same clustered LUs; "
			"not serving them", count, count == 1 ? "" : "s",
			d->n);
		return false;
	}
	for (uint32_t i = 0; i < count; i++) {
		const struct device_lu *e;
		uint64_t nblocks;
		uint32_t bsize;

		if (len - off < DEVICE_SNAP_LU)
			return false;
		e = device_find(d, b + off);
		nblocks = device_get_be(b + off + 16, 8);
		bsize = (uint32_t)device_get_be(b + off + 24, 4);
		device_naa_str(b + off, naa);
		if (!e) {
			LOG_ERR("device: the cluster has LU naa.%s, this node "
				"does not: not serving clustered LUs", naa);
			return false;
		}
		if (e->nblocks != nblocks || e->block_size != bsize) {
			LOG_ERR("device: %s (naa.%s): %llu blocks of %u bytes "
				"here, %llu of %u in the cluster: refused, "
				"not serving clustered LUs", e->name, naa,
				(unsigned long long)e->nblocks, e->block_size,
				(unsigned long long)nblocks, bsize);
			return false;
		}
		off += DEVICE_SNAP_LU;
		if (len - off < device_get_be(b + off - 4, 4))
			return false;
		off += (size_t)device_get_be(b + off - 4, 4);
	}
	return off == len;
}

static int device_load(void *arg, const void *data, size_t len)
{
	struct device *d = arg;
	const uint8_t *b = data;
	size_t off = DEVICE_SNAP_HDR, plen;
	uint32_t nawait = 0, prev = 0;
	int err;

	if (len >= DEVICE_SNAP_HDR)
		nawait = (uint32_t)device_get_be(b + 12, 4);
	if (len < DEVICE_SNAP_HDR || memcmp(b, "CTDV", 4) ||
	    device_get_be(b + 4, 2) != DEVICE_VERSION || b[6] > 1 || b[7] ||
	    nawait > CLUSTER_NODES_MAX ||
	    len - DEVICE_SNAP_HDR < 4u * nawait) {
		LOG_ERR("device: the device state received is malformed or "
			"of another version: refused");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < nawait; i++) {
		uint32_t id = (uint32_t)device_get_be(b + off + 4u * i, 4);

		if (i && id <= prev)
			return -EINVAL;
		prev = id;
	}
	off += 4u * nawait;
	if (!device_snap_matches(d, b, len, off))
		return -EINVAL;
	for (uint32_t i = 0; i < d->n; i++) {
		struct device_lu *e = device_find(d, b + off);

		plen = (size_t)device_get_be(b + off + 28, 4);
		off += DEVICE_SNAP_LU;
		err = scsi_lun_repl_load(e->lu, b + off, plen);
		if (err) {
			LOG_ERR("device: %s: the state received is refused: "
				"%s", e->name, strerror(-err));
			return err;
		}
		off += plen;
	}
	d->formed = b[6];
	d->nawait = nawait;
	for (uint32_t i = 0; i < nawait; i++)
		d->await[i] = (uint32_t)device_get_be(b + DEVICE_SNAP_HDR + 4u * i,
						      4);
	device_hold_update(d);
	return 0;
}

static void device_reset(void *arg)
{
	struct device *d = arg;

	for (unsigned i = 0; i < d->n; i++)
		scsi_lun_repl_reset(d->lus[i].lu);
	d->formed = false;
	d->nawait = 0;
	device_hold_update(d);
}

static const struct cluster_channel_ops device_ops = {
	.id = DEVICE_CHANNEL_ID,
	.name = "device",
	.apply = device_apply,
	.view = device_view,
	.save = device_save,
	.load = device_load,
	.reset = device_reset,
};

/* ------------------------------------------------------- a clean stop */

static void device_bye_end(struct device *d)
{
	void (*fn)(void *) = d->bye_done;

	if (!fn)
		return;
	d->bye_done = NULL;
	base_timer_stop(d->loop, &d->bye_timer);
	fn(d->bye_arg);
}

static void device_bye_submitted(void *ctx, int status)
{
	struct device *d = ctx;

	if (status && status != -ESHUTDOWN)
		LOG_INFO("device: BYE not ordered (%s): the others will fence "
			 "this node", strerror(-status));
	device_bye_end(d);
}

static void device_bye_timeout(struct base_timer *t)
{
	struct device *d = container_of(t, struct device, bye_timer);

	LOG_WARN("device: BYE not ordered within %u ms: the others will "
		 "fence this node", DEVICE_BYE_WAIT_MS);
	device_bye_end(d);
}

void device_bye(struct device *d, void (*done)(void *arg), void *arg)
{
	static const uint8_t bye[4] = { DEVICE_VERSION, DEVICE_KIND_BYE };
	int err = -ESHUTDOWN;

	if (d && !d->detached && !d->bye_done)
		err = cluster_submit(d->ch, bye, sizeof(bye),
				     device_bye_submitted, d);
	if (err) {
		done(arg);
		return;
	}
	d->bye_done = done;
	d->bye_arg = arg;
	base_timer_start(d->loop, &d->bye_timer, DEVICE_BYE_WAIT_MS);
}

/* -------------------------------------------------------------- set-up */

static int device_lu_cmp(const void *a, const void *b)
{
	return memcmp(((const struct device_lu *)a)->naa,
		      ((const struct device_lu *)b)->naa, 16);
}

int device_open(struct cluster *c, const struct config *cfg,
		struct ports *ports, struct device **out)
{
	struct device *d;
	unsigned n = 0, k = 0;
	int err;

	*out = NULL;
	for (unsigned i = 0; i < cfg->n_targets; i++)
		for (unsigned j = 0; j < cfg->targets[i].n_luns; j++)
			n += cfg->targets[i].luns[j].clustered;
	if (!n)
		return 0;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->lus = calloc(n, sizeof(*d->lus)))) {
		free(d);
		return -ENOMEM;
	}
	d->cluster = c;
	d->loop = cluster_loop(c);
	d->ports = ports;
	list_init(&d->retry);
	list_init(&d->held);
	d->fence_ms = cfg->cluster.fence_delay_ms;
	base_timer_init(&d->fence, device_fence_timer);
	base_timer_init(&d->bye_timer, device_bye_timeout);
	for (unsigned i = 0; i < cfg->n_targets; i++) {
		const struct config_target *ct = &cfg->targets[i];

		for (unsigned j = 0; j < ct->n_luns; j++) {
			const struct config_lun *l = &ct->luns[j];
			struct device_lu *e = &d->lus[k];

			if (!l->clustered)
				continue;
			e->dev = d;
			e->lu = l->lu;
			memcpy(e->naa, l->scsi.naa, 16);
			e->nblocks = l->scsi.nblocks;
			e->block_size = l->scsi.block_size;
			snprintf(e->name, sizeof(e->name), "%.64s LUN %llu",
				 ct->iscsi.name,
				 (unsigned long long)l->scsi.lun_id);
			k++;
		}
	}
	d->n = n;
	qsort(d->lus, n, sizeof(*d->lus), device_lu_cmp);
	for (unsigned i = 1; i < n; i++) {
		if (!memcmp(d->lus[i].naa, d->lus[i - 1].naa, 16)) {
			LOG_ERR("device: %s and %s have the same NAA: a "
				"clustered LU's NAA names it in the cluster",
				d->lus[i - 1].name, d->lus[i].name);
			free(d->lus);
			free(d);
			return -EINVAL;
		}
	}
	err = cluster_channel_open(c, &device_ops, d, &d->ch);
	if (err) {
		LOG_ERR("device: cannot open the device channel: %s",
			strerror(-err));
		free(d->lus);
		free(d);
		return err;
	}
	for (unsigned i = 0; i < n; i++) {
		struct device_lu *e = &d->lus[i];

		e->seq.submit = device_seq_submit;
		e->seq.port_exists = ports ? device_seq_port_exists : NULL;
		e->seq.range_lock = device_seq_range_lock;
		e->seq.range_unlock = device_seq_range_unlock;
		pthread_mutex_init(&e->lease_mu, NULL);
		scsi_lun_set_seq(e->lu, &e->seq);
		/* The state is the cluster's: the APTPL file restored at
		 * creation is offered instead (see the top), so that every
		 * node starts from the same empty state. */
		scsi_lun_repl_reset(e->lu);
	}
	LOG_INFO("device: %u clustered LU%s", n, n == 1 ? "" : "s");
	*out = d;
	return 0;
}

void device_detach(struct device *d)
{
	if (!d)
		return;
	/* Stopping: what is held back completes now (the cluster's close
	 * then ends what is still outstanding). */
	device_fence_end(d);
	device_bye_end(d);
	d->detached = true;
	for (unsigned i = 0; i < d->n; i++)
		scsi_lun_set_seq(d->lus[i].lu, NULL);
}

void device_free(struct device *d)
{
	struct device_submit *s, *tmp;

	if (!d)
		return;
	/* Never ordered: the other nodes end what the nexuses held when
	 * this node leaves their view (NODE_LEFT). */
	list_for_each_entry_safe(s, tmp, &d->retry, link) {
		list_del(&s->link);
		scsi_lu_req_done(s->req, -ESHUTDOWN);
		free(s);
	}
	/* Idle leases (no CAW runs any more): the cluster is closed. */
	for (unsigned i = 0; i < d->n; i++) {
		for (uint32_t k = 0; k < d->lus[i].nleases; k++)
			free(d->lus[i].leases[k]);
		pthread_mutex_destroy(&d->lus[i].lease_mu);
	}
	free(d->lus);
	free(d);
}
