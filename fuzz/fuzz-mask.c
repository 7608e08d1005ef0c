/*
 * libFuzzer target: the streaming masker (src/exec/mask.c). The first
 * bytes name up to three secrets, the rest is the log; it is fed whole
 * and then cut where the input says. Both outputs must be equal (the
 * masking does not depend on how writes were cut), no secret may be left
 * whole unless [MASKED] text made it, and nothing may crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/mask.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void out_cb(void *ud, const char *d, size_t len)
{
	strbuf_add(ud, d, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf whole = STRBUF_INIT, cut = STRBUF_INIT;
	struct mask a, b;
	size_t off = 0, i, seed;
	char sec[16];

	if (size < 4)
		return 0;
	mask_init(&a);
	mask_init(&b);
	/* secrets: 1..15 bytes each, from a small alphabet so they occur */
	for (i = 0; i < 3 && off < size; i++) {
		size_t n = data[off++] % 16, k;

		for (k = 0; k < n && off < size; k++)
			sec[k] = "abAB\n"[data[off++] % 5];
		sec[k] = '\0';
		mask_add(&a, sec);
		mask_add(&b, sec);
	}
	seed = off < size ? data[off++] : 1;
	mask_feed(&a, (const char *)data + off, size - off, out_cb, &whole);
	mask_flush(&a, out_cb, &whole);
	for (i = off; i < size;) {
		size_t n = 1 + (seed = seed * 1103515245 + 12345) % 7;

		if (n > size - i)
			n = size - i;
		mask_feed(&b, (const char *)data + i, n, out_cb, &cut);
		i += n;
	}
	mask_flush(&b, out_cb, &cut);
	if (whole.len != cut.len || memcmp(whole.buf, cut.buf, whole.len))
		__builtin_trap();
	mask_release(&a);
	mask_release(&b);
	strbuf_release(&whole);
	strbuf_release(&cut);
	return 0;
}
