/*
 * The notify thread (notify.h): events become deliveries, due deliveries
 * go to the worker process (up to MAX_FLIGHTS at once, one per target),
 * results are recorded, failures retried with exponential back-off. Nothing here runs on the runner's
 * thread or an HTTP thread except notify_event(), which is one insert.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "exec/coproc.h"
#include "exec/spawn.h"
#include "notify/notify.h"
#include "server/seal.h"
#include "server/server.h"
#include "store/store_notify.h"
#include "util/jsonx.h"
#include "util/strvec.h"
#include "util/xalloc.h"

#define EVENTS_BATCH     50
#define DUE_BATCH        32
#define MAX_FLIGHTS      8         /* deliveries at the worker at once */
#define WORKER_IDLE_MS   3000      /* an idle worker is ended after this (it ends itself after 5 s) */
#define WORKER_REPLY_MS  30000     /* the worker's own limit is 15 s a request */
#define MAX_REPLY        (64 * 1024)
#define MAX_REQUEST      (512 * 1024)
#define MAX_WAIT_MS      60000
#define KEEP_MS          (7LL * 24 * 3600 * 1000)  /* finished deliveries kept a week */
#define PRUNE_EVERY_MS   (3600LL * 1000)
/*
 * The store is closed after this long with nothing to do: reopening it
 * for every status change of a busy runner (schema read, statements
 * prepared again) cost a third of the server's CPU in a drain.
 */
#define STORE_IDLE_MS    2000

struct notify {
	struct server *srv;
	struct store *st;
	pthread_t thread;
	int wake_fd;
	atomic_int stop;
	struct coproc worker;
	int64_t worker_used;           /* last reply, ms */
	struct flight {
		struct store_delivery d;
		int64_t deadline;      /* the worker is stuck after this */
	} fl[MAX_FLIGHTS];
	size_t fl_nr;
	struct strbuf rbuf;            /* the worker's output not yet consumed */
	char host[256];
	int64_t pruned;
	int64_t idle_since;   /* when the thread last found nothing to do; 0: busy */
};

/* The notify thread's copy of the settings it needs, taken under cfg_lock. */
struct ncfg {
	char *base_url, *smtp_url, *smtp_from, *smtp_username, *smtp_password;
	int retry_base_ms, attempts;
};

static void ncfg_get(struct notify *n, struct ncfg *c)
{
	struct server *srv = n->srv;

	pthread_mutex_lock(&srv->cfg_lock);
	c->base_url = xstrdup(srv->cfg.public_url ? srv->cfg.public_url :
			      srv->url ? srv->url : "http://127.0.0.1:8080");
	c->smtp_url = xstrdup_or_null(srv->cfg.smtp_url);
	c->smtp_from = srv->cfg.smtp_from ? xstrdup(srv->cfg.smtp_from) :
		       xasprintf("cidre@%s", n->host);
	c->smtp_username = xstrdup_or_null(srv->cfg.smtp_username);
	c->smtp_password = xstrdup_or_null(srv->cfg.smtp_password);
	c->retry_base_ms = srv->cfg.notify_retry_base_ms;
	c->attempts = srv->cfg.notify_attempts;
	pthread_mutex_unlock(&srv->cfg_lock);
}

static void ncfg_release(struct ncfg *c)
{
	free(c->base_url);
	free(c->smtp_url);
	free(c->smtp_from);
	free(c->smtp_username);
	free(c->smtp_password);
}

int64_t notify_backoff_ms(int64_t base_ms, int attempts)
{
	static const int mul[] = { 1, 6, 24, 120, 720 };
	int i = attempts < 1 ? 0 : attempts - 1;

	if (i >= (int)(sizeof(mul) / sizeof(mul[0])))
		i = (int)(sizeof(mul) / sizeof(mul[0])) - 1;
	return base_ms * mul[i];
}

void notify_wake(struct server *srv)
{
	struct notify *n = __atomic_load_n(&srv->notify, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (n && write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd is non-blocking and cannot overflow here */
	}
}

void notify_event(struct server *srv, struct store *st, int64_t pipeline_id, int64_t job_id,
		  const char *status)
{
	struct notify *n = __atomic_load_n(&srv->notify, __ATOMIC_ACQUIRE);
	struct strbuf err = STRBUF_INIT;
	uint64_t one = 1;

	int rc = store_notify_event_add(st, pipeline_id, job_id, status, &err);

	if (rc == STORE_NOTFOUND) {
		/* the project sends nothing */
	} else if (rc < 0) {
		slog_warn("notify: pipeline %lld: the event is lost: %s", (long long)pipeline_id,
			  err.buf);
	} else if (n && write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* the eventfd is non-blocking and cannot overflow here */
	}
	strbuf_release(&err);
}

/* ---- events to deliveries ---- */

/* CI_COMMIT_* of a pipeline's recorded context (malloc'ed, NULL if absent). */
static char *ctx_var(const char *ctx, const char *name)
{
	json_t *o = ctx ? json_loads(ctx, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(json_object_get(o, "predefined"), name));
	char *r = xstrdup_or_null(v);

	json_decref(o);
	return r;
}

static int add(struct notify *n, struct store_delivery *d, const char *kind, const char *event,
	       const char *target, json_t *req, struct strbuf *err)
{
	char *text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int rc;

	d->kind = (char *)kind;
	d->event = (char *)event;
	d->target = (char *)target;
	d->request = text;
	d->id = 0;
	d->next_at = server_now_ms();
	rc = store_delivery_add(n->st, d, err);
	free(text);
	d->request = NULL;
	return rc;
}

static int email(struct notify *n, const struct ncfg *c, struct store_delivery *d,
		 const struct notify_settings *s, const struct notify_pipeline_info *pi,
		 const char *what, struct strbuf *err)
{
	struct strvec to = STRVEC_INIT, failed = STRVEC_INIT;
	struct store_job *jobs = NULL;
	size_t nr = 0, i, k;
	char *author = s->to_author ? notify_author_address(pi->author) : NULL;
	int rc = 0;

	if (author)
		strvec_push(&to, author);
	for (i = 0; i < s->subscribers_nr; i++) {
		for (k = 0; k < to.nr && strcasecmp(to.v[k], s->subscribers[i]); k++)
			;
		if (k == to.nr)
			strvec_push(&to, s->subscribers[i]);
	}
	free(author);
	if (!to.nr)
		goto done;
	if (store_job_list(n->st, pi->id, 0, &jobs, &nr, NULL) == 0) {
		for (i = 0; i < nr; i++) {
			char *line;

			if (strcmp(jobs[i].status, "failed") || jobs[i].allow_failure)
				continue;
			line = xasprintf("%s (stage %s)%s%s", jobs[i].name, jobs[i].stage,
					 jobs[i].failure_reason ? ": " : "",
					 jobs[i].failure_reason ? jobs[i].failure_reason : "");
			strvec_push(&failed, line);
			free(line);
		}
	}
	for (i = 0; i < to.nr && rc == 0; i++) {
		char *msg = notify_email_message(c->smtp_from, to.v[i], what, pi,
						 (const char *const *)failed.v, failed.nr,
						 server_now_ms(), n->host);
		json_t *req = json_pack("{s:s, s:[s], s:s}", "from", c->smtp_from, "to", to.v[i],
					"body", msg);

		if (!c->smtp_url) {
			d->state = "failed";
			d->last_error = "no smtp.url in the server's configuration";
		}
		rc = add(n, d, "email", "pipeline", to.v[i], req, err);
		d->state = NULL;
		d->last_error = NULL;
		json_decref(req);
		free(msg);
	}
done:
	store_jobs_free(jobs, nr);
	strvec_clear(&to);
	strvec_clear(&failed);
	return rc;
}

static const char *describe(const char *status)
{
	if (!strcmp(status, "success"))
		return "passed";
	if (!strcmp(status, "manual"))
		return "waiting for a manual job";
	return status;
}

/* The deliveries of one event, in the caller's transaction. */
static int expand(struct notify *n, const struct ncfg *c, const struct store_notify_event *ev,
		  struct strbuf *err)
{
	struct store_pipeline pl;
	struct store_job job;
	struct notify_settings s;
	struct notify_pipeline_info pi;
	struct notify_job_info ji;
	struct store_delivery d;
	char *json = NULL, *title = NULL, *author = NULL, *url = NULL, *body = NULL;
	json_t *doc = NULL, *req;
	int rc, is_job = ev->job_id != 0;
	size_t i;

	memset(&pl, 0, sizeof(pl));
	memset(&job, 0, sizeof(job));
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	rc = store_pipeline_get(n->st, ev->pipeline_id, &pl, err);
	if (rc == 0 && is_job)
		rc = store_job_get(n->st, ev->job_id, &job, err);
	if (rc == 0)
		rc = store_notify_settings_get(n->st, pl.project_id, &json, err);
	if (rc == STORE_NOTFOUND) {
		strbuf_reset(err);
		rc = 0;		/* nothing to tell, or no one to tell it */
		goto done;
	}
	if (rc < 0 || seal_open_in_place(&json, err) < 0) {
		rc = -1;
		goto done;
	}
	doc = json_loads(json, 0, NULL);
	if (!doc || notify_settings_parse(doc, NULL, &s, err) < 0) {
		slog_warn("notify: project %lld: unreadable settings: %s",
			  (long long)pl.project_id, err->buf);
		strbuf_reset(err);
		goto done;
	}
	title = ctx_var(pl.ctx, "CI_COMMIT_TITLE");
	author = ctx_var(pl.ctx, "CI_COMMIT_AUTHOR");
	url = notify_pipeline_url(c->base_url, pl.id);
	memset(&pi, 0, sizeof(pi));
	pi.project = pl.project;
	pi.id = pl.id;
	pi.ref = pl.ref;
	pi.sha = pl.sha;
	pi.source = pl.source;
	pi.status = is_job ? pl.status : ev->status;
	pi.url = url;
	pi.created = pl.created;
	pi.started = pl.started;
	pi.finished = pl.finished;
	pi.duration = store_pipeline_ms(&pl);
	pi.title = title;
	pi.author = author;
	d.project_id = pl.project_id;
	d.pipeline_id = pl.id;
	d.job_id = ev->job_id;

	if (is_job) {
		memset(&ji, 0, sizeof(ji));
		ji.id = job.id;
		ji.name = job.name;
		ji.stage = job.stage;
		ji.status = ev->status;
		ji.failure_reason = job.failure_reason;
		ji.attempt = job.attempt;
		ji.allow_failure = job.allow_failure;
		ji.started = job.started;
		ji.finished = job.finished;
		json_decref(doc);
		doc = notify_webhook_body(&pi, &ji);
		body = json_dumps(doc, JSONX_OUT | JSON_PRESERVE_ORDER);
		for (i = 0; i < s.hooks_nr && rc == 0; i++) {
			if (!s.hooks[i].job)
				continue;
			req = notify_webhook_request(s.hooks[i].url, s.hooks[i].secret, "job", body);
			rc = add(n, &d, "webhook", "job", s.hooks[i].url, req, err);
			json_decref(req);
		}
		goto done;
	}
	if (s.forge.kind) {
		char *desc = xasprintf("pipeline #%lld %s", (long long)pl.id,
				       describe(ev->status));

		req = notify_forge_request(&s.forge, &pi, desc);
		free(desc);
		if (req) {
			rc = add(n, &d, "forge", "pipeline",
				 json_string_value(json_object_get(req, "url")), req, err);
			if (rc == 0)
				rc = store_deliveries_supersede(n->st, pl.id, "forge", d.id, err);
			json_decref(req);
		}
	}
	json_decref(doc);
	doc = notify_webhook_body(&pi, NULL);
	body = json_dumps(doc, JSONX_OUT | JSON_PRESERVE_ORDER);
	for (i = 0; i < s.hooks_nr && rc == 0; i++) {
		if (!s.hooks[i].pipeline)
			continue;
		req = notify_webhook_request(s.hooks[i].url, s.hooks[i].secret, "pipeline", body);
		rc = add(n, &d, "webhook", "pipeline", s.hooks[i].url, req, err);
		json_decref(req);
	}
	if (rc == 0 && (s.to_author || s.subscribers_nr)) {
		const char *what = NULL;

		if (!strcmp(ev->status, "failed")) {
			what = "failed";
		} else if (!strcmp(ev->status, "success")) {
			char *prev = NULL;

			if (store_notify_prev_status(n->st, pl.project_id, pl.ref, pl.id, &prev,
						     NULL) == 0 && !strcmp(prev, "failed"))
				what = "fixed";
			free(prev);
		}
		if (what)
			rc = email(n, c, &d, &s, &pi, what, err);
	}
done:
	json_decref(doc);
	free(body);
	free(json);
	free(title);
	free(author);
	free(url);
	notify_settings_release(&s);
	store_job_release(&job);
	store_pipeline_release(&pl);
	return rc;
}

static void expand_events(struct notify *n, const struct ncfg *c)
{
	struct strbuf err = STRBUF_INIT;
	struct store_notify_event *ev = NULL;
	size_t nr = 0, i;

	if (store_notify_events_list(n->st, EVENTS_BATCH, &ev, &nr, &err) < 0)
		goto done;
	for (i = 0; i < nr && !atomic_load(&n->stop); i++) {
		if (store_begin(n->st, &err) < 0)
			goto done;
		if (expand(n, c, &ev[i], &err) < 0 ||
		    store_notify_event_delete(n->st, ev[i].id, &err) < 0) {
			store_rollback(n->st);
			slog_warn("notify: event %lld of pipeline %lld: %s", (long long)ev[i].id,
				  (long long)ev[i].pipeline_id, err.buf);
			strbuf_reset(&err);
			/* drop it rather than retry it forever */
			store_notify_event_delete(n->st, ev[i].id, NULL);
			continue;
		}
		if (store_commit(n->st, &err) < 0)
			goto done;
	}
done:
	if (err.len)
		slog_warn("notify: %s", err.buf);
	store_notify_events_free(ev, nr);
	strbuf_release(&err);
}

/* ---- the worker ---- */

/*
 * Up to MAX_FLIGHTS deliveries are at the worker at once, at most one per
 * target (so one receiver's messages arrive in order, and a slow receiver
 * holds one slot, not the others). A delivery in flight is leased in the
 * store (next_at = its deadline) so that it is not due again meanwhile,
 * nor lost if the server dies.
 */
static int flight_find(struct notify *n, int64_t id)
{
	size_t i;

	for (i = 0; i < n->fl_nr; i++)
		if (n->fl[i].d.id == id)
			return (int)i;
	return -1;
}

static int target_busy(struct notify *n, const char *target)
{
	size_t i;

	for (i = 0; i < n->fl_nr; i++)
		if (!strcmp(n->fl[i].d.target, target))
			return 1;
	return 0;
}

static void flight_drop(struct notify *n, size_t i)
{
	store_delivery_release(&n->fl[i].d);
	n->fl[i] = n->fl[--n->fl_nr];
}

static void worker_end(struct notify *n, int term)
{
	if (n->worker.pid > 0)
		coproc_end(&n->worker, term);
	strbuf_reset(&n->rbuf);
}

static int worker_up(struct notify *n, struct strbuf *err)
{
	char *path;
	const char *argv[3];
	int rc;

	if (n->worker.pid > 0)
		return 0;
	path = spawn_sibling("cidre-client");
	argv[0] = path;
	argv[1] = "deliver";
	argv[2] = NULL;
	rc = coproc_start(argv, &n->worker, err);
	free(path);
	return rc;
}

/* Write all of buf to the worker; -1 when it is gone. */
static int worker_write(struct notify *n, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(n->worker.in, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The request line for d, with what is added at send time. */
static char *request_line(const struct store_delivery *d, const struct ncfg *c,
			  struct strbuf *err)
{
	json_t *req = json_loads(d->request, 0, NULL);
	char *line;

	if (!json_is_object(req)) {
		json_decref(req);
		strbuf_addstr(err, "the recorded request is unreadable");
		return NULL;
	}
	json_object_set_new(req, "id", json_integer(d->id));
	if (!strcmp(d->kind, "webhook")) {
		char *h = xasprintf("X-Cidre-Delivery: %lld", (long long)d->id);

		json_array_append_new(json_object_get(req, "headers"), json_string(h));
		free(h);
	} else if (!strcmp(d->kind, "email")) {
		if (!c->smtp_url) {
			json_decref(req);
			strbuf_addstr(err, "no smtp.url in the server's configuration");
			return NULL;
		}
		json_object_set_new(req, "url", json_string(c->smtp_url));
		if (c->smtp_username)
			json_object_set_new(req, "username", json_string(c->smtp_username));
		if (c->smtp_password)
			json_object_set_new(req, "password", json_string(c->smtp_password));
	}
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (strlen(line) > MAX_REQUEST) {
		free(line);
		strbuf_addstr(err, "the request is too large");
		return NULL;
	}
	return line;
}

/* 1: done; 0: failed, worth retrying; -1: failed for good. */
static int outcome(const struct store_delivery *d, int status, const char *error)
{
	if (!strcmp(d->kind, "email"))
		return !error && status / 100 == 2 ? 1 : status >= 500 && status < 600 ? -1 : 0;
	if (!error && status >= 200 && status < 300)
		return 1;
	if (status >= 400 && status < 500 && status != 408 && status != 429)
		return -1;
	return 0;
}

/*
 * Record an attempt of d: verdict 1 done, 0 retry (unless attempts are
 * used up), -1 failed for good; why says what went wrong.
 */
static void record(struct notify *n, const struct ncfg *c, const struct store_delivery *d,
		   int verdict, int status, const char *why)
{
	struct strbuf err = STRBUF_INIT;
	int attempts = d->attempts + 1;
	const char *state;
	int64_t next = 0;

	if (verdict == 1) {
		state = "done";
	} else if (verdict < 0 || attempts >= c->attempts) {
		state = "failed";
	} else {
		state = "pending";
		next = server_now_ms() + notify_backoff_ms(c->retry_base_ms, attempts);
	}
	if (verdict != 1 && (!why || !*why))
		why = "failed";
	if (store_delivery_update(n->st, d->id, state, attempts, next, status,
				  verdict == 1 ? NULL : why, &err) < 0)
		slog_warn("notify: delivery %lld: %s", (long long)d->id, err.buf);
	else if (verdict != 1)
		slog_info("notify: delivery %lld (%s to %s), attempt %d: %s%s", (long long)d->id,
			  d->kind, d->target, attempts, why,
			  !strcmp(state, "failed") ? "; giving up" : "; will retry");
	strbuf_release(&err);
}

/* The worker is gone or stuck: every delivery in flight failed this attempt. */
static void worker_fail(struct notify *n, const struct ncfg *c, const char *why)
{
	worker_end(n, 1);
	while (n->fl_nr) {
		record(n, c, &n->fl[0].d, 0, 0, why);
		flight_drop(n, 0);
	}
}

/* One result line from the worker. */
static void take_reply(struct notify *n, const struct ncfg *c, const char *line)
{
	struct strbuf why = STRBUF_INIT;
	json_t *res = json_loads(line, 0, NULL), *e;
	int i, status;

	i = json_is_object(res) ? flight_find(n, json_integer_value(json_object_get(res, "id"))) :
	    -1;
	if (i < 0) {
		slog_warn("notify: an unexpected reply from the delivery worker: %.200s", line);
		json_decref(res);
		return;
	}
	status = (int)json_integer_value(json_object_get(res, "status"));
	e = json_object_get(res, "error");
	if (json_is_string(e)) {
		strbuf_addstr(&why, json_string_value(e));
	} else if ((status < 200 || status >= 300) && strcmp(n->fl[i].d.kind, "email")) {
		const char *b = json_string_value(json_object_get(res, "body"));

		strbuf_addf(&why, "HTTP %d%s%.200s", status, b && *b ? ": " : "", b ? b : "");
	}
	record(n, c, &n->fl[i].d, outcome(&n->fl[i].d, status, why.len ? why.buf : NULL),
	       status, why.buf);
	flight_drop(n, (size_t)i);
	n->worker_used = server_now_ms();
	json_decref(res);
	strbuf_release(&why);
}

/* Read what the worker wrote; take each complete line. */
static void read_replies(struct notify *n, const struct ncfg *c)
{
	char buf[8192], *nl;
	ssize_t r;

	while (n->worker.pid > 0) {
		r = read(n->worker.out, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			worker_fail(n, c, "the delivery worker ended");
			return;
		}
		strbuf_add(&n->rbuf, buf, (size_t)r);
		while ((nl = memchr(n->rbuf.buf, '\n', n->rbuf.len))) {
			size_t k = (size_t)(nl - n->rbuf.buf);

			*nl = '\0';
			take_reply(n, c, n->rbuf.buf);
			memmove(n->rbuf.buf, nl + 1, n->rbuf.len - k - 1);
			strbuf_setlen(&n->rbuf, n->rbuf.len - k - 1);
		}
		if (n->rbuf.len > MAX_REPLY) {
			worker_fail(n, c, "the delivery worker's reply is too long");
			return;
		}
	}
}

/*
 * Hand due deliveries to the worker while slots are free. Returns 1 when
 * some due delivery had to wait (its target busy, or no slot).
 */
static int send_due(struct notify *n, const struct ncfg *c)
{
	struct strbuf err = STRBUF_INIT;
	struct store_delivery *a = NULL;
	size_t nr = 0, i;
	int waiting = 0;
	int64_t now = server_now_ms();

	if (n->fl_nr >= MAX_FLIGHTS)
		return 1;
	if (store_deliveries_due(n->st, now, DUE_BATCH, &a, &nr, &err) < 0) {
		slog_warn("notify: %s", err.buf);
		goto done;
	}
	for (i = 0; i < nr && !atomic_load(&n->stop); i++) {
		struct store_delivery *d = &a[i];
		char *line;

		if (flight_find(n, d->id) >= 0)
			continue;
		if (n->fl_nr >= MAX_FLIGHTS || target_busy(n, d->target)) {
			waiting = 1;
			continue;
		}
		strbuf_reset(&err);
		line = request_line(d, c, &err);
		if (!line) {
			record(n, c, d, -1, 0, err.buf);
			continue;
		}
		if (worker_up(n, &err) < 0) {
			free(line);
			record(n, c, d, 0, 0, err.buf);
			continue;
		}
		if (worker_write(n, line, strlen(line)) < 0 || worker_write(n, "\n", 1) < 0) {
			free(line);
			worker_fail(n, c, "the delivery worker is gone");
			record(n, c, d, 0, 0, "the delivery worker is gone");
			continue;
		}
		free(line);
		/* the lease: not due again while in flight, nor lost if the server dies */
		store_delivery_lease(n->st, d->id, now + WORKER_REPLY_MS, NULL);
		n->fl[n->fl_nr].d = *d;
		n->fl[n->fl_nr].deadline = now + WORKER_REPLY_MS;
		n->fl_nr++;
		memset(d, 0, sizeof(*d));	/* moved into the flight */
	}
	if (nr == DUE_BATCH)
		waiting = 1;
done:
	store_deliveries_free(a, nr);
	strbuf_release(&err);
	return waiting;
}

/* ---- the thread ---- */

/* 1 when nothing is queued, in flight or pending: the store can be closed. */
static int idle(struct notify *n)
{
	struct store_notify_event *ev = NULL;
	size_t nr = 0;
	int64_t due;
	int busy;

	if (n->fl_nr || n->worker.pid > 0)
		return 0;
	busy = store_notify_events_list(n->st, 1, &ev, &nr, NULL) != 0 || nr;
	store_notify_events_free(ev, nr);
	return !busy && store_delivery_next_due(n->st, &due, NULL) == STORE_NOTFOUND;
}

static void *notify_main(void *arg)
{
	struct notify *n = arg;
	struct strbuf err = STRBUF_INIT;
	sigset_t set;
	size_t i;

	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!atomic_load(&n->stop)) {
		struct ncfg c;
		int64_t now, due = 0, wait = MAX_WAIT_MS;
		struct pollfd p[2];
		int waiting, nfds = 1, rc;

		/*
		 * The store is open only while there is work (and for
		 * STORE_IDLE_MS after): an idle server keeps no connection
		 * (and its cache) for notifications.
		 */
		if (!n->st && store_open(n->srv->store_url, &n->st, &err) < 0) {
			slog_warn("notify: cannot open the store: %s", err.buf);
			strbuf_reset(&err);
			n->st = NULL;
		}
		memset(&c, 0, sizeof(c));
		ncfg_get(n, &c);
		if (n->st) {
			expand_events(n, &c);
			waiting = send_due(n, &c);
			now = server_now_ms();
			if (now - n->pruned > PRUNE_EVERY_MS) {
				if (store_deliveries_prune(n->st, now - KEEP_MS, &err) < 0)
					slog_warn("notify: %s", err.buf);
				strbuf_reset(&err);
				n->pruned = now;
			}
			rc = store_delivery_next_due(n->st, &due, NULL);
			if (rc == 0 && due > now && due - now < wait)
				wait = due - now;
			else if (rc == 0 && due <= now && !waiting)
				wait = 0;	/* more is due than one round sent */
			if (!idle(n)) {
				n->idle_since = 0;
			} else if (!n->idle_since) {
				n->idle_since = now;
				if (wait > STORE_IDLE_MS)
					wait = STORE_IDLE_MS;
			} else if (now - n->idle_since >= STORE_IDLE_MS) {
				store_close(n->st);
				n->st = NULL;
				n->idle_since = 0;
				wait = -1;
			} else if (wait > STORE_IDLE_MS - (now - n->idle_since)) {
				wait = STORE_IDLE_MS - (now - n->idle_since);
			}
		}
		now = server_now_ms();
		for (i = 0; i < n->fl_nr; i++)
			if (wait < 0 || n->fl[i].deadline - now < wait)
				wait = n->fl[i].deadline > now ? n->fl[i].deadline - now : 0;
		if (n->worker.pid > 0 && !n->fl_nr) {
			int64_t left = n->worker_used + WORKER_IDLE_MS - now;

			if (left <= 0)
				worker_end(n, 0);
			else if (wait < 0 || left < wait)
				wait = left;
		}
		p[0].fd = n->wake_fd;
		p[0].events = POLLIN;
		p[0].revents = 0;
		if (n->worker.pid > 0) {
			p[1].fd = n->worker.out;
			p[1].events = POLLIN;
			p[1].revents = 0;
			nfds = 2;
		}
		if (poll(p, (nfds_t)nfds, (int)wait) > 0) {
			uint64_t v;

			if (p[0].revents && read(n->wake_fd, &v, sizeof(v)) < 0) {
				/* non-blocking: already drained */
			}
		}
		if (!atomic_load(&n->stop) && n->st && n->worker.pid > 0)
			read_replies(n, &c);
		now = server_now_ms();
		for (i = 0; i < n->fl_nr && n->st; i++)
			if (n->fl[i].deadline <= now) {
				worker_fail(n, &c, "the delivery worker did not answer in time");
				break;
			}
		ncfg_release(&c);
	}
	/*
	 * Stopping: what is in flight is sent again at the next start, in
	 * its place in its receiver's queue (its due time before the lease).
	 */
	worker_end(n, 1);
	for (i = 0; n->st && i < n->fl_nr; i++)
		store_delivery_lease(n->st, n->fl[i].d.id, n->fl[i].d.next_at, NULL);
	while (n->fl_nr)
		flight_drop(n, 0);
	store_close(n->st);
	n->st = NULL;
	strbuf_release(&err);
	return NULL;
}

int notify_start(struct server *srv, struct strbuf *err)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	int rc;

	n->srv = srv;
	n->worker.pid = 0;
	n->worker.in = n->worker.out = -1;
	strbuf_init(&n->rbuf, 0);
	if (gethostname(n->host, sizeof(n->host) - 1) < 0 || !n->host[0])
		snprintf(n->host, sizeof(n->host), "localhost");
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0) {
		strbuf_addf(err, "eventfd: %s", strerror(errno));
		free(n);
		return -1;
	}
	rc = pthread_create(&n->thread, NULL, notify_main, n);
	if (rc) {
		strbuf_addf(err, "cannot start the notify thread: %s", strerror(rc));
		close(n->wake_fd);
		free(n);
		return -1;
	}
	__atomic_store_n(&srv->notify, n, __ATOMIC_RELEASE);
	return 0;
}

void notify_stop(struct server *srv)
{
	struct notify *n = __atomic_load_n(&srv->notify, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (!n)
		return;
	atomic_store(&n->stop, 1);
	if (write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* the thread polls the eventfd; a full counter still wakes it */
	}
	pthread_join(n->thread, NULL);
	__atomic_store_n(&srv->notify, NULL, __ATOMIC_RELEASE);
	close(n->wake_fd);
	strbuf_release(&n->rbuf);
	free(n);
}
