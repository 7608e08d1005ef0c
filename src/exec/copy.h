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

/*
 * Called by copy_walk() for each entry with its path relative to the
 * walk's root and its type: DT_DIR, DT_REG, DT_LNK, or DT_UNKNOWN for
 * anything else. Returns 0 to go on (into it, if a directory), 1 to skip
 * it (a directory is not entered), negative to stop the walk.
 */
typedef int copy_walk_fn(const char *rel, unsigned char type, void *data);

/* copy_walk() flags. */
#define COPY_WALK_MISSING_OK 0x1 /* a directory that is gone is empty */

/*
 * Walk the tree below root depth first, parents before their children,
 * in readdir() order, following no symlink; fn is called for every
 * entry but "." and "..". Returns 0, fn's negative return, or -1 with
 * err set if a directory cannot be read.
 */
int copy_walk(const char *root, unsigned flags, copy_walk_fn *fn, void *data,
	      struct strbuf *err);

#endif
