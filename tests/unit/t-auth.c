/* Unit tests for src/server/auth.c: passwords, rehash, rate limit, CSRF, roles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "server/auth.h"
#include "testlib.h"
#include "util/xalloc.h"

static char tmp[4096];

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-auth");
}

static int teardown(void **state)
{
	return test_rmtree(tmp);
}

static struct store *open_store(const char *name)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = NULL;
	char *path = xasprintf("%s/%s.db", tmp, name);

	if (store_open(path, &st, &err))
		fail_msg("store_open: %s", err.buf);
	free(path);
	strbuf_release(&err);
	return st;
}

static void test_password_and_rehash(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_store("pw");
	char weak[crypto_pwhash_STRBYTES];
	struct store_user u = { .login = "ann" }, got;

	assert_int_equal(auth_init(), 0);
	/* a hash made with other (weaker) costs, as an older cidre might have */
	assert_int_equal(crypto_pwhash_str(weak, "old-password", 12, 1, 8u << 20), 0);
	u.password = weak;
	assert_int_equal(store_user_add(st, &u, &err), 0);
	assert_int_equal(auth_password_check(st, "ann", "wrong-password", "10.0.0.1", &got, &err),
			 -1);
	assert_non_null(strstr(err.buf, "wrong login or password"));
	assert_int_equal(auth_password_check(st, "ann", "old-password", "10.0.0.1", &got, &err), 0);
	assert_non_null(strstr(got.password, "$argon2id$v=19$m=19456,t=2,p=1$"));
	store_user_release(&got);
	/* stored again with today's costs, and still the same password */
	assert_int_equal(store_user_get(st, "ann", &got, &err), 0);
	assert_non_null(strstr(got.password, "m=19456,t=2"));
	store_user_release(&got);
	assert_int_equal(auth_password_check(st, "ann", "old-password", "10.0.0.1", &got, &err), 0);
	store_user_release(&got);
	/* an unknown login: the same answer */
	strbuf_reset(&err);
	assert_int_equal(auth_password_check(st, "nobody", "x-password", "10.0.0.1", &got, &err), -1);
	assert_string_equal(err.buf, "wrong login or password");
	store_close(st);
	strbuf_release(&err);
}

static void test_rate_limit(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_store("rl");
	char *h = auth_password_hash("right-password", &err);
	struct store_user u = { .login = "bea", .password = h }, got;
	int i;

	assert_non_null(h);
	assert_int_equal(store_user_add(st, &u, &err), 0);
	for (i = 0; i < AUTH_LOGIN_FAILURES; i++)
		assert_int_equal(auth_password_check(st, "bea", "nope-nope", "10.0.0.2", &got, &err),
				 -1);
	/* locked: even the right password, from anywhere */
	assert_int_equal(auth_password_check(st, "bea", "right-password", "10.0.0.3", &got, &err),
			 -2);
	/* another login from the same address is not locked (20 allowed) */
	assert_int_equal(auth_password_check(st, "cid", "whatever-1", "10.0.0.2", &got, &err), -1);
	free(h);
	store_close(st);
	strbuf_release(&err);
}

static void test_csrf_and_roles(void **state)
{
	struct principal who;
	char tok[AUTH_TOKEN_HEX + 1], other[AUTH_TOKEN_HEX + 1];

	memset(&who, 0, sizeof(who));
	assert_int_equal(auth_csrf_ok(&who, NULL), 1);	/* not a session: no CSRF token */
	auth_random_hex(tok, AUTH_TOKEN_HEX / 2);
	auth_random_hex(other, AUTH_TOKEN_HEX / 2);
	assert_int_equal(strlen(tok), AUTH_TOKEN_HEX);
	assert_string_not_equal(tok, other);
	who.via_session = 1;
	memcpy(who.csrf, tok, sizeof(tok));
	assert_int_equal(auth_csrf_ok(&who, NULL), 0);
	assert_int_equal(auth_csrf_ok(&who, ""), 0);
	assert_int_equal(auth_csrf_ok(&who, other), 0);
	assert_int_equal(auth_csrf_ok(&who, tok), 1);
	assert_string_equal(role_name(ROLE_DEVELOPER), "developer");
	assert_int_equal(role_parse("maintainer"), ROLE_MAINTAINER);
	assert_int_equal(role_parse("owner"), -1);
	assert_string_equal(auth_actor(&who), "anonymous");
	who.admin = 1;
	assert_string_equal(auth_actor(&who), "admin-token");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_and_rehash),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_csrf_and_roles),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
