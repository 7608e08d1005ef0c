#ifndef CIDRE_CGROUP_H
#define CIDRE_CGROUP_H

/*
 * Private to exec/ (and to the server's supervisors and runner, for the
 * slots' kept cgroups: cgroup_keep_as): one cgroup per running job, for accounting (peak memory, CPU
 * time of the whole tree) and for finding and killing every process of the
 * tree. cgroup v2 (unified) and v1 (memory + cpuacct hierarchies) are both
 * supported; see docs/internals/exec.md for the order in which they are
 * tried.
 */

#include <sys/types.h>
#include <stddef.h>

#include "exec/proc.h"
#include "util/strbuf.h"

enum cgroup_version { CGROUP_NONE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

/*
 * v2: the leaf of a delegated cgroup that the cgroup's processes (cidre
 * among them) move into, so that the jobs' cgroups beside it can have
 * the memory, pids and cpu controllers (the no-internal-process rule).
 * A process found in it takes its parent as the jobs' parent.
 */
#define CGROUP_V2_LEAF "cidre-main"

struct cgroup {
	enum cgroup_version version;
	char *dir;            /* v2 dir, or v1 memory dir; NULL when none */
	char *cpu_dir;        /* v1 cpuacct dir, or NULL */
	char *pids_dir;       /* v1 pids dir (only with a pids limit), or NULL */
	char *quota_dir;      /* v1 cpu dir (only with a cpus limit), or NULL */
	/* fds a child writes "0" to (v2 cgroup.procs; v1 tasks of memory,
	   cpuacct, pids, cpu); -1 */
	int join_fd[4];
	int events_fd;        /* v2 cgroup.events (POLLPRI on change); -1 */
	int has_mem;          /* peak memory is measured by this cgroup */
	int has_kill;         /* v2 cgroup.kill exists */
	int has_peak;         /* v2 memory.peak exists (else memory.current) */
	long long sampled;    /* v2 without memory.peak: max memory.current seen */
	/*
	 * The directory (v2; v1 memory when kept): clone3(CLONE_INTO_CGROUP)
	 * on v2, and the files below it opened relative to it; -1
	 */
	int dir_fd;
	long long base_mem;   /* v1 reused: bytes charged before the job; 0 */
	int limited;          /* limits were set: never pooled */
	long long oom_base;   /* OOM kills counted before the job (reused) */
	int kept;             /* v1 named by cgroup_keep_as(): left for the next job */
	/*
	 * v1 kept: the cpuacct directory, and memory.max_usage_in_bytes
	 * (read-write: zeroed before the job, read after), usage_in_bytes
	 * and oom_control, each read before and after the job: open for
	 * the job instead of opened per reading. -1 when not.
	 */
	int cpu_dfd, peak_fd, usage_fd, oom_fd;
	/*
	 * Set by the caller who saw cgroup.procs empty after the job's
	 * tree was gone: cgroup_release() need not read it again.
	 */
	int empty;
};

#define CGROUP_INIT { .version = CGROUP_NONE, .join_fd = { -1, -1, -1, -1 }, \
		      .events_fd = -1, .sampled = -1, .dir_fd = -1, .cpu_dfd = -1, \
		      .peak_fd = -1, .usage_fd = -1, .oom_fd = -1 }

/*
 * Get a cgroup for one job (name is unused): on v1 an idle one that an
 * earlier job of this process left (counters zeroed), else a new one.
 * On any failure cg is left as CGROUP_NONE and -1 is returned: callers
 * then fall back to process-group tracking and rusage. The environment
 * variable CIDRE_CGROUP may name a delegated cgroup v2 directory to create
 * job cgroups under.
 */
int cgroup_create(struct cgroup *cg, const char *name);

/*
 * Find where this process's cgroups are (/proc/self/cgroup, mountinfo,
 * the v2 controllers), once per process; cgroup_create() does it on
 * first use. Thread-safe: a process may call it from a helper thread
 * early, so that the reads overlap other work of its first job.
 */
void cgroup_discover(void);

/*
 * Called in the child between fork and exec: move the calling process into
 * the cgroup. Async-signal-safe. Returns 0 or -1.
 */
int cgroup_join_child(const struct cgroup *cg);

/*
 * Apply lim (memory, pids, CPU) to cg before any process joins it. On v1
 * a pids and a cpu cgroup are made beside the memory one as needed; on
 * v2 the controllers are enabled in the parent's subtree_control. A
 * limited cgroup is never reused. Returns 0, or -1 with the reason in
 * err (the job must then not start: it asked for limits).
 */
int cgroup_limit(struct cgroup *cg, const struct proc_limits *lim,
		 struct strbuf *err);

/* OOM kills in the cgroup during this job (0 when none or unknown). */
long long cgroup_oom_kills(const struct cgroup *cg);

/* Forks refused by the pids limit (0 when none or unknown). */
long long cgroup_pids_refused(const struct cgroup *cg);

/* Send sig to every process in the cgroup (cgroup.kill for SIGKILL on v2). */
void cgroup_signal(const struct cgroup *cg, int sig);

/*
 * The pids currently in the cgroup (malloc'ed into *ret, count in *nr).
 * Returns 0 or -1.
 */
int cgroup_pids(const struct cgroup *cg, pid_t **ret, size_t *nr);

/* v2: 1 when cgroup.events says populated, 0 when empty, -1 unknown. */
int cgroup_populated(const struct cgroup *cg);

/* Take a memory.current sample (v2 without memory.peak); cheap. */
void cgroup_sample(struct cgroup *cg);

/* Peak memory of the cgroup in bytes, or -1. */
long long cgroup_peak_mem(const struct cgroup *cg);

/* CPU time of the cgroup in seconds. Returns 0 or -1. */
int cgroup_cpu(const struct cgroup *cg, double *user, double *sys);

/* Remove the cgroup (it must be empty) and free cg; cg becomes NONE. */
void cgroup_destroy(struct cgroup *cg);

/*
 * The job of cg is over (its tree gone): keep the cgroup for the next
 * job where it can serve one (v1, empty, little memory still charged),
 * else cgroup_destroy(). cg becomes NONE.
 */
void cgroup_release(struct cgroup *cg);

/* Remove every idle cgroup kept by cgroup_release(); also run at exit. */
void cgroup_pool_drain(void);

/*
 * Name this process's job cgroups LEAF (a file name, no '/') and keep
 * them after the job for the next process that names the same leaf:
 * the server's supervisors, one process per job, share their slot's
 * cgroups this way instead of making and removing two directories per
 * job. Only v1 cgroups are kept, on the pool's terms (empty, little
 * memory charged, no limits); a kept one is taken again only when empty
 * and without limits, else the job gets a cgroup of its own as without
 * a leaf. Call before the first cgroup_create(); leaf is copied. NULL
 * (the default) makes a cgroup per job.
 */
void cgroup_keep_as(const char *leaf);

/* Remove the cgroups kept under leaf (see cgroup_keep_as), if any. */
void cgroup_remove_kept(const char *leaf);

/*
 * Remove the empty cgroups of ours whose PID is gone: "cidre-PID-slot-N"
 * (a server's slots) and "cidre-PID-N" (a job's own, or the pool's),
 * among this process's own cgroup's children (where it makes them):
 * what a process killed before it could clean up left (kill -9 of a
 * server, a supervisor or `cidre run`). Run by the server's runner at
 * its start and by `cidre run` after its pipeline.
 */
void cgroup_remove_stale_kept(void);

#endif
