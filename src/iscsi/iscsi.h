/*
 * The iSCSI fabric as the daemon sees it: targets with their portal groups,
 * ACLs and CHAP credentials, portals to listen on, and the event-loop threads
 * that connections are spread over. Everything here is configuration time;
 * the data path lives in conn.c / session.c.
 */
#ifndef CTGT_ISCSI_ISCSI_H
#define CTGT_ISCSI_ISCSI_H

#include <stdbool.h>
#include <stdint.h>

struct base_loop;
struct scsi_target;
struct scsi_tport;

#define ISCSI_DEFAULT_PORT 3260

/* CHAP credentials (RFC 7143 12.1.3). user empty = not configured. */
struct iscsi_chap_cred {
	char user[256];
	char secret[256];
};

struct iscsi_auth_config {
	bool chap_required;             /* refuse AuthMethod=None */
	struct iscsi_chap_cred incoming;  /* the initiator proves itself */
	struct iscsi_chap_cred outgoing;  /* mutual: the target proves itself */
};

struct iscsi_portal_config {
	char addr[64];                  /* IPv4 or IPv6 literal */
	uint16_t port;
};

struct iscsi_tpg_config {
	uint16_t tag;                   /* TargetPortalGroupTag */
	struct scsi_tport *tport;       /* the SCSI target port (RTPI) */
	unsigned n_portals;
	struct iscsi_portal_config *portals;
};

struct iscsi_target_config {
	char name[224];                 /* IQN */
	char alias[256];                /* TargetAlias, may be empty */
	struct scsi_target *scsi;
	bool open_access;               /* any initiator may log in */
	unsigned n_initiators;          /* ACL: initiator names allowed */
	char (*initiators)[224];
	struct iscsi_auth_config auth;
	unsigned n_tpgs;
	struct iscsi_tpg_config *tpgs;
	/* Other cluster nodes' portals of this target (SendTargets lists
	 * them after this node's own): set only in the fabric's copy, by
	 * iscsi_target_remote_set(), under the fabric's lock. */
	unsigned n_remote;
	struct iscsi_remote_portal *remote;
};

/* A portal of this target on another node, with its TPG tag. */
struct iscsi_remote_portal {
	struct iscsi_portal_config portal;
	uint16_t tag;
};

/* Tunables with RFC 7143 defaults applied when zero. */
struct iscsi_global_config {
	uint32_t max_recv_dsl;          /* our MaxRecvDataSegmentLength */
	uint32_t max_burst;             /* the most we accept */
	uint32_t first_burst;
	uint32_t max_cmds_per_session;  /* CmdSN window (MaxCmdSN - ExpCmdSN + 1) */
	uint32_t nop_interval_s;        /* ping idle connections; 0 = never */
	uint32_t nop_timeout_s;         /* drop the connection after this */
	struct iscsi_auth_config discovery_auth;
};

/* The fabric spreads accepted connections over these loops. */
int iscsi_init(const struct iscsi_global_config *g, struct base_loop **loops,
	       unsigned n_loops);
/* Copies cfg. Listens on every portal of every TPG (a portal shared by
 * several targets' TPGs is opened once). */
int iscsi_target_add(const struct iscsi_target_config *cfg);
/* The portals other cluster nodes serve this target on (the port
 * directory, src/daemon/ports.c): SendTargets (RFC 7143 Appendix C)
 * lists them too, so discovery through one node finds every path. Any
 * thread; copies p. 0, -ENOENT (no such target), -ENOMEM. */
int iscsi_target_remote_set(const char *name,
			    const struct iscsi_remote_portal *p, unsigned n);
/* Stops listening, aborts in-flight commands, closes every connection;
 * returns when all sessions are gone. Called off the loops' threads while
 * they still run. */
void iscsi_shutdown(void);

#endif
