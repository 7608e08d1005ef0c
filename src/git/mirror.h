#ifndef CIDRE_MIRROR_H
#define CIDRE_MIRROR_H

/*
 * The server's bare mirrors of projects' repositories (DATA/repos/NAME.git)
 * and what it reads from them: a ref's commit, a commit's facts, the files
 * a push changed, and a commit checked out into a job's workspace. All
 * through the git command line (exec/ starts the processes).
 */

#include "git/gitinfo.h"
#include "util/strbuf.h"
#include "util/strvec.h"

/*
 * Clone url (a path or URL) as a mirror into dir, which must not exist.
 * cancel_fd: NULL, or a descriptor that becomes readable to stop the
 * clone (its git and their children killed; fails with "git stopped").
 */
int mirror_create(const char *url, const char *dir, const int *cancel_fd, struct strbuf *err);
/*
 * Whether a process's command line (len bytes, NUL-separated words as
 * /proc/PID/cmdline has them) is the git mirror_create runs for dir.
 */
int mirror_create_cmdline(const char *cmdline, size_t len, const char *dir);
/* Fetch every ref of the mirror's origin, pruning deleted ones. */
int mirror_fetch(const char *dir, struct strbuf *err);
/* Whether the mirror has this commit. */
int mirror_has_commit(const char *dir, const char *sha);
/* The commit a ref ("main", "refs/heads/main", a sha) names; ret: 41 bytes. */
int mirror_resolve(const char *dir, const char *ref, char *ret, struct strbuf *err);
/*
 * Branch heads: out gets "refs/heads/NAME SHA" lines' pairs as
 * out->v[2k] = "NAME", out->v[2k+1] = sha.
 */
int mirror_branches(const char *dir, struct strvec *out, struct strbuf *err);
/* The same for the refs under prefix ("refs/tags/": tags, their object's
 * id: an annotated tag's, not its commit's). */
int mirror_refs(const char *dir, const char *prefix, struct strvec *out, struct strbuf *err);
/*
 * The facts of commit sha (any revision: a sha, refs/heads/NAME) for the
 * CI_COMMIT_* variables: gi gets sha (the full id),
 * before_sha (first parent or zeros), message, author, timestamp;
 * toplevel is set to dir, the rest NULL.
 */
int mirror_commit(const char *dir, const char *sha, struct gitinfo *gi,
		  struct strbuf *err);
/*
 * The message of tag name (without refs/tags/) for CI_COMMIT_TAG_MESSAGE:
 * an annotated tag's subject and body (its signature left out), "" for
 * a lightweight tag. NULL when there is no such tag.
 */
char *mirror_tag_message(const char *dir, const char *name);
/* The same in the repository gitdir is, or (gitdir NULL) the one cwd is in. */
char *git_tag_message(const char *gitdir, const char *cwd, const char *name);
/*
 * Files changed from before to sha (rules:changes of a push). Returns 1
 * without a list when before is all zeros or unknown (then every
 * rules:changes is true, as in GitLab for a new branch).
 */
int mirror_changed(const char *dir, const char *before, const char *sha,
		   struct strvec *out, struct strbuf *err);
/*
 * Files changed from the merge base of ref and sha to sha (GitLab's
 * rules:changes:compare_to), appended to out. 0, or -1 with err set
 * when ref names no commit (or git fails).
 */
int mirror_changed_since(const char *dir, const char *ref, const char *sha,
			 struct strvec *out, struct strbuf *err);
/*
 * The files of commit sha's tree (what a root commit adds), appended to
 * out; at most 256 MiB of names are read. 0, or -1 with err set.
 */
int mirror_tree_files(const char *dir, const char *sha, struct strvec *out,
		      struct strbuf *err);
/*
 * A repository at dest sharing the mirror's objects (alternates, as
 * `git clone --shared`), with sha checked out (detached HEAD) and branch
 * set to it when not NULL: what a job's workspace is. dest may be a tree
 * this function made before: with clean, what is not in sha is removed
 * (git clean -ffdx) and the tracked files are reset to sha, as GitLab's
 * runner does with a reused build directory; without (a tree nobody
 * writes to), nothing is done when it is at sha already. One git process
 * for a new or a cleaned tree (two for a large cleaned one), none for a
 * reused tree at sha that the last job left untouched (git/wtstat.h
 * proves it from the index's stat data).
 */
int mirror_checkout(const char *dir, const char *sha, const char *branch,
		    const char *dest, int clean, struct strbuf *err);
/*
 * The file at path (no leading '/') in commit sha, appended to out: at
 * most max bytes. 0, or -1 with err (no such file, not a file, larger).
 */
int mirror_read_file(const char *dir, const char *sha, const char *path, size_t max,
		     struct strbuf *out, struct strbuf *err);
/* The branch the mirror's HEAD names ("main" when it names none). */
char *mirror_head_branch(const char *dir);

/* 40 lowercase hex digits. */
int mirror_is_sha(const char *s);

#endif
