#ifndef CIDRE_XALLOC_H
#define CIDRE_XALLOC_H

#include <stddef.h>
#include <stdlib.h>

/*
 * Allocation wrappers: on out-of-memory they print a message and abort().
 * Every other error is returned to the caller; running out of memory is
 * the one condition cidre does not try to survive.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* NULL in, NULL out. */
char *xstrdup_or_null(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void xdie(const char *msg);

/* Grow array p (with *alloc elements) so that it holds at least nr. */
#define ALLOC_GROW(p, nr, alloc) do { \
	if ((size_t)(nr) > (alloc)) { \
		size_t alloc_new_ = (alloc) * 2 + 8; \
		if (alloc_new_ < (size_t)(nr)) \
			alloc_new_ = (size_t)(nr); \
		(p) = xrealloc((p), alloc_new_ * sizeof(*(p))); \
		(alloc) = alloc_new_; \
	} \
} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
