/*
 * Unit tests of the iSCSI TransportID codec and matching rule
 * (src/pr/transportid.c, SPC-4 7.6.4.6): round trips of both formats across
 * the padding boundaries, a table of malformed TransportIDs with the field
 * offset each must be refused at, and the table of match rules.
 *
 *   byte 0     1     2..3        4 ..
 *   [fmt|5h] [rsvd] [ADDL LEN]   name NUL pad            (format 00b)
 *   [fmt|5h] [rsvd] [ADDL LEN]   name ",i,0x" isid NUL pad (format 01b)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pr/transportid.h"

#define TID_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Fails with the case's label and both sides when a != b. */
#define TID_EXPECT_EQ(label, a, b)                                        \
	do {                                                              \
		long long tid_a_ = (long long)(a), tid_b_ = (long long)(b); \
		if (tid_a_ != tid_b_)                                     \
			fail_msg("%s: %s == %s (%lld == %lld)", (label), #a, \
				 #b, tid_a_, tid_b_);                     \
	} while (0)

#define TID_EXPECT_STR(label, a, b)                                       \
	do {                                                              \
		if (strcmp((a), (b)) != 0)                                \
			fail_msg("%s: %s == %s (\"%s\" == \"%s\")", (label), \
				 #a, #b, (a), (b));                       \
	} while (0)

/* Builds a TransportID by hand: header, string, zero padding to total. */
static size_t test_tid_build(uint8_t *buf, uint8_t byte0, size_t addl,
			     const char *str, size_t str_len)
{
	memset(buf, 0, 4 + addl);
	buf[0] = byte0;
	buf[2] = (uint8_t)(addl >> 8);
	buf[3] = (uint8_t)addl;
	memcpy(buf + 4, str, str_len);
	return 4 + addl;
}

/* A name of n characters, "iqn.2026-11.test:" then a counter pattern. */
static void test_tid_name_make(char *out, size_t n)
{
	static const char prefix[] = "iqn.2026-11.test:";

	for (size_t i = 0; i < n; i++)
		out[i] = i < sizeof(prefix) - 1 ? prefix[i]
						: (char)('a' + (i % 26));
	out[n] = '\0';
}

/* The canonical encoded length for a string of s bytes. */
static size_t test_tid_len_expected(size_t s)
{
	size_t total = 4 + ((s + 1 + 3) / 4) * 4;

	return total < 24 ? 24 : total;
}

static void test_tid_roundtrip_one(size_t n, enum pr_tid_format format)
{
	static const uint8_t isid[6] = { 0x80, 0x12, 0x34, 0xab, 0xcd, 0xef };
	char name[PR_TID_NAME_MAX], label[64];
	struct pr_tid tid, back;
	uint8_t buf[300];
	size_t bad = 99;
	int len, rc;

	snprintf(label, sizeof(label), "name length %zu format %d", n, format);
	test_tid_name_make(name, n);
	pr_tid_from_port(&tid, name, isid);
	tid.format = format;
	if (format == PR_TID_FORMAT_DEVICE)
		memset(tid.isid, 0, sizeof(tid.isid));

	len = pr_tid_encode(&tid, buf, sizeof(buf));
	TID_EXPECT_EQ(label, len, test_tid_len_expected(
		n + (format == PR_TID_FORMAT_PORT ? 17 : 0)));
	TID_EXPECT_EQ(label, len % 4, 0);
	TID_EXPECT_EQ(label, buf[0], (format << 6) | 0x05);
	TID_EXPECT_EQ(label, (buf[2] << 8 | buf[3]) + 4, len);
	TID_EXPECT_EQ(label, buf[len - 1], 0);

	rc = pr_tid_decode(buf, (size_t)len, &back, &bad);
	TID_EXPECT_EQ(label, rc, len);
	TID_EXPECT_EQ(label, back.format, format);
	TID_EXPECT_STR(label, back.name, name);
	TID_EXPECT_STR(label, back.isid,
		       format == PR_TID_FORMAT_PORT ? "801234abcdef" : "");
	TID_EXPECT_EQ(label, pr_tid_equal(&tid, &back), true);

	/* one byte short of room: refused, nothing assumed written */
	TID_EXPECT_EQ(label, pr_tid_encode(&tid, buf, (size_t)len - 1),
		      -ENOSPC);
	/* a truncated buffer: ADDITIONAL LENGTH beyond len */
	rc = pr_tid_decode(buf, (size_t)len - 1, &back, &bad);
	TID_EXPECT_EQ(label, rc, -EINVAL);
	TID_EXPECT_EQ(label, bad, 2);
}

static void test_tid_roundtrip(void **state)
{
	for (size_t n = 1; n <= 40; n++) {
		test_tid_roundtrip_one(n, PR_TID_FORMAT_DEVICE);
		test_tid_roundtrip_one(n, PR_TID_FORMAT_PORT);
	}
	for (size_t n = 200; n <= 223; n++) {
		test_tid_roundtrip_one(n, PR_TID_FORMAT_DEVICE);
		test_tid_roundtrip_one(n, PR_TID_FORMAT_PORT);
	}
}

/* Decoding accepts more than encode writes; these are all valid. */
struct tid_accept_case {
	const char *label;
	uint8_t byte0;
	size_t addl;
	const char *str;
	enum pr_tid_format format;
	const char *name;
	const char *isid;
};

static const struct tid_accept_case tid_accept_cases[] = {
	{ "device, minimum length", 0x05, 20, "iqn.a", PR_TID_FORMAT_DEVICE,
	  "iqn.a", "" },
	{ "device, extra NUL padding", 0x05, 64, "iqn.a", PR_TID_FORMAT_DEVICE,
	  "iqn.a", "" },
	{ "device, reserved bits set (not checked)", 0x35, 20, "iqn.a",
	  PR_TID_FORMAT_DEVICE, "iqn.a", "" },
	{ "device, name fills all but the NUL", 0x05, 20,
	  "iqn.2026-11.test:ab", PR_TID_FORMAT_DEVICE, "iqn.2026-11.test:ab",
	  "" },
	{ "port, canonical", 0x45, 24, "iqn.a,i,0x23d000000001",
	  PR_TID_FORMAT_PORT, "iqn.a", "23d000000001" },
	{ "port, upper-case ISID stored lower", 0x45, 24,
	  "iqn.a,i,0x23D0000000AB", PR_TID_FORMAT_PORT, "iqn.a",
	  "23d0000000ab" },
	{ "port, upper-case separator", 0x45, 24, "iqn.a,I,0X23d000000001",
	  PR_TID_FORMAT_PORT, "iqn.a", "23d000000001" },
	{ "port, mixed-case name kept as sent", 0x45, 24,
	  "IQN.A,i,0x23d000000001", PR_TID_FORMAT_PORT, "IQN.A",
	  "23d000000001" },
};

static void test_tid_accept_table(void **state)
{
	for (size_t i = 0; i < TID_ARRAY_SIZE(tid_accept_cases); i++) {
		const struct tid_accept_case *c = &tid_accept_cases[i];
		uint8_t buf[512];
		struct pr_tid tid;
		size_t len, bad = 99;
		int rc;

		len = test_tid_build(buf, c->byte0, c->addl, c->str,
				     strlen(c->str));
		rc = pr_tid_decode(buf, len, &tid, &bad);
		TID_EXPECT_EQ(c->label, rc, len);
		TID_EXPECT_EQ(c->label, tid.format, c->format);
		TID_EXPECT_STR(c->label, tid.name, c->name);
		TID_EXPECT_STR(c->label, tid.isid, c->isid);
		/* trailing bytes after the TransportID are not its business */
		buf[len] = 0xff;
		rc = pr_tid_decode(buf, len + 1, &tid, &bad);
		TID_EXPECT_EQ(c->label, rc, len);
	}
}

/*
 * One malformed TransportID: header, string (str_len bytes, so NULs may be
 * embedded; 0 means strlen), an optional byte poked afterwards, the length
 * handed to decode (-1 means 4 + addl), and the field offset expected.
 */
struct tid_reject_case {
	const char *label;
	uint8_t byte0;
	size_t addl;
	const char *str;
	size_t str_len;
	int poke_at;
	uint8_t poke;
	long len;
	size_t bad_byte;
};

/* 224 bytes: one more than an iSCSI name may hold */
#define NAME224 "iqn.2026-11.test:" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct tid_reject_case tid_reject_cases[] = {
	{ "empty buffer", 0x05, 20, "iqn.a", 0, -1, 0, 0, 0 },
	{ "FC protocol id 0h", 0x00, 20, "iqn.a", 0, -1, 0, 24, 0 },
	{ "SAS protocol id 6h", 0x06, 20, "iqn.a", 0, -1, 0, 24, 0 },
	{ "SRP protocol id 4h", 0x44, 20, "iqn.a", 0, -1, 0, 24, 0 },
	{ "format 10b", 0x85, 20, "iqn.a", 0, -1, 0, 24, 0 },
	{ "format 11b", 0xc5, 20, "iqn.a", 0, -1, 0, 24, 0 },
	{ "header cut at 1 byte", 0x05, 20, "iqn.a", 0, -1, 0, 1, 2 },
	{ "header cut at 3 bytes", 0x05, 20, "iqn.a", 0, -1, 0, 3, 2 },
	{ "additional length 21", 0x05, 21, "iqn.a", 0, -1, 0, -1, 2 },
	{ "additional length 22", 0x05, 22, "iqn.a", 0, -1, 0, -1, 2 },
	{ "additional length 23", 0x05, 23, "iqn.a", 0, -1, 0, -1, 2 },
	{ "additional length 16 (< 20)", 0x05, 16, "iqn.a", 0, -1, 0, -1, 2 },
	{ "additional length 0", 0x05, 0, "", 0, -1, 0, -1, 2 },
	{ "additional length beyond len", 0x05, 24, "iqn.a", 0, -1, 0, 27, 2 },
	{ "additional length 65300 in 24 bytes", 0x05, 20, "iqn.a", 0, 2, 0xff,
	  24, 2 },
	{ "device, no NUL in the field", 0x05, 20, "iqn.2026-11.test:abc", 0,
	  -1, 0, -1, 4 },
	{ "port, no NUL in the field", 0x45, 20, "iqn.a,i,0x0123456789ab", 20,
	  -1, 0, -1, 4 },
	{ "device, empty name", 0x05, 20, "", 0, -1, 0, -1, 4 },
	{ "port, empty name", 0x45, 20, ",i,0x0123456789ab", 0, -1, 0, -1, 4 },
	{ "device, name of 224 bytes", 0x05, 228, NAME224, 0, -1, 0, -1, 4 },
	{ "port, name of 224 bytes", 0x45, 244, NAME224 ",i,0x0123456789ab", 0,
	  -1, 0, -1, 4 },
	{ "device, control character in name", 0x05, 20, "iqn.a\tb", 0, -1, 0,
	  -1, 4 },
	{ "device, space in name", 0x05, 20, "iqn.a b", 0, -1, 0, -1, 4 },
	{ "device, DEL in name", 0x05, 20, "iqn.a\x7f", 0, -1, 0, -1, 4 },
	{ "device, 8-bit byte in name", 0x05, 20, "iqn.\xc3\xa9", 0, -1, 0, -1,
	  4 },
	{ "device, comma in name", 0x05, 20, "iqn.a,b", 0, -1, 0, -1, 4 },
	{ "port, no separator", 0x45, 20, "iqn.a", 0, -1, 0, -1, 9 },
	{ "port, separator cut short", 0x45, 20, "iqn.a,i,0", 0, -1, 0, -1, 9 },
	{ "port, separator ,t,0x", 0x45, 24, "iqn.a,t,0x0123456789ab", 0, -1,
	  0, -1, 9 },
	{ "port, separator ,i,x", 0x45, 24, "iqn.a,i,x0123456789ab", 0, -1, 0,
	  -1, 9 },
	{ "port, separator ,i0x", 0x45, 24, "iqn.a,i0x0123456789ab", 0, -1, 0,
	  -1, 9 },
	{ "port, ISID of 11 digits", 0x45, 24, "iqn.a,i,0x0123456789a", 0, -1,
	  0, -1, 14 },
	{ "port, ISID of 13 digits", 0x45, 24, "iqn.a,i,0x0123456789abc", 0,
	  -1, 0, -1, 14 },
	{ "port, empty ISID", 0x45, 20, "iqn.a,i,0x", 0, -1, 0, -1, 14 },
	{ "port, ISID with g", 0x45, 24, "iqn.a,i,0x0123456789ag", 0, -1, 0,
	  -1, 14 },
	{ "port, ISID with a second separator", 0x45, 28,
	  "iqn.a,i,0x,i,0x0123456789ab", 0, -1, 0, -1, 14 },
	{ "device, garbage in the padding", 0x05, 20, "iqn.a", 0, 12, 'x', -1,
	  12 },
	{ "device, garbage in the last pad byte", 0x05, 20, "iqn.a", 0, 23,
	  0x01, -1, 23 },
	{ "device, second string after the NUL", 0x05, 20, "iqn.a\0iqn.b", 11,
	  -1, 0, -1, 10 },
	{ "port, garbage after the ISID's NUL", 0x45, 28,
	  "iqn.a,i,0x0123456789ab", 0, 30, 0x20, -1, 30 },
};

static void test_tid_reject_table(void **state)
{
	for (size_t i = 0; i < TID_ARRAY_SIZE(tid_reject_cases); i++) {
		const struct tid_reject_case *c = &tid_reject_cases[i];
		uint8_t buf[512];
		struct pr_tid tid;
		size_t len, bad = 999;
		int rc;

		len = test_tid_build(buf, c->byte0, c->addl, c->str,
				     c->str_len ? c->str_len : strlen(c->str));
		if (c->poke_at >= 0)
			buf[c->poke_at] = c->poke;
		if (c->len >= 0)
			len = (size_t)c->len;
		memset(&tid, 0x5a, sizeof(tid));
		rc = pr_tid_decode(buf, len, &tid, &bad);
		TID_EXPECT_EQ(c->label, rc, -EINVAL);
		TID_EXPECT_EQ(c->label, bad, c->bad_byte);
		/* a refusal leaves nothing half-filled behind */
		TID_EXPECT_EQ(c->label, tid.name[0], 0);
		TID_EXPECT_EQ(c->label, tid.isid[0], 0);
	}
}

/* encode refuses what decode would refuse (it never writes a bad TID). */
static void test_tid_encode_invalid(void **state)
{
	struct pr_tid tid;
	uint8_t buf[300];

	memset(&tid, 0, sizeof(tid));
	TID_EXPECT_EQ("empty name", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
	strcpy(tid.name, "iqn.a,b");
	TID_EXPECT_EQ("comma in name", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
	strcpy(tid.name, "iqn.a");
	tid.format = PR_TID_FORMAT_PORT;
	strcpy(tid.isid, "0123");
	TID_EXPECT_EQ("short ISID", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
	strcpy(tid.isid, "0123456789ax");
	TID_EXPECT_EQ("non-hex ISID", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
	tid.format = (enum pr_tid_format)2;
	strcpy(tid.isid, "0123456789ab");
	TID_EXPECT_EQ("format 10b", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
	memset(tid.name, 'a', sizeof(tid.name));
	tid.format = PR_TID_FORMAT_DEVICE;
	TID_EXPECT_EQ("unterminated name", pr_tid_encode(&tid, buf, sizeof(buf)),
		      -EINVAL);
}

/* encode of a short name: the canonical 24 bytes, byte for byte. */
static void test_tid_encode_bytes(void **state)
{
	static const uint8_t isid[6] = { 0x00, 0x02, 0x3d, 0x00, 0x00, 0x01 };
	static const uint8_t want_port[28] = {
		0x45, 0, 0, 24, 'i', 'q', 'n', '.', 'a', ',', 'i', ',', '0',
		'x', '0', '0', '0', '2', '3', 'd', '0', '0', '0', '0', '0', '1',
		0, 0 };
	static const uint8_t want_dev[24] = { 0x05, 0, 0, 20, 'i', 'q', 'n',
					      '.', 'a' };
	struct pr_tid tid;
	uint8_t buf[64];

	pr_tid_from_port(&tid, "iqn.a", isid);
	TID_EXPECT_STR("from_port isid", tid.isid, "00023d000001");
	TID_EXPECT_EQ("port", pr_tid_encode(&tid, buf, sizeof(buf)), 28);
	assert_memory_equal(buf, want_port, sizeof(want_port));
	tid.format = PR_TID_FORMAT_DEVICE;
	TID_EXPECT_EQ("device", pr_tid_encode(&tid, buf, 24), 24);
	assert_memory_equal(buf, want_dev, sizeof(want_dev));
}

/* from_port: ISID bytes as lower-case hex; a name cut at 223 bytes. */
static void test_tid_from_port(void **state)
{
	static const uint8_t isid[6] = { 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45 };
	char long_name[300];
	struct pr_tid tid;

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	pr_tid_from_port(&tid, long_name, isid);
	TID_EXPECT_EQ("format", tid.format, PR_TID_FORMAT_PORT);
	TID_EXPECT_STR("isid", tid.isid, "abcdef012345");
	TID_EXPECT_EQ("name cut", strlen(tid.name), PR_TID_NAME_MAX - 1);
}

/* One match rule: a (the registration's TID) against b (a port). */
struct tid_match_case {
	const char *label;
	enum pr_tid_format fa;
	const char *na, *ia;
	enum pr_tid_format fb;
	const char *nb, *ib;
	bool match, equal;
};

#define DEV PR_TID_FORMAT_DEVICE
#define PORT PR_TID_FORMAT_PORT

static const struct tid_match_case tid_match_cases[] = {
	{ "device matches a port of the name", DEV, "iqn.x", "", PORT, "iqn.x",
	  "000000000001", true, false },
	{ "device matches any ISID", DEV, "iqn.x", "", PORT, "iqn.x",
	  "ffffffffffff", true, false },
	{ "device matches the same device", DEV, "iqn.x", "", DEV, "iqn.x", "",
	  true, true },
	{ "device, names fold case", DEV, "IQN.X", "", PORT, "iqn.x",
	  "000000000001", true, false },
	{ "device, other name", DEV, "iqn.x", "", PORT, "iqn.y",
	  "000000000001", false, false },
	{ "device, prefix is not the name", DEV, "iqn.x", "", PORT, "iqn.xy",
	  "000000000001", false, false },
	{ "port matches the same port", PORT, "iqn.x", "000000000001", PORT,
	  "iqn.x", "000000000001", true, true },
	{ "port, names fold case", PORT, "iqn.X", "000000000001", PORT,
	  "IQN.x", "000000000001", true, true },
	{ "port, ISIDs fold case", PORT, "iqn.x", "00000000000A", PORT,
	  "iqn.x", "00000000000a", true, true },
	{ "port, other ISID", PORT, "iqn.x", "000000000001", PORT, "iqn.x",
	  "000000000002", false, false },
	{ "port, other name", PORT, "iqn.x", "000000000001", PORT, "iqn.y",
	  "000000000001", false, false },
	{ "port does not match a device", PORT, "iqn.x", "000000000001", DEV,
	  "iqn.x", "", false, false },
};

static void test_tid_match_table(void **state)
{
	for (size_t i = 0; i < TID_ARRAY_SIZE(tid_match_cases); i++) {
		const struct tid_match_case *c = &tid_match_cases[i];
		struct pr_tid a, b;

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		a.format = c->fa;
		strcpy(a.name, c->na);
		strcpy(a.isid, c->ia);
		b.format = c->fb;
		strcpy(b.name, c->nb);
		strcpy(b.isid, c->ib);
		TID_EXPECT_EQ(c->label, pr_tid_match(&a, &b), c->match);
		TID_EXPECT_EQ(c->label, pr_tid_equal(&a, &b), c->equal);
		TID_EXPECT_EQ(c->label, pr_tid_equal(&b, &a), c->equal);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tid_roundtrip),
		cmocka_unit_test(test_tid_accept_table),
		cmocka_unit_test(test_tid_reject_table),
		cmocka_unit_test(test_tid_encode_invalid),
		cmocka_unit_test(test_tid_encode_bytes),
		cmocka_unit_test(test_tid_from_port),
		cmocka_unit_test(test_tid_match_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
