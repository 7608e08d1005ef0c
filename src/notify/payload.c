/*
 * What the server sends (notify.h): forge commit statuses, webhook
 * bodies and their signatures, e-mail messages. Pure functions: no I/O,
 * no clock except what the caller passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/notify.h"
#include "util/hmac.h"
#include "util/jsonx.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define USER_AGENT "cidre/" CIDRE_VERSION

static int is(const char *s, const char *a)
{
	return s && !strcmp(s, a);
}

const char *notify_forge_state(const char *kind, const char *status)
{
	int gitlab = is(kind, "gitlab");

	if (is(status, "success") || is(status, "skipped"))
		return "success";
	if (is(status, "failed"))
		return gitlab ? "failed" : "failure";
	if (is(status, "canceled"))
		return gitlab ? "canceled" : "error";
	if (is(status, "running"))
		return gitlab ? "running" : "pending";
	/* created, pending, scheduled, manual (a blocking manual job) */
	return "pending";
}

static void url_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			strbuf_addch(sb, c);
		else
			strbuf_addf(sb, "%%%02X", c);
	}
}

static int finished(const char *s)
{
	return is(s, "success") || is(s, "failed") || is(s, "canceled") || is(s, "skipped");
}

json_t *notify_forge_request(const struct notify_forge *f, const struct notify_pipeline_info *p,
			     const char *description)
{
	struct strbuf url = STRBUF_INIT, auth = STRBUF_INIT;
	const char *state = notify_forge_state(f->kind, p->status);
	json_t *body, *req, *headers = json_array();
	char *text;

	strbuf_addstr(&url, f->api_url);
	if (is(f->kind, "gitlab")) {
		strbuf_addstr(&url, "/projects/");
		url_escape(&url, f->repo);
		body = json_pack("{s:s, s:s, s:o, s:s, s:s}", "state", state, "name", f->context,
				 "target_url", json_str_or_null(p->url), "description", description,
				 "ref", p->ref ? p->ref : "");
		strbuf_addf(&auth, "PRIVATE-TOKEN: %s", f->token);
		json_array_append_new(headers, json_string(auth.buf));
	} else if (is(f->kind, "github") || is(f->kind, "gitea")) {
		strbuf_addf(&url, "/repos/%s", f->repo);
		body = json_pack("{s:s, s:o, s:s, s:s}", "state", state, "target_url", json_str_or_null(p->url),
				 "description", description, "context", f->context);
		if (is(f->kind, "github")) {
			strbuf_addf(&auth, "Authorization: Bearer %s", f->token);
			json_array_append_new(headers, json_string(auth.buf));
			json_array_append_new(headers,
					      json_string("Accept: application/vnd.github+json"));
			json_array_append_new(headers,
					      json_string("X-GitHub-Api-Version: 2022-11-28"));
		} else {
			strbuf_addf(&auth, "Authorization: token %s", f->token);
			json_array_append_new(headers, json_string(auth.buf));
			json_array_append_new(headers, json_string("Accept: application/json"));
		}
	} else {
		json_decref(headers);
		strbuf_release(&url);
		return NULL;
	}
	strbuf_addf(&url, "/statuses/%s", p->sha);
	json_array_append_new(headers, json_string("Content-Type: application/json"));
	json_array_append_new(headers, json_string("User-Agent: " USER_AGENT));
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	req = json_pack("{s:s, s:s, s:o, s:s}", "method", "POST", "url", url.buf,
			"headers", headers, "body", text);
	free(text);
	json_decref(body);
	strbuf_release(&url);
	strbuf_release(&auth);
	return req;
}

json_t *notify_webhook_body(const struct notify_pipeline_info *p,
			    const struct notify_job_info *job)
{
	json_t *o = json_object(), *pl = json_object();
	int fin = finished(p->status);

	json_object_set_new(o, "object_kind", json_string(job ? "job" : "pipeline"));
	json_object_set_new(o, "project", json_pack("{s:s}", "name", p->project));
	json_object_set_new(pl, "id", json_integer(p->id));
	json_object_set_new(pl, "ref", json_str_or_null(p->ref));
	json_object_set_new(pl, "sha", json_str_or_null(p->sha));
	json_object_set_new(pl, "status", json_str_or_null(p->status));
	json_object_set_new(pl, "source", json_str_or_null(p->source));
	json_object_set_new(pl, "url", json_str_or_null(p->url));
	json_object_set_new(pl, "created_at", json_time(p->created));
	json_object_set_new(pl, "finished_at", fin && !job ? json_time(p->finished) : json_null());
	json_object_set_new(pl, "duration", fin && !job && p->duration >= 0 ?
			    json_real((double)p->duration / 1000.0) : json_null());
	json_object_set_new(o, "pipeline", pl);
	if (job) {
		json_t *j = json_object();
		int jfin = finished(job->status);

		json_object_set_new(j, "id", json_integer(job->id));
		json_object_set_new(j, "name", json_str_or_null(job->name));
		json_object_set_new(j, "stage", json_str_or_null(job->stage));
		json_object_set_new(j, "status", json_str_or_null(job->status));
		json_object_set_new(j, "attempt", json_integer(job->attempt));
		json_object_set_new(j, "allow_failure", json_boolean(job->allow_failure));
		json_object_set_new(j, "failure_reason",
				    is(job->status, "failed") ? json_str_or_null(job->failure_reason) :
				    json_null());
		json_object_set_new(j, "started_at", json_time(job->started));
		json_object_set_new(j, "finished_at", jfin ? json_time(job->finished) : json_null());
		json_object_set_new(j, "duration", jfin ? json_seconds(job->started, job->finished) :
				    json_null());
		json_object_set_new(o, "job", j);
	}
	json_object_set_new(o, "commit", json_pack("{s:o, s:o, s:o}", "sha", json_str_or_null(p->sha),
						   "title", json_str_or_null(p->title),
						   "author", json_str_or_null(p->author)));
	return o;
}

json_t *notify_webhook_request(const char *url, const char *secret, const char *event,
			       const char *body)
{
	json_t *headers = json_array();
	char *h;

	json_array_append_new(headers, json_string("Content-Type: application/json"));
	json_array_append_new(headers, json_string("User-Agent: " USER_AGENT));
	h = xasprintf("X-Cidre-Event: %s", event);
	json_array_append_new(headers, json_string(h));
	free(h);
	if (secret && *secret) {
		unsigned char mac[SHA256_LEN];
		char hex[2 * SHA256_LEN + 1];

		hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
		size_t i;

		for (i = 0; i < SHA256_LEN; i++) {
			hex[2 * i] = "0123456789abcdef"[mac[i] >> 4];
			hex[2 * i + 1] = "0123456789abcdef"[mac[i] & 15];
		}
		hex[2 * SHA256_LEN] = '\0';
		h = xasprintf("X-Cidre-Signature-256: sha256=%s", hex);
		json_array_append_new(headers, json_string(h));
		free(h);
	}
	return json_pack("{s:s, s:s, s:o, s:s}", "method", "POST", "url", url,
			 "headers", headers, "body", body);
}

/* ---- e-mail ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(struct strbuf *sb, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		strbuf_addch(sb, b64[p[i] >> 2]);
		strbuf_addch(sb, b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		strbuf_addch(sb, b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
		strbuf_addch(sb, b64[p[i + 2] & 63]);
	}
	if (n - i == 1) {
		strbuf_addch(sb, b64[p[i] >> 2]);
		strbuf_addch(sb, b64[(p[i] & 3) << 4]);
		strbuf_addstr(sb, "==");
	} else if (n - i == 2) {
		strbuf_addch(sb, b64[p[i] >> 2]);
		strbuf_addch(sb, b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		strbuf_addch(sb, b64[(p[i + 1] & 15) << 2]);
		strbuf_addch(sb, '=');
	}
}

/*
 * A header value: control characters (CR, LF, TAB, ...) become spaces;
 * text with non-ASCII bytes becomes RFC 2047 encoded words (UTF-8,
 * base64), each under 76 characters and never splitting a character.
 */
static void header_value(struct strbuf *sb, const char *v)
{
	struct strbuf clean = STRBUF_INIT;
	int ascii = 1;
	size_t i, start;

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		if (c >= 0x80)
			ascii = 0;
		strbuf_addch(&clean, c);
	}
	if (ascii) {
		strbuf_add(sb, clean.buf, clean.len);
		strbuf_release(&clean);
		return;
	}
	for (start = 0; start < clean.len; start = i) {
		i = start + 36 < clean.len ? start + 36 : clean.len;
		while (i < clean.len && i > start && ((unsigned char)clean.buf[i] & 0xc0) == 0x80)
			i--;
		if (i == start)
			i = clean.len;
		if (start)
			strbuf_addstr(sb, "\r\n ");
		strbuf_addstr(sb, "=?UTF-8?B?");
		base64(sb, (const unsigned char *)clean.buf + start, i - start);
		strbuf_addstr(sb, "?=");
	}
	strbuf_release(&clean);
}

static void header(struct strbuf *sb, const char *name, const char *value)
{
	strbuf_addf(sb, "%s: ", name);
	header_value(sb, value);
	strbuf_addstr(sb, "\r\n");
}

/* A value inside a body line: control characters become spaces. */
static const char *oneline(struct strbuf *sb, const char *s)
{
	strbuf_reset(sb);
	for (; s && *s; s++)
		strbuf_addch(sb, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
	return sb->buf;
}

/* Body text: LF and CRLF become CRLF, other control characters spaces. */
static void body_text(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\r')
			continue;
		if (c == '\n')
			strbuf_addstr(sb, "\r\n");
		else if (c < 0x20 && c != '\t')
			strbuf_addch(sb, ' ');
		else
			strbuf_addch(sb, c);
	}
}

char *notify_email_message(const char *from, const char *to, const char *what,
			   const struct notify_pipeline_info *p, const char *const *failed_jobs,
			   size_t failed_nr, int64_t now_ms, const char *msgid_host)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct strbuf m = STRBUF_INIT, t = STRBUF_INIT, v = STRBUF_INIT;
	char date[64], hash[SHA256_HEX_LEN + 1];
	time_t now = (time_t)(now_ms / 1000);
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	header(&m, "Date", date);
	header(&m, "From", from);
	header(&m, "To", to);
	strbuf_addf(&t, "[cidre] %s %s: pipeline #%lld %s", p->project, p->ref ? p->ref : "",
		    (long long)p->id, what);
	header(&m, "Subject", t.buf);
	strbuf_reset(&t);
	strbuf_addf(&t, "%s %lld %s %lld", to, (long long)p->id, what, (long long)now_ms);
	sha256_hex(t.buf, t.len, hash);
	hash[16] = '\0';
	strbuf_reset(&t);
	strbuf_addf(&t, "<cidre.%lld.%s.%s@%s>", (long long)p->id, what, hash, msgid_host);
	header(&m, "Message-ID", t.buf);
	header(&m, "MIME-Version", "1.0");
	header(&m, "Content-Type", "text/plain; charset=utf-8");
	header(&m, "Content-Transfer-Encoding", "8bit");
	header(&m, "Auto-Submitted", "auto-generated");
	strbuf_addstr(&m, "\r\n");

	strbuf_reset(&t);
	if (!strcmp(what, "fixed"))
		strbuf_addf(&t, "Pipeline #%lld of %s passed: %s is fixed (its previous "
			    "pipeline failed).\n\n", (long long)p->id, p->project,
			    p->ref ? oneline(&v, p->ref) : "the ref");
	else
		strbuf_addf(&t, "Pipeline #%lld of %s failed.\n\n", (long long)p->id, p->project);
	strbuf_addf(&t, "Ref:     %s\n", oneline(&v, p->ref));
	strbuf_addf(&t, "Commit:  %.12s ", oneline(&v, p->sha));
	strbuf_addf(&t, "%s\n", oneline(&v, p->title));
	if (p->author)
		strbuf_addf(&t, "Author:  %s\n", oneline(&v, p->author));
	if (p->url)
		strbuf_addf(&t, "Link:    %s\n", oneline(&v, p->url));
	if (failed_nr) {
		strbuf_addstr(&t, "\nFailed jobs:\n");
		for (i = 0; i < failed_nr; i++)
			strbuf_addf(&t, "  - %s\n", oneline(&v, failed_jobs[i]));
	}
	strbuf_addstr(&t, "\n-- \ncidre\n");
	body_text(&m, t.buf);
	strbuf_release(&t);
	strbuf_release(&v);
	return strbuf_detach(&m, NULL);
}

char *notify_author_address(const char *author)
{
	const char *lt, *gt;
	char *a;

	if (!author)
		return NULL;
	lt = strrchr(author, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	a = lt && gt ? xstrndup(lt + 1, (size_t)(gt - lt - 1)) : xstrdup(author);
	if (!notify_address_ok(a)) {
		free(a);
		return NULL;
	}
	return a;
}

char *notify_pipeline_url(const char *base, int64_t id)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s/pipelines/%lld", (int)n, base, (long long)id);
}
