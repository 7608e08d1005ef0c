/*
 * clone3() of a child that shares our memory until it execs: see
 * vmclone.h. glibc's clone() takes a function and a stack but not
 * clone3's flags; syscall(SYS_clone3) takes the flags, but its child
 * would return through a stack it does not have. So the system call is
 * made here, in a few instructions that call fn in the child.
 */
#include "exec/vmclone.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_VM_CLONE3 1

/* long cidre_clone3_raw(struct clone_args *, size_t, int (*)(void *), void *) */
long cidre_clone3_raw(struct clone_args *ca, size_t size, int (*fn)(void *),
		      void *arg);

#if defined(__x86_64__)
/*
 * rdi, rsi: clone3's arguments; fn and arg are kept in r8 and r9,
 * which the system call leaves alone. The child's stack pointer is the
 * top of the given stack (16-byte aligned: the call leaves it as the
 * ABI wants at fn's entry); it never returns from here.
 */
__asm__(".text\n"
	".globl cidre_clone3_raw\n"
	".hidden cidre_clone3_raw\n"
	".type cidre_clone3_raw, @function\n"
	"cidre_clone3_raw:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n"          /* __NR_clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"           /* __NR_exit */
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size cidre_clone3_raw, .-cidre_clone3_raw\n");
#else
/* x0, x1: clone3's arguments; fn and arg in x9 and x10 meanwhile. */
__asm__(".text\n"
	".globl cidre_clone3_raw\n"
	".hidden cidre_clone3_raw\n"
	".type cidre_clone3_raw, %function\n"
	"cidre_clone3_raw:\n"
	"	mov x9, x2\n"
	"	mov x10, x3\n"
	"	mov x8, #435\n"            /* __NR_clone3 */
	"	svc #0\n"
	"	cbnz x0, 1f\n"
	"	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x10\n"
	"	blr x9\n"
	"	mov x8, #93\n"             /* __NR_exit */
	"	svc #0\n"
	"1:	ret\n"
	".size cidre_clone3_raw, .-cidre_clone3_raw\n");
#endif
#endif

pid_t vm_clone3(uint64_t flags, int cgroup_fd, int (*fn)(void *), void *arg,
		void *stack, size_t stack_size)
{
#ifdef HAVE_VM_CLONE3
	struct clone_args ca;
	long r;

	memset(&ca, 0, sizeof(ca));
	ca.flags = flags | CLONE_VM | CLONE_VFORK;
	ca.exit_signal = SIGCHLD;
	ca.stack = (uint64_t)(uintptr_t)stack;
	ca.stack_size = stack_size;
	if (cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)cgroup_fd;
	}
	r = cidre_clone3_raw(&ca, sizeof(ca), fn, arg);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (pid_t)r;
#else
	(void)flags;
	(void)cgroup_fd;
	(void)fn;
	(void)arg;
	(void)stack;
	(void)stack_size;
	errno = ENOSYS;
	return -1;
#endif
}
