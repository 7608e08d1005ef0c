#ifndef CIDRE_ZIPW_H
#define CIDRE_ZIPW_H

/*
 * The encoders of a ZIP archive writer (PKWARE's APPNOTE 6.3): pure
 * functions that lay out an archive of stored (uncompressed) entries
 * whose sizes are known before their data, and write its headers into
 * buffers. The caller sends each entry's data after its local header and
 * computes the entry's CRC-32 as it goes; nothing here does I/O or
 * allocates. An entry whose CRC-32 is known before its data (crc_first)
 * has it and its sizes in its local header, as every reader wants; one
 * whose CRC is known only after its data has a data descriptor (flag
 * bit 3), which readers that stream an archive without its central
 * directory (Java's ZipInputStream) refuse for stored entries. Every
 * name is UTF-8 (bit 11). ZIP64 fields are
 * used where a size or offset does not fit 32 bits, and ZIP64 end
 * records where the entry count does not fit 16 bits or the central
 * directory's size or offset 32 bits. See docs/internals/util.md.
 *
 *	zipw_layout(e, n, &lay);                 offsets and total size
 *	for each entry: zipw_local(), its data; unless crc_first,
 *	                e[i].crc = CRC-32 of it and zipw_descriptor()
 *	for each entry: zipw_central()
 *	zipw_end(&lay, buf)
 */

#include <stddef.h>
#include <stdint.h>

#define ZIPW_MAX_NAME    0xFFFF            /* bytes of a name */
#define ZIPW_LOCAL_MAX   (30 + ZIPW_MAX_NAME + 20)
#define ZIPW_DESC_MAX    24
#define ZIPW_CENTRAL_MAX (46 + ZIPW_MAX_NAME + 28)
#define ZIPW_END_MAX     (56 + 20 + 22)

/* Signatures of the records ("PK" and two bytes, little-endian). */
#define ZIP_SIG_LOCAL     0x04034b50u
#define ZIP_SIG_DESC      0x08074b50u
#define ZIP_SIG_CENTRAL   0x02014b50u
#define ZIP_SIG_Z64_END   0x06064b50u
#define ZIP_SIG_Z64_LOC   0x07064b50u
#define ZIP_SIG_END       0x06054b50u

#define ZIP_FLAG_ENCRYPTED  0x0001
#define ZIP_FLAG_DESCRIPTOR 0x0008
#define ZIP_FLAG_UTF8       0x0800
#define ZIP_EXTRA_ZIP64     0x0001
#define ZIP_MAX32           0xFFFFFFFFu      /* a 32-bit field's "see ZIP64" */
#define ZIP_MAX16           0xFFFFu

struct zipw_entry {
	const char *name;       /* '/'-separated; need not end with a NUL */
	size_t name_len;        /* 1..ZIPW_MAX_NAME */
	uint64_t size;
	unsigned mode;          /* permission bits, e.g. 0644, 0755 */
	uint16_t dos_time, dos_date;
	uint32_t crc;           /* CRC-32 of the data: set before descriptor/central */
	int crc_first;          /* crc is set before zipw_layout(): no descriptor */
	uint64_t offset;        /* of its local header: set by zipw_layout() */
};

struct zipw_layout {
	uint64_t nr;            /* entries */
	uint64_t cd_offset;     /* where the central directory starts */
	uint64_t cd_size;
	uint64_t total;         /* the whole archive's bytes */
};

/*
 * Place the n entries in order: set each e[i].offset, and *lay. 0, or -1
 * when a name is empty or longer than ZIPW_MAX_NAME.
 */
int zipw_layout(struct zipw_entry *e, size_t n, struct zipw_layout *lay);

/* The sizes of each record of entry e (its name included; 0: it has none). */
size_t zipw_local_len(const struct zipw_entry *e);
size_t zipw_desc_len(const struct zipw_entry *e);
size_t zipw_central_len(const struct zipw_entry *e);
size_t zipw_end_len(const struct zipw_layout *lay);

/*
 * Encode into buf (room for the record's *_MAX bytes) and return the
 * bytes written: the local header and name; the data descriptor (its
 * signature, e->crc, the sizes: 64-bit when the local header had a ZIP64
 * field); the central directory header (mode as Unix external
 * attributes, made by Unix); the end records.
 */
size_t zipw_local(const struct zipw_entry *e, unsigned char *buf);
size_t zipw_descriptor(const struct zipw_entry *e, unsigned char *buf);
size_t zipw_central(const struct zipw_entry *e, unsigned char *buf);
size_t zipw_end(const struct zipw_layout *lay, unsigned char *buf);

/*
 * Unix time t (seconds, UTC) as MS-DOS date and time fields (2-second
 * resolution), clamped to 1980..2107.
 */
void zipw_dos_time(int64_t t, uint16_t *ret_time, uint16_t *ret_date);

#endif
