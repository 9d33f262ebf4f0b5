/*
 * SendTargets (RFC 7143 Appendix C, 11.10): which targets an initiator may
 * see and at which addresses.
 *
 * Its one job: turn a Text Request's SendTargets key into TargetName and
 * TargetAddress keys. It does not split long answers over several Text
 * Responses, track Text exchanges or decide visibility (the caller's
 * visible() callback holds the ACL); session.c does that.
 */
#include "iscsi/text.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Appendix C: TargetName, then every portal of every portal group as
 * TargetAddress=<domainname|IPv4|[IPv6]>:<port>,<tpgt>. */
static bool iscsi_text_addr_is_wildcard(const char *a)
{
	return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
	       strcmp(a, "0:0:0:0:0:0:0:0") == 0;
}

static void iscsi_text_emit_addr(const char *addr, uint16_t port,
				 uint16_t tag, struct iscsi_kv_buf *out)
{
	bool v6 = strchr(addr, ':') != NULL;

	iscsi_kv_addf(out, "TargetAddress", "%s%s%s:%u,%u", v6 ? "[" : "",
		      addr, v6 ? "]" : "", port, tag);
}

/* This node's portals, then the other cluster nodes' (t->remote). */
static void iscsi_text_emit_target(const struct iscsi_target_config *t,
				   const char *local_addr,
				   struct iscsi_kv_buf *out)
{
	unsigned g, p;

	iscsi_kv_add(out, "TargetName", t->name);
	for (g = 0; g < t->n_tpgs; g++) {
		const struct iscsi_tpg_config *tpg = &t->tpgs[g];

		for (p = 0; p < tpg->n_portals; p++) {
			const struct iscsi_portal_config *pc = &tpg->portals[p];
			const char *addr = pc->addr;

			if (local_addr && local_addr[0] &&
			    iscsi_text_addr_is_wildcard(addr))
				addr = local_addr;
			iscsi_text_emit_addr(addr, pc->port, tpg->tag, out);
		}
	}
	for (p = 0; p < t->n_remote; p++)
		iscsi_text_emit_addr(t->remote[p].portal.addr,
				     t->remote[p].portal.port,
				     t->remote[p].tag, out);
}

static bool iscsi_text_visible(const struct iscsi_target_config *t,
			       int (*visible)(void *,
					      const struct iscsi_target_config *),
			       void *arg)
{
	return t && (!visible || visible(arg, t));
}

int iscsi_text_sendtargets(const uint8_t *req, uint32_t req_len,
			   const struct iscsi_target_config *const *targets,
			   unsigned n_targets,
			   const struct iscsi_target_config *session_target,
			   int (*visible)(void *arg,
					  const struct iscsi_target_config *t),
			   void *arg, struct iscsi_kv_buf *out)
{
	return iscsi_text_sendtargets_local(req, req_len, targets, n_targets,
					    session_target, visible, arg, NULL,
					    out);
}

int iscsi_text_sendtargets_local(
	const uint8_t *req, uint32_t req_len,
	const struct iscsi_target_config *const *targets, unsigned n_targets,
	const struct iscsi_target_config *session_target,
	int (*visible)(void *arg, const struct iscsi_target_config *t),
	void *arg, const char *local_addr, struct iscsi_kv_buf *out)
{
	struct iscsi_kv_iter it;
	const char *key, *value;
	const char *want = NULL;
	bool found = false;
	unsigned i;
	int rc;

	iscsi_kv_iter_init(&it, req, req_len);
	while ((rc = iscsi_kv_next(&it, &key, &value)) != 0) {
		if (rc < 0)
			return -EINVAL;
		if (strcmp(key, "SendTargets") == 0) {
			want = value; /* points into it, valid below */
			found = true;
			break;
		}
	}
	if (!found)
		return -EINVAL;

	if (strcmp(want, "All") == 0) {
		for (i = 0; i < n_targets; i++)
			if (iscsi_text_visible(targets[i], visible, arg))
				iscsi_text_emit_target(targets[i], local_addr,
						       out);
		return 0;
	}
	if (want[0] == '\0') {
		/* Appendix C: the target of this (normal) session */
		if (iscsi_text_visible(session_target, visible, arg))
			iscsi_text_emit_target(session_target, local_addr,
					       out);
		return 0;
	}
	/* iSCSI names compare case-insensitively (RFC 3722 stringprep) */
	for (i = 0; i < n_targets; i++) {
		if (targets[i] && strcasecmp(targets[i]->name, want) == 0) {
			if (iscsi_text_visible(targets[i], visible, arg))
				iscsi_text_emit_target(targets[i], local_addr,
						       out);
			break;
		}
	}
	return 0;
}
