#ifndef CIDRE_SUPERVISOR_H
#define CIDRE_SUPERVISOR_H

/*
 * The job supervisor: one process per running server job (`cidre
 * job-exec SPEC`), started by the embedded runner in its own session so
 * that it outlives a server that is killed. It checks the commit out
 * into the job's workspace, plans the pipeline again from the stored
 * context, runs the one job with jobrun (log appended to DATA/logs/ID.log),
 * stores its artifacts content-addressed, and writes its result as JSON
 * (atomically: a result file exists only when complete). SIGTERM cancels
 * the job (its process tree is killed).
 *
 * The spec (JSON, written by the runner):
 *   {"job_id", "pipeline_id", "name", "mirror", "sha", "ref", "workdir",
 *    "log", "max_log", "result", "cas", "cache_dir", "ctx",
 *    "deps": [{"name", "files": [{"path","size","sha256","mode"}],
 *              "dotenv": {"K": "V"}}],
 *    "secrets": [{"key", "value", "masked"}]}   (the file is mode 0600)
 * The result:
 *   {"status", "exit_code", "failure_reason", "allowed_failure",
 *    "duration", "peak_mem", "cpu", "coverage", "env_name", "env_url",
 *    "log_size", "artifacts": [{"path","size","sha256","mode"}],
 *    "dotenv": {...}, "tests": {"total","failed","skipped","errors",
 *    "cases": [{"suite","classname","name","status","time","message"}]}}
 */

/* Run the spec at path; the process's exit status (0: a result was written). */
int supervisor_main(const char *spec_path);

/* Most test cases kept per job (the counts stay exact). */
#define SUPERVISOR_MAX_CASES 20000
/* Largest job spec read (the server writes it; its deps and secrets grow it). */
#define SUPERVISOR_MAX_SPEC (256u << 20)

#endif
