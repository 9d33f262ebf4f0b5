/*
 * The cluster service end to end on the single backend, through cluster.h
 * only: a node becomes ready on its own; submit -> apply -> done; a
 * pending apply holds the completion back; many submits apply in order
 * with consecutive commit indexes; notify runs the handler and completes;
 * close fires -ESHUTDOWN; submit refuses what is too big and what comes
 * before the node is ready.
 *
 *   +---------------------------+
 *   | node 1 (single backend)   |
 *   |  test channel (id 100)    |  view {1}, quorate
 *   +---------------------------+
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/loop.h"
#include "cluster/cluster.h"

#define TEST_CH 100

struct done_rec {
	int calls;
	int status;
	uint64_t index; /* written by the apply through local_ctx */
	int order;
};

struct tchan {
	uint64_t applied;
	uint64_t last_index;
	uint64_t sum;
	bool defer_next;
	struct cluster_apply *held;
	uint32_t views;
};

static int tchan_apply(void *arg, const struct cluster_msg_info *mi,
		       const void *data, size_t len,
		       struct cluster_apply *token)
{
	struct tchan *t = arg;
	uint32_t v = 0;

	assert_int_equal(mi->index, t->last_index + 1);
	t->last_index = mi->index;
	t->applied++;
	if (len == 4)
		memcpy(&v, data, 4);
	t->sum = t->sum * 31 + v;
	if (mi->local_ctx) /* every submit here passes a struct done_rec */
		((struct done_rec *)mi->local_ctx)->index = mi->index;
	if (t->defer_next) {
		t->defer_next = false;
		t->held = token;
		return CLUSTER_APPLY_PENDING;
	}
	return CLUSTER_APPLY_DONE;
}

static void tchan_view(void *arg, const struct cluster_view *v,
		       const uint32_t *left, uint32_t nleft,
		       const uint32_t *joined, uint32_t njoined)
{
	struct tchan *t = arg;

	t->views++;
}

static int tchan_save(void *arg, void **data, size_t *len)
{
	struct tchan *t = arg;

	*data = malloc(8);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, &t->sum, 8);
	*len = 8;
	return 0;
}

static int tchan_load(void *arg, const void *data, size_t len)
{
	struct tchan *t = arg;

	if (len != 8)
		return -EINVAL;
	memcpy(&t->sum, data, 8);
	return 0;
}

static const struct cluster_channel_ops tchan_ops = {
	.id = TEST_CH,
	.name = "test",
	.apply = tchan_apply,
	.view = tchan_view,
	.save = tchan_save,
	.load = tchan_load,
};

struct env {
	struct base_loop *loop;
	struct cluster *c;
	struct cluster_channel *ch;
	struct tchan t;
	int readies;
};

static void env_ready(void *arg, bool ready)
{
	struct env *e = arg;

	if (ready)
		e->readies++;
}

/* Turns the loop until cond holds (or gives up). */
#define RUN_UNTIL(e, cond)                                              \
	do {                                                            \
		int _i;                                                 \
		for (_i = 0; _i < 1000 && !(cond); _i++)                \
			assert_true(base_loop_run_ready((e)->loop) >= 0); \
		assert_true(cond);                                      \
	} while (0)

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SINGLE };
	struct cluster_events ev = { .ready = env_ready };

	assert_non_null(e);
	ev.arg = e;
	assert_int_equal(base_loop_create(&e->loop), 0);
	assert_int_equal(cluster_open(e->loop, &cfg, &ev, &e->c), 0);
	assert_int_equal(cluster_channel_open(e->c, &tchan_ops, &e->t, &e->ch),
			 0);
	assert_false(cluster_is_ready(e->c));
	RUN_UNTIL(e, cluster_is_ready(e->c));
	assert_int_equal(e->readies, 1);
	assert_int_equal(e->t.views, 1);
	assert_int_equal(cluster_local_id(e->c), 1);
	assert_int_equal(cluster_view_get(e->c)->count, 1);
	assert_true(cluster_view_get(e->c)->quorate);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;

	if (e->c)
		cluster_close(e->c);
	base_loop_destroy(e->loop);
	free(e);
	return 0;
}


static int done_order;

static void rec_done(void *ctx, int status)
{
	struct done_rec *d = ctx;

	d->calls++;
	d->status = status;
	d->order = ++done_order;
}

static void test_submit_apply_done(void **state)
{
	struct env *e = *state;
	struct done_rec d = { 0 };
	uint32_t v = 7;

	assert_int_equal(cluster_submit(e->ch, &v, 4, rec_done, &d), 0);
	assert_int_equal(d.calls, 0); /* never inside the call */
	RUN_UNTIL(e, d.calls == 1);
	assert_int_equal(d.status, 0);
	assert_int_equal(d.index, 1);
	assert_int_equal(e->t.applied, 1);
	assert_int_equal(e->t.sum, 7);
	assert_int_equal(cluster_stats_get(e->c)->applied, 1);
}

static void test_pending_apply_delays_done(void **state)
{
	struct env *e = *state;
	struct done_rec d = { 0 }, d2 = { 0 };
	uint32_t v = 1;
	int i;

	e->t.defer_next = true;
	assert_int_equal(cluster_submit(e->ch, &v, 4, rec_done, &d), 0);
	assert_int_equal(cluster_submit(e->ch, &v, 4, rec_done, &d2), 0);
	RUN_UNTIL(e, e->t.applied == 2);
	for (i = 0; i < 20; i++)
		base_loop_run_ready(e->loop);
	/* The second is applied too, but its ack is cumulative: both wait
	 * for the first one's side effects. */
	assert_int_equal(d.calls, 0);
	assert_int_equal(d2.calls, 0);
	assert_non_null(e->t.held);
	cluster_apply_done(e->t.held);
	e->t.held = NULL;
	RUN_UNTIL(e, d.calls == 1 && d2.calls == 1);
	assert_int_equal(d.status, 0);
	assert_int_equal(d2.status, 0);
	assert_true(d.order < d2.order);
}

static void test_many_submits_in_order(void **state)
{
	struct env *e = *state;
	enum { N = 500 };
	struct done_rec *d = calloc(N, sizeof(*d));
	uint64_t sum = 0;
	uint32_t i;

	assert_non_null(d);
	done_order = 0;
	for (i = 0; i < N; i++) {
		assert_int_equal(cluster_submit(e->ch, &i, 4, rec_done, &d[i]),
				 0);
		sum = sum * 31 + i;
	}
	RUN_UNTIL(e, d[N - 1].calls == 1);
	for (i = 0; i < N; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].status, 0);
		assert_int_equal(d[i].index, i + 1);
		assert_int_equal(d[i].order, (int)i + 1);
	}
	assert_int_equal(e->t.sum, sum);
	/* One node: nobody needs its acks. */
	assert_int_equal(cluster_stats_get(e->c)->acks_sent, 0);
	free(d);
}

struct nrec {
	struct cluster_notify_handler h;
	int calls;
	char got[16];
	struct cluster_apply *held;
};

static int nrec_cb(struct cluster_notify_handler *h,
		   const struct cluster_msg_info *mi, const void *data,
		   size_t len, struct cluster_apply *token)
{
	struct nrec *n = container_of(h, struct nrec, h);

	n->calls++;
	assert_true(len < sizeof(n->got));
	memcpy(n->got, data, len);
	n->got[len] = '\0';
	n->held = token;
	return CLUSTER_APPLY_PENDING;
}

static void test_notify(void **state)
{
	struct env *e = *state;
	struct nrec n = { .h = { .topic = 9, .cb = nrec_cb } };
	struct done_rec d = { 0 }, d2 = { 0 };
	int i;

	cluster_notify_register(e->c, &n.h);
	assert_int_equal(cluster_notify_send(e->c, 9, "hello", 5, rec_done,
					     &d),
			 0);
	RUN_UNTIL(e, n.calls == 1);
	assert_string_equal(n.got, "hello");
	for (i = 0; i < 10; i++)
		base_loop_run_ready(e->loop);
	assert_int_equal(d.calls, 0); /* the handler deferred */
	cluster_apply_done(n.held);
	RUN_UNTIL(e, d.calls == 1);
	assert_int_equal(d.status, 0);

	/* A topic nobody handles completes too. */
	assert_int_equal(cluster_notify_send(e->c, 10, "x", 1, rec_done, &d2),
			 0);
	RUN_UNTIL(e, d2.calls == 1);
	assert_int_equal(d2.status, 0);
	assert_int_equal(n.calls, 1);
	cluster_notify_unregister(e->c, &n.h);
}

static void test_close_fires_eshutdown(void **state)
{
	struct env *e = *state;
	struct done_rec d[3] = { { 0 } };
	uint32_t v = 3;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(cluster_submit(e->ch, &v, 4, rec_done, &d[i]),
				 0);
	cluster_close(e->c);
	e->c = NULL;
	for (i = 0; i < 3; i++) {
		assert_int_equal(d[i].calls, 1);
		assert_int_equal(d[i].status, -ESHUTDOWN);
	}
	/* Nothing fires later. */
	for (i = 0; i < 10; i++)
		base_loop_run_ready(e->loop);
	for (i = 0; i < 3; i++)
		assert_int_equal(d[i].calls, 1);
}

static void test_submit_errors(void **state)
{
	struct env *e = *state;
	struct done_rec d = { 0 };
	char *big = calloc(1, CLUSTER_MSG_MAX + 1);
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SINGLE };
	struct cluster *c2;
	struct cluster_channel *ch2;
	struct tchan t2 = { 0 };

	assert_non_null(big);
	assert_int_equal(cluster_submit(e->ch, big, CLUSTER_MSG_MAX + 1,
					rec_done, &d),
			 -EMSGSIZE);
	/* The largest message passes. */
	assert_int_equal(cluster_submit(e->ch, big, CLUSTER_MSG_MAX, rec_done,
					&d),
			 0);
	RUN_UNTIL(e, d.calls == 1);
	assert_int_equal(d.status, 0);
	free(big);

	/* A node that has not seen its first view is not ready. */
	assert_int_equal(cluster_open(e->loop, &cfg, NULL, &c2), 0);
	assert_int_equal(cluster_channel_open(c2, &tchan_ops, &t2, &ch2), 0);
	assert_int_equal(cluster_channel_open(c2, &tchan_ops, &t2, &ch2),
			 -EEXIST);
	assert_false(cluster_is_ready(c2));
	d.calls = 0;
	assert_int_equal(cluster_submit(ch2, "x", 1, rec_done, &d), -EAGAIN);
	cluster_close(c2);
	assert_int_equal(d.calls, 0);
}

/* A completion may close the service (libuv's rule: memory goes in the
 * close path, not under the caller's feet). */
static struct env *close_env;

static void close_done(void *ctx, int status)
{
	struct done_rec *d = ctx;

	d->calls++;
	d->status = status;
	if (close_env->c) {
		struct cluster *c = close_env->c;

		close_env->c = NULL;
		cluster_close(c);
	}
}

static void test_close_from_completion(void **state)
{
	struct env *e = *state;
	struct done_rec d[2] = { { 0 } };
	uint32_t v = 5;

	close_env = e;
	assert_int_equal(cluster_submit(e->ch, &v, 4, close_done, &d[0]), 0);
	assert_int_equal(cluster_submit(e->ch, &v, 4, close_done, &d[1]), 0);
	RUN_UNTIL(e, d[0].calls == 1 && d[1].calls == 1);
	assert_int_equal(d[0].status, 0);
	assert_true(d[1].status == 0 || d[1].status == -ESHUTDOWN);
}

static void test_state_save(void **state)
{
	struct env *e = *state;
	struct done_rec d = { 0 };
	void *a, *b;
	size_t la, lb;
	uint32_t v = 11;

	assert_int_equal(cluster_state_save(e->c, &a, &la), 0);
	assert_int_equal(cluster_submit(e->ch, &v, 4, rec_done, &d), 0);
	RUN_UNTIL(e, d.calls == 1);
	assert_int_equal(cluster_state_save(e->c, &b, &lb), 0);
	/* The commit index, the origin table and the channel changed. */
	assert_true(la != lb || memcmp(a, b, la) != 0);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_submit_apply_done,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_pending_apply_delays_done,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_many_submits_in_order,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_notify, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_close_fires_eshutdown,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_submit_errors, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_close_from_completion,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_state_save, env_setup,
						env_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
