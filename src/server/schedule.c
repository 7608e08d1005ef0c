/*
 * Pipeline schedules: the checks of a new or changed schedule, one run
 * of a schedule, and the scheduler thread that runs the due ones
 * (docs/internals/server.md#the-scheduler).
 *
 * The thread owns nothing but its wake-up: every due time is a row's
 * next_run_at. A run is claimed by moving next_run_at from the value
 * read to the next time after now (store_schedule_claim, a
 * compare-and-set): of several servers on one database exactly one
 * makes the pipeline, and a schedule whose times passed while no server
 * ran runs once, not once per missed time.
 */
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/vars.h"
#include "server/auth.h"
#include "server/server.h"
#include "util/cron.h"
#include "util/tz.h"
#include "util/xalloc.h"

#define DUE_BATCH 50
/* a look at the store at least this often: another server's new schedules */
#define WAKE_MAX_MS 60000

/* cron expr in zone: its next time after now (ms); -1 with err. */
static int next_time(const char *expr, const char *zone, int64_t now, struct cron *c,
		     int64_t *ret, struct strbuf *err)
{
	struct tz *tz = NULL;
	int64_t next;
	int rc;

	if (cron_parse(expr, c, err) < 0 || tz_load(zone, &tz, err) < 0)
		return -1;
	/* the next minute strictly after now: a time in this second's minute has passed */
	rc = cron_next(c, now / 1000, tz, &next);
	tz_free(tz);
	if (rc < 0) {
		strbuf_addstr(err, "the schedule never fires");
		return -1;
	}
	*ret = next * 1000;
	return 0;
}

int schedule_check(struct server *srv, const char *expr, const char *zone, int64_t now,
		   int interval, int64_t *ret_next, struct strbuf *err)
{
	struct server_config cfg;
	struct cron c;
	int64_t gap;

	server_cfg(srv, &cfg);
	if (next_time(expr, zone, now, &c, ret_next, err) < 0)
		return 400;
	gap = cron_min_interval(&c);
	if (interval && gap < cfg.schedules_min_interval) {
		strbuf_addf(err, "\"%s\" fires every %lld s at times, more often than "
			    "schedules.min_interval (%d s) allows", expr, (long long)gap,
			    cfg.schedules_min_interval);
		return 400;
	}
	return 0;
}

/* A failed pipeline that says why schedule s could not make one. */
static int record_failure(struct store *st, const struct store_schedule *s, const char *why,
			  int64_t *ret_pipeline, struct strbuf *err)
{
	struct store_pipeline pl;
	int64_t now = server_now_ms();

	memset(&pl, 0, sizeof(pl));
	pl.project_id = s->project_id;
	pl.ref = s->ref ? s->ref : "";
	pl.sha = "";
	pl.source = "schedule";
	pl.status = "failed";
	pl.error = (char *)why;
	pl.variables = s->variables;
	pl.schedule_id = s->id;
	pl.started = now;
	pl.finished = now;
	if (store_pipeline_add(st, &pl, err) < 0)
		return -1;
	*ret_pipeline = pl.id;
	return 0;
}

int schedule_run(struct server *srv, struct store *st, const struct store_schedule *s,
		 int64_t *ret_pipeline, int *ret_status, struct strbuf *err)
{
	struct varlist vars = VARLIST_INIT;
	struct store_project p;
	struct strbuf why = STRBUF_INIT;
	struct trigger t;
	json_t *v = NULL, *e;
	const char *k;
	int64_t id = 0;
	int rc, active = 1;

	*ret_status = 500;
	memset(&p, 0, sizeof(p));
	rc = store_project_get_id(st, s->project_id, &p, err);
	if (rc < 0 && rc != STORE_NOTFOUND)
		goto done;
	if (rc == STORE_NOTFOUND || p.deleted) {
		strbuf_reset(err);
		strbuf_addf(&why, "schedule %lld: its project was deleted", (long long)s->id);
		active = 0;
		rc = record_failure(st, s, why.buf, &id, err);
		goto ran;
	}
	v = json_loads(s->variables ? s->variables : "{}", 0, NULL);
	json_object_foreach(v, k, e)
		if (json_is_string(e))
			varlist_set(&vars, k, json_string_value(e));
	memset(&t, 0, sizeof(t));
	t.project = &p;
	t.ref = s->ref;
	t.source = "schedule";
	t.vars = &vars;
	t.schedule_id = s->id;
	rc = server_create_pipeline(srv, &t, &id, ret_status, err);
	if (rc < 0 && (*ret_status == 404 || *ret_status == 400)) {
		/* the ref is gone, or the repository: recorded, and the schedule goes on */
		strbuf_addf(&why, "schedule %lld: %s", (long long)s->id, err->buf);
		strbuf_reset(err);
		rc = record_failure(st, s, why.buf, &id, err);
	}
ran:
	if (rc == 0 && store_schedule_ran(st, s->id, id, active, err) < 0)
		rc = -1;
	if (rc == 0)
		*ret_pipeline = id;
done:
	json_decref(v);
	varlist_clear(&vars);
	store_project_release(&p);
	strbuf_release(&why);
	return rc < 0 ? -1 : 0;
}

/* ---- the changes the API and the web UI make (server.h) ---- */

static void schedule_audit(struct store *st, struct http_request *req,
			   const struct principal *who, const char *action,
			   const struct store_schedule *s, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void schedule_audit(struct store *st, struct http_request *req,
			   const struct principal *who, const char *action,
			   const struct store_schedule *s, const char *fmt, ...)
{
	struct strbuf detail = STRBUF_INIT;
	char target[48];
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&detail, fmt, ap);
	va_end(ap);
	snprintf(target, sizeof(target), "schedule %lld", (long long)s->id);
	auth_audit(st, req, who, action, target, "%s", detail.buf);
	strbuf_release(&detail);
}

int schedule_add(struct server *srv, struct store *st, struct http_request *req,
		 const struct principal *who, const struct store_project *p,
		 struct store_schedule *s, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	struct server_config cfg;
	int rc, status = 201;

	if (!s->cron || !*s->cron) {
		strbuf_addstr(msg, "cron is required, e.g. \"0 3 * * *\"");
		return 400;
	}
	if (!s->description)
		s->description = xstrdup("");
	if (!s->cron_timezone || !*s->cron_timezone) {
		free(s->cron_timezone);
		s->cron_timezone = xstrdup("UTC");
	}
	if (!s->variables)
		s->variables = xstrdup("{}");
	rc = schedule_check(srv, s->cron, s->cron_timezone, server_now_ms(), 1, &s->next_run_at,
			    msg);
	if (rc)
		return rc;
	s->project_id = p->id;
	s->owner = who->user_id;
	server_cfg(srv, &cfg);
	rc = store_schedule_add(st, s, cfg.schedules_max_per_project, &err);
	if (rc == STORE_CONFLICT)
		strbuf_addstr(&err, " (schedules.max_per_project)");
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
	} else {
		schedule_audit(st, req, who, "schedule.create", s, "project %s, cron %s (%s)%s",
			       p->name, s->cron, s->cron_timezone, s->active ? "" : ", inactive");
		scheduler_kick(srv);
	}
	strbuf_release(&err);
	return status;
}

int schedule_update(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p,
		    struct store_schedule *s, int new_cron, const char *what,
		    struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	int rc, status = 200;

	/* min_interval holds for a new cron; one stored before a raise can still be edited */
	rc = schedule_check(srv, s->cron, s->cron_timezone, server_now_ms(), new_cron,
			    &s->next_run_at, msg);
	if (rc)
		return rc;
	rc = store_schedule_update(st, s, &err);
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
	} else {
		schedule_audit(st, req, who, "schedule.update", s, "project %s: %s", p->name, what);
		scheduler_kick(srv);
	}
	strbuf_release(&err);
	return status;
}

int schedule_remove(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p,
		    const struct store_schedule *s, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	int rc, status = 200;

	rc = store_schedule_delete(st, p->id, s->id, &err);
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
	} else {
		schedule_audit(st, req, who, "schedule.delete", s, "project %s, cron %s", p->name,
			       s->cron);
		scheduler_kick(srv);
	}
	strbuf_release(&err);
	return status;
}

int schedule_play(struct server *srv, struct store *st, struct http_request *req,
		  const struct principal *who, const struct store_project *p,
		  const struct store_schedule *s, int64_t *ret_pipeline, struct strbuf *msg)
{
	int status;

	if (schedule_run(srv, st, s, ret_pipeline, &status, msg) < 0)
		return status;
	schedule_audit(st, req, who, "schedule.play", s, "project %s, pipeline %lld", p->name,
		       (long long)*ret_pipeline);
	return 201;
}

/*
 * A due run the server could not make a pipeline for (the job queue
 * full, the repository unreachable): nobody asked for it who could be
 * told, so it is a failed pipeline that says why, like a ref that is
 * gone. The schedule stays active; its next time is claimed already.
 */
static void record_lost_run(struct store *st, const struct store_schedule *s,
			    const char *reason)
{
	struct strbuf why = STRBUF_INIT, err = STRBUF_INIT;
	int64_t id = 0;

	strbuf_addf(&why, "schedule %lld: %s", (long long)s->id, reason);
	if (record_failure(st, s, why.buf, &id, &err) < 0 ||
	    store_schedule_ran(st, s->id, id, 1, &err) < 0)
		slog_warn("scheduler: schedule %lld: the failed run not recorded: %s",
			  (long long)s->id, err.buf);
	strbuf_release(&why);
	strbuf_release(&err);
}

/* Claim and run the schedules due at now; 1 when there may be more due. */
static int run_due(struct server *srv, struct store *st, int64_t now)
{
	struct strbuf err = STRBUF_INIT;
	struct store_schedule *due = NULL;
	size_t n = 0, i;

	if (store_schedule_due(st, now, DUE_BATCH, &due, &n, &err) < 0) {
		slog_warn("scheduler: %s", err.buf);
		strbuf_release(&err);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const struct store_schedule *s = &due[i];
		int64_t next = 0, pl = 0;
		struct cron c;
		int status;

		strbuf_reset(&err);
		if (next_time(s->cron, s->cron_timezone, now, &c, &next, &err) < 0) {
			/* stored valid; a zone removed from the system since: stop it */
			slog_warn("scheduler: schedule %lld: %s: deactivated", (long long)s->id,
				  err.buf);
			strbuf_reset(&err);
			if (store_schedule_claim(st, s->id, s->next_run_at, s->next_run_at, &err) == 0)
				store_schedule_ran(st, s->id, s->last_pipeline_id, 0, &err);
			continue;
		}
		/* missed times (a server down over them) are one run, now */
		if (store_schedule_claim(st, s->id, s->next_run_at, next, &err) < 0)
			continue;	/* another server's, or changed meanwhile */
		if (schedule_run(srv, st, s, &pl, &status, &err) < 0) {
			slog_warn("scheduler: schedule %lld: %s", (long long)s->id, err.buf);
			if (status == 502 || status == 503)
				record_lost_run(st, s, err.buf);
		} else
			slog_info("scheduler: schedule %lld: pipeline %lld", (long long)s->id,
				  (long long)pl);
	}
	store_schedules_free(due, n);
	strbuf_release(&err);
	return n == DUE_BATCH;
}

static void *scheduler_main(void *arg)
{
	struct server *srv = arg;
	struct strbuf err = STRBUF_INIT;

	while (!atomic_load(&srv->stopping)) {
		struct store *st = server_store(srv, &err);
		int64_t now = server_now_ms(), next = 0, wait = WAKE_MAX_MS;
		struct pollfd pfd;

		if (st) {
			if (run_due(srv, st, now))
				wait = 0;
			else if (store_schedule_next_due(st, &next, &err) < 0)
				slog_warn("scheduler: %s", err.buf);
			else if (next && next - server_now_ms() < wait)
				wait = next - server_now_ms();
		} else {
			slog_warn("scheduler: %s", err.buf);
		}
		strbuf_reset(&err);
		/* no connection kept while waiting (a minute, usually) */
		server_store_release(srv);
		pfd.fd = srv->sched_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(wait < 0 ? 0 : wait)) > 0) {
			uint64_t v;

			if (read(srv->sched_fd, &v, sizeof(v)) < 0) {
				/* woken for a change or a stop */
			}
		}
	}
	strbuf_release(&err);
	return NULL;
}

int scheduler_start(struct server *srv, struct strbuf *err)
{
	if (pthread_create(&srv->scheduler, NULL, scheduler_main, srv)) {
		strbuf_addstr(err, "cannot start the scheduler thread");
		return -1;
	}
	srv->sched_started = 1;
	return 0;
}

void scheduler_kick(struct server *srv)
{
	uint64_t one = 1;

	if (srv->sched_fd >= 0 && write(srv->sched_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot be full */
	}
}

void scheduler_stop(struct server *srv)
{
	if (!srv->sched_started)
		return;
	scheduler_kick(srv);
	pthread_join(srv->scheduler, NULL);
	srv->sched_started = 0;
}
