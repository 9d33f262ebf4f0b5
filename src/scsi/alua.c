/*
 * Asymmetric logical unit access (SPC-4 5.15): REPORT TARGET PORT GROUPS.
 *
 * One target port group per node (DESIGN.md): every target port of the
 * target belongs to its port_group. Groups start ACTIVE/OPTIMIZED; the
 * daemon / cluster code moves a group to another state (e.g. UNAVAILABLE
 * without quorum) with alua_group_set_state(), which is an implicit
 * transition (INQUIRY TPGS = 01b; no SET TARGET PORT GROUPS). alua_check()
 * is the gate that state imposes on commands. Ports are enumerated through
 * alua_target_ports(), which lists this node's ports.
 *
 * In a cluster the answer covers every node's ports: the daemon builds the
 * group descriptors from its port directory (daemon/ports.c) and publishes
 * them with scsi_target_rtpg_publish(); REPORT TARGET PORT GROUPS then
 * copies them under the target's lock and only adds the header. The core
 * does not know where they come from (no cluster header here).
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"

#define ALUA_IMPLICIT_TRANSITION_S 10 /* IMPLICIT TRANSITION TIME, seconds */

unsigned alua_target_ports(struct scsi_target *t, struct alua_port *out,
			   unsigned max)
{
	struct scsi_tport *tp;
	unsigned n = 0;

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(tp, &t->tports, target_link) {
		if (n < max) {
			out[n].rtpi = tp->rtpi;
			out[n].port_group = tp->port_group;
			out[n].state = (uint8_t)atomic_load(&tp->alua_state);
			out[n].local = true;
		}
		n++;
	}
	pthread_mutex_unlock(&t->lock);
	/* TODO(cluster): append the remote nodes' ports. */
	return n;
}

/* The header (SPC-4 6.27, tables 164/165) for fmt over n - hdr bytes of
 * descriptors already in d + hdr; returns n. */
static unsigned alua_rtpg_header(uint8_t *d, uint8_t fmt, unsigned n)
{
	/* RETURN DATA LENGTH: the bytes after the first four. */
	scsi_put_be32(d, n - 4);
	if (fmt == 1) {
		d[4] = 0x10; /* FORMAT TYPE 001b */
		d[5] = ALUA_IMPLICIT_TRANSITION_S;
		d[6] = d[7] = 0;
	}
	return n;
}

/* The cluster-wide descriptors, when the daemon published some: answers
 * and returns true. */
static bool alua_report_published(struct scsi_task *t, uint8_t fmt,
				  uint32_t alloc)
{
	struct scsi_target *tg = t->nexus->target;
	uint8_t d[8 + SCSI_RTPG_DESC_MAX];
	unsigned hdr = fmt == 1 ? 8 : 4, len;

	pthread_mutex_lock(&tg->lock);
	len = tg->rtpg_len;
	if (len)
		memcpy(d + hdr, tg->rtpg, len);
	pthread_mutex_unlock(&tg->lock);
	if (!len)
		return false;
	scsi_task_put_data(t, d, alua_rtpg_header(d, fmt, hdr + len), alloc);
	return true;
}

int scsi_target_rtpg_publish(struct scsi_target *t, const uint8_t *desc,
			     size_t len)
{
	struct scsi_lun *lu;
	bool changed;

	if (len > SCSI_RTPG_DESC_MAX || (len && !desc))
		return -E2BIG;
	pthread_mutex_lock(&t->lock);
	changed = len != t->rtpg_len || (len && memcmp(t->rtpg, desc, len));
	if (len)
		memcpy(t->rtpg, desc, len);
	t->rtpg_len = (uint32_t)len;
	/* Another node's group changed state (it left, it came back) or
	 * the groups themselves changed: an implicit transition seen from
	 * here, so UA 2A/06 on every I_T nexus the LUs have (SPC-4
	 * 5.15.2.6), and multipath initiators read RTPG again. */
	if (changed)
		list_for_each_entry(lu, &t->luns, target_link)
			scsi_lun_ua_raise_all(lu,
					      SCSI_UA_ASYMMETRIC_ACCESS_CHANGED,
					      NULL);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

unsigned scsi_target_group_available(struct scsi_target *t,
				     uint16_t port_group, bool available)
{
	return alua_group_set_state(t, port_group, available ?
				    ALUA_STATE_ACTIVE_OPTIMIZED :
				    ALUA_STATE_UNAVAILABLE);
}

/* SPC-4 6.27, tables 166-168. */
enum scsi_exec alua_report_tpgs(struct scsi_task *t)
{
	struct alua_port pv[64];
	uint32_t alloc = scsi_get_be32(t->cdb + 6);
	uint8_t fmt = t->cdb[1] >> 5;
	uint8_t d[8 + 64 * 12];
	unsigned nports, hdr, n;
	uint16_t groups[64];
	uint8_t states[64];
	unsigned ngroups = 0;

	if (fmt != 0 && fmt != 1) /* length only / extended header */
		return scsi_task_error_cdb(t, 1, 7);
	if (alua_report_published(t, fmt, alloc))
		return SCSI_EXEC_DONE;

	nports = alua_target_ports(t->nexus->target, pv, ARRAY_SIZE(pv));
	if (nports > ARRAY_SIZE(pv))
		nports = ARRAY_SIZE(pv);

	/* The distinct port groups, in first-seen order, with the state of
	 * their first port (all ports of a group share it). */
	for (unsigned i = 0; i < nports; i++) {
		unsigned g;

		for (g = 0; g < ngroups; g++)
			if (groups[g] == pv[i].port_group)
				break;
		if (g == ngroups && ngroups < ARRAY_SIZE(groups)) {
			states[ngroups] = pv[i].state;
			groups[ngroups++] = pv[i].port_group;
		}
	}

	memset(d, 0, sizeof(d));
	hdr = fmt == 1 ? 8 : 4;
	n = hdr;
	for (unsigned g = 0; g < ngroups; g++) {
		uint8_t *p = d + n;
		unsigned count = 0;

		if (n + 8 > sizeof(d))
			break;
		/* PREF 0, ASYMMETRIC ACCESS STATE */
		p[0] = states[g] & 0x0F;
		/* Supported: T_SUP, O_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP */
		p[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
		scsi_put_be16(p + 2, groups[g]);
		p[5] = 0x00; /* STATUS CODE: no status available */
		n += 8;
		for (unsigned i = 0; i < nports && n + 4 <= sizeof(d); i++) {
			if (pv[i].port_group != groups[g])
				continue;
			scsi_put_be16(d + n + 2, pv[i].rtpi);
			n += 4;
			count++;
		}
		p[7] = (uint8_t)count;
	}
	scsi_task_put_data(t, d, alua_rtpg_header(d, fmt, n), alloc);
	return SCSI_EXEC_DONE;
}

unsigned alua_group_set_state(struct scsi_target *t, uint16_t port_group,
			      enum alua_state state)
{
	struct scsi_tport *tp;
	struct scsi_lun *lu;
	unsigned changed = 0;

	pthread_mutex_lock(&t->lock);
	list_for_each_entry(tp, &t->tports, target_link) {
		if (tp->port_group != port_group)
			continue;
		if (atomic_exchange(&tp->alua_state, state) != (unsigned)state)
			changed++;
	}
	/* SPC-4 5.15.2.6: after an implicit transition, UA 2A/06 on every
	 * I_T nexus the LU has. */
	if (changed)
		list_for_each_entry(lu, &t->luns, target_link)
			scsi_lun_ua_raise_all(lu,
					      SCSI_UA_ASYMMETRIC_ACCESS_CHANGED,
					      NULL);
	pthread_mutex_unlock(&t->lock);
	return changed;
}

/* SPC-4 5.15.2.4: which commands a target port serves in each state. */
enum scsi_sense_reason alua_check(const struct scsi_task *t,
				  const struct scsi_opcode *op)
{
	unsigned state = atomic_load_explicit(&t->nexus->tport->alua_state,
					      memory_order_relaxed);

	switch (state) {
	case ALUA_STATE_ACTIVE_OPTIMIZED:
	case ALUA_STATE_ACTIVE_NON_OPTIMIZED:
		return SCSI_SR_OK;
	case ALUA_STATE_STANDBY:
		return op->flags & (SCSI_OPF_ALUA_OK | SCSI_OPF_STANDBY_OK)
			       ? SCSI_SR_OK
			       : SCSI_SR_LU_NOT_READY_STANDBY;
	case ALUA_STATE_TRANSITIONING:
		return op->flags & SCSI_OPF_ALUA_OK
			       ? SCSI_SR_OK
			       : SCSI_SR_NOT_READY_TRANSITIONING;
	default: /* UNAVAILABLE */
		return op->flags & SCSI_OPF_ALUA_OK
			       ? SCSI_SR_OK
			       : SCSI_SR_LU_NOT_READY_UNAVAILABLE;
	}
}
