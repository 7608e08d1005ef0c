/*
 * A project's pipeline schedules from its page (web.h): add one, run one
 * now, activate or deactivate it, delete it. For developers, as in the
 * REST API, whose rules these posts share (schedule_add & co. in
 * src/server/schedule.c). Each answers 303 (to the project page's
 * schedules, or to the pipeline a play made) or an error page with the
 * reason; nothing changes then.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cron.h"
#include "util/tz.h"
#include "util/xalloc.h"
#include "web/page.h"
#include "web/web.h"

/* The longest branch name the form takes (the project page's filter's). */
#define SCHEDULE_REF_MAX 255
/* The variables field: as many as the rules take, each at its longest. */
#define VARIABLES_FIELD (TRIGGER_MAX_VARIABLES * (256 + TRIGGER_MAX_VALUE + 2))

/*
 * A post's start: the project, the developer role and the CSRF token,
 * and (with_schedule) the schedule :id of that project. -1 when a
 * response was sent.
 */
static int post_begin(struct http_request *req, void *ud, struct page *pg,
		      struct store_project *pr, struct store_schedule *s, int with_schedule)
{
	struct strbuf err = STRBUF_INIT;
	int64_t id;
	int rc;

	memset(pr, 0, sizeof(*pr));
	memset(s, 0, sizeof(*s));
	if (page_begin(req, ud, pg) < 0 ||
	    page_project(pg, http_request_param(req, "name"), 0, pr, NULL) < 0)
		return -1;
	if (page_may_change(pg, pr, ROLE_DEVELOPER) < 0)
		goto fail;
	if (!with_schedule)
		return 0;
	id = page_id(req, "id");
	rc = id ? store_schedule_get(pg->st, pr->id, id, s, &err) : STORE_NOTFOUND;
	if (rc == 0) {
		strbuf_release(&err);
		return 0;
	}
	if (rc == STORE_NOTFOUND)
		page_error(req, 404, "No such schedule in this project.");
	else
		page_error(req, 500, err.buf);
	strbuf_release(&err);
fail:
	store_project_release(pr);
	return -1;
}

/* The answer for status: 303 to the project page's schedules, else the reason. */
static void post_end(struct page *pg, struct store_project *pr, struct store_schedule *s,
		     int status, int ok, const char *msg)
{
	if (status == ok) {
		struct strbuf to = STRBUF_INIT;

		strbuf_addf(&to, "/p/%s#schedules", pr->name);
		page_redirect(pg->req, to.buf);
		strbuf_release(&to);
	} else {
		page_error(pg->req, (unsigned)status, msg);
	}
	store_schedule_release(s);
	store_project_release(pr);
}

/* Field name of the form into *dst (malloc'ed; "" when absent); -1 with 400 sent when too long. */
static int field(struct page *pg, const char *name, size_t max, const char *what, char **dst)
{
	struct strbuf v = STRBUF_INIT;
	int rc = page_form_max(pg->req, name, max, &v);

	if (rc == -2) {
		struct strbuf m = STRBUF_INIT;

		strbuf_addf(&m, "The %s is longer than %zu bytes.", what, max);
		page_error(pg->req, 400, m.buf);
		strbuf_release(&m);
		strbuf_release(&v);
		return -1;
	}
	strbuf_rtrim(&v);
	strbuf_remove(&v, 0, strspn(v.buf, " \t\r\n"));
	*dst = strbuf_detach(&v, NULL);
	return 0;
}

int web_schedule_variables(const char *text, char **ret, struct strbuf *msg)
{
	json_t *o = json_object();
	const char *p = text;
	int rc = 0;

	while (*p) {
		size_t n = strcspn(p, "\n"), kl;
		const char *eq = memchr(p, '=', n), *k = p;
		char *key, *value;

		if (n && p[n - 1] == '\r')
			n--;
		if (strspn(p, " \t") >= n) {
			p += strcspn(p, "\n");
			p += *p == '\n';
			continue;
		}
		if (!eq) {
			strbuf_addf(msg, "Variables are one KEY=value a line: \"%.*s\" has no \"=\".",
				    (int)(n > 64 ? 64 : n), p);
			rc = 400;
			break;
		}
		while (*k == ' ' || *k == '\t')
			k++;
		kl = (size_t)(eq - k);
		while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			kl--;
		key = xstrndup(k, kl);
		value = xstrndup(eq + 1, (size_t)(p + n - eq - 1));
		json_object_set_new(o, key, json_string(value));
		free(key);
		free(value);
		p += strcspn(p, "\n");
		p += *p == '\n';
	}
	if (!rc && trigger_variables_check(o, msg) < 0)
		rc = 400;
	if (!rc)
		*ret = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return rc;
}

/* The add and edit forms' fields (malloc'ed; variables NULL when the form has none). */
struct form {
	char *description, *cron, *tz, *ref, *variables;
};

static void form_release(struct form *f)
{
	free(f->description);
	free(f->cron);
	free(f->tz);
	free(f->ref);
	free(f->variables);
}

/*
 * Read the form into f: -1 when a response was sent (a field too long),
 * else 0 or 400 with the reason in msg. An empty zone is UTC, an empty
 * branch NULL (the default branch); a form without the variables field
 * leaves f->variables NULL.
 */
static int read_form(struct page *pg, struct form *f, struct strbuf *msg)
{
	struct strbuf vars = STRBUF_INIT;
	int rc, status = 0;

	memset(f, 0, sizeof(*f));
	if (field(pg, "description", SCHEDULE_DESC_MAX, "description", &f->description) < 0 ||
	    field(pg, "cron", CRON_EXPR_MAX, "cron expression", &f->cron) < 0 ||
	    field(pg, "cron_timezone", TZ_NAME_MAX, "time zone", &f->tz) < 0 ||
	    field(pg, "ref", SCHEDULE_REF_MAX, "branch", &f->ref) < 0)
		return -1;
	if (!*f->tz) {
		free(f->tz);
		f->tz = xstrdup("UTC");
	}
	if (!*f->ref) {
		free(f->ref);
		f->ref = NULL;	/* the default branch */
	}
	rc = page_form_max(pg->req, "variables", VARIABLES_FIELD, &vars);
	if (rc == -2) {
		strbuf_addf(msg, "The variables are longer than %d bytes.", VARIABLES_FIELD);
		status = 400;
	} else if (rc == 0) {
		status = web_schedule_variables(vars.buf, &f->variables, msg);
	}
	if (!status && !*f->cron) {
		strbuf_addstr(msg, "cron is required, e.g. \"0 3 * * *\"");
		status = 400;
	}
	strbuf_release(&vars);
	return status;
}

int web_schedule_add(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_schedule s;
	struct strbuf msg = STRBUF_INIT;
	struct form f;
	int status;

	if (post_begin(req, ud, &pg, &pr, &s, 0) < 0)
		return 0;
	status = read_form(&pg, &f, &msg);
	if (status >= 0) {
		s.active = 1;
		s.description = f.description;
		s.cron = f.cron;
		s.cron_timezone = f.tz;
		s.ref = f.ref;
		s.variables = f.variables;
		memset(&f, 0, sizeof(f));	/* s's now */
		if (!status)
			status = schedule_add(pg.srv, pg.st, req, &pg.who, &pr, &s, &msg);
		post_end(&pg, &pr, &s, status, 201, msg.buf);
	} else {
		store_schedule_release(&s);
		store_project_release(&pr);
	}
	form_release(&f);
	strbuf_release(&msg);
	return 0;
}

int web_schedule_variables_text(const char *json, struct strbuf *out)
{
	json_t *o = json_loads(json ? json : "{}", 0, NULL), *v;
	const char *k;
	int rc = 0;

	json_object_foreach(o, k, v) {
		const char *t = json_string_value(v);

		if (!t || strchr(t, '\n') || strchr(t, '\r')) {
			rc = -1;
			break;
		}
		strbuf_addf(out, "%s=%s\n", k, t);
	}
	json_decref(o);
	return rc;
}

/* GET /p/NAME/schedules/ID/edit: the schedule's form, filled in. */
int web_schedule_edit(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_schedule s;
	struct strbuf err = STRBUF_INIT, body = STRBUF_INIT, vars = STRBUF_INIT;
	struct strbuf text = STRBUF_INIT, title = STRBUF_INIT;
	enum role role = ROLE_NONE;
	char id[24];
	int rc;

	memset(&pr, 0, sizeof(pr));
	memset(&s, 0, sizeof(s));
	if (page_begin(req, ud, &pg) < 0 ||
	    page_project(&pg, http_request_param(req, "name"), 0, &pr, &role) < 0)
		goto done;
	if (role < ROLE_DEVELOPER || !pg.who.csrf[0]) {
		page_error(req, 403, "Editing a schedule needs the developer role, logged in.");
		goto done;
	}
	rc = page_id(req, "id") ? store_schedule_get(pg.st, pr.id, page_id(req, "id"), &s, &err)
				: STORE_NOTFOUND;
	if (rc < 0) {
		page_error(req, rc == STORE_NOTFOUND ? 404 : 500,
			   rc == STORE_NOTFOUND ? "No such schedule in this project." : err.buf);
		goto done;
	}
	if (web_schedule_variables_text(s.variables, &text) == 0) {
		struct tmpl_var v[] = { tmpl_str("text", text.buf) };

		page_render(&vars, "project", "schedvars", v, ARRAY_SIZE(v));
	} else {
		page_render(&vars, "project", "schedvarsfixed", NULL, 0);
	}
	snprintf(id, sizeof(id), "%" PRId64, s.id);
	{
		struct tmpl_var v[] = {
			tmpl_str("name", pr.name), tmpl_str("id", id), tmpl_str("csrf", pg.who.csrf),
			tmpl_str("description", s.description), tmpl_str("cron", s.cron),
			tmpl_str("tz", s.cron_timezone), tmpl_str("ref", s.ref ? s.ref : ""),
			tmpl_html("variables", vars.buf),
			tmpl_html("active", s.active ? " checked" : ""),
		};
		page_render(&body, "project", "schededit", v, ARRAY_SIZE(v));
	}
	strbuf_addf(&title, "schedule %s of %s", id, pr.name);
	page_send(&pg, 200, title.buf, body.buf);
done:
	store_schedule_release(&s);
	store_project_release(&pr);
	strbuf_release(&err);
	strbuf_release(&body);
	strbuf_release(&vars);
	strbuf_release(&text);
	strbuf_release(&title);
	return 0;
}

/*
 * *field becomes *value (taken: *value is NULL after) when they differ,
 * and name is added to what; 1 then, else 0.
 */
static int take(char **field, char **value, const char *name, struct strbuf *what)
{
	if (!strcmp(*field ? *field : "", *value ? *value : ""))
		return 0;
	strbuf_addf(what, "%s%s", what->len ? ", " : "", name);
	free(*field);
	*field = *value;
	*value = NULL;
	return 1;
}

/* POST /p/NAME/schedules/ID: the edit form's fields replace the schedule's. */
int web_schedule_update(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct store_schedule s;
	struct strbuf msg = STRBUF_INIT, what = STRBUF_INIT, active = STRBUF_INIT;
	struct form f;
	int status, new_cron;

	if (post_begin(req, ud, &pg, &pr, &s, 1) < 0)
		return 0;
	status = read_form(&pg, &f, &msg);
	if (status < 0) {
		store_schedule_release(&s);
		store_project_release(&pr);
		goto done;
	}
	if (!status) {
		int on = page_form(req, "active", &active) == 0 && !strcmp(active.buf, "1");

		take(&s.description, &f.description, "description", &what);
		take(&s.cron_timezone, &f.tz, "cron_timezone", &what);
		take(&s.ref, &f.ref, "ref", &what);
		/* a form without the field (values of several lines) keeps them */
		if (f.variables)
			take(&s.variables, &f.variables, "variables", &what);
		if (on != s.active) {
			strbuf_addf(&what, "%sactive", what.len ? ", " : "");
			s.active = on;
		}
		new_cron = take(&s.cron, &f.cron, "cron", &what);
		status = schedule_update(pg.srv, pg.st, req, &pg.who, &pr, &s, new_cron,
					 what.len ? what.buf : "nothing", &msg);
	}
	post_end(&pg, &pr, &s, status, 200, msg.buf);
done:
	form_release(&f);
	strbuf_release(&msg);
	strbuf_release(&what);
	strbuf_release(&active);
	return 0;
}

enum schedule_op { SCHED_ACTIVATE, SCHED_DEACTIVATE, SCHED_DELETE, SCHED_PLAY };

/* A button's post on the schedule :id; play goes to the new pipeline's page. */
static int schedule_op(struct http_request *req, void *ud, enum schedule_op op)
{
	struct page pg;
	struct store_project pr;
	struct store_schedule s;
	struct strbuf msg = STRBUF_INIT;
	int64_t id = 0;
	int status, ok = 200;

	if (post_begin(req, ud, &pg, &pr, &s, 1) < 0)
		return 0;
	switch (op) {
	case SCHED_ACTIVATE:
	case SCHED_DEACTIVATE:
		s.active = op == SCHED_ACTIVATE;
		status = schedule_update(pg.srv, pg.st, req, &pg.who, &pr, &s, 0, "active", &msg);
		break;
	case SCHED_DELETE:
		status = schedule_remove(pg.srv, pg.st, req, &pg.who, &pr, &s, &msg);
		break;
	default:
		ok = 201;
		status = schedule_play(pg.srv, pg.st, req, &pg.who, &pr, &s, &id, &msg);
		if (status == ok) {
			char to[48];

			snprintf(to, sizeof(to), "/pipelines/%" PRId64, id);
			page_redirect(req, to);
			store_schedule_release(&s);
			store_project_release(&pr);
			strbuf_release(&msg);
			return 0;
		}
	}
	post_end(&pg, &pr, &s, status, ok, msg.buf);
	strbuf_release(&msg);
	return 0;
}

int web_schedule_activate(struct http_request *req, void *ud)
{
	return schedule_op(req, ud, SCHED_ACTIVATE);
}

int web_schedule_deactivate(struct http_request *req, void *ud)
{
	return schedule_op(req, ud, SCHED_DEACTIVATE);
}

int web_schedule_delete(struct http_request *req, void *ud)
{
	return schedule_op(req, ud, SCHED_DELETE);
}

/* Run now: to the new pipeline's page (a failed one says why it could not run). */
int web_schedule_play(struct http_request *req, void *ud)
{
	return schedule_op(req, ud, SCHED_PLAY);
}
