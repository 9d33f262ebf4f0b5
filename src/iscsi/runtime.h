/*
 * Private types of the iSCSI runtime (portal.c, conn.c, session.c, cmd.c,
 * tmf.c, fabric.c): connections, sessions, fabric tasks and outgoing PDUs,
 * and the calls these files make into each other.
 *
 * Threading: a connection, its session and its tasks belong to one event
 * loop and are touched only on that loop's thread. The only shared state is
 * the fabric (targets, portals, the session registry, the connection count),
 * guarded by iscsi_fabric.lock and used at login, logout and teardown only:
 * nothing on the I/O path takes it.
 *
 * Lifetimes (who frees what, and when):
 *   - task: reference counted. The connection holds one until the task's
 *     response is queued or it is aborted; the core holds one from
 *     scsi_task_submit() to done(); every queued PDU that points into the
 *     task's buffer holds one. The last put frees it.
 *   - connection: iscsi_conn_close() only marks it and drops what it owns;
 *     a deferred reap frees it once no task and no TMF is with the core.
 *     The reap ends the session: I_T nexus loss, then unregistering.
 *   - session: reference counted under the fabric lock: its connection,
 *     a reinstating login waiting for it to die, and each posted close.
 *
 * Not a contract: nothing outside src/iscsi includes this file.
 */
#ifndef CTGT_ISCSI_RUNTIME_H
#define CTGT_ISCSI_RUNTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"
#include "base/loop.h"
#include "iscsi/cmdsn.h"
#include "iscsi/ended.h"
#include "iscsi/iscsi.h"
#include "iscsi/login.h"
#include "iscsi/param.h"
#include "iscsi/pdu.h"
#include "scsi/scsi.h"

#define ISCSI_RSVD_TAG 0xffffffffu       /* reserved ITT/TTT value */
#define ISCSI_LOGIN_MAX_DSL 8192u        /* RFC 7143 13.12, during login */
#define ISCSI_MAX_AHS_BYTES 1020u        /* TotalAHSLength is 8 bits of words */
#define ISCSI_MAX_DSL_CAP (16u << 20)    /* never buffer more than this */
#define ISCSI_TEXT_MAX_BYTES (64u << 10) /* Text request/response cap */
#define ISCSI_MAX_R2T_SLOTS 8u           /* outstanding R2Ts per task */
#define ISCSI_CONN_BUF_BUDGET (128u << 20) /* task buffers per connection */
#define ISCSI_LOGIN_TIMEOUT_MS 15000u    /* a login must finish in this */
#define ISCSI_CONN_STAGE_SIZE (64u << 10) /* rx read-ahead per connection */
#define ISCSI_TASK_BUF_ALIGN 4096u       /* task buffers: O_DIRECT backstores */

/* ------------------------------------------------------------------ */
/* fabric.c: targets, portals, loops, the registry lock */

struct iscsi_portal;

/* Per event loop: the connections it owns (touched on its thread only). */
struct iscsi_loop_ctx {
	struct base_loop *loop;
	struct list_head conns;
};

struct iscsi_fabric {
	bool inited;
	struct iscsi_global_config g;     /* defaults applied */
	struct iscsi_loop_ctx *loops;
	unsigned n_loops;
	unsigned next_loop;               /* round robin, listener thread */

	pthread_mutex_t lock;             /* everything below */
	pthread_cond_t cond;              /* n_conns / n_portals changes */
	struct iscsi_target_config **targets;
	unsigned n_targets;
	struct list_head portals;
	unsigned n_portals_open;
	struct list_head sessions;        /* iscsi_session.reg_link */
	uint16_t next_tsih;
	unsigned n_conns;                 /* accepted, not yet freed */
	unsigned n_loop_posts;            /* shutdown posts not yet run */
	bool shutting_down;
};

extern struct iscsi_fabric iscsi_fabric;

/* ACL: may this initiator see / log in to t? */
bool iscsi_fabric_acl_allows(const struct iscsi_target_config *t,
			     const char *initiator);
/* Called with the lock held when a connection is freed. */
void iscsi_fabric_conn_gone_locked(void);

/* ------------------------------------------------------------------ */
/* portal.c */

int iscsi_portal_open(const struct iscsi_portal_config *pc);
/* Closes every listener; returns when none is left. Off-loop thread. */
void iscsi_portal_close_all(void);

/* ------------------------------------------------------------------ */
/* outgoing PDUs (conn.c) */

struct iscsi_task;
struct iscsi_txpdu;

struct iscsi_txpdu {
	struct list_head link;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint8_t hdigest[ISCSI_DIGEST_LEN];
	uint8_t ddigest[ISCSI_DIGEST_LEN];
	const uint8_t *data;          /* owned (free_data) or the task's buf */
	uint32_t data_len;
	bool free_data;
	bool fill_sn;                 /* write StatSN/ExpCmdSN/MaxCmdSN */
	bool status;                  /* carries status: advance StatSN */
	bool hdig, ddig;              /* digests as negotiated when queued */
	bool prepared;                /* header fields + digests done */
	bool close_after;             /* close the connection once sent */
	uint32_t sent;                /* bytes of this PDU already written */
	struct iscsi_task *task;      /* holds a task ref while queued */
	/* Data-In trains: called after the PDU is sent; true = the PDU was
	 * refilled with the next one of the same task and stays queued. */
	bool (*refill)(struct iscsi_txpdu *p);
};

/* ------------------------------------------------------------------ */
/* connection (conn.c) */

enum iscsi_conn_state {
	ISCSI_CONN_LOGIN,
	ISCSI_CONN_REINSTATE_WAIT,    /* login done, old session going away */
	ISCSI_CONN_FULL,
	ISCSI_CONN_CLOSING,
};

enum iscsi_rx_state {
	ISCSI_RX_BHS,
	ISCSI_RX_AHS,
	ISCSI_RX_HDIGEST,
	ISCSI_RX_DATA,
	ISCSI_RX_PAD,
	ISCSI_RX_DDIGEST,
};

struct iscsi_session;

struct iscsi_conn {
	struct base_fd bfd;
	struct base_loop *loop;
	struct iscsi_loop_ctx *lctx;
	struct list_head loop_link;       /* lctx->conns */
	char peer[80];
	char portal_addr[64];             /* the listener it came in on */
	char local_addr[64];              /* getsockname, for SendTargets */
	uint16_t portal_port;
	uint16_t portal_tpgt;
	enum iscsi_conn_state state;
	uint16_t cid;

	/* rx */
	enum iscsi_rx_state rx_state;
	uint32_t rx_off;                  /* bytes of the current part read */
	uint8_t rx_bhs[ISCSI_BHS_LEN];
	uint8_t rx_ahs[ISCSI_MAX_AHS_BYTES];
	uint32_t rx_ahs_len;
	uint8_t rx_digest[ISCSI_DIGEST_LEN];
	uint8_t *rx_data;                 /* pdu data (owned), or NULL */
	uint8_t *rx_dest;                 /* where the data goes */
	struct iscsi_task *rx_task;       /* ref while Data-Out lands in it */
	uint8_t rx_pad[4];
	uint32_t rx_data_cap;
	uint32_t rx_dsl;                  /* this PDU's DataSegmentLength */
	int rx_reject;                    /* reject reason for this PDU, 0 */
	bool rx_hdig, rx_ddig;            /* digests expected on receive */
	uint8_t *stage;                   /* bytes read ahead of the parser */
	uint32_t stage_pos, stage_len;
	struct base_defer rx_defer;       /* resume parsing staged bytes */
	uint32_t rx_max_dsl;              /* our MaxRecvDataSegmentLength */

	/* tx */
	struct list_head txq;
	bool want_out;                    /* EPOLLOUT armed */
	bool rx_stopped;                  /* closing after tx: read no more */
	struct base_defer tx_defer;       /* flush after this turn */
	uint32_t stat_sn;
	uint32_t exp_stat_sn;
	bool tx_hdig, tx_ddig;

	/* login */
	struct iscsi_login *login;
	struct iscsi_login_env login_env;
	struct iscsi_params params;
	struct iscsi_session *reinstating; /* ref on the session we replace */
	struct iscsi_txpdu *held_login_rsp; /* sent when reinstating is done */

	struct iscsi_session *sess;

	/* tasks: every iscsi_task of this connection, whatever its state */
	struct list_head tasks;
	uint32_t next_ttt;
	unsigned n_submitted;             /* with the core, done() pending */
	size_t buf_bytes;                 /* task buffers allocated */
	unsigned n_tmfs;                  /* scsi_tmf with done() pending */
	struct list_head held;            /* out-of-order commands (pdus) */
	struct iscsi_ended ended;         /* writes ended before their data */

	/* text continuation (RFC 7143 11.10.2) */
	uint8_t *text_req;
	uint32_t text_req_len;
	uint8_t *text_rsp;
	uint32_t text_rsp_len;
	uint32_t text_rsp_off;
	uint32_t text_ttt;
	uint32_t text_itt;

	/* timers */
	struct base_timer timer;
	uint64_t created_ms;
	uint64_t last_rx_ms;
	uint64_t ping_sent_ms;
	uint32_t ping_ttt;                /* RSVD = none outstanding */
	uint64_t logout_deadline_ms;      /* shutdown: close at this time */

	/* teardown */
	struct base_defer reap;
	bool freed_nexus;
	bool cold_reset_after;            /* close other sessions, then self */
};

/* conn_tx.c: the transmit queue. */
void iscsi_conn_tx_init(struct iscsi_conn *c);
void iscsi_conn_tx_flush(struct iscsi_conn *c);
/* Re-arms epoll for what the connection waits for (in, out). */
void iscsi_conn_update_events(struct iscsi_conn *c);
/* Queueing: conn takes ownership of p in every case. */
void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_txpdu *p);
struct iscsi_txpdu *iscsi_txpdu_alloc(struct iscsi_conn *c);
void iscsi_txpdu_free(struct iscsi_txpdu *p);
/* Reject (RFC 7143 11.17) carrying the offending BHS. */
void iscsi_conn_reject(struct iscsi_conn *c, const uint8_t *bhs,
		       enum iscsi_reject_reason reason);
/* The one place a connection is closed: idempotent, never frees c now. */
void iscsi_conn_close(struct iscsi_conn *c, const char *why);
/* Close once everything queued has been written (Logout, failed login). */
void iscsi_conn_close_after_tx(struct iscsi_conn *c);
/* Starts a connection accepted on some other thread: runs on c->loop. */
void iscsi_conn_start(void *arg);
struct iscsi_conn *iscsi_conn_create(int fd, struct iscsi_loop_ctx *lctx,
				     const struct iscsi_portal_config *pc,
				     uint16_t tpgt);
/* Re-checks whether a closing connection can be freed. */
void iscsi_conn_maybe_reap(struct iscsi_conn *c);
/* Closes every connection of the calling loop (shutdown). */
void iscsi_conn_close_loop(void *lctx);

/* ------------------------------------------------------------------ */
/* session (session.c) */

struct iscsi_session {
	struct list_head reg_link;        /* iscsi_fabric.sessions */
	bool registered;
	int refs;                         /* under iscsi_fabric.lock */
	bool dead;                        /* nexus gone (under the lock) */
	struct iscsi_conn *conn;          /* NULL once the conn is freed */
	struct base_loop *loop;
	enum iscsi_session_type type;
	char initiator[224];
	uint8_t isid[6];
	uint16_t tsih;
	const struct iscsi_target_config *target;
	const struct iscsi_tpg_config *tpg;
	struct scsi_nexus *nexus;
	struct iscsi_cmdsn_window win;
	bool close_posted;                /* a remote close is on its way */
};

uint16_t iscsi_session_bind(void *arg, const struct iscsi_login_result *r,
			    uint16_t *tsih);
/* The new connection's login is final: create the nexus. 0 or -errno. */
int iscsi_session_start(struct iscsi_conn *c);
/* The connection is being freed: nexus loss, unregister, drop refs. */
void iscsi_session_release(struct iscsi_conn *c);
/* Drop a reference taken for reinstatement / remote close. */
void iscsi_session_put(struct iscsi_session *s);
bool iscsi_session_is_dead(struct iscsi_session *s);
/* Ask every other session of target t to close (TARGET COLD RESET). */
void iscsi_session_close_target(const struct iscsi_target_config *t,
				const struct iscsi_session *except);
uint32_t iscsi_session_max_cmdsn(struct iscsi_session *s);
/* Dispatches a full-feature PDU through the CmdSN window (RFC 7143
 * 4.2.2.1). Takes ownership of data (malloc'd, may be NULL). */
void iscsi_session_rx_pdu(struct iscsi_conn *c, const uint8_t *bhs,
			  const uint8_t *ahs, uint32_t ahs_len,
			  uint8_t *data, uint32_t data_len);
/* A command PDU taken through accept() is finished. */
void iscsi_session_cmd_complete(struct iscsi_session *s);
void iscsi_session_drop_held(struct iscsi_conn *c);
/* ABORT TASK support (RFC 7143 11.5.1): a held command by ITT, or a CmdSN
 * not received yet. */
bool iscsi_session_abort_held(struct iscsi_conn *c, uint32_t itt);
void iscsi_session_skip_cmdsn(struct iscsi_conn *c, uint32_t cmdsn);

/* ------------------------------------------------------------------ */
/* SCSI commands (cmd.c) */

enum iscsi_task_state {
	ISCSI_TASK_DATA_WAIT,   /* waiting for write data */
	ISCSI_TASK_SUBMITTED,   /* with the core */
	ISCSI_TASK_RESPONDING,  /* response queued / being sent */
};

struct iscsi_r2t {
	bool active;
	uint32_t ttt;
	uint32_t r2tsn;
	uint32_t offset;
	uint32_t len;
	uint32_t rcvd;
	uint32_t exp_datasn;
};

struct iscsi_task {
	struct scsi_task st;
	struct iscsi_conn *conn;
	struct list_head link;            /* conn->tasks */
	int refs;
	enum iscsi_task_state state;
	uint32_t itt;
	uint32_t cmdsn;
	bool counted;                     /* holds a CmdSN window slot */
	bool read, write;
	uint32_t edtl;
	size_t buf_size;                  /* counted in conn->buf_bytes */

	/* write data (RFC 7143 11.7, 11.8) */
	enum scsi_sense_reason fail;      /* fail instead of submitting */
	uint32_t imm_len;
	uint32_t unsol_end;               /* end of the unsolicited burst */
	uint32_t unsol_rcvd;              /* end offset received so far */
	uint32_t unsol_datasn;
	bool unsol_done;
	uint32_t r2t_next;                /* next offset to solicit */
	uint32_t r2tsn;
	struct iscsi_r2t r2t[ISCSI_MAX_R2T_SLOTS];
	unsigned r2t_active;

	/* read data (RFC 7143 11.7) */
	uint32_t datain_off;
	uint32_t datain_sn;
	uint32_t datain_len;
	uint32_t burst_left;
	bool datain_status;               /* status goes in the last Data-In */
	uint32_t exp_datasn_rsp;          /* R2Ts + Data-Ins sent (11.4.8) */
};

/* *data (malloc'd, may be NULL) stays the caller's unless the command
 * adopts it as its buffer, which sets *data to NULL. */
void iscsi_cmd_rx(struct iscsi_conn *c, const uint8_t *bhs,
		  const uint8_t *ahs, uint32_t ahs_len,
		  uint8_t **data, uint32_t data_len, bool counted);
/* Where a Data-Out's payload can be received in place (its task's buffer),
 * taking a task reference in *task; NULL (and *task NULL) otherwise. */
uint8_t *iscsi_cmd_data_out_dest(struct iscsi_conn *c, const uint8_t *bhs,
				 uint32_t len, struct iscsi_task **task);
void iscsi_cmd_rx_data_out(struct iscsi_conn *c, const uint8_t *bhs,
			   const uint8_t *data, uint32_t data_len,
			   bool digest_error);
struct iscsi_task *iscsi_cmd_find(struct iscsi_conn *c, uint32_t itt);
/* Drops a not-yet-submitted task without a response (ABORT TASK, the
 * connection's own TMFs, connection loss). */
void iscsi_cmd_abort_local(struct iscsi_task *t);
/* Aborts every task of c the core has not seen, for LUN lun_id (as
 * scsi_task_lun_id() decodes it) or all: quietly, or each with TASK ABORTED
 * status (another nexus's abort with TAS = 1, SAM-5 5.6; the core
 * decides). Returns how many. */
unsigned iscsi_cmd_abort_unsubmitted(struct iscsi_conn *c, int lun_id,
				     bool all_luns, bool quiet);
void iscsi_task_put(struct iscsi_task *t);

/* ------------------------------------------------------------------ */
/* task management (tmf.c) */

void iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs, bool counted);

#endif
