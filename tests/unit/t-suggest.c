/* Unit tests for src/util/suggest.c: "did you mean", and when not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <getopt.h>

#include "util/suggest.h"

static const char *const keywords[] = {
	"script", "before_script", "after_script", "stage", "stages", "variables",
	"rules", "when", "needs", "artifacts", "cache", "image", "tags",
};
#define NK (sizeof(keywords) / sizeof(keywords[0]))

static void assert_suggests(const char *word, const char *want)
{
	const char *got = suggest_from(word, keywords, NK);

	if (!want)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

static void test_typos(void **state)
{
	assert_suggests("scirpt", "script");     /* a swap: one edit */
	assert_suggests("srcipt", "script");
	assert_suggests("scrip", "script");      /* a deletion */
	assert_suggests("scriptt", "script");    /* an insertion */
	assert_suggests("Script", "script");     /* case alone: nothing */
	assert_suggests("varaibles", "variables");
	assert_suggests("befor_script", "before_script");
	assert_suggests("artefacts", "artifacts");
	assert_suggests("imgae", "image");
	assert_suggests("stgae", "stage");       /* closer than "stages" */
	assert_suggests("stagess", "stages");
	assert_suggests("wehn", "when");
	assert_suggests("tag", "tags");
}

static void test_too_far(void **state)
{
	assert_suggests("services", NULL);
	assert_suggests("xyz", NULL);
	assert_suggests("a", NULL);
	assert_suggests("", NULL);
	assert_suggests("environment", NULL);
	/* 3 bytes: one edit at most */
	assert_suggests("gat", NULL);
	/* the word itself is no suggestion */
	assert_suggests("script", NULL);
	/* longer than any candidate could be */
	assert_suggests("a_very_long_word_that_is_nothing_like_any_keyword_at_all_really_no", NULL);
	assert_null(suggest_from(NULL, keywords, NK));
	assert_null(suggest_from("scirpt", NULL, 0));
}

static void test_first_of_equals(void **state)
{
	static const char *const c[] = { "build", "built", "guild" };

	/* "buil" is one edit from "build" and from "built": the first wins */
	assert_string_equal(suggest_from("buil", c, 3), "build");
}

static void test_incremental_and_hint(void **state)
{
	struct suggest s;
	char buf[64];

	suggest_init(&s, "biuld");
	suggest_add(&s, NULL);
	suggest_add(&s, "test");
	suggest_add(&s, "build");
	suggest_add(&s, "deploy");
	assert_string_equal(s.best, "build");
	assert_string_equal(suggest_hint(buf, sizeof(buf), s.best),
			    "; did you mean \"build\"?");
	assert_string_equal(suggest_hint(buf, sizeof(buf), NULL), "");
	/* a small buffer is cut, still a string */
	assert_string_equal(suggest_hint(buf, 8, "build"), "; did y");
}

static void test_long_options(void **state)
{
	static const struct option opts[] = {
		{ "executor", required_argument, NULL, 1 },
		{ "json", optional_argument, NULL, 2 },
		{ "jobs", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};

	assert_string_equal(suggest_long_option("--exector", opts), "executor");
	assert_string_equal(suggest_long_option("--jsno=x", opts), "json");
	assert_string_equal(suggest_long_option("--jbos", opts), "jobs");
	/* known (its argument was the trouble), short, not an option */
	assert_null(suggest_long_option("--executor", opts));
	assert_null(suggest_long_option("--json=", opts));
	assert_null(suggest_long_option("-x", opts));
	assert_null(suggest_long_option("exector", opts));
	assert_null(suggest_long_option("--", opts));
	assert_null(suggest_long_option("--=x", opts));
	assert_null(suggest_long_option("--frobnicate", opts));
	assert_null(suggest_long_option(NULL, opts));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typos),
		cmocka_unit_test(test_too_far),
		cmocka_unit_test(test_first_of_equals),
		cmocka_unit_test(test_incremental_and_hint),
		cmocka_unit_test(test_long_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
