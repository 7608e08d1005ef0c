/*
 * Caches between runs, stored as plain directory trees under cache_dir.
 * See cache.h and docs/artifacts-and-caches.md.
 */
#include "exec/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/artifacts.h"
#include "exec/copy.h"
#include "util/sha256.h"
#include "util/xalloc.h"

/* Longest key kept (bytes); longer keys are cut (a path component limit). */
#define CACHE_KEY_MAX 200

/*
 * Temp-directory sequence, unique within the process (several jobs save
 * caches at once from different threads); changed only atomically.
 */
static unsigned long cache_seq;

/* Make key a single, harmless path component. */
static void sanitise(struct strbuf *key)
{
	size_t i;

	while (key->len && (key->buf[key->len - 1] == ' ' ||
			    key->buf[key->len - 1] == '\t'))
		strbuf_setlen(key, key->len - 1);
	if (key->len > CACHE_KEY_MAX)
		strbuf_setlen(key, CACHE_KEY_MAX);
	for (i = 0; i < key->len; i++) {
		unsigned char c = (unsigned char)key->buf[i];

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			key->buf[i] = '_';
	}
	if (!key->len)
		strbuf_addstr(key, "default");
	else if (!strcmp(key->buf, ".") || !strcmp(key->buf, ".."))
		for (i = 0; i < key->len; i++)
			key->buf[i] = '_';
}

/*
 * SHA-256 of path's content as hex; a file that is missing, not a regular
 * file or unreadable hashes as empty.
 */
static void hash_file(const char *path, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char md[SHA256_LEN], buf[16384];
	struct sha256 c;
	struct stat st;
	ssize_t n = 0;
	int fd;

	sha256_init(&c);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode)) {
		while ((n = read(fd, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			sha256_update(&c, buf, (size_t)n);
		}
	}
	if (fd >= 0)
		close(fd);
	if (n < 0)
		sha256_init(&c); /* a read error: as unreadable */
	sha256_final(&c, md);
	sha256_to_hex(md, hex);
}

/*
 * Content hash of the key:files: each file's SHA-256 (in order; a missing
 * file hashes as ""), listed "hex name\n", and the list hashed again.
 */
static void hash_files(const struct cache *c, const char *workdir,
		       const struct varlist *vars, struct strbuf *out)
{
	struct strbuf list = STRBUF_INIT, path = STRBUF_INIT, name = STRBUF_INIT;
	char hex[SHA256_HEX_LEN + 1];
	size_t i;

	for (i = 0; i < c->key_files.nr; i++) {
		strbuf_reset(&name);
		vars_expand(c->key_files.v[i], vars, &name);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", workdir, name.buf);
		hash_file(path.buf, hex);
		strbuf_addf(&list, "%s %s\n", hex, name.buf);
	}
	sha256_hex(list.buf, list.len, hex);
	strbuf_addstr(out, hex);
	strbuf_release(&list);
	strbuf_release(&path);
	strbuf_release(&name);
}

void cache_key(const struct cache *c, const char *workdir,
	       const struct varlist *vars, struct strbuf *out)
{
	struct strbuf key = STRBUF_INIT;

	if (c->key_files.nr) {
		if (c->key_prefix && *c->key_prefix) {
			vars_expand(c->key_prefix, vars, &key);
			strbuf_addch(&key, '-');
		}
		hash_files(c, workdir, vars, &key);
	} else if (c->key) {
		vars_expand(c->key, vars, &key);
	}
	sanitise(&key);
	strbuf_add(out, key.buf, key.len);
	strbuf_release(&key);
}

/* The policy in effect (policy_expr resolved against vars). */
static enum cache_policy policy_of(const struct cache *c,
				   const struct varlist *vars)
{
	enum cache_policy p = c->policy;

	if (c->policy_expr) {
		char *v = vars_expand_dup(c->policy_expr, vars);

		if (!strcmp(v, "pull"))
			p = CACHE_PULL;
		else if (!strcmp(v, "push"))
			p = CACHE_PUSH;
		else
			p = CACHE_PULL_PUSH;
		free(v);
	}
	return p;
}

static int is_dir(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISDIR(st.st_mode);
}

int cache_restore(const char *cache_dir, const struct cache *c,
		  const char *key, const struct varlist *vars,
		  const char *workdir, char **ret_hit, struct strbuf *err)
{
	struct strvec keys = STRVEC_INIT;
	struct strbuf k = STRBUF_INIT, dir = STRBUF_INIT;
	const char *global = varlist_get(vars, "CACHE_FALLBACK_KEY");
	size_t i;
	int ret = 0;

	*ret_hit = NULL;
	if (policy_of(c, vars) == CACHE_PUSH)
		return 0;
	strvec_push(&keys, key);
	for (i = 0; i < c->fallback_keys.nr; i++) {
		strbuf_reset(&k);
		vars_expand(c->fallback_keys.v[i], vars, &k);
		sanitise(&k);
		strvec_push(&keys, k.buf);
	}
	if (global && *global) {
		strbuf_reset(&k);
		vars_expand(global, vars, &k);
		sanitise(&k);
		strvec_push(&keys, k.buf);
	}
	for (i = 0; i < keys.nr; i++) {
		strbuf_reset(&dir);
		strbuf_addf(&dir, "%s/%s", cache_dir, keys.v[i]);
		if (!is_dir(dir.buf))
			continue;
		ret = artifacts_restore(dir.buf, workdir, err);
		if (!ret)
			*ret_hit = xstrdup(keys.v[i]);
		break;
	}
	strvec_clear(&keys);
	strbuf_release(&k);
	strbuf_release(&dir);
	return ret;
}

int cache_save(const char *cache_dir, const struct cache *c, const char *key,
	       const struct varlist *vars, const char *workdir,
	       const struct strvec *tracked, int job_ok, struct strbuf *err)
{
	struct strvec paths = STRVEC_INIT;
	struct strbuf tmp = STRBUF_INIT, final = STRBUF_INIT, old = STRBUF_INIT;
	struct strbuf warnings = STRBUF_INIT;
	struct collect_spec spec;
	unsigned long n;
	size_t i;
	int ret = -1;

	if (policy_of(c, vars) == CACHE_PULL)
		return 0;
	if ((c->when == ON_SUCCESS && !job_ok) || (c->when == ON_FAILURE && job_ok))
		return 0;
	if (!c->paths.nr && !c->untracked)
		return 0;
	for (i = 0; i < c->paths.nr; i++) {
		char *p = vars_expand_dup(c->paths.v[i], vars);

		strvec_push_nodup(&paths, p);
	}
	spec.paths = &paths;
	spec.exclude = NULL;
	spec.untracked = c->untracked;
	spec.tracked = tracked;

	if (copy_mkdirs(cache_dir, err) < 0)
		goto done;
	n = __atomic_add_fetch(&cache_seq, 1, __ATOMIC_RELAXED);
	strbuf_addf(&tmp, "%s/.tmp-%ld-%lu", cache_dir, (long)getpid(), n);
	strbuf_addf(&old, "%s/.old-%ld-%lu", cache_dir, (long)getpid(), n);
	strbuf_addf(&final, "%s/%s", cache_dir, key);
	/* Warnings (paths matching nothing) are not errors for a cache. */
	if (artifacts_collect(workdir, &spec, tmp.buf, NULL, &warnings, err) < 0) {
		copy_rmtree(tmp.buf, err);
		goto done;
	}
	/* Swap in the new tree; a concurrent saver may win, which is fine. */
	if (rename(final.buf, old.buf) < 0 && errno != ENOENT) {
		strbuf_addf(err, "cannot replace cache %s: %s", final.buf,
			    strerror(errno));
		copy_rmtree(tmp.buf, err);
		goto done;
	}
	if (rename(tmp.buf, final.buf) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST) {
			strbuf_addf(err, "cannot save cache %s: %s", final.buf,
				    strerror(errno));
			copy_rmtree(tmp.buf, err);
			copy_rmtree(old.buf, err);
			goto done;
		}
		copy_rmtree(tmp.buf, err);
	}
	ret = copy_rmtree(old.buf, err);
done:
	strvec_clear(&paths);
	strbuf_release(&tmp);
	strbuf_release(&final);
	strbuf_release(&old);
	strbuf_release(&warnings);
	return ret;
}
