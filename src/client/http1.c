/*
 * The API client's own HTTP/1.1 transport: one request per connection
 * ("Connection: close"), plain TCP to an IP literal or localhost. See
 * xfer.h and docs/internals/client.md ("Transports").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/xfer.h"
#include "http/parse.h"
#include "util/xalloc.h"

/* ---- the URL ---------------------------------------------------------- */

struct target {
	char host[64];          /* the address literal, brackets dropped */
	const char *authority;  /* host[:port] as written, for Host: */
	size_t authority_len;
	unsigned port;
	const char *path;       /* from the first '/', or "" */
	int localhost;
};

static int parse_target(const char *url, struct target *t)
{
	const char *a, *end, *hend, *colon = NULL;
	size_t hlen;

	memset(t, 0, sizeof(*t));
	if (strncasecmp(url, "http://", 7))
		return -1;
	a = url + 7;
	end = a + strcspn(a, "/?#");
	t->authority = a;
	t->authority_len = (size_t)(end - a);
	t->path = end;
	if (*a == '[') {
		hend = memchr(a, ']', (size_t)(end - a));
		if (!hend)
			return -1;
		hlen = (size_t)(hend - a - 1);
		if (hlen >= sizeof(t->host))
			return -1;
		memcpy(t->host, a + 1, hlen);
		hend++;
		if (hend < end && *hend != ':')
			return -1;
		colon = hend < end ? hend : NULL;
	} else {
		colon = memchr(a, ':', (size_t)(end - a));
		hend = colon ? colon : end;
		hlen = (size_t)(hend - a);
		if (!hlen || hlen >= sizeof(t->host))
			return -1;
		memcpy(t->host, a, hlen);
	}
	t->port = 80;
	if (colon) {
		const char *p = colon + 1;
		unsigned long v = 0;

		if (p == end)
			return -1;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 65535)
				return -1;
		}
		if (!v)
			return -1;
		t->port = (unsigned)v;
	}
	if (!strcasecmp(t->host, "localhost")) {
		t->localhost = 1;
		return 0;
	}
	{
		struct in6_addr a6;

		if (*a == '[' ? inet_pton(AF_INET6, t->host, &a6) != 1 :
				inet_pton(AF_INET, t->host, &a6) != 1)
			return -1;
	}
	return 0;
}

int http1_can(const char *url)
{
	struct target t;

	return parse_target(url, &t) == 0;
}

int http1_loopback(const char *url)
{
	struct target t;
	struct in6_addr a6;
	struct in_addr a4;

	if (parse_target(url, &t) < 0)
		return 0;
	if (t.localhost)
		return 1;
	if (inet_pton(AF_INET, t.host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, t.host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* ---- time ------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timed_out(struct xfer *x)
{
	snprintf(x->errbuf, sizeof(x->errbuf), "no complete answer within %ld s",
		 x->timeout);
}

/*
 * Wait for events on fd until the exchange's deadline or the stall
 * limit. Returns 0 when ready, -1 with x->errbuf set otherwise.
 */
static int wait_fd(struct xfer *x, int fd, short events, int64_t deadline,
		   long limit_s, const char *what)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int64_t ms = limit_s > 0 ? (int64_t)limit_s * 1000 : -1;
		int stall = limit_s > 0, r;

		if (deadline) {
			int64_t left = deadline - now_ms();

			if (left <= 0) {
				timed_out(x);
				return -1;
			}
			if (ms < 0 || left < ms) {
				ms = left;
				stall = 0;      /* the deadline comes first */
			}
		}
		r = poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(x->errbuf, sizeof(x->errbuf), "poll: %s", strerror(errno));
			return -1;
		}
		if (stall) {
			snprintf(x->errbuf, sizeof(x->errbuf), "%s for %ld s", what, limit_s);
			return -1;
		}
		/* the deadline's wait ran out: the next round says so */
	}
}

/* ---- connecting ------------------------------------------------------- */

static int connect_one(struct xfer *x, const struct target *t, int family,
		       const char *addr, int64_t deadline)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);
	/* connect_timeout 0: none of its own (libcurl's default is 300 s) */
	int64_t cdeadline = x->connect_timeout > 0 ?
			    now_ms() + (int64_t)x->connect_timeout * 1000 : 0;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)t->port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -1;
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)t->port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return -1;
		len = sizeof(*s6);
	}
	if (deadline && (!cdeadline || deadline < cdeadline))
		cdeadline = deadline;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (errno != EINPROGRESS) {
			snprintf(x->errbuf, sizeof(x->errbuf), "connect to %s port %u: %s",
				 t->localhost ? "localhost" : addr, t->port, strerror(errno));
			close(fd);
			return -1;
		}
		for (;;) {
			struct pollfd p = { fd, POLLOUT, 0 };
			int64_t left = cdeadline ? cdeadline - now_ms() : -1;
			int r;

			if (cdeadline && left <= 0) {
				if (cdeadline == deadline)
					timed_out(x);
				else
					snprintf(x->errbuf, sizeof(x->errbuf),
						 "connect to %s port %u: no answer within %ld s",
						 t->localhost ? "localhost" : addr, t->port,
						 x->connect_timeout);
				close(fd);
				return -1;
			}
			r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
			if (r > 0)
				break;
			if (r < 0 && errno != EINTR) {
				snprintf(x->errbuf, sizeof(x->errbuf), "poll: %s",
					 strerror(errno));
				close(fd);
				return -1;
			}
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			snprintf(x->errbuf, sizeof(x->errbuf), "connect to %s port %u: %s",
				 t->localhost ? "localhost" : addr, t->port, strerror(soerr));
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
}

static int connect_target(struct xfer *x, const struct target *t, int64_t deadline)
{
	int fd;

	if (!t->localhost)
		return connect_one(x, t, strchr(t->host, ':') ? AF_INET6 : AF_INET,
				   t->host, deadline);
	/* localhost: IPv4 first (where servers listen by default), then IPv6 */
	fd = connect_one(x, t, AF_INET, "127.0.0.1", deadline);
	if (fd < 0)
		fd = connect_one(x, t, AF_INET6, "::1", deadline);
	return fd;
}

/* ---- the response head ------------------------------------------------ */

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int http1_parse_head(const char *buf, size_t len, struct http1_resp *r,
		     const char **why)
{
	const char *p = buf, *end = buf + len, *eol;
	int saw_te = 0;

	memset(r, 0, sizeof(*r));
	/* the status line: HTTP/1.x SP 3DIGIT [SP reason] */
	eol = memchr(p, '\n', len);
	if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9' ||
	    (eol - p > 12 && p[12] != ' ' && p[12] != '\r')) {
		*why = "the answer is not HTTP/1.x";
		return -1;
	}
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	p = eol + 1;
	while (p < end) {
		const char *name = p, *colon, *v, *ve;
		size_t nlen;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		p = eol + 1;
		if (ve == name)
			break;          /* the blank line */
		if (is_ows(*name)) {
			*why = "the answer folds a header line";
			goto bad;
		}
		if (memchr(name, '\0', (size_t)(ve - name))) {
			*why = "a NUL byte in the answer's header";
			goto bad;
		}
		colon = memchr(name, ':', (size_t)(ve - name));
		if (!colon || colon == name) {
			*why = "a header line of the answer has no name";
			goto bad;
		}
		nlen = (size_t)(colon - name);
		v = colon + 1;
		while (v < ve && is_ows(*v))
			v++;
		while (ve > v && is_ows(ve[-1]))
			ve--;
		if (nlen == 17 && !strncasecmp(name, "Transfer-Encoding", 17)) {
			/* only "chunked", last; anything else we cannot decode */
			saw_te = 1;
			if (ve - v >= 7 && !strncasecmp(ve - 7, "chunked", 7) &&
			    (ve - v == 7 || is_ows(ve[-8]) || ve[-8] == ',')) {
				const char *q;

				for (q = v; q < ve - 7; q++)
					if (!is_ows(*q) && *q != ',')
						break;
				if (q < ve - 7) {
					*why = "the answer uses a transfer coding other "
					       "than chunked";
					goto bad;
				}
				r->chunked = 1;
			} else {
				*why = "the answer uses a transfer coding other than chunked";
				goto bad;
			}
		} else if (nlen == 14 && !strncasecmp(name, "Content-Length", 14)) {
			unsigned long long n = 0;
			const char *q;

			if (v == ve) {
				*why = "the answer's Content-Length is empty";
				goto bad;
			}
			for (q = v; q < ve; q++) {
				if (*q < '0' || *q > '9' || n > (UINT64_MAX - 9) / 10) {
					*why = "the answer's Content-Length is not a number";
					goto bad;
				}
				n = n * 10 + (unsigned long long)(*q - '0');
			}
			if (r->has_length && r->length != n) {
				*why = "the answer has two different Content-Lengths";
				goto bad;
			}
			r->has_length = 1;
			r->length = n;
		} else if (nlen == 8 && !strncasecmp(name, "Location", 8)) {
			free(r->location);
			r->location = xstrndup(v, (size_t)(ve - v));
		}
	}
	if (saw_te)
		r->has_length = 0;      /* chunked wins (RFC 9112 6.3) */
	r->close_delimited = !r->chunked && !r->has_length;
	return 0;
bad:
	free(r->location);
	r->location = NULL;
	return -1;
}

/* ---- the exchange ----------------------------------------------------- */

static int send_all(struct xfer *x, int fd, const char *buf, size_t len,
		    int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(x, fd, POLLOUT, deadline, x->stall_timeout,
				    "the server took no data"))
				return -1;
			continue;
		}
		snprintf(x->errbuf, sizeof(x->errbuf), "sending the request: %s",
			 strerror(n < 0 ? errno : EPIPE));
		return -1;
	}
	return 0;
}

/* Read what is there; 0 at EOF, -1 with x->errbuf on failure. */
static ssize_t recv_some(struct xfer *x, int fd, char *buf, size_t len,
			 int64_t deadline)
{
	for (;;) {
		ssize_t n;

		/* a server that never pauses must not outlast the deadline */
		if (deadline && now_ms() >= deadline) {
			timed_out(x);
			return -1;
		}
		n = recv(fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(x, fd, POLLIN, deadline, x->stall_timeout,
				    "no data from the server"))
				return -1;
			continue;
		}
		snprintf(x->errbuf, sizeof(x->errbuf), "reading the answer: %s",
			 strerror(errno));
		return -1;
	}
}

static void build_request(struct xfer *x, const struct target *t, struct strbuf *out)
{
	size_t i;

	strbuf_addf(out, "%s %s HTTP/1.1\r\nHost: %.*s\r\n"
		    "User-Agent: cidre/" CIDRE_VERSION "\r\n",
		    x->method, *t->path ? t->path : "/",
		    (int)t->authority_len, t->authority);
	for (i = 0; i < x->nr_headers; i++)
		strbuf_addf(out, "%s\r\n", x->headers[i]);
	if (x->payload)
		strbuf_addf(out, "Content-Length: %zu\r\n", x->payload_len);
	strbuf_addstr(out, "Connection: close\r\n\r\n");
	if (x->payload)
		strbuf_add(out, x->payload, x->payload_len);
}

#define READ_SIZE 65536

int xfer_http1(struct xfer *x)
{
	struct target t;
	struct strbuf req = STRBUF_INIT, in = STRBUF_INIT, body = STRBUF_INIT;
	struct http1_resp r;
	struct http_chunked ch;
	unsigned long long left = 0;
	int64_t deadline = x->timeout > 0 ? now_ms() + (int64_t)x->timeout * 1000 : 0;
	size_t scan = 0, head = 0, interim = 0;
	int fd, rc = -1;
	const char *why;

	memset(&r, 0, sizeof(r));
	memset(&ch, 0, sizeof(ch));
	if (parse_target(x->url, &t) < 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "not a URL this client reaches");
		return -1;
	}
	fd = connect_target(x, &t, deadline);
	if (fd < 0)
		return -1;
	build_request(x, &t, &req);
	if (send_all(x, fd, req.buf, req.len, deadline))
		goto out;

	/*
	 * The head, and any 1xx heads before it: together at most
	 * HTTP1_MAX_HEAD bytes, however the reads cut them.
	 */
	for (;;) {
		ssize_t n;

		head = http_head_end(in.buf, in.len, &scan);
		if (interim + (head ? head : in.len) > HTTP1_MAX_HEAD) {
			snprintf(x->errbuf, sizeof(x->errbuf),
				 "the answer's header is larger than %d KiB",
				 HTTP1_MAX_HEAD >> 10);
			goto out;
		}
		if (head) {
			if (http1_parse_head(in.buf, head, &r, &why)) {
				snprintf(x->errbuf, sizeof(x->errbuf), "%s", why);
				goto out;
			}
			if (r.status >= 200)
				break;
			if (r.status == 101) {
				snprintf(x->errbuf, sizeof(x->errbuf),
					 "the server switched protocols");
				goto out;
			}
			strbuf_remove(&in, 0, head);    /* 100 Continue, 103 ... */
			interim += head;
			free(r.location);
			r.location = NULL;
			scan = 0;
			continue;
		}
		strbuf_grow(&in, READ_SIZE);
		n = recv_some(x, fd, in.buf + in.len, READ_SIZE, deadline);
		if (n < 0)
			goto out;
		if (!n) {
			snprintf(x->errbuf, sizeof(x->errbuf), in.len ?
				 "the server closed the connection inside its answer's header" :
				 "the server closed the connection without answering");
			goto out;
		}
		strbuf_setlen(&in, in.len + (size_t)n);
	}
	x->status = r.status;
	x->location = r.location;
	r.location = NULL;
	strbuf_remove(&in, 0, head);
	if (r.status == 204 || r.status == 304 || !strcmp(x->method, "HEAD")) {
		rc = 0;
		goto out;
	}
	left = r.length;

	/* the body: in.buf holds bytes not consumed yet */
	for (;;) {
		ssize_t n;

		if (r.chunked) {
			size_t used;
			const char *msg;
			unsigned st = http_chunked_decode(&ch, in.buf, in.len, &used, &body,
							  SIZE_MAX, &msg);

			strbuf_remove(&in, 0, used);
			if (body.len) {
				if (xfer_body(x, body.buf, body.len))
					goto out;
				strbuf_reset(&body);
			}
			if (st == 1) {
				rc = 0;
				goto out;
			}
			if (st) {
				snprintf(x->errbuf, sizeof(x->errbuf),
					 "the answer's chunked body is malformed");
				goto out;
			}
		} else if (in.len) {
			size_t take = in.len;

			if (r.has_length && take > left)
				take = (size_t)left;
			if (take && xfer_body(x, in.buf, take))
				goto out;
			left -= r.has_length ? take : 0;
			strbuf_reset(&in);
		}
		if (r.has_length && !left) {
			rc = 0;
			goto out;
		}
		strbuf_grow(&in, READ_SIZE);
		n = recv_some(x, fd, in.buf + in.len, READ_SIZE, deadline);
		if (n < 0)
			goto out;
		if (!n) {
			if (r.close_delimited) {
				rc = 0;
				goto out;
			}
			snprintf(x->errbuf, sizeof(x->errbuf),
				 "the server closed the connection before the end of "
				 "its answer");
			goto out;
		}
		strbuf_setlen(&in, in.len + (size_t)n);
	}
out:
	close(fd);
	free(r.location);
	strbuf_release(&req);
	strbuf_release(&in);
	strbuf_release(&body);
	return rc;
}
