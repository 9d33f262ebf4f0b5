/*
 * Event loop: one epoll set per thread, plus timers, deferrals and posts.
 *
 * One turn of base_loop_run(): wait in epoll_wait (timeout from the nearest
 * timer, zero when deferrals are queued), dispatch the batch of fd events,
 * fire the timers that are due, then run queued deferrals. Cross-thread
 * work (base_loop_post) and base_loop_stop() wake the loop through an
 * eventfd that sits in the epoll set like any other fd.
 *
 * Entering: the loop's thread holds `turn` while it runs callbacks and
 * lets go of it only in epoll_wait. Another thread that takes it
 * (base_loop_try_enter, never waiting) when nothing is posted or deferred
 * may run the loop's code as if it were the loop's thread: nothing of the
 * loop runs meanwhile, and nothing it was asked to do earlier is left
 * behind. If that code armed a timer or queued a deferral (`changes`),
 * leaving wakes the loop so that its next epoll_wait sees them.
 *
 * Deletion during dispatch: epoll hands back the struct base_fd pointer
 * itself, so base_loop_del() clears any later entry of the current batch
 * that carries the same pointer; an owner may free its object right after
 * base_loop_del(), even from inside a callback of the same batch.
 *
 * Deliberately not here: signals (the daemon uses signalfd or sigwait),
 * priorities, and any allocation on the fd/timer/defer path. Timers are a
 * sorted list: insertion scans from the latest deadline, which is the
 * common case (timeouts are re-armed further into the future), and a
 * target has at most a few timers per connection.
 */
#include "base/loop.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define BASE_LOOP_BATCH 64        /* epoll events per turn */
#define BASE_LOOP_DEFER_ROUNDS 16 /* rounds of deferrals per turn */

struct base_loop_post_node {
	void (*fn)(void *arg);
	void *arg;
	struct list_head link;
};

struct base_loop {
	int epfd;
	struct base_fd wake; /* eventfd: posts and stop requests */
	struct list_head timers; /* armed base_timers, by deadline */
	struct list_head defers; /* queued base_defers, FIFO */
	struct list_head hooks;  /* base_loop_hooks, run at destroy */

	pthread_mutex_t post_lock;
	struct list_head posts; /* base_loop_post_nodes, under post_lock */

	atomic_bool stop_requested;
	bool running;

	pthread_mutex_t turn;     /* held while the loop's code runs */
	unsigned changes;         /* timers armed / deferrals queued */
	unsigned enter_changes;   /* changes when entered */
	struct base_loop *enter_prev; /* the enterer's own current loop */

	/* The batch being dispatched; base_loop_del() clears entries in
	 * [batch_next, batch_count) that point at the deleted fd. */
	struct epoll_event batch[BASE_LOOP_BATCH];
	int batch_next;
	int batch_count;
};

static _Thread_local struct base_loop *base_loop_tls_current;

uint64_t base_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Moves every node of from to the tail of to; from ends up empty. */
static void base_list_splice_tail(struct list_head *to, struct list_head *from)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

static void base_loop_wake_signal(struct base_loop *loop)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the loop is awake anyway. */
	while (write(loop->wake.fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void base_loop_posts_run(struct base_loop *loop)
{
	struct list_head todo;
	struct base_loop_post_node *n, *tmp;

	list_init(&todo);
	pthread_mutex_lock(&loop->post_lock);
	base_list_splice_tail(&todo, &loop->posts);
	pthread_mutex_unlock(&loop->post_lock);

	list_for_each_entry_safe(n, tmp, &todo, link) {
		list_del(&n->link);
		n->fn(n->arg);
		free(n);
	}
}

static void base_loop_wake_cb(struct base_fd *f, uint32_t events)
{
	struct base_loop *loop = container_of(f, struct base_loop, wake);
	uint64_t count;

	while (read(f->fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	base_loop_posts_run(loop);
}

int base_loop_create(struct base_loop **out)
{
	struct base_loop *loop;
	int err;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	list_init(&loop->timers);
	list_init(&loop->defers);
	list_init(&loop->hooks);
	list_init(&loop->posts);
	atomic_init(&loop->stop_requested, false);

	err = pthread_mutex_init(&loop->post_lock, NULL);
	if (err) {
		free(loop);
		return -err;
	}
	err = pthread_mutex_init(&loop->turn, NULL);
	if (err) {
		pthread_mutex_destroy(&loop->post_lock);
		free(loop);
		return -err;
	}
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = -errno;
		goto fail_mutex;
	}
	loop->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake.fd < 0) {
		err = -errno;
		goto fail_epoll;
	}
	loop->wake.cb = base_loop_wake_cb;
	err = base_loop_add(loop, &loop->wake, EPOLLIN);
	if (err)
		goto fail_eventfd;

	*out = loop;
	return 0;

fail_eventfd:
	close(loop->wake.fd);
fail_epoll:
	close(loop->epfd);
fail_mutex:
	pthread_mutex_destroy(&loop->turn);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
	return err;
}

void base_loop_destroy(struct base_loop *loop)
{
	struct base_loop_post_node *n, *tmp;
	unsigned dropped = 0;

	if (!loop)
		return;

	/* Hooks first, while the epoll set still exists. */
	while (!list_empty(&loop->hooks)) {
		struct base_loop_hook *h =
			list_first_entry(&loop->hooks, struct base_loop_hook,
					 link);

		list_del(&h->link);
		h->cb(h, loop);
	}

	list_for_each_entry_safe(n, tmp, &loop->posts, link) {
		list_del(&n->link);
		free(n);
		dropped++;
	}
	if (dropped)
		LOG_WARN("loop destroyed with %u posted callbacks not run",
			 dropped);

	base_loop_del(loop, &loop->wake);
	close(loop->wake.fd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->turn);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
}

struct base_loop *base_loop_current(void)
{
	return base_loop_tls_current;
}

void base_loop_stop(struct base_loop *loop)
{
	atomic_store(&loop->stop_requested, true);
	base_loop_wake_signal(loop);
}

int base_loop_add(struct base_loop *loop, struct base_fd *f, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = f };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0)
		return -errno;
	return 0;
}

int base_loop_mod(struct base_loop *loop, struct base_fd *f, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = f };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, f->fd, &ev) < 0)
		return -errno;
	return 0;
}

void base_loop_del(struct base_loop *loop, struct base_fd *f)
{
	int i;

	/* ENOENT (never added) and EBADF (owner closed first) leave nothing
	 * to undo in the kernel; the batch still must forget f. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, f->fd, NULL);
	for (i = loop->batch_next; i < loop->batch_count; i++)
		if (loop->batch[i].data.ptr == f)
			loop->batch[i].data.ptr = NULL;
}

void base_timer_init(struct base_timer *t, void (*cb)(struct base_timer *))
{
	t->deadline_ms = 0;
	t->cb = cb;
	list_init(&t->link);
	t->armed = false;
}

void base_timer_start(struct base_loop *loop, struct base_timer *t,
		      uint64_t delay_ms)
{
	struct list_head *pos;

	if (t->armed)
		list_del(&t->link);
	t->deadline_ms = base_now_ms() + delay_ms;
	t->armed = true;
	loop->changes++;

	/* Insert after the last timer due no later than t: equal deadlines
	 * fire in start order. */
	for (pos = loop->timers.prev; pos != &loop->timers; pos = pos->prev) {
		struct base_timer *o = list_entry(pos, struct base_timer, link);

		if (o->deadline_ms <= t->deadline_ms)
			break;
	}
	list_insert(&t->link, pos, pos->next);
}

void base_timer_stop(struct base_loop *loop, struct base_timer *t)
{
	if (!t->armed)
		return;
	list_del(&t->link);
	t->armed = false;
}

void base_defer_init(struct base_defer *d, void (*cb)(struct base_defer *))
{
	d->cb = cb;
	list_init(&d->link);
	d->queued = false;
}

void base_defer(struct base_loop *loop, struct base_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	list_add_tail(&loop->defers, &d->link);
	loop->changes++;
}

void base_defer_cancel(struct base_loop *loop, struct base_defer *d)
{
	if (!d->queued)
		return;
	list_del(&d->link);
	d->queued = false;
}

int base_loop_post(struct base_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct base_loop_post_node *n;
	bool was_empty;

	n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->fn = fn;
	n->arg = arg;

	/* The loop takes the whole queue at once under the lock, so only
	 * the post that finds it empty needs to wake the loop. */
	pthread_mutex_lock(&loop->post_lock);
	was_empty = list_empty(&loop->posts);
	list_add_tail(&loop->posts, &n->link);
	pthread_mutex_unlock(&loop->post_lock);

	if (was_empty)
		base_loop_wake_signal(loop);
	return 0;
}

void base_loop_hook_add(struct base_loop *loop, struct base_loop_hook *h)
{
	list_add_tail(&loop->hooks, &h->link);
}

void base_loop_hook_del(struct base_loop *loop, struct base_loop_hook *h)
{
	list_del(&h->link);
}

/* Fires the timers due at the start of this call. A timer re-armed from a
 * callback (even with delay 0) waits for the next turn, so a periodic
 * timer cannot starve the fds. Returns how many fired. */
static int base_loop_timers_run(struct base_loop *loop)
{
	struct list_head due;
	uint64_t now = base_now_ms();
	int fired = 0;

	list_init(&due);
	while (!list_empty(&loop->timers)) {
		struct base_timer *t = list_first_entry(&loop->timers,
							struct base_timer, link);

		if (t->deadline_ms > now)
			break;
		list_del(&t->link);
		list_add_tail(&due, &t->link);
	}
	/* base_timer_stop() from a callback unlinks from 'due' as well. */
	while (!list_empty(&due)) {
		struct base_timer *t = list_first_entry(&due, struct base_timer,
							link);

		list_del(&t->link);
		t->armed = false;
		t->cb(t);
		fired++;
	}
	return fired;
}

/* Runs deferrals, including ones queued by deferrals, for a bounded number
 * of rounds; what is left keeps the next epoll_wait from sleeping. */
static int base_loop_defers_run(struct base_loop *loop)
{
	struct list_head round;
	int i, ran = 0;

	for (i = 0; i < BASE_LOOP_DEFER_ROUNDS && !list_empty(&loop->defers);
	     i++) {
		list_init(&round);
		base_list_splice_tail(&round, &loop->defers);
		while (!list_empty(&round)) {
			struct base_defer *d = list_first_entry(
				&round, struct base_defer, link);

			list_del(&d->link);
			d->queued = false;
			d->cb(d);
			ran++;
		}
	}
	return ran;
}

static int base_loop_timeout_ms(struct base_loop *loop)
{
	struct base_timer *t;
	uint64_t now;

	if (!list_empty(&loop->defers))
		return 0;
	if (list_empty(&loop->timers))
		return -1;
	t = list_first_entry(&loop->timers, struct base_timer, link);
	now = base_now_ms();
	if (t->deadline_ms <= now)
		return 0;
	if (t->deadline_ms - now > INT_MAX)
		return INT_MAX;
	return (int)(t->deadline_ms - now);
}

int base_loop_run(struct base_loop *loop)
{
	struct base_loop *prev = base_loop_tls_current;
	int ret = 0;

	if (loop->running)
		return -EBUSY;
	pthread_mutex_lock(&loop->turn);
	loop->running = true;
	base_loop_tls_current = loop;

	while (!atomic_load(&loop->stop_requested)) {
		int timeout = base_loop_timeout_ms(loop), n;

		pthread_mutex_unlock(&loop->turn);
		n = epoll_wait(loop->epfd, loop->batch, BASE_LOOP_BATCH,
			       timeout);
		pthread_mutex_lock(&loop->turn);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			LOG_ERR("epoll_wait: %s", strerror(errno));
			break;
		}
		loop->batch_count = n;
		for (loop->batch_next = 0; loop->batch_next < n;) {
			struct epoll_event *ev = &loop->batch[loop->batch_next++];
			struct base_fd *f = ev->data.ptr;

			if (f)
				f->cb(f, ev->events);
		}
		loop->batch_count = 0;
		loop->batch_next = 0;

		base_loop_timers_run(loop);
		base_loop_defers_run(loop);
	}

	/* A stop consumed here does not stop the next run. */
	atomic_store(&loop->stop_requested, false);
	base_loop_tls_current = prev;
	loop->running = false;
	pthread_mutex_unlock(&loop->turn);
	return ret;
}

int base_loop_run_ready(struct base_loop *loop)
{
	struct base_loop *prev = base_loop_tls_current;
	int n, ran = 0;

	if (loop->running)
		return -EBUSY;
	pthread_mutex_lock(&loop->turn);
	loop->running = true;
	base_loop_tls_current = loop;

	n = epoll_wait(loop->epfd, loop->batch, BASE_LOOP_BATCH, 0);
	if (n < 0)
		n = 0; /* EINTR: nothing dispatched this turn */
	loop->batch_count = n;
	for (loop->batch_next = 0; loop->batch_next < n;) {
		struct epoll_event *ev = &loop->batch[loop->batch_next++];
		struct base_fd *f = ev->data.ptr;

		if (f) {
			f->cb(f, ev->events);
			ran++;
		}
	}
	loop->batch_count = 0;
	loop->batch_next = 0;
	ran += base_loop_timers_run(loop);
	ran += base_loop_defers_run(loop);

	base_loop_tls_current = prev;
	loop->running = false;
	pthread_mutex_unlock(&loop->turn);
	return ran;
}

bool base_loop_try_enter(struct base_loop *loop)
{
	bool idle;

	if (pthread_mutex_trylock(&loop->turn))
		return false;
	/* Running (or nobody would run what the entered code queues), and
	 * nothing posted or deferred waits: the caller's code must not
	 * overtake its own earlier posts. */
	pthread_mutex_lock(&loop->post_lock);
	idle = loop->running && list_empty(&loop->posts) &&
	       list_empty(&loop->defers);
	pthread_mutex_unlock(&loop->post_lock);
	if (!idle) {
		pthread_mutex_unlock(&loop->turn);
		return false;
	}
	loop->enter_changes = loop->changes;
	loop->enter_prev = base_loop_tls_current;
	base_loop_tls_current = loop;
	return true;
}

void base_loop_leave(struct base_loop *loop)
{
	bool wake = loop->changes != loop->enter_changes;

	base_loop_tls_current = loop->enter_prev;
	pthread_mutex_unlock(&loop->turn);
	if (wake)
		base_loop_wake_signal(loop);
}
