/*
 * ctgtd's configuration: JSON text -> a validated struct config.
 *
 * Parsing and validation are pure functions over a string (no file system,
 * no clock), so every rule is unit-testable; the few checks that need the
 * file system (does the backing file exist, how big is it) are a separate
 * step, config_check_files(). Every message names the key path
 * ("targets[0].luns[1].block_size: ..."). The schema is documented in
 * docs/config.md; keep the two in step.
 *
 * This file does not open backstores or create SCSI/iSCSI objects: wire.c
 * turns a struct config into running objects.
 */
#ifndef CTGT_DAEMON_CONFIG_H
#define CTGT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backstore/backstore.h"
#include "base/log.h"
#include "daemon/config_cluster.h"
#include "iscsi/iscsi.h"
#include "scsi/scsi.h"

#define CONFIG_STATE_DIR_DEFAULT "/var/lib/ctgt"
#define CONFIG_DEFAULT_IQN "iqn.2026-11.org.ctgt:default"
#define CONFIG_DEFAULT_IMAGE "default.img"
#define CONFIG_DEFAULT_PORTAL "127.0.0.1:3260"
#define CONFIG_DEFAULT_SIZE (1ull << 30)

/* IEEE 802c AAI (locally administered) company id used in derived NAA
 * identifiers: ctgt owns no registered OUI. Bytes 02 43 54 ("CT"). */
#define CONFIG_NAA_COMPANY_ID 0x024354u

#define CONFIG_MAX_THREADS 256u
#define CONFIG_MAX_LUN 255u
#define CONFIG_MAX_MSGS 64u   /* errors + warnings kept; the rest counted */

/* Diagnostics, one per line: "path: what is wrong" for errors,
 * "warning: path: ..." for warnings. */
struct config_msgs {
	char *text;             /* NUL-terminated, "" when empty; may be NULL */
	size_t len;
	size_t cap;
	unsigned n_errors;
	unsigned n_warnings;
	unsigned n_dropped;     /* beyond CONFIG_MAX_MSGS */
};

struct config_lun {
	/* bs.type/bs.path point into this struct; bs.size 0 = the file's */
	struct bs_config bs;
	char type[8];
	char *path;              /* heap; NULL for ram */
	bool size_set;
	/* bs NULL and nblocks 0 until wired (the size may come from the
	 * file); everything else final */
	struct scsi_lun_config scsi;
	/* APTPL file (heap): "aptpl_file", or derived from the state
	 * directory; scsi.aptpl_file points here */
	char *aptpl_file;
	bool aptpl_file_set;
	/* "cluster_impl": "cluster" (docs/cluster-device.md): the LU's
	 * reservations, resets and UAs are coherent across the cluster's
	 * nodes; "single" (default): this node alone. */
	bool clustered;
	/* set by wire.c: the running LU (NULL until wired) */
	struct scsi_lun *lu;
};

struct config_target {
	/* scsi and tpgs[].tport are NULL until wired */
	struct iscsi_target_config iscsi;
	uint16_t *rtpis;         /* per tpg, parallel to iscsi.tpgs */
	unsigned n_luns;
	struct config_lun *luns;
};

struct config {
	unsigned threads;        /* 0 = not set: online cores */
	enum log_level log_level;
	bool log_level_set;
	uint16_t port_group;     /* ALUA target port group of this node */
	char *state_dir;         /* node.state_dir (heap); NULL: not set */
	struct iscsi_global_config iscsi;
	unsigned n_targets;
	struct config_target *targets;
	struct config_cluster cluster;   /* config_cluster.c */
	struct config_control control;
};

/* Parses and validates. 0 with *out set (warnings may be in msgs), or
 * -EINVAL with the errors in msgs (-ENOMEM when out of memory). msgs must
 * be zeroed by the caller; config_msgs_free() afterwards either way. */
int config_parse(const char *text, struct config **out,
		 struct config_msgs *msgs);
/* Reads the file and config_parse()s it; an unreadable file is one
 * message in msgs and -errno. */
int config_load_file(const char *path, struct config **out,
		     struct config_msgs *msgs);
/* The embedded default (docs/config.md) as JSON text, with its image file
 * in state_dir. Heap string, NULL on ENOMEM. */
char *config_default_json(const char *state_dir);
int config_default(const char *state_dir, struct config **out,
		   struct config_msgs *msgs);
/* The file-system checks (docs/config.md, backstore): 0 or -EINVAL with
 * messages. Reads only: creates nothing. */
int config_check_files(const struct config *c, struct config_msgs *msgs);
void config_free(struct config *c);
/* When the file sets no node.state_dir: derives every LU's APTPL file
 * (without aptpl_file) in state_dir instead of /var/lib/ctgt (ctgtd
 * passes $CTGT_STATE_DIR). 0 or -ENOMEM. */
int config_state_dir_apply(struct config *c, const char *state_dir);

void config_msgs_free(struct config_msgs *m);
/* Adds one message (for config_cluster.c): path may be NULL. */
__attribute__((format(printf, 4, 5)))
void config_msg_add(struct config_msgs *m, bool warning, const char *path,
		    const char *fmt, ...);

/* --- pieces, exposed for the unit tests --- */

/* Each returns NULL when s is valid, else a reason ("port must be ..."). */
const char *config_size_parse(const char *s, uint64_t *out);
const char *config_portal_parse(const char *s, struct iscsi_portal_config *out);
const char *config_iscsi_name_check(const char *name);

/* Derived identity (docs/config.md): stable, host-independent. */
void config_naa_derive(const char *target, uint64_t lun, uint8_t naa[16]);
void config_serial_derive(const char *target, uint64_t lun, char serial[33]);

#endif
