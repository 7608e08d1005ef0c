/*
 * libFuzzer target: the job log renderer (src/web/ansi.c) on arbitrary
 * bytes, fed in chunks whose sizes come from the input. Must not crash or
 * leak, and what it writes must be inert: no "<" that does not start one
 * of the few tags it makes, no escape character, no NUL.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "web/ansi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tags[] = { "<span class=\"", "</span>", "<a href=\"#L", "</a>",
				    "<details class=\"sec\" data-name=\"", "</details>",
				    "<summary>", "</summary>" };

static void check(const struct strbuf *out)
{
	size_t i, k;

	for (i = 0; i < out->len; i++) {
		char c = out->buf[i];

		if (c == 0x1b || c == '\0')
			__builtin_trap();
		if (c != '<')
			continue;
		for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
			if (!strncmp(out->buf + i, tags[k], strlen(tags[k])))
				break;
		if (k == sizeof(tags) / sizeof(tags[0]))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ansi a;
	struct strbuf out = STRBUF_INIT;
	size_t chunk, i;

	if (!size)
		return 0;
	chunk = 1 + data[0] % 97;
	data++;
	size--;
	ansi_init(&a);
	for (i = 0; i < size; i += chunk)
		ansi_feed(&a, (const char *)data + i, size - i < chunk ? size - i : chunk, &out);
	ansi_flush(&a, &out);
	ansi_close(&a, &out);
	check(&out);
	ansi_release(&a);
	strbuf_release(&out);
	return 0;
}
