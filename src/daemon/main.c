/*
 * ctgtd: the iSCSI target daemon's entry point.
 *
 * Reads the options and the configuration (a file, or the embedded
 * default), starts the event-loop threads, wires the configuration into
 * running objects (wire.c), says on stdout what it serves, then waits for
 * SIGTERM/SIGINT on the main thread and shuts down in the reverse order.
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread (the mask is set
 * before any thread starts) and taken with sigwait() here, so no handler
 * ever runs on a loop thread; SIGPIPE is ignored (sockets report EPIPE).
 *
 * Nothing here parses JSON or knows the layers' internals.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "daemon/config.h"
#include "daemon/member.h"
#include "daemon/wire.h"

#define MAIN_SHUTDOWN_TIMEOUT_S 30 /* then the watchdog exits with 1 */

struct main_opts {
	const char *config_path;   /* NULL: the embedded default */
	bool verbose;
	unsigned threads;          /* 0: not given */
	bool check;
	const char *control_path;  /* -S; NULL: the configuration's */
};

struct main_loop_thread {
	struct base_loop *loop;
	pthread_t thread;
	bool started;
	unsigned index;
};

/* The shutdown watchdog: a hang at exit must not outlive a supervisor's
 * patience silently, and a second SIGTERM/SIGINT means "now". */
static struct {
	pthread_mutex_t lock;
	bool done;
	const char *phase;
	sigset_t signals;
} main_watchdog = { .lock = PTHREAD_MUTEX_INITIALIZER, .phase = "start" };

static void main_usage_print(FILE *f)
{
	fprintf(f,
		"usage: ctgtd [-c FILE] [-v] [-t THREADS] [-S SOCKET] [--check] "
		"[--help]\n"
		"\n"
		"  -c, --config FILE   JSON configuration (docs/config.md); without\n"
		"                      it: one 1 GiB sparse-file LUN at\n"
		"                      $CTGT_STATE_DIR/default.img (default %s)\n"
		"                      on %s as %s\n"
		"                      APTPL reservations persist in\n"
		"                      $CTGT_STATE_DIR/pr/ (or node.state_dir)\n"
		"  -v, --verbose       debug logging\n"
		"  -t, --threads N     event-loop threads (default: online cores)\n"
		"  -S, --control PATH  control socket (default: control.socket,\n"
		"                      else /run/ctgt/ctgtd.sock)\n"
		"      --check         validate the configuration, exit 0 or 1\n"
		"  -h, --help          this text\n",
		CONFIG_STATE_DIR_DEFAULT, CONFIG_DEFAULT_PORTAL,
		CONFIG_DEFAULT_IQN);
}

static int main_opts_parse(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "threads", required_argument, NULL, 't' },
		{ "check", no_argument, NULL, 'C' },
		{ "control", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:vt:S:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 ||
			    v > CONFIG_MAX_THREADS || optarg[0] == '-') {
				fprintf(stderr, "ctgtd: -t: must be 1..%u, got "
					"\"%s\"\n", CONFIG_MAX_THREADS, optarg);
				return -EINVAL;
			}
			o->threads = (unsigned)v;
			break;
		case 'C':
			o->check = true;
			break;
		case 'S':
			if (optarg[0] != '/' ||
			    strlen(optarg) > CONFIG_CONTROL_SOCKET_MAX) {
				fprintf(stderr, "ctgtd: -S: must be an absolute "
					"path of at most %u bytes\n",
					CONFIG_CONTROL_SOCKET_MAX);
				return -EINVAL;
			}
			o->control_path = optarg;
			break;
		case 'h':
			main_usage_print(stdout);
			exit(0);
		default:
			main_usage_print(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctgtd: unexpected argument \"%s\"\n",
			argv[optind]);
		main_usage_print(stderr);
		return -EINVAL;
	}
	return 0;
}

/* Prints every message line as "ctgtd: WHERE: line". */
static void main_msgs_print(const char *where, const struct config_msgs *m)
{
	const char *p = m->text, *nl;

	while (p && *p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		fprintf(stderr, "ctgtd: %s: %.*s\n", where, (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
	if (m->n_dropped)
		fprintf(stderr, "ctgtd: %s: ... and %u more\n", where,
			m->n_dropped);
}

static int main_mkdir_p(const char *dir)
{
	char *p = strdup(dir), *s;
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*s = saved;
		if (!saved)
			break;
	}
	free(p);
	return err;
}

static const char *main_state_dir_get(void)
{
	const char *d = getenv("CTGT_STATE_DIR");

	return d && d[0] ? d : CONFIG_STATE_DIR_DEFAULT;
}

/* Loads the file or the default; 0 or 1 (the exit status), messages on
 * stderr. */
static int main_config_load(const struct main_opts *o, struct config **out)
{
	struct config_msgs msgs = { 0 };
	const char *where = o->config_path ? o->config_path : "default config";
	const char *state_dir = main_state_dir_get();
	struct stat st;
	int err;

	if (o->config_path) {
		err = config_load_file(o->config_path, out, &msgs);
	} else {
		err = config_default(state_dir, out, &msgs);
		if (!err && !o->check) {
			int e = main_mkdir_p(state_dir);

			if (e) {
				fprintf(stderr, "ctgtd: cannot create the state "
					"directory %s: %s\n", state_dir,
					strerror(-e));
				config_free(*out);
				*out = NULL;
				config_msgs_free(&msgs);
				return 1;
			}
		}
	}
	/* APTPL files go to $CTGT_STATE_DIR/pr/ unless the file names a
	 * node.state_dir (docs/config.md). */
	if (!err && config_state_dir_apply(*out, state_dir) < 0)
		err = -ENOMEM;
	/* --check of the default before its directory exists: nothing on
	 * disk to check yet (ctgtd would create it). */
	if (!err && (o->config_path || stat(state_dir, &st) == 0))
		err = config_check_files(*out, &msgs);
	main_msgs_print(where, &msgs);
	config_msgs_free(&msgs);
	if (err) {
		if (err == -ENOMEM)
			fprintf(stderr, "ctgtd: %s: out of memory\n", where);
		fprintf(stderr, "ctgtd: %s: %s, not serving\n", where,
			err == -EINVAL ? "invalid configuration" :
			"cannot load the configuration");
		config_free(*out);
		*out = NULL;
		return 1;
	}
	return 0;
}

static void *main_loop_thread_run(void *arg)
{
	struct main_loop_thread *lt = arg;
	int err = base_loop_run(lt->loop);

	if (err)
		LOG_ERR("event loop %u stopped with error: %s", lt->index,
			strerror(-err));
	return NULL;
}

static int main_loops_start(struct main_loop_thread *lts, unsigned n)
{
	char name[16];
	unsigned i;
	int err;

	for (i = 0; i < n; i++) {
		lts[i].index = i;
		err = base_loop_create(&lts[i].loop);
		if (err) {
			LOG_ERR("cannot create event loop %u: %s", i,
				strerror(-err));
			return err;
		}
		err = pthread_create(&lts[i].thread, NULL, main_loop_thread_run,
				     &lts[i]);
		if (err) {
			LOG_ERR("cannot start event-loop thread %u: %s", i,
				strerror(err));
			return -err;
		}
		lts[i].started = true;
		snprintf(name, sizeof(name), "loop%u", i);
		pthread_setname_np(lts[i].thread, name);
	}
	return 0;
}

static void main_loops_stop(struct main_loop_thread *lts, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (lts[i].started)
			base_loop_stop(lts[i].loop);
	for (i = 0; i < n; i++) {
		if (lts[i].started)
			pthread_join(lts[i].thread, NULL);
		lts[i].started = false;
	}
}

static void main_loops_destroy(struct main_loop_thread *lts, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (lts[i].loop)
			base_loop_destroy(lts[i].loop);
}

static void main_watchdog_phase(const char *phase)
{
	pthread_mutex_lock(&main_watchdog.lock);
	main_watchdog.phase = phase;
	pthread_mutex_unlock(&main_watchdog.lock);
}

static void *main_watchdog_run(void *arg)
{
	const struct timespec tick = { 0, 50 * 1000 * 1000 };
	uint64_t deadline = base_now_ms() + MAIN_SHUTDOWN_TIMEOUT_S * 1000ull;
	const char *phase;
	bool done;
	int sig;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&main_watchdog.lock);
		done = main_watchdog.done;
		phase = main_watchdog.phase;
		pthread_mutex_unlock(&main_watchdog.lock);
		if (done)
			return NULL;
		if (base_now_ms() >= deadline) {
			LOG_ERR("shutdown stuck for %d s in: %s; exiting",
				MAIN_SHUTDOWN_TIMEOUT_S, phase);
			_exit(1);
		}
		/* Only this thread waits for signals now. */
		sig = sigtimedwait(&main_watchdog.signals, NULL, &tick);
		if (sig > 0) {
			LOG_ERR("%s again during shutdown (in: %s): exiting "
				"now", sig == SIGINT ? "SIGINT" : "SIGTERM",
				phase);
			_exit(1);
		}
	}
}

static unsigned main_threads_count(const struct main_opts *o,
				   const struct config *c)
{
	long n;

	if (o->threads)
		return o->threads;
	if (c->threads)
		return c->threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > (long)CONFIG_MAX_THREADS)
		n = CONFIG_MAX_THREADS;
	return (unsigned)n;
}

static unsigned main_luns_count(const struct config *c)
{
	unsigned i, n = 0;

	for (i = 0; i < c->n_targets; i++)
		n += c->targets[i].n_luns;
	return n;
}

/*
 * Command buffers (up to SCSI_MAX_XFER_BYTES each) come from malloc. Above
 * glibc's default mmap threshold every 1 MiB command would map fresh pages
 * and unmap them on free: page faults and zeroing cost a quarter to a third
 * of the target's CPU on sequential I/O (docs/benchmarks.md). Keeping such
 * buffers in the per-thread arenas, and not trimming them back, turns that
 * into plain reuse. A per-loop buffer pool would do the same explicitly.
 */
static void main_malloc_tune(void)
{
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int main(int argc, char **argv)
{
	struct main_opts o = { 0 };
	struct main_loop_thread *lts = NULL;
	struct base_loop **loops = NULL;
	struct config *c = NULL;
	struct wire *w = NULL;
	struct member *m = NULL;
	pthread_t watchdog;
	bool watchdog_on;
	sigset_t set;
	unsigned n, i;
	int sig = 0, err, status = 1;

	pthread_setname_np(pthread_self(), "main");
	main_malloc_tune();
	if (main_opts_parse(argc, argv, &o))
		return 1;
	if (o.verbose)
		log_set_level(LOG_LVL_DEBUG);
	if (main_config_load(&o, &c))
		return 1;
	if (o.check) {
		printf("ctgtd: %s: valid (%u target%s, %u LUN%s)\n",
		       o.config_path ? o.config_path : "default config",
		       c->n_targets, c->n_targets == 1 ? "" : "s",
		       main_luns_count(c), main_luns_count(c) == 1 ? "" : "s");
		config_free(c);
		return 0;
	}
	log_set_level(o.verbose ? LOG_LVL_DEBUG : c->log_level);

	/* Before any thread exists, so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1); /* cluster failure: member.c, ports.c */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	n = main_threads_count(&o, c);
	lts = calloc(n, sizeof(*lts));
	loops = calloc(n, sizeof(*loops));
	if (!lts || !loops) {
		fprintf(stderr, "ctgtd: out of memory\n");
		goto out;
	}
	err = main_loops_start(lts, n);
	if (err)
		goto fail_start;
	for (i = 0; i < n; i++)
		loops[i] = lts[i].loop;
	LOG_DEBUG("%u event-loop thread%s", n, n == 1 ? "" : "s");

	/* The LUs, then the cluster (its device channel holds the clustered
	 * LUs' state), then the portals: nothing is served before this node
	 * has joined (or knows it cannot). */
	err = wire_build(c, &w);
	if (err)
		goto fail_start;
	err = member_start(c, o.control_path, &m);
	if (err)
		goto fail_start;
	err = wire_serve(w, loops, n);
	if (err)
		goto fail_start;
	member_attach_targets(m);
	wire_print_serving(w, stdout);
	LOG_INFO("ready: %u target%s, %u LUN%s, %u event-loop thread%s",
		 c->n_targets, c->n_targets == 1 ? "" : "s", main_luns_count(c),
		 main_luns_count(c) == 1 ? "" : "s", n, n == 1 ? "" : "s");

	do {
		err = sigwait(&set, &sig);
	} while (err == EINTR);
	LOG_INFO("%s: shutting down", sig == SIGINT ? "SIGINT" :
		 sig == SIGTERM ? "SIGTERM" :
		 sig == SIGUSR1 ? "cluster failure (or ports refused)" : "signal");

	main_watchdog.signals = set;
	watchdog_on = pthread_create(&watchdog, NULL, main_watchdog_run,
				     NULL) == 0;
	main_watchdog_phase("iSCSI shutdown (closing sessions)");
	wire_stop_fabric(w);
	main_watchdog_phase("closing the control socket and the cluster");
	member_stop(m);
	main_watchdog_phase("stopping event loops");
	main_loops_stop(lts, n);
	main_watchdog_phase("closing backstores (flush)");
	wire_destroy(w);
	main_watchdog_phase("destroying event loops");
	main_loops_destroy(lts, n);
	pthread_mutex_lock(&main_watchdog.lock);
	main_watchdog.done = true;
	pthread_mutex_unlock(&main_watchdog.lock);
	if (watchdog_on)
		pthread_join(watchdog, NULL);
	LOG_INFO("stopped");
	status = sig == SIGUSR1 ? 1 : 0;
	goto out;

fail_start:
	member_stop(m);
	wire_destroy(w);
	main_loops_stop(lts, n);
	main_loops_destroy(lts, n);
	fprintf(stderr, "ctgtd: start failed (%s), not serving\n",
		strerror(-err));
out:
	free(loops);
	free(lts);
	config_free(c);
	return status;
}
