/* Unit tests for src/util/jsonx.c: strings from outside that are not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/jsonx.h"

static void expect_str(const char *in, const char *want)
{
	json_t *v = json_str_or_null(in);

	assert_non_null(v);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), want);
	json_decref(v);
}

static void test_str_or_null(void **state)
{
	json_t *v = json_str_or_null(NULL);

	assert_true(json_is_null(v));
	json_decref(v);
	expect_str("", "");
	expect_str("main", "main");
	expect_str("caf\xc3\xa9", "caf\xc3\xa9");
	/* each byte that is not UTF-8 is U+FFFD; the rest is kept */
	expect_str("a\xff" "b", "a\xef\xbf\xbd" "b");
	expect_str("\xc3", "\xef\xbf\xbd");
	expect_str("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");	/* overlong '/' */
	expect_str("\xed\xa0\x80!", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");	/* surrogate */
	expect_str("x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd");	/* cut */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_or_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
