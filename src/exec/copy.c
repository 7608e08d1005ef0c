/*
 * File-tree primitives for exec/ (see copy.h).
 */
#include "exec/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "util/xalloc.h"

/*
 * A directory of ours that we may not read or change (a job's 000 or
 * 0555 one, Go's read-only module cache, an overlay's work/work): given
 * u+rwx, so that it can be emptied and removed. Root needs none of it.
 */
static void dir_usable(int at, const char *name)
{
	struct stat st;

	if (!fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 0700) != 0700)
		fchmodat(at, name, (st.st_mode & 07777) | 0700, 0);
}

/* Remove everything inside the directory open as dfd (closed here). */
static int rm_children(int dfd, const char *path, struct strbuf *err)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(dfd);
		strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		int isdir = de->d_type == DT_DIR;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (!fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW))
				isdir = S_ISDIR(st.st_mode);
		}
		if (isdir) {
			int sub;

			dir_usable(dirfd(d), n);
			sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				     O_CLOEXEC);

			if (sub < 0 || rm_children(sub, n, err) < 0) {
				if (sub < 0)
					strbuf_addf(err, "cannot open %s/%s: %s",
						    path, n, strerror(errno));
				ret = -1;
				break;
			}
			if (unlinkat(dirfd(d), n, AT_REMOVEDIR) < 0) {
				strbuf_addf(err, "cannot remove %s/%s: %s", path,
					    n, strerror(errno));
				ret = -1;
				break;
			}
		} else if (unlinkat(dirfd(d), n, 0) < 0 && errno != ENOENT) {
			strbuf_addf(err, "cannot remove %s/%s: %s", path, n,
				    strerror(errno));
			ret = -1;
			break;
		}
	}
	closedir(d);
	return ret;
}

int copy_rmtree(const char *path, struct strbuf *err)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0) {
			strbuf_addf(err, "cannot remove %s: %s", path,
				    strerror(errno));
			return -1;
		}
		return 0;
	}
	dir_usable(AT_FDCWD, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		strbuf_addf(err, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (rm_children(fd, path, err) < 0)
		return -1;
	if (rmdir(path) < 0) {
		strbuf_addf(err, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int copy_mkdirs(const char *path, struct strbuf *err)
{
	char *p, *s;
	struct stat st;
	int ret = 0;

	if (!*path)
		return 0;
	p = xstrdup(path);
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		{
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0777) < 0 &&
			    (errno != EEXIST || stat(p, &st) < 0 ||
			     !S_ISDIR(st.st_mode))) {
				strbuf_addf(err, "cannot create directory %s: %s",
					    p, errno == EEXIST ? "not a directory"
					    : strerror(errno));
				ret = -1;
			}
			*s = c;
			if (ret < 0 || !c)
				break;
		}
	}
	free(p);
	return ret;
}

int copy_mkparent(const char *path, struct strbuf *last, struct strbuf *err)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash)
		return 0;
	len = (size_t)(slash - path);
	if (last && last->len == len && !memcmp(last->buf, path, len))
		return 0;
	{
		char *dir = xstrndup(path, len);
		int r = copy_mkdirs(dir, err);

		free(dir);
		if (r < 0)
			return -1;
	}
	if (last) {
		strbuf_reset(last);
		strbuf_add(last, path, len);
	}
	return 0;
}

static int copy_data(int in, int out, off_t size)
{
	off_t done = 0;
	int use_cfr = 1;

	if (!ioctl(out, FICLONE, in))
		return 0;
	while (done < size) {
		ssize_t n;

		if (use_cfr) {
			n = copy_file_range(in, NULL, out, NULL, size - done, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
				      errno == EINVAL || errno == EOPNOTSUPP)) {
				use_cfr = 0;
				continue;
			}
		} else {
			n = sendfile(out, in, NULL, size - done);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* file shrank under us */
		done += n;
	}
	return 0;
}

int copy_entry(const char *src, const struct stat *st, const char *dst,
	       struct strbuf *err)
{
	int in, out, ret = 0;

	if (S_ISLNK(st->st_mode)) {
		struct strbuf target = STRBUF_INIT;
		ssize_t n;

		strbuf_grow(&target, st->st_size > 0 ? (size_t)st->st_size : 64);
		n = readlink(src, target.buf, target.alloc - 1);
		if (n < 0) {
			strbuf_addf(err, "cannot read link %s: %s", src,
				    strerror(errno));
			strbuf_release(&target);
			return -1;
		}
		strbuf_setlen(&target, (size_t)n);
		if (symlink(target.buf, dst) < 0 &&
		    (errno != EEXIST || copy_rmtree(dst, err) < 0 ||
		     symlink(target.buf, dst) < 0)) {
			strbuf_addf(err, "cannot create link %s: %s", dst,
				    strerror(errno));
			ret = -1;
		}
		strbuf_release(&target);
		return ret;
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		strbuf_addf(err, "cannot open %s: %s", src, strerror(errno));
		return -1;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		   st->st_mode & 07777);
	if (out < 0 && errno == ELOOP) {
		unlink(dst);
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			   O_CLOEXEC, st->st_mode & 07777);
	}
	if (out < 0) {
		strbuf_addf(err, "cannot create %s: %s", dst, strerror(errno));
		close(in);
		return -1;
	}
	if (copy_data(in, out, st->st_size) < 0) {
		strbuf_addf(err, "cannot copy %s: %s", src, strerror(errno));
		ret = -1;
	} else if (fchmod(out, st->st_mode & 07777) < 0) {
		strbuf_addf(err, "cannot chmod %s: %s", dst, strerror(errno));
		ret = -1;
	}
	close(in);
	close(out);
	return ret;
}

static int walk_dir(const char *root, struct strbuf *rel, unsigned flags,
		    copy_walk_fn *fn, void *data, struct strbuf *err)
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
		if (errno != ENOENT || !(flags & COPY_WALK_MISSING_OK)) {
			strbuf_addf(err, "cannot read directory %s: %s",
				    path.buf, strerror(errno));
			ret = -1;
		}
		strbuf_release(&path);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		size_t keep = rel->len;
		unsigned char type = de->d_type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
				type = S_ISDIR(st.st_mode) ? DT_DIR :
				       S_ISLNK(st.st_mode) ? DT_LNK :
				       S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type != DT_DIR && type != DT_REG && type != DT_LNK)
			type = DT_UNKNOWN;
		if (rel->len)
			strbuf_addch(rel, '/');
		strbuf_addstr(rel, de->d_name);
		ret = fn(rel->buf, type, data);
		if (ret == 0 && type == DT_DIR)
			ret = walk_dir(root, rel, flags, fn, data, err);
		else if (ret > 0)
			ret = 0;
		strbuf_setlen(rel, keep);
	}
	closedir(d);
	strbuf_release(&path);
	return ret;
}

int copy_walk(const char *root, unsigned flags, copy_walk_fn *fn, void *data,
	      struct strbuf *err)
{
	struct strbuf rel = STRBUF_INIT;
	int ret = walk_dir(root, &rel, flags, fn, data, err);

	strbuf_release(&rel);
	return ret;
}
