/*
 * cidre artifacts: list a job's artifacts, download them into a
 * directory, or keep them from expiring.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cli.h"
#include "cmd/cmd.h"
#include "util/sha256.h"
#include "util/xalloc.h"
#include "util/zipr.h"

const char cmd_artifacts_usage[] =
	"usage: cidre artifacts list JOB_ID [--json]\n"
	"       cidre artifacts get JOB_ID [PATH...] [-o DIR]\n"
	"       cidre artifacts get JOB_ID --zip FILE\n"
	"       cidre artifacts keep JOB_ID\n"
	"       cidre artifacts list|get|keep --project NAME --job JOB [--ref REF] ...\n"
	"\n"
	"The job is JOB_ID, or the job named JOB of the newest successful\n"
	"pipeline of REF (a branch or tag; default: the project's default\n"
	"branch) of project NAME, that job itself successful: the latest\n"
	"build's artifacts.\n"
	"\n"
	"list: the files a job uploaded as artifacts (path, size, SHA-256), and\n"
	"      when they expire.\n"
	"get:  download them, or only the named ones (a name ending in '/'\n"
	"      takes a whole directory), into DIR, under their paths: all of\n"
	"      them come in one ZIP archive, unpacked as it arrives. Each file\n"
	"      is checked against its size and SHA-256, written to a temporary\n"
	"      file and renamed into place. A path with '..', an absolute path,\n"
	"      or a symbolic link on the way is refused. --zip saves the\n"
	"      archive itself instead.\n"
	"keep: the job's artifacts never expire (needs the developer role).\n"
	"Expired artifacts are gone: list and get say when they expired, exit 1.\n"
	"\n"
	"options:\n"
	"  -o, --output DIR   where to write (default: the current directory;\n"
	"                     created if missing)\n"
	"  -z, --zip FILE     (get) save all the artifacts as one ZIP archive,\n"
	"                     FILE or '-' for the standard output\n"
	"  -p, --project NAME, -j, --job JOB, -r, --ref REF\n"
	"                     the latest successful job JOB of REF instead of a\n"
	"                     job id\n"
	"      --json         (list) print the server's JSON\n"
	"\n"
	CLI_USAGE_CONN
	"\n"
	"exit status: 0 done, 1 a file could not be fetched or written, or the\n"
	"server refused, 2 usage error or the server cannot be reached.\n";

struct art_opts {
	struct client_opts conn;
	const char *dir;
	const char *zip;                /* --zip FILE, "-": stdout */
	const char *project, *job_name, *ref;
	int json;
	int64_t job;
	char **paths;
	int npaths;
};

static int fetch_list(struct client *c, int64_t job, json_t **ret)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	int rc;

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64 "/artifacts", job);
	rc = client_get_array(c, path.buf, "artifact", ret, &err);
	rc = cli_report(rc, &err);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

static int do_list(struct client *c, const struct art_opts *o)
{
	struct cli_table t;
	json_t *list = NULL, *a;
	size_t i;
	int rc = fetch_list(c, o->job, &list);

	if (rc)
		return rc;
	if (o->json) {
		cli_print_json(list);
		json_decref(list);
		return 0;
	}
	if (!json_array_size(list)) {
		printf("job %" PRId64 " has no artifacts\n", o->job);
		json_decref(list);
		return 0;
	}
	cli_table_init(&t, "lrl");
	cli_table_add(&t, "PATH");
	cli_table_add(&t, "SIZE");
	cli_table_add(&t, "SHA256");
	json_array_foreach(list, i, a) {
		cli_table_add(&t, cli_str(a, "path", "?"));
		cli_table_addf(&t, "%" PRId64, cli_int(a, "size", 0));
		cli_table_addf(&t, "%.12s", cli_str(a, "sha256", ""));
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	{
		const char *at = cli_str(json_array_get(list, 0), "expire_at", NULL);

		if (at)
			printf("expire at %s\n", at);
		else
			printf("never expire\n");
	}
	json_decref(list);
	return 0;
}

static int do_keep(struct client *c, const struct art_opts *o)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	int rc;

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64 "/artifacts/keep", o->job);
	rc = cli_report(client_request(c, "POST", path.buf, NULL, NULL, &err), &err);
	if (!rc)
		printf("job %" PRId64 ": artifacts kept (never expire)\n", o->job);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

/*
 * Create the directories of rel (a safe relative path) under dir; each
 * one that exists must be a real directory, not a symbolic link.
 */
static int make_parents(const char *dir, const char *rel, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT;
	const char *slash;
	struct stat st;
	int rc = 0;

	for (slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%.*s", dir, (int)(slash - rel), rel);
		if (lstat(p.buf, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				continue;
			strbuf_addf(err, "%s is in the way (not a directory)", p.buf);
			rc = -1;
			break;
		}
		if (errno != ENOENT || (mkdir(p.buf, 0755) < 0 && errno != EEXIST)) {
			strbuf_addf(err, "cannot create %s: %s", p.buf, strerror(errno));
			rc = -1;
			break;
		}
	}
	strbuf_release(&p);
	return rc;
}

struct dl {
	int fd;
	struct sha256 sha;
	int64_t size;
	int werr;
};

static int dl_sink(void *ctx, const char *buf, size_t len)
{
	struct dl *d = ctx;

	sha256_update(&d->sha, buf, len);
	d->size += (int64_t)len;
	while (len) {
		ssize_t n = write(d->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			d->werr = errno ? errno : EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The artifact's mode from the listing ("mode": 493 or "0755"), or 0644. */
static mode_t entry_mode(const json_t *a)
{
	const json_t *m = json_object_get(a, "mode");

	if (json_is_integer(m))
		return (mode_t)(json_integer_value(m) & 0777);
	if (json_is_string(m)) {
		char *end;
		long v = strtol(json_string_value(m), &end, 8);

		if (!*end && v >= 0)
			return (mode_t)(v & 0777);
	}
	return 0644;
}

/*
 * The temporary file that artifact rel (from the listing) is written to
 * before it is renamed to DIR/rel: rel a safe relative path, the
 * directories on the way real ones (created), DIR/rel not something
 * else than a regular file. 0 with *fd open on tmp and dest filled, or
 * -1 with err.
 */
static int open_dest(const char *dir, const char *rel, struct strbuf *dest,
		     struct strbuf *tmp, int *fd, struct strbuf *err)
{
	struct stat st;

	*fd = -1;
	strbuf_reset(dest);
	strbuf_reset(tmp);
	if (!cli_path_safe(rel)) {
		strbuf_addf(err, "refusing the artifact path '%s' (absolute, '..' or "
			    "not a plain relative path)", rel);
		return -1;
	}
	if (make_parents(dir, rel, err) < 0)
		return -1;
	strbuf_addf(dest, "%s/%s", dir, rel);
	if (lstat(dest->buf, &st) == 0 && !S_ISREG(st.st_mode)) {
		strbuf_addf(err, "%s is in the way (not a regular file)", dest->buf);
		return -1;
	}
	strbuf_addf(tmp, "%s.cidre-XXXXXX", dest->buf);
	*fd = mkstemp(tmp->buf);
	if (*fd < 0) {
		strbuf_addf(err, "cannot create %s: %s", tmp->buf, strerror(errno));
		strbuf_reset(tmp);
		return -1;
	}
	return 0;
}

/*
 * The download d of listed artifact a is complete: check its size and
 * SHA-256 against the listing, give it its mode and rename tmp to dest.
 * d->fd is closed in every case; tmp is emptied once renamed (the caller
 * unlinks a tmp left). 0, or -1 with err.
 */
static int place(struct dl *d, const json_t *a, struct strbuf *tmp, const char *dest,
		 struct strbuf *err)
{
	const char *rel = cli_str(a, "path", ""), *want_sha = cli_str(a, "sha256", NULL);
	int64_t want_size = cli_int(a, "size", -1);
	unsigned char md[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	int fd = d->fd;

	d->fd = -1;
	sha256_final(&d->sha, md);
	sha256_to_hex(md, hex);
	if (want_size >= 0 && d->size != want_size) {
		strbuf_addf(err, "%s: got %" PRId64 " bytes, the listing says %" PRId64,
			    rel, d->size, want_size);
		goto fail;
	}
	if (want_sha && strcasecmp(want_sha, hex)) {
		strbuf_addf(err, "%s: SHA-256 %s, the listing says %s", rel, hex, want_sha);
		goto fail;
	}
	if (fchmod(fd, entry_mode(a)) < 0 || close(fd) < 0) {
		fd = -1;
		strbuf_addf(err, "cannot write %s: %s", tmp->buf, strerror(errno));
		goto fail;
	}
	if (rename(tmp->buf, dest) < 0) {
		strbuf_addf(err, "cannot rename %s to %s: %s", tmp->buf, dest,
			    strerror(errno));
		return -1;
	}
	strbuf_reset(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Download one listed artifact into dir. 0, or -1 with err. */
static int get_one(struct client *c, int64_t job, const json_t *a,
		   const char *dir, struct strbuf *err)
{
	const char *rel = cli_str(a, "path", "");
	int64_t want_size = cli_int(a, "size", -1);
	struct strbuf url = STRBUF_INIT, dest = STRBUF_INIT, tmp = STRBUF_INIT,
		      why = STRBUF_INIT;
	struct dl d;
	int rc = -1, r;

	if (open_dest(dir, rel, &dest, &tmp, &d.fd, err) < 0)
		goto done;
	sha256_init(&d.sha);
	d.size = 0;
	d.werr = 0;
	strbuf_addf(&url, "/api/v1/jobs/%" PRId64 "/artifacts/", job);
	client_escape(&url, rel, 1);
	r = client_get_stream(c, url.buf, want_size >= 0 ? (size_t)want_size + 1 : 0,
			      dl_sink, &d, &why);
	if (r == CLIENT_ELOCAL) {
		strbuf_addf(err, "cannot write %s: %s", tmp.buf, strerror(d.werr));
		goto done;
	}
	if (r) {
		strbuf_addf(err, "%s: %s", rel, why.buf);
		goto done;
	}
	rc = place(&d, a, &tmp, dest.buf, err);
done:
	if (d.fd >= 0)
		close(d.fd);
	if (tmp.len)
		unlink(tmp.buf);
	strbuf_release(&url);
	strbuf_release(&dest);
	strbuf_release(&tmp);
	strbuf_release(&why);
	return rc;
}

/* 1 if the artifact path p is selected by the names given (all if none). */
static int selected(const struct art_opts *o, const char *p, char *used)
{
	int i, any = 0;

	if (!o->npaths)
		return 1;
	for (i = 0; i < o->npaths; i++) {
		const char *name = o->paths[i];
		size_t n = strlen(name);

		if (!strcmp(p, name) ||
		    (n && name[n - 1] == '/' && !strncmp(p, name, n))) {
			used[i] = 1;
			any = 1;
		}
	}
	return any;
}

/* ---- the whole set as one archive (GET /jobs/ID/artifacts.zip) ---- */

/* What the server's error says when it has no such route (an older one). */
#define NO_ROUTE "no such route"

/* An archive being unpacked into dir against the job's listing. */
struct unzip {
	int64_t job;
	const char *dir;
	const json_t **rows;            /* the listing, by path */
	char *seen;
	size_t n;
	struct zipr z;
	const json_t *a;                /* the entry being written; NULL: skipped */
	struct dl d;
	struct strbuf dest, tmp;
	struct strbuf err;              /* why a callback stopped the reader */
	size_t files, failed;
	int64_t bytes;
};

static int row_cmp(const void *x, const void *y)
{
	return strcmp(cli_str(*(const json_t *const *)x, "path", ""),
		      cli_str(*(const json_t *const *)y, "path", ""));
}

static int row_find(const void *key, const void *row)
{
	return strcmp(key, cli_str(*(const json_t *const *)row, "path", ""));
}

/* A local header: the entry must be one of the listing's, once. */
static int unzip_entry(void *ctx, const struct zipr_entry *e, uint64_t *size)
{
	struct unzip *u = ctx;
	const json_t **row = bsearch(e->name, u->rows, u->n, sizeof(*u->rows), row_find);
	struct strbuf why = STRBUF_INIT;
	int64_t want;

	if (!row) {
		strbuf_addf(&u->err, "%s: in the archive, not in the listing of job %" PRId64,
			    e->name, u->job);
		return -1;
	}
	if (u->seen[row - u->rows]++) {
		strbuf_addf(&u->err, "%s: twice in the archive", e->name);
		return -1;
	}
	want = cli_int(*row, "size", -1);
	if (want < 0 || (e->has_size && e->size != (uint64_t)want)) {
		strbuf_addf(&u->err, "%s: %" PRIu64 " bytes in the archive, the listing says "
			    "%" PRId64, e->name, e->size, want);
		return -1;
	}
	*size = (uint64_t)want;
	/* a file that cannot be placed is reported and its data passed over */
	u->a = NULL;
	if (open_dest(u->dir, e->name, &u->dest, &u->tmp, &u->d.fd, &why) < 0) {
		fprintf(stderr, "cidre: %s\n", why.buf);
		u->failed++;
	} else {
		u->a = *row;
		sha256_init(&u->d.sha);
		u->d.size = 0;
		u->d.werr = 0;
	}
	strbuf_release(&why);
	return 0;
}

/*
 * A file that cannot be written (a full disk) is reported, its temporary
 * file removed and the rest of its data passed over: the entries after
 * it are still written, as when the files are fetched one by one.
 */
static int unzip_data(void *ctx, const char *buf, size_t len)
{
	struct unzip *u = ctx;

	if (!u->a)
		return 0;
	if (dl_sink(&u->d, buf, len) < 0) {
		fprintf(stderr, "cidre: cannot write %s: %s\n", u->tmp.buf, strerror(u->d.werr));
		u->failed++;
		close(u->d.fd);
		u->d.fd = -1;
		unlink(u->tmp.buf);
		strbuf_reset(&u->tmp);
		u->a = NULL;
	}
	return 0;
}

/* An entry's end: checked and renamed into place, or reported. */
static int unzip_done(void *ctx, const struct zipr_entry *e)
{
	struct unzip *u = ctx;
	struct strbuf why = STRBUF_INIT;

	if (!u->a)
		return 0;
	if (place(&u->d, u->a, &u->tmp, u->dest.buf, &why) < 0) {
		fprintf(stderr, "cidre: %s\n", why.buf);
		u->failed++;
	} else {
		u->files++;
		u->bytes += u->d.size;
	}
	if (u->tmp.len)
		unlink(u->tmp.buf);
	strbuf_reset(&u->tmp);
	u->a = NULL;
	strbuf_release(&why);
	return 0;
}

static const struct zipr_ops unzip_ops = { unzip_entry, unzip_data, unzip_done };

static int unzip_sink(void *ctx, const char *buf, size_t len)
{
	struct unzip *u = ctx;
	int rc = zipr_feed(&u->z, buf, len);

	if (rc == ZIPR_EFORMAT)
		strbuf_addstr(&u->err, zipr_error(&u->z));
	return rc ? -1 : 0;
}

/* The entry being written when the archive stopped: its file is not left. */
static void unzip_abandon(struct unzip *u)
{
	if (u->a && u->d.fd >= 0)
		close(u->d.fd);
	if (u->tmp.len)
		unlink(u->tmp.buf);
	u->a = NULL;
}

/*
 * Fetch the archive of o->job and unpack it into dir against list (every
 * entry listed, of its size and SHA-256; every listed file in it). The
 * CLI exit code, or -1 when the server has no archive route (then
 * nothing was written).
 */
static int get_archive(struct client *c, const struct art_opts *o, json_t *list,
		       const char *dir, size_t *files, int64_t *bytes)
{
	struct strbuf path = STRBUF_INIT, why = STRBUF_INIT;
	struct unzip *u = xcalloc(1, sizeof(*u));
	const json_t *a;
	size_t i;
	int rc;

	u->job = o->job;
	u->dir = dir;
	u->n = json_array_size(list);
	u->rows = xcalloc(u->n + 1, sizeof(*u->rows));
	u->seen = xcalloc(u->n + 1, 1);
	json_array_foreach(list, i, a)
		u->rows[i] = a;
	qsort(u->rows, u->n, sizeof(*u->rows), row_cmp);
	u->d.fd = -1;
	strbuf_init(&u->dest, 0);
	strbuf_init(&u->tmp, 0);
	strbuf_init(&u->err, 0);
	zipr_init(&u->z, &unzip_ops, u);

	strbuf_addf(&path, "/api/v1/jobs/%" PRId64 "/artifacts.zip", o->job);
	rc = client_get_stream(c, path.buf, 0, unzip_sink, u, &why);
	if (!rc && zipr_finish(&u->z)) {
		strbuf_addstr(&u->err, zipr_error(&u->z));
		rc = CLIENT_ELOCAL;
	}
	unzip_abandon(u);
	if (rc == CLIENT_EREFUSED && c->status == 404 && !strcmp(why.buf, NO_ROUTE)) {
		rc = -1;
		goto done;
	}
	if (rc == CLIENT_ELOCAL) {
		fprintf(stderr, "cidre: %s\n", u->err.buf);
		u->failed++;
	} else if (rc && u->z.pos) {
		/* cut on the way: name the entry it was in */
		if (zipr_current(&u->z))
			fprintf(stderr, "cidre: %s: the archive was cut: %s\n",
				zipr_current(&u->z), why.buf);
		else
			fprintf(stderr, "cidre: the archive was cut: %s\n", why.buf);
		u->failed++;
	} else if (rc) {
		rc = cli_report(rc, &why);
		goto done;
	}
	if (!rc)
		for (i = 0; i < u->n; i++)
			if (!u->seen[i]) {
				fprintf(stderr, "cidre: job %" PRId64 ": the archive lacks '%s'\n",
					o->job, cli_str(u->rows[i], "path", ""));
				u->failed++;
			}
	*files = u->files;
	*bytes = u->bytes;
	rc = u->failed ? CLI_FAILED : CLI_OK;
done:
	zipr_release(&u->z);
	strbuf_release(&u->dest);
	strbuf_release(&u->tmp);
	strbuf_release(&u->err);
	free(u->rows);
	free(u->seen);
	free(u);
	strbuf_release(&path);
	strbuf_release(&why);
	return rc;
}

/* --zip FILE: the archive as the server sends it, into FILE or stdout ("-"). */
static int do_zip(struct client *c, const struct art_opts *o)
{
	struct strbuf path = STRBUF_INIT, tmp = STRBUF_INIT, why = STRBUF_INIT,
		      sb = STRBUF_INIT;
	int to_stdout = !strcmp(o->zip, "-");
	struct dl d;
	mode_t mask;
	int rc;

	memset(&d, 0, sizeof(d));
	sha256_init(&d.sha);
	d.fd = 1;
	if (!to_stdout) {
		strbuf_addf(&tmp, "%s.cidre-XXXXXX", o->zip);
		d.fd = mkstemp(tmp.buf);
		if (d.fd < 0) {
			fprintf(stderr, "cidre: cannot create %s: %s\n", tmp.buf, strerror(errno));
			strbuf_reset(&tmp);
			rc = CLI_FAILED;
			goto done;
		}
	}
	strbuf_addf(&path, "/api/v1/jobs/%" PRId64 "/artifacts.zip", o->job);
	rc = client_get_stream(c, path.buf, 0, dl_sink, &d, &why);
	if (rc == CLIENT_ELOCAL) {
		fprintf(stderr, "cidre: cannot write %s: %s\n", to_stdout ? "the archive" : tmp.buf,
			strerror(d.werr));
		rc = CLI_FAILED;
		goto done;
	}
	if (rc == CLIENT_EREFUSED && c->status == 404 && !strcmp(why.buf, NO_ROUTE)) {
		fprintf(stderr, "cidre: the server at %s sends no archives (an older version): "
			"get the files without --zip\n", c->server);
		rc = CLI_FAILED;
		goto done;
	}
	if (rc) {
		rc = d.size ? (fprintf(stderr, "cidre: the archive was cut: %s\n", why.buf),
			       CLI_FAILED) : cli_report(rc, &why);
		goto done;
	}
	if (!to_stdout) {
		mask = umask(0);
		umask(mask);
		if (fchmod(d.fd, 0666 & ~mask) < 0 || close(d.fd) < 0 ||
		    rename(tmp.buf, o->zip) < 0) {
			d.fd = -1;
			fprintf(stderr, "cidre: cannot write %s: %s\n", o->zip, strerror(errno));
			rc = CLI_FAILED;
			goto done;
		}
		d.fd = -1;
		strbuf_reset(&tmp);
		cli_fmt_bytes(&sb, (double)d.size);
		printf("job %" PRId64 ": artifacts archive (%s) written to %s\n", o->job, sb.buf,
		       o->zip);
	}
	rc = CLI_OK;
done:
	if (!to_stdout && d.fd >= 0)
		close(d.fd);
	if (tmp.len)
		unlink(tmp.buf);
	strbuf_release(&path);
	strbuf_release(&tmp);
	strbuf_release(&why);
	strbuf_release(&sb);
	return rc;
}

static int do_get(struct client *c, const struct art_opts *o)
{
	struct strbuf err = STRBUF_INIT, sb = STRBUF_INIT;
	json_t *list = NULL, *a;
	char *used = xcalloc((size_t)o->npaths + 1, 1);
	const char *dir = o->dir ? o->dir : ".";
	int64_t bytes = 0;
	size_t i, files = 0;
	int rc, i2, failed = 0;

	for (i2 = 0; i2 < o->npaths; i2++) {
		const char *name = o->paths[i2];
		size_t n = strlen(name);
		char *bare = xstrndup(name, n && name[n - 1] == '/' ? n - 1 : n);
		int ok = cli_path_safe(bare);

		free(bare);
		if (!ok) {
			free(used);
			return cli_usage_error("artifacts", "refusing the path '%s' "
					       "(absolute, '..' or not a plain relative path)",
					       name);
		}
	}
	rc = fetch_list(c, o->job, &list);
	if (rc)
		goto done;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "cidre: cannot create %s: %s\n", dir, strerror(errno));
		rc = CLI_FAILED;
		goto done;
	}
	/* the whole set: one archive, unless the server is older than that */
	if (!o->npaths && json_array_size(list)) {
		rc = get_archive(c, o, list, dir, &files, &bytes);
		if (rc >= 0)
			goto summary;
		rc = 0;
	}
	json_array_foreach(list, i, a) {
		const char *p = cli_str(a, "path", "");

		if (!selected(o, p, used))
			continue;
		strbuf_reset(&err);
		if (get_one(c, o->job, a, dir, &err) < 0) {
			fprintf(stderr, "cidre: %s\n", err.buf);
			failed++;
			continue;
		}
		files++;
		bytes += cli_int(a, "size", 0);
	}
	for (i2 = 0; i2 < o->npaths; i2++)
		if (!used[i2]) {
			fprintf(stderr, "cidre: job %" PRId64 " has no artifact '%s'\n",
				o->job, o->paths[i2]);
			failed++;
		}
	rc = failed ? CLI_FAILED : CLI_OK;
summary:
	cli_fmt_bytes(&sb, (double)bytes);
	printf("job %" PRId64 ": %zu file%s (%s) written to %s\n", o->job, files,
	       files == 1 ? "" : "s", sb.buf, dir);
done:
	json_decref(list);
	free(used);
	strbuf_release(&err);
	strbuf_release(&sb);
	return rc;
}

/* o->job from --project, --job and --ref: the latest such job's id */
static int latest_job(struct client *c, struct art_opts *o)
{
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	json_t *res = NULL;
	int rc;

	cli_project_path(&path, o->project, "artifacts", NULL, 0);
	strbuf_addstr(&path, "?job=");
	client_escape(&path, o->job_name, 0);
	if (o->ref) {
		strbuf_addstr(&path, "&ref=");
		client_escape(&path, o->ref, 0);
	}
	rc = cli_report(client_request(c, "GET", path.buf, NULL, &res, &err), &err);
	if (!rc) {
		o->job = cli_int(json_object_get(res, "job"), "id", 0);
		if (o->job <= 0) {
			fprintf(stderr, "cidre: the server's answer names no job\n");
			rc = CLI_FAILED;
		}
	}
	json_decref(res);
	strbuf_release(&path);
	strbuf_release(&err);
	return rc;
}

int cmd_artifacts(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "zip", required_argument, NULL, 'z' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "project", required_argument, NULL, 'p' },
		{ "job", required_argument, NULL, 'j' },
		{ "ref", required_argument, NULL, 'r' },
		CLI_LONGOPTS_CONN,
		{ NULL, 0, NULL, 0 },
	};
	struct art_opts o;
	struct client c = CLIENT_INIT;
	const char *sub;
	int ch, rc;

	memset(&o, 0, sizeof(o));
	if (argc < 2)
		return cli_usage_error("artifacts", "wants 'list', 'get' or 'keep'");
	sub = argv[1];
	if (strcmp(sub, "list") && strcmp(sub, "get") && strcmp(sub, "keep"))
		return cli_usage_error("artifacts", "unknown subcommand '%s' (list, get, keep)",
				       sub);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:z:p:j:r:", longopts, NULL)) != -1) {
		if (cli_conn_opt(ch, optarg, &o.conn))
			continue;
		switch (ch) {
		case 'o':
			o.dir = optarg;
			break;
		case 'z':
			o.zip = optarg;
			break;
		case 'p':
			o.project = optarg;
			break;
		case 'j':
			o.job_name = optarg;
			break;
		case 'r':
			o.ref = optarg;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		default:
			return cli_bad_option("artifacts", argv[optind - 1], longopts);
		}
	}
	if (o.project || o.job_name || o.ref) {
		if (!o.project || !o.job_name)
			return cli_usage_error("artifacts", "--project and --job go together "
					       "(--ref with them)");
	} else {
		if (optind == argc)
			return cli_usage_error("artifacts", "wants a job id, or --project and --job");
		if (cli_parse_id(argv[optind], &o.job) < 0)
			return cli_usage_error("artifacts", "'%s' is not a job id", argv[optind]);
		optind++;
	}
	o.paths = argv + optind;
	o.npaths = argc - optind;
	if (strcmp(sub, "get") && (o.npaths || o.dir || o.zip))
		return cli_usage_error("artifacts", "%s takes only a job", sub);
	if (o.zip && (o.npaths || o.dir))
		return cli_usage_error("artifacts", "--zip takes the whole archive: no paths, "
				       "no --output");
	if (!strcmp(sub, "keep") && o.json)
		return cli_usage_error("artifacts", "--json goes with list");
	if (!strcmp(sub, "get") && o.json)
		return cli_usage_error("artifacts", "--json goes with list");
	rc = cli_open(&c, &o.conn);
	if (rc)
		return rc;
	if (o.job_name && (rc = latest_job(&c, &o))) {
		client_close(&c);
		return rc;
	}
	if (o.zip)
		rc = do_zip(&c, &o);
	else
		rc = !strcmp(sub, "list") ? do_list(&c, &o) :
		     !strcmp(sub, "get") ? do_get(&c, &o) : do_keep(&c, &o);
	client_close(&c);
	return rc;
}
