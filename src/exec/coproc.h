#ifndef CIDRE_COPROC_H
#define CIDRE_COPROC_H

/*
 * A helper process spoken to through pipes: its stdin is ours to write,
 * its stdout ours to read, its stderr is ours (the server's log). Used
 * by the notify thread for its delivery worker.
 */

#include <sys/types.h>

#include "util/strbuf.h"

struct coproc {
	pid_t pid;
	int in;     /* write end of its stdin (O_CLOEXEC), -1 once closed */
	int out;    /* read end of its stdout (O_CLOEXEC, O_NONBLOCK) */
};

/*
 * Start argv (argv[0] an absolute path) with default signal dispositions,
 * an empty signal mask and no descriptor of ours but the two pipes. 0 with *c filled, or -1 with err.
 */
int coproc_start(const char *const *argv, struct coproc *c, struct strbuf *err);
/*
 * End it: close its stdin (it should exit), SIGTERM it when term, reap
 * it, close our ends. Waits at most about a second before SIGKILL.
 */
void coproc_end(struct coproc *c, int term);

#endif
