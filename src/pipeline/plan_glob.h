#ifndef CIDRE_PLAN_GLOB_H
#define CIDRE_PLAN_GLOB_H

/*
 * Private to src/pipeline: path globs of rules:changes, rules:exists and
 * only/except:changes, with the semantics GitLab gets from Ruby's
 * File.fnmatch(FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB):
 *   *, ?, [...] never cross '/'; a leading '.' is matched by wildcards;
 *   "** /" (no space) as a whole segment matches zero or more directories;
 *   a final "**" segment is the same as "*"; {a,b} alternatives.
 */

/* 1 if path matches pattern, 0 otherwise. */
int plan_glob_match(const char *pattern, const char *path);

/* 1 if s contains glob metacharacters (* ? [ {). */
int plan_glob_has_magic(const char *s);

#endif
