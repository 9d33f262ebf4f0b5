/*
 * Logging: the level filter and the line format, read back through a pipe
 * that temporarily replaces stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

/* Runs fn with stderr redirected into a pipe; returns what was written. */
static size_t capture(void (*fn)(void), char *out, size_t cap)
{
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], out, cap - 1);
	close(p[0]);
	assert_true(n >= 0);
	out[n] = '\0';
	return (size_t)n;
}

static void emit_levels(void)
{
	log_set_level(LOG_LVL_WARN);
	LOG_ERR("err %d", 1);
	LOG_WARN("warn %s", "two");
	LOG_INFO("info hidden");
	LOG_DEBUG("debug hidden");
}

static void test_log_filter_and_format(void **state)
{
	char buf[4096];
	const char *l2;

	capture(emit_levels, buf, sizeof(buf));
	/* "YYYY-MM-DDTHH:MM:SS.mmmZ ctgtd[name] ERR err 1\n" */
	assert_int_equal(buf[4], '-');
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[19], '.');
	assert_int_equal(buf[23], 'Z');
	assert_memory_equal(buf + 24, " ctgtd[", 7);
	assert_non_null(strstr(buf, "] ERR err 1\n"));
	l2 = strchr(buf, '\n') + 1;
	assert_non_null(strstr(l2, "] WARN warn two\n"));
	assert_null(strstr(buf, "hidden"));
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
}

static void emit_long(void)
{
	char big[5000];

	log_set_level(LOG_LVL_INFO);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	LOG_INFO("%s", big);
	LOG_INFO("with newline\n");
}

static void test_log_truncates_and_ends_lines(void **state)
{
	char buf[8192];
	size_t n = capture(emit_long, buf, sizeof(buf));
	char *nl = strchr(buf, '\n');

	assert_non_null(nl);
	assert_memory_equal(nl - 3, "...", 3);
	assert_int_equal((size_t)(nl - buf) + 1, 2048);
	assert_non_null(strstr(nl + 1, "INFO with newline\n"));
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(buf[n - 2], 'e'); /* exactly one newline */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_filter_and_format),
		cmocka_unit_test(test_log_truncates_and_ends_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
