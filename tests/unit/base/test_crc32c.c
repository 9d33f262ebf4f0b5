/*
 * CRC32C: the RFC 3720 B.4 vectors and the standard check value, on both
 * the table path and the path crc32c() picks (the SSE4.2 instruction on
 * this machine when available), plus chaining and unaligned buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn fn)
{
	unsigned char buf[32];
	int i;

	memset(buf, 0, sizeof(buf)); /* RFC 3720 B.4: 32 bytes of zeroes */
	assert_int_equal(fn(0, buf, sizeof(buf)), 0x8a9136aa);
	memset(buf, 0xff, sizeof(buf)); /* 32 bytes of ones */
	assert_int_equal(fn(0, buf, sizeof(buf)), 0x62a8ab43);
	for (i = 0; i < 32; i++) /* incrementing */
		buf[i] = (unsigned char)i;
	assert_int_equal(fn(0, buf, sizeof(buf)), 0x46dd794e);
	for (i = 0; i < 32; i++) /* decrementing */
		buf[i] = (unsigned char)(31 - i);
	assert_int_equal(fn(0, buf, sizeof(buf)), 0x113fdb5c);
	assert_int_equal(fn(0, "123456789", 9), 0xe3069283);
	assert_int_equal(fn(0, "", 0), 0);
}

static void test_crc32c_vectors_sw(void **state)
{
	check_vectors(crc32c_sw);
}

static void test_crc32c_vectors_default(void **state)
{
	if (!crc32c_hw_available())
		print_message("no SSE4.2: default path is the table path\n");
	check_vectors(crc32c);
}

/* Every split point gives the same digest as one pass. */
static void test_crc32c_chaining(void **state)
{
	const char *s = "The quick brown fox jumps over the lazy dog, twice.";
	size_t len = strlen(s), i;
	uint32_t whole = crc32c(0, s, len);

	for (i = 0; i <= len; i++) {
		assert_int_equal(crc32c(crc32c(0, s, i), s + i, len - i), whole);
		assert_int_equal(crc32c_sw(crc32c_sw(0, s, i), s + i, len - i),
				 whole);
	}
}

/* Both paths agree on random data at every alignment and length. */
static void test_crc32c_paths_agree(void **state)
{
	unsigned char *buf = malloc(4096 + 16);
	size_t off, len;

	assert_non_null(buf);
	srand(7);
	for (len = 0; len < 4096 + 16; len++)
		buf[len] = (unsigned char)rand();
	for (off = 0; off < 16; off++)
		for (len = 0; len < 300; len++)
			assert_int_equal(crc32c(0, buf + off, len),
					 crc32c_sw(0, buf + off, len));
	assert_int_equal(crc32c(0x12345678, buf + 3, 4096),
			 crc32c_sw(0x12345678, buf + 3, 4096));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors_sw),
		cmocka_unit_test(test_crc32c_vectors_default),
		cmocka_unit_test(test_crc32c_chaining),
		cmocka_unit_test(test_crc32c_paths_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
