/*
 * Unit tests for src/util/stack.c: a thread that went deep and came back
 * gets the pages below its frame back to the system, keeps what its
 * frame and its callers' hold, and can go deep again; the main thread's
 * stack is left alone.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/stack.h"

#define DEEP (256 * 1024)

/* resident pages of this thread's stack below here (mincore) */
static size_t resident_below(const void *here)
{
	pthread_attr_t a;
	void *lo;
	size_t size, page = (size_t)sysconf(_SC_PAGESIZE), n, i, r = 0;
	unsigned char v[1024];

	assert_int_equal(pthread_getattr_np(pthread_self(), &a), 0);
	assert_int_equal(pthread_attr_getstack(&a, &lo, &size), 0);
	pthread_attr_destroy(&a);
	n = ((uintptr_t)here - (uintptr_t)lo) / page;
	assert_true(n <= sizeof(v));
	assert_int_equal(mincore(lo, n * page, v), 0);
	for (i = 0; i < n; i++)
		r += v[i] & 1;
	return r;
}

/* touch DEEP bytes of stack below the caller, and return */
static __attribute__((noinline)) int go_deep(void)
{
	volatile char buf[DEEP];
	size_t i;
	int sum = 0;

	for (i = 0; i < DEEP; i += 512)
		buf[i] = (char)i;
	for (i = 0; i < DEEP; i += 4096)
		sum += buf[i];
	return sum;
}

static void *worker(void *arg)
{
	size_t *counts = arg;
	char mine[4096];
	char here = 0;
	size_t i;

	memset(mine, 0x5a, sizeof(mine));
	go_deep();
	counts[0] = resident_below(&here);
	stack_trim();
	counts[1] = resident_below(&here);
	for (i = 0; i < sizeof(mine); i++)
		if (mine[i] != 0x5a)
			counts[2] = 1;
	go_deep();
	counts[3] = resident_below(&here);
	return NULL;
}

static void deep_pages_go_back(void **state)
{
	pthread_attr_t a;
	pthread_t t;
	size_t counts[4] = { 0 };

	(void)state;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 1024 * 1024);
	assert_int_equal(pthread_create(&t, &a, worker, counts), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&a);
	/* 64 pages touched below the frame, at most STACK_TRIM_KEEP left */
	assert_true(counts[0] >= DEEP / 4096);
	assert_true(counts[1] <= STACK_TRIM_KEEP / 4096 + 2);
	assert_int_equal(counts[2], 0);
	assert_true(counts[3] >= DEEP / 4096);
}

static void main_thread_left_alone(void **state)
{
	(void)state;
	go_deep();
	stack_trim();	/* a no-op: must not crash or touch anything */
	go_deep();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(deep_pages_go_back),
		cmocka_unit_test(main_thread_left_alone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
