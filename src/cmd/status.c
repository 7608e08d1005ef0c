/*
 * cidre status: recent pipelines of a server, or one pipeline with its jobs.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "client/wait.h"
#include "cmd/cmd.h"

const char cmd_status_usage[] =
	"usage: cidre status [PROJECT] [--ref REF] [--status S] [--sha SHA] [-n N] [--json]\n"
	"       cidre status -p PIPELINE_ID [--wait] [--json]\n"
	"       cidre status PIPELINE_ID [--wait] [--json]\n"
	"       cidre status [PROJECT] [--ref REF] [--sha SHA] [--source S] --wait\n"
	"\n"
	"Show the server's recent pipelines, newest first: id, project, ref,\n"
	"short commit, source, status, duration and age. With a pipeline id,\n"
	"show that pipeline and its jobs: name, stage, status, duration, peak\n"
	"memory, exit code, tests.\n"
	"\n"
	"options:\n"
	"  -p, --pipeline ID  show one pipeline (a numeric PROJECT means the same)\n"
	"      --ref REF      only pipelines of this branch or tag\n"
	"      --status S     only pipelines with this status (running, failed, ...)\n"
	"      --source S     only pipelines from push, webhook, poll or api\n"
	"      --sha SHA      only pipelines of this commit (at least 4 hex digits)\n"
	"  -n N               show N pipelines (default 20, at most 1000)\n"
	"  -w, --wait         follow the pipeline (with filters: the newest that\n"
	"                     matches them) until it finishes: print each job's\n"
	"                     status changes, then the pipeline and its jobs\n"
	"      --json         print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"The config file is $CIDRE_CONFIG, else $XDG_CONFIG_HOME/cidre/client.conf,\n"
	"else ~/.config/cidre/client.conf:\n"
	"  server = http://127.0.0.1:8080\n"
	"  token_file = /var/lib/cidre/admin-token   # or: token = TOKEN\n"
	"\n"
	"exit status: 0 shown (with --wait: the pipeline succeeded), 1 the server\n"
	"refused (e.g. no such pipeline; with --wait: none matches, or it failed,\n"
	"was canceled or waits for a manual job), 2 usage error or the server\n"
	"cannot be reached.\n";

struct status_opts {
	struct client_opts conn;
	const char *project;
	const char *ref;
	const char *status;
	const char *source;
	const char *sha;
	int64_t pipeline;
	long n;
	int json;
	int wait;
};

static int parse_opts(int argc, char **argv, struct status_opts *o)
{
	enum { OPT_REF = 256, OPT_STATUS, OPT_SOURCE, OPT_SHA, OPT_JSON };
	static const struct option longopts[] = {
		{ "pipeline", required_argument, NULL, 'p' },
		{ "ref", required_argument, NULL, OPT_REF },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "sha", required_argument, NULL, OPT_SHA },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "wait", no_argument, NULL, 'w' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:n:w", longopts, NULL)) != -1) {
		if (cli_conn_opt(c, optarg, &o->conn))
			continue;
		switch (c) {
		case 'p':
			if (cli_parse_id(optarg, &o->pipeline) < 0)
				return cli_usage_error("status", "'%s' is not a pipeline id",
						       optarg);
			break;
		case 'n':
			o->n = strtol(optarg, &end, 10);
			if (*end || o->n < 1 || o->n > 1000)
				return cli_usage_error("status", "-n wants a number from 1 to 1000");
			break;
		case OPT_REF:
			o->ref = optarg;
			break;
		case OPT_STATUS:
			o->status = optarg;
			break;
		case OPT_SOURCE:
			o->source = optarg;
			break;
		case OPT_SHA:
			o->sha = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case 'w':
			o->wait = 1;
			break;
		default:
			return cli_bad_option("status", argv[optind - 1], longopts);
		}
	}
	if (optind < argc) {
		const char *arg = argv[optind++];

		if (!o->pipeline && cli_parse_id(arg, &o->pipeline) == 0)
			;
		else
			o->project = arg;
	}
	if (optind < argc)
		return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
	if (o->pipeline && (o->project || o->ref || o->status || o->source || o->sha))
		return cli_usage_error("status", "a pipeline id takes no filter");
	if (o->wait && o->status)
		return cli_usage_error("status", "--wait follows a pipeline to its end: "
				       "--status does not go with it");
	return 0;
}

/*
 * --wait: follow the pipeline to its end, then show it as show_pipeline
 * does. CLI_OK when it succeeded (or was skipped), else CLI_FAILED.
 */
static int wait_pipeline(struct client *c, const struct status_opts *o)
{
	struct strbuf err = STRBUF_INIT;
	json_t *done = NULL;
	int rc;

	rc = cli_wait_pipeline(c, o->pipeline, 1, &done, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		strbuf_release(&err);
		return rc;
	}
	if (o->json)
		cli_print_json(done);
	else
		cli_print_pipeline(done, stdout, time(NULL));
	rc = cli_wait_outcome(done);
	json_decref(done);
	strbuf_release(&err);
	return rc;
}

static int show_pipeline(struct client *c, const struct status_opts *o)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *p = NULL;
	int rc;

	strbuf_addf(&path, "/api/v1/pipelines/%" PRId64, o->pipeline);
	rc = client_request(c, "GET", path.buf, NULL, &p, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else if (o->json)
		cli_print_json(p);
	else
		cli_print_pipeline(p, stdout, time(NULL));
	json_decref(p);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static void add_query(struct strbuf *q, const char *key, const char *value)
{
	if (!value)
		return;
	strbuf_addf(q, "&%s=", key);
	client_escape(q, value, 0);
}

/* Up to o->n pipelines into all, in pages of at most 100 (keyset paging). */
static int fetch_list(struct client *c, const struct status_opts *o, json_t *all,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	int64_t before = 0;
	int rc = 0;

	while ((long)json_array_size(all) < o->n) {
		long want = o->n - (long)json_array_size(all);
		json_t *page = NULL, *p;
		size_t i;

		if (want > 100)
			want = 100;
		strbuf_reset(&path);
		strbuf_addf(&path, "/api/v1/pipelines?per_page=%ld", want);
		add_query(&path, "project", o->project);
		add_query(&path, "ref", o->ref);
		add_query(&path, "status", o->status);
		add_query(&path, "source", o->source);
		add_query(&path, "sha", o->sha);
		if (before)
			strbuf_addf(&path, "&before=%" PRId64, before);
		rc = client_get_array(c, path.buf, "pipeline", &page, err);
		if (rc)
			break;
		json_array_foreach(page, i, p) {
			if ((long)json_array_size(all) >= o->n)
				break;
			json_array_append(all, p);
			before = cli_int(p, "id", 0);
		}
		i = json_array_size(page);
		json_decref(page);
		if ((long)i < want || before <= 1)
			break;
	}
	strbuf_release(&path);
	return rc;
}

static void print_list(const json_t *all)
{
	struct strbuf sb = STRBUF_INIT;
	struct cli_table t;
	time_t now = time(NULL);
	const json_t *p;
	size_t i;

	cli_table_init(&t, "rlllllrr");
	cli_table_add(&t, "ID");
	cli_table_add(&t, "PROJECT");
	cli_table_add(&t, "REF");
	cli_table_add(&t, "SHA");
	cli_table_add(&t, "SOURCE");
	cli_table_add(&t, "STATUS");
	cli_table_add(&t, "DURATION");
	cli_table_add(&t, "AGE");
	json_array_foreach(all, i, p) {
		double d;

		cli_table_addf(&t, "%" PRId64, cli_int(p, "id", 0));
		cli_table_add(&t, cli_str(p, "project", "?"));
		/* a tag's pipeline: "v1.2 (tag)" */
		cli_table_addf(&t, "%s%s", cli_str(p, "ref", "?"),
			       json_is_true(json_object_get(p, "tag")) ? " (tag)" : "");
		cli_table_addf(&t, "%.8s", cli_str(p, "sha", ""));
		cli_table_add(&t, cli_str(p, "source", ""));
		strbuf_addstr(&sb, cli_str(p, "status", "?"));
		if (cli_str(p, "error", NULL))
			strbuf_addstr(&sb, " (error)");
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
		if (cli_num(p, "duration", &d) < 0)
			d = -1;
		cli_fmt_duration(&sb, d);
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
		cli_fmt_age(&sb, cli_str(p, "created_at", NULL), now);
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	strbuf_release(&sb);
}

int cmd_status(int argc, char **argv)
{
	struct status_opts o;
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT;
	json_t *all;
	int rc;

	memset(&o, 0, sizeof(o));
	o.n = 20;
	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc;
	rc = cli_open(&c, &o.conn);
	if (rc)
		return rc;
	if (o.pipeline) {
		rc = o.wait ? wait_pipeline(&c, &o) : show_pipeline(&c, &o);
		client_close(&c);
		return rc;
	}
	all = json_array();
	if (o.wait)
		o.n = 1;	/* the newest that matches */
	rc = fetch_list(&c, &o, all, &err);
	if (!rc && o.wait) {
		if (json_array_size(all)) {
			o.pipeline = cli_int(json_array_get(all, 0), "id", 0);
			fprintf(stderr, "pipeline %" PRId64 "\n", o.pipeline);
			rc = wait_pipeline(&c, &o);
		} else {
			fprintf(stderr, "cidre: no pipeline matches\n");
			rc = CLI_FAILED;
		}
		json_decref(all);
		strbuf_release(&err);
		client_close(&c);
		return rc;
	}
	if (rc)
		rc = cli_report(rc, &err);
	else if (o.json)
		cli_print_json(all);
	else if (!json_array_size(all))
		printf("no pipelines%s\n", o.project || o.ref || o.status || o.source ?
		       " match" : " yet");
	else
		print_list(all);
	json_decref(all);
	strbuf_release(&err);
	client_close(&c);
	return rc;
}
