/*
 * Live job logs: any number of followers per job, each an SSE stream
 * that reads the append-only log file from its own offset. A watcher
 * thread (inotify on DATA/logs) wakes a job's followers when its file
 * grows; logs_job_finished() wakes them for the last bytes and the end
 * event. Followers never poll.
 *
 * DATA/logs is watched only while someone follows a log: a watch makes
 * every write of every job's log queue an event and wake the watcher
 * (about 2 % of all CPU in a 100-job drain nobody follows). The watch is
 * added when the first follower of a running job registers, before its
 * stream's first read, so no write after that read goes unseen; it is
 * removed when the last follower is gone.
 *
 * Ordering that makes the end exact: the runner records a job finished
 * only after its supervisor exited (every byte is in the file), and a
 * follower reads the "finished" flag before it reads the file; so when
 * it sees the flag and no more bytes, there are none.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "server/server.h"
#include "util/jsonx.h"
#include "util/xalloc.h"

#define LOG_CHUNK 16384

struct follower {
	struct logs *logs;
	int64_t job_id;
	int fd;
	uint64_t off;           /* log bytes sent */
	atomic_int finished;
	int ended;
	struct strbuf out;      /* formatted event bytes not yet sent */
	size_t out_off;
	struct http_stream *stream;
	int registered;         /* in logs->v (under logs->lock) */
	uint64_t access;        /* events_access_now() when it was authorised */
	atomic_int refs;        /* the stream's and logs_stream()'s */
};

struct logs {
	struct server *srv;
	char *dir;              /* DATA/logs */
	int ifd, stop_fd;
	int wd;                 /* the watch on dir while nr > 0, else -1 */
	pthread_t thread;
	pthread_mutex_t lock;
	struct follower **v;
	size_t nr, alloc;
};

/* ---- followers ---- */

static void add_event(struct follower *f, const char *event, const char *id, json_t *data)
{
	char *d = json_dumps(data, JSON_COMPACT);

	strbuf_addf(&f->out, "event: %s\n", event);
	if (id)
		strbuf_addf(&f->out, "id: %s\n", id);
	strbuf_addf(&f->out, "data: %s\n\n", d ? d : "{}");
	free(d);
}

static ssize_t drain(struct follower *f, char *buf, size_t max)
{
	size_t n = f->out.len - f->out_off;

	if (n > max)
		n = max;
	memcpy(buf, f->out.buf + f->out_off, n);
	f->out_off += n;
	if (f->out_off == f->out.len) {
		strbuf_reset(&f->out);
		f->out_off = 0;
	}
	return (ssize_t)n;
}

static void end_event(struct follower *f)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = server_store(f->logs->srv, &err);
	struct store_job j;
	json_t *d;

	memset(&j, 0, sizeof(j));
	if (st)
		store_job_get(st, f->job_id, &j, &err);
	d = json_pack("{s:s, s:I}", "status", j.status ? j.status : "unknown",
		      "log_size", (json_int_t)f->off);
	add_event(f, "end", NULL, d);
	json_decref(d);
	store_job_release(&j);
	strbuf_release(&err);
	f->ended = 1;
}

static ssize_t follower_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct follower *f = ud;
	char chunk[LOG_CHUNK];
	ssize_t n = 0;
	int fin;

	(void)pos;
	/* who may read it changed: end; the client resumes, authorised again */
	if (events_access_now(f->logs->srv) != f->access)
		return -1;
	if (f->out.len > f->out_off)
		return drain(f, buf, max);
	if (f->ended)
		return -1;
	fin = atomic_load(&f->finished);
	if (f->fd < 0) {
		char *path = server_path(f->logs->srv, "logs", f->job_id, ".log");

		f->fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
	}
	if (f->fd >= 0) {
		do {
			n = pread(f->fd, chunk, sizeof(chunk), (off_t)f->off);
		} while (n < 0 && errno == EINTR);
	}
	if (n > 0) {
		/*
		 * The event written directly, {"offset":N,"text":"..."}: the
		 * text escaped in one pass that also replaces what is not
		 * UTF-8 (building a JSON value and dumping it was ~15 ns a
		 * byte, per follower).
		 */
		struct strbuf text = STRBUF_INIT;
		size_t used = json_str_escape_clean(&text, chunk, (size_t)n,
						    fin && n < (ssize_t)sizeof(chunk));

		if (!used) /* only a cut sequence so far: wait for the rest */
			used = fin ? (size_t)n : 0;
		if (used) {
			strbuf_addf(&f->out, "event: log\nid: %llu\ndata: {\"offset\":%llu,\"text\":\"",
				    (unsigned long long)(f->off + used), (unsigned long long)f->off);
			strbuf_add(&f->out, text.buf ? text.buf : "", text.len);
			strbuf_addstr(&f->out, "\"}\n\n");
			f->off += used;
		}
		strbuf_release(&text);
		if (f->out.len)
			return drain(f, buf, max);
	}
	if (fin) {
		end_event(f);
		return drain(f, buf, max);
	}
	return 0;
}

static void follower_unref(struct follower *f)
{
	if (atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	http_stream_unref(f->stream);
	if (f->fd >= 0)
		close(f->fd);
	strbuf_release(&f->out);
	free(f);
}

/* The stream is over: no more wakes; freed once logs_stream() is done too. */
static void follower_free(void *ud)
{
	struct follower *f = ud;
	struct logs *l = f->logs;
	size_t i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->nr; i++)
		if (l->v[i] == f) {
			l->v[i] = l->v[--l->nr];
			break;
		}
	f->registered = 0;
	if (!l->nr && l->wd >= 0) {
		/* nobody follows: jobs' writes no longer queue events */
		inotify_rm_watch(l->ifd, l->wd);
		l->wd = -1;
	}
	pthread_mutex_unlock(&l->lock);
	follower_unref(f);
}

static const struct http_stream_ops follower_ops = {
	.read = follower_read,
	.free = follower_free,
	.heartbeat = ": ping\n\n",
};

void logs_wake_all(struct server *srv)
{
	struct logs *l = srv->logs;
	size_t i;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->nr; i++)
		if (l->v[i]->stream)
			http_stream_wake(l->v[i]->stream);
	pthread_mutex_unlock(&l->lock);
}

int logs_stream(struct server *srv, struct http_request *req, int64_t job_id,
		uint64_t offset, int is_finished, uint64_t access)
{
	struct logs *l = srv->logs;
	struct follower *f;
	struct http_stream *s = NULL;
	int rc;

	/* registered before the stream exists: a finish in between is seen */
	pthread_mutex_lock(&l->lock);
	if (!is_finished && l->wd < 0 &&
	    (l->wd = inotify_add_watch(l->ifd, l->dir, IN_MODIFY | IN_CLOSE_WRITE)) < 0) {
		int e = errno;

		pthread_mutex_unlock(&l->lock);
		http_add_header(req, "Retry-After", "5");
		return http_respond_error(req, 503, "cannot watch %s: %s", l->dir, strerror(e));
	}
	f = xcalloc(1, sizeof(*f));
	f->logs = l;
	f->job_id = job_id;
	f->fd = -1;
	f->off = offset;
	f->access = access;
	strbuf_init(&f->out, 0);
	atomic_store(&f->finished, is_finished);
	atomic_store(&f->refs, 2);
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr++] = f;
	f->registered = 1;
	pthread_mutex_unlock(&l->lock);
	if (!is_finished) {
		/*
		 * The job may have finished between the caller's look at it and
		 * the registration above, whose wake this follower missed: look
		 * again now that any later finish will find it registered.
		 */
		struct strbuf err = STRBUF_INIT;
		struct store *st = server_store(srv, &err);
		struct store_job j;

		memset(&j, 0, sizeof(j));
		if (st && store_job_get(st, job_id, &j, &err) == 0 && j.status &&
		    (!strcmp(j.status, "success") || !strcmp(j.status, "failed") ||
		     !strcmp(j.status, "canceled") || !strcmp(j.status, "skipped")))
			atomic_store(&f->finished, 1);
		store_job_release(&j);
		strbuf_release(&err);
	}
	rc = http_respond_stream(req, 200, "text/event-stream", &follower_ops, f, &s);
	pthread_mutex_lock(&l->lock);
	if (f->registered && s) {
		f->stream = s;
		s = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (f->stream)
		http_stream_wake(f->stream);
	http_stream_unref(s);
	follower_unref(f);
	return rc;
}

static void wake(struct logs *l, int64_t job_id, int finish)
{
	size_t i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->nr; i++) {
		struct follower *f = l->v[i];

		if (f->job_id != job_id)
			continue;
		if (finish)
			atomic_store(&f->finished, 1);
		if (f->stream)
			http_stream_wake(f->stream);
	}
	pthread_mutex_unlock(&l->lock);
}

void logs_job_finished(struct server *srv, int64_t job_id)
{
	if (srv->logs)
		wake(srv->logs, job_id, 1);
}

static void *watch_main(void *arg)
{
	struct logs *l = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		struct pollfd p[2] = { { l->ifd, POLLIN, 0 }, { l->stop_fd, POLLIN, 0 } };
		ssize_t n;
		char *e;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(l->ifd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (e = buf; e < buf + n; ) {
			const struct inotify_event *ev = (const struct inotify_event *)e;

			if (ev->len) {
				char *end;
				long long id = strtoll(ev->name, &end, 10);

				if (id > 0 && !strcmp(end, ".log"))
					wake(l, id, 0);
			}
			e += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

int logs_start(struct server *srv, struct strbuf *err)
{
	struct logs *l = xcalloc(1, sizeof(*l));
	int wd = -1;

	l->srv = srv;
	l->dir = xasprintf("%s/logs", srv->data);
	l->wd = -1;
	pthread_mutex_init(&l->lock, NULL);
	l->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* a directory that cannot be watched is said at start, not at a follow */
	if (l->ifd < 0 || l->stop_fd < 0 ||
	    (wd = inotify_add_watch(l->ifd, l->dir, IN_MODIFY | IN_CLOSE_WRITE)) < 0) {
		strbuf_addf(err, "watching %s: %s", l->dir, strerror(errno));
		goto fail;
	}
	inotify_rm_watch(l->ifd, wd);
	if (pthread_create(&l->thread, NULL, watch_main, l)) {
		strbuf_addstr(err, "cannot start the log watcher thread");
		goto fail;
	}
	srv->logs = l;
	return 0;
fail:
	if (l->ifd >= 0)
		close(l->ifd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l->dir);
	free(l);
	return -1;
}

/* After the HTTP server stopped (no follower is left). */
void logs_stop(struct server *srv)
{
	struct logs *l = srv->logs;
	uint64_t one = 1;

	if (!l)
		return;
	if (write(l->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on a fresh eventfd */
	}
	pthread_join(l->thread, NULL);
	close(l->ifd);
	close(l->stop_fd);
	free(l->dir);
	free(l->v);
	pthread_mutex_destroy(&l->lock);
	free(l);
	srv->logs = NULL;
}
