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
 * and reads one result per request on its stdout:
 *
 *	{"id": N, "status": 200, "error": null | "why", "body": "first KiB"}
 *
 * status is the HTTP status, or the SMTP server's last reply code. The
 * worker ends when its stdin closes or after being idle a few seconds.
 * Every request has a connect timeout of 5 s and a total of 15 s; a
 * response body is read up to 1 MiB, of which the first KiB is returned.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static json_t *perform(CURL *c, json_t *req)
{
	const char *url = str(req, "url"), *body = str(req, "body");
	json_t *hs = json_object_get(req, "headers"), *v;
	struct curl_slist *headers = NULL, *rcpt = NULL;
	struct sink sink;
	struct source src;
	char errbuf[CURL_ERROR_SIZE];
	long code = 0;
	CURLcode rc;
	json_t *res;
	size_t i;
	int smtp;

	strbuf_init(&sink.kept, 0);
	sink.total = 0;
	errbuf[0] = '\0';
	res = json_pack("{s:I}", "id", json_integer_value(json_object_get(req, "id")));
	if (!url || !body) {
		json_object_set_new(res, "error", json_string("url and body are needed"));
		goto done;
	}
	smtp = !strncasecmp(url, "smtp://", 7) || !strncasecmp(url, "smtps://", 8);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (smtp) {
		json_t *to = json_object_get(req, "to");
		char *from = xasprintf("<%s>", str(req, "from") ? str(req, "from") : "");

		json_array_foreach(to, i, v) {
			if (json_is_string(v))
				rcpt = curl_slist_append(rcpt, json_string_value(v));
		}
		curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
		if (str(req, "username"))
			curl_easy_setopt(c, CURLOPT_USERNAME, str(req, "username"));
		if (str(req, "password"))
			curl_easy_setopt(c, CURLOPT_PASSWORD, str(req, "password"));
		src.p = body;
		src.left = strlen(body);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &src);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)src.left);
		rc = curl_easy_perform(c);
		free(from);
	} else {
		json_array_foreach(hs, i, v) {
			if (json_is_string(v) && !strpbrk(json_string_value(v), "\r\n"))
				headers = curl_slist_append(headers, json_string_value(v));
		}
		headers = curl_slist_append(headers, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, str(req, "method") ?
				 str(req, "method") : "POST");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		rc = curl_easy_perform(c);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	json_object_set_new(res, "status", json_integer(code));
	if (rc != CURLE_OK)
		json_object_set_new(res, "error", json_string(errbuf[0] ? errbuf :
							      curl_easy_strerror(rc)));
	else
		json_object_set_new(res, "error", json_null());
	/* the body is for people reading the deliveries list: valid UTF-8 only */
	v = json_stringn(sink.kept.buf, sink.kept.len);
	json_object_set_new(res, "body", v ? v : json_string(""));
done:
	curl_slist_free_all(headers);
	curl_slist_free_all(rcpt);
	strbuf_release(&sink.kept);
	return res;
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

int cmd_deliver(int argc, char **argv)
{
	struct strbuf in = STRBUF_INIT;
	CURL *c;
	int eof = 0, rc = 0;

	if (argc > 1) {
		fputs(cmd_deliver_usage, stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c = curl_easy_init())) {
		fprintf(stderr, "cidre deliver: cannot initialise libcurl\n");
		return 1;
	}
	for (;;) {
		char *nl = memchr(in.buf, '\n', in.len);
		struct pollfd p = { 0, POLLIN, 0 };
		char buf[8192];
		ssize_t r;

		if (nl) {
			size_t k = (size_t)(nl - in.buf);
			json_t *req, *res;

			*nl = '\0';
			req = json_loads(in.buf, 0, NULL);
			res = req ? perform(c, req) :
			      json_pack("{s:i, s:i, s:s}", "id", 0, "status", 0, "error",
					"unreadable request");
			reply(res);
			json_decref(res);
			json_decref(req);
			memmove(in.buf, nl + 1, in.len - k - 1);
			strbuf_setlen(&in, in.len - k - 1);
			continue;
		}
		if (eof)
			break;
		if (in.len > MAX_LINE) {
			fprintf(stderr, "cidre deliver: a request longer than %d bytes\n", MAX_LINE);
			rc = 1;
			break;
		}
		r = poll(&p, 1, IDLE_MS);
		if (r == 0)
			break;	/* idle: the server starts another when it needs one */
		if (r < 0 && errno != EINTR)
			break;
		r = read(0, buf, sizeof(buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			eof = 1;
		else
			strbuf_add(&in, buf, (size_t)r);
	}
	curl_easy_cleanup(c);
	curl_global_cleanup();
	strbuf_release(&in);
	return rc;
}
