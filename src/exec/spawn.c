/*
 * Detached helper processes (see spawn.h).
 */
#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fileio.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int pidfd_open_(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -1 : (int)fd;
}

int spawn_detached(const char *const *argv, const char *errlog, pid_t *ret_pid,
		   int *ret_pidfd, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	extern char **environ;
	pid_t pid;
	int rc;

	/*
	 * posix_spawn (a vfork underneath): no copy of the server's page
	 * tables per job, and exec errors come back as the return value.
	 */
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		strbuf_addf(err, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	*ret_pid = pid;
	*ret_pidfd = pidfd_open_(pid);
	if (*ret_pidfd >= 0)
		fcntl(*ret_pidfd, F_SETFD, FD_CLOEXEC);
	return 0;
}

int64_t spawn_start_time(pid_t pid)
{
	char buf[1024];
	const char *p = proc_stat_fields((long)pid, buf, sizeof(buf));
	int field;

	if (!p)
		return -1;
	/* p is before field 3; field 22 is starttime */
	for (field = 3; field <= 22 && *p; field++) {
		while (*p == ' ')
			p++;
		if (field == 22)
			return strtoll(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

int spawn_attach(pid_t pid, int64_t start_time)
{
	int fd;

	if (pid <= 0)
		return -1;
	fd = pidfd_open_(pid);
	if (fd < 0)
		return -1;
	/* checked after the pidfd exists: a reused pid cannot slip in between */
	if (spawn_start_time(pid) != start_time) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

void spawn_reap(pid_t pid)
{
	while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
		;
}

const char *spawn_self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return "/proc/self/exe";
	path[n] = '\0';
	return path;
}

char *spawn_sibling(const char *name)
{
	const char *self = spawn_self_exe();
	const char *slash = strrchr(self, '/');
	size_t n = slash ? (size_t)(slash - self) : 1;
	char *p = malloc(n + strlen(name) + 2);

	if (!p)
		abort();
	memcpy(p, slash ? self : ".", n);
	p[n] = '/';
	memcpy(p + n + 1, name, strlen(name) + 1);
	return p;
}

void spawn_exec_sibling(const char *name, char **argv, struct strbuf *err)
{
	char *path = spawn_sibling(name);

	argv[0] = path;
	execv(path, argv);
	strbuf_addf(err, "'%s' needs %s (installed next to cidre): %s", argv[1] ? argv[1] : name,
		    path, strerror(errno));
	free(path);
}

/* ---- the job launcher ---------------------------------------------------- */

struct launcher {
	pid_t pid;
	int fd;
};

/* What the launcher answers for each request (and the pidfd, SCM_RIGHTS). */
struct launch_answer {
	int32_t err;      /* 0, or the errno of the failed start */
	int32_t pid;
};

/* Room for the control message of one descriptor (SCM_RIGHTS). */
union one_fd {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* How long the server waits for an answer before it gives the launcher up. */
#define LAUNCHER_ANSWER_MS 10000

struct launcher *launcher_start(const char *self, const char *specdir, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	extern char **environ;
	const char *argv[] = { self, "job-launcher", specdir, NULL };
	struct launcher *l;
	int sv[2], rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		strbuf_addf(err, "socketpair: %s", strerror(errno));
		return NULL;
	}
	if (sv[1] == 3) {
		/* dup2 onto itself would keep close-on-exec */
		int d = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);

		close(sv[1]);
		sv[1] = d;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = sv[1] < 0 ? errno : posix_spawn(&pid, self, &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (sv[1] >= 0)
		close(sv[1]);
	if (rc) {
		strbuf_addf(err, "cannot run %s job-launcher: %s", self, strerror(rc));
		close(sv[0]);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		strbuf_addstr(err, "out of memory");
		close(sv[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return NULL;
	}
	l->pid = pid;
	l->fd = sv[0];
	return l;
}

int launcher_spawn(struct launcher *l, const char *spec, const char *errlog,
		   pid_t *ret_pid, int *ret_pidfd, struct strbuf *err)
{
	char req[2 * PATH_MAX + 2];
	size_t a = strlen(errlog), b = strlen(spec);
	struct launch_answer ans;
	struct iovec iov = { &ans, sizeof(ans) };
	union one_fd cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct pollfd p = { l->fd, POLLIN, 0 };
	ssize_t n;
	int pidfd = -1;

	if (a >= PATH_MAX || b >= PATH_MAX) {
		strbuf_addstr(err, "path too long for the job launcher");
		return -1;
	}
	memcpy(req, errlog, a + 1);
	memcpy(req + a + 1, spec, b + 1);
	if (send(l->fd, req, a + b + 2, MSG_NOSIGNAL) < 0) {
		strbuf_addf(err, "the job launcher is gone: %s", strerror(errno));
		return -1;
	}
	while ((n = poll(&p, 1, LAUNCHER_ANSWER_MS)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		strbuf_addstr(err, "the job launcher does not answer");
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	while ((n = recvmsg(l->fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	for (c = CMSG_FIRSTHDR(&mh); n > 0 && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
	if (n != (ssize_t)sizeof(ans)) {
		if (pidfd >= 0)
			close(pidfd);
		strbuf_addstr(err, "the job launcher is gone");
		return -1;
	}
	if (ans.err) {
		/* the launcher is fine; this start was not */
		if (pidfd >= 0)
			close(pidfd);
		strbuf_addf(err, "cannot start the job's supervisor: %s", strerror(ans.err));
		errno = 0;
		return -2;
	}
	*ret_pid = ans.pid;
	*ret_pidfd = pidfd;
	return 0;
}

void launcher_stop(struct launcher *l)
{
	if (!l)
		return;
	close(l->fd);
	/* it exits on the end of its socket; it has no child of ours to wait for */
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(l);
}

/* The launcher's child: what spawn_detached() would have given, then run. */
static void __attribute__((noreturn)) launched(int null, int log, const char *spec,
					       int (*run)(const char *spec))
{
	sigset_t none;

	setsid();
	if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	/*
	 * Every disposition is at its default already: the launcher was
	 * started so (POSIX_SPAWN_SETSIGDEF) and changes none; it only
	 * blocks SIGCHLD, for its signalfd.
	 */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exit(run(spec));
}

static void answer(int fd, int e, pid_t pid, int pidfd)
{
	struct launch_answer ans = { e, (int32_t)pid };
	struct iovec iov = { &ans, sizeof(ans) };
	union one_fd cm;
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (pidfd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* Whether spec names a file directly in dir (no "..", no subdirectory). */
static int spec_in(const char *dir, const char *spec)
{
	size_t n = strlen(dir);

	return !strncmp(spec, dir, n) && spec[n] == '/' && spec[n + 1] &&
	       !strchr(spec + n + 1, '/') && strcmp(spec + n + 1, "..") &&
	       strcmp(spec + n + 1, ".");
}

int launcher_serve(int fd, const char *specdir, int (*run)(const char *spec))
{
	char req[2 * PATH_MAX + 2];
	sigset_t chld;
	int sfd, null;

	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (null < 0 || sfd < 0) {
		fprintf(stderr, "cidre job-launcher: %s\n", strerror(errno));
		return 1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (;;) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		const char *log, *spec;
		ssize_t n;
		pid_t pid;
		int lfd, pidfd;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			/* its supervisors: the launcher is their parent and reaps them */
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
		if (!p[0].revents)
			continue;
		n = recv(fd, req, sizeof(req) - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* the server closed its end, or is gone */
		req[n] = '\0';
		log = req;
		spec = req + strlen(req) + 1;
		if (spec >= req + n || !spec_in(specdir, spec)) {
			answer(fd, EINVAL, 0, -1);
			continue;
		}
		lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lfd < 0) {
			answer(fd, errno, 0, -1);
			continue;
		}
		pid = fork();
		if (pid == 0)
			launched(null, lfd, spec, run);
		if (pid < 0) {
			answer(fd, errno, 0, -1);
			close(lfd);
			continue;
		}
		close(lfd);
		/* before any reap: the pid is still this child's */
		pidfd = pidfd_open_(pid);
		answer(fd, 0, pid, pidfd);
		if (pidfd >= 0)
			close(pidfd);
	}
	/* the supervisors go on without the launcher: their parent is init now */
	return 0;
}
