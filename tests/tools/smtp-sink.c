/*
 * smtp-sink: a tiny SMTP receiver for the tests (loopback only).
 *
 *	smtp-sink DIR
 *
 * Listens on 127.0.0.1, any port, and writes the port to DIR/port. Each
 * message accepted is recorded as DIR/N.eml (the DATA, dot-unstuffed,
 * as received) and DIR/N.env ("from ADDR" and one "to ADDR" line per
 * recipient); .env is written last (by rename). One connection at a
 * time; speaks EHLO/HELO, AUTH PLAIN (any credentials), MAIL, RCPT,
 * DATA, RSET, NOOP, QUIT. Runs until killed.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *dir;
static int count;

static void save(const char *name, const char *data, size_t len)
{
	char tmp[4200], path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0) {
		perror(path);
		exit(1);
	}
}

static void say(FILE *out, const char *s)
{
	fputs(s, out);
	fputs("\r\n", out);
	fflush(out);
}

static void session(int fd)
{
	FILE *in = fdopen(fd, "r"), *out = fdopen(dup(fd), "w");
	char line[8192], env[16384], name[64];
	size_t envlen = 0;

	if (!in || !out)
		exit(1);
	env[0] = '\0';
	say(out, "220 smtp-sink ESMTP");
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!strncasecmp(line, "EHLO", 4)) {
			say(out, "250-smtp-sink");
			say(out, "250-AUTH PLAIN");
			say(out, "250 8BITMIME");
		} else if (!strncasecmp(line, "HELO", 4) || !strncasecmp(line, "NOOP", 4)) {
			say(out, "250 OK");
		} else if (!strncasecmp(line, "AUTH", 4)) {
			say(out, "235 OK");
		} else if (!strncasecmp(line, "RSET", 4)) {
			envlen = 0;
			env[0] = '\0';
			say(out, "250 OK");
		} else if (!strncasecmp(line, "MAIL FROM:", 10)) {
			envlen = (size_t)snprintf(env, sizeof(env), "from %s\n", line + 10);
			say(out, "250 OK");
		} else if (!strncasecmp(line, "RCPT TO:", 8)) {
			if (envlen < sizeof(env))
				envlen += (size_t)snprintf(env + envlen, sizeof(env) - envlen,
							   "to %s\n", line + 8);
			say(out, "250 OK");
		} else if (!strncasecmp(line, "DATA", 4)) {
			char *msg = NULL;
			size_t len = 0, cap = 0;

			say(out, "354 go on");
			while (fgets(line, sizeof(line), in)) {
				const char *l = line;
				size_t n;

				if (!strcmp(line, ".\r\n") || !strcmp(line, ".\n"))
					break;
				if (line[0] == '.')
					l++;
				n = strlen(l);
				if (len + n + 1 > cap) {
					cap = (len + n + 1) * 2;
					msg = realloc(msg, cap);
					if (!msg)
						exit(1);
				}
				memcpy(msg + len, l, n);
				len += n;
			}
			count++;
			snprintf(name, sizeof(name), "%d.eml", count);
			save(name, msg ? msg : "", len);
			snprintf(name, sizeof(name), "%d.env", count);
			save(name, env, strlen(env));
			free(msg);
			say(out, "250 OK queued");
		} else if (!strncasecmp(line, "QUIT", 4)) {
			say(out, "221 bye");
			break;
		} else {
			say(out, "502 not implemented");
		}
	}
	fclose(in);
	fclose(out);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int lfd, one = 1;
	char port[32];

	if (argc != 2) {
		fprintf(stderr, "usage: smtp-sink DIR\n");
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		perror("smtp-sink: listen");
		return 1;
	}
	snprintf(port, sizeof(port), "%d\n", ntohs(a.sin_port));
	save("port", port, strlen(port));
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd >= 0)
			session(fd);
	}
}
