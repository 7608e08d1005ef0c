/*
 * libFuzzer target: junit_parse_file on arbitrary bytes. The parser takes
 * a path, so each input is written to one private memfd and read back
 * through /proc/self/fd. Must not crash, leak, or print.
 */
#include <stddef.h>
#include <stdint.h>

#include "exec/reports.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct junit_report r;
	const char *path = fuzz_input_path("fuzz-junit", data, size);
	struct strbuf err = STRBUF_INIT;

	if (!path)
		return 0;
	junit_report_init(&r);
	if (junit_parse_file(path, &r, 1 << 20, &err) == 0 &&
	    r.tests != r.passed + r.failed + r.errors + r.skipped)
		__builtin_trap();
	junit_report_clear(&r);
	strbuf_release(&err);
	return 0;
}
