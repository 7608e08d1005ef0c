/* IANA time zones from TZif files (tz.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/tz.h"
#include "util/xalloc.h"

#define TZIF_MAX (1 << 20)	/* the largest zone file is ~4 KiB */

/* One end of a POSIX TZ rule: Jn, n or Mm.w.d, and a local time of day. */
struct tz_when {
	char kind;		/* 'J', 'n' or 'M' */
	int m, w, d;		/* J/n: d is the day; M: month, week, weekday */
	int32_t secs;		/* local time of the change (may be < 0 or > 24h) */
};

struct tz {
	int64_t *trans;		/* transition times, ascending */
	unsigned char *idx;	/* the type index from each transition on */
	size_t nr;
	int32_t *offs;		/* offset of each type */
	size_t types;
	/* the footer: after the last transition */
	int has_rule;
	int32_t std_off, dst_off;
	int has_dst;
	struct tz_when start, end;
};

int64_t tz_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void tz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int tz_name_ok(const char *name)
{
	size_t n = strlen(name), i, comp = 0;

	if (!n || n > TZ_NAME_MAX || name[0] == '/')
		return 0;
	for (i = 0; i <= n; i++) {
		char c = name[i];

		if (c == '/' || !c) {
			if (!comp)
				return 0;
			if ((comp == 1 && name[i - 1] == '.') ||
			    (comp == 2 && name[i - 1] == '.' && name[i - 2] == '.'))
				return 0;
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return 0;
		comp++;
	}
	return 1;
}

struct tz *tz_utc(void)
{
	struct tz *tz = xcalloc(1, sizeof(*tz));

	tz->offs = xcalloc(1, sizeof(*tz->offs));
	tz->types = 1;
	return tz;
}

void tz_free(struct tz *tz)
{
	if (!tz)
		return;
	free(tz->trans);
	free(tz->idx);
	free(tz->offs);
	free(tz);
}

/* ---- the POSIX TZ footer ---- */

static int p_num(const char **s, int max, int *ret)
{
	int v = 0, n = 0;

	while (**s >= '0' && **s <= '9' && n < 4) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (!n || v > max)
		return -1;
	*ret = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] as seconds; hours up to max_h */
static int p_time(const char **s, int max_h, int32_t *ret)
{
	int sign = 1, h, m = 0, sec = 0;

	if (**s == '+' || **s == '-')
		sign = *(*s)++ == '-' ? -1 : 1;
	if (p_num(s, max_h, &h) < 0)
		return -1;
	if (**s == ':') {
		(*s)++;
		if (p_num(s, 59, &m) < 0)
			return -1;
		if (**s == ':') {
			(*s)++;
			if (p_num(s, 59, &sec) < 0)
				return -1;
		}
	}
	*ret = sign * (h * 3600 + m * 60 + sec);
	return 0;
}

static int p_name(const char **s)
{
	const char *p = *s;

	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		if (*p != '>' || p - *s < 4)
			return -1;
		*s = p + 1;
		return 0;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	if (p - *s < 3)
		return -1;
	*s = p;
	return 0;
}

static int p_when(const char **s, struct tz_when *w)
{
	w->secs = 7200;
	if (**s == 'M') {
		(*s)++;
		w->kind = 'M';
		if (p_num(s, 12, &w->m) < 0 || w->m < 1 || *(*s)++ != '.' ||
		    p_num(s, 5, &w->w) < 0 || w->w < 1 || *(*s)++ != '.' || p_num(s, 6, &w->d) < 0)
			return -1;
	} else if (**s == 'J') {
		(*s)++;
		w->kind = 'J';
		if (p_num(s, 365, &w->d) < 0 || w->d < 1)
			return -1;
	} else {
		w->kind = 'n';
		if (p_num(s, 365, &w->d) < 0)
			return -1;
	}
	if (**s == '/') {
		(*s)++;
		if (p_time(s, 167, &w->secs) < 0)
			return -1;
	}
	return 0;
}

static int parse_rule(struct tz *tz, const char *s)
{
	int32_t o;

	if (!*s)
		return 0;	/* no footer: the last type stays */
	if (p_name(&s) < 0 || p_time(&s, 24, &o) < 0)
		return -1;
	tz->std_off = -o;
	tz->dst_off = tz->std_off + 3600;
	if (*s) {
		if (p_name(&s) < 0)
			return -1;
		if (*s && *s != ',') {
			if (p_time(&s, 24, &o) < 0)
				return -1;
			tz->dst_off = -o;
		}
		if (*s++ != ',' || p_when(&s, &tz->start) < 0 || *s++ != ',' ||
		    p_when(&s, &tz->end) < 0 || *s)
			return -1;
		tz->has_dst = 1;
	}
	tz->has_rule = 1;
	return 0;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds since the epoch of w in year y (local midnight + secs). */
static int64_t when_local(const struct tz_when *w, int64_t y)
{
	int64_t day;

	if (w->kind == 'J') {
		/* 1..365, February 29 never counted */
		day = tz_days_from_civil(y, 1, 1) + w->d - 1;
		if (is_leap(y) && w->d >= 60)
			day++;
	} else if (w->kind == 'n') {
		day = tz_days_from_civil(y, 1, 1) + w->d;
	} else {
		static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int64_t first = tz_days_from_civil(y, (unsigned)w->m, 1);
		int wd = (int)((first + 4) % 7 + 7) % 7;	/* 1970-01-01 was a Thursday */
		int64_t dd = (w->d - wd + 7) % 7 + (int64_t)(w->w - 1) * 7;
		unsigned len = mdays[w->m - 1] + (w->m == 2 && is_leap(y));

		if (dd >= len)
			dd -= 7;
		day = first + dd;
	}
	return day * 86400 + w->secs;
}

static int32_t rule_offset(const struct tz *tz, int64_t t)
{
	int64_t y, start, end;
	unsigned m, d;

	if (!tz->has_dst)
		return tz->std_off;
	tz_civil_from_days(floordiv(t + tz->std_off, 86400), &y, &m, &d);
	start = when_local(&tz->start, y) - tz->std_off;
	end = when_local(&tz->end, y) - tz->dst_off;
	if (start < end)
		return t >= start && t < end ? tz->dst_off : tz->std_off;
	return t >= end && t < start ? tz->std_off : tz->dst_off;
}

int32_t tz_offset(const struct tz *tz, int64_t t)
{
	size_t lo = 0, hi;

	if (!tz->nr || t < tz->trans[0]) {
		if (!tz->nr && tz->has_rule)
			return rule_offset(tz, t);
		return tz->offs[0];
	}
	if (t >= tz->trans[tz->nr - 1] && tz->has_rule)
		return rule_offset(tz, t);
	hi = tz->nr;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->offs[tz->idx[lo]];
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

int tz_parse(const unsigned char *buf, size_t len, struct tz **ret, struct strbuf *err)
{
	const unsigned char *p = buf, *end = buf + len;
	uint32_t cnt[6];
	size_t need, i, tsize = 4;
	struct tz *tz = NULL;
	int v2;

	if (len < 44 || memcmp(buf, "TZif", 4))
		goto bad;
	v2 = buf[4] >= '2';
	for (i = 0; i < 6; i++)
		cnt[i] = be32(buf + 20 + 4 * i);
	/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
	if (v2) {
		if (cnt[3] > 100000 || cnt[2] > 100000 || cnt[0] > 256 || cnt[1] > 256 ||
		    cnt[4] > 256 || cnt[5] > 100000)
			goto bad;
		need = (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 8 +
		       cnt[1] + cnt[0];
		if (need > len - 44)
			goto bad;
		p = buf + 44 + need;
		if (end - p < 44 || memcmp(p, "TZif", 4))
			goto bad;
		for (i = 0; i < 6; i++)
			cnt[i] = be32(p + 20 + 4 * i);
		p += 44;
		tsize = 8;
	} else {
		p = buf + 44;
	}
	if (cnt[4] < 1 || cnt[4] > 256 || cnt[3] > 100000 || cnt[2] > 100000 || cnt[0] > 256 ||
	    cnt[1] > 256 || cnt[5] > 100000)
		goto bad;
	need = (size_t)cnt[3] * (tsize + 1) + (size_t)cnt[4] * 6 + cnt[5] +
	       (size_t)cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
	if (need > (size_t)(end - p))
		goto bad;
	tz = xcalloc(1, sizeof(*tz));
	tz->nr = cnt[3];
	tz->types = cnt[4];
	tz->trans = xcalloc(tz->nr + 1, sizeof(*tz->trans));
	tz->idx = xcalloc(tz->nr + 1, 1);
	tz->offs = xcalloc(tz->types, sizeof(*tz->offs));
	for (i = 0; i < tz->nr; i++) {
		tz->trans[i] = tsize == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);
		if (i && tz->trans[i] <= tz->trans[i - 1])
			goto bad;
	}
	p += tz->nr * tsize;
	for (i = 0; i < tz->nr; i++) {
		tz->idx[i] = p[i];
		if (p[i] >= tz->types)
			goto bad;
	}
	p += tz->nr;
	for (i = 0; i < tz->types; i++) {
		int32_t o = (int32_t)be32(p + 6 * i);

		if (o < -25 * 3600 || o > 26 * 3600)
			goto bad;
		tz->offs[i] = o;
	}
	p += tz->types * 6 + cnt[5] + (size_t)cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
	if (v2 && p < end && *p == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char *rule;
		int rc;

		if (!nl || nl - p > 256)
			goto bad;
		rule = xstrndup((const char *)p + 1, (size_t)(nl - p - 1));
		rc = parse_rule(tz, rule);
		free(rule);
		if (rc < 0)
			goto bad;
	}
	*ret = tz;
	return 0;
bad:
	tz_free(tz);
	strbuf_addstr(err, "not a valid TZif file");
	return -1;
}

int tz_load(const char *name, struct tz **ret, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	unsigned char *buf = NULL;
	struct stat sb;
	size_t got = 0;
	int fd = -1, rc = -1;

	if (!*name || !strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
		*ret = tz_utc();
		return 0;
	}
	if (!tz_name_ok(name)) {
		strbuf_addf(err, "\"%s\" is not a time zone name (like Europe/Paris)", name);
		return -1;
	}
	strbuf_addf(&path, "%s/%s", TZ_DIR, name);
	fd = open(path.buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > TZIF_MAX) {
		strbuf_addf(err, "unknown time zone \"%s\"", name);
		goto done;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (tz_parse(buf, got, ret, err) < 0) {
		strbuf_addf(err, " (time zone \"%s\")", name);
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	strbuf_release(&path);
	return rc;
}
