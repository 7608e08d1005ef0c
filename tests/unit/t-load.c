/*
 * Unit tests for the pipeline loader: YAML tree, include, extends,
 * !reference, default:/inherit:, keyword checks and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/model.h"
#include "pipeline/yaml.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "testlib.h"

static char tmpdir[PATH_MAX];

static void write_file(const char *rel, const char *content)
{
	free(test_write_file(tmpdir, rel, content, strlen(content)));
}

static int setup(void **state)
{
	return test_tmpdir(tmpdir, sizeof(tmpdir), "t-load");
}

static int teardown(void **state)
{
	(void)test_rmtree(tmpdir);
	return 0;
}

static struct load_opts opts(void)
{
	struct load_opts o;

	memset(&o, 0, sizeof(o));
	o.root = tmpdir;
	return o;
}

/* Load yaml as .gitlab-ci.yml; expect success. */
static struct pipeline *load_ok(const char *yaml)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	write_file(".gitlab-ci.yml", yaml);
	if (pipeline_load(&o, &p, &d)) {
		diag_format(&d, &sb);
		fprintf(stderr, "unexpected errors:\n%s", sb.buf);
		strbuf_release(&sb);
		diag_clear(&d);
		fail();
	}
	assert_int_equal(d.errors, 0);
	diag_clear(&d);
	return p;
}

/* Load yaml; expect failure; return the formatted, sorted diagnostics. */
static char *load_err(const char *yaml)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	write_file(".gitlab-ci.yml", yaml);
	assert_int_equal(pipeline_load(&o, &p, &d), -1);
	assert_null(p);
	assert_true(d.errors > 0);
	diag_sort(&d);
	diag_format(&d, &sb);
	diag_clear(&d);
	return strbuf_detach(&sb, NULL);
}

#define assert_has(hay, needle) do { \
	if (!strstr((hay), (needle))) { \
		fprintf(stderr, "missing \"%s\" in:\n%s", (needle), (hay)); \
		fail(); \
	} \
} while (0)

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* --- basics ------------------------------------------------------------- */

static void test_minimal(void **state)
{
	struct pipeline *p = load_ok("build:\n  script: make\n");
	struct job *j;

	(void)state;
	assert_int_equal(p->jobs_nr, 1);
	j = pipeline_find_job(p, "build");
	assert_non_null(j);
	assert_string_equal(j->stage, "test");
	assert_int_equal(j->script.nr, 1);
	assert_string_equal(j->script.v[0], "make");
	assert_int_equal(p->stages.nr, 5);
	assert_string_equal(p->stages.v[0], ".pre");
	assert_string_equal(p->stages.v[1], "build");
	assert_string_equal(p->stages.v[4], ".post");
	assert_int_equal(pipeline_stage_index(p, "deploy"), 3);
	assert_int_equal(pipeline_stage_index(p, "nope"), -1);
	assert_null(pipeline_find_job(p, "nope"));
	assert_int_equal(j->allow_failure, -1);
	assert_int_equal(j->interruptible, -1);
	assert_int_equal(j->pos.line, 1);
	assert_int_equal(j->pos.col, 1);
	pipeline_free(p);
}

static void test_when(void **state)
{
	enum when w;

	(void)state;
	assert_int_equal(when_parse("manual", &w), 0);
	assert_int_equal(w, WHEN_MANUAL);
	assert_int_equal(when_parse("bogus", &w), -1);
	assert_string_equal(when_name(WHEN_DELAYED), "delayed");
	assert_string_equal(when_name(WHEN_NEVER), "never");
}

static void test_stages_pre_post(void **state)
{
	struct pipeline *p = load_ok(
		"stages: [.post, lint, .pre, ship, lint]\n"
		"a: {stage: ship, script: x}\n"
		"b: {stage: .pre, script: x}\n");

	(void)state;
	assert_int_equal(p->stages.nr, 4);
	assert_string_equal(p->stages.v[0], ".pre");
	assert_string_equal(p->stages.v[1], "lint");
	assert_string_equal(p->stages.v[2], "ship");
	assert_string_equal(p->stages.v[3], ".post");
	pipeline_free(p);
}

static void test_script_flatten(void **state)
{
	struct pipeline *p = load_ok(
		".s: {script: [one, two]}\n"
		"j:\n  script:\n    - zero\n    - !reference [.s, script]\n"
		"    - [three, [four]]\n"
		"  before_script: b\n  after_script: [c]\n");
	struct job *j = pipeline_find_job(p, "j");

	(void)state;
	assert_int_equal(p->jobs_nr, 1); /* hidden job not listed */
	assert_int_equal(j->script.nr, 5);
	assert_string_equal(j->script.v[1], "one");
	assert_string_equal(j->script.v[2], "two");
	assert_string_equal(j->script.v[4], "four");
	assert_string_equal(j->before_script.v[0], "b");
	assert_string_equal(j->after_script.v[0], "c");
	pipeline_free(p);
}

static void test_variables(void **state)
{
	struct pipeline *p = load_ok(
		"variables:\n  A: one\n  N: 42\n"
		"  E:\n    value: prod\n    description: env\n    options: [dev, prod]\n"
		"  R: {value: $X, expand: false}\n"
		"j:\n  script: x\n  variables: {B: two}\n"
		"  inherit: {variables: [A]}\n");
	struct job *j = pipeline_find_job(p, "j");
	struct var *r;

	(void)state;
	assert_string_equal(varlist_get(&p->variables, "A"), "one");
	assert_string_equal(varlist_get(&p->variables, "N"), "42");
	assert_string_equal(varlist_get(&p->variables, "E"), "prod");
	assert_string_equal(varlist_find(&p->variables, "E")->description, "env");
	r = varlist_find(&p->variables, "R");
	assert_int_equal(r->expand, 0);
	assert_int_equal(r->pos.line, 8);
	assert_string_equal(varlist_get(&j->variables, "B"), "two");
	assert_int_equal(j->inherit_variables, INHERIT_LIST);
	assert_int_equal(j->inherit_variables_list.nr, 1);
	pipeline_free(p);
}

/*
 * GitLab reads numbers with Ruby's YAML 1.1 parser and gives jobs their
 * to_s: PYTHON: 3.10 is "3.1" there, and a matrix job is named with it.
 */
static void test_variables_numbers_as_gitlab(void **state)
{
	static const char *const want[][2] = {
		{ "A", "3.1" }, { "B", "1.0" }, { "C", "8" }, { "D", "1000" },
		{ "E", "0.5" }, { "F", "1e3" }, { "G", "1" }, { "H", "31" },
		{ "I", "1500.0" }, { "K", "5400" }, { "L", "0o17" },
		{ "M", "3.10" }, { "O", "1.0e+20" }, { "P", "1.0e-05" },
		{ "Q", "08" }, { "R", "0.1" }, { "S", "-7" }, { "T", "3.10" },
		{ "U", "99999999999999999999:30" }, { "V", "-1800" },
	};
	struct pipeline *p = load_ok(
		"variables:\n  A: 3.10\n  B: 1.0\n  C: 010\n  D: 1_000\n  E: .5\n"
		"  F: 1e3\n  G: +1\n  H: 0x1F\n  I: 1.5e+3\n  K: 1:30\n  L: 0o17\n"
		"  M: \"3.10\"\n  O: 100000000000000000000.0\n  P: 0.00001\n"
		"  Q: 08\n  R: 0.1\n  S: -7\n  T: !!str 3.10\n"
		"  U: 99999999999999999999:30\n  V: -1:30\n"
		"t:\n  script: x\n  variables:\n    V: {value: 2.50}\n"
		"  parallel:\n    matrix:\n      - PY: [3.9, 3.10, \"3.11\"]\n"
		"        N: 1.20\n");
	struct job *t = pipeline_find_job(p, "t");
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		const char *got = varlist_get(&p->variables, want[i][0]);

		if (!got || strcmp(got, want[i][1]))
			fprintf(stderr, "%s: got %s, want %s\n", want[i][0],
				got ? got : "(none)", want[i][1]);
		assert_non_null(got);
		assert_string_equal(got, want[i][1]);
	}
	assert_string_equal(varlist_get(&t->variables, "V"), "2.5");
	assert_string_equal(t->parallel.matrix[0].dims[0].values.v[0], "3.9");
	assert_string_equal(t->parallel.matrix[0].dims[0].values.v[1], "3.1");
	assert_string_equal(t->parallel.matrix[0].dims[0].values.v[2], "3.11");
	assert_string_equal(t->parallel.matrix[0].dims[1].values.v[0], "1.2");
	pipeline_free(p);
}

static void test_variables_errors(void **state)
{
	char *e = load_err(
		"variables:\n  A: true\n  B: [x]\n"
		"  C: {value: a, options: [b]}\n  D: {value: x, bogus: 1}\n"
		"j: {script: x}\n");

	(void)state;
	assert_has(e, ".gitlab-ci.yml:2:6: error: variables: variable \"A\" must be");
	assert_has(e, ":3:6: error:");
	assert_has(e, "must be one of its \"options\"");
	assert_has(e, "unknown keyword \"bogus\" in variables");
	free(e);
}

/* --- YAML --------------------------------------------------------------- */

static void test_yaml_syntax_error(void **state)
{
	char *e = load_err("a: [1, 2\nb: c: d\n");

	(void)state;
	assert_has(e, ".gitlab-ci.yml:");
	assert_has(e, "YAML syntax error");
	free(e);
}

static void test_yaml_duplicate_and_more(void **state)
{
	char *e = load_err("j:\n  script: a\n  script: b\n  scirpt: c\n");

	(void)state;
	/* both reported: parsing goes on after a duplicate key */
	assert_has(e, ".gitlab-ci.yml:3:3: warning: duplicate key \"script\"");
	assert_has(e, ".gitlab-ci.yml:4:3: error: unknown keyword \"scirpt\" in job \"j\"");
	free(e);
}

/*
 * GitLab's parser takes the later of two equal keys without a word, and
 * real pipelines rely on it: a warning, and the later value.
 */
static void test_yaml_duplicate_is_warning(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct job *j;

	(void)state;
	write_file(".gitlab-ci.yml", "j:\n  before_script: []\n  script: a\n"
		   "  before_script: [b]\n");
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.nr, 1);
	assert_int_equal(d.e[0].level, DIAG_WARNING);
	assert_int_equal(d.e[0].pos.line, 4);
	j = pipeline_find_job(p, "j");
	assert_int_equal(j->before_script.nr, 1);
	assert_string_equal(j->before_script.v[0], "b");
	pipeline_free(p);
	diag_clear(&d);
}

static void test_yaml_merge_keys(void **state)
{
	struct pipeline *p = load_ok(
		".base: &base\n  stage: build\n  script: [base]\n  tags: [t1]\n"
		".more: &more\n  tags: [t2]\n  interruptible: true\n"
		"j:\n  <<: [*base, *more]\n  script: [own]\n");
	struct job *j = pipeline_find_job(p, "j");

	(void)state;
	assert_string_equal(j->stage, "build");
	assert_string_equal(j->script.v[0], "own");   /* explicit key wins */
	assert_string_equal(j->tags.v[0], "t1");      /* earlier merge wins */
	assert_int_equal(j->interruptible, 1);
	pipeline_free(p);
}

/*
 * GitLab reads merge keys as Ruby's Psych does, in the order written: a
 * merge replaces the keys the map has so far (explicit ones too), a
 * later << replaces an earlier one, keys after a merge replace it.
 */
static void test_yaml_merge_keys_in_order(void **state)
{
	struct pipeline *p = load_ok(
		".a: &a\n  stage: build\n  script: [a]\n"
		".b: &b\n  stage: deploy\n  script: [b]\n"
		"before:\n  stage: test\n  <<: *a\n"
		"two:\n  <<: *a\n  <<: *b\n"
		"after:\n  <<: *a\n  stage: test\n");

	(void)state;
	assert_string_equal(pipeline_find_job(p, "before")->stage, "build");
	assert_string_equal(pipeline_find_job(p, "two")->stage, "deploy");
	assert_string_equal(pipeline_find_job(p, "two")->script.v[0], "b");
	assert_string_equal(pipeline_find_job(p, "after")->stage, "test");
	assert_string_equal(pipeline_find_job(p, "after")->script.v[0], "a");
	pipeline_free(p);
}

static void test_yaml_billion_laughs(void **state)
{
	char *e = load_err(
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n");

	(void)state;
	assert_has(e, "document too large");
	free(e);
}

static void test_yaml_depth_limit(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char *e;
	int i;

	strbuf_addstr(&sb, "j: ");
	for (i = 0; i < 150; i++)
		strbuf_addch(&sb, '[');
	for (i = 0; i < 150; i++)
		strbuf_addch(&sb, ']');
	strbuf_addch(&sb, '\n');
	e = load_err(sb.buf);
	(void)state;
	assert_has(e, "nesting too deep (more than 100 levels)");
	free(e);
	strbuf_release(&sb);
}

static void test_yaml_invalid_utf8(void **state)
{
	char *e = load_err("j:\n  script: [ok, \"caf\xc3\xa9 \xff\"]\n");

	(void)state;
	assert_has(e, ".gitlab-ci.yml:2:22: error: the file is not valid UTF-8");
	free(e);
}

static void test_yaml_tree_api(void **state)
{
	struct ynode **docs = NULL, *c;
	struct diag d = DIAG_INIT;
	size_t nr = 0;
	const char *y = "a: {x: 1, y: [1, 2]}\nb: 'yes'\nc: yes\nd: ~\n";

	(void)state;
	assert_int_equal(yaml_parse("f", y, strlen(y), NULL, &docs, &nr, &d), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(yscalar_kind(ymap_get(docs[0], "b")), YS_STR);
	assert_int_equal(yscalar_kind(ymap_get(docs[0], "c")), YS_BOOL);
	assert_true(ynode_is_null(ymap_get(docs[0], "d")));
	c = ynode_dup(docs[0], NULL);
	assert_int_equal(ynode_count(c), ynode_count(docs[0]));
	ymap_del(c, "a");
	assert_null(ymap_get(c, "a"));
	ynode_free(c);
	yaml_docs_free(docs, nr);
	assert_int_equal(d.errors, 0);
	diag_clear(&d);
}

/*
 * Syntax errors: each reported with its position, and the failed parser
 * destroyed (after a forked child showed it safe), not kept.
 */
static void test_yaml_errors_keep_nothing(void **state)
{
	static const char *const bad[] = {
		"a: [1, 2\n", "a: {x: 1\n", "a: 'open\n", "a:\n  - b\n c: d\n",
		"- a\nb: c\n", "a: *nope\n", "\"a\nb: c\n", "a: b: c\n",
		"a: 'it''s'\nb: {x: 1\n",
		"{ 'lo\"l",
	};
	size_t before = yaml_kept_parsers(), i, round;

	(void)state;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct ynode **docs = NULL;
			struct diag d = DIAG_INIT;
			size_t nr = 0;

			assert_int_equal(yaml_parse("f", bad[i], strlen(bad[i]), NULL, &docs,
						    &nr, &d), -1);
			assert_true(d.errors > 0);
			diag_clear(&d);
		}
	}
	assert_int_equal(yaml_kept_parsers(), before);
}

/* --- keywords ----------------------------------------------------------- */

/* GitLab Pages: which jobs are Pages jobs, and their directory kept */
static void test_pages(void **state)
{
	struct pipeline *p = load_ok(
		"pages:\n  script: make\n"
		"docs:\n  script: make\n  pages:\n    publish: dist/\n"
		"    path_prefix: mr$CI_MERGE_REQUEST_IID\n    expire_in: 1 week\n"
		"site:\n  script: make\n  pages: true\n  publish: out\n"
		"both:\n  script: make\n  pages: {publish: a}\n  publish: b\n"
		"kept:\n  script: make\n  artifacts: {paths: [public, x]}\n  pages: true\n"
		"off:\n  extends: .t\n  pages: false\n"
		".t:\n  script: make\n"
		"notpages:\n  script: make\n  publish: c\n");
	struct job *j;
	char *e;

	(void)state;
	j = pipeline_find_job(p, "pages");
	assert_int_equal(j->pages, 1);
	assert_true(j->artifacts.set);
	assert_int_equal(j->artifacts.paths.nr, 1);
	assert_string_equal(j->artifacts.paths.v[0], "public");
	j = pipeline_find_job(p, "docs");
	assert_int_equal(j->pages, 1);
	assert_string_equal(j->pages_publish, "dist/");
	assert_string_equal(j->artifacts.paths.v[0], "dist");
	assert_string_equal(j->pages_path_prefix, "mr$CI_MERGE_REQUEST_IID");
	assert_string_equal(j->pages_expire_in, "1 week");
	j = pipeline_find_job(p, "site");
	assert_string_equal(j->artifacts.paths.v[0], "out");
	/* pages:publish wins over the older publish:, in either order */
	j = pipeline_find_job(p, "both");
	assert_string_equal(j->pages_publish, "a");
	assert_int_equal(j->artifacts.paths.nr, 1);
	assert_string_equal(j->artifacts.paths.v[0], "a");
	j = pipeline_find_job(p, "kept");
	assert_int_equal(j->artifacts.paths.nr, 2);
	j = pipeline_find_job(p, "off");
	assert_int_equal(j->pages, 0);
	assert_false(j->artifacts.set);
	j = pipeline_find_job(p, "notpages");
	assert_int_equal(j->pages, 0);
	assert_false(j->artifacts.set);
	pipeline_free(p);

	e = load_err("a:\n  script: x\n  pages: 3\n"
		     "b:\n  script: x\n  pages: {publish: /srv}\n"
		     "c:\n  script: x\n  pages: {bogus: 1}\n"
		     "d:\n  script: x\n  pages: {expire_in: soon}\n"
		     "pages:\n  script: x\n  publish: ../up\n");
	assert_has(e, "job \"a\": \"pages\" must be true, false or a map");
	assert_has(e, "the Pages directory \"/srv\" must be a relative path");
	assert_has(e, "unknown keyword \"bogus\" in pages");
	assert_has(e, "\"pages:expire_in\" must be a duration");
	assert_has(e, "the Pages directory \"../up\" must be a relative path");
	free(e);
}

static void test_full_job(void **state)
{
	struct pipeline *p = load_ok(
		"stages: [build, test, deploy]\n"
		"build:\n  stage: build\n  script: make\n"
		"  artifacts:\n    paths: [out/]\n    exclude: [out/*.o]\n"
		"    expire_in: 1 week\n    when: always\n    name: bin\n"
		"    reports:\n      junit: [a.xml, b.xml]\n      dotenv: build.env\n"
		"      codequality: cq.json\n"
		"  cache:\n    - key: {files: [Gemfile.lock], prefix: gems}\n      paths: [vendor/]\n"
		"      policy: pull\n    - key: npm\n      paths: [node_modules/]\n"
		"      policy: $POLICY\n      when: on_failure\n      fallback_keys: [main]\n"
		"  retry: {max: 2, when: [script_failure], exit_codes: [137]}\n"
		"  timeout: 1h 30m\n"
		"  allow_failure: {exit_codes: [42, 43]}\n"
		"  coverage: '/Total: \\d+%/'\n"
		"  tags: [linux]\n  image: {name: 'debian:12', pull_policy: if-not-present}\n"
		"  resource_group: prod\n  interruptible: false\n"
		"test:\n  script: t\n  needs: [build, {job: build, artifacts: false, optional: true}]\n"
		"  dependencies: [build]\n  parallel: 3\n  when: delayed\n  start_in: 30 minutes\n"
		"deploy:\n  stage: deploy\n  script: d\n"
		"  environment:\n    name: production\n    url: https://x\n    action: start\n"
		"    on_stop: stop\n    deployment_tier: production\n    auto_stop_in: 1 day\n"
		"  parallel:\n    matrix:\n      - OS: [linux, mac]\n        ARCH: [amd64, arm64]\n"
		"      - OS: win\n"
		"stop:\n  stage: deploy\n  script: s\n  when: manual\n"
		"  environment: {name: production, action: stop}\n");
	struct job *b = pipeline_find_job(p, "build");
	struct job *t = pipeline_find_job(p, "test");
	struct job *d = pipeline_find_job(p, "deploy");

	(void)state;
	assert_int_equal(b->artifacts.set, 1);
	assert_string_equal(b->artifacts.paths.v[0], "out/");
	assert_int_equal(b->artifacts.when, ON_ALWAYS);
	assert_int_equal(b->artifacts.reports_junit.nr, 2);
	assert_string_equal(b->artifacts.reports_dotenv.v[0], "build.env");
	assert_string_equal(b->artifacts.reports_other.v[0], "codequality:cq.json");
	assert_int_equal(b->caches_nr, 2);
	assert_string_equal(b->caches[0].key_files.v[0], "Gemfile.lock");
	assert_string_equal(b->caches[0].key_prefix, "gems");
	assert_int_equal(b->caches[0].policy, CACHE_PULL);
	assert_string_equal(b->caches[1].key, "npm");
	assert_string_equal(b->caches[1].policy_expr, "$POLICY");
	assert_int_equal(b->caches[1].when, ON_FAILURE);
	assert_int_equal(b->retry.max, 2);
	assert_string_equal(b->retry.when.v[0], "script_failure");
	assert_int_equal(b->retry.exit_codes.v[0], 137);
	assert_int_equal(b->timeout, 5400);
	assert_int_equal(b->allow_failure_exit_codes.nr, 2);
	assert_string_equal(b->coverage, "Total: \\d+%");
	assert_string_equal(b->image, "debian:12");
	assert_string_equal(b->resource_group, "prod");
	assert_int_equal(b->interruptible, 0);
	assert_int_equal(t->has_needs, 1);
	assert_int_equal(t->needs_nr, 2);
	assert_int_equal(t->needs[0].artifacts, 1);
	assert_int_equal(t->needs[1].artifacts, 0);
	assert_int_equal(t->needs[1].optional, 1);
	assert_int_equal(t->parallel.count, 3);
	assert_int_equal(t->when, WHEN_DELAYED);
	assert_string_equal(t->start_in, "30 minutes");
	assert_string_equal(d->environment.name, "production");
	assert_string_equal(d->environment.deployment_tier, "production");
	assert_int_equal(d->parallel.matrix_nr, 2);
	assert_int_equal(d->parallel.matrix[0].nr, 2);
	assert_string_equal(d->parallel.matrix[0].dims[1].values.v[1], "arm64");
	assert_string_equal(d->parallel.matrix[1].dims[0].values.v[0], "win");
	pipeline_free(p);
}

static void test_timeouts(void **state)
{
	static const struct { const char *in; int secs; } cases[] = {
		{ "3600", 3600 }, { "2h", 7200 }, { "90 minutes", 5400 },
		{ "1h 30m", 5400 }, { "10m 20s", 620 }, { "1 hour and 5 minutes", 3900 },
		{ "1d", 86400 }, { "1:30:00", 5400 }, { "1:30", 90 }, { "2:01:00:05", 176405 },
	};
	static const char *const bad[] = { "1:", ":30", "1:2:3:4:5", "1:x", "1h:30" };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(pipeline_parse_duration(bad[i]), -1);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf y = STRBUF_INIT;
		struct pipeline *p;

		strbuf_addf(&y, "j: {script: x, timeout: '%s'}\n", cases[i].in);
		p = load_ok(y.buf);
		assert_int_equal(p->jobs[0]->timeout, cases[i].secs);
		pipeline_free(p);
		strbuf_release(&y);
	}
}

static void test_rules(void **state)
{
	struct pipeline *p = load_ok(
		"workflow:\n  name: 'pipe $CI_COMMIT_REF_NAME'\n  rules:\n"
		"    - if: $CI_COMMIT_TAG\n      when: never\n    - when: always\n"
		".r: {rules: [{if: '$A == \"1\"', when: manual, allow_failure: true}]}\n"
		"j:\n  script: x\n  rules:\n    - !reference [.r, rules]\n"
		"    - changes: [src/**/*.c]\n      exists: [Makefile]\n"
		"      variables: {V: 1}\n      needs: []\n"
		"    - changes: {paths: [a], compare_to: main}\n"
		"    - when: delayed\n      start_in: 5m\n"
		"k:\n  script: x\n  only: {refs: [main, /^rel-/], variables: [$X == \"y\"], changes: [a]}\n"
		"  except: [tags]\n");
	struct job *j = pipeline_find_job(p, "j");
	struct job *k = pipeline_find_job(p, "k");

	(void)state;
	assert_int_equal(p->has_workflow_rules, 1);
	assert_int_equal(p->workflow_rules.nr, 2);
	assert_int_equal(p->workflow_rules.v[0].when, WHEN_NEVER);
	assert_string_equal(p->workflow_name, "pipe $CI_COMMIT_REF_NAME");
	assert_int_equal(j->rules.nr, 4);
	assert_string_equal(j->rules.v[0].if_expr, "$A == \"1\"");
	assert_int_equal(j->rules.v[0].when, WHEN_MANUAL);
	assert_int_equal(j->rules.v[0].allow_failure, 1);
	assert_int_equal(j->rules.v[1].has_changes, 1);
	assert_int_equal(j->rules.v[1].has_exists, 1);
	assert_int_equal(j->rules.v[1].has_needs, 1);
	assert_int_equal(j->rules.v[1].needs_nr, 0);
	assert_string_equal(varlist_get(&j->rules.v[1].variables, "V"), "1");
	assert_string_equal(j->rules.v[2].changes_compare_to, "main");
	assert_string_equal(j->rules.v[3].start_in, "5m");
	assert_int_equal(k->only.set, 1);
	assert_int_equal(k->only.refs.nr, 2);
	assert_string_equal(k->only.variables.v[0], "$X == \"y\"");
	assert_string_equal(k->except.refs.v[0], "tags");
	pipeline_free(p);
}

static void test_rules_errors(void **state)
{
	char *e = load_err(
		"workflow:\n  rules:\n    - when: manual\n"
		"j:\n  script: x\n  rules:\n    - if: '$A =='\n    - iff: x\n"
		"    - when: delayed\n  only: [main]\n");

	(void)state;
	assert_has(e, ":3:13: error: workflow: rules:when must be one of always, never");
	assert_has(e, ":7:11: error: job \"j\": invalid expression in rules:if");
	assert_has(e, ":8:7: error: unknown keyword \"iff\" in rules");
	assert_has(e, "needs \"start_in\"");
	assert_has(e, "\"rules\" cannot be used together with \"only\"");
	free(e);
}

/* --- errors, each reported with its position ---------------------------- */

static void test_many_errors(void **state)
{
	char *e = load_err(
		"stages: [build, test]\n"
		"build:\n  stage: build\n  script: 1\n  retry: 3\n  timeout: forever\n"
		"  tags: linux\n  when: sometimes\n  parallel: 201\n"
		"t:\n  stage: nope\n"
		"u:\n  script: [x, {a: b}]\n  interruptible: maybe\n"
		"  artifacts: {paths: [x], reports: {bogus: x}}\n"
		"  cache: [{key: a/b}, {policy: sometimes}]\n"
		"  environment: {url: x, action: deploy}\n");

	(void)state;
	assert_has(e, ":5:10: error: job \"build\": \"retry\" must be between 0 and 2");
	assert_has(e, ":6:12: error: job \"build\": \"timeout\" must be a duration");
	assert_has(e, ":7:9: error: job \"build\": \"tags\" must be a list of strings");
	assert_has(e, ":8:9: error: job \"build\": \"when\" must be one of");
	assert_has(e, ":9:13: error: job \"build\": \"parallel\" must be between 1 and 200");
	assert_has(e, ":10:1: error: job \"t\" has no \"script\"");
	assert_has(e, ":11:10: error: job \"t\": stage \"nope\" is not defined in stages");
	assert_has(e, ":13:15: error: job \"u\": \"script\" must be a string or a list");
	assert_has(e, ":14:18: error: job \"u\": \"interruptible\" must be a boolean");
	assert_has(e, "unknown keyword \"bogus\" in artifacts:reports");
	assert_has(e, "\"cache:key\" must not contain \"/\"");
	assert_has(e, "\"cache:policy\" must be pull, push");
	assert_has(e, "\"environment\" needs \"name\"");
	assert_has(e, "\"environment:action\" must be start");
	assert_true(count_lines(e) >= 14);
	free(e);
}

static void test_unsupported(void **state)
{
	char *e = load_err(
		"j:\n  script: x\n  services: [postgres]\n  secrets: {}\n  release: {}\n"
		"  id_tokens: {}\n  hooks: {}\n  identity: google_cloud\n  pages: true\n"
		"t:\n  trigger: other/project\n"
		"r:\n  run: []\n"
		"default:\n  services: [redis]\n"
		"include:\n  - project: a/b\n    file: x.yml\n  - template: Auto-DevOps.gitlab-ci.yml\n"
		"  - component: x\n");

	(void)state;
	assert_false(strstr(e, "\"services\""));    /* supported now */
	assert_has(e, "keyword \"secrets\" is not supported");
	assert_has(e, "\"release\" needs \"tag_name\"");    /* supported now */
	assert_has(e, "keyword \"id_tokens\" is not supported");
	assert_has(e, "keyword \"hooks\" is not supported");
	assert_has(e, "keyword \"identity\" is not supported");
	assert_false(strstr(e, "\"pages\""));    /* supported now */
	assert_has(e, "keyword \"trigger\" is not supported");
	assert_has(e, "keyword \"run\" is not supported");
	assert_has(e, ":17:14: error: include:project needs the cidre server, which reads "
		   "project a/b from its mirror");
	assert_has(e, "keyword \"include:template\" is not supported");
	assert_has(e, "keyword \"include:component\" is not supported");
	/* trigger/run jobs are not also blamed for missing script */
	assert_true(strstr(e, "job \"t\" has no") == NULL);
	assert_true(strstr(e, "job \"r\" has no") == NULL);
	free(e);
}

/* spec:inputs: declared in a header document, valued by include:inputs or defaults */
static void test_spec_inputs(void **state)
{
	struct pipeline *p;
	const struct job *j;
	char *e;

	(void)state;
	e = load_err("spec:\n  inputs:\n    a: {}\n---\nj: {script: x}\n");
	assert_has(e, ":3:5: error: input a is required: .gitlab-ci.yml gives it no default");
	free(e);

	write_file("ci/job.yml",
		   "spec:\n  inputs:\n    stage: {options: [build, test]}\n"
		   "    n: {type: number, default: 2}\n"
		   "    flags: {type: array, default: [-v]}\n"
		   "    env: {default: staging-area, regex: '^[a-z-]+$'}\n---\n"
		   "unit-$[[ inputs.stage ]]:\n  stage: $[[ inputs.stage ]]\n"
		   "  parallel: $[[ inputs.n ]]\n  script: $[[ inputs.flags ]]\n"
		   "  variables: {E: '$[[ inputs.env | truncate(0,7) ]]', "
		   "Q: '$[[ inputs.env | posix_escape ]]'}\n");
	p = load_ok("include:\n  - local: ci/job.yml\n    inputs: {stage: test}\n");
	j = pipeline_find_job(p, "unit-test");
	assert_non_null(j);
	assert_string_equal(j->stage, "test");
	assert_int_equal(j->parallel.count, 2);
	assert_int_equal(j->script.nr, 1);
	assert_string_equal(j->script.v[0], "-v");
	assert_string_equal(varlist_get(&j->variables, "E"), "staging");
	assert_string_equal(varlist_get(&j->variables, "Q"), "staging-area");
	pipeline_free(p);

	e = load_err("include:\n  - local: ci/job.yml\n    inputs: {stage: deploy, n: x, zz: 1}\n"
		     "  - local: ci/job.yml\n    inputs: {stage: build, env: Upper}\n");
	assert_has(e, "input stage: \"deploy\" is not one of its options");
	assert_has(e, "input n must be a number");
	assert_has(e, "ci/job.yml declares no input zz");
	assert_has(e, "input env: \"Upper\" does not match its regex");
	free(e);

	write_file("ci/plain.yml", "p: {script: x}\n");
	write_file("ci/bad.yml", "spec:\n  inputs:\n    a: {default: 1}\n---\n"
		   "k: {script: 'echo $[[ inputs.b ]]'}\n");
	e = load_err("include:\n  - local: ci/plain.yml\n    inputs: {x: 1}\n  - ci/bad.yml\n");
	assert_has(e, "inputs given, but ci/plain.yml has no spec:inputs header");
	assert_has(e, "unknown input \"b\"");
	free(e);
}

static void test_needs_errors(void **state)
{
	char *e = load_err(
		"a: {stage: build, script: x, needs: [b]}\n"
		"b: {stage: test, script: x, needs: [missing, {job: gone, optional: true}]}\n"
		"c: {script: x, needs: [d]}\n"
		"d: {script: x, needs: [c]}\n"
		"e: {script: x, needs: [e]}\n"
		"f: {stage: build, script: x, dependencies: [a, b]}\n"
		"g: {script: x, needs: [a], dependencies: [a, nope, b]}\n");

	(void)state;
	assert_has(e, ":1:38: error: job \"a\" needs job \"b\", which is in a later stage (\"test\")");
	assert_has(e, ":2:37: error: job \"b\" needs job \"missing\", which does not exist");
	assert_true(strstr(e, "gone") == NULL);
	assert_has(e, "needs cycle: c -> d -> c");
	assert_has(e, "job \"e\" needs itself");
	/* each entry's own place */
	assert_has(e, ":6:48: error: job \"f\": dependency \"b\" is not in the current or an "
		   "earlier stage");
	assert_has(e, ":7:46: error: job \"g\": dependency \"nope\" is not a job");
	assert_has(e, ":7:52: error: job \"g\": dependency \"b\" must also be listed in needs");
	free(e);
}

/* --- extends, !reference, default --------------------------------------- */

static void test_extends(void **state)
{
	struct pipeline *p = load_ok(
		".a:\n  script: [a]\n  variables: {X: a, Y: a}\n  tags: [ta]\n"
		"  artifacts: {paths: [pa], name: an}\n"
		".b:\n  extends: .a\n  variables: {Y: b, Z: b}\n  tags: [tb]\n"
		".c:\n  before_script: [c]\n  tags: [tc]\n"
		"j:\n  extends: [.b, .c]\n  variables: {Z: j}\n  artifacts: {paths: [pj]}\n");
	struct job *j = pipeline_find_job(p, "j");

	(void)state;
	assert_string_equal(j->script.v[0], "a");
	assert_string_equal(varlist_get(&j->variables, "X"), "a");
	assert_string_equal(varlist_get(&j->variables, "Y"), "b");
	assert_string_equal(varlist_get(&j->variables, "Z"), "j");
	assert_int_equal(j->tags.nr, 1);              /* arrays replaced */
	assert_string_equal(j->tags.v[0], "tc");      /* later extends wins */
	assert_string_equal(j->before_script.v[0], "c");
	assert_string_equal(j->artifacts.paths.v[0], "pj");
	assert_string_equal(j->artifacts.name, "an"); /* hashes deep-merged */
	pipeline_free(p);
}

static void test_extends_errors(void **state)
{
	char *e = load_err(
		"a: {script: x, extends: .nope}\n"
		"b: {script: x, extends: c}\n"
		"c: {script: x, extends: b}\n"
		"d: {script: x, extends: [1]}\n");

	(void)state;
	assert_has(e, ":1:25: error: job \"a\" extends unknown job \".nope\"");
	assert_has(e, "circular dependency in extends (b -> c -> b)");
	assert_has(e, "job \"d\": \"extends\" must be a string or a list of strings");
	free(e);
}

static void test_extends_depth(void **state)
{
	struct strbuf y = STRBUF_INIT;
	struct pipeline *p;
	char *e;
	int i;

	(void)state;
	/* 11 levels are fine */
	strbuf_addstr(&y, ".l0: {script: x}\n");
	for (i = 1; i <= 11; i++)
		strbuf_addf(&y, ".l%d: {extends: .l%d}\n", i, i - 1);
	strbuf_addstr(&y, "j: {extends: .l10}\n");
	p = load_ok(y.buf);
	pipeline_free(p);
	/* 12 are not */
	strbuf_addstr(&y, "k: {extends: .l11}\n");
	e = load_err(y.buf);
	assert_has(e, "extends nested too deep (more than 11 levels)");
	free(e);
	strbuf_release(&y);
}

static void test_reference(void **state)
{
	struct pipeline *p = load_ok(
		".vars: {variables: {A: 1}}\n"
		".setup:\n  script: [s1, s2]\n  deep: {inner: [d1]}\n"
		".chain:\n  script: [!reference [.setup, script], c]\n"
		"j:\n  variables: !reference [.vars, variables]\n"
		"  script:\n    - !reference [.chain, script]\n    - !reference [.setup, deep, inner]\n");
	struct job *j = pipeline_find_job(p, "j");

	(void)state;
	assert_string_equal(varlist_get(&j->variables, "A"), "1");
	assert_int_equal(j->script.nr, 4);
	assert_string_equal(j->script.v[0], "s1");
	assert_string_equal(j->script.v[2], "c");
	assert_string_equal(j->script.v[3], "d1");
	pipeline_free(p);
}

static void test_reference_errors(void **state)
{
	char *e = load_err(
		".a: {script: [x]}\n"
		"j:\n  script:\n    - !reference [.nope, script]\n    - !reference [.a, nokey]\n"
		"    - !reference .a\n"
		".l1: {x: !reference [.l2, x]}\n.l2: {x: !reference [.l1, x]}\n"
		"k: {script: !reference [.l1, x]}\n"
		"m: {script: !custom x}\n");

	(void)state;
	assert_has(e, ":4:19: error: !reference: job \".nope\" not found");
	assert_has(e, ":5:23: error: !reference: key \".a:nokey\" not found");
	assert_has(e, "!reference needs a list like [job, key]");
	assert_has(e, "!reference nested too deep");
	assert_has(e, "unknown YAML tag \"!custom\"");
	free(e);
}

static void test_default_inherit(void **state)
{
	struct pipeline *p = load_ok(
		"image: old:1\n"
		"default:\n  image: debian:12\n  before_script: [setup]\n  retry: 2\n"
		"  tags: [shared]\n  timeout: 10m\n  interruptible: true\n"
		"  cache: {key: k, paths: [c/]}\n  artifacts: {paths: [x]}\n"
		"  after_script: [cleanup]\n"
		"a: {script: x}\n"
		"b: {script: x, tags: [own], inherit: {default: false}}\n"
		"c: {script: x, inherit: {default: [image, retry]}}\n");
	struct job *a = pipeline_find_job(p, "a");
	struct job *b = pipeline_find_job(p, "b");
	struct job *c = pipeline_find_job(p, "c");

	(void)state;
	assert_string_equal(a->image, "debian:12"); /* default: beats top-level */
	assert_string_equal(a->before_script.v[0], "setup");
	assert_string_equal(a->after_script.v[0], "cleanup");
	assert_int_equal(a->retry.max, 2);
	assert_string_equal(a->tags.v[0], "shared");
	assert_int_equal(a->timeout, 600);
	assert_int_equal(a->interruptible, 1);
	assert_int_equal(a->caches_nr, 1);
	assert_int_equal(a->artifacts.set, 1);
	assert_null(b->image);
	assert_int_equal(b->before_script.nr, 0);
	assert_string_equal(b->tags.v[0], "own");
	assert_string_equal(c->image, "debian:12");
	assert_int_equal(c->retry.max, 2);
	assert_int_equal(c->before_script.nr, 0);
	assert_int_equal(c->tags.nr, 0);
	pipeline_free(p);
}

/*
 * A keyword with no value is as if it were not written (GitLab's entry
 * factory): the default applies, and a template's value is cleared.
 */
static void test_null_keywords_unset(void **state)
{
	struct pipeline *p = load_ok(
		"stages:\nvariables:\nworkflow:\n"
		"default:\n  before_script: [setup]\n  tags:\n"
		".t:\n  dependencies: [a]\n  tags: [big]\n"
		"a:\n  script: x\n  dependencies:\n  variables:\n  when:\n"
		"  allow_failure:\n  before_script:\n  cache:\n  artifacts:\n"
		"  needs:\n  rules:\n  only:\n  except:\n  environment:\n"
		"  retry:\n  timeout:\n  interruptible:\n  coverage:\n"
		"  parallel:\n  stage:\n  image:\n  services:\n  extends:\n"
		"b:\n  extends: .t\n  script: x\n  tags:\n  dependencies:\n");
	struct job *a = pipeline_find_job(p, "a");
	struct job *b = pipeline_find_job(p, "b");

	(void)state;
	assert_int_equal(p->stages.nr, 5);
	assert_string_equal(a->stage, "test");
	assert_int_equal(a->has_dependencies, 0);
	assert_int_equal(a->has_needs, 0);
	assert_int_equal(a->has_rules, 0);
	assert_int_equal(a->allow_failure, -1);
	assert_int_equal(a->before_script.nr, 1);
	assert_string_equal(a->before_script.v[0], "setup");
	assert_int_equal(b->has_dependencies, 0);
	assert_int_equal(b->tags.nr, 0);
	pipeline_free(p);
}

/*
 * An out-of-scope keyword that asks for nothing (`services: []`, which
 * clears the default's services) is accepted; with a value it is not.
 */
static void test_unsupported_none(void **state)
{
	struct pipeline *p = load_ok(
		"services: []\ndefault:\n  services:\n"
		"a:\n  script: x\n  services: []\n  secrets:\n  release:\n");
	char *e;

	(void)state;
	assert_non_null(pipeline_find_job(p, "a"));
	pipeline_free(p);
	e = load_err("a:\n  script: x\n  hooks: {pre_get_sources_script: x}\n");
	assert_has(e, ":3:3: error: keyword \"hooks\" is not supported by cidre");
	free(e);
}

/* A file whose jobs all come from a refused include gets one error. */
static void test_no_jobs_after_refused_include(void **state)
{
	char *e = load_err("include:\n  - template: Auto-DevOps.gitlab-ci.yml\n"
			   "variables:\n  A: b\n");

	(void)state;
	assert_has(e, "keyword \"include:template\" is not supported");
	assert_null(strstr(e, "no visible jobs"));
	free(e);
	e = load_err("variables:\n  A: b\n");
	assert_has(e, "the pipeline has no visible jobs");
	free(e);
}

/* An error inside an anchor is reported once, not once per job using it. */
static void test_anchor_error_once(void **state)
{
	char *e = load_err(".db: &db\n  hooks: {pre_get_sources_script: x}\n"
			   "a:\n  <<: *db\n  script: x\nb:\n  <<: *db\n  script: x\n");
	const char *first;

	(void)state;
	first = strstr(e, ":2:3: error: keyword \"hooks\"");
	assert_non_null(first);
	assert_null(strstr(first + 1, ":2:3: error: keyword \"hooks\""));
	free(e);
}

/* Report types GitLab accepts, those older pipelines use included. */
static void test_report_types(void **state)
{
	struct pipeline *p = load_ok(
		"j:\n  script: x\n  artifacts:\n    reports:\n"
		"      lsif: dump.lsif\n      cluster_image_scanning: c.json\n"
		"      requirements_v2: r.json\n      annotations: a.json\n");

	(void)state;
	assert_int_equal(pipeline_find_job(p, "j")->artifacts.reports_other.nr, 4);
	pipeline_free(p);
}

/* image:entrypoint: [""] or [] is none; a list runs the job's shell. */
static void test_image_entrypoint(void **state)
{
	struct pipeline *p = load_ok(
		"a:\n  image: {name: base, entrypoint: [\"\"]}\n  script: x\n"
		"b:\n  image: {name: base, entrypoint: []}\n  script: x\n"
		"c:\n  image: {name: base, entrypoint: [/bin/sh, -c]}\n  script: x\n"
		"d:\n  image: base\n  script: x\n");
	const struct job *j;
	char *e;

	(void)state;
	j = pipeline_find_job(p, "a");
	assert_string_equal(j->image, "base");
	assert_int_equal(j->image_entrypoint_set, 1);
	assert_int_equal(j->image_entrypoint.nr, 0);
	j = pipeline_find_job(p, "b");
	assert_int_equal(j->image_entrypoint_set, 1);
	assert_int_equal(j->image_entrypoint.nr, 0);
	j = pipeline_find_job(p, "c");
	assert_int_equal(j->image_entrypoint.nr, 2);
	assert_string_equal(j->image_entrypoint.v[0], "/bin/sh");
	assert_string_equal(j->image_entrypoint.v[1], "-c");
	assert_int_equal(pipeline_find_job(p, "d")->image_entrypoint_set, 0);
	pipeline_free(p);
	e = load_err("c:\n  image: {name: base, entrypoint: /bin/sh}\n  script: x\n");
	assert_has(e, "\"image:entrypoint\" must be a list of strings");
	free(e);
	e = load_err("c:\n  image: {name: base, entrypoint: [\"\", x]}\n  script: x\n");
	assert_has(e, "\"image:entrypoint\" starts with an empty word");
	free(e);
	e = load_err("c:\n  image: {name: base, docker: {user: x}}\n  script: x\n");
	assert_has(e, "keyword \"image:docker\" is not supported by cidre");
	free(e);
}

/* Empty YAML documents do not count, as in GitLab: a file may end in ---. */
static void test_empty_documents(void **state)
{
	struct pipeline *p = load_ok("---\n---\nb:\n  script: x\n---\n");
	char *e;

	(void)state;
	assert_non_null(pipeline_find_job(p, "b"));
	pipeline_free(p);
	e = load_err("a:\n  script: x\n---\nb:\n  script: x\n");
	assert_has(e, ":4:1: error: a pipeline file must hold one YAML document");
	free(e);
}

/* An empty value is reported where its key is, not without a line. */
static void test_null_value_position(void **state)
{
	char *e = load_err("a:\n  script: x\n  retry: {max: 1}\n  tags:\n    -\n"
			   "  artifacts:\n    paths:\n");

	(void)state;
	assert_has(e, ":5:5: error: job \"a\": \"tags\" must be a list of strings");
	assert_has(e, ":7:5: error:");
	free(e);
}

static void test_default_errors_once(void **state)
{
	char *e = load_err(
		"default:\n  retry: 9\n  script: x\n"
		"a: {script: x}\nb: {script: x}\n"
		"c: {script: x, inherit: {default: [nope]}}\n");
	const char *first;

	(void)state;
	assert_has(e, ":2:10: error: default: \"retry\" must be between 0 and 2");
	first = strstr(e, "\"retry\" must be");
	assert_null(strstr(first + 1, "\"retry\" must be")); /* not once per job */
	assert_has(e, ":3:3: error: unknown keyword \"script\" in default");
	assert_has(e, "names unknown default keyword \"nope\"");
	free(e);
}

/* --- include ------------------------------------------------------------ */

/*
 * Include locations expand variables as GitLab's do: predefined and
 * project ones; an unknown one is empty. cidre lint (vars_partial)
 * does not know them and skips such an include with a warning.
 */
static void test_include_variables(void **state)
{
	struct varlist vars = VARLIST_INIT;
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	size_t i;
	int warned = 0;

	(void)state;
	write_file("ci/app.yml", "app: {script: [a]}\n");
	write_file("ci/feature.yml", "feat: {script: [f]}\n");
	write_file(".gitlab-ci.yml",
		   "include:\n  - local: ci/$CI_PROJECT_NAME.yml\n"
		   "  - ci/${CI_COMMIT_REF_NAME}.yml\n"
		   "j: {script: [x]}\n");
	varlist_set(&vars, "CI_PROJECT_NAME", "app");
	varlist_set(&vars, "CI_COMMIT_REF_NAME", "feature");
	o.vars = &vars;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "app"));
	assert_non_null(pipeline_find_job(p, "feat"));
	pipeline_free(p);
	p = NULL;
	diag_clear(&d);

	/* lint: nothing known, nothing followed, a warning each */
	varlist_clear(&vars);
	o.vars_partial = 1;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_null(pipeline_find_job(p, "app"));
	for (i = 0; i < d.nr; i++)
		warned += d.e[i].level == DIAG_WARNING &&
			  strstr(d.e[i].msg, "not checked") != NULL;
	assert_int_equal(warned, 2);
	pipeline_free(p);
	diag_clear(&d);
}

static void test_include(void **state)
{
	struct pipeline *p;
	static struct varlist vars = VARLIST_INIT;
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;

	(void)state;
	write_file("ci/base.yml",
		   "variables: {A: base, B: base}\n"
		   "include: ci/nested.yml\n"
		   ".tmpl: {script: [tmpl], tags: [base]}\n"
		   "build: {script: [base], variables: {V: base, W: base}}\n");
	write_file("ci/nested.yml", "nested: {script: [n]}\n");
	write_file("ci/extra/one.yml", "one: {script: [1]}\n");
	write_file("ci/extra/two.yaml", "two: {script: [2]}\n");
	write_file("ci/cond.yml", "cond: {script: [c]}\n");
	write_file("ci/never.yml", "never: {script: [c]}\n");
	write_file(".gitlab-ci.yml",
		   "include:\n  - local: /ci/base.yml\n  - ci/extra/*.y*ml\n"
		   "  - local: ci/cond.yml\n    rules:\n      - if: $MODE == \"on\"\n"
		   "  - local: ci/never.yml\n    rules:\n      - exists: [nothing-here]\n"
		   "variables: {B: main}\n"
		   "build:\n  variables: {W: main}\n  extends: .tmpl\n");
	varlist_set(&vars, "MODE", "on");
	o.vars = &vars;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "nested"));
	assert_non_null(pipeline_find_job(p, "one"));
	assert_non_null(pipeline_find_job(p, "two"));
	assert_non_null(pipeline_find_job(p, "cond"));
	assert_null(pipeline_find_job(p, "never"));
	assert_string_equal(varlist_get(&p->variables, "A"), "base");
	assert_string_equal(varlist_get(&p->variables, "B"), "main");
	assert_string_equal(varlist_get(&pipeline_find_job(p, "build")->variables, "V"), "base");
	assert_string_equal(varlist_get(&pipeline_find_job(p, "build")->variables, "W"), "main");
	/* the included job's definition got deep-merged, then extended */
	assert_string_equal(pipeline_find_job(p, "build")->script.v[0], "base");
	assert_string_equal(pipeline_find_job(p, "build")->tags.v[0], "base");
	assert_string_equal(pipeline_find_job(p, "nested")->pos.file, "ci/nested.yml");
	assert_true(strvec_find(&p->files, "ci/base.yml") >= 0);
	pipeline_free(p);
	diag_clear(&d);
	varlist_clear(&vars);
}

static const struct strvec *changed_of(void *ud)
{
	return ud;
}

/* include:rules:changes:compare_to: only "release" is a ref, src/x.c changed since */
static int since_of(void *ud, const char *ref, struct strvec *out, struct strbuf *err)
{
	(void)ud;
	if (strcmp(ref, "release")) {
		strbuf_addstr(err, "no such commit");
		return -1;
	}
	strvec_push(out, "src/x.c");
	return 0;
}

static void test_include_rules_changes(void **state)
{
	static const char *yml =
		"include:\n"
		"  - local: ci/docs.yml\n    rules:\n      - changes: [\"docs/**/*\"]\n"
		"  - local: ci/app.yml\n    rules:\n"
		"      - changes:\n          paths: [\"$APP_DIR/*.c\"]\n          compare_to: main\n"
		"  - local: ci/gated.yml\n    rules:\n"
		"      - if: $GATE == \"open\"\n        changes: [\"docs/*\"]\n"
		"j: {script: x}\n";
	static struct varlist vars = VARLIST_INIT;
	struct strvec changed = STRVEC_INIT;
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p;
	char *e;

	(void)state;
	write_file("ci/docs.yml", "docs: {script: [d]}\n");
	write_file("ci/app.yml", "app: {script: [a]}\n");
	write_file("ci/gated.yml", "gated: {script: [g]}\n");
	write_file(".gitlab-ci.yml", yml);
	varlist_set(&vars, "APP_DIR", "src");
	o.vars = &vars;

	/* the changed files not known: every changes rule holds */
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "docs"));
	assert_non_null(pipeline_find_job(p, "app"));
	assert_null(pipeline_find_job(p, "gated"));	/* its if fails */
	pipeline_free(p);

	/* known: only the files whose globs match a changed path */
	strvec_push(&changed, "docs/guide/intro.md");
	strvec_push(&changed, "README.md");
	o.changed = changed_of;
	o.changed_ud = &changed;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "docs"));
	assert_null(pipeline_find_job(p, "app"));
	pipeline_free(p);

	strvec_clear(&changed);
	strvec_push(&changed, "src/main.c");
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_null(pipeline_find_job(p, "docs"));
	assert_non_null(pipeline_find_job(p, "app"));	/* $APP_DIR expanded */
	pipeline_free(p);
	diag_clear(&d);

	/* compare_to: the files since the ref, not the push's */
	write_file(".gitlab-ci.yml",
		   "include:\n  - local: ci/app.yml\n    rules:\n"
		   "      - changes:\n          paths: [\"src/*\"]\n          compare_to: $BASE\n"
		   "j: {script: x}\n");
	varlist_set(&vars, "BASE", "release");
	o.changed_since = since_of;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "app"));	/* src/x.c since release */
	pipeline_free(p);
	varlist_set(&vars, "BASE", "nowhere");
	assert_int_equal(pipeline_load(&o, &p, &d), -1);
	assert_true(d.nr > 0);
	assert_non_null(strstr(d.e[0].msg,
			       "include:rules:changes:compare_to is not a valid ref: nowhere: "
			       "no such commit"));
	diag_clear(&d);
	o.changed_since = NULL;

	e = load_err("include:\n  - local: ci/docs.yml\n    rules:\n      - changes: docs\n"
		     "  - local: ci/app.yml\n    rules:\n      - changes: {path: [x]}\n"
		     "j: {script: x}\n");
	assert_has(e, ":4:18: error: include:rules:changes must be a list of file patterns");
	assert_has(e, "unknown keyword \"path\" in include:rules:changes");
	free(e);
	strvec_clear(&changed);
	varlist_clear(&vars);
}

/* include:project through a getter: projects "tmpl" and "other" */
struct fake_projects {
	struct strvec calls;        /* "PROJECT@REF:FILE" asked */
};

static int fake_project_file(void *ud, const char *project, const char *ref,
			     const char *file, size_t max, struct strbuf *out,
			     struct strbuf *err)
{
	static const char *const files[][3] = {
		{ "tmpl", "ci/build.yml",
		  "include: [{local: ci/common.yml}]\n"
		  "build: {extends: .common, script: [make]}\n" },
		{ "tmpl", "ci/common.yml", ".common: {variables: {FROM: tmpl}}\n" },
		{ "tmpl", "ci/test.yml", "test: {script: [make check]}\n" },
		{ "tmpl", "ci/nested.yml",
		  "include: [{project: other, ref: v1, file: o.yml}]\n" },
		{ "tmpl", "ci/bad.yml", "oops: {script: x, scirpt: y}\n" },
		{ "tmpl", "ci/wild.yml", "include: 'ci/*.yml'\n" },
		{ "other", "o.yml", "other: {script: [ok]}\n" },
	};
	struct fake_projects *fp = ud;
	size_t i;

	strvec_pushf(&fp->calls, "%s@%s:%s", project, ref ? ref : "", file);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		if (!strcmp(files[i][0], project) && !strcmp(files[i][1], file)) {
			if (strlen(files[i][2]) > max) {
				strbuf_addstr(err, "too large");
				return -1;
			}
			strbuf_addstr(out, files[i][2]);
			return 0;
		}
	}
	strbuf_addf(err, "no file %s", file);
	return -1;
}

static int load_with_projects(const char *yaml, struct fake_projects *fp,
			      struct pipeline **p, char **msgs)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct strbuf sb = STRBUF_INIT;
	int rc;

	o.project_file = fake_project_file;
	o.project_file_ud = fp;
	write_file(".gitlab-ci.yml", yaml);
	rc = pipeline_load(&o, p, &d);
	diag_sort(&d);
	diag_format(&d, &sb);
	diag_clear(&d);
	*msgs = strbuf_detach(&sb, NULL);
	return rc;
}

static void test_include_project(void **state)
{
	struct fake_projects fp = { STRVEC_INIT };
	struct pipeline *p = NULL;
	struct job *j;
	char *e;

	(void)state;
	/* two files, a nested local include read from the same project */
	assert_int_equal(load_with_projects(
		"include:\n  - project: tmpl\n    ref: main\n"
		"    file: [/ci/build.yml, ci/test.yml]\n"
		"  - {project: tmpl, file: ci/nested.yml}\n"
		"mine: {script: [x]}\n", &fp, &p, &e) ? (fprintf(stderr, "%s", e), -1) : 0, 0);
	assert_string_equal(e, "");
	free(e);
	j = pipeline_find_job(p, "build");
	assert_non_null(j);
	assert_string_equal(varlist_find(&j->variables, "FROM")->value, "tmpl");
	assert_non_null(pipeline_find_job(p, "test"));
	assert_non_null(pipeline_find_job(p, "other"));
	assert_non_null(pipeline_find_job(p, "mine"));
	assert_int_equal(fp.calls.nr, 5);
	assert_string_equal(fp.calls.v[0], "tmpl@main:ci/build.yml");
	assert_string_equal(fp.calls.v[1], "tmpl@main:ci/common.yml");
	assert_string_equal(fp.calls.v[2], "tmpl@main:ci/test.yml");
	assert_string_equal(fp.calls.v[3], "tmpl@:ci/nested.yml");
	assert_string_equal(fp.calls.v[4], "other@v1:o.yml");
	pipeline_free(p);
	p = NULL;
	strvec_clear(&fp.calls);

	/* errors name the project's file; a rule that does not match reads nothing */
	assert_int_equal(load_with_projects(
		"include:\n"
		"  - {project: tmpl, file: ci/bad.yml}\n"
		"  - {project: tmpl, file: ci/missing.yml}\n"
		"  - {project: tmpl, file: ci/wild.yml}\n"
		"  - {project: tmpl, file: '../x.yml'}\n"
		"  - {project: tmpl, file: 'ci/*.yml'}\n"
		"  - {project: tmpl, file: ci/notes.txt}\n"
		"  - {project: tmpl}\n"
		"  - {project: '', file: a.yml}\n"
		"  - {project: tmpl, local: a.yml, file: a.yml}\n"
		"  - {file: a.yml}\n"
		"  - {project: tmpl, file: {a: b}}\n"
		"  - {project: tmpl, file: ci/test.yml, rules: [{if: '$X == \"1\"'}]}\n"
		"j: {script: x}\n", &fp, &p, &e), -1);
	assert_null(p);
	assert_has(e, "tmpl:ci/bad.yml:1:19: error: unknown keyword \"scirpt\" in job \"oops\"");
	assert_has(e, ".gitlab-ci.yml:3:27: error: include:project tmpl: no file ci/missing.yml");
	assert_has(e, "tmpl:ci/wild.yml:1:10: error: include \"ci/*.yml\": wildcards are not "
		   "supported in a file included from project tmpl");
	assert_has(e, ".gitlab-ci.yml:5:27: error: include:file \"../x.yml\": a path inside "
		   "project tmpl, without wildcards");
	assert_has(e, ".gitlab-ci.yml:6:27: error: include:file \"ci/*.yml\"");
	assert_has(e, ".gitlab-ci.yml:7:27: error: included file \"ci/notes.txt\" does not "
		   "have a YAML extension");
	assert_has(e, ".gitlab-ci.yml:8:5: error: include:project needs \"file\"");
	assert_has(e, ".gitlab-ci.yml:9:15: error: include:project must be a non-empty string");
	assert_has(e, "either local or project, not both");
	assert_has(e, ".gitlab-ci.yml:11:6: error: include:file goes with include:project");
	assert_has(e, ".gitlab-ci.yml:12:27: error: include:file must be a path or a list");
	free(e);
	assert_int_equal(fp.calls.nr, 3);
	strvec_clear(&fp.calls);
}

static void test_include_errors(void **state)
{
	char *e;

	(void)state;
	write_file("bad.yml", "oops: {script: x, scirpt: y}\n");
	write_file("notyaml.txt", "x\n");
	e = load_err("include:\n  - missing.yml\n  - bad.yml\n  - notyaml.txt\n"
		     "  - ../outside.yml\n  - https://127.0.0.1:1/ci.yml\n"
		     "  - remote: ftp://127.0.0.1/x.yml\n"
		     "  - nothing/*.yml\n"
		     "j: {script: x}\n");
	assert_has(e, ".gitlab-ci.yml:2:5: error: included file \"missing.yml\" does not exist");
	assert_has(e, "bad.yml:1:19: error: unknown keyword \"scirpt\" in job \"oops\"");
	assert_has(e, "does not have a YAML extension");
	assert_has(e, "path must stay inside the repository");
	/* no remote_file here: nothing is fetched */
	assert_has(e, "include:remote cannot be read here");
	assert_has(e, "include:remote \"ftp://127.0.0.1/x.yml\" must be an http:// or https:// URL");
	assert_has(e, "include \"nothing/*.yml\": no file matches");
	free(e);
}

static void test_include_limit(void **state)
{
	char name[32], text[64];
	char *e;
	int i;

	(void)state;
	/* a chain of distinct files runs into the nesting limit */
	for (i = 0; i < 110; i++) {
		snprintf(name, sizeof(name), "deep%d.yml", i);
		snprintf(text, sizeof(text), "include: deep%d.yml\n", i + 1);
		write_file(name, text);
	}
	e = load_err("include: deep0.yml\nj: {script: x}\n");
	assert_has(e, "error: includes nested too deep (more than 100 levels)");
	free(e);
}

static void test_include_cycle(void **state)
{
	struct pipeline *p;
	char *e;

	(void)state;
	/* first, alone in the directory: a wildcard that matches the file it is in */
	write_file("frag/one.yml", "include: 'frag/*.yml'\none: {script: x}\n");
	write_file("frag/two.yml", "two: {script: x}\n");
	e = load_err("include: '**.yml'\nj: {script: x}\n");
	assert_has(e, ".gitlab-ci.yml:1:10: error: include cycle: .gitlab-ci.yml -> .gitlab-ci.yml");
	assert_has(e, "frag/one.yml:1:10: error: include cycle: frag/one.yml -> frag/one.yml");
	free(e);
	/* a file including itself: the cycle is said, not a limit reached */
	write_file("self.yml", "include: self.yml\n");
	e = load_err("include: self.yml\nj: {script: x}\n");
	assert_has(e, "self.yml:1:10: error: include cycle: self.yml -> self.yml");
	assert_true(strstr(e, "nested too deep") == NULL);
	free(e);
	/* through another file */
	write_file("cyc/a.yml", "include: cyc/b.yml\na: {script: x}\n");
	write_file("cyc/b.yml", "include: cyc/a.yml\nb: {script: x}\n");
	e = load_err("include: cyc/a.yml\nj: {script: x}\n");
	assert_has(e, "cyc/b.yml:1:10: error: include cycle: cyc/a.yml -> cyc/b.yml -> cyc/a.yml");
	free(e);
	/* the same file from two others (a diamond) is no cycle */
	write_file("dia/base.yml", ".base: {script: x}\n");
	write_file("dia/l.yml", "include: dia/base.yml\nl: {extends: .base}\n");
	write_file("dia/r.yml", "include: dia/base.yml\nr: {extends: .base}\n");
	p = load_ok("include: [dia/l.yml, dia/r.yml]\n");
	assert_non_null(pipeline_find_job(p, "l"));
	assert_non_null(pipeline_find_job(p, "r"));
	pipeline_free(p);
}

static void test_include_limit_opt(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	write_file("i1.yml", "a: {script: x}\n");
	write_file("i2.yml", "b: {script: x}\n");
	write_file("i3.yml", "c: {script: x}\n");
	write_file(".gitlab-ci.yml", "include: [i1.yml, i2.yml, i3.yml]\n");
	o.max_includes = 2;
	assert_int_equal(pipeline_load(&o, &p, &d), -1);
	diag_format(&d, &sb);
	assert_has(sb.buf, "maximum of 2 includes exceeded");
	strbuf_release(&sb);
	diag_clear(&d);
}

/* --- limits and files --------------------------------------------------- */

static void test_file_size_limit(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	write_file(".gitlab-ci.yml", "j:\n  script: [a, b, c, d, e, f, g, h, i]\n");
	o.max_file_size = 16;
	assert_int_equal(pipeline_load(&o, &p, &d), -1);
	diag_format(&d, &sb);
	assert_has(sb.buf, "file too large (more than 16 bytes)");
	strbuf_release(&sb);
	diag_clear(&d);
}

static void test_job_limit(void **state)
{
	struct strbuf y = STRBUF_INIT;
	char *e;
	int i;

	(void)state;
	for (i = 0; i < 2001; i++)
		strbuf_addf(&y, "j%d: {script: x}\n", i);
	e = load_err(y.buf);
	assert_has(e, ":2001:1: error: too many jobs (more than 2000)");
	free(e);
	strbuf_release(&y);
}

static void test_file_discovery(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	/* nothing there */
	assert_int_equal(pipeline_load(&o, &p, &d), -1);
	diag_format(&d, &sb);
	assert_has(sb.buf, "no pipeline file");
	diag_clear(&d);
	/* .cidre.yml wins over .gitlab-ci.yml */
	write_file(".gitlab-ci.yml", "gitlab: {script: x}\n");
	write_file(".cidre.yml", "from-cidre: {script: x}\n");
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_string_equal(p->file, ".cidre.yml");
	assert_non_null(pipeline_find_job(p, "from-cidre"));
	pipeline_free(p);
	/* explicit file */
	o.file = ".gitlab-ci.yml";
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(pipeline_find_job(p, "gitlab"));
	pipeline_free(p);
	diag_clear(&d);
	strbuf_release(&sb);
}

static void test_empty_and_non_map(void **state)
{
	char *e;

	(void)state;
	e = load_err("");
	assert_has(e, "no visible jobs");
	free(e);
	e = load_err("- a\n- b\n");
	assert_has(e, ":1:1: error: the pipeline must be a map");
	free(e);
	e = load_err(".hidden: {script: x}\nj: 3\n");
	assert_has(e, ":2:4: error: job \"j\" must be a map of keywords");
	free(e);
}

/* --- cuts: one job without the file (load_opts.cut) --------------------- */

static void assert_strvec_same(const struct strvec *a, const struct strvec *b)
{
	size_t i;

	assert_int_equal(a->nr, b->nr);
	for (i = 0; i < a->nr; i++)
		assert_string_equal(a->v[i], b->v[i]);
}

static void assert_vars_same(const struct varlist *a, const struct varlist *b)
{
	size_t i;

	assert_int_equal(a->nr, b->nr);
	for (i = 0; i < a->nr; i++) {
		assert_string_equal(a->v[i].key, b->v[i].key);
		assert_string_equal(a->v[i].value, b->v[i].value);
		assert_int_equal(a->v[i].expand, b->v[i].expand);
	}
}

#define assert_opt_string_same(a, b) do { \
	assert_int_equal(!(a), !(b)); \
	if (a) \
		assert_string_equal((a), (b)); \
} while (0)

/*
 * Every job loaded alone from its cut and the pipeline's globals is the
 * job the whole file gave: include, extends, !reference, anchors and
 * merge keys, default: and inherit:, quoted and plain scalars, cidre:.
 */
static void test_cut_same_as_whole(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	size_t i, k;

	(void)state;
	write_file("ci/base.yml",
		   ".tmpl: {script: [tmpl], tags: [base], retry: 1}\n"
		   "included: {stage: build, script: [inc]}\n");
	write_file(".cidre.yml",
		   "include: ci/base.yml\n"
		   "stages: [build, test, deploy]\n"
		   "variables: {G: 'yes', N: 5, Q: \"007\", E: {value: '$X', expand: false}}\n"
		   "workflow: {rules: [{if: $A == \"1\"}, {when: always}]}\n"
		   "cidre: {memory: 64M, network: true}\n"
		   "default: {image: debian:12, before_script: [setup], timeout: 10m}\n"
		   ".anchor: &a {variables: {AN: anchored}, artifacts: {paths: [out/]}}\n"
		   ".refs: {steps: [r1, r2]}\n"
		   "build:\n  extends: .tmpl\n  stage: build\n  <<: *a\n"
		   "  script: [!reference [.refs, steps], 'echo \"quoted: yes\"', plain]\n"
		   "  cache: {key: k, paths: [c/]}\n"
		   "  parallel: {matrix: [{OS: [linux, mac], ARCH: amd64}]}\n"
		   "test:\n  needs: [build]\n  dependencies: [build]\n"
		   "  inherit: {default: [image]}\n"
		   "  rules: [{if: $G == \"yes\", when: manual, allow_failure: true}]\n"
		   "  script: |\n    one\n    two\n"
		   "  cidre: {pids: 50}\n"
		   "deploy:\n  stage: deploy\n  when: delayed\n  start_in: 1 minute\n"
		   "  environment: {name: prod/$G, on_stop: stop, url: 'https://x'}\n"
		   "  script: [d]\n"
		   "stop: {stage: deploy, when: manual, environment: {name: prod, action: stop},"
		   " script: [s]}\n");
	o.cut = 1;
	assert_int_equal(pipeline_load(&o, &p, &d), 0);
	assert_non_null(p->cut_globals);
	assert_null(strstr(p->cut_globals, ".tmpl"));	/* hidden keys are merged */
	assert_null(strstr(p->cut_globals, "include"));
	for (i = 0; i < p->jobs_nr; i++) {
		const struct job *w = p->jobs[i], *c;
		struct load_opts co = opts();
		struct pipeline *one = NULL;

		assert_non_null(w->cut);
		co.file = ".cidre.yml";
		assert_int_equal(pipeline_load_cut(&co, p->cut_globals, w->cut, &one, &d), 0);
		assert_int_equal(d.errors, 0);
		assert_int_equal(one->jobs_nr, 1);
		c = one->jobs[0];
		assert_string_equal(c->name, w->name);
		assert_string_equal(c->stage, w->stage);
		assert_strvec_same(&one->stages, &p->stages);
		assert_vars_same(&one->variables, &p->variables);
		assert_int_equal(one->workflow_rules.nr, p->workflow_rules.nr);
		assert_strvec_same(&c->before_script, &w->before_script);
		assert_strvec_same(&c->script, &w->script);
		assert_strvec_same(&c->after_script, &w->after_script);
		assert_vars_same(&c->variables, &w->variables);
		assert_strvec_same(&c->tags, &w->tags);
		assert_strvec_same(&c->artifacts.paths, &w->artifacts.paths);
		assert_strvec_same(&c->dependencies, &w->dependencies);
		assert_int_equal(c->rules.nr, w->rules.nr);
		for (k = 0; k < w->rules.nr; k++) {
			assert_opt_string_same(c->rules.v[k].if_expr, w->rules.v[k].if_expr);
			assert_int_equal(c->rules.v[k].when, w->rules.v[k].when);
		}
		assert_int_equal(c->needs_nr, w->needs_nr);
		for (k = 0; k < w->needs_nr; k++)
			assert_string_equal(c->needs[k].job, w->needs[k].job);
		assert_int_equal(c->when, w->when);
		assert_opt_string_same(c->start_in, w->start_in);
		assert_opt_string_same(c->image, w->image);
		assert_int_equal(c->timeout, w->timeout);
		assert_int_equal(c->retry.max, w->retry.max);
		assert_int_equal(c->caches_nr, w->caches_nr);
		assert_int_equal(c->parallel.matrix_nr, w->parallel.matrix_nr);
		assert_opt_string_same(c->environment.name, w->environment.name);
		assert_opt_string_same(c->environment.on_stop, w->environment.on_stop);
		assert_int_equal(c->cidre.memory, w->cidre.memory);
		assert_int_equal(c->cidre.pids, w->cidre.pids);
		assert_int_equal(c->cidre.network, w->cidre.network);
		pipeline_free(one);
	}
	/* what the cases above rest on */
	assert_string_equal(pipeline_find_job(p, "build")->script.v[1], "r2");
	assert_string_equal(pipeline_find_job(p, "build")->script.v[3], "plain");
	assert_string_equal(varlist_get(&pipeline_find_job(p, "build")->variables, "AN"),
			    "anchored");
	assert_string_equal(pipeline_find_job(p, "build")->tags.v[0], "base");
	assert_non_null(pipeline_find_job(p, "included"));
	assert_int_equal(pipeline_find_job(p, "test")->cidre.pids, 50);
	assert_int_equal(pipeline_find_job(p, "test")->cidre.memory, 64 << 20);
	pipeline_free(p);
	diag_clear(&d);
}

/* The text form keeps tags, plain and quoted scalars, and order. */
static void test_cut_text(void **state)
{
	struct diag d = DIAG_INIT;
	struct ynode **docs = NULL, *n;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, err = STRBUF_INIT;
	struct pos pos = { "x.yml", 0, 0 };
	size_t nr = 0;
	static const char *const bad[] = {
		"", "P", "P3:ab", "P2ab", "Pz:a", "X1:a", "S2:P1:a", "M1:1:aP1:bP1:c",
		"M1:5:aP1:b", "P1:aP1:b", "!3:tagS0:x", "P99999999999999:a",
		"S9999999:", "P1:\0", "!1:",
	};
	size_t i;
	const char *y = "k: [1, '1', !t x, {z: null, a: ~}]\n"
			"\"q\": \"multi\\nline: \\\"x\\\"\"\n";

	(void)state;
	assert_int_equal(yaml_parse("x.yml", y, strlen(y), NULL, &docs, &nr, &d), 0);
	ynode_encode(&a, docs[0]);
	assert_string_equal(a.buf, "M2:1:kS4:P1:1Q1:1!2:!tP1:xM2:1:zP4:null1:aP1:~"
			    "1:qQ15:multi\nline: \"x\"");
	n = ynode_decode(a.buf, a.len, &pos, 100, &err);
	assert_non_null(n);
	ynode_encode(&b, n);
	assert_string_equal(a.buf, b.buf);
	assert_int_equal(yscalar_kind(n->pairs[0].val->items[0]), YS_INT);
	assert_int_equal(yscalar_kind(n->pairs[0].val->items[1]), YS_STR);
	assert_string_equal(n->pairs[0].val->items[2]->tag, "!t");
	assert_string_equal(n->pos.file, "x.yml");
	ynode_free(n);
	/* the node budget */
	assert_null(ynode_decode(a.buf, a.len, &pos, 3, &err));
	assert_non_null(strstr(err.buf, "too many nodes"));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		strbuf_reset(&err);
		assert_null(ynode_decode(bad[i], strlen(bad[i]) + (i == 13), &pos, 100, &err));
		assert_non_null(strstr(err.buf, "resolved pipeline text: "));
	}
	yaml_docs_free(docs, nr);
	strbuf_release(&a);
	strbuf_release(&b);
	strbuf_release(&err);
	diag_clear(&d);
}

/* A damaged or wrong cut is an error, not a crash or another job. */
static void test_cut_errors(void **state)
{
	struct load_opts o = opts();
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M1:1:jM1:6:scriptP1:x", &p, &d), 0);
	assert_string_equal(p->jobs[0]->script.v[0], "x");
	assert_string_equal(p->jobs[0]->stage, "test");
	pipeline_free(p);
	p = NULL;
	assert_int_equal(pipeline_load_cut(&o, "S0:", "M1:1:jM0:", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M2:1:jM0:1:kM0:", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M1:9:variablesM0:", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M1:2:.jM0:", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M1:1:jM0:", "M1:1:jM0:", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M1:1:jP1:x", &p, &d), -1);
	assert_int_equal(pipeline_load_cut(&o, "M0:", "M1:1:j", &p, &d), -1);
	assert_null(p);
	diag_format(&d, &sb);
	assert_has(sb.buf, ".gitlab-ci.yml: error: resolved pipeline text: not one job");
	assert_has(sb.buf, "the globals are not a map");
	assert_has(sb.buf, "job \"j\" must be a map of keywords");
	strbuf_release(&sb);
	diag_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_minimal, setup, teardown),
		cmocka_unit_test(test_when),
		cmocka_unit_test_setup_teardown(test_stages_pre_post, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_flatten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variables_numbers_as_gitlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variables_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_duplicate_and_more, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_duplicate_is_warning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_merge_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_merge_keys_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_billion_laughs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_depth_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_invalid_utf8, setup, teardown),
		cmocka_unit_test(test_yaml_tree_api),
		cmocka_unit_test(test_yaml_errors_keep_nothing),
		cmocka_unit_test_setup_teardown(test_full_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_needs_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extends_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extends_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reference_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_inherit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_keywords_unset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_value_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_documents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_entrypoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_error_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_jobs_after_refused_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_errors_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_variables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_rules_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_project, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_cycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_limit_opt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_non_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_same_as_whole, setup, teardown),
		cmocka_unit_test(test_cut_text),
		cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
