/*
 * spec:inputs: a pipeline file's header document declares its inputs
 * (default, type, options, regex, description); the include that loads
 * the file gives values (include:inputs); "$[[ inputs.NAME ]]" in the
 * file's values and keys is replaced by them, as GitLab does. See
 * docs/pipeline.md#specinputs and docs/internals/pipeline-loader.md.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/expr_regex.h"
#include "pipeline/inputs.h"
#include "pipeline/vars.h"
#include "util/xalloc.h"

/* One declared input and the value it has for this file (not owned). */
struct input {
	const char *name;
	const struct ynode *value;
	const struct pos *pos;
};

struct inputs {
	struct diag *d;
	const char *file;
	struct input *v;
	size_t nr;
	size_t *budget;
	int failed;
};

static const struct input *input_find(const struct inputs *in, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < in->nr; i++)
		if (strlen(in->v[i].name) == len && !strncmp(in->v[i].name, name, len))
			return &in->v[i];
	return NULL;
}

static int type_ok(const struct ynode *v, const char *type)
{
	enum yscalar_kind k = v->type == YNODE_SCALAR ? yscalar_kind(v) : YS_NULL;

	if (!strcmp(type, "array"))
		return v->type == YNODE_SEQ;
	if (!strcmp(type, "number"))
		return v->type == YNODE_SCALAR && (k == YS_INT || k == YS_FLOAT);
	if (!strcmp(type, "boolean"))
		return v->type == YNODE_SCALAR && k == YS_BOOL;
	return v->type == YNODE_SCALAR;         /* string: any scalar, as text */
}

/* Check one input's value against its declaration; 0, or -1 reported. */
static int check_value(struct inputs *in, const char *name, const struct ynode *decl,
		       const struct ynode *v, const struct pos *at)
{
	const struct ynode *type = ymap_get(decl, "type"), *opts = ymap_get(decl, "options");
	const struct ynode *re = ymap_get(decl, "regex");
	const char *t = type && type->type == YNODE_SCALAR ? type->str : "string";
	size_t i;

	if (!type_ok(v, t)) {
		diag_error(in->d, at, "input %s must be a%s %s", name,
			   !strcmp(t, "array") ? "n" : "", t);
		return -1;
	}
	if (opts && opts->type == YNODE_SEQ && v->type == YNODE_SCALAR) {
		for (i = 0; i < opts->nr; i++)
			if (opts->items[i]->type == YNODE_SCALAR &&
			    !strcmp(opts->items[i]->str, v->str))
				break;
		if (i == opts->nr) {
			diag_error(in->d, at, "input %s: \"%s\" is not one of its options", name,
				   v->str);
			return -1;
		}
	}
	if (re && re->type == YNODE_SCALAR && v->type == YNODE_SCALAR) {
		struct strbuf err = STRBUF_INIT;
		const char *body = re->str, *flags = "";
		size_t len = strlen(re->str), flen = 0;
		regex_t rx;
		int m;

		expr_regex_literal(re->str, &body, &len, &flags, &flen);
		if (expr_regex_compile(&rx, body, len, flags, flen, &err) < 0) {
			diag_error(in->d, &re->pos, "input %s: bad regex: %s", name, err.buf);
			strbuf_release(&err);
			return -1;
		}
		m = regexec(&rx, v->str, 0, NULL, 0) == 0;
		regfree(&rx);
		strbuf_release(&err);
		if (!m) {
			diag_error(in->d, at, "input %s: \"%s\" does not match its regex %s", name,
				   v->str, re->str);
			return -1;
		}
	}
	return 0;
}

/* The header's declarations with this file's values into in; 0 or -1. */
static int declare(struct inputs *in, const struct ynode *spec, const struct ynode *given,
		   const struct pos *given_pos)
{
	static const char *const keys[] = {
		"default", "type", "options", "regex", "description",
	};
	const struct ynode *decls = ymap_get(spec, "inputs");
	size_t i, k;
	int ret = 0;

	if (!decls || decls->type != YNODE_MAP) {
		diag_error(in->d, decls ? &decls->pos : &spec->pos,
			   "spec:inputs must be a map of the file's inputs");
		return -1;
	}
	for (i = 0; i < spec->pairs_nr; i++)
		if (strcmp(spec->pairs[i].key, "inputs")) {
			diag_error(in->d, &spec->pairs[i].key_pos, "unknown keyword \"spec:%s\"",
				   spec->pairs[i].key);
			ret = -1;
		}
	in->v = xcalloc(decls->pairs_nr + 1, sizeof(*in->v));
	for (i = 0; i < decls->pairs_nr; i++) {
		const struct ypair *pr = &decls->pairs[i];
		const struct ynode *decl = pr->val, *v = NULL, *type;
		const struct pos *at = &pr->key_pos;

		if (decl->type != YNODE_MAP && !ynode_is_null(decl)) {
			diag_error(in->d, &decl->pos, "spec:inputs:%s must be a map (default, "
				   "type, options, regex, description)", pr->key);
			ret = -1;
			continue;
		}
		for (k = 0; decl->type == YNODE_MAP && k < decl->pairs_nr; k++) {
			size_t j;

			for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
				if (!strcmp(decl->pairs[k].key, keys[j]))
					break;
			if (j == sizeof(keys) / sizeof(keys[0])) {
				diag_error(in->d, &decl->pairs[k].key_pos, "unknown keyword "
					   "\"spec:inputs:%s:%s\"", pr->key, decl->pairs[k].key);
				ret = -1;
			}
		}
		type = ymap_get(decl, "type");
		if (type && (type->type != YNODE_SCALAR ||
			     (strcmp(type->str, "string") && strcmp(type->str, "number") &&
			      strcmp(type->str, "boolean") && strcmp(type->str, "array")))) {
			diag_error(in->d, &type->pos, "spec:inputs:%s:type must be string, "
				   "number, boolean or array", pr->key);
			ret = -1;
			continue;
		}
		if (given && (v = ymap_get(given, pr->key)))
			at = &ymap_find(given, pr->key)->key_pos;
		else
			v = ymap_get(decl, "default");
		if (!v) {
			diag_error(in->d, given ? given_pos : &pr->key_pos,
				   "input %s is required: %s gives it no default", pr->key, in->file);
			ret = -1;
			continue;
		}
		if (check_value(in, pr->key, decl, v, at) < 0) {
			ret = -1;
			continue;
		}
		in->v[in->nr].name = pr->key;
		in->v[in->nr].value = v;
		in->v[in->nr].pos = at;
		in->nr++;
	}
	for (i = 0; given && i < given->pairs_nr; i++)
		if (!ymap_get(decls, given->pairs[i].key)) {
			diag_error(in->d, &given->pairs[i].key_pos, "%s declares no input %s",
				   in->file, given->pairs[i].key);
			ret = -1;
		}
	return ret;
}

/* Apply the functions after "|" in [f, end) to value (owned, replaced). */
static char *apply_functions(struct inputs *in, const struct pos *pos, const char *f,
			     const char *end, char *value, const struct varlist *vars)
{
	while (f < end) {
		const char *e;
		long a, b;

		while (f < end && (*f == ' ' || *f == '|'))
			f++;
		if (f >= end)
			break;
		for (e = f; e < end && *e != '|'; e++)
			;
		while (e > f && e[-1] == ' ')
			e--;
		if ((size_t)(e - f) == 11 && !strncmp(f, "expand_vars", 11)) {
			char *x = vars_expand_dup(value, vars);

			free(value);
			value = x;
		} else if ((size_t)(e - f) == 12 && !strncmp(f, "posix_escape", 12)) {
			struct strbuf sb = STRBUF_INIT;
			const char *p;

			for (p = value; *p; p++) {
				if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789_-.,:/@%+=", *p))
					strbuf_addch(&sb, '\\');
				strbuf_addch(&sb, *p);
			}
			free(value);
			value = strbuf_detach(&sb, NULL);
		} else if (sscanf(f, "truncate(%ld,%ld)", &a, &b) == 2 ||
			   sscanf(f, "truncate( %ld , %ld )", &a, &b) == 2) {
			size_t n = strlen(value);

			if (a < 0 || b < 0) {
				diag_error(in->d, pos, "truncate wants two numbers of 0 or more");
				in->failed = 1;
			} else if ((size_t)a < n) {
				memmove(value, value + a, n - (size_t)a + 1);
				if ((size_t)b < strlen(value))
					value[b] = '\0';
			} else {
				value[0] = '\0';
			}
		} else {
			diag_error(in->d, pos, "unknown input function \"%.*s\" (expand_vars, "
				   "truncate, posix_escape)", (int)(e - f), f);
			in->failed = 1;
		}
		f = e;
	}
	return value;
}

/* A list of scalars as JSON text into sb; -1 when an item is no scalar. */
static int array_json(const struct ynode *seq, struct strbuf *sb)
{
	struct strbuf t = STRBUF_INIT;
	size_t i;
	const char *p;

	strbuf_reset(sb);
	strbuf_addch(sb, '[');
	for (i = 0; i < seq->nr; i++) {
		const struct ynode *e = seq->items[i];

		if (e->type != YNODE_SCALAR) {
			strbuf_release(&t);
			return -1;
		}
		strbuf_addstr(sb, i ? ",\"" : "\"");
		for (p = yscalar_ruby_str(e, &t); *p; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_addch(sb, '\\');
			if ((unsigned char)*p < 0x20)
				strbuf_addf(sb, "\\u%04x", (unsigned char)*p);
			else
				strbuf_addch(sb, *p);
		}
		strbuf_addch(sb, '"');
	}
	strbuf_addch(sb, ']');
	strbuf_release(&t);
	return 0;
}

/*
 * s with every $[[ inputs.NAME | fn ]] replaced (NULL when s has none);
 * *whole set to the input when s is exactly one interpolation without a
 * function (the caller may then keep the value's own type).
 */
static char *interpolate(struct inputs *in, const char *s, const struct pos *pos,
			 const struct varlist *vars, const struct input **whole)
{
	struct strbuf out = STRBUF_INIT;
	const char *p = s, *o;
	int any = 0;

	*whole = NULL;
	while ((o = strstr(p, "$[["))) {
		const char *c = strstr(o + 3, "]]"), *n, *ne, *bar;
		const struct input *inp;
		struct strbuf buf = STRBUF_INIT;
		char *val;

		if (!c)
			break;
		for (n = o + 3; *n == ' '; n++)
			;
		if (strncmp(n, "inputs.", 7)) {
			/* another interpolation (matrix, ...): left as written */
			strbuf_add(&out, p, (size_t)(c + 2 - p));
			p = c + 2;
			continue;
		}
		n += 7;
		for (ne = n; (*ne >= 'a' && *ne <= 'z') || (*ne >= 'A' && *ne <= 'Z') ||
			     (*ne >= '0' && *ne <= '9') || *ne == '_' || *ne == '-'; ne++)
			;
		inp = input_find(in, n, (size_t)(ne - n));
		if (!inp) {
			diag_error(in->d, pos, "unknown input \"%.*s\" in \"$[[ ... ]]\"",
				   (int)(ne - n), n);
			in->failed = 1;
			strbuf_release(&out);
			return NULL;
		}
		bar = memchr(ne, '|', (size_t)(c - ne));
		if (inp->value->type == YNODE_SEQ && o == s && !c[2] && !bar) {
			*whole = inp;
			strbuf_release(&out);
			return xstrdup(s);
		}
		if (inp->value->type == YNODE_SEQ) {
			/* inside text, a list is its JSON: ["a","b"] */
			if (array_json(inp->value, &buf) < 0) {
				diag_error(in->d, pos, "input %s: only a list of plain values can "
					   "be part of a text", inp->name);
				in->failed = 1;
				strbuf_release(&buf);
				strbuf_release(&out);
				return NULL;
			}
			val = strbuf_detach(&buf, NULL);
		} else {
			val = xstrdup(yscalar_ruby_str(inp->value, &buf));
		}
		strbuf_release(&buf);
		if (bar)
			val = apply_functions(in, pos, bar, c, val, vars);
		else if (o == s && !c[2])
			*whole = inp;
		strbuf_add(&out, p, (size_t)(o - p));
		strbuf_addstr(&out, val);
		free(val);
		p = c + 2;
		any = 1;
	}
	if (!any && !*whole) {
		strbuf_release(&out);
		return NULL;
	}
	strbuf_addstr(&out, p);
	return strbuf_detach(&out, NULL);
}

static void walk(struct inputs *in, struct ynode *n, const struct varlist *vars);

/* n (a scalar) interpolated in place; a whole typed input replaces it. */
static void walk_scalar(struct inputs *in, struct ynode **slot, const struct varlist *vars)
{
	struct ynode *n = *slot;
	const struct input *whole;
	char *s;

	if (!strstr(n->str, "$[["))
		return;
	s = interpolate(in, n->str, &n->pos, vars, &whole);
	if (!s)
		return;
	if (whole && (whole->value->type != YNODE_SCALAR || yscalar_kind(whole->value) != YS_STR)) {
		struct ynode *dup = ynode_dup(whole->value, in->budget);

		free(s);
		if (!dup) {
			diag_error(in->d, &n->pos, "the pipeline is too large after its inputs");
			in->failed = 1;
			return;
		}
		dup->pos = n->pos;
		ynode_free(n);
		*slot = dup;
		return;
	}
	free(n->str);
	n->str = s;
	n->plain = 0;           /* interpolated text is a string, not re-typed */
}

static void walk(struct inputs *in, struct ynode *n, const struct varlist *vars)
{
	size_t i;

	if (in->failed)
		return;
	if (n->type == YNODE_SEQ) {
		for (i = 0; i < n->nr; i++) {
			if (n->items[i]->type == YNODE_SCALAR)
				walk_scalar(in, &n->items[i], vars);
			else
				walk(in, n->items[i], vars);
		}
	} else if (n->type == YNODE_MAP) {
		for (i = 0; i < n->pairs_nr; i++) {
			struct ypair *pr = &n->pairs[i];
			const struct input *whole;
			char *k = strstr(pr->key, "$[[") ?
				  interpolate(in, pr->key, &pr->key_pos, vars, &whole) : NULL;

			if (k) {
				free(pr->key);
				pr->key = k;
			}
			if (pr->val->type == YNODE_SCALAR)
				walk_scalar(in, &pr->val, vars);
			else
				walk(in, pr->val, vars);
		}
	}
}

int inputs_apply(struct diag *d, const char *file, const struct ynode *header,
		 const struct ynode *given, const struct pos *given_pos, struct ynode *doc,
		 const struct varlist *vars, size_t *budget)
{
	struct inputs in;
	const struct ynode *spec = header ? ymap_get(header, "spec") : NULL;
	size_t i;

	memset(&in, 0, sizeof(in));
	in.d = d;
	in.file = file;
	in.budget = budget;
	if (header) {
		for (i = 0; i < header->pairs_nr; i++)
			if (strcmp(header->pairs[i].key, "spec")) {
				diag_error(d, &header->pairs[i].key_pos, "the header document of "
					   "%s holds only spec:, not %s", file, header->pairs[i].key);
				return -1;
			}
		if (!spec || spec->type != YNODE_MAP) {
			diag_error(d, &header->pos, "spec must be a map of inputs");
			return -1;
		}
	}
	if (given && given->type != YNODE_MAP) {
		diag_error(d, &given->pos, "include:inputs must be a map of input names "
			   "and values");
		return -1;
	}
	if (!spec) {
		if (given && given->pairs_nr) {
			diag_error(d, given_pos, "inputs given, but %s has no spec:inputs "
				   "header", file);
			return -1;
		}
		return 0;
	}
	if (declare(&in, spec, given, given_pos) < 0) {
		free(in.v);
		return -1;
	}
	walk(&in, doc, vars);
	free(in.v);
	return in.failed ? -1 : 0;
}
