/*
 * Unit tests for src/util/keylock.c: one key is held by one thread at a
 * time, another key is not held up by it, and keys no longer used are
 * gone.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/keylock.h"

static struct keylock_table table = KEYLOCK_TABLE_INIT;

struct taker {
	const char *key;
	atomic_int got;         /* 1 once it holds the key */
	atomic_int let_go;      /* 1: release it */
};

static void *take(void *arg)
{
	struct taker *t = arg;
	struct keylock *k = keylock_acquire(&table, t->key);

	atomic_store(&t->got, 1);
	while (!atomic_load(&t->let_go))
		usleep(1000);
	keylock_release(&table, k);
	return NULL;
}

/* Wait up to ms for t to hold its key. */
static int got_within(struct taker *t, int ms)
{
	while (ms-- > 0 && !atomic_load(&t->got))
		usleep(1000);
	return atomic_load(&t->got);
}

static void join_within(pthread_t th, int s)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	assert_int_equal(pthread_timedjoin_np(th, NULL, &ts), 0);
}

static void test_same_key_takes_turns(void **state)
{
	struct keylock *k = keylock_acquire(&table, "repos/a.git");
	struct taker t = { .key = "repos/a.git" };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, take, &t), 0);
	assert_false(got_within(&t, 100));
	assert_int_equal(keylock_count(&table), 1);
	keylock_release(&table, k);
	assert_true(got_within(&t, 5000));
	atomic_store(&t.let_go, 1);
	join_within(th, 5);
	assert_int_equal(keylock_count(&table), 0);
}

static void test_other_key_does_not_wait(void **state)
{
	struct keylock *k = keylock_acquire(&table, "repos/a.git");
	struct taker t = { .key = "repos/b.git", .let_go = 1 };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, take, &t), 0);
	join_within(th, 5);
	assert_true(atomic_load(&t.got));
	assert_int_equal(keylock_count(&table), 1);
	keylock_release(&table, k);
	assert_int_equal(keylock_count(&table), 0);
}

static void test_many_threads_one_key(void **state)
{
	enum { N = 8 };
	struct taker t[N];
	pthread_t th[N];
	int i, holding, most = 0, rounds = 0;

	for (i = 0; i < N; i++) {
		t[i] = (struct taker){ .key = "work/demo/plan" };
		assert_int_equal(pthread_create(&th[i], NULL, take, &t[i]), 0);
	}
	/* let them go one by one: never two hold it */
	for (;;) {
		holding = 0;
		for (i = 0; i < N; i++)
			if (atomic_load(&t[i].got) && !atomic_load(&t[i].let_go))
				holding++;
		if (holding > most)
			most = holding;
		for (i = 0; i < N; i++)
			if (atomic_load(&t[i].got) && !atomic_load(&t[i].let_go)) {
				usleep(2000);
				atomic_store(&t[i].let_go, 1);
				rounds++;
			}
		if (rounds == N)
			break;
		usleep(500);
	}
	for (i = 0; i < N; i++)
		join_within(th[i], 5);
	assert_int_equal(most, 1);
	assert_int_equal(keylock_count(&table), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_key_takes_turns),
		cmocka_unit_test(test_other_key_does_not_wait),
		cmocka_unit_test(test_many_threads_one_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
