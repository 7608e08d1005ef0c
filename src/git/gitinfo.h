#ifndef CIDRE_GITINFO_H
#define CIDRE_GITINFO_H

/*
 * What cidre needs to know about a working tree's repository to fill in
 * GitLab's predefined CI_COMMIT_* / CI_PROJECT_* variables and to decide
 * rules:changes.
 */

#include "util/strbuf.h"
#include "util/strvec.h"

struct gitinfo {
	int is_repo;
	char *toplevel;        /* working tree root (absolute) */
	char *sha;             /* HEAD commit, or 40 zeros on an unborn branch */
	char *before_sha;      /* first parent of HEAD, or 40 zeros */
	char *branch;          /* current branch, NULL when detached */
	char *tag;             /* a tag pointing at HEAD when detached, else NULL */
	char *tag_message;     /* its message ("" lightweight), NULL: unknown */
	char *default_branch;  /* origin/HEAD, else init.defaultBranch, else main */
	char *message;         /* full commit message */
	char *author;          /* "Name <email>" */
	char *timestamp;       /* ISO 8601 commit time */
	char *remote_url;      /* origin's URL or NULL */
};

/*
 * Inspect the repository containing dir (discovered upwards). A directory
 * outside any repository is not an error: is_repo is 0 and toplevel is
 * dir itself. Returns 0, or -1 with the reason in err.
 */
int gitinfo_read(const char *dir, struct gitinfo *gi, struct strbuf *err);
void gitinfo_release(struct gitinfo *gi);

/*
 * Files that differ between the merge base of HEAD and the default branch
 * (HEAD's parent when on the default branch) and the working tree,
 * untracked files included: what rules:changes compares against in a
 * local run. Returns 0 with the list, 1 when there is nothing to compare
 * with (every rules:changes is then true, as in GitLab for new refs), -1
 * on error.
 */
int gitinfo_changed_files(const struct gitinfo *gi, struct strvec *out,
			  struct strbuf *err);
/*
 * rules:changes:compare_to in a local run: the files that differ between
 * the merge base of ref and HEAD and the working tree, untracked files
 * included, appended to out. 0, or -1 with err when ref names no commit
 * (or git fails).
 */
int gitinfo_changed_since(const struct gitinfo *gi, const char *ref, struct strvec *out,
			  struct strbuf *err);

#endif
