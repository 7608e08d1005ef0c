#ifndef CIDRE_SCHED_INT_H
#define CIDRE_SCHED_INT_H

/* Private to src/sched/: state shared by the scheduler loop and workers. */

#include <pthread.h>
#include <time.h>

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
};

struct worker {
	struct sched *s;
	size_t idx;
	pthread_t thread;
};

double sched_now(const struct sched *s);
void *sched_job_worker(void *arg);
/* Print one whole line of a job's output (or a note from cidre). */
void sched_print_line(struct sched *s, size_t idx, const char *line,
		      size_t len, int note);

#endif
