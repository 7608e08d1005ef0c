#ifndef CIDRE_STORE_NOTIFY_H
#define CIDRE_STORE_NOTIFY_H

/*
 * The store's part for notifications (src/notify/): a project's settings
 * (one JSON document, secrets included: only the notify module reads
 * them), the queue of status-change events the runner appends to, and
 * the outbox of deliveries with their retry state. Same conventions as
 * store.h (0, STORE_NOTFOUND, -1 with err; records owned by the caller,
 * freed by their _release/_free).
 */

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/strbuf.h"

/* The settings JSON of a project (malloc'ed), or STORE_NOTFOUND. */
int store_notify_settings_get(struct store *st, int64_t project_id, char **ret,
			      struct strbuf *err);
/* Replace them (insert or update). */
int store_notify_settings_set(struct store *st, int64_t project_id, const char *json,
			      struct strbuf *err);

struct store_notify_event {
	int64_t id;
	int64_t pipeline_id;
	int64_t job_id;       /* 0: a pipeline event */
	char *status;
	int64_t created;
};

/*
 * Append an event (one cheap insert: the runner calls it); STORE_NOTFOUND
 * without writing when the pipeline's project has no notification
 * settings (nothing would be sent).
 */
int store_notify_event_add(struct store *st, int64_t pipeline_id, int64_t job_id,
			   const char *status, struct strbuf *err);
/* The oldest events, at most limit. */
int store_notify_events_list(struct store *st, int limit, struct store_notify_event **ret,
			     size_t *nr, struct strbuf *err);
int store_notify_event_delete(struct store *st, int64_t id, struct strbuf *err);
void store_notify_events_free(struct store_notify_event *a, size_t nr);

struct store_delivery {
	int64_t id;
	int64_t project_id;
	int64_t pipeline_id;
	int64_t job_id;
	char *kind;           /* forge, webhook, email */
	char *event;          /* pipeline, job */
	char *target;         /* URL or address, for people (no secrets) */
	char *request;        /* the worker's request JSON, without the id */
	char *state;          /* pending, done, failed, superseded */
	int attempts;
	int64_t next_at;      /* when pending: the next attempt's time */
	int last_status;      /* HTTP status (SMTP: 250 when accepted), 0 none */
	char *last_error;
	int64_t created;
	int64_t updated;
};

void store_delivery_release(struct store_delivery *d);
void store_deliveries_free(struct store_delivery *a, size_t nr);

/* Insert *d (state NULL: pending); d->id is set. */
int store_delivery_add(struct store *st, struct store_delivery *d, struct strbuf *err);
/* Pending deliveries due at now, oldest due first, at most limit. */
int store_deliveries_due(struct store *st, int64_t now, int limit,
			 struct store_delivery **ret, size_t *nr, struct strbuf *err);
/* The earliest next_at of a pending delivery; STORE_NOTFOUND if none. */
int store_delivery_next_due(struct store *st, int64_t *ret, struct strbuf *err);
/* A pending delivery is not due before until (it is being sent). */
int store_delivery_lease(struct store *st, int64_t id, int64_t until, struct strbuf *err);
/* Record an attempt's outcome (of a pending delivery only). last_error may be NULL. */
int store_delivery_update(struct store *st, int64_t id, const char *state, int attempts,
			  int64_t next_at, int last_status, const char *last_error,
			  struct strbuf *err);
/*
 * Send a finished delivery of the project again (same id, attempts from
 * 0, due at now). STORE_NOTFOUND: no such delivery; STORE_CONFLICT: it is
 * pending already.
 */
int store_delivery_requeue(struct store *st, int64_t project_id, int64_t id, int64_t now,
			   struct strbuf *err);
/* Mark pipeline's pending deliveries of kind with ids below before_id superseded. */
int store_deliveries_supersede(struct store *st, int64_t pipeline_id, const char *kind,
			       int64_t before_id, struct strbuf *err);
/* A project's latest deliveries, newest first, at most limit. */
int store_deliveries_list(struct store *st, int64_t project_id, int limit,
			  struct store_delivery **ret, size_t *nr, struct strbuf *err);
/* Delete finished deliveries last updated before ms. */
int store_deliveries_prune(struct store *st, int64_t before, struct strbuf *err);

/*
 * The status of the latest finished (success, failed) pipeline of the
 * project's ref older than before_id; STORE_NOTFOUND when there is none.
 */
int store_notify_prev_status(struct store *st, int64_t project_id, const char *ref,
			     int64_t before_id, char **ret, struct strbuf *err);

#endif
