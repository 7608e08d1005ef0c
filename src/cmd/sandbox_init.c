/*
 * cidre sandbox-init: the trampoline a prestarted sandbox runs (see
 * src/exec/sandbox.h and docs/internals/sandbox.md). Internal: bwrap
 * runs it inside a sandbox, through a descriptor of our executable.
 */
#include "cmd/cmd.h"
#include "exec/pool.h"
#include <string.h>

#include "exec/sandbox.h"

const char cmd_sandbox_init_usage[] =
	"usage: cidre sandbox-init\n"
	"\n"
	"Internal: inside a sandbox cidre started ahead of a job, wait for\n"
	"the job's command, environment and directory on descriptor 4, then\n"
	"run it. Not for use by hand.\n"
	"\n"
	"cidre sandbox-init pool: the sandbox of a pool, which makes each\n"
	"job's own sandbox inside it when asked on descriptor 4.\n";

int cmd_sandbox_init(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "pool"))
		return pool_main();
	if (argc != 1)
		return 127;
	return sandbox_init_main();
}
