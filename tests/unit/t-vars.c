/* Unit tests for src/pipeline/vars.c (variable expansion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/vars.h"

static void expect_expand(const struct varlist *vl, const char *in, const char *want)
{
	char *got = vars_expand_dup(in, vl);
	int ok = !strcmp(got, want);

	if (!ok)
		print_message("expand '%s': got '%s', want '%s'\n", in, got, want);
	free(got);
	assert_true(ok);
}

static void test_basic(void **state)
{
	struct varlist vl = VARLIST_INIT;

	varlist_set(&vl, "NAME", "world");
	varlist_set(&vl, "EMPTY", "");
	varlist_set(&vl, "A_1", "x");
	expect_expand(&vl, "hello $NAME", "hello world");
	expect_expand(&vl, "hello ${NAME}!", "hello world!");
	expect_expand(&vl, "${NAME}s", "worlds");
	expect_expand(&vl, "$NAMEs", "");              /* NAMEs is unknown */
	expect_expand(&vl, "[$UNKNOWN]", "[]");
	expect_expand(&vl, "[${UNKNOWN}]", "[]");
	expect_expand(&vl, "[$EMPTY]", "[]");
	expect_expand(&vl, "$A_1$A_1", "xx");
	expect_expand(&vl, "cost: $$5", "cost: $5");
	expect_expand(&vl, "$$NAME", "$NAME");
	expect_expand(&vl, "$$$NAME", "$world");
	expect_expand(&vl, "trailing $", "trailing $");
	expect_expand(&vl, "$1 $- $ x", "$1 $- $ x");
	expect_expand(&vl, "${NAME", "${NAME");
	expect_expand(&vl, "${}", "${}");
	expect_expand(&vl, "${1X}", "${1X}");
	expect_expand(&vl, "", "");
	expect_expand(&vl, "no vars", "no vars");
	varlist_clear(&vl);
}

static void test_appends(void **state)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf sb = STRBUF_INIT;

	varlist_set(&vl, "X", "1");
	strbuf_addstr(&sb, "pre:");
	vars_expand("$X", &vl, &sb);
	assert_string_equal(sb.buf, "pre:1");
	strbuf_release(&sb);
	varlist_clear(&vl);
}

static void test_nested(void **state)
{
	struct varlist vl = VARLIST_INIT;
	struct var *v;

	varlist_set(&vl, "B", "x");
	varlist_set(&vl, "A", "<$B>");
	varlist_set(&vl, "C", "${A}${A}");
	v = varlist_set(&vl, "RAW", "$B literally");
	v->expand = 0;
	varlist_set(&vl, "USES_RAW", "[$RAW]");
	expect_expand(&vl, "$A", "<x>");
	expect_expand(&vl, "$C", "<x><x>");
	expect_expand(&vl, "$RAW", "$B literally");
	expect_expand(&vl, "$USES_RAW", "[$B literally]");
	varlist_clear(&vl);
}

static void test_cycles_terminate(void **state)
{
	struct varlist vl = VARLIST_INIT;
	char *got;

	varlist_set(&vl, "A", "a$B");
	varlist_set(&vl, "B", "b$A");
	varlist_set(&vl, "SELF", "s$SELF");
	got = vars_expand_dup("$A", &vl);
	assert_string_equal(got, "ab$A");
	free(got);
	got = vars_expand_dup("$SELF", &vl);
	assert_string_equal(got, "s$SELF");
	free(got);
	varlist_clear(&vl);
}

static void test_depth_bounded(void **state)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf name = STRBUF_INIT, val = STRBUF_INIT;
	char *got;
	int i;

	/* V0 -> V1 -> ... -> V19: expansion stops after a fixed depth */
	for (i = 0; i < 20; i++) {
		strbuf_reset(&name);
		strbuf_reset(&val);
		strbuf_addf(&name, "V%d", i);
		strbuf_addf(&val, "%d,$V%d", i, i + 1);
		varlist_set(&vl, name.buf, val.buf);
	}
	strbuf_release(&name);
	strbuf_release(&val);
	got = vars_expand_dup("$V0", &vl);
	assert_true(!strncmp(got, "0,1,2,3,4,5,6,7,8,9,", 20));
	assert_non_null(strchr(got, '$'));
	free(got);
	varlist_clear(&vl);
}

static void test_blowup_capped(void **state)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf name = STRBUF_INIT;
	char *got;
	int i;

	/* each level references the next 16 times: 16^10 would be huge */
	for (i = 0; i < 12; i++) {
		struct strbuf v = STRBUF_INIT;
		int k;

		for (k = 0; k < 16; k++)
			strbuf_addf(&v, "$L%d", i + 1);
		strbuf_reset(&name);
		strbuf_addf(&name, "L%d", i);
		varlist_set(&vl, name.buf, v.buf);
		strbuf_release(&v);
	}
	strbuf_release(&name);
	varlist_set(&vl, "L12", "xxxxxxxxxxxxxxxx");
	got = vars_expand_dup("$L0", &vl);
	assert_true(strlen(got) <= 1024 * 1024);
	free(got);
	varlist_clear(&vl);
}

static void test_expand_all(void **state)
{
	struct varlist vl = VARLIST_INIT;
	struct var *v;

	varlist_set(&vl, "HOST", "db");
	varlist_set(&vl, "URL", "postgres://$HOST:${PORT}/x");
	varlist_set(&vl, "PORT", "5432");
	v = varlist_set(&vl, "PASS", "pa$$w$HOST");
	v->expand = 0;
	varlist_set(&vl, "PATH", "/opt/bin:$PATH");
	varlist_set(&vl, "DOLLAR", "a$$b");
	vars_expand_all(&vl);
	assert_string_equal(varlist_get(&vl, "URL"), "postgres://db:5432/x");
	assert_string_equal(varlist_get(&vl, "PASS"), "pa$$w$HOST");
	assert_string_equal(varlist_get(&vl, "PATH"), "/opt/bin:$PATH");
	assert_string_equal(varlist_get(&vl, "DOLLAR"), "a$b");
	assert_string_equal(varlist_get(&vl, "HOST"), "db");
	varlist_clear(&vl);

	/* values are expanded against the list before any change */
	varlist_set(&vl, "A", "$B");
	varlist_set(&vl, "B", "$$C");
	vars_expand_all(&vl);
	assert_string_equal(varlist_get(&vl, "A"), "$C");
	assert_string_equal(varlist_get(&vl, "B"), "$C");
	varlist_clear(&vl);

	vars_expand_all(&vl); /* empty list */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_cycles_terminate),
		cmocka_unit_test(test_depth_bounded),
		cmocka_unit_test(test_blowup_capped),
		cmocka_unit_test(test_expand_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
