/*
 * What a supervisor's start costs, exec'ed or forked (docs/benchmarks.md,
 * "The job launcher"):
 *
 *   cc -O2 -static -o /tmp/fork-vs-exec bench/server/fork-vs-exec.c
 *   /tmp/fork-vs-exec exec 300 "$PWD/build/cidre"   # posix_spawn cidre --version
 *   /tmp/fork-vs-exec fork 300                      # fork, the child writes a line
 *
 * Prints the wall time per child; run it under `perf stat -e task-clock`
 * for the CPU.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int exec_mode, n, i;
	double t0;

	if (argc < 3 || (strcmp(argv[1], "exec") && strcmp(argv[1], "fork")) ||
	    (!strcmp(argv[1], "exec") && argc < 4)) {
		fprintf(stderr, "usage: %s exec N PATH | fork N\n", argv[0]);
		return 2;
	}
	exec_mode = !strcmp(argv[1], "exec");
	n = atoi(argv[2]);
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		char *av[] = { exec_mode ? argv[3] : NULL, "--version", NULL };
		pid_t p;
		int st;

		if (exec_mode) {
			if (posix_spawn(&p, argv[3], NULL, NULL, av, environ))
				return 1;
		} else {
			p = fork();
			if (p == 0) {
				FILE *f = fopen("/dev/null", "w");

				if (f) {
					fprintf(f, "cidre 0.1.0\n");
					fclose(f);
				}
				_exit(0);
			}
			if (p < 0)
				return 1;
		}
		waitpid(p, &st, 0);
	}
	printf("%s %.3f ms per child\n", argv[1], (now_ms() - t0) / n);
	return 0;
}
