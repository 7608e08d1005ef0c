/*
 * cidre job-exec SPEC: the job supervisor the server's embedded runner
 * starts for each job (internal; see src/server/supervisor.h), and
 * cidre job-launcher, which forks those supervisors for a server
 * (src/exec/spawn.h).
 */
#include <stdio.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "exec/cgroup.h"
#include "exec/spawn.h"
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

const char cmd_job_launcher_usage[] =
	"usage: cidre job-launcher SPECDIR\n"
	"\n"
	"Internal: the server starts it once, with a socket on descriptor 3, and\n"
	"it forks a job supervisor (as job-exec) for each spec in SPECDIR the\n"
	"server asks for. It ends when the server closes the socket. People do\n"
	"not run it.\n";

int cmd_job_launcher(int argc, char **argv)
{
	struct stat st;

	if (argc != 2 || fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fputs(cmd_job_launcher_usage, stderr);
		return 2;
	}
	/*
	 * What every supervisor would find out for itself, found once and
	 * inherited by each fork: the cgroup hierarchies (~15 system calls
	 * a job) and jansson's hash seed (a read of /dev/urandom).
	 */
	cgroup_discover();
	json_object_seed(0);
	return launcher_serve(3, argv[1], supervisor_main);
}
