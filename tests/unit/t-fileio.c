/* Unit tests for src/util/fileio.c: whole writes at an offset, command lines. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include "util/fileio.h"
#include "util/strbuf.h"

static char tmp[4096];

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-fileio");
}

static int teardown(void **state)
{
	return test_rmtree(tmp);
}

/* Over the old bytes, past the end (a hole before), and a large buffer. */
static void test_pwrite_full(void **state)
{
	char path[4200], big[200000];
	struct strbuf sb = STRBUF_INIT;
	int fd;

	snprintf(path, sizeof(path), "%s/f", tmp);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite_full(fd, "hello world", 11, 0), 0);
	assert_int_equal(pwrite_full(fd, "W", 1, 6), 0);
	assert_int_equal(pwrite_full(fd, "!", 1, 13), 0);
	assert_int_equal(strbuf_read_file(&sb, path, 100), 0);
	assert_int_equal((int)sb.len, 14);
	assert_memory_equal(sb.buf, "hello World\0\0!", 14);
	memset(big, 'b', sizeof(big));
	assert_int_equal(pwrite_full(fd, big, sizeof(big), 1), 0);
	strbuf_reset(&sb);
	assert_int_equal(strbuf_read_file(&sb, path, sizeof(big) + 10), 0);
	assert_int_equal((int)sb.len, (int)sizeof(big) + 1);
	assert_int_equal(sb.buf[0], 'h');
	assert_int_equal(sb.buf[sizeof(big)], 'b');
	close(fd);
	/* nothing to write: nothing done */
	assert_int_equal(pwrite_full(fd, "x", 0, 0), 0);
	/* an error is an error */
	errno = 0;
	assert_int_equal(pwrite_full(fd, "x", 1, 0), -1);
	assert_int_equal(errno, EBADF);
	strbuf_release(&sb);
}

/* Our own command line word by word; no process, or a kernel thread's. */
static void test_read_own_cmdline(void **state)
{
	struct strbuf sb = STRBUF_INIT, comm = STRBUF_INIT;

	(void)state;
	assert_int_equal(read_own_cmdline((long)getpid(), &sb), 0);
	assert_true(sb.len > 0 && sb.buf[sb.len - 1] == '\0');
	assert_non_null(strstr(sb.buf, "t-fileio"));      /* argv[0] */
	assert_int_equal(read_own_cmdline(0, &sb), -1);
	assert_int_equal(sb.len, 0);
	assert_int_equal(read_own_cmdline(-5, &sb), -1);
	assert_int_equal(read_own_cmdline(1L << 30, &sb), -1);  /* over pid_max */
	/* a kernel thread (kthreadd, where it is visible and ours) has none */
	if (getuid() == 0 && strbuf_read_file(&comm, "/proc/2/comm", 64) == 0 &&
	    !strcmp(comm.buf, "kthreadd\n"))
		assert_int_equal(read_own_cmdline(2, &sb), -1);
	strbuf_release(&sb);
	strbuf_release(&comm);
}

static void test_read_proc_stat(void **state)
{
	char st = 0;
	long pg = 0;
	pid_t child;
	int status;

	(void)state;
	assert_int_equal(read_proc_stat((long)getpid(), &st, &pg), 0);
	assert_int_equal(st, 'R');                        /* reading it */
	assert_int_equal(pg, (long)getpgrp());
	assert_int_equal(read_proc_stat(1L << 30, &st, &pg), -1);
	/* a zombie of its own group: "Z" and the group it made */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		setpgid(0, 0);
		_exit(0);
	}
	while (read_proc_stat((long)child, &st, &pg) == 0 && st != 'Z')
		usleep(1000);
	assert_int_equal(st, 'Z');
	assert_int_equal(pg, (long)child);
	assert_int_equal(waitpid(child, &status, 0), child);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pwrite_full),
		cmocka_unit_test(test_read_own_cmdline),
		cmocka_unit_test(test_read_proc_stat),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
