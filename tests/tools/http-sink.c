/*
 * http-sink: a tiny HTTP receiver for the tests (loopback only).
 *
 *	http-sink DIR [--fail N] [--status CODE] [--hang]
 *
 * Listens on 127.0.0.1, any port, and writes the port to DIR/port. Each
 * complete request is recorded as DIR/N.req (the request line and the
 * headers) and DIR/N.body (the body), N = 1, 2, ...; .req is written
 * last (by rename), so its presence means both are there. The first N
 * requests (--fail) are answered 500, the others CODE (default 201).
 * --hang: record, then never answer (the connection stays open). Runs
 * until killed. Many connections at once (poll).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONN 64
#define MAX_REQ (4 * 1024 * 1024)

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	int done;
};

static const char *dir;
static int fail_first, status = 201, hang, count;

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

/* 1 when c holds a whole request, which is then recorded and answered. */
static int complete(struct conn *c)
{
	char *end, *cl, name[64], resp[256];
	size_t hlen, blen = 0;
	int n;

	if (!c->buf)
		return 0;
	end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	hlen = (size_t)(end - c->buf);
	for (cl = c->buf; cl && cl < end; cl = memchr(cl, '\n', (size_t)(end - cl))) {
		if (*cl == '\n')
			cl++;
		if (!strncasecmp(cl, "Content-Length:", 15)) {
			blen = strtoul(cl + 15, NULL, 10);
			break;
		}
	}
	if (c->len < hlen + 4 + blen)
		return 0;
	n = ++count;
	snprintf(name, sizeof(name), "%d.body", n);
	save(name, end + 4, blen);
	snprintf(name, sizeof(name), "%d.req", n);
	save(name, c->buf, hlen + 2);
	if (hang)
		return 1;
	{
		int code = n <= fail_first ? 500 : status;
		const char *body = code == 500 ? "{\"message\":\"sink says no\"}" : "{}";

		snprintf(resp, sizeof(resp), "HTTP/1.1 %d Sink\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", code, strlen(body),
			 body);
		if (write(c->fd, resp, strlen(resp)) < 0) {
			/* the client went away */
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct conn conns[MAX_CONN];
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int lfd, i, one = 1;
	char port[32];

	if (argc < 2) {
		fprintf(stderr, "usage: http-sink DIR [--fail N] [--status CODE] [--hang]\n");
		return 2;
	}
	dir = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--fail") && i + 1 < argc)
			fail_first = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--status") && i + 1 < argc)
			status = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hang"))
			hang = 1;
		else {
			fprintf(stderr, "http-sink: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		perror("http-sink: listen");
		return 1;
	}
	snprintf(port, sizeof(port), "%d\n", ntohs(a.sin_port));
	save("port", port, strlen(port));
	memset(conns, 0, sizeof(conns));
	for (i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	for (;;) {
		struct pollfd p[MAX_CONN + 1];
		int nfds = 0, map[MAX_CONN + 1];

		p[nfds].fd = lfd;
		p[nfds].events = POLLIN;
		map[nfds++] = -1;
		for (i = 0; i < MAX_CONN; i++) {
			if (conns[i].fd < 0)
				continue;
			p[nfds].fd = conns[i].fd;
			p[nfds].events = POLLIN;
			map[nfds++] = i;
		}
		if (poll(p, (nfds_t)nfds, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);

			for (i = 0; fd >= 0 && i < MAX_CONN && conns[i].fd >= 0; i++)
				;
			if (fd >= 0 && i < MAX_CONN) {
				memset(&conns[i], 0, sizeof(conns[i]));
				conns[i].fd = fd;
			} else if (fd >= 0) {
				close(fd);
			}
		}
		for (i = 1; i < nfds; i++) {
			struct conn *c = &conns[map[i]];
			char buf[65536];
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c->fd, buf, sizeof(buf));
			if (r > 0 && !c->done) {
				if (c->len + (size_t)r > MAX_REQ)
					r = 0;
				else {
					if (c->len + (size_t)r + 1 > c->cap) {
						c->cap = (c->len + (size_t)r + 1) * 2;
						c->buf = realloc(c->buf, c->cap);
						if (!c->buf)
							return 1;
					}
					memcpy(c->buf + c->len, buf, (size_t)r);
					c->len += (size_t)r;
					c->buf[c->len] = '\0';
					if (complete(c)) {
						c->done = 1;
						if (!hang)
							r = 0;
					}
				}
			}
			if (r <= 0) {
				close(c->fd);
				free(c->buf);
				memset(c, 0, sizeof(*c));
				c->fd = -1;
			}
		}
	}
}
