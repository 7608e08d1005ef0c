#include "pipeline/vars.h"

#include <string.h>

#include "util/xalloc.h"

/*
 * Variable expansion ($VAR, ${VAR}, $$). Expansion of a variable's value
 * recurses into the variables it references, up to VARS_EXPAND_DEPTH
 * levels; a reference to a variable that is already being expanded
 * (a cycle, e.g. PATH: "/opt/bin:$PATH") is left as written, for the
 * job's shell to resolve. One expansion never produces more than
 * VARS_EXPAND_MAX bytes: "A: $B$B$B..." chains cannot blow up memory.
 */

#define VARS_EXPAND_DEPTH 10
#define VARS_EXPAND_MAX (1024 * 1024)

struct expand_ctx {
	const struct varlist *vars;
	struct strbuf *out;
	size_t limit;                       /* out->len must stay below */
	const char *chain[VARS_EXPAND_DEPTH + 1]; /* names being expanded */
	int depth;
};

static int name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int name_char(int c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static void add_capped(struct expand_ctx *x, const char *s, size_t len)
{
	if (x->out->len >= x->limit)
		return;
	if (len > x->limit - x->out->len)
		len = x->limit - x->out->len;
	strbuf_add(x->out, s, len);
}

static void expand_rec(struct expand_ctx *x, const char *s);

/* ref[0..ref_len) is the reference as written, emitted verbatim on a cycle. */
static void expand_ref(struct expand_ctx *x, const char *name, size_t len,
		       const char *ref, size_t ref_len)
{
	struct strbuf key = STRBUF_INIT;
	const struct var *v;
	int i;

	strbuf_add(&key, name, len);
	v = varlist_find(x->vars, key.buf);
	if (!v)
		goto done;
	for (i = 0; i < x->depth; i++)
		if (!strcmp(x->chain[i], v->key)) {
			/* a cycle (PATH: "/x:$PATH"): left for the shell */
			add_capped(x, ref, ref_len);
			goto done;
		}
	if (!v->expand || x->depth >= VARS_EXPAND_DEPTH) {
		add_capped(x, v->value, strlen(v->value));
		goto done;
	}
	x->chain[x->depth++] = v->key;
	expand_rec(x, v->value);
	x->depth--;
done:
	strbuf_release(&key);
}

static void expand_rec(struct expand_ctx *x, const char *s)
{
	const char *lit = s;

	while (*s && x->out->len < x->limit) {
		const char *name;
		size_t len;

		if (*s != '$') {
			s++;
			continue;
		}
		add_capped(x, lit, s - lit);
		if (s[1] == '$') {
			add_capped(x, "$", 1);
			s += 2;
		} else if (name_start((unsigned char)s[1])) {
			name = s + 1;
			for (len = 1; name_char((unsigned char)name[len]); len++)
				;
			expand_ref(x, name, len, s, len + 1);
			s = name + len;
		} else if (s[1] == '{' && name_start((unsigned char)s[2])) {
			name = s + 2;
			for (len = 1; name_char((unsigned char)name[len]); len++)
				;
			if (name[len] == '}') {
				expand_ref(x, name, len, s, len + 3);
				s = name + len + 1;
			} else {
				add_capped(x, "$", 1);
				s++;
			}
		} else {
			add_capped(x, "$", 1);
			s++;
		}
		lit = s;
	}
	add_capped(x, lit, s - lit);
}

/* Expand s with `self` (a variable name, or NULL) already on the chain. */
static void expand_from(const char *s, const char *self,
			const struct varlist *vars, struct strbuf *out)
{
	struct expand_ctx x;

	memset(&x, 0, sizeof(x));
	x.vars = vars;
	x.out = out;
	x.limit = out->len + VARS_EXPAND_MAX;
	if (self)
		x.chain[x.depth++] = self;
	expand_rec(&x, s);
}

void vars_expand(const char *s, const struct varlist *vars, struct strbuf *out)
{
	expand_from(s, NULL, vars, out);
}

char *vars_expand_dup(const char *s, const struct varlist *vars)
{
	struct strbuf sb = STRBUF_INIT;

	vars_expand(s, vars, &sb);
	return strbuf_detach(&sb, NULL);
}

void vars_expand_all(struct varlist *vl)
{
	char **nv = xcalloc(vl->nr ? vl->nr : 1, sizeof(*nv));
	size_t i;

	/* expand every value against the unexpanded list, then swap in */
	for (i = 0; i < vl->nr; i++) {
		struct strbuf sb = STRBUF_INIT;

		if (!vl->v[i].expand || !strchr(vl->v[i].value, '$'))
			continue;
		expand_from(vl->v[i].value, vl->v[i].key, vl, &sb);
		nv[i] = strbuf_detach(&sb, NULL);
	}
	for (i = 0; i < vl->nr; i++) {
		if (!nv[i])
			continue;
		free(vl->v[i].value);
		vl->v[i].value = nv[i];
	}
	free(nv);
}
