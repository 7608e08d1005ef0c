/* Unit tests for src/util/sha256.c: FIPS 180-4 / NIST example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "util/sha256.h"

static void expect_hex(const char *data, size_t len, const char *want)
{
	char hex[SHA256_HEX_LEN + 1];

	sha256_hex(data, len, hex);
	assert_string_equal(hex, want);
}

/* The examples of FIPS 180-4's companion document and NIST's CAVP. */
static void test_nist_vectors(void **state)
{
	expect_hex("", 0,
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_hex("abc", 3,
		   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 448 bits: the padding needs a second block */
	expect_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
		   "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	expect_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		   "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
		   "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces. */
static void test_million_a(void **state)
{
	unsigned char md[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], buf[997];
	struct sha256 c;
	size_t left = 1000000;

	memset(buf, 'a', sizeof(buf));
	sha256_init(&c);
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		sha256_update(&c, buf, n);
		left -= n;
	}
	sha256_final(&c, md);
	sha256_to_hex(md, hex);
	assert_string_equal(hex,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/*
 * Lengths around the block and padding boundaries ("0123456789012..."),
 * checked against coreutils' sha256sum; each also hashed byte by byte.
 */
static void test_boundaries(void **state)
{
	static const struct { size_t len; const char *hex; } v[] = {
		{ 55, "f34d5a0f80c0cbf84c8c0b90218c22637abd199965249da736a20143c8c9c9d9" },
		{ 56, "83aa034bda83e458a0dc9cbce0d4e354716aa0ff770ed37ac0ed2b292052e4af" },
		{ 63, "074f6e9ac301d5d1b6df6f1dfb8c6f89c187ea945d352ce6a29279a9c630680b" },
		{ 64, "9674d9e078535b7cec43284387a6ee39956188e735a85452b0050b55341cda56" },
		{ 65, "52774b57c10e45040a61c14d35c1c8ebefe880082313aa0a21ebb077734cd067" },
		{ 119, "d0cb70d05ff14123f114c0cca360c62077379cf1ac90e1bfafa9e9e4d827596a" },
		{ 120, "08642f0525963875af954100280fe3009293fa7e19c273444f31464c9b089243" },
	};
	char data[128], hex[SHA256_HEX_LEN + 1];
	unsigned char md[SHA256_LEN];
	size_t i, j;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)('0' + i % 10);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sha256 c;

		expect_hex(data, v[i].len, v[i].hex);
		sha256_init(&c);
		for (j = 0; j < v[i].len; j++)
			sha256_update(&c, data + j, 1);
		sha256_final(&c, md);
		sha256_to_hex(md, hex);
		assert_string_equal(hex, v[i].hex);
	}
}

/*
 * Random messages of every length up to 1100 bytes, fed in random
 * pieces, against libsodium's SHA-256: whichever compression this CPU
 * takes (the SHA extensions, or the portable loop when
 * CIDRE_SHA256_PORTABLE is set, as the second run below does).
 */
static void test_against_libsodium(void **state)
{
	unsigned char msg[1100], want[SHA256_LEN], got[SHA256_LEN];
	unsigned seed = 7;
	size_t n, i, off;

	memset(msg, 0, sizeof(msg));
	for (n = 0; n <= sizeof(msg); n++) {
		struct sha256 c;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			msg[i] = (unsigned char)(seed >> 16);
		}
		crypto_hash_sha256(want, msg, n);
		sha256_init(&c);
		for (off = 0; off < n;) {
			size_t k;

			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 200;
			if (k > n - off)
				k = n - off;
			sha256_update(&c, msg + off, k);
			off += k;
		}
		sha256_final(&c, got);
		assert_memory_equal(got, want, SHA256_LEN);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nist_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_against_libsodium),
	};
	int rc;

	/* the same tests again with the portable compression (a fresh process) */
	if (argc == 1 && !getenv("CIDRE_SHA256_PORTABLE")) {
		char *cmd = NULL;
		size_t len = strlen(argv[0]) + 64;

		cmd = malloc(len);
		assert_non_null(cmd);
		snprintf(cmd, len, "CIDRE_SHA256_PORTABLE=1 '%s' portable >/dev/null 2>&1", argv[0]);
		rc = system(cmd);
		free(cmd);
		if (rc != 0) {
			fprintf(stderr, "t-sha256: the portable compression failed these tests "
				"(run it with CIDRE_SHA256_PORTABLE=1)\n");
			return 1;
		}
	}

	return cmocka_run_group_tests(tests, NULL, NULL);
}
