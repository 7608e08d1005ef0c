/*
 * libFuzzer target: the server's configuration file (server_config_load)
 * and a pipeline's planning context (pctx_from_json) on arbitrary bytes.
 * Must not crash or leak; a configuration that loads keeps its limits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/config.h"
#include "server/pctx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_config c;
	struct strbuf err = STRBUF_INIT;
	const char *path = fuzz_input_path("fuzz-config", data, size);
	struct pctx ctx;
	char *text;

	if (!path)
		return 0;
	server_config_defaults(&c);
	if (server_config_load(path, 0, &c, &err) == 0) {
		if (c.slots < 1 || c.slots > 256 || c.max_queue < 1 || !c.listen ||
		    !c.runner_name || c.max_log < 1024)
			__builtin_trap();
	} else if (!err.len) {
		__builtin_trap();   /* a refusal always says why */
	}
	server_config_release(&c);
	strbuf_reset(&err);

	text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		pctx_init(&ctx);
		if (pctx_from_json(text, &ctx, &err) == 0) {
			char *again = pctx_to_json(&ctx);

			free(again);
		}
		pctx_release(&ctx);
		free(text);
	}
	strbuf_release(&err);
	return 0;
}
