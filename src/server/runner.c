/*
 * The embedded runner and the pipeline scheduler (one thread), the
 * poller (another), and the state changes the API asks for.
 *
 * The runner thread is the only one that decides what a created job
 * becomes (pending, skipped, manual, scheduled), claims pending jobs,
 * starts their supervisors and records their results. Everything it
 * knows is in the store; what it keeps in memory (running slots, delayed
 * jobs' timers) is rebuilt from the store at start (recover()).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/cas.h"
#include "exec/cgroup.h"
#include "exec/pool.h"
#include "exec/spawn.h"
#include "git/mirror.h"
#include "notify/notify.h"
#include "pipeline/model.h"
#include "sched/jobrun.h"
#include "server/seal.h"
#include "server/server.h"
#include "util/fileio.h"
#include "util/utctime.h"
#include "util/xalloc.h"

struct slot {
	int no;           /* 1..: the runner's slot, naming its workspace */
	int64_t job_id;
	int64_t pipeline_id;
	pid_t pid;
	int pidfd;
	int child;        /* our child (started here), else re-attached */
	int secrets;      /* its spec file holds the project's secret variables */
};

struct timer {
	int64_t job_id;
	int64_t pipeline_id;
	int64_t due;      /* ms since the epoch */
};

struct runner {
	struct server *srv;
	struct store *st;
	int ep;
	struct slot *slots;
	size_t nr, alloc;
	struct timer *timers;
	size_t timers_nr, timers_alloc;
	int max_no;	/* the highest slot number a job has run in */
	int64_t idle_since;     /* ms, since when no job runs; 0: running */
	int shrunk;             /* the store's caches let go of since then */
	int64_t *dirty;         /* pipelines decided, their status not yet set */
	size_t dirty_nr, dirty_alloc;
	char *spare_log;        /* DATA/logs/.next.log: the next job's log, made ahead */
	int spare_ready;        /* it exists (made by this runner) */
	struct launcher *launcher;  /* forks the supervisors; NULL: spawned */
	int launcher_fails;     /* starts or answers that failed, for good */
	int ready_fd;           /* eventfd: written once recover() is done */
	struct unrecorded *unrec;   /* ended jobs the store could not record yet */
	size_t unrec_nr, unrec_alloc;
	int64_t unrec_next;     /* ms: when they are tried again */
	int64_t claim_warned;   /* ms: when a claim that failed was last logged */
	int64_t *orphans;       /* pipelines to fail (server_orphan_pipeline) */
	size_t orphans_nr, orphans_alloc;
};

/*
 * A job's end to record: from its result, or as failed for lost_reason
 * (a sentence for its log; NULL: none) as reason (a GitLab failure
 * reason; NULL: runner_system_failure). When the store cannot write it
 * (STORE_UNAVAILABLE: its disk is full), it waits in runner.unrec and is
 * tried again every UNRECORDED_RETRY_MS; its slot (no) stays held, so
 * that no other job writes over its result file.
 */
struct unrecorded {
	int64_t job_id;
	int no;                 /* the slot it ran in; 0: none, or not known */
	char *lost_reason;
	const char *reason;
	int noted;              /* lost_reason is in its log already */
	int noted_store;        /* the server's log said it waits */
	int64_t ended;          /* ms: when it was seen to end, its finish time */
};

#define UNRECORDED_RETRY_MS 1000

/* After this many failures of the launcher, supervisors are spawned. */
#define LAUNCHER_MAX_FAILS 5

/*
 * The name of slot no's cgroups, kept from job to job by its
 * supervisors (cgroup_keep_as) and removed when the runner stops: the
 * server's pid makes them this server's alone.
 */
static char *slot_cgroup(int no)
{
	return xasprintf("cidre-%ld-slot-%d", (long)getpid(), no);
}

static int finished(const char *s)
{
	return !strcmp(s, "success") || !strcmp(s, "failed") || !strcmp(s, "canceled") ||
	       !strcmp(s, "skipped");
}

/* ---- retry policy ---- */

static int retry_allows(const struct store_job *j, const char *reason, int exit_code)
{
	struct retry rt;
	json_t *o = NULL, *a;
	size_t i;
	int ok;

	if (j->attempt > j->max_retries)
		return 0;
	memset(&rt, 0, sizeof(rt));
	strvec_init(&rt.when);
	rt.max = j->max_retries;
	if (j->retry_when)
		o = json_loads(j->retry_when, 0, NULL);
	a = json_object_get(o, "when");
	for (i = 0; i < json_array_size(a); i++)
		if (json_is_string(json_array_get(a, i)))
			strvec_push(&rt.when, json_string_value(json_array_get(a, i)));
	a = json_object_get(o, "exit_codes");
	if (json_array_size(a)) {
		rt.exit_codes.v = xcalloc(json_array_size(a), sizeof(int));
		for (i = 0; i < json_array_size(a); i++)
			rt.exit_codes.v[rt.exit_codes.nr++] =
				(int)json_integer_value(json_array_get(a, i));
	}
	ok = jobrun_retry_allows(&rt, reason ? reason : "unknown_failure", exit_code,
				 j->attempt);
	strvec_clear(&rt.when);
	free(rt.exit_codes.v);
	json_decref(o);
	return ok;
}

/*
 * A new attempt of j (GitLab's retry): pending at once, or manual again
 * when as_manual (a manual job retried with its pipeline waits for play).
 */
static int new_attempt_as(struct store *st, const struct store_job *j, int as_manual,
			  int64_t *ret_id, struct strbuf *err)
{
	struct store_job n;

	memset(&n, 0, sizeof(n));
	n.pipeline_id = j->pipeline_id;
	n.name = j->name;
	n.stage = j->stage;
	n.stage_idx = j->stage_idx;
	n.plan_idx = j->plan_idx;
	n.status = as_manual ? "manual" : "pending";
	n.when = j->when;
	n.start_in_ms = j->start_in_ms;
	n.allow_failure = j->allow_failure;
	n.interruptible = j->interruptible;
	n.resource_group = j->resource_group;
	n.needs = j->needs;
	n.deps = j->deps;
	n.attempt = j->attempt + 1;
	n.max_retries = j->max_retries;
	n.retry_when = j->retry_when;
	n.manual_confirmation = j->manual_confirmation;
	n.pages = j->pages;
	n.pages_prefix = j->pages_prefix;
	n.pages_expire_ms = j->pages_expire_ms;
	if (store_job_add(st, &n, err) < 0 || store_job_set_retried(st, j->id, err) < 0)
		return -1;
	if (ret_id)
		*ret_id = n.id;
	return 0;
}

static int new_attempt(struct store *st, const struct store_job *j, int64_t *ret_id,
		       struct strbuf *err)
{
	return new_attempt_as(st, j, 0, ret_id, err);
}

/* ---- deciding: what GitLab does with a created job ---- */

enum verdict { WAIT, RUN, SKIP, MANUAL, DELAY, BLOCKED };

static const struct store_job *by_idx(const struct store_job *jobs, size_t nr, int idx)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (jobs[i].plan_idx == idx)
			return &jobs[i];
	return NULL;
}

static enum verdict decide(const struct store_job *jobs, size_t nr, const struct store_job *j)
{
	json_t *needs = j->needs ? json_loads(j->needs, 0, NULL) : NULL;
	int pending = 0, failed = 0, blocked = 0;
	size_t i, k;

	for (k = 0; k < nr; k++) {
		const struct store_job *p = &jobs[k];
		int is_prereq = 0;

		if (p == j)
			continue;
		if (needs) {
			for (i = 0; i < json_array_size(needs); i++)
				if (json_integer_value(json_object_get(json_array_get(needs, i),
								       "job")) == p->plan_idx)
					is_prereq = 1;
		} else {
			is_prereq = p->stage_idx < j->stage_idx;
		}
		if (!is_prereq)
			continue;
		if (!strcmp(p->status, "manual")) {
			if (!p->allow_failure)
				blocked = 1;
			continue;
		}
		if (!finished(p->status)) {
			pending = 1;
			continue;
		}
		if ((!strcmp(p->status, "failed") && !p->allow_failure) ||
		    !strcmp(p->status, "canceled"))
			failed = 1;
	}
	json_decref(needs);
	if (pending)
		return WAIT;
	if (blocked)
		return BLOCKED;
	if (!strcmp(j->when, "on_failure"))
		return failed ? RUN : SKIP;
	if (!strcmp(j->when, "always"))
		return RUN;
	if (failed)
		return SKIP;
	if (!strcmp(j->when, "manual"))
		return MANUAL;
	if (!strcmp(j->when, "delayed"))
		return DELAY;
	return RUN;
}

static void add_timer(struct runner *r, int64_t job, int64_t pipeline, int64_t due)
{
	size_t i;

	for (i = 0; i < r->timers_nr; i++)
		if (r->timers[i].job_id == job)
			return;
	if (r->timers_nr == r->timers_alloc) {
		r->timers_alloc = r->timers_alloc ? 2 * r->timers_alloc : 8;
		r->timers = xrealloc(r->timers, r->timers_alloc * sizeof(*r->timers));
	}
	r->timers[r->timers_nr].job_id = job;
	r->timers[r->timers_nr].pipeline_id = pipeline;
	r->timers[r->timers_nr].due = due;
	r->timers_nr++;
}

/* A pipeline's latest attempts, counted as its status needs them. */
struct tally {
	int64_t running, pending, created, scheduled, manual, failed, canceled, success;
	int started;
};

static void tally_add(struct tally *t, const char *s, int allow_failure, int started,
		      int64_t n)
{
	if (started)
		t->started = 1;
	if (!strcmp(s, "running"))
		t->running += n;
	else if (!strcmp(s, "pending"))
		t->pending += n;
	else if (!strcmp(s, "created"))
		t->created += n;
	else if (!strcmp(s, "scheduled"))
		t->scheduled += n;
	else if (!strcmp(s, "manual"))
		t->manual += allow_failure ? 0 : n;
	else if (!strcmp(s, "failed"))
		*(allow_failure ? &t->success : &t->failed) += n;
	else if (!strcmp(s, "canceled"))
		t->canceled += n;
	else if (!strcmp(s, "success"))
		t->success += n;
}

/* GitLab's pipeline status from its jobs' (latest attempts). */
static const char *tally_status(const struct tally *t, int *ret_started)
{
	*ret_started = t->started || t->running;
	if (t->running || (t->pending && t->started))
		return "running";
	if (t->pending)
		return "pending";
	if (t->scheduled)
		return "scheduled";
	/* created jobs left with nothing running wait on a manual job */
	if (t->manual || t->created)
		return t->failed ? "failed" : "manual";
	if (t->failed)
		return "failed";
	if (t->canceled)
		return "canceled";
	if (t->success)
		return "success";
	return "skipped";
}

static const char *pipeline_status(const struct store_job *jobs, size_t nr, int *ret_started)
{
	struct tally t;
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < nr; i++)
		tally_add(&t, jobs[i].status, jobs[i].allow_failure, jobs[i].started != 0, 1);
	return tally_status(&t, ret_started);
}

/*
 * The pipeline's status from counts alone (no job read), when there is
 * nothing to decide: no created job (decide() would run) and no
 * scheduled one (its timer is re-armed by the full pass). 1 with the
 * status; 0 when the full pass must run.
 */
static int quick_status(struct store *st, int64_t id, const char **ret, int *ret_started)
{
	struct store_job_group g[64];
	struct tally t;
	size_t n = 0, i;
	int undecided, running;

	/*
	 * Two index seeks first: while a job of the pipeline runs and none
	 * is left to decide, it is running (tally_status), and counting its
	 * jobs (all of them) after every finished one is spared.
	 */
	if (store_job_busy(st, id, &undecided, &running, NULL) < 0 || undecided)
		return 0;
	if (running) {
		*ret = "running";
		*ret_started = 1;
		return 1;
	}
	if (store_job_tally(st, id, g, 64, &n, NULL) < 0 || !n)
		return 0;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++)
		tally_add(&t, g[i].status, g[i].allow_failure, g[i].started, g[i].n);
	if (t.created || t.scheduled)
		return 0;
	*ret = tally_status(&t, ret_started);
	return 1;
}

static int pipeline_finished(const char *s)
{
	return finished(s);
}

/*
 * Decide the created jobs among jobs (pipeline id's latest attempts),
 * recording each verdict with a compare-and-set from created. The
 * statuses in jobs follow what was recorded, and the jobs are decided
 * again until nothing changes (a skipped or manual job can release
 * later ones): no read of the store between the rounds.
 */
static void decide_all(struct runner *r, int64_t id, struct store_job *jobs, size_t nr)
{
	struct store *st = r->st;
	struct strbuf err = STRBUF_INIT;
	int64_t now = server_now_ms();
	int changed = 1;
	size_t i;

	while (changed) {
		changed = 0;
		for (i = 0; i < nr; i++) {
			struct store_job *j = &jobs[i];
			struct store_job f;
			const char *to = NULL;

			if (!strcmp(j->status, "scheduled")) {
				add_timer(r, j->id, id, j->queued);
				continue;
			}
			if (strcmp(j->status, "created"))
				continue;
			memset(&f, 0, sizeof(f));
			f.exit_code = -1;
			f.peak_mem = -1;
			f.cpu = -1;
			f.log_size = -1;
			f.coverage = -1;
			f.tests_total = -1;
			switch (decide(jobs, nr, j)) {
			case RUN:
				to = "pending";
				f.queued = now;
				break;
			case SKIP:
				to = "skipped";
				f.finished = now;
				break;
			case MANUAL:
				to = "manual";
				break;
			case DELAY:
				to = "scheduled";
				f.queued = now + j->start_in_ms;
				break;
			default:
				break;
			}
			if (!to)
				continue;
			if (store_job_transition(st, j->id, "created", to, &f, &err) < 0) {
				/*
				 * Lost to another writer (a cancel): its status, as
				 * recorded. Each round that changes something takes
				 * one created job away, so the rounds end.
				 */
				strbuf_reset(&err);
				if (store_job_get(st, j->id, &f, NULL) == 0) {
					if (strcmp(f.status, "created")) {
						free(j->status);
						j->status = f.status;
						f.status = NULL;
						changed = 1;
					}
					store_job_release(&f);
				}
				continue;
			}
			free(j->status);
			j->status = xstrdup(to);
			if (!strcmp(to, "scheduled")) {
				j->queued = f.queued;
				add_timer(r, j->id, id, f.queued);
			}
			events_job(r->srv, st, j->id);
			if (!strcmp(to, "skipped"))
				logs_job_finished(r->srv, j->id);
			changed = 1;
		}
	}
	strbuf_release(&err);
}

/*
 * Only the decisions of pipeline id's created jobs (no pipeline status):
 * what the runner does for a kicked pipeline before it claims, so that
 * a new pipeline's first jobs are claimable at once; advance() follows
 * after the claims.
 */
static void decide_only(struct runner *r, int64_t id)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job *jobs = NULL;
	size_t nr = 0, i;

	if (store_job_list(r->st, id, 0, &jobs, &nr, &err) < 0) {
		slog_warn("pipeline %lld: %s", (long long)id, err.buf);
		goto done;
	}
	for (i = 0; i < nr && strcmp(jobs[i].status, "created"); i++)
		;
	if (i < nr)
		decide_all(r, id, jobs, nr);
done:
	store_jobs_free(jobs, nr);
	strbuf_release(&err);
}

/*
 * A pipeline status change recorded by settle(), published after the
 * transaction that recorded it (see ingest()).
 */
struct settled {
	int64_t id;
	const char *status;     /* NULL: unchanged */
};

/*
 * The pipeline's status from counts alone, recorded (compare-and-set),
 * when nothing is left to decide (quick_status); in the caller's
 * transaction, if one is open. now: the time of the job's end that
 * decides it (recorded late when the store could not write). 1 when
 * done so (ret->status set if it changed); 0 when advance() must run.
 */
static int settle(struct runner *r, int64_t id, struct settled *ret, int64_t now)
{
	struct store *st = r->st;
	struct store_pipeline pl;
	const char *status;
	int started, rc = 0;

	ret->id = id;
	ret->status = NULL;
	memset(&pl, 0, sizeof(pl));
	if (store_pipeline_get(st, id, &pl, NULL) < 0 ||
	    (pl.error && !strcmp(pl.status, "failed")) || !quick_status(st, id, &status, &started))
		goto done;
	rc = 1;
	if (strcmp(status, pl.status) &&
	    store_pipeline_set_status(st, id, pl.status, status, started && !pl.started ? now : 0,
				      pipeline_finished(status) ? now : 0, NULL, NULL) == 0)
		ret->status = status;
done:
	store_pipeline_release(&pl);
	return rc;
}

/* Decide every created job of pipeline id; set the pipeline's status. */
static void advance(struct runner *r, int64_t id)
{
	struct store *st = r->st;
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline pl;
	struct store_job *jobs = NULL;
	size_t nr = 0;
	int started;
	int64_t now = server_now_ms();
	const char *status;

	memset(&pl, 0, sizeof(pl));
	if (store_pipeline_get(st, id, &pl, &err) < 0)
		goto done;
	if (pl.error && !strcmp(pl.status, "failed"))
		goto done;
	/* after a job finished, mostly: nothing to decide, one count query */
	if (quick_status(st, id, &status, &started))
		goto set_status;
	if (store_job_list(st, id, 0, &jobs, &nr, &err) < 0)
		goto done;
	decide_all(r, id, jobs, nr);
	if (!nr && !strcmp(pl.status, "created") && !pl.error) {
		/*
		 * One this server is making now, its jobs not in yet (create()
		 * adds the pipeline, plans, then adds the jobs): left to
		 * create(), whose kick decides it.
		 */
		if (pl.created >= r->srv->started_ms)
			goto done;
		/* planned but never recorded: the server stopped while creating it */
		store_pipeline_set_status(st, id, "created", "failed", 0, now,
					  "the server stopped while creating this pipeline", &err);
		events_pipeline(r->srv, st, id);
		goto done;
	}
	status = pipeline_status(jobs, nr, &started);
set_status:
	if (strcmp(status, pl.status)) {
		int64_t fin = pipeline_finished(status) ? now : 0;

		if (store_pipeline_set_status(st, id, pl.status, status,
					      started && !pl.started ? now : 0, fin, NULL, &err) == 0) {
			notify_pipeline(r->srv, st, id, status);
			events_pipeline(r->srv, st, id);
		}
	}
done:
	if (err.len)
		slog_warn("pipeline %lld: %s", (long long)id, err.buf);
	store_jobs_free(jobs, nr);
	store_pipeline_release(&pl);
	strbuf_release(&err);
}

/* ---- results ---- */

static void append_log(struct server *srv, int64_t job, const char *msg)
{
	char *path = server_path(srv, "logs", job, ".log");
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0) {
			/* the log is best effort; the status says what happened */
		}
		close(fd);
	}
	free(path);
}

static void record_duration(struct server *srv, double sec)
{
	static const double bounds[] = { 0.1, 0.5, 1, 5, 30, 60, 300 };
	size_t i;

	atomic_fetch_add(&srv->job_ms_sum, (long long)(sec * 1000.0 + 0.5));
	for (i = 0; i < 7 && sec > bounds[i]; i++)
		;
	atomic_fetch_add(&srv->job_seconds_bucket[i], 1);
}

/*
 * When the artifacts of a job that finished at finished expire (ms; 0
 * never): its artifacts:expire_in from the result ("never" or a
 * duration), else the server's artifacts.expire_in.
 */
static int64_t artifacts_expire_at(struct server *srv, const json_t *res, int64_t finished)
{
	struct server_config cfg;
	const char *ei = json_string_value(json_object_get(res, "expire_in"));
	long long secs;

	server_cfg(srv, &cfg);
	secs = cfg.artifacts_expire_s;
	if (ei && !strcmp(ei, "never"))
		secs = -1;
	else if (ei && pipeline_parse_duration(ei) >= 0)
		secs = pipeline_parse_duration(ei);
	return secs < 0 ? 0 : finished + secs * 1000;
}

/*
 * Record the end of running job id from its result file (or its
 * absence: the supervisor died), retry it if its retry: allows.
 */
/*
 * The dotenv report of result res as store text: a JSON object of at
 * least one variable, else NULL. malloc'ed.
 */
static char *dotenv_text(const json_t *res)
{
	const json_t *d = json_object_get(res, "dotenv");

	if (!json_is_object(d) || !json_object_size(d))
		return NULL;
	return json_dumps(d, JSON_COMPACT);
}

/*
 * A job's result is in its runner slot's file WORK/slot-N.result.json,
 * rewritten in place by each job of the slot (a new file per job was an
 * inode allocation, ~0.3-1 ms of CPU on the development VM's ext4); it
 * names its job ("job_id"), so another job's result there is not this
 * one's. RESULTS/ID.json is where supervisors of earlier versions wrote
 * it, and where one stays when its dotenv could not be stored.
 */
static char *slot_result_path(struct server *srv, int no)
{
	return xasprintf("%s/work/slot-%d.result.json", srv->data, no);
}

/* The result of job id, or NULL; *from_slot says whose file it came from. */
static json_t *load_result(struct server *srv, int64_t id, int no, int *from_slot)
{
	json_t *res = NULL;

	*from_slot = 0;
	if (no > 0) {
		char *p = slot_result_path(srv, no);
		json_t *v;

		res = json_load_file(p, 0, NULL);
		free(p);
		v = json_object_get(res, "job_id");
		if (res && json_is_integer(v) && json_integer_value(v) == id) {
			*from_slot = 1;
			return res;
		}
		json_decref(res);
	}
	{
		char *p = server_path(srv, "results", id, ".json");

		res = json_load_file(p, 0, NULL);
		free(p);
	}
	return res;
}

/* Whether job id has a result (a supervisor that ended normally). */
static int result_ready(struct server *srv, int64_t id, int no)
{
	int from_slot;
	json_t *res = load_result(srv, id, no, &from_slot);

	json_decref(res);
	return res != NULL;
}

/*
 * Overwrite the file at path with zero bytes, in place: what it held no
 * longer parses, and is no longer at rest in it. Not emptied: a
 * truncation that frees the file's block is, on a file system mounted
 * with `discard`, a discard the runner's thread waits for (0.1-6 ms on
 * the development VM's journal-less ext4), and it leaves the old bytes
 * in the freed block. 0, or -1 with errno (ENOENT: there is no file).
 */
static int wipe_in_place(const char *path)
{
	static const char zeros[4096];
	struct stat sb;
	off_t off;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1, saved;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0)
		goto done;
	for (off = 0; off < sb.st_size; off += (off_t)sizeof(zeros)) {
		size_t n = sb.st_size - off < (off_t)sizeof(zeros) ?
			   (size_t)(sb.st_size - off) : sizeof(zeros);

		if (pwrite_full(fd, zeros, n, off) < 0)
			goto done;
	}
	rc = 0;
done:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* The slot's result is recorded: wiped in place (nothing at rest). */
static void slot_result_done(struct server *srv, int no)
{
	char *p = slot_result_path(srv, no);

	if (wipe_in_place(p) < 0 && errno != ENOENT)
		slog_warn("cannot wipe %s: %s", p, strerror(errno));
	free(p);
}

/*
 * Record job id's end from its result (it ran in slot no; 0: not
 * known). Without one, it failed for lost_reason (a sentence for its
 * log, or NULL), as reason (a GitLab failure reason; NULL:
 * runner_system_failure).
 */
/*
 * A job's release: (in its result once its script passed): recorded for
 * its project and tag, a later one of the same tag updating it. A
 * failure to record it is logged; the job passed.
 */
static void record_release(struct store *st, const struct store_job *j, const json_t *rel)
{
	struct strbuf err = STRBUF_INIT;
	struct store_release r;
	struct store_pipeline p;
	char when[UTCTIME_ISO8601_LEN];
	json_t *data;
	const char *at = json_string_value(json_object_get(rel, "released_at"));

	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	if (store_pipeline_get(st, j->pipeline_id, &p, &err) < 0)
		goto done;
	if (!at) {
		utctime_iso8601(time(NULL), when);
		at = when;
	}
	data = json_pack("{s:O?, s:O?, s:O?}", "milestones", json_object_get(rel, "milestones"),
			 "assets", json_object_get(rel, "assets"),
			 "tag_message", json_object_get(rel, "tag_message"));
	r.project_id = j->project_id;
	r.tag_name = (char *)json_string_value(json_object_get(rel, "tag_name"));
	r.name = (char *)json_string_value(json_object_get(rel, "name"));
	r.description = (char *)json_string_value(json_object_get(rel, "description"));
	r.ref = (char *)json_string_value(json_object_get(rel, "ref"));
	r.sha = p.sha;
	r.released_at = (char *)at;
	r.data = data ? json_dumps(data, JSON_COMPACT) : NULL;
	r.pipeline_id = j->pipeline_id;
	r.job_id = j->id;
	json_decref(data);
	if (!r.tag_name || !r.name || !r.description || !r.data) {
		strbuf_addstr(&err, "the job's release is incomplete");
		free(r.data);
		goto done;
	}
	if (store_release_set(st, &r, &err) == 0)
		slog_info("job %lld: release %s recorded", (long long)j->id, r.tag_name);
	free(r.data);
done:
	if (err.len)
		slog_warn("job %lld: release not recorded: %s", (long long)j->id, err.buf);
	store_pipeline_release(&p);
	strbuf_release(&err);
}

/*
 * workflow:auto_cancel:on_job_failure all: a job of the pipeline failed
 * (not allowed to, not retried), so the rest of it is canceled.
 */
static void cancel_on_failure(struct server *srv, struct store *st, int64_t pipeline_id,
			      int64_t job_id)
{
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline p;
	int all;

	memset(&p, 0, sizeof(p));
	if (store_pipeline_get(st, pipeline_id, &p, &err) < 0) {
		strbuf_release(&err);
		return;
	}
	all = p.auto_cancel_on_job_failure && !strcmp(p.auto_cancel_on_job_failure, "all");
	store_pipeline_release(&p);
	if (all) {
		slog_info("pipeline %lld: job %lld failed, the rest canceled "
			  "(auto_cancel:on_job_failure all)", (long long)pipeline_id,
			  (long long)job_id);
		if (runner_cancel_pipeline(srv, st, pipeline_id, &err) < 0 && err.len)
			slog_warn("pipeline %lld: %s", (long long)pipeline_id, err.buf);
	}
	strbuf_release(&err);
}

/*
 * Record u's end. 0 when done (or when it cannot ever be: the error is
 * logged), -1 when the store cannot write now: nothing of it changed, it
 * is to be tried again.
 */
static int record_end(struct runner *r, struct unrecorded *u)
{
	struct server *srv = r->srv;
	struct store *st = r->st;
	struct strbuf err = STRBUF_INIT;
	int64_t id = u->job_id;
	int no = u->no, rc = 0, src = 0;
	const char *lost_reason = u->lost_reason, *reason = u->reason;
	char *rpath = server_path(srv, "results", id, ".json");
	char *lpath = server_path(srv, "logs", id, ".log");
	json_t *res = NULL, *t, *a;
	struct store_job j, f;
	const char *status = "failed";
	int64_t retried = 0;
	size_t i;
	struct stat sb;
	struct settled ps;
	int settled = 0, keep_file = 0, from_slot = 0;
	char *dotenv = NULL;

	memset(&j, 0, sizeof(j));
	if ((src = store_job_get(st, id, &j, &err)) < 0)
		goto done;
	res = load_result(srv, id, no, &from_slot);
	if (strcmp(j.status, "running")) {
		/* recorded already (canceled while it ran): its late result goes */
		if (finished(j.status) && res) {
			if (from_slot)
				slot_result_done(srv, no);
			else
				unlink(rpath);
		}
		json_decref(res);
		res = NULL;
		goto done;
	}
	memset(&f, 0, sizeof(f));
	f.exit_code = -1;
	f.peak_mem = -1;
	f.cpu = -1;
	f.coverage = -1;
	f.tests_total = -1;
	f.finished = u->ended;
	f.log_size = stat(lpath, &sb) ? -1 : (int64_t)sb.st_size;
	if (!res) {
		struct strbuf m = STRBUF_INIT;

		strbuf_addf(&m, "\ncidre: ERROR: %s\n", lost_reason ? lost_reason :
			    "the job's supervisor ended without a result");
		if (!u->noted)
			append_log(srv, id, m.buf);
		u->noted = 1;
		strbuf_release(&m);
		f.failure_reason = (char *)(reason ? reason : "runner_system_failure");
		f.log_size = stat(lpath, &sb) ? -1 : (int64_t)sb.st_size;
	} else {
		json_t *v;

		status = json_string_value(json_object_get(res, "status"));
		if (!status || (strcmp(status, "success") && strcmp(status, "failed") &&
				strcmp(status, "canceled")))
			status = "failed";
		f.exit_code = (int)json_integer_value(json_object_get(res, "exit_code"));
		v = json_object_get(res, "failure_reason");
		f.failure_reason = json_is_string(v) ? (char *)json_string_value(v) : NULL;
		v = json_object_get(res, "peak_mem");
		f.peak_mem = json_is_integer(v) ? json_integer_value(v) : -1;
		f.cpu = json_number_value(json_object_get(res, "cpu"));
		v = json_object_get(res, "coverage");
		f.coverage = json_is_number(v) ? json_number_value(v) : -1;
		v = json_object_get(res, "env_name");
		f.env_name = json_is_string(v) ? (char *)json_string_value(v) : NULL;
		v = json_object_get(res, "env_url");
		f.env_url = json_is_string(v) ? (char *)json_string_value(v) : NULL;
		v = json_object_get(res, "error");
		if (json_is_string(v) && !u->noted)
			slog_warn("job %lld: %s", (long long)id, json_string_value(v));
		u->noted = 1;
		f.allow_failure = json_is_true(json_object_get(res, "allowed_failure")) ||
				  (j.allow_failure && strcmp(status, "failed"));
		t = json_object_get(res, "tests");
		if (json_is_object(t)) {
			f.tests_total = (int)json_integer_value(json_object_get(t, "total"));
			f.tests_failed = (int)json_integer_value(json_object_get(t, "failed"));
			f.tests_skipped = (int)json_integer_value(json_object_get(t, "skipped"));
			f.tests_errors = (int)json_integer_value(json_object_get(t, "errors"));
		}
	}
	if (!strcmp(status, "failed") && !res)
		f.allow_failure = 0;
	if (res && strcmp(status, "failed"))
		f.allow_failure = j.allow_failure;

	if ((src = store_begin(st, &err)) < 0)
		goto done;
	t = json_object_get(res, "tests");
	a = json_object_get(t, "cases");
	if (json_array_size(a)) {
		size_t n = json_array_size(a);
		struct store_test *tc = xcalloc(n, sizeof(*tc));

		for (i = 0; i < n; i++) {
			json_t *c = json_array_get(a, i), *m = json_object_get(c, "message");

			tc[i].suite = (char *)json_string_value(json_object_get(c, "suite"));
			tc[i].classname = (char *)json_string_value(json_object_get(c, "classname"));
			tc[i].name = (char *)json_string_value(json_object_get(c, "name"));
			tc[i].status = (char *)json_string_value(json_object_get(c, "status"));
			tc[i].time = json_number_value(json_object_get(c, "time"));
			tc[i].message = json_is_string(m) ? (char *)json_string_value(m) : NULL;
			if (!tc[i].suite)
				tc[i].suite = "";
			if (!tc[i].classname)
				tc[i].classname = "";
			if (!tc[i].name)
				tc[i].name = "";
			if (!tc[i].status)
				tc[i].status = "passed";
		}
		if (store_tests_add(st, id, tc, n, &err) < 0)
			slog_warn("job %lld: test results not recorded: %s", (long long)id, err.buf);
		strbuf_reset(&err);
		free(tc);
	}
	a = json_object_get(res, "artifacts");
	if (json_array_size(a)) {
		size_t n = json_array_size(a);
		struct store_artifact *sa = xcalloc(n, sizeof(*sa));

		for (i = 0; i < n; i++) {
			json_t *e = json_array_get(a, i);
			const char *h = json_string_value(json_object_get(e, "sha256"));

			json_t *crc = json_object_get(e, "crc32");

			sa[i].path = (char *)json_string_value(json_object_get(e, "path"));
			sa[i].size = json_integer_value(json_object_get(e, "size"));
			sa[i].mode = (int)json_integer_value(json_object_get(e, "mode"));
			/* a supervisor of an earlier version gives none */
			sa[i].crc32 = json_is_integer(crc) && json_integer_value(crc) >= 0 &&
				      json_integer_value(crc) <= 0xFFFFFFFF ?
				      json_integer_value(crc) : -1;
			if (h && strlen(h) == 64)
				memcpy(sa[i].sha256, h, 65);
			if (!sa[i].path)
				sa[i].path = "";
		}
		if (store_artifacts_add(st, id, sa, n, &err) < 0)
			slog_warn("job %lld: artifacts not recorded: %s", (long long)id, err.buf);
		else if (store_artifacts_set_expiry(st, id, artifacts_expire_at(srv, res, f.finished),
						    &err) < 0)
			slog_warn("job %lld: artifacts' expiry not recorded: %s", (long long)id,
				  err.buf);
		strbuf_reset(&err);
		free(sa);
	}
	if ((src = store_job_transition(st, id, "running", status, &f, &err)) < 0) {
		store_rollback(st);
		goto done;
	}
	if (!strcmp(status, "success") && json_is_object(json_object_get(res, "release")))
		record_release(st, &j, json_object_get(res, "release"));
	dotenv = dotenv_text(res);
	if (dotenv && store_job_set_dotenv(st, id, dotenv, &err) < 0) {
		/* its dependants read it from the result file, kept then */
		slog_warn("job %lld: dotenv not recorded: %s", (long long)id, err.buf);
		strbuf_reset(&err);
		keep_file = 1;
	}
	if (!strcmp(status, "failed") && !f.allow_failure &&
	    retry_allows(&j, f.failure_reason, f.exit_code)) {
		int64_t nid = 0;

		if ((src = new_attempt(st, &j, &nid, &err)) < 0) {
			store_rollback(st);
			goto done;
		}
		slog_info("job %lld failed (%s): retrying as job %lld", (long long)id,
			  f.failure_reason ? f.failure_reason : "unknown_failure", (long long)nid);
		retried = nid;
	}
	/* the pipeline's status with the job's, when nothing is left to decide */
	settled = settle(r, j.pipeline_id, &ps, f.finished);
	if ((src = store_commit(st, &err)) < 0) {
		store_rollback(st);
		goto done;
	}
	/*
	 * Everything the result said is in the store now: its file goes (it
	 * would hold every test case of the job, for good), unless the
	 * dotenv could not be recorded.
	 */
	if (res && from_slot && keep_file && json_dump_file(res, rpath, JSON_COMPACT) < 0)
		slog_warn("cannot write %s: %s", rpath, strerror(errno));
	if (res && from_slot)
		slot_result_done(srv, no);
	else if (res && !keep_file && unlink(rpath) < 0 && errno != ENOENT)
		slog_warn("cannot remove %s: %s", rpath, strerror(errno));
	/*
	 * The pipeline's status before the live logs' end: a follower that
	 * sees "end" finds it current. Settled with the job (the common
	 * case), the followers are woken first and the rest published after.
	 */
	if (settled)
		logs_job_finished(srv, id);
	events_job(srv, st, id);
	if (retried)
		events_job(srv, st, retried);
	if (settled && ps.status) {
		/* the status events first: `trigger --wait` stops on the
		   pipeline's; the notifications' queue can wait for them */
		events_pipeline(srv, st, ps.id);
		notify_job(srv, st, j.pipeline_id, id, status);
		notify_pipeline(srv, st, ps.id, ps.status);
	} else if (settled) {
		notify_job(srv, st, j.pipeline_id, id, status);
	} else {
		notify_job(srv, st, j.pipeline_id, id, status);
		advance(r, j.pipeline_id);
		logs_job_finished(srv, id);
	}
	if (!strcmp(status, "failed") && !f.allow_failure && !retried)
		cancel_on_failure(srv, st, j.pipeline_id, id);
	atomic_fetch_add(&srv->jobs_finished, 1);
	if (!strcmp(status, "failed"))
		atomic_fetch_add(&srv->jobs_failed, 1);
	if (res)
		record_duration(srv, json_number_value(json_object_get(res, "duration")));
	goto out;
done:
	if (src == STORE_UNAVAILABLE) {
		/* nothing changed: the same again later, its followers still wait */
		rc = -1;
		goto out;
	}
	if (err.len)
		slog_warn("job %lld: %s", (long long)id, err.buf);
	if (j.pipeline_id)
		advance(r, j.pipeline_id);
	logs_job_finished(srv, id);
out:
	if (rc < 0 && !u->noted_store) {
		slog_warn("job %lld: its end cannot be recorded now (%s): tried again "
			  "every second%s", (long long)id, err.buf,
			  no ? ", its runner slot held until then" : "");
		u->noted_store = 1;
	}
	json_decref(res);
	free(dotenv);
	store_job_release(&j);
	free(rpath);
	free(lpath);
	strbuf_release(&err);
	return rc;
}

/* Slot no is held by a job whose end waits to be recorded. */
static int slot_held(const struct runner *r, int no)
{
	size_t i;

	for (i = 0; i < r->unrec_nr; i++)
		if (r->unrec[i].no == no)
			return 1;
	return 0;
}

/* A job runs in slot no. */
static int slot_running(const struct runner *r, int no)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		if (r->slots[i].no == no)
			return 1;
	return 0;
}

/* Free bytes on the file system of path, or -1. */
static long long free_bytes(const char *path)
{
	struct statvfs v;

	return statvfs(path, &v) == 0 ? (long long)v.f_bavail * (long long)v.f_frsize : -1;
}

/* Below this much free space (or 1,024 inodes), the disk is taken as full. */
#define ROOM_LOW (64LL << 20)

/* Path's file system is (nearly) full: not some other store failure. */
static int low_on_room(const char *path)
{
	struct statvfs v;

	return statvfs(path, &v) == 0 &&
	       ((long long)v.f_bavail * (long long)v.f_frsize < ROOM_LOW ||
		(v.f_files && v.f_favail < 1024));
}

/*
 * The store cannot write (the data directory's disk is full): the
 * workspaces of the slots that run no job go, every project's. They are
 * the one thing the server keeps that it can make again: a slot's next
 * job checks its commit out afresh. Logs, artifacts, caches and the
 * store are the users' and stay.
 */
static void free_idle_workspaces(struct runner *r)
{
	char *work = xasprintf("%s/work", r->srv->data);
	struct strbuf p = STRBUF_INIT, err = STRBUF_INIT;
	long long before = free_bytes(work), after;
	/*
	 * Only for a full disk (a database locked by another process is
	 * not one); a test hook makes no room (t3045 then sees ends wait).
	 */
	DIR *d = getenv("CIDRE_TEST_NO_ROOM") || !low_on_room(work) ? NULL : opendir(work), *pd;
	struct dirent *de, *e;
	int removed = 0;

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !strncmp(de->d_name, "slot-", 5))
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", work, de->d_name);
		pd = opendir(p.buf);
		while (pd && (e = readdir(pd))) {
			size_t k, len = strlen(e->d_name);

			for (k = 0; k < len && e->d_name[k] >= '0' && e->d_name[k] <= '9'; k++)
				;
			if (!len || k != len || len > 6 || slot_running(r, atoi(e->d_name)))
				continue;
			strbuf_reset(&p);
			strbuf_addf(&p, "%s/%s/%s", work, de->d_name, e->d_name);
			if (cas_rmtree(p.buf, &err) < 0) {
				slog_warn("cannot remove %s: %s", p.buf, err.buf);
				strbuf_reset(&err);
			} else {
				removed++;
			}
		}
		if (pd)
			closedir(pd);
	}
	if (d)
		closedir(d);
	after = free_bytes(work);
	if (removed)
		slog_warn("the store cannot record what jobs did: %d idle workspace%s "
			  "removed to make room (%lld kB free before, %lld kB after)", removed,
			  removed == 1 ? "" : "s", before < 0 ? -1 : before / 1024,
			  after < 0 ? -1 : after / 1024);
	strbuf_release(&p);
	strbuf_release(&err);
	free(work);
}

static void ingest_as(struct runner *r, int64_t id, int no, const char *lost_reason,
		      const char *reason)
{
	struct unrecorded u = { id, no, (char *)lost_reason, reason, 0, 0, server_now_ms() };

	if (record_end(r, &u) == 0)
		return;
	if (r->unrec_nr == r->unrec_alloc) {
		r->unrec_alloc = r->unrec_alloc ? 2 * r->unrec_alloc : 4;
		r->unrec = xrealloc(r->unrec, r->unrec_alloc * sizeof(*r->unrec));
	}
	u.lost_reason = xstrdup_or_null(lost_reason);
	r->unrec[r->unrec_nr++] = u;
	atomic_store(&r->srv->jobs_unrecorded, (long long)r->unrec_nr);
	/* room made (its workspace is idle now too), then tried again at once */
	free_idle_workspaces(r);
	r->unrec_next = server_now_ms();
}

static void ingest(struct runner *r, int64_t id, int no, const char *lost_reason)
{
	ingest_as(r, id, no, lost_reason, NULL);
}

/*
 * The ends that wait, in the order the jobs ended, once their time has
 * come; the first that still cannot be recorded stops the round (the
 * store is no better for the next).
 */
static void fail_orphans(struct runner *r);

static void retry_unrecorded(struct runner *r)
{
	size_t done = 0;

	if ((!r->unrec_nr && !r->orphans_nr) || server_now_ms() < r->unrec_next)
		return;
	fail_orphans(r);
	while (done < r->unrec_nr && record_end(r, &r->unrec[done]) == 0) {
		slog_info("job %lld: its end is recorded now", (long long)r->unrec[done].job_id);
		free(r->unrec[done].lost_reason);
		done++;
	}
	if (done) {
		memmove(r->unrec, r->unrec + done, (r->unrec_nr - done) * sizeof(*r->unrec));
		r->unrec_nr -= done;
	}
	atomic_store(&r->srv->jobs_unrecorded, (long long)r->unrec_nr);
	r->unrec_next = r->unrec_nr || r->orphans_nr ? server_now_ms() + UNRECORDED_RETRY_MS : 0;
}

/* ---- starting jobs ---- */

static json_t *dep_json(struct runner *r, const struct store_job *d)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact *a = NULL;
	size_t nr = 0, i;
	json_t *o = json_object(), *files = json_array(), *res, *dot;
	char *rpath = server_path(r->srv, "results", d->id, ".json"), *text = NULL;

	json_object_set_new(o, "name", json_string(d->name));
	if (store_artifacts_list(r->st, d->id, &a, &nr, &err) == 0) {
		for (i = 0; i < nr; i++)
			json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:i}",
							       "path", a[i].path,
							       "size", (json_int_t)a[i].size,
							       "sha256", a[i].sha256,
							       "mode", a[i].mode));
		store_artifacts_free(a, nr);
	}
	json_object_set_new(o, "files", files);
	/* in the store; a job recorded before it kept them: its result file */
	strbuf_reset(&err);
	if (store_job_dotenv(r->st, d->id, &text, &err) == 0 && text)
		res = json_pack("{s:o?}", "dotenv", json_loads(text, 0, NULL));
	else
		res = json_load_file(rpath, 0, NULL);
	free(text);
	dot = json_object_get(res, "dotenv");
	json_object_set_new(o, "dotenv", json_is_object(dot) ? json_incref(dot) : json_object());
	json_decref(res);
	free(rpath);
	strbuf_release(&err);
	return o;
}

/*
 * Write len bytes over the file at path, made when missing: the slot's
 * spec file is rewritten in place, job after job. A new file per job
 * cost an inode allocation, and a truncation to zero a flush at close
 * (ext4's replace-by-truncate heuristic): together ~0.5 ms of the
 * server's CPU per job on the development VM.
 */
static int write_over(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600), rc = -1, saved;

	if (fd < 0)
		return -1;
	/* it holds the project's secrets: the job's alone, also if made 0644 before */
	if (fchmod(fd, 0600) < 0 || pwrite_full(fd, text, len, 0) < 0)
		goto done;
	rc = ftruncate(fd, (off_t)len);
done:
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * ret_running: whether the pipeline was "running" already; ret_secrets:
 * whether the spec holds secret variables; ret_missing: the job cannot
 * start, the artifacts of a job it takes them from having expired (err
 * says which).
 */
static int write_spec(struct runner *r, const struct store_job *j, int no, const char *path,
		      int *ret_running, int *ret_secrets, int *ret_missing,
		      struct strbuf *err)
{
	struct server *srv = r->srv;
	struct store_pipeline pl;
	struct store_job *jobs = NULL;
	size_t nr = 0, i;
	json_t *spec = NULL, *deps, *dl;
	struct server_config cfg;
	char *s, *text = NULL;
	int rc = -1;

	memset(&pl, 0, sizeof(pl));
	server_cfg(srv, &cfg);
	if (store_pipeline_get(r->st, j->pipeline_id, &pl, err) < 0)
		goto done;
	*ret_running = pl.status && !strcmp(pl.status, "running");
	/* the pipeline's jobs only when this one takes artifacts from some */
	if (j->deps && strcmp(j->deps, "[]") &&
	    store_job_list(r->st, j->pipeline_id, 0, &jobs, &nr, err) < 0)
		goto done;
	deps = json_array();
	dl = j->deps ? json_loads(j->deps, 0, NULL) : NULL;
	for (i = 0; i < json_array_size(dl); i++) {
		const struct store_job *d = by_idx(jobs, nr,
						   (int)json_integer_value(json_array_get(dl, i)));

		if (d && d->artifacts_expired) {
			/* as GitLab: the job fails rather than run without them */
			char when[UTCTIME_ISO8601_LEN];

			utctime_iso8601((time_t)(d->artifacts_expired / 1000), when);
			strbuf_addf(err, "the artifacts of job %" PRId64 " (%s), which this job "
				    "needs, expired (removed at %s); retry that job to make them "
				    "again", d->id, d->name, when);
			*ret_missing = 1;
			json_decref(dl);
			json_decref(deps);
			goto done;
		}
		if (d)
			json_array_append_new(deps, dep_json(r, d));
	}
	json_decref(dl);
	spec = json_object();
	json_object_set_new(spec, "job_id", json_integer(j->id));
	json_object_set_new(spec, "pipeline_id", json_integer(j->pipeline_id));
	json_object_set_new(spec, "name", json_string(j->name));
	s = server_mirror_path(srv, pl.project);
	json_object_set_new(spec, "mirror", json_string(s));
	free(s);
	json_object_set_new(spec, "sha", json_string(pl.sha));
	json_object_set_new(spec, "ref", json_string(pl.ref));
	/* the slot's workspace for this project, reused job after job */
	s = xasprintf("%s/work/%s", srv->data, pl.project);
	if (mkdir(s, 0755) < 0 && errno != EEXIST) {
		strbuf_addf(err, "cannot create %s: %s", s, strerror(errno));
		free(s);
		goto done;
	}
	free(s);
	s = xasprintf("%s/work/%s/%d", srv->data, pl.project, no);
	json_object_set_new(spec, "workdir", json_string(s));
	free(s);
	s = slot_cgroup(no);
	json_object_set_new(spec, "cgroup", json_string(s));
	free(s);
	s = server_path(srv, "logs", j->id, ".log");
	json_object_set_new(spec, "log", json_string(s));
	free(s);
	json_object_set_new(spec, "max_log", json_integer((json_int_t)cfg.max_log));
	json_object_set_new(spec, "max_artifacts", json_integer((json_int_t)cfg.max_artifacts));
	{
		/* how the job runs: the project's executor settings */
		struct server_exec ex;

		server_config_exec(&cfg, pl.project, &ex);
		s = cfg.images ? xstrdup(cfg.images) : xasprintf("%s/images", srv->data);
		json_object_set_new(spec, "exec", json_pack(
			"{s:s, s:b, s:b, s:I, s:I, s:f, s:s, s:i, s:i}",
			"executor", ex.sandbox > 0 ? "sandbox" : "shell",
			"host_fallback", ex.host_fallback > 0, "network", ex.network > 0,
			"memory", (json_int_t)ex.memory, "pids", (json_int_t)ex.pids,
			"cpus", ex.cpus, "images", s, "uid", ex.uid, "gid", ex.gid));
		if (ex.pull_policy)
			json_object_set_new(json_object_get(spec, "exec"), "pull_policy",
					    json_integer(ex.pull_policy));
		free(s);
		if (ex.sandbox > 0 && ex.pool > 0) {
			/* the project's pool daemons (exec/pool.h) */
			s = xasprintf("%s/sandbox/%s.line", srv->data, pl.project);
			json_object_set_new(json_object_get(spec, "exec"), "pool_line",
					    json_string(s));
			free(s);
		}
	}
	s = slot_result_path(srv, no);
	json_object_set_new(spec, "result", json_string(s));
	free(s);
	s = xasprintf("%s/artifacts", srv->data);
	json_object_set_new(spec, "cas", json_string(s));
	free(s);
	s = xasprintf("%s/cache/%s", srv->data, pl.project);
	json_object_set_new(spec, "cache_dir", json_string(s));
	free(s);
	json_object_set_new(spec, "ctx", json_string(pl.ctx ? pl.ctx : "{}"));
	json_object_set_new(spec, "deps", deps);
	{
		/* the job's resolved definition: the supervisor need not parse the file */
		char *globals = NULL, *def = NULL;

		if (store_job_defs(r->st, j->pipeline_id, j->plan_idx, &globals, &def, err) < 0)
			goto done;
		if (globals && def) {
			json_object_set_new(spec, "cut_globals", json_string(globals));
			json_object_set_new(spec, "cut", json_string(def));
		}
		free(globals);
		free(def);
	}
	{
		/* the project's secret variables: the spec is the job's alone (0600) */
		struct store_variable *v = NULL;
		size_t vn = 0, k;
		json_t *sv = json_array();

		if (store_variable_list(r->st, pl.project_id, 1, &v, &vn, err) < 0) {
			json_decref(sv);
			goto done;
		}
		for (k = 0; k < vn; k++) {
			/* a protected one only for a protected branch's pipeline */
			if (v[k].protected_only && !pl.protected_ref)
				continue;
			if (seal_open_in_place(&v[k].value, err) < 0) {
				strbuf_addf(err, " (variable %s)", v[k].key);
				store_variables_free(v, vn);
				json_decref(sv);
				goto done;
			}
			json_array_append_new(sv, json_pack("{s:s, s:s, s:b}", "key", v[k].key,
							    "value", v[k].value ? v[k].value : "",
							    "masked", v[k].masked));
		}
		store_variables_free(v, vn);
		*ret_secrets = json_array_size(sv) > 0;
		json_object_set_new(spec, "secrets", sv);
	}
	text = json_dumps(spec, JSON_COMPACT);
	if (!text || write_over(path, text, strlen(text)) < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	free(text);
	json_decref(spec);
	store_jobs_free(jobs, nr);
	store_pipeline_release(&pl);
	return rc;
}

/* The lowest slot number no running job holds. */
static int free_slot_no(const struct runner *r)
{
	int no;
	size_t i;

	for (no = 1;; no++) {
		for (i = 0; i < r->nr && r->slots[i].no != no; i++)
			;
		if (i == r->nr && !slot_held(r, no))
			return no;
	}
}

/* The slot number in a runner name "NAME-N" (0 if none). */
static int slot_of(const char *runner)
{
	const char *d = runner ? strrchr(runner, '-') : NULL;

	return d ? atoi(d + 1) : 0;
}

static void add_slot(struct runner *r, int no, int64_t job, int64_t pipeline, pid_t pid,
		     int pidfd, int child)
{
	struct epoll_event ev;

	if (r->nr == r->alloc) {
		r->alloc = r->alloc ? 2 * r->alloc : 8;
		r->slots = xrealloc(r->slots, r->alloc * sizeof(*r->slots));
	}
	r->slots[r->nr].no = no;
	r->slots[r->nr].job_id = job;
	r->slots[r->nr].pipeline_id = pipeline;
	r->slots[r->nr].pid = pid;
	r->slots[r->nr].pidfd = pidfd;
	r->slots[r->nr].child = child;
	r->slots[r->nr].secrets = !child;	/* re-attached: not known */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)job;
	if (pidfd >= 0)
		epoll_ctl(r->ep, EPOLL_CTL_ADD, pidfd, &ev);
	r->nr++;
}

/*
 * The next job's log file is made ahead of the job, when the runner has
 * nothing else to do (before it sleeps), and renamed into place by
 * start(): a new file costs an inode allocation, 0.3–1 ms of CPU on the
 * development VM's ext4 (no journal: each recently deleted inode is
 * looked at and passed over), which the job's start would otherwise
 * wait for. It is created empty (or emptied: a leftover of a server that
 * stopped) and nothing else writes it; its name is not a job's, so the
 * log watcher and readers pass it over.
 */
static void make_spare_log(struct runner *r)
{
	int fd;

	if (r->spare_ready)
		return;
	fd = open(r->spare_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;	/* start() makes the log itself */
	close(fd);
	r->spare_ready = 1;
}

/* An empty log file at path: the spare renamed, else made here. */
static void new_log(struct runner *r, const char *path)
{
	int fd;

	if (r->spare_ready) {
		r->spare_ready = 0;
		if (rename(r->spare_log, path) == 0)
			return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
}

/* Whether pipeline id waits in advance_dirty(). */
static int is_dirty(const struct runner *r, int64_t id)
{
	size_t i;

	for (i = 0; i < r->dirty_nr; i++)
		if (r->dirty[i] == id)
			return 1;
	return 0;
}

/*
 * A job's supervisor: forked by the launcher, a process already past
 * its exec and libc's start-up (~1 ms less per job here than an exec of
 * cidre), else spawned (posix_spawn) as before when there is no
 * launcher. *child says whether it is our child (the launcher's are
 * not: they are watched by pidfd, as re-attached ones).
 */
static int start_supervisor(struct runner *r, const char *const *argv, const char *spec,
			    const char *log, pid_t *pid, int *pidfd, int *child,
			    struct strbuf *err)
{
	int tries;

	/* a launcher found gone is started again at once, for this job */
	for (tries = 0; tries < 2; tries++) {
		int rc;

		if (!r->launcher && r->launcher_fails < LAUNCHER_MAX_FAILS) {
			char *dir = xasprintf("%s/work", r->srv->data);

			r->launcher = launcher_start(argv[0], dir, err);
			free(dir);
			if (!r->launcher) {
				slog_warn("the job launcher: %s; supervisors are spawned", err->buf);
				r->launcher_fails++;
				strbuf_reset(err);
			}
		}
		if (!r->launcher)
			break;
		rc = launcher_spawn(r->launcher, spec, log, pid, pidfd, err);
		if (rc == 0) {
			*child = 0;
			return 0;
		}
		if (rc == -2)
			return -1;
		slog_warn("%s: it is started again", err->buf);
		launcher_stop(r->launcher);
		r->launcher = NULL;
		r->launcher_fails++;
		strbuf_reset(err);
	}
	*child = 1;
	return spawn_detached(argv, log, pid, pidfd, err);
}

static void start(struct runner *r, struct store_job *j)
{
	struct server *srv = r->srv;
	struct strbuf err = STRBUF_INIT;
	int no = free_slot_no(r);
	/* one per runner slot: read by the supervisor at its start only */
	char *spec = xasprintf("%s/work/slot-%d.spec.json", srv->data, no);
	char *log = server_path(srv, "logs", j->id, ".log");
	char *res = server_path(srv, "results", j->id, ".json");
	/* the supervisor is the small cidre binary next to this one */
	char *self = spawn_sibling("cidre");
	const char *argv[] = { self, "job-exec", spec, NULL };
	struct store_job f;
	pid_t pid;
	int pidfd, running = 0, secrets = 0, missing = 0, child = 1;
	char *runner = xasprintf("%s-%d", j->runner ? j->runner : "embedded", no);

	/* a result of an earlier life of this id (a restored store) is not its
	   own; looked up first: an unlink takes the directory's lock */
	if (access(res, F_OK) == 0)
		unlink(res);
	new_log(r, log);
	if (write_spec(r, j, no, spec, &running, &secrets, &missing, &err) < 0 ||
	    start_supervisor(r, argv, spec, log, &pid, &pidfd, &child, &err) < 0) {
		struct strbuf m = STRBUF_INIT;

		if (secrets && wipe_in_place(spec) < 0)
			slog_warn("cannot wipe %s: %s", spec, strerror(errno));
		strbuf_addf(&m, "cannot start the job: %s", err.buf);
		slog_warn("job %lld: %s", (long long)j->id, m.buf);
		ingest_as(r, j->id, 0, m.buf, missing ? "missing_dependency_failure" : NULL);
		strbuf_release(&m);
		goto done;
	}
	memset(&f, 0, sizeof(f));
	f.started = j->started;
	f.runner = runner;
	f.pid = pid;
	f.pid_start = spawn_start_time(pid);
	if (f.pid_start < 0)
		f.pid_start = 0;
	if (store_job_transition(r->st, j->id, "running", "running", &f, &err) < 0)
		slog_warn("job %lld: %s", (long long)j->id, err.buf);
	else {
		notify_job(r->srv, r->st, j->pipeline_id, j->id, "running");
		events_job(r->srv, r->st, j->id);
	}
	add_slot(r, no, j->id, j->pipeline_id, pid, pidfd, child);
	r->slots[r->nr - 1].secrets = secrets;
	if (no > r->max_no)
		r->max_no = no;
	/*
	 * The pipeline is running now (a start decides nothing else), unless
	 * it was kicked: advance_dirty() sets its status after the claims.
	 */
	if (!running && !is_dirty(r, j->pipeline_id))
		advance(r, j->pipeline_id);
done:
	free(runner);
	free(self);
	free(spec);
	free(log);
	free(res);
	strbuf_release(&err);
}

static void finish_slot(struct runner *r, size_t i)
{
	struct slot s = r->slots[i];

	if (s.pidfd >= 0) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, s.pidfd, NULL);
		close(s.pidfd);
	}
	if (s.child)
		spawn_reap(s.pid);
	if (s.secrets) {
		/* secrets do not stay at rest once the supervisor has read them */
		char *spec = xasprintf("%s/work/slot-%d.spec.json", r->srv->data, s.no);

		if (wipe_in_place(spec) < 0 && errno != ENOENT)
			slog_warn("cannot wipe %s: %s", spec, strerror(errno));
		free(spec);
	}
	r->slots[i] = r->slots[--r->nr];
	ingest(r, s.job_id, s.no, NULL);
	if (!s.child) {
		/* a job re-attached after a restart ran in the slot cgroup of
		   the server before this one, which is gone: its cgroup is
		   empty now, and no one else would remove it */
		cgroup_remove_stale_kept();
	}
}

/* Slots whose process is gone but gave no pidfd event (no pidfd support). */
static void check_slots(struct runner *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++) {
		if (r->slots[i].pidfd >= 0)
			continue;
		if (r->slots[i].child) {
			if (waitpid(r->slots[i].pid, NULL, WNOHANG) == 0)
				continue;
		} else if (kill(r->slots[i].pid, 0) == 0) {
			continue;
		}
		r->slots[i].child = 0;
		finish_slot(r, i--);
	}
}

static void fill_slots(struct runner *r)
{
	struct server_config cfg;
	struct strbuf err = STRBUF_INIT;

	server_cfg(r->srv, &cfg);
	while ((int)(r->nr + r->unrec_nr) < cfg.slots && !atomic_load(&r->srv->stopping)) {
		struct store_job j;
		int rc;

		memset(&j, 0, sizeof(j));
		rc = store_job_claim(r->st, cfg.runner_name, server_now_ms(), &j, &err);
		if (rc == STORE_NOTFOUND)
			break;
		if (rc < 0) {
			/* a full disk fails every turn: said once a minute */
			if (rc != STORE_UNAVAILABLE || server_now_ms() - r->claim_warned >= 60000) {
				slog_warn("claiming a job: %s", err.buf);
				r->claim_warned = server_now_ms();
			}
			break;
		}
		start(r, &j);
		store_job_release(&j);
	}
	strbuf_release(&err);
}

/* ---- recovery after a restart ---- */

/*
 * A job whose supervisor started but whose pid was not recorded (the
 * server stopped in between): the supervisor wrote its own in its
 * slot's WORK/slot-N.spec.json.pid ("JOB PID STARTTIME", rewritten in
 * place by each job of the slot), which names the slot as well. Sets
 * j->pid, j->pid_start and *ret_slot when one names this job.
 */
static int own_pid(struct server *srv, struct store_job *j, int *ret_slot)
{
	char *dir = xasprintf("%s/work", srv->data);
	struct strbuf sb = STRBUF_INIT, p = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		long long job = 0, pid = 0, start = 0;
		int no = 0, end = 0;

		if (sscanf(de->d_name, "slot-%d.spec.json.pid%n", &no, &end) != 1 ||
		    de->d_name[end] || no <= 0)
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", dir, de->d_name);
		strbuf_reset(&sb);
		if (strbuf_read_file(&sb, p.buf, 128) == 0 &&
		    sscanf(sb.buf, "%lld %lld %lld", &job, &pid, &start) == 3 &&
		    job == j->id && pid > 0) {
			j->pid = pid;
			j->pid_start = start;
			*ret_slot = no;
			break;
		}
	}
	if (d)
		closedir(d);
	strbuf_release(&sb);
	strbuf_release(&p);
	free(dir);
	return 0;
}

/*
 * The result files of jobs recorded before the store kept their dotenv
 * (migration 8): for each finished job, its dotenv goes to the store and
 * the file goes. Files of running jobs are recover()'s; a file that
 * cannot be moved stays (dep_json still reads it).
 */
static void move_legacy_results(struct runner *r)
{
	char *dir = xasprintf("%s/results", r->srv->data);
	DIR *d = opendir(dir);
	struct dirent *de;
	struct strbuf err = STRBUF_INIT;
	size_t moved = 0;

	while (d && (de = readdir(d))) {
		struct store_job j;
		char *end, *path, *text = NULL, *had = NULL;
		long long id = strtoll(de->d_name, &end, 10);
		json_t *res;
		int rc;

		if (id <= 0 || end == de->d_name ||
		    (strcmp(end, ".json") && strcmp(end, ".json.tmp")))
			continue;
		memset(&j, 0, sizeof(j));
		strbuf_reset(&err);
		rc = store_job_get(r->st, id, &j, &err);
		if (rc == 0 && (!strcmp(j.status, "running") || !strcmp(j.status, "pending"))) {
			store_job_release(&j);
			continue;
		}
		store_job_release(&j);
		if (rc < 0 && rc != STORE_NOTFOUND)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (!strcmp(end, ".json") && rc == 0) {
			res = json_load_file(path, 0, NULL);
			text = dotenv_text(res);
			json_decref(res);
			if (text && (store_job_dotenv(r->st, id, &had, &err) < 0 ||
				     (!had && store_job_set_dotenv(r->st, id, text, &err) < 0))) {
				slog_warn("%s: dotenv not moved to the store: %s", path, err.buf);
				free(text);
				free(path);
				continue;
			}
		}
		if (unlink(path) == 0)
			moved++;
		free(had);
		free(text);
		free(path);
	}
	if (d)
		closedir(d);
	if (moved)
		slog_info("recovery: %zu result files of recorded jobs removed "
			  "(their dotenv is in the store)", moved);
	strbuf_release(&err);
	free(dir);
}

/*
 * How long recovery waits for the pid file of a job recorded running
 * without a pid: the server may have died between asking the launcher
 * for its supervisor and recording the pid, and the launcher goes on to
 * start it (a request it has received is served, even once the server
 * is gone), maybe only after this recovery began.
 */
#define RECOVER_PID_WAIT_MS 2000

/*
 * own_pid() again until the job's supervisor names itself or *until
 * (set by the first call, shared by all: one wait in a recovery, not one
 * per job) has passed.
 */
static void wait_own_pid(struct server *srv, struct store_job *j, int *ret_slot,
			 int64_t *until)
{
	if (!*until) {
		*until = server_now_ms() + RECOVER_PID_WAIT_MS;
		slog_info("recovery: job %lld was starting when the server stopped: "
			  "waiting up to %d ms for its supervisor", (long long)j->id,
			  RECOVER_PID_WAIT_MS);
	}
	while (!j->pid && server_now_ms() < *until) {
		usleep(10000);
		own_pid(srv, j, ret_slot);
	}
}

/* How long recovery tries for a spec's lock (a supervisor holds it for ms) */
#define FENCE_LOCK_MS 1000

/* Whether the spec at path names job id (its "job_id"). */
static int spec_names(const char *path, int64_t id)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *o;
	int r = 0;

	if (strbuf_read_file(&sb, path, 256 << 20) == 0 && sb.len && sb.buf[0]) {
		o = json_loadb(sb.buf, sb.len, 0, NULL);
		r = o && json_integer_value(json_object_get(o, "job_id")) == id;
		json_decref(o);
	}
	strbuf_release(&sb);
	return r;
}

/*
 * Whether process pid is one of this data directory's supervisors: a
 * fork of its job launcher (whose command line it keeps: self,
 * "job-launcher", DATA/work) or a spawned "job-exec SPEC", of our user.
 */
static int is_supervisor(const char *workdir, const char *spec, long pid)
{
	struct strbuf cmd = STRBUF_INIT;
	const char *w[3];
	size_t i = 0, off = 0;
	int r = 0;

	if (read_own_cmdline(pid, &cmd) < 0)
		goto out;
	while (i < 3 && off < cmd.len) {
		w[i++] = cmd.buf + off;
		off += strlen(cmd.buf + off) + 1;
	}
	r = i == 3 && off == cmd.len &&
	    ((!strcmp(w[1], "job-launcher") && !strcmp(w[2], workdir)) ||
	     (!strcmp(w[1], "job-exec") && !strcmp(w[2], spec)));
out:
	strbuf_release(&cmd);
	return r;
}

/*
 * The supervisors holding the lock of the spec open at fd, killed (the
 * lock's taker is in /proc/locks): a supervisor holds it from its start
 * until its pid file is written, before anything of its job runs, so one
 * stopped there (a starved or stopped process) runs nothing once killed.
 * The count killed.
 */
static int kill_spec_holders(const char *workdir, const char *spec, int fd)
{
	char line[256];
	struct stat st;
	FILE *f;
	int n = 0;

	if (fstat(fd, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char kind[16];
		unsigned int maj, min;
		unsigned long ino;
		long pid;

		/* "1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF" ("->": a waiter) */
		if (strstr(line, "->") ||
		    sscanf(line, "%*d: %15s %*s %*s %ld %x:%x:%lu", kind, &pid, &maj, &min,
			   &ino) != 5 ||
		    strcmp(kind, "FLOCK") || ino != (unsigned long)st.st_ino ||
		    maj != major(st.st_dev) || min != minor(st.st_dev) || pid <= 1 ||
		    pid == (long)getpid() || !is_supervisor(workdir, spec, pid))
			continue;
		if (kill((pid_t)pid, SIGKILL) == 0) {
			slog_warn("recovery: the supervisor %ld held %s for over %d ms: killed",
				  pid, spec, FENCE_LOCK_MS);
			n++;
		}
	}
	fclose(f);
	return n;
}

/* Take fd's lock, trying for up to ms: 1 when taken. */
static int lock_within(int fd, int ms)
{
	int waited;

	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if (waited >= ms)
			return 0;
		usleep(10000);
	}
	return 1;
}

/*
 * Before a job recorded running is given up because no supervisor named
 * itself (no pid after wait_own_pid()): the spec of its slot, if it
 * still names the job, is wiped under the spec's lock. The old server's
 * job launcher serves a request it received even once that server is
 * gone; held up long enough (stopped, starved), it would start the
 * supervisor after this recovery, beside the retry, in a slot this
 * server reuses. That supervisor finds a wiped spec, or another job's,
 * and runs nothing (supervisor.c, spec_is_mine()). A supervisor holds
 * the lock from its start until its pid file is written, so under the
 * lock the pid file is read once more: one that came first is
 * re-attached instead (j->pid set, *no its slot). A supervisor that holds
 * the lock for over FENCE_LOCK_MS (stopped before its pid file) is
 * killed, and the lock taken then. The slot: *no, or with no runner
 * recorded, every slot's spec that names the job.
 */
static void fence_spec(struct server *srv, struct store_job *j, int *no)
{
	char *dir = xasprintf("%s/work", srv->data);
	DIR *d = *no > 0 ? NULL : opendir(dir);
	struct dirent *de;
	int next = *no;

	while (!j->pid) {
		char *spec;
		int k = next, end = 0, fd, locked = 0;

		next = 0;
		if (!k) {
			if (!d || !(de = readdir(d)))
				break;
			if (sscanf(de->d_name, "slot-%d.spec.json%n", &k, &end) != 1 ||
			    de->d_name[end] || k <= 0)
				continue;
		}
		spec = xasprintf("%s/slot-%d.spec.json", dir, k);
		fd = open(spec, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			locked = lock_within(fd, FENCE_LOCK_MS);
		if (fd >= 0 && !locked && kill_spec_holders(dir, spec, fd))
			locked = lock_within(fd, FENCE_LOCK_MS);
		own_pid(srv, j, no);
		if (locked && !j->pid && spec_names(spec, j->id)) {
			if (wipe_in_place(spec) < 0)
				slog_warn("recovery: cannot wipe %s: %s", spec, strerror(errno));
			else
				slog_info("recovery: job %lld: the spec of slot %d wiped (a supervisor "
					  "started late runs nothing)", (long long)j->id, k);
		} else if (fd >= 0 && !locked) {
			slog_warn("recovery: %s stays locked", spec);
		}
		if (fd >= 0)
			close(fd);
		free(spec);
	}
	if (d)
		closedir(d);
	free(dir);
}

static void recover(struct runner *r)
{
	struct store_job *jobs = NULL;
	struct strbuf err = STRBUF_INIT;
	size_t nr = 0, i;
	int64_t pid_wait = 0;
	static const char *const unfinished[] = { "created", "pending", "running", "manual",
						  "scheduled" };

	if (store_job_running(r->st, &jobs, &nr, &err) < 0) {
		slog_warn("recovery: %s", err.buf);
		goto done;
	}
	for (i = 0; i < nr; i++) {
		int fd = -1, no = slot_of(jobs[i].runner);

		/* no runner recorded (killed right after the start): the pid file's */
		if (!jobs[i].pid)
			own_pid(r->srv, &jobs[i], &no);
		if (!jobs[i].pid && !result_ready(r->srv, jobs[i].id, no))
			wait_own_pid(r->srv, &jobs[i], &no, &pid_wait);
		if (!jobs[i].pid && !result_ready(r->srv, jobs[i].id, no))
			fence_spec(r->srv, &jobs[i], &no);
		if (result_ready(r->srv, jobs[i].id, no)) {
			slog_info("recovery: job %lld finished while the server was down",
				  (long long)jobs[i].id);
			ingest(r, jobs[i].id, no, NULL);
		} else if (jobs[i].pid &&
			   (fd = spawn_attach((pid_t)jobs[i].pid, jobs[i].pid_start)) >= 0) {
			slog_info("recovery: job %lld still runs (pid %lld): re-attached",
				  (long long)jobs[i].id, (long long)jobs[i].pid);
			add_slot(r, no, jobs[i].id, jobs[i].pipeline_id,
				 (pid_t)jobs[i].pid, fd, 0);
			/* it may have ended between the check and the attach */
			if (result_ready(r->srv, jobs[i].id, no) &&
			    kill((pid_t)jobs[i].pid, 0) < 0)
				finish_slot(r, r->nr - 1);
		} else {
			slog_warn("recovery: job %lld was running when the server stopped and "
				  "its process is gone", (long long)jobs[i].id);
			ingest(r, jobs[i].id, no, "the server stopped while the job ran, and "
			       "the job's process is gone (runner_system_failure)");
		}
	}
	move_legacy_results(r);
	/* decide again for every unfinished pipeline (timers are rebuilt) */
	for (i = 0; i < sizeof(unfinished) / sizeof(unfinished[0]); i++) {
		struct store_pipeline_filter f;
		struct store_pipeline *pl = NULL;
		size_t n = 0, k;

		memset(&f, 0, sizeof(f));
		f.status = unfinished[i];
		f.limit = 1000;
		for (;;) {
			if (store_pipeline_list(r->st, &f, &pl, &n, &err) < 0) {
				slog_warn("recovery: %s", err.buf);
				break;
			}
			for (k = 0; k < n; k++)
				advance(r, pl[k].id);
			if (n < (size_t)f.limit) {
				store_pipelines_free(pl, n);
				break;
			}
			f.before_id = pl[n - 1].id;
			store_pipelines_free(pl, n);
		}
	}
done:
	store_jobs_free(jobs, nr);
	strbuf_release(&err);
}

/*
 * The pipelines create() recorded but could neither give their jobs nor
 * fail (a full disk): failed, saying so, as soon as the store can write,
 * tried with the waiting ends' rhythm.
 */
static void fail_orphans(struct runner *r)
{
	static const char why[] = "the server could not record this pipeline's jobs "
				  "(its store could not be written: a full disk, or the "
				  "database locked by another process): trigger it again";
	size_t i = 0;

	while (i < r->orphans_nr) {
		int rc = store_pipeline_set_status(r->st, r->orphans[i], "created", "failed", 0,
						   server_now_ms(), why, NULL);

		if (rc == STORE_UNAVAILABLE)
			break;
		if (rc == 0) {
			slog_warn("pipeline %lld: %s", (long long)r->orphans[i], why);
			notify_pipeline(r->srv, r->st, r->orphans[i], "failed");
			events_pipeline(r->srv, r->st, r->orphans[i]);
		}
		i++;
	}
	if (i) {
		memmove(r->orphans, r->orphans + i, (r->orphans_nr - i) * sizeof(*r->orphans));
		r->orphans_nr -= i;
	}
}

/* ---- the loop ---- */

static void fire_timers(struct runner *r)
{
	int64_t now = server_now_ms();
	struct strbuf err = STRBUF_INIT;
	size_t i;

	for (i = 0; i < r->timers_nr; i++) {
		struct timer t = r->timers[i];
		struct store_job f;

		if (t.due > now)
			continue;
		r->timers[i--] = r->timers[--r->timers_nr];
		memset(&f, 0, sizeof(f));
		f.queued = now;
		if (store_job_transition(r->st, t.job_id, "scheduled", "pending", &f, &err) < 0)
			strbuf_reset(&err);
		else
			events_job(r->srv, r->st, t.job_id);
		advance(r, t.pipeline_id);
	}
	strbuf_release(&err);
}

/*
 * Once no job has run for RUNNER_IDLE_MS: the statements and pages the
 * work cached on this thread's connection are let go of (the claim made
 * once a second while idle prepares its own again). Not at once: the
 * next job of a quiet server is not slowed by preparing them again.
 */
#define RUNNER_IDLE_MS 1000

static void idle_upkeep(struct runner *r)
{
	int64_t now;

	if (r->nr) {
		r->idle_since = 0;
		r->shrunk = 0;
		return;
	}
	now = server_now_ms();
	if (!r->idle_since)
		r->idle_since = now;
	else if (!r->shrunk && now - r->idle_since >= RUNNER_IDLE_MS) {
		server_store_shrink(r->srv);
		r->shrunk = 1;
	}
}

static int next_timeout(struct runner *r)
{
	int64_t now = server_now_ms(), t = 1000;
	size_t i;

	for (i = 0; i < r->timers_nr; i++)
		if (r->timers[i].due - now < t)
			t = r->timers[i].due - now;
	return t < 0 ? 0 : (int)t;
}

static void take_requests(struct runner *r)
{
	struct server *srv = r->srv;
	int64_t *dirty, *kill_ids;
	size_t nd, nk, i, k;
	uint64_t v;

	if (read(srv->kick_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new */
	}
	pthread_mutex_lock(&srv->lock);
	dirty = srv->dirty;
	nd = srv->dirty_nr;
	kill_ids = srv->kill;
	nk = srv->kill_nr;
	for (i = 0; i < srv->orphans_nr; i++) {
		ALLOC_GROW(r->orphans, r->orphans_nr + 1, r->orphans_alloc);
		r->orphans[r->orphans_nr++] = srv->orphans[i];
	}
	free(srv->orphans);
	srv->orphans = NULL;
	srv->orphans_nr = srv->orphans_alloc = 0;
	srv->dirty = NULL;
	srv->dirty_nr = srv->dirty_alloc = 0;
	srv->kill = NULL;
	srv->kill_nr = srv->kill_alloc = 0;
	pthread_mutex_unlock(&srv->lock);
	for (i = 0; i < nk; i++)
		for (k = 0; k < r->nr; k++)
			if (r->slots[k].job_id == kill_ids[i])
				kill(r->slots[k].pid, SIGTERM);
	/*
	 * Once per pipeline: its jobs' decisions now, its status after the
	 * claims (runner_main), so that a new pipeline's first job is
	 * claimed and started before the rest is recorded and published.
	 */
	for (i = 0; i < nd; i++) {
		for (k = 0; k < i; k++)
			if (dirty[k] == dirty[i])
				break;
		if (k == i && dirty[i]) {
			decide_only(r, dirty[i]);
			ALLOC_GROW(r->dirty, r->dirty_nr + 1, r->dirty_alloc);
			r->dirty[r->dirty_nr++] = dirty[i];
		}
	}
	free(dirty);
	free(kill_ids);
}

/* The statuses of the pipelines take_requests() decided. */
static void advance_dirty(struct runner *r)
{
	size_t i;

	for (i = 0; i < r->dirty_nr; i++)
		advance(r, r->dirty[i]);
	r->dirty_nr = 0;
}

/* runner_start() waits for this: the API answers from a recovered store */
static void runner_ready(struct runner *r)
{
	uint64_t one = 1;

	if (r->ready_fd >= 0 && write(r->ready_fd, &one, sizeof(one)) < 0)
		slog_warn("runner: cannot say it is ready: %s", strerror(errno));
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct server *srv = r->srv;
	struct epoll_event evs[32];
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = 0;
	epoll_ctl(r->ep, EPOLL_CTL_ADD, srv->kick_fd, &ev);
	{
		struct strbuf err = STRBUF_INIT;

		/* the store is opened on this thread: handles are per thread */
		r->st = server_store(srv, &err);
		if (!r->st) {
			slog_warn("runner: %s", err.buf);
			strbuf_release(&err);
			runner_ready(r);
			return NULL;
		}
		strbuf_release(&err);
	}
	cgroup_remove_stale_kept();
	recover(r);
	runner_ready(r);
	while (!atomic_load(&srv->stopping)) {
		int n, i;

		take_requests(r);
		fire_timers(r);
		retry_unrecorded(r);
		fill_slots(r);
		advance_dirty(r);
		make_spare_log(r);
		n = epoll_wait(r->ep, evs, 32, next_timeout(r));
		for (i = 0; i < n; i++) {
			int64_t job = (int64_t)evs[i].data.u64;
			size_t k;

			if (!job)
				continue;
			for (k = 0; k < r->nr; k++)
				if (r->slots[k].job_id == job) {
					finish_slot(r, k);
					break;
				}
		}
		check_slots(r);
		idle_upkeep(r);
	}
	{
		/*
		 * The projects' sandbox pool daemons end with the server; while
		 * a job still runs (its supervisor goes on), when it ends.
		 */
		struct strbuf out = STRBUF_INIT;
		char *dir = xasprintf("%s/sandbox/" POOL_DIR, srv->data);

		pool_daemons(dir, r->nr ? 2 : 1, &out);
		free(dir);
		strbuf_release(&out);
	}
	{
		/* the slots' kept cgroups (one still in use stays) */
		int no;

		for (no = 1; no <= r->max_no; no++) {
			char *leaf = slot_cgroup(no);

			cgroup_remove_kept(leaf);
			free(leaf);
		}
	}
	return NULL;
}

int runner_start(struct server *srv, struct strbuf *err)
{
	struct runner *r = xcalloc(1, sizeof(*r));

	r->srv = srv;
	r->spare_log = xasprintf("%s/logs/.next.log", srv->data);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	if (r->ep < 0) {
		strbuf_addf(err, "epoll: %s", strerror(errno));
		free(r->spare_log);
		free(r);
		return -1;
	}
	r->ready_fd = eventfd(0, EFD_CLOEXEC);
	if (r->ready_fd < 0) {
		strbuf_addf(err, "eventfd: %s", strerror(errno));
		close(r->ep);
		free(r->spare_log);
		free(r);
		return -1;
	}
	srv->runner = r;
	if (pthread_create(&srv->runner_thread, NULL, runner_main, r)) {
		strbuf_addstr(err, "cannot start the runner thread");
		close(r->ready_fd);
		close(r->ep);
		free(r->spare_log);
		free(r);
		srv->runner = NULL;
		return -1;
	}
	/*
	 * Not listening before recovery is done: until then the store still
	 * says "running" for a job whose process is gone, and a client that
	 * asked would be told so.
	 */
	{
		uint64_t v;

		while (read(r->ready_fd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
	}
	close(r->ready_fd);
	r->ready_fd = -1;
	return 0;
}

/*
 * Stop the loop. Running jobs keep running in their supervisors: a server
 * that starts again re-attaches to them (as after a crash).
 */
void runner_stop(struct server *srv)
{
	struct runner *r = srv->runner;
	size_t i;

	if (!r)
		return;
	server_kick(srv, 0);
	pthread_join(srv->runner_thread, NULL);
	for (i = 0; i < r->nr; i++)
		if (r->slots[i].pidfd >= 0)
			close(r->slots[i].pidfd);
	free(r->slots);
	/* what waits is recorded at the next start, from the slots' results */
	for (i = 0; i < r->unrec_nr; i++)
		free(r->unrec[i].lost_reason);
	free(r->unrec);
	free(r->orphans);
	free(r->timers);
	free(r->dirty);
	free(r->spare_log);
	close(r->ep);
	launcher_stop(r->launcher);
	free(r);
	srv->runner = NULL;
}

/* ---- state changes asked for by the API (any thread, its own store) ---- */

/* Skipped jobs that ran after a retried one are decided again (GitLab). */
static void reset_skipped(struct store *st, int64_t pipeline, const struct store_job *from)
{
	struct store_job *jobs = NULL;
	struct strbuf err = STRBUF_INIT;
	size_t nr = 0, i;

	if (store_job_list(st, pipeline, 0, &jobs, &nr, &err) < 0)
		goto done;
	for (i = 0; i < nr; i++)
		if (!strcmp(jobs[i].status, "skipped") && jobs[i].stage_idx >= from->stage_idx &&
		    jobs[i].id != from->id)
			store_job_transition(st, jobs[i].id, "skipped", "created", NULL, &err);
done:
	store_jobs_free(jobs, nr);
	strbuf_release(&err);
}

static int retry_job(struct server *srv, struct store *st, int64_t id, int as_manual,
		     int64_t *ret_new, struct strbuf *err);

int runner_retry_job(struct server *srv, struct store *st, int64_t id, int64_t *ret_new,
		     struct strbuf *err)
{
	return retry_job(srv, st, id, 0, ret_new, err);
}

static int retry_job(struct server *srv, struct store *st, int64_t id, int as_manual,
		     int64_t *ret_new, struct strbuf *err)
{
	struct store_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = store_job_get(st, id, &j, err);
	if (rc < 0)
		return rc;
	if (j.retried) {
		strbuf_addf(err, "job %lld was already retried", (long long)id);
		rc = STORE_CONFLICT;
		goto done;
	}
	if (strcmp(j.status, "success") && strcmp(j.status, "failed") &&
	    strcmp(j.status, "canceled")) {
		strbuf_addf(err, "job %lld is %s: only a finished job can be retried",
			    (long long)id, j.status);
		rc = STORE_CONFLICT;
		goto done;
	}
	if ((rc = store_begin(st, err)) < 0)
		goto done;
	if ((rc = new_attempt_as(st, &j, as_manual && !strcmp(j.when, "manual"), ret_new,
				 err)) < 0) {
		store_rollback(st);
		goto done;
	}
	reset_skipped(st, j.pipeline_id, &j);
	store_pipeline_set_status(st, j.pipeline_id, NULL, "running", 0, 0, NULL, NULL);
	rc = store_commit(st, err);
	if (rc == 0) {
		notify_pipeline(srv, st, j.pipeline_id, "running");
		events_job(srv, st, j.id);
		if (ret_new)
			events_job(srv, st, *ret_new);
		events_pipeline(srv, st, j.pipeline_id);
	}
	server_kick(srv, j.pipeline_id);
done:
	store_job_release(&j);
	return rc;
}

int runner_retry_pipeline(struct server *srv, struct store *st, int64_t id,
			  struct strbuf *err)
{
	struct store_job *jobs = NULL;
	size_t nr = 0, i;
	int rc, n = 0;

	rc = store_job_list(st, id, 0, &jobs, &nr, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < nr && rc >= 0; i++)
		if (!strcmp(jobs[i].status, "failed") || !strcmp(jobs[i].status, "canceled")) {
			rc = retry_job(srv, st, jobs[i].id, 1, NULL, err);
			n++;
		}
	store_jobs_free(jobs, nr);
	if (rc >= 0 && !n) {
		strbuf_addf(err, "pipeline %lld has no failed or canceled job to retry",
			    (long long)id);
		return STORE_CONFLICT;
	}
	return rc;
}

static int cancel_one(struct server *srv, struct store *st, const struct store_job *j,
		      struct strbuf *err)
{
	static const char *const waiting[] = { "created", "pending", "scheduled", "manual" };
	size_t i;

	if (!strcmp(j->status, "running")) {
		server_kill_job(srv, j->id);
		return 0;
	}
	for (i = 0; i < 4; i++) {
		if (strcmp(j->status, waiting[i]))
			continue;
		if (store_job_transition(st, j->id, waiting[i], "canceled", NULL, err) < 0)
			return -1;
		logs_job_finished(srv, j->id);
		notify_job(srv, st, j->pipeline_id, j->id, "canceled");
		events_job(srv, st, j->id);
		server_kick(srv, j->pipeline_id);
		return 0;
	}
	strbuf_addf(err, "job %lld is already %s", (long long)j->id, j->status);
	return STORE_CONFLICT;
}

int runner_cancel_job(struct server *srv, struct store *st, int64_t id, struct strbuf *err)
{
	struct store_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = store_job_get(st, id, &j, err);
	if (rc == 0)
		rc = cancel_one(srv, st, &j, err);
	store_job_release(&j);
	return rc;
}

int runner_cancel_pipeline(struct server *srv, struct store *st, int64_t id,
			   struct strbuf *err)
{
	struct store_job *jobs = NULL;
	size_t nr = 0, i;
	int rc, pass;

	rc = store_job_list(st, id, 0, &jobs, &nr, err);
	if (rc < 0)
		return rc;
	/*
	 * Waiting jobs first, running ones after: a killed job's end lets the
	 * runner decide the jobs still waiting (skipped) before they are
	 * canceled otherwise.
	 */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nr; i++) {
			if (finished(jobs[i].status) || !strcmp(jobs[i].status, "manual") ||
			    (strcmp(jobs[i].status, "running") == 0) != pass)
				continue;
			if (cancel_one(srv, st, &jobs[i], err) < 0)
				strbuf_reset(err);
		}
	store_jobs_free(jobs, nr);
	server_kick(srv, id);
	return 0;
}

int runner_play_job(struct server *srv, struct store *st, int64_t id, struct strbuf *err)
{
	struct store_job j, f;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = store_job_get(st, id, &j, err);
	if (rc < 0)
		return rc;
	if (strcmp(j.status, "manual")) {
		strbuf_addf(err, "job %lld is %s: only a manual job can be played",
			    (long long)id, j.status);
		store_job_release(&j);
		return STORE_CONFLICT;
	}
	memset(&f, 0, sizeof(f));
	f.queued = server_now_ms();
	rc = store_job_transition(st, id, "manual", "pending", &f, err);
	if (rc == 0) {
		store_pipeline_set_status(st, j.pipeline_id, NULL, "running", 0, 0, NULL, NULL);
		notify_pipeline(srv, st, j.pipeline_id, "running");
		events_job(srv, st, id);
		events_pipeline(srv, st, j.pipeline_id);
		server_kick(srv, j.pipeline_id);
	}
	store_job_release(&j);
	return rc;
}

void runner_auto_cancel(struct server *srv, struct store *st, int64_t project_id,
			const char *ref, int64_t newer_id)
{
	struct strbuf err = STRBUF_INIT;
	int64_t *ids = NULL;
	size_t nr = 0, i, k;
	int pass;

	if (store_pipeline_unfinished(st, project_id, ref, newer_id, &ids, &nr, &err) < 0)
		goto done;
	for (i = 0; i < nr; i++) {
		struct store_job *jobs = NULL;
		struct store_pipeline old;
		size_t n = 0;
		int protected = 0, tag, only_interruptible = 0, never = 0;

		/*
		 * A tag's pipeline is no older run of a branch of its name; the
		 * older pipeline's workflow:auto_cancel:on_new_commit says how
		 * it goes: conservative (the default), interruptible, none.
		 */
		if (store_pipeline_get(st, ids[i], &old, &err) < 0)
			break;
		tag = old.tag;
		if (old.auto_cancel_on_new_commit) {
			only_interruptible = !strcmp(old.auto_cancel_on_new_commit, "interruptible");
			never = !strcmp(old.auto_cancel_on_new_commit, "none");
		}
		store_pipeline_release(&old);
		if (tag || never)
			continue;
		if (store_job_list(st, ids[i], 0, &jobs, &n, &err) < 0)
			break;
		if (only_interruptible) {
			/* its interruptible jobs only, started or not */
			for (k = 0; k < n; k++)
				if (!finished(jobs[k].status) && jobs[k].interruptible &&
				    cancel_one(srv, st, &jobs[k], &err) < 0)
					strbuf_reset(&err);
			store_jobs_free(jobs, n);
			continue;
		}
		/* a started job that is not interruptible keeps the pipeline */
		for (k = 0; k < n; k++)
			if (jobs[k].started && !jobs[k].interruptible)
				protected = 1;
		if (!protected) {
			slog_info("pipeline %lld: canceled as redundant (pipeline %lld is newer)",
				  (long long)ids[i], (long long)newer_id);
			/* waiting jobs first (see runner_cancel_pipeline) */
			for (pass = 0; pass < 2; pass++)
				for (k = 0; k < n; k++)
					if (!finished(jobs[k].status) &&
					    (strcmp(jobs[k].status, "running") == 0) == pass &&
					    cancel_one(srv, st, &jobs[k], &err) < 0)
						strbuf_reset(&err);
		}
		store_jobs_free(jobs, n);
	}
done:
	if (err.len)
		slog_warn("auto-cancel: %s", err.buf);
	free(ids);
	strbuf_release(&err);
}

/* ---- the poller ---- */

struct polled {
	int64_t project;
	int64_t next;
};

/* A polled ref's pipeline (t.fetched: the round fetched); its id, or 0 logged. */
static int64_t poll_build(struct server *srv, const struct store_project *p, const char *ref,
			  int tag, const char *sha, const char *before)
{
	struct strbuf err = STRBUF_INIT;
	struct trigger t;
	int64_t id = 0;
	int status;

	memset(&t, 0, sizeof(t));
	t.project = p;
	t.ref = ref;
	t.tag = tag;
	t.sha = sha;
	t.before = before;
	t.source = "poll";
	t.fetched = 1;
	if (server_create_pipeline(srv, &t, &id, &status, &err) < 0) {
		slog_warn("poll %s %s%s: %s", p->name, tag ? "tag " : "", ref, err.buf);
		id = 0;
	} else {
		slog_info("poll %s: %s%s is at %.8s: pipeline %lld", p->name, tag ? "tag " : "",
			  ref, sha, (long long)id);
	}
	strbuf_release(&err);
	return id;
}

/*
 * The tags of a polled project's round (the mirror just fetched): a tag
 * pipeline for every tag that is new or moved since the last round,
 * within the round's limits.pipelines_per_push (*created counts). Tags
 * are recorded in refs as "refs/tags/NAME" (branches by their bare
 * names); "refs/tags/" itself says the tags were read once: that first
 * time they are only recorded, as the first poll's branches.
 */
static void poll_tags(struct server *srv, struct store *st, const struct store_project *p,
		      const char *mirror, int *created)
{
	static const char zero[] = "0000000000000000000000000000000000000000";
	struct strbuf err = STRBUF_INIT, key = STRBUF_INIT;
	struct strvec tags = STRVEC_INIT;
	struct server_config cfg;
	char was[41], mark[41] = "";
	size_t i, recorded = 0;
	int first;

	server_cfg(srv, &cfg);
	if (mirror_refs(mirror, "refs/tags/", &tags, &err) < 0) {
		slog_warn("poll %s: %s", p->name, err.buf);
		goto done;
	}
	if (store_ref_get(st, p->id, "refs/tags/", mark, &err) < 0)
		strbuf_reset(&err);
	first = !mark[0];
	for (i = 0; i + 1 < tags.nr; i += 2) {
		strbuf_reset(&key);
		strbuf_addf(&key, "refs/tags/%s", tags.v[i]);
		was[0] = '\0';
		if (store_ref_get(st, p->id, key.buf, was, &err) < 0)
			strbuf_reset(&err);
		if (!strcmp(was, tags.v[i + 1]))
			continue;
		if (first) {
			store_ref_set(st, p->id, key.buf, tags.v[i + 1], &err);
			strbuf_reset(&err);
			recorded++;
			continue;
		}
		if (*created >= cfg.max_pipelines_per_push) {
			slog_warn("poll %s: more than %d new heads and tags at once "
				  "(limits.pipelines_per_push)", p->name, cfg.max_pipelines_per_push);
			break;
		}
		if (!poll_build(srv, p, tags.v[i], 1, tags.v[i + 1], NULL))
			continue;
		(*created)++;
		store_ref_set(st, p->id, key.buf, tags.v[i + 1], &err);
		strbuf_reset(&err);
	}
	if (first) {
		store_ref_set(st, p->id, "refs/tags/", zero, &err);
		if (recorded)
			slog_info("poll %s: first poll: %zu tag%s recorded, not built", p->name,
				  recorded, recorded == 1 ? "" : "s");
	}
done:
	strvec_clear(&tags);
	strbuf_release(&key);
	strbuf_release(&err);
}

/*
 * One round of a polled project: fetch, then a pipeline for every
 * matching branch whose head moved since the last round. The first
 * round (no head recorded for any matching branch) records every head
 * and builds only the default branch's, as a pull mirror or a poller
 * that has just been set up does: not one pipeline per branch the
 * repository has ever had.
 */
static void poll_project(struct server *srv, struct store *st, const struct store_project *p)
{
	struct strbuf err = STRBUF_INIT;
	struct strvec br = STRVEC_INIT;
	struct server_config cfg;
	char *mirror = server_mirror_path(srv, p->name), *def = NULL;
	char (*seen)[41] = NULL;
	size_t i, recorded = 0;
	int created = 0, first = 1;

	server_cfg(srv, &cfg);
	if (server_fetch(mirror, &err) < 0 || mirror_branches(mirror, &br, &err) < 0) {
		slog_warn("poll %s: %s", p->name, err.buf);
		goto done;
	}
	seen = xcalloc(br.nr / 2 + 1, sizeof(*seen));
	for (i = 0; i + 1 < br.nr; i += 2) {
		if (!server_branch_matches(p->branches, br.v[i]))
			continue;
		if (store_ref_get(st, p->id, br.v[i], seen[i / 2], &err) < 0 && !seen[i / 2][0])
			strbuf_reset(&err);
		if (seen[i / 2][0])
			first = 0;
	}
	if (first)
		def = mirror_head_branch(mirror);
	for (i = 0; i + 1 < br.nr; i += 2) {
		const char *was = seen[i / 2];

		if (!server_branch_matches(p->branches, br.v[i]) || !strcmp(was, br.v[i + 1]))
			continue;
		if (first && (!def || strcmp(def, br.v[i]))) {
			store_ref_set(st, p->id, br.v[i], br.v[i + 1], &err);
			strbuf_reset(&err);
			recorded++;
			continue;
		}
		if (created >= cfg.max_pipelines_per_push) {
			slog_warn("poll %s: more than %d new heads at once (limits.pipelines_per_push)",
				  p->name, cfg.max_pipelines_per_push);
			break;
		}
		if (!poll_build(srv, p, br.v[i], 0, br.v[i + 1], was[0] ? was : NULL))
			continue;
		created++;
		store_ref_set(st, p->id, br.v[i], br.v[i + 1], &err);
		strbuf_reset(&err);
	}
	if (recorded)
		slog_info("poll %s: first poll: %zu other branch head%s recorded, not built",
			  p->name, recorded, recorded == 1 ? "" : "s");
	poll_tags(srv, st, p, mirror, &created);
done:
	free(seen);
	free(def);
	strvec_clear(&br);
	free(mirror);
	strbuf_release(&err);
}

static void *poller_main(void *arg)
{
	struct server *srv = arg;
	struct polled *due = NULL;
	size_t due_nr = 0, due_alloc = 0;
	struct strbuf err = STRBUF_INIT;

	while (!atomic_load(&srv->stopping)) {
		struct store *st = server_store(srv, &err);
		struct store_project *ps = NULL;
		struct server_config cfg;
		struct pollfd pfd;
		size_t n = 0, i, k;
		int64_t now = server_now_ms(), wait = 60000;

		server_cfg(srv, &cfg);
		if (st && store_project_list(st, &ps, &n, &err) == 0) {
			for (i = 0; i < n; i++) {
				int64_t every;

				if (ps[i].poll_interval <= 0)
					continue;
				every = (int64_t)(ps[i].poll_interval > cfg.poll_min_interval ?
						  ps[i].poll_interval : cfg.poll_min_interval) * 1000;
				for (k = 0; k < due_nr && due[k].project != ps[i].id; k++)
					;
				if (k == due_nr) {
					ALLOC_GROW(due, due_nr + 1, due_alloc);
					due[due_nr].project = ps[i].id;
					due[due_nr].next = 0;
					due_nr++;
				}
				if (due[k].next <= now) {
					poll_project(srv, st, &ps[i]);
					now = server_now_ms();
					due[k].next = now + every;
				}
				if (due[k].next - now < wait)
					wait = due[k].next - now;
			}
			store_projects_free(ps, n);
		} else {
			slog_warn("poller: %s", err.buf);
		}
		strbuf_reset(&err);
		/* no connection kept between rounds (a minute apart, or more) */
		server_store_release(srv);
		pfd.fd = srv->poll_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(wait < 0 ? 0 : wait)) > 0) {
			uint64_t v;

			if (read(srv->poll_fd, &v, sizeof(v)) < 0) {
				/* woken for a stop or a new project */
			}
		}
	}
	free(due);
	strbuf_release(&err);
	return NULL;
}

int runner_poller_start(struct server *srv, struct strbuf *err)
{
	if (pthread_create(&srv->poller, NULL, poller_main, srv)) {
		strbuf_addstr(err, "cannot start the poller thread");
		return -1;
	}
	return 0;
}

void runner_poller_stop(struct server *srv)
{
	uint64_t one = 1;

	if (write(srv->poll_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot be full: the poller will see stopping */
	}
	pthread_join(srv->poller, NULL);
}
