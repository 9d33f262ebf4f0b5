/*
 * ctgtd's control socket: newline-delimited JSON requests and responses
 * on a unix stream socket, for ctgtadm (docs/control.md has the protocol).
 *
 * Two halves:
 *   - the session (control_cmd.c): one client's view of the daemon. It
 *     takes one request line at a time, dispatches it through a table (one
 *     row per command) and answers through the session's reply function,
 *     at once or when the cluster operation completes. It owns the locks
 *     taken on the client's behalf. No sockets here, so the unit tests
 *     drive it directly.
 *   - the server (control.c): the listening socket and the connections,
 *     on one base_loop: framing, partial reads and writes, limits, and the
 *     connection lifetime (a connection is freed only from a deferral,
 *     once its session has nothing outstanding).
 *
 * Everything runs on the loop the cluster service lives on. Deliberately
 * not here: opening the cluster (member.c), authentication beyond the
 * socket's file mode.
 */
#ifndef CTGT_DAEMON_CONTROL_H
#define CTGT_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct base_loop;
struct cluster;

#define CONTROL_REQUEST_MAX (512u * 1024u)  /* bytes in one request line */
#define CONTROL_PENDING_MAX 64u             /* unanswered requests per client */
#define CONTROL_LOCKS_MAX 256u              /* locks held per client */
#define CONTROL_LOCK_ID_MAX 64u
/* Notify topics ctgtd itself listens to and logs (admin tests). */
#define CONTROL_NOTIFY_TOPIC_FIRST 0xff00u
#define CONTROL_NOTIFY_TOPICS 16u

/* What every session of one daemon shares. */
struct control_env {
	struct base_loop *loop;
	struct cluster *cluster;      /* NULL: cluster commands fail */
	const char *backend;          /* "single", "corosync" (status) */
	const char *group;
	uint64_t start_ms;            /* base_now_ms() at start */
};

struct control_session;

/* One response line (JSON, no newline). */
typedef void (*control_reply_fn)(struct control_session *s, const char *line,
				 size_t len);

struct control_session {
	const struct control_env *env;
	control_reply_fn reply;
	/* Called when a closed session has nothing outstanding any more
	 * (pending reached 0), from a completion: the owner frees the
	 * session later, never inside this call. May be NULL. */
	void (*idle)(struct control_session *s);
	struct list_head locks;       /* struct control_lock */
	unsigned nlocks;
	unsigned pending;             /* requests not answered yet */
	bool closed;                  /* the client is gone: no replies */
};

void control_session_init(struct control_session *s,
			  const struct control_env *env,
			  control_reply_fn reply);
/* Handles one request (a JSON object; line need not be NUL-terminated).
 * Every request gets exactly one reply, now or later, unless the session
 * is closed first. */
void control_session_request(struct control_session *s, const char *line,
			     size_t len);
/* The client is gone: its granted locks are released, its waiting ones
 * cancelled, later completions reply nothing. The session may be freed
 * once s->pending is 0 (idle() says when that happens later). */
void control_session_close(struct control_session *s);

/* ------------------------------------------------------------- the server */

struct control;

/* Listens on path (directory created if missing; a stale socket file
 * replaced). A live ctgtd already answering there: -EADDRINUSE. Returns
 * 0 or -errno; on loop's thread. */
int control_open(const struct control_env *env, const char *path,
		 struct control **out);
/* Shutdown is two steps around cluster_close() (member.c):
 * control_close() closes the listener and every connection (locks
 * released, waits cancelled) and removes the socket file if it is still
 * ours; cluster_close() then fires the completions still outstanding;
 * control_free() frees what is left. On the loop's thread. */
void control_close(struct control *ctl);
void control_free(struct control *ctl);

#endif
