#ifndef CIDRE_FILEIO_H
#define CIDRE_FILEIO_H

#include <sys/types.h>

/*
 * Write all len bytes of buf at offset off of fd (pwrite, retried on
 * EINTR and short writes). 0, or -1 with errno (EIO for a write of 0
 * bytes).
 */
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

#endif
