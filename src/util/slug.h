#ifndef CIDRE_UTIL_SLUG_H
#define CIDRE_UTIL_SLUG_H
/*
 * GitLab's environment slug (CI_ENVIRONMENT_SLUG): the name lowercased,
 * everything but [a-z0-9] a '-', runs of '-' one, "env-" before it when
 * it does not start with a letter; at most 24 bytes and no '-' at the
 * end. When that changed the name (or was too long), the first 17 bytes,
 * a '-' and a suffix that keeps slugs of different names apart: the last
 * 6 base-36 digits of the name's SHA-256 as a number, as GitLab computes
 * them, so a review app's host name is the same under both.
 */
#include "util/strbuf.h"

void slug_environment(struct strbuf *out, const char *name);
/* The same with the name's SHA-256 given (GitLab's spec fixes it to test the rules). */
void slug_environment_digest(struct strbuf *out, const char *name,
			     const unsigned char digest[32]);

#endif
