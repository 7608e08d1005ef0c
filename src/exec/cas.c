/*
 * Content-addressed file store (see cas.h).
 */
#include "exec/cas.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/copy.h"
#include "util/crc32.h"
#include "util/sha256.h"
#include "util/xalloc.h"

void cas_files_free(struct cas_file *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		free(a[i].path);
	free(a);
}

void cas_path(const char *root, const char *sha256, struct strbuf *out)
{
	strbuf_addf(out, "%s/%.2s/%s", root, sha256, sha256 + 2);
}

static int hash_file(const char *path, char hex[65], int64_t *size, uint32_t *crc,
		     struct strbuf *err)
{
	unsigned char buf[65536], md[SHA256_LEN];
	struct sha256 c;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	sha256_init(&c);
	*size = 0;
	*crc = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			strbuf_addf(err, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		sha256_update(&c, buf, (size_t)n);
		*crc = crc32_update(*crc, buf, (size_t)n);
		*size += n;
	}
	close(fd);
	sha256_final(&c, md);
	sha256_to_hex(md, hex);
	return 0;
}

struct put {
	const char *root;
	const char *dir;
	struct cas_file *files;
	size_t nr, alloc;
	struct strvec *skipped;
	struct strbuf *err;
	struct strbuf last_parent;
};

static int put_one(const char *rel, unsigned char type, void *data)
{
	struct put *p = data;
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT;
	struct cas_file f;
	struct stat st;
	int ret = -1;

	if (type == DT_DIR)
		return 0;
	if (type != DT_REG) {
		if (p->skipped)
			strvec_push(p->skipped, rel);
		return 0;
	}
	memset(&f, 0, sizeof(f));
	strbuf_addf(&src, "%s/%s", p->dir, rel);
	if (lstat(src.buf, &st) < 0) {
		strbuf_addf(p->err, "%s: %s", src.buf, strerror(errno));
		goto done;
	}
	if (hash_file(src.buf, f.sha256, &f.size, &f.crc32, p->err) < 0)
		goto done;
	f.mode = (st.st_mode & 0111) ? 0755 : 0644;
	cas_path(p->root, f.sha256, &dst);
	/*
	 * A blob already stored is reused, and touched by name: the server's
	 * sweep spares a blob changed in its grace period and takes one out
	 * of the way by a rename before it unlinks it, so a touch either
	 * shows or fails (ENOENT) and the file is stored anew.
	 */
	if (utimensat(AT_FDCWD, dst.buf, NULL, 0) < 0) {
		if (copy_mkparent(dst.buf, &p->last_parent, p->err) < 0)
			goto done;
		/* same content under the same name: whoever renames last wins */
		if (rename(src.buf, dst.buf) < 0) {
			struct strbuf tmp = STRBUF_INIT;

			if (errno != EXDEV) {
				strbuf_addf(p->err, "storing %s: %s", rel, strerror(errno));
				strbuf_release(&tmp);
				goto done;
			}
			strbuf_addf(&tmp, "%s.%ld.tmp", dst.buf, (long)getpid());
			if (copy_entry(src.buf, &st, tmp.buf, p->err) < 0 ||
			    rename(tmp.buf, dst.buf) < 0) {
				unlink(tmp.buf);
				strbuf_release(&tmp);
				if (!p->err->len)
					strbuf_addf(p->err, "storing %s: %s", rel, strerror(errno));
				goto done;
			}
			strbuf_release(&tmp);
		}
	}
	f.path = xstrdup(rel);
	if (p->nr == p->alloc) {
		p->alloc = p->alloc ? 2 * p->alloc : 16;
		p->files = xrealloc(p->files, p->alloc * sizeof(*p->files));
	}
	p->files[p->nr++] = f;
	ret = 0;
done:
	strbuf_release(&src);
	strbuf_release(&dst);
	return ret;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct cas_file *)a)->path, ((const struct cas_file *)b)->path);
}

int cas_put_dir(const char *root, const char *dir, struct cas_file **ret,
		size_t *ret_nr, struct strvec *skipped, struct strbuf *err)
{
	struct put p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.root = root;
	p.dir = dir;
	p.skipped = skipped;
	p.err = err;
	strbuf_init(&p.last_parent, 0);
	rc = copy_walk(dir, COPY_WALK_MISSING_OK, put_one, &p, err);
	strbuf_release(&p.last_parent);
	if (rc < 0) {
		if (!err->len)
			strbuf_addstr(err, "storing artifacts failed");
		cas_files_free(p.files, p.nr);
		return -1;
	}
	if (p.nr)
		qsort(p.files, p.nr, sizeof(*p.files), by_path);
	*ret = p.files;
	*ret_nr = p.nr;
	return 0;
}

static int safe_rel(const char *rel)
{
	const char *s = rel;

	if (!*rel || *rel == '/')
		return 0;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n;
		if (*s)
			s++;
	}
	return 1;
}

int cas_materialize(const char *root, const struct cas_file *files, size_t nr,
		    const char *dest, struct strbuf *err)
{
	struct strbuf src = STRBUF_INIT, dst = STRBUF_INIT, parent = STRBUF_INIT;
	size_t i;
	int ret = -1;

	if (copy_mkdirs(dest, err) < 0)
		goto done;
	for (i = 0; i < nr; i++) {
		struct stat st;

		if (!safe_rel(files[i].path)) {
			strbuf_addf(err, "refusing artifact path \"%s\"", files[i].path);
			goto done;
		}
		strbuf_reset(&src);
		strbuf_reset(&dst);
		cas_path(root, files[i].sha256, &src);
		strbuf_addf(&dst, "%s/%s", dest, files[i].path);
		if (copy_mkparent(dst.buf, &parent, err) < 0)
			goto done;
		unlink(dst.buf);
		if (link(src.buf, dst.buf) == 0)
			continue;
		if (lstat(src.buf, &st) < 0) {
			strbuf_addf(err, "artifact %s (%s) is missing from the store: %s",
				    files[i].path, files[i].sha256, strerror(errno));
			goto done;
		}
		if (copy_entry(src.buf, &st, dst.buf, err) < 0)
			goto done;
	}
	ret = 0;
done:
	strbuf_release(&src);
	strbuf_release(&dst);
	strbuf_release(&parent);
	return ret;
}

int cas_rmtree(const char *path, struct strbuf *err)
{
	return copy_rmtree(path, err);
}

struct sizer {
	const char *dir;
	long long total;
};

static int size_one(const char *rel, unsigned char type, void *data)
{
	struct sizer *z = data;
	struct strbuf p = STRBUF_INIT;
	struct stat st;

	if (type == DT_REG) {
		strbuf_addf(&p, "%s/%s", z->dir, rel);
		if (!lstat(p.buf, &st))
			z->total += st.st_size;
		strbuf_release(&p);
	}
	return 0;
}

int cas_tree_size(const char *dir, long long *ret, struct strbuf *err)
{
	struct sizer z = { dir, 0 };
	int rc = copy_walk(dir, COPY_WALK_MISSING_OK, size_one, &z, err);

	*ret = z.total;
	return rc;
}
