/*
 * libFuzzer target for the expression evaluator (and, on the same input,
 * variable expansion). Input: an expression; if it holds a NUL byte, the
 * bytes after it are "KEY=VALUE" lines added to the variables, so the
 * fuzzer can also steer values (including /regex/ patterns) it compares
 * against. Must never crash, hang or leak, whatever the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/expr.h"
#include "pipeline/vars.h"
#include "util/xalloc.h"

static void add_vars(struct varlist *vl, const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', end - s);
		const char *eq;
		size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *key, *val;

		eq = memchr(s, '=', l);
		if (eq && eq > s) {
			key = xstrndup(s, eq - s);
			val = xstrndup(eq + 1, l - (eq - s) - 1);
			varlist_set(vl, key, val);
			free(key);
			free(val);
		}
		s += l + (nl ? 1 : 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf err = STRBUF_INIT;
	struct strbuf out = STRBUF_INIT;
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	char *expr = xstrndup((const char *)data, elen);
	int rc, rc2;

	varlist_set(&vl, "BRANCH", "main");
	varlist_set(&vl, "EMPTY", "");
	varlist_set(&vl, "PATTERN", "/^ma(in|ster)$/i");
	varlist_set(&vl, "BAD", "/(/");
	varlist_set(&vl, "NESTED", "$BRANCH-$NESTED-${PATTERN}");
	if (nul)
		add_vars(&vl, (const char *)nul + 1, size - elen - 1);

	rc = expr_eval(expr, &vl, &err);
	strbuf_reset(&err);
	rc2 = expr_check(expr, &err);
	/* syntax validity must not depend on variable values */
	if ((rc < 0) != (rc2 < 0))
		abort();
	vars_expand(expr, &vl, &out);
	vars_expand_all(&vl);

	free(expr);
	strbuf_release(&out);
	strbuf_release(&err);
	varlist_clear(&vl);
	return 0;
}
