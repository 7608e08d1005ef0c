#ifndef CIDRE_REGISTRY_H
#define CIDRE_REGISTRY_H
/*
 * What pulling an image from a registry reads, apart from the network
 * (that is client/pull.c, over libcurl): a reference split into its
 * registry, repository and tag or digest, as Docker reads it; a 401's
 * WWW-Authenticate challenge; the credentials of a Docker config
 * (DOCKER_AUTH_CONFIG, ~/.docker/config.json); the manifest of an index
 * for this machine's platform. docs/internals/registry.md.
 */
#include <jansson.h>

#include "util/strbuf.h"

/* Caps on what a registry sends. */
#define REG_MAX_MANIFEST (4 << 20)   /* a manifest or an index */
#define REG_MAX_TOKEN (1 << 20)      /* a token server's answer */
#define REG_MAX_AUTH_CONFIG (1 << 20)

struct reg_ref {
	char *host;     /* "docker.io", "registry.example.com:5000" */
	char *repo;     /* "library/node", "team/app" */
	char *tag;      /* "20", "latest"; NULL with a digest and no tag */
	char *digest;   /* "sha256:HEX", or NULL */
};

/*
 * Split name (an image reference, as image_name_ok() accepts it) the way
 * Docker does: the first component is a registry when it has a "." or a
 * ":" or is "localhost", else the registry is docker.io, where a
 * one-component repository is under "library/". No tag and no digest is
 * ":latest". 0, or -1 with the reason in err.
 */
int reg_ref_parse(const char *name, struct reg_ref *r, struct strbuf *err);
void reg_ref_release(struct reg_ref *r);

/* Whether d is "sha256:" and 64 lower-case hex digits. */
int reg_digest_ok(const char *d);

/* A 401's WWW-Authenticate: Bearer realm="…",service="…",scope="…". */
struct reg_challenge {
	char *scheme;   /* "bearer", "basic" (lower-cased) */
	char *realm;
	char *service;
	char *scope;
};

/*
 * Parse a WWW-Authenticate header's value (the first challenge; its
 * parameters, quoted or not, in any case). 0, or -1 when it is not one.
 */
int reg_challenge_parse(const char *hdr, struct reg_challenge *c);
void reg_challenge_release(struct reg_challenge *c);

/*
 * The credentials for host in a Docker config's JSON (text, len bytes):
 * its "auths" entry for the host (keyed "host", "https://host",
 * "http://host/…"; docker.io's as Docker writes it,
 * "https://index.docker.io/v1/"), from "identitytoken" (an OAuth
 * refresh token, as `docker login` keeps one: *user is then
 * REG_IDENTITY_USER), else "auth" (base64 of USER:SECRET) or "username"
 * and "password". 1 with *user and *secret malloc'ed, 0 when it has none
 * for host, -1 when the text is not such a config (err says why).
 */
int reg_auth_find(const char *text, size_t len, const char *host, char **user,
		  char **secret, struct strbuf *err);

/*
 * The credential helper a Docker config names for host, as Docker picks
 * it: "credHelpers" for the host, else "credsStore". 1 with the helper's
 * name (run as docker-credential-NAME) malloc'ed, 0 when there is none,
 * -1 when the text is not a config or the name is not a helper's (a
 * word of letters, digits, ".", "_", "-": never a path).
 */
int reg_auth_helper(const char *text, size_t len, const char *host,
		    char **helper, struct strbuf *err);

/*
 * The user name that stands for an identity token (an OAuth refresh
 * token) in a helper's answer, and in what reg_auth_find returns: the
 * token server is then asked for an access token with it (a POST of
 * grant_type=refresh_token), never sent it as a password.
 */
#define REG_IDENTITY_USER "<token>"

/*
 * A credential helper's answer to `get`: {"Username", "Secret"}. 1 with
 * both malloc'ed (Username REG_IDENTITY_USER: Secret is an identity
 * token), -1 when it is not one, err saying why.
 */
int reg_helper_answer(const char *text, size_t len, char **user, char **secret,
		      struct strbuf *err);

/*
 * The manifest of index (an OCI index or a Docker manifest list) for
 * linux/arch (and variant, when not NULL: "v7", "v8"): its descriptor,
 * borrowed from index. NULL when it has none (err lists the platforms
 * it has).
 */
json_t *reg_pick_platform(json_t *index, const char *arch, const char *variant,
			  struct strbuf *err);

/* Whether a media type is an index / a manifest cidre reads. */
int reg_is_index(const char *type);
int reg_is_manifest(const char *type);

#endif
