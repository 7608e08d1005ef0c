#ifndef CIDRE_SCHED_INT_H
#define CIDRE_SCHED_INT_H

/* Private to src/sched/: state shared by the scheduler loop and workers. */

#include <pthread.h>
#include <time.h>

#include "sched/jobrun.h"
#include "sched/sched.h"

struct sched {
	const struct plan *plan;
	const struct sched_opts *o;
	struct job_result *res;
	/*
	 * The scheduler's own view of each job's status. A running job's
	 * worker owns its job_result until it is joined (it sets the status
	 * early and keeps working: artifacts, caches); decisions read only
	 * view[], which takes the worker's final status at the join.
	 */
	enum job_status *view;
	pthread_mutex_t out_lock;
	int cancel_pipe[2];   /* read end readable once the run is canceled */
	int done_pipe[2];     /* workers write their job index when done */
	struct timespec t0;
	int name_width;
	/*
	 * Sandboxes started ahead (sandbox executor; docs/internals/
	 * sandbox.md): pre[i] for job i until its worker takes it; at most
	 * max_parallel at once. pre_tried[i]: not tried again. NULL arrays:
	 * no prestarting. Only the scheduler thread touches them.
	 */
	struct proc_prestart **pre;
	char *pre_tried;
	int trace_fd;         /* $CIDRE_PRESTART_TRACE, or -1 */
};

/* Sandboxes started before sched_run (sched_prestart): pre[i] for job i. */
struct sched_early {
	size_t nr;
	struct proc_prestart **pre;
	char *tried;
};

struct worker {
	struct sched *s;
	size_t idx;
	pthread_t thread;
	struct proc_prestart *pre;   /* handed to its jobrun */
};

/* What a job's jobrun points to (sched_jobrun_init). */
struct sched_job_paths {
	char *workdir, *log, *art, *cache;
	struct jobrun_dep *deps;
	size_t deps_nr;
};

/*
 * Fill jr for job idx. ahead: for jobrun_prestart from the scheduler
 * thread while the job's prerequisites may still run: only finished
 * ones' dotenv reports are read, no artifacts. jp owns the strings.
 */
void sched_jobrun_init(struct sched *s, size_t idx, int ahead,
		       struct jobrun *jr, struct sched_job_paths *jp);
void sched_job_paths_release(struct sched_job_paths *jp);

double sched_now(const struct sched *s);
void *sched_job_worker(void *arg);
/*
 * Print whole lines of a job's output (or a note from cidre), each
 * ending in '\n', each behind the job's name, in one write.
 */
void sched_print_lines(struct sched *s, size_t idx, const char *lines,
		       size_t len, int note);

#endif
