/*
 * Unit tests for src/http/http.c: a server on 127.0.0.1, port 0, spoken
 * to over raw sockets. Routing, parameters, errors, limits, HEAD, Range,
 * streams (suspend, wake from another thread, client gone, server stop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "util/xalloc.h"
#include "testlib.h"

#define TIMEOUT_MS 5000

/* ------------------------------------------------------------ a client */

static int connect_to(unsigned port)
{
	struct sockaddr_in sa = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A connection to 127.0.0.1 from the loopback source address src. */
static int connect_from(unsigned port, const char *src)
{
	struct sockaddr_in sa = { 0 }, from = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	from.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

/*
 * Read into out until needle appears (needle NULL: until EOF). Returns 0,
 * or -1 on timeout / EOF before the needle.
 */
static int read_until(int fd, struct strbuf *out, const char *needle,
		      int timeout_ms)
{
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		if (needle && strstr(out->buf, needle))
			return 0;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == ECONNRESET)
			n = 0;
		if (n <= 0)
			return needle ? -1 : 0;
		strbuf_add(out, buf, (size_t)n);
	}
}

/* One request on a fresh connection, the response read until EOF. */
static void request(unsigned port, const char *req, struct strbuf *resp)
{
	int fd = connect_to(port);

	strbuf_reset(resp);
	send_all(fd, req, strlen(req));
	assert_int_equal(read_until(fd, resp, NULL, TIMEOUT_MS), 0);
	close(fd);
}

static int status_of(const struct strbuf *resp)
{
	int st = 0;

	if (sscanf(resp->buf, "HTTP/1.%*d %d", &st) != 1)
		return -1;
	return st;
}

static const char *body_of(const struct strbuf *resp)
{
	const char *p = strstr(resp->buf, "\r\n\r\n");

	return p ? p + 4 : "";
}

static void get(unsigned port, const char *path, struct strbuf *resp)
{
	struct strbuf req = STRBUF_INIT;

	strbuf_addf(&req, "GET %s HTTP/1.1\r\nHost: t\r\nX-Test: hello\r\n"
		    "Connection: close\r\n\r\n", path);
	request(port, req.buf, resp);
	strbuf_release(&req);
}

/* ------------------------------------------------------------ handlers */

static int h_echo(struct http_request *req, void *ud)
{
	json_t *j = json_object();
	const char *q;
	size_t len;
	int ret;

	json_object_set_new(j, "method", json_string(http_request_method(req)));
	json_object_set_new(j, "path", json_string(http_request_path(req)));
	if ((q = http_request_param(req, "id")))
		json_object_set_new(j, "id", json_string(q));
	if ((q = http_request_param(req, "path")))
		json_object_set_new(j, "file", json_string(q));
	if ((q = http_request_query(req, "offset")))
		json_object_set_new(j, "offset", json_string(q));
	if ((q = http_request_query(req, "x")))
		json_object_set_new(j, "x", json_string(q));
	if ((q = http_request_query(req, "flag")))
		json_object_set_new(j, "flag", json_string(q));
	if ((q = http_request_header(req, "x-TEST")))
		json_object_set_new(j, "hdr", json_string(q));
	json_object_set_new(j, "remote", json_string(http_request_remote(req)));
	http_request_body(req, &len);
	json_object_set_new(j, "body", json_integer((json_int_t)len));
	assert_int_equal(http_add_header(req, "X-Extra", "yes"), 0);
	assert_int_equal(http_add_header(req, "Bad", "a\r\nInjected: 1"), -1);
	ret = http_respond_json(req, 200, j);
	/* a second response is refused */
	assert_int_equal(http_respond_text(req, 200, "x", 1), -1);
	json_decref(j);
	return ret;
}

static int h_created(struct http_request *req, void *ud)
{
	size_t len;
	const char *body = http_request_body(req, &len);

	return http_respond_json_str(req, 201, body, len);
}

static int h_silent(struct http_request *req, void *ud)
{
	return 0;      /* forgets to respond */
}

static int h_fail(struct http_request *req, void *ud)
{
	return -1;
}

static char file_path[256];

static int h_file(struct http_request *req, void *ud)
{
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return http_respond_error(req, 404, "no file");
	return http_respond_fd(req, fd, 10, "text/plain");
}

/* A stream fed by the tests: data appended under lock, then woken. */
struct feed {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct strbuf data;
	bool ended;
	int reads, frees;
	struct http_stream *handle;
};

static struct feed feed = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, STRBUF_INIT,
	false, 0, 0, NULL,
};

static ssize_t feed_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct feed *f = ud;
	ssize_t n = 0;

	pthread_mutex_lock(&f->lock);
	f->reads++;
	if (pos < f->data.len) {
		n = (ssize_t)(f->data.len - pos < max ? f->data.len - pos : max);
		memcpy(buf, f->data.buf + pos, (size_t)n);
	} else if (f->ended) {
		n = -1;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void feed_free(void *ud)
{
	struct feed *f = ud;

	pthread_mutex_lock(&f->lock);
	f->frees++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static const struct http_stream_ops feed_ops = {
	feed_read, feed_free, ": ping\n\n",
};

static int h_stream(struct http_request *req, void *ud)
{
	struct http_stream *s;
	int ret = http_respond_stream(req, 200, "text/event-stream", &feed_ops,
				      &feed, &s);

	if (ret == 0) {
		pthread_mutex_lock(&feed.lock);
		feed.handle = s;
		pthread_cond_broadcast(&feed.cond);
		pthread_mutex_unlock(&feed.lock);
	}
	return ret;
}

static void feed_reset(void)
{
	pthread_mutex_lock(&feed.lock);
	strbuf_reset(&feed.data);
	feed.ended = false;
	feed.reads = feed.frees = 0;
	feed.handle = NULL;
	pthread_mutex_unlock(&feed.lock);
}

static void feed_add(const char *s, bool end)
{
	struct http_stream *h;

	pthread_mutex_lock(&feed.lock);
	strbuf_addstr(&feed.data, s);
	feed.ended = end;
	h = feed.handle;
	pthread_mutex_unlock(&feed.lock);
	http_stream_wake(h);
}

/* Wait until *v >= want (under feed.lock); 0, or -1 on timeout. */
static int feed_wait(int *v, int want, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&feed.lock);
	while (*v < want && ret == 0)
		if (pthread_cond_timedwait(&feed.cond, &feed.lock, &ts))
			ret = -1;
	pthread_mutex_unlock(&feed.lock);
	return ret;
}

static int feed_get(int *v)
{
	int x;

	pthread_mutex_lock(&feed.lock);
	x = *v;
	pthread_mutex_unlock(&feed.lock);
	return x;
}

static int h_bigfile(struct http_request *req, void *ud);

/*
 * A sized stream of SIZED_LEN bytes (byte i is i % 251); ?cut=N aborts
 * at N, ?short=N ends at N.
 */
#define SIZED_LEN 300000

struct sized {
	uint64_t cut, end;
	int abort;
};

static ssize_t sized_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct sized *z = ud;
	size_t i;

	if (pos >= z->end)
		return z->abort ? HTTP_STREAM_ABORT : -1;
	if (max > z->end - pos)
		max = (size_t)(z->end - pos);
	for (i = 0; i < max; i++)
		buf[i] = (char)((pos + i) % 251);
	return (ssize_t)max;
}

static const struct http_stream_ops sized_ops = { sized_read, free, NULL, 0 };

static int h_sized(struct http_request *req, void *ud)
{
	struct sized *z = xcalloc(1, sizeof(*z));
	const char *cut = http_request_query(req, "cut");
	const char *end = http_request_query(req, "short");

	z->end = SIZED_LEN;
	if (cut) {
		z->end = strtoull(cut, NULL, 10);
		z->abort = 1;
	} else if (end) {
		z->end = strtoull(end, NULL, 10);
	}
	return http_respond_stream_sized(req, 200, "application/zip", SIZED_LEN,
					 &sized_ops, z);
}

static const struct http_route routes[] = {
	{ "GET", "/api/v1/jobs/:id/log", h_echo },
	{ "GET", "/api/v1/jobs/:id/artifacts/*path", h_echo },
	{ "GET", "/site/:id/**path", h_echo },
	{ "POST", "/api/v1/jobs/:id/log", h_echo },
	{ "DELETE", "/api/v1/jobs/:id", h_echo },
	{ "POST", "/api/v1/projects", h_created },
	{ "GET", "/silent", h_silent },
	{ "GET", "/fail", h_fail },
	{ "GET", "/file", h_file },
	{ "GET", "/stream", h_stream },
	{ "GET", "/big", h_bigfile },
	{ "GET", "/sized", h_sized },
};

static struct http_server *start(unsigned heartbeat)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0", .threads = 2, .max_body = 1000,
		.max_connections = 64, .timeout = 10, .heartbeat = heartbeat,
	};
	struct http_server *srv = NULL;
	struct strbuf err = STRBUF_INIT;

	if (http_server_start(&cfg, routes, ARRAY_SIZE(routes), NULL, &srv,
			      &err))
		fail_msg("http_server_start: %s", err.buf);
	assert_true(http_server_port(srv) > 0);
	strbuf_release(&err);
	return srv;
}

/* ---------------------------------------------------------------- tests */

static int setup(void **state)
{
	*state = start(0);
	return 0;
}

static int teardown(void **state)
{
	http_server_stop(*state);
	return 0;
}

static void test_routing_params(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	const char *b;

	get(port, "/api/v1/jobs/42/log?offset=12&x=a+b%21&flag", &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(r.buf, "Content-Type: application/json"));
	assert_non_null(strstr(r.buf, "X-Extra: yes"));
	assert_null(strstr(r.buf, "Injected"));
	b = body_of(&r);
	assert_non_null(strstr(b, "\"method\":\"GET\""));
	assert_non_null(strstr(b, "\"path\":\"/api/v1/jobs/42/log\""));
	assert_non_null(strstr(b, "\"id\":\"42\""));
	assert_non_null(strstr(b, "\"offset\":\"12\""));
	assert_non_null(strstr(b, "\"x\":\"a b!\""));
	assert_non_null(strstr(b, "\"flag\":\"\""));
	assert_non_null(strstr(b, "\"hdr\":\"hello\""));
	assert_non_null(strstr(b, "\"remote\":\"127.0.0.1\""));

	/* wildcard: the rest of the path, decoded; %2F stays inside :id */
	get(port, "/api/v1/jobs/a%2Fb/artifacts/dir/sub/file%20name.txt", &r);
	assert_int_equal(status_of(&r), 200);
	b = body_of(&r);
	assert_non_null(strstr(b, "\"id\":\"a/b\""));
	assert_non_null(strstr(b, "\"file\":\"dir/sub/file name.txt\""));

	/* a wildcard needs at least one character */
	get(port, "/api/v1/jobs/7/artifacts/", &r);
	assert_int_equal(status_of(&r), 404);
	/* a parameter is one non-empty segment */
	get(port, "/api/v1/jobs//log", &r);
	assert_int_equal(status_of(&r), 404);
	/* "**name" may be empty: a trailing slash alone */
	get(port, "/site/x/", &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(body_of(&r), "\"file\":\"\""));
	get(port, "/site/x/a/b.html", &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(body_of(&r), "\"file\":\"a/b.html\""));
	get(port, "/site/x", &r);
	assert_int_equal(status_of(&r), 404);
	strbuf_release(&r);
}

static void test_errors(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;

	get(port, "/nowhere", &r);
	assert_int_equal(status_of(&r), 404);
	assert_string_equal(body_of(&r), "{\"error\":\"no such route\",\"status\":404}");

	request(port, "PUT /api/v1/jobs/1/log HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\nContent-Length: 0\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 405);
	assert_non_null(strstr(r.buf, "Allow: GET, HEAD, POST\r\n"));
	assert_non_null(strstr(body_of(&r), "\"status\":405"));

	get(port, "/silent", &r);
	assert_int_equal(status_of(&r), 500);
	assert_non_null(strstr(body_of(&r), "no response"));
	get(port, "/fail", &r);
	assert_int_equal(status_of(&r), 500);

	/* NUL and ".." are refused, however encoded */
	get(port, "/api/v1/jobs/%00/log", &r);
	assert_int_equal(status_of(&r), 400);
	get(port, "/api/v1/jobs/1/artifacts/../../etc/passwd", &r);
	assert_int_equal(status_of(&r), 400);
	get(port, "/api/v1/jobs/1/artifacts/a/%2e%2e/b", &r);
	assert_int_equal(status_of(&r), 400);
	get(port, "/api/v1/jobs/1/artifacts/a%2F..%2Fb", &r);
	assert_int_equal(status_of(&r), 400);
	/* "..." and "..x" are names, not parent directories */
	get(port, "/api/v1/jobs/1/artifacts/.../..x", &r);
	assert_int_equal(status_of(&r), 200);

	/* garbage does not crash the server */
	request(port, "\x01\x02 garbage\r\n\r\n", &r);
	request(port, "GET http://evil/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 400);
	get(port, "/api/v1/jobs/1/log", &r);
	assert_int_equal(status_of(&r), 200);
	strbuf_release(&r);
}

static void test_body_limit(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT, req = STRBUF_INIT;
	char big[1001];
	size_t i;

	request(port, "POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\nContent-Type: application/json\r\n"
		"Content-Length: 13\r\n\r\n{\"name\":\"d\"}\n", &r);
	assert_int_equal(status_of(&r), 201);
	assert_string_equal(body_of(&r), "{\"name\":\"d\"}\n");

	/* Content-Length over the cap: refused before the body is read */
	request(port, "POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\nContent-Length: 1001\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 413);
	assert_non_null(strstr(body_of(&r), "\"status\":413"));

	/* chunked, over the cap */
	memset(big, 'x', sizeof(big));
	strbuf_addstr(&req, "POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		      "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 3; i++) {
		strbuf_addf(&req, "%zx\r\n", sizeof(big));
		strbuf_add(&req, big, sizeof(big));
		strbuf_addstr(&req, "\r\n");
	}
	strbuf_addstr(&req, "0\r\n\r\n");
	request(port, req.buf, &r);
	assert_int_equal(status_of(&r), 413);

	/* exactly the cap is fine */
	strbuf_reset(&req);
	strbuf_addstr(&req, "POST /api/v1/jobs/1/log HTTP/1.1\r\nHost: t\r\n"
		      "Connection: close\r\nContent-Length: 1000\r\n\r\n");
	strbuf_add(&req, big, 1000);
	request(port, req.buf, &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(body_of(&r), "\"body\":1000"));
	strbuf_release(&req);
	strbuf_release(&r);
}

static void test_head_keepalive(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	int fd;

	request(port, "HEAD /api/v1/jobs/5/log HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(r.buf, "Content-Length: "));
	assert_string_equal(body_of(&r), "");
	/* HEAD of a route with no GET */
	request(port, "HEAD /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 405);

	/* two requests, one of them an error, on one connection */
	fd = connect_to(port);
	strbuf_reset(&r);
	send_all(fd, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 34);
	assert_int_equal(read_until(fd, &r, "\"status\":404}", TIMEOUT_MS), 0);
	send_all(fd, "GET /api/v1/jobs/9/log HTTP/1.1\r\nHost: t\r\n\r\n", 44);
	assert_int_equal(read_until(fd, &r, "\"id\":\"9\"", TIMEOUT_MS), 0);
	close(fd);
	strbuf_release(&r);
}

static void test_range(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	char dir[256];
	char *path;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-http"), 0);
	path = test_write_file(dir, "log", "0123456789", 10);
	snprintf(file_path, sizeof(file_path), "%s", path);
	free(path);

#define RANGE(h) "GET /file HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" h "\r\n"
	request(port, RANGE(""), &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(r.buf, "Accept-Ranges: bytes"));
	assert_string_equal(body_of(&r), "0123456789");

	request(port, RANGE("Range: bytes=2-5\r\n"), &r);
	assert_int_equal(status_of(&r), 206);
	assert_non_null(strstr(r.buf, "Content-Range: bytes 2-5/10\r\n"));
	assert_string_equal(body_of(&r), "2345");

	request(port, RANGE("Range: bytes=7-\r\n"), &r);
	assert_int_equal(status_of(&r), 206);
	assert_non_null(strstr(r.buf, "Content-Range: bytes 7-9/10\r\n"));
	assert_string_equal(body_of(&r), "789");

	request(port, RANGE("Range: bytes=-3\r\n"), &r);
	assert_int_equal(status_of(&r), 206);
	assert_string_equal(body_of(&r), "789");

	request(port, RANGE("Range: bytes=8-100\r\n"), &r);
	assert_int_equal(status_of(&r), 206);
	assert_string_equal(body_of(&r), "89");

	request(port, RANGE("Range: bytes=10-\r\n"), &r);
	assert_int_equal(status_of(&r), 416);
	assert_non_null(strstr(r.buf, "Content-Range: bytes */10\r\n"));
	assert_non_null(strstr(body_of(&r), "\"status\":416"));

	/* malformed or several ranges: the whole file */
	request(port, RANGE("Range: bytes=5-2\r\n"), &r);
	assert_int_equal(status_of(&r), 200);
	request(port, RANGE("Range: bytes=0-1,4-5\r\n"), &r);
	assert_int_equal(status_of(&r), 200);
	assert_string_equal(body_of(&r), "0123456789");
	request(port, RANGE("Range: items=1-2\r\n"), &r);
	assert_int_equal(status_of(&r), 200);
	request(port, RANGE("Range: bytes=99999999999999999999999-\r\n"), &r);
	assert_int_equal(status_of(&r), 200);
#undef RANGE
	test_rmtree(dir);
	strbuf_release(&r);
}

static const char stream_req[] =
	"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/* Open a stream and wait for the first message. */
static int open_stream(unsigned port, struct strbuf *r)
{
	int fd;

	feed_reset();
	feed_add("data: one\n\n", false);
	fd = connect_to(port);
	strbuf_reset(r);
	send_all(fd, stream_req, sizeof(stream_req) - 1);
	assert_int_equal(read_until(fd, r, "data: one\n\n", TIMEOUT_MS), 0);
	assert_non_null(strstr(r->buf, "Content-Type: text/event-stream"));
	assert_non_null(strstr(r->buf, "Cache-Control: no-cache"));
	assert_int_equal(feed_wait(&feed.reads, 2, TIMEOUT_MS), 0);
	return fd;
}

static void test_stream_wake(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	struct pollfd pfd;
	int fd = open_stream(port, &r), reads;

	/* read returned 0: the connection sleeps, read is not polled */
	reads = feed_get(&feed.reads);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);
	assert_int_equal(feed_get(&feed.reads), reads);

	/* a wake from this thread (not a server thread) resumes it */
	feed_add("data: two\n\n", false);
	assert_int_equal(read_until(fd, &r, "data: two\n\n", TIMEOUT_MS), 0);
	feed_add("data: three\n\n", true);
	assert_int_equal(read_until(fd, &r, "data: three\n\n\r\n0\r\n\r\n", TIMEOUT_MS), 0);
	assert_int_equal(feed_wait(&feed.frees, 1, TIMEOUT_MS), 0);
	assert_int_equal(http_stream_finished(feed.handle), 1);
	/* wake after the end: harmless */
	http_stream_wake(feed.handle);
	assert_int_equal(feed_get(&feed.frees), 1);
	http_stream_unref(feed.handle);
	close(fd);
	strbuf_release(&r);
}

struct producer {
	int n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char msg[64];
	int i;

	for (i = 0; i < p->n; i++) {
		snprintf(msg, sizeof(msg), "data: %d\n\n", i);
		feed_add(msg, i == p->n - 1);
	}
	return NULL;
}

/* Many wakes racing with reads and sleeps: none is lost. */
static void test_stream_wake_race(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	struct producer p = { 2000 };
	pthread_t th;
	int fd = open_stream(port, &r);

	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	assert_int_equal(read_until(fd, &r, "data: 1999\n\n", TIMEOUT_MS), 0);
	assert_int_equal(read_until(fd, &r, "\r\n0\r\n\r\n", TIMEOUT_MS), 0);
	pthread_join(th, NULL);
	assert_int_equal(feed_wait(&feed.frees, 1, TIMEOUT_MS), 0);
	http_stream_unref(feed.handle);
	close(fd);
	strbuf_release(&r);
}

/* The client goes away while the stream sleeps: free runs once. */
static void test_stream_disconnect(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	int fd = open_stream(port, &r), i;

	close(fd);
	/* noticed at the next write: keep producing until it is */
	for (i = 0; i < 200 && feed_get(&feed.frees) == 0; i++) {
		feed_add("data: more\n\n", false);
		feed_wait(&feed.frees, 1, 50);
	}
	assert_int_equal(feed_get(&feed.frees), 1);
	assert_int_equal(http_stream_finished(feed.handle), 1);
	http_stream_wake(feed.handle);
	http_stream_wake(feed.handle);
	assert_int_equal(feed_get(&feed.frees), 1);
	http_stream_unref(feed.handle);
	strbuf_release(&r);
}

/* An idle stream gets its heartbeat; a gone client is noticed by it. */
static void test_stream_heartbeat(void **state)
{
	struct http_server *srv = start(1);
	struct strbuf r = STRBUF_INIT;
	int fd = open_stream(http_server_port(srv), &r);

	assert_int_equal(read_until(fd, &r, ": ping\n\n", TIMEOUT_MS), 0);
	close(fd);
	assert_int_equal(feed_wait(&feed.frees, 1, TIMEOUT_MS), 0);
	http_stream_unref(feed.handle);
	http_server_stop(srv);
	strbuf_release(&r);
}

/* Stop with an idle connection and a sleeping stream open. */
static void test_stop_with_connections(void **state)
{
	struct http_server *srv = start(0);
	unsigned port = http_server_port(srv);
	struct strbuf r = STRBUF_INIT, r2 = STRBUF_INIT;
	int idle = connect_to(port), fd = open_stream(port, &r);
	struct http_stream *h = feed.handle;

	/* half a request on another connection */
	send_all(idle, "GET /api/v1/jobs/1/log HTTP/1.1\r\n", 33);
	http_server_stop(srv);
	assert_int_equal(feed_get(&feed.frees), 1);
	assert_int_equal(http_stream_finished(h), 1);
	http_stream_wake(h);    /* the server is gone; the handle is not */
	http_stream_unref(h);
	/* both connections see the end */
	assert_int_equal(read_until(fd, &r, NULL, TIMEOUT_MS), 0);
	assert_int_equal(read_until(idle, &r2, NULL, TIMEOUT_MS), 0);
	close(fd);
	close(idle);
	strbuf_release(&r);
	strbuf_release(&r2);
}

/* ------------------------------------------------- the protocol itself */

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Read one response off a keep-alive connection (head + Content-Length). */
static void read_response(int fd, struct strbuf *r)
{
	const char *cl;
	size_t head, want;

	strbuf_reset(r);
	assert_int_equal(read_until(fd, r, "\r\n\r\n", TIMEOUT_MS), 0);
	head = (size_t)(strstr(r->buf, "\r\n\r\n") + 4 - r->buf);
	cl = strstr(r->buf, "Content-Length: ");
	assert_non_null(cl);
	want = head + strtoul(cl + 16, NULL, 10);
	while (r->len < want) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		assert_true(poll(&pfd, 1, TIMEOUT_MS) > 0);
		n = read(fd, buf, want - r->len < sizeof(buf) ?
			 want - r->len : sizeof(buf));
		assert_true(n > 0);
		strbuf_add(r, buf, (size_t)n);
	}
}

static void test_pipelining(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	const char *a, *b, *c;
	static const char reqs[] =
		"GET /api/v1/jobs/1/log HTTP/1.1\r\nHost: t\r\n\r\n"
		"POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		"Content-Length: 12\r\n\r\n{\"name\":\"p\"}"
		"\r\n"       /* a stray empty line between requests is ignored */
		"GET /api/v1/jobs/3/log?x=%41+b HTTP/1.1\r\nHost: t\r\n"
		"Connection: close\r\n\r\n";
	int fd = connect_to(port);

	/* three requests in one write: three answers, in order, then close */
	send_all(fd, reqs, sizeof(reqs) - 1);
	assert_int_equal(read_until(fd, &r, NULL, TIMEOUT_MS), 0);
	close(fd);
	a = strstr(r.buf, "\"id\":\"1\"");
	b = strstr(r.buf, "{\"name\":\"p\"}");
	c = strstr(r.buf, "\"id\":\"3\"");
	assert_true(a && b && c && a < b && b < c);
	assert_non_null(strstr(c, "\"x\":\"A b\""));
	assert_non_null(strstr(b, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.buf, "Connection: close\r\n"));

	/* keep-alive: the same connection serves request after request */
	fd = connect_to(port);
	for (int i = 0; i < 50; i++) {
		char req[128], want[32];
		int n = snprintf(req, sizeof(req), "GET /api/v1/jobs/%d/log "
				 "HTTP/1.1\r\nHost: t\r\n\r\n", i);

		send_all(fd, req, (size_t)n);
		read_response(fd, &r);
		snprintf(want, sizeof(want), "\"id\":\"%d\"", i);
		assert_non_null(strstr(r.buf, want));
		assert_null(strstr(r.buf, "Connection: close"));
	}
	close(fd);
	strbuf_release(&r);
}

static void test_http10(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	int fd;

	/* HTTP/1.0 closes after the response unless asked to keep alive */
	request(port, "GET /api/v1/jobs/7/log HTTP/1.0\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(r.buf, "\"id\":\"7\""));

	fd = connect_to(port);
	send_str(fd, "GET /api/v1/jobs/8/log HTTP/1.0\r\n"
		 "Connection: keep-alive\r\n\r\n");
	read_response(fd, &r);
	assert_non_null(strstr(r.buf, "Connection: keep-alive\r\n"));
	send_str(fd, "GET /api/v1/jobs/9/log HTTP/1.0\r\n\r\n");
	strbuf_reset(&r);
	assert_int_equal(read_until(fd, &r, NULL, TIMEOUT_MS), 0);
	assert_non_null(strstr(r.buf, "\"id\":\"9\""));
	close(fd);

	/* an HTTP/1.0 stream is not chunked: it ends with the connection */
	feed_reset();
	feed_add("data: old\n\n", true);
	request(port, "GET /stream HTTP/1.0\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 200);
	assert_null(strstr(r.buf, "chunked"));
	assert_string_equal(body_of(&r), "data: old\n\n");
	assert_int_equal(feed_wait(&feed.frees, 1, TIMEOUT_MS), 0);
	http_stream_unref(feed.handle);
	strbuf_release(&r);
}

/* Requests the parser refuses: the status, a JSON error, then close. */
static void test_bad_requests(void **state)
{
	static const struct {
		int status;
		const char *req;
	} cases[] = {
		{ 400, "GARBAGE\r\n\r\n" },
		{ 400, "GET\r\n\r\n" },
		{ 400, "GET  / HTTP/1.1\r\n\r\n" },
		{ 400, "GET / HTTP/1.1 x\r\n\r\n" },
		{ 400, "G(T / HTTP/1.1\r\n\r\n" },
		{ 400, "GET / FOO/1.1\r\n\r\n" },
		{ 400, "GET /a\x01 HTTP/1.1\r\n\r\n" },
		{ 505, "GET / HTTP/2.0\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nBad name: x\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nHost : t\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n" },
		{ 400, "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\nContent-Length: x\r\n\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\nContent-Length: -1\r\n\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\nContent-Length: 1\r\n"
		       "Content-Length: 2\r\n\r\nab" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\nContent-Length: 3\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
		{ 501, "POST /api/v1/projects HTTP/1.1\r\n"
		       "Transfer-Encoding: gzip\r\n\r\n" },
		{ 417, "POST /api/v1/projects HTTP/1.1\r\nExpect: magic\r\n\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\nzz\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n\r\n" },
		{ 400, "POST /api/v1/projects HTTP/1.1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n" },
		/* the path: bad escapes, a NUL, not absolute */
		{ 400, "GET /api/v1/jobs/%zz/log HTTP/1.1\r\n"
		       "Connection: close\r\n\r\n" },
		{ 400, "GET /api/v1/jobs/1%/log HTTP/1.1\r\n"
		       "Connection: close\r\n\r\n" },
		{ 400, "GET /api/v1/jobs/%00/log HTTP/1.1\r\n"
		       "Connection: close\r\n\r\n" },
		{ 400, "GET http://x/ HTTP/1.1\r\nConnection: close\r\n\r\n" },
	};
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		request(port, cases[i].req, &r);
		if (status_of(&r) != cases[i].status)
			fail_msg("case %zu: %s: got %d, want %d", i,
				 cases[i].req, status_of(&r), cases[i].status);
		assert_non_null(strstr(body_of(&r), "\"error\":"));
	}
	strbuf_release(&r);
}

static void test_huge_head(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT, req = STRBUF_INIT;
	int i;

	/* a target longer than the head's cap */
	strbuf_addstr(&req, "GET /");
	for (i = 0; i < 20000; i++)
		strbuf_addch(&req, 'a');
	strbuf_addstr(&req, " HTTP/1.1\r\n\r\n");
	request(port, req.buf, &r);
	assert_int_equal(status_of(&r), 414);

	/* header fields longer than the cap */
	strbuf_reset(&req);
	strbuf_addstr(&req, "GET /api/v1/jobs/1/log HTTP/1.1\r\n");
	for (i = 0; i < 400; i++)
		strbuf_addf(&req, "X-Filler-%d: %040d\r\n", i, i);
	strbuf_addstr(&req, "\r\n");
	request(port, req.buf, &r);
	assert_int_equal(status_of(&r), 431);

	/* too many fields, though short */
	strbuf_reset(&req);
	strbuf_addstr(&req, "GET /api/v1/jobs/1/log HTTP/1.1\r\n");
	for (i = 0; i < 100; i++)
		strbuf_addf(&req, "X%d: y\r\n", i);
	strbuf_addstr(&req, "\r\n");
	request(port, req.buf, &r);
	assert_int_equal(status_of(&r), 431);
	strbuf_release(&req);
	strbuf_release(&r);
}

static void test_chunked_and_continue(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	static const char *const parts[] = {
		"POST /api/v1/jobs/1/log HTTP/1.1\r\nHost: t\r\n"
		"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		"5;ext=1\r\nhel", "lo\r\n", "A\r\n0123456789\r\n", "0\r\n",
		"Trailer: x\r\n", "\r\n",
	};
	size_t i;
	int fd = connect_to(port);

	/* a chunked body arriving in pieces, with an extension and a trailer */
	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		send_all(fd, parts[i], strlen(parts[i]));
		if (i + 1 < ARRAY_SIZE(parts))   /* no answer before the end */
			assert_int_equal(poll(&pfd, 1, 20), 0);
	}
	assert_int_equal(read_until(fd, &r, NULL, TIMEOUT_MS), 0);
	close(fd);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(body_of(&r), "\"body\":15"));

	/* Expect: 100-continue: the interim answer, then the body */
	fd = connect_to(port);
	strbuf_reset(&r);
	send_str(fd, "POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		 "Expect: 100-continue\r\nConnection: close\r\n"
		 "Content-Length: 5\r\n\r\n");
	assert_int_equal(read_until(fd, &r, "HTTP/1.1 100 Continue\r\n\r\n",
				    TIMEOUT_MS), 0);
	send_str(fd, "[1,2]");
	assert_int_equal(read_until(fd, &r, NULL, TIMEOUT_MS), 0);
	assert_non_null(strstr(r.buf, "HTTP/1.1 201 "));
	assert_non_null(strstr(r.buf, "\r\n\r\n[1,2]"));
	close(fd);

	/* over the cap with Expect: 413 at once, no 100 */
	request(port, "POST /api/v1/projects HTTP/1.1\r\nHost: t\r\n"
		"Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n", &r);
	assert_int_equal(status_of(&r), 413);
	assert_null(strstr(r.buf, "100 Continue"));
	strbuf_release(&r);
}

/* The body after the head, checked against its Content-Length. */
static void assert_whole_body(const struct strbuf *r)
{
	const char *cl = strstr(r->buf, "Content-Length: "), *body = strstr(r->buf, "\r\n\r\n");

	assert_non_null(cl);
	assert_non_null(body);
	assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body + 4));
}


static struct http_server *start_cfg(unsigned timeout, unsigned maxconn)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0", .threads = 2, .max_body = 1000,
		.max_connections = maxconn, .timeout = timeout,
	};
	struct http_server *srv = NULL;
	struct strbuf err = STRBUF_INIT;

	if (http_server_start(&cfg, routes, ARRAY_SIZE(routes), NULL, &srv,
			      &err))
		fail_msg("http_server_start: %s", err.buf);
	strbuf_release(&err);
	return srv;
}

/* Half a request, then nothing: closed at the timeout; others are served. */
static void test_slow_client(void **state)
{
	struct http_server *srv = start_cfg(1, 0);
	unsigned port = http_server_port(srv);
	struct strbuf r = STRBUF_INIT;
	int slow = connect_to(port), trickle = connect_to(port), i;

	send_str(slow, "GET /api/v1/jobs/1/log HTTP/1.1\r\nHost:");
	/* meanwhile the server answers others */
	for (i = 0; i < 5; i++) {
		get(port, "/api/v1/jobs/2/log", &r);
		assert_int_equal(status_of(&r), 200);
	}
	/* a byte now and then does not extend the head's deadline */
	for (i = 0; i < 6; i++) {
		struct pollfd pfd = { trickle, POLLIN, 0 };

		if (send(trickle, "X", 1, MSG_NOSIGNAL) != 1 ||
		    poll(&pfd, 1, 400) > 0)
			break;
	}
	assert_true(i < 6);
	strbuf_reset(&r);
	assert_int_equal(read_until(slow, &r, NULL, TIMEOUT_MS), 0);
	assert_int_equal(r.len, 0);      /* closed without an answer */
	strbuf_reset(&r);
	assert_int_equal(read_until(trickle, &r, NULL, TIMEOUT_MS), 0);
	close(slow);
	close(trickle);
	http_server_stop(srv);
	strbuf_release(&r);
}

/* Wait until the server has seen a connection go: a GET is served again. */
static void wait_for_room(unsigned port, struct strbuf *r)
{
	int i;

	for (i = 0; i < 100; i++) {
		get(port, "/api/v1/jobs/3/log", r);
		if (status_of(r) == 200)
			break;
		poll(NULL, 0, 20);
	}
	assert_int_equal(status_of(r), 200);
}

/* A connection (from src, or 127.0.0.1 when NULL) that has been served once. */
static int served_conn(unsigned port, const char *src, struct strbuf *r)
{
	int fd = src ? connect_from(port, src) : connect_to(port);

	send_str(fd, "GET /api/v1/jobs/1/log HTTP/1.1\r\n\r\n");
	read_response(fd, r);
	assert_int_equal(status_of(r), 200);
	return fd;
}

static void test_max_connections(void **state)
{
	struct http_server *srv = start_cfg(10, 4);
	unsigned port = http_server_port(srv);
	struct strbuf r = STRBUF_INIT;
	int fds[4], extra, i;

	for (i = 0; i < 4; i++) {
		fds[i] = connect_to(port);
		send_str(fds[i], "GET /api/v1/jobs/1/log HTTP/1.1\r\n\r\n");
		read_response(fds[i], &r);
	}
	/* the fifth: 503 and closed */
	extra = connect_to(port);
	strbuf_reset(&r);
	assert_int_equal(read_until(extra, &r, NULL, TIMEOUT_MS), 0);
	assert_int_equal(status_of(&r), 503);
	assert_whole_body(&r);
	close(extra);
	/* the four still work */
	for (i = 0; i < 4; i++) {
		send_str(fds[i], "GET /api/v1/jobs/2/log HTTP/1.1\r\n\r\n");
		read_response(fds[i], &r);
		assert_int_equal(status_of(&r), 200);
	}
	/* one leaves: room for another (once the server has seen it go) */
	close(fds[0]);
	wait_for_room(port, &r);
	for (i = 1; i < 4; i++)
		close(fds[i]);
	http_server_stop(srv);
	strbuf_release(&r);
}

/*
 * Per client address: the third connection from 127.0.0.1 is turned
 * away while another address still gets in; one leaving makes room.
 */
static void test_max_per_client(void **state)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0", .threads = 2, .max_body = 1000,
		.max_connections = 8, .max_per_client = 2, .timeout = 10,
	};
	struct http_server *srv = NULL;
	struct strbuf r = STRBUF_INIT, err = STRBUF_INIT;
	unsigned port;
	int fds[2], other[2], extra, i;

	assert_int_equal(http_server_start(&cfg, routes, ARRAY_SIZE(routes), NULL,
					   &srv, &err), 0);
	port = http_server_port(srv);
	for (i = 0; i < 2; i++)
		fds[i] = served_conn(port, NULL, &r);
	extra = connect_to(port);
	strbuf_reset(&r);
	assert_int_equal(read_until(extra, &r, NULL, TIMEOUT_MS), 0);
	assert_int_equal(status_of(&r), 503);
	assert_non_null(strstr(r.buf, "too many connections from your address"));
	assert_whole_body(&r);
	close(extra);
	/* another address is served meanwhile, up to its own two */
	for (i = 0; i < 2; i++)
		other[i] = served_conn(port, "127.0.0.2", &r);
	/* one of the first leaves: room for 127.0.0.1 again */
	close(fds[0]);
	wait_for_room(port, &r);
	close(fds[1]);
	for (i = 0; i < 2; i++)
		close(other[i]);
	http_server_stop(srv);
	strbuf_release(&r);
	strbuf_release(&err);
}

/*
 * Many addresses (the table's runs and their deletions): 30 clients
 * with two connections each, the third refused; all closed in a
 * scrambled order; then each gets exactly two again.
 */
static void test_per_client_many(void **state)
{
	struct http_config cfg = {
		.listen = "127.0.0.1:0", .threads = 2, .max_body = 1000,
		.max_connections = 64, .max_per_client = 2, .timeout = 10,
	};
	struct http_server *srv = NULL;
	struct strbuf r = STRBUF_INIT, err = STRBUF_INIT;
	unsigned port;
	int fds[30][2], round, a, k;
	char src[32];

	assert_int_equal(http_server_start(&cfg, routes, ARRAY_SIZE(routes), NULL,
					   &srv, &err), 0);
	port = http_server_port(srv);
	for (round = 0; round < 2; round++) {
		for (a = 0; a < 30; a++) {
			int extra;

			snprintf(src, sizeof(src), "127.0.0.%d", a + 2);
			for (k = 0; k < 2; k++) {
				int tries = 0;

				/* a refusal comes at once; in round 2 the old ones may still be going */
				for (;;) {
					fds[a][k] = connect_from(port, src);
					strbuf_reset(&r);
					if (read_until(fds[a][k], &r, NULL, 20) < 0)
						break;
					assert_int_equal(status_of(&r), 503);
					assert_true(round && ++tries < 100);
					close(fds[a][k]);
					poll(NULL, 0, 20);
				}
				send_str(fds[a][k], "GET /api/v1/jobs/1/log HTTP/1.1\r\n\r\n");
				read_response(fds[a][k], &r);
				assert_int_equal(status_of(&r), 200);
			}
			extra = connect_from(port, src);
			strbuf_reset(&r);
			assert_int_equal(read_until(extra, &r, NULL, TIMEOUT_MS), 0);
			assert_int_equal(status_of(&r), 503);
			close(extra);
		}
		/* every 7th, cyclically: a scrambled order */
		for (a = 0, k = 0; k < 60; k++, a = (a + 7) % 60) {
			send_str(fds[a / 2][a % 2], "GET /api/v1/jobs/1/log HTTP/1.1\r\n"
				 "Connection: close\r\n\r\n");
			strbuf_reset(&r);
			assert_int_equal(read_until(fds[a / 2][a % 2], &r, NULL, TIMEOUT_MS), 0);
			close(fds[a / 2][a % 2]);
		}
		poll(NULL, 0, 300);   /* the server sees them go */
	}
	http_server_stop(srv);
	strbuf_release(&r);
	strbuf_release(&err);
}

static char big_path[256];
static uint64_t big_size;

static int h_bigfile(struct http_request *req, void *ud)
{
	int fd = open(big_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return http_respond_error(req, 404, "no file");
	return http_respond_fd(req, fd, big_size, "application/octet-stream");
}

/* A 64 MiB file goes out whole and by range, by sendfile. */
static void test_big_file(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	char dir[256];
	char *path;
	int fd, i;
	uint64_t got = 0;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-http"), 0);
	path = test_write_file(dir, "big", "head", 4);
	snprintf(big_path, sizeof(big_path), "%s", path);
	free(path);
	big_size = 64ull << 20;
	assert_int_equal(truncate(big_path, (off_t)big_size), 0);

	fd = connect_to(port);
	send_str(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(read_until(fd, &r, "\r\n\r\n", TIMEOUT_MS), 0);
	assert_non_null(strstr(r.buf, "Content-Length: 67108864\r\n"));
	got = r.len - (size_t)(strstr(r.buf, "\r\n\r\n") + 4 - r.buf);
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[65536];
		ssize_t n;

		if (got >= big_size)
			break;
		assert_true(poll(&pfd, 1, TIMEOUT_MS) > 0);
		n = read(fd, buf, sizeof(buf));
		assert_true(n > 0);
		got += (uint64_t)n;
	}
	assert_true(got == big_size);
	/* the same connection goes on: a range near the end */
	send_str(fd, "GET /big HTTP/1.1\r\nHost: t\r\nRange: bytes=-3\r\n\r\n");
	read_response(fd, &r);
	assert_int_equal(status_of(&r), 206);
	assert_non_null(strstr(r.buf, "Content-Range: bytes 67108861-67108863/67108864"));
	for (i = 0; i < 3; i++)
		assert_int_equal(body_of(&r)[i], 0);
	close(fd);
	test_rmtree(dir);
	strbuf_release(&r);
}

/*
 * A sized stream: Content-Length, the bytes, the connection kept; one
 * that breaks or ends short is cut (closed short of its length).
 */
static void test_sized_stream(void **state)
{
	unsigned port = http_server_port(*state);
	struct strbuf r = STRBUF_INIT;
	const char *body;
	size_t i;
	int fd;

	fd = connect_to(port);
	send_str(fd, "GET /sized HTTP/1.1\r\nHost: t\r\n\r\n");
	read_response(fd, &r);
	assert_int_equal(status_of(&r), 200);
	assert_non_null(strstr(r.buf, "Content-Length: 300000\r\n"));
	assert_null(strstr(r.buf, "Transfer-Encoding"));
	body = body_of(&r);
	assert_int_equal(r.len - (size_t)(body - r.buf), SIZED_LEN);
	for (i = 0; i < SIZED_LEN; i++)
		if ((unsigned char)body[i] != i % 251)
			fail_msg("byte %zu is %d", i, body[i]);
	send_str(fd, "GET /api/v1/jobs/9/log HTTP/1.1\r\nHost: t\r\n\r\n");
	strbuf_reset(&r);
	assert_int_equal(read_until(fd, &r, "\"id\":\"9\"", TIMEOUT_MS), 0);
	close(fd);

	request(port, "GET /sized?cut=100000 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	assert_non_null(strstr(r.buf, "Content-Length: 300000\r\n"));
	assert_true(r.len - (size_t)(body_of(&r) - r.buf) <= 100000);
	request(port, "GET /sized?short=5 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
	assert_int_equal(r.len - (size_t)(body_of(&r) - r.buf), 5);
	request(port, "HEAD /sized HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
	assert_non_null(strstr(r.buf, "Content-Length: 300000\r\n"));
	assert_string_equal(body_of(&r), "");
	strbuf_release(&r);
}

/* Stop while streams are stuck on a client that does not read. */
static void test_stop_with_busy_streams(void **state)
{
	struct http_server *srv = start(0);
	unsigned port = http_server_port(srv);
	struct strbuf r = STRBUF_INIT, lots = STRBUF_INIT;
	int fd = open_stream(port, &r), i;
	struct http_stream *h = feed.handle;

	for (i = 0; i < 4096; i++)
		strbuf_addstr(&lots, "data: 0123456789012345678901234567890123456789"
			      "012345678901234567890123456789012345678901234567890123456789\n\n");
	feed_add(lots.buf, false);     /* ~440 KB the client never reads */
	http_server_stop(srv);
	assert_int_equal(feed_get(&feed.frees), 1);
	assert_int_equal(http_stream_finished(h), 1);
	http_stream_unref(h);
	close(fd);
	strbuf_release(&r);
	strbuf_release(&lots);
}

static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

static void test_start_errors(void **state)
{
	static const struct http_route bad_routes[][1] = {
		{ { "GET", "nope", h_echo } },
		{ { "GET", "/a/*rest/b", h_echo } },
		{ { "GET", "/a//b", h_echo } },
		{ { "GET", "/a/:", h_echo } },
		{ { "GET", "/a/**", h_echo } },
		{ { "GET", "/a/**x/b", h_echo } },
		{ { NULL, "/a", h_echo } },
		{ { "GET", "/a/:1/:2/:3/:4/:5/:6/:7/:8/:9", h_echo } },
	};
	static const char *const bad_listen[] = {
		"", "8080", "127.0.0.1:", "127.0.0.1:65536", "[::1]8080",
		"127.0.0.1:80x", "256.1.1.1:0",
	};
	struct http_config cfg = { .listen = "127.0.0.1:0" };
	struct http_server *srv = NULL;
	struct strbuf err = STRBUF_INIT;
	int fds = count_fds();
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_routes); i++) {
		strbuf_reset(&err);
		assert_int_equal(http_server_start(&cfg, bad_routes[i], 1, NULL,
						   &srv, &err), -1);
		assert_true(err.len > 0);
		assert_null(srv);
	}
	for (i = 0; i < ARRAY_SIZE(bad_listen); i++) {
		cfg.listen = bad_listen[i];
		strbuf_reset(&err);
		assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &srv,
						   &err), -1);
		assert_true(err.len > 0);
	}
	/* the port is taken */
	cfg.listen = "127.0.0.1:0";
	assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &srv, &err), 0);
	{
		struct http_server *srv2 = NULL;
		char addr[64];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", http_server_port(srv));
		cfg.listen = addr;
		strbuf_reset(&err);
		assert_int_equal(http_server_start(&cfg, routes, 1, NULL, &srv2,
						   &err), -1);
		assert_non_null(strstr(err.buf, "in use"));
	}
	http_server_stop(srv);
	http_server_stop(NULL);
	/* every socket, pipe and epoll descriptor is closed again */
	assert_int_equal(count_fds(), fds);
	strbuf_release(&err);
}

/* Out of descriptors: the server waits and accepts again, no crash. */
static void test_out_of_fds(void **state)
{
	unsigned port = http_server_port(*state);
	struct rlimit old, low;
	struct strbuf r = STRBUF_INIT;
	int fds[16], n = 0, i;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)count_fds() + 9;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* clients and the server's accepted sockets share the limit */
	for (i = 0; i < 16; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = { 0 };

		if (fd < 0)
			break;
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			break;
		}
		fds[n++] = fd;
		send_str(fd, "GET /api/v1/jobs/4/log HTTP/1.1\r\n"
			 "Connection: close\r\n\r\n");
	}
	assert_true(n >= 3);
	/* some got no answer yet: the server ran out; give it room again */
	poll(NULL, 0, 200);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (i = 0; i < n; i++) {
		strbuf_reset(&r);
		assert_int_equal(read_until(fds[i], &r, NULL, TIMEOUT_MS), 0);
		assert_int_equal(status_of(&r), 200);
		close(fds[i]);
	}
	get(port, "/api/v1/jobs/5/log", &r);
	assert_int_equal(status_of(&r), 200);
	strbuf_release(&r);
}

/* The idle hook: on a worker thread, with ud, after activity only. */
struct idle_seen {
	pthread_mutex_t lock;
	unsigned calls;
	bool other_thread;
	void *ud;
};
static struct idle_seen idle_seen = { PTHREAD_MUTEX_INITIALIZER, 0, false, NULL };
static pthread_t test_thread;

static void on_idle(void *ud)
{
	pthread_mutex_lock(&idle_seen.lock);
	idle_seen.calls++;
	idle_seen.other_thread = !pthread_equal(pthread_self(), test_thread);
	idle_seen.ud = ud;
	pthread_mutex_unlock(&idle_seen.lock);
}

static unsigned idle_calls(void)
{
	unsigned n;

	pthread_mutex_lock(&idle_seen.lock);
	n = idle_seen.calls;
	pthread_mutex_unlock(&idle_seen.lock);
	return n;
}

/* waits (up to TIMEOUT_MS) for the hook to have been called n times */
static bool wait_idle_calls(unsigned n)
{
	int i;

	for (i = 0; i < TIMEOUT_MS / 10 && idle_calls() < n; i++)
		usleep(10000);
	return idle_calls() >= n;
}

static void test_idle_hook(void **state)
{
	int ud_tag;
	struct http_config cfg = {
		.listen = "127.0.0.1:0", .threads = 1, .max_body = 1000,
		.timeout = 10, .idle = on_idle,
	};
	struct http_server *srv = NULL;
	struct strbuf err = STRBUF_INIT, r = STRBUF_INIT;
	unsigned port;

	test_thread = pthread_self();
	if (http_server_start(&cfg, routes, ARRAY_SIZE(routes), &ud_tag, &srv, &err))
		fail_msg("http_server_start: %s", err.buf);
	port = http_server_port(srv);
	/* no activity yet: nothing to let go of */
	assert_int_equal(idle_calls(), 0);
	get(port, "/api/v1/jobs/1/log", &r);
	assert_int_equal(status_of(&r), 200);
	assert_true(wait_idle_calls(1));
	pthread_mutex_lock(&idle_seen.lock);
	assert_true(idle_seen.other_thread);
	assert_ptr_equal(idle_seen.ud, &ud_tag);
	pthread_mutex_unlock(&idle_seen.lock);
	/* called again after the next activity */
	get(port, "/api/v1/jobs/2/log", &r);
	assert_int_equal(status_of(&r), 200);
	assert_true(wait_idle_calls(2));
	http_server_stop(srv);
	strbuf_release(&r);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_routing_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_wake_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_disconnect, setup, teardown),
		cmocka_unit_test(test_stream_heartbeat),
		cmocka_unit_test(test_stop_with_connections),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http10, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_and_continue, setup, teardown),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_max_per_client),
		cmocka_unit_test(test_per_client_many),
		cmocka_unit_test_setup_teardown(test_big_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sized_stream, setup, teardown),
		cmocka_unit_test(test_stop_with_busy_streams),
		cmocka_unit_test_setup_teardown(test_out_of_fds, setup, teardown),
		cmocka_unit_test(test_idle_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
