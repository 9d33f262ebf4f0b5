/*
 * Event loop: epoll, timers, cross-thread posts and same-thread deferrals.
 *
 * Each event-loop thread owns one base_loop and everything registered on it;
 * only base_loop_post() and base_loop_stop() may be called from another
 * thread. Nothing here allocates on the fd/timer path; base_loop_post()
 * allocates one small node (and returns -ENOMEM rather than aborting).
 */
#ifndef CTGT_BASE_LOOP_H
#define CTGT_BASE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"

struct base_loop;

/* An fd watched by a loop; embedded in its owner, which keeps it alive
 * until base_loop_del(). events are EPOLLIN/EPOLLOUT/... */
struct base_fd {
	int fd;
	void (*cb)(struct base_fd *f, uint32_t events);
};

/* A one-shot timer, embedded in its owner. */
struct base_timer {
	uint64_t deadline_ms;
	void (*cb)(struct base_timer *t);
	struct list_head link;
	bool armed;
};

/* Work run by the loop after the current batch of events (same thread).
 * Used to complete a request outside the caller's stack, and to free an
 * object outside its own callback. */
struct base_defer {
	void (*cb)(struct base_defer *d);
	struct list_head link;
	bool queued;
};

int base_loop_create(struct base_loop **out);
void base_loop_destroy(struct base_loop *loop);

/* Runs until base_loop_stop(). Sets the thread's current loop. */
int base_loop_run(struct base_loop *loop);
/* One non-blocking turn: the fds that are ready now, the timers that are
 * due, and the deferrals queued (rounds of them, as in a turn of run).
 * Returns the number of callbacks run (0: nothing was ready) or -errno.
 * For tests that drive several services from one thread step by step
 * (tests/sim). Added later; additive. */
int base_loop_run_ready(struct base_loop *loop);
void base_loop_stop(struct base_loop *loop);            /* any thread */
struct base_loop *base_loop_current(void);              /* NULL off-loop */

int base_loop_add(struct base_loop *loop, struct base_fd *f, uint32_t events);
int base_loop_mod(struct base_loop *loop, struct base_fd *f, uint32_t events);
void base_loop_del(struct base_loop *loop, struct base_fd *f);

void base_timer_init(struct base_timer *t, void (*cb)(struct base_timer *));
void base_timer_start(struct base_loop *loop, struct base_timer *t,
		      uint64_t delay_ms);
void base_timer_stop(struct base_loop *loop, struct base_timer *t);

void base_defer_init(struct base_defer *d, void (*cb)(struct base_defer *));
void base_defer(struct base_loop *loop, struct base_defer *d); /* idempotent */
/* Unqueues d if it is queued (so its owner may free it). Added for the
 * cluster service; nothing that existed before changed. */
void base_defer_cancel(struct base_loop *loop, struct base_defer *d);

/* Runs fn(arg) on loop's thread. Thread-safe. 0 or -ENOMEM. */
int base_loop_post(struct base_loop *loop, void (*fn)(void *arg), void *arg);
/* From another thread, without waiting: true when loop is running and
 * idle (in epoll_wait, nothing posted or deferred waiting: what the
 * caller posted before runs before what it runs entered); until
 * base_loop_leave() the caller may then use
 * what belongs to loop as its thread would (base_loop_current() is loop)
 * and nothing of loop runs. false: loop is busy (or its own thread
 * calls), post instead. What the caller arms or queues on loop runs on
 * loop's thread after the leave. Added for the device channel's
 * submits; nothing that existed before changed. */
bool base_loop_try_enter(struct base_loop *loop);
void base_loop_leave(struct base_loop *loop);

/* Monotonic milliseconds. */
uint64_t base_now_ms(void);

/* Destroy hooks: cb runs inside base_loop_destroy(), before the loop's fds
 * are released, so a per-loop resource kept elsewhere (e.g. the backstore's
 * io_uring for that loop) can base_loop_del() its fd and forget the loop.
 * Same-thread rules as base_loop_add(). Added after the first contract;
 * nothing that existed before changed. */
struct base_loop_hook {
	void (*cb)(struct base_loop_hook *h, struct base_loop *loop);
	struct list_head link;
};

void base_loop_hook_add(struct base_loop *loop, struct base_loop_hook *h);
void base_loop_hook_del(struct base_loop *loop, struct base_loop_hook *h);

#endif
