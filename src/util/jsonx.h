#ifndef CIDRE_JSONX_H
#define CIDRE_JSONX_H

/* The JSON values the API and the notifications write the same way. */

#include <stdint.h>

#include <jansson.h>

/*
 * How the JSON others read is written (API responses, status events,
 * webhooks): compact, reals to 10 significant digits, so that a CPU time
 * of 4 ms is 0.004 and not 0.0040000000000000001.
 */
#define JSONX_OUT (JSON_COMPACT | JSON_REAL_PRECISION(10))

/* RFC 3339 UTC with milliseconds ("2026-11-28T02:03:04.005Z"); null for ms <= 0. */
json_t *json_time(int64_t ms);
/* s as a string (each byte that is not UTF-8 as U+FFFD); null for NULL. */
json_t *json_str_or_null(const char *s);
/* Seconds from a to b (both ms) as a number; null unless 0 < a <= b. */
json_t *json_seconds(int64_t a, int64_t b);
/* Append the non-empty pieces of the comma-separated list to array a. */
void json_append_list(json_t *a, const char *list);

#endif
