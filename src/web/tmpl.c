/* Templates that escape by default (tmpl.h). */
#include <string.h>
#include <strings.h>

#include "web/tmpl.h"

void tmpl_escape_n(struct strbuf *out, const char *s, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		const char *e;

		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		case '\0': e = ""; break;
		default: run++; continue;
		}
		strbuf_add(out, s + i - run, run);
		run = 0;
		strbuf_addstr(out, e);
	}
	strbuf_add(out, s + n - run, run);
}

void tmpl_escape(struct strbuf *out, const char *s)
{
	if (s)
		tmpl_escape_n(out, s, strlen(s));
}

int tmpl_url_ok(const char *url)
{
	const char *p;

	if (!url)
		return 0;
	/* browsers drop tabs and newlines from a URL: "/\t/host" is "//host" */
	for (p = url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if (url[0] == '/')
		return url[1] != '/' && url[1] != '\\';
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

static const struct tmpl_var *lookup(const struct tmpl_var *vars, size_t nr,
				     const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (strlen(vars[i].name) == len && !memcmp(vars[i].name, name, len))
			return &vars[i];
	return NULL;
}

/* The end of the block opened just before p ("{{/name}}" matching), or NULL. */
static const char *block_end(const char *p, const char *name, size_t len, const char **after)
{
	const char *q = p;

	while ((q = strstr(q, "{{/")) != NULL) {
		if (!strncmp(q + 3, name, len) && !strncmp(q + 3 + len, "}}", 2)) {
			*after = q + 5 + len;
			if (**after == '\n') /* a block on its own lines leaves none */
				(*after)++;
			return q;
		}
		q += 3;
	}
	return NULL;
}

static int render(struct strbuf *out, const char *p, const char *end,
		  const struct tmpl_var *vars, size_t nr)
{
	while (p < end) {
		const char *o = strstr(p, "{{");
		const char *c;
		const struct tmpl_var *v;
		int raw = 0, url = 0;
		size_t len;

		if (!o || o >= end) {
			strbuf_add(out, p, (size_t)(end - p));
			return 0;
		}
		strbuf_add(out, p, (size_t)(o - p));
		if (o[2] == '#') {
			/* a block: skipped here */
			const char *name = o + 3, *after;

			c = strstr(name, "}}");
			if (!c || c >= end || !block_end(c, name, (size_t)(c - name), &after))
				return -1;
			p = after;
			continue;
		}
		if (o[2] == '{') {
			raw = 1;
			o++;
		}
		c = strstr(o + 2, raw ? "}}}" : "}}");
		if (!c || c >= end)
			return -1;
		len = (size_t)(c - (o + 2));
		if (len > 4 && !memcmp(c - 4, "|url", 4)) {
			url = 1;
			len -= 4;
		}
		v = lookup(vars, nr, o + 2, len);
		if (v && v->value) {
			if (url && !tmpl_url_ok(v->value))
				strbuf_addch(out, '#');
			else if (raw && v->html)
				strbuf_addstr(out, v->value);
			else
				tmpl_escape(out, v->value);
		}
		p = c + (raw ? 3 : 2);
	}
	return 0;
}

int tmpl_render(struct strbuf *out, const char *text, const char *block,
		const struct tmpl_var *vars, size_t nr)
{
	const char *start = text, *end = text + strlen(text);

	if (block) {
		struct strbuf open = STRBUF_INIT;
		const char *b, *after;

		strbuf_addf(&open, "{{#%s}}", block);
		b = strstr(text, open.buf);
		strbuf_release(&open);
		if (!b)
			return -1;
		start = b + 5 + strlen(block);
		end = block_end(start, block, strlen(block), &after);
		if (!end)
			return -1;
	}
	return render(out, start, end, vars, nr);
}
