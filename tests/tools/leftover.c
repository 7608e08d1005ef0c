/*
 * leftover: what a job can leave behind for the next job of a sandbox,
 * made and looked for where the shell has no command for it.
 *
 *	leftover mq-make NAME       a POSIX message queue (exit 0)
 *	leftover mq-has NAME        exit 0 if the queue exists, 1 if not
 *	leftover xattr-set PATH     a user.leftover extended attribute
 *	leftover xattrs PATH        print how many extended attributes PATH has
 *
 * Any other failure: a message and exit 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

static int fail(const char *what, const char *arg)
{
	fprintf(stderr, "leftover: %s %s: %s\n", what, arg, strerror(errno));
	return 2;
}

int main(int argc, char **argv)
{
	mqd_t q;
	ssize_t n;

	if (argc != 3) {
		fprintf(stderr, "usage: leftover mq-make|mq-has|xattr-set|xattrs ARG\n");
		return 2;
	}
	if (!strcmp(argv[1], "mq-make")) {
		q = mq_open(argv[2], O_CREAT | O_RDWR, 0600, NULL);
		return q == (mqd_t)-1 ? fail("mq_open", argv[2]) : 0;
	}
	if (!strcmp(argv[1], "mq-has")) {
		q = mq_open(argv[2], O_RDONLY);
		if (q != (mqd_t)-1)
			return 0;
		return errno == ENOENT ? 1 : fail("mq_open", argv[2]);
	}
	if (!strcmp(argv[1], "xattr-set"))
		return setxattr(argv[2], "user.leftover", "1", 1, 0) < 0 ?
		       fail("setxattr", argv[2]) : 0;
	if (!strcmp(argv[1], "xattrs")) {
		char buf[4096];
		int count = 0;
		ssize_t i;

		n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return fail("listxattr", argv[2]);
		for (i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			count++;
		printf("%d\n", count);
		return 0;
	}
	fprintf(stderr, "leftover: no command %s\n", argv[1]);
	return 2;
}
