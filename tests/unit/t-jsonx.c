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
#include "util/strbuf.h"

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


static void expect_escape(const char *in, size_t n, int last, const char *want, size_t used)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "<");
	assert_int_equal(json_str_escape_clean(&sb, in, n, last), used);
	assert_string_equal(sb.buf + 1, want);
	strbuf_release(&sb);
}

static void test_escape_clean(void **state)
{
	expect_escape("", 0, 1, "", 0);
	expect_escape("plain text", 10, 1, "plain text", 10);
	expect_escape("q\"b\\n\nt\tr\rb\bf\f", 14, 1, "q\\\"b\\\\n\\nt\\tr\\rb\\bf\\f", 14);
	expect_escape("\x01\x1f\x7f", 3, 1, "\\u0001\\u001f\x7f", 3);
	expect_escape("nul\0x", 5, 1, "nul\\u0000x", 5);
	expect_escape("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, 1, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
	/* not UTF-8: U+FFFD for each byte */
	expect_escape("a\xff" "b", 3, 1, "a\xef\xbf\xbd" "b", 3);
	expect_escape("\xed\xa0\x80", 3, 1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
	/* a sequence cut by the end waits for its rest, unless it is the last */
	expect_escape("x\xe2\x82", 3, 0, "x", 1);
	expect_escape("x\xe2\x82", 3, 1, "x\xef\xbf\xbd\xef\xbf\xbd", 3);
	expect_escape("\xe2", 1, 0, "", 0);
}

/* What jansson reads from "s" (n bytes inside the quotes), or NULL. */
static json_t *jansson_str(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v;

	strbuf_addch(&sb, '"');
	strbuf_add(&sb, s, n);
	strbuf_addch(&sb, '"');
	v = json_loadb(sb.buf, sb.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	strbuf_release(&sb);
	return v;
}

static void test_unescape(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *in;

	in = "a\\\"b\\/\\u00e9\\uD83D\\uDE00\\u0000z\" tail";
	assert_int_equal(json_str_unescape(&sb, in, strlen(in)), strlen(in) - 5);
	assert_int_equal(sb.len, 12);
	assert_memory_equal(sb.buf, "a\"b/\xc3\xa9\xf0\x9f\x98\x80\0z", 12);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "kept");
	/* each of these is refused, out left as it was */
	assert_int_equal(json_str_unescape(&sb, "no end", 6), 0);
	assert_int_equal(json_str_unescape(&sb, "tab\there\"", 10), 0);
	assert_int_equal(json_str_unescape(&sb, "\\x\"", 4), 0);
	assert_int_equal(json_str_unescape(&sb, "\\u12\"", 6), 0);
	assert_int_equal(json_str_unescape(&sb, "\\ud800\"", 8), 0);
	assert_int_equal(json_str_unescape(&sb, "\\ud800\\u0041\"", 14), 0);
	assert_int_equal(json_str_unescape(&sb, "\\udc00\"", 8), 0);
	assert_int_equal(json_str_unescape(&sb, "\xc3\"", 2), 0);
	assert_int_equal(json_str_unescape(&sb, "\xc0\xaf\"", 3), 0);
	assert_int_equal(json_str_unescape(&sb, "\\", 1), 0);
	assert_string_equal(sb.buf, "kept");
	strbuf_release(&sb);
}

/* Random bytes, escaped, read back by jansson and by json_str_unescape alike. */
static void test_round_trip(void **state)
{
	unsigned seed = 12345;
	int round;

	for (round = 0; round < 2000; round++) {
		struct strbuf raw = STRBUF_INIT, esc = STRBUF_INIT, back = STRBUF_INIT;
		size_t n = (size_t)(round % 97), i;
		json_t *v;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly ASCII, some controls, some high bytes */
			strbuf_addch(&raw, (char)((seed >> 16) % 4 ? (seed >> 8) % 128 : (seed >> 8) % 256));
		}
		assert_int_equal(json_str_escape_clean(&esc, raw.buf ? raw.buf : "", raw.len, 1), raw.len);
		v = jansson_str(esc.buf ? esc.buf : "", esc.len);
		assert_non_null(v);
		strbuf_add(&esc, "\"", 1);
		assert_int_equal(json_str_unescape(&back, esc.buf, esc.len), esc.len);
		assert_int_equal(back.len, json_string_length(v));
		assert_memory_equal(back.buf ? back.buf : "", json_string_value(v), back.len);
		json_decref(v);
		strbuf_release(&raw);
		strbuf_release(&esc);
		strbuf_release(&back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_or_null),
		cmocka_unit_test(test_escape_clean),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
