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
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include "client/cli.h"
#include "client/client.h"
#include "client/sse.h"
#include "client/xfer.h"

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

	/* the server's compact form (read without the parser) */
	d = "{\"offset\":16384,\"text\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\xc3\xa9\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_int_equal(off, 16384);
	assert_string_equal(text.buf, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9");
	strbuf_reset(&text);
	d = "{\"offset\":0,\"text\":\"\"}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_int_equal(off, 0);
	assert_int_equal(text.len, 0);
	/* what the compact form does not take, the parser decides */
	d = "{\"offset\":07,\"text\":\"x\"}";	/* not JSON */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "{\"offset\":7,\"text\":\"x\"} ";	/* JSON, with a blank after */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_int_equal(off, 7);
	assert_string_equal(text.buf, "x");
	strbuf_reset(&text);
	d = "{\"offset\":7,\"text\":\"x\",\"more\":1}";
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), 0);
	assert_string_equal(text.buf, "x");
	strbuf_reset(&text);
	d = "{\"offset\":123456789012345678901,\"text\":\"x\"}";	/* too big */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	assert_int_equal(text.len, 0);
	d = "{\"offset\":1,\"text\":\"a\tb\"}";	/* a raw tab: not JSON */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "{\"offset\":1,\"text\":\"\\udc00\"}";	/* a lone low surrogate */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "{\"offset\":1,\"text\":\"a\xff\"}";	/* not UTF-8 */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	d = "{\"offset\":1,\"text\":\"abc";	/* cut */
	assert_int_equal(client_parse_log_event(d, strlen(d), &off, &text), -1);
	assert_int_equal(text.len, 0);

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
 * canned responses, records each request's head, and closes. A NULL
 * response answers nothing. The options write each response in pieces
 * with a pause between them, and keep the connection open after the
 * answer until the client closes it (at most 10 s).
 */
struct fake_opts {
	int family;             /* AF_INET (127.0.0.1) or AF_INET6 (::1) */
	size_t piece;           /* bytes per write; 0: all at once */
	unsigned pause_us;      /* between two pieces */
	int linger;             /* wait for the client to close */
};

struct fake {
	int fd;
	int port;
	const char **responses;
	int nr;
	struct fake_opts o;
	struct strbuf requests; /* each request line and headers, then "--\n" */
	pthread_t th;
};

/* Write r as o says; the client may have gone already: then stop. */
static void fake_answer(int c, const char *r, const struct fake_opts *o)
{
	size_t len = r ? strlen(r) : 0, off = 0;

	while (off < len) {
		size_t n = o->piece && o->piece < len - off ? o->piece : len - off;
		ssize_t w = send(c, r + off, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		off += (size_t)w;
		if (off < len && o->pause_us)
			usleep(o->pause_us);
	}
}

static void fake_linger(int c)
{
	char buf[512];
	struct pollfd p = { c, POLLIN, 0 };

	while (poll(&p, 1, 10000) > 0 && read(c, buf, sizeof(buf)) > 0)
		;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int i, one = 1;

	for (i = 0; i < f->nr; i++) {
		int c = accept(f->fd, NULL, NULL);
		char buf[8192];
		size_t got = 0;

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
		/* each piece its own segment */
		(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fake_answer(c, f->responses[i], &f->o);
		if (f->o.linger)
			fake_linger(c);
		close(c);
	}
	return NULL;
}

static void fake_start_opts(struct fake *f, const char **responses, int nr,
			    const struct fake_opts *o)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t alen = o->family == AF_INET6 ? sizeof(*a6) : sizeof(*a4);

	memset(&ss, 0, sizeof(ss));
	if (o->family == AF_INET6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
	} else {
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	f->fd = socket(o->family, SOCK_STREAM, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&ss, alen), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&ss, &alen), 0);
	f->port = ntohs(o->family == AF_INET6 ? a6->sin6_port : a4->sin_port);
	f->responses = responses;
	f->nr = nr;
	f->o = *o;
	strbuf_init(&f->requests, 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_start(struct fake *f, const char **responses, int nr)
{
	struct fake_opts o = { AF_INET, 0, 0, 0 };

	fake_start_opts(f, responses, nr, &o);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->fd);
	strbuf_release(&f->requests);
}

/* client_open on http://HOST:PORT (host "127.0.0.1", "localhost", "[::1]"). */
static void open_fake_host(struct client *c, struct fake *f, const char *host,
			   const char *token)
{
	struct strbuf err = STRBUF_INIT, url = STRBUF_INIT;
	struct client_opts o;

	strbuf_addf(&url, "http://%s:%d", host, f->port);
	o.server = url.buf;
	o.token = token;
	if (client_open(c, &o, &err))
		fail_msg("client_open(%s): %s", url.buf, err.buf);
	strbuf_release(&err);
	strbuf_release(&url);
}

static void open_fake(struct client *c, struct fake *f, const char *token)
{
	open_fake_host(c, f, "127.0.0.1", token);
}

/* Run the tests of both transports: CIDRE_CLIENT_CURL for libcurl. */
static void use_curl(int curl)
{
	if (curl)
		setenv("CIDRE_CLIENT_CURL", "1", 1);
	else
		unsetenv("CIDRE_CLIENT_CURL");
}

static void request_json(int curl)
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
	use_curl(curl);
	open_fake(&c, &f, "T0KEN");
	use_curl(0);
	assert_int_equal(c.curl, curl);
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

static void test_request_json(void **state)
{
	request_json(0);
}

static void test_request_json_curl(void **state)
{
	request_json(1);
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
static void follow_resumes(int curl)
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
	use_curl(curl);
	open_fake(&c, &f, NULL);
	use_curl(0);
	assert_int_equal(c.curl, curl);
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

static void test_follow_resumes(void **state)
{
	follow_resumes(0);
}

static void test_follow_resumes_curl(void **state)
{
	follow_resumes(1);
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

/* ---- the own HTTP/1.1 transport (src/client/http1.c) ------------------ */

static void test_http1_can(void **state)
{
	static const struct {
		const char *url;
		int yes;
	} t[] = {
		{ "http://127.0.0.1:8080", 1 },
		{ "http://127.0.0.1:8080/api/v1/x?y=1", 1 },
		{ "http://[::1]:80/x", 1 },
		{ "http://[::1]", 1 },
		{ "http://localhost", 1 },
		{ "http://LOCALHOST:1", 1 },
		{ "http://10.0.0.2:65535", 1 },
		{ "https://127.0.0.1", 0 },
		{ "http://example.com", 0 },
		{ "http://localhost.example", 0 },
		{ "http://127.0.0.1:0", 0 },
		{ "http://127.0.0.1:99999", 0 },
		{ "http://127.0.0.1:", 0 },
		{ "http://127.0.0.1:8x", 0 },
		{ "http://[zz]:1", 0 },
		{ "http://[]:1", 0 },
		{ "http://[::1", 0 },
		{ "http://[::1]x", 0 },
		{ "http://1.2.3", 0 },
		{ "http://user@127.0.0.1", 0 },
		{ "http://", 0 },
		{ "ftp://127.0.0.1", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (http1_can(t[i].url) != t[i].yes)
			fail_msg("http1_can(%s) is %d", t[i].url, !t[i].yes);
}

/* What may skip a configured proxy (client.c's wants_curl). */
static void test_http1_loopback(void **state)
{
	static const struct {
		const char *url;
		int yes;
	} t[] = {
		{ "http://127.0.0.1:8080", 1 },
		{ "http://127.255.0.9/x", 1 },
		{ "http://[::1]:80/x", 1 },
		{ "http://localhost", 1 },
		{ "http://LocalHost:1", 1 },
		{ "http://10.0.0.2:65535", 0 },
		{ "http://128.0.0.1", 0 },
		{ "http://[::2]:1", 0 },
		{ "http://[::ffff:127.0.0.1]:1", 0 },
		{ "https://127.0.0.1", 0 },
		{ "http://example.com", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (http1_loopback(t[i].url) != t[i].yes)
			fail_msg("http1_loopback(%s) is %d", t[i].url, !t[i].yes);
}

/* A proxy in the environment sends other addresses through libcurl. */
static void test_proxy_choice(void **state)
{
	struct client c = CLIENT_INIT;
	struct client_opts o = { "http://10.0.0.2:1", "" };
	struct strbuf err = STRBUF_INIT;

	unsetenv("CIDRE_CLIENT_CURL");
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_int_equal(c.curl, 0);
	client_close(&c);
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_int_equal(c.curl, 1);
	client_close(&c);
	o.server = "http://127.0.0.1:1";
	assert_int_equal(client_open(&c, &o, &err), 0);
	assert_int_equal(c.curl, 0);
	client_close(&c);
	unsetenv("http_proxy");
	strbuf_release(&err);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * GET /x from a fake answering resp as o says, through client_get_stream
 * (the body into out) or, when json is set, client_request (the answer
 * dropped). stall: the client's stream_stall, timeout its timeout (0:
 * the defaults). Returns the client's code; *ret_status the HTTP status.
 */
struct ask {
	const char *resp;
	struct fake_opts o;
	int curl, json;
	long stall, timeout;
	const char *host;       /* NULL: 127.0.0.1 */
};

static int ask(const struct ask *a, struct strbuf *out, struct strbuf *err,
	       long *ret_status)
{
	const char *resp[] = { a->resp };
	struct fake f;
	struct client c = CLIENT_INIT;
	struct fake_opts o = a->o;
	json_t *j = NULL;
	int rc;

	if (!o.family)
		o.family = AF_INET;
	fake_start_opts(&f, resp, 1, &o);
	use_curl(a->curl);
	open_fake_host(&c, &f, a->host ? a->host : "127.0.0.1", NULL);
	use_curl(0);
	assert_int_equal(c.curl, a->curl);
	if (a->stall)
		c.stream_stall = a->stall;
	if (a->timeout)
		c.timeout = a->timeout;
	if (a->json)
		rc = client_request(&c, "GET", "/x", NULL, &j, err);
	else
		rc = client_get_stream(&c, "/x", 0, collect_text, out, err);
	json_decref(j);
	if (ret_status)
		*ret_status = c.status;
	client_close(&c);
	fake_stop(&f);
	return rc;
}

/* resp must fail with code and a message holding want. */
static void expect_fail(const char *resp, int code, const char *want)
{
	struct ask a = { resp, { AF_INET, 0, 0, 0 }, 0, 0, 0, 0, NULL };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int rc = ask(&a, &out, &err, NULL);

	if (rc != code || !strstr(err.buf, want))
		fail_msg("answer '%.60s': code %d '%s', want %d '%s'", resp, rc,
			 err.buf, code, want);
	strbuf_release(&out);
	strbuf_release(&err);
}

/* resp must give the body want, written in pieces of every size in sizes. */
static void expect_body(const char *resp, const char *want, int curl)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 13 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct ask a = { resp, { AF_INET, sizes[i], sizes[i] ? 200 : 0, 0 },
				 curl, 0, 0, 0, NULL };
		struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
		long status = 0;
		int rc = ask(&a, &out, &err, &status);

		if (rc || status != 200 || strcmp(out.buf, want))
			fail_msg("pieces of %zu (curl %d): code %d status %ld '%s' body '%s', "
				 "want '%s'", sizes[i], curl, rc, status, err.buf,
				 out.buf, want);
		strbuf_release(&out);
		strbuf_release(&err);
	}
}

static const char chunked_resp[] =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	"Transfer-Encoding: chunked\r\n\r\n"
	"5;name=value\r\n{\"id\"\r\n"
	"3;a;b=\"q;x\"\r\n: 7\r\n"
	"A\r\n, \"s\": \"x\"\r\n"
	"1\r\n}\r\n"
	"0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
	"bytes after the end";

/* A chunked answer with extensions and a trailer, in small pieces. */
static void test_chunked_pieces(void **state)
{
	expect_body(chunked_resp, "{\"id\": 7, \"s\": \"x\"}", 0);
	/* a bare LF is a line end too */
	expect_body("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
		    "2\nab\n0\n\n", "ab", 0);
	/* "Chunked" in another case */
	expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
		    "2\r\nab\r\n0\r\n\r\n", "ab", 0);
	{
		struct ask a = { chunked_resp, { AF_INET, 1, 200, 0 }, 0, 1, 0, 0, NULL };
		struct strbuf err = STRBUF_INIT;

		assert_int_equal(ask(&a, NULL, &err, NULL), 0);
		strbuf_release(&err);
	}
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\nab\r\n0\r\n\r\n", CLIENT_EUNREACHABLE, "chunked body is malformed");
}

static void test_chunked_pieces_curl(void **state)
{
	expect_body(chunked_resp, "{\"id\": 7, \"s\": \"x\"}", 1);
}

/* Content-Length bodies: exact, with bytes after, cut short. */
static void test_length(void **state)
{
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		    "0123456789", 0);
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", "abc", 0);
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 0);
	/* the same length twice is one length */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		    "ok", 0);
	/* chunked wins over a length */
	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", "ab", 0);
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
		    CLIENT_EUNREACHABLE, "closed the connection before the end");
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		    CLIENT_EUNREACHABLE, "closed the connection before the end");
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2\r\nab\r\n0\r\nX-Trailer: 1\r\n", CLIENT_EUNREACHABLE,
		    "closed the connection before the end");
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
		    CLIENT_EUNREACHABLE, "closed the connection inside its answer's header");
	expect_fail("", CLIENT_EUNREACHABLE, "closed the connection without answering");
}

static void test_length_curl(void **state)
{
	struct ask a = { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
			 { AF_INET, 0, 0, 0 }, 1, 0, 0, 0, NULL };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

	expect_body("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
		    "0123456789", 1);
	assert_int_equal(ask(&a, &out, &err, NULL), CLIENT_EUNREACHABLE);
	assert_non_null(strstr(err.buf, "cannot reach the server at http://127.0.0.1:"));
	strbuf_release(&out);
	strbuf_release(&err);
}

/* A body that ends when the server closes. */
static void test_close_delimited(void **state)
{
	struct strbuf resp = STRBUF_INIT, want = STRBUF_INIT;

	while (want.len < 3000)
		strbuf_addf(&want, "line %zu\n", want.len);
	strbuf_addf(&resp, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n%s",
		    want.buf);
	expect_body(resp.buf, want.buf, 0);
	strbuf_reset(&resp);
	strbuf_addf(&resp, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%s", want.buf);
	expect_body(resp.buf, want.buf, 0);
	strbuf_release(&resp);
	strbuf_release(&want);
}

/* 1xx answers before the real one are skipped; 101 is not ours. */
static void test_interim(void **state)
{
	struct strbuf many = STRBUF_INIT;

	expect_body("HTTP/1.1 100 Continue\r\n\r\n"
		    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 0);
	expect_fail("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		    CLIENT_EUNREACHABLE, "switched protocols");
	/* 1xx heads count towards the head's limit */
	while (many.len <= HTTP1_MAX_HEAD)
		strbuf_addstr(&many, "HTTP/1.1 100 Continue\r\n\r\n");
	strbuf_addstr(&many, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	expect_fail(many.buf, CLIENT_EUNREACHABLE, "larger than 64 KiB");
	strbuf_release(&many);
}

/* A 3xx is refused, naming where it points; it is not followed. */
static void test_redirect(void **state)
{
	static const char resp[] =
		"HTTP/1.1 302 Found\r\nLocation: https://ci.example/api/v1/x\r\n"
		"Content-Length: 0\r\n\r\n";
	int curl;

	for (curl = 0; curl <= 1; curl++) {
		struct ask a = { resp, { AF_INET, 0, 0, 0 }, curl, 1, 0, 0, NULL };
		struct strbuf err = STRBUF_INIT;
		long status = 0;

		assert_int_equal(ask(&a, NULL, &err, &status), CLIENT_EREFUSED);
		assert_int_equal(status, 302);
		if (!strstr(err.buf, "answered HTTP 302, a redirect to "
			    "https://ci.example/api/v1/x"))
			fail_msg("curl %d: %s", curl, err.buf);
		strbuf_release(&err);
	}
}

/* A head of more than HTTP1_MAX_HEAD bytes is refused, in one write or many. */
static void test_head_too_big(void **state)
{
	struct strbuf resp = STRBUF_INIT;
	size_t piece;

	strbuf_addstr(&resp, "HTTP/1.1 200 OK\r\n");
	while (resp.len < 60 << 10)
		strbuf_addf(&resp, "X-Pad-%zu: %0500d\r\n", resp.len, 0);
	strbuf_addstr(&resp, "Content-Length: 2\r\n\r\nok");
	/* below the limit: fine */
	{
		struct ask a = { resp.buf, { AF_INET, 0, 0, 0 }, 0, 0, 0, 0, NULL };
		struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

		assert_int_equal(ask(&a, &out, &err, NULL), 0);
		assert_string_equal(out.buf, "ok");
		strbuf_release(&out);
		strbuf_release(&err);
	}
	strbuf_reset(&resp);
	strbuf_addstr(&resp, "HTTP/1.1 200 OK\r\n");
	while (resp.len < 100 << 10)
		strbuf_addf(&resp, "X-Pad-%zu: %0500d\r\n", resp.len, 0);
	strbuf_addstr(&resp, "Content-Length: 2\r\n\r\nok");
	for (piece = 0; piece <= 4096; piece += 4096) {
		struct ask a = { resp.buf, { AF_INET, piece, 0, 0 }, 0, 0, 0, 0, NULL };
		struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

		assert_int_equal(ask(&a, &out, &err, NULL), CLIENT_EUNREACHABLE);
		if (!strstr(err.buf, "the answer's header is larger than 64 KiB"))
			fail_msg("pieces of %zu: %s", piece, err.buf);
		assert_int_equal(out.len, 0);
		strbuf_release(&out);
		strbuf_release(&err);
	}
	/* a head that never ends */
	strbuf_setlen(&resp, resp.len - strlen("Content-Length: 2\r\n\r\nok"));
	expect_fail(resp.buf, CLIENT_EUNREACHABLE, "larger than 64 KiB");
	strbuf_release(&resp);
}

/* Status lines and header fields that are not HTTP/1.x. */
static void test_bad_head(void **state)
{
	static const char *not_http[] = {
		"HTCPCP/1.0 418 I'm a teapot\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 600 Beyond\r\n\r\n",
		"HTTP/1.1 099 Below\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"garbage\r\n\r\n",
		"\r\n\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(not_http) / sizeof(not_http[0]); i++)
		expect_fail(not_http[i], CLIENT_EUNREACHABLE, "the answer is not HTTP/1.x");
	expect_fail("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", CLIENT_EUNREACHABLE,
		    "has no name");
	expect_fail("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", CLIENT_EUNREACHABLE,
		    "has no name");
	expect_fail("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", CLIENT_EUNREACHABLE,
		    "folds a header line");
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
		    "hello!", CLIENT_EUNREACHABLE, "two different Content-Lengths");
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", CLIENT_EUNREACHABLE,
		    "Content-Length is not a number");
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		    CLIENT_EUNREACHABLE, "Content-Length is not a number");
	expect_fail("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", CLIENT_EUNREACHABLE,
		    "Content-Length is empty");
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
		    CLIENT_EUNREACHABLE, "transfer coding other than chunked");
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		    "2\r\nxx\r\n0\r\n\r\n", CLIENT_EUNREACHABLE,
		    "transfer coding other than chunked");
	expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		    CLIENT_EUNREACHABLE, "transfer coding other than chunked");
}

/* A download or stream with no byte for stream_stall seconds fails. */
static void test_stall(void **state)
{
	struct ask a = { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
			 { AF_INET, 0, 0, 1 }, 0, 0, 1, 0, NULL };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	struct client dflt = CLIENT_INIT;
	double t0 = now_s(), t;

	assert_int_equal(dflt.stream_stall, 60);
	assert_int_equal(ask(&a, &out, &err, NULL), CLIENT_EUNREACHABLE);
	t = now_s() - t0;
	assert_string_equal(out.buf, "partial");
	if (!strstr(err.buf, "no data from the server for 1 s") || t < 0.9 || t > 5)
		fail_msg("after %.2f s: %s", t, err.buf);
	strbuf_release(&out);
	strbuf_release(&err);
}

/* A JSON request fails after c.timeout, even while bytes trickle in. */
static void test_timeout(void **state)
{
	struct ask silent = { NULL, { AF_INET, 0, 0, 1 }, 0, 1, 0, 1, NULL };
	struct ask trickle = { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			       { AF_INET, 1, 300000, 1 }, 0, 1, 0, 1, NULL };
	const struct ask *asks[] = { &silent, &trickle };
	size_t i;

	for (i = 0; i < 2; i++) {
		struct strbuf err = STRBUF_INIT;
		double t0 = now_s(), t;

		assert_int_equal(ask(asks[i], NULL, &err, NULL), CLIENT_EUNREACHABLE);
		t = now_s() - t0;
		if (!strstr(err.buf, "no complete answer within 1 s") || t < 0.9 || t > 5)
			fail_msg("%zu: after %.2f s: %s", i, t, err.buf);
		strbuf_release(&err);
	}
}

/* http://localhost: 127.0.0.1 first. */
static void test_localhost(void **state)
{
	static const char *resp[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"id\": 5}\r\n\r\n",
	};
	struct fake f;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT, host = STRBUF_INIT;
	json_t *res = NULL;

	fake_start(&f, resp, 1);
	open_fake_host(&c, &f, "localhost", NULL);
	assert_int_equal(c.curl, 0);
	assert_int_equal(client_request(&c, "GET", "/api/v1/x", NULL, &res, &err), 0);
	assert_int_equal(cli_int(res, "id", 0), 5);
	pthread_join(f.th, NULL);
	strbuf_addf(&host, "Host: localhost:%d\r\n", f.port);
	assert_non_null(strstr(f.requests.buf, host.buf));
	close(f.fd);
	strbuf_release(&f.requests);
	client_close(&c);
	json_decref(res);
	strbuf_release(&err);
	strbuf_release(&host);
}

static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 a;
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* http://[::1]:PORT: a server there when ::1 exists, a clean error if not. */
static void test_ipv6(void **state)
{
	struct strbuf err = STRBUF_INIT;

	if (have_ipv6_loopback()) {
		static const char *resp[] = {
			"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"id\": 6}",
		};
		struct fake_opts o = { AF_INET6, 0, 0, 0 };
		struct strbuf host = STRBUF_INIT;
		struct fake f;
		struct client c = CLIENT_INIT;
		json_t *res = NULL;

		fake_start_opts(&f, resp, 1, &o);
		open_fake_host(&c, &f, "[::1]", NULL);
		assert_int_equal(c.curl, 0);
		assert_int_equal(client_request(&c, "GET", "/x", NULL, &res, &err), 0);
		assert_int_equal(cli_int(res, "id", 0), 6);
		pthread_join(f.th, NULL);
		strbuf_addf(&host, "Host: [::1]:%d\r\n", f.port);
		assert_non_null(strstr(f.requests.buf, host.buf));
		close(f.fd);
		strbuf_release(&f.requests);
		strbuf_release(&host);
		client_close(&c);
		json_decref(res);
	} else {
		print_message("note: no ::1 here; [::1] must fail cleanly\n");
	}
	/* nobody on port 1 of ::1 (or no ::1 at all): a connect error */
	{
		struct client c = CLIENT_INIT;
		struct client_opts o = { "http://[::1]:1", "" };
		json_t *res = NULL;

		strbuf_reset(&err);
		assert_int_equal(client_open(&c, &o, &err), 0);
		assert_int_equal(c.curl, 0);
		assert_int_equal(client_request(&c, "GET", "/x", NULL, &res, &err),
				 CLIENT_EUNREACHABLE);
		if (!strstr(err.buf, "cannot reach the server at http://[::1]:1: "
			    "connect to ::1 port 1: "))
			fail_msg("%s", err.buf);
		assert_null(res);
		client_close(&c);
	}
	strbuf_release(&err);
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
		cmocka_unit_test(test_request_json_curl),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_follow_resumes),
		cmocka_unit_test(test_follow_resumes_curl),
		cmocka_unit_test(test_follow_refused),
		cmocka_unit_test(test_stream_cap),
		cmocka_unit_test(test_http1_can),
		cmocka_unit_test(test_http1_loopback),
		cmocka_unit_test(test_proxy_choice),
		cmocka_unit_test(test_chunked_pieces),
		cmocka_unit_test(test_chunked_pieces_curl),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_length_curl),
		cmocka_unit_test(test_close_delimited),
		cmocka_unit_test(test_interim),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_head_too_big),
		cmocka_unit_test(test_bad_head),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
