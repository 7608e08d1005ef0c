#include "util/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

void diag_init(struct diag *d)
{
	memset(d, 0, sizeof(*d));
}

void diag_clear(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->nr; i++) {
		free(d->e[i].file);
		free(d->e[i].msg);
	}
	free(d->e);
	diag_init(d);
}

static void diag_vadd(struct diag *d, enum diag_level level,
		      const struct pos *pos, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;
	struct diag_entry *e;
	size_t max = d->max ? d->max : 1000;

	if (level == DIAG_ERROR)
		d->errors++;
	if (d->nr >= max)
		return;
	strbuf_vaddf(&sb, fmt, ap);
	ALLOC_GROW(d->e, d->nr + 1, d->alloc);
	e = &d->e[d->nr++];
	e->level = level;
	e->seq = d->nr - 1;
	if (pos) {
		e->pos = *pos;
		e->file = xstrdup_or_null(pos->file);
	} else {
		memset(&e->pos, 0, sizeof(e->pos));
		e->file = NULL;
	}
	e->pos.file = e->file;
	e->msg = strbuf_detach(&sb, NULL);
}

void diag_error(struct diag *d, const struct pos *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, DIAG_ERROR, pos, fmt, ap);
	va_end(ap);
}

void diag_warning(struct diag *d, const struct pos *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, DIAG_WARNING, pos, fmt, ap);
	va_end(ap);
}

void diag_format(const struct diag *d, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < d->nr; i++) {
		const struct diag_entry *e = &d->e[i];
		const char *lvl = e->level == DIAG_ERROR ? "error" : "warning";

		if (e->file && e->pos.line)
			strbuf_addf(out, "%s:%d:%d: %s: %s\n", e->file,
				    e->pos.line, e->pos.col, lvl, e->msg);
		else if (e->file)
			strbuf_addf(out, "%s: %s: %s\n", e->file, lvl, e->msg);
		else
			strbuf_addf(out, "cidre: %s: %s\n", lvl, e->msg);
	}
	if (d->nr < d->errors)
		strbuf_addf(out, "cidre: error: %zu more errors not shown\n",
			    d->errors - d->nr);
}

static int entry_cmp_pos(const struct diag_entry *x, const struct diag_entry *y)
{
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");

	if (c)
		return c;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct diag_entry *x = a, *y = b;
	int c = entry_cmp_pos(x, y);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static int same_entry(const struct diag_entry *x, const struct diag_entry *y)
{
	return !entry_cmp_pos(x, y) && x->level == y->level &&
	       !strcmp(x->msg, y->msg);
}

void diag_sort(struct diag *d)
{
	size_t i, j, start, kept = 0;

	if (d->nr < 2)
		return;
	qsort(d->e, d->nr, sizeof(*d->e), entry_cmp);
	/* drop repeats: one anchor's error comes once per job using it */
	for (start = 0, i = 0; i < d->nr; i++) {
		int dup = 0;

		if (kept && entry_cmp_pos(&d->e[kept - 1], &d->e[i]))
			start = kept;
		for (j = start; j < kept && !dup; j++)
			dup = same_entry(&d->e[j], &d->e[i]);
		if (dup) {
			if (d->e[i].level == DIAG_ERROR && d->errors)
				d->errors--;
			free(d->e[i].file);
			free(d->e[i].msg);
			continue;
		}
		d->e[kept++] = d->e[i];
	}
	d->nr = kept;
}
