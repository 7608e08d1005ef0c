/* Unit tests for src/forge/webhook.c: each forge, signatures, events, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forge/webhook.h"
#include "util/hmac.h"

#define SECRET "It's a Secret to Everybody"
#define SHA_A "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
#define SHA_B "0000000000000000000000000000000000000000"
#define SHA_C "1481a2de7b2a7d02428ad93446ab166be7793fbb"

static const char github_push[] =
	"{\"ref\":\"refs/heads/main\",\"before\":\"" SHA_C "\",\"after\":\"" SHA_A "\","
	"\"repository\":{\"full_name\":\"octo/hello\",\"clone_url\":\"https://github.com/octo/hello.git\"},"
	"\"pusher\":{\"name\":\"octocat\",\"email\":\"o@example.com\"},"
	"\"head_commit\":{\"id\":\"" SHA_A "\",\"message\":\"fix: the thing\"},"
	"\"commits\":[{\"id\":\"" SHA_A "\",\"message\":\"fix: the thing\"}]}";

static const char gitlab_push[] =
	"{\"object_kind\":\"push\",\"ref\":\"refs/heads/dev\",\"before\":\"" SHA_C "\","
	"\"after\":\"" SHA_A "\",\"checkout_sha\":\"" SHA_A "\",\"user_name\":\"John Smith\","
	"\"user_username\":\"jsmith\",\"project\":{\"path_with_namespace\":\"mike/diaspora\","
	"\"git_http_url\":\"http://example.com/mike/diaspora.git\"},"
	"\"commits\":[{\"id\":\"" SHA_A "\",\"message\":\"second\\n\"},"
	"{\"id\":\"" SHA_C "\",\"message\":\"first\\n\"}]}";

static const char gitea_push[] =
	"{\"ref\":\"refs/tags/v1.0\",\"before\":\"" SHA_B "\",\"after\":\"" SHA_A "\","
	"\"commits\":[{\"id\":\"" SHA_A "\",\"message\":\"Webhooks Yay!\"}],"
	"\"repository\":{\"full_name\":\"gitea/webhooks\",\"clone_url\":\"http://localhost:3000/gitea/webhooks.git\"},"
	"\"pusher\":{\"login\":\"gitea\",\"username\":\"gitea\"}}";

static void sign(const char *secret, const char *body, char *out, const char *prefix)
{
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];

	hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
	sha256_to_hex(mac, hex);
	strcpy(out, prefix);
	memcpy(out + strlen(prefix), hex, sizeof(hex));
}

static char sigbuf[128];

static struct webhook_input github(const char *event, const char *body)
{
	struct webhook_input in = { 0 };

	sign(SECRET, body, sigbuf, "sha256=");
	in.github_event = event;
	in.github_signature = sigbuf;
	in.body = body;
	in.len = strlen(body);
	return in;
}

static struct webhook_input gitea(const char *event, const char *body)
{
	struct webhook_input in = { 0 };

	sign(SECRET, body, sigbuf, "");
	in.gitea_event = event;
	in.gitea_signature = sigbuf;
	in.github_event = event;    /* Gitea sends both */
	in.body = body;
	in.len = strlen(body);
	return in;
}

static struct webhook_input gitlab(const char *event, const char *body)
{
	struct webhook_input in = { 0 };

	in.gitlab_event = event;
	in.gitlab_token = SECRET;
	in.body = body;
	in.len = strlen(body);
	return in;
}

static int parse(const struct webhook_input *in, const char *secret,
		 struct webhook_push *p, struct strbuf *err)
{
	strbuf_reset(err);
	return webhook_parse(in, secret, p, err);
}

static void test_github_push(void **state)
{
	struct webhook_input in = github("push", github_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_int_equal(p.forge, WEBHOOK_GITHUB);
	assert_string_equal(p.ref, "refs/heads/main");
	assert_string_equal(p.before, SHA_C);
	assert_string_equal(p.after, SHA_A);
	assert_string_equal(p.clone_url, "https://github.com/octo/hello.git");
	assert_string_equal(p.repo_name, "octo/hello");
	assert_string_equal(p.pusher, "octocat");
	assert_string_equal(p.message, "fix: the thing");
	webhook_push_clear(&p);
	assert_null(p.ref);
	webhook_push_clear(&p);
	strbuf_release(&err);
}

static void test_gitlab_push(void **state)
{
	struct webhook_input in = gitlab("Push Hook", gitlab_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_int_equal(p.forge, WEBHOOK_GITLAB);
	assert_string_equal(p.ref, "refs/heads/dev");
	assert_string_equal(p.after, SHA_A);
	assert_string_equal(p.clone_url, "http://example.com/mike/diaspora.git");
	assert_string_equal(p.repo_name, "mike/diaspora");
	assert_string_equal(p.pusher, "jsmith");
	/* the commit named by checkout_sha, not the last of commits[] */
	assert_string_equal(p.message, "second\n");
	webhook_push_clear(&p);

	in.gitlab_event = "Tag Push Hook";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	webhook_push_clear(&p);
	strbuf_release(&err);
}

/* Gitea: a tag push is a push; X-Gitea-Event wins over X-GitHub-Event. */
static void test_gitea_push(void **state)
{
	struct webhook_input in = gitea("push", gitea_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_int_equal(p.forge, WEBHOOK_GITEA);
	assert_string_equal(p.ref, "refs/tags/v1.0");
	assert_string_equal(p.before, SHA_B);
	assert_string_equal(p.clone_url, "http://localhost:3000/gitea/webhooks.git");
	assert_string_equal(p.pusher, "gitea");
	assert_string_equal(p.message, "Webhooks Yay!");
	webhook_push_clear(&p);
	strbuf_release(&err);
}

static void test_bad_signature(void **state)
{
	struct webhook_input in = github("push", github_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	/* one hex digit changed */
	sigbuf[10] = sigbuf[10] == '0' ? '1' : '0';
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "bad signature"));
	/* right MAC, wrong secret */
	in = github("push", github_push);
	assert_int_equal(parse(&in, "another secret", &p, &err), WEBHOOK_UNAUTHORIZED);
	/* body changed after signing */
	in = github("push", github_push);
	in.len--;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	/* the Gitea signature has no prefix; GitHub's needs it */
	in = github("push", github_push);
	in.github_signature += 7;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	in = gitea("push", gitea_push);
	sigbuf[63] = sigbuf[63] == 'a' ? 'b' : 'a';
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	in = gitea("push", gitea_push);
	sigbuf[64] = 'a';     /* too long */
	sigbuf[65] = '\0';
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	in = gitlab("Push Hook", gitlab_push);
	in.gitlab_token = SECRET "x";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "wrong X-Gitlab-Token"));
	in.gitlab_token = "It's a Secret to Everybodx";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_null(p.ref);
	strbuf_release(&err);
}

static void test_missing_signature(void **state)
{
	struct webhook_input in = github("push", github_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	in.github_signature = NULL;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "without X-Hub-Signature-256"));
	in = gitea("push", gitea_push);
	in.gitea_signature = NULL;    /* a GitHub-style one does not count */
	in.github_signature = sigbuf;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	in = gitlab("Push Hook", gitlab_push);
	in.gitlab_token = NULL;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	/* no forge header at all */
	memset(&in, 0, sizeof(in));
	in.body = github_push;
	in.len = strlen(github_push);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
	strbuf_release(&err);
}

static void test_no_secret(void **state)
{
	struct webhook_input in = gitlab("Push Hook", gitlab_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	in.gitlab_token = "";
	assert_int_equal(parse(&in, "", &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "no webhook secret configured"));
	in = github("push", github_push);
	assert_int_equal(parse(&in, NULL, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "no webhook secret configured"));
	strbuf_release(&err);
}

static void test_other_event_ignored(void **state)
{
	static const char zen[] = "{\"zen\":\"Keep it logically awesome.\"}";
	struct webhook_input in = github("ping", zen);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	assert_non_null(strstr(err.buf, "\"ping\" ignored"));
	in = gitlab("Merge Request Hook", "{}");
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	in = gitea("issues", "{}");
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	/* an ignored event is still authenticated first */
	in = github("ping", zen);
	in.github_signature = "sha256=00";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_null(p.ref);
	strbuf_release(&err);
}

static void test_deletion_ignored(void **state)
{
	static const char del[] =
		"{\"ref\":\"refs/heads/gone\",\"before\":\"" SHA_A "\",\"after\":\"" SHA_B "\","
		"\"deleted\":true,\"head_commit\":null,"
		"\"repository\":{\"clone_url\":\"https://github.com/octo/hello.git\"}}";
	struct webhook_input in = github("push", del);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	assert_non_null(strstr(err.buf, "deletes refs/heads/gone"));
	in = gitlab("Push Hook", del);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	assert_null(p.ref);
	strbuf_release(&err);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"{\"ref\":\"refs/heads/main\"",                         /* truncated */
		"[1,2,3]",                                             /* not an object */
		"{\"ref\":\"refs/heads/main\",\"before\":\"" SHA_C "\"}", /* no after */
		"{\"ref\":7,\"before\":\"" SHA_C "\",\"after\":\"" SHA_A "\"}",
		"{\"ref\":\"refs/heads/main\",\"before\":\"x\",\"after\":\"" SHA_A "\"}",
		"{\"ref\":\"main\",\"before\":\"" SHA_C "\",\"after\":\"" SHA_A "\"}",
		"{\"ref\":\"refs/heads/a..b\",\"before\":\"" SHA_C "\",\"after\":\"" SHA_A "\"}",
		/* no repository clone URL */
		"{\"ref\":\"refs/heads/main\",\"before\":\"" SHA_C "\",\"after\":\"" SHA_A "\"}",
		"{\"a\":1,\"a\":2}",                                     /* duplicate key */
		"",
	};
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct webhook_input in = github("push", bad[i]);

		assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
		assert_true(err.len > 0);
		assert_null(p.ref);
	}
	strbuf_release(&err);
}

static void test_oversized(void **state)
{
	struct webhook_input in = github("push", github_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;

	in.max_body = in.len - 1;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
	assert_non_null(strstr(err.buf, "over the limit"));
	in.max_body = in.len;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	webhook_push_clear(&p);
	strbuf_release(&err);
}

static const char *hdr_lookup(void *ctx, const char *name)
{
	static const char *const h[][2] = {
		{ "x-gitea-event", "push" },
		{ "x-gitea-signature", "abc" },
		{ "x-github-event", "push" },
	};
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (!strcasecmp(h[i][0], name))
			return h[i][1];
	return NULL;
}

/* body as a form's payload field, percent-encoded as a forge does */
static char *form_of(const char *json)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(8 + 3 * strlen(json) + 1), *o = out;

	strcpy(o, "payload=");
	o += 8;
	for (; *json; json++) {
		unsigned char c = (unsigned char)*json;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~", c)) {
			*o++ = (char)c;
		} else if (c == ' ') {
			*o++ = '+';
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* GitHub signs the form body as sent; Gitea and Gogs the JSON in it. */
static void test_form_deliveries(void **state)
{
	char *form = form_of(github_push), *gform = form_of(gitea_push);
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;
	struct webhook_input in;
	char gsig[128];

	(void)state;
	in = github("push", form);
	in.content_type = "application/x-www-form-urlencoded";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_string_equal(p.ref, "refs/heads/main");
	assert_string_equal(p.message, "fix: the thing");
	webhook_push_clear(&p);

	/* a signature of the JSON inside is not GitHub's */
	sign(SECRET, github_push, sigbuf, "sha256=");
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);

	/* the same body as JSON (no form content type) is bad JSON */
	in = github("push", form);
	in.content_type = "application/json";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);

	/* Gitea: the JSON is signed, with a charset parameter on the type */
	in = gitea("push", gitea_push);
	in.body = gform;
	in.len = strlen(gform);
	in.content_type = "Application/X-WWW-Form-Urlencoded; charset=utf-8";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_string_equal(p.ref, "refs/tags/v1.0");
	assert_string_equal(p.pusher, "gitea");
	webhook_push_clear(&p);
	sign(SECRET, gform, gsig, "");
	in.gitea_signature = gsig;     /* the form body's: not what Gitea signs */
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);

	/* a form without a payload field, and one with a NUL in it */
	in = github("push", "a=1&b=2");
	in.content_type = "application/x-www-form-urlencoded";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
	assert_non_null(strstr(err.buf, "without a payload field"));
	in = github("push", "x=1&payload=%7B%00%7D");
	in.content_type = "application/x-www-form-urlencoded";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
	assert_non_null(strstr(err.buf, "NUL"));
	strbuf_release(&err);
	free(form);
	free(gform);
}

/* Gogs sends only its own headers; Gitea sends them too, and wins. */
static void test_gogs_push(void **state)
{
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;
	struct webhook_input in = { 0 };

	(void)state;
	sign(SECRET, gitea_push, sigbuf, "");
	in.gogs_event = "push";
	in.gogs_signature = sigbuf;
	in.body = gitea_push;
	in.len = strlen(gitea_push);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_int_equal(p.forge, WEBHOOK_GOGS);
	assert_string_equal(p.pusher, "gitea");
	webhook_push_clear(&p);
	in.gogs_signature = NULL;
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_UNAUTHORIZED);
	assert_non_null(strstr(err.buf, "X-Gogs-Signature"));

	in = gitea("push", gitea_push);
	in.gogs_event = "push";
	in.gogs_signature = "wrong";
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_PUSH);
	assert_int_equal(p.forge, WEBHOOK_GITEA);
	webhook_push_clear(&p);
	strbuf_release(&err);
}

static const char github_pr[] =
	"{\"action\":\"opened\",\"number\":42,\"pull_request\":{\"number\":42,"
	"\"title\":\"Add the thing\",\"html_url\":\"https://github.com/octo/hello/pull/42\","
	"\"head\":{\"ref\":\"feature/x\",\"sha\":\"" SHA_A "\"},"
	"\"base\":{\"ref\":\"main\",\"sha\":\"" SHA_C "\"}},"
	"\"repository\":{\"full_name\":\"octo/hello\",\"clone_url\":\"https://github.com/octo/hello.git\"},"
	"\"sender\":{\"login\":\"octocat\"}}";

static const char gitlab_mr[] =
	"{\"object_kind\":\"merge_request\",\"user\":{\"username\":\"jsmith\"},"
	"\"project\":{\"path_with_namespace\":\"mike/diaspora\","
	"\"git_http_url\":\"http://example.com/mike/diaspora.git\"},"
	"\"object_attributes\":{\"iid\":7,\"title\":\"MS-Viewport\",\"url\":\"http://example.com/mike/diaspora/-/merge_requests/7\","
	"\"source_branch\":\"ms-viewport\",\"target_branch\":\"master\",\"action\":\"%s\"%s,"
	"\"last_commit\":{\"id\":\"" SHA_A "\"}}}";

/* Pull and merge requests: the actions that bring commits build; the rest are ignored. */
static void test_merge_requests(void **state)
{
	struct webhook_push p = WEBHOOK_PUSH_INIT;
	struct strbuf err = STRBUF_INIT;
	struct webhook_input in;
	char body[2048];

	(void)state;
	in = github("pull_request", github_pr);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_MERGE_REQUEST);
	assert_string_equal(p.ref, "refs/heads/feature/x");
	assert_string_equal(p.after, SHA_A);
	assert_string_equal(p.target_branch, "main");
	assert_string_equal(p.target_sha, SHA_C);
	assert_string_equal(p.mr_title, "Add the thing");
	assert_string_equal(p.mr_url, "https://github.com/octo/hello/pull/42");
	assert_string_equal(p.clone_url, "https://github.com/octo/hello.git");
	assert_int_equal(p.mr_iid, 42);
	webhook_push_clear(&p);

	/* closed, labeled: ignored; Gitea says synchronized */
	strcpy(body, github_pr);
	memcpy(strstr(body, "opened"), "closed", 6);
	in = github("pull_request", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	assert_non_null(strstr(err.buf, "\"closed\" ignored"));
	/* ... but with the request's state, that is news: merged */
	snprintf(body, sizeof(body), "{\"action\":\"closed\",\"number\":42,\"pull_request\":"
		 "{\"state\":\"closed\",\"merged\":true,%s", strstr(github_pr, "\"title\""));
	in = github("pull_request", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_MERGE_REQUEST_STATE);
	assert_string_equal(p.mr_state, "merged");
	assert_string_equal(p.ref, "refs/heads/feature/x");
	assert_int_equal(p.mr_iid, 42);
	webhook_push_clear(&p);
	snprintf(body, sizeof(body), "{\"action\":\"synchronized\"%s", strchr(github_pr, ','));
	in = gitea("pull_request", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_MERGE_REQUEST);
	assert_int_equal(p.forge, WEBHOOK_GITEA);
	webhook_push_clear(&p);

	/* GitLab: open builds; an update builds only with new commits (oldrev) */
	snprintf(body, sizeof(body), gitlab_mr, "open", "");
	in = gitlab("Merge Request Hook", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_MERGE_REQUEST);
	assert_string_equal(p.ref, "refs/heads/ms-viewport");
	assert_string_equal(p.target_branch, "master");
	assert_string_equal(p.target_sha, "");
	assert_string_equal(p.pusher, "jsmith");
	assert_int_equal(p.mr_iid, 7);
	webhook_push_clear(&p);
	snprintf(body, sizeof(body), gitlab_mr, "update", "");
	in = gitlab("Merge Request Hook", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_IGNORED);
	snprintf(body, sizeof(body), gitlab_mr, "update", ",\"oldrev\":\"" SHA_C "\"");
	in = gitlab("Merge Request Hook", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_MERGE_REQUEST);
	webhook_push_clear(&p);

	/* what a build needs, checked */
	strcpy(body, github_pr);
	memcpy(strstr(body, "feature/x"), "featu..ex", 9);
	in = github("pull_request", body);
	assert_int_equal(parse(&in, SECRET, &p, &err), WEBHOOK_BAD_REQUEST);
	assert_null(p.ref);
	strbuf_release(&err);
}

static void test_input_headers(void **state)
{
	struct webhook_input in = { 0 };

	webhook_input_headers(&in, hdr_lookup, NULL);
	assert_string_equal(in.gitea_event, "push");
	assert_string_equal(in.gitea_signature, "abc");
	assert_string_equal(in.github_event, "push");
	assert_null(in.gitlab_event);
	assert_null(in.github_signature);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_push),
		cmocka_unit_test(test_gitlab_push),
		cmocka_unit_test(test_gitea_push),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_missing_signature),
		cmocka_unit_test(test_no_secret),
		cmocka_unit_test(test_other_event_ignored),
		cmocka_unit_test(test_deletion_ignored),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_input_headers),
		cmocka_unit_test(test_form_deliveries),
		cmocka_unit_test(test_gogs_push),
		cmocka_unit_test(test_merge_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
