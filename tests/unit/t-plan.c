/*
 * Unit tests for src/pipeline/plan.c. Pipelines are built by hand with the
 * small builder below, so these tests depend on nothing but the model.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pipeline/plan.h"
#include "pipeline/plan_glob.h"
#include "util/xalloc.h"
#include "testlib.h"

/* ---- builder ---- */

static const char *FILE_NAME = ".gitlab-ci.yml";

static struct pos at(int line)
{
	struct pos p = { FILE_NAME, line, 3 };

	return p;
}

static struct pipeline *pl_new(const char *stages)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	char *dup = xstrdup(stages), *s = dup, *sp;

	strvec_init(&p->files);
	strvec_init(&p->stages);
	strvec_push(&p->files, FILE_NAME);
	strvec_push(&p->stages, ".pre");
	while (*s) {
		sp = strchrnul(s, ' ');
		if (*sp)
			*sp++ = '\0';
		strvec_push(&p->stages, s);
		s = sp;
	}
	strvec_push(&p->stages, ".post");
	free(dup);
	return p;
}

static struct job *job_add(struct pipeline *p, const char *name, const char *stage)
{
	struct pos pos = at((int)p->jobs_nr * 10 + 1);
	struct job *j = pipeline_job_new(name, &pos);

	j->stage = xstrdup(stage);
	j->stage_pos = j->pos;
	strvec_push(&j->script, "true");
	j->has_script = 1;
	ALLOC_GROW(p->jobs, p->jobs_nr + 1, p->jobs_alloc);
	p->jobs[p->jobs_nr++] = j;
	return j;
}

/* Append a rule (if_expr may be NULL); pointer valid until the next add. */
static struct rule *rule_add(struct rules *rs, const char *if_expr)
{
	struct rule *r;

	rs->v = xrealloc(rs->v, (rs->nr + 1) * sizeof(*rs->v));
	r = &rs->v[rs->nr++];
	memset(r, 0, sizeof(*r));
	r->if_expr = xstrdup_or_null(if_expr);
	r->if_pos = at(100 + (int)rs->nr);
	r->pos = r->if_pos;
	strvec_init(&r->changes);
	strvec_init(&r->exists);
	r->allow_failure = -1;
	r->interruptible = -1;
	return r;
}

static struct rule *job_rule(struct job *j, const char *if_expr)
{
	j->has_rules = 1;
	return rule_add(&j->rules, if_expr);
}

static struct need *need_add_to(struct need **v, size_t *nr, const char *job)
{
	struct need *n;

	*v = xrealloc(*v, (*nr + 1) * sizeof(**v));
	n = &(*v)[(*nr)++];
	memset(n, 0, sizeof(*n));
	n->job = xstrdup(job);
	n->artifacts = 1;
	n->pos = at(200 + (int)*nr);
	return n;
}

static struct need *need_add(struct job *j, const char *job)
{
	j->has_needs = 1;
	return need_add_to(&j->needs, &j->needs_nr, job);
}

/* Add a parallel:matrix entry from "KEY=a,b,c" strings, NULL-terminated. */
static void matrix_add(struct job *j, ...)
{
	struct matrix_entry *me;
	const char *dim;
	va_list ap;

	j->parallel.matrix = xrealloc(j->parallel.matrix,
				      (j->parallel.matrix_nr + 1) * sizeof(*me));
	me = &j->parallel.matrix[j->parallel.matrix_nr++];
	memset(me, 0, sizeof(*me));
	va_start(ap, j);
	while ((dim = va_arg(ap, const char *))) {
		const char *eq = strchr(dim, '=');
		char *vals = xstrdup(eq + 1), *s = vals, *c;
		struct matrix_dim *d;

		me->dims = xrealloc(me->dims, (me->nr + 1) * sizeof(*me->dims));
		d = &me->dims[me->nr++];
		d->key = xstrndup(dim, eq - dim);
		strvec_init(&d->values);
		for (;;) {
			c = strchrnul(s, ',');
			if (*c) {
				*c = '\0';
				strvec_push(&d->values, s);
				s = c + 1;
			} else {
				strvec_push(&d->values, s);
				break;
			}
		}
		free(vals);
	}
	va_end(ap);
}

/* ---- fixture: context ---- */

struct fx {
	struct varlist predefined;
	struct varlist overrides;
	struct strvec only_jobs;
	struct strvec manual;
	struct strvec changed;
	struct plan_ctx ctx;
	struct plan plan;
	struct diag d;
	struct pipeline *p;
	char tmpdir[PATH_MAX];
};

static int fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	varlist_init(&f->predefined);
	varlist_init(&f->overrides);
	strvec_init(&f->only_jobs);
	strvec_init(&f->manual);
	strvec_init(&f->changed);
	varlist_set(&f->predefined, "CI_COMMIT_REF_NAME", "main");
	varlist_set(&f->predefined, "CI_COMMIT_BRANCH", "main");
	varlist_set(&f->predefined, "CI_PIPELINE_SOURCE", "push");
	varlist_set(&f->predefined, "CI_DEFAULT_BRANCH", "main");
	f->ctx.predefined = &f->predefined;
	f->ctx.overrides = &f->overrides;
	diag_init(&f->d);
	f->p = pl_new("build test deploy");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	plan_release(&f->plan);
	diag_clear(&f->d);
	if (f->tmpdir[0])
		(void)test_rmtree(f->tmpdir);
	varlist_clear(&f->predefined);
	varlist_clear(&f->overrides);
	strvec_clear(&f->only_jobs);
	strvec_clear(&f->manual);
	strvec_clear(&f->changed);
	pipeline_free(f->p);
	free(f);
	return 0;
}

static void print_diag(const struct diag *d);

/* Replace f->p with the pipeline loaded from yaml (must load cleanly). */
static void load_yaml(struct fx *f, const char *yaml)
{
	struct load_opts o;
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;

	if (!f->tmpdir[0])
		assert_int_equal(test_tmpdir(f->tmpdir, sizeof(f->tmpdir), "t-plan-y"), 0);
	free(test_write_file(f->tmpdir, FILE_NAME, yaml, strlen(yaml)));
	memset(&o, 0, sizeof(o));
	o.root = f->tmpdir;
	if (pipeline_load(&o, &p, &d)) {
		print_diag(&d);
		diag_clear(&d);
		fail();
	}
	diag_clear(&d);
	pipeline_free(f->p);
	f->p = p;
	f->ctx.project_dir = f->tmpdir;
}

static void print_diag(const struct diag *d)
{
	struct strbuf sb = STRBUF_INIT;

	diag_format(d, &sb);
	if (sb.len)
		print_message("%s", sb.buf);
	strbuf_release(&sb);
}

static int build(struct fx *f)
{
	int rc;

	plan_release(&f->plan);
	diag_clear(&f->d);
	rc = plan_build(f->p, &f->ctx, &f->plan, &f->d);
	if (rc)
		print_diag(&f->d);
	return rc;
}

/* Build, expecting failure with a message containing frag at line. */
static void build_fails(struct fx *f, const char *frag, int line)
{
	size_t i;
	int found = 0;

	plan_release(&f->plan);
	diag_clear(&f->d);
	assert_int_equal(plan_build(f->p, &f->ctx, &f->plan, &f->d), -1);
	assert_int_equal(f->plan.nr, 0);
	for (i = 0; i < f->d.nr; i++)
		if (strstr(f->d.e[i].msg, frag) &&
		    (line < 0 || f->d.e[i].pos.line == line))
			found = 1;
	if (!found) {
		print_message("wanted '%s' at line %d\n", frag, line);
		print_diag(&f->d);
	}
	assert_true(found);
}

static const struct plan_job *pj(struct fx *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->plan.nr; i++)
		if (!strcmp(f->plan.jobs[i].name, name))
			return &f->plan.jobs[i];
	return NULL;
}

static size_t idx(struct fx *f, const char *name)
{
	const struct plan_job *j = pj(f, name);

	assert_non_null(j);
	return j - f->plan.jobs;
}

/* "a,b,c": the plan's job names in order. */
static void assert_jobs(struct fx *f, const char *want)
{
	struct strbuf got = STRBUF_INIT;
	size_t i;
	int ok;

	for (i = 0; i < f->plan.nr; i++)
		strbuf_addf(&got, "%s%s", i ? "," : "", f->plan.jobs[i].name);
	ok = !strcmp(got.buf, want);
	if (!ok)
		print_message("jobs: got '%s', want '%s'\n", got.buf, want);
	strbuf_release(&got);
	assert_true(ok);
}

static void set_ref(struct fx *f, const char *ref, int tag, const char *source)
{
	varlist_set(&f->predefined, "CI_COMMIT_REF_NAME", ref);
	varlist_set(&f->predefined, "CI_PIPELINE_SOURCE", source);
	if (tag) {
		varlist_set(&f->predefined, "CI_COMMIT_TAG", ref);
		varlist_set(&f->predefined, "CI_COMMIT_BRANCH", "");
	} else {
		varlist_set(&f->predefined, "CI_COMMIT_TAG", "");
		varlist_set(&f->predefined, "CI_COMMIT_BRANCH", ref);
	}
}

/* ---- tests ---- */

static void test_order_and_stages(void **state)
{
	struct fx *f = *state;

	job_add(f->p, "deploy", "deploy");
	job_add(f->p, "unit", "test");
	job_add(f->p, "compile", "build");
	job_add(f->p, "lint", "test");
	job_add(f->p, "cleanup", ".post");
	job_add(f->p, "prep", ".pre");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "prep,compile,unit,lint,deploy,cleanup");
	assert_int_equal(f->plan.stages.nr, 5);
	assert_string_equal(f->plan.stages.v[pj(f, "unit")->stage], "test");
	assert_int_equal(f->plan.workflow_skip, 0);
	assert_null(f->plan.name);
	assert_int_equal(pj(f, "unit")->when, WHEN_ON_SUCCESS);
	assert_int_equal(pj(f, "unit")->allow_failure, 0);
	assert_int_equal(pj(f, "unit")->has_needs, 0);
	assert_int_equal(pj(f, "unit")->node_total, 0);
}

static void test_unknown_stage(void **state)
{
	struct fx *f = *state;

	job_add(f->p, "x", "nope");
	build_fails(f, "stage 'nope'", 1);
}

static void test_rules_first_match(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");
	struct rule *r;

	r = job_rule(j, "$CI_COMMIT_BRANCH == \"develop\"");
	r->has_when = 1;
	r->when = WHEN_NEVER;
	r = job_rule(j, "$CI_COMMIT_BRANCH == \"main\"");
	r->has_when = 1;
	r->when = WHEN_ALWAYS;
	varlist_set(&r->variables, "FROM_RULE", "2");
	r = job_rule(j, NULL); /* would match, but the previous one wins */
	varlist_set(&r->variables, "FROM_RULE", "3");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
	assert_int_equal(pj(f, "a")->when, WHEN_ALWAYS);
	assert_string_equal(varlist_get(&pj(f, "a")->vars, "FROM_RULE"), "2");

	set_ref(f, "develop", 0, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "");
}

static void test_rules_no_match(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");

	job_add(f->p, "b", "test");
	job_rule(j, "$CI_PIPELINE_SOURCE == \"schedule\"");
	job_rule(j, "$NOPE");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "b");
}

static void test_rules_when_defaults_to_job_when(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");
	struct rule *r;

	j->has_when = 1;
	j->when = WHEN_ON_FAILURE;
	job_rule(j, "$CI_COMMIT_BRANCH");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "a")->when, WHEN_ON_FAILURE);

	r = &j->rules.v[0];
	r->has_when = 1;
	r->when = WHEN_DELAYED;
	r->start_in = xstrdup("5 minutes");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "a")->when, WHEN_DELAYED);
	assert_string_equal(pj(f, "a")->start_in, "5 minutes");
}

static void test_rules_see_job_variables_and_overrides(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "test");
	struct job *b = job_add(f->p, "b", "test");
	struct job *c = job_add(f->p, "c", "test");
	struct job *d = job_add(f->p, "d", "test");
	struct rule *r;

	varlist_set(&f->p->variables, "GLOBAL", "g");
	varlist_set(&a->variables, "JOBVAR", "yes");
	job_rule(a, "$JOBVAR == \"yes\" && $GLOBAL == \"g\"");
	job_rule(b, "$FROM_CLI == \"1\"");
	/* a rule's own variables are not visible to its if */
	r = job_rule(c, "$RULEVAR");
	varlist_set(&r->variables, "RULEVAR", "x");
	/* inherit:variables: false hides globals from rules too */
	d->inherit_variables = INHERIT_NONE;
	job_rule(d, "$GLOBAL");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
	varlist_set(&f->overrides, "FROM_CLI", "1");
	varlist_set(&f->overrides, "JOBVAR", "overridden");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "b");
}

static void test_rules_if_error(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");

	job_rule(j, "$A == \"x\"");
	job_rule(j, "$A = \"x\"");
	set_ref(f, "other", 0, "push");
	build_fails(f, "rules:if", 102);
}

static void test_rules_interruptible(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "rule_sets", "test");
	struct job *b = job_add(f->p, "rule_clears", "test");
	struct job *c = job_add(f->p, "rule_silent", "test");
	struct rule *r;

	job_add(f->p, "no_rules", "test");
	r = job_rule(a, "$CI_COMMIT_BRANCH == \"main\"");
	r->interruptible = 1;
	b->interruptible = 1;
	r = job_rule(b, NULL);
	r->interruptible = 0;
	c->interruptible = 1;
	job_rule(c, NULL);
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "rule_sets")->interruptible, 1);
	assert_int_equal(pj(f, "rule_clears")->interruptible, 0);
	assert_int_equal(pj(f, "rule_silent")->interruptible, 1);
	assert_int_equal(pj(f, "no_rules")->interruptible, -1);
}

static void test_manual_allow_failure(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "job_manual", "test");
	struct job *b = job_add(f->p, "job_manual_rules", "test");
	struct job *c = job_add(f->p, "rule_manual", "test");
	struct job *d = job_add(f->p, "rule_manual_af", "test");
	struct job *e = job_add(f->p, "job_manual_af_false", "test");
	struct rule *r;

	job_add(f->p, "plain", "test");

	a->has_when = 1;
	a->when = WHEN_MANUAL;
	b->has_when = 1;
	b->when = WHEN_MANUAL;
	job_rule(b, NULL);
	r = job_rule(c, NULL);
	r->has_when = 1;
	r->when = WHEN_MANUAL;
	r = job_rule(d, NULL);
	r->has_when = 1;
	r->when = WHEN_MANUAL;
	r->allow_failure = 1;
	e->has_when = 1;
	e->when = WHEN_MANUAL;
	e->allow_failure = 0;
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "job_manual")->allow_failure, 1);
	assert_int_equal(pj(f, "job_manual_rules")->allow_failure, 1);
	assert_int_equal(pj(f, "rule_manual")->allow_failure, 0);
	assert_int_equal(pj(f, "rule_manual_af")->allow_failure, 1);
	assert_int_equal(pj(f, "job_manual_af_false")->allow_failure, 0);
	assert_int_equal(pj(f, "job_manual")->when, WHEN_MANUAL);
	assert_int_equal(pj(f, "job_manual")->run_manual, 0);

	f->ctx.all_manual = 1;
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "job_manual")->run_manual, 1);
	assert_int_equal(pj(f, "rule_manual")->run_manual, 1);

	f->ctx.all_manual = 0;
	strvec_push(&f->manual, "rule_manual");
	f->ctx.manual_jobs = &f->manual;
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "job_manual")->run_manual, 0);
	assert_int_equal(pj(f, "rule_manual")->run_manual, 1);

	/* a name that is no manual job of this pipeline is an error */
	strvec_push(&f->manual, "rule_manaul");
	build_fails(f, "--manual: no job named \"rule_manaul\" in the pipeline; "
		    "did you mean \"rule_manual\"?", -1);
	strvec_pop(&f->manual);
	strvec_push(&f->manual, "plain");
	build_fails(f, "--manual: job \"plain\" is not a manual job", -1);
	strvec_pop(&f->manual);
	assert_int_equal(build(f), 0);
}

static void test_allow_failure_exit_codes(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");

	j->allow_failure_exit_codes.v = xmalloc(2 * sizeof(int));
	j->allow_failure_exit_codes.v[0] = 3;
	j->allow_failure_exit_codes.v[1] = 137;
	j->allow_failure_exit_codes.nr = 2;
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "a")->allow_exit_codes.nr, 2);
	assert_int_equal(pj(f, "a")->allow_exit_codes.v[1], 137);
}

static void test_when_never_job_level(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "a", "test");

	j->has_when = 1;
	j->when = WHEN_NEVER;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "");
}

static void test_workflow(void **state)
{
	struct fx *f = *state;
	struct rule *r;

	job_add(f->p, "a", "test");
	varlist_set(&f->p->variables, "DEPLOY", "no");
	varlist_set(&f->p->variables, "KEEP", "k");
	f->p->has_workflow_rules = 1;
	r = rule_add(&f->p->workflow_rules, "$CI_COMMIT_TAG");
	r = rule_add(&f->p->workflow_rules, "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH");
	varlist_set(&r->variables, "DEPLOY", "yes");
	f->p->workflow_name = xstrdup("Pipeline for $CI_COMMIT_REF_NAME ($DEPLOY)");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.workflow_skip, 0);
	assert_jobs(f, "a");
	assert_string_equal(varlist_get(&f->plan.vars, "DEPLOY"), "yes");
	assert_string_equal(varlist_get(&f->plan.vars, "KEEP"), "k");
	assert_string_equal(f->plan.name, "Pipeline for main (yes)");

	/* no rule matches: no pipeline */
	set_ref(f, "feature", 0, "push");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.workflow_skip, 1);
	assert_int_equal(f->plan.nr, 0);

	/* when: never */
	r = rule_add(&f->p->workflow_rules, NULL);
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.workflow_skip, 0);
	r = rule_add(&f->p->workflow_rules, NULL);
	f->p->workflow_rules.v[2].has_when = 1;
	f->p->workflow_rules.v[2].when = WHEN_NEVER;
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.workflow_skip, 1);
}

static void test_workflow_vars_visible_to_jobs(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "deploy", "deploy");
	struct rule *r;

	f->p->has_workflow_rules = 1;
	r = rule_add(&f->p->workflow_rules, NULL);
	varlist_set(&r->variables, "ENV", "prod");
	job_rule(j, "$ENV == \"prod\"");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "deploy");
}

static void test_only_except_default(void **state)
{
	struct fx *f = *state;

	job_add(f->p, "a", "test");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
	set_ref(f, "v1.0", 1, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
	/* merge request pipelines: neither a branch nor a tag */
	set_ref(f, "feature", 0, "merge_request_event");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "");
}

static void test_only_refs(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "main_only", "test");
	struct job *b = job_add(f->p, "tags_only", "test");
	struct job *c = job_add(f->p, "release_re", "test");
	struct job *d = job_add(f->p, "mr", "test");
	struct job *e = job_add(f->p, "not_main", "test");
	struct job *g = job_add(f->p, "sched_web", "test");

	a->only.set = 1;
	strvec_push(&a->only.refs, "main");
	b->only.set = 1;
	strvec_push(&b->only.refs, "tags");
	c->only.set = 1;
	strvec_push(&c->only.refs, "/^release-\\d+$/");
	d->only.set = 1;
	strvec_push(&d->only.refs, "merge_requests");
	e->except.set = 1;
	strvec_push(&e->except.refs, "main");
	g->only.set = 1;
	strvec_push(&g->only.refs, "schedules");
	strvec_push(&g->only.refs, "web");

	assert_int_equal(build(f), 0);
	assert_jobs(f, "main_only");
	set_ref(f, "release-12", 0, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "release_re,not_main");
	set_ref(f, "v2", 1, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "tags_only,not_main");
	set_ref(f, "feature", 0, "merge_request_event");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "mr");
	set_ref(f, "main", 0, "schedule");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "main_only,sched_web");
	set_ref(f, "x", 0, "web");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "not_main,sched_web");
}

static void test_only_variables_and_except(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "test");
	struct job *b = job_add(f->p, "b", "test");

	a->only.set = 1;
	strvec_push(&a->only.refs, "branches");
	strvec_push(&a->only.variables, "$RELEASE == \"yes\"");
	strvec_push(&a->only.variables, "$FORCE");
	b->except.set = 1;
	strvec_push(&b->except.variables, "$SKIP_B");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "b");
	varlist_set(&f->overrides, "FORCE", "1");
	varlist_set(&f->overrides, "SKIP_B", "1");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
	/* refs and variables must both hold */
	set_ref(f, "v1", 1, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "");
}

/*
 * GitLab splits "pattern@group/project" at the first '@' before reading
 * the pattern, so keywords and regular expressions may name a project
 * too; "//" is the empty regular expression, matching every ref.
 */
static void test_only_refs_at_project(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "re_here", "test");
	struct job *b = job_add(f->p, "branches_here", "test");
	struct job *c = job_add(f->p, "re_elsewhere", "test");
	struct job *d = job_add(f->p, "empty_re", "test");
	struct job *e = job_add(f->p, "not_main_here", "test");

	varlist_set(&f->predefined, "CI_PROJECT_PATH", "group/app");
	a->only.set = 1;
	strvec_push(&a->only.refs, "/^rel.*/@group/app");
	b->only.set = 1;
	strvec_push(&b->only.refs, "branches@group/app");
	c->only.set = 1;
	strvec_push(&c->only.refs, "/.*/@group/other");
	d->only.set = 1;
	strvec_push(&d->only.refs, "//@group/app");
	e->except.set = 1;
	strvec_push(&e->except.refs, "main@group/app");

	assert_int_equal(build(f), 0);
	assert_jobs(f, "branches_here,empty_re");
	set_ref(f, "release", 0, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "re_here,branches_here,empty_re,not_main_here");
	set_ref(f, "v1", 1, "push");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "empty_re,not_main_here");
}

/* GitLab's rules see the job's own predefined variables too. */
static void test_rules_see_job_predefined(void **state)
{
	struct fx *f = *state;

	load_yaml(f,
		  "stages: [prep, test]\n"
		  "a:\n  stage: prep\n  script: x\n  rules:\n"
		  "    - if: $CI_JOB_STAGE == \"prep\"\n"
		  "b:\n  script: x\n  rules:\n    - if: $CI_JOB_NAME == \"b\"\n"
		  "m:\n  script: x\n  parallel:\n    matrix:\n      - OS: [x, y]\n"
		  "  rules:\n    - if: $CI_JOB_NAME =~ /\\[y\\]/\n"
		  "n:\n  script: x\n  parallel: 3\n  rules:\n"
		  "    - if: $CI_NODE_INDEX == \"2\" && $CI_NODE_TOTAL == \"3\"\n"
		  "s:\n  script: x\n  rules:\n    - if: $CI_JOB_NAME_SLUG == \"s\"\n");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a,b,m: [y],n 2/3,s");
}

/* GitLab creates no pipeline whose jobs are all in .pre and .post. */
static void test_only_pre_post_is_no_pipeline(void **state)
{
	struct fx *f = *state;

	load_yaml(f, "a:\n  stage: .pre\n  script: x\nb:\n  stage: .post\n  script: x\n"
		  "c:\n  script: x\n  rules:\n    - if: $C\n");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.nr, 0);
	assert_int_equal(f->plan.only_pre_post, 1);
	varlist_set(&f->overrides, "C", "1");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.only_pre_post, 0);
	assert_jobs(f, "a,c,b");
	/* a job chosen by name is the caller's choice */
	varlist_clear(&f->overrides);
	strvec_push(&f->only_jobs, "a");
	f->ctx.only_jobs = &f->only_jobs;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "a");
}

static void test_only_bad_regex(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "test");

	a->only.set = 1;
	a->only.pos = at(42);
	strvec_push(&a->only.refs, "/(/");
	build_fails(f, "invalid regular expression", 42);
}

/* rules:changes:compare_to: a fake repository where "release" is a ref */
static int since_calls;

static int fake_since(void *ud, const char *ref, struct strvec *out, struct strbuf *err)
{
	since_calls++;
	if (strcmp(ref, "release")) {
		strbuf_addstr(err, "no such commit");
		return -1;
	}
	strvec_push(out, "src/core.c");
	return 0;
}

static void test_changes_compare_to(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "core", "test");
	struct job *b = job_add(f->p, "docs", "test");
	struct job *c = job_add(f->p, "pushed", "test");
	struct rule *r;

	r = job_rule(a, NULL);
	r->has_changes = 1;
	strvec_push(&r->changes, "src/*.c");
	r->changes_compare_to = xstrdup("$BASE");
	r = job_rule(b, NULL);
	r->has_changes = 1;
	strvec_push(&r->changes, "docs/*");
	r->changes_compare_to = xstrdup("release");
	r = job_rule(c, NULL);
	r->has_changes = 1;
	strvec_push(&r->changes, "docs/*");
	varlist_set(&f->overrides, "BASE", "release");
	/* the push changed docs/a.md; since release, src/core.c */
	strvec_push(&f->changed, "docs/a.md");
	f->ctx.changed = &f->changed;

	/* no way to compare: compare_to is not evaluated, the push's files serve */
	assert_int_equal(build(f), 0);
	assert_jobs(f, "docs,pushed");

	f->ctx.changed_since = fake_since;
	since_calls = 0;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "core,pushed");
	assert_int_equal(since_calls, 1);       /* one ref, asked once */

	varlist_set(&f->overrides, "BASE", "nowhere");
	build_fails(f, "rules:changes:compare_to is not a valid ref: nowhere: no such commit", -1);
}

static void test_changes(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "docs", "test");
	struct job *b = job_add(f->p, "code", "test");
	struct job *c = job_add(f->p, "only_changes", "test");
	struct rule *r;

	r = job_rule(a, NULL);
	r->has_changes = 1;
	strvec_push(&r->changes, "docs/**/*.md");
	strvec_push(&r->changes, "README.md");
	r = job_rule(b, NULL);
	r->has_changes = 1;
	strvec_push(&r->changes, "src/*.{c,h}");
	c->only.set = 1;
	strvec_push(&c->only.changes, "$DIR/*");
	varlist_set(&c->variables, "DIR", "lib");

	/* changed unknown: changes are true */
	assert_int_equal(build(f), 0);
	assert_jobs(f, "docs,code,only_changes");

	f->ctx.changed = &f->changed;
	strvec_push(&f->changed, "docs/guide/intro.md");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "docs");
	strvec_clear(&f->changed);
	strvec_push(&f->changed, "src/sub/x.c");
	strvec_push(&f->changed, "lib/a.py");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "only_changes");
	strvec_push(&f->changed, "src/x.h");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "code,only_changes");
}

static void test_glob(void **state)
{
	assert_true(plan_glob_match("*.md", "README.md"));
	assert_false(plan_glob_match("*.md", "docs/README.md"));
	assert_true(plan_glob_match("**/*.md", "README.md"));
	assert_true(plan_glob_match("**/*.md", "docs/a/b/README.md"));
	assert_true(plan_glob_match("docs/**/*", "docs/a/b/c"));
	assert_true(plan_glob_match("docs/**/*", "docs/c"));
	assert_false(plan_glob_match("docs/**/*", "src/c"));
	assert_true(plan_glob_match("docs/**", "docs/c"));
	assert_false(plan_glob_match("docs/**", "docs/c/d")); /* Ruby: ** alone is * */
	assert_true(plan_glob_match("*", ".hidden"));      /* FNM_DOTMATCH */
	assert_true(plan_glob_match("**/*.{js,ts}", "a/b.ts"));
	assert_true(plan_glob_match("{src,lib}/**/*.{c,h}", "lib/x/y.h"));
	assert_false(plan_glob_match("{src,lib}/**/*.{c,h}", "doc/x/y.h"));
	assert_true(plan_glob_match("a{b,c{d,e}}f", "acef"));
	assert_true(plan_glob_match("file[0-9].txt", "file7.txt"));
	assert_true(plan_glob_match("Dockerfile", "Dockerfile"));
	assert_false(plan_glob_match("Dockerfile", "sub/Dockerfile"));
	assert_true(plan_glob_match("a/?/c", "a/b/c"));
	assert_false(plan_glob_match("a/?/c", "a//c"));
	assert_true(plan_glob_match("{a}", "{a}"));
	assert_true(plan_glob_has_magic("a/*"));
	assert_false(plan_glob_has_magic("a/b"));
}

static void test_exists(void **state)
{
	struct fx *f = *state;
	char tmpl[] = "/tmp/t-plan-XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct strbuf path = STRBUF_INIT;
	struct job *a = job_add(f->p, "docker", "build");
	struct job *b = job_add(f->p, "python", "build");
	struct job *c = job_add(f->p, "nothing", "build");
	struct rule *r;
	FILE *fp;

	assert_non_null(dir);
	strbuf_addf(&path, "%s/sub", dir);
	assert_int_equal(mkdir(path.buf, 0700), 0);
	strbuf_addstr(&path, "/setup.py");
	fp = fopen(path.buf, "w");
	assert_non_null(fp);
	fclose(fp);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/Dockerfile", dir);
	fp = fopen(path.buf, "w");
	assert_non_null(fp);
	fclose(fp);

	r = job_rule(a, NULL);
	r->has_exists = 1;
	strvec_push(&r->exists, "Dockerfile");
	r = job_rule(b, NULL);
	r->has_exists = 1;
	strvec_push(&r->exists, "**/*.py");
	r = job_rule(c, NULL);
	r->has_exists = 1;
	strvec_push(&r->exists, "*.py");
	strvec_push(&r->exists, "sub"); /* a directory is not a file */

	assert_int_equal(build(f), 0);
	assert_jobs(f, ""); /* no project_dir: nothing exists */
	f->ctx.project_dir = dir;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "docker,python");

	unlink(path.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/sub/setup.py", dir);
	unlink(path.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/sub", dir);
	rmdir(path.buf);
	rmdir(dir);
	strbuf_release(&path);
}

static void test_parallel(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "rspec", "test");
	const struct plan_job *p2;
	struct varlist vars;

	j->parallel.count = 3;
	job_add(f->p, "after", "deploy");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "rspec 1/3,rspec 2/3,rspec 3/3,after");
	p2 = pj(f, "rspec 2/3");
	assert_int_equal(p2->node_index, 2);
	assert_int_equal(p2->node_total, 3);
	plan_job_vars(&f->plan, p2, &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "CI_NODE_INDEX"), "2");
	assert_string_equal(varlist_get(&vars, "CI_NODE_TOTAL"), "3");
	assert_string_equal(varlist_get(&vars, "CI_JOB_NAME"), "rspec 2/3");
	assert_string_equal(varlist_get(&vars, "CI_JOB_NAME_SLUG"), "rspec-2-3");
	varlist_clear(&vars);
	/* `after` depends on all three (stage order) */
	assert_int_equal(pj(f, "after")->deps_nr, 3);

	j->parallel.count = 201;
	build_fails(f, "over the limit", 1);
}

static void test_matrix(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "build", "build");
	const struct plan_job *x;
	struct varlist vars;

	varlist_set(&j->variables, "OS", "default");
	matrix_add(j, "OS=linux,mac", "ARCH=amd64,arm64", NULL);
	matrix_add(j, "OS=windows", NULL);
	assert_int_equal(build(f), 0);
	assert_jobs(f, "build: [linux, amd64],build: [linux, arm64],"
		    "build: [mac, amd64],build: [mac, arm64],build: [windows]");
	x = pj(f, "build: [mac, arm64]");
	assert_int_equal(x->node_index, 4);
	assert_int_equal(x->node_total, 5);
	assert_string_equal(varlist_get(&x->vars, "OS"), "mac");
	assert_string_equal(varlist_get(&x->vars, "ARCH"), "arm64");
	plan_job_vars(&f->plan, x, &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "CI_NODE_TOTAL"), "5");
	assert_string_equal(varlist_get(&vars, "CI_JOB_NAME_SLUG"), "build---mac--arm64");
	varlist_clear(&vars);
	assert_null(varlist_get(&pj(f, "build: [windows]")->vars, "ARCH"));
}

static void test_matrix_rules_per_instance(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "deploy", "deploy");

	matrix_add(j, "CLOUD=aws,gcp,azure", NULL);
	job_rule(j, "$CLOUD =~ /^(aws|gcp)$/");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "deploy: [aws],deploy: [gcp]");
	assert_int_equal(pj(f, "deploy: [gcp]")->node_total, 3);
}

static void test_matrix_limit(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "m", "test");

	/* 10 * 10 * 3 = 300 */
	matrix_add(j, "A=0,1,2,3,4,5,6,7,8,9", "B=0,1,2,3,4,5,6,7,8,9",
		   "C=x,y,z", NULL);
	build_fails(f, "more than 200", 1);
}

static void test_needs(void **state)
{
	struct fx *f = *state;
	struct job *b = job_add(f->p, "build", "build");
	struct job *t = job_add(f->p, "test", "test");
	struct job *l = job_add(f->p, "lint", "test");
	struct job *d = job_add(f->p, "deploy", "deploy");
	const struct plan_job *x;

	b->parallel.count = 2;
	need_add(t, "build");
	l->has_needs = 1; /* needs: [] */
	need_add(d, "test")->artifacts = 0;
	need_add(d, "lint");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "build 1/2,build 2/2,test,lint,deploy");
	x = pj(f, "test");
	assert_int_equal(x->has_needs, 1);
	assert_int_equal(x->needs_nr, 2);
	assert_int_equal(x->needs[0].job, idx(f, "build 1/2"));
	assert_int_equal(x->needs[1].job, idx(f, "build 2/2"));
	assert_int_equal(pj(f, "lint")->has_needs, 1);
	assert_int_equal(pj(f, "lint")->needs_nr, 0);
	assert_int_equal(pj(f, "lint")->deps_nr, 0);
	x = pj(f, "deploy");
	assert_int_equal(x->needs_nr, 2);
	assert_int_equal(x->needs[0].artifacts, 0);
	/* dependencies from needs: only those with artifacts */
	assert_int_equal(x->deps_nr, 1);
	assert_int_equal(x->deps[0], idx(f, "lint"));
	assert_int_equal(pj(f, "build 1/2")->has_needs, 0);
}

static void test_needs_same_stage_and_cycles(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "test");
	struct job *b = job_add(f->p, "b", "test");

	need_add(b, "a");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "b")->needs_nr, 1);
	need_add(a, "b");
	build_fails(f, "needs cycle", -1);
}

static void test_needs_later_stage(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "build");

	job_add(f->p, "b", "test");
	need_add(a, "b");
	build_fails(f, "later stage", 201);
}

static void test_needs_missing_and_optional(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "build");
	struct job *t = job_add(f->p, "t", "test");
	struct need *n;

	job_rule(a, "$NOPE"); /* a is never in the pipeline */
	n = need_add(t, "a");
	build_fails(f, "not in this pipeline", 201);
	n->optional = 1;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "t");
	assert_int_equal(pj(f, "t")->has_needs, 1);
	assert_int_equal(pj(f, "t")->needs_nr, 0);
	n = need_add(t, "ghost");
	build_fails(f, "does not exist", 202);
}

static void test_needs_matrix(void **state)
{
	struct fx *f = *state;
	struct job *b = job_add(f->p, "build", "build");
	struct job *t = job_add(f->p, "test", "test");
	struct need *n;

	matrix_add(b, "OS=linux,mac", "ARCH=amd64,arm64", NULL);
	n = need_add(t, "build");
	n->matrix = xcalloc(2, sizeof(*n->matrix));
	n->matrix_nr = 2;
	varlist_set(&n->matrix[0], "OS", "linux");
	varlist_set(&n->matrix[0], "ARCH", "arm64");
	varlist_set(&n->matrix[1], "OS", "mac");
	varlist_set(&n->matrix[1], "ARCH", "amd64");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "test")->needs_nr, 2);
	assert_int_equal(pj(f, "test")->needs[0].job, idx(f, "build: [linux, arm64]"));
	assert_int_equal(pj(f, "test")->needs[1].job, idx(f, "build: [mac, amd64]"));
	varlist_set(&n->matrix[1], "ARCH", "riscv");
	varlist_set(&n->matrix[0], "ARCH", "riscv");
	build_fails(f, "parallel:matrix", 201);
}

static void test_rules_needs_replace(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "a", "build");
	struct job *b = job_add(f->p, "b", "build");
	struct job *t = job_add(f->p, "t", "test");
	struct rule *r;

	(void)a;
	(void)b;
	need_add(t, "a");
	r = job_rule(t, NULL);
	r->has_needs = 1;
	need_add_to(&r->needs, &r->needs_nr, "b");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "t")->needs_nr, 1);
	assert_int_equal(pj(f, "t")->needs[0].job, idx(f, "b"));
}

static void test_only_jobs(void **state)
{
	struct fx *f = *state;
	struct job *b = job_add(f->p, "build", "build");
	struct job *t = job_add(f->p, "test", "test");
	struct job *d = job_add(f->p, "deploy", "deploy");
	struct job *x = job_add(f->p, "excluded", "test");

	(void)b;
	need_add(t, "build");
	need_add(d, "test");
	job_rule(x, "$NOPE");
	f->ctx.only_jobs = &f->only_jobs;

	strvec_push(&f->only_jobs, "deploy");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "deploy");
	assert_int_equal(pj(f, "deploy")->needs_nr, 0); /* dropped */
	assert_int_equal(pj(f, "deploy")->has_needs, 1);

	f->ctx.with_needs = 1;
	assert_int_equal(build(f), 0);
	assert_jobs(f, "build,test,deploy");
	assert_int_equal(pj(f, "deploy")->needs[0].job, idx(f, "test"));
	assert_int_equal(pj(f, "test")->needs[0].job, idx(f, "build"));

	strvec_push(&f->only_jobs, "nosuchjob");
	build_fails(f, "no job named \"nosuchjob\"", -1);
	strvec_pop(&f->only_jobs);
	strvec_push(&f->only_jobs, "excluded");
	build_fails(f, "not in this pipeline", -1);
}

static void test_only_jobs_instances(void **state)
{
	struct fx *f = *state;
	struct job *j = job_add(f->p, "rspec", "test");

	j->parallel.count = 3;
	f->ctx.only_jobs = &f->only_jobs;
	strvec_push(&f->only_jobs, "rspec 2/3");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "rspec 2/3");
	strvec_clear(&f->only_jobs);
	strvec_push(&f->only_jobs, "rspec");
	assert_int_equal(build(f), 0);
	assert_jobs(f, "rspec 1/3,rspec 2/3,rspec 3/3");
}

static void test_dependencies(void **state)
{
	struct fx *f = *state;
	struct job *p1 = job_add(f->p, "p1", "build");
	struct job *p2 = job_add(f->p, "p2", "build");
	struct job *t = job_add(f->p, "t", "test");
	struct job *n = job_add(f->p, "none", "test");
	struct job *d = job_add(f->p, "d", "deploy");

	(void)p1;
	(void)p2;
	t->has_dependencies = 1;
	strvec_push(&t->dependencies, "p2");
	n->has_dependencies = 1; /* dependencies: [] */
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "t")->deps_nr, 1);
	assert_int_equal(pj(f, "t")->deps[0], idx(f, "p2"));
	assert_int_equal(pj(f, "none")->deps_nr, 0);
	/* default: every job of earlier stages, in plan order */
	assert_int_equal(pj(f, "d")->deps_nr, 4);
	assert_int_equal(pj(f, "d")->deps[0], idx(f, "p1"));
	assert_int_equal(pj(f, "d")->deps[3], idx(f, "none"));

	strvec_push(&t->dependencies, "d");
	build_fails(f, "not in an earlier stage", -1);
	strvec_pop(&t->dependencies);

	/* with needs, dependencies must be a subset of needs */
	need_add(d, "t");
	d->has_dependencies = 1;
	strvec_push(&d->dependencies, "t");
	assert_int_equal(build(f), 0);
	assert_int_equal(pj(f, "d")->deps_nr, 1);
	strvec_push(&d->dependencies, "p1");
	build_fails(f, "must also be listed in needs", -1);
}

static void test_job_vars(void **state)
{
	struct fx *f = *state;
	struct job *a = job_add(f->p, "Deploy Prod!", "deploy");
	struct job *b = job_add(f->p, "isolated", "test");
	struct job *c = job_add(f->p, "picky", "test");
	struct varlist vars;
	struct var *v;
	struct rule *r;

	varlist_set(&f->predefined, "CI_PROJECT_NAME", "proj");
	varlist_set(&f->predefined, "LEVEL", "predefined");
	varlist_set(&f->p->variables, "LEVEL", "global");
	varlist_set(&f->p->variables, "G_ONLY", "g");
	varlist_set(&f->p->variables, "G_REF", "$CI_PROJECT_NAME-$LEVEL");
	v = varlist_set(&f->p->variables, "RAW", "$NOT_EXPANDED");
	v->expand = 0;
	varlist_set(&a->variables, "LEVEL", "job");
	varlist_set(&a->variables, "J_ONLY", "j");
	varlist_set(&a->variables, "REGION", "eu");
	r = job_rule(a, NULL);
	varlist_set(&r->variables, "R_ONLY", "r");
	a->environment.set = 1;
	a->environment.name = xstrdup("production/$REGION");
	a->environment.url = xstrdup("https://$REGION.example.com");
	b->inherit_variables = INHERIT_NONE;
	c->inherit_variables = INHERIT_LIST;
	strvec_push(&c->inherit_variables_list, "G_ONLY");
	varlist_set(&f->overrides, "CLI", "c");

	assert_int_equal(build(f), 0);
	plan_job_vars(&f->plan, pj(f, "Deploy Prod!"), &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "LEVEL"), "job");
	assert_string_equal(varlist_get(&vars, "G_ONLY"), "g");
	assert_string_equal(varlist_get(&vars, "J_ONLY"), "j");
	assert_string_equal(varlist_get(&vars, "R_ONLY"), "r");
	assert_string_equal(varlist_get(&vars, "CLI"), "c");
	assert_string_equal(varlist_get(&vars, "G_REF"), "proj-job");
	assert_string_equal(varlist_get(&vars, "RAW"), "$NOT_EXPANDED");
	assert_string_equal(varlist_get(&vars, "CI_JOB_NAME"), "Deploy Prod!");
	assert_string_equal(varlist_get(&vars, "CI_JOB_NAME_SLUG"), "deploy-prod");
	assert_string_equal(varlist_get(&vars, "CI_JOB_STAGE"), "deploy");
	assert_null(varlist_get(&vars, "CI_NODE_INDEX"));
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_NAME"), "production/eu");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_URL"), "https://eu.example.com");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_ACTION"), "start");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_TIER"), "production");
	varlist_clear(&vars);

	/* overrides beat everything */
	varlist_set(&f->overrides, "LEVEL", "cli");
	plan_job_vars(&f->plan, pj(f, "Deploy Prod!"), &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "LEVEL"), "cli");
	assert_string_equal(varlist_get(&vars, "G_REF"), "proj-cli");
	varlist_clear(&vars);
	varlist_set(&f->overrides, "LEVEL", "");

	plan_job_vars(&f->plan, pj(f, "isolated"), &f->ctx, &vars);
	assert_null(varlist_get(&vars, "G_ONLY"));
	assert_string_equal(varlist_get(&vars, "CI_PROJECT_NAME"), "proj");
	assert_null(varlist_get(&vars, "CI_ENVIRONMENT_NAME"));
	varlist_clear(&vars);

	plan_job_vars(&f->plan, pj(f, "picky"), &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "G_ONLY"), "g");
	assert_null(varlist_get(&vars, "G_REF"));
	varlist_clear(&vars);
}

/* Each job planned alone (plan_ctx.one_job) is the job of the whole plan. */
static void test_one_job_same_as_whole(void **state)
{
	struct fx *f = *state;
	struct plan one;
	size_t i, k;

	load_yaml(f,
		"workflow:\n"
		"  rules:\n"
		"    - if: $CI_PIPELINE_SOURCE == \"push\"\n"
		"      variables: { KIND: dev }\n"
		"stages: [build, test, deploy]\n"
		"variables:\n"
		"  KIND: none\n"
		"  G: g-$WHO-$KIND\n"
		"build:\n"
		"  stage: build\n"
		"  script: [make]\n"
		"  parallel:\n"
		"    matrix:\n"
		"      - OS: [linux, mac]\n"
		"        ARCH: amd64\n"
		"split:\n"
		"  stage: build\n"
		"  parallel: 3\n"
		"  script: [make]\n"
		"unit:\n"
		"  stage: test\n"
		"  needs: [{job: build, parallel: {matrix: [{OS: linux, ARCH: amd64}]}}]\n"
		"  variables: { MINE: m-$G }\n"
		"  rules:\n"
		"    - if: $WHO == \"alice\"\n"
		"      variables: { R: r-$MINE }\n"
		"      allow_failure: true\n"
		"    - when: manual\n"
		"  script: [make check]\n"
		"skipped:\n"
		"  stage: test\n"
		"  rules: [{if: $WHO == \"bob\"}]\n"
		"  script: [x]\n"
		"later:\n"
		"  stage: deploy\n"
		"  when: delayed\n"
		"  start_in: 5 minutes\n"
		"  dependencies: [split]\n"
		"  inherit: { variables: [KIND] }\n"
		"  environment: { name: review/$WHO, url: https://$WHO.example }\n"
		"  allow_failure: { exit_codes: [3] }\n"
		"  script: [deploy]\n");
	varlist_set(&f->overrides, "WHO", "alice");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.nr, 7);
	for (i = 0; i < f->plan.nr; i++) {
		const struct plan_job *w = &f->plan.jobs[i], *o;
		struct plan_ctx c = f->ctx;
		struct varlist wv, ov;

		c.one_job = w->name;
		assert_int_equal(plan_build(f->p, &c, &one, &f->d), 0);
		assert_int_equal(one.nr, 1);
		o = &one.jobs[0];
		assert_ptr_equal(o->def, w->def);
		assert_string_equal(o->name, w->name);
		assert_int_equal(o->stage, w->stage);
		assert_int_equal(o->node_index, w->node_index);
		assert_int_equal(o->node_total, w->node_total);
		assert_int_equal(o->when, w->when);
		assert_int_equal(o->allow_failure, w->allow_failure);
		assert_int_equal(o->allow_exit_codes.nr, w->allow_exit_codes.nr);
		assert_int_equal(!o->start_in, !w->start_in);
		if (w->start_in)
			assert_string_equal(o->start_in, w->start_in);
		plan_job_vars(&f->plan, w, &f->ctx, &wv);
		plan_job_vars(&one, o, &c, &ov);
		assert_int_equal(ov.nr, wv.nr);
		for (k = 0; k < wv.nr; k++) {
			assert_string_equal(ov.v[k].key, wv.v[k].key);
			assert_string_equal(ov.v[k].value, wv.v[k].value);
		}
		varlist_clear(&wv);
		varlist_clear(&ov);
		plan_release(&one);
	}
	plan_job_vars(&f->plan, pj(f, "unit"), &f->ctx, &one.vars);
	assert_string_equal(varlist_get(&one.vars, "R"), "r-m-g-alice-dev");
	varlist_clear(&one.vars);
	/* a job the rules exclude is not planned alone either */
	f->ctx.one_job = "skipped";
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.nr, 0);
	f->ctx.one_job = NULL;
}

static void test_environment_tiers(void **state)
{
	static const struct { const char *name, *tier; } cases[] = {
		{ "review/feature-x", "development" },
		{ "qa", "testing" },
		{ "staging", "staging" },
		{ "production", "production" },
		{ "prd-eu", "production" },
		{ "sandbox", "other" },
	};
	struct fx *f = *state;
	struct job *j = job_add(f->p, "env", "deploy");
	struct varlist vars;
	size_t i;

	j->environment.set = 1;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		free(j->environment.name);
		j->environment.name = xstrdup(cases[i].name);
		assert_int_equal(build(f), 0);
		plan_job_vars(&f->plan, pj(f, "env"), &f->ctx, &vars);
		assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_TIER"), cases[i].tier);
		varlist_clear(&vars);
	}
	j->environment.deployment_tier = xstrdup("staging");
	j->environment.action = xstrdup("stop");
	assert_int_equal(build(f), 0);
	plan_job_vars(&f->plan, pj(f, "env"), &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_TIER"), "staging");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_ACTION"), "stop");
	varlist_clear(&vars);
}

static void test_release_twice(void **state)
{
	struct fx *f = *state;

	job_add(f->p, "a", "test");
	assert_int_equal(build(f), 0);
	plan_release(&f->plan);
	plan_release(&f->plan);
	plan_release(NULL);
}


/* ---- from YAML, through pipeline_load() ---- */

static void test_yaml_pipeline(void **state)
{
	struct fx *f = *state;
	const struct plan_job *x;
	struct varlist vars;

	load_yaml(f,
		"workflow:\n"
		"  name: 'CI for $CI_COMMIT_REF_NAME'\n"
		"  rules:\n"
		"    - if: $CI_COMMIT_TAG\n"
		"      variables: { KIND: release }\n"
		"    - if: $CI_PIPELINE_SOURCE == \"push\"\n"
		"      variables: { KIND: dev }\n"
		"stages: [build, test, deploy]\n"
		"variables:\n"
		"  KIND: none\n"
		"  IMAGE: app:$KIND\n"
		"build:\n"
		"  stage: build\n"
		"  script: [make]\n"
		"  parallel:\n"
		"    matrix:\n"
		"      - OS: [linux, mac]\n"
		"        ARCH: amd64\n"
		"unit:\n"
		"  stage: test\n"
		"  script: [make check]\n"
		"  needs:\n"
		"    - job: build\n"
		"      parallel:\n"
		"        matrix:\n"
		"          - OS: linux\n"
		"            ARCH: amd64\n"
		"docs:\n"
		"  stage: test\n"
		"  script: [make docs]\n"
		"  rules:\n"
		"    - if: $KIND == \"release\"\n"
		"      when: never\n"
		"    - exists: [Makefile]\n"
		"    - when: manual\n"
		"deploy:\n"
		"  stage: deploy\n"
		"  script: [./deploy]\n"
		"  environment:\n"
		"    name: $KIND/$CI_COMMIT_REF_NAME\n"
		"  rules:\n"
		"    - if: $KIND == \"release\"\n"
		"    - if: $CI_COMMIT_BRANCH == \"main\"\n"
		"      when: manual\n"
		"legacy:\n"
		"  stage: test\n"
		"  script: [x]\n"
		"  only: [tags]\n");
	assert_int_equal(build(f), 0);
	assert_string_equal(f->plan.name, "CI for main");
	assert_string_equal(varlist_get(&f->plan.vars, "KIND"), "dev");
	assert_jobs(f, "build: [linux, amd64],build: [mac, amd64],unit,docs,deploy");
	x = pj(f, "unit");
	assert_int_equal(x->needs_nr, 1);
	assert_int_equal(x->needs[0].job, idx(f, "build: [linux, amd64]"));
	x = pj(f, "docs");
	assert_int_equal(x->when, WHEN_MANUAL); /* no Makefile */
	assert_int_equal(x->allow_failure, 0);
	x = pj(f, "deploy");
	assert_int_equal(x->when, WHEN_MANUAL);
	plan_job_vars(&f->plan, x, &f->ctx, &vars);
	assert_string_equal(varlist_get(&vars, "IMAGE"), "app:dev");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_NAME"), "dev/main");
	assert_string_equal(varlist_get(&vars, "CI_ENVIRONMENT_TIER"), "development");
	varlist_clear(&vars);

	set_ref(f, "v1.0.0", 1, "push");
	assert_int_equal(build(f), 0);
	assert_string_equal(varlist_get(&f->plan.vars, "KIND"), "release");
	assert_jobs(f, "build: [linux, amd64],build: [mac, amd64],unit,legacy,deploy");
	assert_int_equal(pj(f, "deploy")->when, WHEN_ON_SUCCESS);

	set_ref(f, "feature", 0, "web");
	assert_int_equal(build(f), 0);
	assert_int_equal(f->plan.workflow_skip, 1);
	assert_int_equal(f->plan.nr, 0);
}

static void test_yaml_need_excluded_job_position(void **state)
{
	struct fx *f = *state;

	load_yaml(f,
		"build:\n"
		"  script: [make]\n"
		"  rules:\n"
		"    - if: $CI_COMMIT_TAG\n"
		"test:\n"
		"  script: [make check]\n"
		"  needs:\n"
		"    - build\n"
		"    - job: build\n"
		"      optional: true\n");
	build_fails(f, "not in this pipeline", 8);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_order_and_stages),
		T(test_unknown_stage),
		T(test_rules_first_match),
		T(test_rules_no_match),
		T(test_rules_when_defaults_to_job_when),
		T(test_rules_see_job_variables_and_overrides),
		T(test_rules_if_error),
		T(test_rules_interruptible),
		T(test_manual_allow_failure),
		T(test_allow_failure_exit_codes),
		T(test_when_never_job_level),
		T(test_workflow),
		T(test_workflow_vars_visible_to_jobs),
		T(test_only_except_default),
		T(test_only_refs),
		T(test_only_variables_and_except),
		T(test_only_refs_at_project),
		T(test_rules_see_job_predefined),
		T(test_only_pre_post_is_no_pipeline),
		T(test_only_bad_regex),
		T(test_changes),
		T(test_changes_compare_to),
		cmocka_unit_test(test_glob),
		T(test_exists),
		T(test_parallel),
		T(test_matrix),
		T(test_matrix_rules_per_instance),
		T(test_matrix_limit),
		T(test_needs),
		T(test_needs_same_stage_and_cycles),
		T(test_needs_later_stage),
		T(test_needs_missing_and_optional),
		T(test_needs_matrix),
		T(test_rules_needs_replace),
		T(test_only_jobs),
		T(test_only_jobs_instances),
		T(test_dependencies),
		T(test_job_vars),
		T(test_one_job_same_as_whole),
		T(test_environment_tiers),
		T(test_release_twice),
		T(test_yaml_pipeline),
		T(test_yaml_need_excluded_job_position),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
