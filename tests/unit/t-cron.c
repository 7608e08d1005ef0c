/*
 * Unit tests for src/util/cron.c and src/util/tz.c: a table of expressions
 * and their next times (month ends, February 29, DST changes in
 * Europe/Paris and America/New_York, the both-days rule), and errors.
 * The expected times were computed by a brute-force minute-by-minute
 * reference over Python's zoneinfo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cron.h"
#include "util/strbuf.h"
#include "util/tz.h"

/* "YYYY-MM-DDTHH:MM:SSZ" → seconds since the epoch */
static int64_t iso(const char *s)
{
	int y, mo, d, h, mi, se;

	assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &se), 6);
	return tz_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
}

static const struct {
	const char *expr, *zone, *after, *want;
} next_cases[] = {
	{ "* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z" },
	{ "* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z" },
	{ "*/15 * * * *", "UTC", "2026-01-01T00:14:59Z", "2026-01-01T00:15:00Z" },
	{ "*/15 * * * *", "UTC", "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z" },
	{ "0,30 9-17 * * 1-5", "UTC", "2026-11-27T17:30:00Z", "2026-11-30T09:00:00Z" },
	{ "0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z" },
	{ "0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z" },
	{ "0 12 29 feb *", "UTC", "2027-06-01T00:00:00Z", "2028-02-29T12:00:00Z" },
	{ "59 23 28-31 * *", "UTC", "2026-02-27T00:00:00Z", "2026-02-28T23:59:00Z" },
	{ "0 0 1 * *", "UTC", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z" },
	{ "0 0 13 * fri", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z" },
	{ "0 0 13 * 5", "UTC", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z" },
	{ "0 0 */10 * mon", "UTC", "2026-01-01T00:00:00Z", "2026-05-11T00:00:00Z" },
	{ "0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * SUN", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "0 0 * * 5-7", "UTC", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z" },
	{ "@hourly", "UTC", "2026-05-05T05:05:05Z", "2026-05-05T06:00:00Z" },
	{ "@daily", "UTC", "2026-05-05T05:05:05Z", "2026-05-06T00:00:00Z" },
	{ "@weekly", "UTC", "2026-05-05T05:05:05Z", "2026-05-10T00:00:00Z" },
	{ "@monthly", "UTC", "2026-05-05T05:05:05Z", "2026-06-01T00:00:00Z" },
	{ "@yearly", "UTC", "2026-05-05T05:05:05Z", "2027-01-01T00:00:00Z" },
	{ "@ANNUALLY", "UTC", "2026-05-05T05:05:05Z", "2027-01-01T00:00:00Z" },
	{ "0 3 * * *", "Europe/Paris", "2026-01-10T12:00:00Z", "2026-01-11T02:00:00Z" },
	{ "0 3 * * *", "Europe/Paris", "2026-07-10T12:00:00Z", "2026-07-11T01:00:00Z" },
	{ "30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z", "2026-03-30T00:30:00Z" },
	{ "30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z" },
	{ "30 2 * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z" },
	{ "*/20 * * * *", "Europe/Paris", "2026-10-25T00:30:00Z", "2026-10-25T00:40:00Z" },
	{ "*/20 * * * *", "Europe/Paris", "2026-10-25T00:50:00Z", "2026-10-25T02:00:00Z" },
	{ "0 * * * *", "Europe/Paris", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z" },
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z" },
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z" },
	{ "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z" },
	{ "0 0 * * *", "America/New_York", "2026-12-31T12:00:00Z", "2027-01-01T05:00:00Z" },
	{ "0 9 * jan,jul mon-fri", "America/New_York", "2026-06-30T00:00:00Z", "2026-07-01T13:00:00Z" },
	{ "0 0 * * *", "Asia/Kolkata", "2026-01-01T00:00:00Z", "2026-01-01T18:30:00Z" },
	{ "0 0 1 1 *", "Europe/Paris", "2040-06-01T00:00:00Z", "2040-12-31T23:00:00Z" },
};

static void test_next(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		struct strbuf err = STRBUF_INIT;
		struct cron c;
		struct tz *tz = NULL;
		int64_t got = 0;

		if (cron_parse(next_cases[i].expr, &c, &err) < 0 ||
		    tz_load(next_cases[i].zone, &tz, &err) < 0)
			fail_msg("%s in %s: %s", next_cases[i].expr, next_cases[i].zone, err.buf);
		assert_int_equal(cron_next(&c, iso(next_cases[i].after), tz, &got), 0);
		if (got != iso(next_cases[i].want))
			fail_msg("%s in %s after %s: got %lld, want %s (%lld)", next_cases[i].expr,
				 next_cases[i].zone, next_cases[i].after, (long long)got,
				 next_cases[i].want, (long long)iso(next_cases[i].want));
		tz_free(tz);
		strbuf_release(&err);
	}
}

static const struct {
	const char *expr, *msg;
} bad_cases[] = {
	{ "0 24 * * *", "column 3: field 2 (hour): 24 is out of 0-23" },
	{ "60 * * * *", "column 1: field 1 (minute): 60 is out of 0-59" },
	{ "* * 0 * *", "column 5: field 3 (day-of-month): 0 is out of 1-31" },
	{ "* * * 13 *", "column 7: field 4 (month): 13 is out of 1-12" },
	{ "* * * * 8", "column 9: field 5 (day-of-week): 8 is out of 0-7" },
	{ "* * * * mun", "column 9: field 5 (day-of-week): \"mun\" is not a number" },
	{ "* * * foo *", "column 7: field 4 (month): \"foo\" is not a number" },
	{ "5-1 * * * *", "column 1: field 1 (minute): the range 5-1 goes backwards" },
	{ "*/0 * * * *", "column 3: field 1 (minute): the step 0 is out of 1-60" },
	{ "*/x * * * *", "column 3: field 1 (minute): the step \"x\" is not a number" },
	{ "1, * * * *", "column 3: field 1 (minute): an empty list item" },
	{ ",1 * * * *", "column 1: field 1 (minute): \",1\" is not a number" },
	{ "1x * * * *", "column 2: field 1 (minute): unexpected \"x\"" },
	{ "* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got fewer" },
	{ "* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got more" },
	{ "", "expected 5 fields" },
	{ "@reboot", "column 1: unknown shortcut" },
	{ "@daily x", "column 1: unknown shortcut" },
	{ "0 0 31 2 *", "column 5: field 3 (day-of-month): no month of field 4 has such a day" },
	{ "0 0 30 feb *", "never fires" },
	{ "1000 * * * *", "column 1: field 1 (minute): \"1000\" is not a number" },
};

static void test_errors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct strbuf err = STRBUF_INIT;
		struct cron c;

		if (cron_parse(bad_cases[i].expr, &c, &err) == 0)
			fail_msg("\"%s\" parsed", bad_cases[i].expr);
		if (!strstr(err.buf, bad_cases[i].msg))
			fail_msg("\"%s\": got \"%s\", want \"%s\"", bad_cases[i].expr, err.buf,
				 bad_cases[i].msg);
		strbuf_release(&err);
	}
}

static void test_limits(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char buf[CRON_EXPR_MAX + 2];
	struct cron c;

	(void)state;
	memset(buf, ' ', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "* * * * *", 9);
	assert_int_equal(cron_parse(buf, &c, &err), -1);
	assert_non_null(strstr(err.buf, "longer than 256"));
	strbuf_reset(&err);
	buf[CRON_EXPR_MAX] = '\0';
	assert_int_equal(cron_parse(buf, &c, &err), 0);
	/* both-days rule: a star-step day field is "unrestricted" (Vixie) */
	assert_int_equal(cron_parse("0 0 */2 * 1", &c, &err), 0);
	assert_true(c.dom_star && !c.dow_star);
	strbuf_release(&err);
}

static void test_min_interval(void **state)
{
	static const struct {
		const char *expr;
		int64_t want;
	} cases[] = {
		{ "* * * * *", 60 },
		{ "*/15 * * * *", 900 },
		{ "0,1 0 * * *", 60 },
		{ "0 * * * *", 3600 },
		{ "@daily", 86400 },
		{ "@weekly", 7 * 86400 },
		{ "59 23 * * *", 86400 },
		{ "0,59 0,23 * * 1", 3540 },
		{ "0 0 1 * *", 28 * 86400 },
		{ "0,59 0,23 1,31 * *", 60 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf err = STRBUF_INIT;
		struct cron c;

		assert_int_equal(cron_parse(cases[i].expr, &c, &err), 0);
		if (cron_min_interval(&c) != cases[i].want)
			fail_msg("%s: %lld, want %lld", cases[i].expr,
				 (long long)cron_min_interval(&c), (long long)cases[i].want);
		strbuf_release(&err);
	}
}

static void test_tz(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct tz *tz = NULL;

	(void)state;
	assert_true(tz_name_ok("Europe/Paris"));
	assert_true(tz_name_ok("Etc/GMT+5"));
	assert_false(tz_name_ok("../etc/passwd"));
	assert_false(tz_name_ok("/etc/localtime"));
	assert_false(tz_name_ok("Europe//Paris"));
	assert_false(tz_name_ok(""));
	assert_int_equal(tz_load("Mars/Olympus", &tz, &err), -1);
	assert_string_equal(err.buf, "unknown time zone \"Mars/Olympus\"");
	strbuf_reset(&err);
	assert_int_equal(tz_load("Europe/../../etc/passwd", &tz, &err), -1);
	strbuf_reset(&err);
	assert_int_equal(tz_parse((const unsigned char *)"TZif2", 5, &tz, &err), -1);
	assert_string_equal(err.buf, "not a valid TZif file");
	strbuf_reset(&err);
	assert_int_equal(tz_load("Europe/Paris", &tz, &err), 0);
	assert_int_equal(tz_offset(tz, iso("2026-01-15T00:00:00Z")), 3600);
	assert_int_equal(tz_offset(tz, iso("2026-07-15T00:00:00Z")), 7200);
	assert_int_equal(tz_offset(tz, iso("2026-03-29T00:59:59Z")), 3600);
	assert_int_equal(tz_offset(tz, iso("2026-03-29T01:00:00Z")), 7200);
	assert_int_equal(tz_offset(tz, iso("2026-10-25T00:59:59Z")), 7200);
	assert_int_equal(tz_offset(tz, iso("2026-10-25T01:00:00Z")), 3600);
	/* far beyond the file's table: its footer rule */
	assert_int_equal(tz_offset(tz, iso("2099-07-01T00:00:00Z")), 7200);
	tz_free(tz);
	assert_int_equal(tz_load("America/New_York", &tz, &err), 0);
	assert_int_equal(tz_offset(tz, iso("2026-03-08T06:59:59Z")), -5 * 3600);
	assert_int_equal(tz_offset(tz, iso("2026-03-08T07:00:00Z")), -4 * 3600);
	assert_int_equal(tz_offset(tz, iso("1990-07-01T00:00:00Z")), -4 * 3600);
	tz_free(tz);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_min_interval),
		cmocka_unit_test(test_tz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
