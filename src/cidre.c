/*
 * cidre: the command table and dispatch (git-style subcommands).
 */
#include <stdio.h>
#include <string.h>

#include "client/cli.h"
#include "client/client.h"
#ifdef CIDRE_WITH_CLIENT
#include "client/pull.h"
#endif
#include "cmd/cmd.h"
#include "exec/spawn.h"
#include "util/suggest.h"

static const char help_usage[] =
	"usage: cidre help [COMMAND]\n"
	"\n"
	"Show the list of commands, or the full help of one command.\n";

static const char version_usage[] =
	"usage: cidre version\n"
	"\n"
	"Print cidre's version (same as cidre --version).\n";

/*
 * The server lives in cidre-server, next to cidre (built from this file
 * with CIDRE_WITH_SERVER): cidre loads only what a job needs, and runs
 * the server by exec'ing it. The commands that talk to a server are in
 * cidre itself (its own HTTP/1.1 for http:// to an address or localhost)
 * and in cidre-client (built with CIDRE_WITH_CLIENT), which links
 * libcurl: cidre execs it for https:// or a host name (client_open), and
 * for deliver, whose outgoing notifications need TLS and SMTP.
 */
#ifdef CIDRE_WITH_SERVER
#define SRV(x) x
#define CLI(x) NULL
#else
#define SRV(x) NULL
#define CLI(x) x
#endif
#ifdef CIDRE_WITH_CLIENT
#define CURL(x) x
#else
#define CURL(x) NULL
#endif

static const struct cmd commands[] = {
	{ "run", cmd_run, "run the pipeline of the working tree locally", cmd_run_usage },
	{ "lint", cmd_lint, "check a pipeline file and report every error", cmd_lint_usage },
	{ "pool", cmd_pool, "list or stop the sandbox pools cidre run keeps here", cmd_pool_usage },
	{ "image", cmd_image, "manage the images (root filesystems) sandboxed jobs run in", cmd_image_usage },
	{ "server", SRV(cmd_server), "run the server: API, scheduler, embedded runner", SRV(cmd_server_usage), "cidre-server" },
	{ "job-exec", cmd_job_exec, NULL, cmd_job_exec_usage },
	{ "job-launcher", cmd_job_launcher, NULL, cmd_job_launcher_usage },
	{ "sandbox-init", cmd_sandbox_init, NULL, cmd_sandbox_init_usage },
	{ "sandbox-enter", cmd_sandbox_enter, NULL, cmd_sandbox_enter_usage },
	{ "status", CLI(cmd_status), "show a server's recent pipelines, or one pipeline's jobs", CLI(cmd_status_usage), "cidre-client" },
	{ "log", CLI(cmd_log), "print a job's log, or follow it live (-f)", CLI(cmd_log_usage), "cidre-client" },
	{ "trigger", CLI(cmd_trigger), "start a pipeline on the server (--wait for it)", CLI(cmd_trigger_usage), "cidre-client" },
	{ "retry", CLI(cmd_retry), "retry a job, or a pipeline's failed jobs", CLI(cmd_retry_usage), "cidre-client" },
	{ "cancel", CLI(cmd_cancel), "cancel a job, or a whole pipeline", CLI(cmd_cancel_usage), "cidre-client" },
	{ "play", CLI(cmd_play), "start a manual job", CLI(cmd_play_usage), "cidre-client" },
	{ "artifacts", CLI(cmd_artifacts), "list or download a job's artifacts", CLI(cmd_artifacts_usage), "cidre-client" },
	{ "release", CLI(cmd_release), "a project's releases (the release: keyword)", CLI(cmd_release_usage), "cidre-client" },
	{ "project", CLI(cmd_project), "add, list or remove the server's projects", CLI(cmd_project_usage), "cidre-client" },
	{ "user", CLI(cmd_user), "add or list the server's users", CLI(cmd_user_usage), "cidre-client" },
	{ "token", CLI(cmd_token), "create, list or revoke your API tokens", CLI(cmd_token_usage), "cidre-client" },
	{ "variable", CLI(cmd_variable), "set, list or remove a project's secret variables", CLI(cmd_variable_usage), "cidre-client" },
	{ "schedule", CLI(cmd_schedule), "add, list, edit, remove or play a project's pipeline schedules", CLI(cmd_schedule_usage), "cidre-client" },
	{ "hook", CLI(cmd_hook), "install the git post-receive hook that starts pipelines", CLI(cmd_hook_usage), "cidre-client" },
	{ "deliver", CURL(cmd_deliver), NULL, CURL(cmd_deliver_usage), "cidre-client" },
	{ "help", cmd_help, "show help for cidre or a command", help_usage },
	{ "version", cmd_version, "print the version", version_usage },
};

const struct cmd *cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* "'x' is not a cidre command", with the command meant if it is close */
static void not_a_command(const char *name)
{
	struct suggest sg;
	size_t i;

	suggest_init(&sg, name);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)   /* the hidden ones are not suggested */
			suggest_add(&sg, commands[i].name);
	if (sg.best)
		fprintf(stderr, "cidre: '%s' is not a cidre command; did you mean "
			"'%s'? See 'cidre --help'.\n", name, sg.best);
	else
		fprintf(stderr, "cidre: '%s' is not a cidre command. See 'cidre --help'.\n",
			name);
}

void cmd_print_help(const struct cmd *c)
{
	fputs(c->usage, stdout);
}

int cmd_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

static void print_main_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cidre [--version] [--help] COMMAND [ARGS]\n\n"
		   "cidre is a self-hosted CI/CD server; its pipelines are "
		   "GitLab CI pipelines.\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary) /* internal commands have none */
			fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nSee 'cidre help COMMAND' or 'cidre COMMAND -h' for the "
		   "options of a command.\n");
}

/* A command of another binary: exec it there with the same arguments. */
static int run_elsewhere(const struct cmd *c, char **argv)
{
	struct strbuf err = STRBUF_INIT;

	spawn_exec_sibling(c->home, argv, &err);
	fprintf(stderr, "cidre: %s\n", err.buf);
	strbuf_release(&err);
	return 2;
}

int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		print_main_help(stdout);
		return 0;
	}
	c = cmd_find(argv[1]);
	if (!c) {
		not_a_command(argv[1]);
		return 2;
	}
	if (!c->usage)
		return run_elsewhere(c, argv - 1);
	cmd_print_help(c);
	return 0;
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("cidre %s\n", CIDRE_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		print_main_help(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(1, argv);
	c = cmd_find(argv[1]);
	if (!c) {
		not_a_command(argv[1]);
		return 2;
	}
	if (!c->fn)
		return run_elsewhere(c, argv);
#ifdef CIDRE_WITH_CLIENT
	cmd_image_pull = pull_cmd;
#endif
#ifndef CIDRE_WITH_SERVER
	client_reexec_argv = argv;
	cmd_project_file = cli_project_file;
#endif
	if (cmd_wants_help(argc - 1, argv + 1)) {
		cmd_print_help(c);
		return 0;
	}
	return c->fn(argc - 1, argv + 1);
}
