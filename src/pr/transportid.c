/*
 * iSCSI TransportIDs (SPC-4 7.6.4.6, see transportid.h): decode with strict
 * validation and a field offset for every refusal, encode in the canonical
 * form, and the matching rule registrations are looked up by. Pure: no
 * allocation, no I/O, no locale (case folding is ASCII by hand).
 *
 * It deliberately does not know other protocols' TransportIDs (FC, SAS,
 * SRP...: refused at offset 0), does not turn a refusal into sense data
 * (the caller builds INVALID FIELD IN PARAMETER LIST from bad_byte), and
 * does not check an iSCSI name's iqn./eui./naa. grammar (RFC 3720 3.2.6.3):
 * a registration is keyed by whatever name the initiator logged in with.
 *
 * Choices written down here:
 * - Field pointers point at the first byte of the field at fault (byte 0,
 *   ADDITIONAL LENGTH at 2, ISCSI NAME at 4, the SEPARATOR, the ISID), except
 *   for padding, where they point at the first non-zero pad byte.
 * - Reserved bits (byte 0 bits 5-4, byte 1) are not checked (SPC-4's
 *   "reserved" keyword: recipients are not required to check them);
 *   encode writes them zero.
 * - Names are printable ASCII without space or comma (0x21..0x7e, not ','):
 *   RFC 3722 names contain neither, and the comma starts the ",i,0x"
 *   separator of format 01b, so refusing it in both formats keeps decode
 *   and encode exact inverses.
 * - The separator is matched case-insensitively (",I,0X" is taken), ISID hex
 *   digits in either case; the ISID is stored lower case, and encode writes
 *   the canonical ",i,0x" and lower-case digits.
 * - Padding after the NUL "shall" be NUL (SPC-4 4.4.2, null-padded fields):
 *   a non-zero pad byte is refused, not ignored.
 */
#include "pr/transportid.h"

#include <errno.h>
#include <string.h>

#include "base/hex.h"

/* SPC-4 7.6.4.6: the iSCSI TransportID layout, both formats */
enum {
	PR_TID_HDR_LEN = 4,          /* byte 0, reserved byte 1, ADDITIONAL LENGTH */
	PR_TID_MIN_ADDL = 20,        /* ADDITIONAL LENGTH "shall be at least 20" */
	PR_TID_OFF_PROTO = 0,
	PR_TID_OFF_ADDL = 2,
	PR_TID_OFF_NAME = 4,
	PR_TID_ISID_DIGITS = 12,     /* 6-byte ISID (RFC 7143 11.12.5) in hex */
};

#define PR_TID_SEP ",i,0x"
#define PR_TID_SEP_LEN (sizeof(PR_TID_SEP) - 1)

/* An ASCII letter folded to lower case; anything else unchanged. */
static int pr_tid_char_fold(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Whether c may appear in an iSCSI name (see the choices above). */
static bool pr_tid_char_is_name(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ',';
}

/* Whether the n bytes at s form an acceptable iSCSI name. */
static bool pr_tid_name_is_valid(const char *s, size_t n)
{
	if (n == 0 || n > PR_TID_NAME_MAX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!pr_tid_char_is_name((unsigned char)s[i]))
			return false;
	return true;
}

/* Names compare case-insensitively in ASCII (RFC 3722 folds case). */
static bool pr_tid_name_equal(const char *a, const char *b)
{
	for (size_t i = 0; i < PR_TID_NAME_MAX; i++) {
		if (pr_tid_char_fold((unsigned char)a[i]) !=
		    pr_tid_char_fold((unsigned char)b[i]))
			return false;
		if (a[i] == '\0')
			return true;
	}
	return true;
}

/* ISIDs are stored lower case; fold anyway for hand-built tids. */
static bool pr_tid_isid_equal(const char *a, const char *b)
{
	for (size_t i = 0; i < PR_TID_ISID_DIGITS; i++) {
		if (pr_tid_char_fold((unsigned char)a[i]) !=
		    pr_tid_char_fold((unsigned char)b[i]))
			return false;
		if (a[i] == '\0')
			break;
	}
	return true;
}

/* Whether s holds exactly 12 hex digits then a NUL. */
static bool pr_tid_isid_is_valid(const char *s)
{
	for (size_t i = 0; i < PR_TID_ISID_DIGITS; i++)
		if (base_hex_value((unsigned char)s[i]) < 0)
			return false;
	return s[PR_TID_ISID_DIGITS] == '\0';
}

/*
 * Splits "<name>,i,0x<isid>" (s, n bytes, no NUL inside) into out. Returns
 * 0, or -EINVAL with *bad_byte relative to s.
 */
static int pr_tid_port_decode(const char *s, size_t n, struct pr_tid *out,
			      size_t *bad_byte)
{
	const char *comma = memchr(s, ',', n);
	size_t name_len = comma ? (size_t)(comma - s) : n;
	size_t sep = name_len, isid = name_len + PR_TID_SEP_LEN;

	if (!pr_tid_name_is_valid(s, name_len)) {
		*bad_byte = 0;
		return -EINVAL;
	}
	/* SPC-4 7.6.4.6, format 01b: SEPARATOR, the five characters ",i,0x" */
	if (n - sep < PR_TID_SEP_LEN) {
		*bad_byte = sep;
		return -EINVAL;
	}
	for (size_t i = 0; i < PR_TID_SEP_LEN; i++) {
		if (pr_tid_char_fold((unsigned char)s[sep + i]) != PR_TID_SEP[i]) {
			*bad_byte = sep;
			return -EINVAL;
		}
	}
	/* ISCSI INITIATOR SESSION ID: the ISID as exactly 12 hex digits */
	if (n - isid != PR_TID_ISID_DIGITS) {
		*bad_byte = isid;
		return -EINVAL;
	}
	for (size_t i = 0; i < PR_TID_ISID_DIGITS; i++) {
		int c = (unsigned char)s[isid + i];

		if (base_hex_value(c) < 0) {
			*bad_byte = isid;
			return -EINVAL;
		}
		out->isid[i] = (char)pr_tid_char_fold(c);
	}
	out->isid[PR_TID_ISID_DIGITS] = '\0';
	memcpy(out->name, s, name_len);
	out->name[name_len] = '\0';
	return 0;
}

int pr_tid_decode(const uint8_t *buf, size_t len, struct pr_tid *out,
		  size_t *bad_byte)
{
	size_t addl, total, n, name_field;
	const uint8_t *nul;
	unsigned format;

	memset(out, 0, sizeof(*out));
	*bad_byte = PR_TID_OFF_PROTO;
	if (len < 1)
		return -EINVAL;
	/* SPC-4 7.6.4.6: byte 0 bits 7-6 FORMAT CODE, 3-0 PROTOCOL IDENTIFIER */
	if ((buf[0] & 0x0f) != PR_TID_PROTO_ISCSI)
		return -EINVAL;
	format = buf[0] >> 6;
	if (format != PR_TID_FORMAT_DEVICE && format != PR_TID_FORMAT_PORT)
		return -EINVAL;

	*bad_byte = PR_TID_OFF_ADDL;
	if (len < PR_TID_HDR_LEN)
		return -EINVAL;
	addl = (size_t)buf[2] << 8 | buf[3];
	total = PR_TID_HDR_LEN + addl;
	if (addl % 4 != 0 || addl < PR_TID_MIN_ADDL || total > len)
		return -EINVAL;

	/* The field is null-terminated, null-padded (SPC-4 4.4.2). */
	name_field = total - PR_TID_HDR_LEN;
	nul = memchr(buf + PR_TID_OFF_NAME, '\0', name_field);
	if (!nul) {
		*bad_byte = PR_TID_OFF_NAME;
		return -EINVAL;
	}
	n = (size_t)(nul - (buf + PR_TID_OFF_NAME));

	if (format == PR_TID_FORMAT_DEVICE) {
		if (!pr_tid_name_is_valid((const char *)buf + PR_TID_OFF_NAME, n)) {
			*bad_byte = PR_TID_OFF_NAME;
			return -EINVAL;
		}
		memcpy(out->name, buf + PR_TID_OFF_NAME, n);
		out->name[n] = '\0';
	} else {
		size_t rel;

		if (pr_tid_port_decode((const char *)buf + PR_TID_OFF_NAME, n,
				       out, &rel) != 0) {
			memset(out, 0, sizeof(*out));
			*bad_byte = PR_TID_OFF_NAME + rel;
			return -EINVAL;
		}
	}

	for (size_t i = PR_TID_OFF_NAME + n + 1; i < total; i++) {
		if (buf[i] != 0) {
			memset(out, 0, sizeof(*out));
			*bad_byte = i;
			return -EINVAL;
		}
	}
	out->format = (enum pr_tid_format)format;
	*bad_byte = 0;
	return (int)total;
}

int pr_tid_encode(const struct pr_tid *tid, uint8_t *buf, size_t cap)
{
	size_t n = strnlen(tid->name, PR_TID_NAME_MAX);
	size_t str_len = n, total;
	bool port = tid->format == PR_TID_FORMAT_PORT;

	if (tid->format != PR_TID_FORMAT_DEVICE && !port)
		return -EINVAL;
	if (!pr_tid_name_is_valid(tid->name, n))
		return -EINVAL;
	if (port) {
		if (!pr_tid_isid_is_valid(tid->isid))
			return -EINVAL;
		str_len += PR_TID_SEP_LEN + PR_TID_ISID_DIGITS;
	}
	/* at least one NUL, rounded up to 4; ADDITIONAL LENGTH >= 20 */
	total = PR_TID_HDR_LEN + ((str_len + 1 + 3) & ~(size_t)3);
	if (total < PR_TID_HDR_LEN + PR_TID_MIN_ADDL)
		total = PR_TID_HDR_LEN + PR_TID_MIN_ADDL;
	if (cap < total)
		return -ENOSPC;

	memset(buf, 0, total);
	buf[0] = (uint8_t)((unsigned)tid->format << 6 | PR_TID_PROTO_ISCSI);
	buf[2] = (uint8_t)((total - PR_TID_HDR_LEN) >> 8);
	buf[3] = (uint8_t)(total - PR_TID_HDR_LEN);
	memcpy(buf + PR_TID_OFF_NAME, tid->name, n);
	if (port) {
		uint8_t *p = buf + PR_TID_OFF_NAME + n;

		memcpy(p, PR_TID_SEP, PR_TID_SEP_LEN);
		p += PR_TID_SEP_LEN;
		for (size_t i = 0; i < PR_TID_ISID_DIGITS; i++)
			p[i] = (uint8_t)pr_tid_char_fold((unsigned char)tid->isid[i]);
	}
	return (int)total;
}

void pr_tid_from_port(struct pr_tid *tid, const char *name,
		      const uint8_t isid[6])
{
	static const char digits[] = "0123456789abcdef";
	size_t n = strnlen(name, PR_TID_NAME_MAX - 1);

	memset(tid, 0, sizeof(*tid));
	tid->format = PR_TID_FORMAT_PORT;
	memcpy(tid->name, name, n);
	for (size_t i = 0; i < 6; i++) {
		tid->isid[2 * i] = digits[isid[i] >> 4];
		tid->isid[2 * i + 1] = digits[isid[i] & 0x0f];
	}
}

bool pr_tid_match(const struct pr_tid *a, const struct pr_tid *b)
{
	/* SPC-4 5.14.7: format 00b covers every ISID of the name */
	if (a->format == PR_TID_FORMAT_DEVICE)
		return pr_tid_name_equal(a->name, b->name);
	return b->format == PR_TID_FORMAT_PORT &&
	       pr_tid_name_equal(a->name, b->name) &&
	       pr_tid_isid_equal(a->isid, b->isid);
}

bool pr_tid_equal(const struct pr_tid *a, const struct pr_tid *b)
{
	if (a->format != b->format || !pr_tid_name_equal(a->name, b->name))
		return false;
	return a->format != PR_TID_FORMAT_PORT ||
	       pr_tid_isid_equal(a->isid, b->isid);
}
