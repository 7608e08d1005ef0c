#ifndef CIDRE_EXEC_VMCLONE_H
#define CIDRE_EXEC_VMCLONE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * clone3() with CLONE_VM | CLONE_VFORK and a stack of the caller's: the
 * child runs fn(arg) on that stack, sharing the caller's memory, and
 * exits with fn's return value if fn returns; the caller sleeps until
 * the child execs or exits (as posix_spawn's child). Unlike glibc's
 * clone(), it takes clone3's other flags: CLONE_INTO_CGROUP with
 * cgroup_fd >= 0 (the child is born in that v2 cgroup, no migration).
 *
 * What fn may do: system calls, and allocations whose pointers it
 * leaves where the caller frees them once this returns (the memory is
 * the caller's). Signals: the child has its own copy of the handlers;
 * the caller should block every signal around the call so that none of
 * its handlers runs in the child.
 *
 * Returns the child's pid, or -1 with errno (ENOSYS: not built for this
 * architecture; the caller forks instead).
 */
pid_t vm_clone3(uint64_t flags, int cgroup_fd, int (*fn)(void *), void *arg,
		void *stack, size_t stack_size);

#endif
