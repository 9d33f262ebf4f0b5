/*
 * Unit tests of the replicated LU state (src/scsi/lu_repl.c) and its
 * message codec (lu_repl_msg.c). Every message of a scenario goes the way
 * the glue will send it: PR OUT CDB + parameter list through the real
 * pr_out_decode on the issuing node, lu_repl_msg_encode, then on each of
 * three nodes lu_repl_msg_decode and lu_repl_apply; after every delivery
 * the three nodes must report the same effects and save the same bytes.
 *
 *   initiator I1 (iqn...:i1)                  initiator I2 (iqn...:i2)
 *        |          \                          /           |
 *   node 1, group 1             node 2, group 2            node 3,
 *   RTPI 1      RTPI 2          RTPI 3      RTPI 4         group 3,
 *        \__________\______________/___________/           RTPI 5
 *                     one LU (one lu_repl state per node)
 *
 * Nexuses: A1 = I1/RTPI 1 and A3 = I1/RTPI 3 (one initiator port through
 * node 1 and node 2), B2 = I2/RTPI 2, B4 = I2/RTPI 4, C5 = I3/RTPI 5.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pr/pr_aptpl.h"
#include "scsi/lu_repl.h"
#include "scsi/port_dir.h"
#include "../t_eq.h"
#include "../t_pr_nexus.h"

#define T_NODES 3
#define T_REGS 8

#define KEY_A 0xAAAA0000000000A1ull
#define KEY_B 0xBBBB0000000000B2ull
#define KEY_C 0xCCCC0000000000C3ull

struct t_node {
	struct lu_repl lu;
	struct pr_target ua[T_REGS], ab[T_REGS];
	struct lu_repl_effects fx;
};

static struct t_node nodes[T_NODES];
static struct port_dir *dir;
static struct pr_nexus A1, A3, B2, B4, C5;

static void t_dir_node(uint32_t node, const uint16_t *rtpis, uint32_t n)
{
	struct port_dir_announce a;

	memset(&a, 0, sizeof(a));
	a.node = node;
	a.nports = n;
	for (uint32_t i = 0; i < n; i++) {
		a.ports[i].rtpi = rtpis[i];
		a.ports[i].port_group = (uint16_t)node;
		a.ports[i].tpg_tag = (uint16_t)(i + 1);
		snprintf(a.ports[i].target, sizeof(a.ports[i].target),
			 "iqn.2026-11.test:t%u", node);
	}
	T_EQ("announce", port_dir_announce(dir, &a, NULL), PORT_DIR_OK);
}

static void t_cluster_cfg(bool ptpl_c)
{
	struct pr_config cfg = { .max_regs = T_REGS, .ptpl_c = ptpl_c,
				 .crh = true };

	for (int i = 0; i < T_NODES; i++) {
		assert_int_equal(lu_repl_init(&nodes[i].lu, &cfg), 0);
		nodes[i].fx.pr.ua = nodes[i].ua;
		nodes[i].fx.pr.ua_cap = T_REGS;
		nodes[i].fx.pr.aborts = nodes[i].ab;
		nodes[i].fx.pr.abort_cap = T_REGS;
	}
	assert_int_equal(port_dir_create(&dir), 0);
	t_dir_node(1, (uint16_t[]){ 1, 2 }, 2);
	t_dir_node(2, (uint16_t[]){ 3, 4 }, 2);
	t_dir_node(3, (uint16_t[]){ 5 }, 1);
}

static int t_setup(void **state)
{
	(void)state;
	t_nexus(&A1, "iqn.2026-11.test:i1", 1, 1);
	t_nexus(&A3, "iqn.2026-11.test:i1", 1, 3);
	t_nexus(&B2, "iqn.2026-11.test:i2", 2, 2);
	t_nexus(&B4, "iqn.2026-11.test:i2", 2, 4);
	t_nexus(&C5, "iqn.2026-11.test:i3", 3, 5);
	t_cluster_cfg(false);
	return 0;
}

static int t_setup_aptpl(void **state)
{
	t_setup(state);
	for (int i = 0; i < T_NODES; i++)
		lu_repl_fini(&nodes[i].lu);
	port_dir_destroy(dir);
	t_cluster_cfg(true);
	return 0;
}

static int t_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < T_NODES; i++)
		lu_repl_fini(&nodes[i].lu);
	port_dir_destroy(dir);
	dir = NULL;
	return 0;
}

/* Saved bytes of a state (free them). */
static uint8_t *t_save(const struct lu_repl *lu, size_t *len)
{
	void *data;

	assert_int_equal(lu_repl_save(lu, &data, len), 0);
	return data;
}

static void t_fx_same(const struct lu_repl_effects *a,
		      const struct lu_repl_effects *b)
{
	T_EQ("status", a->pr.status, b->pr.status);
	T_EQ("reason", a->pr.reason, b->pr.reason);
	assert_memory_equal(&a->pr.field, &b->pr.field, sizeof(a->pr.field));
	T_EQ("UAs", a->pr.ua_count, b->pr.ua_count);
	T_EQ("aborts", a->pr.abort_count, b->pr.abort_count);
	for (uint32_t i = 0; i < a->pr.ua_count; i++) {
		assert_true(pr_tid_equal(&a->pr.ua[i].tid, &b->pr.ua[i].tid));
		T_EQ("UA rtpi", a->pr.ua[i].rtpi, b->pr.ua[i].rtpi);
		T_EQ("UA kind", a->pr.ua[i].kind, b->pr.ua[i].kind);
		T_EQ("UA all", a->pr.ua[i].all_ports, b->pr.ua[i].all_ports);
	}
	for (uint32_t i = 0; i < a->pr.abort_count; i++)
		assert_true(pr_tid_equal(&a->pr.aborts[i].tid,
					 &b->pr.aborts[i].tid));
	T_EQ("ua_all", a->ua_all, b->ua_all);
	T_EQ("abort_all", a->abort_all, b->abort_all);
	T_EQ("s2_released", a->s2_released, b->s2_released);
	T_EQ("persist", a->persist, b->persist);
	T_EQ("persist epoch", a->persist_epoch, b->persist_epoch);
	T_EQ("persist generation", a->persist_generation,
	     b->persist_generation);
}

/* Every node holds the same bytes as node 0, and so does a state rebuilt
 * from them. */
static void t_check_same(void)
{
	size_t l0, l;
	uint8_t *s0 = t_save(&nodes[0].lu, &l0);
	struct lu_repl fresh;

	for (int i = 1; i < T_NODES; i++) {
		uint8_t *s = t_save(&nodes[i].lu, &l);

		T_EQ("saved length", l, l0);
		assert_memory_equal(s, s0, l0);
		assert_true(lu_repl_equal(&nodes[i].lu, &nodes[0].lu));
		free(s);
	}
	assert_int_equal(lu_repl_init(&fresh, &nodes[0].lu.pr.cfg), 0);
	assert_int_equal(lu_repl_load(&fresh, s0, l0), 0);
	assert_true(lu_repl_equal(&fresh, &nodes[0].lu));
	uint8_t *s = t_save(&fresh, &l);
	T_EQ("reloaded length", l, l0);
	assert_memory_equal(s, s0, l0);
	free(s);
	lu_repl_fini(&fresh);
	free(s0);
}

/* Encodes m, delivers it to every node, checks they agree; returns node
 * 0's effects. */
static const struct lu_repl_effects *t_deliver(const struct lu_repl_msg *m)
{
	static uint8_t buf[LU_REPL_MSG_MAX];
	static struct lu_repl_msg got;
	ssize_t n = lu_repl_msg_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	for (int i = 0; i < T_NODES; i++) {
		T_EQ("decode", lu_repl_msg_decode(buf, (size_t)n, &got), 0);
		lu_repl_apply(&nodes[i].lu, &got, port_dir_port_exists, dir,
			      &nodes[i].fx);
		if (i)
			t_fx_same(&nodes[0].fx, &nodes[i].fx);
	}
	t_check_same();
	return &nodes[0].fx;
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

/* A PR OUT message as the issuing node builds it: the real decode of a
 * CDB and a basic parameter list (flags: byte 20, ALL_TG_PT 04h, APTPL
 * 01h), or of REGISTER AND MOVE to dest / move_rtpi when dest is set. */
static void t_pr_msg(struct lu_repl_msg *m, const struct pr_nexus *n,
		     uint8_t sa, uint8_t type, uint64_t key, uint64_t sa_key,
		     uint8_t flags, const struct pr_tid *dest,
		     uint16_t move_rtpi)
{
	uint8_t cdb[10] = { 0x5f, sa, type }, param[512];
	struct pr_result res = { 0 };
	uint32_t len = 24;

	memset(param, 0, sizeof(param));
	t_put64(param, key);
	t_put64(param + 8, sa_key);
	if (dest) {
		int k = pr_tid_encode(dest, param + 24, sizeof(param) - 24);

		assert_true(k > 0);
		param[17] = flags;
		param[18] = (uint8_t)(move_rtpi >> 8);
		param[19] = (uint8_t)move_rtpi;
		t_put32(param + 20, (uint32_t)k);
		len += (uint32_t)k;
	} else {
		param[20] = flags;
	}
	t_put32(cdb + 5, len);
	memset(m, 0, sizeof(*m));
	m->type = LU_REPL_MSG_PR_OUT;
	m->nexus = *n;
	assert_true(pr_out_decode(cdb, param, len, &m->req, &res));
}

/* REGISTER with SPEC_I_PT: n registers itself and tids[0, ntids) with
 * SERVICE ACTION RESERVATION KEY sa_key (flags: byte 20 besides 08h). */
static void t_spec_msg(struct lu_repl_msg *m, const struct pr_nexus *n,
		       uint64_t sa_key, uint8_t flags,
		       const struct pr_tid *const *tids, uint32_t ntids)
{
	uint8_t cdb[10] = { 0x5f, PR_OUT_REGISTER, 0 }, param[1024];
	struct pr_result res = { 0 };
	uint32_t len = 28;

	memset(param, 0, sizeof(param));
	t_put64(param + 8, sa_key);
	param[20] = (uint8_t)(flags | 0x08);
	for (uint32_t i = 0; i < ntids; i++) {
		int k = pr_tid_encode(tids[i], param + len,
				      sizeof(param) - len);

		assert_true(k > 0);
		len += (uint32_t)k;
	}
	t_put32(param + 24, len - 28);
	t_put32(cdb + 5, len);
	memset(m, 0, sizeof(*m));
	m->type = LU_REPL_MSG_PR_OUT;
	m->nexus = *n;
	assert_true(pr_out_decode(cdb, param, len, &m->req, &res));
}

static const struct lu_repl_effects *t_pr(const struct pr_nexus *n,
					  uint8_t sa, uint8_t type,
					  uint64_t key, uint64_t sa_key,
					  uint8_t flags)
{
	struct lu_repl_msg m;

	t_pr_msg(&m, n, sa, type, key, sa_key, flags, NULL, 0);
	return t_deliver(&m);
}

static const struct lu_repl_effects *t_simple(uint8_t type,
					      const struct pr_nexus *n)
{
	struct lu_repl_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.nexus = *n;
	return t_deliver(&m);
}

/* NODE_LEFT as the glue builds it: the RTPIs from the port directory,
 * then the directory's own NODE_LEFT. */
static const struct lu_repl_effects *t_node_left(uint32_t node)
{
	struct lu_repl_msg m;
	const struct lu_repl_effects *fx;

	memset(&m, 0, sizeof(m));
	m.type = LU_REPL_MSG_NODE_LEFT;
	m.node = node;
	m.nrtpis = port_dir_node_rtpis(dir, node, m.rtpis,
				       LU_REPL_NODE_RTPIS_MAX);
	fx = t_deliver(&m);
	port_dir_node_left(dir, node);
	return fx;
}

static uint64_t t_key(const struct pr_nexus *n)
{
	const struct pr_reg *r = pr_reg_find(&nodes[0].lu.pr, n);

	return r ? r->key : 0;
}

static const struct pr_state *t_pr_state(void)
{
	return &nodes[0].lu.pr;
}

/* ------------------------------------------------------------ scenarios */

/*
 *   I1 --RTPI 1-- node 1          node 2 --RTPI 4-- I2
 *   A1: REGISTER KEY_A            B4: REGISTER KEY_B
 *   A1: RESERVE WR_EX             B4: RESERVE -> RESERVATION CONFLICT
 *   every node: writes from B4 conflict, from A1 pass.
 */
static void test_pr_out_through_two_nodes(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	T_EQ("register A1", fx->pr.status, PR_STATUS_GOOD);
	assert_true(fx->has_issuer);
	assert_true(pr_tid_equal(&fx->issuer.tid, &A1.tid));
	fx = t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	T_EQ("register B4", fx->pr.status, PR_STATUS_GOOD);
	T_EQ("generation", t_pr_state()->generation, 2);
	T_EQ("key A1", t_key(&A1), KEY_A);
	T_EQ("key B4", t_key(&B4), KEY_B);
	T_EQ("A3 not registered", t_key(&A3), 0);

	fx = t_pr(&A1, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	T_EQ("reserve", fx->pr.status, PR_STATUS_GOOD);
	T_EQ("generation unchanged", t_pr_state()->generation, 2);
	fx = t_pr(&B4, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_B, 0, 0);
	T_EQ("B4 reserve", fx->pr.status, PR_STATUS_RESERVATION_CONFLICT);
	fx = t_pr(&B4, PR_OUT_REGISTER, 0, KEY_A, KEY_C, 0);
	T_EQ("wrong key", fx->pr.status, PR_STATUS_RESERVATION_CONFLICT);
	assert_false(fx->persist);
	for (int i = 0; i < T_NODES; i++) {
		T_EQ("B4 write", pr_check(&nodes[i].lu.pr, &B4, PR_CLASS_WRITE),
		     PR_STATUS_RESERVATION_CONFLICT);
		T_EQ("A1 write", pr_check(&nodes[i].lu.pr, &A1, PR_CLASS_WRITE),
		     PR_STATUS_GOOD);
	}
}

/*
 *   I1 --RTPI 1-- node 1 (holder, WR_EX)
 *        REGISTER AND MOVE to I2 via RTPI 9 -> no such port: CHECK
 *        CONDITION, 05/26/00 at parameter byte 18 (as spc_pr.c), unchanged
 *        REGISTER AND MOVE to I2 via RTPI 4 --> node 2: I2/RTPI 4 holds
 *   node 3 leaves; I2 moves to I3 via RTPI 5 (known, unavailable): GOOD
 */
static void test_register_and_move_to_other_node(void **state)
{
	const struct lu_repl_effects *fx;
	struct lu_repl_msg m;
	size_t l0, l1;
	uint8_t *before, *after;

	(void)state;
	t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	t_pr(&A1, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);

	t_pr_msg(&m, &A1, PR_OUT_REGISTER_AND_MOVE, PR_TYPE_WR_EX, KEY_A,
		 KEY_B, 0, &B4.tid, 9);
	before = t_save(&nodes[0].lu, &l0);
	fx = t_deliver(&m);
	T_EQ("status", fx->pr.status, PR_STATUS_CHECK_CONDITION);
	T_EQ("reason", fx->pr.reason, PR_REASON_INVALID_FIELD_IN_PARAM_LIST);
	assert_true(fx->pr.field.valid);
	assert_false(fx->pr.field.cdb);
	T_EQ("byte", fx->pr.field.byte, 18);
	T_EQ("bit", fx->pr.field.bit, -1);
	after = t_save(&nodes[0].lu, &l1);
	T_EQ("unchanged", l0, l1);
	assert_memory_equal(before, after, l0);
	free(before);
	free(after);

	t_pr_msg(&m, &A1, PR_OUT_REGISTER_AND_MOVE, PR_TYPE_WR_EX, KEY_A,
		 KEY_B, 0x02 /* UNREG */, &B4.tid, 4);
	fx = t_deliver(&m);
	T_EQ("move", fx->pr.status, PR_STATUS_GOOD);
	assert_true(pr_state_is_holder(t_pr_state(), &B4));
	assert_false(pr_state_is_holder(t_pr_state(), &B2));
	T_EQ("A1 unregistered", t_key(&A1), 0);
	T_EQ("B4 key", t_key(&B4), KEY_B);
	T_EQ("generation", t_pr_state()->generation, 2);

	/* node 3 leaves: its RTPI 5 stays a known port, a move there is
	 * accepted (the port exists, unavailable) */
	t_node_left(3);
	t_pr_msg(&m, &B4, PR_OUT_REGISTER_AND_MOVE, PR_TYPE_WR_EX, KEY_B,
		 KEY_C, 0, &C5.tid, 5);
	fx = t_deliver(&m);
	T_EQ("move to departed node's port", fx->pr.status, PR_STATUS_GOOD);
	assert_true(pr_state_is_holder(t_pr_state(), &C5));
}

/*
 *          +--RTPI 1-- node 1
 *   I1 ----+                       REGISTER ALL_TG_PT via RTPI 1: one
 *          +--RTPI 3-- node 2      registration for I1 on every port
 *   A3 (node 2) reserves with KEY_A. B4 (node 2) preempts KEY_A: the UA
 *   REGISTRATIONS PREEMPTED covers A1 (node 1 raises it) and A3 (node 2).
 */
static void test_all_tg_pt_covers_every_node(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0x04);
	T_EQ("register all ports", fx->pr.status, PR_STATUS_GOOD);
	T_EQ("one registration", t_pr_state()->nregs, 1);
	T_EQ("A3 key", t_key(&A3), KEY_A);
	fx = t_pr(&A3, PR_OUT_RESERVE, PR_TYPE_EX_AC, KEY_A, 0, 0);
	T_EQ("A3 reserves", fx->pr.status, PR_STATUS_GOOD);
	assert_true(pr_state_is_holder(t_pr_state(), &A1));

	t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	fx = t_pr(&B4, PR_OUT_PREEMPT, PR_TYPE_WR_EX, KEY_B, KEY_A, 0);
	T_EQ("preempt", fx->pr.status, PR_STATUS_GOOD);
	T_EQ("UAs", fx->pr.ua_count, 1);
	T_EQ("kind", fx->pr.ua[0].kind, LU_REPL_UA_REGISTRATIONS_PREEMPTED);
	assert_true(pr_target_match(&fx->pr.ua[0], &A1));
	assert_true(pr_target_match(&fx->pr.ua[0], &A3));
	assert_false(pr_target_match(&fx->pr.ua[0], &B4));
	T_EQ("no aborts", fx->pr.abort_count, 0);
	/* what each node raises on its own nexuses: node 1 on A1, node 2
	 * on A3; nothing on the issuer B4 nor on B2 */
	T_EQ("A1", lu_repl_effects_ua_for(fx, &A1),
	     1u << LU_REPL_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("A3", lu_repl_effects_ua_for(fx, &A3),
	     1u << LU_REPL_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("B4", lu_repl_effects_ua_for(fx, &B4), 0);
	T_EQ("B2", lu_repl_effects_ua_for(fx, &B2), 0);
	assert_false(lu_repl_effects_abort_for(fx, &A3));
	assert_true(pr_state_is_holder(t_pr_state(), &B4));
}

/*
 *   node 1: A1 (holder, WR_EX), B2 (registered)     node 3: C5 (registered)
 *   C5: PREEMPT AND ABORT KEY_A, type EX_AC
 *     aborts: A1 only (not A3: other port; not C5: the issuer)
 *     UAs:    A1 2A/05 registrations preempted, B2 2A/04 (type changed)
 */
static void test_preempt_and_abort(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	t_pr(&B2, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	t_pr(&C5, PR_OUT_REGISTER, 0, 0, KEY_C, 0);
	t_pr(&A1, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	fx = t_pr(&C5, PR_OUT_PREEMPT_AND_ABORT, PR_TYPE_EX_AC, KEY_C, KEY_A,
		  0);
	T_EQ("status", fx->pr.status, PR_STATUS_GOOD);
	T_EQ("aborts", fx->pr.abort_count, 1);
	assert_true(pr_target_match(&fx->pr.aborts[0], &A1));
	assert_false(pr_target_match(&fx->pr.aborts[0], &B2));
	assert_false(pr_target_match(&fx->pr.aborts[0], &C5));
	assert_false(fx->abort_all);
	assert_true(lu_repl_effects_abort_for(fx, &A1));
	assert_false(lu_repl_effects_abort_for(fx, &A3)); /* other port */
	assert_false(lu_repl_effects_abort_for(fx, &B2));
	assert_false(lu_repl_effects_abort_for(fx, &C5)); /* the issuer */
	T_EQ("A1 UA", lu_repl_effects_ua_for(fx, &A1),
	     1u << LU_REPL_UA_REGISTRATIONS_PREEMPTED);
	T_EQ("B2 UA", lu_repl_effects_ua_for(fx, &B2),
	     1u << LU_REPL_UA_RESERVATIONS_RELEASED);
	T_EQ("C5 UA", lu_repl_effects_ua_for(fx, &C5), 0);
	assert_true(fx->has_issuer);
	assert_true(pr_tid_equal(&fx->issuer.tid, &C5.tid));
	T_EQ("issuer port", fx->issuer.rtpi, 5);
	/* A1 preempted; B2 told the reservation type changed */
	T_EQ("UAs", fx->pr.ua_count, 2);
	T_EQ("A1 gone", t_key(&A1), 0);
	T_EQ("B2 stays", t_key(&B2), KEY_B);
	assert_true(pr_state_is_holder(t_pr_state(), &C5));
	T_EQ("type", t_pr_state()->type, PR_TYPE_EX_AC);
	T_EQ("generation", t_pr_state()->generation, 4);
}

/*
 *   I1 --RTPI 1-- node 1: RESERVE(6)     node 2 --RTPI 4-- I2: LUN RESET
 *   -> SCSI-2 reservation ends; on every node, every I_T nexus of the LU
 *      (the issuer's too): 29/03 and its tasks aborted. Then with PRs
 *      held, a second reset (via A3) leaves them as they are.
 */
static void test_lun_reset(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	fx = t_simple(LU_REPL_MSG_SCSI2_RESERVE, &A1);
	T_EQ("reserve", fx->pr.status, PR_STATUS_GOOD);
	fx = t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	T_EQ("PR OUT under SCSI-2", fx->pr.status,
	     PR_STATUS_RESERVATION_CONFLICT);
	fx = t_simple(LU_REPL_MSG_LUN_RESET, &B4);
	T_EQ("status", fx->pr.status, PR_STATUS_GOOD);
	assert_true(fx->lun_reset);
	assert_true(fx->s2_released);
	assert_true(fx->ua_all);
	T_EQ("UA kind", fx->ua_all_kind, LU_REPL_UA_LUN_RESET);
	assert_true(fx->abort_all);
	T_EQ("no listed UAs", fx->pr.ua_count, 0);
	/* every node: 29/03 and abort on every nexus, the issuer's too */
	T_EQ("A1", lu_repl_effects_ua_for(fx, &A1), 1u << LU_REPL_UA_LUN_RESET);
	T_EQ("B4", lu_repl_effects_ua_for(fx, &B4), 1u << LU_REPL_UA_LUN_RESET);
	assert_true(lu_repl_effects_abort_for(fx, &B4));
	assert_true(lu_repl_effects_abort_for(fx, &C5));
	assert_false(t_pr_state()->s2_reserved);
	T_EQ("resets", nodes[0].lu.lun_resets, 1);

	t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	t_pr(&A1, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	fx = t_simple(LU_REPL_MSG_LUN_RESET, &A3);
	assert_false(fx->s2_released);
	T_EQ("PR stays", t_key(&A1), KEY_A);
	assert_true(pr_state_is_holder(t_pr_state(), &A1));
	T_EQ("resets", nodes[2].lu.lun_resets, 2);

	/* TARGET RESET (SAM-5 6.3.2): the same for the LU, with 29/00. */
	fx = t_simple(LU_REPL_MSG_TARGET_RESET, &A3);
	assert_true(fx->abort_all && fx->lun_reset && fx->ua_all);
	assert_true(pr_state_is_holder(t_pr_state(), &A1));
	T_EQ("target reset UA", lu_repl_effects_ua_for(fx, &C5),
	     1u << LU_REPL_UA_POWER_ON);
	T_EQ("resets", nodes[1].lu.lun_resets, 3);
}

/*
 *   node 1 (RTPI 1,2)      node 2 (RTPI 3,4)       node 3 (RTPI 5)
 *   A1, B2: conflict       B4: RESERVE(6) held     C5
 *   node 1 leaves  -> nothing (NODE_LEFT{1, RTPIs 1,2})
 *   node 2 leaves  -> NODE_LEFT{2, RTPIs 3,4}: the reservation ends
 *   C5 reserves; C5 registers; node 3 leaves -> the registration stays
 *   (SPC-4 5.14.1: registrations survive I_T nexus loss).
 */
static void test_scsi2_released_when_node_leaves(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	t_pr(&A3, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	t_pr(&A3, PR_OUT_REGISTER, 0, KEY_A, 0, 0);  /* unregister again */
	T_EQ("no registrations", t_pr_state()->nregs, 0);
	fx = t_simple(LU_REPL_MSG_SCSI2_RESERVE, &B4);
	T_EQ("B4 reserves", fx->pr.status, PR_STATUS_GOOD);
	fx = t_simple(LU_REPL_MSG_SCSI2_RESERVE, &A1);
	T_EQ("A1 conflicts", fx->pr.status, PR_STATUS_RESERVATION_CONFLICT);
	fx = t_simple(LU_REPL_MSG_SCSI2_RESERVE, &B2);
	T_EQ("same initiator, other port", fx->pr.status,
	     PR_STATUS_RESERVATION_CONFLICT);
	fx = t_simple(LU_REPL_MSG_SCSI2_RELEASE, &A1);
	T_EQ("release by another: GOOD", fx->pr.status, PR_STATUS_GOOD);
	assert_false(fx->s2_released);
	assert_true(t_pr_state()->s2_reserved);

	fx = t_node_left(1);      /* not the holder's node: nothing */
	assert_false(fx->s2_released);
	assert_true(t_pr_state()->s2_reserved);
	fx = t_node_left(2);
	assert_true(fx->s2_released);
	assert_false(t_pr_state()->s2_reserved);
	fx = t_simple(LU_REPL_MSG_SCSI2_RESERVE, &C5);
	T_EQ("C5 reserves", fx->pr.status, PR_STATUS_GOOD);

	/* PR registrations through a departed node's ports stay */
	t_simple(LU_REPL_MSG_SCSI2_RELEASE, &C5);
	t_pr(&C5, PR_OUT_REGISTER, 0, 0, KEY_C, 0);
	fx = t_node_left(3);
	assert_false(fx->s2_released);
	T_EQ("C5 registration stays", t_key(&C5), KEY_C);
}

/*
 *   I_T nexus loss of A1 ends A1's SCSI-2 reservation; loss of another
 *   nexus (B4, or I1 through another port: A3) changes nothing.
 */
static void test_nexus_loss(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	t_simple(LU_REPL_MSG_SCSI2_RESERVE, &A1);
	t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);  /* conflicts: no reg */
	fx = t_simple(LU_REPL_MSG_NEXUS_LOSS, &B4);
	assert_false(fx->s2_released);
	fx = t_simple(LU_REPL_MSG_NEXUS_LOSS, &A3);
	assert_false(fx->s2_released);
	assert_true(t_pr_state()->s2_reserved);
	fx = t_simple(LU_REPL_MSG_NEXUS_LOSS, &A1);
	assert_true(fx->s2_released);
	assert_false(fx->ua_all);
	assert_false(fx->abort_all);
	assert_false(t_pr_state()->s2_reserved);
	T_EQ("nothing registered", t_pr_state()->nregs, 0);
}

/*
 *   APTPL (PTPL_C = 1): every GOOD PR OUT while APTPL is or was 1 asks
 *   every node to persist the image with the next epoch; RESERVE (no new
 *   PRgeneration) still gets a newer epoch. The image decodes to the
 *   state with that epoch.
 */
static void test_aptpl_persist(void **state)
{
	const struct lu_repl_effects *fx;
	uint8_t img[4096];
	struct pr_state back;
	uint64_t epoch;
	ssize_t n;

	(void)state;
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	assert_false(fx->persist);   /* APTPL 0 and was 0 */
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, KEY_A, KEY_A, 0x01);
	assert_true(fx->persist);
	T_EQ("epoch", fx->persist_epoch, 1);
	T_EQ("generation", fx->persist_generation, 2);
	fx = t_pr(&A1, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	assert_true(fx->persist);
	T_EQ("epoch", fx->persist_epoch, 2);
	T_EQ("generation", fx->persist_generation, 2);
	fx = t_pr(&B4, PR_OUT_RESERVE, PR_TYPE_WR_EX, KEY_B, 0, 0);
	assert_false(fx->persist);   /* conflict: nothing changed */

	n = pr_aptpl_encode(&nodes[1].lu.pr, fx->persist_epoch, img,
			    sizeof(img));
	assert_true(n > 0);
	assert_int_equal(pr_state_init(&back, &nodes[1].lu.pr.cfg), 0);
	assert_int_equal(pr_aptpl_decode(img, (size_t)n, &back, &epoch), 0);
	assert_true(pr_state_is_holder(&back, &A1));
	pr_state_fini(&back);

	fx = t_pr(&A1, PR_OUT_REGISTER, 0, KEY_A, KEY_A, 0);  /* APTPL -> 0 */
	assert_true(fx->persist);
	T_EQ("epoch", fx->persist_epoch, 3);
	fx = t_pr(&A1, PR_OUT_RELEASE, PR_TYPE_WR_EX, KEY_A, 0, 0);
	assert_false(fx->persist);   /* 0 and was 0 */
	T_EQ("state epoch", nodes[2].lu.aptpl_epoch, 3);
	T_EQ("state generation", nodes[2].lu.aptpl_generation, 3);
}

/* Without PTPL_C nothing is persisted, and APTPL 1 is refused. */
static void test_aptpl_unsupported(void **state)
{
	const struct lu_repl_effects *fx;

	(void)state;
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0x01);
	T_EQ("refused", fx->pr.status, PR_STATUS_CHECK_CONDITION);
	assert_false(fx->persist);
	fx = t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	assert_false(fx->persist);
}

/* A message of a type the decoder never produces changes nothing. */
static void test_unknown_type_is_a_no_op(void **state)
{
	const struct lu_repl_effects *fx;
	struct lu_repl_msg m;
	size_t l0, l1;
	uint8_t *before, *after;

	(void)state;
	t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0);
	t_simple(LU_REPL_MSG_NEXUS_LOSS, &A1);
	before = t_save(&nodes[0].lu, &l0);
	memset(&m, 0, sizeof(m));
	m.type = 0x7f;
	m.nexus = A1;
	lu_repl_apply(&nodes[0].lu, &m, port_dir_port_exists, dir,
		      &nodes[0].fx);
	fx = &nodes[0].fx;
	T_EQ("status", fx->pr.status, PR_STATUS_CHECK_CONDITION);
	after = t_save(&nodes[0].lu, &l1);
	T_EQ("unchanged", l0, l1);
	assert_memory_equal(before, after, l0);
	free(before);
	free(after);
}

/* ----------------------------------------------------------------- codec */

/* One of each message type, with something in every field. */
static uint32_t t_sample_msgs(struct lu_repl_msg *v)
{
	struct pr_tid dev;
	uint8_t cdb[10] = { 0x5f, PR_OUT_REGISTER, 0 }, param[256];
	struct pr_result res = { 0 };
	uint32_t n = 0;
	int k;

	t_pr_msg(&v[n++], &A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0x05, NULL, 0);
	t_pr_msg(&v[n++], &B4, PR_OUT_PREEMPT_AND_ABORT, PR_TYPE_EX_AC_RO,
		 KEY_B, KEY_A, 0, NULL, 0);
	t_pr_msg(&v[n++], &A3, PR_OUT_REGISTER_AND_MOVE, PR_TYPE_WR_EX, KEY_A,
		 KEY_C, 0x03, &C5.tid, 5);
	/* SPEC_I_PT with a DEVICE-format and a PORT-format TransportID */
	memset(&dev, 0, sizeof(dev));
	dev.format = PR_TID_FORMAT_DEVICE;
	strcpy(dev.name, "iqn.2026-11.test:device");
	memset(param, 0, sizeof(param));
	t_put64(param + 8, KEY_C);
	param[20] = 0x08;
	k = pr_tid_encode(&dev, param + 28, 100);
	assert_true(k > 0);
	int k2 = pr_tid_encode(&B2.tid, param + 28 + k, 100);
	assert_true(k2 > 0);
	t_put32(param + 24, (uint32_t)(k + k2));
	t_put32(cdb + 5, 28u + (uint32_t)(k + k2));
	memset(&v[n], 0, sizeof(v[n]));
	v[n].type = LU_REPL_MSG_PR_OUT;
	v[n].nexus = C5;
	assert_true(pr_out_decode(cdb, param, 28u + (uint32_t)(k + k2),
				  &v[n].req, &res));
	T_EQ("tids", v[n].req.ntids, 2);
	n++;
	for (uint8_t t = LU_REPL_MSG_SCSI2_RESERVE;
	     t <= LU_REPL_MSG_NEXUS_LOSS; t++) {
		memset(&v[n], 0, sizeof(v[n]));
		v[n].type = t;
		v[n++].nexus = B2;
	}

	memset(&v[n], 0, sizeof(v[n]));
	v[n].type = LU_REPL_MSG_NODE_LEFT;
	v[n].node = 0x01020304;
	v[n].nrtpis = 3;
	v[n].rtpis[0] = 3;
	v[n].rtpis[1] = 4;
	v[n++].rtpis[2] = 0x1234;
	memset(&v[n], 0, sizeof(v[n]));
	v[n].type = LU_REPL_MSG_TARGET_RESET;
	v[n++].nexus = C5;
	return n;
}

static void test_codec_round_trip_and_truncation(void **state)
{
	struct lu_repl_msg v[16], got;
	uint8_t buf[LU_REPL_MSG_MAX + 1], again[LU_REPL_MSG_MAX];
	uint32_t n = t_sample_msgs(v);

	(void)state;
	T_EQ("samples", n, 10);
	for (uint32_t i = 0; i < n; i++) {
		ssize_t len = lu_repl_msg_encode(&v[i], buf, sizeof(buf));

		assert_true(len > 0);
		T_EQ("decode", lu_repl_msg_decode(buf, (size_t)len, &got), 0);
		T_EQ("type", got.type, v[i].type);
		T_EQ("re-encode", lu_repl_msg_encode(&got, again,
						     sizeof(again)), len);
		assert_memory_equal(buf, again, (size_t)len);
		if (v[i].type == LU_REPL_MSG_PR_OUT) {
			T_EQ("sa", got.req.sa, v[i].req.sa);
			T_EQ("key", got.req.key, v[i].req.key);
			T_EQ("sa key", got.req.sa_key, v[i].req.sa_key);
			T_EQ("move rtpi", got.req.move_rtpi,
			     v[i].req.move_rtpi);
			T_EQ("aptpl", got.req.aptpl, v[i].req.aptpl);
			T_EQ("all_tg_pt", got.req.all_tg_pt,
			     v[i].req.all_tg_pt);
			T_EQ("unreg", got.req.unreg, v[i].req.unreg);
			T_EQ("ntids", got.req.ntids, v[i].req.ntids);
			for (uint32_t t = 0; t < got.req.ntids; t++) {
				assert_true(pr_tid_equal(&got.req.tids[t],
							 &v[i].req.tids[t]));
				T_EQ("offset", got.req.tid_off[t],
				     v[i].req.tid_off[t]);
			}
		}
		if (v[i].type != LU_REPL_MSG_NODE_LEFT) {
			assert_true(pr_tid_equal(&got.nexus.tid,
						 &v[i].nexus.tid));
			T_EQ("rtpi", got.nexus.rtpi, v[i].nexus.rtpi);
		} else {
			T_EQ("node", got.node, v[i].node);
			T_EQ("rtpis", got.nrtpis, 3);
			T_EQ("rtpi", got.rtpis[2], 0x1234);
		}
		/* every truncation */
		for (ssize_t cut = 0; cut < len; cut++)
			T_EQ("truncated", lu_repl_msg_decode(buf, (size_t)cut,
							     &got), -ENODATA);
		T_EQ("encode into a short buffer",
		     lu_repl_msg_encode(&v[i], buf, (size_t)len - 1), -ENOSPC);
		lu_repl_msg_encode(&v[i], buf, sizeof(buf));
		buf[len] = 0;
		T_EQ("trailing byte", lu_repl_msg_decode(buf, (size_t)len + 1,
							 &got), -EINVAL);
		buf[0] = 2;
		T_EQ("version", lu_repl_msg_decode(buf, (size_t)len, &got),
		     -EPROTONOSUPPORT);
		buf[0] = LU_REPL_VERSION;
		buf[3] = 1;
		T_EQ("reserved", lu_repl_msg_decode(buf, (size_t)len, &got),
		     -EINVAL);
		buf[3] = 0;
		buf[1] = 0;
		T_EQ("type 0", lu_repl_msg_decode(buf, (size_t)len, &got),
		     -EINVAL);
		buf[1] = LU_REPL_MSG_TYPE_LAST + 1;
		T_EQ("type past the last", lu_repl_msg_decode(buf, (size_t)len,
							      &got), -EINVAL);
		T_EQ("zeroed on error", got.type, 0);
	}
}

/* Field checks of the decoder, on byte-edited encodings. */
static void test_codec_rejects_fields(void **state)
{
	struct lu_repl_msg v[16], m, got;
	uint8_t buf[LU_REPL_MSG_MAX];
	ssize_t len;
	size_t req;

	(void)state;
	t_sample_msgs(v);
	/* v[1]: PREEMPT AND ABORT from B4; the request starts after the
	 * header (4), RTPI (2), TransportID length (2) and TransportID */
	len = lu_repl_msg_encode(&v[1], buf, sizeof(buf));
	req = 8 + (size_t)(buf[6] << 8 | buf[7]);
	buf[req] = 0x09;          /* service action 9 */
	T_EQ("sa", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[req] = PR_OUT_PREEMPT_AND_ABORT;
	buf[req + 2] = 0x02;      /* type 2: not in SPC-4 table 165 */
	T_EQ("type", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[req + 2] = PR_TYPE_EX_AC_RO;
	buf[req + 1] = 1;         /* scope */
	T_EQ("scope", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[req + 1] = 0;
	buf[req + 3] = 0x10;      /* reserved flag */
	T_EQ("flags", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[req + 3] = 0x04;      /* SPEC_I_PT with PREEMPT AND ABORT */
	T_EQ("spec_i_pt", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[req + 3] = 0;
	buf[4] = 0;
	buf[5] = 0;               /* nexus RTPI 0 */
	T_EQ("rtpi 0", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[5] = 4;
	buf[8] = 0x05;            /* TransportID: DEVICE format, PORT name */
	T_EQ("tid", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	buf[8] = 0x46;            /* PORT format, protocol 6 */
	T_EQ("protocol", lu_repl_msg_decode(buf, (size_t)len, &got),
	     -EINVAL);
	buf[8] = 0x45;
	T_EQ("intact", lu_repl_msg_decode(buf, (size_t)len, &got), 0);

	/* a DEVICE-format nexus cannot be encoded: a nexus is a port */
	m = v[4];
	m.nexus.tid.format = PR_TID_FORMAT_DEVICE;
	T_EQ("device nexus", lu_repl_msg_encode(&m, buf, sizeof(buf)),
	     -EINVAL);
	/* NODE_LEFT: RTPIs ascending, not 0 */
	m = v[8];
	len = lu_repl_msg_encode(&m, buf, sizeof(buf));
	buf[len - 2] = 0;
	buf[len - 1] = 3;         /* 3, 4, 3 */
	T_EQ("unsorted", lu_repl_msg_decode(buf, (size_t)len, &got), -EINVAL);
	m.rtpis[0] = 0;
	T_EQ("encode rtpi 0", lu_repl_msg_encode(&m, buf, sizeof(buf)),
	     -EINVAL);
	m.nrtpis = LU_REPL_NODE_RTPIS_MAX + 1;
	T_EQ("too many", lu_repl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = 0;
	T_EQ("type 0", lu_repl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(lu_repl_msg_type_str(LU_REPL_MSG_LUN_RESET),
			    "LUN_RESET");
}

/* -------------------------------------------------------------- snapshot */

/*
 *   After a few steps node 3 restarts and joins with a snapshot of node
 *   1's state; then every node applies the same messages and they stay
 *   identical. Truncated, versioned or foreign snapshots are refused and
 *   leave the state as it was.
 */
static void test_snapshot_join_and_rejects(void **state)
{
	struct lu_repl other;
	struct pr_config cfg = { .max_regs = T_REGS + 1, .crh = true };
	size_t len, l2;
	uint8_t *s, *bad, *s2;

	(void)state;
	t_pr(&A1, PR_OUT_REGISTER, 0, 0, KEY_A, 0x04);
	t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	t_pr(&A3, PR_OUT_RESERVE, PR_TYPE_WR_EX_RO, KEY_A, 0, 0);
	t_simple(LU_REPL_MSG_LUN_RESET, &B4);
	t_pr(&B4, PR_OUT_REGISTER, 0, KEY_B, 0, 0);
	t_simple(LU_REPL_MSG_SCSI2_RESERVE, &B2);  /* conflicts: PRs held */

	s = t_save(&nodes[0].lu, &len);
	lu_repl_reset(&nodes[2].lu);
	assert_false(lu_repl_equal(&nodes[2].lu, &nodes[0].lu));
	/* every truncation refused, state untouched */
	for (size_t cut = 0; cut < len; cut++)
		T_EQ("truncated", lu_repl_load(&nodes[2].lu, s, cut),
		     -ENODATA);
	T_EQ("nothing loaded", nodes[2].lu.pr.nregs, 0);
	bad = malloc(len + 1);
	memcpy(bad, s, len);
	bad[len] = 0;
	T_EQ("trailing", lu_repl_load(&nodes[2].lu, bad, len + 1), -EINVAL);
	bad[5] = 9;
	T_EQ("version", lu_repl_load(&nodes[2].lu, bad, len),
	     -EPROTONOSUPPORT);
	memcpy(bad, s, len);
	bad[0] = 'X';
	T_EQ("magic", lu_repl_load(&nodes[2].lu, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[48] = 2;               /* reservation type 2 */
	T_EQ("type", lu_repl_load(&nodes[2].lu, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[47] = 5;               /* holder 5 of 1 registration */
	T_EQ("holder", lu_repl_load(&nodes[2].lu, bad, len), -EINVAL);
	memcpy(bad, s, len);
	bad[50] = 0x01;            /* APTPL without PTPL_C */
	T_EQ("aptpl", lu_repl_load(&nodes[2].lu, bad, len), -EINVAL);
	memcpy(bad, s, len);
	memset(bad + 52, 0, 8);    /* the registration's key: 0 */
	T_EQ("key", lu_repl_load(&nodes[2].lu, bad, len), -EINVAL);
	T_EQ("nothing loaded", nodes[2].lu.pr.nregs, 0);
	free(bad);
	/* a node configured otherwise refuses the snapshot */
	assert_int_equal(lu_repl_init(&other, &cfg), 0);
	T_EQ("config", lu_repl_load(&other, s, len), -EINVAL);
	lu_repl_fini(&other);

	T_EQ("join", lu_repl_load(&nodes[2].lu, s, len), 0);
	assert_true(lu_repl_equal(&nodes[2].lu, &nodes[0].lu));
	s2 = t_save(&nodes[2].lu, &l2);
	T_EQ("same length", l2, len);
	assert_memory_equal(s, s2, len);
	free(s2);
	free(s);
	t_pr(&B4, PR_OUT_REGISTER, 0, 0, KEY_B, 0);
	t_pr(&B4, PR_OUT_PREEMPT, PR_TYPE_WR_EX, KEY_B, KEY_A, 0);
	T_EQ("resets", nodes[2].lu.lun_resets, 1);
}

/* A SCSI-2 holder is in the snapshot (it is not in APTPL images). */
static void test_snapshot_keeps_scsi2(void **state)
{
	struct lu_repl fresh;
	size_t len;
	uint8_t *s;

	(void)state;
	t_simple(LU_REPL_MSG_SCSI2_RESERVE, &B4);
	s = t_save(&nodes[1].lu, &len);
	assert_int_equal(lu_repl_init(&fresh, &nodes[1].lu.pr.cfg), 0);
	T_EQ("load", lu_repl_load(&fresh, s, len), 0);
	assert_true(fresh.pr.s2_reserved);
	assert_true(pr_scsi2_conflict(&fresh.pr, &A1));
	assert_false(pr_scsi2_conflict(&fresh.pr, &B4));
	lu_repl_fini(&fresh);
	free(s);
}

/* ----------------------------------------------------------- randomized */

static uint32_t t_rand_state;

static uint32_t t_rand(void)
{
	t_rand_state = t_rand_state * 1103515245u + 12345u;
	return t_rand_state >> 8;
}

static const struct pr_nexus *t_rand_nexus(void)
{
	static const struct pr_nexus *all[5];

	all[0] = &A1;
	all[1] = &A3;
	all[2] = &B2;
	all[3] = &B4;
	all[4] = &C5;
	return all[t_rand() % 5];
}

static uint64_t t_rand_key(void)
{
	static const uint64_t keys[] = { 0, KEY_A, KEY_B, KEY_C };

	return keys[t_rand() % 4];
}

/*
 * Three nodes fed the same 3000 random messages (every type; PR OUT of
 * every service action with random keys, types, ALL_TG_PT, APTPL, moves
 * to existing and missing ports; nodes leaving and re-announcing) report
 * the same effects and hold byte-identical state after every step, equal
 * to a state rebuilt by load(save()) (t_deliver checks all of it).
 */
static void test_random_determinism(void **state)
{
	static const uint8_t types[] = {
		PR_TYPE_WR_EX, PR_TYPE_EX_AC, PR_TYPE_WR_EX_RO,
		PR_TYPE_EX_AC_RO, PR_TYPE_WR_EX_AR, PR_TYPE_EX_AC_AR,
	};
	uint32_t counts[8] = { 0 }, good = 0;

	(void)state;
	t_rand_state = 0xC1A5;
	for (int step = 0; step < 3000; step++) {
		const struct pr_nexus *n = t_rand_nexus();
		uint32_t pick = t_rand() % 20;
		const struct lu_repl_effects *fx;
		struct lu_repl_msg m;

		if (pick < 12) {
			uint8_t sa = (uint8_t)(t_rand() % 8);
			uint8_t type = types[t_rand() % 6];
			uint8_t flags = (uint8_t)(t_rand() % 8 == 0 ? 0x04 : 0) |
					(uint8_t)(t_rand() % 5 == 0 ? 0x01 : 0);

			if (sa == PR_OUT_REGISTER && t_rand() % 6 == 0) {
				const struct pr_tid *tids[2] = {
					&t_rand_nexus()->tid,
					&t_rand_nexus()->tid,
				};

				t_spec_msg(&m, n, t_rand_key(), flags, tids,
					   1 + t_rand() % 2);
			} else if (sa == PR_OUT_REGISTER_AND_MOVE) {
				const struct pr_nexus *d = t_rand_nexus();

				t_pr_msg(&m, n, sa, type, t_rand_key(),
					 t_rand_key() | 1, flags & 0x03,
					 &d->tid,
					 (uint16_t)(1 + t_rand() % 6));
			} else {
				t_pr_msg(&m, n, sa, type, t_rand_key(),
					 t_rand_key(), flags, NULL, 0);
			}
		} else {
			memset(&m, 0, sizeof(m));
			m.nexus = *n;
			m.type = (uint8_t)(pick < 14 ? LU_REPL_MSG_SCSI2_RESERVE
					   : pick < 16 ? LU_REPL_MSG_SCSI2_RELEASE
					   : pick < 17 ? LU_REPL_MSG_LUN_RESET
					   : pick < 18 ? LU_REPL_MSG_NEXUS_LOSS
						       : LU_REPL_MSG_NODE_LEFT);
		}
		counts[m.type]++;
		if (m.type == LU_REPL_MSG_NODE_LEFT) {
			uint32_t node = 1 + t_rand() % 3;

			fx = t_node_left(node);
			/* and the node comes back */
			if (node == 1)
				t_dir_node(1, (uint16_t[]){ 1, 2 }, 2);
			else if (node == 2)
				t_dir_node(2, (uint16_t[]){ 3, 4 }, 2);
			else
				t_dir_node(3, (uint16_t[]){ 5 }, 1);
		} else {
			fx = t_deliver(&m);
		}
		good += fx->pr.status == PR_STATUS_GOOD;
		T_EQ("nothing lost", fx->pr.ua_lost + fx->pr.abort_lost, 0);
	}
	for (int t = LU_REPL_MSG_PR_OUT; t <= LU_REPL_MSG_NODE_LEFT; t++)
		assert_true(counts[t] > 20);
	assert_true(good > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pr_out_through_two_nodes,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
			test_register_and_move_to_other_node, t_setup,
			t_teardown),
		cmocka_unit_test_setup_teardown(
			test_all_tg_pt_covers_every_node, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_preempt_and_abort,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_lun_reset, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(
			test_scsi2_released_when_node_leaves, t_setup,
			t_teardown),
		cmocka_unit_test_setup_teardown(test_nexus_loss, t_setup,
						t_teardown),
		cmocka_unit_test_setup_teardown(test_aptpl_persist,
						t_setup_aptpl, t_teardown),
		cmocka_unit_test_setup_teardown(test_aptpl_unsupported,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_is_a_no_op,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
			test_codec_round_trip_and_truncation, t_setup,
			t_teardown),
		cmocka_unit_test_setup_teardown(test_codec_rejects_fields,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(
			test_snapshot_join_and_rejects, t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_keeps_scsi2,
						t_setup, t_teardown),
		cmocka_unit_test_setup_teardown(test_random_determinism,
						t_setup_aptpl, t_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
