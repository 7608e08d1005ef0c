#ifndef CIDRE_UTCTIME_H
#define CIDRE_UTCTIME_H

/*
 * UTC calendar time without the C library's time zone machinery:
 * glibc's gmtime_r() and strftime() read /etc/localtime (tzset) on their
 * first call, a file read the per-job supervisor does not need.
 */

#include <stdint.h>
#include <time.h>

#define UTCTIME_ISO8601_LEN 21	/* "2026-11-28T02:03:04Z" and its NUL */

/*
 * Write t as "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out, which holds
 * UTCTIME_ISO8601_LEN bytes. Years 0..9999; t outside them is clamped.
 */
void utctime_iso8601(time_t t, char out[UTCTIME_ISO8601_LEN]);

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and idle times. */
int64_t mono_ms(void);

#endif
