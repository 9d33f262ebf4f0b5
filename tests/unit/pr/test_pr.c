/*
 * Unit tests of the persistent-reservation engine (src/pr: pr.c,
 * pr_decode.c, pr_in.c, pr_conflict.c). Every PR OUT goes through the
 * real decode (CDB + parameter list bytes) and apply, then the tests check
 * status, keys, generation, reservation and the UAs / aborts asked for.
 *
 *   initiator I1 (iqn...:i1, ISID 1)      initiator I2 (iqn...:i2, ISID 2)
 *        |            \                    /            |
 *        |             \                  /             |
 *   target port P1 (RTPI 1)          target port P2 (RTPI 2)
 *              \                                /
 *               +------------ LUN 0 -----------+
 *
 * Nexuses: A = I1/P1, B = I2/P1, C = I1/P2 (same initiator port as A,
 * other target port), D = I2/P2, X = an unregistered third initiator.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pr/pr.h"
#include "../t_eq.h"
#include "../t_pr_nexus.h"

#define T_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KEY_A 0xAAAA0000000000A1ull
#define KEY_B 0xBBBB0000000000B2ull
#define KEY_NEW 0xC0C0C0C0C0C0C0C0ull

static struct pr_nexus NA, NB, NC, ND, NX;
static struct pr_result res;
static struct pr_target ua[32], ab[32];

static int t_setup_nexuses(void **state)
{
	(void)state;
	t_nexus(&NA, "iqn.2026-11.test:i1", 1, 1);
	t_nexus(&NB, "iqn.2026-11.test:i2", 2, 1);
	t_nexus(&NC, "iqn.2026-11.test:i1", 1, 2);
	t_nexus(&ND, "iqn.2026-11.test:i2", 2, 2);
	t_nexus(&NX, "iqn.2026-11.test:x", 3, 1);
	return 0;
}

static void t_state(struct pr_state *st, unsigned max_regs, bool ptpl_c)
{
	struct pr_config cfg = { .max_regs = max_regs, .ptpl_c = ptpl_c };
	assert_int_equal(pr_state_init(st, &cfg), 0);
}

static void t_res_arm(void)
{
	memset(&res, 0, sizeof(res));
	res.ua = ua;
	res.ua_cap = T_ARRAY_SIZE(ua);
	res.aborts = ab;
	res.abort_cap = T_ARRAY_SIZE(ab);
}

static void t_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void t_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void t_cdb(uint8_t *cdb, uint8_t sa, uint8_t scope_type, uint32_t len)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x5f;
	cdb[1] = sa;
	cdb[2] = scope_type;
	t_put32(cdb + 5, len);
}

/* Decodes and applies raw bytes; returns the status. */
static enum pr_status t_raw(struct pr_state *st, const struct pr_nexus *n,
			    const uint8_t *cdb, const uint8_t *param,
			    uint32_t plen)
{
	struct pr_out_req req;
	t_res_arm();
	if (!pr_out_decode(cdb, param, plen, &req, &res))
		return res.status;
	pr_out_apply(st, n, &req, &res);
	return res.status;
}

/* A basic PR OUT (24-byte list, or SPEC_I_PT with ntids TransportIDs).
 * flags is byte 20 (ALL_TG_PT 04h, APTPL 01h). */
static enum pr_status t_out(struct pr_state *st, const struct pr_nexus *n,
			    uint8_t sa, uint8_t type, uint64_t key,
			    uint64_t sa_key, uint8_t flags,
			    const struct pr_tid *tids, unsigned ntids)
{
	uint8_t cdb[10], param[1024];
	uint32_t len = 24;

	memset(param, 0, sizeof(param));
	t_put64(param, key);
	t_put64(param + 8, sa_key);
	param[20] = flags;
	if (ntids) {
		param[20] |= 0x08;
		len = 28;
		for (unsigned i = 0; i < ntids; i++) {
			int k = pr_tid_encode(&tids[i], param + len,
					      sizeof(param) - len);
			assert_true(k > 0);
			len += (uint32_t)k;
		}
		t_put32(param + 24, len - 28);
	}
	t_cdb(cdb, sa, type, len);
	return t_raw(st, n, cdb, param, len);
}

static enum pr_status t_move(struct pr_state *st, const struct pr_nexus *n,
			     uint8_t type, uint64_t key, uint64_t sa_key,
			     bool unreg, const struct pr_nexus *dest)
{
	uint8_t cdb[10], param[512];
	memset(param, 0, sizeof(param));
	t_put64(param, key);
	t_put64(param + 8, sa_key);
	param[17] = unreg ? 0x02 : 0;
	param[18] = (uint8_t)(dest->rtpi >> 8);
	param[19] = (uint8_t)dest->rtpi;
	int k = pr_tid_encode(&dest->tid, param + 24, sizeof(param) - 24);
	assert_true(k > 0);
	t_put32(param + 20, (uint32_t)k);
	t_cdb(cdb, PR_OUT_REGISTER_AND_MOVE, type, 24 + (uint32_t)k);
	return t_raw(st, n, cdb, param, 24 + (uint32_t)k);
}

static enum pr_status t_reg(struct pr_state *st, const struct pr_nexus *n,
			    uint64_t key)
{
	return t_out(st, n, PR_OUT_REGISTER, 0, 0, key, 0, NULL, 0);
}

static uint64_t t_key(const struct pr_state *st, const struct pr_nexus *n)
{
	const struct pr_reg *r = pr_reg_find(st, n);
	return r ? r->key : 0;
}

static void t_expect_field(const char *label, enum pr_reason reason,
			   bool cdb, int byte, int bit)
{
	T_EQ(label, res.status, PR_STATUS_CHECK_CONDITION);
	T_EQ(label, res.reason, reason);
	T_EQ(label, res.field.valid, true);
	T_EQ(label, res.field.cdb, cdb);
	T_EQ(label, res.field.byte, byte);
	T_EQ(label, res.field.bit, bit);
}

static bool t_target_is(const struct pr_target *t, const struct pr_nexus *n,
			bool all_ports)
{
	return pr_tid_equal(&t->tid, &n->tid) && t->all_ports == all_ports &&
	       (all_ports || t->rtpi == n->rtpi);
}

/* --------------------------------------------------------------------- */
/* Every service action x reservation type x caller role.                */

static const uint8_t t_types[] = {
	PR_TYPE_NONE, PR_TYPE_WR_EX, PR_TYPE_EX_AC, PR_TYPE_WR_EX_RO,
	PR_TYPE_EX_AC_RO, PR_TYPE_WR_EX_AR, PR_TYPE_EX_AC_AR,
};

enum t_caller { T_HOLDER, T_REGISTERED, T_UNREGISTERED };

struct t_expect {
	enum pr_status status;
	int gen_delta;
	uint8_t type_after;
	uint32_t nregs_after;
	uint64_t key_a, key_b;   /* 0: not registered */
	uint32_t uas;
	uint32_t aborts;
};

/*
 * The outcome by SPC-4 5.14 for the setup: A (key KEY_A) and B (key KEY_B)
 * registered on P1, A reserved `type` (or nothing). The caller is A
 * ("holder"), B ("registered"; a holder too for all-registrants types) or
 * X (unregistered, RESERVATION KEY 0). REGISTER changes the caller's key
 * to KEY_NEW; PREEMPT names KEY_A; RESERVE/RELEASE/PREEMPT use the held
 * type (WR_EX when none).
 */
static struct t_expect t_expect_for(uint8_t sa, uint8_t type,
				    enum t_caller who)
{
	struct t_expect e = { PR_STATUS_GOOD, 0, type, 2, KEY_A, KEY_B, 0, 0 };
	bool ar = type == PR_TYPE_WR_EX_AR || type == PR_TYPE_EX_AC_AR;
	bool ro_or_ar = type != PR_TYPE_NONE && type != PR_TYPE_WR_EX &&
			type != PR_TYPE_EX_AC;

	if (who == T_UNREGISTERED && sa != PR_OUT_REGISTER &&
	    sa != PR_OUT_REGISTER_AND_IGNORE) {
		e.status = PR_STATUS_RESERVATION_CONFLICT;
		return e;
	}
	switch (sa) {
	case PR_OUT_REGISTER:
	case PR_OUT_REGISTER_AND_IGNORE:
		e.gen_delta = 1;
		if (who == T_HOLDER)
			e.key_a = KEY_NEW;
		else if (who == T_REGISTERED)
			e.key_b = KEY_NEW;
		else
			e.nregs_after = 3;
		break;
	case PR_OUT_RESERVE:
		if (type == PR_TYPE_NONE)
			e.type_after = PR_TYPE_WR_EX;
		else if (who == T_REGISTERED && !ar)
			e.status = PR_STATUS_RESERVATION_CONFLICT;
		break;
	case PR_OUT_RELEASE:
		if (who == T_HOLDER || ar) {
			e.type_after = PR_TYPE_NONE;
			e.uas = ro_or_ar ? 1 : 0; /* the other registrant */
		}
		break;
	case PR_OUT_REGISTER_AND_MOVE:
		/* only the holder of a non-AR reservation moves it, here to
		 * D (new registration, key KEY_NEW) */
		if (who != T_HOLDER || type == PR_TYPE_NONE || ar) {
			e.status = PR_STATUS_RESERVATION_CONFLICT;
			break;
		}
		e.gen_delta = 1;
		e.nregs_after = 3;
		break;
	case PR_OUT_CLEAR:
		e.gen_delta = 1;
		e.type_after = PR_TYPE_NONE;
		e.nregs_after = 0;
		e.key_a = e.key_b = 0;
		e.uas = 1;
		break;
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_AND_ABORT:
		e.gen_delta = 1;
		if (type == PR_TYPE_NONE || ar) {
			/* remove registrations of KEY_A; A removing itself
			 * gets neither UA nor abort */
			e.nregs_after = 1;
			e.key_a = 0;
			e.uas = who == T_HOLDER ? 0 : 1;
		} else if (who == T_HOLDER) {
			/* the holder preempts itself: keeps everything */
		} else {
			e.nregs_after = 1;
			e.key_a = 0;
			e.uas = 1;
		}
		if (sa == PR_OUT_PREEMPT_AND_ABORT)
			e.aborts = e.uas;
		break;
	}
	return e;
}

static void t_sa_type_role(void **state)
{
	static const uint8_t sas[] = {
		PR_OUT_REGISTER, PR_OUT_REGISTER_AND_IGNORE, PR_OUT_RESERVE,
		PR_OUT_RELEASE, PR_OUT_CLEAR, PR_OUT_PREEMPT,
		PR_OUT_PREEMPT_AND_ABORT, PR_OUT_REGISTER_AND_MOVE,
	};
	const struct pr_nexus *callers[] = { &NA, &NB, &NX };
	char label[96];
	(void)state;

	for (size_t s = 0; s < T_ARRAY_SIZE(sas); s++)
	for (size_t t = 0; t < T_ARRAY_SIZE(t_types); t++)
	for (int w = T_HOLDER; w <= T_UNREGISTERED; w++) {
		struct pr_state st;
		uint8_t sa = sas[s], type = t_types[t];
		snprintf(label, sizeof(label), "sa %u type %u caller %d",
			 sa, type, w);
		t_state(&st, 8, false);
		T_EQ(label, t_reg(&st, &NA, KEY_A), PR_STATUS_GOOD);
		T_EQ(label, t_reg(&st, &NB, KEY_B), PR_STATUS_GOOD);
		if (type != PR_TYPE_NONE)
			T_EQ(label, t_out(&st, &NA, PR_OUT_RESERVE, type,
					  KEY_A, 0, 0, NULL, 0),
			     PR_STATUS_GOOD);
		uint32_t gen0 = st.generation;
		T_EQ(label, gen0, 2);

		uint64_t key = w == T_HOLDER ? KEY_A :
			       w == T_REGISTERED ? KEY_B : 0;
		if (sa == PR_OUT_REGISTER_AND_IGNORE)
			key = 0x5555; /* ignored */
		uint64_t sa_key = sa == PR_OUT_PREEMPT ||
				  sa == PR_OUT_PREEMPT_AND_ABORT ? KEY_A :
				  KEY_NEW;
		uint8_t cdb_type = type == PR_TYPE_NONE ? PR_TYPE_WR_EX : type;
		enum pr_status got = sa == PR_OUT_REGISTER_AND_MOVE ?
			t_move(&st, callers[w], cdb_type, key, KEY_NEW, false,
			       &ND) :
			t_out(&st, callers[w], sa, cdb_type, key, sa_key, 0,
			      NULL, 0);
		struct t_expect e = t_expect_for(sa, type, (enum t_caller)w);

		T_EQ(label, got, e.status);
		if (e.status != PR_STATUS_GOOD) {
			/* refused: nothing changed */
			e.gen_delta = 0;
			e.type_after = type;
			e.nregs_after = 2;
			e.key_a = KEY_A;
			e.key_b = KEY_B;
			e.uas = e.aborts = 0;
		}
		T_EQ(label, st.generation, gen0 + (uint32_t)e.gen_delta);
		T_EQ(label, st.type, e.type_after);
		T_EQ(label, st.nregs, e.nregs_after);
		T_EQ(label, t_key(&st, &NA), e.key_a);
		T_EQ(label, t_key(&st, &NB), e.key_b);
		if (sa == PR_OUT_REGISTER_AND_MOVE && got == PR_STATUS_GOOD) {
			T_EQ(label, t_key(&st, &ND), KEY_NEW);
			T_EQ(label, pr_state_is_holder(&st, &ND), true);
			T_EQ(label, pr_state_is_holder(&st, &NA), false);
		}
		T_EQ(label, res.ua_count, e.uas);
		T_EQ(label, res.abort_count, e.aborts);
		for (uint32_t i = 0; i < res.ua_count; i++)
			T_EQ(label, t_target_is(&res.ua[i], callers[w], false),
			     false); /* never to the issuing nexus */
		pr_state_fini(&st);
	}
}

/* --------------------------------------------------------------------- */
/* SPC-4 5.14.2, table 63: every type x role x class through pr_check.   */

static void t_conflict_table(void **state)
{
	/* per type, per role (holder, registered, not registered): one
	 * letter per class ALLOWED READ WRITE CONFLICT PR_IN PR_OUT */
	static const struct {
		uint8_t type;
		const char *want[3];
	} rows[] = {
		{ PR_TYPE_WR_EX,    { "AAAAAA", "AACCAA", "AACCAA" } },
		{ PR_TYPE_EX_AC,    { "AAAAAA", "ACCCAA", "ACCCAA" } },
		{ PR_TYPE_WR_EX_RO, { "AAAAAA", "AAAAAA", "AACCAA" } },
		{ PR_TYPE_EX_AC_RO, { "AAAAAA", "AAAAAA", "ACCCAA" } },
		/* all registrants: the registered nexus is a holder */
		{ PR_TYPE_WR_EX_AR, { "AAAAAA", "AAAAAA", "AACCAA" } },
		{ PR_TYPE_EX_AC_AR, { "AAAAAA", "AAAAAA", "ACCCAA" } },
	};
	const struct pr_nexus *who[3] = { &NA, &NB, &NX };
	char label[64];
	(void)state;

	for (size_t r = 0; r < T_ARRAY_SIZE(rows); r++) {
		struct pr_state st;
		t_state(&st, 4, false);
		t_reg(&st, &NA, KEY_A);
		t_reg(&st, &NB, KEY_B);
		for (int c = 0; c < PR_CLASS_COUNT; c++)
			T_EQ("unreserved", pr_check(&st, &NX, c),
			     PR_STATUS_GOOD);
		T_EQ("reserve", t_out(&st, &NA, PR_OUT_RESERVE, rows[r].type,
				      KEY_A, 0, 0, NULL, 0), PR_STATUS_GOOD);
		for (int w = 0; w < 3; w++)
			for (int c = 0; c < PR_CLASS_COUNT; c++) {
				snprintf(label, sizeof(label),
					 "type %u role %d class %d",
					 rows[r].type, w, c);
				enum pr_status want = rows[r].want[w][c] == 'A' ?
					PR_STATUS_GOOD :
					PR_STATUS_RESERVATION_CONFLICT;
				T_EQ(label, pr_check(&st, who[w], c), want);
			}
		pr_state_fini(&st);
	}
	/* the raw table: roles the state cannot produce for AR types */
	T_EQ("ar registered", pr_conflict_allowed(PR_TYPE_EX_AC_AR,
		PR_ROLE_NOT_REGISTERED, PR_CLASS_READ), false);
	T_EQ("bad class", pr_conflict_allowed(PR_TYPE_WR_EX,
		PR_ROLE_HOLDER, PR_CLASS_COUNT), false);
	T_EQ("none", pr_conflict_allowed(PR_TYPE_NONE,
		PR_ROLE_NOT_REGISTERED, PR_CLASS_WRITE), true);
}

/* --------------------------------------------------------------------- */
/* Decode: CDB and parameter list errors with their field pointers.      */

static void t_decode_errors(void **state)
{
	struct pr_state st;
	uint8_t cdb[10], param[128];
	(void)state;
	t_state(&st, 4, false);
	memset(param, 0, sizeof(param));

	t_cdb(cdb, 0x09, 0x01, 24);
	t_raw(&st, &NA, cdb, param, 24);
	t_expect_field("sa 9", PR_REASON_INVALID_FIELD_IN_CDB, true, 1, 4);

	t_cdb(cdb, PR_OUT_REPLACE_LOST, 0x01, 24);
	t_raw(&st, &NA, cdb, param, 24);
	t_expect_field("replace lost", PR_REASON_INVALID_FIELD_IN_CDB, true,
		       1, 4);

	t_cdb(cdb, PR_OUT_RESERVE, 0x21, 24);
	t_raw(&st, &NA, cdb, param, 24);
	t_expect_field("scope", PR_REASON_INVALID_FIELD_IN_CDB, true, 2, 7);

	static const uint8_t bad_types[] = { 0, 2, 4, 9, 0xf };
	for (size_t i = 0; i < T_ARRAY_SIZE(bad_types); i++) {
		t_cdb(cdb, PR_OUT_RELEASE, bad_types[i], 24);
		t_raw(&st, &NA, cdb, param, 24);
		t_expect_field("type", PR_REASON_INVALID_FIELD_IN_CDB, true,
			       2, 3);
	}
	/* REGISTER ignores SCOPE and TYPE */
	t_put64(param + 8, KEY_A);
	t_cdb(cdb, PR_OUT_REGISTER, 0x2f, 24);
	T_EQ("register ignores type", t_raw(&st, &NA, cdb, param, 24),
	     PR_STATUS_GOOD);
	T_EQ("registered", t_key(&st, &NA), KEY_A);

	static const uint32_t bad_lens[] = { 0, 23, 25, 32 };
	for (size_t i = 0; i < T_ARRAY_SIZE(bad_lens); i++) {
		t_cdb(cdb, PR_OUT_REGISTER, 0, bad_lens[i]);
		t_raw(&st, &NB, cdb, param, sizeof(param));
		T_EQ("len", res.status, PR_STATUS_CHECK_CONDITION);
		T_EQ("len", res.reason, PR_REASON_PARAM_LIST_LENGTH_ERROR);
	}
	/* the CDB says 24, fewer bytes came */
	t_cdb(cdb, PR_OUT_REGISTER, 0, 24);
	t_raw(&st, &NB, cdb, param, 20);
	T_EQ("short", res.reason, PR_REASON_PARAM_LIST_LENGTH_ERROR);

	/* SPEC_I_PT with anything but REGISTER */
	param[20] = 0x08;
	t_put32(param + 24, 0);
	t_cdb(cdb, PR_OUT_REGISTER_AND_IGNORE, 0, 28);
	t_raw(&st, &NB, cdb, param, 28);
	t_expect_field("sip reg+ignore", PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
		       false, 20, 3);
	t_cdb(cdb, PR_OUT_RESERVE, PR_TYPE_WR_EX, 28);
	t_raw(&st, &NB, cdb, param, 28);
	t_expect_field("sip reserve", PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
		       false, 20, 3);
	/* SPEC_I_PT: list length beyond the parameter list */
	t_put32(param + 24, 24);
	t_cdb(cdb, PR_OUT_REGISTER, 0, 28);
	t_raw(&st, &NB, cdb, param, 28);
	T_EQ("tdl", res.reason, PR_REASON_PARAM_LIST_LENGTH_ERROR);
	/* a TransportID cut by the list length: INVALID FIELD at its
	 * ADDITIONAL LENGTH (byte 2 of the TransportID) */
	struct pr_nexus cut;
	t_nexus(&cut, "iqn.2026-11.test:cut", 4, 1);
	memset(param + 28, 0, sizeof(param) - 28);
	int clen = pr_tid_encode(&cut.tid, param + 28, sizeof(param) - 28);
	assert_true(clen > 8 && 28 + clen <= (int)sizeof(param));
	t_put32(param + 24, (uint32_t)clen - 4);
	t_cdb(cdb, PR_OUT_REGISTER, 0, 28 + (uint32_t)clen - 4);
	t_raw(&st, &NB, cdb, param, 28 + (uint32_t)clen - 4);
	t_expect_field("cut", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
		       28 + 2, -1);
	/* a list too short for any TransportID: the list length field */
	t_put32(param + 24, 2);
	t_cdb(cdb, PR_OUT_REGISTER, 0, 30);
	t_raw(&st, &NB, cdb, param, 30);
	t_expect_field("2 bytes", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
		       24, -1);
	/* bytes after the TransportID list are ignored */
	t_put32(param + 24, 0);
	t_cdb(cdb, PR_OUT_REGISTER, 0, 40);
	T_EQ("trailing", t_raw(&st, &NB, cdb, param, 40), PR_STATUS_GOOD);
	T_EQ("trailing key", t_key(&st, &NB), KEY_A);
	T_EQ("trailing unreg", t_out(&st, &NB, PR_OUT_REGISTER, 0, KEY_A, 0,
				     0, NULL, 0), PR_STATUS_GOOD);
	memset(param, 0, sizeof(param));
	param[20] = 0x08;
	t_put32(param + 24, 24);
	/* a malformed TransportID: protocol 0 at its byte 0 */
	t_cdb(cdb, PR_OUT_REGISTER, 0, 52);
	t_raw(&st, &NB, cdb, param, 52);
	t_expect_field("bad tid", PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
		       false, 28, -1);
	T_EQ("nothing registered", st.nregs, 1);
	T_EQ("generation", st.generation, 3);

	/* APTPL without PTPL_C */
	memset(param, 0, sizeof(param));
	t_put64(param + 8, KEY_B);
	param[20] = 0x01;
	t_cdb(cdb, PR_OUT_REGISTER, 0, 24);
	t_raw(&st, &NB, cdb, param, 24);
	t_expect_field("aptpl", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
		       20, 0);
	T_EQ("aptpl refused", st.nregs, 1);
	pr_state_fini(&st);

	/* with PTPL_C the bit is recorded */
	t_state(&st, 4, true);
	t_raw(&st, &NB, cdb, param, 24);
	T_EQ("aptpl ok", res.status, PR_STATUS_GOOD);
	T_EQ("aptpl state", st.aptpl, true);
	pr_state_fini(&st);
}

/* --------------------------------------------------------------------- */
/* Scenarios                                                             */

/*
 *   I1 ---- P1 ----+
 *                  +--- LUN    A = I1/P1 key A, B = I2/P1 key B
 *   I2 ---- P1 ----+
 *
 * Keys, reservation rules: wrong key, RESERVE by a non-holder, re-reserve
 * by the holder, RELEASE of the wrong type, unregistering the holder.
 */
static void t_scenario_basic(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);

	/* 1. an unregistered nexus with a non-zero key: conflict */
	T_EQ("1", t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_A, KEY_A, 0, NULL,
			0), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("1 gen", st.generation, 0);
	/* 2. unregistering nothing: GOOD, no generation */
	T_EQ("2", t_reg(&st, &NA, 0), PR_STATUS_GOOD);
	T_EQ("2 gen", st.generation, 0);
	/* 3. both register */
	T_EQ("3a", t_reg(&st, &NA, KEY_A), PR_STATUS_GOOD);
	T_EQ("3b", t_reg(&st, &NB, KEY_B), PR_STATUS_GOOD);
	T_EQ("3 gen", st.generation, 2);
	/* 4. A re-registers with the wrong current key: conflict */
	T_EQ("4", t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_B, 7, 0, NULL, 0),
	     PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("4 key", t_key(&st, &NA), KEY_A);
	/* 5. A reserves EX_AC with a wrong key: conflict; right key: GOOD */
	T_EQ("5a", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_B, 0, 0,
			 NULL, 0), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("5b", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_A, 0, 0,
			 NULL, 0), PR_STATUS_GOOD);
	T_EQ("5 gen", st.generation, 2);
	T_EQ("5 holder", pr_state_is_holder(&st, &NA), true);
	/* 6. same type again: GOOD; another type: conflict */
	T_EQ("6a", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_A, 0, 0,
			 NULL, 0), PR_STATUS_GOOD);
	T_EQ("6b", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0,
			 NULL, 0), PR_STATUS_RESERVATION_CONFLICT);
	/* 7. B reserves: conflict; B releases: GOOD, nothing happens */
	T_EQ("7a", t_out(&st, &NB, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_B, 0, 0,
			 NULL, 0), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("7b", t_out(&st, &NB, PR_OUT_RELEASE, PR_TYPE_EX_AC, KEY_B, 0, 0,
			 NULL, 0), PR_STATUS_GOOD);
	T_EQ("7 type", st.type, PR_TYPE_EX_AC);
	/* 8. A releases the wrong type: INVALID RELEASE, no field */
	T_EQ("8", t_out(&st, &NA, PR_OUT_RELEASE, PR_TYPE_WR_EX, KEY_A, 0, 0,
			NULL, 0), PR_STATUS_CHECK_CONDITION);
	T_EQ("8 reason", res.reason, PR_REASON_INVALID_RELEASE);
	T_EQ("8 field", res.field.valid, false);
	T_EQ("8 type", st.type, PR_TYPE_EX_AC);
	/* 9. A unregisters: its EX_AC reservation goes, no UA (not RO) */
	T_EQ("9", t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_A, 0, 0, NULL, 0),
	     PR_STATUS_GOOD);
	T_EQ("9 type", st.type, PR_TYPE_NONE);
	T_EQ("9 nregs", st.nregs, 1);
	T_EQ("9 gen", st.generation, 3);
	T_EQ("9 uas", res.ua_count, 0);
	/* 10. REGISTER AND IGNORE of key 0 from an unregistered nexus:
	 * GOOD, nothing; with a key: registered whatever RESERVATION KEY */
	T_EQ("10a", t_out(&st, &NX, PR_OUT_REGISTER_AND_IGNORE, 0, 99, 0, 0,
			  NULL, 0), PR_STATUS_GOOD);
	T_EQ("10a gen", st.generation, 3);
	T_EQ("10b", t_out(&st, &NX, PR_OUT_REGISTER_AND_IGNORE, 0, 99, 5, 0,
			  NULL, 0), PR_STATUS_GOOD);
	T_EQ("10b key", t_key(&st, &NX), 5);
	T_EQ("10b gen", st.generation, 4);
	T_EQ("10c", t_out(&st, &NX, PR_OUT_REGISTER_AND_IGNORE, 0, 99, 0, 0,
			  NULL, 0), PR_STATUS_GOOD);
	T_EQ("10c gone", t_key(&st, &NX), 0);
	T_EQ("10c gen", st.generation, 5);
	/* 11. B's key change */
	T_EQ("11", t_out(&st, &NB, PR_OUT_REGISTER, 0, KEY_B, KEY_NEW, 0,
			 NULL, 0), PR_STATUS_GOOD);
	T_EQ("11 key", t_key(&st, &NB), KEY_NEW);
	T_EQ("11 gen", st.generation, 6);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *     \            |
 *      +--- P2 ----+--- LUN    A = I1/P1, C = I1/P2, B = I2/P1, D = I2/P2
 *   I2 ---- P1 ----+
 *     \            |
 *      +--- P2 ----+
 *
 * ALL_TG_PT: one registration that covers every port of the initiator.
 */
static void t_scenario_all_tg_pt(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);

	/* 1. A registers with ALL_TG_PT: C (same initiator, P2) is in */
	T_EQ("1", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0x04, NULL, 0),
	     PR_STATUS_GOOD);
	T_EQ("1 nregs", st.nregs, 1);
	T_EQ("1 C key", t_key(&st, &NC), KEY_A);
	T_EQ("1 B", t_key(&st, &NB), 0);
	/* a port added later (RTPI 9) is covered too */
	struct pr_nexus late = NA;
	late.rtpi = 9;
	T_EQ("1 late", t_key(&st, &late), KEY_A);
	/* 2. C reserves WR_EX through P2; A on P1 is the same holder */
	T_EQ("2", t_out(&st, &NC, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0,
			NULL, 0), PR_STATUS_GOOD);
	T_EQ("2 holder A", pr_state_is_holder(&st, &NA), true);
	T_EQ("2 write A", pr_check(&st, &NA, PR_CLASS_WRITE), PR_STATUS_GOOD);
	T_EQ("2 write D", pr_check(&st, &ND, PR_CLASS_WRITE),
	     PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("2 read D", pr_check(&st, &ND, PR_CLASS_READ), PR_STATUS_GOOD);
	/* 3. B (I2/P1) registers without ALL_TG_PT: D (I2/P2) is not */
	T_EQ("3", t_reg(&st, &NB, KEY_B), PR_STATUS_GOOD);
	T_EQ("3 D", t_key(&st, &ND), 0);
	/* 3b. I2 registered on P1 (B): ALL_TG_PT REGISTER through P2 (D)
	 * conflicts, as it would through P1; REGISTER AND IGNORE replaces
	 * B's key and covers the other ports */
	T_EQ("3b", t_out(&st, &ND, PR_OUT_REGISTER, 0, 0, KEY_NEW, 0x04, NULL,
			 0), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("3b gen", st.generation, 2);
	T_EQ("3c", t_out(&st, &ND, PR_OUT_REGISTER_AND_IGNORE, 0, 0, KEY_NEW,
			 0x04, NULL, 0), PR_STATUS_GOOD);
	T_EQ("3c B", t_key(&st, &NB), KEY_NEW);
	T_EQ("3c D", t_key(&st, &ND), KEY_NEW);
	T_EQ("3c nregs", st.nregs, 3);
	T_EQ("3c gen", st.generation, 3);
	/* 4. B clears: UA RESERVATIONS PREEMPTED to I1 on every port */
	T_EQ("4", t_out(&st, &NB, PR_OUT_CLEAR, 0, KEY_NEW, 0, 0, NULL, 0),
	     PR_STATUS_GOOD);
	/* to I1 (all ports) and to I2's all-port entry, not to B itself */
	T_EQ("4 uas", res.ua_count, 2);
	T_EQ("4 ua1 I2 all ports", t_target_is(&res.ua[1], &ND, true), true);
	T_EQ("4 ua kind", res.ua[0].kind, PR_UA_RESERVATIONS_PREEMPTED);
	T_EQ("4 ua to I1 all ports", t_target_is(&res.ua[0], &NA, true), true);
	T_EQ("4 match C", pr_target_match(&res.ua[0], &NC), true);
	T_EQ("4 match late", pr_target_match(&res.ua[0], &late), true);
	T_EQ("4 match D", pr_target_match(&res.ua[0], &ND), false);
	T_EQ("4 nregs", st.nregs, 0);
	T_EQ("4 type", st.type, PR_TYPE_NONE);
	T_EQ("4 gen", st.generation, 4);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *                  +--- LUN    A = I1/P1 holder of WR_EX_RO,
 *   I2 ---- P1 ----+           B = I2/P1, D = I2/P2 registrants
 *     \            |
 *      +--- P2 ----+
 *
 * The unit attentions of RELEASE, unregistering the holder and PREEMPT
 * with a type change: to every other registrant, never to the issuer.
 */
static void t_scenario_uas(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);

	t_reg(&st, &NA, KEY_A);
	t_reg(&st, &NB, KEY_B);
	t_reg(&st, &ND, KEY_B);
	T_EQ("gen", st.generation, 3);
	T_EQ("1", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX_RO, KEY_A, 0, 0,
			NULL, 0), PR_STATUS_GOOD);
	/* 2. registrants of an RO reservation may write */
	T_EQ("2 write B", pr_check(&st, &NB, PR_CLASS_WRITE), PR_STATUS_GOOD);
	T_EQ("2 write X", pr_check(&st, &NX, PR_CLASS_WRITE),
	     PR_STATUS_RESERVATION_CONFLICT);
	/* 3. release: RESERVATIONS RELEASED to B and D, in order */
	T_EQ("3", t_out(&st, &NA, PR_OUT_RELEASE, PR_TYPE_WR_EX_RO, KEY_A, 0, 0,
			NULL, 0), PR_STATUS_GOOD);
	T_EQ("3 gen", st.generation, 3);
	T_EQ("3 uas", res.ua_count, 2);
	T_EQ("3 ua0", t_target_is(&res.ua[0], &NB, false), true);
	T_EQ("3 ua1", t_target_is(&res.ua[1], &ND, false), true);
	T_EQ("3 match B", pr_target_match(&res.ua[0], &NB), true);
	T_EQ("3 match D", pr_target_match(&res.ua[0], &ND), false);
	T_EQ("3 kind", res.ua[1].kind, PR_UA_RESERVATIONS_RELEASED);
	/* 4. reserve EX_AC_RO again, then the holder unregisters */
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC_RO, KEY_A, 0, 0, NULL, 0);
	T_EQ("4", t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_A, 0, 0, NULL, 0),
	     PR_STATUS_GOOD);
	T_EQ("4 type", st.type, PR_TYPE_NONE);
	T_EQ("4 uas", res.ua_count, 2);
	T_EQ("4 kind", res.ua[0].kind, PR_UA_RESERVATIONS_RELEASED);
	T_EQ("4 gen", st.generation, 4);
	/* 5. B reserves WR_EX; D (same key as B) preempts it as EX_AC:
	 * B loses its registration (REGISTRATIONS PREEMPTED) */
	T_EQ("5a", t_out(&st, &NB, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_B, 0, 0,
			 NULL, 0), PR_STATUS_GOOD);
	T_EQ("5b", t_reg(&st, &NA, KEY_A), PR_STATUS_GOOD);
	T_EQ("5", t_out(&st, &ND, PR_OUT_PREEMPT, PR_TYPE_EX_AC, KEY_B, KEY_B,
			0, NULL, 0), PR_STATUS_GOOD);
	T_EQ("5 D holder", pr_state_is_holder(&st, &ND), true);
	T_EQ("5 type", st.type, PR_TYPE_EX_AC);
	T_EQ("5 B gone", t_key(&st, &NB), 0);
	T_EQ("5 A stays", t_key(&st, &NA), KEY_A);
	/* REGISTRATIONS PREEMPTED to B, then (type changed) RESERVATIONS
	 * RELEASED to A */
	T_EQ("5 uas", res.ua_count, 2);
	T_EQ("5 ua0 B", t_target_is(&res.ua[0], &NB, false), true);
	T_EQ("5 ua0 kind", res.ua[0].kind, PR_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("5 ua1 A", t_target_is(&res.ua[1], &NA, false), true);
	T_EQ("5 ua1 kind", res.ua[1].kind, PR_UA_RESERVATIONS_RELEASED);
	T_EQ("5 no aborts", res.abort_count, 0);
	T_EQ("5 gen", st.generation, 6);
	/* 6. the holder preempts itself with the same type: no UA */
	T_EQ("6", t_out(&st, &ND, PR_OUT_PREEMPT, PR_TYPE_EX_AC, KEY_B, KEY_B,
			0, NULL, 0), PR_STATUS_GOOD);
	T_EQ("6 uas", res.ua_count, 0);
	T_EQ("6 gen", st.generation, 7);
	T_EQ("6 nregs", st.nregs, 2);
	/* 7. preempt of an unknown key: conflict; of key 0 with a non-AR
	 * reservation: INVALID FIELD IN PARAMETER LIST (SARK, byte 8) */
	T_EQ("7a", t_out(&st, &NA, PR_OUT_PREEMPT, PR_TYPE_EX_AC, KEY_A, 0x77,
			 0, NULL, 0), PR_STATUS_RESERVATION_CONFLICT);
	t_out(&st, &NA, PR_OUT_PREEMPT, PR_TYPE_EX_AC, KEY_A, 0, 0, NULL, 0);
	t_expect_field("7b", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 8,
		       -1);
	T_EQ("7 gen", st.generation, 7);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *     \            |
 *      +--- P2 ----+--- LUN    A, B, C registered; WR_EX_AR
 *   I2 ---- P1 ----+
 *
 * PREEMPT AND ABORT of an all-registrants reservation with key 0.
 */
static void t_scenario_preempt_abort_ar(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);
	t_reg(&st, &NA, KEY_A);
	t_reg(&st, &NB, KEY_B);
	t_reg(&st, &NC, KEY_A);
	T_EQ("1", t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX_AR, KEY_A, 0, 0,
			NULL, 0), PR_STATUS_GOOD);
	/* every registrant is a holder */
	T_EQ("1 B holder", pr_state_is_holder(&st, &NB), true);
	/* 2. A unregisters: the AR reservation stays with B and C */
	T_EQ("2", t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_A, 0, 0, NULL, 0),
	     PR_STATUS_GOOD);
	T_EQ("2 type", st.type, PR_TYPE_WR_EX_AR);
	t_reg(&st, &NA, KEY_A);
	T_EQ("2 gen", st.generation, 5);
	/* 3. READ RESERVATION of an AR reservation: key 0 */
	uint8_t buf[32];
	T_EQ("3 len", pr_in_build(&st, PR_IN_READ_RESERVATION, buf,
				  sizeof(buf), NULL, &res), 24);
	static const uint8_t want_rr[24] = {
		0, 0, 0, 5, 0, 0, 0, 16,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, PR_TYPE_WR_EX_AR, 0, 0,
	};
	assert_memory_equal(buf, want_rr, sizeof(want_rr));
	/* 4. B: PREEMPT AND ABORT, key 0, new type EX_AC */
	T_EQ("4", t_out(&st, &NB, PR_OUT_PREEMPT_AND_ABORT, PR_TYPE_EX_AC,
			KEY_B, 0, 0, NULL, 0), PR_STATUS_GOOD);
	T_EQ("4 nregs", st.nregs, 1);
	T_EQ("4 holder", pr_state_is_holder(&st, &NB), true);
	T_EQ("4 type", st.type, PR_TYPE_EX_AC);
	T_EQ("4 gen", st.generation, 6);
	/* C and A (registration order: C, then A re-registered) */
	T_EQ("4 aborts", res.abort_count, 2);
	T_EQ("4 abort0", t_target_is(&res.aborts[0], &NC, false), true);
	T_EQ("4 abort1", t_target_is(&res.aborts[1], &NA, false), true);
	T_EQ("4 uas", res.ua_count, 2);
	T_EQ("4 ua kind", res.ua[0].kind, PR_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("4 ua kind", res.ua[1].kind, PR_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("4 A reads", pr_check(&st, &NA, PR_CLASS_READ),
	     PR_STATUS_RESERVATION_CONFLICT);
	/* 5. too small a UA array: counted, not overrun */
	pr_state_fini(&st);
	t_state(&st, 4, false);
	t_reg(&st, &NA, KEY_A);
	t_reg(&st, &NB, KEY_B);
	t_reg(&st, &NC, KEY_B);
	struct pr_out_req req;
	uint8_t cdb[10], param[24] = { 0 };
	t_put64(param, KEY_A);
	t_put64(param + 8, KEY_B);
	t_cdb(cdb, PR_OUT_PREEMPT, PR_TYPE_WR_EX, 24);
	struct pr_target one[1];
	struct pr_result small = { .ua = one, .ua_cap = 1 };
	assert_true(pr_out_decode(cdb, param, 24, &req, &small));
	pr_out_apply(&st, &NA, &req, &small);
	T_EQ("5", small.status, PR_STATUS_GOOD);
	T_EQ("5 count", small.ua_count, 1);
	T_EQ("5 lost", small.ua_lost, 1);
	T_EQ("5 abort lost", small.abort_lost, 0);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *                  +--- LUN    A = I1/P1 holder; moves to D = I2/P2
 *   I2 ---- P2 ----+
 *
 * REGISTER AND MOVE (SPC-4 5.14.8).
 */
static void t_scenario_register_and_move(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 3, false);
	t_reg(&st, &NA, KEY_A);
	t_reg(&st, &NB, KEY_B);

	/* 1. no reservation: conflict */
	T_EQ("1", t_move(&st, &NA, PR_TYPE_WR_EX, KEY_A, KEY_NEW, false, &ND),
	     PR_STATUS_RESERVATION_CONFLICT);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0, NULL, 0);
	/* 2. a non-holder: conflict; SA key 0: invalid; to itself: invalid */
	T_EQ("2a", t_move(&st, &NB, PR_TYPE_WR_EX, KEY_B, KEY_NEW, false, &ND),
	     PR_STATUS_RESERVATION_CONFLICT);
	t_move(&st, &NA, PR_TYPE_WR_EX, KEY_A, 0, false, &ND);
	t_expect_field("2b", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 8,
		       -1);
	t_move(&st, &NA, PR_TYPE_WR_EX, KEY_A, KEY_NEW, false, &NA);
	t_expect_field("2c", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 24,
		       -1);
	T_EQ("2 gen", st.generation, 2);
	/* 3. move to D (new registration with the SA key), keep A */
	T_EQ("3", t_move(&st, &NA, PR_TYPE_EX_AC, KEY_A, KEY_NEW, false, &ND),
	     PR_STATUS_GOOD);
	T_EQ("3 D key", t_key(&st, &ND), KEY_NEW);
	T_EQ("3 D holder", pr_state_is_holder(&st, &ND), true);
	T_EQ("3 A holder", pr_state_is_holder(&st, &NA), false);
	T_EQ("3 type", st.type, PR_TYPE_EX_AC);
	T_EQ("3 A key", t_key(&st, &NA), KEY_A);
	T_EQ("3 gen", st.generation, 3);
	/* 4. D moves it to B (registered: keeps KEY_B) and unregisters */
	T_EQ("4", t_move(&st, &ND, PR_TYPE_WR_EX, KEY_NEW, 0x42, true, &NB),
	     PR_STATUS_GOOD);
	T_EQ("4 B key", t_key(&st, &NB), KEY_B);
	T_EQ("4 B holder", pr_state_is_holder(&st, &NB), true);
	T_EQ("4 D gone", t_key(&st, &ND), 0);
	T_EQ("4 nregs", st.nregs, 2);
	T_EQ("4 gen", st.generation, 4);
	/* 5. B moves to C, then A... the limit: 3 registrations */
	T_EQ("5", t_move(&st, &NB, PR_TYPE_WR_EX, KEY_B, 0x55, false, &NC),
	     PR_STATUS_GOOD);
	T_EQ("5 nregs", st.nregs, 3);
	T_EQ("5b", t_move(&st, &NC, PR_TYPE_WR_EX, 0x55, 0x66, false, &ND),
	     PR_STATUS_CHECK_CONDITION);
	T_EQ("5b reason", res.reason, PR_REASON_INSUFFICIENT_REG_RESOURCES);
	T_EQ("5 holder C", pr_state_is_holder(&st, &NC), true);
	/* 6. an all-registrants reservation cannot move */
	t_out(&st, &NA, PR_OUT_CLEAR, 0, KEY_A, 0, 0, NULL, 0);
	t_reg(&st, &NA, KEY_A);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC_AR, KEY_A, 0, 0, NULL, 0);
	T_EQ("6", t_move(&st, &NA, PR_TYPE_EX_AC, KEY_A, KEY_NEW, false, &ND),
	     PR_STATUS_RESERVATION_CONFLICT);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *                  +--- LUN    A registers itself plus B and D by
 *   I2 --- P1,P2 --+           SPEC_I_PT: all or none
 */
static void t_spec_i_pt(void **state)
{
	struct pr_state st;
	struct pr_tid list[3];
	struct pr_nexus y, z;
	(void)state;
	t_nexus(&y, "iqn.2026-11.test:y", 7, 1);
	t_nexus(&z, "iqn.2026-11.test:z", 8, 1);
	t_state(&st, 3, false);
	t_reg(&st, &NB, KEY_B);

	/* 1. y is new, B is registered on P1 already: refused at B's
	 * TransportID (28 + the length of y's), and y is not registered */
	list[0] = y.tid;
	list[1] = NB.tid;
	T_EQ("1", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0, list, 2),
	     PR_STATUS_CHECK_CONDITION);
	uint8_t tmp[300];
	int first = pr_tid_encode(&list[0], tmp, sizeof(tmp));
	t_expect_field("1", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false,
		       28 + first, -1);
	T_EQ("1 nregs", st.nregs, 1);
	T_EQ("1 y", t_key(&st, &y), 0);
	T_EQ("1 gen", st.generation, 1);
	/* D (I2 on P2) is the same initiator port as B: with ALL_TG_PT the
	 * registration would cover P1 where B is: refused as well */
	list[0] = ND.tid;
	t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0x04, list, 1);
	t_expect_field("1b", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 28,
		       -1);
	/* 2. the issuer named in its own list */
	list[0] = NA.tid;
	t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0, list, 1);
	t_expect_field("2", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 28,
		       -1);
	/* 3. a duplicate inside the list */
	list[0] = y.tid;
	list[1] = y.tid;
	t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0, list, 2);
	T_EQ("3", res.reason, PR_REASON_INVALID_FIELD_IN_PARAM_LIST);
	T_EQ("3 nregs", st.nregs, 1);
	/* 4. too many: self + 2 > 3 - 1 */
	list[1] = z.tid;
	t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0, list, 2);
	T_EQ("4", res.status, PR_STATUS_CHECK_CONDITION);
	T_EQ("4 reason", res.reason, PR_REASON_INSUFFICIENT_REG_RESOURCES);
	T_EQ("4 nregs", st.nregs, 1);
	T_EQ("4 gen", st.generation, 1);
	/* 5. one fits: A and y registered with KEY_A on P1 */
	T_EQ("5", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0, list, 1),
	     PR_STATUS_GOOD);
	T_EQ("5 nregs", st.nregs, 3);
	T_EQ("5 y", t_key(&st, &y), KEY_A);
	T_EQ("5 A", t_key(&st, &NA), KEY_A);
	T_EQ("5 gen", st.generation, 2);
	/* 6. a registered nexus may not use SPEC_I_PT */
	list[0] = z.tid;
	t_out(&st, &NA, PR_OUT_REGISTER, 0, KEY_A, KEY_A, 0, list, 1);
	t_expect_field("6", PR_REASON_INVALID_FIELD_IN_PARAM_LIST, false, 20,
		       3);
	/* 7. the limit without SPEC_I_PT */
	T_EQ("7", t_reg(&st, &z, 9), PR_STATUS_CHECK_CONDITION);
	T_EQ("7 reason", res.reason, PR_REASON_INSUFFICIENT_REG_RESOURCES);
	pr_state_fini(&st);

	/* 8. a name-only (format 00b) TransportID covers every ISID */
	t_state(&st, 4, false);
	struct pr_tid dev = NB.tid;
	dev.format = PR_TID_FORMAT_DEVICE;
	memset(dev.isid, 0, sizeof(dev.isid));
	T_EQ("8", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0x04, &dev, 1),
	     PR_STATUS_GOOD);
	struct pr_nexus other_isid;
	t_nexus(&other_isid, "iqn.2026-11.test:i2", 0x99, 2);
	T_EQ("8 any isid, any port", t_key(&st, &other_isid), KEY_A);
	pr_state_fini(&st);
}

/* --------------------------------------------------------------------- */
/* Generation wrap, PR IN data and allocation lengths.                   */

static void t_generation_wrap(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 2, false);
	st.generation = UINT32_MAX;
	T_EQ("reg", t_reg(&st, &NA, KEY_A), PR_STATUS_GOOD);
	T_EQ("wrapped", st.generation, 0);
	uint8_t buf[8];
	pr_in_build(&st, PR_IN_READ_KEYS, buf, sizeof(buf), NULL, &res);
	static const uint8_t want[8] = { 0, 0, 0, 0, 0, 0, 0, 8 };
	assert_memory_equal(buf, want, 8);
	pr_state_fini(&st);
}

static void t_read_keys_truncation(void **state)
{
	struct pr_state st;
	uint8_t buf[64];
	uint32_t full = 0;
	(void)state;
	t_state(&st, 4, false);
	t_reg(&st, &NA, 0x0102030405060708ull);
	t_reg(&st, &NB, 0x1112131415161718ull);

	static const uint8_t want[24] = {
		0, 0, 0, 2, 0, 0, 0, 16,
		1, 2, 3, 4, 5, 6, 7, 8,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	};
	static const uint32_t allocs[] = { 0, 4, 8, 12, 23, 24, 64 };
	for (size_t i = 0; i < T_ARRAY_SIZE(allocs); i++) {
		memset(buf, 0xee, sizeof(buf));
		uint32_t n = pr_in_build(&st, PR_IN_READ_KEYS, buf, allocs[i],
					 &full, &res);
		uint32_t expect = allocs[i] < 24 ? allocs[i] : 24;
		T_EQ("written", n, expect);
		T_EQ("full", full, 24);
		assert_memory_equal(buf, want, n);
		T_EQ("untouched", buf[n], 0xee);
	}
	/* an unknown service action */
	T_EQ("bad sa", pr_in_build(&st, 4, buf, 64, &full, &res), 0);
	t_expect_field("bad sa", PR_REASON_INVALID_FIELD_IN_CDB, true, 1, 4);

	/* READ RESERVATION: none, then WR_EX by B */
	T_EQ("rr none", pr_in_build(&st, PR_IN_READ_RESERVATION, buf, 64,
				    &full, &res), 8);
	static const uint8_t want_none[8] = { 0, 0, 0, 2, 0, 0, 0, 0 };
	assert_memory_equal(buf, want_none, 8);
	t_out(&st, &NB, PR_OUT_RESERVE, PR_TYPE_WR_EX, 0x1112131415161718ull,
	      0, 0, NULL, 0);
	T_EQ("rr trunc", pr_in_build(&st, PR_IN_READ_RESERVATION, buf, 10,
				     &full, &res), 10);
	T_EQ("rr full", full, 24);
	T_EQ("rr", pr_in_build(&st, PR_IN_READ_RESERVATION, buf, 64, &full,
			       &res), 24);
	static const uint8_t want_rr[24] = {
		0, 0, 0, 2, 0, 0, 0, 16,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0, 0, 0, 0, 0, 0x01, 0, 0,
	};
	assert_memory_equal(buf, want_rr, 24);
	pr_state_fini(&st);
}

static void t_report_capabilities(void **state)
{
	struct pr_state st;
	uint8_t buf[8];
	(void)state;
	struct pr_config cfg = { .max_regs = 2, .ptpl_c = true, .crh = true };
	assert_int_equal(pr_state_init(&st, &cfg), 0);
	T_EQ("len", pr_in_build(&st, PR_IN_REPORT_CAPABILITIES, buf, 8, NULL,
				&res), 8);
	/* CRH SIP_C ATP_C PTPL_C | TMV ALLOW=001b | WR_EX_AR EX_AC_RO
	 * WR_EX_RO EX_AC WR_EX | EX_AC_AR */
	static const uint8_t want[8] = { 0, 8, 0x1d, 0x90, 0xea, 0x01, 0, 0 };
	assert_memory_equal(buf, want, 8);
	/* PTPL_A follows the last REGISTER's APTPL */
	T_EQ("aptpl", t_out(&st, &NA, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01, NULL,
			    0), PR_STATUS_GOOD);
	pr_in_build(&st, PR_IN_REPORT_CAPABILITIES, buf, 8, NULL, &res);
	T_EQ("ptpl_a", buf[3], 0x91);
	pr_state_fini(&st);

	t_state(&st, 2, false);
	pr_in_build(&st, PR_IN_REPORT_CAPABILITIES, buf, 8, NULL, &res);
	T_EQ("no crh, no ptpl_c", buf[2], 0x0c);
	pr_state_fini(&st);
}

/*
 *   I1 ---- P1 ----+
 *                  +--- LUN    A = I1/P1 holder (WR_EX), key 0x0A;
 *   I2 ---- P2 ----+           D = I2/P2 ALL_TG_PT, key 0x0D
 */
static void t_read_full_status(void **state)
{
	struct pr_state st;
	uint8_t buf[1024], ta[300], td[300];
	uint32_t full = 0;
	(void)state;
	t_state(&st, 4, false);
	t_reg(&st, &NA, 0x0A);
	t_out(&st, &ND, PR_OUT_REGISTER, 0, 0, 0x0D, 0x04, NULL, 0);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX, 0x0A, 0, 0, NULL, 0);

	int la = pr_tid_encode(&NA.tid, ta, sizeof(ta));
	int ld = pr_tid_encode(&ND.tid, td, sizeof(td));
	assert_true(la > 0 && ld > 0);
	uint32_t total = 8 + 24 + (uint32_t)la + 24 + (uint32_t)ld;

	T_EQ("len", pr_in_build(&st, PR_IN_READ_FULL_STATUS, buf, sizeof(buf),
				&full, &res), total);
	T_EQ("full", full, total);
	/* header: generation 2, additional length */
	static const uint8_t hdr[4] = { 0, 0, 0, 2 };
	assert_memory_equal(buf, hdr, 4);
	T_EQ("addl", (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 |
		     buf[7], total - 8);
	/* A: key, R_HOLDER, LU_SCOPE/WR_EX, RTPI 1, its TransportID */
	const uint8_t *d = buf + 8;
	static const uint8_t want_a[24] = {
		0, 0, 0, 0, 0, 0, 0, 0x0A,  0, 0, 0, 0,
		0x01, 0x01, 0, 0, 0, 0, 0, 1,
	};
	assert_memory_equal(d, want_a, 20);
	T_EQ("a tid len", (uint32_t)d[20] << 24 | d[21] << 16 | d[22] << 8 |
			  d[23], la);
	assert_memory_equal(d + 24, ta, (size_t)la);
	/* D: key, ALL_TG_PT, no holder, RTPI 2 (registered through) */
	d += 24 + la;
	static const uint8_t want_d[20] = {
		0, 0, 0, 0, 0, 0, 0, 0x0D,  0, 0, 0, 0,
		0x02, 0x00, 0, 0, 0, 0, 0, 2,
	};
	assert_memory_equal(d, want_d, 20);
	assert_memory_equal(d + 24, td, (size_t)ld);

	/* truncated: the header still has the full length */
	uint8_t small[20];
	T_EQ("trunc", pr_in_build(&st, PR_IN_READ_FULL_STATUS, small,
				  sizeof(small), &full, &res), 20);
	T_EQ("trunc full", full, total);
	assert_memory_equal(small, buf, 20);

	/* all registrants: every descriptor is a holder */
	t_out(&st, &NA, PR_OUT_RELEASE, PR_TYPE_WR_EX, 0x0A, 0, 0, NULL, 0);
	t_out(&st, &ND, PR_OUT_RESERVE, PR_TYPE_EX_AC_AR, 0x0D, 0, 0, NULL, 0);
	pr_in_build(&st, PR_IN_READ_FULL_STATUS, buf, sizeof(buf), &full, &res);
	T_EQ("ar a", buf[8 + 12], 0x01);
	T_EQ("ar a type", buf[8 + 13], PR_TYPE_EX_AC_AR);
	T_EQ("ar d", buf[8 + 24 + la + 12], 0x03);
	pr_state_fini(&st);
}

/* Two states fed the same requests are byte-identical (the cluster
 * replicates the engine this way). */
static void t_determinism(void **state)
{
	struct pr_state s1, s2;
	(void)state;
	t_state(&s1, 4, false);
	t_state(&s2, 4, false);
	for (int round = 0; round < 2; round++) {
		struct pr_state *st = round ? &s2 : &s1;
		t_reg(st, &NA, KEY_A);
		t_reg(st, &NB, KEY_B);
		t_reg(st, &NC, KEY_B);
		t_out(st, &NB, PR_OUT_RESERVE, PR_TYPE_EX_AC_RO, KEY_B, 0, 0,
		      NULL, 0);
		t_out(st, &NA, PR_OUT_PREEMPT, PR_TYPE_WR_EX, KEY_A, KEY_B, 0,
		      NULL, 0);
		t_reg(st, &ND, KEY_NEW);
	}
	T_EQ("nregs", s1.nregs, s2.nregs);
	T_EQ("gen", s1.generation, s2.generation);
	T_EQ("holder", s1.holder, s2.holder);
	T_EQ("type", s1.type, PR_TYPE_WR_EX);
	assert_memory_equal(s1.regs, s2.regs, s1.cfg.max_regs *
			    sizeof(s1.regs[0]));
	uint8_t b1[1024], b2[1024];
	uint32_t n1 = pr_in_build(&s1, PR_IN_READ_FULL_STATUS, b1, sizeof(b1),
				  NULL, &res);
	uint32_t n2 = pr_in_build(&s2, PR_IN_READ_FULL_STATUS, b2, sizeof(b2),
				  NULL, &res);
	T_EQ("full status", n1, n2);
	assert_memory_equal(b1, b2, n1);
	T_EQ("equal", pr_state_equal(&s1, &s2), true);
	s2.regs[1].key ^= 1;
	T_EQ("key differs", pr_state_equal(&s1, &s2), false);
	s2.regs[1].key ^= 1;
	s2.s2_reserved = true; /* (registrations refuse a RESERVE(6)) */
	s2.s2_holder = NA;
	T_EQ("scsi-2 differs", pr_state_equal(&s1, &s2), false);
	pr_state_fini(&s1);
	pr_state_fini(&s2);
}

/*
 *   I1 ---- P1 ----+
 *     \            |
 *      +--- P2 ----+--- LUN    SCSI-2 RESERVE/RELEASE by A = I1/P1;
 *   I2 ---- P1 ----+           C = I1/P2 is another I_T nexus
 */
static void t_scsi2(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);

	/* 1. SPC-2: A reserves; C (same initiator, other port) and B
	 * conflict; A again: GOOD */
	T_EQ("1", pr_scsi2_reserve(&st, &NA), PR_STATUS_GOOD);
	T_EQ("1 A", pr_scsi2_conflict(&st, &NA), false);
	T_EQ("1 C", pr_scsi2_conflict(&st, &NC), true);
	T_EQ("1 B reserve", pr_scsi2_reserve(&st, &NB),
	     PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("1 C reserve", pr_scsi2_reserve(&st, &NC),
	     PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("1 A again", pr_scsi2_reserve(&st, &NA), PR_STATUS_GOOD);
	/* 2. B releases: GOOD, nothing; A releases: gone */
	T_EQ("2 B", pr_scsi2_release(&st, &NB), PR_STATUS_GOOD);
	T_EQ("2 still", pr_scsi2_conflict(&st, &NB), true);
	T_EQ("2 A", pr_scsi2_release(&st, &NA), PR_STATUS_GOOD);
	T_EQ("2 free", pr_scsi2_conflict(&st, &NB), false);
	/* 3. nexus loss of a non-holder keeps it; of the holder ends it */
	pr_scsi2_reserve(&st, &NB);
	pr_scsi2_reset(&st, &NA);
	T_EQ("3 kept", pr_scsi2_conflict(&st, &NA), true);
	pr_scsi2_reset(&st, &NB);
	T_EQ("3 gone", pr_scsi2_conflict(&st, &NA), false);
	/* 4. CRH = 0 and a registration anywhere: RESERVE/RELEASE conflict
	 * for everyone (SPC-2 5.5.1) */
	t_reg(&st, &NA, KEY_A);
	T_EQ("4 A", pr_scsi2_reserve(&st, &NA), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("4 B", pr_scsi2_release(&st, &NB), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("4 none", st.s2_reserved, false);
	pr_state_fini(&st);

	/* 5. CRH = 1 (SPC-4 5.14.3) */
	struct pr_config cfg = { .max_regs = 4, .crh = true };
	assert_int_equal(pr_state_init(&st, &cfg), 0);
	t_reg(&st, &NA, KEY_A);
	t_reg(&st, &NB, KEY_B);
	/* registrations, no reservation: a registrant is not exempt */
	T_EQ("5a", pr_scsi2_reserve(&st, &NA), PR_STATUS_RESERVATION_CONFLICT);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0, NULL, 0);
	/* the PR holder: GOOD, nothing reserved or released */
	T_EQ("5b", pr_scsi2_reserve(&st, &NA), PR_STATUS_GOOD);
	T_EQ("5b none", st.s2_reserved, false);
	T_EQ("5c", pr_scsi2_release(&st, &NA), PR_STATUS_GOOD);
	T_EQ("5c type", st.type, PR_TYPE_WR_EX);
	/* a registrant of WR_EX: conflict; unregistered: conflict */
	T_EQ("5d", pr_scsi2_reserve(&st, &NB), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("5e", pr_scsi2_reserve(&st, &NX), PR_STATUS_RESERVATION_CONFLICT);
	/* a registrant of a registrants-only reservation: GOOD */
	t_out(&st, &NA, PR_OUT_RELEASE, PR_TYPE_WR_EX, KEY_A, 0, 0, NULL, 0);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC_RO, KEY_A, 0, 0, NULL, 0);
	T_EQ("5f", pr_scsi2_reserve(&st, &NB), PR_STATUS_GOOD);
	T_EQ("5g", pr_scsi2_release(&st, &NX), PR_STATUS_RESERVATION_CONFLICT);
	T_EQ("5 none", st.s2_reserved, false);
	/* no registration left: plain SPC-2 again */
	t_out(&st, &NA, PR_OUT_CLEAR, 0, KEY_A, 0, 0, NULL, 0);
	T_EQ("5h", pr_scsi2_reserve(&st, &NX), PR_STATUS_GOOD);
	T_EQ("5h held", pr_scsi2_conflict(&st, &NA), true);
	pr_state_fini(&st);
}

/* --------------------------------------------------------------------- */
/* Decision: SPEC_I_PT naming an I_T nexus that is already registered.   */
/*
 * SPC-4 5.14.7 / 6.16.3: with SPEC_I_PT every named I_T nexus is
 * registered, all or none ("If a registration fails for any initiator
 * port ... no registrations shall be made, and the command shall be
 * terminated with CHECK CONDITION status"); a TransportID naming an I_T
 * nexus that is already registered is such a failure: the whole list is
 * refused with INVALID FIELD IN PARAMETER LIST pointing at it (T10
 * reflector, R. Elliott, 17 Apr 2008: the SPEC_I_PT words "require CHECK
 * CONDITION status and the register operation is aborted"). LIO skips
 * such TransportIDs and SCST overwrites their key; ctgt refuses. The I_T
 * nexus is (TransportID, RTPI): the named ports are registered through the
 * issuer's port, or through every port with ALL_TG_PT.
 *
 *   I1/P1 (issuer A)   I2/P1 (B, registered)   W/P2 (ALL_TG_PT, registered)
 *                      V/P2 (registered on P2 only)
 */
static void t_spec_i_pt_registered(void **state)
{
	struct pr_nexus w, v, b_other_isid, v1;
	struct pr_tid dev_i2 = { 0 };
	(void)state;
	t_nexus(&w, "iqn.2026-11.test:w", 5, 2);
	t_nexus(&v, "iqn.2026-11.test:v", 6, 2);
	t_nexus(&v1, "iqn.2026-11.test:v", 6, 1);
	t_nexus(&b_other_isid, "iqn.2026-11.test:i2", 0x42, 1);
	dev_i2 = NB.tid;
	dev_i2.format = PR_TID_FORMAT_DEVICE;
	memset(dev_i2.isid, 0, sizeof(dev_i2.isid));

	static const struct {
		const char *label;
		int who;             /* 0 B, 1 i2 by name, 2 W, 3 V, 4 B other
		                        ISID, 5 the issuer itself */
		uint8_t flags;       /* byte 20 besides SPEC_I_PT */
		bool good;
		int now_registered;  /* -1: none; else index into check[] */
	} rows[] = {
		{ "B, registered on P1", 0, 0, false, -1 },
		{ "i2 by name: covers B on P1", 1, 0, false, -1 },
		{ "W, ALL_TG_PT through P2: covers P1", 2, 0, false, -1 },
		{ "V, registered on P2 only: P1 is new", 3, 0, true, 0 },
		{ "V with ALL_TG_PT: covers P2 where V is", 3, 0x04, false, -1 },
		{ "B's name, another ISID: another port", 4, 0, true, 1 },
		{ "the issuer names itself", 5, 0, false, -1 },
	};
	const struct pr_tid *tids[] = { &NB.tid, &dev_i2, &w.tid, &v.tid,
					&b_other_isid.tid, &NA.tid };
	const struct pr_nexus *check[] = { &v1, &b_other_isid };

	for (size_t i = 0; i < T_ARRAY_SIZE(rows); i++) {
		struct pr_state st, before;
		t_state(&st, 8, false);
		t_state(&before, 8, false);
		T_EQ(rows[i].label, t_reg(&st, &NB, KEY_B), PR_STATUS_GOOD);
		T_EQ(rows[i].label, t_out(&st, &w, PR_OUT_REGISTER, 0, 0, 0x77,
					  0x04, NULL, 0), PR_STATUS_GOOD);
		T_EQ(rows[i].label, t_reg(&st, &v, 0x66), PR_STATUS_GOOD);
		assert_int_equal(pr_state_copy(&before, &st), 0);

		enum pr_status got = t_out(&st, &NA, PR_OUT_REGISTER, 0, 0,
					   KEY_A, rows[i].flags,
					   tids[rows[i].who], 1);
		if (rows[i].good) {
			T_EQ(rows[i].label, got, PR_STATUS_GOOD);
			T_EQ(rows[i].label, st.generation,
			     before.generation + 1);
			T_EQ(rows[i].label, st.nregs, before.nregs + 2);
			T_EQ(rows[i].label, t_key(&st, &NA), KEY_A);
			T_EQ(rows[i].label,
			     t_key(&st, check[rows[i].now_registered]), KEY_A);
			/* the registrations that were there keep their keys */
			T_EQ(rows[i].label, t_key(&st, &NB), KEY_B);
			T_EQ(rows[i].label, t_key(&st, &v), 0x66);
		} else {
			t_expect_field(rows[i].label,
				       PR_REASON_INVALID_FIELD_IN_PARAM_LIST,
				       false, 28, -1);
			T_EQ(rows[i].label, pr_state_equal(&st, &before), true);
			T_EQ(rows[i].label, t_key(&st, &NA), 0);
		}
		pr_state_fini(&st);
		pr_state_fini(&before);
	}
}

/* --------------------------------------------------------------------- */
/* Decision: PERSISTENT RESERVE IN/OUT under a SCSI-2 reservation.       */
/*
 * SPC-2 5.5.1: while a logical unit is reserved by RESERVE(6)/(10), "all
 * PERSISTENT RESERVE IN and all PERSISTENT RESERVE OUT commands shall
 * conflict regardless of initiator or service action". The SCSI-2 gate
 * already stops every other nexus (PR IN/OUT are not exempt there);
 * pr_check stops the holder. Other classes are left to the SCSI-2 gate
 * (pr_check does not judge them by the SCSI-2 reservation).
 *
 *   A = I1/P1 holds RESERVE(6); B = I2/P1; C = I1/P2
 */
static void t_scsi2_pr_commands(void **state)
{
	struct pr_state st;
	(void)state;
	t_state(&st, 4, false);

	static const struct {
		int who;      /* 0 A (holder), 1 B, 2 C */
		enum pr_class cls;
		enum pr_status reserved, released;
	} rows[] = {
		{ 0, PR_CLASS_PR_IN, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		{ 0, PR_CLASS_PR_OUT, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		{ 1, PR_CLASS_PR_IN, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		{ 1, PR_CLASS_PR_OUT, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		{ 2, PR_CLASS_PR_IN, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		{ 2, PR_CLASS_PR_OUT, PR_STATUS_RESERVATION_CONFLICT, PR_STATUS_GOOD },
		/* the SCSI-2 gate's business, not pr_check's */
		{ 0, PR_CLASS_WRITE, PR_STATUS_GOOD, PR_STATUS_GOOD },
		{ 0, PR_CLASS_READ, PR_STATUS_GOOD, PR_STATUS_GOOD },
		{ 1, PR_CLASS_ALLOWED, PR_STATUS_GOOD, PR_STATUS_GOOD },
		{ 1, PR_CLASS_CONFLICT, PR_STATUS_GOOD, PR_STATUS_GOOD },
	};
	const struct pr_nexus *who[] = { &NA, &NB, &NC };

	T_EQ("RESERVE(6) by A", pr_scsi2_reserve(&st, &NA), PR_STATUS_GOOD);
	for (size_t i = 0; i < T_ARRAY_SIZE(rows); i++) {
		char label[64];
		snprintf(label, sizeof(label), "reserved: row %zu", i);
		T_EQ(label, pr_check(&st, who[rows[i].who], rows[i].cls),
		     rows[i].reserved);
	}
	T_EQ("RELEASE(6) by A", pr_scsi2_release(&st, &NA), PR_STATUS_GOOD);
	for (size_t i = 0; i < T_ARRAY_SIZE(rows); i++) {
		char label[64];
		snprintf(label, sizeof(label), "released: row %zu", i);
		T_EQ(label, pr_check(&st, who[rows[i].who], rows[i].cls),
		     rows[i].released);
	}
	/* a reset ends the SCSI-2 reservation: PR IN runs again */
	pr_scsi2_reserve(&st, &NB);
	T_EQ("B holds: A's PR IN", pr_check(&st, &NA, PR_CLASS_PR_IN),
	     PR_STATUS_RESERVATION_CONFLICT);
	pr_scsi2_reset(&st, NULL);
	T_EQ("after reset: A's PR IN", pr_check(&st, &NA, PR_CLASS_PR_IN),
	     PR_STATUS_GOOD);
	/* under a persistent reservation PR IN/OUT stay allowed (table 63) */
	t_reg(&st, &NA, KEY_A);
	t_out(&st, &NA, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_A, 0, 0, NULL, 0);
	T_EQ("EX_AC: B's PR IN", pr_check(&st, &NB, PR_CLASS_PR_IN),
	     PR_STATUS_GOOD);
	T_EQ("EX_AC: B's PR OUT", pr_check(&st, &NB, PR_CLASS_PR_OUT),
	     PR_STATUS_GOOD);
	pr_state_fini(&st);
}

/* --------------------------------------------------------------------- */
/* Random walks: invariants after every request, and replay equality.    */

static uint64_t t_rng;

static uint32_t t_rand(uint32_t n)
{
	t_rng ^= t_rng << 13;
	t_rng ^= t_rng >> 7;
	t_rng ^= t_rng << 17;
	return (uint32_t)(t_rng % n);
}

struct t_snap {
	uint32_t nregs, generation, holder;
	uint8_t type;
	struct pr_reg regs[6];
};

static void t_snap_take(const struct pr_state *st, struct t_snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	sn->nregs = st->nregs;
	sn->generation = st->generation;
	sn->holder = st->holder;
	sn->type = st->type;
	memcpy(sn->regs, st->regs, st->cfg.max_regs * sizeof(st->regs[0]));
}

/* One random request from one of five nexuses; returns the SA. */
static uint8_t t_random_step(struct pr_state *st, const struct pr_nexus **who)
{
	static const uint8_t types[] = { 1, 3, 5, 6, 7, 8 };
	static const uint64_t keys[] = { 0, 1, 2, 3 };
	const struct pr_nexus *ns[] = { &NA, &NB, &NC, &ND, &NX };
	const struct pr_nexus *n = ns[t_rand(5)];
	uint8_t sa = (uint8_t)t_rand(8);
	uint8_t type = types[t_rand(6)];
	uint64_t key = t_rand(4) ? t_key(st, n) : keys[t_rand(4)];
	uint64_t sa_key = keys[t_rand(4)];
	*who = n;
	if (sa == PR_OUT_REGISTER_AND_MOVE) {
		t_move(st, n, type, key, sa_key, t_rand(2), ns[t_rand(5)]);
		return sa;
	}
	t_out(st, n, sa, type, key, sa_key, t_rand(4) ? 0 : 0x04, NULL, 0);
	return sa;
}

static void t_random_walks(void **state)
{
	uint32_t good[8] = { 0 }, reserved_steps = 0;
	(void)state;
	for (int walk = 0; walk < 200; walk++) {
		struct pr_state st, twin;
		uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(walk + 1);
		t_state(&st, 6, false);
		t_state(&twin, 6, false);
		t_rng = seed;
		for (int step = 0; step < 60; step++) {
			struct t_snap before;
			const struct pr_nexus *who;
			t_snap_take(&st, &before);
			uint8_t sa = t_random_step(&st, &who);
			char label[64];
			snprintf(label, sizeof(label), "walk %d step %d sa %u",
				 walk, step, sa);
			if (res.status != PR_STATUS_GOOD) {
				struct t_snap after;
				t_snap_take(&st, &after);
				if (memcmp(&before, &after, sizeof(after)) != 0)
					fail_msg("%s: refused but changed", label);
			}
			uint32_t delta = st.generation - before.generation;
			if (sa == PR_OUT_RESERVE || sa == PR_OUT_RELEASE ||
			    res.status != PR_STATUS_GOOD)
				T_EQ(label, delta, 0);
			else if (sa != PR_OUT_REGISTER &&
				 sa != PR_OUT_REGISTER_AND_IGNORE)
				T_EQ(label, delta, 1);
			else
				T_EQ(label, delta <= 1, true);
			T_EQ(label, st.nregs <= 6, true);
			if (st.type == PR_TYPE_NONE)
				T_EQ(label, st.holder, PR_HOLDER_NONE);
			else if (pr_type_all_registrants(st.type)) {
				T_EQ(label, st.holder, PR_HOLDER_NONE);
				T_EQ(label, st.nregs > 0, true);
			} else
				T_EQ(label, st.holder < st.nregs, true);
			for (uint32_t i = 0; i < st.nregs; i++)
				T_EQ(label, st.regs[i].key != 0, true);
			for (uint32_t i = 0; i < res.ua_count; i++)
				T_EQ(label, t_target_is(&res.ua[i], who, false),
				     false);
			T_EQ(label, res.ua_lost, 0);
			if (res.status == PR_STATUS_GOOD)
				good[sa]++;
			reserved_steps += st.type != PR_TYPE_NONE;
		}
		/* the same inputs in the same order: the same state */
		t_rng = seed;
		for (int step = 0; step < 60; step++) {
			const struct pr_nexus *who;
			t_random_step(&twin, &who);
		}
		T_EQ("replay equal", pr_state_equal(&st, &twin), true);
		struct t_snap a, b;
		t_snap_take(&st, &a);
		t_snap_take(&twin, &b);
		assert_memory_equal(&a, &b, sizeof(a));
		pr_state_fini(&st);
		pr_state_fini(&twin);
	}
	/* the walks reach every service action's success path */
	for (int sa = 0; sa < 8; sa++)
		if (good[sa] < 10)
			fail_msg("sa %d succeeded only %u times", sa, good[sa]);
	T_EQ("reserved often", reserved_steps > 1000, true);
}

/* Random CDBs and parameter lists: decode reads only the bytes it was
 * given (the list sits at the end of a heap block, for ASan), and every
 * refusal names a field inside what it was given. */
static void t_decode_random(void **state)
{
	(void)state;
	t_rng = 0x2545f4914f6cdd1dull;
	for (int i = 0; i < 20000; i++) {
		uint8_t cdb[10];
		uint32_t plen = t_rand(4) ? 24 + t_rand(80) : t_rand(120);
		uint8_t *param = test_malloc(plen ? plen : 1);
		for (int k = 0; k < 10; k++)
			cdb[k] = (uint8_t)t_rand(256);
		for (uint32_t k = 0; k < plen; k++)
			param[k] = (uint8_t)t_rand(256);
		cdb[1] = (uint8_t)t_rand(10);
		if (t_rand(2))
			cdb[2] = (uint8_t)t_rand(9);
		/* mostly the true length, sometimes anything */
		t_put32(cdb + 5, t_rand(4) ? plen : (uint32_t)t_rand(200));
		if (plen >= 24 && t_rand(2)) {
			param[20] = (uint8_t)(t_rand(2) ? 0x08 : param[20]);
			if (plen >= 28)
				t_put32(param + 24, t_rand(plen - 27));
		}
		struct pr_out_req req;
		t_res_arm();
		if (pr_out_decode(cdb, param, plen, &req, &res)) {
			T_EQ("ok", res.status, PR_STATUS_GOOD);
			T_EQ("tids", req.ntids <= PR_OUT_TIDS_MAX, true);
		} else {
			T_EQ("refused", res.status, PR_STATUS_CHECK_CONDITION);
			if (res.field.valid)
				T_EQ("field inside", res.field.cdb ?
				     res.field.byte < 10 : res.field.byte < plen,
				     true);
		}
		test_free(param);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sa_type_role),
		cmocka_unit_test(t_conflict_table),
		cmocka_unit_test(t_decode_errors),
		cmocka_unit_test(t_scenario_basic),
		cmocka_unit_test(t_scenario_all_tg_pt),
		cmocka_unit_test(t_scenario_uas),
		cmocka_unit_test(t_scenario_preempt_abort_ar),
		cmocka_unit_test(t_scenario_register_and_move),
		cmocka_unit_test(t_spec_i_pt),
		cmocka_unit_test(t_generation_wrap),
		cmocka_unit_test(t_read_keys_truncation),
		cmocka_unit_test(t_report_capabilities),
		cmocka_unit_test(t_read_full_status),
		cmocka_unit_test(t_determinism),
		cmocka_unit_test(t_scsi2),
		cmocka_unit_test(t_spec_i_pt_registered),
		cmocka_unit_test(t_scsi2_pr_commands),
		cmocka_unit_test(t_random_walks),
		cmocka_unit_test(t_decode_random),
	};
	return cmocka_run_group_tests(tests, t_setup_nexuses, NULL);
}
