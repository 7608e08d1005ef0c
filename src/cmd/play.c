/*
 * cidre play: start a manual job.
 */
#include "client/cli.h"
#include "cmd/cmd.h"

const char cmd_play_usage[] =
	"usage: cidre play JOB_ID\n"
	"\n"
	"Start a manual job (when: manual) that waits for someone to run it.\n"
	"Needs a token.\n"
	"\n"
	"options:\n"
	"      --json         print the server's JSON answer\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 started, 1 the server refused (e.g. the job is not\n"
	"manual), 2 usage error or the server cannot be reached.\n";

int cmd_play(int argc, char **argv)
{
	return cli_job_action(argc, argv, "play", 0);
}
