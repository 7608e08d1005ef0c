#ifndef CIDRE_IMAGE_H
#define CIDRE_IMAGE_H

/*
 * The image store: root filesystems jobs of the sandbox executor run in.
 * An image is a directory (registered where it is) or a tarball, unpacked
 * once into the store under its SHA-256 and shared read-only by every job
 * that names it. Layout (docs/internals/sandbox.md):
 *
 *   STORE/names/NAME.json   {"root", "source", "kind", "digest", "size", "added"}
 *   STORE/names/NAME.uses   one line per job that ran in it
 *   STORE/roots/HEX/        an unpacked tarball; HEX.ok once complete
 */

#include <jansson.h>

#include "util/strbuf.h"

/*
 * Longest image name. A name is a container image's reference: words of
 * [A-Za-z0-9][A-Za-z0-9._-]* separated by "/", a ":TAG" after the last,
 * a ":PORT" after the first, an "@sha256:HEX" at the end.
 */
#define IMAGE_NAME_MAX 255
/* Caps on an image tarball: its listing and the members in it. */
#define IMAGE_MAX_MEMBERS 1000000
#define IMAGE_MAX_LISTING (256u << 20)
/* A .uses file stops growing here. */
#define IMAGE_USES_MAX (1 << 20)

struct image_info {
	char *name;
	char *root;        /* the root directory jobs get */
	char *source;      /* the directory or tarball it was made from */
	char *kind;        /* "directory" or "tarball" */
	long long size;    /* bytes at registration */
	long long uses;    /* jobs that ran in it */
	char *last_use;    /* the last such line, or NULL */
	char *from;        /* a container image's: "REF, ARCH, N layers,
			      M variables", or NULL */
	int ok;            /* its root is there (and complete) */
};

/*
 * The store of `cidre run`: $CIDRE_IMAGES, else $XDG_DATA_HOME/cidre/images,
 * else $HOME/.local/share/cidre/images. malloc'ed.
 */
char *image_default_store(void);

/*
 * store made absolute (it is freed and a new string returned, or returned
 * as it is): the roots it records are read by jobs with another cwd.
 */
char *image_store_absolute(char *store);

/* Whether name is a valid image name. */
int image_name_ok(const char *name);

/* name as a file name in the store ("/" as "+"), malloc'ed. */
char *image_name_file(const char *name);

/*
 * Register name for a directory or a tarball at path (a tarball is
 * checked and unpacked into the store, or found there already). An
 * existing name is replaced. Returns 0 (a line for the user in msg), or
 * -1 with the reason in err.
 */
int image_add(const char *store, const char *name, const char *path,
	      struct strbuf *msg, struct strbuf *err);

/*
 * image_add() of what was made from elsewhere (a registry's image, pulled
 * into the layout path): source is what the listing shows as its source,
 * kind its kind ("registry"), instead of path's.
 */
int image_add_from(const char *store, const char *name, const char *path,
		   const char *source, const char *kind, struct strbuf *msg,
		   struct strbuf *err);

/* Whether name is registered in store. */
int image_registered(const char *store, const char *name);

/*
 * Whether image (not registered) is a path rather than a reference to
 * pull: it starts with "/" or ".", is no valid name, or has a "/" and
 * exists (relative to base).
 */
int image_is_path(const char *image, const char *base);

/*
 * Whether name is registered from source (as image_add_from() recorded
 * it) and its unpacked root is complete: a pull of the same manifest
 * has nothing to do.
 */
int image_current(const char *store, const char *name, const char *source);

/* Whether the OCI layout dir's image is unpacked in store already. */
int image_layout_unpacked(const char *store, const char *dir);

/* How long a root no name uses is kept for the jobs still in it. */
#define IMAGE_RETIRED_KEEP (24 * 3600)

struct image_sweep_result {
	long long removed;   /* directories removed */
	long long bytes;     /* their files' sizes */
	long long layers;    /* cached layers removed */
	long long layer_bytes;
};

/*
 * The store's cache of pulled layers, STORE/blobs/sha256: each file a
 * compressed layer as a registry sent it, named by its digest, complete
 * and checked (written only by link(2) from a blob whose digest was
 * checked). A pull links from it instead of downloading; it keeps the
 * layers of every unpacked root's ROOT.image.json ("layer_digests").
 * malloc'ed.
 */
char *image_layer_cache(const char *store);

/*
 * Remove what the store no longer needs: roots set aside (an image
 * removed, a name registered again with another image) more than keep
 * seconds ago, cached layers no root lists whose last link is older
 * than that, and what a cidre that is gone was unpacking, pulling or
 * reading from standard input. Counted into res (may be NULL).
 */
int image_sweep(const char *store, long long keep, struct image_sweep_result *res,
		struct strbuf *err);

/*
 * cidre image prune: every unpacked root no name uses, and every one set
 * aside, removed now (jobs still running in one lose it); then
 * image_sweep().
 */
int image_prune(const char *store, struct image_sweep_result *res,
		struct strbuf *err);

/* Unregister name; an unpacked root no other name uses is removed. */
int image_rm(const char *store, const char *name, struct strbuf *err);

/* Every registered image, sorted by name. */
int image_list(const char *store, struct image_info **ret, size_t *nr,
	       struct strbuf *err);
void image_info_release(struct image_info *v, size_t nr);

/*
 * The root directory for image (a registered name, or a path: absolute,
 * or relative to base; a directory or a tarball, which is unpacked into
 * the store). malloc'ed into *ret_root, and the registered name (or NULL)
 * into *ret_name. -1 with a clear reason in err when it is missing,
 * incomplete or not a directory.
 */
int image_resolve(const char *store, const char *image, const char *base,
		  char **ret_root, char **ret_name, struct strbuf *err);

/*
 * Check a tree about to become an image root: every symbolic link stays
 * inside it (sandbox_check_symlink), and no file or directory keeps a
 * setuid or setgid bit (cleared: inert in a job, a danger on the host).
 * A missing /etc/hosts is made (where services' names go). 0, or -1
 * with the reason in err.
 */
int image_tree_check(const char *root, struct strbuf *err);

/* Record that a job (line: who, what) ran in the registered image name. */
void image_record_use(const char *store, const char *name, const char *line);

/*
 * Unpack src into the store under its SHA-256, after checking every
 * member (sandbox_check_member) and, once unpacked, every symbolic link
 * (sandbox_check_symlink). src is a tarball of a root filesystem, a
 * container image archive (docker-archive, OCI) or an OCI layout
 * directory (exec/oci.h); want names the image in one that holds several.
 * The root's path malloc'ed into *ret_root, its kind ("tarball",
 * "docker-archive", "oci-archive", "oci-layout") into *ret_kind.
 */
int image_unpack(const char *store, const char *src, const char *want,
		 char **ret_root, char **ret_digest, char **ret_kind,
		 struct strbuf *err);

/*
 * The environment a container image's config sets (its Env), for a root
 * image_resolve() gave from store: "NAME=value" strings, NULL-terminated,
 * malloc'ed (each and the array); NULL when it sets none or root is not
 * one the store unpacked.
 */
char **image_env(const char *store, const char *root);

/*
 * What a container image's config said (ROOT.image.json: "env",
 * "entrypoint", "cmd", "workdir", "user", "ports" [numbers]), for a root
 * the store unpacked; NULL otherwise. A new reference.
 */
json_t *image_config(const char *store, const char *root);

#endif
