/* Unit tests for src/util/utctime.c: the same date and time as gmtime_r. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/utctime.h"

static void expect_libc(time_t t)
{
	char want[64], got[UTCTIME_ISO8601_LEN];
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	/* strftime's %Y does not pad years before 1000: the fields, then */
	snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	utctime_iso8601(t, got);
	assert_string_equal(got, want);
}

static void test_known(void **state)
{
	char got[UTCTIME_ISO8601_LEN];

	utctime_iso8601(0, got);
	assert_string_equal(got, "1970-01-01T00:00:00Z");
	utctime_iso8601(1795831384, got);
	assert_string_equal(got, "2026-11-28T02:03:04Z");
	utctime_iso8601(951782400, got);	/* a leap day of a year divisible by 400 */
	assert_string_equal(got, "2000-02-29T00:00:00Z");
	utctime_iso8601(-1, got);
	assert_string_equal(got, "1969-12-31T23:59:59Z");
	utctime_iso8601(4107542400, got);	/* 2100 is not a leap year */
	assert_string_equal(got, "2100-03-01T00:00:00Z");
	/* clamped to the four-digit years */
	utctime_iso8601((time_t)1 << 40, got);
	assert_string_equal(got, "9999-12-31T23:59:59Z");
	utctime_iso8601(-((time_t)1 << 40), got);
	assert_string_equal(got, "0000-01-01T00:00:00Z");
}

static void test_against_libc(void **state)
{
	long long t;
	unsigned long long x = 88172645463325252ULL;
	int i;

	/* every day boundary and a second either side, 1900..2200 */
	for (t = -2208988800LL; t < 7258118400LL; t += 86400) {
		expect_libc((time_t)t - 1);
		expect_libc((time_t)t);
		expect_libc((time_t)t + 1);
	}
	/* and random instants in 0000..9999 */
	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		expect_libc((time_t)(-62167219200LL + (long long)(x % 315537897600ULL)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_against_libc),
	};

	setenv("TZ", "Asia/Kathmandu", 1);	/* must not matter */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
