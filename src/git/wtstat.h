#ifndef CIDRE_WTSTAT_H
#define CIDRE_WTSTAT_H

/*
 * Whether a reused workspace is still exactly the commit the last
 * checkout wrote, told without running git: the stat check git itself
 * does (`git status`), in-process, so that a job whose predecessor left
 * the tree untouched needs no `git read-tree` at all.
 *
 * After a checkout of sha, wtstat_mark records in DEST/.git/cidre-checkout
 * the sha and a digest of the index's entries (mode, blob id, path; not
 * their stat data). Later, wtstat_clean(dest, sha) is 1 only when all of
 * this holds:
 *   - HEAD is sha and the marker names sha and the digest of the index's
 *     entries (so the index lists the tree read-tree wrote for sha: a job
 *     that ran `git add`, `git rm` or `git checkout` changed it; one that
 *     ran `git status`, which rewrites the stat data only, did not);
 *   - the index is version 2 or 3, sorted, stage 0, no assume-valid,
 *     skip-worktree or intent-to-add entry, only regular files and
 *     symbolic links, no extension git requires a reader to understand;
 *   - every entry's file has the entry's type, executable bit, size,
 *     inode, owner, ctime and mtime (nanoseconds included); an entry
 *     whose ctime or mtime is not older than the index itself ("racily
 *     clean": changed in the same instant the index was written) is
 *     hashed and compared with its blob id instead;
 *   - nothing else is in the tree but .git: no untracked or ignored file,
 *     no empty or untracked directory, no special file.
 * Anything it cannot read or does not expect makes it 0: the caller then
 * resets the tree with git as before. Limits: an index of 64 MiB, 1 Mi
 * entries, 256 directory levels, 16 MiB of racy files hashed.
 */

/* 1: clean at sha; 0: not, or not provably. */
int wtstat_clean(const char *dest, const char *sha);
/* Record the index a checkout of sha just wrote. 0, or -1 (no marker). */
int wtstat_mark(const char *dest, const char *sha);
/* Forget the marker (before the tree is changed). */
void wtstat_unmark(const char *dest);

#endif
