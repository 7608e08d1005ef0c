/*
 * Unit tests for src/util/textring.c: texts of random lengths put in
 * turn, each read back whole while kept; gone only oldest first, and
 * only when the slots or the bytes ran out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/textring.h"

/* Text number n: its length and bytes follow from n alone. */
static size_t text_of(uint64_t n, size_t maxlen, char *buf)
{
	size_t len = (size_t)((n * 2654435761u) % maxlen), i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (n + i) % 26);
	return len;
}

static void check(size_t slots, size_t cap, size_t maxlen, uint64_t base)
{
	struct textring r;
	char want[4096];
	uint64_t n, k;

	textring_init(&r, slots, cap, base);
	assert_null(textring_get(&r, base, &(size_t){ 0 }));
	for (n = base; n < base + 5000; n++) {
		size_t len = text_of(n, maxlen, want), bytes = 0, got;
		const char *t;

		textring_put(&r, want, len);
		assert_int_equal(r.next, n + 1);
		/* the newest is always kept; at most `slots` are */
		assert_true(r.first <= n);
		assert_true(n + 1 - r.first <= slots);
		for (k = r.first; k <= n; k++) {
			size_t wl = text_of(k, maxlen, want);

			t = textring_get(&r, k, &got);
			assert_non_null(t);
			assert_int_equal(got, wl);
			assert_memory_equal(t, want, wl);
			bytes += wl;
		}
		assert_true(bytes <= cap);
		/*
		 * Dropped only for want of room: with one more (older) text the
		 * slots or the bytes would not have sufficed (the tail past the
		 * head and the wrap can waste up to one text's length).
		 */
		if (r.first > base) {
			size_t older = text_of(r.first - 1, maxlen, want);

			assert_true(n + 2 - r.first > slots || bytes + older + maxlen > cap);
		}
		assert_null(textring_get(&r, r.first - 1, &got));
		assert_null(textring_get(&r, n + 1, &got));
	}
	textring_release(&r);
}

static void test_bytes_bound(void **state)
{
	check(256, 4096, 700, 1000);    /* bytes run out first */
}

static void test_slots_bound(void **state)
{
	check(8, 1 << 16, 300, 0);      /* slots run out first */
}

static void test_both(void **state)
{
	check(16, 5000, 600, 77);
}

static void test_text_as_long_as_the_buffer(void **state)
{
	struct textring r;
	char a[64], b[64];
	size_t len;
	const char *t;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	textring_init(&r, 4, 64, 5);
	textring_put(&r, a, 10);
	textring_put(&r, b, 64);
	assert_null(textring_get(&r, 5, &len));
	t = textring_get(&r, 6, &len);
	assert_non_null(t);
	assert_int_equal(len, 64);
	assert_memory_equal(t, b, 64);
	textring_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_bound),
		cmocka_unit_test(test_slots_bound),
		cmocka_unit_test(test_both),
		cmocka_unit_test(test_text_as_long_as_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
