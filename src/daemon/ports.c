/*
 * The port-directory channel (PORTS_CHANNEL_ID) in ctgtd: the glue between
 * the cluster service and the pure directory of scsi/port_dir.c.
 *
 *   - Whenever the node becomes ready it submits ANNOUNCE(node id, its
 *     target ports from the configuration: target name, TPG tag, RTPI,
 *     node.port_group, portals).
 *   - apply: an ANNOUNCE counts only when its sender is the node it
 *     announces (mi->from); port_dir_announce() judges it. A CLASH on
 *     this node's own announcement is logged ("RTPI 4 is already node 2's
 *     port ...") and the node refuses to serve: its port group goes
 *     UNAVAILABLE at once and ctgtd shuts down with exit 1 through the
 *     SIGUSR1 path (member.c, main.c), so a supervisor shows the error
 *     instead of a node that looks alive. Other nodes log a warning.
 *   - view: departed nodes' ports become not live (UNAVAILABLE in RTPG).
 *   - save / load / reset: the directory's canonical bytes.
 *   - After every change, the REPORT TARGET PORT GROUPS descriptors are
 *     rebuilt and published to the local SCSI targets
 *     (scsi_target_rtpg_publish): the I/O loops only copy them. Without
 *     readiness every group is reported UNAVAILABLE and this node's own
 *     port group is UNAVAILABLE for commands too (DESIGN.md: a node
 *     without quorum stops serving clustered LUNs).
 *
 * Deliberately not here: the rules of the directory (port_dir.c), the
 * SCSI answer's header (alua.c). Runs only on the control thread.
 */
#include "daemon/ports.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cluster/cluster.h"
#include "daemon/config.h"
#include "iscsi/iscsi.h"
#include "scsi/port_dir.h"
#include "scsi/scsi.h"

/* Other nodes' portals one target lists in SendTargets, at most. */
#define PORTS_REMOTE_MAX 64u

struct ports {
	struct cluster *cluster;
	struct cluster_channel *ch;
	const struct config *cfg;
	struct port_dir *dir;
	struct port_dir *view;        /* scratch: one target's ports */
	struct port_dir_group groups[PORT_DIR_PORTS_MAX];
	uint32_t local;               /* this node's id (0: no view yet) */
	bool ready;
	bool attached;                /* cfg's SCSI targets exist */
	bool refused;                 /* our announcement clashed */
	bool inflight;                /* an ANNOUNCE submit is pending */
	bool again;                   /* ready again while it was */
	size_t msg_len;
	uint8_t msg[PORT_DIR_ANNOUNCE_MAX];
	struct port_dir_announce a;   /* scratch: apply, build, publish */
	uint8_t rtpg[4 + SCSI_RTPG_DESC_MAX];
	struct iscsi_remote_portal remote[PORTS_REMOTE_MAX]; /* scratch */
};

/* The port group this node reports for commands: available when ready
 * and not refused. */
static void ports_local_state(struct ports *p)
{
	bool avail = p->ready && !p->refused;
	unsigned i, changed = 0;

	if (!p->attached)
		return;
	for (i = 0; i < p->cfg->n_targets; i++)
		if (p->cfg->targets[i].iscsi.scsi)
			changed += scsi_target_group_available(
				p->cfg->targets[i].iscsi.scsi,
				p->cfg->port_group, avail);
	if (changed)
		LOG_INFO("ports: port group %u %s (%u port%s)",
			 p->cfg->port_group, avail ? "ACTIVE/OPTIMIZED" :
			 "UNAVAILABLE", changed, changed == 1 ? "" : "s");
}

/* p->view := the directory's ports of target (the SCSI target device
 * that the same name on every node makes), each node's live or not as in
 * the directory. */
static void ports_view_target(struct ports *p, const char *target)
{
	struct port_dir_announce *a = &p->a;
	uint32_t ng, g, k;

	port_dir_reset(p->view);
	ng = port_dir_groups(p->dir, p->groups, PORT_DIR_PORTS_MAX);
	for (g = 0; g < ng && g < PORT_DIR_PORTS_MAX; g++) {
		bool live = false;

		memset(a, 0, sizeof(*a));
		a->node = p->groups[g].node;
		for (k = 0; k < p->groups[g].nports; k++) {
			const struct port_dir_port *pp =
				port_dir_find(p->dir, p->groups[g].rtpis[k]);

			if (!pp || strcmp(pp->target, target) ||
			    a->nports == PORT_DIR_NODE_PORTS_MAX)
				continue;
			a->ports[a->nports++] = *pp;
			live = pp->live;
		}
		if (!a->nports)
			continue;
		/* A subset of a consistent directory: never refused. */
		if (port_dir_announce(p->view, a, NULL) != PORT_DIR_OK)
			continue;
		if (!live)
			port_dir_node_left(p->view, a->node);
	}
}

/* A directory portal ("addr:port" or "[v6]:port", as ports_build writes
 * them) in the fabric's form; false for what it cannot use, a wildcard
 * address included (it says nothing about where the other node is). */
static bool ports_portal_parse(const char *s, struct iscsi_portal_config *pc)
{
	return !config_portal_parse(s, pc) && strcmp(pc->addr, "0.0.0.0") &&
	       strcmp(pc->addr, "::");
}

/* SendTargets through this node lists the live portals other nodes
 * serve the same target on (RFC 7143 Appendix C; DESIGN.md "every node
 * knows every other node's ports"). */
static void ports_publish_remote(struct ports *p, const char *target)
{
	uint32_t n = 0, count = port_dir_count(p->dir);

	for (uint32_t i = 0; i < count; i++) {
		const struct port_dir_port *pp = port_dir_at(p->dir, i);

		if (pp->node == p->local || !pp->live ||
		    strcmp(pp->target, target))
			continue;
		for (uint8_t k = 0; k < pp->nportals && n < PORTS_REMOTE_MAX;
		     k++) {
			if (!ports_portal_parse(pp->portals[k],
						&p->remote[n].portal))
				continue;
			p->remote[n++].tag = pp->tpg_tag;
		}
	}
	if (iscsi_target_remote_set(target, p->remote, n) == -ENOMEM)
		LOG_ERR("ports: %s: out of memory: SendTargets lists only "
			"this node's portals", target);
}

/* Rebuilds each local target's RTPG descriptors and hands them over. A
 * target with no port in the directory (yet) publishes nothing: the core
 * answers with the local ports (their state follows readiness too). */
static void ports_publish(struct ports *p)
{
	uint32_t full;
	unsigned i;
	int n;

	if (!p->attached)
		return;
	for (i = 0; i < p->cfg->n_targets; i++) {
		struct scsi_target *t = p->cfg->targets[i].iscsi.scsi;

		if (!t)
			continue;
		ports_view_target(p, p->cfg->targets[i].iscsi.name);
		ports_publish_remote(p, p->cfg->targets[i].iscsi.name);
		n = 0;
		full = 0;
		if (port_dir_count(p->view))
			n = port_dir_rtpg_build(p->view, 0, 0,
						!p->ready || p->refused,
						p->rtpg, sizeof(p->rtpg),
						&full);
		if (n < 0 || full > sizeof(p->rtpg)) {
			LOG_ERR("ports: %s: REPORT TARGET PORT GROUPS data "
				"does not fit (%u bytes): answering with the "
				"local ports", scsi_target_name(t), full);
			n = 0;
		}
		if (scsi_target_rtpg_publish(t, n > 4 ? p->rtpg + 4 : NULL,
					     n > 4 ? (size_t)n - 4 : 0))
			LOG_ERR("ports: %s: cannot publish the port groups",
				scsi_target_name(t));
	}
}

static void ports_announce_done(void *ctx, int status);
static int ports_build(struct ports *p, uint32_t node);

static void ports_announce(struct ports *p)
{
	int err;

	if (p->refused)
		return;
	if (p->inflight) {
		p->again = true;
		return;
	}
	/* The node id is known from the first view on. */
	p->local = cluster_local_id(p->cluster);
	err = ports_build(p, p->local);
	if (err)
		return;
	err = cluster_submit(p->ch, p->msg, p->msg_len, ports_announce_done,
			     p);
	if (err) {
		/* -EAGAIN: not ready after all; the next readiness retries. */
		if (err != -EAGAIN)
			LOG_WARN("ports: cannot announce this node's ports: %s",
				 strerror(-err));
		return;
	}
	p->inflight = true;
	p->again = false;
}

static void ports_announce_done(void *ctx, int status)
{
	struct ports *p = ctx;

	p->inflight = false;
	if (status == -ESHUTDOWN)
		return;
	if (status && status != -EAGAIN)
		LOG_WARN("ports: announcing this node's ports: %s (retried "
			 "when the node is ready again)", strerror(-status));
	if ((status || p->again) && p->ready)
		ports_announce(p);
}

/* The refusal, in words an operator can act on. */
static void ports_refuse(struct ports *p, const struct port_dir_result *r)
{
	const struct port_dir_port *o = port_dir_find(p->dir, r->rtpi);

	switch (r->verdict) {
	case PORT_DIR_CLASH_RTPI:
		LOG_ERR("ports: RTPI %u is already node %u's port (target %s, "
			"tpg %u): this node's ports are refused; fix the "
			"\"rtpi\" of its portal groups. Not serving: shutting "
			"down", r->rtpi, r->other_node, o ? o->target : "?",
			o ? o->tpg_tag : 0);
		break;
	case PORT_DIR_CLASH_GROUP:
		LOG_ERR("ports: port group %u is already node %u's: this "
			"node's ports are refused; fix node.port_group. Not "
			"serving: shutting down", r->port_group, r->other_node);
		break;
	default:
		LOG_ERR("ports: this node's ports are refused (%s%s%u). Not "
			"serving: shutting down", port_dir_verdict_str(r->verdict),
			r->rtpi ? ", RTPI " : "", r->rtpi);
		break;
	}
	p->refused = true;
	ports_local_state(p);
	kill(getpid(), SIGUSR1);
}

static int ports_apply(void *arg, const struct cluster_msg_info *mi,
		       const void *data, size_t len,
		       struct cluster_apply *token)
{
	struct ports *p = arg;
	struct port_dir_result r;
	int err;

	(void)token;
	err = port_dir_announce_decode(data, len, &p->a);
	if (err) {
		LOG_WARN("ports: undecodable message from node %u (%zu bytes): "
			 "%s; ignored", mi->from, len, strerror(-err));
		return CLUSTER_APPLY_DONE;
	}
	if (p->a.node != mi->from) {
		LOG_WARN("ports: node %u announced ports for node %u; ignored",
			 mi->from, p->a.node);
		return CLUSTER_APPLY_DONE;
	}
	if (port_dir_announce(p->dir, &p->a, &r) != PORT_DIR_OK) {
		if (mi->from == cluster_local_id(p->cluster)) {
			ports_refuse(p, &r);
		} else if (r.verdict == PORT_DIR_CLASH_RTPI) {
			LOG_WARN("ports: node %u's ports refused: RTPI %u is "
				 "already node %u's port", mi->from, r.rtpi,
				 r.other_node);
		} else {
			LOG_WARN("ports: node %u's ports refused: %s (RTPI %u, "
				 "group %u, node %u)", mi->from,
				 port_dir_verdict_str(r.verdict), r.rtpi,
				 r.port_group, r.other_node);
		}
		return CLUSTER_APPLY_DONE;
	}
	LOG_INFO("ports: node %u: %u port%s in port group %u%s", mi->from,
		 p->a.nports, p->a.nports == 1 ? "" : "s",
		 p->a.nports ? p->a.ports[0].port_group : 0,
		 r.evicted ? " (replacing departed nodes' ports)" : "");
	ports_publish(p);
	return CLUSTER_APPLY_DONE;
}

static void ports_view(void *arg, const struct cluster_view *v,
		       const uint32_t *left, uint32_t nleft,
		       const uint32_t *joined, uint32_t njoined)
{
	struct ports *p = arg;
	uint32_t i, n;

	(void)v;
	(void)joined;
	(void)njoined;
	for (i = 0; i < nleft; i++) {
		n = port_dir_node_left(p->dir, left[i]);
		if (n)
			LOG_INFO("ports: node %u left: its %u port%s "
				 "UNAVAILABLE", left[i], n, n == 1 ? "" : "s");
	}
	ports_publish(p);
}

static int ports_save(void *arg, void **data, size_t *len)
{
	struct ports *p = arg;

	return port_dir_save(p->dir, data, len);
}

static int ports_load(void *arg, const void *data, size_t len)
{
	struct ports *p = arg;
	int err = port_dir_load(p->dir, data, len);

	if (err)
		LOG_ERR("ports: the port directory received is refused: %s",
			strerror(-err));
	else
		ports_publish(p);
	return err;
}

static void ports_reset(void *arg)
{
	struct ports *p = arg;

	port_dir_reset(p->dir);
	ports_publish(p);
}

static const struct cluster_channel_ops ports_ops = {
	.id = PORTS_CHANNEL_ID,
	.name = "ports",
	.apply = ports_apply,
	.view = ports_view,
	.save = ports_save,
	.load = ports_load,
	.reset = ports_reset,
};

/* This node's ANNOUNCE from the configuration, as node. */
static int ports_build(struct ports *p, uint32_t node)
{
	const struct config *c = p->cfg;
	struct port_dir_announce *a = &p->a;
	ssize_t n;
	unsigned i, k, j;

	memset(a, 0, sizeof(*a));
	a->node = node;
	for (i = 0; i < c->n_targets; i++) {
		const struct config_target *ct = &c->targets[i];

		for (k = 0; k < ct->iscsi.n_tpgs; k++) {
			const struct iscsi_tpg_config *g = &ct->iscsi.tpgs[k];
			struct port_dir_port *pp;

			if (a->nports == PORT_DIR_NODE_PORTS_MAX) {
				LOG_ERR("ports: this node has more than %u "
					"target ports: the cluster's port "
					"directory cannot hold them",
					PORT_DIR_NODE_PORTS_MAX);
				return -E2BIG;
			}
			pp = &a->ports[a->nports++];
			pp->rtpi = ct->rtpis[k];
			pp->port_group = c->port_group;
			pp->tpg_tag = g->tag;
			snprintf(pp->target, sizeof(pp->target), "%s",
				 ct->iscsi.name);
			/* The first PORT_DIR_PORTALS_MAX portals only. */
			for (j = 0; j < g->n_portals &&
				    j < PORT_DIR_PORTALS_MAX; j++)
				snprintf(pp->portals[j], PORT_DIR_PORTAL_MAX,
					 strchr(g->portals[j].addr, ':') ?
					 "[%s]:%u" : "%s:%u",
					 g->portals[j].addr,
					 g->portals[j].port);
			pp->nportals = (uint8_t)j;
		}
	}
	n = port_dir_announce_encode(a, p->msg, sizeof(p->msg));
	if (n < 0) {
		LOG_ERR("ports: cannot encode this node's ports: %s",
			strerror((int)-n));
		return (int)n;
	}
	p->msg_len = (size_t)n;
	return 0;
}

int ports_open(struct cluster *c, const struct config *cfg,
	       struct ports **out)
{
	struct ports *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	p->cluster = c;
	p->cfg = cfg;
	err = port_dir_create(&p->dir);
	if (!err)
		err = port_dir_create(&p->view);
	if (err)
		goto fail;
	/* Checks now that the configuration fits (the id comes later). */
	err = ports_build(p, 1);
	if (err)
		goto fail;
	err = cluster_channel_open(c, &ports_ops, p, &p->ch);
	if (err) {
		LOG_ERR("ports: cannot open the port directory channel (%u): "
			"%s", PORTS_CHANNEL_ID, strerror(-err));
		goto fail;
	}
	*out = p;
	return 0;
fail:
	port_dir_destroy(p->view);
	port_dir_destroy(p->dir);
	free(p);
	return err;
}

void ports_free(struct ports *p)
{
	if (!p)
		return;
	port_dir_destroy(p->view);
	port_dir_destroy(p->dir);
	free(p);
}

const struct port_dir *ports_dir(const struct ports *p)
{
	return p->dir;
}

void ports_ready(struct ports *p, bool ready)
{
	p->ready = ready;
	ports_local_state(p);
	ports_publish(p);
	if (ready)
		ports_announce(p);
}

void ports_attach(struct ports *p)
{
	p->attached = true;
	ports_local_state(p);
	ports_publish(p);
}
