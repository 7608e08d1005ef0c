/* Unit tests for src/exec/workspace.c: real git repositories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/workspace.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[4096];

#define GIT "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main"

static int setup(void **state)
{
	return test_tmpdir(root, sizeof(root), "cidre-t-ws");
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static void expect_list(const char *dir, const char *want)
{
	struct strvec files = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, got = STRBUF_INIT;
	int r = workspace_list(dir, &files, &err);

	if (r)
		print_message("workspace_list: %s\n", err.buf);
	assert_int_equal(r, 0);
	test_join(&files, &got);
	if (strcmp(got.buf, want))
		print_message("got:  %s\nwant: %s\n", got.buf, want);
	assert_string_equal(got.buf, want);
	strvec_clear(&files);
	strbuf_release(&err);
	strbuf_release(&got);
}

static void test_git_repo(void **state)
{
	struct strbuf dir = STRBUF_INIT;

	test_sh(root, "mkdir repo && cd repo && " GIT " init -q . && "
	   "echo a > a.txt && mkdir -p dir nested/deep && echo b > dir/b.txt && "
	   "echo c > nested/deep/c.txt && echo d > d.txt && "
	   "printf '*.log\\nbuild/\\n' > .gitignore && ln -s a.txt link && "
	   "printf '#!/bin/sh\\n' > script.sh && chmod 755 script.sh && "
	   GIT " add -A && " GIT " commit -qm init && "
	   "rm d.txt && echo changed >> a.txt && echo u > u.txt && "
	   "mkdir -p newdir/sub build && echo x > newdir/sub/x.txt && "
	   "echo l > out.log && echo o > build/o.bin && "
	   "mkdir -p .cidre && echo s > .cidre/state && "
	   "mkdir nested-repo && cd nested-repo && " GIT " init -q . && echo n > n");
	strbuf_addf(&dir, "%s/repo", root);
	expect_list(dir.buf, ".gitignore a.txt dir/b.txt link nested/deep/c.txt "
		    "newdir/sub/x.txt script.sh u.txt");
	/* from a subdirectory: paths relative to it */
	strbuf_addstr(&dir, "/nested");
	expect_list(dir.buf, "deep/c.txt");
	strbuf_release(&dir);
}

static void test_plain_dir(void **state)
{
	struct strbuf dir = STRBUF_INIT;

	test_sh(root, "mkdir plain && cd plain && mkdir -p x/y && echo 1 > x/y/f && "
	   "echo 2 > top && ln -s top l && mkdir -p .cidre && echo 3 > .cidre/s");
	strbuf_addf(&dir, "%s/plain", root);
	expect_list(dir.buf, "l top x/y/f");
	strbuf_release(&dir);
}

static void test_populate(void **state)
{
	struct strvec files = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, src = STRBUF_INIT, dst = STRBUF_INIT;
	struct strbuf p = STRBUF_INIT, content = STRBUF_INIT;
	struct stat st;
	char target[64];
	ssize_t n;

	test_sh(root, "mkdir -p src/d/e dst && echo hello > src/d/e/f && "
	   "printf '#!/bin/sh\\n' > src/run.sh && chmod 750 src/run.sh && "
	   "ln -s d/e/f src/lnk && echo stale > dst/stale");
	strbuf_addf(&src, "%s/src", root);
	strbuf_addf(&dst, "%s/dst", root);
	strvec_push(&files, "d/e/f");
	strvec_push(&files, "lnk");
	strvec_push(&files, "run.sh");
	strvec_push(&files, "vanished"); /* listed, then removed: skipped */
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);

	strbuf_addf(&p, "%s/stale", dst.buf);
	assert_int_equal(lstat(p.buf, &st), -1);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/d/e/f", dst.buf);
	assert_int_equal(strbuf_read_file(&content, p.buf, 100), 0);
	assert_string_equal(content.buf, "hello\n");
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/run.sh", dst.buf);
	assert_int_equal(lstat(p.buf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/lnk", dst.buf);
	assert_int_equal(lstat(p.buf, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(p.buf, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "d/e/f");

	/* a path escaping src is refused */
	strvec_clear(&files);
	strvec_push(&files, "../etc/passwd");
	strbuf_reset(&err);
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), -1);
	assert_non_null(strstr(err.buf, "outside"));

	strvec_clear(&files);
	strbuf_release(&err);
	strbuf_release(&src);
	strbuf_release(&dst);
	strbuf_release(&p);
	strbuf_release(&content);
}

/*
 * A second populate reuses the old workspace: whatever the last job
 * changed, added or planted is undone, and nothing outside is written.
 */
static void test_populate_again(void **state)
{
	struct strvec files = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, src = STRBUF_INIT, dst = STRBUF_INIT;
	struct strbuf p = STRBUF_INIT, content = STRBUF_INIT;
	struct stat st, before;

	test_sh(root, "mkdir -p again/src/d/e again/outside && cd again && "
	   "echo hello > src/d/e/f && echo same > src/keep && "
	   "printf '#!/bin/sh\\n' > src/run.sh && chmod 750 src/run.sh && "
	   "ln -s d/e/f src/lnk && echo secret > outside/f");
	strbuf_addf(&src, "%s/again/src", root);
	strbuf_addf(&dst, "%s/again/dst", root);
	strvec_push(&files, "d/e/f");
	strvec_push(&files, "keep");
	strvec_push(&files, "lnk");
	strvec_push(&files, "run.sh");
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);
	strbuf_addf(&p, "%s/keep", dst.buf);
	assert_int_equal(lstat(p.buf, &before), 0);

	/* what a job may leave behind */
	test_sh(root, "cd again/dst && echo junk > new && mkdir -p newdir/x && "
	   "echo y > newdir/x/y && echo HELLO > d/e/f.tmp && mv d/e/f.tmp d/e/f && "
	   "chmod 700 run.sh && rm lnk && ln -s /etc lnk && "
	   "rm -r d && ln -s ../outside d && mkfifo pipe");
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);

	test_sh(root, "cd again && diff -r --no-dereference src dst && "
	   "test \"$(cat outside/f)\" = secret && test ! -e outside/e && "
	   "test ! -e dst/new && test ! -e dst/newdir && test ! -e dst/pipe && "
	   "test -d dst/d && test ! -L dst/d && test \"$(readlink dst/lnk)\" = d/e/f");
	assert_int_equal(lstat(p.buf, &st), 0);
	assert_int_equal(st.st_ino, before.st_ino); /* unchanged: kept */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/run.sh", dst.buf);
	assert_int_equal(lstat(p.buf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);

	/* a file with the same size but other bytes, and a hard link out */
	test_sh(root, "cd again && echo SAME > dst/keep && ln dst/d/e/f outside/link");
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);
	test_sh(root, "cd again && diff -r --no-dereference src dst && "
	   "test \"$(cat outside/link)\" = hello");
	test_sh(root, "cd again && echo changed > src/d/e/f");
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);
	test_sh(root, "cd again && diff -r --no-dereference src dst && "
	   "test \"$(cat outside/link)\" = hello");

	/* the workspace itself replaced by a file */
	test_sh(root, "cd again && rm -rf dst && echo x > dst");
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);
	test_sh(root, "cd again && diff -r --no-dereference src dst");

	strvec_clear(&files);
	strbuf_release(&err);
	strbuf_release(&src);
	strbuf_release(&dst);
	strbuf_release(&p);
	strbuf_release(&content);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Figures for docs/internals/exec.md: a 200-file repository. */
static void test_speed_200(void **state)
{
	struct strvec files = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, src = STRBUF_INIT, dst = STRBUF_INIT;
	struct timespec t0;
	double list_ms, pop_ms;

	test_sh(root, "mkdir big && cd big && " GIT " init -q . && "
	   "for d in 0 1 2 3 4 5 6 7 8 9; do mkdir -p src/m$d; "
	   "for f in $(seq 1 18); do head -c 2000 /dev/urandom > src/m$d/f$f.c; done; done && "
	   GIT " add -A && " GIT " commit -qm init && "
	   "for f in $(seq 1 20); do echo $f > u$f.txt; done");
	strbuf_addf(&src, "%s/big", root);
	strbuf_addf(&dst, "%s/big-copy", root);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(workspace_list(src.buf, &files, &err), 0);
	list_ms = ms_since(&t0);
	assert_int_equal(files.nr, 200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(workspace_populate(src.buf, &files, dst.buf, &err), 0);
	pop_ms = ms_since(&t0);
	print_message("# 200 files: workspace_list %.2f ms, workspace_populate %.2f ms\n",
		      list_ms, pop_ms);
	strvec_clear(&files);
	strbuf_release(&err);
	strbuf_release(&src);
	strbuf_release(&dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_repo),
		cmocka_unit_test(test_plain_dir),
		cmocka_unit_test(test_populate),
		cmocka_unit_test(test_populate_again),
		cmocka_unit_test(test_speed_200),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
