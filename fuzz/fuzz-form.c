/*
 * libFuzzer target: what a browser sends that the server parses by hand —
 * a form body (page_form_value, src/web/page.c) and the Cookie header's
 * session id (auth_cookie_parse, src/server/auth.c). The first byte picks
 * the field asked for; the rest is the body, and also (up to a NUL) the
 * Cookie header. Must not crash or read past the input; a field found is
 * at most PAGE_MAX_FIELD bytes, a session id found is AUTH_TOKEN_HEX
 * lowercase hex digits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "util/strbuf.h"
#include "web/page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "csrf", "login", "password", "next", "c", "" };
	struct strbuf out = STRBUF_INIT;
	char sid[AUTH_TOKEN_HEX + 1], *body, *hdr;
	size_t i;

	if (size < 1)
		return 0;
	/* exactly the body's bytes: ASan sees a read past them */
	body = malloc(size - 1 ? size - 1 : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	if (page_form_value(body, size - 1, names[data[0] % 6], &out) == 0 &&
	    out.len > PAGE_MAX_FIELD)
		__builtin_trap();
	free(body);
	strbuf_release(&out);

	hdr = strndup((const char *)data + 1, size - 1);
	if (!hdr)
		return 0;
	if (auth_cookie_parse(hdr, sid)) {
		for (i = 0; i < AUTH_TOKEN_HEX; i++)
			if (!strchr("0123456789abcdef", sid[i]) || !sid[i])
				__builtin_trap();
		if (sid[AUTH_TOKEN_HEX])
			__builtin_trap();
	}
	free(hdr);
	return 0;
}
