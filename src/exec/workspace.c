/*
 * Workspaces: list the files of a working tree (`git ls-files`), and copy
 * them into a fresh per-job directory. See workspace.h.
 */
#include "exec/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/copy.h"
#include "exec/proc.h"
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

/* copy_walk_fn: files and symlinks, minus .git anywhere and excluded(). */
static int list_add(const char *rel, unsigned char type, void *data)
{
	const char *name = strrchr(rel, '/');

	name = name ? name + 1 : rel;
	if (!strcmp(name, ".git") || excluded(rel))
		return 1;
	if (type == DT_REG || type == DT_LNK)
		strvec_push(data, rel);
	return 0;
}

/* Longest `git ls-files` output we read (bytes): ~4M paths. */
#define WORKSPACE_LIST_MAX (256 * 1024 * 1024)

static const char *const ls_files_argv[] = {
	"git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
	NULL
};

/* git's messages (C locale) for "dir is not in a working tree". */
static int not_in_work_tree(const char *msg)
{
	return strstr(msg, "not a git repository") ||
	       strstr(msg, "must be run in a work tree");
}

/*
 * ls-files' NUL-separated paths (relative to dir, only what is under it)
 * into files, minus what a job never sees, what is gone from the disk
 * (deleted but still in the index) and directories (gitlinks:
 * submodules; "x/": untracked nested repositories). Unsorted.
 */
static void add_listed(const char *dir, const struct strbuf *ls,
		       struct strvec *files)
{
	struct strbuf path = STRBUF_INIT;
	size_t pos = 0, dl;
	struct stat st;

	strbuf_addf(&path, "%s/", dir);
	dl = path.len;
	while (pos < ls->len) {
		const char *p = ls->buf + pos;
		size_t l = strlen(p);

		pos += l + 1;
		if (!l || p[l - 1] == '/' || excluded(p))
			continue;
		strbuf_setlen(&path, dl);
		strbuf_add(&path, p, l);
		if (lstat(path.buf, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
		} else if (S_ISDIR(st.st_mode)) {
			continue;
		}
		strvec_push(files, p);
	}
	strbuf_release(&path);
}

int workspace_list(const char *dir, struct strvec *files, struct strbuf *err)
{
	struct proc_capture pc;
	struct strbuf why = STRBUF_INIT;
	size_t first = files->nr, i, n;
	int ret = -1;

	proc_capture_init(&pc);
	pc.argv = ls_files_argv;
	pc.cwd = dir;
	pc.env = proc_git_env;
	pc.max_out = WORKSPACE_LIST_MAX;
	if (proc_capture_all(&pc, 1, &why) < 0 && pc.status != -1) {
		strbuf_addf(err, "git ls-files: %s", why.buf);
		goto done;
	}
	if (pc.status == 0) {
		add_listed(dir, &pc.out, files);
	} else if (pc.status == -1 || not_in_work_tree(pc.errout.buf)) {
		/* Not in a working tree (or no git to ask): walk the directory. */
		ret = copy_walk(dir, 0, list_add, files, err);
		if (ret < 0)
			goto done;
	} else {
		strbuf_rtrim(&pc.errout);
		strbuf_addf(err, "git ls-files in %s: %s", dir,
			    pc.errout.len ? pc.errout.buf : "failed");
		goto done;
	}
	qsort(files->v + first, files->nr - first, sizeof(char *), cmp_str);
	/* Unmerged paths come once per stage. */
	for (i = n = first; i < files->nr; i++) {
		if (n > first && !strcmp(files->v[i], files->v[n - 1])) {
			free(files->v[i]);
			continue;
		}
		files->v[n++] = files->v[i];
	}
	if (n != files->nr) {
		files->nr = n;
		files->v[n] = NULL;
	}
	ret = 0;
done:
	proc_capture_release(&pc);
	strbuf_release(&why);
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
