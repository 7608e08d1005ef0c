/*
 * libFuzzer target: what a pull reads from a registry and a Docker config
 * (exec/registry.c). The first byte picks what the rest is:
 *
 *   0  an image reference: reg_ref_parse. An accepted one has a host and
 *      a repository, no "/" in the host, a lower-case repository that
 *      neither starts nor ends with "/" (with a "/" on docker.io), a tag
 *      or a digest or both, the digest reg_digest_ok's and the one after
 *      the name's "@".
 *   1  a WWW-Authenticate value: reg_challenge_parse. A parsed one has a
 *      non-empty lower-case scheme; a refused one leaves nothing.
 *   2  "HOST\0CONFIG": reg_auth_find. 1 gives a user and a secret, 0 and
 *      -1 neither, -1 a reason.
 *   3  "ARCH\0VARIANT\0INDEX" (an empty VARIANT is none), the index read
 *      as JSON: reg_pick_platform. What it picks is one of the index's
 *      "manifests", a manifest for linux/ARCH (and VARIANT when both
 *      name one); when it picks none, it says why.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/image.h"
#include "exec/registry.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated field of buf[0..size], or its end. */
static const char *next(const char *s, const char *end)
{
	s += strlen(s) + 1;
	return s > end ? end : s;
}

static void ref(const char *name)
{
	struct strbuf err = STRBUF_INIT;
	struct reg_ref r;
	const char *at = strchr(name, '@');
	size_t i, l;

	if (reg_ref_parse(name, &r, &err) < 0) {
		if (!err.len || r.host || r.repo || r.tag || r.digest)
			__builtin_trap();
		strbuf_release(&err);
		return;
	}
	if (err.len || !image_name_ok(name) || !r.host || !*r.host ||
	    strchr(r.host, '/') || !r.repo || !*r.repo || (!r.tag && !r.digest))
		__builtin_trap();
	for (i = 0; r.repo[i]; i++)
		if (isupper((unsigned char)r.repo[i]))
			__builtin_trap();
	l = strlen(r.repo);
	if (r.repo[0] == '/' || r.repo[l - 1] == '/' || strstr(r.repo, "//") ||
	    strchr(r.repo, ':') || strchr(r.repo, '@'))
		__builtin_trap();
	if (!strcmp(r.host, "docker.io") && !strchr(r.repo, '/'))
		__builtin_trap();
	if (r.tag && (!*r.tag || strchr(r.tag, ':') || strchr(r.tag, '/') ||
		      strchr(r.tag, '@')))
		__builtin_trap();
	if (r.digest && (!reg_digest_ok(r.digest) || !at || strcmp(r.digest, at + 1)))
		__builtin_trap();
	if (at && !r.digest)
		__builtin_trap();
	reg_ref_release(&r);
	if (r.host || r.repo || r.tag || r.digest)
		__builtin_trap();
	strbuf_release(&err);
}

static void challenge(const char *hdr)
{
	struct reg_challenge c;
	size_t i;

	if (reg_challenge_parse(hdr, &c) < 0) {
		if (c.scheme || c.realm || c.service || c.scope)
			__builtin_trap();
		return;
	}
	if (!c.scheme || !*c.scheme)
		__builtin_trap();
	for (i = 0; c.scheme[i]; i++)
		if (isupper((unsigned char)c.scheme[i]))
			__builtin_trap();
	reg_challenge_release(&c);
}

static void auth(const char *host, const char *text, size_t len)
{
	struct strbuf err = STRBUF_INIT;
	char *user = NULL, *secret = NULL;
	int r = reg_auth_find(text, len, host, &user, &secret, &err);

	if (r == 1 ? !user || !secret :
	    r == 0 ? user || secret :
	    r == -1 ? user || secret || !err.len : 1)
		__builtin_trap();
	free(user);
	free(secret);
	/* the helper a config names, and a helper's answer, on the same text */
	{
		char *helper = NULL;
		size_t i;

		strbuf_reset(&err);
		r = reg_auth_helper(text, len, host, &helper, &err);
		if (r == 1) {
			if (!helper || !*helper || helper[0] == '.' || helper[0] == '-')
				__builtin_trap();
			for (i = 0; helper[i]; i++)
				if (!isalnum((unsigned char)helper[i]) &&
				    !strchr("._-", helper[i]))
					__builtin_trap();
		} else if (helper || (r == -1 && !err.len) || (r != 0 && r != -1)) {
			__builtin_trap();
		}
		free(helper);
		strbuf_reset(&err);
		user = secret = NULL;
		r = reg_helper_answer(text, len, &user, &secret, &err);
		/* an identity token is an answer too (user "<token>") */
		if (r == 1 ? !user || !secret :
		    r == -1 ? user || secret || !err.len : 1)
			__builtin_trap();
		free(user);
		free(secret);
	}
	strbuf_release(&err);
}

static void platform(const char *arch, const char *variant, const char *text,
		     size_t len)
{
	struct strbuf err = STRBUF_INIT;
	json_t *index = json_loadb(text, len, 0, NULL), *pick, *ms, *d, *p;
	const char *v;
	size_t i;
	int found = 0;

	if (!*variant)
		variant = NULL;
	pick = reg_pick_platform(index, arch, variant, &err);
	if (!pick) {
		if (!err.len)
			__builtin_trap();
		goto done;
	}
	ms = json_object_get(index, "manifests");
	json_array_foreach(ms, i, d)
		if (d == pick)
			found = 1;
	p = json_object_get(pick, "platform");
	v = json_string_value(json_object_get(p, "variant"));
	if (!found || err.len ||
	    strcmp(json_string_value(json_object_get(p, "os")) ?: "", "linux") ||
	    strcmp(json_string_value(json_object_get(p, "architecture")) ?: "",
		   arch) ||
	    !reg_is_manifest(json_string_value(json_object_get(pick, "mediaType"))) ||
	    (variant && v && strcmp(variant, v)))
		__builtin_trap();
done:
	json_decref(index);
	strbuf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *end, *second, *third;
	char *buf;

	if (!size)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	buf[size] = '\0';
	end = buf + size - 1;
	switch (data[0] % 4) {
	case 0:
		ref(buf);
		break;
	case 1:
		challenge(buf);
		break;
	case 2:
		second = next(buf, end);
		auth(buf, second, (size_t)(end - second));
		break;
	default:
		second = next(buf, end);
		third = next(second, end);
		platform(buf, second, third, (size_t)(end - third));
	}
	free(buf);
	return 0;
}
