#ifndef CIDRE_WEB_H
#define CIDRE_WEB_H

/*
 * The web UI: server-rendered pages, served by cidre server beside the
 * API (the server's route table is the API's routes, then these).
 * See docs/internals/web.md.
 */

#include <stddef.h>

#include "http/http.h"
#include "store/store.h"
#include "util/strbuf.h"
#include "util/strvec.h"

extern const struct http_route web_routes[];
extern const size_t web_routes_nr;
/*
 * http_config's error_page: the HTTP layer's path errors (no such route,
 * wrong method, bad path) as an HTML page for every path but the API's
 * (/api/, /healthz, /metrics), which keep their JSON error.
 */
int web_error_page(struct http_request *req, unsigned status, const char *msg);

/* ---- handlers (src/web/NAME.c) ---- */
int web_project(struct http_request *req, void *ud);
int web_badge(struct http_request *req, void *ud);
int web_atom(struct http_request *req, void *ud);
int web_pipeline(struct http_request *req, void *ud);
int web_pipeline_cancel(struct http_request *req, void *ud);
int web_pipeline_retry(struct http_request *req, void *ud);
int web_job(struct http_request *req, void *ud);
int web_job_cancel(struct http_request *req, void *ud);
int web_job_retry(struct http_request *req, void *ud);
int web_job_play(struct http_request *req, void *ud);
/* /p/NAME/settings and its form posts (settings.c): maintainers only. */
int web_settings(struct http_request *req, void *ud);
int web_settings_public(struct http_request *req, void *ud);
int web_settings_protected(struct http_request *req, void *ud);
int web_settings_member(struct http_request *req, void *ud);
int web_settings_member_remove(struct http_request *req, void *ud);
int web_settings_variable(struct http_request *req, void *ud);
int web_settings_variable_delete(struct http_request *req, void *ud);
/* /p/NAME/schedules[/ID/ACTION] form posts (schedules.c): developers. */
int web_schedule_add(struct http_request *req, void *ud);
int web_schedule_edit(struct http_request *req, void *ud);
int web_schedule_update(struct http_request *req, void *ud);
int web_schedule_play(struct http_request *req, void *ud);
int web_schedule_activate(struct http_request *req, void *ud);
int web_schedule_deactivate(struct http_request *req, void *ud);
int web_schedule_delete(struct http_request *req, void *ud);
/*
 * The schedule form's variables, one KEY=value a line (CR LF or LF;
 * blank lines skipped; spaces around the key dropped, the value kept as
 * typed), as the JSON object text the rules check
 * (trigger_variables_check) and store: 0 with *ret (malloc'ed), or 400
 * with the reason in msg. web_schedule_variables_text: the other way,
 * a stored object as such lines appended to out; -1 when a value has a
 * line feed or carriage return (it cannot be shown so).
 */
int web_schedule_variables(const char *text, char **ret, struct strbuf *msg);
int web_schedule_variables_text(const char *json, struct strbuf *out);
/* /jobs/ID/artifacts[/DIR/]: one folder level of the job's artifacts. */
int web_artifacts(struct http_request *req, void *ud);

/*
 * The commit facts of pipeline p, from what the planner was given
 * (malloc'ed, NULL when unknown); changed/has_changed/message/more may be
 * NULL. changed: the files shown (at most PCTX_MAX_FILES), *more the
 * number left out.
 */
void web_commit_facts(const struct store_pipeline *p, char **title, char **author,
		      char **message, struct strvec *changed, int *has_changed, size_t *more);
/*
 * The same, for the pipeline page: a pipeline not made by a push gets
 * its commit's files diffed against the first parent on this first view,
 * and stored (pg's store).
 */
struct page;
void web_commit_files(struct page *pg, const struct store_pipeline *p, char **title,
		      char **author, char **message, struct strvec *changed, int *has_changed,
		      size_t *more);

#endif
