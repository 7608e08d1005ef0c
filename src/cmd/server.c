/*
 * cidre server: the daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "server/server_main.h"

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
