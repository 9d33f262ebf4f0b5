/*
 * The iSCSI fabric's configuration-time face (iscsi.h): global limits with
 * their RFC 7143 defaults, the registry of targets (deep copies of the
 * daemon's configs), the event loops connections are spread over, and the
 * orderly shutdown that waits for every connection to be freed.
 *
 * It holds the only lock of the iSCSI layer; nothing on the I/O path takes
 * it. PDUs, sessions and tasks are handled in conn.c / session.c / cmd.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "iscsi/runtime.h"

#define ISCSI_FABRIC_DEF_MAX_RECV_DSL 8192u     /* RFC 7143 13.12 */
#define ISCSI_FABRIC_DEF_MAX_BURST 262144u      /* 13.13 */
#define ISCSI_FABRIC_DEF_FIRST_BURST 65536u     /* 13.14 */
#define ISCSI_FABRIC_DEF_CMDS 128u
#define ISCSI_FABRIC_DEF_NOP_INTERVAL_S 5u
#define ISCSI_FABRIC_DEF_NOP_TIMEOUT_S 30u
#define ISCSI_FABRIC_MAX_TARGETS 4096u
#define ISCSI_FABRIC_WARN_MS 5000u   /* shutdown progress log */

struct iscsi_fabric iscsi_fabric = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.portals = LIST_HEAD_INIT(iscsi_fabric.portals),
	.sessions = LIST_HEAD_INIT(iscsi_fabric.sessions),
	.next_tsih = 1,
};

int iscsi_init(const struct iscsi_global_config *g, struct base_loop **loops,
	       unsigned n_loops)
{
	struct iscsi_global_config *cfg = &iscsi_fabric.g;
	unsigned i;

	if (iscsi_fabric.inited || !loops || n_loops == 0)
		return -EINVAL;
	iscsi_fabric.loops = calloc(n_loops, sizeof(*iscsi_fabric.loops));
	if (!iscsi_fabric.loops)
		return -ENOMEM;
	for (i = 0; i < n_loops; i++) {
		iscsi_fabric.loops[i].loop = loops[i];
		list_init(&iscsi_fabric.loops[i].conns);
	}
	iscsi_fabric.n_loops = n_loops;
	*cfg = *g;
	if (!cfg->max_recv_dsl)
		cfg->max_recv_dsl = ISCSI_FABRIC_DEF_MAX_RECV_DSL;
	if (!cfg->max_burst)
		cfg->max_burst = ISCSI_FABRIC_DEF_MAX_BURST;
	if (!cfg->first_burst)
		cfg->first_burst = ISCSI_FABRIC_DEF_FIRST_BURST;
	if (!cfg->max_cmds_per_session)
		cfg->max_cmds_per_session = ISCSI_FABRIC_DEF_CMDS;
	if (!cfg->nop_interval_s)
		cfg->nop_interval_s = ISCSI_FABRIC_DEF_NOP_INTERVAL_S;
	if (!cfg->nop_timeout_s)
		cfg->nop_timeout_s = ISCSI_FABRIC_DEF_NOP_TIMEOUT_S;
	iscsi_fabric.shutting_down = false;
	iscsi_fabric.inited = true;
	return 0;
}

static void iscsi_fabric_target_free(struct iscsi_target_config *t)
{
	unsigned i;

	if (!t)
		return;
	if (t->tpgs)
		for (i = 0; i < t->n_tpgs; i++)
			free(t->tpgs[i].portals);
	free(t->tpgs);
	free(t->initiators);
	free(t->remote);
	free(t);
}

static struct iscsi_target_config *iscsi_fabric_target_copy(
	const struct iscsi_target_config *cfg)
{
	struct iscsi_target_config *t = calloc(1, sizeof(*t));
	unsigned i;

	if (!t)
		return NULL;
	*t = *cfg;
	t->tpgs = NULL;
	t->initiators = NULL;
	t->remote = NULL;
	t->n_remote = 0;
	if (cfg->n_initiators) {
		t->initiators = calloc(cfg->n_initiators, sizeof(*t->initiators));
		if (!t->initiators)
			goto fail;
		memcpy(t->initiators, cfg->initiators,
		       cfg->n_initiators * sizeof(*t->initiators));
	}
	if (cfg->n_tpgs) {
		t->tpgs = calloc(cfg->n_tpgs, sizeof(*t->tpgs));
		if (!t->tpgs)
			goto fail;
		for (i = 0; i < cfg->n_tpgs; i++) {
			struct iscsi_tpg_config *g = &t->tpgs[i];

			*g = cfg->tpgs[i];
			g->portals = NULL;
			if (!g->n_portals)
				continue;
			g->portals = calloc(g->n_portals, sizeof(*g->portals));
			if (!g->portals)
				goto fail;
			memcpy(g->portals, cfg->tpgs[i].portals,
			       g->n_portals * sizeof(*g->portals));
			for (unsigned k = 0; k < g->n_portals; k++)
				if (!g->portals[k].port)
					g->portals[k].port = ISCSI_DEFAULT_PORT;
		}
	}
	return t;
fail:
	iscsi_fabric_target_free(t);
	return NULL;
}

int iscsi_target_remote_set(const char *name,
			    const struct iscsi_remote_portal *p, unsigned n)
{
	struct iscsi_remote_portal *copy = NULL, *old = NULL;
	int rc = -ENOENT;

	if (n) {
		copy = calloc(n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, n * sizeof(*copy));
	}
	pthread_mutex_lock(&iscsi_fabric.lock);
	for (unsigned i = 0; i < iscsi_fabric.n_targets; i++) {
		struct iscsi_target_config *t = iscsi_fabric.targets[i];

		if (strcasecmp(t->name, name) != 0)
			continue;
		old = t->remote;
		t->remote = copy;
		t->n_remote = n;
		copy = NULL;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&iscsi_fabric.lock);
	free(old);
	free(copy);
	return rc;
}

int iscsi_target_add(const struct iscsi_target_config *cfg)
{
	struct iscsi_target_config *t, **nt;
	unsigned i, j;
	int rc;

	if (!iscsi_fabric.inited)
		return -EINVAL;
	t = iscsi_fabric_target_copy(cfg);
	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&iscsi_fabric.lock);
	for (i = 0; i < iscsi_fabric.n_targets; i++) {
		if (strcasecmp(iscsi_fabric.targets[i]->name, t->name) == 0) {
			pthread_mutex_unlock(&iscsi_fabric.lock);
			LOG_ERR("iscsi: target %s added twice", t->name);
			iscsi_fabric_target_free(t);
			return -EEXIST;
		}
	}
	if (iscsi_fabric.n_targets >= ISCSI_FABRIC_MAX_TARGETS) {
		pthread_mutex_unlock(&iscsi_fabric.lock);
		iscsi_fabric_target_free(t);
		return -ENOSPC;
	}
	nt = realloc(iscsi_fabric.targets,
		     (iscsi_fabric.n_targets + 1) * sizeof(*nt));
	if (!nt) {
		pthread_mutex_unlock(&iscsi_fabric.lock);
		iscsi_fabric_target_free(t);
		return -ENOMEM;
	}
	iscsi_fabric.targets = nt;
	nt[iscsi_fabric.n_targets++] = t;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	LOG_INFO("iscsi: target %s added", t->name);

	for (i = 0; i < t->n_tpgs; i++) {
		for (j = 0; j < t->tpgs[i].n_portals; j++) {
			rc = iscsi_portal_open(&t->tpgs[i].portals[j]);
			if (rc < 0)
				return rc; /* the target stays, unreachable */
		}
	}
	return 0;
}

bool iscsi_fabric_acl_allows(const struct iscsi_target_config *t,
			     const char *initiator)
{
	unsigned i;

	if (t->open_access)
		return true;
	for (i = 0; i < t->n_initiators; i++)
		if (strcasecmp(t->initiators[i], initiator) == 0)
			return true;
	return false;
}

void iscsi_fabric_conn_gone_locked(void)
{
	if (iscsi_fabric.n_conns > 0)
		iscsi_fabric.n_conns--;
	pthread_cond_broadcast(&iscsi_fabric.cond);
}

void iscsi_shutdown(void)
{
	unsigned i;
	uint64_t next_warn;

	if (!iscsi_fabric.inited)
		return;
	pthread_mutex_lock(&iscsi_fabric.lock);
	iscsi_fabric.shutting_down = true;
	pthread_mutex_unlock(&iscsi_fabric.lock);

	iscsi_portal_close_all();
	for (i = 0; i < iscsi_fabric.n_loops; i++) {
		pthread_mutex_lock(&iscsi_fabric.lock);
		iscsi_fabric.n_loop_posts++;
		pthread_mutex_unlock(&iscsi_fabric.lock);
		if (base_loop_post(iscsi_fabric.loops[i].loop,
				   iscsi_conn_close_loop,
				   &iscsi_fabric.loops[i]) < 0) {
			LOG_ERR("iscsi: cannot post a shutdown to loop %u", i);
			pthread_mutex_lock(&iscsi_fabric.lock);
			iscsi_fabric.n_loop_posts--;
			pthread_mutex_unlock(&iscsi_fabric.lock);
		}
	}

	/* Connections free themselves once the core has returned every
	 * task; wait for all of them, saying so every few seconds. */
	pthread_mutex_lock(&iscsi_fabric.lock);
	next_warn = base_now_ms() + ISCSI_FABRIC_WARN_MS;
	while (iscsi_fabric.n_conns > 0 || iscsi_fabric.n_loop_posts > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&iscsi_fabric.cond, &iscsi_fabric.lock,
				       &ts);
		if (iscsi_fabric.n_conns > 0 && base_now_ms() >= next_warn) {
			LOG_WARN("iscsi: shutdown waiting for %u connections",
				 iscsi_fabric.n_conns);
			next_warn += ISCSI_FABRIC_WARN_MS;
		}
	}
	for (i = 0; i < iscsi_fabric.n_targets; i++)
		iscsi_fabric_target_free(iscsi_fabric.targets[i]);
	free(iscsi_fabric.targets);
	iscsi_fabric.targets = NULL;
	iscsi_fabric.n_targets = 0;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	free(iscsi_fabric.loops);
	iscsi_fabric.loops = NULL;
	iscsi_fabric.n_loops = 0;
	iscsi_fabric.inited = false;
	LOG_INFO("iscsi: shut down");
}
