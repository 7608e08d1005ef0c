/*
 * Services: containers beside a job, in its network namespace. See
 * service.h and docs/internals/services.md.
 *
 * Between fork and exec only system calls run: the job's supervisor has
 * threads (cidre run's), so nothing that takes a lock (malloc, stdio)
 * may run in a child. Every string a child needs is made before fork.
 */
#include "exec/service.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#include "exec/proc.h"
#include "util/strvec.h"
#include "util/xalloc.h"

/* ---- the holder ---- */

/*
 * Our subordinate ids in /etc/subuid or /etc/subgid ("NAME:START:COUNT"
 * or "ID:START:COUNT"), as newuidmap reads them: 0 with the first range
 * (at most 65535 ids), -1 when there is none.
 */
static int sub_range(const char *file, unsigned long id, const char *name,
		     unsigned long *start, unsigned long *count)
{
	struct strbuf sb = STRBUF_INIT;
	char idbuf[32];
	const char *line;
	int ret = -1;

	snprintf(idbuf, sizeof(idbuf), "%lu", id);
	if (strbuf_read_file(&sb, file, 1 << 20) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	for (line = sb.buf; line && *line && ret < 0;) {
		const char *end = strchr(line, '\n'), *c = strchr(line, ':');
		size_t n = c ? (size_t)(c - line) : 0;

		if (c && (!end || c < end) &&
		    ((name && strlen(name) == n && !strncmp(line, name, n)) ||
		     (strlen(idbuf) == n && !strncmp(line, idbuf, n)))) {
			char *e;

			*start = strtoul(c + 1, &e, 10);
			if (*e == ':') {
				*count = strtoul(e + 1, &e, 10);
				if (*count > 0 && *start > 0 && (!*e || *e == '\n'))
					ret = 0;
			}
		}
		line = end ? end + 1 : NULL;
	}
	strbuf_release(&sb);
	if (!ret && *count > 65535)
		*count = 65535;
	return ret;
}

/* Our user's name in /etc/passwd (no name service here), or NULL. */
static char *user_name(unsigned long uid)
{
	struct strbuf sb = STRBUF_INIT;
	const char *line;
	char *name = NULL;

	if (strbuf_read_file(&sb, "/etc/passwd", 1 << 20) < 0) {
		strbuf_release(&sb);
		return NULL;
	}
	for (line = sb.buf; line && *line && !name;) {
		const char *end = strchr(line, '\n'), *c1 = strchr(line, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (c2 && (!end || c2 < end) && strtoul(c2 + 1, NULL, 10) == uid &&
		    c2[1] >= '0' && c2[1] <= '9')
			name = xstrndup(line, (size_t)(c1 - line));
		line = end ? end + 1 : NULL;
	}
	strbuf_release(&sb);
	return name;
}

/*
 * Not root: our ids as 0, and a range of subordinate ids as 1.. through
 * newuidmap and newgidmap (what rootless podman does), so that an image
 * that switches users works. 1 when both maps are written, 0 when there
 * is no range or no newuidmap (nothing written), -1 when the uid map was
 * written but the gid map could not be (the holder is then unusable).
 */
static int ranged_maps(pid_t pid, uid_t uid, gid_t gid)
{
	unsigned long us, uc, gs, gc;
	char *name = user_name(uid), p[32], a[4][32];
	const char *nu = "/usr/bin/newuidmap", *ng = "/usr/bin/newgidmap";
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int st = -1, ret = 0;

	if (access(nu, X_OK) || access(ng, X_OK) ||
	    sub_range("/etc/subuid", uid, name, &us, &uc) < 0 ||
	    sub_range("/etc/subgid", uid, name, &gs, &gc) < 0) {
		free(name);
		return 0;
	}
	free(name);
	snprintf(p, sizeof(p), "%ld", (long)pid);
	snprintf(a[0], sizeof(a[0]), "%lu", (unsigned long)uid);
	snprintf(a[1], sizeof(a[1]), "%lu", us);
	snprintf(a[2], sizeof(a[2]), "%lu", uc);
	{
		const char *argv[] = { nu, p, "0", a[0], "1", "1", a[1], a[2], NULL };

		if (proc_capture(argv, NULL, NULL, 4096, &out, &st, &err) < 0 || st)
			goto done;
	}
	ret = -1;
	snprintf(a[0], sizeof(a[0]), "%lu", (unsigned long)gid);
	snprintf(a[1], sizeof(a[1]), "%lu", gs);
	snprintf(a[2], sizeof(a[2]), "%lu", gc > uc ? uc : gc);
	{
		const char *argv[] = { ng, p, "0", a[0], "1", "1", a[1], a[2], NULL };

		if (proc_capture(argv, NULL, NULL, 4096, &out, &st, &err) == 0 && !st)
			ret = 1;
	}
done:
	strbuf_release(&out);
	strbuf_release(&err);
	return ret;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* lo up, in the network namespace we are in (a child: system calls only) */
static int lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (!ioctl(s, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return r;
}

int svc_holder_start(struct svc_holder *h, struct strbuf *err)
{
	int ready[2] = { -1, -1 }, go[2] = { -1, -1 }, ctl[2] = { -1, -1 };
	char c = 0, path[64], map[64];
	pid_t pid;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	memset(h, 0, sizeof(*h));
	h->ctl = -1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 ||
	    pipe2(ctl, O_CLOEXEC) < 0) {
		strbuf_addf(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		goto fail;
	}
	if (!pid) {
		char r = 'r';

		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			r = 'u';
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write(ready[1], &r, 1) != 1 || r != 'r')
			_exit(1);
		/* the maps are written: lo up */
		if (read(go[0], &r, 1) != 1)
			_exit(1);
		r = lo_up() < 0 ? 'l' : 'r';
		if (write(ready[1], &r, 1) != 1)
			_exit(1);
		/* held until our stdin... ctl closes */
		while (read(ctl[0], &r, 1) > 0)
			;
		_exit(0);
	}
	h->pid = pid;
	close(ctl[0]);
	ctl[0] = -1;
	h->ctl = ctl[1];
	ctl[1] = -1;
	if (read(ready[0], &c, 1) != 1 || c != 'r') {
		strbuf_addf(err, "cannot make a user and network namespace: %s",
			    c == 'u' ? "unshare refused" : "the holder died");
		goto fail_child;
	}
	/*
	 * As root, the ids 0-65535 as they are: an image's entrypoint that
	 * chowns to its user and switches to it (postgres, redis) works.
	 * Otherwise our ids as 0, alone.
	 */
	if (uid) {
		int r = ranged_maps(pid, uid, gid);

		if (r < 0) {
			strbuf_addstr(err, "newuidmap mapped our subordinate uids, but "
				      "newgidmap refused the gids (/etc/subgid)");
			goto fail_child;
		}
		h->ranged = r;
	} else {
		h->ranged = 1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/uid_map", (long)pid);
	if (!uid)
		snprintf(map, sizeof(map), "0 0 65536\n");
	else
		snprintf(map, sizeof(map), "0 %lu 1\n", (unsigned long)uid);
	if (!h->ranged || !uid) {
		if (write_file(path, map) < 0) {
			strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
			goto fail_child;
		}
		if (uid) {
			snprintf(path, sizeof(path), "/proc/%ld/setgroups", (long)pid);
			write_file(path, "deny");
			snprintf(map, sizeof(map), "0 %lu 1\n", (unsigned long)gid);
		}
		snprintf(path, sizeof(path), "/proc/%ld/gid_map", (long)pid);
		if (write_file(path, map) < 0) {
			strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
			goto fail_child;
		}
	}
	if (write(go[1], "g", 1) != 1 || read(ready[0], &c, 1) != 1 || c != 'r') {
		strbuf_addf(err, "cannot bring lo up in the services' network");
		goto fail_child;
	}
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	return 0;
fail_child:
	svc_holder_stop(h);
fail:
	for (c = 0; c < 2; c++) {
		if (ready[(int)c] >= 0)
			close(ready[(int)c]);
		if (go[(int)c] >= 0)
			close(go[(int)c]);
		if (ctl[(int)c] >= 0)
			close(ctl[(int)c]);
	}
	return -1;
}

void svc_holder_stop(struct svc_holder *h)
{
	if (h->ctl >= 0)
		close(h->ctl);
	h->ctl = -1;
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	h->pid = 0;
}

/* Open the holder's namespaces (before a fork). */
static int open_ns(const struct svc_holder *h, int *user, int *net)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/%ld/ns/user", (long)h->pid);
	*user = open(p, O_RDONLY | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/%ld/ns/net", (long)h->pid);
	*net = open(p, O_RDONLY | O_CLOEXEC);
	if (*user < 0 || *net < 0) {
		if (*user >= 0)
			close(*user);
		if (*net >= 0)
			close(*net);
		return -1;
	}
	return 0;
}

/* ---- a service ---- */

/* What the service's pid 1 does, all of it made before fork. */
struct svc_plan {
	const struct svc_spec *s;
	char *upper, *work, *merged, *opts, *proc, *dev, *pts, *shm, *etc, *hosts;
	char *sys, *masks[2];     /* /sys, and what Docker hides of it */
	char *devs[6][2];         /* host device, its file in merged */
	struct strvec exe;        /* candidates for argv[0] */
	int ranged;
};

static const char *const dev_names[] = { "null", "zero", "full", "random",
					 "urandom", "tty" };

static void plan_release(struct svc_plan *p)
{
	size_t i;

	free(p->upper);
	free(p->work);
	free(p->merged);
	free(p->opts);
	free(p->proc);
	free(p->dev);
	free(p->pts);
	free(p->shm);
	free(p->etc);
	free(p->hosts);
	free(p->sys);
	free(p->masks[0]);
	free(p->masks[1]);
	for (i = 0; i < 6; i++) {
		free(p->devs[i][0]);
		free(p->devs[i][1]);
	}
	strvec_clear(&p->exe);
}

/* Docker's default capabilities: what images expect root to have. */
static int cap_kept(int cap)
{
	static const int keep[] = {
		CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
		CAP_NET_RAW, CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP,
		CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
	};
	size_t i;

	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return 1;
	return 0;
}

/* Say why on the service's log, and end (a child: write(2) only). */
__attribute__((noreturn))
static void svc_fail(const struct svc_spec *s, const char *msg, int code)
{
	if (write(s->log_fd, msg, strlen(msg)) < 0 ||
	    write(s->log_fd, "\n", 1) < 0) {
		/* the warning still says it exited, and how */
	}
	_exit(code);
}

/* pid 1 of the service's pid namespace: its root, then its program. */
__attribute__((noreturn))
static void svc_init(const struct svc_plan *p)
{
	const struct svc_spec *s = p->s;
	size_t i;
	int fd, cap;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("overlay", p->merged, "overlay", 0, p->opts) < 0)
		svc_fail(s, "cidre: cannot mount the service's overlay (an overlay in "
			 "a user namespace needs Linux 5.11 or later)", 120);
	mkdir(p->proc, 0555);
	mkdir(p->dev, 0755);
	if (mount("proc", p->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mount("tmpfs", p->dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755") < 0)
		svc_fail(s, "cidre: cannot mount the service's /proc or /dev", 121);
	for (i = 0; i < 6; i++) {
		fd = open(p->devs[i][1], O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd >= 0)
			close(fd);
		if (mount(p->devs[i][0], p->devs[i][1], NULL, MS_BIND, NULL) < 0 && i < 5)
			svc_fail(s, "cidre: cannot make the service's /dev", 122);
	}
	mkdir(p->shm, 01777);
	mount("tmpfs", p->shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mkdir(p->pts, 0755);
	mount("devpts", p->pts, "devpts", MS_NOSUID | MS_NOEXEC,
	      "newinstance,ptmxmode=0666,mode=620");
	/*
	 * /sys read-only, as Docker gives it: the holder's user namespace
	 * owns the network namespace, so its sysfs shows only lo. What
	 * Docker masks (firmware tables, power readings: a side channel)
	 * is covered by an empty read-only tmpfs. Optional: an image that
	 * has no /sys, or a kernel that refuses, gets none.
	 */
	if (!mkdir(p->sys, 0555) || errno == EEXIST) {
		if (!mount("sysfs", p->sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
			   MS_NOEXEC, NULL)) {
			for (i = 0; i < 2; i++)
				if (!access(p->masks[i], F_OK) &&
				    mount("tmpfs", p->masks[i], "tmpfs", MS_RDONLY |
					  MS_NOSUID | MS_NODEV | MS_NOEXEC,
					  "size=0,mode=555") < 0)
					svc_fail(s, "cidre: cannot hide parts of the "
						 "service's /sys", 121);
		}
	}
	if (p->hosts) {
		mkdir(p->etc, 0755);
		fd = open(p->hosts, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0)
			close(fd);
		if (mount(s->hosts, p->hosts, NULL, MS_BIND, NULL) < 0)
			svc_fail(s, "cidre: cannot bind the service's /etc/hosts", 123);
		mount(NULL, p->hosts, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
	}
	if (chdir(p->merged) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		svc_fail(s, "cidre: cannot enter the service's root", 124);
	if (s->hostname)
		sethostname(s->hostname, strlen(s->hostname));
	if (s->workdir && chdir(s->workdir) < 0 && chdir("/") < 0)
		_exit(125);
	/*
	 * We stay pid 1, as tini does: we keep the parent-death signal the
	 * service's own program would lose when it switches users (su,
	 * gosu), so that the namespace dies with the process that started
	 * it, and we reap what the service leaves.
	 */
	{
		pid_t svc = fork();
		int status;

		if (svc < 0)
			_exit(126);
		if (svc > 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(s->log_fd);
			for (;;) {
				pid_t w = waitpid(-1, &status, 0);

				if (w == svc)
					_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
					      128 + WTERMSIG(status));
				if (w < 0 && errno != EINTR)
					_exit(126);
			}
		}
	}
	for (cap = 0; cap <= 63; cap++)
		if (!cap_kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			_exit(126);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (p->ranged && setgroups(1, &s->gid) < 0)
		svc_fail(s, "cidre: cannot set the service's groups", 127);
	if (setresgid(s->gid, s->gid, s->gid) < 0 ||
	    setresuid(s->uid, s->uid, s->uid) < 0)
		svc_fail(s, "cidre: cannot switch to the service's user: only cidre's "
			 "own ids exist in its namespace (run cidre as root, or give "
			 "its user a range in /etc/subuid and /etc/subgid and install "
			 "newuidmap: docs/services.md)", 127);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(s->log_fd, 1) < 0 ||
	    dup2(s->log_fd, 2) < 0)
		_exit(127);
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, 0);
#endif
	for (i = 0; i < p->exe.nr; i++)
		execve(p->exe.v[i], s->argv, s->env);
	{
		static const char msg[] = "cidre: the service's program was not found "
					  "in its image, or cannot run\n";

		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* its log is gone too */
		}
	}
	_exit(127);
}

pid_t svc_start(const struct svc_holder *h, const struct svc_spec *s,
		struct strbuf *err)
{
	struct svc_plan p;
	int user = -1, net = -1;
	const char *path = NULL;
	pid_t pid = -1;
	size_t i;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.ranged = h->ranged;
	strvec_init(&p.exe);
	if (!s->argv || !s->argv[0]) {
		strbuf_addstr(err, "it has nothing to run");
		return -1;
	}
	if (strpbrk(s->root, ",:\\") || strpbrk(s->scratch, ",:\\")) {
		strbuf_addstr(err, "its image or scratch path has a \",\", \":\" or "
			      "\"\\\" (an overlay's options could not name it)");
		return -1;
	}
	p.upper = xasprintf("%s/upper", s->scratch);
	p.work = xasprintf("%s/work", s->scratch);
	p.merged = xasprintf("%s/merged", s->scratch);
	if ((mkdir(p.upper, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(p.work, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(p.merged, 0755) < 0 && errno != EEXIST)) {
		strbuf_addf(err, "cannot make %s: %s", s->scratch, strerror(errno));
		goto done;
	}
	p.opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr", s->root,
			   p.upper, p.work);
	p.proc = xasprintf("%s/proc", p.merged);
	p.dev = xasprintf("%s/dev", p.merged);
	p.pts = xasprintf("%s/dev/pts", p.merged);
	p.shm = xasprintf("%s/dev/shm", p.merged);
	p.etc = xasprintf("%s/etc", p.merged);
	p.sys = xasprintf("%s/sys", p.merged);
	p.masks[0] = xasprintf("%s/sys/firmware", p.merged);
	p.masks[1] = xasprintf("%s/sys/devices/virtual/powercap", p.merged);
	if (s->hosts)
		p.hosts = xasprintf("%s/etc/hosts", p.merged);
	for (i = 0; i < 6; i++) {
		p.devs[i][0] = xasprintf("/dev/%s", dev_names[i]);
		p.devs[i][1] = xasprintf("%s/dev/%s", p.merged, dev_names[i]);
	}
	/* argv[0] along the service's PATH (as execvp would, inside) */
	if (strchr(s->argv[0], '/')) {
		strvec_push(&p.exe, s->argv[0]);
	} else {
		for (i = 0; s->env && s->env[i]; i++)
			if (!strncmp(s->env[i], "PATH=", 5))
				path = s->env[i] + 5;
		if (!path)
			path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
		while (*path) {
			size_t n = strcspn(path, ":");

			if (n)
				strvec_pushf(&p.exe, "%.*s/%s", (int)n, path, s->argv[0]);
			path += n;
			if (*path == ':')
				path++;
		}
	}
	if (open_ns(h, &user, &net) < 0) {
		strbuf_addf(err, "the services' namespaces are gone: %s",
			    strerror(errno));
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		strbuf_addf(err, "fork: %s", strerror(errno));
		goto done;
	}
	if (!pid) {
		pid_t init;
		int status;

		if (setns(user, CLONE_NEWUSER) < 0 || setns(net, CLONE_NEWNET) < 0 ||
		    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			    CLONE_NEWUTS) < 0)
			_exit(119);
		/* after setns: a change of credentials clears it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		init = fork();
		if (init < 0)
			_exit(119);
		if (!init)
			svc_init(&p);
		while (waitpid(init, &status, 0) < 0)
			if (errno != EINTR)
				_exit(119);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) :
		      128 + WTERMSIG(status));
	}
done:
	if (user >= 0)
		close(user);
	if (net >= 0)
		close(net);
	plan_release(&p);
	return pid;
}

void svc_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* ---- readiness ---- */

int svc_wait_ports(const struct svc_holder *h, pid_t svc, const int *ports,
		   size_t nr, int timeout_ms, const struct svc_drain *d,
		   struct strbuf *err)
{
	int user, net, res[2];
	unsigned char open_[64] = { 0 };
	pid_t pid;
	size_t i;
	ssize_t n;

	if (!nr)
		return 0;
	if (nr > sizeof(open_))
		nr = sizeof(open_);
	if (open_ns(h, &user, &net) < 0) {
		strbuf_addf(err, "the services' namespaces are gone");
		return -1;
	}
	if (pipe2(res, O_CLOEXEC) < 0) {
		close(user);
		close(net);
		strbuf_addf(err, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (!pid) {
		/* 1 ms, doubling to 50: most services listen within milliseconds */
		struct timespec t0, now, pause = { 0, 1000 * 1000 };
		size_t left = nr;

		if (setns(user, CLONE_NEWUSER) < 0 || setns(net, CLONE_NEWNET) < 0)
			_exit(1);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			for (i = 0; i < nr; i++) {
				struct sockaddr_in a;
				int s;

				if (open_[i])
					continue;
				s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
				memset(&a, 0, sizeof(a));
				a.sin_family = AF_INET;
				a.sin_port = htons((unsigned short)ports[i]);
				a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
				if (s >= 0 && !connect(s, (struct sockaddr *)&a, sizeof(a))) {
					open_[i] = 1;
					left--;
				}
				if (s >= 0)
					close(s);
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (!left || (now.tv_sec - t0.tv_sec) * 1000 +
				     (now.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms)
				break;
			nanosleep(&pause, NULL);
			if (pause.tv_nsec < 50 * 1000 * 1000)
				pause.tv_nsec *= 2;
		}
		if (write(res[1], open_, nr) < 0)
			_exit(1);
		_exit(0);
	}
	close(user);
	close(net);
	close(res[1]);
	if (pid < 0) {
		close(res[0]);
		strbuf_addf(err, "fork: %s", strerror(errno));
		return -1;
	}
	/* the answer, unless the service ends first (then why wait) */
	for (;;) {
		struct pollfd pf[1 + SVC_MAX_DRAIN];
		size_t k, np = 1;
		int status, got;

		pf[0].fd = res[0];
		pf[0].events = POLLIN;
		for (k = 0; d && k < d->nr && k < SVC_MAX_DRAIN; k++) {
			pf[np].fd = d->fds[k];   /* -1: ignored by poll */
			pf[np++].events = POLLIN;
		}
		got = poll(pf, np, 100);
		for (k = 1; got > 0 && k < np; k++)
			if (pf[k].fd >= 0 && pf[k].revents)
				d->on_out(d->ud, k - 1);
		if (got > 0 && pf[0].revents)
			break;
		if (svc > 0 && waitpid(svc, &status, WNOHANG) == svc) {
			kill(pid, SIGKILL);
			close(res[0]);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			strbuf_addf(err, "it exited (%s %d) before its port%s opened",
				    WIFEXITED(status) ? "status" : "signal",
				    WIFEXITED(status) ? WEXITSTATUS(status) :
				    WTERMSIG(status), nr == 1 ? "" : "s");
			return -2;
		}
	}
	n = read(res[0], open_, nr);
	close(res[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)nr) {
		strbuf_addstr(err, "its ports could not be checked");
		return -1;
	}
	for (i = 0; i < nr; i++)
		if (!open_[i])
			strbuf_addf(err, "%s%d", err->len ? ", " : "", ports[i]);
	return err->len ? -1 : 0;
}

/* ---- users and names ---- */

/* root's file rel (etc/passwd), read without leaving root. */
static int read_in_root(const char *root, const char *rel, struct strbuf *out)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;
	char buf[4096];
	ssize_t n;

	if (dir < 0)
		return -1;
	fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof(how));
	close(dir);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && out->len < (1 << 20))
		strbuf_add(out, buf, (size_t)n);
	close(fd);
	return 0;
}

/* name's id in a passwd or group file (field 3), or -1. With gid_out,
   the passwd line's group (field 4). */
static long lookup(const char *text, const char *name, long *gid_out)
{
	const char *line = text;
	size_t nl = strlen(name);

	while (line && *line) {
		const char *end = strchr(line, '\n');

		if (!strncmp(line, name, nl) && line[nl] == ':') {
			const char *f = strchr(line + nl + 1, ':');
			char *e;
			long id;

			if (f && (!end || f < end)) {
				id = strtol(f + 1, &e, 10);
				if (e != f + 1 && *e == ':') {
					if (gid_out)
						*gid_out = strtol(e + 1, NULL, 10);
					return id;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -1;
}

static int is_number(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0 && n < 10;
}

int svc_user(const char *root, const char *user, uid_t *uid, gid_t *gid,
	     struct strbuf *err)
{
	struct strbuf pw = STRBUF_INIT, gr = STRBUF_INIT;
	const char *colon = user ? strchr(user, ':') : NULL;
	size_t ul = colon ? (size_t)(colon - user) : (user ? strlen(user) : 0);
	char *uname = user ? xstrndup(user, ul) : NULL;
	long u = 0, g = -1;
	int ret = 0;

	*uid = 0;
	*gid = 0;
	if (!user || !*user) {
		free(uname);
		return 0;
	}
	read_in_root(root, "etc/passwd", &pw);
	if (is_number(user, ul)) {
		u = strtol(uname, NULL, 10);
	} else if ((u = lookup(pw.buf ? pw.buf : "", uname, &g)) < 0) {
		strbuf_addf(err, "its user \"%s\" is not in the image's /etc/passwd",
			    uname);
		ret = -1;
		goto done;
	}
	if (colon) {
		const char *gn = colon + 1;

		if (is_number(gn, strlen(gn))) {
			g = strtol(gn, NULL, 10);
		} else {
			read_in_root(root, "etc/group", &gr);
			if ((g = lookup(gr.buf ? gr.buf : "", gn, NULL)) < 0) {
				strbuf_addf(err, "its group \"%s\" is not in the image's "
					    "/etc/group", gn);
				ret = -1;
				goto done;
			}
		}
	}
	*uid = (uid_t)u;
	*gid = (gid_t)(g >= 0 ? g : 0);
done:
	free(uname);
	strbuf_release(&pw);
	strbuf_release(&gr);
	return ret;
}

size_t svc_default_aliases(const char *image, char *out[2])
{
	const char *last = strrchr(image, '/'), *end;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	size_t n, i;

	last = last ? last + 1 : image;
	end = last + strcspn(last, ":@");
	n = (size_t)(end - image);
	for (i = 0; i < n; i++) {
		if (image[i] == '/') {
			strbuf_addstr(&a, "__");
			strbuf_addch(&b, '-');
		} else {
			strbuf_addch(&a, image[i]);
			strbuf_addch(&b, image[i]);
		}
	}
	out[0] = strbuf_detach(&b, NULL);
	if (!strcmp(a.buf ? a.buf : "", out[0])) {
		strbuf_release(&a);
		out[1] = NULL;
		return 1;
	}
	out[1] = strbuf_detach(&a, NULL);
	return 2;
}
