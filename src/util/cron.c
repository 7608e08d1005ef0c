/* Cron expressions (cron.h). */
#include <string.h>

#include "util/cron.h"
#include "util/strbuf.h"
#include "util/tz.h"

#define SEARCH_DAYS (366 * 10 + 3)

static const struct field {
	const char *name;
	int min, max;
} fields[5] = {
	{ "minute", 0, 59 },
	{ "hour", 0, 23 },
	{ "day-of-month", 1, 31 },
	{ "month", 1, 12 },
	{ "day-of-week", 0, 7 },
};

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				       "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct {
	const char *name, *expr;
} shortcuts[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* "column N: field F (name): " in err; the caller adds what is wrong */
static void fail_at(struct strbuf *err, size_t col, int f)
{
	strbuf_addf(err, "column %zu: field %d (%s): ", col, f + 1, fields[f].name);
}

#define FAIL(col, ...) (fail_at(err, (col), f), strbuf_addf(err, __VA_ARGS__), -1)

/* A number or (months, weekdays) a name at *p; -1 when neither. */
static int value(const char **p, int f, int *ret)
{
	const char *s = *p;
	int v = 0, n = 0;

	while (*s >= '0' && *s <= '9') {
		if (n++ == 3)
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	if (n) {
		*p = s;
		*ret = v;
		return 0;
	}
	if (f == 3 || f == 4) {
		const char *const *names = f == 3 ? months : days;
		int nr = f == 3 ? 12 : 7, i;

		for (i = 0; i < nr; i++) {
			if (lower(s[0]) == names[i][0] && lower(s[1]) == names[i][1] &&
			    lower(s[2]) == names[i][2]) {
				*p = s + 3;
				*ret = f == 3 ? i + 1 : i;
				return 0;
			}
		}
	}
	return -1;
}

/* The token [s, e) as a C string for messages (bounded). */
static const char *tok(const char *s, const char *e, char *buf, size_t size)
{
	size_t n = (size_t)(e - s);

	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* One field [s, e) into *bits; col is s's column (1-based). */
static int field(const char *s, const char *e, int f, size_t col, uint64_t *bits,
		 struct strbuf *err)
{
	const struct field *fd = &fields[f];
	const char *p = s;
	char t[40];

	*bits = 0;
	for (;;) {
		const char *item = p;
		int lo, hi, step = 1, v;

		if (p < e && *p == '*') {
			lo = fd->min;
			hi = f == 4 ? 6 : fd->max;
			p++;
		} else {
			if (p >= e || *p == ',' || value(&p, f, &lo) < 0 || p > e)
				return FAIL(col + (size_t)(item - s),
					    "\"%s\" is not a number",
					    tok(item, e, t, sizeof(t)));
			if (lo < fd->min || lo > fd->max)
				return FAIL(col + (size_t)(item - s), "%s is out of %d-%d",
					    tok(item, p, t, sizeof(t)), fd->min, fd->max);
			hi = lo;
			if (p < e && *p == '-') {
				const char *h = ++p;

				if (value(&p, f, &hi) < 0 || p > e)
					return FAIL(col + (size_t)(h - s),
						    "\"%s\" is not a number",
						    tok(h, e, t, sizeof(t)));
				if (hi < fd->min || hi > fd->max)
					return FAIL(col + (size_t)(h - s),
						    "%s is out of %d-%d", tok(h, p, t, sizeof(t)),
						    fd->min, fd->max);
				if (hi < lo)
					return FAIL(col + (size_t)(item - s),
						    "the range %s goes backwards",
						    tok(item, p, t, sizeof(t)));
			} else if (p < e && *p == '/') {
				hi = f == 4 ? 6 : fd->max;	/* N/STEP: N to the end */
				if (lo > hi)
					hi = lo;
			}
		}
		if (p < e && *p == '/') {
			const char *st = ++p;

			if (p >= e || *p < '0' || *p > '9' || value(&p, 0, &step) < 0 || p > e)
				return FAIL(col + (size_t)(st - s),
					    "the step \"%s\" is not a number",
					    tok(st, e, t, sizeof(t)));
			if (step < 1 || step > fd->max + 1)
				return FAIL(col + (size_t)(st - s),
					    "the step %s is out of %d-%d", tok(st, p, t, sizeof(t)),
					    1, fd->max + 1);
		}
		if (p < e && *p != ',')
			return FAIL(col + (size_t)(p - s),
				    "unexpected \"%s\"", tok(p, e, t, sizeof(t)));
		for (v = lo; v <= hi; v += step)
			*bits |= (uint64_t)1 << (f == 4 && v == 7 ? 0 : v);
		if (p >= e)
			break;
		p++;	/* ',' */
		if (p >= e)
			return FAIL(col + (size_t)(p - s),
				    "an empty list item");
	}
	return 0;
}

static const unsigned mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

int cron_parse(const char *expr, struct cron *ret, struct strbuf *err)
{
	const char *s = expr, *start[5], *stop[5];
	struct cron c;
	uint64_t bits[5];
	size_t n = 0, i, len = strlen(expr);
	int ok = 0;

	if (len > CRON_EXPR_MAX) {
		strbuf_addf(err, "the expression is longer than %d bytes", CRON_EXPR_MAX);
		return -1;
	}
	while (is_space(*s))
		s++;
	if (*s == '@') {
		size_t l = 0;

		while (s[l] && !is_space(s[l]))
			l++;
		for (i = 0; i < sizeof(shortcuts) / sizeof(shortcuts[0]); i++) {
			size_t k;

			if (strlen(shortcuts[i].name) != l)
				continue;
			for (k = 0; k < l && lower(s[k]) == shortcuts[i].name[k]; k++)
				;
			if (k == l)
				break;
		}
		for (l += (size_t)(s - expr); is_space(expr[l]); l++)
			;
		if (i == sizeof(shortcuts) / sizeof(shortcuts[0]) || expr[l]) {
			strbuf_addf(err, "column %zu: unknown shortcut (known: @hourly @daily "
				    "@midnight @weekly @monthly @yearly @annually)",
				    (size_t)(s - expr) + 1);
			return -1;
		}
		return cron_parse(shortcuts[i].expr, ret, err);
	}
	while (*s) {
		if (n == 5) {
			n++;
			break;
		}
		start[n] = s;
		while (*s && !is_space(*s))
			s++;
		stop[n++] = s;
		while (is_space(*s))
			s++;
	}
	if (n != 5) {
		strbuf_addf(err, "expected 5 fields (minute hour day-of-month month day-of-week)"
			    ", got %s", n > 5 ? "more" : "fewer");
		return -1;
	}
	for (i = 0; i < 5; i++)
		if (field(start[i], stop[i], (int)i, (size_t)(start[i] - expr) + 1, &bits[i],
			  err) < 0)
			return -1;
	memset(&c, 0, sizeof(c));
	c.minute = bits[0];
	c.hour = (uint32_t)bits[1];
	c.dom = (uint32_t)bits[2];
	c.month = (uint32_t)bits[3];
	c.dow = (uint32_t)bits[4];
	c.dom_star = *start[2] == '*';
	c.dow_star = *start[4] == '*';
	/* day-of-month alone must fit some month it names (31 only in February never fires) */
	if (c.dow_star || c.dom_star) {
		for (i = 1; i <= 12 && !ok; i++) {
			unsigned d;

			if (!(c.month >> i & 1))
				continue;
			for (d = 1; d <= mdays[i] && !ok; d++)
				ok = c.dom >> d & 1;
		}
		if (!ok) {
			strbuf_addf(err, "column %zu: field 3 (day-of-month): no month of field 4 "
				    "has such a day: it never fires", (size_t)(start[2] - expr) + 1);
			return -1;
		}
	}
	*ret = c;
	return 0;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Whether c fires on day z (days since 1970-01-01, local). */
static int day_matches(const struct cron *c, int64_t z)
{
	int64_t y;
	unsigned m, d;
	int wd = (int)(((z + 4) % 7 + 7) % 7), dom, dow;

	tz_civil_from_days(z, &y, &m, &d);
	if (!(c->month >> m & 1))
		return 0;
	if (m == 2 && d == 29 && !is_leap(y))
		return 0;	/* cannot happen: civil days are real */
	dom = c->dom >> d & 1;
	dow = c->dow >> wd & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * The instant of local time l in tz: the earliest u with u + off(u) == l;
 * 0 when l does not exist (a DST gap).
 */
static int resolve(const struct tz *tz, int64_t l, int64_t *ret)
{
	int32_t cand[3];
	int found = 0, i;

	cand[0] = tz_offset(tz, l - 108000);
	cand[1] = tz_offset(tz, l);
	cand[2] = tz_offset(tz, l + 108000);
	for (i = 0; i < 3; i++) {
		int64_t u = l - cand[i];

		if (tz_offset(tz, u) != cand[i])
			continue;
		if (!found || u < *ret)
			*ret = u;
		found = 1;
	}
	return found;
}

int cron_next(const struct cron *c, int64_t after, const struct tz *tz, int64_t *ret)
{
	int64_t l = floordiv(after + tz_offset(tz, after), 60) * 60 + 60;
	int64_t day0 = floordiv(l, 86400), z;
	int first = (int)((l - day0 * 86400) / 60);

	for (z = day0; z < day0 + SEARCH_DAYS; z++) {
		int h, m;

		if (!day_matches(c, z))
			continue;
		for (h = 0; h < 24; h++) {
			if (!(c->hour >> h & 1))
				continue;
			if (z == day0 && h * 60 + 59 < first)
				continue;
			for (m = 0; m < 60; m++) {
				int64_t u = 0;

				if (!(c->minute >> m & 1) || (z == day0 && h * 60 + m < first))
					continue;
				/* a repeated local time whose first occurrence passed: not again */
				if (resolve(tz, z * 86400 + h * 3600 + m * 60, &u) && u > after) {
					*ret = u;
					return 0;
				}
			}
		}
	}
	return -1;
}

int64_t cron_min_interval(const struct cron *c)
{
	int64_t best = INT64_MAX, prev_day = -1, z, start;
	int first = -1, last = -1, prev = -1, t;

	/* within a day */
	for (t = 0; t < 1440; t++) {
		if (!(c->hour >> (t / 60) & 1) || !(c->minute >> (t % 60) & 1))
			continue;
		if (first < 0)
			first = t;
		if (prev >= 0 && (int64_t)(t - prev) * 60 < best)
			best = (int64_t)(t - prev) * 60;
		prev = last = t;
	}
	if (first < 0)
		return best;
	/* from the last firing of a day to the first of the next day that fires */
	start = tz_days_from_civil(2024, 1, 1);
	for (z = start; z < start + 366 * 8 + 2; z++) {
		if (!day_matches(c, z))
			continue;
		if (prev_day >= 0) {
			int64_t gap = (z - prev_day) * 86400 - (int64_t)last * 60 + (int64_t)first * 60;

			if (gap < best)
				best = gap;
		}
		prev_day = z;
	}
	return best;
}
