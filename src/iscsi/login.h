/*
 * Login phase (RFC 7143 6, 11.12-11.13) as a pure state machine: one Login
 * Request in, one Login Response out. Security negotiation (None or CHAP,
 * chap.c), operational negotiation (param.c), stage transitions and status
 * classes are all here; sockets, sessions and TSIH allocation are not: the
 * connection (conn.c) feeds PDUs and the session layer binds the result
 * through iscsi_login_env.bind_session.
 */
#ifndef CTGT_ISCSI_LOGIN_H
#define CTGT_ISCSI_LOGIN_H

#include <stdbool.h>
#include <stdint.h>

#include "iscsi/iscsi.h"
#include "iscsi/param.h"
#include "iscsi/pdu.h"

enum iscsi_session_type { ISCSI_SESSION_NORMAL, ISCSI_SESSION_DISCOVERY };

/* What login knows when it reaches full feature phase. */
struct iscsi_login_result {
	enum iscsi_session_type type;
	char initiator_name[224];
	char initiator_alias[256];
	uint8_t isid[6];
	uint16_t tsih;                  /* requested (0 = new session) */
	uint16_t cid;
	uint32_t cmdsn;                 /* CmdSN of the first login request */
	uint32_t exp_statsn;
	const struct iscsi_target_config *target;  /* NULL for discovery */
	const struct iscsi_tpg_config *tpg;        /* the TPG of this portal */
	struct iscsi_params params;     /* negotiated */
};

struct iscsi_login_env {
	/* Target by name, as reachable through the portal the connection came
	 * in on; NULL if none. *tpg is set to that target's TPG. */
	const struct iscsi_target_config *(*find_target)(
		void *arg, const char *name, const struct iscsi_tpg_config **tpg);
	/* Portal group tag of the connection's portal, for discovery sessions. */
	uint16_t portal_tpgt;
	/* Called once, when the final response (T=1, NSG=3) is about to be sent:
	 * creates the session or adds/reinstates one (RFC 7143 6.3.5). Returns
	 * ISCSI_LS_SUCCESS and *tsih, or a login status to fail with. */
	uint16_t (*bind_session)(void *arg, const struct iscsi_login_result *r,
				 uint16_t *tsih);
	void *arg;
	const struct iscsi_global_config *global;  /* limits, discovery auth */
};

struct iscsi_login;

enum iscsi_login_step {
	ISCSI_LOGIN_CONTINUE, /* send rsp, wait for the next request */
	ISCSI_LOGIN_DONE,     /* send rsp, then full feature phase */
	ISCSI_LOGIN_FAIL,     /* send rsp (status class != 0), then close */
};

int iscsi_login_create(const struct iscsi_login_env *env,
		       struct iscsi_login **out);
void iscsi_login_destroy(struct iscsi_login *l);

/*
 * Handles one Login Request (req, with its data segment) and fills rsp:
 * the BHS and a data segment allocated with malloc (rsp->data, freed by the
 * caller). StatSN in the response is left to the caller (conn.c owns it);
 * everything else is filled, including ExpCmdSN/MaxCmdSN from the request.
 * Never fails to produce a response: malformed requests get an initiator
 * error status and ISCSI_LOGIN_FAIL.
 */
enum iscsi_login_step iscsi_login_step(struct iscsi_login *l,
				       const struct iscsi_pdu *req,
				       struct iscsi_pdu *rsp);

/* Valid after ISCSI_LOGIN_DONE. */
const struct iscsi_login_result *iscsi_login_result(const struct iscsi_login *l);

/* Does the leading login r name the existing normal session of initiator
 * + isid through target's portal group tpg? RFC 7143 4.4.3 / 6.3.5: a
 * session is identified by initiator name, ISID, target name and TPGT, so
 * a match (TSIH 0) is a reinstatement, while the same initiator port through
 * another TPG is another session (another I_T nexus, SAM-5 4.6). */
bool iscsi_login_same_session(const struct iscsi_login_result *r,
			      const char *initiator, const uint8_t isid[6],
			      const struct iscsi_target_config *target,
			      const struct iscsi_tpg_config *tpg);

#endif
