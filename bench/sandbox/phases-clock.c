/* Print CLOCK_MONOTONIC in seconds: the job of bench/sandbox/phases.c. */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	printf("%.6f\n", t.tv_sec + t.tv_nsec / 1e9);
	return 0;
}
