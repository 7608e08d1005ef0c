/*
 * The REST API (docs/api.md): handlers parse the request, call the store
 * or the runner, and render JSON. No scheduling decision is made here.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec/cas.h"
#include "forge/webhook.h"
#include "git/mirror.h"
#include "server/auth.h"
#include "server/seal.h"
#include "server/pctx.h"
#include "server/server.h"
#include "util/hex.h"
#include "util/hmac.h"
#include "util/jsonx.h"
#include "util/cron.h"
#include "util/sha256.h"
#include "util/tz.h"
#include "util/xalloc.h"

#define MAX_PER_PAGE 100
/* how long POST /projects waits for the clone before answering 202 */
#define CLONE_WAIT_MS 2000
/* a listing counts its total up to this many (GitLab: 10,000; each
 * row counted costs ~50 ns here: 10,000 would double a page's time) */
#define LIST_TOTAL_MAX STORE_COUNT_MAX
#define MAX_VAR_VALUE SETTINGS_MAX_VALUE

#define SRV(ud) ((struct server *)(ud))

/* ---- rendering ---- */

/* "a,b" → ["a", "b"]; "" → []; NULL (the default branch) → null */
static json_t *protected_json(const char *list)
{
	json_t *a;

	if (!list)
		return json_null();
	a = json_array();
	json_append_list(a, list);
	return a;
}

static json_t *project_json(const struct store_project *p, int secrets)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i}", "id", (json_int_t)p->id,
			      "name", p->name, "repo", p->repo, "branches", p->branches,
			      "poll_interval", p->poll_interval);

	json_object_set_new(o, "created_at", json_time(p->created));
	json_object_set_new(o, "public", json_boolean(p->public_read));
	json_object_set_new(o, "protected_branches", protected_json(p->protected_branches));
	json_object_set_new(o, "protected_tags", protected_json(p->protected_tags ?
								 p->protected_tags : ""));
	if (secrets) {
		struct strbuf err = STRBUF_INIT;
		char *hook = NULL, *web = NULL;

		/* stored sealed (seal.h); null when this server's key cannot open them */
		if (seal_open(p->hook_secret, &hook, &err) < 0 ||
		    seal_open(p->webhook_secret, &web, &err) < 0)
			slog_warn("project %s: %s", p->name, err.buf);
		json_object_set_new(o, "hook_secret", json_str_or_null(hook));
		json_object_set_new(o, "webhook_secret", json_str_or_null(web));
		free(hook);
		free(web);
		strbuf_release(&err);
	}
	return o;
}

static json_t *pipeline_json(const struct store_pipeline *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "project", json_str_or_null(p->project));
	json_object_set_new(o, "ref", json_str_or_null(p->ref));
	json_object_set_new(o, "tag", json_boolean(p->tag));
	json_object_set_new(o, "sha", json_str_or_null(p->sha));
	json_object_set_new(o, "before_sha", json_str_or_null(p->before_sha));
	json_object_set_new(o, "source", json_str_or_null(p->source));
	json_object_set_new(o, "status", json_str_or_null(p->status));
	json_object_set_new(o, "error", json_str_or_null(p->error));
	json_object_set_new(o, "name", json_str_or_null(p->name));
	json_object_set_new(o, "created_at", json_time(p->created));
	json_object_set_new(o, "started_at", json_time(p->started));
	json_object_set_new(o, "finished_at", json_time(p->finished));
	{
		/* GitLab's: the time its jobs ran, and the wait for the first */
		int64_t ms = store_pipeline_ms(p);

		json_object_set_new(o, "duration", ms >= 0 ? json_real((double)ms / 1000.0) :
				    json_null());
		json_object_set_new(o, "queued_duration", json_seconds(p->created, p->started));
	}
	json_object_set_new(o, "protected", json_boolean(p->protected_ref));
	json_object_set_new(o, "schedule_id", p->schedule_id ? json_integer(p->schedule_id) :
			    json_null());
	return o;
}

static json_t *job_json(const struct store_job *j)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "pipeline_id", json_integer(j->pipeline_id));
	json_object_set_new(o, "project", json_str_or_null(j->project));
	json_object_set_new(o, "name", json_str_or_null(j->name));
	json_object_set_new(o, "stage", json_str_or_null(j->stage));
	json_object_set_new(o, "status", json_str_or_null(j->status));
	json_object_set_new(o, "when", json_str_or_null(j->when));
	json_object_set_new(o, "allow_failure", json_boolean(j->allow_failure));
	if (j->manual_confirmation)	/* only when set: every job event carries this object */
		json_object_set_new(o, "manual_confirmation", json_string(j->manual_confirmation));
	json_object_set_new(o, "exit_code", j->exit_code >= 0 ? json_integer(j->exit_code) :
			    json_null());
	json_object_set_new(o, "failure_reason", json_str_or_null(j->failure_reason));
	json_object_set_new(o, "attempt", json_integer(j->attempt));
	json_object_set_new(o, "retried", json_boolean(j->retried));
	json_object_set_new(o, "runner", json_str_or_null(j->runner));
	json_object_set_new(o, "created_at", json_time(j->created));
	json_object_set_new(o, "queued_at", json_time(j->queued));
	json_object_set_new(o, "started_at", json_time(j->started));
	json_object_set_new(o, "finished_at", json_time(j->finished));
	/*
	 * GitLab's: while a job runs, the seconds since its start; while it
	 * waits for a runner, since it could run (queued) so far.
	 */
	json_object_set_new(o, "duration", json_seconds(j->started, j->finished > 0 ?
			    j->finished : j->started > 0 ? server_now_ms() : 0));
	json_object_set_new(o, "queued_duration", json_seconds(j->queued, j->started > 0 ?
			    j->started : j->finished > 0 ? 0 : server_now_ms()));
	json_object_set_new(o, "peak_memory", j->peak_mem >= 0 ? json_integer(j->peak_mem) :
			    json_null());
	json_object_set_new(o, "cpu", j->cpu >= 0 ? json_real(j->cpu) : json_null());
	json_object_set_new(o, "log_size", json_integer(j->log_size));
	json_object_set_new(o, "coverage", j->coverage >= 0 ? json_real(j->coverage) :
			    json_null());
	if (j->tests_total >= 0)
		json_object_set_new(o, "tests", json_pack("{s:i, s:i, s:i, s:i}",
							 "total", j->tests_total,
							 "failed", j->tests_failed,
							 "skipped", j->tests_skipped,
							 "errors", j->tests_errors));
	else
		json_object_set_new(o, "tests", json_null());
	if (j->env_name)
		json_object_set_new(o, "environment", json_pack("{s:s, s:o}", "name", j->env_name,
								"url", json_str_or_null(j->env_url)));
	else
		json_object_set_new(o, "environment", json_null());
	json_object_set_new(o, "artifacts_expire_at", json_time(j->artifacts_expire_at));
	json_object_set_new(o, "artifacts_expired_at", json_time(j->artifacts_expired));
	return o;
}

/* ---- request helpers ---- */

static struct store *store_or_500(struct http_request *req, struct server *srv)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = server_store(srv, &err);

	if (!st)
		http_respond_error(req, 500, "store: %s", err.buf);
	strbuf_release(&err);
	return st;
}

/* Respond for a store error code. */
static int store_error(struct http_request *req, int rc, const struct strbuf *err)
{
	unsigned status = rc == STORE_NOTFOUND ? 404 : rc == STORE_CONFLICT ? 409 : 500;

	if (rc == STORE_UNAVAILABLE) {
		/* a full or failing disk: nothing was recorded, the same request may pass later */
		http_add_header(req, "Retry-After", "5");
		return http_respond_error(req, 503, "the server cannot record this now: %s",
					  err->len ? err->buf : "store unavailable");
	}
	return http_respond_error(req, status, "%s", err->len ? err->buf : "store error");
}

static void session_cookie(struct http_request *req, struct server *srv, const char *value,
			   long max_age);

/*
 * Who asks (auth.h). 0 with *who filled (maybe anonymous); -1 with 401
 * sent when credentials were given but are wrong (503 when the store
 * could not say).
 */
static int who_asks(struct http_request *req, struct server *srv, struct store *st,
		    struct principal *who)
{
	char sid[AUTH_TOKEN_HEX + 1];

	int rc = auth_request(srv, st, req, who);

	if (rc == 0)
		return 0;
	if (rc == AUTH_ESTORE) {
		http_add_header(req, "Retry-After", "1");
		http_respond_error(req, 503, "the server cannot check credentials now: try again");
		return -1;
	}
	if (!http_request_header(req, "Authorization") &&
	    !http_request_header(req, "PRIVATE-TOKEN") && auth_session_cookie(req, sid))
		session_cookie(req, srv, "", 0);	/* a dead session: the browser forgets it */
	http_respond_error(req, 401, "invalid or expired credentials");
	return -1;
}

/*
 * A caller that may change state: known (else 401), and, when it comes
 * by a session cookie, carrying the session's X-CSRF-Token (else 403).
 */
static int who_changes(struct http_request *req, struct server *srv, struct store *st,
		       struct principal *who)
{
	if (who_asks(req, srv, st, who) < 0)
		return -1;
	if (!who->admin && !who->user_id) {
		http_respond_error(req, 401, "an API token is needed (Authorization: Bearer TOKEN)");
		return -1;
	}
	if (!auth_csrf_ok(who, http_request_header(req, "X-CSRF-Token"))) {
		http_respond_error(req, 403, "missing or wrong X-CSRF-Token");
		return -1;
	}
	return 0;
}

/* Only the administrator (admin token or an admin user); else 401/403 sent, -1. */
static int admin_only(struct http_request *req, const struct principal *who)
{
	if (who->admin)
		return 0;
	if (!who->user_id)
		http_respond_error(req, 401, "an API token is needed (Authorization: Bearer TOKEN)");
	else
		http_respond_error(req, 403, "only an administrator may do this");
	return -1;
}

/*
 * who may act on project p with at least role min: 0. Otherwise -1 with
 * the answer sent: 404 as if absent when who cannot see it, 401 for an
 * anonymous caller, 403 when the role is too low. what names the thing
 * asked for in the 404 ("project app", "pipeline 3").
 */
static int role_check(struct http_request *req, struct server *srv, struct store *st,
		      const struct principal *who, const struct store_project *p, enum role min,
		      const char *what)
{
	enum role r = auth_role(srv, st, who, p);

	if (r >= min)
		return 0;
	if (r == ROLE_NONE)
		http_respond_error(req, 404, "%s not found", what);
	else if (!who->user_id && !who->admin)
		http_respond_error(req, 401, "an API token is needed (Authorization: Bearer TOKEN)");
	else
		http_respond_error(req, 403, "this needs the %s role on project %s", role_name(min),
				   p->name);
	return -1;
}

/* As role_check, for the project of id (pipelines and jobs name their project by id). */
static int role_check_id(struct http_request *req, struct server *srv, struct store *st,
			 const struct principal *who, int64_t project_id, enum role min,
			 const char *what)
{
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	int rc;

	if (who->admin)
		return 0;
	memset(&p, 0, sizeof(p));
	rc = store_project_get_id(st, project_id, &p, &err);
	if (rc == STORE_NOTFOUND)
		http_respond_error(req, 404, "%s not found", what);
	else if (rc < 0)
		store_error(req, rc, &err);
	else
		rc = role_check(req, srv, st, who, &p, min, what);
	store_project_release(&p);
	strbuf_release(&err);
	return rc < 0 ? -1 : 0;
}

static int id_param(struct http_request *req, const char *name, int64_t *ret)
{
	const char *s = http_request_param(req, name);
	char *end;
	long long v;

	errno = 0;
	v = s ? strtoll(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v <= 0) {
		http_respond_error(req, 400, "%s must be a positive number", name);
		return -1;
	}
	*ret = v;
	return 0;
}

/* The body as a JSON object (an empty body is {}); else responds 400, NULL. */
static json_t *body_json(struct http_request *req)
{
	size_t len;
	const char *b = http_request_body(req, &len);
	json_error_t je;
	json_t *o;

	if (!len)
		return json_object();
	o = json_loadb(b, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		http_respond_error(req, 400, "malformed JSON at line %d column %d: %s", je.line,
				   je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		http_respond_error(req, 400, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

/* An optional string member; -1 (400 sent) when present but not a string. */
static int opt_str(struct http_request *req, json_t *o, const char *k, size_t max,
		   const char **ret)
{
	json_t *v = json_object_get(o, k);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max) {
		http_respond_error(req, 400, "%s must be a string of at most %zu bytes", k, max);
		return -1;
	}
	*ret = json_string_value(v);
	return 0;
}

static int page_args(struct http_request *req, struct store_pipeline_filter *f)
{
	const char *pp = http_request_query(req, "per_page");
	const char *pg = http_request_query(req, "page");
	const char *bf = http_request_query(req, "before");
	long v;
	char *end;

	f->limit = 20;
	if (pp) {
		v = strtol(pp, &end, 10);
		if (*end || v < 1 || v > MAX_PER_PAGE) {
			http_respond_error(req, 400, "per_page must be 1 to %d", MAX_PER_PAGE);
			return -1;
		}
		f->limit = (int)v;
	}
	if (pg) {
		v = strtol(pg, &end, 10);
		if (*end || v < 1 || v > 1000000) {
			http_respond_error(req, 400, "page must be a positive number");
			return -1;
		}
		f->offset = (int)((v - 1) * f->limit);
	}
	if (bf) {
		long long b = strtoll(bf, &end, 10);

		if (*end || b < 1) {
			http_respond_error(req, 400, "before must be a pipeline id");
			return -1;
		}
		f->before_id = b;
	}
	return 0;
}

/*
 * The paging headers of a listing: X-Per-Page; paged by page, X-Page,
 * X-Prev-Page, and X-Total and X-Total-Pages when total is known (>= 0);
 * with a next page (next: the last id of this one, else 0),
 * X-Next-Before and, paged by page, X-Next-Page.
 */
static void page_headers(struct http_request *req, const struct store_pipeline_filter *f,
			 int64_t next, int64_t total)
{
	int page = f->offset / f->limit + 1;
	char v[32];

	snprintf(v, sizeof(v), "%d", f->limit);
	http_add_header(req, "X-Per-Page", v);
	if (!f->before_id) {
		snprintf(v, sizeof(v), "%d", page);
		http_add_header(req, "X-Page", v);
		if (page > 1) {
			snprintf(v, sizeof(v), "%d", page - 1);
			http_add_header(req, "X-Prev-Page", v);
		}
		if (total >= 0) {
			snprintf(v, sizeof(v), "%lld", (long long)total);
			http_add_header(req, "X-Total", v);
			snprintf(v, sizeof(v), "%lld", (long long)(total + f->limit - 1) / f->limit);
			http_add_header(req, "X-Total-Pages", v);
		}
	}
	if (next) {
		snprintf(v, sizeof(v), "%lld", (long long)next);
		http_add_header(req, "X-Next-Before", v);
		if (!f->before_id) {
			snprintf(v, sizeof(v), "%d", page + 1);
			http_add_header(req, "X-Next-Page", v);
		}
	}
}

/* ---- projects ---- */

static int valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (!n || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char b[64];
	size_t i;

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (getrandom(b, bytes, 0) != (ssize_t)bytes) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		for (i = 0; i < bytes; i++)
			b[i] ^= (unsigned char)(t.tv_nsec >> (i % 4 * 8)) ^ (unsigned char)rand();
	}
	for (i = 0; i < bytes; i++) {
		out[2 * i] = "0123456789abcdef"[b[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[b[i] & 15];
	}
	out[2 * bytes] = '\0';
}

static int project_of(struct http_request *req, struct server *srv, struct store *st,
		      const struct principal *who, enum role min, struct store_project *p);

static int h_projects(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_project *ps = NULL;
	struct principal who;
	size_t n = 0, i;
	json_t *a;
	int rc;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0)
		return 0;
	rc = store_project_list(st, &ps, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		strbuf_release(&err);
		return 0;
	}
	a = json_array();
	for (i = 0; i < n; i++)
		if (auth_role(SRV(ud), st, &who, &ps[i]) >= ROLE_VIEWER)
			json_array_append_new(a, project_json(&ps[i], 0));
	http_respond_json(req, 200, a);
	json_decref(a);
	store_projects_free(ps, n);
	strbuf_release(&err);
	return 0;
}

static int h_project_add(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	const char *name, *repo, *branches, *wsecret;
	char hook[65], whs[65];
	char *mirror = NULL, *hook_sealed = NULL, *webhook_sealed = NULL;
	struct principal who;
	json_t *o, *pi, *pub;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || admin_only(req, &who) < 0 ||
	    !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	if (opt_str(req, o, "name", 64, &name) || opt_str(req, o, "repo", 4096, &repo) ||
	    opt_str(req, o, "branches", 1024, &branches) ||
	    opt_str(req, o, "webhook_secret", 256, &wsecret))
		goto done;
	if (!name || !valid_name(name)) {
		http_respond_error(req, 400, "name is required: 1 to 64 of A-Z a-z 0-9 . _ -, "
				   "not starting with . or -");
		goto done;
	}
	if (!repo || !*repo) {
		http_respond_error(req, 400, "repo is required: a path or URL of a git repository");
		goto done;
	}
	pi = json_object_get(o, "poll_interval");
	if (pi && !json_is_null(pi) && (!json_is_integer(pi) || json_integer_value(pi) < 0 ||
					json_integer_value(pi) > 86400 * 7)) {
		http_respond_error(req, 400, "poll_interval must be seconds from 0 to 604800");
		goto done;
	}
	pub = json_object_get(o, "public");
	if (pub && !json_is_null(pub) && !json_is_boolean(pub)) {
		http_respond_error(req, 400, "public must be true or false");
		goto done;
	}
	random_hex(hook, 32);
	random_hex(whs, 32);
	p.name = (char *)name;
	p.repo = (char *)repo;
	p.branches = (char *)(branches && *branches ? branches : "*");
	p.poll_interval = json_is_integer(pi) ? (int)json_integer_value(pi) : 0;
	p.hook_secret = hook_sealed = seal_value(hook);
	p.webhook_secret = webhook_sealed = seal_value(wsecret ? wsecret : whs);
	{
		struct store_project old;

		memset(&old, 0, sizeof(old));
		if (store_project_get(st, name, &old, &err) == 0) {
			store_project_release(&old);
			http_respond_error(req, 409, "a project named %s exists", name);
			goto done;
		}
		strbuf_reset(&err);
	}
	mirror = server_mirror_path(srv, name);
	{
		/*
		 * The clone on a thread of its own, waited for a while: a large
		 * repository must not hold an HTTP thread. One that takes
		 * longer goes on alone and its thread adds the project: 202.
		 */
		struct clone *c;

		rc = server_clone_start(srv, &p, json_is_true(pub), &c, &err);
		if (rc < 0) {
			http_respond_error(req, rc == CLONE_BUSY ? 409 : 503, "%s", err.buf);
			goto done;
		}
		rc = server_clone_wait(c, CLONE_WAIT_MS, &err);
		if (rc < 0) {
			http_respond_error(req, 400, "cannot clone %s: %s", repo, err.buf);
			goto done;
		}
		if (rc > 0) {
			json_t *r = json_pack("{s:s, s:s, s:s, s:i, s:b, s:s}", "name", name,
					      "repo", repo, "branches", p.branches,
					      "poll_interval", p.poll_interval,
					      "public", json_is_true(pub), "mirror", "cloning");

			slog_info("project %s: cloning %s in the background", name, repo);
			auth_audit(st, req, &who, "project.create", name, "repo %s, cloning", repo);
			http_respond_json(req, 202, r);
			json_decref(r);
			goto done;
		}
	}
	rc = store_project_add(st, &p, &err);
	if (rc < 0) {
		cas_rmtree(mirror, NULL);
		store_error(req, rc, &err);
		goto done;
	}
	if (json_is_true(pub) && store_project_set_public(st, name, 1, &err) == 0)
		p.public_read = 1;
	slog_info("project %s added (%s)", name, repo);
	auth_audit(st, req, &who, "project.create", name, "repo %s%s", repo,
		   p.public_read ? ", public" : "");
	{
		json_t *r = project_json(&p, 1);

		http_respond_json(req, 201, r);
		json_decref(r);
	}
	if (p.poll_interval) {
		uint64_t one = 1;

		if (write(srv->poll_fd, &one, sizeof(one)) < 0) {
			/* the poller sees the project at its next round */
		}
	}
done:
	free(mirror);
	free(hook_sealed);
	free(webhook_sealed);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static int h_project(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct principal who;
	json_t *o;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	{
		/* a project being cloned is not one yet; nor is one whose clone failed */
		const char *name = http_request_param(req, "name");
		struct strbuf repo = STRBUF_INIT;
		int64_t since = 0;
		int cl = server_clone_state(name, &repo, &since, &err);

		if (cl) {
			struct strbuf scratch = STRBUF_INIT;

			if (store_project_get(st, name, &p, &scratch) == 0) {
				cl = 0;  /* added meanwhile (or again) */
				store_project_release(&p);
				memset(&p, 0, sizeof(p));
			}
			strbuf_release(&scratch);
		}
		if (cl && !who.admin)
			cl = 0;  /* only who may add projects learns of clones */
		if (cl == 1) {
			json_t *c = json_pack("{s:s, s:s, s:s, s:I}", "name", name, "repo", repo.buf,
					      "mirror", "cloning", "cloning_ms",
					      (json_int_t)(server_now_ms() - since));

			http_respond_json(req, 202, c);
			json_decref(c);
		} else if (cl == 2) {
			http_respond_error(req, 404, "project %s not found: cloning %s failed: %s",
					   name, repo.buf, err.buf);
		}
		strbuf_release(&repo);
		strbuf_reset(&err);
		if (cl) {
			strbuf_release(&err);
			return 0;
		}
	}
	rc = project_of(req, srv, st, &who, ROLE_VIEWER, &p);
	if (rc == 0) {
		enum role r = auth_role(srv, st, &who, &p);

		o = project_json(&p, r >= ROLE_MAINTAINER);
		json_object_set_new(o, "role", json_string(role_name(r)));
		http_respond_json(req, 200, o);
		json_decref(o);
	}
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

static int h_project_delete(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct principal who;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || admin_only(req, &who) < 0)
		return 0;
	{
		/* its unfinished pipelines are canceled first */
		struct store_project p;

		memset(&p, 0, sizeof(p));
		if (store_project_get(st, http_request_param(req, "name"), &p, &err) == 0) {
			int64_t *ids = NULL;
			size_t n = 0, i;

			if (store_pipeline_unfinished(st, p.id, NULL, 0, &ids, &n, &err) == 0)
				for (i = 0; i < n; i++)
					runner_cancel_pipeline(srv, st, ids[i], &err);
			free(ids);
		}
		store_project_release(&p);
		strbuf_reset(&err);
	}
	rc = store_project_delete(st, http_request_param(req, "name"), &err);
	if (rc == 0) {
		char *m = server_mirror_path(srv, http_request_param(req, "name"));
		char *w = xasprintf("%s/work/%s", srv->data, http_request_param(req, "name"));

		cas_rmtree(m, NULL);
		cas_rmtree(w, NULL);
		free(m);
		free(w);
		/* its sandbox pool ends by itself, its workspaces gone (exec/pool.h) */
		w = xasprintf("%s/sandbox/%s.line", srv->data, http_request_param(req, "name"));
		unlink(w);
		free(w);
		slog_info("project %s removed", http_request_param(req, "name"));
		auth_audit(st, req, &who, "project.delete", http_request_param(req, "name"), NULL);
		events_access_changed(srv);
	}
	if (rc == STORE_NOTFOUND)
		http_respond_error(req, 404, "project %s not found", http_request_param(req, "name"));
	else if (rc < 0)
		store_error(req, rc, &err);
	else
		http_respond_json_str(req, 200, "{\"deleted\":true}", 16);
	strbuf_release(&err);
	return 0;
}

/* ---- pipelines ---- */

static int list_pipelines(struct http_request *req, struct server *srv,
			  const struct principal *who, int64_t project_id)
{
	struct store *st = store_or_500(req, srv);
	struct store_pipeline_filter f;
	struct store_pipeline *ps = NULL;
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	char sha[41];
	size_t n = 0, i;
	int64_t total = -1;
	int rc;

	if (!st)
		return 0;
	memset(&f, 0, sizeof(f));
	if (page_args(req, &f) < 0)
		return 0;
	f.project_id = project_id;
	f.ref = http_request_query(req, "ref");
	f.status = http_request_query(req, "status");
	f.source = http_request_query(req, "source");
	if (http_request_query(req, "sha")) {
		const char *q = http_request_query(req, "sha");
		size_t k, len = strlen(q);

		for (k = 0; k < len && k < 40 && isxdigit((unsigned char)q[k]); k++)
			sha[k] = (char)tolower((unsigned char)q[k]);
		if (k != len || len < 4) {
			http_respond_error(req, 400, "sha must be 4 to 40 hexadecimal digits of a commit");
			return 0;
		}
		sha[len] = 0;
		f.sha = sha;
	}
	if (!project_id && !who->admin)
		f.visible_to = who->user_id ? who->user_id : -1;
	if (!project_id && http_request_query(req, "project")) {
		struct store_project p;

		memset(&p, 0, sizeof(p));
		rc = store_project_get(st, http_request_query(req, "project"), &p, &err);
		if (rc == 0 && auth_role(srv, st, who, &p) < ROLE_VIEWER) {
			store_project_release(&p);
			rc = STORE_NOTFOUND;
		}
		if (rc == STORE_NOTFOUND) {
			http_respond_error(req, 404, "project %s not found",
					   http_request_query(req, "project"));
			strbuf_release(&err);
			return 0;
		}
		if (rc < 0) {
			store_error(req, rc, &err);
			strbuf_release(&err);
			return 0;
		}
		f.project_id = p.id;
		store_project_release(&p);
	}
	/*
	 * Paged by page: the total, as GitLab gives it, when there are at
	 * most LIST_TOTAL_MAX (counting more would cost a scan).
	 */
	if (!f.before_id) {
		if (store_pipeline_count(st, &f, LIST_TOTAL_MAX + 1, &f.count, &err) < 0) {
			store_error(req, -1, &err);
			strbuf_release(&err);
			return 0;
		}
		f.counted = 1;
		if (f.count <= LIST_TOTAL_MAX)
			total = f.count;
	}
	/* one more than asked: whether there is a next page */
	f.limit++;
	rc = store_pipeline_list(st, &f, &ps, &n, &err);
	f.limit--;
	if (rc < 0) {
		store_error(req, rc, &err);
		strbuf_release(&err);
		return 0;
	}
	strbuf_addch(&out, '[');
	for (i = 0; i < n && i < (size_t)f.limit; i++) {
		json_t *o = pipeline_json(&ps[i]);
		char *s = json_dumps(o, JSONX_OUT | JSON_PRESERVE_ORDER);

		if (i)
			strbuf_addch(&out, ',');
		strbuf_addstr(&out, s);
		free(s);
		json_decref(o);
	}
	strbuf_addch(&out, ']');
	page_headers(req, &f, n > (size_t)f.limit ? ps[f.limit - 1].id : 0, total);
	http_respond_json_str(req, 200, out.buf, out.len);
	store_pipelines_free(ps, n);
	strbuf_release(&out);
	strbuf_release(&err);
	return 0;
}

/* the largest file GET /api/v1/files answers (include:project's are 1 MiB) */
#define PROJECT_FILE_MAX (8u << 20)

/*
 * GET /api/v1/files?project=P&path=F[&ref=R]: a file of a project at a
 * ref (its default branch without one), raw: what `cidre run` reads for
 * include:project. The project by name or GitLab path, as include:project
 * names it; read access as for its pipelines.
 */
static int h_file(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	const char *name = http_request_query(req, "project");
	const char *path = http_request_query(req, "path");
	const char *ref = http_request_query(req, "ref");
	struct strbuf err = STRBUF_INIT, out = STRBUF_INIT;
	struct store_project p;
	struct principal who;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	while (path && *path == '/')
		path++;
	if (!name || !*name || strlen(name) > 1024 || !path || !*path || strlen(path) > 4096 ||
	    (ref && (!*ref || strlen(ref) > 1024))) {
		http_respond_error(req, 400, "project and path are required (and ref, when given, "
				   "is not empty)");
		return 0;
	}
	rc = server_project_by_path(st, name, &p, &err);
	if (rc == 0 && auth_role(srv, st, &who, &p) < ROLE_VIEWER) {
		store_project_release(&p);
		strbuf_reset(&err);
		strbuf_addf(&err, "no project %s on this server", name);
		rc = STORE_NOTFOUND;
	}
	if (rc == 0) {
		rc = server_project_file(srv, &p, ref, path, PROJECT_FILE_MAX, &out, &err);
		store_project_release(&p);
	}
	if (rc == STORE_NOTFOUND)
		http_respond_error(req, 404, "%s", err.buf);
	else if (rc < 0)
		store_error(req, rc, &err);
	else
		http_respond_data(req, 200, "application/octet-stream", out.buf, out.len);
	strbuf_release(&out);
	strbuf_release(&err);
	return 0;
}

static int h_pipelines(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct principal who;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0)
		return 0;
	return list_pipelines(req, SRV(ud), &who, 0);
}

/* The project named by the route's :name on which who has at least role
 * min (else the answer is sent, role_check); 0 or a negative code. */
static int project_of(struct http_request *req, struct server *srv, struct store *st,
		      const struct principal *who, enum role min, struct store_project *p)
{
	struct strbuf err = STRBUF_INIT, what = STRBUF_INIT;
	const char *name = http_request_param(req, "name");
	int rc = store_project_get(st, name, p, &err);

	strbuf_addf(&what, "project %s", name);
	if (rc == STORE_NOTFOUND)
		http_respond_error(req, 404, "%s not found", what.buf);
	else if (rc < 0)
		store_error(req, rc, &err);
	else if (role_check(req, srv, st, who, p, min, what.buf) < 0)
		rc = -1;
	strbuf_release(&err);
	strbuf_release(&what);
	return rc;
}

static int h_project_pipelines(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_project p;
	struct principal who;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, SRV(ud), st, &who, ROLE_VIEWER, &p) == 0)
		list_pipelines(req, SRV(ud), &who, p.id);
	store_project_release(&p);
	return 0;
}

static int respond_pipeline(struct http_request *req, struct store *st, int64_t id,
			    unsigned status)
{
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline p;
	struct store_job *jobs = NULL;
	size_t n = 0, i;
	json_t *o, *a;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = store_pipeline_get(st, id, &p, &err);
	if (rc == 0)
		rc = store_job_list(st, id, 0, &jobs, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	o = pipeline_json(&p);
	a = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(a, job_json(&jobs[i]));
	json_object_set_new(o, "jobs", a);
	json_object_set_new(o, "variables", json_loads(p.variables ? p.variables : "{}", 0,
						       NULL));
	http_respond_json(req, status, o);
	json_decref(o);
done:
	store_jobs_free(jobs, n);
	store_pipeline_release(&p);
	strbuf_release(&err);
	return 0;
}

/* The audit entry of a pipeline made through the API (struct trigger's record). */
struct create_audit {
	struct http_request *req;
	const struct principal *who;
	const char *project, *ref;
};

static void audit_create(struct store *st, int64_t id, void *ud)
{
	struct create_audit *a = ud;
	char target[32];

	snprintf(target, sizeof(target), "pipeline %lld", (long long)id);
	auth_audit(st, a->req, a->who, "pipeline.create", target, "project %s, ref %s",
		   a->project, a->ref ? a->ref : "(default)");
}

/*
 * A trigger's "inputs" (the pipeline file's spec:inputs): an object of at
 * most 100 names, each a string (read as YAML: "3" is a number, "[a, b]"
 * a list) or a number, boolean or list, into out as YAML text. 0, or -1
 * with a 400 sent.
 */
static int trigger_inputs(struct http_request *req, const json_t *v, struct varlist *out)
{
	const char *k;
	json_t *e;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v) || json_object_size(v) > 100) {
		http_respond_error(req, 400, "inputs must be an object of at most 100 inputs");
		return -1;
	}
	json_object_foreach((json_t *)v, k, e) {
		char *text = json_is_string(e) ? xstrdup(json_string_value(e)) :
			     (json_is_number(e) || json_is_boolean(e) || json_is_array(e)) ?
			     json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		size_t i, n = strlen(k);
		int ok = n && n <= 64 && text && strlen(text) <= 65536;

		for (i = 0; i < n && ok; i++)
			ok = (k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
			     (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-';
		if (!ok) {
			free(text);
			http_respond_error(req, 400, "input \"%.64s\": names are [A-Za-z0-9_-], "
					   "1 to 64 characters; values strings, numbers, booleans "
					   "or lists, at most 64 KiB", k);
			return -1;
		}
		varlist_set(out, k, text);
		free(text);
	}
	return 0;
}

static int h_trigger(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct varlist vars = VARLIST_INIT, inputs = VARLIST_INIT;
	struct create_audit au;
	struct trigger t;
	const char *ref, *sha;
	struct principal who;
	json_t *o, *v;
	int64_t id;
	int status;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	if (opt_str(req, o, "ref", 1024, &ref) || opt_str(req, o, "sha", 40, &sha) ||
	    project_of(req, srv, st, &who, ROLE_DEVELOPER, &p) < 0)
		goto done;
	v = json_object_get(o, "variables");
	if (v && !json_is_null(v)) {
		struct strbuf msg = STRBUF_INIT;
		const char *k;
		json_t *e;

		if (trigger_variables_check(v, &msg) < 0) {
			http_respond_error(req, 400, "%s", msg.buf);
			strbuf_release(&msg);
			goto done;
		}
		json_object_foreach(v, k, e)
			varlist_set(&vars, k, json_string_value(e));
	}
	if (trigger_inputs(req, json_object_get(o, "inputs"), &inputs) < 0)
		goto done;
	memset(&t, 0, sizeof(t));
	t.project = &p;
	t.ref = ref;
	t.sha = sha;
	t.source = "api";
	t.vars = &vars;
	t.inputs = &inputs;
	au.req = req;
	au.who = &who;
	au.project = p.name;
	au.ref = ref;
	t.record = audit_create;
	t.record_ud = &au;
	if (server_create_pipeline(srv, &t, &id, &status, &err) < 0) {
		if (status == 503)
			http_add_header(req, "Retry-After", "5");
		http_respond_error(req, (unsigned)status, "%s", err.buf);
		goto done;
	}
	respond_pipeline(req, st, id, 201);
done:
	varlist_clear(&vars);
	varlist_clear(&inputs);
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

/*
 * Pipeline id exists and who has at least role min on its project: 0.
 * Else -1, the answer sent (404 also when who may not see it).
 */
static int pipeline_check(struct http_request *req, struct server *srv, struct store *st,
			  const struct principal *who, int64_t id, enum role min)
{
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline p;
	char what[48];
	int rc;

	snprintf(what, sizeof(what), "pipeline %lld", (long long)id);
	memset(&p, 0, sizeof(p));
	rc = store_pipeline_get(st, id, &p, &err);
	if (rc < 0)
		store_error(req, rc, &err);
	else
		rc = role_check_id(req, srv, st, who, p.project_id, min, what);
	store_pipeline_release(&p);
	strbuf_release(&err);
	return rc < 0 ? -1 : 0;
}

static int h_pipeline(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct principal who;
	int64_t id;

	if (st && who_asks(req, SRV(ud), st, &who) == 0 && id_param(req, "id", &id) == 0 &&
	    pipeline_check(req, SRV(ud), st, &who, id, ROLE_VIEWER) == 0)
		respond_pipeline(req, st, id, 200);
	return 0;
}

static int h_pipeline_jobs(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline p;
	struct store_job *jobs = NULL;
	size_t n = 0, i;
	struct principal who;
	int64_t id;
	json_t *a;
	int rc;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0 || id_param(req, "id", &id) < 0 ||
	    pipeline_check(req, SRV(ud), st, &who, id, ROLE_VIEWER) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	rc = store_pipeline_get(st, id, &p, &err);
	if (rc == 0)
		rc = store_job_list(st, id, http_request_query(req, "all") != NULL, &jobs, &n,
				    &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, job_json(&jobs[i]));
		http_respond_json(req, 200, a);
		json_decref(a);
	}
	store_jobs_free(jobs, n);
	store_pipeline_release(&p);
	strbuf_release(&err);
	return 0;
}

static json_t *tests_json(const struct store_test *t, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:f, s:o}",
						   "suite", t[i].suite, "classname", t[i].classname,
						   "name", t[i].name, "status", t[i].status,
						   "time", t[i].time, "message", json_str_or_null(t[i].message)));
	return a;
}

static int h_pipeline_tests(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_job *jobs = NULL;
	size_t n = 0, i;
	int64_t id;
	long long total = 0, failed = 0, skipped = 0, errors = 0;
	struct principal who;
	json_t *o, *fa;
	int rc;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0 || id_param(req, "id", &id) < 0 ||
	    pipeline_check(req, SRV(ud), st, &who, id, ROLE_VIEWER) < 0)
		return 0;
	{
		struct store_pipeline p;

		memset(&p, 0, sizeof(p));
		rc = store_pipeline_get(st, id, &p, &err);
		store_pipeline_release(&p);
	}
	if (rc == 0)
		rc = store_job_list(st, id, 0, &jobs, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	fa = json_array();
	for (i = 0; i < n; i++) {
		struct store_test *t = NULL;
		size_t tn = 0, k;

		if (jobs[i].tests_total < 0)
			continue;
		total += jobs[i].tests_total;
		failed += jobs[i].tests_failed;
		skipped += jobs[i].tests_skipped;
		errors += jobs[i].tests_errors;
		if (store_tests_list(st, jobs[i].id, 1, &t, &tn, &err) < 0) {
			strbuf_reset(&err);
			continue;
		}
		for (k = 0; k < tn && json_array_size(fa) < 1000; k++) {
			json_t *c = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:o}",
					      "job_id", (json_int_t)jobs[i].id, "job", jobs[i].name,
					      "suite", t[k].suite, "classname", t[k].classname,
					      "name", t[k].name, "status", t[k].status,
					      "time", t[k].time, "message", json_str_or_null(t[k].message));

			json_array_append_new(fa, c);
		}
		store_tests_free(t, tn);
	}
	o = json_pack("{s:I, s:I, s:I, s:I, s:o}", "total", (json_int_t)total,
		      "failed", (json_int_t)failed, "skipped", (json_int_t)skipped,
		      "errors", (json_int_t)errors, "failed_cases", fa);
	http_respond_json(req, 200, o);
	json_decref(o);
done:
	store_jobs_free(jobs, n);
	strbuf_release(&err);
	return 0;
}

typedef int (*pipeline_op_fn)(struct server *, struct store *, int64_t, struct strbuf *);

static int pipeline_op(struct http_request *req, void *ud, pipeline_op_fn fn,
		       const char *action)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct principal who;
	char target[48];
	int64_t id;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || id_param(req, "id", &id) < 0 ||
	    pipeline_check(req, srv, st, &who, id, ROLE_DEVELOPER) < 0)
		return 0;
	rc = fn(srv, st, id, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		snprintf(target, sizeof(target), "pipeline %lld", (long long)id);
		auth_audit(st, req, &who, action, target, NULL);
		respond_pipeline(req, st, id, 200);
	}
	strbuf_release(&err);
	return 0;
}

static int h_pipeline_cancel(struct http_request *req, void *ud)
{
	return pipeline_op(req, ud, runner_cancel_pipeline, "pipeline.cancel");
}

static int h_pipeline_retry(struct http_request *req, void *ud)
{
	return pipeline_op(req, ud, runner_retry_pipeline, "pipeline.retry");
}

/* ---- jobs ---- */

/*
 * The job of the route's :id, asked by a caller who has at least role min
 * on its project; else -1 with the answer sent (401 for bad credentials,
 * 404 also when the caller may not see it).
 */
static int get_job(struct http_request *req, struct server *srv, struct store *st,
		   enum role min, struct store_job *j)
{
	struct strbuf err = STRBUF_INIT;
	struct principal who;
	char what[48];
	int64_t id;
	int rc;

	memset(j, 0, sizeof(*j));
	if (who_asks(req, srv, st, &who) < 0 || id_param(req, "id", &id) < 0)
		return -1;
	rc = store_job_get(st, id, j, &err);
	if (rc < 0)
		store_error(req, rc, &err);
	strbuf_release(&err);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "job %lld", (long long)id);
	if (role_check_id(req, srv, st, &who, j->project_id, min, what) < 0) {
		store_job_release(j);
		return -1;
	}
	return 0;
}

static int respond_job(struct http_request *req, struct store *st, int64_t id, unsigned status)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	rc = store_job_get(st, id, &j, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *o = job_json(&j);

		http_respond_json(req, status, o);
		json_decref(o);
	}
	store_job_release(&j);
	strbuf_release(&err);
	return 0;
}

static int h_job(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;

	if (st && get_job(req, SRV(ud), st, ROLE_VIEWER, &j) == 0) {
		json_t *o = job_json(&j);

		http_respond_json(req, 200, o);
		json_decref(o);
		store_job_release(&j);
	}
	return 0;
}

enum job_op { JOB_CANCEL, JOB_RETRY, JOB_PLAY };

/* A state change of one job; answers with the job (the new attempt for retry). */
static int job_op(struct http_request *req, void *ud, enum job_op op)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	static const char *const actions[] = { "job.cancel", "job.retry", "job.play" };
	struct principal who;
	struct store_job j;
	char target[48];
	int64_t id, shown;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 ||
	    get_job(req, srv, st, ROLE_DEVELOPER, &j) < 0)
		return 0;
	id = j.id;
	store_job_release(&j);
	shown = id;
	if (op == JOB_CANCEL)
		rc = runner_cancel_job(srv, st, id, &err);
	else if (op == JOB_RETRY)
		rc = runner_retry_job(srv, st, id, &shown, &err);
	else
		rc = runner_play_job(srv, st, id, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {	/* cancel of a running job is asked, not done: 202 */
		snprintf(target, sizeof(target), "job %lld", (long long)id);
		auth_audit(st, req, &who, actions[op], target, NULL);
		respond_job(req, st, shown, op == JOB_CANCEL ? 202 : op == JOB_RETRY ? 201 : 200);
	}
	strbuf_release(&err);
	return 0;
}

static int h_job_cancel(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_CANCEL);
}

static int h_job_retry(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_RETRY);
}

static int h_job_play(struct http_request *req, void *ud)
{
	return job_op(req, ud, JOB_PLAY);
}

static int h_job_log(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct store_job j;
	char *path;
	struct stat sb;
	const char *qo = http_request_query(req, "offset");
	const char *ql = http_request_query(req, "limit");
	int fd;

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	path = server_path(srv, "logs", j.id, ".log");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		if (fd >= 0)
			close(fd);
		http_respond_text(req, 200, "", 0);
		goto done;
	}
	if (qo || ql) {
		/* ?offset=N&limit=M: a slice, without Range */
		char *e1 = NULL, *e2 = NULL;
		unsigned long long off = qo ? strtoull(qo, &e1, 10) : 0;
		unsigned long long lim = ql ? strtoull(ql, &e2, 10) : 1 << 20;

		if ((qo && (*e1 || !*qo || *qo == '-')) || (ql && (*e2 || !*ql || *ql == '-'))) {
			close(fd);
			http_respond_error(req, 400, "offset and limit must be byte counts");
			goto done;
		}
		struct strbuf sb2 = STRBUF_INIT;
		ssize_t n;

		if (lim > (64u << 20))
			lim = 64u << 20;
		if (off > (unsigned long long)sb.st_size)
			off = (unsigned long long)sb.st_size;
		if (lim > (unsigned long long)sb.st_size - off)
			lim = (unsigned long long)sb.st_size - off;
		strbuf_grow(&sb2, (size_t)lim + 1);
		n = lim ? pread(fd, sb2.buf, (size_t)lim, (off_t)off) : 0;
		close(fd);
		strbuf_setlen(&sb2, n > 0 ? (size_t)n : 0);
		http_respond_text(req, 200, sb2.buf ? sb2.buf : "", sb2.len);
		strbuf_release(&sb2);
		goto done;
	}
	http_respond_fd(req, fd, (uint64_t)sb.st_size, "text/plain; charset=utf-8");
done:
	store_job_release(&j);
	return 0;
}

static int job_finished(const char *s)
{
	return !strcmp(s, "success") || !strcmp(s, "failed") || !strcmp(s, "canceled") ||
	       !strcmp(s, "skipped");
}

static int h_job_log_stream(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct store_job j;
	const char *o = http_request_query(req, "offset");
	const char *last = http_request_header(req, "Last-Event-ID");
	uint64_t off = 0, access = events_access_now(srv);

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	{
		const char *v = o ? o : last;
		char *end;

		if (v) {
			errno = 0;
			off = strtoull(v, &end, 10);
			if (errno || end == v || *end || *v == '-') {
				http_respond_error(req, 400, "offset must be a byte count");
				store_job_release(&j);
				return 0;
			}
		}
	}
	logs_stream(srv, req, j.id, off, job_finished(j.status), access);
	store_job_release(&j);
	return 0;
}

/*
 * GET /api/v1/events[?project=NAME|pipeline=ID]: status events (SSE) of
 * what the caller may see, decided now: one pipeline, one project, or
 * every visible project (an administrator's stream also gets later ones).
 */
static int h_events(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	const char *pname = http_request_query(req, "project");
	const char *plid = http_request_query(req, "pipeline");
	struct strbuf err = STRBUF_INIT;
	struct events_filter f;
	struct principal who;
	struct store_project *ps = NULL;
	int64_t *ids = NULL, one;
	size_t n = 0, i;
	char caller[64];
	int rc;

	uint64_t access = events_access_now(srv);

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&f, 0, sizeof(f));
	f.access = access;
	if (who.admin && !who.user_id)
		snprintf(caller, sizeof(caller), "token:admin");
	else if (who.user_id)
		snprintf(caller, sizeof(caller), "user:%lld", (long long)who.user_id);
	else
		snprintf(caller, sizeof(caller), "addr:%s", http_request_remote(req));
	f.caller = caller;
	if (plid) {
		struct store_pipeline p;
		char what[48];
		char *end;
		long long v = strtoll(plid, &end, 10);

		if (!*plid || *end || v <= 0)
			return http_respond_error(req, 400, "pipeline must be a pipeline id");
		snprintf(what, sizeof(what), "pipeline %lld", v);
		memset(&p, 0, sizeof(p));
		rc = store_pipeline_get(st, v, &p, &err);
		if (rc == STORE_NOTFOUND)
			http_respond_error(req, 404, "%s not found", what);
		else if (rc < 0)
			store_error(req, rc, &err);
		else if (role_check_id(req, srv, st, &who, p.project_id, ROLE_VIEWER, what) == 0) {
			f.pipeline_id = p.id;
			events_stream(srv, req, &f);
		}
		store_pipeline_release(&p);
		strbuf_release(&err);
		return 0;
	}
	if (pname) {
		struct store_project p;
		char what[AUTH_LOGIN_MAX + 80];

		snprintf(what, sizeof(what), "project %.100s", pname);
		memset(&p, 0, sizeof(p));
		rc = store_project_get(st, pname, &p, &err);
		if (rc == STORE_NOTFOUND)
			http_respond_error(req, 404, "%s not found", what);
		else if (rc < 0)
			store_error(req, rc, &err);
		else if (role_check(req, srv, st, &who, &p, ROLE_VIEWER, what) == 0) {
			one = p.id;
			f.projects = &one;
			f.projects_nr = 1;
			events_stream(srv, req, &f);
		}
		store_project_release(&p);
		strbuf_release(&err);
		return 0;
	}
	if (who.admin) {
		f.all = 1;
		events_stream(srv, req, &f);
		return 0;
	}
	rc = store_project_list(st, &ps, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		strbuf_release(&err);
		return 0;
	}
	ids = xcalloc(n + 1, sizeof(*ids));
	for (i = 0; i < n; i++)
		if (auth_role(srv, st, &who, &ps[i]) >= ROLE_VIEWER)
			ids[f.projects_nr++] = ps[i].id;
	f.projects = ids;
	events_stream(srv, req, &f);
	free(ids);
	store_projects_free(ps, n);
	strbuf_release(&err);
	return 0;
}

static int h_job_tests(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_test *t = NULL;
	struct store_job j;
	size_t n = 0;
	int rc;

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	rc = store_tests_list(st, j.id, http_request_query(req, "failed") != NULL, &t, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *a = tests_json(t, n);

		http_respond_json(req, 200, a);
		json_decref(a);
	}
	store_tests_free(t, n);
	store_job_release(&j);
	strbuf_release(&err);
	return 0;
}

/*
 * 410 when job j's artifacts expired (the reaper deleted them): 1 then,
 * else 0.
 */
static int artifacts_gone(struct http_request *req, const struct store_job *j)
{
	json_t *at;

	if (!j->artifacts_expired)
		return 0;
	at = json_time(j->artifacts_expire_at ? j->artifacts_expire_at : j->artifacts_expired);
	http_respond_error(req, 410, "the artifacts of job %lld expired at %s",
			   (long long)j->id, json_string_value(at));
	json_decref(at);
	return 1;
}

/*
 * Job j's artifacts as a JSON array, or NULL with the error sent (410
 * when they expired).
 */
static json_t *artifacts_json(struct http_request *req, struct store *st,
			      const struct store_job *j)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact *a = NULL;
	json_t *arr = NULL;
	size_t n = 0, i;
	int rc;

	if (artifacts_gone(req, j))
		return NULL;
	rc = store_artifacts_list(st, j->id, &a, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:o, s:I, s:s, s:i, s:o}",
							     "path", json_str_or_null(a[i].path),
							     "size", (json_int_t)a[i].size,
							     "sha256", a[i].sha256, "mode", a[i].mode,
							     "expire_at",
							     json_time(j->artifacts_expire_at)));
	}
	store_artifacts_free(a, n);
	strbuf_release(&err);
	return arr;
}

static int h_job_artifacts(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;
	json_t *arr;

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	arr = artifacts_json(req, st, &j);
	if (arr)
		http_respond_json(req, 200, arr);
	json_decref(arr);
	store_job_release(&j);
	return 0;
}

/*
 * The job whose artifacts a project's "latest" routes serve (GitLab's
 * jobs/artifacts/REF/...): the job named by ?job= of the newest
 * successful pipeline of ?ref= (a branch or tag; default: the default
 * branch), that job itself successful. 0, or -1 with the error sent.
 */
static int latest_job(struct http_request *req, struct server *srv, struct store *st,
		      struct store_job *j)
{
	const char *name = http_request_query(req, "job"), *ref = http_request_query(req, "ref");
	struct store_pipeline_filter f;
	struct store_pipeline *ps = NULL;
	struct store_job *jobs = NULL;
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct principal who;
	char *def = NULL;
	size_t n = 0, nj = 0, i;
	int rc = -1;

	memset(j, 0, sizeof(*j));
	memset(&p, 0, sizeof(p));
	if (who_asks(req, srv, st, &who) < 0 ||
	    project_of(req, srv, st, &who, ROLE_VIEWER, &p) < 0)
		goto done;
	if (!name || !*name || strlen(name) > 255 || (ref && (!*ref || strlen(ref) > 1024))) {
		http_respond_error(req, 400, "job=NAME is needed (and ref=, when given, "
				   "a branch or tag name)");
		goto done;
	}
	if (!ref) {
		char *mirror = server_mirror_path(srv, p.name);

		ref = def = mirror_head_branch(mirror);
		free(mirror);
	}
	memset(&f, 0, sizeof(f));
	f.project_id = p.id;
	f.ref = ref;
	f.status = "success";
	f.limit = 1;
	if (store_pipeline_list(st, &f, &ps, &n, &err) < 0) {
		store_error(req, -1, &err);
		goto done;
	}
	if (!n) {
		http_respond_error(req, 404, "project %s has no successful pipeline on %s",
				   p.name, ref);
		goto done;
	}
	if (store_job_list(st, ps[0].id, 0, &jobs, &nj, &err) < 0) {
		store_error(req, -1, &err);
		goto done;
	}
	for (i = 0; i < nj; i++)
		if (!strcmp(jobs[i].name, name) && !strcmp(jobs[i].status, "success"))
			break;
	if (i == nj) {
		http_respond_error(req, 404, "no successful job %s in pipeline %lld, the "
				   "latest successful one of %s", name, (long long)ps[0].id, ref);
		goto done;
	}
	rc = store_job_get(st, jobs[i].id, j, &err);
	if (rc < 0)
		store_error(req, rc, &err);
done:
	store_jobs_free(jobs, nj);
	store_pipelines_free(ps, n);
	store_project_release(&p);
	strbuf_release(&err);
	free(def);
	return rc < 0 ? -1 : 0;
}

/* ---- releases ---- */

static json_t *release_json(const struct store_release *r)
{
	json_t *o = json_object(), *data = json_loads(r->data ? r->data : "{}", 0, NULL);
	json_t *v;

	json_object_set_new(o, "tag_name", json_str_or_null(r->tag_name));
	json_object_set_new(o, "name", json_str_or_null(r->name));
	json_object_set_new(o, "description", json_str_or_null(r->description));
	json_object_set_new(o, "ref", json_str_or_null(r->ref));
	json_object_set_new(o, "commit", json_pack("{s:s?}", "id", r->sha));
	json_object_set_new(o, "released_at", json_str_or_null(r->released_at));
	json_object_set_new(o, "created_at", json_time(r->created));
	json_object_set_new(o, "updated_at", json_time(r->updated));
	v = json_object_get(data, "milestones");
	json_object_set(o, "milestones", json_is_array(v) ? v : json_array());
	v = json_object_get(data, "assets");
	if (json_is_object(v))
		json_object_set(o, "assets", v);
	else
		json_object_set_new(o, "assets", json_pack("{s:[]}", "links"));
	v = json_object_get(data, "tag_message");
	json_object_set(o, "tag_message", json_is_string(v) ? v : json_null());
	json_object_set_new(o, "pipeline_id", json_integer(r->pipeline_id));
	json_object_set_new(o, "job_id", json_integer(r->job_id));
	json_decref(data);
	return o;
}

/* GET /projects/NAME/releases: the latest released first, at most 100 (?per_page) */
static int h_releases(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_release *a = NULL;
	struct store_project p;
	struct principal who;
	const char *pp = http_request_query(req, "per_page");
	size_t n = 0, i;
	int limit = pp ? atoi(pp) : 20;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, SRV(ud), st, &who, ROLE_VIEWER, &p) < 0)
		goto done;
	if (limit < 1 || limit > 100) {
		http_respond_error(req, 400, "per_page must be 1 to 100");
		goto done;
	}
	if (store_release_list(st, p.id, limit, &a, &n, &err) < 0) {
		store_error(req, -1, &err);
	} else {
		json_t *arr = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(arr, release_json(&a[i]));
		http_respond_json(req, 200, arr);
		json_decref(arr);
	}
done:
	store_releases_free(a, n);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* GET /projects/NAME/releases/TAG */
static int h_release(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct strbuf err = STRBUF_INIT;
	struct store_release r;
	struct store_project p;
	struct principal who;
	int rc;

	if (!st || who_asks(req, SRV(ud), st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&r, 0, sizeof(r));
	if (project_of(req, SRV(ud), st, &who, ROLE_VIEWER, &p) < 0)
		goto done;
	rc = store_release_get(st, p.id, http_request_param(req, "tag"), &r, &err);
	if (rc == STORE_NOTFOUND) {
		http_respond_error(req, 404, "project %s has no release %s", p.name,
				   http_request_param(req, "tag"));
	} else if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *o = release_json(&r);

		http_respond_json(req, 200, o);
		json_decref(o);
	}
done:
	store_release_release(&r);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* GET /projects/NAME/artifacts?job=&ref=: {"job": JOB, "artifacts": [...]} */
static int h_latest_artifacts(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;
	json_t *arr;

	if (!st || latest_job(req, SRV(ud), st, &j) < 0)
		return 0;
	arr = artifacts_json(req, st, &j);
	if (arr) {
		json_t *o = json_pack("{s:o, s:o}", "job", job_json(&j), "artifacts", arr);

		http_respond_json(req, 200, o);
		json_decref(o);
	}
	store_job_release(&j);
	return 0;
}

/* POST /jobs/ID/artifacts/keep: GitLab's "Keep": the artifacts never expire. */
static int h_job_artifacts_keep(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_artifact *a = NULL;
	struct principal who;
	struct store_job j;
	char target[48];
	size_t n = 0;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 ||
	    get_job(req, srv, st, ROLE_DEVELOPER, &j) < 0)
		return 0;
	if (artifacts_gone(req, &j))
		goto done;
	rc = store_artifacts_from(st, j.id, "", 0, 1, &a, &n, &err);
	if (rc == 0 && !n) {
		http_respond_error(req, 404, "job %lld has no artifacts", (long long)j.id);
		goto done;
	}
	if (rc == 0)
		rc = store_artifacts_set_expiry(st, j.id, 0, &err);
	if (rc == STORE_CONFLICT) {
		/* the reaper came first */
		http_respond_error(req, 410, "%s", err.buf);
	} else if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		snprintf(target, sizeof(target), "job %lld", (long long)j.id);
		auth_audit(st, req, &who, "job.artifacts.keep", target, NULL);
		respond_job(req, st, j.id, 200);
	}
done:
	store_artifacts_free(a, n);
	store_job_release(&j);
	strbuf_release(&err);
	return 0;
}

/* The file of job j's artifact at the route's *path. */
/*
 * The stored file of artifact a (its blob in the CAS), opened: 0 with
 * *fd and *size, or -1 with a 410 sent.
 */
static int artifact_blob(struct http_request *req, struct server *srv,
			 const struct store_artifact *a, int *fd, uint64_t *size)
{
	struct strbuf dir = STRBUF_INIT, p = STRBUF_INIT;
	struct stat sb;

	strbuf_addf(&dir, "%s/artifacts", srv->data);
	cas_path(dir.buf, a->sha256, &p);
	*fd = open(p.buf, O_RDONLY | O_CLOEXEC);
	strbuf_release(&dir);
	strbuf_release(&p);
	if (*fd < 0 || fstat(*fd, &sb) < 0) {
		if (*fd >= 0)
			close(*fd);
		http_respond_error(req, 410, "the file of artifact %s is gone from the store",
				   a->path);
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return 0;
}

static void artifact_file(struct http_request *req, struct server *srv, struct store *st,
			  const struct store_job *j)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact a;
	uint64_t size;
	int rc, fd;

	memset(&a, 0, sizeof(a));
	if (artifacts_gone(req, j))
		goto done;
	rc = store_artifact_get(st, j->id, http_request_param(req, "path"), &a, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	if (artifact_blob(req, srv, &a, &fd, &size) == 0)
		http_respond_fd(req, fd, size, "application/octet-stream");
done:
	store_artifact_release(&a);
	strbuf_release(&err);
}

static int h_job_artifact(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	artifact_file(req, SRV(ud), st, &j);
	store_job_release(&j);
	return 0;
}

/* GET /projects/NAME/artifacts/PATH?job=&ref=: that file of the latest job */
static int h_latest_artifact(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;

	if (!st || latest_job(req, SRV(ud), st, &j) < 0)
		return 0;
	artifact_file(req, SRV(ud), st, &j);
	store_job_release(&j);
	return 0;
}

/* Job j's artifacts as one ZIP archive (artzip.c), or the listing's errors. */
static void artifacts_zip(struct http_request *req, struct server *srv, struct store *st,
			  const struct store_job *j)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact *a = NULL;
	size_t n = 0;
	int rc;

	if (artifacts_gone(req, j))
		return;
	if ((rc = store_artifacts_list(st, j->id, &a, &n, &err)) < 0) {
		store_error(req, rc, &err);
		store_artifacts_free(a, n);
	} else {
		artzip_respond(req, srv, j, a, n);
	}
	strbuf_release(&err);
}

/* GET /jobs/ID/artifacts.zip: GitLab's "Download artifacts" */
static int h_job_artifacts_zip(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;

	if (!st || get_job(req, SRV(ud), st, ROLE_VIEWER, &j) < 0)
		return 0;
	artifacts_zip(req, SRV(ud), st, &j);
	store_job_release(&j);
	return 0;
}

/* GET /projects/NAME/artifacts.zip?job=&ref=: the latest job's, as one archive */
static int h_latest_artifacts_zip(struct http_request *req, void *ud)
{
	struct store *st = store_or_500(req, SRV(ud));
	struct store_job j;

	if (!st || latest_job(req, SRV(ud), st, &j) < 0)
		return 0;
	artifacts_zip(req, SRV(ud), st, &j);
	store_job_release(&j);
	return 0;
}

/* ---- Pages: a project's site, its newest Pages job's artifacts ---- */

/* The Content-Type of a site's file, by its extension. */
static const char *pages_type(const char *path)
{
	static const struct { const char *ext, *type; } types[] = {
		{ "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
		{ "css", "text/css; charset=utf-8" }, { "js", "text/javascript; charset=utf-8" },
		{ "mjs", "text/javascript; charset=utf-8" }, { "json", "application/json" },
		{ "map", "application/json" }, { "txt", "text/plain; charset=utf-8" },
		{ "md", "text/plain; charset=utf-8" }, { "xml", "application/xml" },
		{ "svg", "image/svg+xml" }, { "png", "image/png" }, { "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" }, { "gif", "image/gif" }, { "webp", "image/webp" },
		{ "avif", "image/avif" }, { "ico", "image/x-icon" }, { "pdf", "application/pdf" },
		{ "woff", "font/woff" }, { "woff2", "font/woff2" }, { "ttf", "font/ttf" },
		{ "otf", "font/otf" }, { "wasm", "application/wasm" }, { "csv", "text/csv" },
		{ "mp4", "video/mp4" }, { "webm", "video/webm" }, { "zip", "application/zip" },
		{ "gz", "application/gzip" }, { "atom", "application/atom+xml" },
		{ "rss", "application/rss+xml" }, { "webmanifest", "application/manifest+json" },
	};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	size_t i;

	if (dot && (!slash || dot > slash))
		for (i = 0; i < ARRAY_SIZE(types); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/*
 * The artifact DIR/rel of job j, opened: its fd and size, 1; 0 when the
 * job has no such file; -1 with the error sent.
 */
static int pages_open(struct http_request *req, struct server *srv, struct store *st,
		      const struct store_job *j, const char *rel, int *fd, uint64_t *size)
{
	struct strbuf err = STRBUF_INIT, path = STRBUF_INIT;
	struct store_artifact a;
	int rc;

	memset(&a, 0, sizeof(a));
	if (!strcmp(j->pages, "."))
		strbuf_addstr(&path, rel);
	else
		strbuf_addf(&path, "%s/%s", j->pages, rel);
	rc = store_artifact_get(st, j->id, path.buf, &a, &err);
	if (rc == STORE_NOTFOUND) {
		rc = 0;
		goto done;
	}
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	rc = artifact_blob(req, srv, &a, fd, size) < 0 ? -1 : 1;
done:
	store_artifact_release(&a);
	strbuf_release(&err);
	strbuf_release(&path);
	return rc;
}

/*
 * Pages capabilities: a private project's site in a browser. The page
 * itself comes with the session cookie, but a sandboxed page's own
 * requests (stylesheets, scripts, images) do not: its origin is opaque.
 * So a session's visit is redirected under /pages/NAME/-/CAP/, where
 * relative links keep CAP, which stands for the visitor for
 * PAGES_CAP_SECONDS: "EXPIRY.USER.ADMIN.MAC", the MAC an HMAC-SHA256
 * of the project id and those three under a key made at the server's
 * start (a restart ends every capability: the next visit with the
 * cookie gets a new one). The visitor's role is asked again each time.
 */
#define PAGES_CAP_SECONDS (8 * 3600)
static unsigned char pages_key[32];
static pthread_once_t pages_key_once = PTHREAD_ONCE_INIT;

static void pages_key_init(void)
{
	randombytes_buf(pages_key, sizeof(pages_key));
}

static void pages_mac(int64_t project, long long expiry, int64_t user, int admin,
		      char hex[65])
{
	unsigned char mac[32];
	char msg[128];
	int n;

	pthread_once(&pages_key_once, pages_key_init);
	n = snprintf(msg, sizeof(msg), "pages:%" PRId64 ":%lld:%" PRId64 ":%d", project,
		     expiry, user, admin);
	hmac_sha256(pages_key, sizeof(pages_key), msg, (size_t)n, mac);
	sodium_bin2hex(hex, 65, mac, sizeof(mac));
}

static void pages_cap_new(struct strbuf *out, int64_t project, const struct principal *who)
{
	long long expiry = (long long)time(NULL) + PAGES_CAP_SECONDS;
	char hex[65];

	pages_mac(project, expiry, who->user_id, !!who->admin, hex);
	strbuf_addf(out, "%lld.%" PRId64 ".%d.%s", expiry, who->user_id, !!who->admin, hex);
}

/* cap's visitor, when cap is one of ours for project and still good: 0 */
static int pages_cap_check(const char *cap, int64_t project, struct principal *who)
{
	long long expiry, user;
	int admin, n = 0;
	char hex[65], want[65];

	if (strlen(cap) > 200 ||
	    sscanf(cap, "%lld.%lld.%d.%64[0-9a-f]%n", &expiry, &user, &admin, hex, &n) != 4 ||
	    cap[n] || strlen(hex) != 64 || (admin != 0 && admin != 1) || user < 0 ||
	    expiry < (long long)time(NULL))
		return -1;
	pages_mac(project, expiry, (int64_t)user, admin, want);
	if (sodium_memcmp(hex, want, 64))
		return -1;
	memset(who, 0, sizeof(*who));
	who->user_id = (int64_t)user;
	who->admin = admin;
	return 0;
}

static void pages_redirect(struct http_request *req, unsigned status, const char *loc)
{
	http_add_header(req, "Location", loc);
	http_respond_data(req, status, "text/plain; charset=utf-8", "", 0);
}

/* The same path of the site under a new capability for who (302). */
static void pages_cap_redirect(struct http_request *req, const struct store_project *p,
			       const struct principal *who, const char *rel)
{
	struct strbuf loc = STRBUF_INIT;

	strbuf_addf(&loc, "/pages/%s/-/", p->name);
	pages_cap_new(&loc, p->id, who);
	strbuf_addch(&loc, '/');
	strbuf_add_urlpath(&loc, rel ? rel : "");
	pages_redirect(req, 302, loc.buf);
	strbuf_release(&loc);
}

/*
 * GET /pages/NAME/[PATH] (and /pages/NAME/-/CAP/[PATH], above): the
 * project's site, the directory of its newest successful Pages job
 * (pages:publish, "public" by default) among that job's artifacts, to
 * whoever may see the project. PATH or PATH/ is PATH/index.html, PATH
 * may also be PATH.html, a directory without its slash is redirected to
 * it, and a missing file is the site's 404.html (status 404) when it has
 * one. Every response runs in a sandbox of its own (CSP "sandbox"
 * without allow-same-origin): the site's scripts get an opaque origin,
 * so they can neither read this server's pages nor call its API with
 * the visitor's session.
 */
static int h_pages(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	const char *rel = http_request_param(req, "path");
	const char *cap = http_request_param(req, "cap");
	struct strbuf err = STRBUF_INIT, try = STRBUF_INIT, base = STRBUF_INIT;
	struct strbuf loc = STRBUF_INIT;
	struct store_project p;
	struct store_job j;
	struct principal who;
	uint64_t size = 0;
	size_t len;
	int fd = -1, rc, status = 200;

	memset(&p, 0, sizeof(p));
	memset(&j, 0, sizeof(j));
	if (!st)
		goto out;
	if (cap) {
		rc = store_project_get(st, http_request_param(req, "name"), &p, &err);
		if (rc != 0 || pages_cap_check(cap, p.id, &who) < 0 ||
		    auth_role(srv, st, &who, &p) < ROLE_VIEWER) {
			int renew = 0;

			/* an old capability, the visitor still here: a new one */
			if (rc == 0 && http_request_header(req, "Cookie")) {
				if (who_asks(req, srv, st, &who) < 0)
					goto out;       /* answered */
				renew = who.via_session &&
					auth_role(srv, st, &who, &p) >= ROLE_VIEWER;
			}
			if (renew) {
				pages_cap_redirect(req, &p, &who, rel);
			} else {
				http_respond_error(req, 404, "no such Pages site, or this link "
						   "has expired: open /pages/%s/ again",
						   http_request_param(req, "name"));
			}
			goto out;
		}
		strbuf_addf(&base, "/pages/%s/-/%s/", p.name, cap);
	} else {
		if (who_asks(req, srv, st, &who) < 0 ||
		    project_of(req, srv, st, &who, ROLE_VIEWER, &p) < 0)
			goto out;
		strbuf_addf(&base, "/pages/%s/", p.name);
	}
	if (!cap && !p.public_read && who.via_session) {
		/* a browser on a private site: its files need the capability */
		pages_cap_redirect(req, &p, &who, rel);
		goto out;
	}
	/* a parallel deployment: a first segment that is one's path prefix */
	rc = STORE_NOTFOUND;
	if (rel && *rel) {
		size_t n = strcspn(rel, "/");
		char *seg = xstrndup(rel, n);

		if (n <= 63 && strcmp(seg, "-"))
			rc = store_job_pages(st, p.id, seg, server_now_ms(), &j, &err);
		if (rc == 0 && !rel[n]) {
			strbuf_add(&loc, base.buf, base.len);
			strbuf_add_urlpath(&loc, seg);
			strbuf_addch(&loc, '/');
			pages_redirect(req, 301, loc.buf);
			free(seg);
			goto out;
		}
		if (rc == 0) {
			strbuf_add_urlpath(&base, seg);
			strbuf_addch(&base, '/');
			rel += n + 1;
		}
		free(seg);
	}
	if (rc == STORE_NOTFOUND) {
		strbuf_reset(&err);
		rc = store_job_pages(st, p.id, "", server_now_ms(), &j, &err);
	}
	if (rc == STORE_NOTFOUND) {
		http_respond_error(req, 404, "project %s has no Pages site: no Pages job "
				   "has succeeded (a job named pages, or with pages:)", p.name);
		goto out;
	}
	if (rc < 0) {
		store_error(req, rc, &err);
		goto out;
	}
	if (!rel) {
		/* the site's root without its slash */
		pages_redirect(req, 301, base.buf);
		goto out;
	}
	http_add_header(req, "Content-Security-Policy", "sandbox allow-scripts allow-forms "
			"allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_add_header(req, "Cache-Control", cap ? "private, no-cache" : "no-cache");
	http_add_header(req, "Referrer-Policy", "no-referrer");
	len = strlen(rel);
	if (len > 4096) {
		http_respond_error(req, 414, "a path of at most 4096 bytes");
		goto out;
	}
	if (!len || rel[len - 1] == '/') {
		strbuf_addf(&try, "%sindex.html", rel);
		rc = pages_open(req, srv, st, &j, try.buf, &fd, &size);
	} else {
		strbuf_addstr(&try, rel);
		rc = pages_open(req, srv, st, &j, try.buf, &fd, &size);
		if (!rc) {
			strbuf_reset(&try);
			strbuf_addf(&try, "%s/index.html", rel);
			rc = pages_open(req, srv, st, &j, try.buf, &fd, &size);
			if (rc > 0) {
				/* a directory: its relative links need the slash */
				close(fd);
				strbuf_add(&loc, base.buf, base.len);
				strbuf_add_urlpath(&loc, rel);
				strbuf_addch(&loc, '/');
				pages_redirect(req, 301, loc.buf);
				goto out;
			}
		}
		if (!rc) {
			strbuf_reset(&try);
			strbuf_addf(&try, "%s.html", rel);
			rc = pages_open(req, srv, st, &j, try.buf, &fd, &size);
		}
	}
	if (!rc) {
		strbuf_reset(&try);
		strbuf_addstr(&try, "404.html");
		rc = pages_open(req, srv, st, &j, try.buf, &fd, &size);
		status = 404;
		if (!rc) {
			http_respond_error(req, 404, "no file %s in the Pages site of %s", rel,
					   p.name);
			goto out;
		}
	}
	if (rc < 0)
		goto out;
	if (status == 404) {
		/* the site's own "not found" page, read whole: it is small */
		char *body = size <= (1 << 20) ? malloc(size ? size : 1) : NULL;
		uint64_t got = 0;
		ssize_t n = 1;

		while (body && got < size &&
		       (n = pread(fd, body + got, size - got, (off_t)got)) > 0)
			got += (uint64_t)n;
		close(fd);
		if (!body || got < size)
			http_respond_error(req, 404, "no file %s in the Pages site of %s", rel,
					   p.name);
		else
			http_respond_data(req, 404, "text/html; charset=utf-8", body, size);
		free(body);
		goto out;
	}
	http_respond_fd(req, fd, size, pages_type(try.buf));
out:
	store_job_release(&j);
	store_project_release(&p);
	strbuf_release(&err);
	strbuf_release(&try);
	strbuf_release(&base);
	strbuf_release(&loc);
	return 0;
}

/*
 * GET /api/v1/projects/NAME/pages: the project's live Pages deployments,
 * the main site ("prefix": "") first: where each is served, its job, and
 * when it expires (null: not by itself).
 */
static int h_pages_list(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct store_job *jobs = NULL;
	struct principal who;
	size_t n = 0, i;
	json_t *a;
	char *base;

	memset(&p, 0, sizeof(p));
	if (!st || who_asks(req, srv, st, &who) < 0 ||
	    project_of(req, srv, st, &who, ROLE_VIEWER, &p) < 0)
		goto out;
	if (store_pages_list(st, p.id, server_now_ms(), &jobs, &n, &err) < 0) {
		store_error(req, -1, &err);
		goto out;
	}
	base = server_base_url(srv);
	a = json_array();
	for (i = 0; i < n; i++) {
		const char *prefix = jobs[i].pages_prefix ? jobs[i].pages_prefix : "";
		char *path = *prefix ? xasprintf("/pages/%s/%s/", p.name, prefix) :
				       xasprintf("/pages/%s/", p.name);
		char *url = xasprintf("%s%s", base, path);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "prefix", prefix,
				      "path", path, "url", url, "directory", jobs[i].pages,
				      "job", job_json(&jobs[i]));

		json_object_set_new(o, "expires_at", jobs[i].pages_expire_ms ?
				    json_time(jobs[i].finished + jobs[i].pages_expire_ms) :
				    json_null());
		json_array_append_new(a, o);
		free(path);
		free(url);
	}
	free(base);
	{
		json_t *r = json_pack("{s:o}", "deployments", a);

		http_respond_json(req, 200, r);
		json_decref(r);
	}
out:
	store_jobs_free(jobs, n);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* ---- triggers from git: hook and webhooks ---- */

/*
 * The push options of a hook's push (git push -o OPTION): ci.skip, and
 * ci.variable=KEY=VALUE as pipeline variables, as GitLab; others are
 * ignored. 0, or -1 with a 400 sent.
 */
static int hook_push_options(struct http_request *req, const json_t *o, int *skip,
			     struct varlist *vars)
{
	json_t *a = json_object_get(o, "push_options"), *e, *obj;
	struct strbuf msg = STRBUF_INIT;
	const char *k;
	size_t i;
	int rc = -1;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > HOOK_MAX_PUSH_OPTIONS) {
		http_respond_error(req, 400, "push_options must be an array of at most %d strings",
				   HOOK_MAX_PUSH_OPTIONS);
		return -1;
	}
	obj = json_object();
	json_array_foreach(a, i, e) {
		const char *s = json_string_value(e), *eq;

		if (!s) {
			http_respond_error(req, 400, "push_options must be strings");
			goto done;
		}
		if (!strcmp(s, "ci.skip")) {
			*skip = 1;
		} else if (!strncmp(s, "ci.variable=", 12)) {
			char *key;

			eq = strchr(s + 12, '=');
			if (!eq) {
				http_respond_error(req, 400, "push option %.80s: ci.variable wants "
						   "KEY=VALUE", s);
				goto done;
			}
			key = xstrndup(s + 12, (size_t)(eq - (s + 12)));
			json_object_set_new(obj, key, json_string(eq + 1));
			free(key);
		}
	}
	if (json_object_size(obj) && trigger_variables_check(obj, &msg) < 0) {
		http_respond_error(req, 400, "push option ci.variable: %s", msg.buf);
		goto done;
	}
	json_object_foreach(obj, k, e)
		varlist_set(vars, k, json_string_value(e));
	rc = 0;
done:
	json_decref(obj);
	strbuf_release(&msg);
	return rc;
}

static int h_hook(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct server_config cfg;
	const char *name, *tok = http_request_header(req, "X-Cidre-Hook-Token");
	json_t *o, *refs, *ids = NULL, *dropped = NULL, *resp;
	struct varlist vars = VARLIST_INIT;
	char *mirror = NULL;
	size_t i;
	int fetched = 0, skip = 0;

	if (!st || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	server_cfg(srv, &cfg);
	if (opt_str(req, o, "project", 64, &name))
		goto done;
	if (!name || store_project_get(st, name, &p, &err) < 0) {
		/* the same answer for a wrong project and a wrong token */
		http_respond_error(req, 401, "unknown project or bad hook token");
		goto done;
	}
	if (seal_open_in_place(&p.hook_secret, &err) < 0) {
		slog_warn("hook for %s: %s", p.name, err.buf);
		http_respond_error(req, 500, "the project's hook secret cannot be read");
		goto done;
	}
	if (!tok || !ct_streq(tok, p.hook_secret)) {
		http_respond_error(req, 401, "unknown project or bad hook token");
		goto done;
	}
	refs = json_object_get(o, "refs");
	if (!json_is_array(refs)) {
		http_respond_error(req, 400, "refs must be an array of {old, new, ref}");
		goto done;
	}
	if (hook_push_options(req, o, &skip, &vars) < 0)
		goto done;
	ids = json_array();
	dropped = json_array();
	mirror = server_mirror_path(srv, p.name);
	for (i = 0; i < json_array_size(refs); i++) {
		json_t *r = json_array_get(refs, i);
		const char *ref = json_string_value(json_object_get(r, "ref"));
		const char *old = json_string_value(json_object_get(r, "old"));
		const char *new = json_string_value(json_object_get(r, "new"));
		struct trigger t;
		int64_t id;
		int status, tag;

		if (!ref || !new || !mirror_is_sha(new) ||
		    !strcmp(new, "0000000000000000000000000000000000000000"))
			continue; /* deletions, bad lines: not built */
		tag = !strncmp(ref, "refs/tags/", 10);
		if (!tag && strncmp(ref, "refs/heads/", 11))
			continue; /* notes, merge requests' refs, others */
		/* every tag is built, as GitLab's; branches as the project says */
		if (!tag && !server_branch_matches(p.branches, ref + 11))
			continue;
		if (json_array_size(ids) >= (size_t)cfg.max_pipelines_per_push) {
			json_array_append_new(dropped, json_pack("{s:s, s:s}", "ref", ref, "reason",
				"more branches in one push than limits.pipelines_per_push"));
			continue;
		}
		if (!fetched) {
			if (server_fetch(mirror, &err) < 0) {
				http_respond_error(req, 502, "fetching %s: %s", p.repo, err.buf);
				goto done;
			}
			fetched = 1;
		}
		memset(&t, 0, sizeof(t));
		t.project = &p;
		t.ref = ref + (tag ? 10 : 11);
		t.tag = tag;
		t.sha = new;
		/* a tag's previous target is no earlier commit of it */
		t.before = !tag && old && mirror_is_sha(old) &&
			   strcmp(old, "0000000000000000000000000000000000000000") ? old : NULL;
		t.source = "push";
		t.fetched = 1;
		t.skip_ci = skip;
		t.vars = &vars;
		if (server_create_pipeline(srv, &t, &id, &status, &err) < 0) {
			json_array_append_new(dropped, json_pack("{s:s, s:s}", "ref", ref,
								 "reason", err.buf));
			strbuf_reset(&err);
			continue;
		}
		{
			json_t *e = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)id, "ref", t.ref,
					      "tag", tag);
			struct store_pipeline pl;

			/* a pipeline skipped at once ([skip ci]) says so */
			memset(&pl, 0, sizeof(pl));
			if (store_pipeline_get(st, id, &pl, &err) == 0 &&
			    !strcmp(pl.status, "skipped") && pl.error)
				json_object_set_new(e, "skipped", json_string(pl.error));
			else
				strbuf_reset(&err);
			store_pipeline_release(&pl);
			json_array_append_new(ids, e);
		}
	}
	resp = json_pack("{s:O, s:O}", "pipelines", ids, "dropped", dropped);
	http_respond_json(req, 200, resp);
	json_decref(resp);
done:
	json_decref(ids);
	json_decref(dropped);
	varlist_clear(&vars);
	free(mirror);
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static const char *header_cb(void *ctx, const char *name)
{
	return http_request_header(ctx, name);
}

static int h_webhook(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct webhook_input in;
	struct webhook_push push = WEBHOOK_PUSH_INIT;
	struct server_config cfg;
	int rc, status, tag;
	int64_t id;

	if (!st)
		return 0;
	memset(&p, 0, sizeof(p));
	server_cfg(srv, &cfg);
	if (store_project_get(st, http_request_param(req, "name"), &p, &err) < 0) {
		http_respond_error(req, 401, "unknown project or bad signature");
		goto done;
	}
	memset(&in, 0, sizeof(in));
	webhook_input_headers(&in, header_cb, req);
	in.body = http_request_body(req, &in.len);
	in.max_body = cfg.max_request_body;
	strbuf_reset(&err);
	if (seal_open_in_place(&p.webhook_secret, &err) < 0) {
		slog_warn("webhook for %s: %s", p.name, err.buf);
		http_respond_error(req, 500, "the project's webhook secret cannot be read");
		goto done;
	}
	rc = webhook_parse(&in, p.webhook_secret, &push, &err);
	if (rc == WEBHOOK_UNAUTHORIZED) {
		slog_warn("webhook for %s refused: %s", p.name, err.buf);
		http_respond_error(req, 401, "%s", err.buf);
		goto done;
	}
	if (rc == WEBHOOK_BAD_REQUEST) {
		http_respond_error(req, 400, "%s", err.buf);
		goto done;
	}
	if (rc == WEBHOOK_MERGE_REQUEST || rc == WEBHOOK_MERGE_REQUEST_STATE) {
		/* what CI_OPEN_MERGE_REQUESTS of the branch's pipelines lists */
		struct strbuf e2 = STRBUF_INIT;

		if (store_merge_request_set(st, p.id, push.mr_iid, push.ref + 11,
					    push.target_branch, push.mr_title, push.mr_url,
					    push.mr_state, &e2) < 0)
			slog_warn("webhook for %s: merge request %lld not recorded: %s", p.name,
				  push.mr_iid, e2.buf);
		strbuf_release(&e2);
	}
	if (rc == WEBHOOK_MERGE_REQUEST_STATE) {
		json_t *o = json_pack("{s:s, s:{s:I, s:s}}", "ignored", err.buf, "merge_request",
				      "iid", (json_int_t)push.mr_iid, "state", push.mr_state);

		http_respond_json(req, 202, o);
		json_decref(o);
		goto done;
	}
	tag = rc == WEBHOOK_PUSH && !strncmp(push.ref, "refs/tags/", 10);
	/* a merge request builds whatever its source branch, as GitLab */
	if (rc == WEBHOOK_IGNORED || (rc == WEBHOOK_PUSH && !tag &&
	    (strncmp(push.ref, "refs/heads/", 11) ||
	     !server_branch_matches(p.branches, push.ref + 11)))) {
		json_t *o = json_pack("{s:s}", "ignored",
				      rc == WEBHOOK_IGNORED && err.len ? err.buf :
				      "not a push to a branch this project builds");

		http_respond_json(req, 202, o);
		json_decref(o);
		goto done;
	}
	{
		struct trigger t;

		memset(&t, 0, sizeof(t));
		t.project = &p;
		t.ref = push.ref + (tag ? 10 : 11);
		t.tag = tag;
		t.sha = push.after;
		t.before = tag ? NULL : push.before;
		t.source = "webhook";
		if (rc == WEBHOOK_MERGE_REQUEST) {
			t.before = NULL;
			t.source = "merge_request_event";
			t.mr_iid = push.mr_iid;
			t.mr_title = push.mr_title;
			t.mr_url = push.mr_url;
			t.mr_target = push.target_branch;
			t.mr_target_sha = push.target_sha;
		}
		strbuf_reset(&err);
		if (server_create_pipeline(srv, &t, &id, &status, &err) < 0) {
			http_respond_error(req, (unsigned)status, "%s", err.buf);
			goto done;
		}
	}
	{
		json_t *o = json_pack("{s:[{s:I, s:s, s:b}], s:[]}", "pipelines", "id",
				      (json_int_t)id, "ref", push.ref + (tag ? 10 : 11), "tag", tag,
				      "dropped");

		if (rc == WEBHOOK_MERGE_REQUEST)
			json_object_set_new(json_array_get(json_object_get(o, "pipelines"), 0),
					    "merge_request", json_integer(push.mr_iid));
		http_respond_json(req, 201, o);
		json_decref(o);
	}
done:
	webhook_push_clear(&push);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* ---- API tokens ---- */

/*
 * A new API token of the caller: {"name"} -> 201 {"id", "name", "token"}.
 * The token is shown once; only its SHA-256 is kept (it is 24 random
 * bytes: a slow hash adds nothing). It acts as its owner; the admin
 * token's tokens act as the administrator.
 */
static int h_token_add(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	char tok[6 + 48 + 1], hash[SHA256_HEX_LEN + 1], target[48];
	struct principal who;
	const char *name;
	int64_t id = 0;
	json_t *o, *r;
	size_t i;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	if (opt_str(req, o, "name", 64, &name))
		goto done;
	if (!name || !*name) {
		http_respond_error(req, 400, "name is required: what the token is for, "
				   "1 to 64 characters");
		goto done;
	}
	for (i = 0; name[i]; i++)
		if ((unsigned char)name[i] < 0x20) {
			http_respond_error(req, 400, "name must not hold control characters");
			goto done;
		}
	{
		struct store_token *t = NULL;
		size_t n = 0, live = 0;

		rc = store_token_list(st, who.user_id, &t, &n, &err);
		for (i = 0; rc == 0 && i < n; i++)
			live += !t[i].revoked;
		store_tokens_free(t, n);
		if (rc < 0) {
			store_error(req, rc, &err);
			goto done;
		}
		if (live >= AUTH_MAX_TOKENS) {
			http_respond_error(req, 409, "at most %d live API tokens: revoke one first "
					   "(cidre token revoke ID)", AUTH_MAX_TOKENS);
			goto done;
		}
	}
	memcpy(tok, "cidre_", 6);
	auth_random_hex(tok + 6, 24);
	sha256_hex(tok, strlen(tok), hash);
	rc = store_token_add_user(st, name, hash, who.user_id, &id, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	slog_info("API token %lld (%s) created by %s", (long long)id, name, auth_actor(&who));
	snprintf(target, sizeof(target), "token %lld", (long long)id);
	auth_audit(st, req, &who, "token.create", target, "name %s", name);
	r = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", name, "token", tok);
	http_respond_json(req, 201, r);
	json_decref(r);
done:
	sodium_memzero(tok, sizeof(tok));
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

/* The caller's tokens, never their secrets. */
static int h_tokens(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_token *t = NULL;
	struct principal who;
	size_t n = 0, i;
	json_t *a;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	if (!who.user_id && !who.admin) {
		http_respond_error(req, 401, "an API token is needed (Authorization: Bearer TOKEN)");
		return 0;
	}
	rc = store_token_list(st, who.user_id, &t, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	a = json_array();
	for (i = 0; i < n; i++) {
		json_t *e = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)t[i].id, "name",
				      t[i].name, "revoked", t[i].revoked);

		json_object_set_new(e, "created_at", json_time(t[i].created));
		json_object_set_new(e, "last_used_at", json_time(t[i].last_used));
		json_array_append_new(a, e);
	}
	http_respond_json(req, 200, a);
	json_decref(a);
done:
	store_tokens_free(t, n);
	strbuf_release(&err);
	return 0;
}

/* Revoke one of the caller's tokens (an administrator: anyone's). */
static int h_token_revoke(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct principal who;
	char target[48];
	int64_t id;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || id_param(req, "id", &id) < 0)
		return 0;
	rc = store_token_revoke(st, id, who.admin ? -1 : who.user_id, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		snprintf(target, sizeof(target), "token %lld", (long long)id);
		auth_audit(st, req, &who, "token.revoke", target, NULL);
		events_access_changed(srv);
		http_respond_json_str(req, 200, "{\"revoked\":true}", 16);
	}
	strbuf_release(&err);
	return 0;
}

/* ---- users ---- */

static json_t *user_json(const struct store_user *u)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:b, s:b}", "id", (json_int_t)u->id,
			      "login", u->login, "name", u->name ? u->name : "",
			      "email", u->email ? u->email : "", "admin", u->admin,
			      "disabled", u->disabled);

	json_object_set_new(o, "created_at", json_time(u->created));
	return o;
}

/* The caller. */
static int h_user(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct store_user u;
	struct principal who;
	json_t *o;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	if (!who.user_id && !who.admin) {
		http_respond_error(req, 401, "not logged in");
		return 0;
	}
	memset(&u, 0, sizeof(u));
	if (who.user_id && store_user_get_id(st, who.user_id, &u, NULL) == 0) {
		o = user_json(&u);
	} else {
		o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)0, "login", who.login,
			      "admin", 1);
	}
	if (who.via_session)
		json_object_set_new(o, "csrf", json_string(who.csrf));
	http_respond_json(req, 200, o);
	json_decref(o);
	store_user_release(&u);
	return 0;
}

static int h_users(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_user *u = NULL;
	struct principal who;
	size_t n = 0, i;
	json_t *a;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0 || admin_only(req, &who) < 0)
		return 0;
	rc = store_user_list(st, &u, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, user_json(&u[i]));
		http_respond_json(req, 200, a);
		json_decref(a);
	}
	store_users_free(u, n);
	strbuf_release(&err);
	return 0;
}

static int has_ctl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* {"login","password","name"?,"email"?,"admin"?} -> 201 {"id","login"} (admin only) */
static int h_user_add(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	const char *login, *password, *name, *email;
	struct store_user u;
	struct principal who;
	json_t *o, *adm, *r;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || admin_only(req, &who) < 0 ||
	    !(o = body_json(req)))
		return 0;
	memset(&u, 0, sizeof(u));
	if (opt_str(req, o, "login", AUTH_LOGIN_MAX, &login) ||
	    opt_str(req, o, "password", AUTH_PASSWORD_MAX, &password) ||
	    opt_str(req, o, "name", 256, &name) || opt_str(req, o, "email", 256, &email))
		goto done;
	if (!login || !store_user_login_ok(login)) {
		http_respond_error(req, 400, "login is required: 1 to 64 of A-Z a-z 0-9 . _ -, "
				   "not starting with . or -");
		goto done;
	}
	if (!password || strlen(password) < AUTH_PASSWORD_MIN) {
		http_respond_error(req, 400, "password is required: %d to %d bytes",
				   AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX);
		goto done;
	}
	if (has_ctl(name) || has_ctl(email)) {
		http_respond_error(req, 400, "name and email must not hold control characters");
		goto done;
	}
	adm = json_object_get(o, "admin");
	if (adm && !json_is_null(adm) && !json_is_boolean(adm)) {
		http_respond_error(req, 400, "admin must be true or false");
		goto done;
	}
	u.login = (char *)login;
	u.name = (char *)(name ? name : "");
	u.email = (char *)(email ? email : "");
	u.admin = json_is_true(adm);
	u.password = auth_password_hash(password, &err);
	if (!u.password) {
		http_respond_error(req, 500, "%s", err.buf);
		goto done;
	}
	rc = store_user_add(st, &u, &err);
	free(u.password);
	if (rc == STORE_CONFLICT) {
		http_respond_error(req, 409, "a user %s exists", login);
		goto done;
	}
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	auth_audit(st, req, &who, "user.create", login, "%s", u.admin ? "admin" : "");
	r = json_pack("{s:I, s:s}", "id", (json_int_t)u.id, "login", login);
	http_respond_json(req, 201, r);
	json_decref(r);
done:
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

/* An optional boolean member: 0/1 in *ret, -1 when absent; -1 (400 sent) if not a boolean. */
static int opt_bool(struct http_request *req, json_t *o, const char *k, int *ret)
{
	json_t *v = json_object_get(o, k);

	*ret = -1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		http_respond_error(req, 400, "%s must be true or false", k);
		return -1;
	}
	*ret = json_is_true(v);
	return 0;
}

/*
 * PATCH {"password"?, "current_password"?, "admin"?, "disabled"?}: an
 * administrator changes anyone; a user only their own password, giving
 * the current one. A new password or disabling ends the user's sessions.
 */
static int h_user_patch(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT, what = STRBUF_INIT;
	const char *login = http_request_param(req, "login"), *password, *current;
	struct store_user u, me;
	struct principal who;
	char *hash = NULL;
	json_t *o;
	int rc, admin, disabled;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&u, 0, sizeof(u));
	memset(&me, 0, sizeof(me));
	if (opt_str(req, o, "password", AUTH_PASSWORD_MAX, &password) ||
	    opt_str(req, o, "current_password", AUTH_PASSWORD_MAX, &current) ||
	    opt_bool(req, o, "admin", &admin) || opt_bool(req, o, "disabled", &disabled))
		goto done;
	rc = store_user_get(st, login, &u, &err);
	if (rc == STORE_NOTFOUND || (rc == 0 && !who.admin && u.id != who.user_id)) {
		if (who.admin)
			http_respond_error(req, 404, "user %s not found", login);
		else
			http_respond_error(req, 403, "only an administrator may change other users");
		goto done;
	}
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	if (!who.admin) {
		if (admin >= 0 || disabled >= 0) {
			http_respond_error(req, 403, "only an administrator may change admin or "
					   "disabled");
			goto done;
		}
		if (!current) {
			http_respond_error(req, 400, "current_password is required to change "
					   "your password");
			goto done;
		}
		rc = auth_password_check(st, login, current, http_request_remote(req), &me, &err);
		if (rc == -2) {
			http_add_header(req, "Retry-After", "60");
			http_respond_error(req, 429, "%s", err.buf);
			goto done;
		}
		if (rc < 0) {
			auth_audit(st, req, &who, "session.fail", login, "password change");
			http_respond_error(req, 403, "the current password is wrong");
			goto done;
		}
	}
	if (!password && admin < 0 && disabled < 0) {
		http_respond_error(req, 400, "nothing to change: password, admin or disabled");
		goto done;
	}
	if (password && strlen(password) < AUTH_PASSWORD_MIN) {
		http_respond_error(req, 400, "password must be %d to %d bytes", AUTH_PASSWORD_MIN,
				   AUTH_PASSWORD_MAX);
		goto done;
	}
	if (password && !(hash = auth_password_hash(password, &err))) {
		http_respond_error(req, 500, "%s", err.buf);
		goto done;
	}
	rc = store_user_update(st, u.id, hash, admin, disabled, &err);
	if (rc == 0 && (hash || disabled == 1))
		rc = store_session_prune(st, u.id, 0, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
		goto done;
	}
	if (hash)
		strbuf_addstr(&what, "password");
	if (admin >= 0)
		strbuf_addf(&what, "%sadmin %s", what.len ? ", " : "", admin ? "true" : "false");
	if (disabled >= 0)
		strbuf_addf(&what, "%sdisabled %s", what.len ? ", " : "",
			    disabled ? "true" : "false");
	auth_audit(st, req, &who, "user.update", u.login, "%s", what.buf);
	events_access_changed(srv);
	store_user_release(&u);
	if (store_user_get(st, login, &u, &err) == 0) {
		json_t *r = user_json(&u);

		http_respond_json(req, 200, r);
		json_decref(r);
	} else {
		store_error(req, -1, &err);
	}
done:
	if (hash)
		sodium_memzero(hash, strlen(hash));
	free(hash);
	store_user_release(&u);
	store_user_release(&me);
	json_decref(o);
	strbuf_release(&what);
	strbuf_release(&err);
	return 0;
}

/* ---- sessions (password login) ---- */

static void session_cookie(struct http_request *req, struct server *srv, const char *value,
			   long max_age)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
		 AUTH_SESSION_COOKIE, value, max_age,
		 srv->url && !strncmp(srv->url, "https:", 6) ? "; Secure" : "");
	http_add_header(req, "Set-Cookie", c);
}

/* {"login","password"} -> 200 {"login","csrf"} and the session cookie;
 * 401 wrong, 429 too many failures. */
static int h_session_add(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	char session[AUTH_TOKEN_HEX + 1];
	const char *login, *password;
	struct principal who;
	json_t *o, *r;
	int rc;

	if (!st || !(o = body_json(req)))
		return 0;
	if (opt_str(req, o, "login", AUTH_LOGIN_MAX, &login) ||
	    opt_str(req, o, "password", AUTH_PASSWORD_MAX, &password))
		goto done;
	if (!login || !password) {
		http_respond_error(req, 400, "login and password are required");
		goto done;
	}
	rc = auth_login(srv, st, login, password, http_request_remote(req), &who, session, &err);
	if (rc == -2) {
		http_add_header(req, "Retry-After", "60");
		http_respond_error(req, 429, "%s", err.buf);
		goto done;
	}
	if (rc < 0) {
		struct principal anon;

		memset(&anon, 0, sizeof(anon));
		auth_audit(st, req, &anon, "session.fail", login, NULL);
		http_respond_error(req, 401, "%s", err.buf);
		goto done;
	}
	auth_audit(st, req, &who, "session.create", who.login, NULL);
	session_cookie(req, srv, session, (long)(AUTH_SESSION_MAX_MS / 1000));
	r = json_pack("{s:s, s:s}", "login", who.login, "csrf", who.csrf);
	http_respond_json(req, 200, r);
	json_decref(r);
done:
	sodium_memzero(session, sizeof(session));
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static int h_session_delete(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	char sid[AUTH_TOKEN_HEX + 1];
	struct principal who;

	if (!st || who_changes(req, srv, st, &who) < 0)
		return 0;
	if (!who.via_session || !auth_session_cookie(req, sid)) {
		http_respond_error(req, 400, "no session to end (this request was not made "
				   "with the session cookie)");
		return 0;
	}
	auth_logout(srv, st, &who, sid);
	auth_audit(st, req, &who, "session.delete", who.login, NULL);
	events_access_changed(srv);
	session_cookie(req, srv, "", 0);
	http_respond_json_str(req, 200, "{\"ended\":true}", 14);
	return 0;
}

/* ---- project settings: public, members, secret variables ---- */

/*
 * A "protected_branches" value: null (the default branch) or an array of
 * strings, checked by settings_protected_list. The comma-joined list in
 * *ret (NULL for null). 400 and -1 when it is something else.
 */
static int protected_arg(struct http_request *req, json_t *v, int tags, char **ret)
{
	struct strbuf msg = STRBUF_INIT;
	struct strvec globs = STRVEC_INIT;
	size_t i;
	json_t *e;
	int rc = 0;

	*ret = NULL;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > SETTINGS_MAX_PROTECTED) {
		settings_protected_error(&msg);
		rc = 400;
	}
	json_array_foreach(v, i, e) {
		const char *g = json_string_value(e);

		if (rc)
			break;
		if (!g || strlen(g) != json_string_length(e)) {
			settings_protected_error(&msg);
			rc = 400;
		} else {
			strvec_push(&globs, g);
		}
	}
	if (!rc)
		rc = settings_protected_list(&globs, ret, &msg);
	if (rc && tags)
		http_respond_error(req, 400, "protected_tags must be null (none) or an array of "
				   "at most %d tag globs of 1 to %d bytes, without commas or "
				   "control characters", SETTINGS_MAX_PROTECTED, SETTINGS_MAX_GLOB);
	else if (rc)
		http_respond_error(req, 400, "%s", msg.buf);
	strvec_clear(&globs);
	strbuf_release(&msg);
	return rc ? -1 : 0;
}

/*
 * {"public": bool, "protected_branches": [glob...] | null,
 *  "protected_tags": [glob...] | null}, any of them (maintainer)
 */
static int h_project_patch(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct principal who;
	json_t *o, *pub, *prot, *tags;
	char *list = NULL, *tag_list = NULL;
	int rc = 200, known;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	pub = json_object_get(o, "public");
	prot = json_object_get(o, "protected_branches");
	tags = json_object_get(o, "protected_tags");
	known = !!pub + !!prot + !!tags;
	if (!known || json_object_size(o) != (size_t)known || (pub && !json_is_boolean(pub))) {
		http_respond_error(req, 400, "the body must be {\"public\": true|false, "
				   "\"protected_branches\": [glob...]|null, \"protected_tags\": "
				   "[glob...]|null}, any of them");
		goto done;
	}
	if ((prot && protected_arg(req, prot, 0, &list) < 0) ||
	    (tags && protected_arg(req, tags, 1, &tag_list) < 0))
		goto done;
	if (pub || prot)
		rc = settings_project_update(srv, st, req, &who, &p, pub ? json_is_true(pub) : -1,
					     !!prot, list, &err);
	if (rc == 200 && tags)
		rc = settings_project_protect_tags(srv, st, req, &who, &p, tag_list, &err);
	if (rc != 200) {
		http_respond_error(req, (unsigned)rc, "%s", err.buf);
		goto done;
	}
	{
		json_t *r = project_json(&p, 1);

		http_respond_json(req, 200, r);
		json_decref(r);
	}
done:
	free(list);
	free(tag_list);
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static int h_members(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_member *m = NULL;
	struct store_project p;
	struct principal who;
	size_t n = 0, i;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	rc = store_member_list(st, p.id, &m, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s}", "login", m[i].login,
							   "role", role_name(m[i].role)));
		http_respond_json(req, 200, a);
		json_decref(a);
	}
done:
	store_members_free(m, n);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* PUT {"role"} or DELETE a member (maintainer). */
static int member_op(struct http_request *req, void *ud, int remove)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	const char *login = http_request_param(req, "login"), *rname = NULL;
	struct store_project p;
	struct principal who;
	json_t *o = NULL;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0 || (!remove && !(o = body_json(req))))
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	if (!remove) {
		if (opt_str(req, o, "role", 16, &rname))
			goto done;
		if (settings_role_parse(rname, &err) < 0) {
			http_respond_error(req, 400, "%s", err.buf);
			goto done;
		}
	}
	rc = settings_member(srv, st, req, &who, &p, login, remove ? NULL : rname, &err);
	if (rc != 200) {
		http_respond_error(req, (unsigned)rc, "%s", err.buf);
	} else if (remove) {
		http_respond_json_str(req, 200, "{\"removed\":true}", 16);
	} else {
		json_t *r = json_pack("{s:s, s:s, s:s}", "project", p.name, "login", login,
				      "role", role_name(role_parse(rname)));

		http_respond_json(req, 200, r);
		json_decref(r);
	}
done:
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static int h_member_put(struct http_request *req, void *ud)
{
	return member_op(req, ud, 0);
}

static int h_member_delete(struct http_request *req, void *ud)
{
	return member_op(req, ud, 1);
}

/* Keys and flags, never values (maintainer). */
static int h_variables(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_variable *v = NULL;
	struct store_project p;
	struct principal who;
	size_t n = 0, i;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	rc = store_variable_list(st, p.id, 0, &v, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *a = json_array();

		for (i = 0; i < n; i++) {
			json_t *e = json_pack("{s:s, s:b, s:b}", "key", v[i].key, "masked",
					      v[i].masked, "protected", v[i].protected_only);

			json_object_set_new(e, "updated_at", json_time(v[i].updated));
			json_array_append_new(a, e);
		}
		http_respond_json(req, 200, a);
		json_decref(a);
	}
done:
	store_variables_free(v, n);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* PUT {"value", "masked"?, "protected"?} (maintainer); the answer never holds the value. */
static int h_variable_put(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	const char *key = http_request_param(req, "key"), *value;
	struct store_project p;
	struct principal who;
	json_t *o, *m, *pr;
	int rc, masked, prot;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	if (settings_variable_key_ok(key, &err)) {
		http_respond_error(req, 400, "%s", err.buf);
		goto done;
	}
	if (opt_str(req, o, "value", MAX_VAR_VALUE, &value))
		goto done;
	m = json_object_get(o, "masked");
	pr = json_object_get(o, "protected");
	if (!value || (m && !json_is_null(m) && !json_is_boolean(m)) ||
	    (pr && !json_is_null(pr) && !json_is_boolean(pr))) {
		http_respond_error(req, 400, "the body must be {\"value\": string of at most %d "
				   "bytes, \"masked\": true|false, \"protected\": true|false}",
				   MAX_VAR_VALUE);
		goto done;
	}
	masked = json_is_true(m);
	prot = json_is_true(pr);
	rc = settings_variable_set(srv, st, req, &who, &p, key, value, masked, prot, &err);
	if (rc != 200 && rc != 201) {
		http_respond_error(req, (unsigned)rc, "%s", err.buf);
	} else {
		json_t *r = json_pack("{s:s, s:b, s:b}", "key", key, "masked", masked, "protected",
				      prot);

		http_respond_json(req, (unsigned)rc, r);
		json_decref(r);
	}
done:
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&err);
	return 0;
}

static int h_variable_delete(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	const char *key = http_request_param(req, "key");
	struct store_project p;
	struct principal who;
	int rc;

	if (!st || who_changes(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_MAINTAINER, &p) < 0)
		goto done;
	rc = settings_variable_delete(srv, st, req, &who, &p, key, &err);
	if (rc != 200)
		http_respond_error(req, (unsigned)rc, "%s", err.buf);
	else
		http_respond_json_str(req, 200, "{\"deleted\":true}", 16);
done:
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

/* ---- pipeline schedules (schedule.c runs them) ---- */


static json_t *schedule_json(const struct store_schedule *s, const char *project)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(s->id));
	json_object_set_new(o, "project", json_str_or_null(project));
	json_object_set_new(o, "description", json_str_or_null(s->description));
	json_object_set_new(o, "cron", json_str_or_null(s->cron));
	json_object_set_new(o, "cron_timezone", json_str_or_null(s->cron_timezone));
	json_object_set_new(o, "ref", json_str_or_null(s->ref));
	json_object_set_new(o, "variables", json_loads(s->variables ? s->variables : "{}", 0,
						       NULL));
	json_object_set_new(o, "active", json_boolean(s->active));
	json_object_set_new(o, "owner_id", s->owner ? json_integer(s->owner) : json_null());
	json_object_set_new(o, "next_run_at", json_time(s->next_run_at));
	json_object_set_new(o, "last_pipeline_id", s->last_pipeline_id ?
			    json_integer(s->last_pipeline_id) : json_null());
	json_object_set_new(o, "created_at", json_time(s->created));
	return o;
}

/*
 * The members of a schedule's body into *s (only those present); the
 * body must have at least one, and nothing else. -1 with 400 sent.
 */
static int schedule_body(struct http_request *req, json_t *o, struct store_schedule *s)
{
	static const char *const known[] = { "description", "cron", "cron_timezone", "ref",
					     "variables", "active" };
	const char *k, *str;
	json_t *v;
	size_t i;

	if (!json_object_size(o)) {
		http_respond_error(req, 400, "the body must have at least one of description, "
				   "cron, cron_timezone, ref, variables, active");
		return -1;
	}
	json_object_foreach(o, k, v) {
		for (i = 0; i < ARRAY_SIZE(known) && strcmp(k, known[i]); i++)
			;
		if (i == ARRAY_SIZE(known)) {
			http_respond_error(req, 400, "unknown field \"%s\" (known: description, "
					   "cron, cron_timezone, ref, variables, active)", k);
			return -1;
		}
	}
	if (opt_str(req, o, "description", SCHEDULE_DESC_MAX, &str))
		return -1;
	if (str) {
		free(s->description);
		s->description = xstrdup(str);
	}
	if (opt_str(req, o, "cron", CRON_EXPR_MAX, &str))
		return -1;
	if (str) {
		free(s->cron);
		s->cron = xstrdup(str);
	}
	if (opt_str(req, o, "cron_timezone", TZ_NAME_MAX, &str))
		return -1;
	if (str) {
		free(s->cron_timezone);
		s->cron_timezone = xstrdup(str);
	}
	if (opt_str(req, o, "ref", 1024, &str))
		return -1;
	if (json_object_get(o, "ref")) {
		free(s->ref);
		s->ref = str && *str ? xstrdup(str) : NULL;
	}
	v = json_object_get(o, "active");
	if (v && !json_is_boolean(v)) {
		http_respond_error(req, 400, "active must be true or false");
		return -1;
	}
	if (v)
		s->active = json_is_true(v);
	v = json_object_get(o, "variables");
	if (v) {
		struct strbuf msg = STRBUF_INIT;

		if (!json_is_null(v) && trigger_variables_check(v, &msg) < 0) {
			http_respond_error(req, 400, "%s", msg.buf);
			strbuf_release(&msg);
			return -1;
		}
		free(s->variables);
		s->variables = json_is_null(v) ? xstrdup("{}") :
			       json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	}
	return 0;
}

/* The schedule :id of project p (404 sent when it is not p's): 0 or -1. */
static int schedule_of(struct http_request *req, struct store *st,
		       const struct store_project *p, struct store_schedule *s)
{
	struct strbuf err = STRBUF_INIT;
	int64_t id;
	int rc;

	if (id_param(req, "id", &id) < 0)
		return -1;
	rc = store_schedule_get(st, p->id, id, s, &err);
	if (rc < 0)
		store_error(req, rc, &err);
	strbuf_release(&err);
	return rc < 0 ? -1 : 0;
}

static int h_schedules(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_schedule *a = NULL;
	struct store_project p;
	struct principal who;
	size_t n = 0, i;
	json_t *arr;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	if (project_of(req, srv, st, &who, ROLE_VIEWER, &p) < 0)
		goto done;
	if (store_schedule_list(st, p.id, &a, &n, &err) < 0) {
		store_error(req, -1, &err);
		goto done;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, schedule_json(&a[i], p.name));
	http_respond_json(req, 200, arr);
	json_decref(arr);
done:
	store_schedules_free(a, n);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

static int h_schedule(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct store_schedule s;
	struct store_project p;
	struct principal who;

	if (!st || who_asks(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	if (project_of(req, srv, st, &who, ROLE_VIEWER, &p) == 0 &&
	    schedule_of(req, st, &p, &s) == 0) {
		json_t *o = schedule_json(&s, p.name);

		http_respond_json(req, 200, o);
		json_decref(o);
	}
	store_schedule_release(&s);
	store_project_release(&p);
	return 0;
}

/* POST {"cron", "cron_timezone"?, "ref"?, "variables"?, "description"?, "active"?} */
static int h_schedule_add(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf msg = STRBUF_INIT;
	struct store_schedule s;
	struct store_project p;
	struct principal who;
	json_t *o;
	int status;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	s.active = 1;
	if (project_of(req, srv, st, &who, ROLE_DEVELOPER, &p) < 0 ||
	    schedule_body(req, o, &s) < 0)
		goto done;
	status = schedule_add(srv, st, req, &who, &p, &s, &msg);
	if (status == 201) {
		json_t *r = schedule_json(&s, p.name);

		http_respond_json(req, 201, r);
		json_decref(r);
	} else {
		http_respond_error(req, (unsigned)status, "%s", msg.buf);
	}
done:
	store_schedule_release(&s);
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&msg);
	return 0;
}

/* PATCH: any of the POST's members; the next run is computed again from now. */
static int h_schedule_patch(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf msg = STRBUF_INIT, what = STRBUF_INIT;
	struct store_schedule s;
	struct store_project p;
	struct principal who;
	const char *k;
	json_t *o, *e;
	int status;

	if (!st || who_changes(req, srv, st, &who) < 0 || !(o = body_json(req)))
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	if (project_of(req, srv, st, &who, ROLE_DEVELOPER, &p) < 0 ||
	    schedule_of(req, st, &p, &s) < 0 || schedule_body(req, o, &s) < 0)
		goto done;
	/* the names of what changed, never a value */
	json_object_foreach(o, k, e)
		strbuf_addf(&what, "%s%s", what.len ? ", " : "", k);
	status = schedule_update(srv, st, req, &who, &p, &s, json_object_get(o, "cron") != NULL,
				 what.buf, &msg);
	if (status == 200) {
		json_t *r = schedule_json(&s, p.name);

		http_respond_json(req, 200, r);
		json_decref(r);
	} else {
		http_respond_error(req, (unsigned)status, "%s", msg.buf);
	}
done:
	store_schedule_release(&s);
	store_project_release(&p);
	json_decref(o);
	strbuf_release(&msg);
	strbuf_release(&what);
	return 0;
}

static int h_schedule_delete(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf msg = STRBUF_INIT;
	struct store_schedule s;
	struct store_project p;
	struct principal who;
	int status;

	if (!st || who_changes(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	if (project_of(req, srv, st, &who, ROLE_DEVELOPER, &p) < 0 ||
	    schedule_of(req, st, &p, &s) < 0)
		goto done;
	status = schedule_remove(srv, st, req, &who, &p, &s, &msg);
	if (status == 200)
		http_respond_json_str(req, 200, "{\"deleted\":true}", 16);
	else
		http_respond_error(req, (unsigned)status, "%s", msg.buf);
done:
	store_schedule_release(&s);
	store_project_release(&p);
	strbuf_release(&msg);
	return 0;
}

/* Run now (GitLab's play button); the next run stays when it was. */
static int h_schedule_play(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf msg = STRBUF_INIT;
	struct store_schedule s;
	struct store_project p;
	struct principal who;
	int64_t id = 0;
	int status;

	if (!st || who_changes(req, srv, st, &who) < 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	if (project_of(req, srv, st, &who, ROLE_DEVELOPER, &p) < 0 ||
	    schedule_of(req, st, &p, &s) < 0)
		goto done;
	status = schedule_play(srv, st, req, &who, &p, &s, &id, &msg);
	if (status == 201)
		respond_pipeline(req, st, id, 201);
	else
		http_respond_error(req, (unsigned)status, "%s", msg.buf);
done:
	store_schedule_release(&s);
	store_project_release(&p);
	strbuf_release(&msg);
	return 0;
}

/* ---- audit log (admin) ---- */

static int h_audit(struct http_request *req, void *ud)
{
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline_filter f;
	struct store_audit *a = NULL;
	struct principal who;
	size_t n = 0, i;
	int rc;

	if (!st || who_asks(req, srv, st, &who) < 0 || admin_only(req, &who) < 0)
		return 0;
	memset(&f, 0, sizeof(f));
	if (page_args(req, &f) < 0)
		return 0;
	rc = store_audit_list(st, f.limit, f.offset, &a, &n, &err);
	if (rc < 0) {
		store_error(req, rc, &err);
	} else {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			json_t *e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}",
					      "id", (json_int_t)a[i].id, "actor", a[i].actor,
					      "remote", a[i].remote, "action", a[i].action,
					      "target", a[i].target, "detail", a[i].detail);

			json_object_set_new(e, "time", json_time(a[i].time));
			json_array_append_new(arr, e);
		}
		http_respond_json(req, 200, arr);
		json_decref(arr);
	}
	store_audit_free(a, n);
	strbuf_release(&err);
	return 0;
}

/* ---- the server itself ---- */

static int h_version(struct http_request *req, void *ud)
{
	static const char v[] = "{\"version\":\"" CIDRE_VERSION "\"}";

	return http_respond_json_str(req, 200, v, sizeof(v) - 1);
}

static int h_healthz(struct http_request *req, void *ud)
{
	return http_respond_text(req, 200, "ok\n", 3);
}

static int h_metrics(struct http_request *req, void *ud)
{
	static const char *const statuses[] = { "created", "pending", "running", "success",
						"failed", "canceled", "skipped", "manual",
						"scheduled" };
	static const char *const le[] = { "0.1", "0.5", "1", "5", "30", "60", "300", "+Inf" };
	struct server *srv = SRV(ud);
	struct store *st = store_or_500(req, srv);
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	long long cum = 0;
	size_t i;

	if (!st)
		return 0;
	strbuf_addstr(&out, "# HELP cidre_jobs Jobs in the store by status.\n"
		      "# TYPE cidre_jobs gauge\n");
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		int64_t n = 0;

		store_job_count(st, statuses[i], &n, &err);
		strbuf_addf(&out, "cidre_jobs{status=\"%s\"} %lld\n", statuses[i], (long long)n);
		if (!strcmp(statuses[i], "pending"))
			strbuf_addf(&out, "# HELP cidre_queue_length Jobs waiting for a runner.\n"
				    "# TYPE cidre_queue_length gauge\ncidre_queue_length %lld\n",
				    (long long)n);
	}
	strbuf_addf(&out, "# HELP cidre_pipelines_created_total Pipelines created since start.\n"
		    "# TYPE cidre_pipelines_created_total counter\n"
		    "cidre_pipelines_created_total %lld\n",
		    (long long)atomic_load(&srv->pipelines_created));
	strbuf_addf(&out, "# HELP cidre_jobs_finished_total Jobs finished since start.\n"
		    "# TYPE cidre_jobs_finished_total counter\n"
		    "cidre_jobs_finished_total %lld\n"
		    "# HELP cidre_jobs_failed_total Jobs failed since start.\n"
		    "# TYPE cidre_jobs_failed_total counter\n"
		    "cidre_jobs_failed_total %lld\n",
		    (long long)atomic_load(&srv->jobs_finished),
		    (long long)atomic_load(&srv->jobs_failed));
	strbuf_addf(&out, "# HELP cidre_jobs_unrecorded Jobs that ended but whose end the "
		    "store cannot record now (its disk full or failing); retried every second.\n"
		    "# TYPE cidre_jobs_unrecorded gauge\ncidre_jobs_unrecorded %lld\n",
		    (long long)atomic_load(&srv->jobs_unrecorded));
	strbuf_addstr(&out, "# HELP cidre_job_duration_seconds Job durations since start.\n"
		      "# TYPE cidre_job_duration_seconds histogram\n");
	for (i = 0; i < 8; i++) {
		cum += atomic_load(&srv->job_seconds_bucket[i]);
		strbuf_addf(&out, "cidre_job_duration_seconds_bucket{le=\"%s\"} %lld\n", le[i], cum);
	}
	strbuf_addf(&out, "cidre_job_duration_seconds_sum %.3f\n"
		    "cidre_job_duration_seconds_count %lld\n",
		    (double)atomic_load(&srv->job_ms_sum) / 1000.0, cum);
	strbuf_addf(&out, "# HELP cidre_artifacts_expired_jobs_total Jobs whose artifacts "
		    "expired since start.\n"
		    "# TYPE cidre_artifacts_expired_jobs_total counter\n"
		    "cidre_artifacts_expired_jobs_total %lld\n"
		    "# HELP cidre_artifacts_removed_blobs_total Unreferenced artifact files "
		    "removed from the store since start.\n"
		    "# TYPE cidre_artifacts_removed_blobs_total counter\n"
		    "cidre_artifacts_removed_blobs_total %lld\n"
		    "# HELP cidre_artifacts_removed_bytes_total Bytes of the artifact files "
		    "removed since start.\n"
		    "# TYPE cidre_artifacts_removed_bytes_total counter\n"
		    "cidre_artifacts_removed_bytes_total %lld\n",
		    (long long)atomic_load(&srv->artifacts_expired_jobs),
		    (long long)atomic_load(&srv->reaped_blobs),
		    (long long)atomic_load(&srv->reaped_bytes));
	strbuf_addf(&out, "# HELP cidre_uptime_seconds Seconds since the server started.\n"
		    "# TYPE cidre_uptime_seconds gauge\ncidre_uptime_seconds %.3f\n",
		    (double)(server_now_ms() - srv->started_ms) / 1000.0);
	http_respond_data(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.buf,
			  out.len);
	strbuf_release(&out);
	strbuf_release(&err);
	return 0;
}

const struct http_route server_routes[] = {
	{ "GET", "/healthz", h_healthz },
	{ "GET", "/metrics", h_metrics },
	{ "GET", "/api/v1/version", h_version },
	{ "GET", "/api/v1/projects", h_projects },
	{ "POST", "/api/v1/projects", h_project_add },
	{ "GET", "/api/v1/projects/:name", h_project },
	{ "DELETE", "/api/v1/projects/:name", h_project_delete },
	{ "GET", "/api/v1/projects/:name/pipelines", h_project_pipelines },
	{ "GET", "/api/v1/projects/:name/artifacts", h_latest_artifacts },
	{ "GET", "/api/v1/projects/:name/artifacts.zip", h_latest_artifacts_zip },
	{ "GET", "/api/v1/projects/:name/artifacts/*path", h_latest_artifact },
	{ "GET", "/api/v1/projects/:name/pages", h_pages_list },
	{ "GET", "/pages/:name/-/:cap", h_pages },
	{ "GET", "/pages/:name/-/:cap/**path", h_pages },
	{ "GET", "/pages/:name", h_pages },
	{ "GET", "/pages/:name/**path", h_pages },
	{ "GET", "/api/v1/projects/:name/releases", h_releases },
	{ "GET", "/api/v1/projects/:name/releases/*tag", h_release },
	{ "POST", "/api/v1/projects/:name/pipelines", h_trigger },
	{ "GET", "/api/v1/pipelines", h_pipelines },
	{ "GET", "/api/v1/files", h_file },
	{ "GET", "/api/v1/pipelines/:id", h_pipeline },
	{ "POST", "/api/v1/pipelines/:id/cancel", h_pipeline_cancel },
	{ "POST", "/api/v1/pipelines/:id/retry", h_pipeline_retry },
	{ "GET", "/api/v1/pipelines/:id/jobs", h_pipeline_jobs },
	{ "GET", "/api/v1/pipelines/:id/tests", h_pipeline_tests },
	{ "GET", "/api/v1/jobs/:id", h_job },
	{ "POST", "/api/v1/jobs/:id/cancel", h_job_cancel },
	{ "POST", "/api/v1/jobs/:id/retry", h_job_retry },
	{ "POST", "/api/v1/jobs/:id/play", h_job_play },
	{ "GET", "/api/v1/jobs/:id/log", h_job_log },
	{ "GET", "/api/v1/jobs/:id/log/stream", h_job_log_stream },
	{ "GET", "/api/v1/events", h_events },
	{ "GET", "/api/v1/jobs/:id/tests", h_job_tests },
	{ "GET", "/api/v1/jobs/:id/artifacts", h_job_artifacts },
	{ "GET", "/api/v1/jobs/:id/artifacts.zip", h_job_artifacts_zip },
	{ "GET", "/api/v1/jobs/:id/artifacts/*path", h_job_artifact },
	{ "POST", "/api/v1/jobs/:id/artifacts/keep", h_job_artifacts_keep },
	{ "PATCH", "/api/v1/projects/:name", h_project_patch },
	{ "GET", "/api/v1/projects/:name/members", h_members },
	{ "PUT", "/api/v1/projects/:name/members/:login", h_member_put },
	{ "DELETE", "/api/v1/projects/:name/members/:login", h_member_delete },
	{ "GET", "/api/v1/projects/:name/variables", h_variables },
	{ "PUT", "/api/v1/projects/:name/variables/:key", h_variable_put },
	{ "DELETE", "/api/v1/projects/:name/variables/:key", h_variable_delete },
	{ "GET", "/api/v1/projects/:name/schedules", h_schedules },
	{ "POST", "/api/v1/projects/:name/schedules", h_schedule_add },
	{ "GET", "/api/v1/projects/:name/schedules/:id", h_schedule },
	{ "PATCH", "/api/v1/projects/:name/schedules/:id", h_schedule_patch },
	{ "DELETE", "/api/v1/projects/:name/schedules/:id", h_schedule_delete },
	{ "POST", "/api/v1/projects/:name/schedules/:id/play", h_schedule_play },
	{ "GET", "/api/v1/tokens", h_tokens },
	{ "POST", "/api/v1/tokens", h_token_add },
	{ "DELETE", "/api/v1/tokens/:id", h_token_revoke },
	{ "GET", "/api/v1/user", h_user },
	{ "GET", "/api/v1/users", h_users },
	{ "POST", "/api/v1/users", h_user_add },
	{ "PATCH", "/api/v1/users/:login", h_user_patch },
	{ "POST", "/api/v1/session", h_session_add },
	{ "DELETE", "/api/v1/session", h_session_delete },
	{ "GET", "/api/v1/audit", h_audit },
	{ "POST", "/api/v1/hook", h_hook },
	{ "POST", "/api/v1/webhooks/:name", h_webhook },
};

const size_t server_routes_nr = sizeof(server_routes) / sizeof(server_routes[0]);

json_t *api_pipeline_json(const struct store_pipeline *p)
{
	return pipeline_json(p);
}

json_t *api_job_json(const struct store_job *j)
{
	return job_json(j);
}
