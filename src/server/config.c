/*
 * The server's configuration file (see config.h).
 */
#include "server/config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/model.h"
#include "pipeline/yaml.h"
#include "util/diag.h"
#include "util/xalloc.h"

#define CONFIG_MAX_FILE (1024 * 1024)

void server_config_defaults(struct server_config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = xstrdup("127.0.0.1:8080");
	c->runner_name = xstrdup("embedded");
	c->slots = 2;
	c->max_request_body = 1024 * 1024;
	c->max_log = 64u << 20;
	c->max_queue = 10000;
	c->max_connections = 1024;
	c->max_per_client = 256;
	c->max_pipelines_per_push = 20;
	c->max_artifacts = (size_t)1 << 30;
	c->poll_min_interval = 10;
	c->schedules_min_interval = 60;
	c->schedules_max_per_project = 100;
	c->notify_retry_base_ms = 5000;
	c->notify_attempts = 6;
	c->events_backlog = 256;	/* ~0.5 KB each: ~0.13 MB when full (1024 held ~0.5 MB) */
	c->artifacts_expire_s = 30LL * 86400;	/* GitLab's default */
	c->artifacts_keep_latest = 1;
	c->retention_interval = 600;
	c->retention_grace_s = 3600;
	c->audit_keep_days = 365;
	c->exec.sandbox = 0;
	c->exec.host_fallback = 0;
	c->exec.network = 0;
	c->exec.uid = c->exec.gid = -1;
	c->exec.pool = 1;
}

void server_config_exec(const struct server_config *c, const char *project,
			struct server_exec *out)
{
	int i;

	*out = c->exec;
	for (i = 0; i < c->exec_projects_nr; i++) {
		const struct server_exec *p = &c->exec_projects[i];

		if (strcmp(p->project, project))
			continue;
		if (p->sandbox >= 0)
			out->sandbox = p->sandbox;
		if (p->host_fallback >= 0)
			out->host_fallback = p->host_fallback;
		if (p->network >= 0)
			out->network = p->network;
		if (p->pool >= 0)
			out->pool = p->pool;
		if (p->memory)
			out->memory = p->memory;
		if (p->pids)
			out->pids = p->pids;
		if (p->cpus)
			out->cpus = p->cpus;
		if (p->uid >= 0)
			out->uid = p->uid;
		if (p->gid >= 0)
			out->gid = p->gid;
		if (p->pull_policy)
			out->pull_policy = p->pull_policy;
	}
}

void server_config_release(struct server_config *c)
{
	if (!c)
		return;
	free(c->listen);
	free(c->store);
	free(c->runner_name);
	free(c->public_url);
	free(c->smtp_url);
	free(c->smtp_from);
	free(c->smtp_username);
	free(c->smtp_password);
	free(c->images);
	free(c->include_remote);
	memset(c, 0, sizeof(*c));
}

int server_parse_size(const char *s, size_t *ret)
{
	char *end;
	unsigned long long n, mul = 1;

	errno = 0;
	if (!*s || *s == '-')
		return -1;
	n = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	while (*end == ' ')
		end++;
	if (!*end || !strcmp(end, "B"))
		mul = 1;
	else if (!strcmp(end, "k") || !strcmp(end, "K") || !strcmp(end, "KiB") || !strcmp(end, "KB"))
		mul = 1024;
	else if (!strcmp(end, "M") || !strcmp(end, "MiB") || !strcmp(end, "MB"))
		mul = 1024 * 1024;
	else if (!strcmp(end, "G") || !strcmp(end, "GiB") || !strcmp(end, "GB"))
		mul = 1024ull * 1024 * 1024;
	else
		return -1;
	if (n > (unsigned long long)SIZE_MAX / mul)
		return -1;
	*ret = (size_t)(n * mul);
	return 0;
}

struct cfg_ctx {
	struct diag *d;
	struct server_config *c;
};

static const char *scalar(struct cfg_ctx *x, const struct ynode *n, const char *key)
{
	if (!n || n->type != YNODE_SCALAR || ynode_is_null(n)) {
		diag_error(x->d, n ? &n->pos : NULL, "%s: a value is needed", key);
		return NULL;
	}
	return n->str;
}

static void set_str(struct cfg_ctx *x, const struct ynode *n, const char *key, char **dst)
{
	const char *s = scalar(x, n, key);

	if (!s)
		return;
	if (!*s || strlen(s) > 4096) {
		diag_error(x->d, &n->pos, "%s: must be 1 to 4096 characters", key);
		return;
	}
	free(*dst);
	*dst = xstrdup(s);
}

static void set_int(struct cfg_ctx *x, const struct ynode *n, const char *key, int lo,
		    int hi, int *dst)
{
	const char *s = scalar(x, n, key);
	char *end;
	long v;

	if (!s)
		return;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		diag_error(x->d, &n->pos, "%s: must be a whole number from %d to %d", key, lo, hi);
		return;
	}
	*dst = (int)v;
}

static void set_size(struct cfg_ctx *x, const struct ynode *n, const char *key,
		     size_t lo, size_t *dst)
{
	const char *s = scalar(x, n, key);
	size_t v;

	if (!s)
		return;
	if (server_parse_size(s, &v) < 0 || v < lo) {
		diag_error(x->d, &n->pos, "%s: must be a size of at least %zu bytes "
			   "(e.g. 512, 64KiB, 16MiB, 1GiB)", key, lo);
		return;
	}
	*dst = v;
}

/* "200ms", "5s", "2m", or seconds; at least 1 ms, at most a day. */
static void set_ms(struct cfg_ctx *x, const struct ynode *n, const char *key, int *dst)
{
	const char *s = scalar(x, n, key);
	char *end;
	double v, mul = 1000;

	if (!s)
		return;
	errno = 0;
	v = strtod(s, &end);
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (*end && strcmp(end, "s"))
		v = -1;
	if (errno || end == s || v < 0 || v * mul < 1 || v * mul > 86400000.0) {
		diag_error(x->d, &n->pos, "%s: must be a duration from 1ms to 24h (e.g. 200ms, "
			   "5s, 2m)", key);
		return;
	}
	*dst = (int)(v * mul);
}

/*
 * A GitLab duration ("30 days", "1 week", "1h 30m", "3600"; "never" when
 * never_ok: *dst = -1) of at most max seconds.
 */
static void set_duration(struct cfg_ctx *x, const struct ynode *n, const char *key,
			 int never_ok, long long max, long long *dst)
{
	const char *s = scalar(x, n, key);
	long v;

	if (!s)
		return;
	if (never_ok && !strcmp(s, "never")) {
		*dst = -1;
		return;
	}
	v = pipeline_parse_duration(s);
	if (v < 0 || v > max) {
		diag_error(x->d, &n->pos, "%s: must be a duration like \"30 days\", \"1h 30m\" "
			   "or a number of seconds, at most %lld seconds%s", key, max,
			   never_ok ? ", or never" : "");
		return;
	}
	*dst = v;
}

/* A number of days from 0 to 100000; fractions allowed. */
static void set_days(struct cfg_ctx *x, const struct ynode *n, const char *key, double *dst)
{
	const char *s = scalar(x, n, key);
	char *end;
	double v;

	if (!s)
		return;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 100000)) {
		diag_error(x->d, &n->pos, "%s: must be a number of days from 0 to 100000 "
			   "(0: forever; fractions allowed, e.g. 0.5)", key);
		return;
	}
	*dst = v;
}

/* A URL with one of the schemes (", "-separated in the message). */
static void set_url(struct cfg_ctx *x, const struct ynode *n, const char *key,
		    const char *const *schemes, char **dst)
{
	const char *s = scalar(x, n, key);
	size_t i, k;

	if (!s)
		return;
	for (i = 0; schemes[i]; i++) {
		k = strlen(schemes[i]);
		if (!strncmp(s, schemes[i], k) && s[k] && s[k] != '/' && strlen(s) <= 2048 &&
		    !strpbrk(s, " \t\r\n"))
			break;
	}
	if (!schemes[i]) {
		struct strbuf m = STRBUF_INIT;

		for (i = 0; schemes[i]; i++)
			strbuf_addf(&m, "%s%s...", i ? " or " : "", schemes[i]);
		diag_error(x->d, &n->pos, "%s: must be a URL %s", key, m.buf);
		strbuf_release(&m);
		return;
	}
	free(*dst);
	*dst = xstrdup(s);
}

static int is_map(struct cfg_ctx *x, const struct ynode *n, const char *key)
{
	if (n && n->type == YNODE_MAP)
		return 1;
	diag_error(x->d, n ? &n->pos : NULL, "%s: must be a map", key);
	return 0;
}

static const char *const http_schemes[] = { "http://", "https://", NULL };
static const char *const smtp_schemes[] = { "smtp://", "smtps://", NULL };
/* include_remote: a list of http(s) URL prefixes ([] refuses every URL) */
#define CONFIG_MAX_REMOTE 100
static void set_remote(struct cfg_ctx *x, const struct ynode *n, struct server_config *c)
{
	struct strbuf all = STRBUF_INIT;
	size_t i;
	int nr = 0;

	if (n->type != YNODE_SEQ || n->nr > CONFIG_MAX_REMOTE) {
		diag_error(x->d, &n->pos, "include_remote: must be a list of at most %d "
			   "URL prefixes (http:// or https://)", CONFIG_MAX_REMOTE);
		return;
	}
	for (i = 0; i < n->nr; i++) {
		char *u = NULL;

		set_url(x, n->items[i], "include_remote", http_schemes, &u);
		if (!u)
			continue;
		strbuf_add(&all, u, strlen(u) + 1);
		nr++;
		free(u);
	}
	free(c->include_remote);
	c->include_remote = strbuf_detach(&all, NULL);
	c->include_remote_nr = nr;
	c->include_remote_set = 1;
}

int server_config_remote_ok(const struct server_config *c, const char *url,
			    struct strbuf *err)
{
	const char *p = c->include_remote;
	int i;

	if (!c->include_remote_set)
		return 0;
	for (i = 0; i < c->include_remote_nr; i++, p += strlen(p) + 1) {
		size_t n = strlen(p);
		const char *host = strstr(p, "://");

		if (strncmp(url, p, n))
			continue;
		/* a prefix that is a host alone ends there: not host.evil */
		if (host && !strchr(host + 3, '/') && url[n] && !strchr("/:?#", url[n]))
			continue;
		return 0;
	}
	strbuf_addstr(err, c->include_remote_nr ?
		      "not under a URL the server's include_remote allows" :
		      "the server's include_remote allows no URL");
	return -1;
}

static void set_bool(struct cfg_ctx *x, const struct ynode *n, const char *key, int *dst)
{
	const char *s = scalar(x, n, key);

	if (!s)
		return;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*dst = 1;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*dst = 0;
	else
		diag_error(x->d, &n->pos, "%s: must be true or false", key);
}

/* executor: or projects.NAME: into e. */
static void exec_section(struct cfg_ctx *x, const char *where, const struct ynode *m,
			 struct server_exec *e)
{
	size_t i;
	char key[300];

	if (!is_map(x, m, where))
		return;
	for (i = 0; i < m->pairs_nr; i++) {
		const char *k = m->pairs[i].key;
		const struct ynode *v = m->pairs[i].val;
		const char *sv;

		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "executor")) {
			if (!(sv = scalar(x, v, key)))
				continue;
			if (!strcmp(sv, "shell") || !strcmp(sv, "sandbox"))
				e->sandbox = !strcmp(sv, "sandbox");
			else
				diag_error(x->d, &v->pos, "%s: must be shell or sandbox", key);
		} else if (!strcmp(k, "host_fallback")) {
			set_bool(x, v, key, &e->host_fallback);
		} else if (!strcmp(k, "network")) {
			set_bool(x, v, key, &e->network);
		} else if (!strcmp(k, "pool")) {
			set_bool(x, v, key, &e->pool);
		} else if (!strcmp(k, "pull_policy")) {
			if (!(sv = scalar(x, v, key)))
				continue;
			if (!strcmp(sv, "always"))
				e->pull_policy = JOB_PULL_ALWAYS | JOB_PULL_IF_NOT_PRESENT;
			else if (!strcmp(sv, "if-not-present"))
				e->pull_policy = JOB_PULL_IF_NOT_PRESENT;
			else if (!strcmp(sv, "never"))
				e->pull_policy = JOB_PULL_NEVER;
			else
				diag_error(x->d, &v->pos, "%s: must be always, "
					   "if-not-present or never", key);
		} else if (!strcmp(k, "memory")) {
			size_t b = 0;

			set_size(x, v, key, 4u << 20, &b);
			if (b)
				e->memory = (long long)b;
		} else if (!strcmp(k, "pids")) {
			int n = 0;

			set_int(x, v, key, 1, 4194304, &n);
			e->pids = n;
		} else if (!strcmp(k, "uid")) {
			set_int(x, v, key, 0, 2147483646, &e->uid);
		} else if (!strcmp(k, "gid")) {
			set_int(x, v, key, 0, 2147483646, &e->gid);
		} else if (!strcmp(k, "cpus")) {
			char *end;
			double d;

			if (!(sv = scalar(x, v, key)))
				continue;
			d = strtod(sv, &end);
			if (*end || end == sv || !(d >= 0.01 && d <= 1024))
				diag_error(x->d, &v->pos, "%s: must be a number of CPUs "
					   "from 0.01 to 1024", key);
			else
				e->cpus = d;
		} else {
			diag_error(x->d, &m->pairs[i].key_pos, "unknown setting %s", key);
		}
	}
}

static void projects_section(struct cfg_ctx *x, const struct ynode *m)
{
	struct server_config *c = x->c;
	size_t i;

	if (!is_map(x, m, "projects"))
		return;
	c->exec_projects_nr = 0;
	for (i = 0; i < m->pairs_nr; i++) {
		struct server_exec *e;
		char where[200];

		if (c->exec_projects_nr >= SERVER_MAX_EXEC_PROJECTS ||
		    strlen(m->pairs[i].key) >= sizeof(e->project)) {
			diag_error(x->d, &m->pairs[i].key_pos, "projects: at most %d "
				   "projects, names up to %zu characters",
				   SERVER_MAX_EXEC_PROJECTS, sizeof(e->project) - 1);
			continue;
		}
		e = &c->exec_projects[c->exec_projects_nr++];
		memset(e, 0, sizeof(*e));
		e->sandbox = e->host_fallback = e->network = e->pool = -1;
		e->uid = e->gid = -1;
		strcpy(e->project, m->pairs[i].key);
		snprintf(where, sizeof(where), "projects.%s", e->project);
		exec_section(x, where, m->pairs[i].val, e);
	}
}

static void section(struct cfg_ctx *x, const char *name, const struct ynode *m)
{
	struct server_config *c = x->c;
	size_t i;

	if (!is_map(x, m, name))
		return;
	for (i = 0; i < m->pairs_nr; i++) {
		const char *k = m->pairs[i].key;
		const struct ynode *v = m->pairs[i].val;

		if (!strcmp(name, "runner") && !strcmp(k, "slots"))
			set_int(x, v, "runner.slots", 1, 256, &c->slots);
		else if (!strcmp(name, "runner") && !strcmp(k, "name"))
			set_str(x, v, "runner.name", &c->runner_name);
		else if (!strcmp(name, "http") && !strcmp(k, "threads"))
			set_int(x, v, "http.threads", 0, 256, &c->http_threads);
		else if (!strcmp(name, "limits") && !strcmp(k, "request_body"))
			set_size(x, v, "limits.request_body", 1024, &c->max_request_body);
		else if (!strcmp(name, "limits") && !strcmp(k, "log_size"))
			set_size(x, v, "limits.log_size", 1024, &c->max_log);
		else if (!strcmp(name, "limits") && !strcmp(k, "artifacts_size"))
			set_size(x, v, "limits.artifacts_size", 0, &c->max_artifacts);
		else if (!strcmp(name, "limits") && !strcmp(k, "connections"))
			set_int(x, v, "limits.connections", 1, 100000, &c->max_connections);
		else if (!strcmp(name, "limits") && !strcmp(k, "connections_per_client"))
			set_int(x, v, "limits.connections_per_client", 1, 100000,
				&c->max_per_client);
		else if (!strcmp(name, "limits") && !strcmp(k, "queue_length"))
			set_int(x, v, "limits.queue_length", 1, 10000000, &c->max_queue);
		else if (!strcmp(name, "limits") && !strcmp(k, "pipelines_per_push"))
			set_int(x, v, "limits.pipelines_per_push", 1, 10000,
				&c->max_pipelines_per_push);
		else if (!strcmp(name, "poll") && !strcmp(k, "min_interval"))
			set_int(x, v, "poll.min_interval", 1, 86400, &c->poll_min_interval);
		else if (!strcmp(name, "schedules") && !strcmp(k, "min_interval"))
			set_int(x, v, "schedules.min_interval", 60, 31 * 86400,
				&c->schedules_min_interval);
		else if (!strcmp(name, "schedules") && !strcmp(k, "max_per_project"))
			set_int(x, v, "schedules.max_per_project", 0, 100000,
				&c->schedules_max_per_project);
		else if (!strcmp(name, "smtp") && !strcmp(k, "url"))
			set_url(x, v, "smtp.url", smtp_schemes, &c->smtp_url);
		else if (!strcmp(name, "smtp") && !strcmp(k, "from")) {
			set_str(x, v, "smtp.from", &c->smtp_from);
			if (c->smtp_from && (!strchr(c->smtp_from, '@') ||
					     strpbrk(c->smtp_from, " \t\r\n<>"))) {
				diag_error(x->d, &v->pos, "smtp.from: must be an e-mail address");
				free(c->smtp_from);
				c->smtp_from = NULL;
			}
		}
		else if (!strcmp(name, "smtp") && !strcmp(k, "username"))
			set_str(x, v, "smtp.username", &c->smtp_username);
		else if (!strcmp(name, "smtp") && !strcmp(k, "password"))
			set_str(x, v, "smtp.password", &c->smtp_password);
		else if (!strcmp(name, "notify") && !strcmp(k, "retry_base"))
			set_ms(x, v, "notify.retry_base", &c->notify_retry_base_ms);
		else if (!strcmp(name, "notify") && !strcmp(k, "attempts"))
			set_int(x, v, "notify.attempts", 1, 20, &c->notify_attempts);
		else if (!strcmp(name, "events") && !strcmp(k, "backlog"))
			set_int(x, v, "events.backlog", 8, 65536, &c->events_backlog);
		else if (!strcmp(name, "artifacts") && !strcmp(k, "expire_in"))
			set_duration(x, v, "artifacts.expire_in", 1, 100LL * 365 * 86400,
				     &c->artifacts_expire_s);
		else if (!strcmp(name, "artifacts") && !strcmp(k, "keep_latest"))
			set_bool(x, v, "artifacts.keep_latest", &c->artifacts_keep_latest);
		else if (!strcmp(name, "retention") && !strcmp(k, "interval"))
			set_int(x, v, "retention.interval", 1, 86400, &c->retention_interval);
		else if (!strcmp(name, "retention") && !strcmp(k, "grace"))
			set_duration(x, v, "retention.grace", 0, 30LL * 86400,
				     &c->retention_grace_s);
		else if (!strcmp(name, "audit") && !strcmp(k, "keep_days"))
			set_days(x, v, "audit.keep_days", &c->audit_keep_days);
		else
			diag_error(x->d, &m->pairs[i].key_pos, "unknown setting %s.%s", name, k);
	}
}

int server_config_load(const char *path, int missing_ok, struct server_config *c,
		       struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct ynode **docs = NULL;
	size_t nr = 0, i;
	struct diag d;
	struct cfg_ctx x;
	int rc = -1;

	diag_init(&d);
	x.d = &d;
	x.c = c;
	if (access(path, F_OK) < 0 && errno == ENOENT && missing_ok) {
		rc = 0;
		goto done;
	}
	if (strbuf_read_file(&buf, path, CONFIG_MAX_FILE) < 0) {
		strbuf_addf(err, "%s: cannot read: %s", path,
			    errno ? strerror(errno) : "larger than 1 MiB");
		goto done;
	}
	if (yaml_parse(path, buf.buf, buf.len, NULL, &docs, &nr, &d) < 0)
		goto report;
	if (nr > 1) {
		diag_error(&d, &docs[1]->pos, "one YAML document is expected");
		goto report;
	}
	if (nr == 1 && !ynode_is_null(docs[0])) {
		const struct ynode *root = docs[0];

		if (!is_map(&x, root, "the configuration"))
			goto report;
		for (i = 0; i < root->pairs_nr; i++) {
			const char *k = root->pairs[i].key;
			const struct ynode *v = root->pairs[i].val;

			if (!strcmp(k, "listen"))
				set_str(&x, v, "listen", &c->listen);
			else if (!strcmp(k, "store"))
				set_str(&x, v, "store", &c->store);
			else if (!strcmp(k, "url"))
				set_url(&x, v, "url", http_schemes, &c->public_url);
			else if (!strcmp(k, "images"))
				set_str(&x, v, "images", &c->images);
			else if (!strcmp(k, "include_remote"))
				set_remote(&x, v, c);
			else if (!strcmp(k, "executor"))
				exec_section(&x, "executor", v, &c->exec);
			else if (!strcmp(k, "projects"))
				projects_section(&x, v);
			else if (!strcmp(k, "runner") || !strcmp(k, "http") ||
				 !strcmp(k, "limits") || !strcmp(k, "poll") ||
				 !strcmp(k, "schedules") ||
				 !strcmp(k, "smtp") || !strcmp(k, "notify") ||
				 !strcmp(k, "events") || !strcmp(k, "artifacts") ||
				 !strcmp(k, "retention") || !strcmp(k, "audit"))
				section(&x, k, v);
			else
				diag_error(&d, &root->pairs[i].key_pos, "unknown setting %s", k);
		}
	}
report:
	if (d.errors) {
		diag_sort(&d);
		diag_format(&d, err);
		strbuf_rtrim(err);
		goto done;
	}
	rc = 0;
done:
	yaml_docs_free(docs, nr);
	diag_clear(&d);
	strbuf_release(&buf);
	return rc;
}
