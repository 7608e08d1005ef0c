/*
 * The local scheduler's worker thread: runs one plan job with jobrun,
 * its workspace under builds/, its log under logs/, its artifacts under
 * artifacts/, and tells the scheduler loop when it is done.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/jobrun.h"
#include "sched/sched_int.h"
#include "util/xalloc.h"

static void print_cb(void *ud, const char *lines, size_t len, int note)
{
	struct worker *w = ud;

	sched_print_lines(w->s, w->idx, lines, len, note);
}

static int done_status(enum job_status st)
{
	return st == JOB_SUCCESS || st == JOB_FAILED || st == JOB_CANCELED ||
	       st == JOB_SKIPPED;
}

void sched_jobrun_init(struct sched *s, size_t idx, int ahead,
		       struct jobrun *jr, struct sched_job_paths *jp)
{
	const struct sched_opts *o = s->o;
	const struct plan_job *pj = &s->plan->jobs[idx];
	const struct job_result *r = &s->res[idx];
	size_t i;

	memset(jp, 0, sizeof(*jp));
	memset(jr, 0, sizeof(*jr));
	jp->workdir = xasprintf("%s/builds/%s", o->state_dir, r->slug);
	jp->log = xasprintf("%s/logs/%s.log", o->state_dir, r->slug);
	jp->art = xasprintf("%s/artifacts/%s", o->state_dir, r->slug);
	jp->cache = xasprintf("%s/cache", o->state_dir);
	jp->deps_nr = pj->deps_nr;
	if (pj->deps_nr)
		jp->deps = xcalloc(pj->deps_nr, sizeof(*jp->deps));
	for (i = 0; i < pj->deps_nr; i++) {
		const struct job_result *dr = &s->res[pj->deps[i]];

		jp->deps[i].name = s->plan->jobs[pj->deps[i]].name;
		if (ahead) {
			/* a running job's result is its worker's */
			if (done_status(s->view[pj->deps[i]]))
				jp->deps[i].dotenv = &dr->dotenv;
			continue;
		}
		jp->deps[i].artifacts_dir = xasprintf("%s/artifacts/%s",
						      o->state_dir, dr->slug);
		jp->deps[i].files = dr->artifacts.nr;
		jp->deps[i].dotenv = &dr->dotenv;
	}
	jr->plan = s->plan;
	jr->pj = pj;
	jr->ctx = o->ctx;
	jr->host_env = o->host_env;
	jr->exec = o->exec;
	jr->workdir = jp->workdir;
	jr->project_dir = o->project_dir;
	jr->files = o->files;
	jr->deps = jp->deps;
	jr->deps_nr = pj->deps_nr;
	jr->cache_dir = jp->cache;
	jr->artifacts_dir = jp->art;
	jr->log_path = jp->log;
	jr->max_log = o->max_log;
	jr->cancel_fd = s->cancel_pipe[0];
	jr->colour = o->colour;
	jr->job_id = o->first_job_id + (long long)idx;
	jr->retry = 1;
	jr->t0 = &s->t0;
}

void sched_job_paths_release(struct sched_job_paths *jp)
{
	size_t i;

	for (i = 0; i < jp->deps_nr; i++)
		free((char *)jp->deps[i].artifacts_dir);
	free(jp->deps);
	free(jp->workdir);
	free(jp->log);
	free(jp->art);
	free(jp->cache);
	memset(jp, 0, sizeof(*jp));
}

void *sched_job_worker(void *arg)
{
	struct worker *w = arg;
	struct sched *s = w->s;
	struct job_result *r = &s->res[w->idx];
	struct jobrun jr;
	struct sched_job_paths jp;
	uint32_t idx = (uint32_t)w->idx;
	const char *p;
	size_t n;
	ssize_t wr;

	sched_jobrun_init(s, w->idx, 0, &jr, &jp);
	jr.prestart = w->pre;
	w->pre = NULL;
	jr.print = print_cb;
	jr.ud = w;
	jobrun_run(&jr, r);
	sched_job_paths_release(&jp);
	p = (const char *)&idx;
	for (n = sizeof(idx); n; ) {
		wr = write(s->done_pipe[1], p, n);
		if (wr < 0 && errno == EINTR)
			continue;
		if (wr <= 0)
			break;
		p += wr;
		n -= (size_t)wr;
	}
	return NULL;
}
