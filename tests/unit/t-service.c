/*
 * Unit tests for src/exec/service.c's pure parts: the names a service
 * gets without an alias, and the user an image's config names, read in
 * its /etc/passwd and /etc/group (never through a link out of the
 * image). Services themselves run in tests/e2e/t5024-services.sh.
 */
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

#include "exec/copy.h"
#include "exec/service.h"
#include "util/xalloc.h"

static void check_aliases(const char *image, const char *a, const char *b)
{
	char *out[2] = { NULL, NULL };
	size_t n = svc_default_aliases(image, out);

	assert_int_equal(n, b ? 2 : 1);
	assert_string_equal(out[0], a);
	if (b)
		assert_string_equal(out[1], b);
	else
		assert_null(out[1]);
	free(out[0]);
	free(out[1]);
}

static void test_default_aliases(void **state)
{
	(void)state;
	check_aliases("postgres:16", "postgres", NULL);
	check_aliases("postgres", "postgres", NULL);
	check_aliases("tutum/wordpress:latest", "tutum-wordpress", "tutum__wordpress");
	check_aliases("registry.example.com:5000/team/db:1",
		      "registry.example.com:5000-team-db",
		      "registry.example.com:5000__team__db");
	check_aliases("redis@sha256:0123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcdef", "redis", NULL);
	check_aliases("a/b:1@sha256:0123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcdef", "a-b", "a__b");
}

static char *make_root(void)
{
	char tmpl[] = "/tmp/cidre-t-service.XXXXXX";
	char *root = xstrdup(mkdtemp(tmpl));
	char *etc = xasprintf("%s/etc", root), *f;
	FILE *fp;

	assert_int_equal(mkdir(etc, 0755), 0);
	f = xasprintf("%s/passwd", etc);
	fp = fopen(f, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\n"
	      "postgres:x:999:998::/var/lib/postgresql:/bin/bash\n"
	      "broken:x:notanumber:1::/:/bin/sh\n"
	      "app:x:1000:1000::/app:/bin/sh", fp);   /* no final newline */
	fclose(fp);
	free(f);
	f = xasprintf("%s/group", etc);
	fp = fopen(f, "w");
	fputs("root:x:0:\nstaff:x:50:\npostgres:x:998:\n", fp);
	fclose(fp);
	free(f);
	free(etc);
	return root;
}

static void check_user(const char *root, const char *user, long uid, long gid)
{
	struct strbuf err = STRBUF_INIT;
	uid_t u = 12345;
	gid_t g = 12345;

	if (svc_user(root, user, &u, &g, &err) < 0)
		fail_msg("%s: %s", user ? user : "(null)", err.buf);
	assert_int_equal((long)u, uid);
	assert_int_equal((long)g, gid);
	strbuf_release(&err);
}

static void check_user_refused(const char *root, const char *user, const char *why)
{
	struct strbuf err = STRBUF_INIT;
	uid_t u;
	gid_t g;

	assert_int_equal(svc_user(root, user, &u, &g, &err), -1);
	assert_non_null(strstr(err.buf, why));
	strbuf_release(&err);
}

static void test_user(void **state)
{
	char *root = make_root();
	char *passwd = xasprintf("%s/etc/passwd", root);
	struct strbuf err = STRBUF_INIT;

	(void)state;
	check_user(root, NULL, 0, 0);
	check_user(root, "", 0, 0);
	check_user(root, "postgres", 999, 998);
	check_user(root, "app", 1000, 1000);          /* the last line */
	check_user(root, "999", 999, 0);
	check_user(root, "1001:1002", 1001, 1002);
	check_user(root, "postgres:staff", 999, 50);
	check_user(root, "app:0", 1000, 0);
	check_user_refused(root, "nobody", "is not in the image's /etc/passwd");
	check_user_refused(root, "broken", "is not in the image's /etc/passwd");
	check_user_refused(root, "post", "is not in the image's /etc/passwd");
	check_user_refused(root, "app:wheel", "is not in the image's /etc/group");
	/* a passwd that is a link out of the image is read inside it */
	unlink(passwd);
	assert_int_equal(symlink("/etc/passwd", passwd), 0);
	check_user_refused(root, "postgres", "is not in the image's /etc/passwd");
	copy_rmtree(root, &err);
	strbuf_release(&err);
	free(passwd);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_aliases),
		cmocka_unit_test(test_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
