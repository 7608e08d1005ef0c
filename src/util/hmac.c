/* HMAC-SHA256 (RFC 2104) and constant-time comparison. See hmac.h. */
#include <string.h>

#include "util/hmac.h"

void hmac_sha256(const void *key, size_t keylen, const void *data,
		 size_t len, unsigned char mac[SHA256_LEN])
{
	unsigned char k[64], pad[64], inner[SHA256_LEN];
	struct sha256 c;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		sha256_init(&c);
		sha256_update(&c, key, keylen);
		sha256_final(&c, k);
	} else if (keylen) {
		memcpy(k, key, keylen);
	}

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	sha256_update(&c, data, len);
	sha256_final(&c, inner);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&c);
	sha256_update(&c, pad, sizeof(pad));
	sha256_update(&c, inner, sizeof(inner));
	sha256_final(&c, mac);

	/* the key schedule is secret: do not leave it on the stack */
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
}

int ct_memeq(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < len; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int ct_streq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* compare la bytes either way, so the time depends on la only */
	return ct_memeq(a, la <= lb ? b : a, la) & (la == lb);
}
