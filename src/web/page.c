/* What the web UI's handlers share (page.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"
#include "util/spans.h"
#include "web/files.h"
#include "web/page.h"

static int begin(struct http_request *req, void *ud, struct page *pg, int stale_ok)
{
	struct strbuf err = STRBUF_INIT;
	int rc;

	memset(pg, 0, sizeof(*pg));
	pg->srv = ud;
	pg->req = req;
	pg->st = server_store(pg->srv, &err);
	if (!pg->st) {
		page_error(req, 500, err.buf);
		strbuf_release(&err);
		return -1;
	}
	strbuf_release(&err);
	rc = auth_request(pg->srv, pg->st, req, &pg->who);
	if (rc == AUTH_ESTORE) {
		http_add_header(req, "Retry-After", "1");
		page_error(req, 503, "The server cannot check who you are right now: reload in a moment.");
		return -1;
	}
	if (rc < 0) {
		/* a stale session: forget the cookie, log in again */
		if (stale_ok) {
			memset(&pg->who, 0, sizeof(pg->who));
			return 0;
		}
		http_add_header(req, "Set-Cookie", AUTH_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
		page_error(req, 401, "Your session has ended or your credentials are wrong: log in again.");
		return -1;
	}
	return 0;
}

int page_begin(struct http_request *req, void *ud, struct page *pg)
{
	return begin(req, ud, pg, 0);
}

int page_begin_login(struct http_request *req, void *ud, struct page *pg)
{
	return begin(req, ud, pg, 1);
}

int page_project(struct page *pg, const char *name, int64_t id, struct store_project *p,
		 enum role *ret_role)
{
	struct strbuf err = STRBUF_INIT;
	enum role r = ROLE_NONE;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = name ? store_project_get(pg->st, name, p, &err) :
		    store_project_get_id(pg->st, id, p, &err);
	if (rc == 0)
		r = auth_role(pg->srv, pg->st, &pg->who, p);
	strbuf_release(&err);
	if (rc < 0 && rc != STORE_NOTFOUND) {
		page_error(pg->req, rc == STORE_UNAVAILABLE ? 503 : 500, "the store failed");
		return -1;
	}
	if (rc < 0 || r == ROLE_NONE) {
		store_project_release(p);
		page_error(pg->req, 404, "Not found.");
		return -1;
	}
	if (ret_role)
		*ret_role = r;
	return 0;
}

const char *page_tmpl(const char *name)
{
	char path[128];
	const char *t;

	snprintf(path, sizeof(path), "templates/%s.html", name);
	t = web_file_get(path, NULL);
	if (!t) {
		/* a build without the file: an empty page, said in the log */
		slog_warn("web: no template %s", path);
		return "";
	}
	return t;
}

void page_render(struct strbuf *out, const char *name, const char *block,
		 const struct tmpl_var *vars, size_t nr)
{
	if (tmpl_render(out, page_tmpl(name), block, vars, nr) < 0)
		slog_warn("web: template %s%s%s is broken", name, block ? "#" : "",
			  block ? block : "");
}

void page_top(struct page *pg, struct strbuf *out, const char *title)
{
	struct strbuf user = STRBUF_INIT, notice = STRBUF_INIT;
	struct tmpl_var v[4];
	long long waiting = atomic_load(&pg->srv->jobs_unrecorded);

	if (pg->who.login[0]) {
		struct tmpl_var u[] = { tmpl_str("login", pg->who.login),
					tmpl_str("csrf", pg->who.csrf) };

		page_render(&user, "layout", pg->who.via_session ? "session" : "user", u,
			    ARRAY_SIZE(u));
	} else {
		page_render(&user, "layout", "anon", NULL, 0);
	}
	if (waiting > 0) {
		/* a full disk: jobs look "running" until their ends are recorded */
		char n[32];
		struct tmpl_var c = tmpl_str("count", n);

		snprintf(n, sizeof(n), "%lld job%s", waiting, waiting == 1 ? "" : "s");
		page_render(&notice, "layout", "unrecorded", &c, 1);
	}
	v[0] = tmpl_str("title", title);
	v[1] = tmpl_html("user", user.buf);
	v[2] = tmpl_str("csrf", pg->who.csrf);
	v[3] = tmpl_html("notice", notice.buf);
	page_render(out, "layout", "top", v, 4);
	strbuf_release(&user);
	strbuf_release(&notice);
}

void page_bottom(struct page *pg, struct strbuf *out)
{
	page_render(out, "layout", "bottom", NULL, 0);
}

void page_headers(struct http_request *req)
{
	/*
	 * Defence in depth behind the escaping: no inline script runs, nothing
	 * loads from elsewhere, no framing. Inline style attributes stay
	 * allowed: the log's 256 and 24-bit colours use them.
	 */
	http_add_header(req, "Content-Security-Policy",
			"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
			"img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
			"frame-ancestors 'none'");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_add_header(req, "Referrer-Policy", "same-origin");
}

int page_send(struct page *pg, unsigned status, const char *title, const char *body)
{
	struct strbuf out = STRBUF_INIT;
	int rc;

	page_top(pg, &out, title);
	strbuf_addstr(&out, body);
	page_bottom(pg, &out);
	http_add_header(pg->req, "Cache-Control", "no-store");
	page_headers(pg->req);
	rc = http_respond_data(pg->req, status, "text/html; charset=utf-8", out.buf, out.len);
	strbuf_release(&out);
	return rc;
}

int page_error(struct http_request *req, unsigned status, const char *msg)
{
	struct strbuf out = STRBUF_INIT;
	char code[16];
	struct tmpl_var v[2];
	int rc;

	snprintf(code, sizeof(code), "%u", status);
	v[0] = tmpl_str("status", code);
	v[1] = tmpl_str("message", msg);
	page_render(&out, "layout", "error", v, 2);
	page_headers(req);
	rc = http_respond_data(req, status, "text/html; charset=utf-8", out.buf, out.len);
	strbuf_release(&out);
	return rc;
}

int page_redirect(struct http_request *req, const char *path)
{
	if (!tmpl_url_ok(path) || path[0] != '/')
		path = "/";
	http_add_header(req, "Location", path);
	return http_respond_data(req, 303, "text/plain; charset=utf-8", "", 0);
}

/* pre + "N min" / "N h" / "N days" + post, for d seconds (d >= 60). */
static void span(char *buf, size_t n, const char *pre, int64_t d, const char *post)
{
	if (d < 3600)
		snprintf(buf, n, "%s%" PRId64 " min%s", pre, d / 60, post);
	else if (d < 86400)
		snprintf(buf, n, "%s%" PRId64 " h%s", pre, d / 3600, post);
	else
		snprintf(buf, n, "%s%" PRId64 " day%s%s", pre, d / 86400,
			 d / 86400 == 1 ? "" : "s", post);
}

void page_age(char *buf, size_t n, int64_t ms)
{
	int64_t d = (server_now_ms() - ms) / 1000;

	if (ms <= 0)
		snprintf(buf, n, "%s", "");
	else if (d < 60)
		snprintf(buf, n, "%s", "just now");
	else
		span(buf, n, "", d, " ago");
}

void page_in(char *buf, size_t n, int64_t ms)
{
	int64_t d = (ms - server_now_ms()) / 1000;

	if (d < 60)
		snprintf(buf, n, "in %" PRId64 " s", d < 0 ? 0 : d);
	else
		span(buf, n, "in ", d, "");
}

void page_duration(char *buf, size_t n, int64_t from, int64_t to)
{
	if (from <= 0) {
		snprintf(buf, n, "%s", "");
		return;
	}
	page_ms(buf, n, (to > 0 ? to : server_now_ms()) - from);
}

/*
 * The time the jobs of a running pipeline have run so far, as its
 * duration will count them once it finishes (the union of the latest
 * attempts' runs; a running one up to now).
 */
static int64_t running_ms(const struct store_job *jobs, size_t n, int64_t now)
{
	struct span *v = xcalloc(n ? n : 1, sizeof(*v));
	size_t k = 0, i;
	double total;

	for (i = 0; i < n; i++) {
		if (jobs[i].started <= 0)
			continue;
		v[k].b = (double)jobs[i].started;
		v[k++].e = (double)(jobs[i].finished > 0 ? jobs[i].finished : now);
	}
	total = spans_union(v, k);
	free(v);
	return (int64_t)total;
}

void page_pipeline_duration(struct page *pg, char *buf, size_t n,
			    char *run, size_t rn, enum page_run when,
			    const struct store_pipeline *p,
			    const struct store_job *jobs, size_t nj)
{
	int64_t ms = store_pipeline_ms(p);
	struct store_job *own = NULL;
	struct strbuf err = STRBUF_INIT;
	int job_runs = 0;
	size_t i;

	snprintf(run, rn, "%s", "");
	if (ms >= 0 || p->started <= 0 || p->finished) {
		if (ms >= 0)
			page_ms(buf, n, ms);
		else
			page_duration(buf, n, p->started, p->finished);
		return;
	}
	/* running: read its jobs unless the caller has them */
	if (!jobs && store_job_list(pg->st, p->id, 0, &own, &nj, &err) < 0) {
		/* the time since its first start, as before the jobs */
		page_duration(buf, n, p->started, 0);
		strbuf_release(&err);
		return;
	}
	if (!jobs)
		jobs = own;
	ms = running_ms(jobs, nj, server_now_ms());
	page_ms(buf, n, ms);
	for (i = 0; i < nj; i++)
		if (jobs[i].started > 0 && jobs[i].finished <= 0)
			job_runs = 1;
	if (p->status && !strcmp(p->status, "running") &&
	    (job_runs || when == PAGE_RUN_PIPELINE))
		snprintf(run, rn, " data-run-ms=\"%" PRId64 "\"", ms < 0 ? 0 : ms);
	store_jobs_free(own, own ? nj : 0);
	strbuf_release(&err);
}

void page_running(char *buf, size_t n, int64_t started, int64_t finished)
{
	int64_t ms = server_now_ms() - started;

	if (started > 0 && finished <= 0)
		snprintf(buf, n, " data-run-ms=\"%" PRId64 "\"", ms < 0 ? 0 : ms);
	else
		snprintf(buf, n, "%s", "");
}

void page_ms(char *buf, size_t n, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		snprintf(buf, n, "%" PRId64 " ms", ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1f s", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, n, "%" PRId64 " min %" PRId64 " s", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, n, "%" PRId64 " h %" PRId64 " min", ms / 3600000, ms / 60000 % 60);
}

void page_bytes(char *buf, size_t n, int64_t b)
{
	if (b < 0)
		snprintf(buf, n, "%s", "");
	else if (b < 1024)
		snprintf(buf, n, "%" PRId64 " B", b);
	else if (b < 1024 * 1024)
		snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
	else if (b < 1024LL * 1024 * 1024)
		snprintf(buf, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
	else
		snprintf(buf, n, "%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
}

void page_job_status(struct strbuf *out, const struct store_job *j)
{
	strbuf_addstr(out, "<span class=\"st st-");
	tmpl_escape(out, j->status);
	if (j->allow_failure)
		strbuf_addstr(out, " allowed\" title=\"allowed to fail");
	strbuf_addf(out, "\" data-job=\"%" PRId64 "\" data-in=\"%" PRId64 "\">",
		    j->id, j->pipeline_id);
	tmpl_escape(out, j->status);
	strbuf_addstr(out, "</span>");
}

void page_failure(char *buf, size_t n, const char *reason)
{
	static const char *const words[][2] = {
		{ "script_failure", "the script failed" },
		{ "job_execution_timeout", "timed out" },
		{ "out_of_memory", "out of memory" },
		{ "api_failure", "API failure" },
	};
	size_t i;

	snprintf(buf, n, "%s", reason ? reason : "");
	for (i = 0; reason && i < ARRAY_SIZE(words); i++)
		if (!strcmp(reason, words[i][0])) {
			snprintf(buf, n, "%s", words[i][1]);
			return;
		}
	for (i = 0; buf[i]; i++)
		if (buf[i] == '_')
			buf[i] = ' ';
}

int page_finished(const char *s)
{
	return s && (!strcmp(s, "success") || !strcmp(s, "failed") || !strcmp(s, "canceled") ||
		     !strcmp(s, "skipped"));
}

void page_status(struct strbuf *out, const char *kind, int64_t id, const char *status)
{
	page_status_warn(out, kind, id, status, 0);
}

void page_pipeline_status(struct page *pg, struct strbuf *out, const struct store_pipeline *p)
{
	struct strbuf err = STRBUF_INIT;
	int64_t n = 0;

	if (p->status && !strcmp(p->status, "success") &&
	    store_job_allowed_failed(pg->st, p->id, &n, &err) < 0)
		n = 0;	/* the badge without its warnings: nothing else is lost */
	strbuf_release(&err);
	page_status_warn(out, "pipeline", p->id, p->status, (int)n);
}

void page_status_warn(struct strbuf *out, const char *kind, int64_t id, const char *status,
		      int allowed_failed)
{
	strbuf_addstr(out, "<span class=\"st st-");
	tmpl_escape(out, status);
	if (allowed_failed > 0 && !strcmp(status, "success"))
		strbuf_addf(out, " warnings\" title=\"passed with warnings: %d %s allowed to fail",
			    allowed_failed, allowed_failed == 1 ? "job failed that is" :
			    "jobs failed that are");
	strbuf_addf(out, "\" data-%s=\"%" PRId64 "\">", kind, id);
	tmpl_escape(out, status);
	strbuf_addstr(out, "</span>");
}

void page_path_encode(struct strbuf *out, const char *p)
{
	strbuf_add_urlpath(out, p);
}

int64_t page_id(struct http_request *req, const char *name)
{
	const char *s = http_request_param(req, name);
	char *end;
	long long v;

	if (!s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return 0;
	return v;
}

int page_form(struct http_request *req, const char *name, struct strbuf *out)
{
	return page_form_max(req, name, PAGE_MAX_FIELD, out);
}

int page_form_max(struct http_request *req, const char *name, size_t max, struct strbuf *out)
{
	size_t len;
	const char *b = http_request_body(req, &len);

	return page_form_value_max(b, len, name, max, out);
}

int page_form_value(const char *b, size_t len, const char *name, struct strbuf *out)
{
	return page_form_value_max(b, len, name, PAGE_MAX_FIELD, out);
}

int page_form_value_max(const char *b, size_t len, const char *name, size_t max,
			struct strbuf *out)
{
	size_t nl = strlen(name);
	const char *end = b + len, *p = b;

	strbuf_reset(out);
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *f_end = amp ? amp : end;

		if ((size_t)(f_end - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
			const char *v = p + nl + 1;

			if ((size_t)(f_end - v) > max * 3)
				return -2;
			for (; v < f_end; v++) {
				int h, l;

				if (*v == '+') {
					strbuf_addch(out, ' ');
				} else if (*v == '%' && v + 2 < f_end &&
					   (h = hex_value(v[1])) >= 0 && (l = hex_value(v[2])) >= 0) {
					if (h || l)
						strbuf_addch(out, (char)(h * 16 + l));
					v += 2;
				} else {
					strbuf_addch(out, *v);
				}
			}
			return out->len > max ? -2 : 0;
		}
		p = amp ? amp + 1 : NULL;
	}
	return -1;
}

int page_may_change(struct page *pg, const struct store_project *p, enum role min)
{
	struct strbuf csrf = STRBUF_INIT;
	int ok;

	if (auth_role(pg->srv, pg->st, &pg->who, p) < min) {
		page_error(pg->req, 403, "You may not do this on this project.");
		return -1;
	}
	page_form(pg->req, "csrf", &csrf);
	ok = auth_csrf_ok(&pg->who, csrf.len ? csrf.buf : NULL);
	strbuf_release(&csrf);
	if (!ok) {
		page_error(pg->req, 403, "The form is stale (CSRF token mismatch): reload the page.");
		return -1;
	}
	return 0;
}
