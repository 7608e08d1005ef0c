/*
 * The daemon's life: data directory, configuration (checked with -n,
 * re-read on SIGHUP and swapped in only when valid), store, first admin
 * token, threads, and an orderly stop.
 */
#include "server/seal.h"
#include "server/server_main.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* how long a starting server waits for the lock of one that is exiting */
#define LOCK_WAIT_MS 5000

#include "exec/cas.h"
#include "exec/spawn.h"
#include "notify/notify.h"
#include "server/server.h"
#include "util/sha256.h"
#include "util/stack.h"
#include "util/xalloc.h"
#include "web/web.h"

/* ---- logging ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void slog(const char *level, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strbuf_addf(&sb, "%s cidre[%ld]: %s: ", when, (long)getpid(), level);
	strbuf_vaddf(&sb, fmt, ap);
	strbuf_addch(&sb, '\n');
	pthread_mutex_lock(&log_lock);
	fwrite(sb.buf, 1, sb.len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	strbuf_release(&sb);
}

void slog_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	slog("info", fmt, ap);
	va_end(ap);
}

void slog_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	slog("warning", fmt, ap);
	va_end(ap);
}

/* ---- shared helpers ---- */

int64_t server_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

char *server_path(const struct server *srv, const char *sub, int64_t id, const char *ext)
{
	return xasprintf("%s/%s/%lld%s", srv->data, sub, (long long)id, ext);
}

char *server_mirror_path(const struct server *srv, const char *project)
{
	return xasprintf("%s/repos/%s.git", srv->data, project);
}

char *server_base_url(struct server *srv)
{
	char *u;
	size_t n;

	pthread_mutex_lock(&srv->cfg_lock);
	u = xstrdup(srv->cfg.public_url ? srv->cfg.public_url :
		    srv->url ? srv->url : "http://127.0.0.1:8080");
	pthread_mutex_unlock(&srv->cfg_lock);
	n = strlen(u);
	while (n && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

void server_cfg(struct server *srv, struct server_config *out)
{
	pthread_mutex_lock(&srv->cfg_lock);
	*out = srv->cfg;
	pthread_mutex_unlock(&srv->cfg_lock);
}

/*
 * Each thread's store handle, closed when the thread ends. The key is
 * process-wide state, created once (one server per process).
 */
static pthread_key_t store_key;
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void close_store(void *p)
{
	store_close(p);
}

static void make_key(void)
{
	pthread_key_create(&store_key, close_store);
}

struct store *server_store(struct server *srv, struct strbuf *err)
{
	struct store *st;

	pthread_once(&store_once, make_key);
	st = pthread_getspecific(store_key);
	if (st)
		return st;
	if (store_open(srv->store_url, &st, err) < 0)
		return NULL;
	pthread_setspecific(store_key, st);
	return st;
}

void server_store_release(struct server *srv)
{
	struct store *st;

	pthread_once(&store_once, make_key);
	st = pthread_getspecific(store_key);
	if (st) {
		pthread_setspecific(store_key, NULL);
		store_close(st);
		/* now: the main thread's trim after a burst may have come before */
		malloc_trim(0);
	}
	/* and the stack the work went down to (a pipeline file parsed...) */
	stack_trim();
}

void server_store_shrink(struct server *srv)
{
	struct store *st;

	pthread_once(&store_once, make_key);
	st = pthread_getspecific(store_key);
	if (!st)
		return;
	store_shrink(st);
	malloc_trim(0);
	stack_trim();
}

/* The HTTP workers' idle hook: an idle worker keeps no connection. */
static void http_idle(void *ud)
{
	server_store_release(ud);
}

static void push_id(struct server *srv, int64_t **a, size_t *nr, size_t *alloc, int64_t id)
{
	uint64_t one = 1;

	pthread_mutex_lock(&srv->lock);
	if (id) {
		ALLOC_GROW(*a, *nr + 1, *alloc);
		(*a)[(*nr)++] = id;
	}
	pthread_mutex_unlock(&srv->lock);
	if (write(srv->kick_fd, &one, sizeof(one)) < 0) {
		/* an eventfd counter cannot overflow here; the runner is awake anyway */
	}
}

void server_kick(struct server *srv, int64_t pipeline_id)
{
	push_id(srv, &srv->dirty, &srv->dirty_nr, &srv->dirty_alloc, pipeline_id);
}

void server_kill_job(struct server *srv, int64_t job_id)
{
	push_id(srv, &srv->kill, &srv->kill_nr, &srv->kill_alloc, job_id);
}

void server_orphan_pipeline(struct server *srv, int64_t id)
{
	push_id(srv, &srv->orphans, &srv->orphans_nr, &srv->orphans_alloc, id);
}

/* ---- start-up ---- */

static int mkdirs(const char *data, struct strbuf *err)
{
	static const char *const subs[] = { "", "/repos", "/logs", "/artifacts", "/cache",
					    "/work", "/results", "/sandbox" };
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p = xasprintf("%s%s", data, subs[i]);

		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			strbuf_addf(err, "cannot create %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

/* The first start: an admin token, written where only the owner reads it. */
static int first_token(struct server *srv, struct store *st, struct strbuf *err)
{
	unsigned char raw[24];
	char tok[64], hash[SHA256_HEX_LEN + 1];
	int64_t n = 0, id;
	char *path;
	size_t i;
	int fd, rc = -1;

	if (store_token_count(st, &n, err) < 0)
		return -1;
	if (n > 0)
		return 0;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		strbuf_addf(err, "getrandom: %s", strerror(errno));
		return -1;
	}
	memcpy(tok, "cidre_", 6);
	for (i = 0; i < sizeof(raw); i++) {
		tok[6 + 2 * i] = "0123456789abcdef"[raw[i] >> 4];
		tok[7 + 2 * i] = "0123456789abcdef"[raw[i] & 15];
	}
	tok[6 + 2 * sizeof(raw)] = '\0';
	path = xasprintf("%s/admin-token", srv->data);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		strbuf_addf(err, "cannot create %s: %s", path, strerror(errno));
		goto done;
	}
	if (write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok) || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		goto done;
	}
	close(fd);
	sha256_hex(tok, strlen(tok), hash);
	if (store_token_add(st, "admin", hash, &id, err) < 0)
		goto done;
	slog_info("created the admin API token in %s (mode 0600)", path);
	rc = 0;
done:
	free(path);
	return rc;
}

static int write_url(struct server *srv)
{
	char *path = xasprintf("%s/server-url", srv->data);
	char *tmp = xasprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	int rc = -1;

	if (f) {
		fprintf(f, "%s\n", srv->url);
		if (fclose(f) == 0 && rename(tmp, path) == 0)
			rc = 0;
	}
	free(path);
	free(tmp);
	return rc;
}

static char *absolute(const char *p)
{
	char *cwd, *r;

	if (p[0] == '/')
		return xstrdup(p);
	cwd = getcwd(NULL, 0);
	r = xasprintf("%s/%s", cwd ? cwd : ".", p);
	free(cwd);
	return r;
}

/* Re-read the configuration; swap it in when valid. */
static void reload(struct server *srv)
{
	struct server_config c, old;
	struct strbuf err = STRBUF_INIT;

	server_config_defaults(&c);
	if (server_config_load(srv->config_path, 1, &c, &err) < 0) {
		slog_warn("reload: %s: the configuration is invalid, keeping the one in use:\n%s",
			  srv->config_path, err.buf);
		server_config_release(&c);
		strbuf_release(&err);
		return;
	}
	pthread_mutex_lock(&srv->cfg_lock);
	old = srv->cfg;
	if (!srv->listen_override && strcmp(c.listen, old.listen))
		slog_warn("reload: listen changed to %s: it takes a restart; still on %s",
			  c.listen, old.listen);
	if ((c.store || old.store) && (!c.store || !old.store || strcmp(c.store, old.store)))
		slog_warn("reload: store changed: it takes a restart");
	if ((c.images || old.images) &&
	    (!c.images || !old.images || strcmp(c.images, old.images)))
		slog_warn("reload: images changed: it takes a restart");
	if (c.http_threads != old.http_threads)
		slog_warn("reload: http.threads changed: it takes a restart");
	if (c.max_request_body != old.max_request_body)
		slog_warn("reload: limits.request_body changed: it takes a restart");
	if (c.max_connections != old.max_connections ||
	    c.max_per_client != old.max_per_client)
		slog_warn("reload: limits.connections changed: it takes a restart");
	/* these stay as they are until a restart */
	free(c.listen);
	c.listen = old.listen;
	free(c.store);
	c.store = old.store;
	free(c.images);
	c.images = old.images;
	c.http_threads = old.http_threads;
	c.max_request_body = old.max_request_body;
	c.max_connections = old.max_connections;
	c.max_per_client = old.max_per_client;
	/*
	 * Other threads may hold the old runner name (server_cfg() copies
	 * pointers): it is kept until the server stops.
	 */
	ALLOC_GROW(srv->old_names, srv->old_names_nr + 1, srv->old_names_alloc);
	srv->old_names[srv->old_names_nr++] = old.runner_name;
	srv->cfg = c;
	/* read only under cfg_lock, and copied (src/notify/) */
	free(old.public_url);
	free(old.smtp_url);
	free(old.smtp_from);
	free(old.smtp_username);
	free(old.smtp_password);
	free(old.include_remote);
	pthread_mutex_unlock(&srv->cfg_lock);
	slog_info("reload: %s is in use (runner slots %d, log size %zu bytes)",
		  srv->config_path, c.slots, c.max_log);
	server_kick(srv, 0);
	retention_kick(srv);
	scheduler_kick(srv);
	strbuf_release(&err);
}

int server_main(const struct server_opts *o)
{
	struct server srv;
	struct strbuf err = STRBUF_INIT;
	struct http_config hc;
	struct http_route *routes = NULL;
	size_t routes_nr;
	struct store *st;
	sigset_t set;
	char *lock_path = NULL;
	int lock_fd = -1, rc = 1, sig;

	memset(&srv, 0, sizeof(srv));
	/*
	 * Few malloc arenas: the server's threads allocate little, and each
	 * arena of its own would keep pages resident for good.
	 */
	mallopt(M_ARENA_MAX, 2);
	srv.data = absolute(o->data);
	srv.config_path = o->config ? absolute(o->config) : xasprintf("%s/config.yml", srv.data);
	pthread_mutex_init(&srv.cfg_lock, NULL);
	pthread_mutex_init(&srv.lock, NULL);
	srv.kick_fd = -1;
	srv.poll_fd = -1;
	srv.reaper_fd = -1;
	srv.sched_fd = -1;
	server_config_defaults(&srv.cfg);
	if (server_config_load(srv.config_path, !o->config, &srv.cfg, &err) < 0) {
		fprintf(stderr, "cidre server: %s\n", err.buf);
		goto out;
	}
	if (o->listen) {
		free(srv.cfg.listen);
		srv.cfg.listen = xstrdup(o->listen);
		srv.listen_override = 1;
	}
	if (o->check) {
		printf("%s: configuration OK\n", srv.config_path);
		rc = 0;
		goto out;
	}
	if (mkdirs(srv.data, &err) < 0) {
		fprintf(stderr, "cidre server: %s\n", err.buf);
		goto out;
	}
	lock_path = xasprintf("%s/server.lock", srv.data);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	/*
	 * A server just killed can hold the lock a moment longer than its
	 * main thread lives (its other threads still exiting): a restart
	 * waits for it, up to LOCK_WAIT_MS, rather than failing.
	 */
	for (int waited = 0; lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) < 0 &&
	     errno == EWOULDBLOCK && waited < LOCK_WAIT_MS; waited += 50)
		usleep(50 * 1000);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "cidre server: another server uses %s (%s)\n", srv.data,
			lock_fd < 0 ? strerror(errno) : "it holds server.lock");
		goto out;
	}
	srv.store_url = srv.cfg.store ? xstrdup(srv.cfg.store) : xasprintf("%s/cidre.db", srv.data);
	st = server_store(&srv, &err);
	if (!st || seal_init(srv.data, st, &err) < 0 || first_token(&srv, st, &err) < 0) {
		fprintf(stderr, "cidre server: %s\n", err.buf);
		goto out;
	}
	{
		/* secrets stored in clear by an earlier version: sealed now */
		int n = seal_migrate(st, &err);

		if (n < 0) {
			fprintf(stderr, "cidre server: sealing the stored secrets: %s\n", err.buf);
			goto out;
		}
		if (n > 0)
			slog_info("sealed %d secret%s stored in clear with %s/%s", n,
				  n == 1 ? "" : "s", srv.data, SEAL_KEY_FILE);
	}
	/* from now on this thread only waits for signals: no connection */
	server_store_release(&srv);
	spawn_self_exe();
	srv.started_ms = server_now_ms();
	srv.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv.poll_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv.reaper_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	srv.sched_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	/* signals are taken by this thread only; every other thread blocks them */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	server_clones_sweep(&srv);
	events_start(&srv, (size_t)srv.cfg.events_backlog);
	if (logs_start(&srv, &err) < 0 || runner_start(&srv, &err) < 0 ||
	    runner_poller_start(&srv, &err) < 0 || retention_start(&srv, &err) < 0 ||
	    scheduler_start(&srv, &err) < 0) {
		fprintf(stderr, "cidre server: %s\n", err.buf);
		goto stop;
	}
	memset(&hc, 0, sizeof(hc));
	hc.listen = srv.cfg.listen;
	hc.threads = (unsigned)srv.cfg.http_threads;
	hc.max_body = srv.cfg.max_request_body;
	hc.max_connections = (unsigned)srv.cfg.max_connections;
	hc.max_per_client = (unsigned)srv.cfg.max_per_client;
	hc.error_page = web_error_page;
	hc.idle = http_idle;
	routes_nr = server_routes_nr + web_routes_nr + notify_routes_nr;
	routes = xcalloc(routes_nr, sizeof(*routes));
	memcpy(routes, server_routes, server_routes_nr * sizeof(*routes));
	memcpy(routes + server_routes_nr, web_routes, web_routes_nr * sizeof(*routes));
	memcpy(routes + server_routes_nr + web_routes_nr, notify_routes,
	       notify_routes_nr * sizeof(*routes));
	if (http_server_start(&hc, routes, routes_nr, &srv, &srv.http, &err) < 0) {
		fprintf(stderr, "cidre server: listening on %s: %s\n", srv.cfg.listen, err.buf);
		goto stop;
	}
	{
		const char *l = srv.cfg.listen;
		const char *colon = strrchr(l, ':');
		char host[256];
		size_t hl = colon ? (size_t)(colon - l) : 0;

		if (hl >= sizeof(host))
			hl = sizeof(host) - 1;
		memcpy(host, l, hl);
		host[hl] = '\0';
		if (!hl || !strcmp(host, "0.0.0.0"))
			snprintf(host, sizeof(host), "127.0.0.1");
		else if (!strcmp(host, "[::]"))
			snprintf(host, sizeof(host), "[::1]");
		srv.url = xasprintf("http://%s:%u", host, http_server_port(srv.http));
	}
	/* after srv.url is known: links back are made from it */
	if (notify_start(&srv, &err) < 0) {
		fprintf(stderr, "cidre server: %s\n", err.buf);
		rc = 1;
		goto stop;
	}
	write_url(&srv);
	slog_info("cidre %s listening on %s (data %s, store %s, %d runner slots)",
		  CIDRE_VERSION, srv.url, srv.data, srv.store_url, srv.cfg.slots);
	rc = 0;
	for (;;) {
		/*
		 * Once a second with no signal: after a burst of work (jobs
		 * finished or pipelines made since the last look, none in the
		 * last second), give the malloc arenas' free pages back, so
		 * that the resident size returns to what it was.
		 */
		struct timespec tick = { 1, 0 };
		long long work = atomic_load(&srv.jobs_finished) +
				 atomic_load(&srv.pipelines_created);

		sig = sigtimedwait(&set, NULL, &tick);
		if (sig < 0) {
			if (errno == EAGAIN) {
				long long now = atomic_load(&srv.jobs_finished) +
						atomic_load(&srv.pipelines_created);

				if (now == work && work != srv.trimmed_at) {
					malloc_trim(0);
					srv.trimmed_at = work;
				}
			}
			continue;
		}
		if (sig == SIGHUP) {
			reload(&srv);
			continue;
		}
		slog_info("stopping (signal %d); running jobs go on and are re-attached at "
			  "the next start", sig);
		break;
	}
stop:
	atomic_store(&srv.stopping, 1);
	http_server_stop(srv.http);
	server_clones_abandon();
	free(routes);
	if (srv.runner)
		runner_stop(&srv);
	if (srv.poller)
		runner_poller_stop(&srv);
	retention_stop(&srv);
	scheduler_stop(&srv);
	notify_stop(&srv);
	logs_stop(&srv);
	events_stop(&srv);
	if (srv.url) {
		char *p = xasprintf("%s/server-url", srv.data);

		unlink(p);
		free(p);
	}
out:
	if (srv.kick_fd >= 0)
		close(srv.kick_fd);
	if (srv.poll_fd >= 0)
		close(srv.poll_fd);
	if (srv.reaper_fd >= 0)
		close(srv.reaper_fd);
	if (srv.sched_fd >= 0)
		close(srv.sched_fd);
	{
		/* the main thread's handle (others closed at their exit) */
		struct store *mine;

		pthread_once(&store_once, make_key);
		mine = pthread_getspecific(store_key);

		if (mine) {
			pthread_setspecific(store_key, NULL);
			store_close(mine);
		}
	}
	if (lock_fd >= 0)
		close(lock_fd);
	seal_release();
	free(lock_path);
	free(srv.dirty);
	free(srv.kill);
	{
		size_t i;

		for (i = 0; i < srv.old_names_nr; i++)
			free(srv.old_names[i]);
		free(srv.old_names);
	}
	free(srv.url);
	free(srv.store_url);
	free(srv.data);
	free(srv.config_path);
	server_config_release(&srv.cfg);
	strbuf_release(&err);
	return rc;
}
