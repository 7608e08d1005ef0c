/* UTC calendar time, no time zone files (utctime.h). */
#include "util/utctime.h"


/* Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z since the epoch. */
#define UTCTIME_MIN (-62167219200LL)
#define UTCTIME_MAX 253402300799LL

/*
 * Civil date of a day count since 1970-01-01 (proleptic Gregorian), by
 * eras of 400 years (146097 days), each starting on March 1st so that
 * the leap day is the era's last.
 */
static void civil(long long days, long long *y, int *m, int *d)
{
	long long z = days + 719468;
	long long era = (z >= 0 ? z : z - 146096) / 146097;
	long long doe = z - era * 146097;			/* 0..146096 */
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* 0..365 */
	long long mp = (5 * doy + 2) / 153;			/* 0..11, March first */

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* n as exactly width decimal digits (n >= 0, n < 10^width). */
static char *digits(char *p, long long n, int width)
{
	int i;

	for (i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + width;
}

void utctime_iso8601(time_t t, char out[UTCTIME_ISO8601_LEN])
{
	char *p = out;
	long long s = (long long)t, days, sod, y;
	int m, d;

	if (s < UTCTIME_MIN)
		s = UTCTIME_MIN;
	if (s > UTCTIME_MAX)
		s = UTCTIME_MAX;
	days = s / 86400;
	sod = s % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	civil(days, &y, &m, &d);
	p = digits(p, y, 4);
	*p++ = '-';
	p = digits(p, m, 2);
	*p++ = '-';
	p = digits(p, d, 2);
	*p++ = 'T';
	p = digits(p, sod / 3600, 2);
	*p++ = ':';
	p = digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = digits(p, sod % 60, 2);
	*p++ = 'Z';
	*p = '\0';
}

int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
