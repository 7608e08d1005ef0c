/* A job log as HTML: colours, sections, anchors (ansi.h). */
#include <stdio.h>
#include <string.h>

#include "web/ansi.h"
#include "util/utf8.h"
#include "web/tmpl.h"

#define MAX_PARAMS 32

void ansi_init(struct ansi *a)
{
	memset(a, 0, sizeof(*a));
	strbuf_init(&a->line, 0);
	a->sgr.fg = a->sgr.bg = -1;
}

void ansi_release(struct ansi *a)
{
	strbuf_release(&a->line);
}

static uint32_t xterm_rgb(int n)
{
	static const uint8_t steps[6] = { 0, 95, 135, 175, 215, 255 };

	if (n < 232) {
		n -= 16;
		return (uint32_t)steps[n / 36] << 16 | (uint32_t)steps[n / 6 % 6] << 8 | steps[n % 6];
	}
	n = 8 + (n - 232) * 10;
	return (uint32_t)n << 16 | (uint32_t)n << 8 | (uint32_t)n;
}

/* 38;5;N / 38;2;R;G;B at p[i] (the 38 or 48); returns params used after it. */
static int extended(const int *p, int nr, int i, int *col, uint32_t *rgb)
{
	if (i + 1 < nr && p[i + 1] == 5 && i + 2 < nr) {
		int n = p[i + 2];

		if (n >= 0 && n < 16) {
			*col = n;
		} else if (n >= 16 && n <= 255) {
			*col = 16;
			*rgb = xterm_rgb(n);
		}
		return 2;
	}
	if (i + 1 < nr && p[i + 1] == 2 && i + 4 < nr) {
		*col = 16;
		*rgb = (uint32_t)(p[i + 2] & 255) << 16 | (uint32_t)(p[i + 3] & 255) << 8 |
		       (uint32_t)(p[i + 4] & 255);
		return 4;
	}
	return nr - i - 1; /* malformed: ignore the rest */
}

static void apply_sgr(struct ansi_sgr *g, const int *p, int nr)
{
	int i;

	if (!nr) {
		memset(g, 0, sizeof(*g));
		g->fg = g->bg = -1;
		return;
	}
	for (i = 0; i < nr; i++) {
		int v = p[i];

		if (v == 0) {
			memset(g, 0, sizeof(*g));
			g->fg = g->bg = -1;
		} else if (v == 1) {
			g->bold = 1;
		} else if (v == 2) {
			g->dim = 1;
		} else if (v == 3) {
			g->italic = 1;
		} else if (v == 4) {
			g->underline = 1;
		} else if (v == 7) {
			g->inverse = 1;
		} else if (v == 22) {
			g->bold = g->dim = 0;
		} else if (v == 23) {
			g->italic = 0;
		} else if (v == 24) {
			g->underline = 0;
		} else if (v == 27) {
			g->inverse = 0;
		} else if (v >= 30 && v <= 37) {
			g->fg = v - 30;
		} else if (v == 38) {
			i += extended(p, nr, i, &g->fg, &g->fg_rgb);
		} else if (v == 39) {
			g->fg = -1;
		} else if (v >= 40 && v <= 47) {
			g->bg = v - 40;
		} else if (v == 48) {
			i += extended(p, nr, i, &g->bg, &g->bg_rgb);
		} else if (v == 49) {
			g->bg = -1;
		} else if (v >= 90 && v <= 97) {
			g->fg = v - 90 + 8;
		} else if (v >= 100 && v <= 107) {
			g->bg = v - 100 + 8;
		}
	}
}

static int sgr_plain(const struct ansi_sgr *g)
{
	return g->fg < 0 && g->bg < 0 && !g->bold && !g->dim && !g->italic && !g->underline &&
	       !g->inverse;
}

static void open_span(const struct ansi_sgr *g, struct strbuf *out)
{
	int fg = g->fg, bg = g->bg;
	uint32_t fr = g->fg_rgb, br = g->bg_rgb;

	if (g->inverse) {
		fg = g->bg < 0 ? 0 : g->bg;
		bg = g->fg < 0 ? 7 : g->fg;
		fr = g->bg_rgb;
		br = g->fg_rgb;
	}
	strbuf_addstr(out, "<span class=\"a");
	if (fg >= 0 && fg < 16)
		strbuf_addf(out, " f%d", fg);
	if (bg >= 0 && bg < 16)
		strbuf_addf(out, " b%d", bg);
	if (g->bold)
		strbuf_addstr(out, " B");
	if (g->dim)
		strbuf_addstr(out, " D");
	if (g->italic)
		strbuf_addstr(out, " I");
	if (g->underline)
		strbuf_addstr(out, " U");
	strbuf_addch(out, '"');
	if (fg >= 16 || bg >= 16) {
		strbuf_addstr(out, " style=\"");
		if (fg >= 16)
			strbuf_addf(out, "color:#%06x;", (unsigned)fr);
		if (bg >= 16)
			strbuf_addf(out, "background:#%06x", (unsigned)br);
		strbuf_addch(out, '"');
	}
	strbuf_addch(out, '>');
}

/* The text of one line (no markers, no newline) with its escapes. */
static void render_text(struct ansi *a, const unsigned char *s, size_t n, struct strbuf *out)
{
	size_t i = 0, run;
	int span = 0, dirty = 1;

	while (i < n) {
		unsigned char c = s[i];

		if (c == 0x1b) {
			if (i + 1 >= n)
				break;
			if (s[i + 1] == '[') {
				int p[MAX_PARAMS], nr = 0, cur = -1, priv = 0;
				size_t j = i + 2;

				for (; j < n && s[j] >= 0x30 && s[j] <= 0x3f; j++) {
					if (s[j] >= '0' && s[j] <= '9') {
						if (cur < 0)
							cur = 0;
						if (cur < 100000)
							cur = cur * 10 + (s[j] - '0');
					} else if (s[j] == ';' || s[j] == ':') {
						if (nr < MAX_PARAMS)
							p[nr++] = cur < 0 ? 0 : cur;
						cur = -1;
					} else {
						priv = 1;
					}
				}
				if (cur >= 0 && nr < MAX_PARAMS)
					p[nr++] = cur;
				while (j < n && s[j] >= 0x20 && s[j] <= 0x2f)
					j++;
				if (j >= n)
					break; /* cut: drop the rest of the line */
				if (s[j] == 'm' && !priv) {
					apply_sgr(&a->sgr, p, nr);
					dirty = 1;
				}
				i = j + 1;
				continue;
			}
			if (s[i + 1] == ']' || s[i + 1] == 'P' || s[i + 1] == '_' || s[i + 1] == '^' ||
			    s[i + 1] == 'X') {
				/* a string: to BEL or ESC \ */
				size_t j = i + 2;

				while (j < n && s[j] != 0x07 && !(s[j] == 0x1b && j + 1 < n && s[j + 1] == '\\'))
					j++;
				i = j >= n ? n : s[j] == 0x07 ? j + 1 : j + 2;
				continue;
			}
			i += 2;
			continue;
		}
		if (c < 0x20 && c != '\t') {
			i++;
			continue;
		}
		if (c == 0x7f) {
			i++;
			continue;
		}
		/* a run of printable text */
		if (dirty) {
			if (span)
				strbuf_addstr(out, "</span>");
			span = !sgr_plain(&a->sgr);
			if (span)
				open_span(&a->sgr, out);
			dirty = 0;
		}
		run = i;
		while (i < n && (s[i] >= 0x20 || s[i] == '\t') && s[i] != 0x7f) {
			if (s[i] < 0x80) {
				i++;
				continue;
			}
			int sl = utf8_seq(s + i, n - i);
			size_t l = sl > 0 ? (size_t)sl : 0;

			if (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
				/* a C1 control (CSI 0x9b ...): dropped */
				tmpl_escape_n(out, (const char *)s + run, i - run);
				i += 2;
				run = i;
				continue;
			}
			if (!l) {
				tmpl_escape_n(out, (const char *)s + run, i - run);
				strbuf_addstr(out, "\xef\xbf\xbd");
				i++;
				run = i;
				continue;
			}
			i += l;
		}
		tmpl_escape_n(out, (const char *)s + run, i - run);
	}
	if (span)
		strbuf_addstr(out, "</span>");
}

static void line_open(struct ansi *a, struct strbuf *out)
{
	a->lineno++;
	strbuf_addf(out, "<span class=\"l\" id=\"L%llu\"><a href=\"#L%llu\">%llu</a>",
		    (unsigned long long)a->lineno, (unsigned long long)a->lineno,
		    (unsigned long long)a->lineno);
}

/*
 * A section marker at s: [ESC[0K]section_(start|end):DIGITS:NAME[[opts]]\r[ESC[0K].
 * 1 start, 2 end, 0 none; *used the marker's length, name and collapsed filled.
 */
static int marker(const char *s, size_t n, size_t *used, char *name, int *collapsed)
{
	size_t i = 0, k;
	int kind;

	if (n >= 4 && !memcmp(s, "\x1b[0K", 4))
		i = 4;
	if (n - i >= 14 && !memcmp(s + i, "section_start:", 14)) {
		kind = 1;
		i += 14;
	} else if (n - i >= 12 && !memcmp(s + i, "section_end:", 12)) {
		kind = 2;
		i += 12;
	} else {
		return 0;
	}
	k = i;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - k < 20)
		i++;
	if (i == k || i >= n || s[i] != ':')
		return 0;
	k = ++i;
	while (i < n && i - k < ANSI_MAX_NAME &&
	       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		(s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == k)
		return 0;
	memcpy(name, s + k, i - k);
	name[i - k] = '\0';
	*collapsed = 0;
	if (i < n && s[i] == '[') {
		k = i;
		while (i < n && s[i] != ']' && i - k < 64)
			i++;
		if (i >= n || s[i] != ']')
			return 0;
		if (memmem(s + k, i - k, "collapsed=true", 14))
			*collapsed = 1;
		i++;
	}
	if (i >= n || s[i] != '\r')
		return 0;
	i++;
	if (n - i >= 4 && !memcmp(s + i, "\x1b[0K", 4))
		i += 4;
	*used = i;
	return kind;
}

static void render_line(struct ansi *a, const char *s, size_t n, struct strbuf *out)
{
	char name[ANSI_MAX_NAME + 1];
	size_t used = 0;
	int collapsed, kind, i;
	const char *cr;

	if (n && s[n - 1] == '\r')
		n--;
	kind = marker(s, n, &used, name, &collapsed);
	s += used;
	n -= used;
	/* a carriage return inside the line: what follows it was shown last */
	while ((cr = memchr(s, '\r', n)) != NULL) {
		n -= (size_t)(cr + 1 - s);
		s = cr + 1;
	}
	if (kind == 1 && a->depth < ANSI_MAX_DEPTH) {
		memcpy(a->names[a->depth++], name, sizeof(name));
		/* the name is [A-Za-z0-9_.-]: safe in an attribute */
		strbuf_addf(out, "<details class=\"sec\" data-name=\"%s\"%s><summary>", name,
			    collapsed ? "" : " open");
		line_open(a, out);
		render_text(a, (const unsigned char *)s, n, out);
		strbuf_addstr(out, "\n</span></summary>");
		return;
	}
	if (kind == 2) {
		for (i = a->depth - 1; i >= 0; i--)
			if (!strcmp(a->names[i], name))
				break;
		if (i >= 0)
			for (; a->depth > i; a->depth--)
				strbuf_addstr(out, "</details>");
		if (!n) {
			a->lineno++;
			return;
		}
	}
	line_open(a, out);
	render_text(a, (const unsigned char *)s, n, out);
	/* the newline inside the line's block: no empty line between blocks */
	strbuf_addstr(out, "\n</span>");
}

void ansi_feed(struct ansi *a, const char *s, size_t n, struct strbuf *out)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t take = nl ? (size_t)(nl - s) : n;

		if (a->line.len + take > ANSI_MAX_LINE) {
			/* an overlong line: render what fits, continue on a new one */
			size_t room = ANSI_MAX_LINE - a->line.len;

			strbuf_add(&a->line, s, room);
			render_line(a, a->line.buf, a->line.len, out);
			strbuf_setlen(&a->line, 0);
			s += room;
			n -= room;
			continue;
		}
		if (!nl) {
			strbuf_add(&a->line, s, n);
			return;
		}
		if (a->line.len) {
			strbuf_add(&a->line, s, take);
			render_line(a, a->line.buf, a->line.len, out);
			strbuf_setlen(&a->line, 0);
		} else {
			render_line(a, s, take, out);
		}
		s += take + 1;
		n -= take + 1;
	}
}

void ansi_flush(struct ansi *a, struct strbuf *out)
{
	if (!a->line.len)
		return;
	render_line(a, a->line.buf, a->line.len, out);
	strbuf_setlen(&a->line, 0);
}

void ansi_close(struct ansi *a, struct strbuf *out)
{
	for (; a->depth > 0; a->depth--)
		strbuf_addstr(out, "</details>");
}
