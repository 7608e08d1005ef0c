/*
 * The HTTP/1.1 server layer: our own, on epoll. See http.h for the
 * contract and docs/internals/http.md for the design (threads, the
 * connection state machine, limits, stream lifetime).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/clients.h"
#include "http/http.h"
#include "http/parse.h"
#include "util/jsonx.h"
#include "util/xalloc.h"

#define STREAM_BLOCK      8192     /* bytes asked of a stream's read */
#define SIZED_BLOCK       65536    /* the same, a stream of known length */
#define STREAM_BURST      16       /* chunks per turn before others' turn */
#define IN_INITIAL        4096     /* a connection's first input buffer */
#define OUT_KEEP          65536    /* output buffer kept between requests */
#define MAX_THREADS       256
#define HEARTBEAT_MAX     256
#define ACCEPT_BURST      64
#define LINGER_MS         2000     /* draining input after an error */
#define LINGER_BYTES      (256 * 1024)
#define SCAN_MS           1000     /* timeouts and heartbeats resolution */
#define ACCEPT_PAUSE_MS   100      /* out of descriptors: accept again after */

/* SEG_WILD0: "**name", a wildcard that may be empty ("/pages/NAME/") */
enum seg_kind { SEG_LIT, SEG_PARAM, SEG_WILD, SEG_WILD0 };

struct seg {
	enum seg_kind kind;
	const char *text;   /* literal text or parameter name (in the pattern) */
	size_t len;
};

struct route {
	const struct http_route *r;
	struct seg *segs;
	size_t nr;
};

struct worker;

struct worker;

struct http_server {
	int listen_fd;
	unsigned port;
	size_t max_body;
	unsigned max_connections;
	uint64_t timeout_ms;
	uint64_t heartbeat_ms;
	int (*error_page)(struct http_request *req, unsigned status, const char *msg);
	void (*idle)(void *ud);
	void *ud;
	struct route *routes;
	size_t nr_routes;
	struct worker *workers;
	unsigned nr_workers;
	unsigned nr_conns;     /* atomic: open connections, all workers */
	unsigned max_per_client;
	struct clients clients;
	int stopping;          /* atomic */
};

/*
 * A worker: one thread, its epoll set (the listening socket, shared with
 * EPOLLEXCLUSIVE, its connections, its eventfd) and the streams woken
 * from other threads. Only the worker touches its connections.
 */
struct worker {
	struct http_server *srv;
	pthread_t thread;
	bool started;
	int ep, evfd;
	pthread_mutex_t wlock;          /* guards wakes */
	struct http_stream *wakes;      /* woken streams, each holding a ref */
	struct conn *conns;
	struct conn *closed;            /* to free at the end of the turn */
	uint64_t now;                   /* monotonic ms, at the last wake-up */
	bool accept_paused;             /* listening socket out of the set */
	uint64_t accept_resume;         /* when to take it back */
	uint64_t next_scan;
	uint64_t busy_at;               /* monotonic ms, the last event */
	bool idle_due;                  /* events since the last idle call */
};

enum cstate {
	C_HEAD,     /* reading a request head (or idle between requests) */
	C_BODY,     /* reading a Content-Length body */
	C_CHUNK,    /* reading a chunked body */
	C_WRITE,    /* sending a response (bytes, then a file) */
	C_STREAM,   /* sending a stream's chunks */
	C_SLEEP,    /* stream with nothing to send: waits for a wake */
	C_LINGER,   /* response sent, write side shut: draining input */
};

struct conn {
	struct worker *w;
	int fd;
	enum cstate state;
	uint32_t events;                /* the epoll interest set */
	char *in;                       /* received, not consumed */
	size_t in_len, in_cap, scan;
	struct strbuf out;              /* to send from woff */
	size_t woff;
	int file_fd;                    /* then file_left bytes of this */
	uint64_t file_off, file_left;
	struct http_request *req;       /* while its body is read */
	struct http_chunked chunk;
	uint64_t body_left;
	uint64_t deadline;              /* monotonic ms; 0 = none */
	size_t lingered;
	unsigned minor;                 /* HTTP/1.minor of the request */
	bool keep_alive;                /* serve another request after this */
	bool linger;                    /* input may be left: drain at close */
	bool head_only;                 /* HEAD: no body */
	bool chunked_out;               /* the stream is sent chunked */
	bool closed;                    /* on w->closed, fd closed */
	struct http_stream *stream;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	unsigned char client[16];       /* the peer's key in srv->clients */
	struct conn *prev, *next;       /* w->conns */
};

struct http_stream {
	/* lock guards everything below it; refs is atomic */
	unsigned refs;
	pthread_mutex_t lock;
	struct worker *w;
	struct conn *conn;     /* NULL once finished */
	ssize_t (*read)(void *ud, uint64_t pos, char *buf, size_t max);
	void (*free)(void *ud);
	void *ud;
	char heartbeat[HEARTBEAT_MAX];
	size_t heartbeat_len;
	uint64_t pos;          /* bytes read() produced so far */
	uint64_t length;       /* a sized stream's Content-Length */
	bool sized;            /* its length is known: not chunked */
	uint64_t gen;          /* wake counter */
	uint64_t idle_since;   /* monotonic ms, when it went to sleep */
	bool suspended;        /* asleep, not yet queued for a wake */
	bool beat;             /* send the heartbeat next */
	bool ending;           /* server stopping: end at the next read */
	bool finished;         /* free ran or is running */
	struct http_stream *wnext;   /* w->wakes */
};

struct param {
	const char *name;
	size_t nlen;
	const char *value;
};

struct header {
	char *name, *value;
};

struct http_request {
	struct http_server *srv;
	struct conn *conn;
	const struct route *route;
	bool responded;
	struct http_head head;          /* method, target, fields */
	struct strbuf body;
	char *raw;                      /* the raw target, then cut at '?' */
	const char *raw_query;          /* after '?', or NULL */
	char *path;                     /* decoded path */
	char *vbuf;                     /* decoded parameter values */
	struct param params[HTTP_MAX_PARAMS];
	size_t nr_params;
	struct strbuf query;            /* decoded "name\0value\0"... */
	size_t nr_query;
	bool query_parsed;
	struct header headers[HTTP_MAX_HEADERS];
	size_t nr_headers;
	char remote[INET6_ADDRSTRLEN];
	bool remote_done;
	char buf[];                     /* head, raw target, path, values */
};

/* ---------------------------------------------------------------- utils */

static size_t pct_decode(char *dst, const char *src, size_t n, bool plus,
			 bool *nul)
{
	return http_pct_decode(dst, src, n, plus, nul, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 300 ? "OK" : status < 400 ? "Redirect" :
		status < 500 ? "Client Error" : "Server Error";
	}
}

static void put_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	strbuf_add(sb, tmp + i, sizeof(tmp) - i);
}

/* {"error": msg, "status": status}, compact; caller frees. */
static char *json_error(unsigned status, const char *msg)
{
	json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", (int)status);
	char *s;

	if (!j)
		j = json_pack("{s:s, s:i}", "error", "error", "status", (int)status);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static bool stopping(const struct http_server *srv)
{
	return __atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE);
}

/* -------------------------------------------------------- response heads */

/*
 * The status line and header of a response to req into its connection's
 * output. clen is the Content-Length; stream: a body of unknown length
 * (chunked for HTTP/1.1, until close for HTTP/1.0).
 */
static void put_head(struct http_request *req, unsigned status,
		     const char *content_type, uint64_t clen, bool stream)
{
	struct conn *c = req->conn;
	struct strbuf *o = &c->out;
	size_t i;

	if (stopping(req->srv))
		c->keep_alive = false;
	if (stream && c->minor == 0)
		c->keep_alive = false;
	strbuf_addstr(o, "HTTP/1.1 ");
	put_u64(o, status);
	strbuf_addch(o, ' ');
	strbuf_addstr(o, reason(status));
	strbuf_addstr(o, "\r\n");
	if (content_type) {
		strbuf_addstr(o, "Content-Type: ");
		strbuf_addstr(o, content_type);
		strbuf_addstr(o, "\r\n");
	}
	for (i = 0; i < req->nr_headers; i++) {
		strbuf_addstr(o, req->headers[i].name);
		strbuf_addstr(o, ": ");
		strbuf_addstr(o, req->headers[i].value);
		strbuf_addstr(o, "\r\n");
	}
	if (stream) {
		if (c->minor)
			strbuf_addstr(o, "Transfer-Encoding: chunked\r\n");
		c->chunked_out = c->minor > 0;
	} else {
		strbuf_addstr(o, "Content-Length: ");
		put_u64(o, clen);
		strbuf_addstr(o, "\r\n");
	}
	if (!c->keep_alive)
		strbuf_addstr(o, "Connection: close\r\n");
	else if (!c->minor)
		strbuf_addstr(o, "Connection: keep-alive\r\n");
	strbuf_addstr(o, "\r\n");
	req->responded = true;
	c->state = C_WRITE;
}

/* A response of len bytes of data (copied). */
static int respond_bytes(struct http_request *req, unsigned status,
			 const char *content_type, const void *data, size_t len)
{
	if (req->responded)
		return -1;
	put_head(req, status, content_type, len, false);
	if (!req->conn->head_only)
		strbuf_add(&req->conn->out, data, len);
	return 0;
}

static int layer_error(struct http_request *req, unsigned status,
		       const char *msg)
{
	char *s = json_error(status, msg);
	int ret;

	if (!s)
		return -1;
	ret = respond_bytes(req, status, "application/json", s, strlen(s));
	free(s);
	return ret;
}

/* An error about the request's path: the server's error page, else JSON. */
static int path_error(struct http_request *req, unsigned status, const char *msg)
{
	if (req->srv->error_page && req->srv->error_page(req, status, msg) == 0 &&
	    req->responded)
		return 0;
	if (req->responded)
		return -1;
	return layer_error(req, status, msg);
}

/* ---------------------------------------------------------------- routes */

static int compile_route(const struct http_route *r, struct route *out,
			 struct strbuf *err)
{
	const char *p = r->pattern;
	size_t n = 0, alloc = 0;

	out->r = r;
	out->segs = NULL;
	out->nr = 0;
	if (!r->method || !*r->method || !r->handler || !p || p[0] != '/') {
		strbuf_addf(err, "route %s: needs a method, a handler and a "
			    "pattern starting with '/'", p ? p : "(null)");
		return -1;
	}
	/* "/" alone is the root: no segment */
	if (!strcmp(p, "/"))
		return 0;
	while (*p == '/') {
		const char *s = ++p;
		size_t len = strcspn(s, "/");
		struct seg seg = { SEG_LIT, s, len };
		size_t nparams = 0, i;

		if (!len) {
			strbuf_addf(err, "route %s: empty segment", r->pattern);
			goto fail;
		}
		if (*s == ':' || *s == '*') {
			seg.kind = *s == ':' ? SEG_PARAM : s[1] == '*' ? SEG_WILD0 : SEG_WILD;
			seg.text = s + 1 + (seg.kind == SEG_WILD0);
			seg.len = len - 1 - (seg.kind == SEG_WILD0);
			if (!seg.len) {
				strbuf_addf(err, "route %s: unnamed parameter",
					    r->pattern);
				goto fail;
			}
			if (seg.kind >= SEG_WILD && s[len]) {
				strbuf_addf(err, "route %s: '*' must be the "
					    "last segment", r->pattern);
				goto fail;
			}
			for (i = 0; i < n; i++)
				if (out->segs[i].kind != SEG_LIT)
					nparams++;
			if (nparams >= HTTP_MAX_PARAMS) {
				strbuf_addf(err, "route %s: more than %d "
					    "parameters", r->pattern,
					    HTTP_MAX_PARAMS);
				goto fail;
			}
		}
		ALLOC_GROW(out->segs, n + 1, alloc);
		out->segs[n++] = seg;
		out->nr = n;
		p = s + len;
	}
	return 0;
fail:
	free(out->segs);
	out->segs = NULL;
	out->nr = 0;
	return -1;
}

/*
 * Match the raw (still percent-encoded) path against rt, segment by
 * segment: each segment is decoded before it is compared, so "%2F" inside
 * a ":name" segment stays in its value. On a match with req set, record
 * the decoded parameters in req (values written to vbuf). vbuf is scratch
 * space of at least strlen(raw) + 1 bytes. Returns 1 on a match.
 */
static int match_route(const struct route *rt, const char *raw,
		       struct http_request *req, char *vbuf)
{
	const char *p = raw;
	size_t i, np = 0;

	for (i = 0; i < rt->nr; i++) {
		const struct seg *sg = &rt->segs[i];
		const char *s;
		size_t len, dlen;

		if (*p != '/')
			return 0;
		s = p + 1;
		len = sg->kind >= SEG_WILD ? strlen(s) : strcspn(s, "/");
		if (!len && sg->kind != SEG_WILD0)
			return 0;
		dlen = pct_decode(vbuf, s, len, false, NULL);
		if (sg->kind == SEG_LIT) {
			if (dlen != sg->len || memcmp(vbuf, sg->text, dlen))
				return 0;
		} else if (req) {
			req->params[np].name = sg->text;
			req->params[np].nlen = sg->len;
			req->params[np].value = vbuf;
			np++;
			vbuf += dlen + 1;
		}
		p = s + len;
	}
	if (*p && !(rt->nr == 0 && !strcmp(p, "/")))
		return 0;
	if (req)
		req->nr_params = np;
	return 1;
}

static bool method_is(const char *m, const char *want)
{
	return !strcmp(m, want);
}

static void allow_add(struct strbuf *allow, const char *m)
{
	const char *p = allow->buf;
	size_t n = strlen(m);

	while ((p = strstr(p, m))) {
		if ((p == allow->buf || p[-1] == ' ') &&
		    (p[n] == ',' || !p[n]))
			return;
		p += n;
	}
	if (allow->len)
		strbuf_addstr(allow, ", ");
	strbuf_addstr(allow, m);
}

/* Route the request: 0 with req->route set, or -1 after queueing an error. */
static int route_request(struct http_request *req)
{
	struct http_server *srv = req->srv;
	char *vbuf = req->vbuf;
	struct strbuf allow = STRBUF_INIT;
	bool head = method_is(req->head.method, "HEAD");
	size_t i;
	int ret;

	for (i = 0; i < srv->nr_routes; i++) {
		const struct route *rt = &srv->routes[i];

		if (!match_route(rt, req->raw, NULL, vbuf))
			continue;
		if (method_is(req->head.method, rt->r->method) ||
		    (head && method_is(rt->r->method, "GET"))) {
			match_route(rt, req->raw, req, vbuf);
			req->route = rt;
			strbuf_release(&allow);
			return 0;
		}
		allow_add(&allow, rt->r->method);
		if (method_is(rt->r->method, "GET"))
			allow_add(&allow, "HEAD");
	}
	if (!allow.len)
		return path_error(req, 404, "no such route"), -1;
	ret = http_add_header(req, "Allow", allow.buf);
	strbuf_release(&allow);
	if (ret < 0)
		return -1;
	path_error(req, 405, "method not allowed");
	return -1;
}

/* -------------------------------------------------------------- requests */

static void request_free(struct http_request *req)
{
	size_t i;

	if (!req)
		return;
	strbuf_release(&req->body);
	strbuf_release(&req->query);
	for (i = 0; i < req->nr_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req);
}

/* Decode and check the path; 0, or -1 after responding 400. */
static int parse_path(struct http_request *req)
{
	char *raw = req->raw;
	size_t rawlen = strcspn(raw, "?#");
	bool nul = false, bad = false;
	const char *p;

	if (raw[rawlen] == '?') {
		req->raw_query = raw + rawlen + 1;
		raw[rawlen + 1 + strcspn(raw + rawlen + 1, "#")] = '\0';
	}
	raw[rawlen] = '\0';
	http_pct_decode(req->path, raw, rawlen, false, &nul, &bad);
	if (req->path[0] != '/')
		return path_error(req, 400, "bad request path"), -1;
	if (nul)
		return path_error(req, 400, "NUL in request path"), -1;
	if (bad)
		return path_error(req, 400, "bad percent-escape in request path"), -1;
	for (p = req->path; p; p = strchr(p + 1, '/'))
		if (p[1] == '.' && p[2] == '.' && (p[3] == '/' || !p[3]))
			return path_error(req, 400, "'..' in request path"), -1;
	return 0;
}

const char *http_request_method(const struct http_request *req)
{
	return req->head.method;
}

const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_param(const struct http_request *req,
			       const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < req->nr_params; i++)
		if (req->params[i].nlen == n &&
		    !memcmp(req->params[i].name, name, n))
			return req->params[i].value;
	return NULL;
}

static void parse_query(struct http_request *req)
{
	const char *q = req->raw_query;

	req->query_parsed = true;
	if (!q)
		return;
	while (*q) {
		size_t len = strcspn(q, "&;");
		size_t klen = strcspn(q, "=");
		size_t off;

		if (klen > len)
			klen = len;
		if (len) {
			off = req->query.len;
			strbuf_grow(&req->query, len + 2);
			off += pct_decode(req->query.buf + off, q, klen, true,
					  NULL);
			off++;
			if (klen < len)
				off += pct_decode(req->query.buf + off,
						  q + klen + 1, len - klen - 1,
						  true, NULL);
			else
				req->query.buf[off] = '\0';
			off++;
			strbuf_setlen(&req->query, off);
			req->nr_query++;
		}
		q += len;
		if (*q)
			q++;
	}
}

const char *http_request_query(struct http_request *req, const char *name)
{
	const char *p;
	size_t i;

	if (!req->query_parsed)
		parse_query(req);
	p = req->query.buf;
	for (i = 0; i < req->nr_query; i++) {
		const char *v = p + strlen(p) + 1;

		if (!strcmp(p, name))
			return v;
		p = v + strlen(v) + 1;
	}
	return NULL;
}

const char *http_request_header(const struct http_request *req,
				const char *name)
{
	size_t i;

	for (i = 0; i < req->head.nr_fields; i++)
		if (!strcasecmp(req->head.fields[i].name, name))
			return req->head.fields[i].value;
	return NULL;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.buf;
}

const char *http_request_remote(struct http_request *req)
{
	const struct sockaddr_storage *ss = &req->conn->peer;

	if (req->remote_done)
		return req->remote;
	req->remote_done = true;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  req->remote, sizeof(req->remote));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ss)->sin6_addr,
			  req->remote, sizeof(req->remote));
	return req->remote;
}

/* ------------------------------------------------------------- responses */

int http_add_header(struct http_request *req, const char *name,
		    const char *value)
{
	if (req->nr_headers >= HTTP_MAX_HEADERS || !*name ||
	    strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
		return -1;
	req->headers[req->nr_headers].name = xstrdup(name);
	req->headers[req->nr_headers].value = xstrdup(value);
	req->nr_headers++;
	return 0;
}

int http_respond_data(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len)
{
	return respond_bytes(req, status, content_type, data, len);
}

int http_respond_text(struct http_request *req, unsigned status,
		      const char *text, size_t len)
{
	return respond_bytes(req, status, "text/plain; charset=utf-8",
			     text, len);
}

int http_respond_json_str(struct http_request *req, unsigned status,
			  const char *json, size_t len)
{
	return respond_bytes(req, status, "application/json", json, len);
}

int http_respond_json(struct http_request *req, unsigned status,
		      const json_t *json)
{
	char *s;
	int ret;

	if (req->responded)
		return -1;
	s = json_dumps(json, JSONX_OUT | JSON_ENCODE_ANY);
	if (!s)
		return -1;
	ret = respond_bytes(req, status, "application/json", s, strlen(s));
	free(s);
	return ret;
}

int http_respond_error(struct http_request *req, unsigned status,
		       const char *fmt, ...)
{
	struct strbuf msg = STRBUF_INIT;
	va_list ap;
	int ret;

	if (req->responded)
		return -1;
	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	ret = layer_error(req, status, msg.buf);
	strbuf_release(&msg);
	return ret;
}

/*
 * Parse a single "bytes=" range against size. Returns 1 with [*off, *off +
 * *len) for a satisfiable range, 0 to ignore the header, -1 unsatisfiable.
 */
static int parse_range(const char *h, uint64_t size, uint64_t *off,
		       uint64_t *len)
{
	unsigned long long a = 0, b = 0;
	bool has_a = false, has_b = false;
	const char *p;
	char *end;

	if (strncasecmp(h, "bytes=", 6))
		return 0;
	p = h + 6;
	while (*p == ' ')
		p++;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		a = strtoull(p, &end, 10);
		if (errno)
			return 0;
		p = end;
		has_a = true;
	}
	if (*p++ != '-')
		return 0;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		b = strtoull(p, &end, 10);
		if (errno)
			return 0;
		p = end;
		has_b = true;
	}
	while (*p == ' ')
		p++;
	if (*p)
		return 0;              /* several ranges or junk: ignored */
	if (!has_a && !has_b)
		return 0;
	if (!has_a) {                  /* suffix: the last b bytes */
		if (!b || !size)
			return -1;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return 1;
	}
	if (has_b && b < a)
		return 0;
	if (a >= size)
		return -1;
	if (!has_b || b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

int http_respond_fd(struct http_request *req, int fd, uint64_t size,
		    const char *content_type)
{
	const char *range;
	uint64_t off = 0, len = size;
	unsigned status = 200;
	struct conn *c = req->conn;
	char cr[96];

	if (req->responded) {
		close(fd);
		return -1;
	}
	range = http_request_header(req, "Range");
	if (range) {
		int r = parse_range(range, size, &off, &len);

		if (r < 0) {
			close(fd);
			snprintf(cr, sizeof(cr), "bytes */%llu",
				 (unsigned long long)size);
			if (http_add_header(req, "Content-Range", cr) < 0)
				return -1;
			return layer_error(req, 416, "range not satisfiable");
		}
		if (r > 0) {
			status = 206;
			snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
				 (unsigned long long)off,
				 (unsigned long long)(off + len - 1),
				 (unsigned long long)size);
			if (http_add_header(req, "Content-Range", cr) < 0) {
				close(fd);
				return -1;
			}
		}
	}
	if (http_add_header(req, "Accept-Ranges", "bytes") < 0) {
		close(fd);
		return -1;
	}
	put_head(req, status, content_type, len, false);
	if (!len || c->head_only) {
		close(fd);
		return 0;
	}
	c->file_fd = fd;
	c->file_off = off;
	c->file_left = len;
	return 0;
}

/* --------------------------------------------------------------- streams */

void http_stream_ref(struct http_stream *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void http_stream_unref(struct http_stream *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/*
 * Queue a sleeping stream for its worker; s->lock held. The queue holds a
 * reference. Lock order: stream, then worker.
 */
static void stream_queue_locked(struct http_stream *s)
{
	struct worker *w = s->w;
	uint64_t one = 1;
	bool first;

	s->suspended = false;
	http_stream_ref(s);
	pthread_mutex_lock(&w->wlock);
	first = !w->wakes;
	s->wnext = w->wakes;
	w->wakes = s;
	pthread_mutex_unlock(&w->wlock);
	if (first && write(w->evfd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: a wake-up is pending anyway */
	}
}

void http_stream_wake(struct http_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->gen++;
	if (!s->finished && s->suspended)
		stream_queue_locked(s);
	pthread_mutex_unlock(&s->lock);
}

int http_stream_finished(struct http_stream *s)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = s->finished;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* The response is over: run free, drop the connection's reference. */
static void stream_finish(struct conn *c)
{
	struct http_stream *s = c->stream;

	if (!s)
		return;
	c->stream = NULL;
	pthread_mutex_lock(&s->lock);
	s->finished = true;
	s->suspended = false;
	s->conn = NULL;
	pthread_mutex_unlock(&s->lock);
	s->free(s->ud);
	http_stream_unref(s);
}

static void nop_free(void *ud)
{
}

/* The stream of a response, its connection's: one reference. */
static struct http_stream *stream_new(struct http_request *req,
				      const struct http_stream_ops *ops, void *ud,
				      size_t hb)
{
	struct conn *c = req->conn;
	struct http_stream *s;

	s = xcalloc(1, sizeof(*s));
	s->refs = 1;                   /* the connection's */
	pthread_mutex_init(&s->lock, NULL);
	s->w = c->w;
	s->conn = c;
	s->read = ops->read;
	s->free = ops->free ? ops->free : nop_free;
	s->ud = ud;
	memcpy(s->heartbeat, ops->heartbeat ? ops->heartbeat : "", hb);
	s->heartbeat_len = hb;
	s->ending = stopping(req->srv);
	/* best effort: a socket that refuses keeps its autotuning */
	if (ops->sndbuf > 0)
		(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &ops->sndbuf,
				 sizeof(ops->sndbuf));
	return s;
}

int http_respond_stream(struct http_request *req, unsigned status,
			const char *content_type,
			const struct http_stream_ops *ops, void *ud,
			struct http_stream **ret)
{
	struct http_stream *s;
	size_t hb = ops->heartbeat ? strlen(ops->heartbeat) : 0;

	if (req->responded || !ops->read || hb > HEARTBEAT_MAX ||
	    http_add_header(req, "Cache-Control", "no-cache") < 0 ||
	    http_add_header(req, "X-Accel-Buffering", "no") < 0) {
		if (ops->free)
			ops->free(ud);
		return -1;
	}
	s = stream_new(req, ops, ud, hb);
	put_head(req, status, content_type, 0, true);
	req->conn->stream = s;
	if (ret) {
		http_stream_ref(s);
		*ret = s;
	}
	return 0;
}

int http_respond_stream_sized(struct http_request *req, unsigned status,
			      const char *content_type, uint64_t length,
			      const struct http_stream_ops *ops, void *ud)
{
	struct http_stream *s;

	if (req->responded || !ops->read) {
		if (ops->free)
			ops->free(ud);
		return -1;
	}
	/* no heartbeat: its bytes would be taken for the body's */
	s = stream_new(req, ops, ud, 0);
	s->sized = true;
	s->length = length;
	put_head(req, status, content_type, length, false);
	req->conn->stream = s;
	return 0;
}

/* Frame n bytes of stream data into the output. */
static void put_chunk(struct conn *c, const char *data, size_t n)
{
	if (c->chunked_out) {
		char size[24];

		snprintf(size, sizeof(size), "%zx\r\n", n);
		strbuf_addstr(&c->out, size);
	}
	strbuf_add(&c->out, data, n);
	if (c->chunked_out)
		strbuf_addstr(&c->out, "\r\n");
}

/*
 * A sized stream's read, straight into the output: no framing to put
 * around the bytes, and blocks as large as a file's reads want. As
 * stream_pump, and -2 when the read broke or ended short of the length.
 */
static int stream_read_sized(struct conn *c, struct http_stream *s)
{
	uint64_t left = s->length - s->pos;
	size_t want = left < SIZED_BLOCK ? (size_t)left : SIZED_BLOCK;
	ssize_t n;

	if (!left)
		return -1;
	strbuf_grow(&c->out, want);
	n = s->read(s->ud, s->pos, c->out.buf + c->out.len, want);
	if (n < 0 || (size_t)n > want)
		return -2;
	if (!n)
		return 0;
	s->pos += (uint64_t)n;
	strbuf_setlen(&c->out, c->out.len + (size_t)n);
	return 1;
}

/*
 * Produce the stream's next bytes into the output: 1 if some were added,
 * 0 if it went to sleep (state C_SLEEP), -1 if it is over, -2 if it broke
 * (HTTP_STREAM_ABORT, or a sized stream's short or long read): the
 * connection is to be closed without the body's end.
 */
static int stream_pump(struct conn *c)
{
	struct http_stream *s = c->stream;
	char buf[STREAM_BLOCK];

	if (c->head_only)
		return -1;
	for (;;) {
		uint64_t gen;
		ssize_t n;

		pthread_mutex_lock(&s->lock);
		if (s->ending) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		if (s->beat) {
			s->beat = false;
			pthread_mutex_unlock(&s->lock);
			put_chunk(c, s->heartbeat, s->heartbeat_len);
			return 1;
		}
		gen = s->gen;
		pthread_mutex_unlock(&s->lock);

		if (s->sized) {
			int r = stream_read_sized(c, s);

			if (r)
				return r;
			goto sleep;
		}
		n = s->read(s->ud, s->pos, buf, sizeof(buf));
		if (n == HTTP_STREAM_ABORT)
			return -2;
		if (n < 0 || (size_t)n > sizeof(buf))
			return -1;
		if (n > 0) {
			s->pos += (uint64_t)n;
			put_chunk(c, buf, (size_t)n);
			return 1;
		}
sleep:
		pthread_mutex_lock(&s->lock);
		if (s->gen == gen && !s->ending && !s->beat) {
			/* nothing now and no wake since the read: sleep */
			s->suspended = true;
			s->idle_since = c->w->now;
			c->state = C_SLEEP;
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		pthread_mutex_unlock(&s->lock);
		/* woken while reading: read again */
	}
}

/* ----------------------------------------------------------- connections */

static void set_events(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	c->events = events;
	epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * Close the connection. Its memory is freed at the end of the worker's
 * turn (free_closed): an event of the same epoll_wait may still name it.
 */
static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	if (c->closed)
		return;
	c->closed = true;
	stream_finish(c);
	if (c->file_fd >= 0)
		close(c->file_fd);
	/*
	 * Out of the epoll set first: close() alone leaves it there while
	 * another descriptor of the socket lives (a child between fork and
	 * exec holds copies), and its events would name freed memory.
	 */
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	request_free(c->req);
	free(c->in);
	strbuf_release(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	clients_remove(&w->srv->clients, c->client);
	__atomic_sub_fetch(&w->srv->nr_conns, 1, __ATOMIC_RELAXED);
	c->prev = NULL;
	c->next = w->closed;
	w->closed = c;
}

static void free_closed(struct worker *w)
{
	struct conn *c;

	while ((c = w->closed)) {
		w->closed = c->next;
		free(c);
	}
}

/* Drop the first n bytes of the input. */
static void consume(struct conn *c, size_t n)
{
	if (n < c->in_len)
		memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->scan = 0;
}

/*
 * Answer a request that could not be parsed (no handler sees it) and
 * close the connection after it, draining what the client still sends.
 */
static void conn_error(struct conn *c, unsigned status, const char *msg)
{
	char *s = json_error(status, msg);
	size_t len = s ? strlen(s) : 0;
	struct strbuf *o = &c->out;

	request_free(c->req);
	c->req = NULL;
	c->keep_alive = false;
	c->linger = true;
	strbuf_addstr(o, "HTTP/1.1 ");
	put_u64(o, status);
	strbuf_addch(o, ' ');
	strbuf_addstr(o, reason(status));
	strbuf_addstr(o, "\r\nContent-Type: application/json\r\n"
		      "Connection: close\r\nContent-Length: ");
	put_u64(o, len);
	strbuf_addstr(o, "\r\n\r\n");
	if (!c->head_only)
		strbuf_add(o, s, len);
	free(s);
	c->state = C_WRITE;
}

/* Run the route's handler for the complete request c->req. */
static void dispatch(struct conn *c)
{
	struct http_request *req = c->req;

	c->req = NULL;
	c->deadline = c->w->now + c->w->srv->timeout_ms;
	if (parse_path(req) == 0 && route_request(req) == 0) {
		int ret = req->route->r->handler(req, req->srv->ud);

		if (!req->responded)
			layer_error(req, 500, ret ? "internal error" :
				    "handler sent no response");
	}
	if (!req->responded) {
		c->req = req;           /* freed by conn_error */
		conn_error(c, 500, "internal error");
		return;
	}
	request_free(req);
}

/*
 * A request head of len bytes is at the start of the input: parse it
 * into a new request, then read its body or dispatch it.
 */
static void start_request(struct conn *c, size_t len)
{
	struct http_server *srv = c->w->srv;
	struct http_request *req;
	const char *msg;
	unsigned st;
	size_t tlen;

	/* the head, then three times the target: raw, decoded path, values */
	req = xmalloc(sizeof(*req) + len + 1 + 3 * (len + 1));
	memset(req, 0, sizeof(*req));
	req->srv = srv;
	req->conn = c;
	strbuf_init(&req->body, 0);
	strbuf_init(&req->query, 0);
	memcpy(req->buf, c->in, len);
	req->buf[len] = '\0';
	consume(c, len);
	c->req = req;
	c->head_only = false;
	st = http_head_parse(req->buf, len, &req->head, &msg);
	if (st) {
		c->minor = 1;
		conn_error(c, st, msg);
		return;
	}
	c->minor = req->head.minor;
	c->keep_alive = req->head.keep_alive;
	c->head_only = !strcmp(req->head.method, "HEAD");
	tlen = req->head.target_len;
	req->raw = req->buf + len + 1;
	memcpy(req->raw, req->head.target, tlen + 1);
	req->path = req->raw + tlen + 1;
	req->vbuf = req->path + tlen + 1;

	if (req->head.has_length && req->head.content_length > srv->max_body) {
		conn_error(c, 413, "request body too large");
		return;
	}
	if ((req->head.chunked || req->head.content_length) &&
	    req->head.expect_continue && c->minor && !c->in_len) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		/* a fresh socket's buffer takes it; if not, the client goes on */
		if (send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL) < 0) {
			/* noticed at the next read or write */
		}
	}
	c->deadline = c->w->now + srv->timeout_ms;
	if (req->head.chunked) {
		memset(&c->chunk, 0, sizeof(c->chunk));
		c->state = C_CHUNK;
	} else if (req->head.content_length) {
		strbuf_grow(&req->body, (size_t)req->head.content_length);
		c->body_left = req->head.content_length;
		c->state = C_BODY;
	} else {
		dispatch(c);
	}
}

/*
 * Send what is pending: the output buffer, the file, the stream's next
 * chunks. Returns 1 when the response is complete, 0 when the socket is
 * full or the stream sleeps, -1 on error (close).
 */
static int conn_output(struct conn *c)
{
	int burst = 0;

	for (;;) {
		while (c->woff < c->out.len) {
			ssize_t n = send(c->fd, c->out.buf + c->woff,
					 c->out.len - c->woff,
					 MSG_NOSIGNAL | (c->file_left ? MSG_MORE : 0));

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return -1;
			}
			c->woff += (size_t)n;
			c->deadline = c->w->now + c->w->srv->timeout_ms;
		}
		c->woff = 0;
		strbuf_reset(&c->out);
		while (c->file_left) {
			off_t off = (off_t)c->file_off;
			size_t want = c->file_left > (1u << 30) ? (1u << 30) :
				(size_t)c->file_left;
			ssize_t n = sendfile(c->fd, c->file_fd, &off, want);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return -1;
			}
			if (!n)
				return -1;      /* the file shrank */
			c->file_off += (uint64_t)n;
			c->file_left -= (uint64_t)n;
			c->deadline = c->w->now + c->w->srv->timeout_ms;
		}
		if (c->file_fd >= 0) {
			close(c->file_fd);
			c->file_fd = -1;
		}
		if (!c->stream)
			return 1;
		if (c->state == C_WRITE)
			c->state = C_STREAM;
		if (burst++ == STREAM_BURST)
			return 0;       /* the others' turn; EPOLLOUT brings us back */
		switch (stream_pump(c)) {
		case 1:
			break;
		case 0:
			return 0;
		case -2:
			/*
			 * Cut: what was made goes out first (a client then
			 * sees the cut where it is), and the connection closes
			 * short of the body's end, no last chunk: the client
			 * cannot take it for a whole body.
			 */
			c->keep_alive = false;
			stream_finish(c);
			c->state = C_WRITE;
			break;
		default:
			if (c->stream->sized && !c->head_only &&
			    c->stream->pos != c->stream->length)
				return -1;      /* ended short (server stop): cut */
			if (c->chunked_out && !c->head_only)
				strbuf_addstr(&c->out, "0\r\n\r\n");
			if (!c->chunked_out && !c->stream->sized)
				c->keep_alive = false;
			stream_finish(c);
			c->state = C_WRITE;
			break;
		}
	}
}

/* The response went out: close, linger, or wait for the next request. */
static int conn_done(struct conn *c)
{
	if (!c->keep_alive || stopping(c->w->srv)) {
		if (!c->linger) {
			conn_close(c);
			return -1;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = C_LINGER;
		c->in_len = 0;
		c->deadline = c->w->now + LINGER_MS;
		set_events(c, EPOLLIN);
		return -1;
	}
	if (c->out.alloc > OUT_KEEP)
		strbuf_release(&c->out);
	c->state = C_HEAD;
	c->scan = 0;
	c->deadline = c->w->now + c->w->srv->timeout_ms;
	return 0;
}

/*
 * Move the connection on as far as its input and the socket allow:
 * parse, read bodies, dispatch, send. May close (and free) c.
 */
static void conn_advance(struct conn *c)
{
	struct http_server *srv = c->w->srv;

	for (;;) {
		switch (c->state) {
		case C_HEAD: {
			size_t end, skip = 0;

			/* empty lines before a request line are ignored */
			while (skip < c->in_len &&
			       (c->in[skip] == '\r' || c->in[skip] == '\n'))
				skip++;
			if (skip)
				consume(c, skip);
			if (!c->in_len) {
				set_events(c, EPOLLIN);
				return;
			}
			end = http_head_end(c->in, c->in_len, &c->scan);
			if (end) {
				start_request(c, end);
				break;
			}
			if (c->in_len >= HTTP_MAX_HEAD) {
				if (memchr(c->in, '\n', c->in_len))
					conn_error(c, 431, "request header too large");
				else
					conn_error(c, 414, "request target too long");
				break;
			}
			set_events(c, EPOLLIN);
			return;
		}
		case C_BODY: {
			size_t take = c->in_len;

			if (take > c->body_left)
				take = (size_t)c->body_left;
			strbuf_add(&c->req->body, c->in, take);
			consume(c, take);
			c->body_left -= take;
			if (c->body_left) {
				set_events(c, EPOLLIN);
				return;
			}
			dispatch(c);
			break;
		}
		case C_CHUNK: {
			const char *msg = NULL;
			size_t used;
			unsigned st = http_chunked_decode(&c->chunk, c->in,
				c->in_len, &used, &c->req->body, srv->max_body,
				&msg);

			consume(c, used);
			if (st == 0) {
				set_events(c, EPOLLIN);
				return;
			}
			if (st == 1)
				dispatch(c);
			else
				conn_error(c, st, msg);
			break;
		}
		case C_WRITE:
		case C_STREAM: {
			int r = conn_output(c);

			if (r < 0) {
				conn_close(c);
				return;
			}
			if (!r) {
				if (c->state == C_SLEEP) {
					c->deadline = 0;
					set_events(c, EPOLLIN);
				} else {
					set_events(c, EPOLLOUT);
				}
				return;
			}
			if (conn_done(c) < 0)
				return;
			break;
		}
		case C_SLEEP:
		case C_LINGER:
			return;
		}
	}
}

/* Read and throw away (a sleeping stream's or a lingering connection's). */
static void conn_discard(struct conn *c)
{
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->lingered += (size_t)n;
	if (c->state == C_LINGER && c->lingered > LINGER_BYTES)
		conn_close(c);
}

static void conn_input(struct conn *c)
{
	ssize_t n;

	if (c->state == C_SLEEP || c->state == C_LINGER) {
		conn_discard(c);
		return;
	}
	if (c->state != C_HEAD && c->state != C_BODY && c->state != C_CHUNK)
		return;
	if (c->in_len == c->in_cap) {
		if (c->in_cap >= HTTP_MAX_HEAD) {
			conn_advance(c);   /* full: it must consume or refuse */
			return;
		}
		c->in_cap = c->in_cap ? 2 * c->in_cap : IN_INITIAL;
		c->in = xrealloc(c->in, c->in_cap);
	}
	n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_close(c);
		return;
	}
	if (!n) {
		conn_close(c);     /* gone, between requests or in the middle */
		return;
	}
	c->in_len += (size_t)n;
	if (c->state != C_HEAD)
		c->deadline = c->w->now + c->w->srv->timeout_ms;
	conn_advance(c);
}

/* ---------------------------------------------------------------- workers */

static char listen_tag, wake_tag;

/*
 * Out of descriptors (or memory): the pending connection stays in the
 * backlog and the socket stays readable, so stop watching it for a while
 * instead of spinning; resume_accept() takes it back.
 */
static void pause_accept(struct worker *w)
{
	if (w->accept_paused)
		return;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, w->srv->listen_fd, NULL);
	w->accept_paused = true;
	w->accept_resume = w->now + ACCEPT_PAUSE_MS;
}

static void resume_accept(struct worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
				  .data.ptr = &listen_tag };

	if (!w->accept_paused || w->now < w->accept_resume)
		return;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->srv->listen_fd, &ev) < 0) {
		ev.events = EPOLLIN;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->srv->listen_fd, &ev) < 0) {
			w->accept_resume = w->now + ACCEPT_PAUSE_MS;
			return;
		}
	}
	w->accept_paused = false;
}

static const char busy[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 45\r\nConnection: close\r\n\r\n"
	"{\"error\":\"too many connections\",\"status\":503}";
static const char busy_client[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 63\r\nConnection: close\r\n\r\n"
	"{\"error\":\"too many connections from your address\",\"status\":503}";

/* A connection turned away at once: its answer, best effort, then closed. */
static void refuse(int fd, const char *answer)
{
	if (send(fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it is closed either way */
	}
	close(fd);
}

static void accept_conns(struct worker *w)
{
	struct http_server *srv = w->srv;
	unsigned char key[16];
	int i;

	for (i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event ev;
		struct conn *c;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				pause_accept(w);
			return;   /* EAGAIN: another worker took it */
		}
		clients_key(&ss, key);
		if (__atomic_add_fetch(&srv->nr_conns, 1, __ATOMIC_RELAXED) >
		    srv->max_connections || stopping(srv)) {
			refuse(fd, busy);
			__atomic_sub_fetch(&srv->nr_conns, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (!clients_add(&srv->clients, key, srv->max_per_client)) {
			refuse(fd, busy_client);
			__atomic_sub_fetch(&srv->nr_conns, 1, __ATOMIC_RELAXED);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = xcalloc(1, sizeof(*c));
		c->w = w;
		c->fd = fd;
		c->file_fd = -1;
		c->state = C_HEAD;
		c->minor = 1;
		c->keep_alive = true;
		strbuf_init(&c->out, 0);
		memcpy(&c->peer, &ss, sl < sizeof(ss) ? sl : sizeof(ss));
		c->peer_len = sl;
		memcpy(c->client, key, sizeof(key));
		c->deadline = w->now + srv->timeout_ms;
		c->events = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			strbuf_release(&c->out);
			free(c);
			clients_remove(&srv->clients, key);
			__atomic_sub_fetch(&srv->nr_conns, 1, __ATOMIC_RELAXED);
			continue;
		}
		c->next = w->conns;
		if (c->next)
			c->next->prev = c;
		w->conns = c;
	}
}

/* Streams woken from other threads: send what they have now. */
static void run_wakes(struct worker *w)
{
	struct http_stream *s, *next;
	uint64_t v;

	if (read(w->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
	pthread_mutex_lock(&w->wlock);
	s = w->wakes;
	w->wakes = NULL;
	pthread_mutex_unlock(&w->wlock);
	for (; s; s = next) {
		struct conn *c;

		next = s->wnext;
		pthread_mutex_lock(&s->lock);
		c = s->finished ? NULL : s->conn;
		pthread_mutex_unlock(&s->lock);
		if (c && c->state == C_SLEEP) {
			c->state = C_STREAM;
			conn_advance(c);
		}
		http_stream_unref(s);
	}
}

/* Timeouts and heartbeats, every SCAN_MS. */
static void scan(struct worker *w)
{
	struct http_server *srv = w->srv;
	struct conn *c, *next;

	for (c = w->conns; c; c = next) {
		next = c->next;
		if (c->state == C_SLEEP) {
			struct http_stream *s = c->stream;
			bool beat = false;

			pthread_mutex_lock(&s->lock);
			if (s->suspended && s->heartbeat_len &&
			    w->now - s->idle_since >= srv->heartbeat_ms) {
				s->suspended = false;
				s->beat = true;
				beat = true;
			}
			pthread_mutex_unlock(&s->lock);
			if (beat) {
				c->state = C_STREAM;
				conn_advance(c);
			}
		} else if (c->deadline && w->now >= c->deadline) {
			conn_close(c);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_server *srv = w->srv;
	struct epoll_event evs[64];
	struct conn *c;
	sigset_t set;

	/* signals are the main thread's; EPIPE from sendfile, not SIGPIPE */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	w->now = mono_ms();
	w->next_scan = w->now + SCAN_MS;
	while (!stopping(srv)) {
		int n, i, tmo = -1;

		if (w->conns)
			tmo = w->next_scan > w->now ?
				(int)(w->next_scan - w->now) : 0;
		if (w->accept_paused && (tmo < 0 || tmo > ACCEPT_PAUSE_MS))
			tmo = ACCEPT_PAUSE_MS;
		if (w->idle_due) {
			uint64_t at = w->busy_at + HTTP_IDLE_MS;
			int t = at > w->now ? (int)(at - w->now) : 0;

			if (tmo < 0 || t < tmo)
				tmo = t;
		}
		n = epoll_wait(w->ep, evs, 64, tmo);
		w->now = mono_ms();
		if (n > 0 && srv->idle) {
			w->busy_at = w->now;
			w->idle_due = true;
		}
		for (i = 0; i < n && !stopping(srv); i++) {
			void *p = evs[i].data.ptr;

			if (p == &listen_tag) {
				accept_conns(w);
			} else if (p == &wake_tag) {
				run_wakes(w);
			} else {
				c = p;
				if (c->closed)
					continue;
				if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
				    !(evs[i].events & EPOLLIN))
					conn_close(c);
				else if (c->events & EPOLLOUT)
					conn_advance(c);
				else
					conn_input(c);
			}
		}
		resume_accept(w);
		if (w->now >= w->next_scan) {
			scan(w);
			w->next_scan = w->now + SCAN_MS;
		}
		free_closed(w);
		if (w->idle_due && w->now - w->busy_at >= HTTP_IDLE_MS &&
		    !stopping(srv)) {
			w->idle_due = false;
			srv->idle(srv->ud);
		}
	}
	/* stop: end the streams (their terminator, if it fits), close all */
	while ((c = w->conns)) {
		if (c->stream) {
			pthread_mutex_lock(&c->stream->lock);
			c->stream->ending = true;
			pthread_mutex_unlock(&c->stream->lock);
			if (c->state == C_SLEEP)
				c->state = C_STREAM;
			if (c->state == C_STREAM || c->state == C_WRITE)
				conn_output(c);
		}
		conn_close(c);
	}
	run_wakes(w);   /* drop the references queued wakes hold */
	free_closed(w);
	return NULL;
}

/* ---------------------------------------------------------------- server */

static int parse_listen(const char *addr, char **host, char **port,
			struct strbuf *err)
{
	const char *colon, *h = addr;
	size_t hlen;
	const char *p;

	*host = *port = NULL;
	if (!addr || !*addr) {
		strbuf_addstr(err, "empty listen address");
		return -1;
	}
	if (*h == '[') {
		const char *close = strchr(h, ']');

		if (!close || close[1] != ':') {
			strbuf_addf(err, "listen address %s: expected [addr]:port",
				    addr);
			return -1;
		}
		h++;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon) {
			strbuf_addf(err, "listen address %s: expected host:port",
				    addr);
			return -1;
		}
		hlen = (size_t)(colon - h);
	}
	p = colon + 1;
	if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) ||
	    atoi(p) > 65535) {
		strbuf_addf(err, "listen address %s: bad port", addr);
		return -1;
	}
	*host = hlen ? xstrndup(h, hlen) : NULL;
	*port = xstrdup(p);
	return 0;
}

/*
 * The socket addresses to try for host (NULL: every address, IPv6
 * dual-stack first, then IPv4): numeric addresses and "localhost" only,
 * so that no name service is involved (the server is linked statically).
 * Returns how many were written to ss[0..2), 0 with err set.
 */
static int listen_addrs(const char *addr, const char *host, unsigned port,
			struct sockaddr_storage ss[2], socklen_t len[2], struct strbuf *err)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss[1];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss[0];

	memset(ss, 0, 2 * sizeof(*ss));
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons((uint16_t)port);
	v6->sin6_addr = in6addr_any;
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	v4->sin_addr.s_addr = htonl(INADDR_ANY);
	len[0] = sizeof(*v6);
	len[1] = sizeof(*v4);
	if (!host)
		return 2;
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		ss[0] = ss[1];
		len[0] = len[1];
		return 1;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1)
		return 1;
	strbuf_addf(err, "listen address %s: give an IP address (127.0.0.1, [::1]), "
		    "localhost, or :PORT for every address", addr);
	return 0;
}

static int open_listener(const char *addr, unsigned *ret_port,
			 struct strbuf *err)
{
	struct sockaddr_storage ss[2];
	socklen_t len[2];
	char *host, *port;
	int fd = -1, saved = 0, n, i;

	if (parse_listen(addr, &host, &port, err) < 0)
		return -1;
	n = listen_addrs(addr, host, (unsigned)atoi(port), ss, len, err);
	if (!n)
		goto done;
	for (i = 0; i < n && fd < 0; i++) {
		int one = 1, zero = 0;

		fd = socket(ss[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* every address: one IPv6 socket for both families */
		if (ss[i].ss_family == AF_INET6 && !host)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&ss[i], len[i]) < 0 ||
		    listen(fd, SOMAXCONN) < 0) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		strbuf_addf(err, "listen on %s: %s", addr,
			    strerror(saved ? saved : EADDRNOTAVAIL));
	} else {
		struct sockaddr_storage got;
		socklen_t sl = sizeof(got);

		if (getsockname(fd, (struct sockaddr *)&got, &sl) < 0) {
			strbuf_addf(err, "listen on %s: %s", addr,
				    strerror(errno));
			close(fd);
			fd = -1;
		} else if (got.ss_family == AF_INET6) {
			*ret_port = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
		} else {
			*ret_port = ntohs(((struct sockaddr_in *)&got)->sin_port);
		}
	}
done:
	free(host);
	free(port);
	return fd;
}

static void server_free(struct http_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nr_workers; i++) {
		struct worker *w = &srv->workers[i];

		if (w->ep >= 0)
			close(w->ep);
		if (w->evfd >= 0)
			close(w->evfd);
		pthread_mutex_destroy(&w->wlock);
	}
	free(srv->workers);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	for (i = 0; i < srv->nr_routes; i++)
		free(srv->routes[i].segs);
	free(srv->routes);
	clients_free(&srv->clients);
	free(srv);
}

static int worker_init(struct http_server *srv, struct worker *w,
		       struct strbuf *err)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
				  .data.ptr = &listen_tag };

	w->srv = srv;
	w->ep = w->evfd = -1;
	pthread_mutex_init(&w->wlock, NULL);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->ep < 0 || w->evfd < 0) {
		strbuf_addf(err, "cannot create an epoll set: %s",
			    strerror(errno));
		return -1;
	}
	/* one accept path: each worker waits on the socket, one is woken */
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0) {
		ev.events = EPOLLIN;      /* kernels before 4.5 */
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0) {
			strbuf_addf(err, "epoll: %s", strerror(errno));
			return -1;
		}
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &wake_tag;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->evfd, &ev) < 0) {
		strbuf_addf(err, "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void stop_workers(struct http_server *srv)
{
	unsigned i;

	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < srv->nr_workers; i++) {
		uint64_t one = 1;

		if (srv->workers[i].evfd >= 0 &&
		    write(srv->workers[i].evfd, &one, sizeof(one)) < 0) {
			/* saturated: it is awake anyway */
		}
	}
	for (i = 0; i < srv->nr_workers; i++)
		if (srv->workers[i].started)
			pthread_join(srv->workers[i].thread, NULL);
}

int http_server_start(const struct http_config *cfg,
		      const struct http_route *routes, size_t nr, void *ud,
		      struct http_server **ret, struct strbuf *err)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	unsigned threads = cfg->threads, maxconn = cfg->max_connections;
	unsigned timeout = cfg->timeout ? cfg->timeout : HTTP_DEFAULT_TIMEOUT;
	unsigned heartbeat = cfg->heartbeat ? cfg->heartbeat :
		HTTP_DEFAULT_HEARTBEAT;
	pthread_attr_t attr;
	size_t i;

	srv->listen_fd = -1;
	srv->ud = ud;
	srv->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	srv->timeout_ms = (uint64_t)timeout * 1000;
	srv->heartbeat_ms = (uint64_t)heartbeat * 1000;
	srv->error_page = cfg->error_page;
	srv->idle = cfg->idle;
	srv->routes = xcalloc(nr ? nr : 1, sizeof(*srv->routes));
	for (i = 0; i < nr; i++) {
		if (compile_route(&routes[i], &srv->routes[i], err) < 0)
			goto fail;
		srv->nr_routes++;
	}
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (!maxconn)
		maxconn = HTTP_DEFAULT_MAX_CONNECTIONS;
	srv->max_connections = maxconn;
	srv->max_per_client = cfg->max_per_client ? cfg->max_per_client :
		HTTP_DEFAULT_MAX_PER_CLIENT;
	if (srv->max_per_client > maxconn)
		srv->max_per_client = maxconn;
	clients_init(&srv->clients, maxconn);

	srv->listen_fd = open_listener(cfg->listen, &srv->port, err);
	if (srv->listen_fd < 0)
		goto fail;
	srv->workers = xcalloc(threads, sizeof(*srv->workers));
	for (i = 0; i < threads; i++) {
		srv->nr_workers++;
		if (worker_init(srv, &srv->workers[i], err) < 0)
			goto fail;
	}
	pthread_attr_init(&attr);
	for (i = 0; i < threads; i++) {
		if (pthread_create(&srv->workers[i].thread, &attr, worker_main,
				   &srv->workers[i])) {
			strbuf_addstr(err, "cannot start the HTTP threads");
			pthread_attr_destroy(&attr);
			goto fail;
		}
		srv->workers[i].started = true;
	}
	pthread_attr_destroy(&attr);
	*ret = srv;
	return 0;
fail:
	stop_workers(srv);
	server_free(srv);
	return -1;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	stop_workers(srv);
	server_free(srv);
}
