#ifndef CIDRE_UTIL_KEYLOCK_H
#define CIDRE_UTIL_KEYLOCK_H
/*
 * Mutexes by name: threads that lock the same key take turns, threads
 * with different keys do not wait for each other. A key's mutex exists
 * while someone holds or waits for it, so a table of keys never grows
 * with keys no longer used (projects removed, renamed).
 *
 *	static struct keylock_table fetches = KEYLOCK_TABLE_INIT;
 *	struct keylock *k = keylock_acquire(&fetches, mirror);
 *	...
 *	keylock_release(&fetches, k);
 */
#include <pthread.h>

struct keylock;

struct keylock_table {
	pthread_mutex_t lock;   /* the list, never held while waiting for a key */
	struct keylock *keys;
};

#define KEYLOCK_TABLE_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }

/* Wait until key is this thread's; returns what keylock_release() takes. */
struct keylock *keylock_acquire(struct keylock_table *t, const char *key);
void keylock_release(struct keylock_table *t, struct keylock *k);
/* Keys held or waited for (for tests). */
size_t keylock_count(struct keylock_table *t);

#endif
