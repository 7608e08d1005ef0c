/*
 * Creating a pipeline for a trigger: fetch the commit into the mirror,
 * read the pipeline file at that commit, plan it as GitLab would for the
 * push, and record the pipeline and its jobs.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/cas.h"
#include "exec/fetch.h"
#include "git/mirror.h"
#include "git/object.h"
#include "git/predefined.h"
#include "notify/notify.h"
#include "server/pctx.h"
#include "server/server.h"
#include "util/keylock.h"
#include "util/xalloc.h"

/*
 * One fetch of a mirror at a time (git takes ref locks; a second fetch
 * fails), keyed by the mirror's path; and one planning in a project's
 * plan tree at a time (the tree is reused), keyed by the tree's path.
 * Other projects' fetches and plannings go on beside them: a slow
 * remote or a huge pipeline file holds up only its own project.
 */
static struct keylock_table fetches = KEYLOCK_TABLE_INIT;
static struct keylock_table plannings = KEYLOCK_TABLE_INIT;

int server_fetch(const char *mirror, struct strbuf *err)
{
	struct keylock *k = keylock_acquire(&fetches, mirror);
	int rc = mirror_fetch(mirror, err);

	keylock_release(&fetches, k);
	return rc;
}

int server_branch_matches(const char *glob, const char *branch)
{
	if (!glob || !*glob || !strcmp(glob, "*"))
		return 1;
	/* a comma-separated list of globs */
	while (*glob) {
		const char *e = strchr(glob, ',');
		size_t n = e ? (size_t)(e - glob) : strlen(glob);
		char *one = xstrndup(glob, n);
		char *s = one;
		int m;

		while (*s == ' ')
			s++;
		m = *s && !fnmatch(s, branch, 0);
		free(one);
		if (m)
			return 1;
		glob += n;
		if (*glob)
			glob++;
	}
	return 0;
}

int server_branch_protected(const struct store_project *p, const char *branch,
			    const char *default_branch)
{
	if (!branch)
		return 0;
	if (!p->protected_branches)
		return default_branch && !strcmp(branch, default_branch);
	return *p->protected_branches && server_branch_matches(p->protected_branches, branch);
}

int server_tag_protected(const struct store_project *p, const char *tag)
{
	return tag && p->protected_tags && *p->protected_tags &&
		server_branch_matches(p->protected_tags, tag);
}

static const char *const when_names[] = {
	[WHEN_ON_SUCCESS] = "on_success", [WHEN_ON_FAILURE] = "on_failure",
	[WHEN_ALWAYS] = "always", [WHEN_MANUAL] = "manual",
	[WHEN_DELAYED] = "delayed", [WHEN_NEVER] = "never",
};

/* GitLab's start_in: "30", "30 seconds", "5 minutes", "1 hour", "1 day", "1 week". */
static int64_t start_in_ms(const char *s)
{
	char *end;
	double n;
	int64_t mul = 1000;

	if (!s)
		return 0;
	n = strtod(s, &end);
	if (end == s || n < 0)
		return 0;
	while (*end == ' ')
		end++;
	if (!strncmp(end, "min", 3))
		mul = 60 * 1000;
	else if (!strncmp(end, "h", 1))
		mul = 3600 * 1000;
	else if (!strncmp(end, "d", 1))
		mul = 86400 * 1000;
	else if (!strncmp(end, "w", 1))
		mul = 7 * 86400 * 1000;
	return (int64_t)(n * (double)mul);
}

static char *needs_json(const struct plan_job *pj)
{
	json_t *a;
	size_t i;
	char *s;

	if (!pj->has_needs)
		return NULL;
	a = json_array();
	for (i = 0; i < pj->needs_nr; i++)
		json_array_append_new(a, json_pack("{s:I, s:b}", "job", (json_int_t)pj->needs[i].job,
						   "artifacts", pj->needs[i].artifacts));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

static char *deps_json(const struct plan_job *pj)
{
	json_t *a = json_array();
	size_t i;
	char *s;

	for (i = 0; i < pj->deps_nr; i++)
		json_array_append_new(a, json_integer((json_int_t)pj->deps[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

static char *retry_json(const struct retry *rt)
{
	json_t *o = json_object(), *w = json_array(), *c = json_array();
	size_t i;
	char *s;

	for (i = 0; i < rt->when.nr; i++)
		json_array_append_new(w, json_string(rt->when.v[i]));
	for (i = 0; i < rt->exit_codes.nr; i++)
		json_array_append_new(c, json_integer(rt->exit_codes.v[i]));
	json_object_set_new(o, "when", w);
	json_object_set_new(o, "exit_codes", c);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/*
 * A parallel deployment's path prefix as GitLab makes it: lowercase;
 * letters, digits and periods kept, anything else a hyphen; no hyphen or
 * period at either end; at most 63 bytes. In place.
 */
static void pages_prefix_norm(char *s)
{
	size_t i, n = 0, start = 0;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)s[i]);

		s[i] = isalnum(c) && c < 0x80 ? (char)c : c == '.' ? '.' : '-';
	}
	while (s[start] == '-' || s[start] == '.')
		start++;
	memmove(s, s + start, strlen(s + start) + 1);
	n = strlen(s);
	if (n > 63)
		n = 63;
	while (n && (s[n - 1] == '-' || s[n - 1] == '.'))
		n--;
	s[n] = '\0';
}

/*
 * A Pages job's deployment, its variables expanded with the job's: its
 * directory (pages:publish or public, without trailing slashes; NULL
 * when it expands to nothing or leaves the project: not served), its
 * path prefix ("" the main site) and how long it is served after the
 * job's end (expire_in; by default always for the main site, a day for
 * a prefix, as GitLab).
 */
static void pages_of(const struct plan *plan, const struct plan_job *pj,
		     const struct plan_ctx *pc, struct store_job *j)
{
	struct varlist vars = VARLIST_INIT;
	const struct job *def = pj->def;
	char *dir, *prefix;
	long secs;
	size_t n;

	plan_job_vars(plan, pj, pc, &vars);
	prefix = vars_expand_dup(def->pages_path_prefix ? def->pages_path_prefix : "", &vars);
	dir = vars_expand_dup(def->pages_publish ? def->pages_publish : "public", &vars);
	varlist_clear(&vars);
	pages_prefix_norm(prefix);
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (!pipeline_path_inside(dir, n)) {
		free(dir);
		dir = NULL;
	}
	j->pages = dir;
	j->pages_prefix = prefix;
	if (def->pages_expire_in && !strcmp(def->pages_expire_in, "never"))
		j->pages_expire_ms = 0;
	else if (def->pages_expire_in && (secs = pipeline_parse_duration(def->pages_expire_in)) > 0)
		j->pages_expire_ms = (int64_t)secs * 1000;
	else
		j->pages_expire_ms = *prefix ? 86400 * 1000LL : 0;
}

/* include:remote while planning: the configuration's include_remote first */
static int include_remote_file(void *ud, const char *url, size_t max, struct strbuf *out,
			       struct strbuf *err)
{
	struct server *srv = ud;
	int ok;

	pthread_mutex_lock(&srv->cfg_lock);
	ok = server_config_remote_ok(&srv->cfg, url, err);
	pthread_mutex_unlock(&srv->cfg_lock);
	return ok < 0 ? -1 : fetch_url(NULL, url, max, out, err);
}

/* Record the plan's jobs (in one transaction with the context). */
static int add_jobs(struct store *st, int64_t pid, const struct plan *plan,
		    const struct plan_ctx *pc, const char *globals, struct strbuf *err)
{
	size_t i;

	/* what each job's supervisor plans its job from, without the file */
	if (globals && store_job_def_add(st, pid, -1, globals, err) < 0)
		return -1;
	for (i = 0; i < plan->nr; i++) {
		const struct plan_job *pj = &plan->jobs[i];
		struct store_job j;
		struct varlist vars = VARLIST_INIT;
		int rc;

		memset(&j, 0, sizeof(j));
		j.pipeline_id = pid;
		j.name = pj->name;
		j.stage = plan->stages.v[pj->stage];
		j.stage_idx = (int)pj->stage;
		j.plan_idx = (int)i;
		j.status = "created";
		j.when = (char *)when_names[pj->when];
		j.start_in_ms = start_in_ms(pj->start_in);
		j.allow_failure = pj->allow_failure == 1 || pj->allow_exit_codes.nr;
		j.interruptible = pj->interruptible == 1;
		if (pj->def->resource_group) {
			plan_job_vars(plan, pj, pc, &vars);
			j.resource_group = vars_expand_dup(pj->def->resource_group, &vars);
			varlist_clear(&vars);
		}
		j.needs = needs_json(pj);
		j.deps = deps_json(pj);
		j.attempt = 1;
		j.max_retries = pj->def->retry.max;
		j.retry_when = retry_json(&pj->def->retry);
		if (pj->def->manual_confirmation && pj->when == WHEN_MANUAL) {
			plan_job_vars(plan, pj, pc, &vars);
			j.manual_confirmation = vars_expand_dup(pj->def->manual_confirmation, &vars);
			varlist_clear(&vars);
		}
		if (pj->def->pages > 0)
			pages_of(plan, pj, pc, &j);
		rc = store_job_add(st, &j, err);
		if (rc == 0 && globals && pj->def->cut)
			rc = store_job_def_add(st, pid, (int)i, pj->def->cut, err);
		free(j.resource_group);
		free(j.needs);
		free(j.deps);
		free(j.retry_when);
		free(j.manual_confirmation);
		free(j.pages);
		free(j.pages_prefix);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* mirror_commit, without a git process when the commit is a loose object */
static int commit_facts(const char *mirror, const char *rev, struct gitinfo *gi,
			struct strbuf *err)
{
	return gitobj_commit(mirror, rev, gi) == 0 ? 0 : mirror_commit(mirror, rev, gi, err);
}

/*
 * For a source repository on this machine: whether the mirror has the
 * commit its branch (rev, "refs/heads/NAME") names now; if so, rev is
 * replaced by that sha. Read in-process (a loose ref or packed-refs
 * there, a loose object or a pack index entry here), which spares the
 * `git fetch` process of a trigger. Anything else (a remote URL, a
 * symbolic or missing ref, a commit the mirror lacks) answers 0: the
 * mirror may be behind, and is fetched.
 */
static int local_head_mirrored(const char *repo, const char *mirror, char **rev)
{
	char *src = gitobj_local_gitdir(repo), head[41];
	int ok;

	ok = src && gitobj_resolve(src, *rev, head) == 0 && gitobj_has(mirror, head);
	free(src);
	if (ok) {
		free(*rev);
		*rev = xstrdup(head);
	}
	return ok;
}

int trigger_variables_check(const json_t *v, struct strbuf *msg)
{
	const char *k;
	json_t *e;

	if (!json_is_object(v) || json_object_size(v) > TRIGGER_MAX_VARIABLES) {
		strbuf_addf(msg, "variables must be an object of at most %d string values",
			    TRIGGER_MAX_VARIABLES);
		return -1;
	}
	json_object_foreach((json_t *)v, k, e) {
		size_t i;
		int ok = *k && strlen(k) <= 255;

		for (i = 0; k[i] && ok; i++)
			ok = (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
			     k[i] == '_' || (i && k[i] >= '0' && k[i] <= '9');
		if (!ok || !json_is_string(e) || json_string_length(e) > TRIGGER_MAX_VALUE) {
			strbuf_addf(msg, "variable \"%s\": names are [A-Za-z_][A-Za-z0-9_]*, "
				    "values strings of at most %d bytes", k, TRIGGER_MAX_VALUE);
			return -1;
		}
	}
	return 0;
}

int server_project_by_path(struct store *st, const char *project, struct store_project *p,
			   struct strbuf *err)
{
	const char *slash = strrchr(project, '/');
	int rc;

	memset(p, 0, sizeof(*p));
	rc = store_project_get(st, project, p, err);
	if (rc == STORE_NOTFOUND && slash && slash[1]) {
		strbuf_reset(err);
		rc = store_project_get(st, slash + 1, p, err);
	}
	if (rc == STORE_NOTFOUND) {
		strbuf_reset(err);
		strbuf_addf(err, "no project %s on this server", project);
	}
	return rc;
}

int server_project_file(struct server *srv, const struct store_project *p, const char *ref,
			const char *file, size_t max, struct strbuf *out, struct strbuf *err)
{
	char *mirror = server_mirror_path(srv, p->name), *def = NULL, sha[41];
	int rc = -1;

	if (!ref)
		ref = def = mirror_head_branch(mirror);
	if (mirror_resolve(mirror, ref, sha, err) < 0) {
		/* a ref pushed a moment ago to a repository without our hook */
		strbuf_reset(err);
		if (server_fetch(mirror, err) < 0)
			goto done;
		if (mirror_resolve(mirror, ref, sha, err) < 0) {
			strbuf_reset(err);
			strbuf_addf(err, "project %s has no branch, tag or commit %s", p->name, ref);
			rc = STORE_NOTFOUND;
			goto done;
		}
	}
	rc = mirror_read_file(mirror, sha, file, max, out, err);
	if (rc < 0)
		rc = STORE_NOTFOUND;
done:
	free(def);
	free(mirror);
	return rc;
}

/* include:project while planning one pipeline (pctx.project_file) */
struct includer {
	struct server *srv;
	struct store *st;
	const struct store_project *self;
};

/*
 * A file of another project on this server (server_project_by_path,
 * server_project_file). Only the pipeline's own project and public
 * ones: a private project's files would otherwise reach whoever can
 * push to any project.
 */
static int include_project_file(void *ud, const char *project, const char *ref,
				const char *file, size_t max, struct strbuf *out,
				struct strbuf *err)
{
	struct includer *in = ud;
	struct store_project p;
	int rc;

	if (server_project_by_path(in->st, project, &p, err) < 0)
		return -1;
	if (p.id != in->self->id && !p.public_read) {
		strbuf_addf(err, "project %s is not public: a pipeline includes files of its "
			    "own project and of public ones only", p.name);
		rc = -1;
	} else {
		rc = server_project_file(in->srv, &p, ref, file, max, out, err) < 0 ? -1 : 0;
	}
	store_project_release(&p);
	return rc;
}

/*
 * Why a pipeline of t at a commit with this message is skipped, or NULL:
 * as GitLab, "[skip ci]" or "[ci skip]" (any case) in the message of a
 * pushed commit, or the push option ci.skip; never for a trigger or a
 * schedule, whose caller asked for it.
 */
static const char *skip_ci(const struct trigger *t, const char *message)
{
	if (strcmp(t->source, "push") && strcmp(t->source, "webhook") &&
	    strcmp(t->source, "poll") && strcmp(t->source, "merge_request_event"))
		return NULL;
	if (t->skip_ci)
		return "skipped by the push option ci.skip";
	if (message && (strcasestr(message, "[skip ci]") || strcasestr(message, "[ci skip]")))
		return "skipped by [skip ci] in the commit message";
	return NULL;
}

/*
 * GitLab's CI_MERGE_REQUEST_* variables of a merge request pipeline of
 * branch at sha (a "detached" one: the source branch's head, not a merge
 * result).
 */
static void merge_request_vars(const struct trigger *t, const char *branch, const char *sha,
			       struct varlist *vl)
{
	char iid[32];

	snprintf(iid, sizeof(iid), "%lld", t->mr_iid);
	varlist_set(vl, "CI_MERGE_REQUEST_IID", iid);
	varlist_set(vl, "CI_MERGE_REQUEST_ID", iid);
	varlist_set(vl, "CI_MERGE_REQUEST_TITLE", t->mr_title ? t->mr_title : "");
	varlist_set(vl, "CI_MERGE_REQUEST_EVENT_TYPE", "detached");
	varlist_set(vl, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", branch);
	varlist_set(vl, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", sha);
	varlist_set(vl, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", t->mr_target);
	if (t->mr_target_sha && *t->mr_target_sha)
		varlist_set(vl, "CI_MERGE_REQUEST_TARGET_BRANCH_SHA", t->mr_target_sha);
	if (t->mr_url && *t->mr_url)
		varlist_set(vl, "CI_MERGE_REQUEST_URL", t->mr_url);
}

/*
 * CI_OPEN_MERGE_REQUESTS of a branch's (or merge request's) pipeline:
 * "PATH!IID" of up to four open merge requests from that branch, as the
 * forges' webhooks told of them; not set when there is none.
 */
static void open_merge_requests(struct store *st, const struct store_project *pr,
				const char *branch, struct varlist *vl)
{
	struct strbuf err = STRBUF_INIT, list = STRBUF_INIT;
	const char *path = varlist_get(vl, "CI_PROJECT_PATH");
	long long iids[4];
	size_t n = 0, i;

	if (store_merge_requests_open(st, pr->id, branch, iids, 4, &n, &err) < 0)
		slog_warn("open merge requests of %s %s: %s", pr->name, branch, err.buf);
	for (i = 0; i < n; i++)
		strbuf_addf(&list, "%s%s!%lld", i ? "," : "", path ? path : pr->name, iids[i]);
	if (n)
		varlist_set(vl, "CI_OPEN_MERGE_REQUESTS", list.buf);
	strbuf_release(&list);
	strbuf_release(&err);
}

/* rc; when the store cannot write now (a full disk): 503, and err says so */
static int busy(int rc, int *ret_status, struct strbuf *err)
{
	if (rc == STORE_UNAVAILABLE) {
		struct strbuf m = STRBUF_INIT;

		*ret_status = 503;
		strbuf_addf(&m, "the server cannot record a pipeline now (%s): try again later",
			    err->buf);
		strbuf_reset(err);
		strbuf_add(err, m.buf, m.len);
		strbuf_release(&m);
	}
	return rc;
}

int server_create_pipeline(struct server *srv, const struct trigger *t,
			   int64_t *ret_id, int *ret_status, struct strbuf *err)
{
	const struct store_project *pr = t->project;
	struct store *st = server_store(srv, err);
	char *mirror = server_mirror_path(srv, pr->name);
	char *plan_dir = NULL, *branch = NULL, *vars_text = NULL, *ctx_text = NULL;
	char sha[41], parent[41] = "";
	struct gitinfo gi;
	struct ci_predef po;
	char *base_url = NULL;
	struct pctx ctx;
	struct pipeline *p = NULL;
	struct plan plan;
	struct plan_ctx pc;
	struct store_pipeline pl;
	struct server_config cfg;
	struct diag d;
	int64_t pending = 0, created_project = 0;
	json_t *created_ev = NULL;
	struct keylock *plan_key = NULL;
	int have_gi = 0, have_plan = 0, rc = -1, in_tx = 0, recorded = 0, broken;
	int tag = 0, qualified = 0;
	const char *skip = NULL;

	*ret_status = 500;
	diag_init(&d);
	pctx_init(&ctx);
	memset(&gi, 0, sizeof(gi));
	memset(&pl, 0, sizeof(pl));
	memset(&plan, 0, sizeof(plan));
	if (!st)
		goto done;
	server_cfg(srv, &cfg);
	if (busy(store_job_count(st, "pending", &pending, err), ret_status, err) < 0)
		goto done;
	if (pending >= cfg.max_queue) {
		*ret_status = 503;
		strbuf_addf(err, "the job queue is full (%lld pending jobs, limits.queue_length "
			    "is %d): try again later", (long long)pending, cfg.max_queue);
		goto done;
	}

	/* the commit */
	if (t->sha && !mirror_is_sha(t->sha)) {
		*ret_status = 400;
		strbuf_addf(err, "sha must be 40 lowercase hex digits");
		goto done;
	}
	/*
	 * A given commit is looked up first (the mirror often has it: no
	 * fetch); a branch's head is fetched first unless the caller just did.
	 */
	gi.default_branch = mirror_head_branch(mirror);
	branch = xstrdup(t->ref ? t->ref : gi.default_branch);
	tag = t->tag;
	if (!strncmp(branch, "refs/heads/", 11)) {
		memmove(branch, branch + 11, strlen(branch + 11) + 1);
		qualified = 1;
	} else if (!strncmp(branch, "refs/tags/", 10)) {
		memmove(branch, branch + 10, strlen(branch + 10) + 1);
		tag = qualified = 1;
	}
	{
		char *db = gi.default_branch, *rev = t->sha ? xstrdup(t->sha) :
						   xasprintf("refs/%s/%s", tag ? "tags" : "heads",
							     branch);
		int got;

		gi.default_branch = NULL;
		got = t->sha && commit_facts(mirror, rev, &gi, err) == 0;
		if (!t->sha && !t->fetched && local_head_mirrored(pr->repo, mirror, &rev)) {
			/* rev is now the source's head, which the mirror has: no fetch */
			got = commit_facts(mirror, rev, &gi, err) == 0;
		}
		if (!got && !t->fetched) {
			strbuf_reset(err);
			if (server_fetch(mirror, err) < 0) {
				*ret_status = 502;
				free(db);
				free(rev);
				goto done;
			}
		}
		if (!got) {
			strbuf_reset(err);
			got = commit_facts(mirror, rev, &gi, err) == 0;
		}
		if (!got && !t->sha && !tag && !qualified && t->ref) {
			/* a name that is no branch may be a tag (as GitLab's ref) */
			free(rev);
			rev = xasprintf("refs/tags/%s", branch);
			strbuf_reset(err);
			got = commit_facts(mirror, rev, &gi, err) == 0;
			tag = got;
		}
		free(rev);
		if (!got) {
			free(db);
			*ret_status = 404;
			strbuf_reset(err);
			if (t->sha)
				strbuf_addf(err, "commit %s is not in the repository", t->sha);
			else if (tag)
				strbuf_addf(err, "no tag \"%s\" in the repository", branch);
			else if (qualified || !t->ref)
				strbuf_addf(err, "no branch \"%s\" in the repository", branch);
			else
				strbuf_addf(err, "no branch or tag \"%s\" in the repository",
					    branch);
			goto done;
		}
		gi.default_branch = db;
		memcpy(sha, gi.sha, 41);
	}
	have_gi = 1;
	if (gi.before_sha && mirror_is_sha(gi.before_sha))
		memcpy(parent, gi.before_sha, 41);
	if (t->before && mirror_is_sha(t->before)) {
		free(gi.before_sha);
		gi.before_sha = xstrdup(t->before);
	}
	if (tag) {
		gi.tag = xstrdup(branch);
		gi.tag_message = mirror_tag_message(mirror, branch);
	} else {
		gi.branch = xstrdup(branch);
	}
	free(gi.toplevel);
	gi.toplevel = xstrdup(pr->repo);
	gi.remote_url = xstrdup(pr->repo);

	/*
	 * The pipeline row first: its id is a predefined variable. Planning
	 * runs outside any transaction (it reads git); the jobs go in with
	 * the planning context in one.
	 */
	vars_text = t->vars ? pctx_vars_json(t->vars) : xstrdup("{}");
	pl.project_id = pr->id;
	pl.ref = branch;
	pl.sha = sha;
	/* a new branch has no previous commit: null, not forty zeros */
	pl.before_sha = t->before && mirror_is_sha(t->before) &&
			strcmp(t->before, "0000000000000000000000000000000000000000") ?
			(char *)t->before : NULL;
	pl.source = (char *)t->source;
	pl.status = "created";
	pl.variables = vars_text;
	pl.schedule_id = t->schedule_id;
	pl.tag = tag;
	/* a merge request's code is not trusted: never protected */
	pl.protected_ref = t->mr_iid ? 0 : tag ? server_tag_protected(pr, branch) :
			   server_branch_protected(pr, branch, gi.default_branch);
	if (busy(store_pipeline_add(st, &pl, err), ret_status, err) < 0)
		goto done;

	/* the planning context */
	memset(&po, 0, sizeof(po));
	po.builds_dir = srv->data;
	po.file = ".gitlab-ci.yml";
	po.source = t->source;
	po.runner = cfg.runner_name;
	po.project = pr->name;
	po.namespace = "cidre";
	po.pipeline_id = pl.id;
	base_url = server_base_url(srv);
	po.server_url = base_url;
	{
		char *b = xasprintf("%s/work", srv->data);

		po.builds_dir = b;
		ci_predefined(&gi, &po, &ctx.predefined);
		if (pl.protected_ref)
			varlist_set(&ctx.predefined, "CI_COMMIT_REF_PROTECTED", "true");
		free(b);
	}
	if (t->mr_iid)
		merge_request_vars(t, branch, sha, &ctx.predefined);
	if (!tag)
		open_merge_requests(st, pr, branch, &ctx.predefined);
	if (t->vars)
		varlist_copy(&ctx.overrides, t->vars);
	if (t->inputs)
		varlist_copy(&ctx.inputs, t->inputs);
	if (t->mr_iid) {
		/* rules:changes of a merge request: since it left its target */
		char *target = xasprintf("refs/heads/%s", t->mr_target);

		ctx.has_changed = mirror_changed_since(mirror, target, sha, &ctx.changed,
						       err) == 0;
		strbuf_reset(err);
		free(target);
	} else if (t->before && mirror_is_sha(t->before)) {
		int c = mirror_changed(mirror, t->before, sha, &ctx.changed, NULL);

		ctx.has_changed = c == 0;
	}
	/*
	 * The files the pipeline page lists: the push's, else the commit's
	 * own, diffed by the page on its first view (a git process here
	 * would be on every trigger's path).
	 */
	if (ctx.has_changed)
		pctx_set_files(&ctx, &ctx.changed);
	else if (parent[0])
		ctx.parent = xstrdup(parent);

	skip = skip_ci(t, gi.message);
	if (skip) {
		/* recorded as skipped, with no job: nothing is planned */
		ctx_text = pctx_to_json(&ctx);
		if (store_begin(st, err) < 0)
			goto done;
		in_tx = 1;
		if (store_pipeline_set_ctx(st, pl.id, ctx_text, NULL, err) < 0 ||
		    store_pipeline_set_status(st, pl.id, NULL, "skipped", 0, server_now_ms(),
					      skip, err) < 0)
			goto done;
		goto commit;
	}

	/* plan at the commit */
	/*
	 * The commit's tree, to read the pipeline file and its includes and
	 * to answer rules:exists: one tree per project, moved from commit to
	 * commit (only what changed is written), one planning at a time.
	 */
	plan_dir = xasprintf("%s/work/%s/plan", srv->data, pr->name);
	plan_key = keylock_acquire(&plannings, plan_dir);
	{
		char *pdir = xasprintf("%s/work/%s", srv->data, pr->name);

		if (mkdir(pdir, 0755) < 0 && errno != EEXIST) {
			strbuf_addf(err, "cannot create %s: %s", pdir, strerror(errno));
			free(pdir);
			goto done;
		}
		free(pdir);
	}
	if (mirror_checkout(mirror, sha, NULL, plan_dir, 0, err) < 0) {
		/* a damaged tree is made again from nothing */
		strbuf_reset(err);
		cas_rmtree(plan_dir, NULL);
		if (mirror_checkout(mirror, sha, NULL, plan_dir, 0, err) < 0)
			goto done;
	}
	ctx.mirror = mirror;
	{
		struct includer in = { srv, st, pr };

		ctx.project_file = include_project_file;
		ctx.remote_file = include_remote_file;
		ctx.remote_file_ud = srv;
		ctx.project_file_ud = &in;
		broken = pctx_plan(plan_dir, &ctx, NULL, &p, &plan, &d) < 0;
		ctx.project_file = NULL;
		ctx.project_file_ud = NULL;
	}
	if (broken) {
		struct strbuf msg = STRBUF_INIT;

		/* a broken pipeline file: a failed pipeline that says where */
		diag_format(&d, &msg);
		strbuf_rtrim(&msg);
		ctx_text = pctx_to_json(&ctx);
		if (store_pipeline_set_ctx(st, pl.id, ctx_text, NULL, err) < 0 ||
		    store_pipeline_set_status(st, pl.id, NULL, "failed", 0, server_now_ms(),
					      msg.len ? msg.buf : "the pipeline cannot be planned",
					      err) < 0) {
			strbuf_release(&msg);
			goto done;
		}
		strbuf_release(&msg);
		goto commit;
	}
	have_plan = 1;
	{
		const struct var *cf = varlist_find(&ctx.predefined, "CI_CONFIG_PATH");

		if (p->file && (!cf || strcmp(cf->value, p->file))) {
			/* the file actually read, as CI_CONFIG_PATH */
			varlist_set(&ctx.predefined, "CI_CONFIG_PATH", p->file);
		}
	}
	ctx_text = pctx_to_json(&ctx);
	if (busy(store_begin(st, err), ret_status, err) < 0)
		goto done;
	in_tx = 1;
	if (busy(store_pipeline_set_ctx(st, pl.id, ctx_text, plan.name, err), ret_status, err) < 0)
		goto done;
	if ((plan.auto_cancel_new_commit || plan.auto_cancel_job_failure) &&
	    store_pipeline_set_auto_cancel(st, pl.id, plan.auto_cancel_new_commit,
					   plan.auto_cancel_job_failure, err) < 0)
		goto done;
	if (plan.workflow_skip || !plan.nr) {
		if (store_pipeline_set_status(st, pl.id, NULL, "skipped", 0, server_now_ms(),
					      plan.workflow_skip ?
					      "filtered out by workflow:rules" :
					      plan.only_pre_post ?
					      "only .pre and .post jobs to run" :
					      "no job to run for this commit", err) < 0)
			goto done;
		goto commit;
	}
	memset(&pc, 0, sizeof(pc));
	pc.predefined = &ctx.predefined;
	pc.overrides = &ctx.overrides;
	pc.project_dir = plan_dir;
	pc.changed = ctx.has_changed ? &ctx.changed : NULL;
	if (add_jobs(st, pl.id, &plan, &pc, p->cut_globals, err) < 0)
		goto done;
commit:
	if (plan_key)
		keylock_release(&plannings, plan_key);
	plan_key = NULL;
	if (in_tx && t->record)
		t->record(st, pl.id, t->record_ud);
	if (in_tx && busy(store_commit(st, err), ret_status, err) < 0)
		goto done;
	recorded = in_tx && t->record;
	in_tx = 0;
	/* the pipeline's event as created: read before the runner moves it on */
	created_ev = events_pipeline_read(srv, st, pl.id, &created_project);
	/* the runner first: what follows is not needed for the jobs to start */
	server_kick(srv, pl.id);
	if (!recorded && t->record) {
		t->record(st, pl.id, t->record_ud);
		recorded = 1;
	}
	atomic_fetch_add(&srv->pipelines_created, 1);
	if (!have_plan || !plan.nr || plan.workflow_skip)
		notify_pipeline(srv, st, pl.id, have_plan || skip ? "skipped" : "failed");
	events_pipeline_publish(srv, created_ev, created_project, pl.id);
	created_ev = NULL;
	/*
	 * A newer pipeline makes older ones redundant, if it has jobs to run.
	 * After the kick: the runner claims an older pipeline's pending job
	 * only when a slot is free, and then it would have claimed it before
	 * this pipeline existed; a running one is killed by the cancel.
	 */
	if (have_plan && plan.nr && !plan.workflow_skip && !tag && !t->mr_iid)
		runner_auto_cancel(srv, st, pr->id, branch, pl.id);
	*ret_id = pl.id;
	rc = 0;
done:
	if (plan_key)
		keylock_release(&plannings, plan_key);
	if (in_tx)
		store_rollback(st);
	if (rc < 0 && pl.id) {
		/* the pipeline exists: it failed, and says why */
		int src = store_pipeline_set_status(st, pl.id, NULL, "failed", 0, server_now_ms(),
						    err->buf, NULL);

		if (src == STORE_UNAVAILABLE) {
			/* not even that now: the runner fails it once it can */
			server_orphan_pipeline(srv, pl.id);
		} else if (src == 0) {
			slog_warn("pipeline %lld: %s", (long long)pl.id, err->buf);
			if (!recorded && t->record)
				t->record(st, pl.id, t->record_ud);
			notify_pipeline(srv, st, pl.id, "failed");
			events_pipeline(srv, st, pl.id);
			*ret_id = pl.id;
			rc = 0;
		}
	}
	free(plan_dir);
	free(base_url);
	if (have_plan) {
		plan_release(&plan);
		pipeline_free(p);
	}
	if (have_gi)
		gitinfo_release(&gi);
	pctx_release(&ctx);
	diag_clear(&d);
	json_decref(created_ev);
	free(mirror);
	free(branch);
	free(vars_text);
	free(ctx_text);
	return rc;
}
