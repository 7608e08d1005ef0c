/*
 * The reaper: artifacts' expiry, the sweep of DATA/artifacts, the audit
 * log's pruning (docs/internals/server.md, "Retention: the reaper").
 *
 * One thread. At start and every retention.interval seconds it
 *  1. expires due artifacts in the store (rows deleted, jobs marked, one
 *     transaction per batch: store_artifacts_expire);
 *  2. sweeps DATA/artifacts when something may have become unreferenced
 *     (at start, after an expiry, or while a young unreferenced blob
 *     waits out its grace): a blob is unlinked only when no artifact row
 *     names it, it is older than retention.grace, and it was stored
 *     before the oldest running job started;
 *  3. prunes the audit log older than audit.keep_days.
 * Rows go before blobs, and a blob goes only once unreferenced, so a
 * crash at any point leaves no row without its blob; what a crash
 * leaves unreferenced goes at a later sweep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"
#include "util/xalloc.h"

#define EXPIRE_BATCH 500
/*
 * A blob whose inode changed this long before the oldest running job
 * started may still be that job's (clocks of ms vs ns, the claim's time
 * taken before the spawn): the margin is generous, the cost nil.
 */
#define RUNNING_MARGIN_MS 2000
#define REAP_SUFFIX ".reap"

static int64_t ts_ms(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

struct sweep {
	struct server *srv;
	struct store *st;
	int64_t now, grace_ms, running_since; /* running_since 0: no job runs */
	long long blobs, bytes, young;
	int failed;
};

/*
 * One entry NAME of DATA/artifacts/XX. A blob is XX + NAME = 64 hex
 * digits. "NAME.reap" is a blob this sweep (or a killed one) took out
 * of the way before unlinking it: a leftover goes back under its name,
 * to be decided again. "NAME.PID.tmp" is a supervisor's copy on its way
 * in: removed once older than the grace period.
 */
static void sweep_one(struct sweep *w, const char *dir, const char *pre, const char *name)
{
	struct strbuf path = STRBUF_INIT, reap = STRBUF_INIT, err = STRBUF_INIT;
	struct stat sb, sb2;
	char sha[65];
	int64_t changed;
	int used = 0;

	strbuf_addf(&path, "%s/%s", dir, name);
	if (ends_with(name, REAP_SUFFIX)) {
		strbuf_addf(&reap, "%s/%.*s", dir, (int)(strlen(name) - strlen(REAP_SUFFIX)),
			    name);
		if (rename(path.buf, reap.buf) < 0)
			slog_warn("retention: restoring %s: %s", path.buf, strerror(errno));
		goto done;
	}
	if (lstat(path.buf, &sb) < 0 || !S_ISREG(sb.st_mode))
		goto done;
	/* the later of the content's and the inode's change: a put renames, a reuse touches */
	changed = ts_ms(&sb.st_ctim) > ts_ms(&sb.st_mtim) ? ts_ms(&sb.st_ctim) : ts_ms(&sb.st_mtim);
	if (ends_with(name, ".tmp")) {
		if (w->now - changed >= w->grace_ms &&
		    (!w->running_since || changed < w->running_since - RUNNING_MARGIN_MS) &&
		    unlink(path.buf) == 0)
			w->bytes += sb.st_size;
		goto done;
	}
	if (strlen(name) != 62 || !is_hex(name, 62))
		goto done;
	memcpy(sha, pre, 2);
	memcpy(sha + 2, name, 62);
	sha[64] = '\0';
	if (store_artifact_blob_used(w->st, sha, &used, &err) < 0) {
		slog_warn("retention: %s", err.buf);
		w->failed = 1;
		goto done;
	}
	if (used)
		goto done;
	if (w->now - changed < w->grace_ms ||
	    (w->running_since && changed >= w->running_since - RUNNING_MARGIN_MS)) {
		w->young++;
		goto done;
	}
	/*
	 * Out of the way first: a supervisor that reuses the blob touches it
	 * by name (cas.c); after the rename its touch fails and it stores
	 * the file anew. A touch that came before shows in the mtime: the
	 * blob goes back.
	 */
	strbuf_addf(&reap, "%s%s", path.buf, REAP_SUFFIX);
	if (rename(path.buf, reap.buf) < 0)
		goto done;
	if (lstat(reap.buf, &sb2) < 0 || sb2.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    sb2.st_mtim.tv_nsec != sb.st_mtim.tv_nsec) {
		if (rename(reap.buf, path.buf) < 0)
			slog_warn("retention: restoring %s: %s", path.buf, strerror(errno));
		goto done;
	}
	if (unlink(reap.buf) < 0) {
		slog_warn("retention: removing %s: %s", reap.buf, strerror(errno));
		goto done;
	}
	w->blobs++;
	w->bytes += sb.st_size;
done:
	strbuf_release(&path);
	strbuf_release(&reap);
	strbuf_release(&err);
}

/* Sweep DATA/artifacts; 0, or -1 when it could not be read through. */
static int sweep(struct sweep *w)
{
	struct strbuf root = STRBUF_INIT, dir = STRBUF_INIT;
	DIR *top, *sub;
	struct dirent *d, *e;
	int rc = 0;

	strbuf_addf(&root, "%s/artifacts", w->srv->data);
	top = opendir(root.buf);
	if (!top) {
		rc = errno == ENOENT ? 0 : -1;
		goto out;
	}
	while (!w->failed && !atomic_load(&w->srv->stopping) && (d = readdir(top))) {
		if (strlen(d->d_name) != 2 || !is_hex(d->d_name, 2))
			continue;
		strbuf_reset(&dir);
		strbuf_addf(&dir, "%s/%s", root.buf, d->d_name);
		sub = opendir(dir.buf);
		if (!sub)
			continue;
		while (!w->failed && (e = readdir(sub)))
			if (e->d_name[0] != '.')
				sweep_one(w, dir.buf, d->d_name, e->d_name);
		closedir(sub);
	}
	closedir(top);
	if (w->failed)
		rc = -1;
out:
	strbuf_release(&root);
	strbuf_release(&dir);
	return rc;
}

/* One round; *sweep_due says whether the next round must sweep. */
static void round_once(struct server *srv, int *sweep_due)
{
	struct strbuf err = STRBUF_INIT;
	struct server_config cfg;
	struct store *st = server_store(srv, &err);
	int64_t now = server_now_ms(), *ids = NULL;
	size_t nr = 0, total = 0;

	if (!st) {
		slog_warn("retention: %s", err.buf);
		goto out;
	}
	server_cfg(srv, &cfg);
	do {
		free(ids);
		ids = NULL;
		if (store_artifacts_expire(st, now, cfg.artifacts_keep_latest, EXPIRE_BATCH, &ids,
					   &nr, &err) < 0) {
			slog_warn("retention: expiring artifacts: %s", err.buf);
			strbuf_reset(&err);
			break;
		}
		if (nr == 1)
			slog_info("retention: the artifacts of job %lld expired", (long long)ids[0]);
		total += nr;
	} while (nr == EXPIRE_BATCH && !atomic_load(&srv->stopping));
	free(ids);
	if (total) {
		if (total > 1)
			slog_info("retention: the artifacts of %zu jobs expired", total);
		atomic_fetch_add(&srv->artifacts_expired_jobs, (long long)total);
		*sweep_due = 1;
	}
	if (*sweep_due) {
		struct sweep w;

		memset(&w, 0, sizeof(w));
		w.srv = srv;
		w.st = st;
		w.now = server_now_ms();
		w.grace_ms = cfg.retention_grace_s * 1000;
		if (store_job_running_since(st, &w.running_since, &err) < 0) {
			slog_warn("retention: %s", err.buf);
			strbuf_reset(&err);
		} else if (sweep(&w) == 0) {
			*sweep_due = w.young > 0;
		}
		if (w.blobs) {
			atomic_fetch_add(&srv->reaped_blobs, w.blobs);
			atomic_fetch_add(&srv->reaped_bytes, w.bytes);
			slog_info("retention: %lld unreferenced artifact file%s removed (%lld bytes)",
				  w.blobs, w.blobs == 1 ? "" : "s", w.bytes);
		}
	}
	if (cfg.audit_keep_days > 0) {
		int64_t n = 0;

		if (store_audit_prune(st, now - (int64_t)(cfg.audit_keep_days * 86400000.0), &n,
				      &err) < 0)
			slog_warn("retention: pruning the audit log: %s", err.buf);
		else if (n)
			slog_info("retention: %lld audit record%s older than %g days removed",
				  (long long)n, n == 1 ? "" : "s", cfg.audit_keep_days);
	}
out:
	strbuf_release(&err);
}

static void *reaper_main(void *arg)
{
	struct server *srv = arg;
	int sweep_due = 1;	/* at start: what a crash left behind */

	while (!atomic_load(&srv->stopping)) {
		struct server_config cfg;
		struct pollfd pfd;

		round_once(srv, &sweep_due);
		/* idle between rounds: no connection kept */
		server_store_release(srv);
		server_cfg(srv, &cfg);
		pfd.fd = srv->reaper_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, cfg.retention_interval * 1000) > 0) {
			uint64_t n;

			/* a reload (a round now, with the new settings) or the stop */
			if (read(srv->reaper_fd, &n, sizeof(n)) < 0) {
				/* EAGAIN: someone else drained it */
			}
		}
	}
	return NULL;
}

void retention_kick(struct server *srv)
{
	uint64_t one = 1;

	if (srv->reaper_started && write(srv->reaper_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot be full */
	}
}

int retention_start(struct server *srv, struct strbuf *err)
{
	if (pthread_create(&srv->reaper, NULL, reaper_main, srv)) {
		strbuf_addstr(err, "cannot start the retention thread");
		return -1;
	}
	srv->reaper_started = 1;
	return 0;
}

void retention_stop(struct server *srv)
{
	uint64_t one = 1;

	if (!srv->reaper_started)
		return;
	if (write(srv->reaper_fd, &one, sizeof(one)) < 0) {
		/* the eventfd cannot be full: the reaper will see stopping */
	}
	pthread_join(srv->reaper, NULL);
	srv->reaper_started = 0;
}
