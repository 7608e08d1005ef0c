#ifndef CIDRE_UTIL_TEXTRING_H
#define CIDRE_UTIL_TEXTRING_H
/*
 * The last texts put, numbered in turn, kept in one byte buffer: at most
 * `slots` texts and at most `cap` bytes. A new text is written after the
 * previous one (or at the start of the buffer when it does not fit
 * before the end), over the oldest texts: those are gone, as are the
 * ones beyond the last `slots`. No allocation per text, so texts kept
 * for long are not scattered among a program's short-lived allocations.
 * Not locked: the caller serialises.
 */
#include <stddef.h>
#include <stdint.h>

struct textring {
	char *buf;
	size_t cap, head;       /* where the next text goes */
	struct textring_slot {
		size_t off, len;
	} *slot;
	size_t slots;
	uint64_t first, next;   /* the oldest text kept; the next number */
};

/* cap must be at least the longest text that will be put. */
void textring_init(struct textring *r, size_t slots, size_t cap, uint64_t first);
void textring_release(struct textring *r);
/* Put a text of len bytes (at most cap): numbered r->next, which then grows. */
void textring_put(struct textring *r, const char *text, size_t len);
/* Text number n, or NULL when it is gone or not yet put. */
const char *textring_get(const struct textring *r, uint64_t n, size_t *len);

#endif
