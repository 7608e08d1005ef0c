/*
 * libFuzzer target: a project's notification settings (what PUT
 * /api/v1/projects/NAME/notifications accepts) and the e-mail built from
 * hostile commit data. Must not crash or leak; settings that parse
 * render and parse again with their secrets kept; a message never has a
 * header line made from the input's CR/LF, and every line ends in CRLF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "notify/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *m)
{
	const char *end = strstr(m, "\r\n\r\n"), *p;

	if (!end)
		__builtin_trap();
	for (p = m; *p; p++) {
		if (*p == '\n' && (p == m || p[-1] != '\r'))
			__builtin_trap();
		if (*p == '\r' && p[1] != '\n')
			__builtin_trap();
	}
	/* in the header: a line is a known header or a folded continuation */
	for (p = m; p < end; p = strstr(p, "\r\n") + 2) {
		if (*p == ' ')
			continue;
		if (strncmp(p, "Date: ", 6) && strncmp(p, "From: ", 6) && strncmp(p, "To: ", 4) &&
		    strncmp(p, "Subject: ", 9) && strncmp(p, "Message-ID: ", 12) &&
		    strncmp(p, "MIME-Version: ", 14) && strncmp(p, "Content-Type: ", 14) &&
		    strncmp(p, "Content-Transfer-Encoding: ", 27) &&
		    strncmp(p, "Auto-Submitted: ", 16))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_settings s, again;
	struct strbuf err = STRBUF_INIT;
	json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	char *text, *m, *a;

	if (in && notify_settings_parse(in, NULL, &s, &err) == 0) {
		json_t *out = notify_settings_json(&s, 0);

		if (notify_settings_parse(out, &s, &again, &err) != 0)
			__builtin_trap();
		if (s.forge.kind && strcmp(s.forge.token, again.forge.token))
			__builtin_trap();
		notify_settings_release(&again);
		json_decref(out);
		notify_settings_release(&s);
	} else if (in && !err.len) {
		__builtin_trap();	/* a refusal always says why */
	}
	json_decref(in);
	strbuf_release(&err);

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	{
		struct notify_pipeline_info p = {
			.project = "app", .id = 1, .ref = text, .sha = text, .status = "failed",
			.url = text, .title = text, .author = text,
		};
		const char *failed[] = { text };

		m = notify_email_message("cidre@example.com", "a@example.com", "failed", &p,
					 failed, 1, 0, "h");
		check_message(m);
		free(m);
	}
	a = notify_author_address(text);
	if (a && !notify_address_ok(a))
		__builtin_trap();
	free(a);
	free(text);
	return 0;
}
