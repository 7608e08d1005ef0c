#ifndef CIDRE_TZ_H
#define CIDRE_TZ_H

/*
 * IANA time zones read from the tz database's TZif files (RFC 8536),
 * without the C library's TZ machinery: setting TZ and calling tzset()
 * changes the whole process (the environment is shared by every thread,
 * and the server's runner hands `environ` to each job it spawns), so a
 * threaded server cannot switch zones per computation. A struct tz is
 * immutable once loaded and may be shared between threads.
 *
 * Offsets after a zone's last transition come from the file's footer
 * (a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3"): the slim
 * TZif files Debian ships stop their transition table decades ago and
 * rely on it. Leap seconds are ignored (cron counts wall-clock minutes).
 */

#include <stddef.h>
#include <stdint.h>

struct strbuf;
struct tz;

#define TZ_NAME_MAX 64
#define TZ_DIR "/usr/share/zoneinfo"

/*
 * Whether name can be a zone name: 1..TZ_NAME_MAX bytes of [A-Za-z0-9_+-]
 * and '/', no leading '/', no "." or ".." component. Not whether it exists.
 */
int tz_name_ok(const char *name);

/*
 * Load zone name from TZ_DIR. "UTC", "Etc/UTC" and "" (UTC) need no file.
 * 0 with *ret (tz_free), or -1 with the reason in err.
 */
int tz_load(const char *name, struct tz **ret, struct strbuf *err);

/*
 * Parse a TZif file's bytes (pure; what tz_load reads). 0 with *ret, or
 * -1 with err. Never reads outside buf.
 */
int tz_parse(const unsigned char *buf, size_t len, struct tz **ret, struct strbuf *err);

/* The UTC zone (no file). */
struct tz *tz_utc(void);

void tz_free(struct tz *tz);

/* Seconds east of UTC in effect at t (seconds since the epoch, UTC). */
int32_t tz_offset(const struct tz *tz, int64_t t);

/* ---- proleptic Gregorian calendar helpers (pure) ---- */

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
int64_t tz_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The inverse of tz_days_from_civil. */
void tz_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
