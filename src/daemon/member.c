/*
 * ctgtd's membership glue: a control thread with its own base_loop that
 * opens the cluster service and the control socket, logs every view and
 * readiness change (one line each), and closes both at shutdown.
 *
 * Choices (docs/config.md, "cluster" and "control"):
 *   - member_start() returns only once the node has its first view (any
 *     view, quorate or not): the backend retries a corosync that is not
 *     up yet; after cluster.join_timeout seconds without a view, or when
 *     the backend cannot start at all, ctgtd exits 1 and a supervisor
 *     restarts it;
 *   - the default control socket failing (held by another live ctgtd,
 *     no rights to /run) is a warning: ctgtd runs without one; an
 *     explicit one (control.socket, -S) failing is an error.
 *
 * With the corosync backend it also runs the port-directory channel
 * (ports.c): opened with the cluster, told of every readiness change;
 * with any backend, the device channel of the clustered LUs (device.c).
 *
 * Deliberately not here: what the control commands do (control_cmd.c),
 * what the port directory does (ports.c).
 */
#include "daemon/member.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "cluster/cluster.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/device.h"
#include "daemon/ports.h"

struct member {
	struct base_loop *loop;
	pthread_t thread;
	bool started;
	struct cluster *cluster;
	struct control *control;
	const struct config *cfg;
	struct ports *ports;          /* corosync backend only */
	struct device *device;        /* NULL: no clustered LU */
	struct control_env env;
	enum cluster_backend_kind backend;
	char group[CONFIG_CLUSTER_GROUP_MAX + 1];
	char socket[CONFIG_CONTROL_SOCKET_MAX + 1];
	bool control_enabled;
	unsigned join_timeout_s;
	bool viewed;                  /* the first view arrived (under lock) */
	bool socket_strict;           /* explicit path: in use is an error */
	struct cluster_notify_handler notify[CONTROL_NOTIFY_TOPICS];
	bool notify_on;
	/* member_start()/member_stop() wait for the loop-side step */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool step_done;
	int step_err;
};

static void member_view_cb(void *arg, const struct cluster_view *v,
			   const uint32_t *left, uint32_t nleft,
			   const uint32_t *joined, uint32_t njoined)
{
	struct member *m = arg;
	char list[1024], ids[256];
	size_t n = 0;
	uint32_t i;
	int r;

	pthread_mutex_lock(&m->lock);
	if (!m->viewed) {
		m->viewed = true;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	list[0] = '\0';
	for (i = 0; i < v->count && n < sizeof(list); i++) {
		r = snprintf(list + n, sizeof(list) - n, "%s%u%s%s",
			     i ? ", " : "", v->members[i].id,
			     v->members[i].name[0] ? " " : "",
			     v->members[i].name);
		n += r > 0 ? (size_t)r : 0;
	}
	ids[0] = '\0';
	n = 0;
	for (i = 0; i < nleft && n < sizeof(ids); i++) {
		r = snprintf(ids + n, sizeof(ids) - n, "%s%u",
			     i ? "," : "; left: ", left[i]);
		n += r > 0 ? (size_t)r : 0;
	}
	for (i = 0; i < njoined && n < sizeof(ids); i++) {
		r = snprintf(ids + n, sizeof(ids) - n, "%s%u",
			     i ? "," : "; joined: ", joined[i]);
		n += r > 0 ? (size_t)r : 0;
	}
	LOG_INFO("cluster: view %llu: %u member%s [%s], %s%s",
		 (unsigned long long)v->seq, v->count,
		 v->count == 1 ? "" : "s", list,
		 v->quorate ? "quorate" : "NOT quorate", ids);
}

static void member_ready_cb(void *arg, bool ready)
{
	struct member *m = arg;

	if (ready)
		LOG_INFO("cluster: ready (node %u)", cluster_local_id(m->cluster));
	else
		LOG_WARN("cluster: not ready (no quorum or state transfer "
			 "pending): clustered state is not served");
	if (m->ports)
		ports_ready(m->ports, ready);
	device_ready(m->device, ready);
}

/* The cluster backend failed for good: a node that can never be ready
 * again must not sit there looking alive. main() takes SIGUSR1 as "shut
 * down cleanly and exit 1", so a supervisor restarts ctgtd. */
static void member_fatal_cb(void *arg, int err)
{
	(void)arg;
	LOG_ERR("cluster: the backend failed (%s): shutting down",
		strerror(-err));
	kill(getpid(), SIGUSR1);
}

/* Admin topics (CONTROL_NOTIFY_TOPIC_FIRST..): each node logs what it
 * got, so a test can see the notify reached every member. */
static int member_notify_cb(struct cluster_notify_handler *h,
			    const struct cluster_msg_info *mi,
			    const void *data, size_t len,
			    struct cluster_apply *token)
{
	const unsigned char *p = data;
	char text[129];
	size_t i;

	(void)token;
	for (i = 0; i < len && i < sizeof(text) - 1; i++)
		text[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	text[i] = '\0';
	LOG_INFO("cluster: notify topic %u from node %u (%zu bytes): %s",
		 h->topic, mi->from, len, text);
	return CLUSTER_APPLY_DONE;
}

static void member_step_end(struct member *m, int err)
{
	pthread_mutex_lock(&m->lock);
	m->step_err = err;
	m->step_done = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static int member_step_wait(struct member *m, void (*fn)(void *), void *arg)
{
	int err;

	pthread_mutex_lock(&m->lock);
	m->step_done = false;
	pthread_mutex_unlock(&m->lock);
	err = base_loop_post(m->loop, fn, arg);
	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	while (!m->step_done)
		pthread_cond_wait(&m->cond, &m->lock);
	err = m->step_err;
	pthread_mutex_unlock(&m->lock);
	return err;
}

static void member_close_all(struct member *m)
{
	unsigned i;

	control_close(m->control);
	if (m->notify_on)
		for (i = 0; i < CONTROL_NOTIFY_TOPICS; i++)
			cluster_notify_unregister(m->cluster, &m->notify[i]);
	m->notify_on = false;
	device_detach(m->device);
	/* Fires what is still outstanding (-ESHUTDOWN), control's too. */
	if (m->cluster)
		cluster_close(m->cluster);
	m->cluster = NULL;
	ports_free(m->ports);   /* its channel closed with the cluster */
	m->ports = NULL;
	device_free(m->device);
	m->device = NULL;
	m->env.cluster = NULL;
	control_free(m->control);
	m->control = NULL;
}

static void member_close_on_loop(void *arg)
{
	struct member *m = arg;

	member_close_all(m);
	member_step_end(m, 0);
}

static void member_open_on_loop(void *arg)
{
	static const struct cluster_events no_events;
	struct member *m = arg;
	struct cluster_config cc = { .backend = m->backend,
				     .group = m->group };
	struct cluster_events ev = no_events;
	const char *bname = config_cluster_backend_name(m->backend);
	unsigned i;
	int err;

	ev.view = member_view_cb;
	ev.ready = member_ready_cb;
	ev.fatal = member_fatal_cb;
	ev.arg = m;
	err = cluster_open(m->loop, &cc, &ev, &m->cluster);
	if (err) {
		if (m->backend == CLUSTER_BACKEND_COROSYNC && err != -ENOTSUP)
			LOG_ERR("cluster: cannot join CPG group \"%s\" through "
				"corosync: %s; is corosync running?", m->group,
				strerror(-err));
		else
			LOG_ERR("cluster: cannot open the %s backend: %s%s",
				bname, strerror(-err), err == -ENOTSUP ?
				" (this ctgtd was built without it)" : "");
		m->cluster = NULL;
		member_step_end(m, err);
		return;
	}
	LOG_INFO("cluster: %s backend, group \"%s\": joining", bname,
		 m->group);
	m->env.cluster = m->cluster;
	for (i = 0; i < CONTROL_NOTIFY_TOPICS; i++) {
		m->notify[i].topic = (uint16_t)(CONTROL_NOTIFY_TOPIC_FIRST + i);
		m->notify[i].cb = member_notify_cb;
		cluster_notify_register(m->cluster, &m->notify[i]);
	}
	m->notify_on = true;
	/* Before the first view, so the channel is there before the node
	 * can become ready (every node registers the same channels). */
	if (m->backend == CLUSTER_BACKEND_COROSYNC) {
		err = ports_open(m->cluster, m->cfg, &m->ports);
		if (err) {
			member_close_all(m);
			member_step_end(m, err);
			return;
		}
	}
	err = device_open(m->cluster, m->cfg, m->ports, &m->device);
	if (err) {
		member_close_all(m);
		member_step_end(m, err);
		return;
	}

	if (!m->control_enabled) {
		member_step_end(m, 0);
		return;
	}
	err = control_open(&m->env, m->socket, &m->control);
	if (err && !m->socket_strict) {
		/* The default path is a convenience: a second ctgtd on the
		 * host, or one run without the rights to /run, still starts. */
		LOG_WARN("control: %s: %s: running without a control socket "
			 "(set control.socket or -S)", m->socket,
			 err == -EADDRINUSE ? "in use by another ctgtd" :
			 strerror(-err));
		m->control = NULL;
		err = 0;
	} else if (err) {
		LOG_ERR("control: cannot listen on %s: %s", m->socket,
			err == -EADDRINUSE ? "another ctgtd answers there" :
			err == -EEXIST ? "a file that is not a socket is in "
			"the way" : strerror(-err));
		m->control = NULL;
		member_close_all(m);
		member_step_end(m, err);
		return;
	} else {
		LOG_INFO("control: listening on %s", m->socket);
	}
	member_step_end(m, 0);
}

static void *member_thread_run(void *arg)
{
	struct member *m = arg;
	int err = base_loop_run(m->loop);

	if (err)
		LOG_ERR("control loop stopped with error: %s", strerror(-err));
	return NULL;
}

static void member_destroy(struct member *m)
{
	if (m->started) {
		base_loop_stop(m->loop);
		pthread_join(m->thread, NULL);
	}
	if (m->loop)
		base_loop_destroy(m->loop);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

/* Waits for the first view: serving before this node knows whether it
 * is in the primary component would serve nothing useful, and a backend
 * that never gets a view (corosync down) is a start failure. */
static int member_view_wait(struct member *m)
{
	uint64_t t0 = base_now_ms(), now;
	uint64_t deadline = t0 + 1000ull * m->join_timeout_s, step;
	struct timespec ts;
	bool said = false;
	int r;

	pthread_mutex_lock(&m->lock);
	while (!m->viewed && (now = base_now_ms()) < deadline) {
		/* Say once, after a moment, what the start waits for. */
		if (!said && now - t0 >= 2000) {
			said = true;
			LOG_INFO("cluster: waiting for the first view (up to "
				 "%u s)", m->join_timeout_s);
		}
		step = deadline - now < 500 ? deadline - now : 500;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(step / 1000);
		ts.tv_nsec += (long)(step % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	}
	r = m->viewed ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&m->lock);
	if (r)
		LOG_ERR("cluster: no membership view after %u s (backend %s, "
			"group \"%s\")%s: not serving", m->join_timeout_s,
			config_cluster_backend_name(m->backend), m->group,
			m->backend == CLUSTER_BACKEND_COROSYNC ?
			"; is corosync running?" : "");
	return r;
}

int member_start(const struct config *c, const char *control_path,
		 struct member **out)
{
	struct member *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->backend = c->cluster.backend;
	m->cfg = c;
	snprintf(m->group, sizeof(m->group), "%s", c->cluster.group);
	m->control_enabled = c->control.enabled || control_path;
	m->join_timeout_s = c->cluster.join_timeout_s;
	m->socket_strict = c->control.socket_set || control_path;
	snprintf(m->socket, sizeof(m->socket), "%s",
		 control_path ? control_path : c->control.socket);
	m->env.backend = config_cluster_backend_name(m->backend);
	m->env.group = m->group;
	m->env.start_ms = base_now_ms();

	err = base_loop_create(&m->loop);
	if (err)
		goto fail;
	m->env.loop = m->loop;
	err = -pthread_create(&m->thread, NULL, member_thread_run, m);
	if (err)
		goto fail;
	m->started = true;
	pthread_setname_np(m->thread, "ctl");
	err = member_step_wait(m, member_open_on_loop, m);
	if (err)
		goto fail;
	err = member_view_wait(m);
	if (err) {
		member_stop(m);
		return err;
	}
	*out = m;
	return 0;
fail:
	member_destroy(m);
	return err;
}

static void member_bye_done(void *arg)
{
	member_step_end(arg, 0);
}

static void member_bye_on_loop(void *arg)
{
	struct member *m = arg;

	device_bye(m->device, member_bye_done, m);
}

void member_stop(struct member *m)
{
	if (!m)
		return;
	/* The sessions are closed: the others need not fence this node. */
	if (member_step_wait(m, member_bye_on_loop, m))
		LOG_ERR("control: cannot reach the control thread to say BYE");
	if (member_step_wait(m, member_close_on_loop, m))
		LOG_ERR("control: cannot reach the control thread to stop it");
	member_destroy(m);
}

static void member_attach_on_loop(void *arg)
{
	struct member *m = arg;

	if (m->ports)
		ports_attach(m->ports);
	member_step_end(m, 0);
}

void member_attach_targets(struct member *m)
{
	if (member_step_wait(m, member_attach_on_loop, m))
		LOG_ERR("ports: cannot reach the control thread");
}

struct base_loop *member_loop(const struct member *m)
{
	return m->loop;
}

struct cluster *member_cluster(const struct member *m)
{
	return m->cluster;
}
