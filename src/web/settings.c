/*
 * A project's settings page and its form posts (web.h): visibility,
 * protected branches, members, secret variables. For maintainers and
 * administrators. The rules are src/server/settings.c's, shared with the
 * REST API: a post parses its form, calls them, and answers 303 back to
 * the page, or the page again with the refusal (nothing changed).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/page.h"
#include "web/web.h"

/* A form's globs field: SETTINGS_MAX_PROTECTED globs and their commas and spaces. */
#define GLOBS_FIELD ((SETTINGS_MAX_PROTECTED + 1) * (SETTINGS_MAX_GLOB + 3))
/* A value is read whole (the HTTP layer caps the body) so that the shared rule refuses it. */
#define VALUE_FIELD (HTTP_DEFAULT_MAX_BODY)

/* What a refused form said, shown again (never a variable's value). */
struct echo {
	const char *globs;
	const char *key;
	const char *login;
};

/* The confirmations after a change, by the redirect's ?done= */
static const struct {
	const char *code, *message;
} done_messages[] = {
	{ "public", "Visibility saved." },
	{ "protected", "Protected branches saved." },
	{ "member", "Member saved." },
	{ "member-removed", "Member removed." },
	{ "variable", "Variable saved." },
	{ "variable-deleted", "Variable deleted." },
};

static const char *const roles[] = { "viewer", "developer", "maintainer" };

static void role_options(struct strbuf *out, const char *selected)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(roles); i++) {
		struct tmpl_var v[] = {
			tmpl_str("value", roles[i]),
			tmpl_html("selected", !strcmp(roles[i], selected) ? " selected" : ""),
		};
		page_render(out, "settings", "option", v, ARRAY_SIZE(v));
	}
}

/* pr's settings page with status; error (a refusal) or notice shown above. */
static int settings_page(struct page *pg, const struct store_project *pr, unsigned status,
			 const char *error, const char *notice, const struct echo *e)
{
	struct strbuf err = STRBUF_INIT, body = STRBUF_INIT, note = STRBUF_INIT;
	struct strbuf members = STRBUF_INIT, vars = STRBUF_INIT, roles_new = STRBUF_INIT;
	struct strbuf title = STRBUF_INIT, globs = STRBUF_INIT;
	struct store_member *m = NULL;
	struct store_variable *v = NULL;
	size_t nm = 0, nv = 0, i;
	char mask_min[16];

	if (store_member_list(pg->st, pr->id, &m, &nm, &err) < 0 ||
	    store_variable_list(pg->st, pr->id, 0, &v, &nv, &err) < 0) {
		page_error(pg->req, 500, err.buf);
		goto done;
	}
	if (error) {
		struct tmpl_var t[] = { tmpl_str("message", error) };

		page_render(&note, "settings", "error", t, ARRAY_SIZE(t));
	} else if (notice) {
		struct tmpl_var t[] = { tmpl_str("message", notice) };

		page_render(&note, "settings", "done", t, ARRAY_SIZE(t));
	}
	for (i = 0; i < nm; i++) {
		struct strbuf opts = STRBUF_INIT, loginq = STRBUF_INIT;

		role_options(&opts, role_name(m[i].role));
		page_path_encode(&loginq, m[i].login);
		struct tmpl_var t[] = {
			tmpl_str("name", pr->name), tmpl_str("csrf", pg->who.csrf),
			tmpl_str("login", m[i].login), tmpl_str("loginq", loginq.buf),
			tmpl_html("roles", opts.buf),
		};
		page_render(&members, "settings", "member", t, ARRAY_SIZE(t));
		strbuf_release(&opts);
		strbuf_release(&loginq);
	}
	if (!nm)
		page_render(&members, "settings", "nomembers", NULL, 0);
	for (i = 0; i < nv; i++) {
		char age[32];

		page_age(age, sizeof(age), v[i].updated);
		/* keys are [A-Za-z0-9_]: safe in a path as they are */
		struct tmpl_var t[] = {
			tmpl_str("name", pr->name), tmpl_str("csrf", pg->who.csrf),
			tmpl_str("key", v[i].key), tmpl_str("masked", v[i].masked ? "yes" : "no"),
			tmpl_str("protected", v[i].protected_only ? "yes" : "no"),
			tmpl_str("updated", age),
		};
		page_render(&vars, "settings", "variable", t, ARRAY_SIZE(t));
	}
	if (!nv)
		page_render(&vars, "settings", "novariables", NULL, 0);
	role_options(&roles_new, "developer");
	if (e && e->globs)
		strbuf_addstr(&globs, e->globs);
	else if (pr->protected_branches)
		for (i = 0; pr->protected_branches[i]; i++) {
			if (pr->protected_branches[i] == ',')
				strbuf_addstr(&globs, ", ");
			else
				strbuf_addch(&globs, pr->protected_branches[i]);
		}
	snprintf(mask_min, sizeof(mask_min), "%d", SETTINGS_MASK_MIN);
	{
		const char *prot = !pr->protected_branches ? "the default branch" :
				   !*pr->protected_branches ? "none" : pr->protected_branches;
		int globs_mode = e && e->globs ? 1 : pr->protected_branches != NULL;
		struct tmpl_var t[] = {
			tmpl_str("name", pr->name), tmpl_str("csrf", pg->who.csrf),
			tmpl_html("notice", note.buf),
			tmpl_html("public_on", pr->public_read ? " checked" : ""),
			tmpl_html("public_off", pr->public_read ? "" : " checked"),
			tmpl_str("protected_now", prot),
			tmpl_html("mode_default", globs_mode ? "" : " checked"),
			tmpl_html("mode_globs", globs_mode ? " checked" : ""),
			tmpl_str("globs", globs.buf), tmpl_html("members", members.buf),
			tmpl_str("login", e ? e->login : NULL), tmpl_html("roles", roles_new.buf),
			tmpl_html("variables", vars.buf), tmpl_str("key", e ? e->key : NULL),
			tmpl_str("mask_min", mask_min),
		};
		page_render(&body, "settings", NULL, t, ARRAY_SIZE(t));
	}
	strbuf_addf(&title, "Settings · %s", pr->name);
	page_send(pg, status, title.buf, body.buf);
done:
	store_members_free(m, nm);
	store_variables_free(v, nv);
	strbuf_release(&err);
	strbuf_release(&body);
	strbuf_release(&note);
	strbuf_release(&members);
	strbuf_release(&vars);
	strbuf_release(&roles_new);
	strbuf_release(&title);
	strbuf_release(&globs);
	return 0;
}

/* The project of the route, when pg may see its settings; else the answer is sent, -1. */
static int settings_project(struct page *pg, struct store_project *pr)
{
	enum role r;

	if (page_project(pg, http_request_param(pg->req, "name"), 0, pr, &r) < 0)
		return -1;
	if (r < ROLE_MAINTAINER) {
		page_error(pg->req, 403, "Only a maintainer may see a project's settings.");
		store_project_release(pr);
		return -1;
	}
	return 0;
}

int web_settings(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	const char *done = http_request_query(req, "done");
	const char *notice = NULL;
	size_t i;

	memset(&pr, 0, sizeof(pr));
	if (page_begin(req, ud, &pg) < 0 || settings_project(&pg, &pr) < 0)
		return 0;
	for (i = 0; done && i < ARRAY_SIZE(done_messages); i++)
		if (!strcmp(done, done_messages[i].code))
			notice = done_messages[i].message;
	settings_page(&pg, &pr, 200, NULL, notice, NULL);
	store_project_release(&pr);
	return 0;
}

/* A form post's start: the project, a maintainer's role and the CSRF token; else -1 (sent). */
static int post_begin(struct http_request *req, void *ud, struct page *pg,
		      struct store_project *pr)
{
	memset(pr, 0, sizeof(*pr));
	if (page_begin(req, ud, pg) < 0 ||
	    page_project(pg, http_request_param(req, "name"), 0, pr, NULL) < 0)
		return -1;
	if (page_may_change(pg, pr, ROLE_MAINTAINER) < 0) {
		store_project_release(pr);
		return -1;
	}
	return 0;
}

/* A form post's answer for status: 303 to the page, the page with msg, or an error page. */
static int post_end(struct page *pg, struct store_project *pr, int status, const char *msg,
		    const char *done, const struct echo *e)
{
	if (status >= 200 && status < 300) {
		struct strbuf to = STRBUF_INIT;

		/* who gave up their own maintainer role goes to the project page */
		if (auth_role(pg->srv, pg->st, &pg->who, pr) < ROLE_MAINTAINER)
			strbuf_addf(&to, "/p/%s", pr->name);
		else
			strbuf_addf(&to, "/p/%s/settings?done=%s", pr->name, done);
		page_redirect(pg->req, to.buf);
		strbuf_release(&to);
	} else if (status >= 500) {
		page_error(pg->req, (unsigned)status, msg);
	} else {
		settings_page(pg, pr, (unsigned)status, msg, NULL, e);
	}
	store_project_release(pr);
	return 0;
}

int web_settings_public(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf f = STRBUF_INIT, msg = STRBUF_INIT;
	int status = 400;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	if (page_form(req, "public", &f) < 0 || (strcmp(f.buf, "0") && strcmp(f.buf, "1")))
		strbuf_addstr(&msg, "Choose public or private.");
	else
		status = settings_project_update(pg.srv, pg.st, req, &pg.who, &pr,
						 f.buf[0] == '1', 0, NULL, &msg);
	post_end(&pg, &pr, status, msg.buf, "public", NULL);
	strbuf_release(&f);
	strbuf_release(&msg);
	return 0;
}

/* "a, b ,c" → a b c: split at commas, spaces around each dropped, empty ones skipped. */
static void split_globs(const char *s, struct strvec *out)
{
	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);

		while (n && *s == ' ') {
			s++;
			n--;
		}
		while (n && s[n - 1] == ' ')
			n--;
		if (n) {
			char *g = xmalloc(n + 1);

			memcpy(g, s, n);
			g[n] = '\0';
			strvec_push_nodup(out, g);
		}
		if (!end)
			break;
		s = end + 1;
	}
}

int web_settings_protected(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf mode = STRBUF_INIT, globs = STRBUF_INIT, msg = STRBUF_INIT;
	struct strvec v = STRVEC_INIT;
	struct echo e = { 0 };
	char *list = NULL;
	int status = 400;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	page_form(req, "mode", &mode);
	if (page_form_max(req, "globs", GLOBS_FIELD, &globs) == -2) {
		settings_protected_error(&msg);
	} else if (!strcmp(mode.buf, "default")) {
		status = settings_project_update(pg.srv, pg.st, req, &pg.who, &pr, -1, 1, NULL,
						 &msg);
	} else if (!strcmp(mode.buf, "globs")) {
		e.globs = globs.buf;
		split_globs(globs.buf, &v);
		status = settings_protected_list(&v, &list, &msg);
		if (!status)
			status = settings_project_update(pg.srv, pg.st, req, &pg.who, &pr, -1, 1,
							 list, &msg);
	} else {
		strbuf_addstr(&msg, "Choose the default branch or a list of branches.");
	}
	post_end(&pg, &pr, status, msg.buf, "protected", &e);
	free(list);
	strvec_clear(&v);
	strbuf_release(&mode);
	strbuf_release(&globs);
	strbuf_release(&msg);
	return 0;
}

int web_settings_member(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf login = STRBUF_INIT, role = STRBUF_INIT, msg = STRBUF_INIT;
	struct echo e = { 0 };
	int status = 400;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	if (page_form(req, "login", &login) < 0 || !login.len) {
		strbuf_addstr(&msg, "Give the login of a user.");
	} else {
		page_form(req, "role", &role);
		e.login = login.buf;
		status = settings_member(pg.srv, pg.st, req, &pg.who, &pr, login.buf, role.buf,
					 &msg);
	}
	post_end(&pg, &pr, status, msg.buf, "member", &e);
	strbuf_release(&login);
	strbuf_release(&role);
	strbuf_release(&msg);
	return 0;
}

int web_settings_member_remove(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf msg = STRBUF_INIT;
	int status;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	status = settings_member(pg.srv, pg.st, req, &pg.who, &pr,
				 http_request_param(req, "login"), NULL, &msg);
	post_end(&pg, &pr, status, msg.buf, "member-removed", NULL);
	strbuf_release(&msg);
	return 0;
}

int web_settings_variable(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf key = STRBUF_INIT, value = STRBUF_INIT, f = STRBUF_INIT;
	struct strbuf msg = STRBUF_INIT;
	struct echo e = { 0 };
	int status, masked, prot;
	size_t i, o;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	page_form(req, "key", &key);
	e.key = key.buf;
	masked = page_form(req, "masked", &f) == 0 && f.len;
	prot = page_form(req, "protected", &f) == 0 && f.len;
	if (page_form_max(req, "value", VALUE_FIELD, &value) == -2) {
		status = 400;
		strbuf_addf(&msg, "value must be a string of at most %d bytes", SETTINGS_MAX_VALUE);
	} else {
		/* a textarea sends its lines ended with CR LF: keep them as LF */
		for (i = o = 0; i < value.len; i++)
			if (!(value.buf[i] == '\r' && value.buf[i + 1] == '\n'))
				value.buf[o++] = value.buf[i];
		strbuf_setlen(&value, o);
		status = settings_variable_set(pg.srv, pg.st, req, &pg.who, &pr, key.buf, value.buf,
					       masked, prot, &msg);
	}
	post_end(&pg, &pr, status, msg.buf, "variable", &e);
	strbuf_release(&key);
	strbuf_release(&value);
	strbuf_release(&f);
	strbuf_release(&msg);
	return 0;
}

int web_settings_variable_delete(struct http_request *req, void *ud)
{
	struct page pg;
	struct store_project pr;
	struct strbuf msg = STRBUF_INIT;
	int status;

	if (post_begin(req, ud, &pg, &pr) < 0)
		return 0;
	status = settings_variable_delete(pg.srv, pg.st, req, &pg.who, &pr,
					  http_request_param(req, "key"), &msg);
	post_end(&pg, &pr, status, msg.buf, "variable-deleted", NULL);
	strbuf_release(&msg);
	return 0;
}
