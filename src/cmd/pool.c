/*
 * cidre pool ls|stop: the sandbox pools `cidre run` keeps for a
 * repository (exec/pool.h, docs/sandbox.md "Pools").
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "exec/pool.h"
#include "util/strbuf.h"

const char cmd_pool_usage[] =
	"usage: cidre pool [ls | stop]\n"
	"\n"
	"The sandbox pools `cidre run --executor sandbox` left running for\n"
	"this repository: one per sandbox line (image, network, ids), each\n"
	"serving the next runs' jobs without starting bubblewrap, until it\n"
	"has been idle for CIDRE_SANDBOX_POOL_IDLE seconds (300 by default).\n"
	"\n"
	"  ls     list them: key, pid, runs using it now, jobs served,\n"
	"         sandboxes made ahead and ready, idle limit, uptime\n"
	"  stop   tell each to end when the runs using it have, and wait\n";

int cmd_pool(int argc, char **argv)
{
	struct strbuf dir = STRBUF_INIT, out = STRBUF_INIT;
	int stop = 0, n;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "ls") &&
			 strcmp(argv[1], "stop"))) {
		fputs(cmd_pool_usage, stderr);
		return 2;
	}
	stop = argc == 2 && !strcmp(argv[1], "stop");
	if (run_repo_top(&dir) < 0) {
		fprintf(stderr, "cidre pool: not in a git repository\n");
		strbuf_release(&dir);
		return 2;
	}
	strbuf_addstr(&dir, "/.cidre/" POOL_DIR);
	n = pool_daemons(dir.buf, stop, &out);
	if (n < 0) {
		fprintf(stderr, "cidre pool: %s is not this user's alone: "
			"no pool is used from it\n", dir.buf);
		strbuf_release(&dir);
		strbuf_release(&out);
		return 1;
	}
	if (!stop && n)
		printf("KEY\tPID\tRUNS\tJOBS\tREADY\tIDLE\tUPTIME\tWAITING\n%s", out.buf);
	else if (stop)
		printf("%d pool%s stopped\n", n, n == 1 ? "" : "s");
	strbuf_release(&dir);
	strbuf_release(&out);
	return 0;
}
