/* "Did you mean": see suggest.h. */
#include "util/suggest.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Words longer than this are not compared: no keyword or job name is. */
#define SUGGEST_MAX 64

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * The optimal string alignment distance of a and b, case folded (ASCII),
 * or limit + 1 once it is known to be over limit.
 */
static size_t distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	unsigned char d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX ||
	    (la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned char)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)j;
	for (i = 1; i <= la; i++) {
		size_t row_min = (size_t)-1;

		for (j = 1; j <= lb; j++) {
			size_t cost = lower((unsigned char)a[i - 1]) !=
				      lower((unsigned char)b[j - 1]);

			d[i][j] = (unsigned char)min3(d[i - 1][j] + 1u, d[i][j - 1] + 1u,
						      d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 &&
			    lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == lower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1u < d[i][j])
				d[i][j] = (unsigned char)(d[i - 2][j - 2] + 1);
			if (d[i][j] < row_min)
				row_min = d[i][j];
		}
		if (row_min > limit)
			return limit + 1;
	}
	return d[la][lb];
}

static size_t limit_for(const char *word)
{
	size_t n = strlen(word);

	return n <= 3 ? 1 : n <= 8 ? 2 : 3;
}

void suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = word ? limit_for(word) + 1 : 0;
}

void suggest_add(struct suggest *s, const char *cand)
{
	size_t d;

	if (!s->word || !cand || !strcmp(cand, s->word) || !s->dist)
		return;
	d = distance(s->word, cand, s->dist - 1);
	if (d < s->dist) {
		s->best = cand;
		s->dist = d;
	}
}

const char *suggest_from(const char *word, const char *const *cands, size_t nr)
{
	struct suggest s;
	size_t i;

	suggest_init(&s, word);
	for (i = 0; i < nr; i++)
		suggest_add(&s, cands[i]);
	return s.best;
}

const char *suggest_hint(char *buf, size_t n, const char *best)
{
	if (!best || n < 1) {
		if (n)
			buf[0] = '\0';
		return n ? buf : "";
	}
	snprintf(buf, n, "; did you mean \"%s\"?", best);
	return buf;
}

const char *suggest_long_option(const char *arg, const struct option *opts)
{
	char name[SUGGEST_MAX + 1];
	struct suggest s;
	size_t n;

	if (!arg || strncmp(arg, "--", 2) || !opts)
		return NULL;
	arg += 2;
	n = strcspn(arg, "=");
	if (!n || n > SUGGEST_MAX)
		return NULL;
	memcpy(name, arg, n);
	name[n] = '\0';
	suggest_init(&s, name);
	for (; opts->name; opts++) {
		if (!strcmp(opts->name, name))
			return NULL;    /* known: its argument was the trouble */
		suggest_add(&s, opts->name);
	}
	return s.best;
}
