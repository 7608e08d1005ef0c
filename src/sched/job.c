/*
 * The local scheduler's worker thread: runs one plan job with jobrun,
 * its workspace under builds/, its log under logs/, its artifacts under
 * artifacts/, and tells the scheduler loop when it is done.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched/jobrun.h"
#include "sched/sched_int.h"
#include "util/xalloc.h"

static void print_cb(void *ud, const char *line, size_t len, int note)
{
	struct worker *w = ud;

	sched_print_line(w->s, w->idx, line, len, note);
}

void *sched_job_worker(void *arg)
{
	struct worker *w = arg;
	struct sched *s = w->s;
	const struct sched_opts *o = s->o;
	const struct plan_job *pj = &s->plan->jobs[w->idx];
	struct job_result *r = &s->res[w->idx];
	struct jobrun jr = { 0 };
	struct jobrun_dep *deps = NULL;
	char *workdir, *log, *art, *cache;
	uint32_t idx = (uint32_t)w->idx;
	const char *p;
	size_t i, n;
	ssize_t wr;

	workdir = xasprintf("%s/builds/%s", o->state_dir, r->slug);
	log = xasprintf("%s/logs/%s.log", o->state_dir, r->slug);
	art = xasprintf("%s/artifacts/%s", o->state_dir, r->slug);
	cache = xasprintf("%s/cache", o->state_dir);
	if (pj->deps_nr)
		deps = xcalloc(pj->deps_nr, sizeof(*deps));
	for (i = 0; i < pj->deps_nr; i++) {
		const struct job_result *dr = &s->res[pj->deps[i]];

		deps[i].name = s->plan->jobs[pj->deps[i]].name;
		deps[i].artifacts_dir = xasprintf("%s/artifacts/%s", o->state_dir, dr->slug);
		deps[i].files = dr->artifacts.nr;
		deps[i].dotenv = &dr->dotenv;
	}
	jr.plan = s->plan;
	jr.pj = pj;
	jr.ctx = o->ctx;
	jr.host_env = o->host_env;
	jr.exec = o->exec;
	jr.workdir = workdir;
	jr.project_dir = o->project_dir;
	jr.files = o->files;
	jr.deps = deps;
	jr.deps_nr = pj->deps_nr;
	jr.cache_dir = cache;
	jr.artifacts_dir = art;
	jr.log_path = log;
	jr.max_log = o->max_log;
	jr.cancel_fd = s->cancel_pipe[0];
	jr.colour = o->colour;
	jr.job_id = o->first_job_id + (long long)w->idx;
	jr.retry = 1;
	jr.t0 = &s->t0;
	jr.print = print_cb;
	jr.ud = w;
	jobrun_run(&jr, r);

	for (i = 0; i < pj->deps_nr; i++)
		free((char *)deps[i].artifacts_dir);
	free(deps);
	free(workdir);
	free(log);
	free(art);
	free(cache);
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
