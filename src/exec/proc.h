#ifndef CIDRE_PROC_H
#define CIDRE_PROC_H

/*
 * The shell executor's process layer: run a script with bash in its own
 * process group (and its own cgroup where the machine allows), stream its
 * combined stdout/stderr to a callback, enforce a timeout, honour a cancel
 * file descriptor, and account peak memory and CPU time of the whole tree.
 * This is the only module that forks or execs jobs.
 */

#include <stddef.h>

#include "util/strbuf.h"

struct proc_spec {
	const char *name;          /* for messages and the cgroup name */
	const char *workdir;       /* cwd; must exist */
	char *const *env;          /* complete environment, NULL-terminated */
	const char *script;        /* bash script text (see proc_script_*) */
	int timeout_sec;           /* 0: none */
	int cancel_fd;             /* becomes readable to cancel; -1: none */
	int kill_grace_ms;         /* SIGTERM -> SIGKILL delay; 0: 2000 */
	/* Output in arbitrary chunks, in order, from the calling thread. */
	void (*on_output)(void *ud, const char *data, size_t len);
	void *ud;
};

struct proc_result {
	int exit_code;             /* 0..255; 128+N when killed by signal N */
	int signal;                /* terminating signal or 0 */
	int timed_out;
	int canceled;
	long long peak_mem;        /* bytes, whole tree; -1 unknown */
	double cpu_user, cpu_sys;  /* seconds, whole tree */
	double wall;               /* seconds */
	const char *accounting;    /* "cgroup2", "cgroup1" or "rusage" */
};

/*
 * Run spec->script with `bash --noprofile --norc -e -o pipefail` and wait
 * for the whole process group to finish (or be killed). Returns 0 when the
 * script ran (whatever its exit status), -1 if it could not be started
 * (reason in err).
 */
int proc_run(const struct proc_spec *spec, struct proc_result *res,
	     struct strbuf *err);

/*
 * Build the bash script for a list of commands the way GitLab's runner
 * does: each command echoed as "$ cmd" (green on colour) before it runs,
 * stop at the first failing command. Appends to out.
 */
void proc_script_build(struct strbuf *out, char *const *cmds, size_t nr,
		       int colour);

#endif
