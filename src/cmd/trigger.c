/*
 * cidre trigger: start a pipeline of a project on the server, and
 * optionally wait for it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "client/sse.h"
#include "cmd/cmd.h"
#include "util/xalloc.h"

const char cmd_trigger_usage[] =
	"usage: cidre trigger PROJECT [REF] [-v KEY=VALUE]... [--wait]\n"
	"\n"
	"Start a pipeline of PROJECT at the tip of REF, a branch or a tag\n"
	"(default: the project's default branch), and print its id and URL. Its\n"
	"CI_PIPELINE_SOURCE is \"api\".\n"
	"\n"
	"options:\n"
	"  -v, --variable K=V set a pipeline variable (repeatable)\n"
	"      --input N=V    an input of the pipeline file's spec:inputs\n"
	"                     (repeatable; V is YAML: 3, true, [a, b], text)\n"
	"      --sha SHA      run this commit of REF instead of its tip\n"
	"  -w, --wait         follow the pipeline until it finishes: print each\n"
	"                     job's status changes, then the jobs table\n"
	"  -q, --quiet        print only the pipeline id\n"
	"      --json         print the server's JSON of the new pipeline (with\n"
	"                     --wait: of the finished pipeline)\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 the pipeline was created (with --wait: and succeeded),\n"
	"1 it could not be created, or (with --wait) it failed or was canceled,\n"
	"or waits for a manual job, 2 usage error or the server cannot be reached.\n";

struct trigger_opts {
	struct client_opts conn;
	const char *project;
	const char *ref;
	const char *sha;
	json_t *vars;
	json_t *inputs;
	int wait;
	int quiet;
	int json;
};

static int parse_opts(int argc, char **argv, struct trigger_opts *o)
{
	enum { OPT_SHA = 256, OPT_JSON, OPT_INPUT };
	static const struct option longopts[] = {
		{ "variable", required_argument, NULL, 'v' },
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "sha", required_argument, NULL, OPT_SHA },
		{ "wait", no_argument, NULL, 'w' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v:wq", longopts, NULL)) != -1) {
		if (cli_conn_opt(c, optarg, &o->conn))
			continue;
		switch (c) {
		case 'v': {
			const char *eq = strchr(optarg, '=');
			char *k;

			if (!eq || eq == optarg)
				return cli_usage_error("trigger", "--variable wants KEY=VALUE, "
						       "got '%s'", optarg);
			k = xstrndup(optarg, (size_t)(eq - optarg));
			json_object_set_new(o->vars, k, json_string(eq + 1));
			free(k);
			break;
		}
		case OPT_INPUT: {
			const char *eq = strchr(optarg, '=');
			char *k;

			if (!eq || eq == optarg)
				return cli_usage_error("trigger", "--input wants NAME=VALUE, "
						       "got '%s'", optarg);
			k = xstrndup(optarg, (size_t)(eq - optarg));
			json_object_set_new(o->inputs, k, json_string(eq + 1));
			free(k);
			break;
		}
		case OPT_SHA:
			o->sha = optarg;
			break;
		case 'w':
			o->wait = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		default:
			return cli_bad_option("trigger", argv[optind - 1], longopts);
		}
	}
	if (optind == argc)
		return cli_usage_error("trigger", "wants a project name");
	o->project = argv[optind++];
	if (optind < argc)
		o->ref = argv[optind++];
	if (optind < argc)
		return cli_usage_error("trigger", "unexpected argument '%s'", argv[optind]);
	return 0;
}

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

/*
 * Wait until the pipeline is final (or waits for a manual job): its
 * status events as they happen; if they cannot be followed, ask for it
 * soon, then less and less often (up to every second). Returns 0 and
 * *ret (the pipeline at its end, read once more; when !full and the
 * events said how it ended, only {"id", "status"}), or a CLIENT_E* code.
 */
static int wait_pipeline(struct client *c, int64_t id, int full, json_t **ret,
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

int cmd_trigger(int argc, char **argv)
{
	struct trigger_opts o;
	struct client c = CLIENT_INIT;
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *body = NULL, *p = NULL, *done = NULL;
	const char *st;
	int64_t id;
	int rc;

	memset(&o, 0, sizeof(o));
	o.vars = json_object();
	o.inputs = json_object();
	rc = parse_opts(argc, argv, &o);
	if (rc)
		goto out;
	rc = cli_open(&c, &o.conn);
	if (rc)
		goto out;
	body = json_object();
	if (o.ref)
		json_object_set_new(body, "ref", json_string(o.ref));
	if (o.sha)
		json_object_set_new(body, "sha", json_string(o.sha));
	if (json_object_size(o.vars))
		json_object_set(body, "variables", o.vars);
	if (json_object_size(o.inputs))
		json_object_set(body, "inputs", o.inputs);
	strbuf_addstr(&path, "/api/v1/projects/");
	client_escape(&path, o.project, 0);
	strbuf_addstr(&path, "/pipelines");
	rc = client_request(&c, "POST", path.buf, body, &p, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto out;
	}
	id = cli_int(p, "id", 0);
	if (id <= 0) {
		fprintf(stderr, "cidre: the server's answer names no pipeline id\n");
		rc = CLI_FAILED;
		goto out;
	}
	if (o.json && !o.wait)
		cli_print_json(p);
	else if (o.quiet)
		printf("%" PRId64 "\n", id);
	else if (!o.json)
		printf("pipeline %" PRId64 " (%s %s %.8s): %s/api/v1/pipelines/%" PRId64 "\n",
		       id, cli_str(p, "project", o.project), cli_str(p, "ref", "?"),
		       cli_str(p, "sha", ""), c.server, id);
	fflush(stdout);
	if (cli_str(p, "error", NULL)) {
		fprintf(stderr, "cidre: pipeline %" PRId64 " could not be created: %s\n",
			id, cli_str(p, "error", ""));
		rc = CLI_FAILED;
		goto out;
	}
	if (!o.wait)
		goto out;
	/* -q prints nothing more: the final status from the events will do */
	rc = wait_pipeline(&c, id, o.json || !o.quiet, &done, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto out;
	}
	if (o.json)
		cli_print_json(done);
	else if (!o.quiet)
		cli_print_pipeline(done, stdout, time(NULL));
	st = cli_str(done, "status", "");
	if (!strcmp(st, "manual"))
		fprintf(stderr, "cidre: pipeline %" PRId64 " waits for a manual job "
			"(cidre play JOB_ID)\n", id);
	rc = !strcmp(st, "success") || !strcmp(st, "skipped") ? CLI_OK : CLI_FAILED;
out:
	json_decref(o.vars);
	json_decref(o.inputs);
	json_decref(body);
	json_decref(p);
	json_decref(done);
	strbuf_release(&path);
	strbuf_release(&err);
	client_close(&c);
	return rc;
}
