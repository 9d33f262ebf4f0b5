/*
 * The cluster-wide directory of target ports (the kernel RFC's "remote
 * fabric"): every node's target ports with their relative target port
 * identifier (RTPI, SPC-4 7.8.6.5), ALUA target port group (one per node,
 * DESIGN.md "Cluster model"), target name, TPG tag, portals, and whether
 * the node is in the view. Pure replicated state: every node applies the
 * same ANNOUNCE / NODE_LEFT operations in the cluster's total order and
 * holds the same directory, byte for byte (port_dir_save).
 *
 * Deliberately NOT here: the cluster channel, sockets, the local target
 * objects (scsi_tport), quorum, clocks, logging. The verdict on an
 * announcement is data; the glue logs it and the refused node refuses to
 * serve.
 *
 * Rules (docs/cluster-device.md):
 *   ANNOUNCE(node, ports): replaces every port of node with ports, all
 *     live. Refused as a whole, directory unchanged, when one of its RTPIs
 *     (or its port group) is held by a port of ANOTHER node that is live;
 *     the result names the first clash in RTPI order. Ports of departed
 *     nodes that collide with an accepted announcement are forgotten (the
 *     RTPI or group now belongs to the announcing node).
 *   NODE_LEFT(node): the node's ports stay known, not live; REPORT TARGET
 *     PORT GROUPS shows their group UNAVAILABLE (SPC-4 5.15.2.4.5).
 * Invariants (checked by port_dir_load): RTPIs unique and non-zero; every
 * port of a node in one group; no group shared by two nodes.
 */
#ifndef CTGT_SCSI_PORT_DIR_H
#define CTGT_SCSI_PORT_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PORT_DIR_NAME_MAX 224        /* iSCSI name: 223 bytes + NUL */
#define PORT_DIR_PORTAL_MAX 64       /* "[v6 address]:port" + NUL */
#define PORT_DIR_PORTALS_MAX 4       /* portals listed per port */
#define PORT_DIR_NODE_PORTS_MAX 16   /* ports one node announces */
#define PORT_DIR_PORTS_MAX 256       /* ports in the directory */
#define PORT_DIR_VERSION 1u          /* save and ANNOUNCE wire format */

/* One target port (target + target portal group) of some node. */
struct port_dir_port {
	uint32_t node;                   /* corosync node id */
	uint16_t rtpi;                   /* never 0 (SPC-4 7.8.6.5) */
	uint16_t port_group;             /* ALUA target port group */
	uint16_t tpg_tag;
	bool live;                       /* its node is in the view */
	uint8_t nportals;
	char target[PORT_DIR_NAME_MAX];  /* NUL-terminated, non-empty */
	char portals[PORT_DIR_PORTALS_MAX][PORT_DIR_PORTAL_MAX];
};

/* ANNOUNCE: a node's full port list (node and live of ports[] ignored). */
struct port_dir_announce {
	uint32_t node;                   /* never 0 */
	uint32_t nports;
	struct port_dir_port ports[PORT_DIR_NODE_PORTS_MAX];
};

enum port_dir_verdict {
	PORT_DIR_OK = 0,
	PORT_DIR_CLASH_RTPI,    /* rtpi held by live node other_node */
	PORT_DIR_CLASH_GROUP,   /* port_group held by live node other_node */
	PORT_DIR_INVALID,       /* malformed: node 0, RTPI 0, an RTPI twice,
	                           two groups, a bad name or portal, too many
	                           ports (rtpi: the port at fault, if any) */
	PORT_DIR_FULL,          /* the directory would exceed PORTS_MAX */
};

struct port_dir_result {
	enum port_dir_verdict verdict;
	uint16_t rtpi;          /* CLASH_RTPI / INVALID: the RTPI at fault */
	uint16_t port_group;    /* CLASH_GROUP: the group */
	uint32_t other_node;    /* CLASH_*: the live node holding it */
	uint32_t evicted;       /* OK: departed nodes' ports forgotten */
};

/* A target port group as REPORT TARGET PORT GROUPS lists it. */
struct port_dir_group {
	uint16_t id;
	uint32_t node;
	uint8_t state;          /* SPC-4 table 167: 0h AO, 3h UNAVAILABLE */
	uint32_t nports;
	uint16_t rtpis[PORT_DIR_NODE_PORTS_MAX];   /* ascending */
};

#define PORT_DIR_STATE_ACTIVE_OPTIMIZED 0x0  /* SPC-4 6.27, table 167 */
#define PORT_DIR_STATE_UNAVAILABLE 0x3

struct port_dir;

/* An empty directory. 0 or -ENOMEM. */
int port_dir_create(struct port_dir **out);
void port_dir_destroy(struct port_dir *d);
/* Back to empty (the channel's reset). */
void port_dir_reset(struct port_dir *d);

/* Applies ANNOUNCE (rules above). Returns res->verdict; on anything but
 * PORT_DIR_OK the directory is unchanged. res may be NULL. */
enum port_dir_verdict port_dir_announce(struct port_dir *d,
					const struct port_dir_announce *a,
					struct port_dir_result *res);
/* Applies NODE_LEFT: node's ports are no longer live. Returns how many
 * ports changed. */
uint32_t port_dir_node_left(struct port_dir *d, uint32_t node);

/* The port with this RTPI, or NULL (valid until the next change). */
const struct port_dir_port *port_dir_find(const struct port_dir *d,
					  uint16_t rtpi);
/* Whether rtpi names a known port of any node, live or not: the shape of
 * lu_repl's port check (REGISTER AND MOVE, SPC-4 6.16.4); arg is the
 * struct port_dir. */
bool port_dir_port_exists(void *arg, uint16_t rtpi);
/* Ports in RTPI order: count, and the i-th. */
uint32_t port_dir_count(const struct port_dir *d);
const struct port_dir_port *port_dir_at(const struct port_dir *d, uint32_t i);
/* The RTPIs of node's ports, ascending, up to max; returns how many it
 * has (for lu_repl's NODE_LEFT message). */
uint32_t port_dir_node_rtpis(const struct port_dir *d, uint32_t node,
			     uint16_t *out, uint32_t max);

/* The groups, sorted by id, each with its ports; fills up to max and
 * returns how many there are. */
uint32_t port_dir_groups(const struct port_dir *d, struct port_dir_group *out,
			 uint32_t max);

/*
 * REPORT TARGET PORT GROUPS parameter data (SPC-4 6.27, tables 164-168)
 * for the whole cluster: format 0 (length only header) or 1 (extended
 * header with IMPLICIT TRANSITION TIME transition_s). Groups ascending by
 * id, ports ascending by RTPI; live groups ACTIVE/OPTIMIZED, departed
 * ones UNAVAILABLE; with all_unavailable (this node has no quorum) every
 * group is reported UNAVAILABLE. Writes at most alloc_len bytes to buf;
 * returns the bytes written, or -EINVAL for another format (the caller
 * answers INVALID FIELD IN CDB, byte 1 bit 7). *full_len (may be NULL)
 * gets the untruncated length.
 */
int port_dir_rtpg_build(const struct port_dir *d, unsigned format,
			uint8_t transition_s, bool all_unavailable,
			uint8_t *buf, uint32_t alloc_len, uint32_t *full_len);

/*
 * Canonical bytes of the directory (state transfer): equal directories
 * give equal bytes. Version 1, big-endian:
 *   0 4 "CTPD"   4 2 version   6 2 reserved (0)   8 4 port count N
 *  12   N port records in ascending RTPI order (record format below)
 * Port record: 0 4 node, 4 2 RTPI, 6 2 group, 8 2 TPG tag, 10 1 flags
 * (bit 0 live), 11 1 portal count P, 12 1 target name length T (1..223),
 * 13 T name, then P times: 1 byte length L (1..63), L bytes.
 * port_dir_save: 0 with *data (malloc'ed) and *len, or -ENOMEM.
 */
int port_dir_save(const struct port_dir *d, void **data, size_t *len);
/* All or nothing: 0, or -EINVAL / -EPROTONOSUPPORT (version) / -ENODATA
 * (truncated) with d unchanged. */
int port_dir_load(struct port_dir *d, const void *data, size_t len);

/*
 * ANNOUNCE on the wire: 0 1 version (1), 1 1 type (1: ANNOUNCE),
 * 2 2 reserved (0), 4 4 node, 8 2 port count, 10 2 reserved (0), 12 port
 * records as above (flags 0). Encode returns the length or -ENOSPC /
 * -EINVAL (something decode would refuse); decode returns 0, or -ENODATA
 * (truncated), -EPROTONOSUPPORT, -EINVAL (malformed, trailing bytes).
 * Decode checks the syntax; port_dir_announce judges the content.
 */
#define PORT_DIR_ANNOUNCE_MAX \
	(12 + PORT_DIR_NODE_PORTS_MAX * \
	 (13 + PORT_DIR_NAME_MAX + PORT_DIR_PORTALS_MAX * PORT_DIR_PORTAL_MAX))
ssize_t port_dir_announce_encode(const struct port_dir_announce *a,
				 uint8_t *buf, size_t cap);
int port_dir_announce_decode(const uint8_t *buf, size_t len,
			     struct port_dir_announce *a);

/* A short name for a verdict (logs). */
const char *port_dir_verdict_str(enum port_dir_verdict v);

#endif
