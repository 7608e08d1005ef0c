#ifndef CIDRE_CRC32_H
#define CIDRE_CRC32_H

/*
 * CRC-32 (ISO-HDLC: the polynomial of ZIP, gzip and PNG, reflected,
 * initial and final XOR all ones), as zlib's crc32(). Artifacts get theirs
 * when they are stored, so that an archive of them can say it before
 * their data (docs/internals/util.md).
 *
 *	uint32_t c = 0;
 *	c = crc32_update(c, data, len); ...
 */

#include <stddef.h>
#include <stdint.h>

/* crc of what came before (0 for nothing), extended by len bytes of data. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
