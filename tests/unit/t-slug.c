/*
 * Unit tests for src/util/slug.c: GitLab's own cases for its
 * environment slug (its spec fixes the name's SHA-256 as 64 'a' hex
 * digits, whose suffix is "q517sa"), and real suffixes computed from
 * SHA-256 as GitLab does (Digest::SHA2.hexdigest(name).to_i(16).to_s(36)
 * .last(6)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/slug.h"

static void expect_slug(const char *name, const char *want, int fixed_digest)
{
	static const unsigned char aa[32] = {
		0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
		0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
		0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	};
	struct strbuf sb = STRBUF_INIT;

	if (fixed_digest)
		slug_environment_digest(&sb, name, aa);
	else
		slug_environment(&sb, name);
	if (strcmp(sb.buf, want))
		print_message("slug of '%s': got '%s', want '%s'\n", name, sb.buf, want);
	assert_string_equal(sb.buf, want);
	strbuf_release(&sb);
}

static void test_gitlab_cases(void **state)
{
	expect_slug("staging-12345678901234567", "staging-123456789-q517sa", 1);
	expect_slug("9-staging-123456789012345", "env-9-staging-123-q517sa", 1);
	expect_slug("staging-1234567890123456", "staging-1234567890123456", 1);
	expect_slug("staging-1234567890123456-", "staging-123456789-q517sa", 1);
	expect_slug("production", "production", 1);
	expect_slug("PRODUCTION", "production-q517sa", 1);
	expect_slug("review/1-foo", "review-1-foo-q517sa", 1);
	expect_slug("1-foo", "env-1-foo-q517sa", 1);
	expect_slug("1/foo", "env-1-foo-q517sa", 1);
	expect_slug("foo-", "foo", 1);
	expect_slug("foo--bar", "foo-bar-q517sa", 1);
	expect_slug("foo**bar", "foo-bar-q517sa", 1);
	expect_slug("*-foo", "env-foo-q517sa", 1);
	expect_slug("staging-12345678-", "staging-12345678", 1);
	expect_slug("staging-12345678-01234567", "staging-12345678-q517sa", 1);
	expect_slug("", "env-q517sa", 1);
}

static void test_real_suffixes(void **state)
{
	expect_slug("review/1-foo", "review-1-foo-9tdj0u", 0);
	expect_slug("PRODUCTION", "production-vl4voz", 0);
	expect_slug("", "env-qhkd3p", 0);
	expect_slug("production", "production", 0);
	/* bytes outside ASCII are no letters: one '-' for the run */
	expect_slug("r\xc3\xa9view", "r-view-mv6ub8", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gitlab_cases),
		cmocka_unit_test(test_real_suffixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
