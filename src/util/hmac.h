#ifndef CIDRE_HMAC_H
#define CIDRE_HMAC_H

/*
 * HMAC-SHA256 (RFC 2104, RFC 4231) on top of util/sha256.h, and a
 * constant-time comparison for checking secrets and signatures.
 */

#include <stddef.h>

#include "util/sha256.h"

/* mac = HMAC-SHA256(key, data). Any key length (long keys are hashed). */
void hmac_sha256(const void *key, size_t keylen, const void *data,
		 size_t len, unsigned char mac[SHA256_LEN]);

/*
 * 1 if a[0..len) equals b[0..len), else 0, in time that depends only on
 * len (not on where they differ).
 */
int ct_memeq(const void *a, const void *b, size_t len);

/*
 * 1 if the strings are equal, else 0, in time that depends only on their
 * lengths. For secrets: the lengths are not hidden.
 */
int ct_streq(const char *a, const char *b);

#endif
