/* Unit tests for src/pipeline/expr.c (GitLab CI variable expressions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pipeline/expr.h"
#include "pipeline/expr_regex.h"

static struct varlist vars;

static int setup(void **state)
{
	varlist_init(&vars);
	varlist_set(&vars, "EMPTY", "");
	varlist_set(&vars, "BLANK", "  ");
	varlist_set(&vars, "BRANCH", "main");
	varlist_set(&vars, "OTHER", "main");
	varlist_set(&vars, "FEATURE", "feature/login-42");
	varlist_set(&vars, "SOURCE", "merge_request_event");
	varlist_set(&vars, "PATTERN", "/^feature\\//");
	varlist_set(&vars, "PATTERN_I", "/^MAIN$/i");
	varlist_set(&vars, "NOT_A_PATTERN", "release main branch");
	varlist_set(&vars, "BAD_PATTERN", "/(/");
	varlist_set(&vars, "VERSION", "v1.22.3");
	varlist_set(&vars, "FALSE", "false");
	varlist_set(&vars, "MULTI", "line1\nline2");
	return 0;
}

static int teardown(void **state)
{
	varlist_clear(&vars);
	return 0;
}

/* Evaluate, asserting no error when want >= 0. */
static int ev(const char *e)
{
	struct strbuf err = STRBUF_INIT;
	int rc = expr_eval(e, &vars, &err);

	if (rc < 0)
		print_message("expr '%s': %s\n", e, err.buf);
	strbuf_release(&err);
	return rc;
}

#define T(e) assert_int_equal(ev(e), 1)
#define F(e) assert_int_equal(ev(e), 0)

/* Error expected; err must mention `frag`. */
static void expect_error(const char *e, const char *frag)
{
	struct strbuf err = STRBUF_INIT;

	int rc = expr_eval(e, &vars, &err);
	int found = strstr(err.buf, frag) != NULL;

	if (!found)
		print_message("expr '%s': error '%s' lacks '%s'\n", e, err.buf, frag);
	strbuf_reset(&err);
	assert_int_equal(rc, -1);
	assert_true(found);
	assert_int_equal(expr_check(e, &err), -1);
	assert_true(err.len > 0);
	strbuf_release(&err);
}

static void test_null_semantics(void **state)
{
	T("$UNDEFINED == null");
	F("$UNDEFINED != null");
	T("$EMPTY == \"\"");
	F("$EMPTY == null");
	T("$EMPTY != null");
	F("$UNDEFINED == \"\"");
	T("$UNDEFINED != \"\"");
	T("null == null");
	F("null != null");
	T("null == $UNDEFINED");
	F("$BRANCH == null");
	T("$BRANCH != null");
	T("$UNDEFINED == $ALSO_UNDEFINED");
	F("$EMPTY == $UNDEFINED");
}

static void test_truthiness(void **state)
{
	T("$BRANCH");
	F("$UNDEFINED");
	F("$EMPTY");
	F("$BLANK"); /* GitLab: blank strings are not "present" */
	T("$FALSE"); /* a non-empty string, whatever it says */
	T("\"x\"");
	F("\"\"");
	F("''");
	F("null");
	T("/x/");
	T("($BRANCH)");
	F("(($UNDEFINED))");
}

static void test_string_compare(void **state)
{
	T("$BRANCH == \"main\"");
	T("$BRANCH == 'main'");
	T("\"main\" == $BRANCH");
	F("$BRANCH == \"Main\"");
	F("$BRANCH == \"main \"");
	T("$BRANCH != \"develop\"");
	T("$BRANCH == $OTHER");
	F("$BRANCH != $OTHER");
	F("$BRANCH == $FEATURE");
	T("'a b' == \"a b\"");
	T("'say \"hi\"' == 'say \"hi\"'");
	T("$SOURCE==\"merge_request_event\"");
	T("  $SOURCE   ==   'merge_request_event'  ");
	T("$1ABC == null");
}

static void test_regex(void **state)
{
	T("$BRANCH =~ /main/");
	T("$BRANCH =~ /ai/");           /* anywhere */
	F("$BRANCH =~ /^ai/");
	T("$BRANCH =~ /^main$/");
	F("$BRANCH =~ /^MAIN$/");
	T("$BRANCH =~ /^MAIN$/i");
	T("$FEATURE =~ /^feature\\//");
	T("$FEATURE =~ /login-\\d+$/");
	F("$FEATURE =~ /login-\\D+$/");
	T("$FEATURE =~ /^\\w+\\/\\w+-\\d{2}$/");
	T("$VERSION =~ /^v\\d+\\.\\d+\\.\\d+$/");
	F("$VERSION =~ /^v\\d+\\.\\d+$/");
	T("$VERSION =~ /^v(?:\\d+\\.){2}\\d+$/");
	T("$VERSION =~ /^v.*?3$/");
	T("$VERSION =~ /^[\\d.v]+$/");
	T("$VERSION =~ /^v\\d{1,3}(\\.\\d{1,3}){2}$/");
	T("\"a{b}\" =~ /a{b}/");        /* not a repetition: literal braces */
	T("$BRANCH =~ /^(m(a(i)))n$/");
	T("$FEATURE =~ /\\S+\\/\\S+/");
	F("$FEATURE =~ /\\s/");
	T("$BRANCH !~ /^release/");
	F("$BRANCH !~ /main/");
	T("$FEATURE =~ /feature|hotfix/");
	T("$BRANCH =~ /(?i)MAIN/");
	T("\"abc\" =~ /b/");
	T("$MULTI =~ /^line2$/m");
	F("$MULTI =~ /^line2$/");
}

static void test_regex_null(void **state)
{
	F("$UNDEFINED =~ /.*/");
	T("$UNDEFINED !~ /.*/");
	F("$BRANCH =~ $UNDEFINED");
	T("$BRANCH !~ $UNDEFINED");
	T("$EMPTY =~ /^$/");
	F("null =~ /x/");
}

static void test_regex_from_variable(void **state)
{
	T("$FEATURE =~ $PATTERN");
	F("$BRANCH =~ $PATTERN");
	T("$BRANCH !~ $PATTERN");
	T("$BRANCH =~ $PATTERN_I");
	T("$FEATURE =~ \"/^feat/\"");
	/* not a pattern: GitLab tests whether the right side contains the left */
	T("$BRANCH =~ $NOT_A_PATTERN");
	F("$FEATURE =~ $NOT_A_PATTERN");
	/* an invalid pattern from a variable falls back the same way */
	F("$BRANCH =~ $BAD_PATTERN");
	T("\"(\" =~ $BAD_PATTERN");
}

static void test_precedence(void **state)
{
	/* && binds tighter than || */
	T("$BRANCH == \"main\" || $UNDEFINED && $NOPE");
	T("$UNDEFINED && $NOPE || $BRANCH");
	F("$UNDEFINED && ($NOPE || $BRANCH)");
	T("($UNDEFINED || $BRANCH) && $FEATURE");
	F("$BRANCH && $FEATURE && $UNDEFINED");
	T("$UNDEFINED || $EMPTY || $BRANCH");
	F("$UNDEFINED || $EMPTY || $BLANK");
	/* comparison binds tighter than && */
	T("$BRANCH == \"main\" && $SOURCE =~ /merge/");
	F("$BRANCH == \"main\" && $SOURCE !~ /merge/");
	T("($BRANCH == \"main\") == ($OTHER == \"main\")");
	T("((($BRANCH == \"main\")))");
	T("$BRANCH == 'x' || $BRANCH == 'y' || $BRANCH == 'main'");
	T("($BRANCH == 'x' || $SOURCE == 'merge_request_event') && $FEATURE =~ /login/");
}

static void test_syntax_errors(void **state)
{
	expect_error("", "empty");
	expect_error("   ", "empty");
	expect_error("$BRANCH ==", "expected a value");
	expect_error("== 'x'", "expected a value");
	expect_error("$BRANCH = 'main'", "unexpected '='");
	expect_error("$BRANCH == 'main", "unterminated string");
	expect_error("$BRANCH =~ /main", "unterminated regular expression");
	expect_error("($BRANCH", "expected ')'");
	expect_error("$BRANCH)", "unexpected ')'");
	expect_error("$BRANCH $OTHER", "unexpected variable");
	expect_error("${BRANCH} == 'main'", "${NAME}");
	expect_error("$ == 'x'", "variable name");
	expect_error("$A & $B", "unexpected '&'");
	expect_error("$A | $B", "unexpected '|'");
	expect_error("!$A", "unexpected '!'");
	expect_error("$A == main", "unexpected 'm'");
	expect_error("$A =~ /(/", "invalid regular expression");
	expect_error("$A =~ //", "empty pattern");
	expect_error("$A =~ /x/q", "unsupported flag");
	expect_error("$A =~ /(?<n>x)/", "unsupported group");
	expect_error("$A =~ /\\p{L}/", "unsupported escape");
	expect_error("$A =~ /(a)\\1/", "backreferences");
	expect_error("$A == 'x' &&", "expected a value");
	expect_error("$A =~ /a++/", "bad repetition");
	expect_error("$A =~ /a**/", "bad repetition");
	expect_error("$A =~ /a*?" "?/", "bad repetition");
	expect_error("$A =~ /a{2}{3}/", "bad repetition");
	expect_error("$A =~ /a{1001}/", "too large");
	expect_error("$A =~ /((a{10}){10}){11}/", "too large");
	expect_error("nullx == 'x'", "unexpected 'n'");
	expect_error("$A == \x01", "unexpected byte 0x01");
}

static void test_errors_independent_of_values(void **state)
{
	/* the right side of a decided || is still parsed and checked */
	expect_error("$BRANCH || $A ==", "expected a value");
	expect_error("$UNDEFINED && (", "expected a value");
}

static void test_limits(void **state)
{
	struct strbuf e = STRBUF_INIT;
	struct strbuf err = STRBUF_INIT;
	int i;

	for (i = 0; i < 64; i++)
		strbuf_addch(&e, '(');
	strbuf_addstr(&e, "$BRANCH");
	for (i = 0; i < 64; i++)
		strbuf_addch(&e, ')');
	assert_int_equal(expr_eval(e.buf, &vars, &err), 1);

	strbuf_reset(&e);
	for (i = 0; i < 65; i++)
		strbuf_addch(&e, '(');
	strbuf_addstr(&e, "$BRANCH");
	for (i = 0; i < 65; i++)
		strbuf_addch(&e, ')');
	assert_int_equal(expr_eval(e.buf, &vars, &err), -1);
	assert_non_null(strstr(err.buf, "nested too deeply"));

	strbuf_reset(&e);
	strbuf_reset(&err);
	strbuf_addstr(&e, "$BRANCH == '");
	while (e.len < 4096)
		strbuf_addch(&e, 'x');
	strbuf_addch(&e, '\'');
	assert_int_equal(expr_eval(e.buf, &vars, &err), -1);
	assert_non_null(strstr(err.buf, "too long"));

	/* long flat chains are fine (no recursion per operator) */
	strbuf_reset(&e);
	strbuf_addstr(&e, "$BRANCH");
	while (e.len < 4000)
		strbuf_addstr(&e, " && $BRANCH");
	assert_int_equal(expr_eval(e.buf, &vars, &err), 1);

	strbuf_release(&e);
	strbuf_release(&err);
}

static void test_check(void **state)
{
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(expr_check("$CI_COMMIT_BRANCH == \"main\"", &err), 0);
	assert_int_equal(expr_check("$A =~ /^v\\d+/ && ($B || $C != null)", &err), 0);
	assert_int_equal(expr_check("$X", &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(expr_eval("$X", NULL, &err), 0);
	strbuf_release(&err);
}

static void test_regex_helper(void **state)
{
	struct strbuf err = STRBUF_INIT;
	const char *b, *f;
	size_t bl, fl;

	assert_int_equal(expr_regex_match_literal("/^release-.*$/", "release-1.2", &err), 1);
	assert_int_equal(expr_regex_match_literal("/^release-.*$/", "main", &err), 0);
	assert_int_equal(expr_regex_match_literal("/^RE/i", "release", &err), 1);
	assert_int_equal(expr_regex_match_literal("nope", "x", &err), -1);
	assert_int_equal(expr_regex_literal("/a\\/b/im", &b, &bl, &f, &fl), 1);
	assert_int_equal(bl, 4);
	assert_int_equal(fl, 2);
	assert_int_equal(expr_regex_literal("/a/ x", &b, &bl, &f, &fl), 0);
	assert_int_equal(expr_regex_literal("//", &b, &bl, &f, &fl), 0);
	assert_int_equal(expr_regex_literal("/abc", &b, &bl, &f, &fl), 0);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_semantics),
		cmocka_unit_test(test_truthiness),
		cmocka_unit_test(test_string_compare),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_null),
		cmocka_unit_test(test_regex_from_variable),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_errors_independent_of_values),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_regex_helper),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
