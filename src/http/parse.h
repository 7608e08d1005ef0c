#ifndef CIDRE_HTTP_PARSE_H
#define CIDRE_HTTP_PARSE_H

/*
 * The HTTP/1.1 request parser of src/http: the request head (request line
 * and header fields) and chunked request bodies. Pure functions over
 * buffers: no I/O, no allocation but the body strbuf's. http.c drives
 * them from its connection state machine; fuzz/fuzz-http.c drives them
 * with arbitrary bytes. See docs/internals/http.md.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/* Request line + header fields, CRLFs included: longer is 414 or 431. */
#define HTTP_MAX_HEAD          16384
/* Header fields per request: more is 431. */
#define HTTP_MAX_FIELDS        64
/* A chunk-size line or a trailer line: longer is 400. */
#define HTTP_MAX_CHUNK_LINE    1024
/* All trailer lines of a chunked body together: more is 400. */
#define HTTP_MAX_TRAILER       8192

struct http_field {
	const char *name, *value;
};

struct http_head {
	const char *method;
	const char *target;            /* the raw request target */
	size_t target_len;
	unsigned minor;                /* HTTP/1.minor: 0 or 1 */
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t nr_fields;
	uint64_t content_length;       /* valid when has_length */
	bool has_length;
	bool chunked;                  /* Transfer-Encoding: chunked */
	bool keep_alive;               /* the connection may serve another */
	bool expect_continue;          /* Expect: 100-continue */
};

/*
 * Look for the end of a request head (an empty line; lines end in LF,
 * optionally preceded by CR) in buf[0..len). Returns the head's length,
 * empty line included, or 0 if it is not complete yet. *scan is where to
 * resume on the next call with more bytes (0 at first): no byte is
 * examined twice.
 */
size_t http_head_end(const char *buf, size_t len, size_t *scan);

/*
 * Parse the complete head buf[0..len) (as found by http_head_end) in
 * place: the strings in h point into buf, NUL-terminated there. Returns 0,
 * or the status to answer (400, 414, 417, 431, 501, 505) with *msg saying
 * why. buf[len] need not be readable.
 */
unsigned http_head_parse(char *buf, size_t len, struct http_head *h,
			 const char **msg);

/* A chunked body being decoded; zero it before the first call. */
struct http_chunked {
	int state;
	uint64_t left;        /* data bytes left in the current chunk */
	size_t trailer;       /* trailer bytes seen */
};

/*
 * Decode in[0..len) of a chunked body, appending the data to body, which
 * may not grow past max bytes. *used is set to the bytes consumed (the
 * rest, an incomplete line, must be offered again with more after it).
 * Returns 0 when more input is needed, 1 when the body is complete (bytes
 * after it are not consumed), or a status: 400 (bad framing) or 413
 * (over max), with *msg.
 */
unsigned http_chunked_decode(struct http_chunked *c, const char *in,
			     size_t len, size_t *used, struct strbuf *body,
			     size_t max, const char **msg);

/*
 * Percent-decode src[0..n) into dst (room for n + 1, NUL-terminated).
 * '+' becomes a space when plus is set. A '%' not followed by two hex
 * digits is copied as is and sets *bad; a decoded NUL sets *nul (either
 * may be NULL). Returns the decoded length.
 */
size_t http_pct_decode(char *dst, const char *src, size_t n, bool plus,
		       bool *nul, bool *bad);

#endif
