#include "pipeline/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/strvec.h"
#include "util/xalloc.h"

#define YAML_DEFAULT_DEPTH 100
#define YAML_DEFAULT_NODES 500000

struct ynode *ynode_new(enum ynode_type type, const struct pos *pos)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	if (pos)
		n->pos = *pos;
	return n;
}

struct ynode *ynode_new_scalar(const char *s, const struct pos *pos)
{
	struct ynode *n = ynode_new(YNODE_SCALAR, pos);

	n->str = xstrdup(s);
	return n;
}

void ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	free(n->tag);
	free(n->str);
	for (i = 0; i < n->nr; i++)
		ynode_free(n->items[i]);
	free(n->items);
	for (i = 0; i < n->pairs_nr; i++) {
		free(n->pairs[i].key);
		ynode_free(n->pairs[i].val);
	}
	free(n->pairs);
	free(n);
}

size_t ynode_count(const struct ynode *n)
{
	size_t i, c = 1;

	for (i = 0; i < n->nr; i++)
		c += ynode_count(n->items[i]);
	for (i = 0; i < n->pairs_nr; i++)
		c += ynode_count(n->pairs[i].val);
	return c;
}

static struct ynode *dup_rec(const struct ynode *n, size_t *budget)
{
	struct ynode *c;
	size_t i;

	if (budget) {
		if (!*budget)
			return NULL;
		(*budget)--;
	}
	c = ynode_new(n->type, &n->pos);
	c->tag = xstrdup_or_null(n->tag);
	c->str = xstrdup_or_null(n->str);
	c->plain = n->plain;
	for (i = 0; i < n->nr; i++) {
		struct ynode *it = dup_rec(n->items[i], budget);

		if (!it)
			goto fail;
		yseq_push_take(c, it);
	}
	for (i = 0; i < n->pairs_nr; i++) {
		struct ynode *v = dup_rec(n->pairs[i].val, budget);

		if (!v)
			goto fail;
		ALLOC_GROW(c->pairs, c->pairs_nr + 1, c->pairs_alloc);
		c->pairs[c->pairs_nr].key = xstrdup(n->pairs[i].key);
		c->pairs[c->pairs_nr].key_pos = n->pairs[i].key_pos;
		c->pairs[c->pairs_nr].val = v;
		c->pairs_nr++;
	}
	return c;
fail:
	ynode_free(c);
	return NULL;
}

struct ynode *ynode_dup(const struct ynode *n, size_t *budget)
{
	if (!n)
		return NULL;
	return dup_rec(n, budget);
}

enum yscalar_kind yscalar_kind(const struct ynode *n)
{
	const char *s, *p;

	if (!n || n->type != YNODE_SCALAR)
		return YS_STR;
	s = n->str;
	if (!n->plain)
		return YS_STR;
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	    !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return YS_NULL;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "false") ||
	    !strcasecmp(s, "yes") || !strcasecmp(s, "no") ||
	    !strcasecmp(s, "on") || !strcasecmp(s, "off"))
		return YS_BOOL;
	p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (*p >= '0' && *p <= '9') {
		const char *q = p;
		int dot = 0, exp = 0;

		while ((*q >= '0' && *q <= '9') || *q == '_')
			q++;
		if (!*q)
			return YS_INT;
		if (*q == '.') {
			dot = 1;
			q++;
			while ((*q >= '0' && *q <= '9') || *q == '_')
				q++;
		}
		if (*q == 'e' || *q == 'E') {
			exp = 1;
			q++;
			if (*q == '-' || *q == '+')
				q++;
			while (*q >= '0' && *q <= '9')
				q++;
		}
		if (!*q && (dot || exp))
			return YS_FLOAT;
	}
	if (*p == '.' && (!strcasecmp(p, ".inf") || !strcasecmp(s, ".nan")))
		return YS_FLOAT;
	return YS_STR;
}

/* Psych's decimal integer: [-+]?(0|[1-9]([0-9]|,[0-9]|_[0-9])*) */
static int psych_decimal(const char *p)
{
	if (*p == '0')
		return !p[1];
	if (*p < '1' || *p > '9')
		return 0;
	for (p++; *p; p++) {
		if ((*p == ',' || *p == '_') && p[1] >= '0' && p[1] <= '9')
			p++;
		else if (*p < '0' || *p > '9')
			return 0;
	}
	return 1;
}

/* p (after the sign) made only of chars in set, with at least one */
static int all_in(const char *p, const char *set)
{
	if (!*p)
		return 0;
	for (; *p; p++)
		if (!strchr(set, *p))
			return 0;
	return 1;
}

/* Ruby's Float#to_s: shortest round-trip digits, fixed or 1.0e+16 form. */
static void ruby_float_str(double d, struct strbuf *out)
{
	char buf[40], digits[24];
	int prec, exp10, decpt, nd = 0, i;
	const char *q;

	if (isnan(d)) {
		strbuf_addstr(out, "NaN");
		return;
	}
	if (isinf(d)) {
		strbuf_addstr(out, d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (d == 0) {
		strbuf_addstr(out, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	q = buf;
	if (*q == '-') {
		strbuf_addch(out, '-');
		q++;
	}
	for (; *q && *q != 'e'; q++)
		if (*q >= '0' && *q <= '9' && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *q;
	exp10 = *q == 'e' ? atoi(q + 1) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	decpt = exp10 + 1;
	if (decpt > 0 && decpt <= 16) {
		for (i = 0; i < decpt; i++)
			strbuf_addch(out, i < nd ? digits[i] : '0');
		strbuf_addch(out, '.');
		if (nd > decpt)
			strbuf_addstr(out, digits + decpt);
		else
			strbuf_addch(out, '0');
	} else if (decpt <= 0 && decpt > -4) {
		strbuf_addstr(out, "0.");
		for (i = decpt; i < 0; i++)
			strbuf_addch(out, '0');
		strbuf_addstr(out, digits);
	} else {
		strbuf_addch(out, digits[0]);
		strbuf_addch(out, '.');
		strbuf_addstr(out, nd > 1 ? digits + 1 : "0");
		strbuf_addf(out, "e%c%02d", exp10 < 0 ? '-' : '+',
			    exp10 < 0 ? -exp10 : exp10);
	}
}

/* Psych's FLOAT: [-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)? */
static int psych_float(const char *p)
{
	const char *start = p;

	if (*p >= '0' && *p <= '9')
		while ((*p >= '0' && *p <= '9') || *p == '_' || *p == ',')
			p++;
	if (*p != '.' || (p == start && !p[1]))
		return 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p != '-' && *p != '+')
			return 0;
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return !*p;
}

/* Psych's sexagesimal integer: [0-9][0-9_]*(:[0-5]?[0-9]){1,2} */
static int psych_sexagesimal(const char *p)
{
	int parts = 0, n;

	if (*p < '0' || *p > '9')
		return 0;
	while ((*p >= '0' && *p <= '9') || *p == '_')
		p++;
	while (*p == ':') {
		p++;
		for (n = 0; *p >= '0' && *p <= '9'; p++)
			n++;
		if (n < 1 || n > 2 || (n == 2 && p[-2] > '5'))
			return 0;
		parts++;
	}
	return !*p && parts >= 1 && parts <= 2;
}

const char *yscalar_ruby_str(const struct ynode *n, struct strbuf *buf)
{
	struct strbuf clean = STRBUF_INIT;
	const char *s, *p;
	int neg = 0;

	strbuf_reset(buf);
	if (!n || n->type != YNODE_SCALAR || !n->plain || n->tag)
		return n ? n->str : NULL;
	s = n->str;
	p = s;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (; *s; s++)
		if (*s != '_' && *s != ',')
			strbuf_addch(&clean, *s);
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		strbuf_addstr(buf, neg ? "-Infinity" : "Infinity");
	} else if (p == n->str && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") ||
				   !strcmp(p, ".NAN"))) {
		strbuf_addstr(buf, "NaN");
	} else if (psych_sexagesimal(p)) {
		long long total = 0;
		int e = 0;
		const char *q;

		/* Psych: each part times 60 ** |index - 2| */
		for (q = p; *q; e++) {
			long long v = 0, mult = 1;
			int k, digits = 0;

			for (; *q && *q != ':'; q++) {
				if (*q == '_')
					continue;
				if (++digits > 12) {
					/* no pipeline means such a number: keep the text */
					strbuf_release(&clean);
					return n->str;
				}
				v = v * 10 + (*q - '0');
			}
			if (*q == ':')
				q++;
			for (k = 0; k < (e > 2 ? e - 2 : 2 - e); k++)
				mult *= 60;
			total += v * mult;
		}
		/* "-1:30" is -1 * 3600 + 30 * 60 in Psych: only the first part's sign */
		if (neg) {
			long long first = 0;

			for (q = p; *q && *q != ':'; q++)
				if (*q != '_')
					first = first * 10 + (*q - '0');
			total -= 2 * first * 3600;
		}
		strbuf_addf(buf, "%lld", total);
	} else if (psych_float(p)) {
		char *end;
		double d;

		/* Psych drops a '.' before an exponent or at the end */
		if (clean.len && clean.buf[clean.len - 1] == '.')
			strbuf_setlen(&clean, clean.len - 1);
		d = strtod(clean.buf, &end);
		if (*end) {
			strbuf_release(&clean);
			return n->str;
		}
		ruby_float_str(d, buf);
	} else if (psych_decimal(p)) {
		const char *q = clean.buf + (clean.buf[0] == '-' || clean.buf[0] == '+');

		if (neg && strcmp(q, "0"))
			strbuf_addch(buf, '-');
		strbuf_addstr(buf, q);
	} else if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'b') &&
		    all_in(p + 2, p[1] == 'x' ? "0123456789abcdefABCDEF_," : "01_,")) ||
		   (p[0] == '0' && all_in(p + 1, "01234567_,"))) {
		const char *q = clean.buf + (clean.buf[0] == '-' || clean.buf[0] == '+');
		int base = q[1] == 'x' ? 16 : q[1] == 'b' ? 2 : 8;
		unsigned long long v;
		char *end;

		errno = 0;
		v = strtoull(base == 8 ? q : q + 2, &end, base);
		if (errno || *end) {
			strbuf_release(&clean);
			return n->str; /* beyond 64 bits: keep the text */
		}
		strbuf_addf(buf, "%s%llu", neg && v ? "-" : "", v);
	} else {
		strbuf_release(&clean);
		return n->str;
	}
	strbuf_release(&clean);
	return buf->buf;
}

int ynode_is_null(const struct ynode *n)
{
	return !n || (n->type == YNODE_SCALAR && yscalar_kind(n) == YS_NULL);
}

const char *ynode_type_name(const struct ynode *n)
{
	if (!n)
		return "null";
	switch (n->type) {
	case YNODE_MAP:
		return "a map";
	case YNODE_SEQ:
		return "a list";
	case YNODE_SCALAR:
		switch (yscalar_kind(n)) {
		case YS_NULL:
			return "null";
		case YS_BOOL:
			return "a boolean";
		case YS_INT:
		case YS_FLOAT:
			return "a number";
		case YS_STR:
			return "a string";
		}
	}
	return "a value";
}

struct ypair *ymap_find(const struct ynode *map, const char *key)
{
	size_t i;

	if (!map || map->type != YNODE_MAP)
		return NULL;
	for (i = 0; i < map->pairs_nr; i++)
		if (!strcmp(map->pairs[i].key, key))
			return &map->pairs[i];
	return NULL;
}

struct ynode *ymap_get(const struct ynode *map, const char *key)
{
	struct ypair *p = ymap_find(map, key);

	return p ? p->val : NULL;
}

void ymap_set_take(struct ynode *map, const char *key,
		   const struct pos *key_pos, struct ynode *val)
{
	struct ypair *p = ymap_find(map, key);

	if (p) {
		ynode_free(p->val);
		p->val = val;
		return;
	}
	ALLOC_GROW(map->pairs, map->pairs_nr + 1, map->pairs_alloc);
	p = &map->pairs[map->pairs_nr++];
	p->key = xstrdup(key);
	if (key_pos)
		p->key_pos = *key_pos;
	else
		p->key_pos = val ? val->pos : map->pos;
	p->val = val;
}

struct ynode *ymap_take(struct ynode *map, const char *key)
{
	struct ypair *p = ymap_find(map, key);
	struct ynode *v;
	size_t i;

	if (!p)
		return NULL;
	v = p->val;
	i = (size_t)(p - map->pairs);
	free(p->key);
	memmove(&map->pairs[i], &map->pairs[i + 1],
		(map->pairs_nr - i - 1) * sizeof(*map->pairs));
	map->pairs_nr--;
	return v;
}

void ymap_del(struct ynode *map, const char *key)
{
	ynode_free(ymap_take(map, key));
}

void yseq_push_take(struct ynode *seq, struct ynode *item)
{
	ALLOC_GROW(seq->items, seq->nr + 1, seq->alloc);
	seq->items[seq->nr++] = item;
}

int ynode_deep_merge(struct ynode *dst, const struct ynode *src,
		     size_t *budget)
{
	size_t i;

	for (i = 0; i < src->pairs_nr; i++) {
		const struct ypair *sp = &src->pairs[i];
		struct ypair *dp = ymap_find(dst, sp->key);
		struct ynode *c;

		if (dp && dp->val && sp->val && dp->val->type == YNODE_MAP &&
		    sp->val->type == YNODE_MAP && !dp->val->tag && !sp->val->tag) {
			if (ynode_deep_merge(dp->val, sp->val, budget))
				return -1;
			continue;
		}
		c = ynode_dup(sp->val, budget);
		if (!c)
			return -1;
		if (dp) {
			ynode_free(dp->val);
			dp->val = c;
			dp->key_pos = sp->key_pos;
		} else {
			ymap_set_take(dst, sp->key, &sp->key_pos, c);
		}
	}
	return 0;
}

/* --- building the tree from libfyaml events ---------------------------- */

struct anchor {
	char *name;
	const struct ynode *node;
};

struct frame {
	struct ynode *node;
	char *anchor;
	/* map: key waiting for its value */
	int have_key;
	char *key;
	struct pos key_pos;
	int key_is_merge;
	/* the keys written in the map itself (not merged): duplicates */
	struct strvec explicit;
};

struct builder {
	const char *file;
	struct diag *d;
	int max_depth;
	int dup_keys_warn;
	size_t budget;
	struct frame *stack;
	size_t depth, stack_alloc;
	struct anchor *anchors;
	size_t anchors_nr, anchors_alloc;
	struct ynode **docs;
	size_t docs_nr, docs_alloc;
	/* nodes detached from the tree but possibly still named by an anchor */
	struct ynode **dead;
	size_t dead_nr, dead_alloc;
	int failed;
};

static void bury(struct builder *b, struct ynode *n)
{
	ALLOC_GROW(b->dead, b->dead_nr + 1, b->dead_alloc);
	b->dead[b->dead_nr++] = n;
}

static void mark_pos(struct builder *b, const struct fy_mark *m,
		     struct pos *pos)
{
	pos->file = b->file;
	pos->line = m ? m->line + 1 : 0;
	pos->col = m ? m->column + 1 : 0;
}

static char *token_dup(struct fy_token *t)
{
	size_t len = 0;
	const char *s;

	if (!t)
		return NULL;
	s = fy_token_get_text(t, &len);
	if (!s)
		return xstrdup("");
	return xstrndup(s, len);
}

static void frame_release(struct frame *f)
{
	ynode_free(f->node);
	free(f->anchor);
	free(f->key);
	strvec_clear(&f->explicit);
	memset(f, 0, sizeof(*f));
}

static void add_anchor(struct builder *b, const char *name,
		       const struct ynode *node)
{
	size_t i;

	/* a later anchor with the same name shadows the earlier one */
	for (i = 0; i < b->anchors_nr; i++) {
		if (!strcmp(b->anchors[i].name, name)) {
			b->anchors[i].node = node;
			return;
		}
	}
	ALLOC_GROW(b->anchors, b->anchors_nr + 1, b->anchors_alloc);
	b->anchors[b->anchors_nr].name = xstrdup(name);
	b->anchors[b->anchors_nr].node = node;
	b->anchors_nr++;
}

static int take_budget(struct builder *b, const struct pos *pos, size_t n)
{
	if (b->budget < n) {
		diag_error(b->d, pos, "document too large: more than the node "
			   "limit after expanding aliases");
		b->failed = 1;
		return -1;
	}
	b->budget -= n;
	return 0;
}

/* Set key to a copy of val in map, replacing a value it has. */
static void merge_pair(struct ynode *map, const struct ypair *pr)
{
	ymap_set_take(map, pr->key, &pr->key_pos, ynode_dup(pr->val, NULL));
}

/*
 * A merge key's value, merged into f's map at once, as GitLab's YAML
 * reader (Ruby's Psych) does: the merged keys replace the ones the map
 * has so far, explicit or merged, and keys written after the merge
 * replace merged ones. In a list of maps the earlier map wins.
 */
static int add_merge(struct builder *b, struct frame *f, struct ynode *v)
{
	size_t i, j, k;

	if (v->type == YNODE_MAP) {
		for (j = 0; j < v->pairs_nr; j++)
			merge_pair(f->node, &v->pairs[j]);
		bury(b, v);
		return 0;
	}
	if (v->type == YNODE_SEQ) {
		for (i = 0; i < v->nr; i++) {
			if (v->items[i]->type != YNODE_MAP) {
				diag_error(b->d, &v->items[i]->pos,
					   "merge key \"<<\" needs a map or a list of maps");
				bury(b, v);
				return -1;
			}
		}
		for (i = 0; i < v->nr; i++) {
			const struct ynode *m = v->items[i];

			for (j = 0; j < m->pairs_nr; j++) {
				int earlier = 0;

				for (k = 0; k < i && !earlier; k++)
					earlier = ymap_find(v->items[k], m->pairs[j].key) != NULL;
				if (!earlier)
					merge_pair(f->node, &m->pairs[j]);
			}
		}
		bury(b, v);
		return 0;
	}
	diag_error(b->d, &v->pos, "merge key \"<<\" needs a map or a list of maps");
	bury(b, v);
	return -1;
}

/* Attach a finished node to the parent frame (or as a document). */
static void attach(struct builder *b, struct ynode *n)
{
	struct frame *f;

	if (!b->depth) {
		ALLOC_GROW(b->docs, b->docs_nr + 1, b->docs_alloc);
		b->docs[b->docs_nr++] = n;
		return;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->type == YNODE_SEQ) {
		yseq_push_take(f->node, n);
		return;
	}
	if (!f->have_key) {
		/* n is a key */
		if (n->type != YNODE_SCALAR) {
			diag_error(b->d, &n->pos, "mapping keys must be scalars");
			bury(b, n);
			f->have_key = 1;
			f->key = xstrdup("");
			f->key_is_merge = 0;
			return;
		}
		f->key_is_merge = n->plain && !strcmp(n->str, "<<") && !n->tag;
		if (!f->key_is_merge && strvec_find(&f->explicit, n->str) >= 0) {
			/* recoverable: reported, the later value wins as in GitLab */
			if (b->dup_keys_warn)
				diag_warning(b->d, &n->pos, "duplicate key \"%s\": the "
					     "later value is used, as GitLab does", n->str);
			else
				diag_error(b->d, &n->pos, "duplicate key \"%s\"", n->str);
		}
		if (!f->key_is_merge && strvec_find(&f->explicit, n->str) < 0)
			strvec_push(&f->explicit, n->str);
		f->key = xstrdup(n->str);
		f->key_pos = n->pos;
		f->have_key = 1;
		bury(b, n);
		return;
	}
	f->have_key = 0;
	if (f->key_is_merge) {
		if (add_merge(b, f, n))
			b->failed = 1;
	} else if (!ymap_find(f->node, f->key)) {
		ALLOC_GROW(f->node->pairs, f->node->pairs_nr + 1,
			   f->node->pairs_alloc);
		f->node->pairs[f->node->pairs_nr].key = f->key;
		f->node->pairs[f->node->pairs_nr].key_pos = f->key_pos;
		f->node->pairs[f->node->pairs_nr].val = n;
		f->node->pairs_nr++;
		f->key = NULL;
	} else {
		struct ypair *dup = ymap_find(f->node, f->key);

		/* a duplicate (reported) or a merged key: the later value wins */
		bury(b, dup->val);
		dup->val = n;
		dup->key_pos = f->key_pos;
	}
	free(f->key);
	f->key = NULL;
}

static int push_frame(struct builder *b, struct ynode *n, struct fy_token *anchor)
{
	struct frame *f;

	if (b->depth >= (size_t)b->max_depth) {
		diag_error(b->d, &n->pos, "nesting too deep (more than %d levels)",
			   b->max_depth);
		ynode_free(n);
		b->failed = 1;
		return -1;
	}
	ALLOC_GROW(b->stack, b->depth + 1, b->stack_alloc);
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->anchor = token_dup(anchor);
	return 0;
}

static void pop_frame(struct builder *b)
{
	struct frame *f = &b->stack[b->depth - 1];
	struct ynode *n = f->node;

	if (f->anchor)
		add_anchor(b, f->anchor, n);
	f->node = NULL;
	frame_release(f);
	b->depth--;
	attach(b, n);
}

static int handle_event(struct builder *b, struct fy_event *e)
{
	struct fy_token *anchor = NULL, *tag = NULL;
	struct ynode *n;
	struct pos pos;
	size_t i;

	mark_pos(b, fy_event_start_mark(e), &pos);
	if (!pos.line && b->depth) {
		/*
		 * An empty value (`key:` with nothing after it) has no mark:
		 * it is where its key is, else where its list is.
		 */
		const struct frame *f = &b->stack[b->depth - 1];

		pos = f->have_key ? f->key_pos : f->node->pos;
	}
	switch (e->type) {
	case FYET_SCALAR:
		if (take_budget(b, &pos, 1))
			return -1;
		n = ynode_new(YNODE_SCALAR, &pos);
		n->str = token_dup(e->scalar.value);
		if (!n->str)
			n->str = xstrdup("");
		n->plain = !e->scalar.value ||
			fy_scalar_token_get_style(e->scalar.value) == FYSS_PLAIN;
		/* libfyaml marks a quoted scalar after its opening quote */
		if (e->scalar.value && pos.col > 1 &&
		    (fy_scalar_token_get_style(e->scalar.value) == FYSS_SINGLE_QUOTED ||
		     fy_scalar_token_get_style(e->scalar.value) == FYSS_DOUBLE_QUOTED))
			n->pos.col--;
		n->tag = token_dup(e->scalar.tag);
		if (n->tag && n->tag[0] == '!' && n->tag[1] == '!')
			n->plain = 0; /* !!str and friends: keep as written */
		if (e->scalar.anchor) {
			char *a = token_dup(e->scalar.anchor);

			add_anchor(b, a, n);
			free(a);
		}
		attach(b, n);
		return 0;
	case FYET_ALIAS: {
		char *name = token_dup(e->alias.anchor);
		const struct ynode *target = NULL;
		size_t cnt;

		for (i = 0; name && i < b->anchors_nr; i++)
			if (!strcmp(b->anchors[i].name, name))
				target = b->anchors[i].node;
		if (!target) {
			diag_error(b->d, &pos, "unknown alias \"*%s\"",
				   name ? name : "");
			free(name);
			b->failed = 1;
			return -1;
		}
		free(name);
		cnt = ynode_count(target);
		if (take_budget(b, &pos, cnt))
			return -1;
		attach(b, ynode_dup(target, NULL));
		return 0;
	}
	case FYET_SEQUENCE_START:
		anchor = e->sequence_start.anchor;
		tag = e->sequence_start.tag;
		/* fall through */
	case FYET_MAPPING_START:
		if (e->type == FYET_MAPPING_START) {
			anchor = e->mapping_start.anchor;
			tag = e->mapping_start.tag;
		}
		if (take_budget(b, &pos, 1))
			return -1;
		n = ynode_new(e->type == FYET_MAPPING_START ? YNODE_MAP : YNODE_SEQ,
			      &pos);
		n->tag = token_dup(tag);
		return push_frame(b, n, anchor);
	case FYET_SEQUENCE_END:
	case FYET_MAPPING_END:
		if (b->depth)
			pop_frame(b);
		return 0;
	case FYET_DOCUMENT_START:
		/* anchors do not cross documents */
		for (i = 0; i < b->anchors_nr; i++)
			free(b->anchors[i].name);
		b->anchors_nr = 0;
		return 0;
	default:
		return 0;
	}
}

static void collect_fy_errors(struct builder *b, struct fy_diag *fd)
{
	struct fy_diag_error *de;
	void *it = NULL;
	int any = 0;

	while ((de = fy_diag_errors_iterate(fd, &it))) {
		struct pos pos = { b->file, de->line, de->column };

		if (de->type < FYET_ERROR)
			continue;
		diag_error(b->d, &pos, "YAML syntax error: %s",
			   de->msg ? de->msg : "invalid YAML");
		any = 1;
	}
	if (!any) {
		struct pos pos = { b->file, 0, 0 };

		diag_error(b->d, &pos, "YAML syntax error");
	}
}

/*
 * Offset of the first byte that is not valid UTF-8, or len. libfyaml can
 * loop forever on some invalid sequences, so they never reach it.
 */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		unsigned int cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/*
 * Offset of the first line that has a '?' and after it a tab before a
 * block indicator ("-", "?" or ":" then a blank), or len. libfyaml 0.7
 * crashes in fy_parser_destroy() after its "cannot use tab for
 * indentation" error in an explicit key ("? x:<TAB>- y"), so such lines
 * never reach it; pipelines do not need them.
 */
static size_t explicit_key_tab_at(const char *s, size_t len)
{
	size_t i = 0, eol, j, k;

	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		const char *q;

		eol = nl ? (size_t)(nl - s) : len;
		q = memchr(s + i, '?', eol - i);
		for (j = q ? (size_t)(q - s) : eol; j < eol; j++) {
			if (s[j] != '\t')
				continue;
			for (k = j; k < eol && (s[k] == ' ' || s[k] == '\t'); k++)
				;
			if (k < eol && strchr("-?:", s[k]) &&
			    (k + 1 == eol || s[k + 1] == ' ' || s[k + 1] == '\t' || s[k + 1] == '\r'))
				return i;
		}
		i = eol + 1;
	}
	return len;
}

void yaml_docs_free(struct ynode **docs, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		ynode_free(docs[i]);
	free(docs);
}

/*
 * A parser whose stream failed may not be safe to destroy: libfyaml
 * (Debian 12's 0.7.12) can crash in fy_parser_destroy() after some
 * syntax errors (fy_indent_vacuum_internal on a corrupt indent stack;
 * fuzz-config and fuzz-load found several inputs, e.g. "?\n ::\t?1a"),
 * and the server parses pushed pipeline files in its own process. The
 * shapes found are refused before libfyaml sees them (with a clear
 * error, below). For the others, a forked child destroys the parser
 * first: the parent's copy is in the same state, so the child's fate is
 * the parent's. Destroyed when the child came through; else kept for
 * the life of the process (reachable, so leak checkers stay quiet). A
 * fork per YAML syntax error costs ~0.5 ms; keeping every such parser
 * cost ~3 KB per broken file pushed, for good. Fuzzing builds
 * (CIDRE_FUZZING: millions of broken inputs, a fork each would starve
 * the fuzzer) keep them all.
 */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fy_parser **kept;
static size_t kept_nr, kept_alloc;

static void keep_parser(struct fy_parser *fyp)
{
	pthread_mutex_lock(&kept_lock);
	ALLOC_GROW(kept, kept_nr + 1, kept_alloc);
	kept[kept_nr++] = fyp;
	pthread_mutex_unlock(&kept_lock);
}

size_t yaml_kept_parsers(void)
{
	size_t n;

	pthread_mutex_lock(&kept_lock);
	n = kept_nr;
	pthread_mutex_unlock(&kept_lock);
	return n;
}

static void destroy_failed(struct fy_parser *fyp)
{
#ifndef CIDRE_FUZZING
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		/* a crash here is the answer, not news: no report, no core */
		struct rlimit none = { 0, 0 };
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);
		setrlimit(RLIMIT_CORE, &none);
		fy_parser_destroy(fyp);
		_exit(0);
	}
	if (pid > 0) {
		pid_t r;

		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			fy_parser_destroy(fyp);
			return;
		}
	}
#endif
	keep_parser(fyp);
}

/* The line and column (in characters) of byte i of buf. */
static struct pos pos_at(const char *file, const char *buf, size_t i)
{
	struct pos pos = { file, 1, 1 };
	size_t k;

	for (k = 0; k < i; k++) {
		if (buf[k] == '\n') {
			pos.line++;
			pos.col = 1;
		} else if (((unsigned char)buf[k] & 0xc0) != 0x80) {
			pos.col++;
		}
	}
	return pos;
}

int yaml_parse(const char *file, const char *buf, size_t len,
	       const struct yaml_limits *lim, struct ynode ***ret_docs,
	       size_t *ret_nr, struct diag *d)
{
	struct builder b;
	struct fy_diag_cfg dcfg;
	struct fy_diag *fd = NULL;
	struct fy_parse_cfg cfg;
	struct fy_parser *fyp = NULL;
	struct fy_event *e;
	size_t i;
	int ret = -1, stream_failed = 0;

	i = utf8_invalid_at((const unsigned char *)buf, len);
	if (i < len) {
		struct pos pos = pos_at(file, buf, i);

		diag_error(d, &pos, "the file is not valid UTF-8");
		return -1;
	}
	/* YAML's printable set (as GitLab's parser): no C0 control but tab,
	 * newline and carriage return, no DEL; libfyaml takes a form feed
	 * for a separator, which opens more of the crash below */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			break;
	}
	if (i < len) {
		struct pos pos = pos_at(file, buf, i);

		diag_error(d, &pos, "control character U+%04X: not allowed in YAML",
			   (unsigned)(unsigned char)buf[i]);
		return -1;
	}
	i = explicit_key_tab_at(buf, len);
	if (i < len) {
		struct pos pos = { file, 1, 1 };
		size_t k;

		for (k = 0; k < i; k++)
			pos.line += buf[k] == '\n';
		diag_error(d, &pos, "a tab before \"-\", \"?\" or \":\" on a line with "
			   "an explicit key (\"?\"): use spaces");
		return -1;
	}
	memset(&b, 0, sizeof(b));
	b.file = file;
	b.d = d;
	b.max_depth = lim && lim->max_depth ? lim->max_depth : YAML_DEFAULT_DEPTH;
	b.budget = lim && lim->max_nodes ? lim->max_nodes : YAML_DEFAULT_NODES;
	b.dup_keys_warn = lim && lim->dup_keys_warn;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = NULL;
	dcfg.colorize = false;
	fd = fy_diag_create(&dcfg);
	if (!fd)
		xdie("out of memory creating a YAML diagnostic object");
	fy_diag_set_collect_errors(fd, true);

	memset(&cfg, 0, sizeof(cfg));
	cfg.flags = FYPCF_QUIET | FYPCF_DISABLE_DEPTH_LIMIT |
		    FYPCF_DEFAULT_VERSION_1_1 | FYPCF_JSON_NONE |
		    FYPCF_DISABLE_MMAP_OPT;
	cfg.diag = fd;
	fyp = fy_parser_create(&cfg);
	if (!fyp)
		xdie("out of memory creating a YAML parser");
	if (fy_parser_set_string(fyp, buf, len)) {
		struct pos pos = { file, 0, 0 };

		diag_error(d, &pos, "cannot read YAML input");
		goto out;
	}
	while ((e = fy_parser_parse(fyp))) {
		int r = handle_event(&b, e);

		fy_parser_event_free(fyp, e);
		if (r)
			break;
	}
	if (fy_parser_get_stream_error(fyp)) {
		collect_fy_errors(&b, fd);
		stream_failed = 1;
		goto out;
	}
	if (b.failed)
		goto out;
	*ret_docs = b.docs;
	*ret_nr = b.docs_nr;
	b.docs = NULL;
	b.docs_nr = 0;
	ret = 0;
out:
	while (b.depth) {
		frame_release(&b.stack[b.depth - 1]);
		b.depth--;
	}
	free(b.stack);
	for (i = 0; i < b.anchors_nr; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	yaml_docs_free(b.docs, b.docs_nr);
	yaml_docs_free(b.dead, b.dead_nr);
	if (fyp && stream_failed)
		destroy_failed(fyp);	/* see kept above */
	else if (fyp)
		fy_parser_destroy(fyp);
	fy_diag_destroy(fd);
	return ret;
}
