/*
 * The login phase (RFC 7143 6.3, 11.12, 11.13) as a pure state machine:
 * one Login Request in, one Login Response out.
 *
 * Its one job: walk the stages (SecurityNegotiation ->
 * LoginOperationalNegotiation -> full feature phase), check what each
 * request may carry (version, ISID/TSIH, T/C bits, CSG/NSG, who the
 * initiator is and which target it wants), run AuthMethod None or CHAP
 * (chap.c), hand the operational keys to param.c, and at the final
 * transition ask the session layer (env->bind_session) for a TSIH.
 *
 * It deliberately does not touch sockets, StatSN, digests on the wire or
 * session tables: conn.c feeds requests and sends responses, session.c
 * binds. Every failure is a login status in the response (11.13.5), never
 * a crash and never an -errno to the caller.
 */
#include "iscsi/login.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "iscsi/chap.h"

#define ISCSI_LOGIN_TEXT_MAX 65536u /* accumulated text of C=1 requests */
#define ISCSI_LOGIN_VERSION 0x00    /* RFC 7143 11.12.4 */
#define ISCSI_LOGIN_ANY_STAGE (-1)

/* Where AuthMethod/CHAP stand (RFC 7143 12.1.3). */
enum iscsi_login_auth {
	ISCSI_AUTH_START,      /* nothing chosen yet */
	ISCSI_AUTH_CHAP_WAIT_A, /* AuthMethod=CHAP answered, want CHAP_A */
	ISCSI_AUTH_CHAP_WAIT_R, /* challenge sent, want CHAP_N/CHAP_R */
	ISCSI_AUTH_DONE,        /* authenticated (or None) */
};

struct iscsi_login {
	struct iscsi_login_env env;
	struct iscsi_login_result res;
	int stage;                      /* CSG expected next, or ANY */
	bool started;                   /* first complete request handled */
	bool finished;                  /* DONE or FAIL returned */
	bool tpgt_sent;
	bool alias_sent;
	bool have_initiator_name;
	bool have_target_name;
	bool have_session_type;
	char session_type[16];          /* as first sent */
	char target_name[224];          /* as first sent */
	uint32_t first_cmdsn;
	uint16_t bound_tsih;            /* from bind_session */
	uint8_t *text;                  /* accumulated request text (C bit) */
	uint32_t text_len;
	enum iscsi_login_auth auth;
	const struct iscsi_auth_config *auth_cfg;
	struct iscsi_chap chap;
	struct iscsi_neg neg;
};

/* Security keys of one request (12.1.3), owned until the step ends. */
enum iscsi_login_sec_key {
	ISCSI_SEC_AUTHMETHOD,
	ISCSI_SEC_CHAP_A,
	ISCSI_SEC_CHAP_I,
	ISCSI_SEC_CHAP_C,
	ISCSI_SEC_CHAP_N,
	ISCSI_SEC_CHAP_R,
	ISCSI_SEC_N,
};

static const char *const iscsi_login_sec_names[ISCSI_SEC_N] = {
	[ISCSI_SEC_AUTHMETHOD] = "AuthMethod",
	[ISCSI_SEC_CHAP_A] = "CHAP_A",
	[ISCSI_SEC_CHAP_I] = "CHAP_I",
	[ISCSI_SEC_CHAP_C] = "CHAP_C",
	[ISCSI_SEC_CHAP_N] = "CHAP_N",
	[ISCSI_SEC_CHAP_R] = "CHAP_R",
};

struct iscsi_login_sec {
	char *v[ISCSI_SEC_N];
};

static const struct iscsi_global_config iscsi_login_no_global;

int iscsi_login_create(const struct iscsi_login_env *env,
		       struct iscsi_login **out)
{
	struct iscsi_login *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->env = *env;
	if (!l->env.global)
		l->env.global = &iscsi_login_no_global;
	l->stage = ISCSI_LOGIN_ANY_STAGE;
	l->res.type = ISCSI_SESSION_NORMAL;
	iscsi_params_default(&l->res.params);
	*out = l;
	return 0;
}

void iscsi_login_destroy(struct iscsi_login *l)
{
	if (!l)
		return;
	free(l->text);
	/* the challenge is not secret, but leave nothing behind */
	memset(&l->chap, 0, sizeof(l->chap));
	free(l);
}

const struct iscsi_login_result *iscsi_login_result(const struct iscsi_login *l)
{
	return &l->res;
}

bool iscsi_login_same_session(const struct iscsi_login_result *r,
			      const char *initiator, const uint8_t isid[6],
			      const struct iscsi_target_config *target,
			      const struct iscsi_tpg_config *tpg)
{
	/* iSCSI names compare case-insensitively (RFC 3722 stringprep
	 * folds case); TPGs by tag within the same target. */
	return r->type == ISCSI_SESSION_NORMAL && r->target && r->tpg &&
	       r->target == target && tpg && r->tpg->tag == tpg->tag &&
	       memcmp(r->isid, isid, 6) == 0 &&
	       strcasecmp(r->initiator_name, initiator) == 0;
}

/* ------------------------------------------------------------------ */
/* responses */

/* 11.13: the header of every response; status and flags set by caller. */
static void iscsi_login_rsp_init(const struct iscsi_login *l,
				 const struct iscsi_pdu *req,
				 struct iscsi_pdu *rsp)
{
	const uint8_t *q = req->bhs;
	uint8_t *b = rsp->bhs;
	uint32_t cmdsn = iscsi_bhs_cmdsn(q);

	memset(rsp, 0, sizeof(*rsp));
	b[0] = ISCSI_OP_LOGIN_RSP;
	b[1] = (uint8_t)(ISCSI_LOGIN_CSG(q[1]) << 2);
	b[2] = ISCSI_LOGIN_VERSION; /* VersionMax */
	b[3] = ISCSI_LOGIN_VERSION; /* VersionActive */
	memcpy(b + 8, q + 8, 6);    /* ISID */
	memcpy(b + 14, q + 14, 2);  /* TSIH as requested until bound */
	memcpy(b + 16, q + 16, 4);  /* ITT */
	/* StatSN (24) is conn.c's; login requests are immediate, so the
	 * window is the request's CmdSN (RFC 7143 11.13.4). */
	iscsi_put_be32(b + 28, cmdsn);
	iscsi_put_be32(b + 32, cmdsn);
	(void)l;
}

static enum iscsi_login_step iscsi_login_fail(struct iscsi_login *l,
					      const struct iscsi_pdu *req,
					      struct iscsi_pdu *rsp,
					      uint16_t status)
{
	iscsi_login_rsp_init(l, req, rsp);
	rsp->bhs[36] = (uint8_t)(status >> 8);
	rsp->bhs[37] = (uint8_t)status;
	l->finished = true;
	LOG_DEBUG("iscsi login: %s fails with status 0x%04x",
		 l->res.initiator_name[0] ? l->res.initiator_name : "initiator",
		 status);
	return ISCSI_LOGIN_FAIL;
}

/* ------------------------------------------------------------------ */
/* who logs in where (6.3, 13.4, 13.5, 13.21) */

static bool iscsi_login_acl_allows(const struct iscsi_target_config *t,
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

/* A login key may come again later (libiscsi repeats InitiatorName in the
 * operational stage) but never with another value (6.2). */
static uint16_t iscsi_login_set_once(bool *have, char *dst, size_t cap,
				     const char *value)
{
	if (*have)
		return strcmp(dst, value) == 0 ? ISCSI_LS_SUCCESS :
						 ISCSI_LS_INITIATOR_ERROR;
	if (strlen(value) >= cap)
		return ISCSI_LS_INITIATOR_ERROR;
	memcpy(dst, value, strlen(value) + 1);
	*have = true;
	return ISCSI_LS_SUCCESS;
}

/* Pass 1 over the text: the keys that say who and what. */
static uint16_t iscsi_login_scan_identity(struct iscsi_login *l)
{
	struct iscsi_kv_iter it;
	const char *key, *value;
	bool alias_seen = false;
	uint16_t st = ISCSI_LS_SUCCESS;
	int rc;

	iscsi_kv_iter_init(&it, l->text, l->text_len);
	while (st == ISCSI_LS_SUCCESS &&
	       (rc = iscsi_kv_next(&it, &key, &value)) != 0) {
		if (rc < 0)
			return ISCSI_LS_INITIATOR_ERROR;
		if (strcmp(key, "InitiatorName") == 0) {
			if (!value[0])
				return ISCSI_LS_INITIATOR_ERROR;
			st = iscsi_login_set_once(&l->have_initiator_name,
						  l->res.initiator_name,
						  sizeof(l->res.initiator_name),
						  value);
		} else if (strcmp(key, "TargetName") == 0) {
			if (!value[0])
				return ISCSI_LS_INITIATOR_ERROR;
			st = iscsi_login_set_once(&l->have_target_name,
						  l->target_name,
						  sizeof(l->target_name), value);
		} else if (strcmp(key, "SessionType") == 0) {
			st = iscsi_login_set_once(&l->have_session_type,
						  l->session_type,
						  sizeof(l->session_type), value);
			if (st != ISCSI_LS_SUCCESS)
				return ISCSI_LS_SESSION_TYPE_UNSUPPORTED;
			if (strcmp(value, "Discovery") == 0)
				l->res.type = ISCSI_SESSION_DISCOVERY;
			else if (strcmp(value, "Normal") == 0)
				l->res.type = ISCSI_SESSION_NORMAL;
			else
				return ISCSI_LS_SESSION_TYPE_UNSUPPORTED;
		} else if (strcmp(key, "InitiatorAlias") == 0) {
			if (alias_seen)
				return ISCSI_LS_INITIATOR_ERROR;
			alias_seen = true;
			snprintf(l->res.initiator_alias,
				 sizeof(l->res.initiator_alias), "%s", value);
		}
	}
	return st;
}

/* After the first complete request: the session's identity is fixed. */
static uint16_t iscsi_login_resolve(struct iscsi_login *l)
{
	const struct iscsi_target_config *t;
	const struct iscsi_tpg_config *tpg = NULL;

	/* 13.4 / 6.3: InitiatorName always, TargetName for normal sessions */
	if (!l->have_initiator_name)
		return ISCSI_LS_MISSING_PARAMETER;
	if (l->res.type == ISCSI_SESSION_DISCOVERY) {
		l->auth_cfg = &l->env.global->discovery_auth;
		return ISCSI_LS_SUCCESS;
	}
	if (!l->have_target_name)
		return ISCSI_LS_MISSING_PARAMETER;
	t = l->env.find_target ? l->env.find_target(l->env.arg,
						    l->target_name, &tpg) :
				 NULL;
	if (!t)
		return ISCSI_LS_NOT_FOUND;
	if (!iscsi_login_acl_allows(t, l->res.initiator_name))
		return ISCSI_LS_AUTHORIZATION_FAILED;
	l->res.target = t;
	l->res.tpg = tpg;
	l->auth_cfg = &t->auth;
	return ISCSI_LS_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* security (12.1) */

static void iscsi_login_sec_free(struct iscsi_login_sec *s)
{
	unsigned i;

	for (i = 0; i < ISCSI_SEC_N; i++)
		free(s->v[i]);
}

static int iscsi_login_sec_index(const char *key)
{
	unsigned i;

	for (i = 0; i < ISCSI_SEC_N; i++)
		if (strcmp(iscsi_login_sec_names[i], key) == 0)
			return (int)i;
	return -1;
}

/* 6.2.1, 13.x AuthMethod: the first value of the initiator's list that we
 * support. CHAP when credentials are configured, None unless CHAP is
 * required. Returns NULL if there is no common value. */
static const char *iscsi_login_auth_select(const char *list,
					   const struct iscsi_auth_config *a)
{
	const char *p = list;

	while (p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (n == 4 && strncmp(p, "CHAP", 4) == 0 && a->incoming.user[0])
			return "CHAP";
		if (n == 4 && strncmp(p, "None", 4) == 0 && !a->chap_required)
			return "None";
		p = comma ? comma + 1 : NULL;
	}
	return NULL;
}

/* Runs the authentication step for this request's security keys.
 * Returns a login status (nonzero to fail). */
static uint16_t iscsi_login_authenticate(struct iscsi_login *l,
					 struct iscsi_login_sec *s,
					 struct iscsi_kv_buf *out)
{
	const struct iscsi_auth_config *a = l->auth_cfg;

	if (l->auth == ISCSI_AUTH_START) {
		const char *m = s->v[ISCSI_SEC_AUTHMETHOD];
		const char *pick;

		if (!m) {
			/* nothing offered yet: decided at transit time */
			return ISCSI_LS_SUCCESS;
		}
		pick = iscsi_login_auth_select(m, a);
		if (!pick)
			return ISCSI_LS_AUTH_FAILED; /* 12.1: no common method */
		iscsi_kv_add(out, "AuthMethod", pick);
		if (strcmp(pick, "None") == 0) {
			l->auth = ISCSI_AUTH_DONE;
			return ISCSI_LS_SUCCESS;
		}
		l->auth = ISCSI_AUTH_CHAP_WAIT_A;
	} else if (s->v[ISCSI_SEC_AUTHMETHOD]) {
		/* 6.2: AuthMethod negotiated twice */
		return ISCSI_LS_INITIATOR_ERROR;
	}

	if (l->auth == ISCSI_AUTH_CHAP_WAIT_A) {
		if (!s->v[ISCSI_SEC_CHAP_A])
			return s->v[ISCSI_SEC_CHAP_N] || s->v[ISCSI_SEC_CHAP_R] ?
				       ISCSI_LS_AUTH_FAILED :
				       ISCSI_LS_SUCCESS;
		if (iscsi_chap_start(&l->chap, s->v[ISCSI_SEC_CHAP_A], out) < 0)
			return ISCSI_LS_AUTH_FAILED;
		l->auth = ISCSI_AUTH_CHAP_WAIT_R;
		return ISCSI_LS_SUCCESS;
	}

	if (l->auth == ISCSI_AUTH_CHAP_WAIT_R) {
		if (s->v[ISCSI_SEC_CHAP_A])
			return ISCSI_LS_INITIATOR_ERROR;
		if (!s->v[ISCSI_SEC_CHAP_N] || !s->v[ISCSI_SEC_CHAP_R])
			return ISCSI_LS_AUTH_FAILED;
		if (iscsi_chap_verify(&l->chap, a, s->v[ISCSI_SEC_CHAP_N],
				      s->v[ISCSI_SEC_CHAP_R],
				      s->v[ISCSI_SEC_CHAP_I],
				      s->v[ISCSI_SEC_CHAP_C], out) < 0)
			return ISCSI_LS_AUTH_FAILED;
		l->auth = ISCSI_AUTH_DONE;
		return ISCSI_LS_SUCCESS;
	}

	/* ISCSI_AUTH_DONE: no more CHAP keys expected */
	for (unsigned i = ISCSI_SEC_CHAP_A; i < ISCSI_SEC_N; i++)
		if (s->v[i])
			return ISCSI_LS_INITIATOR_ERROR;
	return ISCSI_LS_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* one complete request */

/* Pass 2: security and operational keys. */
static uint16_t iscsi_login_scan_keys(struct iscsi_login *l, int csg,
				      struct iscsi_login_sec *s,
				      struct iscsi_kv_buf *out)
{
	struct iscsi_kv_iter it;
	const char *key, *value;
	uint16_t status = ISCSI_LS_SUCCESS;
	int rc, idx;

	iscsi_kv_iter_init(&it, l->text, l->text_len);
	while ((rc = iscsi_kv_next(&it, &key, &value)) != 0) {
		if (rc < 0)
			return ISCSI_LS_INITIATOR_ERROR;
		if (strcmp(key, "InitiatorName") == 0 ||
		    strcmp(key, "TargetName") == 0 ||
		    strcmp(key, "SessionType") == 0 ||
		    strcmp(key, "InitiatorAlias") == 0)
			continue; /* pass 1 */
		idx = iscsi_login_sec_index(key);
		if (idx >= 0) {
			/* 12.1: security keys only in the security stage */
			if (csg != ISCSI_STAGE_SECURITY || s->v[idx])
				return ISCSI_LS_INITIATOR_ERROR;
			s->v[idx] = strdup(value);
			if (!s->v[idx])
				return ISCSI_LS_OUT_OF_RESOURCES;
			continue;
		}
		switch (iscsi_neg_key(&l->neg, key, value, out, &status)) {
		case ISCSI_NEG_OK:
			break;
		case ISCSI_NEG_FAIL:
			return status;
		case ISCSI_NEG_NOT_OPERATIONAL:
			/* e.g. SendTargets during login (6.2) */
			iscsi_kv_add(out, key, "Irrelevant");
			break;
		}
	}
	iscsi_neg_settle(&l->neg);
	return ISCSI_LS_SUCCESS;
}

/* Declarations the target makes once per login (13.9, 13.6, 13.12). */
static void iscsi_login_declare(struct iscsi_login *l, struct iscsi_kv_buf *out,
				bool operational)
{
	if (!l->tpgt_sent && l->res.type == ISCSI_SESSION_NORMAL) {
		/* 13.9: in the first response of a normal session */
		uint16_t tag = l->res.tpg ? l->res.tpg->tag : l->env.portal_tpgt;

		iscsi_kv_addf(out, "TargetPortalGroupTag", "%u", tag);
		l->tpgt_sent = true;
	}
	if (!operational)
		return;
	if (!l->alias_sent && l->res.target && l->res.target->alias[0]) {
		iscsi_kv_add(out, "TargetAlias", l->res.target->alias);
		l->alias_sent = true;
	}
	iscsi_neg_declare(&l->neg, out);
}

static uint16_t iscsi_login_handle_text(struct iscsi_login *l,
					const struct iscsi_pdu *req,
					struct iscsi_kv_buf *out,
					bool *transit, int *nsg)
{
	uint8_t flags = iscsi_bhs_flags(req->bhs);
	int csg = ISCSI_LOGIN_CSG(flags);
	struct iscsi_login_sec sec;
	uint16_t st;
	bool want_t = flags & ISCSI_LOGIN_FLAG_TRANSIT;

	memset(&sec, 0, sizeof(sec));
	st = iscsi_login_scan_identity(l);
	if (st != ISCSI_LS_SUCCESS)
		return st;
	if (!l->started) {
		st = iscsi_login_resolve(l);
		if (st != ISCSI_LS_SUCCESS)
			return st;
		iscsi_neg_init(&l->neg, l->env.global,
			       l->res.type == ISCSI_SESSION_DISCOVERY,
			       l->res.tsih == 0);
		l->started = true;
	}

	st = iscsi_login_scan_keys(l, csg, &sec, out);
	if (st == ISCSI_LS_SUCCESS && csg == ISCSI_STAGE_SECURITY)
		st = iscsi_login_authenticate(l, &sec, out);
	iscsi_login_sec_free(&sec);
	if (st != ISCSI_LS_SUCCESS)
		return st;

	/* Starting straight in the operational stage means no security
	 * negotiation (6.3): allowed only when CHAP is not required. */
	if (csg == ISCSI_STAGE_OPERATIONAL && l->auth != ISCSI_AUTH_DONE) {
		if (l->auth_cfg->chap_required || l->auth != ISCSI_AUTH_START)
			return ISCSI_LS_AUTH_FAILED;
		l->auth = ISCSI_AUTH_DONE;
	}

	*transit = false;
	if (want_t) {
		int next = ISCSI_LOGIN_NSG(flags);

		if (csg == ISCSI_STAGE_SECURITY && l->auth == ISCSI_AUTH_START) {
			/* T=1 without AuthMethod: None, if that is allowed */
			if (l->auth_cfg->chap_required)
				return ISCSI_LS_AUTH_FAILED;
			l->auth = ISCSI_AUTH_DONE;
		}
		/* 6.3: we agree to leave security only once authenticated */
		if (l->auth == ISCSI_AUTH_DONE) {
			*transit = true;
			*nsg = next;
		}
	}
	iscsi_login_declare(l, out, csg == ISCSI_STAGE_OPERATIONAL ||
					    (*transit && *nsg ==
						   ISCSI_STAGE_FULL_FEATURE));
	return ISCSI_LS_SUCCESS;
}

/* 11.12.1-11.12.4: the header checks that apply to every request. */
static uint16_t iscsi_login_check_header(struct iscsi_login *l,
					 const struct iscsi_pdu *req)
{
	const uint8_t *b = req->bhs;
	uint8_t flags = iscsi_bhs_flags(b);
	bool t = flags & ISCSI_LOGIN_FLAG_TRANSIT;
	bool c = flags & ISCSI_LOGIN_FLAG_CONTINUE;
	int csg = ISCSI_LOGIN_CSG(flags), nsg = ISCSI_LOGIN_NSG(flags);

	if (iscsi_bhs_opcode(b) != ISCSI_OP_LOGIN_REQ)
		return ISCSI_LS_INITIATOR_ERROR;
	/* 11.12.4: VersionMin <= 0 <= VersionMax (Max is unsigned, >= 0) */
	if (b[3] > ISCSI_LOGIN_VERSION)
		return ISCSI_LS_UNSUPPORTED_VERSION;
	/* 11.12.2: C=1 requires T=0 */
	if (t && c)
		return ISCSI_LS_INITIATOR_ERROR;
	if (csg != ISCSI_STAGE_SECURITY && csg != ISCSI_STAGE_OPERATIONAL)
		return ISCSI_LS_INITIATOR_ERROR;
	if (t && (nsg <= csg || nsg == 2))
		return ISCSI_LS_INITIATOR_ERROR;
	if (l->stage != ISCSI_LOGIN_ANY_STAGE && csg != l->stage)
		return ISCSI_LS_INITIATOR_ERROR;
	if (iscsi_bhs_dsl(b) != req->data_len ||
	    (req->data_len && !req->data))
		return ISCSI_LS_INITIATOR_ERROR;
	if (l->stage != ISCSI_LOGIN_ANY_STAGE || l->text_len) {
		/* 6.3: ISID and TSIH stay the same for the whole login */
		if (memcmp(b + 8, l->res.isid, 6) != 0 ||
		    iscsi_get_be16(b + 14) != l->res.tsih)
			return ISCSI_LS_INITIATOR_ERROR;
	}
	return ISCSI_LS_SUCCESS;
}

enum iscsi_login_step iscsi_login_step(struct iscsi_login *l,
				       const struct iscsi_pdu *req,
				       struct iscsi_pdu *rsp)
{
	struct iscsi_kv_buf out = { 0 };
	uint8_t flags = iscsi_bhs_flags(req->bhs);
	bool first = l->stage == ISCSI_LOGIN_ANY_STAGE && !l->text_len;
	bool transit = false;
	int nsg = 0;
	uint16_t st;

	if (l->finished)
		return iscsi_login_fail(l, req, rsp, ISCSI_LS_INITIATOR_ERROR);
	st = iscsi_login_check_header(l, req);
	if (st != ISCSI_LS_SUCCESS)
		return iscsi_login_fail(l, req, rsp, st);
	if (first) {
		memcpy(l->res.isid, req->bhs + 8, 6);
		l->res.tsih = iscsi_get_be16(req->bhs + 14);
		l->res.cid = iscsi_get_be16(req->bhs + 20);
		l->first_cmdsn = iscsi_bhs_cmdsn(req->bhs);
		l->res.cmdsn = l->first_cmdsn;
	}
	l->res.exp_statsn = iscsi_bhs_expstatsn(req->bhs);
	if (l->stage == ISCSI_LOGIN_ANY_STAGE)
		l->stage = ISCSI_LOGIN_CSG(flags);

	/* 6.1 / 11.12.2: collect text split over C=1 requests */
	if (req->data_len) {
		uint8_t *n;

		if (l->text_len + req->data_len > ISCSI_LOGIN_TEXT_MAX)
			return iscsi_login_fail(l, req, rsp,
						ISCSI_LS_INITIATOR_ERROR);
		n = realloc(l->text, l->text_len + req->data_len);
		if (!n)
			return iscsi_login_fail(l, req, rsp,
						ISCSI_LS_OUT_OF_RESOURCES);
		memcpy(n + l->text_len, req->data, req->data_len);
		l->text = n;
		l->text_len += req->data_len;
	}
	if (flags & ISCSI_LOGIN_FLAG_CONTINUE) {
		/* 6.1, 11.12.2: an empty response asks for the rest */
		iscsi_login_rsp_init(l, req, rsp);
		return ISCSI_LOGIN_CONTINUE;
	}

	st = iscsi_login_handle_text(l, req, &out, &transit, &nsg);
	free(l->text);
	l->text = NULL;
	l->text_len = 0;
	if (st == ISCSI_LS_SUCCESS && out.oom)
		st = ISCSI_LS_OUT_OF_RESOURCES;
	if (st == ISCSI_LS_SUCCESS && transit &&
	    nsg == ISCSI_STAGE_FULL_FEATURE) {
		uint16_t tsih = 0;

		l->res.params = l->neg.params;
		st = l->env.bind_session ?
			     l->env.bind_session(l->env.arg, &l->res, &tsih) :
			     ISCSI_LS_TARGET_ERROR;
		if (st == ISCSI_LS_SUCCESS)
			l->bound_tsih = tsih;
	}
	if (st != ISCSI_LS_SUCCESS) {
		free(out.data);
		return iscsi_login_fail(l, req, rsp, st);
	}

	iscsi_login_rsp_init(l, req, rsp);
	rsp->data = (uint8_t *)out.data;
	rsp->data_len = out.len;
	iscsi_bhs_set_dsl(rsp->bhs, out.len);
	if (!transit)
		return ISCSI_LOGIN_CONTINUE;
	rsp->bhs[1] |= ISCSI_LOGIN_FLAG_TRANSIT | (uint8_t)nsg;
	l->stage = nsg;
	if (nsg != ISCSI_STAGE_FULL_FEATURE)
		return ISCSI_LOGIN_CONTINUE;
	/* 11.13.3: the final response carries the session's TSIH */
	iscsi_put_be16(rsp->bhs + 14, l->bound_tsih);
	l->finished = true;
	return ISCSI_LOGIN_DONE;
}
