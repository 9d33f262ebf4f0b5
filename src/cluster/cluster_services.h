/*
 * The built-in channels of the cluster service and how cluster.c attaches
 * them: the replicated key-value store (cluster_kv.c), the lock manager
 * (cluster_lock.c) and notify (in cluster.c). Internal to src/cluster.
 *
 * cluster_open() attaches KV and locks after the protocol is set up and
 * before the first view; cluster_close() detaches them first, and a
 * detach fires the outstanding completions with -ESHUTDOWN.
 */
#ifndef CTGT_CLUSTER_SERVICES_H
#define CTGT_CLUSTER_SERVICES_H

#include "cluster/cluster.h"

/* Wire ids of the built-in channels; users' channels start at
 * CLUSTER_CH_USER. */
enum {
	CLUSTER_CH_KV = 1,
	CLUSTER_CH_LOCK = 2,
	CLUSTER_CH_NOTIFY = 3,
	CLUSTER_CH_USER = 16,
};

struct cluster_kv;
struct cluster_locks;

int cluster_kv_attach(struct cluster *c, struct cluster_kv **out);
void cluster_kv_detach(struct cluster_kv *kv);
int cluster_locks_attach(struct cluster *c, struct cluster_locks **out);
void cluster_locks_detach(struct cluster_locks *lm);
/* cluster_is_ready() changed: called by cluster.c (lm may be NULL). */
void cluster_locks_ready(struct cluster_locks *lm, bool ready);

/* The attached services of c (cluster.c keeps the pointers). */
struct cluster_kv *cluster_kv_of(struct cluster *c);
struct cluster_locks *cluster_locks_of(struct cluster *c);

#endif
