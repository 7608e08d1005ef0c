/* The length of a union of stretches of time (spans.h). */
#include <math.h>
#include <stdlib.h>

#include "util/spans.h"

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->b < y->b ? -1 : x->b > y->b;
}

double spans_union(struct span *v, size_t n)
{
	double total = 0, end = -INFINITY;
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), span_cmp);
	for (i = 0; i < n; i++) {
		double b = v[i].b > end ? v[i].b : end;

		if (v[i].e > b) {
			total += v[i].e - b;
			end = v[i].e;
		}
	}
	return total;
}
