#ifndef CIDRE_ARTIFACTS_H
#define CIDRE_ARTIFACTS_H

/*
 * Artifacts and caches as directory trees: collection by artifacts:paths
 * globs (`*`, `**`, `?`, `[..]`, directories taken whole), exclude,
 * untracked; restoring into another workspace. Paths escaping the
 * workspace (.., absolute, symlinks pointing out) are refused with a
 * warning, never followed.
 */

#include "util/strbuf.h"
#include "util/strvec.h"

struct collect_spec {
	const struct strvec *paths;     /* expanded globs, relative */
	const struct strvec *exclude;
	int untracked;                  /* add files not in `tracked` */
	const struct strvec *tracked;   /* the snapshot's file list */
};

/*
 * Copy the files of workdir selected by spec into dest (emptied first).
 * The relative paths copied are appended to files (if not NULL);
 * messages a user should see (no match for a path, refused path) are
 * appended to warnings, one per line. Returns 0, or -1 on I/O error.
 */
int artifacts_collect(const char *workdir, const struct collect_spec *spec,
		      const char *dest, struct strvec *files,
		      struct strbuf *warnings, struct strbuf *err);

/* Copy the tree at src into workdir (overwriting). A missing src is ok. */
int artifacts_restore(const char *src, const char *workdir, struct strbuf *err);

/* 1 if path (relative) matches glob pattern as artifacts:paths does. */
int glob_match_path(const char *pattern, const char *path);

#endif
