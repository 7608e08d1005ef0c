/*
 * Mutexes by name (keylock.h): a list of the keys in use, each with its
 * mutex and a count of the threads holding or waiting for it, under one
 * table mutex that is held only to find, add or drop a key, never while
 * a thread waits for one. A key is freed by the last of its users, so
 * the list is as long as the keys in use at once (a few).
 */
#include <stdlib.h>
#include <string.h>

#include "util/keylock.h"
#include "util/xalloc.h"

struct keylock {
	struct keylock *next;
	pthread_mutex_t mutex;
	unsigned users;         /* holding or waiting (under the table's lock) */
	char key[];
};

struct keylock *keylock_acquire(struct keylock_table *t, const char *key)
{
	struct keylock *k;

	pthread_mutex_lock(&t->lock);
	for (k = t->keys; k; k = k->next)
		if (!strcmp(k->key, key))
			break;
	if (!k) {
		size_t n = strlen(key) + 1;

		k = xmalloc(sizeof(*k) + n);
		memcpy(k->key, key, n);
		pthread_mutex_init(&k->mutex, NULL);
		k->users = 0;
		k->next = t->keys;
		t->keys = k;
	}
	k->users++;
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_lock(&k->mutex);
	return k;
}

void keylock_release(struct keylock_table *t, struct keylock *k)
{
	struct keylock **p;

	pthread_mutex_unlock(&k->mutex);
	pthread_mutex_lock(&t->lock);
	if (--k->users) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	for (p = &t->keys; *p != k; p = &(*p)->next)
		;
	*p = k->next;
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_destroy(&k->mutex);
	free(k);
}

size_t keylock_count(struct keylock_table *t)
{
	struct keylock *k;
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (k = t->keys; k; k = k->next)
		n++;
	pthread_mutex_unlock(&t->lock);
	return n;
}
