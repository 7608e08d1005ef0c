#ifndef CIDRE_JSONX_H
#define CIDRE_JSONX_H

/* The JSON values the API and the notifications write the same way. */

#include <stdint.h>

#include <jansson.h>

#include "util/strbuf.h"

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

/*
 * Strings written and read without building JSON values, for the bulk
 * of a log (the live log's events: megabytes of text each second).
 *
 * json_str_escape_clean appends s[0..n) to out as the inside of a JSON
 * string (no quotes): " and \ and control characters escaped the way
 * jansson writes them, each byte that is not UTF-8 as U+FFFD; a
 * sequence cut by the end of s is left out unless last. Returns the
 * bytes of s consumed (n, or less by a cut sequence).
 *
 * json_str_unescape reads the inside of a JSON string at s (after its
 * opening quote), n bytes, appending its value to out; returns the bytes
 * consumed up to and with the closing quote, or 0 (out as it was) when
 * it is not a valid string: a control character, an unknown escape, a
 * surrogate not in a pair, bytes that are not UTF-8, or no closing
 * quote. \u0000 gives a NUL byte.
 */
size_t json_str_escape_clean(struct strbuf *out, const char *s, size_t n, int last);
size_t json_str_unescape(struct strbuf *out, const char *s, size_t n);

#endif
