/*
 * Unit tests for src/exec/oci.c and the names of src/exec/image.c:
 * references as names, which image a reference picks, what a tarball's
 * listing says it is. The unpacking itself runs on real images in
 * tests/e2e/t5022-container-images.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec/image.h"
#include "exec/oci.h"

static void test_names(void **state)
{
	static const char *const good[] = {
		"bb", "node:20", "team/app:v1", "registry.example.com/team/app:1.0",
		"localhost:5000/app", "a:1/b", "ghcr.io/o/r/sub/img:latest",
		"app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"A_b-c.d", NULL
	};
	static const char *const bad[] = {
		"", "/a", "a/", "a//b", "a/b:", ":1", "node:", "a:b:c", "a:.b",
		"host:x/a", "a:1:2/b", "a/b:1/c", "a@sha256:12", "a@md5:00",
		"-a", "a/.b", "a/../b", "a b", "a+b", "a\nb", NULL
	};
	char longname[300];
	size_t i;

	for (i = 0; good[i]; i++)
		if (!image_name_ok(good[i]))
			fail_msg("refused: %s", good[i]);
	for (i = 0; bad[i]; i++)
		if (image_name_ok(bad[i]))
			fail_msg("taken: %s", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(image_name_ok(longname));
	longname[IMAGE_NAME_MAX] = '\0';
	assert_true(image_name_ok(longname));
}

static void test_name_file(void **state)
{
	char *f = image_name_file("registry.example.com:5000/team/app:1");

	assert_string_equal(f, "registry.example.com:5000+team+app:1");
	free(f);
}

static void test_ref_match(void **state)
{
	/* Docker Hub's defaults, filled in or left out */
	assert_true(oci_ref_match("docker.io/library/node:20", "node:20"));
	assert_true(oci_ref_match("node:20", "docker.io/library/node:20"));
	assert_true(oci_ref_match("docker.io/team/app:v1", "team/app:v1"));
	assert_true(oci_ref_match("node", "node:latest"));
	assert_true(oci_ref_match("docker.io/library/node", "node"));
	assert_true(oci_ref_match("registry.example.com:5000/team/app:1",
				  "registry.example.com:5000/team/app:1"));
	/* an OCI layout's ref.name: a bare tag */
	assert_true(oci_ref_match("v1", "anything:v1"));
	assert_true(oci_ref_match("latest", "app"));
	assert_true(oci_ref_match("v1", "v1"));
	/* different */
	assert_false(oci_ref_match("node:20", "node:18"));
	assert_false(oci_ref_match("docker.io/team/app:v1", "other/app:v1"));
	assert_false(oci_ref_match("registry.example.com/library/node:20",
				   "node:20"));
	assert_false(oci_ref_match("v1", "app:v2"));
	assert_false(oci_ref_match(NULL, "app"));
	assert_false(oci_ref_match("app", NULL));
	assert_false(oci_ref_match("", "app"));
}

static void test_archive_kind(void **state)
{
	assert_string_equal(oci_archive_kind("manifest.json\nabc/layer.tar\n"),
			    "docker-archive");
	assert_string_equal(oci_archive_kind("./\n./oci-layout\n./index.json\n"
					     "./blobs/sha256/00\n"),
			    "oci-archive");
	/* docker save since 25 writes both: its manifest.json is read */
	assert_string_equal(oci_archive_kind("blobs/\nindex.json\nmanifest.json\n"
					     "oci-layout"), "docker-archive");
	/* a root filesystem, even with such names in it */
	assert_null(oci_archive_kind("./\n./bin/sh\n./manifest.json\n"));
	assert_null(oci_archive_kind("etc\nindex.json\noci-layout\n"));
	assert_null(oci_archive_kind("index.json\n"));
	assert_null(oci_archive_kind("sub/manifest.json\n"));
	assert_null(oci_archive_kind(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_name_file),
		cmocka_unit_test(test_ref_match),
		cmocka_unit_test(test_archive_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
