/*
 * cidre project: add, list, show and remove the server's projects.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli.h"
#include "cmd/cmd.h"
#include "util/jsonx.h"
#include "util/xalloc.h"

const char cmd_project_usage[] =
	"usage: cidre project add NAME --repo PATH_OR_URL [--branch BRANCH...]\n"
	"                         [--poll SECONDS] [--webhook-secret SECRET]\n"
	"       cidre project list [--json]\n"
	"       cidre project show NAME [--json]\n"
	"       cidre project rm NAME\n"
	"       cidre project member NAME LOGIN viewer|developer|maintainer\n"
	"       cidre project member NAME LOGIN --remove\n"
	"       cidre project protect NAME GLOB... | --none | --default\n"
	"       cidre project protect NAME --tags GLOB... | --tags --none\n"
	"\n"
	"add:  register a repository with the server. A local path is made\n"
	"      absolute. Pipelines start on a push (see 'cidre hook install'),\n"
	"      a forge webhook, every SECONDS of polling, or 'cidre trigger'.\n"
	"list: the projects: name, repository, branches, polling interval.\n"
	"show: one project, its hook secret included when a token is given.\n"
	"rm:   remove a project; its pipelines stay readable by id.\n"
	"member: give user LOGIN a role on the project, or take it away.\n"
	"protect: the protected branches (globs, e.g. main 'release/*'): only\n"
	"      their pipelines get protected variables, and their jobs see\n"
	"      CI_COMMIT_REF_PROTECTED=true. --none protects no branch;\n"
	"      --default goes back to the repository's default branch alone\n"
	"      (what a new project has). With --tags, the protected tags\n"
	"      (e.g. 'v*'): their pipelines get protected variables too; a\n"
	"      new project protects none.\n"
	"add and rm need an administrator's token, member and protect a\n"
	"maintainer's;\n"
	"without a token only public projects are seen.\n"
	"\n"
	"options:\n"
	"      --repo PATH_OR_URL    the repository (a path on the server's\n"
	"                            machine, or a URL git can fetch)\n"
	"      --branch BRANCH       a branch that gets pipelines on a push; a\n"
	"                            glob (release/*) or a comma-separated list;\n"
	"                            repeat for more (default: every branch)\n"
	"      --branches GLOB       the same\n"
	"      --poll SECONDS        fetch the repository every SECONDS and run\n"
	"                            new commits (default 0: never)\n"
	"      --webhook-secret S    the forges' webhook secret (HMAC key, or\n"
	"                            GitLab's token)\n"
	"      --public              anyone may read its pipelines, jobs and\n"
	"                            logs without a token (default: members only)\n"
	"      --remove              (member) remove LOGIN from the project\n"
	"      --none, --default     (protect) see above\n"
	"      --tags                (protect) the protected tags, not branches\n"
	"      --json                print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (e.g. the name is taken),\n"
	"2 usage error or the server cannot be reached.\n";

struct project_opts {
	struct client_opts conn;
	const char *repo;
	const char *branches;
	char branch_list[4096];      /* --branch, repeated, comma-separated */
	const char *webhook_secret;
	long poll;
	int has_poll;
	int json;
	int public_read;
	int remove;
	int prot_none, prot_default, prot_tags;
};

/*
 * A repository argument as the server should see it: a URL or scp-like
 * "host:path" unchanged, a local path made absolute. Malloc'ed.
 */
static char *repo_location(const char *repo)
{
	const char *colon = strchr(repo, ':'), *slash = strchr(repo, '/');
	char *real, *cwd;

	if (strstr(repo, "://") || (colon && (!slash || colon < slash) &&
				    access(repo, F_OK) < 0))
		return xstrdup(repo);
	real = realpath(repo, NULL);
	if (real) {
		char *copy = xstrdup(real);

		free(real);
		return copy;
	}
	if (repo[0] == '/')
		return xstrdup(repo);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(repo);
	real = xasprintf("%s/%s", cwd, repo);
	free(cwd);
	return real;
}

static void project_path(struct strbuf *path, const char *name)
{
	strbuf_addstr(path, "/api/v1/projects/");
	client_escape(path, name, 0);
}

static int do_add(struct client *c, const char *name, const struct project_opts *o)
{
	struct strbuf err = STRBUF_INIT;
	json_t *body = json_object(), *res = NULL;
	char *repo = repo_location(o->repo);
	int rc;

	json_object_set_new(body, "name", json_string(name));
	json_object_set_new(body, "repo", json_string(repo));
	if (o->branches)
		json_object_set_new(body, "branches", json_string(o->branches));
	if (o->has_poll)
		json_object_set_new(body, "poll_interval", json_integer(o->poll));
	if (o->webhook_secret)
		json_object_set_new(body, "webhook_secret",
				    json_string(o->webhook_secret));
	if (o->public_read)
		json_object_set_new(body, "public", json_true());
	rc = client_request(c, "POST", "/api/v1/projects", body, &res, &err);
	if (!rc && c->status == 202) {
		/* a long clone: the server adds the project when it ends */
		struct strbuf path = STRBUF_INIT;

		fprintf(stderr, "cloning %s (the server adds project %s when it is done)...\n",
			repo, name);
		project_path(&path, name);
		do {
			json_decref(res);
			res = NULL;
			cli_pause_ms(500);
			rc = client_request(c, "GET", path.buf, NULL, &res, &err);
		} while (!rc && c->status == 202);
		strbuf_release(&path);
	}
	if (rc)
		rc = cli_report(rc, &err);
	else if (o->json)
		cli_print_json(res);
	else
		printf("project %s added: %s (branches %s)\n",
		       cli_str(res, "name", name), cli_str(res, "repo", repo),
		       cli_str(res, "branches", o->branches ? o->branches : "*"));
	json_decref(body);
	json_decref(res);
	free(repo);
	strbuf_release(&err);
	return rc;
}

static int do_list(struct client *c, const struct project_opts *o)
{
	struct cli_table t;
	json_t *res = NULL, *p;
	size_t i;
	int rc;

	if (!cli_list(c, "/api/v1/projects", "project", o->json,
		      "no projects yet (cidre project add NAME --repo PATH)\n", &res, &rc))
		return rc;
	cli_table_head(&t, "lllr", "NAME", "REPO", "BRANCHES", "POLL", NULL);
	json_array_foreach(res, i, p) {
		int64_t poll = cli_int(p, "poll_interval", 0);

		cli_table_add(&t, cli_str(p, "name", "?"));
		cli_table_add(&t, cli_str(p, "repo", "?"));
		cli_table_add(&t, cli_str(p, "branches", "*"));
		if (poll > 0)
			cli_table_addf(&t, "%" PRId64 "s", poll);
		else
			cli_table_add(&t, "-");
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	json_decref(res);
	return rc;
}

static int do_show(struct client *c, const char *name, const struct project_opts *o)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	json_t *res = NULL;
	const char *k;
	json_t *v;
	int rc;

	project_path(&path, name);
	rc = client_request(c, "GET", path.buf, NULL, &res, &err);
	if (rc) {
		rc = cli_report(rc, &err);
	} else if (o->json) {
		cli_print_json(res);
	} else {
		json_object_foreach(res, k, v) {
			char *s = json_is_string(v) ? NULL :
				  json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

			if (!strcmp(k, "protected_branches") && json_is_null(v))
				printf("%-15s %s\n", k, "(the default branch)");
			else
				printf("%-15s %s\n", k, s ? s : json_string_value(v));
			free(s);
		}
	}
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int do_rm(struct client *c, const char *name)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	int rc;

	project_path(&path, name);
	rc = client_request(c, "DELETE", path.buf, NULL, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else
		printf("project %s removed\n", name);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int do_member(struct client *c, const char *name, const char *login, const char *role,
		     const struct project_opts *o)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	json_t *body = NULL;
	int rc;

	project_path(&path, name);
	strbuf_addstr(&path, "/members/");
	client_escape(&path, login, 0);
	if (!o->remove)
		body = json_pack("{s:s}", "role", role);
	rc = client_request(c, o->remove ? "DELETE" : "PUT", path.buf, body, NULL, &err);
	if (rc)
		rc = cli_report(rc, &err);
	else if (o->remove)
		printf("%s is no longer a member of %s\n", login, name);
	else
		printf("%s is %s of %s\n", login, role, name);
	json_decref(body);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

/* PATCH protected_branches: the globs (each may be a comma-separated list),
 * [] for --none, null for --default */
static int do_protect(struct client *c, const char *name, char **globs, int n,
		      const struct project_opts *o)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	const char *key = o->prot_tags ? "protected_tags" : "protected_branches";
	json_t *list = o->prot_default ? json_null() : json_array(), *body, *res = NULL;
	int i, rc;

	for (i = 0; i < n && !o->prot_default; i++)
		json_append_list(list, globs[i]);
	body = json_pack("{s:o}", key, list);
	project_path(&path, name);
	rc = client_request(c, "PATCH", path.buf, body, &res, &err);
	if (rc) {
		rc = cli_report(rc, &err);
	} else if (o->json) {
		cli_print_json(res);
	} else {
		json_t *pb = json_object_get(res, key);
		char *s = json_is_array(pb) && json_array_size(pb) ?
			  json_dumps(pb, JSON_COMPACT) : NULL;

		printf("protected %s of %s: %s\n", o->prot_tags ? "tags" : "branches", name,
		       json_is_null(pb) ? "the default branch" : s ? s : "none");
		free(s);
	}
	json_decref(body);
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_project(int argc, char **argv)
{
	enum { OPT_REPO = 256, OPT_BRANCHES, OPT_POLL, OPT_SECRET, OPT_JSON, OPT_PUBLIC,
	       OPT_REMOVE, OPT_NONE, OPT_DEFAULT, OPT_TAGS };
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "branches", required_argument, NULL, OPT_BRANCHES },
		{ "branch", required_argument, NULL, OPT_BRANCHES },
		{ "poll", required_argument, NULL, OPT_POLL },
		{ "webhook-secret", required_argument, NULL, OPT_SECRET },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "public", no_argument, NULL, OPT_PUBLIC },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "none", no_argument, NULL, OPT_NONE },
		{ "default", no_argument, NULL, OPT_DEFAULT },
		{ "tags", no_argument, NULL, OPT_TAGS },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct project_opts o;
	struct client c = CLIENT_INIT;
	const char *sub, *name = NULL, *login = NULL, *role = NULL;
	char *end;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	if (argc < 2)
		return cli_usage_error("project", "wants add, list, show or rm");
	sub = argv[1];
	if (strcmp(sub, "add") && strcmp(sub, "list") && strcmp(sub, "show") &&
	    strcmp(sub, "rm") && strcmp(sub, "member") && strcmp(sub, "protect"))
		return cli_usage_error("project", "unknown subcommand '%s' (add, list, "
				       "show, rm, member, protect)", sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &o.conn))
			continue;
		switch (ch) {
		case OPT_REPO:
			o.repo = optarg;
			break;
		case OPT_BRANCHES: {
			size_t n = strlen(o.branch_list);

			if (n + strlen(optarg) + 2 > sizeof(o.branch_list))
				return cli_usage_error("project", "too many --branch");
			snprintf(o.branch_list + n, sizeof(o.branch_list) - n, "%s%s",
				 n ? "," : "", optarg);
			o.branches = o.branch_list;
			break;
		}
		case OPT_POLL:
			o.poll = strtol(optarg, &end, 10);
			if (*end || !*optarg || o.poll < 0 || o.poll > 86400 * 7)
				return cli_usage_error("project", "--poll wants seconds, "
						       "0 to %d", 86400 * 7);
			o.has_poll = 1;
			break;
		case OPT_SECRET:
			o.webhook_secret = optarg;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_PUBLIC:
			o.public_read = 1;
			break;
		case OPT_REMOVE:
			o.remove = 1;
			break;
		case OPT_NONE:
			o.prot_none = 1;
			break;
		case OPT_DEFAULT:
			o.prot_default = 1;
			break;
		case OPT_TAGS:
			o.prot_tags = 1;
			break;
		default:
			return cli_bad_option("project", argv[optind - 1], longopts);
		}
	}
	if (strcmp(sub, "list")) {
		if (optind == argc)
			return cli_usage_error("project", "%s wants a project name", sub);
		name = argv[optind++];
	}
	if (!strcmp(sub, "member")) {
		if (optind == argc)
			return cli_usage_error("project", "member wants a login");
		login = argv[optind++];
		if (!o.remove) {
			if (optind == argc)
				return cli_usage_error("project", "member wants a role (viewer, "
						       "developer, maintainer) or --remove");
			role = argv[optind++];
		}
	}
	if ((o.remove && strcmp(sub, "member")) || (o.public_read && strcmp(sub, "add")) ||
	    ((o.prot_none || o.prot_default || o.prot_tags) && strcmp(sub, "protect")))
		return cli_usage_error("project", "--remove goes with member, --public with add, "
				       "--none, --default and --tags with protect");
	if (o.prot_tags && o.prot_default)
		return cli_usage_error("project", "--default is for branches: no tag is "
				       "protected by default (--tags --none)");
	if (!strcmp(sub, "protect")) {
		if (o.prot_none + o.prot_default + (optind < argc) != 1)
			return cli_usage_error("project", "protect wants branch globs, --none "
					       "or --default");
		rc = cli_open(&c, &o.conn);
		if (rc)
			return rc;
		rc = do_protect(&c, name, argv + optind, argc - optind, &o);
		client_close(&c);
		return rc;
	}
	if (optind < argc)
		return cli_usage_error("project", "unexpected argument '%s'", argv[optind]);
	if (!strcmp(sub, "add") && !o.repo)
		return cli_usage_error("project", "add wants --repo PATH_OR_URL");
	if (strcmp(sub, "add") && (o.repo || o.branches || o.has_poll || o.webhook_secret))
		return cli_usage_error("project", "--repo, --branches, --poll and "
				       "--webhook-secret go with add");
	rc = cli_open(&c, &o.conn);
	if (rc)
		return rc;
	if (!strcmp(sub, "add"))
		rc = do_add(&c, name, &o);
	else if (!strcmp(sub, "list"))
		rc = do_list(&c, &o);
	else if (!strcmp(sub, "show"))
		rc = do_show(&c, name, &o);
	else if (!strcmp(sub, "member"))
		rc = do_member(&c, name, login, role, &o);
	else
		rc = do_rm(&c, name);
	client_close(&c);
	return rc;
}
