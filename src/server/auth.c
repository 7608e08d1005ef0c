/*
 * Who is asking (auth.h): API tokens, session cookies, roles, password
 * logins with a rate limit, and the audit log's writer. The reasons are
 * in docs/internals/auth.md.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "server/auth.h"
#include "server/server.h"
#include "util/sha256.h"
#include "util/xalloc.h"

/*
 * argon2id cost: the OWASP recommendation for argon2id (19 MiB, 2
 * passes, 1 lane) — about 25 ms here. libsodium's INTERACTIVE limits
 * (64 MiB) take ~115 ms and 64 MiB per concurrent login on these small
 * machines: every HTTP pool thread could hold that much at once. The
 * parameters are in each stored string, so they can be raised later
 * without breaking old hashes.
 */
#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u << 20)

/* Don't write last_used / last_seen more than once a minute per token/session. */
#define TOUCH_EVERY_MS (60 * 1000)

static const char *const role_names[] = { "none", "viewer", "developer", "maintainer", "admin" };

const char *role_name(enum role r)
{
	return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "none";
}

int role_parse(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (!strcmp(s, role_names[i]))
			return (int)i;
	return -1;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ok;	/* set once by init_sodium, read after pthread_once */

static void init_sodium(void)
{
	sodium_ok = sodium_init() >= 0;
}

int auth_init(void)
{
	pthread_once(&sodium_once, init_sodium);
	return sodium_ok ? 0 : -1;
}

void auth_random_hex(char *out, size_t bytes)
{
	unsigned char b[64];

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (auth_init() < 0)
		abort();	/* no randomness: nothing safe can be handed out */
	randombytes_buf(b, bytes);
	sodium_bin2hex(out, 2 * bytes + 1, b, bytes);
	sodium_memzero(b, sizeof(b));
}

char *auth_password_hash(const char *password, struct strbuf *err)
{
	char out[crypto_pwhash_STRBYTES];

	if (auth_init() < 0) {
		if (err)
			strbuf_addstr(err, "libsodium cannot be initialised");
		return NULL;
	}
	if (crypto_pwhash_str(out, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT) != 0) {
		if (err)
			strbuf_addstr(err, "out of memory hashing the password");
		return NULL;
	}
	return xstrdup(out);
}

const char *auth_actor(const struct principal *who)
{
	if (who->user_id)
		return who->login;
	return who->admin ? "admin-token" : "anonymous";
}

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0' || s[n] == ';' || s[n] == ' ';
}

int auth_session_cookie(struct http_request *req, char out[AUTH_TOKEN_HEX + 1])
{
	return auth_cookie_parse(http_request_header(req, "Cookie"), out);
}

int auth_cookie_parse(const char *c, char out[AUTH_TOKEN_HEX + 1])
{
	size_t nl = strlen(AUTH_SESSION_COOKIE);

	while (c && *c) {
		while (*c == ' ' || *c == ';')
			c++;
		if (!strncmp(c, AUTH_SESSION_COOKIE, nl) && c[nl] == '=') {
			c += nl + 1;
			if (strlen(c) < AUTH_TOKEN_HEX || !is_hex(c, AUTH_TOKEN_HEX))
				return 0;
			memcpy(out, c, AUTH_TOKEN_HEX);
			out[AUTH_TOKEN_HEX] = '\0';
			return 1;
		}
		c = strchr(c, ';');
	}
	return 0;
}

/*
 * A store call's code as auth_request's: not found is -1 (wrong
 * credentials), any other failure AUTH_ESTORE, said in the server's log.
 */
static int store_failed(int rc, const char *what, const struct strbuf *err)
{
	if (rc == STORE_NOTFOUND)
		return -1;
	slog_warn("auth: %s: %s", what, err->len ? err->buf : "store error");
	return AUTH_ESTORE;
}

/* Fill who from user id; -1 when it is gone or disabled, AUTH_ESTORE. */
static int load_user(struct store *st, int64_t id, struct principal *who)
{
	struct store_user u;
	struct strbuf err = STRBUF_INIT;
	int rc;

	memset(&u, 0, sizeof(u));
	rc = store_user_get_id(st, id, &u, &err);
	if (rc < 0) {
		rc = store_failed(rc, "reading a user", &err);
		strbuf_release(&err);
		return rc;
	}
	rc = u.disabled ? -1 : 0;
	if (!rc) {
		who->user_id = u.id;
		snprintf(who->login, sizeof(who->login), "%s", u.login);
		who->admin = u.admin;
	}
	store_user_release(&u);
	return rc;
}

static int by_token(struct store *st, const char *tok, struct principal *who)
{
	char hash[SHA256_HEX_LEN + 1];
	struct store_token t;
	struct strbuf err = STRBUF_INIT;
	int64_t now = server_now_ms(), uid;
	int rc;

	if (!*tok || strlen(tok) > 256)
		return -1;
	sha256_hex(tok, strlen(tok), hash);
	memset(&t, 0, sizeof(t));
	rc = store_token_lookup(st, hash, &t, &err);
	if (rc < 0) {
		rc = store_failed(rc, "looking up a token", &err);
		strbuf_release(&err);
		return rc;
	}
	if (now - t.last_used > TOUCH_EVERY_MS && store_token_used(st, t.id, now, NULL) < 0) {
		/* a busy database: last_used is advisory */
	}
	if (t.user_id == 0) {
		who->admin = 1;
		strcpy(who->login, "admin-token");
		store_token_release(&t);
		return 0;
	}
	uid = t.user_id;
	store_token_release(&t);
	rc = load_user(st, uid, who);
	return rc < 0 ? rc : !who->user_id ? -1 : 0;
}

static int by_session(struct store *st, const char *sid, struct principal *who)
{
	char hash[SHA256_HEX_LEN + 1];
	struct store_session s;
	struct strbuf err = STRBUF_INIT;
	int64_t now = server_now_ms();
	int rc;

	sha256_hex(sid, strlen(sid), hash);
	rc = store_session_get(st, hash, &s, &err);
	if (rc < 0) {
		rc = store_failed(rc, "reading a session", &err);
		strbuf_release(&err);
		return rc;
	}
	if (s.expires <= now || s.last_seen + AUTH_SESSION_IDLE_MS <= now) {
		store_session_delete(st, hash, now, NULL);
		return -1;
	}
	rc = load_user(st, s.user_id, who);
	if (rc < 0) {
		sodium_memzero(&s, sizeof(s));
		return rc;
	}
	if (now - s.last_seen > TOUCH_EVERY_MS)
		store_session_touch(st, hash, now, NULL);
	who->via_session = 1;
	snprintf(who->csrf, sizeof(who->csrf), "%s", s.csrf);
	sodium_memzero(&s, sizeof(s));
	return 0;
}

int auth_request(struct server *srv, struct store *st, struct http_request *req,
		 struct principal *who)
{
	const char *h = http_request_header(req, "Authorization");
	const char *tok = h && !strncasecmp(h, "Bearer ", 7) ? h + 7 :
			  http_request_header(req, "PRIVATE-TOKEN");
	char sid[AUTH_TOKEN_HEX + 1];
	int rc = 0;

	memset(who, 0, sizeof(*who));
	if (h && !tok)
		rc = -1;	/* an Authorization scheme we do not take */
	else if (tok)
		rc = by_token(st, tok, who);
	else if (http_request_header(req, "Cookie") && strstr(http_request_header(req, "Cookie"),
								AUTH_SESSION_COOKIE "=")) {
		rc = auth_session_cookie(req, sid) ? by_session(st, sid, who) : -1;
		sodium_memzero(sid, sizeof(sid));
	}
	if (rc < 0)
		memset(who, 0, sizeof(*who));
	return rc;
}

enum role auth_role(struct server *srv, struct store *st, const struct principal *who,
		    const struct store_project *p)
{
	int role = 0;

	if (who->admin)
		return ROLE_ADMIN;
	if (who->user_id && store_member_role(st, p->id, who->user_id, &role, NULL) < 0)
		role = 0;
	if (role < ROLE_VIEWER && p->public_read)
		role = ROLE_VIEWER;
	return role < ROLE_NONE || role > ROLE_MAINTAINER ? ROLE_NONE : (enum role)role;
}

int auth_csrf_ok(const struct principal *who, const char *token)
{
	if (!who->via_session)
		return 1;
	if (!token || strlen(token) != AUTH_TOKEN_HEX || strlen(who->csrf) != AUTH_TOKEN_HEX)
		return 0;
	return sodium_memcmp(token, who->csrf, AUTH_TOKEN_HEX) == 0;
}

/*
 * Login failures in memory, per remote address ("a:ADDR") and per login
 * ("l:LOGIN"). A module global: the one table every pool thread shares,
 * under its lock. Bounded: when full, expired entries go, then the
 * oldest window. Lost on restart, which only forgives.
 */
#define LIMIT_SLOTS 4096

struct limit {
	char key[AUTH_LOGIN_MAX + 48];
	int64_t window, locked_until;
	int failures;
};

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct limit limits[LIMIT_SLOTS];
static size_t limits_nr;

static struct limit *limit_find(const char *key, int64_t now, int create)
{
	size_t i, oldest = 0;

	for (i = 0; i < limits_nr; i++)
		if (!strcmp(limits[i].key, key))
			return &limits[i];
	if (!create)
		return NULL;
	if (limits_nr == LIMIT_SLOTS) {
		for (i = 0; i < limits_nr;) {
			if (limits[i].locked_until <= now &&
			    limits[i].window + AUTH_LOGIN_WINDOW_MS <= now)
				limits[i] = limits[--limits_nr];
			else
				i++;
		}
	}
	if (limits_nr == LIMIT_SLOTS) {
		for (i = 1; i < limits_nr; i++)
			if (limits[i].window < limits[oldest].window)
				oldest = i;
		limits[oldest] = limits[--limits_nr];
	}
	memset(&limits[limits_nr], 0, sizeof(limits[0]));
	snprintf(limits[limits_nr].key, sizeof(limits[0].key), "%s", key);
	limits[limits_nr].window = now;
	return &limits[limits_nr++];
}

static int limited(const char *key, int64_t now)
{
	struct limit *l = limit_find(key, now, 0);

	return l && l->locked_until > now;
}

static void limit_fail(const char *key, int64_t now, int max)
{
	struct limit *l = limit_find(key, now, 1);

	if (now - l->window > AUTH_LOGIN_WINDOW_MS) {
		l->window = now;
		l->failures = 0;
	}
	if (++l->failures >= max)
		l->locked_until = now + AUTH_LOGIN_LOCK_MS;
}

static void limit_clear(const char *key)
{
	struct limit *l = limit_find(key, 0, 0);

	if (l)
		l->failures = 0;
}

/* A hash to verify against when the login does not exist: the same work
 * either way, so timing does not tell which logins exist. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[crypto_pwhash_STRBYTES];

static void make_dummy(void)
{
	unsigned char pw[16];

	randombytes_buf(pw, sizeof(pw));
	if (crypto_pwhash_str(dummy_hash, (const char *)pw, sizeof(pw), PW_OPSLIMIT,
			      PW_MEMLIMIT) != 0)
		dummy_hash[0] = '\0';
}

int auth_password_check(struct store *st, const char *login, const char *password,
			const char *remote, struct store_user *ret, struct strbuf *err)
{
	char kaddr[128], klogin[AUTH_LOGIN_MAX + 8];
	struct store_user u;
	int64_t now = server_now_ms();
	int ok, lim;

	if (auth_init() < 0) {
		strbuf_addstr(err, "libsodium cannot be initialised");
		return -1;
	}
	if (!login || !password || !store_user_login_ok(login) ||
	    strlen(password) > AUTH_PASSWORD_MAX) {
		strbuf_addstr(err, "wrong login or password");
		return -1;
	}
	snprintf(kaddr, sizeof(kaddr), "a:%s", remote ? remote : "");
	snprintf(klogin, sizeof(klogin), "l:%s", login);
	pthread_mutex_lock(&limit_lock);
	lim = limited(kaddr, now) || limited(klogin, now);
	pthread_mutex_unlock(&limit_lock);
	if (lim) {
		strbuf_addf(err, "too many failed logins: try again in a minute");
		return -2;
	}
	pthread_once(&dummy_once, make_dummy);
	memset(&u, 0, sizeof(u));
	if (store_user_get(st, login, &u, NULL) == 0 && u.password && *u.password) {
		ok = crypto_pwhash_str_verify(u.password, password, strlen(password)) == 0 &&
		     !u.disabled;
	} else {
		if (dummy_hash[0] &&
		    crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0) {
			/* cannot happen: the dummy's password was random */
		}
		ok = 0;
	}
	pthread_mutex_lock(&limit_lock);
	if (ok) {
		limit_clear(klogin);
	} else {
		limit_fail(kaddr, now, AUTH_ADDR_FAILURES);
		limit_fail(klogin, now, AUTH_LOGIN_FAILURES);
	}
	pthread_mutex_unlock(&limit_lock);
	if (!ok) {
		store_user_release(&u);
		strbuf_addstr(err, "wrong login or password");
		return -1;
	}
	if (crypto_pwhash_str_needs_rehash(u.password, PW_OPSLIMIT, PW_MEMLIMIT) != 0) {
		/* stored with other costs: store it again with today's */
		char *h = auth_password_hash(password, NULL);

		if (h && store_user_update(st, u.id, h, -1, -1, NULL) == 0) {
			free(u.password);
			u.password = h;
			h = NULL;
		}
		free(h);
	}
	*ret = u;
	return 0;
}

int auth_login(struct server *srv, struct store *st, const char *login, const char *password,
	       const char *remote, struct principal *who, char session[AUTH_TOKEN_HEX + 1],
	       struct strbuf *err)
{
	char hash[SHA256_HEX_LEN + 1];
	struct store_user u;
	struct store_session s;
	int64_t now = server_now_ms();
	int rc;

	memset(who, 0, sizeof(*who));
	rc = auth_password_check(st, login, password, remote, &u, err);
	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.user_id = u.id;
	auth_random_hex(s.csrf, AUTH_TOKEN_HEX / 2);
	s.created = now;
	s.last_seen = now;
	s.expires = now + AUTH_SESSION_MAX_MS;
	auth_random_hex(session, AUTH_TOKEN_HEX / 2);
	sha256_hex(session, strlen(session), hash);
	if (store_session_add(st, hash, &s, err) < 0) {
		store_user_release(&u);
		return -1;
	}
	if (store_session_prune(st, u.id, AUTH_MAX_SESSIONS, NULL) < 0) {
		/* the expired ones go at the next logout; nothing to tell the user */
	}
	who->user_id = u.id;
	snprintf(who->login, sizeof(who->login), "%s", u.login);
	who->admin = u.admin;
	who->via_session = 1;
	memcpy(who->csrf, s.csrf, sizeof(who->csrf));
	store_user_release(&u);
	sodium_memzero(&s, sizeof(s));
	return 0;
}

void auth_logout(struct server *srv, struct store *st, const struct principal *who,
		 const char *session)
{
	char hash[SHA256_HEX_LEN + 1];

	if (!who->via_session || !session)
		return;
	sha256_hex(session, strlen(session), hash);
	store_session_delete(st, hash, server_now_ms(), NULL);
}

void auth_audit(struct store *st, struct http_request *req, const struct principal *who,
		const char *action, const char *target, const char *fmt, ...)
{
	struct strbuf detail = STRBUF_INIT, err = STRBUF_INIT;
	struct store_audit a;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		strbuf_vaddf(&detail, fmt, ap);
		va_end(ap);
	}
	memset(&a, 0, sizeof(a));
	a.actor = (char *)auth_actor(who);
	a.remote = (char *)(req ? http_request_remote(req) : "");
	a.action = (char *)action;
	a.target = (char *)(target ? target : "");
	a.detail = detail.buf ? detail.buf : (char *)"";
	if (store_audit_add(st, &a, &err) < 0)
		slog_warn("audit log: %s (%s %s by %s)", err.buf, action, a.target, a.actor);
	strbuf_release(&detail);
	strbuf_release(&err);
}
