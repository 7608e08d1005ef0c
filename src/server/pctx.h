#ifndef CIDRE_PCTX_H
#define CIDRE_PCTX_H

/*
 * What the planner was given for one server pipeline, kept with the
 * pipeline (store_pipeline.ctx, JSON) so that the job supervisor, in its
 * own process and workspace, rebuilds exactly the same plan: the
 * pipeline file's name, the predefined variables, the trigger's
 * variables, and the files the push changed.
 */

#include "pipeline/plan.h"
#include "util/diag.h"
#include "util/strvec.h"

struct pctx {
	char *file;                /* NULL: .cidre.yml, else .gitlab-ci.yml */
	struct varlist predefined;
	struct varlist overrides;  /* trigger variables */
	struct varlist inputs;     /* the pipeline file's spec:inputs: name -> YAML text */
	int has_changed;           /* 0: every rules:changes is true */
	struct strvec changed;
	/*
	 * What the pipeline page lists as the commit's changed files: the
	 * push's, else the commit against its first parent; at most
	 * PCTX_MAX_FILES, files_more the rest. Not used for planning.
	 */
	int has_files;
	struct strvec files;
	size_t files_more;
	/*
	 * The commit's first parent when the files are not known yet (a
	 * pipeline not made by a push): the pipeline page diffs it once, on
	 * its first view, and stores the files (no git process on the
	 * trigger's path).
	 */
	char *parent;
	/*
	 * Not part of the JSON: the project's mirror, set by whoever plans
	 * (the pipeline's creation, a job's supervisor), for
	 * rules:changes:compare_to against the commit CI_COMMIT_SHA names.
	 * NULL: compare_to is not evaluated.
	 */
	const char *mirror;
	/*
	 * Not part of the JSON either: include:project (load_opts's
	 * project_file), set by the pipeline's creation. NULL: refused.
	 */
	int (*project_file)(void *ud, const char *project, const char *ref, const char *file,
			    size_t max, struct strbuf *out, struct strbuf *err);
	void *project_file_ud;
	/* include:remote (load_opts.remote_file); NULL: exec/fetch.c's */
	int (*remote_file)(void *ud, const char *url, size_t max, struct strbuf *out,
			   struct strbuf *err);
	void *remote_file_ud;
};

#define PCTX_MAX_FILES 1000

/* Set c's shown files from list (copied, capped at PCTX_MAX_FILES). */
void pctx_set_files(struct pctx *c, const struct strvec *list);

void pctx_init(struct pctx *c);
void pctx_release(struct pctx *c);
/* Serialise (malloc'ed JSON text). */
char *pctx_to_json(const struct pctx *c);
/* Parse what pctx_to_json wrote. 0, or -1 with err. */
int pctx_from_json(const char *json, struct pctx *c, struct strbuf *err);

/* JSON object text <-> variables ({"K": "V", ...}). */
char *pctx_vars_json(const struct varlist *vl);
int pctx_vars_parse(const char *json, struct varlist *out, struct strbuf *err);

/*
 * Load the pipeline file of the tree at root and plan it with c. On
 * success *ret_p (pipeline_free) and *ret_plan (plan_release) are set;
 * on failure d holds the errors with positions. one_job non-NULL plans
 * that job instance alone (plan_ctx.one_job: the supervisor's case);
 * without it the pipeline keeps the cuts (load_opts.cut).
 */
int pctx_plan(const char *root, const struct pctx *c, const char *one_job,
	      struct pipeline **ret_p,
	      struct plan *ret_plan, struct diag *d);

/*
 * The same for one job, from what the whole planning kept (the
 * pipeline's cut_globals and the job's cut): the file is not read, only
 * the tree at root for rules:exists. instance is the job's name in the
 * plan (a parallel instance's, e.g. "test 1/3").
 */
int pctx_plan_cut(const char *root, const struct pctx *c, const char *instance,
		  const char *globals, const char *cut,
		  struct pipeline **ret_p, struct plan *ret_plan, struct diag *d);

#endif
