#ifndef CIDRE_CMD_H
#define CIDRE_CMD_H

#include <stddef.h>

/*
 * Subcommands. Each lives in src/cmd/<name>.c and is listed in the
 * command table of src/cidre.c. A command returns the process exit code;
 * only commands may exit.
 */

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary; /* NULL: internal, not listed */
	const char *usage; /* full help text for `cidre help NAME` / `-h` */
	const char *home;  /* the binary that has it when not this one */
};

const struct cmd *cmd_find(const char *name);
void cmd_print_help(const struct cmd *c);

struct strbuf;
/* cmd/run.c: the repository's top (the nearest .git up); 0 or -1 */
int run_repo_top(struct strbuf *dir);
/*
 * include:project for cidre run and cidre lint (load_opts.project_file):
 * set by the binaries that can talk to a server (cli_project_file reads
 * the file from the server the client configuration names); NULL in
 * cidre-server, where the loader then refuses include:project.
 */
extern int (*cmd_project_file)(void *ud, const char *project, const char *ref,
			       const char *file, size_t max, struct strbuf *out,
			       struct strbuf *err);

int cmd_run(int argc, char **argv);
int cmd_pool(int argc, char **argv);
int cmd_lint(int argc, char **argv);
int cmd_image(int argc, char **argv);
/* cidre image pull: set where libcurl is (cidre-client), else NULL */
extern int (*cmd_image_pull)(const char *store, int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_job_exec(int argc, char **argv);
int cmd_job_launcher(int argc, char **argv);
int cmd_sandbox_init(int argc, char **argv);
int cmd_sandbox_enter(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_trigger(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_artifacts(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_project(int argc, char **argv);
int cmd_hook(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_variable(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

extern const char cmd_run_usage[];
extern const char cmd_lint_usage[];
extern const char cmd_image_usage[];
extern const char cmd_pool_usage[];
extern const char cmd_server_usage[];
extern const char cmd_job_exec_usage[];
extern const char cmd_job_launcher_usage[];
extern const char cmd_sandbox_init_usage[];
extern const char cmd_sandbox_enter_usage[];
extern const char cmd_status_usage[];
extern const char cmd_log_usage[];
extern const char cmd_trigger_usage[];
extern const char cmd_retry_usage[];
extern const char cmd_cancel_usage[];
extern const char cmd_play_usage[];
extern const char cmd_artifacts_usage[];
extern const char cmd_release_usage[];
extern const char cmd_project_usage[];
extern const char cmd_hook_usage[];
extern const char cmd_user_usage[];
extern const char cmd_token_usage[];
extern const char cmd_variable_usage[];
extern const char cmd_schedule_usage[];
extern const char cmd_deliver_usage[];

/* 1 if argv has -h or --help before a "--". */
int cmd_wants_help(int argc, char **argv);

#endif
