/*
 * chap.c: digests against vectors computed outside ctgt (openssl dgst on
 * the byte string id || secret || challenge), the 0x/0b encodings, the
 * algorithm choice, and whole exchanges one-way and mutual.
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
#include <openssl/evp.h>

#include "iscsi/chap.h"

/* id 0x2a, secret "secret-12345", challenge 00 01 .. 0f. Expected values
 * from: (printf '\x2a'; printf 'secret-12345'; printf '\x00..\x0f') |
 * openssl dgst -<alg> */
struct chap_vector {
	int alg;
	const char *hex;
};

static const struct chap_vector chap_vectors[] = {
	{ ISCSI_CHAP_ALG_MD5, "cee3549fe9c5b090e90a26d6371af70a" },
	{ ISCSI_CHAP_ALG_SHA1, "9814bac354134b10155d22db38275edf58d51edb" },
	{ ISCSI_CHAP_ALG_SHA256,
	  "1647414c3cfa1b283568d354879bb761edc5019c96648e7dd51fe36ff82a9c57" },
	{ ISCSI_CHAP_ALG_SHA3_256,
	  "3f2d0ea19314a33729b14c86b5ea08ac82be456065e05f3f2c69def11e772a64" },
};

static void hex_of(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static void test_chap_vectors(void **state)
{
	static const char secret[] = "secret-12345";
	uint8_t chal[16], out[ISCSI_CHAP_DIGEST_MAX];
	char hex[2 * ISCSI_CHAP_DIGEST_MAX + 1];
	unsigned i;
	int n;

	for (i = 0; i < sizeof(chal); i++)
		chal[i] = (uint8_t)i;
	for (i = 0; i < sizeof(chap_vectors) / sizeof(chap_vectors[0]); i++) {
		const struct chap_vector *v = &chap_vectors[i];

		n = iscsi_chap_compute(v->alg, 0x2a, (const uint8_t *)secret,
				       strlen(secret), chal, sizeof(chal), out);
		assert_int_equal(n, strlen(v->hex) / 2);
		assert_int_equal(iscsi_chap_digest_len(v->alg), (unsigned)n);
		hex_of(out, (size_t)n, hex);
		assert_string_equal(hex, v->hex);
	}
	/* a second MD5 vector: id 0, secret "abc", challenge ff */
	n = iscsi_chap_compute(ISCSI_CHAP_ALG_MD5, 0, (const uint8_t *)"abc", 3,
			       (const uint8_t *)"\xff", 1, out);
	hex_of(out, (size_t)n, hex);
	assert_string_equal(hex, "9fd6d2a57559960e059c385892142915");
	assert_int_equal(iscsi_chap_compute(4, 0, (const uint8_t *)"a", 1,
					    chal, 1, out),
			 -EINVAL);
	assert_int_equal(iscsi_chap_digest_len(9), 0);
}

static void test_chap_alg_select(void **state)
{
	static const struct {
		const char *list;
		int alg;
	} cases[] = {
		{ "5", 5 },         { "7,5", 7 },    { "8,7,6,5", 8 },
		{ "1,2,6", 6 },     { "99,5", 5 },   { "0x5", -EINVAL },
		{ "", -EINVAL },    { "4", -EINVAL }, { "5x,6", 6 },
		{ "00005", -EINVAL }, /* more digits than any algorithm */
	};
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("CHAP_A=%s\n", cases[i].list);
		assert_int_equal(iscsi_chap_alg_select(cases[i].list),
				 cases[i].alg);
	}
}

static void test_chap_decode(void **state)
{
	uint8_t out[8];
	char enc[2 * 4 + 3];

	assert_int_equal(iscsi_chap_decode("0x0aFf", out, sizeof(out)), 2);
	assert_memory_equal(out, "\x0a\xff", 2);
	assert_int_equal(iscsi_chap_decode("0XABC", out, sizeof(out)), 2);
	assert_memory_equal(out, "\x0a\xbc", 2);
	/* base64 "AQID" = 01 02 03, "AQI=" = 01 02 */
	assert_int_equal(iscsi_chap_decode("0bAQID", out, sizeof(out)), 3);
	assert_memory_equal(out, "\x01\x02\x03", 3);
	assert_int_equal(iscsi_chap_decode("0BAQI=", out, sizeof(out)), 2);
	assert_memory_equal(out, "\x01\x02", 2);
	assert_int_equal(iscsi_chap_decode("0b/w==", out, sizeof(out)), 1);
	assert_int_equal(out[0], 0xff);
	/* malformed */
	assert_int_equal(iscsi_chap_decode("0x", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0xzz", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("abcd", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bAQ", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0bA!ID", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0x112233445566778899", out,
					   sizeof(out)),
			 -EINVAL); /* longer than cap */
	assert_int_equal(iscsi_chap_decode(NULL, out, sizeof(out)), -EINVAL);

	iscsi_chap_encode_hex((const uint8_t *)"\x00\x9a\xff\x10", 4, enc);
	assert_string_equal(enc, "0x009aff10");
}

/* ------------------------------------------------------------------ */
/* exchanges */

static const char *kv_get(const struct iscsi_kv_buf *b, const char *key)
{
	size_t kl = strlen(key);
	uint32_t pos = 0;

	while (pos < b->len) {
		const char *p = b->data + pos;

		if (strncmp(p, key, kl) == 0 && p[kl] == '=')
			return p + kl + 1;
		pos += (uint32_t)strlen(p) + 1;
	}
	return NULL;
}

/* Independent digest for the responder side of the test. */
static void digest_hex(int alg, uint8_t id, const char *secret,
		       const uint8_t *chal, size_t chal_len, char *out)
{
	const EVP_MD *md = alg == 5 ? EVP_md5() : alg == 6 ? EVP_sha1() :
			   alg == 7 ? EVP_sha256() : EVP_sha3_256();
	uint8_t *msg = malloc(1 + strlen(secret) + chal_len);
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	msg[0] = id;
	memcpy(msg + 1, secret, strlen(secret));
	memcpy(msg + 1 + strlen(secret), chal, chal_len);
	assert_int_equal(EVP_Digest(msg, 1 + strlen(secret) + chal_len, d, &n,
				    md, NULL),
			 1);
	free(msg);
	out[0] = '0';
	out[1] = 'x';
	hex_of(d, n, out + 2);
}

static void unhex(const char *s, uint8_t *out, size_t *n)
{
	size_t i;

	assert_true(s[0] == '0' && s[1] == 'x');
	s += 2;
	*n = strlen(s) / 2;
	for (i = 0; i < *n; i++) {
		unsigned v;

		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static struct iscsi_auth_config auth_cfg(void)
{
	struct iscsi_auth_config a;

	memset(&a, 0, sizeof(a));
	a.chap_required = true;
	strcpy(a.incoming.user, "alice");
	strcpy(a.incoming.secret, "alice-secret-1");
	strcpy(a.outgoing.user, "tgt");
	strcpy(a.outgoing.secret, "target-secret-2");
	return a;
}

/* Our challenge as the initiator sees it: CHAP_I and CHAP_C. */
static void read_challenge(const struct iscsi_kv_buf *b, uint8_t *id,
			   uint8_t *chal, size_t *chal_len)
{
	const char *i = kv_get(b, "CHAP_I"), *c = kv_get(b, "CHAP_C");

	assert_non_null(i);
	assert_non_null(c);
	*id = (uint8_t)atoi(i);
	unhex(c, chal, chal_len);
}

static void test_chap_one_way(void **state)
{
	static const int algs[] = { 5, 6, 7, 8 };
	struct iscsi_auth_config a = auth_cfg();
	unsigned i;

	for (i = 0; i < 4; i++) {
		struct iscsi_chap c;
		struct iscsi_kv_buf b = { 0 }, b2 = { 0 };
		uint8_t id, chal[64];
		size_t chal_len;
		char list[16], r[80];

		snprintf(list, sizeof(list), "%d", algs[i]);
		assert_int_equal(iscsi_chap_start(&c, list, &b), 0);
		assert_int_equal(atoi(kv_get(&b, "CHAP_A")), algs[i]);
		read_challenge(&b, &id, chal, &chal_len);
		/* a challenge as long as the digest */
		assert_int_equal(chal_len, iscsi_chap_digest_len(algs[i]));
		assert_int_equal(id, c.id);

		digest_hex(algs[i], id, "alice-secret-1", chal, chal_len, r);
		assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, NULL,
						   NULL, &b2),
				 0);
		assert_int_equal(b2.len, 0); /* one-way: nothing to say */

		/* wrong secret, wrong name, truncated response */
		digest_hex(algs[i], id, "wrong", chal, chal_len, r);
		assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, NULL,
						   NULL, &b2),
				 -EACCES);
		digest_hex(algs[i], id, "alice-secret-1", chal, chal_len, r);
		assert_int_equal(iscsi_chap_verify(&c, &a, "bob", r, NULL, NULL,
						   &b2),
				 -EACCES);
		r[strlen(r) - 2] = '\0';
		assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, NULL,
						   NULL, &b2),
				 -EACCES);
		/* wrong id */
		digest_hex(algs[i], (uint8_t)(id + 1), "alice-secret-1", chal,
			   chal_len, r);
		assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, NULL,
						   NULL, &b2),
				 -EACCES);
		free(b.data);
		free(b2.data);
	}
}

static void test_chap_start_no_common_alg(void **state)
{
	struct iscsi_chap c;
	struct iscsi_kv_buf b = { 0 };

	assert_int_equal(iscsi_chap_start(&c, "3,4", &b), -EINVAL);
	assert_int_equal(b.len, 0);
	/* verify without a started exchange fails */
	struct iscsi_auth_config a = auth_cfg();
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", "0x00", NULL, NULL,
					   &b),
			 -EACCES);
}

static void test_chap_mutual(void **state)
{
	struct iscsi_auth_config a = auth_cfg();
	struct iscsi_chap c;
	struct iscsi_kv_buf b = { 0 }, b2 = { 0 };
	uint8_t id, chal[64], ichal[32];
	size_t chal_len, n;
	char r[80], ichal_hex[2 * 32 + 3], want[80];
	unsigned i;

	assert_int_equal(iscsi_chap_start(&c, "7", &b), 0);
	read_challenge(&b, &id, chal, &chal_len);
	digest_hex(7, id, "alice-secret-1", chal, chal_len, r);
	for (i = 0; i < sizeof(ichal); i++)
		ichal[i] = (uint8_t)(0xa0 + i);
	iscsi_chap_encode_hex(ichal, sizeof(ichal), ichal_hex);

	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "77", ichal_hex,
					   &b2),
			 0);
	assert_string_equal(kv_get(&b2, "CHAP_N"), "tgt");
	digest_hex(7, 77, "target-secret-2", ichal, sizeof(ichal), want);
	assert_string_equal(kv_get(&b2, "CHAP_R"), want);
	free(b2.data);

	/* reflection: the initiator hands our own challenge back */
	memset(&b2, 0, sizeof(b2));
	{
		char ours[2 * 64 + 3];

		iscsi_chap_encode_hex(chal, chal_len, ours);
		assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "77",
						   ours, &b2),
				 -EACCES);
		assert_int_equal(b2.len, 0);
	}
	/* only one of CHAP_I / CHAP_C */
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "77", NULL, &b2),
			 -EACCES);
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, NULL, ichal_hex,
					   &b2),
			 -EACCES);
	/* bad CHAP_I */
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "256", ichal_hex,
					   &b2),
			 -EACCES);
	/* no outgoing credentials configured */
	a.outgoing.user[0] = '\0';
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "77", ichal_hex,
					   &b2),
			 -EACCES);
	/* the same secret both ways is refused */
	a = auth_cfg();
	strcpy(a.outgoing.secret, a.incoming.secret);
	assert_int_equal(iscsi_chap_verify(&c, &a, "alice", r, "77", ichal_hex,
					   &b2),
			 -EACCES);
	assert_int_equal(b2.len, 0);
	(void)n;
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chap_vectors),
		cmocka_unit_test(test_chap_alg_select),
		cmocka_unit_test(test_chap_decode),
		cmocka_unit_test(test_chap_one_way),
		cmocka_unit_test(test_chap_start_no_common_alg),
		cmocka_unit_test(test_chap_mutual),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
