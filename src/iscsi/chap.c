/*
 * CHAP, target side (RFC 1994, RFC 7143 12.1.3).
 *
 * Its one job: pick an algorithm from the initiator's CHAP_A list, issue a
 * random challenge, check the initiator's response against the incoming
 * secret and, for mutual CHAP, answer the initiator's challenge with the
 * outgoing secret. Digests come from OpenSSL's EVP interface; compares
 * are constant time.
 *
 * It does not decide when CHAP runs, what a failure means for the login,
 * or where credentials come from: login.c does.
 */
#include "iscsi/chap.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/hex.h"
#include "base/list.h"

/* Supported algorithms, in no particular preference: the initiator's
 * list order decides (RFC 7143 12.1.3). */
struct iscsi_chap_alg_row {
	int alg;
	unsigned len;
	const EVP_MD *(*md)(void);
};

static const struct iscsi_chap_alg_row iscsi_chap_algs[] = {
	{ ISCSI_CHAP_ALG_MD5, 16, EVP_md5 },
	{ ISCSI_CHAP_ALG_SHA1, 20, EVP_sha1 },
	{ ISCSI_CHAP_ALG_SHA256, 32, EVP_sha256 },
	{ ISCSI_CHAP_ALG_SHA3_256, 32, EVP_sha3_256 },
};

static const struct iscsi_chap_alg_row *iscsi_chap_alg_find(int alg)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(iscsi_chap_algs); i++)
		if (iscsi_chap_algs[i].alg == alg)
			return &iscsi_chap_algs[i];
	return NULL;
}

unsigned iscsi_chap_digest_len(int alg)
{
	const struct iscsi_chap_alg_row *r = iscsi_chap_alg_find(alg);

	return r ? r->len : 0;
}

int iscsi_chap_alg_select(const char *list)
{
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int v = 0;
		size_t i;

		/* small decimal numbers only; anything else is skipped */
		for (i = 0; i < len && i < 4; i++) {
			if (p[i] < '0' || p[i] > '9')
				break;
			v = v * 10 + (p[i] - '0');
		}
		if (len > 0 && i == len && iscsi_chap_alg_find(v))
			return v;
		p = comma ? comma + 1 : NULL;
	}
	return -EINVAL;
}

int iscsi_chap_compute(int alg, uint8_t id, const uint8_t *secret,
		       size_t secret_len, const uint8_t *challenge,
		       size_t challenge_len, uint8_t *out)
{
	const struct iscsi_chap_alg_row *r = iscsi_chap_alg_find(alg);
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	int ok;

	if (!r)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	/* RFC 1994 4.1: H(Identifier || secret || Challenge) */
	ok = EVP_DigestInit_ex(ctx, r->md(), NULL) &&
	     EVP_DigestUpdate(ctx, &id, 1) &&
	     EVP_DigestUpdate(ctx, secret, secret_len) &&
	     EVP_DigestUpdate(ctx, challenge, challenge_len) &&
	     EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	if (!ok || n != r->len)
		return -EINVAL;
	return (int)n;
}

/* ------------------------------------------------------------------ */
/* binary encodings (RFC 7143 5.1) */

static int iscsi_chap_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int iscsi_chap_decode_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s), n = 0, i = 0;
	int hi, lo;

	if (len == 0)
		return -EINVAL;
	/* an odd number of digits has an implied leading zero */
	if (len % 2) {
		lo = base_hex_value(s[0]);
		if (lo < 0 || cap < 1)
			return -EINVAL;
		out[n++] = (uint8_t)lo;
		i = 1;
	}
	for (; i < len; i += 2) {
		hi = base_hex_value(s[i]);
		lo = base_hex_value(s[i + 1]);
		if (hi < 0 || lo < 0 || n >= cap)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}

static int iscsi_chap_decode_b64(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s), n = 0, i, pad = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len == 0 || (len + pad) % 4)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int v = iscsi_chap_b64val(s[i]);

		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -EINVAL;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)n;
}

int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap)
{
	if (!s || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return iscsi_chap_decode_hex(s + 2, out, cap);
	if (s[1] == 'b' || s[1] == 'B')
		return iscsi_chap_decode_b64(s + 2, out, cap);
	return -EINVAL;
}

void iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
}

/* ------------------------------------------------------------------ */
/* the exchange */

int iscsi_chap_start(struct iscsi_chap *c, const char *alg_list,
		     struct iscsi_kv_buf *out)
{
	char hex[2 * ISCSI_CHAP_DIGEST_MAX + 3];
	int alg = iscsi_chap_alg_select(alg_list);

	memset(c, 0, sizeof(*c));
	if (alg < 0)
		return -EINVAL;
	c->alg = alg;
	/* a challenge as long as the digest (as the Linux target does) */
	c->challenge_len = iscsi_chap_digest_len(alg);
	if (RAND_bytes(&c->id, 1) != 1 ||
	    RAND_bytes(c->challenge, (int)c->challenge_len) != 1) {
		c->alg = 0;
		return -EIO;
	}
	iscsi_chap_encode_hex(c->challenge, c->challenge_len, hex);
	iscsi_kv_addf(out, "CHAP_A", "%d", alg);
	iscsi_kv_addf(out, "CHAP_I", "%u", c->id);
	iscsi_kv_add(out, "CHAP_C", hex);
	return 0;
}

/* CHAP_I is a decimal (or 0x hex) number 0..255 (RFC 1994 4.1). */
static int iscsi_chap_parse_id(const char *s, uint8_t *id)
{
	uint64_t v;

	if (iscsi_param_parse_u64(s, &v) < 0 || v > 255)
		return -EINVAL;
	*id = (uint8_t)v;
	return 0;
}

int iscsi_chap_verify(struct iscsi_chap *c,
		      const struct iscsi_auth_config *auth, const char *name,
		      const char *response, const char *peer_id,
		      const char *peer_challenge, struct iscsi_kv_buf *out)
{
	uint8_t got[ISCSI_CHAP_DIGEST_MAX], want[ISCSI_CHAP_DIGEST_MAX];
	uint8_t pc[ISCSI_CHAP_CHALLENGE_MAX], pid;
	char hex[2 * ISCSI_CHAP_DIGEST_MAX + 3];
	int n, glen, pclen;
	const struct iscsi_chap_cred *in = &auth->incoming;
	const struct iscsi_chap_cred *og = &auth->outgoing;

	if (!c->alg || !name || !response || !in->user[0])
		return -EACCES;
	if (strcmp(name, in->user) != 0)
		return -EACCES;
	glen = iscsi_chap_decode(response, got, sizeof(got));
	n = iscsi_chap_compute(c->alg, c->id, (const uint8_t *)in->secret,
			       strlen(in->secret), c->challenge,
			       c->challenge_len, want);
	if (glen < 0 || n < 0 || glen != n ||
	    CRYPTO_memcmp(got, want, (size_t)n) != 0)
		return -EACCES;

	if (!peer_id && !peer_challenge)
		return 0;
	/* mutual CHAP: both keys, outgoing credentials configured */
	if (!peer_id || !peer_challenge || !og->user[0])
		return -EACCES;
	if (iscsi_chap_parse_id(peer_id, &pid) < 0)
		return -EACCES;
	pclen = iscsi_chap_decode(peer_challenge, pc, sizeof(pc));
	if (pclen <= 0)
		return -EACCES;
	/* RFC 7143 12.1.3: a challenge equal to ours is a reflection attack */
	if ((unsigned)pclen == c->challenge_len &&
	    CRYPTO_memcmp(pc, c->challenge, c->challenge_len) == 0)
		return -EACCES;
	/* the same secret both ways would let one side answer for the other */
	if (strcmp(og->secret, in->secret) == 0)
		return -EACCES;
	n = iscsi_chap_compute(c->alg, pid, (const uint8_t *)og->secret,
			       strlen(og->secret), pc, (size_t)pclen, want);
	if (n < 0)
		return -EACCES;
	iscsi_chap_encode_hex(want, (size_t)n, hex);
	iscsi_kv_add(out, "CHAP_N", og->user);
	iscsi_kv_add(out, "CHAP_R", hex);
	return 0;
}
