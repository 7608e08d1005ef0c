/*
 * cidre log: a job's log, whole or followed live.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_log_usage[] =
	"usage: cidre log [-f] JOB_ID\n"
	"\n"
	"Print the log of a job. With -f, follow it live (server-sent events)\n"
	"until the job ends; a dropped connection is resumed where it stopped.\n"
	"\n"
	"options:\n"
	"  -f, --follow       follow the log until the job ends\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 the job succeeded (without -f: also when it has not\n"
	"finished yet), 1 it failed, was canceled or skipped (with -f: did not\n"
	"succeed), or the server refused, 2 usage error or the server cannot be\n"
	"reached.\n";

static int write_out(void *ctx, const char *buf, size_t len)
{
	FILE *f = ctx;

	if (fwrite(buf, 1, len, f) != len)
		return -1;
	return fflush(f) ? -1 : 0;
}

static int status_exit(const char *status, int followed)
{
	if (!strcmp(status, "success"))
		return CLI_OK;
	if (followed || !strcmp(status, "failed") || !strcmp(status, "canceled"))
		return CLI_FAILED;
	return CLI_OK;
}

static int whole_log(struct client *c, int64_t id)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *job = NULL;
	const char *status = "";
	int rc;

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64, id);
	rc = client_request(c, "GET", path.buf, NULL, &job, &err);
	if (!rc) {
		status = cli_str(job, "status", "");
		strbuf_addstr(&path, "/log");
		rc = client_get_stream(c, path.buf, 0, write_out, stdout, &err);
		if (rc == CLIENT_ELOCAL)
			strbuf_addstr(&err, "cannot write the log to standard output");
	}
	rc = rc ? cli_report(rc, &err) : status_exit(status, 0);
	json_decref(job);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int follow_log(struct client *c, int64_t id)
{
	struct strbuf err = STRBUF_INIT;
	char *status = NULL;
	int64_t offset = 0;
	int rc;

	rc = client_follow_log(c, id, &offset, write_out, stdout, &status, &err);
	if (rc == CLIENT_ELOCAL && !err.len)
		strbuf_addstr(&err, "cannot write the log to standard output");
	if (rc) {
		rc = cli_report(rc, &err);
	} else {
		if (strcmp(status, "success"))
			fprintf(stderr, "cidre: job %" PRId64 " %s\n", id, status);
		rc = status_exit(status, 1);
	}
	free(status);
	strbuf_release(&err);
	return rc;
}

int cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts copts = { NULL, NULL };
	struct client c = CLIENT_INIT;
	int follow = 0, ch, rc;
	int64_t id;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &copts))
			continue;
		if (ch == 'f')
			follow = 1;
		else
			return cli_usage_error("log", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
	}
	if (optind + 1 != argc)
		return cli_usage_error("log", "wants one job id");
	if (cli_parse_id(argv[optind], &id) < 0)
		return cli_usage_error("log", "'%s' is not a job id", argv[optind]);
	rc = cli_open(&c, &copts);
	if (rc)
		return rc;
	rc = follow ? follow_log(&c, id) : whole_log(&c, id);
	client_close(&c);
	return rc;
}
