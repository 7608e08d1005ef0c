#ifndef CIDRE_SPANS_H
#define CIDRE_SPANS_H

#include <stddef.h>

/* A stretch of time [b, e), in whatever unit the caller counts. */
struct span {
	double b, e;
};

/*
 * How long the union of v[0..n) lasts: overlapping stretches count
 * once, the gaps between them not at all (GitLab's pipeline duration,
 * from its jobs' runs). v is sorted in place; a stretch that ends
 * before it begins counts as empty. 0 for none.
 */
double spans_union(struct span *v, size_t n);

#endif
