/*
 * A ring of texts in one byte buffer (textring.h).
 *
 * Texts lie in the buffer in the order they were put, wrapping once per
 * lap; the oldest kept text is the one right after the head. Putting a
 * text drops, oldest first, every kept text whose bytes it would cover —
 * and, when it goes back to the start, those still in the tail past the
 * head, which are older than anything before the head.
 */
#include <stdlib.h>
#include <string.h>

#include "util/textring.h"
#include "util/xalloc.h"

void textring_init(struct textring *r, size_t slots, size_t cap, uint64_t first)
{
	memset(r, 0, sizeof(*r));
	r->slots = slots ? slots : 1;
	r->slot = xcalloc(r->slots, sizeof(*r->slot));
	r->cap = cap ? cap : 1;
	r->buf = xmalloc(r->cap);
	r->first = r->next = first;
}

void textring_release(struct textring *r)
{
	free(r->buf);
	free(r->slot);
	memset(r, 0, sizeof(*r));
}

void textring_put(struct textring *r, const char *text, size_t len)
{
	size_t at;

	if (len > r->cap)
		len = r->cap;
	/* the slot taken now held text next - slots */
	if (r->next - r->first >= r->slots)
		r->first = r->next + 1 - r->slots;
	at = r->head + len <= r->cap ? r->head : 0;
	while (r->first < r->next) {
		const struct textring_slot *old = &r->slot[r->first % r->slots];
		int covered = old->off < at + len && at < old->off + old->len;

		if (at == 0 && r->head > 0 && old->off >= r->head)
			covered = 1;	/* in the tail given up */
		if (!covered)
			break;
		r->first++;
	}
	r->slot[r->next % r->slots].off = at;
	r->slot[r->next % r->slots].len = len;
	memcpy(r->buf + at, text, len);
	r->head = at + len;
	r->next++;
}

const char *textring_get(const struct textring *r, uint64_t n, size_t *len)
{
	const struct textring_slot *s;

	if (n < r->first || n >= r->next)
		return NULL;
	s = &r->slot[n % r->slots];
	*len = s->len;
	return r->buf + s->off;
}
