/*
 * The "cluster" and "control" objects of the configuration
 * (config_cluster.c): defaults, accepted values, and refusals that name
 * the key path. Pure: no socket, no cluster.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config.h"

#define T_DOC(extra) \
	"{\"targets\":[{\"name\":\"iqn.2026-11.org.ctgt:t\"," \
	"\"portal_groups\":[{\"portals\":[\"127.0.0.1:3260\"]}]," \
	"\"luns\":[{\"backstore\":{\"type\":\"ram\",\"size\":\"1M\"}}]}]" \
	extra "}"

static struct config *t_parse_ok(const char *json)
{
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	int err = config_parse(json, &c, &m);

	if (err)
		fprintf(stderr, "unexpected errors for %s:\n%s", json,
			m.text ? m.text : "");
	assert_int_equal(err, 0);
	config_msgs_free(&m);
	return c;
}

static void t_parse_err(const char *json, const char *want)
{
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	int err = config_parse(json, &c, &m);

	if (err != -EINVAL || !m.text || !strstr(m.text, want))
		fprintf(stderr, "json: %s\nwant: %s\ngot (%d): %s\n", json,
			want, err, m.text ? m.text : "(none)");
	assert_int_equal(err, -EINVAL);
	assert_null(c);
	assert_non_null(strstr(m.text, want));
	config_msgs_free(&m);
}

static void test_defaults(void **state)
{
	struct config *c = t_parse_ok(T_DOC(""));

	(void)state;
	assert_int_equal(c->cluster.backend, CLUSTER_BACKEND_SINGLE);
	assert_string_equal(c->cluster.group, "ctgt");
	assert_int_equal(c->cluster.join_timeout_s, 60);
	assert_int_equal(c->cluster.fence_delay_ms, 1000);
	assert_true(c->control.enabled);
	assert_false(c->control.socket_set);
	assert_string_equal(c->control.socket, "/run/ctgt/ctgtd.sock");
	config_free(c);
}

static void test_values(void **state)
{
	struct config *c = t_parse_ok(T_DOC(
		",\"cluster\":{\"backend\":\"corosync\",\"group\":\"ctgt-a.1\","
		"\"join_timeout\":5,\"fence_delay_ms\":0}"
		",\"control\":{\"socket\":\"/tmp/x.sock\",\"enabled\":false}"));

	(void)state;
	assert_int_equal(c->cluster.backend, CLUSTER_BACKEND_COROSYNC);
	assert_string_equal(c->cluster.group, "ctgt-a.1");
	assert_int_equal(c->cluster.join_timeout_s, 5);
	assert_int_equal(c->cluster.fence_delay_ms, 0);
	assert_false(c->control.enabled);
	assert_true(c->control.socket_set);
	assert_string_equal(c->control.socket, "/tmp/x.sock");
	assert_string_equal(config_cluster_backend_name(c->cluster.backend),
			    "corosync");
	config_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	t_parse_err(T_DOC(",\"cluster\":{\"backend\":\"sim\"}"),
		    "cluster.backend: must be \"single\" or \"corosync\", "
		    "got \"sim\"");
	t_parse_err(T_DOC(",\"cluster\":{\"backend\":1}"),
		    "cluster.backend: must be a string");
	t_parse_err(T_DOC(",\"cluster\":{\"groop\":\"x\"}"),
		    "cluster.groop: unknown key (known here: backend, group, "
		    "join_timeout, fence_delay_ms)");
	t_parse_err(T_DOC(",\"cluster\":{\"join_timeout\":0}"),
		    "cluster.join_timeout: must be an integer 1..3600 "
		    "(seconds), got 0");
	t_parse_err(T_DOC(",\"cluster\":{\"join_timeout\":\"5\"}"),
		    "cluster.join_timeout: must be an integer");
	t_parse_err(T_DOC(",\"cluster\":{\"fence_delay_ms\":60001}"),
		    "cluster.fence_delay_ms: must be an integer 0..60000 "
		    "(milliseconds), got 60001");
	t_parse_err(T_DOC(",\"cluster\":{\"fence_delay_ms\":-1}"),
		    "cluster.fence_delay_ms: must be an integer 0..60000");
	t_parse_err(T_DOC(",\"cluster\":{\"group\":\"a b\"}"),
		    "cluster.group: only letters");
	t_parse_err(T_DOC(",\"cluster\":{\"group\":\"\"}"),
		    "cluster.group: must be 1..64 bytes long, got 0");
	t_parse_err(T_DOC(",\"cluster\":\"corosync\""),
		    "cluster: must be an object");
	t_parse_err(T_DOC(",\"control\":{\"socket\":\"rel.sock\"}"),
		    "control.socket: must be an absolute path");
	t_parse_err(T_DOC(",\"control\":{\"enabled\":1}"),
		    "control.enabled: must be true or false");
	t_parse_err(T_DOC(",\"control\":{\"path\":\"/x\"}"),
		    "control.path: unknown key (known here: enabled, socket)");
	t_parse_err(T_DOC(",\"control\":{\"socket\":\"/"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"\"}"), "control.socket: must be 1..107 bytes long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
