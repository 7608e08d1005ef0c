/*
 * A project's settings (server.h): anonymous read, protected branches,
 * members, secret variables. The rules live here once; the REST API
 * (api.c) and the web UI's settings page (src/web/settings.c) parse
 * their own request format, then call these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/seal.h"
#include "server/server.h"
#include "util/strvec.h"
#include "util/xalloc.h"

int server_store_status(int rc, const struct strbuf *err, struct strbuf *msg)
{
	strbuf_reset(msg);
	strbuf_addstr(msg, err->len ? err->buf : "store error");
	return rc == STORE_NOTFOUND ? 404 : rc == STORE_CONFLICT ? 409 : 500;
}

/* Defence in depth: every caller has checked the role its own way already. */
static int maintainer(struct server *srv, struct store *st, const struct principal *who,
		      const struct store_project *p, struct strbuf *msg)
{
	if (auth_role(srv, st, who, p) >= ROLE_MAINTAINER)
		return 0;
	strbuf_reset(msg);
	strbuf_addf(msg, "this needs the %s role on project %s", role_name(ROLE_MAINTAINER),
		    p->name);
	return 403;
}

static int glob_ok(const char *g)
{
	size_t n = strlen(g), k;

	if (!n || n > SETTINGS_MAX_GLOB)
		return 0;
	for (k = 0; k < n; k++)
		if (g[k] == ',' || (unsigned char)g[k] < 0x20 || g[k] == 0x7f)
			return 0;
	return 1;
}

void settings_protected_error(struct strbuf *msg)
{
	strbuf_reset(msg);
	strbuf_addf(msg, "protected_branches must be null (the default branch) or an array of "
		    "at most %d branch globs of 1 to %d bytes, without commas or control "
		    "characters", SETTINGS_MAX_PROTECTED, SETTINGS_MAX_GLOB);
}

int settings_protected_list(const struct strvec *globs, char **ret, struct strbuf *msg)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	*ret = NULL;
	if (globs->nr > SETTINGS_MAX_PROTECTED)
		goto bad;
	for (i = 0; i < globs->nr; i++) {
		if (!glob_ok(globs->v[i]))
			goto bad;
		if (i)
			strbuf_addch(&sb, ',');
		strbuf_addstr(&sb, globs->v[i]);
	}
	*ret = strbuf_detach(&sb, NULL);
	return 0;
bad:
	strbuf_release(&sb);
	settings_protected_error(msg);
	return 400;
}

int settings_project_update(struct server *srv, struct store *st, struct http_request *req,
			    const struct principal *who, struct store_project *p, int pub,
			    int set_protected, const char *list, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	int rc = 0, status;

	if ((status = maintainer(srv, st, who, p, msg)))
		return status;
	if (store_begin(st, &err) < 0) {
		status = server_store_status(-1, &err, msg);
		goto done;
	}
	if (pub >= 0)
		rc = store_project_set_public(st, p->name, pub, &err);
	if (rc == 0 && set_protected)
		rc = store_project_set_protected(st, p->name, list, &err);
	if (rc == 0)
		rc = store_commit(st, &err);
	if (rc < 0) {
		store_rollback(st);
		status = server_store_status(rc, &err, msg);
		goto done;
	}
	if (pub >= 0) {
		p->public_read = !!pub;
		auth_audit(st, req, who, "project.update", p->name, "public %s",
			   p->public_read ? "true" : "false");
		events_access_changed(srv);
	}
	if (set_protected) {
		free(p->protected_branches);
		p->protected_branches = list ? xstrdup(list) : NULL;
		auth_audit(st, req, who, "project.update", p->name, "protected_branches %s",
			   p->protected_branches ? p->protected_branches : "(the default branch)");
	}
	status = 200;
done:
	strbuf_release(&err);
	return status;
}

int settings_project_protect_tags(struct server *srv, struct store *st, struct http_request *req,
				  const struct principal *who, struct store_project *p,
				  const char *list, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	int rc, status;

	if ((status = maintainer(srv, st, who, p, msg)))
		return status;
	rc = store_project_set_protected_tags(st, p->name, list, &err);
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
		goto done;
	}
	free(p->protected_tags);
	p->protected_tags = list && *list ? xstrdup(list) : NULL;
	auth_audit(st, req, who, "project.update", p->name, "protected_tags %s",
		   p->protected_tags ? p->protected_tags : "(none)");
	status = 200;
done:
	strbuf_release(&err);
	return status;
}

int settings_role_parse(const char *name, struct strbuf *msg)
{
	int role = role_parse(name);

	if (role < ROLE_VIEWER || role > ROLE_MAINTAINER) {
		strbuf_reset(msg);
		strbuf_addstr(msg, "role must be viewer, developer or maintainer");
		return -1;
	}
	return role;
}

int settings_member(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p, const char *login,
		    const char *role_str, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	struct store_user u;
	int rc, role = 0, status;
	char target[160];

	memset(&u, 0, sizeof(u));
	if ((status = maintainer(srv, st, who, p, msg)))
		return status;
	if (role_str && (role = settings_role_parse(role_str, msg)) < 0)
		return 400;
	rc = store_user_get(st, login, &u, &err);
	if (rc == STORE_NOTFOUND) {
		strbuf_reset(msg);
		strbuf_addf(msg, "user %s not found", login);
		status = 404;
		goto done;
	}
	if (rc == 0)
		rc = role_str ? store_member_set(st, p->id, u.id, role, &err) :
				store_member_delete(st, p->id, u.id, &err);
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
		goto done;
	}
	snprintf(target, sizeof(target), "project %s member %s", p->name, u.login);
	auth_audit(st, req, who, role_str ? "member.set" : "member.remove", target, "%s",
		   role_str ? role_name(role) : "");
	events_access_changed(srv);
	status = 200;
done:
	store_user_release(&u);
	strbuf_release(&err);
	return status;
}

int settings_variable_key_ok(const char *k, struct strbuf *msg)
{
	size_t i;

	if (k && *k && strlen(k) <= 255) {
		for (i = 0; k[i]; i++)
			if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
			      k[i] == '_' || (i && k[i] >= '0' && k[i] <= '9')))
				break;
		if (!k[i])
			return 0;
	}
	strbuf_reset(msg);
	strbuf_addstr(msg, "variable names are [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes");
	return 400;
}

int settings_variable_set(struct server *srv, struct store *st, struct http_request *req,
			  const struct principal *who, const struct store_project *p,
			  const char *key, const char *value, int masked, int prot,
			  struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	struct store_variable *v = NULL;
	size_t n = 0, i;
	int rc, status, exists = 0;
	char target[320];

	if ((status = maintainer(srv, st, who, p, msg)) ||
	    (status = settings_variable_key_ok(key, msg)))
		return status;
	if (strlen(value) > SETTINGS_MAX_VALUE) {
		strbuf_reset(msg);
		strbuf_addf(msg, "value must be a string of at most %d bytes", SETTINGS_MAX_VALUE);
		return 400;
	}
	if (masked && (strlen(value) < SETTINGS_MASK_MIN || strchr(value, '\n') || strchr(value, '\r'))) {
		strbuf_reset(msg);
		strbuf_addf(msg, "a masked value must be one line of at least %d characters",
			    SETTINGS_MASK_MIN);
		return 400;
	}
	rc = store_variable_list(st, p->id, 0, &v, &n, &err);
	for (i = 0; rc == 0 && i < n; i++)
		exists |= !strcmp(v[i].key, key);
	if (rc == 0 && !exists && n >= SETTINGS_MAX_VARIABLES) {
		strbuf_reset(msg);
		strbuf_addf(msg, "a project has at most %d variables", SETTINGS_MAX_VARIABLES);
		status = 400;
		goto done;
	}
	if (rc == 0) {
		char *sealed = seal_value(value);

		rc = store_variable_set(st, p->id, key, sealed, masked, prot, &err);
		free(sealed);
	}
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
		goto done;
	}
	snprintf(target, sizeof(target), "project %s variable %s", p->name, key);
	auth_audit(st, req, who, "variable.set", target, "%s%s%s", masked ? "masked" : "",
		   masked && prot ? ", " : "", prot ? "protected" : "");
	status = exists ? 200 : 201;
done:
	store_variables_free(v, n);
	strbuf_release(&err);
	return status;
}

int settings_variable_delete(struct server *srv, struct store *st, struct http_request *req,
			     const struct principal *who, const struct store_project *p,
			     const char *key, struct strbuf *msg)
{
	struct strbuf err = STRBUF_INIT;
	int rc, status;
	char target[320];

	if ((status = maintainer(srv, st, who, p, msg)))
		return status;
	rc = store_variable_delete(st, p->id, key, &err);
	if (rc < 0) {
		status = server_store_status(rc, &err, msg);
	} else {
		snprintf(target, sizeof(target), "project %s variable %s", p->name, key);
		auth_audit(st, req, who, "variable.delete", target, NULL);
		status = 200;
	}
	strbuf_release(&err);
	return status;
}
