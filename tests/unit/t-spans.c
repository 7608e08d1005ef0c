/* Unit tests for src/util/spans.c: the length of a union of runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/spans.h"

static double u(struct span *v, size_t n)
{
	return spans_union(v, n);
}

static void test_none_and_one(void **state)
{
	struct span one[] = { { 10, 25 } }, empty[] = { { 5, 5 } }, back[] = { { 9, 3 } };

	assert_true(u(NULL, 0) == 0);
	assert_true(u(one, 1) == 15);
	assert_true(u(empty, 1) == 0);
	assert_true(u(back, 1) == 0);          /* ends before it begins: empty */
}

static void test_overlaps_gaps_and_order(void **state)
{
	/* a stage of two overlapping jobs, a night's gap, a manual job */
	struct span v[] = { { 1000, 1300 }, { 100, 400 }, { 0, 200 }, { 350, 500 } };
	/* one inside another; the same run twice; touching ends */
	struct span w[] = { { 0, 100 }, { 10, 20 }, { 0, 100 }, { 100, 150 } };

	assert_true(u(v, 4) == 500 + 300);
	assert_true(v[0].b == 0 && v[3].b == 1000);   /* sorted in place */
	assert_true(u(w, 4) == 150);
}

static void test_fractions(void **state)
{
	/* seconds with fractions, as the client reads them from the API */
	struct span v[] = { { 1.5, 2.25 }, { 2.0, 3.0 }, { 10.0, 10.125 } };

	assert_true(u(v, 3) == 1.5 + 0.125);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_and_one),
		cmocka_unit_test(test_overlaps_gaps_and_order),
		cmocka_unit_test(test_fractions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
