/*
 * libFuzzer target: junit_parse_file on arbitrary bytes. The parser takes
 * a path, so each input is written to one private memfd and read back
 * through /proc/self/fd. Must not crash, leak, or print.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec/reports.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct junit_report r;
	struct strbuf err = STRBUF_INIT;

	if (fuzz_fd < 0) {
		fuzz_fd = memfd_create("fuzz-junit", MFD_CLOEXEC);
		if (fuzz_fd < 0)
			return 0;
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
	}
	if (ftruncate(fuzz_fd, 0) < 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		return 0;
	junit_report_init(&r);
	if (junit_parse_file(fuzz_path, &r, 1 << 20, &err) == 0 &&
	    r.tests != r.passed + r.failed + r.errors + r.skipped)
		__builtin_trap();
	junit_report_clear(&r);
	strbuf_release(&err);
	return 0;
}
