/*
 * cidre retry: a new attempt of a job, or of a pipeline's failed jobs.
 */
#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_retry_usage[] =
	"usage: cidre retry JOB_ID\n"
	"       cidre retry -p PIPELINE_ID\n"
	"\n"
	"Start a new attempt of a finished job (the old attempt is kept, marked\n"
	"retried), or with -p of every failed or canceled job of a pipeline.\n"
	"Needs a token.\n"
	"\n"
	"options:\n"
	"  -p, --pipeline     the id is a pipeline's\n"
	"      --json         print the server's JSON answer\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (e.g. the job is still\n"
	"running), 2 usage error or the server cannot be reached.\n";

int cmd_retry(int argc, char **argv)
{
	return cli_job_action(argc, argv, "retry", 1);
}
