/*
 * Unit tests for the project settings rules shared by the API and the
 * web UI (src/server/settings.c) that need no store: protected branch
 * lists, variable keys, roles; and the form field reader the settings
 * page uses with its own caps (src/web/page.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server.h"
#include "util/strvec.h"
#include "web/page.h"

/* settings_protected_list on the globs of a NULL-terminated list; its status */
static int protect(const char *const *g, char **ret, struct strbuf *msg)
{
	struct strvec v = STRVEC_INIT;
	int rc;

	for (; *g; g++)
		strvec_push(&v, *g);
	rc = settings_protected_list(&v, ret, msg);
	strvec_clear(&v);
	return rc;
}

static void test_protected_list(void **state)
{
	struct strbuf msg = STRBUF_INIT;
	struct strvec many = STRVEC_INIT;
	char *list = NULL, long_glob[SETTINGS_MAX_GLOB + 2];
	const char *ok[] = { "main", "release/*", NULL };
	const char *none[] = { NULL };
	const char *bad[][3] = {
		{ "main", "", NULL }, { "a,b", NULL }, { "rel\001ease", NULL },
		{ "a\nb", NULL }, { "a\177", NULL }, { long_glob, NULL },
	};
	size_t i;

	assert_int_equal(protect(ok, &list, &msg), 0);
	assert_string_equal(list, "main,release/*");
	free(list);
	assert_int_equal(protect(none, &list, &msg), 0);
	assert_string_equal(list, "");	/* none protected, not the default branch */
	free(list);
	memset(long_glob, 'a', sizeof(long_glob) - 1);
	long_glob[sizeof(long_glob) - 1] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		list = (char *)"untouched";
		assert_int_equal(protect(bad[i], &list, &msg), 400);
		assert_null(list);
		assert_non_null(strstr(msg.buf, "protected_branches must be null"));
	}
	long_glob[SETTINGS_MAX_GLOB] = '\0';	/* exactly the cap */
	{
		const char *at_cap[] = { long_glob, NULL };

		assert_int_equal(protect(at_cap, &list, &msg), 0);
		free(list);
	}
	for (i = 0; i <= SETTINGS_MAX_PROTECTED; i++)
		strvec_pushf(&many, "b%zu", i);
	assert_int_equal(settings_protected_list(&many, &list, &msg), 400);
	strvec_pop(&many);
	assert_int_equal(settings_protected_list(&many, &list, &msg), 0);
	free(list);
	strvec_clear(&many);
	strbuf_release(&msg);
}

static void test_variable_key(void **state)
{
	struct strbuf msg = STRBUF_INIT;
	char k[258];

	assert_int_equal(settings_variable_key_ok("DEPLOY_KEY", &msg), 0);
	assert_int_equal(settings_variable_key_ok("_x9", &msg), 0);
	assert_int_equal(settings_variable_key_ok("1BAD", &msg), 400);
	assert_string_equal(msg.buf, "variable names are [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes");
	assert_int_equal(settings_variable_key_ok("", &msg), 400);
	assert_int_equal(settings_variable_key_ok(NULL, &msg), 400);
	assert_int_equal(settings_variable_key_ok("A-B", &msg), 400);
	assert_int_equal(settings_variable_key_ok("A B", &msg), 400);
	memset(k, 'K', 255);
	k[255] = '\0';
	assert_int_equal(settings_variable_key_ok(k, &msg), 0);
	k[255] = 'K';
	k[256] = '\0';
	assert_int_equal(settings_variable_key_ok(k, &msg), 400);
	strbuf_release(&msg);
}

static void test_role(void **state)
{
	struct strbuf msg = STRBUF_INIT;

	assert_int_equal(settings_role_parse("viewer", &msg), ROLE_VIEWER);
	assert_int_equal(settings_role_parse("maintainer", &msg), ROLE_MAINTAINER);
	assert_int_equal(settings_role_parse("owner", &msg), -1);
	assert_string_equal(msg.buf, "role must be viewer, developer or maintainer");
	assert_int_equal(settings_role_parse(NULL, &msg), -1);
	strbuf_release(&msg);
}

static void test_form_caps(void **state)
{
	struct strbuf out = STRBUF_INIT;
	const char *b = "a=1&key=A%5Fb+c&big=xxxxxxxxxx&nul=a%00b";

	assert_int_equal(page_form_value(b, strlen(b), "key", &out), 0);
	assert_string_equal(out.buf, "A_b c");
	assert_int_equal(page_form_value(b, strlen(b), "nope", &out), -1);
	assert_int_equal(page_form_value_max(b, strlen(b), "big", 10, &out), 0);
	assert_int_equal(page_form_value_max(b, strlen(b), "big", 9, &out), -2);
	assert_int_equal(page_form_value_max(b, strlen(b), "big", 3, &out), -2);	/* raw cap */
	assert_int_equal(page_form_value(b, strlen(b), "nul", &out), 0);
	assert_string_equal(out.buf, "ab");
	strbuf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protected_list),
		cmocka_unit_test(test_variable_key),
		cmocka_unit_test(test_role),
		cmocka_unit_test(test_form_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
