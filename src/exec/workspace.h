#ifndef CIDRE_WORKSPACE_H
#define CIDRE_WORKSPACE_H

/*
 * Workspaces: the snapshot of a working tree that jobs run on, and
 * per-job copies of it.
 */

#include "util/strbuf.h"
#include "util/strvec.h"

/*
 * List the files of the working tree at dir that a job should see:
 * tracked files present on disk plus untracked files not ignored, as
 * paths relative to dir, sorted; never anything under .git/ or .cidre/.
 * Outside a git repository, every regular file and symlink below dir.
 */
int workspace_list(const char *dir, struct strvec *files, struct strbuf *err);

/*
 * Make dest an exact copy of the listed files of src: created if
 * missing; an existing dest is brought up to date (what is not listed
 * removed, files already identical kept, the rest replaced; no symlink
 * in dest followed). Modes and symlinks kept; reflinks used where the
 * filesystem allows. 0, or -1 with err set.
 */
int workspace_populate(const char *src, const struct strvec *files,
		       const char *dest, struct strbuf *err);

#endif
