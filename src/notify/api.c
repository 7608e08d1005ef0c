/*
 * The notifications API (docs/api.md, docs/notifications.md): a
 * project's settings (maintainers; secrets are write-only) and its
 * recent deliveries, for debugging a receiver.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/notify.h"
#include "server/auth.h"
#include "server/seal.h"
#include "server/server.h"
#include "store/store_notify.h"
#include "util/jsonx.h"

#define SRV(ud) ((struct server *)(ud))
#define DELIVERIES_DEFAULT 50
#define DELIVERIES_MAX     200

/*
 * The store, the project of :name and a check that the caller is one of
 * its maintainers. 0 with *st and *p filled; -1 when a response was sent.
 */
static int maintainer(struct http_request *req, struct server *srv, struct store **st,
		      struct store_project *p, int changes)
{
	struct strbuf err = STRBUF_INIT;
	struct principal who;
	enum role role;
	int rc;

	*st = server_store(srv, &err);
	if (!*st) {
		http_respond_error(req, 500, "store: %s", err.buf);
		strbuf_release(&err);
		return -1;
	}
	rc = auth_request(srv, *st, req, &who);
	if (rc < 0) {
		strbuf_release(&err);
		if (rc == AUTH_ESTORE)
			http_respond_error(req, 503, "the server cannot check credentials now: "
					   "try again");
		else
			http_respond_error(req, 401, "invalid credentials");
		return -1;
	}
	rc = store_project_get(*st, http_request_param(req, "name"), p, &err);
	if (rc < 0) {
		if (rc == STORE_NOTFOUND)
			http_respond_error(req, 404, "no such project");
		else
			http_respond_error(req, 500, "%s", err.buf);
		strbuf_release(&err);
		return -1;
	}
	strbuf_release(&err);
	role = auth_role(srv, *st, &who, p);
	if (role == ROLE_NONE) {
		store_project_release(p);
		http_respond_error(req, 404, "no such project");
		return -1;
	}
	if (role < ROLE_MAINTAINER) {
		store_project_release(p);
		http_respond_error(req, who.user_id || who.admin || who.login[0] ? 403 : 401,
				   "notification settings are for the project's maintainers");
		return -1;
	}
	if (changes && !auth_csrf_ok(&who, http_request_header(req, "X-CSRF-Token"))) {
		store_project_release(p);
		http_respond_error(req, 403, "the X-CSRF-Token header is missing or wrong");
		return -1;
	}
	return 0;
}

/* The project's settings; an empty set when none are stored. -1 on error (err). */
static int load(struct store *st, int64_t project_id, struct notify_settings *s,
		struct strbuf *err)
{
	char *text = NULL;
	json_t *doc;
	int rc = store_notify_settings_get(st, project_id, &text, err);

	memset(s, 0, sizeof(*s));
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc < 0 || seal_open_in_place(&text, err) < 0) {
		free(text);
		return -1;
	}
	doc = json_loads(text, 0, NULL);
	free(text);
	rc = doc ? notify_settings_parse(doc, NULL, s, err) : -1;
	if (!doc)
		strbuf_addstr(err, "the stored settings are unreadable");
	json_decref(doc);
	return rc;
}

static int h_get(struct http_request *req, void *ud)
{
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct notify_settings s;
	struct store *st;
	json_t *o;

	memset(&p, 0, sizeof(p));
	if (maintainer(req, SRV(ud), &st, &p, 0) < 0)
		return 0;
	if (load(st, p.id, &s, &err) < 0) {
		http_respond_error(req, 500, "%s", err.buf);
	} else {
		o = notify_settings_json(&s, 0);
		http_respond_json(req, 200, o);
		json_decref(o);
	}
	notify_settings_release(&s);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

static int h_put(struct http_request *req, void *ud)
{
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct notify_settings old, s;
	struct store *st;
	json_error_t je;
	json_t *in = NULL, *o;
	const char *body;
	size_t len;
	char *text, *sealed = NULL;

	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	memset(&old, 0, sizeof(old));
	if (maintainer(req, SRV(ud), &st, &p, 1) < 0)
		return 0;
	body = http_request_body(req, &len);
	in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!in || !json_is_object(in)) {
		http_respond_error(req, 400, "the body must be a JSON object (%s)",
				   in ? "not an object" : je.text);
		goto done;
	}
	if (load(st, p.id, &old, &err) < 0) {
		http_respond_error(req, 500, "%s", err.buf);
		goto done;
	}
	if (notify_settings_parse(in, &old, &s, &err) < 0) {
		http_respond_error(req, 400, "%s", err.buf);
		goto done;
	}
	o = notify_settings_json(&s, 1);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	sealed = seal_value(text);
	if (store_notify_settings_set(st, p.id, sealed, &err) < 0) {
		http_respond_error(req, 500, "%s", err.buf);
	} else {
		o = notify_settings_json(&s, 0);
		http_respond_json(req, 200, o);
		json_decref(o);
	}
	free(text);
	free(sealed);
done:
	json_decref(in);
	notify_settings_release(&old);
	notify_settings_release(&s);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

static int h_deliveries(struct http_request *req, void *ud)
{
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct store_delivery *a = NULL;
	struct store *st;
	const char *lim = http_request_query(req, "limit");
	long limit = DELIVERIES_DEFAULT;
	size_t nr = 0, i;
	json_t *arr;

	memset(&p, 0, sizeof(p));
	if (lim) {
		char *end;

		errno = 0;
		limit = strtol(lim, &end, 10);
		if (errno || end == lim || *end || limit < 1 || limit > DELIVERIES_MAX)
			return http_respond_error(req, 400, "limit must be 1 to %d",
						  DELIVERIES_MAX);
	}
	if (maintainer(req, SRV(ud), &st, &p, 0) < 0)
		return 0;
	if (store_deliveries_list(st, p.id, (int)limit, &a, &nr, &err) < 0) {
		http_respond_error(req, 500, "%s", err.buf);
		goto done;
	}
	arr = json_array();
	for (i = 0; i < nr; i++) {
		const struct store_delivery *d = &a[i];
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(d->id));
		json_object_set_new(o, "kind", json_string(d->kind));
		json_object_set_new(o, "event", json_string(d->event));
		json_object_set_new(o, "target", json_string(d->target));
		json_object_set_new(o, "pipeline_id", json_integer(d->pipeline_id));
		json_object_set_new(o, "job_id", d->job_id ? json_integer(d->job_id) :
				    json_null());
		json_object_set_new(o, "state", json_string(d->state));
		json_object_set_new(o, "attempts", json_integer(d->attempts));
		json_object_set_new(o, "next_attempt_at", strcmp(d->state, "pending") ?
				    json_null() : json_time(d->next_at));
		json_object_set_new(o, "last_status", d->last_status ?
				    json_integer(d->last_status) : json_null());
		json_object_set_new(o, "last_error", d->last_error ? json_string(d->last_error) :
				    json_null());
		json_object_set_new(o, "created_at", json_time(d->created));
		json_object_set_new(o, "updated_at", json_time(d->updated));
		json_array_append_new(arr, o);
	}
	http_respond_json(req, 200, arr);
	json_decref(arr);
done:
	store_deliveries_free(a, nr);
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

static int h_redeliver(struct http_request *req, void *ud)
{
	struct strbuf err = STRBUF_INIT;
	struct store_project p;
	struct store *st;
	const char *ids = http_request_param(req, "id");
	char *end;
	long long id;
	int rc;

	memset(&p, 0, sizeof(p));
	errno = 0;
	id = strtoll(ids, &end, 10);
	if (errno || end == ids || *end || id <= 0)
		return http_respond_error(req, 400, "id must be a positive number");
	if (maintainer(req, SRV(ud), &st, &p, 1) < 0)
		return 0;
	rc = store_delivery_requeue(st, p.id, id, server_now_ms(), &err);
	if (rc == STORE_NOTFOUND) {
		http_respond_error(req, 404, "delivery %lld of %s not found", id, p.name);
	} else if (rc == STORE_CONFLICT) {
		http_respond_error(req, 409, "delivery %lld of %s is pending already", id, p.name);
	} else if (rc < 0) {
		http_respond_error(req, 500, "%s", err.buf);
	} else {
		json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "pending");

		notify_wake(SRV(ud));
		http_respond_json(req, 202, o);
		json_decref(o);
	}
	store_project_release(&p);
	strbuf_release(&err);
	return 0;
}

const struct http_route notify_routes[] = {
	{ "GET", "/api/v1/projects/:name/notifications", h_get },
	{ "PUT", "/api/v1/projects/:name/notifications", h_put },
	{ "GET", "/api/v1/projects/:name/deliveries", h_deliveries },
	{ "POST", "/api/v1/projects/:name/deliveries/:id/redeliver", h_redeliver },
};
const size_t notify_routes_nr = sizeof(notify_routes) / sizeof(notify_routes[0]);
