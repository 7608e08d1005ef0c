/*
 * Helper processes on pipes (coproc.h).
 */
#include "exec/coproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int coproc_start(const char *const *argv, struct coproc *c, struct strbuf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, rc;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* nothing else of ours: no listening socket, no database file */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		strbuf_addf(err, "cannot start %s: %s", argv[0], strerror(rc));
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
	c->pid = pid;
	c->in = in[1];
	c->out = out[0];
	return 0;
fail:
	for (rc = 0; rc < 2; rc++) {
		if (in[rc] >= 0)
			close(in[rc]);
		if (out[rc] >= 0)
			close(out[rc]);
	}
	return -1;
}

void coproc_end(struct coproc *c, int term)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int i;

	if (c->in >= 0)
		close(c->in);
	c->in = -1;
	if (c->pid > 0) {
		if (term)
			kill(c->pid, SIGTERM);
		for (i = 0; i < 100; i++) {
			pid_t r = waitpid(c->pid, NULL, WNOHANG);

			if (r == c->pid || (r < 0 && errno != EINTR))
				break;
			nanosleep(&pause, NULL);
		}
		if (i == 100) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0);
		}
	}
	c->pid = 0;
	if (c->out >= 0)
		close(c->out);
	c->out = -1;
}
