/*
 * cidre image pull: an image from a registry, over the OCI distribution
 * API (GET /v2/REPO/manifests/REF, /v2/REPO/blobs/DIGEST), with the
 * token dance of Docker Hub and its kind (a 401's WWW-Authenticate
 * names a token server) or basic credentials. What comes back is written
 * as an OCI layout of one image, then unpacked and registered by the
 * image store (image_add_from), whose checks it passes like any other
 * image. See pull.h and docs/internals/registry.md.
 */
#include "client/pull.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/coproc.h"
#include "exec/copy.h"
#include "exec/image.h"
#include "exec/oci.h"
#include "exec/registry.h"
#include "util/sha256.h"
#include "util/strvec.h"
#include "util/xalloc.h"

#define MANIFEST_TYPES \
	"Accept: application/vnd.oci.image.index.v1+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.docker.distribution.manifest.v2+json"
/* the largest blob a manifest may declare */
#define MAX_BLOB (64LL << 30)
#define TRIES 3
/* layers downloaded at once, as podman and skopeo (Docker: 3);
   CIDRE_PULL_PARALLEL, 1 to PULL_PARALLEL_MAX */
#define PULL_PARALLEL 6
#define PULL_PARALLEL_MAX 16

struct pull {
	const struct pull_opts *o;
	struct reg_ref ref;
	char *base;          /* "https://host", "http://127.0.0.1:5000" */
	int may_plain;       /* an insecure registry: http:// when TLS fails */
	char *user, *secret; /* credentials for the host, or NULL */
	char *auth;          /* "Authorization: …" once the registry asked */
	const char *form;    /* a POST's form body (an OAuth token request) */
	CURL *h;
	CURLcode last;       /* the last transfer's result */
};

/* One answer: its headers, and its body into a buffer or a file. */
struct answer {
	long status;
	struct strbuf type, digest, challenge;
	struct strbuf *body;  /* 2xx body here (capped at max) … */
	size_t max;
	int fd;               /* … or into fd, hashed, capped at limit */
	struct sha256 sha;
	long long got, limit;
	struct strbuf errbody; /* a non-2xx body, capped */
	int over;
	/* a blob's download resumed where a broken one stopped: asked from
	   byte from (Range), its sha and file kept; started once this try's
	   body came (and was checked to be the rest); broken when what was
	   written is not what was hashed (then a try starts over) */
	long long from;
	int started, broken;
	struct strbuf range;   /* Content-Range */
};

static void answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	strbuf_init(&a->type, 0);
	strbuf_init(&a->digest, 0);
	strbuf_init(&a->challenge, 0);
	strbuf_init(&a->errbody, 0);
	strbuf_init(&a->range, 0);
	a->fd = -1;
	sha256_init(&a->sha);
}

static void answer_release(struct answer *a)
{
	strbuf_release(&a->type);
	strbuf_release(&a->digest);
	strbuf_release(&a->challenge);
	strbuf_release(&a->errbody);
	strbuf_release(&a->range);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct answer *a = ud;
	size_t n = size * nitems, k;
	struct strbuf *to = NULL;
	const char *v;

	if (n > 5 && !strncmp(buf, "HTTP/", 5)) {
		/* a new answer (after a redirect or a 100): its own headers */
		strbuf_reset(&a->type);
		strbuf_reset(&a->digest);
		strbuf_reset(&a->challenge);
		strbuf_reset(&a->range);
		return n;
	}
	v = memchr(buf, ':', n);
	if (!v)
		return n;
	k = (size_t)(v - buf);
	if (k == 12 && !strncasecmp(buf, "Content-Type", 12))
		to = &a->type;
	else if (k == 21 && !strncasecmp(buf, "Docker-Content-Digest", 21))
		to = &a->digest;
	else if (k == 16 && !strncasecmp(buf, "WWW-Authenticate", 16) &&
		 !a->challenge.len)
		to = &a->challenge;
	else if (k == 13 && !strncasecmp(buf, "Content-Range", 13))
		to = &a->range;
	if (to && n - k < 8192) {
		strbuf_reset(to);
		strbuf_add(to, v + 1, n - k - 1);
		strbuf_rtrim(to);
		while (to->len && (to->buf[0] == ' ' || to->buf[0] == '\t'))
			strbuf_remove(to, 0, 1);
	}
	return n;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *ud)
{
	void **pair = ud;
	struct answer *a = pair[0];
	size_t n = size * nitems;

	if (!a->status)
		curl_easy_getinfo(pair[1], CURLINFO_RESPONSE_CODE, &a->status);
	if (a->status < 200 || a->status > 299) {
		if (a->errbody.len < 4096)
			strbuf_add(&a->errbody, buf, n < 4096 ? n : 4096);
		return n;
	}
	if (a->fd >= 0 && !a->started) {
		a->started = 1;
		if (a->from > 0 && a->status == 206) {
			/* "bytes FROM-LAST/SIZE": the rest, or nothing to use */
			char want[40];

			snprintf(want, sizeof(want), "bytes %lld-", a->from);
			if (strncmp(a->range.buf, want, strlen(want))) {
				a->broken = 1;
				return 0;
			}
		} else if (a->from > 0) {
			/* the whole blob again (no Range here): from its start */
			if (ftruncate(a->fd, 0) < 0 || lseek(a->fd, 0, SEEK_SET) < 0) {
				a->broken = 1;
				return 0;
			}
			sha256_init(&a->sha);
			a->got = 0;
			a->from = 0;
		}
	}
	a->got += (long long)n;
	if (a->fd >= 0) {
		size_t off = 0;

		if (a->got > a->limit) {
			a->over = 1;
			return 0;
		}
		sha256_update(&a->sha, buf, n);
		while (off < n) {
			ssize_t w = write(a->fd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				a->broken = 1;
				return 0;
			}
			off += (size_t)w;
		}
		return n;
	}
	if (a->body->len + n > a->max) {
		a->over = 1;
		return 0;
	}
	strbuf_add(a->body, buf, n);
	return n;
}

static int is_loopback(const char *host)
{
	size_t n = strcspn(host, ":");

	return (n == 9 && !strncmp(host, "localhost", 9)) ||
	       !strncmp(host, "127.", 4);
}

/* Whether host is in $CIDRE_INSECURE_REGISTRIES ("a:5000,b"). */
static int listed_insecure(const char *host)
{
	const char *l = getenv("CIDRE_INSECURE_REGISTRIES"), *p;
	size_t n = strlen(host);

	for (p = l; p && *p; p += strcspn(p, ",")) {
		while (*p == ',' || *p == ' ')
			p++;
		if (!strncmp(p, host, n) && (!p[n] || p[n] == ',' || p[n] == ' '))
			return 1;
	}
	return 0;
}

/* docker-credential-NAME in PATH, malloc'ed, or NULL. */
static char *helper_path(const char *name)
{
	const char *path = getenv("PATH"), *d;

	for (d = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *d;) {
		size_t n = strcspn(d, ":");
		char *f = xasprintf("%.*s/docker-credential-%s", (int)n,
				    n ? d : ".", name);

		if (!access(f, X_OK))
			return f;
		free(f);
		d += n;
		if (*d == ':')
			d++;
	}
	return NULL;
}

/*
 * Ask a credential helper (docker-credential-NAME get, the registry on
 * its stdin), as Docker does. 1 with the credentials, 0 when it has
 * none for the registry, -1 with the reason.
 */
static int run_helper(struct pull *p, const char *name, struct strbuf *err)
{
	char *exe = helper_path(name);
	const char *argv[] = { exe, "get", NULL };
	const char *server = !strcmp(p->ref.host, "docker.io") ?
			     "https://index.docker.io/v1/" : p->ref.host;
	struct strbuf out = STRBUF_INIT;
	struct coproc c;
	int r = -1, waited = 0;

	if (!exe) {
		strbuf_addf(err, "its credential helper docker-credential-%s is not "
			    "in PATH", name);
		return -1;
	}
	if (coproc_start(argv, &c, err) < 0) {
		free(exe);
		return -1;
	}
	if (write(c.in, server, strlen(server)) < 0) {
		/* it said nothing: its answer tells */
	}
	close(c.in);
	c.in = -1;
	for (;;) {
		struct pollfd pf = { .fd = c.out, .events = POLLIN };
		char buf[4096];
		ssize_t n;

		if (poll(&pf, 1, 1000) == 0) {
			if (++waited >= 30) {
				strbuf_addf(err, "docker-credential-%s get did not answer "
					    "in 30 s", name);
				goto done;
			}
			continue;
		}
		n = read(c.out, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (out.len + (size_t)n > 64 * 1024) {
			strbuf_addf(err, "docker-credential-%s get answered more than "
				    "64 KiB", name);
			goto done;
		}
		strbuf_add(&out, buf, (size_t)n);
	}
	if (strstr(out.buf, "credentials not found")) {
		r = 0;
	} else {
		struct strbuf why = STRBUF_INIT;

		r = reg_helper_answer(out.buf, out.len, &p->user, &p->secret, &why);
		if (r < 0)
			strbuf_addf(err, "docker-credential-%s get: %s", name, why.buf);
		strbuf_release(&why);
	}
done:
	coproc_end(&c, r < 0);
	strbuf_release(&out);
	free(exe);
	return r;
}

/* One Docker config's credentials for the host: its helper's, else its
   "auths". 1, 0 (none), or -1 with the reason. */
static int creds_from(struct pull *p, const char *text, size_t len,
		      const char *where, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	char *helper = NULL;
	int r = reg_auth_helper(text, len, p->ref.host, &helper, &why);

	if (r == 1)
		r = run_helper(p, helper, &why);
	if (!r)
		r = reg_auth_find(text, len, p->ref.host, &p->user, &p->secret, &why);
	if (r < 0)
		strbuf_addf(err, "%s: %s", where, why.buf);
	free(helper);
	strbuf_release(&why);
	return r;
}

/* A Docker config's credentials for the host: the first that has them. */
static int find_credentials(struct pull *p, struct strbuf *err)
{
	const char *env = getenv("DOCKER_AUTH_CONFIG"), *home = getenv("HOME");
	const char *dc = getenv("DOCKER_CONFIG"), *rt = getenv("XDG_RUNTIME_DIR");
	const char *raf = getenv("REGISTRY_AUTH_FILE");
	char *files[4] = { NULL };
	size_t i;
	int r = 0;

	if (raf && *raf)
		files[0] = xstrdup(raf);
	if (rt && *rt)
		files[1] = xasprintf("%s/containers/auth.json", rt);
	if (dc && *dc)
		files[2] = xasprintf("%s/config.json", dc);
	else if (home && *home)
		files[2] = xasprintf("%s/.docker/config.json", home);
	for (i = 0; i < 2 && !r; i++) {
		const char *text = i ? env : p->o->auth;

		if (text && *text)
			r = creds_from(p, text, strlen(text), "DOCKER_AUTH_CONFIG", err);
	}
	for (i = 0; i < 3 && !r; i++) {
		struct strbuf t = STRBUF_INIT;

		if (!files[i] || access(files[i], F_OK))
			continue;
		if (strbuf_read_file(&t, files[i], REG_MAX_AUTH_CONFIG + 1) < 0) {
			strbuf_addf(err, "cannot read %s: %s", files[i], strerror(errno));
			r = -1;
		} else {
			r = creds_from(p, t.buf, t.len, files[i], err);
		}
		strbuf_release(&t);
	}
	for (i = 0; i < 4; i++)
		free(files[i]);
	return r < 0 ? -1 : 0;
}

static void reset_handle(struct pull *p)
{
	curl_easy_reset(p->h);
	curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->h, CURLOPT_USERAGENT, "cidre/" CIDRE_VERSION);
	curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a registry that stops sending for a minute is gone */
	curl_easy_setopt(p->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(p->h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(p->h, CURLOPT_TCP_KEEPALIVE, 1L);
}

/*
 * GET url into a (headers always, the body as a was set up), with
 * accept and the registry's authorization. 0 when an answer came (any
 * status), -1 with the reason when none did.
 */
static int fetch(struct pull *p, const char *url, const char *accept,
		 struct answer *a, int follow, struct strbuf *err)
{
	struct curl_slist *hs = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";
	void *pair[2] = { a, p->h };
	CURLcode res;

	reset_handle(p);
	curl_easy_setopt(p->h, CURLOPT_URL, url);
	curl_easy_setopt(p->h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(p->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(p->h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, pair);
	curl_easy_setopt(p->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (p->may_plain) {
		/* an insecure registry, as Docker treats one: its https
		   certificate is not checked (nor the CA bundle loaded) */
		curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (follow) {
		/* blobs are often served by a CDN the registry redirects to;
		   libcurl sends the Authorization header to the same host only */
		curl_easy_setopt(p->h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(p->h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(p->h, CURLOPT_REDIR_PROTOCOLS_STR,
				 p->may_plain ? "http,https" : "https");
	}
	if (a->fd >= 0 && a->from > 0) {
		char range[32];

		snprintf(range, sizeof(range), "%lld-", a->from);
		curl_easy_setopt(p->h, CURLOPT_RANGE, range);
	}
	if (p->form) {
		curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, p->form);
		hs = curl_slist_append(hs, "Content-Type: "
				       "application/x-www-form-urlencoded");
	}
	if (accept)
		hs = curl_slist_append(hs, accept);
	if (p->auth)
		hs = curl_slist_append(hs, p->auth);
	if (hs)
		curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, hs);
	res = curl_easy_perform(p->h);
	p->last = res;
	curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &a->status);
	curl_slist_free_all(hs);
	if (res == CURLE_OK)
		return 0;
	if (a->over)
		strbuf_addf(err, "%s: the answer is larger than it may be", url);
	else
		strbuf_addf(err, "%s: %s", url, *ebuf ? ebuf : curl_easy_strerror(res));
	return -1;
}

/* "Authorization: Basic …" for the credentials. */
static char *basic_header(const char *user, const char *secret)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *up = xasprintf("%s:%s", user, secret);
	struct strbuf h = STRBUF_INIT;
	size_t i, n = strlen(up);

	strbuf_addstr(&h, "Authorization: Basic ");
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)up[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)(unsigned char)up[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)up[i + 2];
		strbuf_addch(&h, b64[(v >> 18) & 63]);
		strbuf_addch(&h, b64[(v >> 12) & 63]);
		strbuf_addch(&h, i + 1 < n ? b64[(v >> 6) & 63] : '=');
		strbuf_addch(&h, i + 2 < n ? b64[v & 63] : '=');
	}
	free(up);
	return strbuf_detach(&h, NULL);
}

static int is_identity(const struct pull *p)
{
	return p->user && !strcmp(p->user, REG_IDENTITY_USER);
}

/* service=…&scope=… for the challenge, URL-encoded, into q. */
static void token_query(struct pull *p, const struct reg_challenge *c,
			struct strbuf *q)
{
	char *e;

	if (c->service) {
		e = curl_easy_escape(p->h, c->service, 0);
		strbuf_addf(q, "service=%s&", e);
		curl_free(e);
	}
	if (c->scope)
		e = curl_easy_escape(p->h, c->scope, 0);
	else {
		char *s = xasprintf("repository:%s:pull", p->ref.repo);

		e = curl_easy_escape(p->h, s, 0);
		free(s);
	}
	strbuf_addf(q, "scope=%s", e);
	curl_free(e);
}

/*
 * An identity token's request, as Docker's OAuth2 flow makes it: a POST
 * to the realm of grant_type=refresh_token with the token, the service
 * and scope, and a client_id; the answer's access_token is the bearer.
 */
static int post_identity(struct pull *p, const struct reg_challenge *c,
			 struct answer *a, struct strbuf *err)
{
	struct strbuf form = STRBUF_INIT;
	char *e = curl_easy_escape(p->h, p->secret, 0);
	char *saved = p->auth;
	int r;

	strbuf_addf(&form, "grant_type=refresh_token&client_id=cidre&"
		    "refresh_token=%s&", e);
	curl_free(e);
	token_query(p, c, &form);
	p->auth = NULL;
	p->form = form.buf;
	r = fetch(p, c->realm, NULL, a, 0, err);
	p->form = NULL;
	p->auth = saved;
	strbuf_release(&form);
	return r;
}

/* The token server's token for the challenge (Docker Hub and its kind). */
static int get_token(struct pull *p, const struct reg_challenge *c,
		     struct strbuf *err)
{
	struct strbuf url = STRBUF_INIT, body = STRBUF_INIT;
	struct answer a;
	json_t *o = NULL;
	const char *tok;
	int ret = -1;

	if (!c->realm || (strncmp(c->realm, "https://", 8) &&
			  !(p->may_plain && !strncmp(c->realm, "http://", 7)))) {
		strbuf_addf(err, "%s asks for a token from \"%s\", not an https:// "
			    "address", p->ref.host, c->realm ? c->realm : "");
		return -1;
	}
	answer_init(&a);
	a.body = &body;
	a.max = REG_MAX_TOKEN;
	if (is_identity(p)) {
		if (post_identity(p, c, &a, err) < 0)
			goto done;
		if (a.status == 400 || a.status == 401 || a.status == 403) {
			strbuf_addf(err, "token server %s refused the identity token "
				    "for %s (HTTP %ld)%s: log in again with `docker "
				    "login %s`", c->realm, p->ref.repo, a.status,
				    a.status == 400 ? ", an expired or revoked one" : "",
				    p->ref.host);
			goto done;
		}
	} else {
		char *saved = p->auth;

		strbuf_addf(&url, "%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?");
		token_query(p, c, &url);
		p->auth = NULL;
		if (p->user)
			p->auth = basic_header(p->user, p->secret);
		if (fetch(p, url.buf, NULL, &a, 0, err) < 0) {
			free(p->auth);
			p->auth = saved;
			goto done;
		}
		free(p->auth);
		p->auth = saved;
	}
	if ((a.status == 401 || a.status == 403) && p->user) {
		strbuf_addf(err, "token server %s refused the credentials for %s "
			    "(HTTP %ld)", c->realm, p->ref.repo, a.status);
		goto done;
	}
	if (a.status == 401 || a.status == 403) {
		strbuf_addf(err, "token server %s refused a token for %s without "
			    "credentials (HTTP %ld): log in with `docker login %s`, "
			    "or set DOCKER_AUTH_CONFIG", c->realm, p->ref.repo,
			    a.status, p->ref.host);
		goto done;
	}
	if (a.status != 200) {
		strbuf_addf(err, "%s answered HTTP %ld", c->realm, a.status);
		goto done;
	}
	o = json_loadb(body.buf, body.len, 0, NULL);
	tok = json_string_value(json_object_get(o, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(o, "access_token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n") || strlen(tok) > 64 * 1024) {
		strbuf_addf(err, "%s answered no token", c->realm);
		goto done;
	}
	free(p->auth);
	p->auth = xasprintf("Authorization: Bearer %s", tok);
	ret = 0;
done:
	json_decref(o);
	strbuf_release(&url);
	strbuf_release(&body);
	answer_release(&a);
	return ret;
}

/* What a registry's error body says: {"errors":[{"code","message"}]}. */
static void add_registry_error(struct strbuf *err, const struct strbuf *body)
{
	json_t *o = json_loadb(body->buf, body->len, 0, NULL);
	json_t *e = json_array_get(json_object_get(o, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (code || msg)
		strbuf_addf(err, ": %s%s%s", code ? code : "", code && msg ? " " : "",
			    msg ? msg : "");
	json_decref(o);
}

/*
 * GET the registry's path (under base) into a, authenticating when it
 * asks, falling back to http:// for an insecure registry, trying again
 * after a network error or a 5xx/429. 0 with a 2xx answer, -1 otherwise.
 * reset(a) empties a for a new try.
 */
static int get(struct pull *p, const char *path, const char *accept,
	       struct answer *a, int follow, void (*reset)(struct answer *),
	       struct strbuf *err)
{
	int tries = 0, authed = 0;

	for (;;) {
		struct strbuf why = STRBUF_INIT;
		char *url = xasprintf("%s%s", p->base, path);
		int r = fetch(p, url, accept, a, follow, &why);

		if (r < 0 && p->may_plain && !strncmp(p->base, "https://", 8) &&
		    p->last == CURLE_SSL_CONNECT_ERROR) {
			/* a registry without TLS: as Docker does for insecure ones */
			char *plain = xasprintf("http://%s", p->base + 8);

			free(p->base);
			p->base = plain;
			free(url);
			strbuf_release(&why);
			reset(a);
			continue;
		}
		free(url);
		if (r < 0 || a->status >= 500 || a->status == 429) {
			if (++tries < TRIES) {
				strbuf_release(&why);
				sleep((unsigned)tries);
				reset(a);
				continue;
			}
			if (r < 0)
				strbuf_add(err, why.buf, why.len);
			else
				strbuf_addf(err, "%s answered HTTP %ld for %s", p->ref.host,
					    a->status, path);
			strbuf_release(&why);
			return -1;
		}
		strbuf_release(&why);
		if (a->status == 401 && !authed) {
			struct reg_challenge c;

			authed = 1;
			if (reg_challenge_parse(a->challenge.buf, &c) < 0) {
				strbuf_addf(err, "%s asks for credentials in a way cidre "
					    "does not read (\"%s\")", p->ref.host,
					    a->challenge.buf);
				return -1;
			}
			if (!strcmp(c.scheme, "bearer")) {
				r = get_token(p, &c, err);
			} else if (!strcmp(c.scheme, "basic") && is_identity(p)) {
				strbuf_addf(err, "%s asks for a user and password, and its "
					    "credentials are an identity token (an OAuth "
					    "login), which only a token server takes",
					    p->ref.host);
				r = -1;
			} else if (!strcmp(c.scheme, "basic") && p->user) {
				free(p->auth);
				p->auth = basic_header(p->user, p->secret);
				r = 0;
			} else {
				strbuf_addf(err, "%s asks for credentials (%s): log in with "
					    "`docker login %s`, or set DOCKER_AUTH_CONFIG",
					    p->ref.host, c.scheme, p->ref.host);
				r = -1;
			}
			reg_challenge_release(&c);
			if (r < 0)
				return -1;
			reset(a);
			continue;
		}
		if (a->status < 200 || a->status > 299) {
			if (a->status == 401 || a->status == 403)
				strbuf_addf(err, "%s refused access to %s (HTTP %ld)%s",
					    p->ref.host, p->ref.repo, a->status,
					    p->user ? "" : ": log in with `docker login`, "
					    "or set DOCKER_AUTH_CONFIG");
			else if (a->status == 404)
				strbuf_addf(err, "%s has no %s", p->ref.host, path);
			else
				strbuf_addf(err, "%s answered HTTP %ld for %s", p->ref.host,
					    a->status, path);
			add_registry_error(err, &a->errbody);
			return -1;
		}
		return 0;
	}
}

static void reset_buffer(struct answer *a)
{
	struct strbuf *body = a->body;
	size_t max = a->max;

	answer_release(a);
	answer_init(a);
	strbuf_reset(body);
	a->body = body;
	a->max = max;
}

static void reset_file(struct answer *a)
{
	int fd = a->fd;
	long long limit = a->limit;

	answer_release(a);
	answer_init(a);
	a->fd = fd;
	a->limit = limit;
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		/* the next write fails and says so */
	}
}

/*
 * A blob's next try: from where the last one stopped when what it wrote
 * is sound (Range: bytes=N-; a server that sends the whole blob again
 * is read from its start), else from the start.
 */
static void resume_file(struct answer *a)
{
	struct answer keep = *a;

	if (a->broken || a->over || a->got <= 0 || a->got >= a->limit ||
	    ftruncate(a->fd, a->got) < 0 || lseek(a->fd, a->got, SEEK_SET) < 0) {
		reset_file(a);
		return;
	}
	strbuf_reset(&a->type);
	strbuf_reset(&a->digest);
	strbuf_reset(&a->challenge);
	strbuf_reset(&a->errbody);
	strbuf_reset(&a->range);
	a->status = 0;
	a->from = keep.got;
	a->started = 0;
}

/*
 * A manifest or an index by tag or digest, checked against the digest
 * asked for (want) or the registry's Docker-Content-Digest. Its body
 * into body, its media type into *type, its digest into digest.
 */
static int get_manifest(struct pull *p, const char *ref, const char *want,
			struct strbuf *body, char **type,
			char digest[7 + SHA256_HEX_LEN + 1], struct strbuf *err)
{
	char *path = xasprintf("/v2/%s/manifests/%s", p->ref.repo, ref);
	char hex[SHA256_HEX_LEN + 1];
	struct answer a;
	json_t *o = NULL;
	const char *mt;
	int ret = -1;

	answer_init(&a);
	a.body = body;
	a.max = REG_MAX_MANIFEST;
	if (get(p, path, MANIFEST_TYPES, &a, 0, reset_buffer, err) < 0)
		goto done;
	sha256_hex(body->buf, body->len, hex);
	snprintf(digest, 7 + SHA256_HEX_LEN + 1, "sha256:%s", hex);
	if (want && strcmp(want, digest)) {
		strbuf_addf(err, "%s sent a manifest for %s whose digest is %s",
			    p->ref.host, want, digest);
		goto done;
	}
	if (a.digest.len && !strncmp(a.digest.buf, "sha256:", 7) &&
	    strcmp(a.digest.buf, digest)) {
		strbuf_addf(err, "%s sent a manifest whose digest is %s, not the %s "
			    "it says", p->ref.host, digest, a.digest.buf);
		goto done;
	}
	o = json_loadb(body->buf, body->len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		strbuf_addf(err, "%s sent a manifest that is not JSON", p->ref.host);
		goto done;
	}
	mt = json_string_value(json_object_get(o, "mediaType"));
	if (!mt) {
		/* the Content-Type, without parameters */
		strbuf_setlen(&a.type, strcspn(a.type.buf, "; "));
		mt = a.type.buf;
	}
	if (json_integer_value(json_object_get(o, "schemaVersion")) == 1 ||
	    strstr(mt, "distribution.manifest.v1+")) {
		strbuf_addf(err, "%s:%s is a schema 1 image, which Docker no longer "
			    "reads: push it again with a current docker or skopeo",
			    p->ref.repo, ref);
		goto done;
	}
	if (!reg_is_index(mt) && !reg_is_manifest(mt)) {
		strbuf_addf(err, "%s sent a %s, not an image manifest or index",
			    p->ref.host, *mt ? mt : "manifest of no type");
		goto done;
	}
	*type = xstrdup(mt);
	ret = 0;
done:
	json_decref(o);
	answer_release(&a);
	free(path);
	return ret;
}

/* A descriptor's digest and size, checked. */
static int descriptor(json_t *d, const char **digest, long long *size,
		      const char *what, struct strbuf *err)
{
	json_t *s = json_object_get(d, "size");

	*digest = json_string_value(json_object_get(d, "digest"));
	if (!reg_digest_ok(*digest)) {
		strbuf_addf(err, "the manifest's %s has no sha256 digest", what);
		return -1;
	}
	if (!json_is_integer(s) || json_integer_value(s) < 0 ||
	    json_integer_value(s) > MAX_BLOB) {
		strbuf_addf(err, "the manifest's %s has no size (or one over 64 GiB)",
			    what);
		return -1;
	}
	*size = json_integer_value(s);
	return 0;
}

/* Write data to path (a new file). */
static int write_file(const char *path, const void *data, size_t len,
		      struct strbuf *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *c = data;
	size_t off = 0;

	if (fd < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, c + off, len - off);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A blob into dir/blobs/sha256/HEX, its size and digest checked. */
static int get_blob(struct pull *p, const char *dir, const char *digest,
		    long long size, struct strbuf *err)
{
	char *path = xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
	char *tmp = xasprintf("%s.part", path);
	char *url = xasprintf("/v2/%s/blobs/%s", p->ref.repo, digest);
	unsigned char md[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	struct answer a;
	int ret = -1;

	answer_init(&a);
	a.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	a.limit = size;
	if (a.fd < 0) {
		strbuf_addf(err, "cannot write %s: %s", tmp, strerror(errno));
		goto done;
	}
	if (get(p, url, NULL, &a, 1, resume_file, err) < 0)
		goto done;
	sha256_final(&a.sha, md);
	sha256_to_hex(md, hex);
	if (a.got != size) {
		strbuf_addf(err, "%s sent %lld bytes of %s, which has %lld",
			    p->ref.host, a.got, digest, size);
		goto done;
	}
	if (strcmp(hex, digest + 7)) {
		strbuf_addf(err, "%s sent a blob for %s whose digest is sha256:%s",
			    p->ref.host, digest, hex);
		goto done;
	}
	if (close(a.fd) < 0 || rename(tmp, path) < 0) {
		a.fd = -1;
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		goto done;
	}
	a.fd = -1;
	ret = 0;
done:
	if (a.fd >= 0)
		close(a.fd);
	if (ret < 0)
		unlink(tmp);
	answer_release(&a);
	free(path);
	free(tmp);
	free(url);
	return ret;
}

/*
 * Layer digest into dir's layout from the store's cache of pulled layers
 * (a link: no copy). 1 if it is there now, 0 if it is to be downloaded.
 */
static int cached_layer(const char *dir, const char *cache, const char *digest,
			long long size)
{
	char *path = xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
	char *cpath = xasprintf("%s/%s", cache, digest + 7);
	struct stat st;
	int yes = 0;

	if (!lstat(path, &st)) {
		yes = 1;        /* listed twice in the manifest */
	} else if (!link(cpath, path)) {
		yes = !stat(path, &st) && S_ISREG(st.st_mode) && st.st_size == size;
		if (!yes) {
			/* not what it says it is: replaced by the download */
			unlink(path);
			unlink(cpath);
		}
	}
	free(path);
	free(cpath);
	return yes;
}

/* A downloaded (checked) layer kept in the cache for the next pulls. */
static void cache_layer(const char *dir, const char *cache, const char *digest)
{
	char *path = xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
	char *cpath = xasprintf("%s/%s", cache, digest + 7);

	if (link(path, cpath) < 0 && errno == EEXIST) {
		/* there already: the same bytes, checked by whoever put it */
	}
	free(path);
	free(cpath);
}

/*
 * Layers to download, by PULL_PARALLEL threads at once: each has a
 * connection (a curl handle) and a copy of the registry's state (its
 * base, its token) of its own; what they share is read-only (the
 * reference, the credentials) or under lock (the next layer, the first
 * error, the progress lines).
 */
struct downloads {
	struct pull *p;
	const char *dir, *cache;
	json_t *layers;
	const size_t *todo;      /* indexes into layers */
	size_t nr, next;
	int failed;
	struct strbuf err;
	pthread_mutex_t lock;
};

static void *download_main(void *arg)
{
	struct downloads *dl = arg;
	struct pull q = *dl->p;
	struct strbuf err = STRBUF_INIT;

	q.h = curl_easy_init();
	q.base = xstrdup(dl->p->base);
	q.auth = xstrdup_or_null(dl->p->auth);
	for (;;) {
		size_t k, n = json_array_size(dl->layers);
		const char *d;
		long long sz;

		pthread_mutex_lock(&dl->lock);
		k = dl->failed || !q.h ? dl->nr : dl->next++;
		if (k < dl->nr && dl->p->o->progress) {
			descriptor(json_array_get(dl->layers, dl->todo[k]), &d, &sz,
				   "layer", &err);
			fprintf(dl->p->o->progress, "pulling layer %zu of %zu (%.1f MB)\n",
				dl->todo[k] + 1, n, sz / 1e6);
			fflush(dl->p->o->progress);
		}
		pthread_mutex_unlock(&dl->lock);
		if (k >= dl->nr)
			break;
		descriptor(json_array_get(dl->layers, dl->todo[k]), &d, &sz, "layer",
			   &err);
		strbuf_reset(&err);
		if (get_blob(&q, dl->dir, d, sz, &err) < 0) {
			pthread_mutex_lock(&dl->lock);
			if (!dl->failed)
				strbuf_addstr(&dl->err, err.buf);
			dl->failed = 1;
			pthread_mutex_unlock(&dl->lock);
			break;
		}
		cache_layer(dl->dir, dl->cache, d);
	}
	if (!q.h) {
		pthread_mutex_lock(&dl->lock);
		if (!dl->failed)
			strbuf_addstr(&dl->err, "cannot initialise libcurl");
		dl->failed = 1;
		pthread_mutex_unlock(&dl->lock);
	} else {
		curl_easy_cleanup(q.h);
	}
	free(q.base);
	free(q.auth);
	strbuf_release(&err);
	return NULL;
}

/*
 * The layers todo[0..nr) of layers into dir's layout, PULL_PARALLEL (or
 * CIDRE_PULL_PARALLEL) at once, each kept in cache once checked. 0, or -1
 * with the first failure in err.
 */
static int download_layers(struct pull *p, const char *dir, const char *cache,
			   json_t *layers, const size_t *todo, size_t nr,
			   struct strbuf *err)
{
	struct downloads dl = { .p = p, .dir = dir, .cache = cache,
				.layers = layers, .todo = todo, .nr = nr };
	pthread_t t[PULL_PARALLEL_MAX];
	const char *env = getenv("CIDRE_PULL_PARALLEL");
	size_t i, started = 0, want = PULL_PARALLEL;

	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (*end || v < 1 || v > PULL_PARALLEL_MAX) {
			strbuf_addf(err, "CIDRE_PULL_PARALLEL=%s is not a number of "
				    "layers from 1 to %d", env, PULL_PARALLEL_MAX);
			return -1;
		}
		want = (size_t)v;
	}
	strbuf_init(&dl.err, 0);
	pthread_mutex_init(&dl.lock, NULL);
	for (i = 0; i < want && i < nr; i++)
		if (!pthread_create(&t[i], NULL, download_main, &dl))
			started++;
	if (!started)
		download_main(&dl);     /* no thread: this one, in order */
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&dl.lock);
	if (dl.failed)
		strbuf_addstr(err, dl.err.buf);
	strbuf_release(&dl.err);
	return dl.failed ? -1 : 0;
}

/* Where the registry is: https://host, or the mirror for Docker Hub. */
static int set_base(struct pull *p, struct strbuf *err)
{
	const char *mirror = getenv("CIDRE_REGISTRY_MIRROR");

	if (!strcmp(p->ref.host, "docker.io") && mirror && *mirror) {
		size_t n = strlen(mirror);

		if (strncmp(mirror, "https://", 8) && strncmp(mirror, "http://", 7)) {
			strbuf_addf(err, "CIDRE_REGISTRY_MIRROR=%s is not an http:// "
				    "or https:// address", mirror);
			return -1;
		}
		while (n && mirror[n - 1] == '/')
			n--;
		p->base = xstrndup(mirror, n);
		p->may_plain = !strncmp(mirror, "http://", 7);
		return 0;
	}
	p->base = xasprintf("https://%s", !strcmp(p->ref.host, "docker.io") ?
			    "registry-1.docker.io" : p->ref.host);
	p->may_plain = is_loopback(p->ref.host) || listed_insecure(p->ref.host);
	return 0;
}

int pull_image(const struct pull_opts *o, const char *name, struct strbuf *msg,
	       struct strbuf *err)
{
	struct pull p = { .o = o };
	struct strbuf body = STRBUF_INIT, sub = STRBUF_INIT;
	char digest[7 + SHA256_HEX_LEN + 1], mdigest[7 + SHA256_HEX_LEN + 1];
	char *type = NULL, *dir = NULL, *lock = NULL, *label = NULL, *cache = NULL;
	size_t *todo = NULL, todo_nr = 0;
	struct strvec hits = STRVEC_INIT;
	struct strbuf first = STRBUF_INIT;
	long long hit_bytes = 0;
	const char *cdigest, *arch = oci_host_arch();
	json_t *m = NULL, *index = NULL, *layers, *l;
	long long csize, total = 0;
	int ret = -1, lock_fd = -1, have, current;
	size_t i;

	if (reg_ref_parse(name, &p.ref, err) < 0)
		return -1;
	if (set_base(&p, err) < 0 || find_credentials(&p, err) < 0)
		goto done;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(p.h = curl_easy_init())) {
		strbuf_addstr(err, "cannot initialise libcurl");
		goto done;
	}
	if (get_manifest(&p, p.ref.digest ? p.ref.digest : p.ref.tag, p.ref.digest,
			 &body, &type, digest, err) < 0)
		goto done;
	strcpy(mdigest, digest);
	if (reg_is_index(type)) {
		const char *d, *t;
		long long s;
		json_t *pick;

		index = json_loadb(body.buf, body.len, 0, NULL);
		pick = reg_pick_platform(index, arch, oci_host_variant(), &sub);
		if (!pick) {
			strbuf_addf(err, "%s: %s", name, sub.buf);
			goto done;
		}
		t = json_string_value(json_object_get(pick, "mediaType"));
		if (descriptor(pick, &d, &s, "platform's manifest", err) < 0)
			goto done;
		free(type);
		type = NULL;
		strbuf_reset(&body);
		if (get_manifest(&p, d, d, &body, &type, mdigest, err) < 0)
			goto done;
		if (!reg_is_manifest(type) || strcmp(type, t) ||
		    (long long)body.len != s) {
			strbuf_addf(err, "%s sent a manifest for %s that is not the one "
				    "its index describes", p.ref.host, d);
			goto done;
		}
	}
	m = json_loadb(body.buf, body.len, 0, NULL);
	if (descriptor(json_object_get(m, "config"), &cdigest, &csize, "config",
		       err) < 0)
		goto done;
	if (csize > OCI_MAX_JSON) {
		strbuf_addf(err, "its config is over %d bytes", OCI_MAX_JSON);
		goto done;
	}
	layers = json_object_get(m, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > OCI_MAX_LAYERS) {
		strbuf_addf(err, "the manifest has no \"layers\" (or more than %d)",
			    OCI_MAX_LAYERS);
		goto done;
	}
	json_array_foreach(layers, i, l) {
		const char *d;
		long long s;

		if (descriptor(l, &d, &s, "layer", err) < 0)
			goto done;
		total += s;
	}

	/* an OCI layout of the one image: its key is the manifest's */
	if (copy_mkdirs(o->store, err) < 0)
		goto done;
	lock = xasprintf("%s/.pull-%s.lock", o->store, mdigest + 7);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
		strbuf_addf(err, "cannot lock %s: %s", lock, strerror(errno));
		goto done;
	}
	dir = xasprintf("%s/.pull-%s-%ld", o->store, mdigest + 7, (long)getpid());
	if (copy_rmtree(dir, err) < 0)
		goto done;
	{
		char *blobs = xasprintf("%s/blobs/sha256", dir);
		char *f = xasprintf("%s/oci-layout", dir);
		char *mf = xasprintf("%s/%s", blobs, mdigest + 7);
		char *idx = xasprintf("%s/index.json", dir);
		json_t *ij = json_pack("{s:i, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
				       "manifests", "mediaType", type, "digest",
				       mdigest, "size", (json_int_t)body.len);
		char *it = json_dumps(ij, JSON_COMPACT);
		int r = mkdir(dir, 0700) < 0 ? -1 : copy_mkdirs(blobs, err);

		if (r < 0 && !err->len)
			strbuf_addf(err, "cannot make %s: %s", dir, strerror(errno));
		if (!r)
			r = write_file(f, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, err);
		if (!r)
			r = write_file(mf, body.buf, body.len, err);
		if (!r)
			r = write_file(idx, it, strlen(it), err);
		free(it);
		json_decref(ij);
		free(blobs);
		free(f);
		free(mf);
		free(idx);
		if (r < 0)
			goto done;
	}
	have = image_layout_unpacked(o->store, dir);
	if (!have) {
		size_t n = json_array_size(layers);

		cache = image_layer_cache(o->store);
		if (copy_mkdirs(cache, &sub) < 0) {
			/* no cache: every layer downloaded */
			strbuf_reset(&sub);
		}
		if (get_blob(&p, dir, cdigest, csize, err) < 0)
			goto done;
		todo = xcalloc(n ? n : 1, sizeof(*todo));
		json_array_foreach(layers, i, l) {
			const char *d;
			long long s;
			size_t k;
			int dup = 0;

			descriptor(l, &d, &s, "layer", err);
			for (k = 0; k < todo_nr && !dup; k++)
				dup = !strcmp(d, json_string_value(json_object_get(
					json_array_get(layers, todo[k]), "digest")));
			if (dup || strvec_find(&hits, d) >= 0)
				continue;       /* listed twice: one download */
			if (!cached_layer(dir, cache, d, s)) {
				todo[todo_nr++] = i;
				continue;
			}
			strvec_push(&hits, d);
			hit_bytes += s;
			if (o->progress) {
				fprintf(o->progress, "layer %zu of %zu here already "
					"(%.1f MB)\n", i + 1, n, s / 1e6);
				fflush(o->progress);
			}
		}
		if (download_layers(&p, dir, cache, layers, todo, todo_nr, err) < 0)
			goto done;
	}
	label = p.ref.tag ?
		xasprintf("%s/%s:%s@%s", p.ref.host, p.ref.repo, p.ref.tag, digest) :
		xasprintf("%s/%s@%s", p.ref.host, p.ref.repo, digest);
	/* registered from this manifest already: nothing to write (its
	   size would be measured again, a walk of the whole tree) */
	current = have && image_current(o->store, name, label);
	if (!current &&
	    image_add_from(o->store, name, dir, label, "registry", &sub,
			   hits.nr ? &first : err) < 0) {
		if (!hits.nr)
			goto done;
		if (!strstr(first.buf, "does not match its digest")) {
			strbuf_addstr(err, first.buf);
			goto done;
		}
		/* a kept layer that went bad on disk (the unpack checks every
		   digest): downloaded again, once */
		if (o->progress) {
			fprintf(o->progress, "%s: the layers kept here are "
				"downloaded again\n", first.buf);
			fflush(o->progress);
		}
		for (i = 0; i < hits.nr; i++) {
			char *path = xasprintf("%s/blobs/sha256/%s", dir, hits.v[i] + 7);
			char *cpath = xasprintf("%s/%s", cache, hits.v[i] + 7);

			unlink(path);
			unlink(cpath);
			free(path);
			free(cpath);
		}
		json_array_foreach(layers, i, l) {
			const char *d;
			long long s;
			char *path;
			struct stat st;
			int gone;

			descriptor(l, &d, &s, "layer", err);
			path = xasprintf("%s/blobs/sha256/%s", dir, d + 7);
			gone = lstat(path, &st) < 0;
			free(path);
			if (!gone)
				continue;
			if (get_blob(&p, dir, d, s, err) < 0)
				goto done;
			cache_layer(dir, cache, d);
		}
		strvec_clear(&hits);
		hit_bytes = 0;
		strbuf_reset(&sub);
		if (image_add_from(o->store, name, dir, label, "registry", &sub,
				   err) < 0)
			goto done;
	}
	if (current)
		strbuf_addf(msg, "image %s: %s, up to date", name, label);
	else if (have)
		strbuf_addf(msg, "image %s: pulled %s (unpacked here already)", name,
			    label);
	else if (hits.nr)
		strbuf_addf(msg, "image %s: pulled %s (%zu layer%s, %.1f MB; %zu of "
			    "them here already, %.1f MB)", name, label,
			    json_array_size(layers),
			    json_array_size(layers) == 1 ? "" : "s",
			    (total + csize) / 1e6, hits.nr, hit_bytes / 1e6);
	else
		strbuf_addf(msg, "image %s: pulled %s (%zu layer%s, %.1f MB)", name,
			    label, json_array_size(layers),
			    json_array_size(layers) == 1 ? "" : "s",
			    (total + csize) / 1e6);
	ret = 0;
done:
	if (dir) {
		struct strbuf why = STRBUF_INIT;

		copy_rmtree(dir, &why);
		strbuf_release(&why);
	}
	if (lock_fd >= 0)
		close(lock_fd);   /* the file stays: a waiter holds it open */
	if (p.h)
		curl_easy_cleanup(p.h);
	json_decref(m);
	json_decref(index);
	free(type);
	free(dir);
	free(lock);
	free(label);
	free(cache);
	free(todo);
	strvec_clear(&hits);
	strbuf_release(&first);
	free(p.base);
	free(p.user);
	free(p.secret);
	free(p.auth);
	reg_ref_release(&p.ref);
	strbuf_release(&body);
	strbuf_release(&sub);
	return ret;
}

int pull_cmd(const char *store, int argc, char **argv)
{
	struct pull_opts o = { .store = store, .progress = stderr };
	int i, ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: cidre image pull NAME...\n");
		return 2;
	}
	oci_progress = stderr;
	/* a credential helper that exits without reading its stdin must not
	   kill us with SIGPIPE: the write fails, its answer tells */
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		struct strbuf msg = STRBUF_INIT, err = STRBUF_INIT;

		if (pull_image(&o, argv[i], &msg, &err) < 0) {
			fprintf(stderr, "cidre image pull: %s\n", err.buf);
			ret = 1;
		} else {
			printf("%s\n", msg.buf);
			fflush(stdout);
		}
		strbuf_release(&msg);
		strbuf_release(&err);
	}
	return ret;
}
