#ifndef CIDRE_NOTIFY_H
#define CIDRE_NOTIFY_H

/*
 * Results pushed out of the server: commit status on the forge (GitHub,
 * GitLab, Gitea), signed outbound webhooks, e-mail on failure and fix.
 *
 * The runner records each status change with notify_pipeline() /
 * notify_job(): one insert into the store's event queue and a wake-up,
 * nothing else. The notify thread (notify.c) turns events into
 * deliveries (the outbox: one row per message and receiver), and hands
 * due deliveries to a worker process (`cidre-client deliver`, which has
 * libcurl; the server does not link it), records each result and
 * schedules retries with exponential back-off. See docs/internals/notify.md.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/http.h"
#include "util/strbuf.h"

struct server;
struct store;

/* Limits of a project's settings. */
#define NOTIFY_MAX_HOOKS       10
#define NOTIFY_MAX_SUBSCRIBERS 20
#define NOTIFY_MAX_URL         2048
#define NOTIFY_MAX_SECRET      1024
#define NOTIFY_MAX_ADDRESS     254

/* Default back-off: base × (1, 6, 24, 120, 720): 5 s, 30 s, 2 min, 10 min, 1 h. */
#define NOTIFY_DEFAULT_RETRY_BASE_MS 5000
#define NOTIFY_DEFAULT_ATTEMPTS      6

/* ---- the thread (notify.c) ---- */

int notify_start(struct server *srv, struct strbuf *err);
/*
 * Stop the thread; deliveries in flight are abandoned (sent again at the
 * next start). Call it after every thread that calls notify_event() has
 * stopped (the runner, the poller, the HTTP server).
 */
void notify_stop(struct server *srv);
/*
 * Pipeline id (job_id 0) or job job_id of it changed to status: queue an
 * event and wake the notify thread. Cheap; never blocks on a receiver.
 * Errors are logged, not returned: a notification never stops a pipeline.
 */
void notify_event(struct server *srv, struct store *st, int64_t pipeline_id, int64_t job_id,
		  const char *status);
#define notify_pipeline(srv, st, id, status) notify_event(srv, st, id, 0, status)
#define notify_job(srv, st, pipeline_id, id, status) notify_event(srv, st, pipeline_id, id, status)

/* Wake the notify thread: a delivery was queued by other means. */
void notify_wake(struct server *srv);

/* The delay before attempt n + 1 after n failed attempts (n >= 1). */
int64_t notify_backoff_ms(int64_t base_ms, int attempts);

/* ---- a project's settings (settings.c) ---- */

struct notify_forge {
	char *kind;          /* github, gitlab, gitea; NULL: none */
	char *api_url;       /* https://api.github.com, .../api/v4, .../api/v1 */
	char *repo;          /* owner/name, or GitLab's project id or path */
	char *token;         /* secret */
	char *context;       /* the status' name; default "cidre" */
};

struct notify_hook {
	char *url;
	char *secret;        /* HMAC key; may be empty (then no signature) */
	int pipeline, job;   /* events sent */
};

struct notify_settings {
	struct notify_forge forge;
	struct notify_hook *hooks;
	size_t hooks_nr;
	int to_author;
	char **subscribers;
	size_t subscribers_nr;
};

void notify_settings_release(struct notify_settings *s);
/*
 * Settings from JSON (the API's PUT body, or the stored document). A
 * token or secret left out keeps old's (the same forge, or the webhook
 * with the same URL) when old is not NULL. 0, or -1 with a message for
 * the user in err.
 */
int notify_settings_parse(const json_t *in, const struct notify_settings *old,
			  struct notify_settings *out, struct strbuf *err);
/* As JSON; secrets only when with_secrets (else "token_set"/"secret_set"). */
json_t *notify_settings_json(const struct notify_settings *s, int with_secrets);
/* 1 for an http(s) URL with a host, 0 otherwise. */
int notify_url_ok(const char *url);
/* 1 for a plain e-mail address (local@domain, no spaces, CR, LF, <, >). */
int notify_address_ok(const char *addr);

/* ---- what is sent (payload.c): pure functions ---- */

/* cidre's pipeline status as the forge kind's state ("pending", ...). */
const char *notify_forge_state(const char *kind, const char *status);

/* Facts about a pipeline that messages carry. Borrowed strings. */
struct notify_pipeline_info {
	const char *project;
	int64_t id;
	const char *ref, *sha, *source;
	const char *status;      /* at the event */
	const char *url;         /* link back */
	int64_t created, finished, started;
	int64_t duration;        /* running time, ms (store_pipeline_ms), or -1 */
	const char *title;       /* the commit's first line, may be NULL */
	const char *author;      /* "Name <email>", may be NULL */
};

struct notify_job_info {
	int64_t id;
	const char *name, *stage, *status, *failure_reason;
	int attempt, allow_failure;
	int64_t started, finished;
};

/*
 * The worker request for a commit status: {"method", "url", "headers":
 * [...], "body"}. NULL when the forge kind is unknown.
 */
json_t *notify_forge_request(const struct notify_forge *f, const struct notify_pipeline_info *p,
			     const char *description);
/* The webhook body (job NULL: a pipeline event). */
json_t *notify_webhook_body(const struct notify_pipeline_info *p,
			    const struct notify_job_info *job);
/* The webhook request: body signed with secret (none when empty). */
json_t *notify_webhook_request(const char *url, const char *secret, const char *event,
			       const char *body);
/*
 * An RFC 5322 message (CRLF lines) about pipeline p: what is "failed"
 * or "fixed"; failed_jobs a list of lines. Header values are stripped of
 * control characters; non-ASCII ones are RFC 2047 encoded.
 */
char *notify_email_message(const char *from, const char *to, const char *what,
			   const struct notify_pipeline_info *p, const char *const *failed_jobs,
			   size_t failed_nr, int64_t now_ms, const char *msgid_host);
/* The address in "Name <addr>" or a bare address; NULL if none (malloc'ed). */
char *notify_author_address(const char *author);
/* The link back to pipeline id: BASE/pipelines/ID, the web UI's page (malloc'ed). */
char *notify_pipeline_url(const char *base, int64_t id);

/* ---- the API (api.c) ---- */

extern const struct http_route notify_routes[];
extern const size_t notify_routes_nr;

#endif
