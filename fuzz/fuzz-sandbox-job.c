/*
 * libFuzzer target: the trampoline's job description (sandbox_job_decode,
 * the payload `cidre sandbox-init` reads from the socket before it execs
 * a job) on arbitrary bytes. Checks, besides no crash, overread or leak:
 * an accepted description has an absolute directory and command, at
 * least one argument, NAME=value environment entries, and encodes back
 * (sandbox_job_encode) to a message that decodes to the same strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(char **v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

static void same(char **a, char **b)
{
	size_t i, n = count(a);

	if (count(b) != n)
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (strcmp(a[i], b[i]))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;
	struct sandbox_job job, again;
	char *payload, *copy;
	size_t i;

	/* a buffer of exactly size bytes: an overread is the sanitizer's */
	payload = malloc(size ? size : 1);
	if (!payload)
		return 0;
	memcpy(payload, data, size);
	if (sandbox_job_decode(payload, size, &job, &err) < 0) {
		if (!err.len)
			__builtin_trap();       /* a refusal always says why */
		goto out;
	}
	if (job.cwd[0] != '/' || !job.argv[0] || job.argv[0][0] != '/')
		__builtin_trap();
	for (i = 0; job.env[i]; i++)
		if (job.env[i][0] == '=' || !strchr(job.env[i], '='))
			__builtin_trap();
	if (sandbox_job_encode(&msg, job.cwd, job.argv, job.env, &err) == 0) {
		/* the header ("CSJ1" and the length) is not part of the payload */
		if (msg.len < 8 || memcmp(msg.buf, "CSJ1", 4))
			__builtin_trap();
		copy = malloc(msg.len - 8);
		if (copy) {
			memcpy(copy, msg.buf + 8, msg.len - 8);
			if (sandbox_job_decode(copy, msg.len - 8, &again, &err) < 0 ||
			    strcmp(again.cwd, job.cwd))
				__builtin_trap();
			same(job.argv, again.argv);
			same(job.env, again.env);
			sandbox_job_release(&again);
			free(copy);
		}
	}
	sandbox_job_release(&job);
out:
	free(payload);
	strbuf_release(&err);
	strbuf_release(&msg);
	return 0;
}
