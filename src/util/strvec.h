#ifndef CIDRE_STRVEC_H
#define CIDRE_STRVEC_H

#include <stddef.h>

/*
 * A NULL-terminated, growable array of owned strings (argv-shaped).
 * STRVEC_INIT / strvec_init(), then push, then strvec_clear() which frees
 * every string and leaves the vector empty and reusable.
 */
struct strvec {
	char **v;
	size_t nr;
	size_t alloc;
};

extern const char *strvec_empty[];
#define STRVEC_INIT { (char **)strvec_empty, 0, 0 }

void strvec_init(struct strvec *sv);
void strvec_push(struct strvec *sv, const char *s);
void strvec_push_nodup(struct strvec *sv, char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strvec_pop(struct strvec *sv);
void strvec_clear(struct strvec *sv);
void strvec_copy(struct strvec *dst, const struct strvec *src);
/* Index of s, or -1. */
int strvec_find(const struct strvec *sv, const char *s);

#endif
