/*
 * The job page (web.h): facts, test report, artifacts, and the log
 * rendered as it is read, in LOG_CHUNK pieces through a streamed
 * response, so that a log of any size is never held whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/ansi.h"
#include "web/page.h"
#include "web/web.h"

#define LOG_CHUNK (64 * 1024)
/*
 * The page shows the last LOG_SHOWN bytes of a longer log, from the
 * first line that starts in them, as GitLab shows the end of a long
 * log (its last 500 KiB): a log at the 64 MiB cap is 100 MB or more of
 * HTML, past what a browser tab renders. The raw log has it all.
 */
#define LOG_SHOWN (4 * 1024 * 1024)
/*
 * Lines a page keeps while it follows a running job (data-max-lines):
 * past them the script takes the oldest off the page, so that a job
 * printing without end does not grow its tab without end.
 */
#define LIVE_LINES_MAX 100000
#define FAILURES_SHOWN 100
#define HISTORY 10
#define ARTIFACTS_SHOWN 1000

struct job_stream {
	int fd;
	uint64_t off, end;       /* log bytes read, bytes to read */
	int finished;            /* the job had finished: render the last line too */
	int done;                /* the tail is in out */
	struct ansi ansi;
	struct strbuf out;       /* rendered bytes not yet sent */
	size_t out_off;
	struct strbuf tail;      /* the page after the log, with {{offset}} left to fill */
	int64_t job_id, pipeline_id;
};

static void stream_free(void *ud)
{
	struct job_stream *s = ud;

	if (s->fd >= 0)
		close(s->fd);
	ansi_release(&s->ansi);
	strbuf_release(&s->out);
	strbuf_release(&s->tail);
	free(s);
}

/* SGR parameters that set g from the default ("" for the default). */
static void sgr_params(const struct ansi_sgr *g, struct strbuf *out)
{
	static const int code[5] = { 1, 2, 3, 4, 7 };
	const unsigned on[5] = { g->bold, g->dim, g->italic, g->underline, g->inverse };
	int i;

	for (i = 0; i < 5; i++)
		if (on[i])
			strbuf_addf(out, "%s%d", out->len ? ";" : "", code[i]);
	for (i = 0; i < 2; i++) {
		int c = i ? g->bg : g->fg, base = i ? 40 : 30;
		uint32_t rgb = i ? g->bg_rgb : g->fg_rgb;

		if (c < 0)
			continue;
		if (out->len)
			strbuf_addch(out, ';');
		if (c < 8)
			strbuf_addf(out, "%d", base + c);
		else if (c < 16)
			strbuf_addf(out, "%d", base + 60 + c - 8);
		else
			strbuf_addf(out, "%d;2;%u;%u;%u", base + 8, (unsigned)(rgb >> 16 & 255),
				    (unsigned)(rgb >> 8 & 255), (unsigned)(rgb & 255));
	}
}

static void stream_tail(struct job_stream *s)
{
	struct strbuf sgr = STRBUF_INIT;
	char id[24], off[24], lines[24], pid[24], max[24];
	uint64_t shown;

	if (s->finished)
		ansi_flush(&s->ansi, &s->out);
	/* open sections: marked so that the live script appends inside them */
	for (; s->ansi.depth > 0; s->ansi.depth--)
		strbuf_addstr(&s->out, "<i class=\"sec-end\"></i></details>");
	shown = s->off - s->ansi.line.len;
	snprintf(id, sizeof(id), "%" PRId64, s->job_id);
	snprintf(pid, sizeof(pid), "%" PRId64, s->pipeline_id);
	snprintf(off, sizeof(off), "%llu", (unsigned long long)shown);
	snprintf(lines, sizeof(lines), "%llu", (unsigned long long)s->ansi.lineno);
	snprintf(max, sizeof(max), "%d", LIVE_LINES_MAX);
	/* the colours in effect where the live script takes over */
	sgr_params(&s->ansi.sgr, &sgr);
	struct tmpl_var v[] = { tmpl_str("id", id), tmpl_str("offset", off),
				tmpl_str("lines", lines), tmpl_str("live", s->finished ? "0" : "1"),
				tmpl_str("pipeline", pid), tmpl_str("sgr", sgr.buf ? sgr.buf : ""),
				tmpl_str("max", max) };
	page_render(&s->out, "job", "tail", v, ARRAY_SIZE(v));
	strbuf_release(&sgr);
	strbuf_add(&s->out, s->tail.buf, s->tail.len);
	s->done = 1;
}

static ssize_t stream_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct job_stream *s = ud;
	size_t n;

	while (s->out.len == s->out_off) {
		char chunk[LOG_CHUNK];
		ssize_t r = 0;
		size_t want;

		if (s->done)
			return -1;
		strbuf_reset(&s->out);
		s->out_off = 0;
		want = s->end - s->off < sizeof(chunk) ? (size_t)(s->end - s->off) : sizeof(chunk);
		if (want && s->fd >= 0) {
			do {
				r = pread(s->fd, chunk, want, (off_t)s->off);
			} while (r < 0 && errno == EINTR);
		}
		if (r > 0) {
			s->off += (uint64_t)r;
			ansi_feed(&s->ansi, chunk, (size_t)r, &s->out);
		} else {
			stream_tail(s);
		}
	}
	n = s->out.len - s->out_off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.buf + s->out_off, n);
	s->out_off += n;
	return (ssize_t)n;
}

/*
 * Start s at the first line that begins in the last LOG_SHOWN bytes of
 * its log, numbering lines as from the log's start (the lines skipped
 * are counted, so each line keeps its anchor); where no line begins
 * there (one long line), at the start of those bytes. 1 if the log was
 * cut.
 */
static int skip_to_tail(struct job_stream *s)
{
	char chunk[LOG_CHUNK];
	uint64_t from, off = 0, lines = 0;
	ssize_t r;
	const char *p, *e;

	if (s->fd < 0 || s->end <= LOG_SHOWN)
		return 0;
	from = s->end - LOG_SHOWN;
	/* count the newlines before from, and find the first one at or after it */
	for (;;) {
		do {
			r = pread(s->fd, chunk, sizeof(chunk), (off_t)off);
		} while (r < 0 && errno == EINTR);
		if (r <= 0)
			break;	/* shorter than it was */
		for (p = chunk, e = chunk + r; (p = memchr(p, '\n', (size_t)(e - p))); p++) {
			uint64_t at = off + (uint64_t)(p - chunk);

			if (at + 1 >= from) {
				if (at + 1 < s->end) {
					s->off = at + 1;
					s->ansi.lineno = lines + 1;
					return 1;
				}
				break;	/* the log's last newline: no line starts after it */
			}
			lines++;
		}
		off += (uint64_t)r;
		if (p || off >= s->end)
			break;
	}
	/* no line starts in the last LOG_SHOWN bytes: show them as they are */
	s->off = from;
	s->ansi.lineno = lines;
	return 1;
}

static const struct http_stream_ops job_stream_ops = {
	.read = stream_read,
	.free = stream_free,
};

static void tests_section(struct page *pg, const struct store_job *j, struct strbuf *out)
{
	struct store_test *t = NULL;
	struct strbuf err = STRBUF_INIT, items = STRBUF_INIT;
	size_t nt = 0, i, k;
	char total[16], passed[16], failed[16], errors[16], skipped[16];

	if (j->tests_total < 0)
		return;
	if (store_tests_list(pg->st, j->id, 1, &t, &nt, &err) == 0) {
		for (i = 0; i < nt && i < FAILURES_SHOWN; i++) {
			struct store_test_run *h = NULL;
			struct strbuf hist = STRBUF_INIT, flaky = STRBUF_INIT;
			size_t nh = 0;
			int pass = 0, fail = 0;

			if (store_test_history(pg->st, j->project_id, t[i].classname, t[i].name, j->id,
					       HISTORY, &h, &nh, &err) == 0) {
				/* oldest first, left to right */
				for (k = nh; k-- > 0;) {
					char p[24];

					snprintf(p, sizeof(p), "%" PRId64, h[k].pipeline_id);
					struct tmpl_var v[] = { tmpl_str("status", h[k].status),
								tmpl_str("pipeline", p) };
					page_render(&hist, "job", "run", v, ARRAY_SIZE(v));
					if (!strcmp(h[k].status, "passed"))
						pass++;
					else if (!strcmp(h[k].status, "failed") ||
						 !strcmp(h[k].status, "error"))
						fail++;
				}
				free(h);
			}
			if (pass && fail)
				page_render(&flaky, "job", "flaky", NULL, 0);
			struct tmpl_var v[] = {
				tmpl_str("status", t[i].status), tmpl_str("name", t[i].name),
				tmpl_str("classname", t[i].classname), tmpl_str("message", t[i].message),
				tmpl_html("history", hist.buf), tmpl_html("flaky", flaky.buf),
			};
			page_render(&items, "job", "failure", v, ARRAY_SIZE(v));
			strbuf_release(&hist);
			strbuf_release(&flaky);
		}
	}
	snprintf(total, sizeof(total), "%d", j->tests_total);
	snprintf(passed, sizeof(passed), "%d",
		 j->tests_total - j->tests_failed - j->tests_errors - j->tests_skipped);
	snprintf(failed, sizeof(failed), "%d", j->tests_failed);
	snprintf(errors, sizeof(errors), "%d", j->tests_errors);
	snprintf(skipped, sizeof(skipped), "%d", j->tests_skipped);
	struct tmpl_var v[] = {
		tmpl_str("total", total), tmpl_str("passed", passed), tmpl_str("failed", failed),
		tmpl_str("errors", errors), tmpl_str("skipped", skipped),
		tmpl_html("items", items.buf),
	};
	page_render(out, "job", "tests", v, ARRAY_SIZE(v));
	store_tests_free(t, nt);
	strbuf_release(&items);
	strbuf_release(&err);
}

/* A path that stays in its folder: relative, no "." or ".." segment, no backslash. */
static int artifact_path_ok(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/' || strchr(p, '\\'))
		return 0;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (!n || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n;
		if (*s)
			s++;
	}
	return 1;
}

/* ---- the artifacts as folders: /jobs/ID/artifacts[/DIR/] ---- */

static void mode_text(char *buf, int mode)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	for (i = 0; i < 9; i++)
		buf[i] = (mode & (0400 >> i)) ? rwx[i] : '-';
	buf[9] = '\0';
}

/* The breadcrumb of dir ("" or "a/b"): links to each folder above it. */
static void crumbs(struct strbuf *out, const char *id, const char *dir)
{
	struct strbuf enc = STRBUF_INIT, upto = STRBUF_INIT;
	const char *s = dir;

	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char *name = xstrndup(s, n);

		strbuf_add(&upto, s, n);
		strbuf_addch(&upto, '/');
		strbuf_reset(&enc);
		page_path_encode(&enc, upto.buf);
		struct tmpl_var v[] = { tmpl_str("id", id), tmpl_html("path", enc.buf),
					tmpl_str("name", name) };
		page_render(out, "job", "crumb", v, ARRAY_SIZE(v));
		free(name);
		s += n;
		if (*s)
			s++;
	}
	strbuf_release(&enc);
	strbuf_release(&upto);
}

/* A folder name that stays in its folder. */
static int name_ok(const char *s, size_t n)
{
	return n && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.') &&
	       !memchr(s, '\\', n);
}

#define FOLDER_BATCH 128

/*
 * The rows of folder dir ("" the top, else a clean path without a
 * trailing slash) of job sid's artifacts: a row per file and one per
 * subfolder (its size and file count from one aggregate), at most
 * ARTIFACTS_SHOWN. Reads the store by path ranges, skipping over each
 * subfolder, so the cost follows the rows shown, not the job's artifacts.
 * 1 with the download's path in redirect when dir is a file; 0; -1 on a
 * store error.
 */
static int folder_rows(struct store *st, int64_t job_id, const char *dir, struct strbuf *rows,
		       struct strbuf *redirect)
{
	struct strbuf prefix = STRBUF_INIT, cursor = STRBUF_INIT, enc = STRBUF_INIT;
	struct strbuf err = STRBUF_INIT, sub = STRBUF_INIT, end = STRBUF_INIT;
	size_t plen = strlen(dir), shown = 0;
	char sid[24];
	int after = 0, rc = 0;

	snprintf(sid, sizeof(sid), "%" PRId64, job_id);
	if (plen) {
		struct store_artifact f;

		memset(&f, 0, sizeof(f));
		if (store_artifact_get(st, job_id, dir, &f, &err) == 0) {
			/* a file, not a folder: its download */
			strbuf_addf(redirect, "/api/v1/jobs/%s/artifacts/", sid);
			page_path_encode(redirect, dir);
			store_artifact_release(&f);
			rc = 1;
			goto done;
		}
		strbuf_addf(&prefix, "%s/", dir);
	}
	strbuf_addstr(&cursor, prefix.buf ? prefix.buf : "");
	while (shown < ARTIFACTS_SHOWN) {
		struct store_artifact *a = NULL;
		size_t n = 0, i;
		int jumped = 0;

		if (store_artifacts_from(st, job_id, cursor.buf ? cursor.buf : "", after,
					 FOLDER_BATCH, &a, &n, &err) < 0) {
			rc = -1;
			break;
		}
		for (i = 0; i < n && shown < ARTIFACTS_SHOWN; i++) {
			const char *rest = a[i].path + prefix.len, *slash;
			char size[32], mode[12];

			if (strncmp(a[i].path, prefix.buf ? prefix.buf : "", prefix.len)) {
				jumped = -1; /* past the folder */
				break;
			}
			slash = strchr(rest, '/');
			strbuf_reset(&enc);
			if (!slash) {
				strbuf_reset(&cursor);
				strbuf_addstr(&cursor, a[i].path);
				after = 1;
				page_bytes(size, sizeof(size), a[i].size);
				if (!artifact_path_ok(a[i].path)) {
					/* listed, never linked */
					struct tmpl_var b[] = { tmpl_str("name", a[i].path),
								tmpl_str("size", size) };
					page_render(rows, "job", "badartifact", b, ARRAY_SIZE(b));
					shown++;
					continue;
				}
				mode_text(mode, a[i].mode);
				page_path_encode(&enc, a[i].path);
				struct tmpl_var v[] = { tmpl_str("id", sid), tmpl_html("path", enc.buf),
							tmpl_str("name", rest), tmpl_str("size", size),
							tmpl_str("mode", mode) };
				page_render(rows, "job", "afile", v, ARRAY_SIZE(v));
				shown++;
				continue;
			}
			/* a subfolder: one row, then on past everything in it ("/" + 1 is "0") */
			strbuf_reset(&sub);
			strbuf_add(&sub, a[i].path, (size_t)(slash - a[i].path));
			strbuf_reset(&end);
			strbuf_addf(&end, "%s0", sub.buf);
			if (name_ok(rest, (size_t)(slash - rest))) {
				int64_t count = 0, total = 0;
				char cnt[40], *name = xstrndup(rest, (size_t)(slash - rest));

				strbuf_addch(&sub, '/');
				if (store_artifacts_sum(st, job_id, sub.buf, end.buf, &count, &total,
							&err) < 0)
					rc = -1;
				page_bytes(size, sizeof(size), total);
				snprintf(cnt, sizeof(cnt), "%" PRId64 " file%s", count,
					 count == 1 ? "" : "s");
				page_path_encode(&enc, sub.buf);
				struct tmpl_var v[] = { tmpl_str("id", sid), tmpl_html("path", enc.buf),
							tmpl_str("name", name), tmpl_str("size", size),
							tmpl_str("count", cnt) };
				page_render(rows, "job", "adir", v, ARRAY_SIZE(v));
				free(name);
				shown++;
			} else {
				struct tmpl_var b[] = { tmpl_str("name", sub.buf), tmpl_str("size", "") };

				page_render(rows, "job", "badartifact", b, ARRAY_SIZE(b));
				shown++;
			}
			strbuf_reset(&cursor);
			strbuf_addstr(&cursor, end.buf);
			after = 0;
			jumped = 1;
			break;
		}
		store_artifacts_free(a, n);
		if (rc < 0 || jumped < 0 || (!jumped && n < FOLDER_BATCH))
			break;
	}
done:
	strbuf_release(&prefix);
	strbuf_release(&cursor);
	strbuf_release(&enc);
	strbuf_release(&sub);
	strbuf_release(&end);
	strbuf_release(&err);
	return rc;
}

/* "expire in 3 days", "expire in 5 min"; "never expire" for 0. */
static void expire_in(char *buf, size_t n, int64_t at)
{
	char in[32];

	if (at <= 0) {
		snprintf(buf, n, "never expire");
		return;
	}
	page_in(in, sizeof(in), at);
	snprintf(buf, n, "expire %s", in);
}

/* The job page's artifacts: their top folder, as on the folder page (or when they expired). */
static void artifacts_section(struct page *pg, const struct store_job *j, struct strbuf *out)
{
	struct strbuf rows = STRBUF_INIT, unused = STRBUF_INIT;
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, j->id);
	if (j->artifacts_expired) {
		char when[64];
		int64_t at = j->artifacts_expire_at ? j->artifacts_expire_at : j->artifacts_expired;
		struct tmpl_var v[] = { tmpl_str("when", when) };

		page_age(when, sizeof(when), at);
		page_render(out, "job", "artexpired", v, ARRAY_SIZE(v));
	} else if (folder_rows(pg->st, j->id, "", &rows, &unused) == 0 && rows.len) {
		char expiry[64];
		struct tmpl_var v[] = { tmpl_str("id", id), tmpl_html("rows", rows.buf),
					tmpl_str("expiry", expiry) };

		expire_in(expiry, sizeof(expiry), j->artifacts_expire_at);

		page_render(out, "job", "artifacts", v, ARRAY_SIZE(v));
	}
	strbuf_release(&rows);
	strbuf_release(&unused);
}

int web_artifacts(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_job j;
	struct store_project pr;
	struct strbuf err = STRBUF_INIT, rows = STRBUF_INIT, body = STRBUF_INIT;
	struct strbuf crumb = STRBUF_INIT, title = STRBUF_INIT, enc = STRBUF_INIT;
	const char *param = http_request_param(req, "path");
	int64_t id = page_id(req, "id");
	char sid[24], *dir = NULL;
	size_t plen;

	memset(&j, 0, sizeof(j));
	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (!id || store_job_get(pg.st, id, &j, &err) < 0) {
		page_error(req, 404, "Not found.");
		goto done;
	}
	if (page_project(&pg, NULL, j.project_id, &pr, NULL) < 0)
		goto done;
	/* the folder: "" or a clean relative path, its trailing slash dropped */
	dir = xstrdup(param ? param : "");
	plen = strlen(dir);
	if (plen && dir[plen - 1] == '/')
		dir[--plen] = '\0';
	if (plen && !artifact_path_ok(dir)) {
		page_error(req, 400, "Not a folder of this job's artifacts.");
		goto done;
	}
	snprintf(sid, sizeof(sid), "%" PRId64, j.id);
	switch (folder_rows(pg.st, j.id, dir, &rows, &enc)) {
	case 1:
		page_redirect(req, enc.buf);
		goto done;
	case -1:
		page_error(req, 500, "The artifacts cannot be read now.");
		goto done;
	default:
		break;
	}
	if (plen && !rows.len) {
		page_error(req, 404, "No such folder in this job's artifacts.");
		goto done;
	}
	crumbs(&crumb, sid, dir);
	{
		struct tmpl_var v[] = { tmpl_str("id", sid), tmpl_str("name", j.name),
					tmpl_str("project", pr.name), tmpl_html("crumbs", crumb.buf),
					tmpl_html("rows", rows.buf) };
		page_render(&body, "job", "folder", v, ARRAY_SIZE(v));
	}
	strbuf_addf(&title, "%s%s · artifacts of %s", dir, plen ? "/" : "", j.name);
	page_send(&pg, 200, title.buf, body.buf);
done:
	free(dir);
	store_job_release(&j);
	store_project_release(&pr);
	strbuf_release(&err);
	strbuf_release(&rows);
	strbuf_release(&body);
	strbuf_release(&crumb);
	strbuf_release(&title);
	strbuf_release(&enc);
	return 0;
}

int web_job(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_job j;
	struct store_project pr;
	struct store_pipeline p;
	struct strbuf err = STRBUF_INIT, head = STRBUF_INIT, status = STRBUF_INIT;
	struct strbuf pstatus = STRBUF_INIT, env = STRBUF_INIT, reason = STRBUF_INIT;
	struct strbuf actions = STRBUF_INIT, tests = STRBUF_INIT, arts = STRBUF_INIT;
	struct strbuf title = STRBUF_INIT, cut = STRBUF_INIT;
	struct job_stream *s;
	enum role role;
	int64_t id = page_id(req, "id");
	char sid[24], pid[24], attempt[16], queued[32], dur[32], run[48], ex[16] = "", mem[32];
	char cpu[32] = "";
	char *path;
	struct stat sb;

	memset(&j, 0, sizeof(j));
	memset(&pr, 0, sizeof(pr));
	memset(&p, 0, sizeof(p));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (!id || store_job_get(pg.st, id, &j, &err) < 0) {
		page_error(req, 404, "Not found.");
		goto done;
	}
	if (page_project(&pg, NULL, j.project_id, &pr, &role) < 0)
		goto done;
	if (store_pipeline_get(pg.st, j.pipeline_id, &p, &err) < 0) {
		page_error(req, 500, err.buf);
		goto done;
	}
	snprintf(sid, sizeof(sid), "%" PRId64, j.id);
	snprintf(pid, sizeof(pid), "%" PRId64, j.pipeline_id);
	snprintf(attempt, sizeof(attempt), "%d", j.attempt);
	page_duration(queued, sizeof(queued), j.queued, j.started ? j.started : 0);
	page_duration(dur, sizeof(dur), j.started, j.finished);
	page_running(run, sizeof(run), j.started, j.finished);
	if (j.exit_code >= 0)
		snprintf(ex, sizeof(ex), "%d", j.exit_code);
	page_bytes(mem, sizeof(mem), j.peak_mem);
	if (j.cpu >= 0)
		snprintf(cpu, sizeof(cpu), "%.2f s", j.cpu);
	page_job_status(&status, &j);
	page_pipeline_status(&pg, &pstatus, &p);
	if (j.env_name) {
		struct strbuf link = STRBUF_INIT;
		struct tmpl_var l[] = { tmpl_str("url", j.env_url) };

		if (j.env_url && tmpl_url_ok(j.env_url))
			page_render(&link, "job", "envlink", l, 1);
		struct tmpl_var v[] = { tmpl_str("name", j.env_name), tmpl_html("link", link.buf) };
		page_render(&env, "job", "env", v, ARRAY_SIZE(v));
		strbuf_release(&link);
	}
	if (j.failure_reason) {
		char why[64];

		page_failure(why, sizeof(why), j.failure_reason);
		if (j.allow_failure && !strcmp(j.status, "failed"))
			snprintf(why + strlen(why), sizeof(why) - strlen(why), "%s",
				 " (allowed to fail)");
		struct tmpl_var v[] = { tmpl_str("reason", why) };

		page_render(&reason, "job", "reason", v, 1);
	}
	if (role >= ROLE_DEVELOPER)
		web_job_actions(&pg, &actions, &j);
	tests_section(&pg, &j, &tests);
	artifacts_section(&pg, &j, &arts);
	strbuf_addf(&title, "%s · #%" PRId64 " · %s", j.name, j.pipeline_id, pr.name);
	page_top(&pg, &head, title.buf);
	s = calloc(1, sizeof(*s));
	if (!s) {
		page_error(req, 500, "out of memory");
		goto done;
	}
	s->job_id = j.id;
	s->pipeline_id = j.pipeline_id;
	s->finished = page_finished(j.status);
	ansi_init(&s->ansi);
	strbuf_init(&s->tail, 0);
	page_bottom(&pg, &s->tail);
	path = server_path(pg.srv, "logs", j.id, ".log");
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (s->fd >= 0 && fstat(s->fd, &sb) == 0)
		s->end = (uint64_t)sb.st_size;
	if (skip_to_tail(s)) {
		char shown[32], size[32];

		page_bytes(shown, sizeof(shown), (int64_t)(s->end - s->off));
		page_bytes(size, sizeof(size), (int64_t)s->end);
		struct tmpl_var v[] = { tmpl_str("id", sid), tmpl_str("shown", shown),
					tmpl_str("size", size) };
		page_render(&cut, "job", "cut", v, ARRAY_SIZE(v));
	}
	{
		struct tmpl_var v[] = {
			tmpl_str("project", pr.name), tmpl_str("pipeline", pid),
			tmpl_html("pstatus", pstatus.buf), tmpl_str("name", j.name),
			tmpl_html("status", status.buf), tmpl_str("stage", j.stage),
			tmpl_str("attempt", attempt), tmpl_str("runner", j.runner),
			tmpl_str("queued", queued), tmpl_str("duration", dur), tmpl_html("run", run), tmpl_str("exit", ex),
			tmpl_str("memory", mem), tmpl_str("cpu", cpu), tmpl_html("env", env.buf),
			tmpl_html("reason", reason.buf), tmpl_html("actions", actions.buf),
			tmpl_html("tests", tests.buf), tmpl_html("artifacts", arts.buf),
			tmpl_str("id", sid), tmpl_html("cut", cut.buf),
		};
		page_render(&head, "job", NULL, v, ARRAY_SIZE(v));
	}
	/* the page starts with the head, then the log as it is now */
	s->out = head;
	strbuf_init(&head, 0);
	page_headers(req);
	http_respond_stream(req, 200, "text/html; charset=utf-8", &job_stream_ops, s, NULL);
done:
	store_job_release(&j);
	store_project_release(&pr);
	store_pipeline_release(&p);
	strbuf_release(&err);
	strbuf_release(&head);
	strbuf_release(&status);
	strbuf_release(&pstatus);
	strbuf_release(&env);
	strbuf_release(&reason);
	strbuf_release(&actions);
	strbuf_release(&tests);
	strbuf_release(&arts);
	strbuf_release(&title);
	strbuf_release(&cut);
	return 0;
}

enum job_op { JOB_CANCEL, JOB_RETRY, JOB_PLAY };

static int job_op(struct http_request *req, void *ud, enum job_op op)
{
	struct page pg;
	struct store_job j;
	struct store_project pr;
	struct strbuf err = STRBUF_INIT;
	int64_t id = page_id(req, "id"), shown;
	char back[64];
	int rc;

	memset(&j, 0, sizeof(j));
	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0)
		return 0;
	if (!id || store_job_get(pg.st, id, &j, &err) < 0) {
		page_error(req, 404, "Not found.");
		goto done;
	}
	if (page_project(&pg, NULL, j.project_id, &pr, NULL) < 0 ||
	    page_may_change(&pg, &pr, ROLE_DEVELOPER) < 0)
		goto done;
	shown = id;
	if (op == JOB_CANCEL)
		rc = runner_cancel_job(pg.srv, pg.st, id, &err);
	else if (op == JOB_RETRY)
		rc = runner_retry_job(pg.srv, pg.st, id, &shown, &err);
	else
		rc = runner_play_job(pg.srv, pg.st, id, &err);
	if (rc < 0) {
		page_error(req, 409, err.len ? err.buf : "That cannot be done now.");
		goto done;
	}
	snprintf(back, sizeof(back), "/jobs/%" PRId64, shown);
	page_redirect(req, back);
done:
	store_job_release(&j);
	store_project_release(&pr);
	strbuf_release(&err);
	return 0;
}

int web_job_cancel(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_CANCEL);
}

int web_job_retry(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_RETRY);
}

int web_job_play(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_PLAY);
}
