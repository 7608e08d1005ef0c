/*
 * Who is asking (auth.h). This first version knows API tokens only: any
 * valid token is the administrator, and anonymous requests may read
 * every project. Accounts, sessions and roles replace it.
 */
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/server.h"
#include "util/sha256.h"

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

int auth_request(struct server *srv, struct store *st, struct http_request *req,
		 struct principal *who)
{
	const char *h = http_request_header(req, "Authorization");
	const char *tok = h && !strncasecmp(h, "Bearer ", 7) ? h + 7 :
			  http_request_header(req, "PRIVATE-TOKEN");
	char hash[SHA256_HEX_LEN + 1];

	memset(who, 0, sizeof(*who));
	if (!tok)
		return 0;
	if (!*tok || strlen(tok) > 256)
		return -1;
	sha256_hex(tok, strlen(tok), hash);
	if (store_token_check(st, hash, NULL, NULL) != 0)
		return -1;
	who->admin = 1;
	strcpy(who->login, "admin");
	return 0;
}

enum role auth_role(struct server *srv, struct store *st, const struct principal *who,
		    const struct store_project *p)
{
	return who->admin ? ROLE_ADMIN : ROLE_VIEWER;
}

int auth_csrf_ok(const struct principal *who, const char *token)
{
	return !who->via_session || (token && !strcmp(token, who->csrf));
}

int auth_login(struct server *srv, struct store *st, const char *login, const char *password,
	       const char *remote, struct principal *who, char session[AUTH_TOKEN_HEX + 1],
	       struct strbuf *err)
{
	strbuf_addstr(err, "accounts are not set up on this server");
	return -1;
}

void auth_logout(struct server *srv, struct store *st, const struct principal *who,
		 const char *session)
{
}
