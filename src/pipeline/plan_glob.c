#include "pipeline/plan_glob.h"

#include <fnmatch.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/strvec.h"

/* Brace alternatives expanded per pattern, at most. */
#define GLOB_MAX_ALTERNATIVES 1024

int plan_glob_has_magic(const char *s)
{
	return strpbrk(s, "*?[{") != NULL;
}

/* Match one segment (no '/') of pattern against one of path. */
static int seg_match(const char *pat, size_t plen, const char *s, size_t slen)
{
	struct strbuf p = STRBUF_INIT, t = STRBUF_INIT;
	int rc;

	strbuf_add(&p, pat, plen);
	strbuf_add(&t, s, slen);
	rc = fnmatch(p.buf, t.buf, 0) == 0;
	strbuf_release(&p);
	strbuf_release(&t);
	return rc;
}

static int match_path(const char *pat, const char *path)
{
	const char *pe, *se;

	for (;;) {
		if (!strncmp(pat, "**/", 3)) {
			const char *slash;

			while (!strncmp(pat, "**/", 3))
				pat += 3;
			for (;;) {
				if (match_path(pat, path))
					return 1;
				slash = strchr(path, '/');
				if (!slash)
					return 0;
				path = slash + 1;
			}
		}
		pe = strchrnul(pat, '/');
		se = strchrnul(path, '/');
		if (!seg_match(pat, pe - pat, path, se - path))
			return 0;
		if (!*pe || !*se)
			return !*pe && !*se;
		pat = pe + 1;
		path = se + 1;
	}
}

/* Index of the '}' closing the '{' at s[open], with a top-level ','; or 0. */
static size_t brace_close(const char *s, size_t open, int *has_comma)
{
	size_t i;
	int depth = 0;

	*has_comma = 0;
	for (i = open; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
		} else if (s[i] == '{') {
			depth++;
		} else if (s[i] == '}') {
			if (!--depth)
				return i;
		} else if (s[i] == ',' && depth == 1) {
			*has_comma = 1;
		}
	}
	return 0;
}

static void brace_expand(const char *s, struct strvec *out)
{
	size_t i, close;
	int comma;

	if (out->nr >= GLOB_MAX_ALTERNATIVES)
		return;
	for (i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
			continue;
		}
		if (s[i] != '{')
			continue;
		close = brace_close(s, i, &comma);
		if (!close || !comma)
			continue;
		{
			size_t start = i + 1, k;
			int depth = 0;

			for (k = start; k <= close; k++) {
				if (s[k] == '\\' && s[k + 1]) {
					k++;
					continue;
				}
				if (s[k] == '{')
					depth++;
				else if (s[k] == '}' && depth)
					depth--;
				else if ((s[k] == ',' && !depth) || k == close) {
					struct strbuf alt = STRBUF_INIT;

					strbuf_add(&alt, s, i);
					strbuf_add(&alt, s + start, k - start);
					strbuf_addstr(&alt, s + close + 1);
					brace_expand(alt.buf, out);
					strbuf_release(&alt);
					start = k + 1;
				}
			}
		}
		return;
	}
	strvec_push(out, s);
}

int plan_glob_match(const char *pattern, const char *path)
{
	struct strvec alts = STRVEC_INIT;
	size_t i;
	int rc = 0;

	if (!strchr(pattern, '{'))
		return match_path(pattern, path);
	brace_expand(pattern, &alts);
	for (i = 0; i < alts.nr && !rc; i++)
		rc = match_path(alts.v[i], path);
	strvec_clear(&alts);
	return rc;
}
