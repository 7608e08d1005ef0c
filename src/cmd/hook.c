/*
 * cidre hook: install the git post-receive hook that tells the server
 * about pushes, and the hook's own body (cidre hook run).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/cli.h"
#include "cmd/cmd.h"
#include "util/xalloc.h"

const char cmd_hook_usage[] =
	"usage: cidre hook install REPO [--project NAME] [--force]\n"
	"       cidre hook run --server URL --project NAME --token HOOK_SECRET\n"
	"\n"
	"install: write REPO/hooks/post-receive (REPO is a bare repository, a\n"
	"         work tree's .git, or the work tree itself), mode 0755. On\n"
	"         every push it runs 'cidre hook run' with this cidre's absolute\n"
	"         path, the server's URL, the project's name and its hook secret\n"
	"         (fetched from the server: needs a token). The project is the\n"
	"         one whose repository is REPO, unless --project names it. An\n"
	"         existing post-receive that cidre did not write is left alone\n"
	"         unless --force. It also sets receive.advertisePushOptions, so\n"
	"         that 'git push -o ci.skip' and '-o ci.variable=KEY=VALUE' work.\n"
	"run:     (run by the hook) read the pushed refs, \"OLD NEW REF\" lines,\n"
	"         on standard input, and the push options, send them to the\n"
	"         server, and print the pipelines it started. It never fails the\n"
	"         push: errors are printed and the exit status is 0.\n"
	"\n"
	"options:\n"
	"      --project NAME   the project (install: default, the one whose\n"
	"                       repository is REPO)\n"
	"  -f, --force          (install) replace a post-receive cidre did not write\n"
	"      --token SECRET   (run) the project's hook secret, not an API token\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status (install): 0 installed, 1 the server refused or a hook is\n"
	"in the way, 2 usage error or the server cannot be reached.\n";

#define HOOK_MARKER "# written by cidre hook install"
#define HOOK_MAX_REFS 1000
#define HOOK_MAX_LINE 4096
#define HOOK_MAX_OPTIONS 100   /* the server's HOOK_MAX_PUSH_OPTIONS */

extern char **environ;

struct hook_opts {
	struct client_opts conn;
	const char *project;
	int force;
};

/* ---- install ---------------------------------------------------------- */

/*
 * git push -o needs the receiving repository to advertise push options:
 * receive.advertisePushOptions in gitdir's config (git config). 0 or -1.
 */
static int push_options_on(const char *gitdir)
{
	char *argv[] = { "git", "--git-dir", (char *)gitdir, "config",
			 "receive.advertisePushOptions", "true", NULL };
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "git", NULL, NULL, argv, environ))
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The git directory of repo (absolute, malloc'ed), and in *ret_work the
 * work tree when repo is one or its .git (else NULL). NULL if repo is
 * not a repository git keeps hooks in.
 */
static char *find_gitdir(const char *repo, char **ret_work)
{
	char *abs = realpath(repo, NULL), *p, *gitdir = NULL;
	size_t n;

	*ret_work = NULL;
	if (!abs)
		return NULL;
	p = xasprintf("%s/HEAD", abs);
	if (is_file(p)) {
		free(p);
		p = xasprintf("%s/objects", abs);
		if (is_dir(p)) {
			gitdir = xstrdup(abs);
			n = strlen(abs);
			if (n > 5 && !strcmp(abs + n - 5, "/.git"))
				*ret_work = xstrndup(abs, n - 5);
		}
	} else {
		free(p);
		p = xasprintf("%s/.git/HEAD", abs);
		if (is_file(p)) {
			gitdir = xasprintf("%s/.git", abs);
			*ret_work = xstrdup(abs);
		}
	}
	free(p);
	free(abs);
	return gitdir;
}

/* A project's repo as a comparable local path (malloc'ed), or NULL. */
static char *local_repo(const char *repo)
{
	char *real;

	if (!strncmp(repo, "file://", 7))
		repo += 7;
	if (repo[0] != '/')
		return NULL;
	real = realpath(repo, NULL);
	if (real) {
		char *copy = xstrdup(real);

		free(real);
		return copy;
	}
	return xstrdup(repo);
}

/* The name of the one project whose repository is gitdir or work. */
static int find_project(struct client *c, const char *repo_arg,
			const char *gitdir, const char *work, char **ret)
{
	struct strbuf err = STRBUF_INIT;
	json_t *list = NULL, *p;
	size_t i;
	int rc, found = 0;

	rc = client_request(c, "GET", "/api/v1/projects", NULL, &list, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto done;
	}
	json_array_foreach(list, i, p) {
		char *local = local_repo(cli_str(p, "repo", ""));

		if (local && (!strcmp(local, gitdir) || (work && !strcmp(local, work)))) {
			if (found++) {
				fprintf(stderr, "cidre: projects %s and %s both use %s; "
					"name one with --project\n", *ret,
					cli_str(p, "name", "?"), repo_arg);
				free(local);
				rc = CLI_FAILED;
				goto done;
			}
			*ret = xstrdup(cli_str(p, "name", ""));
		}
		free(local);
	}
	if (!found) {
		fprintf(stderr, "cidre: no project of %s has %s as its repository; add "
			"one (cidre project add NAME --repo %s) or name it with --project\n",
			c->server, gitdir, work ? work : gitdir);
		rc = CLI_FAILED;
	}
done:
	if (rc) {
		free(*ret);
		*ret = NULL;
	}
	json_decref(list);
	strbuf_release(&err);
	return rc;
}

/* s in single quotes for sh. */
static void sh_quote(struct strbuf *out, const char *s)
{
	strbuf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, *s);
	}
	strbuf_addch(out, '\'');
}

static int write_hook(const char *hooks, const char *text, int force,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT, old = STRBUF_INIT;
	struct stat st;
	int fd = -1, rc = -1;
	size_t len = strlen(text);

	if (!is_dir(hooks) && mkdir(hooks, 0755) < 0) {
		strbuf_addf(err, "cannot create %s: %s", hooks, strerror(errno));
		goto done;
	}
	strbuf_addf(&path, "%s/post-receive", hooks);
	if (lstat(path.buf, &st) == 0 && !force) {
		if (!S_ISREG(st.st_mode) ||
		    strbuf_read_file(&old, path.buf, 1 << 20) < 0 ||
		    !strstr(old.buf, HOOK_MARKER)) {
			strbuf_addf(err, "%s exists and cidre did not write it; add its "
				    "commands to it yourself, or replace it with --force",
				    path.buf);
			goto done;
		}
	}
	strbuf_addf(&tmp, "%s.cidre-XXXXXX", path.buf);
	fd = mkstemp(tmp.buf);
	if (fd < 0) {
		strbuf_addf(err, "cannot create %s: %s", tmp.buf, strerror(errno));
		strbuf_reset(&tmp);
		goto done;
	}
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0755) < 0 ||
	    close(fd) < 0) {
		fd = -1;
		strbuf_addf(err, "cannot write %s: %s", tmp.buf, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp.buf, path.buf) < 0) {
		strbuf_addf(err, "cannot rename %s to %s: %s", tmp.buf, path.buf,
			    strerror(errno));
		goto done;
	}
	strbuf_reset(&tmp);
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.buf);
	strbuf_release(&path);
	strbuf_release(&tmp);
	strbuf_release(&old);
	return rc;
}

static int hook_install(int argc, char **argv, struct hook_opts *o)
{
	struct client c = CLIENT_INIT;
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT, text = STRBUF_INIT;
	char *gitdir = NULL, *work = NULL, *name = NULL, *self = NULL, *hooks = NULL;
	json_t *proj = NULL;
	const char *secret;
	int rc;

	if (argc != 1)
		return cli_usage_error("hook", "install wants one repository path");
	gitdir = find_gitdir(argv[0], &work);
	if (!gitdir) {
		fprintf(stderr, "cidre: %s is not a git repository (a bare repository, "
			"a .git directory or a work tree)\n", argv[0]);
		return CLI_USAGE;
	}
	rc = cli_open(&c, &o->conn);
	if (rc)
		goto out;
	if (o->project)
		name = xstrdup(o->project);
	else if ((rc = find_project(&c, argv[0], gitdir, work, &name)))
		goto out;
	strbuf_addstr(&path, "/api/v1/projects/");
	client_escape(&path, name, 0);
	rc = client_request(&c, "GET", path.buf, NULL, &proj, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto out;
	}
	secret = cli_str(proj, "hook_secret", NULL);
	if (!secret || !*secret) {
		fprintf(stderr, "cidre: the server did not send the hook secret of "
			"project %s%s\n", name, c.token ? "" :
			" (it does only with a token: use --token, CIDRE_TOKEN or the "
			"config file)");
		rc = CLI_FAILED;
		goto out;
	}
	self = realpath("/proc/self/exe", NULL);
	if (!self) {
		fprintf(stderr, "cidre: cannot find this program's path: %s\n",
			strerror(errno));
		rc = CLI_FAILED;
		goto out;
	}
	strbuf_addf(&text, "#!/bin/sh\n" HOOK_MARKER "\n"
		    "# Starts the pipelines of project %s on %s; rewrite it with\n"
		    "# 'cidre hook install --force'. Its exit status does not matter\n"
		    "# to git: the push is accepted already.\nexec ", name, c.server);
	sh_quote(&text, self);
	strbuf_addstr(&text, " hook run --server ");
	sh_quote(&text, c.server);
	strbuf_addstr(&text, " --project ");
	sh_quote(&text, name);
	strbuf_addstr(&text, " --token ");
	sh_quote(&text, secret);
	strbuf_addch(&text, '\n');
	hooks = xasprintf("%s/hooks", gitdir);
	strbuf_reset(&err);
	if (write_hook(hooks, text.buf, o->force, &err) < 0) {
		fprintf(stderr, "cidre: %s\n", err.buf);
		rc = CLI_FAILED;
		goto out;
	}
	printf("installed %s/post-receive: pushes to %s start pipelines of project "
	       "%s on %s\n", hooks, work ? work : gitdir, name, c.server);
	if (push_options_on(gitdir) < 0)
		fprintf(stderr, "cidre: warning: cannot set receive.advertisePushOptions in "
			"%s: 'git push -o ci.skip' will be refused\n", gitdir);
	rc = 0;
out:
	json_decref(proj);
	free(gitdir);
	free(work);
	free(name);
	free(self);
	free(hooks);
	strbuf_release(&err);
	strbuf_release(&path);
	strbuf_release(&text);
	client_close(&c);
	return rc;
}

/* ---- run (the hook itself) ------------------------------------------- */

static int is_object_id(const char *s, size_t n)
{
	size_t i;

	if (n != 40 && n != 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Parse "OLD NEW REF" lines from f into refs. 0, or -1 with err. */
static int read_refs(FILE *f, json_t *refs, struct strbuf *err)
{
	char line[HOOK_MAX_LINE + 2];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		char *sp1, *sp2;

		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (len > HOOK_MAX_LINE) {
			strbuf_addf(err, "line %d of the pushed refs is longer than %d "
				    "bytes", lineno, HOOK_MAX_LINE);
			return -1;
		}
		if (!len)
			continue;
		if (json_array_size(refs) >= HOOK_MAX_REFS) {
			strbuf_addf(err, "more than %d refs pushed at once; only the "
				    "first %d are sent", HOOK_MAX_REFS, HOOK_MAX_REFS);
			return 1;
		}
		sp1 = strchr(line, ' ');
		sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp2 || !is_object_id(line, (size_t)(sp1 - line)) ||
		    !is_object_id(sp1 + 1, (size_t)(sp2 - sp1 - 1)) || !sp2[1]) {
			strbuf_addf(err, "line %d of the pushed refs is not 'OLD NEW REF': "
				    "%.100s", lineno, line);
			return -1;
		}
		*sp1 = *sp2 = '\0';
		json_array_append_new(refs, json_pack("{s:s,s:s,s:s}", "old", line,
						      "new", sp1 + 1, "ref", sp2 + 1));
	}
	return 0;
}

static void print_pipeline(struct client *c, const json_t *entry)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *p = NULL;
	const char *ref = cli_str(entry, "ref", NULL);
	int64_t id = json_is_integer(entry) ? json_integer_value(entry) :
		     cli_int(entry, "id", 0);

	if (id <= 0)
		return;
	if (!ref) {
		strbuf_addf(&path, "/api/v1/pipelines/%" PRId64, id);
		if (!client_request(c, "GET", path.buf, NULL, &p, &err))
			ref = cli_str(p, "ref", NULL);
	}
	printf("cidre: pipeline %" PRId64 " for %s%s: %s/api/v1/pipelines/%" PRId64 "%s%s%s\n",
	       id, json_is_true(json_object_get(entry, "tag")) ? "tag " : "",
	       ref ? ref : "?", c->server, id,
	       cli_str(entry, "skipped", NULL) ? " (" : "", cli_str(entry, "skipped", ""),
	       cli_str(entry, "skipped", NULL) ? ")" : "");
	json_decref(p);
	strbuf_release(&path);
	strbuf_release(&err);
}

/*
 * The push's options (git push -o OPTION: GIT_PUSH_OPTION_COUNT and
 * GIT_PUSH_OPTION_<i>, set when the repository advertises them), at most
 * HOOK_MAX_OPTIONS; NULL when there are none.
 */
static json_t *push_options(void)
{
	const char *n = getenv("GIT_PUSH_OPTION_COUNT");
	long i, count = n ? strtol(n, NULL, 10) : 0;
	json_t *a;

	if (count <= 0)
		return NULL;
	a = json_array();
	for (i = 0; i < count && i < HOOK_MAX_OPTIONS; i++) {
		char name[64];
		const char *v;
		json_t *s;

		snprintf(name, sizeof(name), "GIT_PUSH_OPTION_%ld", i);
		v = getenv(name);
		s = v ? json_string(v) : NULL;     /* NULL too when not UTF-8 */
		if (s)
			json_array_append_new(a, s);
	}
	return a;
}

static int hook_run(int argc, char **argv, struct hook_opts *o)
{
	struct client c = CLIENT_INIT;
	struct client_opts conn = { o->conn.server, "" };
	struct strbuf err = STRBUF_INIT;
	json_t *body = NULL, *res = NULL, *refs = json_array(), *list, *e;
	size_t i;
	int r;

	if (argc || !o->project || !o->conn.token) {
		fprintf(stderr, "cidre: hook run wants --server URL --project NAME "
			"--token SECRET, and no argument; reinstall the hook with "
			"'cidre hook install'\n");
		json_decref(refs);
		return 0;
	}
	/* before stdin is read: an https:// server re-runs us in cidre-client */
	if (client_open(&c, &conn, &err) < 0) {
		fprintf(stderr, "cidre: %s\n", err.buf);
		goto done;
	}
	r = read_refs(stdin, refs, &err);
	if (r) {
		fprintf(stderr, "cidre: %s\n", err.buf);
		strbuf_reset(&err);
		if (r < 0)
			goto done;
	}
	if (!json_array_size(refs))
		goto done;
	c.hook_token = xstrdup(o->conn.token);
	c.timeout = 30;
	body = json_pack("{s:s,s:O}", "project", o->project, "refs", refs);
	{
		json_t *opts = push_options();

		if (opts)
			json_object_set_new(body, "push_options", opts);
	}
	if (client_request(&c, "POST", "/api/v1/hook", body, &res, &err)) {
		fprintf(stderr, "cidre: no pipeline started: %s\n", err.buf);
		goto done;
	}
	list = json_object_get(res, "pipelines");
	if (!json_array_size(list))
		printf("cidre: no pipeline for this push (project %s)\n", o->project);
	json_array_foreach(list, i, e)
		print_pipeline(&c, e);
done:
	fflush(stdout);
	json_decref(body);
	json_decref(res);
	json_decref(refs);
	strbuf_release(&err);
	client_close(&c);
	return 0;
}

int cmd_hook(int argc, char **argv)
{
	enum { OPT_PROJECT = 256 };
	static const struct option longopts[] = {
		{ "project", required_argument, NULL, OPT_PROJECT },
		{ "force", no_argument, NULL, 'f' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct hook_opts o;
	const char *sub;
	int ch;

	memset(&o, 0, sizeof(o));
	if (argc < 2)
		return cli_usage_error("hook", "wants 'install' or 'run'");
	sub = argv[1];
	if (strcmp(sub, "install") && strcmp(sub, "run"))
		return cli_usage_error("hook", "unknown subcommand '%s' (install, run)", sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &o.conn))
			continue;
		switch (ch) {
		case OPT_PROJECT:
			o.project = optarg;
			break;
		case 'f':
			o.force = 1;
			break;
		default:
			if (!strcmp(sub, "run")) {
				fprintf(stderr, "cidre: hook run: unknown option '%s'\n",
					argv[optind - 1]);
				return 0;
			}
			return cli_bad_option("hook", argv[optind - 1], longopts);
		}
	}
	if (!strcmp(sub, "run"))
		return hook_run(argc - optind, argv + optind, &o);
	return hook_install(argc - optind, argv + optind, &o);
}
