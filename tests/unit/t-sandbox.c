/*
 * Unit tests for src/exec/sandbox.c: the bubblewrap command line, image
 * tarball member and symbolic link checks, the shell found in an image,
 * the trampoline's command line and the job description it reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include "exec/sandbox.h"

static char tmp[4096];

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-sandbox");
}

static int teardown(void **state)
{
	return test_rmtree(tmp);
}

/* Index of the first argument equal to a, followed by b (if b), or -1. */
static int find2(const struct strvec *v, const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < v->nr; i++)
		if (!strcmp(v->v[i], a) && (!b || (i + 1 < v->nr && !strcmp(v->v[i + 1], b))))
			return (int)i;
	return -1;
}

static void test_argv(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	struct sandbox_opts o = { "/usr/bin/bwrap", NULL, "/host/ws", "/builds/p", 0, -1, -1 };
	char *root = NULL, *bin = NULL;
	int i_ws, i_ro;

	test_sh(tmp, "mkdir -p img/bin img/usr img/proc img/builds img/tmp && "
		     "ln -s usr/lib img/lib && touch img/bin/sh && chmod +x img/bin/sh");
	assert_true(asprintf(&root, "%s/img", tmp) > 0);
	o.root = root;
	assert_int_equal(sandbox_argv(&o, &v, &err), 0);
	assert_string_equal(v.v[0], "/usr/bin/bwrap");
	assert_string_equal(v.v[v.nr - 1], "--");
	assert_true(find2(&v, "--unshare-net", NULL) > 0);
	assert_true(find2(&v, "--unshare-pid", NULL) > 0);
	assert_true(find2(&v, "--unshare-user", NULL) > 0);
	assert_true(find2(&v, "--die-with-parent", NULL) > 0);
	assert_true(find2(&v, "--cap-drop", "ALL") > 0);
	assert_true(find2(&v, "--uid", "65534") > 0);
	assert_true(find2(&v, "--symlink", "usr/lib") > 0);
	assert_true(asprintf(&bin, "%s/bin", root) > 0);
	assert_true(find2(&v, bin, "/bin") > 0);
	/* what the sandbox provides is never taken from the image */
	assert_int_equal(find2(&v, "/proc", "/proc") < 0 ? -1 : 0, -1);
	assert_true(find2(&v, "--proc", "/proc") > 0);
	assert_true(find2(&v, "--tmpfs", "/tmp") > 0);
	i_ws = find2(&v, "/host/ws", "/builds/p");
	i_ro = find2(&v, "--remount-ro", "/");
	assert_true(i_ws > 0 && i_ro > i_ws);
	assert_true(find2(&v, "--chdir", "/builds/p") > i_ro);
	/* bwrap names the sandbox's init on the fd proc_run gives it */
	assert_int_equal(SANDBOX_INFO_FD, 3);
	assert_true(find2(&v, "--info-fd", "3") > i_ro);
	/* and waits, set up, until proc_run releases it (prestart) */
	assert_int_equal(SANDBOX_BLOCK_FD, 4);
	assert_true(find2(&v, "--block-fd", "4") > i_ro);
	assert_string_equal(v.v[v.nr - 1], "--");
	strvec_clear(&v);

	/* networking allowed, a uid chosen */
	o.network = 1;
	o.uid = 1000;
	assert_int_equal(sandbox_argv(&o, &v, &err), 0);
	assert_int_equal(find2(&v, "--unshare-net", NULL), -1);
	assert_true(find2(&v, "--uid", "1000") > 0);
	strvec_clear(&v);

	/*
	 * the image's listing is kept between calls, and read again when
	 * a name is added, replaced or removed (the root's times change)
	 */
	test_sh(tmp, "mkdir img/opt && sleep 0.15");	/* older than RACY_MS: kept */
	assert_int_equal(sandbox_argv(&o, &v, &err), 0);
	strvec_clear(&v);
	assert_int_equal(sandbox_argv(&o, &v, &err), 0);
	assert_true(find2(&v, "--ro-bind", NULL) > 0);
	{
		char *opt = NULL;

		assert_true(asprintf(&opt, "%s/opt", root) > 0);
		assert_true(find2(&v, opt, "/opt") > 0);
		strvec_clear(&v);
		test_sh(tmp, "rm img/lib && ln -s usr/lib64 img/lib && rmdir img/opt");
		assert_int_equal(sandbox_argv(&o, &v, &err), 0);
		assert_int_equal(find2(&v, opt, "/opt"), -1);
		assert_int_equal(find2(&v, "--symlink", "usr/lib"), -1);
		assert_true(find2(&v, "--symlink", "usr/lib64") > 0);
		strvec_clear(&v);
		/* another project dir's top is left out of another listing */
		o.project_dir = "/opt/p";
		test_sh(tmp, "mkdir img/opt");
		assert_int_equal(sandbox_argv(&o, &v, &err), 0);
		assert_int_equal(find2(&v, opt, "/opt"), -1);
		assert_true(find2(&v, bin, "/bin") > 0);
		o.project_dir = "/builds/p";
		strvec_clear(&v);
		assert_int_equal(sandbox_argv(&o, &v, &err), 0);
		assert_true(find2(&v, opt, "/opt") > 0);
		strvec_clear(&v);
		free(opt);
	}

	/* bad input */
	o.project_dir = "builds/p";
	assert_int_equal(sandbox_argv(&o, &v, &err), -1);
	o.project_dir = "/builds/p";
	o.root = "/nonexistent-root";
	strbuf_reset(&err);
	assert_int_equal(sandbox_argv(&o, &v, &err), -1);
	assert_non_null(strstr(err.buf, "cannot read image root"));
	strvec_clear(&v);
	strbuf_release(&err);
	free(root);
	free(bin);
}

static void test_host_root(void **state)
{
	struct strvec v = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	struct sandbox_opts o = { "bwrap", "/", "/ws", "/builds/p", 0, -1, -1 };

	assert_int_equal(sandbox_argv(&o, &v, &err), 0);
	assert_true(find2(&v, "/usr", "/usr") > 0);
	assert_int_equal(find2(&v, "/root", "/root"), -1);
	assert_int_equal(find2(&v, "/home", "/home"), -1);
	if (!access("/etc/shadow", F_OK))
		assert_true(find2(&v, "/dev/null", "/etc/shadow") > 0);
	strvec_clear(&v);
	strbuf_release(&err);
}

static void member_ok(const char *p)
{
	struct strbuf err = STRBUF_INIT;

	if (sandbox_check_member(p, &err))
		fail_msg("%s refused: %s", p, err.buf);
	strbuf_release(&err);
}

static void member_bad(const char *p)
{
	struct strbuf err = STRBUF_INIT;

	if (!sandbox_check_member(p, &err))
		fail_msg("%s accepted", p);
	assert_true(err.len > 0);
	strbuf_release(&err);
}

static void test_members(void **state)
{
	member_ok("bin/sh");
	member_ok("./bin/sh");
	member_ok("a..b/c");
	member_ok("..a");
	member_ok("a/...");
	member_bad("");
	member_bad("/etc/passwd");
	member_bad("..");
	member_bad("../x");
	member_bad("a/../../x");
	member_bad("a/..");
	member_bad("a//../b");
}

static void link_ok(const char *p, const char *t)
{
	struct strbuf err = STRBUF_INIT;

	if (sandbox_check_symlink(p, t, &err))
		fail_msg("%s -> %s refused: %s", p, t, err.buf);
	strbuf_release(&err);
}

static void link_bad(const char *p, const char *t)
{
	struct strbuf err = STRBUF_INIT;

	if (!sandbox_check_symlink(p, t, &err))
		fail_msg("%s -> %s accepted", p, t);
	strbuf_release(&err);
}

static void test_links(void **state)
{
	link_ok("bin", "usr/bin");
	link_ok("usr/bin/awk", "/etc/alternatives/awk"); /* inside the image */
	link_ok("etc/mtab", "../proc/self/mounts");
	link_ok("a/b/c", "../../x");
	link_ok("./a/b", "../x");
	link_ok("a/b", "./../x");
	link_bad("a/b", "../../x");
	link_bad("x", "..");
	link_bad("x", "../etc/passwd");
	link_bad("a/./b", "../../x");
	link_bad("a/b", "c/../../../x");
	link_bad("a", "");
	link_bad("../a", "b");
}

static void test_shell(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *r1 = NULL, *r2 = NULL, *r3 = NULL;

	test_sh(tmp, "mkdir -p s1/bin s2/usr/bin s3/bin && touch s1/bin/sh s2/usr/bin/bash "
		     "s3/bin/sh && chmod +x s1/bin/sh s2/usr/bin/bash && ln -s usr/bin s2/bin");
	assert_true(asprintf(&r1, "%s/s1", tmp) > 0);
	assert_true(asprintf(&r2, "%s/s2", tmp) > 0);
	assert_true(asprintf(&r3, "%s/s3", tmp) > 0);
	assert_string_equal(sandbox_shell(r1, &err), "/bin/sh");
	assert_string_equal(sandbox_shell(r2, &err), "/bin/bash");
	/* not executable: no shell */
	assert_null(sandbox_shell(r3, &err));
	assert_non_null(strstr(err.buf, "has no shell"));
	/* an absolute link is resolved inside the root, never on this host */
	test_sh(tmp, "mkdir -p s4/bin && ln -s /bin/bash s4/bin/sh");
	free(r1);
	assert_true(asprintf(&r1, "%s/s4", tmp) > 0);
	strbuf_reset(&err);
	assert_null(sandbox_shell(r1, &err));
	free(r1);
	free(r2);
	free(r3);
	strbuf_release(&err);
}

/* The trampoline's command line: sandbox_argv's without --block-fd. */
static void test_init_argv(void **state)
{
	char *wrap[] = { "/usr/bin/bwrap", "--symlink", "--block-fd", "/x",
			 "--info-fd", "3", "--block-fd", "4", "--", NULL };
	struct strvec out = STRVEC_INIT;

	sandbox_init_argv(wrap, &out);
	assert_int_equal(out.nr, 9);
	/* a --block-fd that is an argument's value stays */
	assert_string_equal(out.v[2], "--block-fd");
	assert_string_equal(out.v[4], "--info-fd");
	assert_string_equal(out.v[5], "3");
	assert_string_equal(out.v[6], "--");
	assert_string_equal(out.v[7], "/proc/self/fd/5");
	assert_string_equal(out.v[8], SANDBOX_INIT_CMD);
	strvec_clear(&out);
}

/* Encode then decode: the payload after the 8-byte header. */
static int roundtrip(const char *cwd, char **argv, char **env,
		     struct strbuf *msg, struct sandbox_job *job,
		     struct strbuf *err)
{
	if (sandbox_job_encode(msg, cwd, argv, env, err) < 0)
		return -1;
	assert_true(msg->len >= 8);
	assert_memory_equal(msg->buf, "CSJ1", 4);
	assert_int_equal((unsigned char)msg->buf[4] |
			 (unsigned char)msg->buf[5] << 8 |
			 (unsigned char)msg->buf[6] << 16 |
			 (unsigned char)msg->buf[7] << 24, msg->len - 8);
	return sandbox_job_decode(msg->buf + 8, msg->len - 8, job, err);
}

static void test_job(void **state)
{
	char *argv[] = { "/bin/sh", "-e", "-c", "echo 'a b'", NULL };
	char *env[] = { "A=1", "EMPTY=", "B==x", NULL };
	char *noenv[] = { NULL };
	char *rel[] = { "sh", NULL };
	char *bad_env[] = { "NOEQUALS", NULL };
	struct strbuf msg = STRBUF_INIT, err = STRBUF_INIT;
	struct sandbox_job job;
	size_t i;

	assert_int_equal(roundtrip("/builds/p", argv, env, &msg, &job, &err), 0);
	assert_string_equal(job.cwd, "/builds/p");
	for (i = 0; argv[i]; i++)
		assert_string_equal(job.argv[i], argv[i]);
	assert_null(job.argv[i]);
	for (i = 0; env[i]; i++)
		assert_string_equal(job.env[i], env[i]);
	assert_null(job.env[i]);
	sandbox_job_release(&job);
	strbuf_reset(&msg);
	/* no environment at all */
	assert_int_equal(roundtrip("/", argv, noenv, &msg, &job, &err), 0);
	assert_null(job.env[0]);
	assert_string_equal(job.argv[3], "echo 'a b'");
	sandbox_job_release(&job);
	strbuf_reset(&msg);
	/* refused when sent */
	assert_int_equal(sandbox_job_encode(&msg, "rel", argv, env, &err), -1);
	assert_int_equal(sandbox_job_encode(&msg, "/", rel, env, &err), -1);
	assert_int_equal(sandbox_job_encode(&msg, "/", noenv, env, &err), -1);
	assert_int_equal(msg.len, 0);
	/* malformed when read */
	strbuf_reset(&err);
	assert_int_equal(roundtrip("/", argv, bad_env, &msg, &job, &err), -1);
	assert_non_null(strstr(err.buf, "not NAME=value"));
	strbuf_release(&msg);
	strbuf_release(&err);
}

static void expect_bad(const char *payload, size_t len, const char *why)
{
	struct strbuf err = STRBUF_INIT;
	struct sandbox_job job;
	char *copy = malloc(len ? len : 1);

	memcpy(copy, payload, len);
	assert_int_equal(sandbox_job_decode(copy, len, &job, &err), -1);
	if (!strstr(err.buf, why))
		fail_msg("\"%s\" does not say \"%s\"", err.buf, why);
	assert_null(job.argv);
	free(copy);
	strbuf_release(&err);
}

static void test_job_malformed(void **state)
{
	struct strbuf big = STRBUF_INIT;
	int i;

	expect_bad("", 0, "empty");
	expect_bad("/\0" "1\0/bin/sh", 11, "NUL-terminated");
	expect_bad("/\0" "1\0", 4, "no command");
	expect_bad("rel\0" "1\0/bin/sh\0", 14, "relative directory");
	expect_bad("/\0" "x\0/bin/sh\0", 12, "argument count");
	expect_bad("/\0" "0\0/bin/sh\0", 12, "argument count");
	expect_bad("/\0" "2\0/bin/sh\0", 12, "argument count");
	expect_bad("/\0" "99999999999999999999\0/bin/sh\0", 31, "argument count");
	expect_bad("/\0" "1\0sh\0", 8, "absolute path");
	expect_bad("/\0" "1\0/bin/sh\0=x\0", 15, "not NAME=value");
	/* more strings than the limit */
	strbuf_addstr(&big, "/");
	strbuf_addch(&big, '\0');
	strbuf_addstr(&big, "1");
	strbuf_addch(&big, '\0');
	strbuf_addstr(&big, "/bin/sh");
	strbuf_addch(&big, '\0');
	for (i = 0; i < SANDBOX_JOB_STRINGS; i++) {
		strbuf_addstr(&big, "A=1");
		strbuf_addch(&big, '\0');
	}
	expect_bad(big.buf, big.len, "strings");
	strbuf_release(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_host_root),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_shell),
		cmocka_unit_test(test_init_argv),
		cmocka_unit_test(test_job),
		cmocka_unit_test(test_job_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
