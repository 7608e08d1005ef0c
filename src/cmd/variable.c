/*
 * cidre variable: a project's secret variables (a maintainer's token).
 * Values go to the server and to jobs, never back.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "cmd/cmd.h"

#define VALUE_MAX 10000

const char cmd_variable_usage[] =
	"usage: cidre variable set PROJECT KEY VALUE [--masked] [--protected]\n"
	"       cidre variable set PROJECT KEY --stdin [--masked] [--protected]\n"
	"       cidre variable list PROJECT [--json]\n"
	"       cidre variable rm PROJECT KEY\n"
	"\n"
	"set:  give the project's jobs the variable KEY ([A-Za-z_][A-Za-z0-9_]*).\n"
	"      A masked value (one line, at least 8 characters) is replaced by\n"
	"      [MASKED] wherever a job prints it. The server never shows a\n"
	"      value again; a trigger's variable of the same name wins.\n"
	"list: the keys and whether they are masked and protected, never the\n"
	"      values.\n"
	"rm:   remove a variable.\n"
	"All need a maintainer's token on the project.\n"
	"\n"
	"options:\n"
	"      --stdin    read the value from stdin (one trailing newline is\n"
	"                 dropped), so that it stays out of the shell history\n"
	"      --masked   mask the value in job logs\n"
	"      --protected  only for pipelines of protected branches (the\n"
	"                 default branch unless `cidre project protect` says)\n"
	"      --json     print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused, 2 usage error or the server\n"
	"cannot be reached.\n";

static void path_of(struct strbuf *p, const char *project, const char *key)
{
	cli_project_path(p, project, "variables", key, 0);
}

static int read_stdin(struct strbuf *sb)
{
	char buf[4096];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
		if (sb->len + n > VALUE_MAX + 1)
			return -1;
		strbuf_add(sb, buf, n);
	}
	if (sb->len && sb->buf[sb->len - 1] == '\n')
		strbuf_setlen(sb, sb->len - 1);
	return sb->len > VALUE_MAX ? -1 : 0;
}

static int do_set(struct client *c, const char *project, const char *key, const char *value,
		  int masked, int prot)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	json_t *body = json_pack("{s:s, s:b, s:b}", "value", value, "masked", masked,
				 "protected", prot);
	int rc;

	path_of(&path, project, key);
	rc = client_request(c, "PUT", path.buf, body, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else
		printf("variable %s of %s set%s\n", key, project,
		       masked && prot ? " (masked, protected)" : masked ? " (masked)" :
		       prot ? " (protected)" : "");
	json_decref(body);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int do_list(struct client *c, const char *project, int json)
{
	struct strbuf path = STRBUF_INIT, empty = STRBUF_INIT;
	struct cli_table t;
	json_t *res = NULL, *e;
	size_t i;
	int rc;

	path_of(&path, project, NULL);
	strbuf_addf(&empty, "no variables in %s (cidre variable set %s KEY VALUE)\n",
		    project, project);
	if (cli_list(c, path.buf, "variable", json, empty.buf, &res, &rc)) {
		cli_table_head(&t, "lll", "KEY", "MASKED", "PROTECTED", NULL);
		json_array_foreach(res, i, e) {
			cli_table_add(&t, cli_str(e, "key", "?"));
			cli_table_add(&t, json_is_true(json_object_get(e, "masked")) ? "yes" : "no");
			cli_table_add(&t, json_is_true(json_object_get(e, "protected")) ? "yes" : "no");
		}
		cli_table_print(&t, stdout);
		cli_table_release(&t);
		json_decref(res);
	}
	strbuf_release(&path);
	strbuf_release(&empty);
	return rc;
}

static int do_rm(struct client *c, const char *project, const char *key)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	int rc;

	path_of(&path, project, key);
	rc = client_request(c, "DELETE", path.buf, NULL, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else
		printf("variable %s of %s removed\n", key, project);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_variable(int argc, char **argv)
{
	enum { OPT_STDIN = 256, OPT_MASKED, OPT_PROTECTED, OPT_JSON };
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, OPT_STDIN },
		{ "masked", no_argument, NULL, OPT_MASKED },
		{ "protected", no_argument, NULL, OPT_PROTECTED },
		{ "json", no_argument, NULL, OPT_JSON },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts conn;
	struct client c = CLIENT_INIT;
	struct strbuf value = STRBUF_INIT;
	const char *sub, *project, *key = NULL;
	int ch, rc, from_stdin = 0, masked = 0, prot = 0, json = 0;

	memset(&conn, 0, sizeof(conn));
	if (argc < 2)
		return cli_usage_error("variable", "wants set, list or rm");
	sub = argv[1];
	if (strcmp(sub, "set") && strcmp(sub, "list") && strcmp(sub, "rm"))
		return cli_usage_error("variable", "unknown subcommand '%s' (set, list, rm)", sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &conn))
			continue;
		switch (ch) {
		case OPT_STDIN:
			from_stdin = 1;
			break;
		case OPT_MASKED:
			masked = 1;
			break;
		case OPT_PROTECTED:
			prot = 1;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default:
			return cli_bad_option("variable", argv[optind - 1], longopts);
		}
	}
	if (optind == argc)
		return cli_usage_error("variable", "%s wants a project", sub);
	project = argv[optind++];
	if (strcmp(sub, "list")) {
		if (optind == argc)
			return cli_usage_error("variable", "%s wants a key", sub);
		key = argv[optind++];
	}
	if (!strcmp(sub, "set")) {
		if (from_stdin == (optind < argc))
			return cli_usage_error("variable", "set wants a VALUE or --stdin");
		if (!from_stdin)
			strbuf_addstr(&value, argv[optind++]);
	} else if (from_stdin || masked || prot) {
		return cli_usage_error("variable", "--stdin, --masked and --protected go with set");
	}
	if (optind < argc) {
		strbuf_release(&value);
		return cli_usage_error("variable", "unexpected argument '%s'", argv[optind]);
	}
	/* stdin is read once the server is known: an https:// server re-runs
	 * the command in cidre-client, which must find the value there */
	rc = cli_open(&c, &conn);
	if (!rc && from_stdin && read_stdin(&value) < 0) {
		client_close(&c);
		rc = cli_usage_error("variable", "the value on stdin is over %d bytes",
				     VALUE_MAX);
	} else if (!rc) {
		if (!strcmp(sub, "set"))
			rc = do_set(&c, project, key, value.buf, masked, prot);
		else if (!strcmp(sub, "list"))
			rc = do_list(&c, project, json);
		else
			rc = do_rm(&c, project, key);
		client_close(&c);
	}
	if (value.alloc)
		memset(value.buf, 0, value.alloc);
	strbuf_release(&value);
	return rc;
}
