#ifndef CIDRE_MODEL_H
#define CIDRE_MODEL_H

/*
 * The pipeline model: a pipeline file after YAML parsing, `include`,
 * `extends`, `!reference`, `default:` and `inherit:` have been resolved
 * and every keyword has been type-checked. Nothing here depends on a ref,
 * a variable value or rules: that is the planner's job (plan.h).
 *
 * Every string is owned by the struct holding it and freed by
 * pipeline_free(). Positions point into pipeline->files (interned names).
 * "Unset" is explicit (has_* flags or -1) wherever GitLab distinguishes
 * an absent keyword from its default value.
 */

#include <stddef.h>

#include "pipeline/vars.h"
#include "util/diag.h"
#include "util/strvec.h"

enum when {
	WHEN_ON_SUCCESS = 0,
	WHEN_ON_FAILURE,
	WHEN_ALWAYS,
	WHEN_MANUAL,
	WHEN_DELAYED,
	WHEN_NEVER,
};

const char *when_name(enum when w);
/* 0 and *ret set when s names a `when` value; -1 otherwise. */
int when_parse(const char *s, enum when *ret);
/*
 * Seconds of a GitLab (ChronicDuration) duration: "3600", "1h 30m",
 * "90 minutes", "2 hours and 10 min", "1 week", "30 days"; -1 when s is
 * not one. ("never" is not a duration: callers that allow it check it.)
 */
long pipeline_parse_duration(const char *s);
/*
 * Whether the first n bytes of path name a place inside the project:
 * not empty, relative, no ".." component, at most 1024 bytes (a Pages
 * directory, before and after its variables are expanded).
 */
int pipeline_path_inside(const char *path, size_t n);

/* artifacts:when and cache:when */
enum on_status {
	ON_SUCCESS = 0,
	ON_FAILURE,
	ON_ALWAYS,
};

struct int_list {
	int *v;
	size_t nr;
};

struct need {
	char *job;
	int optional;  /* needs:optional */
	int artifacts; /* needs:artifacts, default 1 */
	/* needs:parallel:matrix: each entry selects the instances whose
	 * matrix variables equal every key/value of one varlist */
	struct varlist *matrix;
	size_t matrix_nr;
	struct pos pos;
};

struct rule {
	struct pos pos;
	char *if_expr;         /* NULL when absent */
	struct pos if_pos;
	int has_changes;
	struct strvec changes; /* rules:changes (or changes:paths) globs */
	char *changes_compare_to;
	int has_exists;
	struct strvec exists;  /* rules:exists globs */
	int has_when;
	enum when when;
	char *start_in;        /* with when: delayed */
	int allow_failure;     /* -1 unset, 0, 1 */
	int interruptible;     /* -1 unset, 0, 1 */
	struct varlist variables;
	int has_needs;         /* rules:needs replaces the job's needs */
	struct need *needs;
	size_t needs_nr;
	/* workflow:rules:auto_cancel (static strings; NULL: not set) */
	const char *auto_cancel_new_commit;   /* conservative, interruptible, none */
	const char *auto_cancel_job_failure;  /* none, all */
};

struct rules {
	struct rule *v;
	size_t nr;
};

/* only: / except: */
struct ref_filter {
	int set;
	struct strvec refs;      /* branch names, /regex/, keywords (branches, tags, ...) */
	struct strvec variables; /* expressions, any true matches */
	struct strvec changes;
	struct pos pos;
};

struct matrix_dim {
	char *key;
	struct strvec values;
};

/* One entry of parallel:matrix: the product of its dimensions. */
struct matrix_entry {
	struct matrix_dim *dims;
	size_t nr;
};

struct parallel {
	int count;                   /* parallel: N (0 unset) */
	struct matrix_entry *matrix; /* parallel:matrix */
	size_t matrix_nr;
};

struct artifacts {
	int set;
	struct strvec paths;
	struct strvec exclude;
	int untracked;
	enum on_status when;
	char *expire_in;
	char *name;
	char *expose_as;
	struct strvec reports_junit;
	struct strvec reports_dotenv;
	/* other report types are recorded (name -> paths) but not parsed */
	struct strvec reports_other;
};

enum cache_policy {
	CACHE_PULL_PUSH = 0,
	CACHE_PULL,
	CACHE_PUSH,
};

struct cache {
	char *key;              /* cache:key string form; NULL if key:files or none */
	struct strvec key_files;/* cache:key:files */
	char *key_prefix;       /* cache:key:prefix */
	struct strvec paths;
	int untracked;
	enum cache_policy policy;
	char *policy_expr;      /* policy given as a $VARIABLE, resolved at run time */
	enum on_status when;
	struct strvec fallback_keys;
	int unprotect;
};

struct retry {
	int max;                /* 0..2 */
	struct strvec when;     /* failure reasons; empty = always */
	struct int_list exit_codes;
};

struct environment {
	int set;
	char *name;
	char *url;
	char *action;           /* start (default), prepare, stop, verify, access */
	char *on_stop;
	char *deployment_tier;
	char *auto_stop_in;
};

/* release:assets:links */
struct release_link {
	char *name;
	char *url;
	char *link_type;        /* other, runbook, image, package; NULL: other */
	char *filepath;         /* filepath or direct_asset_path, or NULL */
};

/* release: what the job records once its script passed (unexpanded) */
struct release {
	int set;
	char *tag_name;
	char *name;
	char *description;      /* text, or a file of the project dir */
	char *ref;
	char *tag_message;
	char *released_at;      /* ISO 8601, or NULL: when the job ends */
	struct strvec milestones;
	struct release_link *links;
	size_t links_nr;
};

enum inherit_mode {
	INHERIT_ALL = 0,
	INHERIT_NONE,
	INHERIT_LIST,
};

/*
 * cidre's own job settings, under `cidre:` (top level: for every job;
 * in a job: for that job, key by key over the top level's). GitLab
 * never reads them: they are only for a `.cidre.yml`.
 */
/* image:pull_policy (GitLab's): several are tried in order, always first */
#define JOB_PULL_ALWAYS 1u
#define JOB_PULL_IF_NOT_PRESENT 2u
#define JOB_PULL_NEVER 4u

/* services: (GitLab's): containers the job reaches by name */
#define JOB_MAX_SERVICES 16
/* words of image:entrypoint */
#define JOB_MAX_ENTRYPOINT 64
struct job_service {
	char *name;                  /* the image */
	struct strvec aliases;       /* alias: (one or several); none: from name */
	struct strvec entrypoint;    /* has_entrypoint: given (empty: none) */
	struct strvec command;       /* has_command: given */
	int has_entrypoint, has_command;
	struct varlist variables;    /* its own, over the job's */
	unsigned pull_policy;        /* JOB_PULL_*; 0 unset */
};

struct job_cidre {
	long long memory;            /* bytes; 0 unset */
	long long pids;              /* 0 unset */
	double cpus;                 /* 0 unset */
	int network;                 /* -1 unset, 0, 1 */
	int host_fallback;           /* -1 unset, 0, 1: image on the host */
};

#define JOB_CIDRE_MAX_MEMORY (1LL << 40)    /* 1 TiB */
#define JOB_CIDRE_MIN_MEMORY (4LL << 20)    /* 4 MiB */
#define JOB_CIDRE_MAX_PIDS 4194304
#define JOB_CIDRE_MAX_CPUS 1024

struct job {
	char *name;
	struct pos pos;          /* of the job's key */
	char *stage;             /* resolved: default "test" */
	struct pos stage_pos;

	struct strvec before_script; /* flattened (nested lists expanded) */
	struct strvec script;
	struct strvec after_script;
	int has_script;

	struct varlist variables;    /* job-level variables */
	/* which global variables the job receives (inherit:variables) */
	enum inherit_mode inherit_variables;
	struct strvec inherit_variables_list;

	int has_rules;
	struct rules rules;
	struct ref_filter only, except;

	int has_when;
	enum when when;              /* default on_success */
	char *start_in;

	int allow_failure;           /* -1 unset, 0, 1 */
	struct int_list allow_failure_exit_codes;

	struct retry retry;
	int timeout;                 /* seconds; 0 = unset (default 1h) */
	struct parallel parallel;

	int has_needs;               /* needs: present (even `needs: []`) */
	struct need *needs;
	size_t needs_nr;
	int has_dependencies;
	struct strvec dependencies;
	struct pos *dependencies_pos;    /* each entry's (the list's for a nested one) */

	struct artifacts artifacts;
	struct cache *caches;
	size_t caches_nr;
	struct environment environment;
	struct release release;
	/*
	 * GitLab Pages: a job named "pages" (unless pages: false) or with
	 * pages: true|{publish, path_prefix, expire_in}. Its publish
	 * directory (pages:publish, or the older job-level publish:;
	 * "public" by default) is among its artifacts' paths.
	 */
	int pages;                   /* -1 unset, 0, 1 */
	char *pages_publish;         /* NULL: "public" */
	int pages_publish_set;       /* by pages:publish, which wins */
	char *pages_path_prefix;
	char *pages_expire_in;

	char *resource_group;
	char *manual_confirmation;   /* the message asked before playing it; NULL */
	char *coverage;              /* regex, without the surrounding slashes */
	int interruptible;           /* -1 unset, 0, 1 */
	struct strvec tags;
	char *image;                 /* image name (image:name or string) */
	unsigned pull_policy;        /* image:pull_policy, JOB_PULL_*; 0 unset */
	/* image:entrypoint: what runs the job's shell instead of the
	   image's ENTRYPOINT (none when set to [""] or []) */
	int image_entrypoint_set;
	struct strvec image_entrypoint;
	struct job_service *services;
	size_t services_nr;
	struct job_cidre cidre;      /* merged with the top level's */
	/*
	 * With load_opts.cut: this job's resolved definition (include,
	 * extends and !reference applied) as a map of one pair, its name
	 * and its node, in ynode_encode's form.
	 */
	char *cut;
};

struct pipeline {
	char *file;                  /* main file, as given (relative to root) */
	struct strvec files;         /* every file loaded; pos.file points here */
	struct strvec stages;        /* resolved: .pre first, .post last */
	struct varlist variables;    /* global variables */
	int has_workflow_rules;
	struct rules workflow_rules;
	char *workflow_name;
	/* workflow:auto_cancel (static strings; NULL: GitLab's defaults) */
	const char *auto_cancel_new_commit;
	const char *auto_cancel_job_failure;
	struct job **jobs;           /* visible jobs in file order */
	size_t jobs_nr, jobs_alloc;
	struct job_cidre cidre;      /* top-level cidre: */
	/*
	 * With load_opts.cut: the resolved top-level keywords (a map in
	 * ynode_encode's form), which with one job's cut make that job's
	 * whole pipeline file again (pipeline_load_cut).
	 */
	char *cut_globals;
	int one_job;                 /* loaded by pipeline_load_cut */
};

struct load_opts {
	const char *root;            /* repository root ("." by default) */
	const char *file;            /* NULL: .cidre.yml, else .gitlab-ci.yml */
	/* variables used to evaluate include:rules and expand include
	 * locations (predefined + CLI) */
	const struct varlist *vars;
	/*
	 * vars lacks the pipeline's own variables (cidre lint): an include
	 * location naming a variable not in vars is skipped with a warning
	 * instead of expanding it to nothing.
	 */
	int vars_partial;
	/*
	 * The files the push changed, for include:rules:changes: asked for
	 * only when such a rule is met (a local run computes them then).
	 * No getter, or NULL from it: not known, and changes holds, as in
	 * GitLab (and as rules:changes of jobs).
	 */
	const struct strvec *(*changed)(void *ud);
	void *changed_ud;
	/*
	 * include:rules:changes:compare_to: as plan_ctx.changed_since (the
	 * files since the merge base of ref and the commit; -1 with err when
	 * ref names no commit). NULL: compare_to is not evaluated and the
	 * push's files serve.
	 */
	int (*changed_since)(void *ud, const char *ref, struct strvec *out,
			     struct strbuf *err);
	void *changed_since_ud;
	/*
	 * include:project: the text of file (a path in that project, no
	 * leading '/') of project at ref (NULL: its default branch) into
	 * out, at most max bytes. 0, or -1 with err (no such project, ref or
	 * file; a project the pipeline may not read; too large). NULL:
	 * include:project is an error.
	 */
	int (*project_file)(void *ud, const char *project, const char *ref, const char *file,
			    size_t max, struct strbuf *out, struct strbuf *err);
	void *project_file_ud;
	/*
	 * include:remote: the text at url (http or https) into out, at most
	 * max bytes. 0, or -1 with err. NULL: include:remote is an error
	 * (exec/fetch.c fetch_url is one).
	 */
	int (*remote_file)(void *ud, const char *url, size_t max, struct strbuf *out,
			   struct strbuf *err);
	void *remote_file_ud;
	/* include:remote: no further one once this many seconds went to them */
#define PIPELINE_REMOTE_SECONDS 30
	size_t max_file_size;        /* per file; 0 = 1 MiB */
	size_t max_includes;         /* 0 = 150, GitLab's limit */
	int cut;                     /* fill cut_globals and each job's cut */
	/*
	 * The pipeline's inputs (its file's spec:inputs): name -> the value
	 * as YAML text ("3", "true", "[a, b]", "text"; JSON is YAML). NULL:
	 * the defaults.
	 */
	const struct varlist *inputs;
};

/*
 * Load, resolve and validate a pipeline. Every problem found is added to
 * d as file:line:col; returns 0 with *ret set on success, -1 if d holds at
 * least one error (and *ret untouched).
 */
int pipeline_load(const struct load_opts *opts, struct pipeline **ret,
		  struct diag *d);
/*
 * Load one job from what pipeline_load(cut = 1) kept: globals (the
 * pipeline's cut_globals) and the job's cut. The file is not read;
 * opts->file names it (what CI_CONFIG_PATH says). The pipeline has that
 * one job; its needs and dependencies are not checked against other
 * jobs (the whole file was). 0, or -1 with d (a damaged text).
 */
int pipeline_load_cut(const struct load_opts *opts, const char *globals,
		      const char *cut, struct pipeline **ret, struct diag *d);
void pipeline_free(struct pipeline *p);
struct job *pipeline_find_job(const struct pipeline *p, const char *name);
/*
 * A new job named name at pos with every field at its default (empty
 * lists, allow_failure and interruptible unset: -1); not in any pipeline.
 * pipeline_free() frees it once added to p->jobs.
 */
struct job *pipeline_job_new(const char *name, const struct pos *pos);
/* Index of the stage in p->stages or -1. */
int pipeline_stage_index(const struct pipeline *p, const char *stage);

#endif
