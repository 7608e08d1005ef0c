/*
 * cidre job-exec SPEC: the job supervisor the server's embedded runner
 * starts for each job (internal; see src/server/supervisor.h).
 */
#include <stdio.h>

#include "cmd/cmd.h"
#include "server/supervisor.h"

const char cmd_job_exec_usage[] =
	"usage: cidre job-exec SPEC\n"
	"\n"
	"Internal: run one server job described by the JSON file SPEC and write\n"
	"its result. The server's embedded runner starts it; people do not.\n";

int cmd_job_exec(int argc, char **argv)
{
	if (argc != 2) {
		fputs(cmd_job_exec_usage, stderr);
		return 2;
	}
	return supervisor_main(argv[1]);
}
