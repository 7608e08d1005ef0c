/*
 * Unit tests for src/client: the config file, server URLs, token files,
 * the server-sent events reader, log events, artifact path safety, the
 * formatting helpers, and requests and the live log against a scripted
 * HTTP server on the loopback (dropped streams are resumed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include "client/cli.h"
#include "client/client.h"
#include "client/sse.h"

/* ---- config ----------------------------------------------------------- */

static void test_config_parse(void **state)
{
	static const char text[] =
		"# cidre client\n"
		"\n"
		"   server   =   http://127.0.0.1:8080/  \r\n"
		"\t# indented comment\n"
		"token=\"abc def\"\n"
		"token_file = ~/tok\n"
		"server = https://ci.example\n";
	struct client_config cfg = { NULL, NULL, NULL };
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(client_config_parse(&cfg, text, strlen(text), "c.conf", &err), 0);
	assert_string_equal(cfg.server, "https://ci.example"); /* later wins */
	assert_string_equal(cfg.token, "abc def");
	assert_string_equal(cfg.token_file, "~/tok");
	assert_int_equal(err.len, 0);
	client_config_release(&cfg);
	assert_null(cfg.server);
	strbuf_release(&err);
}

static void expect_config_error(const char *text, const char *want)
{
	struct client_config cfg = { NULL, NULL, NULL };
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(client_config_parse(&cfg, text, strlen(text), "c.conf", &err), -1);
	if (!strstr(err.buf, want))
		fail_msg("error '%s' lacks '%s'", err.buf, want);
	client_config_release(&cfg);
	strbuf_release(&err);
}

static void test_config_errors(void **state)
{
	expect_config_error("server = x\nbogus = 1\n", "c.conf:2: unknown key 'bogus'");
	expect_config_error("server\n", "c.conf:1: expected 'key = value'");
	expect_config_error("\n\ntoken =   \n", "c.conf:3: 'token' has no value");
	expect_config_error("tok en = 1\n", "unknown key 'tok en'");
	{
		static const char nul[] = "server = a\0b\n";
		struct client_config cfg = { NULL, NULL, NULL };
		struct strbuf err = STRBUF_INIT;

		assert_int_equal(client_config_parse(&cfg, nul, sizeof(nul) - 1, "c",
						     &err), -1);
		assert_non_null(strstr(err.buf, "NUL"));
		client_config_release(&cfg);
		strbuf_release(&err);
	}
}

static void test_config_path(void **state)
{
	char *p;
	int explicit;

	setenv("HOME", "/home/u", 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("CIDRE_CONFIG");
	p = client_config_path(&explicit);
	assert_string_equal(p, "/home/u/.config/cidre/client.conf");
	assert_int_equal(explicit, 0);
	free(p);
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	p = client_config_path(&explicit);
	assert_string_equal(p, "/xdg/cidre/client.conf");
	free(p);
	/* a relative XDG_CONFIG_HOME is invalid and ignored (the spec's rule) */
	setenv("XDG_CONFIG_HOME", "rel", 1);
	p = client_config_path(&explicit);
	assert_string_equal(p, "/home/u/.config/cidre/client.conf");
	free(p);
	setenv("CIDRE_CONFIG", "/etc/c.conf", 1);
	p = client_config_path(&explicit);
	assert_string_equal(p, "/etc/c.conf");
	assert_int_equal(explicit, 1);
	free(p);
	unsetenv("CIDRE_CONFIG");
	unsetenv("XDG_CONFIG_HOME");

	p = client_config_token_path("~/t", "/a/b/c.conf");
	assert_string_equal(p, "/home/u/t");
	free(p);
	p = client_config_token_path("tok", "/a/b/c.conf");
	assert_string_equal(p, "/a/b/tok");
	free(p);
	p = client_config_token_path("/abs/tok", "/a/b/c.conf");
	assert_string_equal(p, "/abs/tok");
	free(p);
}

static void test_token_file(void **state)
{
	char dir[256];
	struct strbuf err = STRBUF_INIT, big = STRBUF_INIT;
	char *path, *tok = NULL;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-client"), 0);
	path = test_write_file(dir, "tok", "  s3cret \nsecond line\n", 22);
	assert_int_equal(client_read_token_file(path, &tok, &err), 0);
	assert_string_equal(tok, "s3cret");
	free(tok);
	free(path);

	path = test_write_file(dir, "empty", " \n", 2);
	assert_int_equal(client_read_token_file(path, &tok, &err), -1);
	assert_non_null(strstr(err.buf, "holds no token"));
	free(path);

	strbuf_reset(&err);
	while (big.len <= CLIENT_MAX_TOKEN)
		strbuf_addch(&big, 'x');
	path = test_write_file(dir, "big", big.buf, big.len);
	assert_int_equal(client_read_token_file(path, &tok, &err), -1);
	assert_non_null(strstr(err.buf, "larger than"));
	free(path);

	strbuf_reset(&err);
	assert_int_equal(client_read_token_file("/nonexistent/tok", &tok, &err), -1);
	assert_non_null(strstr(err.buf, "/nonexistent/tok"));
	strbuf_release(&err);
	strbuf_release(&big);
	assert_int_equal(test_rmtree(dir), 0);
}

static void test_normalize_server(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *s;

	s = client_normalize_server("http://127.0.0.1:8080///", &err);
	assert_string_equal(s, "http://127.0.0.1:8080");
	free(s);
	s = client_normalize_server("https://ci.example/cidre/", &err);
	assert_string_equal(s, "https://ci.example/cidre");
	free(s);
	assert_null(client_normalize_server("127.0.0.1:8080", &err));
	assert_non_null(strstr(err.buf, "does not start with http://"));
	strbuf_reset(&err);
	assert_null(client_normalize_server("http://", &err));
	assert_null(client_normalize_server("http:///x", &err));
	assert_null(client_normalize_server("http://a b", &err));
	assert_null(client_normalize_server("ftp://a", &err));
	strbuf_release(&err);
}

/* client_open: precedence of options, environment and the config file. */
static void test_open_resolution(void **state)
{
	char dir[256];
	struct strbuf err = STRBUF_INIT, conf = STRBUF_INIT;
	struct client c = CLIENT_INIT;
	struct client_opts o = { NULL, NULL };
	char *cpath, *tpath;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-client"), 0);
	tpath = test_write_file(dir, "admin-token", "tok-from-file\n", 14);
	strbuf_addstr(&conf, "server = http://127.0.0.1:9/\ntoken_file = admin-token\n");
	cpath = test_write_file(dir, "client.conf", conf.buf, conf.len);
	setenv("CIDRE_CONFIG", cpath, 1);
	unsetenv("CIDRE_SERVER");
	unsetenv("CIDRE_TOKEN");

	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_string_equal(c.server, "http://127.0.0.1:9");
	assert_string_equal(c.token, "tok-from-file");
	client_close(&c);

	setenv("CIDRE_SERVER", "http://env:1", 1);
	setenv("CIDRE_TOKEN", "env-token", 1);
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_string_equal(c.server, "http://env:1");
	assert_string_equal(c.token, "env-token");
	client_close(&c);

	o.server = "http://opt:2";
	o.token = "opt-token";
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_string_equal(c.server, "http://opt:2");
	assert_string_equal(c.token, "opt-token");
	client_close(&c);

	/* "" as the token: none, and the config file is not read */
	o.token = "";
	setenv("CIDRE_CONFIG", "/nonexistent/explicit.conf", 1);
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_null(c.token);
	client_close(&c);

	/* an explicit config file that is missing is an error */
	o.server = NULL;
	o.token = NULL;
	unsetenv("CIDRE_SERVER");
	unsetenv("CIDRE_TOKEN");
	assert_int_equal(client_open(&c, &o, &err), CLIENT_EUNREACHABLE);
	assert_non_null(strstr(err.buf, "/nonexistent/explicit.conf"));
	client_close(&c);

	/* no server anywhere */
	strbuf_reset(&err);
	setenv("HOME", dir, 1);
	unsetenv("CIDRE_CONFIG");
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(client_open(&c, &o, &err), CLIENT_EUNREACHABLE);
	assert_non_null(strstr(err.buf, "no server"));
	client_close(&c);

	free(tpath);
	free(cpath);
	strbuf_release(&err);
	strbuf_release(&conf);
	assert_int_equal(test_rmtree(dir), 0);
}

/* ---- server-sent events ----------------------------------------------- */

struct events {
	struct strbuf log; /* "event|id|data;" per event */
	int stop_after;    /* stop (return 7) after this many; 0: never */
	int n;
};

static int collect(void *ctx, const struct sse_event *ev)
{
	struct events *e = ctx;

	strbuf_addf(&e->log, "%s|%s|%.*s;", ev->event, ev->id ? ev->id : "-",
		    (int)ev->data_len, ev->data);
	e->n++;
	return e->stop_after && e->n >= e->stop_after ? 7 : 0;
}

/* Feed text in pieces of step bytes (0: all at once). */
static void feed(const char *text, size_t step, const char *want)
{
	struct sse_parser p;
	struct events e = { STRBUF_INIT, 0, 0 };
	size_t len = strlen(text), i;

	sse_parser_init(&p, 0);
	if (!step)
		step = len ? len : 1;
	for (i = 0; i < len; i += step)
		assert_int_equal(sse_parser_feed(&p, text + i,
						 len - i < step ? len - i : step,
						 collect, &e), 0);
	if (strcmp(e.log.buf, want))
		fail_msg("step %zu: got '%s', want '%s'", step, e.log.buf, want);
	sse_parser_release(&p);
	strbuf_release(&e.log);
}

static void feed_all_ways(const char *text, const char *want)
{
	size_t step;

	for (step = 0; step <= strlen(text) + 1; step++)
		feed(text, step, want);
}

static void test_sse_basic(void **state)
{
	feed_all_ways("event: log\nid: 12\ndata: {\"offset\": 0, \"text\": \"a\\n\"}\n\n"
		      "event: end\ndata: {\"status\": \"success\"}\n\n",
		      "log|12|{\"offset\": 0, \"text\": \"a\\n\"};"
		      "end|12|{\"status\": \"success\"};");
	/* no event name: "message"; multi-line data joined with LF */
	feed_all_ways("data: one\ndata:two\ndata\n\n", "message|-|one\ntwo\n;");
	/* only the first space after the colon is dropped */
	feed_all_ways("data:  x \n\n", "message|-| x ;");
}

static void test_sse_line_ends(void **state)
{
	feed_all_ways("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n",
		      "a|-|1;b|-|2;message|-|3;");
	/* a CR ending one piece and an LF starting the next are one line end */
	feed("data: x\r", 0, "");
	{
		struct sse_parser p;
		struct events e = { STRBUF_INIT, 0, 0 };

		sse_parser_init(&p, 0);
		assert_int_equal(sse_parser_feed(&p, "data: x\r", 8, collect, &e), 0);
		assert_int_equal(sse_parser_feed(&p, "\n", 1, collect, &e), 0);
		assert_int_equal(e.n, 0);
		assert_int_equal(sse_parser_feed(&p, "\r\n", 2, collect, &e), 0);
		assert_string_equal(e.log.buf, "message|-|x;");
		sse_parser_release(&p);
		strbuf_release(&e.log);
	}
}

static void test_sse_comments_and_fields(void **state)
{
	/* comments (keep-alives), retry and unknown fields are ignored; an
	 * event with no data is not dispatched, and its name is forgotten */
	feed_all_ways(": keep-alive\n\nretry: 100\nfoo: bar\nevent: nodata\n\n"
		      "data: d\n\n", "message|-|d;");
	/* the id is sticky; an empty id clears it to "" */
	feed_all_ways("id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
		      "message|5|a;message|5|b;message||c;");
	/* an incomplete event at the end of the stream is not dispatched */
	feed_all_ways("data: done\n\ndata: half", "message|-|done;");
}

static void test_sse_limits_and_stop(void **state)
{
	struct sse_parser p;
	struct events e = { STRBUF_INIT, 2, 0 };
	struct strbuf big = STRBUF_INIT;
	static const char three[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

	/* the callback's non-zero return stops the parse at once */
	sse_parser_init(&p, 0);
	assert_int_equal(sse_parser_feed(&p, three, strlen(three), collect, &e), 7);
	assert_string_equal(e.log.buf, "message|-|1;message|-|2;");
	sse_parser_release(&p);

	/* one line over the cap */
	sse_parser_init(&p, 64);
	strbuf_addstr(&big, "data: ");
	while (big.len < 100)
		strbuf_addch(&big, 'x');
	assert_int_equal(sse_parser_feed(&p, big.buf, big.len, collect, &e), SSE_TOO_BIG);
	sse_parser_release(&p);

	/* many short data lines over the cap */
	sse_parser_init(&p, 64);
	strbuf_reset(&big);
	while (big.len < 200)
		strbuf_addstr(&big, "data: 0123456789\n");
	assert_int_equal(sse_parser_feed(&p, big.buf, big.len, collect, &e), SSE_TOO_BIG);
	sse_parser_release(&p);
	strbuf_release(&big);
	strbuf_release(&e.log);
}

static void test_log_events(void **state)
{
	struct strbuf text = STRBUF_INIT;
	int64_t off, size;
	char *status;
	const char *d;

	d = "{\"offset\": 1200, \"text\": \"line one\\nline two\\n\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_int_equal(off, 1200);
	assert_string_equal(text.buf, "line one\nline two\n");
	strbuf_reset(&text);
	/* a NUL byte in a log is kept */
	d = "{\"offset\": 0, \"text\": \"nul\\u0000byte\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_int_equal(text.len, 8);
	assert_memory_equal(text.buf, "nul\0byte", 8);
	strbuf_reset(&text);
	d = "{\"offset\": -1, \"text\": \"\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "{\"text\": \"x\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "not json";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);

	d = "{\"status\": \"failed\", \"log_size\": 1234}";
	assert_int_equal(client_parse_end_event(d, strlen(d), &status, &size), 0);
	assert_string_equal(status, "failed");
	assert_int_equal(size, 1234);
	free(status);
	d = "{\"status\": \"success\"}";
	assert_int_equal(client_parse_end_event(d, strlen(d), &status, &size), 0);
	assert_int_equal(size, -1);
	free(status);
	d = "{\"log_size\": 3}";
	assert_int_equal(client_parse_end_event(d, strlen(d), &status, &size), -1);
	strbuf_release(&text);
}

/* ---- artifact paths and formatting ------------------------------------ */

static void test_path_safe(void **state)
{
	static const char *ok[] = { "a", "a/b/c.txt", "dist/app-1.0.tar.gz", ".hidden",
				    "a/..b", "a/b..", "...", "é/ü" };
	static const char *bad[] = { "", "/etc/passwd", "..", "../x", "a/../b", "a/..",
				     ".", "./a", "a/./b", "a//b", "a/", "a\\b",
				     "a\nb", "a\tb", "/" };
	struct strbuf long_path = STRBUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!cli_path_safe(ok[i]))
			fail_msg("'%s' refused", ok[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cli_path_safe(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	while (long_path.len <= 4096)
		strbuf_addstr(&long_path, "abcdefgh/");
	strbuf_addch(&long_path, 'x');
	assert_false(cli_path_safe(long_path.buf));
	strbuf_release(&long_path);
}

static void test_escape(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	client_escape(&sb, "a b/c?d&e=f#g%~._-", 0);
	assert_string_equal(sb.buf, "a%20b%2Fc%3Fd%26e%3Df%23g%25~._-");
	strbuf_reset(&sb);
	client_escape(&sb, "dir/sub dir/é", 1);
	assert_string_equal(sb.buf, "dir/sub%20dir/%C3%A9");
	strbuf_release(&sb);
}

static void test_parse_time(void **state)
{
	double t;

	assert_int_equal(cli_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0);
	assert_int_equal(cli_parse_time("2026-11-27T23:10:04.123Z", &t), 0);
	assert_true(t > 1795820000 && t < 1795900000);
	assert_true(t - (double)(long long)t > 0.122 && t - (double)(long long)t < 0.124);
	assert_int_equal(cli_parse_time("1970-01-01T01:00:00+01:00", &t), 0);
	assert_true(t == 0);
	assert_int_equal(cli_parse_time("1970-01-01T00:00:00-00:30", &t), 0);
	assert_true(t == 1800);
	assert_int_equal(cli_parse_time("2026-11-27", &t), -1);
	assert_int_equal(cli_parse_time("2026-13-27T23:10:04Z", &t), -1);
	assert_int_equal(cli_parse_time("2026-11-27T23:10:04", &t), -1);
	assert_int_equal(cli_parse_time("2026-11-27T23:10:04.Z", &t), -1);
	assert_int_equal(cli_parse_time("2026-11-27T23:10:04Zjunk", &t), -1);
	assert_int_equal(cli_parse_time(NULL, &t), -1);
}

static void expect_fmt(void (*fn)(struct strbuf *, double), double v, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	fn(&sb, v);
	if (strcmp(sb.buf, want))
		fail_msg("%g: got '%s', want '%s'", v, sb.buf, want);
	strbuf_release(&sb);
}

static void test_formats(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	expect_fmt(cli_fmt_duration, 0.41, "0.41s");
	expect_fmt(cli_fmt_duration, 12.34, "12.3s");
	expect_fmt(cli_fmt_duration, 125, "2m05s");
	expect_fmt(cli_fmt_duration, 3725, "1h02m");
	expect_fmt(cli_fmt_duration, -1, "-");
	expect_fmt(cli_fmt_bytes, 5242880, "5.0 MB");
	expect_fmt(cli_fmt_bytes, 4096, "4 KB");
	expect_fmt(cli_fmt_bytes, 21, "21 B");
	expect_fmt(cli_fmt_bytes, 1.5 * 1024 * 1024 * 1024, "1.50 GB");
	expect_fmt(cli_fmt_bytes, -1, "-");

	cli_fmt_age(&sb, "1970-01-01T00:00:00Z", 42);
	assert_string_equal(sb.buf, "42s ago");
	strbuf_reset(&sb);
	cli_fmt_age(&sb, "1970-01-01T00:00:00Z", 3 * 60 + 5);
	assert_string_equal(sb.buf, "3m ago");
	strbuf_reset(&sb);
	cli_fmt_age(&sb, "1970-01-01T00:00:00Z", 2 * 3600 + 5);
	assert_string_equal(sb.buf, "2h ago");
	strbuf_reset(&sb);
	cli_fmt_age(&sb, "1970-01-01T00:00:00Z", 4 * 86400 + 5);
	assert_string_equal(sb.buf, "4d ago");
	strbuf_reset(&sb);
	cli_fmt_age(&sb, "1970-01-02T00:00:00Z", 0); /* clock skew */
	assert_string_equal(sb.buf, "0s ago");
	strbuf_reset(&sb);
	cli_fmt_age(&sb, NULL, 0);
	assert_string_equal(sb.buf, "-");
	strbuf_release(&sb);
}

static void test_table(void **state)
{
	struct cli_table t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	cli_table_init(&t, "rlr");
	cli_table_add(&t, "ID");
	cli_table_add(&t, "NAME");
	cli_table_add(&t, "DURATION");
	cli_table_addf(&t, "%d", 7);
	cli_table_add(&t, "héllo");
	cli_table_add(&t, "0.41s");
	cli_table_add(&t, "12");
	cli_table_add(&t, "a");
	cli_table_add(&t, "2m05s");
	cli_table_add(&t, "3");
	cli_table_add(&t, "b");
	cli_table_add(&t, "");
	cli_table_print(&t, f);
	cli_table_release(&t);
	fclose(f);
	assert_string_equal(out,
		"ID  NAME   DURATION\n"
		" 7  héllo     0.41s\n"
		"12  a         2m05s\n"
		" 3  b\n");
	free(out);
}

static void test_ids(void **state)
{
	int64_t id;

	assert_int_equal(cli_parse_id("42", &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(cli_parse_id("#7", &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(cli_parse_id("0", &id), -1);
	assert_int_equal(cli_parse_id("-3", &id), -1);
	assert_int_equal(cli_parse_id("12a", &id), -1);
	assert_int_equal(cli_parse_id("", &id), -1);
	assert_int_equal(cli_parse_id("99999999999999999999999", &id), -1);
	assert_true(cli_status_final("success") && cli_status_final("failed") &&
		    cli_status_final("canceled") && cli_status_final("skipped"));
	assert_false(cli_status_final("running") || cli_status_final("manual") ||
		     cli_status_final("pending"));
	assert_int_equal(client_exit_code(0), 0);
	assert_int_equal(client_exit_code(CLIENT_EREFUSED), 1);
	assert_int_equal(client_exit_code(CLIENT_EUNREACHABLE), 2);
}

/* ---- against a scripted server on the loopback ------------------------ */

/*
 * A one-thread HTTP server: it answers connections in order with the
 * canned responses, records each request's head, and closes.
 */
struct fake {
	int fd;
	int port;
	const char **responses;
	int nr;
	struct strbuf requests; /* each request line and headers, then "--\n" */
	pthread_t th;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int i;

	for (i = 0; i < f->nr; i++) {
		int c = accept(f->fd, NULL, NULL);
		char buf[8192];
		size_t got = 0;
		const char *r = f->responses[i];

		if (c < 0)
			break;
		/* read the head, and a body by Content-Length if any */
		for (;;) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
			char *end;

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (end) {
				const char *cl = strstr(buf, "Content-Length: ");
				size_t head = (size_t)(end + 4 - buf);

				if (!cl || got >= head + (size_t)atoi(cl + 16))
					break;
			}
		}
		strbuf_add(&f->requests, buf, got);
		strbuf_addstr(&f->requests, "\n--\n");
		/* the client may have gone already: nothing to do then */
		(void)!write(c, r, strlen(r));
		close(c);
	}
	return NULL;
}

static void fake_start(struct fake *f, const char **responses, int nr)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &alen), 0);
	f->port = ntohs(a.sin_port);
	f->responses = responses;
	f->nr = nr;
	strbuf_init(&f->requests, 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->fd);
	strbuf_release(&f->requests);
}

static void open_fake(struct client *c, struct fake *f, const char *token)
{
	struct strbuf err = STRBUF_INIT, url = STRBUF_INIT;
	struct client_opts o;

	strbuf_addf(&url, "http://127.0.0.1:%d", f->port);
	o.server = url.buf;
	o.token = token;
	assert_int_equal(client_open(c, &o, &err), 0);
	strbuf_release(&err);
	strbuf_release(&url);
}

static void test_request_json(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
		"Content-Length: 22\r\nConnection: close\r\n\r\n{\"id\": 7, \"ref\": \"m\"}\n",
		"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		"Connection: close\r\n\r\n{\"error\": \"pipeline 42 not found\", \"status\": 404}",
		"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n<html>oops</html>",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nnot json",
		"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n{\"error\": \"no token\"}",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT;
	json_t *body = json_pack("{s:s}", "ref", "main"), *res = NULL;

	fake_start(&f, resp, 5);
	open_fake(&c, &f, "T0KEN");
	assert_int_equal(client_request(&c, "POST", "/api/v1/projects/demo/pipelines",
					body, &res, &err), 0);
	assert_int_equal(c.status, 201);
	assert_int_equal(cli_int(res, "id", 0), 7);
	json_decref(res);
	res = NULL;
	assert_int_equal(client_request(&c, "GET", "/api/v1/pipelines/42", NULL, &res,
					&err), CLIENT_EREFUSED);
	assert_string_equal(err.buf, "pipeline 42 not found");
	assert_int_equal(c.status, 404);
	strbuf_reset(&err);
	assert_int_equal(client_request(&c, "GET", "/x", NULL, &res, &err), CLIENT_EREFUSED);
	assert_non_null(strstr(err.buf, "answered HTTP 502"));
	strbuf_reset(&err);
	assert_int_equal(client_request(&c, "GET", "/x", NULL, &res, &err), CLIENT_EPROTO);
	assert_non_null(strstr(err.buf, "not JSON"));
	strbuf_reset(&err);
	free(c.token);
	c.token = NULL;
	assert_int_equal(client_request(&c, "POST", "/x", NULL, &res, &err),
			 CLIENT_EREFUSED);
	assert_non_null(strstr(err.buf, "no token (no token: use --token"));
	assert_null(res);
	fake_stop(&f);
	client_close(&c);
	json_decref(body);
	strbuf_release(&err);
}

static void test_request_headers(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"pipelines\": []}",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT;
	json_t *body = json_pack("{s:s}", "project", "demo"), *res = NULL;

	fake_start(&f, resp, 1);
	open_fake(&c, &f, "");
	c.hook_token = strdup("h00k");
	assert_int_equal(client_request(&c, "POST", "/api/v1/hook", body, &res, &err), 0);
	pthread_join(f.th, NULL);
	assert_non_null(strstr(f.requests.buf, "POST /api/v1/hook HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests.buf, "X-Cidre-Hook-Token: h00k\r\n"));
	assert_non_null(strstr(f.requests.buf, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(f.requests.buf, "{\"project\":\"demo\"}"));
	assert_null(strstr(f.requests.buf, "Authorization"));
	close(f.fd);
	strbuf_release(&f.requests);
	client_close(&c);
	json_decref(body);
	json_decref(res);
	strbuf_release(&err);
}

static void test_unreachable(void **state)
{
	struct client c = CLIENT_INIT;
	struct client_opts o = { NULL, "" };
	struct strbuf err = STRBUF_INIT;
	json_t *res = NULL;
	int fd, port;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	/* a port nobody listens on: bind one, note it, close it */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	{
		char url[64];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
		o.server = url;
		assert_int_equal(client_open(&c, &o, &err), 0);
	}
	assert_int_equal(client_request(&c, "GET", "/api/v1/version", NULL, &res, &err),
			 CLIENT_EUNREACHABLE);
	assert_non_null(strstr(err.buf, "cannot reach the server at http://127.0.0.1:"));
	assert_int_equal(client_exit_code(CLIENT_EUNREACHABLE), 2);
	client_close(&c);
	strbuf_release(&err);
}

static int collect_text(void *ctx, const char *buf, size_t len)
{
	strbuf_add(ctx, buf, len);
	return 0;
}

/* The stream drops twice; the client resumes at the right offsets. */
static void test_follow_resumes(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
		": hello\n\nevent: log\nid: 6\ndata: {\"offset\": 0, \"text\": \"one\\ntw\"}\n\n"
		"event: log\nid: 9\ndata: {\"offset\": 6, \"te",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
		"event: log\r\nid: 9\r\ndata: {\"offset\": 6, \"text\": \"o\\nt\"}\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
		"event: log\nid: 16\ndata: {\"offset\": 9, \"text\": \"hree\\n\\ufffd\\n\"}\n\n"
		"event: end\ndata: {\"status\": \"failed\", \"log_size\": 16}\n\n",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	char *status = NULL;
	int64_t offset = 0;

	fake_start(&f, resp, 3);
	open_fake(&c, &f, NULL);
	assert_int_equal(client_follow_log(&c, 31, &offset, collect_text, &text, &status,
					   &err), 0);
	pthread_join(f.th, NULL);
	assert_string_equal(text.buf, "one\ntwo\nthree\n\xef\xbf\xbd\n");
	assert_string_equal(status, "failed");
	assert_int_equal(offset, 16);
	assert_non_null(strstr(f.requests.buf,
			       "GET /api/v1/jobs/31/log/stream?offset=0 HTTP"));
	assert_non_null(strstr(f.requests.buf,
			       "GET /api/v1/jobs/31/log/stream?offset=6 HTTP"));
	assert_non_null(strstr(f.requests.buf,
			       "GET /api/v1/jobs/31/log/stream?offset=9 HTTP"));
	close(f.fd);
	strbuf_release(&f.requests);
	free(status);
	client_close(&c);
	strbuf_release(&err);
	strbuf_release(&text);
}

static void test_follow_refused(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n"
		"{\"error\": \"job 99 not found\", \"status\": 404}",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	char *status = NULL;
	int64_t offset = 0;

	fake_start(&f, resp, 1);
	open_fake(&c, &f, NULL);
	assert_int_equal(client_follow_log(&c, 99, &offset, collect_text, &text, &status,
					   &err), CLIENT_EREFUSED);
	assert_string_equal(err.buf, "job 99 not found");
	assert_null(status);
	fake_stop(&f);
	client_close(&c);
	strbuf_release(&err);
	strbuf_release(&text);
}

static int collect_capped(void *ctx, const char *buf, size_t len)
{
	return collect_text(ctx, buf, len);
}

static void test_stream_cap(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789abcdef",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;

	fake_start(&f, resp, 1);
	open_fake(&c, &f, NULL);
	assert_int_equal(client_get_stream(&c, "/a", 10, collect_capped, &text, &err),
			 CLIENT_EPROTO);
	assert_non_null(strstr(err.buf, "larger than 10 bytes"));
	fake_stop(&f);
	client_close(&c);
	strbuf_release(&err);
	strbuf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_path),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_normalize_server),
		cmocka_unit_test(test_open_resolution),
		cmocka_unit_test(test_sse_basic),
		cmocka_unit_test(test_sse_line_ends),
		cmocka_unit_test(test_sse_comments_and_fields),
		cmocka_unit_test(test_sse_limits_and_stop),
		cmocka_unit_test(test_log_events),
		cmocka_unit_test(test_path_safe),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_request_json),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_follow_resumes),
		cmocka_unit_test(test_follow_refused),
		cmocka_unit_test(test_stream_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
