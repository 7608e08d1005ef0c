/*
 * Unit tests for src/git/gitinfo.c (real repositories in a temp dir, the
 * git command line underneath) and the proc_capture() it runs git with.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/proc.h"
#include "git/gitinfo.h"
#include "git/predefined.h"
#include "util/xalloc.h"
#include "testlib.h"

static char root[PATH_MAX];

#define ZEROS "0000000000000000000000000000000000000000"

/* First line of a command's output, run in root. */
static char *sh_out(const char *cmd)
{
	struct strbuf c = STRBUF_INIT;
	char line[4096];
	FILE *f;

	strbuf_addf(&c, "cd '%s' && %s", root, cmd);
	f = popen(c.buf, "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	strbuf_release(&c);
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

#define GIT "git -c user.name=t -c user.email=t@example.com"

static int setup(void **state)
{
	char made[PATH_MAX];

	if (test_tmpdir(made, sizeof(made), "cidre-t-gi") ||
	    !realpath(made, root))
		return -1;
	/* No user or system configuration: init.defaultBranch is ours. */
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	unsetenv("GIT_CONFIG_GLOBAL");
	unsetenv("XDG_CONFIG_HOME");
	/* Identity and dates fixed here, whatever the caller exported. */
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "c", 1);
	setenv("GIT_COMMITTER_EMAIL", "c@example.com", 1);
	setenv("GIT_COMMITTER_DATE", "2024-02-03T04:05:06+0200", 1);
	setenv("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z", 1);
	return 0;
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

static void read_ok(const char *rel, struct gitinfo *gi)
{
	struct strbuf dir = STRBUF_INIT, err = STRBUF_INIT;
	int r;

	strbuf_addf(&dir, "%s/%s", root, rel);
	r = gitinfo_read(dir.buf, gi, &err);
	if (r)
		print_message("gitinfo_read(%s): %s\n", dir.buf, err.buf);
	assert_int_equal(r, 0);
	strbuf_release(&dir);
	strbuf_release(&err);
}

static void expect_changed(const struct gitinfo *gi, int want_ret,
			   const char *want)
{
	struct strvec v = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, got = STRBUF_INIT;
	int r = gitinfo_changed_files(gi, &v, &err);

	if (r != want_ret)
		print_message("gitinfo_changed_files: %d %s\n", r, err.buf);
	assert_int_equal(r, want_ret);
	test_join(&v, &got);
	if (want)
		assert_string_equal(got.buf, want);
	strvec_clear(&v);
	strbuf_release(&err);
	strbuf_release(&got);
}

static void test_not_a_repo(void **state)
{
	struct gitinfo gi;
	struct strbuf want = STRBUF_INIT;

	test_sh(root, "mkdir -p plain/sub");
	read_ok("plain/sub", &gi);
	strbuf_addf(&want, "%s/plain/sub", root);
	assert_int_equal(gi.is_repo, 0);
	assert_string_equal(gi.toplevel, want.buf);
	assert_string_equal(gi.sha, ZEROS);
	assert_string_equal(gi.before_sha, ZEROS);
	assert_null(gi.branch);
	assert_null(gi.tag);
	assert_string_equal(gi.default_branch, "main");
	assert_string_equal(gi.message, "");
	assert_null(gi.remote_url);
	expect_changed(&gi, 1, NULL);
	gitinfo_release(&gi);
	strbuf_release(&want);
}

static void test_branch(void **state)
{
	struct gitinfo gi;
	struct strbuf want = STRBUF_INIT;
	char *head, *parent;

	test_sh(root, "mkdir br && cd br && git init -q -b main && echo 1 > f && "
	   GIT " add f && " GIT " commit -qm one && echo 2 > f && "
	   "printf 'two: the title\\n\\nthe body\\n' > ../msg && "
	   GIT " commit -qaF ../msg && mkdir -p deep/er");
	head = sh_out("git -C br rev-parse HEAD");
	parent = sh_out("git -C br rev-parse HEAD^");
	/* from a subdirectory: the repository's root is the toplevel */
	read_ok("br/deep/er", &gi);
	strbuf_addf(&want, "%s/br", root);
	assert_int_equal(gi.is_repo, 1);
	assert_string_equal(gi.toplevel, want.buf);
	assert_string_equal(gi.sha, head);
	assert_string_equal(gi.before_sha, parent);
	assert_string_equal(gi.branch, "main");
	assert_null(gi.tag);
	assert_string_equal(gi.default_branch, "main");
	assert_string_equal(gi.message, "two: the title\n\nthe body\n");
	assert_string_equal(gi.author, "t <t@example.com>");
	/* the committer's time, in UTC */
	assert_string_equal(gi.timestamp, "2024-02-03T02:05:06Z");
	assert_null(gi.remote_url);
	gitinfo_release(&gi);
	free(head);
	free(parent);
	strbuf_release(&want);
}

static void test_detached_tag(void **state)
{
	struct gitinfo gi;

	test_sh(root, "mkdir tg && cd tg && git init -q -b main && echo 1 > f && "
	   GIT " add f && " GIT " commit -qm one && "
	   GIT " tag -a v2.0 -m release && " GIT " tag b-light && "
	   "echo 2 > f && " GIT " commit -qam two && " GIT " tag later && "
	   "git checkout -q v2.0");
	read_ok("tg", &gi);
	assert_null(gi.branch);
	/* annotated tags count (peeled); of two, the first by name */
	assert_string_equal(gi.tag, "b-light");
	assert_string_equal(gi.before_sha, ZEROS); /* a root commit */
	assert_string_equal(gi.message, "one\n");
	/* a root commit on no branch: nothing to compare with */
	expect_changed(&gi, 1, NULL);
	gitinfo_release(&gi);

	/* detached where no tag points */
	test_sh(root, "cd tg && git checkout -q --detach main && " GIT " commit -q --allow-empty -m three");
	read_ok("tg", &gi);
	assert_null(gi.branch);
	assert_null(gi.tag);
	gitinfo_release(&gi);
}

static void test_unborn(void **state)
{
	struct gitinfo gi;

	test_sh(root, "mkdir ub && cd ub && git init -q -b trunk && echo a > a");
	read_ok("ub", &gi);
	assert_int_equal(gi.is_repo, 1);
	assert_string_equal(gi.branch, "trunk");
	assert_string_equal(gi.sha, ZEROS);
	assert_string_equal(gi.before_sha, ZEROS);
	assert_string_equal(gi.message, "");
	assert_string_equal(gi.author, "");
	assert_string_equal(gi.timestamp, "");
	assert_string_equal(gi.default_branch, "main");
	expect_changed(&gi, 1, NULL);
	gitinfo_release(&gi);
}

static void test_default_branch(void **state)
{
	struct gitinfo gi;
	struct strbuf want = STRBUF_INIT;

	/* origin/HEAD names it (a clone of a repository on "dev") */
	test_sh(root, "mkdir up && cd up && git init -q -b dev && echo 1 > f && "
	   GIT " add f && " GIT " commit -qm one && cd .. && "
	   "git clone -q up cl && cd cl && git checkout -q -b feature");
	read_ok("cl", &gi);
	assert_string_equal(gi.branch, "feature");
	assert_string_equal(gi.default_branch, "dev");
	strbuf_addf(&want, "%s/up", root);
	assert_string_equal(gi.remote_url, want.buf);
	gitinfo_release(&gi);

	/* origin's URL goes through url.<base>.insteadOf, longest first */
	test_sh(root, "cd cl && git config url.https://a.example/.insteadOf '%s/' && "
	   "git config url.https://b.example/x/.insteadOf '%s/u'", root, root);
	read_ok("cl", &gi);
	assert_string_equal(gi.remote_url, "https://b.example/x/p");
	gitinfo_release(&gi);

	/* no origin/HEAD: init.defaultBranch */
	test_sh(root, "cd cl && git remote set-head origin -d && "
	   "git config init.defaultBranch stable");
	read_ok("cl", &gi);
	assert_string_equal(gi.default_branch, "stable");
	gitinfo_release(&gi);

	/* neither: an existing master (there is no main) */
	test_sh(root, "mkdir ms && cd ms && git init -q -b master && echo 1 > f && "
	   GIT " add f && " GIT " commit -qm one && git checkout -q -b topic");
	read_ok("ms", &gi);
	assert_string_equal(gi.default_branch, "master");
	gitinfo_release(&gi);
	strbuf_release(&want);
}

static void test_changed_files(void **state)
{
	struct gitinfo gi;

	test_sh(root, "mkdir ch && cd ch && git init -q -b main && "
	   "echo a > a && echo b > b && echo '*.log' > .gitignore && "
	   GIT " add . && " GIT " commit -qm base && "
	   "echo a2 >> a && " GIT " commit -qam main-moves-on && "
	   "git checkout -q -b feature HEAD^ && "
	   "echo c > c && " GIT " add c && " GIT " commit -qm add-c && "
	   "echo b2 >> b && mkdir -p new/dir && echo u > new/dir/u && "
	   "echo l > x.log && git rm -q --cached a");
	read_ok("ch", &gi);
	assert_string_equal(gi.branch, "feature");
	/*
	 * Since the merge base with main: main's own later change to a is
	 * not ours; c committed, b modified, a dropped from the index but
	 * still on disk (deleted and untracked: once), new/dir/u untracked;
	 * x.log ignored.
	 */
	expect_changed(&gi, 0, "a b c new/dir/u");
	gitinfo_release(&gi);

	/* on the default branch: HEAD's own change (since its parent) */
	test_sh(root, "cd ch && " GIT " stash -q -u && git checkout -q main");
	read_ok("ch", &gi);
	assert_string_equal(gi.branch, "main");
	expect_changed(&gi, 0, "a");
	gitinfo_release(&gi);

	/* a branch with no history shared with the default: its parent */
	test_sh(root, "cd ch && git checkout -q --orphan lone && " GIT " commit -qm l1 && "
	   "echo z > z && " GIT " add z && " GIT " commit -qm l2");
	read_ok("ch", &gi);
	expect_changed(&gi, 0, "z");
	gitinfo_release(&gi);
}

static void test_env_and_bare(void **state)
{
	struct gitinfo gi;
	struct strbuf err = STRBUF_INIT, dir = STRBUF_INIT;

	/* a hook's GIT_DIR / GIT_INDEX_FILE do not redirect us */
	test_sh(root, "mkdir e1 e2 && cd e1 && git init -q -b one && cd ../e2 && "
	   "git init -q -b two");
	strbuf_addf(&dir, "%s/e2/.git", root);
	setenv("GIT_DIR", dir.buf, 1);
	setenv("GIT_INDEX_FILE", "/nonexistent/index", 1);
	read_ok("e1", &gi);
	unsetenv("GIT_DIR");
	unsetenv("GIT_INDEX_FILE");
	assert_string_equal(gi.branch, "one");
	gitinfo_release(&gi);

	test_sh(root, "git init -q --bare bare.git");
	strbuf_reset(&dir);
	strbuf_addf(&dir, "%s/bare.git", root);
	assert_int_equal(gitinfo_read(dir.buf, &gi, &err), -1);
	assert_non_null(strstr(err.buf, "bare"));
	strbuf_release(&err);
	strbuf_release(&dir);
}

static void test_proc_capture(void **state)
{
	static const char *const echo[] = { "sh", "-c", "printf 'a\\0b'; echo oops >&2; exit 3", NULL };
	static const char *const big[] = { "sh", "-c", "yes | head -c 100000", NULL };
	static const char *const pwd[] = { "sh", "-c", "pwd; echo \"$FOO-$BAR\"", NULL };
	static const char *const none[] = { "cidre-no-such-command", NULL };
	static const char *const env[] = { "FOO=set", "BAR", NULL };
	struct proc_capture pc[3];
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	int st = 0;
	size_t i;

	/* stdout exact (NULs kept), status, stderr left in err */
	assert_int_equal(proc_capture(echo, NULL, NULL, 100, &out, &st, &err), 0);
	assert_int_equal(st, 3);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.buf, "a\0b", 3);
	assert_string_equal(err.buf, "oops");

	/* over the cap: killed, an error */
	strbuf_reset(&out);
	strbuf_reset(&err);
	assert_int_equal(proc_capture(big, NULL, NULL, 1000, &out, &st, &err), -1);
	assert_non_null(strstr(err.buf, "1000"));
	assert_true(out.len <= 1000);

	/* not found */
	strbuf_reset(&err);
	assert_int_equal(proc_capture(none, NULL, NULL, 10, &out, &st, &err), -1);
	assert_non_null(strstr(err.buf, "cidre-no-such-command"));

	/* several at once; cwd and environment changes */
	setenv("BAR", "inherited", 1);
	for (i = 0; i < 3; i++) {
		proc_capture_init(&pc[i]);
		pc[i].argv = pwd;
		pc[i].cwd = root;
		pc[i].env = env;
		pc[i].max_out = 4096;
	}
	strbuf_reset(&err);
	assert_int_equal(proc_capture_all(pc, 3, &err), 0);
	unsetenv("BAR");
	strbuf_addf(&want, "%s\nset-\n", root);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pc[i].status, 0);
		assert_string_equal(pc[i].out.buf, want.buf);
		proc_capture_release(&pc[i]);
	}
	strbuf_release(&out);
	strbuf_release(&err);
	strbuf_release(&want);
}

/* A server's URL as GitLab's CI_SERVER_* and its pages' URLs */
static void test_server_urls(void **state)
{
	static const struct { const char *url, *proto, *host, *port, *fqdn; } cases[] = {
		{ "http://127.0.0.1:8080", "http", "127.0.0.1", "8080", "127.0.0.1:8080" },
		{ "https://ci.example.com", "https", "ci.example.com", "443", "ci.example.com" },
		{ "http://ci.example.com/cidre", "http", "ci.example.com", "80", "ci.example.com" },
		{ "http://[::1]:9000", "http", "[::1]", "9000", "[::1]:9000" },
		{ "https://[::1]/x", "https", "[::1]", "443", "[::1]" },
	};
	struct gitinfo gi = { 1, "/srv/app", ZEROS, ZEROS, "main", NULL, NULL, "main",
			      "m", "a <a@b>", "2026-01-01T00:00:00Z", NULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ci_predef o = { "/b", ".gitlab-ci.yml", "push", "r", "app", "g", 7,
				       cases[i].url };
		struct varlist vl = VARLIST_INIT;
		char want[256];

		ci_predefined(&gi, &o, &vl);
		assert_string_equal(varlist_get(&vl, "CI_SERVER_URL"), cases[i].url);
		assert_string_equal(varlist_get(&vl, "CI_SERVER_PROTOCOL"), cases[i].proto);
		assert_string_equal(varlist_get(&vl, "CI_SERVER_HOST"), cases[i].host);
		assert_string_equal(varlist_get(&vl, "CI_SERVER_PORT"), cases[i].port);
		assert_string_equal(varlist_get(&vl, "CI_SERVER_FQDN"), cases[i].fqdn);
		snprintf(want, sizeof(want), "%s/pipelines/7", cases[i].url);
		assert_string_equal(varlist_get(&vl, "CI_PIPELINE_URL"), want);
		snprintf(want, sizeof(want), "%s/pages/app", cases[i].url);
		assert_string_equal(varlist_get(&vl, "CI_PAGES_URL"), want);
		snprintf(want, sizeof(want), "%s/p/app", cases[i].url);
		assert_string_equal(varlist_get(&vl, "CI_PROJECT_URL"), want);
		varlist_clear(&vl);
	}
	{
		/* cidre run: no server, none of them */
		struct ci_predef o = { "/b", ".gitlab-ci.yml", "push", "r", "app", "g", 7, NULL };
		struct varlist vl = VARLIST_INIT;

		ci_predefined(&gi, &o, &vl);
		assert_null(varlist_get(&vl, "CI_SERVER_URL"));
		assert_null(varlist_get(&vl, "CI_PAGES_URL"));
		varlist_clear(&vl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_a_repo),
		cmocka_unit_test(test_branch),
		cmocka_unit_test(test_detached_tag),
		cmocka_unit_test(test_unborn),
		cmocka_unit_test(test_default_branch),
		cmocka_unit_test(test_changed_files),
		cmocka_unit_test(test_env_and_bare),
		cmocka_unit_test(test_proc_capture),
		cmocka_unit_test(test_server_urls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
