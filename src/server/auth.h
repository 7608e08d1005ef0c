#ifndef CIDRE_AUTH_H
#define CIDRE_AUTH_H

/*
 * Who is asking, and what they may do. Private to the server (api.c,
 * src/web/, src/notify/ call it; only auth.c decides).
 *
 * A request is made by a principal: a user authenticated by an API token
 * (Authorization: Bearer TOKEN or PRIVATE-TOKEN) or by a session cookie
 * (the web UI), the administrator's token, or nobody (anonymous). Its
 * role on a project decides what it may do there:
 *
 *	none        nothing, not even see that the project exists
 *	viewer      read pipelines, jobs, logs, tests, artifacts
 *	developer   + trigger, retry, cancel, play
 *	maintainer  + project settings, members, secret variables
 *	admin       every role on every project, users, server settings
 *
 * State changes made through a session (the UI's forms) also need the
 * session's CSRF token (auth_csrf_ok). See docs/internals/auth.md.
 */

#include <stdint.h>

#include "http/http.h"
#include "store/store.h"
#include "util/strbuf.h"

struct server;

enum role {
	ROLE_NONE = 0,
	ROLE_VIEWER = 1,
	ROLE_DEVELOPER = 2,
	ROLE_MAINTAINER = 3,
	ROLE_ADMIN = 4,
};

#define AUTH_SESSION_COOKIE "cidre_session"
#define AUTH_LOGIN_MAX 64
#define AUTH_TOKEN_HEX 64	/* session ids and CSRF tokens: 32 random bytes, hex */

struct principal {
	int64_t user_id;                /* 0: anonymous or the admin token */
	char login[AUTH_LOGIN_MAX + 1]; /* "" when anonymous */
	int admin;                      /* every role everywhere */
	int via_session;                /* by cookie: state changes need csrf */
	char csrf[AUTH_TOKEN_HEX + 1];  /* the session's CSRF token, when via_session */
};

/* The role's name ("viewer", ...) and back (ROLE_NONE, -1 if unknown). */
const char *role_name(enum role r);
int role_parse(const char *s);

/*
 * Who made req. 0 with *who filled (anonymous when no credentials were
 * given); -1 when credentials were given but are wrong (unknown or
 * revoked token, expired session): the caller answers 401;
 * AUTH_ESTORE when the store could not say (logged): the caller answers
 * 503 and keeps the session cookie.
 */
#define AUTH_ESTORE (-2)
int auth_request(struct server *srv, struct store *st, struct http_request *req,
		 struct principal *who);

/* who's role on project p (a live project record). */
enum role auth_role(struct server *srv, struct store *st, const struct principal *who,
		    const struct store_project *p);

/* 1 when who may change state with this request: not a session, or token matches. */
int auth_csrf_ok(const struct principal *who, const char *token);

/*
 * Password login from the UI. On success 0, *who filled and session holds
 * the new session id (the cookie's value); -1 with a message for the user
 * in err (the same for an unknown login and a wrong password), or -2 when
 * the login is rate-limited for remote.
 */
int auth_login(struct server *srv, struct store *st, const char *login, const char *password,
	       const char *remote, struct principal *who, char session[AUTH_TOKEN_HEX + 1],
	       struct strbuf *err);
/*
 * Check login's password as auth_login does (rate limit included),
 * without making a session: 0 with the user in *ret (release it), -1
 * wrong (message in err), -2 rate-limited.
 */
int auth_password_check(struct store *st, const char *login, const char *password,
			const char *remote, struct store_user *ret, struct strbuf *err);
/* End who's session (no-op when not via_session). */
void auth_logout(struct server *srv, struct store *st, const struct principal *who,
		 const char *session);

/* ---- what auth.c also offers the server ---- */

#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 1024
/* Login failures allowed per login and per remote address (which many
 * people may share) in a window, and how long a login is then refused (429). */
#define AUTH_LOGIN_FAILURES 5
#define AUTH_ADDR_FAILURES 20
#define AUTH_LOGIN_WINDOW_MS (60 * 1000)
#define AUTH_LOGIN_LOCK_MS (60 * 1000)
/* Sessions end 14 days after the login, or after 7 idle days. */
#define AUTH_SESSION_MAX_MS (14LL * 24 * 3600 * 1000)
#define AUTH_SESSION_IDLE_MS (7LL * 24 * 3600 * 1000)
/* A user's sessions beyond this many (the oldest) end at the next login. */
#define AUTH_MAX_SESSIONS 20
/* Live API tokens a user (or the administrator) may hold. */
#define AUTH_MAX_TOKENS 100

/* libsodium ready (idempotent, thread-safe); -1 if it cannot be. */
int auth_init(void);
/* The argon2id string of password (malloc'ed), or NULL with err. */
char *auth_password_hash(const char *password, struct strbuf *err);
/* bytes random bytes as 2*bytes hex digits and a NUL in out. */
void auth_random_hex(char *out, size_t bytes);
/* The session id in req's cookie (AUTH_TOKEN_HEX hex digits), or 0. */
int auth_session_cookie(struct http_request *req, char out[AUTH_TOKEN_HEX + 1]);
/* The same on a Cookie header's value c (NULL: none). */
int auth_cookie_parse(const char *c, char out[AUTH_TOKEN_HEX + 1]);
/* "admin-token", "anonymous" or the user's login: who acted, for the audit log. */
const char *auth_actor(const struct principal *who);
/*
 * Record a state change in the audit log: who (from req's address) did
 * action to target; detail printf-like, may be NULL. A failure to record
 * is logged, not returned.
 */
void auth_audit(struct store *st, struct http_request *req, const struct principal *who,
		const char *action, const char *target, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif
