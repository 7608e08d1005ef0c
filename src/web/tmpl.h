#ifndef CIDRE_TMPL_H
#define CIDRE_TMPL_H

/*
 * The web UI's templates: text with placeholders, escaped by default.
 *
 *	{{name}}        the value, HTML-escaped (& < > " ' become entities), safe
 *	                in element text and in quoted attribute values
 *	{{name|url}}    for href/src from data: the value when it is an http:,
 *	                https: or server-relative ("/...", not "//") URL, else
 *	                "#"; then HTML-escaped like any value
 *	{{{name}}}      raw: only a value made with tmpl_html() (HTML the server
 *	                generated itself: SVG, a rendered log); any other value
 *	                is escaped as with {{name}}
 *	{{#block}}...{{/block}}  a named part, skipped when the whole template
 *	                is rendered, rendered alone with tmpl_render(..., "block",
 *	                ...) (rows of a table: the caller loops)
 *
 * A name missing from the variables renders as nothing. Templates are
 * the server's own files (src/web/templates/); their syntax errors are
 * found by the unit test (tests/unit/t-tmpl.c), which renders each one.
 */

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

struct tmpl_var {
	const char *name;
	const char *value;   /* NULL renders as "" */
	int html;            /* set by tmpl_html(): may be output raw */
};

#define tmpl_str(n, v)  ((struct tmpl_var){ (n), (v), 0 })
#define tmpl_html(n, v) ((struct tmpl_var){ (n), (v), 1 })

/* Append s HTML-escaped to out. */
void tmpl_escape(struct strbuf *out, const char *s);
void tmpl_escape_n(struct strbuf *out, const char *s, size_t n);
/* 1 if url may be put in an href: http(s)://, or a path starting with one "/". */
int tmpl_url_ok(const char *url);

/*
 * Render template text (or its block named block, when not NULL) with
 * vars into out. -1 when the block does not exist or a placeholder is
 * not closed (nothing more is appended from there), else 0.
 */
int tmpl_render(struct strbuf *out, const char *text, const char *block,
		const struct tmpl_var *vars, size_t nr);

#endif
