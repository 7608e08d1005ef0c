#ifndef CIDRE_CRON_H
#define CIDRE_CRON_H

/*
 * Cron expressions (pipeline schedules): pure, no I/O.
 *
 * Five fields: minute hour day-of-month month day-of-week, each a
 * comma-separated list of "*", N or N-M, each optionally "/STEP" (N/STEP
 * is N-max/STEP). Months take jan..dec, weekdays sun..sat (any case);
 * weekday 0 and 7 are both Sunday. Vixie cron's rule: when day-of-month
 * and day-of-week are both restricted (neither field starts with "*"), a
 * day matching either fires; else a day must match both. Shortcuts:
 * @hourly @daily @midnight @weekly @monthly @yearly @annually.
 */

#include <stdint.h>

struct strbuf;
struct tz;

#define CRON_EXPR_MAX 256

struct cron {
	uint64_t minute;	/* bit 0..59 */
	uint32_t hour;		/* bit 0..23 */
	uint32_t dom;		/* bit 1..31 */
	uint32_t month;		/* bit 1..12 */
	uint32_t dow;		/* bit 0..6, Sunday 0 */
	int dom_star, dow_star;	/* the field started with "*" */
};

/*
 * Parse expr into *ret. 0, or -1 with err saying where:
 * "column 4: field 2 (hour): 24 is out of 0-23". An expression that can
 * never fire (day 31 of February only) is an error too.
 */
int cron_parse(const char *expr, struct cron *ret, struct strbuf *err);

/*
 * The first time strictly after `after` (seconds since the epoch) at
 * which c fires, with its fields read as wall-clock time in tz. A local
 * time a DST change skips does not fire; one it repeats fires once, at
 * its first occurrence. 0 with *ret, or -1 when nothing fires within the
 * next ten years (cannot happen after cron_parse succeeded).
 */
int cron_next(const struct cron *c, int64_t after, const struct tz *tz, int64_t *ret);

/*
 * The shortest wall-clock interval, in seconds, between two consecutive
 * firings of c (DST changes aside): what schedules.min_interval is
 * compared with.
 */
int64_t cron_min_interval(const struct cron *c);

#endif
