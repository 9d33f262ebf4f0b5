/*
 * ctgtd configuration: valid files parse to the expected structs with the
 * documented defaults, every validation rule names its key path, and the
 * value syntaxes (sizes, portals, iSCSI names) and the derived identity
 * (NAA, serial) behave as docs/config.md says. The JSON examples in
 * docs/config.md are parsed too, so the documentation cannot rot.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"

#define T_NAME "iqn.2026-11.org.ctgt:t"
#define T_LUN_RAM "{\"backstore\":{\"type\":\"ram\",\"size\":\"1M\"}}"

/* One target named T_NAME with one portal group; the pieces vary. */
static char *doc_target(const char *target_extra, const char *luns,
			const char *top_extra)
{
	char *s = NULL;

	assert_true(asprintf(&s,
		"{\"targets\":[{\"name\":\"" T_NAME "\","
		"\"portal_groups\":[{\"portals\":[\"127.0.0.1:3260\"]}]%s,"
		"\"luns\":[%s]}]%s}",
		target_extra, luns, top_extra) > 0);
	return s;
}

static struct config *parse_ok(const char *json, struct config_msgs *m)
{
	struct config *c = NULL;
	int err = config_parse(json, &c, m);

	if (err)
		fprintf(stderr, "unexpected errors for %s:\n%s", json,
			m->text ? m->text : "");
	assert_int_equal(err, 0);
	assert_non_null(c);
	return c;
}

/* Asserts json is refused and its messages contain want. */
static void expect_error(const char *json, const char *want)
{
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	int err = config_parse(json, &c, &m);

	if (err != -EINVAL || !m.text || !strstr(m.text, want))
		fprintf(stderr, "json: %s\nwant: %s\ngot (%d): %s\n", json,
			want, err, m.text ? m.text : "(none)");
	assert_int_equal(err, -EINVAL);
	assert_null(c);
	assert_true(m.n_errors > 0);
	assert_non_null(strstr(m.text, want));
	config_msgs_free(&m);
}

static void expect_target_error(const char *target_extra, const char *luns,
				const char *top_extra, const char *want)
{
	char *json = doc_target(target_extra, luns, top_extra);

	expect_error(json, want);
	free(json);
}

/* ------------------------------------------------------------------ */
/* valid configurations */

static void test_minimal_defaults(void **state)
{
	struct config_msgs m = { 0 };
	char *json = doc_target("", T_LUN_RAM, "");
	struct config *c = parse_ok(json, &m);
	struct config_target *t;
	struct config_lun *l;
	uint8_t naa[16];
	char serial[33];

	assert_int_equal(m.n_errors, 0);
	assert_int_equal(m.n_warnings, 0);
	assert_int_equal(c->threads, 0);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_false(c->log_level_set);
	assert_int_equal(c->port_group, 1);
	assert_int_equal(c->iscsi.max_recv_dsl, 262144);
	assert_int_equal(c->iscsi.max_burst, 1048576);
	assert_int_equal(c->iscsi.first_burst, 65536);
	assert_int_equal(c->iscsi.max_cmds_per_session, 128);
	assert_int_equal(c->iscsi.nop_interval_s, 0);
	assert_int_equal(c->iscsi.nop_timeout_s, 30);
	assert_false(c->iscsi.discovery_auth.chap_required);
	assert_string_equal(c->iscsi.discovery_auth.incoming.user, "");

	assert_int_equal(c->n_targets, 1);
	t = &c->targets[0];
	assert_string_equal(t->iscsi.name, T_NAME);
	assert_string_equal(t->iscsi.alias, "");
	assert_null(t->iscsi.scsi);
	assert_true(t->iscsi.open_access);
	assert_int_equal(t->iscsi.n_initiators, 0);
	assert_false(t->iscsi.auth.chap_required);
	assert_int_equal(t->iscsi.n_tpgs, 1);
	assert_int_equal(t->iscsi.tpgs[0].tag, 1);
	assert_int_equal(t->rtpis[0], 1);
	assert_null(t->iscsi.tpgs[0].tport);
	assert_int_equal(t->iscsi.tpgs[0].n_portals, 1);
	assert_string_equal(t->iscsi.tpgs[0].portals[0].addr, "127.0.0.1");
	assert_int_equal(t->iscsi.tpgs[0].portals[0].port, 3260);

	assert_int_equal(t->n_luns, 1);
	l = &t->luns[0];
	assert_string_equal(l->bs.type, "ram");
	assert_null(l->bs.path);
	assert_true(l->size_set);
	assert_int_equal(l->bs.size, 1 << 20);
	assert_false(l->bs.direct);
	assert_false(l->bs.readonly);
	assert_int_equal(l->scsi.lun_id, 0);
	assert_null(l->scsi.bs);
	assert_int_equal(l->scsi.block_size, 512);
	assert_int_equal(l->scsi.nblocks, 2048);
	assert_false(l->scsi.readonly);
	assert_true(l->scsi.thin);
	assert_true(l->scsi.write_cache);
	assert_string_equal(l->scsi.vendor, "");
	assert_string_equal(l->scsi.product, "");
	assert_string_equal(l->scsi.revision, "");
	config_naa_derive(T_NAME, 0, naa);
	assert_memory_equal(l->scsi.naa, naa, 16);
	config_serial_derive(T_NAME, 0, serial);
	assert_string_equal(l->scsi.serial, serial);

	config_free(c);
	config_msgs_free(&m);
	free(json);
}

static void test_full_target(void **state)
{
	static const char json[] =
		"{\"threads\": 3, \"log_level\": \"debug\","
		" \"node\": {\"port_group\": 7},"
		" \"iscsi\": {\"max_recv_data_segment_length\": 8192,"
		"   \"max_burst_length\": 524288, \"first_burst_length\": 8192,"
		"   \"max_cmds_per_session\": 64, \"nop_interval\": 5,"
		"   \"nop_timeout\": 15,"
		"   \"discovery_auth\": {\"chap_required\": true,"
		"     \"user\": \"disc\", \"secret\": \"disc-secret-1\"}},"
		" \"targets\": [{"
		"   \"name\": \"iqn.2026-11.org.ctgt:full\", \"alias\": \"Full One\","
		"   \"portal_groups\": ["
		"     {\"tag\": 5, \"rtpi\": 10, \"portals\": [\"127.0.0.1\", \"[::1]:3261\"]},"
		"     {\"tag\": 6, \"portals\": [\"0.0.0.0:3262\"]}],"
		"   \"acl\": {\"initiators\": [\"iqn.2026-11.org.ctgt:i1\","
		"                         \"eui.02004567A425678D\"]},"
		"   \"auth\": {\"chap_required\": true, \"user\": \"u1\","
		"     \"secret\": \"secret-of-u1\", \"mutual_user\": \"tgt\","
		"     \"mutual_secret\": \"secret-of-tgt\"},"
		"   \"luns\": ["
		"     {\"lun\": 3, \"backstore\": {\"type\": \"file\","
		"        \"path\": \"/srv/a.img\", \"size\": 8192, \"direct\": true},"
		"      \"block_size\": 4096, \"read_only\": true, \"thin\": false,"
		"      \"write_cache\": false, \"serial\": \"SER 1\","
		"      \"naa\": \"6001405AbCdEf0123456789abcdef012\","
		"      \"vendor\": \"ACME\", \"product\": \"Disk 16 chars ok\","
		"      \"revision\": \"1.0\"},"
		"     {\"backstore\": {\"type\": \"file\", \"path\": \"/srv/b.img\"}}"
		"   ]}]}";
	static const uint8_t naa[16] = { 0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde,
		0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12 };
	struct config_msgs m = { 0 };
	struct config *c = parse_ok(json, &m);
	struct config_target *t = &c->targets[0];
	struct config_lun *l;

	assert_int_equal(m.n_warnings, 0);
	assert_int_equal(c->threads, 3);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_true(c->log_level_set);
	assert_int_equal(c->port_group, 7);
	assert_int_equal(c->iscsi.max_recv_dsl, 8192);
	assert_int_equal(c->iscsi.max_burst, 524288);
	assert_int_equal(c->iscsi.first_burst, 8192);
	assert_int_equal(c->iscsi.max_cmds_per_session, 64);
	assert_int_equal(c->iscsi.nop_interval_s, 5);
	assert_int_equal(c->iscsi.nop_timeout_s, 15);
	assert_true(c->iscsi.discovery_auth.chap_required);
	assert_string_equal(c->iscsi.discovery_auth.incoming.user, "disc");
	assert_string_equal(c->iscsi.discovery_auth.incoming.secret,
			    "disc-secret-1");

	assert_string_equal(t->iscsi.alias, "Full One");
	assert_int_equal(t->iscsi.n_tpgs, 2);
	assert_int_equal(t->iscsi.tpgs[0].tag, 5);
	assert_int_equal(t->rtpis[0], 10);
	assert_int_equal(t->iscsi.tpgs[0].n_portals, 2);
	assert_string_equal(t->iscsi.tpgs[0].portals[0].addr, "127.0.0.1");
	assert_int_equal(t->iscsi.tpgs[0].portals[0].port, 3260);
	assert_string_equal(t->iscsi.tpgs[0].portals[1].addr, "::1");
	assert_int_equal(t->iscsi.tpgs[0].portals[1].port, 3261);
	assert_int_equal(t->iscsi.tpgs[1].tag, 6);
	assert_int_equal(t->rtpis[1], 1); /* lowest free */
	assert_string_equal(t->iscsi.tpgs[1].portals[0].addr, "0.0.0.0");

	assert_false(t->iscsi.open_access);
	assert_int_equal(t->iscsi.n_initiators, 2);
	assert_string_equal(t->iscsi.initiators[0], "iqn.2026-11.org.ctgt:i1");
	assert_string_equal(t->iscsi.initiators[1], "eui.02004567A425678D");
	assert_true(t->iscsi.auth.chap_required);
	assert_string_equal(t->iscsi.auth.incoming.user, "u1");
	assert_string_equal(t->iscsi.auth.incoming.secret, "secret-of-u1");
	assert_string_equal(t->iscsi.auth.outgoing.user, "tgt");
	assert_string_equal(t->iscsi.auth.outgoing.secret, "secret-of-tgt");

	assert_int_equal(t->n_luns, 2);
	l = &t->luns[0];
	assert_int_equal(l->scsi.lun_id, 3);
	assert_string_equal(l->bs.type, "file");
	assert_string_equal(l->bs.path, "/srv/a.img");
	assert_int_equal(l->bs.size, 8192);
	assert_true(l->bs.direct);
	assert_true(l->bs.readonly);
	assert_int_equal(l->scsi.block_size, 4096);
	assert_int_equal(l->scsi.nblocks, 2);
	assert_true(l->scsi.readonly);
	assert_false(l->scsi.thin);
	assert_false(l->scsi.write_cache);
	assert_string_equal(l->scsi.serial, "SER 1");
	assert_memory_equal(l->scsi.naa, naa, 16);
	assert_string_equal(l->scsi.vendor, "ACME");
	assert_string_equal(l->scsi.product, "Disk 16 chars ok");
	assert_string_equal(l->scsi.revision, "1.0");

	/* LUN id defaults to the position; size from the file later. */
	l = &t->luns[1];
	assert_int_equal(l->scsi.lun_id, 1);
	assert_false(l->size_set);
	assert_int_equal(l->bs.size, 0);
	assert_int_equal(l->scsi.nblocks, 0);
	assert_false(l->bs.direct);

	config_free(c);
	config_msgs_free(&m);
}

/* Automatic RTPIs skip every explicit one, wherever it appears. */
/* Without first_burst_length, a small max_burst_length lowers it. */
static void test_first_burst_follows_max_burst(void **state)
{
	struct config_msgs m = { 0 };
	char *json = doc_target("", T_LUN_RAM,
				",\"iscsi\": {\"max_burst_length\": 16384}");
	struct config *c = parse_ok(json, &m);

	assert_int_equal(c->iscsi.max_burst, 16384);
	assert_int_equal(c->iscsi.first_burst, 16384);
	config_free(c);
	config_msgs_free(&m);
	free(json);
}

static void test_rtpi_auto(void **state)
{
	static const char json[] =
		"{\"targets\": ["
		" {\"name\": \"iqn.2026-11.org.ctgt:a\", \"portal_groups\": ["
		"   {\"portals\": [\"127.0.0.1:3260\"]},"
		"   {\"rtpi\": 1, \"portals\": [\"127.0.0.1:3261\"]}],"
		"  \"luns\": [" T_LUN_RAM "]},"
		" {\"name\": \"iqn.2026-11.org.ctgt:b\", \"portal_groups\": ["
		"   {\"rtpi\": 3, \"portals\": [\"127.0.0.1:3260\"]},"
		"   {\"portals\": [\"127.0.0.1:3261\"]},"
		"   {\"portals\": [\"127.0.0.1:3262\"]}],"
		"  \"luns\": [" T_LUN_RAM "]}]}";
	struct config_msgs m = { 0 };
	struct config *c = parse_ok(json, &m);

	assert_int_equal(c->targets[0].rtpis[0], 2);
	assert_int_equal(c->targets[0].rtpis[1], 1);
	assert_int_equal(c->targets[1].rtpis[0], 3);
	assert_int_equal(c->targets[1].rtpis[1], 4);
	assert_int_equal(c->targets[1].rtpis[2], 5);
	/* tags default to the position + 1 */
	assert_int_equal(c->targets[1].iscsi.tpgs[2].tag, 3);
	/* same portal in two targets is fine */
	config_free(c);
	config_msgs_free(&m);
}

static void test_default_config(void **state)
{
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	struct config_target *t;
	struct config_lun *l;
	uint8_t naa[16];

	assert_int_equal(config_default("/tmp/ctgt-state/", &c, &m), 0);
	assert_int_equal(m.n_errors + m.n_warnings, 0);
	assert_int_equal(c->n_targets, 1);
	t = &c->targets[0];
	assert_string_equal(t->iscsi.name, "iqn.2026-11.org.ctgt:default");
	assert_true(t->iscsi.open_access);
	assert_int_equal(t->iscsi.n_tpgs, 1);
	assert_int_equal(t->iscsi.tpgs[0].tag, 1);
	assert_int_equal(t->rtpis[0], 1);
	assert_string_equal(t->iscsi.tpgs[0].portals[0].addr, "127.0.0.1");
	assert_int_equal(t->iscsi.tpgs[0].portals[0].port, 3260);
	assert_int_equal(c->port_group, 1);
	assert_int_equal(t->n_luns, 1);
	l = &t->luns[0];
	assert_string_equal(l->bs.type, "file");
	assert_string_equal(l->bs.path, "/tmp/ctgt-state/default.img");
	assert_int_equal(l->bs.size, 1ull << 30);
	assert_int_equal(l->scsi.block_size, 512);
	assert_int_equal(l->scsi.nblocks, (1ull << 30) / 512);
	assert_true(l->scsi.thin);
	assert_true(l->scsi.write_cache);
	assert_false(l->scsi.readonly);
	config_naa_derive("iqn.2026-11.org.ctgt:default", 0, naa);
	assert_memory_equal(l->scsi.naa, naa, 16);
	config_free(c);
	config_msgs_free(&m);

	/* A state directory that needs JSON escaping. */
	assert_int_equal(config_default("/tmp/a \"b\"\\c", &c, &m), 0);
	assert_string_equal(c->targets[0].luns[0].bs.path,
			    "/tmp/a \"b\"\\c/default.img");
	config_free(c);
	config_msgs_free(&m);
}

/* Every ```json block of docs/config.md parses (and the default block is
 * the embedded default). */
static void test_docs_examples(void **state)
{
	char path[4096], *text, *p, *end;
	struct config_msgs m = { 0 };
	struct config *c;
	unsigned blocks = 0;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/config.md", CTGT_DOCS_DIR);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (p = text; (p = strstr(p, "```json\n")); p = end + 3) {
		p += 8;
		end = strstr(p, "```");
		assert_non_null(end);
		*end = '\0';
		c = parse_ok(p, &m);
		if (blocks == 0) {
			struct config *d = NULL;

			assert_int_equal(config_default("/var/lib/ctgt", &d, &m),
					 0);
			assert_string_equal(c->targets[0].luns[0].bs.path,
					    d->targets[0].luns[0].bs.path);
			assert_int_equal(c->targets[0].luns[0].bs.size,
					 d->targets[0].luns[0].bs.size);
			assert_string_equal(c->targets[0].iscsi.name,
					    d->targets[0].iscsi.name);
			config_free(d);
		}
		config_free(c);
		blocks++;
	}
	assert_true(blocks >= 2);
	free(text);
	config_msgs_free(&m);
}

/* ------------------------------------------------------------------ */
/* validation errors: each names its key path */

static void test_err_json_syntax(void **state)
{
	expect_error("{\n  \"threads\": 2,\n  oops\n}",
		     "line 3, column 3: JSON parse error");
	expect_error("{\"targets\": [", "unexpected end of input");
	expect_error("{} x", "JSON parse error");
	expect_error("", "unexpected end of input");
	expect_error("[1]", "(top level): must be an object, got an array");
}

static void test_err_top_level(void **state)
{
	expect_error("{}", "targets: required (at least one target)");
	expect_error("{\"targets\": []}", "targets: must not be empty");
	expect_error("{\"targets\": {}}", "targets: must be an array, got an "
		     "object");
	expect_target_error("", T_LUN_RAM, ",\"thread\": 2",
			    "thread: unknown key (known here: threads, "
			    "log_level, node, iscsi, targets, cluster, "
			    "control)");
	expect_target_error("", T_LUN_RAM, ",\"threads\": \"2\"",
			    "threads: must be an integer, got a string \"2\"");
	expect_target_error("", T_LUN_RAM, ",\"threads\": 0",
			    "threads: must be 1..256, got 0");
	expect_target_error("", T_LUN_RAM, ",\"threads\": 2.5",
			    "threads: must be an integer, got a number with "
			    "a fraction 2.5");
	expect_target_error("", T_LUN_RAM, ",\"log_level\": \"loud\"",
			    "log_level: must be \"error\", \"warn\", \"info\" "
			    "or \"debug\", got \"loud\"");
	expect_target_error("", T_LUN_RAM, ",\"node\": {\"port_group\": 0}",
			    "node.port_group: must be 1..65535, got 0");
	expect_target_error("", T_LUN_RAM, ",\"node\": {\"id\": 1}",
			    "node.id: unknown key");
}

static void test_err_iscsi(void **state)
{
	expect_target_error("", T_LUN_RAM,
			    ",\"iscsi\": {\"max_burst_length\": 8192,"
			    " \"first_burst_length\": 65536}",
			    "iscsi.first_burst_length: 65536 is larger than "
			    "max_burst_length 8192");
	expect_target_error("", T_LUN_RAM,
			    ",\"iscsi\": {\"max_recv_data_segment_length\": 100}",
			    "iscsi.max_recv_data_segment_length: must be "
			    "512..16777215, got 100");
	expect_target_error("", T_LUN_RAM, ",\"iscsi\": {\"nop_timeout\": -1}",
			    "iscsi.nop_timeout: must be 1..3600, got -1");
	expect_target_error("", T_LUN_RAM,
			    ",\"iscsi\": {\"discovery_auth\": "
			    "{\"chap_required\": true}}",
			    "iscsi.discovery_auth.chap_required: needs user "
			    "and secret");
	expect_target_error("", T_LUN_RAM, ",\"iscsi\": {\"nop\": 1}",
			    "iscsi.nop: unknown key");
}

static void test_err_target(void **state)
{
	expect_error("{\"targets\": [{\"portal_groups\": [{\"portals\": "
		     "[\"127.0.0.1\"]}], \"luns\": [" T_LUN_RAM "]}]}",
		     "targets[0].name: required");
	expect_error("{\"targets\": [{\"name\": \"IQN.2026-11.org.x\", "
		     "\"portal_groups\": [{\"portals\": [\"127.0.0.1\"]}], "
		     "\"luns\": [" T_LUN_RAM "]}]}",
		     "targets[0].name: bad iSCSI name \"IQN.2026-11.org.x\": "
		     "must start with iqn., eui. or naa.");
	expect_error("{\"targets\": [{\"name\": \"" T_NAME "\", "
		     "\"luns\": [" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups: required");
	expect_error("{\"targets\": [{\"name\": \"" T_NAME "\", "
		     "\"portal_groups\": [{\"portals\": [\"127.0.0.1\"]}]}]}",
		     "targets[0].luns: required (at least one LUN)");
	expect_target_error(",\"alias\": \"a\\nb\"", T_LUN_RAM, "",
			    "targets[0].alias: must not contain control "
			    "characters");
	expect_target_error(",\"colour\": 1", T_LUN_RAM, "",
			    "targets[0].colour: unknown key");
	/* two targets with one name (case-insensitive) */
	expect_error("{\"targets\": ["
		     "{\"name\": \"" T_NAME "\", \"portal_groups\": [{\"portals\":"
		     " [\"127.0.0.1\"]}], \"luns\": [" T_LUN_RAM "]},"
		     "{\"name\": \"eui.02004567A425678D\", \"portal_groups\": "
		     "[{\"portals\": [\"127.0.0.1\"]}], \"luns\": [" T_LUN_RAM
		     "]},"
		     "{\"name\": \"eui.02004567a425678d\", \"portal_groups\": "
		     "[{\"portals\": [\"127.0.0.1\"]}], \"luns\": [" T_LUN_RAM
		     "]}]}",
		     "targets[2].name: \"eui.02004567a425678d\" is already "
		     "targets[1]");
}

static void test_err_portal_groups(void **state)
{
	static const char *const bad[][2] = {
		{ "10.0.0.1:0", "bad portal \"10.0.0.1:0\": port must be "
		  "1..65535" },
		{ "10.0.0.1:65536", "port must be 1..65535" },
		{ "::1", "IPv6 addresses must be in brackets" },
		{ "localhost:3260", "host names are not accepted" },
		{ "[::1", "missing ']'" },
		{ "", "empty portal" },
	};
	char tgt[512];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char *json;

		snprintf(tgt, sizeof(tgt), "\"portal_groups\":[{\"portals\":"
			 "[\"%s\"]}]", bad[i][0]);
		assert_true(asprintf(&json, "{\"targets\":[{\"name\":\""
				     T_NAME "\",%s,\"luns\":[" T_LUN_RAM
				     "]}]}", tgt) > 0);
		expect_error(json, "targets[0].portal_groups[0].portals[0]: ");
		expect_error(json, bad[i][1]);
		free(json);
	}
	expect_error("{\"targets\":[{\"name\":\"" T_NAME "\","
		     "\"portal_groups\":[{\"tag\":1,\"portals\":[\"127.0.0.1\"]},"
		     "{\"tag\":1,\"portals\":[\"127.0.0.1:3261\"]}],"
		     "\"luns\":[" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups[1].tag: 1 is already the tag of "
		     "portal_groups[0]");
	expect_error("{\"targets\":[{\"name\":\"" T_NAME "\","
		     "\"portal_groups\":[{\"portals\":[\"127.0.0.1\"]},"
		     "{\"portals\":[\"127.0.0.1:3260\"]}],"
		     "\"luns\":[" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups[1].portals[0]: portal "
		     "\"127.0.0.1:3260\" is already in portal_groups[0]");
	expect_error("{\"targets\":[{\"name\":\"" T_NAME "\","
		     "\"portal_groups\":[{\"portals\":[\"[::1]\",\"[::0001]:3260\"]}],"
		     "\"luns\":[" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups[0].portals[1]: duplicate portal");
	expect_error("{\"targets\":[{\"name\":\"" T_NAME "\","
		     "\"portal_groups\":[{\"tag\":1}],"
		     "\"luns\":[" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups[0].portals: required");
	expect_error("{\"targets\":[{\"name\":\"" T_NAME "\","
		     "\"portal_groups\":[{\"rtpi\":0,\"portals\":[\"127.0.0.1\"]}],"
		     "\"luns\":[" T_LUN_RAM "]}]}",
		     "targets[0].portal_groups[0].rtpi: must be 1..65535, got 0");
	/* RTPIs are unique across the whole file */
	expect_error("{\"targets\":["
		     "{\"name\":\"iqn.2026-11.org.ctgt:a\",\"portal_groups\":"
		     "[{\"rtpi\":5,\"portals\":[\"127.0.0.1\"]}],\"luns\":["
		     T_LUN_RAM "]},"
		     "{\"name\":\"iqn.2026-11.org.ctgt:b\",\"portal_groups\":"
		     "[{\"rtpi\":5,\"portals\":[\"127.0.0.1\"]}],\"luns\":["
		     T_LUN_RAM "]}]}",
		     "targets[1].portal_groups[0].rtpi: 5 is already used by "
		     "targets[0].portal_groups[0]");
}

static void test_err_acl_auth(void **state)
{
	expect_target_error(",\"acl\": {}", T_LUN_RAM, "",
			    "targets[0].acl: lets nobody in");
	expect_target_error(",\"acl\": {\"open_access\": false}", T_LUN_RAM, "",
			    "targets[0].acl: lets nobody in");
	expect_target_error(",\"acl\": {\"open_access\": true, \"initiators\": "
			    "[\"iqn.2026-11.org.ctgt:i\"]}", T_LUN_RAM, "",
			    "targets[0].acl.initiators: not allowed with "
			    "open_access true");
	expect_target_error(",\"acl\": {\"initiators\": [\"iqn.2026-11.org.ctgt:i\","
			    " \"iqn.2026-11.org.ctgt:i\"]}", T_LUN_RAM, "",
			    "targets[0].acl.initiators[1]: duplicate initiator");
	expect_target_error(",\"acl\": {\"initiators\": [\"bob\"]}", T_LUN_RAM,
			    "", "targets[0].acl.initiators[0]: bad iSCSI name "
			    "\"bob\"");
	expect_target_error(",\"acl\": {\"open_access\": 1}", T_LUN_RAM, "",
			    "targets[0].acl.open_access: must be true or false, "
			    "got an integer 1");
	expect_target_error(",\"auth\": {\"user\": \"u\"}", T_LUN_RAM, "",
			    "targets[0].auth.secret: required when user is set");
	expect_target_error(",\"auth\": {\"user\": \"u\", \"secret\": "
			    "\"same-secret-1\", \"mutual_user\": \"t\", "
			    "\"mutual_secret\": \"same-secret-1\"}", T_LUN_RAM,
			    "", "targets[0].auth.mutual_secret: must differ "
			    "from secret");
	expect_target_error(",\"auth\": {\"mutual_user\": \"t\", "
			    "\"mutual_secret\": \"target-secret\"}", T_LUN_RAM,
			    "", "targets[0].auth.user: mutual CHAP needs user "
			    "and secret too");
	expect_target_error(",\"auth\": {\"chap_required\": true}", T_LUN_RAM,
			    "", "targets[0].auth.chap_required: needs user and "
			    "secret");
	{
		char big[300], extra[400];

		memset(big, 'x', 256);
		big[256] = '\0';
		snprintf(extra, sizeof(extra), ",\"auth\": {\"user\": \"u\", "
			 "\"secret\": \"%s\"}", big);
		expect_target_error(extra, T_LUN_RAM, "",
				    "targets[0].auth.secret: longer than 255 "
				    "bytes (256)");
	}
}

static void test_warn_chap_secret_length(void **state)
{
	struct config_msgs m = { 0 };
	char *json = doc_target(",\"auth\": {\"user\": \"u\", \"secret\": "
				"\"short\"}", T_LUN_RAM, "");
	struct config *c = parse_ok(json, &m);

	assert_int_equal(m.n_warnings, 1);
	assert_non_null(strstr(m.text, "warning: targets[0].auth.secret: 5 "
			       "bytes; 12..16 is safest"));
	assert_string_equal(c->targets[0].iscsi.auth.incoming.secret, "short");
	config_free(c);
	config_msgs_free(&m);
	free(json);
}

static void test_err_luns(void **state)
{
	expect_target_error("", "{\"block_size\": 1024, \"backstore\": "
			    "{\"type\": \"ram\", \"size\": \"1M\"}}", "",
			    "targets[0].luns[0].block_size: must be 512 or "
			    "4096, got 1024");
	expect_target_error("", T_LUN_RAM ", {\"lun\": 1, \"block_size\": "
			    "1024, \"backstore\": {\"type\": \"ram\", \"size\": "
			    "\"1M\"}}", "",
			    "targets[0].luns[1].block_size: must be 512 or "
			    "4096, got 1024");
	expect_target_error("", T_LUN_RAM "," T_LUN_RAM ", {\"lun\": 1, "
			    "\"backstore\": {\"type\": \"ram\", \"size\": 512}}",
			    "", "targets[0].luns[2].lun: LUN 1 is already "
			    "luns[1]");
	expect_target_error("", "{\"lun\": 256, \"backstore\": {\"type\": "
			    "\"ram\", \"size\": \"1M\"}}", "",
			    "targets[0].luns[0].lun: must be 0..255, got 256");
	expect_target_error("", "{\"blocksize\": 512, \"backstore\": "
			    "{\"type\": \"ram\", \"size\": \"1M\"}}", "",
			    "targets[0].luns[0].blocksize: unknown key");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"size\": 1000}}", "",
			    "targets[0].luns[0].backstore.size: 1000 is not a "
			    "multiple of block_size 512");
	expect_target_error("", "{\"block_size\": 4096, \"backstore\": "
			    "{\"type\": \"ram\", \"size\": \"6K\"}}", "",
			    "targets[0].luns[0].backstore.size: 6144 is not a "
			    "multiple of block_size 4096");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"size\": 0}}", "",
			    "targets[0].luns[0].backstore.size: must not be "
			    "zero");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"size\": \"1GB\"}}", "",
			    "targets[0].luns[0].backstore.size: ambiguous "
			    "suffix");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"size\": -4096}}", "",
			    "targets[0].luns[0].backstore.size: must not be "
			    "negative, got -4096");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"size\": true}}", "",
			    "targets[0].luns[0].backstore.size: must be a size");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\"}}", "",
			    "targets[0].luns[0].backstore.size: required for "
			    "type \"ram\"");
	expect_target_error("", "{\"backstore\": {\"type\": \"ram\", "
			    "\"path\": \"/x\", \"size\": 512}}", "",
			    "targets[0].luns[0].backstore.path: only for type "
			    "\"file\"");
	expect_target_error("", "{\"backstore\": {\"type\": \"file\"}}", "",
			    "targets[0].luns[0].backstore.path: required for "
			    "type \"file\"");
	expect_target_error("", "{\"backstore\": {\"type\": \"disk\"}}", "",
			    "targets[0].luns[0].backstore.type: must be "
			    "\"file\" or \"ram\", got \"disk\"");
	expect_target_error("", "{\"backstore\": {\"size\": 512}}", "",
			    "targets[0].luns[0].backstore.type: required");
	expect_target_error("", "{\"lun\": 0}", "",
			    "targets[0].luns[0].backstore: required");
	expect_target_error("", "{\"serial\": \"0123456789abcdef0123456789abcdef0"
			    "\", \"backstore\": {\"type\": \"ram\", \"size\": "
			    "512}}", "",
			    "targets[0].luns[0].serial: longer than 32 bytes "
			    "(33)");
	expect_target_error("", "{\"serial\": \"a\\u0001b\", \"backstore\": "
			    "{\"type\": \"ram\", \"size\": 512}}", "",
			    "targets[0].luns[0].serial: must be printable ASCII");
	expect_target_error("", "{\"naa\": \"5001405abcdef0123456789abcdef012\","
			    " \"backstore\": {\"type\": \"ram\", \"size\": 512}}",
			    "", "targets[0].luns[0].naa: must be 32 hex digits "
			    "starting with 6");
	expect_target_error("", "{\"naa\": \"6001405abcdef0123456789abcdef01\","
			    " \"backstore\": {\"type\": \"ram\", \"size\": 512}}",
			    "", "targets[0].luns[0].naa: must be 32 hex digits");
	expect_target_error("", "{\"vendor\": \"TOO LONG VENDOR\", "
			    "\"backstore\": {\"type\": \"ram\", \"size\": 512}}",
			    "", "targets[0].luns[0].vendor: longer than 8 bytes");
	/* one backing file, two LUNs */
	expect_target_error("", "{\"backstore\": {\"type\": \"file\", \"path\":"
			    " \"/x.img\", \"size\": 512}}, {\"backstore\": "
			    "{\"type\": \"file\", \"path\": \"/x.img\"}}", "",
			    "targets[0].luns[1].backstore.path: /x.img is "
			    "already the backstore of targets[0].luns[0]");
}

/* All mistakes are reported in one run, not only the first. */
static void test_err_all_reported(void **state)
{
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	char *json = doc_target(",\"alias\": 5", "{\"block_size\": 1024, "
				"\"backstore\": {\"type\": \"ram\", \"size\": "
				"\"1M\"}}", ",\"threads\": 0");

	assert_int_equal(config_parse(json, &c, &m), -EINVAL);
	assert_int_equal(m.n_errors, 3);
	assert_non_null(strstr(m.text, "threads: must be 1..256"));
	assert_non_null(strstr(m.text, "targets[0].alias: must be a string"));
	assert_non_null(strstr(m.text, "targets[0].luns[0].block_size"));
	config_msgs_free(&m);
	free(json);
}

/* ------------------------------------------------------------------ */
/* file-system checks */

static void test_check_files(void **state)
{
	char dir[] = "/tmp/ctgt-test-config.XXXXXX", p[512], *json;
	struct config_msgs m = { 0 };
	struct config *c;
	FILE *f;

	assert_non_null(mkdtemp(dir));

	/* missing, no size */
	snprintf(p, sizeof(p), "{\"backstore\": {\"type\": \"file\", "
		 "\"path\": \"%s/none.img\"}}", dir);
	json = doc_target("", p, "");
	c = parse_ok(json, &m);
	assert_int_equal(config_check_files(c, &m), -EINVAL);
	assert_non_null(strstr(m.text, "targets[0].luns[0].backstore.path: "));
	assert_non_null(strstr(m.text, "none.img does not exist and no size "
			       "is given"));
	config_free(c);
	config_msgs_free(&m);
	free(json);

	/* missing, size given, directory missing */
	snprintf(p, sizeof(p), "{\"backstore\": {\"type\": \"file\", "
		 "\"path\": \"%s/sub/x.img\", \"size\": \"1M\"}}", dir);
	json = doc_target("", p, "");
	c = parse_ok(json, &m);
	assert_int_equal(config_check_files(c, &m), -EINVAL);
	assert_non_null(strstr(m.text, "cannot be created: no directory"));
	config_free(c);
	config_msgs_free(&m);
	free(json);

	/* missing, size given, directory there: fine (created at start) */
	snprintf(p, sizeof(p), "{\"backstore\": {\"type\": \"file\", "
		 "\"path\": \"%s/new.img\", \"size\": \"1M\"}}", dir);
	json = doc_target("", p, "");
	c = parse_ok(json, &m);
	assert_int_equal(config_check_files(c, &m), 0);
	config_free(c);
	config_msgs_free(&m);
	free(json);

	/* existing file of 1000 bytes, no size */
	snprintf(p, sizeof(p), "%s/odd.img", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 1000), 0);
	fclose(f);
	snprintf(p, sizeof(p), "{\"backstore\": {\"type\": \"file\", "
		 "\"path\": \"%s/odd.img\"}}", dir);
	json = doc_target("", p, "");
	c = parse_ok(json, &m);
	assert_int_equal(config_check_files(c, &m), -EINVAL);
	assert_non_null(strstr(m.text, "its size 1000 is not a multiple of "
			       "block_size 512"));
	config_free(c);
	config_msgs_free(&m);
	free(json);

	/* a directory is not a backstore */
	snprintf(p, sizeof(p), "{\"backstore\": {\"type\": \"file\", "
		 "\"path\": \"%s\"}}", dir);
	json = doc_target("", p, "");
	c = parse_ok(json, &m);
	assert_int_equal(config_check_files(c, &m), -EINVAL);
	assert_non_null(strstr(m.text, "is not a regular file or a block "
			       "device"));
	config_free(c);
	config_msgs_free(&m);
	free(json);

	snprintf(p, sizeof(p), "%s/odd.img", dir);
	unlink(p);
	rmdir(dir);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/ctgt-test-load.XXXXXX";
	struct config_msgs m = { 0 };
	struct config *c = NULL;
	char *json = doc_target("", T_LUN_RAM, "");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	assert_int_equal(config_load_file(path, &c, &m), 0);
	assert_string_equal(c->targets[0].iscsi.name, T_NAME);
	config_free(c);
	config_msgs_free(&m);

	/* a NUL byte inside is not JSON */
	assert_int_equal(write(fd, "\0", 1), 1);
	assert_int_equal(config_load_file(path, &c, &m), -EINVAL);
	assert_null(c);
	assert_non_null(strstr(m.text, "contains a NUL byte"));
	config_msgs_free(&m);
	close(fd);
	unlink(path);

	assert_int_equal(config_load_file(path, &c, &m), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(m.text, "cannot open: No such file or "
			       "directory"));
	config_msgs_free(&m);
	free(json);
}

/* ------------------------------------------------------------------ */
/* value syntaxes */

static void test_size_parse(void **state)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "4096", 4096 },
		{ "0", 0 },
		{ "1K", 1024 },
		{ "1k", 1024 },
		{ "512M", 512ull << 20 },
		{ "1G", 1ull << 30 },
		{ "1GiB", 1ull << 30 },
		{ "1gib", 1ull << 30 },
		{ "3T", 3ull << 40 },
		{ "8P", 8ull << 50 },
		{ "9223372036854775807", INT64_MAX },
		{ "8191P", 8191ull << 50 },
	};
	static const struct { const char *s; const char *why; } bad[] = {
		{ "", "empty" },
		{ "G", "not a size" },
		{ "-1", "not a size" },
		{ " 1G", "not a size" },
		{ "1.5G", "unknown suffix" },
		{ "1 G", "unknown suffix" },
		{ "1X", "unknown suffix" },
		{ "1GB", "ambiguous" },
		{ "1Gb", "ambiguous" },
		{ "1Gi", "unexpected characters" },
		{ "1GiBs", "unexpected characters" },
		{ "9223372036854775808", "too large" },
		{ "18446744073709551616", "too large" },
		{ "99999999999999999999999", "too large" },
		{ "8192P", "too large" },
		{ "17179869184G", "too large" },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 12345;
		assert_null(config_size_parse(good[i].s, &v));
		assert_int_equal(v, good[i].v);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *why = config_size_parse(bad[i].s, &v);

		if (!why || !strstr(why, bad[i].why))
			fprintf(stderr, "size \"%s\": %s\n", bad[i].s,
				why ? why : "(accepted)");
		assert_non_null(why);
		assert_non_null(strstr(why, bad[i].why));
	}
}

static void test_portal_parse(void **state)
{
	static const struct { const char *s, *addr; uint16_t port; } good[] = {
		{ "127.0.0.1:3260", "127.0.0.1", 3260 },
		{ "127.0.0.1", "127.0.0.1", 3260 },
		{ "0.0.0.0:1", "0.0.0.0", 1 },
		{ "10.1.2.3:65535", "10.1.2.3", 65535 },
		{ "[::1]:3261", "::1", 3261 },
		{ "[::1]", "::1", 3260 },
		{ "[::]:3260", "::", 3260 },
		{ "[0:0:0:0:0:0:0:1]:5", "::1", 5 },
		{ "[fe80::a:B:c]:3260", "fe80::a:b:c", 3260 },
		{ "[::ffff:1.2.3.4]:3260", "::ffff:1.2.3.4", 3260 },
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "", "empty" },
		{ "::1", "brackets" },
		{ "::1:3260", "brackets" },
		{ "[::1", "missing ']'" },
		{ "[::1]3260", "expected ':PORT'" },
		{ "[::1]:", "missing port" },
		{ "[]:3260", "not an IPv6 address" },
		{ "[1.2.3.4]:3260", "not an IPv6 address" },
		{ "[::g]:3260", "not an IPv6 address" },
		{ "1.2.3:3260", "not an IPv4 address" },
		{ "1.2.3.256", "not an IPv4 address" },
		{ "localhost", "host names" },
		{ ":3260", "not an IPv4 address" },
		{ "1.2.3.4:", "missing port" },
		{ "1.2.3.4:0", "port must be 1..65535" },
		{ "1.2.3.4:65536", "port must be 1..65535" },
		{ "1.2.3.4:99999999999", "port must be 1..65535" },
		{ "1.2.3.4:-1", "port must be 1..65535" },
		{ "1.2.3.4:32a", "port must be 1..65535" },
		{ "1.2.3.4: 80", "port must be 1..65535" },
	};
	struct iscsi_portal_config pc;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		const char *why;

		memset(&pc, 0, sizeof(pc));
		why = config_portal_parse(good[i].s, &pc);
		if (why)
			fprintf(stderr, "portal \"%s\": %s\n", good[i].s, why);
		assert_null(why);
		assert_string_equal(pc.addr, good[i].addr);
		assert_int_equal(pc.port, good[i].port);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *why = config_portal_parse(bad[i].s, &pc);

		if (!why || !strstr(why, bad[i].why))
			fprintf(stderr, "portal \"%s\": %s\n", bad[i].s,
				why ? why : "(accepted)");
		assert_non_null(why);
		assert_non_null(strstr(why, bad[i].why));
	}
}

static void test_iscsi_name_check(void **state)
{
	static const char *const good[] = {
		"iqn.2026-11.org.ctgt:default",
		"iqn.1992-01.com.example",
		"iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
		"iqn.2001-04.com.example.storage.tape1.sys1.xyz",
		"eui.02004567A425678D",
		"eui.02004567a425678d",
		"naa.52004567BA64678D",
		"naa.62004567BA64678D0123456789ABCDEF",
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "", "empty" },
		{ "IQN.2026-11.org.ctgt", "must start with" },
		{ "foo", "must start with" },
		{ "iqn.", "date" },
		{ "iqn.2026-11", "date" },
		{ "iqn.26-11.org.x", "date" },
		{ "iqn.2026-1.org.x", "date" },
		{ "iqn.2026-13.org.x", "month" },
		{ "iqn.2026-00.org.x", "month" },
		{ "iqn.2026-11.", "reversed domain" },
		{ "iqn.2026-11.:x", "reversed domain" },
		{ "iqn.2026-11.Org.ctgt", "upper case" },
		{ "iqn.2026-11.org.ctgt:a b", "only a-z" },
		{ "iqn.2026-11.org.ctgt:a_b", "only a-z" },
		{ "iqn.2026-11.org.ctgt:caf\xc3\xa9", "only a-z" },
		{ "eui.02004567A425678", "16 hex" },
		{ "eui.02004567A425678DD", "16 hex" },
		{ "eui.02004567A425678G", "16 hex" },
		{ "naa.1234", "16 or 32 hex" },
		{ "naa.62004567BA64678D0123456789ABCDE", "16 or 32 hex" },
	};
	char long_name[300];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		const char *why = config_iscsi_name_check(good[i]);

		if (why)
			fprintf(stderr, "name \"%s\": %s\n", good[i], why);
		assert_null(why);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *why = config_iscsi_name_check(bad[i].s);

		if (!why || !strstr(why, bad[i].why))
			fprintf(stderr, "name \"%s\": %s\n", bad[i].s,
				why ? why : "(accepted)");
		assert_non_null(why);
		assert_non_null(strstr(why, bad[i].why));
	}
	/* 223 bytes is the limit */
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "iqn.2026-11.org.x:", 18);
	long_name[223] = '\0';
	assert_null(config_iscsi_name_check(long_name));
	long_name[223] = 'a';
	long_name[224] = '\0';
	assert_non_null(strstr(config_iscsi_name_check(long_name),
			       "longer than 223"));
}

/* ------------------------------------------------------------------ */
/* derived identity */

static void test_naa_derive(void **state)
{
	/* pinned: 6 + 024354 + first 25 hex digits of
	 * SHA-256("ctgt:iqn.2026-11.org.ctgt:default:0") */
	static const uint8_t pinned[16] = { 0x60, 0x24, 0x35, 0x4c, 0xfe, 0x3c,
		0x9f, 0x5b, 0x42, 0xe6, 0x6b, 0xcd, 0xa4, 0x87, 0xc4, 0x16 };
	uint8_t a[16], b[16], d[16], e[16];
	unsigned lun;

	config_naa_derive("iqn.2026-11.org.ctgt:default", 0, a);
	assert_memory_equal(a, pinned, 16);
	config_naa_derive("iqn.2026-11.org.ctgt:default", 0, b);
	assert_memory_equal(a, b, 16);
	/* NAA 6 and the company id in every derived value */
	for (lun = 0; lun < 256; lun++) {
		config_naa_derive("iqn.2026-11.org.ctgt:default", lun, d);
		assert_int_equal(d[0], 0x60);
		assert_int_equal(d[1], 0x24);
		assert_int_equal(d[2], 0x35);
		assert_int_equal(d[3] >> 4, 0x4);
		if (lun) {
			config_naa_derive("iqn.2026-11.org.ctgt:default",
					  lun - 1, e);
			assert_memory_not_equal(d, e, 16);
		}
		assert_true(lun == 0 || memcmp(d, a, 16) != 0);
	}
	config_naa_derive("iqn.2026-11.org.ctgt:other", 0, d);
	assert_memory_not_equal(a, d, 16);
}

static void test_serial_derive(void **state)
{
	char a[33], b[33];

	config_serial_derive("iqn.2026-11.org.ctgt:default", 0, a);
	assert_string_equal(a, "8f24b4a7ed231746");
	config_serial_derive("iqn.2026-11.org.ctgt:default", 1, b);
	assert_int_equal(strlen(b), 16);
	assert_string_not_equal(a, b);
	config_serial_derive("iqn.2026-11.org.ctgt:defaulT", 0, b);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_target),
		cmocka_unit_test(test_rtpi_auto),
		cmocka_unit_test(test_first_burst_follows_max_burst),
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_docs_examples),
		cmocka_unit_test(test_err_json_syntax),
		cmocka_unit_test(test_err_top_level),
		cmocka_unit_test(test_err_iscsi),
		cmocka_unit_test(test_err_target),
		cmocka_unit_test(test_err_portal_groups),
		cmocka_unit_test(test_err_acl_auth),
		cmocka_unit_test(test_warn_chap_secret_length),
		cmocka_unit_test(test_err_luns),
		cmocka_unit_test(test_err_all_reported),
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_portal_parse),
		cmocka_unit_test(test_iscsi_name_check),
		cmocka_unit_test(test_naa_derive),
		cmocka_unit_test(test_serial_derive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
