/*
 * The KV store and the lock manager end to end on the single backend,
 * through cluster.h only: KV set / cas / del with versions, watches at
 * apply time, a 100 KiB value, argument errors without callbacks; locks
 * granted in order, waiting and granted on release, cancel, the cache
 * (a re-take with no traffic, a cache-release when a conflicting request
 * waits behind a cached lock), and close firing -ESHUTDOWN exactly once.
 *
 *   +------------------------------------+
 *   | node 1 (single backend), view {1}  |
 *   |   KV channel (1)   lock channel (2)|
 *   |   users: A, B (lock holders)       |
 *   +------------------------------------+
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/loop.h"
#include "cluster/cluster.h"

struct env {
	struct base_loop *loop;
	struct cluster *c;
};

#define RUN_UNTIL(e, cond)                                               \
	do {                                                             \
		int _i;                                                  \
		for (_i = 0; _i < 1000 && !(cond); _i++)                 \
			assert_true(base_loop_run_ready((e)->loop) >= 0); \
		assert_true(cond);                                       \
	} while (0)

/* Turns the loop a few times: for "nothing happens" checks. */
static void env_spin(struct env *e)
{
	for (int i = 0; i < 20; i++)
		assert_true(base_loop_run_ready(e->loop) >= 0);
}

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SINGLE };

	assert_non_null(e);
	assert_int_equal(base_loop_create(&e->loop), 0);
	assert_int_equal(cluster_open(e->loop, &cfg, NULL, &e->c), 0);
	RUN_UNTIL(e, cluster_is_ready(e->c));
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

/* ------------------------------------------------------------------- KV */

struct kv_rec {
	int calls;
	int status;
	uint64_t version;
};

static void kv_done(void *ctx, int status, uint64_t version)
{
	struct kv_rec *r = ctx;
	r->calls++;
	r->status = status;
	r->version = version;
}

struct watch_rec {
	struct cluster_kv_watch w;
	int calls;
	char key[64];
	char val[64];
	bool deleted;
	uint64_t version;
};

static void watch_cb(struct cluster_kv_watch *w, const char *key,
		     const void *val, size_t len, uint64_t version)
{
	struct watch_rec *r = container_of(w, struct watch_rec, w);
	r->calls++;
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->deleted = val == NULL;
	r->val[0] = '\0';
	if (val && len < sizeof(r->val)) {
		memcpy(r->val, val, len);
		r->val[len] = '\0';
	}
	r->version = version;
}

static void t_kv(struct env *e, int rc, struct kv_rec *r)
{
	assert_int_equal(rc, 0);
	assert_int_equal(r->calls, 0);  /* never inside the call */
	RUN_UNTIL(e, r->calls == 1);
}

static void test_kv_end_to_end(void **state)
{
	struct env *e = *state;
	struct kv_rec r = { 0 };
	struct watch_rec wport = { .w = { .prefix = "port/", .cb = watch_cb } };
	struct watch_rec wall = { .w = { .prefix = "", .cb = watch_cb } };
	const void *val;
	size_t len;
	uint64_t v1, ver;

	cluster_kv_watch_add(e->c, &wport.w);
	cluster_kv_watch_add(e->c, &wall.w);
	assert_int_equal(cluster_kv_get(e->c, "port/1", &val, &len, &ver),
			 -ENOENT);

	t_kv(e, cluster_kv_set(e->c, "port/1", "rtpi=1", 6, kv_done, &r), &r);
	assert_int_equal(r.status, 0);
	v1 = r.version;
	assert_true(v1 > 0);
	assert_int_equal(cluster_kv_get(e->c, "port/1", &val, &len, &ver), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(val, "rtpi=1", 6);
	assert_int_equal(ver, v1);
	assert_int_equal(wport.calls, 1);
	assert_string_equal(wport.key, "port/1");
	assert_string_equal(wport.val, "rtpi=1");
	assert_int_equal(wport.version, v1);

	/* other prefix: only the catch-all watch */
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_set(e->c, "node/1", "n", 1, kv_done, &r), &r);
	assert_int_equal(wport.calls, 1);
	assert_int_equal(wall.calls, 2);

	/* CAS: wrong version, then the right one */
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_cas(e->c, "port/1", v1 + 100, "x", 1, kv_done, &r),
	     &r);
	assert_int_equal(r.status, -ECANCELED);
	assert_int_equal(wport.calls, 1);
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_cas(e->c, "port/1", 0, "x", 1, kv_done, &r), &r);
	assert_int_equal(r.status, -ECANCELED);  /* exists */
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_cas(e->c, "port/1", v1, "rtpi=2", 6, kv_done, &r),
	     &r);
	assert_int_equal(r.status, 0);
	assert_true(r.version > v1);
	assert_int_equal(wport.calls, 2);
	assert_string_equal(wport.val, "rtpi=2");
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_cas(e->c, "port/2", 0, "new", 3, kv_done, &r), &r);
	assert_int_equal(r.status, 0);

	/* delete, twice */
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_del(e->c, "port/1", kv_done, &r), &r);
	assert_int_equal(r.status, 0);
	assert_true(wport.deleted);
	assert_int_equal(cluster_kv_get(e->c, "port/1", &val, &len, &ver),
			 -ENOENT);
	int calls = wport.calls;
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_del(e->c, "port/1", kv_done, &r), &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(wport.calls, calls);  /* nothing changed */

	/* a 100 KiB value */
	size_t big = 100 * 1024;
	uint8_t *b = malloc(big);
	for (size_t i = 0; i < big; i++)
		b[i] = (uint8_t)(i ^ (i >> 8));
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_set(e->c, "blob", b, big, kv_done, &r), &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(cluster_kv_get(e->c, "blob", &val, &len, &ver), 0);
	assert_int_equal(len, big);
	assert_memory_equal(val, b, big);
	free(b);

	/* refused up front, no callback */
	char longkey[CLUSTER_KV_KEY_MAX + 2];
	memset(longkey, 'k', sizeof(longkey));
	longkey[sizeof(longkey) - 1] = '\0';
	memset(&r, 0, sizeof(r));
	assert_int_equal(cluster_kv_set(e->c, longkey, "v", 1, kv_done, &r),
			 -EINVAL);
	assert_int_equal(cluster_kv_set(e->c, "", "v", 1, kv_done, &r),
			 -EINVAL);
	assert_int_equal(cluster_kv_set(e->c, "k", "v",
					CLUSTER_KV_VALUE_MAX + 1, kv_done, &r),
			 -EMSGSIZE);
	env_spin(e);
	assert_int_equal(r.calls, 0);

	cluster_kv_watch_del(e->c, &wport.w);
	cluster_kv_watch_del(e->c, &wall.w);
	memset(&r, 0, sizeof(r));
	t_kv(e, cluster_kv_set(e->c, "port/9", "z", 1, kv_done, &r), &r);
	assert_int_equal(wport.calls, calls);

	/* the state bytes hold it */
	void *s;
	size_t sl;
	assert_int_equal(cluster_state_save(e->c, &s, &sl), 0);
	assert_true(sl > big);
	free(s);
}

/* ---------------------------------------------------------------- locks */

struct lk_rec {
	struct cluster_lock lk;
	int calls;
	int status;
};

static void lk_cb(struct cluster_lock *lk, int status)
{
	struct lk_rec *r = container_of(lk, struct lk_rec, lk);
	r->calls++;
	r->status = status;
}

static void lk_init(struct lk_rec *r, const char *name, uint64_t start,
		    uint64_t len, enum cluster_lock_mode mode, unsigned flags)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->lk.name, sizeof(r->lk.name), "%s", name);
	r->lk.start = start;
	r->lk.len = len;
	r->lk.mode = mode;
	r->lk.flags = flags;
	r->lk.cb = lk_cb;
}

static uint64_t submitted(struct env *e)
{
	return cluster_stats_get(e->c)->submitted;
}

static void test_lock_end_to_end(void **state)
{
	struct env *e = *state;
	struct lk_rec a, b, c, d;

	/* A: X [0,8) granted after the loop turns, not inside the call */
	lk_init(&a, "lun0", 0, 8, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	assert_int_equal(a.calls, 0);
	RUN_UNTIL(e, a.calls == 1);
	assert_int_equal(a.status, 0);

	/* B: S [4,12) overlaps: waits; C: X [8,16) adjacent to A but
	 * overlaps the waiting B: waits (FIFO) */
	lk_init(&b, "lun0", 4, 8, CLUSTER_LOCK_SHARED, 0);
	lk_init(&c, "lun0", 8, 8, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	assert_int_equal(cluster_lock_acquire(e->c, &c.lk), 0);
	/* D: X [100,101) unrelated: granted */
	lk_init(&d, "lun0", 100, 1, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &d.lk), 0);
	RUN_UNTIL(e, d.calls == 1);
	env_spin(e);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c.calls, 0);

	/* cancel C while it waits */
	cluster_lock_cancel(e->c, &c.lk);
	assert_int_equal(c.calls, 0);
	RUN_UNTIL(e, c.calls == 1);
	assert_int_equal(c.status, -ECANCELED);

	/* release A: B granted */
	cluster_lock_release(e->c, &a.lk);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, 0);
	cluster_lock_release(e->c, &b.lk);
	cluster_lock_release(e->c, &d.lk);
	env_spin(e);

	/* invalid requests: refused, no callback */
	lk_init(&a, "", 0, 0, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), -EINVAL);
	lk_init(&a, "r", UINT64_MAX, 2, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), -EINVAL);
	lk_init(&a, "r", 0, 0, 7, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), -EINVAL);
	lk_init(&a, "r", 0, 0, CLUSTER_LOCK_SHARED, 0x80);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), -EINVAL);
	env_spin(e);
	assert_int_equal(a.calls, 0);
}

static void test_lock_cache(void **state)
{
	struct env *e = *state;
	struct lk_rec a, b;
	uint64_t n;

	/* A takes X [0,1024) cached, releases: no traffic for the release */
	lk_init(&a, "caw", 0, 1024, CLUSTER_LOCK_EXCLUSIVE, CLUSTER_LOCK_CACHE);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	RUN_UNTIL(e, a.calls == 1);
	n = submitted(e);
	cluster_lock_release(e->c, &a.lk);
	env_spin(e);
	assert_int_equal(submitted(e), n);

	/* re-takes inside the cached range, weaker or equal: no traffic,
	 * callback after the call */
	for (int i = 0; i < 10; i++) {
		lk_init(&b, "caw", (uint64_t)i * 8, 8,
			i % 2 ? CLUSTER_LOCK_SHARED : CLUSTER_LOCK_EXCLUSIVE,
			0);
		assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
		assert_int_equal(b.calls, 0);
		RUN_UNTIL(e, b.calls == 1);
		assert_int_equal(b.status, 0);
		cluster_lock_release(e->c, &b.lk);
	}
	env_spin(e);
	assert_int_equal(submitted(e), n);

	/* outside the cached range: goes to the cluster */
	lk_init(&b, "caw", 2000, 8, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(submitted(e), n + 1);
	cluster_lock_release(e->c, &b.lk);
	env_spin(e);
	n = submitted(e);

	/* A takes it from the cache again and holds it; B asks an
	 * overlapping range: B waits behind the cached entry; when A
	 * releases, the manager gives the cached entry up (cache-release)
	 * and B is granted */
	lk_init(&a, "caw", 0, 8, CLUSTER_LOCK_EXCLUSIVE, CLUSTER_LOCK_CACHE);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	RUN_UNTIL(e, a.calls == 1);
	assert_int_equal(submitted(e), n);
	lk_init(&b, "caw", 4, 8, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	env_spin(e);
	assert_int_equal(b.calls, 0);
	cluster_lock_release(e->c, &a.lk);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, 0);
	assert_int_equal(submitted(e), n + 2); /* B's request, cache-release */

	/* the cache is gone: a re-take goes to the cluster (and waits for
	 * B's S, being X) */
	lk_init(&a, "caw", 0, 8, CLUSTER_LOCK_EXCLUSIVE, CLUSTER_LOCK_CACHE);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	env_spin(e);
	assert_int_equal(a.calls, 0);
	assert_int_equal(submitted(e), n + 3);
	cluster_lock_release(e->c, &b.lk);
	RUN_UNTIL(e, a.calls == 1);
	cluster_lock_release(e->c, &a.lk);

	/* an idle cached entry and a conflicting request: given up at once */
	lk_init(&b, "caw", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, 0);
	cluster_lock_release(e->c, &b.lk);

	/* a cache grant cancelled before its callback: -ECANCELED */
	lk_init(&a, "c2", 0, 0, CLUSTER_LOCK_SHARED, CLUSTER_LOCK_CACHE);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	RUN_UNTIL(e, a.calls == 1);
	cluster_lock_release(e->c, &a.lk);
	lk_init(&b, "c2", 0, 0, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	cluster_lock_cancel(e->c, &b.lk);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, -ECANCELED);
	/* and the cached entry is usable again */
	lk_init(&b, "c2", 0, 0, CLUSTER_LOCK_SHARED, 0);
	n = submitted(e);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, 0);
	assert_int_equal(submitted(e), n);
	cluster_lock_release(e->c, &b.lk);
}

/* A cancel that comes after the grant in the order: the grant wins, the
 * callback fires once with 0, and the lock is released as usual. */
static void test_lock_cancel_raced(void **state)
{
	struct env *e = *state;
	struct lk_rec a, b;

	lk_init(&a, "race", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	cluster_lock_cancel(e->c, &a.lk);  /* request and cancel in flight */
	RUN_UNTIL(e, a.calls == 1);
	env_spin(e);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, 0);
	/* it is held: another request waits until the release */
	lk_init(&b, "race", 0, 0, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	env_spin(e);
	assert_int_equal(b.calls, 0);
	cluster_lock_release(e->c, &a.lk);
	RUN_UNTIL(e, b.calls == 1);
	assert_int_equal(b.status, 0);
	cluster_lock_release(e->c, &b.lk);
}

/* Before the node is ready nothing is sent: -EAGAIN, no callback. */
static void test_not_ready(void **state)
{
	struct base_loop *loop;
	struct cluster *c;
	struct cluster_config cfg = { .backend = CLUSTER_BACKEND_SINGLE };
	struct lk_rec a;
	struct kv_rec r = { 0 };

	(void)state;
	assert_int_equal(base_loop_create(&loop), 0);
	assert_int_equal(cluster_open(loop, &cfg, NULL, &c), 0);
	assert_false(cluster_is_ready(c));
	lk_init(&a, "x", 0, 0, CLUSTER_LOCK_SHARED, 0);
	assert_int_equal(cluster_lock_acquire(c, &a.lk), -EAGAIN);
	assert_int_equal(cluster_kv_set(c, "k", "v", 1, kv_done, &r),
			 -EAGAIN);
	assert_int_equal(cluster_kv_get(c, "k", NULL, NULL, NULL), -ENOENT);
	cluster_close(c);
	base_loop_destroy(loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(r.calls, 0);
}

/* close with a waiting lock and KV ops in flight: each completion fires
 * exactly once with -ESHUTDOWN (ASan catches a second use). */
static void test_close_shutdown(void **state)
{
	struct env *e = *state;
	struct lk_rec a, b;
	struct kv_rec r1 = { 0 }, r2 = { 0 };

	lk_init(&a, "z", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &a.lk), 0);
	RUN_UNTIL(e, a.calls == 1);
	lk_init(&b, "z", 0, 0, CLUSTER_LOCK_EXCLUSIVE, 0);
	assert_int_equal(cluster_lock_acquire(e->c, &b.lk), 0);
	assert_int_equal(cluster_kv_set(e->c, "k", "v", 1, kv_done, &r1), 0);
	RUN_UNTIL(e, r1.calls == 1);
	assert_int_equal(cluster_kv_set(e->c, "k2", "v", 1, kv_done, &r2), 0);
	cluster_close(e->c);
	e->c = NULL;
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.status, -ESHUTDOWN);
	assert_int_equal(a.calls, 1);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.status, -ESHUTDOWN);
	env_spin(e);
	assert_int_equal(b.calls, 1);
	assert_int_equal(r2.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kv_end_to_end, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_lock_end_to_end,
						env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_lock_cache, env_setup,
						env_teardown),
		cmocka_unit_test_setup_teardown(test_lock_cancel_raced,
						env_setup, env_teardown),
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test_setup_teardown(test_close_shutdown, env_setup,
						env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
