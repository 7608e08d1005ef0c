#ifndef CIDRE_EXPR_REGEX_H
#define CIDRE_EXPR_REGEX_H

/*
 * Private to src/pipeline: the regular expressions of GitLab CI
 * expressions ("/pattern/flags", RE2 syntax in GitLab) run on POSIX
 * <regex.h> extended regular expressions. Used by expr.c (=~, !~) and by
 * plan.c (only/except refs given as /regex/).
 */

#include <regex.h>
#include <stddef.h>

#include "util/strbuf.h"

/* Longest pattern body accepted, in bytes. */
#define EXPR_REGEX_MAX 4096

/*
 * Compile the pattern body pat[0..len) with flags[0..flags_len) (any of
 * "i", "m", "s") into re, translating the common RE2 shorthands (\d \w \s
 * and their negations, (?: ...), lazy quantifiers, (?i) prefix). Returns 0
 * with re compiled (free it with regfree) or -1 with the reason appended
 * to err and re untouched.
 */
int expr_regex_compile(regex_t *re, const char *pat, size_t len,
		       const char *flags, size_t flags_len, struct strbuf *err);

/*
 * If s is exactly one regex literal "/body/flags" (flags letters only),
 * set the out-parameters to slices of s and return 1; else return 0.
 */
int expr_regex_literal(const char *s, const char **ret_body, size_t *ret_len,
		       const char **ret_flags, size_t *ret_flags_len);

/*
 * Match subject against the literal lit ("/body/flags"), anywhere in the
 * subject. 1 match, 0 no match, -1 when lit is not a valid literal or does
 * not compile (reason appended to err).
 */
int expr_regex_match_literal(const char *lit, const char *subject,
			     struct strbuf *err);

#endif
