#ifndef CIDRE_CLI_H
#define CIDRE_CLI_H

/*
 * What the client commands (src/cmd/status.c, log.c, trigger.c, ...)
 * share: the connection options, messages and exit codes, reading the
 * API's JSON, tables, human-readable durations, sizes and ages, and the
 * safety check of artifact paths. Printing lives here, not in client.c.
 */

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#include "client/client.h"
#include "util/strbuf.h"
#include "util/strvec.h"

/* Exit codes of the client commands. */
#define CLI_OK     0 /* done; the job or pipeline succeeded */
#define CLI_FAILED 1 /* the job or pipeline failed; the server refused */
#define CLI_USAGE  2 /* usage error; the server cannot be reached */

/* getopt_long values and table rows of the connection options. */
#define CLI_OPT_SERVER 1000
#define CLI_OPT_TOKEN  1001
#define CLI_LONGOPTS_CONN \
	{ "server", required_argument, NULL, CLI_OPT_SERVER }, \
	{ "token", required_argument, NULL, CLI_OPT_TOKEN }
#define CLI_USAGE_CONN \
	"connection (see 'cidre help status' for the config file):\n" \
	"      --server URL   the server (default: $CIDRE_SERVER, else the\n" \
	"                     config file's 'server = URL')\n" \
	"      --token TOKEN  API token (default: $CIDRE_TOKEN, else the config\n" \
	"                     file's 'token' or 'token_file'); without one,\n" \
	"                     only public projects can be read\n"

/*
 * Handle a connection option in a getopt loop: returns 1 if c was one
 * (and records optarg in o), 0 otherwise.
 */
int cli_conn_opt(int c, const char *arg, struct client_opts *o);

/* "cidre CMD: message" and a pointer to -h on stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same for an option getopt_long refused (arg), with the long option
   of opts it is a typo of, if any (util/suggest.h). */
struct option;
int cli_bad_option(const char *cmd, const char *arg, const struct option *opts);

/* Connect (client_open); on failure print "cidre: why" and return
 * CLI_USAGE, else 0. */
int cli_open(struct client *c, const struct client_opts *o);

/* Print "cidre: err" and return the exit code for rc (client_exit_code). */
int cli_report(int rc, const struct strbuf *err);

/* A positive decimal id ("42", also "#42"); 0 and *ret, or -1. */
int cli_parse_id(const char *s, int64_t *ret);

/* ---- reading the API's objects ---------------------------------------- */

/* o[key] as a string, or def when missing, null or not a string. */
const char *cli_str(const json_t *o, const char *key, const char *def);
/* o[key] as an integer, or def. */
int64_t cli_int(const json_t *o, const char *key, int64_t def);
/* o[key] as a number (integer or real); 0 and *ret, or -1 if absent/null. */
int cli_num(const json_t *o, const char *key, double *ret);

/* 1 for a status nothing more happens to: success, failed, canceled, skipped. */
int cli_status_final(const char *status);
/*
 * A job's status as the tables show it, appended to out: "failed
 * (allowed)", " x2" for a later attempt, and a failure reason other
 * than the script's own ("failed (out_of_memory)").
 */
void cli_job_status(struct strbuf *out, const json_t *job);
/* How many of jobs failed and were allowed to: a pipeline that passed "with warnings". */
int cli_allowed_failed(const json_t *jobs);
/* Sleep ms milliseconds (signals do not cut it short). */
void cli_pause_ms(long ms);

/* ---- formatting ------------------------------------------------------- */

/*
 * Seconds since the epoch of an RFC 3339 time ("2026-11-27T23:10:04.123Z",
 * also with a "+HH:MM" offset). 0 and *ret, or -1.
 */
int cli_parse_time(const char *s, double *ret);
/* "0.41s", "12.3s", "2m05s", "1h02m"; "-" for a negative value. */
void cli_fmt_duration(struct strbuf *out, double seconds);
/* "100 B", "512 KB", "5.0 MB", "1.25 GB"; "-" for a negative value. */
void cli_fmt_bytes(struct strbuf *out, double bytes);
/* "5s ago", "3m ago", "2h ago", "4d ago" from time `when` (RFC 3339) to
 * now; "-" when when is NULL or not a time. */
void cli_fmt_age(struct strbuf *out, const char *when, time_t now);

/*
 * A table printed with columns padded to their widest cell. align holds
 * one letter per column, 'l' or 'r'; no line ends in spaces.
 * Widths count UTF-8 characters, not bytes.
 */
struct cli_table {
	const char *align;
	size_t ncols;
	struct strvec cells;
};
void cli_table_init(struct cli_table *t, const char *align);
/* cli_table_init, then the header row: one title per column, NULL-ended. */
void cli_table_head(struct cli_table *t, const char *align, ...)
	__attribute__((sentinel));
void cli_table_add(struct cli_table *t, const char *cell);
void cli_table_addf(struct cli_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_release(struct cli_table *t);

/* Print j (indented JSON and a newline) on stdout. */
void cli_print_json(const json_t *j);

/*
 * The start of every listing command: GET path, a JSON array of what.
 * Returns 1 with *ret (decref it) when the caller prints its table;
 * 0 when it is done: the refusal reported (*rc its exit status), the
 * array printed with json, or empty (printf'ed when not NULL) printed
 * for an empty list. *rc is CLI_OK otherwise.
 */
int cli_list(struct client *c, const char *path, const char *what, int json,
	     const char *empty, json_t **ret, int *rc);

/*
 * A pipeline object with jobs (GET /api/v1/pipelines/ID) as a header and
 * a jobs table.
 */
void cli_print_pipeline(const json_t *p, FILE *f, time_t now);

/*
 * "/api/v1/projects/PROJECT/WHAT[/ITEM]" into p, PROJECT and ITEM
 * %-escaped (ITEM's '/' kept when keep_slash: a tag, a path).
 */
void cli_project_path(struct strbuf *p, const char *project, const char *what,
		      const char *item, int keep_slash);

/* ---- artifact paths --------------------------------------------------- */

/*
 * 1 if path may be written under a directory: relative, not empty, no
 * "..", "." or empty component, no trailing '/', no control character,
 * at most 4096 bytes. 0 otherwise.
 */
int cli_path_safe(const char *path);

/*
 * load_opts.project_file for cidre run and cidre lint (cmd_project_file):
 * the file from GET /api/v1/files of the server the client configuration
 * names (--server is not seen here: $CIDRE_SERVER or the config file),
 * with its token. The connection is opened at the first call. 0, or -1
 * with err (no server configured, the server's refusal, too large).
 */
int cli_project_file(void *ud, const char *project, const char *ref, const char *file,
		     size_t max, struct strbuf *out, struct strbuf *err);

/*
 * The job actions: POST /api/v1/jobs/ID/ACTION, or with -p
 * /api/v1/pipelines/ID/ACTION when pipeline_too. For cidre retry,
 * cancel, play.
 */
int cli_job_action(int argc, char **argv, const char *action,
		   int pipeline_too);

#endif
