/*
 * The HTTP server layer on libmicrohttpd. See http.h for the contract and
 * docs/internals/http.md for the design (request life, stream lifetime).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http.h"
#include "util/hex.h"
#include "util/xalloc.h"

#define STREAM_BLOCK      8192
#define CONN_MEMORY_LIMIT (16 * 1024)
#define MAX_THREADS       256
#define HEARTBEAT_MAX     256
#define STOP_DRAIN_MS     2000

enum seg_kind { SEG_LIT, SEG_PARAM, SEG_WILD };

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

struct http_server {
	struct MHD_Daemon *mhd;
	int listen_fd;
	unsigned port;
	size_t max_body;
	unsigned heartbeat;
	int (*error_page)(struct http_request *req, unsigned status, const char *msg);
	void *ud;
	struct route *routes;
	size_t nr_routes;

	/* lock guards streams, stopping; ticker waits on tick */
	pthread_mutex_t lock;
	pthread_cond_t tick;
	pthread_cond_t drained;
	struct http_stream *streams;   /* live streams (free not yet run) */
	bool stopping;
	pthread_t ticker;
	bool ticker_started;
};

struct http_stream {
	/* lock guards everything below it; refs is atomic */
	unsigned refs;
	pthread_mutex_t lock;
	struct http_server *srv;
	struct MHD_Connection *conn;
	ssize_t (*read)(void *ud, uint64_t pos, char *buf, size_t max);
	void (*free)(void *ud);
	void *ud;
	char heartbeat[HEARTBEAT_MAX];
	size_t heartbeat_len;
	uint64_t pos;          /* bytes read() produced so far */
	uint64_t gen;          /* wake counter */
	time_t idle_since;     /* monotonic seconds, when suspended */
	bool suspended;        /* MHD_suspend_connection() done, no resume yet */
	bool beat;             /* send the heartbeat next */
	bool ending;           /* server stopping: end at the next read */
	bool finished;         /* free callback ran */
	struct http_stream *prev, *next;  /* srv->streams, under srv->lock */
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
	struct MHD_Connection *conn;
	const char *method;
	const struct route *route;
	bool started, responded, too_big;
	struct strbuf body;
	const char *raw_query;          /* after '?', or NULL */
	char *path;                     /* decoded path */
	struct param params[HTTP_MAX_PARAMS];
	size_t nr_params;
	struct strbuf query;            /* decoded "name\0value\0"... */
	size_t nr_query;
	bool query_parsed;
	struct header headers[HTTP_MAX_HEADERS];
	size_t nr_headers;
	char remote[INET6_ADDRSTRLEN];
	bool remote_done;
	size_t uri_len;
	char buf[];                     /* raw uri, decoded path, param values */
};

/* ---------------------------------------------------------------- utils */

/*
 * Percent-decode src[0..n) into dst (room for n + 1). '+' becomes a space
 * when plus is set. A '%' not followed by two hex digits stays. Sets
 * *nul if a NUL byte was decoded. Returns the decoded length.
 */
static size_t pct_decode(char *dst, const char *src, size_t n, bool plus,
			 bool *nul)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (src[i] == '%' && i + 2 < n &&
		    (hi = hex_value((unsigned char)src[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)src[i + 2])) >= 0) {
			dst[o] = (char)(hi * 16 + lo);
			if (!dst[o] && nul)
				*nul = true;
			o++;
			i += 2;
		} else if (plus && src[i] == '+') {
			dst[o++] = ' ';
		} else {
			dst[o++] = src[i];
		}
	}
	dst[o] = '\0';
	return o;
}

static time_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct MHD_Response *json_error_response(unsigned status,
						const char *msg)
{
	json_t *j = json_pack("{s:s, s:i}", "error", msg, "status", (int)status);
	struct MHD_Response *resp;
	char *s;

	if (!j)
		j = json_pack("{s:s, s:i}", "error", "error", "status", (int)status);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return NULL;
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(s), s,
								  free);
	if (!resp) {
		free(s);
		return NULL;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    "application/json") != MHD_YES) {
		MHD_destroy_response(resp);
		return NULL;
	}
	return resp;
}

/* Queue resp (destroyed here in every case) with the request's headers. */
static int queue(struct http_request *req, unsigned status,
		 struct MHD_Response *resp)
{
	enum MHD_Result r;
	size_t i;

	if (!resp)
		return -1;
	for (i = 0; i < req->nr_headers; i++)
		if (MHD_add_response_header(resp, req->headers[i].name,
					    req->headers[i].value) != MHD_YES) {
			MHD_destroy_response(resp);
			return -1;
		}
	r = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	if (r != MHD_YES)
		return -1;
	req->responded = true;
	return 0;
}

static int layer_error(struct http_request *req, unsigned status,
		       const char *msg)
{
	return queue(req, status, json_error_response(status, msg));
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
			seg.kind = *s == ':' ? SEG_PARAM : SEG_WILD;
			seg.text = s + 1;
			seg.len = len - 1;
			if (!seg.len) {
				strbuf_addf(err, "route %s: unnamed parameter",
					    r->pattern);
				goto fail;
			}
			if (seg.kind == SEG_WILD && s[len]) {
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
		len = sg->kind == SEG_WILD ? strlen(s) : strcspn(s, "/");
		if (!len)
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
	char *vbuf = req->buf + 2 * (req->uri_len + 1);
	struct strbuf allow = STRBUF_INIT;
	bool head = method_is(req->method, "HEAD");
	size_t i;
	int ret;

	for (i = 0; i < srv->nr_routes; i++) {
		const struct route *rt = &srv->routes[i];

		if (!match_route(rt, req->buf, NULL, vbuf))
			continue;
		if (method_is(req->method, rt->r->method) ||
		    (head && method_is(rt->r->method, "GET"))) {
			match_route(rt, req->buf, req, vbuf);
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

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_request *req;
	size_t n = strlen(uri);

	/* raw uri, decoded path, parameter values: each at most n + 1 */
	req = xcalloc(1, sizeof(*req) + 3 * (n + 1));
	req->srv = cls;
	req->conn = conn;
	strbuf_init(&req->body, 0);
	strbuf_init(&req->query, 0);
	req->uri_len = n;
	memcpy(req->buf, uri, n + 1);
	return req;
}

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

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	request_free(*con_cls);
	*con_cls = NULL;
}

/* Decode and check the path; 0, or -1 after queueing 400. */
static int parse_path(struct http_request *req)
{
	char *raw = req->buf;
	size_t rawlen = strcspn(raw, "?#");
	bool nul = false;
	const char *p;

	if (raw[rawlen] == '?') {
		req->raw_query = raw + rawlen + 1;
		raw[rawlen + 1 + strcspn(raw + rawlen + 1, "#")] = '\0';
	}
	raw[rawlen] = '\0';
	/* buf: raw uri, then the decoded path, then parameter values */
	req->path = req->buf + req->uri_len + 1;
	pct_decode(req->path, raw, rawlen, false, &nul);
	if (req->path[0] != '/')
		return path_error(req, 400, "bad request path"), -1;
	if (nul)
		return path_error(req, 400, "NUL in request path"), -1;
	for (p = req->path; p; p = strchr(p + 1, '/'))
		if (p[1] == '.' && p[2] == '.' && (p[3] == '/' || !p[3]))
			return path_error(req, 400, "'..' in request path"), -1;
	return 0;
}

static void dispatch(struct http_request *req)
{
	int ret = req->route->r->handler(req, req->srv->ud);

	if (!req->responded)
		layer_error(req, 500, ret ? "internal error" :
			    "handler sent no response");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;

	if (!req)
		return MHD_NO;
	if (!req->started) {
		const char *cl;

		req->started = true;
		req->conn = conn;
		req->method = method;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long v;

			errno = 0;
			v = strtoull(cl, &end, 10);
			if (errno || end == cl || v > srv->max_body) {
				layer_error(req, 413, "request body too large");
				return req->responded ? MHD_YES : MHD_NO;
			}
			if (v)
				strbuf_grow(&req->body, (size_t)v);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!req->too_big) {
			if (*upload_size > srv->max_body - req->body.len) {
				req->too_big = true;
				strbuf_release(&req->body);
			} else {
				strbuf_add(&req->body, upload, *upload_size);
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->responded)
		return MHD_YES;
	if (req->too_big)
		layer_error(req, 413, "request body too large");
	else if (parse_path(req) == 0 && route_request(req) == 0)
		dispatch(req);
	return req->responded ? MHD_YES : MHD_NO;
}

const char *http_request_method(const struct http_request *req)
{
	return req->method;
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
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.buf;
}

const char *http_request_remote(struct http_request *req)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (req->remote_done)
		return req->remote;
	req->remote_done = true;
	ci = MHD_get_connection_info(req->conn,
				     MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !(sa = ci->client_addr))
		return req->remote;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  req->remote, sizeof(req->remote));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr,
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

static struct MHD_Response *typed(struct MHD_Response *resp,
				  const char *content_type)
{
	if (resp && content_type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				    content_type) != MHD_YES) {
		MHD_destroy_response(resp);
		return NULL;
	}
	return resp;
}

int http_respond_data(struct http_request *req, unsigned status,
		      const char *content_type, const void *data, size_t len)
{
	if (req->responded)
		return -1;
	return queue(req, status, typed(MHD_create_response_from_buffer(
		len, (void *)data, MHD_RESPMEM_MUST_COPY), content_type));
}

int http_respond_text(struct http_request *req, unsigned status,
		      const char *text, size_t len)
{
	return http_respond_data(req, status, "text/plain; charset=utf-8",
				 text, len);
}

int http_respond_json_str(struct http_request *req, unsigned status,
			  const char *json, size_t len)
{
	return http_respond_data(req, status, "application/json", json, len);
}

int http_respond_json(struct http_request *req, unsigned status,
		      const json_t *json)
{
	char *s;
	struct MHD_Response *resp;

	if (req->responded)
		return -1;
	s = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
	if (!s)
		return -1;
	resp = MHD_create_response_from_buffer_with_free_callback(strlen(s), s,
								  free);
	if (!resp) {
		free(s);
		return -1;
	}
	return queue(req, status, typed(resp, "application/json"));
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
	struct MHD_Response *resp;
	char cr[96];

	if (req->responded) {
		close(fd);
		return -1;
	}
	range = http_request_header(req, MHD_HTTP_HEADER_RANGE);
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
	if (!len) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
		if (!resp)
			close(fd);
	}
	return queue(req, status, typed(resp, content_type));
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

/* Resume a suspended stream; s->lock held. */
static void stream_resume_locked(struct http_stream *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

void http_stream_wake(struct http_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->gen++;
	if (!s->finished)
		stream_resume_locked(s);
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

static ssize_t stream_read_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;

	for (;;) {
		uint64_t gen;
		ssize_t n;

		pthread_mutex_lock(&s->lock);
		if (s->ending) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (s->beat) {
			s->beat = false;
			if (s->heartbeat_len <= max) {
				memcpy(buf, s->heartbeat, s->heartbeat_len);
				pthread_mutex_unlock(&s->lock);
				return (ssize_t)s->heartbeat_len;
			}
		}
		gen = s->gen;
		pthread_mutex_unlock(&s->lock);

		n = s->read(s->ud, s->pos, buf, max);
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (n > 0) {
			if ((size_t)n > max)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			s->pos += (uint64_t)n;
			return n;
		}
		pthread_mutex_lock(&s->lock);
		if (s->gen == gen && !s->ending && !s->beat) {
			/* nothing now and no wake since the read: sleep */
			s->suspended = true;
			s->idle_since = mono_now();
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		pthread_mutex_unlock(&s->lock);
		/* woken while reading: read again */
	}
}

static void stream_free_cb(void *cls)
{
	struct http_stream *s = cls;
	struct http_server *srv = s->srv;

	pthread_mutex_lock(&s->lock);
	s->finished = true;
	s->suspended = false;
	pthread_mutex_unlock(&s->lock);

	pthread_mutex_lock(&srv->lock);
	if (s->prev)
		s->prev->next = s->next;
	else if (srv->streams == s)
		srv->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	if (!srv->streams)
		pthread_cond_broadcast(&srv->drained);
	pthread_mutex_unlock(&srv->lock);

	s->free(s->ud);
	http_stream_unref(s);
}

static void nop_free(void *ud)
{
}

int http_respond_stream(struct http_request *req, unsigned status,
			const char *content_type,
			const struct http_stream_ops *ops, void *ud,
			struct http_stream **ret)
{
	struct http_server *srv = req->srv;
	struct MHD_Response *resp;
	struct http_stream *s;
	size_t hb = ops->heartbeat ? strlen(ops->heartbeat) : 0;

	if (req->responded || !ops->read || hb > HEARTBEAT_MAX) {
		if (ops->free)
			ops->free(ud);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->refs = 1;
	pthread_mutex_init(&s->lock, NULL);
	s->srv = srv;
	s->conn = req->conn;
	s->read = ops->read;
	s->free = ops->free ? ops->free : nop_free;
	s->ud = ud;
	memcpy(s->heartbeat, ops->heartbeat ? ops->heartbeat : "", hb);
	s->heartbeat_len = hb;

	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
						 stream_read_cb, s,
						 stream_free_cb);
	if (!resp) {
		s->free(ud);
		http_stream_unref(s);
		return -1;
	}

	pthread_mutex_lock(&srv->lock);
	s->next = srv->streams;
	if (s->next)
		s->next->prev = s;
	srv->streams = s;
	s->ending = srv->stopping;
	pthread_mutex_unlock(&srv->lock);

	http_stream_ref(s);    /* ours until queued, then the caller's */
	if (MHD_add_response_header(resp, "Cache-Control", "no-cache") != MHD_YES ||
	    MHD_add_response_header(resp, "X-Accel-Buffering", "no") != MHD_YES) {
		MHD_destroy_response(resp);   /* runs stream_free_cb */
		http_stream_unref(s);
		return -1;
	}
	if (queue(req, status, typed(resp, content_type)) < 0) {
		http_stream_unref(s);
		return -1;
	}
	if (ret)
		*ret = s;
	else
		http_stream_unref(s);
	return 0;
}

/* The heartbeat: wake streams idle for srv->heartbeat seconds. */
static void *ticker_main(void *arg)
{
	struct http_server *srv = arg;
	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		struct timespec ts;
		struct http_stream *s;
		time_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&srv->tick, &srv->lock, &ts);
		if (srv->stopping)
			break;
		now = mono_now();
		for (s = srv->streams; s; s = s->next) {
			pthread_mutex_lock(&s->lock);
			if (s->suspended && s->heartbeat_len &&
			    now - s->idle_since >= (time_t)srv->heartbeat) {
				s->beat = true;
				stream_resume_locked(s);
			}
			pthread_mutex_unlock(&s->lock);
		}
	}
	pthread_mutex_unlock(&srv->lock);
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

static int open_listener(const char *addr, unsigned *ret_port,
			 struct strbuf *err)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char *host, *port;
	int fd = -1, rc, saved = 0;

	if (parse_listen(addr, &host, &port, err) < 0)
		return -1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		strbuf_addf(err, "listen address %s: %s", addr,
			    gai_strerror(rc));
		goto done;
	}
	/* for "every address" prefer an IPv6 dual-stack socket */
	for (int pass = 0; pass < 2 && fd < 0; pass++)
		for (ai = res; ai && fd < 0; ai = ai->ai_next) {
			int one = 1, zero = 0;

			if (!host && (pass == 0) != (ai->ai_family == AF_INET6))
				continue;
			if (host && pass)
				break;
			fd = socket(ai->ai_family, ai->ai_socktype |
				    SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
			if (fd < 0) {
				saved = errno;
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ai->ai_family == AF_INET6 && !host)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
					   sizeof(zero));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
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
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
			strbuf_addf(err, "listen on %s: %s", addr,
				    strerror(errno));
			close(fd);
			fd = -1;
		} else if (ss.ss_family == AF_INET6) {
			*ret_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			*ret_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
done:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return fd;
}

static void server_free(struct http_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nr_routes; i++)
		free(srv->routes[i].segs);
	free(srv->routes);
	pthread_mutex_destroy(&srv->lock);
	pthread_cond_destroy(&srv->tick);
	pthread_cond_destroy(&srv->drained);
	free(srv);
}

int http_server_start(const struct http_config *cfg,
		      const struct http_route *routes, size_t nr, void *ud,
		      struct http_server **ret, struct strbuf *err)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	unsigned threads = cfg->threads, maxconn = cfg->max_connections;
	unsigned timeout = cfg->timeout ? cfg->timeout : HTTP_DEFAULT_TIMEOUT;
	pthread_condattr_t ca;
	unsigned flags;
	size_t i;

	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->tick, &ca);
	pthread_cond_init(&srv->drained, &ca);
	pthread_condattr_destroy(&ca);
	srv->listen_fd = -1;
	srv->ud = ud;
	srv->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	srv->heartbeat = cfg->heartbeat ? cfg->heartbeat : HTTP_DEFAULT_HEARTBEAT;
	srv->error_page = cfg->error_page;
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
	if (maxconn < threads)
		maxconn = threads;

	srv->listen_fd = open_listener(cfg->listen, &srv->port, err);
	if (srv->listen_fd < 0)
		goto fail;

	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO;
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, threads,
		MHD_OPTION_CONNECTION_LIMIT, maxconn,
		MHD_OPTION_CONNECTION_TIMEOUT, timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_END);
	if (!srv->mhd) {
		strbuf_addf(err, "listen on %s: cannot start the HTTP daemon",
			    cfg->listen);
		goto fail;
	}
	if (pthread_create(&srv->ticker, NULL, ticker_main, srv)) {
		strbuf_addstr(err, "cannot start the heartbeat thread");
		goto fail;
	}
	srv->ticker_started = true;
	*ret = srv;
	return 0;
fail:
	if (srv->mhd) {
		MHD_stop_daemon(srv->mhd);
		srv->listen_fd = -1;   /* closed by MHD */
	}
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	server_free(srv);
	return -1;
}

unsigned http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv)
{
	struct http_stream *s;
	struct timespec ts;

	if (!srv)
		return;

	/* end every stream: none may stay suspended past MHD_stop_daemon */
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	pthread_cond_broadcast(&srv->tick);
	for (s = srv->streams; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		s->ending = true;
		stream_resume_locked(s);
		pthread_mutex_unlock(&s->lock);
	}
	/* let them finish their responses, within bounds */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += STOP_DRAIN_MS / 1000;
	while (srv->streams)
		if (pthread_cond_timedwait(&srv->drained, &srv->lock, &ts))
			break;
	pthread_mutex_unlock(&srv->lock);
	if (srv->ticker_started)
		pthread_join(srv->ticker, NULL);

	MHD_stop_daemon(srv->mhd);   /* closes the listening socket too */
	server_free(srv);
}
