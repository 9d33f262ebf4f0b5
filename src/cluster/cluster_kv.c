/*
 * The replicated key-value store as a channel of the cluster service
 * (cluster.h, "key-value"): get reads the local map; set / compare-and-set
 * / delete are ordered commits on CLUSTER_CH_KV whose apply runs the pure
 * map (cluster_kv_state.c) on every member; watches fire at apply time on
 * every member; the submitter learns its status and version through
 * mi->local_ctx and completes when every member has applied.
 *
 * Deliberately NOT here: the map itself and its codec (cluster_kv_state.c),
 * ordering, acks and state transfer (cluster.c). A state transfer (load)
 * replaces the map without firing watches: it happens before the node is
 * ready, and users re-read what they need when cluster_events.ready says
 * so.
 *
 * Out of memory inside an apply leaves this member's map without the
 * change while the others have it: the states diverge. It is logged as an
 * error; the member's state bytes then differ from the others' (which
 * tests/sim checks) and a restart of the node repairs it by state
 * transfer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cluster/cluster.h"
#include "cluster/cluster_kv_state.h"
#include "cluster/cluster_services.h"

struct cluster_kv {
	struct cluster *c;
	struct cluster_channel *ch;
	struct cluster_kv_state st;
	struct list_head watches;
	struct list_head reqs;       /* submitted, not completed */
};

/* One set/cas/del from submit to completion. The engine calls
 * cluster_kv_req_done exactly once per successful submit, also after a
 * detach (with -ESHUTDOWN): the req lives until then, orphaned (kv NULL)
 * once detach has told its user. */
struct cluster_kv_req {
	struct list_head link;
	struct cluster_kv *kv;
	cluster_kv_done_fn done;
	void *ctx;
	bool applied;
	int status;
	uint64_t version;
};

static bool cluster_kv_watch_match(const struct cluster_kv_watch *w,
				   const char *key)
{
	size_t n = w->prefix ? strlen(w->prefix) : 0;
	return strncmp(key, w->prefix ? w->prefix : "", n) == 0;
}

/* Watches may delete themselves from their callback (not others). */
static void cluster_kv_watches_fire(struct cluster_kv *kv,
				    const struct cluster_kv_result *res)
{
	struct cluster_kv_watch *w, *tmp;

	list_for_each_entry_safe(w, tmp, &kv->watches, link)
		if (cluster_kv_watch_match(w, res->key))
			w->cb(w, res->key, res->val, res->vlen, res->version);
}

static int cluster_kv_apply(void *arg, const struct cluster_msg_info *mi,
			    const void *data, size_t len,
			    struct cluster_apply *token)
{
	struct cluster_kv *kv = arg;
	struct cluster_kv_req *req = mi->local_ctx;
	struct cluster_kv_result res;
	struct cluster_kv_op op;

	if (cluster_kv_op_decode(data, len, &op)) {
		/* the same bytes on every member: the same no-op */
		LOG_WARN("cluster kv: malformed op (%zu bytes) from node %u "
			 "at index %llu applied as a no-op", len, mi->from,
			 (unsigned long long)mi->index);
		if (req) {
			req->applied = true;
			req->status = -EINVAL;
		}
		return CLUSTER_APPLY_DONE;
	}
	cluster_kv_state_apply(&kv->st, &op, mi->index, &res);
	if (res.status == -ENOMEM)
		LOG_ERR("cluster kv: out of memory applying index %llu: this "
			"node's map now differs from the cluster's; restart it",
			(unsigned long long)mi->index);
	if (req) {
		req->applied = true;
		req->status = res.status;
		req->version = res.version;
	}
	if (res.changed)
		cluster_kv_watches_fire(kv, &res);
	return CLUSTER_APPLY_DONE;
}

static int cluster_kv_save(void *arg, void **data, size_t *len)
{
	struct cluster_kv *kv = arg;
	return cluster_kv_state_save(&kv->st, data, len);
}

static int cluster_kv_load(void *arg, const void *data, size_t len)
{
	struct cluster_kv *kv = arg;
	int r = cluster_kv_state_load(&kv->st, data, len);

	if (r)
		LOG_ERR("cluster kv: state transfer refused (%zu bytes): %d",
			len, r);
	return r;
}

static void cluster_kv_reset(void *arg)
{
	struct cluster_kv *kv = arg;
	cluster_kv_state_reset(&kv->st);
}

static void cluster_kv_req_done(void *ctx, int status)
{
	struct cluster_kv_req *req = ctx;

	if (req->kv) {
		list_del(&req->link);
		if (status == 0 && !req->applied)
			status = -EIO;  /* cannot happen: applied first */
		if (status == 0)
			req->done(req->ctx, req->status, req->version);
		else
			req->done(req->ctx, status, 0);
	}
	free(req);
}

static int cluster_kv_submit(struct cluster *c,
			     const struct cluster_kv_op *op,
			     cluster_kv_done_fn done, void *ctx)
{
	struct cluster_kv *kv = c ? cluster_kv_of(c) : NULL;
	struct cluster_kv_req *req;
	uint8_t *buf;
	long n;
	int r;

	if (!kv || !done || !op->key)
		return -EINVAL;
	if (op->vlen > CLUSTER_KV_VALUE_MAX)
		return -EMSGSIZE;
	if (!cluster_kv_op_valid(op))
		return -EINVAL;
	req = calloc(1, sizeof(*req));
	buf = malloc(cluster_kv_op_size(op));
	if (!req || !buf) {
		free(req);
		free(buf);
		return -ENOMEM;
	}
	n = cluster_kv_op_encode(op, buf, cluster_kv_op_size(op));
	if (n < 0) {
		free(req);
		free(buf);
		return (int)n;
	}
	req->kv = kv;
	req->done = done;
	req->ctx = ctx;
	r = cluster_submit(kv->ch, buf, (size_t)n, cluster_kv_req_done, req);
	free(buf);
	if (r) {
		free(req);
		return r;
	}
	list_add_tail(&kv->reqs, &req->link);
	return 0;
}

/* ------------------------------------------------------------ cluster.h */

int cluster_kv_get(struct cluster *c, const char *key, const void **val,
		   size_t *len, uint64_t *version)
{
	struct cluster_kv *kv = c ? cluster_kv_of(c) : NULL;
	const struct cluster_kv_entry *e;

	if (!kv || !key)
		return -EINVAL;
	e = cluster_kv_state_get(&kv->st, key);
	if (!e)
		return -ENOENT;
	if (val)
		*val = e->val;
	if (len)
		*len = e->vlen;
	if (version)
		*version = e->version;
	return 0;
}

int cluster_kv_set(struct cluster *c, const char *key, const void *val,
		   size_t len, cluster_kv_done_fn done, void *ctx)
{
	struct cluster_kv_op op = {
		.type = CLUSTER_KV_OP_SET, .key = key,
		.klen = key ? strnlen(key, CLUSTER_KV_KEY_MAX + 1) : 0,
		.val = val, .vlen = len,
	};
	return cluster_kv_submit(c, &op, done, ctx);
}

int cluster_kv_cas(struct cluster *c, const char *key, uint64_t expect,
		   const void *val, size_t len, cluster_kv_done_fn done,
		   void *ctx)
{
	struct cluster_kv_op op = {
		.type = CLUSTER_KV_OP_CAS, .key = key,
		.klen = key ? strnlen(key, CLUSTER_KV_KEY_MAX + 1) : 0,
		.expect = expect, .val = val, .vlen = len,
	};
	return cluster_kv_submit(c, &op, done, ctx);
}

int cluster_kv_del(struct cluster *c, const char *key,
		   cluster_kv_done_fn done, void *ctx)
{
	struct cluster_kv_op op = {
		.type = CLUSTER_KV_OP_DEL, .key = key,
		.klen = key ? strnlen(key, CLUSTER_KV_KEY_MAX + 1) : 0,
	};
	return cluster_kv_submit(c, &op, done, ctx);
}

void cluster_kv_watch_add(struct cluster *c, struct cluster_kv_watch *w)
{
	struct cluster_kv *kv = cluster_kv_of(c);

	if (kv)
		list_add_tail(&kv->watches, &w->link);
	else
		list_init(&w->link);
}

void cluster_kv_watch_del(struct cluster *c, struct cluster_kv_watch *w)
{
	(void)c;
	list_del(&w->link);
}

/* ------------------------------------------------------ attach / detach */

int cluster_kv_attach(struct cluster *c, struct cluster_kv **out)
{
	static const struct cluster_channel_ops ops = {
		.id = CLUSTER_CH_KV,
		.name = "kv",
		.apply = cluster_kv_apply,
		.save = cluster_kv_save,
		.load = cluster_kv_load,
		.reset = cluster_kv_reset,
	};
	struct cluster_kv *kv = calloc(1, sizeof(*kv));
	int r;

	if (!kv)
		return -ENOMEM;
	kv->c = c;
	cluster_kv_state_init(&kv->st);
	list_init(&kv->watches);
	list_init(&kv->reqs);
	r = cluster_channel_open(c, &ops, kv, &kv->ch);
	if (r) {
		free(kv);
		return r;
	}
	*out = kv;
	return 0;
}

void cluster_kv_detach(struct cluster_kv *kv)
{
	struct cluster_kv_req *req, *tmp;

	if (!kv)
		return;
	/* The engine still owns the submits and completes them later
	 * (-ESHUTDOWN): the reqs stay allocated, orphaned, until then. */
	list_for_each_entry_safe(req, tmp, &kv->reqs, link) {
		list_del(&req->link);
		req->kv = NULL;
		req->done(req->ctx, -ESHUTDOWN, 0);
	}
	/* Watches are embedded in their owners: just forget them. */
	while (!list_empty(&kv->watches))
		list_del(kv->watches.next);
	cluster_channel_close(kv->ch);
	cluster_kv_state_reset(&kv->st);
	free(kv);
}
