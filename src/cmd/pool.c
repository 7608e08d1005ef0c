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
	"usage: cidre pool [ls | stop] [--data DIR]\n"
	"\n"
	"The sandbox pools `cidre run --executor sandbox` left running for\n"
	"this repository: one per sandbox line (image, network, ids), each\n"
	"serving the next runs' jobs without starting bubblewrap, until it\n"
	"has been idle for CIDRE_SANDBOX_POOL_IDLE seconds (300 by default).\n"
	"With --data, those the server with data directory DIR keeps for its\n"
	"sandboxed projects' jobs instead.\n"
	"\n"
	"  ls     list them: key, pid, runs using it now, jobs served,\n"
	"         sandboxes made ahead and ready, idle limit, uptime\n"
	"  stop   tell each to end when the runs using it have, and wait\n";

int cmd_pool(int argc, char **argv)
{
	struct strbuf dir = STRBUF_INIT, out = STRBUF_INIT;
	const char *data = NULL, *verb = NULL;
	int stop = 0, n, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--data") && i + 1 < argc && *argv[i + 1])
			data = argv[++i];
		else if (!strncmp(argv[i], "--data=", 7) && argv[i][7])
			data = argv[i] + 7;
		else if (!verb && (!strcmp(argv[i], "ls") || !strcmp(argv[i], "stop")))
			verb = argv[i];
		else {
			fputs(cmd_pool_usage, stderr);
			return 2;
		}
	}
	stop = verb && !strcmp(verb, "stop");
	if (data) {
		strbuf_addf(&dir, "%s/sandbox/" POOL_DIR, data);
	} else if (run_repo_top(&dir) < 0) {
		fprintf(stderr, "cidre pool: not in a git repository\n");
		strbuf_release(&dir);
		return 2;
	} else {
		strbuf_addstr(&dir, "/.cidre/" POOL_DIR);
	}
	n = pool_daemons(dir.buf, stop, &out);
	if (n < 0) {
		fprintf(stderr, "cidre pool: %s is not this user's alone (it must be "
			"yours, mode 0700): no pool is used from it%s\n", dir.buf,
			data ? "; run cidre pool as the server's user" : "");
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
