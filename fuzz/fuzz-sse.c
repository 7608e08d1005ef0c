/*
 * libFuzzer target: the client's server-sent events reader
 * (src/client/sse.c) on arbitrary bytes, fed as a stream arrives: the
 * first byte picks the size of the pieces, the second the cap on a line
 * and an event. Fed in pieces or in one go, the same events come out
 * (or the same cap is hit); no event's data is over the cap, every
 * string is NUL-terminated at its length. Must not crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/sse.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	struct strbuf all;      /* every event, serialised */
	size_t max;
	int nr;
};

static int on_event(void *ctx, const struct sse_event *ev)
{
	struct seen *s = ctx;

	if (!ev->event || !ev->data || ev->data_len > s->max ||
	    strlen(ev->data) > ev->data_len || ev->data[ev->data_len])
		__builtin_trap();
	strbuf_addf(&s->all, "%s|%s|", ev->event, ev->id ? ev->id : "-");
	strbuf_add(&s->all, ev->data, ev->data_len);
	strbuf_addch(&s->all, '\n');
	/* a callback may stop the stream: after 50 events, say */
	return ++s->nr >= 50 ? 7 : 0;
}

static int run(const char *in, size_t len, size_t piece, size_t max, struct seen *s)
{
	struct sse_parser p;
	size_t off = 0;
	int rc = 0;

	sse_parser_init(&p, max);
	while (off < len && !rc) {
		size_t n = len - off < piece ? len - off : piece;

		rc = sse_parser_feed(&p, in + off, n, on_event, s);
		off += n;
	}
	sse_parser_release(&p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = { STRBUF_INIT, 0, 0 }, b = { STRBUF_INIT, 0, 0 };
	size_t piece, max;
	int ra, rb;

	if (size < 2)
		return 0;
	piece = (size_t)data[0] % 16 + 1;
	max = (size_t)data[1] * 4 + 1;
	a.max = b.max = max;
	ra = run((const char *)data + 2, size - 2, piece, max, &a);
	rb = run((const char *)data + 2, size - 2, size, max, &b);
	/*
	 * The pieces do not change the events. (A line cut by the cap may
	 * be noticed at another point: compare only streams that fit.)
	 */
	if (ra != SSE_TOO_BIG && rb != SSE_TOO_BIG &&
	    (ra != rb || a.all.len != b.all.len || memcmp(a.all.buf, b.all.buf, a.all.len)))
		__builtin_trap();
	strbuf_release(&a.all);
	strbuf_release(&b.all);
	return 0;
}
