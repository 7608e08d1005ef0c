#ifndef CIDRE_SCHED_H
#define CIDRE_SCHED_H

/*
 * The local scheduler: runs a plan's jobs on this machine with the shell
 * executor, as many at once as allowed, in stage order or as a DAG by
 * needs, deciding when/allow_failure/retry/resource_group exactly as
 * GitLab does, and reports one result per plan job.
 *
 * Threads: the scheduler owns the calling thread; each running job has a
 * worker thread that prepares its workspace, runs its scripts, and
 * collects artifacts, caches and reports. Workers share nothing but the
 * output lock and the cancel pipe.
 */

#include <stdio.h>

#include "exec/reports.h"
#include "pipeline/plan.h"

enum job_status {
	JOB_CREATED = 0,
	JOB_PENDING,
	JOB_RUNNING,
	JOB_SUCCESS,
	JOB_FAILED,
	JOB_CANCELED,
	JOB_SKIPPED,
	JOB_MANUAL,
	JOB_SCHEDULED,
};

const char *job_status_name(enum job_status s);

struct job_result {
	enum job_status status;
	int exit_code;
	int allowed_failure;     /* failed, but allow_failure let it pass */
	int attempts;
	int timed_out;
	int prestarted;          /* its script ran in a sandbox started ahead */
	const char *failure_reason; /* GitLab's: script_failure, job_execution_timeout, ... */
	double start;            /* seconds since the pipeline started */
	double duration;
	long long peak_mem;      /* bytes, -1 unknown */
	double cpu;              /* user + system seconds */
	const char *accounting;
	int has_junit;
	struct junit_report junit;
	int has_coverage;
	double coverage;
	struct strvec artifacts; /* relative paths collected */
	struct varlist dotenv;   /* artifacts:reports:dotenv */
	char *slug;              /* directory name under builds/, artifacts/, logs/ */
	char *log_path;
	char *skip_reason;
	char *cache_hit;
	char *env_name;          /* environment name and URL, expanded */
	char *env_url;
	char *release;           /* release: the release recorded, as JSON; NULL: none */
	char *error;             /* why cidre failed it (its log may not say); NULL */
};

/* A release's description, in the file or as text, is at most this long. */
#define RELEASE_MAX_DESCRIPTION (1024 * 1024)

struct jobrun_exec;

struct sched_opts {
	const char *project_dir;     /* where files are copied from */
	const struct strvec *files;  /* the snapshot: files jobs see */
	const char *state_dir;       /* .cidre: builds/, artifacts/, cache/, logs/ */
	const struct plan_ctx *ctx;  /* for plan_job_vars */
	char *const *host_env;       /* inherited environment (environ) */
	int max_parallel;            /* >= 1 */
	int colour;                  /* ANSI colours in output */
	int quiet;                   /* no live job output */
	FILE *out;                   /* live output */
	int pipeline_id;
	int first_job_id;
	size_t max_log;              /* bytes kept per job log; 0 = 64 MiB */
	/* executor and limits (sched/jobrun.h); NULL: shell, none */
	const struct jobrun_exec *exec;
	/* sandboxes started before sched_run (sched_prestart), or NULL:
	   sched_run takes them */
	struct sched_early *early;
};

/*
 * Start, before sched_run, the sandboxes of the jobs that will run
 * first (the sandbox executor; plan order, at most max_parallel), so
 * that their set-up overlaps what the caller still does (listing the
 * working tree). o must be what sched_run will get, but o->files may
 * still be being filled: it is not read here. Call from the thread
 * that will call sched_run (a sandbox dies with the thread that
 * started it). Returns what to put in o->early, or NULL when nothing
 * was started; sched_early_discard tears it down if sched_run is not
 * called after all (accepts NULL).
 */
struct sched_early *sched_prestart(const struct plan *plan,
				   const struct sched_opts *o);
void sched_early_discard(struct sched_early *e);

/*
 * Run the plan. results must have plan->nr zeroed entries; each is filled.
 * Returns 0 when the run completed (whatever the jobs' outcome), 1 when
 * it was interrupted by SIGINT/SIGTERM (running jobs were killed, the rest
 * canceled), -1 when it could not run at all (reason in err).
 */
int sched_run(const struct plan *plan, const struct sched_opts *opts,
	      struct job_result *results, struct strbuf *err);
void job_result_release(struct job_result *r);

/* "success", "failed", ... for the pipeline as GitLab computes it. */
const char *sched_pipeline_status(const struct plan *plan,
				  const struct job_result *results,
				  int interrupted);

/*
 * File-name-safe names for every job of the plan, unique within it, in
 * plan order: out[i] (malloc'ed, the caller frees) for plan->jobs[i].
 */
void sched_job_slugs(const struct plan *plan, char **out);

#endif
