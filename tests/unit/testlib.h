/*
 * Helpers shared by the unit tests: a scratch directory per test group,
 * shell commands and files inside it. Compiled into every tests/unit/t-*
 * binary; include after <cmocka.h>. Failures fail the running test.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stddef.h>

#include "util/strbuf.h"
#include "util/strvec.h"

/*
 * Create $TMPDIR/<name>-XXXXXX (TMPDIR unset or empty: /tmp) and write
 * its path to buf. Returns 0, or -1 if it does not fit in size or
 * mkdtemp() fails.
 */
int test_tmpdir(char *buf, size_t size, const char *name);

/* rm -rf dir. Returns 0, or -1 (and says so on stderr) if that failed. */
int test_rmtree(const char *dir);

/*
 * Run the shell command built from fmt in dir, its output discarded;
 * fails the running test if it exits non-zero.
 */
void test_sh(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Write len bytes of data to dir/rel, creating the directories under dir
 * that rel names; fails the running test on error. Returns the file's
 * path (caller frees).
 */
char *test_write_file(const char *dir, const char *rel, const void *data,
		      size_t len);

/* Append v's strings to out, separated by single spaces. */
void test_join(const struct strvec *v, struct strbuf *out);

#endif
