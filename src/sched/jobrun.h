#ifndef CIDRE_JOBRUN_H
#define CIDRE_JOBRUN_H

/*
 * One job, from workspace to reports: populate the workspace (or take it
 * as the caller prepared it), restore its dependencies' artifacts and
 * its caches, run before_script+script in one shell and after_script in
 * another, collect artifacts, reports and caches, and retry as `retry:`
 * allows when asked to. Used by the local scheduler (a worker thread per
 * job) and by the server's job supervisor process (one job per process).
 * Blocking; touches nothing but the files named in struct jobrun and
 * the job_result.
 */

#include <time.h>

#include "exec/proc.h"
#include "sched/sched.h"

struct mask;

/*
 * How jobs run (docs/sandbox.md): the executor, where images are, the
 * defaults for cidre: keys a job does not set.
 */
enum jobrun_executor { JOBRUN_SHELL = 0, JOBRUN_SANDBOX = 1 };

struct jobrun_exec {
	enum jobrun_executor executor;
	const char *image_store;     /* registered images; NULL: none */
	/*
	 * Shell executor and a job with image: 1 runs it on this host,
	 * saying so (cidre run); 0 fails it unless its cidre:host_fallback
	 * (or host_fallback here) allows.
	 */
	int image_on_host;
	int host_fallback;
	struct proc_limits limits;   /* defaults; 0: none */
	int network;                 /* sandbox: default for cidre:network */
	long uid, gid;               /* sandbox: -1: nobody (65534) */
	/*
	 * sandbox: 1 lets sandboxes started ahead come from one pool per
	 * sandbox line (proc_spec.pool): `cidre run`, whose workspaces
	 * are all in one directory of its own.
	 */
	int pool;
	/* jobs naming no image:pull_policy (JOB_PULL_*); 0: $CIDRE_PULL_POLICY,
	   else if-not-present */
	unsigned pull_policy;
};

struct jobrun_dep {
	const char *name;           /* for the log */
	const char *artifacts_dir;  /* restored from here; NULL: nothing */
	size_t files;               /* how many files it holds (0: skip) */
	const struct varlist *dotenv; /* its dotenv report; may be NULL */
};

struct jobrun {
	const struct plan *plan;
	const struct plan_job *pj;
	const struct plan_ctx *ctx;
	char *const *host_env;
	const char *workdir;
	/*
	 * Workspace source: with project_dir, the files listed are copied
	 * from it into workdir (emptied first); without, workdir already
	 * holds the job's sources and files lists the tracked ones.
	 */
	const char *project_dir;
	const struct strvec *files;
	const struct jobrun_dep *deps;
	size_t deps_nr;
	const char *cache_dir;
	const char *artifacts_dir;  /* collected artifacts go here */
	const char *log_path;       /* created/truncated */
	int log_append;             /* append to it instead (its size counts) */
	size_t max_log;             /* 0: 64 MiB */
	int cancel_fd;              /* readable: cancel; -1: none */
	int colour;
	long long job_id;           /* CI_JOB_ID */
	int retry;                  /* retry here as retry: allows */
	const struct timespec *t0;  /* result start is seconds since t0 */
	/* Variables of the project (the server's secret variables); may be NULL. */
	const struct varlist *secrets;
	/* Masks the log (not the live output); may be NULL. Flushed at the end. */
	struct mask *mask;
	/* Executor and limits; NULL: the shell executor, no limits. */
	const struct jobrun_exec *exec;
	/*
	 * A sandbox started ahead for this job (jobrun_prestart), or NULL:
	 * taken by jobrun_run, which runs the first attempt's script in it
	 * when nothing the job could observe changed since (proc_run
	 * checks), else tears it down. Without one, a sandboxed job's
	 * sandbox is still started before its workspace is prepared.
	 */
	struct proc_prestart *prestart;
	/*
	 * Live output: one or more whole lines, each ending in '\n' (a
	 * line over 64 KiB comes in pieces, each ended so), as they are
	 * read; note: cidre's own. NULL: none (the log only).
	 */
	void (*print)(void *ud, const char *lines, size_t len, int note);
	void *ud;
	/*
	 * Called once, when the job's first script runs (its process has
	 * started; proc_spec.on_start): the caller's work that can overlap
	 * the job. Not called for a job that never starts. NULL: none.
	 */
	void (*started)(void *started_ud);
	void *started_ud;
};

/*
 * Run the job; r must be initialised (peak_mem and exit_code -1, lists
 * empty) and gets every field but slug. r->log_path is set (a copy of
 * jr->log_path).
 */
void jobrun_run(const struct jobrun *jr, struct job_result *r);

/*
 * Start the sandbox of a sandboxed job ahead of it: what jobrun_run
 * would compute for the job as jr describes it now (variables,
 * executor, script; nothing logged or recorded), started and waiting
 * (proc_prestart). The workspace directory is made if missing. NULL
 * when the job is not sandboxed, cannot start, or prestarting is off
 * ($CIDRE_PRESTART=0). The sandbox dies with the calling thread.
 */
struct proc_prestart *jobrun_prestart(const struct jobrun *jr);
/* Whether sandboxes are prestarted ($CIDRE_PRESTART is not "0"). */
int jobrun_prestart_enabled(void);
/*
 * Whether a prestarted sandbox takes the job's command and environment
 * when the job starts (through the trampoline, sandbox_init_exe), so
 * that nothing learnt after its start can make it unusable.
 */
int jobrun_prestart_takes_env(void);

/* Whether a failure with exit_code is allowed by allow_failure. */
int jobrun_failure_allowed(const struct plan_job *pj, int exit_code);
/* Whether retry: allows another attempt after attempts tries. */
int jobrun_retry_allows(const struct retry *rt, const char *reason, int exit_code,
			int attempts);

#endif
