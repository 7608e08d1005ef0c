/*
 * Container images (docker-archive, OCI image layout) unpacked into a
 * root filesystem. See oci.h and docs/internals/sandbox.md, "Container
 * images".
 *
 * Layers are unpacked by tar(1), one after the other into the same root.
 * Within one run GNU tar never writes through a symbolic link it made;
 * the links of lower layers are ours to guard: no member of a layer may
 * have one of them as a parent (an image with `lib -> /etc` and then
 * `lib/passwd` would write the host's file). Docker writes layers with
 * real paths (its diff walks the real tree), so images never need it.
 */
#include "exec/oci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/copy.h"
#include "exec/image.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "util/sha256.h"
#include "util/strvec.h"
#include "util/xalloc.h"

FILE *oci_progress;

int oci_file_sha256(const char *path, char hex[SHA256_HEX_LEN + 1],
		    struct strbuf *err)
{
	struct sha256 c;
	unsigned char md[SHA256_LEN];
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = xmalloc(1 << 16);
	sha256_init(&c);
	while ((n = read(fd, buf, 1 << 16)) > 0)
		sha256_update(&c, buf, (size_t)n);
	free(buf);
	close(fd);
	if (n < 0) {
		strbuf_addf(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	sha256_final(&c, md);
	sha256_to_hex(md, hex);
	return 0;
}

/* A member name of a listing without its leading "./"s, length in *n. */
static const char *strip_dot(const char *p, size_t *n)
{
	while (*n >= 2 && p[0] == '.' && p[1] == '/') {
		p += 2;
		*n -= 2;
	}
	return p;
}

const char *oci_archive_kind(const char *listing)
{
	int manifest = 0, layout = 0, index = 0, rootfs = 0;
	const char *l = listing;

	while (*l) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);
		const char *p = strip_dot(l, &n);

		if (n == 13 && !memcmp(p, "manifest.json", 13))
			manifest = 1;
		else if (n == 10 && !memcmp(p, "oci-layout", 10))
			layout = 1;
		else if (n == 10 && !memcmp(p, "index.json", 10))
			index = 1;
		else if ((n >= 3 && (!memcmp(p, "bin", 3) || !memcmp(p, "usr", 3) ||
				     !memcmp(p, "etc", 3))) && (n == 3 || p[3] == '/'))
			rootfs = 1;
		if (!nl)
			break;
		l = nl + 1;
	}
	if (rootfs)
		return NULL;
	if (manifest)
		return "docker-archive";
	if (layout && index)
		return "oci-archive";
	return NULL;
}

int oci_is_layout(const char *dir)
{
	char *a = xasprintf("%s/oci-layout", dir), *b = xasprintf("%s/index.json", dir);
	struct stat st;
	int yes = !stat(a, &st) && S_ISREG(st.st_mode) && !stat(b, &st) &&
		  S_ISREG(st.st_mode);

	free(a);
	free(b);
	return yes;
}

/* ---- references ---- */

/* ref with docker.io, library/ and :latest left out or filled in. */
static char *norm_ref(const char *ref)
{
	const char *slash = strchr(ref, '/'), *at = strchr(ref, '@');
	const char *path = ref, *last;
	struct strbuf sb = STRBUF_INIT;

	if (slash) {
		size_t hl = (size_t)(slash - ref);

		if ((hl == 9 && !memcmp(ref, "docker.io", 9)) ||
		    (hl == 15 && !memcmp(ref, "index.docker.io", 15)))
			path = slash + 1;
	}
	if (path == ref + 0 && slash && (memchr(ref, '.', (size_t)(slash - ref)) ||
					 memchr(ref, ':', (size_t)(slash - ref)) ||
					 ((size_t)(slash - ref) == 9 &&
					  !memcmp(ref, "localhost", 9)))) {
		/* a registry of its own: kept as it is */
	} else if (!strncmp(path, "library/", 8)) {
		path += 8;
	}
	strbuf_addstr(&sb, path);
	last = strrchr(sb.buf, '/');
	last = last ? last + 1 : sb.buf;
	if (!at && !strchr(last, ':'))
		strbuf_addstr(&sb, ":latest");
	return strbuf_detach(&sb, NULL);
}

/* The tag of a reference ("latest" when it has none). */
static const char *ref_tag(const char *ref)
{
	const char *last = strrchr(ref, '/'), *c;

	last = last ? last + 1 : ref;
	c = strchr(last, ':');
	return c && !strchr(last, '@') ? c + 1 : "latest";
}

int oci_ref_match(const char *ref, const char *want)
{
	char *a, *b;
	int same;

	if (!ref || !want || !*ref)
		return 0;
	/* a bare word (an OCI layout's ref.name): a tag, or a name */
	if (!strchr(ref, '/') && !strchr(ref, ':') && !strchr(ref, '@') &&
	    (!strcmp(ref, ref_tag(want)) || !strcmp(ref, want)))
		return 1;
	a = norm_ref(ref);
	b = norm_ref(want);
	same = !strcmp(a, b);
	free(a);
	free(b);
	return same;
}

/* ---- files of the image ---- */

/*
 * rel inside dir, as a real path that stays inside dir (an archive's own
 * symbolic links, such as docker save's shared layers, are followed).
 */
static char *inside(const char *dir, const char *rel, struct strbuf *err)
{
	char *joined, *real, *top;
	size_t tl;
	struct strbuf why = STRBUF_INIT;

	if (sandbox_check_member(rel, &why) < 0) {
		strbuf_addf(err, "%s", why.buf);
		strbuf_release(&why);
		return NULL;
	}
	strbuf_release(&why);
	joined = xasprintf("%s/%s", dir, rel);
	real = realpath(joined, NULL);
	top = realpath(dir, NULL);
	free(joined);
	if (!real || !top) {
		strbuf_addf(err, "%s is missing", rel);
		free(real);
		free(top);
		return NULL;
	}
	tl = strlen(top);
	if (strncmp(real, top, tl) || real[tl] != '/') {
		strbuf_addf(err, "%s points outside the image", rel);
		free(real);
		real = NULL;
	}
	free(top);
	return real;
}

static json_t *load_json(const char *path, const char *what, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	json_error_t je;
	json_t *o;
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		strbuf_addf(err, "%s is missing", what);
		return NULL;
	}
	if (st.st_size > OCI_MAX_JSON) {
		strbuf_addf(err, "%s is over %d bytes", what, OCI_MAX_JSON);
		return NULL;
	}
	if (strbuf_read_file(&sb, path, OCI_MAX_JSON + 1) < 0) {
		strbuf_addf(err, "cannot read %s: %s", what, strerror(errno));
		strbuf_release(&sb);
		return NULL;
	}
	o = json_loadb(sb.buf, sb.len, 0, &je);
	strbuf_release(&sb);
	if (!o)
		strbuf_addf(err, "%s is not JSON: %s (line %d)", what, je.text, je.line);
	else if (!json_is_object(o) && !json_is_array(o)) {
		strbuf_addf(err, "%s is not a JSON object", what);
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* A blob's path for digest, its content checked against it. */
static char *blob(const char *dir, const char *digest, struct strbuf *err)
{
	char hex[SHA256_HEX_LEN + 1], *rel, *path;
	size_t i;

	if (!digest || strncmp(digest, "sha256:", 7) ||
	    strlen(digest + 7) != SHA256_HEX_LEN) {
		strbuf_addf(err, "digest \"%s\" is not a sha256 digest",
			    digest ? digest : "");
		return NULL;
	}
	for (i = 7; digest[i]; i++)
		if (!strchr("0123456789abcdef", digest[i])) {
			strbuf_addf(err, "digest \"%s\" is not a sha256 digest", digest);
			return NULL;
		}
	rel = xasprintf("blobs/sha256/%s", digest + 7);
	path = inside(dir, rel, err);
	free(rel);
	if (!path)
		return NULL;
	if (oci_file_sha256(path, hex, err) < 0) {
		free(path);
		return NULL;
	}
	if (strcmp(hex, digest + 7)) {
		strbuf_addf(err, "blob %.19s... does not match its digest (it is "
			    "sha256:%.12s...): the image is corrupt", digest, hex);
		free(path);
		return NULL;
	}
	return path;
}

const char *oci_host_arch(void)
{
	static struct utsname u;
	static const char *const map[][2] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "i386", "386" },
		{ "i486", "386" }, { "i586", "386" }, { "i686", "386" },
		{ "armv7l", "arm" }, { "armv6l", "arm" }, { "ppc64le", "ppc64le" },
		{ "s390x", "s390x" }, { "riscv64", "riscv64" },
	};
	size_t i;

	if (uname(&u) < 0)
		return "";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(u.machine, map[i][0]))
			return map[i][1];
	return u.machine;
}

const char *oci_host_variant(void)
{
	static struct utsname u;

	if (uname(&u) < 0)
		return NULL;
	if (!strcmp(u.machine, "aarch64"))
		return "v8";
	if (!strncmp(u.machine, "armv", 4) && u.machine[4] >= '5' &&
	    u.machine[4] <= '8' && u.machine[5] == 'l')
		return u.machine[4] == '8' ? "v8" : u.machine[4] == '7' ? "v7" :
		       u.machine[4] == '6' ? "v6" : "v5";
	return NULL;
}

/* ---- choosing the image ---- */

struct cand {
	char *digest;   /* OCI: the manifest's; docker-archive: NULL */
	char *ref;      /* its name, or NULL */
	size_t entry;   /* docker-archive: its manifest.json entry */
};

struct pick {
	struct cand *v;
	size_t nr, alloc;
	size_t other_platforms;
	struct strbuf refs;     /* for messages: "a, b, c" */
};

static void add_cand(struct pick *pk, const char *digest, const char *ref,
		     size_t entry)
{
	ALLOC_GROW(pk->v, pk->nr + 1, pk->alloc);
	pk->v[pk->nr].digest = xstrdup_or_null(digest);
	pk->v[pk->nr].ref = xstrdup_or_null(ref);
	pk->v[pk->nr].entry = entry;
	pk->nr++;
	if (pk->refs.len)
		strbuf_addstr(&pk->refs, ", ");
	strbuf_addstr(&pk->refs, ref ? ref : digest ? digest : "(no name)");
}

static void pick_release(struct pick *pk)
{
	size_t i;

	for (i = 0; i < pk->nr; i++) {
		free(pk->v[i].digest);
		free(pk->v[i].ref);
	}
	free(pk->v);
	strbuf_release(&pk->refs);
}

static int is_index_type(const char *t)
{
	return t && (!strcmp(t, "application/vnd.oci.image.index.v1+json") ||
		     !strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json"));
}

static int is_manifest_type(const char *t)
{
	return !t || !strcmp(t, "application/vnd.oci.image.manifest.v1+json") ||
	       !strcmp(t, "application/vnd.docker.distribution.manifest.v2+json");
}

/* The manifests an OCI index lists, indexes within it followed. */
static int collect(const char *dir, json_t *index, const char *ref, int depth,
		   struct pick *pk, struct strbuf *err)
{
	json_t *ms = json_object_get(index, "manifests"), *d;
	size_t i;

	if (!json_is_array(ms)) {
		strbuf_addstr(err, "index has no \"manifests\"");
		return -1;
	}
	json_array_foreach(ms, i, d) {
		const char *type = json_string_value(json_object_get(d, "mediaType"));
		const char *digest = json_string_value(json_object_get(d, "digest"));
		const char *name = json_string_value(json_object_get(
			json_object_get(d, "annotations"),
			"org.opencontainers.image.ref.name"));
		json_t *plat = json_object_get(d, "platform");

		if (i >= 1024) {
			strbuf_addstr(err, "index lists more than 1024 manifests");
			return -1;
		}
		if (!name)
			name = ref;
		if (is_index_type(type)) {
			char *path;
			json_t *child;
			int r;

			if (depth >= OCI_MAX_INDEX_DEPTH) {
				strbuf_addf(err, "indexes nest deeper than %d",
					    OCI_MAX_INDEX_DEPTH);
				return -1;
			}
			path = blob(dir, digest, err);
			if (!path)
				return -1;
			child = load_json(path, "an index", err);
			free(path);
			if (!child)
				return -1;
			r = collect(dir, child, name, depth + 1, pk, err);
			json_decref(child);
			if (r < 0)
				return -1;
			continue;
		}
		if (!is_manifest_type(type))
			continue;
		if (plat) {
			const char *os = json_string_value(json_object_get(plat, "os"));
			const char *arch = json_string_value(
				json_object_get(plat, "architecture"));

			if ((os && strcmp(os, "linux")) ||
			    (arch && strcmp(arch, oci_host_arch()))) {
				pk->other_platforms++;
				continue;
			}
		}
		if (!digest) {
			strbuf_addstr(err, "a manifest of the index has no digest");
			return -1;
		}
		add_cand(pk, digest, name, 0);
	}
	return 0;
}

/* Which candidate: want's, else the only one. -1 with the reason. */
static int choose(struct pick *pk, const char *want, int *many,
		  struct strbuf *err)
{
	size_t i, match = 0, found = 0, distinct = 0;

	for (i = 0; i < pk->nr; i++) {
		size_t k;
		int seen = 0;

		for (k = 0; k < i; k++)
			if (pk->v[k].digest && pk->v[i].digest &&
			    !strcmp(pk->v[k].digest, pk->v[i].digest))
				seen = 1;
		if (!seen)
			distinct++;
	}
	*many = distinct > 1;
	if (!pk->nr) {
		if (pk->other_platforms)
			strbuf_addf(err, "it has no image for linux/%s (%zu for other "
				    "platforms)", oci_host_arch(), pk->other_platforms);
		else
			strbuf_addstr(err, "it holds no image");
		return -1;
	}
	if (distinct == 1)
		return 0;
	for (i = 0; want && i < pk->nr; i++)
		if (oci_ref_match(pk->v[i].ref, want)) {
			if (found && !(pk->v[i].digest && pk->v[match].digest &&
				       !strcmp(pk->v[i].digest, pk->v[match].digest))) {
				strbuf_addf(err, "it holds several images named \"%s\" (%s)",
					    want, pk->refs.buf);
				return -1;
			}
			if (!found)
				match = i;
			found = 1;
		}
	if (found)
		return (int)match;
	strbuf_addf(err, "it holds %zu images (%s): register one under its "
		    "name, as in `cidre image add %s ARCHIVE`", distinct, pk->refs.buf,
		    pk->v[0].ref && strchr(pk->v[0].ref, ':') ? pk->v[0].ref : "NAME:TAG");
	return -1;
}

/* ---- the config ---- */

static json_t *image_info(const char *format, const char *ref, json_t *config,
			  size_t layers, struct strbuf *err)
{
	const char *os = json_string_value(json_object_get(config, "os"));
	const char *arch = json_string_value(json_object_get(config, "architecture"));
	json_t *env = json_object_get(json_object_get(config, "config"), "Env");
	json_t *out, *e;
	size_t i;

	if (os && strcmp(os, "linux")) {
		strbuf_addf(err, "it is an image for %s, not linux", os);
		return NULL;
	}
	if (arch && strcmp(arch, oci_host_arch())) {
		strbuf_addf(err, "it is an image for %s; this machine runs %s",
			    arch, oci_host_arch());
		return NULL;
	}
	out = json_array();
	if (json_is_array(env)) {
		if (json_array_size(env) > OCI_MAX_ENV) {
			strbuf_addf(err, "its config has more than %d variables",
				    OCI_MAX_ENV);
			json_decref(out);
			return NULL;
		}
		json_array_foreach(env, i, e) {
			const char *s = json_string_value(e);
			const char *eq = s ? strchr(s, '=') : NULL;

			if (!eq || eq == s || strlen(s) > 65536) {
				strbuf_addf(err, "its config's Env has a bad entry "
					    "(#%zu): not NAME=value", i + 1);
				json_decref(out);
				return NULL;
			}
			json_array_append(out, e);
		}
	}
	{
		/* what running it as a service needs (jobs override them) */
		json_t *cfg = json_object_get(config, "config");
		json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I}", "format", format,
				      "ref", ref ? ref : "", "architecture",
				      arch ? arch : "", "env", out, "layers",
				      (json_int_t)layers);
		static const char *const keys[][2] = {
			{ "Entrypoint", "entrypoint" }, { "Cmd", "cmd" },
			{ "WorkingDir", "workdir" }, { "User", "user" },
			{ "ExposedPorts", "ports" },
		};
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			json_t *v = json_object_get(cfg, keys[k][0]);

			if (json_is_array(v) && json_array_size(v) > 4096)
				continue;
			if (json_is_array(v) || json_is_string(v))
				json_object_set(o, keys[k][1], v);
			else if (json_is_object(v) && json_object_size(v) <= 1024) {
				/* ExposedPorts: {"5432/tcp": {}} */
				json_t *ports = json_array(), *x;
				const char *key;

				json_object_foreach(v, key, x) {
					char *end;
					long port = strtol(key, &end, 10);

					if (port > 0 && port < 65536 &&
					    (!*end || !strcmp(end, "/tcp")))
						json_array_append_new(ports,
								      json_integer(port));
				}
				json_object_set_new(o, keys[k][1], ports);
			}
		}
		return o;
	}
}

/* ---- the two formats ---- */

static int is_compressed(const char *path)
{
	unsigned char m[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, m, 4) : -1;

	if (fd >= 0)
		close(fd);
	return n == 4 && ((m[0] == 0x1f && m[1] == 0x8b) ||
			  (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) ||
			  (m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X') ||
			  (m[0] == 'B' && m[1] == 'Z' && m[2] == 'h'));
}

static int docker_archive(const char *dir, const char *want, struct strvec *layers,
			  json_t **config, char **ref, char **id, int *many,
			  struct strbuf *err)
{
	char *mpath = xasprintf("%s/manifest.json", dir), *cpath = NULL;
	json_t *m = load_json(mpath, "manifest.json", err), *e, *ls, *l, *diffs;
	struct pick pk = { 0 };
	size_t i;
	int ret = -1, at;

	free(mpath);
	strbuf_init(&pk.refs, 0);
	if (!m)
		goto out;
	if (!json_is_array(m) || !json_array_size(m) || json_array_size(m) > 1024) {
		strbuf_addstr(err, "manifest.json is not a list of images");
		goto out;
	}
	json_array_foreach(m, i, e) {
		json_t *tags = json_object_get(e, "RepoTags"), *t;
		size_t k;

		if (!json_is_string(json_object_get(e, "Config")) ||
		    !json_is_array(json_object_get(e, "Layers"))) {
			strbuf_addf(err, "manifest.json's image #%zu has no Config or "
				    "Layers", i + 1);
			goto out;
		}
		if (!json_array_size(tags))
			add_cand(&pk, NULL, NULL, i);
		json_array_foreach(tags, k, t)
			add_cand(&pk, NULL, json_string_value(t), i);
	}
	/* entries, not tags, are the images: one entry with two tags is one */
	*many = json_array_size(m) > 1;
	if (json_array_size(m) == 1) {
		at = 0;
	} else {
		int dummy;

		for (i = 0; i < pk.nr; i++) {
			free(pk.v[i].digest);
			pk.v[i].digest = xasprintf("%zu", pk.v[i].entry);
		}
		at = choose(&pk, want, &dummy, err);
		if (at < 0)
			goto out;
	}
	e = json_array_get(m, pk.v[at].entry);
	*ref = xstrdup_or_null(pk.v[at].ref);
	*id = xasprintf("entry %zu", pk.v[at].entry);
	cpath = inside(dir, json_string_value(json_object_get(e, "Config")), err);
	if (!cpath || !(*config = load_json(cpath, "the image's config", err)))
		goto out;
	ls = json_object_get(e, "Layers");
	diffs = json_object_get(json_object_get(*config, "rootfs"), "diff_ids");
	json_array_foreach(ls, i, l) {
		char *p = json_is_string(l) ? inside(dir, json_string_value(l), err)
					    : NULL;
		const char *want_id = json_string_value(json_array_get(diffs, i));
		char hex[SHA256_HEX_LEN + 1];

		if (!p) {
			strbuf_addf(err, "%s(layer %zu)", err->len ? " " : "", i + 1);
			goto out;
		}
		/* an uncompressed layer is what its diff_id is the digest of */
		if (want_id && !strncmp(want_id, "sha256:", 7) && !is_compressed(p)) {
			if (oci_file_sha256(p, hex, err) < 0) {
				free(p);
				goto out;
			}
			if (strcmp(hex, want_id + 7)) {
				strbuf_addf(err, "layer %zu does not match its digest in "
					    "the config: the image is corrupt", i + 1);
				free(p);
				goto out;
			}
		}
		strvec_push(layers, p);
		free(p);
	}
	ret = 0;
out:
	free(cpath);
	pick_release(&pk);
	json_decref(m);
	return ret;
}

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	NULL
};

static int oci_layout(const char *dir, const char *want, struct strvec *layers,
		      json_t **config, char **ref, char **id, int *many,
		      struct strbuf *err)
{
	char *ipath = xasprintf("%s/index.json", dir), *mpath = NULL, *cpath = NULL;
	json_t *index = load_json(ipath, "index.json", err), *man = NULL, *ls, *l;
	struct pick pk = { 0 };
	size_t i;
	int ret = -1, at;

	free(ipath);
	strbuf_init(&pk.refs, 0);
	if (!index || collect(dir, index, NULL, 0, &pk, err) < 0)
		goto out;
	at = choose(&pk, want, many, err);
	if (at < 0)
		goto out;
	*ref = xstrdup_or_null(pk.v[at].ref);
	*id = xstrdup(pk.v[at].digest);
	mpath = blob(dir, pk.v[at].digest, err);
	if (!mpath || !(man = load_json(mpath, "the image's manifest", err)))
		goto out;
	cpath = blob(dir, json_string_value(json_object_get(
		json_object_get(man, "config"), "digest")), err);
	if (!cpath || !(*config = load_json(cpath, "the image's config", err)))
		goto out;
	ls = json_object_get(man, "layers");
	if (!json_is_array(ls)) {
		strbuf_addstr(err, "the manifest has no \"layers\"");
		goto out;
	}
	json_array_foreach(ls, i, l) {
		const char *type = json_string_value(json_object_get(l, "mediaType"));
		char *p;
		size_t k;

		for (k = 0; type && layer_types[k] && strcmp(type, layer_types[k]); k++)
			;
		if (!type || !layer_types[k]) {
			strbuf_addf(err, "layer %zu is of type %s, which cidre cannot "
				    "unpack", i + 1, type ? type : "(none)");
			goto out;
		}
		p = blob(dir, json_string_value(json_object_get(l, "digest")), err);
		if (!p) {
			strbuf_addf(err, " (layer %zu)", i + 1);
			goto out;
		}
		strvec_push(layers, p);
		free(p);
	}
	ret = 0;
out:
	free(mpath);
	free(cpath);
	pick_release(&pk);
	json_decref(man);
	json_decref(index);
	return ret;
}

int oci_unpack(const char *dir, const char *want, const char *root,
	       json_t **ret_info, int *ret_many, struct strbuf *err)
{
	struct strvec layers = STRVEC_INIT;
	json_t *config = NULL;
	char *ref = NULL, *id = NULL, *mf = xasprintf("%s/manifest.json", dir);
	const char *format = access(mf, F_OK) ? "OCI" : "docker-archive";
	struct strbuf why = STRBUF_INIT;
	size_t i;
	int ret = -1, many = 0;

	free(mf);
	*ret_info = NULL;
	if ((!strcmp(format, "OCI") ? oci_layout : docker_archive)(
		    dir, want, &layers, &config, &ref, &id, &many, &why) < 0)
		goto out;
	if (ret_many)
		*ret_many = many;
	if (layers.nr > OCI_MAX_LAYERS) {
		strbuf_addf(&why, "it has %zu layers, more than %d", layers.nr,
			    OCI_MAX_LAYERS);
		goto out;
	}
	*ret_info = image_info(format, ref, config, layers.nr, &why);
	if (!*ret_info)
		goto out;
	/* which image of the source: its manifest's digest, or its entry */
	json_object_set_new(*ret_info, "manifest", json_string(id));
	if (!strcmp(format, "OCI")) {
		/* the blobs it was unpacked from: the store's cache of
		   pulled layers keeps these while the root is registered */
		json_t *ds = json_array();

		for (i = 0; i < layers.nr; i++) {
			const char *hex = strrchr(layers.v[i], '/');
			char *d = xasprintf("sha256:%s", hex ? hex + 1 : layers.v[i]);

			json_array_append_new(ds, json_string(d));
			free(d);
		}
		json_object_set_new(*ret_info, "layer_digests", ds);
	}
	for (i = 0; i < layers.nr; i++) {
		if (oci_progress) {
			struct stat st;

			fprintf(oci_progress, "unpacking layer %zu of %zu (%.1f MB)\n",
				i + 1, layers.nr, stat(layers.v[i], &st) ? 0.0 :
				st.st_size / 1e6);
			fflush(oci_progress);
		}
		if (oci_apply_layer(root, layers.v[i], &why) < 0) {
			strbuf_addf(&why, " (layer %zu of %zu)", i + 1, layers.nr);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0) {
		strbuf_addf(err, "%s image: %s", format, why.buf);
		json_decref(*ret_info);
		*ret_info = NULL;
	}
	strbuf_release(&why);
	strvec_clear(&layers);
	json_decref(config);
	free(ref);
	free(id);
	return ret;
}

/* ---- one layer ---- */

/*
 * A name as GNU tar quotes it (--quoting-style=c) at *p, which is the
 * opening quote; *p is left after the closing one. NULL if malformed.
 */
static char *unquote(const char **p)
{
	const char *s = *p;
	struct strbuf sb = STRBUF_INIT;

	if (*s++ != '"')
		return NULL;
	for (; *s && *s != '"'; s++) {
		char c = *s;

		if (c == '\\') {
			c = *++s;
			switch (c) {
			case 'a': c = '\a'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			case '\0':
				strbuf_release(&sb);
				return NULL;
			default:
				if (c >= '0' && c <= '7') {
					int v = 0, k;

					for (k = 0; k < 3 && *s >= '0' && *s <= '7'; k++)
						v = v * 8 + (*s++ - '0');
					s--;
					c = (char)v;
				}
			}
		}
		if (!c) {
			strbuf_release(&sb);
			return NULL;
		}
		strbuf_addch(&sb, c);
	}
	if (*s != '"') {
		strbuf_release(&sb);
		return NULL;
	}
	*p = s + 1;
	return strbuf_detach(&sb, NULL);
}

/* Leading "./" and trailing "/" off, in place. */
static char *clean_name(char *n)
{
	size_t l;

	while (n[0] == '.' && n[1] == '/')
		memmove(n, n + 2, strlen(n + 2) + 1);
	l = strlen(n);
	while (l && n[l - 1] == '/')
		n[--l] = '\0';
	return n;
}

/*
 * Whether rel's parents (and rel itself when last) in root go through a
 * symbolic link already there; which one into link. A parent that is not
 * there yet is made by this layer: fine.
 */
static int through_link(const char *root, const char *rel, int last,
			struct strbuf *link)
{
	struct strbuf p = STRBUF_INIT;
	const char *c = rel;
	int hit = 0;

	strbuf_addstr(&p, root);
	while (*c) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		struct stat st;

		if (!slash && !last)
			break;
		strbuf_addch(&p, '/');
		strbuf_add(&p, c, n);
		if (lstat(p.buf, &st) < 0)
			break;          /* not there yet */
		if (S_ISLNK(st.st_mode)) {
			hit = 1;
			strbuf_reset(link);
			strbuf_add(link, rel, (size_t)(c - rel) + n);
			break;
		}
		if (!S_ISDIR(st.st_mode))
			break;
		if (!slash)
			break;
		c = slash + 1;
	}
	strbuf_release(&p);
	return hit;
}

struct member {
	char type;      /* tar's: 'd', '-', 'l', 'h', ... */
	char *name;
	char *target;   /* a hard link's */
};

static int remove_in(const char *root, const char *rel, struct strbuf *err)
{
	char *p = xasprintf("%s/%s", root, rel);
	int r = copy_rmtree(p, err);

	free(p);
	return r;
}

/* Remove what a directory of root holds (an opaque whiteout). */
static int empty_dir(const char *root, const char *rel, struct strbuf *err)
{
	char *p = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(p);
	struct dirent *de;
	int r = 0;

	if (!d) {
		free(p);
		return 0;
	}
	while (r == 0 && (de = readdir(d))) {
		char *c;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		c = xasprintf("%s/%s", p, de->d_name);
		r = copy_rmtree(c, err);
		free(c);
	}
	closedir(d);
	free(p);
	return r;
}

/* What a layer's listing asks for: whiteouts, then members. */
struct layer_plan {
	struct member *mv;
	size_t nm, am;
	struct strvec opaque;   /* directories emptied of lower layers' */
	struct strvec gone;     /* entries removed */
};

static void plan_release(struct layer_plan *lp)
{
	size_t i;

	for (i = 0; i < lp->nm; i++) {
		free(lp->mv[i].name);
		free(lp->mv[i].target);
	}
	free(lp->mv);
	strvec_clear(&lp->opaque);
	strvec_clear(&lp->gone);
}

/*
 * Read `tar -tv --quoting-style=c --numeric-owner`'s listing (changed in
 * place) into lp, checking every name and hard link target. 0, or -1
 * with the reason in err.
 */
static int parse_listing(char *text, size_t len, struct layer_plan *lp,
			 struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT;
	char *line, *nl;
	int ret = -1;

	memset(lp, 0, sizeof(*lp));
	strvec_init(&lp->opaque);
	strvec_init(&lp->gone);
	for (line = text; line < text + len; line = nl + 1) {
		const char *q;
		char *name, *base, *target = NULL;

		nl = memchr(line, '\n', (size_t)(text + len - line));
		if (!nl)
			nl = text + len;
		*nl = '\0';
		if (!*line)
			continue;
		q = strchr(line, '"');
		if (!q || !(name = unquote(&q))) {
			strbuf_addf(err, "cannot read the layer's listing: %.80s", line);
			goto out;
		}
		if (line[0] == 'h' && !strncmp(q, " link to \"", 10)) {
			q += 9;
			target = unquote(&q);
			strbuf_reset(&why);
			if (!target || !*clean_name(target) ||
			    sandbox_check_member(target, &why) < 0) {
				strbuf_addf(err, "hard link %s refused: %s", name,
					    target ? why.buf : "bad target");
				free(target);
				free(name);
				goto out;
			}
		}
		clean_name(name);
		if (!*name || !strcmp(name, ".")) {
			free(name);
			free(target);
			continue;
		}
		strbuf_reset(&why);
		if (lp->nm >= IMAGE_MAX_MEMBERS || sandbox_check_member(name, &why) < 0) {
			strbuf_addf(err, "refused: %s", lp->nm >= IMAGE_MAX_MEMBERS ?
				    "too many members" : why.buf);
			free(name);
			free(target);
			goto out;
		}
		base = strrchr(name, '/');
		base = base ? base + 1 : name;
		if (!strncmp(base, ".wh.", 4)) {
			/* a whiteout: what lower layers made there goes */
			free(target);
			if (!strcmp(base, ".wh..wh..opq")) {
				*base = '\0';
				strvec_push(&lp->opaque, clean_name(name));
			} else if (!base[4] || !strcmp(base + 4, ".") ||
				   !strcmp(base + 4, "..")) {
				strbuf_addf(err, "bad whiteout %s", name);
				free(name);
				goto out;
			} else {
				memmove(base, base + 4, strlen(base + 4) + 1);
				strvec_push(&lp->gone, name);
			}
			free(name);
			continue;
		}
		ALLOC_GROW(lp->mv, lp->nm + 1, lp->am);
		lp->mv[lp->nm].type = line[0];
		lp->mv[lp->nm].name = name;
		lp->mv[lp->nm].target = target;
		lp->nm++;
	}
	ret = 0;
out:
	strbuf_release(&why);
	if (ret < 0)
		plan_release(lp);
	return ret;
}

int oci_check_listing(const char *listing, size_t len, struct strbuf *err)
{
	char *copy = xmalloc(len + 1);
	struct layer_plan lp;
	int r;

	memcpy(copy, listing, len);
	copy[len] = '\0';
	r = parse_listing(copy, len, &lp, err);
	if (!r)
		plan_release(&lp);
	free(copy);
	return r;
}

/* Whether prog is an executable in PATH. */
static int in_path(const char *prog)
{
	const char *p = getenv("PATH");
	int found = 0;

	while (!found && p && *p) {
		size_t n = strcspn(p, ":");
		char *f = xasprintf("%.*s/%s", (int)n, p, prog);

		found = n && !access(f, X_OK);
		free(f);
		p += n;
		if (*p == ':')
			p++;
	}
	return found;
}

int oci_gunzip_copy(const char *src, const char *dst)
{
	static const char *const progs[] = { "pigz", "gzip" };
	unsigned char m[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	const char *prog = NULL;
	char *argv[5];
	int fd = open(src, O_RDONLY | O_CLOEXEC), out, st = -1;
	ssize_t n = fd >= 0 ? read(fd, m, 2) : -1;
	size_t i;
	pid_t pid;

	if (fd >= 0)
		close(fd);
	if (n != 2 || m[0] != 0x1f || m[1] != 0x8b)
		return 0;
	for (i = 0; !prog && i < sizeof(progs) / sizeof(*progs); i++)
		if (in_path(progs[i]))
			prog = progs[i];
	if (!prog)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	argv[0] = (char *)prog;
	argv[1] = "-dc";
	argv[2] = "--";
	argv[3] = (char *)src;
	argv[4] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	if (!posix_spawnp(&pid, prog, &fa, &at, argv, environ))
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (close(out) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		unlink(dst);
		return -1;
	}
	return 1;
}

int oci_apply_layer(const char *root, const char *layer, struct strbuf *err)
{
	char *plain = xasprintf("%s.layer.tar", root);
	const char *src;

	/* decompressed once, for the listing and the unpack both */
	if (oci_gunzip_copy(layer, plain) <= 0) {
		free(plain);
		plain = NULL;
	}
	src = plain ? plain : layer;
	const char *list_argv[] = { "tar", "--numeric-owner", "--quoting-style=c",
				    "-tvf", src, NULL };
	const char *x_argv[] = { "tar", "-xf", src, "-C", root, "--no-same-owner",
				 "--delay-directory-restore", "--exclude=.wh.*",
				 NULL };
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT, link = STRBUF_INIT;
	struct layer_plan lp;
	struct member *mv;
	size_t nm, i;
	int status = -1, ret = -1, planned = 0;

	if (proc_capture(list_argv, NULL, NULL, IMAGE_MAX_LISTING, &out, &status,
			 &why) < 0 || status) {
		strbuf_rtrim(&why);
		strbuf_addf(err, "the layer cannot be read: %s",
			    why.len ? why.buf : "tar failed");
		goto out;
	}
	if (parse_listing(out.buf, out.len, &lp, err) < 0)
		goto out;
	planned = 1;
	mv = lp.mv;
	nm = lp.nm;
	for (i = 0; i < lp.opaque.nr; i++) {
		if (through_link(root, lp.opaque.v[i], 1, &link)) {
			strbuf_addf(err, "refused: an opaque whiteout in %s goes through "
				    "the symbolic link %s", lp.opaque.v[i], link.buf);
			goto out;
		}
		if (empty_dir(root, lp.opaque.v[i], err) < 0)
			goto out;
	}
	for (i = 0; i < lp.gone.nr; i++) {
		if (through_link(root, lp.gone.v[i], 0, &link)) {
			strbuf_addf(err, "refused: the whiteout of %s goes through the "
				    "symbolic link %s", lp.gone.v[i], link.buf);
			goto out;
		}
		if (remove_in(root, lp.gone.v[i], err) < 0)
			goto out;
	}
	for (i = 0; i < nm; i++) {
		char *p;
		struct stat st;

		if (through_link(root, mv[i].name, 0, &link) ||
		    (mv[i].target && through_link(root, mv[i].target, 0, &link))) {
			strbuf_addf(err, "refused: %s goes through the symbolic link %s "
				    "of a lower layer", mv[i].target && !strncmp(
					    link.buf, mv[i].target, link.len) ?
				    mv[i].target : mv[i].name, link.buf);
			goto out;
		}
		/* what it replaces goes first: a directory by a file, a link
		   by a directory, a file by anything (never written through) */
		p = xasprintf("%s/%s", root, mv[i].name);
		if (!lstat(p, &st) && (mv[i].type != 'd' || !S_ISDIR(st.st_mode)) &&
		    copy_rmtree(p, err) < 0) {
			free(p);
			goto out;
		}
		free(p);
	}
	strbuf_reset(&out);
	strbuf_reset(&why);
	if (proc_capture(x_argv, NULL, NULL, 1 << 20, &out, &status, &why) < 0 ||
	    status) {
		strbuf_rtrim(&why);
		strbuf_addf(err, "unpacking failed: %s", why.len ? why.buf : "tar failed");
		goto out;
	}
	ret = 0;
out:
	if (plain) {
		unlink(plain);
		free(plain);
	}
	if (planned)
		plan_release(&lp);
	strbuf_release(&out);
	strbuf_release(&why);
	strbuf_release(&link);
	return ret;
}
