/*
 * CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * Two implementations with the same result: the SSE4.2 crc32 instruction,
 * eight bytes per step, used when the CPU reports SSE4.2 at start-up; and
 * slice-by-8 tables, built once at start-up, everywhere else. The choice
 * is made once, in a constructor, so the data path is one predictable
 * branch.
 *
 * Deliberately not here: the three-stream interleaved instruction variant
 * (faster on large buffers, but much longer code) and any digest framing:
 * where the digest goes in a PDU is the fabric's business (see crc32c.h
 * for the byte order).
 */
#include "base/crc32c.h"

#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc32c_table[8][256];
static bool crc32c_use_hw;

__attribute__((constructor)) static void crc32c_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY_REFLECTED : 0u);
		crc32c_table[0][i] = c;
	}
	for (i = 0; i < 256; i++) {
		c = crc32c_table[0][i];
		for (j = 1; j < 8; j++) {
			c = crc32c_table[0][c & 0xffu] ^ (c >> 8);
			crc32c_table[j][i] = c;
		}
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint64_t crc32c_load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Raw update: c is the running (inverted) register. */
static uint32_t crc32c_sw_update(uint32_t c, const unsigned char *p,
				 size_t len)
{
	while (len >= 8) {
		uint64_t v = crc32c_load_le64(p) ^ c;

		c = crc32c_table[7][v & 0xff] ^
		    crc32c_table[6][(v >> 8) & 0xff] ^
		    crc32c_table[5][(v >> 16) & 0xff] ^
		    crc32c_table[4][(v >> 24) & 0xff] ^
		    crc32c_table[3][(v >> 32) & 0xff] ^
		    crc32c_table[2][(v >> 40) & 0xff] ^
		    crc32c_table[1][(v >> 48) & 0xff] ^
		    crc32c_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32c_sw_update(~crc, buf, len);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw_update(uint32_t c, const unsigned char *p, size_t len)
{
	uint64_t c64 = c;

	while (len > 0 && ((uintptr_t)p & 7u)) {
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v)); /* aligned here; memcpy for C */
		c64 = __builtin_ia32_crc32di(c64, v);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

bool crc32c_hw_available(void)
{
	return crc32c_use_hw;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
#if defined(__x86_64__)
	if (crc32c_use_hw)
		return ~crc32c_hw_update(~crc, buf, len);
#endif
	return ~crc32c_sw_update(~crc, buf, len);
}
