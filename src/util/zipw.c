/*
 * ZIP headers for stored entries, with their CRC-32 in the local header
 * or in a data descriptor (zipw.h). Every multi-byte field is
 * little-endian.
 */
#include <string.h>

#include "util/tz.h"
#include "util/zipw.h"

#define VERSION_MADE_BY   ((3u << 8) | 63) /* Unix, APPNOTE 6.3 (UTF-8 names) */
#define VERSION_NEEDED    20               /* 2.0: data descriptors */
#define VERSION_ZIP64     45               /* 4.5: ZIP64 fields */
#define LOCAL_FIXED       30
#define CENTRAL_FIXED     46
#define END_FIXED         22
#define Z64_END_FIXED     56
#define Z64_LOC_FIXED     20

static unsigned char *put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	p = put16(p, v & 0xFFFF);
	return put16(p, v >> 16);
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
	p = put32(p, (uint32_t)v);
	return put32(p, (uint32_t)(v >> 32));
}

/* The local header carries a ZIP64 field, and the descriptor 64-bit sizes. */
static int local_zip64(const struct zipw_entry *e)
{
	return e->size >= ZIP_MAX32;
}

/* The central header's ZIP64 field: 8 bytes per value that does not fit. */
static size_t central_extra(const struct zipw_entry *e)
{
	size_t n = 0;

	if (e->size >= ZIP_MAX32)
		n += 16;        /* uncompressed and compressed size */
	if (e->offset >= ZIP_MAX32)
		n += 8;
	return n ? 4 + n : 0;
}

static unsigned version_needed(const struct zipw_entry *e)
{
	return e->size >= ZIP_MAX32 || e->offset >= ZIP_MAX32 ? VERSION_ZIP64 :
	       VERSION_NEEDED;
}

size_t zipw_local_len(const struct zipw_entry *e)
{
	return LOCAL_FIXED + e->name_len + (local_zip64(e) ? 20 : 0);
}

size_t zipw_desc_len(const struct zipw_entry *e)
{
	if (e->crc_first)
		return 0;
	return local_zip64(e) ? 24 : 16;
}

static unsigned flags(const struct zipw_entry *e)
{
	return (e->crc_first ? 0 : ZIP_FLAG_DESCRIPTOR) | ZIP_FLAG_UTF8;
}

size_t zipw_central_len(const struct zipw_entry *e)
{
	return CENTRAL_FIXED + e->name_len + central_extra(e);
}

static int end_zip64(const struct zipw_layout *lay)
{
	return lay->nr >= ZIP_MAX16 || lay->cd_size >= ZIP_MAX32 ||
	       lay->cd_offset >= ZIP_MAX32;
}

size_t zipw_end_len(const struct zipw_layout *lay)
{
	return END_FIXED + (end_zip64(lay) ? Z64_END_FIXED + Z64_LOC_FIXED : 0);
}

int zipw_layout(struct zipw_entry *e, size_t n, struct zipw_layout *lay)
{
	uint64_t off = 0, cd = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!e[i].name_len || e[i].name_len > ZIPW_MAX_NAME)
			return -1;
		e[i].offset = off;
		off += zipw_local_len(&e[i]) + e[i].size + zipw_desc_len(&e[i]);
		cd += zipw_central_len(&e[i]);
	}
	lay->nr = n;
	lay->cd_offset = off;
	lay->cd_size = cd;
	lay->total = off + cd + zipw_end_len(lay);
	return 0;
}

size_t zipw_local(const struct zipw_entry *e, unsigned char *buf)
{
	unsigned char *p = buf;
	int z64 = local_zip64(e);
	/* with a descriptor (bit 3), CRC and sizes follow the data: zero here */
	uint64_t size = e->crc_first ? e->size : 0;
	uint32_t size32 = z64 ? (e->crc_first ? ZIP_MAX32 : 0) : (uint32_t)size;

	p = put32(p, ZIP_SIG_LOCAL);
	p = put16(p, version_needed(e));
	p = put16(p, flags(e));
	p = put16(p, 0);                        /* stored */
	p = put16(p, e->dos_time);
	p = put16(p, e->dos_date);
	p = put32(p, e->crc_first ? e->crc : 0);
	p = put32(p, size32);
	p = put32(p, size32);
	p = put16(p, (unsigned)e->name_len);
	p = put16(p, z64 ? 20 : 0);
	memcpy(p, e->name, e->name_len);
	p += e->name_len;
	if (z64) {
		/* both sizes (zero with a descriptor: it has them) */
		p = put16(p, ZIP_EXTRA_ZIP64);
		p = put16(p, 16);
		p = put64(p, size);
		p = put64(p, size);
	}
	return (size_t)(p - buf);
}

size_t zipw_descriptor(const struct zipw_entry *e, unsigned char *buf)
{
	unsigned char *p = buf;

	p = put32(p, ZIP_SIG_DESC);
	p = put32(p, e->crc);
	if (local_zip64(e)) {
		p = put64(p, e->size);
		p = put64(p, e->size);
	} else {
		p = put32(p, (uint32_t)e->size);
		p = put32(p, (uint32_t)e->size);
	}
	return (size_t)(p - buf);
}

size_t zipw_central(const struct zipw_entry *e, unsigned char *buf)
{
	unsigned char *p = buf;
	size_t extra = central_extra(e);
	uint32_t size32 = e->size >= ZIP_MAX32 ? ZIP_MAX32 : (uint32_t)e->size;

	p = put32(p, ZIP_SIG_CENTRAL);
	p = put16(p, VERSION_MADE_BY);
	p = put16(p, version_needed(e));
	p = put16(p, flags(e));
	p = put16(p, 0);
	p = put16(p, e->dos_time);
	p = put16(p, e->dos_date);
	p = put32(p, e->crc);
	p = put32(p, size32);
	p = put32(p, size32);
	p = put16(p, (unsigned)e->name_len);
	p = put16(p, (unsigned)extra);
	p = put16(p, 0);                        /* comment */
	p = put16(p, 0);                        /* disk */
	p = put16(p, 0);                        /* internal attributes */
	/* a regular file (S_IFREG) and its permission bits, Unix style */
	p = put32(p, (0100000u | (e->mode & 07777)) << 16);
	p = put32(p, e->offset >= ZIP_MAX32 ? ZIP_MAX32 : (uint32_t)e->offset);
	memcpy(p, e->name, e->name_len);
	p += e->name_len;
	if (extra) {
		p = put16(p, ZIP_EXTRA_ZIP64);
		p = put16(p, (unsigned)(extra - 4));
		/* in the order APPNOTE 4.5.3 gives, only those set to the max */
		if (e->size >= ZIP_MAX32) {
			p = put64(p, e->size);
			p = put64(p, e->size);
		}
		if (e->offset >= ZIP_MAX32)
			p = put64(p, e->offset);
	}
	return (size_t)(p - buf);
}

size_t zipw_end(const struct zipw_layout *lay, unsigned char *buf)
{
	unsigned char *p = buf;
	uint64_t z64_at = lay->cd_offset + lay->cd_size;

	if (end_zip64(lay)) {
		p = put32(p, ZIP_SIG_Z64_END);
		p = put64(p, Z64_END_FIXED - 12);       /* the rest of the record */
		p = put16(p, VERSION_MADE_BY);
		p = put16(p, VERSION_ZIP64);
		p = put32(p, 0);                        /* this disk */
		p = put32(p, 0);                        /* the directory's disk */
		p = put64(p, lay->nr);
		p = put64(p, lay->nr);
		p = put64(p, lay->cd_size);
		p = put64(p, lay->cd_offset);
		p = put32(p, ZIP_SIG_Z64_LOC);
		p = put32(p, 0);
		p = put64(p, z64_at);
		p = put32(p, 1);                        /* disks */
	}
	p = put32(p, ZIP_SIG_END);
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, lay->nr >= ZIP_MAX16 ? ZIP_MAX16 : (unsigned)lay->nr);
	p = put16(p, lay->nr >= ZIP_MAX16 ? ZIP_MAX16 : (unsigned)lay->nr);
	p = put32(p, lay->cd_size >= ZIP_MAX32 ? ZIP_MAX32 : (uint32_t)lay->cd_size);
	p = put32(p, lay->cd_offset >= ZIP_MAX32 ? ZIP_MAX32 : (uint32_t)lay->cd_offset);
	p = put16(p, 0);                                /* comment */
	return (size_t)(p - buf);
}

void zipw_dos_time(int64_t t, uint16_t *ret_time, uint16_t *ret_date)
{
	/* 1980-01-01T00:00:00Z and 2107-12-31T23:59:58Z */
	static const int64_t lo = 315532800, hi = 4354819198;
	int64_t days, secs, y;
	unsigned m, d;

	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	days = t / 86400;
	secs = t % 86400;
	tz_civil_from_days(days, &y, &m, &d);
	*ret_time = (uint16_t)((secs / 3600) << 11 | (secs / 60 % 60) << 5 | (secs % 60) / 2);
	*ret_date = (uint16_t)((unsigned)(y - 1980) << 9 | m << 5 | d);
}
