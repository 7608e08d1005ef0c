/*
 * A project's notification settings (notify.h): parsed and checked from
 * JSON, rendered with or without their secrets.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "notify/notify.h"
#include "util/xalloc.h"

void notify_settings_release(struct notify_settings *s)
{
	size_t i;

	if (!s)
		return;
	free(s->forge.kind);
	free(s->forge.api_url);
	free(s->forge.repo);
	free(s->forge.token);
	free(s->forge.context);
	for (i = 0; i < s->hooks_nr; i++) {
		free(s->hooks[i].url);
		free(s->hooks[i].secret);
	}
	free(s->hooks);
	for (i = 0; i < s->subscribers_nr; i++)
		free(s->subscribers[i]);
	free(s->subscribers);
	memset(s, 0, sizeof(*s));
}

/* Printable ASCII or UTF-8 bytes, no control characters. */
static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int notify_url_ok(const char *url)
{
	const char *host;
	size_t n = strlen(url);

	if (!n || n > NOTIFY_MAX_URL || !printable(url) || strchr(url, ' '))
		return 0;
	if (!strncasecmp(url, "http://", 7))
		host = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		host = url + 8;
	else
		return 0;
	return *host && *host != '/' && *host != '?' && *host != '#';
}

int notify_address_ok(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = strlen(a);

	if (!n || n > NOTIFY_MAX_ADDRESS || !at || at == a || !at[1] || strchr(at + 1, '@'))
		return 0;
	for (; *a; a++)
		if ((unsigned char)*a <= ' ' || *a == 0x7f || strchr("<>()[],;:\\\"", *a))
			return 0;
	return 1;
}

static int repo_ok(const char *kind, const char *r)
{
	size_t n = strlen(r), i, slashes = 0;

	if (!n || n > 255 || r[0] == '/' || r[n - 1] == '/')
		return 0;
	for (i = 0; i < n; i++) {
		if ((i == 0 || r[i - 1] == '/') && r[i] == '.')
			return 0;	/* no ".", "..", hidden segments in the API path */
		if (r[i] == '/') {
			if (r[i + 1] == '/')
				return 0;
			slashes++;
		} else if (!isalnum((unsigned char)r[i]) && !strchr("._-", r[i])) {
			return 0;
		}
	}
	if (!strcmp(kind, "gitlab"))
		return 1;	/* a numeric id or a group/sub/project path */
	return slashes == 1;
}

/* A string member: NULL if absent/null; -1 on a wrong type or length. */
static int get_str(const json_t *o, const char *k, const char *where, size_t max,
		   const char **ret, struct strbuf *err)
{
	json_t *v = json_object_get(o, k);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    !printable(json_string_value(v))) {
		strbuf_addf(err, "%s%s: must be a string of at most %zu printable characters",
			    where, k, max);
		return -1;
	}
	*ret = json_string_value(v);
	return 0;
}

static int only_keys(const json_t *o, const char *where, const char *const *keys,
		     struct strbuf *err)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!json_is_object(o)) {
		strbuf_addf(err, "%s: must be an object", where);
		return -1;
	}
	json_object_foreach((json_t *)o, k, v) {
		for (i = 0; keys[i] && strcmp(keys[i], k); i++)
			;
		if (!keys[i]) {
			strbuf_addf(err, "%s: unknown setting %s", where, k);
			return -1;
		}
	}
	return 0;
}

static int parse_forge(const json_t *o, const struct notify_forge *old,
		       struct notify_forge *f, struct strbuf *err)
{
	static const char *const keys[] = { "kind", "api_url", "repo", "token", "context",
					    "token_set", NULL };
	const char *kind, *api, *repo, *token, *ctx;

	if (only_keys(o, "forge", keys, err) < 0 ||
	    get_str(o, "kind", "forge.", 16, &kind, err) < 0 ||
	    get_str(o, "api_url", "forge.", NOTIFY_MAX_URL, &api, err) < 0 ||
	    get_str(o, "repo", "forge.", 255, &repo, err) < 0 ||
	    get_str(o, "token", "forge.", NOTIFY_MAX_SECRET, &token, err) < 0 ||
	    get_str(o, "context", "forge.", 255, &ctx, err) < 0)
		return -1;
	if (!kind || (strcmp(kind, "github") && strcmp(kind, "gitlab") && strcmp(kind, "gitea"))) {
		strbuf_addstr(err, "forge.kind: must be github, gitlab or gitea");
		return -1;
	}
	if (!api && !strcmp(kind, "github"))
		api = "https://api.github.com";
	if (!api || !notify_url_ok(api)) {
		strbuf_addstr(err, "forge.api_url: must be an http:// or https:// URL "
			      "(e.g. https://gitlab.example.com/api/v4)");
		return -1;
	}
	if (!repo || !repo_ok(kind, repo)) {
		strbuf_addf(err, "forge.repo: must be %s", !strcmp(kind, "gitlab") ?
			    "the project's id or path (group/name)" : "owner/name");
		return -1;
	}
	if (!token && old && old->kind && !strcmp(old->kind, kind) && old->token)
		token = old->token;
	if (!token || !*token) {
		strbuf_addstr(err, "forge.token: an API token is needed to post commit statuses");
		return -1;
	}
	if (ctx && !*ctx) {
		strbuf_addstr(err, "forge.context: must not be empty");
		return -1;
	}
	f->kind = xstrdup(kind);
	f->api_url = xstrndup(api, strlen(api) - (api[strlen(api) - 1] == '/'));
	f->repo = xstrdup(repo);
	f->token = xstrdup(token);
	f->context = xstrdup(ctx ? ctx : "cidre");
	return 0;
}

static int parse_hook(const json_t *o, size_t i, const struct notify_settings *old,
		      struct notify_hook *h, struct strbuf *err)
{
	static const char *const keys[] = { "url", "secret", "events", "secret_set", NULL };
	char where[40];
	const char *url, *secret;
	json_t *ev = json_object_get(o, "events"), *e;
	size_t k;

	snprintf(where, sizeof(where), "webhooks[%zu]", i);
	if (only_keys(o, where, keys, err) < 0)
		return -1;
	strbuf_addf(err, "%s.", where);
	if (get_str(o, "url", "", NOTIFY_MAX_URL, &url, err) < 0 ||
	    get_str(o, "secret", "", NOTIFY_MAX_SECRET, &secret, err) < 0)
		return -1;
	strbuf_reset(err);
	if (!url || !notify_url_ok(url)) {
		strbuf_addf(err, "%s.url: must be an http:// or https:// URL", where);
		return -1;
	}
	if (!secret && old) {
		for (k = 0; k < old->hooks_nr; k++)
			if (!strcmp(old->hooks[k].url, url)) {
				secret = old->hooks[k].secret;
				break;
			}
	}
	h->pipeline = 1;
	h->job = 0;
	if (ev && !json_is_null(ev)) {
		if (!json_is_array(ev) || !json_array_size(ev) || json_array_size(ev) > 2) {
			strbuf_addf(err, "%s.events: must be a list of \"pipeline\", \"job\"", where);
			return -1;
		}
		h->pipeline = 0;
		json_array_foreach(ev, k, e) {
			const char *s = json_string_value(e);

			if (s && !strcmp(s, "pipeline"))
				h->pipeline = 1;
			else if (s && !strcmp(s, "job"))
				h->job = 1;
			else {
				strbuf_addf(err, "%s.events: must be a list of \"pipeline\", "
					    "\"job\"", where);
				return -1;
			}
		}
	}
	h->url = xstrdup(url);
	h->secret = xstrdup(secret ? secret : "");
	return 0;
}

int notify_settings_parse(const json_t *in, const struct notify_settings *old,
			  struct notify_settings *out, struct strbuf *err)
{
	static const char *const keys[] = { "forge", "webhooks", "email", NULL };
	static const char *const ekeys[] = { "to_author", "subscribers", NULL };
	struct notify_settings s;
	json_t *v, *e;
	size_t i;

	memset(&s, 0, sizeof(s));
	if (only_keys(in, "settings", keys, err) < 0)
		goto fail;
	v = json_object_get(in, "forge");
	if (v && !json_is_null(v) &&
	    parse_forge(v, old ? &old->forge : NULL, &s.forge, err) < 0)
		goto fail;
	v = json_object_get(in, "webhooks");
	if (v && !json_is_null(v)) {
		if (!json_is_array(v) || json_array_size(v) > NOTIFY_MAX_HOOKS) {
			strbuf_addf(err, "webhooks: must be a list of at most %d webhooks",
				    NOTIFY_MAX_HOOKS);
			goto fail;
		}
		s.hooks = xcalloc(json_array_size(v) + 1, sizeof(*s.hooks));
		json_array_foreach(v, i, e) {
			if (parse_hook(e, i, old, &s.hooks[i], err) < 0)
				goto fail;
			s.hooks_nr++;
		}
	}
	v = json_object_get(in, "email");
	if (v && !json_is_null(v)) {
		json_t *ta, *sub;

		if (only_keys(v, "email", ekeys, err) < 0)
			goto fail;
		ta = json_object_get(v, "to_author");
		if (ta && !json_is_boolean(ta)) {
			strbuf_addstr(err, "email.to_author: must be true or false");
			goto fail;
		}
		s.to_author = json_is_true(ta);
		sub = json_object_get(v, "subscribers");
		if (sub && !json_is_null(sub)) {
			if (!json_is_array(sub) || json_array_size(sub) > NOTIFY_MAX_SUBSCRIBERS) {
				strbuf_addf(err, "email.subscribers: must be a list of at most %d "
					    "addresses", NOTIFY_MAX_SUBSCRIBERS);
				goto fail;
			}
			s.subscribers = xcalloc(json_array_size(sub) + 1, sizeof(char *));
			json_array_foreach(sub, i, e) {
				const char *a = json_string_value(e);

				if (!a || !notify_address_ok(a)) {
					strbuf_addf(err, "email.subscribers[%zu]: must be an e-mail "
						    "address (name@example.com)", i);
					goto fail;
				}
				s.subscribers[s.subscribers_nr++] = xstrdup(a);
			}
		}
	}
	*out = s;
	return 0;
fail:
	notify_settings_release(&s);
	return -1;
}

json_t *notify_settings_json(const struct notify_settings *s, int with_secrets)
{
	json_t *o = json_object(), *a, *sub;
	size_t i;

	if (s->forge.kind) {
		json_t *f = json_pack("{s:s, s:s, s:s, s:s}", "kind", s->forge.kind,
				      "api_url", s->forge.api_url, "repo", s->forge.repo,
				      "context", s->forge.context);

		if (with_secrets)
			json_object_set_new(f, "token", json_string(s->forge.token));
		else
			json_object_set_new(f, "token_set", json_boolean(s->forge.token &&
									*s->forge.token));
		json_object_set_new(o, "forge", f);
	} else {
		json_object_set_new(o, "forge", json_null());
	}
	a = json_array();
	for (i = 0; i < s->hooks_nr; i++) {
		const struct notify_hook *h = &s->hooks[i];
		json_t *ev = json_array(), *w;

		if (h->pipeline)
			json_array_append_new(ev, json_string("pipeline"));
		if (h->job)
			json_array_append_new(ev, json_string("job"));
		w = json_pack("{s:s, s:o}", "url", h->url, "events", ev);
		if (with_secrets)
			json_object_set_new(w, "secret", json_string(h->secret));
		else
			json_object_set_new(w, "secret_set", json_boolean(*h->secret));
		json_array_append_new(a, w);
	}
	json_object_set_new(o, "webhooks", a);
	sub = json_array();
	for (i = 0; i < s->subscribers_nr; i++)
		json_array_append_new(sub, json_string(s->subscribers[i]));
	json_object_set_new(o, "email", json_pack("{s:b, s:o}", "to_author", s->to_author,
						  "subscribers", sub));
	return o;
}
