#ifndef CIDRE_CAS_H
#define CIDRE_CAS_H

/*
 * Content-addressed files (the server's DATA/artifacts): each file is
 * stored once as ROOT/ab/cdef... by the SHA-256 of its content,
 * read-only, and shared by every job that produced the same bytes.
 */

#include <stdint.h>

#include "util/strbuf.h"
#include "util/strvec.h"

struct cas_file {
	char *path;          /* relative path in the job's tree */
	int64_t size;
	char sha256[65];
	int mode;            /* 0644 or 0755 */
	uint32_t crc32;      /* CRC-32 of its bytes (an archive's headers want it) */
};

void cas_files_free(struct cas_file *a, size_t nr);

/* ROOT/ab/cdef... of a content hash. */
void cas_path(const char *root, const char *sha256, struct strbuf *out);

/*
 * Store every regular file below dir (symlinks and special files are
 * skipped, their paths in skipped when not NULL) and list them, sorted
 * by path. Files are moved (renamed) into the store when on the same
 * file system, else copied; a blob already there is touched (its mtime
 * and ctime set to now: the server's sweep spares recent blobs) or, when
 * it vanished meanwhile, stored again. dir is left to the caller to remove.
 * Returns 0, or -1 with err.
 */
int cas_put_dir(const char *root, const char *dir, struct cas_file **ret,
		size_t *ret_nr, struct strvec *skipped, struct strbuf *err);

/*
 * Recreate files under dest (created as needed) as hard links to the
 * store, or copies where links cannot be made. Paths with ".." or a
 * leading '/' are refused. Returns 0, or -1 with err.
 */
int cas_materialize(const char *root, const struct cas_file *files, size_t nr,
		    const char *dest, struct strbuf *err);

/* *ret = bytes of the regular files below dir (0 if it is missing). */
int cas_tree_size(const char *dir, long long *ret, struct strbuf *err);

/* Remove path and everything below it (rm -rf; a missing path is fine). */
int cas_rmtree(const char *path, struct strbuf *err);

#endif
