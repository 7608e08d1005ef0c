/*
 * libFuzzer target: the image tarball checks (sandbox_check_member,
 * sandbox_check_symlink) on arbitrary names. The input is "PATH\0TARGET".
 * Checks, besides no crash or leak: an accepted member is relative and
 * has no ".." component; an accepted relative link, resolved lexically
 * from its directory, never climbs above the root.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth reached by walking components of s from depth d; -1 below root. */
static long walk(const char *s, long d, int skip_last)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, "/");
		const char *next = p + n;

		while (*next == '/')
			next++;
		if (skip_last && !*next)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			d--;
		else if (n && !(n == 1 && p[0] == '.'))
			d++;
		if (d < 0)
			return -1;
		p = next;
	}
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 2);
	const char *path, *target;
	struct strbuf err = STRBUF_INIT;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	buf[size + 1] = '\0';
	path = buf;
	target = buf + strlen(buf) + 1;
	if (target > buf + size)
		target = buf + size + 1;
	if (!sandbox_check_member(path, &err)) {
		if (path[0] == '/' || !path[0] || walk(path, 0, 0) < 0)
			__builtin_trap();
	}
	strbuf_reset(&err);
	if (!sandbox_check_symlink(path, target, &err) && target[0] != '/') {
		long d = walk(path, 0, 1);

		if (d < 0 || walk(target, d, 0) < 0)
			__builtin_trap();
	}
	strbuf_release(&err);
	free(buf);
	return 0;
}
