/*
 * Sandboxes from a pool: see pool.h and docs/internals/sandbox.md,
 * "Pools". Two sides: the outside (pool_spawn, pool_read: the zygote
 * started once per line, a request per job) and the inside (pool_main:
 * the zygote, and each job's init it clones).
 */
#include "exec/pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/xattr.h>
#include <sys/prctl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/cgroup.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "exec/vmclone.h"
#include "util/sha256.h"
#include "util/utctime.h"
#include "util/xalloc.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

extern char **environ;

#define POOL_MAGIC "CSZ1"
/* A session's hello: magic, idle seconds (POOL_QUERY, POOL_STOP) */
#define POOL_HELLO "CSH1"
#define POOL_QUERY (-1)
#define POOL_STOP (-2)
/* A pool's sessions at once (each a `cidre run`) */
#define POOL_SESSIONS_MAX 64
/* kits a daemon keeps made ahead; used ones it holds on to, at most */
#define POOL_KITS 8
#define POOL_USED_MAX 64
/* inits a daemon keeps for jobs to come; inits it knows of, at most */
#define POOL_IDLE_INITS 8
#define POOL_INITS_MAX 64
/* how long an init waits for what a job left to be gone, to be reused */
#define POOL_REAP_MS 2000
/* A request: magic, slug, project dir, flags, count of join fds. */
#define POOL_REQ_MAX 8192
/* ctl, out, in, the v2 directory, four join fds */
#define POOL_FDS_MAX 8
/* the workspace's name an init remembers as bound */
#define POOL_SLUG_MAX 256
/* pool_warm's file */
#define POOL_LINE_MAX (256 * 1024)

enum {
	POOL_NET = 1,        /* a network namespace of its own */
	POOL_CGDIR = 2,      /* a v2 cgroup directory: clone into it */
	POOL_MUST_JOIN = 4,  /* no job unless it is in its cgroup */
};

/* The zygote's answer to a hello. */
struct pool_hello_reply {
	char type;           /* 'Y' */
	int sessions;        /* open sessions, this one included */
	int idle;            /* seconds it stays without one */
	long uptime;         /* seconds since it started */
	long jobs;           /* jobs served */
	int ready;           /* sandboxes made ahead, waiting (kits) */
	int waiting;         /* inits that served a job, waiting for one */
};

/* What the job's init sends back on ctl: fixed-size records. */
struct pool_msg {
	char type;           /* 'R' ready, 'S' status */
	int status;
	struct rusage ru;
};

/* Room for the descriptors of one message. */
union fd_cmsg {
	struct cmsghdr h;
	char b[CMSG_SPACE(sizeof(int) * POOL_FDS_MAX)];
};

/* A message of one buffer, with c as its control data (all of it). */
static void msg_init(struct msghdr *msg, struct iovec *iov, void *buf,
		     size_t len, union fd_cmsg *c)
{
	memset(msg, 0, sizeof(*msg));
	iov->iov_base = buf;
	iov->iov_len = len;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = c->b;
	msg->msg_controllen = sizeof(c->b);
}

/*
 * A message with descriptors (SCM_RIGHTS), on either side: sent whole
 * (EINTR retried); 0 or -1.
 */
static int send_fds(int sock, const void *buf, size_t len, const int *fds,
		    int nfd)
{
	union fd_cmsg c;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	memset(&c, 0, sizeof(c));
	msg_init(&msg, &iov, (void *)buf, len, &c);
	msg.msg_control = NULL;
	msg.msg_controllen = 0;
	if (nfd > 0 && nfd <= POOL_FDS_MAX) {
		struct cmsghdr *cm;

		msg.msg_control = c.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfd);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Receive a message and up to max descriptors (close-on-exec; more are
 * closed) into fds, their count in *nfd. The message's length, or -1
 * (errno; EINTR retried); *trunc set when the message or its
 * descriptors did not fit.
 */
static ssize_t recv_fds(int sock, void *buf, size_t len, int *fds, int max,
			int *nfd, int flags, int *trunc)
{
	union fd_cmsg c;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cm;
	ssize_t n;

	*nfd = 0;
	*trunc = 0;
	msg_init(&msg, &iov, buf, len, &c);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t k, m;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		m = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < m; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(fd));
			if (*nfd < max) {
				fds[(*nfd)++] = fd;
			} else {
				close(fd);
				*trunc = 1;
			}
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		*trunc = 1;
	return n;
}

/* ---- the outside --------------------------------------------------- */

struct pool {
	struct strvec argv;
	int sock;            /* SOCK_SEQPACKET: requests */
	pid_t pid;           /* our child, or -1 (a daemon's, or gone) */
	int dead;            /* a request could not be sent: not used again */
};

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool **pools;
static size_t pools_nr, pools_alloc;
/* pool_warm's file: the line of the first pool this process made */
static char *remember_path;
static int remembered;
/* pools that outlive us: their sockets' directory, seconds kept idle */
static char *daemon_dir;
static int daemon_idle;

static int argv_same(const struct strvec *a, const struct strvec *b)
{
	size_t i;

	if (a->nr != b->nr)
		return 0;
	for (i = 0; i < a->nr; i++)
		if (strcmp(a->v[i], b->v[i]))
			return 0;
	return 1;
}

int pool_argv(char *const *in, const char *workdir, struct strvec *out,
	      char **slug, char **project_dir, int *net, long *uid, long *gid)
{
	const char *base = strrchr(workdir, '/');
	char *dir;
	int tmp = 0, bound = 0, init = 0;
	size_t i;

	*slug = NULL;
	*project_dir = NULL;
	*net = 0;
	*uid = *gid = -1;
	if (!base || base == workdir || !base[1] || !strcmp(base + 1, ".") ||
	    !strcmp(base + 1, "..") || workdir[0] != '/')
		return -1;
	dir = xstrndup(workdir, (size_t)(base - workdir));
	for (i = 0; in[i]; i++) {
		const char *a = in[i];

		if (!strcmp(a, "--")) {
			/* the rest: /proc/self/fd/N sandbox-init */
			for (; in[i]; i++)
				strvec_push(out, in[i]);
			init = i >= 1 && !strcmp(in[i - 1], SANDBOX_INIT_CMD);
			strvec_push(out, "pool");
			break;
		}
		if (!strcmp(a, "--cap-drop") && in[i + 1] &&
		    !strcmp(in[i + 1], "ALL")) {
			strvec_push(out, "--cap-add");
			strvec_push(out, "ALL");
			i++;
		} else if (!strcmp(a, "--unshare-cgroup-try") ||
			   !strcmp(a, "--die-with-parent")) {
			/* the job's init makes its own; EOF ends the pool */
		} else if (!strcmp(a, "--unshare-net")) {
			*net = 1;
			strvec_push(out, a);
		} else if (!strcmp(a, "--tmpfs") && in[i + 1] &&
			   !strcmp(in[i + 1], "/tmp")) {
			strvec_push(out, "--bind");
			strvec_push(out, dir);
			strvec_push(out, "/tmp");
			tmp = 1;
			i++;
		} else if (!strcmp(a, "--bind") && in[i + 1] && in[i + 2] &&
			   !strcmp(in[i + 1], workdir)) {
			free(*project_dir);
			*project_dir = xstrdup(in[i + 2]);
			bound = 1;
			i += 2;
		} else if (!strcmp(a, "--info-fd") && in[i + 1]) {
			i++;
		} else if ((!strcmp(a, "--uid") || !strcmp(a, "--gid")) && in[i + 1]) {
			/* the pool is root of its user namespace, which owns
			   every mount; each job's init maps the job's ids in a
			   namespace of its own, as bwrap's second one does */
			char *end;
			long v = strtol(in[i + 1], &end, 10);

			if (*end || v < 0 || v > 0x7fffffffL)
				v = -2;
			*(a[2] == 'u' ? uid : gid) = v;
			strvec_push(out, a);
			strvec_push(out, "0");
			i++;
		} else {
			strvec_push(out, a);
		}
	}
	free(dir);
	if (!tmp || !bound || !init || (*project_dir)[0] != '/' || *uid < 0 ||
	    *gid < 0) {
		free(*project_dir);
		*project_dir = NULL;
		return -1;
	}
	*slug = xstrdup(base + 1);
	return 0;
}

/*
 * Start the zygote: bwrap with the pool line, sock at SANDBOX_BLOCK_FD
 * and our executable at SANDBOX_EXE_FD, an empty environment, stdin
 * and stdout /dev/null, stderr errfd (-1: ours). Either our child in
 * its own process group (a ^C to `cidre run` is ours to handle; *pid
 * set), or a daemon (detach: a session of its own, no parent of ours,
 * no descriptor of ours but those: *pid -1). fork(): only
 * async-signal-safe calls in the child.
 */
static int pool_exec(const struct strvec *argv, int exe_fd, int sock,
		     int errfd, int detach, pid_t *pidp, struct strbuf *err)
{
	char *empty[] = { NULL };
	sigset_t all, old;
	int devnull, status;
	pid_t pid;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		strbuf_addf(err, "/dev/null: %s", strerror(errno));
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		int s, e, f = -1;

		proc_signals_default();
		if (detach) {
			pid_t gc;

			setsid();
			gc = fork();
			if (gc != 0)
				_exit(gc < 0 ? 127 : 0);
		} else {
			setpgid(0, 0);
		}
		s = fcntl(sock, F_DUPFD_CLOEXEC, 10);
		e = fcntl(exe_fd, F_DUPFD_CLOEXEC, 10);
		if (errfd >= 0)
			f = fcntl(errfd, F_DUPFD_CLOEXEC, 10);
		if (s < 0 || e < 0 || (errfd >= 0 && f < 0) ||
		    dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
		    (f >= 0 && dup2(f, 2) < 0) ||
		    dup2(s, SANDBOX_BLOCK_FD) < 0 || dup2(e, SANDBOX_EXE_FD) < 0)
			_exit(127);
		syscall(SYS_close_range, 6U, ~0U, CLOSE_RANGE_CLOEXEC);
		fcntl(3, F_SETFD, FD_CLOEXEC);
		execve(argv->v[0], argv->v, empty);
		_exit(127);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(devnull);
	if (pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		return -1;
	}
	if (detach) {
		/* the first child only forks the daemon */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		*pidp = -1;
		if (status) {
			strbuf_addstr(err, "cannot start the pool");
			return -1;
		}
		return 0;
	}
	*pidp = pid;
	return 0;
}

/* A pool for this process alone: its socket's EOF ends it. */
static int pool_start(struct pool *p, int exe_fd, struct strbuf *err)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		strbuf_addf(err, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (pool_exec(&p->argv, exe_fd, sv[1], -1, 0, &p->pid, err) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	p->sock = sv[0];
	return 0;
}

/*
 * A line's daemon's name: what it runs, with which executable (a new
 * build of ours starts pools of its own), for whom, from which cgroup.
 * 32 hex digits.
 */
static void pool_key(const struct strvec *argv, int exe_fd, char *hex)
{
	unsigned char md[SHA256_LEN];
	char buf[192], full[SHA256_HEX_LEN + 1];
	struct sha256 c;
	struct stat st;
	size_t i;
	int n, fd;

	memset(&st, 0, sizeof(st));
	if (fstat(exe_fd, &st) < 0)
		memset(&st, 0, sizeof(st));
	n = snprintf(buf, sizeof(buf), "%s %s %lu %lu %lu %lld %lld.%09ld\n",
		     POOL_MAGIC, POOL_HELLO, (unsigned long)getuid(),
		     (unsigned long)st.st_dev, (unsigned long)st.st_ino,
		     (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec);
	sha256_init(&c);
	sha256_update(&c, buf, (size_t)n);
	/* our cgroups: the jobs' are made beside them, and a daemon in
	   another branch could not move its jobs' inits into them */
	fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t k;

		while ((k = read(fd, buf, sizeof(buf))) > 0)
			sha256_update(&c, buf, (size_t)k);
		close(fd);
	}
	for (i = 0; i < argv->nr; i++)
		sha256_update(&c, argv->v[i], strlen(argv->v[i]) + 1);
	/*
	 * The image's first bound entry, as a file: an image removed and
	 * unpacked again at the same path (cidre image rm, then pull) is
	 * new files, which a daemon's sandboxes, bound to the old ones,
	 * would not show.
	 */
	for (i = 0; i + 1 < argv->nr; i++)
		if (!strcmp(argv->v[i], "--ro-bind")) {
			if (!stat(argv->v[i + 1], &st)) {
				n = snprintf(buf, sizeof(buf), "root %lu %lu\n",
					     (unsigned long)st.st_dev,
					     (unsigned long)st.st_ino);
				sha256_update(&c, buf, (size_t)n);
			}
			break;
		}
	sha256_final(&c, md);
	sha256_to_hex(md, full);
	memcpy(hex, full, 32);
	hex[32] = '\0';
}

/* A session with the daemon listening at path, if it is our user's. */
static int pool_connect(const char *path)
{
	struct sockaddr_un sa;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    cr.uid != getuid()) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Say hello on a session: how long the pool stays without one (seconds,
 * or POOL_QUERY, POOL_STOP). With wait_ms, read the answer and, if pid,
 * the zygote's pid as we see it. 0, or -1 (no answer: the pool is
 * ending, or not one).
 */
static int pool_hello(int fd, int idle, int wait_ms,
		      struct pool_hello_reply *r, pid_t *pid)
{
	struct pool_hello_reply rr;
	char req[32];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} c;
	struct pollfd pf = { fd, POLLIN, 0 };
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cm;
	int on = 1, n;
	size_t len;

	len = sizeof(POOL_HELLO);
	memcpy(req, POOL_HELLO, len);
	n = snprintf(req + len, sizeof(req) - len, "%d", idle);
	len += (size_t)n + 1;
	if (pid) {
		*pid = -1;
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	}
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	if (!wait_ms)
		return 0;
	if (poll(&pf, 1, wait_ms) != 1)
		return -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = r ? r : &rr;
	iov.iov_len = sizeof(rr);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = c.b;
	msg.msg_controllen = sizeof(c.b);
	if (recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(rr) ||
	    ((struct pool_hello_reply *)iov.iov_base)->type != 'Y')
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm && pid; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cr;

			memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
			*pid = cr.pid;
		}
	if (pid) {
		on = 0;
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	}
	return 0;
}

/* The pools' directory, ours alone (nobody else reaches or plants one). */
static int daemon_dir_open(const char *dir, int make)
{
	struct stat st;
	int dfd;

	if (make && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &st) < 0 || st.st_uid != getuid() ||
	    (st.st_mode & 077)) {
		close(dfd);
		errno = EPERM;
		return -1;
	}
	return dfd;
}

/* dfd's directory for reading (the one checked, not its path again). */
static DIR *pools_opendir(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/*
 * The next pool's socket in d (dfd: the same directory): its name in
 * name (33 bytes), and in *s a session with it, or -1 with errno
 * (ECONNREFUSED: its pool has ended). 1, or 0 at the end.
 */
static int pools_next(DIR *d, int dfd, char *name, int *s)
{
	struct dirent *e;
	char path[108];

	while ((e = readdir(d)))
		if (strlen(e->d_name) == 32 && e->d_type == DT_SOCK) {
			memcpy(name, e->d_name, 33);
			snprintf(path, sizeof(path), "/proc/self/fd/%d/%.32s",
				 dfd, name);
			*s = pool_connect(path);
			return 1;
		}
	return 0;
}

/*
 * Remove what ended pools left in the directory (a new build of ours
 * has new keys): sockets nobody listens on, and their log and lock
 * (taken first: a run starting that pool now keeps it).
 */
static void daemon_sweep(int dfd)
{
	DIR *d = pools_opendir(dfd);
	char key[33], name[64];
	int s, lock;

	while (d && pools_next(d, dfd, key, &s)) {
		if (s >= 0 || errno != ECONNREFUSED) {
			if (s >= 0)
				close(s);
			continue;
		}
		snprintf(name, sizeof(name), "%.32s.lock", key);
		lock = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0) {
			close(lock);
			continue;
		}
		unlinkat(dfd, key, 0);
		snprintf(name, sizeof(name), "%.32s.log", key);
		unlinkat(dfd, name, 0);
		if (lock >= 0) {
			snprintf(name, sizeof(name), "%.32s.lock", key);
			unlinkat(dfd, name, 0);
			close(lock);
		}
	}
	if (d)
		closedir(d);
}

/*
 * The line's daemon (pool_warm's directory): a session with it, or
 * with a new one started if none answers; under a lock, so that runs
 * starting at once share one. Its socket is the key's name there, its
 * stderr KEY.log. 0 (p->sock set), or -1.
 */
static int daemon_open(struct pool *p, int exe_fd, struct strbuf *err)
{
	char hex[40], name[64], path[108];
	struct sockaddr_un sa;
	int dfd, lock = -1, s = -1, ls = -1, logfd = -1, ret = -1;
	pid_t pid;

	dfd = daemon_dir_open(daemon_dir, 1);
	if (dfd < 0)
		return -1;
	pool_key(&p->argv, exe_fd, hex);
	snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dfd, hex);
	snprintf(name, sizeof(name), "%s.lock", hex);
	lock = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		goto out;
	s = pool_connect(path);
	if (s >= 0 && pool_hello(s, daemon_idle, 1000, NULL, NULL) == 0) {
		ret = 0;
		goto out;
	}
	if (s >= 0)
		close(s);
	s = -1;
	/* none, or one that is ending (or whose root is gone): a new one */
	unlinkat(dfd, hex, 0);
	daemon_sweep(dfd);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, POOL_SESSIONS_MAX) < 0)
		goto out;
	snprintf(name, sizeof(name), "%s.log", hex);
	logfd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		       O_CLOEXEC, 0600);
	if (pool_exec(&p->argv, exe_fd, ls, logfd, 1, &pid, err) < 0) {
		unlinkat(dfd, hex, 0);
		goto out;
	}
	s = pool_connect(path);
	if (s >= 0 && pool_hello(s, daemon_idle, 0, NULL, NULL) == 0)
		ret = 0;
out:
	if (ret == 0) {
		p->sock = s;
		s = -1;
	}
	if (s >= 0)
		close(s);
	if (ls >= 0)
		close(ls);
	if (logfd >= 0)
		close(logfd);
	if (lock >= 0)
		close(lock);
	close(dfd);
	return ret;
}

int pool_daemons(const char *dir, int stop, struct strbuf *out)
{
	char key[33];
	DIR *d;
	int dfd, n = 0, s;

	dfd = daemon_dir_open(dir, 0);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -1;
	d = pools_opendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	while (pools_next(d, dfd, key, &s)) {
		struct pool_hello_reply r;
		pid_t pid;
		int k;

		if (s < 0)
			continue;
		if (pool_hello(s, stop ? POOL_STOP : POOL_QUERY, 1000, &r,
			       &pid) < 0) {
			close(s);
			continue;
		}
		n++;
		close(s);
		strbuf_addf(out, "%s\t%ld\t%d\t%ld\t%d\t%ds\t%lds\t%d\n",
			    key, (long)pid, r.sessions - 1, r.jobs,
			    r.ready, r.idle, r.uptime, r.waiting);
		/* a stopped pool ends when its last session does */
		for (k = 0; stop == 1 && pid > 0 && k < 500 && kill(pid, 0) == 0; k++)
			usleep(10000);
	}
	closedir(d);
	close(dfd);
	return n;
}

/* Reap zygotes that ended (bwrap failed, or we stopped one). */
static void pool_reap(struct pool *p)
{
	if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == p->pid)
		p->pid = -1;
}

static struct pool *pool_find(const struct strvec *argv, int exe_fd,
			      struct strbuf *err)
{
	struct pool *p;
	size_t i;

	for (i = 0; i < pools_nr; i++)
		if (!pools[i]->dead && argv_same(&pools[i]->argv, argv))
			return pools[i];
	p = xcalloc(1, sizeof(*p));
	strvec_init(&p->argv);
	for (i = 0; i < argv->nr; i++)
		strvec_push(&p->argv, argv->v[i]);
	p->sock = -1;
	p->pid = -1;
	if (daemon_dir && daemon_open(p, exe_fd, err) == 0)
		;
	else if (strbuf_reset(err), pool_start(p, exe_fd, err) < 0) {
		strvec_clear(&p->argv);
		free(p);
		return NULL;
	}
	ALLOC_GROW(pools, pools_nr + 1, pools_alloc);
	pools[pools_nr++] = p;
	return p;
}

/* Keep the first line served for the next run (pool_warm); best effort. */
static void remember(const struct strvec *argv)
{
	struct strbuf sb = STRBUF_INIT, tmp = STRBUF_INIT;
	size_t i;
	int fd;

	if (!remember_path || remembered)
		return;
	remembered = 1;
	for (i = 0; i < argv->nr; i++)
		strbuf_add(&sb, argv->v[i], strlen(argv->v[i]) + 1);
	strbuf_addf(&tmp, "%s.%ld", remember_path, (long)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		int ok = write(fd, sb.buf, sb.len) == (ssize_t)sb.len;

		if (close(fd) < 0 || !ok || rename(tmp.buf, remember_path) < 0)
			unlink(tmp.buf);
	}
	strbuf_release(&sb);
	strbuf_release(&tmp);
}

void pool_warm(const char *path, const char *bwrap, int exe_fd, int idle)
{
	struct strvec argv = STRVEC_INIT;
	struct strbuf sb = STRBUF_INIT, err = STRBUF_INIT;
	size_t i;
	char *p;

	pthread_mutex_lock(&pools_lock);
	free(remember_path);
	remember_path = xstrdup(path);
	remembered = 0;
	free(daemon_dir);
	daemon_dir = NULL;
	daemon_idle = idle;
	p = strrchr(path, '/');
	if (idle > 0 && p) {
		strbuf_add(&sb, path, (size_t)(p - path));
		strbuf_addstr(&sb, "/" POOL_DIR);
		daemon_dir = strbuf_detach(&sb, NULL);
	}
	if (exe_fd < 0 || !bwrap ||
	    strbuf_read_file(&sb, path, POOL_LINE_MAX) < 0 || !sb.len ||
	    sb.buf[sb.len - 1])
		goto out;
	for (p = sb.buf; p < sb.buf + sb.len; p += strlen(p) + 1)
		strvec_push(&argv, p);
	/* only a line this process would make: our bwrap, our zygote */
	if (argv.nr < 4 || strcmp(argv.v[0], bwrap) ||
	    strcmp(argv.v[argv.nr - 1], "pool") ||
	    strcmp(argv.v[argv.nr - 2], SANDBOX_INIT_CMD))
		goto out;
	for (i = 0; i < argv.nr; i++)
		if (!strcmp(argv.v[i], "--") && i + 4 != argv.nr)
			goto out;
	if (pool_find(&argv, exe_fd, &err))
		remembered = 1;
out:
	pthread_mutex_unlock(&pools_lock);
	strvec_clear(&argv);
	strbuf_release(&sb);
	strbuf_release(&err);
}

int pool_idle_env(const char *v, int dflt)
{
	char *end;
	long n;

	if (!v)
		return dflt;
	n = strtol(v, &end, 10);
	if (!*v || *end || n < 0 || n > 86400)
		return -1;
	return (int)n;
}

int pool_spawn(const struct pool_spawn_opts *o, int *ctl, struct strbuf *err)
{
	struct strvec argv = STRVEC_INIT;
	struct strbuf req = STRBUF_INIT;
	char *slug = NULL, *proj = NULL;
	int fds[POOL_FDS_MAX], nfd = 0, flags = 0, net, sv[2] = { -1, -1 };
	int ret = -1, njoin = 0, i;
	long uid, gid;
	struct pool *p;
	int n = -1;

	*ctl = -1;
	if (o->exe_fd < 0 || !o->cg) {
		strbuf_addstr(err, "a pool needs our static executable");
		return -1;
	}
	if (pool_argv(o->init_argv, o->workdir, &argv, &slug, &proj, &net,
		      &uid, &gid) < 0) {
		strbuf_addstr(err, "not a sandbox line a pool can serve");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		strbuf_addf(err, "socketpair: %s", strerror(errno));
		goto out;
	}
	fds[nfd++] = sv[1];
	fds[nfd++] = o->out_w;
	fds[nfd++] = o->devnull;
	if (net)
		flags |= POOL_NET;
	if (o->must_join)
		flags |= POOL_MUST_JOIN;
	if (o->cg->version == CGROUP_V2 && o->cg->dir_fd >= 0) {
		flags |= POOL_CGDIR;
		fds[nfd++] = o->cg->dir_fd;
	}
	for (i = 0; i < 4; i++)
		if (o->cg->join_fd[i] >= 0) {
			fds[nfd++] = o->cg->join_fd[i];
			njoin++;
		}
	strbuf_add(&req, POOL_MAGIC, sizeof(POOL_MAGIC));
	strbuf_add(&req, slug, strlen(slug) + 1);
	strbuf_add(&req, proj, strlen(proj) + 1);
	strbuf_addf(&req, "%d", flags);
	strbuf_addch(&req, '\0');
	strbuf_addf(&req, "%d", njoin);
	strbuf_addch(&req, '\0');
	strbuf_addf(&req, "%ld", uid);
	strbuf_addch(&req, '\0');
	strbuf_addf(&req, "%ld", gid);
	strbuf_addch(&req, '\0');
	if (req.len > POOL_REQ_MAX) {
		strbuf_addstr(err, "the project directory's name is too long");
		goto out;
	}

	pthread_mutex_lock(&pools_lock);
	p = pool_find(&argv, o->exe_fd, err);
	if (p)
		remember(&argv);
	if (p) {
		n = send_fds(p->sock, req.buf, req.len, fds, nfd);
		if (n < 0) {
			strbuf_addf(err, "the sandbox pool is gone: %s",
				    strerror(errno));
			p->dead = 1;
			pool_reap(p);
		}
	}
	pthread_mutex_unlock(&pools_lock);
	if (!p || n < 0)
		goto out;
	*ctl = sv[0];
	sv[0] = -1;
	fcntl(*ctl, F_SETFL, fcntl(*ctl, F_GETFL) | O_NONBLOCK);
	ret = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	strvec_clear(&argv);
	strbuf_release(&req);
	free(slug);
	free(proj);
	return ret;
}

int pool_read(int ctl, struct pool_status *st)
{
	for (;;) {
		struct pool_msg m;
		int fd, nfd, trunc;
		ssize_t n;

		n = recv_fds(ctl, &m, sizeof(m), &fd, 1, &nfd, MSG_WAITALL, &trunc);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (nfd && m.type == 'R' && st->mntns < 0 &&
		    n == (ssize_t)sizeof(m))
			st->mntns = fd;
		else if (nfd)
			close(fd);
		if (n == (ssize_t)sizeof(m) && m.type == 'S') {
			st->done = 1;
			st->status = m.status;
			st->ru = m.ru;
			return 1;
		}
		if (n == (ssize_t)sizeof(m) && m.type == 'R')
			continue;
		/* EOF or garbage: the init is gone without a word */
		st->done = 1;
		st->status = SIGKILL;
		memset(&st->ru, 0, sizeof(st->ru));
		return 1;
	}
}

/* ---- the inside ---------------------------------------------------- */

/* The zygote's state: its sessions (a daemon's), how long it idles. */
static int zsess[POOL_SESSIONS_MAX], znsess;
/* Inits that serve job after job: busy, or idle (waiting). */
static struct zinit {
	int sock;            /* the init's zsock's peer */
	int net;             /* its jobs have a network namespace of their own */
	int idle;
	char slug[POOL_SLUG_MAX]; /* the workspace it has bound, or "" */
	int64_t used;             /* zjobs when it was last handed a job */
} zinit[POOL_INITS_MAX];
static int zninit;
static int zidle = POOL_IDLE_DEFAULT, zstopping;
static int64_t zstart;

/* "cidre sandbox-init: WHAT ARG: strerror(err)" in the job's log */
static void say(int fd, const char *what, const char *arg, int err)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "cidre sandbox-init: %s%s%s%s\n",
			 what, arg, err ? ": " : "", err ? strerror(err) : "");

	if (n > 0 && write(fd, line, (size_t)n < sizeof(line) ?
			   (size_t)n : sizeof(line) - 1) < 0)
		errno = 0;
}

static int send_msg(int ctl, char type, int status, const struct rusage *ru,
		    int fd)
{
	struct pool_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.status = status;
	if (ru)
		m.ru = *ru;
	return send_fds(ctl, &m, sizeof(m), &fd, fd >= 0);
}

struct job_req {
	const char *slug, *proj;
	int flags, njoin;
	long uid, gid;
	int ctl, out, in, cgdir, join[4];
	int kit_mnt, kit_net;  /* made ahead (kits), or -1 */
};

/* mount(2), and on failure a line in the job's log; -1 */
static int do_mount(const struct job_req *q, const char *src, const char *dst,
		    const char *type, unsigned long fl, const char *data)
{
	if (mount(src, dst, type, fl, data) == 0)
		return 0;
	say(q->out, "cannot mount ", dst, errno);
	return -1;
}

/*
 * A /dev as bwrap makes it (--dev): a tmpfs with the host's harmless
 * device nodes bound in, the usual links, shm, and a devpts instance of
 * its own. Built at "/tmp" (not yet the job's) and moved onto /dev, over
 * the pool's, which no job shares then.
 */
static int make_dev(const struct job_req *q)
{
	static const char *const nodes[] = { "null", "zero", "full", "random",
					     "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/tmp/fd" }, { "/proc/self/fd/0", "/tmp/stdin" },
		{ "/proc/self/fd/1", "/tmp/stdout" }, { "/proc/self/fd/2", "/tmp/stderr" },
		{ "/proc/kcore", "/tmp/core" }, { "pts/ptmx", "/tmp/ptmx" },
	};
	char src[64], dst[64];
	size_t i;

	if (do_mount(q, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		     "mode=0755") < 0)
		return -1;
	for (i = 0; i < sizeof(nodes) / sizeof(*nodes); i++) {
		int fd;

		snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
		snprintf(dst, sizeof(dst), "/tmp/%s", nodes[i]);
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0) {
			say(q->out, "cannot create ", dst, errno);
			return -1;
		}
		close(fd);
		if (do_mount(q, src, dst, NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(links) / sizeof(*links); i++)
		if (symlink(links[i][0], links[i][1]) < 0) {
			say(q->out, "cannot link ", links[i][1], errno);
			return -1;
		}
	if (mkdir("/tmp/shm", 0755) < 0 || mkdir("/tmp/pts", 0755) < 0) {
		say(q->out, "cannot make ", "/dev/shm", errno);
		return -1;
	}
	if (do_mount(q, "devpts", "/tmp/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=620") < 0)
		return -1;
	/*
	 * Read-only: the job's uid is the pool's root, the owner of this
	 * tmpfs, and a reused init's /dev must be as the last job found
	 * it. /dev/shm is a tmpfs of each job's own (init_job).
	 */
	if (do_mount(q, "/tmp", "/dev", NULL, MS_MOVE, NULL) < 0)
		return -1;
	return do_mount(q, NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
			MS_NOSUID | MS_NODEV, NULL);
}

/* /proc of the job's pid namespace, its writable corners read-only */
static int make_proc(const struct job_req *q)
{
	static const char *const cover[] = { "/proc/sys", "/proc/sysrq-trigger",
					     "/proc/irq", "/proc/bus" };
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	size_t i;

	if (do_mount(q, "proc", "/proc", "proc", fl, NULL) < 0)
		return -1;
	for (i = 0; i < sizeof(cover) / sizeof(*cover); i++) {
		if (access(cover[i], W_OK) < 0 &&
		    (errno == EACCES || errno == EROFS || errno == ENOENT))
			continue;
		if (do_mount(q, cover[i], cover[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    do_mount(q, NULL, cover[i], NULL, MS_REMOUNT | MS_BIND |
			     MS_RDONLY | fl, NULL) < 0)
			return -1;
	}
	return 0;
}

/* lo up, as bwrap does in a network namespace of the job's own */
static int loopback_up(const struct job_req *q)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) {
		say(q->out, "", "socket", errno);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		say(q->out, "cannot bring up ", "lo", errno);
		close(s);
		return -1;
	}
	close(s);
	return 0;
}

/*
 * The bounding and ambient sets, dropped by the job's process once it
 * is in the job's user namespace (which starts with a full bounding
 * set) and before it says it is ready: ~40 prctl calls (~0.1 ms here)
 * not between the job's release and its exec.
 */
static void drop_bounding(void)
{
	int cap;

	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* The job's effective, permitted and inheritable sets: empty. */
static void drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	syscall(SYS_capset, &h, d);
}

/* Write a short text to a file of /proc/self; 0 or -1 (errno). */
static int put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * The job's ids: a user namespace of its own in which the job's uid
 * and gid are the pool's (root of the namespace that owns every mount):
 * what bwrap's second user namespace is. After it, no mount can change.
 */
static int enter_ids(const struct job_req *q)
{
	char map[64];

	if (unshare(CLONE_NEWUSER) < 0) {
		say(q->out, "cannot make the job's ", "user namespace", errno);
		return -1;
	}
	snprintf(map, sizeof(map), "%ld 0 1\n", q->uid);
	if (put_file("/proc/self/uid_map", map) < 0) {
		say(q->out, "cannot write ", "uid_map", errno);
		return -1;
	}
	snprintf(map, sizeof(map), "%ld 0 1\n", q->gid);
	if (put_file("/proc/self/gid_map", map) < 0) {
		say(q->out, "cannot write ", "gid_map", errno);
		return -1;
	}
	return 0;
}


static void zygote_fds_close(void);

/*
 * The job's process, forked by the init for each job before the job
 * comes: it joins the job's cgroup (on v2 it was cloned into it), takes
 * a cgroup namespace and a user namespace of its own in which the job's
 * uid and gid are the pool's root (what bwrap's second user namespace
 * is: the mounts, owned by the pool's namespace, can no longer change),
 * drops the bounding and ambient sets (~40 prctl calls), sets every
 * signal to its default, says so on `ready` (the init then says the
 * sandbox is ready) and waits for the job's message. Between that and
 * the exec only what the job needs: stdio, no capabilities, its
 * directory, fds above 2 closed on exec.
 */
struct job_child {
	const struct job_req *q;
	int ready;            /* the pipe's end: "r" once set up */
	int in_cgroup;        /* born in the job's v2 cgroup */
	int pinned;           /* born on the init's CPU: affinity to restore */
	int says_ready;       /* it sends "ready" itself, once set up */
	cpu_set_t affinity;
	/* what it allocates: the init's memory while they share it */
	char *payload;
	struct sandbox_job job;
	char **env;
	struct strbuf err;
};

__attribute__((noreturn))
static void job_main(struct job_child *c)
{
	const struct job_req *q = c->q;
	int i, bad = 0;

	if (c->pinned)
		sched_setaffinity(0, sizeof(c->affinity), &c->affinity);
	if (!c->in_cgroup) {
		for (i = 0; i < q->njoin; i++)
			if (write(q->join[i], "0", 1) != 1)
				bad = errno;
		if (bad && (q->flags & POOL_MUST_JOIN)) {
			say(q->out, "cannot join the job's cgroup", "", bad);
			_exit(127);
		}
	}
	unshare(CLONE_NEWCGROUP);
	if (enter_ids(q) < 0)
		_exit(127);
	drop_bounding();
	proc_signals_default();
	if (write(c->ready, "r", 1) != 1 ||
	    (c->says_ready && send_msg(q->ctl, 'R', 0, NULL, -1) < 0))
		_exit(127);
	if (sandbox_job_read(q->ctl, &c->payload, &c->job, &c->err) < 0)
		_exit(0);       /* let go of without a job */
	c->env = sandbox_job_env(c->job.env);
	if (!c->env) {
		say(q->out, "out of memory", "", 0);
		_exit(127);
	}
	if (dup2(q->in, 0) < 0 || dup2(q->out, 1) < 0 || dup2(q->out, 2) < 0)
		_exit(127);
	drop_caps();
	if (chdir(c->job.cwd) < 0) {
		say(2, "cannot enter ", c->job.cwd, errno);
		_exit(127);
	}
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(c->job.argv[0], c->job.argv, c->env);
	say(2, "cannot run ", c->job.argv[0], errno);
	_exit(127);
}

static int job_child_main(void *c)
{
	job_main(c);
}

/*
 * Reap what is left in the pid namespace (killed already), waiting on
 * the signalfd at most ms in all: 1 when nothing is left, else 0.
 */
static int reap_all(int sfd, int ms)
{
	int64_t end = mono_ms() + ms;

	for (;;) {
		struct pollfd pf = { sfd, POLLIN, 0 };
		struct signalfd_siginfo si;
		int64_t left;
		pid_t w;

		while ((w = waitpid(-1, NULL, WNOHANG | __WALL)) > 0)
			;
		if (w < 0 && errno == ECHILD)
			return 1;
		left = end - mono_ms();
		if (left <= 0 || poll(&pf, 1, (int)left) < 0)
			return 0;
		while (read(sfd, &si, sizeof(si)) > 0)
			;
	}
}

/*
 * What an init keeps between its jobs (docs/internals/sandbox.md,
 * "What an init keeps between jobs"): the workspace it bound, and /tmp
 * and /dev/shm as long as a job leaves them as they came, so that a job
 * after one that left nothing makes no mount and no unmount (each
 * unmount waits for an expedited RCU grace period, which interrupts
 * every CPU); its IPC namespace while no job left an object in it.
 */
static struct init_state {
	int wsdir;                /* the pool's /tmp, the workspaces (O_PATH) */
	char slug[POOL_SLUG_MAX]; /* the workspace bound at proj, or "" */
	char proj[4096];
	dev_t dev;                /* ... and its directory */
	ino_t ino;
	int tmps;                 /* /tmp and /dev/shm are mounted */
	struct tmp_seen {
		int fd;           /* its root, open (read again, not opened) */
		struct stat st;   /* its root as mounted */
		int flags;        /* FS_IOC_GETFLAGS, or -1 */
	} tmp, shm;
	int mq;                   /* the IPC namespace's mqueues (a directory
				     of a mount of our own only), or -1 */
	char *stack;              /* the job's process's, until its exec */
	int sockstat[2];          /* its network namespace's counts (IPv4,
				     IPv6), open, or -1 */
} ist = { .wsdir = -1, .tmp.fd = -1, .shm.fd = -1, .mq = -1,
	  .sockstat = { -1, -1 } };

#define POOL_CHILD_STACK (256 * 1024)

/* A tmpfs at path, and what its root is like: 0, or -1 (said). */
static int tmp_mount(const struct job_req *q, const char *path,
		     struct tmp_seen *seen)
{
	int fd;

	if (seen->fd >= 0)
		close(seen->fd);
	seen->fd = -1;
	if (do_mount(q, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
		     "mode=0755") < 0)
		return -1;
	seen->flags = -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &seen->st) < 0) {
		say(q->out, "", path, errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (ioctl(fd, FS_IOC_GETFLAGS, &seen->flags) < 0)
		seen->flags = -1;
	seen->fd = fd;
	return 0;
}

/* Whether the open directory fd holds "." and ".." only. */
static int dir_empty(int fd)
{
	char buf[512];
	long n, off = 0;
	int names = 0;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return 0;
	/* two entries of a few bytes each: one read, then the end */
	n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	while (n > 0 && off < n) {
		unsigned short reclen;
		const char *name = buf + off + 19;   /* d_name */

		memcpy(&reclen, buf + off + 16, sizeof(reclen));   /* d_reclen */
		if (strcmp(name, ".") && strcmp(name, ".."))
			return 0;
		names++;
		off += reclen;
	}
	return n > 0 && names == 2 && syscall(SYS_getdents64, fd, buf, sizeof(buf)) == 0;
}

/*
 * Whether a job left the tmpfs at path as it came: the same root, with
 * the same mode, owner, flags, no extended attribute (ACLs included) and
 * no entry. The job's uid owns it (it maps to the pool's root), so
 * those are what it could have changed; its processes are gone, so
 * nothing of it is open. The times are set afresh, as a new mount's.
 */
static int tmp_as_mounted(const struct tmp_seen *seen)
{
	struct stat st;
	int flags = -1;

	if (seen->fd < 0 || fstat(seen->fd, &st) < 0 ||
	    st.st_dev != seen->st.st_dev || st.st_ino != seen->st.st_ino ||
	    st.st_mode != seen->st.st_mode || st.st_uid != seen->st.st_uid ||
	    st.st_gid != seen->st.st_gid || st.st_nlink != seen->st.st_nlink)
		return 0;
	if (seen->flags >= 0 && (ioctl(seen->fd, FS_IOC_GETFLAGS, &flags) < 0 ||
				 flags != seen->flags))
		return 0;
	return flistxattr(seen->fd, NULL, 0) == 0 && dir_empty(seen->fd) &&
	       futimens(seen->fd, NULL) == 0;
}

/*
 * The IPC namespace's POSIX message queues: the directory of its mqueue
 * fs, mounted nowhere (a mount of our own only, which no job sees).
 */
static int mq_dir(void)
{
	int fs = (int)syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC), m, d;

	if (fs < 0)
		return -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		close(fs);
		return -1;
	}
	m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	if (m < 0)
		return -1;
	d = openat(m, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(m);
	return d;
}

union semun_info {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
	struct seminfo *info;
};

/*
 * Whether the IPC namespace holds nothing: no System V segment,
 * semaphore set or message queue (the namespace's own counts), no POSIX
 * message queue (its mqueue fs is empty). Without that fs, never.
 */
static int ipc_empty(void)
{
	struct shm_info shm;
	struct seminfo sem;
	struct msginfo msg;
	union semun_info u = { .info = &sem };

	return ist.mq >= 0 &&
	       shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&shm) >= 0 &&
	       !shm.used_ids && semctl(0, 0, SEM_INFO, u) >= 0 && !sem.semusz &&
	       msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&msg) >= 0 &&
	       !msg.msgpool && dir_empty(ist.mq);
}

/* A new IPC namespace, and its mqueue fs. 0 or -1. */
static int ipc_new(void)
{
	if (ist.mq >= 0)
		close(ist.mq);
	ist.mq = -1;
	if (unshare(CLONE_NEWIPC) < 0)
		return -1;
	ist.mq = mq_dir();
	return 0;
}

/*
 * The job's workspace at the project dir, unless it is there already
 * (the same name, and the same directory: one removed and made again
 * is bound anew); /tmp and /dev/shm unless kept. 0, or -1 (said).
 */
static int init_mounts(const struct job_req *q)
{
	struct stat st;
	char *src;
	int r;

	if (fstatat(ist.wsdir, q->slug, &st, 0) < 0) {
		say(q->out, "cannot find the workspace ", q->slug, errno);
		return -1;
	}
	if (!ist.slug[0] || strcmp(ist.slug, q->slug) ||
	    strcmp(ist.proj, q->proj) || st.st_dev != ist.dev ||
	    st.st_ino != ist.ino) {
		if (ist.slug[0] && umount2(ist.proj, MNT_DETACH) < 0) {
			say(q->out, "cannot unmount ", ist.proj, errno);
			return -1;
		}
		ist.slug[0] = 0;
		src = xasprintf("/proc/self/fd/%d/%s", ist.wsdir, q->slug);
		r = do_mount(q, src, q->proj, NULL, MS_BIND | MS_REC, NULL);
		free(src);
		if (r < 0)
			return -1;
		/* a mount point is shorter than PATH_MAX; a name too long
		   to remember is "/", which no workspace's name is */
		snprintf(ist.proj, sizeof(ist.proj), "%s", q->proj);
		snprintf(ist.slug, sizeof(ist.slug), "%s",
			 strlen(q->slug) < sizeof(ist.slug) ? q->slug : "/");
		ist.dev = st.st_dev;
		ist.ino = st.st_ino;
	}
	if (!ist.tmps) {
		if (tmp_mount(q, "/tmp", &ist.tmp) < 0 ||
		    tmp_mount(q, "/dev/shm", &ist.shm) < 0)
			return -1;
		ist.tmps = 1;
	}
	return 0;
}

/*
 * Start the job's process. It shares our memory until its exec (no copy
 * of our page tables, no copy-on-write faults: a third of what a pooled
 * job cost here, ../../docs/benchmarks.md), and we sleep meanwhile;
 * with a v2 cgroup it is born in it. So it says "ready" itself once set
 * up, and reads the job itself, whenever it comes. Where that cannot be
 * (no stack, an architecture without vm_clone3), it is forked, and we
 * say "ready" when it is set up. Its pid, or -1.
 */
static pid_t start_job_process(const struct job_req *q, struct job_child *jc,
			       int *ready_sent)
{
	struct clone_args ca;
	sigset_t all, old;
	pid_t pid = -1;

	*ready_sent = 0;
	if (!ist.stack) {
		void *m = mmap(NULL, POOL_CHILD_STACK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (m != MAP_FAILED) {
			/* a guard page at its bottom */
			mprotect(m, 4096, PROT_NONE);
			ist.stack = m;
		}
	}
	if (ist.stack) {
		/* set up, it says so itself: the outside's "ready" means it */
		jc->says_ready = 1;
		*ready_sent = 1;
		/*
		 * Born on our CPU, which we leave to it until its exec: on
		 * a busy machine the kernel's placement often left the new
		 * task waiting 1-2 ms behind another (as the shell
		 * executor's, proc.c); it restores our affinity first.
		 */
		jc->pinned = proc_pin_here(&jc->affinity);
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, &old);
		jc->in_cgroup = q->cgdir >= 0;
		pid = vm_clone3(0, q->cgdir, job_child_main, jc, ist.stack,
				POOL_CHILD_STACK);
		if (pid < 0 && jc->in_cgroup && errno != ENOSYS) {
			jc->in_cgroup = 0;
			pid = vm_clone3(0, -1, job_child_main, jc, ist.stack,
					POOL_CHILD_STACK);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (jc->pinned)
			sched_setaffinity(0, sizeof(jc->affinity), &jc->affinity);
		jc->pinned = 0;
		/* what it allocated before its exec is ours to free */
		free(jc->payload);
		sandbox_job_release(&jc->job);
		free(jc->env);
		strbuf_release(&jc->err);
		jc->payload = NULL;
		jc->env = NULL;
		if (pid > 0 || errno != ENOSYS)
			return pid;
		jc->says_ready = 0;
		*ready_sent = 0;
	}
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	jc->in_cgroup = 0;
	if (q->cgdir >= 0) {
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)q->cgdir;
		jc->in_cgroup = 1;
	}
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0 && jc->in_cgroup) {
		ca.flags = 0;
		jc->in_cgroup = 0;
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	}
	if (pid == 0)
		job_main(jc);
	return pid;
}

/*
 * One job in this init: its mounts (init_mounts), the job's process
 * started and set up, "ready" (no mount namespace with it, as an init
 * of old sent: this one stays, and when the init ends its teardown
 * comes after the job's status), the job's end: everything it left in the pid namespace killed and
 * reaped, then its status. 1 when this init may serve another job, 0
 * when it must end, -1 when the job's sandbox could not be made (said
 * in the job's log).
 */
static int init_job(const struct job_req *q, int sfd)
{
	struct job_child jc;
	struct rusage ru;
	char c;
	int p[2], st, status = SIGKILL, exec_seen = 0, ready_sent;
	int done = 0, clean;
	pid_t pid, w;

	if (init_mounts(q) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		say(q->out, "", "pipe", errno);
		return -1;
	}
	memset(&jc, 0, sizeof(jc));
	jc.q = q;
	jc.ready = p[1];
	strbuf_init(&jc.err, 0);
	pid = start_job_process(q, &jc, &ready_sent);
	close(p[1]);
	if (pid < 0) {
		say(q->out, "cannot start the job's process", "", errno);
		close(p[0]);
		return -1;
	}
	close(q->in);
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	if (!ready_sent)
		send_msg(q->ctl, 'R', 0, NULL, -1);
	close(q->out);
	for (;;) {
		struct pollfd pf[2] = { { sfd, POLLIN, 0 },
					{ exec_seen ? q->ctl : p[0], POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		/*
		 * Until its exec the job's process reads ctl; after it,
		 * what comes there is a signal for the whole job (a byte,
		 * pool.h: a job without a cgroup) or EOF: the run let go
		 * of the job, or ended. What is left is then killed, and
		 * the init ends.
		 */
		if (pf[1].revents && !exec_seen) {
			if (read(p[0], &c, 1) <= 0) {
				exec_seen = 1;
				close(p[0]);
			}
		} else if (pf[1].revents) {
			unsigned char sig;
			ssize_t n = read(q->ctl, &sig, 1);

			if (n == 1 && sig >= 1 && sig <= POOL_SIGNAL_MAX) {
				/* the outside's signal, for all of the job */
				kill(-1, sig);
			} else if (n != 1 && !(n < 0 && (errno == EAGAIN ||
							errno == EINTR))) {
				/* let go of: all of it killed, then told */
				kill(-1, SIGKILL);
				reap_all(sfd, POOL_REAP_MS);
				send_msg(q->ctl, 'S', SIGKILL, NULL, -1);
				return 0;
			}
		}
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		while ((w = wait4(-1, &st, WNOHANG, &ru)) > 0)
			if (w == pid) {
				status = st;
				done = 1;
				break;
			}
		if (done || (w < 0 && errno == ECHILD))
			break;
	}
	if (!exec_seen)
		close(p[0]);
	if (!done)
		memset(&ru, 0, sizeof(ru));
	/*
	 * What the job left: gone before its status is told. Every other
	 * process of this pid namespace descends from this init (nothing
	 * that could join it from outside does), so with no child left
	 * there is nobody: kill(-1) would only walk every process of the
	 * host under tasklist_lock to find that out. __WALL: a child whose
	 * end signal is not SIGCHLD counts too (none should be: orphans
	 * are given SIGCHLD when they come to us, and CLONE_PARENT takes
	 * the job process's).
	 */
	if (done && waitpid(-1, NULL, WNOHANG | __WALL) < 0 && errno == ECHILD) {
		clean = 1;
	} else {
		kill(-1, SIGKILL);
		clean = reap_all(sfd, POOL_REAP_MS);
	}
	send_msg(q->ctl, 'S', status, &ru, -1);
	return done && clean;
}

static int net_counts_clean(int *keep);

/*
 * Ready for the next job: /tmp and /dev/shm mounted afresh unless the
 * job left them as they came, a new IPC namespace unless it left it
 * empty, and a private network namespace only if it holds no socket at
 * all (sockstat: TIME_WAIT included) and lo is up. The workspace stays
 * bound (init_mounts changes it if the next job's is another). 0, or -1
 * when this init must end instead.
 */
static int init_reset(const struct job_req *job)
{
	struct job_req r = *job, *q = &r;

	q->out = -1;    /* closed: nothing of this goes to the job's log */
	if (!tmp_as_mounted(&ist.tmp) || !tmp_as_mounted(&ist.shm)) {
		if (umount2("/tmp", MNT_DETACH) < 0 ||
		    umount2("/dev/shm", MNT_DETACH) < 0)
			return -1;
		ist.tmps = 0;
		if (tmp_mount(q, "/tmp", &ist.tmp) < 0 ||
		    tmp_mount(q, "/dev/shm", &ist.shm) < 0)
			return -1;
		ist.tmps = 1;
	}
	if (!ipc_empty() && ipc_new() < 0)
		return -1;
	if ((q->flags & POOL_NET) && !net_counts_clean(ist.sockstat))
		return -1;
	return 0;
}

static int parse_req(char *buf, size_t len, const int *fds, int nfd,
		     struct job_req *q);

/* This job's descriptors, but for in and out (init_job closes them). */
static void req_close(const struct job_req *q)
{
	int i;

	close(q->ctl);
	if (q->cgdir >= 0)
		close(q->cgdir);
	for (i = 0; i < q->njoin; i++)
		close(q->join[i]);
}

/*
 * A job's init: pid 1 of a pid namespace of its own, in its own mount,
 * ipc, uts (and network) namespaces, in the pool's user namespace and
 * cgroup. It builds what every job of it shares (a kit's /dev, or its
 * own; /proc of its pid namespace and its read-only covers; lo), then
 * serves its job (init_job). With a socket to the zygote (zsock) it
 * then makes itself ready for another (init_reset), says
 * so ('F'), and serves the request the zygote hands it, until the
 * zygote closes the socket; else, or when anything is not as it should
 * be, it exits, which ends every process left in its namespace.
 */
__attribute__((noreturn))
static void job_init(struct job_req *q, int zsock)
{
	char buf[POOL_REQ_MAX];
	int fds[POOL_FDS_MAX], nfd, trunc, sfd, r;
	sigset_t chld;
	ssize_t n;

	proc_signals_default();
	{
		/* and so they stay: each job's process resets only its mask */
		sigset_t none;

		sigemptyset(&none);
		proc_signals_changed_only(&none);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	zygote_fds_close();
	/* a kit: the namespaces made ahead, /dev built, lo up */
	if ((q->kit_mnt >= 0 && setns(q->kit_mnt, CLONE_NEWNS) < 0) ||
	    (q->kit_net >= 0 && setns(q->kit_net, CLONE_NEWNET) < 0)) {
		say(q->out, "cannot enter the sandbox made ahead", "", errno);
		_exit(127);
	}
	if (q->kit_mnt >= 0)
		close(q->kit_mnt);
	if (q->kit_net >= 0)
		close(q->kit_net);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		say(q->out, "cannot make mounts private at ", "/", errno);
		_exit(127);
	}
	if ((q->kit_mnt < 0 && make_dev(q) < 0) || make_proc(q) < 0 ||
	    ((q->flags & POOL_NET) && q->kit_net < 0 && loopback_up(q) < 0))
		_exit(127);
	/* SIGCHLD read from sfd; the job's process sets its own */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		say(q->out, "", "signalfd", errno);
		_exit(127);
	}
	/* the workspaces, before a job's /tmp hides them */
	ist.wsdir = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ist.wsdir < 0) {
		say(q->out, "", "/tmp", errno);
		_exit(127);
	}
	ist.mq = mq_dir();
	for (;;) {
		char free_msg[1 + POOL_SLUG_MAX];

		r = init_job(q, sfd);
		req_close(q);
		if (r < 0)
			_exit(127);
		/* free, with the workspace it has bound (init_handoff) */
		free_msg[0] = 'F';
		memcpy(free_msg + 1, ist.slug, strlen(ist.slug) + 1);
		if (!r || zsock < 0 || init_reset(q) < 0 ||
		    send(zsock, free_msg, strlen(free_msg) + 1,
			 MSG_NOSIGNAL) < 0)
			_exit(0);
		n = recv_fds(zsock, buf, sizeof(buf), fds, POOL_FDS_MAX, &nfd,
			     0, &trunc);
		if (n <= 0 || trunc || parse_req(buf, (size_t)n, fds, nfd, q) < 0)
			_exit(0);
	}
}

/* Parse a request; its fds are in fds[0..nfd). 0 or -1. */
static int parse_req(char *buf, size_t len, const int *fds, int nfd,
		     struct job_req *q)
{
	char *s[7], *p = buf, *end = buf + len;
	int i, k;

	memset(q, 0, sizeof(*q));
	q->kit_mnt = q->kit_net = -1;
	if (!len || buf[len - 1])
		return -1;
	for (i = 0; i < 7; i++) {
		if (p >= end)
			return -1;
		s[i] = p;
		p += strlen(p) + 1;
	}
	if (strcmp(s[0], POOL_MAGIC) || !*s[1] || strchr(s[1], '/') ||
	    !strcmp(s[1], ".") || !strcmp(s[1], "..") || s[2][0] != '/')
		return -1;
	q->slug = s[1];
	q->proj = s[2];
	q->flags = atoi(s[3]);
	q->njoin = atoi(s[4]);
	q->uid = atol(s[5]);
	q->gid = atol(s[6]);
	if (q->uid < 0 || q->gid < 0)
		return -1;
	if (q->njoin < 0 || q->njoin > 4 ||
	    nfd != 3 + !!(q->flags & POOL_CGDIR) + q->njoin)
		return -1;
	k = 0;
	q->ctl = fds[k++];
	q->out = fds[k++];
	q->in = fds[k++];
	q->cgdir = (q->flags & POOL_CGDIR) ? fds[k++] : -1;
	for (i = 0; i < q->njoin; i++)
		q->join[i] = fds[k++];
	return 0;
}

static pid_t clone_init(const struct job_req *q, int *pidfd)
{
	struct clone_args ca;

	*pidfd = -1;
	memset(&ca, 0, sizeof(ca));
	if (q->kit_net >= 0) {
		/* its end gives the network namespace back (kit_after) */
		ca.flags |= CLONE_PIDFD;
		ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	}
	ca.flags |= CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
		   (q->kit_mnt < 0 ? CLONE_NEWNS : 0) |
		   ((q->flags & POOL_NET) && q->kit_net < 0 ? CLONE_NEWNET : 0);
	ca.exit_signal = SIGCHLD;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/*
 * What a daemon serves must still be there: its root (an image removed
 * and made again is a new directory) and the workspaces' directory.
 */
static int root_gone(void)
{
	struct stat st;

	return stat("/", &st) < 0 || !st.st_nlink ||
	       stat("/tmp", &st) < 0 || !st.st_nlink;
}

/*
 * Kits: what a job's sandbox needs that does not depend on the job (a
 * mount namespace with its own /dev; a network namespace with lo up),
 * made ahead by a child of a daemon's at SCHED_IDLE, so only with CPU
 * time nobody else wants; a job's init enters them (setns) instead of
 * making them. Used mount namespaces are let go of late: the daemon
 * keeps them until it has been without a session for a second, so
 * that their teardown is not part of a run. A network namespace whose
 * job has ended (its init's pidfd) goes back to the maker, which
 * checks that nothing of the job is left in it (no socket of any kind,
 * TIME_WAIT included: only lo, as it was made) and returns it to the
 * stock, or lets it go: a run's later jobs then need no new one.
 */
struct live_net {
	int pidfd;                   /* the job's init */
	int net;                     /* its network namespace (our copy) */
};
static int zmaker = -1;
static int zmnt[POOL_KITS], znmnt, zmnt_asked;
static int znet[POOL_KITS], znnet, znet_asked;
static int zkit_net_wanted = -1;     /* -1 before the first job */
static int zused[POOL_USED_MAX], znused;
static struct live_net zlive[POOL_USED_MAX];
static int znlive;
static long zjobs;

static void kits_release(int keep)
{
	int i, n = znused - keep;

	for (i = 0; i < n; i++)
		close(zused[i]);
	memmove(zused, zused + n, (size_t)keep * sizeof(*zused));
	znused = keep;
}

static void kit_used(int fd)
{
	if (fd < 0)
		return;
	if (znused == POOL_USED_MAX)
		kits_release(POOL_USED_MAX / 2);
	zused[znused++] = fd;
}

/*
 * Nothing in the network namespace we are in but what it was made
 * with: no socket (sockstat's used, inuse and tw all 0, for every
 * family, TCP, UDP, raw and fragments, TIME_WAIT included; IPv6 the
 * same) and lo up: 1, else 0. Its own counts, not the socket tables,
 * whose walk is of the whole host's hash (milliseconds). keep: an
 * init's two descriptors of those files (-1 until first opened), read
 * again from the start each time (a seq file starts afresh at offset 0):
 * its network namespace is the same for life. NULL: opened and closed,
 * as the maker does for each namespace it checks.
 */
static int net_counts_clean(int *keep)
{
	static const char *const files[] = { "/proc/self/net/sockstat",
					     "/proc/self/net/sockstat6" };
	struct ifreq ifr;
	char buf[1024];
	size_t i;
	int s, up;

	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		int fd = keep ? keep[i] : -1;
		char *p, *save = NULL;
		ssize_t n;

		if (fd < 0)
			fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && i == 1)
			break;  /* no IPv6 here: lo is still checked */
		if (fd < 0)
			return 0;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (keep)
			keep[i] = fd;
		else
			close(fd);
		if (n <= 0)
			return 0;
		buf[n] = '\0';
		/* "sockets: used 0", "TCP: inuse 0 orphan 0 tw 0 ..." */
		for (p = strtok_r(buf, " \n", &save); p;
		     p = strtok_r(NULL, " \n", &save))
			if (!strcmp(p, "used") || !strcmp(p, "inuse") ||
			    !strcmp(p, "tw")) {
				p = strtok_r(NULL, " \n", &save);
				if (!p || strcmp(p, "0"))
					return 0;
			}
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	up = ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	close(s);
	return up;
}

static int net_clean(int net)
{
	return setns(net, CLONE_NEWNET) == 0 && net_counts_clean(NULL);
}

/*
 * The maker, at SCHED_IDLE: for each 'M' a mount namespace, for each
 * 'N' a network namespace, for each 'C' with a used network namespace
 * that one back if it is clean ('N' without a descriptor if not).
 */
__attribute__((noreturn))
static void maker_main(int sock)
{
	struct sched_param sp;
	struct job_req q;
	int home;

	memset(&q, 0, sizeof(q));
	q.out = STDERR_FILENO;
	memset(&sp, 0, sizeof(sp));
	sched_setscheduler(0, SCHED_IDLE, &sp);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	for (;;) {
		int fd = -1, nfd, trunc;
		char c, r = 'N';

		if (recv_fds(sock, &c, 1, &fd, 1, &nfd, 0, &trunc) != 1)
			_exit(0);
		if (c == 'C') {
			if (nfd && !net_clean(fd)) {
				close(fd);
				fd = -1;
			}
		} else if (c == 'N') {
			if (unshare(CLONE_NEWNET) < 0 || loopback_up(&q) < 0 ||
			    (fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
				_exit(1);
		} else {
			r = 'M';
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    make_dev(&q) < 0 ||
			    (fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0 ||
			    setns(home, CLONE_NEWNS) < 0)
				_exit(1);
		}
		if (send_fds(sock, &r, 1, &fd, fd >= 0) < 0)
			_exit(0);
		if (fd >= 0)
			close(fd);
	}
}

static void maker_start(void)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		zygote_fds_close();
		close(sv[0]);
		maker_main(sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	zmaker = sv[0];
	zmnt_asked = znet_asked = 0;
}

static int maker_ask(char c)
{
	return zmaker >= 0 && send(zmaker, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

/* Ask for kits up to the stocks' size. */
static void kits_ask(void)
{
	if (zmaker < 0)
		maker_start();
	while (znmnt + zmnt_asked < POOL_KITS && maker_ask('M'))
		zmnt_asked++;
	/* the running jobs' network namespaces come back (live_ended) */
	while (zkit_net_wanted == 1 &&
	       znnet + znet_asked + znlive < POOL_KITS && maker_ask('N'))
		znet_asked++;
}

/* A job's init ended: its network namespace goes to be checked. */
static void live_ended(int i)
{
	char c = 'C';

	if (zmaker >= 0 && send_fds(zmaker, &c, 1, &zlive[i].net, 1) == 0)
		znet_asked++;
	close(zlive[i].net);
	close(zlive[i].pidfd);
	zlive[i] = zlive[--znlive];
}

/* A kit from the maker (readable); on its end, none more. */
static void kit_take(void)
{
	int fd = -1, nfd, trunc;
	char c;
	ssize_t n = recv_fds(zmaker, &c, 1, &fd, 1, &nfd, MSG_DONTWAIT, &trunc);

	if (n != 1) {
		if (n < 0 && errno == EAGAIN)
			return;
		if (nfd)
			close(fd);
		close(zmaker);
		zmaker = -1;
		zmnt_asked = znet_asked = 0;
		return;
	}
	if (c == 'M') {
		if (zmnt_asked)
			zmnt_asked--;
		if (nfd && znmnt < POOL_KITS) {
			zmnt[znmnt++] = fd;
			return;
		}
	} else {
		if (znet_asked)
			znet_asked--;
		if (nfd && znnet < POOL_KITS && zkit_net_wanted == 1) {
			znet[znnet++] = fd;
			return;
		}
	}
	if (nfd)
		kit_used(fd);
}

/* Kits for a job's request, if there are (the zygote keeps copies). */
static void kit_for(struct job_req *q)
{
	int want = !!(q->flags & POOL_NET);

	if (zkit_net_wanted != want) {
		while (znnet)
			close(znet[--znnet]);
		zkit_net_wanted = want;
	}
	if (znmnt)
		q->kit_mnt = zmnt[--znmnt];
	if (want && znnet)
		q->kit_net = znet[--znnet];
}

/* After the clone: what the job used, kept (and watched) or let go. */
static void kit_after(struct job_req *q, int pidfd)
{
	kit_used(q->kit_mnt);
	if (q->kit_net < 0)
		return;
	if (pidfd >= 0 && znlive < POOL_USED_MAX) {
		zlive[znlive].pidfd = pidfd;
		zlive[znlive++].net = q->kit_net;
		return;
	}
	if (pidfd >= 0)
		close(pidfd);
	kit_used(q->kit_net);
}

/* What a child of the zygote (a job's init, the maker) has no use for. */
static void zygote_fds_close(void)
{
	int i;

	close(SANDBOX_BLOCK_FD);
	for (i = 0; i < znsess; i++)
		close(zsess[i]);
	for (i = 0; i < zninit; i++)
		close(zinit[i].sock);
	for (i = 0; i < znlive; i++) {
		close(zlive[i].pidfd);
		close(zlive[i].net);
	}
	for (i = 0; i < znmnt; i++)
		close(zmnt[i]);
	for (i = 0; i < znnet; i++)
		close(znet[i]);
	for (i = 0; i < znused; i++)
		close(zused[i]);
	if (zmaker >= 0)
		close(zmaker);
}

/* A hello on a daemon's session: answered, unless it is to end. 1 or 0. */
static int hello(int sock, const char *buf, size_t len)
{
	struct pool_hello_reply r;
	long v;
	int i;

	if (len < sizeof(POOL_HELLO) + 2 || buf[len - 1])
		return 0;
	v = atol(buf + sizeof(POOL_HELLO));
	if (v == POOL_STOP)
		zstopping = 1;
	else if (v >= 0)
		zidle = v > 86400 ? 86400 : (int)v;
	if (v != POOL_STOP && v != POOL_QUERY && root_gone())
		zstopping = 1;
	if (zstopping && v != POOL_STOP && v != POOL_QUERY)
		return 0;
	memset(&r, 0, sizeof(r));
	r.type = 'Y';
	r.sessions = znsess;
	r.idle = zidle;
	r.uptime = (long)((mono_ms() - zstart) / 1000);
	r.jobs = zjobs;
	r.ready = znmnt;
	for (i = 0; i < zninit; i++)
		r.waiting += zinit[i].idle;
	send(sock, &r, sizeof(r), MSG_NOSIGNAL);
	return 1;
}

/* Forget init i (its socket closed: it ends). */
static void init_drop(int i)
{
	close(zinit[i].sock);
	zinit[i] = zinit[--zninit];
}

/*
 * An idle init for the request (its network namespace as the request
 * wants), which gets the request as it came: one that has the request's
 * workspace bound already; else, in a daemon, none while it has fewer
 * than POOL_IDLE_INITS inits (a new one is cloned, and keeps that
 * workspace: a pipeline's jobs each find theirs bound from the second
 * run on, with no mount to make or undo); else the one idle longest. 1
 * when one took it.
 */
static int init_handoff(const struct job_req *q, const char *buf, size_t len,
			const int *fds, int nfd, int daemon)
{
	int i, pick, net = !!(q->flags & POOL_NET);

	for (;;) {
		pick = -1;
		for (i = 0; i < zninit; i++)
			if (zinit[i].idle && zinit[i].net == net &&
			    !strcmp(zinit[i].slug, q->slug))
				pick = i;
		if (pick < 0 && (!daemon || zninit >= POOL_IDLE_INITS))
			for (i = 0; i < zninit; i++)
				if (zinit[i].idle && zinit[i].net == net &&
				    (pick < 0 || zinit[i].used < zinit[pick].used))
					pick = i;
		if (pick < 0)
			return 0;
		if (send_fds(zinit[pick].sock, buf, len, fds, nfd) < 0) {
			init_drop(pick);   /* gone meanwhile */
			continue;
		}
		zinit[pick].idle = 0;
		zinit[pick].used = zjobs;
		return 1;
	}
}

/* An init said it is free ('F'), or ended (EOF). */
static void init_event(int i)
{
	char msg[1 + POOL_SLUG_MAX];
	int idle = 0, k;
	ssize_t n;

	n = recv(zinit[i].sock, msg, sizeof(msg), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* 'F', the workspace's name, NUL */
	if (n < 2 || msg[0] != 'F' || msg[n - 1] || memchr(msg, 0, (size_t)n - 1)) {
		init_drop(i);
		return;
	}
	memcpy(zinit[i].slug, msg + 1, (size_t)n - 1);
	for (k = 0; k < zninit; k++)
		idle += zinit[k].idle;
	/* enough waiting: this one ends (EOF on its socket) */
	if (idle >= POOL_IDLE_INITS)
		init_drop(i);
	else
		zinit[i].idle = 1;
}

/*
 * One message on a session: a job's request (handed to a waiting init,
 * or to one cloned for it), or a daemon's hello. 1, or 0 when the
 * session ended (or must).
 */
static int serve(int sock, int daemon)
{
	char buf[POOL_REQ_MAX];
	int fds[POOL_FDS_MAX], nfd, i, trunc, pidfd = -1, zs[2];
	struct job_req q;
	ssize_t n;
	pid_t pid;

	n = recv_fds(sock, buf, sizeof(buf), fds, POOL_FDS_MAX, &nfd,
		     daemon ? MSG_DONTWAIT : 0, &trunc);
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n <= 0)
		return 0;
	if (daemon && !nfd && !trunc &&
	    (size_t)n >= sizeof(POOL_HELLO) &&
	    !memcmp(buf, POOL_HELLO, sizeof(POOL_HELLO)))
		return hello(sock, buf, (size_t)n);
	if (trunc || parse_req(buf, (size_t)n, fds, nfd, &q) < 0) {
		/* not ours to serve: the outside sees EOF on ctl */
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		return 1;
	}
	zjobs++;
	if (init_handoff(&q, buf, (size_t)n, fds, nfd, daemon)) {
		for (i = 0; i < nfd; i++)
			close(fds[i]);
		return 1;
	}
	if (daemon)
		kit_for(&q);
	zs[0] = zs[1] = -1;
	if (zninit < POOL_INITS_MAX &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, zs) == 0) {
		zinit[zninit].sock = zs[0];
		zinit[zninit].net = !!(q.flags & POOL_NET);
		zinit[zninit].slug[0] = 0;
		zinit[zninit].used = zjobs;
		zinit[zninit++].idle = 0;
	}
	pid = clone_init(&q, &pidfd);
	if (pid == 0)
		job_init(&q, zs[1]);
	if (pid < 0) {
		say(q.out, "cannot start the job's sandbox", "", errno);
		if (zs[0] >= 0)
			init_drop(zninit - 1);
	}
	if (zs[1] >= 0)
		close(zs[1]);
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	if (daemon) {
		kit_after(&q, pid > 0 ? pidfd : -1);
		kits_ask();
	}
	return 1;
}

/*
 * A daemon's session: only from outside our pid namespace (not one of
 * our jobs, which share our user) and of our user.
 */
static void accept_session(int lsock)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (znsess == POOL_SESSIONS_MAX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
	    cr.uid != getuid() || cr.pid != 0) {
		close(fd);
		return;
	}
	zsess[znsess++] = fd;
}

/*
 * A daemon: sessions accepted on lsock, each served until its EOF; it
 * ends zidle seconds after its last session ended (its root gone, or
 * told to stop: when the last one ends).
 */
static int pool_daemon(int lsock)
{
	int64_t idle_since = mono_ms();

	for (;;) {
		struct pollfd pf[2 + POOL_USED_MAX + POOL_INITS_MAX +
				 POOL_SESSIONS_MAX];
		int k = 0, i, n, timeout = -1, lk = -1, mk = -1, pk, ik, nlive;
		int ninit;

		if (zstopping && lsock >= 0) {
			close(lsock);
			lsock = -1;
		}
		if (!znsess) {
			int64_t now = mono_ms(), left = idle_since + zidle * 1000L - now;

			if (zstopping || left <= 0 || root_gone())
				return 0;
			/* what jobs used goes a second into a pause */
			if (znused && now - idle_since >= 1000)
				kits_release(0);
			else if (znused)
				left = idle_since + 1000 - now;
			timeout = (int)(left > 2000 ? 2000 : left);
		}
		if (lsock >= 0) {
			lk = k;
			pf[k].fd = lsock;
			pf[k++].events = POLLIN;
		}
		if (zmaker >= 0) {
			mk = k;
			pf[k].fd = zmaker;
			pf[k++].events = POLLIN;
		}
		pk = k;
		nlive = znlive;
		for (i = 0; i < nlive; i++) {
			pf[k].fd = zlive[i].pidfd;
			pf[k++].events = POLLIN;
		}
		ik = k;
		ninit = zninit;
		for (i = 0; i < ninit; i++) {
			pf[k].fd = zinit[i].sock;
			pf[k++].events = POLLIN;
		}
		for (i = 0; i < znsess; i++) {
			pf[k + i].fd = zsess[i];
			pf[k + i].events = POLLIN;
		}
		n = poll(pf, (nfds_t)(k + znsess), timeout);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n <= 0)
			continue;
		/* inits first (serve adds to zinit[]); from the end, as below */
		for (i = ninit - 1; i >= 0; i--)
			if (pf[ik + i].revents)
				init_event(i);
		/* from the end: a session that ended takes the last's place */
		for (i = znsess - 1; i >= 0; i--)
			if (pf[k + i].revents && !serve(zsess[i], 1)) {
				close(zsess[i]);
				zsess[i] = zsess[--znsess];
				if (!znsess)
					idle_since = mono_ms();
			}
		if (mk >= 0 && pf[mk].revents && zmaker >= 0)
			kit_take();
		/* from the end, as sessions: zlive[] only shrinks here */
		for (i = nlive - 1; i >= 0; i--)
			if (pf[pk + i].revents)
				live_ended(i);
		if (lk >= 0 && (pf[lk].revents & POLLIN))
			accept_session(lsock);
	}
}

/*
 * One process's pool: its session's EOF is our end (and, by their
 * PDEATHSIG, that of its waiting inits). Its inits serve job after job
 * too; no kits (nothing is idle long enough).
 */
static int pool_private(int sock)
{
	for (;;) {
		struct pollfd pf[1 + POOL_INITS_MAX];
		int i, n, ninit = zninit;

		pf[0].fd = sock;
		pf[0].events = POLLIN;
		for (i = 0; i < ninit; i++) {
			pf[1 + i].fd = zinit[i].sock;
			pf[1 + i].events = POLLIN;
		}
		n = poll(pf, (nfds_t)(1 + ninit), -1);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n <= 0)
			continue;
		for (i = ninit - 1; i >= 0; i--)
			if (pf[1 + i].revents)
				init_event(i);
		if (pf[0].revents && !serve(sock, 0))
			return 0;
	}
}

int pool_main(void)
{
	struct sigaction sa;
	socklen_t len = sizeof(int);
	int listening = 0;

	/* the jobs' inits are not waited for: they report on their socket */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	zstart = mono_ms();
	if (getsockopt(SANDBOX_BLOCK_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		       &len) == 0 && listening)
		return pool_daemon(SANDBOX_BLOCK_FD);
	return pool_private(SANDBOX_BLOCK_FD);
}
