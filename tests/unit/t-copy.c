/* Unit tests for src/exec/copy.c: copy_rmtree, copy_mkdirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/copy.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[4096];

static int setup(void **state)
{
	return test_tmpdir(root, sizeof(root), "cidre-t-copy");
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

/* A tree that only its owner may remove, and only after chmods. */
static void make_locked_tree(const char *top)
{
	test_sh(root, "mkdir -p %s/a/b %s/ro/sub %s/none/inner %s/gone && "
		"echo x > %s/a/b/f && echo y > %s/ro/sub/g && ln -s /etc %s/link && "
		"echo z > %s/ro/h && chmod 555 %s/ro/sub %s/ro && chmod 000 %s/none && "
		"chmod 000 %s/gone && chmod 500 %s", top, top, top, top, top, top,
		top, top, top, top, top, top, top);
}

static void test_rmtree_plain(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *top = xasprintf("%s/plain", root);

	test_sh(root, "mkdir -p plain/x/y && echo a > plain/x/y/a && "
		"ln -s /nonexistent plain/dangling && mkfifo plain/fifo");
	assert_int_equal(copy_rmtree(top, &err), 0);
	assert_int_equal(access(top, F_OK), -1);
	/* gone already: nothing to do */
	assert_int_equal(copy_rmtree(top, &err), 0);
	assert_int_equal(err.len, 0);
	/* a symbolic link is removed, not followed */
	test_sh(root, "mkdir -p keep && echo k > keep/k && ln -s keep lnk");
	free(top);
	top = xasprintf("%s/lnk", root);
	assert_int_equal(copy_rmtree(top, &err), 0);
	free(top);
	top = xasprintf("%s/keep/k", root);
	assert_int_equal(access(top, F_OK), 0);
	free(top);
	strbuf_release(&err);
}

/*
 * Directories of 000, 0500 and 0555 that their owner made, removed by
 * that owner (not root, which no mode stops): a child that becomes
 * nobody when the tests run as root, the test's own user otherwise.
 */
static void test_rmtree_locked_dirs(void **state)
{
	char *top = xasprintf("%s/locked/t", root);
	pid_t pid;
	int st;

	if (!geteuid())
		test_sh(root, "chmod 755 . && mkdir locked && chown 65534:65534 locked");
	else
		test_sh(root, "mkdir locked");
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct strbuf err = STRBUF_INIT;

		if (!geteuid() && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		if (mkdir(top, 0755) < 0)
			_exit(3);
		make_locked_tree(top);
		if (copy_rmtree(top, &err) < 0) {
			fprintf(stderr, "copy_rmtree: %s\n", err.buf);
			_exit(1);
		}
		_exit(access(top, F_OK) == 0 ? 4 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	free(top);
}

static void test_mkdirs(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *p = xasprintf("%s/m/n/o", root), *f = xasprintf("%s/file", root);
	char *under = xasprintf("%s/file/x", root);

	assert_int_equal(copy_mkdirs(p, &err), 0);
	assert_int_equal(copy_mkdirs(p, &err), 0);
	test_sh(root, "touch file");
	assert_int_equal(copy_mkdirs(under, &err), -1);
	assert_non_null(strstr(err.buf, "not a directory"));
	free(p);
	free(f);
	free(under);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rmtree_plain),
		cmocka_unit_test(test_rmtree_locked_dirs),
		cmocka_unit_test(test_mkdirs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
