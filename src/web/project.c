/* The project page with its trend chart, the status badge, the Atom feed (web.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "git/mirror.h"
#include "web/page.h"
#include "web/web.h"

#define PER_PAGE 20
#define TREND_N 50
#define TREND_W 720
#define TREND_H 140
#define FEED_N 30
#define MAX_REF 255
#define BRANCHES 12

static const char *const statuses[] = { "running", "pending", "success", "failed", "canceled",
					"manual", "skipped", "created", "scheduled" };

static int known_status(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(statuses); i++)
		if (!strcmp(s, statuses[i]))
			return 1;
	return 0;
}

/*
 * The last pipelines as bars (height: duration, colour: status, oldest on
 * the left) and the pass rate over a sliding window of ten as a line.
 * A bar is as wide whatever their number (room for TREND_N): a project's
 * first pipeline is one narrow bar, not the whole chart.
 */
void web_trend_svg(struct strbuf *out, const struct store_pipeline *p, size_t n)
{
	int64_t max = 1;
	size_t i, k;
	double bw;

	for (i = 0; i < n; i++)
		if (store_pipeline_ms(&p[i]) > max)
			max = store_pipeline_ms(&p[i]);
	bw = (double)(TREND_W - 40) / (double)(n > TREND_N ? n : TREND_N);
	strbuf_addf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"trendchart\" width=\"%d\" "
		    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		    "aria-label=\"duration and pass rate\">\n", TREND_W, TREND_H + 20, TREND_W,
		    TREND_H + 20);
	strbuf_addf(out, "<text class=\"axis\" x=\"0\" y=\"12\">%.1f s</text>"
		    "<text class=\"axis\" x=\"0\" y=\"%d\">0</text>\n", (double)max / 1000.0, TREND_H);
	for (k = 0; k < n; k++) {
		const struct store_pipeline *q = &p[n - 1 - k];
		int64_t d = store_pipeline_ms(q) > 0 ? store_pipeline_ms(q) : 0;
		double h = (double)d * (TREND_H - 20) / (double)max;

		if (h < 2)
			h = 2;
		strbuf_addf(out, "<a href=\"/pipelines/%" PRId64 "\"><rect class=\"bar st-", q->id);
		tmpl_escape(out, q->status);
		strbuf_addf(out, "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>#%"
			    PRId64 " ", 40 + k * bw, TREND_H - h, bw > 3 ? bw - 2 : bw, h, q->id);
		tmpl_escape(out, q->status);
		strbuf_addf(out, ", %.1f s</title></rect></a>\n", (double)d / 1000.0);
	}
	/* pass rate: of the finished ones among the last ten at each point */
	strbuf_addstr(out, "<polyline class=\"rate\" points=\"");
	for (k = 0; k < n; k++) {
		int pass = 0, fin = 0;
		size_t j;

		for (j = k >= 9 ? k - 9 : 0; j <= k; j++) {
			const char *s = p[n - 1 - j].status;

			if (!strcmp(s, "success"))
				pass++;
			if (page_finished(s) && strcmp(s, "skipped"))
				fin++;
		}
		strbuf_addf(out, "%.1f,%.1f ", 40 + k * bw + bw / 2,
			    fin ? TREND_H - (double)pass / fin * (TREND_H - 20) : (double)TREND_H);
	}
	strbuf_addf(out, "\"/><text class=\"axis\" x=\"40\" y=\"%d\">pass rate (line), "
		    "duration (bars)</text>\n</svg>\n", TREND_H + 16);
}

/* "?ref=R&status=S&page=N" for the pager's links. */
static void page_href(struct strbuf *out, const char *name, const char *ref, const char *status,
		      int page)
{
	struct strbuf enc = STRBUF_INIT;

	strbuf_addf(out, "/p/%s?page=%d", name, page);
	if (ref && *ref) {
		page_path_encode(&enc, ref);
		strbuf_addf(out, "&ref=%s", enc.buf);
	}
	if (status && *status)
		strbuf_addf(out, "&status=%s", status);
	strbuf_release(&enc);
}

/* The branches built most recently, each with its last pipeline's status. */
static void branch_list(struct page *pg, const struct store_project *pr, struct strbuf *out)
{
	struct store_ref_last *r = NULL;
	struct strbuf err = STRBUF_INIT;
	size_t n = 0, i;

	if (store_pipeline_refs(pg->st, pr->id, BRANCHES, &r, &n, &err) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		struct store_pipeline p;
		struct strbuf st = STRBUF_INIT, refq = STRBUF_INIT;
		char id[24], age[32];

		memset(&p, 0, sizeof(p));
		if (store_pipeline_get(pg->st, r[i].pipeline_id, &p, &err) < 0)
			continue;
		snprintf(id, sizeof(id), "%" PRId64, p.id);
		page_age(age, sizeof(age), p.created);
		page_pipeline_status(pg, &st, &p);
		page_path_encode(&refq, r[i].ref);
		struct tmpl_var v[] = { tmpl_str("project", pr->name), tmpl_str("ref", r[i].ref),
					tmpl_str("refq", refq.buf), tmpl_html("status", st.buf),
					tmpl_str("id", id), tmpl_str("age", age) };
		page_render(out, "project", "branch", v, ARRAY_SIZE(v));
		strbuf_release(&st);
		strbuf_release(&refq);
		store_pipeline_release(&p);
	}
done:
	store_refs_last_free(r, n);
	strbuf_release(&err);
}

/* The project's five latest releases (the release: keyword), nothing when none. */
static void release_list(struct page *pg, const struct store_project *pr, struct strbuf *out)
{
	struct store_release *r = NULL;
	struct strbuf items = STRBUF_INIT;
	size_t n = 0, i;

	if (store_release_list(pg->st, pr->id, 5, &r, &n, NULL) < 0 || !n)
		goto done;
	for (i = 0; i < n; i++) {
		char id[24], day[11];

		snprintf(id, sizeof(id), "%" PRId64, r[i].pipeline_id);
		snprintf(day, sizeof(day), "%.10s", r[i].released_at ? r[i].released_at : "");
		struct tmpl_var v[] = { tmpl_str("tag", r[i].tag_name), tmpl_str("name", r[i].name),
					tmpl_str("day", day), tmpl_str("id", id) };
		page_render(&items, "project", "release", v, ARRAY_SIZE(v));
	}
	{
		struct tmpl_var v[] = { tmpl_html("items", items.buf) };

		page_render(out, "project", "releases", v, ARRAY_SIZE(v));
	}
done:
	store_releases_free(r, n);
	strbuf_release(&items);
}

/*
 * The project's pipeline schedules (docs/schedules.md): nothing when
 * none and the principal may not add one; with the developer role (and
 * a session: a form needs its CSRF token), each one's buttons and the
 * form that adds one.
 */
static void schedule_list(struct page *pg, const struct store_project *pr, enum role role,
			  struct strbuf *out)
{
	struct store_schedule *sc = NULL;
	struct strbuf rows = STRBUF_INIT, table = STRBUF_INIT, add = STRBUF_INIT;
	int edit = role >= ROLE_DEVELOPER && pg->who.csrf[0];
	size_t n = 0, i;

	if (store_schedule_list(pg->st, pr->id, &sc, &n, NULL) < 0 || (!n && !edit))
		goto done;
	for (i = 0; i < n; i++) {
		struct strbuf last = STRBUF_INIT, actions = STRBUF_INIT;
		char next[32], id[24], path[PAGE_MAX_FIELD];

		if (!sc[i].active)
			snprintf(next, sizeof(next), "inactive");
		else
			page_in(next, sizeof(next), sc[i].next_run_at);
		snprintf(id, sizeof(id), "%" PRId64, sc[i].id);
		if (sc[i].last_pipeline_id) {
			char lid[24];

			snprintf(lid, sizeof(lid), "%" PRId64, sc[i].last_pipeline_id);
			struct tmpl_var l[] = { tmpl_str("id", lid) };

			page_render(&last, "project", "lastrun", l, ARRAY_SIZE(l));
		}
		if (edit) {
			struct tmpl_var e[] = { tmpl_str("name", pr->name), tmpl_str("id", id) };

			page_render(&actions, "project", "schededitlink", e, ARRAY_SIZE(e));
			snprintf(path, sizeof(path), "/p/%s/schedules/%s/play", pr->name, id);
			web_action(pg, &actions, path, "Run now", "play");
			snprintf(path, sizeof(path), "/p/%s/schedules/%s/%s", pr->name, id,
				 sc[i].active ? "deactivate" : "activate");
			web_action(pg, &actions, path, sc[i].active ? "Deactivate" : "Activate",
				   "retry");
			struct tmpl_var d[] = {
				tmpl_str("name", pr->name), tmpl_str("id", id),
				tmpl_str("cron", sc[i].cron), tmpl_str("csrf", pg->who.csrf),
			};
			page_render(&actions, "project", "scheddelete", d, ARRAY_SIZE(d));
		}
		struct tmpl_var v[] = {
			tmpl_str("id", id),
			tmpl_str("description", sc[i].description), tmpl_str("cron", sc[i].cron),
			tmpl_str("tz", sc[i].cron_timezone),
			tmpl_str("ref", sc[i].ref ? sc[i].ref : "(default branch)"),
			tmpl_str("next", next), tmpl_html("last", last.buf),
			tmpl_html("actions", actions.buf),
		};
		page_render(&rows, "project", "schedule", v, ARRAY_SIZE(v));
		strbuf_release(&last);
		strbuf_release(&actions);
	}
	if (n) {
		struct tmpl_var v[] = { tmpl_html("rows", rows.buf) };

		page_render(&table, "project", "schedtable", v, ARRAY_SIZE(v));
	} else {
		page_render(&table, "project", "schednone", NULL, 0);
	}
	if (edit) {
		struct tmpl_var v[] = { tmpl_str("name", pr->name), tmpl_str("csrf", pg->who.csrf) };

		page_render(&add, "project", "schedadd", v, ARRAY_SIZE(v));
	}
	{
		struct tmpl_var v[] = { tmpl_html("table", table.buf), tmpl_html("add", add.buf) };

		page_render(out, "project", "schedules", v, ARRAY_SIZE(v));
	}
done:
	store_schedules_free(sc, n);
	strbuf_release(&rows);
	strbuf_release(&table);
	strbuf_release(&add);
}

int web_project(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_pipeline *pl = NULL, *tr = NULL;
	struct store_pipeline_filter f = { 0 }, tf = { 0 };
	struct strbuf err = STRBUF_INIT, body = STRBUF_INIT, rows = STRBUF_INIT;
	struct strbuf trend = STRBUF_INIT, opts = STRBUF_INIT, prev = STRBUF_INIT;
	struct strbuf next = STRBUF_INIT, refnote = STRBUF_INIT, branches = STRBUF_INIT;
	struct strbuf settings = STRBUF_INIT, schedules = STRBUF_INIT, releases = STRBUF_INIT;
	const char *ref = http_request_query(req, "ref");
	const char *status = http_request_query(req, "status");
	const char *pq = http_request_query(req, "page");
	size_t n = 0, nt = 0, i;
	long page = 1;
	char nstr[16];
	enum role role = ROLE_NONE;

	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (page_project(&pg, http_request_param(req, "name"), 0, &pr, &role) < 0)
		goto done;
	if (ref && (!*ref || strlen(ref) > MAX_REF))
		ref = NULL;
	if (status && !known_status(status))
		status = NULL;
	if (pq) {
		char *end;

		page = strtol(pq, &end, 10);
		if (*end || page < 1 || page > 100000)
			page = 1;
	}
	f.project_id = pr.id;
	f.ref = ref;
	f.status = status;
	f.limit = PER_PAGE + 1;
	f.offset = (int)((page - 1) * PER_PAGE);
	tf.project_id = pr.id;
	tf.ref = ref;
	tf.limit = TREND_N;
	if (store_pipeline_list(pg.st, &f, &pl, &n, &err) < 0 ||
	    store_pipeline_list(pg.st, &tf, &tr, &nt, &err) < 0) {
		page_error(req, 500, err.buf);
		goto done;
	}
	for (i = 0; i < n && i < PER_PAGE; i++) {
		struct strbuf st = STRBUF_INIT, refq = STRBUF_INIT;
		char id[24], sha[9], age[32], dur[32], run[48];
		char *title, *author;

		web_commit_facts(&pl[i], &title, &author, NULL, NULL, NULL, NULL);
		snprintf(id, sizeof(id), "%" PRId64, pl[i].id);
		snprintf(sha, sizeof(sha), "%.8s", pl[i].sha ? pl[i].sha : "");
		page_age(age, sizeof(age), pl[i].created);
		page_pipeline_duration(&pg, dur, sizeof(dur), run, sizeof(run), PAGE_RUN_JOB,
				       &pl[i], NULL, 0);
		page_pipeline_status(&pg, &st, &pl[i]);
		page_path_encode(&refq, pl[i].ref);
		struct tmpl_var v[] = {
			tmpl_str("id", id), tmpl_str("project", pr.name), tmpl_str("ref", pl[i].ref),
			tmpl_str("refq", refq.buf),
			tmpl_html("status", st.buf), tmpl_str("sha", sha), tmpl_str("title", title),
			tmpl_str("author", author), tmpl_str("source", pl[i].source),
			tmpl_str("age", age), tmpl_str("duration", dur), tmpl_html("run", run),
		};
		page_render(&rows, "project", "row", v, ARRAY_SIZE(v));
		strbuf_release(&st);
		strbuf_release(&refq);
		free(title);
		free(author);
	}
	if (!n)
		page_render(&rows, "project", "empty", NULL, 0);
	{
		struct tmpl_var v[] = { tmpl_str("value", ""), tmpl_str("label", "any"),
					tmpl_html("selected", "") };

		page_render(&opts, "project", "option", v, ARRAY_SIZE(v));
	}
	for (i = 0; i < ARRAY_SIZE(statuses); i++) {
		struct tmpl_var v[] = {
			tmpl_str("value", statuses[i]), tmpl_str("label", statuses[i]),
			tmpl_html("selected", status && !strcmp(status, statuses[i]) ? " selected" : ""),
		};
		page_render(&opts, "project", "option", v, ARRAY_SIZE(v));
	}
	if (page > 1) {
		struct strbuf h = STRBUF_INIT;

		page_href(&h, pr.name, ref, status, (int)page - 1);
		struct tmpl_var v[] = { tmpl_str("href", h.buf), tmpl_str("label", "← newer") };
		page_render(&prev, "project", "page", v, ARRAY_SIZE(v));
		strbuf_release(&h);
	}
	if (n > PER_PAGE) {
		struct strbuf h = STRBUF_INIT;

		page_href(&h, pr.name, ref, status, (int)page + 1);
		struct tmpl_var v[] = { tmpl_str("href", h.buf), tmpl_str("label", "older →") };
		page_render(&next, "project", "page", v, ARRAY_SIZE(v));
		strbuf_release(&h);
	}
	branch_list(&pg, &pr, &branches);
	release_list(&pg, &pr, &releases);
	schedule_list(&pg, &pr, role, &schedules);
	web_trend_svg(&trend, tr, nt);
	snprintf(nstr, sizeof(nstr), "%zu", nt);
	if (ref)
		strbuf_addf(&refnote, " on %s", ref);
	{
		/* its Pages site and previews, when it has them (docs/pages.md) */
		struct store_job *pj = NULL;
		size_t npj = 0, k;

		if (store_pages_list(pg.st, pr.id, server_now_ms(), &pj, &npj, NULL) == 0)
			for (k = 0; k < npj && k < 20; k++) {
				const char *pfx = pj[k].pages_prefix ? pj[k].pages_prefix : "";
				struct tmpl_var v[] = { tmpl_str("name", pr.name),
							tmpl_str("prefix", pfx) };

				page_render(&settings, "project", *pfx ? "preview" : "pages",
					    v, ARRAY_SIZE(v));
			}
		store_jobs_free(pj, npj);
	}
	if (role >= ROLE_MAINTAINER) {
		struct tmpl_var v[] = { tmpl_str("name", pr.name) };

		page_render(&settings, "settings", "link", v, ARRAY_SIZE(v));
	}
	{
		struct tmpl_var v[] = {
			tmpl_str("name", pr.name), tmpl_str("n", nstr), tmpl_str("refnote", refnote.buf),
			tmpl_html("trend", trend.buf), tmpl_str("ref", ref),
			tmpl_html("statuses", opts.buf), tmpl_html("rows", rows.buf),
			tmpl_html("prev", prev.buf), tmpl_html("next", next.buf),
			tmpl_html("branches", branches.buf), tmpl_html("settings", settings.buf),
			tmpl_html("schedules", schedules.buf), tmpl_html("releases", releases.buf),
		};
		page_render(&body, "project", NULL, v, ARRAY_SIZE(v));
	}
	page_send(&pg, 200, pr.name, body.buf);
done:
	store_project_release(&pr);
	store_pipelines_free(pl, n);
	store_pipelines_free(tr, nt);
	strbuf_release(&err);
	strbuf_release(&body);
	strbuf_release(&rows);
	strbuf_release(&settings);
	strbuf_release(&schedules);
	strbuf_release(&releases);
	strbuf_release(&trend);
	strbuf_release(&opts);
	strbuf_release(&prev);
	strbuf_release(&next);
	strbuf_release(&refnote);
	strbuf_release(&branches);
	return 0;
}

static const char *badge_color(const char *s)
{
	if (!strcmp(s, "success"))
		return "#2e7d32";
	if (!strcmp(s, "failed"))
		return "#c62828";
	if (!strcmp(s, "running") || !strcmp(s, "pending"))
		return "#1565c0";
	if (!strcmp(s, "canceled") || !strcmp(s, "skipped"))
		return "#757575";
	return "#9e9e9e";
}

int web_badge(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_pipeline *pl = NULL;
	struct store_pipeline_filter f = { 0 };
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	const char *ref = http_request_query(req, "ref");
	const char *status = "unknown";
	char *head = NULL, w[16], sw[16];
	size_t n = 0;

	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (page_project(&pg, http_request_param(req, "name"), 0, &pr, NULL) < 0)
		goto done;
	if (!ref || !*ref || strlen(ref) > MAX_REF) {
		char *m = server_mirror_path(pg.srv, pr.name);

		head = mirror_head_branch(m);
		free(m);
		ref = head;
	}
	f.project_id = pr.id;
	f.ref = ref;
	f.limit = 1;
	if (store_pipeline_list(pg.st, &f, &pl, &n, &err) == 0 && n)
		status = pl[0].status;
	snprintf(sw, sizeof(sw), "%zu", 12 + strlen(status) * 7);
	snprintf(w, sizeof(w), "%zu", 54 + 12 + strlen(status) * 7);
	{
		struct tmpl_var v[] = { tmpl_str("status", status), tmpl_str("w", w),
					tmpl_str("sw", sw), tmpl_str("color", badge_color(status)) };

		page_render(&out, "badge", "badge", v, ARRAY_SIZE(v));
	}
	http_add_header(req, "Cache-Control", "no-cache");
	http_respond_data(req, 200, "image/svg+xml", out.buf, out.len);
done:
	store_project_release(&pr);
	store_pipelines_free(pl, n);
	free(head);
	strbuf_release(&err);
	strbuf_release(&out);
	return 0;
}

static void iso_time(char *buf, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int web_atom(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_pipeline *pl = NULL;
	struct store_pipeline_filter f = { 0 };
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT, entries = STRBUF_INIT;
	const char *base;
	char updated[32];
	size_t n = 0, i;

	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (page_project(&pg, http_request_param(req, "name"), 0, &pr, NULL) < 0)
		goto done;
	f.project_id = pr.id;
	f.limit = FEED_N;
	if (store_pipeline_list(pg.st, &f, &pl, &n, &err) < 0) {
		page_error(req, 500, err.buf);
		goto done;
	}
	base = pg.srv->url ? pg.srv->url : "";
	for (i = 0; i < n; i++) {
		char id[24], up[32];
		char *title, *author;

		web_commit_facts(&pl[i], &title, &author, NULL, NULL, NULL, NULL);
		snprintf(id, sizeof(id), "%" PRId64, pl[i].id);
		iso_time(up, sizeof(up), pl[i].finished ? pl[i].finished : pl[i].created);
		struct tmpl_var v[] = {
			tmpl_str("base", base), tmpl_str("id", id), tmpl_str("status", pl[i].status),
			tmpl_str("ref", pl[i].ref), tmpl_str("title", title ? title : ""),
			tmpl_str("updated", up), tmpl_str("author", author ? author : "unknown"),
			tmpl_str("project", pr.name), tmpl_str("sha", pl[i].sha),
		};
		page_render(&entries, "atom", "entry", v, ARRAY_SIZE(v));
		free(title);
		free(author);
	}
	iso_time(updated, sizeof(updated), n ? (pl[0].finished ? pl[0].finished : pl[0].created) :
					       pr.created);
	{
		struct tmpl_var v[] = { tmpl_str("base", base), tmpl_str("project", pr.name),
					tmpl_str("updated", updated),
					tmpl_html("entries", entries.buf) };

		page_render(&out, "atom", "feed", v, ARRAY_SIZE(v));
	}
	http_respond_data(req, 200, "application/atom+xml; charset=utf-8", out.buf, out.len);
done:
	store_project_release(&pr);
	store_pipelines_free(pl, n);
	strbuf_release(&err);
	strbuf_release(&out);
	strbuf_release(&entries);
	return 0;
}
