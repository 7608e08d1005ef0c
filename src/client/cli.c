/*
 * Shared parts of the client commands; see cli.h.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli.h"
#include "util/spans.h"
#include "util/suggest.h"
#include "util/xalloc.h"

int cli_conn_opt(int c, const char *arg, struct client_opts *o)
{
	if (c == CLI_OPT_SERVER)
		o->server = arg;
	else if (c == CLI_OPT_TOKEN)
		o->token = arg;
	else
		return 0;
	return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cidre %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nsee 'cidre %s -h'\n", cmd);
	return CLI_USAGE;
}

int cli_bad_option(const char *cmd, const char *arg, const struct option *opts)
{
	const char *best = suggest_long_option(arg, opts);

	if (best)
		return cli_usage_error(cmd, "unknown or incomplete option '%s'; did you "
				       "mean '--%s'?", arg, best);
	return cli_usage_error(cmd, "unknown or incomplete option '%s'", arg);
}

int cli_open(struct client *c, const struct client_opts *o)
{
	struct strbuf err = STRBUF_INIT;
	int rc = client_open(c, o, &err);

	if (rc) {
		fprintf(stderr, "cidre: %s\n", err.buf);
		strbuf_release(&err);
		client_close(c);
		return CLI_USAGE;
	}
	strbuf_release(&err);
	return 0;
}

int cli_report(int rc, const struct strbuf *err)
{
	if (rc && err->len)
		fprintf(stderr, "cidre: %s\n", err->buf);
	return client_exit_code(rc);
}

int cli_parse_id(const char *s, int64_t *ret)
{
	char *end;
	long long n;

	if (*s == '#')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end || errno || n <= 0)
		return -1;
	*ret = n;
	return 0;
}

/* ---- reading the API's objects ---------------------------------------- */

const char *cli_str(const json_t *o, const char *key, const char *def)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t cli_int(const json_t *o, const char *key, int64_t def)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return def;
}

int cli_num(const json_t *o, const char *key, double *ret)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	if (!json_is_number(v))
		return -1;
	*ret = json_number_value(v);
	return 0;
}

void cli_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cli_status_final(const char *s)
{
	return !strcmp(s, "success") || !strcmp(s, "failed") ||
	       !strcmp(s, "canceled") || !strcmp(s, "skipped");
}

void cli_job_status(struct strbuf *out, const json_t *job)
{
	const char *st = cli_str(job, "status", "?");
	const char *reason = cli_str(job, "failure_reason", NULL);

	strbuf_addstr(out, st);
	if (json_is_true(json_object_get(job, "allow_failure")) && !strcmp(st, "failed"))
		strbuf_addstr(out, " (allowed)");
	if (cli_int(job, "attempt", 1) > 1)
		strbuf_addf(out, " x%" PRId64, cli_int(job, "attempt", 1));
	if (reason && strcmp(reason, "script_failure"))
		strbuf_addf(out, " (%s)", reason);
}

/* ---- formatting ------------------------------------------------------- */

static int digits(const char *s, int n, int *ret)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

int cli_parse_time(const char *s, double *ret)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh, om;
	double frac = 0, scale = 0.1;
	time_t t;

	if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if ((*s == 'Z' || *s == 'z') && !s[1]) {
		*ret = (double)t + frac;
		return 0;
	}
	if ((*s == '+' || *s == '-') && !digits(s + 1, 2, &oh) && s[3] == ':' &&
	    !digits(s + 4, 2, &om) && !s[6] && oh < 24 && om < 60) {
		double off = oh * 3600.0 + om * 60.0;

		*ret = (double)t + frac + (*s == '+' ? -off : off);
		return 0;
	}
	return -1;
}

void cli_fmt_duration(struct strbuf *out, double s)
{
	long long n;

	if (s < 0 || isnan(s))
		strbuf_addstr(out, "-");
	else if (s < 10)
		strbuf_addf(out, "%.2fs", s);
	else if (s < 60)
		strbuf_addf(out, "%.1fs", s);
	else if (s < 3600) {
		n = (long long)(s + 0.5);
		strbuf_addf(out, "%lldm%02llds", n / 60, n % 60);
	} else {
		n = (long long)(s / 60 + 0.5);
		strbuf_addf(out, "%lldh%02lldm", n / 60, n % 60);
	}
}

void cli_fmt_bytes(struct strbuf *out, double b)
{
	if (b < 0 || isnan(b))
		strbuf_addstr(out, "-");
	else if (b < 1024)
		strbuf_addf(out, "%.0f B", b);
	else if (b < 1024.0 * 1024)
		strbuf_addf(out, "%.0f KB", b / 1024.0);
	else if (b < 1024.0 * 1024 * 1024)
		strbuf_addf(out, "%.1f MB", b / (1024.0 * 1024));
	else
		strbuf_addf(out, "%.2f GB", b / (1024.0 * 1024 * 1024));
}

void cli_fmt_age(struct strbuf *out, const char *when, time_t now)
{
	double t;
	long long d;

	if (!when || cli_parse_time(when, &t) < 0) {
		strbuf_addstr(out, "-");
		return;
	}
	d = (long long)((double)now - t);
	if (d < 0)
		d = 0;
	if (d < 60)
		strbuf_addf(out, "%llds ago", d);
	else if (d < 3600)
		strbuf_addf(out, "%lldm ago", d / 60);
	else if (d < 86400)
		strbuf_addf(out, "%lldh ago", d / 3600);
	else
		strbuf_addf(out, "%lldd ago", d / 86400);
}

/* ---- tables ----------------------------------------------------------- */

void cli_table_init(struct cli_table *t, const char *align)
{
	t->align = align;
	t->ncols = strlen(align);
	strvec_init(&t->cells);
}

void cli_table_head(struct cli_table *t, const char *align, ...)
{
	const char *title;
	va_list ap;

	cli_table_init(t, align);
	va_start(ap, align);
	while ((title = va_arg(ap, const char *)))
		cli_table_add(t, title);
	va_end(ap);
}

void cli_table_add(struct cli_table *t, const char *cell)
{
	strvec_push(&t->cells, cell ? cell : "");
}

void cli_table_addf(struct cli_table *t, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strvec_push_nodup(&t->cells, strbuf_detach(&sb, NULL));
}

/* Characters (not bytes) of a UTF-8 string. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(*w));
	struct strbuf line = STRBUF_INIT;
	size_t i, col;

	for (i = 0; i < t->cells.nr; i++) {
		size_t n = text_width(t->cells.v[i]);

		if (n > w[i % t->ncols])
			w[i % t->ncols] = n;
	}
	for (i = 0; i < t->cells.nr; i++) {
		const char *cell = t->cells.v[i];
		size_t pad;

		col = i % t->ncols;
		pad = w[col] - text_width(cell);
		if (t->align[col] == 'r')
			strbuf_addf(&line, "%*s", (int)pad, "");
		strbuf_addstr(&line, cell);
		if (col + 1 == t->ncols || i + 1 == t->cells.nr) {
			strbuf_rtrim(&line);
			strbuf_addch(&line, '\n');
			fputs(line.buf, f);
			strbuf_reset(&line);
			continue;
		}
		if (t->align[col] != 'r')
			strbuf_addf(&line, "%*s", (int)pad, "");
		strbuf_addstr(&line, "  ");
	}
	strbuf_release(&line);
	free(w);
}

void cli_table_release(struct cli_table *t)
{
	strvec_clear(&t->cells);
}

void cli_print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		free(s);
	}
}

int cli_list(struct client *c, const char *path, const char *what, int json,
	     const char *empty, json_t **ret, int *rc)
{
	struct strbuf err = STRBUF_INIT;
	int r = client_get_array(c, path, what, ret, &err);

	*rc = CLI_OK;
	if (r) {
		*rc = cli_report(r, &err);
		strbuf_release(&err);
		return 0;
	}
	strbuf_release(&err);
	if (json)
		cli_print_json(*ret);
	else if (!json_array_size(*ret) && empty)
		fputs(empty, stdout);
	else
		return 1;
	json_decref(*ret);
	*ret = NULL;
	return 0;
}

static void add_duration(struct cli_table *t, const json_t *o)
{
	struct strbuf sb = STRBUF_INIT;
	double d;

	if (cli_num(o, "duration", &d) < 0)
		d = -1;
	cli_fmt_duration(&sb, d);
	cli_table_add(t, sb.buf);
	strbuf_release(&sb);
}

static void tests_text(struct strbuf *out, const json_t *job)
{
	const json_t *t = json_object_get(job, "tests");
	int64_t total, failed, skipped, errors;

	if (!json_is_object(t))
		return;
	total = cli_int(t, "total", 0);
	failed = cli_int(t, "failed", 0) ;
	errors = cli_int(t, "errors", 0);
	skipped = cli_int(t, "skipped", 0);
	strbuf_addf(out, "%" PRId64 " passed, %" PRId64 " failed",
		    total - failed - errors - skipped, failed + errors);
	if (skipped)
		strbuf_addf(out, ", %" PRId64 " skipped", skipped);
}

/*
 * A running pipeline's time so far, as its duration will count it: the
 * union of its jobs' runs, each from its start for its duration (the
 * server's, so far for a running job: no clock of ours in it). -1 when
 * no job has started.
 */
static double so_far(const json_t *jobs)
{
	size_t n = json_is_array(jobs) ? json_array_size(jobs) : 0, k = 0, i;
	struct span *v = xcalloc(n ? n : 1, sizeof(*v));
	const json_t *job;
	double total;

	json_array_foreach(jobs, i, job) {
		double b, d;

		if (cli_parse_time(cli_str(job, "started_at", NULL), &b) < 0 ||
		    cli_num(job, "duration", &d) < 0 || d < 0)
			continue;
		v[k].b = b;
		v[k++].e = b + d;
	}
	total = k ? spans_union(v, k) : -1;
	free(v);
	return total;
}

int cli_allowed_failed(const json_t *jobs)
{
	const json_t *job;
	size_t i;
	int n = 0;

	json_array_foreach(jobs, i, job)
		n += json_is_true(json_object_get(job, "allow_failure")) &&
		     !strcmp(cli_str(job, "status", ""), "failed");
	return n;
}

void cli_print_pipeline(const json_t *p, FILE *f, time_t now)
{
	const json_t *jobs = json_object_get(p, "jobs"), *job;
	const char *sha = cli_str(p, "sha", "");
	const char *status = cli_str(p, "status", "?");
	struct strbuf sb = STRBUF_INIT;
	struct cli_table t;
	size_t i;
	double d;

	fprintf(f, "pipeline %" PRId64 "  %s  %s%s  %.8s  %s  %s%s", cli_int(p, "id", 0),
		cli_str(p, "project", "?"), cli_str(p, "ref", "?"),
		json_is_true(json_object_get(p, "tag")) ? " (tag)" : "", sha,
		cli_str(p, "source", "?"), status,
		!strcmp(status, "success") && cli_allowed_failed(jobs) ? " with warnings" : "");
	if (cli_num(p, "duration", &d) == 0) {
		cli_fmt_duration(&sb, d);
		fprintf(f, "  in %s", sb.buf);
		strbuf_reset(&sb);
	} else if (!strcmp(cli_str(p, "status", ""), "running") &&
		   (d = so_far(jobs)) >= 0) {
		cli_fmt_duration(&sb, d);
		fprintf(f, "  %s so far", sb.buf);
		strbuf_reset(&sb);
	}
	cli_fmt_age(&sb, cli_str(p, "created_at", NULL), now);
	fprintf(f, "  created %s\n", sb.buf);
	strbuf_reset(&sb);
	if (cli_str(p, "error", NULL))
		fprintf(f, "error: %s\n", cli_str(p, "error", ""));
	if (!json_is_array(jobs) || !json_array_size(jobs)) {
		strbuf_release(&sb);
		return;
	}
	fputc('\n', f);
	cli_table_init(&t, "rlllrrrl");
	cli_table_add(&t, "JOB");
	cli_table_add(&t, "NAME");
	cli_table_add(&t, "STAGE");
	cli_table_add(&t, "STATUS");
	cli_table_add(&t, "DURATION");
	cli_table_add(&t, "PEAK MEM");
	cli_table_add(&t, "EXIT");
	cli_table_add(&t, "TESTS");
	json_array_foreach(jobs, i, job) {
		const json_t *ec = json_object_get(job, "exit_code");

		cli_table_addf(&t, "%" PRId64, cli_int(job, "id", 0));
		cli_table_add(&t, cli_str(job, "name", "?"));
		cli_table_add(&t, cli_str(job, "stage", ""));
		cli_job_status(&sb, job);
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
		add_duration(&t, job);
		if (cli_num(job, "peak_memory", &d) < 0 || d <= 0)
			d = -1;
		cli_fmt_bytes(&sb, d);
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
		if (json_is_integer(ec))
			cli_table_addf(&t, "%" PRId64, (int64_t)json_integer_value(ec));
		else
			cli_table_add(&t, "-");
		tests_text(&sb, job);
		cli_table_add(&t, sb.buf);
		strbuf_reset(&sb);
	}
	cli_table_print(&t, f);
	cli_table_release(&t);
	strbuf_release(&sb);
}

/* ---- artifact paths --------------------------------------------------- */

void cli_project_path(struct strbuf *p, const char *project, const char *what,
		      const char *item, int keep_slash)
{
	strbuf_addstr(p, "/api/v1/projects/");
	client_escape(p, project, 0);
	strbuf_addf(p, "/%s", what);
	if (item) {
		strbuf_addch(p, '/');
		client_escape(p, item, keep_slash);
	}
}

int cli_path_safe(const char *path)
{
	const char *p = path, *slash;
	size_t len;

	if (!*path || *path == '/' || strlen(path) > 4096)
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (!len || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!slash)
			break;
		p = slash + 1;
	}
	for (p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	return 1;
}

/* ---- retry, cancel, play ---------------------------------------------- */

int cli_job_action(int argc, char **argv, const char *action, int pipeline_too)
{
	static const struct option longopts[] = {
		{ "pipeline", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'J' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct client_opts copts = { NULL, NULL };
	struct client c = CLIENT_INIT;
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *res = NULL;
	int pipeline = 0, json = 0, ch, rc;
	int64_t id;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, pipeline_too ? "p" : "", longopts,
				 NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &copts))
			continue;
		switch (ch) {
		case 'p':
			if (!pipeline_too)
				return cli_usage_error(action, "-p: only jobs can be %sed",
						       action);
			pipeline = 1;
			break;
		case 'J':
			json = 1;
			break;
		default:
			return cli_bad_option(action, argv[optind - 1], longopts);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(action, "wants one %s id",
				       pipeline ? "pipeline" : "job");
	if (cli_parse_id(argv[optind], &id) < 0)
		return cli_usage_error(action, "'%s' is not a %s id", argv[optind],
				       pipeline ? "pipeline" : "job");
	rc = cli_open(&c, &copts);
	if (rc)
		return rc;
	strbuf_addf(&path, "/api/v1/%s/%" PRId64 "/%s", pipeline ? "pipelines" : "jobs",
		    id, action);
	rc = client_request(&c, "POST", path.buf, NULL, &res, &err);
	if (rc) {
		rc = cli_report(rc, &err);
		goto done;
	}
	if (json) {
		cli_print_json(res);
	} else if (pipeline) {
		printf("pipeline %" PRId64 ": %s requested\n", id, action);
	} else {
		int64_t new_id = cli_int(res, "id", id);
		const char *status = cli_str(res, "status", NULL);

		if (new_id != id)
			printf("job %" PRId64 " (%s, attempt %" PRId64 ") retries job %"
			       PRId64 ": %s\n", new_id, cli_str(res, "name", "?"),
			       cli_int(res, "attempt", 1), id, status ? status : "created");
		else if (status)
			printf("job %" PRId64 " (%s) is %s\n", id,
			       cli_str(res, "name", "?"), status);
		else
			printf("job %" PRId64 ": %s requested\n", id, action);
	}
done:
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&err);
	client_close(&c);
	return rc;
}

/* ---- include:project for cidre run and cidre lint -------------------- */

static int append_sink(void *ctx, const char *buf, size_t len)
{
	strbuf_add(ctx, buf, len);
	return 0;
}

int cli_project_file(void *ud, const char *project, const char *ref, const char *file,
		     size_t max, struct strbuf *out, struct strbuf *err)
{
	/* opened at the first include, kept for the rest of the run */
	static struct client c = CLIENT_INIT;
	static struct strbuf why = STRBUF_INIT;
	static int state;       /* 0 not yet, 1 open, -1 no server */
	struct strbuf path = STRBUF_INIT;
	int rc;

	(void)ud;
	if (!state) {
		struct client_opts o = { NULL, NULL };

		state = client_open(&c, &o, &why) ? -1 : 1;
	}
	if (state < 0) {
		strbuf_addf(err, "files of other projects are read from a cidre server, and "
			    "there is none: %s", why.buf);
		return -1;
	}
	strbuf_addstr(&path, "/api/v1/files?project=");
	client_escape(&path, project, 0);
	strbuf_addstr(&path, "&path=");
	client_escape(&path, file, 1);
	if (ref) {
		strbuf_addstr(&path, "&ref=");
		client_escape(&path, ref, 0);
	}
	rc = client_get_stream(&c, path.buf, max, append_sink, out, err);
	strbuf_release(&path);
	if (rc && !err->len)
		strbuf_addstr(err, "the server did not give it");
	return rc ? -1 : 0;
}
