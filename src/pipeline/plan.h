#ifndef CIDRE_PLAN_H
#define CIDRE_PLAN_H

/*
 * The planner: given a loaded pipeline and the context of one run
 * (variables, changed files, which jobs the user asked for), decide which
 * job instances exist and how they depend on each other, exactly as
 * GitLab creates a pipeline: workflow:rules, rules/only/except, when,
 * allow_failure, parallel and parallel:matrix expansion, needs (DAG) or
 * stage order, dependencies.
 */

#include "pipeline/model.h"

struct plan_ctx {
	const struct varlist *predefined; /* pipeline-level CI_* variables */
	const struct varlist *overrides;  /* --variable K=V: highest precedence */
	const char *project_dir;          /* base of rules:exists */
	const struct strvec *changed;     /* rules:changes; NULL: always true */
	/*
	 * rules:changes:compare_to (GitLab's): the files changed from the
	 * merge base of ref and the pipeline's commit, in *out (the
	 * callee's, alive until the plan is built); -1 with err when ref
	 * names no commit. Asked once per distinct ref. NULL: compare_to is
	 * not evaluated and `changed` serves (cidre lint).
	 */
	int (*changed_since)(void *ud, const char *ref, struct strvec *out,
			     struct strbuf *err);
	void *changed_since_ud;
	const struct strvec *only_jobs;   /* NULL: all; else these names */
	int with_needs;                   /* with only_jobs: add their needs */
	const struct strvec *manual_jobs; /* --manual: run these manual jobs */
	int all_manual;                   /* run every manual job */
	/*
	 * Non-NULL: plan only the job instance of this name (the server's
	 * job supervisor). Other jobs' rules are not evaluated, and the
	 * plan_job's needs and deps are left empty: the caller has them.
	 */
	const char *one_job;
};

struct plan_need {
	size_t job;    /* index into plan->jobs */
	int artifacts;
};

struct plan_job {
	const struct job *def;
	char *name;               /* "test", "test 1/3", "build: [linux, amd64]" */
	size_t stage;             /* index into plan->stages */
	int node_index;           /* 1-based for parallel jobs, 0 otherwise */
	int node_total;
	struct varlist vars;      /* job + matrix + rules:variables (job level) */
	enum when when;           /* after rules: on_success..delayed, never excluded */
	char *start_in;           /* delayed */
	int allow_failure;        /* resolved (manual jobs default to 1) */
	int interruptible;        /* resolved: the matching rule's, else the job's; -1 unset */
	struct int_list allow_exit_codes;
	int run_manual;           /* manual job chosen to run (--manual) */
	int has_needs;            /* 1: starts when needs are done; 0: stage order */
	struct plan_need *needs;
	size_t needs_nr;
	size_t *deps;             /* jobs whose artifacts are restored, in order */
	size_t deps_nr;
};

struct plan {
	struct strvec stages;     /* the pipeline's stages (all of them) */
	struct plan_job *jobs;    /* in stage order, then file order */
	size_t nr;
	int workflow_skip;        /* workflow:rules decided not to run */
	int only_pre_post;        /* only .pre/.post jobs: no pipeline, no jobs */
	char *name;               /* workflow:name, expanded */
	/*
	 * workflow:auto_cancel, the matching workflow rule's winning (static
	 * strings; NULL: the defaults, conservative and none)
	 */
	const char *auto_cancel_new_commit;
	const char *auto_cancel_job_failure;
	struct varlist vars;      /* global variables after workflow:rules:variables */
};

/*
 * Build the plan. Problems that make the pipeline impossible (a need that
 * is not in the pipeline, a --job that does not exist, a bad rules:if)
 * go to d with positions; returns 0 on success, -1 on error.
 */
int plan_build(const struct pipeline *p, const struct plan_ctx *ctx,
	       struct plan *out, struct diag *d);
void plan_release(struct plan *plan);

/*
 * The complete, expanded variable set a job runs with, in GitLab's
 * precedence: predefined < global (per inherit:variables) < job <
 * overrides. Job-specific predefined variables (CI_JOB_NAME, CI_JOB_STAGE,
 * CI_NODE_INDEX, CI_NODE_TOTAL, CI_ENVIRONMENT_*) are included.
 */
void plan_job_vars(const struct plan *plan, const struct plan_job *job,
		   const struct plan_ctx *ctx, struct varlist *out);

#endif
