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

/* The listed paths, sorted, for lookups while pruning (not owned). */
struct wanted {
	const char **v;
	size_t nr;
};

/* Index of the first listed path >= key (strcmp order). */
static size_t wanted_lower(const struct wanted *w, const char *key)
{
	size_t lo = 0, hi = w->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(w->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

enum need { NEED_NONE, NEED_ENTRY, NEED_DIR };

/* What the listed paths need at rel: the entry itself, a directory, nothing. */
static enum need wanted_at(const struct wanted *w, const char *rel)
{
	size_t len = strlen(rel), i = wanted_lower(w, rel);

	if (i < w->nr && !strcmp(w->v[i], rel))
		return NEED_ENTRY;
	/* "rel/..." sorts right after "rel" and the names between. */
	for (; i < w->nr && !strncmp(w->v[i], rel, len); i++)
		if (w->v[i][len] == '/')
			return NEED_DIR;
		else if (w->v[i][len] > '/')
			break;
	return NEED_NONE;
}

struct prune {
	const struct wanted *w;
	struct strbuf path;     /* dest/ + rel */
	size_t base;            /* length of "dest/" */
	struct strbuf *err;
};

/*
 * copy_walk_fn over an old workspace: keep the directories the listed
 * paths need (entering them) and the files and links they name (their
 * content is checked afterwards); remove everything else, so no link or
 * file of an earlier job can stand where a directory is needed.
 */
static int prune_entry(const char *rel, unsigned char type, void *data)
{
	struct prune *pr = data;
	enum need need = wanted_at(pr->w, rel);

	if (type == DT_DIR && need == NEED_DIR)
		return 0;
	if ((type == DT_REG || type == DT_LNK) && need == NEED_ENTRY)
		return 1;
	strbuf_setlen(&pr->path, pr->base);
	strbuf_addstr(&pr->path, rel);
	return copy_rmtree(pr->path.buf, pr->err) < 0 ? -1 : 1;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Make an existing workspace hold only what the listed paths need (see
 * prune_entry). Returns 0, or -1 (the caller then starts afresh).
 */
static int prune_old(const char *dest, const struct strvec *files,
		     struct strbuf *err)
{
	struct wanted w;
	struct prune pr;
	int ret;

	w.nr = files->nr;
	w.v = xcalloc(w.nr ? w.nr : 1, sizeof(*w.v));
	memcpy(w.v, files->v, w.nr * sizeof(*w.v));
	qsort(w.v, w.nr, sizeof(*w.v), cmp_cstr);
	pr.w = &w;
	strbuf_init(&pr.path, 0);
	strbuf_addf(&pr.path, "%s/", dest);
	pr.base = pr.path.len;
	pr.err = err;
	ret = copy_walk(dest, 0, prune_entry, &pr, err);
	strbuf_release(&pr.path);
	free(w.v);
	return ret < 0 ? -1 : 0;
}

/* 1 when the open files a and b have the same size bytes of content. */
static int same_content(int a, int b, off_t size)
{
	char x[16384], y[16384];
	off_t off = 0;

	while (off < size) {
		size_t want = size - off < (off_t)sizeof(x) ? (size_t)(size - off)
							    : sizeof(x);
		ssize_t n = pread(a, x, want, off);

		if (n <= 0 || pread(b, y, (size_t)n, off) != n ||
		    memcmp(x, y, (size_t)n))
			return 0;
		off += n;
	}
	return 1;
}

/*
 * 1 when the old workspace entry dst (its lstat in dst_st) already is an
 * exact copy of src (lstat st): a regular file with the same mode and
 * content and no other link to it, or a symlink with the same target.
 */
static int up_to_date(const char *src, const struct stat *st, const char *dst,
		      const struct stat *dst_st)
{
	if (S_ISREG(st->st_mode) && S_ISREG(dst_st->st_mode)) {
		int a, b, same;

		if (dst_st->st_size != st->st_size || dst_st->st_nlink != 1 ||
		    (dst_st->st_mode & 07777) != (st->st_mode & 07777))
			return 0;
		a = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (a < 0)
			return 0;
		b = open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		same = b >= 0 && same_content(a, b, st->st_size);
		close(a);
		if (b >= 0)
			close(b);
		return same;
	}
	if (S_ISLNK(st->st_mode) && S_ISLNK(dst_st->st_mode) &&
	    st->st_size == dst_st->st_size && st->st_size < PATH_MAX) {
		char t1[PATH_MAX], t2[PATH_MAX];
		ssize_t n1 = readlink(src, t1, sizeof(t1));
		ssize_t n2 = readlink(dst, t2, sizeof(t2));

		return n1 >= 0 && n1 == n2 && !memcmp(t1, t2, (size_t)n1);
	}
	return 0;
}

int workspace_populate(const char *src, const struct strvec *files,
		       const char *dest, struct strbuf *err)
{
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT, last = STRBUF_INIT;
	size_t i, fl, tl;
	struct stat dst_st;
	int ret = -1, reuse = 0;

	if (!lstat(dest, &dst_st) && S_ISDIR(dst_st.st_mode)) {
		struct strbuf why = STRBUF_INIT;

		reuse = !prune_old(dest, files, &why);
		strbuf_release(&why);
	}
	if (!reuse &&
	    (copy_rmtree(dest, err) < 0 || copy_mkdirs(dest, err) < 0))
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
		if (reuse && !lstat(to.buf, &dst_st)) {
			if (up_to_date(from.buf, &st, to.buf, &dst_st))
				continue;
			/* never write through a link the last job made */
			if ((S_ISDIR(dst_st.st_mode) || dst_st.st_nlink > 1) &&
			    copy_rmtree(to.buf, err) < 0)
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
