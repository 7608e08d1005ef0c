/*
 * Workspaces: list the files of a working tree (libgit2 index + status),
 * and copy them into a fresh per-job directory. See workspace.h.
 */
#include "exec/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/copy.h"
#include "util/xalloc.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Paths a job never sees: git's own data and cidre's local state. */
static int excluded(const char *path)
{
	return !strncmp(path, ".git/", 5) || !strcmp(path, ".git") ||
	       !strncmp(path, ".cidre/", 7) || !strcmp(path, ".cidre");
}

static int walk(const char *root, struct strbuf *rel, struct strvec *files,
		struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	strbuf_addstr(&path, root);
	if (rel->len) {
		strbuf_addch(&path, '/');
		strbuf_add(&path, rel->buf, rel->len);
	}
	d = opendir(path.buf);
	if (!d) {
		strbuf_addf(err, "cannot read directory %s: %s", path.buf,
			    strerror(errno));
		strbuf_release(&path);
		return -1;
	}
	while (!ret && (de = readdir(d))) {
		size_t keep = rel->len;
		unsigned char type = de->d_type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".git"))
			continue;
		if (rel->len)
			strbuf_addch(rel, '/');
		strbuf_addstr(rel, de->d_name);
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
				type = S_ISDIR(st.st_mode) ? DT_DIR :
				       S_ISLNK(st.st_mode) ? DT_LNK :
				       S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (!excluded(rel->buf)) {
			if (type == DT_DIR)
				ret = walk(root, rel, files, err);
			else if (type == DT_REG || type == DT_LNK)
				strvec_push(files, rel->buf);
		}
		strbuf_setlen(rel, keep);
	}
	closedir(d);
	strbuf_release(&path);
	return ret;
}

static void git_err(struct strbuf *err, const char *what)
{
	const git_error *e = git_error_last();

	strbuf_addf(err, "%s: %s", what, e && e->message ? e->message : "unknown error");
}

/*
 * "sub/dir/" when dir is sub/dir of the repository's work tree, "" at the
 * root; NULL if it cannot be told.
 */
static char *repo_prefix(git_repository *repo, const char *dir)
{
	const char *wd = git_repository_workdir(repo);
	char *rwd, *rdir, *res = NULL;
	size_t l;

	if (!wd)
		return NULL;
	rwd = realpath(wd, NULL);
	rdir = realpath(dir, NULL);
	if (rwd && rdir) {
		l = strlen(rwd);
		if (!strcmp(rwd, rdir))
			res = xstrdup("");
		else if (!strncmp(rwd, rdir, l) && rdir[l] == '/')
			res = xasprintf("%s/", rdir + l + 1);
	}
	free(rwd);
	free(rdir);
	return res;
}

static int list_git(git_repository *repo, const char *prefix,
		    struct strvec *files, struct strbuf *err)
{
	git_status_options opts;
	git_status_list *st = NULL;
	git_index *idx = NULL;
	struct strvec deleted = STRVEC_INIT, out = STRVEC_INIT;
	size_t plen = strlen(prefix), i, n;
	const char *last = NULL;
	int ret = -1;

	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
	opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		     GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		     GIT_STATUS_OPT_EXCLUDE_SUBMODULES |
		     GIT_STATUS_OPT_SORT_CASE_SENSITIVELY;
	if (git_repository_index(&idx, repo) < 0) {
		git_err(err, "cannot read the git index");
		goto done;
	}
	if (git_status_list_new(&st, repo, &opts) < 0) {
		git_err(err, "cannot read git status");
		goto done;
	}
	n = git_status_list_entrycount(st);
	for (i = 0; i < n; i++) {
		const git_status_entry *e = git_status_byindex(st, i);
		const git_diff_delta *d = e->index_to_workdir;

		if (!d)
			continue;
		if (e->status & GIT_STATUS_WT_DELETED)
			strvec_push(&deleted, d->old_file.path);
		else if (e->status & GIT_STATUS_WT_NEW) {
			const char *p = d->new_file.path;
			size_t l = strlen(p);

			/* An untracked nested repository shows as "dir/". */
			if (l && p[l - 1] != '/')
				strvec_push(&out, p);
		}
	}
	qsort(deleted.v, deleted.nr, sizeof(char *), cmp_str);

	n = git_index_entrycount(idx);
	for (i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(idx, i);

		if (!e || e->mode == GIT_FILEMODE_COMMIT)
			continue; /* submodules are not part of the snapshot */
		if (last && !strcmp(last, e->path))
			continue; /* conflict stages */
		last = e->path;
		if (deleted.nr && bsearch(&e->path, deleted.v, deleted.nr,
					  sizeof(char *), cmp_str))
			continue;
		strvec_push(&out, e->path);
	}
	for (i = 0; i < out.nr; i++) {
		const char *p = out.v[i];

		if (strncmp(p, prefix, plen))
			continue;
		p += plen;
		if (*p && !excluded(p))
			strvec_push(files, p);
	}
	ret = 0;
done:
	git_status_list_free(st);
	git_index_free(idx);
	strvec_clear(&deleted);
	strvec_clear(&out);
	return ret;
}

int workspace_list(const char *dir, struct strvec *files, struct strbuf *err)
{
	git_repository *repo = NULL;
	size_t first = files->nr;
	int ret, r;

	exec_libgit2_init();
	r = git_repository_open_ext(&repo, dir, 0, NULL);
	if (r == 0 && !git_repository_is_bare(repo)) {
		char *prefix = repo_prefix(repo, dir);

		if (prefix) {
			ret = list_git(repo, prefix, files, err);
			free(prefix);
			goto sorted;
		}
	} else if (r < 0 && r != GIT_ENOTFOUND) {
		git_err(err, "cannot open git repository");
		ret = -1;
		goto out;
	}
	{
		struct strbuf rel = STRBUF_INIT;

		ret = walk(dir, &rel, files, err);
		strbuf_release(&rel);
	}
sorted:
	if (!ret)
		qsort(files->v + first, files->nr - first, sizeof(char *),
		      cmp_str);
out:
	git_repository_free(repo);
	return ret;
}

int workspace_populate(const char *src, const struct strvec *files,
		       const char *dest, struct strbuf *err)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT, last = STRBUF_INIT;
	size_t i, fl, tl;
	int ret = -1;

	if (copy_rmtree(dest, err) < 0 || copy_mkdirs(dest, err) < 0)
		return -1;
	strbuf_addf(&from, "%s/", src);
	strbuf_addf(&to, "%s/", dest);
	fl = from.len;
	tl = to.len;
	for (i = 0; i < files->nr; i++) {
		const char *f = files->v[i];
		struct stat st;

		if (f[0] == '/' || !strncmp(f, "../", 3) || strstr(f, "/../")) {
			strbuf_addf(err, "refusing path outside the workspace: %s", f);
			goto done;
		}
		strbuf_setlen(&from, fl);
		strbuf_addstr(&from, f);
		strbuf_setlen(&to, tl);
		strbuf_addstr(&to, f);
		if (lstat(from.buf, &st) < 0) {
			if (errno == ENOENT)
				continue; /* removed since it was listed */
			strbuf_addf(err, "cannot stat %s: %s", from.buf,
				    strerror(errno));
			goto done;
		}
		if (copy_mkparent(to.buf, &last, err) < 0)
			goto done;
		if (S_ISDIR(st.st_mode)) {
			if (copy_mkdirs(to.buf, err) < 0)
				goto done;
			continue;
		}
		if (copy_entry(from.buf, &st, to.buf, err) < 0)
			goto done;
	}
	ret = 0;
done:
	strbuf_release(&from);
	strbuf_release(&to);
	strbuf_release(&last);
	return ret;
}
