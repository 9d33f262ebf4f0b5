/*
 * CRC32C (Castagnoli), as iSCSI header and data digests use it (RFC 7143
 * 11.1, RFC 3385). Uses the SSE4.2 crc32 instruction when the CPU has it,
 * a table otherwise; both give the same result.
 *
 * Byte order: the result is a host integer with the usual CRC32C value,
 * e.g. crc32c(0, "123456789", 9) == 0xe3069283. On the iSCSI wire the
 * digest goes LEAST significant byte first: 32 zero bytes give 0x8a9136aa,
 * which RFC 3720 B.4 lists as the bytes aa 36 91 8a. So the fabric stores
 * it with a little-endian store (e.g. htole32 + memcpy, or byte by byte),
 * not with the big-endian helpers used for BHS fields.
 */
#ifndef CTGT_BASE_CRC32C_H
#define CTGT_BASE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0 for a fresh digest. The value returned
 * is the finished digest of everything fed so far (pre/post inversion is
 * handled inside), so crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* Test hooks (unit tests only): the table path, always available, and
 * whether crc32c() uses the CPU instruction. Same arguments and result as
 * crc32c(). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
bool crc32c_hw_available(void);

#endif
