/*
 * Wiring: turns a validated configuration into running objects, in the
 * order the layers depend on each other: backstores, then the SCSI core
 * (targets, target ports, LUNs), then the iSCSI fabric (portals last, so
 * nothing is reachable before it is complete). Teardown runs the other way.
 *
 * No validation happens here beyond what only the running objects can tell
 * (a file's size); no threads or signals (main.c owns them).
 */
#include "daemon/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backstore.h"
#include "base/log.h"
#include "iscsi/iscsi.h"
#include "scsi/scsi.h"

struct wire_lun {
	struct backstore *bs;
	struct scsi_lun *lu;
};

struct wire_target {
	struct scsi_target *scsi;
	struct wire_lun *luns;   /* parallel to config_target.luns */
};

struct wire {
	struct config *c;
	struct wire_target *targets; /* parallel to config.targets */
	bool fabric_up;
};

static void wire_size_format(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
		"PiB" };
	int i;

	for (i = (int)ARRAY_SIZE(units) - 1; i >= 0; i--) {
		uint64_t u = 1ull << (10 * (i + 1));

		if (bytes >= u && bytes % u == 0) {
			snprintf(buf, size, "%" PRIu64 " %s", bytes / u,
				 units[i]);
			return;
		}
	}
	snprintf(buf, size, "%" PRIu64 " bytes", bytes);
}

static int wire_lun_open(struct config_target *ct, unsigned k,
			 struct wire_target *wt)
{
	struct config_lun *l = &ct->luns[k];
	struct scsi_lun_config cfg = l->scsi;
	uint64_t size;
	int err;

	err = bs_open(&l->bs, &wt->luns[k].bs);
	if (err) {
		LOG_ERR("%s LUN %" PRIu64 ": cannot open the %s backstore%s%s: "
			"%s", ct->iscsi.name, cfg.lun_id, l->type,
			l->path ? " " : "", l->path ? l->path : "",
			strerror(-err));
		return err;
	}
	/* O_DIRECT I/O must be aligned to what the store asks for: a
	 * logical block smaller than that would fail every command on it
	 * (e.g. 512-byte blocks on a file system with 4 KiB direct I/O). */
	if (bs_dio_align(wt->luns[k].bs) > cfg.block_size) {
		LOG_ERR("%s LUN %" PRIu64 ": %s%s%s needs %u-byte aligned "
			"direct I/O, more than the %u-byte logical blocks: set "
			"block_size to %u, or backstore.direct to false",
			ct->iscsi.name, cfg.lun_id, l->type, l->path ? " " : "",
			l->path ? l->path : "", bs_dio_align(wt->luns[k].bs),
			cfg.block_size, bs_dio_align(wt->luns[k].bs));
		return -EINVAL;
	}
	size = bs_size(wt->luns[k].bs);
	if (size == 0 || size % cfg.block_size) {
		LOG_ERR("%s LUN %" PRIu64 ": backstore size %" PRIu64 " is not "
			"a non-zero multiple of the block size %u",
			ct->iscsi.name, cfg.lun_id, size, cfg.block_size);
		return -EINVAL;
	}
	/* The size may have come from the file (no "size" in the config). */
	l->scsi.nblocks = size / cfg.block_size;
	cfg.nblocks = l->scsi.nblocks;
	cfg.bs = wt->luns[k].bs;
	err = scsi_lun_create(wt->scsi, &cfg, &wt->luns[k].lu);
	l->lu = err ? NULL : wt->luns[k].lu;
	if (err)
		LOG_ERR("%s LUN %" PRIu64 ": cannot create the LUN: %s",
			ct->iscsi.name, cfg.lun_id, strerror(-err));
	return err;
}

static int wire_target_build(struct wire *w, unsigned i)
{
	struct config_target *ct = &w->c->targets[i];
	struct wire_target *wt = &w->targets[i];
	unsigned k;
	int err;

	wt->luns = calloc(ct->n_luns ? ct->n_luns : 1, sizeof(*wt->luns));
	if (!wt->luns)
		return -ENOMEM;
	err = scsi_target_create(ct->iscsi.name, &wt->scsi);
	if (err) {
		LOG_ERR("%s: cannot create the SCSI target: %s", ct->iscsi.name,
			strerror(-err));
		return err;
	}
	ct->iscsi.scsi = wt->scsi;
	for (k = 0; k < ct->iscsi.n_tpgs; k++) {
		struct iscsi_tpg_config *g = &ct->iscsi.tpgs[k];

		err = scsi_tport_create(wt->scsi, g->tag, ct->rtpis[k],
					w->c->port_group, &g->tport);
		if (err) {
			LOG_ERR("%s: cannot create target port (tag %u, RTPI "
				"%u): %s", ct->iscsi.name, g->tag, ct->rtpis[k],
				strerror(-err));
			return err;
		}
	}
	/* In a cluster the node's port group starts UNAVAILABLE, so nothing
	 * is served before the node is ready: the port directory (ports.c,
	 * member_attach_targets()) makes it ACTIVE/OPTIMIZED then. */
	if (w->c->cluster.backend == CLUSTER_BACKEND_COROSYNC)
		scsi_target_group_available(wt->scsi, w->c->port_group, false);
	for (k = 0; k < ct->n_luns; k++) {
		err = wire_lun_open(ct, k, wt);
		if (err)
			return err;
	}
	return 0;
}

/* Everything but the fabric; safe on a partly built wire. */
static void wire_objects_free(struct wire *w)
{
	unsigned i, k;

	if (!w->targets)
		return;
	for (i = 0; i < w->c->n_targets; i++) {
		struct wire_target *wt = &w->targets[i];
		struct config_target *ct = &w->c->targets[i];

		/* Destroys the target's LUNs and ports as well. */
		scsi_target_destroy(wt->scsi);
		ct->iscsi.scsi = NULL;
		for (k = 0; k < ct->n_luns; k++)
			ct->luns[k].lu = NULL;
		for (k = 0; k < ct->iscsi.n_tpgs; k++)
			ct->iscsi.tpgs[k].tport = NULL;
		for (k = 0; wt->luns && k < ct->n_luns; k++)
			bs_close(wt->luns[k].bs); /* flushes */
		free(wt->luns);
	}
	free(w->targets);
	w->targets = NULL;
}

/* Who may log in, in one line: the first thing to check when a login
 * is refused. */
static void wire_target_log(const struct iscsi_target_config *t)
{
	const struct iscsi_auth_config *a = &t->auth;
	const char *chap = !a->incoming.user[0] ? "no CHAP" :
			   a->chap_required ?
			   (a->outgoing.user[0] ? "mutual CHAP required" :
						  "CHAP required") :
			   "CHAP optional";

	if (t->open_access)
		LOG_INFO("%s: open access, %s", t->name, chap);
	else
		LOG_INFO("%s: %u initiator%s allowed, %s", t->name,
			 t->n_initiators, t->n_initiators == 1 ? "" : "s",
			 chap);
}

int wire_build(struct config *c, struct wire **out)
{
	struct wire *w;
	unsigned i;
	int err = 0;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->targets = calloc(c->n_targets ? c->n_targets : 1,
			    sizeof(*w->targets));
	if (!w->targets) {
		free(w);
		return -ENOMEM;
	}
	for (i = 0; i < c->n_targets && !err; i++)
		err = wire_target_build(w, i);
	if (err) {
		wire_destroy(w);
		return err;
	}
	*out = w;
	return 0;
}

int wire_serve(struct wire *w, struct base_loop **loops, unsigned n_loops)
{
	struct config *c = w->c;
	unsigned i;
	int err;

	err = iscsi_init(&c->iscsi, loops, n_loops);
	if (err) {
		LOG_ERR("cannot start the iSCSI fabric: %s", strerror(-err));
		return err;
	}
	w->fabric_up = true;
	for (i = 0; i < c->n_targets; i++) {
		wire_target_log(&c->targets[i].iscsi);
		err = iscsi_target_add(&c->targets[i].iscsi);
		if (err) {
			LOG_ERR("%s: cannot serve the target (its portals): %s",
				c->targets[i].iscsi.name, strerror(-err));
			wire_stop_fabric(w);
			return err;
		}
	}
	return 0;
}

static void wire_portals_print(const struct iscsi_target_config *t, FILE *f)
{
	unsigned k, j, n = 0;

	for (k = 0; k < t->n_tpgs; k++) {
		for (j = 0; j < t->tpgs[k].n_portals; j++) {
			const struct iscsi_portal_config *p =
				&t->tpgs[k].portals[j];
			bool v6 = strchr(p->addr, ':') != NULL;

			fprintf(f, "%s%s%s%s:%u", n++ ? ", " : "",
				v6 ? "[" : "", p->addr, v6 ? "]" : "",
				p->port);
		}
	}
}

void wire_print_serving(const struct wire *w, FILE *f)
{
	unsigned i, k;

	for (i = 0; i < w->c->n_targets; i++) {
		const struct config_target *ct = &w->c->targets[i];

		fprintf(f, "ctgtd: serving %s on ", ct->iscsi.name);
		wire_portals_print(&ct->iscsi, f);
		for (k = 0; k < ct->n_luns; k++) {
			const struct config_lun *l = &ct->luns[k];
			uint64_t bytes = l->scsi.nblocks * l->scsi.block_size;
			char size[32];

			wire_size_format(bytes, size, sizeof(size));
			fprintf(f, "%s LUN %" PRIu64 ": %s (%" PRIu64 " bytes, "
				"%u-byte blocks%s) %s%s%s", k ? ";" : ",",
				l->scsi.lun_id, size, bytes, l->scsi.block_size,
				l->scsi.readonly ? ", read-only" : "", l->type,
				l->path ? " " : "", l->path ? l->path : "");
		}
		fputc('\n', f);
	}
	fflush(f);
}

void wire_stop_fabric(struct wire *w)
{
	if (!w->fabric_up)
		return;
	iscsi_shutdown();
	w->fabric_up = false;
}

void wire_destroy(struct wire *w)
{
	if (!w)
		return;
	wire_stop_fabric(w);
	wire_objects_free(w);
	free(w);
}
