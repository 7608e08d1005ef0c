/*
 * cidre sandbox-init: the trampoline a prestarted sandbox runs (see
 * src/exec/sandbox.h and docs/internals/sandbox.md). Internal: bwrap
 * runs it inside a sandbox, through a descriptor of our executable.
 */
#include "cmd/cmd.h"
#include "exec/pool.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

const char cmd_sandbox_enter_usage[] =
	"usage: cidre sandbox-enter NSDIR -- PROGRAM [ARG...]\n"
	"\n"
	"Internal: join the user and network namespaces of NSDIR (a\n"
	"/proc/PID/ns of the process that holds a job's services), then run\n"
	"PROGRAM (the job's bwrap), which finds the services on loopback.\n"
	"Not for use by hand.\n";

int cmd_sandbox_enter(int argc, char **argv)
{
	char path[4096];
	int user, net;

	if (argc < 4 || strcmp(argv[2], "--") || argv[3][0] != '/') {
		fputs(cmd_sandbox_enter_usage, stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/user", argv[1]);
	user = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/net", argv[1]);
	net = open(path, O_RDONLY | O_CLOEXEC);
	if (user < 0 || net < 0 || setns(user, CLONE_NEWUSER) < 0 ||
	    setns(net, CLONE_NEWNET) < 0) {
		fprintf(stderr, "cidre sandbox-enter: cannot join the services' "
			"namespaces in %s: %s\n", argv[1], strerror(errno));
		return 127;
	}
	close(user);
	close(net);
	execv(argv[3], argv + 3);
	fprintf(stderr, "cidre sandbox-enter: cannot run %s: %s\n", argv[3],
		strerror(errno));
	return 127;
}
