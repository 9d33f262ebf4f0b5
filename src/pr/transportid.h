/*
 * TransportIDs for iSCSI initiator ports (SPC-4 7.6.4.6, protocol
 * identifier 5h): the codec and the matching rule. Pure; no allocation.
 *
 * Format 00b names an initiator device (every port of that name); format
 * 01b names one initiator port: "<name>,i,0x<ISID in 12 hex digits>".
 */
#ifndef CTGT_PR_TRANSPORTID_H
#define CTGT_PR_TRANSPORTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PR_TID_NAME_MAX 224   /* iSCSI name: 223 bytes + NUL */
#define PR_TID_PROTO_ISCSI 0x5

enum pr_tid_format {
	PR_TID_FORMAT_DEVICE = 0, /* name only */
	PR_TID_FORMAT_PORT = 1,   /* name + ISID */
};

struct pr_tid {
	enum pr_tid_format format;
	char name[PR_TID_NAME_MAX];   /* NUL-terminated, as received */
	char isid[13];                /* 12 lower-case hex digits (PORT only) */
};

/*
 * Decodes the TransportID at buf, with len bytes available. Returns its
 * length in bytes (a multiple of 4, at least 24) and fills *out; or
 * -EINVAL with *bad_byte set to the offset (from buf) of the field at
 * fault, for INVALID FIELD IN PARAMETER LIST field pointers: wrong
 * protocol identifier, unknown format, ADDITIONAL LENGTH not a multiple of
 * 4 or beyond len, a name not NUL-terminated within it, an empty or too
 * long name, a malformed ",i,0x" separator or ISID.
 * (Also refused: a name byte outside 0x21..0x7e or a comma, at 4; a
 * non-zero byte in the NUL padding, at that byte. Offsets point at the
 * first byte of the field: 0, 2, 4, the separator, the ISID. Bytes of buf
 * past the returned length are not looked at.)
 */
int pr_tid_decode(const uint8_t *buf, size_t len, struct pr_tid *out,
		  size_t *bad_byte);

/* Encodes tid into buf (cap bytes). Returns the length written (a
 * multiple of 4, NUL padding included) or -ENOSPC. Format PORT writes
 * "<name>,i,0x<isid>", DEVICE the name alone; at least 24 bytes. A tid
 * that decode would refuse (name empty, unterminated, longer than 223
 * bytes, or with a byte outside 0x21..0x7e or a comma; a PORT ISID not of
 * 12 hex digits; an unknown format) gives -EINVAL: encode never writes a
 * TransportID that decode refuses. */
int pr_tid_encode(const struct pr_tid *tid, uint8_t *buf, size_t cap);

/* The identity of one initiator port, from its name and 6-byte ISID
 * (12 lower-case hex digits). A name beyond 223 bytes is cut there. */
void pr_tid_from_port(struct pr_tid *tid, const char *name,
		      const uint8_t isid[6]);

/* Whether TransportID a names the same initiator port as b, both of
 * PORT format; or, when a is of DEVICE format, whether b's name is a's
 * (SPC-4 5.14.7: a format-00b TransportID covers every ISID). iSCSI
 * names compare case-insensitively (RFC 3722 folds case). */
bool pr_tid_match(const struct pr_tid *a, const struct pr_tid *b);

/* Exact identity (format, name, ISID), for lookups of registrations. */
bool pr_tid_equal(const struct pr_tid *a, const struct pr_tid *b);

#endif
