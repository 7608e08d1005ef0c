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

/*
 * The job launcher: `cidre job-launcher`, started once by the server,
 * forks each job's supervisor from its own process, already past
 * exec and libc's start-up, instead of an exec per job. What the child
 * gets is what spawn_detached() gives (a new session, stdin /dev/null,
 * stdout+stderr appended to the log, no other descriptor, default
 * signals); it then runs run(spec) and exits with its status. The
 * launcher is not the supervisors' parent in the server's eyes: it
 * reaps them itself, and the server watches them by pidfd, as it does
 * the ones it re-attached to after a restart.
 */
struct launcher;

/*
 * Start self (the cidre binary) as the launcher of the specs in specdir
 * (its command line says which server it serves). NULL with err.
 */
struct launcher *launcher_start(const char *self, const char *specdir, struct strbuf *err);
/*
 * Have the launcher start a supervisor for spec, its output appended to
 * errlog. 0 with *ret_pid and *ret_pidfd set; -2 with err when this
 * start failed (the log cannot be opened, fork failed); -1 with err when
 * the launcher itself is gone or does not answer (launcher_stop it).
 */
int launcher_spawn(struct launcher *l, const char *spec, const char *errlog,
		   pid_t *ret_pid, int *ret_pidfd, struct strbuf *err);
/* Close the launcher's socket (it exits) and reap it. */
void launcher_stop(struct launcher *l);
/*
 * The launcher's loop on socket fd, until the server closes it; it
 * starts only specs directly in specdir.
 */
int launcher_serve(int fd, const char *specdir, int (*run)(const char *spec));

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
