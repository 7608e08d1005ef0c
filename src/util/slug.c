/*
 * GitLab's environment slug (slug.h). Bytes outside ASCII are not
 * letters for it either: each becomes a '-', and the run one '-'.
 */
#include <string.h>

#include "util/sha256.h"
#include "util/slug.h"

#define SLUG_MAX 24
#define SLUG_KEEP 17            /* bytes kept before the suffix */

/* The last 6 base-36 digits of the 256-bit big-endian number d. */
static void suffix(const unsigned char d[SHA256_LEN], char out[7])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	const uint64_t m = 36ULL * 36 * 36 * 36 * 36 * 36;
	uint64_t r = 0;
	int i;

	for (i = 0; i < SHA256_LEN; i++)
		r = (r * 256 + d[i]) % m;
	for (i = 5; i >= 0; i--) {
		out[i] = digits[r % 36];
		r /= 36;
	}
	out[6] = '\0';
}

void slug_environment_digest(struct strbuf *out, const char *name,
			     const unsigned char digest[32])
{
	struct strbuf s = STRBUF_INIT;
	const char *p;
	char sfx[7];
	unsigned char first = (unsigned char)name[0];

	/* it must start with a letter: "env-" first (what follows is squeezed) */
	if (first >= 'A' && first <= 'Z')
		first = (unsigned char)(first - 'A' + 'a');
	if (!(first >= 'a' && first <= 'z'))
		strbuf_addstr(&s, "env-");
	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		/* runs of '-' are one */
		if (c != '-' || !s.len || s.buf[s.len - 1] != '-')
			strbuf_addch(&s, (char)c);
	}
	if (s.len > SLUG_MAX || strcmp(s.buf, name)) {
		if (s.len > SLUG_KEEP)
			strbuf_setlen(&s, SLUG_KEEP);
		if (s.buf[s.len - 1] != '-')
			strbuf_addch(&s, '-');
		suffix(digest, sfx);
		strbuf_addstr(&s, sfx);
	} else {
		while (s.len && s.buf[s.len - 1] == '-')
			strbuf_setlen(&s, s.len - 1);
	}
	strbuf_add(out, s.buf, s.len);
	strbuf_release(&s);
}

void slug_environment(struct strbuf *out, const char *name)
{
	struct sha256 c;
	unsigned char md[SHA256_LEN];

	sha256_init(&c);
	sha256_update(&c, name, strlen(name));
	sha256_final(&c, md);
	slug_environment_digest(out, name, md);
}
