/*
 * Unit tests for src/git/mirror.c: mirrors, commit facts, changed files,
 * and checkouts into new and reused workspaces (real git repositories).
 */
#include <limits.h>
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

#include "git/mirror.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[PATH_MAX];
static char sha1[41], sha2[41];

#define GIT "git -c user.name=t -c user.email=t@example.com"

static void read_sha(const char *cmd, char *out)
{
	struct strbuf c = STRBUF_INIT;
	FILE *f;

	strbuf_addf(&c, "cd '%s' && %s", root, cmd);
	f = popen(c.buf, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 41, f));
	pclose(f);
	strbuf_release(&c);
}

static int exists(const char *rel)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int r;

	strbuf_addf(&p, "%s/%s", root, rel);
	r = lstat(p.buf, &st) == 0;
	strbuf_release(&p);
	return r;
}

static int setup(void **state)
{
	char made[PATH_MAX];

	if (test_tmpdir(made, sizeof(made), "cidre-t-mirror") || !realpath(made, root))
		return -1;
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	/* identity fixed here, whatever the caller exported */
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	test_sh(root, "git init -q -b main src && cd src && echo a >a && mkdir d && "
		"echo b >d/b && git add . && " GIT " commit -qm one");
	read_sha("git -C src rev-parse HEAD", sha1);
	test_sh(root, "cd src && git rm -q d/b && echo c >c && git add c && "
		GIT " commit -qm 'two: title' -m body");
	read_sha("git -C src rev-parse HEAD", sha2);
	return 0;
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static void test_mirror_facts(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, src = STRBUF_INIT;
	struct strvec changed = STRVEC_INIT, br = STRVEC_INIT;
	struct gitinfo gi;
	char sha[41];

	strbuf_addf(&m, "%s/m.git", root);
	strbuf_addf(&src, "%s/src", root);
	assert_int_equal(mirror_create(src.buf, m.buf, &err), 0);
	assert_int_equal(mirror_fetch(m.buf, &err), 0);
	assert_int_equal(mirror_resolve(m.buf, "main", sha, &err), 0);
	assert_string_equal(sha, sha2);
	assert_int_equal(mirror_resolve(m.buf, "nope", sha, &err), -1);
	assert_non_null(strstr(err.buf, "no commit named"));
	assert_int_equal(mirror_resolve(m.buf, "--upload-pack=x", sha, &err), -1);
	assert_true(mirror_has_commit(m.buf, sha1));
	assert_false(mirror_has_commit(m.buf, "0123456789012345678901234567890123456789"));
	assert_int_equal(mirror_commit(m.buf, sha2, &gi, &err), 0);
	assert_string_equal(gi.before_sha, sha1);
	assert_string_equal(gi.message, "two: title\n\nbody");
	assert_string_equal(gi.author, "t <t@example.com>");
	gitinfo_release(&gi);
	assert_int_equal(mirror_commit(m.buf, "refs/heads/main", &gi, &err), 0);
	assert_string_equal(gi.sha, sha2);
	gitinfo_release(&gi);
	assert_int_equal(mirror_commit(m.buf, "refs/heads/nope", &gi, &err), -1);
	{
		char *hb = mirror_head_branch(m.buf);

		assert_string_equal(hb, "main");
		free(hb);
	}
	assert_int_equal(mirror_changed(m.buf, sha1, sha2, &changed, &err), 0);
	assert_int_equal(changed.nr, 2);
	assert_string_equal(changed.v[0], "c");
	assert_string_equal(changed.v[1], "d/b");
	assert_int_equal(mirror_changed(m.buf, "0000000000000000000000000000000000000000", sha2,
					&changed, &err), 1);
	assert_int_equal(mirror_branches(m.buf, &br, &err), 0);
	assert_int_equal(br.nr, 2);
	assert_string_equal(br.v[0], "main");
	assert_string_equal(br.v[1], sha2);
	strvec_clear(&changed);
	strvec_clear(&br);
	strbuf_release(&m);
	strbuf_release(&src);
	strbuf_release(&err);
}

static void test_head_branch(void **state)
{
	struct strbuf p = STRBUF_INIT;
	char *hb;

	/* HEAD names master (git's default), only main was pushed */
	test_sh(root, "git init -q --bare hm.git && "
		"git --git-dir=hm.git symbolic-ref HEAD refs/heads/master && "
		"git -C src push -q ../hm.git main");
	strbuf_addf(&p, "%s/hm.git", root);
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "main");
	free(hb);
	/* the same with packed refs */
	test_sh(root, "git --git-dir=hm.git pack-refs --all");
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "main");
	free(hb);
	/* HEAD's own branch when it exists */
	test_sh(root, "git -C src push -q ../hm.git main:master");
	hb = mirror_head_branch(p.buf);
	assert_string_equal(hb, "master");
	free(hb);
	strbuf_release(&p);
}

static void test_checkout_new_and_reused(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, ws = STRBUF_INIT;
	char head[41];

	strbuf_addf(&m, "%s/m.git", root);
	strbuf_addf(&ws, "%s/ws", root);
	assert_int_equal(mirror_checkout(m.buf, sha1, "main", ws.buf, 1, &err), 0);
	assert_true(exists("ws/a") && exists("ws/d/b") && !exists("ws/c"));
	read_sha("git -C ws rev-parse HEAD", head);
	assert_string_equal(head, sha1);
	read_sha("git -C ws rev-parse main", head);
	assert_string_equal(head, sha1);
	/* what a job leaves behind: output, ignored files, a changed tracked file */
	test_sh(root, "cd ws && mkdir -p out && echo x >out/x && echo junk >a && "
		"echo out/ >.gitignore");
	assert_int_equal(mirror_checkout(m.buf, sha2, "main", ws.buf, 1, &err), 0);
	assert_true(exists("ws/a") && exists("ws/c"));
	assert_false(exists("ws/d/b"));
	assert_false(exists("ws/out"));
	assert_false(exists("ws/.gitignore"));
	test_sh(root, "cd ws && test \"$(cat a)\" = a && git diff --quiet HEAD && "
		"test -z \"$(git status --porcelain)\" && git log --oneline | grep -q two");
	read_sha("git -C ws rev-parse HEAD", head);
	assert_string_equal(head, sha2);
	/* the same commit again, after a job removed and changed tracked files */
	test_sh(root, "cd ws && rm a && echo changed >c && mkdir -p new && echo n >new/n && "
		"ln -s /etc/passwd link");
	assert_int_equal(mirror_checkout(m.buf, sha2, "main", ws.buf, 1, &err), 0);
	test_sh(root, "cd ws && test \"$(cat a)\" = a && test \"$(cat c)\" = c && "
		"test ! -e new && test ! -L link && test -z \"$(git status --porcelain)\"");
	assert_int_equal(mirror_checkout(m.buf, "not-a-sha", NULL, ws.buf, 1, &err), -1);
	/* without clean, a tree at the commit is left as it is */
	test_sh(root, "echo mine >ws/untracked");
	assert_int_equal(mirror_checkout(m.buf, sha2, NULL, ws.buf, 0, &err), 0);
	assert_true(exists("ws/untracked"));
	assert_int_equal(mirror_checkout(m.buf, sha1, NULL, ws.buf, 0, &err), 0);
	assert_true(exists("ws/d/b"));
	strbuf_release(&m);
	strbuf_release(&ws);
	strbuf_release(&err);
}

/* A tree too large to be rewritten whole is cleaned by git instead. */
static void test_checkout_large_reused(void **state)
{
	struct strbuf err = STRBUF_INIT, m = STRBUF_INIT, ws = STRBUF_INIT;
	char sha[41];

	test_sh(root, "git init -q -b main big && cd big && mkdir -p d && "
		"for i in $(seq 1 1200); do echo $i >d/file-with-a-longish-name-$i; done && "
		"git add . && " GIT " commit -qm big && git clone -q --mirror . ../big.git");
	read_sha("git -C big rev-parse HEAD", sha);
	strbuf_addf(&m, "%s/big.git", root);
	strbuf_addf(&ws, "%s/bigws", root);
	assert_int_equal(mirror_checkout(m.buf, sha, NULL, ws.buf, 1, &err), 0);
	test_sh(root, "test \"$(wc -c <bigws/.git/index)\" -gt 65536 && "
		"echo junk >bigws/out.o && echo x >bigws/d/file-with-a-longish-name-7 && "
		"rm bigws/d/file-with-a-longish-name-9");
	assert_int_equal(mirror_checkout(m.buf, sha, NULL, ws.buf, 1, &err), 0);
	test_sh(root, "cd bigws && test ! -e out.o && test \"$(cat d/file-with-a-longish-name-7)\" = 7 && "
		"test -f d/file-with-a-longish-name-9 && test -z \"$(git status --porcelain)\"");
	strbuf_release(&m);
	strbuf_release(&ws);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_facts),
		cmocka_unit_test(test_head_branch),
		cmocka_unit_test(test_checkout_new_and_reused),
		cmocka_unit_test(test_checkout_large_reused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
