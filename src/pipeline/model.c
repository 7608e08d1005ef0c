/*
 * The pipeline loader, second half: the resolved YAML tree becomes a
 * struct pipeline. Every keyword is type-checked here; default: and
 * inherit: are applied; cross-job references (stages, needs,
 * dependencies) are checked once every job is known.
 */
#include "pipeline/loader.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/expr.h"
#include "util/strbuf.h"
#include "util/suggest.h"
#include "util/xalloc.h"

#define MAX_NEEDS 50
#define MAX_CACHES 4
#define MAX_CACHE_KEY_FILES 2
#define MAX_FALLBACK_KEYS 5
#define MAX_PARALLEL 200
#define MAX_SCRIPT_NESTING 10
#define MAX_TIMEOUT (31 * 24 * 3600)
#define MAX_JOB_NAME 255

/* --- small public helpers ---------------------------------------------- */

static const char *const when_names[] = {
	[WHEN_ON_SUCCESS] = "on_success",
	[WHEN_ON_FAILURE] = "on_failure",
	[WHEN_ALWAYS] = "always",
	[WHEN_MANUAL] = "manual",
	[WHEN_DELAYED] = "delayed",
	[WHEN_NEVER] = "never",
};

const char *when_name(enum when w)
{
	if ((size_t)w < ARRAY_SIZE(when_names))
		return when_names[w];
	return "unknown";
}

int when_parse(const char *s, enum when *ret)
{
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < ARRAY_SIZE(when_names); i++) {
		if (!strcmp(s, when_names[i])) {
			*ret = (enum when)i;
			return 0;
		}
	}
	return -1;
}

struct job *pipeline_find_job(const struct pipeline *p, const char *name)
{
	size_t i;

	if (!p || !name)
		return NULL;
	for (i = 0; i < p->jobs_nr; i++)
		if (!strcmp(p->jobs[i]->name, name))
			return p->jobs[i];
	return NULL;
}

int pipeline_stage_index(const struct pipeline *p, const char *stage)
{
	if (!p || !stage)
		return -1;
	return strvec_find(&p->stages, stage);
}

/* --- freeing ----------------------------------------------------------- */

static void needs_free(struct need *v, size_t nr)
{
	size_t i, j;

	for (i = 0; i < nr; i++) {
		free(v[i].job);
		for (j = 0; j < v[i].matrix_nr; j++)
			varlist_clear(&v[i].matrix[j]);
		free(v[i].matrix);
	}
	free(v);
}

static void rules_clear(struct rules *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++) {
		struct rule *x = &r->v[i];

		free(x->if_expr);
		strvec_clear(&x->changes);
		free(x->changes_compare_to);
		strvec_clear(&x->exists);
		free(x->start_in);
		varlist_clear(&x->variables);
		needs_free(x->needs, x->needs_nr);
	}
	free(r->v);
	r->v = NULL;
	r->nr = 0;
}

static void filter_clear(struct ref_filter *f)
{
	strvec_clear(&f->refs);
	strvec_clear(&f->variables);
	strvec_clear(&f->changes);
}

static void cache_clear(struct cache *c)
{
	free(c->key);
	strvec_clear(&c->key_files);
	free(c->key_prefix);
	strvec_clear(&c->paths);
	free(c->policy_expr);
	strvec_clear(&c->fallback_keys);
}

static void artifacts_clear(struct artifacts *a)
{
	strvec_clear(&a->paths);
	strvec_clear(&a->exclude);
	free(a->expire_in);
	free(a->name);
	free(a->expose_as);
	strvec_clear(&a->reports_junit);
	strvec_clear(&a->reports_dotenv);
	strvec_clear(&a->reports_other);
	memset(a, 0, sizeof(*a));
	strvec_init(&a->paths);
	strvec_init(&a->exclude);
	strvec_init(&a->reports_junit);
	strvec_init(&a->reports_dotenv);
	strvec_init(&a->reports_other);
}

static void release_clear(struct release *r)
{
	size_t i;

	free(r->tag_name);
	free(r->name);
	free(r->description);
	free(r->ref);
	free(r->tag_message);
	free(r->released_at);
	strvec_clear(&r->milestones);
	for (i = 0; i < r->links_nr; i++) {
		free(r->links[i].name);
		free(r->links[i].url);
		free(r->links[i].link_type);
		free(r->links[i].filepath);
	}
	free(r->links);
	memset(r, 0, sizeof(*r));
	strvec_init(&r->milestones);
}

static void environment_clear(struct environment *e)
{
	free(e->name);
	free(e->url);
	free(e->action);
	free(e->on_stop);
	free(e->deployment_tier);
	free(e->auto_stop_in);
	memset(e, 0, sizeof(*e));
}

static void parallel_clear(struct parallel *pl)
{
	size_t i, j;

	for (i = 0; i < pl->matrix_nr; i++) {
		for (j = 0; j < pl->matrix[i].nr; j++) {
			free(pl->matrix[i].dims[j].key);
			strvec_clear(&pl->matrix[i].dims[j].values);
		}
		free(pl->matrix[i].dims);
	}
	free(pl->matrix);
	memset(pl, 0, sizeof(*pl));
}

static void caches_clear(struct job *j)
{
	size_t i;

	for (i = 0; i < j->caches_nr; i++)
		cache_clear(&j->caches[i]);
	free(j->caches);
	j->caches = NULL;
	j->caches_nr = 0;
}

static void services_clear(struct job *j)
{
	size_t i;

	for (i = 0; i < j->services_nr; i++) {
		struct job_service *s = &j->services[i];

		free(s->name);
		strvec_clear(&s->aliases);
		strvec_clear(&s->entrypoint);
		strvec_clear(&s->command);
		varlist_clear(&s->variables);
	}
	free(j->services);
	j->services = NULL;
	j->services_nr = 0;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->cut);
	free(j->stage);
	strvec_clear(&j->before_script);
	strvec_clear(&j->script);
	strvec_clear(&j->after_script);
	varlist_clear(&j->variables);
	strvec_clear(&j->inherit_variables_list);
	rules_clear(&j->rules);
	filter_clear(&j->only);
	filter_clear(&j->except);
	free(j->start_in);
	free(j->allow_failure_exit_codes.v);
	strvec_clear(&j->retry.when);
	free(j->retry.exit_codes.v);
	parallel_clear(&j->parallel);
	needs_free(j->needs, j->needs_nr);
	strvec_clear(&j->dependencies);
	free(j->dependencies_pos);
	artifacts_clear(&j->artifacts);
	caches_clear(j);
	environment_clear(&j->environment);
	release_clear(&j->release);
	free(j->pages_publish);
	free(j->pages_path_prefix);
	free(j->pages_expire_in);
	free(j->resource_group);
	free(j->manual_confirmation);
	free(j->coverage);
	strvec_clear(&j->tags);
	free(j->image);
	strvec_clear(&j->image_entrypoint);
	services_clear(j);
	free(j);
}

void pipeline_free(struct pipeline *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->jobs_nr; i++)
		job_free(p->jobs[i]);
	free(p->jobs);
	free(p->file);
	free(p->cut_globals);
	strvec_clear(&p->files);
	strvec_clear(&p->stages);
	varlist_clear(&p->variables);
	rules_clear(&p->workflow_rules);
	free(p->workflow_name);
	free(p);
}

struct job *pipeline_job_new(const char *name, const struct pos *pos)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->name = xstrdup(name);
	j->pos = *pos;
	strvec_init(&j->before_script);
	strvec_init(&j->script);
	strvec_init(&j->after_script);
	strvec_init(&j->inherit_variables_list);
	strvec_init(&j->only.refs);
	strvec_init(&j->only.variables);
	strvec_init(&j->only.changes);
	strvec_init(&j->except.refs);
	strvec_init(&j->except.variables);
	strvec_init(&j->except.changes);
	strvec_init(&j->retry.when);
	strvec_init(&j->dependencies);
	strvec_init(&j->tags);
	strvec_init(&j->image_entrypoint);
	strvec_init(&j->release.milestones);
	artifacts_clear(&j->artifacts);
	j->allow_failure = -1;
	j->interruptible = -1;
	j->pages = -1;
	j->cidre.network = -1;
	j->cidre.host_fallback = -1;
	return j;
}

/* --- checking context --------------------------------------------------- */

struct mctx {
	struct pipeline *p;
	struct diag *d;
	const char *what;   /* "job \"build\"", "default", "workflow" */
};

#define ERR(m, pos, ...) diag_error((m)->d, (pos), __VA_ARGS__)

/* Room for "; did you mean \"NAME\"?" with a job's name in it */
#define PIPELINE_HINT_MAX (MAX_JOB_NAME + 64)

/*
 * "; did you mean the keyword ..." for a top-level key taken as a job
 * that is one of the global keywords mistyped (`stgaes:`), else "".
 */
static const char *keyword_hint(char *buf, size_t n, const char *key)
{
	const char *k = pipeline_global_keyword_near(key);

	if (!k) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, n, "; did you mean the keyword \"%s\"?", k);
	return buf;
}

static int is_stringish(const struct ynode *n)
{
	enum yscalar_kind k;

	if (!n || n->type != YNODE_SCALAR)
		return 0;
	k = yscalar_kind(n);
	return k == YS_STR || k == YS_INT || k == YS_FLOAT;
}

static int get_str(struct mctx *m, const struct ynode *n, const char *kw,
		   char **out)
{
	if (!is_stringish(n)) {
		ERR(m, &n->pos, "%s: \"%s\" must be a string, not %s", m->what, kw,
		    ynode_type_name(n));
		return -1;
	}
	free(*out);
	*out = xstrdup(n->str);
	return 0;
}

static int get_bool(struct mctx *m, const struct ynode *n, const char *kw,
		    int *out)
{
	if (n->type != YNODE_SCALAR || yscalar_kind(n) != YS_BOOL) {
		ERR(m, &n->pos, "%s: \"%s\" must be a boolean (true or false), not %s",
		    m->what, kw, ynode_type_name(n));
		return -1;
	}
	*out = !strcasecmp(n->str, "true") || !strcasecmp(n->str, "yes") ||
	       !strcasecmp(n->str, "on");
	return 0;
}

static int get_int(struct mctx *m, const struct ynode *n, const char *kw,
		   long lo, long hi, int *out)
{
	char *end;
	long v;

	if (n->type != YNODE_SCALAR || yscalar_kind(n) != YS_INT ||
	    strchr(n->str, '_')) {
		ERR(m, &n->pos, "%s: \"%s\" must be an integer, not %s", m->what, kw,
		    ynode_type_name(n));
		return -1;
	}
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		ERR(m, &n->pos, "%s: \"%s\" must be between %ld and %ld", m->what, kw,
		    lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Push the strings of a string-or-nested-list into out (flattened). */
static int flatten_strings(struct mctx *m, const struct ynode *n,
			   const char *kw, const char *expect,
			   struct strvec *out, int level)
{
	size_t i;
	int ret = 0;

	if (is_stringish(n)) {
		strvec_push(out, n->str);
		return 0;
	}
	if (n->type != YNODE_SEQ || level > MAX_SCRIPT_NESTING) {
		ERR(m, &n->pos, "%s: \"%s\" must be %s", m->what, kw, expect);
		return -1;
	}
	for (i = 0; i < n->nr; i++) {
		const struct ynode *it = n->items[i];

		if (is_stringish(it))
			strvec_push(out, it->str);
		else if (it->type == YNODE_SEQ && level < MAX_SCRIPT_NESTING)
			ret |= flatten_strings(m, it, kw, expect, out, level + 1);
		else {
			ERR(m, &it->pos, "%s: \"%s\" must be %s", m->what, kw, expect);
			ret = -1;
		}
	}
	return ret;
}

static int get_script(struct mctx *m, const struct ynode *n, const char *kw,
		      struct strvec *out)
{
	strvec_clear(out);
	return flatten_strings(m, n, kw, "a string or a list of strings", out, 0);
}

/* A list of strings (a single string accepted when allow_one). */
static int get_str_list(struct mctx *m, const struct ynode *n, const char *kw,
			int allow_one, struct strvec *out)
{
	strvec_clear(out);
	if (!allow_one && n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"%s\" must be a list of strings", m->what, kw);
		return -1;
	}
	return flatten_strings(m, n, kw, allow_one ? "a string or a list of strings" :
			       "a list of strings", out, 0);
}

static int get_int_list(struct mctx *m, const struct ynode *n, const char *kw,
			struct int_list *out)
{
	size_t i;
	int v;

	free(out->v);
	out->v = NULL;
	out->nr = 0;
	if (n->type == YNODE_SCALAR) {
		if (get_int(m, n, kw, 0, 255, &v))
			return -1;
		out->v = xmalloc(sizeof(int));
		out->v[out->nr++] = v;
		return 0;
	}
	if (n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"%s\" must be an integer or a list of integers",
		    m->what, kw);
		return -1;
	}
	out->v = xcalloc(n->nr + 1, sizeof(int));
	for (i = 0; i < n->nr; i++) {
		if (get_int(m, n->items[i], kw, 0, 255, &v))
			return -1;
		out->v[out->nr++] = v;
	}
	return 0;
}

static int check_map(struct mctx *m, const struct ynode *n, const char *kw)
{
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: \"%s\" must be a map, not %s", m->what, kw,
		    ynode_type_name(n));
		return -1;
	}
	return 0;
}

static int in_list(const char *s, const char *const *list, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

/* Report keys of map not in allowed ("unknown keyword ... in <where>"). */
static int check_keys(struct mctx *m, const struct ynode *map,
		      const char *const *allowed, size_t nr, const char *where)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < map->pairs_nr; i++) {
		char hint[96];

		if (in_list(map->pairs[i].key, allowed, nr))
			continue;
		ERR(m, &map->pairs[i].key_pos, "unknown keyword \"%s\" in %s%s",
		    map->pairs[i].key, where, suggest_hint(hint, sizeof(hint),
		    suggest_from(map->pairs[i].key, allowed, nr)));
		ret = -1;
	}
	return ret;
}

/* --- durations ---------------------------------------------------------- */

/*
 * Parse a GitLab (ChronicDuration) duration: "3600", "1h 30m", "90 minutes",
 * "2 hours and 10 min", "1d", and clock forms "1:30" (minutes and
 * seconds), "1:30:00" (hours first), "2:01:30:00" (days first). Returns
 * seconds or -1.
 */
static long clock_duration(const char *s)
{
	static const long mult[] = { 1, 60, 3600, 86400 };
	long part[4], total = 0;
	int n = 0, i;

	for (;;) {
		char *end;

		if (!isdigit((unsigned char)*s) || n == 4)
			return -1;
		errno = 0;
		part[n++] = strtol(s, &end, 10);
		if (errno || part[n - 1] > 1000000)
			return -1;
		s = end;
		if (!*s)
			break;
		if (*s++ != ':')
			return -1;
	}
	if (n < 2)
		return -1;
	for (i = 0; i < n; i++)
		total += part[i] * mult[n - 1 - i];
	return total;
}

long pipeline_parse_duration(const char *s)
{
	static const struct { const char *name; long mult; } units[] = {
		{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
		{ "m", 60 }, { "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
		{ "h", 3600 }, { "hr", 3600 }, { "hrs", 3600 }, { "hour", 3600 }, { "hours", 3600 },
		{ "d", 86400 }, { "day", 86400 }, { "days", 86400 },
		{ "w", 604800 }, { "wk", 604800 }, { "week", 604800 }, { "weeks", 604800 },
		{ "mo", 2592000 }, { "month", 2592000 }, { "months", 2592000 },
	};
	double total = 0;
	int any = 0;

	if (strchr(s, ':'))
		return clock_duration(s);
	for (;;) {
		char unit[16];
		size_t ul = 0, i;
		double v;
		char *end;
		long mult = -1;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!strncmp(s, "and ", 4)) {
			s += 4;
			continue;
		}
		if (!*s)
			break;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno || v < 0 || v > 1e9)
			return -1;
		s = end;
		while (*s == ' ')
			s++;
		while (isalpha((unsigned char)*s) && ul < sizeof(unit) - 1)
			unit[ul++] = (char)tolower((unsigned char)*s++);
		unit[ul] = '\0';
		if (isalpha((unsigned char)*s))
			return -1;
		if (!ul) {
			mult = 1;
		} else {
			for (i = 0; i < ARRAY_SIZE(units); i++)
				if (!strcmp(unit, units[i].name))
					mult = units[i].mult;
		}
		if (mult < 0)
			return -1;
		total += v * (double)mult;
		if (total > 1e10)
			return -1;
		any = 1;
	}
	return any ? (long)total : -1;
}

static int get_duration(struct mctx *m, const struct ynode *n, const char *kw,
			long max, long *out)
{
	long v;

	if (!is_stringish(n) || (v = pipeline_parse_duration(n->str)) < 0) {
		ERR(m, &n->pos, "%s: \"%s\" must be a duration like \"1h 30m\" or "
		    "\"90 minutes\"", m->what, kw);
		return -1;
	}
	if (max && v > max) {
		ERR(m, &n->pos, "%s: \"%s\" must be at most %ld seconds", m->what, kw, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* --- variables ---------------------------------------------------------- */

static int get_variables(struct mctx *m, const struct ynode *n, int global,
			 struct varlist *out)
{
	static const char *const keys_global[] = { "value", "description", "expand", "options" };
	static const char *const keys_job[] = { "value", "expand", "description" };
	/* numbers as GitLab has them: PYTHON: 3.10 is "3.1" there */
	struct strbuf num = STRBUF_INIT;
	size_t i;
	int ret = 0;

	if (check_map(m, n, "variables"))
		return -1;
	for (i = 0; i < n->pairs_nr; i++) {
		const struct ypair *pr = &n->pairs[i];
		const struct ynode *v = pr->val;
		struct var *var;

		if (!*pr->key) {
			ERR(m, &pr->key_pos, "%s: variable names must not be empty", m->what);
			ret = -1;
			continue;
		}
		if (is_stringish(v)) {
			var = varlist_set(out, pr->key, yscalar_ruby_str(v, &num));
			var->pos = pr->key_pos;
			continue;
		}
		if (v->type == YNODE_MAP) {
			const struct ynode *val = ymap_get(v, "value");
			const struct ynode *desc = ymap_get(v, "description");
			const struct ynode *exp = ymap_get(v, "expand");
			const struct ynode *opts = ymap_get(v, "options");
			int expand = 1;
			char *d = NULL;

			if (global ? check_keys(m, v, keys_global, ARRAY_SIZE(keys_global),
						"variables") :
			    check_keys(m, v, keys_job, ARRAY_SIZE(keys_job), "variables")) {
				ret = -1;
				continue;
			}
			if (val && !is_stringish(val)) {
				ERR(m, &val->pos, "%s: variable \"%s\": \"value\" must be a "
				    "string", m->what, pr->key);
				ret = -1;
				continue;
			}
			if (exp && get_bool(m, exp, "expand", &expand)) {
				ret = -1;
				continue;
			}
			if (desc && get_str(m, desc, "description", &d)) {
				ret = -1;
				continue;
			}
			if (opts) {
				struct strvec o = STRVEC_INIT;

				if (get_str_list(m, opts, "options", 0, &o)) {
					ret = -1;
				} else if (!val || strvec_find(&o, val->str) < 0) {
					ERR(m, &opts->pos, "%s: variable \"%s\": \"value\" must be "
					    "one of its \"options\"", m->what, pr->key);
					ret = -1;
				}
				strvec_clear(&o);
			}
			var = varlist_set(out, pr->key,
					  val ? yscalar_ruby_str(val, &num) : "");
			var->pos = pr->key_pos;
			var->expand = expand;
			free(var->description);
			var->description = d;
			continue;
		}
		ERR(m, &v->pos, "%s: variable \"%s\" must be a string, a number or a "
		    "map with \"value\", not %s", m->what, pr->key, ynode_type_name(v));
		ret = -1;
	}
	strbuf_release(&num);
	return ret;
}

/* --- rules -------------------------------------------------------------- */

enum rules_ctx { RULES_JOB, RULES_WORKFLOW };

static int get_needs(struct mctx *m, const struct ynode *n, struct need **ret,
		     size_t *ret_nr);

static int check_expr(struct mctx *m, const struct ynode *n, const char *kw)
{
	struct strbuf err = STRBUF_INIT;
	int r = 0;

	if (expr_check(n->str, &err)) {
		ERR(m, &n->pos, "%s: invalid expression in %s: %s", m->what, kw,
		    err.len ? err.buf : "syntax error");
		r = -1;
	}
	strbuf_release(&err);
	return r;
}

static int get_changes(struct mctx *m, const struct ynode *v, const char *kw,
		       struct strvec *out, char **compare_to)
{
	static const char *const keys[] = { "paths", "compare_to" };
	const struct ynode *x;

	if (v->type != YNODE_MAP)
		return get_str_list(m, v, kw, 0, out);
	if (check_keys(m, v, keys, ARRAY_SIZE(keys), kw))
		return -1;
	x = ymap_get(v, "paths");
	if (!x) {
		ERR(m, &v->pos, "%s: \"%s\" needs \"paths\"", m->what, kw);
		return -1;
	}
	if (get_str_list(m, x, "paths", 0, out))
		return -1;
	x = ymap_get(v, "compare_to");
	if (x && compare_to && get_str(m, x, "compare_to", compare_to))
		return -1;
	return 0;
}

/*
 * An auto_cancel map (workflow:, workflow:rules:): on_new_commit
 * conservative, interruptible or none; on_job_failure none or all. The
 * values are static strings. 0, or -1 with the error.
 */
static int get_auto_cancel(struct mctx *m, const struct ynode *v, const char *what,
			   const char **new_commit, const char **job_failure)
{
	static const char *const keys[] = { "on_new_commit", "on_job_failure" };
	static const char *const commit_modes[] = { "conservative", "interruptible", "none" };
	static const char *const failure_modes[] = { "none", "all" };
	const struct ynode *x;
	size_t i;
	int ret = 0;

	if (v->type != YNODE_MAP) {
		ERR(m, &v->pos, "%s must be a map of on_new_commit and on_job_failure", what);
		return -1;
	}
	if (check_keys(m, v, keys, ARRAY_SIZE(keys), what))
		ret = -1;
	if ((x = ymap_get(v, "on_new_commit"))) {
		for (i = 0; i < ARRAY_SIZE(commit_modes); i++)
			if (x->type == YNODE_SCALAR && !strcmp(x->str, commit_modes[i]))
				*new_commit = commit_modes[i];
		if (!*new_commit) {
			ERR(m, &x->pos, "%s:on_new_commit must be conservative, interruptible "
			    "or none", what);
			ret = -1;
		}
	}
	if ((x = ymap_get(v, "on_job_failure"))) {
		for (i = 0; i < ARRAY_SIZE(failure_modes); i++)
			if (x->type == YNODE_SCALAR && !strcmp(x->str, failure_modes[i]))
				*job_failure = failure_modes[i];
		if (!*job_failure) {
			ERR(m, &x->pos, "%s:on_job_failure must be none or all", what);
			ret = -1;
		}
	}
	return ret;
}

static int get_rule(struct mctx *m, const struct ynode *n, enum rules_ctx ctx,
		    struct rule *r)
{
	static const char *const keys_job[] = {
		"if", "changes", "exists", "when", "allow_failure", "variables",
		"needs", "start_in", "interruptible",
	};
	static const char *const keys_wf[] = {
		"if", "changes", "exists", "when", "variables", "auto_cancel",
	};
	const struct ynode *v;
	int ret = 0;

	r->pos = n->pos;
	r->allow_failure = -1;
	r->interruptible = -1;
	strvec_init(&r->changes);
	strvec_init(&r->exists);
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: each rule must be a map, not %s", m->what,
		    ynode_type_name(n));
		return -1;
	}
	if (ctx == RULES_JOB ?
	    check_keys(m, n, keys_job, ARRAY_SIZE(keys_job), "rules") :
	    check_keys(m, n, keys_wf, ARRAY_SIZE(keys_wf), "workflow:rules"))
		ret = -1;
	if ((v = ymap_get(n, "auto_cancel")) && ctx != RULES_JOB &&
	    get_auto_cancel(m, v, "workflow:rules:auto_cancel", &r->auto_cancel_new_commit,
			    &r->auto_cancel_job_failure))
		ret = -1;
	if ((v = ymap_get(n, "if"))) {
		if (get_str(m, v, "rules:if", &r->if_expr))
			ret = -1;
		else if (check_expr(m, v, "rules:if"))
			ret = -1;
		r->if_pos = v->pos;
	}
	if ((v = ymap_get(n, "changes"))) {
		r->has_changes = 1;
		if (get_changes(m, v, "rules:changes", &r->changes,
				&r->changes_compare_to))
			ret = -1;
	}
	if ((v = ymap_get(n, "exists"))) {
		static const char *const keys[] = { "paths", "project", "ref" };

		r->has_exists = 1;
		if (v->type == YNODE_MAP) {
			const struct ynode *pp;

			if (check_keys(m, v, keys, ARRAY_SIZE(keys), "rules:exists"))
				ret = -1;
			if (ymap_get(v, "project") || ymap_get(v, "ref")) {
				ERR(m, &v->pos, "keyword \"rules:exists:project\" is not "
				    "supported by cidre (other projects)");
				ret = -1;
			}
			pp = ymap_get(v, "paths");
			if (!pp) {
				ERR(m, &v->pos, "%s: \"rules:exists\" needs \"paths\"", m->what);
				ret = -1;
			} else if (get_str_list(m, pp, "paths", 0, &r->exists)) {
				ret = -1;
			}
		} else if (get_str_list(m, v, "rules:exists", 1, &r->exists)) {
			ret = -1;
		}
	}
	if ((v = ymap_get(n, "when"))) {
		enum when w;

		if (!is_stringish(v) || when_parse(v->str, &w) ||
		    (ctx == RULES_WORKFLOW && w != WHEN_ALWAYS && w != WHEN_NEVER)) {
			ERR(m, &v->pos, "%s: rules:when must be one of %s", m->what,
			    ctx == RULES_WORKFLOW ? "always, never" :
			    "on_success, on_failure, always, manual, delayed, never");
			ret = -1;
		} else {
			r->has_when = 1;
			r->when = w;
		}
	}
	if ((v = ymap_get(n, "start_in"))) {
		long secs;

		if (get_duration(m, v, "start_in", 7 * 86400, &secs) ||
		    get_str(m, v, "start_in", &r->start_in))
			ret = -1;
		else if (!r->has_when || r->when != WHEN_DELAYED) {
			ERR(m, &v->pos, "%s: rules:start_in needs \"when: delayed\"", m->what);
			ret = -1;
		}
	} else if (r->has_when && r->when == WHEN_DELAYED) {
		ERR(m, &n->pos, "%s: a rule with \"when: delayed\" needs \"start_in\"",
		    m->what);
		ret = -1;
	}
	if ((v = ymap_get(n, "allow_failure"))) {
		int b;

		if (get_bool(m, v, "rules:allow_failure", &b))
			ret = -1;
		else
			r->allow_failure = b;
	}
	if ((v = ymap_get(n, "interruptible"))) {
		int b;

		if (get_bool(m, v, "rules:interruptible", &b))
			ret = -1;
		else
			r->interruptible = b;
	}
	if ((v = ymap_get(n, "variables")) && get_variables(m, v, 0, &r->variables))
		ret = -1;
	if ((v = ymap_get(n, "needs"))) {
		r->has_needs = 1;
		if (get_needs(m, v, &r->needs, &r->needs_nr))
			ret = -1;
	}
	return ret;
}

static void push_rule_items(struct ynode *flat, const struct ynode *n, int level)
{
	size_t i;

	for (i = 0; i < n->nr; i++) {
		if (n->items[i]->type == YNODE_SEQ && level < MAX_SCRIPT_NESTING)
			push_rule_items(flat, n->items[i], level + 1);
		else
			yseq_push_take(flat, (struct ynode *)n->items[i]);
	}
}

static int get_rules(struct mctx *m, const struct ynode *n, enum rules_ctx ctx,
		     struct rules *out)
{
	struct ynode flat;
	size_t i;
	int ret = 0;

	if (n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"rules\" must be a list of rules", m->what);
		return -1;
	}
	/* rules from !reference arrive as nested lists: flatten (borrowed nodes) */
	memset(&flat, 0, sizeof(flat));
	flat.type = YNODE_SEQ;
	push_rule_items(&flat, n, 0);
	rules_clear(out);
	out->v = xcalloc(flat.nr + 1, sizeof(*out->v));
	for (i = 0; i < flat.nr; i++) {
		if (get_rule(m, flat.items[i], ctx, &out->v[out->nr++]))
			ret = -1;
	}
	free(flat.items);
	return ret;
}

/* --- needs -------------------------------------------------------------- */

static int get_matrix_selector(struct mctx *m, const struct ynode *n,
			       struct need *nd)
{
	const struct ynode *mx;
	size_t i, j;

	if (check_map(m, n, "needs:parallel"))
		return -1;
	mx = ymap_get(n, "matrix");
	if (!mx || mx->type != YNODE_SEQ || n->pairs_nr != 1) {
		ERR(m, &n->pos, "%s: \"needs:parallel\" must be a map with a "
		    "\"matrix\" list", m->what);
		return -1;
	}
	nd->matrix = xcalloc(mx->nr + 1, sizeof(*nd->matrix));
	for (i = 0; i < mx->nr; i++) {
		const struct ynode *e = mx->items[i];

		if (check_map(m, e, "needs:parallel:matrix"))
			return -1;
		varlist_init(&nd->matrix[nd->matrix_nr]);
		for (j = 0; j < e->pairs_nr; j++) {
			if (!is_stringish(e->pairs[j].val)) {
				ERR(m, &e->pairs[j].val->pos, "%s: needs:parallel:matrix "
				    "values must be strings", m->what);
				nd->matrix_nr++;
				return -1;
			}
			varlist_set(&nd->matrix[nd->matrix_nr], e->pairs[j].key,
				    e->pairs[j].val->str);
		}
		nd->matrix_nr++;
	}
	return 0;
}

static int get_need(struct mctx *m, const struct ynode *n, struct need *nd)
{
	static const char *const keys[] = {
		"job", "optional", "artifacts", "parallel", "pipeline", "project", "ref",
	};
	const struct ynode *v;
	int ret = 0;

	nd->pos = n->pos;
	nd->artifacts = 1;
	if (is_stringish(n)) {
		nd->job = xstrdup(n->str);
		return 0;
	}
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: each need must be a job name or a map with "
		    "\"job\"", m->what);
		return -1;
	}
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "needs"))
		ret = -1;
	if (ymap_get(n, "pipeline") || ymap_get(n, "project")) {
		ERR(m, &n->pos, "keyword \"needs:%s\" is not supported by cidre "
		    "(other pipelines and projects)",
		    ymap_get(n, "pipeline") ? "pipeline" : "project");
		return -1;
	}
	v = ymap_get(n, "job");
	if (!v) {
		ERR(m, &n->pos, "%s: a need needs \"job\"", m->what);
		return -1;
	}
	if (get_str(m, v, "needs:job", &nd->job))
		return -1;
	nd->pos = v->pos;
	if ((v = ymap_get(n, "optional")) && get_bool(m, v, "needs:optional",
						      &nd->optional))
		ret = -1;
	if ((v = ymap_get(n, "artifacts")) && get_bool(m, v, "needs:artifacts",
						       &nd->artifacts))
		ret = -1;
	if ((v = ymap_get(n, "parallel")) && get_matrix_selector(m, v, nd))
		ret = -1;
	return ret;
}

static int get_needs(struct mctx *m, const struct ynode *n, struct need **ret,
		     size_t *ret_nr)
{
	struct need *v;
	size_t i, nr = 0;
	int r = 0;

	if (n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"needs\" must be a list", m->what);
		return -1;
	}
	if (n->nr > MAX_NEEDS) {
		ERR(m, &n->pos, "%s: too many needs (more than %d)", m->what, MAX_NEEDS);
		return -1;
	}
	v = xcalloc(n->nr + 1, sizeof(*v));
	for (i = 0; i < n->nr; i++) {
		if (get_need(m, n->items[i], &v[nr])) {
			r = -1;
			needs_free(v, nr + 1);
			v = NULL;
			nr = 0;
			break;
		}
		nr++;
	}
	needs_free(*ret, *ret_nr);
	*ret = v;
	*ret_nr = nr;
	return r;
}

/* --- only/except --------------------------------------------------------- */

static int get_filter(struct mctx *m, const struct ynode *n, const char *kw,
		      struct ref_filter *f)
{
	static const char *const keys[] = { "refs", "variables", "changes", "kubernetes" };
	const struct ynode *v;
	int ret = 0;

	filter_clear(f);
	f->set = 1;
	f->pos = n->pos;
	if (n->type == YNODE_SEQ)
		return get_str_list(m, n, kw, 0, &f->refs);
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: \"%s\" must be a list of refs or a map with "
		    "refs, variables or changes", m->what, kw);
		return -1;
	}
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), kw))
		ret = -1;
	if (ymap_get(n, "kubernetes")) {
		ERR(m, &ymap_find(n, "kubernetes")->key_pos, "keyword \"%s:kubernetes\" "
		    "is not supported by cidre", kw);
		ret = -1;
	}
	if ((v = ymap_get(n, "refs")) && get_str_list(m, v, "refs", 0, &f->refs))
		ret = -1;
	if ((v = ymap_get(n, "variables"))) {
		size_t i;

		if (get_str_list(m, v, "variables", 0, &f->variables)) {
			ret = -1;
		} else {
			for (i = 0; i < v->nr; i++)
				if (v->items[i]->type == YNODE_SCALAR &&
				    check_expr(m, v->items[i], "variables"))
					ret = -1;
		}
	}
	if ((v = ymap_get(n, "changes")) &&
	    get_changes(m, v, "changes", &f->changes, NULL))
		ret = -1;
	return ret;
}

/* --- artifacts, cache, environment, parallel ----------------------------- */

/* GitLab's report types (entry/reports.rb), those of older releases too */
static const char *const report_types[] = {
	"junit", "dotenv", "accessibility", "annotations", "api_fuzzing",
	"browser_performance", "cluster_image_scanning", "codequality",
	"container_scanning", "coverage_fuzzing", "coverage_report", "cyclonedx",
	"dast", "dependency_scanning", "license_scanning", "load_performance",
	"lsif", "metrics", "performance", "requirements", "requirements_v2",
	"repository_xray", "sast", "secret_detection", "terraform",
};

static int get_on_status(struct mctx *m, const struct ynode *n, const char *kw,
			 enum on_status *out)
{
	if (!is_stringish(n)) {
		goto bad;
	} else if (!strcmp(n->str, "on_success")) {
		*out = ON_SUCCESS;
	} else if (!strcmp(n->str, "on_failure")) {
		*out = ON_FAILURE;
	} else if (!strcmp(n->str, "always")) {
		*out = ON_ALWAYS;
	} else {
		goto bad;
	}
	return 0;
bad:
	ERR(m, &n->pos, "%s: \"%s\" must be on_success, on_failure or always",
	    m->what, kw);
	return -1;
}

static int get_reports(struct mctx *m, const struct ynode *n,
		       struct artifacts *a)
{
	size_t i, j;
	int ret = 0;

	if (check_map(m, n, "artifacts:reports"))
		return -1;
	if (check_keys(m, n, report_types, ARRAY_SIZE(report_types),
		       "artifacts:reports"))
		ret = -1;
	for (i = 0; i < n->pairs_nr; i++) {
		const char *k = n->pairs[i].key;
		const struct ynode *v = n->pairs[i].val;
		struct strvec tmp = STRVEC_INIT;

		if (!in_list(k, report_types, ARRAY_SIZE(report_types)))
			continue;
		if (!strcmp(k, "junit")) {
			if (get_str_list(m, v, "artifacts:reports:junit", 1, &a->reports_junit))
				ret = -1;
			continue;
		}
		if (!strcmp(k, "dotenv")) {
			if (get_str_list(m, v, "artifacts:reports:dotenv", 1, &a->reports_dotenv))
				ret = -1;
			continue;
		}
		if (!strcmp(k, "coverage_report")) {
			static const char *const ck[] = { "coverage_format", "path" };
			const struct ynode *path = ymap_get(v, "path");

			if (check_map(m, v, "artifacts:reports:coverage_report") ||
			    check_keys(m, v, ck, ARRAY_SIZE(ck),
				       "artifacts:reports:coverage_report") ||
			    !path || !is_stringish(path)) {
				if (v->type == YNODE_MAP)
					ERR(m, &v->pos, "%s: coverage_report needs "
					    "\"coverage_format\" and \"path\"", m->what);
				ret = -1;
				continue;
			}
			strvec_pushf(&a->reports_other, "coverage_report:%s", path->str);
			continue;
		}
		if (get_str_list(m, v, k, 1, &tmp))
			ret = -1;
		for (j = 0; j < tmp.nr; j++)
			strvec_pushf(&a->reports_other, "%s:%s", k, tmp.v[j]);
		strvec_clear(&tmp);
	}
	return ret;
}

static int get_artifacts(struct mctx *m, const struct ynode *n,
			 struct artifacts *a)
{
	static const char *const keys[] = {
		"paths", "exclude", "untracked", "when", "expire_in", "name",
		"expose_as", "reports", "public", "access",
	};
	const struct ynode *v;
	long secs;
	int ret = 0;

	artifacts_clear(a);
	a->set = 1;
	if (check_map(m, n, "artifacts"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "artifacts"))
		ret = -1;
	if ((v = ymap_get(n, "public")) || (v = ymap_get(n, "access"))) {
		ERR(m, &v->pos, "keyword \"artifacts:%s\" is not supported by cidre",
		    ymap_get(n, "public") ? "public" : "access");
		ret = -1;
	}
	if ((v = ymap_get(n, "paths")) && get_str_list(m, v, "artifacts:paths", 0,
						       &a->paths))
		ret = -1;
	if ((v = ymap_get(n, "exclude")) && get_str_list(m, v, "artifacts:exclude",
							 0, &a->exclude))
		ret = -1;
	if ((v = ymap_get(n, "untracked")) && get_bool(m, v, "artifacts:untracked",
						       &a->untracked))
		ret = -1;
	if ((v = ymap_get(n, "when")) && get_on_status(m, v, "artifacts:when", &a->when))
		ret = -1;
	if ((v = ymap_get(n, "expire_in"))) {
		if (is_stringish(v) && !strcmp(v->str, "never"))
			a->expire_in = xstrdup("never");
		else if (get_duration(m, v, "artifacts:expire_in", 0, &secs) ||
			 get_str(m, v, "artifacts:expire_in", &a->expire_in))
			ret = -1;
	}
	if ((v = ymap_get(n, "name")) && get_str(m, v, "artifacts:name", &a->name))
		ret = -1;
	if ((v = ymap_get(n, "expose_as")) && get_str(m, v, "artifacts:expose_as",
						      &a->expose_as))
		ret = -1;
	if ((v = ymap_get(n, "reports")) && get_reports(m, v, a))
		ret = -1;
	return ret;
}

static int get_cache_one(struct mctx *m, const struct ynode *n, struct cache *c)
{
	static const char *const keys[] = {
		"key", "paths", "untracked", "policy", "when", "fallback_keys",
		"unprotect",
	};
	static const char *const key_keys[] = { "files", "prefix" };
	const struct ynode *v;
	int ret = 0;

	strvec_init(&c->key_files);
	strvec_init(&c->paths);
	strvec_init(&c->fallback_keys);
	if (check_map(m, n, "cache"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "cache"))
		ret = -1;
	if ((v = ymap_get(n, "key"))) {
		if (v->type == YNODE_MAP) {
			const struct ynode *f = ymap_get(v, "files");
			const struct ynode *pf = ymap_get(v, "prefix");

			if (check_keys(m, v, key_keys, ARRAY_SIZE(key_keys), "cache:key"))
				ret = -1;
			if (!f) {
				ERR(m, &v->pos, "%s: \"cache:key\" needs \"files\"", m->what);
				ret = -1;
			} else if (get_str_list(m, f, "cache:key:files", 0, &c->key_files)) {
				ret = -1;
			} else if (!c->key_files.nr || c->key_files.nr > MAX_CACHE_KEY_FILES) {
				ERR(m, &f->pos, "%s: \"cache:key:files\" must list 1 or %d "
				    "files", m->what, MAX_CACHE_KEY_FILES);
				ret = -1;
			}
			if (pf && get_str(m, pf, "cache:key:prefix", &c->key_prefix))
				ret = -1;
		} else if (get_str(m, v, "cache:key", &c->key)) {
			ret = -1;
		} else if (strchr(c->key, '/') || !strcmp(c->key, ".") ||
			   !strcasecmp(c->key, "%2F") || !strcmp(c->key, "..")) {
			ERR(m, &v->pos, "%s: \"cache:key\" must not contain \"/\" or be "
			    "\".\"", m->what);
			ret = -1;
		}
	}
	if ((v = ymap_get(n, "paths")) && get_str_list(m, v, "cache:paths", 0, &c->paths))
		ret = -1;
	if ((v = ymap_get(n, "untracked")) && get_bool(m, v, "cache:untracked",
						       &c->untracked))
		ret = -1;
	if ((v = ymap_get(n, "unprotect")) && get_bool(m, v, "cache:unprotect",
						       &c->unprotect))
		ret = -1;
	if ((v = ymap_get(n, "when")) && get_on_status(m, v, "cache:when", &c->when))
		ret = -1;
	if ((v = ymap_get(n, "policy"))) {
		if (!is_stringish(v)) {
			ERR(m, &v->pos, "%s: \"cache:policy\" must be a string", m->what);
			ret = -1;
		} else if (!strcmp(v->str, "pull")) {
			c->policy = CACHE_PULL;
		} else if (!strcmp(v->str, "push")) {
			c->policy = CACHE_PUSH;
		} else if (!strcmp(v->str, "pull-push")) {
			c->policy = CACHE_PULL_PUSH;
		} else if (strchr(v->str, '$')) {
			c->policy_expr = xstrdup(v->str);
		} else {
			ERR(m, &v->pos, "%s: \"cache:policy\" must be pull, push, pull-push "
			    "or a $VARIABLE", m->what);
			ret = -1;
		}
	}
	if ((v = ymap_get(n, "fallback_keys"))) {
		if (get_str_list(m, v, "cache:fallback_keys", 0, &c->fallback_keys)) {
			ret = -1;
		} else if (c->fallback_keys.nr > MAX_FALLBACK_KEYS) {
			ERR(m, &v->pos, "%s: at most %d \"cache:fallback_keys\"", m->what,
			    MAX_FALLBACK_KEYS);
			ret = -1;
		}
	}
	return ret;
}

static int get_caches(struct mctx *m, const struct ynode *n, struct job *j)
{
	size_t i, nr;
	int ret = 0;

	caches_clear(j);
	if (n->type == YNODE_SEQ) {
		if (n->nr > MAX_CACHES) {
			ERR(m, &n->pos, "%s: at most %d caches per job", m->what, MAX_CACHES);
			return -1;
		}
		nr = n->nr;
	} else {
		nr = 1;
	}
	j->caches = xcalloc(nr + 1, sizeof(*j->caches));
	for (i = 0; i < nr; i++) {
		if (get_cache_one(m, n->type == YNODE_SEQ ? n->items[i] : n,
				  &j->caches[j->caches_nr++]))
			ret = -1;
	}
	return ret;
}

/* release:assets:links[] */
static int get_release_links(struct mctx *m, const struct ynode *n, struct release *r)
{
	static const char *const keys[] = {
		"name", "url", "link_type", "filepath", "direct_asset_path",
	};
	static const char *const types[] = { "other", "runbook", "image", "package" };
	size_t i;
	int ret = 0;

	if (n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"release:assets:links\" must be a list", m->what);
		return -1;
	}
	if (n->nr > 100) {
		ERR(m, &n->pos, "%s: at most 100 release:assets:links", m->what);
		return -1;
	}
	r->links = xcalloc(n->nr + 1, sizeof(*r->links));
	for (i = 0; i < n->nr; i++) {
		const struct ynode *l = n->items[i], *v;
		struct release_link *k = &r->links[r->links_nr++];

		if (l->type != YNODE_MAP) {
			ERR(m, &l->pos, "%s: each release:assets:links entry must be a map of "
			    "name and url", m->what);
			ret = -1;
			continue;
		}
		if (check_keys(m, l, keys, ARRAY_SIZE(keys), "release:assets:links"))
			ret = -1;
		if (!(v = ymap_get(l, "name")) || get_str(m, v, "release:assets:links:name",
							  &k->name)) {
			if (!v)
				ERR(m, &l->pos, "%s: a release link needs \"name\"", m->what);
			ret = -1;
		}
		if (!(v = ymap_get(l, "url")) || get_str(m, v, "release:assets:links:url",
							 &k->url)) {
			if (!v)
				ERR(m, &l->pos, "%s: a release link needs \"url\"", m->what);
			ret = -1;
		}
		if ((v = ymap_get(l, "link_type"))) {
			if (get_str(m, v, "release:assets:links:link_type", &k->link_type)) {
				ret = -1;
			} else if (!in_list(k->link_type, types, ARRAY_SIZE(types))) {
				ERR(m, &v->pos, "%s: \"release:assets:links:link_type\" must be "
				    "other, runbook, image or package", m->what);
				ret = -1;
			}
		}
		if (((v = ymap_get(l, "filepath")) || (v = ymap_get(l, "direct_asset_path"))) &&
		    get_str(m, v, "release:assets:links:filepath", &k->filepath))
			ret = -1;
	}
	return ret;
}

/* release: {tag_name, name, description, ref, tag_message, released_at, milestones, assets} */
/*
 * pages: true | false | {publish, path_prefix, expire_in}. A map makes
 * the job a Pages job, as true does.
 */
static int get_pages(struct mctx *m, const struct ynode *n, struct job *j)
{
	static const char *const keys[] = { "publish", "path_prefix", "expire_in" };
	const struct ynode *v;
	long secs;
	int ret = 0;

	if (n->type == YNODE_SCALAR && yscalar_kind(n) == YS_BOOL)
		return get_bool(m, n, "pages", &j->pages);
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: \"pages\" must be true, false or a map of "
		    "publish, path_prefix and expire_in", m->what);
		return -1;
	}
	j->pages = 1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "pages"))
		ret = -1;
	if ((v = ymap_get(n, "publish"))) {
		free(j->pages_publish);
		j->pages_publish = NULL;
		j->pages_publish_set = 1;
		if (get_str(m, v, "pages:publish", &j->pages_publish))
			ret = -1;
	}
	if ((v = ymap_get(n, "path_prefix"))) {
		free(j->pages_path_prefix);
		j->pages_path_prefix = NULL;
		if (get_str(m, v, "pages:path_prefix", &j->pages_path_prefix))
			ret = -1;
	}
	if ((v = ymap_get(n, "expire_in"))) {
		free(j->pages_expire_in);
		j->pages_expire_in = NULL;
		if (is_stringish(v) && !strcmp(v->str, "never"))
			j->pages_expire_in = xstrdup("never");
		else if (get_duration(m, v, "pages:expire_in", 0, &secs) ||
			 get_str(m, v, "pages:expire_in", &j->pages_expire_in))
			ret = -1;
	}
	return ret;
}

int pipeline_path_inside(const char *path, size_t n)
{
	size_t i = 0;

	if (!n || n > 1024 || path[0] == '/')
		return 0;
	while (i < n) {
		size_t k = i;

		while (k < n && path[k] != '/')
			k++;
		if (k - i == 2 && path[i] == '.' && path[i + 1] == '.')
			return 0;
		i = k + 1;
	}
	return 1;
}

/*
 * A Pages job's publish directory among its artifacts' paths, as GitLab
 * adds it: the files a Pages site is made of are the job's artifacts.
 */
static void pages_finish(struct mctx *m, struct job *j, const char *name,
			 const struct pos *pos)
{
	const char *dir;
	size_t n;

	if (j->pages < 0)
		j->pages = !strcmp(name, "pages");
	if (j->pages <= 0)
		return;
	dir = j->pages_publish ? j->pages_publish : "public";
	n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (!pipeline_path_inside(dir, n)) {
		ERR(m, pos, "%s: the Pages directory \"%s\" must be a relative path "
		    "inside the project", m->what, dir);
		return;
	}
	if (strvec_find(&j->artifacts.paths, dir) < 0) {
		char *d = xstrndup(dir, n);

		if (strvec_find(&j->artifacts.paths, d) < 0)
			strvec_push(&j->artifacts.paths, d);
		free(d);
	}
	j->artifacts.set = 1;
}

static int get_release(struct mctx *m, const struct ynode *n, struct release *r)
{
	static const char *const keys[] = {
		"tag_name", "name", "description", "ref", "tag_message", "released_at",
		"milestones", "assets",
	};
	static const char *const asset_keys[] = { "links" };
	const struct ynode *v;
	int ret = 0;

	release_clear(r);
	r->set = 1;
	if (check_map(m, n, "release"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "release"))
		ret = -1;
	if (!(v = ymap_get(n, "tag_name"))) {
		ERR(m, &n->pos, "%s: \"release\" needs \"tag_name\"", m->what);
		ret = -1;
	} else if (get_str(m, v, "release:tag_name", &r->tag_name)) {
		ret = -1;
	}
	if ((v = ymap_get(n, "name")) && get_str(m, v, "release:name", &r->name))
		ret = -1;
	if ((v = ymap_get(n, "description")) &&
	    get_str(m, v, "release:description", &r->description))
		ret = -1;
	if ((v = ymap_get(n, "ref")) && get_str(m, v, "release:ref", &r->ref))
		ret = -1;
	if ((v = ymap_get(n, "tag_message")) &&
	    get_str(m, v, "release:tag_message", &r->tag_message))
		ret = -1;
	if ((v = ymap_get(n, "released_at")) &&
	    get_str(m, v, "release:released_at", &r->released_at))
		ret = -1;
	if ((v = ymap_get(n, "milestones")) &&
	    get_str_list(m, v, "release:milestones", 1, &r->milestones))
		ret = -1;
	if ((v = ymap_get(n, "assets"))) {
		const struct ynode *l;

		if (check_map(m, v, "release:assets")) {
			ret = -1;
		} else {
			if (check_keys(m, v, asset_keys, ARRAY_SIZE(asset_keys), "release:assets"))
				ret = -1;
			if ((l = ymap_get(v, "links")) && get_release_links(m, l, r))
				ret = -1;
		}
	}
	return ret;
}

static int get_environment(struct mctx *m, const struct ynode *n,
			   struct environment *e)
{
	static const char *const keys[] = {
		"name", "url", "action", "on_stop", "deployment_tier",
		"auto_stop_in", "kubernetes",
	};
	static const char *const actions[] = { "start", "prepare", "stop", "verify", "access" };
	static const char *const tiers[] = {
		"production", "staging", "testing", "development", "other",
	};
	const struct ynode *v;
	int ret = 0;

	environment_clear(e);
	e->set = 1;
	if (is_stringish(n)) {
		e->name = xstrdup(n->str);
		return 0;
	}
	if (n->type != YNODE_MAP) {
		ERR(m, &n->pos, "%s: \"environment\" must be a string or a map", m->what);
		return -1;
	}
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "environment"))
		ret = -1;
	if (ymap_get(n, "kubernetes")) {
		ERR(m, &ymap_find(n, "kubernetes")->key_pos, "keyword "
		    "\"environment:kubernetes\" is not supported by cidre");
		ret = -1;
	}
	v = ymap_get(n, "name");
	if (!v) {
		ERR(m, &n->pos, "%s: \"environment\" needs \"name\"", m->what);
		ret = -1;
	} else if (get_str(m, v, "environment:name", &e->name)) {
		ret = -1;
	}
	if ((v = ymap_get(n, "url")) && get_str(m, v, "environment:url", &e->url))
		ret = -1;
	if ((v = ymap_get(n, "on_stop")) && get_str(m, v, "environment:on_stop",
						    &e->on_stop))
		ret = -1;
	if ((v = ymap_get(n, "auto_stop_in"))) {
		long secs;

		if (!(is_stringish(v) && !strcmp(v->str, "never")) &&
		    get_duration(m, v, "environment:auto_stop_in", 0, &secs))
			ret = -1;
		else if (get_str(m, v, "environment:auto_stop_in", &e->auto_stop_in))
			ret = -1;
	}
	if ((v = ymap_get(n, "action"))) {
		if (get_str(m, v, "environment:action", &e->action)) {
			ret = -1;
		} else if (!in_list(e->action, actions, ARRAY_SIZE(actions))) {
			ERR(m, &v->pos, "%s: \"environment:action\" must be start, prepare, "
			    "stop, verify or access", m->what);
			ret = -1;
		}
	}
	if ((v = ymap_get(n, "deployment_tier"))) {
		if (get_str(m, v, "environment:deployment_tier", &e->deployment_tier)) {
			ret = -1;
		} else if (!in_list(e->deployment_tier, tiers, ARRAY_SIZE(tiers))) {
			ERR(m, &v->pos, "%s: \"environment:deployment_tier\" must be "
			    "production, staging, testing, development or other", m->what);
			ret = -1;
		}
	}
	return ret;
}

/*
 * Matrix values as GitLab names and sets them: a number is Ruby's to_s
 * of it (PYTHON: [3.9, 3.10] gives "test: [3.1]"). values holds v's
 * strings in order, as get_str_list() left them.
 */
static void matrix_numbers(const struct ynode *v, struct strvec *values)
{
	struct strbuf num = STRBUF_INIT;
	size_t i;

	if (v->type == YNODE_SCALAR) {
		if (values->nr == 1) {
			free(values->v[0]);
			values->v[0] = xstrdup(yscalar_ruby_str(v, &num));
		}
	} else if (v->type == YNODE_SEQ && v->nr == values->nr) {
		for (i = 0; i < v->nr; i++) {
			if (v->items[i]->type != YNODE_SCALAR)
				continue;
			free(values->v[i]);
			values->v[i] = xstrdup(yscalar_ruby_str(v->items[i], &num));
		}
	}
	strbuf_release(&num);
}

static int get_parallel(struct mctx *m, const struct ynode *n,
			struct parallel *pl)
{
	const struct ynode *mx;
	size_t i, j, total = 0;
	int ret = 0;

	parallel_clear(pl);
	if (n->type == YNODE_SCALAR)
		return get_int(m, n, "parallel", 1, MAX_PARALLEL, &pl->count);
	if (check_map(m, n, "parallel"))
		return -1;
	mx = ymap_get(n, "matrix");
	if (!mx || n->pairs_nr != 1) {
		ERR(m, &n->pos, "%s: \"parallel\" must be a number or a map with "
		    "\"matrix\"", m->what);
		return -1;
	}
	if (mx->type != YNODE_SEQ || !mx->nr) {
		ERR(m, &mx->pos, "%s: \"parallel:matrix\" must be a non-empty list of "
		    "maps", m->what);
		return -1;
	}
	pl->matrix = xcalloc(mx->nr + 1, sizeof(*pl->matrix));
	for (i = 0; i < mx->nr; i++) {
		const struct ynode *e = mx->items[i];
		struct matrix_entry *me = &pl->matrix[pl->matrix_nr++];
		size_t combos = 1;

		if (e->type != YNODE_MAP || !e->pairs_nr) {
			ERR(m, &e->pos, "%s: each \"parallel:matrix\" entry must be a "
			    "map of variables", m->what);
			ret = -1;
			continue;
		}
		me->dims = xcalloc(e->pairs_nr + 1, sizeof(*me->dims));
		for (j = 0; j < e->pairs_nr; j++) {
			struct matrix_dim *dim = &me->dims[me->nr++];
			const struct ynode *v = e->pairs[j].val;

			dim->key = xstrdup(e->pairs[j].key);
			strvec_init(&dim->values);
			if (get_str_list(m, v, "parallel:matrix", 1, &dim->values)) {
				ret = -1;
				continue;
			}
			matrix_numbers(v, &dim->values);
			if (!dim->values.nr) {
				ERR(m, &v->pos, "%s: \"parallel:matrix\" variable \"%s\" has "
				    "no values", m->what, dim->key);
				ret = -1;
				continue;
			}
			combos *= dim->values.nr;
			if (combos > MAX_PARALLEL)
				combos = MAX_PARALLEL + 1;
		}
		total += combos;
	}
	if (!ret && total > MAX_PARALLEL) {
		ERR(m, &mx->pos, "%s: \"parallel:matrix\" generates more than %d jobs",
		    m->what, MAX_PARALLEL);
		ret = -1;
	}
	return ret;
}

static int get_retry(struct mctx *m, const struct ynode *n, struct retry *r)
{
	static const char *const keys[] = { "max", "when", "exit_codes" };
	static const char *const reasons[] = {
		"always", "unknown_failure", "script_failure", "api_failure",
		"stuck_or_timeout_failure", "runner_system_failure",
		"runner_unsupported", "stale_schedule", "job_execution_timeout",
		"archived_failure", "unmet_prerequisites", "scheduler_failure",
		"data_integrity_failure",
	};
	const struct ynode *v;
	size_t i;
	int ret = 0;

	strvec_clear(&r->when);
	free(r->exit_codes.v);
	memset(&r->exit_codes, 0, sizeof(r->exit_codes));
	r->max = 0;
	if (n->type == YNODE_SCALAR)
		return get_int(m, n, "retry", 0, 2, &r->max);
	if (check_map(m, n, "retry"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "retry"))
		ret = -1;
	if ((v = ymap_get(n, "max")) && get_int(m, v, "retry:max", 0, 2, &r->max))
		ret = -1;
	if ((v = ymap_get(n, "when"))) {
		if (get_str_list(m, v, "retry:when", 1, &r->when)) {
			ret = -1;
		} else {
			for (i = 0; i < r->when.nr; i++) {
				if (in_list(r->when.v[i], reasons, ARRAY_SIZE(reasons)))
					continue;
				ERR(m, &v->pos, "%s: unknown retry:when reason \"%s\"",
				    m->what, r->when.v[i]);
				ret = -1;
			}
		}
	}
	if ((v = ymap_get(n, "exit_codes")) && get_int_list(m, v, "retry:exit_codes",
							    &r->exit_codes))
		ret = -1;
	return ret;
}


static int get_pull_policy(struct mctx *m, const struct ynode *v, const char *kw,
			   unsigned *pull)
{
	static const char *const pol[] = { "always", "if-not-present", "never" };
	struct strvec pp = STRVEC_INIT;
	size_t i;
	int ret = 0;

	*pull = 0;
	if (get_str_list(m, v, kw, 1, &pp)) {
		ret = -1;
	} else {
		for (i = 0; i < pp.nr; i++) {
			if (!in_list(pp.v[i], pol, ARRAY_SIZE(pol))) {
				ERR(m, &v->pos, "%s: \"%s\" must be always, "
				    "if-not-present or never", m->what, kw);
				ret = -1;
			} else {
				*pull |= !strcmp(pp.v[i], "always") ? JOB_PULL_ALWAYS :
					 !strcmp(pp.v[i], "never") ? JOB_PULL_NEVER :
					 JOB_PULL_IF_NOT_PRESENT;
			}
		}
	}
	strvec_clear(&pp);
	return ret;
}

/*
 * services: a list of images (strings) or maps {name, alias, entrypoint,
 * command, variables, pull_policy}, as GitLab has them.
 */
static int get_services(struct mctx *m, const struct ynode *n, struct job *j)
{
	static const char *const keys[] = {
		"name", "alias", "entrypoint", "command", "variables", "pull_policy",
		"docker", "kubernetes",
	};
	size_t i;
	int ret = 0;

	services_clear(j);
	if (n->type != YNODE_SEQ) {
		ERR(m, &n->pos, "%s: \"services\" must be a list of images", m->what);
		return -1;
	}
	if (n->nr > JOB_MAX_SERVICES) {
		ERR(m, &n->pos, "%s: at most %d services", m->what, JOB_MAX_SERVICES);
		return -1;
	}
	j->services = xcalloc(n->nr ? n->nr : 1, sizeof(*j->services));
	for (i = 0; i < n->nr; i++) {
		const struct ynode *e = n->items[i], *v;
		struct job_service *s = &j->services[j->services_nr++];

		strvec_init(&s->aliases);
		strvec_init(&s->entrypoint);
		strvec_init(&s->command);
		varlist_init(&s->variables);
		if (is_stringish(e)) {
			if (get_str(m, e, "services", &s->name))
				ret = -1;
			continue;
		}
		if (check_map(m, e, "services") ||
		    check_keys(m, e, keys, ARRAY_SIZE(keys), "services")) {
			ret = -1;
			continue;
		}
		if ((v = ymap_get(e, "docker")) || (v = ymap_get(e, "kubernetes"))) {
			ERR(m, &v->pos, "%s: \"services\" options of other executors "
			    "(docker:, kubernetes:) are not supported", m->what);
			ret = -1;
		}
		v = ymap_get(e, "name");
		if (!v) {
			ERR(m, &e->pos, "%s: a service needs \"name\"", m->what);
			ret = -1;
			continue;
		}
		if (get_str(m, v, "services:name", &s->name))
			ret = -1;
		if ((v = ymap_get(e, "alias"))) {
			char *a = NULL;

			if (get_str(m, v, "services:alias", &a)) {
				ret = -1;
			} else {
				/* "db,postgres" or "db postgres": several names */
				char *p = a, *tok;

				while ((tok = strsep(&p, ", ")))
					if (*tok)
						strvec_push(&s->aliases, tok);
			}
			free(a);
		}
		if ((v = ymap_get(e, "entrypoint"))) {
			s->has_entrypoint = 1;
			if (get_str_list(m, v, "services:entrypoint", 1, &s->entrypoint))
				ret = -1;
		}
		if ((v = ymap_get(e, "command"))) {
			s->has_command = 1;
			if (get_str_list(m, v, "services:command", 1, &s->command))
				ret = -1;
		}
		if ((v = ymap_get(e, "variables")) &&
		    get_variables(m, v, 0, &s->variables))
			ret = -1;
		if ((v = ymap_get(e, "pull_policy")) &&
		    get_pull_policy(m, v, "services:pull_policy", &s->pull_policy))
			ret = -1;
	}
	return ret;
}

static int get_image(struct mctx *m, const struct ynode *n, char **out,
		     unsigned *pull, int *entry_set, struct strvec *entry)
{
	static const char *const keys[] = {
		"name", "entrypoint", "docker", "pull_policy", "kubernetes",
	};
	const struct ynode *v;
	size_t i;
	int ret = 0;

	*pull = 0;
	if (is_stringish(n))
		return get_str(m, n, "image", out);
	if (check_map(m, n, "image"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "image"))
		ret = -1;
	for (i = 0; i < n->pairs_nr; i++) {
		const char *k = n->pairs[i].key;
		const struct ynode *e = n->pairs[i].val;

		/*
		 * entrypoint: what runs the job's shell, as Docker's
		 * ENTRYPOINT (GitLab's Docker executor); [""] or [] none.
		 */
		if (!strcmp(k, "entrypoint")) {
			strvec_clear(entry);
			*entry_set = 1;
			if (e->type == YNODE_SEQ && e->nr == 1 &&
			    e->items[0]->type == YNODE_SCALAR && !*e->items[0]->str)
				continue;
			if (get_str_list(m, e, "image:entrypoint", 0, entry)) {
				ret = -1;
			} else if (entry->nr > JOB_MAX_ENTRYPOINT) {
				ERR(m, &n->pairs[i].key_pos, "%s: \"image:entrypoint\" "
				    "has more than %d words", m->what,
				    JOB_MAX_ENTRYPOINT);
				ret = -1;
			} else if (entry->nr && !*entry->v[0]) {
				ERR(m, &n->pairs[i].key_pos, "%s: \"image:entrypoint\" "
				    "starts with an empty word", m->what);
				ret = -1;
			}
			continue;
		}
		if (!strcmp(k, "docker") || !strcmp(k, "kubernetes")) {
			ERR(m, &n->pairs[i].key_pos, "keyword \"image:%s\" is not "
			    "supported by cidre (images are root filesystems, not "
			    "containers)", k);
			ret = -1;
		}
	}
	if ((v = ymap_get(n, "pull_policy"))) {
		struct strvec pp = STRVEC_INIT;
		static const char *const pol[] = { "always", "if-not-present", "never" };

		if (get_str_list(m, v, "image:pull_policy", 1, &pp)) {
			ret = -1;
		} else {
			for (i = 0; i < pp.nr; i++) {
				if (!in_list(pp.v[i], pol, ARRAY_SIZE(pol))) {
					ERR(m, &v->pos, "%s: \"image:pull_policy\" must be "
					    "always, if-not-present or never", m->what);
					ret = -1;
				} else {
					*pull |= !strcmp(pp.v[i], "always") ? JOB_PULL_ALWAYS :
						 !strcmp(pp.v[i], "never") ? JOB_PULL_NEVER :
						 JOB_PULL_IF_NOT_PRESENT;
				}
			}
		}
		strvec_clear(&pp);
	}
	v = ymap_get(n, "name");
	if (!v) {
		ERR(m, &n->pos, "%s: \"image\" needs \"name\"", m->what);
		return -1;
	}
	if (get_str(m, v, "image:name", out))
		ret = -1;
	return ret;
}

/* --- jobs --------------------------------------------------------------- */

struct unsupported {
	const char *key;
	const char *why;
};

static const struct unsupported unsupported_job[] = {
	{ "trigger", "downstream pipelines" },
	{ "secrets", "external secret managers" },
	{ "id_tokens", "OIDC ID tokens" },
	{ "hooks", "runner hooks" },
	{ "identity", "cloud identity federation" },
	{ "run", "CI/CD steps" },
	{ "dast_configuration", "GitLab DAST" },
	{ "inputs", "CI/CD inputs" },
};

/*
 * A size: bytes as an integer, or a number with a suffix K, M, G, T
 * (powers of 1024; "KiB", "MB", "m" and such accepted). -1 when bad.
 */
static long long parse_size(const char *s)
{
	char *end;
	double v;
	long long mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || v != v)
		return -1;
	while (*end == ' ')
		end++;
	switch (*end) {
	case 'k': case 'K': mult = 1LL << 10; end++; break;
	case 'm': case 'M': mult = 1LL << 20; end++; break;
	case 'g': case 'G': mult = 1LL << 30; end++; break;
	case 't': case 'T': mult = 1LL << 40; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I'))
		end++;
	if (mult > 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || v * mult > 9e18)
		return -1;
	return (long long)(v * mult);
}

/* cidre: {memory, pids, cpus, network, host_fallback} */
static int get_cidre(struct mctx *m, const struct ynode *n, struct job_cidre *c)
{
	static const char *const keys[] = {
		"memory", "pids", "cpus", "network", "host_fallback",
	};
	const struct ynode *v;
	int ret = 0;

	if (check_map(m, n, "cidre"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "cidre"))
		ret = -1;
	if ((v = ymap_get(n, "memory"))) {
		long long b = is_stringish(v) ? parse_size(v->str) : -1;

		if (b < JOB_CIDRE_MIN_MEMORY || b > JOB_CIDRE_MAX_MEMORY) {
			ERR(m, &v->pos, "%s: \"cidre:memory\" must be a size between "
			    "4M and 1T (like 512M or 2G)", m->what);
			ret = -1;
		} else {
			c->memory = b;
		}
	}
	if ((v = ymap_get(n, "pids"))) {
		int p;

		if (get_int(m, v, "cidre:pids", 1, JOB_CIDRE_MAX_PIDS, &p))
			ret = -1;
		else
			c->pids = p;
	}
	if ((v = ymap_get(n, "cpus"))) {
		char *end = NULL;
		double d = is_stringish(v) ? strtod(v->str, &end) : -1;

		if (!end || *end || !(d >= 0.01 && d <= JOB_CIDRE_MAX_CPUS)) {
			ERR(m, &v->pos, "%s: \"cidre:cpus\" must be a number of CPUs "
			    "between 0.01 and %d (like 0.5 or 2)", m->what,
			    JOB_CIDRE_MAX_CPUS);
			ret = -1;
		} else {
			c->cpus = d;
		}
	}
	if ((v = ymap_get(n, "network")) && get_bool(m, v, "cidre:network", &c->network))
		ret = -1;
	if ((v = ymap_get(n, "host_fallback")) &&
	    get_bool(m, v, "cidre:host_fallback", &c->host_fallback))
		ret = -1;
	return ret;
}

static const char *const job_keywords[] = {
	"script", "before_script", "after_script", "stage", "variables", "inherit",
	"rules", "only", "except", "when", "start_in", "allow_failure", "retry",
	"timeout", "parallel", "needs", "dependencies", "artifacts", "cache",
	"environment", "resource_group", "coverage", "interruptible", "tags",
	"image", "extends", "manual_confirmation", "cidre", "release",
	"pages", "publish", "services",
};

static const char *const default_keywords[] = {
	"after_script", "artifacts", "before_script", "cache", "image",
	"interruptible", "retry", "tags", "timeout", "services",
	/* out of scope, reported as such */
	"hooks", "id_tokens", "identity",
};

/*
 * A keyword written without a value (`dependencies:`, `variables: ~`) is
 * as if it were not written: GitLab's entry factory makes a null value
 * "unspecified", so the default or the job's own default applies.
 */
static int is_unset(const struct ynode *n)
{
	return n->type == YNODE_SCALAR && !n->tag && yscalar_kind(n) == YS_NULL;
}

/* ymap_get(), a null value counting as absent (is_unset()) */
static const struct ynode *ymap_get_set(const struct ynode *map, const char *key)
{
	const struct ynode *v = ymap_get(map, key);

	return v && !is_unset(v) ? v : NULL;
}

/*
 * An out-of-scope keyword that asks for nothing: written without a value,
 * or `services: []`, the usual way to clear the default's services.
 */
static int asks_nothing(const struct ypair *pr)
{
	if (!strcmp(pr->key, "services") && pr->val->type == YNODE_SEQ &&
	    !pr->val->tag && !pr->val->nr)
		return 1;
	return is_unset(pr->val);
}

static const struct unsupported *find_unsupported(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(unsupported_job); i++)
		if (!strcmp(unsupported_job[i].key, key))
			return &unsupported_job[i];
	return NULL;
}

/*
 * Apply one keyword to j. Keys outside job_keywords are the caller's
 * business. Returns -1 on a reported error.
 */
static int job_key(struct mctx *m, struct job *j, const struct ypair *pr)
{
	const char *k = pr->key;
	const struct ynode *v = pr->val;
	long secs;

	if (!strcmp(k, "script")) {
		j->has_script = 1;
		return get_script(m, v, k, &j->script);
	}
	if (!strcmp(k, "before_script"))
		return get_script(m, v, k, &j->before_script);
	if (!strcmp(k, "after_script"))
		return get_script(m, v, k, &j->after_script);
	if (!strcmp(k, "stage")) {
		j->stage_pos = v->pos;
		return get_str(m, v, k, &j->stage);
	}
	if (!strcmp(k, "variables"))
		return get_variables(m, v, 0, &j->variables);
	if (!strcmp(k, "rules")) {
		j->has_rules = 1;
		return get_rules(m, v, RULES_JOB, &j->rules);
	}
	if (!strcmp(k, "only"))
		return get_filter(m, v, k, &j->only);
	if (!strcmp(k, "except"))
		return get_filter(m, v, k, &j->except);
	if (!strcmp(k, "when")) {
		enum when w;

		if (is_stringish(v) && !when_parse(v->str, &w) && w == WHEN_NEVER) {
			ERR(m, &v->pos, "%s: \"when: never\" is only allowed in rules "
			    "(use rules: [{when: never}])", m->what);
			return -1;
		}
		if (!is_stringish(v) || when_parse(v->str, &w)) {
			ERR(m, &v->pos, "%s: \"when\" must be one of on_success, "
			    "on_failure, always, manual, delayed", m->what);
			return -1;
		}
		j->has_when = 1;
		j->when = w;
		return 0;
	}
	if (!strcmp(k, "start_in")) {
		if (get_duration(m, v, k, 7 * 86400, &secs))
			return -1;
		return get_str(m, v, k, &j->start_in);
	}
	if (!strcmp(k, "allow_failure")) {
		const struct ynode *ec;

		if (v->type == YNODE_SCALAR)
			return get_bool(m, v, k, &j->allow_failure);
		if (check_map(m, v, k))
			return -1;
		ec = ymap_get(v, "exit_codes");
		if (!ec || v->pairs_nr != 1) {
			ERR(m, &v->pos, "%s: \"allow_failure\" must be a boolean or a map "
			    "with \"exit_codes\"", m->what);
			return -1;
		}
		if (get_int_list(m, ec, "allow_failure:exit_codes",
				 &j->allow_failure_exit_codes))
			return -1;
		j->allow_failure = 0;
		return 0;
	}
	if (!strcmp(k, "retry"))
		return get_retry(m, v, &j->retry);
	if (!strcmp(k, "timeout")) {
		if (get_duration(m, v, k, MAX_TIMEOUT, &secs))
			return -1;
		if (secs < 1) {
			ERR(m, &v->pos, "%s: \"timeout\" must be at least 1 second", m->what);
			return -1;
		}
		j->timeout = (int)secs;
		return 0;
	}
	if (!strcmp(k, "parallel"))
		return get_parallel(m, v, &j->parallel);
	if (!strcmp(k, "needs")) {
		j->has_needs = 1;
		return get_needs(m, v, &j->needs, &j->needs_nr);
	}
	if (!strcmp(k, "dependencies")) {
		size_t i;
		int flat;

		j->has_dependencies = 1;
		if (get_str_list(m, v, k, 0, &j->dependencies))
			return -1;
		/* where each entry is, for the checks once every job is known */
		flat = v->type == YNODE_SEQ && v->nr == j->dependencies.nr;
		for (i = 0; flat && i < v->nr; i++)
			flat = v->items[i]->type == YNODE_SCALAR;
		free(j->dependencies_pos);
		j->dependencies_pos = xcalloc(j->dependencies.nr + 1, sizeof(struct pos));
		for (i = 0; i < j->dependencies.nr; i++)
			j->dependencies_pos[i] = flat ? v->items[i]->pos : v->pos;
		return 0;
	}
	if (!strcmp(k, "artifacts"))
		return get_artifacts(m, v, &j->artifacts);
	if (!strcmp(k, "cache"))
		return get_caches(m, v, j);
	if (!strcmp(k, "environment"))
		return get_environment(m, v, &j->environment);
	if (!strcmp(k, "release"))
		return get_release(m, v, &j->release);
	if (!strcmp(k, "pages"))
		return get_pages(m, v, j);
	if (!strcmp(k, "publish")) {
		/* the older spelling of pages:publish, which wins */
		if (j->pages_publish_set)
			return 0;
		free(j->pages_publish);
		j->pages_publish = NULL;
		return get_str(m, v, "publish", &j->pages_publish);
	}
	if (!strcmp(k, "resource_group"))
		return get_str(m, v, k, &j->resource_group);
	if (!strcmp(k, "coverage")) {
		size_t n;

		if (get_str(m, v, k, &j->coverage))
			return -1;
		n = strlen(j->coverage);
		if (n < 2 || j->coverage[0] != '/' || j->coverage[n - 1] != '/') {
			ERR(m, &v->pos, "%s: \"coverage\" must be a regular expression "
			    "between slashes, like /Coverage: \\d+%%/", m->what);
			return -1;
		}
		memmove(j->coverage, j->coverage + 1, n - 2);
		j->coverage[n - 2] = '\0';
		return 0;
	}
	if (!strcmp(k, "interruptible"))
		return get_bool(m, v, k, &j->interruptible);
	if (!strcmp(k, "tags"))
		return get_str_list(m, v, k, 0, &j->tags);
	if (!strcmp(k, "image"))
		return get_image(m, v, &j->image, &j->pull_policy,
				 &j->image_entrypoint_set, &j->image_entrypoint);
	if (!strcmp(k, "services"))
		return get_services(m, v, j);
	if (!strcmp(k, "cidre"))
		return get_cidre(m, v, &j->cidre);
	if (!strcmp(k, "manual_confirmation")) {
		free(j->manual_confirmation);
		j->manual_confirmation = NULL;
		return get_str(m, v, k, &j->manual_confirmation);
	}
	return 0;
}

static int report_unsupported(struct mctx *m, const struct ypair *pr)
{
	const struct unsupported *u = find_unsupported(pr->key);

	if (!u || asks_nothing(pr))
		return 0;
	ERR(m, &pr->key_pos, "keyword \"%s\" is not supported by cidre (%s)",
	    pr->key, u->why);
	return 1;
}

/* inherit: {default: bool|list, variables: bool|list} */
static int get_inherit(struct mctx *m, const struct ynode *n,
		       enum inherit_mode *def_mode, struct strvec *def_list,
		       struct job *j)
{
	static const char *const keys[] = { "default", "variables" };
	const struct ynode *v;
	int ret = 0, b;
	size_t i;

	if (check_map(m, n, "inherit"))
		return -1;
	if (check_keys(m, n, keys, ARRAY_SIZE(keys), "inherit"))
		ret = -1;
	if ((v = ymap_get(n, "default"))) {
		if (v->type == YNODE_SEQ) {
			if (get_str_list(m, v, "inherit:default", 0, def_list)) {
				ret = -1;
			} else {
				*def_mode = INHERIT_LIST;
				for (i = 0; i < def_list->nr; i++) {
					if (in_list(def_list->v[i], default_keywords,
						    ARRAY_SIZE(default_keywords)))
						continue;
					ERR(m, &v->pos, "%s: \"inherit:default\" names unknown "
					    "default keyword \"%s\"", m->what, def_list->v[i]);
					ret = -1;
				}
			}
		} else if (get_bool(m, v, "inherit:default", &b)) {
			ret = -1;
		} else {
			*def_mode = b ? INHERIT_ALL : INHERIT_NONE;
		}
	}
	if ((v = ymap_get(n, "variables"))) {
		if (v->type == YNODE_SEQ) {
			if (get_str_list(m, v, "inherit:variables", 0,
					 &j->inherit_variables_list))
				ret = -1;
			else
				j->inherit_variables = INHERIT_LIST;
		} else if (get_bool(m, v, "inherit:variables", &b)) {
			ret = -1;
		} else {
			j->inherit_variables = b ? INHERIT_ALL : INHERIT_NONE;
		}
	}
	return ret;
}

struct defaults {
	/* the default: map merged with the deprecated top-level globals */
	struct ynode *map;
};

static struct job *build_job(struct pipeline *p, struct diag *d,
			     const struct ypair *jp, const struct defaults *defs)
{
	struct strbuf what = STRBUF_INIT;
	struct mctx m = { p, d, NULL };
	struct job *j;
	const struct ynode *n = jp->val;
	enum inherit_mode def_mode = INHERIT_ALL;
	struct strvec def_list = STRVEC_INIT;
	int blocked_script = 0;
	char hint[PIPELINE_HINT_MAX];
	size_t i;

	strbuf_addf(&what, "job \"%s\"", jp->key);
	m.what = what.buf;
	j = pipeline_job_new(jp->key, &jp->key_pos);
	if (strlen(jp->key) > MAX_JOB_NAME)
		ERR(&m, &jp->key_pos, "job name too long (more than %d characters)",
		    MAX_JOB_NAME);
	if (n->type != YNODE_MAP) {
		ERR(&m, &n->pos, "job \"%s\" must be a map of keywords, not %s%s",
		    jp->key, ynode_type_name(n), keyword_hint(hint, sizeof(hint), jp->key));
		goto out;
	}
	for (i = 0; i < n->pairs_nr; i++) {
		const struct ypair *pr = &n->pairs[i];

		if (is_unset(pr->val) && strcmp(pr->key, "script") &&
		    (in_list(pr->key, job_keywords, ARRAY_SIZE(job_keywords)) ||
		     find_unsupported(pr->key) || !strcmp(pr->key, "type")))
			continue;
		if (report_unsupported(&m, pr)) {
			if (!strcmp(pr->key, "trigger") || !strcmp(pr->key, "run"))
				blocked_script = 1;
			continue;
		}
		if (find_unsupported(pr->key))
			continue; /* asks_nothing() */
		if (!strcmp(pr->key, "type")) {
			/* deprecated alias of stage */
			j->stage_pos = pr->val->pos;
			get_str(&m, pr->val, "type", &j->stage);
			continue;
		}
		if (!in_list(pr->key, job_keywords, ARRAY_SIZE(job_keywords))) {
			ERR(&m, &pr->key_pos, "unknown keyword \"%s\" in job \"%s\"%s",
			    pr->key, jp->key, suggest_hint(hint, sizeof(hint),
			    suggest_from(pr->key, job_keywords, ARRAY_SIZE(job_keywords))));
			continue;
		}
		if (!strcmp(pr->key, "inherit")) {
			get_inherit(&m, pr->val, &def_mode, &def_list, j);
			continue;
		}
		job_key(&m, j, pr);
	}
	if (j->has_rules && (j->only.set || j->except.set))
		ERR(&m, &ymap_find(n, "rules")->key_pos, "%s: \"rules\" cannot be used "
		    "together with \"only\" or \"except\"", m.what);
	if (j->start_in && (!j->has_when || j->when != WHEN_DELAYED))
		ERR(&m, &ymap_get(n, "start_in")->pos, "%s: \"start_in\" needs "
		    "\"when: delayed\"", m.what);
	if (j->has_when && j->when == WHEN_DELAYED && !j->start_in)
		ERR(&m, &ymap_get(n, "when")->pos, "%s: \"when: delayed\" needs "
		    "\"start_in\"", m.what);
	if (!j->has_script && !blocked_script)
		ERR(&m, &jp->key_pos, "job \"%s\" has no \"script\"%s", jp->key,
		    keyword_hint(hint, sizeof(hint), jp->key));
	else if (j->has_script && !j->script.nr)
		ERR(&m, &ymap_get(n, "script")->pos, "job \"%s\": \"script\" must "
		    "not be empty", jp->key);

	/* default: keywords the job does not set itself */
	if (defs->map && def_mode != INHERIT_NONE) {
		struct diag quiet = DIAG_INIT;
		struct mctx qm = { p, &quiet, m.what };

		for (i = 0; i < defs->map->pairs_nr; i++) {
			const struct ypair *pr = &defs->map->pairs[i];
			const struct ynode *own = ymap_get(n, pr->key);

			if (own && !is_unset(own))
				continue;
			if (def_mode == INHERIT_LIST && strvec_find(&def_list, pr->key) < 0)
				continue;
			/* errors were reported once, for default: itself */
			job_key(&qm, j, pr);
		}
		diag_clear(&quiet);
	}
	pages_finish(&m, j, jp->key, &jp->key_pos);
out:
	strvec_clear(&def_list);
	strbuf_release(&what);
	return j;
}

/* Validate default: (and the deprecated globals) once; build defs->map. */
static void build_defaults(struct pipeline *p, struct diag *d,
			   const struct ynode *root, struct defaults *defs)
{
	static const char *const globals[] = {
		"image", "services", "cache", "before_script", "after_script",
	};
	struct mctx m = { p, d, "default" };
	const struct ynode *def = ymap_get_set(root, "default");
	struct job *scratch;
	struct pos nopos = { NULL, 0, 0 };
	size_t i;

	defs->map = ynode_new(YNODE_MAP, def ? &def->pos : &nopos);
	if (def && def->type != YNODE_MAP) {
		ERR(&m, &def->pos, "\"default\" must be a map, not %s",
		    ynode_type_name(def));
		def = NULL;
	}
	if (def) {
		for (i = 0; i < def->pairs_nr; i++) {
			const struct ypair *pr = &def->pairs[i];

			if (!in_list(pr->key, default_keywords, ARRAY_SIZE(default_keywords))) {
				char hint[96];

				ERR(&m, &pr->key_pos, "unknown keyword \"%s\" in default%s",
				    pr->key, suggest_hint(hint, sizeof(hint),
				    suggest_from(pr->key, default_keywords,
						 ARRAY_SIZE(default_keywords))));
				continue;
			}
			if (is_unset(pr->val))
				continue;
			if (report_unsupported(&m, pr))
				continue;
			ymap_set_take(defs->map, pr->key, &pr->key_pos,
				      ynode_dup(pr->val, NULL));
		}
	}
	for (i = 0; i < ARRAY_SIZE(globals); i++) {
		const struct ypair *pr = ymap_find(root, globals[i]);

		if (!pr || is_unset(pr->val))
			continue;
		if (report_unsupported(&m, pr))
			continue;
		if (!ymap_find(defs->map, pr->key))
			ymap_set_take(defs->map, pr->key, &pr->key_pos,
				      ynode_dup(pr->val, NULL));
	}
	scratch = pipeline_job_new("default", &nopos);
	for (i = 0; i < defs->map->pairs_nr; i++)
		job_key(&m, scratch, &defs->map->pairs[i]);
	job_free(scratch);
}

static void build_stages(struct mctx *m, const struct ynode *root)
{
	const struct ypair *pr = ymap_find(root, "stages");
	struct strvec user = STRVEC_INIT;
	size_t i;

	if (pr && is_unset(pr->val))
		pr = NULL;
	if (!pr)
		pr = ymap_find(root, "types");
	if (pr && is_unset(pr->val))
		pr = NULL;
	strvec_push(&m->p->stages, ".pre");
	if (!pr || get_str_list(m, pr->val, "stages", 0, &user)) {
		if (!pr || !user.nr) {
			strvec_clear(&user);
			strvec_push(&user, "build");
			strvec_push(&user, "test");
			strvec_push(&user, "deploy");
		}
	}
	for (i = 0; i < user.nr; i++) {
		if (!strcmp(user.v[i], ".pre") || !strcmp(user.v[i], ".post"))
			continue;
		if (strvec_find(&m->p->stages, user.v[i]) >= 0)
			continue;
		strvec_push(&m->p->stages, user.v[i]);
	}
	strvec_push(&m->p->stages, ".post");
	strvec_clear(&user);
}

static void build_workflow(struct mctx *m, const struct ynode *root)
{
	static const char *const keys[] = { "rules", "name", "auto_cancel" };
	const struct ynode *wf = ymap_get_set(root, "workflow"), *v;
	struct mctx wm = { m->p, m->d, "workflow" };

	if (!wf)
		return;
	if (check_map(&wm, wf, "workflow"))
		return;
	check_keys(&wm, wf, keys, ARRAY_SIZE(keys), "workflow");
	if ((v = ymap_get(wf, "auto_cancel")))
		get_auto_cancel(&wm, v, "workflow:auto_cancel", &m->p->auto_cancel_new_commit,
				&m->p->auto_cancel_job_failure);
	if ((v = ymap_get(wf, "rules"))) {
		m->p->has_workflow_rules = 1;
		get_rules(&wm, v, RULES_WORKFLOW, &m->p->workflow_rules);
	}
	if ((v = ymap_get(wf, "name")))
		get_str(&wm, v, "workflow:name", &m->p->workflow_name);
}

/* --- cross-job checks --------------------------------------------------- */

/* "; did you mean ..." for a job name that names no job of p */
static const char *job_hint(char *buf, size_t n, const struct pipeline *p,
			    const char *name)
{
	struct suggest s;
	size_t i;

	suggest_init(&s, name);
	for (i = 0; i < p->jobs_nr; i++)
		suggest_add(&s, p->jobs[i]->name);
	return suggest_hint(buf, n, s.best);
}

static int stage_of(const struct pipeline *p, const struct job *j)
{
	return pipeline_stage_index(p, j->stage);
}

static void check_needs_list(struct mctx *m, const struct job *j,
			     const struct need *needs, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct job *t = pipeline_find_job(m->p, needs[i].job);

		if (!t) {
			char hint[PIPELINE_HINT_MAX];

			if (!needs[i].optional)
				ERR(m, &needs[i].pos, "job \"%s\" needs job \"%s\", which "
				    "does not exist%s", j->name, needs[i].job,
				    job_hint(hint, sizeof(hint), m->p, needs[i].job));
			continue;
		}
		if (t == j) {
			ERR(m, &needs[i].pos, "job \"%s\" needs itself", j->name);
			continue;
		}
		if (stage_of(m->p, t) > stage_of(m->p, j) && stage_of(m->p, j) >= 0)
			ERR(m, &needs[i].pos, "job \"%s\" needs job \"%s\", which is in "
			    "a later stage (\"%s\")", j->name, t->name, t->stage);
	}
}

/* DFS over needs; state 0 new, 1 on stack, 2 done. */
static int needs_dfs(struct mctx *m, size_t idx, int *state, size_t *stack,
		     size_t depth)
{
	const struct job *j = m->p->jobs[idx];
	size_t i, k;

	state[idx] = 1;
	stack[depth] = idx;
	for (i = 0; i < j->needs_nr; i++) {
		const struct job *t = pipeline_find_job(m->p, j->needs[i].job);
		size_t ti;

		if (!t || t == j)
			continue;
		for (ti = 0; m->p->jobs[ti] != t; ti++)
			;
		if (state[ti] == 1) {
			struct strbuf sb = STRBUF_INIT;

			for (k = 0; k <= depth && stack[k] != ti; k++)
				;
			for (; k <= depth; k++)
				strbuf_addf(&sb, "%s -> ", m->p->jobs[stack[k]]->name);
			strbuf_addstr(&sb, t->name);
			ERR(m, &j->needs[i].pos, "needs cycle: %s", sb.buf);
			strbuf_release(&sb);
			state[idx] = 2;
			return -1;
		}
		if (state[ti] == 0 && needs_dfs(m, ti, state, stack, depth + 1)) {
			state[idx] = 2;
			return -1;
		}
	}
	state[idx] = 2;
	return 0;
}

static void check_jobs(struct mctx *m)
{
	struct pipeline *p = m->p;
	int *state = xcalloc(p->jobs_nr + 1, sizeof(*state));
	size_t *stack = xcalloc(p->jobs_nr + 1, sizeof(*stack));
	size_t i, k;

	for (i = 0; i < p->jobs_nr; i++) {
		struct job *j = p->jobs[i];

		if (!j->stage)
			j->stage = xstrdup("test");
		if (pipeline_stage_index(p, j->stage) < 0) {
			char hint[PIPELINE_HINT_MAX];

			ERR(m, j->stage_pos.file ? &j->stage_pos : &j->pos,
			    "job \"%s\": stage \"%s\" is not defined in stages%s",
			    j->name, j->stage, suggest_hint(hint, sizeof(hint),
			    suggest_from(j->stage, (const char *const *)p->stages.v,
					 p->stages.nr)));
		}
	}
	if (p->one_job)
		goto out;	/* its needs name jobs not loaded */
	for (i = 0; i < p->jobs_nr; i++) {
		struct job *j = p->jobs[i];

		check_needs_list(m, j, j->needs, j->needs_nr);
		for (k = 0; k < j->rules.nr; k++)
			check_needs_list(m, j, j->rules.v[k].needs, j->rules.v[k].needs_nr);
		for (k = 0; k < j->dependencies.nr; k++) {
			const char *dn = j->dependencies.v[k];
			const struct job *t = pipeline_find_job(p, dn);
			const struct pos *at = j->dependencies_pos ? &j->dependencies_pos[k] : &j->pos;
			size_t x;
			int in_needs = 0;

			if (!t) {
				ERR(m, at, "job \"%s\": dependency \"%s\" is not a job",
				    j->name, dn);
				continue;
			}
			if (stage_of(p, t) > stage_of(p, j))
				ERR(m, at, "job \"%s\": dependency \"%s\" is not in the "
				    "current or an earlier stage", j->name, dn);
			for (x = 0; x < j->needs_nr; x++)
				if (!strcmp(j->needs[x].job, dn))
					in_needs = 1;
			if (j->has_needs && !in_needs)
				ERR(m, at, "job \"%s\": dependency \"%s\" must also be "
				    "listed in needs", j->name, dn);
		}
	}
	for (i = 0; i < p->jobs_nr; i++) {
		const struct job *j = p->jobs[i];

		if (j->environment.set && j->environment.on_stop &&
		    !pipeline_find_job(p, j->environment.on_stop))
			ERR(m, &j->pos, "job \"%s\": environment:on_stop job \"%s\" "
			    "is not defined", j->name, j->environment.on_stop);
	}
	for (i = 0; i < p->jobs_nr; i++)
		if (!state[i])
			needs_dfs(m, i, state, stack, 0);
out:
	free(state);
	free(stack);
}

/*
 * Whether a top-level "cidre" key holds cidre's settings: yes, except in
 * a file named .gitlab-ci.yml, where GitLab reads it as a job (and so
 * do we).
 */
static int cidre_settings(const struct pipeline *p)
{
	const char *base;

	if (!p->file)
		return 1;
	base = strrchr(p->file, '/');
	return strcmp(base ? base + 1 : p->file, ".gitlab-ci.yml") != 0;
}

void pipeline_model_build(struct pipeline *p, const struct ynode *root,
			  struct diag *d)
{
	struct mctx m = { p, d, "pipeline" };
	struct defaults defs = { NULL };
	const struct ynode *v;
	struct pos filepos = { p->files.nr ? p->files.v[0] : NULL, 0, 0 };
	size_t i;
	int too_many = 0, settings;

	build_stages(&m, root);
	if ((v = ymap_get_set(root, "variables"))) {
		struct mctx vm = { p, d, "variables" };

		get_variables(&vm, v, 1, &p->variables);
	}
	if ((v = ymap_get(root, "spec")))
		ERR(&m, &ymap_find(root, "spec")->key_pos, "keyword \"spec:inputs\" is "
		    "not supported by cidre (pipeline inputs)");
	build_workflow(&m, root);
	build_defaults(p, d, root, &defs);
	p->cidre.network = -1;
	p->cidre.host_fallback = -1;
	settings = cidre_settings(p);
	if (settings && (v = ymap_get(root, "cidre"))) {
		struct mctx cm = { p, d, "cidre" };

		get_cidre(&cm, v, &p->cidre);
	}

	for (i = 0; i < root->pairs_nr; i++) {
		const struct ypair *jp = &root->pairs[i];

		if (pipeline_is_global_keyword(jp->key) || jp->key[0] == '.' ||
		    (settings && !strcmp(jp->key, "cidre")))
			continue;
		if (p->jobs_nr >= PIPELINE_MAX_JOBS) {
			if (!too_many)
				ERR(&m, &jp->key_pos, "too many jobs (more than %d)",
				    PIPELINE_MAX_JOBS);
			too_many = 1;
			continue;
		}
		ALLOC_GROW(p->jobs, p->jobs_nr + 1, p->jobs_alloc);
		p->jobs[p->jobs_nr++] = build_job(p, d, jp, &defs);
	}
	ynode_free(defs.map);
	for (i = 0; i < p->jobs_nr; i++) {
		struct job_cidre *c = &p->jobs[i]->cidre;

		if (!c->memory)
			c->memory = p->cidre.memory;
		if (!c->pids)
			c->pids = p->cidre.pids;
		if (!c->cpus)
			c->cpus = p->cidre.cpus;
		if (c->network < 0)
			c->network = p->cidre.network;
		if (c->host_fallback < 0)
			c->host_fallback = p->cidre.host_fallback;
	}
	/* after other errors (an include refused, say) it would only add noise */
	if (!p->jobs_nr && !too_many && !d->errors)
		ERR(&m, &filepos, "the pipeline has no visible jobs (job names "
		    "starting with \".\" are hidden)");
	check_jobs(&m);
}
