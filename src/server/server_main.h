#ifndef CIDRE_SERVER_MAIN_H
#define CIDRE_SERVER_MAIN_H

/* `cidre server`: the daemon's entry point (src/cmd/server.c calls it). */

struct server_opts {
	const char *data;    /* data directory (created) */
	const char *listen;  /* overrides the config's listen */
	const char *config;  /* NULL: DATA/config.yml, which may be missing */
	int check;           /* -n: check the configuration and exit */
};

/* Runs until SIGTERM/SIGINT; the process exit status. */
int server_main(const struct server_opts *o);

#endif
