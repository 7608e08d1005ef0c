/*
 * libFuzzer target: what a browser sends that the server parses by hand —
 * a form body (page_form_value, src/web/page.c) and the Cookie header's
 * session id (auth_cookie_parse, src/server/auth.c). The first byte picks
 * the field asked for; the rest is the body, and also (up to a NUL) the
 * Cookie header. Must not crash or read past the input; a field found is
 * at most PAGE_MAX_FIELD bytes, a session id found is AUTH_TOKEN_HEX
 * lowercase hex digits. The body is also a schedule form's variables
 * text (web_schedule_variables): when taken, it is a JSON object of
 * valid names and string values, and shown as lines again
 * (web_schedule_variables_text) it reads back to the same object.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/auth.h"
#include "util/strbuf.h"
#include "web/page.h"
#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A name as the rules take it: [A-Za-z_][A-Za-z0-9_]*, 1..255 bytes. */
static int good_name(const char *k)
{
	size_t i, n = strlen(k);

	if (!n || n > 255 || (k[0] >= '0' && k[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return 0;
	return 1;
}

static void variables(const char *text)
{
	struct strbuf msg = STRBUF_INIT, lines = STRBUF_INIT;
	char *json = NULL, *again = NULL;
	json_t *o, *v;
	const char *k;

	if (web_schedule_variables(text, &json, &msg)) {
		if (!msg.len || json)
			__builtin_trap();	/* a refusal says why, and gives nothing */
		strbuf_release(&msg);
		return;
	}
	o = json_loads(json, 0, NULL);
	if (!json_is_object(o))
		__builtin_trap();
	json_object_foreach(o, k, v)
		if (!good_name(k) || !json_is_string(v) || strchr(json_string_value(v), '\n'))
			__builtin_trap();
	if (web_schedule_variables_text(json, &lines) == 0) {
		if (web_schedule_variables(lines.buf, &again, &msg) || strcmp(json, again))
			__builtin_trap();
	}
	json_decref(o);
	free(json);
	free(again);
	strbuf_release(&msg);
	strbuf_release(&lines);
}

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
	variables(hdr);
	free(hdr);
	return 0;
}
