/*
 * libFuzzer target: dotenv_parse_file on arbitrary bytes. The parser takes
 * a path, so each input is written to one private memfd and read back
 * through /proc/self/fd. Must not crash, leak, or print.
 */
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "exec/reports.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct varlist vl = VARLIST_INIT;
	struct strbuf err = STRBUF_INIT;
	const char *path = fuzz_input_path("fuzz-dotenv", data, size);
	size_t i;

	if (!path)
		return 0;
	if (dotenv_parse_file(path, &vl, &err) == 0) {
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
