/* Unit tests for src/util/hmac.c: RFC 4231 vectors, constant-time compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/hmac.h"

static void expect_mac(const void *key, size_t keylen, const void *data,
		       size_t len, const char *want)
{
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	hmac_sha256(key, keylen, data, len, mac);
	sha256_to_hex(mac, hex);
	/* test case 5 gives only the first 128 bits */
	assert_memory_equal(hex, want, strlen(want));
}

static void test_rfc4231(void **state)
{
	unsigned char k[131], d[152];
	size_t i;

	memset(k, 0x0b, 20);
	expect_mac(k, 20, "Hi There", 8,
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	expect_mac("Jefe", 4, "what do ya want for nothing?", 28,
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(k, 0xaa, 20);
	memset(d, 0xdd, 50);
	expect_mac(k, 20, d, 50,
		   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	for (i = 0; i < 25; i++)
		k[i] = (unsigned char)(i + 1);
	memset(d, 0xcd, 50);
	expect_mac(k, 25, d, 50,
		   "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	memset(k, 0x0c, 20);
	expect_mac(k, 20, "Test With Truncation", 20,
		   "a3b6167473100ee06e0c796c2955552b");
	/* keys longer than a block are hashed first */
	memset(k, 0xaa, 131);
	expect_mac(k, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	expect_mac(k, 131, "This is a test using a larger than block-size key and a "
		   "larger than block-size data. The key needs to be hashed before "
		   "being used by the HMAC algorithm.", 152,
		   "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* A 64-byte key is used as is; 65 bytes is hashed (python3 hmac). */
static void test_block_boundary(void **state)
{
	unsigned char k[65];

	memset(k, 'k', sizeof(k));
	expect_mac(k, 64, "", 0,
		   "83026a325aaee70e36cfe607536aa1054104ad1077c36134810d4ccded1ccd3b");
	expect_mac(k, 65, "", 0,
		   "41f1c4cc3107cd5b8d92460f61032902bfdb06484eef17e861b83a5012d3b7f3");
	expect_mac("", 0, "", 0,
		   "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_ct_compare(void **state)
{
	assert_int_equal(ct_memeq("abc", "abc", 3), 1);
	assert_int_equal(ct_memeq("abc", "abd", 3), 0);
	assert_int_equal(ct_memeq("xbc", "abc", 3), 0);
	assert_int_equal(ct_memeq("", "", 0), 1);
	assert_int_equal(ct_streq("secret", "secret"), 1);
	assert_int_equal(ct_streq("secret", "secreT"), 0);
	assert_int_equal(ct_streq("secret", "secret2"), 0);
	assert_int_equal(ct_streq("secret2", "secret"), 0);
	assert_int_equal(ct_streq("", ""), 1);
	assert_int_equal(ct_streq("", "a"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_block_boundary),
		cmocka_unit_test(test_ct_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
