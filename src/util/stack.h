#ifndef CIDRE_UTIL_STACK_H
#define CIDRE_UTIL_STACK_H
/*
 * Give back the pages of this thread's stack below the caller's frame.
 *
 * A thread's stack pages stay resident once touched: a worker that once
 * parsed a pipeline file or planned a pipeline keeps those tens of kB
 * for the life of the server. A thread going idle, at a shallow frame,
 * calls this: the pages below it (less STACK_TRIM_KEEP, for what the
 * caller does next) are dropped with MADV_DONTNEED and come back as
 * zero pages when the thread next goes that deep.
 *
 * Threads created with pthread_create only: the main thread's stack is
 * the kernel's (growing down, no bounds to read cheaply); there it does
 * nothing.
 */
#define STACK_TRIM_KEEP (8 * 1024)

void stack_trim(void);

#endif
