/*
 * A job's artifacts as one ZIP archive (server.h, artzip_respond): the
 * store's rows give every name and size, so the archive's layout and
 * length are known before the first byte (zipw.h); the blobs are then
 * read from the CAS as the connection drains, 64 KiB at a time. An
 * artifact's CRC-32, kept since it was stored, goes in its local header;
 * one stored before it was kept is computed on the way, for a data
 * descriptor after its data. Each blob is checked on the way against
 * what was recorded when it was stored: its CRC-32 when kept (computed
 * anyway, at zlib's 2.3 GB/s here), else its SHA-256 (0.8 GB/s: the
 * CRC made from the bytes read would tell nothing). A damaged one cuts
 * the archive, before its descriptor if it has one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "exec/cas.h"
#include "server/server.h"
#include "util/sha256.h"
#include "util/xalloc.h"
#include "util/zipw.h"

enum az_phase { AZ_LOCAL, AZ_DATA, AZ_CENTRAL, AZ_DONE };

struct artzip {
	struct server *srv;
	int64_t job_id;
	char *root;                     /* DATA/artifacts */
	struct store_artifact *a;
	struct zipw_entry *e;
	size_t n, i;                    /* entries; the one being sent */
	struct zipw_layout lay;
	enum az_phase phase;
	int fd;                         /* entry i's blob, in AZ_DATA */
	uint64_t done;                  /* of its bytes, sent */
	uint32_t crc;
	struct sha256 sha;              /* of its bytes, to check them (no CRC kept) */
	unsigned char *hdr;             /* a header being sent */
	size_t hlen, hoff;
	int broken;                     /* cut: what was read goes out, then nothing */
};

static void az_free(void *ud)
{
	struct artzip *z = ud;

	if (z->fd >= 0)
		close(z->fd);
	store_artifacts_free(z->a, z->n);
	free(z->e);
	free(z->root);
	free(z->hdr);
	free(z);
}

/* The blob of artifact a, opened; -1 with errno (ENOENT: gone). */
static int blob_open(const char *root, const struct store_artifact *a, struct stat *sb)
{
	struct strbuf p = STRBUF_INIT;
	int fd;

	cas_path(root, a->sha256, &p);
	fd = open(p.buf, O_RDONLY | O_CLOEXEC);
	strbuf_release(&p);
	if (fd >= 0 && fstat(fd, sb) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Open entry i's blob for its data: 0, or -1 logged (the stream is cut). */
static int az_open(struct artzip *z)
{
	const struct store_artifact *a = &z->a[z->i];
	struct stat sb;

	z->fd = blob_open(z->root, a, &sb);
	if (z->fd < 0) {
		slog_warn("artifacts.zip of job %" PRId64 " cut at %s: its file is gone "
			  "from the store (%s)", z->job_id, a->path, strerror(errno));
		return -1;
	}
	if ((uint64_t)sb.st_size != (uint64_t)a->size) {
		slog_warn("artifacts.zip of job %" PRId64 " cut at %s: its file has %lld "
			  "bytes, its record %" PRId64, z->job_id, a->path,
			  (long long)sb.st_size, a->size);
		return -1;
	}
	z->done = 0;
	z->crc = (uint32_t)crc32(0, NULL, 0);
	sha256_init(&z->sha);
	return 0;
}

static void put_hdr(struct artzip *z, size_t len)
{
	z->hlen = len;
	z->hoff = 0;
}

/*
 * A blob stored before CRCs were kept, its bytes just checked by their
 * SHA-256: its CRC goes to the store, so that the next archive has it
 * in the local header. Best effort: a store that cannot write now
 * learns it at a later download.
 */
static void learn_crc(struct artzip *z, const char *sha256, uint32_t crc)
{
	struct strbuf err = STRBUF_INIT;
	struct store *st = server_store(z->srv, &err);

	if (st && store_artifacts_set_crc(st, sha256, crc, &err) < 0)
		slog_warn("artifact %s: its CRC-32 not kept: %s", sha256, err.buf);
	strbuf_release(&err);
}

/*
 * Up to max bytes of entry i's data into buf: how many (0 at its end,
 * when its descriptor is queued), or -1 logged.
 */
static ssize_t az_data(struct artzip *z, char *buf, size_t max)
{
	struct zipw_entry *e = &z->e[z->i];
	uint64_t left = e->size - z->done;
	ssize_t n;

	if (!left) {
		unsigned char md[SHA256_LEN];
		char hex[SHA256_HEX_LEN + 1];

		close(z->fd);
		z->fd = -1;
		if (e->crc_first && e->crc != z->crc) {
			slog_warn("artifacts.zip of job %" PRId64 " cut at %s: its file is damaged "
				  "in the store (CRC-32 %08x, recorded %08x)", z->job_id,
				  z->a[z->i].path, (unsigned)z->crc, (unsigned)e->crc);
			return -1;
		}
		if (!e->crc_first) {
			sha256_final(&z->sha, md);
			sha256_to_hex(md, hex);
			if (strcmp(hex, z->a[z->i].sha256)) {
				slog_warn("artifacts.zip of job %" PRId64 " cut at %s: its file is "
					  "damaged in the store (SHA-256 %s, recorded %s)", z->job_id,
					  z->a[z->i].path, hex, z->a[z->i].sha256);
				return -1;
			}
			learn_crc(z, z->a[z->i].sha256, z->crc);
		}
		e->crc = z->crc;
		put_hdr(z, e->crc_first ? 0 : zipw_descriptor(e, z->hdr));
		z->i++;
		z->phase = AZ_LOCAL;
		return 0;
	}
	if (max > left)
		max = (size_t)left;
	do
		n = pread(z->fd, buf, max, (off_t)z->done);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		slog_warn("artifacts.zip of job %" PRId64 " cut at %s: %s", z->job_id,
			  z->a[z->i].path, n ? strerror(errno) : "its file shrank");
		return -1;
	}
	z->crc = (uint32_t)crc32(z->crc, (const Bytef *)buf, (uInt)n);
	if (!e->crc_first)
		sha256_update(&z->sha, buf, (size_t)n);
	z->done += (uint64_t)n;
	return n;
}

/* The stream's read: headers, data and the directory, in order. */
static ssize_t az_read(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct artzip *z = ud;
	size_t got = 0;

	if (z->broken)
		return HTTP_STREAM_ABORT;
	while (got < max) {
		ssize_t n;

		if (z->hoff < z->hlen) {
			size_t k = z->hlen - z->hoff < max - got ? z->hlen - z->hoff : max - got;

			memcpy(buf + got, z->hdr + z->hoff, k);
			z->hoff += k;
			got += k;
			continue;
		}
		switch (z->phase) {
		case AZ_LOCAL:
			if (z->i == z->n) {
				z->i = 0;
				z->phase = AZ_CENTRAL;
				break;
			}
			if (az_open(z) < 0)
				goto cut;
			put_hdr(z, zipw_local(&z->e[z->i], z->hdr));
			z->phase = AZ_DATA;
			break;
		case AZ_DATA:
			n = az_data(z, buf + got, max - got);
			if (n < 0)
				goto cut;
			got += (size_t)n;
			break;
		case AZ_CENTRAL:
			if (z->i == z->n) {
				put_hdr(z, zipw_end(&z->lay, z->hdr));
				z->phase = AZ_DONE;
				break;
			}
			put_hdr(z, zipw_central(&z->e[z->i++], z->hdr));
			break;
		case AZ_DONE:
			return got ? (ssize_t)got : -1;
		}
	}
	return (ssize_t)got;
cut:
	/* the bytes before the cut go out first: a reader sees where it is */
	z->broken = 1;
	return got ? (ssize_t)got : HTTP_STREAM_ABORT;
}

static const struct http_stream_ops az_ops = { az_read, az_free, NULL, 0 };

/* "NAME-ID-artifacts.zip", the name's bytes outside [A-Za-z0-9._-] as '_'. */
static void zip_filename(struct strbuf *out, const struct store_job *j)
{
	const char *s;

	strbuf_addstr(out, "attachment; filename=\"");
	for (s = j->name ? j->name : "job"; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			c = '_';
		strbuf_addch(out, c);
	}
	strbuf_addf(out, "-%" PRId64 "-artifacts.zip\"", j->id);
}

/*
 * Every blob is there with its recorded size: 0, or -1 with the error
 * sent (410 as for one file: gone; 500: not the size recorded).
 */
static int blobs_there(struct http_request *req, struct artzip *z)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		struct stat sb;
		int fd = blob_open(z->root, &z->a[i], &sb);

		if (fd < 0) {
			http_respond_error(req, 410, "the file of artifact %s is gone from the "
					   "store", z->a[i].path);
			return -1;
		}
		close(fd);
		if ((uint64_t)sb.st_size != (uint64_t)z->a[i].size) {
			slog_warn("job %" PRId64 ": the file of artifact %s has %lld bytes, "
				  "its record %" PRId64, z->job_id, z->a[i].path,
				  (long long)sb.st_size, z->a[i].size);
			http_respond_error(req, 500, "the file of artifact %s is damaged in "
					   "the store", z->a[i].path);
			return -1;
		}
	}
	return 0;
}

void artzip_respond(struct http_request *req, struct server *srv,
		    const struct store_job *j, struct store_artifact *a, size_t n)
{
	struct artzip *z = xcalloc(1, sizeof(*z));
	struct strbuf cd = STRBUF_INIT;
	int64_t mtime = (j->finished ? j->finished : server_now_ms()) / 1000;
	size_t i, longest = 0;
	uint16_t t, d;

	z->srv = srv;
	z->job_id = j->id;
	z->a = a;
	z->n = n;
	z->fd = -1;
	z->root = xasprintf("%s/artifacts", srv->data);
	z->e = xcalloc(n ? n : 1, sizeof(*z->e));
	zipw_dos_time(mtime, &t, &d);
	for (i = 0; i < n; i++) {
		z->e[i].name = a[i].path;
		z->e[i].name_len = strlen(a[i].path);
		z->e[i].size = (uint64_t)a[i].size;
		z->e[i].mode = (unsigned)a[i].mode & 0777;
		z->e[i].dos_time = t;
		z->e[i].dos_date = d;
		/* kept since it was stored: in the local header, no descriptor */
		z->e[i].crc_first = a[i].crc32 >= 0;
		z->e[i].crc = a[i].crc32 >= 0 ? (uint32_t)a[i].crc32 : 0;
		if (z->e[i].name_len > longest)
			longest = z->e[i].name_len;
	}
	if (zipw_layout(z->e, n, &z->lay) < 0) {
		http_respond_error(req, 500, "an artifact's path is too long for a ZIP archive");
		az_free(z);
		return;
	}
	if (blobs_there(req, z) < 0) {
		az_free(z);
		return;
	}
	/* room for the largest header: a central one with ZIP64 fields, or the end */
	z->hdr = xmalloc(46 + longest + 28 + ZIPW_END_MAX);
	zip_filename(&cd, j);
	http_add_header(req, "Content-Disposition", cd.buf);
	strbuf_release(&cd);
	http_respond_stream_sized(req, 200, "application/zip", z->lay.total, &az_ops, z);
}
