/*
 * Unit tests for src/notify/ (what is sent: forge statuses, webhook
 * bodies and signatures, e-mail, settings) and the store's outbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "notify/notify.h"
#include "store/store.h"
#include "store/store_notify.h"
#include "testlib.h"
#include "util/hmac.h"
#include "util/xalloc.h"

static char tmp[4096];

static int setup(void **state)
{
	return test_tmpdir(tmp, sizeof(tmp), "t-notify");
}

static int teardown(void **state)
{
	return test_rmtree(tmp);
}

static const struct notify_pipeline_info pinfo = {
	.project = "app", .id = 42, .ref = "main",
	.sha = "0123456789abcdef0123456789abcdef01234567", .source = "push",
	.status = "success", .url = "https://ci.example.com/pipelines/42",
	.created = 1700000000000, .started = 1700000001000, .finished = 1700000003500,
	.duration = 2500,
	.title = "fix the build", .author = "A U Thor <author@example.com>",
};

static void test_forge_states(void **state)
{
	static const struct { const char *status, *github, *gitlab, *gitea; } t[] = {
		{ "created", "pending", "pending", "pending" },
		{ "pending", "pending", "pending", "pending" },
		{ "scheduled", "pending", "pending", "pending" },
		{ "manual", "pending", "pending", "pending" },
		{ "running", "pending", "running", "pending" },
		{ "success", "success", "success", "success" },
		{ "skipped", "success", "success", "success" },
		{ "failed", "failure", "failed", "failure" },
		{ "canceled", "error", "canceled", "error" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(notify_forge_state("github", t[i].status), t[i].github);
		assert_string_equal(notify_forge_state("gitlab", t[i].status), t[i].gitlab);
		assert_string_equal(notify_forge_state("gitea", t[i].status), t[i].gitea);
	}
}

static int has_header(json_t *req, const char *h)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(req, "headers"), i, v)
		if (!strcmp(json_string_value(v), h))
			return 1;
	return 0;
}

static void test_forge_requests(void **state)
{
	struct notify_forge f = { "github", "https://api.github.com", "octo/app", "tok", "cidre" };
	json_t *req, *body;

	req = notify_forge_request(&f, &pinfo, "pipeline #42 passed");
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "url")),
			    "https://api.github.com/repos/octo/app/statuses/"
			    "0123456789abcdef0123456789abcdef01234567");
	assert_true(has_header(req, "Authorization: Bearer tok"));
	assert_true(has_header(req, "Accept: application/vnd.github+json"));
	body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body, "state")), "success");
	assert_string_equal(json_string_value(json_object_get(body, "context")), "cidre");
	assert_string_equal(json_string_value(json_object_get(body, "target_url")), pinfo.url);
	json_decref(body);
	json_decref(req);

	f.kind = "gitlab";
	f.api_url = "https://gitlab.example.com/api/v4";
	f.repo = "group/sub project";
	req = notify_forge_request(&f, &pinfo, "d");
	assert_string_equal(json_string_value(json_object_get(req, "url")),
			    "https://gitlab.example.com/api/v4/projects/group%2Fsub%20project/"
			    "statuses/0123456789abcdef0123456789abcdef01234567");
	assert_true(has_header(req, "PRIVATE-TOKEN: tok"));
	body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
	assert_string_equal(json_string_value(json_object_get(body, "name")), "cidre");
	assert_string_equal(json_string_value(json_object_get(body, "ref")), "main");
	json_decref(body);
	json_decref(req);

	f.kind = "gitea";
	f.repo = "me/app";
	req = notify_forge_request(&f, &pinfo, "d");
	assert_true(has_header(req, "Authorization: token tok"));
	json_decref(req);

	f.kind = "bitbucket";
	assert_null(notify_forge_request(&f, &pinfo, "d"));
}

static void test_webhook_signature(void **state)
{
	const char *body = "{\"object_kind\":\"pipeline\"}";
	unsigned char mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1], *want;
	json_t *req;

	hmac_sha256("s3cret", 6, body, strlen(body), mac);
	sha256_to_hex(mac, hex);
	want = xasprintf("X-Cidre-Signature-256: sha256=%s", hex);
	req = notify_webhook_request("http://127.0.0.1/h", "s3cret", "pipeline", body);
	assert_true(has_header(req, want));
	assert_true(has_header(req, "X-Cidre-Event: pipeline"));
	assert_string_equal(json_string_value(json_object_get(req, "body")), body);
	json_decref(req);
	free(want);
	/* no secret, no signature */
	req = notify_webhook_request("http://127.0.0.1/h", "", "job", body);
	assert_int_equal(json_array_size(json_object_get(req, "headers")), 3);
	json_decref(req);
}

static void test_webhook_body(void **state)
{
	struct notify_pipeline_info p = pinfo;
	struct notify_job_info j = { .id = 7, .name = "build", .stage = "build",
				     .status = "failed", .failure_reason = "script_failure",
				     .attempt = 2, .started = 1700000001000,
				     .finished = 1700000002000 };
	json_t *o = notify_webhook_body(&p, NULL);

	assert_string_equal(json_string_value(json_object_get(o, "object_kind")), "pipeline");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "pipeline"),
							    "id")), 42);
	assert_true(json_real_value(json_object_get(json_object_get(o, "pipeline"),
						    "duration")) == 2.5);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "commit"),
							      "title")), "fix the build");
	json_decref(o);
	/* not finished yet: no finished_at, no duration */
	p.status = "running";
	o = notify_webhook_body(&p, &j);
	assert_string_equal(json_string_value(json_object_get(o, "object_kind")), "job");
	assert_true(json_is_null(json_object_get(json_object_get(o, "pipeline"), "duration")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "job"),
							      "failure_reason")),
			    "script_failure");
	assert_true(json_real_value(json_object_get(json_object_get(o, "job"), "duration")) ==
		    1.0);
	json_decref(o);
}

/* Every line ends in CRLF; no header line starts with name (injection). */
static void assert_crlf(const char *m)
{
	const char *p;

	for (p = m; (p = strchr(p, '\n')); p++)
		assert_true(p > m && p[-1] == '\r');
	for (p = m; *p; p++)
		if (*p == '\r')
			assert_true(p[1] == '\n');
}

static void test_email(void **state)
{
	struct notify_pipeline_info p = pinfo;
	const char *failed[] = { "build (stage build): script_failure" };
	char *m;

	p.status = "failed";
	m = notify_email_message("cidre@example.com", "author@example.com", "failed", &p,
				 failed, 1, 1764294282000, "ci.example.com");
	assert_crlf(m);
	assert_non_null(strstr(m, "Date: Fri, 28 Nov 2025 01:44:42 +0000\r\n"));
	assert_non_null(strstr(m, "\r\nSubject: [cidre] app main: pipeline #42 failed\r\n"));
	assert_non_null(strstr(m, "\r\nTo: author@example.com\r\n"));
	assert_non_null(strstr(m, "\r\nMessage-ID: <cidre.42.failed."));
	assert_non_null(strstr(m, "@ci.example.com>\r\n"));
	assert_non_null(strstr(m, "\r\n\r\nPipeline #42 of app failed.\r\n"));
	assert_non_null(strstr(m, "  - build (stage build): script_failure\r\n"));
	assert_non_null(strstr(m, "Link:    https://ci.example.com/pipelines/42\r\n"));
	free(m);

	/* CR/LF in values never make a header of their own */
	p.ref = "main\r\nBcc: victim@example.com";
	p.title = "title\r\n.\r\nMAIL FROM:<x@y>";
	m = notify_email_message("cidre@example.com", "a@b.c", "fixed", &p, NULL, 0,
				 1764294282000, "h");
	assert_crlf(m);
	assert_null(strstr(m, "\r\nBcc:"));
	assert_non_null(strstr(m, "Subject: [cidre] app main  Bcc: victim@example.com: "
			       "pipeline #42 fixed\r\n"));
	assert_non_null(strstr(m, "is fixed"));
	free(m);

	/* non-ASCII: RFC 2047 encoded words, never split inside a character */
	p.ref = "f\xc3\xa9" "ature-\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	m = notify_email_message("cidre@example.com", "a@b.c", "failed", &p, NULL, 0,
				 1764294282000, "h");
	assert_crlf(m);
	assert_non_null(strstr(m, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(m, "?=\r\n =?UTF-8?B?"));
	free(m);
}

static void test_addresses(void **state)
{
	char *a = notify_author_address("A U Thor <author@example.com>");

	assert_string_equal(a, "author@example.com");
	free(a);
	a = notify_author_address("bare@example.com");
	assert_string_equal(a, "bare@example.com");
	free(a);
	assert_null(notify_author_address("Nobody <>"));
	assert_null(notify_author_address("x <a@b\r\nBcc: c@d>"));
	assert_null(notify_author_address(NULL));
	assert_true(notify_address_ok("team+ci@example.com"));
	assert_false(notify_address_ok("no-at-sign"));
	assert_false(notify_address_ok("a@b@c"));
	assert_false(notify_address_ok("a b@c"));
	assert_true(notify_url_ok("https://hooks.example.com/x?y=1"));
	assert_false(notify_url_ok("ftp://x"));
	assert_false(notify_url_ok("http://"));
	assert_false(notify_url_ok("http://a b"));
	assert_false(notify_url_ok("file:///etc/passwd"));
}

static json_t *parse_json(const char *s)
{
	json_t *o = json_loads(s, 0, NULL);

	assert_non_null(o);
	return o;
}

static void test_settings(void **state)
{
	struct notify_settings s, s2;
	struct strbuf err = STRBUF_INIT;
	json_t *in, *out;
	char *text;
	int i;

	in = parse_json("{\"forge\":{\"kind\":\"gitea\",\"api_url\":\"https://g.example.com/api/v1/\","
			"\"repo\":\"me/app\",\"token\":\"T0K\"},\"webhooks\":[{\"url\":"
			"\"https://h.example.com/\",\"secret\":\"S3C\",\"events\":[\"job\"]}],"
			"\"email\":{\"to_author\":true,\"subscribers\":[\"t@example.com\"]}}");
	assert_int_equal(notify_settings_parse(in, NULL, &s, &err), 0);
	json_decref(in);
	assert_string_equal(s.forge.api_url, "https://g.example.com/api/v1");
	assert_string_equal(s.forge.context, "cidre");
	assert_true(s.hooks[0].job && !s.hooks[0].pipeline);
	out = notify_settings_json(&s, 0);
	text = json_dumps(out, 0);
	assert_null(strstr(text, "T0K"));
	assert_null(strstr(text, "S3C"));
	assert_non_null(strstr(text, "\"token_set\": true"));
	/* what GET shows, PUT back: the secrets are kept */
	assert_int_equal(notify_settings_parse(out, &s, &s2, &err), 0);
	assert_string_equal(s2.forge.token, "T0K");
	assert_string_equal(s2.hooks[0].secret, "S3C");
	notify_settings_release(&s2);
	/* without the old settings a token is required */
	assert_int_equal(notify_settings_parse(out, NULL, &s2, &err), -1);
	assert_non_null(strstr(err.buf, "forge.token"));
	strbuf_reset(&err);
	json_decref(out);
	free(text);
	notify_settings_release(&s);

	in = parse_json("{\"webhooks\":[{\"url\":\"smtp://x\"}]}");
	assert_int_equal(notify_settings_parse(in, NULL, &s, &err), -1);
	assert_string_equal(err.buf, "webhooks[0].url: must be an http:// or https:// URL");
	strbuf_reset(&err);
	json_decref(in);

	in = json_pack("{s:[]}", "webhooks");
	for (i = 0; i <= NOTIFY_MAX_HOOKS; i++)
		json_array_append_new(json_object_get(in, "webhooks"),
				      json_pack("{s:s}", "url", "http://127.0.0.1/"));
	assert_int_equal(notify_settings_parse(in, NULL, &s, &err), -1);
	assert_non_null(strstr(err.buf, "at most 10"));
	strbuf_reset(&err);
	json_decref(in);

	in = parse_json("{\"forge\":{\"kind\":\"github\",\"repo\":\"../x\",\"token\":\"t\"}}");
	assert_int_equal(notify_settings_parse(in, NULL, &s, &err), -1);
	assert_non_null(strstr(err.buf, "forge.repo"));
	strbuf_reset(&err);
	json_decref(in);

	in = parse_json("{\"forge\":{\"kind\":\"github\",\"repo\":\"a/b\",\"token\":\"t\"}}");
	assert_int_equal(notify_settings_parse(in, NULL, &s, &err), 0);
	assert_string_equal(s.forge.api_url, "https://api.github.com");
	notify_settings_release(&s);
	json_decref(in);
	strbuf_release(&err);
}

static void test_backoff(void **state)
{
	assert_int_equal(notify_backoff_ms(5000, 1), 5000);
	assert_int_equal(notify_backoff_ms(5000, 2), 30000);
	assert_int_equal(notify_backoff_ms(5000, 3), 120000);
	assert_int_equal(notify_backoff_ms(5000, 4), 600000);
	assert_int_equal(notify_backoff_ms(5000, 5), 3600000);
	assert_int_equal(notify_backoff_ms(5000, 9), 3600000);
	assert_int_equal(notify_backoff_ms(200, 1), 200);
}

static void test_outbox(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = NULL;
	struct store_project p = { .name = "app", .repo = "/x.git" };
	struct store_delivery d, *a = NULL;
	struct store_notify_event *ev = NULL;
	size_t nr = 0;
	int64_t due = 0, first;
	char *path = xasprintf("%s/outbox.db", tmp), *json = NULL;

	assert_int_equal(store_open(path, &st, &err), 0);
	assert_int_equal(store_project_add(st, &p, &err), 0);
	assert_int_equal(store_notify_settings_get(st, p.id, &json, &err), STORE_NOTFOUND);
	assert_int_equal(store_notify_settings_set(st, p.id, "{\"a\":1}", &err), 0);
	assert_int_equal(store_notify_settings_set(st, p.id, "{\"a\":2}", &err), 0);
	assert_int_equal(store_notify_settings_get(st, p.id, &json, &err), 0);
	assert_string_equal(json, "{\"a\":2}");
	free(json);

	{
		struct store_project q = { .name = "quiet", .repo = "/y.git" };
		struct store_pipeline pl = {
			.project_id = p.id, .ref = "main",
			.sha = "0123456789abcdef0123456789abcdef01234567",
			.source = "api", .status = "pending",
		};
		struct store_pipeline ql = pl;

		assert_int_equal(store_project_add(st, &q, &err), 0);
		ql.project_id = q.id;
		assert_int_equal(store_pipeline_add(st, &pl, &err), 0);
		assert_int_equal(store_pipeline_add(st, &ql, &err), 0);
		/* a project without settings: nothing queued */
		assert_int_equal(store_notify_event_add(st, ql.id, 0, "running", &err),
				 STORE_NOTFOUND);
		assert_int_equal(store_notify_event_add(st, pl.id, 0, "running", &err), 0);
		assert_int_equal(store_notify_event_add(st, pl.id, 9, "success", &err), 0);
	}
	assert_int_equal(store_notify_events_list(st, 10, &ev, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(ev[1].status, "success");
	assert_int_equal(ev[1].job_id, 9);
	assert_int_equal(store_notify_event_delete(st, ev[0].id, &err), 0);
	store_notify_events_free(ev, nr);
	assert_int_equal(store_notify_events_list(st, 10, &ev, &nr, &err), 0);
	assert_int_equal(nr, 1);
	store_notify_events_free(ev, nr);

	assert_int_equal(store_delivery_next_due(st, &due, &err), STORE_NOTFOUND);
	memset(&d, 0, sizeof(d));
	d.project_id = p.id;
	d.pipeline_id = 5;
	d.kind = "forge";
	d.event = "pipeline";
	d.target = "https://x";
	d.request = "{}";
	d.next_at = 1000;
	assert_int_equal(store_delivery_add(st, &d, &err), 0);
	first = d.id;
	d.next_at = 2000;
	assert_int_equal(store_delivery_add(st, &d, &err), 0);
	assert_true(d.id > first);
	assert_int_equal(store_delivery_next_due(st, &due, &err), 0);
	assert_int_equal(due, 1000);
	assert_int_equal(store_deliveries_due(st, 1500, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(a[0].id, first);
	assert_string_equal(a[0].state, "pending");
	store_deliveries_free(a, nr);
	/* a newer status of the same pipeline makes the older one pointless */
	assert_int_equal(store_deliveries_supersede(st, 5, "forge", d.id, &err), 0);
	assert_int_equal(store_delivery_update(st, d.id, "pending", 1, 9000, 500, "HTTP 500",
					       &err), 0);
	assert_int_equal(store_deliveries_list(st, p.id, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(a[0].id, d.id);
	assert_int_equal(a[0].attempts, 1);
	assert_int_equal(a[0].last_status, 500);
	assert_string_equal(a[0].last_error, "HTTP 500");
	assert_string_equal(a[1].state, "superseded");
	store_deliveries_free(a, nr);
	/* a superseded or finished one can be sent again; a pending one cannot */
	assert_int_equal(store_delivery_requeue(st, p.id, d.id, 5, &err), STORE_CONFLICT);
	assert_int_equal(store_delivery_requeue(st, p.id + 1, first, 5, &err), STORE_NOTFOUND);
	assert_int_equal(store_delivery_requeue(st, p.id, first, 5, &err), 0);
	assert_int_equal(store_deliveries_due(st, 5, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 1);
	assert_int_equal(a[0].id, first);
	assert_int_equal(a[0].attempts, 0);
	store_deliveries_free(a, nr);
	assert_int_equal(store_delivery_update(st, first, "superseded", 0, 0, 0, NULL, &err), 0);
	assert_int_equal(store_deliveries_prune(st, INT64_MAX, &err), 0);
	assert_int_equal(store_deliveries_list(st, p.id, 10, &a, &nr, &err), 0);
	assert_int_equal(nr, 1);	/* pending ones are never pruned */
	store_deliveries_free(a, nr);

	store_close(st);
	free(path);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forge_states),
		cmocka_unit_test(test_forge_requests),
		cmocka_unit_test(test_webhook_signature),
		cmocka_unit_test(test_webhook_body),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_outbox),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
