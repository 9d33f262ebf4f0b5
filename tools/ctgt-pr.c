/*
 * ctgt-pr: persistent reservations from the command line, on libiscsi.
 *
 * Its one job: log in to one LUN, send ONE persistent reservation command
 * (or a TEST UNIT READY, a one-block READ or WRITE to show what a
 * reservation lets through), print the outcome, log out. A small
 * sg_persist for a machine without a kernel SCSI initiator:
 *
 *   ctgt-pr [-i IQN] iscsi://host[:port]/target-iqn/lun COMMAND [ARGS]
 *
 * The status is printed as "GOOD", "RESERVATION CONFLICT" or "CHECK
 * CONDITION key/asc/ascq text"; the exit status is 0, 2 and 1 for them (1
 * also for bad arguments and failed logins). The first command is sent
 * again, once, if it gets a UNIT ATTENTION, and the tool says so: a new
 * session normally starts with one (29/00 the first time, 29/07 I_T NEXUS
 * LOSS OCCURRED when the same initiator port logs in again).
 *
 * Each run is a new session, but always the same initiator port for one
 * initiator name (the ISID is derived from it): what one run registers, the
 * next run with the same -i holds. Deliberately not here: REGISTER AND
 * MOVE, SPEC_I_PT, REPORT CAPABILITIES, several commands per session.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define PR_INITIATOR_DEFAULT "iqn.2026-11.org.ctgt:ctgt-pr"
#define PR_IN_ALLOC 8192	/* PR IN allocation length: room for ~300 keys */
#define PR_TIMEOUT_S 30
#define PR_SHOWN 48		/* bytes of a block `read` and `write` print */

enum pr_exit { PR_EXIT_GOOD = 0, PR_EXIT_ERROR = 1, PR_EXIT_CONFLICT = 2 };

/* SPC-4 6.16.3, table 168: the TYPE field, by the names the CLI takes. */
static const struct pr_type_name {
	const char *name;
	int type;
	const char *text;
} pr_types[] = {
	{ "we", SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE, "Write Exclusive" },
	{ "ea", SCSI_PERSISTENT_RESERVE_TYPE_EXCLUSIVE_ACCESS, "Exclusive Access" },
	{ "we-ro", SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
	  "Write Exclusive - Registrants Only" },
	{ "ea-ro", SCSI_PERSISTENT_RESERVE_TYPE_EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
	  "Exclusive Access - Registrants Only" },
	{ "we-ar", SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_ALL_REGISTRANTS,
	  "Write Exclusive - All Registrants" },
	{ "ea-ar", SCSI_PERSISTENT_RESERVE_TYPE_EXCLUSIVE_ACCESS_ALL_REGISTRANTS,
	  "Exclusive Access - All Registrants" },
};

/* What the command line asked for; the SCSI helpers read only this. */
struct pr_ctx {
	struct iscsi_context *iscsi;
	int lun;
	bool first_sent;	/* the UNIT ATTENTION retry is for the first command only */
	int sa;			/* PR IN or PR OUT service action */
	int type;
	struct scsi_persistent_reserve_out_basic params;
	uint64_t lba;
	uint32_t block_size;
	unsigned char *block;
	const char *initiator;
};

/* A row of the command table (pr_cmds[], below); exit statuses are pr_exit. */
struct pr_cmd {
	const char *name;
	const char *args;	/* names of its arguments, space-separated */
	const char *what;	/* the status line's name */
	int sa;			/* PR IN or PR OUT service action */
	struct scsi_task *(*issue)(struct pr_ctx *c);
	int (*prepare)(struct pr_ctx *c);	/* NULL, or first (READ CAPACITY) */
	int (*show)(struct pr_ctx *c, struct scsi_task *t); /* NULL, or GOOD's data */
};

/* --- arguments -------------------------------------------------------------- */

static int pr_parse_u64(const char *s, const char *what, uint64_t *out)
{
	char *end;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	*out = strtoull(s, &end, 0);
	if (errno == 0 && *end == '\0')
		return 0;
bad:
	fprintf(stderr, "ctgt-pr: bad %s '%s' (a number: 0xa1, 161)\n", what, s);
	return -1;
}

static int pr_parse_type(const char *s, int *type)
{
	for (size_t i = 0; i < sizeof(pr_types) / sizeof(pr_types[0]); i++) {
		if (strcmp(s, pr_types[i].name) == 0) {
			*type = pr_types[i].type;
			return 0;
		}
	}
	fprintf(stderr, "ctgt-pr: bad TYPE '%s' (we, ea, we-ro, ea-ro, we-ar, ea-ar)\n", s);
	return -1;
}

static const char *pr_type_name(int type)
{
	for (size_t i = 0; i < sizeof(pr_types) / sizeof(pr_types[0]); i++)
		if (pr_types[i].type == type)
			return pr_types[i].name;
	return "?";
}

/* "we (Write Exclusive)" for a TYPE field, into buf. */
static const char *pr_type_text(int type, char *buf, size_t size)
{
	for (size_t i = 0; i < sizeof(pr_types) / sizeof(pr_types[0]); i++) {
		if (pr_types[i].type == type) {
			snprintf(buf, size, "%s (%s)", pr_types[i].name, pr_types[i].text);
			return buf;
		}
	}
	snprintf(buf, size, "0x%x (unknown)", type);
	return buf;
}

/* --- one SCSI command, its status ---------------------------------------------- */

/* SPC-4 table D.2: texts libiscsi lacks, for what a PR user sees most. */
static const struct pr_asc_text {
	int asc_ascq;
	const char *text;
} pr_asc_texts[] = {
	{ 0x2900, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED" },
	{ 0x2907, "I_T NEXUS LOSS OCCURRED" },
	{ 0x2a03, "RESERVATIONS PREEMPTED" },
	{ 0x2a04, "RESERVATIONS RELEASED" },
	{ 0x2a05, "REGISTRATIONS PREEMPTED" },
	{ 0x2a06, "ASYMMETRIC ACCESS STATE CHANGED" },
	{ 0x2600, "INVALID FIELD IN PARAMETER LIST" },
	{ 0x2400, "INVALID FIELD IN CDB" },
	{ 0x2604, "INVALID RELEASE OF PERSISTENT RESERVATION" },
};

static const char *pr_asc_text(int asc_ascq)
{
	const char *text;

	for (size_t i = 0; i < sizeof(pr_asc_texts) / sizeof(pr_asc_texts[0]); i++)
		if (pr_asc_texts[i].asc_ascq == asc_ascq)
			return pr_asc_texts[i].text;
	text = scsi_sense_ascq_str(asc_ascq);
	return text != NULL ? text : "";
}

static bool pr_is_unit_attention(const struct scsi_task *t)
{
	return t->status == SCSI_STATUS_CHECK_CONDITION &&
	       t->sense.key == SCSI_SENSE_UNIT_ATTENTION;
}

/*
 * Sends what `issue` builds; the first command of the session is sent again,
 * once, after a UNIT ATTENTION. NULL (printed) when libiscsi could not send it.
 */
static struct scsi_task *pr_send(struct pr_ctx *c,
				 struct scsi_task *(*issue)(struct pr_ctx *c))
{
	struct scsi_task *t = issue(c);

	if (t != NULL && !c->first_sent && pr_is_unit_attention(t)) {
		printf("(UNIT ATTENTION %02X/%02X %s: sent again)\n",
		       t->sense.ascq >> 8, t->sense.ascq & 0xff, pr_asc_text(t->sense.ascq));
		scsi_free_scsi_task(t);
		t = issue(c);
	}
	c->first_sent = true;
	if (t == NULL)
		fprintf(stderr, "ctgt-pr: %s\n", iscsi_get_error(c->iscsi));
	return t;
}

/* Prints "WHAT: status" and maps it to the exit status. */
static int pr_status_print(const char *what, const struct scsi_task *t)
{
	switch (t->status) {
	case SCSI_STATUS_GOOD:
		printf("%s: GOOD\n", what);
		return PR_EXIT_GOOD;
	case SCSI_STATUS_RESERVATION_CONFLICT:
		printf("%s: RESERVATION CONFLICT\n", what);
		return PR_EXIT_CONFLICT;
	case SCSI_STATUS_CHECK_CONDITION:
		printf("%s: CHECK CONDITION %X/%02X/%02X %s %s\n", what,
		       t->sense.key, t->sense.ascq >> 8, t->sense.ascq & 0xff,
		       scsi_sense_key_str(t->sense.key), pr_asc_text(t->sense.ascq));
		return PR_EXIT_ERROR;
	default:
		printf("%s: status 0x%02x\n", what, t->status);
		return PR_EXIT_ERROR;
	}
}

/* --- the commands: what they send, what they print ------------------------------- */

static struct scsi_task *pr_out_issue(struct pr_ctx *c)
{
	return iscsi_persistent_reserve_out_sync(c->iscsi, c->lun, c->sa,
		SCSI_PERSISTENT_RESERVE_SCOPE_LU, c->type, &c->params);
}

static struct scsi_task *pr_in_issue(struct pr_ctx *c)
{
	return iscsi_persistent_reserve_in_sync(c->iscsi, c->lun, c->sa, PR_IN_ALLOC);
}

static struct scsi_task *pr_tur_issue(struct pr_ctx *c)
{
	return iscsi_testunitready_sync(c->iscsi, c->lun);
}

static struct scsi_task *pr_capacity_issue(struct pr_ctx *c)
{
	return iscsi_readcapacity16_sync(c->iscsi, c->lun);
}

static struct scsi_task *pr_write_issue(struct pr_ctx *c)
{
	return iscsi_write16_sync(c->iscsi, c->lun, c->lba, c->block, c->block_size,
				  (int)c->block_size, 0, 0, 0, 0, 0);
}

static struct scsi_task *pr_read_issue(struct pr_ctx *c)
{
	return iscsi_read16_sync(c->iscsi, c->lun, c->lba, c->block_size,
				 (int)c->block_size, 0, 0, 0, 0, 0);
}

static int pr_read_keys_show(struct pr_ctx *c, struct scsi_task *t)
{
	struct scsi_persistent_reserve_in_read_keys *rk;

	(void)c;
	rk = scsi_datain_unmarshall(t);
	if (rk == NULL) {
		printf("  (malformed parameter data, %d bytes)\n", t->datain.size);
		return PR_EXIT_ERROR;
	}
	printf("  PRgeneration 0x%" PRIx32 ", %d registered key(s)\n",
	       rk->prgeneration, rk->num_keys);
	for (int i = 0; i < rk->num_keys; i++)
		printf("    0x%" PRIx64 "\n", rk->keys[i]);
	return PR_EXIT_GOOD;
}

static int pr_read_reservation_show(struct pr_ctx *c, struct scsi_task *t)
{
	struct scsi_persistent_reserve_in_read_reservation *rr;
	char type[64];

	(void)c;
	rr = scsi_datain_unmarshall(t);
	if (rr == NULL) {
		printf("  (malformed parameter data, %d bytes)\n", t->datain.size);
		return PR_EXIT_ERROR;
	}
	if (!rr->reserved)
		printf("  PRgeneration 0x%" PRIx32 ", no reservation\n", rr->prgeneration);
	else
		printf("  PRgeneration 0x%" PRIx32 ", reservation: key 0x%" PRIx64
		       ", type %s, scope %s\n", rr->prgeneration, rr->reservation_key,
		       pr_type_text(rr->pr_type, type, sizeof(type)),
		       rr->pr_scope == 0 ? "LU" : "?");
	return PR_EXIT_GOOD;
}

static uint32_t pr_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t pr_get_be64(const unsigned char *p)
{
	return (uint64_t)pr_get_be32(p) << 32 | pr_get_be32(p + 4);
}

/*
 * A TransportID as text (SPC-4 7.6.4.6 for iSCSI: "name" or
 * "name,i,0xISID"); other protocols as their protocol identifier.
 */
static void pr_transport_id_print(const unsigned char *tid, uint32_t len)
{
	uint32_t n;

	if (len < 4) {
		printf("(none)");
		return;
	}
	if ((tid[0] & 0x0f) != 0x5) {
		printf("(protocol 0x%x, %" PRIu32 " bytes)", tid[0] & 0x0f, len);
		return;
	}
	n = (uint32_t)tid[2] << 8 | tid[3];
	if (n > len - 4)
		n = len - 4;
	for (uint32_t i = 0; i < n && tid[4 + i] != '\0'; i++)
		putchar(tid[4 + i] >= 0x20 && tid[4 + i] < 0x7f ? tid[4 + i] : '?');
}

/* SPC-4 6.15.5, tables 172 and 173: parsed here, libiscsi does not. */
static int pr_full_status_show(struct pr_ctx *c, struct scsi_task *t)
{
	const unsigned char *d = t->datain.data;
	uint32_t len, off, dlen;
	char holder[32];

	(void)c;
	if (t->datain.size < 8) {
		printf("  (short parameter data, %d bytes)\n", t->datain.size);
		return PR_EXIT_ERROR;
	}
	len = pr_get_be32(d + 4);
	if (len > (uint32_t)t->datain.size - 8) {
		printf("  (truncated: %" PRIu32 " bytes of descriptors, %d received)\n",
		       len, t->datain.size - 8);
		len = (uint32_t)t->datain.size - 8;
	}
	printf("  PRgeneration 0x%" PRIx32 "\n", pr_get_be32(d));
	for (off = 8; off + 24 <= 8 + len; off += 24 + dlen) {
		const unsigned char *r = d + off;

		dlen = pr_get_be32(r + 20);
		if (dlen > 8 + len - off - 24)
			dlen = 8 + len - off - 24;
		holder[0] = '\0';
		if (r[12] & 1)	/* R_HOLDER: then TYPE and SCOPE mean something */
			snprintf(holder, sizeof(holder), "HOLDER %s/%s",
				 pr_type_name(r[13] & 0x0f), (r[13] >> 4) == 0 ? "LU" : "?");
		printf("    key 0x%-4" PRIx64 "  ALL_TG_PT %d  RTPI %-3u  %-15s  ",
		       pr_get_be64(r), (r[12] >> 1) & 1, (unsigned)r[18] << 8 | r[19], holder);
		pr_transport_id_print(r + 24, dlen);
		putchar('\n');
	}
	if (off == 8)
		printf("    (no registrations)\n");
	return PR_EXIT_GOOD;
}

/* READ CAPACITY(16) (allowed under every reservation type): the block size. */
static int pr_block_size_get(struct pr_ctx *c)
{
	struct scsi_task *t = pr_send(c, pr_capacity_issue);
	struct scsi_readcapacity16 *cap;
	int rc = PR_EXIT_ERROR;

	if (t == NULL)
		return PR_EXIT_ERROR;
	if (t->status != SCSI_STATUS_GOOD) {
		rc = pr_status_print("READ CAPACITY(16)", t);
	} else if ((cap = scsi_datain_unmarshall(t)) == NULL || cap->block_length == 0 ||
		   cap->block_length > 65536) {
		printf("READ CAPACITY(16): unusable parameter data\n");
	} else if (c->lba > cap->returned_lba) {
		printf("LBA %" PRIu64 " is past the last LBA, %" PRIu64 "\n",
		       c->lba, cap->returned_lba);
	} else {
		c->block_size = cap->block_length;
		rc = PR_EXIT_GOOD;
	}
	scsi_free_scsi_task(t);
	return rc;
}

/* A block of "ctgt-pr <initiator> lba <n> " repeated, for `write`. */
static int pr_block_fill(struct pr_ctx *c)
{
	char line[300];
	int n = snprintf(line, sizeof(line), "ctgt-pr %s lba %" PRIu64 " ",
			 c->initiator, c->lba);

	if (n <= 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(strcpy(line, "ctgt-pr "));
	c->block = malloc(c->block_size);
	if (c->block == NULL) {
		fprintf(stderr, "ctgt-pr: out of memory\n");
		return -1;
	}
	for (uint32_t i = 0; i < c->block_size; i++)
		c->block[i] = (unsigned char)line[i % (uint32_t)n];
	return 0;
}

static int pr_write_prepare(struct pr_ctx *c)
{
	int rc = pr_block_size_get(c);

	if (rc == PR_EXIT_GOOD && pr_block_fill(c) != 0)
		rc = PR_EXIT_ERROR;
	return rc;
}

/* Prints up to PR_SHOWN bytes as text, a dot for what is not printable. */
static void pr_bytes_print(const unsigned char *p, int len)
{
	printf("  \"");
	for (int i = 0; i < PR_SHOWN && i < len; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
	printf("...\"\n");
}

static int pr_write_show(struct pr_ctx *c, struct scsi_task *t)
{
	(void)t;
	pr_bytes_print(c->block, (int)c->block_size);
	return PR_EXIT_GOOD;
}

static int pr_read_show(struct pr_ctx *c, struct scsi_task *t)
{
	(void)c;
	pr_bytes_print(t->datain.data, t->datain.size);
	return PR_EXIT_GOOD;
}

#define PR_OUT(sa) SCSI_PERSISTENT_RESERVE_##sa, pr_out_issue, NULL, NULL
#define PR_IN(sa, show) SCSI_PERSISTENT_RESERVE_##sa, pr_in_issue, NULL, show

/*
 * The arguments' names say where they go: KEY is the RESERVATION KEY,
 * NEWKEY and VICTIMKEY the SERVICE ACTION RESERVATION KEY (SPC-4 6.16.3).
 * So `unregister KEY` is REGISTER with a zero new key (SPC-4 5.14.11.2.3).
 */
static const struct pr_cmd pr_cmds[] = {
	{ "read-keys", "", "PR IN READ KEYS", PR_IN(READ_KEYS, pr_read_keys_show) },
	{ "read-reservation", "", "PR IN READ RESERVATION",
	  PR_IN(READ_RESERVATION, pr_read_reservation_show) },
	{ "read-full-status", "", "PR IN READ FULL STATUS",
	  PR_IN(READ_FULL_STATUS, pr_full_status_show) },
	{ "register", "NEWKEY", "PR OUT REGISTER", PR_OUT(REGISTER) },
	{ "register-ignore", "NEWKEY", "PR OUT REGISTER AND IGNORE EXISTING KEY",
	  PR_OUT(REGISTER_AND_IGNORE_EXISTING_KEY) },
	{ "unregister", "KEY", "PR OUT REGISTER (unregister)", PR_OUT(REGISTER) },
	{ "reserve", "KEY TYPE", "PR OUT RESERVE", PR_OUT(RESERVE) },
	{ "release", "KEY TYPE", "PR OUT RELEASE", PR_OUT(RELEASE) },
	{ "preempt", "KEY VICTIMKEY TYPE", "PR OUT PREEMPT", PR_OUT(PREEMPT) },
	{ "preempt-abort", "KEY VICTIMKEY TYPE", "PR OUT PREEMPT AND ABORT",
	  PR_OUT(PREEMPT_AND_ABORT) },
	{ "clear", "KEY", "PR OUT CLEAR", PR_OUT(CLEAR) },
	{ "write", "LBA", "WRITE(16)", 0, pr_write_issue, pr_write_prepare, pr_write_show },
	{ "read", "LBA", "READ(16)", 0, pr_read_issue, pr_block_size_get, pr_read_show },
	{ "tur", "", "TEST UNIT READY", 0, pr_tur_issue, NULL, NULL },
};

/* One command: prepare, send, "WHAT: status", its data when GOOD. */
static int pr_run(struct pr_ctx *c, const struct pr_cmd *cmd)
{
	struct scsi_task *t;
	char what[96];
	int rc;

	if (cmd->prepare != NULL && (rc = cmd->prepare(c)) != PR_EXIT_GOOD)
		return rc;
	t = pr_send(c, cmd->issue);
	if (t == NULL)
		return PR_EXIT_ERROR;
	if (strcmp(cmd->args, "LBA") == 0)
		snprintf(what, sizeof(what), "%s LBA %" PRIu64, cmd->what, c->lba);
	else
		snprintf(what, sizeof(what), "%s", cmd->what);
	rc = pr_status_print(what, t);
	if (rc == PR_EXIT_GOOD && cmd->show != NULL)
		rc = cmd->show(c, t);
	scsi_free_scsi_task(t);
	return rc;
}

static const struct pr_cmd *pr_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(pr_cmds) / sizeof(pr_cmds[0]); i++)
		if (strcmp(name, pr_cmds[i].name) == 0)
			return &pr_cmds[i];
	return NULL;
}

/* Stores argv[] where cmd's argument names say; -1 after a message. */
static int pr_args_parse(struct pr_ctx *c, const struct pr_cmd *cmd, int argc, char **argv)
{
	char names[32], *save = NULL, *name;
	int i = 0, rc = 0;

	snprintf(names, sizeof(names), "%s", cmd->args);
	for (name = strtok_r(names, " ", &save); name != NULL && rc == 0;
	     name = strtok_r(NULL, " ", &save), i++) {
		if (i >= argc)
			rc = -1;
		else if (strcmp(name, "KEY") == 0)
			rc = pr_parse_u64(argv[i], name, &c->params.reservation_key);
		else if (strcmp(name, "TYPE") == 0)
			rc = pr_parse_type(argv[i], &c->type);
		else if (strcmp(name, "LBA") == 0)
			rc = pr_parse_u64(argv[i], name, &c->lba);
		else
			rc = pr_parse_u64(argv[i], name, &c->params.service_action_reservation_key);
	}
	if (rc == 0 && i != argc)
		rc = -1;
	if (rc != 0)
		fprintf(stderr, "ctgt-pr: usage: %s %s\n", cmd->name,
			cmd->args[0] ? cmd->args : "(no arguments)");
	return rc;
}

static void pr_usage(FILE *f)
{
	fprintf(f, "usage: ctgt-pr [-i INITIATOR_IQN] [--aptpl] [--all-tg-pt] "
		   "iscsi://host[:port]/target-iqn/lun COMMAND [ARGS]\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(pr_cmds) / sizeof(pr_cmds[0]); i++)
		fprintf(f, "  %s%s%s\n", pr_cmds[i].name, pr_cmds[i].args[0] ? " " : "",
			pr_cmds[i].args);
	fprintf(f, "KEY: 0xa1 or 161. TYPE: we, ea, we-ro, ea-ro, we-ar, ea-ar.\n"
		   "--aptpl, --all-tg-pt: the PR OUT parameter list's bits (register).\n"
		   "-i: the initiator name (default " PR_INITIATOR_DEFAULT ").\n"
		   "Exit status: 0 GOOD, 2 RESERVATION CONFLICT, 1 anything else.\n");
}

/*
 * The ISID, from the initiator name: a registration belongs to an I_T nexus
 * (initiator name AND ISID, SPC-4 5.14.6; RFC 7143 11.12.5), so every run
 * for one initiator name must log in as the same initiator port, as a real
 * initiator does. "Random" ISID format (type 2), 24 bits of FNV-1a.
 */
static uint32_t pr_isid_from_name(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return (h ^ (h >> 24)) & 0xffffff;
}

/* Logs in to the URL's LUN; 0, or -1 after printing why. */
static int pr_connect(struct pr_ctx *c, const char *url_text)
{
	struct iscsi_url *url;
	int rc;

	c->iscsi = iscsi_create_context(c->initiator);
	if (c->iscsi == NULL) {
		fprintf(stderr, "ctgt-pr: cannot create an iSCSI context\n");
		return -1;
	}
	url = iscsi_parse_full_url(c->iscsi, url_text);
	if (url == NULL) {
		fprintf(stderr, "ctgt-pr: bad URL '%s': %s\n", url_text, iscsi_get_error(c->iscsi));
		return -1;
	}
	iscsi_set_targetname(c->iscsi, url->target);
	iscsi_set_session_type(c->iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_isid_random(c->iscsi, pr_isid_from_name(c->initiator), 0);
	iscsi_set_header_digest(c->iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (url->user[0] != '\0')
		iscsi_set_initiator_username_pwd(c->iscsi, url->user, url->passwd);
	iscsi_set_noautoreconnect(c->iscsi, 1);
	iscsi_set_timeout(c->iscsi, PR_TIMEOUT_S);
	c->lun = url->lun;
	/* not iscsi_full_connect_sync(): its TEST UNIT READYs would hide the UAs */
	rc = iscsi_connect_sync(c->iscsi, url->portal);
	if (rc == 0)
		rc = iscsi_login_sync(c->iscsi);
	if (rc != 0)
		fprintf(stderr, "ctgt-pr: login to %s failed: %s\n", url->portal,
			iscsi_get_error(c->iscsi));
	iscsi_destroy_url(url);
	return rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	enum { OPT_APTPL = 256, OPT_ALL_TG_PT };
	static const struct option longopts[] = {
		{ "initiator", required_argument, NULL, 'i' },
		{ "aptpl", no_argument, NULL, OPT_APTPL },
		{ "all-tg-pt", no_argument, NULL, OPT_ALL_TG_PT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pr_ctx c = { .initiator = PR_INITIATOR_DEFAULT };
	const struct pr_cmd *cmd;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			c.initiator = optarg;
			break;
		case OPT_APTPL:
			c.params.aptpl = 1;
			break;
		case OPT_ALL_TG_PT:
			c.params.all_tg_pt = 1;
			break;
		case 'h':
			pr_usage(stdout);
			return PR_EXIT_GOOD;
		default:
			pr_usage(stderr);
			return PR_EXIT_ERROR;
		}
	}
	if (argc - optind < 2) {
		pr_usage(stderr);
		return PR_EXIT_ERROR;
	}
	cmd = pr_cmd_find(argv[optind + 1]);
	if (cmd == NULL) {
		fprintf(stderr, "ctgt-pr: unknown command '%s'\n", argv[optind + 1]);
		pr_usage(stderr);
		return PR_EXIT_ERROR;
	}
	if (pr_args_parse(&c, cmd, argc - optind - 2, argv + optind + 2) != 0)
		return PR_EXIT_ERROR;
	c.sa = cmd->sa;
	rc = PR_EXIT_ERROR;
	if (pr_connect(&c, argv[optind]) == 0) {
		rc = pr_run(&c, cmd);
		iscsi_logout_sync(c.iscsi);
	}
	if (c.iscsi != NULL)
		iscsi_destroy_context(c.iscsi);
	free(c.block);
	return rc;
}
