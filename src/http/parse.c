/*
 * The request parser: see parse.h for the contract and
 * docs/internals/http.md for what is accepted and why.
 */
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "http/parse.h"
#include "util/hex.h"

/* RFC 9110 tchar: the characters of a method or a field name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t http_head_end(const char *buf, size_t len, size_t *scan)
{
	size_t i = *scan;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);

		if (!nl) {
			*scan = len;
			return 0;
		}
		i = (size_t)(nl - buf);
		if (i + 1 >= len || (buf[i + 1] == '\r' && i + 2 >= len)) {
			*scan = i;        /* cannot tell yet */
			return 0;
		}
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
		i++;
	}
	*scan = len;
	return 0;
}

/*
 * The next line of buf[*pos..len): NUL-terminated in place (its LF, and a
 * CR before it, replaced). Returns the line, NULL at the end. A CR or NUL
 * elsewhere in the line makes *bad true.
 */
static char *next_line(char *buf, size_t len, size_t *pos, size_t *ret_len,
		       bool *bad)
{
	char *line = buf + *pos, *nl;
	size_t n;

	if (*pos >= len)
		return NULL;
	nl = memchr(line, '\n', len - *pos);
	if (!nl)
		return NULL;
	n = (size_t)(nl - line);
	*pos += n + 1;
	*nl = '\0';
	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	if (memchr(line, '\r', n) || memchr(line, '\0', n))
		*bad = true;
	*ret_len = n;
	return line;
}

/* Does the comma-separated list s hold token tok (case-insensitive)? */
static bool list_has(const char *s, const char *tok)
{
	size_t n = strlen(tok);

	while (*s) {
		size_t len;

		s += strspn(s, " \t,");
		len = strcspn(s, ",");
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == n && !strncasecmp(s, tok, n))
			return true;
		s += strcspn(s, ",");
	}
	return false;
}

static unsigned request_line(char *line, size_t n, struct http_head *h,
			     const char **msg)
{
	char *sp1, *sp2, *v;
	size_t i;

	sp1 = memchr(line, ' ', n);
	if (!sp1 || sp1 == line) {
		*msg = "malformed request line";
		return 400;
	}
	for (i = 0; line + i < sp1; i++)
		if (!is_tchar((unsigned char)line[i])) {
			*msg = "malformed request method";
			return 400;
		}
	if (sp1 - line > 32) {
		*msg = "request method too long";
		return 400;
	}
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line));
	if (!sp2 || sp2 == sp1 + 1) {
		*msg = "malformed request line";
		return 400;
	}
	for (v = sp1 + 1; v < sp2; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f) {
			*msg = "malformed request target";
			return 400;
		}
	v = sp2 + 1;
	if (strlen(v) != 8 || strncmp(v, "HTTP/", 5) || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') {
		*msg = "malformed HTTP version";
		return 400;
	}
	if (v[5] != '1' || v[7] > '1') {
		*msg = "HTTP version not supported";
		return 505;
	}
	*sp1 = *sp2 = '\0';
	h->method = line;
	h->target = sp1 + 1;
	h->target_len = (size_t)(sp2 - sp1 - 1);
	h->minor = (unsigned)(v[7] - '0');
	return 0;
}

static unsigned field(char *line, size_t n, struct http_head *h,
		      bool *close, bool *keep, const char **msg)
{
	char *colon = memchr(line, ':', n), *v, *end;
	size_t i;

	if (!colon || colon == line) {
		*msg = "malformed header field";
		return 400;
	}
	for (i = 0; line + i < colon; i++)
		if (!is_tchar((unsigned char)line[i])) {
			*msg = "malformed header field name";
			return 400;
		}
	if (h->nr_fields >= HTTP_MAX_FIELDS) {
		*msg = "too many header fields";
		return 431;
	}
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = line + n;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (char *p = v; p < end; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			*msg = "control character in header field";
			return 400;
		}
	h->fields[h->nr_fields].name = line;
	h->fields[h->nr_fields].value = v;
	h->nr_fields++;

	if (!strcasecmp(line, "Content-Length")) {
		uint64_t cl = 0;
		size_t len = strlen(v);

		if (!len || len > 18 || strspn(v, "0123456789") != len) {
			*msg = "malformed Content-Length";
			return 400;
		}
		for (i = 0; i < len; i++)
			cl = cl * 10 + (uint64_t)(v[i] - '0');
		if (h->has_length && h->content_length != cl) {
			*msg = "conflicting Content-Length";
			return 400;
		}
		h->has_length = true;
		h->content_length = cl;
	} else if (!strcasecmp(line, "Transfer-Encoding")) {
		if (h->chunked || strcasecmp(v, "chunked")) {
			*msg = "transfer coding not supported";
			return 501;
		}
		h->chunked = true;
	} else if (!strcasecmp(line, "Connection")) {
		if (list_has(v, "close"))
			*close = true;
		if (list_has(v, "keep-alive"))
			*keep = true;
	} else if (!strcasecmp(line, "Expect")) {
		if (strcasecmp(v, "100-continue")) {
			*msg = "expectation not supported";
			return 417;
		}
		h->expect_continue = true;
	}
	return 0;
}

unsigned http_head_parse(char *buf, size_t len, struct http_head *h,
			 const char **msg)
{
	size_t pos = 0, n;
	bool bad = false, close = false, keep = false;
	char *line;
	unsigned st;

	h->method = h->target = NULL;
	h->target_len = 0;
	h->minor = 0;
	h->nr_fields = 0;
	h->content_length = 0;
	h->has_length = h->chunked = h->keep_alive = h->expect_continue = false;
	*msg = NULL;
	line = next_line(buf, len, &pos, &n, &bad);
	if (!line || bad) {
		*msg = "malformed request line";
		return 400;
	}
	if (n > HTTP_MAX_HEAD / 2) {
		*msg = "request target too long";
		return 414;
	}
	st = request_line(line, n, h, msg);
	if (st)
		return st;
	while ((line = next_line(buf, len, &pos, &n, &bad))) {
		if (bad) {
			*msg = "malformed header field";
			return 400;
		}
		if (!n)
			break;
		if (*line == ' ' || *line == '\t') {
			*msg = "obsolete line folding";
			return 400;
		}
		st = field(line, n, h, &close, &keep, msg);
		if (st)
			return st;
	}
	if (h->chunked && h->has_length) {
		*msg = "both Content-Length and Transfer-Encoding";
		return 400;
	}
	h->keep_alive = h->minor ? !close : keep && !close;
	return 0;
}

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

/* The next line of in[*pos..len) without its CRLF; -1 if incomplete. */
static ssize_t chunk_line(const char *in, size_t len, size_t pos,
			  size_t *next)
{
	const char *nl = memchr(in + pos, '\n', len - pos);
	size_t n;

	if (!nl)
		return -1;
	n = (size_t)(nl - (in + pos));
	*next = pos + n + 1;
	if (n && in[pos + n - 1] == '\r')
		n--;
	return (ssize_t)n;
}

unsigned http_chunked_decode(struct http_chunked *c, const char *in,
			     size_t len, size_t *used, struct strbuf *body,
			     size_t max, const char **msg)
{
	size_t pos = 0, next;
	ssize_t n;

	*used = 0;
	while (c->state != CH_DONE) {
		switch (c->state) {
		case CH_SIZE: {
			uint64_t size = 0;
			size_t i = 0;

			n = chunk_line(in, len, pos, &next);
			if (n < 0) {
				if (len - pos > HTTP_MAX_CHUNK_LINE)
					goto bad;
				goto more;
			}
			if (n > HTTP_MAX_CHUNK_LINE)
				goto bad;
			for (; i < (size_t)n; i++) {
				int v = hex_value((unsigned char)in[pos + i]);

				if (v < 0)
					break;
				if (i >= 15)
					goto bad;
				size = size * 16 + (uint64_t)v;
			}
			/* digits, then nothing or a ';' extension */
			if (!i || (i < (size_t)n && in[pos + i] != ';'))
				goto bad;
			if (memchr(in + pos, '\r', (size_t)n) ||
			    memchr(in + pos, '\0', (size_t)n))
				goto bad;
			pos = next;
			if (!size) {
				c->state = CH_TRAILER;
				break;
			}
			if (size > max - body->len) {
				*msg = "request body too large";
				*used = pos;
				return 413;
			}
			c->left = size;
			c->state = CH_DATA;
			break;
		}
		case CH_DATA: {
			size_t take = len - pos;

			if (!take)
				goto more;
			if (take > c->left)
				take = (size_t)c->left;
			strbuf_add(body, in + pos, take);
			pos += take;
			c->left -= take;
			if (!c->left)
				c->state = CH_DATA_END;
			break;
		}
		case CH_DATA_END:
			if (pos >= len)
				goto more;
			if (in[pos] == '\n') {
				pos++;
			} else if (in[pos] == '\r') {
				if (pos + 1 >= len)
					goto more;
				if (in[pos + 1] != '\n')
					goto bad;
				pos += 2;
			} else {
				goto bad;
			}
			c->state = CH_SIZE;
			break;
		case CH_TRAILER:
			n = chunk_line(in, len, pos, &next);
			if (n < 0) {
				if (len - pos > HTTP_MAX_CHUNK_LINE)
					goto bad;
				goto more;
			}
			c->trailer += next - pos;
			if (n > HTTP_MAX_CHUNK_LINE ||
			    c->trailer > HTTP_MAX_TRAILER)
				goto bad;
			pos = next;
			if (!n)
				c->state = CH_DONE;
			break;
		}
	}
	*used = pos;
	return 1;
more:
	*used = pos;
	return 0;
bad:
	*used = pos;
	*msg = "malformed chunked body";
	return 400;
}

size_t http_pct_decode(char *dst, const char *src, size_t n, bool plus,
		       bool *nul, bool *bad)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < n &&
		    (hi = hex_value((unsigned char)src[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)src[i + 2])) >= 0) {
			dst[o] = (char)(hi * 16 + lo);
			if (!dst[o] && nul)
				*nul = true;
			o++;
			i += 2;
		} else {
			if (src[i] == '%' && bad)
				*bad = true;
			dst[o++] = plus && src[i] == '+' ? ' ' : src[i];
		}
	}
	dst[o] = '\0';
	return o;
}
