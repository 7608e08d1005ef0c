#ifndef CIDRE_SERVICE_H
#define CIDRE_SERVICE_H
/*
 * A job's services (GitLab's services:): containers of their own images
 * that share the job's network namespace, so that the job reaches
 * "postgres:5432" on loopback. docs/internals/services.md.
 *
 * One *holder* per job owns a user namespace (the ids the services may
 * switch to mapped: as root, 0-65535 as they are; otherwise our id as 0,
 * and a range of /etc/subuid through newuidmap when there is one) and a
 * network namespace with only lo, up. Each service is a process that
 * joins both, makes its own mount, pid, ipc and uts namespaces, mounts
 * an overlay of its image (the image read-only beneath, its writes in
 * the job's scratch directory), pivots into it and runs the image's
 * entrypoint. The job's sandbox joins the holder's namespaces too
 * (`cidre sandbox-enter`) instead of making a network namespace.
 */
#include <sys/types.h>

#include "util/strbuf.h"

struct svc_holder {
	pid_t pid;         /* the holder process, or 0 */
	int ctl;           /* its stdin: closed, it exits */
	int ranged;        /* more than one id mapped */
};

/* Make the namespaces. 0, or -1 with err. */
int svc_holder_start(struct svc_holder *h, struct strbuf *err);
/* End the holder (its namespaces go once the last process in them does). */
void svc_holder_stop(struct svc_holder *h);

struct svc_spec {
	const char *root;        /* the image's root (the overlay's lower) */
	const char *scratch;     /* an empty directory of ours for its writes */
	char *const *argv;       /* entrypoint and command; argv[0] looked up in
				    the image's PATH when it has no "/" */
	char *const *env;        /* its environment, NULL-terminated */
	const char *workdir;     /* inside; NULL: "/" */
	uid_t uid;
	gid_t gid;
	const char *hosts;       /* a file bound at /etc/hosts, or NULL */
	const char *hostname;
	int log_fd;              /* its stdout and stderr */
};

/*
 * Start a service in h's namespaces. Its pid (the process that waits for
 * the service's pid 1; killing it kills the service and everything it
 * started), or -1 with err.
 */
pid_t svc_start(const struct svc_holder *h, const struct svc_spec *s,
		struct strbuf *err);

/* Kill a service svc_start() gave, and reap it. */
void svc_stop(pid_t pid);

/*
 * Pipes read while svc_wait_ports() waits (the services' output, which
 * must not fill its pipe): on_out(ud, i) when fds[i] (>= 0) is readable
 * or at its end; it reads, and sets fds[i] to -1 once it is done.
 */
#define SVC_MAX_DRAIN 16

struct svc_drain {
	int *fds;
	size_t nr;
	void (*on_out)(void *ud, size_t i);
	void *ud;
};

/*
 * Wait until every port accepts a TCP connection on 127.0.0.1 in h's
 * network namespace, or timeout_ms passes: 0; -1 with the ports not
 * open in err; -2 when the service svc (svc_start()'s pid, then reaped)
 * ended before, err saying how. d (may be NULL): pipes read meanwhile.
 */
int svc_wait_ports(const struct svc_holder *h, pid_t svc, const int *ports,
		   size_t nr, int timeout_ms, const struct svc_drain *d,
		   struct strbuf *err);

/*
 * The user and group a config's "User" names ("999", "postgres",
 * "999:999", "app:staff"), read in the image's /etc/passwd and
 * /etc/group. 0, or -1 with err.
 */
int svc_user(const char *root, const char *user, uid_t *uid, gid_t *gid,
	     struct strbuf *err);

/* The names a service is reached by when it has no alias, as GitLab
   makes them: "postgres" for postgres:15, "tutum-wordpress" and
   "tutum__wordpress" for tutum/wordpress:1. 1 or 2 names, malloc'ed. */
size_t svc_default_aliases(const char *image, char *out[2]);

#endif
