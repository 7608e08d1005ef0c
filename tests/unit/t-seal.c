/*
 * Unit tests for src/server/seal.c: the data directory's key (made,
 * read back, refused when others may read it or it is not a key), values
 * sealed and opened (empty, several lines, long), a value damaged or
 * sealed with another key refused, clear values from before sealing
 * given back as they are and sealed by seal_migrate() in a real store
 * without changing anything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/seal.h"
#include "store/store.h"
#include "store/store_notify.h"
#include "testlib.h"
#include "util/xalloc.h"

static char tmp[256];

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-seal");
}

static int teardown(void **state)
{
	seal_release();
	return test_rmtree(tmp);
}

static char *dir(const char *name)
{
	char *d = xasprintf("%s/%s", tmp, name);

	mkdir(d, 0700);
	return d;
}

static void init_ok(const char *d)
{
	struct strbuf err = STRBUF_INIT;

	if (seal_init(d, NULL, &err) < 0)
		fail_msg("seal_init %s: %s", d, err.buf);
	strbuf_release(&err);
}

static char *open_ok(const char *stored)
{
	struct strbuf err = STRBUF_INIT;
	char *v = NULL;

	if (seal_open(stored, &v, &err) < 0)
		fail_msg("seal_open: %s", err.buf);
	strbuf_release(&err);
	return v;
}

static void test_key_file(void **state)
{
	char *d = dir("key"), *path = xasprintf("%s/%s", d, SEAL_KEY_FILE);
	struct strbuf err = STRBUF_INIT;
	struct stat st;
	FILE *f;

	init_ok(d);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	/* others may read it: refused */
	chmod(path, 0644);
	assert_int_equal(seal_init(d, NULL, &err), -1);
	assert_non_null(strstr(err.buf, "must be 0600"));
	chmod(path, 0600);
	/* not a key */
	f = fopen(path, "w");
	fputs("0123\n", f);
	fclose(f);
	strbuf_reset(&err);
	assert_int_equal(seal_init(d, NULL, &err), -1);
	assert_non_null(strstr(err.buf, "not a key"));
	/* without a key nothing sealed opens */
	strbuf_reset(&err);
	{
		char *v = NULL;

		assert_int_equal(seal_open(SEAL_PREFIX "AAAA", &v, &err), -1);
		assert_null(v);
	}
	strbuf_release(&err);
	free(path);
	free(d);
}

static void test_round_trip(void **state)
{
	char *d = dir("rt"), *other = dir("other"), long_value[20000];
	const char *values[] = { "", "s3cret-value", "line one\nline two\n", long_value };
	struct strbuf err = STRBUF_INIT;
	size_t i;

	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	init_ok(d);
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *a = seal_value(values[i]), *b = seal_value(values[i]), *v;

		assert_true(seal_is_sealed(a));
		assert_null(strstr(a, values[i][0] ? values[i] : "\x01"));
		assert_string_not_equal(a, b);          /* a new nonce each time */
		v = open_ok(a);
		assert_string_equal(v, values[i]);
		free(v);
		free(a);
		free(b);
	}
	/* a clear value from before sealing: as it is */
	{
		char *v = open_ok("old-clear-value");

		assert_string_equal(v, "old-clear-value");
		free(v);
	}
	/* damaged: one character changed; another key */
	{
		char *a = seal_value("s3cret-value"), *v = NULL;
		size_t n = strlen(a);

		a[n - 3] = a[n - 3] == 'A' ? 'B' : 'A';
		assert_int_equal(seal_open(a, &v, &err), -1);
		assert_null(v);
		free(a);
		a = seal_value("s3cret-value");
		init_ok(other);
		strbuf_reset(&err);
		assert_int_equal(seal_open(a, &v, &err), -1);
		assert_non_null(strstr(err.buf, SEAL_KEY_FILE));
		/* the first key again (read from its file): it opens */
		init_ok(d);
		v = open_ok(a);
		assert_string_equal(v, "s3cret-value");
		free(v);
		free(a);
		strbuf_reset(&err);
		assert_int_equal(seal_open(SEAL_PREFIX "!!not base64!!", &v, &err), -1);
	}
	strbuf_release(&err);
	free(d);
	free(other);
}

static void test_migrate(void **state)
{
	char *d = dir("mig"), *db = xasprintf("%s/mig/cidre.db", tmp);
	struct store_project p = {
		.name = "app", .repo = "/srv/git/app.git",
		.hook_secret = "hook-clear", .webhook_secret = "webhook-clear",
	};
	struct strbuf err = STRBUF_INIT;
	struct store *st = NULL;
	struct store_variable *v = NULL;
	struct store_secret *left = NULL;
	struct store_project got;
	size_t n = 0;
	int64_t updated;
	char *text = NULL, *clear;

	init_ok(d);
	assert_int_equal(store_open(db, &st, &err), 0);
	assert_int_equal(store_project_add(st, &p, &err), 0);
	assert_int_equal(store_variable_set(st, p.id, "TOKEN", "variable-clear", 1, 0, &err), 0);
	assert_int_equal(store_notify_settings_set(st, p.id, "{\"forge\":{\"token\":\"t\"}}",
						   &err), 0);
	assert_int_equal(store_variable_list(st, p.id, 1, &v, &n, &err), 0);
	updated = v[0].updated;
	store_variables_free(v, n);

	assert_int_equal(seal_migrate(st, &err), 4);
	assert_int_equal(seal_migrate(st, &err), 0);    /* nothing left in clear */
	assert_int_equal(store_secret_list(st, SEAL_PREFIX, 0, &left, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_secret_list(st, SEAL_PREFIX, 1, &left, &n, &err), 0);
	assert_int_equal(n, 4);
	store_secrets_free(left, n);

	assert_int_equal(store_variable_list(st, p.id, 1, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_true(seal_is_sealed(v[0].value));
	assert_int_equal(v[0].updated, updated);        /* nothing else changed */
	assert_int_equal(v[0].masked, 1);
	clear = open_ok(v[0].value);
	assert_string_equal(clear, "variable-clear");
	free(clear);
	store_variables_free(v, n);

	assert_int_equal(store_notify_settings_get(st, p.id, &text, &err), 0);
	assert_true(seal_is_sealed(text));
	clear = open_ok(text);
	assert_string_equal(clear, "{\"forge\":{\"token\":\"t\"}}");
	free(clear);
	free(text);

	memset(&got, 0, sizeof(got));
	assert_int_equal(store_project_get(st, "app", &got, &err), 0);
	assert_true(seal_is_sealed(got.hook_secret) && seal_is_sealed(got.webhook_secret));
	clear = open_ok(got.webhook_secret);
	assert_string_equal(clear, "webhook-clear");
	free(clear);
	clear = open_ok(got.hook_secret);
	assert_string_equal(clear, "hook-clear");
	free(clear);
	store_project_release(&got);

	/* the key gone while sealed values remain: refused, not replaced */
	{
		char *path = xasprintf("%s/%s", d, SEAL_KEY_FILE);

		assert_int_equal(unlink(path), 0);
		strbuf_reset(&err);
		assert_int_equal(seal_init(d, st, &err), -1);
		assert_non_null(strstr(err.buf, "is missing"));
		assert_int_equal(access(path, F_OK), -1);
		free(path);
	}
	store_close(st);
	strbuf_release(&err);
	free(db);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_migrate),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
