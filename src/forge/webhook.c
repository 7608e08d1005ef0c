/*
 * Forge push webhooks: authenticate, classify, parse. See webhook.h and
 * docs/internals/forge.md.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/webhook.h"
#include "http/parse.h"
#include "util/hex.h"
#include "util/hmac.h"
#include "util/xalloc.h"

static const char *const forge_names[] = {
	[WEBHOOK_GITHUB] = "GitHub",
	[WEBHOOK_GITLAB] = "GitLab",
	[WEBHOOK_GITEA] = "Gitea",
	[WEBHOOK_GOGS] = "Gogs",
};

void webhook_input_headers(struct webhook_input *in,
			   const char *(*header)(void *ctx, const char *name),
			   void *ctx)
{
	in->github_event = header(ctx, "X-GitHub-Event");
	in->github_signature = header(ctx, "X-Hub-Signature-256");
	in->gitlab_event = header(ctx, "X-Gitlab-Event");
	in->gitlab_token = header(ctx, "X-Gitlab-Token");
	in->gitea_event = header(ctx, "X-Gitea-Event");
	in->gitea_signature = header(ctx, "X-Gitea-Signature");
	in->gogs_event = header(ctx, "X-Gogs-Event");
	in->gogs_signature = header(ctx, "X-Gogs-Signature");
	in->content_type = header(ctx, "Content-Type");
}

void webhook_push_clear(struct webhook_push *p)
{
	free(p->ref);
	free(p->before);
	free(p->after);
	free(p->clone_url);
	free(p->repo_name);
	free(p->pusher);
	free(p->message);
	free(p->mr_title);
	free(p->mr_url);
	free(p->target_branch);
	free(p->target_sha);
	free(p->mr_state);
	memset(p, 0, sizeof(*p));
}

/*
 * sig is 64 hex digits (either case) of HMAC-SHA256(secret, body)? The
 * comparison of the MAC bytes is constant time; the length and hex checks
 * depend only on the attacker's own input.
 */
static int hmac_matches(const char *secret, const void *body, size_t len,
			const char *sig)
{
	unsigned char want[SHA256_LEN], got[SHA256_LEN];
	size_t i;
	int ok;

	if (strlen(sig) != SHA256_HEX_LEN)
		return 0;
	for (i = 0; i < SHA256_LEN; i++) {
		int hi = hex_value((unsigned char)sig[2 * i]);
		int lo = hex_value((unsigned char)sig[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		got[i] = (unsigned char)(hi * 16 + lo);
	}
	hmac_sha256(secret, strlen(secret), body, len, want);
	ok = ct_memeq(want, got, SHA256_LEN);
	explicit_bzero(want, sizeof(want));
	return ok;
}

/*
 * Check the delivery's credentials: 0 if authentic, else -1 with err.
 * json[0..len) is what Gitea and Gogs sign (the body, or a form's
 * payload); GitHub signs the body as sent.
 */
static int authenticate(enum webhook_forge forge, const struct webhook_input *in,
			const void *json, size_t len, const char *secret,
			struct strbuf *err)
{
	const void *body = in->body;
	size_t body_len = in->len;
	const char *sig;

	switch (forge) {
	case WEBHOOK_GITLAB:
		if (!in->gitlab_token) {
			strbuf_addstr(err, "GitLab webhook without X-Gitlab-Token");
			return -1;
		}
		if (!ct_streq(in->gitlab_token, secret)) {
			strbuf_addstr(err, "GitLab webhook: wrong X-Gitlab-Token");
			return -1;
		}
		return 0;
	case WEBHOOK_GITEA:
	case WEBHOOK_GOGS:
		sig = forge == WEBHOOK_GITEA ? in->gitea_signature : in->gogs_signature;
		if (!sig) {
			strbuf_addf(err, "%s webhook without X-%s-Signature", forge_names[forge],
				    forge_names[forge]);
			return -1;
		}
		body = json;
		body_len = len;
		break;
	case WEBHOOK_GITHUB:
	default:
		sig = in->github_signature;
		if (!sig) {
			strbuf_addstr(err, "GitHub webhook without X-Hub-Signature-256");
			return -1;
		}
		if (strncmp(sig, "sha256=", 7)) {
			strbuf_addstr(err, "GitHub webhook: X-Hub-Signature-256 "
				      "is not sha256=HEX");
			return -1;
		}
		sig += 7;
		break;
	}
	if (!hmac_matches(secret, body, body_len, sig)) {
		strbuf_addf(err, "%s webhook: bad signature", forge_names[forge]);
		return -1;
	}
	return 0;
}

/* A string member of obj (obj may be NULL), or NULL. */
static const char *str_at(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int is_sha(const char *s)
{
	/* SHA-1 (40) or SHA-256 (64) object names */
	size_t n = s ? strlen(s) : 0;

	return (n == 40 || n == 64) &&
		strspn(s, "0123456789abcdef") == n;
}

static int is_zero_sha(const char *s)
{
	return strspn(s, "0") == strlen(s);
}

/* The message of the commit named id in commits[], else of the last one. */
static const char *commit_message(const json_t *commits, const char *id)
{
	size_t i, n = json_is_array(commits) ? json_array_size(commits) : 0;

	for (i = 0; i < n; i++) {
		const json_t *c = json_array_get(commits, i);
		const char *cid = str_at(c, "id");

		if (cid && id && !strcmp(cid, id))
			return str_at(c, "message");
	}
	return n ? str_at(json_array_get(commits, n - 1), "message") : NULL;
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

/* Parse a push payload of forge into ret; one of WEBHOOK_*. */
static int parse_push(enum webhook_forge forge, const json_t *root,
		      struct webhook_push *ret, struct strbuf *err)
{
	const char *ref = str_at(root, "ref");
	const char *before = str_at(root, "before");
	const char *after = str_at(root, "after");
	const json_t *repo, *pusher;
	const char *url, *name, *who, *msg;
	int gitea;

	if (!ref || !before || !after) {
		strbuf_addf(err, "%s push: \"ref\", \"before\" and \"after\" "
			    "must be strings", forge_names[forge]);
		return WEBHOOK_BAD_REQUEST;
	}
	if (strncmp(ref, "refs/", 5) || strlen(ref) > 1024 ||
	    strpbrk(ref, " \t\r\n~^:?*[\\") || strstr(ref, "..")) {
		strbuf_addf(err, "%s push: bad ref \"%.100s\"", forge_names[forge],
			    ref);
		return WEBHOOK_BAD_REQUEST;
	}
	if (!is_sha(before) || !is_sha(after)) {
		strbuf_addf(err, "%s push: \"before\" and \"after\" must be "
			    "commit ids", forge_names[forge]);
		return WEBHOOK_BAD_REQUEST;
	}
	if (is_zero_sha(after) ||
	    json_is_true(json_object_get(root, "deleted"))) {
		strbuf_addf(err, "%s push deletes %s: ignored",
			    forge_names[forge], ref);
		return WEBHOOK_IGNORED;
	}

	if (forge == WEBHOOK_GITLAB) {
		repo = json_object_get(root, "project");
		url = str_at(repo, "git_http_url");
		if (!url)
			url = str_at(json_object_get(root, "repository"),
				     "git_http_url");
		name = str_at(repo, "path_with_namespace");
		who = str_at(root, "user_username");
		if (!who)
			who = str_at(root, "user_name");
		msg = commit_message(json_object_get(root, "commits"),
				     str_at(root, "checkout_sha") ?
				     str_at(root, "checkout_sha") : after);
		if (!msg)
			msg = str_at(root, "message");   /* annotated tag */
	} else {
		repo = json_object_get(root, "repository");
		url = str_at(repo, "clone_url");
		name = str_at(repo, "full_name");
		pusher = json_object_get(root, "pusher");
		gitea = forge == WEBHOOK_GITEA || forge == WEBHOOK_GOGS;
		who = gitea ? str_at(pusher, "login") : str_at(pusher, "name");
		if (!who)
			who = str_at(pusher, gitea ? "username" : "login");
		if (!who)
			who = str_at(json_object_get(root, "sender"), "login");
		msg = str_at(json_object_get(root, "head_commit"), "message");
		if (!msg)
			msg = commit_message(json_object_get(root, "commits"),
					     after);
	}
	if (!url || !*url) {
		strbuf_addf(err, "%s push: no repository clone URL",
			    forge_names[forge]);
		return WEBHOOK_BAD_REQUEST;
	}

	memset(ret, 0, sizeof(*ret));
	ret->forge = forge;
	ret->ref = xstrdup(ref);
	ret->before = xstrdup(before);
	ret->after = xstrdup(after);
	ret->clone_url = xstrdup(url);
	ret->repo_name = dup_or_empty(name);
	ret->pusher = dup_or_empty(who);
	ret->message = dup_or_empty(msg);
	return WEBHOOK_PUSH;
}

/* Whether the delivery is form-encoded (a media type, then maybe ";..."). */
static int is_form(const char *type)
{
	static const char form[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form) - 1;

	if (!type)
		return 0;
	type += strspn(type, " \t");
	return !strncasecmp(type, form, n) &&
		(!type[n] || type[n] == ';' || type[n] == ' ' || type[n] == '\t');
}

/*
 * A form delivery's JSON: its payload field, percent-decoded, into out
 * (never longer than the body). 0, or -1 with err.
 */
static int form_payload(enum webhook_forge forge, const struct webhook_input *in,
			struct strbuf *out, struct strbuf *err)
{
	const char *p = in->body, *end = p + in->len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *f_end = amp ? amp : end;

		if (f_end - p >= 8 && !memcmp(p, "payload=", 8)) {
			bool nul = false;
			size_t n = (size_t)(f_end - p - 8);

			strbuf_grow(out, n + 1);
			strbuf_setlen(out, http_pct_decode(out->buf, p + 8, n, true, &nul,
							   NULL));
			if (nul) {
				strbuf_addf(err, "%s push: a NUL byte in the form's payload",
					    forge_names[forge]);
				return -1;
			}
			return 0;
		}
		p = amp ? amp + 1 : end;
	}
	strbuf_addf(err, "%s push: a form body without a payload field",
		    forge_names[forge]);
	return -1;
}

/* A branch name as a forge sends it: no refs/ prefix, nothing git refuses. */
static int branch_ok(const char *b)
{
	return b && *b && strlen(b) <= 1024 && *b != '-' && *b != '/' &&
		!strpbrk(b, " \t\r\n~^:?*[\\") && !strstr(b, "..") && !strstr(b, "@{");
}

/*
 * A merge request event of forge into ret: WEBHOOK_MERGE_REQUEST for one
 * to build, WEBHOOK_IGNORED for the other actions, else
 * WEBHOOK_BAD_REQUEST.
 */
static int parse_merge_request(enum webhook_forge forge, const json_t *root,
			       struct webhook_push *ret, struct strbuf *err)
{
	const char *action, *source, *target, *head, *base, *url, *name, *who, *title, *web;
	const char *state = NULL, *s;
	const json_t *pr, *attrs;
	json_int_t iid;
	int build;

	if (forge == WEBHOOK_GITLAB) {
		attrs = json_object_get(root, "object_attributes");
		action = str_at(attrs, "action");
		/* an update builds when it brought commits (GitLab sends oldrev) */
		build = action && (!strcmp(action, "open") || !strcmp(action, "reopen") ||
				   (!strcmp(action, "update") &&
				    json_object_get(attrs, "oldrev")));
		source = str_at(attrs, "source_branch");
		target = str_at(attrs, "target_branch");
		head = str_at(json_object_get(attrs, "last_commit"), "id");
		base = NULL;
		iid = json_integer_value(json_object_get(attrs, "iid"));
		title = str_at(attrs, "title");
		web = str_at(attrs, "url");
		url = str_at(json_object_get(root, "project"), "git_http_url");
		if (!url)
			url = str_at(json_object_get(attrs, "target"), "git_http_url");
		name = str_at(json_object_get(root, "project"), "path_with_namespace");
		who = str_at(json_object_get(root, "user"), "username");
		s = str_at(attrs, "state");
		if (s && (!strcmp(s, "opened") || !strcmp(s, "closed") || !strcmp(s, "merged") ||
			  !strcmp(s, "locked")))
			state = s;
	} else {
		pr = json_object_get(root, "pull_request");
		action = str_at(root, "action");
		build = action && (!strcmp(action, "opened") || !strcmp(action, "reopened") ||
				   !strcmp(action, "synchronize") ||
				   !strcmp(action, "synchronized"));
		source = str_at(json_object_get(pr, "head"), "ref");
		target = str_at(json_object_get(pr, "base"), "ref");
		head = str_at(json_object_get(pr, "head"), "sha");
		base = str_at(json_object_get(pr, "base"), "sha");
		iid = json_integer_value(json_object_get(root, "number"));
		if (!iid)
			iid = json_integer_value(json_object_get(pr, "number"));
		title = str_at(pr, "title");
		web = str_at(pr, "html_url");
		url = str_at(json_object_get(root, "repository"), "clone_url");
		name = str_at(json_object_get(root, "repository"), "full_name");
		who = str_at(json_object_get(root, "sender"), "login");
		s = str_at(pr, "state");
		if (json_is_true(json_object_get(pr, "merged")))
			state = "merged";
		else if (s && !strcmp(s, "open"))
			state = "opened";
		else if (s && !strcmp(s, "closed"))
			state = "closed";
	}
	if (!action) {
		strbuf_addf(err, "%s merge request event without an action: ignored",
			    forge_names[forge]);
		return WEBHOOK_IGNORED;
	}
	if (!build) {
		strbuf_addf(err, "%s merge request action \"%.64s\" ignored",
			    forge_names[forge], action);
		/* its state is still news: an open request of a branch, or not */
		if (!state || !branch_ok(source) || !branch_ok(target) || iid <= 0)
			return WEBHOOK_IGNORED;
		base = base && is_sha(base) ? base : NULL;
		goto fill;
	}
	if (!branch_ok(source) || !branch_ok(target) || !is_sha(head) ||
	    (base && !is_sha(base)) || iid <= 0) {
		strbuf_addf(err, "%s merge request: it needs its number, source and target "
			    "branches and head commit", forge_names[forge]);
		return WEBHOOK_BAD_REQUEST;
	}
	if (!url || !*url) {
		strbuf_addf(err, "%s merge request: no repository clone URL",
			    forge_names[forge]);
		return WEBHOOK_BAD_REQUEST;
	}
	state = "opened";
fill:
	memset(ret, 0, sizeof(*ret));
	ret->forge = forge;
	ret->ref = xasprintf("refs/heads/%s", source);
	ret->before = xstrdup("");
	ret->after = xstrdup(is_sha(head) ? head : "");
	ret->clone_url = dup_or_empty(url);
	ret->repo_name = dup_or_empty(name);
	ret->pusher = dup_or_empty(who);
	ret->message = dup_or_empty(title);
	ret->mr_iid = (long long)iid;
	ret->mr_title = dup_or_empty(title);
	ret->mr_url = dup_or_empty(web);
	ret->target_branch = xstrdup(target);
	ret->target_sha = dup_or_empty(base);
	ret->mr_state = xstrdup(state);
	return build ? WEBHOOK_MERGE_REQUEST : WEBHOOK_MERGE_REQUEST_STATE;
}

int webhook_parse(const struct webhook_input *in, const char *secret,
		  struct webhook_push *ret, struct strbuf *err)
{
	size_t max = in->max_body ? in->max_body : WEBHOOK_DEFAULT_MAX_BODY;
	struct strbuf form = STRBUF_INIT;
	enum webhook_forge forge;
	const char *event;
	const void *json = in->body;
	size_t json_len = in->len;
	json_t *root;
	json_error_t jerr;
	int push, mr, rc;

	/* Gitea also sends X-GitHub-Event and Gogs headers: test it first */
	if (in->gitea_event) {
		forge = WEBHOOK_GITEA;
		event = in->gitea_event;
	} else if (in->gogs_event) {
		forge = WEBHOOK_GOGS;
		event = in->gogs_event;
	} else if (in->gitlab_event) {
		forge = WEBHOOK_GITLAB;
		event = in->gitlab_event;
	} else if (in->github_event) {
		forge = WEBHOOK_GITHUB;
		event = in->github_event;
	} else {
		strbuf_addstr(err, "not a forge webhook: no X-GitHub-Event, "
			      "X-Gitlab-Event, X-Gitea-Event or X-Gogs-Event header");
		return WEBHOOK_BAD_REQUEST;
	}
	if (in->len > max) {
		strbuf_addf(err, "%s webhook: body of %zu bytes is over the "
			    "limit of %zu", forge_names[forge], in->len, max);
		return WEBHOOK_BAD_REQUEST;
	}
	if (!secret || !*secret) {
		strbuf_addf(err, "%s webhook refused: the project has no "
			    "webhook secret configured", forge_names[forge]);
		return WEBHOOK_UNAUTHORIZED;
	}
	if (in->body && is_form(in->content_type)) {
		if (form_payload(forge, in, &form, err) < 0) {
			strbuf_release(&form);
			return WEBHOOK_BAD_REQUEST;
		}
		json = form.buf;
		json_len = form.len;
	}
	if (authenticate(forge, in, json, json_len, secret, err) < 0) {
		strbuf_release(&form);
		return WEBHOOK_UNAUTHORIZED;
	}

	if (forge == WEBHOOK_GITLAB) {
		push = !strcmp(event, "Push Hook") ||
			!strcmp(event, "Tag Push Hook");
		mr = !strcmp(event, "Merge Request Hook");
	} else {
		push = !strcmp(event, "push");
		mr = !strcmp(event, "pull_request");
	}
	if (!push && !mr) {
		strbuf_addf(err, "%s event \"%.64s\" ignored", forge_names[forge],
			    event);
		rc = WEBHOOK_IGNORED;
		goto done;
	}

	rc = WEBHOOK_BAD_REQUEST;
	if (!json_len || !json) {
		strbuf_addf(err, "%s push: empty body", forge_names[forge]);
		goto done;
	}
	root = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		strbuf_addf(err, "%s push: bad JSON at line %d column %d: %s",
			    forge_names[forge], jerr.line, jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(root))
		strbuf_addf(err, "%s push: the body is not a JSON object",
			    forge_names[forge]);
	else if (mr)
		rc = parse_merge_request(forge, root, ret, err);
	else
		rc = parse_push(forge, root, ret, err);
	json_decref(root);
done:
	strbuf_release(&form);
	return rc;
}
