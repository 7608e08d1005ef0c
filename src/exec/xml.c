/*
 * A strict, bounded XML 1.0 pull reader. See xml.h.
 *
 * The document is in memory; the reader walks it once. Positions are byte
 * offsets; line and column are computed only when an error is reported.
 */
#include "exec/xml.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/hex.h"
#include "util/xalloc.h"

enum { ST_PROLOG, ST_CONTENT, ST_EPILOG, ST_DONE, ST_FAILED };

#define HASH_MASK (2 * XML_MAX_ATTRS - 1)

/* An attribute of the tag being read: offsets into x->tag. */
struct xml_attr_pos {
	size_t name, value, len;
	unsigned slot;          /* its entry in x->hash, cleared after the tag */
};

/* Where decoded text goes: at most max bytes, whole characters only. */
struct sink {
	struct strbuf *sb;
	size_t max;
	int cut;
};

void xml_reader_init(struct xml_reader *x, const char *buf, size_t len)
{
	memset(x, 0, sizeof(*x));
	x->buf = buf;
	x->len = len;
	x->text_max = SIZE_MAX;
	strbuf_init(&x->tag, 0);
	strbuf_init(&x->txt, 0);
	strbuf_init(&x->stack, 0);
	strbuf_init(&x->conv, 0);
	x->state = ST_PROLOG;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		x->pos = 3;
	x->start = x->pos;
}

void xml_reader_release(struct xml_reader *x)
{
	strbuf_release(&x->tag);
	strbuf_release(&x->txt);
	strbuf_release(&x->stack);
	strbuf_release(&x->conv);
	free(x->stack_name);
	free(x->stack_pos);
	free(x->attr_v);
	free(x->attr_pos);
	xml_reader_init(x, NULL, 0);
}

/* Line and column (1-based, in characters) of byte offset off. */
static void where(const struct xml_reader *x, size_t off, unsigned long *line,
		  unsigned long *col)
{
	const unsigned char *s = (const unsigned char *)x->buf;
	size_t i = off >= x->start ? x->start : 0;

	*line = 1;
	*col = 1;
	for (; i < off && i < x->len; i++) {
		if (s[i] == '\n' ||
		    (s[i] == '\r' && (i + 1 >= x->len || s[i + 1] != '\n'))) {
			++*line;
			*col = 1;
		} else if ((s[i] & 0xc0) != 0x80 && s[i] != '\r') {
			++*col;
		}
	}
}

__attribute__((format(printf, 4, 5)))
static int fail(struct xml_reader *x, size_t off, struct strbuf *err,
		const char *fmt, ...)
{
	unsigned long line, col;
	va_list ap;

	where(x, off, &line, &col);
	strbuf_addf(err, "%lu:%lu: ", line, col);
	va_start(ap, fmt);
	strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	x->state = ST_FAILED;
	return -1;
}

/*
 * Decode the UTF-8 sequence at s (n > 0 bytes available): its length with
 * *cp set, or 0 if it is malformed, overlong, or beyond U+10FFFF.
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return len;
}

static size_t utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = 0xc0 | (c >> 6);
		out[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		out[0] = 0xe0 | (c >> 12);
		out[1] = 0x80 | ((c >> 6) & 0x3f);
		out[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | (c >> 18);
	out[1] = 0x80 | ((c >> 12) & 0x3f);
	out[2] = 0x80 | ((c >> 6) & 0x3f);
	out[3] = 0x80 | (c & 0x3f);
	return 4;
}

/* XML 1.0 Char production. */
static int is_char(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* XML 1.0 (fifth edition) NameStartChar and NameChar. */
static int name_start(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == ':' || (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) ||
	       (c >= 0xf8 && c <= 0x2ff) || (c >= 0x370 && c <= 0x37d) ||
	       (c >= 0x37f && c <= 0x1fff) || (c >= 0x200c && c <= 0x200d) ||
	       (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) ||
	       (c >= 0x3001 && c <= 0xd7ff) || (c >= 0xf900 && c <= 0xfdcf) ||
	       (c >= 0xfdf0 && c <= 0xfffd) || (c >= 0x10000 && c <= 0xeffff);
}

static int name_char(uint32_t c)
{
	return name_start(c) || c == '-' || c == '.' || (c >= '0' && c <= '9') ||
	       c == 0xb7 || (c >= 0x300 && c <= 0x36f) || (c >= 0x203f && c <= 0x2040);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skip white space; returns whether there was any. */
static int skip_space(struct xml_reader *x)
{
	size_t p = x->pos;

	while (x->pos < x->len && is_space(x->buf[x->pos]))
		x->pos++;
	return x->pos != p;
}

static int starts(const struct xml_reader *x, const char *lit)
{
	size_t n = strlen(lit);

	return x->len - x->pos >= n && !memcmp(x->buf + x->pos, lit, n);
}

/* Check the character at off; its length goes to *ret_len. */
static int char_at(struct xml_reader *x, size_t off, size_t *ret_len,
		   struct strbuf *err)
{
	const unsigned char *s = (const unsigned char *)x->buf + off;
	uint32_t c;
	size_t n = utf8_decode(s, x->len - off, &c);

	if (!n)
		return fail(x, off, err, "invalid UTF-8 (byte 0x%02X)", s[0]);
	if (!is_char(c))
		return fail(x, off, err, "character U+%04X is not allowed in XML",
			    (unsigned)c);
	*ret_len = n;
	return 0;
}

/* Check that bytes [a, b) are valid characters. */
static int check_chars(struct xml_reader *x, size_t a, size_t b,
		       struct strbuf *err)
{
	const unsigned char *s = (const unsigned char *)x->buf;
	size_t n;

	while (a < b) {
		if ((s[a] >= 0x20 && s[a] < 0x80) || s[a] == '\n' || s[a] == '\t' ||
		    s[a] == '\r') {
			a++;
			continue;
		}
		if (char_at(x, a, &n, err) < 0)
			return -1;
		a += n;
	}
	return 0;
}

/* Append n bytes of whole characters to o, as far as o->max allows. */
static void put(struct sink *o, const char *p, size_t n)
{
	size_t room;

	if (o->cut || !n)
		return;
	room = o->max - o->sb->len;
	if (n > room) {
		n = room;
		while (n && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		o->cut = 1;
	}
	strbuf_add(o->sb, p, n);
}

/* Append n checked bytes to o with CR LF and lone CR turned into LF. */
static void put_lines(struct sink *o, const char *p, size_t n)
{
	const char *end = p + n, *cr;

	while ((cr = memchr(p, '\r', end - p))) {
		put(o, p, cr - p);
		put(o, "\n", 1);
		p = cr + 1 < end && cr[1] == '\n' ? cr + 2 : cr + 1;
	}
	put(o, p, end - p);
}

/*
 * Length in bytes of the Name at p, 0 if none; stops a little past
 * XML_MAX_NAME, so a result over XML_MAX_NAME means "too long".
 */
static size_t name_len(const struct xml_reader *x, size_t p)
{
	const unsigned char *s = (const unsigned char *)x->buf;
	size_t start = p, n;
	uint32_t c;

	while (p < x->len && p - start <= XML_MAX_NAME) {
		n = utf8_decode(s + p, x->len - p, &c);
		if (!n || !(p == start ? name_start(c) : name_char(c)))
			break;
		p += n;
	}
	return p - start;
}

/* Read a Name at x->pos, moving past it; what names it in the error. */
static int read_name(struct xml_reader *x, const char *what, size_t *ret_len,
		     struct strbuf *err)
{
	size_t n = name_len(x, x->pos);

	if (!n)
		return fail(x, x->pos, err, "expected %s", what);
	if (n > XML_MAX_NAME)
		return fail(x, x->pos, err, "name longer than %d bytes", XML_MAX_NAME);
	x->pos += n;
	*ret_len = n;
	return 0;
}

/* Decode the reference at x->pos (on '&') into o and move past its ';'. */
static int read_ref(struct xml_reader *x, struct sink *o, struct strbuf *err)
{
	static const struct { const char *name; const char *text; } predef[] = {
		{ "lt", "<" }, { "gt", ">" }, { "amp", "&" },
		{ "apos", "'" }, { "quot", "\"" },
	};
	const char *s = x->buf;
	size_t at = x->pos, p = at + 1, n, i;
	char u[4];

	if (p < x->len && s[p] == '#') {
		int hex = 0, d;
		size_t digits = 0;
		uint32_t c = 0;

		if (++p < x->len && s[p] == 'x') {
			hex = 1;
			p++;
		}
		for (; p < x->len; p++, digits++) {
			d = hex ? hex_value(s[p]) : (s[p] >= '0' && s[p] <= '9' ? s[p] - '0' : -1);
			if (d < 0)
				break;
			if (c <= 0x10ffff)
				c = c * (hex ? 16 : 10) + d;
		}
		if (!digits || p >= x->len || s[p] != ';')
			return fail(x, at, err, "malformed character reference");
		if (!is_char(c))
			return fail(x, at, err, "character reference to a character not "
				    "allowed in XML");
		put(o, u, utf8_encode(c, u));
		x->pos = p + 1;
		return 0;
	}
	n = name_len(x, p);
	if (!n || n > XML_MAX_NAME || p + n >= x->len || s[p + n] != ';')
		return fail(x, at, err, "'&' must start a reference (write &amp;)");
	for (i = 0; i < ARRAY_SIZE(predef); i++) {
		if (strlen(predef[i].name) == n && !memcmp(s + p, predef[i].name, n)) {
			put(o, predef[i].text, 1);
			x->pos = p + n + 1;
			return 0;
		}
	}
	if (n > 64) /* quote at most 64 bytes, whole characters */
		for (n = 64; ((unsigned char)s[p + n] & 0xc0) == 0x80; n--)
			;
	return fail(x, at, err, "undefined entity &%.*s%s (only &lt; &gt; &amp; "
		    "&apos; &quot; and character references exist without a DTD)",
		    (int)n, s + p, s[p + n] == ';' ? ";" : "...;");
}

/*
 * Decode character data at x->pos into o: text (quote 0) up to '<' or the
 * end of input, or an attribute value up to its closing quote. Stops on
 * '<', the quote, or the end; the caller decides which are errors.
 */
static int read_chars(struct xml_reader *x, int quote, struct sink *o,
		      struct strbuf *err)
{
	const unsigned char *s = (const unsigned char *)x->buf;
	size_t run = x->pos, n;

	while (x->pos < x->len) {
		unsigned char c = s[x->pos];

		if (c >= 0x20 && c < 0x80 && c != '<' && c != '&' && c != ']' &&
		    c != quote) { /* c >= 0x20, so never quote 0 */
			x->pos++;
			continue;
		}
		if (c == '<' || (quote && c == quote))
			break;
		if (c == ']') {
			if (!quote && starts(x, "]]>"))
				return fail(x, x->pos, err, "']]>' is not allowed in text");
			x->pos++;
			continue;
		}
		if (c >= 0x80) {
			if (char_at(x, x->pos, &n, err) < 0)
				return -1;
			x->pos += n;
			continue;
		}
		if (c != '&' && c != '\t' && c != '\n' && c != '\r')
			return fail(x, x->pos, err, "character U+%04X is not allowed in XML",
				    c);
		if (!quote && c != '&' && c != '\r') {
			x->pos++;
			continue;
		}
		put(o, x->buf + run, x->pos - run);
		if (c == '&') {
			if (read_ref(x, o, err) < 0)
				return -1;
		} else {
			x->pos++;
			if (c == '\r' && x->pos < x->len && s[x->pos] == '\n')
				x->pos++;
			put(o, quote ? " " : "\n", 1);
		}
		run = x->pos;
	}
	put(o, x->buf + run, x->pos - run);
	return 0;
}

static int text_event(struct xml_reader *x, const struct sink *o)
{
	x->text = x->txt.buf;
	x->text_len = x->txt.len;
	x->text_cut = o->cut;
	x->depth = x->open;
	return XML_TEXT;
}

/* One attribute at x->pos, appended to x->tag as number *nattrs. */
static int read_attr(struct xml_reader *x, size_t *nattrs, struct strbuf *err)
{
	const char *s = x->buf;
	size_t at = x->pos, n, open;
	struct xml_attr_pos *a;
	struct sink o = { &x->tag, SIZE_MAX, 0 };
	uint32_t h = 2166136261u;
	const char *name;
	char q;

	if (read_name(x, "an attribute name", &n, err) < 0)
		return -1;
	if (*nattrs == XML_MAX_ATTRS)
		return fail(x, at, err, "more than %d attributes on <%s>",
			    XML_MAX_ATTRS, x->tag.buf);
	if (!x->attr_pos) {
		x->attr_pos = xcalloc(XML_MAX_ATTRS, sizeof(*x->attr_pos));
		x->attr_v = xcalloc(XML_MAX_ATTRS, sizeof(*x->attr_v));
	}
	a = &x->attr_pos[*nattrs];
	a->name = x->tag.len;
	strbuf_add(&x->tag, s + at, n);
	strbuf_addch(&x->tag, '\0');
	skip_space(x);
	if (x->pos >= x->len || s[x->pos] != '=')
		return fail(x, x->pos, err, "expected '=' after attribute %s",
			    x->tag.buf + a->name);
	x->pos++;
	skip_space(x);
	if (x->pos >= x->len || (s[x->pos] != '"' && s[x->pos] != '\''))
		return fail(x, x->pos, err, "the value of attribute %s must be quoted",
			    x->tag.buf + a->name);
	open = x->pos;
	q = s[x->pos++];
	a->value = x->tag.len;
	if (read_chars(x, q, &o, err) < 0)
		return -1;
	if (x->pos >= x->len)
		return fail(x, open, err, "the value of attribute %s is not closed",
			    x->tag.buf + a->name);
	if (s[x->pos] == '<')
		return fail(x, x->pos, err, "'<' in the value of attribute %s",
			    x->tag.buf + a->name);
	x->pos++;
	a->len = x->tag.len - a->value;
	strbuf_addch(&x->tag, '\0');

	/* FNV-1a; the table has twice XML_MAX_ATTRS slots, so never fills */
	name = x->tag.buf + a->name;
	for (n = 0; name[n]; n++)
		h = (h ^ (unsigned char)name[n]) * 16777619u;
	for (h &= HASH_MASK; x->hash[h]; h = (h + 1) & HASH_MASK)
		if (!strcmp(x->tag.buf + x->attr_pos[x->hash[h] - 1].name, name))
			return fail(x, at, err, "duplicate attribute %s", name);
	x->hash[h] = *nattrs + 1;
	a->slot = h;
	++*nattrs;
	return 0;
}

static int start_tag(struct xml_reader *x, struct strbuf *err)
{
	const char *s = x->buf;
	size_t at = x->pos, n, nattrs = 0, i;
	int ret = -1, ws;

	if (x->state == ST_EPILOG)
		return fail(x, at, err, "a second root element (only one is allowed)");
	if (x->open == XML_MAX_DEPTH)
		return fail(x, at, err, "elements nested deeper than %d", XML_MAX_DEPTH);
	x->pos++;
	if (read_name(x, "an element name after '<'", &n, err) < 0)
		return -1;
	strbuf_reset(&x->tag);
	strbuf_add(&x->tag, s + at + 1, n);
	strbuf_addch(&x->tag, '\0');
	for (;;) {
		ws = skip_space(x);
		if (x->pos >= x->len) {
			fail(x, at, err, "tag <%s> is not closed", x->tag.buf);
			goto done;
		}
		if (s[x->pos] == '>') {
			x->pos++;
			break;
		}
		if (s[x->pos] == '/') {
			if (x->pos + 1 < x->len && s[x->pos + 1] == '>') {
				x->pos += 2;
				x->pending_end = 1;
				break;
			}
			fail(x, x->pos, err, "expected '>' after '/'");
			goto done;
		}
		if (!ws) {
			fail(x, x->pos, err, "expected white space, '>' or '/>' in <%s>",
			     x->tag.buf);
			goto done;
		}
		if (read_attr(x, &nattrs, err) < 0)
			goto done;
	}
	ret = XML_START;
done:
	for (i = 0; i < nattrs; i++) {
		x->hash[x->attr_pos[i].slot] = 0;
		x->attr_v[i].name = x->tag.buf + x->attr_pos[i].name;
		x->attr_v[i].value = x->tag.buf + x->attr_pos[i].value;
		x->attr_v[i].value_len = x->attr_pos[i].len;
	}
	if (ret < 0)
		return ret;
	if (!x->stack_name) {
		x->stack_name = xcalloc(XML_MAX_DEPTH, sizeof(*x->stack_name));
		x->stack_pos = xcalloc(XML_MAX_DEPTH, sizeof(*x->stack_pos));
	}
	x->stack_name[x->open] = x->stack.len;
	x->stack_pos[x->open] = at;
	strbuf_add(&x->stack, x->tag.buf, n + 1);
	x->depth = ++x->open;
	x->state = ST_CONTENT;
	x->name = x->tag.buf;
	x->attrs = x->attr_v;
	x->nattrs = nattrs;
	return XML_START;
}

/* Close the innermost open element: the XML_END event. */
static int pop(struct xml_reader *x)
{
	size_t off = x->stack_name[x->open - 1];

	strbuf_reset(&x->tag);
	strbuf_addstr(&x->tag, x->stack.buf + off);
	strbuf_setlen(&x->stack, off);
	x->name = x->tag.buf;
	x->depth = x->open--;
	if (!x->open)
		x->state = ST_EPILOG;
	return XML_END;
}

static int end_tag(struct xml_reader *x, struct strbuf *err)
{
	const char *s = x->buf, *open;
	size_t at = x->pos, n;
	unsigned long line, col;

	if (x->state != ST_CONTENT)
		return fail(x, at, err, "end tag without a start tag");
	x->pos += 2;
	if (read_name(x, "an element name after '</'", &n, err) < 0)
		return -1;
	skip_space(x);
	if (x->pos >= x->len || s[x->pos] != '>')
		return fail(x, x->pos, err, "expected '>' to end </%.*s>", (int)n,
			    s + at + 2);
	x->pos++;
	open = x->stack.buf + x->stack_name[x->open - 1];
	if (strlen(open) != n || memcmp(open, s + at + 2, n)) {
		where(x, x->stack_pos[x->open - 1], &line, &col);
		return fail(x, at, err, "end tag </%.*s> does not match <%s> "
			    "(opened at %lu:%lu)", (int)n, s + at + 2, open, line, col);
	}
	return pop(x);
}

static int comment(struct xml_reader *x, struct strbuf *err)
{
	const char *s = x->buf, *end;
	size_t at = x->pos;

	x->pos += 4;
	end = memmem(s + x->pos, x->len - x->pos, "--", 2);
	if (!end)
		return fail(x, at, err, "comment is not closed");
	if (end + 2 >= s + x->len || end[2] != '>')
		return fail(x, end - s, err, "'--' is not allowed inside a comment");
	if (check_chars(x, x->pos, end - s, err) < 0)
		return -1;
	x->pos = end - s + 3;
	return 0;
}

static int cdata(struct xml_reader *x, struct strbuf *err)
{
	const char *s = x->buf, *end;
	size_t at = x->pos;
	struct sink o = { &x->txt, x->text_max, 0 };

	if (x->state != ST_CONTENT)
		return fail(x, at, err, "CDATA section outside the root element");
	x->pos += 9;
	end = memmem(s + x->pos, x->len - x->pos, "]]>", 3);
	if (!end)
		return fail(x, at, err, "CDATA section is not closed");
	if (check_chars(x, x->pos, end - s, err) < 0)
		return -1;
	strbuf_reset(&x->txt);
	put_lines(&o, s + x->pos, end - s - x->pos);
	x->pos = end - s + 3;
	return text_event(x, &o);
}

static int is_value_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* ISO-8859-1 is the first 256 code points: rewrite the rest as UTF-8. */
static void latin1_to_utf8(struct xml_reader *x)
{
	size_t i;

	strbuf_grow(&x->conv, x->len + (x->len - x->pos) / 4);
	strbuf_add(&x->conv, x->buf, x->pos);
	for (i = x->pos; i < x->len; i++) {
		unsigned char c = x->buf[i];

		if (c < 0x80) {
			strbuf_addch(&x->conv, c);
		} else {
			strbuf_addch(&x->conv, 0xc0 | (c >> 6));
			strbuf_addch(&x->conv, 0x80 | (c & 0x3f));
		}
	}
	x->buf = x->conv.buf;
	x->len = x->conv.len;
}

/* The XML declaration; x->pos is just past "<?xml". */
static int xml_decl(struct xml_reader *x, size_t at, struct strbuf *err)
{
	static const char *const names[] = { "version", "encoding", "standalone" };
	const char *s = x->buf, *v;
	int last = -1, which, latin1 = 0;
	size_t n, vn, vat;
	char q;

	for (;;) {
		int ws = skip_space(x);

		if (starts(x, "?>")) {
			x->pos += 2;
			break;
		}
		if (x->pos >= x->len)
			return fail(x, at, err, "the XML declaration is not closed");
		if (!ws)
			return fail(x, x->pos, err, "expected white space or '?>' in the "
				    "XML declaration");
		n = name_len(x, x->pos);
		for (which = 0; which < (int)ARRAY_SIZE(names); which++)
			if (strlen(names[which]) == n &&
			    !memcmp(s + x->pos, names[which], n))
				break;
		if (which == (int)ARRAY_SIZE(names) || which <= last ||
		    (last < 0 && which))
			return fail(x, x->pos, err, "expected %s in the XML declaration",
				    last < 0 ? "version" : "encoding, standalone or '?>'");
		last = which;
		x->pos += n;
		skip_space(x);
		if (x->pos >= x->len || s[x->pos] != '=')
			return fail(x, x->pos, err, "expected '=' in the XML declaration");
		x->pos++;
		skip_space(x);
		if (x->pos >= x->len || (s[x->pos] != '"' && s[x->pos] != '\''))
			return fail(x, x->pos, err, "expected a quoted value in the XML "
				    "declaration");
		q = s[x->pos++];
		vat = x->pos;
		v = s + vat;
		while (x->pos < x->len && is_value_char(s[x->pos]) && x->pos - vat < 64)
			x->pos++;
		vn = x->pos - vat;
		if (x->pos >= x->len || s[x->pos] != q || !vn)
			return fail(x, vat, err, "bad %s in the XML declaration",
				    names[which]);
		x->pos++;
		if (which == 0 && (vn < 3 || memcmp(v, "1.", 2)))
			return fail(x, vat, err, "unsupported XML version %.*s",
				    (int)vn, v);
		if (which == 2 && !(vn == 3 && !memcmp(v, "yes", 3)) &&
		    !(vn == 2 && !memcmp(v, "no", 2)))
			return fail(x, vat, err, "standalone must be yes or no");
		if (which != 1)
			continue;
#define ENC(name) (vn == strlen(name) && !strncasecmp(v, name, vn))
		if (ENC("UTF-8") || ENC("UTF8") || ENC("US-ASCII") || ENC("ASCII"))
			latin1 = 0;
		else if (ENC("ISO-8859-1") || ENC("ISO_8859-1") || ENC("ISO8859-1") ||
			 ENC("LATIN1"))
			latin1 = 1;
		else
			return fail(x, vat, err, "unsupported encoding %.*s (UTF-8, "
				    "US-ASCII and ISO-8859-1 are supported)", (int)vn, v);
#undef ENC
		if (latin1 && x->start)
			return fail(x, vat, err, "a UTF-8 byte order mark with "
				    "encoding %.*s", (int)vn, v);
	}
	if (latin1)
		latin1_to_utf8(x);
	return 0;
}

static int pi(struct xml_reader *x, struct strbuf *err)
{
	const char *s = x->buf, *end;
	size_t at = x->pos, n;

	x->pos += 2;
	if (read_name(x, "a processing instruction target", &n, err) < 0)
		return -1;
	if (n == 3 && !strncasecmp(s + at + 2, "xml", 3)) {
		if (at != x->start || memcmp(s + at + 2, "xml", 3))
			return fail(x, at, err, "the XML declaration must be at the very "
				    "start of the document (and <?xml is reserved)");
		return xml_decl(x, at, err);
	}
	if (x->pos < x->len && !is_space(s[x->pos]) && !starts(x, "?>"))
		return fail(x, x->pos, err, "expected white space after the "
			    "processing instruction target");
	end = memmem(s + x->pos, x->len - x->pos, "?>", 2);
	if (!end)
		return fail(x, at, err, "processing instruction is not closed");
	if (check_chars(x, x->pos, end - s, err) < 0)
		return -1;
	x->pos = end - s + 2;
	return 0;
}

int xml_next(struct xml_reader *x, struct strbuf *err)
{
	const unsigned char *s = (const unsigned char *)x->buf;

	if (x->state == ST_FAILED)
		return -1;
	x->name = NULL;
	x->attrs = NULL;
	x->nattrs = 0;
	x->text = NULL;
	x->text_len = 0;
	x->text_cut = 0;
	x->depth = 0;
	if (x->state == ST_DONE)
		return XML_EOF;
	if (x->pending_end) {
		x->pending_end = 0;
		return pop(x);
	}
	for (;;) {
		if (x->pos >= x->len) {
			if (x->state == ST_CONTENT) {
				unsigned long line, col;

				where(x, x->stack_pos[x->open - 1], &line, &col);
				return fail(x, x->len, err, "end of document inside <%s> "
					    "(opened at %lu:%lu)", x->stack.buf +
					    x->stack_name[x->open - 1], line, col);
			}
			if (x->state == ST_PROLOG)
				return fail(x, x->len, err, "no root element");
			x->state = ST_DONE;
			return XML_EOF;
		}
		if (s[x->pos] != '<') {
			if (x->state == ST_CONTENT) {
				struct sink o = { &x->txt, x->text_max, 0 };

				strbuf_reset(&x->txt);
				if (read_chars(x, 0, &o, err) < 0)
					return -1;
				return text_event(x, &o);
			}
			if (x->pos == 0 && x->len >= 2 &&
			    ((s[0] == 0xfe && s[1] == 0xff) || (s[0] == 0xff && s[1] == 0xfe)))
				return fail(x, 0, err, "UTF-16 is not supported (use UTF-8)");
			skip_space(x);
			if (x->pos < x->len && s[x->pos] != '<')
				return fail(x, x->pos, err, "text %s the root element",
					    x->state == ST_PROLOG ? "before" : "after");
			continue;
		}
		if (starts(x, "</"))
			return end_tag(x, err);
		if (starts(x, "<?")) {
			if (pi(x, err) < 0)
				return -1;
			s = (const unsigned char *)x->buf; /* may be converted */
			continue;
		}
		if (starts(x, "<!--")) {
			if (comment(x, err) < 0)
				return -1;
			continue;
		}
		if (starts(x, "<![CDATA["))
			return cdata(x, err);
		if (starts(x, "<!DOCTYPE"))
			return fail(x, x->pos, err, "DOCTYPE declarations are not allowed");
		if (starts(x, "<!"))
			return fail(x, x->pos, err, "unsupported markup declaration");
		return start_tag(x, err);
	}
}

const char *xml_attr(const struct xml_reader *x, const char *name)
{
	size_t i;

	for (i = 0; i < x->nattrs; i++)
		if (!strcmp(x->attrs[i].name, name))
			return x->attrs[i].value;
	return NULL;
}
