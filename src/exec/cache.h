#ifndef CIDRE_CACHE_H
#define CIDRE_CACHE_H

/*
 * Caches between runs: cache:key (string, key:files, key:prefix),
 * fallback_keys, policy, paths, untracked. Stored as directory trees in
 * cache_dir/<sanitised key>/ and restored/saved with artifacts_* helpers.
 */

#include "pipeline/model.h"
#include "util/strbuf.h"

/*
 * Compute the effective key of c for a job running in workdir: key
 * expanded with vars; key:files hashed from the files' contents (a
 * missing file counts as empty), prefixed with key:prefix; "default"
 * when no key is given. Sanitised so it is a single path component
 * (GitLab refuses keys containing "/" or "." alone: those are replaced).
 */
void cache_key(const struct cache *c, const char *workdir,
	       const struct varlist *vars, struct strbuf *out);

/*
 * Restore the cache for key (then fallback_keys, then the global
 * CACHE_FALLBACK_KEY variable) into workdir, unless the policy is push.
 * *ret_hit is set to the key restored or NULL. Returns 0 or -1.
 */
int cache_restore(const char *cache_dir, const struct cache *c,
		  const char *key, const struct varlist *vars,
		  const char *workdir, char **ret_hit, struct strbuf *err);

/*
 * Save workdir's cache:paths (and untracked files, per `tracked`) under key
 * unless the policy is pull or cache:when does not match job_ok.
 */
int cache_save(const char *cache_dir, const struct cache *c, const char *key,
	       const struct varlist *vars, const char *workdir,
	       const struct strvec *tracked, int job_ok, struct strbuf *err);

#endif
