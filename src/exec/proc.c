/*
 * The shell executor's process layer. See proc.h for the contract and
 * docs/internals/exec.md for the design (process group + cgroup, the
 * event loop, how "the whole tree is gone" is established).
 */
#include "exec/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/cgroup.h"
#include "exec/pool.h"
#include "exec/sandbox.h"
#include "util/fileio.h"
#include "util/strvec.h"
#include "util/utctime.h"
#include "util/xalloc.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Longest script passed with -c; longer ones go through a temp file. */
#define PROC_MAX_ARG_SCRIPT (100 * 1024)
/* How long to wait for SIGKILLed processes before looking again. */
#define PROC_REAP_POLL_MS 2000
/* Sampling period for memory.current when memory.peak is missing. */
#define PROC_SAMPLE_MS 100
#define PROC_READ_CHUNK 65536

extern char **environ;

enum child_stage { CHILD_CGROUP = 1, CHILD_CHDIR, CHILD_EXEC };

struct child_msg {
	int stage;
	int err;
};

struct child_args {
	const char *bash;
	char **argv;
	char *const *env;
	const char *workdir;
	int devnull, out_w, msg_w;
	const struct cgroup *cg;
	int in_cgroup;         /* born in cg: no need to join it */
	int must_join;         /* limits depend on the cgroup: fail without */
	/*
	 * The shell executor's vfork child is started on its parent's CPU
	 * (see spawn_child); the child gives itself back this affinity,
	 * the parent's, before anything else. pinned: 0 when not done.
	 */
	int pinned;
	cpu_set_t affinity;
	int info_w;            /* becomes info_fd in the child (bwrap's
				  --info-fd); -1: none */
	int info_fd;
	int block_r;           /* becomes block_fd in the child (bwrap's
				  --block-fd, or the trampoline's socket);
				  -1: none */
	int block_fd;
	int exe_src;           /* becomes exe_fd in the child (the
				  trampoline's executable); -1: none */
	int exe_fd;
};

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int sys_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static int sys_pidfd_kill(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void child_report(int fd, int stage, int err)
{
	struct child_msg m = { stage, err };

	if (write(fd, &m, sizeof(m)) != sizeof(m))
		errno = 0; /* nothing else to do between fork and exec */
}

/*
 * Between fork and exec (async-signal-safe): put bwrap's info and block
 * descriptors, and the trampoline's executable, at the numbers its
 * command line names. Every source that sits at or below a target
 * number (the message pipe included) is moved above them first, so no
 * dup2 clobbers another. *msg follows the message pipe. Returns 0, or
 * -1 (errno set).
 */
static int place_fds(const struct child_args *a, int *msg)
{
	int src[3] = { a->info_w, a->block_r, a->exe_src };
	const int dst[3] = { a->info_fd, a->block_fd, a->exe_fd };
	int top = 0, i;

	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && dst[i] > top)
			top = dst[i];
	if (!top)
		return 0;
	if (*msg <= top) {
		int m = fcntl(*msg, F_DUPFD_CLOEXEC, top + 1);

		if (m < 0)
			return -1;
		*msg = m;
	}
	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && src[i] != dst[i] && src[i] <= top &&
		    (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, top + 1)) < 0)
			return -1;
	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && (src[i] == dst[i] ? fcntl(src[i], F_SETFD, 0) :
				    dup2(src[i], dst[i])) < 0)
			return -1;
	return 0;
}

/* proc_signals_changed_only(): the only dispositions not at their default */
static sigset_t changed_sigs;
static int changed_only;

void proc_signals_changed_only(const sigset_t *set)
{
	changed_sigs = *set;
	changed_only = 1;
}

void proc_signals_default(void)
{
	/* SIG_DFL, no flags, empty mask: zeroes in every kernel layout */
	unsigned long ksa[4] = { 0, 0, 0, 0 };
	struct sigaction sa;
	sigset_t none;
	int sig, rtmin = SIGRTMIN;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && (sig < 32 || sig >= rtmin) &&
		    (!changed_only || sigismember(&changed_sigs, sig) == 1))
			sigaction(sig, &sa, NULL);
	/*
	 * glibc's own signals (32 and 33: thread cancellation, setxid),
	 * which its sigaction() refuses to touch. posix_spawn leaves them
	 * ignored in what it starts (the server's launcher and supervisors),
	 * and an ignored signal survives exec: reset with the system call.
	 */
	for (sig = 32; sig < rtmin; sig++)
		syscall(SYS_rt_sigaction, sig, ksa, NULL, (size_t)8);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Between fork and exec: async-signal-safe calls only (no malloc, no
 * stdio, no locks), since other threads may have held locks at fork time.
 */
__attribute__((noreturn))
static void child_exec(const struct child_args *a)
{
	int msg = a->msg_w;

	if (a->pinned && sched_setaffinity(0, sizeof(a->affinity), &a->affinity) < 0) {
		/* the parent's CPUs changed meanwhile: every CPU we may use */
		cpu_set_t all;

		memset(&all, 0xff, sizeof(all));
		if (sched_setaffinity(0, sizeof(all), &all) < 0) {
			child_report(a->msg_w, CHILD_EXEC, errno);
			_exit(127);
		}
	}
	setpgid(0, 0);
	if (!a->in_cgroup && cgroup_join_child(a->cg) < 0) {
		child_report(a->msg_w, CHILD_CGROUP, errno);
		if (a->must_join)
			_exit(127);
	}
	if (dup2(a->devnull, 0) < 0 || dup2(a->out_w, 1) < 0 ||
	    dup2(a->out_w, 2) < 0) {
		child_report(a->msg_w, CHILD_EXEC, errno);
		_exit(127);
	}
	/* Ignored signals survive exec: give the job default dispositions. */
	proc_signals_default();
	if (chdir(a->workdir) < 0) {
		child_report(a->msg_w, CHILD_CHDIR, errno);
		_exit(127);
	}
	/* Nothing of ours but 0..2 leaks into the job (fails on old kernels). */
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	if (place_fds(a, &msg) < 0) {
		child_report(msg, CHILD_EXEC, errno);
		_exit(127);
	}
	execve(a->bash, a->argv, a->env);
	child_report(msg, CHILD_EXEC, errno);
	_exit(127);
}

/* Stack of the CLONE_VM child, which only runs child_exec() until exec. */
#define PROC_CHILD_STACK (64 * 1024)

static int child_main(void *arg)
{
	child_exec(arg);
}

/*
 * Start the child running child_exec(a); returns its pid (-1 on error)
 * in the parent only.
 *
 * On cgroup v2 the child is created inside its cgroup with
 * clone3(CLONE_INTO_CGROUP) where the kernel has it (5.7+): moving a
 * running process into a cgroup waits for an RCU grace period (several
 * milliseconds), creating it there does not; a->in_cgroup tells the
 * child. Otherwise the child shares our memory until it execs
 * (CLONE_VM|CLONE_VFORK, as posix_spawn does): no copy of our page
 * tables to make and tear down again, no copy-on-write faults in our
 * threads afterwards. This thread waits until the exec; other threads
 * go on. All signals are blocked meanwhile, so no handler of ours runs
 * in the child before child_exec() resets them. Falls back to fork().
 *
 * With a->pinned asked (the shell executor), the calling thread is
 * pinned to the CPU it runs on for the clone, and the child, born with
 * that affinity, restores the thread's own before anything else: the
 * parent sleeps until the exec anyway, so its CPU is the one free for
 * the child, whereas the kernel's placement of a new task on a busy
 * 2-CPU machine often left the child waiting behind another process
 * (vfork + exec of /bin/true at load ~5: mean 0.92 -> 0.56 ms, p90
 * 2.6 -> 0.9 ms; docs/internals/exec.md). The job's affinity is the
 * parent's, as without.
 */
int proc_pin_here(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(*saved), saved))
		return 0;
	CPU_SET(cpu, &one);
	return !sched_setaffinity(0, sizeof(one), &one);
}

static pid_t spawn_child(const struct cgroup *cg, struct child_args *a)
{
	sigset_t all, old;
	char *stack;
	pid_t pid;
	int pin = a->pinned;

	a->in_cgroup = 0;
	a->pinned = 0;	/* set below, for the vfork child only */
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
	if (cg->version == CGROUP_V2 && cg->dir_fd >= 0) {
		struct clone_args ca;
		long r;

		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_INTO_CGROUP;
		ca.exit_signal = SIGCHLD;
		ca.cgroup = (uint64_t)cg->dir_fd;
		a->in_cgroup = 1;
		r = syscall(SYS_clone3, &ca, sizeof(ca));
		if (r == 0)
			child_exec(a);
		if (r > 0)
			return (pid_t)r;
		/* ENOSYS, EINVAL (old kernel), EPERM: join after starting */
		a->in_cgroup = 0;
	}
#endif
	stack = xmalloc(PROC_CHILD_STACK);
	if (pin)
		a->pinned = proc_pin_here(&a->affinity);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* the stack grows down on every architecture we build for */
	pid = clone(child_main, stack + PROC_CHILD_STACK,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	if (a->pinned && sched_setaffinity(0, sizeof(a->affinity), &a->affinity) < 0) {
		cpu_set_t every;

		memset(&every, 0xff, sizeof(every));
		sched_setaffinity(0, sizeof(every), &every);
	}
	if (pid < 0) {
		a->pinned = 0;
		pid = fork();
		if (pid == 0)
			child_exec(a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
	return pid;
}

void proc_prewarm(void)
{
}

void proc_prewarm_finish(void)
{
	cgroup_pool_drain();
}

static const char *find_bash(void)
{
	static const char *const cand[] = { "/bin/bash", "/usr/bin/bash",
					    "/usr/local/bin/bash" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cand); i++)
		if (!access(cand[i], X_OK))
			return cand[i];
	return NULL;
}

/* State of one run, shared by the helpers below. */
struct run {
	const struct proc_spec *spec;
	struct proc_result *res;
	struct cgroup cg;
	int cg_ok;
	pid_t pid;
	int out_r;
	char *buf;
	/* The sandbox (spec->wrap_info_fd): bwrap's info, then its mount
	   namespace, held so that its last put (an RCU grace period) is not
	   in the exit of the sandbox's init, which we wait for. -1: none. */
	int info_r;
	struct strbuf info;
	int mntns_fd;
	/* bwrap's --block-fd (spec->wrap_block_fd): our end; a byte there
	   lets the sandbox exec the job. -1: none, or sent. */
	int block_w;
	/* Started through a trampoline (spec->init_argv): job is what is
	   sent at the release instead of the byte (NULL until known). */
	int tramp;
	char *job;
	size_t job_len;
	char **argv;
	char *script_path;
	/* Started in a pool (pool_spawn): no child of ours; ctl is the
	   job's socket (its message out, its init's reports in). */
	int pooled;
	int ctl;
	struct pool_status pst;
	int output_failed;      /* on_output said it could not keep it */
};

static void emit(struct run *r, const char *data, size_t len)
{
	if (len && r->spec->on_output && r->spec->on_output(r->spec->ud, data, len))
		r->output_failed = 1;
}

/* Read what is available; returns 0 on EOF, 1 if more may come. */
static int pump(struct run *r)
{
	for (;;) {
		ssize_t n = read(r->out_r, r->buf, PROC_READ_CHUNK);

		if (n > 0) {
			emit(r, r->buf, (size_t)n);
			if (n < PROC_READ_CHUNK)
				return 1;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 1 : 0;
	}
}

static void signal_tree(struct run *r, int sig)
{
	unsigned char c = (unsigned char)sig;

	if (r->pid > 0)
		kill(-r->pid, sig);
	if (r->cg_ok)
		cgroup_signal(&r->cg, sig);
	else if (r->pooled && r->ctl >= 0 &&
		 send(r->ctl, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		/*
		 * A pooled job without a cgroup: its init signals every
		 * process of its namespace for us (pool.h). Should the byte
		 * not go, our end's hang-up makes it kill them all.
		 */
		shutdown(r->ctl, SHUT_WR);
}

/* /proc/<pid>/stat's state and process group: 0 or -1. */
static int proc_stat(pid_t pid, char *state, pid_t *pgrp)
{
	long pg;

	if (read_proc_stat((long)pid, state, &pg) < 0)
		return -1;
	*pgrp = (pid_t)pg;
	return 0;
}

static void push_pid(pid_t **v, size_t *nr, size_t *alloc, pid_t pid)
{
	size_t i;

	for (i = 0; i < *nr; i++)
		if ((*v)[i] == pid)
			return;
	ALLOC_GROW(*v, *nr + 1, *alloc);
	(*v)[(*nr)++] = pid;
}

/*
 * Live (not zombie) processes of the tree: cgroup members + group members.
 *
 * A sandboxed job in a cgroup it joined cannot leave it (no cgroup file
 * system inside, every capability dropped): the cgroup alone is the
 * tree, and the process-group scan of /proc (1.5-10 ms on a busy host,
 * twice per job) is skipped. It would find nothing anyway but the
 * sandbox's init as a zombie, which bwrap's exit leaves to pid 1.
 * *cg_empty: 1 when the cgroup was read and listed no process at all.
 */
static void tree_members(struct run *r, pid_t **ret, size_t *ret_nr, int *cg_empty)
{
	pid_t *v = NULL, *cgp = NULL;
	size_t nr = 0, alloc = 0, cgn = 0, i;
	int cg_read = 0;
	char st;
	pid_t pg;

	*cg_empty = 0;
	if (r->cg_ok && !cgroup_pids(&r->cg, &cgp, &cgn)) {
		cg_read = 1;
		*cg_empty = !cgn;
		for (i = 0; i < cgn; i++)
			if (proc_stat(cgp[i], &st, &pg) < 0 || st != 'Z')
				push_pid(&v, &nr, &alloc, cgp[i]);
		free(cgp);
	}
	if (!(cg_read && r->spec->wrap) && r->pid > 0 && !kill(-r->pid, 0)) {
		/* Someone in the group is left (maybe only zombies): look. */
		DIR *d = opendir("/proc");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);

			if (*end || pid <= 0)
				continue;
			if (!proc_stat((pid_t)pid, &st, &pg) && pg == r->pid &&
			    st != 'Z')
				push_pid(&v, &nr, &alloc, (pid_t)pid);
		}
		if (d)
			closedir(d);
	}
	*ret = v;
	*ret_nr = nr;
}

/*
 * SIGKILL every remaining process of the tree and wait, on pidfds, until
 * each is gone; repeat while new ones show up (forked before the kill).
 * It looks before it kills: a tree already gone (the usual end of a job)
 * costs one reading of the cgroup and one kill(-pgid, 0), and a cgroup
 * seen empty is marked so (cg.empty), for cgroup_release not to read it
 * again.
 */
static void kill_tree_and_wait(struct run *r)
{
	int round, cg_empty;

	for (round = 0; round < 1000; round++) {
		pid_t *pids;
		size_t nr, i, np = 0;
		struct pollfd *pfd;

		tree_members(r, &pids, &nr, &cg_empty);
		if (!nr) {
			r->cg.empty = cg_empty;
			free(pids);
			return;
		}
		if (!round)
			signal_tree(r, SIGKILL);
		pfd = xcalloc(nr, sizeof(*pfd));
		for (i = 0; i < nr; i++) {
			int fd = sys_pidfd_open(pids[i]);

			if (fd < 0) {
				kill(pids[i], SIGKILL);
				continue;
			}
			sys_pidfd_kill(fd, SIGKILL);
			pfd[np].fd = fd;
			pfd[np++].events = POLLIN;
		}
		free(pids);
		/* Wait for all of them: each pidfd turns readable at exit. */
		while (np) {
			int n = poll(pfd, np, PROC_REAP_POLL_MS);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			for (i = 0; i < np; ) {
				if (pfd[i].revents) {
					close(pfd[i].fd);
					pfd[i] = pfd[--np];
				} else {
					i++;
				}
			}
		}
		for (i = 0; i < np; i++)
			close(pfd[i].fd);
		free(pfd);
	}
}

/* bwrap's --info-fd JSON is a few lines; anything longer is not it. */
#define PROC_INFO_MAX 4096

/* A number after "key": in bwrap's info, or -1. */
static long long info_number(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	char *end;
	long long v;

	if (!p)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (*p++ != ':')
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	return end == p || errno || v <= 0 ? -1 : v;
}

/*
 * Read what bwrap wrote on its info fd; once it is all there, open the
 * mount namespace of the sandbox's init (checked against the inode
 * bwrap names, so a reused pid cannot give us another one) and stop
 * listening. Never fails the job: without the namespace held, the job's
 * end only waits a little longer.
 */
static void read_info(struct run *r)
{
	char buf[512];
	ssize_t n;
	long long pid, ino;

	for (;;) {
		n = read(r->info_r, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n > 0 && r->info.len + (size_t)n <= PROC_INFO_MAX) {
			strbuf_add(&r->info, buf, (size_t)n);
			if (!strchr(r->info.buf, '}'))
				continue;
		}
		break; /* all of it, EOF, an error, too long */
	}
	pid = info_number(r->info.buf, "\"child-pid\"");
	ino = info_number(r->info.buf, "\"mnt-namespace\"");
	if (pid > 0 && ino > 0) {
		char path[64];
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "/proc/%lld/ns/mnt", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && !fstat(fd, &st) && (long long)st.st_ino == ino)
			r->mntns_fd = fd;
		else if (fd >= 0)
			close(fd);
	}
	close(r->info_r);
	r->info_r = -1;
}

/*
 * Drop our hold on a finished sandbox's mount namespace. Its last put
 * unmounts the sandbox's tree and waits for an RCU grace period
 * (milliseconds on a busy host): done by one closer thread of the
 * process, not on the job's way to "finished". Every process of the job
 * is gone already. One thread for all, not one per job: a thread's
 * creation and exit cost as much CPU as a pooled job's close saves
 * (a pooled init that serves another job keeps its namespace, and the
 * close is then only a reference dropped).
 */
#define CLOSER_MAX 256

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	int fds[CLOSER_MAX];
	int nr;
	int started;        /* 1 running, -1 could not start */
	pid_t pid;          /* the process it runs in: a fork has none */
} closer = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0 };

static void *closer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&closer.lock);
	for (;;) {
		while (!closer.nr)
			pthread_cond_wait(&closer.more, &closer.lock);
		while (closer.nr) {
			int fd = closer.fds[--closer.nr];

			pthread_mutex_unlock(&closer.lock);
			close(fd);
			pthread_mutex_lock(&closer.lock);
		}
	}
	return NULL;
}

static void close_later(int fd)
{
	int queued = 0;

	if (fd < 0)
		return;
	pthread_mutex_lock(&closer.lock);
	if (closer.started && closer.pid != getpid()) {
		/* a forked copy of a process that had one: its own, then */
		closer.started = 0;
		closer.nr = 0;
	}
	if (!closer.started) {
		pthread_attr_t a;
		pthread_t t;
		sigset_t all, old;

		closer.started = -1;
		if (!pthread_attr_init(&a)) {
			/* the thread takes no signal: they are the main loop's */
			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&a, 64 * 1024);
			if (!pthread_create(&t, &a, closer_main, NULL)) {
				closer.started = 1;
				closer.pid = getpid();
			}
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_attr_destroy(&a);
		}
	}
	if (closer.started > 0 && closer.nr < CLOSER_MAX) {
		closer.fds[closer.nr++] = fd;
		pthread_cond_signal(&closer.more);
		queued = 1;
	}
	pthread_mutex_unlock(&closer.lock);
	if (!queued)
		close(fd);
}

/*
 * The job's rusage (its main process and what it waited for) where the
 * cgroup said nothing; for CPU also as a floor where it did: v1's
 * cpuacct usage_user/usage_sys are sampled at the tick, so a job of a
 * few milliseconds often reads 0. Not for memory: ru_maxrss counts the
 * pages of the process the job was forked from (exec records the old
 * address space's high-water mark), which the cgroup does not.
 */
static void rusage_fill(struct proc_result *res, const struct rusage *ru,
			int cpu_known, int mem_known)
{
	double user = ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6;
	double sys = ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
	long long rss = (long long)ru->ru_maxrss * 1024;

	if (!cpu_known || res->cpu_user + res->cpu_sys < user + sys) {
		res->cpu_user = user;
		res->cpu_sys = sys;
	}
	if (!mem_known)
		res->peak_mem = rss;
}

static char *script_tempfile(const char *script, struct strbuf *err)
{
	const char *tmp = getenv("TMPDIR");
	char *path = xasprintf("%s/cidre-script-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkostemp(path, O_CLOEXEC);
	size_t len = strlen(script), off = 0;

	if (fd < 0) {
		strbuf_addf(err, "cannot create script file %s: %s", path,
			    strerror(errno));
		free(path);
		return NULL;
	}
	while (off < len) {
		ssize_t n = write(fd, script + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			strbuf_addf(err, "cannot write script file %s: %s",
				    path, strerror(errno));
			close(fd);
			unlink(path);
			free(path);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	return path;
}

/*
 * Start the child; on success r->pid is set and 0 returned. Waits until
 * the child has exec'd (or failed to) through the message pipe.
 */
static int start(struct run *r, char **argv, const char *bash,
		 struct strbuf *err)
{
	const struct proc_spec *spec = r->spec;
	struct child_args a;
	int out[2], msg[2], info[2], blk[2], devnull, ret = -1;
	struct child_msg m;
	ssize_t n;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		strbuf_addf(err, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		close(devnull);
		return -1;
	}
	if (pipe2(msg, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		close(out[0]);
		close(out[1]);
		close(devnull);
		return -1;
	}
	a.bash = bash;
	a.argv = argv;
	a.env = spec->env ? spec->env : environ;
	a.workdir = spec->workdir ? spec->workdir : ".";
	a.devnull = devnull;
	a.out_w = out[1];
	a.msg_w = msg[1];
	a.cg = &r->cg;
	a.must_join = PROC_LIMITS_SET(spec->limits);
	a.pinned = !spec->wrap;	/* the shell executor's child only */
	a.info_w = -1;
	a.info_fd = spec->wrap_info_fd;
	if (spec->wrap && spec->wrap_info_fd > 2 && pipe2(info, O_CLOEXEC) == 0) {
		a.info_w = info[1];
		r->info_r = info[0];
	}
	a.exe_src = r->tramp ? spec->init_exe : -1;
	a.exe_fd = r->tramp ? spec->init_exe_at : 0;
	a.block_r = -1;
	a.block_fd = spec->wrap ? spec->wrap_block_fd : 0;
	if (a.block_fd > 2) {
		/* a socket: sending to a sandbox that died raises no SIGPIPE */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, blk) < 0) {
			strbuf_addf(err, "socketpair: %s", strerror(errno));
			close(out[0]);
			close(out[1]);
			close(msg[0]);
			close(msg[1]);
			close(devnull);
			if (r->info_r >= 0) {
				close(r->info_r);
				close(a.info_w);
				r->info_r = -1;
			}
			return -1;
		}
		a.block_r = blk[1];
		r->block_w = blk[0];
	} else {
		a.block_fd = 0;
	}

	r->pid = spawn_child(&r->cg, &a);
	close(out[1]);
	close(msg[1]);
	close(devnull);
	if (a.info_w >= 0)
		close(a.info_w);
	if (a.block_r >= 0)
		close(a.block_r);
	if (r->pid < 0 && r->info_r >= 0) {
		close(r->info_r);
		r->info_r = -1;
	}
	if (r->pid < 0 && r->block_w >= 0) {
		close(r->block_w);
		r->block_w = -1;
	}
	if (r->pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		close(out[0]);
		close(msg[0]);
		return -1;
	}
	ret = 0;
	for (;;) {
		n = read(msg[0], &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			break;
		if (m.stage == CHILD_CGROUP && !a.must_join) {
			r->cg_ok = 0;
			continue;
		}
		if (m.stage == CHILD_CGROUP) {
			strbuf_addf(err, "cannot join the job's cgroup (needed "
				    "for its limits): %s", strerror(m.err));
			ret = -1;
			break;
		}
		strbuf_addf(err, "%s %s: %s",
			    m.stage == CHILD_CHDIR ? "cannot enter" : "cannot run",
			    m.stage == CHILD_CHDIR ? a.workdir : bash,
			    strerror(m.err));
		ret = -1;
	}
	close(msg[0]);
	if (ret < 0) {
		if (r->block_w >= 0)
			close(r->block_w); /* the child never ran bwrap */
		r->block_w = -1;
		waitpid(r->pid, NULL, 0);
		close(out[0]);
		if (r->info_r >= 0)
			close(r->info_r);
		r->info_r = -1;
		return -1;
	}
	if (r->info_r >= 0)
		fcntl(r->info_r, F_SETFL, fcntl(r->info_r, F_GETFL) | O_NONBLOCK);
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	r->out_r = out[0];
	return 0;
}

/* Whether the shell at path is bash (by its name). */
static int is_bash(const char *path)
{
	const char *base = strrchr(path, '/');

	return !strcmp(base ? base + 1 : path, "bash");
}

/* Words of spec's entrypoint (0: none). */
static size_t entry_nr(const struct proc_spec *spec)
{
	size_t n = 0;

	while (spec->wrap && spec->entrypoint && spec->entrypoint[n])
		n++;
	return n;
}

/*
 * The entrypoint, the shell and its options: the job's command line
 * before its script (at most entry_nr() + 6 words): into argv, the count
 * returned.
 */
static int shell_words(const struct proc_spec *spec, char **argv)
{
	int argc = 0;

	/* the image's entrypoint (or image:entrypoint) runs the shell */
	while (spec->wrap && spec->entrypoint && spec->entrypoint[argc]) {
		argv[argc] = spec->entrypoint[argc];
		argc++;
	}

	if (spec->wrap && spec->shell && !is_bash(spec->shell)) {
		/* a POSIX sh (busybox, dash): no bash-only options */
		argv[argc++] = (char *)spec->shell;
		argv[argc++] = "-e";
	} else {
		argv[argc++] = spec->wrap ?
			       (char *)(spec->shell ? spec->shell : "/bin/bash") : "bash";
		argv[argc++] = "--noprofile";
		argv[argc++] = "--norc";
		argv[argc++] = "-e";
	}
	argv[argc++] = "-o";
	argv[argc++] = "pipefail";
	return argc;
}

#define RUN_INIT(spec_, res_) { .spec = (spec_), .res = (res_), \
	.cg = CGROUP_INIT, .pid = -1, .out_r = -1, .info_r = -1, \
	.info = STRBUF_INIT, .mntns_fd = -1, .block_w = -1, .tramp = 0, \
	.job = NULL, .ctl = -1, .pst = { .mntns = -1 } }

/* Free what run_begin made, but the cgroup (its caller's to release). */
static void run_free(struct run *r)
{
	if (r->out_r >= 0)
		close(r->out_r);
	r->out_r = -1;
	if (r->info_r >= 0)
		close(r->info_r);
	r->info_r = -1;
	if (r->block_w >= 0)
		close(r->block_w);
	r->block_w = -1;
	if (r->ctl >= 0)
		close(r->ctl);
	r->ctl = -1;
	strbuf_release(&r->info);
	close_later(r->mntns_fd);
	r->mntns_fd = -1;
	free(r->argv);
	r->argv = NULL;
	free(r->job);
	r->job = NULL;
	free(r->buf);
	r->buf = NULL;
	if (r->script_path)
		unlink(r->script_path);
	free(r->script_path);
	r->script_path = NULL;
}

/*
 * Everything up to a started child: the command line, the cgroup and
 * its limits, the child (a sandbox waits on its block fd). 0, or -1
 * with the reason in err and nothing left behind.
 */
static int run_begin(struct run *r, struct strbuf *err)
{
	const struct proc_spec *spec = r->spec;
	const char *bash = spec->wrap ? spec->wrap[0] : find_bash();
	size_t wrap_nr = 0;
	struct strbuf why = STRBUF_INIT;
	int argc;

	if (!bash) {
		strbuf_addstr(err, "bash not found");
		return -1;
	}
	if (strlen(spec->script) > PROC_MAX_ARG_SCRIPT && spec->wrap) {
		/* a file of ours is not visible inside the sandbox */
		strbuf_addf(err, "the job's script is over %d KiB, more than a "
			    "sandboxed job can take", PROC_MAX_ARG_SCRIPT / 1024);
		return -1;
	}
	while (spec->wrap && spec->wrap[wrap_nr])
		wrap_nr++;
	r->argv = xcalloc(wrap_nr + entry_nr(spec) + 10, sizeof(*r->argv));
	for (argc = 0; (size_t)argc < wrap_nr; argc++)
		r->argv[argc] = spec->wrap[argc];
	/* through a trampoline, wrap is the whole command line: the job's
	   own comes at the release (proc_run, job_message) */
	if (!r->tramp) {
		argc += shell_words(spec, r->argv + argc);
		if (strlen(spec->script) > PROC_MAX_ARG_SCRIPT) {
			r->script_path = script_tempfile(spec->script, err);
			if (!r->script_path) {
				run_free(r);
				return -1;
			}
			r->argv[argc++] = r->script_path;
		} else {
			r->argv[argc++] = "-c";
			r->argv[argc++] = (char *)spec->script;
		}
	}
	r->argv[argc] = NULL;

	r->cg_ok = !cgroup_create(&r->cg, spec->name);
	if (PROC_LIMITS_SET(spec->limits) &&
	    cgroup_limit(&r->cg, spec->limits, &why) < 0) {
		strbuf_addf(err, "cannot apply the job's limits: %s", why.buf);
		strbuf_release(&why);
		cgroup_destroy(&r->cg);
		run_free(r);
		return -1;
	}
	if (start(r, r->argv, bash, err) < 0) {
		cgroup_destroy(&r->cg);
		run_free(r);
		return -1;
	}
	return 0;
}

/*
 * Let a sandbox waiting on its block fd exec the job (once): the byte
 * bwrap waits for, or the trampoline's whole job. A job bigger than
 * the socket's buffer waits here until the trampoline reads it (or the
 * sandbox dies: EPIPE), before the timeout and cancel start counting.
 */
static void run_release(struct run *r)
{
	const char *p = r->job ? r->job : "x";
	size_t left = r->job ? r->job_len : 1;

	if (r->pooled) {
		/* ctl is non-blocking: wait for room, or for the init's end */
		while (left && r->ctl >= 0) {
			ssize_t n = send(r->ctl, p, left, MSG_NOSIGNAL);
			struct pollfd pfd = { r->ctl, POLLOUT, 0 };

			if (n > 0) {
				p += n;
				left -= (size_t)n;
			} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				poll(&pfd, 1, 100);
			} else {
				break;
			}
		}
		return;
	}
	if (r->block_w < 0)
		return;
	while (left) {
		ssize_t n = send(r->block_w, p, left, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	/* a sandbox that died before: its end shows in the wait */
	close(r->block_w);
	r->block_w = -1;
}

/*
 * The job's life from its release to "every process gone": output,
 * timeout, cancel, then accounting into r->res. Frees the run and
 * releases its cgroup.
 */
static void run_wait(struct run *r)
{
	const struct proc_spec *spec = r->spec;
	struct proc_result *res = r->res;
	int pidfd, status = 0, main_done = 0, out_open = 1;
	int cancel_fd = spec->cancel_fd, cpu_known = 0, mem_known = 0;
	int grace = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : 2000;
	int64_t deadline = -1, kill_at = -1;
	double t0;
	struct rusage ru;

	r->buf = xmalloc(PROC_READ_CHUNK);
	t0 = now_sec();
	run_release(r);
	if (spec->timeout_sec > 0)
		deadline = mono_ms() + (int64_t)spec->timeout_sec * 1000;
	pidfd = r->pooled ? r->ctl : sys_pidfd_open(r->pid);
	if (spec->on_start)
		spec->on_start(spec->ud);

	while (!main_done) {
		struct pollfd pfd[4 + PROC_MAX_SIDE];
		int nfds = 0, ipid = -1, iout = -1, icancel = -1, iinfo = -1;
		int iside = -1, tmo = -1, n;
		int64_t now = mono_ms();
		size_t k;

		if (out_open) {
			iout = nfds;
			pfd[nfds].fd = r->out_r;
			pfd[nfds++].events = POLLIN;
		}
		if (pidfd >= 0) {
			ipid = nfds;
			pfd[nfds].fd = pidfd;
			pfd[nfds++].events = POLLIN;
		} else {
			tmo = 20; /* no pidfd (old kernel): check on a tick */
		}
		if (cancel_fd >= 0) {
			icancel = nfds;
			pfd[nfds].fd = cancel_fd;
			pfd[nfds++].events = POLLIN;
		}
		if (r->info_r >= 0) {
			iinfo = nfds;
			pfd[nfds].fd = r->info_r;
			pfd[nfds++].events = POLLIN;
		}
		if (spec->on_side && spec->side_nr) {
			iside = nfds;
			for (k = 0; k < spec->side_nr && k < PROC_MAX_SIDE; k++) {
				pfd[nfds].fd = spec->side_fds[k]; /* -1: ignored */
				pfd[nfds++].events = POLLIN;
			}
		}
		if (deadline >= 0 && !res->timed_out && !res->canceled)
			tmo = (tmo < 0 || deadline - now < tmo) ?
			      (int)(deadline > now ? deadline - now : 0) : tmo;
		if (kill_at >= 0)
			tmo = (tmo < 0 || kill_at - now < tmo) ?
			      (int)(kill_at > now ? kill_at - now : 0) : tmo;
		if (r->cg_ok && r->cg.has_mem && !r->cg.has_peak &&
		    r->cg.version == CGROUP_V2) {
			cgroup_sample(&r->cg);
			tmo = (tmo < 0 || tmo > PROC_SAMPLE_MS) ? PROC_SAMPLE_MS : tmo;
		}
		n = poll(pfd, nfds, tmo);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && iout >= 0 && pfd[iout].revents)
			out_open = pump(r);
		if (n > 0 && iinfo >= 0 && pfd[iinfo].revents)
			read_info(r);
		for (k = 0; n > 0 && iside >= 0 && (int)k + iside < nfds; k++)
			if (pfd[iside + k].fd >= 0 && pfd[iside + k].revents)
				spec->on_side(spec->ud, k);
		if (n > 0 && icancel >= 0 && pfd[icancel].revents) {
			cancel_fd = -1;
			if (!res->timed_out && !res->output_lost) {
				res->canceled = 1;
				signal_tree(r, SIGTERM);
				kill_at = mono_ms() + grace;
			}
		}
		if (r->output_failed && !res->output_lost && !res->canceled && !res->timed_out) {
			/* what it prints is lost: it is stopped as a cancel would */
			res->output_lost = 1;
			signal_tree(r, SIGTERM);
			kill_at = mono_ms() + grace;
		}
		now = mono_ms();
		if (deadline >= 0 && now >= deadline && !res->timed_out &&
		    !res->canceled && !res->output_lost) {
			res->timed_out = 1;
			signal_tree(r, SIGTERM);
			kill_at = now + grace;
		}
		if (kill_at >= 0 && now >= kill_at) {
			signal_tree(r, SIGKILL);
			kill_at = -1;
		}
		if (r->pooled) {
			if (n > 0 && pfd[ipid].revents)
				main_done = pool_read(r->ctl, &r->pst) != 0;
			if (r->pst.mntns >= 0 && r->mntns_fd < 0) {
				r->mntns_fd = r->pst.mntns;
				r->pst.mntns = -1;
			}
		} else if (pidfd >= 0 ? (n > 0 && pfd[ipid].revents) : 1) {
			siginfo_t si;
			int w;

			memset(&si, 0, sizeof(si));
			w = waitid(P_PID, r->pid, &si, WEXITED | WNOHANG | WNOWAIT);
			if ((!w && si.si_pid == r->pid) || (w < 0 && errno == ECHILD))
				main_done = 1;
		}
	}
	/* The job ends when the main shell exits: reap it, kill leftovers. */
	if (r->pooled) {
		status = r->pst.status;
		ru = r->pst.ru;
	} else if (wait4(r->pid, &status, 0, &ru) < 0) {
		memset(&ru, 0, sizeof(ru));
	}
	kill_tree_and_wait(r);
	if (out_open)
		pump(r);
	res->wall = now_sec() - t0;

	if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->exit_code = 128 + res->signal;
	} else {
		res->exit_code = WEXITSTATUS(status);
	}
	if (r->cg_ok) {
		res->peak_mem = cgroup_peak_mem(&r->cg);
		mem_known = res->peak_mem >= 0;
		if (mem_known)
			res->accounting = r->cg.version == CGROUP_V2 ?
					  "cgroup2" : "cgroup1";
		cpu_known = !cgroup_cpu(&r->cg, &res->cpu_user, &res->cpu_sys);
		res->oom_kills = cgroup_oom_kills(&r->cg);
		res->pids_refused = cgroup_pids_refused(&r->cg);
	}
	rusage_fill(res, &ru, cpu_known, mem_known);

	if (pidfd >= 0 && !r->pooled)
		close(pidfd);
	run_free(r);
	cgroup_release(&r->cg);
}

/*
 * A started child that will not run its job (a prestarted sandbox
 * nobody takes): everything killed and waited for, the run freed, the
 * cgroup removed. bwrap is killed before its block fd is closed: on
 * EOF there it would exec the job.
 */
static void run_abort(struct run *r)
{
	if (r->pooled) {
		/* its init, told of no job, exits; anything else is killed */
		close(r->ctl);
		r->ctl = -1;
	}
	signal_tree(r, SIGKILL);
	while (r->pid > 0 && waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	kill_tree_and_wait(r);
	run_free(r);
	cgroup_release(&r->cg);
}

static void res_init(struct proc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->peak_mem = -1;
	res->accounting = "rusage";
}

/* ---- prestarted sandboxes ----------------------------------------- */

struct proc_prestart {
	struct run r;
	int ready;          /* a pool's sandbox said it is set up */
	/* the spec it was started from, copied (r.spec points here) */
	struct proc_spec own;
	struct strvec wrap, env, entry;
	char *script, *workdir, *shell, *name;
	struct proc_limits lim;
	dev_t wd_dev;
	ino_t wd_ino;
};

static void vec_copy(struct strvec *dst, char *const *v)
{
	strvec_init(dst);
	while (v && *v)
		strvec_push(dst, *v++);
}

static int vec_same(const struct strvec *a, char *const *v)
{
	size_t i;

	for (i = 0; i < a->nr; i++)
		if (!v || !v[i] || strcmp(a->v[i], v[i]))
			return 0;
	return !v ? a->nr == 0 : !v[i];
}

static int str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void limits_of(const struct proc_spec *spec, struct proc_limits *l)
{
	memset(l, 0, sizeof(*l));
	if (spec->limits)
		*l = *spec->limits;
}

/*
 * Whether spec asks for exactly what p was started with: through a
 * trampoline, what the sandbox's set-up depends on (command line,
 * limits, workdir); else the job's whole command, environment and cwd
 * too.
 */
static int prestart_matches(const struct proc_prestart *p,
			    const struct proc_spec *spec)
{
	struct proc_limits l;
	struct stat st;

	limits_of(spec, &l);
	if (p->r.tramp)
		return spec->wrap && spec->init_argv &&
		       spec->wrap_block_fd == p->own.wrap_block_fd &&
		       spec->wrap_info_fd == p->own.wrap_info_fd &&
		       spec->init_exe_at == p->own.init_exe_at &&
		       vec_same(&p->wrap, spec->init_argv) &&
		       str_same(p->workdir, spec->workdir) &&
		       l.memory == p->lim.memory && l.pids == p->lim.pids &&
		       l.cpus == p->lim.cpus &&
		       strlen(spec->script) <= PROC_MAX_ARG_SCRIPT &&
		       !stat(spec->workdir, &st) && st.st_dev == p->wd_dev &&
		       st.st_ino == p->wd_ino;
	return spec->wrap && spec->wrap_block_fd > 2 &&
	       spec->wrap_block_fd == p->own.wrap_block_fd &&
	       spec->wrap_info_fd == p->own.wrap_info_fd &&
	       vec_same(&p->wrap, spec->wrap) &&
	       vec_same(&p->env, spec->env ? spec->env : environ) &&
	       str_same(p->script, spec->script) &&
	       str_same(p->shell, spec->shell) &&
	       vec_same(&p->entry, spec->entrypoint) &&
	       str_same(p->workdir, spec->workdir) &&
	       l.memory == p->lim.memory && l.pids == p->lim.pids &&
	       l.cpus == p->lim.cpus &&
	       !stat(spec->workdir, &st) && st.st_dev == p->wd_dev &&
	       st.st_ino == p->wd_ino;
}

/*
 * A prestart through a trampoline, from the pool for its line
 * (spec->pool; exec/pool.h): its cgroup made and limited here as for a
 * bwrap of its own (or none, see below), its sandbox made by the pool.
 * 0, or -1 with nothing left behind (the caller starts it the usual
 * way).
 */
static int pool_begin(struct run *r)
{
	const struct proc_spec *spec = r->spec;
	struct pool_spawn_opts o;
	struct strbuf why = STRBUF_INIT;
	int out[2], devnull, ctl = -1, ret, cg_ok;

	/*
	 * Without a cgroup the pool still serves a job that asked for no
	 * limits: its init's pid namespace is its tree, which the init
	 * signals, kills and reaps (signal_tree); accounting is rusage.
	 */
	cg_ok = cgroup_create(&r->cg, spec->name) == 0;
	if (!cg_ok && PROC_LIMITS_SET(spec->limits))
		return -1;
	if (cg_ok && PROC_LIMITS_SET(spec->limits) &&
	    cgroup_limit(&r->cg, spec->limits, &why) < 0) {
		strbuf_release(&why);
		cgroup_destroy(&r->cg);
		return -1;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		cgroup_destroy(&r->cg);
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(devnull);
		cgroup_destroy(&r->cg);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.init_argv = spec->wrap;
	o.exe_fd = spec->init_exe;
	o.workdir = spec->workdir;
	o.out_w = out[1];
	o.devnull = devnull;
	o.cg = &r->cg;
	o.must_join = PROC_LIMITS_SET(spec->limits);
	ret = pool_spawn(&o, &ctl, &why);
	strbuf_release(&why);
	close(out[1]);
	close(devnull);
	if (ret < 0) {
		close(out[0]);
		cgroup_destroy(&r->cg);
		return -1;
	}
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	r->cg_ok = cg_ok;
	r->out_r = out[0];
	r->ctl = ctl;
	r->pooled = 1;
	return 0;
}

struct proc_prestart *proc_prestart(const struct proc_spec *spec,
				    struct strbuf *err)
{
	struct proc_prestart *p;
	struct stat st;
	int tramp;

	if (!spec->wrap || spec->wrap_block_fd <= 2 || !spec->workdir) {
		strbuf_addstr(err, "only a sandbox with a block fd and a "
			      "workspace can be prestarted");
		return NULL;
	}
	if (stat(spec->workdir, &st) < 0) {
		strbuf_addf(err, "%s: %s", spec->workdir, strerror(errno));
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->wd_dev = st.st_dev;
	p->wd_ino = st.st_ino;
	tramp = spec->init_argv && spec->init_exe >= 0 && spec->init_exe_at > 2;
	if (tramp) {
		/* bwrap gets nothing of the job, not even its environment
		   (what it adds, the trampoline passes on) */
		vec_copy(&p->wrap, spec->init_argv);
		strvec_init(&p->env);
		p->script = xstrdup("");
	} else {
		vec_copy(&p->wrap, spec->wrap);
		vec_copy(&p->env, spec->env ? spec->env : environ);
		p->script = xstrdup(spec->script);
	}
	p->workdir = xstrdup(spec->workdir);
	p->shell = xstrdup_or_null(spec->shell);
	vec_copy(&p->entry, spec->entrypoint);
	p->name = xstrdup_or_null(spec->name);
	limits_of(spec, &p->lim);
	p->own.name = p->name;
	p->own.workdir = p->workdir;
	p->own.env = p->env.v;
	p->own.script = p->script;
	p->own.cancel_fd = -1;
	p->own.wrap = p->wrap.v;
	p->own.shell = p->shell;
	p->own.entrypoint = p->entry.nr ? p->entry.v : NULL;
	p->own.wrap_info_fd = spec->wrap_info_fd;
	p->own.wrap_block_fd = spec->wrap_block_fd;
	p->own.init_exe = tramp ? spec->init_exe : -1;
	p->own.init_exe_at = tramp ? spec->init_exe_at : 0;
	p->own.limits = &p->lim;
	{
		struct run r0 = RUN_INIT(&p->own, NULL);

		p->r = r0;
		p->r.tramp = tramp;
	}
	if (tramp && spec->pool && pool_begin(&p->r) == 0)
		return p;
	if (run_begin(&p->r, err) < 0) {
		proc_prestart_discard(p);
		return NULL;
	}
	return p;
}

int proc_prestart_busy(struct proc_prestart *p, int *fd)
{
	char c;
	ssize_t n;

	if (fd)
		*fd = -1;
	if (!p->r.pooled || p->r.ctl < 0)
		return 1;
	if (p->ready)
		return 0;
	/* "ready" (or the init's end): what pool_read takes later */
	n = recv(p->r.ctl, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n >= 0 || (errno != EAGAIN && errno != EINTR)) {
		p->ready = 1;
		return 0;
	}
	if (fd)
		*fd = p->r.ctl;
	return 1;
}

static void prestart_free(struct proc_prestart *p)
{
	strvec_clear(&p->wrap);
	strvec_clear(&p->env);
	strvec_clear(&p->entry);
	free(p->script);
	free(p->workdir);
	free(p->shell);
	free(p->name);
	free(p);
}

void proc_prestart_discard(struct proc_prestart *p)
{
	if (!p)
		return;
	if (p->r.pid > 0 || p->r.pooled)
		run_abort(&p->r);
	prestart_free(p);
}

/*
 * What a trampoline is sent at the release: spec's shell command line,
 * environment and cwd inside (sandbox_job_encode), into p->r.job. 0, or
 * -1 when it passes the trampoline's limits (the job then starts in a
 * sandbox of its own, whose exec says what is wrong).
 */
static int job_message(struct proc_prestart *p, const struct proc_spec *spec)
{
	struct strbuf msg = STRBUF_INIT, why = STRBUF_INIT;
	char **argv = xcalloc(entry_nr(spec) + 10, sizeof(*argv));
	int argc = shell_words(spec, argv);

	argv[argc++] = "-c";
	argv[argc++] = (char *)spec->script;
	argv[argc] = NULL;
	if (sandbox_job_encode(&msg, spec->init_cwd, argv,
			       spec->env ? spec->env : environ, &why) < 0) {
		strbuf_release(&msg);
		strbuf_release(&why);
		free(argv);
		return -1;
	}
	free(argv);
	strbuf_release(&why);
	free(p->r.job);
	p->r.job = strbuf_detach(&msg, &p->r.job_len);
	return 0;
}

int proc_run(const struct proc_spec *spec, struct proc_result *res,
	     struct strbuf *err)
{
	struct proc_prestart *p = spec->prestart;
	struct run r = RUN_INIT(spec, res);

	res_init(res);
	if (p && prestart_matches(p, spec) &&
	    (!p->r.tramp || job_message(p, spec) == 0)) {
		/* the same sandbox: go on with its run, under this spec */
		r = p->r;
		r.spec = spec;
		r.res = res;
		prestart_free(p);
		res->prestarted = 1;
		run_wait(&r);
		return 0;
	}
	proc_prestart_discard(p);
	if (run_begin(&r, err) < 0)
		return -1;
	run_wait(&r);
	return 0;
}

/* Append s quoted for bash between single quotes. */
static void sq_quote(struct strbuf *out, const char *s, size_t len)
{
	size_t i;

	strbuf_addch(out, '\'');
	for (i = 0; i < len; i++) {
		if (s[i] == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, s[i]);
	}
	strbuf_addch(out, '\'');
}

void proc_script_build(struct strbuf *out, char *const *cmds, size_t nr,
		       int colour)
{
	size_t i;

	strbuf_addstr(out, "set -eo pipefail\nset +o noclobber\n");
	for (i = 0; i < nr; i++) {
		const char *c = cmds[i];
		size_t len, first;

		while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
			c++;
		len = strlen(c);
		while (len && (c[len - 1] == ' ' || c[len - 1] == '\t' ||
			       c[len - 1] == '\n' || c[len - 1] == '\r'))
			len--;
		if (!len) {
			strbuf_addstr(out, "echo\n");
			continue;
		}
		first = strcspn(c, "\n");
		if (first > len)
			first = len;
		strbuf_addstr(out, colour ? "printf '\\033[32;1m%s\\033[0;m\\n' "
				 : "printf '%s\\n' ");
		{
			struct strbuf line = STRBUF_INIT;

			strbuf_addstr(&line, "$ ");
			strbuf_add(&line, c, first);
			if (first < len)
				strbuf_addstr(&line, " # collapsed multi-line command");
			sq_quote(out, line.buf, line.len);
			strbuf_release(&line);
		}
		strbuf_addch(out, '\n');
		strbuf_add(out, c, len);
		strbuf_addch(out, '\n');
	}
}

/* ---- short helper commands whose output we read ------------------- */

const char *const proc_git_env[] = {
	"GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE",
	"GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_GRAFT_FILE",
	"GIT_SHALLOW_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE",
	"GIT_PREFIX", "GIT_NAMESPACE", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
	"GIT_CONFIG_COUNT",
	"LC_ALL=C", "GIT_OPTIONAL_LOCKS=0", "GIT_TERMINAL_PROMPT=0",
	NULL
};

struct capture_child {
	pid_t pid;                 /* -1: not started, or reaped */
	int fd[2];                 /* read ends of stdout, stderr; -1 closed */
};

void proc_capture_init(struct proc_capture *pc)
{
	memset(pc, 0, sizeof(*pc));
	strbuf_init(&pc->out, 0);
	strbuf_init(&pc->errout, 0);
	pc->status = -1;
}

void proc_capture_release(struct proc_capture *pc)
{
	strbuf_release(&pc->out);
	strbuf_release(&pc->errout);
}

/* Does environment entry "NAME=value" name the variable of change? */
static int env_same_name(const char *entry, const char *change)
{
	size_t n = strcspn(change, "=");

	return !strncmp(entry, change, n) && entry[n] == '=';
}

/* environ with changes applied; the array is ours, the strings are not. */
static char **env_with(const char *const *changes)
{
	size_t n, nc = 0, i, j, k = 0;
	char **env;

	for (n = 0; environ[n]; n++)
		;
	while (changes && changes[nc])
		nc++;
	env = xcalloc(n + nc + 1, sizeof(*env));
	for (i = 0; i < n; i++) {
		for (j = 0; j < nc && !env_same_name(environ[i], changes[j]); j++)
			;
		if (j == nc)
			env[k++] = environ[i];
	}
	for (j = 0; j < nc; j++)
		if (strchr(changes[j], '='))
			env[k++] = (char *)changes[j];
	env[k] = NULL;
	return env;
}

/*
 * The full path of a command name found in PATH, looked up once per name
 * for the life of the process (posix_spawnp would try every PATH entry
 * on every spawn). NULL when not found; names with a '/' are not cached.
 */
static const char *resolve_cmd(const char *name)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct { char *name; char *path; } cache[8];
	static size_t nr;
	const char *path = getenv("PATH"), *res = NULL, *p;
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	if (strchr(name, '/') || !path)
		return NULL;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nr; i++)
		if (!strcmp(cache[i].name, name)) {
			res = cache[i].path;
			goto done;
		}
	for (p = path; *p; ) {
		size_t len = strcspn(p, ":");

		strbuf_reset(&sb);
		strbuf_add(&sb, p, len);
		strbuf_addf(&sb, "/%s", name);
		/* relative PATH entries depend on the cwd: never cached */
		if (sb.buf[0] == '/' && !access(sb.buf, X_OK)) {
			res = sb.buf;
			break;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	if (res && nr < ARRAY_SIZE(cache)) {
		cache[nr].name = xstrdup(name);
		cache[nr].path = strbuf_detach(&sb, NULL);
		res = cache[nr++].path;
	} else {
		res = NULL; /* not found, or no room: posix_spawnp searches */
	}
done:
	pthread_mutex_unlock(&lock);
	strbuf_release(&sb);
	return res;
}

static int capture_start(struct proc_capture *c, struct capture_child *ch,
			 int devnull, const posix_spawnattr_t *attr,
			 struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	int o[2] = { -1, -1 }, e[2] = { -1, -1 }, r;
	char **env;

	if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
		r = errno;
		if (o[0] >= 0) {
			close(o[0]);
			close(o[1]);
		}
		strbuf_addf(err, "cannot run %s: pipe: %s", c->argv[0], strerror(r));
		return -1;
	}
	env = env_with(c->env);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, e[1], 2);
	if (c->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, c->cwd);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* Descriptors other threads opened without O_CLOEXEC stay ours. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	{
		const char *full = resolve_cmd(c->argv[0]);

		if (full)
			r = posix_spawn(&ch->pid, full, &fa, attr,
					(char *const *)c->argv, env);
		else
			r = posix_spawnp(&ch->pid, c->argv[0], &fa, attr,
					 (char *const *)c->argv, env);
	}
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(o[1]);
	close(e[1]);
	if (r) {
		close(o[0]);
		close(e[0]);
		ch->pid = -1;
		strbuf_addf(err, "cannot run %s%s%s: %s", c->argv[0],
			    c->cwd ? " in " : "", c->cwd ? c->cwd : "", strerror(r));
		return -1;
	}
	ch->fd[0] = o[0];
	ch->fd[1] = e[0];
	return 0;
}

/* Read what fd k (0 stdout, 1 stderr) of a child has; closed at its end. */
static void capture_read(struct proc_capture *c, struct capture_child *ch,
			 int k)
{
	char buf[16384];
	ssize_t n = read(ch->fd[k], buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(ch->fd[k]);
		ch->fd[k] = -1;
		return;
	}
	if (k == 1) {
		size_t room = PROC_CAPTURE_ERR_MAX - c->errout.len;

		strbuf_add(&c->errout, buf, (size_t)n < room ? (size_t)n : room);
		return;
	}
	if (c->out.len + (size_t)n > c->max_out) {
		strbuf_add(&c->out, buf, c->max_out - c->out.len);
		c->too_big = 1;
		kill(ch->pid, SIGKILL);
		close(ch->fd[0]);
		ch->fd[0] = -1;
		return;
	}
	strbuf_add(&c->out, buf, (size_t)n);
}

int proc_capture_all(struct proc_capture *cmds, size_t nr, struct strbuf *err)
{
	struct capture_child *ch = xcalloc(nr ? nr : 1, sizeof(*ch));
	struct pollfd *pfd = xcalloc(3 * nr + 1, sizeof(*pfd));
	size_t *who = xcalloc(3 * nr + 1, sizeof(*who));
	posix_spawnattr_t attr, grouped;
	sigset_t all, none;
	int devnull, ret = 0, status;
	size_t i, np;

	for (i = 0; i < nr; i++) {
		ch[i].pid = -1;
		ch[i].fd[0] = ch[i].fd[1] = -1;
		cmds[i].status = -1;
		cmds[i].too_big = 0;
		cmds[i].canceled = 0;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0) {
		strbuf_addf(err, "cannot open /dev/null: %s", strerror(errno));
		ret = -1;
		goto done;
	}
	/* Ignored signals survive exec: helpers get default dispositions. */
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETSIGMASK);
	/* a cancelable command: a process group of its own, killed whole */
	posix_spawnattr_init(&grouped);
	posix_spawnattr_setsigdefault(&grouped, &all);
	posix_spawnattr_setsigmask(&grouped, &none);
	posix_spawnattr_setpgroup(&grouped, 0);
	posix_spawnattr_setflags(&grouped, POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
	for (i = 0; i < nr; i++) {
		struct strbuf why = STRBUF_INIT;

		if (capture_start(&cmds[i], &ch[i], devnull,
				  cmds[i].cancel_fd ? &grouped : &attr, &why) < 0) {
			if (!ret)
				strbuf_add(err, why.buf, why.len);
			ret = -1;
		}
		strbuf_release(&why);
	}
	posix_spawnattr_destroy(&attr);
	posix_spawnattr_destroy(&grouped);
	close(devnull);

	for (;;) {
		np = 0;
		for (i = 0; i < 2 * nr; i++)
			if (ch[i / 2].fd[i % 2] >= 0) {
				pfd[np].fd = ch[i / 2].fd[i % 2];
				pfd[np].events = POLLIN;
				who[np++] = i;
			}
		if (!np)
			break;
		/* the cancel descriptors of commands still running */
		for (i = 0; i < nr; i++)
			if (cmds[i].cancel_fd && !cmds[i].canceled && ch[i].pid > 0) {
				pfd[np].fd = *cmds[i].cancel_fd;
				pfd[np].events = POLLIN;
				who[np++] = 2 * nr + i;
			}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			strbuf_addf(err, "poll: %s", strerror(errno));
			ret = -1;
			for (i = 0; i < 2 * nr; i++)
				if (ch[i / 2].fd[i % 2] >= 0) {
					if (ch[i / 2].pid > 0)
						kill(ch[i / 2].pid, SIGKILL);
					close(ch[i / 2].fd[i % 2]);
					ch[i / 2].fd[i % 2] = -1;
				}
			break;
		}
		for (i = 0; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i] >= 2 * nr) {
				size_t k = who[i] - 2 * nr;

				/* the group: git's own children (index-pack...) too */
				cmds[k].canceled = 1;
				kill(-ch[k].pid, SIGKILL);
				continue;
			}
			capture_read(&cmds[who[i] / 2], &ch[who[i] / 2],
				     (int)(who[i] % 2));
		}
	}

	for (i = 0; i < nr; i++) {
		if (ch[i].pid < 0)
			continue;
		while (waitpid(ch[i].pid, &status, 0) < 0 && errno == EINTR)
			;
		cmds[i].status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
				 WEXITSTATUS(status);
		if (cmds[i].canceled && !ret) {
			strbuf_addf(err, "%s stopped", cmds[i].argv[0]);
			ret = -1;
		}
		if (cmds[i].too_big && !ret) {
			strbuf_addf(err, "output of %s passed %zu bytes",
				    cmds[i].argv[0], cmds[i].max_out);
			ret = -1;
		}
	}
done:
	free(ch);
	free(pfd);
	free(who);
	return ret;
}

int proc_capture(const char *const *argv, const char *cwd,
		 const char *const *env, size_t max_out, struct strbuf *out,
		 int *ret_status, struct strbuf *err)
{
	struct proc_capture pc;
	int ret;

	proc_capture_init(&pc);
	pc.argv = argv;
	pc.cwd = cwd;
	pc.env = env;
	pc.max_out = max_out;
	ret = proc_capture_all(&pc, 1, err);
	if (!ret) {
		*ret_status = pc.status;
		if (pc.status) {
			strbuf_add(err, pc.errout.buf, pc.errout.len);
			strbuf_rtrim(err);
		}
		if (!out->len) {
			struct strbuf t = *out;

			*out = pc.out;
			pc.out = t;
		} else {
			strbuf_add(out, pc.out.buf, pc.out.len);
		}
	}
	proc_capture_release(&pc);
	return ret;
}
