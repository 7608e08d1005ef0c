#ifndef CIDRE_SPAWN_H
#define CIDRE_SPAWN_H

/*
 * Long-lived helper processes of the server (job supervisors): started
 * in their own session so that they outlive the server, watched through
 * a pidfd, and recognised again after a restart by pid + start time.
 */

#include <stdint.h>
#include <sys/types.h>

#include "util/strbuf.h"

/*
 * Start argv (argv[0] an absolute path) in a new session with stdin
 * /dev/null and stdout+stderr appended to errlog, no other descriptor,
 * default signal dispositions. *ret_pid and *ret_pidfd (O_CLOEXEC; -1
 * when the kernel has no pidfd_open) are set. 0, or -1 with err.
 */
int spawn_detached(const char *const *argv, const char *errlog, pid_t *ret_pid,
		   int *ret_pidfd, struct strbuf *err);

/* The start time of pid (/proc/PID/stat field 22, clock ticks); -1 if gone. */
int64_t spawn_start_time(pid_t pid);

/*
 * Re-attach to a process started before a restart: a pidfd for pid if it
 * still runs with this start time, else -1 (gone or pid reused).
 */
int spawn_attach(pid_t pid, int64_t start_time);

/* Reap pid if it is our child (no-op otherwise). */
void spawn_reap(pid_t pid);

/* The path of the running executable (for argv[0] of re-executions). */
const char *spawn_self_exe(void);

/* NAME in the running executable's directory (malloc'ed). */
char *spawn_sibling(const char *name);

/*
 * Replace this process with the sibling executable name, argv[0] set to
 * its path and the rest of argv kept. Returns only on failure (err says
 * why).
 */
void spawn_exec_sibling(const char *name, char **argv, struct strbuf *err);

#endif
