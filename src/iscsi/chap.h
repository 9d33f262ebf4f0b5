/*
 * CHAP for iSCSI login (RFC 1994, RFC 7143 12.1.3): the target side of one
 * exchange, one-way or mutual, with MD5, SHA-1, SHA-256 and SHA3-256
 * (the algorithm numbers the Linux target uses). Pure apart from drawing
 * random challenges; no PDUs, no login stages (login.c drives it).
 */
#ifndef CTGT_ISCSI_CHAP_H
#define CTGT_ISCSI_CHAP_H

#include <stddef.h>
#include <stdint.h>

#include "iscsi/iscsi.h"
#include "iscsi/param.h"

/* CHAP_A values (IANA PPP authentication algorithms). */
enum iscsi_chap_alg {
	ISCSI_CHAP_ALG_MD5 = 5,
	ISCSI_CHAP_ALG_SHA1 = 6,
	ISCSI_CHAP_ALG_SHA256 = 7,
	ISCSI_CHAP_ALG_SHA3_256 = 8,
};

#define ISCSI_CHAP_DIGEST_MAX 32      /* SHA-256, SHA3-256 */
#define ISCSI_CHAP_CHALLENGE_MAX 1024 /* longest challenge we accept */

/* Digest length of alg in bytes, 0 if unsupported. */
unsigned iscsi_chap_digest_len(int alg);

/* The first algorithm of a CHAP_A list ("7,5") that we support, or
 * -EINVAL if none. */
int iscsi_chap_alg_select(const char *list);

/* response = H(id || secret || challenge) (RFC 1994 4.1). out has room for
 * ISCSI_CHAP_DIGEST_MAX bytes; returns the digest length or -EINVAL. */
int iscsi_chap_compute(int alg, uint8_t id, const uint8_t *secret,
		       size_t secret_len, const uint8_t *challenge,
		       size_t challenge_len, uint8_t *out);

/* Binary values of CHAP_C/CHAP_R (RFC 7143 5.1): "0x"/"0X" hex or "0b"/"0B"
 * base64. Returns the decoded length or -EINVAL (bad encoding, empty, or
 * longer than cap). */
int iscsi_chap_decode(const char *s, uint8_t *out, size_t cap);

/* "0x" + lower-case hex; out must hold 2 * len + 3 bytes. */
void iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out);

/* One exchange, target side. */
struct iscsi_chap {
	int alg;                        /* 0 until CHAP_A is answered */
	uint8_t id;                     /* our CHAP_I */
	uint8_t challenge[ISCSI_CHAP_DIGEST_MAX];
	unsigned challenge_len;
};

/* Answers CHAP_A=<list>: picks the algorithm and appends CHAP_A, CHAP_I
 * and CHAP_C to out. Returns 0, -EINVAL (no common algorithm) or -EIO (no
 * random bytes). */
int iscsi_chap_start(struct iscsi_chap *c, const char *alg_list,
		     struct iscsi_kv_buf *out);

/* Checks the initiator's CHAP_N/CHAP_R against auth->incoming. With
 * CHAP_I and CHAP_C (both or neither; NULL when absent) the initiator asks
 * for mutual authentication: the target answers CHAP_N/CHAP_R from
 * auth->outgoing, refusing a challenge that reflects ours. Returns 0 when
 * authenticated, -EACCES otherwise (nothing appended then). */
int iscsi_chap_verify(struct iscsi_chap *c,
		      const struct iscsi_auth_config *auth, const char *name,
		      const char *response, const char *peer_id,
		      const char *peer_challenge, struct iscsi_kv_buf *out);

#endif
