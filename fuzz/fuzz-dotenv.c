/*
 * libFuzzer target: dotenv_parse_file on arbitrary bytes. The parser takes
 * a path, so each input is written to one private memfd and read back
 * through /proc/self/fd. Must not crash, leak, or print.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string.h>

#include "exec/reports.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf err = STRBUF_INIT;
	size_t i;

	if (fuzz_fd < 0) {
		fuzz_fd = memfd_create("fuzz-dotenv", MFD_CLOEXEC);
		if (fuzz_fd < 0)
			return 0;
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	}
	if (ftruncate(fuzz_fd, 0) < 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		return 0;
	if (dotenv_parse_file(fuzz_path, &vl, &err) == 0) {
		/* every name is [A-Za-z_][A-Za-z0-9_]*, at most 20 of them */
		if (vl.nr > 20)
			__builtin_trap();
		for (i = 0; i < vl.nr; i++)
			if (!vl.v[i].key[0] ||
			    strspn(vl.v[i].key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			    strlen(vl.v[i].key) || strchr(vl.v[i].value, '\n'))
				__builtin_trap();
	}
	varlist_clear(&vl);
	strbuf_release(&err);
	return 0;
}
