#ifndef CIDRE_EXPR_H
#define CIDRE_EXPR_H

/*
 * GitLab CI expressions (rules:if, only/except:variables, workflow:rules):
 *   $VAR, ${VAR}? no - GitLab allows $VAR only; "string", 'string', null,
 *   /regex/flags, ==, !=, =~, !~, &&, ||, parentheses.
 * Regex matches use POSIX extended regular expressions with the common
 * Perl/RE2 shorthands translated (\d \w \s), flag i for case folding.
 * A bare $VAR is true when the variable is defined and non-empty.
 */

#include "pipeline/vars.h"
#include "util/strbuf.h"

/* 1 true, 0 false, -1 syntax error (reason appended to err). */
int expr_eval(const char *expr, const struct varlist *vars, struct strbuf *err);
/* 0 valid, -1 invalid (reason appended to err). */
int expr_check(const char *expr, struct strbuf *err);

#endif
