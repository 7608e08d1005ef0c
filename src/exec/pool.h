#ifndef CIDRE_POOL_H
#define CIDRE_POOL_H

/*
 * Sandboxes from a pool (docs/internals/sandbox.md, "Pools"): one bwrap
 * per sandbox line (image, network, ids) for a whole `cidre run`, whose
 * command is our own `sandbox-init pool`; it makes each job's sandbox
 * inside it with clone(): new mount, pid, ipc, uts (and network)
 * namespaces, the job's own workspace, /tmp, /dev and /proc, the job's
 * cgroup, every capability dropped before the job's exec. What a job
 * sees is what a sandbox of its own shows; what it costs is a clone
 * and a few mounts instead of a bwrap. A pool can outlive its run
 * (pool_warm: a daemon listening in the repository's .cidre/pools),
 * and then makes the next jobs' mount and network namespaces ahead,
 * at idle priority, and takes back a job's network namespace when
 * nothing of the job is left in it ("Pool daemons").
 */

#include <sys/resource.h>
#include <sys/types.h>

#include "util/strbuf.h"
#include "util/strvec.h"

struct cgroup;

/* What pool_spawn needs of a job. */
struct pool_spawn_opts {
	char *const *init_argv;   /* the job's sandbox_init_argv line */
	int exe_fd;               /* sandbox_init_exe() */
	const char *workdir;      /* the job's workspace on this host */
	int out_w;                /* the job's stdout and stderr */
	int devnull;              /* its stdin */
	const struct cgroup *cg;  /* its cgroup, made (and limited), or
				     one of version CGROUP_NONE: see below */
	int must_join;            /* fail if the cgroup cannot be joined */
};

/*
 * Start a job's sandbox in the pool for its line, started first if it
 * is not running yet. On success *ctl is our end of the job's stream
 * socket: the job's sandbox_job message goes there at its release, and
 * pool_read reads what comes back. The pool ends when this process
 * does (the zygote reads EOF), unless it is a daemon (pool_warm). 0, or -1 with the reason in err (a line
 * no pool can serve, bwrap gone): the job then starts as usual.
 */
int pool_spawn(const struct pool_spawn_opts *o, int *ctl, struct strbuf *err);

/*
 * After the job's message, one byte on ctl is a signal (1..64) for
 * every process of the job's sandbox, which its init sends: how a job
 * without a cgroup is told to end (a timeout's SIGTERM, then SIGKILL).
 * Our end's hang-up (shutdown or close) makes the init kill them all
 * and stop serving.
 */
#define POOL_SIGNAL_MAX 64

/*
 * Start, now, the pool whose line is kept in the file at path (by the
 * last process that called this with the same path, from the first
 * pool it made), if it runs our bwrap and our zygote: its set-up then
 * overlaps what the caller does before its first job (`cidre run`:
 * the working tree's facts, the plan). Remembers path to keep this
 * process's first line in.
 *
 * With idle > 0, pools are daemons that outlive this process: each
 * listens in POOL_DIR beside path (a socket named by a hash of its
 * line and our executable), serves every later process that asks for
 * its line, and ends idle seconds after its last session did (or at
 * once if its root or workspaces' directory is gone). The next run's
 * jobs then start without a bwrap's start at all. With idle 0 (or
 * without this call), a pool ends with this process.
 */
void pool_warm(const char *path, const char *bwrap, int exe_fd, int idle);

/*
 * $CIDRE_SANDBOX_POOL_IDLE (v, may be NULL): the idle seconds a daemon
 * stays, 0 to 86400; dflt when unset; -1 when not such a number.
 */
int pool_idle_env(const char *v, int dflt);

/* pool_warm's daemons' directory, beside its file */
#define POOL_DIR "pools"
/* how long a daemon stays without a session unless told (seconds) */
#define POOL_IDLE_DEFAULT 300

/*
 * The daemons listening in dir: a line "KEY PID SESSIONS JOBS READY
 * IDLE UPTIME" (tab-separated; PID as this process sees it; JOBS
 * served, READY sandboxes made ahead) for each in out; with
 * stop, each is told to end when its last session does, and with stop
 * 1 waited for (up to 5 s each). The count, or -1 (dir not ours).
 */
int pool_daemons(const char *dir, int stop, struct strbuf *out);

/* What pool_read saw. */
struct pool_status {
	int mntns;               /* 'R': the job's mount namespace; -1 */
	int done;                /* the job's main process ended */
	int status;              /* its wait status (done) */
	struct rusage ru;        /* its children's usage (done) */
};

/*
 * Read what the job's init sent on ctl (non-blocking): 1 when its end
 * was read (or the socket closed: the init died, status SIGKILL), 0
 * when not yet, st->mntns set when it came.
 */
int pool_read(int ctl, struct pool_status *st);

/*
 * The pool line for a job's trampoline line: capabilities kept for our
 * init, no per-job mounts (the workspaces' directory at /tmp), ending
 * "sandbox-init pool", the pool root of its user namespace. Also the
 * workspace's name in that directory, the project directory inside,
 * whether the job has a network namespace, its uid and gid. 0, or -1 when the line is not one
 * sandbox_argv made.
 */
int pool_argv(char *const *init_argv, const char *workdir, struct strvec *out,
	      char **slug, char **project_dir, int *net, long *uid, long *gid);

/* The zygote itself: `cidre sandbox-init pool`, inside the sandbox. */
int pool_main(void);

#endif
