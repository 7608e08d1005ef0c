#ifndef CIDRE_CLIENT_WAIT_H
#define CIDRE_CLIENT_WAIT_H

#include <stdint.h>

#include <jansson.h>

#include "client/client.h"
#include "util/strbuf.h"

/*
 * Wait until pipeline id is final (or waits for a manual job), printing
 * each job's status change to stderr ("job ID NAME: STATUS"): its status
 * events as they happen; if they cannot be followed (an older server, a
 * stream that keeps dropping), asking for it soon, then less and less
 * often (up to every second). Returns 0 and *ret (the pipeline at its
 * end, read once more; when !full and the events said how it ended, only
 * {"id", "status"}), or a CLIENT_E* code with err set.
 */
int cli_wait_pipeline(struct client *c, int64_t id, int full, json_t **ret,
		      struct strbuf *err);

#endif
