/*
 * libFuzzer target: container images (exec/oci.c) and image names. The
 * first byte picks what the rest is:
 *
 *   0  "NAME\0REF": image_name_ok, image_name_file, oci_ref_match. An
 *      accepted name is at most IMAGE_NAME_MAX, has no "//", "+", "."
 *      or ".." component, no leading or trailing "/", and its file name
 *      has no "/".
 *   1  a layer's listing as tar prints it: oci_check_listing.
 *   2  an OCI layout: documents split at "\n--\n", the first index.json,
 *      the others blobs under their own digest (so a seed's manifest
 *      and config are found): oci_unpack.
 *   3  a docker-archive: manifest.json, then files c1.json, c2.json, ...
 *
 * Besides no crash or leak: the choice of image, the digests, the
 * config's checks on whatever JSON comes (a layer that is found is not a
 * tar, so tar refuses it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/copy.h"
#include "exec/image.h"
#include "exec/oci.h"
#include "util/sha256.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
	struct strbuf err = STRBUF_INIT;

	copy_rmtree(dir, &err);
	strbuf_release(&err);
}

static void put(const char *rel, const char *p, size_t n)
{
	char *path = xasprintf("%s/img/%s", dir, rel);
	FILE *f = fopen(path, "wb");

	free(path);
	if (!f)
		return;
	if (n && fwrite(p, 1, n, f) != n) {
		/* a short file is an input too */
	}
	fclose(f);
}

static void names(const char *buf, size_t size)
{
	const char *name = buf, *ref = buf + strlen(buf) + 1;

	if (ref > buf + size)
		ref = buf + size;
	if (image_name_ok(name)) {
		char *f = image_name_file(name);
		size_t l = strlen(name);

		if (l > IMAGE_NAME_MAX || strstr(name, "//") || strchr(name, '+') ||
		    !strcmp(name, ".") || !strcmp(name, "..") ||
		    !strncmp(name, "./", 2) || !strncmp(name, "../", 3) ||
		    strstr(name, "/./") || strstr(name, "/../") ||
		    name[0] == '/' || name[l - 1] == '/' || strchr(f, '/') ||
		    (l >= 2 && !strcmp(name + l - 2, "/.")) ||
		    (l >= 3 && !strcmp(name + l - 3, "/..")))
			__builtin_trap();
		free(f);
	}
	oci_ref_match(ref, name);
	oci_ref_match(name, ref);
}

static void image(const char *buf, size_t size, int docker)
{
	struct strbuf err = STRBUF_INIT;
	json_t *info = NULL;
	const char *p = buf, *end = buf + size;
	char *root, *cmd;
	int many = 0, k = 0;

	cmd = xasprintf("%s/img", dir);
	copy_rmtree(cmd, &err);
	mkdir(cmd, 0700);
	free(cmd);
	cmd = xasprintf("%s/img/blobs", dir);
	mkdir(cmd, 0700);
	free(cmd);
	cmd = xasprintf("%s/img/blobs/sha256", dir);
	mkdir(cmd, 0700);
	free(cmd);
	if (!docker)
		put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 31);
	while (p <= end && k < 8) {
		const char *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);
		char hex[SHA256_HEX_LEN + 1], rel[128];

		if (!k)
			snprintf(rel, sizeof(rel), docker ? "manifest.json" : "index.json");
		else if (docker)
			snprintf(rel, sizeof(rel), "c%d.json", k);
		else {
			sha256_hex(p, n, hex);
			snprintf(rel, sizeof(rel), "blobs/sha256/%s", hex);
		}
		put(rel, p, n);
		k++;
		if (!sep)
			break;
		p = sep + 4;
	}
	root = xasprintf("%s/root", dir);
	copy_rmtree(root, &err);
	mkdir(root, 0700);
	strbuf_reset(&err);
	cmd = xasprintf("%s/img", dir);
	oci_unpack(cmd, "app:1", root, &info, &many, &err);
	free(cmd);
	json_decref(info);
	free(root);
	strbuf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	struct strbuf err = STRBUF_INIT;

	if (!size)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/cidre-fuzz-oci.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	buf[size] = '\0';
	switch (data[0] % 4) {
	case 0:
		names(buf, size - 1);
		break;
	case 1:
		oci_check_listing(buf, size - 1, &err);
		break;
	default:
		image(buf, size - 1, data[0] % 4 == 3);
	}
	strbuf_release(&err);
	free(buf);
	return 0;
}
