#ifndef CIDRE_SHA256_H
#define CIDRE_SHA256_H

/*
 * SHA-256 (FIPS 180-4), for content keys: cache:key:files. Not constant
 * time and not meant for secrets (libsodium does those).
 *
 *	struct sha256 c;
 *	sha256_init(&c); sha256_update(&c, data, len); ...; sha256_final(&c, md);
 */

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN (2 * SHA256_LEN)

struct sha256 {
	uint32_t h[8];
	uint64_t len;              /* bytes hashed so far */
	unsigned char block[64];   /* pending input, len % 64 bytes of it */
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
/* Write the digest to md; c must be re-initialised before reuse. */
void sha256_final(struct sha256 *c, unsigned char md[SHA256_LEN]);

/* One-shot: the digest of data as 64 lower-case hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);
/* md as 64 lower-case hex digits and a NUL. */
void sha256_to_hex(const unsigned char md[SHA256_LEN],
		   char hex[SHA256_HEX_LEN + 1]);

#endif
