/*
 * Detached helper processes (see spawn.h).
 */
#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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
	int in, out, ep[2];
	pid_t pid;
	ssize_t n;
	int child_errno = 0;

	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (in < 0 || out < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		strbuf_addf(err, "cannot start %s: %s", argv[0], strerror(errno));
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		close(in);
		close(out);
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t all;
		int sig, e;

		/* only async-signal-safe calls from here to exec */
		setsid();
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			goto fail;
		if (syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
			int fd;

			for (fd = 3; fd < 4096; fd++)
				if (fd != ep[1])
					close(fd);
		}
		execv(argv[0], (char *const *)argv);
fail:
		e = errno;
		if (write(ep[1], &e, sizeof(e)) < 0) {
			/* the parent sees an exec that succeeded and a process that died */
		}
		_exit(127);
	}
	close(in);
	close(out);
	close(ep[1]);
	do {
		n = read(ep[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		strbuf_addf(err, "cannot run %s: %s", argv[0], strerror(child_errno));
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
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
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
