#ifndef CIDRE_HTTP_CLIENTS_H
#define CIDRE_HTTP_CLIENTS_H
/*
 * Open connections per client address, for the HTTP server's
 * per-client cap: an open-addressing table (linear probing, deletion by
 * backward shift) sized for at most max_connections addresses in twice
 * as many slots, under its own lock (every worker accepts). Addresses
 * are keys of 16 bytes: IPv6 as it is, IPv4 as IPv4-mapped IPv6, so the
 * two forms of one IPv4 client count together.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

struct client {
	unsigned char addr[16];
	unsigned count;         /* 0: empty slot */
};

struct clients {
	pthread_mutex_t lock;
	struct client *slot;
	size_t mask;            /* slots - 1 (a power of two, minus one) */
};

/* The key of a peer address (zeros for a family other than IPv4/IPv6). */
void clients_key(const struct sockaddr_storage *ss, unsigned char key[16]);
void clients_init(struct clients *t, unsigned max_connections);
/*
 * Count one more connection from key; false, and nothing counted, when
 * that address has max open already. The caller keeps the number of
 * addresses counted at most max_connections.
 */
bool clients_add(struct clients *t, const unsigned char key[16], unsigned max);
/* One connection from key fewer. */
void clients_remove(struct clients *t, const unsigned char key[16]);
/* Connections counted for key now. */
unsigned clients_count(struct clients *t, const unsigned char key[16]);
void clients_free(struct clients *t);

#endif
