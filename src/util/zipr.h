#ifndef CIDRE_ZIPR_H
#define CIDRE_ZIPR_H

/*
 * A streaming reader of ZIP archives of stored entries, such as the
 * server's artifacts.zip (zipw.h): the archive is fed as it arrives, in
 * pieces of any size, and each entry's start, data and end go to
 * callbacks. Only one header at a time is held (at most ZIPR_MAX_HEADER
 * bytes); data passes straight through. The input comes from outside:
 * every length is capped, every count and offset of the central
 * directory and end records is checked against what was read, and
 * anything else (compression, encryption, a name with a NUL, bytes after
 * the end) is an error. See docs/internals/util.md.
 *
 * An entry whose local header has a data descriptor (flag bit 3) gives
 * no size: the entry callback must say how many bytes to expect (the
 * caller's listing knows), and the descriptor must then agree. The
 * reader does not check CRC-32s: it hands them to the caller.
 *
 *	struct zipr z;
 *	zipr_init(&z, &ops, ctx);
 *	while (bytes arrive) if (zipr_feed(&z, buf, n)) ... stop
 *	if (zipr_finish(&z)) ... truncated
 *	zipr_release(&z);
 */

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/* Little-endian fields of a header. */
static inline unsigned zip_le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static inline uint32_t zip_le32(const unsigned char *p)
{
	return (uint32_t)zip_le16(p) | (uint32_t)zip_le16(p + 2) << 16;
}

static inline uint64_t zip_le64(const unsigned char *p)
{
	return (uint64_t)zip_le32(p) | (uint64_t)zip_le32(p + 4) << 32;
}

#define ZIPR_MAX_NAME   4096
#define ZIPR_MAX_EXTRA  1024            /* a local header's extra fields */
#define ZIPR_MAX_HEADER (30 + ZIPR_MAX_NAME + ZIPR_MAX_EXTRA)

/* zipr_feed()'s and zipr_finish()'s failures */
#define ZIPR_EFORMAT   (-1)   /* the archive is not what was expected: zipr_error() */
#define ZIPR_ECALLBACK (-2)   /* a callback returned non-zero: its own reason */

struct zipr_entry {
	const char *name;       /* NUL-terminated, name_len bytes, no NUL inside */
	size_t name_len;
	unsigned flags;         /* general purpose bits */
	int has_size;           /* the local header gave size and crc */
	uint64_t size;
	uint32_t crc;           /* at done: the descriptor's (or the header's) */
};

struct zipr_ops {
	/*
	 * A local header was read. Return 0 to read its data, having set
	 * *size when !e->has_size; non-zero stops the reader.
	 */
	int (*entry)(void *ctx, const struct zipr_entry *e, uint64_t *size);
	/* The next bytes of the entry's data; non-zero stops the reader. */
	int (*data)(void *ctx, const char *buf, size_t len);
	/* The entry's data and descriptor were read and agree; non-zero stops. */
	int (*done)(void *ctx, const struct zipr_entry *e);
};

struct zipr {
	const struct zipr_ops *ops;
	void *ctx;
	int state, phase, after_skip;
	int rc;                   /* in ZR_FAILED: what every call returns */
	int in_entry;             /* cur names the entry being read */
	int zip64;                /* cur's descriptor has 64-bit sizes */
	size_t have, need;        /* header bytes gathered, wanted */
	uint64_t left;            /* data bytes or bytes to skip */
	uint64_t pos;             /* bytes consumed */
	uint64_t nr_local, nr_central;
	uint64_t cd_start;        /* where the central directory began */
	uint64_t z64_at;          /* where the ZIP64 end record began */
	int z64_seen;
	struct zipr_entry cur;
	struct strbuf err;
	char name[ZIPR_MAX_NAME + 1];
	unsigned char hdr[ZIPR_MAX_HEADER];
};

void zipr_init(struct zipr *z, const struct zipr_ops *ops, void *ctx);
void zipr_release(struct zipr *z);
/* Feed len bytes. 0, or ZIPR_EFORMAT / ZIPR_ECALLBACK; after a failure
 * every call fails the same way. */
int zipr_feed(struct zipr *z, const char *buf, size_t len);
/* The input ended: 0 if it was a whole archive, else ZIPR_EFORMAT. */
int zipr_finish(struct zipr *z);
/*
 * Why the last ZIPR_EFORMAT: "NAME: why" when it concerns an entry, else
 * "why".
 */
const char *zipr_error(const struct zipr *z);
/* The entry being read (its local header seen, its end not yet), or NULL. */
const char *zipr_current(const struct zipr *z);

#endif
