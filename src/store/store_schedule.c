/*
 * Pipeline schedules on SQLite (store.h). These run at the rate of
 * schedule changes and runs (minutes apart): each statement is prepared,
 * run and finalised per call, as in store_notify.c.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_schema.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define SCHEDULE_COLS \
	"id, project_id, description, cron, cron_timezone, ref, variables, active, " \
	"owner, next_run_at, last_pipeline_id, created"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sfail(struct store *st, const char *what, struct strbuf *err)
{
	sqlite3 *db = store_sqlite_db(st);
	int x = sqlite3_extended_errcode(db);

	if (err)
		strbuf_addf(err, "%s: %s", what, sqlite3_errmsg(db));
	return x == SQLITE_CONSTRAINT_FOREIGNKEY ? STORE_NOTFOUND :
	       (x == SQLITE_CONSTRAINT_UNIQUE || x == SQLITE_CONSTRAINT_PRIMARYKEY) ?
	       STORE_CONFLICT : -1;
}

static sqlite3_stmt *prepare(struct store *st, const char *sql, struct strbuf *err)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(store_sqlite_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		sfail(st, "prepare", err);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Step s to its end, finalise it; *ret_changes (may be NULL) the rows changed. */
static int run(struct store *st, sqlite3_stmt *s, const char *what, int *ret_changes,
	       struct strbuf *err)
{
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sfail(st, what, err);
	if (ret_changes)
		*ret_changes = sqlite3_changes(store_sqlite_db(st));
	return 0;
}

static char *col_str(sqlite3_stmt *s, int i)
{
	return xstrdup_or_null((const char *)sqlite3_column_text(s, i));
}

static void read_row(sqlite3_stmt *s, struct store_schedule *r)
{
	r->id = sqlite3_column_int64(s, 0);
	r->project_id = sqlite3_column_int64(s, 1);
	r->description = col_str(s, 2);
	r->cron = col_str(s, 3);
	r->cron_timezone = col_str(s, 4);
	r->ref = col_str(s, 5);
	r->variables = col_str(s, 6);
	r->active = sqlite3_column_int(s, 7);
	r->owner = sqlite3_column_int64(s, 8);
	r->next_run_at = sqlite3_column_int64(s, 9);
	r->last_pipeline_id = sqlite3_column_int64(s, 10);
	r->created = sqlite3_column_int64(s, 11);
}

/* All rows of s into *ret, their number in *nr; finalises s. */
static int rows(struct store *st, sqlite3_stmt *s, const char *what,
		struct store_schedule **ret, size_t *nr, struct strbuf *err)
{
	struct store_schedule *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		memset(&a[n], 0, sizeof(a[n]));
		read_row(s, &a[n++]);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_schedules_free(a, n);
		return sfail(st, what, err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

void store_schedule_release(struct store_schedule *s)
{
	if (!s)
		return;
	free(s->description);
	free(s->cron);
	free(s->cron_timezone);
	free(s->ref);
	free(s->variables);
	memset(s, 0, sizeof(*s));
}

void store_schedules_free(struct store_schedule *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_schedule_release(&a[i]);
	free(a);
}

int store_schedule_add(struct store *st, struct store_schedule *r, int max,
		       struct strbuf *err)
{
	int64_t created = r->created ? r->created : now_ms();
	sqlite3_stmt *s;
	int changes = 0, rc;

	if (!r->description || !r->cron || !r->cron_timezone) {
		strbuf_addstr(err, "schedule add: description, cron and cron_timezone are required");
		return -1;
	}
	/* the count and the insert in one statement: two adds cannot both pass it */
	s = prepare(st, "INSERT INTO schedules (project_id, description, cron, cron_timezone, "
		    "ref, variables, active, owner, next_run_at, last_pipeline_id, created) "
		    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10 "
		    "WHERE (SELECT count(*) FROM schedules WHERE project_id = ?1) < ?11", err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, r->project_id);
	bind_text(s, 2, r->description);
	bind_text(s, 3, r->cron);
	bind_text(s, 4, r->cron_timezone);
	bind_text(s, 5, r->ref);
	bind_text(s, 6, r->variables ? r->variables : "{}");
	sqlite3_bind_int(s, 7, r->active ? 1 : 0);
	sqlite3_bind_int64(s, 8, r->owner);
	sqlite3_bind_int64(s, 9, r->next_run_at);
	sqlite3_bind_int64(s, 10, created);
	sqlite3_bind_int(s, 11, max);
	rc = run(st, s, "schedule add", &changes, err);
	if (rc)
		return rc;
	if (!changes) {
		strbuf_addf(err, "the project has %d schedules, the most it may have", max);
		return STORE_CONFLICT;
	}
	r->id = sqlite3_last_insert_rowid(store_sqlite_db(st));
	r->created = created;
	return 0;
}

int store_schedule_get(struct store *st, int64_t project_id, int64_t id,
		       struct store_schedule *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT " SCHEDULE_COLS " FROM schedules "
				  "WHERE id = ?1 AND project_id = ?2", err);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, project_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_row(s, ret);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE) {
		strbuf_addf(err, "schedule %lld not found", (long long)id);
		return STORE_NOTFOUND;
	}
	return sfail(st, "schedule get", err);
}

int store_schedule_list(struct store *st, int64_t project_id, struct store_schedule **ret,
			size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT " SCHEDULE_COLS " FROM schedules "
				  "WHERE project_id = ?1 ORDER BY id", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	return rows(st, s, "schedule list", ret, nr, err);
}

int store_schedule_update(struct store *st, const struct store_schedule *r,
			  struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE schedules SET description = ?3, cron = ?4, "
				  "cron_timezone = ?5, ref = ?6, variables = ?7, active = ?8, "
				  "next_run_at = ?9 WHERE id = ?1 AND project_id = ?2", err);
	int changes = 0, rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, r->id);
	sqlite3_bind_int64(s, 2, r->project_id);
	bind_text(s, 3, r->description ? r->description : "");
	bind_text(s, 4, r->cron);
	bind_text(s, 5, r->cron_timezone);
	bind_text(s, 6, r->ref);
	bind_text(s, 7, r->variables ? r->variables : "{}");
	sqlite3_bind_int(s, 8, r->active ? 1 : 0);
	sqlite3_bind_int64(s, 9, r->next_run_at);
	rc = run(st, s, "schedule update", &changes, err);
	if (rc)
		return rc;
	if (!changes) {
		strbuf_addf(err, "schedule %lld not found", (long long)r->id);
		return STORE_NOTFOUND;
	}
	return 0;
}

int store_schedule_delete(struct store *st, int64_t project_id, int64_t id,
			  struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "DELETE FROM schedules WHERE id = ?1 AND project_id = ?2",
				  err);
	int changes = 0, rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, project_id);
	rc = run(st, s, "schedule delete", &changes, err);
	if (rc)
		return rc;
	if (!changes) {
		strbuf_addf(err, "schedule %lld not found", (long long)id);
		return STORE_NOTFOUND;
	}
	return 0;
}

int store_schedule_due(struct store *st, int64_t now, int limit,
		       struct store_schedule **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT " SCHEDULE_COLS " FROM schedules "
				  "WHERE active = 1 AND next_run_at <= ?1 "
				  "ORDER BY next_run_at, id LIMIT ?2", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, limit);
	return rows(st, s, "schedule due", ret, nr, err);
}

int store_schedule_next_due(struct store *st, int64_t *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT min(next_run_at) FROM schedules WHERE active = 1",
				  err);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return sfail(st, "schedule next due", err);
	return 0;
}

int store_schedule_claim(struct store *st, int64_t id, int64_t was, int64_t next,
			 struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE schedules SET next_run_at = ?3 "
				  "WHERE id = ?1 AND next_run_at = ?2 AND active = 1", err);
	int changes = 0, rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, was);
	sqlite3_bind_int64(s, 3, next);
	rc = run(st, s, "schedule claim", &changes, err);
	if (rc)
		return rc;
	if (!changes) {
		strbuf_addf(err, "schedule %lld was claimed or changed meanwhile", (long long)id);
		return STORE_CONFLICT;
	}
	return 0;
}

int store_schedule_ran(struct store *st, int64_t id, int64_t pipeline_id, int active,
		       struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE schedules SET last_pipeline_id = ?2, "
				  "active = CASE WHEN ?3 THEN active ELSE 0 END WHERE id = ?1", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, pipeline_id);
	sqlite3_bind_int(s, 3, active ? 1 : 0);
	return run(st, s, "schedule ran", NULL, err);
}

int store_schedule_count(struct store *st, int64_t project_id, int64_t *ret,
			 struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT count(*) FROM schedules WHERE project_id = ?1",
				  err);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return sfail(st, "schedule count", err);
	return 0;
}
