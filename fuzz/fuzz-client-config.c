/*
 * libFuzzer target: the client's config file (client_config_parse) and
 * token file reader on arbitrary bytes. Must not crash or leak; what a
 * file that parses sets is a non-empty string without a line end (a
 * value in double quotes keeps its spaces).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "fuzz.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *v)
{
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (!n || strchr(v, '\n'))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_config cfg = { NULL, NULL, NULL };
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	const char *path;
	char *tok = NULL;

	/* the parser wants len bytes, NUL-terminated (as read from a file) */
	strbuf_add(&text, data, size);
	if (client_config_parse(&cfg, text.buf, text.len, "client.conf", &err) == 0) {
		check(cfg.server);
		check(cfg.token);
		check(cfg.token_file);
	} else if (!err.len) {
		__builtin_trap();
	}
	client_config_release(&cfg);
	strbuf_reset(&err);
	path = fuzz_input_path("fuzz-client-config", data, size);
	if (path && client_read_token_file(path, &tok, &err) == 0) {
		check(tok);
		free(tok);
	}
	strbuf_release(&err);
	strbuf_release(&text);
	return 0;
}
