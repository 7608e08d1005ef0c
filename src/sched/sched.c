/*
 * The local scheduler loop. Decides, job by job, what GitLab would:
 * a job waits for the jobs of earlier stages (or for its needs), then
 * runs, is skipped, or stays manual according to `when` and whether
 * those finished successfully; failures allowed by allow_failure count
 * as success. Runs up to max_parallel jobs at once, one job per
 * resource_group at a time, and cancels everything on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched/sched_int.h"
#include "util/xalloc.h"

static const char *status_names[] = {
	[JOB_CREATED] = "created",
	[JOB_PENDING] = "pending",
	[JOB_RUNNING] = "running",
	[JOB_SUCCESS] = "success",
	[JOB_FAILED] = "failed",
	[JOB_CANCELED] = "canceled",
	[JOB_SKIPPED] = "skipped",
	[JOB_MANUAL] = "manual",
	[JOB_SCHEDULED] = "scheduled",
};

const char *job_status_name(enum job_status s)
{
	return (size_t)s < ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

double sched_now(const struct sched *s)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - s->t0.tv_sec) + (t.tv_nsec - s->t0.tv_nsec) / 1e9;
}

static const int colours[] = { 36, 33, 35, 32, 34, 96, 93, 95, 92, 94 };

void sched_print_lines(struct sched *s, size_t idx, const char *lines,
		       size_t len, int is_note)
{
	const struct sched_opts *o = s->o;
	const char *name = s->plan->jobs[idx].name, *end = lines + len, *nl;
	struct strbuf sb = STRBUF_INIT, prefix = STRBUF_INIT;
	int w = s->name_width;
	size_t n;

	if (o->quiet || !o->out)
		return;
	if (o->colour)
		strbuf_addf(&prefix, "\033[%dm%-*.*s\033[0m \033[2m|\033[0m ",
			    colours[idx % ARRAY_SIZE(colours)], w, w, name);
	else
		strbuf_addf(&prefix, "%-*.*s | ", w, w, name);
	if (is_note && o->colour)
		strbuf_addstr(&prefix, "\033[1m");
	strbuf_grow(&sb, len + len / 8 + prefix.len + 16);
	while (lines < end) {
		nl = memchr(lines, '\n', (size_t)(end - lines));
		n = nl ? (size_t)(nl - lines) : (size_t)(end - lines);
		strbuf_add(&sb, prefix.buf, prefix.len);
		strbuf_add(&sb, lines, n && lines[n - 1] == '\r' ? n - 1 : n);
		if (is_note && o->colour)
			strbuf_addstr(&sb, "\033[0m");
		strbuf_addch(&sb, '\n');
		lines += n + 1;
	}
	pthread_mutex_lock(&s->out_lock);
	fwrite(sb.buf, 1, sb.len, o->out);
	fflush(o->out);
	pthread_mutex_unlock(&s->out_lock);
	strbuf_release(&sb);
	strbuf_release(&prefix);
}

/* The job name made file-name safe: [A-Za-z0-9_.], runs of others as "-". */
static char *slug_base(const char *n)
{
	struct strbuf sb = STRBUF_INIT;
	int dash = 0;

	for (; *n && sb.len < 60; n++) {
		unsigned char c = (unsigned char)*n;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c >= 'A' && c <= 'Z') || c == '_' || c == '.') {
			if (c == '.' && !sb.len)
				c = '_';
			strbuf_addch(&sb, c);
			dash = 0;
		} else if (!dash && sb.len) {
			strbuf_addch(&sb, '-');
			dash = 1;
		}
	}
	while (sb.len && sb.buf[sb.len - 1] == '-')
		strbuf_setlen(&sb, sb.len - 1);
	if (!sb.len)
		strbuf_addstr(&sb, "job");
	return strbuf_detach(&sb, NULL);
}

void sched_job_slugs(const struct plan *plan, char **out)
{
	size_t i, k;

	for (i = 0; i < plan->nr; i++) {
		char *base = slug_base(plan->jobs[i].name);
		unsigned n = 1;

		out[i] = xstrdup(base);
		/* unique within the plan: a taken slug gets -2, -3, ... */
		for (k = 0; k < i; k++) {
			if (strcmp(out[k], out[i]))
				continue;
			free(out[i]);
			out[i] = xasprintf("%s-%u", base, ++n);
			k = (size_t)-1;
		}
		free(base);
	}
}

static int finished(enum job_status st)
{
	return st == JOB_SUCCESS || st == JOB_FAILED || st == JOB_CANCELED ||
	       st == JOB_SKIPPED;
}

enum verdict { WAIT, RUN, SKIP, MANUAL, DELAY, BLOCKED };

/*
 * Look at the prerequisites of job i: *failed is set when one of them
 * failed without being allowed to (or was canceled). Returns 0 when they
 * are all done, 1 while some are pending, 2 when a blocking manual job
 * stands in the way.
 */
static int prereqs(const struct sched *s, size_t i, int *failed)
{
	const struct plan *plan = s->plan;
	const struct plan_job *pj = &plan->jobs[i];
	size_t k;
	int pending = 0;

	*failed = 0;
	for (k = 0; k < plan->nr; k++) {
		const struct job_result *r = &s->res[k];
		const struct plan_job *pk = &plan->jobs[k];
		int is_prereq = 0;
		size_t n;

		if (k == i)
			continue;
		if (pj->has_needs) {
			for (n = 0; n < pj->needs_nr; n++)
				if (pj->needs[n].job == k)
					is_prereq = 1;
		} else {
			is_prereq = pk->stage < pj->stage;
		}
		if (!is_prereq)
			continue;
		if (s->view[k] == JOB_MANUAL) {
			if (!pk->allow_failure)
				return 2;
			continue;
		}
		if (!finished(s->view[k])) {
			pending = 1;
			continue;
		}
		if ((s->view[k] == JOB_FAILED && !r->allowed_failure) ||
		    s->view[k] == JOB_CANCELED)
			*failed = 1;
	}
	return pending;
}

static enum verdict decide(const struct sched *s, size_t i)
{
	const struct plan_job *pj = &s->plan->jobs[i];
	int failed, st = prereqs(s, i, &failed);

	if (st == 1)
		return WAIT;
	if (st == 2)
		return BLOCKED;
	switch (pj->when) {
	case WHEN_ON_SUCCESS:
		return failed ? SKIP : RUN;
	case WHEN_ON_FAILURE:
		return failed ? RUN : SKIP;
	case WHEN_ALWAYS:
		return RUN;
	case WHEN_MANUAL:
		if (failed)
			return SKIP;
		return pj->run_manual ? RUN : MANUAL;
	case WHEN_DELAYED:
		return failed ? SKIP : DELAY;
	case WHEN_NEVER:
		return SKIP;
	}
	return SKIP;
}

/* Seconds in a GitLab start_in ("30 seconds", "5 min", "1 hour", "10"). */
static double parse_start_in(const char *s)
{
	double total = 0;
	char *end;

	if (!s)
		return 0;
	while (*s) {
		double n;

		while (*s == ' ' || *s == ',')
			s++;
		if (!*s)
			break;
		n = strtod(s, &end);
		if (end == s)
			return total;
		s = end;
		while (*s == ' ')
			s++;
		if (!strncmp(s, "h", 1))
			n *= 3600;
		else if (!strncmp(s, "mi", 2) || (s[0] == 'm' && (s[1] == ' ' || !s[1])))
			n *= 60;
		else if (!strncmp(s, "d", 1))
			n *= 86400;
		else if (!strncmp(s, "w", 1))
			n *= 7 * 86400;
		while (*s && *s != ' ' && *s != ',')
			s++;
		total += n;
	}
	return total;
}

static int group_busy(const struct sched *s, size_t i)
{
	const char *g = s->plan->jobs[i].def->resource_group;
	size_t k;

	if (!g)
		return 0;
	for (k = 0; k < s->plan->nr; k++) {
		const char *h = s->plan->jobs[k].def->resource_group;

		if (k != i && s->view[k] == JOB_RUNNING && h && !strcmp(g, h))
			return 1;
	}
	return 0;
}

static int mkdirs(const char *base, struct strbuf *err)
{
	static const char *const sub[] = { "", "/builds", "/artifacts", "/cache", "/logs" };
	struct strbuf p = STRBUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sub); i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s%s", base, sub[i]);
		if (mkdir(p.buf, 0755) < 0 && errno != EEXIST) {
			strbuf_addf(err, "cannot create %s: %s", p.buf, strerror(errno));
			strbuf_release(&p);
			return -1;
		}
	}
	strbuf_release(&p);
	return 0;
}

/* sandboxes ahead whose "ready" the scheduler waits for at once, at most */
#define SCHED_POLL_AHEAD 16

/*
 * $CIDRE_PRESTART_TRACE: "WHAT JOB MS" lines (MS since the pipeline
 * started), for tests and benchmarks.
 */
static void trace(struct sched *s, const char *what, size_t i)
{
	char *line;

	if (s->trace_fd < 0)
		return;
	line = xasprintf("%s %s %.2f\n", what, s->plan->jobs[i].name,
			 sched_now(s) * 1e3);
	if (write(s->trace_fd, line, strlen(line)) < 0) {
		/* a trace is best effort */
	}
	free(line);
}

/*
 * How many waves beyond the next one get sandboxes ahead (at most
 * max_parallel alive in all, the earliest jobs first): any, when a
 * prestarted sandbox takes the job's environment when it runs (the
 * trampoline): nothing learnt meanwhile can make it unusable. Else 0,
 * the jobs whose prerequisites have all started: further ones would
 * often miss a dotenv report of a job still running.
 */
static int prestart_waves(void)
{
	return jobrun_prestart_takes_env() ? 1 << 20 : 0;
}

/*
 * How far job i is from running, in waves: 0 when its prerequisites
 * have all started or are done (none failed that would skip it), 1 + the
 * furthest not started prerequisite's wave otherwise; -1 when it will
 * not run by itself (manual, delayed, never, a failed prerequisite, a
 * blocking manual job). wave[] holds the answers for jobs before i in
 * the plan order where they are prerequisites (-2: not known yet).
 */
static int wave_of(const struct sched *s, size_t i, const int *wave)
{
	const struct plan *plan = s->plan;
	const struct plan_job *pj = &plan->jobs[i];
	size_t k, n;
	int w = 0;

	if (pj->when != WHEN_ON_SUCCESS && pj->when != WHEN_ALWAYS)
		return -1;
	for (k = 0; k < plan->nr; k++) {
		int is_prereq = 0;

		if (k == i)
			continue;
		if (pj->has_needs) {
			for (n = 0; n < pj->needs_nr; n++)
				if (pj->needs[n].job == k)
					is_prereq = 1;
		} else {
			is_prereq = plan->jobs[k].stage < pj->stage;
		}
		if (!is_prereq)
			continue;
		switch (s->view[k]) {
		case JOB_PENDING: case JOB_RUNNING: case JOB_SUCCESS:
		case JOB_SKIPPED:
			break;
		case JOB_FAILED:
			if (!s->res[k].allowed_failure &&
			    pj->when == WHEN_ON_SUCCESS)
				return -1;
			break;
		case JOB_CREATED:
			if (wave[k] < 0)
				return -1;
			if (wave[k] + 1 > w)
				w = wave[k] + 1;
			break;
		default:
			return -1;
		}
	}
	return w;
}

/*
 * Sandboxes ahead: tear down those of jobs that will not run now
 * (skipped, canceled, manual), then start some for the jobs that can
 * run next, only onto CPUs no job uses: running jobs and sandboxes
 * ahead still being set up together at most max_parallel (ncpus by
 * default). A pool's sandbox that said it is ready uses no CPU while it
 * waits for its job, so the next one can start on that CPU: a stage's
 * second job then finds its sandbox made too, instead of making it
 * when it starts, after three hand-overs between processes on busy
 * CPUs (0.6-1 ms; ../../docs/benchmarks.md). A sandbox's
 * set-up on a CPU a job runs on slows that job down by as much: on 2
 * CPUs the 6-job pipeline went from 1.28x to 1.23x the shell's with
 * pool inits that serve job after job, whose hand-over at the job's
 * start is cheap (../../docs/benchmarks.md). Each costs the scheduler thread
 * a fork and bwrap's exec (1.5-10 ms on a loaded machine: the child
 * waits for a CPU); the set-up goes on in bwrap meanwhile. A job that
 * finished comes first: no further one is started once the done pipe
 * is readable (the loop calls again after handling it).
 */
static int job_done_waiting(const struct sched *s)
{
	struct pollfd pfd = { .fd = s->done_pipe[0], .events = POLLIN };

	return s->done_pipe[0] >= 0 && poll(&pfd, 1, 0) > 0;
}

static void prestart_ahead(struct sched *s, int interrupted, int early)
{
	size_t i, busy = 0, made = 0, max = (size_t)s->o->max_parallel;
	int *wave, waves = prestart_waves();

	if (!s->pre)
		return;
	for (i = 0; i < s->plan->nr; i++) {
		if (s->view[i] == JOB_RUNNING)
			busy++;
		if (!s->pre[i])
			continue;
		if (interrupted || (s->view[i] != JOB_CREATED &&
				    s->view[i] != JOB_PENDING)) {
			proc_prestart_discard(s->pre[i]);
			s->pre[i] = NULL;
			trace(s, "discarded", i);
			continue;
		}
		made++;
		busy += early || proc_prestart_busy(s->pre[i], NULL);
	}
	if (interrupted)
		return;
	/* prerequisites come first in the plan (stages in order, needs
	   within earlier stages or earlier in the same one): one pass */
	wave = xcalloc(s->plan->nr ? s->plan->nr : 1, sizeof(*wave));
	for (i = 0; i < s->plan->nr; i++)
		wave[i] = s->view[i] == JOB_CREATED || s->view[i] == JOB_PENDING ?
			  -2 : -1;
	for (i = 0; i < s->plan->nr; i++)
		if (wave[i] == -2)
			wave[i] = wave_of(s, i, wave);
	/* at most max_parallel made and waiting: one wave's worth */
	for (i = 0; i < s->plan->nr && busy < max && made < max; i++) {
		struct jobrun jr;
		struct sched_job_paths jp;

		if (s->pre[i] || s->pre_tried[i] || wave[i] < 0 ||
		    wave[i] > waves)
			continue;
		if (job_done_waiting(s))
			break;
		s->pre_tried[i] = 1;
		sched_jobrun_init(s, i, 1, &jr, &jp);
		s->pre[i] = jobrun_prestart(&jr);
		sched_job_paths_release(&jp);
		if (s->pre[i]) {
			made++;
			busy += early || proc_prestart_busy(s->pre[i], NULL);
			trace(s, "ahead", i);
		}
	}
	free(wave);
}

struct sched_early *sched_prestart(const struct plan *plan,
				   const struct sched_opts *o)
{
	struct sched s;
	struct sched_early *e;
	char **slugs;
	const char *t = getenv("CIDRE_PRESTART_TRACE");
	size_t i, n = plan->nr ? plan->nr : 1;
	int any = 0;

	if (!o->exec || o->exec->executor != JOBRUN_SANDBOX ||
	    !jobrun_prestart_enabled())
		return NULL;
	/* what prestart_ahead reads of a scheduler that has not begun:
	   every job created, slugs, no results yet */
	memset(&s, 0, sizeof(s));
	s.plan = plan;
	s.o = o;
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	s.cancel_pipe[0] = s.cancel_pipe[1] = -1;
	s.done_pipe[0] = s.done_pipe[1] = -1;
	s.trace_fd = t && *t ? open(t, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				    0644) : -1;
	s.view = xcalloc(n, sizeof(*s.view));
	s.res = xcalloc(n, sizeof(*s.res));
	slugs = xcalloc(n, sizeof(*slugs));
	sched_job_slugs(plan, slugs);
	for (i = 0; i < plan->nr; i++)
		s.res[i].slug = slugs[i];
	e = xcalloc(1, sizeof(*e));
	e->nr = plan->nr;
	e->pre = s.pre = xcalloc(n, sizeof(*s.pre));
	e->tried = s.pre_tried = xcalloc(n, 1);
	prestart_ahead(&s, 0, 1);
	for (i = 0; i < plan->nr; i++) {
		any |= s.pre[i] != NULL;
		free(slugs[i]);
	}
	free(slugs);
	free(s.res);
	free(s.view);
	if (s.trace_fd >= 0)
		close(s.trace_fd);
	if (!any) {
		sched_early_discard(e);
		return NULL;
	}
	return e;
}

void sched_early_discard(struct sched_early *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nr; i++)
		proc_prestart_discard(e->pre[i]);
	free(e->pre);
	free(e->tried);
	free(e);
}

static void cancel_all(struct sched *s)
{
	size_t k;

	if (write(s->cancel_pipe[1], "x", 1) < 0) {
		/* the pipe is ours and never full: nothing to do */
	}
	for (k = 0; k < s->plan->nr; k++) {
		enum job_status st = s->view[k];

		if (st == JOB_CREATED || st == JOB_PENDING || st == JOB_SCHEDULED) {
			s->view[k] = s->res[k].status = JOB_CANCELED;
			s->res[k].skip_reason = xstrdup("pipeline canceled");
		}
	}
}

int sched_run(const struct plan *plan, const struct sched_opts *o,
	      struct job_result *res, struct strbuf *err)
{
	struct sched s;
	struct worker *workers;
	double *due;
	sigset_t mask, old;
	int sfd = -1, interrupted = 0, running = 0, ret = -1;
	size_t i;

	memset(&s, 0, sizeof(s));
	s.plan = plan;
	s.o = o;
	s.res = res;
	pthread_mutex_init(&s.out_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &s.t0);
	s.cancel_pipe[0] = s.cancel_pipe[1] = s.done_pipe[0] = s.done_pipe[1] = -1;
	s.trace_fd = -1;
	for (i = 0; i < plan->nr; i++) {
		int len = (int)strlen(plan->jobs[i].name);

		if (len > s.name_width)
			s.name_width = len > 24 ? 24 : len;
		res[i].peak_mem = -1;
		res[i].exit_code = -1;
		strvec_init(&res[i].artifacts);
		varlist_init(&res[i].dotenv);
	}
	{
		char **slugs = xcalloc(plan->nr ? plan->nr : 1, sizeof(*slugs));

		sched_job_slugs(plan, slugs);
		for (i = 0; i < plan->nr; i++)
			res[i].slug = slugs[i];
		free(slugs);
	}
	s.view = xcalloc(plan->nr ? plan->nr : 1, sizeof(*s.view));
	workers = xcalloc(plan->nr ? plan->nr : 1, sizeof(*workers));
	due = xcalloc(plan->nr ? plan->nr : 1, sizeof(*due));
	if (o->exec && o->exec->executor == JOBRUN_SANDBOX &&
	    jobrun_prestart_enabled()) {
		s.pre = xcalloc(plan->nr ? plan->nr : 1, sizeof(*s.pre));
		s.pre_tried = xcalloc(plan->nr ? plan->nr : 1, 1);
	}
	{
		/* every executor's launches and ends, to compare them */
		const char *t = getenv("CIDRE_PRESTART_TRACE");

		if (t && *t)
			s.trace_fd = open(t, O_WRONLY | O_CREAT | O_APPEND |
					  O_CLOEXEC, 0644);
	}
	if (o->early && s.pre) {
		/* the same plan and options: take them over */
		memcpy(s.pre, o->early->pre, plan->nr * sizeof(*s.pre));
		memcpy(s.pre_tried, o->early->tried, plan->nr);
		memset(o->early->pre, 0, plan->nr * sizeof(*s.pre));
	}
	sched_early_discard(o->early);
	if (mkdirs(o->state_dir, err) < 0)
		goto out;
	if (pipe2(s.cancel_pipe, O_CLOEXEC) < 0 || pipe2(s.done_pipe, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto out;
	}
	/* Signals are taken synchronously by this thread; workers and the
	 * jobs they start inherit the mask only until exec (proc resets it). */
	/* A shell starts background commands with SIGINT ignored, and an
	 * ignored signal is discarded, never queued: restore the default
	 * disposition (harmless while blocked) so the signalfd sees it. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);

	for (;;) {
		int progress = 1, slots, timeout_ms = -1;
		struct pollfd pfd[2 + SCHED_POLL_AHEAD];
		nfds_t npfd = 2;
		double now;

		while (progress && !interrupted) {
			progress = 0;
			for (i = 0; i < plan->nr; i++) {
				enum verdict v;

				if (s.view[i] != JOB_CREATED)
					continue;
				v = decide(&s, i);
				if (v == WAIT || v == BLOCKED)
					continue;
				progress = 1;
				if (v == RUN) {
					s.view[i] = res[i].status = JOB_PENDING;
				} else if (v == SKIP) {
					s.view[i] = res[i].status = JOB_SKIPPED;
				} else if (v == MANUAL) {
					s.view[i] = res[i].status = JOB_MANUAL;
				} else if (v == DELAY) {
					s.view[i] = res[i].status = JOB_SCHEDULED;
					due[i] = sched_now(&s) +
						 parse_start_in(plan->jobs[i].start_in);
				}
			}
		}
		now = sched_now(&s);
		for (i = 0; i < plan->nr; i++) {
			if (s.view[i] != JOB_SCHEDULED)
				continue;
			if (due[i] <= now) {
				s.view[i] = res[i].status = JOB_PENDING;
			} else {
				int ms = (int)((due[i] - now) * 1000) + 1;

				if (timeout_ms < 0 || ms < timeout_ms)
					timeout_ms = ms;
			}
		}
		slots = o->max_parallel - running;
		for (i = 0; i < plan->nr && slots > 0 && !interrupted; i++) {
			if (s.view[i] != JOB_PENDING || group_busy(&s, i))
				continue;
			s.view[i] = res[i].status = JOB_RUNNING;
			workers[i].s = &s;
			workers[i].idx = i;
			workers[i].pre = s.pre ? s.pre[i] : NULL;
			if (workers[i].pre) {
				s.pre[i] = NULL;
				trace(&s, "handed", i);
			}
			if (pthread_create(&workers[i].thread, NULL, sched_job_worker,
					   &workers[i])) {
				proc_prestart_discard(workers[i].pre);
				workers[i].pre = NULL;
				s.view[i] = res[i].status = JOB_FAILED;
				res[i].failure_reason = "runner_system_failure";
				continue;
			}
			running++;
			slots--;
			trace(&s, "launched", i);
		}
		prestart_ahead(&s, interrupted, 0);
		if (!running) {
			int waiting = 0;

			for (i = 0; i < plan->nr; i++)
				if (s.view[i] == JOB_SCHEDULED || s.view[i] == JOB_PENDING)
					waiting = 1;
			if (!waiting)
				break;
		}
		pfd[0].fd = s.done_pipe[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;        /* -1: ignored */
		pfd[1].events = POLLIN;
		/* sandboxes ahead being set up: when one is, another may start */
		for (i = 0; s.pre && i < plan->nr && npfd < 2 + SCHED_POLL_AHEAD; i++) {
			int fd;

			if (s.pre[i] && proc_prestart_busy(s.pre[i], &fd) && fd >= 0) {
				pfd[npfd].fd = fd;
				pfd[npfd++].events = POLLIN;
			}
		}
		if (poll(pfd, npfd, timeout_ms) < 0) {
			if (errno == EINTR)
				continue;
			strbuf_addf(err, "poll: %s", strerror(errno));
			break;
		}
		if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) > 0 && !interrupted) {
				interrupted = 1;
				cancel_all(&s);
			}
		}
		if (pfd[0].revents & POLLIN) {
			uint32_t idx;

			if (read(s.done_pipe[0], &idx, sizeof(idx)) == sizeof(idx) &&
			    idx < plan->nr) {
				pthread_join(workers[idx].thread, NULL);
				s.view[idx] = res[idx].status;
				running--;
				trace(&s, res[idx].prestarted ? "used" : "joined", idx);
			}
		}
	}
	/* Jobs that never got to run: behind a blocking manual job. */
	for (i = 0; i < plan->nr; i++) {
		if (s.view[i] == JOB_CREATED) {
			s.view[i] = res[i].status = JOB_SKIPPED;
			res[i].skip_reason = xstrdup("blocked by a manual job");
		}
	}
	ret = interrupted;
out:
	prestart_ahead(&s, 1, 0);
	if (s.trace_fd >= 0)
		close(s.trace_fd);
	free(s.pre);
	free(s.pre_tried);
	if (sfd >= 0) {
		close(sfd);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	for (i = 0; i < 2; i++) {
		if (s.cancel_pipe[i] >= 0)
			close(s.cancel_pipe[i]);
		if (s.done_pipe[i] >= 0)
			close(s.done_pipe[i]);
	}
	pthread_mutex_destroy(&s.out_lock);
	free(workers);
	free(due);
	free(s.view);
	return ret;
}

const char *sched_pipeline_status(const struct plan *plan,
				  const struct job_result *res, int interrupted)
{
	size_t i;
	int any = 0;

	if (interrupted)
		return "canceled";
	for (i = 0; i < plan->nr; i++) {
		if (res[i].status == JOB_FAILED && !res[i].allowed_failure)
			return "failed";
		if (res[i].status == JOB_CANCELED)
			return "canceled";
		if (res[i].status != JOB_SKIPPED && res[i].status != JOB_MANUAL)
			any = 1;
	}
	if (!any)
		return plan->nr ? "skipped" : "success";
	return "success";
}

void job_result_release(struct job_result *r)
{
	if (r->has_junit)
		junit_report_clear(&r->junit);
	strvec_clear(&r->artifacts);
	varlist_clear(&r->dotenv);
	free(r->slug);
	free(r->log_path);
	free(r->skip_reason);
	free(r->error);
	free(r->cache_hit);
	free(r->env_name);
	free(r->env_url);
	free(r->release);
	memset(r, 0, sizeof(*r));
}
