/*
 * libFuzzer target: the live log's JSON strings written and read without
 * jansson (src/util/jsonx.c), checked against jansson on arbitrary bytes:
 *   - json_str_escape_clean of anything is a string jansson reads, and
 *     json_str_unescape reads it back to the same bytes; cut into two
 *     pieces (a sequence cut by the first carried to the second, as the
 *     server reads a log in chunks) it gives the same text;
 *   - json_str_unescape of bytes with no quote in them, a quote added,
 *     accepts exactly what jansson accepts, with the same value;
 *   - the client's reading of a log event takes the server's form of it
 *     and never crashes on anything else.
 * Must not crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "client/client.h"
#include "util/jsonx.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *jansson_str(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *v;

	strbuf_addch(&sb, '"');
	strbuf_add(&sb, s, n);
	strbuf_addch(&sb, '"');
	v = json_loadb(sb.buf, sb.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	strbuf_release(&sb);
	return v;
}

static void escape_round_trip(const char *in, size_t n)
{
	struct strbuf esc = STRBUF_INIT, two = STRBUF_INIT, back = STRBUF_INIT,
		      carry = STRBUF_INIT, ev = STRBUF_INIT, text = STRBUF_INIT;
	size_t cut = n ? (unsigned char)in[0] % (n + 1) : 0, used;
	int64_t off;
	json_t *v;

	if (json_str_escape_clean(&esc, in, n, 1) != n)
		__builtin_trap();
	v = jansson_str(esc.buf ? esc.buf : "", esc.len);
	if (!v || !json_is_string(v))
		__builtin_trap();
	strbuf_addf(&ev, "{\"offset\":%zu,\"text\":\"", n);
	strbuf_add(&ev, esc.buf ? esc.buf : "", esc.len);
	strbuf_addstr(&ev, "\"}");
	strbuf_addch(&esc, '"');
	if (json_str_unescape(&back, esc.buf, esc.len) != esc.len ||
	    back.len != json_string_length(v) ||
	    memcmp(back.buf ? back.buf : "", json_string_value(v), back.len))
		__builtin_trap();
	/* in two pieces, as chunks of a log file */
	used = json_str_escape_clean(&two, in, cut, 0);
	if (used > cut || cut - used > 3)
		__builtin_trap();
	strbuf_add(&carry, in + used, n - used);
	if (json_str_escape_clean(&two, carry.buf ? carry.buf : "", carry.len, 1) != carry.len ||
	    two.len + 1 != esc.len || memcmp(two.buf ? two.buf : "", esc.buf, two.len))
		__builtin_trap();
	/* the client reads the server's event */
	if (client_parse_log_event(ev.buf, ev.len, &off, &text) || off != (int64_t)n ||
	    text.len != back.len || memcmp(text.buf ? text.buf : "", back.buf ? back.buf : "", text.len))
		__builtin_trap();
	json_decref(v);
	strbuf_release(&esc);
	strbuf_release(&two);
	strbuf_release(&back);
	strbuf_release(&carry);
	strbuf_release(&ev);
	strbuf_release(&text);
}

static void unescape_like_jansson(const char *in, size_t n)
{
	struct strbuf s = STRBUF_INIT, got = STRBUF_INIT;
	size_t i, r;
	json_t *v;

	for (i = 0; i < n; i++)
		if (in[i] != '"')
			strbuf_addch(&s, in[i]);
	v = jansson_str(s.buf ? s.buf : "", s.len);
	strbuf_addch(&s, '"');
	r = json_str_unescape(&got, s.buf, s.len);
	if (!r != !v)
		__builtin_trap();
	if (v && (r != s.len || got.len != json_string_length(v) ||
		  memcmp(got.buf ? got.buf : "", json_string_value(v), got.len)))
		__builtin_trap();
	if (!r && got.len)
		__builtin_trap();
	json_decref(v);
	strbuf_release(&s);
	strbuf_release(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf text = STRBUF_INIT;
	int64_t off;

	if (size > 65536)
		return 0;
	escape_round_trip((const char *)data, size);
	unescape_like_jansson((const char *)data, size);
	/* any bytes as an event: no crash, nothing kept on refusal */
	if (client_parse_log_event((const char *)data, size, &off, &text) && text.len)
		__builtin_trap();
	strbuf_release(&text);
	return 0;
}
