/*
 * Notification settings, events and deliveries on SQLite
 * (store_notify.h). These statements run at the rate of status changes,
 * not of requests: each is prepared, run and finalised per call.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store_notify.h"
#include "store/store_schema.h"
#include "util/xalloc.h"

#define DELIVERY_COLS \
	"id, project_id, pipeline_id, job_id, kind, event, target, request, state, " \
	"attempts, next_at, last_status, last_error, created, updated"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sfail(sqlite3 *db, const char *what, struct strbuf *err)
{
	if (err)
		strbuf_addf(err, "%s: %s", what, sqlite3_errmsg(db));
	return sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_FOREIGNKEY ? STORE_NOTFOUND :
	       -1;
}

/* Prepare sql; NULL with err on failure. */
static sqlite3_stmt *prepare(struct store *st, const char *sql, struct strbuf *err)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		sfail(db, "prepare", err);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Step s to its end and finalise it. */
static int run(struct store *st, sqlite3_stmt *s, const char *what, struct strbuf *err)
{
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sfail(store_sqlite_db(st), what, err);
	return 0;
}

static char *col_str(sqlite3_stmt *s, int i)
{
	return xstrdup_or_null((const char *)sqlite3_column_text(s, i));
}

/* Step s for one row's first column as a string (*ret); finalise s. */
static int one_str(struct store *st, sqlite3_stmt *s, const char *what, char **ret,
		   struct strbuf *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		*ret = col_str(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return sfail(store_sqlite_db(st), what, err);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* ---- settings ---- */

int store_notify_settings_get(struct store *st, int64_t project_id, char **ret,
			      struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT settings FROM notify_settings "
				  "WHERE project_id = ?1", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	return one_str(st, s, "notification settings", ret, err);
}

int store_notify_settings_set(struct store *st, int64_t project_id, const char *json,
			      struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "INSERT INTO notify_settings (project_id, settings, "
				  "updated) VALUES (?1, ?2, ?3) ON CONFLICT (project_id) DO "
				  "UPDATE SET settings = ?2, updated = ?3", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	bind_text(s, 2, json);
	sqlite3_bind_int64(s, 3, now_ms());
	return run(st, s, "notification settings", err);
}

/* ---- events ---- */

/*
 * Run with every status change (several per job): its two statements
 * are kept with the handle (store_sqlite_kept) rather than prepared
 * each time.
 */
int store_notify_event_add(struct store *st, int64_t pipeline_id, int64_t job_id,
			   const char *status, struct strbuf *err)
{
	sqlite3 *db = store_sqlite_db(st);
	sqlite3_stmt *s = store_sqlite_kept(st, STORE_KEPT_NOTIFY_HAS,
					    "SELECT 1 FROM pipelines p JOIN notify_settings n "
					    "ON n.project_id = p.project_id WHERE p.id = ?1");
	int rc;

	if (!s)
		return sfail(db, "prepare", err);
	/* a project without settings has nothing to send: no write, no wake-up */
	sqlite3_bind_int64(s, 1, pipeline_id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	if (rc != SQLITE_ROW)
		return sfail(db, "notification settings", err);
	s = store_sqlite_kept(st, STORE_KEPT_NOTIFY_ADD,
			      "INSERT INTO notify_events (pipeline_id, job_id, "
			      "status, created) VALUES (?1, ?2, ?3, ?4)");
	if (!s)
		return sfail(db, "prepare", err);
	sqlite3_bind_int64(s, 1, pipeline_id);
	sqlite3_bind_int64(s, 2, job_id);
	bind_text(s, 3, status);
	sqlite3_bind_int64(s, 4, now_ms());
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return sfail(db, "notification event", err);
	return 0;
}

void store_notify_events_free(struct store_notify_event *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		free(a[i].status);
	free(a);
}

int store_notify_events_list(struct store *st, int limit, struct store_notify_event **ret,
			     size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT id, pipeline_id, job_id, status, created "
				  "FROM notify_events ORDER BY id LIMIT ?1", err);
	struct store_notify_event *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_int(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].id = sqlite3_column_int64(s, 0);
		a[n].pipeline_id = sqlite3_column_int64(s, 1);
		a[n].job_id = sqlite3_column_int64(s, 2);
		a[n].status = col_str(s, 3);
		a[n].created = sqlite3_column_int64(s, 4);
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_notify_events_free(a, n);
		return sfail(store_sqlite_db(st), "notification events", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_notify_event_delete(struct store *st, int64_t id, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "DELETE FROM notify_events WHERE id = ?1", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return run(st, s, "notification event", err);
}

/* ---- deliveries ---- */

void store_delivery_release(struct store_delivery *d)
{
	if (!d)
		return;
	free(d->kind);
	free(d->event);
	free(d->target);
	free(d->request);
	free(d->state);
	free(d->last_error);
	memset(d, 0, sizeof(*d));
}

void store_deliveries_free(struct store_delivery *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_delivery_release(&a[i]);
	free(a);
}

int store_delivery_add(struct store *st, struct store_delivery *d, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "INSERT INTO deliveries (project_id, pipeline_id, job_id, "
				  "kind, event, target, request, state, attempts, next_at, "
				  "last_status, last_error, created, updated) VALUES (?1, ?2, ?3, "
				  "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)", err);
	int rc;

	if (!s)
		return -1;
	if (!d->created)
		d->created = now_ms();
	sqlite3_bind_int64(s, 1, d->project_id);
	sqlite3_bind_int64(s, 2, d->pipeline_id);
	sqlite3_bind_int64(s, 3, d->job_id);
	bind_text(s, 4, d->kind);
	bind_text(s, 5, d->event);
	bind_text(s, 6, d->target);
	bind_text(s, 7, d->request);
	bind_text(s, 8, d->state ? d->state : "pending");
	sqlite3_bind_int(s, 9, d->attempts);
	sqlite3_bind_int64(s, 10, d->next_at);
	sqlite3_bind_int(s, 11, d->last_status);
	bind_text(s, 12, d->last_error);
	sqlite3_bind_int64(s, 13, d->created);
	rc = run(st, s, "delivery", err);
	if (rc == 0)
		d->id = sqlite3_last_insert_rowid(store_sqlite_db(st));
	return rc;
}

static int collect(struct store *st, sqlite3_stmt *s, struct store_delivery **ret,
		   size_t *nr, struct strbuf *err)
{
	struct store_delivery *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_delivery *d;

		ALLOC_GROW(a, n + 1, alloc);
		d = &a[n++];
		d->id = sqlite3_column_int64(s, 0);
		d->project_id = sqlite3_column_int64(s, 1);
		d->pipeline_id = sqlite3_column_int64(s, 2);
		d->job_id = sqlite3_column_int64(s, 3);
		d->kind = col_str(s, 4);
		d->event = col_str(s, 5);
		d->target = col_str(s, 6);
		d->request = col_str(s, 7);
		d->state = col_str(s, 8);
		d->attempts = sqlite3_column_int(s, 9);
		d->next_at = sqlite3_column_int64(s, 10);
		d->last_status = sqlite3_column_int(s, 11);
		d->last_error = col_str(s, 12);
		d->created = sqlite3_column_int64(s, 13);
		d->updated = sqlite3_column_int64(s, 14);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_deliveries_free(a, n);
		return sfail(store_sqlite_db(st), "deliveries", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_deliveries_due(struct store *st, int64_t now, int limit,
			 struct store_delivery **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT " DELIVERY_COLS " FROM deliveries WHERE "
				  "state = 'pending' AND next_at <= ?1 ORDER BY next_at, id "
				  "LIMIT ?2", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int(s, 2, limit);
	return collect(st, s, ret, nr, err);
}

int store_delivery_next_due(struct store *st, int64_t *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT next_at FROM deliveries WHERE state = 'pending' "
				  "ORDER BY next_at LIMIT 1", err);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return sfail(store_sqlite_db(st), "deliveries", err);
}

int store_delivery_update(struct store *st, int64_t id, const char *state, int attempts,
			  int64_t next_at, int last_status, const char *last_error,
			  struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE deliveries SET state = ?2, attempts = ?3, "
				  "next_at = ?4, last_status = ?5, last_error = ?6, updated = ?7 "
				  "WHERE id = ?1 AND state = 'pending'", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, state);
	sqlite3_bind_int(s, 3, attempts);
	sqlite3_bind_int64(s, 4, next_at);
	sqlite3_bind_int(s, 5, last_status);
	bind_text(s, 6, last_error);
	sqlite3_bind_int64(s, 7, now_ms());
	return run(st, s, "delivery", err);
}

int store_delivery_lease(struct store *st, int64_t id, int64_t until, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE deliveries SET next_at = ?2 WHERE id = ?1 AND "
				  "state = 'pending'", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, until);
	return run(st, s, "delivery", err);
}

int store_delivery_requeue(struct store *st, int64_t project_id, int64_t id, int64_t now,
			   struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE deliveries SET state = 'pending', attempts = 0, "
				  "next_at = ?3, last_error = NULL, updated = ?3 WHERE id = ?1 AND "
				  "project_id = ?2 AND state <> 'pending'", err);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, project_id);
	sqlite3_bind_int64(s, 3, now);
	rc = run(st, s, "delivery", err);
	if (rc != 0 || sqlite3_changes(store_sqlite_db(st)) != 0)
		return rc;
	/* nothing changed: pending already, or no such delivery */
	s = prepare(st, "SELECT 1 FROM deliveries WHERE id = ?1 AND project_id = ?2", err);
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, project_id);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sfail(store_sqlite_db(st), "delivery", err);
	return rc == SQLITE_ROW ? STORE_CONFLICT : STORE_NOTFOUND;
}

int store_deliveries_supersede(struct store *st, int64_t pipeline_id, const char *kind,
			       int64_t before_id, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "UPDATE deliveries SET state = 'superseded', "
				  "updated = ?4 WHERE pipeline_id = ?1 AND kind = ?2 AND "
				  "state = 'pending' AND id < ?3", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, pipeline_id);
	bind_text(s, 2, kind);
	sqlite3_bind_int64(s, 3, before_id);
	sqlite3_bind_int64(s, 4, now_ms());
	return run(st, s, "deliveries", err);
}

int store_deliveries_list(struct store *st, int64_t project_id, int limit,
			  struct store_delivery **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT " DELIVERY_COLS " FROM deliveries WHERE "
				  "project_id = ?1 ORDER BY id DESC LIMIT ?2", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	sqlite3_bind_int(s, 2, limit);
	return collect(st, s, ret, nr, err);
}

int store_deliveries_prune(struct store *st, int64_t before, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "DELETE FROM deliveries WHERE state <> 'pending' AND "
				  "updated < ?1", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, before);
	return run(st, s, "deliveries", err);
}

int store_notify_prev_status(struct store *st, int64_t project_id, const char *ref,
			     int64_t before_id, char **ret, struct strbuf *err)
{
	sqlite3_stmt *s = prepare(st, "SELECT status FROM pipelines WHERE project_id = ?1 AND "
				  "ref = ?2 AND id < ?3 AND status IN ('success', 'failed') "
				  "ORDER BY id DESC LIMIT 1", err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, project_id);
	bind_text(s, 2, ref);
	sqlite3_bind_int64(s, 3, before_id);
	return one_str(st, s, "pipelines", ret, err);
}
