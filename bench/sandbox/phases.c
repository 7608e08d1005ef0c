/*
 * Where a sandbox's time goes, from outside: run COMMAND N times; the
 * command's own program prints CLOCK_MONOTONIC (phases-clock) as its
 * first and only act. "set-up" is our fork to that moment (bwrap's
 * namespaces and mounts), "end" that moment to the command's exit as
 * waitpid sees it (what is left of bwrap after the job). Medians and
 * quartiles, in ms.
 *
 *   phases N COMMAND...        (bench/sandbox/run.sh builds and runs it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double d = *(const double *)a - *(const double *)b;

	return d < 0 ? -1 : d > 0;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0, i, got = 0;
	double *setup, *end;

	if (n <= 0 || n > 100000) {
		fprintf(stderr, "usage: phases N COMMAND...\n");
		return 2;
	}
	setup = calloc(n, sizeof(*setup));
	end = calloc(n, sizeof(*end));
	if (!setup || !end)
		return 1;
	for (i = 0; i < n; i++) {
		char buf[64] = "";
		int p[2], st;
		double t0, t1, tj;
		ssize_t r;
		pid_t pid;

		if (pipe(p) < 0)
			return 1;
		t0 = now();
		pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			execv(argv[2], argv + 2);
			_exit(127);
		}
		close(p[1]);
		r = read(p[0], buf, sizeof(buf) - 1);
		waitpid(pid, &st, 0);
		t1 = now();
		close(p[0]);
		if (r <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			continue;
		tj = atof(buf);
		setup[got] = (tj - t0) * 1e3;
		end[got++] = (t1 - tj) * 1e3;
	}
	if (!got) {
		fprintf(stderr, "phases: the command never printed its clock\n");
		return 1;
	}
	qsort(setup, got, sizeof(*setup), cmp);
	qsort(end, got, sizeof(*end), cmp);
	printf("set-up median %6.2f ms (p25 %6.2f, p75 %6.2f)  end median %5.2f ms "
	       "(p25 %5.2f, p75 %5.2f)  n=%d\n", setup[got / 2], setup[got / 4],
	       setup[3 * got / 4], end[got / 2], end[got / 4], end[3 * got / 4], got);
	free(setup);
	free(end);
	return 0;
}
