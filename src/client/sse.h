#ifndef CIDRE_SSE_H
#define CIDRE_SSE_H

/*
 * A server-sent events reader (the WHATWG "text/event-stream" format),
 * fed with whatever pieces of the stream arrive:
 *
 *	struct sse_parser p;
 *	sse_parser_init(&p, max);
 *	while (bytes arrive)
 *		rc = sse_parser_feed(&p, buf, len, cb, ctx);
 *	sse_parser_release(&p);
 *
 * Lines end with LF, CRLF or CR (a CR at the end of one piece and an LF
 * at the start of the next are one line end). "field: value" lines set
 * the event's fields (one space after the colon is dropped), lines
 * starting with ':' are comments (keep-alives), a blank line dispatches
 * the event. Several data lines are joined with '\n'. An event with no
 * data line is not dispatched (the standard's rule). The last id seen is
 * sticky across events, as in browsers.
 */

#include <stddef.h>

#include "util/strbuf.h"

struct sse_event {
	const char *event;  /* "message" when the stream named none */
	const char *data;   /* NUL-terminated; data_len bytes */
	size_t data_len;
	const char *id;     /* last id seen, or NULL */
};

/* Return 0 to go on; any other value stops sse_parser_feed, which
 * returns it. */
typedef int (*sse_event_cb)(void *ctx, const struct sse_event *ev);

struct sse_parser {
	struct strbuf line;
	struct strbuf event;
	struct strbuf data;
	struct strbuf id;
	int has_id;
	int has_data;
	int after_cr;   /* the last byte fed was a CR */
	size_t max;     /* cap on one line and on one event's data */
};

/* max: the largest line or event data accepted, in bytes (0: 1 MiB). */
void sse_parser_init(struct sse_parser *p, size_t max);
void sse_parser_release(struct sse_parser *p);

/*
 * Parse len bytes. Returns 0 when all were consumed, SSE_TOO_BIG when a
 * line or an event outgrew the cap (the parser is then unusable), or
 * the first non-zero value cb returned (the rest of buf is dropped).
 */
#define SSE_TOO_BIG (-1000)
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len,
		    sse_event_cb cb, void *ctx);

#endif
