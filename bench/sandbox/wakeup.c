/*
 * What one hand-over between two processes costs on this machine: a
 * byte sent through a pipe to a process blocked in read(), which sends
 * it back; the round trip's median and 90th percentile, with the two
 * processes on the same CPU or on two, back to back or after a pause
 * (an idle CPU must be woken first). A pooled sandbox's job passes
 * through more such hand-overs than a job the shell executor starts
 * (docs/internals/sandbox.md, "Known gaps").
 *
 *   cc -O2 -o /tmp/wakeup bench/sandbox/wakeup.c
 *   /tmp/wakeup [ROUNDS]     (default 2000; needs CPUs 0 and 1)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (sched_setaffinity(0, sizeof(s), &s) < 0) {
		perror("sched_setaffinity");
		exit(1);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(int other_cpu, int gap_us, int rounds)
{
	int to[2], back[2], i;
	double *v = malloc(sizeof(*v) * (size_t)rounds);
	pid_t pid;
	char c = 'x';

	if (!v || pipe(to) < 0 || pipe(back) < 0) {
		perror("wakeup");
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		close(to[1]);
		close(back[0]);
		pin(other_cpu);
		while (read(to[0], &c, 1) == 1)
			if (write(back[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	close(to[0]);
	close(back[1]);
	pin(0);
	for (i = 0; i < rounds; i++) {
		double t0;

		if (gap_us)
			usleep((useconds_t)gap_us);
		t0 = now_us();
		if (write(to[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) {
			perror("wakeup");
			exit(1);
		}
		v[i] = now_us() - t0;
	}
	close(to[1]);
	waitpid(pid, NULL, 0);
	close(back[0]);
	qsort(v, (size_t)rounds, sizeof(*v), cmp);
	printf("%-9s %-14s round trip median %7.1f us, p90 %7.1f us\n",
	       other_cpu ? "two CPUs" : "one CPU", gap_us ? "after 1 ms" : "back to back",
	       v[rounds / 2], v[rounds * 9 / 10]);
	free(v);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 2000;

	if (rounds < 10)
		rounds = 10;
	measure(0, 0, rounds);
	measure(0, 1000, rounds);
	measure(1, 0, rounds);
	measure(1, 1000, rounds);
	return 0;
}
