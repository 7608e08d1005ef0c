#ifndef CIDRE_SHA1_H
#define CIDRE_SHA1_H

/*
 * SHA-1 (FIPS 180-4), for git object ids only: which blob a workspace
 * file holds, the checksum of a git index. Not for anything that must
 * resist collisions.
 *
 *	struct sha1 c;
 *	sha1_init(&c); sha1_update(&c, data, len); ...; sha1_final(&c, md);
 */

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20
#define SHA1_HEX_LEN (2 * SHA1_LEN)

struct sha1 {
	uint32_t h[5];
	uint64_t len;              /* bytes hashed so far */
	unsigned char block[64];   /* pending input, len % 64 bytes of it */
};

void sha1_init(struct sha1 *c);
void sha1_update(struct sha1 *c, const void *data, size_t len);
/* Write the digest to md; c must be re-initialised before reuse. */
void sha1_final(struct sha1 *c, unsigned char md[SHA1_LEN]);
/* md as 40 lower-case hex digits and a NUL. */
void sha1_to_hex(const unsigned char md[SHA1_LEN], char hex[SHA1_HEX_LEN + 1]);

#endif
