#ifndef CIDRE_STRBUF_H
#define CIDRE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable, always NUL-terminated byte buffer.
 *
 * Lifecycle: strbuf_init() (or STRBUF_INIT), then any number of operations,
 * then strbuf_release() which frees the storage and leaves the buffer ready
 * for reuse. strbuf_reset() empties it but keeps the allocation.
 * Allocation failure aborts the process (see xalloc.h): callers never check.
 */
struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT { 0, 0, strbuf_slopbuf }

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
/* Hand over the string (malloc'ed, never NULL) and re-initialise sb. */
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
#define strbuf_reset(sb) strbuf_setlen((sb), 0)

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
/* Drop len bytes at pos (pos + len <= sb->len). */
void strbuf_remove(struct strbuf *sb, size_t pos, size_t len);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Strip trailing whitespace. */
void strbuf_rtrim(struct strbuf *sb);
/* path percent-encoded for a URL: letters, digits, "-._~" and "/" kept */
void strbuf_add_urlpath(struct strbuf *sb, const char *path);
/* Append the file's contents; -1 with errno set on failure. */
int strbuf_read_file(struct strbuf *sb, const char *path, size_t max);

#endif
