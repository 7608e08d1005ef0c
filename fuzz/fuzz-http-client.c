/*
 * libFuzzer target: the API client's own HTTP/1.1 transport
 * (src/client/http1.c) on arbitrary answers. The first byte picks the
 * size of the pieces the body arrives in; the rest is an answer. Its head
 * (up to the blank line, as http_head_end finds it) goes to
 * http1_parse_head in a buffer of exactly its size, so ASan sees any read
 * past it; a parsed head must be consistent. What follows is decoded as a
 * chunked body piece by piece, the consumed bytes dropped as xfer_http1
 * does: the bytes held back must stay below a chunk line's limit, and the
 * body can never be longer than the input. Must not crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/xfer.h"
#include "http/parse.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse buf[0..len) copied to a buffer of exactly len bytes. */
static void parse_exact(const char *buf, size_t len)
{
	struct http1_resp r;
	const char *why = NULL;
	char *head = malloc(len ? len : 1);

	if (!head)
		return;
	memcpy(head, buf, len);
	if (http1_parse_head(head, len, &r, &why)) {
		if (!why || r.location)
			__builtin_trap();
	} else {
		if (r.status < 100 || r.status > 599 ||
		    (r.chunked && r.has_length) ||
		    r.close_delimited != (!r.chunked && !r.has_length))
			__builtin_trap();
		free(r.location);
	}
	free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_chunked ch = { 0 };
	struct strbuf in = STRBUF_INIT, body = STRBUF_INIT;
	const char *buf, *msg;
	size_t piece, len, scan = 0, end, pos, used;
	unsigned st = 0;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	buf = (const char *)data + 1;
	len = size - 1;

	end = http_head_end(buf, len, &scan);
	if (end > len)
		__builtin_trap();
	/* a head, or (not what the client does, but it must hold) all bytes */
	parse_exact(buf, end && end <= HTTP1_MAX_HEAD ? end : len);

	/* the rest as a chunked body, in pieces */
	for (pos = end; pos < len && st == 0;) {
		size_t take = len - pos < piece ? len - pos : piece;

		strbuf_add(&in, buf + pos, take);
		pos += take;
		st = http_chunked_decode(&ch, in.buf, in.len, &used, &body, SIZE_MAX,
					 &msg);
		if (used > in.len || body.len > len - end)
			__builtin_trap();
		strbuf_remove(&in, 0, used);
		if (st == 0 && in.len > HTTP_MAX_CHUNK_LINE + 2)
			__builtin_trap();   /* the client's buffer would grow */
		if (st > 1 && !msg)
			__builtin_trap();
	}
	strbuf_release(&in);
	strbuf_release(&body);
	return 0;
}
