/*
 * libFuzzer target: the HTTP request parser (src/http/parse.c) on
 * arbitrary bytes, fed the way the server's connections feed it: the
 * first byte picks the size of the pieces the rest arrives in. The head's
 * end must be found at the same place whatever the pieces; a parsed head
 * must satisfy its limits; a chunked body is decoded piece by piece, the
 * consumed bytes dropped as http.c does, and may never exceed the cap.
 * Must not crash or read past the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head *h;
	struct http_chunked ch = { 0 };
	struct strbuf body = STRBUF_INIT;
	const char *in, *msg;
	size_t piece, len, scan = 0, scan1 = 0, end = 0, end1, got, pos;
	char *head;
	unsigned st;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] % 32 + 1;
	in = (const char *)data + 1;
	len = size - 1;

	/* the head's end, found in one go and in pieces, is the same */
	end1 = http_head_end(in, len, &scan1);
	for (got = 0; got < len && !end;) {
		got += piece < len - got ? piece : len - got;
		end = http_head_end(in, got, &scan);
	}
	if (end != end1 || end > len)
		__builtin_trap();
	if (!end)
		return 0;

	/* exactly the head's bytes: ASan sees a read past them */
	head = malloc(end);
	h = malloc(sizeof(*h));
	if (!head || !h) {
		free(head);
		free(h);
		return 0;
	}
	memcpy(head, in, end);
	st = http_head_parse(head, end, h, &msg);
	if (st) {
		if (st < 400 || st > 505 || !msg)
			__builtin_trap();
		goto done;
	}
	if (h->nr_fields > HTTP_MAX_FIELDS || h->minor > 1 ||
	    strlen(h->target) != h->target_len || !*h->method ||
	    (h->chunked && h->has_length))
		__builtin_trap();
	for (size_t i = 0; i < h->nr_fields; i++)
		if (!*h->fields[i].name)
			__builtin_trap();
	if (!h->chunked)
		goto done;

	/* the body, chunked, in pieces; unconsumed bytes offered again */
	{
		char buf[HTTP_MAX_HEAD];
		size_t blen = 0, used;

		pos = end;
		for (;;) {
			size_t take = len - pos;

			if (take > piece)
				take = piece;
			if (take > sizeof(buf) - blen)
				take = sizeof(buf) - blen;
			memcpy(buf + blen, in + pos, take);
			blen += take;
			pos += take;
			st = http_chunked_decode(&ch, buf, blen, &used, &body,
						 MAX_BODY, &msg);
			if (used > blen || body.len > MAX_BODY)
				__builtin_trap();
			memmove(buf, buf + used, blen - used);
			blen -= used;
			if (st == 1 || st >= 400)
				break;
			if (pos == len || (!take && blen == sizeof(buf)))
				break;
		}
		if (st >= 400 && !msg)
			__builtin_trap();
	}
done:
	strbuf_release(&body);
	free(head);
	free(h);
	return 0;
}
