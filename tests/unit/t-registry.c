/*
 * Unit tests for src/exec/registry.c: what a pull reads apart from the
 * network. References split as Docker splits them, 401 challenges, a
 * Docker config's credentials, the manifest of an index for a platform.
 * The pull itself, against a registry, is tests/e2e.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec/registry.h"
#include "util/strbuf.h"

#define HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DIGEST "sha256:" HEX

/* The reference parsed: each part, NULL for "none". */
static void ref_is(const char *name, const char *host, const char *repo,
		   const char *tag, const char *digest)
{
	struct strbuf err = STRBUF_INIT;
	struct reg_ref r;

	if (reg_ref_parse(name, &r, &err) < 0)
		fail_msg("refused %s: %s", name, err.buf);
	assert_int_equal(err.len, 0);
	assert_non_null(r.host);
	assert_string_equal(r.host, host);
	assert_non_null(r.repo);
	assert_string_equal(r.repo, repo);
	if (tag) {
		assert_non_null(r.tag);
		assert_string_equal(r.tag, tag);
	} else {
		assert_null(r.tag);
	}
	if (digest) {
		assert_non_null(r.digest);
		assert_string_equal(r.digest, digest);
	} else {
		assert_null(r.digest);
	}
	reg_ref_release(&r);
	assert_null(r.host);
	assert_null(r.repo);
	assert_null(r.tag);
	assert_null(r.digest);
	strbuf_release(&err);
}

/* Refused, with a reason, and nothing left allocated in r. */
static void ref_refused(const char *name)
{
	struct strbuf err = STRBUF_INIT;
	struct reg_ref r;

	if (!reg_ref_parse(name, &r, &err))
		fail_msg("took \"%s\" as %s/%s", name, r.host, r.repo);
	assert_true(err.len > 0);
	assert_null(r.host);
	assert_null(r.repo);
	assert_null(r.tag);
	assert_null(r.digest);
	strbuf_release(&err);
}

static void test_ref_docker_hub(void **state)
{
	ref_is("node", "docker.io", "library/node", "latest", NULL);
	ref_is("node:20", "docker.io", "library/node", "20", NULL);
	ref_is("node:20-alpine3.19", "docker.io", "library/node",
	       "20-alpine3.19", NULL);
	ref_is("team/app:1", "docker.io", "team/app", "1", NULL);
	ref_is("team/app", "docker.io", "team/app", "latest", NULL);
	ref_is("library/node:20", "docker.io", "library/node", "20", NULL);
	ref_is("docker.io/node", "docker.io", "library/node", "latest", NULL);
	ref_is("docker.io/library/node:20", "docker.io", "library/node", "20",
	       NULL);
	ref_is("docker.io/team/app:1", "docker.io", "team/app", "1", NULL);
	ref_is("index.docker.io/library/x", "docker.io", "library/x", "latest",
	       NULL);
	ref_is("index.docker.io/x:2", "docker.io", "library/x", "2", NULL);
	ref_is("registry-1.docker.io/team/app:1", "docker.io", "team/app", "1",
	       NULL);
	/* a tag is not a repository: it may have upper-case letters */
	ref_is("node:LTS", "docker.io", "library/node", "LTS", NULL);
	/* "localhost" alone, or with a tag, is a repository on Docker Hub */
	ref_is("localhost", "docker.io", "library/localhost", "latest", NULL);
	ref_is("localhost:5000", "docker.io", "library/localhost", "5000", NULL);
	/* a dot in the only component does not make it a registry */
	ref_is("node.js:1", "docker.io", "library/node.js", "1", NULL);
}

static void test_ref_registries(void **state)
{
	ref_is("registry.example.com:5000/team/app:1.4",
	       "registry.example.com:5000", "team/app", "1.4", NULL);
	ref_is("registry.example.com/app", "registry.example.com", "app",
	       "latest", NULL);
	ref_is("localhost:5000/app", "localhost:5000", "app", "latest", NULL);
	ref_is("localhost/app:2", "localhost", "app", "2", NULL);
	ref_is("127.0.0.1:5591/team/app:1", "127.0.0.1:5591", "team/app", "1",
	       NULL);
	ref_is("ghcr.io/owner/repo/sub/img:v1.2.3", "ghcr.io",
	       "owner/repo/sub/img", "v1.2.3", NULL);
	/* a port alone makes the first component a registry */
	ref_is("myhost:5000/app", "myhost:5000", "app", "latest", NULL);
	/* no dot, no port, not localhost: a Docker Hub namespace */
	ref_is("myhost/app", "docker.io", "myhost/app", "latest", NULL);
}

static void test_ref_digests(void **state)
{
	ref_is("node@" DIGEST, "docker.io", "library/node", NULL, DIGEST);
	ref_is("node:20@" DIGEST, "docker.io", "library/node", "20", DIGEST);
	ref_is("team/app@" DIGEST, "docker.io", "team/app", NULL, DIGEST);
	ref_is("registry.example.com:5000/team/app:1.4@" DIGEST,
	       "registry.example.com:5000", "team/app", "1.4", DIGEST);
	ref_is("localhost:5000/app@" DIGEST, "localhost:5000", "app", NULL,
	       DIGEST);
}

static void test_ref_refused(void **state)
{
	static const char *const bad[] = {
		/* upper-case in the repository, wherever it is */
		"Node", "node/App:1", "Team/app", "docker.io/Library/node",
		"registry.example.com:5000/team/App:1.4",
		"localhost:5000/APP@" DIGEST,
		/* digests */
		"node@sha256:12", "node@sha256:" HEX "0", "node@md5:" HEX,
		"node@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		"node@sha256:" "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"node@", "node@" DIGEST "@" DIGEST, "@" DIGEST,
		/* not names */
		"", "/a", "a/", "a//b", "node:", ":1", "a:b:c", "a b", "a+b",
		"a\nb", "-a", "a/.b", "a/../b", "host:x/a", "a/b:1/c",
		"https://registry.example.com/app", NULL
	};
	size_t i;

	for (i = 0; bad[i]; i++)
		ref_refused(bad[i]);
}

static void test_digest_ok(void **state)
{
	assert_true(reg_digest_ok(DIGEST));
	assert_true(reg_digest_ok("sha256:0000000000000000000000000000000000000000000000000000000000000000"));
	assert_false(reg_digest_ok(NULL));
	assert_false(reg_digest_ok(""));
	assert_false(reg_digest_ok("sha256:"));
	assert_false(reg_digest_ok(HEX));
	assert_false(reg_digest_ok("sha256:" HEX "0"));
	assert_false(reg_digest_ok("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	assert_false(reg_digest_ok("sha256:E3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	assert_false(reg_digest_ok("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g"));
	assert_false(reg_digest_ok("sha512:" HEX));
	assert_false(reg_digest_ok("SHA256:" HEX));
	assert_false(reg_digest_ok(" sha256:" HEX));
}

/* The challenge parsed: each field, NULL for "none". */
static void challenge_is(const char *hdr, const char *scheme,
			 const char *realm, const char *service,
			 const char *scope)
{
	struct reg_challenge c;

	if (reg_challenge_parse(hdr, &c) < 0)
		fail_msg("refused: %s", hdr);
	assert_non_null(c.scheme);
	assert_string_equal(c.scheme, scheme);
	if (realm) {
		assert_non_null(c.realm);
		assert_string_equal(c.realm, realm);
	} else {
		assert_null(c.realm);
	}
	if (service) {
		assert_non_null(c.service);
		assert_string_equal(c.service, service);
	} else {
		assert_null(c.service);
	}
	if (scope) {
		assert_non_null(c.scope);
		assert_string_equal(c.scope, scope);
	} else {
		assert_null(c.scope);
	}
	reg_challenge_release(&c);
	assert_null(c.scheme);
	assert_null(c.realm);
}

static void test_challenge(void **state)
{
	/* Docker Hub's, byte for byte */
	challenge_is("Bearer realm=\"https://auth.docker.io/token\","
		     "service=\"registry.docker.io\","
		     "scope=\"repository:library/node:pull\"",
		     "bearer", "https://auth.docker.io/token",
		     "registry.docker.io", "repository:library/node:pull");
	/* GHCR's */
	challenge_is("Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
		     "scope=\"repository:owner/img:pull\"",
		     "bearer", "https://ghcr.io/token", "ghcr.io",
		     "repository:owner/img:pull");
	/* a registry:2 with token auth, and its error on a bad token */
	challenge_is("Bearer realm=\"https://auth.example.com/token\","
		     "service=\"Docker registry\",scope=\"repository:team/app:pull,push\","
		     "error=\"insufficient_scope\"",
		     "bearer", "https://auth.example.com/token", "Docker registry",
		     "repository:team/app:pull,push");
	/* no scope (a 401 on /v2/) */
	challenge_is("Bearer realm=\"https://auth.docker.io/token\","
		     "service=\"registry.docker.io\"",
		     "bearer", "https://auth.docker.io/token",
		     "registry.docker.io", NULL);
	/* unquoted */
	challenge_is("Bearer realm=https://auth.example.com:8443/token,"
		     "service=registry.example.com,scope=repository:team/app:pull",
		     "bearer", "https://auth.example.com:8443/token",
		     "registry.example.com", "repository:team/app:pull");
	/* escapes in a quoted string */
	challenge_is("Bearer realm=\"https://a.example/t\\\"x\\\\y\",service=\"s\\z\"",
		     "bearer", "https://a.example/t\"x\\y", "sz", NULL);
	/* any case, blanks around "=" and ",", leading blanks */
	challenge_is("  BEARER REALM=\"r\" ,  Service = \"s\",SCOPE=x",
		     "bearer", "r", "s", "x");
	challenge_is("bEaReR sCoPe=\"a\"", "bearer", NULL, NULL, "a");
	challenge_is("Basic realm=\"x\"", "basic", "x", NULL, NULL);
	challenge_is("Basic realm=\"Registry Realm\"", "basic", "Registry Realm",
		     NULL, NULL);
	challenge_is("Basic", "basic", NULL, NULL, NULL);
	/* empty values */
	challenge_is("Bearer realm=\"\",service=", "bearer", "", "", NULL);
	/* the first of a repeated parameter */
	challenge_is("Bearer realm=\"a\",realm=\"b\"", "bearer", "a", NULL, NULL);
	/* parameters that are not read */
	challenge_is("Bearer error=\"invalid_token\",realm=\"r\",x=1",
		     "bearer", "r", NULL, NULL);
	/* two challenges: only the first one's parameters */
	challenge_is("Bearer realm=\"a\",service=\"b\", Basic realm=\"c\",scope=\"d\"",
		     "bearer", "a", "b", NULL);
	challenge_is("Basic realm=\"c\", Bearer realm=\"a\",service=\"b\","
		     "scope=\"d\"", "basic", "c", NULL, NULL);
	challenge_is("Negotiate, Bearer realm=\"a\"", "negotiate", NULL, NULL,
		     NULL);
	/* RFC 7235's example */
	challenge_is("Newauth realm=\"apps\", type=1, "
		     "title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
		     "newauth", "apps", NULL, NULL);
}

static void test_challenge_garbage(void **state)
{
	static const char *const refused[] = {
		"", " ", "\t", ",", "=", "\"Bearer\"", "(", "Bearer realm=\"x",
		"Bearer realm=\"x\\", "Bearer realm=\"x\\\"",
		"Bearer realm=\"a\",service=\"b", NULL
	};
	static const char *const any[] = {
		"Bearer ==", "Bearer realm", "Bearer realm=", "Bearer =x",
		"Bearer ,,,, ,", "Bearer realm=\"a\"\"b\"", "Bearer realm=a\"b\"",
		"Bearer\x01realm=x", "Bearer realm=\x80\xff", "\xc3\xa9 realm=x",
		"Basic dXNlcjpwYXNz", "Basic dXNlcjpwYXNzdw==", "realm=\"x\"",
		"Bearer realm=\"a\" service=\"b\"", "a,b,c", "Bearer realm=a=b",
		NULL
	};
	struct reg_challenge c;
	size_t i, j;

	for (i = 0; refused[i]; i++) {
		if (reg_challenge_parse(refused[i], &c) == 0)
			fail_msg("took \"%s\" as %s", refused[i], c.scheme);
		assert_null(c.scheme);
		assert_null(c.realm);
		assert_null(c.service);
		assert_null(c.scope);
	}
	for (i = 0; any[i]; i++) {
		int r = reg_challenge_parse(any[i], &c);

		assert_true(r == 0 || r == -1);
		if (r == 0) {
			assert_non_null(c.scheme);
			assert_true(*c.scheme);
			for (j = 0; c.scheme[j]; j++)
				assert_false(c.scheme[j] >= 'A' && c.scheme[j] <= 'Z');
		} else {
			assert_null(c.scheme);
		}
		reg_challenge_release(&c);
	}
	/* "realm" with no scheme before it is a scheme with no parameters */
	challenge_is("realm=\"x\"", "realm", NULL, NULL, NULL);
}

/* reg_auth_find on text for host: its return, and what it found. */
static int auth(const char *text, const char *host, char **user,
		char **secret, struct strbuf *err)
{
	return reg_auth_find(text, strlen(text), host, user, secret, err);
}

static void auth_is(const char *text, const char *host, const char *user,
		    const char *secret)
{
	struct strbuf err = STRBUF_INIT;
	char *u, *s;
	int r = auth(text, host, &u, &s, &err);

	if (r != 1)
		fail_msg("%d for %s in %s (%s)", r, host, text, err.buf);
	assert_non_null(u);
	assert_non_null(s);
	assert_string_equal(u, user);
	assert_string_equal(s, secret);
	free(u);
	free(s);
	strbuf_release(&err);
}

static void auth_none(const char *text, const char *host)
{
	struct strbuf err = STRBUF_INIT;
	char *u = (char *)1, *s = (char *)1;
	int r = auth(text, host, &u, &s, &err);

	if (r != 0)
		fail_msg("%d for %s in %s (%s)", r, host, text, err.buf);
	assert_null(u);
	assert_null(s);
	strbuf_release(&err);
}

static void auth_bad(const char *text, const char *host, const char *why)
{
	struct strbuf err = STRBUF_INIT;
	char *u = (char *)1, *s = (char *)1;
	int r = auth(text, host, &u, &s, &err);

	if (r != -1)
		fail_msg("%d for %s in %s", r, host, text);
	assert_null(u);
	assert_null(s);
	if (!strstr(err.buf, why))
		fail_msg("\"%s\" does not say \"%s\"", err.buf, why);
	strbuf_release(&err);
}

/* ~/.docker/config.json as docker login leaves it */
static const char config[] =
	"{\n"
	"\t\"auths\": {\n"
	"\t\t\"https://index.docker.io/v1/\": {\n"
	"\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n"
	"\t\t},\n"
	"\t\t\"ghcr.io\": {\n"
	"\t\t\t\"auth\": \"dXNlcjpwYXNzdw==\"\n"
	"\t\t},\n"
	"\t\t\"http://registry.example.com:5000/v2/\": {\n"
	"\t\t\t\"username\": \"ci\",\n"
	"\t\t\t\"password\": \"s3cret\"\n"
	"\t\t},\n"
	"\t\t\"127.0.0.1:5591\": {\n"
	"\t\t\t\"auth\": \"dXNlcjpwYTpzczp3\"\n"
	"\t\t},\n"
	"\t\t\"quay.io\": {}\n"
	"\t},\n"
	"\t\"credsStore\": \"desktop\",\n"
	"\t\"currentContext\": \"default\"\n"
	"}\n";

static void test_auth_find(void **state)
{
	auth_is(config, "docker.io", "user", "pass");
	auth_is(config, "ghcr.io", "user", "passw");
	auth_is(config, "registry.example.com:5000", "ci", "s3cret");
	/* a secret with ":" in it: everything after the first */
	auth_is(config, "127.0.0.1:5591", "user", "pa:ss:w");
	auth_none(config, "quay.io");
	auth_none(config, "registry.example.com");
	auth_none(config, "index.docker.io/v1");
	auth_none(config, "example.com");

	/* an identity token (`docker login` to an OAuth registry) wins over
	   "auth", whose password part is then empty */
	auth_is("{\"auths\":{\"acr.example.io\":{\"auth\":\"MDAwMDA6\","
		"\"identitytoken\":\"eyJhbGciOi.refresh\"}}}", "acr.example.io",
		REG_IDENTITY_USER, "eyJhbGciOi.refresh");
	auth_is("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNzdw==\","
		"\"identitytoken\":\"\"}}}", "h", "user", "passw");

	/* padded and not */
	auth_is("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNzdw==\"}}}", "h",
		"user", "passw");
	auth_is("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNzdw\"}}}", "h",
		"user", "passw");
	auth_is("{\"auths\":{\"h\":{\"auth\":\"cm9ib3QkY2k6dG9r\"}}}", "h",
		"robot$ci", "tok");
	/* Docker Hub's keys, as Docker and others write them */
	auth_is("{\"auths\":{\"docker.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		"docker.io", "user", "pass");
	auth_is("{\"auths\":{\"index.docker.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		"docker.io", "user", "pass");
	auth_is("{\"auths\":{\"https://registry-1.docker.io/v2/\":"
		"{\"auth\":\"dXNlcjpwYXNz\"}}}", "docker.io", "user", "pass");
	/* other forms of a key */
	auth_is("{\"auths\":{\"https://host:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		"host:5000", "user", "pass");
	auth_is("{\"auths\":{\"host:5000/v2/\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		"host:5000", "user", "pass");
	auth_none("{\"auths\":{\"host:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		  "host");
	auth_none("{\"auths\":{\"host\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
		  "host:5000");
	/* an empty "auth" defers to username and password */
	auth_is("{\"auths\":{\"h\":{\"auth\":\"\",\"username\":\"u\","
		"\"password\":\"p:q\"}}}", "h", "u", "p:q");
	/* "auth" first */
	auth_is("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\",\"username\":\"u\","
		"\"password\":\"p\"}}}", "h", "user", "pass");
	/* a user with no password, a password with no user: none */
	auth_none("{\"auths\":{\"h\":{\"username\":\"u\"}}}", "h");
	auth_none("{\"auths\":{\"h\":{\"password\":\"p\"}}}", "h");
	auth_none("{\"auths\":{\"h\":\"dXNlcjpwYXNz\"}}", "h");
	auth_none("{\"auths\":{\"h\":null}}", "h");
	/* a config without "auths" (credential helpers only) */
	auth_none("{}", "docker.io");
	auth_none("{\"credsStore\":\"desktop\"}", "docker.io");
	auth_none("{\"auths\":{}}", "docker.io");
	/* an "auth" for another host does not matter */
	auth_is("{\"auths\":{\"other\":{\"auth\":\"!!\"},"
		"\"h\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "h", "user", "pass");
}

static void test_auth_find_bad(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *big, *u, *s;

	/* not base64 */
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"!!!!\"}}}", "h", "base64");
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"dXNl cjpwYXNz\"}}}", "h",
		 "base64");
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"dX=NlcjpwYXNz\"}}}", "h",
		 "base64");
	/* no ":" */
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"dXNlcnBhc3M=\"}}}", "h",
		 "USER:PASSWORD");
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"====\"}}}", "h", "USER:PASSWORD");
	/* a NUL inside: "u\0:p" */
	auth_bad("{\"auths\":{\"h\":{\"auth\":\"dQA6cA==\"}}}", "h",
		 "USER:PASSWORD");
	/* not a config */
	auth_bad("", "h", "not a Docker config");
	auth_bad("not json", "h", "not a Docker config");
	auth_bad("{\"auths\":", "h", "not a Docker config");
	auth_bad("[]", "h", "not an object");
	auth_bad("\"auths\"", "h", "not a Docker config");
	auth_bad("{\"auths\":[]}", "h", "\"auths\" is not an object");
	auth_bad("{\"auths\":\"h\"}", "h", "\"auths\" is not an object");
	auth_bad("{\"auths\":null}", "h", "\"auths\" is not an object");
	auth_bad("{\"auths\":{},\"auths\":{}}", "h", "not a Docker config");
	/* only len bytes are read */
	u = s = NULL;
	assert_int_equal(reg_auth_find("{}garbage", 2, "h", &u, &s, &err), 0);
	assert_int_equal(reg_auth_find("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
				       8, "h", &u, &s, &err), -1);
	assert_null(u);
	assert_null(s);
	strbuf_reset(&err);
	/* the cap: refused before it is parsed */
	big = malloc(REG_MAX_AUTH_CONFIG + 2);
	assert_non_null(big);
	memset(big, ' ', REG_MAX_AUTH_CONFIG + 1);
	big[0] = '{';
	big[REG_MAX_AUTH_CONFIG - 1] = '}';
	big[REG_MAX_AUTH_CONFIG + 1] = '\0';
	assert_int_equal(reg_auth_find(big, REG_MAX_AUTH_CONFIG, "h", &u, &s,
				       &err), 0);
	assert_int_equal(reg_auth_find(big, REG_MAX_AUTH_CONFIG + 1, "h", &u, &s,
				       &err), -1);
	assert_non_null(strstr(err.buf, "bytes"));
	free(big);
	strbuf_release(&err);
}

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

/* The shape of node:20's index on Docker Hub (2024), with its windows. */
static const char node_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":["
	"{\"mediaType\":\"" DOCKER_MANIFEST "\",\"digest\":\"sha256:"
	"1111111111111111111111111111111111111111111111111111111111111111\","
	"\"size\":2316,\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\","
	"\"os.version\":\"10.0.20348.2227\"}},"
	"{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:"
	"2222222222222222222222222222222222222222222222222222222222222222\","
	"\"size\":2000,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:"
	"3333333333333333333333333333333333333333333333333333333333333333\","
	"\"size\":2001,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\","
	"\"variant\":\"v7\"}},"
	"{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:"
	"4444444444444444444444444444444444444444444444444444444444444444\","
	"\"size\":2002,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\","
	"\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:"
	"5555555555555555555555555555555555555555555555555555555555555555\","
	"\"size\":566,\"annotations\":{\"vnd.docker.reference.digest\":\"sha256:"
	"2222222222222222222222222222222222222222222222222222222222222222\","
	"\"vnd.docker.reference.type\":\"attestation-manifest\"},"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}"
	"]}";

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	if (!j)
		fail_msg("%s: %s", je.text, text);
	return j;
}

/* The manifest of index for arch/variant is its k-th; its digest ends in d. */
static void picks(json_t *index, const char *arch, const char *variant,
		  size_t k, const char *d)
{
	struct strbuf err = STRBUF_INIT;
	json_t *pick = reg_pick_platform(index, arch, variant, &err);
	const char *digest;

	if (!pick)
		fail_msg("none for %s/%s: %s", arch, variant ? variant : "",
			 err.buf);
	assert_ptr_equal(pick, json_array_get(json_object_get(index, "manifests"),
					      k));
	digest = json_string_value(json_object_get(pick, "digest"));
	assert_non_null(digest);
	assert_non_null(strstr(digest, d));
	assert_int_equal(err.len, 0);
	strbuf_release(&err);
}

/* None for arch/variant, and the error says why. */
static void picks_none(json_t *index, const char *arch, const char *variant,
		       const char *why)
{
	struct strbuf err = STRBUF_INIT;

	assert_null(reg_pick_platform(index, arch, variant, &err));
	if (!strstr(err.buf, why))
		fail_msg("\"%s\" does not say \"%s\"", err.buf, why);
	strbuf_release(&err);
}

static void test_auth_helper(void **state)
{
	struct strbuf err = STRBUF_INIT;
	char *h = NULL, *u = NULL, *sec = NULL;
	const char *both = "{\"credsStore\": \"desktop\", \"credHelpers\": "
			   "{\"123.dkr.ecr.us-east-1.amazonaws.com\": \"ecr-login\", "
			   "\"https://index.docker.io/v1/\": \"hub\"}}";

	(void)state;
	assert_int_equal(reg_auth_helper(both, strlen(both),
					 "123.dkr.ecr.us-east-1.amazonaws.com", &h, &err), 1);
	assert_string_equal(h, "ecr-login");
	free(h);
	assert_int_equal(reg_auth_helper(both, strlen(both), "docker.io", &h, &err), 1);
	assert_string_equal(h, "hub");
	free(h);
	/* no helper for the host: the store */
	assert_int_equal(reg_auth_helper(both, strlen(both), "ghcr.io", &h, &err), 1);
	assert_string_equal(h, "desktop");
	free(h);
	assert_int_equal(reg_auth_helper("{\"auths\": {}}", 13, "ghcr.io", &h, &err), 0);
	assert_null(h);
	/* never a path */
	assert_int_equal(reg_auth_helper("{\"credsStore\": \"../x\"}", 22, "a",
					 &h, &err), -1);
	assert_null(h);
	assert_non_null(strstr(err.buf, "is not a credential helper's name"));
	strbuf_reset(&err);
	assert_int_equal(reg_auth_helper("nope", 4, "a", &h, &err), -1);
	strbuf_reset(&err);

	assert_int_equal(reg_helper_answer("{\"ServerURL\": \"x\", \"Username\": "
					   "\"u\", \"Secret\": \"p:q\"}", 52, &u, &sec,
					   &err), 1);
	assert_string_equal(u, "u");
	assert_string_equal(sec, "p:q");
	free(u);
	free(sec);
	/* an identity token: kept, and named by its user */
	assert_int_equal(reg_helper_answer("{\"Username\": \"<token>\", \"Secret\": "
					   "\"r\"}", 38, &u, &sec, &err), 1);
	assert_string_equal(u, REG_IDENTITY_USER);
	assert_string_equal(sec, "r");
	free(u);
	free(sec);
	assert_int_equal(reg_helper_answer("{\"Username\": \"u\"}", 15, &u, &sec,
					   &err), -1);
	assert_null(u);
	assert_non_null(strstr(err.buf, "no Username and Secret"));
	strbuf_reset(&err);
	assert_int_equal(reg_helper_answer("credentials not found", 21, &u, &sec,
					   &err), -1);
	assert_null(sec);
	strbuf_release(&err);
}

static void test_pick_platform(void **state)
{
	json_t *ix = load(node_index), *j;

	picks(ix, "amd64", NULL, 1, "2222");
	picks(ix, "arm64", NULL, 3, "4444");
	picks(ix, "arm64", "v8", 3, "4444");
	picks(ix, "arm", "v7", 2, "3333");
	/* an arm with no variant asked: the one there is */
	picks(ix, "arm", NULL, 2, "3333");
	picks_none(ix, "arm", "v6", "no image for linux/arm/v6");
	picks_none(ix, "s390x", NULL,
		   "it has no image for linux/s390x (windows/amd64, linux/amd64, "
		   "linux/arm/v7, linux/arm64/v8)");
	picks_none(ix, "arm64", "v9", "linux/arm64/v9");
	/* the attestation is not a platform */
	picks_none(ix, "unknown", NULL, "linux/unknown (");
	{
		struct strbuf err = STRBUF_INIT;

		assert_null(reg_pick_platform(ix, "riscv64", NULL, &err));
		assert_null(strstr(err.buf, "unknown"));
		strbuf_release(&err);
	}
	json_decref(ix);

	/* a Docker manifest list */
	ix = load("{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_LIST "\","
		  "\"manifests\":[{\"mediaType\":\"" DOCKER_MANIFEST "\","
		  "\"digest\":\"sha256:aa\",\"size\":1,\"platform\":"
		  "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
		  "{\"mediaType\":\"" DOCKER_MANIFEST "\","
		  "\"digest\":\"sha256:bb\",\"size\":1,\"platform\":"
		  "{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}");
	picks(ix, "amd64", NULL, 1, "bb");
	picks(ix, "arm64", NULL, 0, "aa");
	json_decref(ix);

	/* an exact variant over none, whichever comes first */
	ix = load("{\"manifests\":["
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:v8\","
		  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\","
		  "\"variant\":\"v8\"}},"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:plain\","
		  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}},"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:amd64v3\","
		  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\","
		  "\"variant\":\"v3\"}},"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:amd64\","
		  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}"
		  "]}");
	picks(ix, "arm64", NULL, 1, "plain");
	picks(ix, "arm64", "v8", 0, "v8");
	picks(ix, "amd64", NULL, 3, "amd64");
	picks(ix, "amd64", "v3", 2, "amd64v3");
	picks(ix, "amd64", "v2", 3, "amd64");
	json_decref(ix);

	/* only manifests: not a nested index, not a descriptor with no type */
	ix = load("{\"manifests\":["
		  "{\"mediaType\":\"" OCI_INDEX "\",\"digest\":\"sha256:ix\","
		  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
		  "{\"digest\":\"sha256:untyped\","
		  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:noplat\"},"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:noos\","
		  "\"platform\":{\"architecture\":\"amd64\"}},"
		  "7, null, \"x\", [],"
		  "{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"sha256:ok\","
		  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}"
		  "]}");
	picks(ix, "amd64", NULL, 8, "ok");
	json_decref(ix);

	/* no manifests */
	j = load("{\"schemaVersion\":2}");
	picks_none(j, "amd64", NULL, "no \"manifests\"");
	json_decref(j);
	j = load("{\"manifests\":{}}");
	picks_none(j, "amd64", NULL, "no \"manifests\"");
	json_decref(j);
	j = load("{\"manifests\":[]}");
	picks_none(j, "amd64", NULL, "(no platform named)");
	json_decref(j);
	j = load("[1]");
	picks_none(j, "amd64", NULL, "no \"manifests\"");
	json_decref(j);
	picks_none(NULL, "amd64", NULL, "no \"manifests\"");
}

static void test_media_types(void **state)
{
	assert_true(reg_is_index(OCI_INDEX));
	assert_true(reg_is_index(DOCKER_LIST));
	assert_false(reg_is_index(OCI_MANIFEST));
	assert_false(reg_is_index(DOCKER_MANIFEST));
	assert_false(reg_is_index(NULL));
	assert_false(reg_is_index(""));
	assert_false(reg_is_index(OCI_INDEX "; charset=utf-8"));
	assert_true(reg_is_manifest(OCI_MANIFEST));
	assert_true(reg_is_manifest(DOCKER_MANIFEST));
	assert_false(reg_is_manifest(OCI_INDEX));
	assert_false(reg_is_manifest(DOCKER_LIST));
	assert_false(reg_is_manifest(
		"application/vnd.docker.distribution.manifest.v1+prettyjws"));
	assert_false(reg_is_manifest(NULL));
	assert_false(reg_is_manifest(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_docker_hub),
		cmocka_unit_test(test_ref_registries),
		cmocka_unit_test(test_ref_digests),
		cmocka_unit_test(test_ref_refused),
		cmocka_unit_test(test_digest_ok),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_challenge_garbage),
		cmocka_unit_test(test_auth_find),
		cmocka_unit_test(test_auth_find_bad),
		cmocka_unit_test(test_auth_helper),
		cmocka_unit_test(test_pick_platform),
		cmocka_unit_test(test_media_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
