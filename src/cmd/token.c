/*
 * cidre token: the caller's personal API tokens: create (shown once),
 * list, revoke.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_token_usage[] =
	"usage: cidre token create NAME [--json]\n"
	"       cidre token list [--json]\n"
	"       cidre token revoke ID\n"
	"\n"
	"create: a new API token that acts as you; NAME says what it is for.\n"
	"        The token is printed once: the server keeps only its hash.\n"
	"list:   your tokens: id, name, when made and last used, revoked or not.\n"
	"revoke: the token stops working at once.\n"
	"All need a token (or the admin token, whose tokens act as the\n"
	"administrator).\n"
	"\n"
	"options:\n"
	"      --json   print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused, 2 usage error or the server\n"
	"cannot be reached.\n";

static int do_create(struct client *c, const char *name, int json)
{
	struct strbuf err = STRBUF_INIT;
	json_t *body = json_pack("{s:s}", "name", name), *res = NULL;
	int rc = client_request(c, "POST", "/api/v1/tokens", body, &res, &err);

	if (rc) {
		rc = cli_report(rc, &err);
	} else if (json) {
		cli_print_json(res);
	} else {
		printf("%s\n", cli_str(res, "token", "?"));
		fprintf(stderr, "token %" PRId64 " (%s) created: it is shown only this once\n",
			cli_int(res, "id", 0), name);
	}
	json_decref(body);
	json_decref(res);
	strbuf_release(&err);
	return rc;
}

static int do_list(struct client *c, int json)
{
	struct strbuf age = STRBUF_INIT;
	struct cli_table t;
	json_t *res = NULL, *e;
	time_t now = time(NULL);
	size_t i;
	int rc;

	if (!cli_list(c, "/api/v1/tokens", "token", json, NULL, &res, &rc))
		return rc;
	cli_table_head(&t, "rllll", "ID", "NAME", "CREATED", "LAST USED", "STATE", NULL);
	json_array_foreach(res, i, e) {
		cli_table_addf(&t, "%" PRId64, cli_int(e, "id", 0));
		cli_table_add(&t, cli_str(e, "name", "?"));
		strbuf_reset(&age);
		cli_fmt_age(&age, cli_str(e, "created_at", NULL), now);
		cli_table_add(&t, age.buf);
		strbuf_reset(&age);
		cli_fmt_age(&age, cli_str(e, "last_used_at", NULL), now);
		cli_table_add(&t, age.buf);
		cli_table_add(&t, json_is_true(json_object_get(e, "revoked")) ? "revoked" :
				  "active");
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	json_decref(res);
	strbuf_release(&age);
	return rc;
}

static int do_revoke(struct client *c, int64_t id)
{
	struct strbuf err = STRBUF_INIT;
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/api/v1/tokens/%" PRId64, id);
	rc = client_request(c, "DELETE", path, NULL, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else
		printf("token %" PRId64 " revoked\n", id);
	strbuf_release(&err);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts conn;
	struct client c = CLIENT_INIT;
	const char *sub, *arg = NULL;
	int64_t id = 0;
	int ch, rc, json = 0;

	memset(&conn, 0, sizeof(conn));
	if (argc < 2)
		return cli_usage_error("token", "wants create, list or revoke");
	sub = argv[1];
	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
		return cli_usage_error("token", "unknown subcommand '%s' (create, list, revoke)",
				       sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &conn))
			continue;
		if (ch == OPT_JSON)
			json = 1;
		else
			return cli_bad_option("token", argv[optind - 1], longopts);
	}
	if (strcmp(sub, "list")) {
		if (optind == argc)
			return cli_usage_error("token", "%s wants %s", sub,
					       strcmp(sub, "create") ? "a token id" : "a name");
		arg = argv[optind++];
		if (!strcmp(sub, "revoke") && cli_parse_id(arg, &id) < 0)
			return cli_usage_error("token", "'%s' is not a token id", arg);
	}
	if (optind < argc)
		return cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
	rc = cli_open(&c, &conn);
	if (rc)
		return rc;
	if (!strcmp(sub, "create"))
		rc = do_create(&c, arg, json);
	else if (!strcmp(sub, "list"))
		rc = do_list(&c, json);
	else
		rc = do_revoke(&c, id);
	client_close(&c);
	return rc;
}
