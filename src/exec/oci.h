#ifndef CIDRE_OCI_H
#define CIDRE_OCI_H
/*
 * Container images as `docker save`, `podman save` and `skopeo copy`
 * write them: a docker-archive (manifest.json, a config and a tar per
 * layer) or an OCI image layout (oci-layout, index.json, blobs/), as a
 * directory or a tarball of one. oci_unpack() applies the chosen image's
 * layers in order onto an empty root, whiteouts included, with the
 * image store's checks (docs/internals/sandbox.md, "Container images").
 */
#include <jansson.h>
#include <stdio.h>

#include "util/sha256.h"
#include "util/strbuf.h"

/*
 * Where oci_unpack() says which layer it unpacks ("unpacking layer 2 of
 * 7 (88.2 MB)"), or NULL (the default: jobs say nothing of it).
 * `cidre image add` sets stderr: a big image takes a while.
 */
extern FILE *oci_progress;

/* Caps on what an image may hold. */
#define OCI_MAX_LAYERS 256
#define OCI_MAX_JSON (4 << 20)      /* a manifest, an index or a config */
#define OCI_MAX_ENV 4096            /* entries of the config's Env */
#define OCI_MAX_INDEX_DEPTH 4       /* indexes within indexes */

/*
 * What a tarball's member list (`tar -tf`, one name a line) holds:
 * "docker-archive" (a top-level manifest.json), "oci-archive" (a
 * top-level oci-layout and index.json), or NULL (a root filesystem).
 */
const char *oci_archive_kind(const char *listing);

/* The SHA-256 of a file's content, in hex. 0, or -1 with the reason. */
int oci_file_sha256(const char *path, char hex[SHA256_HEX_LEN + 1],
		    struct strbuf *err);

/* This machine's architecture as images name it: "amd64", "arm64". */
const char *oci_host_arch(void);

/* Its variant ("v8" for arm64, "v7" for armv7l), or NULL (amd64 has none). */
const char *oci_host_variant(void);

/* Whether dir is an OCI image layout: it has oci-layout and index.json. */
int oci_is_layout(const char *dir);

/*
 * Whether an image reference names the same image as want: equal once
 * "docker.io/", "library/" and a missing ":latest" are filled in or left
 * out, or ref a bare tag (an OCI layout's ref.name) equal to want's tag.
 */
int oci_ref_match(const char *ref, const char *want);

/*
 * Fill root (an empty directory) from the image in dir (an unpacked
 * docker-archive or an OCI layout). want names the image when dir holds
 * several (a reference, as oci_ref_match() reads it); NULL takes the only
 * one. *ret_info gets {"format", "ref", "architecture", "env": [...],
 * "layers", "manifest" (the chosen manifest's digest, or "entry N" of a
 * docker-archive)}; *ret_many is set when dir holds more than one image (the
 * choice then depends on want). 0, or -1 with the reason in err (nothing
 * promised about root then).
 */
int oci_unpack(const char *dir, const char *want, const char *root,
	       json_t **ret_info, int *ret_many, struct strbuf *err);

/*
 * Check a layer's listing as oci_apply_layer() reads it (`tar -tv
 * --quoting-style=c --numeric-owner`): every name and hard link target
 * relative, without "..", whiteouts well-formed. 0, or -1 with the reason.
 */
int oci_check_listing(const char *listing, size_t len, struct strbuf *err);

/*
 * Apply one layer (a tar, plain or compressed) onto root: its whiteouts
 * remove what lower layers made, then its members are unpacked. No member
 * may be absolute, climb with "..", or go through a symbolic link that is
 * already in root. 0, or -1 with the reason in err.
 */
int oci_apply_layer(const char *root, const char *layer, struct strbuf *err);

/*
 * src, when it is gzip, decompressed into dst (a new file) once, so that
 * tar reads it twice (a listing, then the unpack) without decompressing
 * it twice: a gzip pass is, after the kernel's work of making the
 * files, the largest part of an unpack (1.25 s of a 230 MB image's
 * 6.5 s here). pigz when it is installed (1.5x gzip's speed here), else
 * gzip. 1 when dst was written; 0 when src is not gzip; -1 when it could
 * not be (no room, no gzip: dst removed; tar then reads src itself, as
 * before, and says what is wrong with it).
 */
int oci_gunzip_copy(const char *src, const char *dst);

#endif
