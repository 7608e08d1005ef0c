/*
 * The stat check of a reused workspace against its git index (see
 * wtstat.h). The index format is git's Documentation/gitformat-index.txt:
 * a 12-byte header ("DIRC", version, entry count), the entries sorted by
 * path, extensions, and a SHA-1 of all that.
 */
#include "git/wtstat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sha1.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define WTSTAT_INDEX_MAX (64u << 20)
#define WTSTAT_ENTRIES_MAX (1u << 20)
#define WTSTAT_DEPTH_MAX 256
#define WTSTAT_HASH_MAX (16u << 20)
#define MARKER ".git/cidre-checkout"

/* The fixed part of an on-disk entry: 10 stat words, the id, the flags. */
#define ENTRY_FIXED 62

struct entry {
	const unsigned char *raw;  /* the on-disk entry */
	const char *path;
	size_t len;
};

struct check {
	struct strbuf abs;         /* dest, then "/" and a relative path */
	size_t root_len;
	struct entry *e;
	size_t nr;
	struct timespec index_mtime;
	size_t files;              /* non-directories met by the walk */
	size_t hashed;             /* bytes of racy files hashed */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int pathcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* The first entry not before path (nr when none). */
static size_t lower_bound(const struct check *c, const char *path, size_t len)
{
	size_t lo = 0, hi = c->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pathcmp(c->e[mid].path, c->e[mid].len, path, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Parse the entries of the index in buf. 0, or -1 for anything unexpected. */
static int parse_index(const unsigned char *buf, size_t size, struct check *c)
{
	size_t pos = 12, i, n, end;
	uint32_t version;

	if (size < 12 + SHA1_LEN || memcmp(buf, "DIRC", 4))
		return -1;
	version = be32(buf + 4);
	n = be32(buf + 8);
	if ((version != 2 && version != 3) || n > WTSTAT_ENTRIES_MAX ||
	    n > (size - 12 - SHA1_LEN) / ENTRY_FIXED)
		return -1;
	end = size - SHA1_LEN;
	c->e = n ? xcalloc(n, sizeof(*c->e)) : NULL;
	for (i = 0; i < n; i++) {
		const unsigned char *raw = buf + pos;
		size_t fixed = ENTRY_FIXED, namelen, total;
		unsigned flags;

		if (end - pos < ENTRY_FIXED + 1)
			return -1;
		flags = (unsigned)raw[60] << 8 | raw[61];
		/* assume-valid, or a merge stage: git's own answer may differ */
		if (flags & 0x8000 || flags & 0x3000)
			return -1;
		if (flags & 0x4000) {
			if (version < 3 || end - pos < ENTRY_FIXED + 3)
				return -1;
			/* skip-worktree, intent-to-add, or a future flag */
			if (raw[62] || raw[63])
				return -1;
			fixed += 2;
		}
		namelen = flags & 0xfff;
		if (namelen == 0xfff)
			namelen = strnlen((const char *)raw + fixed, end - pos - fixed);
		total = (fixed + namelen + 8) & ~(size_t)7;
		if (!namelen || total > end - pos || raw[fixed + namelen] != '\0' ||
		    memchr(raw + fixed, '\0', namelen))
			return -1;
		c->e[i].raw = raw;
		c->e[i].path = (const char *)raw + fixed;
		c->e[i].len = namelen;
		if (i && pathcmp(c->e[i - 1].path, c->e[i - 1].len, c->e[i].path, namelen) >= 0)
			return -1;
		pos += total;
	}
	c->nr = n;
	/* extensions: an optional one (upper-case first letter) is skipped */
	while (pos < end) {
		uint32_t len;

		if (end - pos < 8 || buf[pos] < 'A' || buf[pos] > 'Z')
			return -1;
		len = be32(buf + pos + 4);
		if (len > end - pos - 8)
			return -1;
		pos += 8 + len;
	}
	return 0;
}

/* a >= b */
static int not_older(uint32_t sec, uint32_t nsec, const struct timespec *b)
{
	uint32_t bs = (uint32_t)b->tv_sec, bn = (uint32_t)b->tv_nsec;

	return sec > bs || (sec == bs && nsec >= bn);
}

/* Whether the file (st, at c->abs) holds the blob id of entry e. */
static int same_blob(struct check *c, const struct entry *e, const struct stat *st)
{
	unsigned char md[SHA1_LEN];
	char head[32];
	struct sha1 h;
	char *data;
	size_t size = (size_t)st->st_size, got = 0;
	int ok = 0, fd = -1;

	if (st->st_size < 0 || size > WTSTAT_HASH_MAX - c->hashed)
		return 0;
	c->hashed += size;
	data = xmalloc(size + 1);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(c->abs.buf, data, size + 1);

		if (n < 0 || (size_t)n != size)
			goto done;
		got = size;
	} else {
		fd = open(c->abs.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			goto done;
		while (got < size) {
			ssize_t n = read(fd, data + got, size - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto done;
			got += (size_t)n;
		}
	}
	sha1_init(&h);
	sha1_update(&h, head, (size_t)snprintf(head, sizeof(head), "blob %zu", size) + 1);
	sha1_update(&h, data, size);
	sha1_final(&h, md);
	ok = !memcmp(md, e->raw + 40, SHA1_LEN);
done:
	if (fd >= 0)
		close(fd);
	free(data);
	return ok;
}

/* Whether the file of entry e is what the entry says. */
static int entry_clean(struct check *c, const struct entry *e)
{
	const unsigned char *r = e->raw;
	uint32_t mode = be32(r + 24);
	struct stat st;
	int racy;

	strbuf_setlen(&c->abs, c->root_len);
	strbuf_addch(&c->abs, '/');
	strbuf_add(&c->abs, e->path, e->len);
	if (lstat(c->abs.buf, &st) < 0)
		return 0;
	if (mode == 0100644 || mode == 0100755) {
		if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) != (mode == 0100644))
			return 0;
	} else if (mode == 0120000) {
		if (!S_ISLNK(st.st_mode))
			return 0;
	} else {
		return 0;  /* a submodule, or a mode git does not write */
	}
	if (be32(r) != (uint32_t)st.st_ctim.tv_sec || be32(r + 4) != (uint32_t)st.st_ctim.tv_nsec ||
	    be32(r + 8) != (uint32_t)st.st_mtim.tv_sec ||
	    be32(r + 12) != (uint32_t)st.st_mtim.tv_nsec ||
	    be32(r + 20) != (uint32_t)st.st_ino || be32(r + 28) != (uint32_t)st.st_uid ||
	    be32(r + 32) != (uint32_t)st.st_gid || be32(r + 36) != (uint32_t)st.st_size)
		return 0;
	racy = not_older(be32(r + 8), be32(r + 12), &c->index_mtime) ||
	       not_older(be32(r), be32(r + 4), &c->index_mtime);
	return !racy || same_blob(c, e, &st);
}

/*
 * Walk the directory c->abs (relative path rel, rel_len bytes): every
 * file must be an index entry, every directory must hold one.
 */
static int walk(struct check *c, size_t rel_len, int depth)
{
	struct dirent *de;
	DIR *d;
	int ok = 1;

	if (depth > WTSTAT_DEPTH_MAX)
		return 0;
	d = opendir(c->abs.buf);
	if (!d)
		return 0;
	while (ok && (de = readdir(d))) {
		size_t base = c->abs.len, nlen = strlen(de->d_name), rl, at;
		const char *rel;
		unsigned char type = de->d_type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!rel_len && !strcmp(de->d_name, ".git"))
			continue;
		strbuf_addch(&c->abs, '/');
		strbuf_add(&c->abs, de->d_name, nlen);
		rel = c->abs.buf + c->root_len + 1;
		rl = c->abs.len - c->root_len - 1;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (lstat(c->abs.buf, &st) < 0)
				type = DT_UNKNOWN;
			else if (S_ISDIR(st.st_mode))
				type = DT_DIR;
			else if (S_ISREG(st.st_mode))
				type = DT_REG;
			else if (S_ISLNK(st.st_mode))
				type = DT_LNK;
		}
		if (type == DT_DIR) {
			/* some entry must be below it: "rel/" sorts just before them */
			strbuf_addch(&c->abs, '/');
			rel = c->abs.buf + c->root_len + 1;  /* the buffer may have moved */
			at = lower_bound(c, rel, rl + 1);
			ok = at < c->nr && c->e[at].len > rl + 1 &&
			     !memcmp(c->e[at].path, rel, rl + 1);
			strbuf_setlen(&c->abs, c->abs.len - 1);
			if (ok)
				ok = walk(c, rl, depth + 1);
		} else if (type == DT_REG || type == DT_LNK) {
			at = lower_bound(c, rel, rl);
			ok = at < c->nr && c->e[at].len == rl && !memcmp(c->e[at].path, rel, rl);
			c->files++;
		} else {
			ok = 0;  /* a fifo, a socket, a device: not git's */
		}
		strbuf_setlen(&c->abs, base);
	}
	closedir(d);
	return ok;
}

static int read_head(const char *dest, const char *name, struct strbuf *out)
{
	struct strbuf p = STRBUF_INIT;
	int rc;

	strbuf_addf(&p, "%s/%s", dest, name);
	rc = strbuf_read_file(out, p.buf, 4096);
	strbuf_release(&p);
	return rc;
}

/* The index of dest, whole, and its mtime. */
static int read_index(const char *dest, struct strbuf *out, struct timespec *mtime)
{
	struct strbuf p = STRBUF_INIT;
	struct stat st;
	int fd, rc = -1;
	size_t got = 0;

	strbuf_addf(&p, "%s/.git/index", dest);
	fd = open(p.buf, O_RDONLY | O_CLOEXEC);
	strbuf_release(&p);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 12 + SHA1_LEN ||
	    st.st_size > WTSTAT_INDEX_MAX)
		goto done;
	strbuf_grow(out, (size_t)st.st_size);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, out->buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto done;
		got += (size_t)n;
	}
	strbuf_setlen(out, got);
	*mtime = st.st_mtim;
	rc = 0;
done:
	close(fd);
	return rc;
}

/*
 * "SHA DIGEST\n": the digest is a SHA-1 of every entry's mode, id and
 * path, not of the stat data: an index git rewrote with the same
 * entries (`git status` refreshing it) still names the same tree.
 */
static void marker_text(const char *sha, const struct check *c, struct strbuf *out)
{
	unsigned char md[SHA1_LEN];
	char hex[SHA1_HEX_LEN + 1];
	struct sha1 h;
	size_t i;

	sha1_init(&h);
	for (i = 0; i < c->nr; i++) {
		sha1_update(&h, c->e[i].raw + 24, 4);
		sha1_update(&h, c->e[i].raw + 40, SHA1_LEN);
		sha1_update(&h, c->e[i].path, c->e[i].len + 1);
	}
	sha1_final(&h, md);
	sha1_to_hex(md, hex);
	strbuf_addf(out, "%.40s %s\n", sha, hex);
}

int wtstat_clean(const char *dest, const char *sha)
{
	struct strbuf head = STRBUF_INIT, mark = STRBUF_INIT, idx = STRBUF_INIT,
		      want = STRBUF_INIT;
	struct check c;
	size_t i;
	int ok = 0;

	memset(&c, 0, sizeof(c));
	strbuf_init(&c.abs, 0);
	if (strlen(sha) != 40 || read_head(dest, ".git/HEAD", &head) < 0 ||
	    head.len != 41 || memcmp(head.buf, sha, 40) || head.buf[40] != '\n' ||
	    read_head(dest, MARKER, &mark) < 0 ||
	    read_index(dest, &idx, &c.index_mtime) < 0)
		goto done;
	if (parse_index((const unsigned char *)idx.buf, idx.len, &c) < 0)
		goto done;
	marker_text(sha, &c, &want);
	if (strcmp(mark.buf, want.buf))
		goto done;
	strbuf_addstr(&c.abs, dest);
	c.root_len = c.abs.len;
	for (i = 0; i < c.nr; i++)
		if (!entry_clean(&c, &c.e[i]))
			goto done;
	strbuf_setlen(&c.abs, c.root_len);
	ok = walk(&c, 0, 0) && c.files == c.nr;
done:
	free(c.e);
	strbuf_release(&c.abs);
	strbuf_release(&head);
	strbuf_release(&mark);
	strbuf_release(&idx);
	strbuf_release(&want);
	return ok;
}

int wtstat_mark(const char *dest, const char *sha)
{
	struct strbuf idx = STRBUF_INIT, text = STRBUF_INIT, p = STRBUF_INIT,
		      tmp = STRBUF_INIT;
	struct check c;
	int rc = -1, fd = -1;

	memset(&c, 0, sizeof(c));
	if (strlen(sha) != 40 || read_index(dest, &idx, &c.index_mtime) < 0 ||
	    parse_index((const unsigned char *)idx.buf, idx.len, &c) < 0)
		goto done;
	marker_text(sha, &c, &text);
	strbuf_addf(&p, "%s/" MARKER, dest);
	strbuf_addf(&tmp, "%s.tmp", p.buf);
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text.buf, text.len) != (ssize_t)text.len)
		goto done;
	if (close(fd) < 0) {
		fd = -1;
		goto done;
	}
	fd = -1;
	rc = rename(tmp.buf, p.buf);
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.len)
		unlink(tmp.buf);
	free(c.e);
	strbuf_release(&idx);
	strbuf_release(&text);
	strbuf_release(&p);
	strbuf_release(&tmp);
	return rc;
}

void wtstat_unmark(const char *dest)
{
	struct strbuf p = STRBUF_INIT;

	strbuf_addf(&p, "%s/" MARKER, dest);
	if (unlink(p.buf) < 0 && errno != ENOENT) {
		/* a marker that stays names an index that no longer matches it */
	}
	strbuf_release(&p);
}
