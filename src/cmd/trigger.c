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
#include "client/wait.h"
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

int cmd_trigger(int argc, char **argv)
{
	struct trigger_opts o;
	struct client c = CLIENT_INIT;
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *body = NULL, *p = NULL, *done = NULL;
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
	rc = cli_wait_pipeline(&c, id, o.json || !o.quiet, &done, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto out;
	}
	if (o.json)
		cli_print_json(done);
	else if (!o.quiet)
		cli_print_pipeline(done, stdout, time(NULL));
	rc = cli_wait_outcome(done);
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
