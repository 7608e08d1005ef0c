/*
 * The image store. See image.h and docs/internals/sandbox.md.
 *
 * Tarballs are unpacked by tar(1) (GNU tar reads every compression
 * Debian ships and never writes through a symbolic link it made), after
 * our own check of the member list and before our own check of every
 * symbolic link it made: see image_unpack().
 */
#include "exec/image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec/copy.h"
#include "exec/oci.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "util/sha256.h"
#include "util/strvec.h"
#include "util/xalloc.h"

char *image_default_store(void)
{
	const char *e = getenv("CIDRE_IMAGES");

	if (e && *e)
		return xstrdup(e);
	e = getenv("XDG_DATA_HOME");
	if (e && *e == '/')
		return xasprintf("%s/cidre/images", e);
	e = getenv("HOME");
	return xasprintf("%s/.local/share/cidre/images", e && *e ? e : "/tmp");
}

/* n bytes at p: [A-Za-z0-9][A-Za-z0-9._-]* */
static int word_ok(const char *p, size_t n)
{
	size_t i;

	if (!n || !isalnum((unsigned char)p[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i]))
			return 0;
	return 1;
}

char *image_store_absolute(char *store)
{
	char *cwd, *abs;

	if (!store || store[0] == '/' || !(cwd = getcwd(NULL, 0)))
		return store;
	abs = xasprintf("%s/%s", cwd, store);
	free(cwd);
	free(store);
	return abs;
}

int image_name_ok(const char *name)
{
	const char *at, *last, *c, *end;
	size_t len;

	if (!name || !*name || (len = strlen(name)) > IMAGE_NAME_MAX)
		return 0;
	end = name + len;
	/* a digest: @sha256:HEX */
	at = strchr(name, '@');
	if (at) {
		const char *hex = at + 1;

		if (strchr(hex, '@') || strncmp(hex, "sha256:", 7) ||
		    strlen(hex + 7) != 64 || strspn(hex + 7, "0123456789abcdef") != 64)
			return 0;
		end = at;
	}
	last = name;
	for (c = name; c < end; c++)
		if (*c == '/')
			last = c + 1;
	/* the components before the last: words; the first may have a port */
	for (c = name; c < last;) {
		const char *slash = memchr(c, '/', (size_t)(last - c));
		const char *colon = memchr(c, ':', (size_t)(slash - c));

		if (colon) {
			if (c != name || colon + 1 == slash ||
			    strspn(colon + 1, "0123456789") != (size_t)(slash - colon - 1))
				return 0;
		}
		if (!word_ok(c, (size_t)((colon ? colon : slash) - c)))
			return 0;
		c = slash + 1;
	}
	/* the last: a word, and a tag after one ":" */
	c = memchr(last, ':', (size_t)(end - last));
	if (c)
		return word_ok(last, (size_t)(c - last)) &&
		       word_ok(c + 1, (size_t)(end - c - 1)) &&
		       !memchr(c + 1, ':', (size_t)(end - c - 1));
	return word_ok(last, (size_t)(end - last));
}

char *image_name_file(const char *name)
{
	char *f = xstrdup(name), *p;

	for (p = f; *p; p++)
		if (*p == '/')
			*p = '+';
	return f;
}

struct size_walk {
	const char *root;
	long long size;
	size_t entries;
};

static int size_cb(const char *rel, unsigned char type, void *data)
{
	struct size_walk *w = data;
	struct stat st;
	char *p;

	w->entries++;
	if (type != DT_REG)
		return 0;
	p = xasprintf("%s/%s", w->root, rel);
	if (!lstat(p, &st))
		w->size += st.st_size;
	free(p);
	return 0;
}

static long long tree_size(const char *root)
{
	struct size_walk w = { root, 0, 0 };
	struct strbuf err = STRBUF_INIT;

	if (copy_walk(root, COPY_WALK_MISSING_OK, size_cb, &w, &err) < 0)
		w.size = -1;
	strbuf_release(&err);
	return w.size;
}

struct link_walk {
	const char *root;
	struct strbuf *err;
};

/*
 * Every symbolic link of an unpacked tarball must stay inside it; no
 * file keeps a setuid or setgid bit. In a job they do nothing (the
 * sandbox mounts the image nosuid, and no_new_privs is set), but on this
 * host a setuid root shell from an image unpacked as root would be one
 * for whoever can reach the store.
 */
static int link_cb(const char *rel, unsigned char type, void *data)
{
	struct link_walk *w = data;
	char target[PATH_MAX];
	char *p;
	ssize_t n;
	struct stat st;

	if (type == DT_REG || type == DT_DIR) {
		p = xasprintf("%s/%s", w->root, rel);
		if (!lstat(p, &st) && (st.st_mode & (S_ISUID | S_ISGID)) &&
		    (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		    chmod(p, st.st_mode & 01777) < 0) {
			strbuf_addf(w->err, "cannot clear the setuid bit of %s: %s",
				    rel, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
		return 0;
	}
	if (type != DT_LNK)
		return 0;
	p = xasprintf("%s/%s", w->root, rel);
	n = readlink(p, target, sizeof(target) - 1);
	free(p);
	if (n < 0) {
		strbuf_addf(w->err, "cannot read symbolic link %s", rel);
		return -1;
	}
	target[n] = '\0';
	return sandbox_check_symlink(rel, target, w->err) < 0 ? -1 : 0;
}

int image_tree_check(const char *root, struct strbuf *err)
{
	struct link_walk w = { root, err };
	char *etc = xasprintf("%s/etc", root), *hosts;
	struct stat st;
	int r = copy_walk(root, 0, link_cb, &w, err), fd;

	/*
	 * An empty /etc/hosts (Docker writes one into every container): the
	 * mount point of the one that names a job's services. Made in a
	 * real directory only, never through a link.
	 */
	hosts = xasprintf("%s/hosts", etc);
	if (!r && !lstat(etc, &st) && S_ISDIR(st.st_mode) && lstat(hosts, &st) < 0 &&
	    errno == ENOENT) {
		fd = open(hosts, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0644);
		if (fd >= 0) {
			static const char text[] = "127.0.0.1\tlocalhost\n"
						   "::1\tlocalhost\n";

			if (write(fd, text, sizeof(text) - 1) < 0) {
				/* an empty one is a mount point all the same */
			}
			close(fd);
		}
	}
	free(etc);
	free(hosts);
	return r;
}

/* Check the member list `tar -tf` printed (one escaped name a line). */
static int check_listing(const char *tarball, char *list, struct strbuf *err)
{
	char *line = list, *nl;
	size_t n = 0;
	struct strbuf why = STRBUF_INIT;

	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		if (++n > IMAGE_MAX_MEMBERS) {
			strbuf_addf(err, "tarball %s refused: more than %d members",
				    tarball, IMAGE_MAX_MEMBERS);
			strbuf_release(&why);
			return -1;
		}
		if (nl > line) {
			char save = *nl;

			*nl = '\0';
			if (strcmp(line, "./") && strcmp(line, ".") &&
			    sandbox_check_member(line, &why) < 0) {
				strbuf_addf(err, "tarball %s refused: %s", tarball, why.buf);
				strbuf_release(&why);
				return -1;
			}
			*nl = save;
		}
		if (!*nl)
			break;
	}
	strbuf_release(&why);
	if (!n) {
		strbuf_addf(err, "tarball %s is empty", tarball);
		return -1;
	}
	return 0;
}

/* Whether an image of this kind was unpacked into the store. */
static int kind_unpacked(const char *kind)
{
	return kind && strcmp(kind, "directory");
}

/* ROOT.image.json: what a container image's config says, or NULL. */
static json_t *root_info(const char *root)
{
	char *path = xasprintf("%s.image.json", root);
	json_t *o = json_load_file(path, 0, NULL);

	free(path);
	return o;
}

/*
 * Unpack a plain tarball (a root filesystem) into tmp: tarball, or its
 * decompressed copy plain (NULL: none).
 */
static int unpack_plain(const char *tarball, const char *plain, const char *tmp,
			struct strbuf *err)
{
	const char *argv[] = { "tar", "-xf", plain ? plain : tarball, "-C", tmp,
			       "--no-same-owner", "--delay-directory-restore", NULL };
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;
	int status = -1, ret = 0;

	if (proc_capture(argv, NULL, NULL, 1 << 20, &out, &status, &why) < 0 ||
	    status) {
		strbuf_rtrim(&why);
		strbuf_addf(err, "unpacking %s failed: %s", tarball,
			    why.len ? why.buf : "tar failed");
		ret = -1;
	}
	strbuf_release(&out);
	strbuf_release(&why);
	return ret;
}

/* The store's key of an OCI layout directory: its index's digest. */
static int layout_digest(const char *dir, char hex[SHA256_HEX_LEN + 1],
			 struct strbuf *err)
{
	char *index = xasprintf("%s/index.json", dir), ih[SHA256_HEX_LEN + 1];
	char *both;
	int r = oci_file_sha256(index, ih, err);

	free(index);
	if (r < 0)
		return -1;
	both = xasprintf("oci-layout\n%s", ih);
	sha256_hex(both, strlen(both), hex);
	free(both);
	return 0;
}

int image_unpack(const char *store, const char *src, const char *want,
		 char **ret_root, char **ret_digest, char **ret_kind,
		 struct strbuf *err)
{
	char hex[SHA256_HEX_LEN + 1];
	char *roots = NULL, *root = NULL, *ok = NULL, *tmp = NULL, *lock = NULL;
	char *archive = NULL, *work = NULL, *tsrc = NULL;
	const char *kind = "tarball", *ck;
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;
	int status = -1, ret = -1, fd, lock_fd = -1, many = 0;
	json_t *info = NULL;
	struct stat st;

	if (stat(src, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
		strbuf_addf(err, "%s is not a tarball: %s", src,
			    errno ? strerror(errno) : "not a regular file");
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!oci_is_layout(src)) {
			strbuf_addf(err, "%s is a directory, not an OCI image layout "
				    "(no oci-layout and index.json)", src);
			return -1;
		}
		kind = "oci-layout";
		if (layout_digest(src, hex, err) < 0)
			return -1;
	} else if (oci_file_sha256(src, hex, err) < 0) {
		return -1;
	}
	roots = xasprintf("%s/roots", store);
	root = xasprintf("%s/%s", roots, hex);
	ok = xasprintf("%s.ok", root);
	if (!access(ok, F_OK) && !stat(root, &st) && S_ISDIR(st.st_mode))
		goto found;
	if (copy_mkdirs(roots, err) < 0)
		goto done;
	/*
	 * One unpacking of a tarball at a time (jobs of one run, several
	 * processes): the others wait, then find it done. The lock is per
	 * open file, so threads of one process exclude each other too.
	 */
	lock = xasprintf("%s.lock", root);
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
		strbuf_addf(err, "cannot lock %s: %s", lock, strerror(errno));
		goto done;
	}
	if (!access(ok, F_OK) && !stat(root, &st) && S_ISDIR(st.st_mode))
		goto found;
	/* the work is done in a directory only we can enter: no one runs
	   what it holds before its setuid bits are cleared */
	work = xasprintf("%s/.tmp-%s-%ld", roots, hex, (long)getpid());
	tmp = xasprintf("%s/root", work);
	if (copy_rmtree(work, err) < 0)
		goto done;
	if (mkdir(work, 0700) < 0 || mkdir(tmp, 0755) < 0) {
		strbuf_addf(err, "cannot make %s: %s", tmp, strerror(errno));
		goto done;
	}
	if (!strcmp(kind, "tarball")) {
		/* a gzip tarball decompressed once, for the listing and the
		   unpack both (oci_gunzip_copy) */
		char *plain = xasprintf("%s/source.tar", work);
		const char *argv[] = { "tar", "-P", "--quoting-style=escape", "-tf",
				       src, NULL };

		if (oci_gunzip_copy(src, plain) == 1)
			tsrc = plain;
		else
			free(plain);
		argv[4] = tsrc ? tsrc : src;

		if (proc_capture(argv, NULL, NULL, IMAGE_MAX_LISTING, &out,
				 &status, &why) < 0 || status) {
			strbuf_rtrim(&why);
			strbuf_addf(err, "tarball %s cannot be read: %s", src,
				    why.len ? why.buf : "tar failed");
			goto done;
		}
		if (check_listing(src, out.buf, err) < 0)
			goto done;
		/* a container image's archive, or a root filesystem */
		if ((ck = oci_archive_kind(out.buf)))
			kind = ck;
	}
	if (!strcmp(kind, "tarball")) {
		if (unpack_plain(src, tsrc, tmp, err) < 0)
			goto done;
	} else {
		const char *dir = src;

		if (strcmp(kind, "oci-layout")) {
			/* the archive's files, then the image from them */
			archive = xasprintf("%s/archive", work);
			if (mkdir(archive, 0700) < 0) {
				strbuf_addf(err, "cannot make %s: %s", archive,
					    strerror(errno));
				goto done;
			}
			if (unpack_plain(src, tsrc, archive, err) < 0)
				goto done;
			dir = archive;
		}
		if (oci_unpack(dir, want, tmp, &info, &many, &why) < 0) {
			strbuf_addf(err, "%s refused: %s", src, why.buf);
			goto done;
		}
		json_object_set_new(info, "kind", json_string(kind));
		if (many) {
			/* one of several: the key is the source's and the image's,
			   so that names picking the same image share its root */
			const char *id = json_string_value(json_object_get(info,
									   "manifest"));
			char *both = xasprintf("%s\n%s", hex, id ? id : "");

			sha256_hex(both, strlen(both), hex);
			free(both);
			free(root);
			free(ok);
			root = xasprintf("%s/%s", roots, hex);
			ok = xasprintf("%s.ok", root);
			/* there already: never replaced under running jobs */
			if (!access(ok, F_OK) && !stat(root, &st) && S_ISDIR(st.st_mode))
				goto found;
		}
	}
	strbuf_reset(&why);
	if (image_tree_check(tmp, &why) < 0) {
		strbuf_addf(err, "tarball %s refused: %s", src, why.buf);
		goto done;
	}
	if (copy_rmtree(root, err) < 0)
		goto done;
	if (rename(tmp, root) < 0) {
		strbuf_addf(err, "cannot move %s to %s: %s", tmp, root, strerror(errno));
		goto done;
	}
	if (info) {
		char *path = xasprintf("%s.image.json", root);

		if (json_dump_file(info, path, JSON_INDENT(2)) < 0) {
			strbuf_addf(err, "cannot write %s", path);
			free(path);
			goto done;
		}
		free(path);
	}
	fd = open(ok, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		strbuf_addf(err, "cannot write %s: %s", ok, strerror(errno));
		goto done;
	}
	close(fd);
found:
	if (ret_kind) {
		json_t *o = info ? json_incref(info) : root_info(root);
		const char *k = json_string_value(json_object_get(o, "kind"));

		*ret_kind = xstrdup(k ? k : kind);
		json_decref(o);
	}
	*ret_root = root;
	root = NULL;
	if (ret_digest)
		*ret_digest = xstrdup(hex);
	ret = 0;
done:
	if (work) {
		struct strbuf e2 = STRBUF_INIT;

		if (copy_rmtree(work, &e2) < 0) {
			/* left for the next unpack of the same tarball */
		}
		strbuf_release(&e2);
	}
	if (lock_fd >= 0)
		close(lock_fd); /* releases the lock */
	json_decref(info);
	free(archive);
	free(tsrc);
	free(work);
	free(lock);
	free(tmp);
	free(roots);
	free(root);
	free(ok);
	strbuf_release(&out);
	strbuf_release(&why);
	return ret;
}

json_t *image_config(const char *store, const char *root)
{
	char *roots = xasprintf("%s/roots/", store);
	int inside = !strncmp(root, roots, strlen(roots));

	free(roots);
	return inside ? root_info(root) : NULL;
}

char **image_env(const char *store, const char *root)
{
	char *roots = xasprintf("%s/roots/", store);
	json_t *o, *env, *e;
	struct strvec v = STRVEC_INIT;
	size_t i;

	/* only what the store unpacked has one: never a file beside a
	   directory registered where it is */
	if (strncmp(root, roots, strlen(roots))) {
		free(roots);
		return NULL;
	}
	free(roots);
	o = root_info(root);
	env = json_object_get(o, "env");

	json_array_foreach(env, i, e)
		if (json_is_string(e) && strchr(json_string_value(e), '='))
			strvec_push(&v, json_string_value(e));
	json_decref(o);
	if (!v.nr)
		return NULL;
	return v.v;     /* malloc'ed once pushed to */
}

static char *name_file(const char *store, const char *name, const char *ext)
{
	char *f = image_name_file(name), *path;

	path = xasprintf("%s/names/%s.%s", store, f, ext);
	free(f);
	return path;
}

static char *absolute(const char *path, const char *base)
{
	char *joined = path[0] == '/' || !base ? xstrdup(path)
					      : xasprintf("%s/%s", base, path);
	char *real = realpath(joined, NULL);

	if (real) {
		free(joined);
		return real;
	}
	return joined;
}

/* Standard input into a new file at path (0600). 0, or -1 (removed). */
static int save_stdin(const char *path, struct strbuf *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char *buf;
	ssize_t n = 0;

	if (fd < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	buf = xmalloc(1 << 16);
	for (;;) {
		ssize_t off = 0;

		n = read(0, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (off < n) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				strbuf_addf(err, "cannot write %s: %s", path,
					    w < 0 ? strerror(errno) : "short write");
				n = -2;
				break;
			}
			off += w;
		}
		if (n == -2)
			break;
	}
	free(buf);
	if (n == -1)
		strbuf_addf(err, "cannot read standard input: %s", strerror(errno));
	if (close(fd) < 0 && n == 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		n = -1;
	}
	if (n < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

int image_add(const char *store, const char *name, const char *path,
	      struct strbuf *msg, struct strbuf *err)
{
	return image_add_from(store, name, path, NULL, NULL, msg, err);
}

int image_registered(const char *store, const char *name)
{
	char *path;
	int yes;

	if (!image_name_ok(name))
		return 0;
	path = name_file(store, name, "json");
	yes = !access(path, F_OK);
	free(path);
	return yes;
}

int image_is_path(const char *image, const char *base)
{
	char *p;
	struct stat st;
	int yes;

	if (image[0] == '/' || image[0] == '.' || !image_name_ok(image))
		return 1;
	if (!strchr(image, '/'))
		return 0;
	p = absolute(image, base);
	yes = !stat(p, &st);
	free(p);
	return yes;
}

int image_layout_unpacked(const char *store, const char *dir)
{
	char hex[SHA256_HEX_LEN + 1];
	struct strbuf err = STRBUF_INIT;
	struct stat st;
	char *root, *ok;
	int yes;

	if (layout_digest(dir, hex, &err) < 0) {
		strbuf_release(&err);
		return 0;
	}
	root = xasprintf("%s/roots/%s", store, hex);
	ok = xasprintf("%s.ok", root);
	yes = !access(ok, F_OK) && !stat(root, &st) && S_ISDIR(st.st_mode);
	free(root);
	free(ok);
	return yes;
}

static json_t *read_name(const char *store, const char *name, struct strbuf *err);
static int root_in_use(const char *store, const char *root, const char *skip);
static int retire_root(const char *store, const char *root, struct strbuf *err);

int image_add_from(const char *store, const char *name, const char *path,
		   const char *source, const char *as_kind, struct strbuf *msg,
		   struct strbuf *err)
{
	char *src = NULL, *root = NULL, *digest = NULL, *json = NULL, *dir = NULL;
	char *tmp = NULL, *ukind = NULL, *in = NULL;
	const char *kind, *label = NULL;
	struct stat st;
	json_t *o = NULL;
	long long size;
	int ret = -1;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	struct strbuf why = STRBUF_INIT;

	if (!image_name_ok(name)) {
		strbuf_addf(err, "bad image name \"%s\": words of letters, digits, "
			    "\".\", \"_\" and \"-\" (each starting with a letter or a "
			    "digit) separated by \"/\", a \":TAG\" after the last, a "
			    "\":PORT\" after the first, an \"@sha256:DIGEST\" at the end; "
			    "at most %d", name, IMAGE_NAME_MAX);
		return -1;
	}
	if (!strcmp(path, "-")) {
		/* docker save app | cidre image add app - */
		if (isatty(0)) {
			strbuf_addstr(err, "\"-\" reads a tarball from standard input, "
				      "which is a terminal (docker save IMAGE | cidre "
				      "image add NAME -)");
			goto done;
		}
		if (copy_mkdirs(store, err) < 0)
			goto done;
		in = xasprintf("%s/.stdin-%ld.tar", store, (long)getpid());
		if (save_stdin(in, err) < 0)
			goto done;
		src = xstrdup(in);
		label = "(standard input)";
	} else {
		src = absolute(path, NULL);
		label = source;
	}
	if (stat(src, &st) < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode) && !oci_is_layout(src)) {
		kind = "directory";
		root = xstrdup(src);
	} else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		if (image_unpack(store, src, name, &root, &digest, &ukind, err) < 0)
			goto done;
		kind = as_kind ? as_kind : ukind;
	} else {
		strbuf_addf(err, "%s is neither a directory nor a tarball", path);
		goto done;
	}
	if (!sandbox_shell(root, &why)) {
		strbuf_addf(err, "not an image: %s", why.buf);
		goto done;
	}
	size = tree_size(root);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "name", name, "root", root,
		      "source", label ? label : src, "kind", kind,
		      "size", (json_int_t)size, "added", when);
	if (digest)
		json_object_set_new(o, "digest", json_string(digest));
	dir = xasprintf("%s/names", store);
	if (copy_mkdirs(dir, err) < 0)
		goto done;
	json = name_file(store, name, "json");
	tmp = xasprintf("%s.tmp-%ld", json, (long)getpid());
	{
		/* what the name had: set aside once nothing uses it */
		struct strbuf aside = STRBUF_INIT;
		json_t *was = access(json, F_OK) ? NULL : read_name(store, name, &aside);

		strbuf_release(&aside);
		if (json_dump_file(o, tmp, JSON_INDENT(2)) < 0 || rename(tmp, json) < 0) {
			strbuf_addf(err, "cannot write %s: %s", json, strerror(errno));
			unlink(tmp);
			json_decref(was);
			goto done;
		}
		if (was) {
			const char *wk = json_string_value(json_object_get(was, "kind"));
			const char *wr = json_string_value(json_object_get(was, "root"));

			if (wr && strcmp(wr, root) && kind_unpacked(wk) &&
			    !root_in_use(store, wr, name))
				retire_root(store, wr, &aside);
			strbuf_release(&aside);
			json_decref(was);
		}
		image_sweep(store, IMAGE_RETIRED_KEEP, NULL, &aside);
		strbuf_release(&aside);
	}
	strbuf_addf(msg, "image %s: %s %s (%.1f MB)%s%s", name, kind,
		    label ? label : src, size / 1e6, digest ? ", unpacked to " : "",
		    digest ? root : "");
	ret = 0;
done:
	if (in) {
		unlink(in);
		free(in);
	}
	json_decref(o);
	strbuf_release(&why);
	free(src);
	free(root);
	free(digest);
	free(ukind);
	free(json);
	free(dir);
	free(tmp);
	return ret;
}

/* Read STORE/names/NAME.json. NULL with the reason in err. */
static json_t *read_name(const char *store, const char *name, struct strbuf *err)
{
	char *path = name_file(store, name, "json");
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);

	if (!o) {
		if (access(path, F_OK))
			strbuf_addf(err, "image \"%s\" is not registered in %s", name,
				    store);
		else
			strbuf_addf(err, "image \"%s\": %s is corrupt: %s", name,
				    path, je.text);
	} else if (!json_is_string(json_object_get(o, "root"))) {
		strbuf_addf(err, "image \"%s\": %s is corrupt: no root", name, path);
		json_decref(o);
		o = NULL;
	}
	free(path);
	return o;
}

int image_current(const char *store, const char *name, const char *source)
{
	struct strbuf err = STRBUF_INIT;
	json_t *o = image_name_ok(name) ? read_name(store, name, &err) : NULL;
	const char *src = json_string_value(json_object_get(o, "source"));
	const char *root = json_string_value(json_object_get(o, "root"));
	int yes = 0;

	if (src && root && !strcmp(src, source)) {
		char *ok = xasprintf("%s.ok", root);

		yes = !access(ok, F_OK);
		free(ok);
	}
	json_decref(o);
	strbuf_release(&err);
	return yes;
}

/* Whether name is registered in store. */
static int registered(const char *store, const char *name)
{
	char *path = name_file(store, name, "json");
	int yes = !access(path, F_OK);

	free(path);
	return yes;
}

/* Whether some registered image other than skip has root. */
static int root_in_use(const char *store, const char *root, const char *skip)
{
	struct image_info *v;
	size_t nr, i;
	struct strbuf err = STRBUF_INIT;
	int used = 0;

	if (image_list(store, &v, &nr, &err) < 0) {
		strbuf_release(&err);
		return 1;
	}
	for (i = 0; i < nr; i++)
		if (strcmp(v[i].name, skip) && !strcmp(v[i].root, root))
			used = 1;
	image_info_release(v, nr);
	strbuf_release(&err);
	return used;
}

/*
 * An unpacked root no name uses any more, set aside: renamed to
 * roots/.old-HEX-TIME (its .ok, .lock and .image.json removed), so that
 * a job still running in it keeps its files, and deleted by
 * image_sweep() once it is older than IMAGE_RETIRED_KEEP (or by `cidre
 * image prune`). A root unpacked again under the same key is new files.
 */
static int retire_root(const char *store, const char *root, struct strbuf *err)
{
	const char *hex = strrchr(root, '/');
	char *okf = xasprintf("%s.ok", root), *lockf = xasprintf("%s.lock", root);
	char *infof = xasprintf("%s.image.json", root), *old;
	int ret = 0;

	unlink(okf);
	unlink(lockf);
	unlink(infof);
	old = xasprintf("%s/roots/.old-%s-%lld", store, hex ? hex + 1 : "root",
			(long long)time(NULL));
	if (rename(root, old) < 0 && errno != ENOENT)
		ret = copy_rmtree(root, err);
	free(old);
	free(okf);
	free(lockf);
	free(infof);
	return ret;
}

/* The number after the last "-" of name, or -1. */
static long long name_suffix(const char *name)
{
	const char *d = strrchr(name, '-');
	char *end;
	long long v;

	if (!d || !d[1])
		return -1;
	v = strtoll(d + 1, &end, 10);
	return *end || v < 0 ? -1 : v;
}

/* Whether pid (a number) is a running process. */
static int pid_alive(long long pid)
{
	return pid > 0 && pid <= INT32_MAX && (!kill((pid_t)pid, 0) || errno == EPERM);
}

char *image_layer_cache(const char *store)
{
	return xasprintf("%s/blobs/sha256", store);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The layers' hex digests the unpacked roots list, sorted. */
static void listed_layers(const char *store, struct strvec *out)
{
	char *dir = xasprintf("%s/roots", store);
	DIR *dp = opendir(dir);
	struct dirent *e;

	while (dp && (e = readdir(dp))) {
		size_t n = strlen(e->d_name), i;
		json_t *o, *ds, *d;
		char *path;

		if (n != SHA256_HEX_LEN + 11 || e->d_name[0] == '.' ||
		    strcmp(e->d_name + SHA256_HEX_LEN, ".image.json"))
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		o = json_load_file(path, 0, NULL);
		free(path);
		ds = json_object_get(o, "layer_digests");
		json_array_foreach(ds, i, d) {
			const char *s = json_string_value(d);

			if (s && !strncmp(s, "sha256:", 7))
				strvec_push(out, s + 7);
		}
		json_decref(o);
	}
	if (dp)
		closedir(dp);
	free(dir);
	if (out->nr)
		qsort(out->v, out->nr, sizeof(*out->v), cmp_str);
}

/* Cached layers no root lists, last linked more than keep seconds ago. */
static int sweep_layers(const char *store, long long keep,
			struct image_sweep_result *res, struct strbuf *err)
{
	char *dir = image_layer_cache(store);
	struct strvec listed = STRVEC_INIT;
	time_t now = time(NULL);
	DIR *dp = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (dp)
		listed_layers(store, &listed);
	while (dp && (e = readdir(dp))) {
		const char *n = e->d_name;
		struct stat st;

		if (n[0] == '.')
			continue;
		if (listed.nr && bsearch(&n, listed.v, listed.nr, sizeof(*listed.v),
					 cmp_str))
			continue;
		/* a link's ctime is when it was last linked: a pull that
		   linked it is still unpacking, or was interrupted and will
		   be run again */
		if (fstatat(dirfd(dp), n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    now - st.st_ctime < keep)
			continue;
		if (unlinkat(dirfd(dp), n, 0) < 0) {
			if (errno != ENOENT) {
				strbuf_addf(err, "cannot remove %s/%s: %s", dir, n,
					    strerror(errno));
				ret = -1;
			}
			continue;
		}
		if (res) {
			res->layers++;
			res->layer_bytes += st.st_nlink == 1 ? st.st_size : 0;
		}
	}
	if (dp)
		closedir(dp);
	strvec_clear(&listed);
	free(dir);
	return ret;
}

int image_sweep(const char *store, long long keep, struct image_sweep_result *res,
		struct strbuf *err)
{
	const char *const dirs[] = { "roots", "built", "" };
	time_t now = time(NULL);
	size_t d;
	int ret = 0;

	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		char *dir = xasprintf("%s%s%s", store, *dirs[d] ? "/" : "", dirs[d]);
		DIR *dp = opendir(dir);
		struct dirent *e;

		while (dp && (e = readdir(dp))) {
			const char *n = e->d_name;
			long long v = name_suffix(n);
			int gone = 0;
			char *path;

			if (n[0] != '.' || !strcmp(n, ".") || !strcmp(n, ".."))
				continue;
			if (!strncmp(n, ".old-", 5))
				gone = v >= 0 && now - v >= keep;      /* retired roots */
			else if (!strncmp(n, ".stdin-", 7))
				/* .stdin-PID.tar */
				gone = !pid_alive(strtoll(n + 7, NULL, 10));
			else if (!strncmp(n, ".tmp-", 5) || !strncmp(n, ".pull-", 6))
				/* what a cidre that died was making */
				gone = v >= 0 && !pid_alive(v);
			if (!gone)
				continue;
			if (!strncmp(n, ".stdin-", 7)) {
				if (d != 2)
					continue;
				path = xasprintf("%s/%s", dir, n);
				unlink(path);
				free(path);
				continue;
			}
			path = xasprintf("%s/%s", dir, n);
			{
				long long sz = res ? tree_size(path) : 0;

				if (copy_rmtree(path, err) < 0) {
					ret = -1;
				} else if (res) {
					res->removed++;
					res->bytes += sz > 0 ? sz : 0;
				}
			}
			free(path);
		}
		if (dp)
			closedir(dp);
		free(dir);
	}
	if (sweep_layers(store, keep, res, err) < 0)
		ret = -1;
	return ret;
}

int image_prune(const char *store, struct image_sweep_result *res,
		struct strbuf *err)
{
	struct image_info *v = NULL;
	size_t nr = 0, i;
	char *dir = xasprintf("%s/roots", store);
	DIR *dp;
	struct dirent *e;
	int ret = 0;

	if (image_list(store, &v, &nr, err) < 0) {
		free(dir);
		return -1;
	}
	/* unpacked roots no name uses: set aside, then swept with the rest */
	dp = opendir(dir);
	while (dp && (e = readdir(dp))) {
		char *root;
		int used = 0;

		if (e->d_name[0] == '.' || strlen(e->d_name) != SHA256_HEX_LEN)
			continue;
		root = xasprintf("%s/%s", dir, e->d_name);
		for (i = 0; i < nr && !used; i++)
			used = !strcmp(v[i].root, root);
		if (!used && retire_root(store, root, err) < 0)
			ret = -1;
		free(root);
	}
	if (dp)
		closedir(dp);
	image_info_release(v, nr);
	free(dir);
	if (image_sweep(store, 0, res, err) < 0)
		ret = -1;
	return ret;
}

int image_rm(const char *store, const char *name, struct strbuf *err)
{
	json_t *o;
	char *json, *uses;
	const char *kind, *root;
	int ret = 0;

	if (!image_name_ok(name)) {
		strbuf_addf(err, "bad image name \"%s\"", name);
		return -1;
	}
	o = read_name(store, name, err);
	if (!o)
		return -1;
	kind = json_string_value(json_object_get(o, "kind"));
	root = json_string_value(json_object_get(o, "root"));
	if (kind_unpacked(kind) && !root_in_use(store, root, name))
		ret = retire_root(store, root, err);
	json = name_file(store, name, "json");
	uses = name_file(store, name, "uses");
	if (unlink(json) < 0 && errno != ENOENT) {
		strbuf_addf(err, "cannot remove %s: %s", json, strerror(errno));
		ret = -1;
	}
	unlink(uses);
	free(json);
	free(uses);
	json_decref(o);
	if (image_sweep(store, IMAGE_RETIRED_KEEP, NULL, err) < 0)
		ret = -1;
	return ret;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct image_info *)a)->name,
		      ((const struct image_info *)b)->name);
}

static void read_uses(const char *store, struct image_info *in)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = name_file(store, in->name, "uses");
	size_t i, start = 0;

	if (strbuf_read_file(&sb, path, IMAGE_USES_MAX + 4096) >= 0) {
		for (i = 0; i < sb.len; i++) {
			if (sb.buf[i] != '\n')
				continue;
			in->uses++;
			if (i > start) {
				free(in->last_use);
				in->last_use = xstrndup(sb.buf + start, i - start);
			}
			start = i + 1;
		}
	}
	strbuf_release(&sb);
	free(path);
}

int image_list(const char *store, struct image_info **ret, size_t *nr,
	       struct strbuf *err)
{
	char *dir = xasprintf("%s/names", store);
	DIR *d = opendir(dir);
	struct dirent *de;
	struct image_info *v = NULL;
	size_t n = 0, alloc = 0, i;

	*ret = NULL;
	*nr = 0;
	if (!d) {
		free(dir);
		if (errno == ENOENT)
			return 0;
		strbuf_addf(err, "cannot read %s/names: %s", store, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		char *name;
		json_t *o;
		struct strbuf why = STRBUF_INIT;
		struct stat st;

		if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		name = xstrndup(de->d_name, l - 5);
		for (i = 0; name[i]; i++)
			if (name[i] == '+')
				name[i] = '/';
		if (!image_name_ok(name) || !(o = read_name(store, name, &why))) {
			free(name);
			strbuf_release(&why);
			continue;
		}
		ALLOC_GROW(v, n + 1, alloc);
		memset(&v[n], 0, sizeof(v[n]));
		v[n].name = name;
		v[n].root = xstrdup(json_string_value(json_object_get(o, "root")));
		v[n].source = xstrdup_or_null(json_string_value(json_object_get(o, "source")));
		v[n].kind = xstrdup_or_null(json_string_value(json_object_get(o, "kind")));
		v[n].size = json_integer_value(json_object_get(o, "size"));
		v[n].ok = !stat(v[n].root, &st) && S_ISDIR(st.st_mode);
		if (v[n].ok && kind_unpacked(v[n].kind)) {
			char *okf = xasprintf("%s.ok", v[n].root);

			v[n].ok = !access(okf, F_OK);
			free(okf);
		}
		read_uses(store, &v[n]);
		if (v[n].ok && kind_unpacked(v[n].kind) && strcmp(v[n].kind, "tarball")) {
			json_t *info = root_info(v[n].root);
			const char *ref = json_string_value(json_object_get(info, "ref"));
			const char *arch = json_string_value(
				json_object_get(info, "architecture"));

			/* a pulled image: where from, and which manifest */
			if (!strcmp(v[n].kind, "registry") && v[n].source)
				ref = v[n].source;
			if (info) {
				/* what runs a job's shell in it (jobrun's
				   setup_entrypoint), when it has one */
				json_t *ep = json_object_get(info, "entrypoint");
				const char *e0 = json_string_value(json_array_get(ep, 0));

				v[n].from = xasprintf("%s, linux/%s, %lld layers, %zu "
						      "variables%s%s", ref && *ref ? ref :
						      "(no name)", arch ? arch : "?",
						      (long long)json_integer_value(
							      json_object_get(info, "layers")),
						      json_array_size(json_object_get(
							      info, "env")),
						      e0 && *e0 ? ", entrypoint " : "",
						      e0 && *e0 ? e0 : "");
			}
			json_decref(info);
		}
		n++;
		json_decref(o);
		strbuf_release(&why);
	}
	closedir(d);
	free(dir);
	if (n)
		qsort(v, n, sizeof(*v), cmp_info);
	*ret = v;
	*nr = n;
	return 0;
}

void image_info_release(struct image_info *v, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(v[i].name);
		free(v[i].root);
		free(v[i].source);
		free(v[i].kind);
		free(v[i].last_use);
		free(v[i].from);
	}
	free(v);
}

int image_resolve(const char *store, const char *image, const char *base,
		  char **ret_root, char **ret_name, struct strbuf *err)
{
	struct stat st;
	char *root = NULL;

	*ret_name = NULL;
	if (!image || !*image) {
		strbuf_addstr(err, "empty image name");
		return -1;
	}
	/*
	 * A registered name first (registry.example.com/team/app:1 too, as a
	 * container pipeline names it), then a path: anything with a "/"
	 */
	if (image_name_ok(image) && (!strchr(image, '/') ||
				     registered(store, image))) {
		json_t *o;
		const char *kind;

		o = read_name(store, image, err);
		if (!o) {
			strbuf_addf(err, " (register it with `cidre image add %s "
				    "PATH|TARBALL`, or give a path)", image);
			return -1;
		}
		root = xstrdup(json_string_value(json_object_get(o, "root")));
		kind = json_string_value(json_object_get(o, "kind"));
		if (kind_unpacked(kind)) {
			char *okf = xasprintf("%s.ok", root);
			int complete = !access(okf, F_OK);

			free(okf);
			if (!complete) {
				strbuf_addf(err, "image \"%s\": its root %s is incomplete "
					    "or missing (add it again)", image, root);
				json_decref(o);
				free(root);
				return -1;
			}
		}
		json_decref(o);
		*ret_name = xstrdup(image);
	} else if (!strchr(image, '/')) {
		strbuf_addf(err, "image \"%s\": not a valid name nor a path "
			    "(paths contain a \"/\")", image);
		return -1;
	} else {
		root = absolute(image, base);
		if (!stat(root, &st) && (S_ISREG(st.st_mode) || oci_is_layout(root))) {
			char *tb = root;

			root = NULL;
			if (image_unpack(store, tb, NULL, &root, NULL, NULL, err) < 0) {
				free(tb);
				return -1;
			}
			free(tb);
		}
	}
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		const char *last = strrchr(image, '/');

		strbuf_addf(err, "image \"%s\": root %s is %s", image, root,
			    errno == ENOENT || !errno ? "missing" : strerror(errno));
		/*
		 * registry.example.com/team/app:1.0, a container image's
		 * reference, not registered: say what to do
		 */
		last = last ? last + 1 : image;
		if (image[0] != '/' && image[0] != '.' && strchr(last, ':') &&
		    image_name_ok(image))
			strbuf_addf(err, " (nor is it a registered image: pull it "
				    "with `cidre image pull %s`, or register it with "
				    "`cidre image add %s ARCHIVE|PATH`, from `docker save "
				    "%s` or a root filesystem)", image, image, image);
		free(root);
		free(*ret_name);
		*ret_name = NULL;
		return -1;
	}
	*ret_root = root;
	return 0;
}

void image_record_use(const char *store, const char *name, const char *line)
{
	char *path = name_file(store, name, "uses");
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	free(path);
	if (fd < 0)
		return;
	if (!fstat(fd, &st) && st.st_size < IMAGE_USES_MAX) {
		char *l = xasprintf("%s\n", line);

		if (write(fd, l, strlen(l)) < 0) {
			/* the count is only informative */
		}
		free(l);
	}
	close(fd);
}
