/*
 * Text Request handling outside login (RFC 7143 11.10): SendTargets for
 * discovery (and normal) sessions. Pure: the caller supplies the targets.
 */
#ifndef CTGT_ISCSI_TEXT_H
#define CTGT_ISCSI_TEXT_H

#include <stdint.h>

#include "iscsi/iscsi.h"
#include "iscsi/param.h"

/* Builds the response to SendTargets=<value> ("All", a target name, or
 * empty meaning the session's target) into out: TargetName and
 * TargetAddress=<addr>:<port>,<tpgt> keys (RFC 7143 Appendix C). The
 * targets visible are those for which visible(arg, target) is true (ACL).
 * Returns 0, or -EINVAL if request carries no SendTargets key (the caller
 * then answers with an empty response). */
int iscsi_text_sendtargets(const uint8_t *req, uint32_t req_len,
			   const struct iscsi_target_config *const *targets,
			   unsigned n_targets,
			   const struct iscsi_target_config *session_target,
			   int (*visible)(void *arg,
					  const struct iscsi_target_config *t),
			   void *arg, struct iscsi_kv_buf *out);

/* Added by the protocol engineer: as iscsi_text_sendtargets, but a portal
 * configured on a wildcard address (0.0.0.0 or ::) is reported as
 * local_addr, the literal address the Text Request's connection arrived on
 * (from getsockname), since a wildcard is no address an initiator can
 * connect to. local_addr NULL or empty reports portals as configured. */
int iscsi_text_sendtargets_local(
	const uint8_t *req, uint32_t req_len,
	const struct iscsi_target_config *const *targets, unsigned n_targets,
	const struct iscsi_target_config *session_target,
	int (*visible)(void *arg, const struct iscsi_target_config *t),
	void *arg, const char *local_addr, struct iscsi_kv_buf *out);

#endif
