#ifndef CIDRE_GITOBJ_H
#define CIDRE_GITOBJ_H

/*
 * Reading a bare repository without a git process, for the server's hot
 * path: a ref's commit and a loose commit object's facts. Only what is
 * plain is read here — a loose ref or a packed-refs line, a loose
 * zlib-compressed object (a push of fewer than 100 objects arrives so:
 * fetch.unpackLimit) — and anything else (a packed object, a symbolic
 * ref, an encoding header, an odd ident) answers "ask git": the caller
 * then runs the git command as before. Linked into cidre-server only
 * (zlib).
 */

#include "git/gitinfo.h"

/*
 * mirror_commit's facts of rev (a sha, or refs/heads/NAME) in the bare
 * repository dir, read in-process. 0 with gi set as mirror_commit sets
 * it; 1 when git must be asked (not found here, packed, unusual).
 */
int gitobj_commit(const char *dir, const char *rev, struct gitinfo *gi);

/*
 * The loose object sha of dir: its type ("commit", "tree", "blob",
 * "tag") in type and its body in body (malloc'ed, NUL-terminated, *len
 * bytes). 0, 1 when it is not a loose object here, -1 when it is damaged
 * or larger than max bytes.
 */
int gitobj_read_loose(const char *dir, const char *sha, char type[8], char **body,
		      size_t *len, size_t max);

/*
 * Like gitobj_read_loose, and also an object stored whole in a pack (a
 * v2 .idx lookup, then its entry in the .pack); a deltified one answers
 * 1 (git is asked).
 */
int gitobj_read(const char *dir, const char *sha, char type[8], char **body, size_t *len,
		size_t max);

/*
 * Whether dir has object sha: a loose object file, or a name in one of
 * its packs' v2 indexes. 1 yes; 0 no or not known (an index this reader
 * cannot read): the caller then fetches, as it would without this.
 */
int gitobj_has(const char *dir, const char *sha);

/*
 * The git directory of url when it is a repository on this machine
 * (an absolute path or file:// URL to a bare repository or to a work
 * tree with a .git directory), malloc'ed; NULL for anything else
 * (remote URLs, a .git file): those are fetched.
 */
char *gitobj_local_gitdir(const char *url);

/* The commit refs/heads/NAME (ref) names, from a loose ref or packed-refs. 0 or 1. */
int gitobj_resolve(const char *dir, const char *ref, char ret[41]);

#endif
