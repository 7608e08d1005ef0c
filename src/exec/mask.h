#ifndef CIDRE_MASK_H
#define CIDRE_MASK_H

/*
 * A streaming masker: bytes in, the same bytes out with every occurrence
 * of a secret replaced by MASK_TEXT, also when a secret arrives split
 * across writes. It holds back at most (longest secret - 1) bytes: those
 * that could still be the start of a secret. The output does not depend
 * on how the input was cut (fuzz/fuzz-mask.c checks it). Where secrets
 * overlap at one position the longest wins. See docs/internals/exec.md.
 */

#include <stddef.h>

#include "util/strbuf.h"

#define MASK_TEXT "[MASKED]"
#define MASK_MAX_SECRETS 200
#define MASK_MAX_LEN 10000

typedef void (*mask_write_fn)(void *ud, const char *data, size_t len);

struct mask {
	char **secrets;
	size_t *lens;
	size_t nr, alloc;
	size_t maxlen;
	/* MASK_FIRST: a secret starts with the byte; MASK_ONE: one is that byte */
	unsigned char first[256];
	/* a bit for each pair of bytes a secret of two or more starts with */
	unsigned char pair[65536 / 8];
	/* the secrets by their first byte: order[bucket[c]..bucket[c + 1]) */
	unsigned short *order;
	unsigned short bucket[257];
	struct strbuf held;
};
#define MASK_FIRST 1
#define MASK_ONE   2

void mask_init(struct mask *m);
/* Mask value from now on (copied). An empty one, a duplicate, one longer
 * than MASK_MAX_LEN or beyond MASK_MAX_SECRETS is refused: -1. */
int mask_add(struct mask *m, const char *value);
/* 1 when there is something to mask. */
int mask_active(const struct mask *m);
/* Pass data through: what is decided is written with fn(ud, ...). */
void mask_feed(struct mask *m, const char *data, size_t len, mask_write_fn fn, void *ud);
/* The input ended: write what was held back, masked. */
void mask_flush(struct mask *m, mask_write_fn fn, void *ud);
/* Free; the secrets are wiped first. */
void mask_release(struct mask *m);

#endif
