#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/stack.h"

void stack_trim(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), page, top;

	if (gettid() == getpid())
		return;	/* the main thread */
	if (pthread_getattr_np(pthread_self(), &a))
		return;
	if (pthread_attr_getstack(&a, &lo, &size)) {
		pthread_attr_destroy(&a);
		return;
	}
	pthread_attr_destroy(&a);
	/* [lo, lo + size): the usable stack, the guard below it excluded */
	if (here <= (uintptr_t)lo || here > (uintptr_t)lo + size)
		return;	/* not on this stack (a signal stack?) */
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	if (here - (uintptr_t)lo <= STACK_TRIM_KEEP + page)
		return;
	top = (here - STACK_TRIM_KEEP) & ~(page - 1);
	if (top > (uintptr_t)lo)
		madvise(lo, top - (uintptr_t)lo, MADV_DONTNEED);
}
