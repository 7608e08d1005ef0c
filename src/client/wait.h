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

/*
 * The exit status of a wait for the pipeline done: CLI_OK when it
 * succeeded (or was skipped), else CLI_FAILED, saying so on stderr when
 * it waits for a manual job.
 */
int cli_wait_outcome(const json_t *done);

#endif
