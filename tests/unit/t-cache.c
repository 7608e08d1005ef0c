/* Unit tests for src/exec/cache.c: keys, save/restore, fallbacks, policy. */
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

#include "exec/cache.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[4096];

static int setup(void **state)
{
	return test_tmpdir(root, sizeof(root), "cidre-t-cache");
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static void cache_init(struct cache *c)
{
	memset(c, 0, sizeof(*c));
	strvec_init(&c->key_files);
	strvec_init(&c->paths);
	strvec_init(&c->fallback_keys);
}

static void cache_release(struct cache *c)
{
	free(c->key);
	free(c->key_prefix);
	free(c->policy_expr);
	strvec_clear(&c->key_files);
	strvec_clear(&c->paths);
	strvec_clear(&c->fallback_keys);
}

static char *key_of(const struct cache *c, const struct varlist *vars)
{
	struct strbuf k = STRBUF_INIT, wd = STRBUF_INIT;

	strbuf_addf(&wd, "%s/wd", root);
	cache_key(c, wd.buf, vars, &k);
	strbuf_release(&wd);
	return strbuf_detach(&k, NULL);
}

static void expect_key(const char *key, const struct varlist *vars,
		       const char *want)
{
	struct cache c;
	char *k;

	cache_init(&c);
	c.key = xstrdup_or_null(key);
	k = key_of(&c, vars);
	assert_string_equal(k, want);
	free(k);
	cache_release(&c);
}

static void test_key_string(void **state)
{
	struct varlist v = VARLIST_INIT;

	varlist_set(&v, "CI_COMMIT_REF_SLUG", "main");
	varlist_set(&v, "REF", "feature/x");
	expect_key("$CI_COMMIT_REF_SLUG-deps", &v, "main-deps");
	expect_key("$REF", &v, "feature_x");
	expect_key(".", &v, "_");
	expect_key("..", &v, "__");
	expect_key(NULL, &v, "default");
	expect_key("$UNSET", &v, "default");
	varlist_clear(&v);
}

static void test_key_files(void **state)
{
	struct varlist v = VARLIST_INIT;
	struct cache c;
	char *k1, *k2, *k3, *k4;

	test_sh(root, "rm -rf wd && mkdir wd && echo 'lock v1' > wd/Gemfile.lock && : > wd/empty");
	cache_init(&c);
	strvec_push(&c.key_files, "Gemfile.lock");
	c.key_prefix = xstrdup("$P");
	varlist_set(&v, "P", "gems");
	k1 = key_of(&c, &v);
	k2 = key_of(&c, &v);
	assert_string_equal(k1, k2);
	assert_int_equal(strncmp(k1, "gems-", 5), 0);
	assert_int_equal(strlen(k1), 5 + 64);
	test_sh(root, "echo 'lock v2' > wd/Gemfile.lock");
	k3 = key_of(&c, &v);
	assert_string_not_equal(k1, k3);
	/* a missing file hashes as an empty one */
	strvec_clear(&c.key_files);
	strvec_push(&c.key_files, "missing");
	free(c.key_prefix);
	c.key_prefix = NULL;
	k4 = key_of(&c, &v);
	assert_int_equal(strlen(k4), 64);
	free(k1);
	free(k2);
	free(k3);
	free(k4);
	cache_release(&c);
	varlist_clear(&v);
}

static int exists(const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int r;

	strbuf_addf(&p, "%s/%s", root, rel);
	r = !lstat(p.buf, &st);
	strbuf_release(&p);
	return r;
}

static void test_save_restore(void **state)
{
	struct varlist v = VARLIST_INIT;
	struct strvec tracked = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, cd = STRBUF_INIT, wd = STRBUF_INIT;
	struct strbuf wd2 = STRBUF_INIT;
	struct cache c;
	char *hit = NULL;

	test_sh(root, "rm -rf wd wd2 cache && mkdir -p wd/vendor/lib wd2 && echo x > wd/vendor/lib/x && "
	   "echo t > wd/tracked.c && echo u > wd/untracked.tmp");
	strbuf_addf(&cd, "%s/cache", root);
	strbuf_addf(&wd, "%s/wd", root);
	strbuf_addf(&wd2, "%s/wd2", root);
	strvec_push(&tracked, "tracked.c");
	cache_init(&c);
	c.key = xstrdup("k1");
	strvec_push(&c.paths, "vendor/");

	/* when: on_success and the job failed: nothing saved */
	assert_int_equal(cache_save(cd.buf, &c, "k1", &v, wd.buf, &tracked, 0, &err), 0);
	assert_false(exists("cache/k1"));
	/* policy pull: nothing saved */
	c.policy = CACHE_PULL;
	assert_int_equal(cache_save(cd.buf, &c, "k1", &v, wd.buf, &tracked, 1, &err), 0);
	assert_false(exists("cache/k1"));
	c.policy = CACHE_PULL_PUSH;
	c.untracked = 1;
	assert_int_equal(cache_save(cd.buf, &c, "k1", &v, wd.buf, &tracked, 1, &err), 0);
	assert_true(exists("cache/k1/vendor/lib/x"));
	assert_true(exists("cache/k1/untracked.tmp"));
	assert_false(exists("cache/k1/tracked.c"));
	/* saving again replaces the tree */
	test_sh(root, "rm wd/untracked.tmp");
	assert_int_equal(cache_save(cd.buf, &c, "k1", &v, wd.buf, &tracked, 1, &err), 0);
	assert_false(exists("cache/k1/untracked.tmp"));

	/* restore: exact key */
	assert_int_equal(cache_restore(cd.buf, &c, "k1", &v, wd2.buf, &hit, &err), 0);
	assert_non_null(hit);
	assert_string_equal(hit, "k1");
	assert_true(exists("wd2/vendor/lib/x"));
	free(hit);

	/* fallback_keys, expanded */
	test_sh(root, "rm -rf wd2 && mkdir wd2");
	varlist_set(&v, "FB", "k1");
	strvec_push(&c.fallback_keys, "nope");
	strvec_push(&c.fallback_keys, "$FB");
	assert_int_equal(cache_restore(cd.buf, &c, "other", &v, wd2.buf, &hit, &err), 0);
	assert_non_null(hit);
	assert_string_equal(hit, "k1");
	free(hit);

	/* CACHE_FALLBACK_KEY */
	strvec_clear(&c.fallback_keys);
	varlist_set(&v, "CACHE_FALLBACK_KEY", "k1");
	assert_int_equal(cache_restore(cd.buf, &c, "other", &v, wd2.buf, &hit, &err), 0);
	assert_string_equal(hit, "k1");
	free(hit);

	/* policy push (given as a variable): no restore */
	c.policy_expr = xstrdup("$POL");
	varlist_set(&v, "POL", "push");
	assert_int_equal(cache_restore(cd.buf, &c, "k1", &v, wd2.buf, &hit, &err), 0);
	assert_null(hit);

	/* miss */
	varlist_set(&v, "POL", "pull");
	varlist_set(&v, "CACHE_FALLBACK_KEY", "");
	assert_int_equal(cache_restore(cd.buf, &c, "none", &v, wd2.buf, &hit, &err), 0);
	assert_null(hit);

	cache_release(&c);
	varlist_clear(&v);
	strvec_clear(&tracked);
	strbuf_release(&err);
	strbuf_release(&cd);
	strbuf_release(&wd);
	strbuf_release(&wd2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_string),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_save_restore),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
