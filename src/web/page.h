#ifndef CIDRE_WEB_PAGE_H
#define CIDRE_WEB_PAGE_H

/*
 * What the web UI's handlers share: who is asking, the layout, the
 * formatting of times and statuses, forms. Private to src/web/.
 */

#include <stdint.h>

#include "server/auth.h"
#include "server/server.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "web/tmpl.h"

#define PAGE_MAX_FIELD 4096  /* a form field's value */

struct page {
	struct server *srv;
	struct store *st;
	struct http_request *req;
	struct principal who;
};

/* The store and the principal; -1 when a response was sent (500, 401). */
int page_begin(struct http_request *req, void *ud, struct page *pg);
/* The same for the login pages: wrong credentials are taken as anonymous. */
int page_begin_login(struct http_request *req, void *ud, struct page *pg);
/*
 * The live project pg may see, by name or id (name NULL); its role in
 * *ret_role when not NULL. -1 with 404 sent when there is none or the
 * principal may not see it (a hidden project is not found).
 */
int page_project(struct page *pg, const char *name, int64_t id, struct store_project *p,
		 enum role *ret_role);

/* The embedded template name ("job" is templates/job.html); "" (logged) if missing. */
const char *page_tmpl(const char *name);
/* Render a block (or the whole template with block NULL) of template name. */
void page_render(struct strbuf *out, const char *name, const char *block,
		 const struct tmpl_var *vars, size_t nr);
/* The layout's top (title escaped) and bottom around a page's body. */
void page_top(struct page *pg, struct strbuf *out, const char *title);
void page_bottom(struct page *pg, struct strbuf *out);
/* The security headers of every page (CSP, nosniff, referrer policy). */
void page_headers(struct http_request *req);
/* Respond with a whole page: top, body (HTML), bottom. */
int page_send(struct page *pg, unsigned status, const char *title, const char *body);
/* An error page with the message (escaped). */
int page_error(struct http_request *req, unsigned status, const char *msg);
/* 303 See Other to a path of ours. */
int page_redirect(struct http_request *req, const char *path);

/* "3 min ago"; "" for 0. */
void page_age(char *buf, size_t n, int64_t ms);
/* A time ahead: "in 3 days", "in 5 min", "in 12 s" (a past one: "in 0 s"). */
void page_in(char *buf, size_t n, int64_t ms);
/* "1 min 12 s", "850 ms"; "" when not started/finished. */
void page_duration(char *buf, size_t n, int64_t from, int64_t to);
/* ms as page_duration writes it */
void page_ms(char *buf, size_t n, int64_t ms);
/*
 * What runs: ` data-run-ms="ELAPSED"` for the tag of its duration, whose
 * text the page's script then counts on (cidre.js); "" once it ended or
 * before it started.
 */
void page_running(char *buf, size_t n, int64_t started, int64_t finished);
/* When a running pipeline's duration counts on (page_pipeline_duration) */
enum page_run {
	PAGE_RUN_JOB,        /* while one of its jobs runs (a row of a list) */
	PAGE_RUN_PIPELINE,   /* while it runs (its page: the job cells say when) */
};
/*
 * A pipeline's duration (store_pipeline_ms) into buf: the time its jobs
 * ran. While it runs (again), the time they have run so far, from
 * jobs[0..nj) or, jobs NULL, its jobs read from the store: a pipeline
 * running again days after its first run shows minutes, not days.
 * run: page_running() for it, ` data-run-ms="SO_FAR"`, while its
 * status is running, as `when` says; else "" (one that waits for a
 * manual job stands still).
 */
void page_pipeline_duration(struct page *pg, char *buf, size_t n,
			    char *run, size_t rn, enum page_run when,
			    const struct store_pipeline *p,
			    const struct store_job *jobs, size_t nj);
/* "12.3 MiB"; "" for < 0 */
void page_bytes(char *buf, size_t n, int64_t bytes);
/* A live status label: <span class="st st-S" data-KIND="ID">S</span> (KIND: pipeline, job). */
void page_status(struct strbuf *out, const char *kind, int64_t id, const char *status);
/*
 * page_status(), for a pipeline that passed with allowed_failed jobs
 * failed that were allowed to: class `warnings` (and a title saying so).
 */
void page_status_warn(struct strbuf *out, const char *kind, int64_t id, const char *status,
		      int allowed_failed);
/*
 * A job's: data-in names its pipeline, whose jobs the script polls at
 * once. A job allowed to fail has the class `allowed` (and says so in
 * its title): failed, it shows as a warning, not as a failure.
 */
void page_job_status(struct strbuf *out, const struct store_job *j);
/*
 * Why a job failed, in words: "the script failed", "timed out", "out of
 * memory"; the store's name for any other reason, its underscores as
 * spaces. "" for none.
 */
void page_failure(char *buf, size_t n, const char *reason);
int page_finished(const char *status);
/* A pipeline's live status label, with its warnings when it passed with any (a store read) */
void page_pipeline_status(struct page *pg, struct strbuf *out, const struct store_pipeline *p);
/* The path with each segment percent-encoded (for links to artifacts). */
void page_path_encode(struct strbuf *out, const char *path);
/* A positive id from a route parameter; 0 when it is not one. */
int64_t page_id(struct http_request *req, const char *name);

/*
 * The value of field name in an application/x-www-form-urlencoded body,
 * decoded into out; -1 when absent, -2 when longer than PAGE_MAX_FIELD
 * (out then holds nothing or a part: not to be used).
 */
int page_form(struct http_request *req, const char *name, struct strbuf *out);
/* The same with another cap on the decoded value (the body is capped by the HTTP layer). */
int page_form_max(struct http_request *req, const char *name, size_t max, struct strbuf *out);
/* The same on a form body b[0..len) (not NUL-terminated), for the fuzzer. */
int page_form_value(const char *b, size_t len, const char *name, struct strbuf *out);
int page_form_value_max(const char *b, size_t len, const char *name, size_t max,
			struct strbuf *out);
/*
 * For a form post that changes state: the principal's role on the project
 * is at least min and the form's csrf field is the session's. -1 with 403
 * sent otherwise.
 */
int page_may_change(struct page *pg, const struct store_project *p, enum role min);

/* ---- shared by the pages (pipeline.c) ---- */
struct store_job;
/* A button: a form posting to action with the csrf field. */
void web_action(struct page *pg, struct strbuf *out, const char *action, const char *label,
		const char *cls);
/* The play/cancel/retry buttons that fit job j's status. */
void web_job_actions(struct page *pg, struct strbuf *out, const struct store_job *j);
/* The jobs as an SVG graph: a column per stage, an edge per need. */
void web_dag_svg(struct strbuf *out, const struct store_job *jobs, size_t n);

#endif
