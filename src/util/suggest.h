#ifndef CIDRE_UTIL_SUGGEST_H
#define CIDRE_UTIL_SUGGEST_H
/*
 * "Did you mean": the candidate closest to a word that matched none, by
 * edit distance (insertions, deletions, substitutions and swaps of two
 * neighbours, each 1; a difference of case alone costs nothing), when it
 * is close enough to be a typo: at most 1 edit for words of up to 3
 * bytes, 2 up to 8, 3 beyond. The first of equally close ones wins.
 */
#include <stddef.h>

struct suggest {
	const char *word;
	const char *best;  /* NULL: none close enough */
	size_t dist;
};

void suggest_init(struct suggest *s, const char *word);
/* Weigh one candidate (NULL and the word itself are passed over). */
void suggest_add(struct suggest *s, const char *cand);
/* One call for an array. */
const char *suggest_from(const char *word, const char *const *cands, size_t nr);

/*
 * "; did you mean \"BEST\"?" into buf (n bytes) when there is a best
 * candidate, else "": for the end of an error message.
 */
const char *suggest_hint(char *buf, size_t n, const char *best);

/*
 * For a command-line argument getopt_long refused ("--exector",
 * "--jsno=x"): the long option of opts (getopt's array, ending with a
 * zero name) it is a typo of, without its dashes, or NULL.
 */
struct option;
const char *suggest_long_option(const char *arg, const struct option *opts);

#endif
