/*
 * cidre release: the releases a project's jobs recorded (the release:
 * keyword), as a table or one of them in full.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_release_usage[] =
	"usage: cidre release list PROJECT [-n N] [--json]\n"
	"       cidre release show PROJECT TAG [--json]\n"
	"\n"
	"list: the project's releases, the latest released first: tag, name,\n"
	"      when, commit, the pipeline and job that recorded it.\n"
	"show: one release: its fields, links and description.\n"
	"A job records a release with the release: keyword once its script\n"
	"passed; a later job of the same tag updates it.\n"
	"\n"
	"options:\n"
	"  -n N       (list) at most N releases, 1 to 100 (default 20)\n"
	"      --json print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (no such project or\n"
	"release), 2 usage error or the server cannot be reached.\n";

static int do_list(struct client *c, const char *project, int n, int json)
{
	struct strbuf path = STRBUF_INIT, empty = STRBUF_INIT;
	struct cli_table t;
	json_t *res = NULL, *e;
	size_t i;
	int rc;

	cli_project_path(&path, project, "releases", NULL, 0);
	strbuf_addf(&path, "?per_page=%d", n);
	strbuf_addf(&empty, "no releases in %s (a job's release: keyword records one)\n",
		    project);
	if (cli_list(c, path.buf, "release", json, empty.buf, &res, &rc)) {
		cli_table_head(&t, "lllrr", "TAG", "NAME", "RELEASED", "COMMIT", "PIPELINE",
			       NULL);
		json_array_foreach(res, i, e) {
			cli_table_add(&t, cli_str(e, "tag_name", "?"));
			cli_table_add(&t, cli_str(e, "name", ""));
			cli_table_add(&t, cli_str(e, "released_at", ""));
			cli_table_addf(&t, "%.8s", cli_str(json_object_get(e, "commit"), "id", ""));
			cli_table_addf(&t, "%" PRId64, cli_int(e, "pipeline_id", 0));
		}
		cli_table_print(&t, stdout);
		cli_table_release(&t);
	}
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&empty);
	return rc;
}

static int do_show(struct client *c, const char *project, const char *tag, int json)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *res = NULL, *links, *l, *ms, *m;
	size_t i;
	int rc;

	cli_project_path(&path, project, "releases", tag, 1);
	rc = cli_report(client_request(c, "GET", path.buf, NULL, &res, &err), &err);
	if (!rc && json) {
		cli_print_json(res);
	} else if (!rc) {
		printf("release %s: %s\n", cli_str(res, "tag_name", "?"), cli_str(res, "name", ""));
		printf("released   %s\n", cli_str(res, "released_at", ""));
		printf("commit     %s\n", cli_str(json_object_get(res, "commit"), "id", ""));
		printf("pipeline   %" PRId64 ", job %" PRId64 "\n", cli_int(res, "pipeline_id", 0),
		       cli_int(res, "job_id", 0));
		ms = json_object_get(res, "milestones");
		json_array_foreach(ms, i, m)
			printf("milestone  %s\n", json_string_value(m) ? json_string_value(m) : "");
		links = json_object_get(json_object_get(res, "assets"), "links");
		json_array_foreach(links, i, l)
			printf("link       %s (%s): %s\n", cli_str(l, "name", ""),
			       cli_str(l, "link_type", "other"), cli_str(l, "url", ""));
		if (*cli_str(res, "description", ""))
			printf("\n%s\n", cli_str(res, "description", ""));
	}
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_release(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts conn = { NULL, NULL };
	struct client c = CLIENT_INIT;
	const char *sub;
	int ch, rc, json = 0, n = 20;
	char *end;

	if (argc < 2)
		return cli_usage_error("release", "wants 'list' or 'show'");
	sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "show"))
		return cli_usage_error("release", "unknown subcommand '%s' (list, show)", sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &conn))
			continue;
		switch (ch) {
		case 'n':
			n = (int)strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 100)
				return cli_usage_error("release", "-n wants 1 to 100");
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("release", argv[optind - 1], longopts);
		}
	}
	if (argc - optind != (!strcmp(sub, "list") ? 1 : 2))
		return cli_usage_error("release", !strcmp(sub, "list") ?
				       "list wants a project" : "show wants a project and a tag");
	rc = cli_open(&c, &conn);
	if (rc)
		return rc;
	rc = !strcmp(sub, "list") ? do_list(&c, argv[optind], n, json) :
	     do_show(&c, argv[optind], argv[optind + 1], json);
	client_close(&c);
	return rc;
}
