/* Unit tests for src/util/crc32.c: known values, and zlib's crc32() on random data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "util/crc32.h"

static void test_known_values(void **state)
{
	assert_int_equal(crc32_update(0, "", 0), 0);
	/* the check value of CRC-32/ISO-HDLC */
	assert_int_equal(crc32_update(0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(crc32_update(0, "The quick brown fox jumps over the lazy dog", 43),
			 0x414FA339u);
	/* in pieces: the same */
	assert_int_equal(crc32_update(crc32_update(0, "12345", 5), "6789", 4), 0xCBF43926u);
}

/* Every length up to 300 and every start offset (alignment) against zlib. */
static void test_against_zlib(void **state)
{
	unsigned char buf[320];
	size_t len, off, i;
	uint32_t seed = 12345;

	for (i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
	for (off = 0; off < 8; off++)
		for (len = 0; len + off <= 300; len++)
			assert_int_equal(crc32_update(0, buf + off, len),
					 (uint32_t)crc32(0, buf + off, (uInt)len));
}

/* A megabyte fed in uneven pieces, continuing from zlib's value. */
static void test_pieces(void **state)
{
	size_t n = 1 << 20, pos = 0, step = 1;
	unsigned char *big = malloc(n);
	uint32_t mine = 0;

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (unsigned char)(i * 7 + (i >> 9));
	while (pos < n) {
		size_t k = step < n - pos ? step : n - pos;

		mine = crc32_update(mine, big + pos, k);
		pos += k;
		step = step * 3 % 4099 + 1;
	}
	assert_int_equal(mine, (uint32_t)crc32(0, big, (uInt)n));
	free(big);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_against_zlib),
		cmocka_unit_test(test_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
