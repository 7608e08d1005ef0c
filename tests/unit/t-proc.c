/* Unit tests for src/exec/proc.c: real bash processes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#include "exec/cgroup.h"
#include "exec/proc.h"
#include "util/xalloc.h"

static char *const test_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
				  "FOO=bar baz", "LC_ALL=C", NULL };

struct capture {
	struct strbuf out;
	int cancel_w;          /* write here when `trigger` shows up; -1 */
	const char *trigger;
	size_t keep;           /* > 0: output past this many bytes is not kept */
};

static int on_output(void *ud, const char *data, size_t len)
{
	struct capture *c = ud;

	if (c->keep && c->out.len + len > c->keep)
		return -1;
	strbuf_add(&c->out, data, len);
	if (c->cancel_w >= 0 && c->trigger && strstr(c->out.buf, c->trigger)) {
		assert_int_equal(write(c->cancel_w, "x", 1), 1);
		c->cancel_w = -1;
	}
	return 0;
}

static int run(const char *script, int timeout, int cancel_fd, int grace,
	       struct capture *cap, struct proc_result *res)
{
	struct proc_spec spec = {
		.name = "t", .workdir = "/tmp", .env = test_env,
		.script = script, .timeout_sec = timeout,
		.cancel_fd = cancel_fd, .kill_grace_ms = grace,
		.on_output = on_output, .ud = cap,
	};
	struct strbuf err = STRBUF_INIT;
	int r = proc_run(&spec, res, &err);

	if (r)
		print_message("proc_run: %s\n", err.buf);
	strbuf_release(&err);
	return r;
}

static void cap_init(struct capture *c)
{
	strbuf_init(&c->out, 0);
	c->cancel_w = -1;
	c->trigger = NULL;
	c->keep = 0;
}

/* 1 if pid is gone (or a zombie waiting for init). */
static int pid_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'Z';
}

/* Create the empty file named by mkstemp() template path (changed). */
static void pidfile_create(char *path)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
}

/* The pid a script wrote to path must be gone; path is removed. */
static void assert_pidfile_gone(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	pid_t bg;

	assert_int_equal(strbuf_read_file(&sb, path, 64), 0);
	bg = (pid_t)atoi(sb.buf);
	assert_true(bg > 0);
	assert_true(pid_gone(bg));
	unlink(path);
	strbuf_release(&sb);
}

static void test_exit_code_and_output(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("echo \"hello $FOO\"; echo err >&2; pwd; exit 3",
			     0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.signal, 0);
	assert_false(r.timed_out);
	assert_string_equal(c.out.buf, "hello bar baz\nerr\n/tmp\n");
	assert_true(r.wall > 0);
	assert_non_null(r.accounting);
	strbuf_release(&c.out);
}

static void test_set_e_and_pipefail(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("false | true; echo not reached", 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 1);
	assert_null(strstr(c.out.buf, "not reached"));
	strbuf_release(&c.out);
}

static void test_stdin_is_dev_null(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("cat; echo done", 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(c.out.buf, "done\n");
	strbuf_release(&c.out);
}

/* A background child, 1 MB of output, a non-zero exit: the child is killed. */
static void test_big_output_background_child(void **state)
{
	char pidfile[] = "/tmp/cidre-t-proc-XXXXXX";
	struct strbuf script = STRBUF_INIT;
	struct capture c;
	struct proc_result r;

	pidfile_create(pidfile);
	strbuf_addf(&script,
		    "sleep 1000 & echo $! > %s\n"
		    "head -c 1048576 /dev/zero | tr '\\0' a\n"
		    "exit 7\n", pidfile);
	cap_init(&c);
	assert_int_equal(run(script.buf, 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 7);
	assert_int_equal(c.out.len, 1048576);
	assert_pidfile_gone(pidfile);
	strbuf_release(&script);
	strbuf_release(&c.out);
}

/* A daemonised grandchild (double fork, own session) is killed too. */
static void test_double_fork_killed(void **state)
{
	char pidfile[] = "/tmp/cidre-t-proc-XXXXXX";
	struct strbuf script = STRBUF_INIT;
	struct capture c;
	struct proc_result r;

	pidfile_create(pidfile);
	/* (…&) orphans the sleep; it keeps our process group. */
	strbuf_addf(&script, "(sleep 1000 >/dev/null 2>&1 & echo $! > %s)\n"
		    "echo started\n", pidfile);
	cap_init(&c);
	assert_int_equal(run(script.buf, 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_pidfile_gone(pidfile);
	strbuf_release(&script);
	strbuf_release(&c.out);
}

static void test_timeout(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("echo start; sleep 30", 1, -1, 200, &c, &r), 0);
	assert_true(r.timed_out);
	assert_false(r.canceled);
	assert_int_equal(r.signal, SIGTERM);
	assert_int_equal(r.exit_code, 128 + SIGTERM);
	assert_true(r.wall >= 0.9 && r.wall < 5);
	assert_string_equal(c.out.buf, "start\n");
	strbuf_release(&c.out);
}

/*
 * Output that cannot be kept (a log on a full disk) stops the job as a
 * cancel would: SIGTERM to the tree, SIGKILL after the grace; the job's
 * own trap still runs.
 */
static void test_output_lost(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	c.keep = 4096;
	assert_int_equal(run("trap 'exit 9' TERM; while :; do echo line; done", 60, -1, 500,
			     &c, &r), 0);
	assert_true(r.output_lost);
	assert_false(r.canceled);
	assert_false(r.timed_out);
	assert_int_equal(r.exit_code, 9);
	assert_true(r.wall < 5);
	assert_true(c.out.len <= 4096);
	strbuf_release(&c.out);

	/* one that ignores SIGTERM is killed after the grace period */
	cap_init(&c);
	c.keep = 10;
	assert_int_equal(run("trap '' TERM; echo more than ten bytes; sleep 30", 60, -1, 300,
			     &c, &r), 0);
	assert_true(r.output_lost);
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.wall >= 0.25 && r.wall < 5);
	assert_int_equal(c.out.len, 0);
	strbuf_release(&c.out);
}

/* SIGTERM ignored by the whole tree: SIGKILL after the grace period. */
static void test_timeout_term_ignored(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("trap '' TERM; sleep 30", 1, -1, 300, &c, &r), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.signal, SIGKILL);
	assert_int_equal(r.exit_code, 137);
	assert_true(r.wall >= 1.2 && r.wall < 5);
	strbuf_release(&c.out);
}

static void test_cancel(void **state)
{
	struct capture c;
	struct proc_result r;
	int p[2];

	assert_int_equal(pipe(p), 0);
	cap_init(&c);
	c.cancel_w = p[1];
	c.trigger = "ready";
	assert_int_equal(run("echo ready; sleep 30", 0, p[0], 200, &c, &r), 0);
	assert_true(r.canceled);
	assert_false(r.timed_out);
	assert_int_equal(r.exit_code, 128 + SIGTERM);
	assert_true(r.wall < 5);
	close(p[0]);
	close(p[1]);
	strbuf_release(&c.out);
}

/* A child process of the script allocates ~50 MB; the peak must show it. */
/* A helper's process state letter from /proc, or 0 when it is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] == ' ' ? p[2] : 0;
}

struct cancel_when {
	int fd;             /* written once the file exists */
	const char *file;
};

/* Cancel once the script has written its background child's pid. */
static void *cancel_when_ready(void *arg)
{
	struct cancel_when *c = arg;
	int i;

	for (i = 0; i < 2000 && access(c->file, F_OK) < 0; i++)
		usleep(10 * 1000);
	if (write(c->fd, "x", 1) != 1)
		abort();
	return NULL;
}

/* A cancelable capture: its whole process group is killed once the fd is readable. */
static void test_capture_cancel(void **state)
{
	char file[] = "/tmp/cidre-t-proc-XXXXXX", script[256], buf[32];
	const char *argv[] = { "sh", "-c", script, NULL };
	struct proc_capture pc;
	struct strbuf err = STRBUF_INIT;
	struct timespec t0, t1;
	struct cancel_when c;
	int fds[2], fd;
	ssize_t n;
	pthread_t t;
	pid_t bg;
	char st;

	(void)state;
	fd = mkstemp(file);
	assert_true(fd >= 0);
	close(fd);
	unlink(file);
	/* a child in the background, its pid in file; then the script waits for it */
	snprintf(script, sizeof(script),
		 "sleep 30 & echo $! >%s.tmp && mv %s.tmp %s; echo started; wait", file, file,
		 file);
	assert_int_equal(pipe(fds), 0);
	proc_capture_init(&pc);
	pc.argv = argv;
	pc.max_out = 4096;
	pc.cancel_fd = &fds[0];
	c.fd = fds[1];
	c.file = file;
	assert_int_equal(pthread_create(&t, NULL, cancel_when_ready, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(proc_capture_all(&pc, 1, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(t, NULL);
	assert_true(pc.canceled);
	assert_int_equal(pc.status, 128 + SIGKILL);
	assert_non_null(strstr(err.buf, "sh stopped"));
	/* not the 30 s of its child: killed, not waited for */
	assert_true(t1.tv_sec - t0.tv_sec < 25);
	/* the background sleep was in the group: killed too (gone, or a zombie of init's) */
	fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(file);
	assert_true(n > 0);
	buf[n] = '\0';
	bg = (pid_t)atoi(buf);
	assert_true(bg > 0);
	/* its descriptors closed first (our EOF), then it is done exiting */
	for (n = 0; n < 200; n++) {
		st = proc_state(bg);
		if (st == 0 || st == 'Z' || st == 'X')
			break;
		usleep(10 * 1000);
	}
	assert_true(st == 0 || st == 'Z' || st == 'X');
	proc_capture_release(&pc);
	strbuf_release(&err);
	close(fds[0]);
	close(fds[1]);
}

static void test_peak_memory(void **state)
{
	struct capture c;
	struct proc_result r;

	cap_init(&c);
	assert_int_equal(run("bash -c 'x=$(head -c 50000000 /dev/zero | tr \"\\0\" a); echo ${#x}'",
			     0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(c.out.buf, "50000000\n");
	print_message("# peak %lld bytes via %s, cpu %.3f+%.3f s\n",
		      r.peak_mem, r.accounting, r.cpu_user, r.cpu_sys);
	assert_true(r.peak_mem >= 40LL * 1000 * 1000);
	assert_true(r.cpu_user + r.cpu_sys > 0);
	strbuf_release(&c.out);
}

/* The memory cgroup path of the job, from its /proc/self/cgroup; or "". */
static void job_memcg(const char *out, char *buf, size_t size)
{
	const char *p = strstr(out, ":memory:");
	size_t n;

	buf[0] = '\0';
	if (!p)
		return;
	p += strlen(":memory:");
	n = strcspn(p, "\n");
	if (n < size) {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
}

/*
 * On cgroup v1 a finished job's cgroup serves the next job, with its
 * counters zeroed: a small job after a big one reports a small peak;
 * proc_prewarm_finish() removes the idle cgroups. A cgroup still holding
 * more than the pool's limit when its job ends (kernel objects freed after
 * an RCU grace period, slow on a loaded machine) is removed instead, so
 * the pair is tried up to five times: reuse must happen at least once.
 */
static void test_cgroup_reuse(void **state)
{
	struct capture c;
	struct proc_result r;
	char first[512], second[512], path[1024];
	int attempt;

	cap_init(&c);
	for (attempt = 0; attempt < 5; attempt++) {
		strbuf_reset(&c.out);
		assert_int_equal(run("cat /proc/self/cgroup; "
				     "x=$(head -c 50000000 /dev/zero | tr \"\\0\" a)",
				     0, -1, 0, &c, &r), 0);
		job_memcg(c.out.buf, first, sizeof(first));
		if (strcmp(r.accounting, "cgroup1")) {
			print_message("# %s accounting: no reuse to test\n", r.accounting);
			strbuf_release(&c.out);
			return;
		}
		assert_true(r.peak_mem >= 40LL * 1000 * 1000);
		strbuf_reset(&c.out);
		assert_int_equal(run("cat /proc/self/cgroup", 0, -1, 0, &c, &r), 0);
		job_memcg(c.out.buf, second, sizeof(second));
		if (!strcmp(first, second))
			break;
		print_message("# %s not reused (%s instead)\n", first, second);
	}
	print_message("# reused %s: peak %lld bytes\n", second, r.peak_mem);
	assert_string_equal(first, second);
	assert_true(r.peak_mem >= 0 && r.peak_mem < 20LL * 1000 * 1000);
	assert_true(r.cpu_user + r.cpu_sys < 0.2);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s", second);
	assert_int_equal(access(path, F_OK), 0);
	proc_prewarm_finish();
	assert_int_equal(access(path, F_OK), -1);
	strbuf_release(&c.out);
}

/*
 * Cgroups of ours whose process is gone (kill -9 left them) are removed
 * by the sweep; a live process's, and names not ours, stay.
 */
static void test_cgroup_sweep(void **state)
{
	struct capture c;
	struct proc_result r;
	char cg[512], parent[1024], path[1200];
	const char *names[] = { "-7", "-slot-2", "-x", "-slot-", "-7z" };
	const int gone[] = { 1, 1, 0, 0, 0 };
	pid_t dead = fork();
	size_t i;
	char *slash;

	if (dead == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	cap_init(&c);
	assert_int_equal(run("cat /proc/self/cgroup", 0, -1, 0, &c, &r), 0);
	job_memcg(c.out.buf, cg, sizeof(cg));
	strbuf_release(&c.out);
	if (strcmp(r.accounting, "cgroup1")) {
		print_message("# %s accounting: no v1 cgroups to sweep\n", r.accounting);
		return;
	}
	snprintf(parent, sizeof(parent), "/sys/fs/cgroup/memory%s", cg);
	slash = strrchr(parent, '/');
	assert_non_null(slash);
	*slash = '\0';
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/cidre-%ld%s", parent, (long)dead, names[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	snprintf(path, sizeof(path), "%s/cidre-%ld-9999", parent, (long)getpid());
	assert_int_equal(mkdir(path, 0755), 0);
	cgroup_remove_stale_kept();
	assert_int_equal(access(path, F_OK), 0);	/* a live process's */
	assert_int_equal(rmdir(path), 0);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/cidre-%ld%s", parent, (long)dead, names[i]);
		assert_int_equal(access(path, F_OK), gone[i] ? -1 : 0);
		if (!gone[i])
			assert_int_equal(rmdir(path), 0);
	}
	proc_prewarm_finish();
}

/* No cgroup: process-group tracking and rusage still do the job. */
static void test_rusage_fallback(void **state)
{
	char pidfile[] = "/tmp/cidre-t-proc-XXXXXX";
	struct strbuf script = STRBUF_INIT;
	struct capture c;
	struct proc_result r;

	pidfile_create(pidfile);
	setenv("CIDRE_CGROUP", "/nonexistent-cgroup", 1);
	strbuf_addf(&script, "sleep 1000 & echo $! > %s\n"
		    "bash -c 'x=$(head -c 50000000 /dev/zero | tr \"\\0\" a); echo ${#x}'\n",
		    pidfile);
	cap_init(&c);
	assert_int_equal(run(script.buf, 0, -1, 0, &c, &r), 0);
	unsetenv("CIDRE_CGROUP");
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.accounting, "rusage");
	assert_true(r.peak_mem >= 40LL * 1000 * 1000);
	assert_pidfile_gone(pidfile);
	strbuf_release(&script);
	strbuf_release(&c.out);
}

static void test_bad_workdir(void **state)
{
	struct proc_spec spec = { .name = "t", .workdir = "/nonexistent/dir",
				  .env = test_env, .script = "true",
				  .cancel_fd = -1 };
	struct strbuf err = STRBUF_INIT;
	struct proc_result r;

	assert_int_equal(proc_run(&spec, &r, &err), -1);
	assert_non_null(strstr(err.buf, "/nonexistent/dir"));
	strbuf_release(&err);
}

static void test_script_build(void **state)
{
	char *cmds[] = { "echo one", "  ", "echo 'it''s'", "false",
			 "echo never", NULL };
	char *multi[] = { "if true; then\n  echo multi\nfi" };
	struct strbuf s = STRBUF_INIT;
	struct capture c;
	struct proc_result r;

	proc_script_build(&s, cmds, 5, 0);
	cap_init(&c);
	assert_int_equal(run(s.buf, 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 1);
	assert_string_equal(c.out.buf, "$ echo one\none\n\n$ echo 'it''s'\nits\n$ false\n");
	strbuf_release(&c.out);

	strbuf_reset(&s);
	proc_script_build(&s, multi, 1, 1);
	cap_init(&c);
	assert_int_equal(run(s.buf, 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(c.out.buf,
		"\033[32;1m$ if true; then # collapsed multi-line command\033[0;m\nmulti\n");
	strbuf_release(&c.out);
	strbuf_release(&s);
}

static void test_large_script(void **state)
{
	struct strbuf s = STRBUF_INIT;
	struct capture c;
	struct proc_result r;
	int i;

	for (i = 0; i < 20000; i++)
		strbuf_addf(&s, "x=%d\n", i);
	strbuf_addstr(&s, "echo $x\n");
	assert_true(s.len > 100 * 1024);
	cap_init(&c);
	assert_int_equal(run(s.buf, 0, -1, 0, &c, &r), 0);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(c.out.buf, "19999\n");
	strbuf_release(&c.out);
	strbuf_release(&s);
}

struct thread_arg {
	int n;
	int ok;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	struct strbuf script = STRBUF_INIT, want = STRBUF_INIT;
	struct capture c;
	struct proc_result r;
	int i;

	a->ok = 1;
	for (i = 0; i < 5; i++) {
		strbuf_reset(&script);
		strbuf_reset(&want);
		strbuf_addf(&script, "echo job-%d-%d; sleep 0.0%d &", a->n, i, i);
		strbuf_addf(&want, "job-%d-%d\n", a->n, i);
		cap_init(&c);
		if (run(script.buf, 10, -1, 0, &c, &r) || r.exit_code ||
		    strcmp(c.out.buf, want.buf))
			a->ok = 0;
		strbuf_release(&c.out);
	}
	strbuf_release(&script);
	strbuf_release(&want);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[6];
	struct thread_arg a[6];
	int i;

	for (i = 0; i < 6; i++) {
		a[i].n = i;
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &a[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_true(a[i].ok);
	}
}

static void test_overhead(void **state)
{
	struct capture c;
	struct proc_result r;
	struct timespec t0, t1;
	int i, n = 20;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		cap_init(&c);
		assert_int_equal(run("true", 0, -1, 0, &c, &r), 0);
		assert_int_equal(r.exit_code, 0);
		strbuf_release(&c.out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) / n;
	print_message("# proc_run(\"true\"): %.2f ms each (%s)\n", ms, r.accounting);
}

/*
 * A run prestarted through the trampoline (cidre sandbox-init, our own
 * binary next to the tests' directory) takes the job it is sent at the
 * release, whatever its environment and script; one whose set-up
 * differs (here the workdir) is discarded and the job started afresh.
 * "env" stands in for bwrap: it runs the rest of its command line.
 */
static void test_prestart_trampoline(void **state)
{
	char self[4096], *cidre, *slash;
	char *wrap[] = { "/usr/bin/env", NULL };
	char *init[] = { "/proc/self/fd/5", "sandbox-init", NULL };
	char *const env2[] = { "PATH=/usr/bin:/bin", "FOO=changed", NULL };
	struct proc_spec spec = {
		.name = "t", .workdir = "/tmp", .env = test_env,
		.script = "echo never", .cancel_fd = -1, .wrap = wrap,
		.shell = "/bin/bash", .wrap_block_fd = 4, .init_argv = init,
		.init_cwd = "/tmp", .init_exe_at = 5,
	};
	struct proc_prestart *p;
	struct proc_result res;
	struct capture cap;
	struct strbuf err = STRBUF_INIT;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fd;

	assert_true(n > 0);
	self[n] = '\0';
	/* BUILD/tests/unit/t-proc -> BUILD/cidre */
	for (int i = 0; i < 3 && (slash = strrchr(self, '/')); i++)
		*slash = '\0';
	cidre = xasprintf("%s/cidre", self);
	fd = open(cidre, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		/* not built here (a job that builds only the tests): nothing to
		 * run; not cmocka's skip(), which its TAP output reports as
		 * "not ok" */
		print_message("# no %s: the trampoline is not tested\n", cidre);
		free(cidre);
		strbuf_release(&err);
		return;
	}
	spec.init_exe = fd;
	p = proc_prestart(&spec, &err);
	assert_non_null(p);
	/* another script and environment: still this sandbox's job */
	cap_init(&cap);
	spec.env = env2;
	spec.script = "echo \"$FOO\"; pwd; ls /proc/self/fd; exit 3";
	spec.on_output = on_output;
	spec.ud = &cap;
	spec.prestart = p;
	assert_int_equal(proc_run(&spec, &res, &err), 0);
	assert_int_equal(res.prestarted, 1);
	assert_int_equal(res.exit_code, 3);
	assert_string_equal(cap.out.buf, "changed\n/tmp\n0\n1\n2\n3\n");
	strbuf_release(&cap.out);
	/* another workdir: its own sandbox, the prestarted one torn down */
	spec.prestart = proc_prestart(&spec, &err);
	assert_non_null(spec.prestart);
	cap_init(&cap);
	spec.workdir = "/";
	spec.script = "pwd";
	assert_int_equal(proc_run(&spec, &res, &err), 0);
	assert_int_equal(res.prestarted, 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(cap.out.buf, "/\n");
	strbuf_release(&cap.out);
	strbuf_release(&err);
	close(fd);
	free(cidre);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_code_and_output),
		cmocka_unit_test(test_output_lost),
		cmocka_unit_test(test_set_e_and_pipefail),
		cmocka_unit_test(test_stdin_is_dev_null),
		cmocka_unit_test(test_big_output_background_child),
		cmocka_unit_test(test_double_fork_killed),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_term_ignored),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_capture_cancel),
		cmocka_unit_test(test_peak_memory),
		cmocka_unit_test(test_cgroup_reuse),
		cmocka_unit_test(test_cgroup_sweep),
		cmocka_unit_test(test_rusage_fallback),
		cmocka_unit_test(test_bad_workdir),
		cmocka_unit_test(test_script_build),
		cmocka_unit_test(test_large_script),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_prestart_trampoline),
		cmocka_unit_test(test_overhead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
