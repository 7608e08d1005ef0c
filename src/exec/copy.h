#ifndef CIDRE_EXEC_COPY_H
#define CIDRE_EXEC_COPY_H

/*
 * Private to exec/: file-tree primitives shared by workspaces, artifacts
 * and caches. None of them follows a symlink: links are copied as links,
 * removed as links.
 */

#include <sys/stat.h>

#include "util/strbuf.h"

/* Remove path and everything below it; a missing path is ok. 0 or -1. */
int copy_rmtree(const char *path, struct strbuf *err);

/* mkdir -p (mode 0777 & ~umask). 0 or -1. */
int copy_mkdirs(const char *path, struct strbuf *err);

/*
 * Copy one entry: a regular file (content by reflink, copy_file_range,
 * sendfile, read/write — first that works; mode kept) or a symlink
 * (recreated with the same target). dst's parent must exist; an existing
 * dst is replaced. st is src's lstat. 0 or -1.
 */
int copy_entry(const char *src, const struct stat *st, const char *dst,
	       struct strbuf *err);

/* mkdir -p of the parent directory of path (cached: cheap when repeated). */
int copy_mkparent(const char *path, struct strbuf *last, struct strbuf *err);

#endif
