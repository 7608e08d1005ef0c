/* Helpers shared by the unit tests; see testlib.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testlib.h"

int test_tmpdir(char *buf, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	n = snprintf(buf, size, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

int test_rmtree(const char *dir)
{
	struct strbuf cmd = STRBUF_INIT;
	int r;

	strbuf_addf(&cmd, "rm -rf '%s'", dir);
	r = system(cmd.buf);
	if (r)
		fprintf(stderr, "could not remove %s\n", dir);
	strbuf_release(&cmd);
	return r ? -1 : 0;
}

void test_sh(const char *dir, const char *fmt, ...)
{
	struct strbuf cmd = STRBUF_INIT;
	va_list ap;

	strbuf_addf(&cmd, "cd '%s' && { ", dir);
	va_start(ap, fmt);
	strbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	strbuf_addstr(&cmd, "; } >/dev/null 2>&1");
	if (system(cmd.buf) != 0)
		fail_msg("command failed: %s", cmd.buf);
	strbuf_release(&cmd);
}

char *test_write_file(const char *dir, const char *rel, const void *data,
		      size_t len)
{
	struct strbuf path = STRBUF_INIT;
	char *slash;
	FILE *f;

	strbuf_addf(&path, "%s/%s", dir, rel);
	for (slash = strchr(path.buf + strlen(dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void)mkdir(path.buf, 0755);
		*slash = '/';
	}
	f = fopen(path.buf, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return strbuf_detach(&path, NULL);
}

void test_join(const struct strvec *v, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < v->nr; i++)
		strbuf_addf(out, "%s%s", i ? " " : "", v->v[i]);
}
