/*
 * Event loop: timers fire in deadline order and can be stopped or re-armed,
 * deferrals run (once per queueing, chained ones too), posts from another
 * thread run on the loop's thread, stop works from any thread and before
 * run, an fd deleted during a batch is not dispatched afterwards,
 * destroy hooks run, and another thread enters an idle loop (and not a
 * busy or stopped one): what it queues there runs on the loop's thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/loop.h"

static struct base_loop *loop_new(void)
{
	struct base_loop *loop = NULL;

	assert_int_equal(base_loop_create(&loop), 0);
	assert_non_null(loop);
	return loop;
}

/* ---- timers ---- */

struct order_timer {
	struct base_timer t;
	int id;
};

static int fired[8];
static int nfired;
static struct base_loop *cur;

static void order_cb(struct base_timer *t)
{
	struct order_timer *o = container_of(t, struct order_timer, t);

	fired[nfired++] = o->id;
	assert_false(t->armed);
	if (nfired == 3)
		base_loop_stop(cur);
}

static void test_timers_fire_in_order(void **state)
{
	struct order_timer a = { .id = 30 }, b = { .id = 10 }, c = { .id = 20 },
			   d = { .id = 99 };
	uint64_t t0 = base_now_ms();

	cur = loop_new();
	nfired = 0;
	base_timer_init(&a.t, order_cb);
	base_timer_init(&b.t, order_cb);
	base_timer_init(&c.t, order_cb);
	base_timer_init(&d.t, order_cb);
	base_timer_start(cur, &a.t, 30);
	base_timer_start(cur, &b.t, 10);
	base_timer_start(cur, &c.t, 20);
	base_timer_start(cur, &d.t, 15);
	base_timer_stop(cur, &d.t); /* never fires */
	assert_false(d.t.armed);

	assert_int_equal(base_loop_run(cur), 0);
	assert_int_equal(nfired, 3);
	assert_int_equal(fired[0], 10);
	assert_int_equal(fired[1], 20);
	assert_int_equal(fired[2], 30);
	assert_true(base_now_ms() - t0 >= 30);
	base_loop_destroy(cur);
}

/* A timer re-armed with delay 0 from its callback must not starve the
 * rest of the loop: a deferral queued meanwhile still runs. */
static int rearm_count;
static bool rearm_defer_ran;
static struct base_timer rearm_timer;

static void rearm_cb(struct base_timer *t)
{
	rearm_count++;
	if (rearm_defer_ran) {
		base_loop_stop(cur);
		return;
	}
	base_timer_start(cur, t, 0);
}

static void rearm_defer_cb(struct base_defer *d)
{
	rearm_defer_ran = true;
}

static void test_timer_rearm_zero_no_starvation(void **state)
{
	struct base_defer d;

	cur = loop_new();
	rearm_count = 0;
	rearm_defer_ran = false;
	base_timer_init(&rearm_timer, rearm_cb);
	base_timer_start(cur, &rearm_timer, 0);
	base_defer_init(&d, rearm_defer_cb);
	base_defer(cur, &d);
	assert_int_equal(base_loop_run(cur), 0);
	assert_true(rearm_defer_ran);
	assert_true(rearm_count >= 1 && rearm_count <= 3);
	base_loop_destroy(cur);
}

/* ---- deferrals ---- */

static int defer_runs;
static struct base_defer chain[3];

static void defer_cb(struct base_defer *d)
{
	defer_runs++;
	assert_false(d->queued);
	if (d == &chain[0])
		base_defer(cur, &chain[1]); /* queued from a deferral */
	else if (d == &chain[1])
		base_defer(cur, &chain[2]);
	else
		base_loop_stop(cur);
}

static void test_defer_runs_once_and_chains(void **state)
{
	int i;

	cur = loop_new();
	defer_runs = 0;
	for (i = 0; i < 3; i++)
		base_defer_init(&chain[i], defer_cb);
	base_defer(cur, &chain[0]);
	base_defer(cur, &chain[0]); /* idempotent */
	assert_true(chain[0].queued);
	assert_int_equal(base_loop_run(cur), 0);
	assert_int_equal(defer_runs, 3);
	base_loop_destroy(cur);
}

/* ---- posts and stop across threads ---- */

struct post_ctx {
	struct base_loop *loop;
	pthread_t loop_thread;
	int runs;
	bool on_loop_thread;
	bool current_ok;
};

static void post_fn(void *arg)
{
	struct post_ctx *ctx = arg;

	ctx->runs++;
	ctx->on_loop_thread = pthread_equal(pthread_self(), ctx->loop_thread);
	ctx->current_ok = base_loop_current() == ctx->loop;
	if (ctx->runs == 100)
		base_loop_stop(ctx->loop);
}

static void *poster_main(void *arg)
{
	struct post_ctx *ctx = arg;
	int i;

	usleep(10000); /* let the loop go to sleep first */
	/* No cmocka asserts off the test thread: report failures back. */
	for (i = 0; i < 100; i++)
		if (base_loop_post(ctx->loop, post_fn, ctx) != 0)
			return (void *)1;
	return NULL;
}

static void test_post_from_other_thread(void **state)
{
	struct post_ctx ctx = { 0 };
	pthread_t th;

	ctx.loop = loop_new();
	ctx.loop_thread = pthread_self();
	assert_null(base_loop_current());
	assert_int_equal(pthread_create(&th, NULL, poster_main, &ctx), 0);
	void *ret;

	assert_int_equal(base_loop_run(ctx.loop), 0);
	pthread_join(th, &ret);
	assert_null(ret);
	assert_int_equal(ctx.runs, 100);
	assert_true(ctx.on_loop_thread);
	assert_true(ctx.current_ok);
	assert_null(base_loop_current());
	base_loop_destroy(ctx.loop);
}

/* Several threads posting at once: every post runs exactly once. */
enum { STRESS_THREADS = 4, STRESS_POSTS = 20000 };

struct stress {
	struct base_loop *loop;
	int runs; /* touched on the loop thread only */
};

static void stress_fn(void *arg)
{
	struct stress *st = arg;

	if (++st->runs == STRESS_THREADS * STRESS_POSTS)
		base_loop_stop(st->loop);
}

static void *stress_poster(void *arg)
{
	struct stress *st = arg;
	int i;

	for (i = 0; i < STRESS_POSTS; i++)
		while (base_loop_post(st->loop, stress_fn, st) != 0)
			usleep(100);
	return NULL;
}

static void test_post_many_threads(void **state)
{
	struct stress st = { 0 };
	pthread_t th[STRESS_THREADS];
	int i;

	st.loop = loop_new();
	for (i = 0; i < STRESS_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, stress_poster, &st),
				 0);
	assert_int_equal(base_loop_run(st.loop), 0);
	for (i = 0; i < STRESS_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(st.runs, STRESS_THREADS * STRESS_POSTS);
	base_loop_destroy(st.loop);
}

static void *loop_thread_main(void *arg)
{
	struct base_loop *loop = arg;

	return (void *)(intptr_t)base_loop_run(loop);
}

static void test_stop_from_other_thread(void **state)
{
	struct base_loop *loop = loop_new();
	pthread_t th;
	void *ret;

	assert_int_equal(pthread_create(&th, NULL, loop_thread_main, loop), 0);
	usleep(20000);
	base_loop_stop(loop);
	pthread_join(th, &ret);
	assert_int_equal((intptr_t)ret, 0);

	/* A stop requested before run makes run return at once. */
	base_loop_stop(loop);
	assert_int_equal(base_loop_run(loop), 0);
	base_loop_destroy(loop);
}

/* ---- entering from another thread ---- */

struct enter_ctx {
	struct base_loop *loop;
	pthread_t loop_thread;
	struct base_defer d;
	struct base_timer t;
	sem_t busy, release;
	int defer_runs, timer_runs;
	bool defer_on_loop, timer_on_loop;
	uint64_t timer_started;
	uint64_t timer_waited;
};

static struct enter_ctx *ectx;

static void enter_defer_cb(struct base_defer *d)
{
	ectx->defer_runs++;
	ectx->defer_on_loop = pthread_equal(pthread_self(), ectx->loop_thread);
}

static void enter_timer_cb(struct base_timer *t)
{
	ectx->timer_runs++;
	ectx->timer_on_loop = pthread_equal(pthread_self(), ectx->loop_thread);
	ectx->timer_waited = base_now_ms() - ectx->timer_started;
}

/* Holds the loop's thread inside a callback until released. */
static void enter_block(void *arg)
{
	sem_post(&ectx->busy);
	while (sem_wait(&ectx->release) != 0)
		;
}

/* Until the loop is idle again: a try that fails only while it runs. */
static void enter_wait_idle(struct base_loop *loop)
{
	for (int i = 0; i < 5000; i++) {
		if (base_loop_try_enter(loop))
			return;
		usleep(200);
	}
	fail_msg("the idle loop could not be entered in 1 s");
}

static void test_enter_from_other_thread(void **state)
{
	struct enter_ctx ctx = { 0 };
	pthread_t th;
	void *ret;

	ectx = &ctx;
	ctx.loop = loop_new();
	assert_int_equal(sem_init(&ctx.busy, 0, 0), 0);
	assert_int_equal(sem_init(&ctx.release, 0, 0), 0);
	base_defer_init(&ctx.d, enter_defer_cb);
	base_timer_init(&ctx.t, enter_timer_cb);

	/* not running: nobody would run what an enterer queues */
	assert_false(base_loop_try_enter(ctx.loop));

	assert_int_equal(pthread_create(&th, NULL, loop_thread_main,
					ctx.loop), 0);
	ctx.loop_thread = th;

	/* idle (asleep in epoll_wait, no timer): entered; a deferral and a
	 * 30 ms timer queued from here run on the loop's thread, on time
	 * (the leave wakes it: it would otherwise sleep forever) */
	enter_wait_idle(ctx.loop);
	assert_ptr_equal(base_loop_current(), ctx.loop);
	base_defer(ctx.loop, &ctx.d);
	ctx.timer_started = base_now_ms();
	base_timer_start(ctx.loop, &ctx.t, 30);
	base_loop_leave(ctx.loop);
	assert_null(base_loop_current());
	for (int i = 0; i < 1000 && ctx.timer_runs == 0; i++)
		usleep(1000);
	/* read once the loop is idle again (entered: nothing runs) */
	enter_wait_idle(ctx.loop);
	assert_int_equal(ctx.defer_runs, 1);
	assert_true(ctx.defer_on_loop);
	assert_int_equal(ctx.timer_runs, 1);
	assert_true(ctx.timer_on_loop);
	assert_true(ctx.timer_waited >= 30 && ctx.timer_waited < 500);
	base_loop_leave(ctx.loop);

	/* busy (inside a callback): not entered, never waits */
	assert_int_equal(base_loop_post(ctx.loop, enter_block, NULL), 0);
	while (sem_wait(&ctx.busy) != 0)
		;
	for (int i = 0; i < 10; i++)
		assert_false(base_loop_try_enter(ctx.loop));
	sem_post(&ctx.release);

	base_loop_stop(ctx.loop);
	pthread_join(th, &ret);
	assert_int_equal((intptr_t)ret, 0);
	sem_destroy(&ctx.busy);
	sem_destroy(&ctx.release);
	base_loop_destroy(ctx.loop);
}

/* Posts and entries from one thread keep their order: an entry never
 * overtakes a post still queued. */
enum { ORDER_N = 20000 };

struct order_ctx {
	struct base_loop *loop;
	int seen[ORDER_N];  /* written under the loop's turn */
	int nseen;
	int entered;
};

static void order_rec(struct order_ctx *o, int i)
{
	o->seen[o->nseen++] = i;
}

struct order_item {
	struct order_ctx *o;
	int i;
};

static struct order_item order_items[ORDER_N];

static void order_item_fn(void *arg)
{
	struct order_item *it = arg;

	order_rec(it->o, it->i);
	if (it->i == ORDER_N - 1)
		base_loop_stop(it->o->loop);
}

static void *order_main(void *arg)
{
	struct order_ctx *o = arg;

	for (int i = 0; i < ORDER_N; i++) {
		bool enter = i % 3 && base_loop_try_enter(o->loop);

		/* now and then until the loop is idle, so that entries
		 * happen however busy the machine is */
		for (int k = 0; i % 1000 == 1 && !enter && k < 5000; k++) {
			usleep(200);
			enter = base_loop_try_enter(o->loop);
		}
		order_items[i].o = o;
		order_items[i].i = i;
		if (enter) {
			o->entered++;
			order_item_fn(&order_items[i]);
			base_loop_leave(o->loop);
			continue;
		}
		while (base_loop_post(o->loop, order_item_fn, &order_items[i]))
			usleep(100);
	}
	return NULL;
}

static void test_enter_keeps_post_order(void **state)
{
	static struct order_ctx o;
	pthread_t th;

	memset(&o, 0, sizeof(o));
	o.loop = loop_new();
	assert_int_equal(pthread_create(&th, NULL, order_main, &o), 0);
	assert_int_equal(base_loop_run(o.loop), 0);
	pthread_join(th, NULL);
	assert_int_equal(o.nseen, ORDER_N);
	for (int i = 0; i < ORDER_N; i++)
		if (o.seen[i] != i)
			fail_msg("item %d ran at position %d", o.seen[i], i);
	assert_true(o.entered >= ORDER_N / 1000);
	base_loop_destroy(o.loop);
}

/* ---- deleting an fd during a batch ---- */

struct evfd {
	struct base_fd f;
	struct evfd *other;
	int calls;
};

static void evfd_cb(struct base_fd *f, uint32_t events)
{
	struct evfd *e = container_of(f, struct evfd, f);
	uint64_t v;

	e->calls++;
	assert_int_equal(read(f->fd, &v, sizeof(v)), sizeof(v));
	/* The first one dispatched removes the other, which is ready in the
	 * same batch: it must not be called. */
	base_loop_del(cur, &e->other->f);
	base_loop_del(cur, &e->f);
	base_loop_stop(cur);
}

static void test_del_during_batch(void **state)
{
	struct evfd a = { 0 }, b = { 0 };
	uint64_t one = 1;

	cur = loop_new();
	a.f.fd = eventfd(0, EFD_NONBLOCK);
	b.f.fd = eventfd(0, EFD_NONBLOCK);
	a.f.cb = b.f.cb = evfd_cb;
	a.other = &b;
	b.other = &a;
	assert_int_equal(base_loop_add(cur, &a.f, EPOLLIN), 0);
	assert_int_equal(base_loop_add(cur, &b.f, EPOLLIN), 0);
	assert_int_equal(write(a.f.fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(b.f.fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(base_loop_run(cur), 0);
	assert_int_equal(a.calls + b.calls, 1);
	assert_int_equal(base_loop_add(cur, &a.f, EPOLLIN), 0);
	assert_int_equal(base_loop_mod(cur, &a.f, EPOLLOUT), 0);
	base_loop_del(cur, &a.f);
	close(a.f.fd);
	close(b.f.fd);
	base_loop_destroy(cur);
}

/* ---- destroy hooks ---- */

static int hook_calls;

static void hook_cb(struct base_loop_hook *h, struct base_loop *loop)
{
	hook_calls++;
}

static void test_destroy_hooks(void **state)
{
	struct base_loop *loop = loop_new();
	struct base_loop_hook h1 = { .cb = hook_cb }, h2 = { .cb = hook_cb };

	hook_calls = 0;
	base_loop_hook_add(loop, &h1);
	base_loop_hook_add(loop, &h2);
	base_loop_hook_del(loop, &h2);
	base_loop_destroy(loop);
	assert_int_equal(hook_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_rearm_zero_no_starvation),
		cmocka_unit_test(test_defer_runs_once_and_chains),
		cmocka_unit_test(test_post_from_other_thread),
		cmocka_unit_test(test_post_many_threads),
		cmocka_unit_test(test_stop_from_other_thread),
		cmocka_unit_test(test_enter_from_other_thread),
		cmocka_unit_test(test_enter_keeps_post_order),
		cmocka_unit_test(test_del_during_batch),
		cmocka_unit_test(test_destroy_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
