#ifndef CIDRE_HTTP_H
#define CIDRE_HTTP_H

/*
 * Our HTTP/1.1 server: a route table, request accessors, response
 * helpers, file responses with Range (sent with sendfile), and streamed
 * responses (server-sent events) that sleep until woken.
 *
 * Threads: handlers run on the server's worker threads
 * (http_config.threads), concurrently; each runs the handlers of the
 * connections it accepted, one at a time. A handler must not block for
 * long: a blocked handler holds a worker and every connection it serves.
 * Live output is a stream (http_respond_stream), never a loop in a
 * handler.
 *
 * Errors sent by this layer and by http_respond_error() are JSON:
 *	{"error": "message", "status": N}
 * See docs/internals/http.md.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/strbuf.h"

struct http_server;
struct http_request;
struct http_stream;

/* Defaults of the limits below (0 in http_config means the default). */
#define HTTP_DEFAULT_MAX_BODY        (1024 * 1024)
#define HTTP_DEFAULT_MAX_CONNECTIONS 1024
#define HTTP_DEFAULT_MAX_PER_CLIENT  256   /* connections from one address */
#define HTTP_DEFAULT_TIMEOUT         60    /* seconds idle */
#define HTTP_DEFAULT_HEARTBEAT       15    /* seconds */
#define HTTP_MAX_PARAMS              8     /* route parameters per pattern */
#define HTTP_MAX_HEADERS             16    /* extra headers per response */

struct http_config {
	/*
	 * "127.0.0.1:8080", "[::1]:8080", ":8080" (every address: IPv6
	 * dual-stack when available, else IPv4). Port 0 picks a free port:
	 * see http_server_port().
	 */
	const char *listen;
	unsigned threads;          /* pool size; 0 = number of CPUs */
	size_t max_body;           /* request body cap in bytes, else 413 */
	unsigned max_connections;  /* concurrent connections, including streams */
	/*
	 * Concurrent connections from one client address (IPv4, or IPv6 in
	 * full; an IPv4-mapped IPv6 address counts as its IPv4 one); 0 =
	 * HTTP_DEFAULT_MAX_PER_CLIENT. Over it: 503, closed. Never more than
	 * max_connections.
	 */
	unsigned max_per_client;
	unsigned timeout;          /* idle connection timeout, seconds */
	/*
	 * Streams that have been idle (suspended) this many seconds are woken
	 * to send their ops' heartbeat, which is also how a client that went
	 * away is noticed. 0 = HTTP_DEFAULT_HEARTBEAT.
	 */
	unsigned heartbeat;
	/*
	 * Optional: answers the layer's own errors about a request path (no
	 * such route 404, wrong method 405, bad path 400) in another form than
	 * JSON — the web UI's HTML page for its paths. Called with the Allow
	 * header already added; returns 0 when it responded, -1 to leave the
	 * JSON error to the layer.
	 */
	int (*error_page)(struct http_request *req, unsigned status, const char *msg);
	/*
	 * Optional: called on a worker thread, with the ud given to
	 * http_server_start(), once that worker has had no event for
	 * HTTP_IDLE_MS after some activity (a request, a stream's turn).
	 * Not called again before the worker's next activity. For the
	 * caller's per-thread upkeep: e.g. to let go of a thread's cache.
	 */
	void (*idle)(void *ud);
};

#define HTTP_IDLE_MS 1000

/*
 * A handler answers with exactly one http_respond_*() call and returns 0.
 * Returning non-zero without having responded sends 500. Responding twice
 * is refused (-1). ud is the pointer given to http_server_start().
 */
typedef int (*http_handler_fn)(struct http_request *req, void *ud);

/*
 * A route: method ("GET", "POST", ...) and a pattern of literal segments,
 * ":name" segments (one non-empty segment) and a final "*name" (the rest
 * of the path, at least one character, slashes included) or "**name" (the
 * same, possibly empty: a path ending in the slash before it matches; one
 * without that slash does not). The first
 * matching route wins. A GET route also answers HEAD (without a body).
 * The table is not copied: it must outlive the server.
 */
struct http_route {
	const char *method;
	const char *pattern;
	http_handler_fn handler;
};

/*
 * Validate the routes and the config, bind, and start the pool. On success
 * *ret is the server; on failure -1 with the reason in err.
 */
int http_server_start(const struct http_config *cfg,
		      const struct http_route *routes, size_t nr, void *ud,
		      struct http_server **ret, struct strbuf *err);
/* The bound TCP port (the one picked when the config said port 0). */
unsigned http_server_port(const struct http_server *srv);
/*
 * Stop: end every live stream (their read callbacks see no more calls
 * after they are told to end; their free callbacks run), close every
 * connection, join the threads, free the server. NULL is a no-op.
 * Stream handles still held by callers stay valid until unref'ed.
 */
void http_server_stop(struct http_server *srv);

/* ---- request accessors: valid until the handler responds or returns. ---- */

const char *http_request_method(const struct http_request *req);
/* The percent-decoded path, without the query. */
const char *http_request_path(const struct http_request *req);
/* A route parameter (":id", "*path") by name, decoded; NULL if none. */
const char *http_request_param(const struct http_request *req,
			       const char *name);
/*
 * A query parameter by name, decoded ("+" is a space); "" for "?a" or
 * "?a="; NULL if absent. The first of repeated names wins.
 */
const char *http_request_query(struct http_request *req, const char *name);
/* A request header by name, case-insensitive; NULL if absent. */
const char *http_request_header(const struct http_request *req,
				const char *name);
/* The body (never more than max_body bytes), NUL-terminated; len 0 if none. */
const char *http_request_body(const struct http_request *req, size_t *len);
/* The peer's address as text ("127.0.0.1", "::1"); "" if unknown. */
const char *http_request_remote(struct http_request *req);

/* ---- responses: exactly one per request. 0 on success, -1 on error. ---- */

/*
 * Add a header to the response this request will send (e.g. Location,
 * Link). Copied. At most HTTP_MAX_HEADERS; -1 beyond, or for a name or
 * value holding CR/LF.
 */
int http_add_header(struct http_request *req, const char *name,
		    const char *value);

/* json serialised compactly, Content-Type: application/json. Not stolen. */
int http_respond_json(struct http_request *req, unsigned status,
		      const json_t *json);
/* A ready JSON text of len bytes (copied). */
int http_respond_json_str(struct http_request *req, unsigned status,
			  const char *json, size_t len);
/* Any bytes (copied) with the given Content-Type. */
int http_respond_data(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len);
/* data of text/plain; charset=utf-8 (copied). */
int http_respond_text(struct http_request *req, unsigned status,
		      const char *text, size_t len);
/* {"error": message, "status": status} */
int http_respond_error(struct http_request *req, unsigned status,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * size bytes of fd from offset 0 (a regular file). Takes ownership of fd:
 * it is closed in every case. Honours "Range: bytes=N-M", "bytes=N-" and
 * "bytes=-N" with 206 + Content-Range; 416 (Content-Range: "bytes *",
 * a slash and the size) when unsatisfiable; a malformed or multi-range header is
 * ignored (200, the whole file). Sends Accept-Ranges: bytes.
 */
int http_respond_fd(struct http_request *req, int fd, uint64_t size,
		    const char *content_type);

/*
 * A streamed response of unknown length (chunked), for server-sent events.
 *
 * read(ud, pos, buf, max): write up to max bytes of the stream from pos;
 *	return the number written (> 0), 0 when there is nothing now, -1
 *	when the stream is over, or HTTP_STREAM_ABORT when it broke (the
 *	connection is then closed without the body's end, so that the
 *	client sees a cut response, not a whole one). After 0 the
 *	connection sleeps, without polling, until http_stream_wake(); then
 *	read is called again.
 * free(ud): called exactly once, when the response is finished for any
 *	reason (end, client gone, server stop, or an error before it started),
 *	on a server thread. After it, read is never called again.
 * heartbeat: optional bytes sent after heartbeat seconds of idleness (for
 *	SSE ": ping\n\n"); NULL sends nothing. A heartbeat write is how a
 *	client that went away is noticed.
 * sndbuf: bytes the kernel may hold for the client (SO_SNDBUF), or 0 for
 *	the system's autotuning (up to net.ipv4.tcp_wmem's maximum, 4 MB by
 *	default). A stream whose reader may stall and that drops what such
 *	a reader misses (the event ring) sets a small one: the stall then
 *	shows as falling behind, not as megabytes queued in the kernel.
 *
 * read and free run on server threads, one at a time for a stream.
 */
#define HTTP_STREAM_ABORT (-2)

struct http_stream_ops {
	ssize_t (*read)(void *ud, uint64_t pos, char *buf, size_t max);
	void (*free)(void *ud);
	const char *heartbeat;
	int sndbuf;
};

/*
 * Respond with a stream. ud belongs to the stream from this call on (ops->free
 * runs even when this fails). If ret is not NULL, *ret is a new reference
 * to the stream for the caller, who may keep it beyond the request and must
 * http_stream_unref() it; with ret NULL the caller holds none.
 * Extra headers: Cache-Control: no-cache, X-Accel-Buffering: no.
 */
int http_respond_stream(struct http_request *req, unsigned status,
			const char *content_type,
			const struct http_stream_ops *ops, void *ud,
			struct http_stream **ret);
/*
 * A streamed response of known length: "Content-Length: length", not
 * chunked, so that a client sees its progress and its end, and the
 * connection is kept alive after it. read is asked for at most the bytes
 * left, up to 64 KiB at a time (a file's reads), straight into the
 * output; the stream is over when length bytes have been produced. A
 * read that returns -1 or HTTP_STREAM_ABORT before that cuts the
 * response (the connection is closed). ops->heartbeat is ignored; no
 * handle is returned (a file-like body is never woken from elsewhere).
 * ud belongs to the stream as with http_respond_stream(). HEAD sends the
 * head alone.
 */
int http_respond_stream_sized(struct http_request *req, unsigned status,
			      const char *content_type, uint64_t length,
			      const struct http_stream_ops *ops, void *ud);
/*
 * Wake the stream: its read is called again soon. Any thread, any time,
 * also after the stream ended (then a no-op). A wake between a read that
 * returned 0 and the sleep is not lost.
 */
void http_stream_wake(struct http_stream *s);
/* 1 once the stream has finished (free has run or is running), else 0. */
int http_stream_finished(struct http_stream *s);
void http_stream_ref(struct http_stream *s);
/* Drop the caller's reference. NULL is a no-op. */
void http_stream_unref(struct http_stream *s);

#endif
