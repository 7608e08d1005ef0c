/*
 * The web UI's routes (web.h): the dashboard, log in and out, static
 * files; the other pages are in pipeline.c, job.c, project.c, settings.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git/mirror.h"
#include "server/pctx.h"
#include "web/files.h"
#include "web/page.h"
#include "web/web.h"

#define DASH_JOBS 50

/* The commit's title and author from what the planner was given. */
/*
 * The commit's files against its first parent, for a pipeline whose
 * context names the parent (zeros for a root commit: then the files of
 * its tree) but no files yet: one diff in the mirror,
 * stored in the context so later views read it (best effort: a failure
 * shows no files and is tried again next time).
 */
static void diff_parent(struct page *pg, const struct store_pipeline *p, struct pctx *c)
{
	struct store_project pr;
	struct strvec files = STRVEC_INIT;
	char *mirror, *json;

	memset(&pr, 0, sizeof(pr));
	if (store_project_get_id(pg->st, p->project_id, &pr, NULL) < 0)
		return;
	mirror = server_mirror_path(pg->srv, pr.name);
	/* a root commit (its parent all zeros) adds every file of its tree */
	if ((strspn(c->parent, "0") == strlen(c->parent) ?
	     mirror_tree_files(mirror, p->sha, &files, NULL) :
	     mirror_changed(mirror, c->parent, p->sha, &files, NULL)) == 0) {
		pctx_set_files(c, &files);
		json = pctx_to_json(c);
		store_pipeline_set_ctx(pg->st, p->id, json, p->name, NULL);
		free(json);
	}
	strvec_clear(&files);
	free(mirror);
	store_project_release(&pr);
}

void web_commit_facts(const struct store_pipeline *p, char **title, char **author, char **message,
		      struct strvec *changed, int *has_changed, size_t *more)
{
	web_commit_files(NULL, p, title, author, message, changed, has_changed, more);
}

void web_commit_files(struct page *pg, const struct store_pipeline *p, char **title,
		      char **author, char **message, struct strvec *changed, int *has_changed,
		      size_t *more)
{
	struct pctx c;
	struct strbuf err = STRBUF_INIT;

	*title = *author = NULL;
	if (message)
		*message = NULL;
	if (has_changed)
		*has_changed = 0;
	if (more)
		*more = 0;
	pctx_init(&c);
	if (p->ctx && pctx_from_json(p->ctx, &c, &err) == 0) {
		*title = xstrdup_or_null(varlist_get(&c.predefined, "CI_COMMIT_TITLE"));
		*author = xstrdup_or_null(varlist_get(&c.predefined, "CI_COMMIT_AUTHOR"));
		if (message)
			*message = xstrdup_or_null(varlist_get(&c.predefined, "CI_COMMIT_MESSAGE"));
		if (pg && changed && !c.has_files && !c.has_changed && c.parent)
			diff_parent(pg, p, &c);
		if (changed && (c.has_files || c.has_changed)) {
			const struct strvec *from = c.has_files ? &c.files : &c.changed;
			size_t i;

			for (i = 0; i < from->nr; i++)
				strvec_push(changed, from->v[i]);
			*has_changed = 1;
			if (more)
				*more = c.has_files ? c.files_more : 0;
		}
	}
	pctx_release(&c);
	strbuf_release(&err);
}

static void dashboard_row(struct page *pg, const struct store_project *pr, struct strbuf *rows)
{
	struct store_pipeline_filter f = { .project_id = pr->id, .limit = 1 };
	struct store_pipeline *pl = NULL;
	struct strbuf err = STRBUF_INIT, status = STRBUF_INIT;
	char *mirror = server_mirror_path(pg->srv, pr->name);
	char *ref = mirror_head_branch(mirror);
	size_t n = 0;

	f.ref = ref;
	if (store_pipeline_list(pg->st, &f, &pl, &n, &err) == 0 && n == 0) {
		/* nothing on the default branch yet: the latest of any */
		f.ref = NULL;
		store_pipeline_list(pg->st, &f, &pl, &n, &err);
	}
	if (n) {
		char id[24], sha[9], age[32], dur[32], run[48];
		char *title, *author;

		web_commit_facts(&pl[0], &title, &author, NULL, NULL, NULL, NULL);
		snprintf(id, sizeof(id), "%" PRId64, pl[0].id);
		snprintf(sha, sizeof(sha), "%.8s", pl[0].sha ? pl[0].sha : "");
		page_age(age, sizeof(age), pl[0].created);
		page_pipeline_duration(pg, dur, sizeof(dur), run, sizeof(run), PAGE_RUN_JOB,
				       &pl[0], NULL, 0);
		page_pipeline_status(pg, &status, &pl[0]);
		struct tmpl_var v[] = {
			tmpl_str("project", pr->name), tmpl_str("ref", pl[0].ref),
			tmpl_html("status", status.buf), tmpl_str("id", id), tmpl_str("sha", sha),
			tmpl_str("title", title), tmpl_str("author", author), tmpl_str("age", age),
			tmpl_str("duration", dur), tmpl_html("run", run),
		};
		page_render(rows, "dashboard", "row", v, ARRAY_SIZE(v));
		free(title);
		free(author);
	} else {
		struct tmpl_var v[] = { tmpl_str("project", pr->name), tmpl_str("ref", ref) };

		page_render(rows, "dashboard", "none", v, ARRAY_SIZE(v));
	}
	store_pipelines_free(pl, n);
	strbuf_release(&status);
	strbuf_release(&err);
	free(mirror);
	free(ref);
}

static int h_dashboard(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project *pr = NULL;
	struct store_job *jobs = NULL;
	struct strbuf err = STRBUF_INIT, rows = STRBUF_INIT, jrows = STRBUF_INIT, body = STRBUF_INIT;
	size_t np = 0, nj = 0, i, shown = 0;

	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (store_project_list(pg.st, &pr, &np, &err) < 0 ||
	    store_job_active(pg.st, DASH_JOBS, &jobs, &nj, &err) < 0) {
		page_error(req, 500, err.buf);
		goto done;
	}
	for (i = 0; i < np; i++)
		if (auth_role(pg.srv, pg.st, &pg.who, &pr[i]) > ROLE_NONE)
			dashboard_row(&pg, &pr[i], &rows);
	for (i = 0; i < nj; i++) {
		struct strbuf st = STRBUF_INIT;
		char id[24], pid[24], age[32];
		size_t k;

		/* a job is shown when its project is among those shown */
		for (k = 0; k < np && pr[k].id != jobs[i].project_id; k++)
			;
		if (k == np || auth_role(pg.srv, pg.st, &pg.who, &pr[k]) == ROLE_NONE)
			continue;
		snprintf(id, sizeof(id), "%" PRId64, jobs[i].id);
		snprintf(pid, sizeof(pid), "%" PRId64, jobs[i].pipeline_id);
		page_age(age, sizeof(age), jobs[i].started ? jobs[i].started : jobs[i].queued);
		page_job_status(&st, &jobs[i]);
		struct tmpl_var v[] = {
			tmpl_str("id", id), tmpl_str("name", jobs[i].name),
			tmpl_str("project", jobs[i].project), tmpl_str("pipeline", pid),
			tmpl_html("status", st.buf), tmpl_str("age", age),
		};
		page_render(&jrows, "dashboard", "job", v, ARRAY_SIZE(v));
		strbuf_release(&st);
		shown++;
	}
	if (!shown)
		page_render(&jrows, "dashboard", "nojobs", NULL, 0);
	{
		struct tmpl_var v[] = { tmpl_html("rows", rows.buf), tmpl_html("jobs", jrows.buf) };

		page_render(&body, "dashboard", NULL, v, ARRAY_SIZE(v));
	}
	page_send(&pg, 200, "Dashboard", body.buf);
done:
	store_projects_free(pr, np);
	store_jobs_free(jobs, nj);
	strbuf_release(&err);
	strbuf_release(&rows);
	strbuf_release(&jrows);
	strbuf_release(&body);
	return 0;
}

/* ---- log in and out ---- */

static int login_form(struct page *pg, unsigned status, const char *login, const char *next,
		      const char *message)
{
	struct strbuf body = STRBUF_INIT, failed = STRBUF_INIT;
	struct tmpl_var m[] = { tmpl_str("message", message) };

	if (message)
		page_render(&failed, "login", "failed", m, 1);
	struct tmpl_var v[] = { tmpl_str("login", login), tmpl_str("next", next),
				tmpl_html("failed", failed.buf) };
	page_render(&body, "login", NULL, v, ARRAY_SIZE(v));
	page_send(pg, status, "Log in", body.buf);
	strbuf_release(&body);
	strbuf_release(&failed);
	return 0;
}

static int h_login_form(struct http_request *req, void *ud)
{
	struct page pg;
	const char *next = http_request_query(req, "next");

	if (page_begin_login(req, ud, &pg) < 0)
		return 0;
	return login_form(&pg, 200, "", next && tmpl_url_ok(next) && next[0] == '/' ? next : "/",
			  NULL);
}

static int secure_url(struct server *srv)
{
	return srv->url && !strncmp(srv->url, "https:", 6);
}

static int h_login(struct http_request *req, void *ud)
{
	struct page pg;
	struct strbuf login = STRBUF_INIT, pass = STRBUF_INIT, next = STRBUF_INIT;
	struct strbuf err = STRBUF_INIT, cookie = STRBUF_INIT;
	struct principal who;
	char session[AUTH_TOKEN_HEX + 1];
	int rc;

	if (page_begin_login(req, ud, &pg) < 0)
		return 0;
	if (page_form(req, "next", &next) < 0 || !tmpl_url_ok(next.buf) || next.buf[0] != '/') {
		strbuf_reset(&next);
		strbuf_addch(&next, '/');
	}
	if (page_form(req, "login", &login) < 0 || page_form(req, "password", &pass) < 0 ||
	    !login.len || login.len > AUTH_LOGIN_MAX || pass.len > 1024) {
		login_form(&pg, 400, "", next.buf, "Give a login (at most 64 characters) and a password.");
		goto done;
	}
	rc = auth_login(pg.srv, pg.st, login.buf, pass.buf, http_request_remote(req), &who,
			session, &err);
	if (rc < 0) {
		login_form(&pg, rc == -2 ? 429 : 403, login.buf, next.buf,
			   err.len ? err.buf : "Wrong login or password.");
		goto done;
	}
	strbuf_addf(&cookie, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s", AUTH_SESSION_COOKIE,
		    session, secure_url(pg.srv) ? "; Secure" : "");
	http_add_header(req, "Set-Cookie", cookie.buf);
	page_redirect(req, next.buf);
done:
	strbuf_release(&login);
	strbuf_release(&pass);
	strbuf_release(&next);
	strbuf_release(&err);
	strbuf_release(&cookie);
	return 0;
}

/* The session id from the Cookie header, or "". */
static void session_cookie(struct http_request *req, char out[AUTH_TOKEN_HEX + 1])
{
	const char *c = http_request_header(req, "Cookie");
	size_t nl = strlen(AUTH_SESSION_COOKIE), i;

	out[0] = '\0';
	while (c && *c) {
		while (*c == ' ' || *c == ';')
			c++;
		if (!strncmp(c, AUTH_SESSION_COOKIE, nl) && c[nl] == '=') {
			c += nl + 1;
			for (i = 0; i < AUTH_TOKEN_HEX && c[i] && c[i] != ';' && c[i] != ' '; i++)
				out[i] = c[i];
			out[i] = '\0';
			return;
		}
		c = strchr(c, ';');
	}
}

static int h_logout(struct http_request *req, void *ud)
{
	struct page pg;
	struct strbuf csrf = STRBUF_INIT;
	char session[AUTH_TOKEN_HEX + 1];

	if (page_begin_login(req, ud, &pg) < 0)
		return 0;
	page_form(req, "csrf", &csrf);
	if (!auth_csrf_ok(&pg.who, csrf.len ? csrf.buf : NULL)) {
		page_error(req, 403, "The form is stale (CSRF token mismatch): reload the page.");
	} else {
		session_cookie(req, session);
		auth_logout(pg.srv, pg.st, &pg.who, session);
		http_add_header(req, "Set-Cookie", AUTH_SESSION_COOKIE
				"=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
		page_redirect(req, "/");
	}
	strbuf_release(&csrf);
	return 0;
}

/* ---- static files ---- */

static int h_static(struct http_request *req, void *ud)
{
	const char *name = http_request_param(req, "file");
	char path[128];
	const char *data, *type = "application/octet-stream";
	size_t len;

	if (!name || strlen(name) > 64 || strchr(name, '/'))
		return page_error(req, 404, "Not found.");
	snprintf(path, sizeof(path), "static/%s", name);
	data = web_file_get(path, &len);
	if (!data)
		return page_error(req, 404, "Not found.");
	if (strstr(name, ".css"))
		type = "text/css; charset=utf-8";
	else if (strstr(name, ".js"))
		type = "text/javascript; charset=utf-8";
	else if (strstr(name, ".svg"))
		type = "image/svg+xml";
	/* an hour: a new server version is picked up the same day */
	http_add_header(req, "Cache-Control", "public, max-age=3600");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	return http_respond_data(req, 200, type, data, len);
}

int web_error_page(struct http_request *req, unsigned status, const char *msg)
{
	const char *p = http_request_path(req);

	if (!p || !strncmp(p, "/api/", 5) || !strcmp(p, "/api") || !strcmp(p, "/healthz") ||
	    !strcmp(p, "/metrics"))
		return -1;
	return page_error(req, status, status == 404 ? "No such page." :
			  status == 405 ? "This page does not take that method." : msg);
}

const struct http_route web_routes[] = {
	{ "GET", "/", h_dashboard },
	{ "GET", "/login", h_login_form },
	{ "POST", "/login", h_login },
	{ "POST", "/logout", h_logout },
	{ "GET", "/static/:file", h_static },
	{ "GET", "/p/:name", web_project },
	{ "GET", "/p/:name/badge.svg", web_badge },
	{ "GET", "/p/:name/pipelines.atom", web_atom },
	{ "GET", "/p/:name/settings", web_settings },
	{ "POST", "/p/:name/settings/public", web_settings_public },
	{ "POST", "/p/:name/settings/protected", web_settings_protected },
	{ "POST", "/p/:name/settings/members", web_settings_member },
	{ "POST", "/p/:name/settings/members/:login/remove", web_settings_member_remove },
	{ "POST", "/p/:name/settings/variables", web_settings_variable },
	{ "POST", "/p/:name/settings/variables/:key/delete", web_settings_variable_delete },
	{ "POST", "/p/:name/schedules", web_schedule_add },
	{ "GET", "/p/:name/schedules/:id/edit", web_schedule_edit },
	{ "POST", "/p/:name/schedules/:id", web_schedule_update },
	{ "POST", "/p/:name/schedules/:id/play", web_schedule_play },
	{ "POST", "/p/:name/schedules/:id/activate", web_schedule_activate },
	{ "POST", "/p/:name/schedules/:id/deactivate", web_schedule_deactivate },
	{ "POST", "/p/:name/schedules/:id/delete", web_schedule_delete },
	{ "GET", "/pipelines/:id", web_pipeline },
	{ "POST", "/pipelines/:id/cancel", web_pipeline_cancel },
	{ "POST", "/pipelines/:id/retry", web_pipeline_retry },
	{ "GET", "/jobs/:id", web_job },
	{ "GET", "/jobs/:id/artifacts", web_artifacts },
	{ "GET", "/jobs/:id/artifacts/*path", web_artifacts },
	{ "POST", "/jobs/:id/cancel", web_job_cancel },
	{ "POST", "/jobs/:id/retry", web_job_retry },
	{ "POST", "/jobs/:id/play", web_job_play },
};
const size_t web_routes_nr = sizeof(web_routes) / sizeof(web_routes[0]);
