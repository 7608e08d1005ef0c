#include "pipeline/plan.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline/expr.h"
#include "pipeline/expr_regex.h"
#include "pipeline/plan_glob.h"
#include "util/slug.h"
#include "util/suggest.h"
#include "util/xalloc.h"

/*
 * Pipeline creation, GitLab style. See docs/internals/planner.md for the
 * order of the passes and docs/rules.md for the user-visible semantics.
 *
 *   1. workflow:rules            -> workflow_skip, plan->vars, plan->name
 *   2. every job, every parallel -> candidates (rules / only / except
 *      instance                     evaluated per instance)
 *   3. sort by stage, file order
 *   4. selection (--job, with needs) and needs resolution
 *   5. the plan: needs remapped, cycles checked, dependencies, --manual
 */

#define PLAN_MAX_PARALLEL 200
#define PLAN_EXISTS_MAX_CHECKS 10000
#define PLAN_EXISTS_MAX_DEPTH 64

/* A job instance that passed its rules, before selection. */
struct cand {
	struct plan_job pj;
	size_t seq;                 /* creation order: file order, instance order */
	struct varlist matrix;      /* the instance's parallel:matrix values */
	const struct need *needs;   /* effective needs (rules:needs or job's) */
	size_t needs_nr;
	int selected;
	int resolved;
	struct plan_need *rneeds;   /* resolved: indexes into the candidates */
	size_t rneeds_nr, rneeds_alloc;
};

struct planner {
	const struct pipeline *p;
	const struct plan_ctx *ctx;
	struct plan *plan;
	struct diag *d;
	int failed;

	struct cand *c;
	size_t nr, alloc;

	/* rules:changes:compare_to: the files since each ref, found once */
	struct since {
		char *ref;
		int rc;                 /* 0, or -1: not a valid ref */
		struct strvec files;
	} *since;
	size_t since_nr;

	/* rules:exists: the project's files, listed once */
	int files_listed;
	struct strvec files;
	size_t exists_checks;
};

static const char *predef(const struct planner *pl, const char *key)
{
	const char *v = NULL;

	if (pl->ctx->overrides)
		v = varlist_get(pl->ctx->overrides, key);
	if (!v && pl->ctx->predefined)
		v = varlist_get(pl->ctx->predefined, key);
	return v;
}

static void var_put(struct varlist *dst, const struct var *src)
{
	struct var *v = varlist_set(dst, src->key, src->value);

	v->expand = src->expand;
	v->pos = src->pos;
	if (src->description) {
		free(v->description);
		v->description = xstrdup(src->description);
	}
}

static int job_inherits(const struct job *j, const char *key)
{
	switch (j->inherit_variables) {
	case INHERIT_ALL:
		return 1;
	case INHERIT_NONE:
		return 0;
	case INHERIT_LIST:
		return strvec_find(&j->inherit_variables_list, key) >= 0;
	}
	return 1;
}

/* dst += the global variables job j inherits. */
static void merge_globals(struct varlist *dst, const struct varlist *globals,
			  const struct job *j)
{
	size_t i;

	for (i = 0; i < globals->nr; i++)
		if (job_inherits(j, globals->v[i].key))
			var_put(dst, &globals->v[i]);
}

static int stage_index(const struct pipeline *p, const char *stage)
{
	size_t i;

	for (i = 0; i < p->stages.nr; i++)
		if (!strcmp(p->stages.v[i], stage))
			return (int)i;
	return -1;
}

static int job_defined(const struct pipeline *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->jobs_nr; i++)
		if (!strcmp(p->jobs[i]->name, name))
			return 1;
	return 0;
}

/* ---- rules: if / changes / exists ---- */

static int eval_if(struct planner *pl, const char *expr, const struct pos *pos,
		   const struct varlist *vars, const char *what)
{
	struct strbuf err = STRBUF_INIT;
	int rc = expr_eval(expr, vars, &err);

	if (rc < 0) {
		diag_error(pl->d, pos, "%s: %s", what, err.buf);
		pl->failed = 1;
	}
	strbuf_release(&err);
	return rc;
}

/* The files changed since ref (expanded), or NULL with the error reported. */
static const struct strvec *changed_since(struct planner *pl, const char *ref,
					  const struct pos *pos)
{
	struct since *s = NULL;
	size_t i;

	for (i = 0; i < pl->since_nr; i++)
		if (!strcmp(pl->since[i].ref, ref))
			s = &pl->since[i];
	if (!s) {
		struct strbuf err = STRBUF_INIT;

		pl->since = xrealloc(pl->since, (pl->since_nr + 1) * sizeof(*pl->since));
		s = &pl->since[pl->since_nr++];
		s->ref = xstrdup(ref);
		strvec_init(&s->files);
		s->rc = pl->ctx->changed_since(pl->ctx->changed_since_ud, ref, &s->files, &err);
		if (s->rc < 0) {
			/* reported once per ref, at its first use */
			diag_error(pl->d, pos, "rules:changes:compare_to is not a valid ref: %s%s%s",
				   ref, err.len ? ": " : "", err.buf);
			pl->failed = 1;
		}
		strbuf_release(&err);
	}
	return s->rc < 0 ? NULL : &s->files;
}

/*
 * rules:changes: a glob matches a file changed by the push, or since the
 * merge base with compare_to (when given and the caller can tell).
 */
static int changes_match(struct planner *pl, const struct strvec *globs,
			 const char *compare_to, const struct pos *pos,
			 const struct varlist *vars)
{
	const struct strvec *changed = pl->ctx->changed;
	size_t i, k;
	int rc = 0;

	if (compare_to && pl->ctx->changed_since) {
		char *ref = vars_expand_dup(compare_to, vars);

		changed = changed_since(pl, ref, pos);
		free(ref);
		if (!changed)
			return 0;
	} else if (!changed) {
		return 1;
	}
	for (i = 0; i < globs->nr && !rc; i++) {
		char *g = vars_expand_dup(globs->v[i], vars);

		for (k = 0; k < changed->nr && !rc; k++)
			rc = plan_glob_match(g, changed->v[k]);
		free(g);
	}
	return rc;
}

/* Append every regular file under dir (path relative to the project). */
static void list_files(struct planner *pl, struct strbuf *rel, int depth)
{
	struct strbuf abs = STRBUF_INIT;
	struct dirent *de;
	DIR *dir;
	size_t base = rel->len;

	if (depth > PLAN_EXISTS_MAX_DEPTH)
		return;
	strbuf_addf(&abs, "%s/%s", pl->ctx->project_dir, rel->buf);
	dir = opendir(abs.buf);
	strbuf_release(&abs);
	if (!dir)
		return;
	while ((de = readdir(dir)) && pl->files.nr <= PLAN_EXISTS_MAX_CHECKS) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!depth && !strcmp(de->d_name, ".git"))
			continue;
		strbuf_setlen(rel, base);
		if (base)
			strbuf_addch(rel, '/');
		strbuf_addstr(rel, de->d_name);
		strbuf_addf(&abs, "%s/%s", pl->ctx->project_dir, rel->buf);
		if (!lstat(abs.buf, &st)) {
			if (S_ISDIR(st.st_mode))
				list_files(pl, rel, depth + 1);
			else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
				strvec_push(&pl->files, rel->buf);
		}
		strbuf_release(&abs);
	}
	strbuf_setlen(rel, base);
	closedir(dir);
}

/*
 * rules:exists. Exact paths are looked up directly; globs are matched
 * against the project's files. As in GitLab, after 10,000 glob checks a
 * glob is assumed to match. No project_dir: nothing exists.
 */
static int exists_match(struct planner *pl, const struct strvec *globs,
			const struct varlist *vars)
{
	size_t i, k;
	int rc = 0;

	if (!pl->ctx->project_dir)
		return 0;
	for (i = 0; i < globs->nr && !rc; i++) {
		char *g = vars_expand_dup(globs->v[i], vars);
		const char *pat = g;

		while (pat[0] == '.' && pat[1] == '/')
			pat += 2;
		while (pat[0] == '/')
			pat++;
		if (!plan_glob_has_magic(pat)) {
			struct strbuf abs = STRBUF_INIT;
			struct stat st;

			strbuf_addf(&abs, "%s/%s", pl->ctx->project_dir, pat);
			rc = *pat && !stat(abs.buf, &st) && S_ISREG(st.st_mode);
			strbuf_release(&abs);
			free(g);
			continue;
		}
		if (!pl->files_listed) {
			struct strbuf rel = STRBUF_INIT;

			list_files(pl, &rel, 0);
			strbuf_release(&rel);
			pl->files_listed = 1;
		}
		for (k = 0; k < pl->files.nr && !rc; k++) {
			if (++pl->exists_checks > PLAN_EXISTS_MAX_CHECKS)
				rc = 1;
			else
				rc = plan_glob_match(pat, pl->files.v[k]);
		}
		free(g);
	}
	return rc;
}

/* 1 when every clause of the rule holds, 0 if one does not, -1 on error. */
static int rule_matches(struct planner *pl, const struct rule *r,
			const struct varlist *vars)
{
	if (r->if_expr) {
		int rc = eval_if(pl, r->if_expr, &r->if_pos, vars, "rules:if");

		if (rc <= 0)
			return rc;
	}
	if (r->has_changes &&
	    !changes_match(pl, &r->changes, r->changes_compare_to, &r->pos, vars))
		return 0;
	if (r->has_exists && !exists_match(pl, &r->exists, vars))
		return 0;
	return 1;
}

/* ---- only / except ---- */

static int is_mr_source(const char *source)
{
	return !strcmp(source, "merge_request_event") ||
	       !strcmp(source, "external_pull_request_event");
}

/* 1 matches, 0 does not, -1 keyword unknown. */
static int ref_keyword(const char *kw, const char *source, int is_tag)
{
	static const struct { const char *kw, *source; } kws[] = {
		{ "api", "api" },
		{ "chat", "chat" },
		{ "external", "external" },
		{ "external_pull_requests", "external_pull_request_event" },
		{ "merge_requests", "merge_request_event" },
		{ "pushes", "push" },
		{ "schedules", "schedule" },
		{ "triggers", "trigger" },
		{ "web", "web" },
	};
	size_t i;

	if (!strcmp(kw, "branches"))
		return !is_tag && !is_mr_source(source);
	if (!strcmp(kw, "tags"))
		return is_tag;
	if (!strcmp(kw, "pipelines"))
		return !strcmp(source, "pipeline") || !strcmp(source, "parent_pipeline");
	for (i = 0; i < ARRAY_SIZE(kws); i++)
		if (!strcmp(kw, kws[i].kw))
			return !strcmp(source, kws[i].source);
	return -1;
}

static int refs_match(struct planner *pl, const struct ref_filter *f)
{
	const char *ref = predef(pl, "CI_COMMIT_REF_NAME");
	const char *tag = predef(pl, "CI_COMMIT_TAG");
	const char *source = predef(pl, "CI_PIPELINE_SOURCE");
	const char *project = predef(pl, "CI_PROJECT_PATH");
	int is_tag = tag && *tag;
	size_t i;

	if (!ref)
		ref = "";
	if (!source || !*source)
		source = "push";
	for (i = 0; i < f->refs.nr; i++) {
		const char *r = f->refs.v[i];
		const char *at = strchr(r, '@');
		const char *body, *flags;
		size_t len, flags_len;
		char *pat;
		int rc;

		/*
		 * GitLab splits "pattern@group/project" at the first '@' and
		 * then reads the pattern: a keyword, a /regex/ or a ref name.
		 */
		if (at && project && strcmp(at + 1, project))
			continue;
		pat = at ? xstrndup(r, (size_t)(at - r)) : xstrdup(r);
		rc = ref_keyword(pat, source, is_tag);
		if (rc < 0 && !strcmp(pat, "//")) {
			rc = 1; /* the empty regular expression matches every ref */
		} else if (rc < 0 && expr_regex_literal(pat, &body, &len, &flags,
							&flags_len)) {
			struct strbuf err = STRBUF_INIT;

			rc = expr_regex_match_literal(pat, ref, &err);
			if (rc < 0) {
				diag_error(pl->d, &f->pos, "only/except refs: %s", err.buf);
				pl->failed = 1;
				rc = 0;
			}
			strbuf_release(&err);
		} else if (rc < 0) {
			/* a name, or a pattern that is not a regex: as written */
			rc = !strcmp(pat, ref);
		}
		free(pat);
		if (rc > 0)
			return 1;
	}
	return 0;
}

static int any_expr(struct planner *pl, const struct ref_filter *f,
		    const struct varlist *vars, const char *what)
{
	size_t i;

	for (i = 0; i < f->variables.nr; i++)
		if (eval_if(pl, f->variables.v[i], &f->pos, vars, what) > 0)
			return 1;
	return 0;
}

/* only: every given key must match (within a key, any entry). */
static int only_matches(struct planner *pl, const struct ref_filter *f,
			const struct varlist *vars)
{
	static const char *const dflt[] = { "branches", "tags" };
	struct ref_filter def;

	if (!f->set) {
		memset(&def, 0, sizeof(def));
		def.refs.v = (char **)dflt;
		def.refs.nr = ARRAY_SIZE(dflt);
		return refs_match(pl, &def);
	}
	if (f->refs.nr && !refs_match(pl, f))
		return 0;
	if (f->variables.nr && !any_expr(pl, f, vars, "only:variables"))
		return 0;
	if (f->changes.nr && !changes_match(pl, &f->changes, NULL, NULL, vars))
		return 0;
	return !pl->failed;
}

/* except: any given key that matches excludes the job. */
static int except_matches(struct planner *pl, const struct ref_filter *f,
			  const struct varlist *vars)
{
	if (!f->set)
		return 0;
	if (f->refs.nr && refs_match(pl, f))
		return 1;
	if (f->variables.nr && any_expr(pl, f, vars, "except:variables"))
		return 1;
	if (f->changes.nr && changes_match(pl, &f->changes, NULL, NULL, vars))
		return 1;
	return 0;
}

/* ---- workflow ---- */

static void eval_base_vars(const struct planner *pl, struct varlist *out)
{
	if (pl->ctx->predefined)
		varlist_merge(out, pl->ctx->predefined);
	varlist_merge(out, &pl->plan->vars);
}

static int plan_workflow(struct planner *pl)
{
	const struct pipeline *p = pl->p;
	struct varlist vars = VARLIST_INIT;
	size_t i;

	pl->plan->auto_cancel_new_commit = p->auto_cancel_new_commit;
	pl->plan->auto_cancel_job_failure = p->auto_cancel_job_failure;
	if (p->has_workflow_rules) {
		eval_base_vars(pl, &vars);
		if (pl->ctx->overrides)
			varlist_merge(&vars, pl->ctx->overrides);
		pl->plan->workflow_skip = 1;
		for (i = 0; i < p->workflow_rules.nr; i++) {
			const struct rule *r = &p->workflow_rules.v[i];
			int rc = rule_matches(pl, r, &vars);

			if (rc < 0)
				goto done;
			if (!rc)
				continue;
			if (r->has_when && r->when == WHEN_NEVER)
				break;
			pl->plan->workflow_skip = 0;
			varlist_merge(&pl->plan->vars, &r->variables);
			/* the matching rule's auto_cancel wins over workflow:'s */
			if (r->auto_cancel_new_commit)
				pl->plan->auto_cancel_new_commit = r->auto_cancel_new_commit;
			if (r->auto_cancel_job_failure)
				pl->plan->auto_cancel_job_failure = r->auto_cancel_job_failure;
			break;
		}
		varlist_clear(&vars);
	}
	if (p->workflow_name) {
		eval_base_vars(pl, &vars);
		if (pl->ctx->overrides)
			varlist_merge(&vars, pl->ctx->overrides);
		pl->plan->name = vars_expand_dup(p->workflow_name, &vars);
	}
done:
	varlist_clear(&vars);
	return pl->failed ? -1 : 0;
}

/* ---- candidates ---- */

struct instance {
	char *name;
	int node_index, node_total;
	struct varlist matrix;
};

static void instances_free(struct instance *in, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(in[i].name);
		varlist_clear(&in[i].matrix);
	}
	free(in);
}

/* Expand parallel / parallel:matrix; -1 (reported) when over the limit. */
static int job_instances(struct planner *pl, const struct job *j,
			 struct instance **ret, size_t *ret_nr)
{
	const struct parallel *par = &j->parallel;
	struct instance *in;
	size_t total = 0, n = 0, e, k;

	if (par->matrix_nr) {
		for (e = 0; e < par->matrix_nr; e++) {
			size_t prod = 1;

			for (k = 0; k < par->matrix[e].nr; k++) {
				prod *= par->matrix[e].dims[k].values.nr;
				if (prod > PLAN_MAX_PARALLEL)
					break;
			}
			total += prod;
			if (total > PLAN_MAX_PARALLEL)
				break;
		}
		if (total > PLAN_MAX_PARALLEL) {
			diag_error(pl->d, &j->pos,
				   "job '%s': parallel:matrix generates more than %d jobs",
				   j->name, PLAN_MAX_PARALLEL);
			return -1;
		}
	} else if (par->count > 0) {
		if (par->count > PLAN_MAX_PARALLEL) {
			diag_error(pl->d, &j->pos, "job '%s': parallel: %d is over the limit of %d",
				   j->name, par->count, PLAN_MAX_PARALLEL);
			return -1;
		}
		total = par->count;
	}
	if (!total) {
		in = xcalloc(1, sizeof(*in));
		in->name = xstrdup(j->name);
		*ret = in;
		*ret_nr = 1;
		return 0;
	}
	in = xcalloc(total, sizeof(*in));
	if (!par->matrix_nr) {
		for (n = 0; n < total; n++) {
			in[n].name = xasprintf("%s %zu/%zu", j->name, n + 1, total);
			in[n].node_index = n + 1;
			in[n].node_total = total;
		}
	}
	for (e = 0; e < par->matrix_nr; e++) {
		const struct matrix_entry *me = &par->matrix[e];
		size_t prod = 1, c;

		for (k = 0; k < me->nr; k++)
			prod *= me->dims[k].values.nr;
		if (!me->nr)
			prod = 0;
		/* Ruby's Array#product order: the first key varies slowest */
		for (c = 0; c < prod; c++) {
			struct strbuf name = STRBUF_INIT;
			size_t rest = c, div = prod;

			strbuf_addf(&name, "%s: [", j->name);
			for (k = 0; k < me->nr; k++) {
				const struct matrix_dim *dim = &me->dims[k];
				const char *v;

				div /= dim->values.nr;
				v = dim->values.v[rest / div];
				rest %= div;
				strbuf_addf(&name, "%s%s", k ? ", " : "", v);
				varlist_set(&in[n].matrix, dim->key, v);
			}
			strbuf_addch(&name, ']');
			in[n].name = strbuf_detach(&name, NULL);
			in[n].node_index = n + 1;
			in[n].node_total = total;
			n++;
		}
	}
	*ret = in;
	*ret_nr = total;
	return 0;
}

static void cand_free(struct cand *c)
{
	free(c->pj.name);
	free(c->pj.start_in);
	varlist_clear(&c->pj.vars);
	free(c->pj.allow_exit_codes.v);
	free(c->pj.needs);
	free(c->pj.deps);
	varlist_clear(&c->matrix);
	free(c->rneeds);
}

static char *slugify(const char *s);
static void plan_jobs_free(struct plan *plan);
static int only_pre_post(const struct plan *plan);

/*
 * Set the predefined variables of one job in vl: CI_JOB_NAME (the
 * instance's name), CI_JOB_NAME_SLUG, CI_JOB_STAGE and, for a parallel
 * job (node_total > 0), CI_NODE_INDEX and CI_NODE_TOTAL.
 */
static void job_predefined(struct varlist *vl, const char *name, const char *stage,
			   int node_index, int node_total)
{
	char *s = slugify(name);

	varlist_set(vl, "CI_JOB_NAME", name);
	varlist_set(vl, "CI_JOB_NAME_SLUG", s);
	free(s);
	if (stage)
		varlist_set(vl, "CI_JOB_STAGE", stage);
	if (node_total > 0) {
		struct strbuf n = STRBUF_INIT;

		strbuf_addf(&n, "%d", node_index);
		varlist_set(vl, "CI_NODE_INDEX", n.buf);
		strbuf_reset(&n);
		strbuf_addf(&n, "%d", node_total);
		varlist_set(vl, "CI_NODE_TOTAL", n.buf);
		strbuf_release(&n);
	}
}

/*
 * Decide whether instance `in` of job j is created, and add it to the
 * candidates. The instance takes ownership of nothing; everything copied.
 */
static void plan_instance(struct planner *pl, const struct job *j, int stage,
			  struct instance *in)
{
	struct varlist vars = VARLIST_INIT;
	const struct rule *rule = NULL;
	struct cand *c;
	enum when when;
	int when_from_rule = 0;
	size_t i;

	if (pl->ctx->predefined)
		varlist_merge(&vars, pl->ctx->predefined);
	/* the job's predefined variables: GitLab's rules see them too */
	job_predefined(&vars, in->name, pl->p->stages.v[stage], in->node_index,
		       in->node_total);
	merge_globals(&vars, &pl->plan->vars, j);
	varlist_merge(&vars, &j->variables);
	varlist_merge(&vars, &in->matrix);
	if (pl->ctx->overrides)
		varlist_merge(&vars, pl->ctx->overrides);

	when = j->has_when ? j->when : WHEN_ON_SUCCESS;
	if (j->has_rules) {
		for (i = 0; i < j->rules.nr; i++) {
			int rc = rule_matches(pl, &j->rules.v[i], &vars);

			if (rc < 0)
				goto done;
			if (rc) {
				rule = &j->rules.v[i];
				break;
			}
		}
		if (!rule)
			goto done;
		if (rule->has_when) {
			when = rule->when;
			when_from_rule = 1;
		}
	} else {
		int ok = only_matches(pl, &j->only, &vars) &&
			 !except_matches(pl, &j->except, &vars);

		if (pl->failed || !ok)
			goto done;
	}
	if (when == WHEN_NEVER)
		goto done;

	ALLOC_GROW(pl->c, pl->nr + 1, pl->alloc);
	c = &pl->c[pl->nr];
	memset(c, 0, sizeof(*c));
	c->seq = pl->nr++;
	c->pj.def = j;
	c->pj.name = xstrdup(in->name);
	c->pj.stage = stage;
	c->pj.node_index = in->node_index;
	c->pj.node_total = in->node_total;
	varlist_merge(&c->pj.vars, &j->variables);
	varlist_merge(&c->pj.vars, &in->matrix);
	varlist_merge(&c->matrix, &in->matrix);
	if (rule)
		varlist_merge(&c->pj.vars, &rule->variables);
	c->pj.when = when;
	if (when == WHEN_DELAYED) {
		const char *si = when_from_rule ? rule->start_in : j->start_in;

		c->pj.start_in = xstrdup_or_null(si ? si : j->start_in);
	}
	if (rule && rule->allow_failure >= 0)
		c->pj.allow_failure = rule->allow_failure;
	else if (j->allow_failure >= 0)
		c->pj.allow_failure = j->allow_failure;
	else
		/*
		 * GitLab: a job-level `when: manual` defaults to
		 * allow_failure: true (rules or not); a rules:when: manual
		 * defaults to false.
		 */
		c->pj.allow_failure = when == WHEN_MANUAL && !when_from_rule;
	c->pj.interruptible = rule && rule->interruptible >= 0 ? rule->interruptible :
			      j->interruptible;
	if (j->allow_failure_exit_codes.nr) {
		size_t sz = j->allow_failure_exit_codes.nr * sizeof(int);

		c->pj.allow_exit_codes.v = xmalloc(sz);
		memcpy(c->pj.allow_exit_codes.v, j->allow_failure_exit_codes.v, sz);
		c->pj.allow_exit_codes.nr = j->allow_failure_exit_codes.nr;
	}
	if (rule && rule->has_needs) {
		c->pj.has_needs = 1;
		c->needs = rule->needs;
		c->needs_nr = rule->needs_nr;
	} else {
		c->pj.has_needs = j->has_needs;
		c->needs = j->needs;
		c->needs_nr = j->needs_nr;
	}
done:
	varlist_clear(&vars);
}

static void plan_job_candidates(struct planner *pl, const struct job *j)
{
	struct instance *in;
	size_t nr, i;
	int stage = stage_index(pl->p, j->stage);
	int before;

	if (stage < 0) {
		diag_error(pl->d, &j->stage_pos, "job '%s': stage '%s' is not defined",
			   j->name, j->stage);
		pl->failed = 1;
		return;
	}
	if (job_instances(pl, j, &in, &nr) < 0) {
		pl->failed = 1;
		return;
	}
	/* stop at this job's first error; other jobs are still checked */
	before = pl->failed;
	pl->failed = 0;
	for (i = 0; i < nr && !pl->failed; i++)
		if (!pl->ctx->one_job || !strcmp(in[i].name, pl->ctx->one_job))
			plan_instance(pl, j, stage, &in[i]);
	pl->failed |= before;
	instances_free(in, nr);
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->pj.stage != y->pj.stage)
		return x->pj.stage < y->pj.stage ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- selection and needs ---- */

static int matrix_selects(const struct need *n, const struct cand *c)
{
	size_t m, k;

	if (!n->matrix_nr)
		return 1;
	for (m = 0; m < n->matrix_nr; m++) {
		const struct varlist *want = &n->matrix[m];

		for (k = 0; k < want->nr; k++) {
			const char *have = varlist_get(&c->matrix, want->v[k].key);

			if (!have || strcmp(have, want->v[k].value))
				break;
		}
		if (k == want->nr)
			return 1;
	}
	return 0;
}

static void add_rneed(struct cand *c, size_t job, int artifacts)
{
	size_t i;

	for (i = 0; i < c->rneeds_nr; i++) {
		if (c->rneeds[i].job == job) {
			c->rneeds[i].artifacts |= artifacts;
			return;
		}
	}
	ALLOC_GROW(c->rneeds, c->rneeds_nr + 1, c->rneeds_alloc);
	c->rneeds[c->rneeds_nr].job = job;
	c->rneeds[c->rneeds_nr].artifacts = artifacts;
	c->rneeds_nr++;
}

static void resolve_needs(struct planner *pl, size_t ci)
{
	struct cand *c = &pl->c[ci];
	size_t i, k;

	if (c->resolved)
		return;
	c->resolved = 1;
	for (i = 0; i < c->needs_nr; i++) {
		const struct need *n = &c->needs[i];
		int found = 0;

		for (k = 0; k < pl->nr; k++) {
			const struct cand *t = &pl->c[k];

			if (strcmp(t->pj.def->name, n->job) || !matrix_selects(n, t))
				continue;
			found = 1;
			if (t->pj.stage > c->pj.stage) {
				diag_error(pl->d, &n->pos,
					   "job '%s' needs '%s', which is in a later stage ('%s')",
					   c->pj.name, t->pj.name, pl->p->stages.v[t->pj.stage]);
				pl->failed = 1;
				break;
			}
			if (k == ci) {
				diag_error(pl->d, &n->pos, "job '%s' needs itself", c->pj.name);
				pl->failed = 1;
				break;
			}
			add_rneed(c, k, n->artifacts);
		}
		if (found || n->optional)
			continue;
		if (n->matrix_nr)
			diag_error(pl->d, &n->pos,
				   "job '%s' needs '%s' with parallel:matrix values that match no job in this pipeline",
				   c->pj.name, n->job);
		else if (job_defined(pl->p, n->job))
			diag_error(pl->d, &n->pos,
				   "job '%s' needs '%s', which is not in this pipeline "
				   "(its rules exclude it); use needs:optional if that is expected",
				   c->pj.name, n->job);
		else
			diag_error(pl->d, &n->pos, "job '%s' needs '%s', which does not exist",
				   c->pj.name, n->job);
		pl->failed = 1;
	}
}

static int name_selects(const struct cand *c, const char *name)
{
	return !strcmp(c->pj.name, name) || !strcmp(c->pj.def->name, name);
}

/* A name that selects no job: why, with the closest job's name if any. */
static void no_such_job(struct planner *pl, const char *name, const char *opt)
{
	struct suggest sg;
	char hint[320];
	size_t i;

	if (job_defined(pl->p, name)) {
		diag_error(pl->d, NULL, "%sjob \"%s\" is not in this pipeline: its rules, "
			   "only or except exclude it", opt, name);
	} else {
		suggest_init(&sg, name);
		for (i = 0; i < pl->p->jobs_nr; i++)
			suggest_add(&sg, pl->p->jobs[i]->name);
		diag_error(pl->d, NULL, "%sno job named \"%s\" in the pipeline%s", opt, name,
			   suggest_hint(hint, sizeof(hint), sg.best));
	}
	pl->failed = 1;
}

/* --manual names: each a manual job of this pipeline */
static void check_manual_names(struct planner *pl)
{
	const struct strvec *names = pl->ctx->manual_jobs;
	size_t k, i;

	for (k = 0; names && k < names->nr; k++) {
		int found = 0, manual = 0;

		for (i = 0; i < pl->nr; i++)
			if (name_selects(&pl->c[i], names->v[k])) {
				found = 1;
				manual |= pl->c[i].pj.when == WHEN_MANUAL;
			}
		if (!found) {
			no_such_job(pl, names->v[k], "--manual: ");
		} else if (!manual) {
			diag_error(pl->d, NULL, "--manual: job \"%s\" is not a manual job "
				   "(it runs without being asked)", names->v[k]);
			pl->failed = 1;
		}
	}
}

static void plan_select(struct planner *pl)
{
	const struct plan_ctx *ctx = pl->ctx;
	size_t *queue, head = 0, tail = 0, i, k;

	if (ctx->one_job) {
		/* the job's needs were resolved when its pipeline was made */
		for (i = 0; i < pl->nr; i++)
			pl->c[i].selected = 1;
		return;
	}
	check_manual_names(pl);
	if (!ctx->only_jobs) {
		for (i = 0; i < pl->nr; i++) {
			pl->c[i].selected = 1;
			resolve_needs(pl, i);
		}
		return;
	}
	queue = xcalloc(pl->nr ? pl->nr : 1, sizeof(*queue));
	for (k = 0; k < ctx->only_jobs->nr; k++) {
		const char *name = ctx->only_jobs->v[k];
		int found = 0;

		for (i = 0; i < pl->nr; i++) {
			if (!name_selects(&pl->c[i], name))
				continue;
			found = 1;
			if (!pl->c[i].selected) {
				pl->c[i].selected = 1;
				queue[tail++] = i;
			}
		}
		if (found)
			continue;
		no_such_job(pl, name, "");
	}
	while (head < tail) {
		struct cand *c = &pl->c[queue[head++]];

		resolve_needs(pl, c - pl->c);
		if (!ctx->with_needs)
			continue;
		for (i = 0; i < c->rneeds_nr; i++) {
			struct cand *t = &pl->c[c->rneeds[i].job];

			if (!t->selected) {
				t->selected = 1;
				queue[tail++] = t - pl->c;
			}
		}
	}
	free(queue);
}

/* ---- the plan ---- */

/* DFS colours: 0 white, 1 on the stack, 2 done. */
static int find_cycle(struct plan *plan, size_t j, unsigned char *colour,
		      size_t *stack, size_t depth, struct strbuf *path)
{
	size_t i;

	colour[j] = 1;
	stack[depth] = j;
	for (i = 0; i < plan->jobs[j].needs_nr; i++) {
		size_t t = plan->jobs[j].needs[i].job;

		if (colour[t] == 1) {
			size_t s;

			for (s = 0; s <= depth && stack[s] != t; s++)
				;
			for (; s <= depth; s++)
				strbuf_addf(path, "'%s' -> ", plan->jobs[stack[s]].name);
			strbuf_addf(path, "'%s'", plan->jobs[t].name);
			return 1;
		}
		if (!colour[t] && find_cycle(plan, t, colour, stack, depth + 1, path))
			return 1;
	}
	colour[j] = 2;
	return 0;
}

static void check_cycles(struct planner *pl)
{
	struct plan *plan = pl->plan;
	unsigned char *colour = xcalloc(plan->nr + 1, 1);
	size_t *stack = xcalloc(plan->nr + 1, sizeof(*stack));
	size_t j;

	for (j = 0; j < plan->nr; j++) {
		struct strbuf path = STRBUF_INIT;

		if (!colour[j] && find_cycle(plan, j, colour, stack, 0, &path)) {
			diag_error(pl->d, &plan->jobs[j].def->pos, "needs cycle: %s", path.buf);
			pl->failed = 1;
			strbuf_release(&path);
			break;
		}
		strbuf_release(&path);
	}
	free(colour);
	free(stack);
}

static int needs_names(const struct cand *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->needs_nr; i++)
		if (!strcmp(c->needs[i].job, name))
			return 1;
	return 0;
}

static void add_dep(struct plan_job *pj, size_t *alloc, size_t job)
{
	size_t i;

	for (i = 0; i < pj->deps_nr; i++)
		if (pj->deps[i] == job)
			return;
	ALLOC_GROW(pj->deps, pj->deps_nr + 1, *alloc);
	pj->deps[pj->deps_nr++] = job;
}

static void plan_dependencies(struct planner *pl, size_t ji, const struct cand *c)
{
	struct plan *plan = pl->plan;
	struct plan_job *pj = &plan->jobs[ji];
	const struct job *def = pj->def;
	size_t alloc = 0, i, k;

	if (def->has_dependencies) {
		for (i = 0; i < def->dependencies.nr; i++) {
			const char *dep = def->dependencies.v[i];
			int later = 0;

			if (pj->has_needs && !needs_names(c, dep)) {
				diag_error(pl->d, &def->pos,
					   "job '%s': dependency '%s' must also be listed in needs",
					   pj->name, dep);
				pl->failed = 1;
				continue;
			}
			for (k = 0; k < plan->nr; k++) {
				const struct plan_job *t = &plan->jobs[k];
				int ok;

				if (strcmp(t->def->name, dep) || k == ji)
					continue;
				if (pj->has_needs) {
					size_t n;

					for (ok = 0, n = 0; n < pj->needs_nr; n++)
						ok |= pj->needs[n].job == k;
				} else {
					ok = t->stage < pj->stage;
					later |= !ok;
				}
				if (ok)
					add_dep(pj, &alloc, k);
			}
			if (later) {
				diag_error(pl->d, &def->pos,
					   "job '%s': dependency '%s' is not in an earlier stage",
					   pj->name, dep);
				pl->failed = 1;
			}
		}
		return;
	}
	if (pj->has_needs) {
		for (i = 0; i < pj->needs_nr; i++)
			if (pj->needs[i].artifacts)
				add_dep(pj, &alloc, pj->needs[i].job);
		return;
	}
	for (k = 0; k < plan->nr; k++)
		if (plan->jobs[k].stage < pj->stage)
			add_dep(pj, &alloc, k);
}

static int manual_selected(const struct plan_ctx *ctx, const struct plan_job *pj)
{
	size_t i;

	if (pj->when != WHEN_MANUAL)
		return 0;
	if (ctx->all_manual)
		return 1;
	if (!ctx->manual_jobs)
		return 0;
	for (i = 0; i < ctx->manual_jobs->nr; i++)
		if (!strcmp(ctx->manual_jobs->v[i], pj->name) ||
		    !strcmp(ctx->manual_jobs->v[i], pj->def->name))
			return 1;
	return 0;
}

static void plan_finish(struct planner *pl)
{
	struct plan *plan = pl->plan;
	size_t *map = xcalloc(pl->nr + 1, sizeof(*map));
	size_t i, k, n = 0;

	for (i = 0; i < pl->nr; i++)
		if (pl->c[i].selected)
			map[i] = n++;
	plan->jobs = xcalloc(n + 1, sizeof(*plan->jobs));
	for (i = 0; i < pl->nr; i++) {
		struct cand *c = &pl->c[i];
		struct plan_job *pj;

		if (!c->selected)
			continue;
		pj = &plan->jobs[plan->nr++];
		*pj = c->pj;
		memset(&c->pj, 0, sizeof(c->pj));
		pj->needs = xcalloc(c->rneeds_nr + 1, sizeof(*pj->needs));
		for (k = 0; k < c->rneeds_nr; k++) {
			if (!pl->c[c->rneeds[k].job].selected)
				continue; /* --job without needs: dropped */
			pj->needs[pj->needs_nr].job = map[c->rneeds[k].job];
			pj->needs[pj->needs_nr].artifacts = c->rneeds[k].artifacts;
			pj->needs_nr++;
		}
	}
	free(map);
	check_cycles(pl);
	for (i = 0, n = 0; i < pl->nr; i++) {
		if (!pl->c[i].selected)
			continue;
		plan_dependencies(pl, n, &pl->c[i]);
		plan->jobs[n].run_manual = manual_selected(pl->ctx, &plan->jobs[n]);
		n++;
	}
}

int plan_build(const struct pipeline *p, const struct plan_ctx *ctx,
	       struct plan *out, struct diag *d)
{
	static const struct plan_ctx no_ctx;
	struct planner pl;
	size_t i;

	memset(out, 0, sizeof(*out));
	strvec_init(&out->stages);
	varlist_init(&out->vars);
	strvec_copy(&out->stages, &p->stages);
	varlist_copy(&out->vars, &p->variables);

	memset(&pl, 0, sizeof(pl));
	pl.p = p;
	pl.ctx = ctx ? ctx : &no_ctx;
	pl.plan = out;
	pl.d = d;
	strvec_init(&pl.files);

	if (plan_workflow(&pl) < 0 || out->workflow_skip)
		goto done;
	for (i = 0; i < p->jobs_nr; i++)
		plan_job_candidates(&pl, p->jobs[i]);
	if (pl.failed)
		goto done;
	if (pl.nr)
		qsort(pl.c, pl.nr, sizeof(*pl.c), cand_cmp);
	/* rneeds index candidates: sort before resolving, never after */
	plan_select(&pl);
	if (pl.failed)
		goto done;
	plan_finish(&pl);
	/*
	 * GitLab creates no pipeline whose jobs are all in .pre and .post
	 * ("No stages / jobs for this pipeline"); a selection of jobs
	 * (only_jobs, one_job) is the caller's choice, not a pipeline.
	 */
	if (!pl.failed && !pl.ctx->only_jobs && !pl.ctx->one_job &&
	    only_pre_post(out)) {
		plan_jobs_free(out);
		out->only_pre_post = 1;
	}
done:
	for (i = 0; i < pl.nr; i++)
		cand_free(&pl.c[i]);
	free(pl.c);
	strvec_clear(&pl.files);
	for (i = 0; i < pl.since_nr; i++) {
		free(pl.since[i].ref);
		strvec_clear(&pl.since[i].files);
	}
	free(pl.since);
	if (pl.failed) {
		plan_release(out);
		return -1;
	}
	return 0;
}

/* Free plan's jobs, leaving it with none. */
static void plan_jobs_free(struct plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nr; i++) {
		struct plan_job *pj = &plan->jobs[i];

		free(pj->name);
		free(pj->start_in);
		varlist_clear(&pj->vars);
		free(pj->allow_exit_codes.v);
		free(pj->needs);
		free(pj->deps);
	}
	free(plan->jobs);
	plan->jobs = NULL;
	plan->nr = 0;
}

/* 1 if plan has jobs and every one is in .pre or .post. */
static int only_pre_post(const struct plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nr; i++) {
		const char *st = plan->stages.v[plan->jobs[i].stage];

		if (strcmp(st, ".pre") && strcmp(st, ".post"))
			return 0;
	}
	return plan->nr > 0;
}

void plan_release(struct plan *plan)
{
	if (!plan)
		return;
	plan_jobs_free(plan);
	strvec_clear(&plan->stages);
	free(plan->name);
	varlist_clear(&plan->vars);
	memset(plan, 0, sizeof(*plan));
	strvec_init(&plan->stages);
}

/* ---- job variables ---- */

/* GitLab's slugify: lowercase, [^a-z0-9] -> '-', 63 bytes, no edge '-'. */
static char *slugify(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	size_t start = 0;

	for (; *s && sb.len < 63; s++) {
		int c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		strbuf_addch(&sb, c);
	}
	while (sb.len && sb.buf[sb.len - 1] == '-')
		strbuf_setlen(&sb, sb.len - 1);
	while (start < sb.len && sb.buf[start] == '-')
		start++;
	if (start) {
		char *r = xstrdup(sb.buf + start);

		strbuf_release(&sb);
		return r;
	}
	return strbuf_detach(&sb, NULL);
}

/* GitLab's Environment#guess_tier. */
static const char *guess_tier(const char *name)
{
	static const struct { const char *re, *tier; } tiers[] = {
		{ "/(dev|review|trunk)/i", "development" },
		{ "/(test|tst|int|ac(ce)?pt|qa|qc|control|quality)/i", "testing" },
		{ "/(st(a)?g|mod(e)?l|pre|demo|non)/i", "staging" },
		{ "/(pr(o)?d|live)/i", "production" },
	};
	struct strbuf err = STRBUF_INIT;
	const char *tier = "other";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tiers); i++) {
		if (expr_regex_match_literal(tiers[i].re, name, &err) > 0) {
			tier = tiers[i].tier;
			break;
		}
	}
	strbuf_release(&err);
	return tier;
}

static void compose_vars(const struct plan *plan, const struct plan_job *job,
			 const struct plan_ctx *ctx, const struct varlist *jobpre,
			 struct varlist *out)
{
	if (ctx && ctx->predefined)
		varlist_merge(out, ctx->predefined);
	varlist_merge(out, jobpre);
	merge_globals(out, &plan->vars, job->def);
	varlist_merge(out, &job->vars);
	if (ctx && ctx->overrides)
		varlist_merge(out, ctx->overrides);
}

void plan_job_vars(const struct plan *plan, const struct plan_job *job,
		   const struct plan_ctx *ctx, struct varlist *out)
{
	const struct environment *env = &job->def->environment;
	struct varlist pre = VARLIST_INIT;
	char *s;

	varlist_init(out);
	job_predefined(&pre, job->name, job->stage < plan->stages.nr ?
		       plan->stages.v[job->stage] : NULL, job->node_index,
		       job->node_total);
	if (env->set && env->name) {
		struct varlist all = VARLIST_INIT;
		struct strbuf slug = STRBUF_INIT;
		char *name;

		compose_vars(plan, job, ctx, &pre, &all);
		name = vars_expand_dup(env->name, &all);
		slug_environment(&slug, name);
		varlist_set(&pre, "CI_ENVIRONMENT_NAME", name);
		varlist_set(&pre, "CI_ENVIRONMENT_SLUG", slug.buf);
		varlist_set(&pre, "CI_ENVIRONMENT_ACTION",
			    env->action ? env->action : "start");
		/* the url may name them (https://$CI_ENVIRONMENT_SLUG.example.com) */
		varlist_set(&all, "CI_ENVIRONMENT_NAME", name);
		varlist_set(&all, "CI_ENVIRONMENT_SLUG", slug.buf);
		strbuf_release(&slug);
		if (env->url) {
			s = vars_expand_dup(env->url, &all);
			varlist_set(&pre, "CI_ENVIRONMENT_URL", s);
			free(s);
		}
		if (env->deployment_tier) {
			s = vars_expand_dup(env->deployment_tier, &all);
			varlist_set(&pre, "CI_ENVIRONMENT_TIER", s);
			free(s);
		} else {
			varlist_set(&pre, "CI_ENVIRONMENT_TIER", guess_tier(name));
		}
		free(name);
		varlist_clear(&all);
	}
	compose_vars(plan, job, ctx, &pre, out);
	varlist_clear(&pre);
	vars_expand_all(out);
}
