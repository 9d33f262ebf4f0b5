/*
 * The replicated lock table as a pure state machine: who holds or waits
 * for which (resource, range, mode), in commit order, and the grant rule.
 * Internal to src/cluster.
 *
 * Deliberately NOT here: I/O, the loop, the cluster, callbacks, and which
 * local user holds a granted entry (cluster_lock.c keeps that). Every
 * decision depends only on the table and the op, so every member that
 * applies the same ops in the same order holds the same table, and
 * cluster_lock_table_save() gives the same bytes.
 *
 * Grant rule: a waiting entry is granted when it conflicts with no granted
 * entry and with no earlier waiting entry (FIFO among conflicting
 * requests; a request is not held up by unrelated waiters). Two entries
 * conflict when they name the same resource, their ranges overlap (len 0
 * is the whole resource and overlaps everything) and one is exclusive.
 * Entries are owned by lock users, not by nodes: two requests of the same
 * node conflict like any other two.
 *
 * Caching: an entry requested with CLUSTER_LOCK_CACHE stays granted after
 * its owner's local release (no traffic: the table cannot tell a cached
 * entry in use from an idle one). When such an entry blocks a waiter, the
 * op's result names it in `blockers`, and its owner gives it up with a
 * cache-release op once its local user is done.
 */
#ifndef CTGT_CLUSTER_LOCK_TABLE_H
#define CTGT_CLUSTER_LOCK_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "cluster/cluster.h"

struct cluster_lock_res;

struct cluster_lock_entry {
	/* replicated */
	uint32_t node;           /* owner node id */
	uint64_t req_id;         /* unique per owner node */
	uint64_t start, len;     /* [start, start + len); len 0: whole */
	enum cluster_lock_mode mode;
	bool granted;
	bool cached;             /* requested with CLUSTER_LOCK_CACHE */
	struct cluster_lock_res *res;
	struct list_head link;   /* res->entries, commit order */

	/* result lists of the last op (cluster_lock_result) */
	struct list_head grant_link;
	struct list_head block_link;

	/* local to the owner node: never saved, never compared; the lock
	 * manager's bookkeeping for cached entries */
	void *local_user;        /* the struct cluster_lock using it */
	bool local_release_sent; /* a release / cache-release of it is
	                            on its way */
};

/* One resource name and its entries in commit order. */
struct cluster_lock_res {
	struct list_head entries;
	uint32_t count;
	uint16_t nlen;
	char name[CLUSTER_LOCK_NAME_MAX + 1];
};

/* Resources sorted by name: save is canonical without sorting. */
struct cluster_lock_table {
	struct cluster_lock_res **res;
	uint32_t nres, cap;
	uint32_t nentries;
};

enum cluster_lock_op_type {
	CLUSTER_LOCK_OP_REQUEST = 1,
	CLUSTER_LOCK_OP_RELEASE = 2,
	CLUSTER_LOCK_OP_CANCEL = 3,
	CLUSTER_LOCK_OP_CACHE_RELEASE = 4,
};

/* A decoded op; the owner node is the message's sender. name is NOT
 * NUL-terminated (it points into the message). */
struct cluster_lock_op {
	enum cluster_lock_op_type type;
	uint64_t req_id;
	const char *name;
	size_t nlen;
	uint64_t start, len;     /* REQUEST only */
	enum cluster_lock_mode mode;
	bool cache;              /* REQUEST only */
};

/* What one op did. The lists hold entries of the table (valid until the
 * next op, load or reset), in commit order of their resources. */
struct cluster_lock_result {
	/* 0; -EINVAL (invalid op); -EEXIST (request id in use);
	 * -ENOENT (no such entry); -EBUSY (cancel or cache-release of a
	 * granted / not cached entry: nothing done); -ENOMEM */
	int status;
	/* REQUEST: the new entry; CANCEL: NULL once removed */
	struct cluster_lock_entry *entry;
	struct list_head granted;   /* newly granted, via grant_link */
	/* cached granted entries that this op made block a waiter, via
	 * block_link: those a new waiting request conflicts with, newly
	 * granted ones with a conflicting waiter behind them; after a
	 * node left, every blocking cached entry of the resources it
	 * touched. An entry named once stays blocking until its owner
	 * gives it up (cluster_lock_entry_blocks() tells). */
	struct list_head blockers;
};

void cluster_lock_table_init(struct cluster_lock_table *t);
void cluster_lock_table_reset(struct cluster_lock_table *t);

bool cluster_lock_op_valid(const struct cluster_lock_op *op);

/* Applies op from node. Always fills res; returns res->status.
 *   REQUEST: appends a waiting entry and runs the grant rule;
 *   RELEASE: removes the entry (granted or waiting);
 *   CANCEL: removes the entry if it waits (-EBUSY if granted: the grant
 *     raced ahead, the owner will release it);
 *   CACHE_RELEASE: removes the entry if granted and cached (-EBUSY
 *     otherwise). */
int cluster_lock_table_apply(struct cluster_lock_table *t, uint32_t node,
			     const struct cluster_lock_op *op,
			     struct cluster_lock_result *res);
/* Drops every entry of node (it left the view). */
void cluster_lock_table_node_left(struct cluster_lock_table *t,
				  uint32_t node,
				  struct cluster_lock_result *res);

struct cluster_lock_entry *
cluster_lock_table_find(const struct cluster_lock_table *t, const char *name,
			size_t nlen, uint32_t node, uint64_t req_id);
struct cluster_lock_res *
cluster_lock_table_res(const struct cluster_lock_table *t, const char *name,
		       size_t nlen);

bool cluster_lock_entry_conflict(const struct cluster_lock_entry *a,
				 const struct cluster_lock_entry *b);
/* Whether granted entry e has a conflicting waiter behind it. */
bool cluster_lock_entry_blocks(const struct cluster_lock_entry *e);
/* Whether e (granted) covers (start, len, mode): same resource assumed,
 * range inside, mode not stronger. */
bool cluster_lock_entry_covers(const struct cluster_lock_entry *e,
			       uint64_t start, uint64_t len,
			       enum cluster_lock_mode mode);

/* The table's invariants: no two granted entries conflict; every waiting
 * entry conflicts with a granted or an earlier waiting entry (nothing
 * grantable is left waiting); counts and order are consistent. 0 or
 * -EINVAL with a reason in why (may be NULL). */
int cluster_lock_table_check(const struct cluster_lock_table *t, char *why,
			     size_t whylen);

/* Canonical bytes (malloc'ed):
 *   u32 magic "CLKT", u16 format version (1), u16 flags (0), u32 nres,
 *   nres x { u16 nlen, u16 0, u32 count, name,
 *            count x { u32 node, u8 mode, u8 flags (1 granted, 2 cached),
 *                      u16 0, u64 req_id, u64 start, u64 len } }
 * big-endian, names strictly ascending, entries in commit order. */
int cluster_lock_table_save(const struct cluster_lock_table *t, void **data,
			    size_t *len);
/* All or nothing: 0, -EINVAL (malformed, or a table that breaks the
 * invariants; t unchanged) or -ENOMEM. */
int cluster_lock_table_load(struct cluster_lock_table *t, const void *data,
			    size_t len);

/* Wire codec of one op:
 *   u8 format version (1), u8 type, u8 mode, u8 flags (1: cache),
 *   u16 nlen, u16 0, u64 req_id, u64 start, u64 len, name (nlen bytes)
 * big-endian. RELEASE/CANCEL/CACHE_RELEASE carry start = len = 0, mode 0
 * and no flags. */
#define CLUSTER_LOCK_OP_WIRE_VERSION 1
#define CLUSTER_LOCK_OP_HDR 32u
#define CLUSTER_LOCK_OP_MAX (CLUSTER_LOCK_OP_HDR + CLUSTER_LOCK_NAME_MAX)

long cluster_lock_op_encode(const struct cluster_lock_op *op, void *buf,
			    size_t cap);
int cluster_lock_op_decode(const void *buf, size_t len,
			   struct cluster_lock_op *op);

#endif
