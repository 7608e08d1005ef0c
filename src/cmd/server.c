/*
 * cidre server: the daemon.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "server/server_main.h"
#include "util/xalloc.h"

const char cmd_server_usage[] =
	"usage: cidre server [--data DIR] [--listen ADDR] [--config FILE] [-n]\n"
	"\n"
	"Run the cidre server: the REST API, the git hook and forge webhook\n"
	"endpoints, the scheduler and the embedded runner. Every push to a\n"
	"project's repository builds; results are kept in DIR.\n"
	"\n"
	"  -d, --data DIR      data directory (default: $CIDRE_DATA, else ./cidre-data):\n"
	"                      cidre.db, repos/, logs/, artifacts/, cache/, work/\n"
	"  -l, --listen ADDR   address to listen on, e.g. 127.0.0.1:8080, [::1]:0\n"
	"                      (port 0: any free port; DIR/server-url says which)\n"
	"  -c, --config FILE   configuration file (default: DIR/config.yml, optional)\n"
	"  -n                  check the configuration, say so, and exit\n"
	"\n"
	"On first start the server creates an admin API token in DIR/admin-token\n"
	"(mode 0600). SIGHUP re-reads the configuration (an invalid one is not\n"
	"used); SIGTERM stops the server, leaving running jobs to finish: the next\n"
	"start picks their results up. See docs/server.md.\n";

/*
 * Each thread of a glibc process keeps a malloc cache of its own (the
 * tcache: up to 7 free chunks of every small size), given back only when
 * the thread ends. Spread over the server's long-lived threads it was
 * most of the server's growth over its first jobs (docs/internals/
 * server.md, "Memory"). It can only be turned off when the process
 * starts, by a tunable in its environment: the server execs itself once
 * with it added, and the second start puts the environment back as it
 * was, for the processes the server starts (git, job supervisors, jobs).
 * A GLIBC_TUNABLES that sets the tcache already is left alone.
 */
#define TUNED_VAR  "CIDRE_SERVER_TUNABLES"   /* "-": was unset; "=V": was V */
#define TCACHE_OFF "glibc.malloc.tcache_count=0"

static void restore_tunables(const char *was)
{
	if (*was == '=')
		setenv("GLIBC_TUNABLES", was + 1, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	unsetenv(TUNED_VAR);
}

/* argv: the whole command line (program name first), as execv() takes it */
static void tune_malloc(char **argv)
{
	const char *was = getenv(TUNED_VAR);
	const char *cur = getenv("GLIBC_TUNABLES");
	char *mark, *v, self[PATH_MAX];
	ssize_t n;

	if (was) {
		restore_tunables(was);
		return;
	}
	if (cur && strstr(cur, "glibc.malloc.tcache_count"))
		return;
	mark = cur ? xasprintf("=%s", cur) : xstrdup("-");
	v = cur && *cur ? xasprintf("%s:%s", cur, TCACHE_OFF) : xstrdup(TCACHE_OFF);
	/* by its path, not /proc/self/exe: the process keeps its name */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (setenv(TUNED_VAR, mark, 1) == 0 && setenv("GLIBC_TUNABLES", v, 1) == 0)
			execv(self, argv);
	}
	/* could not: the default malloc, and the environment as it was */
	restore_tunables(mark);
	free(mark);
	free(v);
}

int cmd_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct server_opts o = { 0 };
	int c;

	/* main() passes the arguments after the program's name */
	tune_malloc(argv - 1);
	o.data = getenv("CIDRE_DATA");
	while ((c = getopt_long(argc, argv, "d:l:c:nh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.data = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'n':
			o.check = 1;
			break;
		case 'h':
			fputs(cmd_server_usage, stdout);
			return 0;
		default:
			fputs(cmd_server_usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cidre server: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.data || !*o.data)
		o.data = "cidre-data";
	return server_main(&o);
}
