/*
 * CRC32C (Castagnoli), as iSCSI header and data digests use it (RFC 7143
 * 11.1, RFC 3385). Uses the SSE4.2 crc32 instruction when the CPU has it,
 * a table otherwise; both give the same result.
 */
#ifndef CTGT_BASE_CRC32C_H
#define CTGT_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0 for a fresh digest. The value returned
 * is the finished digest of everything fed so far (pre/post inversion is
 * handled inside), so crc32c(crc32c(0, a), b) == crc32c(0, a || b). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
