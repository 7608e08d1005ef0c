/* The pipeline page, its graph, and its form posts (web.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "web/page.h"
#include "web/web.h"

#define NODE_W 170
#define NODE_H 32
#define COL_GAP 56
#define ROW_GAP 12
#define PAD 8
#define LABEL_H 20  /* stage names above the columns */
#define FAILURES_SHOWN 50

/*
 * One button's form (csrf from the principal); confirm, when not empty,
 * is asked in the browser before it is sent (cidre.js: data-confirm).
 */
static void action_confirm(struct page *pg, struct strbuf *out, const char *action,
			   const char *label, const char *cls, const char *confirm)
{
	struct tmpl_var v[] = { tmpl_str("action", action), tmpl_str("label", label),
				tmpl_str("class", cls), tmpl_str("csrf", pg->who.csrf),
				tmpl_str("confirm", confirm ? confirm : "") };

	page_render(out, "pipeline", "action", v, ARRAY_SIZE(v));
}

void web_action(struct page *pg, struct strbuf *out, const char *action, const char *label,
		const char *cls)
{
	action_confirm(pg, out, action, label, cls, NULL);
}

/* The job's buttons for a principal allowed to change it. */
void web_job_actions(struct page *pg, struct strbuf *out, const struct store_job *j)
{
	char path[64];

	if (!strcmp(j->status, "manual")) {
		snprintf(path, sizeof(path), "/jobs/%" PRId64 "/play", j->id);
		/* GitLab's manual_confirmation: asked before the job is played */
		action_confirm(pg, out, path, "Play", "play", j->manual_confirmation);
	}
	if (!strcmp(j->status, "pending") || !strcmp(j->status, "running") ||
	    !strcmp(j->status, "created") || !strcmp(j->status, "scheduled")) {
		snprintf(path, sizeof(path), "/jobs/%" PRId64 "/cancel", j->id);
		web_action(pg, out, path, "Cancel", "cancel");
	}
	if (page_finished(j->status) && strcmp(j->status, "skipped") && !j->retried) {
		snprintf(path, sizeof(path), "/jobs/%" PRId64 "/retry", j->id);
		web_action(pg, out, path, "Retry", "retry");
	}
}

/* The name cut to fit a node (at a UTF-8 boundary), escaped. */
static void node_label(struct strbuf *out, const char *name)
{
	size_t n = strlen(name), max = 22;

	if (n <= max) {
		tmpl_escape(out, name);
		return;
	}
	while (max && ((unsigned char)name[max] & 0xc0) == 0x80)
		max--;
	tmpl_escape_n(out, name, max);
	strbuf_addstr(out, "…");
}

/*
 * The jobs as a graph: a column per stage, a node per job (a link to its
 * page, coloured by status), an edge per `needs` entry.
 */
void web_dag_svg(struct strbuf *out, const struct store_job *jobs, size_t n)
{
	int *col = calloc(n ? n : 1, sizeof(int)), *row = calloc(n ? n : 1, sizeof(int));
	int stage_col[256], ncol = 0, rows[256] = { 0 }, maxrow = 0;
	size_t i, k;
	int w, h;

	for (i = 0; i < 256; i++)
		stage_col[i] = -1;
	/* stage_idx values in order of appearance are increasing by plan */
	for (i = 0; i < n; i++) {
		int s = jobs[i].stage_idx & 255;

		if (stage_col[s] < 0)
			stage_col[s] = 0;
	}
	for (i = 0; i < 256; i++)
		if (stage_col[i] >= 0)
			stage_col[i] = ncol++;
	for (i = 0; i < n; i++) {
		col[i] = stage_col[jobs[i].stage_idx & 255];
		row[i] = rows[col[i]]++;
		if (rows[col[i]] > maxrow)
			maxrow = rows[col[i]];
	}
	w = PAD * 2 + ncol * NODE_W + (ncol > 0 ? ncol - 1 : 0) * COL_GAP;
	h = PAD * 2 + LABEL_H + maxrow * NODE_H + (maxrow > 0 ? maxrow - 1 : 0) * ROW_GAP;
	strbuf_addf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"graph\" width=\"%d\" "
		    "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"jobs graph\">\n",
		    w, h, w, h);
	for (i = 0; i < n; i++) {
		if (row[i])
			continue;
		strbuf_addf(out, "<text class=\"stage\" x=\"%d\" y=\"%d\">",
			    PAD + col[i] * (NODE_W + COL_GAP), PAD + 12);
		node_label(out, jobs[i].stage);
		strbuf_addstr(out, "</text>\n");
	}
	/* edges first, under the nodes */
	for (i = 0; i < n; i++) {
		json_t *needs = jobs[i].needs ? json_loads(jobs[i].needs, 0, NULL) : NULL;
		json_t *e;
		size_t x;

		json_array_foreach(needs, x, e) {
			json_int_t from = json_integer_value(json_object_get(e, "job"));

			for (k = 0; k < n; k++)
				if (jobs[k].plan_idx == from)
					break;
			if (k == n)
				continue;
			int x1 = PAD + col[k] * (NODE_W + COL_GAP) + NODE_W;
			int y1 = PAD + LABEL_H + row[k] * (NODE_H + ROW_GAP) + NODE_H / 2;
			int x2 = PAD + col[i] * (NODE_W + COL_GAP);
			int y2 = PAD + LABEL_H + row[i] * (NODE_H + ROW_GAP) + NODE_H / 2;

			strbuf_addf(out, "<path class=\"edge\" d=\"M%d %d C%d %d %d %d %d %d\"/>\n",
				    x1, y1, x1 + COL_GAP / 2, y1, x2 - COL_GAP / 2, y2, x2, y2);
		}
		json_decref(needs);
	}
	for (i = 0; i < n; i++) {
		int x = PAD + col[i] * (NODE_W + COL_GAP);
		int y = PAD + LABEL_H + row[i] * (NODE_H + ROW_GAP);

		strbuf_addf(out, "<a href=\"/jobs/%" PRId64 "\"><g class=\"node st-", jobs[i].id);
		tmpl_escape(out, jobs[i].status);
		if (jobs[i].allow_failure)
			strbuf_addstr(out, " allowed");
		strbuf_addf(out, "\" data-job=\"%" PRId64 "\" data-in=\"%" PRId64 "\"><title>",
			    jobs[i].id, jobs[i].pipeline_id);
		tmpl_escape(out, jobs[i].name);
		strbuf_addstr(out, ": ");
		tmpl_escape(out, jobs[i].status);
		if (jobs[i].allow_failure)
			strbuf_addstr(out, " (allowed to fail)");
		strbuf_addf(out, "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"6\"/>"
			    "<circle cx=\"%d\" cy=\"%d\" r=\"5\"/><text x=\"%d\" y=\"%d\">",
			    x, y, NODE_W, NODE_H, x + 14, y + NODE_H / 2, x + 26, y + NODE_H / 2 + 4);
		node_label(out, jobs[i].name);
		strbuf_addstr(out, "</text></g></a>\n");
	}
	strbuf_addstr(out, "</svg>\n");
	free(col);
	free(row);
}

static void failures(struct page *pg, const struct store_job *jobs, size_t n, struct strbuf *out)
{
	struct strbuf items = STRBUF_INIT, err = STRBUF_INIT;
	size_t i, k, shown = 0;

	for (i = 0; i < n && shown < FAILURES_SHOWN; i++) {
		struct store_test *t = NULL;
		size_t nt = 0;
		char jid[24];

		if (jobs[i].tests_total < 0 || jobs[i].tests_failed + jobs[i].tests_errors == 0)
			continue;
		if (store_tests_list(pg->st, jobs[i].id, 1, &t, &nt, &err) < 0)
			continue;
		snprintf(jid, sizeof(jid), "%" PRId64, jobs[i].id);
		for (k = 0; k < nt && shown < FAILURES_SHOWN; k++, shown++) {
			struct tmpl_var v[] = { tmpl_str("job", jid), tmpl_str("name", t[k].name),
						tmpl_str("classname", t[k].classname),
						tmpl_str("jobname", jobs[i].name) };

			page_render(&items, "pipeline", "failure", v, ARRAY_SIZE(v));
		}
		store_tests_free(t, nt);
	}
	if (items.len) {
		struct tmpl_var v[] = { tmpl_html("items", items.buf) };

		page_render(out, "pipeline", "failures", v, 1);
	}
	strbuf_release(&items);
	strbuf_release(&err);
}

int web_pipeline(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_pipeline p;
	struct store_project pr;
	struct store_job *jobs = NULL;
	struct strbuf err = STRBUF_INIT, body = STRBUF_INIT, status = STRBUF_INIT;
	struct strbuf jrows = STRBUF_INIT, dag = STRBUF_INIT, actions = STRBUF_INIT;
	struct strbuf error = STRBUF_INIT, msg = STRBUF_INIT, changed = STRBUF_INIT;
	struct strbuf fail = STRBUF_INIT, title = STRBUF_INIT;
	struct strvec files = STRVEC_INIT;
	char *ctitle = NULL, *author = NULL, *message = NULL;
	int has_changed = 0, allowed_failed = 0;
	size_t more = 0;
	enum role role;
	size_t nj = 0, i;
	int64_t id = page_id(req, "id");
	char sid[24], age[32], dur[32], prun[48];

	memset(&p, 0, sizeof(p));
	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (!id || store_pipeline_get(pg.st, id, &p, &err) < 0) {
		page_error(req, 404, "Not found.");
		goto done;
	}
	if (page_project(&pg, NULL, p.project_id, &pr, &role) < 0)
		goto done;
	if (store_job_list(pg.st, id, 0, &jobs, &nj, &err) < 0) {
		page_error(req, 500, err.buf);
		goto done;
	}
	web_commit_files(&pg, &p, &ctitle, &author, &message, &files, &has_changed, &more);
	snprintf(sid, sizeof(sid), "%" PRId64, p.id);
	page_age(age, sizeof(age), p.created);
	page_pipeline_duration(&pg, dur, sizeof(dur), prun, sizeof(prun), PAGE_RUN_PIPELINE,
			       &p, jobs, nj);
	for (i = 0; i < nj; i++)
		allowed_failed += jobs[i].allow_failure && !strcmp(jobs[i].status, "failed");
	page_status_warn(&status, "pipeline", p.id, p.status, allowed_failed);
	if (p.error) {
		struct tmpl_var v[] = { tmpl_str("error", p.error) };

		page_render(&error, "pipeline", "error", v, 1);
	}
	if (message && ctitle && strcmp(message, ctitle) && strlen(message) > strlen(ctitle) + 1) {
		struct tmpl_var v[] = { tmpl_str("message", message) };

		page_render(&msg, "pipeline", "message", v, 1);
	}
	if (has_changed) {
		struct strbuf li = STRBUF_INIT;
		char count[48];

		for (i = 0; i < files.nr; i++) {
			struct tmpl_var v[] = { tmpl_str("file", files.v[i]) };

			page_render(&li, "pipeline", "file", v, 1);
		}
		if (more) {
			char n[24];

			snprintf(n, sizeof(n), "%zu", more);
			struct tmpl_var v[] = { tmpl_str("n", n) };
			page_render(&li, "pipeline", "more", v, 1);
		}
		snprintf(count, sizeof(count), "%zu changed file%s", files.nr + more,
			 files.nr + more == 1 ? "" : "s");
		struct tmpl_var v[] = { tmpl_str("count", count), tmpl_html("files", li.buf) };
		page_render(&changed, "pipeline", "changed", v, ARRAY_SIZE(v));
		strbuf_release(&li);
	}
	if (role >= ROLE_DEVELOPER) {
		char path[64];

		if (!page_finished(p.status)) {
			snprintf(path, sizeof(path), "/pipelines/%" PRId64 "/cancel", p.id);
			web_action(&pg, &actions, path, "Cancel pipeline", "cancel");
		}
		if (!strcmp(p.status, "failed") || !strcmp(p.status, "canceled")) {
			snprintf(path, sizeof(path), "/pipelines/%" PRId64 "/retry", p.id);
			web_action(&pg, &actions, path, "Retry failed jobs", "retry");
		}
	}
	web_dag_svg(&dag, jobs, nj);
	for (i = 0; i < nj; i++) {
		struct strbuf st = STRBUF_INIT, ja = STRBUF_INIT, att = STRBUF_INIT;
		char jid[24], jd[32], run[48], tests[64] = "";

		snprintf(jid, sizeof(jid), "%" PRId64, jobs[i].id);
		page_duration(jd, sizeof(jd), jobs[i].started, jobs[i].finished);
		page_running(run, sizeof(run), jobs[i].started, jobs[i].finished);
		if (jobs[i].tests_total >= 0)
			snprintf(tests, sizeof(tests), "%d/%d passed",
				 jobs[i].tests_total - jobs[i].tests_failed - jobs[i].tests_errors -
					 jobs[i].tests_skipped, jobs[i].tests_total);
		if (jobs[i].attempt > 1)
			strbuf_addf(&att, " <span class=\"muted\">(attempt %d)</span>", jobs[i].attempt);
		page_job_status(&st, &jobs[i]);
		if (role >= ROLE_DEVELOPER)
			web_job_actions(&pg, &ja, &jobs[i]);
		struct tmpl_var v[] = {
			tmpl_str("id", jid), tmpl_str("name", jobs[i].name),
			tmpl_str("stage", jobs[i].stage), tmpl_html("status", st.buf),
			tmpl_str("duration", jd), tmpl_html("run", run), tmpl_str("tests", tests),
			tmpl_html("actions", ja.buf), tmpl_html("attempt", att.buf),
		};
		page_render(&jrows, "pipeline", "job", v, ARRAY_SIZE(v));
		strbuf_release(&st);
		strbuf_release(&ja);
		strbuf_release(&att);
	}
	failures(&pg, jobs, nj, &fail);
	{
		/* a tag pipeline says so: "tag v1.2" */
		char *ref = xasprintf("%s%s", p.tag ? "tag " : "", p.ref);
		struct tmpl_var v[] = {
			tmpl_str("project", pr.name), tmpl_str("ref", ref), tmpl_str("id", sid),
			tmpl_html("status", status.buf), tmpl_html("error", error.buf),
			tmpl_str("title", ctitle), tmpl_str("author", author), tmpl_str("sha", p.sha),
			tmpl_str("source", p.source), tmpl_str("age", age), tmpl_str("duration", dur),
			tmpl_html("prun", prun),
			tmpl_html("message", msg.buf), tmpl_html("changed", changed.buf),
			tmpl_html("actions", actions.buf), tmpl_html("dag", dag.buf),
			tmpl_html("jobs", jrows.buf), tmpl_html("failures", fail.buf),
		};
		page_render(&body, "pipeline", NULL, v, ARRAY_SIZE(v));
		free(ref);
	}
	strbuf_addf(&title, "Pipeline #%" PRId64 " · %s", p.id, pr.name);
	page_send(&pg, 200, title.buf, body.buf);
done:
	store_pipeline_release(&p);
	store_project_release(&pr);
	store_jobs_free(jobs, nj);
	strvec_clear(&files);
	free(ctitle);
	free(author);
	free(message);
	strbuf_release(&err);
	strbuf_release(&body);
	strbuf_release(&status);
	strbuf_release(&jrows);
	strbuf_release(&dag);
	strbuf_release(&actions);
	strbuf_release(&error);
	strbuf_release(&msg);
	strbuf_release(&changed);
	strbuf_release(&fail);
	strbuf_release(&title);
	return 0;
}

typedef int (*pipeline_op_fn)(struct server *, struct store *, int64_t, struct strbuf *);

static int pipeline_op(struct http_request *req, void *ud, pipeline_op_fn fn)
{
	struct page pg;
	struct store_pipeline p;
	struct store_project pr;
	struct strbuf err = STRBUF_INIT;
	int64_t id = page_id(req, "id");
	char back[64];

	memset(&p, 0, sizeof(p));
	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (!id || store_pipeline_get(pg.st, id, &p, &err) < 0) {
		page_error(req, 404, "Not found.");
		goto done;
	}
	if (page_project(&pg, NULL, p.project_id, &pr, NULL) < 0 ||
	    page_may_change(&pg, &pr, ROLE_DEVELOPER) < 0)
		goto done;
	if (fn(pg.srv, pg.st, id, &err) < 0) {
		page_error(req, 409, err.len ? err.buf : "That cannot be done now.");
		goto done;
	}
	snprintf(back, sizeof(back), "/pipelines/%" PRId64, id);
	page_redirect(req, back);
done:
	store_pipeline_release(&p);
	store_project_release(&pr);
	strbuf_release(&err);
	return 0;
}

int web_pipeline_cancel(struct http_request *req, void *ud)
{
	return pipeline_op(req, ud, runner_cancel_pipeline);
}

int web_pipeline_retry(struct http_request *req, void *ud)
{
	return pipeline_op(req, ud, runner_retry_pipeline);
}
