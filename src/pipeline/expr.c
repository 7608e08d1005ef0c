#include "pipeline/expr.h"

#include <regex.h>
#include <stdarg.h>
#include <string.h>

#include "pipeline/expr_regex.h"

/*
 * GitLab CI variable expressions. A recursive-descent parser that
 * evaluates while it parses (the grammar is tiny and every operand is a
 * value, so there is no tree). The whole input is always parsed, even
 * when a || or && result is already known, so syntax errors never depend
 * on variable values.
 *
 *   or   := and ( "||" and )*
 *   and  := cmp ( "&&" cmp )*
 *   cmp  := prim ( ( "==" | "!=" | "=~" | "!~" ) prim )*
 *   prim := "(" or ")" | $NAME | "str" | 'str' | null | /re/flags
 *
 * See docs/internals/expressions.md.
 */

#define EXPR_MAX_LEN 4096
#define EXPR_MAX_DEPTH 64

enum tok_type {
	T_END,
	T_VAR,
	T_STR,
	T_NULL,
	T_RE,
	T_EQ,
	T_NE,
	T_MATCH,
	T_NMATCH,
	T_AND,
	T_OR,
	T_LPAREN,
	T_RPAREN,
};

struct tok {
	enum tok_type type;
	size_t pos;       /* offset of the token in the source */
	const char *s;    /* name, string contents or regex body */
	size_t len;
	const char *flags;
	size_t flags_len;
};

enum val_type { V_NULL, V_STR, V_BOOL, V_RE };

struct val {
	enum val_type type;
	const char *s;    /* V_STR: contents; V_RE: body */
	size_t len;
	const char *flags;
	size_t flags_len;
	int b;            /* V_BOOL */
};

struct parser {
	const char *src;
	size_t len;
	size_t pos;
	const struct varlist *vars; /* NULL: every variable undefined */
	struct strbuf *err;
	int depth;
	int failed;
	struct tok cur;
};

__attribute__((format(printf, 3, 4)))
static void perr(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	strbuf_vaddf(p->err, fmt, ap);
	va_end(ap);
	strbuf_addf(p->err, " at column %zu of \"%.*s\"", pos + 1,
		    (int)(p->len > 200 ? 200 : p->len), p->src);
}

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Read the next token into p->cur; on a lexical error cur is T_END and failed set. */
static void next(struct parser *p)
{
	const char *s = p->src;
	struct tok *t = &p->cur;
	size_t i;

	while (p->pos < p->len && is_space(s[p->pos]))
		p->pos++;
	memset(t, 0, sizeof(*t));
	t->pos = p->pos;
	if (p->failed || p->pos >= p->len) {
		t->type = T_END;
		return;
	}
	i = p->pos;
	switch (s[i]) {
	case '$':
		for (i++; i < p->len && is_name_char(s[i]); i++)
			;
		if (i == p->pos + 1) {
			if (i < p->len && s[i] == '{')
				perr(p, p->pos, "'${NAME}' is not valid in expressions, use $NAME");
			else
				perr(p, p->pos, "expected a variable name after '$'");
			t->type = T_END;
			return;
		}
		t->type = T_VAR;
		t->s = s + p->pos + 1;
		t->len = i - p->pos - 1;
		p->pos = i;
		return;
	case '"':
	case '\'': {
		const char *end = memchr(s + i + 1, s[i], p->len - i - 1);

		if (!end) {
			perr(p, p->pos, "unterminated string");
			t->type = T_END;
			return;
		}
		t->type = T_STR;
		t->s = s + i + 1;
		t->len = end - t->s;
		p->pos = end - s + 1;
		return;
	}
	case '/':
		for (i++; i < p->len && s[i] != '/'; i++)
			if (s[i] == '\\' && i + 1 < p->len)
				i++;
		if (i >= p->len) {
			perr(p, p->pos, "unterminated regular expression");
			t->type = T_END;
			return;
		}
		t->type = T_RE;
		t->s = s + p->pos + 1;
		t->len = i - p->pos - 1;
		t->flags = s + i + 1;
		for (i++; i < p->len && ((s[i] >= 'a' && s[i] <= 'z') ||
					 (s[i] >= 'A' && s[i] <= 'Z')); i++)
			;
		t->flags_len = s + i - t->flags;
		p->pos = i;
		return;
	case '(':
		t->type = T_LPAREN;
		p->pos++;
		return;
	case ')':
		t->type = T_RPAREN;
		p->pos++;
		return;
	}
	if (i + 1 < p->len) {
		static const struct { char a, b; enum tok_type type; } ops[] = {
			{ '=', '=', T_EQ }, { '!', '=', T_NE },
			{ '=', '~', T_MATCH }, { '!', '~', T_NMATCH },
			{ '&', '&', T_AND }, { '|', '|', T_OR },
		};
		size_t k;

		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
			if (s[i] == ops[k].a && s[i + 1] == ops[k].b) {
				t->type = ops[k].type;
				p->pos += 2;
				return;
			}
		}
	}
	if (p->len - i >= 4 && !memcmp(s + i, "null", 4) &&
	    (i + 4 == p->len || !is_name_char(s[i + 4]))) {
		t->type = T_NULL;
		p->pos += 4;
		return;
	}
	if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
		perr(p, i, "unexpected byte 0x%02x", (unsigned char)s[i]);
	else
		perr(p, i, "unexpected '%c'", s[i]);
	t->type = T_END;
}

static const char *tok_desc(enum tok_type type)
{
	switch (type) {
	case T_END: return "end of expression";
	case T_VAR: return "variable";
	case T_STR: return "string";
	case T_NULL: return "null";
	case T_RE: return "regular expression";
	case T_EQ: return "'=='";
	case T_NE: return "'!='";
	case T_MATCH: return "'=~'";
	case T_NMATCH: return "'!~'";
	case T_AND: return "'&&'";
	case T_OR: return "'||'";
	case T_LPAREN: return "'('";
	case T_RPAREN: return "')'";
	}
	return "token";
}

/* GitLab uses Ruby's present?: non-null, non-false, not blank. */
static int truthy(const struct val *v)
{
	size_t i;

	switch (v->type) {
	case V_NULL:
		return 0;
	case V_BOOL:
		return v->b;
	case V_RE:
		return 1;
	case V_STR:
		for (i = 0; i < v->len; i++)
			if (!is_space(v->s[i]))
				return 1;
		return 0;
	}
	return 0;
}

static int val_equal(const struct val *a, const struct val *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case V_NULL:
		return 1;
	case V_BOOL:
		return a->b == b->b;
	case V_STR:
		return a->len == b->len && !memcmp(a->s, b->s, a->len);
	case V_RE:
		return a->len == b->len && !memcmp(a->s, b->s, a->len) &&
		       a->flags_len == b->flags_len &&
		       !memcmp(a->flags, b->flags, a->flags_len);
	}
	return 0;
}

/* Does haystack[0..hlen) contain needle[0..nlen)? */
static int contains(const char *h, size_t hlen, const char *n, size_t nlen)
{
	size_t i;

	if (nlen > hlen)
		return 0;
	for (i = 0; i + nlen <= hlen; i++)
		if (!memcmp(h + i, n, nlen))
			return 1;
	return 0;
}

/*
 * l =~ r. A null (or non-string) left side never matches. The right side
 * is a regex literal, or a string holding "/regex/flags"; a string that is
 * not a valid pattern falls back to GitLab's behaviour of a substring test
 * (the right string contains the left one).
 */
static int val_match(const struct val *l, const struct val *r)
{
	struct strbuf subject = STRBUF_INIT;
	struct strbuf scratch = STRBUF_INIT;
	struct strbuf lit = STRBUF_INIT;
	const char *body, *flags;
	size_t len, flags_len;
	regex_t re;
	int rc = 0;

	if (l->type != V_STR)
		return 0;
	if (r->type == V_RE) {
		body = r->s;
		len = r->len;
		flags = r->flags;
		flags_len = r->flags_len;
	} else if (r->type == V_STR) {
		strbuf_add(&lit, r->s, r->len);
		if (memchr(r->s, '\0', r->len) ||
		    !expr_regex_literal(lit.buf, &body, &len, &flags, &flags_len)) {
			rc = contains(r->s, r->len, l->s, l->len);
			goto done;
		}
	} else {
		goto done;
	}
	if (expr_regex_compile(&re, body, len, flags, flags_len, &scratch) < 0) {
		/* only reachable for patterns from variables */
		rc = contains(r->s, r->len, l->s, l->len);
		goto done;
	}
	strbuf_add(&subject, l->s, l->len);
	rc = regexec(&re, subject.buf, 0, NULL, 0) == 0;
	regfree(&re);
done:
	strbuf_release(&subject);
	strbuf_release(&scratch);
	strbuf_release(&lit);
	return rc;
}

static void parse_or(struct parser *p, struct val *out);

static void parse_prim(struct parser *p, struct val *out)
{
	struct tok t = p->cur;

	memset(out, 0, sizeof(*out));
	out->type = V_NULL;
	switch (t.type) {
	case T_LPAREN:
		if (++p->depth > EXPR_MAX_DEPTH) {
			perr(p, t.pos, "expression nested too deeply (limit %d)",
			     EXPR_MAX_DEPTH);
			return;
		}
		next(p);
		parse_or(p, out);
		if (p->failed)
			return;
		if (p->cur.type != T_RPAREN) {
			perr(p, p->cur.pos, "expected ')', got %s", tok_desc(p->cur.type));
			return;
		}
		p->depth--;
		next(p);
		return;
	case T_VAR: {
		struct strbuf name = STRBUF_INIT;
		const char *v;

		strbuf_add(&name, t.s, t.len);
		v = p->vars ? varlist_get(p->vars, name.buf) : NULL;
		strbuf_release(&name);
		if (v) {
			out->type = V_STR;
			out->s = v;
			out->len = strlen(v);
		}
		next(p);
		return;
	}
	case T_STR:
		out->type = V_STR;
		out->s = t.s;
		out->len = t.len;
		next(p);
		return;
	case T_NULL:
		next(p);
		return;
	case T_RE: {
		struct strbuf why = STRBUF_INIT;
		regex_t re;

		if (expr_regex_compile(&re, t.s, t.len, t.flags, t.flags_len, &why) < 0) {
			perr(p, t.pos, "%s", why.buf);
			strbuf_release(&why);
			return;
		}
		regfree(&re);
		out->type = V_RE;
		out->s = t.s;
		out->len = t.len;
		out->flags = t.flags;
		out->flags_len = t.flags_len;
		next(p);
		return;
	}
	default:
		perr(p, t.pos, "expected a value, got %s", tok_desc(t.type));
		return;
	}
}

static void parse_cmp(struct parser *p, struct val *out)
{
	parse_prim(p, out);
	while (!p->failed) {
		enum tok_type op = p->cur.type;
		struct val r;
		int b;

		if (op != T_EQ && op != T_NE && op != T_MATCH && op != T_NMATCH)
			return;
		next(p);
		parse_prim(p, &r);
		if (p->failed)
			return;
		switch (op) {
		case T_EQ:
			b = val_equal(out, &r);
			break;
		case T_NE:
			b = !val_equal(out, &r);
			break;
		case T_MATCH:
			b = val_match(out, &r);
			break;
		default:
			b = !val_match(out, &r);
			break;
		}
		memset(out, 0, sizeof(*out));
		out->type = V_BOOL;
		out->b = b;
	}
}

static void parse_and(struct parser *p, struct val *out)
{
	parse_cmp(p, out);
	while (!p->failed && p->cur.type == T_AND) {
		struct val r;
		int b = truthy(out);

		next(p);
		parse_cmp(p, &r);
		b = b && truthy(&r);
		memset(out, 0, sizeof(*out));
		out->type = V_BOOL;
		out->b = b;
	}
}

static void parse_or(struct parser *p, struct val *out)
{
	parse_and(p, out);
	while (!p->failed && p->cur.type == T_OR) {
		struct val r;
		int b = truthy(out);

		next(p);
		parse_and(p, &r);
		b = b || truthy(&r);
		memset(out, 0, sizeof(*out));
		out->type = V_BOOL;
		out->b = b;
	}
}

/* 1/0 result, -1 on error. vars NULL: syntax check only. */
static int run(const char *expr, const struct varlist *vars, struct strbuf *err)
{
	struct parser p;
	struct val v;
	size_t len = strlen(expr);

	if (len > EXPR_MAX_LEN) {
		strbuf_addf(err, "expression too long (%zu bytes, limit %d)",
			    len, EXPR_MAX_LEN);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.src = expr;
	p.len = len;
	p.vars = vars;
	p.err = err;
	next(&p);
	if (p.failed)
		return -1;
	if (p.cur.type == T_END) {
		strbuf_addstr(err, "empty expression");
		return -1;
	}
	parse_or(&p, &v);
	if (!p.failed && p.cur.type != T_END)
		perr(&p, p.cur.pos, "unexpected %s", tok_desc(p.cur.type));
	if (p.failed)
		return -1;
	return truthy(&v);
}

int expr_eval(const char *expr, const struct varlist *vars, struct strbuf *err)
{
	static const struct varlist empty = VARLIST_INIT;

	return run(expr, vars ? vars : &empty, err);
}

int expr_check(const char *expr, struct strbuf *err)
{
	return run(expr, NULL, err) < 0 ? -1 : 0;
}
