/* Unit tests for src/exec/mask.c: secrets masked whole, split, overlapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec/mask.h"

static void out_cb(void *ud, const char *data, size_t len)
{
	strbuf_add(ud, data, len);
}

/* Feed in in pieces of the given sizes (0-terminated list; the rest at once). */
static void run(struct mask *m, const char *in, const size_t *cuts, struct strbuf *out)
{
	size_t off = 0, n = strlen(in);

	for (; cuts && *cuts && off < n; cuts++) {
		size_t c = *cuts < n - off ? *cuts : n - off;

		mask_feed(m, in + off, c, out_cb, out);
		off += c;
	}
	mask_feed(m, in + off, n - off, out_cb, out);
	mask_flush(m, out_cb, out);
}

static void expect(const char *const *secrets, const char *in, const size_t *cuts,
		   const char *want)
{
	struct strbuf out = STRBUF_INIT;
	struct mask m;

	mask_init(&m);
	for (; secrets && *secrets; secrets++)
		assert_int_equal(mask_add(&m, *secrets), 0);
	run(&m, in, cuts, &out);
	assert_string_equal(out.buf, want);
	strbuf_release(&out);
	mask_release(&m);
}

static void test_whole(void **state)
{
	static const char *const s[] = { "hunter2hunter2", NULL };

	expect(s, "pw=hunter2hunter2.\n", NULL, "pw=[MASKED].\n");
	expect(s, "hunter2hunter2hunter2hunter2", NULL, "[MASKED][MASKED]");
	expect(s, "hunter2hunter", NULL, "hunter2hunter");	/* a prefix is not the secret */
	expect(NULL, "nothing to mask", NULL, "nothing to mask");
}

static void test_split(void **state)
{
	static const char *const s[] = { "s3cr3t-value", NULL };
	static const size_t bytes[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	static const size_t halves[] = { 9, 0 };
	static const size_t edge[] = { 4, 6, 0 };

	expect(s, "a s3cr3t-value b", bytes, "a [MASKED] b");
	expect(s, "a s3cr3t-value b", halves, "a [MASKED] b");
	expect(s, "xxs3cr3t-valu", edge, "xxs3cr3t-valu");	/* held, then flushed as is */
	expect(s, "s3cr3t-values3cr3t-value", halves, "[MASKED][MASKED]");
}

static void test_overlap(void **state)
{
	static const char *const s[] = { "abcdefgh", "abcdefghij", "ghijklmn", NULL };
	static const size_t cut8[] = { 8, 0 };

	/* the longest at a position wins, even when it arrives later */
	expect(s, "abcdefghij", cut8, "[MASKED]");
	expect(s, "abcdefghXY", cut8, "[MASKED]XY");
	expect(s, "xxghijklmn", NULL, "xx[MASKED]");
	/* a false start does not hide a secret that begins inside it */
	expect(s, "abcghijklmn", NULL, "abc[MASKED]");
}

static void test_refused(void **state)
{
	struct mask m;

	mask_init(&m);
	assert_int_equal(mask_add(&m, ""), -1);
	assert_int_equal(mask_add(&m, "12345678"), 0);
	assert_int_equal(mask_add(&m, "12345678"), -1);
	assert_int_equal(mask_active(&m), 1);
	mask_release(&m);
}

/* It never holds back more than the longest secret minus one byte. */
static void test_bounded(void **state)
{
	struct strbuf out = STRBUF_INIT;
	struct mask m;
	size_t i;

	mask_init(&m);
	assert_int_equal(mask_add(&m, "aaaaaaaaab"), 0);
	for (i = 0; i < 1000; i++) {
		mask_feed(&m, "a", 1, out_cb, &out);
		assert_true(m.held.len <= 9);
	}
	assert_int_equal(out.len, 1000 - m.held.len);
	mask_feed(&m, "b", 1, out_cb, &out);
	mask_flush(&m, out_cb, &out);
	assert_int_equal(out.len, 991 + 8);
	assert_string_equal(out.buf + 991, "[MASKED]");
	strbuf_release(&out);
	mask_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
