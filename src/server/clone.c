/*
 * Projects whose repository is cloned in the background (server.h,
 * "clones"). POST /projects starts the clone on a thread of its own and
 * waits for it a while; a clone that takes longer goes on alone, and its
 * thread adds the project when it ends. docs/internals/server.md, "A
 * project's first clone".
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "exec/cas.h"
#include "git/mirror.h"
#include "server/server.h"
#include "util/fileio.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define CLONES_MAX 64
#define CLONE_SUFFIX ".cloning"
/* How long a stopping server waits for its clones' ends (git killed, cleaned up) */
#define CLONE_STOP_WAIT_MS 2000

enum clone_state { CLONE_RUNNING, CLONE_OK, CLONE_FAILED };

struct clone {
	struct store_project p;     /* what to add; every string its own */
	int public_read;
	char *mirror, *tmp, *store_url;
	int poll_fd;                /* a duplicate of the poller's eventfd */
	int64_t started_ms;
	enum clone_state state;
	int waited;                 /* the request still waits for the end */
	int abandoned;              /* the server stopped: only clean up */
	struct strbuf err;
	int refs;                   /* the thread, the request, the list */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t ended;
	struct clone *v[CLONES_MAX];
	size_t nr;
	int stop_fd;    /* an eventfd, readable once the server stops: every clone's git is killed */
} clones = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { NULL }, 0, -1 };

static void clone_free(struct clone *c)
{
	free(c->p.name);
	free(c->p.repo);
	free(c->p.branches);
	free(c->p.hook_secret);
	free(c->p.webhook_secret);
	free(c->mirror);
	free(c->tmp);
	free(c->store_url);
	if (c->poll_fd >= 0)
		close(c->poll_fd);
	strbuf_release(&c->err);
	free(c);
}

/* Under clones.lock. */
static void clone_unref(struct clone *c)
{
	if (--c->refs == 0)
		clone_free(c);
}

/* Under clones.lock: the list's index of name, or -1. */
static int clone_find(const char *name)
{
	size_t i;

	for (i = 0; i < clones.nr; i++)
		if (!strcmp(clones.v[i]->p.name, name))
			return (int)i;
	return -1;
}

/* Under clones.lock: drop entry i from the list (and the list's ref). */
static void clone_drop(size_t i)
{
	struct clone *c = clones.v[i];

	memmove(clones.v + i, clones.v + i + 1, (clones.nr - i - 1) * sizeof(*clones.v));
	clones.nr--;
	clone_unref(c);
}

/* The clone's own end, when nobody waits for it any more. */
static void finish_alone(struct clone *c, int ok)
{
	struct store *st = NULL;
	int64_t secs = (server_now_ms() - c->started_ms) / 1000;

	if (ok && store_open(c->store_url, &st, &c->err) < 0)
		ok = 0;
	if (ok && store_project_add(st, &c->p, &c->err) < 0)
		ok = 0;
	if (ok && c->public_read)
		store_project_set_public(st, c->p.name, 1, &c->err);
	store_close(st);
	if (!ok) {
		cas_rmtree(c->mirror, NULL);
		slog_warn("project %s: cloning %s failed after %llds: %s", c->p.name, c->p.repo,
			  (long long)secs, c->err.buf);
	} else {
		uint64_t one = 1;

		slog_info("project %s added (%s) after cloning for %llds", c->p.name, c->p.repo,
			  (long long)secs);
		if (c->p.poll_interval && write(c->poll_fd, &one, sizeof(one)) < 0) {
			/* the poller sees the project at its next round */
		}
	}
	pthread_mutex_lock(&clones.lock);
	c->state = ok ? CLONE_OK : CLONE_FAILED;
	pthread_cond_broadcast(&clones.ended);	/* a stopping server waits for it */
	if (ok) {
		int k = clone_find(c->p.name);

		if (k >= 0 && clones.v[k] == c)
			clone_drop((size_t)k);
	}
	clone_unref(c);
	pthread_mutex_unlock(&clones.lock);
}

static void *clone_main(void *arg)
{
	struct clone *c = arg;
	int ok;

	cas_rmtree(c->tmp, NULL);
	ok = mirror_create(c->p.repo, c->tmp, clones.stop_fd >= 0 ? &clones.stop_fd : NULL,
			   &c->err) == 0;
	if (ok) {
		cas_rmtree(c->mirror, NULL);
		if (rename(c->tmp, c->mirror) < 0) {
			strbuf_addf(&c->err, "cannot move %s to %s: %s", c->tmp, c->mirror,
				    strerror(errno));
			ok = 0;
		}
	}
	if (!ok)
		cas_rmtree(c->tmp, NULL);
	pthread_mutex_lock(&clones.lock);
	if (c->waited || c->abandoned) {
		int k = clone_find(c->p.name);

		c->state = ok ? CLONE_OK : CLONE_FAILED;
		if (c->abandoned && !c->waited && ok)
			cas_rmtree(c->mirror, NULL);    /* no project will have it */
		if (c->abandoned && k >= 0 && clones.v[k] == c)
			clone_drop((size_t)k);
		pthread_cond_broadcast(&clones.ended);
		clone_unref(c);
		pthread_mutex_unlock(&clones.lock);
		return NULL;
	}
	pthread_mutex_unlock(&clones.lock);
	finish_alone(c, ok);
	return NULL;
}

int server_clone_start(struct server *srv, const struct store_project *p, int public_read,
		       struct clone **ret, struct strbuf *err)
{
	struct clone *c;
	pthread_attr_t a;
	pthread_t t;
	size_t i;
	int k;

	pthread_mutex_lock(&clones.lock);
	k = clone_find(p->name);
	if (k >= 0 && clones.v[k]->state == CLONE_RUNNING) {
		strbuf_addf(err, "a project named %s is being cloned from %s", p->name,
			    clones.v[k]->p.repo);
		pthread_mutex_unlock(&clones.lock);
		return CLONE_BUSY;
	}
	if (k >= 0)
		clone_drop((size_t)k);
	for (i = 0; clones.nr == CLONES_MAX && i < clones.nr; i++)
		if (clones.v[i]->state != CLONE_RUNNING)
			clone_drop(i);
	if (clones.nr == CLONES_MAX) {
		strbuf_addf(err, "%d projects are being cloned already: try again later",
			    CLONES_MAX);
		pthread_mutex_unlock(&clones.lock);
		return CLONE_FULL;
	}
	if (clones.stop_fd < 0)
		clones.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c = xcalloc(1, sizeof(*c));
	c->p.name = xstrdup(p->name);
	c->p.repo = xstrdup(p->repo);
	c->p.branches = xstrdup(p->branches);
	c->p.poll_interval = p->poll_interval;
	c->p.hook_secret = xstrdup(p->hook_secret);
	c->p.webhook_secret = xstrdup(p->webhook_secret);
	c->public_read = public_read;
	c->mirror = server_mirror_path(srv, p->name);
	c->tmp = xasprintf("%s" CLONE_SUFFIX, c->mirror);
	c->store_url = xstrdup(srv->store_url);
	c->poll_fd = srv->poll_fd >= 0 ? dup(srv->poll_fd) : -1;
	c->started_ms = server_now_ms();
	c->state = CLONE_RUNNING;
	c->waited = 1;
	strbuf_init(&c->err, 0);
	c->refs = 3;
	clones.v[clones.nr++] = c;
	pthread_mutex_unlock(&clones.lock);
	if (pthread_attr_init(&a) || pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) ||
	    pthread_create(&t, &a, clone_main, c))
		clone_main(c);  /* no thread: here, the request waiting */
	pthread_attr_destroy(&a);
	*ret = c;
	return 0;
}

int server_clone_wait(struct clone *c, int ms, struct strbuf *err)
{
	struct timespec until;
	int r;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&clones.lock);
	while (c->state == CLONE_RUNNING &&
	       pthread_cond_timedwait(&clones.ended, &clones.lock, &until) == 0)
		;
	if (c->state == CLONE_RUNNING) {
		c->waited = 0;  /* its thread adds the project */
		r = 1;
	} else {
		int k = clone_find(c->p.name);

		if (k >= 0 && clones.v[k] == c)
			clone_drop((size_t)k);
		r = c->state == CLONE_OK ? 0 : -1;
		if (r < 0)
			strbuf_add(err, c->err.buf, c->err.len);
	}
	clone_unref(c);
	pthread_mutex_unlock(&clones.lock);
	return r;
}

int server_clone_state(const char *name, struct strbuf *repo, int64_t *since_ms,
		       struct strbuf *failure)
{
	int k, r = 0;

	pthread_mutex_lock(&clones.lock);
	k = clone_find(name);
	if (k >= 0) {
		struct clone *c = clones.v[k];

		strbuf_addstr(repo, c->p.repo);
		*since_ms = c->started_ms;
		if (c->state == CLONE_RUNNING) {
			r = 1;
		} else if (c->state == CLONE_FAILED) {
			strbuf_add(failure, c->err.buf, c->err.len);
			r = 2;
		}
	}
	pthread_mutex_unlock(&clones.lock);
	return r;
}

/* Under clones.lock: whether a clone is still running. */
static int clones_running(void)
{
	size_t i;

	for (i = 0; i < clones.nr; i++)
		if (clones.v[i]->state == CLONE_RUNNING)
			return 1;
	return 0;
}

void server_clones_abandon(void)
{
	struct timespec until;
	uint64_t one = 1;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLONE_STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&clones.lock);
	for (i = 0; i < clones.nr; i++)
		clones.v[i]->abandoned = 1;
	/* every clone's git (and its children) killed; their threads clean up */
	if (clones.stop_fd >= 0 && write(clones.stop_fd, &one, sizeof(one)) < 0)
		slog_warn("cannot stop the clones: %s", strerror(errno));
	while (clones_running() &&
	       pthread_cond_timedwait(&clones.ended, &clones.lock, &until) == 0)
		;
	if (clones_running())
		slog_warn("a clone's clean-up goes on as the server stops; the next start "
			  "removes what it leaves");
	pthread_mutex_unlock(&clones.lock);
}

/* Whether a process of group pgid is alive (not a zombie), from /proc. */
static int group_alive(pid_t pgid)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int alive = 0;

	while (d && !alive && (de = readdir(d))) {
		char state, *end;
		long pid = strtol(de->d_name, &end, 10), grp;

		if (*end || pid <= 0 || read_proc_stat(pid, &state, &grp) < 0)
			continue;
		alive = grp == (long)pgid && state != 'Z' && state != 'X';
	}
	if (d)
		closedir(d);
	return alive;
}

/*
 * The git of a clone into dir that a killed server left running (kill
 * -9: nothing stopped it): a process of ours whose command line is
 * mirror_create's for dir and that leads its own process group (as
 * git_stoppable starts it), killed with that group. Waited for, up to
 * CLONE_STOP_WAIT_MS, so that nothing writes into dir once it is gone
 * (until each of its processes is a zombie: their reaper may be slow).
 */
static void kill_left_clone(const char *dir)
{
	struct strbuf cmd = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir("/proc");

	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int k;

		if (*end || pid <= 1 || pid == (long)getpid() ||
		    read_own_cmdline(pid, &cmd) < 0 ||
		    !mirror_create_cmdline(cmd.buf, cmd.len, dir) ||
		    getpgid((pid_t)pid) != (pid_t)pid)
			continue;
		slog_info("stopping the git of a clone a killed server left (pid %ld)", pid);
		kill(-(pid_t)pid, SIGKILL);
		for (k = 0; k < CLONE_STOP_WAIT_MS / 10 && group_alive((pid_t)pid); k++)
			usleep(10000);
	}
	if (d)
		closedir(d);
	strbuf_release(&cmd);
}

void server_clones_sweep(const struct server *srv)
{
	char *dir = xasprintf("%s/repos", srv->data);
	size_t n = strlen(CLONE_SUFFIX);
	struct dirent *de;
	DIR *d = opendir(dir);
	uint64_t v;

	/* a server started again in this process: its clones run */
	pthread_mutex_lock(&clones.lock);
	if (clones.stop_fd >= 0 && read(clones.stop_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: not stopped */
	}
	pthread_mutex_unlock(&clones.lock);
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len > n && !strcmp(de->d_name + len - n, CLONE_SUFFIX)) {
			char *p = xasprintf("%s/%s", dir, de->d_name);

			kill_left_clone(p);
			slog_info("removing %s, a clone a stopped server left", p);
			cas_rmtree(p, NULL);
			free(p);
		}
	}
	if (d)
		closedir(d);
	free(dir);
}
