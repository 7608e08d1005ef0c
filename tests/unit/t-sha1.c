/* Unit tests for src/util/sha1.c: FIPS 180-4 example vectors and git ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/sha1.h"

static void expect_hex(const char *data, size_t len, const char *want)
{
	unsigned char md[SHA1_LEN];
	char hex[SHA1_HEX_LEN + 1];
	struct sha1 c;
	size_t i;

	sha1_init(&c);
	sha1_update(&c, data, len);
	sha1_final(&c, md);
	sha1_to_hex(md, hex);
	assert_string_equal(hex, want);
	/* byte by byte: the same */
	sha1_init(&c);
	for (i = 0; i < len; i++)
		sha1_update(&c, data + i, 1);
	sha1_final(&c, md);
	sha1_to_hex(md, hex);
	assert_string_equal(hex, want);
}

static void test_vectors(void **state)
{
	expect_hex("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	expect_hex("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	/* 448 bits: the padding needs a second block */
	expect_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		   "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	expect_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		   "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
		   "a49b2446a02c645bf419f995b67091253a04a259");
	/* git's id of the empty blob and of "a\n" (git hash-object) */
	expect_hex("blob 0", 7, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	expect_hex("blob 2\0a\n", 9, "78981922613b2afb6025042ff6bd878ac1994e85");
}

static void test_million_a(void **state)
{
	unsigned char md[SHA1_LEN];
	char hex[SHA1_HEX_LEN + 1], buf[997];
	struct sha1 c;
	size_t left = 1000000;

	memset(buf, 'a', sizeof(buf));
	sha1_init(&c);
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		sha1_update(&c, buf, n);
		left -= n;
	}
	sha1_final(&c, md);
	sha1_to_hex(md, hex);
	assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* Lengths around the block boundaries, against coreutils' sha1sum. */
static void test_boundaries(void **state)
{
	static const size_t lens[] = { 55, 56, 57, 63, 64, 65, 119, 120, 128 };
	char data[200], cmd[512], want[64];
	size_t i, k;
	FILE *f;

	for (k = 0; k < sizeof(data); k++)
		data[k] = (char)('0' + k % 10);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(cmd, sizeof(cmd), "printf '%%s' '%.*s' | sha1sum", (int)lens[i], data);
		f = popen(cmd, "r");
		assert_non_null(f);
		assert_non_null(fgets(want, 41, f));
		pclose(f);
		expect_hex(data, lens[i], want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
