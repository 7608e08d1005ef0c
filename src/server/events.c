/*
 * Status events: every pipeline and job status change the server records
 * is published here once (events_pipeline / events_job) and fanned out to
 * the SSE streams of GET /api/v1/events.
 *
 * The hub keeps the last `backlog` events in a ring, each already
 * formatted as SSE text with a sequence number as its id. The texts
 * live in one byte buffer of EVENTS_AVG_BYTES per event (util/textring:
 * an event whose bytes are written over is gone, as if the ring had
 * moved past it): no allocation per event, so the texts kept for long
 * are not scattered among the short-lived allocations of the threads
 * that publish them (a ring of 256 separately allocated texts kept
 * ~0.3 MB of malloc pages resident after 1,000 jobs). A stream keeps
 * only a cursor (the last sequence it sent), the bytes of its current
 * batch and a small socket buffer (EVENTS_SNDBUF): a slow reader costs
 * little memory; when the ring has moved past its cursor it gets a
 * "resync" event and re-reads the JSON API. A client reconnecting with
 * Last-Event-ID resumes from the ring, or resyncs.
 *
 * Sequence numbers start at the server's start time in microseconds, so
 * an id from an earlier run of the server is older than the ring (resync)
 * and ids stay below 2^53 (exact in JavaScript).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/server.h"
#include "util/jsonx.h"
#include "util/textring.h"
#include "util/xalloc.h"

#define EVENTS_MAX_DATA    4096      /* bytes of one event's JSON */
#define EVENTS_BATCH       (16 * 1024) /* bytes a stream formats per read */
#define EVENTS_MAX_STREAMS 256       /* streams in all */
#define EVENTS_MAX_CALLER  16        /* streams of one caller */
#define EVENTS_AVG_BYTES   512       /* of text per event in the byte ring */
#define EVENTS_TEXT_MAX    (EVENTS_MAX_DATA + 128)   /* one event's text */
/*
 * The kernel's buffer of a stream (Linux doubles it): ~100 events. The
 * system's autotuning would let a stalled reader's socket take up to
 * 4 MB, thousands of events the reader then gets late instead of a
 * resync, and 256 such streams a gigabyte of kernel memory.
 */
#define EVENTS_SNDBUF      (32 * 1024)

struct event {
	uint64_t seq;           /* 0: empty slot */
	int64_t project_id, pipeline_id;
};

struct sub {
	struct events *ev;
	char caller[64];
	int all;                /* every project */
	int64_t *projects;      /* else these, sorted */
	size_t projects_nr;
	int64_t pipeline_id;    /* 0: any pipeline of those projects */
	uint64_t cursor;        /* last sequence sent (or skipped) */
	struct strbuf out;
	size_t out_off;
	struct http_stream *stream;
	int registered;
	uint64_t access;        /* e->access when it was authorised */
	atomic_int refs;
};

struct events {
	pthread_mutex_t lock;
	struct event *ring;
	size_t size;
	struct textring texts;  /* "event: ...\nid: ...\ndata: ...\n\n", numbered by sequence */
	uint64_t first, next;   /* sequences: first ever, next to assign */
	uint64_t access;        /* bumped by events_access_changed() */
	struct sub **v;
	size_t nr, alloc;
};

int events_start(struct server *srv, size_t backlog)
{
	struct events *e = xcalloc(1, sizeof(*e));

	pthread_mutex_init(&e->lock, NULL);
	e->size = backlog < 8 ? 8 : backlog;
	e->ring = xcalloc(e->size, sizeof(*e->ring));
	e->first = e->next = (uint64_t)server_now_ms() * 1000;
	textring_init(&e->texts, e->size, e->size * EVENTS_AVG_BYTES < 4 * EVENTS_TEXT_MAX ?
		      4 * EVENTS_TEXT_MAX : e->size * EVENTS_AVG_BYTES, e->first);
	srv->events = e;
	return 0;
}

/* After the HTTP server stopped (no stream is left). */
void events_stop(struct server *srv)
{
	struct events *e = srv->events;

	if (!e)
		return;
	textring_release(&e->texts);
	free(e->ring);
	free(e->v);
	pthread_mutex_destroy(&e->lock);
	free(e);
	srv->events = NULL;
}

/* Under e->lock: every stream reads again. */
static void wake_all(struct events *e)
{
	size_t i;

	for (i = 0; i < e->nr; i++)
		if (e->v[i]->stream)
			http_stream_wake(e->v[i]->stream);
}

/*
 * The compact JSON of o (taken); over EVENTS_MAX_DATA only its identity
 * and status (the client re-reads the rest).
 */
static char *json_dumps_of(json_t *o)
{
	char *d = o ? json_dumps(o, JSONX_OUT) : NULL;

	if (d && strlen(d) > EVENTS_MAX_DATA) {
		json_t *small = json_pack("{s:O, s:O}", "id", json_object_get(o, "id"),
					  "status", json_object_get(o, "status"));

		free(d);
		d = small ? json_dumps(small, JSONX_OUT) : NULL;
		json_decref(small);
	}
	json_decref(o);
	return d;
}

static void publish(struct server *srv, const char *type, int64_t project_id,
		    int64_t pipeline_id, json_t *data)
{
	struct events *e = srv->events;
	char *d, text[EVENTS_TEXT_MAX];
	struct event *slot;
	size_t len;

	if (!e || !data)
		return;
	d = json_dumps_of(json_incref(data));
	if (!d)
		return;
	pthread_mutex_lock(&e->lock);
	len = (size_t)snprintf(text, sizeof(text), "event: %s\nid: %llu\ndata: %s\n\n",
			       type, (unsigned long long)e->next, d);
	if (len >= sizeof(text)) {
		pthread_mutex_unlock(&e->lock);
		free(d);
		return;
	}
	slot = &e->ring[e->next % e->size];
	slot->seq = e->next;
	slot->project_id = project_id;
	slot->pipeline_id = pipeline_id;
	textring_put(&e->texts, text, len);
	e->next++;
	wake_all(e);
	pthread_mutex_unlock(&e->lock);
	free(d);
}

json_t *events_pipeline_read(struct server *srv, struct store *st, int64_t id,
			     int64_t *project_id)
{
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline p;
	json_t *o = NULL;

	if (!srv->events || !st)
		return NULL;
	memset(&p, 0, sizeof(p));
	if (store_pipeline_get(st, id, &p, &err) == 0) {
		o = api_pipeline_json(&p);
		*project_id = p.project_id;
	}
	store_pipeline_release(&p);
	strbuf_release(&err);
	return o;
}

void events_pipeline_publish(struct server *srv, json_t *o, int64_t project_id, int64_t id)
{
	if (!o)
		return;
	publish(srv, "pipeline", project_id, id, o);
	json_decref(o);
}

void events_pipeline(struct server *srv, struct store *st, int64_t id)
{
	int64_t project_id = 0;
	json_t *o = events_pipeline_read(srv, st, id, &project_id);

	events_pipeline_publish(srv, o, project_id, id);
}

void events_job(struct server *srv, struct store *st, int64_t id)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job j;

	if (!srv->events || !st)
		return;
	memset(&j, 0, sizeof(j));
	if (store_job_get(st, id, &j, &err) == 0) {
		json_t *o = api_job_json(&j);

		publish(srv, "job", j.project_id, j.pipeline_id, o);
		json_decref(o);
	}
	store_job_release(&j);
	strbuf_release(&err);
}

void events_access_changed(struct server *srv)
{
	struct events *e = srv->events;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->access++;
	wake_all(e);
	pthread_mutex_unlock(&e->lock);
	logs_wake_all(srv);
}

uint64_t events_access_now(struct server *srv)
{
	struct events *e = srv->events;
	uint64_t v;

	if (!e)
		return 0;
	pthread_mutex_lock(&e->lock);
	v = e->access;
	pthread_mutex_unlock(&e->lock);
	return v;
}

/* ---- streams ---- */

static int wants(const struct sub *s, const struct event *ev)
{
	size_t lo = 0, hi = s->projects_nr;

	if (s->pipeline_id)
		return ev->pipeline_id == s->pipeline_id;
	if (s->all)
		return 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->projects[mid] == ev->project_id)
			return 1;
		if (s->projects[mid] < ev->project_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static ssize_t drain(struct sub *s, char *buf, size_t max)
{
	size_t n = s->out.len - s->out_off;

	if (n > max)
		n = max;
	memcpy(buf, s->out.buf + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out.len) {
		strbuf_reset(&s->out);
		s->out_off = 0;
	}
	return (ssize_t)n;
}

/* Under e->lock: format what the stream has not seen, up to a batch. */
static void collect(struct sub *s)
{
	struct events *e = s->ev;
	uint64_t oldest = e->texts.first;

	if (s->cursor + 1 < oldest || s->cursor >= e->next) {
		/* fell behind the ring (or an unknown id): start again from now */
		s->cursor = e->next - 1;
		strbuf_addf(&s->out, "event: resync\nid: %llu\ndata: {}\n\n",
			    (unsigned long long)s->cursor);
		return;
	}
	while (s->cursor + 1 < e->next && s->out.len < EVENTS_BATCH) {
		const struct event *ev = &e->ring[(s->cursor + 1) % e->size];
		size_t len;
		const char *text = textring_get(&e->texts, s->cursor + 1, &len);

		s->cursor++;
		if (text && wants(s, ev))
			strbuf_add(&s->out, text, len);
	}
}

static ssize_t sub_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct sub *s = ud;
	int stale;

	(void)pos;
	/*
	 * Access changed since the stream was authorised: end it, also with
	 * a batch formatted under the old access unsent; the client resumes
	 * from its last id under the new.
	 */
	pthread_mutex_lock(&s->ev->lock);
	stale = s->access != s->ev->access;
	pthread_mutex_unlock(&s->ev->lock);
	if (stale)
		return -1;
	if (s->out.len > s->out_off)
		return drain(s, buf, max);
	pthread_mutex_lock(&s->ev->lock);
	collect(s);
	pthread_mutex_unlock(&s->ev->lock);
	if (s->out.len)
		return drain(s, buf, max);
	return 0;
}

static void sub_unref(struct sub *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	http_stream_unref(s->stream);
	strbuf_release(&s->out);
	free(s->projects);
	free(s);
}

static void sub_free(void *ud)
{
	struct sub *s = ud;
	struct events *e = s->ev;
	size_t i;

	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->nr; i++)
		if (e->v[i] == s) {
			e->v[i] = e->v[--e->nr];
			break;
		}
	s->registered = 0;
	pthread_mutex_unlock(&e->lock);
	sub_unref(s);
}

static const struct http_stream_ops sub_ops = {
	.read = sub_read,
	.free = sub_free,
	.heartbeat = ": ping\n\n",
	.sndbuf = EVENTS_SNDBUF,
};

/*
 * A new stream of one pipeline, without Last-Event-ID: its current state
 * first (the pipeline, then each job's latest attempt), as events with
 * the id the stream starts from, so that a client that subscribes after
 * making or seeing a pipeline misses nothing. Events that follow may
 * show states the snapshot already reflects.
 */
static void snapshot(struct server *srv, struct sub *s)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = server_store(srv, &err);
	struct store_pipeline p;
	struct store_job *jobs = NULL;
	size_t nr = 0, i;
	char *d;

	memset(&p, 0, sizeof(p));
	if (!st || store_pipeline_get(st, s->pipeline_id, &p, &err) < 0)
		goto out;
	d = json_dumps_of(api_pipeline_json(&p));
	if (d)
		strbuf_addf(&s->out, "event: pipeline\nid: %llu\ndata: %s\n\n",
			    (unsigned long long)s->cursor, d);
	free(d);
	if (store_job_list(st, s->pipeline_id, 0, &jobs, &nr, &err) < 0)
		goto out;
	for (i = 0; i < nr && s->out.len < EVENTS_BATCH; i++) {
		d = json_dumps_of(api_job_json(&jobs[i]));
		if (d)
			strbuf_addf(&s->out, "event: job\nid: %llu\ndata: %s\n\n",
				    (unsigned long long)s->cursor, d);
		free(d);
	}
	store_jobs_free(jobs, nr);
out:
	store_pipeline_release(&p);
	strbuf_release(&err);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int events_stream(struct server *srv, struct http_request *req, const struct events_filter *f)
{
	struct events *e = srv->events;
	struct sub *s;
	struct http_stream *hs = NULL;
	const char *last = http_request_header(req, "Last-Event-ID");
	size_t i, mine = 0;
	int rc;

	if (!e)
		return http_respond_error(req, 503, "events are not available");
	s = xcalloc(1, sizeof(*s));
	s->ev = e;
	snprintf(s->caller, sizeof(s->caller), "%s", f->caller);
	s->all = f->all;
	s->pipeline_id = f->pipeline_id;
	if (f->projects_nr) {
		s->projects = xcalloc(f->projects_nr, sizeof(*s->projects));
		memcpy(s->projects, f->projects, f->projects_nr * sizeof(*s->projects));
		s->projects_nr = f->projects_nr;
		qsort(s->projects, s->projects_nr, sizeof(*s->projects), cmp_id);
	}
	strbuf_init(&s->out, 0);
	strbuf_addstr(&s->out, "retry: 3000\n\n");
	atomic_store(&s->refs, 2);

	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->nr; i++)
		if (!strcmp(e->v[i]->caller, s->caller))
			mine++;
	if (e->nr >= EVENTS_MAX_STREAMS || mine >= EVENTS_MAX_CALLER) {
		int all = e->nr >= EVENTS_MAX_STREAMS;

		pthread_mutex_unlock(&e->lock);
		free(s->projects);
		strbuf_release(&s->out);
		free(s);
		if (all)
			return http_respond_error(req, 503, "too many event streams (at most %d)",
						  EVENTS_MAX_STREAMS);
		return http_respond_error(req, 429, "too many event streams of this caller "
					  "(at most %d)", EVENTS_MAX_CALLER);
	}
	s->cursor = e->next - 1;
	if (last && *last) {
		char *end;
		unsigned long long v = strtoull(last, &end, 10);

		/* unparsable: a resync at once (the cursor outside the ring) */
		s->cursor = (*end || *last == '-') ? e->next : (uint64_t)v;
	}
	ALLOC_GROW(e->v, e->nr + 1, e->alloc);
	e->v[e->nr++] = s;
	s->registered = 1;
	/* a change between the caller's authorisation and now ends it at once */
	s->access = f->access;
	pthread_mutex_unlock(&e->lock);

	if (s->pipeline_id && !(last && *last))
		snapshot(srv, s);
	rc = http_respond_stream(req, 200, "text/event-stream", &sub_ops, s, &hs);
	pthread_mutex_lock(&e->lock);
	if (s->registered && hs) {
		s->stream = hs;
		hs = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	if (s->stream)
		http_stream_wake(s->stream);
	http_stream_unref(hs);
	sub_unref(s);
	return rc;
}
