/*
 * Shared by the libFuzzer targets whose parser takes a path, not bytes:
 * each input is written to one private memfd per process and read back
 * through /proc/self/fd.
 */
#ifndef CIDRE_FUZZ_H
#define CIDRE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * Replace the memfd's content with data[0..size) and return its path, or
 * NULL if that failed (skip the input). name labels the memfd.
 */
static inline const char *fuzz_input_path(const char *name,
					  const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create(name, MFD_CLOEXEC);
		if (fd < 0)
			return NULL;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return NULL;
	return path;
}

#endif
