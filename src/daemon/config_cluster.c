/*
 * The "cluster" and "control" objects of the configuration file
 * (docs/config.md, sections "cluster" and "control").
 *
 * Same rules as config.c: every message names its key path, unknown keys
 * and values are refused, validation goes on after an error. Pure: no
 * socket is created and no backend is probed here (a corosync that is not
 * running is found at start, by member.c).
 */
#include "daemon/config_cluster.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "daemon/config.h"

static const struct {
	const char *name;
	enum cluster_backend_kind kind;
} config_cluster_backends[] = {
	/* "sim" is a test harness, never a configuration choice */
	{ "single", CLUSTER_BACKEND_SINGLE },
	{ "corosync", CLUSTER_BACKEND_COROSYNC },
};

const char *config_cluster_backend_name(enum cluster_backend_kind k)
{
	size_t i;

	for (i = 0; i < sizeof(config_cluster_backends) /
		    sizeof(config_cluster_backends[0]); i++)
		if (config_cluster_backends[i].kind == k)
			return config_cluster_backends[i].name;
	return k == CLUSTER_BACKEND_SIM ? "sim" : "?";
}

/* Unknown keys are refused with the list of known ones, as in config.c. */
static void config_cluster_keys_check(struct config_msgs *m,
				      struct json_object *obj,
				      const char *path,
				      const char *const *known,
				      const char *list)
{
	size_t i;

	json_object_object_foreach(obj, key, val) {
		bool ok = false;

		(void)val;
		for (i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				ok = true;
		if (!ok)
			config_msg_add(m, false, NULL,
				       "%s.%.64s: unknown key (known here: %s)",
				       path, key, list);
	}
}

/* A string member: 1 with *out, 0 absent, -1 wrong (reported). */
static int config_cluster_string_get(struct config_msgs *m,
				     struct json_object *obj,
				     const char *path, const char *key,
				     size_t max, const char **out)
{
	struct json_object *v;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		config_msg_add(m, false, NULL, "%s.%s: must be a string, got %.48s",
			       path, key, json_object_to_json_string_ext(v,
						JSON_C_TO_STRING_PLAIN));
		return -1;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n) {
		config_msg_add(m, false, NULL,
			       "%s.%s: must not contain NUL characters", path,
			       key);
		return -1;
	}
	if (n == 0 || n > max) {
		config_msg_add(m, false, NULL,
			       "%s.%s: must be 1..%zu bytes long, got %zu", path,
			       key, max, n);
		return -1;
	}
	*out = s;
	return 1;
}

/* cluster.KEY, an integer min..max (in unit), into *out when given and
 * valid; a message otherwise. */
static void config_cluster_uint_get(struct config_msgs *m,
				    struct json_object *obj, const char *key,
				    unsigned min, unsigned max,
				    const char *unit, unsigned *out)
{
	struct json_object *v;
	int64_t t;

	if (!json_object_object_get_ex(obj, key, &v))
		return;
	t = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || t < (int64_t)min ||
	    t > (int64_t)max)
		config_msg_add(m, false, NULL,
			       "cluster.%s: must be an integer %u..%u (%s), "
			       "got %.48s", key, min, max, unit,
			       json_object_to_json_string_ext(v,
					JSON_C_TO_STRING_PLAIN));
	else
		*out = (unsigned)t;
}

static void config_cluster_obj_parse(struct config_msgs *m,
				     struct json_object *obj,
				     struct config_cluster *cl)
{
	static const char *const keys[] = { "backend", "group", "join_timeout",
		"fence_delay_ms", NULL };
	const char *s;
	size_t i, n;

	config_cluster_keys_check(m, obj, "cluster", keys,
				  "backend, group, join_timeout, "
				  "fence_delay_ms");
	config_cluster_uint_get(m, obj, "join_timeout", 1,
				CONFIG_CLUSTER_JOIN_TIMEOUT_MAX, "seconds",
				&cl->join_timeout_s);
	config_cluster_uint_get(m, obj, "fence_delay_ms", 0,
				CONFIG_CLUSTER_FENCE_DELAY_MAX, "milliseconds",
				&cl->fence_delay_ms);
	if (config_cluster_string_get(m, obj, "cluster", "backend", 32,
				      &s) == 1) {
		n = sizeof(config_cluster_backends) /
		    sizeof(config_cluster_backends[0]);
		for (i = 0; i < n; i++)
			if (strcmp(s, config_cluster_backends[i].name) == 0)
				break;
		if (i == n)
			config_msg_add(m, false, NULL,
				       "cluster.backend: must be \"single\" or "
				       "\"corosync\", got \"%.32s\"", s);
		else
			cl->backend = config_cluster_backends[i].kind;
	}
	if (config_cluster_string_get(m, obj, "cluster", "group",
				      CONFIG_CLUSTER_GROUP_MAX, &s) == 1) {
		/* The CPG group name: every node must spell it the same, so
		 * keep it to characters no shell or log mangles. */
		for (i = 0; s[i]; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			    s[i] != '_' && s[i] != '.')
				break;
		if (s[i])
			config_msg_add(m, false, NULL,
				       "cluster.group: only letters, digits, "
				       "'-', '_' and '.' are allowed, got "
				       "\"%s\"", s);
		else
			snprintf(cl->group, sizeof(cl->group), "%s", s);
	}
}

static void config_control_obj_parse(struct config_msgs *m,
				     struct json_object *obj,
				     struct config_control *ct)
{
	static const char *const keys[] = { "enabled", "socket", NULL };
	struct json_object *v;
	const char *s;

	config_cluster_keys_check(m, obj, "control", keys, "enabled, socket");
	if (json_object_object_get_ex(obj, "enabled", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			config_msg_add(m, false, NULL,
				       "control.enabled: must be true or "
				       "false, got %.48s",
				       json_object_to_json_string_ext(v,
						JSON_C_TO_STRING_PLAIN));
		else
			ct->enabled = json_object_get_boolean(v);
	}
	if (config_cluster_string_get(m, obj, "control", "socket",
				      CONFIG_CONTROL_SOCKET_MAX, &s) == 1) {
		if (s[0] != '/') {
			/* ctgtd may run from any directory: a relative
			 * path would move with it. */
			config_msg_add(m, false, NULL,
				       "control.socket: must be an absolute "
				       "path, got \"%s\"", s);
		} else {
			snprintf(ct->socket, sizeof(ct->socket), "%s", s);
			ct->socket_set = true;
		}
	}
}

static void config_cluster_type_err(struct config_msgs *m, const char *key,
				    struct json_object *v)
{
	config_msg_add(m, false, NULL, "%s: must be an object, got %.48s", key,
		       json_object_to_json_string_ext(v,
						      JSON_C_TO_STRING_PLAIN));
}

int config_cluster_parse(struct json_object *root, struct config *c,
			 struct config_msgs *msgs)
{
	struct json_object *v;

	c->cluster.backend = CLUSTER_BACKEND_SINGLE;
	snprintf(c->cluster.group, sizeof(c->cluster.group), "%s",
		 CONFIG_CLUSTER_GROUP_DEFAULT);
	c->cluster.join_timeout_s = CONFIG_CLUSTER_JOIN_TIMEOUT_DEFAULT;
	c->cluster.fence_delay_ms = CONFIG_CLUSTER_FENCE_DELAY_DEFAULT;
	c->control.enabled = true;
	c->control.socket_set = false;
	snprintf(c->control.socket, sizeof(c->control.socket), "%s",
		 CONFIG_CONTROL_SOCKET_DEFAULT);

	if (json_object_object_get_ex(root, "cluster", &v)) {
		if (json_object_is_type(v, json_type_object))
			config_cluster_obj_parse(msgs, v, &c->cluster);
		else
			config_cluster_type_err(msgs, "cluster", v);
	}
	if (json_object_object_get_ex(root, "control", &v)) {
		if (json_object_is_type(v, json_type_object))
			config_control_obj_parse(msgs, v, &c->control);
		else
			config_cluster_type_err(msgs, "control", v);
	}
	return 0;
}
