/* Whole writes at an offset; another process's command line and stat (see fileio.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/strbuf.h"

int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t w = pwrite(fd, p, len, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (!w) {
			errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

int read_own_cmdline(long pid, struct strbuf *out)
{
	char path[64];
	struct stat st;

	strbuf_reset(out);
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (pid <= 0 || stat(path, &st) < 0 || st.st_uid != getuid())
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (strbuf_read_file(out, path, 1 << 16) < 0 || !out->len ||
	    out->buf[out->len - 1]) {
		strbuf_reset(out);
		return -1;
	}
	return 0;
}

const char *proc_stat_fields(long pid, char *buf, size_t size)
{
	char path[64], *p;
	int fd;
	ssize_t n;

	if (size < 2)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* "PID (COMM) STATE PPID PGRP ...": COMM may hold anything */
	p = strrchr(buf, ')');
	return p ? p + 1 : NULL;
}

int read_proc_stat(long pid, char *state, long *pgrp)
{
	char buf[512];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));

	return p && sscanf(p, " %c %*d %ld", state, pgrp) == 2 ? 0 : -1;
}
