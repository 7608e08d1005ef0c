/*
 * cidre schedule: a project's pipeline schedules (docs/schedules.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "cmd/cmd.h"
#include "util/xalloc.h"

#define MAX_VARS 200

const char cmd_schedule_usage[] =
	"usage: cidre schedule add PROJECT --cron EXPR [--tz ZONE] [--ref REF]\n"
	"                          [-v KEY=VALUE]... [--description TEXT] [--inactive]\n"
	"       cidre schedule list PROJECT [--json]\n"
	"       cidre schedule edit PROJECT ID [--cron EXPR] [--tz ZONE] [--ref REF]\n"
	"                          [-v KEY=VALUE]... [--description TEXT]\n"
	"                          [--active | --inactive]\n"
	"       cidre schedule rm PROJECT ID\n"
	"       cidre schedule play PROJECT ID\n"
	"\n"
	"add:  run a pipeline of REF (default: the default branch) whenever the\n"
	"      cron expression EXPR fires in time zone ZONE (default UTC), with\n"
	"      CI_PIPELINE_SOURCE=schedule and the given variables.\n"
	"list: the project's schedules, their next run and last pipeline.\n"
	"edit: change a schedule; its next run is computed again from now.\n"
	"      -v replaces all its variables.\n"
	"rm:   remove a schedule (its pipelines stay).\n"
	"play: run a schedule's pipeline now; its next run does not change.\n"
	"add, edit, rm and play need a developer's token on the project.\n"
	"\n"
	"options:\n"
	"      --cron EXPR        minute hour day-of-month month day-of-week,\n"
	"                         or @hourly, @daily, @weekly, @monthly, @yearly\n"
	"      --tz ZONE          an IANA time zone, e.g. Europe/Paris\n"
	"      --ref REF          the branch to build\n"
	"  -v, --variable K=V     a variable of the pipelines (repeatable)\n"
	"      --description TEXT what it is for\n"
	"      --active, --inactive  whether it runs\n"
	"      --json             print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (a bad cron expression says\n"
	"where), 2 usage error or the server cannot be reached.\n";

static void path_of(struct strbuf *p, const char *project, const char *id, const char *tail)
{
	strbuf_addstr(p, "/api/v1/projects/");
	client_escape(p, project, 0);
	strbuf_addstr(p, "/schedules");
	if (id) {
		strbuf_addch(p, '/');
		client_escape(p, id, 0);
	}
	if (tail)
		strbuf_addstr(p, tail);
}

/* "2026-11-29T02:00:00.000Z" → "2026-11-29 02:00Z" */
static void fmt_time(struct strbuf *out, const char *iso)
{
	if (!iso || strlen(iso) < 16) {
		strbuf_addstr(out, "-");
		return;
	}
	strbuf_add(out, iso, 10);
	strbuf_addch(out, ' ');
	strbuf_add(out, iso + 11, 5);
	strbuf_addch(out, 'Z');
}

static int do_list(struct client *c, const char *project, int json)
{
	struct strbuf path = STRBUF_INIT, empty = STRBUF_INIT;
	struct cli_table t;
	json_t *res = NULL, *e;
	size_t i;
	int rc;

	path_of(&path, project, NULL, NULL);
	strbuf_addf(&empty, "no schedules in %s (cidre schedule add %s --cron EXPR)\n",
		    project, project);
	if (cli_list(c, path.buf, "schedule", json, empty.buf, &res, &rc)) {
		cli_table_head(&t, "rlllllll", "ID", "DESCRIPTION", "CRON", "TZ", "REF",
			       "ACTIVE", "NEXT RUN", "LAST PIPELINE", NULL);
		json_array_foreach(res, i, e) {
			struct strbuf when = STRBUF_INIT;
			const char *d = cli_str(e, "description", "");
			json_t *last = json_object_get(e, "last_pipeline_id");

			cli_table_addf(&t, "%lld", (long long)json_integer_value(
					       json_object_get(e, "id")));
			cli_table_add(&t, *d ? d : "-");
			cli_table_add(&t, cli_str(e, "cron", "?"));
			cli_table_add(&t, cli_str(e, "cron_timezone", "UTC"));
			cli_table_add(&t, cli_str(e, "ref", "(default)"));
			cli_table_add(&t, json_is_true(json_object_get(e, "active")) ? "yes" : "no");
			fmt_time(&when, cli_str(e, "next_run_at", NULL));
			cli_table_add(&t, when.buf);
			if (json_is_integer(last))
				cli_table_addf(&t, "%lld", (long long)json_integer_value(last));
			else
				cli_table_add(&t, "-");
			strbuf_release(&when);
		}
		cli_table_print(&t, stdout);
		cli_table_release(&t);
		json_decref(res);
	}
	strbuf_release(&path);
	strbuf_release(&empty);
	return rc;
}

static int do_change(struct client *c, const char *sub, const char *project, const char *id,
		     json_t *body)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, when = STRBUF_INIT;
	json_t *res = NULL;
	int rc;

	path_of(&path, project, id, !strcmp(sub, "play") ? "/play" : NULL);
	rc = client_request(c, !strcmp(sub, "add") ? "POST" : !strcmp(sub, "edit") ? "PATCH" :
			    !strcmp(sub, "rm") ? "DELETE" : "POST", path.buf, body, &res, &err);
	if (rc) {
		rc = cli_report(rc, &err);
	} else if (!strcmp(sub, "rm")) {
		printf("schedule %s of %s removed\n", id, project);
	} else if (!strcmp(sub, "play")) {
		printf("pipeline %lld started by schedule %s of %s\n",
		       (long long)json_integer_value(json_object_get(res, "id")), id, project);
	} else {
		fmt_time(&when, cli_str(res, "next_run_at", NULL));
		printf("schedule %lld of %s %s: %s (%s)%s, next run %s\n",
		       (long long)json_integer_value(json_object_get(res, "id")), project,
		       !strcmp(sub, "add") ? "added" : "changed", cli_str(res, "cron", "?"),
		       cli_str(res, "cron_timezone", "UTC"),
		       json_is_true(json_object_get(res, "active")) ? "" : ", inactive", when.buf);
	}
	json_decref(res);
	strbuf_release(&when);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_schedule(int argc, char **argv)
{
	enum { OPT_CRON = 256, OPT_TZ, OPT_REF, OPT_DESC, OPT_ACTIVE, OPT_INACTIVE, OPT_JSON };
	static const struct option longopts[] = {
		{ "cron", required_argument, NULL, OPT_CRON },
		{ "tz", required_argument, NULL, OPT_TZ },
		{ "ref", required_argument, NULL, OPT_REF },
		{ "variable", required_argument, NULL, 'v' },
		{ "description", required_argument, NULL, OPT_DESC },
		{ "active", no_argument, NULL, OPT_ACTIVE },
		{ "inactive", no_argument, NULL, OPT_INACTIVE },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts conn;
	struct client c = CLIENT_INIT;
	const char *sub, *project = NULL, *id = NULL;
	json_t *body = json_object(), *vars = NULL;
	int ch, rc, json = 0, active = -1, changes = 0;

	memset(&conn, 0, sizeof(conn));
	if (argc < 2) {
		json_decref(body);
		return cli_usage_error("schedule", "wants add, list, edit, rm or play");
	}
	sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "edit") &&
	    strcmp(sub, "rm") && strcmp(sub, "play")) {
		json_decref(body);
		return cli_usage_error("schedule", "unknown subcommand '%s' (add, list, edit, rm, "
				       "play)", sub);
	}
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "v:", longopts, NULL)) != -1) {
		const char *eq;

		if (cli_conn_opt(ch, optarg, &conn))
			continue;
		switch (ch) {
		case OPT_CRON:
			json_object_set_new(body, "cron", json_string(optarg));
			changes++;
			break;
		case OPT_TZ:
			json_object_set_new(body, "cron_timezone", json_string(optarg));
			changes++;
			break;
		case OPT_REF:
			json_object_set_new(body, "ref", json_string(optarg));
			changes++;
			break;
		case OPT_DESC:
			json_object_set_new(body, "description", json_string(optarg));
			changes++;
			break;
		case 'v':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				json_decref(body);
				json_decref(vars);
				return cli_usage_error("schedule", "-v wants KEY=VALUE, not '%s'",
						       optarg);
			}
			if (!vars)
				vars = json_object();
			if (json_object_size(vars) >= MAX_VARS) {
				json_decref(body);
				json_decref(vars);
				return cli_usage_error("schedule", "at most %d variables", MAX_VARS);
			}
			{
				char *k = xstrndup(optarg, (size_t)(eq - optarg));

				json_object_set_new(vars, k, json_string(eq + 1));
				free(k);
			}
			break;
		case OPT_ACTIVE:
		case OPT_INACTIVE:
			if (active >= 0 && active != (ch == OPT_ACTIVE)) {
				json_decref(body);
				json_decref(vars);
				return cli_usage_error("schedule", "--active or --inactive, not both");
			}
			active = ch == OPT_ACTIVE;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			json_decref(body);
			json_decref(vars);
			return cli_bad_option("schedule", argv[optind - 1], longopts);
		}
	}
	if (vars) {
		json_object_set_new(body, "variables", vars);
		changes++;
	}
	if (active >= 0) {
		json_object_set_new(body, "active", json_boolean(active));
		changes++;
	}
	rc = 0;
	if (optind == argc)
		rc = cli_usage_error("schedule", "%s wants a project", sub);
	else
		project = argv[optind++];
	if (!rc && strcmp(sub, "add") && strcmp(sub, "list")) {
		if (optind == argc)
			rc = cli_usage_error("schedule", "%s wants a schedule id", sub);
		else
			id = argv[optind++];
	}
	if (!rc && optind < argc)
		rc = cli_usage_error("schedule", "unexpected argument '%s'", argv[optind]);
	if (!rc && !strcmp(sub, "add") && !json_object_get(body, "cron"))
		rc = cli_usage_error("schedule", "add wants --cron EXPR");
	if (!rc && !strcmp(sub, "edit") && !changes)
		rc = cli_usage_error("schedule", "edit wants something to change");
	if (!rc && strcmp(sub, "add") && strcmp(sub, "edit") && changes)
		rc = cli_usage_error("schedule", "--cron, --tz, --ref, -v, --description, "
				     "--active and --inactive go with add and edit");
	if (!rc && json && strcmp(sub, "list"))
		rc = cli_usage_error("schedule", "--json goes with list");
	if (!rc) {
		int64_t n;

		if (id && cli_parse_id(id, &n) < 0)
			rc = cli_usage_error("schedule", "'%s' is not a schedule id", id);
	}
	if (!rc)
		rc = cli_open(&c, &conn);
	if (!rc) {
		if (!strcmp(sub, "list"))
			rc = do_list(&c, project, json);
		else
			rc = do_change(&c, sub, project, id,
				       strcmp(sub, "add") && strcmp(sub, "edit") ? NULL : body);
		client_close(&c);
	}
	json_decref(body);
	return rc;
}
