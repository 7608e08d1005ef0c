/*
 * A registry's inputs, read without the network: references, challenges,
 * credentials, platforms. See registry.h and docs/internals/registry.md.
 */
#include "exec/registry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec/image.h"
#include "util/xalloc.h"

int reg_digest_ok(const char *d)
{
	size_t i;

	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 7 + 64)
		return 0;
	for (i = 7; d[i]; i++)
		if (!isdigit((unsigned char)d[i]) && !(d[i] >= 'a' && d[i] <= 'f'))
			return 0;
	return 1;
}

void reg_ref_release(struct reg_ref *r)
{
	free(r->host);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

int reg_ref_parse(const char *name, struct reg_ref *r, struct strbuf *err)
{
	const char *at, *slash, *path, *last, *colon;
	char *rest;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!image_name_ok(name)) {
		strbuf_addf(err, "\"%s\" is not an image reference", name);
		return -1;
	}
	at = strchr(name, '@');
	if (at && !reg_digest_ok(at + 1)) {
		strbuf_addf(err, "\"%s\": a digest is sha256: and 64 hex digits", name);
		return -1;
	}
	rest = at ? xstrndup(name, (size_t)(at - name)) : xstrdup(name);
	slash = strchr(rest, '/');
	path = rest;
	if (slash && (memchr(rest, '.', (size_t)(slash - rest)) ||
		      memchr(rest, ':', (size_t)(slash - rest)) ||
		      ((size_t)(slash - rest) == 9 && !memcmp(rest, "localhost", 9)))) {
		r->host = xstrndup(rest, (size_t)(slash - rest));
		path = slash + 1;
	} else {
		r->host = xstrdup("docker.io");
	}
	if (!strcmp(r->host, "index.docker.io") ||
	    !strcmp(r->host, "registry-1.docker.io")) {
		free(r->host);
		r->host = xstrdup("docker.io");
	}
	last = strrchr(path, '/');
	last = last ? last + 1 : path;
	colon = strchr(last, ':');
	if (colon) {
		r->tag = xstrdup(colon + 1);
		r->repo = xstrndup(path, (size_t)(colon - path));
	} else {
		r->repo = xstrdup(path);
	}
	free(rest);
	if (!*r->repo) {
		strbuf_addf(err, "\"%s\" names no repository", name);
		reg_ref_release(r);
		return -1;
	}
	for (i = 0; r->repo[i]; i++)
		if (isupper((unsigned char)r->repo[i])) {
			strbuf_addf(err, "\"%s\": a repository's name is lower-case "
				    "(%s)", name, r->repo);
			reg_ref_release(r);
			return -1;
		}
	if (!strcmp(r->host, "docker.io") && !strchr(r->repo, '/')) {
		char *lib = xasprintf("library/%s", r->repo);

		free(r->repo);
		r->repo = lib;
	}
	if (at)
		r->digest = xstrdup(at + 1);
	else if (!r->tag)
		r->tag = xstrdup("latest");
	return 0;
}

/* ---- WWW-Authenticate ---- */

void reg_challenge_release(struct reg_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static int is_tchar(int ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int reg_challenge_parse(const char *hdr, struct reg_challenge *c)
{
	const char *p = hdr;
	size_t n, i;

	memset(c, 0, sizeof(*c));
	while (*p == ' ' || *p == '\t')
		p++;
	for (n = 0; is_tchar((unsigned char)p[n]); n++)
		;
	if (!n)
		return -1;
	c->scheme = xstrndup(p, n);
	for (i = 0; i < n; i++)
		c->scheme[i] = (char)tolower((unsigned char)c->scheme[i]);
	p += n;
	for (;;) {
		struct strbuf v = STRBUF_INIT;
		const char *key;
		size_t kl;
		char **slot = NULL;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		key = p;
		for (kl = 0; is_tchar((unsigned char)p[kl]); kl++)
			;
		if (!kl)
			break;
		p += kl;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			break;   /* the next challenge's scheme */
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				strbuf_addch(&v, *p++);
			}
			if (*p != '"') {
				strbuf_release(&v);
				reg_challenge_release(c);
				return -1;
			}
			p++;
		} else {
			while (is_tchar((unsigned char)*p) || *p == '/' || *p == ':' ||
			       *p == '=')
				strbuf_addch(&v, *p++);
		}
		if (kl == 5 && !strncasecmp(key, "realm", 5))
			slot = &c->realm;
		else if (kl == 7 && !strncasecmp(key, "service", 7))
			slot = &c->service;
		else if (kl == 5 && !strncasecmp(key, "scope", 5))
			slot = &c->scope;
		if (slot && !*slot)
			*slot = strbuf_detach(&v, NULL);
		strbuf_release(&v);
	}
	return 0;
}

/* ---- credentials ---- */

static int b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* base64 (padded or not) decoded; NULL when it is not base64. */
static char *b64_decode(const char *s, size_t *ret_len)
{
	size_t len = strlen(s), i, o = 0;
	unsigned acc = 0;
	int bits = 0;
	char *out = xmalloc(len / 4 * 3 + 4);

	for (i = 0; i < len; i++) {
		int v;

		if (s[i] == '=') {
			while (i < len && s[i] == '=')
				i++;
			if (i != len)
				goto bad;
			break;
		}
		v = b64_val((unsigned char)s[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = 0;
	*ret_len = o;
	return out;
bad:
	free(out);
	return NULL;
}

/* An "auths" key ("https://host/v1/", "host") as a host. */
static char *key_host(const char *key)
{
	const char *p = key, *e;
	char *h;

	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	e = strchr(p, '/');
	h = e ? xstrndup(p, (size_t)(e - p)) : xstrdup(p);
	if (!strcmp(h, "index.docker.io") || !strcmp(h, "registry-1.docker.io")) {
		free(h);
		h = xstrdup("docker.io");
	}
	return h;
}

int reg_auth_find(const char *text, size_t len, const char *host, char **user,
		  char **secret, struct strbuf *err)
{
	json_error_t je;
	json_t *o, *auths, *e;
	const char *key;
	int ret = 0;

	*user = *secret = NULL;
	if (len > REG_MAX_AUTH_CONFIG) {
		strbuf_addf(err, "it is over %d bytes", REG_MAX_AUTH_CONFIG);
		return -1;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!o || !json_is_object(o)) {
		strbuf_addf(err, "not a Docker config: %s", o ? "not an object" : je.text);
		json_decref(o);
		return -1;
	}
	auths = json_object_get(o, "auths");
	if (auths && !json_is_object(auths)) {
		strbuf_addstr(err, "not a Docker config: \"auths\" is not an object");
		json_decref(o);
		return -1;
	}
	json_object_foreach(auths, key, e) {
		char *h = key_host(key);
		const char *a, *u, *pw, *id;
		int same = !strcmp(h, host);

		free(h);
		if (!same || !json_is_object(e))
			continue;
		a = json_string_value(json_object_get(e, "auth"));
		u = json_string_value(json_object_get(e, "username"));
		pw = json_string_value(json_object_get(e, "password"));
		id = json_string_value(json_object_get(e, "identitytoken"));
		if (id && *id) {
			/* as Docker: the identity token wins over "auth" */
			*user = xstrdup(REG_IDENTITY_USER);
			*secret = xstrdup(id);
			ret = 1;
			break;
		}
		if (a && *a) {
			size_t n;
			char *dec = b64_decode(a, &n), *colon;

			if (!dec || memchr(dec, 0, n) || !(colon = strchr(dec, ':'))) {
				strbuf_addf(err, "the \"auth\" of %s is not the base64 "
					    "of USER:PASSWORD", key);
				free(dec);
				ret = -1;
				break;
			}
			*user = xstrndup(dec, (size_t)(colon - dec));
			*secret = xstrdup(colon + 1);
			free(dec);
			ret = 1;
			break;
		}
		if (u && pw) {
			*user = xstrdup(u);
			*secret = xstrdup(pw);
			ret = 1;
			break;
		}
	}
	json_decref(o);
	return ret;
}

static int helper_name_ok(const char *n)
{
	size_t i;

	if (!n || !*n || strlen(n) > 64 || n[0] == '.' || n[0] == '-')
		return 0;
	for (i = 0; n[i]; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("._-", n[i]))
			return 0;
	return 1;
}

int reg_auth_helper(const char *text, size_t len, const char *host,
		    char **helper, struct strbuf *err)
{
	json_error_t je;
	json_t *o, *hs, *e;
	const char *key, *name = NULL;
	int ret = 0;

	*helper = NULL;
	if (len > REG_MAX_AUTH_CONFIG) {
		strbuf_addf(err, "it is over %d bytes", REG_MAX_AUTH_CONFIG);
		return -1;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		strbuf_addf(err, "not a Docker config: %s", o ? "not an object" : je.text);
		json_decref(o);
		return -1;
	}
	hs = json_object_get(o, "credHelpers");
	json_object_foreach(hs, key, e) {
		char *h = key_host(key);
		int same = !strcmp(h, host);

		free(h);
		if (same) {
			name = json_string_value(e);
			break;
		}
	}
	if (!name)
		name = json_string_value(json_object_get(o, "credsStore"));
	if (name && *name) {
		if (!helper_name_ok(name)) {
			strbuf_addf(err, "\"%.64s\" is not a credential helper's name",
				    name);
			ret = -1;
		} else {
			*helper = xstrdup(name);
			ret = 1;
		}
	}
	json_decref(o);
	return ret;
}

int reg_helper_answer(const char *text, size_t len, char **user, char **secret,
		      struct strbuf *err)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	const char *u = json_string_value(json_object_get(o, "Username"));
	const char *s = json_string_value(json_object_get(o, "Secret"));
	int ret = -1;

	*user = *secret = NULL;
	if (!u || !s)
		strbuf_addstr(err, "its answer has no Username and Secret");
	else {
		*user = xstrdup(u);
		*secret = xstrdup(s);
		ret = 1;
	}
	json_decref(o);
	return ret;
}

/* ---- platforms ---- */

int reg_is_index(const char *t)
{
	return t && (!strcmp(t, "application/vnd.oci.image.index.v1+json") ||
		     !strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

int reg_is_manifest(const char *t)
{
	return t && (!strcmp(t, "application/vnd.oci.image.manifest.v1+json") ||
		     !strcmp(t, "application/vnd.docker.distribution.manifest.v2+json"));
}

json_t *reg_pick_platform(json_t *index, const char *arch, const char *variant,
			  struct strbuf *err)
{
	json_t *ms = json_object_get(index, "manifests"), *d, *best = NULL;
	struct strbuf seen = STRBUF_INIT;
	int best_score = 0;
	size_t i;

	json_array_foreach(ms, i, d) {
		json_t *p = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *a = json_string_value(json_object_get(p, "architecture"));
		const char *v = json_string_value(json_object_get(p, "variant"));
		const char *t = json_string_value(json_object_get(d, "mediaType"));
		int score;

		if (!os || !a || !strcmp(os, "unknown"))
			continue;   /* attestations and the like */
		if (seen.len < 512)
			strbuf_addf(&seen, "%s%.32s/%.32s%s%.32s", seen.len ? ", " : "",
				    os, a, v ? "/" : "", v ? v : "");
		if (strcmp(os, "linux") || strcmp(a, arch) || !reg_is_manifest(t))
			continue;
		if (variant && v && strcmp(variant, v))
			continue;
		score = (!variant && !v) || (variant && v) ? 2 : 1;
		if (score > best_score) {
			best = d;
			best_score = score;
		}
	}
	if (!best) {
		if (!json_is_array(ms))
			strbuf_addstr(err, "the index has no \"manifests\"");
		else
			strbuf_addf(err, "it has no image for linux/%s%s%s (%s)", arch,
				    variant ? "/" : "", variant ? variant : "",
				    seen.len ? seen.buf : "no platform named");
	}
	strbuf_release(&seen);
	return best;
}
