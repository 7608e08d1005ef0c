#ifndef CIDRE_CLIENT_PULL_H
#define CIDRE_CLIENT_PULL_H
/*
 * Pulling an image from a registry (the OCI distribution API, Docker
 * Hub's tokens): libcurl's, so cidre-client's only. The static cidre
 * runs `cidre-client image pull` for it. docs/internals/registry.md.
 */
#include <stdio.h>

#include "util/strbuf.h"

struct pull_opts {
	const char *store;      /* the image store (absolute) */
	const char *auth;       /* a Docker config's JSON (DOCKER_AUTH_CONFIG),
				   or NULL: the files' */
	FILE *progress;         /* "pulling layer 2 of 7 (88.2 MB)", or NULL */
};

/*
 * Pull the image name (a reference: node:20, registry:5000/team/app:1,
 * …@sha256:…) for this machine's platform, unpack it into the store and
 * register it under name. Nothing is downloaded when the store has its
 * manifest's image already. 0 with a line for the user in msg, or -1
 * with the reason in err.
 */
int pull_image(const struct pull_opts *o, const char *name, struct strbuf *msg,
	       struct strbuf *err);

/* cidre image pull NAME... (argv[0] "pull"), into store. */
int pull_cmd(const char *store, int argc, char **argv);

#endif
