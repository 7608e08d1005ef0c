/*
 * Secrets at rest, sealed with the data directory's key (seal.h).
 *
 * The key is read once at start and kept in a page locked in memory
 * (sodium_malloc: guarded, not swapped, not in core dumps); after that
 * it is only read, by any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "server/auth.h"
#include "server/seal.h"
#include "store/store.h"
#include "util/xalloc.h"

#define KEY_HEX (2 * crypto_secretbox_KEYBYTES)

static unsigned char *key;	/* crypto_secretbox_KEYBYTES, or NULL before seal_init */

static int read_key(const char *path, int fd, struct strbuf *err)
{
	char hex[KEY_HEX + 2];
	struct stat stt;
	ssize_t n;
	size_t len;

	if (fstat(fd, &stt) < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (stt.st_mode & 077) {
		strbuf_addf(err, "%s: others than its owner may read it (mode %04o); "
			    "it must be 0600", path, (unsigned)(stt.st_mode & 07777));
		return -1;
	}
	n = read(fd, hex, sizeof(hex));
	if (n == KEY_HEX + 1 && hex[KEY_HEX] == '\n')
		n = KEY_HEX;
	if (n != KEY_HEX ||
	    sodium_hex2bin(key, crypto_secretbox_KEYBYTES, hex, KEY_HEX, NULL, &len, NULL) ||
	    len != crypto_secretbox_KEYBYTES) {
		strbuf_addf(err, "%s: not a key (%d hexadecimal digits and a newline expected)",
			    path, KEY_HEX);
		sodium_memzero(hex, sizeof(hex));
		return -1;
	}
	sodium_memzero(hex, sizeof(hex));
	return 0;
}

static int make_key(const char *path, struct strbuf *err)
{
	char hex[KEY_HEX + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;

	if (fd < 0) {
		strbuf_addf(err, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	randombytes_buf(key, crypto_secretbox_KEYBYTES);
	sodium_bin2hex(hex, sizeof(hex), key, crypto_secretbox_KEYBYTES);
	hex[KEY_HEX] = '\n';
	if (write(fd, hex, KEY_HEX + 1) != KEY_HEX + 1 || fsync(fd) < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	sodium_memzero(hex, sizeof(hex));
	close(fd);
	if (rc < 0)
		unlink(path);
	return rc;
}

/* Are there sealed values in st? */
static int have_sealed(struct store *st, struct strbuf *err)
{
	struct store_secret *a = NULL;
	size_t n = 0;

	if (store_secret_list(st, SEAL_PREFIX, 1, &a, &n, err) < 0)
		return -1;
	store_secrets_free(a, n);
	return n > 0;
}

int seal_init(const char *data_dir, struct store *st, struct strbuf *err)
{
	char *path = xasprintf("%s/%s", data_dir, SEAL_KEY_FILE);
	int fd, rc;

	if (auth_init() < 0) {
		strbuf_addstr(err, "libsodium cannot start");
		free(path);
		return -1;
	}
	seal_release();
	key = sodium_malloc(crypto_secretbox_KEYBYTES);
	if (!key) {
		strbuf_addstr(err, "cannot allocate the secret key");
		free(path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		rc = read_key(path, fd, err);
		close(fd);
	} else if (errno == ENOENT) {
		rc = st ? have_sealed(st, err) : 0;
		if (rc > 0) {
			strbuf_addf(err, "%s is missing and the database holds secrets sealed "
				    "with it: put it back (from the backup of the data directory)",
				    path);
			rc = -1;
		} else if (rc == 0) {
			rc = make_key(path, err);
		}
	} else {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		seal_release();
	else
		sodium_mprotect_readonly(key);
	free(path);
	return rc;
}

void seal_release(void)
{
	if (key)
		sodium_free(key);
	key = NULL;
}

int seal_is_sealed(const char *stored)
{
	return stored && !strncmp(stored, SEAL_PREFIX, strlen(SEAL_PREFIX));
}

char *seal_value(const char *value)
{
	size_t vlen, blen, b64len, plen = strlen(SEAL_PREFIX);
	unsigned char *box;
	char *out;

	if (!value)
		return NULL;
	if (!key)
		abort();	/* seal_init first: a secret is never stored in clear by mistake */
	vlen = strlen(value);
	blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + vlen;
	box = xmalloc(blen);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)value,
			      vlen, box, key);
	b64len = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
	out = xmalloc(plen + b64len);
	memcpy(out, SEAL_PREFIX, plen);
	sodium_bin2base64(out + plen, b64len, box, blen, sodium_base64_VARIANT_ORIGINAL);
	free(box);
	return out;
}

int seal_open(const char *stored, char **ret, struct strbuf *err)
{
	const char *b64;
	size_t b64len, blen = 0, vlen;
	unsigned char *box;
	char *value;

	*ret = NULL;
	if (!stored)
		return 0;
	if (!seal_is_sealed(stored)) {
		*ret = xstrdup(stored);
		return 0;
	}
	if (!key) {
		strbuf_addstr(err, "a sealed secret, and no key loaded");
		return -1;
	}
	b64 = stored + strlen(SEAL_PREFIX);
	b64len = strlen(b64);
	box = xmalloc(b64len + 1);
	if (sodium_base642bin(box, b64len + 1, b64, b64len, NULL, &blen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		free(box);
		strbuf_addstr(err, "a damaged sealed secret");
		return -1;
	}
	vlen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	value = xmalloc(vlen + 1);
	if (crypto_secretbox_open_easy((unsigned char *)value, box + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES, box, key)) {
		free(box);
		free(value);
		strbuf_addf(err, "a sealed secret that this server's %s does not open "
			    "(another data directory's key?)", SEAL_KEY_FILE);
		return -1;
	}
	free(box);
	value[vlen] = '\0';
	*ret = value;
	return 0;
}

int seal_open_in_place(char **value, struct strbuf *err)
{
	char *clear;

	if (seal_open(*value, &clear, err) < 0)
		return -1;
	free(*value);
	*value = clear;
	return 0;
}

int seal_migrate(struct store *st, struct strbuf *err)
{
	struct store_secret *a = NULL;
	size_t n = 0, i;
	int rc;

	if (store_secret_list(st, SEAL_PREFIX, 0, &a, &n, err) < 0)
		return -1;
	rc = (int)n;
	for (i = 0; i < n && rc >= 0; i++) {
		char *sealed = seal_value(a[i].value);

		if (store_secret_rewrite(st, &a[i], sealed, err) < 0)
			rc = -1;
		free(sealed);
	}
	store_secrets_free(a, n);
	return rc;
}
