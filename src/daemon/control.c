/*
 * The control socket server: a unix stream socket on the cluster's loop,
 * connections framed as newline-delimited JSON (docs/control.md).
 *
 * Each connection reads into a buffer and hands every complete line to
 * its session (control_cmd.c); replies are queued and written without
 * blocking (EPOLLOUT when the socket is full). Limits keep one client from
 * hurting the others or the daemon: a request line longer than
 * CONTROL_REQUEST_MAX is answered with an error and the connection is
 * closed (there is no way to find the next request in an unbounded
 * line); a client with CONTROL_PENDING_MAX unanswered requests, or one
 * that does not read its replies, is not read from until that drains;
 * at most CONTROL_CONNS_MAX connections.
 *
 * Lifetime: a connection that fails or ends is "killed" from a timer
 * callback, never inside its own fd callback or a reply (mark and reap):
 * its fd is closed and its session closed (locks released), and it is
 * freed from the same timer once its session has no completion left to
 * wait for.
 *
 * Deliberately not here: the commands (control_cmd.c), which socket path
 * is an error and which a warning (member.c).
 */
#include "daemon/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"

#define CONTROL_CONNS_MAX 64u
#define CONTROL_OUT_HIGH (1u << 20)   /* unsent reply bytes: stop reading */
#define CONTROL_READ_CHUNK 65536u

struct control {
	const struct control_env *env;
	struct base_fd lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;                    /* the socket file we created */
	ino_t ino;
	struct list_head conns;       /* struct control_conn, live and dead */
	unsigned nconns;
	/* The reaper: kills failed connections, frees idle dead ones and
	 * resumes stalled ones, outside every connection's callbacks. */
	struct base_timer kick;
};

struct control_conn {
	struct control *ctl;
	struct base_fd bfd;
	struct control_session s;
	struct list_head link;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_off, out_len, out_cap;
	uint32_t events;              /* what the loop watches now */
	bool failed;                  /* to be killed by the reaper */
	bool dead;                    /* fd closed; freed once idle */
	bool stalled;                 /* complete lines left unparsed */
	bool close_after_flush;       /* a fatal error reply is queued */
};

static void control_kick(struct control *ctl)
{
	if (!ctl->kick.armed)
		base_timer_start(ctl->env->loop, &ctl->kick, 0);
}

static void control_conn_fail(struct control_conn *c)
{
	c->failed = true;
	control_kick(c->ctl);
}

static void control_conn_events_set(struct control_conn *c)
{
	uint32_t ev = 0;

	if (c->dead || c->failed)
		return;
	if (!c->stalled && !c->close_after_flush &&
	    c->s.pending < CONTROL_PENDING_MAX &&
	    c->out_len - c->out_off < CONTROL_OUT_HIGH)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		if (base_loop_mod(c->ctl->env->loop, &c->bfd, ev) < 0) {
			control_conn_fail(c);
			return;
		}
		c->events = ev;
	}
}

/* Writes what it can; EAGAIN leaves the rest for EPOLLOUT. */
static void control_conn_flush(struct control_conn *c)
{
	ssize_t n;

	while (c->out_len > c->out_off) {
		n = send(c->bfd.fd, c->out + c->out_off,
			 c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			control_conn_fail(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->close_after_flush)
			control_conn_fail(c);
	}
}

/* Sends what it can. Replies drained, or a reply that ended a request:
 * lines held back may go on. */
static void control_conn_send(struct control_conn *c)
{
	control_conn_flush(c);
	if (c->stalled)
		control_kick(c->ctl);
	control_conn_events_set(c);
}

/* The session's reply: queue the line, try to send it now. */
static void control_conn_reply(struct control_session *s, const char *line,
			       size_t len)
{
	struct control_conn *c = container_of(s, struct control_conn, s);
	size_t need = c->out_len + len + 1, cap;
	char *p;

	if (c->dead || c->failed)
		return;
	if (need > c->out_cap) {
		cap = c->out_cap ? c->out_cap : 4096;
		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p) {
			/* A reply lost would leave the client waiting. */
			control_conn_fail(c);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	control_conn_send(c);
}

static void control_conn_idle(struct control_session *s)
{
	struct control_conn *c = container_of(s, struct control_conn, s);

	control_kick(c->ctl);
}

/* Hands complete lines to the session while it may take more. */
static void control_conn_lines(struct control_conn *c)
{
	size_t off = 0, len;
	char *nl;

	c->stalled = false;
	while (!c->failed && !c->dead && off < c->in_len) {
		if (c->s.pending >= CONTROL_PENDING_MAX ||
		    c->out_len - c->out_off >= CONTROL_OUT_HIGH) {
			c->stalled = true;
			break;
		}
		nl = memchr(c->in + off, '\n', c->in_len - off);
		if (!nl)
			break;
		len = (size_t)(nl - (c->in + off));
		if (len && c->in[off + len - 1] == '\r')
			len--;
		/* Blank lines are keep-alives, not requests. */
		if (len)
			control_session_request(&c->s, c->in + off, len);
		off = (size_t)(nl - c->in) + 1;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (!c->stalled && c->in_len > CONTROL_REQUEST_MAX) {
		static const char err[] = "{\"ok\":false,\"error\":\"request "
			"longer than the limit; closing\",\"code\":\"EMSGSIZE\"}";

		control_conn_reply(&c->s, err, sizeof(err) - 1);
		c->close_after_flush = true;
		c->in_len = 0;
		if (c->out_len == c->out_off)
			control_conn_fail(c);
	}
	control_conn_events_set(c);
}

static void control_conn_input(struct control_conn *c)
{
	ssize_t n;
	char *p;

	for (;;) {
		if (c->in_cap - c->in_len < CONTROL_READ_CHUNK / 4) {
			size_t cap = c->in_cap ? c->in_cap * 2 :
				     CONTROL_READ_CHUNK;

			if (cap > CONTROL_REQUEST_MAX + CONTROL_READ_CHUNK)
				cap = CONTROL_REQUEST_MAX + CONTROL_READ_CHUNK;
			if (cap <= c->in_cap)
				break;       /* full: the line check ends it */
			p = realloc(c->in, cap);
			if (!p) {
				control_conn_fail(c);
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		n = recv(c->bfd.fd, c->in + c->in_len, c->in_cap - c->in_len,
			 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* EOF: the client is gone (a half-close too: the
			 * session ends, its locks are released). */
			control_conn_fail(c);
			return;
		}
		c->in_len += (size_t)n;
		if (c->in_len > CONTROL_REQUEST_MAX)
			break;
	}
	control_conn_lines(c);
}

static void control_conn_cb(struct base_fd *f, uint32_t events)
{
	struct control_conn *c = container_of(f, struct control_conn, bfd);

	if (c->dead || c->failed)
		return;
	if (events & EPOLLOUT)
		control_conn_send(c);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		control_conn_input(c);
}

/* Closes the fd and the session; the memory waits for the reaper. */
static void control_conn_kill(struct control_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	base_loop_del(c->ctl->env->loop, &c->bfd);
	close(c->bfd.fd);
	c->bfd.fd = -1;
	control_session_close(&c->s);
}

static void control_conn_free(struct control_conn *c)
{
	list_del(&c->link);
	c->ctl->nconns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void control_kick_cb(struct base_timer *t)
{
	struct control *ctl = container_of(t, struct control, kick);
	struct control_conn *c, *tmp;

	list_for_each_entry_safe(c, tmp, &ctl->conns, link) {
		if (c->failed && !c->dead)
			control_conn_kill(c);
		if (c->dead) {
			if (c->s.pending == 0)
				control_conn_free(c);
		} else if (c->stalled) {
			control_conn_lines(c);
		}
	}
}

static void control_accept_cb(struct base_fd *f, uint32_t events)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"too many "
		"control connections\",\"code\":\"EBUSY\"}\n";
	struct control *ctl = container_of(f, struct control, lfd);
	struct control_conn *c;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(ctl->lfd.fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				LOG_WARN("control: accept: %s",
					 strerror(errno));
			return;
		}
		c = ctl->nconns < CONTROL_CONNS_MAX ? calloc(1, sizeof(*c)) :
		    NULL;
		if (!c) {
			/* Best effort: the client learns why. */
			if (send(fd, busy, sizeof(busy) - 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				LOG_DEBUG("control: refusing a connection");
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->bfd.fd = fd;
		c->bfd.cb = control_conn_cb;
		control_session_init(&c->s, ctl->env, control_conn_reply);
		c->s.idle = control_conn_idle;
		c->events = EPOLLIN;
		if (base_loop_add(ctl->env->loop, &c->bfd, EPOLLIN) < 0) {
			close(fd);
			free(c);
			continue;
		}
		list_add_tail(&ctl->conns, &c->link);
		ctl->nconns++;
	}
}

static int control_mkdir_p(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = '\0';
	for (s = dir + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;

		*s = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = saved;
		if (!saved)
			return 0;
	}
}

/* A socket file at path: -EADDRINUSE when something answers on it, 0
 * after removing a dead one, -EEXIST when it is not a socket. */
static int control_stale_remove(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r, err;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	err = r < 0 ? errno : 0;
	close(fd);
	/* EAGAIN: a live listener with a full backlog. */
	if (r == 0 || err == EAGAIN)
		return -EADDRINUSE;
	if (err != ECONNREFUSED && err != ENOENT)
		return -err;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int control_open(const struct control_env *env, const char *path,
		 struct control **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *ctl;
	struct stat st;
	int fd = -1, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	err = control_mkdir_p(path);
	if (err)
		return err;
	err = control_stale_remove(&sa);
	if (err)
		return err;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto fail;
	}
	/* Before listen(): nobody can connect yet, so the mode is right
	 * before anyone could use the socket. */
	if (chmod(path, 0600) < 0 || stat(path, &st) < 0 ||
	    listen(fd, 64) < 0) {
		err = -errno;
		unlink(path);
		goto fail;
	}
	ctl->env = env;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	list_init(&ctl->conns);
	base_timer_init(&ctl->kick, control_kick_cb);
	ctl->lfd.fd = fd;
	ctl->lfd.cb = control_accept_cb;
	err = base_loop_add(env->loop, &ctl->lfd, EPOLLIN);
	if (err) {
		unlink(path);
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(ctl);
	return err;
}

void control_close(struct control *ctl)
{
	struct control_conn *c, *tmp;
	struct stat st;

	if (!ctl)
		return;
	base_loop_del(ctl->env->loop, &ctl->lfd);
	close(ctl->lfd.fd);
	/* Only our own file: a newer ctgtd may have replaced it. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	list_for_each_entry(c, &ctl->conns, link)
		control_conn_kill(c);
	base_timer_stop(ctl->env->loop, &ctl->kick);
	list_for_each_entry_safe(c, tmp, &ctl->conns, link)
		if (c->s.pending == 0)
			control_conn_free(c);
}

void control_free(struct control *ctl)
{
	struct control_conn *c, *tmp;

	if (!ctl)
		return;
	/* The cluster is closed: every completion has fired. */
	base_timer_stop(ctl->env->loop, &ctl->kick);
	list_for_each_entry_safe(c, tmp, &ctl->conns, link) {
		if (c->s.pending)
			LOG_WARN("control: %u request(s) never completed",
				 c->s.pending);
		control_conn_free(c);
	}
	free(ctl);
}
