/*
 * The streaming ZIP reader (zipr.h): a state machine over the records of
 * an archive of stored entries. Header bytes are gathered in z->hdr until
 * a record's fixed part (then its names and fields) is complete; data
 * and skipped bytes pass through without a copy.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "util/zipr.h"
#include "util/zipw.h"

enum zr_state {
	ZR_SIG,         /* a record's signature */
	ZR_LOCAL,       /* a local header: fixed part, then name and extra */
	ZR_DATA,        /* an entry's data */
	ZR_DESC,        /* its data descriptor */
	ZR_CENTRAL,     /* a central directory header's fixed part */
	ZR_SKIP,        /* bytes to pass over, then after_skip */
	ZR_Z64END,      /* the ZIP64 end record's fixed part */
	ZR_Z64LOC,      /* the ZIP64 end locator */
	ZR_END,         /* the end record's fixed part */
	ZR_DONE,        /* the end record and its comment were read */
	ZR_FAILED,
};

/* Where in the archive: the order records may come in. */
enum zr_phase { PH_ENTRIES, PH_CENTRAL, PH_Z64END, PH_Z64LOC };

#define LOCAL_FIXED   30
#define CENTRAL_FIXED 46
#define END_FIXED     22
#define Z64END_FIXED  56
#define Z64LOC_FIXED  20
#define Z64END_MAX    4096      /* the ZIP64 end record with its extensible data */


void zipr_init(struct zipr *z, const struct zipr_ops *ops, void *ctx)
{
	memset(z, 0, sizeof(*z));
	z->ops = ops;
	z->ctx = ctx;
	strbuf_init(&z->err, 0);
	z->state = ZR_SIG;
	z->need = 4;
}

void zipr_release(struct zipr *z)
{
	strbuf_release(&z->err);
}

const char *zipr_error(const struct zipr *z)
{
	return z->err.len ? z->err.buf : "no error";
}

const char *zipr_current(const struct zipr *z)
{
	return z->in_entry ? z->name : NULL;
}

static int fail(struct zipr *z, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct zipr *z, const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(&z->err);
	if (z->in_entry)
		strbuf_addf(&z->err, "%s: ", z->name);
	va_start(ap, fmt);
	strbuf_vaddf(&z->err, fmt, ap);
	va_end(ap);
	z->state = ZR_FAILED;
	z->rc = ZIPR_EFORMAT;
	return ZIPR_EFORMAT;
}

static int refused(struct zipr *z)
{
	strbuf_reset(&z->err);
	strbuf_addstr(&z->err, "stopped by the caller");
	z->state = ZR_FAILED;
	z->rc = ZIPR_ECALLBACK;
	return ZIPR_ECALLBACK;
}

/* Gather a header of n bytes in all (those already had included). */
static void want(struct zipr *z, int state, size_t n)
{
	z->state = state;
	z->need = n;
}

static void next_record(struct zipr *z)
{
	z->have = 0;
	want(z, ZR_SIG, 4);
}

/* Pass over n bytes, then to state then (ZR_SIG: the next record). */
static void skip(struct zipr *z, uint64_t n, int then)
{
	z->have = 0;
	z->left = n;
	z->state = ZR_SKIP;
	z->after_skip = then;
	if (n)
		return;
	if (then == ZR_DONE)
		z->state = ZR_DONE;
	else
		next_record(z);
}

/* The signature read: on to its record, if it may come here. */
static int on_signature(struct zipr *z)
{
	uint32_t sig = zip_le32(z->hdr);

	switch (sig) {
	case ZIP_SIG_LOCAL:
		if (z->phase != PH_ENTRIES)
			return fail(z, "an entry after the central directory");
		want(z, ZR_LOCAL, LOCAL_FIXED);
		return 0;
	case ZIP_SIG_CENTRAL:
		if (z->phase == PH_ENTRIES)
			z->cd_start = z->pos - 4;
		else if (z->phase != PH_CENTRAL)
			return fail(z, "a central directory header after the end records");
		z->phase = PH_CENTRAL;
		want(z, ZR_CENTRAL, CENTRAL_FIXED);
		return 0;
	case ZIP_SIG_Z64_END:
		if (z->phase == PH_ENTRIES)
			z->cd_start = z->pos - 4;
		else if (z->phase != PH_CENTRAL)
			return fail(z, "a second ZIP64 end record");
		z->phase = PH_Z64END;
		z->z64_at = z->pos - 4;
		want(z, ZR_Z64END, Z64END_FIXED);
		return 0;
	case ZIP_SIG_Z64_LOC:
		if (z->phase != PH_Z64END)
			return fail(z, "a ZIP64 locator without its end record");
		z->phase = PH_Z64LOC;
		want(z, ZR_Z64LOC, Z64LOC_FIXED);
		return 0;
	case ZIP_SIG_END:
		if (z->phase == PH_Z64END)
			return fail(z, "the ZIP64 end record has no locator");
		if (z->phase == PH_ENTRIES)
			z->cd_start = z->pos - 4;
		want(z, ZR_END, END_FIXED);
		return 0;
	}
	return fail(z, "not a ZIP record at byte %" PRIu64 " (signature %08" PRIx32 ")",
		    z->pos - 4, sig);
}

/* The local header's extra fields: its ZIP64 sizes, if any. */
static int local_extra(struct zipr *z, const unsigned char *p, size_t n,
		       uint64_t *usize, uint64_t *csize)
{
	while (n) {
		unsigned id, len;

		if (n < 4)
			return fail(z, "a truncated extra field");
		id = zip_le16(p);
		len = zip_le16(p + 2);
		if (len > n - 4)
			return fail(z, "an extra field longer than its header");
		if (id == ZIP_EXTRA_ZIP64) {
			/* a local header's has both sizes (APPNOTE 4.5.3) */
			if (len < 16)
				return fail(z, "a ZIP64 field without both sizes");
			if (*usize == ZIP_MAX32)
				*usize = zip_le64(p + 4);
			if (*csize == ZIP_MAX32)
				*csize = zip_le64(p + 12);
			/* and the data descriptor has 64-bit sizes */
			z->zip64 = 1;
		}
		p += 4 + len;
		n -= 4 + len;
	}
	return 0;
}

/* Into the entry's data (or straight to its end when it has none). */
static int start_data(struct zipr *z);

static int on_local(struct zipr *z)
{
	const unsigned char *h = z->hdr;
	unsigned flags = zip_le16(h + 6), method = zip_le16(h + 8);
	size_t nlen = zip_le16(h + 26), xlen = zip_le16(h + 28);
	uint64_t usize = zip_le32(h + 22), csize = zip_le32(h + 18), size = 0;

	if (z->need == LOCAL_FIXED) {
		if (!nlen)
			return fail(z, "an entry without a name");
		if (nlen > ZIPR_MAX_NAME)
			return fail(z, "an entry name of %zu bytes (at most %d)", nlen,
				    ZIPR_MAX_NAME);
		if (xlen > ZIPR_MAX_EXTRA)
			return fail(z, "an entry with %zu bytes of extra fields (at most %d)",
				    xlen, ZIPR_MAX_EXTRA);
		want(z, ZR_LOCAL, LOCAL_FIXED + nlen + xlen);
		if (z->have < z->need)
			return 0;
	}
	memcpy(z->name, h + LOCAL_FIXED, nlen);
	z->name[nlen] = '\0';
	memset(&z->cur, 0, sizeof(z->cur));
	z->cur.name = z->name;
	z->cur.name_len = nlen;
	z->cur.flags = flags;
	z->in_entry = 1;
	z->zip64 = 0;
	z->nr_local++;
	if (memchr(z->name, '\0', nlen))
		return fail(z, "a name with a NUL byte");
	if (flags & (ZIP_FLAG_ENCRYPTED | 0x0040 | 0x2000))
		return fail(z, "encrypted");
	if (method)
		return fail(z, "compressed (method %u): only stored entries are read", method);
	if (local_extra(z, h + LOCAL_FIXED + nlen, xlen, &usize, &csize))
		return ZIPR_EFORMAT;
	if (!(flags & ZIP_FLAG_DESCRIPTOR)) {
		if (usize != csize)
			return fail(z, "stored, yet %" PRIu64 " bytes hold %" PRIu64, csize,
				    usize);
		z->cur.has_size = 1;
		z->cur.size = usize;
		z->cur.crc = zip_le32(h + 14);
	}
	if (z->ops->entry(z->ctx, &z->cur, &size))
		return refused(z);
	if (!z->cur.has_size)
		z->cur.size = size;
	return start_data(z);
}

static int end_entry(struct zipr *z)
{
	if (z->ops->done(z->ctx, &z->cur))
		return refused(z);
	z->in_entry = 0;
	next_record(z);
	return 0;
}

static int start_data(struct zipr *z)
{
	z->have = 0;
	z->left = z->cur.size;
	z->state = ZR_DATA;
	if (z->left)
		return 0;
	if (z->cur.flags & ZIP_FLAG_DESCRIPTOR) {
		want(z, ZR_DESC, z->zip64 ? 24 : 16);
		return 0;
	}
	return end_entry(z);
}

static int on_descriptor(struct zipr *z)
{
	const unsigned char *h = z->hdr;
	uint64_t csize, usize;

	/* the signature is optional in APPNOTE; the writers we read put it */
	if (zip_le32(h) != ZIP_SIG_DESC)
		return fail(z, "no data descriptor after the data");
	z->cur.crc = zip_le32(h + 4);
	if (z->zip64) {
		csize = zip_le64(h + 8);
		usize = zip_le64(h + 16);
	} else {
		csize = zip_le32(h + 8);
		usize = zip_le32(h + 12);
	}
	if (csize != z->cur.size || usize != z->cur.size)
		return fail(z, "the archive says %" PRIu64 " bytes, %" PRIu64 " were expected",
			    usize, z->cur.size);
	return end_entry(z);
}

static int on_central(struct zipr *z)
{
	const unsigned char *h = z->hdr;
	uint64_t rest = (uint64_t)zip_le16(h + 28) + zip_le16(h + 30) + zip_le16(h + 32);

	if (++z->nr_central > z->nr_local)
		return fail(z, "more central directory headers than entries");
	skip(z, rest, ZR_SIG);
	return 0;
}

static int on_z64end(struct zipr *z)
{
	const unsigned char *h = z->hdr;
	uint64_t len = zip_le64(h + 4), nr = zip_le64(h + 24), total = zip_le64(h + 32);
	uint64_t size = zip_le64(h + 40), off = zip_le64(h + 48);

	if (len < Z64END_FIXED - 12 || len > Z64END_MAX)
		return fail(z, "a ZIP64 end record of %" PRIu64 " bytes", len);
	if (zip_le32(h + 16) || zip_le32(h + 20))
		return fail(z, "an archive on several disks");
	if (nr != total || nr != z->nr_central || off != z->cd_start ||
	    size != z->z64_at - z->cd_start)
		return fail(z, "the ZIP64 end record does not match the central directory");
	z->z64_seen = 1;
	skip(z, len - (Z64END_FIXED - 12), ZR_SIG);
	return 0;
}

static int on_z64loc(struct zipr *z)
{
	const unsigned char *h = z->hdr;

	if (zip_le32(h + 4) || zip_le32(h + 16) != 1)
		return fail(z, "an archive on several disks");
	if (zip_le64(h + 8) != z->z64_at)
		return fail(z, "the ZIP64 locator points elsewhere than its end record");
	next_record(z);
	return 0;
}

/* A 16- or 32-bit field of the end record: the value, or the ZIP64 mark. */
static int agrees(uint64_t field, uint64_t max, uint64_t real, int z64)
{
	return field == real || (z64 && field == max);
}

static int on_end(struct zipr *z)
{
	const unsigned char *h = z->hdr;
	uint64_t end_at = z->pos - END_FIXED;
	uint64_t cd_end = z->z64_seen ? z->z64_at : end_at;
	unsigned comment = zip_le16(h + 20);

	if (zip_le16(h + 4) || zip_le16(h + 6))
		return fail(z, "an archive on several disks");
	if (!agrees(zip_le16(h + 8), ZIP_MAX16, z->nr_central, z->z64_seen) ||
	    !agrees(zip_le16(h + 10), ZIP_MAX16, z->nr_central, z->z64_seen) ||
	    !agrees(zip_le32(h + 12), ZIP_MAX32, cd_end - z->cd_start, z->z64_seen) ||
	    !agrees(zip_le32(h + 16), ZIP_MAX32, z->cd_start, z->z64_seen))
		return fail(z, "the end record does not match the central directory");
	if (z->nr_central != z->nr_local)
		return fail(z, "the central directory lists %" PRIu64 " entries, the archive "
			    "holds %" PRIu64, z->nr_central, z->nr_local);
	skip(z, comment, ZR_DONE);
	return 0;
}

/* A header is complete (z->have == z->need): act on it. */
static int on_header(struct zipr *z)
{
	switch (z->state) {
	case ZR_SIG:
		return on_signature(z);
	case ZR_LOCAL:
		return on_local(z);
	case ZR_DESC:
		return on_descriptor(z);
	case ZR_CENTRAL:
		return on_central(z);
	case ZR_Z64END:
		return on_z64end(z);
	case ZR_Z64LOC:
		return on_z64loc(z);
	case ZR_END:
		return on_end(z);
	}
	return fail(z, "internal: no header in state %d", z->state);
}

/* Data or skipped bytes: how many of len were used. */
static int pass(struct zipr *z, const char *buf, size_t len, size_t *used)
{
	size_t n = len < z->left ? len : (size_t)z->left;

	*used = n;
	z->left -= n;
	if (z->state == ZR_SKIP) {
		if (!z->left)
			skip(z, 0, z->after_skip);
		return 0;
	}
	if (n && z->ops->data(z->ctx, buf, n))
		return refused(z);
	if (z->left)
		return 0;
	if (z->cur.flags & ZIP_FLAG_DESCRIPTOR) {
		want(z, ZR_DESC, z->zip64 ? 24 : 16);
		return 0;
	}
	return end_entry(z);
}

int zipr_feed(struct zipr *z, const char *buf, size_t len)
{
	while (len) {
		size_t n;
		int rc;

		switch (z->state) {
		case ZR_FAILED:
			return z->rc;
		case ZR_DONE:
			return fail(z, "data after the end of the archive");
		case ZR_DATA:
		case ZR_SKIP:
			rc = pass(z, buf, len, &n);
			break;
		default:
			n = z->need - z->have;
			if (n > len)
				n = len;
			memcpy(z->hdr + z->have, buf, n);
			z->have += n;
			rc = 0;
			if (z->have == z->need) {
				z->pos += n;
				buf += n;
				len -= n;
				rc = on_header(z);
				if (rc)
					return rc;
				continue;
			}
		}
		z->pos += n;
		buf += n;
		len -= n;
		if (rc)
			return rc;
	}
	return 0;
}

int zipr_finish(struct zipr *z)
{
	if (z->state == ZR_DONE)
		return 0;
	if (z->state == ZR_FAILED)
		return z->rc;
	if (z->in_entry)
		return fail(z, "the archive ends inside this entry");
	return fail(z, "the archive ends before its end record");
}
