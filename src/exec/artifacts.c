/*
 * Artifacts as directory trees: glob selection, exclusion, untracked
 * files, copying out of a workspace and back into another. See
 * artifacts.h and docs/internals/exec.md.
 */
#include "exec/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/copy.h"
#include "util/xalloc.h"

/* --- globs ------------------------------------------------------------ */

/* Match a [...] class at *pp against c; advances *pp past it. -1: no class. */
static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1;
	int neg = 0, hit = 0;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	if (*p == ']') { /* a leading ] is literal */
		hit |= c == ']';
		p++;
	}
	while (*p && *p != ']') {
		char lo = *p, hi;

		if (lo == '\\' && p[1])
			lo = *++p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			if (hi == '\\' && p[3])
				hi = *(p += 1, p + 2);
			hit |= c >= lo && c <= hi;
			p += 3;
		} else {
			hit |= c == lo;
			p++;
		}
	}
	if (*p != ']')
		return -1; /* unterminated: caller treats '[' literally */
	*pp = p + 1;
	return c != '/' && (hit ^ neg);
}

static int glob_rec(const char *pat, const char *p, const char *s)
{
	while (*p) {
		if (p[0] == '*' && p[1] == '*' && (p == pat || p[-1] == '/') &&
		    (p[2] == '/' || !p[2])) {
			if (!p[2])
				return 1; /* trailing **: anything below */
			p += 3;
			for (;;) {
				if (glob_rec(pat, p, s))
					return 1;
				s = strchr(s, '/');
				if (!s)
					return 0;
				s++;
			}
		}
		switch (*p) {
		case '*':
			while (*p == '*')
				p++;
			for (;;) {
				if (glob_rec(pat, p, s))
					return 1;
				if (!*s || *s == '/')
					return 0;
				s++;
			}
		case '?':
			if (!*s || *s == '/')
				return 0;
			p++;
			s++;
			break;
		case '[': {
			const char *q = p;
			int m;

			if (!*s)
				return 0;
			m = match_class(&q, *s);
			if (m < 0)
				goto literal;
			if (!m)
				return 0;
			p = q;
			s++;
			break;
		}
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
		literal:
			if (*p != *s)
				return 0;
			p++;
			s++;
		}
	}
	return !*s;
}

int glob_match_path(const char *pattern, const char *path)
{
	while (pattern[0] == '.' && pattern[1] == '/')
		pattern += 2;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	return glob_rec(pattern, pattern, path);
}

static int has_meta(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* --- the workdir's entries --------------------------------------------- */

struct entry {
	char *path;
	unsigned char type; /* DT_REG, DT_LNK, DT_DIR */
};

struct tree {
	struct entry *e;
	size_t nr, alloc;
};

/* copy_walk_fn: every directory, file and symlink but the top-level .git. */
static int tree_add(const char *rel, unsigned char type, void *data)
{
	struct tree *t = data;

	if (!strcmp(rel, ".git"))
		return 1;
	if (type == DT_UNKNOWN)
		return 0;
	ALLOC_GROW(t->e, t->nr + 1, t->alloc);
	t->e[t->nr].path = xstrdup(rel);
	t->e[t->nr++].type = type;
	return 0;
}

static void tree_clear(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++)
		free(t->e[i].path);
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
		      ((const struct entry *)b)->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if the relative path leaves its root through ".." or is absolute. */
static int escapes(const char *p)
{
	int depth = 0;

	if (*p == '/')
		return 1;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2)) {
			if (--depth < 0)
				return 1;
		} else if (n && !(n == 1 && *p == '.')) {
			depth++;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* 1 if the symlink at rel (in workdir) points outside workdir. */
static int link_escapes(const char *workdir, const char *rel)
{
	struct strbuf path = STRBUF_INIT, target = STRBUF_INIT;
	const char *slash = strrchr(rel, '/');
	ssize_t n;
	int r = 1;

	strbuf_addf(&path, "%s/%s", workdir, rel);
	strbuf_grow(&target, 4096);
	n = readlink(path.buf, target.buf, target.alloc - 1);
	if (n >= 0) {
		strbuf_setlen(&target, (size_t)n);
		strbuf_reset(&path);
		if (slash)
			strbuf_add(&path, rel, (size_t)(slash - rel + 1));
		strbuf_addstr(&path, target.buf);
		r = target.buf[0] == '/' || escapes(path.buf);
	}
	strbuf_release(&path);
	strbuf_release(&target);
	return r;
}

static int excluded_by(const struct strvec *ex, const char *path)
{
	size_t i;

	if (!ex)
		return 0;
	for (i = 0; i < ex->nr; i++) {
		const char *pat = ex->v[i];
		char *p;

		if (glob_match_path(pat, path))
			return 1;
		/* excluding a directory excludes what is below it */
		p = xstrdup(path);
		for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
			*s = '\0';
			if (glob_match_path(pat, p)) {
				free(p);
				return 1;
			}
		}
		free(p);
	}
	return 0;
}

static char *clean_pattern(const char *s)
{
	size_t l;
	char *p;

	while (s[0] == '.' && s[1] == '/')
		s += 2;
	p = xstrdup(s);
	l = strlen(p);
	while (l > 1 && p[l - 1] == '/')
		p[--l] = '\0';
	return p;
}

int artifacts_collect(const char *workdir, const struct collect_spec *spec,
		      const char *dest, struct strvec *files,
		      struct strbuf *warnings, struct strbuf *err)
{
	struct tree t = { NULL, 0, 0 };
	struct strbuf from = STRBUF_INIT, to = STRBUF_INIT;
	struct strbuf last = STRBUF_INIT;
	struct strvec tracked = STRVEC_INIT;
	char *take;
	size_t i, j;
	int ret = -1;

	if (copy_walk(workdir, COPY_WALK_MISSING_OK, tree_add, &t, err) < 0)
		goto done;
	qsort(t.e, t.nr, sizeof(*t.e), cmp_entry);
	take = xcalloc(t.nr ? t.nr : 1, 1);

	for (i = 0; spec->paths && i < spec->paths->nr; i++) {
		char *pat = clean_pattern(spec->paths->v[i]);
		int hit = 0;

		if (!*pat || escapes(pat)) {
			strbuf_addf(warnings, "refusing path outside the workspace: %s\n",
				    spec->paths->v[i]);
			free(pat);
			continue;
		}
		if (!strcmp(pat, ".")) {
			memset(take, 1, t.nr);
			hit = t.nr > 0;
		}
		for (j = 0; j < t.nr; j++) {
			const char *p = t.e[j].path;

			if (has_meta(pat) ? !glob_match_path(pat, p) : strcmp(pat, p))
				continue;
			hit = 1;
			take[j] = 1;
			if (t.e[j].type == DT_DIR) {
				size_t l = strlen(p), k;

				/* sorted: everything below p follows it */
				for (k = j + 1; k < t.nr; k++) {
					if (strncmp(t.e[k].path, p, l) ||
					    t.e[k].path[l] != '/')
						continue;
					take[k] = 1;
				}
			}
		}
		if (!hit)
			strbuf_addf(warnings, "no matching files for path: %s\n",
				    spec->paths->v[i]);
		free(pat);
	}
	if (spec->untracked) {
		if (spec->tracked)
			strvec_copy(&tracked, spec->tracked);
		qsort(tracked.v, tracked.nr, sizeof(char *), cmp_str);
		for (j = 0; j < t.nr; j++)
			if (t.e[j].type != DT_DIR &&
			    !bsearch(&t.e[j].path, tracked.v, tracked.nr,
				     sizeof(char *), cmp_str))
				take[j] = 1;
	}
	for (j = 0; j < t.nr; j++) {
		if (!take[j])
			continue;
		if (excluded_by(spec->exclude, t.e[j].path)) {
			take[j] = 0;
		} else if (t.e[j].type == DT_LNK &&
			   link_escapes(workdir, t.e[j].path)) {
			strbuf_addf(warnings,
				    "refusing symlink pointing outside the workspace: %s\n",
				    t.e[j].path);
			take[j] = 0;
		}
	}

	if (copy_rmtree(dest, err) < 0 || copy_mkdirs(dest, err) < 0)
		goto free_take;
	for (j = 0; j < t.nr; j++) {
		struct stat st;

		if (!take[j])
			continue;
		strbuf_reset(&from);
		strbuf_addf(&from, "%s/%s", workdir, t.e[j].path);
		strbuf_reset(&to);
		strbuf_addf(&to, "%s/%s", dest, t.e[j].path);
		if (lstat(from.buf, &st) < 0)
			continue;
		if (copy_mkparent(to.buf, &last, err) < 0)
			goto free_take;
		if (S_ISDIR(st.st_mode)) {
			if (copy_mkdirs(to.buf, err) < 0)
				goto free_take;
			continue;
		}
		if (copy_entry(from.buf, &st, to.buf, err) < 0)
			goto free_take;
		if (files)
			strvec_push(files, t.e[j].path);
	}
	ret = 0;
free_take:
	free(take);
done:
	tree_clear(&t);
	strvec_clear(&tracked);
	strbuf_release(&from);
	strbuf_release(&to);
	strbuf_release(&last);
	return ret;
}

/*
 * Copy directory src into directory dst, entry by entry, never following a
 * symlink in dst: a link or file where a directory must go is replaced.
 */
static int restore_dir(struct strbuf *src, struct strbuf *dst,
		       struct strbuf *err)
{
	struct dirent *de;
	DIR *d = opendir(src->buf);
	size_t sl = src->len, dl = dst->len;
	int ret = 0;

	if (!d) {
		strbuf_addf(err, "cannot read directory %s: %s", src->buf,
			    strerror(errno));
		return -1;
	}
	while (!ret && (de = readdir(d))) {
		struct stat st, dst_st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		strbuf_addf(src, "/%s", de->d_name);
		strbuf_addf(dst, "/%s", de->d_name);
		if (lstat(src->buf, &st) < 0) {
			strbuf_addf(err, "cannot stat %s: %s", src->buf,
				    strerror(errno));
			ret = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (!lstat(dst->buf, &dst_st) && !S_ISDIR(dst_st.st_mode) &&
			    unlink(dst->buf) < 0) {
				strbuf_addf(err, "cannot remove %s: %s",
					    dst->buf, strerror(errno));
				ret = -1;
			} else if (mkdir(dst->buf, st.st_mode & 07777) < 0 &&
				   errno != EEXIST) {
				strbuf_addf(err, "cannot create directory %s: %s",
					    dst->buf, strerror(errno));
				ret = -1;
			} else {
				ret = restore_dir(src, dst, err);
			}
		} else {
			if (!lstat(dst->buf, &dst_st) && S_ISDIR(dst_st.st_mode))
				ret = copy_rmtree(dst->buf, err);
			if (!ret)
				ret = copy_entry(src->buf, &st, dst->buf, err);
		}
		strbuf_setlen(src, sl);
		strbuf_setlen(dst, dl);
	}
	closedir(d);
	return ret;
}

int artifacts_restore(const char *src, const char *workdir, struct strbuf *err)
{
	struct strbuf s = STRBUF_INIT, d = STRBUF_INIT;
	struct stat st;
	int ret;

	if (lstat(src, &st) < 0 && errno == ENOENT)
		return 0;
	if (copy_mkdirs(workdir, err) < 0)
		return -1;
	strbuf_addstr(&s, src);
	strbuf_addstr(&d, workdir);
	ret = restore_dir(&s, &d, err);
	strbuf_release(&s);
	strbuf_release(&d);
	return ret;
}
