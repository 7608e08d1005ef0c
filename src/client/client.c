/*
 * The REST API client; see client.h and docs/internals/client.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "client/sse.h"
#include "client/xfer.h"
#include "exec/spawn.h"
#include "util/jsonx.h"
#include "util/xalloc.h"

/* ---- configuration ---------------------------------------------------- */

void client_config_release(struct client_config *cfg)
{
	free(cfg->server);
	free(cfg->token);
	free(cfg->token_file);
	cfg->server = cfg->token = cfg->token_file = NULL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int client_config_parse(struct client_config *cfg, const char *text,
			size_t len, const char *path, struct strbuf *err)
{
	const char *p = text, *end = text + len;
	int lineno = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *k, *ke, *v, *ve;
		char **slot;

		if (!eol)
			eol = end;
		lineno++;
		k = p;
		p = eol < end ? eol + 1 : end;
		ve = eol;
		while (k < ve && is_space(*k))
			k++;
		while (ve > k && is_space(ve[-1]))
			ve--;
		if (k == ve || *k == '#')
			continue;
		if (memchr(k, '\0', (size_t)(ve - k))) {
			strbuf_addf(err, "%s:%d: a NUL byte in the line", path, lineno);
			return -1;
		}
		v = memchr(k, '=', (size_t)(ve - k));
		if (!v) {
			strbuf_addf(err, "%s:%d: expected 'key = value'", path, lineno);
			return -1;
		}
		ke = v;
		while (ke > k && is_space(ke[-1]))
			ke--;
		v++;
		while (v < ve && is_space(*v))
			v++;
		if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
			v++;
			ve--;
		}
		if (ke - k == 6 && !memcmp(k, "server", 6))
			slot = &cfg->server;
		else if (ke - k == 5 && !memcmp(k, "token", 5))
			slot = &cfg->token;
		else if (ke - k == 10 && !memcmp(k, "token_file", 10))
			slot = &cfg->token_file;
		else {
			strbuf_addf(err, "%s:%d: unknown key '%.*s' (known: server, "
				    "token, token_file)", path, lineno, (int)(ke - k), k);
			return -1;
		}
		if (v == ve) {
			strbuf_addf(err, "%s:%d: '%.*s' has no value", path, lineno,
				    (int)(ke - k), k);
			return -1;
		}
		free(*slot);
		*slot = xstrndup(v, (size_t)(ve - v));
	}
	return 0;
}

char *client_config_path(int *explicit)
{
	const char *s;

	*explicit = 0;
	s = getenv("CIDRE_CONFIG");
	if (s && *s) {
		*explicit = 1;
		return xstrdup(s);
	}
	s = getenv("XDG_CONFIG_HOME");
	if (s && *s == '/')
		return xasprintf("%s/cidre/client.conf", s);
	s = getenv("HOME");
	if (s && *s)
		return xasprintf("%s/.config/cidre/client.conf", s);
	return NULL;
}

char *client_config_token_path(const char *token_file, const char *config_path)
{
	const char *home = getenv("HOME"), *slash;

	if (token_file[0] == '~' && token_file[1] == '/' && home && *home)
		return xasprintf("%s/%s", home, token_file + 2);
	if (token_file[0] == '/' || !config_path)
		return xstrdup(token_file);
	slash = strrchr(config_path, '/');
	if (!slash)
		return xstrdup(token_file);
	return xasprintf("%.*s/%s", (int)(slash - config_path), config_path,
			 token_file);
}

int client_read_token_file(const char *path, char **ret, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	char *nl;
	const char *s;

	if (strbuf_read_file(&sb, path, CLIENT_MAX_TOKEN) < 0) {
		strbuf_addf(err, "cannot read the token file %s: %s", path,
			    errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
		strbuf_release(&sb);
		return -1;
	}
	nl = memchr(sb.buf, '\n', sb.len);
	if (nl)
		strbuf_setlen(&sb, (size_t)(nl - sb.buf));
	strbuf_rtrim(&sb);
	for (s = sb.buf; is_space(*s); s++)
		;
	if (!*s || strlen(s) != sb.len - (size_t)(s - sb.buf)) {
		strbuf_addf(err, "the token file %s holds no token", path);
		strbuf_release(&sb);
		return -1;
	}
	*ret = xstrdup(s);
	strbuf_release(&sb);
	return 0;
}

char *client_normalize_server(const char *url, struct strbuf *err)
{
	size_t len = strlen(url), skip;
	const char *c;

	if (!strncmp(url, "http://", 7))
		skip = 7;
	else if (!strncmp(url, "https://", 8))
		skip = 8;
	else {
		strbuf_addf(err, "the server URL '%s' does not start with http:// "
			    "or https://", url);
		return NULL;
	}
	for (c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			strbuf_addf(err, "the server URL '%s' holds a space or a "
				    "control character", url);
			return NULL;
		}
	while (len > skip && url[len - 1] == '/')
		len--;
	if (len == skip || url[skip] == '/') {
		strbuf_addf(err, "the server URL '%s' names no host", url);
		return NULL;
	}
	return xstrndup(url, len);
}

/* ---- the connection --------------------------------------------------- */

char **client_reexec_argv;

static int load_config(struct client_config *cfg, char **ret_path,
		       struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	int explicit, rc = 0;
	char *path = client_config_path(&explicit);

	*ret_path = path;
	if (!path)
		return 0;
	if (strbuf_read_file(&sb, path, CLIENT_MAX_CONFIG) < 0) {
		if (errno == ENOENT && !explicit)
			goto done;
		strbuf_addf(err, "cannot read the config file %s: %s", path,
			    errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
		rc = -1;
		goto done;
	}
	rc = client_config_parse(cfg, sb.buf, sb.len, path, err);
done:
	strbuf_release(&sb);
	return rc;
}

static int env_set(const char *name)
{
	const char *e = getenv(name);

	return e && *e;
}

/*
 * Our own transport, unless the URL needs libcurl (https://, a host name,
 * or an address other than the loopback while a proxy is configured:
 * libcurl applies http_proxy and no_proxy) or $CIDRE_CLIENT_CURL asks
 * for it.
 */
static int wants_curl(const char *url)
{
	const char *e = getenv("CIDRE_CLIENT_CURL");

	if ((e && *e && strcmp(e, "0")) || !http1_can(url))
		return 1;
	return !http1_loopback(url) &&
	       (env_set("http_proxy") || env_set("HTTP_PROXY") ||
		env_set("all_proxy") || env_set("ALL_PROXY"));
}

int client_open(struct client *c, const struct client_opts *o, struct strbuf *err)
{
	struct client_config cfg = { NULL, NULL, NULL };
	const char *server = o->server, *token = o->token;
	char *cfg_path = NULL;
	int rc = CLIENT_EUNREACHABLE;

	c->server_from = "--server";
	if (!server && (server = getenv("CIDRE_SERVER")) && *server)
		c->server_from = "CIDRE_SERVER";
	else if (!o->server)
		server = NULL;
	if (!token && (token = getenv("CIDRE_TOKEN")) && !*token)
		token = NULL;
	/* the config file is read only for what is still missing */
	if (!server || !token) {
		if (load_config(&cfg, &cfg_path, err) < 0)
			goto done;
	}
	if (!server && cfg.server) {
		server = cfg.server;
		c->server_from = "the config file";
	}
	if (!server) {
		strbuf_addf(err, "no server: use --server URL, set CIDRE_SERVER or "
			    "write 'server = URL' in %s",
			    cfg_path ? cfg_path : "~/.config/cidre/client.conf");
		goto done;
	}
	c->server = client_normalize_server(server, err);
	if (!c->server)
		goto done;
	c->curl = wants_curl(c->server);
	if (c->curl && !xfer_curl) {
		/* this is the static cidre: cidre-client has libcurl */
		if (client_reexec_argv) {
			fflush(NULL);
			spawn_exec_sibling("cidre-client", client_reexec_argv, err);
		} else {
			strbuf_addf(err, "%s needs libcurl (https:// or a host name), "
				    "which this program does not have", c->server);
		}
		goto done;
	}
	if (token && *token)
		c->token = xstrdup(token);
	else if (token)
		; /* "": explicitly none */
	else if (cfg.token)
		c->token = xstrdup(cfg.token);
	else if (cfg.token_file) {
		char *p = client_config_token_path(cfg.token_file, cfg_path);
		int r = client_read_token_file(p, &c->token, err);

		free(p);
		if (r < 0)
			goto done;
	}
	rc = 0;
done:
	client_config_release(&cfg);
	free(cfg_path);
	return rc;
}

void client_close(struct client *c)
{
	free(c->server);
	free(c->token);
	free(c->hook_token);
	c->server = c->token = c->hook_token = NULL;
	if (xfer_curl_cleanup)
		xfer_curl_cleanup();
}

int client_exit_code(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case CLIENT_EREFUSED:
	case CLIENT_ELOCAL:
	case CLIENT_EPROTO:
		return 1;
	default:
		return 2;
	}
}

void client_escape(struct strbuf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~' || (keep_slash && ch == '/'))
			strbuf_addch(out, ch);
		else {
			strbuf_addch(out, '%');
			strbuf_addch(out, hex[ch >> 4]);
			strbuf_addch(out, hex[ch & 15]);
		}
	}
}

/* ---- one transfer ----------------------------------------------------- */

void xfer_header(struct xfer *x, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (x->nr_headers >= XFER_MAX_HEADERS)
		xdie("too many request headers");
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	x->owned[x->nr_headers] = strbuf_detach(&sb, NULL);
	x->headers[x->nr_headers] = x->owned[x->nr_headers];
	x->headers[++x->nr_headers] = NULL;
}

/*
 * The body goes to the sink while the status is 2xx, into errbody
 * (capped) otherwise.
 */
int xfer_body(struct xfer *x, const char *buf, size_t n)
{
	if (x->status < 200 || x->status >= 300) {
		if (x->errbody.len < CLIENT_MAX_ERROR)
			strbuf_add(&x->errbody, buf,
				   n < CLIENT_MAX_ERROR - x->errbody.len ? n :
				   CLIENT_MAX_ERROR - x->errbody.len);
		return 0;
	}
	x->got += n;
	if (x->max && x->got > x->max) {
		x->too_big = 1;
		return -1;
	}
	if (n && x->sink(x->ctx, buf, n)) {
		x->sink_failed = 1;
		return -1;
	}
	return 0;
}

static void xfer_setup(struct xfer *x, struct client *c, const char *method,
		       const char *path)
{
	memset(x, 0, sizeof(*x));
	strbuf_init(&x->errbody, 0);
	x->method = method;
	x->url = xasprintf("%s%s", c->server, path);
	x->connect_timeout = c->connect_timeout;
	if (c->token)
		xfer_header(x, "Authorization: Bearer %s", c->token);
	if (c->hook_token)
		xfer_header(x, "X-Cidre-Hook-Token: %s", c->hook_token);
}

static void xfer_release(struct xfer *x)
{
	size_t i;

	for (i = 0; i < x->nr_headers; i++)
		free(x->owned[i]);
	free(x->url);
	free(x->location);
	strbuf_release(&x->errbody);
	x->url = x->location = NULL;
	x->nr_headers = 0;
}

/* The server's error text for a refused request. */
static void describe_refusal(struct client *c, struct xfer *x, struct strbuf *err)
{
	json_t *j = NULL, *e;

	if (x->errbody.len)
		j = json_loadb(x->errbody.buf, x->errbody.len, 0, NULL);
	e = json_is_object(j) ? json_object_get(j, "error") : NULL;
	if (json_is_string(e) && json_string_length(e))
		strbuf_addstr(err, json_string_value(e));
	else if (x->status >= 300 && x->status < 400 && x->location && *x->location)
		strbuf_addf(err, "the server at %s answered HTTP %ld, a redirect to %s "
			    "(is that cidre's URL?)", c->server, x->status, x->location);
	else
		strbuf_addf(err, "the server at %s answered HTTP %ld", c->server,
			    x->status);
	if (x->status == 401 && !c->token && !c->hook_token)
		strbuf_addstr(err, " (no token: use --token, set CIDRE_TOKEN, or write "
			      "'token = ...' or 'token_file = PATH' in the config file)");
	json_decref(j);
}

/* Perform x; map the outcome to a CLIENT_* code. */
static int xfer_run(struct client *c, struct xfer *x, struct strbuf *err)
{
	int res = c->curl ? xfer_curl(x) : xfer_http1(x);

	c->status = x->status;
	if (x->sink_failed)
		return CLIENT_ELOCAL;
	if (x->too_big) {
		strbuf_addf(err, "the server's answer is larger than %zu bytes", x->max);
		return CLIENT_EPROTO;
	}
	if (res) {
		strbuf_addf(err, "cannot reach the server at %s: %s", c->server,
			    x->errbuf[0] ? x->errbuf : "the exchange failed");
		return CLIENT_EUNREACHABLE;
	}
	if (x->status < 200 || x->status >= 300) {
		describe_refusal(c, x, err);
		return CLIENT_EREFUSED;
	}
	return 0;
}

static int sink_strbuf(void *ctx, const char *buf, size_t len)
{
	strbuf_add(ctx, buf, len);
	return 0;
}

int client_request(struct client *c, const char *method, const char *path,
		   json_t *body, json_t **ret, struct strbuf *err)
{
	struct strbuf resp = STRBUF_INIT;
	struct xfer x;
	char *payload = NULL;
	int rc;

	xfer_setup(&x, c, method, path);
	x.sink = sink_strbuf;
	x.ctx = &resp;
	x.max = CLIENT_MAX_RESPONSE;
	x.timeout = c->timeout;
	xfer_header(&x, "Accept: application/json");
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		if (!payload)
			xdie("out of memory");
		xfer_header(&x, "Content-Type: application/json");
		x.payload = payload;
		x.payload_len = strlen(payload);
	} else if (strcmp(method, "GET") && strcmp(method, "DELETE")) {
		/* a POST with no body: say so (Content-Length: 0) */
		x.payload = "";
	}
	rc = xfer_run(c, &x, err);
	if (rc || !ret)
		goto done;
	if (!resp.len) {
		*ret = json_null();
		goto done;
	}
	{
		json_error_t je;
		json_t *j = json_loadb(resp.buf, resp.len, 0, &je);

		if (!j) {
			strbuf_addf(err, "the server at %s sent an answer that is not "
				    "JSON (%s)", c->server, je.text);
			rc = CLIENT_EPROTO;
			goto done;
		}
		*ret = j;
	}
done:
	free(payload);
	strbuf_release(&resp);
	xfer_release(&x);
	return rc;
}

int client_get_array(struct client *c, const char *path, const char *what, json_t **ret,
		     struct strbuf *err)
{
	int rc = client_request(c, "GET", path, NULL, ret, err);

	if (!rc && !json_is_array(*ret)) {
		json_decref(*ret);
		*ret = NULL;
		strbuf_addf(err, "the server's %s list is not a JSON array", what);
		rc = CLIENT_EPROTO;
	}
	return rc;
}

int client_get_stream(struct client *c, const char *path, size_t max,
		      client_sink_fn sink, void *ctx, struct strbuf *err)
{
	struct xfer x;
	int rc;

	xfer_setup(&x, c, "GET", path);
	x.sink = sink;
	x.ctx = ctx;
	x.max = max;
	/* no overall timeout; a stalled transfer fails */
	x.stall_timeout = c->stream_stall;
	rc = xfer_run(c, &x, err);
	xfer_release(&x);
	return rc;
}

/* ---- the live log ----------------------------------------------------- */

/*
 * The server's own form of a log event, {"offset":N,"text":"..."}, read
 * without a parser: the text is most of the bytes of a followed log.
 * -1 (ret_text as it was) for anything else; the parser then decides.
 */
static int log_event_fast(const char *data, size_t len, int64_t *ret_offset,
			  struct strbuf *ret_text)
{
	static const char a[] = "{\"offset\":", b[] = ",\"text\":\"";
	const char *p = data + sizeof(a) - 1, *end = data + len;
	int64_t off = 0;
	size_t used, digits = 0;

	if (len < sizeof(a) - 1 || memcmp(data, a, sizeof(a) - 1))
		return -1;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		off = off * 10 + (*p - '0');
	if (!digits || (digits > 1 && p[-(long)digits] == '0') ||
	    (size_t)(end - p) < sizeof(b) - 1 || memcmp(p, b, sizeof(b) - 1))
		return -1;
	p += sizeof(b) - 1;
	used = json_str_unescape(ret_text, p, (size_t)(end - p));
	if (!used || (size_t)(end - p) != used + 1 || p[used] != '}')
		return -1;	/* the caller cuts ret_text back */
	*ret_offset = off;
	return 0;
}

int client_parse_log_event(const char *data, size_t len, int64_t *ret_offset,
			   struct strbuf *ret_text)
{
	size_t before = ret_text->len;
	json_t *j, *o, *t;
	int rc = -1;

	if (!log_event_fast(data, len, ret_offset, ret_text))
		return 0;
	strbuf_setlen(ret_text, before);
	j = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(j))
		goto done;
	o = json_object_get(j, "offset");
	t = json_object_get(j, "text");
	if (!json_is_integer(o) || json_integer_value(o) < 0 || !json_is_string(t))
		goto done;
	*ret_offset = json_integer_value(o);
	strbuf_add(ret_text, json_string_value(t), json_string_length(t));
	rc = 0;
done:
	json_decref(j);
	return rc;
}

int client_parse_end_event(const char *data, size_t len, char **ret_status,
			   int64_t *ret_size)
{
	json_t *j = json_loadb(data, len, 0, NULL), *s, *n;
	int rc = -1;

	if (!json_is_object(j))
		goto done;
	s = json_object_get(j, "status");
	n = json_object_get(j, "log_size");
	if (!json_is_string(s) || (n && !json_is_integer(n)))
		goto done;
	*ret_status = xstrdup(json_string_value(s));
	*ret_size = json_is_integer(n) ? json_integer_value(n) : -1;
	rc = 0;
done:
	json_decref(j);
	return rc;
}

struct follow {
	struct sse_parser sse;
	client_sink_fn sink;
	void *ctx;
	int64_t offset;        /* the next byte wanted */
	char *status;          /* set by the end event */
	int progressed;        /* text arrived on this connection */
	int bad;               /* an event the API does not describe */
	int sink_failed;
	struct strbuf text;
	struct strbuf *err;
};

/* Stop codes of the event callback. */
#define FOLLOW_END 1
#define FOLLOW_BAD 2
#define FOLLOW_SINK 3

static int follow_event(void *ctx, const struct sse_event *ev)
{
	struct follow *f = ctx;

	if (!strcmp(ev->event, "log")) {
		int64_t off, next;
		char *end;

		strbuf_reset(&f->text);
		if (client_parse_log_event(ev->data, ev->data_len, &off, &f->text) < 0) {
			strbuf_addf(f->err, "a log event the client does not understand: %.200s",
				    ev->data);
			return FOLLOW_BAD;
		}
		next = off + (int64_t)f->text.len;
		if (ev->id && *ev->id) {
			long long n;

			errno = 0;
			n = strtoll(ev->id, &end, 10);
			if (!*end && !errno && n >= off)
				next = n;
		}
		if (next <= f->offset)
			return 0; /* already shown (a resumed stream repeating) */
		if (f->text.len && f->sink(f->ctx, f->text.buf, f->text.len)) {
			f->sink_failed = 1;
			return FOLLOW_SINK;
		}
		f->offset = next;
		f->progressed = 1;
		return 0;
	}
	if (!strcmp(ev->event, "end")) {
		int64_t size;

		free(f->status);
		f->status = NULL;
		if (client_parse_end_event(ev->data, ev->data_len, &f->status, &size) < 0) {
			strbuf_addf(f->err, "an end event the client does not understand: %.200s",
				    ev->data);
			return FOLLOW_BAD;
		}
		if (size > f->offset)
			f->offset = size;
		return FOLLOW_END;
	}
	return 0; /* events of later API versions */
}

static int follow_sink(void *ctx, const char *buf, size_t len)
{
	struct follow *f = ctx;
	int rc = sse_parser_feed(&f->sse, buf, len, follow_event, f);

	if (rc == SSE_TOO_BIG)
		strbuf_addf(f->err, "a server-sent event larger than %zu bytes",
			    CLIENT_MAX_SSE_EVENT);
	if (rc)
		f->bad = rc;
	return rc;
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int client_follow_log(struct client *c, int64_t job, int64_t *offset,
		      client_sink_fn sink, void *ctx, char **ret_status,
		      struct strbuf *err)
{
	struct follow f;
	struct strbuf path = STRBUF_INIT, why = STRBUF_INIT;
	int rc, failures = 0;
	long wait_ms = 250;

	memset(&f, 0, sizeof(f));
	f.sink = sink;
	f.ctx = ctx;
	f.offset = *offset;
	f.err = err;
	strbuf_init(&f.text, 0);
	for (;;) {
		sse_parser_init(&f.sse, CLIENT_MAX_SSE_EVENT);
		f.progressed = 0;
		f.bad = 0;
		strbuf_reset(&path);
		strbuf_addf(&path, "/api/v1/jobs/%" PRId64 "/log/stream?offset=%" PRId64,
			    job, f.offset);
		strbuf_reset(&why);
		rc = client_get_stream(c, path.buf, 0, follow_sink, &f, &why);
		sse_parser_release(&f.sse);
		if (f.bad == FOLLOW_END) {
			rc = 0;
			break;
		}
		if (f.bad) {
			/* err already says why, unless the sink failed */
			rc = f.sink_failed ? CLIENT_ELOCAL : CLIENT_EPROTO;
			break;
		}
		if (rc == CLIENT_EREFUSED || rc == CLIENT_ELOCAL) {
			strbuf_add(err, why.buf, why.len);
			break;
		}
		/* dropped, or closed before the end event: resume */
		if (f.progressed) {
			failures = 0;
			wait_ms = 250;
		}
		if (++failures > CLIENT_STREAM_RETRIES) {
			if (why.len)
				strbuf_add(err, why.buf, why.len);
			else
				strbuf_addf(err, "the log stream of job %" PRId64
					    " keeps closing before its end", job);
			rc = rc ? rc : CLIENT_EUNREACHABLE;
			break;
		}
		pause_ms(wait_ms);
		if (wait_ms < 4000)
			wait_ms *= 2;
	}
	*offset = f.offset;
	if (!rc) {
		*ret_status = f.status;
		f.status = NULL;
	}
	free(f.status);
	strbuf_release(&f.text);
	strbuf_release(&path);
	strbuf_release(&why);
	return rc;
}
