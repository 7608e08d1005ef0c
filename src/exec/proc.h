#ifndef CIDRE_PROC_H
#define CIDRE_PROC_H

/*
 * The shell executor's process layer: run a script with bash in its own
 * process group (and its own cgroup where the machine allows), stream its
 * combined stdout/stderr to a callback, enforce a timeout, honour a cancel
 * file descriptor, and account peak memory and CPU time of the whole tree.
 * This is the only module that forks or execs jobs.
 */

#include <sched.h>
#include <signal.h>
#include <stddef.h>

#include "util/strbuf.h"

/*
 * Resource limits of one job, applied through its cgroup (see
 * docs/sandbox.md). 0 in a field: no limit of that kind.
 */
struct proc_limits {
	long long memory;          /* bytes (swap not allowed beyond it) */
	long long pids;            /* processes and threads */
	double cpus;               /* CPUs' worth of time (0.5, 2) */
};

#define PROC_LIMITS_SET(l) ((l) && ((l)->memory > 0 || (l)->pids > 0 || \
				     (l)->cpus > 0))

#define PROC_MAX_SIDE 16

struct proc_spec {
	const char *name;          /* for messages and the cgroup name */
	const char *workdir;       /* cwd; must exist */
	char *const *env;          /* complete environment, NULL-terminated */
	const char *script;        /* bash script text (see proc_script_*) */
	int timeout_sec;           /* 0: none */
	int cancel_fd;             /* becomes readable to cancel; -1: none */
	int kill_grace_ms;         /* SIGTERM -> SIGKILL delay; 0: 2000 */
	/*
	 * Output in arbitrary chunks, in order, from the calling thread.
	 * Nonzero when it cannot be kept (its log cannot be written): the
	 * job is then stopped as a cancel would (res->output_lost).
	 */
	int (*on_output)(void *ud, const char *data, size_t len);
	void *ud;
	/*
	 * Called (with ud, from the calling thread) once the job's process
	 * runs: bash exec'd, or a sandbox released. Work of the caller that
	 * can overlap the job goes here; its output waits in the pipe
	 * meanwhile. NULL: none.
	 */
	void (*on_start)(void *ud);
	/*
	 * More pipes read while the job runs (its services' output, which
	 * must not fill its pipe): on_side(ud, i), from the calling thread,
	 * when side_fds[i] (>= 0) is readable or at its end; it reads, and
	 * sets side_fds[i] to -1 once it is done. At most PROC_MAX_SIDE.
	 */
	int *side_fds;
	size_t side_nr;
	void (*on_side)(void *ud, size_t i);
	/*
	 * Sandbox: argv (NULL-terminated, argv[0] an absolute path) that
	 * runs the rest of the command line inside it (bwrap ... --); the
	 * shell named by shell (absolute, inside the sandbox) then runs
	 * the script. NULL: on this host, with bash.
	 */
	char *const *wrap;
	const char *shell;
	/*
	 * Sandbox: words run before the shell's (NULL-terminated, the
	 * first a path inside), which then run it as Docker's ENTRYPOINT
	 * runs a container's command: [entrypoint..., shell, options...,
	 * -c, script]. NULL: the shell itself.
	 */
	char *const *entrypoint;
	/*
	 * > 2: wrap is bwrap and its argv has --info-fd N with this N:
	 * proc_run gives it a pipe there, and holds the sandbox's mount
	 * namespace from then on, so that tearing it down is not part of
	 * the job's end (see docs/internals/exec.md). 0: none.
	 */
	int wrap_info_fd;
	/*
	 * > 2: wrap has --block-fd N with this N (bwrap sets the sandbox up,
	 * then waits for a byte there before it execs the shell): proc_run
	 * gives it a socket and writes the byte when the job starts. This is
	 * what lets a sandbox be prestarted (proc_prestart). 0: none.
	 */
	int wrap_block_fd;
	/*
	 * How proc_prestart starts a sandbox so that nothing of the job is
	 * fixed then (docs/internals/sandbox.md, "The trampoline"):
	 * init_argv is its complete command line, running a trampoline
	 * (sandbox_init_argv: no --block-fd) that reads the job's argv,
	 * environment and directory (init_cwd, inside the sandbox) from
	 * the socket at wrap_block_fd when proc_run releases it; init_exe
	 * is the trampoline's executable, given to bwrap at init_exe_at.
	 * NULL init_argv: bwrap waits on the block fd itself and then runs
	 * the shell, the job's whole spec fixed at the start.
	 */
	char *const *init_argv;
	const char *init_cwd;
	int init_exe, init_exe_at;
	/*
	 * A sandbox started ahead for this job (proc_prestart), or NULL.
	 * proc_run takes it: used when it was started from a spec equal to
	 * this one in everything its set-up depends on, else discarded and
	 * the job started afresh. Through a trampoline: the command line
	 * (image, workspace, network, ids), limits, workdir and its inode;
	 * the job's argv, environment and cwd are sent at the release.
	 * Without: also the shell, script, environment and cwd.
	 */
	struct proc_prestart *prestart;
	/*
	 * 1: a prestart through a trampoline may make the job's sandbox in
	 * the pool for its line (exec/pool.h: one bwrap for every such job
	 * of this process, which must be the only user of the workspaces'
	 * directory; `cidre run`). 0: a bwrap of its own.
	 */
	int pool;
	/* Limits; NULL or all 0: none. A job with limits that cannot be
	   applied (no usable cgroup) does not start. */
	const struct proc_limits *limits;
};

struct proc_result {
	int exit_code;             /* 0..255; 128+N when killed by signal N */
	int signal;                /* terminating signal or 0 */
	int timed_out;
	int canceled;
	int output_lost;           /* stopped: on_output could not keep its output */
	long long peak_mem;        /* bytes, whole tree; -1 unknown */
	double cpu_user, cpu_sys;  /* seconds, whole tree */
	double wall;               /* seconds */
	const char *accounting;    /* "cgroup2", "cgroup1" or "rusage" */
	long long oom_kills;       /* processes the OOM killer ended (cgroup) */
	long long pids_refused;    /* forks refused by the pids limit */
	int prestarted;            /* ran in spec->prestart (it matched) */
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
 * Start a sandboxed job's sandbox ahead of the job (spec->wrap with
 * wrap_block_fd; spec->workdir must exist): its cgroup made, limited
 * and joined, bwrap started with everything set up (namespaces,
 * mounts, loopback), waiting on its block fd. Nothing of the job runs
 * until proc_run(spec with .prestart) releases it; spec->timeout_sec,
 * cancel_fd, on_output and ud are taken from that later spec. The
 * sandbox dies with the calling thread (bwrap --die-with-parent): call
 * from a thread that outlives the job's start. Returns the handle, or
 * NULL with the reason in err (the job can still start the usual way).
 */
struct proc_prestart *proc_prestart(const struct proc_spec *spec,
				    struct strbuf *err);

/*
 * Pin the calling thread to the CPU it runs on, its affinity saved in
 * *saved: 1, or 0 (nothing changed). For a vfork-like clone: the child,
 * born with that affinity on the CPU the parent leaves to it, restores
 * *saved first (see spawn_child).
 */
int proc_pin_here(cpu_set_t *saved);

/*
 * Whether a prestarted sandbox is still being set up, i.e. uses a CPU:
 * 1, with *fd (if fd) the descriptor that becomes readable when it is
 * done (a pool's sandbox says "ready"), or -1 when there is none to
 * wait on (a bwrap of its own counts as busy until its job starts); 0
 * once it waits for its job, using nothing.
 */
int proc_prestart_busy(struct proc_prestart *p, int *fd);

/*
 * Tear down a prestarted sandbox that will not be used: every process
 * killed and waited for, its cgroup removed. Accepts NULL.
 */
void proc_prestart_discard(struct proc_prestart *p);

/*
 * Get ready, in the background, for jobs about to start. Call early,
 * before reading the pipeline; never fails. Nothing needs it at present
 * (v1 jobs join their cgroup through `tasks`, which has no lock to warm);
 * kept as the place for such work.
 */
void proc_prewarm(void);
/*
 * Wait for what proc_prewarm started and remove the cgroups kept for
 * reuse by later jobs (see cgroup_release); call before exiting.
 */
void proc_prewarm_finish(void);

/*
 * Every signal's default disposition, none blocked: what a process we
 * exec starts with (ignored signals survive exec). Async-signal-safe:
 * for a child between fork and exec.
 */
void proc_signals_default(void);
/*
 * For a process that started with every disposition at its default
 * (the server's job supervisor): set holds all it changed since, and
 * proc_signals_default() then resets only those (each of the 62 others
 * was one sigaction per job started).
 */
void proc_signals_changed_only(const sigset_t *set);

/*
 * Build the bash script for a list of commands the way GitLab's runner
 * does: each command echoed as "$ cmd" (green on colour) before it runs,
 * stop at the first failing command. Appends to out.
 */
void proc_script_build(struct strbuf *out, char *const *cmds, size_t nr,
		       int colour);

/*
 * A short helper command whose output we read (git, for the working
 * tree's facts): stdin /dev/null, stdout captured up to max_out bytes,
 * stderr captured up to PROC_CAPTURE_ERR_MAX bytes (the rest dropped).
 * Not for jobs: no process group, no cgroup, no timeout; signal
 * dispositions and mask reset to defaults; no descriptor but 0..2 leaks.
 */
#define PROC_CAPTURE_ERR_MAX 4096

struct proc_capture {
	const char *const *argv;   /* argv[0] looked up in PATH */
	const char *cwd;           /* NULL: the caller's */
	/* Changes to our environment: "NAME=value" sets, "NAME" unsets. */
	const char *const *env;
	size_t max_out;            /* stdout cap, bytes */
	struct strbuf out;         /* stdout */
	struct strbuf errout;      /* stderr (capped) */
	int status;                /* 0..255; 128+N killed by signal N;
				      -1 not started */
	int too_big;               /* stdout passed max_out: killed */
	/*
	 * NULL, or a descriptor that becomes readable to stop the command:
	 * it then runs in a process group of its own, and the whole group
	 * is killed (SIGKILL) once the descriptor is readable (canceled
	 * set). For the server's long helpers (a first clone), whose git
	 * must not outlive a stopping server.
	 */
	const int *cancel_fd;
	int canceled;
};

void proc_capture_init(struct proc_capture *pc);
void proc_capture_release(struct proc_capture *pc);

/*
 * Run cmds[0..nr) at the same time and wait for all of them. Returns 0
 * when every command ran to its end (whatever its exit status); -1 when
 * one could not be started (its status -1) or wrote more than max_out
 * (too_big, killed), the first such reason in err. The others still run
 * to completion and keep their results.
 */
int proc_capture_all(struct proc_capture *cmds, size_t nr, struct strbuf *err);

/*
 * One command, the simple form (env as in struct proc_capture): stdout
 * appended to out (at most max_out bytes), the exit status in
 * *ret_status. Returns 0 when it ran, and then a non-zero status leaves
 * the command's stderr in err; -1 when it could not be started or its
 * output passed max_out (reason in err).
 */
int proc_capture(const char *const *argv, const char *cwd,
		 const char *const *env, size_t max_out, struct strbuf *out,
		 int *ret_status, struct strbuf *err);

/*
 * Environment changes for running git on the repository found from its
 * cwd, as libgit2 did: the repository-location variables git itself
 * drops when it switches repositories (GIT_DIR, GIT_WORK_TREE,
 * GIT_INDEX_FILE, ...; a hook that runs us sets them) unset, messages in
 * the C locale (we match them), no optional index lock.
 */
extern const char *const proc_git_env[];

#endif
