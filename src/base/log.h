/*
 * Logging to stderr with levels.
 *
 * One line per message, prefixed with time, level and thread name. The level
 * is process-wide (set once at start: -v selects LOG_DEBUG).
 */
#ifndef CTGT_BASE_LOG_H
#define CTGT_BASE_LOG_H

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_ERR(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define LOG_WARN(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                        \
	do {                                                  \
		if (log_get_level() >= LOG_LVL_DEBUG)         \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);  \
	} while (0)

#endif
