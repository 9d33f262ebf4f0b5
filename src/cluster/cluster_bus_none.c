/*
 * The corosync backend's stand-in for builds without the corosync client
 * libraries (libcpg, libvotequorum, libcmap): cluster_bus_corosync_create()
 * exists and says -ENOTSUP, so cluster_open(CLUSTER_BACKEND_COROSYNC)
 * fails cleanly instead of the link failing. Built exactly when
 * cluster_bus_corosync.c is not. Deliberately nothing else.
 */
#include <errno.h>
#include <stddef.h>

#include "cluster/cluster_bus.h"

int cluster_bus_corosync_create(struct cluster_bus **out)
{
	*out = NULL;
	return -ENOTSUP;
}
