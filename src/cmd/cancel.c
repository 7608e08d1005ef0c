/*
 * cidre cancel: stop a job, or every unfinished job of a pipeline.
 */
#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_cancel_usage[] =
	"usage: cidre cancel JOB_ID\n"
	"       cidre cancel -p PIPELINE_ID\n"
	"\n"
	"Cancel a job (its whole process tree is killed), or with -p every\n"
	"unfinished job of a pipeline. Needs a token.\n"
	"\n"
	"options:\n"
	"  -p, --pipeline     the id is a pipeline's\n"
	"      --json         print the server's JSON answer\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 the server refused (e.g. no such job),\n"
	"2 usage error or the server cannot be reached.\n";

int cmd_cancel(int argc, char **argv)
{
	return cli_job_action(argc, argv, "cancel", 1);
}
