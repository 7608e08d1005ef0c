/*
 * Open connections per client address (clients.h).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/clients.h"
#include "util/xalloc.h"

/* The 16-byte key of a peer address (IPv4 as IPv4-mapped IPv6). */
void clients_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

static size_t client_hash(const unsigned char key[16])
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The slot of key, or the empty slot where it would go. Under t->lock. */
static size_t find(const struct clients *t, const unsigned char key[16])
{
	size_t i;

	for (i = client_hash(key) & t->mask; t->slot[i].count; i = (i + 1) & t->mask)
		if (!memcmp(t->slot[i].addr, key, 16))
			break;
	return i;
}

void clients_init(struct clients *t, unsigned max_connections)
{
	size_t n = 16;

	while (n < (size_t)max_connections * 2)
		n <<= 1;
	pthread_mutex_init(&t->lock, NULL);
	t->slot = xcalloc(n, sizeof(*t->slot));
	t->mask = n - 1;
}

/* The table never fills: it has twice as many slots as addresses can be counted. */
bool clients_add(struct clients *t, const unsigned char key[16], unsigned max)
{
	size_t i;
	bool ok = true;

	pthread_mutex_lock(&t->lock);
	i = find(t, key);
	if (!t->slot[i].count)
		memcpy(t->slot[i].addr, key, 16);
	if (t->slot[i].count >= max)
		ok = false;
	else
		t->slot[i].count++;
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void clients_remove(struct clients *t, const unsigned char key[16])
{
	size_t i, j;

	pthread_mutex_lock(&t->lock);
	i = find(t, key);
	if (t->slot[i].count && --t->slot[i].count == 0) {
		/* backward shift: later entries of the run move up */
		for (j = (i + 1) & t->mask; t->slot[j].count; j = (j + 1) & t->mask) {
			size_t home = client_hash(t->slot[j].addr) & t->mask;

			/* j stays unless its home is cyclically outside (i, j] */
			if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
				t->slot[i] = t->slot[j];
				t->slot[j].count = 0;
				i = j;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
}

unsigned clients_count(struct clients *t, const unsigned char key[16])
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->slot[find(t, key)].count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void clients_free(struct clients *t)
{
	if (!t->slot)
		return;
	free(t->slot);
	t->slot = NULL;
	pthread_mutex_destroy(&t->lock);
}

