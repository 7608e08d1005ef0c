/*
 * cidre deliver: the server's delivery worker (internal). The server
 * does not link libcurl; its notify thread starts this command and
 * writes one request per line on its stdin:
 *
 *	{"id": N, "url": "https://...", "method": "POST",
 *	 "headers": ["Name: value", ...], "body": "..."}
 *	{"id": N, "url": "smtp://...", "from": "a@b", "to": ["c@d"],
 *	 "username"?: "...", "password"?: "...", "body": "RFC 5322 message"}
 *
 * and reads one result per request on its stdout, in the order the
 * requests finish (they run at once, on libcurl's multi interface):
 *
 *	{"id": N, "status": 200, "error": null | "why", "body": "first KiB"}
 *
 * status is the HTTP status, or the SMTP server's last reply code. The
 * worker ends when its stdin closes or after being idle a few seconds.
 * Every request has a connect timeout of 5 s and a total of 15 s; a
 * response body is read up to 1 MiB, of which the first KiB is returned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd/cmd.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define IDLE_MS          5000
#define MAX_LINE         (1024 * 1024)
#define KEEP_BODY        1024
#define MAX_BODY         (1024 * 1024)
#define CONNECT_TIMEOUT  5L
#define TOTAL_TIMEOUT    15L

const char cmd_deliver_usage[] =
	"usage: cidre deliver\n"
	"\n"
	"Internal: the server's delivery worker (webhooks, commit statuses,\n"
	"e-mail). Reads JSON requests on stdin, one a line, writes one result\n"
	"a line on stdout; ends when stdin closes or after 5 s idle.\n";

struct sink {
	struct strbuf kept;
	size_t total;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (s->kept.len < KEEP_BODY)
		strbuf_add(&s->kept, p, len < KEEP_BODY - s->kept.len ? len :
			   KEEP_BODY - s->kept.len);
	s->total += len;
	return s->total > MAX_BODY ? 0 : len;	/* 0 aborts the transfer */
}

struct source {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct source *s = ud;
	size_t len = size * n < s->left ? size * n : s->left;

	memcpy(buf, s->p, len);
	s->p += len;
	s->left -= len;
	return len;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One request in progress: its handle and what the handle points into. */
struct transfer {
	CURL *c;
	json_t *req;
	json_int_t id;
	struct curl_slist *headers, *rcpt;
	struct sink sink;
	struct source src;
	char *from;
	char errbuf[CURL_ERROR_SIZE];
};

static void transfer_free(struct transfer *t)
{
	if (!t)
		return;
	if (t->c)
		curl_easy_cleanup(t->c);
	json_decref(t->req);
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->rcpt);
	strbuf_release(&t->sink.kept);
	free(t->from);
	free(t);
}

static void reply(json_t *res)
{
	char *s = json_dumps(res, JSON_COMPACT);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(s);
}

static void reply_error(json_int_t id, const char *why)
{
	json_t *res = json_pack("{s:I, s:i, s:s, s:s}", "id", id, "status", 0, "error", why,
				"body", "");

	reply(res);
	json_decref(res);
}

/* A transfer for req (stolen), or NULL after replying with the reason. */
static struct transfer *transfer_new(json_t *req)
{
	struct transfer *t = xcalloc(1, sizeof(*t));
	const char *url = str(req, "url"), *body = str(req, "body");
	json_t *v;
	size_t i;

	t->req = req;
	t->id = json_integer_value(json_object_get(req, "id"));
	strbuf_init(&t->sink.kept, 0);
	if (!url || !body || !(t->c = curl_easy_init())) {
		reply_error(t->id, "url and body are needed");
		transfer_free(t);
		return NULL;
	}
	curl_easy_setopt(t->c, CURLOPT_URL, url);
	curl_easy_setopt(t->c, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(t->c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(t->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(t->c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(t->c, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->c, CURLOPT_WRITEDATA, &t->sink);
	curl_easy_setopt(t->c, CURLOPT_PRIVATE, t);
	if (!strncasecmp(url, "smtp://", 7) || !strncasecmp(url, "smtps://", 8)) {
		t->from = xasprintf("<%s>", str(req, "from") ? str(req, "from") : "");
		json_array_foreach(json_object_get(req, "to"), i, v) {
			if (json_is_string(v))
				t->rcpt = curl_slist_append(t->rcpt, json_string_value(v));
		}
		curl_easy_setopt(t->c, CURLOPT_MAIL_FROM, t->from);
		curl_easy_setopt(t->c, CURLOPT_MAIL_RCPT, t->rcpt);
		curl_easy_setopt(t->c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
		/* QUIT after each message: no idle session held on the mail server */
		curl_easy_setopt(t->c, CURLOPT_FORBID_REUSE, 1L);
		if (str(req, "username"))
			curl_easy_setopt(t->c, CURLOPT_USERNAME, str(req, "username"));
		if (str(req, "password"))
			curl_easy_setopt(t->c, CURLOPT_PASSWORD, str(req, "password"));
		t->src.p = body;
		t->src.left = strlen(body);
		curl_easy_setopt(t->c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(t->c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(t->c, CURLOPT_READDATA, &t->src);
		curl_easy_setopt(t->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->src.left);
	} else {
		json_array_foreach(json_object_get(req, "headers"), i, v) {
			if (json_is_string(v) && !strpbrk(json_string_value(v), "\r\n"))
				t->headers = curl_slist_append(t->headers, json_string_value(v));
		}
		t->headers = curl_slist_append(t->headers, "Expect:");
		curl_easy_setopt(t->c, CURLOPT_HTTPHEADER, t->headers);
		curl_easy_setopt(t->c, CURLOPT_CUSTOMREQUEST, str(req, "method") ?
				 str(req, "method") : "POST");
		curl_easy_setopt(t->c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(t->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	return t;
}

/* t finished with rc: reply. */
static void transfer_done(struct transfer *t, CURLcode rc)
{
	long code = 0;
	json_t *res, *v;

	curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &code);
	res = json_pack("{s:I, s:i}", "id", t->id, "status", (int)code);
	if (rc != CURLE_OK)
		json_object_set_new(res, "error", json_string(t->errbuf[0] ? t->errbuf :
							      curl_easy_strerror(rc)));
	else
		json_object_set_new(res, "error", json_null());
	/* the body is for people reading the deliveries list: valid UTF-8 only */
	v = json_stringn(t->sink.kept.buf, t->sink.kept.len);
	json_object_set_new(res, "body", v ? v : json_string(""));
	reply(res);
	json_decref(res);
}

int cmd_deliver(int argc, char **argv)
{
	struct strbuf in = STRBUF_INIT;
	CURLM *m;
	int eof = 0, rc = 0, running = 0, active = 0;
	int64_t last = now_ms();	/* the last request or finished transfer */

	if (argc > 1) {
		fputs(cmd_deliver_usage, stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(m = curl_multi_init())) {
		fprintf(stderr, "cidre deliver: cannot initialise libcurl\n");
		return 1;
	}
	for (;;) {
		struct curl_waitfd w = { 0, CURL_WAIT_POLLIN, 0 };
		char *nl, buf[8192];
		CURLMsg *msg;
		int left, nfds = 0;
		ssize_t r;

		/* start the requests that arrived */
		while ((nl = memchr(in.buf, '\n', in.len))) {
			size_t k = (size_t)(nl - in.buf);
			json_t *req;
			struct transfer *t;

			*nl = '\0';
			req = json_loads(in.buf, 0, NULL);
			memmove(in.buf, nl + 1, in.len - k - 1);
			strbuf_setlen(&in, in.len - k - 1);
			if (!json_is_object(req)) {
				json_decref(req);
				reply_error(0, "unreadable request");
				continue;
			}
			t = transfer_new(req);
			if (t && curl_multi_add_handle(m, t->c) == CURLM_OK)
				active++;
			else if (t) {
				reply_error(t->id, "cannot start the transfer");
				transfer_free(t);
			}
		}
		if (in.len > MAX_LINE) {
			fprintf(stderr, "cidre deliver: a request longer than %d bytes\n", MAX_LINE);
			rc = 1;
			break;
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct transfer *t = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			transfer_done(t, msg->data.result);
			curl_multi_remove_handle(m, t->c);
			transfer_free(t);
			active--;
			last = now_ms();
		}
		if (eof && !active)
			break;
		if (!active && now_ms() - last >= IDLE_MS)
			break;	/* idle: the server starts another when it needs one */
		if (curl_multi_poll(m, eof ? NULL : &w, eof ? 0 : 1, active ? 200 : 500,
				    &nfds) != CURLM_OK)
			break;
		if (eof || !(w.revents & CURL_WAIT_POLLIN))
			continue;
		last = now_ms();
		r = read(0, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			eof = 1;
		else
			strbuf_add(&in, buf, (size_t)r);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	strbuf_release(&in);
	return rc;
}
