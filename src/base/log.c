/*
 * Logging: one line per message on stderr.
 *
 * A line reads "2026-11-23T21:00:00.123Z ctgtd[loop0] WARN message": UTC
 * wall-clock time with milliseconds, the thread's name (pthread_setname_np)
 * and the level. The whole line is formatted into a stack buffer and written
 * with one write(2), so lines from different threads never interleave.
 *
 * Deliberately not here: log files, syslog, rate limiting, rotation. A
 * message longer than LOG_LINE_MAX is truncated (and ends in "...").
 */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_THREAD_NAME_MAX 16 /* Linux: 15 characters + NUL */

static _Atomic int log_level_current = LOG_LVL_INFO;

static const char *const log_level_names[] = {
	[LOG_LVL_ERR] = "ERR",
	[LOG_LVL_WARN] = "WARN",
	[LOG_LVL_INFO] = "INFO",
	[LOG_LVL_DEBUG] = "DEBUG",
};

void log_set_level(enum log_level level)
{
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	atomic_store_explicit(&log_level_current, (int)level,
			      memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level_current,
						    memory_order_relaxed);
}

/* Writes all of buf to stderr; a failed write is dropped (there is nowhere
 * else to report it). */
static void log_line_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char tname[LOG_THREAD_NAME_MAX];
	struct timespec ts;
	struct tm tm;
	size_t used;
	int n;
	va_list ap;

	if ((int)level > atomic_load_explicit(&log_level_current,
					      memory_order_relaxed))
		return;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (pthread_getname_np(pthread_self(), tname, sizeof(tname)) != 0)
		strcpy(tname, "?");

	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ctgtd[%s] %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, tname,
		     log_level_names[level]);
	if (n < 0)
		return;
	used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

	va_start(ap, fmt);
	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;

	/* Keep room for the newline; mark truncation. */
	if (used + (size_t)n >= sizeof(line) - 1) {
		used = sizeof(line) - 1;
		memcpy(line + used - 3, "...", 3);
	} else {
		used += (size_t)n;
	}
	/* Callers may or may not end fmt with '\n': exactly one per line. */
	while (used > 0 && line[used - 1] == '\n')
		used--;
	line[used++] = '\n';

	log_line_write(line, used);
}
