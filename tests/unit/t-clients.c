/*
 * Unit tests for src/http/clients.c: the per-client connection counts,
 * against a plain model under many random opens and closes (long probe
 * runs and their deletions), and the keys of IPv4 and IPv6 peers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "http/clients.h"

#define MAXCONN  64
#define PER      3
#define ADDRS    200

static void key_of(int n, unsigned char key[16])
{
	memset(key, 0, 16);
	key[0] = 0x20;
	key[1] = 0x01;
	key[14] = (unsigned char)(n >> 8);
	key[15] = (unsigned char)n;
}

static void test_model(void **state)
{
	struct clients t;
	unsigned model[ADDRS] = { 0 }, total = 0;
	int open_conns[MAXCONN], nopen = 0, step;
	unsigned char key[16];
	unsigned seed = 12345;

	clients_init(&t, MAXCONN);
	for (step = 0; step < 200000; step++) {
		int a;

		seed = seed * 1103515245 + 12345;
		if (nopen < MAXCONN && (nopen == 0 || (seed >> 16) % 3)) {
			/* an open from a random address: refused at PER */
			seed = seed * 1103515245 + 12345;
			a = (int)((seed >> 16) % ADDRS);
			key_of(a, key);
			if (model[a] < PER) {
				assert_true(clients_add(&t, key, PER));
				model[a]++;
				total++;
				open_conns[nopen++] = a;
			} else {
				assert_false(clients_add(&t, key, PER));
			}
		} else {
			/* a random open connection closes */
			int i = (int)((seed >> 16) % (unsigned)nopen);

			a = open_conns[i];
			open_conns[i] = open_conns[--nopen];
			key_of(a, key);
			clients_remove(&t, key);
			model[a]--;
			total--;
		}
		assert_int_equal(clients_count(&t, key), model[a]);
		if (step % 1000 == 0) {
			int k;

			for (k = 0; k < ADDRS; k++) {
				key_of(k, key);
				assert_int_equal(clients_count(&t, key), model[k]);
			}
		}
	}
	assert_int_equal(total, (unsigned)nopen);
	clients_free(&t);
}

static void test_keys(void **state)
{
	struct sockaddr_storage a4, a6, b6;
	struct sockaddr_in *in = (struct sockaddr_in *)&a4;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a6;
	unsigned char k4[16], k6[16], kb[16];
	struct clients t;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	memset(&b6, 0, sizeof(b6));
	in->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &in->sin_addr), 1);
	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6->sin6_addr), 1);
	/* an IPv4 client and its IPv4-mapped form: one client */
	clients_key(&a4, k4);
	clients_key(&a6, k6);
	assert_memory_equal(k4, k6, 16);
	/* ::1 is another */
	in6 = (struct sockaddr_in6 *)&b6;
	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::1", &in6->sin6_addr), 1);
	clients_key(&b6, kb);
	assert_memory_not_equal(k4, kb, 16);

	clients_init(&t, 4);
	assert_true(clients_add(&t, k4, 1));
	assert_false(clients_add(&t, k6, 1));
	assert_true(clients_add(&t, kb, 1));
	clients_remove(&t, k6);
	assert_int_equal(clients_count(&t, k4), 0);
	assert_int_equal(clients_count(&t, kb), 1);
	/* removing what is not counted changes nothing */
	clients_remove(&t, k4);
	assert_int_equal(clients_count(&t, kb), 1);
	clients_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
