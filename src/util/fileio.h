#ifndef CIDRE_FILEIO_H
#define CIDRE_FILEIO_H

#include <sys/types.h>

/*
 * Write all len bytes of buf at offset off of fd (pwrite, retried on
 * EINTR and short writes). 0, or -1 with errno (EIO for a write of 0
 * bytes).
 */
int pwrite_full(int fd, const void *buf, size_t len, off_t off);

struct strbuf;

/*
 * The command line of process pid into out (replaced): its words, each
 * NUL-terminated, as /proc/PID/cmdline has them, when it is a process
 * of our user and has one (not a zombie or a kernel thread). 0, or -1.
 */
int read_own_cmdline(long pid, struct strbuf *out);

/*
 * /proc/PID/stat read into buf (size bytes), from after the command
 * name on (" STATE PPID PGRP ..."), or NULL when it cannot be read.
 */
const char *proc_stat_fields(long pid, char *buf, size_t size);

/*
 * Process pid's state letter and process group, from /proc/PID/stat
 * (whose command name may hold anything, parentheses and spaces too).
 * 0, or -1 when it cannot be read.
 */
int read_proc_stat(long pid, char *state, long *pgrp);

#endif
