/* Unit tests for src/store/: the SQLite store, real database files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "testlib.h"
#include "util/xalloc.h"

static char tmp[4096];
static int db_seq;

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-store");
}

static int teardown(void **state)
{
	return test_rmtree(tmp);
}

/* A fresh database path in the scratch directory (caller frees). */
static char *db_path(void)
{
	return xasprintf("%s/db%d.sqlite", tmp, ++db_seq);
}

static struct store *open_ok(const char *url)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = NULL;

	if (store_open(url, &st, &err))
		fail_msg("store_open %s: %s", url, err.buf);
	strbuf_release(&err);
	return st;
}

static struct store *open_new(void)
{
	char *path = db_path();
	struct store *st = open_ok(path);

	free(path);
	return st;
}

static int64_t add_project(struct store *st, const char *name)
{
	struct store_project p = { .name = (char *)name, .repo = "/srv/git/x.git" };
	struct strbuf err = STRBUF_INIT;

	if (store_project_add(st, &p, &err))
		fail_msg("project add %s: %s", name, err.buf);
	strbuf_release(&err);
	return p.id;
}

static int64_t add_pipeline(struct store *st, int64_t project, const char *ref,
			    const char *status, const char *source)
{
	struct store_pipeline p = {
		.project_id = project, .ref = (char *)ref,
		.sha = "0123456789abcdef0123456789abcdef01234567",
		.source = (char *)source, .status = (char *)status,
	};
	struct strbuf err = STRBUF_INIT;

	if (store_pipeline_add(st, &p, &err))
		fail_msg("pipeline add: %s", err.buf);
	strbuf_release(&err);
	return p.id;
}

static int64_t add_job(struct store *st, int64_t pipeline, int plan_idx, int attempt,
		       const char *status, int64_t queued, const char *group)
{
	struct store_job j = {
		.pipeline_id = pipeline, .name = "build", .stage = "test",
		.plan_idx = plan_idx, .attempt = attempt, .status = (char *)status,
		.queued = queued, .resource_group = (char *)group,
	};
	struct strbuf err = STRBUF_INIT;

	if (store_job_add(st, &j, &err))
		fail_msg("job add: %s", err.buf);
	strbuf_release(&err);
	return j.id;
}

/* Run SQL on the file behind the store's back (schema version games). */
static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* ---- open, migrate ---- */

static void test_open_create_reopen(void **state)
{
	struct strbuf err = STRBUF_INIT, url = STRBUF_INIT;
	struct store_project p;
	struct store *st;
	char *path = db_path();
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *s;

	st = open_ok(path);
	assert_true(store_schema_latest() >= 1);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	add_project(st, "demo");
	store_close(st);

	/* created 0600, in WAL mode */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* reopened (both URL forms), the data is there, nothing migrates again */
	strbuf_addf(&url, "sqlite:%s", path);
	st = open_ok(url.buf);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	assert_int_equal(store_project_get(st, "demo", &p, &err), 0);
	assert_string_equal(p.repo, "/srv/git/x.git");
	store_project_release(&p);
	store_close(st);
	strbuf_reset(&url);
	strbuf_addf(&url, "sqlite://%s", path);
	st = open_ok(url.buf);
	assert_int_equal(store_project_get(st, "demo", &p, &err), 0);
	store_project_release(&p);
	store_close(st);

	strbuf_release(&url);
	strbuf_release(&err);
	free(path);
}

/* An existing empty file (version 0) with a table of someone else's. */
static void test_migrate_existing(void **state)
{
	char *path = db_path();
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *s;

	raw_sql(path, "CREATE TABLE keep (x); INSERT INTO keep VALUES (42);");
	st = open_ok(path);
	assert_int_equal(store_schema_version(st), store_schema_latest());
	add_project(st, "p");
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM keep", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 42);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
}

static void test_open_errors(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = (struct store *)&err;	/* must stay untouched */
	char *path, *sql, *missing;

	/* another scheme; the URL (with its password) is not repeated */
	assert_int_equal(store_open("postgres://cidre:s3cret@db/cidre", &st, &err), -1);
	assert_non_null(strstr(err.buf, "unsupported store URL"));
	assert_null(strstr(err.buf, "s3cret"));
	assert_ptr_equal(st, &err);
	strbuf_reset(&err);
	assert_int_equal(store_open("postgresql:host=db password=s3cret", &st, &err), -1);
	assert_non_null(strstr(err.buf, "unsupported store URL"));
	assert_null(strstr(err.buf, "s3cret"));
	assert_int_equal(store_open("file:cidre.db", &st, &err), -1);
	assert_int_equal(store_open("", &st, &err), -1);
	assert_int_equal(store_open(NULL, &st, &err), -1);
	assert_int_equal(store_open("sqlite:", &st, &err), -1);

	/* the parent directory must exist */
	strbuf_reset(&err);
	missing = xasprintf("%s/no/such/dir/cidre.db", tmp);
	assert_int_equal(store_open(missing, &st, &err), -1);
	assert_non_null(strstr(err.buf, "No such file"));
	free(missing);

	/* a database from a newer cidre */
	path = db_path();
	store_close(open_ok(path));
	sql = xasprintf("PRAGMA user_version = %d", store_schema_latest() + 1);
	raw_sql(path, sql);
	strbuf_reset(&err);
	assert_int_equal(store_open(path, &st, &err), -1);
	assert_non_null(strstr(err.buf, "newer"));
	assert_ptr_equal(st, &err);
	free(sql);
	free(path);

	/* not a database */
	path = db_path();
	free(test_write_file(tmp, strrchr(path, '/') + 1, "hello, this is not sqlite at all"
			     "................................................................"
			     "................................................................", 160));
	strbuf_reset(&err);
	assert_int_equal(store_open(path, &st, &err), -1);
	assert_true(err.len > 0);
	free(path);

	strbuf_release(&err);
}

/* ---- projects, refs ---- */

static void test_projects(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	struct store_project p = { .name = "web", .repo = "https://example.com/web.git",
				   .branches = "main", .poll_interval = 60,
				   .hook_secret = "h", .webhook_secret = "w" };
	struct store_project q, *a;
	size_t nr;
	int64_t web;

	assert_int_equal(store_project_add(st, &p, &err), 0);
	assert_true(p.id > 0);
	assert_true(p.created > 0);
	web = p.id;
	add_project(st, "api");
	add_project(st, "zeta");

	assert_int_equal(store_project_get(st, "web", &q, &err), 0);
	assert_int_equal(q.id, web);
	assert_string_equal(q.repo, "https://example.com/web.git");
	assert_string_equal(q.branches, "main");
	assert_int_equal(q.poll_interval, 60);
	assert_string_equal(q.hook_secret, "h");
	assert_string_equal(q.webhook_secret, "w");
	assert_int_equal(q.created, p.created);
	assert_int_equal(q.deleted, 0);
	store_project_release(&q);
	store_project_release(&q);	/* released records are zeroed */

	/* defaults */
	assert_int_equal(store_project_get(st, "api", &q, &err), 0);
	assert_string_equal(q.branches, "*");
	assert_string_equal(q.hook_secret, "");
	store_project_release(&q);

	assert_int_equal(store_project_get_id(st, web, &q, &err), 0);
	assert_string_equal(q.name, "web");
	store_project_release(&q);
	assert_int_equal(store_project_get(st, "nope", &q, &err), STORE_NOTFOUND);
	assert_int_equal(store_project_get_id(st, 999, &q, &err), STORE_NOTFOUND);

	/* name taken; invalid names */
	p.id = 0;
	strbuf_reset(&err);
	assert_int_equal(store_project_add(st, &p, &err), STORE_CONFLICT);
	assert_non_null(strstr(err.buf, "UNIQUE constraint failed"));
	p.name = "a/b";
	assert_int_equal(store_project_add(st, &p, &err), -1);
	p.name = "..";
	assert_int_equal(store_project_add(st, &p, &err), -1);
	p.name = "";
	assert_int_equal(store_project_add(st, &p, &err), -1);
	p.name = NULL;
	assert_int_equal(store_project_add(st, &p, &err), -1);
	assert_true(store_project_name_ok("A-z_0.9"));
	assert_false(store_project_name_ok("x'; DROP TABLE projects; --"));

	assert_int_equal(store_project_list(st, &a, &nr, &err), 0);
	assert_int_equal(nr, 3);
	assert_string_equal(a[0].name, "api");
	assert_string_equal(a[1].name, "web");
	assert_string_equal(a[2].name, "zeta");
	store_projects_free(a, nr);

	/* delete: gone by name and from the list, still there by id; the
	 * name can be taken again */
	assert_int_equal(store_project_delete(st, "web", &err), 0);
	assert_int_equal(store_project_delete(st, "web", &err), STORE_NOTFOUND);
	assert_int_equal(store_project_get(st, "web", &q, &err), STORE_NOTFOUND);
	assert_int_equal(store_project_get_id(st, web, &q, &err), 0);
	assert_true(q.deleted > 0);
	store_project_release(&q);
	assert_int_equal(store_project_list(st, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	store_projects_free(a, nr);
	assert_true(add_project(st, "web") > web);

	store_projects_free(NULL, 0);
	store_close(st);
	strbuf_release(&err);
}

static void test_refs(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pid = add_project(st, "p");
	char sha[41];

	assert_int_equal(store_ref_get(st, pid, "refs/heads/main", sha, &err), 0);
	assert_string_equal(sha, "");
	assert_int_equal(store_ref_set(st, pid, "refs/heads/main",
				       "1111111111111111111111111111111111111111", &err), 0);
	assert_int_equal(store_ref_set(st, pid, "refs/heads/dev", "2222", &err), 0);
	assert_int_equal(store_ref_get(st, pid, "refs/heads/main", sha, &err), 0);
	assert_string_equal(sha, "1111111111111111111111111111111111111111");
	assert_int_equal(store_ref_set(st, pid, "refs/heads/main",
				       "3333333333333333333333333333333333333333", &err), 0);
	assert_int_equal(store_ref_get(st, pid, "refs/heads/main", sha, &err), 0);
	assert_string_equal(sha, "3333333333333333333333333333333333333333");
	assert_int_equal(store_ref_get(st, pid, "refs/heads/dev", sha, &err), 0);
	assert_string_equal(sha, "2222");

	/* too long for ret_sha; no such project */
	assert_int_equal(store_ref_set(st, pid, "x",
		"33333333333333333333333333333333333333334", &err), -1);
	assert_int_equal(store_ref_set(st, 999, "x", "1", &err), STORE_NOTFOUND);

	/* a deleted project's refs are forgotten */
	assert_int_equal(store_project_delete(st, "p", &err), 0);
	assert_int_equal(store_ref_get(st, pid, "refs/heads/main", sha, &err), 0);
	assert_string_equal(sha, "");

	store_close(st);
	strbuf_release(&err);
}

/* ---- pipelines ---- */

/* ids of the listing, e.g. "9 7 3" */
static void list_ids(struct store *st, const struct store_pipeline_filter *f,
		     struct strbuf *out)
{
	struct strbuf err = STRBUF_INIT;
	struct store_pipeline *a = NULL;
	size_t nr = 0, i;

	strbuf_reset(out);
	if (store_pipeline_list(st, f, &a, &nr, &err))
		fail_msg("pipeline list: %s", err.buf);
	for (i = 0; i < nr; i++)
		strbuf_addf(out, "%s%lld", i ? " " : "", (long long)a[i].id);
	store_pipelines_free(a, nr);
	strbuf_release(&err);
}

/*
 * One page of 4 of f: the newest (way 0), past the first 8 (way 1) or
 * before top + 1 (way 2); it must hold top, top - step, ... in that order.
 */
static void check_page(struct store *st, struct store_pipeline_filter f, int way,
		       int64_t top, int64_t step)
{
	struct strbuf ids = STRBUF_INIT, want = STRBUF_INIT;

	if (way == 1)
		f.offset = 8;
	else if (way == 2)
		f.before_id = top + 1;
	list_ids(st, &f, &ids);
	strbuf_addf(&want, "%lld %lld %lld %lld", (long long)top, (long long)(top - step),
		    (long long)(top - 2 * step), (long long)(top - 3 * step));
	assert_string_equal(ids.buf, want.buf);
	strbuf_release(&want);
	strbuf_release(&ids);
}

/*
 * A listing of the visible projects' pipelines reads the index when
 * there are at most STORE_COUNT_MAX of them and the table backwards when
 * there are more: both give the same pages, with a count given or not.
 */
static void test_pipelines_visible_plans(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pub = add_project(st, "pub"), priv = add_project(st, "priv");
	int64_t last = 0, n, i;
	struct store_pipeline_filter f;
	int round;

	assert_int_equal(store_project_set_public(st, "pub", 1, &err), 0);
	for (round = 0; round < 2; round++) {
		/* round 0: 400 visible of 1,200; round 1: 1,400 of 3,200 */
		int add = round ? 1000 : 400;

		for (i = 0; i < add; i++) {
			last = add_pipeline(st, pub, "main", "success", "push");
			add_pipeline(st, priv, "main", "success", "push");
			if (!round || i < 500)
				add_pipeline(st, priv, "dev", "success", "push");
		}
		f = (struct store_pipeline_filter){ .limit = 1, .visible_to = -1 };
		assert_int_equal(store_pipeline_count(st, &f, STORE_COUNT_MAX + 1, &n, &err), 0);
		assert_int_equal(n, round ? STORE_COUNT_MAX + 1 : 400);
		/* newest first, then page 3 of 4, then before an id */
		for (i = 0; i < 3; i++) {
			int counted;

			for (counted = 0; counted < 2; counted++) {
				int64_t step = round ? 2 : 3, top = last;

				if (round && i)
					top = last - (i == 1 ? 8 : 4) * 2;
				else if (i)
					top = last - (i == 1 ? 8 : 4) * step;
				f = (struct store_pipeline_filter){ .limit = 4, .visible_to = -1,
					.count = n, .counted = counted };
				check_page(st, f, (int)i, top, step);
			}
		}
		}
	/* the newest 4,096 hold none of them: the index serves after all */
	for (i = 0; i < 5000; i++)
		add_pipeline(st, priv, "main", "success", "push");
	for (i = 0; i < 3; i++) {
		int64_t top = last - (i == 1 ? 16 : i == 2 ? 8 : 0);

		f = (struct store_pipeline_filter){ .limit = 4, .visible_to = -1 };
		check_page(st, f, (int)i, top, 2);
	}
	strbuf_release(&err);
	store_close(st);
}

static void test_pipelines(void **state)
{
	struct strbuf err = STRBUF_INIT, ids = STRBUF_INIT;
	struct store *st = open_new();
	int64_t a = add_project(st, "a"), b = add_project(st, "b");
	struct store_pipeline p = {
		.project_id = a, .ref = "main", .sha = "abc", .before_sha = "def",
		.source = "push", .name = "nightly", .variables = "{\"K\":\"V\"}",
		.ctx = "{\"x\":1}", .protected_ref = 1,
	};
	struct store_pipeline q, *arr;
	struct store_pipeline_filter f = { .limit = 20 };
	size_t nr;

	/* 1..8: a main push, a dev push, b main api, a main webhook (x2) ... */
	assert_int_equal(store_pipeline_add(st, &p, &err), 0);
	assert_int_equal(p.id, 1);
	assert_true(p.created > 0);
	add_pipeline(st, a, "dev", "running", "push");		/* 2 */
	add_pipeline(st, b, "main", "success", "api");		/* 3 */
	add_pipeline(st, a, "main", "success", "webhook");	/* 4 */
	add_pipeline(st, a, "main", "failed", "push");		/* 5 */
	add_pipeline(st, b, "dev", "failed", "poll");		/* 6 */
	add_pipeline(st, a, "main", "success", "push");		/* 7 */
	add_pipeline(st, b, "main", "success", "push");		/* 8 */

	assert_int_equal(store_pipeline_get(st, 1, &q, &err), 0);
	assert_int_equal(q.project_id, a);
	assert_string_equal(q.project, "a");
	assert_string_equal(q.ref, "main");
	assert_string_equal(q.sha, "abc");
	assert_string_equal(q.before_sha, "def");
	assert_string_equal(q.source, "push");
	assert_string_equal(q.status, "created");
	assert_null(q.error);
	assert_string_equal(q.name, "nightly");
	assert_int_equal(q.protected_ref, 1);
	assert_string_equal(q.variables, "{\"K\":\"V\"}");
	assert_string_equal(q.ctx, "{\"x\":1}");
	assert_int_equal(q.created, p.created);
	assert_int_equal(q.started, 0);
	assert_int_equal(q.finished, 0);
	store_pipeline_release(&q);
	assert_int_equal(store_pipeline_get(st, 2, &q, &err), 0);
	assert_null(q.before_sha);
	assert_null(q.name);
	assert_string_equal(q.variables, "{}");
	store_pipeline_release(&q);
	assert_int_equal(store_pipeline_get(st, 99, &q, &err), STORE_NOTFOUND);

	/* no such project; missing fields */
	p.project_id = 999;
	assert_int_equal(store_pipeline_add(st, &p, &err), STORE_NOTFOUND);
	p.project_id = a;
	p.sha = NULL;
	assert_int_equal(store_pipeline_add(st, &p, &err), -1);

	/* every filter, alone and together */
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 7 6 5 4 3 2 1");
	f.project_id = a;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "7 5 4 2 1");
	f.ref = "main";
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "7 5 4 1");
	f.status = "success";
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "7 4");
	f.source = "push";
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "7");
	f = (struct store_pipeline_filter){ .limit = 20, .ref = "dev" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "6 2");
	f = (struct store_pipeline_filter){ .limit = 20, .status = "failed" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "6 5");
	f = (struct store_pipeline_filter){ .limit = 20, .source = "push" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 7 5 2 1");
	f = (struct store_pipeline_filter){ .limit = 20, .project_id = b, .status = "success" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 3");
	f = (struct store_pipeline_filter){ .limit = 20, .ref = "x' OR '1'='1" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "");

	/* a commit, whole or a prefix; pipeline 1's sha is "abc" */
	f = (struct store_pipeline_filter){ .limit = 20,
		.sha = "0123456789abcdef0123456789abcdef01234567" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 7 6 5 4 3 2");
	f.sha = "0123";
	f.project_id = b;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 6 3");
	f = (struct store_pipeline_filter){ .limit = 20, .sha = "ab" };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "1");
	f.sha = "abd";
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "");
	f.sha = "0123456789abcdef0123456789abcdef012345670";
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "");

	/* counts: every filter but the paging, up to a maximum */
	{
		int64_t n = -1;

		f = (struct store_pipeline_filter){ .limit = 1, .offset = 5, .before_id = 3 };
		assert_int_equal(store_pipeline_count(st, &f, 100, &n, &err), 0);
		assert_int_equal(n, 8);
		assert_int_equal(store_pipeline_count(st, &f, 5, &n, &err), 0);
		assert_int_equal(n, 5);
		f.project_id = a;
		f.status = "success";
		assert_int_equal(store_pipeline_count(st, &f, 100, &n, &err), 0);
		assert_int_equal(n, 2);
		f = (struct store_pipeline_filter){ .limit = 1, .sha = "0123", .source = "push" };
		assert_int_equal(store_pipeline_count(st, &f, 100, &n, &err), 0);
		assert_int_equal(n, 4);
		f = (struct store_pipeline_filter){ .limit = 1, .visible_to = -1 };
		assert_int_equal(store_pipeline_count(st, &f, 100, &n, &err), 0);
		assert_int_equal(n, 0);
		assert_int_equal(store_pipeline_count(st, &f, 0, &n, &err), -1);
	}

	/* page paging */
	f = (struct store_pipeline_filter){ .limit = 3 };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "8 7 6");
	f.offset = 3;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "5 4 3");
	f.offset = 6;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "2 1");
	f.offset = 9;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "");

	/* keyset paging (offset ignored), with a filter */
	f = (struct store_pipeline_filter){ .limit = 3, .before_id = 6, .offset = 100 };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "5 4 3");
	f.before_id = 3;
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "2 1");
	f = (struct store_pipeline_filter){ .limit = 2, .project_id = a, .before_id = 7 };
	list_ids(st, &f, &ids);
	assert_string_equal(ids.buf, "5 4");

	/* limits */
	f = (struct store_pipeline_filter){ .limit = 0 };
	assert_int_equal(store_pipeline_list(st, &f, &arr, &nr, &err), -1);
	f.limit = 1001;
	assert_int_equal(store_pipeline_list(st, &f, &arr, &nr, &err), -1);
	f.limit = 1000;
	f.offset = -1;
	assert_int_equal(store_pipeline_list(st, &f, &arr, &nr, &err), -1);

	/* the listing carries whole records */
	f = (struct store_pipeline_filter){ .limit = 1, .before_id = 2 };
	assert_int_equal(store_pipeline_list(st, &f, &arr, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_string_equal(arr[0].project, "a");
	assert_string_equal(arr[0].ctx, "{\"x\":1}");
	store_pipelines_free(arr, nr);

	/* a deleted project's pipelines stay readable, with its name */
	assert_int_equal(store_project_delete(st, "b", &err), 0);
	assert_int_equal(store_pipeline_get(st, 3, &q, &err), 0);
	assert_string_equal(q.project, "b");
	store_pipeline_release(&q);

	store_close(st);
	strbuf_release(&ids);
	strbuf_release(&err);
}

static void test_pipeline_status(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t a = add_project(st, "a"), b = add_project(st, "b");
	int64_t p1 = add_pipeline(st, a, "main", "created", "push");
	struct store_pipeline q;
	int64_t *ids;
	size_t nr;

	assert_int_equal(store_pipeline_set_status(st, p1, "created", "running",
						   1000, 0, NULL, &err), 0);
	/* lost compare-and-set: nothing changes */
	strbuf_reset(&err);
	assert_int_equal(store_pipeline_set_status(st, p1, "created", "canceled",
						   0, 2000, "no", &err), STORE_CONFLICT);
	assert_true(err.len > 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_string_equal(q.status, "running");
	assert_int_equal(q.started, 1000);
	assert_int_equal(q.finished, 0);
	assert_null(q.error);
	store_pipeline_release(&q);
	/* same status again still counts as a change */
	assert_int_equal(store_pipeline_set_status(st, p1, "running", "running",
						   0, 0, NULL, &err), 0);
	assert_int_equal(store_pipeline_set_status(st, 999, "running", "failed",
						   0, 0, NULL, &err), STORE_NOTFOUND);
	assert_int_equal(store_pipeline_set_status(st, 999, NULL, "failed",
						   0, 0, NULL, &err), STORE_NOTFOUND);
	/* from NULL: any; 0 keeps started */
	assert_int_equal(store_pipeline_set_status(st, p1, NULL, "failed",
						   0, 3000, "boom", &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_string_equal(q.status, "failed");
	assert_int_equal(q.started, 1000);
	assert_int_equal(q.finished, 3000);
	assert_string_equal(q.error, "boom");
	store_pipeline_release(&q);

	/* planning context and workflow name, set after the insert */
	assert_int_equal(store_pipeline_set_ctx(st, p1, "{\"plan\":1}", "wf", &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_string_equal(q.ctx, "{\"plan\":1}");
	assert_string_equal(q.name, "wf");
	store_pipeline_release(&q);
	assert_int_equal(store_pipeline_set_ctx(st, 999, "{}", NULL, &err), STORE_NOTFOUND);

	/* unfinished: this project and ref, below the id, oldest first */
	add_pipeline(st, a, "main", "pending", "push");		/* 2 */
	add_pipeline(st, a, "main", "success", "push");		/* 3 */
	add_pipeline(st, a, "dev", "running", "push");		/* 4 */
	add_pipeline(st, b, "main", "running", "push");		/* 5 */
	add_pipeline(st, a, "main", "manual", "push");		/* 6 */
	add_pipeline(st, a, "main", "running", "push");		/* 7 */
	add_pipeline(st, a, "main", "created", "push");		/* 8 */
	assert_int_equal(store_pipeline_unfinished(st, a, "main", 8, &ids, &nr, &err), 0);
	assert_int_equal(nr, 3);
	assert_int_equal(ids[0], 2);
	assert_int_equal(ids[1], 6);
	assert_int_equal(ids[2], 7);
	free(ids);
	assert_int_equal(store_pipeline_unfinished(st, a, "main", 0, &ids, &nr, &err), 0);
	assert_int_equal(nr, 4);
	free(ids);
	assert_int_equal(store_pipeline_unfinished(st, a, "none", 0, &ids, &nr, &err), 0);
	assert_int_equal(nr, 0);
	free(ids);

	store_close(st);
	strbuf_release(&err);
}

/*
 * A finished pipeline's duration: the union of its latest attempts'
 * runs (GitLab's): overlaps counted once, gaps (a manual job's wait)
 * not at all, retried attempts and jobs that never ran left out.
 */
static void test_pipeline_duration(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *path = db_path();
	struct store *st = open_ok(path);
	int64_t a = add_project(st, "a");
	int64_t p1 = add_pipeline(st, a, "main", "created", "push");
	int64_t p2 = add_pipeline(st, a, "main", "created", "push");
	int64_t j[6];
	struct store_pipeline q;
	char *sql;
	int i;

	for (i = 0; i < 6; i++)
		j[i] = add_job(st, p1, i, 1, "success", 0, NULL);
	/* 1000..3000 and 2000..4000 overlap; 6000..7000 after a gap; a
	   retried 0..10000 and a job that never started are not counted;
	   one that ended before it started counts as 0 */
	sql = xasprintf("UPDATE jobs SET started = 1000, finished = 3000 WHERE id = %lld;"
			"UPDATE jobs SET started = 2000, finished = 4000 WHERE id = %lld;"
			"UPDATE jobs SET started = 6000, finished = 7000 WHERE id = %lld;"
			"UPDATE jobs SET started = 1, finished = 10000, retried = 1 WHERE id = %lld;"
			"UPDATE jobs SET started = 0, finished = 9000 WHERE id = %lld;"
			"UPDATE jobs SET started = 6500, finished = 6400 WHERE id = %lld;",
			(long long)j[0], (long long)j[1], (long long)j[2], (long long)j[3],
			(long long)j[4], (long long)j[5]);
	raw_sql(path, sql);
	free(sql);
	assert_int_equal(store_pipeline_set_status(st, p1, NULL, "running", 1000, 0, NULL,
						   &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_int_equal(q.duration, -1);
	assert_int_equal(store_pipeline_ms(&q), -1);
	store_pipeline_release(&q);
	assert_int_equal(store_pipeline_set_status(st, p1, NULL, "success", 0, 7000, NULL,
						   &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_int_equal(q.duration, 4000);
	assert_int_equal(store_pipeline_ms(&q), 4000);
	store_pipeline_release(&q);

	/* running again: neither finished nor a duration; then again */
	assert_int_equal(store_pipeline_set_status(st, p1, NULL, "running", 0, 0, NULL,
						   &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_int_equal(q.finished, 0);
	assert_int_equal(q.duration, -1);
	assert_int_equal(store_pipeline_ms(&q), -1);
	store_pipeline_release(&q);
	sql = xasprintf("UPDATE jobs SET started = 86400000, finished = 86401500 WHERE id = %lld",
			(long long)j[4]);
	raw_sql(path, sql);
	free(sql);
	assert_int_equal(store_pipeline_set_status(st, p1, NULL, "success", 0, 86401500, NULL,
						   &err), 0);
	assert_int_equal(store_pipeline_get(st, p1, &q, &err), 0);
	assert_int_equal(q.finished, 86401500);
	assert_int_equal(q.duration, 5500);
	store_pipeline_release(&q);

	/* no job ran (a broken file): 0; known only when it had started */
	assert_int_equal(store_pipeline_set_status(st, p2, NULL, "failed", 0, 5000, "bad",
						   &err), 0);
	assert_int_equal(store_pipeline_get(st, p2, &q, &err), 0);
	assert_int_equal(q.duration, 0);
	assert_int_equal(store_pipeline_ms(&q), -1);
	q.started = 4000;
	assert_int_equal(store_pipeline_ms(&q), 0);
	/* finished before the duration was kept: the wall time */
	q.duration = -1;
	assert_int_equal(store_pipeline_ms(&q), 1000);
	store_pipeline_release(&q);

	free(path);
	store_close(st);
	strbuf_release(&err);
}

/* ---- jobs ---- */

/* a job of plan_idx's attempt, its status and allow_failure */
static void add_allowed(struct store *st, int64_t pl, int idx, int attempt,
			const char *status, int allowed)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job j = {
		.pipeline_id = pl, .name = "lint", .stage = "test", .plan_idx = idx,
		.attempt = attempt, .status = (char *)status, .allow_failure = allowed,
	};

	if (store_job_add(st, &j, &err))
		fail_msg("job add: %s", err.buf);
	strbuf_release(&err);
}

static void test_allowed_failed(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t proj = add_project(st, "p");
	int64_t pl = add_pipeline(st, proj, "main", "success", "push");
	int64_t other = add_pipeline(st, proj, "main", "success", "push");
	int64_t n = -1;

	(void)state;
	assert_int_equal(store_job_allowed_failed(st, pl, &n, &err), 0);
	assert_int_equal(n, 0);
	add_allowed(st, pl, 0, 1, "failed", 1);   /* counted */
	add_allowed(st, pl, 1, 1, "failed", 0);   /* not allowed */
	add_allowed(st, pl, 2, 1, "failed", 1);   /* retried, then passed */
	add_allowed(st, pl, 2, 2, "success", 1);
	add_allowed(st, pl, 3, 1, "success", 1);
	add_allowed(st, pl, 4, 1, "failed", 1);   /* counted */
	add_allowed(st, other, 0, 1, "failed", 1);
	assert_int_equal(store_job_allowed_failed(st, pl, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_job_allowed_failed(st, other, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_job_allowed_failed(st, 999, &n, &err), 0);
	assert_int_equal(n, 0);
	store_close(st);
	strbuf_release(&err);
}

static void test_jobs(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t proj = add_project(st, "p");
	int64_t pl = add_pipeline(st, proj, "main", "running", "push");
	struct store_job j = {
		.pipeline_id = pl, .name = "test 1/2", .stage = "test", .stage_idx = 1,
		.plan_idx = 0, .status = "created", .when = "manual", .start_in_ms = 5,
		.allow_failure = 1, .interruptible = 1, .resource_group = "prod",
		.needs = "[{\"job\":3,\"artifacts\":true}]", .deps = "[3]",
		.max_retries = 2,
		.exit_code = 7, .runner = "ignored",	/* not plan fields */
	};
	struct store_job g, *a;
	size_t nr;
	int64_t id0, id1, id1b, n;

	assert_int_equal(store_job_add(st, &j, &err), 0);
	id0 = j.id;
	assert_true(id0 > 0);
	assert_int_equal(j.project_id, proj);
	assert_int_equal(j.attempt, 1);
	assert_true(j.created > 0);
	assert_int_equal(store_job_get(st, id0, &g, &err), 0);
	assert_int_equal(g.pipeline_id, pl);
	assert_int_equal(g.project_id, proj);
	assert_string_equal(g.project, "p");
	assert_string_equal(g.name, "test 1/2");
	assert_string_equal(g.stage, "test");
	assert_int_equal(g.stage_idx, 1);
	assert_string_equal(g.status, "created");
	assert_string_equal(g.when, "manual");
	assert_int_equal(g.start_in_ms, 5);
	assert_int_equal(g.allow_failure, 1);
	assert_int_equal(g.interruptible, 1);
	assert_string_equal(g.resource_group, "prod");
	assert_string_equal(g.needs, "[{\"job\":3,\"artifacts\":true}]");
	assert_string_equal(g.deps, "[3]");
	assert_int_equal(g.attempt, 1);
	assert_int_equal(g.max_retries, 2);
	assert_int_equal(g.retried, 0);
	assert_int_equal(g.exit_code, -1);
	assert_null(g.runner);
	assert_null(g.failure_reason);
	assert_int_equal(g.peak_mem, -1);
	assert_true(g.cpu < 0);
	assert_true(g.coverage < 0);
	assert_int_equal(g.tests_total, -1);
	assert_int_equal(g.created, j.created);
	assert_int_equal(g.queued, 0);
	store_job_release(&g);
	assert_int_equal(store_job_get(st, 999, &g, &err), STORE_NOTFOUND);

	/* plan 1: attempts 1 and 2; plan 2: one attempt; a pending job is queued */
	id1 = add_job(st, pl, 1, 1, "failed", 0, NULL);
	id1b = add_job(st, pl, 1, 2, "pending", 0, NULL);
	add_job(st, pl, 2, 1, "created", 0, NULL);
	assert_int_equal(store_job_get(st, id1b, &g, &err), 0);
	assert_true(g.queued > 0);
	assert_string_equal(g.when, "on_success");
	assert_null(g.resource_group);
	store_job_release(&g);
	assert_int_equal(store_job_set_retried(st, id1, &err), 0);
	assert_int_equal(store_job_set_retried(st, 999, &err), STORE_NOTFOUND);

	/* the same attempt twice; no such pipeline */
	j.id = 0;
	j.plan_idx = 1;
	j.attempt = 2;
	assert_int_equal(store_job_add(st, &j, &err), STORE_CONFLICT);
	j.pipeline_id = 999;
	j.attempt = 1;
	assert_int_equal(store_job_add(st, &j, &err), STORE_NOTFOUND);

	assert_int_equal(store_job_list(st, pl, 0, &a, &nr, &err), 0);
	assert_int_equal(nr, 3);
	assert_int_equal(a[0].id, id0);
	assert_int_equal(a[1].id, id1b);
	assert_int_equal(a[1].attempt, 2);
	assert_int_equal(a[2].plan_idx, 2);
	store_jobs_free(a, nr);
	assert_int_equal(store_job_list(st, pl, 1, &a, &nr, &err), 0);
	assert_int_equal(nr, 4);
	assert_int_equal(a[1].id, id1);
	assert_int_equal(a[1].retried, 1);
	assert_int_equal(a[2].id, id1b);
	store_jobs_free(a, nr);
	assert_int_equal(store_job_list(st, 999, 0, &a, &nr, &err), 0);
	assert_int_equal(nr, 0);
	store_jobs_free(a, nr);

	assert_int_equal(store_job_count(st, "pending", &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_job_count(st, "created", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_job_count(st, "nothing", &n, &err), 0);
	assert_int_equal(n, 0);

	/* the tally counts latest attempts by (status, allow_failure, started) */
	{
		struct store_job_group g2[8];
		size_t k, seen = 0;
		int64_t jf = add_job(st, pl, 3, 1, "created", 0, NULL);
		struct store_job f;

		add_job(st, pl, 4, 1, "created", 0, NULL);
		memset(&f, 0, sizeof(f));
		f.exit_code = 1;
		f.allow_failure = 1;
		assert_int_equal(store_job_transition(st, jf, "created", "failed", &f, &err), 0);
		assert_int_equal(store_job_tally(st, pl, g2, 8, &nr, &err), 0);
		for (k = 0; k < nr; k++) {
			if (!strcmp(g2[k].status, "created") && g2[k].allow_failure) {
				assert_int_equal(g2[k].n, 1);   /* plan 0 */
				seen++;
			} else if (!strcmp(g2[k].status, "created")) {
				assert_int_equal(g2[k].n, 2);   /* plan 2 and 4 */
				seen++;
			} else if (!strcmp(g2[k].status, "pending")) {
				assert_int_equal(g2[k].n, 1);   /* attempt 2 of plan 1 only */
				seen++;
			} else if (!strcmp(g2[k].status, "failed")) {
				assert_int_equal(g2[k].n, 1);
				assert_int_equal(g2[k].allow_failure, 1);
				assert_int_equal(g2[k].started, 0);
				seen++;
			}
		}
		assert_int_equal(seen, 4);
		assert_int_equal(nr, 4);
		assert_int_equal(store_job_tally(st, pl, g2, 3, &nr, &err), -1);
		assert_int_equal(store_job_tally(st, 999, g2, 8, &nr, &err), 0);
		assert_int_equal(nr, 0);
	}

	/* busy: a job to decide (created, scheduled), a running one */
	{
		int64_t p2 = add_pipeline(st, add_project(st, "busy"), "main", "running", "push");
		int64_t ja = add_job(st, p2, 0, 1, "scheduled", 0, NULL);
		int64_t jb = add_job(st, p2, 1, 1, "pending", 1, NULL);
		int und, run;

		assert_int_equal(store_job_busy(st, p2, &und, &run, &err), 0);
		assert_true(und && !run);
		assert_int_equal(store_job_transition(st, ja, "scheduled", "skipped", NULL, &err), 0);
		assert_int_equal(store_job_busy(st, p2, &und, &run, &err), 0);
		assert_true(!und && !run);
		assert_int_equal(store_job_transition(st, jb, "pending", "running", NULL, &err), 0);
		assert_int_equal(store_job_busy(st, p2, &und, &run, &err), 0);
		assert_true(!und && run);
		assert_int_equal(store_job_busy(st, pl, &und, &run, &err), 0);
		assert_true(und && !run);	/* the pipeline above: created jobs */
		assert_int_equal(store_job_busy(st, 999, &und, &run, &err), 0);
		assert_true(!und && !run);
	}

	store_close(st);
	strbuf_release(&err);
}

static void test_job_transition(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t id = add_job(st, pl, 0, 1, "created", 0, NULL);
	int64_t id2 = add_job(st, pl, 1, 1, "created", 0, NULL);
	struct store_job t = { .queued = 100 }, g, *a;
	size_t nr;

	assert_int_equal(store_job_transition(st, id, "created", "pending", &t, &err), 0);
	assert_int_equal(store_job_get(st, id, &g, &err), 0);
	assert_string_equal(g.status, "pending");
	assert_int_equal(g.queued, 100);
	assert_int_equal(g.started, 0);
	store_job_release(&g);

	/* lost compare-and-set, no such job */
	strbuf_reset(&err);
	assert_int_equal(store_job_transition(st, id, "created", "running", &t, &err),
			 STORE_CONFLICT);
	assert_true(err.len > 0);
	assert_int_equal(store_job_transition(st, 999, "created", "running", &t, &err),
			 STORE_NOTFOUND);
	assert_int_equal(store_job_transition(st, 999, NULL, "running", &t, &err),
			 STORE_NOTFOUND);

	t = (struct store_job){ .started = 200, .runner = "r1", .pid = 4242,
				.pid_start = 777, .exit_code = 3 };
	assert_int_equal(store_job_transition(st, id, "pending", "running", &t, &err), 0);
	assert_int_equal(store_job_get(st, id, &g, &err), 0);
	assert_string_equal(g.status, "running");
	assert_int_equal(g.queued, 100);
	assert_int_equal(g.started, 200);
	assert_string_equal(g.runner, "r1");
	assert_int_equal(g.pid, 4242);
	assert_int_equal(g.pid_start, 777);
	assert_int_equal(g.exit_code, -1);	/* not a field of running */
	store_job_release(&g);

	assert_int_equal(store_job_set_log_size(st, id, 50, &err), 0);
	assert_int_equal(store_job_set_log_size(st, 999, 50, &err), STORE_NOTFOUND);
	assert_int_equal(store_job_running(st, &a, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(a[0].id, id);
	assert_int_equal(a[0].log_size, 50);
	store_jobs_free(a, nr);

	t = (struct store_job){ .finished = 300, .exit_code = 1,
				.failure_reason = "script_failure", .peak_mem = 5242880,
				.cpu = 0.25, .log_size = 1234, .coverage = 87.5,
				.tests_total = 3, .tests_failed = 1, .tests_skipped = 1,
				.tests_errors = 0, .env_name = "review/main",
				.env_url = "https://x", .runner = "ignored" };
	assert_int_equal(store_job_transition(st, id, "running", "failed", &t, &err), 0);
	assert_int_equal(store_job_get(st, id, &g, &err), 0);
	assert_string_equal(g.status, "failed");
	assert_int_equal(g.started, 200);
	assert_int_equal(g.finished, 300);
	assert_int_equal(g.exit_code, 1);
	assert_string_equal(g.failure_reason, "script_failure");
	assert_int_equal(g.peak_mem, 5242880);
	assert_true(g.cpu == 0.25);
	assert_int_equal(g.log_size, 1234);
	assert_true(g.coverage == 87.5);
	assert_int_equal(g.tests_total, 3);
	assert_int_equal(g.tests_failed, 1);
	assert_int_equal(g.tests_skipped, 1);
	assert_int_equal(g.tests_errors, 0);
	assert_string_equal(g.env_name, "review/main");
	assert_string_equal(g.env_url, "https://x");
	assert_string_equal(g.runner, "r1");
	store_job_release(&g);
	assert_int_equal(store_job_running(st, &a, &nr, &err), 0);
	assert_int_equal(nr, 0);
	store_jobs_free(a, nr);

	/* no record: timestamps now, results unknown, log size kept; other
	 * statuses change only the status */
	assert_int_equal(store_job_transition(st, id2, NULL, "manual", NULL, &err), 0);
	assert_int_equal(store_job_set_log_size(st, id2, 9, &err), 0);
	assert_int_equal(store_job_transition(st, id2, "manual", "canceled", NULL, &err), 0);
	assert_int_equal(store_job_get(st, id2, &g, &err), 0);
	assert_string_equal(g.status, "canceled");
	assert_true(g.finished > 0);
	assert_int_equal(g.exit_code, -1);
	assert_int_equal(g.log_size, 9);
	assert_int_equal(g.queued, 0);
	store_job_release(&g);
	assert_int_equal(store_job_transition(st, id2, NULL, NULL, NULL, &err), -1);

	store_close(st);
	strbuf_release(&err);
}

/* scheduled keeps its due time; a finish fills allow_failure unless no
 * record is given; back to created forgets the last run */
static void test_job_reset(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	struct store_job j = { .pipeline_id = pl, .name = "deploy", .stage = "deploy",
			       .allow_failure = 1,
			       .retry_when = "{\"when\":[\"script_failure\"]}" };
	struct store_job t = { .queued = 5000 }, g;

	assert_int_equal(store_job_add(st, &j, &err), 0);
	assert_int_equal(store_job_get(st, j.id, &g, &err), 0);
	assert_string_equal(g.retry_when, "{\"when\":[\"script_failure\"]}");
	store_job_release(&g);

	assert_int_equal(store_job_transition(st, j.id, "created", "scheduled", &t, &err), 0);
	assert_int_equal(store_job_get(st, j.id, &g, &err), 0);
	assert_string_equal(g.status, "scheduled");
	assert_int_equal(g.queued, 5000);
	store_job_release(&g);

	assert_int_equal(store_job_transition(st, j.id, "scheduled", "canceled", NULL, &err), 0);
	assert_int_equal(store_job_get(st, j.id, &g, &err), 0);
	assert_int_equal(g.allow_failure, 1);
	store_job_release(&g);

	t = (struct store_job){ .finished = 9000, .exit_code = 2, .failure_reason = "x",
				.log_size = 10, .tests_total = 4, .env_name = "prod",
				.allow_failure = 0 };
	assert_int_equal(store_job_transition(st, j.id, NULL, "failed", &t, &err), 0);
	assert_int_equal(store_job_get(st, j.id, &g, &err), 0);
	assert_int_equal(g.allow_failure, 0);
	assert_int_equal(g.exit_code, 2);
	store_job_release(&g);

	assert_int_equal(store_job_transition(st, j.id, "failed", "created", NULL, &err), 0);
	assert_int_equal(store_job_get(st, j.id, &g, &err), 0);
	assert_string_equal(g.status, "created");
	assert_int_equal(g.created, j.created);
	assert_int_equal(g.queued, 0);
	assert_int_equal(g.finished, 0);
	assert_int_equal(g.exit_code, -1);
	assert_null(g.failure_reason);
	assert_int_equal(g.log_size, 0);
	assert_int_equal(g.tests_total, -1);
	assert_null(g.env_name);
	store_job_release(&g);

	store_close(st);
	strbuf_release(&err);
}

/* ---- the queue ---- */

static int64_t claim(struct store *st, const char *runner)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job j;
	int64_t id;
	int r = store_job_claim(st, runner, 0, &j, &err);

	if (r == STORE_NOTFOUND)
		return 0;
	if (r)
		fail_msg("claim: %s", err.buf);
	assert_string_equal(j.status, "running");
	assert_string_equal(j.runner, runner);
	assert_true(j.started > 0);
	id = j.id;
	store_job_release(&j);
	strbuf_release(&err);
	return id;
}

static void test_claim_order(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t late = add_job(st, pl, 0, 1, "pending", 300, NULL);
	int64_t tie1 = add_job(st, pl, 1, 1, "pending", 200, NULL);
	int64_t tie2 = add_job(st, pl, 2, 1, "pending", 200, NULL);
	int64_t early = add_job(st, pl, 3, 1, "pending", 100, NULL);
	struct store_job j;

	add_job(st, pl, 4, 1, "created", 50, NULL);
	add_job(st, pl, 5, 1, "manual", 50, NULL);
	add_job(st, pl, 6, 1, "success", 50, NULL);

	assert_int_equal(store_job_claim(st, "r", 12345, &j, &err), 0);
	assert_int_equal(j.id, early);
	assert_int_equal(j.started, 12345);
	assert_string_equal(j.project, "p");
	store_job_release(&j);
	assert_int_equal(claim(st, "r"), tie1);
	assert_int_equal(claim(st, "r"), tie2);
	assert_int_equal(claim(st, "r"), late);
	assert_int_equal(claim(st, "r"), 0);
	assert_int_equal(store_job_claim(st, "r", 0, &j, &err), STORE_NOTFOUND);

	store_close(st);
	strbuf_release(&err);
}

static void test_claim_resource_group(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t prod1 = add_job(st, pl, 0, 1, "pending", 100, "prod");
	int64_t prod2 = add_job(st, pl, 1, 1, "pending", 200, "prod");
	int64_t other = add_job(st, pl, 2, 1, "pending", 300, NULL);
	int64_t stage1 = add_job(st, pl, 3, 1, "pending", 400, "staging");

	assert_int_equal(claim(st, "r"), prod1);
	/* prod2 is older than the rest but its group is busy */
	assert_int_equal(claim(st, "r"), other);
	assert_int_equal(claim(st, "r"), stage1);
	assert_int_equal(claim(st, "r"), 0);
	assert_int_equal(store_job_transition(st, prod1, "running", "success", NULL, &err), 0);
	assert_int_equal(claim(st, "r"), prod2);
	assert_int_equal(claim(st, "r"), 0);

	store_close(st);
	strbuf_release(&err);
}

/* Claims inside the caller's transaction (a savepoint) roll back with it. */
static void test_transactions(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t id = add_job(st, pl, 0, 1, "pending", 1, NULL);
	struct store_project q;

	assert_int_equal(store_begin(st, &err), 0);
	assert_int_equal(store_begin(st, &err), -1);
	add_project(st, "gone");
	assert_int_equal(claim(st, "r"), id);
	store_rollback(st);
	store_rollback(st);
	assert_int_equal(store_project_get(st, "gone", &q, &err), STORE_NOTFOUND);

	assert_int_equal(store_begin(st, &err), 0);
	add_project(st, "kept");
	assert_int_equal(claim(st, "r"), id);
	assert_int_equal(store_commit(st, &err), 0);
	assert_int_equal(store_commit(st, &err), -1);
	assert_int_equal(store_project_get(st, "kept", &q, &err), 0);
	store_project_release(&q);
	assert_int_equal(claim(st, "r"), 0);

	store_close(st);
	strbuf_release(&err);
}

#define CLAIMERS 4
#define QUEUED 300

/*
 * CLAIMERS processes, each with its own handle on one file, claim until
 * the queue is empty: every job is claimed exactly once.
 */
static void test_claim_processes(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *path = db_path();
	struct store *st = open_ok(path);
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t first = 0, n;
	unsigned char *seen = xcalloc(QUEUED, 1);
	int fds[CLAIMERS][2], got[CLAIMERS] = { 0 }, total = 0;
	pid_t pids[CLAIMERS];
	int i, k;

	assert_int_equal(store_begin(st, &err), 0);
	for (i = 0; i < QUEUED; i++) {
		int64_t id = add_job(st, pl, i, 1, "pending", 1000 + i % 7, NULL);

		if (!first)
			first = id;
	}
	assert_int_equal(store_commit(st, &err), 0);
	store_close(st);

	for (k = 0; k < CLAIMERS; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0) {
			struct store *cs = NULL;
			char runner[16];
			int64_t id;
			int status = 0;

			close(fds[k][0]);
			snprintf(runner, sizeof(runner), "r%d", k);
			if (store_open(path, &cs, NULL))
				_exit(2);
			for (;;) {
				struct store_job j;
				int r = store_job_claim(cs, runner, 0, &j, NULL);

				if (r == STORE_NOTFOUND)
					break;
				if (r) {
					status = 3;
					break;
				}
				id = j.id;
				store_job_release(&j);
				if (write(fds[k][1], &id, sizeof(id)) != sizeof(id)) {
					status = 4;
					break;
				}
			}
			store_close(cs);
			_exit(status);
		}
		close(fds[k][1]);
	}
	for (k = 0; k < CLAIMERS; k++) {
		int64_t id;
		int wst;

		while (read(fds[k][0], &id, sizeof(id)) == sizeof(id)) {
			assert_true(id >= first && id < first + QUEUED);
			assert_int_equal(seen[id - first], 0);
			seen[id - first] = 1;
			got[k]++;
			total++;
		}
		close(fds[k][0]);
		assert_int_equal(waitpid(pids[k], &wst, 0), pids[k]);
		assert_true(WIFEXITED(wst));
		assert_int_equal(WEXITSTATUS(wst), 0);
	}
	assert_int_equal(total, QUEUED);

	st = open_ok(path);
	assert_int_equal(store_job_count(st, "running", &n, &err), 0);
	assert_int_equal(n, QUEUED);
	assert_int_equal(store_job_count(st, "pending", &n, &err), 0);
	assert_int_equal(n, 0);
	store_close(st);
	free(seen);
	free(path);
	strbuf_release(&err);
}

/* Two handles in one process see each other's claims. */
static void test_claim_two_handles(void **state)
{
	char *path = db_path();
	struct store *a = open_ok(path), *b = open_ok(path);
	int64_t pl = add_pipeline(a, add_project(a, "p"), "main", "running", "push");
	int64_t j1 = add_job(a, pl, 0, 1, "pending", 1, NULL);
	int64_t j2 = add_job(a, pl, 1, 1, "pending", 2, NULL);

	assert_int_equal(claim(b, "b"), j1);
	assert_int_equal(claim(a, "a"), j2);
	assert_int_equal(claim(b, "b"), 0);
	assert_int_equal(claim(a, "a"), 0);
	store_close(a);
	store_close(b);
	free(path);
}

/* ---- pipeline schedules ---- */

static int64_t add_schedule(struct store *st, int64_t project, const char *cron,
			    int64_t next, int active, int max)
{
	struct store_schedule s = {
		.project_id = project, .description = "nightly", .cron = (char *)cron,
		.cron_timezone = "UTC", .ref = "main", .variables = "{\"A\":\"1\"}",
		.active = active, .owner = 7, .next_run_at = next,
	};
	struct strbuf err = STRBUF_INIT;
	int rc = store_schedule_add(st, &s, max, &err);

	strbuf_release(&err);
	return rc ? rc : s.id;
}

static void test_schedules(void **state)
{
	char *path = db_path();
	struct store *st = open_ok(path), *other = open_ok(path);
	struct strbuf err = STRBUF_INIT;
	struct store_schedule *a = NULL, one;
	struct store_pipeline pl;
	int64_t p = add_project(st, "p"), q = add_project(st, "q"), s1, s2, s3, next, n;
	size_t nr = 0;

	s1 = add_schedule(st, p, "0 3 * * *", 1000, 1, 2);
	s2 = add_schedule(st, p, "*/5 * * * *", 500, 1, 2);
	assert_true(s1 > 0 && s2 > s1);
	/* the per-project limit, counted by the insert itself */
	assert_int_equal(add_schedule(st, p, "@daily", 1, 1, 2), STORE_CONFLICT);
	s3 = add_schedule(st, q, "@daily", 2000, 0, 2);
	assert_true(s3 > s2);
	assert_int_equal(add_schedule(st, 9999, "@daily", 1, 1, 2), STORE_NOTFOUND);
	assert_int_equal(store_schedule_count(st, p, &n, &err), 0);
	assert_int_equal(n, 2);

	assert_int_equal(store_schedule_list(st, p, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(a[0].id, s1);
	assert_string_equal(a[0].cron, "0 3 * * *");
	assert_string_equal(a[0].variables, "{\"A\":\"1\"}");
	assert_string_equal(a[0].ref, "main");
	assert_int_equal(a[0].owner, 7);
	assert_true(a[0].created > 0);
	store_schedules_free(a, nr);

	/* get is per project: another project's id is not found */
	memset(&one, 0, sizeof(one));
	assert_int_equal(store_schedule_get(st, q, s1, &one, &err), STORE_NOTFOUND);
	strbuf_reset(&err);
	assert_int_equal(store_schedule_get(st, p, s1, &one, &err), 0);
	free(one.ref);
	one.ref = NULL;	/* the default branch */
	free(one.description);
	one.description = xstrdup("renamed");
	one.next_run_at = 1500;
	assert_int_equal(store_schedule_update(st, &one, &err), 0);
	store_schedule_release(&one);
	assert_int_equal(store_schedule_get(st, p, s1, &one, &err), 0);
	assert_null(one.ref);
	assert_string_equal(one.description, "renamed");
	assert_int_equal(one.next_run_at, 1500);
	store_schedule_release(&one);

	/* due: active ones only, earliest first; the next due time */
	assert_int_equal(store_schedule_next_due(st, &next, &err), 0);
	assert_int_equal(next, 500);
	assert_int_equal(store_schedule_due(st, 1600, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(a[0].id, s2);
	assert_int_equal(a[1].id, s1);
	store_schedules_free(a, nr);
	assert_int_equal(store_schedule_due(st, 2500, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);	/* s3 is inactive */
	store_schedules_free(a, nr);

	/* the claim is compare-and-set on next_run_at, across handles */
	assert_int_equal(store_schedule_claim(st, s2, 500, 800, &err), 0);
	assert_int_equal(store_schedule_claim(other, s2, 500, 800, &err), STORE_CONFLICT);
	strbuf_reset(&err);
	assert_int_equal(store_schedule_claim(other, s2, 800, 1100, &err), 0);
	/* an inactive one cannot be claimed */
	assert_int_equal(store_schedule_claim(st, s3, 2000, 3000, &err), STORE_CONFLICT);
	strbuf_reset(&err);

	/* a pipeline names its schedule */
	memset(&pl, 0, sizeof(pl));
	pl.project_id = p;
	pl.ref = "main";
	pl.sha = "0123456789abcdef0123456789abcdef01234567";
	pl.source = "schedule";
	pl.schedule_id = s2;
	assert_int_equal(store_pipeline_add(st, &pl, &err), 0);
	n = pl.id;
	memset(&pl, 0, sizeof(pl));
	assert_int_equal(store_pipeline_get(st, n, &pl, &err), 0);
	assert_int_equal(pl.schedule_id, s2);
	assert_string_equal(pl.source, "schedule");
	assert_int_equal(store_schedule_ran(st, s2, pl.id, 1, &err), 0);
	store_pipeline_release(&pl);
	memset(&one, 0, sizeof(one));
	assert_int_equal(store_schedule_get(st, p, s2, &one, &err), 0);
	assert_int_equal(one.last_pipeline_id, n);
	assert_true(one.active);
	store_schedule_release(&one);
	/* ran with active 0: deactivated */
	assert_int_equal(store_schedule_ran(st, s2, 1, 0, &err), 0);
	assert_int_equal(store_schedule_get(st, p, s2, &one, &err), 0);
	assert_false(one.active);
	store_schedule_release(&one);

	assert_int_equal(store_schedule_delete(st, q, s1, &err), STORE_NOTFOUND);
	strbuf_reset(&err);
	assert_int_equal(store_schedule_delete(st, p, s1, &err), 0);
	assert_int_equal(store_schedule_delete(st, p, s1, &err), STORE_NOTFOUND);
	/* a freed slot is usable again */
	assert_true(add_schedule(st, p, "@hourly", 1, 1, 2) > s3);
	strbuf_release(&err);
	store_close(st);
	store_close(other);
	free(path);
}

/* ---- tests, artifacts, tokens ---- */

/* A job's dotenv: none until set, then the text; set again replaces it. */
static void test_job_dotenv(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t job = add_job(st, pl, 0, 1, "success", 0, NULL);
	char *text = (char *)"x";

	assert_int_equal(store_job_dotenv(st, job, &text, &err), 0);
	assert_null(text);
	assert_int_equal(store_job_set_dotenv(st, job, "{\"A\":\"1\"}", &err), 0);
	assert_int_equal(store_job_dotenv(st, job, &text, &err), 0);
	assert_string_equal(text, "{\"A\":\"1\"}");
	free(text);
	assert_int_equal(store_job_set_dotenv(st, job, NULL, &err), 0);
	assert_int_equal(store_job_dotenv(st, job, &text, &err), 0);
	assert_null(text);
	strbuf_reset(&err);
	assert_int_equal(store_job_set_dotenv(st, 999, "{}", &err), STORE_NOTFOUND);
	assert_string_equal(err.buf, "no job 999");
	strbuf_reset(&err);
	assert_int_equal(store_job_dotenv(st, 999, &text, &err), STORE_NOTFOUND);
	assert_null(text);
	store_close(st);
	strbuf_release(&err);
}

static void test_job_defs(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t other = add_pipeline(st, add_project(st, "q"), "main", "running", "push");
	char *g = (char *)"x", *d = (char *)"x";

	(void)state;
	/* nothing kept: both NULL, not an error (an older server's pipeline) */
	assert_int_equal(store_job_defs(st, pl, 0, &g, &d, &err), 0);
	assert_null(g);
	assert_null(d);
	assert_int_equal(store_job_def_add(st, pl, -1, "M0:", &err), 0);
	assert_int_equal(store_job_def_add(st, pl, 0, "M1:1:aM0:", &err), 0);
	assert_int_equal(store_job_def_add(st, pl, 1, "M1:1:bM0:", &err), 0);
	assert_int_equal(store_job_def_add(st, other, 1, "M1:1:xM0:", &err), 0);
	assert_int_equal(store_job_def_add(st, other, 1, "M1:1:cM0:", &err), 0);	/* replaces */
	assert_int_equal(store_job_defs(st, pl, 1, &g, &d, &err), 0);
	assert_string_equal(g, "M0:");
	assert_string_equal(d, "M1:1:bM0:");
	free(g);
	free(d);
	assert_int_equal(store_job_defs(st, pl, 7, &g, &d, &err), 0);
	assert_string_equal(g, "M0:");
	assert_null(d);
	free(g);
	assert_int_equal(store_job_defs(st, other, 1, &g, &d, &err), 0);
	assert_null(g);
	assert_string_equal(d, "M1:1:cM0:");
	free(d);
	/* a pipeline that does not exist has no definitions */
	assert_true(store_job_def_add(st, 999, 0, "M0:", &err) < 0);
	store_close(st);
	strbuf_release(&err);
}

static void test_test_cases(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t job = add_job(st, pl, 0, 1, "running", 0, NULL);
	struct store_test in[] = {
		{ "s", "c", "ok", "passed", 0.5, NULL },
		{ "s", "c", "bad", "failed", 1.5, "expected 1" },
		{ "s", "c", "skip", "skipped", 0, NULL },
		{ "s", "c", "err", "error", 2, "segfault" },
	}, *a;
	size_t nr;

	assert_int_equal(store_tests_add(st, job, in, 4, &err), 0);
	assert_int_equal(store_tests_add(st, job, in, 0, &err), 0);
	assert_int_equal(store_tests_add(st, 999, in, 4, &err), STORE_NOTFOUND);
	assert_int_equal(store_tests_list(st, job, 0, &a, &nr, &err), 0);
	assert_int_equal(nr, 4);
	assert_string_equal(a[0].name, "ok");
	assert_null(a[0].message);
	assert_true(a[1].time == 1.5);
	assert_string_equal(a[3].suite, "s");
	assert_string_equal(a[3].classname, "c");
	store_tests_free(a, nr);
	assert_int_equal(store_tests_list(st, job, 1, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(a[0].name, "bad");
	assert_string_equal(a[0].status, "failed");
	assert_string_equal(a[0].message, "expected 1");
	assert_string_equal(a[1].name, "err");
	store_tests_free(a, nr);
	assert_int_equal(store_tests_list(st, 999, 0, &a, &nr, &err), 0);
	assert_int_equal(nr, 0);
	store_tests_free(a, nr);

	store_close(st);
	strbuf_release(&err);
}

static void test_artifacts(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t pl = add_pipeline(st, add_project(st, "p"), "main", "running", "push");
	int64_t job = add_job(st, pl, 0, 1, "running", 0, NULL);
	struct store_artifact in[2] = {
		{ .path = "dist/app", .size = 1000, .mode = 0755, .crc32 = 0xFEDCBA98 },
		{ .path = "README", .size = 5, .mode = 0644, .crc32 = -1 },
	}, g, *a;
	size_t nr;

	memset(in[0].sha256, 'a', 64);
	memset(in[1].sha256, 'b', 64);
	assert_int_equal(store_artifacts_add(st, job, in, 2, &err), 0);
	assert_int_equal(store_artifacts_list(st, job, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(a[0].path, "README");
	assert_int_equal(a[0].size, 5);
	assert_int_equal(a[0].mode, 0644);
	assert_int_equal(strlen(a[0].sha256), 64);
	assert_int_equal(a[0].sha256[0], 'b');
	assert_true(a[0].crc32 == -1);          /* not known: NULL, not 0 */
	assert_string_equal(a[1].path, "dist/app");
	assert_true(a[1].crc32 == 0xFEDCBA98);  /* all 32 bits, none negative */
	store_artifacts_free(a, nr);

	assert_int_equal(store_artifact_get(st, job, "dist/app", &g, &err), 0);
	assert_int_equal(g.size, 1000);
	assert_int_equal(g.mode, 0755);
	assert_true(g.crc32 == 0xFEDCBA98);
	store_artifact_release(&g);
	/* a CRC learnt for a blob: rows without one get it, the others keep theirs */
	{
		char b[65], a64[65];

		memset(b, 'b', 64);
		b[64] = '\0';
		memset(a64, 'a', 64);
		a64[64] = '\0';
		assert_int_equal(store_artifacts_set_crc(st, b, 0x1234, &err), 0);
		assert_int_equal(store_artifacts_set_crc(st, a64, 0x5678, &err), 0);
	}
	assert_int_equal(store_artifact_get(st, job, "README", &g, &err), 0);
	assert_true(g.crc32 == 0x1234);
	store_artifact_release(&g);
	assert_int_equal(store_artifact_get(st, job, "dist/app", &g, &err), 0);
	assert_true(g.crc32 == 0xFEDCBA98);
	assert_int_equal(g.sha256[63], 'a');
	store_artifact_release(&g);
	assert_int_equal(store_artifact_get(st, job, "nope", &g, &err), STORE_NOTFOUND);

	/* an upload retried replaces; a path-less one is refused; no such job */
	in[0].size = 2000;
	assert_int_equal(store_artifacts_add(st, job, in, 1, &err), 0);
	assert_int_equal(store_artifact_get(st, job, "dist/app", &g, &err), 0);
	assert_int_equal(g.size, 2000);
	store_artifact_release(&g);
	in[1].path = NULL;
	assert_int_equal(store_artifacts_add(st, job, in, 2, &err), -1);
	assert_int_equal(store_artifacts_add(st, 999, in, 1, &err), STORE_NOTFOUND);

	store_close(st);
	strbuf_release(&err);
}

/* A job with one artifact file of blob sha (a letter repeated), expiring at expire_at. */
static int64_t add_job_art(struct store *st, int64_t pipeline, int plan_idx, char sha,
			   int64_t expire_at)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact a = { .path = "out/f", .size = 10, .mode = 0644, .crc32 = -1 };
	int64_t id = add_job(st, pipeline, plan_idx, 1, "success", 0, NULL);

	memset(a.sha256, sha, 64);
	assert_int_equal(store_artifacts_add(st, id, &a, 1, &err), 0);
	assert_int_equal(store_artifacts_set_expiry(st, id, expire_at, &err), 0);
	strbuf_release(&err);
	return id;
}

static int blob_used(struct store *st, char sha)
{
	struct strbuf err = STRBUF_INIT;
	char hex[65];
	int used = -1;

	memset(hex, sha, 64);
	hex[64] = '\0';
	assert_int_equal(store_artifact_blob_used(st, hex, &used, &err), 0);
	strbuf_release(&err);
	return used;
}

static int64_t expired_at(struct store *st, int64_t job)
{
	struct strbuf err = STRBUF_INIT;
	struct store_job j;
	int64_t r;

	assert_int_equal(store_job_get(st, job, &j, &err), 0);
	r = j.artifacts_expired;
	store_job_release(&j);
	strbuf_release(&err);
	return r;
}

static size_t artifacts_nr(struct store *st, int64_t job)
{
	struct strbuf err = STRBUF_INIT;
	struct store_artifact *a;
	size_t nr;

	assert_int_equal(store_artifacts_list(st, job, &a, &nr, &err), 0);
	store_artifacts_free(a, nr);
	strbuf_release(&err);
	return nr;
}

static size_t expire(struct store *st, int64_t now, int keep_latest, int limit)
{
	struct strbuf err = STRBUF_INIT;
	int64_t *ids = NULL;
	size_t nr = 0;

	if (store_artifacts_expire(st, now, keep_latest, limit, &ids, &nr, &err))
		fail_msg("expire: %s", err.buf);
	free(ids);
	strbuf_release(&err);
	return nr;
}

static void test_retention(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	int64_t prj = add_project(st, "p");
	int64_t pl1 = add_pipeline(st, prj, "main", "success", "push");
	int64_t pl2 = add_pipeline(st, prj, "main", "success", "push");
	int64_t pl3 = add_pipeline(st, prj, "main", "failed", "push");
	int64_t pl4 = add_pipeline(st, prj, "dev", "success", "push");
	int64_t j1 = add_job_art(st, pl1, 0, 'a', 1000);
	int64_t j5 = add_job_art(st, pl1, 1, 'c', 5000);
	int64_t j6 = add_job_art(st, pl1, 2, 'c', 1000);
	int64_t j4 = add_job_art(st, pl1, 3, 'd', 0);   /* never */
	int64_t j2 = add_job_art(st, pl2, 0, 'b', 1000);
	int64_t j3 = add_job_art(st, pl3, 0, 'e', 1000);
	int64_t j7 = add_job_art(st, pl4, 0, 'f', 1000);
	int64_t pl5, *ids;
	size_t nr;
	struct store_job j;

	/* the expiry is read back with the job */
	assert_int_equal(store_job_get(st, j1, &j, &err), 0);
	assert_int_equal(j.artifacts_expire_at, 1000);
	assert_int_equal(j.artifacts_expired, 0);
	store_job_release(&j);
	assert_int_equal(store_job_get(st, j4, &j, &err), 0);
	assert_int_equal(j.artifacts_expire_at, 0);
	store_job_release(&j);

	/* nothing due yet */
	assert_int_equal(expire(st, 999, 1, 100), 0);

	/*
	 * At 2000, keep_latest: pl2 is main's newest success (pl3 failed),
	 * pl4 dev's; j5 is not due, j4 never. j1, j6 (pl1) and j3 (pl3) go,
	 * at most 2 per call, soonest first.
	 */
	assert_int_equal(expire(st, 2000, 1, 2), 2);
	assert_int_equal(expire(st, 2000, 1, 100), 1);
	assert_int_equal(expire(st, 2000, 1, 100), 0);
	assert_int_equal(expired_at(st, j1), 2000);
	assert_int_equal(expired_at(st, j6), 2000);
	assert_int_equal(expired_at(st, j3), 2000);
	assert_int_equal(expired_at(st, j2), 0);
	assert_int_equal(expired_at(st, j5), 0);
	assert_int_equal(expired_at(st, j7), 0);
	assert_int_equal(artifacts_nr(st, j1), 0);
	assert_int_equal(artifacts_nr(st, j3), 0);
	assert_int_equal(artifacts_nr(st, j2), 1);
	/* blob a was j1's alone; c is still j5's (j6 shared it) */
	assert_int_equal(blob_used(st, 'a'), 0);
	assert_int_equal(blob_used(st, 'c'), 1);
	assert_int_equal(blob_used(st, 'e'), 0);
	assert_int_equal(blob_used(st, 'b'), 1);

	/* keep on expired artifacts: a conflict; on no job: not found */
	assert_int_equal(store_artifacts_set_expiry(st, j1, 0, &err), STORE_CONFLICT);
	assert_int_equal(store_artifacts_set_expiry(st, 9999, 0, &err), STORE_NOTFOUND);

	/* a newer successful pipeline of main releases pl2's */
	pl5 = add_pipeline(st, prj, "main", "success", "push");
	assert_true(pl5 > pl3);
	assert_int_equal(expire(st, 3000, 1, 100), 1);
	assert_int_equal(expired_at(st, j2), 3000);
	assert_int_equal(blob_used(st, 'b'), 0);

	/* without keep_latest dev's newest goes too; a kept one never */
	assert_int_equal(store_artifacts_set_expiry(st, j5, 0, &err), 0);
	assert_int_equal(store_artifacts_expire(st, 1000000, 0, 100, &ids, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(ids[0], j7);
	free(ids);
	assert_int_equal(expired_at(st, j4), 0);
	assert_int_equal(expired_at(st, j5), 0);
	assert_int_equal(blob_used(st, 'c'), 1);
	assert_int_equal(blob_used(st, 'd'), 1);

	store_close(st);
	strbuf_release(&err);
}

static void test_audit_prune(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	struct store_audit a = { .actor = "admin", .remote = "127.0.0.1",
				 .action = "user.add", .target = "user x", .detail = "" }, *l;
	int64_t n = -1;
	size_t nr;

	a.time = 100;
	assert_int_equal(store_audit_add(st, &a, &err), 0);
	a.time = 200;
	assert_int_equal(store_audit_add(st, &a, &err), 0);
	a.time = 300;
	assert_int_equal(store_audit_add(st, &a, &err), 0);
	assert_int_equal(store_audit_prune(st, 250, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_audit_list(st, 10, 0, &l, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(l[0].time, 300);
	store_audit_free(l, nr);
	assert_int_equal(store_audit_prune(st, 250, &n, &err), 0);
	assert_int_equal(n, 0);
	store_close(st);
	strbuf_release(&err);
}

static void test_tokens(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	char h1[65], h2[65], *name = NULL;
	int64_t id = 0, n = -1;

	memset(h1, '1', 64);
	h1[64] = '\0';
	memset(h2, '2', 64);
	h2[64] = '\0';
	assert_int_equal(store_token_count(st, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_token_check(st, h1, &name, &err), STORE_NOTFOUND);
	assert_null(name);
	assert_int_equal(store_token_add(st, "admin", h1, &id, &err), 0);
	assert_true(id > 0);
	assert_int_equal(store_token_add(st, "again", h1, &id, &err), STORE_CONFLICT);
	assert_int_equal(store_token_add(st, "short", "abc", &id, &err), -1);
	assert_int_equal(store_token_add(st, "ci", h2, NULL, &err), 0);
	assert_int_equal(store_token_check(st, h1, &name, &err), 0);
	assert_string_equal(name, "admin");
	free(name);
	assert_int_equal(store_token_check(st, h2, NULL, &err), 0);
	assert_int_equal(store_token_check(st, "", NULL, &err), STORE_NOTFOUND);
	assert_int_equal(store_token_count(st, &n, &err), 0);
	assert_int_equal(n, 2);

	store_close(st);
	strbuf_release(&err);
}

/* Users, sessions, members, tokens of users, visibility, variables, audit. */
static void test_accounts(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = open_new();
	struct store_user u = { .login = "alice", .password = "$argon2id$x" }, got;
	struct store_user dup = { .login = "alice" }, bad = { .login = "-x" };
	struct store_session se = { .expires = 1000 }, sg;
	struct store_token *tl = NULL, tk;
	struct store_member *ml = NULL;
	struct store_variable *vl = NULL;
	struct store_audit a = { .actor = "alice", .remote = "127.0.0.1", .action = "x.y",
				 .target = "t" }, *al = NULL;
	struct store_pipeline_filter f = { .limit = 10 };
	struct store_pipeline *pl = NULL;
	int64_t p1 = add_project(st, "one"), p2 = add_project(st, "two"), tid;
	char h[65];
	size_t n = 0;
	int role = -1;

	add_pipeline(st, p1, "main", "success", "api");
	add_pipeline(st, p2, "main", "success", "api");
	assert_int_equal(store_user_add(st, &u, &err), 0);
	assert_true(u.id > 0);
	assert_int_equal(store_user_add(st, &dup, &err), STORE_CONFLICT);
	assert_int_equal(store_user_add(st, &bad, &err), -1);
	assert_int_equal(store_user_get(st, "alice", &got, &err), 0);
	assert_string_equal(got.password, "$argon2id$x");
	assert_string_equal(got.name, "");
	store_user_release(&got);
	assert_int_equal(store_user_get(st, "bob", &got, &err), STORE_NOTFOUND);
	assert_int_equal(store_user_update(st, u.id, "$argon2id$y", -1, 1, &err), 0);
	assert_int_equal(store_user_update(st, u.id + 99, NULL, 1, -1, &err), STORE_NOTFOUND);
	assert_int_equal(store_user_get_id(st, u.id, &got, &err), 0);
	assert_string_equal(got.password, "$argon2id$y");
	assert_int_equal(got.disabled, 1);
	assert_int_equal(got.admin, 0);
	store_user_release(&got);

	/* sessions: by hash; expired ones go with the next delete */
	memset(h, 'a', 64);
	h[64] = '\0';
	se.user_id = u.id;
	strcpy(se.csrf, "c");
	assert_int_equal(store_session_add(st, h, &se, &err), 0);
	assert_int_equal(store_session_get(st, h, &sg, &err), 0);
	assert_int_equal(sg.user_id, u.id);
	assert_string_equal(sg.csrf, "c");
	h[0] = 'b';
	assert_int_equal(store_session_delete(st, h, 2000, &err), 0);
	h[0] = 'a';
	assert_int_equal(store_session_get(st, h, &sg, &err), STORE_NOTFOUND);

	/* members and what a user may list */
	assert_int_equal(store_member_role(st, p1, u.id, &role, &err), 0);
	assert_int_equal(role, 0);
	assert_int_equal(store_member_set(st, p1, u.id, 2, &err), 0);
	assert_int_equal(store_member_set(st, p1, u.id, 3, &err), 0);
	assert_int_equal(store_member_set(st, p1, u.id, 4, &err), -1);
	assert_int_equal(store_member_set(st, p1, 999, 1, &err), STORE_NOTFOUND);
	assert_int_equal(store_member_role(st, p1, u.id, &role, &err), 0);
	assert_int_equal(role, 3);
	assert_int_equal(store_member_list(st, p1, &ml, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ml[0].login, "alice");
	store_members_free(ml, n);
	f.visible_to = u.id;
	assert_int_equal(store_pipeline_list(st, &f, &pl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pl[0].project_id, p1);
	store_pipelines_free(pl, n);
	f.visible_to = -1;
	assert_int_equal(store_pipeline_list(st, &f, &pl, &n, &err), 0);
	assert_int_equal(n, 0);
	store_pipelines_free(pl, n);
	assert_int_equal(store_project_set_public(st, "two", 1, &err), 0);
	assert_int_equal(store_project_set_public(st, "nope", 1, &err), STORE_NOTFOUND);
	{
		/* protected branches: NULL (the default branch), "" (none), a list */
		struct store_project pp;

		assert_int_equal(store_project_get(st, "two", &pp, &err), 0);
		assert_null(pp.protected_branches);
		store_project_release(&pp);
		assert_int_equal(store_project_set_protected(st, "two", "main,release/*", &err), 0);
		assert_int_equal(store_project_get(st, "two", &pp, &err), 0);
		assert_string_equal(pp.protected_branches, "main,release/*");
		store_project_release(&pp);
		assert_int_equal(store_project_set_protected(st, "two", "", &err), 0);
		assert_int_equal(store_project_get(st, "two", &pp, &err), 0);
		assert_string_equal(pp.protected_branches, "");
		store_project_release(&pp);
		assert_int_equal(store_project_set_protected(st, "two", NULL, &err), 0);
		assert_int_equal(store_project_get(st, "two", &pp, &err), 0);
		assert_null(pp.protected_branches);
		store_project_release(&pp);
		assert_int_equal(store_project_set_protected(st, "nope", "", &err),
				 STORE_NOTFOUND);
	}
	assert_int_equal(store_pipeline_list(st, &f, &pl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pl[0].project_id, p2);
	store_pipelines_free(pl, n);
	assert_int_equal(store_member_delete(st, p1, u.id, &err), 0);
	assert_int_equal(store_member_delete(st, p1, u.id, &err), STORE_NOTFOUND);

	/* tokens of a user: listed, revoked, then not found */
	memset(h, 'd', 64);
	assert_int_equal(store_token_add_user(st, "laptop", h, u.id, &tid, &err), 0);
	assert_int_equal(store_token_lookup(st, h, &tk, &err), 0);
	assert_int_equal(tk.user_id, u.id);
	store_token_release(&tk);
	assert_int_equal(store_token_revoke(st, tid, u.id + 1, &err), STORE_NOTFOUND);
	assert_int_equal(store_token_revoke(st, tid, u.id, &err), 0);
	assert_int_equal(store_token_revoke(st, tid, -1, &err), STORE_NOTFOUND);
	assert_int_equal(store_token_lookup(st, h, &tk, &err), STORE_NOTFOUND);
	assert_int_equal(store_token_check(st, h, NULL, &err), STORE_NOTFOUND);
	assert_int_equal(store_token_list(st, u.id, &tl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tl[0].revoked, 1);
	store_tokens_free(tl, n);

	/* variables: values only when asked for */
	assert_int_equal(store_variable_set(st, p1, "K", "v1", 1, 0, &err), 0);
	assert_int_equal(store_variable_set(st, p1, "K", "v2", 0, 1, &err), 0);
	assert_int_equal(store_variable_list(st, p1, 0, &vl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_null(vl[0].value);
	assert_int_equal(vl[0].masked, 0);
	assert_int_equal(vl[0].protected_only, 1);
	store_variables_free(vl, n);
	assert_int_equal(store_variable_list(st, p1, 1, &vl, &n, &err), 0);
	assert_string_equal(vl[0].value, "v2");
	store_variables_free(vl, n);
	assert_int_equal(store_variable_delete(st, p1, "K", &err), 0);
	assert_int_equal(store_variable_delete(st, p1, "K", &err), STORE_NOTFOUND);

	/* audit: newest first, paged */
	assert_int_equal(store_audit_add(st, &a, &err), 0);
	a.action = "x.z";
	assert_int_equal(store_audit_add(st, &a, &err), 0);
	assert_int_equal(store_audit_list(st, 1, 0, &al, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(al[0].action, "x.z");
	assert_string_equal(al[0].detail, "");
	store_audit_free(al, n);
	assert_int_equal(store_audit_list(st, 0, 0, &al, &n, &err), -1);

	store_close(st);
	strbuf_release(&err);
}

/* Quotes, SQL, newlines, a megabyte: stored and read back as given. */
static void test_hostile_strings(void **state)
{
	struct strbuf err = STRBUF_INIT, big = STRBUF_INIT;
	struct store *st = open_new();
	int64_t proj = add_project(st, "p");
	const char *evil = "x'); DROP TABLE pipelines; --\n\"\\%s%n";
	struct store_pipeline p = { .project_id = proj, .ref = (char *)evil,
				    .sha = (char *)evil, .source = "api" };
	struct store_pipeline q;
	struct store_project pr;
	size_t i;

	for (i = 0; i < (1u << 20); i++)
		strbuf_addch(&big, 'a' + i % 26);
	p.ctx = big.buf;
	assert_int_equal(store_pipeline_add(st, &p, &err), 0);
	assert_int_equal(store_pipeline_get(st, p.id, &q, &err), 0);
	assert_string_equal(q.ref, evil);
	assert_string_equal(q.ctx, big.buf);
	store_pipeline_release(&q);
	assert_int_equal(store_project_get(st, evil, &pr, &err), STORE_NOTFOUND);
	assert_int_equal(store_project_get(st, NULL, &pr, &err), STORE_NOTFOUND);
	assert_int_equal(store_project_delete(st, NULL, &err), STORE_NOTFOUND);

	store_close(st);
	store_close(NULL);
	strbuf_release(&big);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_create_reopen),
		cmocka_unit_test(test_migrate_existing),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_projects),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_pipelines),
		cmocka_unit_test(test_pipelines_visible_plans),
		cmocka_unit_test(test_pipeline_status),
		cmocka_unit_test(test_pipeline_duration),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_allowed_failed),
		cmocka_unit_test(test_job_transition),
		cmocka_unit_test(test_job_reset),
		cmocka_unit_test(test_claim_order),
		cmocka_unit_test(test_claim_resource_group),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_claim_processes),
		cmocka_unit_test(test_claim_two_handles),
		cmocka_unit_test(test_schedules),
		cmocka_unit_test(test_job_dotenv),
		cmocka_unit_test(test_job_defs),
		cmocka_unit_test(test_test_cases),
		cmocka_unit_test(test_artifacts),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_audit_prune),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_accounts),
		cmocka_unit_test(test_hostile_strings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
