/*
 * libFuzzer target: what the server reads from a mirror without git —
 * a loose object (src/git/object.c) and a job workspace's index
 * (src/git/wtstat.c), a pack — on arbitrary bytes. The first byte
 * chooses: 'P', the rest is a pack index and a pack (two bytes of the
 * index's length, little-endian, the index, the pack; the name looked up
 * is the index's first one, when it is long enough); else even, the
 * rest is a commit body, zlib-compressed here behind a "commit N" header
 * (the parser's input); odd, the rest is a loose object file as it is
 * (the inflater's input) and also a workspace's .git/index. Must not
 * crash or leak; what it accepts is well-formed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "git/object.h"
#include "git/wtstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define SHA_REST "23456789abcdef0123456789abcdef01234567"

static char root[64];

static int write_all(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "we");
	int rc = 0;

	if (!f)
		return -1;
	if (len && fwrite(buf, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static const char *const made[] = { "/objects/pack/pack-f.idx", "/objects/pack/pack-f.pack",
				    "/objects/pack", "/ws/.git/cidre-checkout", "/ws/.git/index",
				    "/ws/.git/HEAD", "/ws/.git", "/ws", "/objects/01/" SHA_REST,
				    "/objects/01", "/objects", "" };

static void cleanup(void)
{
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, made[i]);
		if (remove(p) < 0) {
			/* not made by this run */
		}
	}
}

/* root/objects/01/ for the object, root/ws/.git for the index */
static int setup(void)
{
	static const char *const dirs[] = { "", "/objects", "/objects/01", "/ws", "/ws/.git" };
	char p[128];
	size_t i;

	if (root[0])
		return 0;
	snprintf(root, sizeof(root), "/tmp/cidre-fuzz-gitobj.%ld", (long)getpid());
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	atexit(cleanup);
	snprintf(p, sizeof(p), "%s/ws/.git/HEAD", root);
	return write_all(p, SHA "\n", 41);
}

/* The index's first name (at 8 + 1024) in hex, or SHA. */
static void first_name(const uint8_t *idx, size_t n, char sha[41])
{
	size_t i;

	if (n < 8 + 1024 + 20) {
		memcpy(sha, SHA, 41);
		return;
	}
	for (i = 0; i < 20; i++)
		snprintf(sha + 2 * i, 3, "%02x", idx[8 + 1024 + i]);
}

static void fuzz_pack(const uint8_t *data, size_t size)
{
	char p[160], sha[41], type[8], *body = NULL;
	struct gitinfo gi;
	size_t n, len;

	if (size < 2)
		return;
	n = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (n > size)
		n = size;
	snprintf(p, sizeof(p), "%s/objects/pack", root);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return;
	snprintf(p, sizeof(p), "%s/objects/pack/pack-f.idx", root);
	write_all(p, data, n);
	snprintf(p, sizeof(p), "%s/objects/pack/pack-f.pack", root);
	write_all(p, data + n, size - n);
	first_name(data, n, sha);
	if (gitobj_has(root, sha) < 0)
		__builtin_trap();
	if (gitobj_read(root, sha, type, &body, &len, 1u << 20) == 0) {
		if (strlen(type) > 6 || len > (1u << 20) || body[len])
			__builtin_trap();
		free(body);
	}
	if (gitobj_commit(root, sha, &gi) == 0)
		gitinfo_release(&gi);
	/* the other inputs do not see this pack */
	remove(p);
	snprintf(p, sizeof(p), "%s/objects/pack/pack-f.idx", root);
	remove(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char obj[128], idx[128];
	struct gitinfo gi;
	char type[8], *body = NULL;
	size_t len;

	if (!size || size > (1u << 20) || setup() < 0)
		return 0;
	snprintf(obj, sizeof(obj), "%s/objects/01/" SHA_REST, root);
	if (data[0] == 'P') {
		fuzz_pack(data + 1, size - 1);
		return 0;
	}
	if (!(data[0] & 1)) {
		char head[32];
		size_t hl = (size_t)snprintf(head, sizeof(head), "commit %zu", size - 1) + 1;
		uLongf zl = compressBound(hl + size - 1);
		unsigned char *raw = malloc(hl + size - 1), *z = malloc(zl);

		if (raw && z) {
			memcpy(raw, head, hl);
			memcpy(raw + hl, data + 1, size - 1);
			if (compress(z, &zl, raw, hl + size - 1) == Z_OK)
				write_all(obj, z, zl);
		}
		free(raw);
		free(z);
	} else {
		write_all(obj, data + 1, size - 1);
		snprintf(idx, sizeof(idx), "%s/ws/.git/index", root);
		write_all(idx, data + 1, size - 1);
		snprintf(idx, sizeof(idx), "%s/ws", root);
		if (wtstat_mark(idx, SHA) == 0 && wtstat_clean(idx, SHA) < 0)
			__builtin_trap();
	}
	if (gitobj_read_loose(root, SHA, type, &body, &len, 1u << 20) == 0) {
		if (strlen(type) > 6 || len > (1u << 20))
			__builtin_trap();
		free(body);
	}
	if (gitobj_commit(root, SHA, &gi) == 0) {
		if (!gi.sha || strlen(gi.sha) != 40 || !gi.before_sha || strlen(gi.before_sha) != 40 ||
		    !gi.author || !gi.timestamp || !gi.message)
			__builtin_trap();
		gitinfo_release(&gi);
	}
	return 0;
}
