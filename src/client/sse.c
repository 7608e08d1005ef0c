/*
 * Server-sent events reader; see sse.h.
 */
#include <string.h>

#include "client/sse.h"

void sse_parser_init(struct sse_parser *p, size_t max)
{
	strbuf_init(&p->line, 0);
	strbuf_init(&p->event, 0);
	strbuf_init(&p->data, 0);
	strbuf_init(&p->id, 0);
	p->has_id = 0;
	p->has_data = 0;
	p->after_cr = 0;
	p->max = max ? max : (size_t)1 << 20;
}

void sse_parser_release(struct sse_parser *p)
{
	strbuf_release(&p->line);
	strbuf_release(&p->event);
	strbuf_release(&p->data);
	strbuf_release(&p->id);
}

static int dispatch(struct sse_parser *p, sse_event_cb cb, void *ctx)
{
	struct sse_event ev;
	int rc;

	if (!p->has_data) {
		strbuf_reset(&p->event);
		return 0;
	}
	ev.event = p->event.len ? p->event.buf : "message";
	ev.data = p->data.buf;
	ev.data_len = p->data.len;
	ev.id = p->has_id ? p->id.buf : NULL;
	rc = cb(ctx, &ev);
	strbuf_reset(&p->event);
	strbuf_reset(&p->data);
	p->has_data = 0;
	return rc;
}

/* One complete line, without its line end. */
static int take_line(struct sse_parser *p, sse_event_cb cb, void *ctx)
{
	const char *line = p->line.buf, *colon, *value;
	size_t len = p->line.len, name_len, value_len;

	if (!len)
		return dispatch(p, cb, ctx);
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	if (colon) {
		name_len = (size_t)(colon - line);
		value = colon + 1;
		value_len = len - name_len - 1;
		if (value_len && *value == ' ') {
			value++;
			value_len--;
		}
	} else {
		name_len = len;
		value = line + len;
		value_len = 0;
	}
	if (name_len == 5 && !memcmp(line, "event", 5)) {
		strbuf_reset(&p->event);
		strbuf_add(&p->event, value, value_len);
	} else if (name_len == 4 && !memcmp(line, "data", 4)) {
		if (p->has_data)
			strbuf_addch(&p->data, '\n');
		strbuf_add(&p->data, value, value_len);
		p->has_data = 1;
		if (p->data.len > p->max)
			return SSE_TOO_BIG;
	} else if (name_len == 2 && !memcmp(line, "id", 2)) {
		/* the standard ignores an id holding a NUL */
		if (!memchr(value, '\0', value_len)) {
			strbuf_reset(&p->id);
			strbuf_add(&p->id, value, value_len);
			p->has_id = 1;
		}
	}
	/* "retry" and unknown fields are ignored */
	return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len,
		    sse_event_cb cb, void *ctx)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		const char *end;
		size_t n;

		if (p->after_cr) {
			p->after_cr = 0;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		/* the next line end: LF or CR, whichever comes first */
		end = NULL;
		for (n = i; n < len; n++)
			if (buf[n] == '\n' || buf[n] == '\r') {
				end = buf + n;
				break;
			}
		if (!end) {
			if (p->line.len + (len - i) > p->max)
				return SSE_TOO_BIG;
			strbuf_add(&p->line, buf + i, len - i);
			return 0;
		}
		n = (size_t)(end - (buf + i));
		if (p->line.len + n > p->max)
			return SSE_TOO_BIG;
		strbuf_add(&p->line, buf + i, n);
		if (*end == '\r')
			p->after_cr = 1;
		i += n + 1;
		rc = take_line(p, cb, ctx);
		strbuf_reset(&p->line);
		if (rc)
			return rc;
	}
	return 0;
}
