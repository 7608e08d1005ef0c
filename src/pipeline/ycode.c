/*
 * A compact, exact text form of a ynode tree (see yaml.h): what the
 * server keeps of a resolved pipeline file, per job, so that a job's
 * supervisor rebuilds its job without parsing the whole file again.
 *
 *   node   := ["!" LEN ":" TAG] body
 *   body   := "P" LEN ":" BYTES        plain scalar
 *           | "Q" LEN ":" BYTES        quoted scalar
 *           | "S" COUNT ":" node*      sequence
 *           | "M" COUNT ":" (LEN ":" KEY node)*   map, in order
 *
 * Lengths are decimal byte counts, so the text needs no escaping and is
 * read without scanning the bytes. Positions are not kept. A key given
 * twice keeps its last value (the encoder never writes one twice).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/yaml.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static void put_bytes(struct strbuf *sb, char what, const char *s)
{
	size_t n = strlen(s);

	strbuf_addf(sb, "%c%zu:", what, n);
	strbuf_add(sb, s, n);
}

void ynode_encode(struct strbuf *sb, const struct ynode *n)
{
	size_t i;

	if (n->tag)
		put_bytes(sb, '!', n->tag);
	switch (n->type) {
	case YNODE_SCALAR:
		put_bytes(sb, n->plain ? 'P' : 'Q', n->str ? n->str : "");
		break;
	case YNODE_SEQ:
		strbuf_addf(sb, "S%zu:", n->nr);
		for (i = 0; i < n->nr; i++)
			ynode_encode(sb, n->items[i]);
		break;
	case YNODE_MAP:
		strbuf_addf(sb, "M%zu:", n->pairs_nr);
		for (i = 0; i < n->pairs_nr; i++) {
			strbuf_addf(sb, "%zu:", strlen(n->pairs[i].key));
			strbuf_addstr(sb, n->pairs[i].key);
			ynode_encode(sb, n->pairs[i].val);
		}
		break;
	}
}

struct dec {
	const char *base, *s, *end;
	const struct pos *pos;
	size_t budget;
	struct strbuf *err;
};

static int fail(struct dec *x, const char *what)
{
	if (!x->err->len)
		strbuf_addf(x->err, "resolved pipeline text: %s at byte %zu", what,
			    (size_t)(x->s - x->base));
	return -1;
}

/* A decimal number, at most max, then ':'. */
static int number(struct dec *x, size_t max, size_t *ret)
{
	size_t v = 0;
	int digits = 0;

	while (x->s < x->end && *x->s >= '0' && *x->s <= '9') {
		if (++digits > 12)
			return fail(x, "number too long");
		v = v * 10 + (size_t)(*x->s++ - '0');
	}
	if (!digits || x->s >= x->end || *x->s != ':' || v > max)
		return fail(x, "bad length");
	x->s++;
	*ret = v;
	return 0;
}

/* LEN ":" BYTES as a new string without NUL bytes. */
static char *bytes(struct dec *x)
{
	size_t n;
	char *r;

	if (number(x, (size_t)(x->end - x->s), &n) < 0)
		return NULL;
	if (memchr(x->s, '\0', n)) {
		fail(x, "NUL byte");
		return NULL;
	}
	r = xstrndup(x->s, n);
	x->s += n;
	return r;
}

static struct ynode *node(struct dec *x, int depth)
{
	struct ynode *n;
	char *tag = NULL;
	size_t count, i;
	char c;

	if (depth > 200 || !x->budget) {
		fail(x, depth > 200 ? "nested too deeply" : "too many nodes");
		return NULL;
	}
	x->budget--;
	if (x->s < x->end && *x->s == '!') {
		x->s++;
		if (!(tag = bytes(x)))
			return NULL;
	}
	if (x->s >= x->end) {
		free(tag);
		fail(x, "truncated");
		return NULL;
	}
	c = *x->s++;
	switch (c) {
	case 'P':
	case 'Q':
		n = ynode_new(YNODE_SCALAR, x->pos);
		n->plain = c == 'P';
		if (!(n->str = bytes(x)))
			goto bad;
		break;
	case 'S':
		n = ynode_new(YNODE_SEQ, x->pos);
		/* every item takes at least 3 bytes: a bound before allocating */
		if (number(x, (size_t)(x->end - x->s) / 3, &count) < 0)
			goto bad;
		for (i = 0; i < count; i++) {
			struct ynode *it = node(x, depth + 1);

			if (!it)
				goto bad;
			yseq_push_take(n, it);
		}
		break;
	case 'M':
		n = ynode_new(YNODE_MAP, x->pos);
		if (number(x, (size_t)(x->end - x->s) / 5, &count) < 0)
			goto bad;
		for (i = 0; i < count; i++) {
			char *key = bytes(x);
			struct ynode *v;

			if (!key)
				goto bad;
			if (!(v = node(x, depth + 1))) {
				free(key);
				goto bad;
			}
			ymap_set_take(n, key, x->pos, v);
			free(key);
		}
		break;
	default:
		free(tag);
		fail(x, "unknown node type");
		return NULL;
	}
	n->tag = tag;
	return n;
bad:
	n->tag = tag;
	ynode_free(n);
	return NULL;
}

struct ynode *ynode_decode(const char *s, size_t len, const struct pos *pos,
			   size_t max_nodes, struct strbuf *err)
{
	struct dec x = { s, s, s + len, pos, max_nodes, err };
	struct ynode *n = node(&x, 0);

	if (n && x.s != x.end) {
		ynode_free(n);
		fail(&x, "trailing bytes");
		return NULL;
	}
	return n;
}
