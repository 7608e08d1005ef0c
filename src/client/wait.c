/*
 * Following a pipeline until it ends (cidre trigger --wait, cidre status
 * --wait): its status events, else polling (wait.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/cli.h"
#include "client/sse.h"
#include "client/wait.h"

/* Print job's status if it changed since seen (job id -> status). */
static void print_change(const json_t *job, json_t *seen)
{
	char key[32];
	const char *st = cli_str(job, "status", "?");
	const char *old;

	snprintf(key, sizeof(key), "%" PRId64, cli_int(job, "id", 0));
	old = cli_str(seen, key, NULL);
	if (old && !strcmp(old, st))
		return;
	fprintf(stderr, "job %s %s: %s\n", key, cli_str(job, "name", "?"), st);
	json_object_set_new(seen, key, json_string(st));
}

/* Print the jobs whose status changed since seen. */
static void print_changes(const json_t *p, json_t *seen)
{
	const json_t *jobs = json_object_get(p, "jobs"), *job;
	size_t i;

	json_array_foreach(jobs, i, job)
		print_change(job, seen);
}

/*
 * Following the pipeline's status events (GET /api/v1/events?pipeline=ID,
 * which starts with the pipeline's and its jobs' current state).
 */
struct watch {
	struct sse_parser sse;
	int64_t id;
	json_t *seen;
	int stop;               /* W_* */
	char status[16];        /* the pipeline's status at W_DONE */
	struct strbuf *err;
};
#define W_DONE   1          /* the pipeline is final or waits for a manual job */
#define W_RESYNC 2          /* the server moved past us: read the pipeline */
#define W_BAD    3

static int watch_event(void *ctx, const struct sse_event *ev)
{
	struct watch *w = ctx;
	json_t *o;
	int rc = 0;

	if (!strcmp(ev->event, "resync"))
		return w->stop = W_RESYNC;
	if (strcmp(ev->event, "job") && strcmp(ev->event, "pipeline"))
		return 0;	/* events of later API versions */
	o = json_loadb(ev->data, ev->data_len, 0, NULL);
	if (!json_is_object(o)) {
		strbuf_addf(w->err, "a status event the client does not understand: %.200s",
			    ev->data);
		json_decref(o);
		return w->stop = W_BAD;
	}
	if (!strcmp(ev->event, "job")) {
		if (!json_object_get(o, "name"))
			json_object_set_new(o, "name", json_string("?"));
		print_change(o, w->seen);
	} else if (cli_int(o, "id", 0) == w->id) {
		const char *st = cli_str(o, "status", "");

		if (cli_status_final(st) || !strcmp(st, "manual")) {
			snprintf(w->status, sizeof(w->status), "%s", st);
			rc = w->stop = W_DONE;
		}
	}
	json_decref(o);
	return rc;
}

static int watch_sink(void *ctx, const char *buf, size_t len)
{
	struct watch *w = ctx;
	int rc = sse_parser_feed(&w->sse, buf, len, watch_event, w);

	if (rc == SSE_TOO_BIG) {
		strbuf_addstr(w->err, "a status event too large");
		w->stop = W_BAD;
	}
	return rc;
}

/*
 * Follow the pipeline's events until it is final. Returns 0 when it is
 * (or waits for a manual job), 1 when the events cannot be followed
 * (an older server, a stream that keeps dropping: poll instead), or a
 * CLIENT_E* code.
 */
static int follow_pipeline(struct client *c, int64_t id, json_t *seen, char *status,
			   size_t status_size, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, why = STRBUF_INIT;
	struct watch w;
	int rc = 1, tries, got;

	strbuf_addf(&path, "/api/v1/events?pipeline=%" PRId64, id);
	for (tries = 0; tries < 4; tries++) {
		memset(&w, 0, sizeof(w));
		w.id = id;
		w.seen = seen;
		w.err = &why;
		strbuf_reset(&why);
		sse_parser_init(&w.sse, 0);
		got = client_get_stream(c, path.buf, 0, watch_sink, &w, &why);
		sse_parser_release(&w.sse);
		if (w.stop == W_DONE) {
			snprintf(status, status_size, "%s", w.status);
			rc = 0;
			break;
		}
		if (w.stop == W_BAD) {
			strbuf_add(err, why.buf, why.len);
			rc = CLIENT_EPROTO;
			break;
		}
		if (got == CLIENT_EREFUSED)
			break;	/* no events here (an older server): poll */
		/* a resync or a dropped stream: the next one starts with the state */
	}
	strbuf_release(&path);
	strbuf_release(&why);
	return rc;
}

int cli_wait_outcome(const json_t *done)
{
	const char *st = cli_str(done, "status", "");

	if (!strcmp(st, "manual"))
		fprintf(stderr, "cidre: pipeline %" PRId64 " waits for a manual job "
			"(cidre play JOB_ID)\n", cli_int(done, "id", 0));
	return !strcmp(st, "success") || !strcmp(st, "skipped") ? CLI_OK : CLI_FAILED;
}

int cli_wait_pipeline(struct client *c, int64_t id, int full, json_t **ret,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	json_t *seen = json_object(), *p = NULL;
	long wait_ms = 10;	/* short jobs end in milliseconds: look soon, then less often */
	int rc, failures = 0, followed;
	char status[16] = "";

	followed = follow_pipeline(c, id, seen, status, sizeof(status), err);
	if (followed < 0) {
		json_decref(seen);
		return followed;
	}
	if (!followed && !full && *status) {
		json_decref(seen);
		*ret = json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", status);
		return 0;
	}
	strbuf_addf(&path, "/api/v1/pipelines/%" PRId64, id);
	for (;;) {
		const char *st;

		json_decref(p);
		p = NULL;
		strbuf_reset(err);
		rc = client_request(c, "GET", path.buf, NULL, &p, err);
		if (rc == CLIENT_EUNREACHABLE && ++failures <= 8) {
			cli_pause_ms(1000);
			continue;
		}
		if (rc)
			break;
		failures = 0;
		print_changes(p, seen);
		st = cli_str(p, "status", "");
		if (cli_status_final(st) || !strcmp(st, "manual"))
			break;
		cli_pause_ms(wait_ms);
		if (wait_ms < 1000)
			wait_ms = wait_ms * 3 / 2 + 1;
	}
	json_decref(seen);
	strbuf_release(&path);
	if (rc)
		json_decref(p);
	else
		*ret = p;
	return rc;
}

