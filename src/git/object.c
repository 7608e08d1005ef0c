/*
 * Loose objects and refs of a bare repository, read in-process (see
 * object.h). A loose object is zlib("TYPE SIZE\0BODY") at
 * objects/XX/YYYY...; a commit's body is its header lines, a blank
 * line, and the message (git's Documentation/gitformat-*.txt).
 */
#include "git/object.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "util/strbuf.h"
#include "util/xalloc.h"

#define GITOBJ_COMMIT_MAX (16u << 20)   /* as mirror_commit's output cap */
#define GITOBJ_REFS_MAX (64u << 20)

static const char zero_sha[] = "0000000000000000000000000000000000000000";

static int is_sha(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int gitobj_read_loose(const char *dir, const char *sha, char type[8], char **body,
		      size_t *len, size_t max)
{
	struct strbuf path = STRBUF_INIT, raw = STRBUF_INIT;
	unsigned char head[32];
	char *out = NULL, *sp;
	unsigned long size;
	size_t hlen;
	z_stream z;
	int rc = -1, zr, zinit = 0;

	if (strlen(sha) != 40 || !is_sha(sha, 40))
		return 1;
	strbuf_addf(&path, "%s/objects/%.2s/%s", dir, sha, sha + 2);
	/* compressed, it is no larger than its content plus zlib's overhead */
	if (strbuf_read_file(&raw, path.buf, max + max / 8 + 1024) < 0) {
		rc = errno == ENOENT ? 1 : -1;
		goto done;
	}
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		goto done;
	zinit = 1;
	z.next_in = (unsigned char *)raw.buf;
	z.avail_in = (uInt)raw.len;
	/* the header first: "TYPE SIZE\0", at most a few dozen bytes */
	z.next_out = head;
	z.avail_out = sizeof(head);
	zr = inflate(&z, Z_SYNC_FLUSH);
	if (zr != Z_OK && zr != Z_STREAM_END)
		goto done;
	hlen = sizeof(head) - z.avail_out;
	sp = memchr(head, '\0', hlen);
	if (!sp)
		goto done;
	{
		char *endp, *space = memchr(head, ' ', (size_t)((unsigned char *)sp - head));
		size_t tl = space ? (size_t)(space - (char *)head) : 0;

		if (!tl || tl > 6 || space[1] < '0' || space[1] > '9')
			goto done;
		errno = 0;
		size = strtoul(space + 1, &endp, 10);
		if (errno || endp != sp || size > max)
			goto done;
		memcpy(type, head, tl);
		type[tl] = '\0';
	}
	out = xmalloc(size + 1);
	{
		size_t already = hlen - (size_t)((unsigned char *)sp + 1 - head);

		if (already > size)
			goto done;
		memcpy(out, sp + 1, already);
		z.next_out = (unsigned char *)out + already;
		z.avail_out = (uInt)(size - already + 1);  /* one more: a longer stream is damage */
		while (zr == Z_OK) {
			zr = inflate(&z, Z_FINISH);
			if (zr == Z_BUF_ERROR && z.avail_in == 0)
				break;
		}
		if (zr != Z_STREAM_END || z.total_out != hlen - already + size)
			goto done;
	}
	out[size] = '\0';
	*body = out;
	*len = size;
	out = NULL;
	rc = 0;
done:
	if (zinit)
		inflateEnd(&z);
	free(out);
	strbuf_release(&path);
	strbuf_release(&raw);
	return rc;
}

/* ---- packs: objects/pack/pack-*.idx (version 2) and their .pack ---- */

#define GITOBJ_IDX_MAX (1u << 30)

static int unhex(const char *sha, unsigned char bin[20])
{
	int i;

	for (i = 0; i < 40; i++) {
		char c = sha[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		if (i % 2)
			bin[i / 2] |= (unsigned char)v;
		else
			bin[i / 2] = (unsigned char)(v << 4);
	}
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Look bin up in the v2 index at path: 0 with its offset in the pack, 1
 * when the index does not have it, -1 when the index is not one this
 * reader knows (v1, damaged, too large). Layout: magic "\377tOc",
 * version 2, 256 cumulative counts, the sorted object names, their
 * CRCs, their 4-byte offsets (high bit: an index into the 8-byte
 * table that follows), then two checksums.
 */
static int idx_find(const char *path, const unsigned char bin[20], uint64_t *ret_off)
{
	struct stat sb;
	unsigned char *m = MAP_FAILED;
	uint32_t n, lo, hi;
	size_t size = 0, base;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || sb.st_size < 8 + 1024 + 40 ||
	    (uint64_t)sb.st_size > GITOBJ_IDX_MAX)
		goto done;
	size = (size_t)sb.st_size;
	m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		goto done;
	if (memcmp(m, "\377tOc", 4) || be32(m + 4) != 2)
		goto done;
	n = be32(m + 8 + 255 * 4);
	/* names, CRCs, offsets and the two checksums must fit */
	if ((uint64_t)n * 28 + 8 + 1024 + 40 > size)
		goto done;
	lo = bin[0] ? be32(m + 8 + (bin[0] - 1) * 4) : 0;
	hi = be32(m + 8 + bin[0] * 4);
	if (lo > hi || hi > n)
		goto done;
	base = 8 + 1024;
	rc = 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(m + base + (size_t)mid * 20, bin, 20);

		if (c < 0) {
			lo = mid + 1;
		} else if (c > 0) {
			hi = mid;
		} else {
			size_t op = base + (size_t)n * 24 + (size_t)mid * 4;
			uint32_t o = be32(m + op);

			if (o & 0x80000000u) {
				size_t lp = base + (size_t)n * 28 + (size_t)(o & 0x7fffffffu) * 8;

				if (lp + 8 + 40 > size) {
					rc = -1;
					break;
				}
				*ret_off = (uint64_t)be32(m + lp) << 32 | be32(m + lp + 4);
			} else {
				*ret_off = o;
			}
			rc = 0;
			break;
		}
	}
done:
	if (m != MAP_FAILED)
		munmap(m, size);
	close(fd);
	return rc;
}

/*
 * Find sha in the packs of dir: 0 with the pack's path (without ".idx":
 * ".pack" is appended by the caller) and the offset, 1 when no index has
 * it, -1 when an index could not be read (the answer is then unknown).
 */
static int pack_find(const char *dir, const char *sha, struct strbuf *ret_pack, uint64_t *ret_off)
{
	struct strbuf p = STRBUF_INIT;
	unsigned char bin[20];
	struct dirent *de;
	size_t plen;
	int rc = 1;
	DIR *d;

	if (unhex(sha, bin) < 0)
		return -1;
	strbuf_addf(&p, "%s/objects/pack/", dir);
	plen = p.len;
	d = opendir(p.buf);
	if (!d) {
		rc = errno == ENOENT ? 1 : -1;
		goto done;
	}
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		int r;

		if (nl < 9 || strncmp(de->d_name, "pack-", 5) || strcmp(de->d_name + nl - 4, ".idx"))
			continue;
		strbuf_setlen(&p, plen);
		strbuf_addstr(&p, de->d_name);
		r = idx_find(p.buf, bin, ret_off);
		if (r == 0) {
			strbuf_add(ret_pack, p.buf, p.len - 4);
			rc = 0;
			break;
		}
		if (r < 0)
			rc = -1;
	}
	closedir(d);
done:
	strbuf_release(&p);
	return rc;
}

int gitobj_has(const char *dir, const char *sha)
{
	struct strbuf p = STRBUF_INIT;
	uint64_t off;
	struct stat sb;
	int rc;

	if (strlen(sha) != 40 || !is_sha(sha, 40))
		return 0;
	strbuf_addf(&p, "%s/objects/%.2s/%s", dir, sha, sha + 2);
	rc = stat(p.buf, &sb) == 0 && S_ISREG(sb.st_mode);
	strbuf_reset(&p);
	if (!rc)
		rc = pack_find(dir, sha, &p, &off) == 0;
	strbuf_release(&p);
	return rc;
}

/*
 * The whole (not deltified) object at off of the pack file at path: its
 * entry header is the type in bits 4-6 of the first byte and the size
 * in 4 + 7k bits, then the zlib stream of the body. 0, 1 for a delta (git
 * is asked), -1 damaged or larger than max.
 */
static int pack_read(const char *path, uint64_t off, char type[8], char **body, size_t *len,
		     size_t max)
{
	static const char *const types[] = { NULL, "commit", "tree", "blob", "tag" };
	unsigned char in[8192];
	char *out = NULL;
	uint64_t size, pos = off;
	ssize_t got;
	z_stream z;
	int fd, rc = -1, t, shift = 4, zinit = 0, zr = Z_OK;
	size_t h = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = pread(fd, in, sizeof(in), (off_t)pos);
	if (got < 1)
		goto done;
	t = (in[0] >> 4) & 7;
	size = in[0] & 15;
	while (in[h] & 0x80) {
		if (++h >= (size_t)got || shift > 57)
			goto done;
		size |= (uint64_t)(in[h] & 0x7f) << shift;
		shift += 7;
	}
	h++;
	if (t == 6 || t == 7) {
		rc = 1;
		goto done;
	}
	if (t < 1 || t > 4 || size > max)
		goto done;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		goto done;
	zinit = 1;
	out = xmalloc((size_t)size + 1);
	z.next_out = (unsigned char *)out;
	z.avail_out = (uInt)size + 1;   /* one more: a longer stream is damage */
	z.next_in = in + h;
	z.avail_in = (uInt)((size_t)got - h);
	pos += (uint64_t)got;
	for (;;) {
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
			break;
		if (z.avail_in)
			break;   /* out of room: longer than its header says */
		got = pread(fd, in, sizeof(in), (off_t)pos);
		if (got <= 0)
			break;
		pos += (uint64_t)got;
		z.next_in = in;
		z.avail_in = (uInt)got;
	}
	if (zr != Z_STREAM_END || z.total_out != size)
		goto done;
	out[size] = '\0';
	strcpy(type, types[t]);
	*body = out;
	*len = (size_t)size;
	out = NULL;
	rc = 0;
done:
	if (zinit)
		inflateEnd(&z);
	free(out);
	close(fd);
	return rc;
}

int gitobj_read(const char *dir, const char *sha, char type[8], char **body, size_t *len,
		size_t max)
{
	struct strbuf pack = STRBUF_INIT;
	uint64_t off;
	int rc = gitobj_read_loose(dir, sha, type, body, len, max);

	if (rc != 1)
		return rc;
	rc = pack_find(dir, sha, &pack, &off);
	if (rc == 0) {
		strbuf_addstr(&pack, ".pack");
		rc = pack_read(pack.buf, off, type, body, len, max);
	} else {
		rc = 1;
	}
	strbuf_release(&pack);
	return rc;
}

/* A branch name git would accept, conservatively: else git is asked. */
static int plain_ref(const char *ref)
{
	const char *p;

	if (strncmp(ref, "refs/heads/", 11) || !ref[11] || strlen(ref) > 1024)
		return 0;
	for (p = ref; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '/'))
			return 0;
		if (*p == '/' && (p[1] == '/' || p[1] == '.' || !p[1]))
			return 0;
		if (*p == '.' && p[1] == '.')
			return 0;
	}
	return strlen(ref) < 5 || strcmp(ref + strlen(ref) - 5, ".lock");
}

int gitobj_resolve(const char *dir, const char *ref, char ret[41])
{
	struct strbuf p = STRBUF_INIT, sb = STRBUF_INIT;
	int rc = 1;
	size_t rl;
	const char *line;

	if (!plain_ref(ref))
		return 1;
	strbuf_addf(&p, "%s/%s", dir, ref);
	if (strbuf_read_file(&sb, p.buf, 4096) == 0) {
		if (sb.len == 41 && sb.buf[40] == '\n' && is_sha(sb.buf, 40)) {
			memcpy(ret, sb.buf, 40);
			ret[40] = '\0';
			rc = 0;
		}
		goto done;   /* a symbolic ref, or something odd: git says */
	}
	if (errno != ENOENT && errno != ENOTDIR)
		goto done;
	strbuf_reset(&p);
	strbuf_reset(&sb);
	strbuf_addf(&p, "%s/packed-refs", dir);
	if (strbuf_read_file(&sb, p.buf, GITOBJ_REFS_MAX) < 0)
		goto done;
	rl = strlen(ref);
	for (line = sb.buf; *line; ) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n == 41 + rl && line[40] == ' ' && !memcmp(line + 41, ref, rl) &&
		    is_sha(line, 40)) {
			memcpy(ret, line, 40);
			ret[40] = '\0';
			rc = 0;
			break;
		}
		line += n + (nl ? 1 : 0);
	}
done:
	strbuf_release(&p);
	strbuf_release(&sb);
	return rc;
}

/*
 * An ident line's value "NAME <EMAIL> TIME TZ": "NAME <EMAIL>" in who,
 * the time and offset (minutes east). 0, or -1 when it is unusual.
 */
static int ident(const char *s, size_t n, struct strbuf *who, long long *when, int *tz)
{
	const char *lt = memchr(s, '<', n), *gt, *p, *end = s + n;
	size_t nl;
	int sign, hh, mm;
	char *e;

	if (!lt)
		return -1;
	gt = memchr(lt, '>', (size_t)(end - lt));
	if (!gt || memchr(lt + 1, '<', (size_t)(gt - lt - 1)))
		return -1;
	nl = (size_t)(lt - s);
	while (nl && s[nl - 1] == ' ')
		nl--;
	p = gt + 1;
	if (p >= end || *p != ' ' || p[1] < '0' || p[1] > '9')
		return -1;
	errno = 0;
	*when = strtoll(p + 1, &e, 10);
	/* up to the year 9999, as git's own date formatting */
	if (errno || *when < 0 || *when > 253402300799LL || e + 6 != end || *e != ' ' ||
	    (e[1] != '+' && e[1] != '-'))
		return -1;
	sign = e[1] == '-' ? -1 : 1;
	if (e[2] < '0' || e[2] > '9' || e[3] < '0' || e[3] > '9' ||
	    e[4] < '0' || e[4] > '9' || e[5] < '0' || e[5] > '9')
		return -1;
	hh = (e[2] - '0') * 10 + (e[3] - '0');
	mm = (e[4] - '0') * 10 + (e[5] - '0');
	*tz = sign * (hh * 60 + mm);
	strbuf_add(who, s, nl);
	strbuf_addch(who, ' ');
	strbuf_add(who, lt, (size_t)(gt - lt + 1));
	return 0;
}

/* %cI: strict ISO 8601 in the committer's own offset. */
static char *iso_time(long long when, int tz)
{
	time_t t = (time_t)(when + (long long)tz * 60);
	struct tm tm;
	int a = tz < 0 ? -tz : tz;

	if (!gmtime_r(&t, &tm))
		return NULL;
	return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 tz < 0 ? '-' : '+', a / 60, a % 60);
}

/*
 * Whether git would show this repository's commits otherwise than their
 * objects say: replace refs, grafts, or a shallow history (git log then
 * hides the parents of the shallow commits).
 */
static int history_rewritten(const char *dir)
{
	static const char *const files[] = { "info/grafts", "shallow" };
	struct strbuf p = STRBUF_INIT, packed = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	size_t i;
	int r = 0;
	DIR *d;

	for (i = 0; i < sizeof(files) / sizeof(files[0]) && !r; i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", dir, files[i]);
		r = lstat(p.buf, &st) == 0 || errno != ENOENT;
	}
	/* refs/replace/ with anything in it (git replace -d leaves it empty) */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/refs/replace", dir);
	if (!r && (d = opendir(p.buf))) {
		while (!r && (de = readdir(d)))
			r = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
	} else if (!r) {
		r = errno != ENOENT;
	}
	if (!r) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/packed-refs", dir);
		if (strbuf_read_file(&packed, p.buf, GITOBJ_REFS_MAX) == 0)
			r = strstr(packed.buf, " refs/replace/") != NULL;
		else
			r = errno != ENOENT;
	}
	strbuf_release(&p);
	strbuf_release(&packed);
	return r;
}

int gitobj_commit(const char *dir, const char *rev, struct gitinfo *gi)
{
	struct strbuf author = STRBUF_INIT, committer = STRBUF_INIT;
	char sha[41], type[8], parent[41] = "", *body = NULL, *stamp = NULL;
	const char *p, *end, *msg = NULL;
	size_t len;
	long long when = 0, aw;
	int rc = 1, tz = 0, atz, have_author = 0, have_committer = 0, first = 1;

	if (history_rewritten(dir))
		return 1;
	if (strlen(rev) == 40 && is_sha(rev, 40))
		memcpy(sha, rev, 41);
	else if (gitobj_resolve(dir, rev, sha))
		return 1;
	if (gitobj_read(dir, sha, type, &body, &len, GITOBJ_COMMIT_MAX) ||
	    strcmp(type, "commit") || strlen(body) != len)
		goto done;
	for (p = body, end = body + len; p < end; ) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!nl)
			goto done;           /* headers without the blank line */
		n = (size_t)(nl - p);
		if (!n) {
			msg = nl + 1;
			break;
		}
		if (first && (n != 45 || strncmp(p, "tree ", 5)))
			goto done;
		first = 0;
		if (n == 47 && !strncmp(p, "parent ", 7) && is_sha(p + 7, 40)) {
			if (!parent[0]) {
				memcpy(parent, p + 7, 40);
				parent[40] = '\0';
			}
		} else if (!strncmp(p, "author ", 7) && !have_author) {
			if (ident(p + 7, n - 7, &author, &aw, &atz) < 0)
				goto done;
			have_author = 1;
		} else if (!strncmp(p, "committer ", 10) && !have_committer) {
			if (ident(p + 10, n - 10, &committer, &when, &tz) < 0)
				goto done;
			have_committer = 1;
		} else if (!strncmp(p, "encoding ", 9)) {
			goto done;           /* git log re-encodes the message */
		}
		p = nl + 1;
	}
	if (!msg || !have_author || !have_committer || !(stamp = iso_time(when, tz)))
		goto done;
	memset(gi, 0, sizeof(*gi));
	gi->is_repo = 1;
	gi->toplevel = xstrdup(dir);
	gi->sha = xstrdup(sha);
	gi->before_sha = xstrdup(parent[0] ? parent : zero_sha);
	gi->author = strbuf_detach(&author, NULL);
	gi->timestamp = stamp;
	stamp = NULL;
	len = (size_t)(end - msg);
	while (len && msg[len - 1] == '\n')
		len--;
	gi->message = xstrndup(msg, len);
	rc = 0;
done:
	free(body);
	free(stamp);
	strbuf_release(&author);
	strbuf_release(&committer);
	return rc;
}

char *gitobj_local_gitdir(const char *url)
{
	struct strbuf p = STRBUF_INIT;
	struct stat sb;
	char *dir = NULL;

	if (!strncmp(url, "file://", 7))
		url += 7;
	if (url[0] != '/' || strlen(url) > 4096)
		return NULL;
	/* bare: HEAD and objects/ at the top; else a .git directory (not a gitfile) */
	strbuf_addf(&p, "%s/objects", url);
	if (stat(p.buf, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/HEAD", url);
		if (stat(p.buf, &sb) == 0 && S_ISREG(sb.st_mode))
			dir = xstrdup(url);
	} else {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/.git/objects", url);
		if (stat(p.buf, &sb) == 0 && S_ISDIR(sb.st_mode))
			dir = xasprintf("%s/.git", url);
	}
	strbuf_release(&p);
	return dir;
}
