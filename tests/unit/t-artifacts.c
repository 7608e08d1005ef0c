/* Unit tests for src/exec/artifacts.c: globs, collection, restore. */
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

#include "exec/artifacts.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[4096];

static int setup(void **state)
{
	return test_tmpdir(root, sizeof(root), "cidre-t-art");
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static const struct {
	const char *pat, *path;
	int want;
} globs[] = {
	{ "*.txt", "a.txt", 1 },
	{ "*.txt", "dir/a.txt", 0 },
	{ "*", "a", 1 },
	{ "*", "a/b", 0 },
	{ "dir/*", "dir/a", 1 },
	{ "dir/*", "dir/a/b", 0 },
	{ "**", "a/b/c", 1 },
	{ "**/*.o", "x.o", 1 },
	{ "**/*.o", "a/b/x.o", 1 },
	{ "**/*.o", "a/b/x.c", 0 },
	{ "build/**", "build/a/b", 1 },
	{ "build/**", "builds/a", 0 },
	{ "a/**/z", "a/z", 1 },
	{ "a/**/z", "a/b/c/z", 1 },
	{ "a/**/z", "a/b/c/zz", 0 },
	{ "?.c", "a.c", 1 },
	{ "?.c", "ab.c", 0 },
	{ "?", "/", 0 },
	{ "[abc].c", "b.c", 1 },
	{ "[abc].c", "d.c", 0 },
	{ "[!abc].c", "d.c", 1 },
	{ "[^abc].c", "a.c", 0 },
	{ "[a-z]x", "qx", 1 },
	{ "[a-z]x", "Qx", 0 },
	{ "[]]", "]", 1 },
	{ "a[/]b", "a/b", 0 },
	{ "[abc", "[abc", 1 },
	{ "\\*", "*", 1 },
	{ "\\*", "a", 0 },
	{ "./out/*.log", "out/x.log", 1 },
	{ "dist", "dist", 1 },
	{ "dist", "dist/x", 0 },
	{ "a*b*c", "aXXbYYc", 1 },
	{ "a*b*c", "aXXbYY/c", 0 },
	{ "", "", 1 },
	{ "x**y", "xay", 1 },
	{ "x**y", "xa/y", 0 },
};

static void test_glob_table(void **state)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < ARRAY_SIZE(globs); i++) {
		int got = glob_match_path(globs[i].pat, globs[i].path);

		if (got != globs[i].want) {
			print_message("glob '%s' on '%s': got %d want %d\n",
				      globs[i].pat, globs[i].path, got, globs[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void collect(const char *const *paths, const char *const *exclude,
		    int untracked, const char *const *tracked,
		    const char *want_files, const char *want_warn)
{
	struct strvec p = STRVEC_INIT, ex = STRVEC_INIT, tr = STRVEC_INIT;
	struct strvec files = STRVEC_INIT;
	struct strbuf warn = STRBUF_INIT, err = STRBUF_INIT, got = STRBUF_INIT;
	struct strbuf wd = STRBUF_INIT, dest = STRBUF_INIT;
	struct collect_spec spec;
	int r;

	for (; paths && *paths; paths++)
		strvec_push(&p, *paths);
	for (; exclude && *exclude; exclude++)
		strvec_push(&ex, *exclude);
	for (; tracked && *tracked; tracked++)
		strvec_push(&tr, *tracked);
	spec.paths = &p;
	spec.exclude = &ex;
	spec.untracked = untracked;
	spec.tracked = &tr;
	strbuf_addf(&wd, "%s/wd", root);
	strbuf_addf(&dest, "%s/out", root);
	r = artifacts_collect(wd.buf, &spec, dest.buf, &files, &warn, &err);
	if (r)
		print_message("collect: %s\n", err.buf);
	assert_int_equal(r, 0);
	test_join(&files, &got);
	if (strcmp(got.buf, want_files) || strcmp(warn.buf, want_warn))
		print_message("got:  [%s] warn [%s]\nwant: [%s] warn [%s]\n",
			      got.buf, warn.buf, want_files, want_warn);
	assert_string_equal(got.buf, want_files);
	assert_string_equal(warn.buf, want_warn);
	strvec_clear(&p);
	strvec_clear(&ex);
	strvec_clear(&tr);
	strvec_clear(&files);
	strbuf_release(&warn);
	strbuf_release(&err);
	strbuf_release(&got);
	strbuf_release(&wd);
	strbuf_release(&dest);
}

static void make_wd(void)
{
	test_sh(root, "rm -rf wd out && mkdir -p wd/dist/sub wd/src wd/logs && "
	   "echo 1 > wd/dist/a.js && echo 2 > wd/dist/sub/b.js && "
	   "echo 3 > wd/dist/sub/b.map && echo 4 > wd/src/main.c && "
	   "echo 5 > wd/src/main.o && echo 6 > wd/logs/x.log && "
	   "echo 7 > wd/README && ln -s ../README wd/dist/readme-link && "
	   "ln -s /etc/passwd wd/dist/evil && ln -s ../../.. wd/src/up && "
	   "mkdir -p wd/.git && echo g > wd/.git/HEAD");
}

static void test_collect_dir_whole(void **state)
{
	const char *paths[] = { "dist/", NULL };

	make_wd();
	collect(paths, NULL, 0, NULL,
		"dist/a.js dist/readme-link dist/sub/b.js dist/sub/b.map",
		"refusing symlink pointing outside the workspace: dist/evil\n");
}

static void test_collect_globs_exclude(void **state)
{
	const char *paths[] = { "dist/**/*.js", "**/*.o", "nothing/*", NULL };
	const char *exclude[] = { "dist/sub/**", NULL };

	make_wd();
	collect(paths, exclude, 0, NULL, "dist/a.js src/main.o",
		"no matching files for path: nothing/*\n");
}

static void test_collect_traversal_refused(void **state)
{
	const char *paths[] = { "../etc", "/etc/passwd", "a/../../x", "logs", NULL };

	make_wd();
	collect(paths, NULL, 0, NULL, "logs/x.log",
		"refusing path outside the workspace: ../etc\n"
		"refusing path outside the workspace: /etc/passwd\n"
		"refusing path outside the workspace: a/../../x\n");
}

static void test_collect_untracked(void **state)
{
	const char *tracked[] = { "README", "src/main.c", "dist/a.js",
				  "dist/sub/b.js", "dist/sub/b.map",
				  "dist/readme-link", "dist/evil", "src/up", NULL };

	make_wd();
	collect(NULL, NULL, 1, tracked, "logs/x.log src/main.o", "");
}

static void test_collect_copies_content(void **state)
{
	const char *paths[] = { "dist", NULL };
	struct strbuf p = STRBUF_INIT, c = STRBUF_INIT;
	struct stat st;
	char buf[64];
	ssize_t n;

	make_wd();
	test_sh(root, "chmod 755 wd/dist/a.js");
	collect(paths, NULL, 0, NULL,
		"dist/a.js dist/readme-link dist/sub/b.js dist/sub/b.map",
		"refusing symlink pointing outside the workspace: dist/evil\n");
	strbuf_addf(&p, "%s/out/dist/sub/b.js", root);
	assert_int_equal(strbuf_read_file(&c, p.buf, 64), 0);
	assert_string_equal(c.buf, "2\n");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/out/dist/a.js", root);
	assert_int_equal(stat(p.buf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/out/dist/readme-link", root);
	n = readlink(p.buf, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "../README");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/out/dist/evil", root);
	assert_int_equal(lstat(p.buf, &st), -1);
	strbuf_release(&p);
	strbuf_release(&c);
}

static void test_restore(void **state)
{
	struct strbuf src = STRBUF_INIT, wd = STRBUF_INIT, err = STRBUF_INIT;
	struct strbuf p = STRBUF_INIT, c = STRBUF_INIT;
	struct stat st;

	test_sh(root, "rm -rf art ws outside && mkdir -p art/dist/sub ws/dist outside && "
	   "echo new > art/dist/a.js && echo deep > art/dist/sub/x && "
	   "echo old > ws/dist/a.js && echo keep > ws/keep && "
	   /* a symlink in the workspace where the artifact has a directory */
	   "ln -s ../outside ws/dist/sub");
	strbuf_addf(&src, "%s/art", root);
	strbuf_addf(&wd, "%s/ws", root);
	assert_int_equal(artifacts_restore(src.buf, wd.buf, &err), 0);
	strbuf_addf(&p, "%s/ws/dist/a.js", root);
	assert_int_equal(strbuf_read_file(&c, p.buf, 64), 0);
	assert_string_equal(c.buf, "new\n");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/ws/keep", root);
	assert_int_equal(stat(p.buf, &st), 0);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/ws/dist/sub", root);
	assert_int_equal(lstat(p.buf, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/outside/x", root);
	assert_int_equal(lstat(p.buf, &st), -1); /* nothing written through */

	/* a missing source is fine */
	strbuf_reset(&src);
	strbuf_addf(&src, "%s/none", root);
	assert_int_equal(artifacts_restore(src.buf, wd.buf, &err), 0);
	strbuf_release(&src);
	strbuf_release(&wd);
	strbuf_release(&err);
	strbuf_release(&p);
	strbuf_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_table),
		cmocka_unit_test(test_collect_dir_whole),
		cmocka_unit_test(test_collect_globs_exclude),
		cmocka_unit_test(test_collect_traversal_refused),
		cmocka_unit_test(test_collect_untracked),
		cmocka_unit_test(test_collect_copies_content),
		cmocka_unit_test(test_restore),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
