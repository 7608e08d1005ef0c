#ifndef CIDRE_STORE_H
#define CIDRE_STORE_H

/*
 * The store: every durable record of the server (projects, pipelines,
 * jobs and their queue, test cases, artifacts' metadata, API tokens,
 * seen refs) behind one interface. Only src/store/ speaks SQL.
 *
 * The embedded implementation is SQLite (WAL) in the data directory; a
 * PostgreSQL one comes through the same interface, so nothing here may
 * assume a single process: the job queue is claimed atomically
 * (store_job_claim), status changes are compare-and-set, ids come from
 * the database.
 *
 * Conventions: functions return 0 on success, STORE_NOTFOUND when the
 * record does not exist, STORE_CONFLICT when a compare-and-set lost or a
 * unique name is taken, STORE_UNAVAILABLE when it cannot read or write
 * now (its disk is full or failing, its file locked too long: the same
 * call may succeed later), -1 on any other error with the reason in err
 * (err may be NULL). Out-parameters are written only on success. Strings
 * in records are malloc'ed and owned by the record; *_release() frees
 * them and accepts zeroed records. Times are milliseconds since the
 * epoch, 0 meaning "not yet". A handle is used by one thread at a time;
 * threads open their own handles (store_open is cheap).
 */

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

#define STORE_NOTFOUND (-2)
#define STORE_CONFLICT (-3)
#define STORE_UNAVAILABLE (-4)

struct store;

/*
 * Open (creating on first use) the store at url: a path to a SQLite
 * database file ("DATA/cidre.db", or "sqlite:PATH"). Migrations run to
 * the latest schema version; a database newer than this binary is an
 * error.
 */
int store_open(const char *url, struct store **ret, struct strbuf *err);
void store_close(struct store *st);
/*
 * Let go of what the handle caches: its prepared statements (prepared
 * again at their next use) and its page cache. For a thread going idle
 * that keeps its handle. No statement of st may be in use (no query
 * being read, no transaction open).
 */
void store_shrink(struct store *st);
int store_schema_version(struct store *st);
/* The schema version this binary migrates to. */
int store_schema_latest(void);

/* Transactions, for callers that need several calls to be atomic. */
int store_begin(struct store *st, struct strbuf *err);
int store_commit(struct store *st, struct strbuf *err);
void store_rollback(struct store *st);

/* ---- projects ---- */

struct store_project {
	int64_t id;
	char *name;           /* unique, [A-Za-z0-9._-]{1,64} */
	char *repo;           /* path or URL cloned into the mirror */
	char *branches;       /* glob of branch names that build; "*" all */
	int poll_interval;    /* seconds, 0 = no polling */
	char *hook_secret;    /* X-Cidre-Hook-Token of the post-receive hook */
	char *webhook_secret; /* forges' HMAC key / GitLab token; may be "" */
	int64_t created;
	int64_t deleted;      /* 0, or when store_project_delete() marked it */
	int public_read;      /* anonymous callers may read it (store_project_set_public) */
	/*
	 * Globs of the protected branches, comma-separated as branches;
	 * "" none; NULL: the repository's default branch alone (see
	 * server_branch_protected).
	 */
	char *protected_branches;
	/* Globs of the protected tags, comma-separated; NULL or "" none. */
	char *protected_tags;
};
void store_project_release(struct store_project *p);

/* 1 if name is a valid project name: [A-Za-z0-9._-]{1,64}, not "." or ".."
 * (names become directory names in DATA/repos). */
int store_project_name_ok(const char *name);

/* Insert; id and created (now, when 0) are set in *p. branches NULL: "*";
 * secrets NULL: "". STORE_CONFLICT: name taken by a live project; -1: a
 * name store_project_name_ok() refuses or no repo. */
int store_project_add(struct store *st, struct store_project *p, struct strbuf *err);
/* A live project by name; by id, deleted ones too (p->deleted set). */
int store_project_get(struct store *st, const char *name,
		      struct store_project *ret, struct strbuf *err);
int store_project_get_id(struct store *st, int64_t id,
			 struct store_project *ret, struct strbuf *err);
/* All live projects by name; *ret is an array of *nr records (free with
 * store_projects_free). */
int store_project_list(struct store *st, struct store_project **ret,
		       size_t *nr, struct strbuf *err);
void store_projects_free(struct store_project *a, size_t nr);
/* Mark a project deleted (its name is free again) and forget its refs.
 * Its pipelines and jobs stay readable by id; unfinished jobs are the
 * caller's to cancel. */
int store_project_delete(struct store *st, const char *name, struct strbuf *err);
/* Set a live project's anonymous read access. STORE_NOTFOUND: no such project. */
int store_project_set_public(struct store *st, const char *name, int on, struct strbuf *err);
/* Set a live project's protected branches (comma-separated globs; "" none;
 * NULL back to the default branch). STORE_NOTFOUND: no such project. */
int store_project_set_protected(struct store *st, const char *name, const char *patterns,
				struct strbuf *err);
/* Set a live project's protected tags (comma-separated globs; "" or NULL
 * none). STORE_NOTFOUND: no such project. */
int store_project_set_protected_tags(struct store *st, const char *name,
				     const char *patterns, struct strbuf *err);

/* Last sha seen on a ref by polling (ret_sha: 41 bytes, "" if none).
 * store_ref_set refuses a sha longer than 40 characters. */
int store_ref_get(struct store *st, int64_t project, const char *ref,
		  char *ret_sha, struct strbuf *err);
int store_ref_set(struct store *st, int64_t project, const char *ref,
		  const char *sha, struct strbuf *err);

/* ---- pipelines ---- */

struct store_pipeline {
	int64_t id;
	int64_t project_id;
	char *project;        /* project name (read side only) */
	char *ref;            /* branch name, e.g. "main"; a tag's when tag */
	char *sha;
	char *before_sha;     /* may be NULL */
	char *source;         /* push, webhook, poll, api, schedule */
	char *status;         /* created ... canceled, skipped */
	char *error;          /* NULL, or why it could not be created */
	char *name;           /* workflow:name, may be NULL */
	char *variables;      /* JSON object of trigger variables, "{}" */
	char *ctx;            /* JSON: what the planner was given (opaque here) */
	int64_t created, started, finished;
	/* running time in ms once finished: the union of its jobs' runs
	   (latest attempts); -1: not known (see store_pipeline_duration) */
	int64_t duration;
	int protected_ref;    /* made on a protected branch: protected variables go to its jobs */
	int64_t schedule_id;  /* the schedule that made it (source "schedule"), else 0 */
	int tag;              /* ref names a tag (refs/tags/REF), not a branch */
	/* workflow:auto_cancel as planned; NULL: the defaults */
	char *auto_cancel_on_new_commit;   /* conservative, interruptible, none */
	char *auto_cancel_on_job_failure;  /* none, all */
};
void store_pipeline_release(struct store_pipeline *p);

/*
 * A finished pipeline's running time in ms: its duration, or for one
 * finished before that was kept, finished - started; -1 when it has not
 * both started and finished.
 */
static inline int64_t store_pipeline_ms(const struct store_pipeline *p)
{
	if (p->started <= 0 || p->finished < p->started)
		return -1;
	return p->duration >= 0 ? p->duration : p->finished - p->started;
}

/* Insert; id and created (now, when 0) are set in *p. ref, sha and source
 * are required; status NULL: "created"; variables NULL: "{}".
 * STORE_NOTFOUND: no such project. */
int store_pipeline_add(struct store *st, struct store_pipeline *p, struct strbuf *err);
int store_pipeline_get(struct store *st, int64_t id,
		       struct store_pipeline *ret, struct strbuf *err);

struct store_pipeline_filter {
	int64_t project_id;   /* 0: any */
	const char *ref;      /* NULL: any */
	const char *status;
	const char *source;
	const char *sha;      /* a prefix of the commit, lowercase hex; NULL: any */
	int64_t before_id;    /* keyset paging: id < before_id; 0: from newest */
	/* 0: every project; else only public projects and those where user
	 * visible_to is a member (-1: public ones only, for anonymous callers) */
	int64_t visible_to;
	int offset;           /* page paging, used when before_id is 0 */
	int limit;            /* 1..1000 */
	/* when counted already (store_pipeline_count with max at least
	 * STORE_COUNT_MAX + 1): how many, which the listing then need not
	 * count again to choose its plan */
	int64_t count;
	int counted;
};
/* What a listing is counted up to (X-Total) and chooses its plan by. */
#define STORE_COUNT_MAX 1000
/* Newest first. *ret: array of *nr (store_pipelines_free). */
int store_pipeline_list(struct store *st, const struct store_pipeline_filter *f,
			struct store_pipeline **ret, size_t *nr, struct strbuf *err);
void store_pipelines_free(struct store_pipeline *a, size_t nr);
/* How many pipelines filter f selects, ignoring its paging (offset,
 * limit, before_id), counted up to max: *ret is max when there are at
 * least that many. */
int store_pipeline_count(struct store *st, const struct store_pipeline_filter *f,
			 int64_t max, int64_t *ret, struct strbuf *err);

/*
 * Set status (and started/finished when not 0, and error when not NULL).
 * When from is not NULL the change happens only if the current status is
 * from (else STORE_CONFLICT).
 */
int store_pipeline_set_status(struct store *st, int64_t id, const char *from,
			      const char *to, int64_t started, int64_t finished,
			      const char *error, struct strbuf *err);
/* Set the planning context and workflow:name (NULL: none) of pipeline id. */
/*
 * A forge's merge request, as its last webhook said: upsert by (project,
 * iid). state: opened, closed, merged, locked.
 */
int store_merge_request_set(struct store *st, int64_t project_id, long long iid,
			    const char *source_branch, const char *target_branch,
			    const char *title, const char *url, const char *state,
			    struct strbuf *err);
/* The numbers of the open merge requests of a source branch, lowest first, at most max. */
int store_merge_requests_open(struct store *st, int64_t project_id, const char *source_branch,
			      long long *ret, size_t max, size_t *nr, struct strbuf *err);

/* A release (the release: keyword of a job that passed). */
struct store_release {
	int64_t project_id;
	char *tag_name;
	char *name;
	char *description;
	char *ref;            /* may be NULL */
	char *sha;            /* the pipeline's commit */
	char *released_at;    /* ISO 8601 */
	char *data;           /* JSON: milestones, assets, tag_message */
	int64_t pipeline_id, job_id;
	int64_t created, updated;
};
void store_release_release(struct store_release *r);
void store_releases_free(struct store_release *a, size_t nr);
/* Record r, or update the release of its project and tag (created kept). */
int store_release_set(struct store *st, const struct store_release *r, struct strbuf *err);
/* A project's releases, the latest released first, at most limit. */
int store_release_list(struct store *st, int64_t project_id, int limit,
		       struct store_release **ret, size_t *nr, struct strbuf *err);
/* One release by tag. STORE_NOTFOUND: none. */
int store_release_get(struct store *st, int64_t project_id, const char *tag,
		      struct store_release *ret, struct strbuf *err);

/* Record a pipeline's planned workflow:auto_cancel (NULL: default). */
int store_pipeline_set_auto_cancel(struct store *st, int64_t id, const char *on_new_commit,
				   const char *on_job_failure, struct strbuf *err);
int store_pipeline_set_ctx(struct store *st, int64_t id, const char *ctx,
			   const char *name, struct strbuf *err);
/* Unfinished pipelines (created, pending, running, manual, scheduled) of a project's
 * ref (NULL: every ref), oldest first, with id < below (any id when below <= 0)
 * (interruptible auto-cancel). *ret_ids is malloc'ed (free()). */
int store_pipeline_unfinished(struct store *st, int64_t project_id, const char *ref,
			      int64_t below, int64_t **ret_ids, size_t *nr,
			      struct strbuf *err);

/* ---- jobs ---- */

struct store_job {
	int64_t id;
	int64_t pipeline_id;
	int64_t project_id;
	char *name;             /* plan name, unique among a pipeline's latest attempts */
	char *stage;
	int stage_idx;
	int plan_idx;           /* index in the pipeline's plan */
	char *status;
	char *when;             /* on_success, on_failure, always, manual, delayed */
	int64_t start_in_ms;    /* delayed */
	int allow_failure;
	int interruptible;
	char *resource_group;   /* NULL or expanded name */
	char *needs;            /* JSON: [{"job": plan_idx, "artifacts": bool}] or null (stage order) */
	char *deps;             /* JSON: [plan_idx, ...] whose artifacts are restored */
	int attempt;            /* 1, 2, ... */
	int max_retries;        /* retry:max */
	char *retry_when;       /* JSON {"when": [...], "exit_codes": [...]} or NULL */
	char *manual_confirmation; /* asked before a manual job is played; NULL */
	int retried;            /* a later attempt replaced this one */
	int exit_code;          /* -1 unknown */
	char *failure_reason;
	char *runner;
	int64_t pid;            /* the job's supervisor process while running */
	int64_t pid_start;      /* its start time (/proc/PID/stat field 22) */
	int64_t created, queued, started, finished;
	int64_t peak_mem;       /* bytes, -1 unknown */
	double cpu;             /* seconds, -1 unknown */
	int64_t log_size;
	double coverage;        /* -1 none */
	int tests_total, tests_failed, tests_skipped, tests_errors; /* -1 total: no report */
	char *env_name;         /* environment, expanded; NULL */
	char *env_url;
	char *project;          /* project name (read side only) */
	int64_t artifacts_expire_at; /* when its artifacts expire; 0: never (or none) */
	int64_t artifacts_expired;   /* 0, or when the reaper deleted them */
	char *pages;                 /* a Pages job's directory; NULL: not one */
	char *pages_prefix;          /* its deployment's path prefix; NULL or "": the main site */
	int64_t pages_expire_ms;     /* served until finished + this; 0: always */
};
void store_job_release(struct store_job *j);
/*
 * The job whose artifacts are a project's Pages site (prefix "") or one
 * of its parallel deployments (a path prefix): its newest successful
 * Pages job (store_job.pages) of that prefix whose artifacts remain and
 * whose deployment has not expired at now_ms. STORE_NOTFOUND when there
 * is none.
 */
int store_job_pages(struct store *st, int64_t project_id, const char *prefix,
		    int64_t now_ms, struct store_job *ret, struct strbuf *err);
/*
 * Every live deployment of a project: for each path prefix ("" first,
 * then by name; at most 1,000) the job store_job_pages would serve.
 */
int store_pages_list(struct store *st, int64_t project_id, int64_t now_ms,
		     struct store_job **ret, size_t *nr, struct strbuf *err);

/*
 * Insert the plan fields of *j (pipeline_id ... max_retries; status NULL:
 * "created"; when NULL: "on_success"; attempt 0: 1); the result fields
 * start unknown (exit_code, peak_mem, cpu, coverage, tests_total -1).
 * Set in *j: id, created (now, when 0), project_id (the pipeline's),
 * queued (created, when 0 and status is pending). STORE_NOTFOUND: no
 * such pipeline; STORE_CONFLICT: that attempt of that plan_idx exists.
 */
int store_job_add(struct store *st, struct store_job *j, struct strbuf *err);
int store_job_get(struct store *st, int64_t id, struct store_job *ret,
		  struct strbuf *err);
/* A pipeline's jobs by plan_idx then attempt; all=0: latest attempts only
 * (the highest attempt of each plan_idx). No such pipeline: 0 jobs. */
int store_job_list(struct store *st, int64_t pipeline_id, int all,
		   struct store_job **ret, size_t *nr, struct strbuf *err);
void store_jobs_free(struct store_job *a, size_t nr);

/*
 * Compare-and-set the status. Timestamps, exit code etc. are taken from
 * *j for the fields the transition fills: pending sets queued; scheduled
 * sets queued (the time it is due); running sets started, runner, pid,
 * pid_start; a finished status (success, failed, canceled, skipped) sets
 * finished, exit_code, failure_reason, peak_mem, cpu, log_size, coverage,
 * tests_*, env_*, allow_failure. from NULL: any.
 * A timestamp given as 0 is taken as now; a log_size < 0 keeps the
 * stored one; j NULL means "nothing known" (timestamps now, results -1,
 * allow_failure kept). created resets the job to its just-added state
 * (every timestamp but created 0, results unknown, no runner); other
 * statuses (manual, ...) set only the status.
 * STORE_CONFLICT: the status was not from; STORE_NOTFOUND: no such job.
 */
int store_job_transition(struct store *st, int64_t id, const char *from,
			 const char *to, const struct store_job *j,
			 struct strbuf *err);
int store_job_set_retried(struct store *st, int64_t id, struct strbuf *err);
int store_job_set_log_size(struct store *st, int64_t id, int64_t size,
			   struct strbuf *err);

/*
 * Claim the oldest pending job (by queued time, then id) for runner,
 * atomically moving it to running with started = now; a job whose
 * resource_group has another running job is passed over. STORE_NOTFOUND
 * when nothing is claimable. now 0: the current time. Atomic across
 * handles and processes: a job is claimed once.
 */
int store_job_claim(struct store *st, const char *runner, int64_t now,
		    struct store_job *ret, struct strbuf *err);
/* Jobs in status running (for recovery after a restart). */
int store_job_running(struct store *st, struct store_job **ret, size_t *nr,
		      struct strbuf *err);
/*
 * A pipeline's latest attempts counted by (status, allow_failure,
 * started != 0): what its status is computed from, without reading
 * every job (the runner's advance() after each finished job). At most
 * max groups go to ret (*nr of them); more than max: -1.
 */
struct store_job_group {
	char status[16];
	int allow_failure;
	int started;
	int64_t n;
};
int store_job_tally(struct store *st, int64_t pipeline_id, struct store_job_group *ret,
		    size_t max, size_t *nr, struct strbuf *err);
/*
 * Whether pipeline_id has a job to decide (created or scheduled) and a
 * running job, by index seeks whatever its size (migration 10): what
 * spares the tally while the pipeline runs.
 */
int store_job_busy(struct store *st, int64_t pipeline_id, int *ret_undecided,
		   int *ret_running, struct strbuf *err);
/* *ret: the earliest start of a running job; 0 when none runs (the reaper's sweep). */
int store_job_running_since(struct store *st, int64_t *ret, struct strbuf *err);
/*
 * A finished job's dotenv report: json a JSON object of its variables
 * (NULL: none). store_job_dotenv: *ret that text (malloc'ed; NULL when
 * the job has none, or was recorded before the store kept them).
 * STORE_NOTFOUND: no such job.
 */
int store_job_set_dotenv(struct store *st, int64_t id, const char *json,
			 struct strbuf *err);
int store_job_dotenv(struct store *st, int64_t id, char **ret, struct strbuf *err);

/*
 * What a job's supervisor plans its job from (migration 9): def is the
 * job's resolved definition for plan_idx, or with plan_idx -1 the
 * pipeline's resolved top-level keywords. store_job_defs sets both of
 * the job's (malloc'ed), each NULL when not kept (a pipeline planned by
 * an older server).
 */
int store_job_def_add(struct store *st, int64_t pipeline_id, int plan_idx,
		      const char *def, struct strbuf *err);
int store_job_defs(struct store *st, int64_t pipeline_id, int plan_idx,
		   char **ret_globals, char **ret_def, struct strbuf *err);
/* Number of jobs with this status (metrics, queue limit). */
int store_job_count(struct store *st, const char *status, int64_t *ret,
		    struct strbuf *err);
/*
 * Of a pipeline's jobs (latest attempts), how many failed and were
 * allowed to: a pipeline that passed "with warnings" (the web's lists).
 */
int store_job_allowed_failed(struct store *st, int64_t pipeline_id, int64_t *ret,
			     struct strbuf *err);

/* ---- test cases (JUnit) ---- */

struct store_test {
	char *suite, *classname, *name;
	char *status;           /* passed, failed, error, skipped */
	double time;
	char *message;          /* NULL or the failure/error message, capped */
};
void store_test_release(struct store_test *t);
/* All or none; STORE_NOTFOUND: no such job. */
int store_tests_add(struct store *st, int64_t job_id, const struct store_test *a,
		    size_t nr, struct strbuf *err);
/* failed_only: status failed or error. */
int store_tests_list(struct store *st, int64_t job_id, int failed_only,
		     struct store_test **ret, size_t *nr, struct strbuf *err);
void store_tests_free(struct store_test *a, size_t nr);

/* ---- artifacts (the files live content-addressed in DATA/artifacts) ---- */

struct store_artifact {
	char *path;             /* relative to the workspace */
	int64_t size;
	char sha256[65];
	int mode;               /* 0644 or 0755 */
	int64_t crc32;          /* its CRC-32; -1: not known (stored before it was kept) */
};
void store_artifact_release(struct store_artifact *a);
/* All or none; a path already recorded for the job is replaced (an upload
 * retried). STORE_NOTFOUND: no such job. */
int store_artifacts_add(struct store *st, int64_t job_id, const struct store_artifact *a,
			size_t nr, struct strbuf *err);
int store_artifacts_list(struct store *st, int64_t job_id,
			 struct store_artifact **ret, size_t *nr, struct strbuf *err);
int store_artifact_get(struct store *st, int64_t job_id, const char *path,
		       struct store_artifact *ret, struct strbuf *err);
void store_artifacts_free(struct store_artifact *a, size_t nr);
/*
 * For the web UI's folder pages: up to limit artifacts of job_id whose
 * path is >= from (> from when after), in path order; and the number and
 * total size of those with from <= path < to. Byte order (memcmp).
 */
int store_artifacts_from(struct store *st, int64_t job_id, const char *from, int after,
			 size_t limit, struct store_artifact **ret, size_t *nr,
			 struct strbuf *err);
int store_artifacts_sum(struct store *st, int64_t job_id, const char *from, const char *to,
			int64_t *ret_count, int64_t *ret_size, struct strbuf *err);

/* ---- the web UI's reads ---- */

/* Running jobs (oldest first), then pending ones in queue order; at most
 * limit of each. */
int store_job_active(struct store *st, int limit, struct store_job **ret, size_t *nr,
		     struct strbuf *err);

struct store_test_run {
	int64_t job_id, pipeline_id;
	char status[16];        /* passed, failed, error, skipped */
};
/* The latest results (job id <= max_job, newest first, at most limit) of
 * the test classname/name in a project's jobs. *ret: free(). */
int store_test_history(struct store *st, int64_t project_id, const char *classname,
		       const char *name, int64_t max_job, int limit,
		       struct store_test_run **ret, size_t *nr, struct strbuf *err);

struct store_ref_last {
	char *ref;
	int64_t pipeline_id;    /* the ref's newest pipeline */
};
/* A project's refs with pipelines, most recently built first, at most
 * limit (free with store_refs_last_free). */
int store_pipeline_refs(struct store *st, int64_t project_id, int limit,
			struct store_ref_last **ret, size_t *nr, struct strbuf *err);
void store_refs_last_free(struct store_ref_last *a, size_t nr);

/* ---- API tokens (only SHA-256 hashes are stored) ---- */

/* hash: 64 lowercase hex of SHA-256(token). STORE_CONFLICT: hash exists. */
int store_token_add(struct store *st, const char *name, const char *hash,
		    int64_t *ret_id, struct strbuf *err);
/* 0 when a live (not revoked) token with this hash exists (its name, malloc'ed, in *ret_name
 * unless ret_name is NULL); STORE_NOTFOUND otherwise. */
int store_token_check(struct store *st, const char *hash, char **ret_name,
		      struct strbuf *err);
int store_token_count(struct store *st, int64_t *ret, struct strbuf *err);

struct store_token {
	int64_t id;
	char *name;
	int64_t user_id;        /* 0: the administrator's */
	int64_t created, last_used;
	int revoked;
};
void store_token_release(struct store_token *t);
void store_tokens_free(struct store_token *a, size_t nr);
/* As store_token_add, owned by user_id (0: the administrator). */
int store_token_add_user(struct store *st, const char *name, const char *hash,
			 int64_t user_id, int64_t *ret_id, struct strbuf *err);
/* The live (not revoked) token with this hash; STORE_NOTFOUND otherwise. */
int store_token_lookup(struct store *st, const char *hash, struct store_token *ret,
		       struct strbuf *err);
/* Record that token id was used at time now. */
int store_token_used(struct store *st, int64_t id, int64_t now, struct strbuf *err);
/* user_id's tokens (0: the administrator's), revoked ones too, by id. */
int store_token_list(struct store *st, int64_t user_id, struct store_token **ret,
		     size_t *nr, struct strbuf *err);
/* Revoke token id of user_id (-1: of anyone). STORE_NOTFOUND: no such live token. */
int store_token_revoke(struct store *st, int64_t id, int64_t user_id, struct strbuf *err);

/* ---- retention ---- */

/*
 * Set when job_id's artifacts expire (ms; 0: never, GitLab's "keep").
 * STORE_CONFLICT: they expired already (the reaper deleted their rows);
 * STORE_NOTFOUND: no such job.
 */
int store_artifacts_set_expiry(struct store *st, int64_t job_id, int64_t expire_at,
			       struct strbuf *err);
/*
 * Expire up to limit jobs' artifacts due at now (artifacts_expire_at <=
 * now), soonest due first, in one transaction: their artifact rows are
 * deleted and the jobs marked artifacts_expired = now. With keep_latest,
 * the jobs of the newest successful pipeline of each project's ref are
 * passed over (kept until a newer pipeline of that ref succeeds).
 * *ret_ids: the jobs expired (malloc'ed, free(); *ret_nr of them).
 * The blobs are the caller's: unlink one only once no row names it
 * (store_artifact_blob_used).
 */
int store_artifacts_expire(struct store *st, int64_t now, int keep_latest, int limit,
			   int64_t **ret_ids, size_t *ret_nr, struct strbuf *err);
/* *ret_used = 1 if some artifact row names the blob sha256, else 0. */
int store_artifact_blob_used(struct store *st, const char *sha256, int *ret_used,
			     struct strbuf *err);
/*
 * The CRC-32 of blob sha256, for every row naming it that has none (stored
 * before CRCs were kept): learnt once its bytes were checked by the hash.
 */
int store_artifacts_set_crc(struct store *st, const char *sha256, uint32_t crc,
			    struct strbuf *err);

/* ---- users ---- */

struct store_user {
	int64_t id;
	char *login;            /* unique, [A-Za-z0-9._-]{1,64} */
	char *name, *email;     /* may be "" */
	char *password;         /* argon2id string (crypto_pwhash_str); "" none */
	int admin, disabled;
	int64_t created;
};
void store_user_release(struct store_user *u);
void store_users_free(struct store_user *a, size_t nr);
/* 1 if login is [A-Za-z0-9._-]{1,64}, not starting with . or -. */
int store_user_login_ok(const char *login);
/* Insert; id and created set in *u. STORE_CONFLICT: login taken. */
int store_user_add(struct store *st, struct store_user *u, struct strbuf *err);
int store_user_get(struct store *st, const char *login, struct store_user *ret,
		   struct strbuf *err);
int store_user_get_id(struct store *st, int64_t id, struct store_user *ret,
		      struct strbuf *err);
/* Change user id: password (argon2id string; NULL keeps it), admin and
 * disabled (0/1; -1 keeps). STORE_NOTFOUND: no such user. */
int store_user_update(struct store *st, int64_t id, const char *password, int admin,
		      int disabled, struct strbuf *err);
/* Every user by login. */
int store_user_list(struct store *st, struct store_user **ret, size_t *nr,
		    struct strbuf *err);

/* ---- sessions (only a hash of the session id is stored) ---- */

struct store_session {
	int64_t user_id;
	char csrf[65];
	int64_t created, expires, last_seen;
};
int store_session_add(struct store *st, const char *hash, const struct store_session *s,
		      struct strbuf *err);
int store_session_get(struct store *st, const char *hash, struct store_session *ret,
		      struct strbuf *err);
int store_session_touch(struct store *st, const char *hash, int64_t last_seen,
			struct strbuf *err);
/* Delete one session; also every session that expired before now (now > 0). */
int store_session_delete(struct store *st, const char *hash, int64_t now, struct strbuf *err);
/* Keep only user_id's keep newest sessions. */
int store_session_prune(struct store *st, int64_t user_id, int keep, struct strbuf *err);

/* ---- project members (role: 1 viewer, 2 developer, 3 maintainer) ---- */

struct store_member {
	int64_t user_id;
	char *login;
	int role;
};
void store_members_free(struct store_member *a, size_t nr);
/* Insert or change. STORE_NOTFOUND: no such project or user. */
int store_member_set(struct store *st, int64_t project_id, int64_t user_id, int role,
		     struct strbuf *err);
/* STORE_NOTFOUND: not a member. */
int store_member_delete(struct store *st, int64_t project_id, int64_t user_id,
			struct strbuf *err);
/* user's role on project in *ret_role (0 when not a member). */
int store_member_role(struct store *st, int64_t project_id, int64_t user_id, int *ret_role,
		      struct strbuf *err);
int store_member_list(struct store *st, int64_t project_id, struct store_member **ret,
		      size_t *nr, struct strbuf *err);

/* ---- secret variables of a project (values leave the server only to jobs) ---- */

struct store_variable {
	char *key;              /* [A-Za-z_][A-Za-z0-9_]{0,254} */
	char *value;            /* NULL when listed without values */
	int masked;
	int protected_only;     /* only for pipelines of protected branches */
	int64_t updated;
};
void store_variables_free(struct store_variable *a, size_t nr);
int store_variable_set(struct store *st, int64_t project_id, const char *key,
		       const char *value, int masked, int protected_only,
		       struct strbuf *err);
/* STORE_NOTFOUND: no such variable. */
int store_variable_delete(struct store *st, int64_t project_id, const char *key,
			  struct strbuf *err);
/* By key; values only when with_values. */
int store_variable_list(struct store *st, int64_t project_id, int with_values,
			struct store_variable **ret, size_t *nr, struct strbuf *err);

/* ---- secrets as stored (sealed by src/server/seal.c above the store) ---- */

enum store_secret_kind {
	STORE_SECRET_VARIABLE,  /* variables.value of (project_id, key) */
	STORE_SECRET_NOTIFY,    /* a project's notification settings (their JSON) */
	STORE_SECRET_WEBHOOK,   /* projects.webhook_secret */
	STORE_SECRET_HOOK,      /* projects.hook_secret */
};
struct store_secret {
	enum store_secret_kind kind;
	int64_t project_id;
	char *key;              /* STORE_SECRET_VARIABLE: the variable's key */
	char *value;            /* as stored */
};
void store_secrets_free(struct store_secret *a, size_t nr);
/*
 * Every stored secret whose value is not empty and begins with prefix
 * (sealed 1), or does not (sealed 0).
 */
int store_secret_list(struct store *st, const char *prefix, int sealed,
		      struct store_secret **ret, size_t *nr, struct strbuf *err);
/* Store value for the secret s names, and change nothing else (no time of change). */
int store_secret_rewrite(struct store *st, const struct store_secret *s, const char *value,
			 struct strbuf *err);

/* ---- audit log ---- */

struct store_audit {
	int64_t id, time;       /* time 0 on add: now */
	char *actor;            /* a login, "admin-token" or "anonymous" */
	char *remote;           /* the caller's address */
	char *action;           /* e.g. "pipeline.create", "user.add" */
	char *target;           /* what it acted on, e.g. "project app" */
	char *detail;           /* may be "" */
};
void store_audit_free(struct store_audit *a, size_t nr);
int store_audit_add(struct store *st, const struct store_audit *a, struct strbuf *err);
/* Delete the records older than before (ms); *ret_n (may be NULL) how many. */
int store_audit_prune(struct store *st, int64_t before, int64_t *ret_n, struct strbuf *err);
/* Newest first. */
int store_audit_list(struct store *st, int limit, int offset, struct store_audit **ret,
		     size_t *nr, struct strbuf *err);

/* ---- pipeline schedules ---- */

struct store_schedule {
	int64_t id;
	int64_t project_id;
	char *description;      /* may be "" */
	char *cron;             /* the expression as given (util/cron.h) */
	char *cron_timezone;    /* an IANA zone name, e.g. "UTC" */
	char *ref;              /* branch; NULL: the default branch */
	char *variables;        /* JSON object of string values, "{}" */
	int active;
	int64_t owner;          /* user id; 0: the administrator's token */
	int64_t next_run_at;    /* ms */
	int64_t last_pipeline_id; /* 0: none yet */
	int64_t created;        /* ms; 0 on add: now */
};
void store_schedule_release(struct store_schedule *s);
void store_schedules_free(struct store_schedule *a, size_t nr);

/*
 * Insert s (description, cron, cron_timezone required; variables NULL:
 * "{}"); s->id and s->created are set. One statement that also counts:
 * STORE_CONFLICT when the project has max schedules already,
 * STORE_NOTFOUND when there is no such project.
 */
int store_schedule_add(struct store *st, struct store_schedule *s, int max,
		       struct strbuf *err);
/* Schedule id of project_id; STORE_NOTFOUND when it is not that project's. */
int store_schedule_get(struct store *st, int64_t project_id, int64_t id,
		       struct store_schedule *ret, struct strbuf *err);
/* A project's schedules, by id. */
int store_schedule_list(struct store *st, int64_t project_id, struct store_schedule **ret,
			size_t *nr, struct strbuf *err);
/*
 * Store s's description, cron, cron_timezone, ref, variables, active and
 * next_run_at (the row s->id of s->project_id). STORE_NOTFOUND: no such row.
 */
int store_schedule_update(struct store *st, const struct store_schedule *s,
			  struct strbuf *err);
int store_schedule_delete(struct store *st, int64_t project_id, int64_t id,
			  struct strbuf *err);
/*
 * Active schedules with next_run_at <= now (of live and deleted projects),
 * earliest first, at most limit.
 */
int store_schedule_due(struct store *st, int64_t now, int limit,
		       struct store_schedule **ret, size_t *nr, struct strbuf *err);
/* The earliest next_run_at of the active schedules in *ret; 0 when none. */
int store_schedule_next_due(struct store *st, int64_t *ret, struct strbuf *err);
/*
 * Claim schedule id's run: move next_run_at from was to next, only if it
 * is still active and still was (compare-and-set: of several servers on
 * one database, exactly one claims a run). STORE_CONFLICT when it was not.
 */
int store_schedule_claim(struct store *st, int64_t id, int64_t was, int64_t next,
			 struct strbuf *err);
/* Record the pipeline a run made; active 0 also deactivates the schedule. */
int store_schedule_ran(struct store *st, int64_t id, int64_t pipeline_id, int active,
		       struct strbuf *err);
/* How many schedules project_id has. */
int store_schedule_count(struct store *st, int64_t project_id, int64_t *ret,
			 struct strbuf *err);

#endif
