/*
 * Detached helper processes (see spawn.h).
 */
#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
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
