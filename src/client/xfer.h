#ifndef CIDRE_CLIENT_XFER_H
#define CIDRE_CLIENT_XFER_H

/*
 * One HTTP exchange of the API client, as client.c describes it to a
 * transport (inside src/client only). Two transports:
 *
 *   http1.c  cidre's own HTTP/1.1 over a TCP socket: plain http:// to an
 *            IP literal or "localhost" (no name service, no TLS). In the
 *            static cidre and in cidre-client; starts in microseconds.
 *   curl.c   libcurl: everything else (https://, host names). Only in
 *            cidre-client, which links libcurl; the static cidre hands a
 *            command that needs it to cidre-client (client_open).
 *
 * A transport sends the request, sets x->status from the status line
 * (and x->location from a redirect's Location), and hands the body,
 * de-chunked, to xfer_body() as it arrives. See docs/internals/client.md.
 */

#include <stddef.h>

#include "client/client.h"
#include "util/strbuf.h"

#define XFER_MAX_HEADERS 8

struct xfer {
	/* the request */
	const char *method;
	char *url;                      /* server + path */
	const char *headers[XFER_MAX_HEADERS + 1]; /* "Name: value", NULL-ended */
	char *owned[XFER_MAX_HEADERS];  /* those of headers[] to free */
	size_t nr_headers;
	const char *payload;            /* NULL: no body */
	size_t payload_len;
	long connect_timeout;           /* seconds */
	long timeout;                   /* seconds for the whole exchange; 0: none */
	long stall_timeout;             /* seconds without a byte; 0: none */

	/* the answer */
	long status;
	char *location;                 /* a 3xx's Location, malloc'ed */
	char errbuf[256];               /* why the exchange failed */
	struct strbuf errbody;          /* a non-2xx answer's body, capped */
	client_sink_fn sink;
	void *ctx;
	size_t max, got;
	int too_big;
	int sink_failed;
};

/* Add a "Name: value" header (copied). */
void xfer_header(struct xfer *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Body bytes from the transport (x->status already set). Returns 0 to go
 * on, -1 to stop the exchange (the sink refused, or the cap was passed:
 * x->sink_failed or x->too_big says which).
 */
int xfer_body(struct xfer *x, const char *buf, size_t len);

/*
 * Perform x (xfer_http1: our own; xfer_curl: libcurl, NULL where not
 * linked). Returns 0 when the whole answer was received, -1 when the
 * exchange failed (x->errbuf says why) or xfer_body() stopped it.
 */
int xfer_http1(struct xfer *x);
int xfer_curl(struct xfer *x) __attribute__((weak));
void xfer_curl_cleanup(void) __attribute__((weak));

/*
 * Can xfer_http1() reach url? Plain http:// whose host is an IPv4 or
 * bracketed IPv6 literal, or "localhost".
 */
int http1_can(const char *url);
/* Is url's host (as http1_can accepts it) localhost, 127.0.0.0/8 or ::1? */
int http1_loopback(const char *url);

/*
 * A response head being parsed (pure; fuzz/fuzz-http-client.c): feed it
 * the bytes of a response head; see http1.c.
 */
#define HTTP1_MAX_HEAD  (64 << 10)
struct http1_resp {
	long status;
	int chunked;
	int has_length;
	unsigned long long length;
	int close_delimited;            /* neither: the body ends at EOF */
	char *location;                 /* malloc'ed */
};

/*
 * Parse the complete response head buf[0..len) (ending with its blank
 * line). Returns 0, or -1 with *why set (a static sentence).
 */
int http1_parse_head(const char *buf, size_t len, struct http1_resp *r,
		     const char **why);

#endif
