/*
 * The objects of the target core: targets, target ports, logical units,
 * I_T nexuses and I_T_L nexuses, and the unit attention conditions kept per
 * I_T_L nexus.
 *
 * Everything here runs at configuration or login time, never per command:
 * the I/O path reads the LUN table and a nexus's I_T_L array lock-free
 * (atomic pointers) and only touches the atomic UA mask. This file does not
 * run commands or task sets (task.c) and does not build sense data
 * (sense.c).
 *
 * Task set type. The control mode page reports TST = 001b: every I_T nexus
 * has its own task set per LUN (SAM-5 8.5, SPC-4 7.5.8). Each nexus's tasks
 * run on that nexus's event loop; a task set shared by all nexuses would
 * make ORDERED and HEAD OF QUEUE order tasks of different threads, i.e. a
 * lock or a cross-thread hop on every command. With TST = 001b task set
 * management (CLEAR TASK SET, ORDERED) stays on one thread; only LUN RESET,
 * target resets and PR preemption reach into other nexuses' task sets.
 *
 * Unit attentions established here (SAM-5 5.14, ASC/ASCQ in sense.c):
 *   29/00  POWER ON, RESET, OR BUS DEVICE RESET OCCURRED: every new I_T_L
 *          nexus (the first command of a session sees it; initiators clear
 *          it with TEST UNIT READY) and target warm/cold reset;
 *   29/03  BUS DEVICE RESET FUNCTION OCCURRED: LUN RESET, on every I_T_L
 *          nexus of the LU;
 *   29/07  I_T NEXUS LOSS OCCURRED: instead of 29/00 when an initiator
 *          port whose I_T nexus was lost logs in again through the same
 *          target port (SAM-5 6.3.4; the last SCSI_LOST_PORTS losses are
 *          remembered per target);
 *   2F/00  COMMANDS CLEARED BY ANOTHER INITIATOR: tasks aborted by another
 *          nexus while TAS = 0;
 *   2A/01  MODE PARAMETERS CHANGED: the other I_T nexuses after MODE SELECT;
 *   2A/03, 2A/04, 2A/05  RESERVATIONS PREEMPTED / RELEASED, REGISTRATIONS
 *          PREEMPTED: raised by spc_pr.c on the I_T_L nexuses the PR
 *          engine names (SPC-4 5.14.11), never on the issuing nexus;
 *   2A/09  CAPACITY DATA HAS CHANGED: on resize;
 *   3F/0E  REPORTED LUNS DATA HAS CHANGED: LUN added to or removed from
 *          the target.
 * Priority: the enum order in scsi_internal.h (reset class first). A reset
 * class UA supersedes the pending parameter-change ones of the same I_T_L
 * nexus (SAM-5 5.14: the reset already tells the initiator everything may
 * have changed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backstore/backstore.h"
#include "base/log.h"
#include "scsi/scsi_internal.h"

/* Every LUN of every target, for XCOPY's NAA lookup. */
static pthread_mutex_t scsi_lun_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head scsi_lun_registry = LIST_HEAD_INIT(scsi_lun_registry);

/* UAs that a reset class UA makes redundant. */
#define SCSI_UA_RESET_MASK                                            \
	((1u << SCSI_UA_POWER_ON) | (1u << SCSI_UA_LUN_RESET) |        \
	 (1u << SCSI_UA_NEXUS_LOSS))
#define SCSI_UA_SUPERSEDED_MASK                                       \
	((1u << SCSI_UA_MODE_PARAMS_CHANGED) |                         \
	 (1u << SCSI_UA_CAPACITY_CHANGED) |                            \
	 (1u << SCSI_UA_INQUIRY_DATA_CHANGED) |                        \
	 (1u << SCSI_UA_REPORTED_LUNS_CHANGED) |                       \
	 (1u << SCSI_UA_ASYMMETRIC_ACCESS_CHANGED))

/* --- targets and ports --- */

int scsi_target_create(const char *name, struct scsi_target **out)
{
	struct scsi_target *t;

	if (!name || !*name || strlen(name) >= SCSI_NAME_MAX) {
		LOG_ERR("scsi: invalid target name");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name);
	pthread_mutex_init(&t->lock, NULL);
	list_init(&t->tports);
	list_init(&t->nexuses);
	list_init(&t->luns);
	*out = t;
	return 0;
}

/* Config time: every nexus of the target must be gone. */
void scsi_target_destroy(struct scsi_target *t)
{
	struct scsi_tport *tp, *tpn;
	struct scsi_lun *lu, *lun;

	if (!t)
		return;
	if (!list_empty(&t->nexuses))
		LOG_WARN("scsi: destroying target %s with live nexuses", t->name);
	list_for_each_entry_safe(lu, lun, &t->luns, target_link)
		scsi_lun_destroy(lu);
	list_for_each_entry_safe(tp, tpn, &t->tports, target_link) {
		list_del(&tp->target_link);
		free(tp);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *scsi_target_name(const struct scsi_target *t)
{
	return t->name;
}

int scsi_tport_create(struct scsi_target *t, uint16_t tpg_tag, uint16_t rtpi,
		      uint16_t port_group, struct scsi_tport **out)
{
	struct scsi_tport *tp, *o;
	int rc = 0;

	/* SPC-4 7.8.6.5: relative target port identifier 0 is reserved. */
	if (rtpi == 0) {
		LOG_ERR("scsi: %s: RTPI 0 is reserved", t->name);
		return -EINVAL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	tp->target = t;
	tp->tpg_tag = tpg_tag;
	tp->rtpi = rtpi;
	tp->port_group = port_group;
	atomic_init(&tp->alua_state, ALUA_STATE_ACTIVE_OPTIMIZED);
	/* SPC-4 7.8.6.10, iSCSI: "<target name>,t,0x<TPGT>" */
	snprintf(tp->name, sizeof(tp->name), "%s,t,0x%04x", t->name, tpg_tag);

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(o, &t->tports, target_link) {
		if (o->rtpi == rtpi || o->tpg_tag == tpg_tag) {
			rc = -EEXIST;
			break;
		}
	}
	if (!rc)
		list_add_tail(&t->tports, &tp->target_link);
	pthread_mutex_unlock(&t->lock);
	if (rc) {
		LOG_ERR("scsi: %s: duplicate RTPI %u or TPGT %u", t->name, rtpi,
			tpg_tag);
		free(tp);
		return rc;
	}
	*out = tp;
	return 0;
}

uint16_t scsi_tport_rtpi(const struct scsi_tport *tp)
{
	return tp->rtpi;
}

/* --- unit attentions --- */

void scsi_itl_ua_raise(struct scsi_itl *itl, enum scsi_ua ua)
{
	unsigned bit = 1u << ua;

	if ((unsigned)ua >= SCSI_UA_COUNT)
		return;
	if (bit & SCSI_UA_RESET_MASK)
		atomic_fetch_and(&itl->ua_pending, ~SCSI_UA_SUPERSEDED_MASK);
	atomic_fetch_or(&itl->ua_pending, bit);
}

void scsi_lun_ua_raise_all(struct scsi_lun *lu, enum scsi_ua ua,
			   const struct scsi_nexus *except)
{
	struct scsi_itl *itl;

	pthread_mutex_lock(&lu->itl_lock);
	list_for_each_entry(itl, &lu->itls, lu_link)
		if (itl->nexus != except)
			scsi_itl_ua_raise(itl, ua);
	pthread_mutex_unlock(&lu->itl_lock);
}

void scsi_lun_itl_foreach(struct scsi_lun *lu,
			  void (*fn)(struct scsi_itl *itl, void *arg),
			  void *arg)
{
	struct scsi_itl *itl;

	pthread_mutex_lock(&lu->itl_lock);
	list_for_each_entry(itl, &lu->itls, lu_link)
		fn(itl, arg);
	pthread_mutex_unlock(&lu->itl_lock);
}

int scsi_itl_ua_next(struct scsi_itl *itl, bool clear)
{
	unsigned cur = atomic_load(&itl->ua_pending);
	int ua;

	for (;;) {
		if (!cur)
			return -1;
		ua = __builtin_ctz(cur);
		if (!clear)
			return ua;
		if (atomic_compare_exchange_weak(&itl->ua_pending, &cur,
						 cur & ~(1u << ua)))
			return ua;
	}
}

/* --- I_T_L nexuses --- */

static struct scsi_itl *scsi_itl_alloc(struct scsi_nexus *n,
				       struct scsi_lun *lu, enum scsi_ua ua)
{
	struct scsi_itl *itl = calloc(1, sizeof(*itl));

	if (!itl)
		return NULL;
	itl->nexus = n;
	itl->lu = lu;
	list_init(&itl->tasks);
	list_init(&itl->lu_link);
	/* SAM-5 5.14: a new I_T_L nexus starts with a reset class UA. */
	atomic_init(&itl->ua_pending, 1u << ua);
	return itl;
}

/* SAM-5 6.3.4: I_T nexus loss establishes 29/07 for the initiator port;
 * the initiator sees it when it comes back. Called under t->lock. */
static void scsi_target_lost_add(struct scsi_target *t,
				 const struct scsi_nexus *n)
{
	unsigned i = t->lost_next++ % SCSI_LOST_PORTS;

	snprintf(t->lost[i].port, sizeof(t->lost[i].port), "%s",
		 n->initiator_port);
	t->lost[i].rtpi = n->tport->rtpi;
}

/* Whether n's initiator port lost its I_T nexus to this port (the entry is
 * consumed). Called under t->lock. */
static bool scsi_target_lost_take(struct scsi_target *t,
				  const struct scsi_nexus *n)
{
	for (unsigned i = 0; i < SCSI_LOST_PORTS; i++) {
		if (t->lost[i].rtpi == n->tport->rtpi && t->lost[i].port[0] &&
		    !strcmp(t->lost[i].port, n->initiator_port)) {
			t->lost[i].port[0] = 0;
			return true;
		}
	}
	return false;
}

static void scsi_itl_link(struct scsi_itl *itl)
{
	pthread_mutex_lock(&itl->lu->itl_lock);
	list_add_tail(&itl->lu->itls, &itl->lu_link);
	pthread_mutex_unlock(&itl->lu->itl_lock);
	atomic_store(&itl->nexus->itls[itl->lu->index], itl);
}

static void scsi_itl_unlink_free(struct scsi_itl *itl)
{
	atomic_store(&itl->nexus->itls[itl->lu->index], NULL);
	pthread_mutex_lock(&itl->lu->itl_lock);
	list_del(&itl->lu_link);
	pthread_mutex_unlock(&itl->lu->itl_lock);
	if (!list_empty(&itl->tasks))
		LOG_WARN("scsi: freeing an I_T_L nexus with queued tasks");
	free(itl);
}

/* --- logical units --- */

static bool scsi_lun_naa_zero(const uint8_t *naa)
{
	for (unsigned i = 0; i < 16; i++)
		if (naa[i])
			return false;
	return true;
}

int scsi_lun_create(struct scsi_target *t, const struct scsi_lun_config *cfg,
		    struct scsi_lun **out)
{
	struct scsi_lun *lu;
	struct scsi_nexus *n;
	struct scsi_itl *itl;
	int rc;

	if (cfg->lun_id >= SCSI_LUN_MAX) {
		LOG_ERR("scsi: %s: LUN %llu out of range 0..255", t->name,
			(unsigned long long)cfg->lun_id);
		return -EINVAL;
	}
	if (cfg->block_size != 512 && cfg->block_size != 4096) {
		LOG_ERR("scsi: %s: LUN %llu: block size %u not 512 or 4096",
			t->name, (unsigned long long)cfg->lun_id,
			cfg->block_size);
		return -EINVAL;
	}
	if (!cfg->bs || cfg->nblocks == 0) {
		LOG_ERR("scsi: %s: LUN %llu: no backstore or zero size",
			t->name, (unsigned long long)cfg->lun_id);
		return -EINVAL;
	}
	if (scsi_target_lun(t, (uint32_t)cfg->lun_id)) {
		LOG_ERR("scsi: %s: LUN %llu exists", t->name,
			(unsigned long long)cfg->lun_id);
		return -EEXIST;
	}

	lu = calloc(1, sizeof(*lu));
	if (!lu)
		return -ENOMEM;
	lu->target = t;
	lu->cfg = *cfg;
	lu->bs = cfg->bs;
	lu->block_shift = (uint8_t)__builtin_ctz(cfg->block_size);
	lu->index = (unsigned)cfg->lun_id;
	if (!lu->cfg.vendor[0])
		snprintf(lu->cfg.vendor, sizeof(lu->cfg.vendor), "%s",
			 SCSI_DEFAULT_VENDOR);
	if (!lu->cfg.product[0])
		snprintf(lu->cfg.product, sizeof(lu->cfg.product), "%s",
			 SCSI_DEFAULT_PRODUCT);
	if (!lu->cfg.revision[0])
		snprintf(lu->cfg.revision, sizeof(lu->cfg.revision), "%s",
			 SCSI_DEFAULT_REVISION);
	if (scsi_lun_naa_zero(lu->cfg.naa))
		LOG_WARN("scsi: %s: LUN %u has no NAA identifier", t->name,
			 lu->index);

	/* Mode page defaults (SBC-3 6.4.5, SPC-4 7.5.8): WCE from config,
	 * D_SENSE 0 (fixed format), TAS 1 (others' aborted tasks get TASK
	 * ABORTED status), QErr 00b (no abort on CHECK CONDITION). */
	atomic_init(&lu->wce, cfg->write_cache);
	atomic_init(&lu->d_sense, false);
	atomic_init(&lu->tas, true);
	atomic_init(&lu->qerr, 0);
	atomic_init(&lu->stopped, false);
	atomic_init(&lu->prevent, 0);
	atomic_init(&lu->swp, false);
	pthread_mutex_init(&lu->itl_lock, NULL);
	list_init(&lu->itls);
	list_init(&lu->registry_link);

	rc = scsi_lun_pr_init(lu);
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: PR state: %d", t->name, lu->index,
			rc);
		pthread_mutex_destroy(&lu->itl_lock);
		free(lu);
		return rc;
	}
	rc = sbc_lun_init(lu);
	if (rc) {
		LOG_ERR("scsi: %s: LUN %u: SBC state: %d", t->name, lu->index,
			rc);
		scsi_lun_pr_fini(lu);
		pthread_mutex_destroy(&lu->itl_lock);
		free(lu);
		return rc;
	}

	pthread_mutex_lock(&t->lock);
	/* One I_T_L nexus per existing I_T nexus. */
	list_for_each_entry(n, &t->nexuses, target_link) {
		itl = scsi_itl_alloc(n, lu, SCSI_UA_POWER_ON);
		if (!itl) {
			rc = -ENOMEM;
			break;
		}
		scsi_itl_link(itl);
	}
	if (rc) {
		list_for_each_entry(n, &t->nexuses, target_link) {
			itl = atomic_load(&n->itls[lu->index]);
			if (itl)
				scsi_itl_unlink_free(itl);
		}
		pthread_mutex_unlock(&t->lock);
		sbc_lun_fini(lu);
		scsi_lun_pr_fini(lu);
		pthread_mutex_destroy(&lu->itl_lock);
		free(lu);
		return rc;
	}
	/* SPC-4 6.33: the inventory changed for every existing nexus. */
	for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_lun *o = atomic_load(&t->lun_table[i]);

		if (o)
			scsi_lun_ua_raise_all(o, SCSI_UA_REPORTED_LUNS_CHANGED,
					      NULL);
	}
	list_add_tail(&t->luns, &lu->target_link);
	atomic_store(&t->lun_table[lu->index], lu);
	pthread_mutex_unlock(&t->lock);

	pthread_mutex_lock(&scsi_lun_registry_lock);
	list_add_tail(&scsi_lun_registry, &lu->registry_link);
	pthread_mutex_unlock(&scsi_lun_registry_lock);

	*out = lu;
	return 0;
}

void scsi_lun_destroy(struct scsi_lun *lu)
{
	struct scsi_target *t;
	struct scsi_nexus *n;
	struct scsi_itl *itl;

	if (!lu)
		return;
	t = lu->target;
	pthread_mutex_lock(&scsi_lun_registry_lock);
	list_del(&lu->registry_link);
	pthread_mutex_unlock(&scsi_lun_registry_lock);

	pthread_mutex_lock(&t->lock);
	atomic_store(&t->lun_table[lu->index], NULL);
	list_del(&lu->target_link);
	list_for_each_entry(n, &t->nexuses, target_link) {
		itl = atomic_load(&n->itls[lu->index]);
		if (itl)
			scsi_itl_unlink_free(itl);
	}
	for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
		struct scsi_lun *o = atomic_load(&t->lun_table[i]);

		if (o)
			scsi_lun_ua_raise_all(o, SCSI_UA_REPORTED_LUNS_CHANGED,
					      NULL);
	}
	pthread_mutex_unlock(&t->lock);

	sbc_lun_fini(lu);
	scsi_lun_pr_fini(lu);
	pthread_mutex_destroy(&lu->itl_lock);
	free(lu);
}

int scsi_lun_resize(struct scsi_lun *lu, uint64_t nblocks)
{
	if (nblocks == 0 ||
	    nblocks > bs_size(lu->bs) >> lu->block_shift) {
		LOG_ERR("scsi: %s: LUN %u: cannot resize to %llu blocks",
			lu->target->name, lu->index,
			(unsigned long long)nblocks);
		return -EINVAL;
	}
	/* Handlers on other loops read nblocks without a lock: one atomic
	 * 64-bit store, then the UA. */
	__atomic_store_n(&lu->cfg.nblocks, nblocks, __ATOMIC_RELEASE);
	scsi_lun_ua_raise_all(lu, SCSI_UA_CAPACITY_CHANGED, NULL);
	return 0;
}

uint32_t scsi_lun_id(const struct scsi_lun *lu)
{
	return lu->index;
}

struct scsi_lun *scsi_target_lun(struct scsi_target *t, uint32_t id)
{
	if (id >= SCSI_LUN_MAX)
		return NULL;
	return atomic_load_explicit(&t->lun_table[id], memory_order_acquire);
}

struct scsi_lun *scsi_lun_find_by_naa(const uint8_t *naa, unsigned len)
{
	struct scsi_lun *lu, *found = NULL;

	if (!naa || len == 0 || len > sizeof(lu->cfg.naa))
		return NULL;
	pthread_mutex_lock(&scsi_lun_registry_lock);
	list_for_each_entry(lu, &scsi_lun_registry, registry_link) {
		if (!memcmp(lu->cfg.naa, naa, len)) {
			found = lu;
			break;
		}
	}
	pthread_mutex_unlock(&scsi_lun_registry_lock);
	return found;
}

/* --- I_T nexuses --- */

int scsi_nexus_create(struct scsi_tport *tp, const char *initiator_name,
		      const uint8_t isid[6], struct base_loop *loop,
		      const struct scsi_fabric_ops *ops, void *fabric_priv,
		      struct scsi_nexus **out)
{
	struct scsi_target *t = tp->target;
	struct scsi_nexus *n;
	struct scsi_lun *lu;
	struct scsi_itl *itl;
	enum scsi_ua ua;
	int rc = 0;

	if (!initiator_name || strlen(initiator_name) >= SCSI_NAME_MAX ||
	    !loop)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->target = t;
	n->tport = tp;
	snprintf(n->initiator_name, sizeof(n->initiator_name), "%s",
		 initiator_name);
	memcpy(n->isid, isid, 6);
	/* SPC-4 7.6.4.6: "<name>,i,0x<ISID in 12 hex digits>" */
	snprintf(n->initiator_port, sizeof(n->initiator_port),
		 "%s,i,0x%02x%02x%02x%02x%02x%02x", initiator_name, isid[0],
		 isid[1], isid[2], isid[3], isid[4], isid[5]);
	pr_tid_from_port(&n->pr.tid, initiator_name, isid);
	n->pr.rtpi = tp->rtpi;
	n->loop = loop;
	n->ops = ops;
	n->fabric_priv = fabric_priv;
	atomic_init(&n->refs, 1);
	atomic_init(&n->gone, false);
	list_init(&n->target_link);

	pthread_mutex_lock(&t->lock);
	ua = scsi_target_lost_take(t, n) ? SCSI_UA_NEXUS_LOSS
					 : SCSI_UA_POWER_ON;
	list_for_each_entry(lu, &t->luns, target_link) {
		itl = scsi_itl_alloc(n, lu, ua);
		if (!itl) {
			rc = -ENOMEM;
			break;
		}
		scsi_itl_link(itl);
	}
	if (rc) {
		for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
			itl = atomic_load(&n->itls[i]);
			if (itl)
				scsi_itl_unlink_free(itl);
		}
		pthread_mutex_unlock(&t->lock);
		free(n);
		return rc;
	}
	list_add_tail(&t->nexuses, &n->target_link);
	pthread_mutex_unlock(&t->lock);
	*out = n;
	return 0;
}

void *scsi_nexus_fabric_priv(const struct scsi_nexus *n)
{
	return n->fabric_priv;
}

void scsi_nexus_get(struct scsi_nexus *n)
{
	atomic_fetch_add(&n->refs, 1);
}

void scsi_nexus_put(struct scsi_nexus *n)
{
	if (atomic_fetch_sub(&n->refs, 1) == 1)
		free(n);
}

/* SAM-5 6.3.4 I_T nexus loss: the nexus's I_T_L state goes away and the
 * initiator port is remembered for 29/07. A SCSI-2 reservation held by
 * the nexus ends (SPC-2 5.5.1); persistent reservations and registrations
 * survive (SPC-4 5.14.1). Call on the nexus's loop. A TMF piece may
 * still hold a reference; the memory goes with the last one. */
void scsi_nexus_destroy(struct scsi_nexus *n)
{
	struct scsi_target *t;
	struct scsi_itl *itl;

	if (!n)
		return;
	t = n->target;
	atomic_store(&n->gone, true);
	pthread_mutex_lock(&t->lock);
	list_del(&n->target_link);
	scsi_target_lost_add(t, n);
	for (unsigned i = 0; i < SCSI_LUN_MAX; i++) {
		itl = atomic_load(&n->itls[i]);
		if (!itl)
			continue;
		/* SPC-4 6.18: held copy results belong to the nexus. */
		sbc_xcopy_nexus_lost(itl->lu, n);
		scsi_lun_pr_nexus_lost(itl->lu, n);
		scsi_itl_unlink_free(itl);
	}
	pthread_mutex_unlock(&t->lock);
	scsi_nexus_put(n);
}
