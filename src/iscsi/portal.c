/*
 * Portals: the listening sockets (one per distinct address:port, however
 * many targets' portal groups name it) and accepting connections, which are
 * spread round-robin over the fabric's event loops (the new connection is
 * handed to its loop with base_loop_post and starts there).
 *
 * Every listener lives on the first loop. Nothing here reads PDUs: login
 * starts in conn.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "iscsi/runtime.h"

#define ISCSI_PORTAL_BACKLOG 128

struct iscsi_portal {
	struct list_head link;            /* iscsi_fabric.portals */
	struct base_fd bfd;
	struct iscsi_portal_config cfg;
	struct base_loop *loop;
	bool listening;
};

/* The TPG tag of the first portal group that names this portal (for
 * discovery sessions' SendTargets). */
static uint16_t iscsi_portal_tpgt_locked(const struct iscsi_portal_config *pc)
{
	unsigned i, j, k;

	for (i = 0; i < iscsi_fabric.n_targets; i++) {
		const struct iscsi_target_config *t = iscsi_fabric.targets[i];

		for (j = 0; j < t->n_tpgs; j++)
			for (k = 0; k < t->tpgs[j].n_portals; k++)
				if (t->tpgs[j].portals[k].port == pc->port &&
				    strcmp(t->tpgs[j].portals[k].addr,
					   pc->addr) == 0)
					return t->tpgs[j].tag;
	}
	return 1;
}

static void iscsi_portal_accept_one(struct iscsi_portal *p, int fd)
{
	struct iscsi_loop_ctx *lctx;
	struct iscsi_conn *c;
	uint16_t tpgt;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&iscsi_fabric.lock);
	if (iscsi_fabric.shutting_down) {
		pthread_mutex_unlock(&iscsi_fabric.lock);
		close(fd);
		return;
	}
	tpgt = iscsi_portal_tpgt_locked(&p->cfg);
	iscsi_fabric.n_conns++;
	pthread_mutex_unlock(&iscsi_fabric.lock);

	lctx = &iscsi_fabric.loops[iscsi_fabric.next_loop++ %
				   iscsi_fabric.n_loops];
	c = iscsi_conn_create(fd, lctx, &p->cfg, tpgt);
	if (!c || base_loop_post(lctx->loop, iscsi_conn_start, c) < 0) {
		LOG_WARN("iscsi: no memory for a new connection, refused");
		free(c);
		close(fd);
		pthread_mutex_lock(&iscsi_fabric.lock);
		iscsi_fabric_conn_gone_locked();
		pthread_mutex_unlock(&iscsi_fabric.lock);
	}
}

static void iscsi_portal_accept_cb(struct base_fd *f, uint32_t events)
{
	struct iscsi_portal *p = container_of(f, struct iscsi_portal, bfd);

	for (;;) {
		int fd = accept4(f->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN("iscsi: accept on %s:%u: %s",
					 p->cfg.addr, p->cfg.port,
					 strerror(errno));
			return;
		}
		iscsi_portal_accept_one(p, fd);
	}
}

static void iscsi_portal_register(void *arg)
{
	struct iscsi_portal *p = arg;

	if (base_loop_add(p->loop, &p->bfd, EPOLLIN) < 0) {
		LOG_ERR("iscsi: cannot watch portal %s:%u", p->cfg.addr,
			p->cfg.port);
		return;
	}
	p->listening = true;
}

static int iscsi_portal_socket(const struct iscsi_portal_config *pc)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, pc->addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(pc->port);
		sl = sizeof(*in);
	} else if (inet_pton(AF_INET6, pc->addr,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(pc->port);
		sl = sizeof(*in6);
	} else {
		LOG_ERR("iscsi: portal address '%s' is not an IP literal",
			pc->addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(fd, ISCSI_PORTAL_BACKLOG) < 0) {
		int e = -errno;

		LOG_ERR("iscsi: cannot listen on %s:%u: %s", pc->addr,
			pc->port, strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

int iscsi_portal_open(const struct iscsi_portal_config *pc)
{
	struct iscsi_portal *p;
	uint16_t port = pc->port ? pc->port : ISCSI_DEFAULT_PORT;
	int fd;

	pthread_mutex_lock(&iscsi_fabric.lock);
	list_for_each_entry(p, &iscsi_fabric.portals, link) {
		if (p->cfg.port == port && strcmp(p->cfg.addr, pc->addr) == 0) {
			pthread_mutex_unlock(&iscsi_fabric.lock);
			return 0; /* shared by several portal groups */
		}
	}
	pthread_mutex_unlock(&iscsi_fabric.lock);

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *pc;
	p->cfg.port = port;
	fd = iscsi_portal_socket(&p->cfg);
	if (fd < 0) {
		free(p);
		return fd;
	}
	p->bfd.fd = fd;
	p->bfd.cb = iscsi_portal_accept_cb;
	p->loop = iscsi_fabric.loops[0].loop;
	if (base_loop_post(p->loop, iscsi_portal_register, p) < 0) {
		close(fd);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_lock(&iscsi_fabric.lock);
	list_add_tail(&iscsi_fabric.portals, &p->link);
	iscsi_fabric.n_portals_open++;
	pthread_mutex_unlock(&iscsi_fabric.lock);
	LOG_INFO("iscsi: listening on %s:%u", p->cfg.addr, p->cfg.port);
	return 0;
}

/* On the listeners' loop: stop accepting and free every portal. */
static void iscsi_portal_close_all_cb(void *arg)
{
	struct iscsi_portal *p, *tmp;

	pthread_mutex_lock(&iscsi_fabric.lock);
	list_for_each_entry_safe(p, tmp, &iscsi_fabric.portals, link) {
		list_del(&p->link);
		if (p->listening)
			base_loop_del(p->loop, &p->bfd);
		close(p->bfd.fd);
		free(p);
		iscsi_fabric.n_portals_open--;
	}
	pthread_cond_broadcast(&iscsi_fabric.cond);
	pthread_mutex_unlock(&iscsi_fabric.lock);
}

void iscsi_portal_close_all(void)
{
	pthread_mutex_lock(&iscsi_fabric.lock);
	if (iscsi_fabric.n_portals_open == 0) {
		pthread_mutex_unlock(&iscsi_fabric.lock);
		return;
	}
	pthread_mutex_unlock(&iscsi_fabric.lock);
	if (base_loop_post(iscsi_fabric.loops[0].loop,
			   iscsi_portal_close_all_cb, NULL) < 0) {
		LOG_ERR("iscsi: cannot post the portal close; leaking listeners");
		return;
	}
	pthread_mutex_lock(&iscsi_fabric.lock);
	while (iscsi_fabric.n_portals_open > 0)
		pthread_cond_wait(&iscsi_fabric.cond, &iscsi_fabric.lock);
	pthread_mutex_unlock(&iscsi_fabric.lock);
}
