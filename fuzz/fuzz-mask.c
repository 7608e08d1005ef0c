/*
 * libFuzzer target: the streaming masker (src/exec/mask.c). The first
 * bytes name up to three secrets, the rest is the log; it is fed whole
 * and then cut where the input says. Both outputs must be equal (the
 * masking does not depend on how writes were cut), no secret may be left
 * whole unless [MASKED] text made it, the output is the masking by its
 * definition (the longest secret at each byte, else the byte; checked
 * against a plain loop), and nothing may crash or leak.
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

/* The masking by definition: at each byte, the longest secret there, or the byte. */
static void reference(char sec[][16], const size_t *lens, size_t nr, const char *in,
		      size_t n, struct strbuf *out)
{
	size_t i = 0, k, best;

	while (i < n) {
		best = 0;
		for (k = 0; k < nr; k++)
			if (lens[k] && lens[k] <= n - i && lens[k] > best &&
			    !memcmp(in + i, sec[k], lens[k]))
				best = lens[k];
		if (best) {
			strbuf_addstr(out, MASK_TEXT);
			i += best;
		} else {
			strbuf_addch(out, in[i++]);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf whole = STRBUF_INIT, cut = STRBUF_INIT, ref = STRBUF_INIT;
	struct mask a, b;
	size_t off = 0, i, seed, lens[6] = { 0 }, nr = 0;
	char sec[6][16];

	if (size < 4)
		return 0;
	mask_init(&a);
	mask_init(&b);
	/* secrets: 1..15 bytes each, from a small alphabet so they occur */
	for (i = 0; i < 6 && off < size; i++, nr++) {
		size_t n = data[off++] % 16, k;

		for (k = 0; k < n && off < size; k++)
			sec[i][k] = "abAB\n"[data[off++] % 5];
		sec[i][k] = '\0';
		lens[i] = k;
		mask_add(&a, sec[i]);
		mask_add(&b, sec[i]);
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
	reference(sec, lens, nr, (const char *)data + off, size - off, &ref);
	if (whole.len != ref.len || memcmp(whole.buf, ref.buf, ref.len))
		__builtin_trap();
	strbuf_release(&ref);
	mask_release(&a);
	mask_release(&b);
	strbuf_release(&whole);
	strbuf_release(&cut);
	return 0;
}
