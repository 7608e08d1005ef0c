/*
 * Per-job cgroups (v2 unified or v1 memory+cpuacct), for the shell
 * executor. See cgroup.h and docs/internals/exec.md.
 */
#include "exec/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xalloc.h"

/*
 * Sequence number making job cgroup names unique within this process
 * (several jobs run at once from different threads); only ever changed
 * with an atomic increment.
 */
static unsigned long cgroup_seq;

/*
 * The kept cgroups (cgroup_keep_as): keep_leaf is set once before any
 * job and read-only after; kept_busy (atomic) makes the kept pair one
 * job's at a time within this process (a job's services may start
 * another process tree while the first one's cgroup is not yet joined,
 * so emptiness alone does not say it is free).
 */
static char *keep_leaf;
static int kept_busy;

static int read_small(const char *path, struct strbuf *out)
{
	strbuf_reset(out);
	return strbuf_read_file(out, path, 1 << 20);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int saved;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* 1 if the comma-separated list (len bytes at s) holds word. */
static int list_has(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word);
	const char *end = s + len;

	while (s < end) {
		const char *c = memchr(s, ',', end - s);
		size_t n = c ? (size_t)(c - s) : (size_t)(end - s);

		if (n == wl && !memcmp(s, word, wl))
			return 1;
		if (!c)
			break;
		s = c + 1;
	}
	return 0;
}

/* 1 if the space-separated list s holds word. */
static int words_have(const char *s, const char *word)
{
	size_t wl = strlen(word);

	while (*s) {
		size_t n = strcspn(s, " \n");

		if (n == wl && !memcmp(s, word, wl))
			return 1;
		s += n;
		s += strspn(s, " \n");
	}
	return 0;
}

/*
 * Our own cgroup path for a v1 controller (ctl) or v2 (ctl NULL), from
 * /proc/self/cgroup. Returns a malloc'ed path or NULL.
 */
static char *own_cgroup(const struct strbuf *procs, const char *ctl)
{
	const char *line = procs->buf;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (c1 + 1 - line)) : NULL;

		if (c2) {
			const char *ctls = c1 + 1;
			size_t clen = c2 - ctls;
			int hit = ctl ? list_has(ctls, clen, ctl)
				      : (clen == 0 && c1 - line == 1 && line[0] == '0');

			if (hit)
				return xstrndup(c2 + 1, len - (c2 + 1 - line));
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return NULL;
}

/*
 * Directory of cgroup path cg in the hierarchy mounted with fstype
 * (cgroup or cgroup2) and, for v1, controller ctl among its super options.
 * Returns malloc'ed path or NULL.
 */
static char *hierarchy_dir(const struct strbuf *mounts, const char *fstype,
			   const char *ctl, const char *cg)
{
	const char *line = mounts->buf;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *l = xstrndup(line, len);
		char *f[6] = { NULL };
		char *sep = strstr(l, " - ");
		char *p = l, *res = NULL;
		int i;

		for (i = 0; i < 5 && p; i++) {
			f[i] = p;
			p = strchr(p, ' ');
			if (p)
				*p++ = '\0';
		}
		if (sep && i == 5) {
			char *type = sep + 3;
			char *src = strchr(type, ' ');
			char *opts = src ? strchr(src + 1, ' ') : NULL;

			if (src)
				*src = '\0';
			if (opts)
				opts++;
			if (!strcmp(type, fstype) &&
			    (!ctl || (opts && list_has(opts, strcspn(opts, " "), ctl)))) {
				const char *root = f[3], *mnt = f[4];
				size_t rl = strlen(root);

				if (!strcmp(root, "/"))
					res = xasprintf("%s%s", mnt, cg);
				else if (!strncmp(cg, root, rl) &&
					 (cg[rl] == '/' || !cg[rl]))
					res = xasprintf("%s%s", mnt, cg + rl);
			}
		}
		free(l);
		if (res) {
			size_t rl = strlen(res);

			if (rl > 1 && res[rl - 1] == '/')
				res[rl - 1] = '\0';
			return res;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return NULL;
}

static int file_has_word(const char *dir, const char *file, const char *word)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xasprintf("%s/%s", dir, file);
	int r = 0;

	if (!read_small(path, &sb))
		r = words_have(sb.buf, word);
	strbuf_release(&sb);
	free(path);
	return r;
}

static int exists(const char *dir, const char *file)
{
	char *path = xasprintf("%s/%s", dir, file);
	int r = !access(path, F_OK);

	free(path);
	return r;
}

static int open_in(const char *dir, const char *file, int flags)
{
	char *path = xasprintf("%s/%s", dir, file);
	int fd = open(path, flags | O_CLOEXEC);

	free(path);
	return fd;
}

/* file of dir, opened relative to dfd (dir's descriptor) when there is one */
static int openat_in(int dfd, const char *dir, const char *file, int flags)
{
	return dfd >= 0 ? openat(dfd, file, flags | O_CLOEXEC) : open_in(dir, file, flags);
}

/* A number at the start of what fd reads from offset 0, or -1. */
static long long pread_ll(int fd)
{
	char buf[64], *end;
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	long long v;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	return errno || end == buf ? -1 : v;
}

/* Value of "key N" in a flat-keyed text, or -1. */
static long long keyed_in(const char *p, const char *key)
{
	size_t kl = strlen(key);

	while (*p) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoll(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return -1;
}

/* keyed_in() of what fd reads from offset 0 (at most 4 KiB), or -1. */
static long long keyed_fd(int fd, const char *key)
{
	char buf[4096];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return keyed_in(buf, key);
}

/* read_ll() relative to dfd when there is one. */
static long long read_ll_at(int dfd, const char *dir, const char *file)
{
	int fd = openat_in(dfd, dir, file, O_RDONLY);
	long long v = pread_ll(fd);

	if (fd >= 0)
		close(fd);
	return v;
}

/* Close every descriptor cg holds. */
static void close_fds(struct cgroup *cg)
{
	int *fds[] = { &cg->join_fd[0], &cg->join_fd[1], &cg->join_fd[2], &cg->join_fd[3],
		       &cg->events_fd, &cg->dir_fd, &cg->cpu_dfd, &cg->peak_fd,
		       &cg->usage_fd, &cg->oom_fd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static char *make_child(const char *parent, const char *leaf)
{
	char *dir = xasprintf("%s/%s", parent, leaf);

	if (mkdir(dir, 0755) < 0) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* v2_enable's, one job's cgroup at a time: jobs start in several threads */
static pthread_mutex_t enable_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * v2's no-internal-process rule: a cgroup other than the root that holds
 * processes cannot give its children a domain controller (memory, pids,
 * cpu: EBUSY). A delegated cgroup cidre runs in (a systemd service's or
 * scope's with Delegate=yes) holds cidre itself, so its processes move
 * into a leaf of it, CGROUP_V2_LEAF, as systemd's delegation rules ask
 * of a delegatee that wants controllers for its children. Everything in
 * base is ours: it was delegated to us, or named by $CIDRE_CGROUP.
 * 0 when base holds no process any more.
 */
static int v2_vacate(const char *base)
{
	char *leaf = xasprintf("%s/" CGROUP_V2_LEAF, base);
	char *procs = xasprintf("%s/cgroup.procs", base);
	struct strbuf sb = STRBUF_INIT;
	int fd = -1, round, ret = -1;

	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		goto out;
	fd = open_in(leaf, "cgroup.procs", O_WRONLY);
	/* a process may fork while the others move: look again */
	for (round = 0; fd >= 0 && round < 16; round++) {
		char *p, *end;
		int moved = 0;

		if (read_small(procs, &sb) < 0)
			break;
		for (p = sb.buf; *p; p = end) {
			long pid = strtol(p, &end, 10);
			char num[32];
			int n;

			if (end == p)
				break;
			while (*end == '\n')
				end++;
			n = snprintf(num, sizeof(num), "%ld", pid);
			if (write(fd, num, (size_t)n) != n && errno != ESRCH)
				goto out;
			moved++;
		}
		if (!moved) {
			ret = 0;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	strbuf_release(&sb);
	free(procs);
	free(leaf);
	return ret;
}

/*
 * Controller ctl for base's children (dir is one) when base has it:
 * enabled in base's subtree_control, base vacated first if it must be.
 */
static void v2_enable(const char *base, const char *dir, const char *ctl)
{
	char *sc, *plus;

	if (file_has_word(dir, "cgroup.controllers", ctl) ||
	    !file_has_word(base, "cgroup.controllers", ctl))
		return;
	sc = xasprintf("%s/cgroup.subtree_control", base);
	plus = xasprintf("+%s", ctl);
	pthread_mutex_lock(&enable_lock);
	/* still without it: no controller here, as before */
	if (write_str(sc, plus) < 0 && errno == EBUSY && !v2_vacate(base) &&
	    write_str(sc, plus) < 0)
		errno = 0;
	pthread_mutex_unlock(&enable_lock);
	free(plus);
	free(sc);
}

static int try_v2(struct cgroup *cg, const char *base, const char *leaf)
{
	char *dir = make_child(base, leaf);
	const char *extra = getenv("CIDRE_TEST_CGROUP_ENABLE");

	if (!dir)
		return -1;
	v2_enable(base, dir, "memory");
	/* a test's stand-in for memory where v2 has no memory controller */
	if (extra && *extra)
		v2_enable(base, dir, extra);
	cg->join_fd[0] = open_in(dir, "cgroup.procs", O_WRONLY);
	if (cg->join_fd[0] < 0) {
		rmdir(dir);
		free(dir);
		return -1;
	}
	cg->version = CGROUP_V2;
	cg->dir = dir;
	cg->has_mem = file_has_word(dir, "cgroup.controllers", "memory") &&
		      exists(dir, "memory.current");
	cg->has_peak = cg->has_mem && exists(dir, "memory.peak");
	cg->has_kill = exists(dir, "cgroup.kill");
	cg->events_fd = open_in(dir, "cgroup.events", O_RDONLY);
	cg->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

static int try_v1(struct cgroup *cg, const char *mem_base,
		  const char *cpu_base, const char *leaf)
{
	char *dir = mem_base ? make_child(mem_base, leaf) : NULL;

	if (!dir)
		return -1;
	cg->join_fd[0] = open_in(dir, "tasks", O_WRONLY);
	if (cg->join_fd[0] < 0 || !exists(dir, "memory.max_usage_in_bytes")) {
		if (cg->join_fd[0] >= 0)
			close(cg->join_fd[0]);
		cg->join_fd[0] = -1;
		rmdir(dir);
		free(dir);
		return -1;
	}
	cg->version = CGROUP_V1;
	cg->dir = dir;
	cg->has_mem = 1;

	cg->cpu_dir = cpu_base ? make_child(cpu_base, leaf) : NULL;
	if (cg->cpu_dir) {
		cg->join_fd[1] = open_in(cg->cpu_dir, "tasks", O_WRONLY);
		if (cg->join_fd[1] < 0) {
			rmdir(cg->cpu_dir);
			free(cg->cpu_dir);
			cg->cpu_dir = NULL;
		}
	}
	return 0;
}

/*
 * Where our cgroups are, found once per process: /proc/self/cgroup and
 * mountinfo do not change under a running cidre, and reading them for
 * every job was a measurable part of a short job's start. The pids and
 * cpu hierarchies matter only to limits and are found on first need.
 */
static struct {
	char *v2;      /* our cgroup in the v2 hierarchy, or NULL */
	int v2_mem;    /* the memory controller is available below it */
	char *v1_mem;  /* our cgroup in the v1 memory hierarchy, or NULL */
	char *v1_cpu;  /* ... and in the v1 cpuacct hierarchy */
	char *v1_pids; /* ... in the v1 pids hierarchy (limits) */
	char *v1_quota;/* ... in the v1 cpu hierarchy (CPU quota) */
} where;
static pthread_once_t where_once = PTHREAD_ONCE_INIT;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

#define CGROUP1_MAGIC 0x27e0ebL		/* CGROUP_SUPER_MAGIC */
#define CGROUP2_MAGIC 0x63677270L	/* CGROUP2_SUPER_MAGIC */
#define CGROUP_NS_INIT_INO 0xEFFFFFFBUL	/* PROC_CGROUP_INIT_INO */

/* path joined with our cgroup path own ("/..."), no trailing slash */
static char *join_own(const char *mnt, const char *own)
{
	return xasprintf("%s%s", mnt, strcmp(own, "/") ? own : "");
}

/*
 * The root of a hierarchy mounted at mnt, of file system magic: 1 when
 * mnt is such a mount showing the whole hierarchy (v1: only the root
 * has release_agent; v2: only the root lacks cgroup.type), else 0.
 */
static int hierarchy_root_at(const char *mnt, long magic)
{
	struct statfs sf;
	char *p;
	int ok;

	if (statfs(mnt, &sf) < 0 || (long)sf.f_type != magic)
		return 0;
	if (magic == CGROUP1_MAGIC) {
		p = xasprintf("%s/release_agent", mnt);
		ok = !access(p, F_OK);
	} else {
		p = xasprintf("%s/cgroup.stat", mnt);	/* 4.14+, on every v2 cgroup */
		ok = !access(p, F_OK);
		free(p);
		p = xasprintf("%s/cgroup.type", mnt);
		ok = ok && access(p, F_OK) < 0 && errno == ENOENT;
	}
	free(p);
	return ok;
}

/*
 * The usual layout, without reading mountinfo (~70 us here, more with
 * many mounts): in the initial cgroup namespace (/proc/self/cgroup's
 * paths are then from the hierarchies' roots), the v1 memory and
 * cpuacct hierarchies mounted whole at /sys/fs/cgroup/CONTROLLER and v2
 * at /sys/fs/cgroup/unified or /sys/fs/cgroup. 0 with where's v2,
 * v1_mem and v1_cpu set as discover_mounts() would set them; -1 (where
 * untouched) when anything differs: then mountinfo decides.
 */
static int discover_usual(const struct strbuf *procs)
{
	static const char *const v2_mnt[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	char *own_v2 = own_cgroup(procs, NULL), *own_mem = own_cgroup(procs, "memory");
	char *own_cpu = own_cgroup(procs, "cpuacct");
	const char *v2 = NULL;
	struct stat st;
	size_t i;
	int ret = -1;

	if (stat("/proc/self/ns/cgroup", &st) < 0 || st.st_ino != CGROUP_NS_INIT_INO)
		goto done;
	for (i = 0; own_v2 && !v2 && i < ARRAY_SIZE(v2_mnt); i++)
		if (hierarchy_root_at(v2_mnt[i], CGROUP2_MAGIC))
			v2 = v2_mnt[i];
	if ((own_v2 && !v2) ||
	    (own_mem && !hierarchy_root_at("/sys/fs/cgroup/memory", CGROUP1_MAGIC)) ||
	    (own_cpu && !hierarchy_root_at("/sys/fs/cgroup/cpuacct", CGROUP1_MAGIC)))
		goto done;
	/* a hierarchy of that name without its controller would be odd: check */
	if ((own_mem && !exists("/sys/fs/cgroup/memory", "memory.usage_in_bytes")) ||
	    (own_cpu && !exists("/sys/fs/cgroup/cpuacct", "cpuacct.usage")))
		goto done;
	where.v2 = own_v2 ? join_own(v2, own_v2) : NULL;
	where.v1_mem = own_mem ? join_own("/sys/fs/cgroup/memory", own_mem) : NULL;
	where.v1_cpu = own_cpu ? join_own("/sys/fs/cgroup/cpuacct", own_cpu) : NULL;
	ret = 0;
done:
	free(own_v2);
	free(own_mem);
	free(own_cpu);
	return ret;
}

/* Our cgroups of the controllers ctls (NULL: v2) from mountinfo, into out. */
static void discover_mounts(const struct strbuf *procs, const char *const *ctls,
			    char **out[], size_t n)
{
	struct strbuf mounts = STRBUF_INIT;
	size_t i;

	if (read_small("/proc/self/mountinfo", &mounts) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		char *own = own_cgroup(procs, ctls[i]);

		if (own)
			*out[i] = hierarchy_dir(&mounts, ctls[i] ? "cgroup" : "cgroup2",
						ctls[i], own);
		free(own);
	}
done:
	strbuf_release(&mounts);
}

static void discover(void)
{
	static const char *const ctls[] = { NULL, "memory", "cpuacct" };
	char **out[] = { &where.v2, &where.v1_mem, &where.v1_cpu };
	struct strbuf procs = STRBUF_INIT;

	if (read_small("/proc/self/cgroup", &procs) < 0)
		goto done;
	if (discover_usual(&procs) < 0)
		discover_mounts(&procs, ctls, out, ARRAY_SIZE(out));
	/* in the leaf cidre vacates a delegated cgroup into: that cgroup */
	if (where.v2) {
		char *slash = strrchr(where.v2, '/');

		if (slash && !strcmp(slash + 1, CGROUP_V2_LEAF))
			*slash = '\0';
	}
	where.v2_mem = where.v2 &&
		       file_has_word(where.v2, "cgroup.controllers", "memory");
done:
	strbuf_release(&procs);
}

/* The hierarchies only limits use (pids, cpu), from mountinfo. */
static void discover_limits(void)
{
	static const char *const ctls[] = { "pids", "cpu" };
	char **out[] = { &where.v1_pids, &where.v1_quota };
	struct strbuf procs = STRBUF_INIT;

	if (!read_small("/proc/self/cgroup", &procs))
		discover_mounts(&procs, ctls, out, ARRAY_SIZE(out));
	strbuf_release(&procs);
}

void cgroup_discover(void)
{
	pthread_once(&where_once, discover);
}

/*
 * Idle v1 cgroups of finished jobs, handed to the next job instead of a
 * new pair of directories: creating and removing two cgroups was a
 * measurable part of a short job's cost. A cgroup goes back to the pool
 * only empty and with at most CGROUP_REUSE_MAX_USAGE bytes still charged
 * to it (page cache of files its job wrote): its next job's peak is
 * counted above what was left. The pool is emptied (the directories
 * removed) by cgroup_pool_drain(), also called at exit. Guarded by
 * pool_lock: jobs start and end in several threads.
 */
#define CGROUP_POOL_MAX 64
#define CGROUP_REUSE_MAX_USAGE (2LL << 20)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cgroup pool[CGROUP_POOL_MAX];
static size_t pool_nr;
static int pool_atexit_set;

static long long read_ll(const char *dir, const char *file);
static long long keyed(const char *dir, const char *file, const char *key);

static int write_in(const char *dir, const char *file, const char *s)
{
	char *path = xasprintf("%s/%s", dir, file);
	int r = write_str(path, s);

	free(path);
	return r;
}

/* Take an idle cgroup and zero its counters. 0, or -1 when none. */
static int pool_take(struct cgroup *cg)
{
	for (;;) {
		struct cgroup c;
		int ok;

		pthread_mutex_lock(&pool_lock);
		if (!pool_nr) {
			pthread_mutex_unlock(&pool_lock);
			return -1;
		}
		c = pool[--pool_nr];
		pthread_mutex_unlock(&pool_lock);
		c.empty = 0;
		ok = !write_in(c.dir, "memory.max_usage_in_bytes", "0") &&
		     (!c.cpu_dir || !write_in(c.cpu_dir, "cpuacct.usage", "0"));
		c.base_mem = ok ? read_ll(c.dir, "memory.usage_in_bytes") : -1;
		c.oom_base = keyed(c.dir, "memory.oom_control", "oom_kill");
		if (c.oom_base < 0)
			c.oom_base = 0;
		if (c.base_mem >= 0) {
			*cg = c;
			return 0;
		}
		cgroup_destroy(&c);
	}
}

static void pool_atexit(void)
{
	cgroup_pool_drain();
}

/* Put cg in the pool if it can serve another job. 0, or -1 when not. */
static int pool_put(struct cgroup *cg)
{
	pid_t *pids;
	size_t nr;
	long long used;
	int ret = -1;

	if (cg->version != CGROUP_V1 || cg->limited)
		return -1;
	if (cg->empty) {
		nr = 0;
	} else {
		if (cgroup_pids(cg, &pids, &nr) < 0)
			return -1;
		free(pids);
	}
	used = read_ll(cg->dir, "memory.usage_in_bytes");
	if (nr || used < 0 || used > CGROUP_REUSE_MAX_USAGE)
		return -1;
	pthread_mutex_lock(&pool_lock);
	if (pool_nr < CGROUP_POOL_MAX) {
		if (!pool_atexit_set && !atexit(pool_atexit))
			pool_atexit_set = 1;
		if (pool_atexit_set) {
			pool[pool_nr++] = *cg;
			*cg = (struct cgroup)CGROUP_INIT;
			ret = 0;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	return ret;
}

void cgroup_pool_drain(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_nr)
		cgroup_destroy(&pool[--pool_nr]);
	pthread_mutex_unlock(&pool_lock);
}

void cgroup_keep_as(const char *leaf)
{
	free(keep_leaf);
	keep_leaf = leaf && *leaf && !strchr(leaf, '/') && strcmp(leaf, ".") &&
		    strcmp(leaf, "..") ? xstrdup(leaf) : NULL;
}

void cgroup_remove_kept(const char *leaf)
{
	char *d;

	if (!leaf || !*leaf || strchr(leaf, '/'))
		return;
	cgroup_discover();
	if (where.v1_mem) {
		d = xasprintf("%s/%s", where.v1_mem, leaf);
		rmdir(d);
		free(d);
	}
	if (where.v1_cpu) {
		d = xasprintf("%s/%s", where.v1_cpu, leaf);
		rmdir(d);
		free(d);
	}
}

/*
 * The PID of a name this code gives its cgroups: "cidre-PID-slot-N" (a
 * server's slot) or "cidre-PID-N" (a job's own, or one in the pool);
 * 0 for any other name.
 */
static long ours_of(const char *name)
{
	const char *p;
	char *end;
	long pid;

	if (strncmp(name, "cidre-", 6) || !isdigit((unsigned char)name[6]))
		return 0;
	pid = strtol(name + 6, &end, 10);
	if (pid <= 0 || *end != '-')
		return 0;
	p = end + 1;
	if (!strncmp(p, "slot-", 5))
		p += 5;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p ? 0 : pid;
}

/* Remove dir's cgroups of ours (ours_of) whose PID is no live process. */
static void sweep_kept(const char *dir)
{
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		long pid = ours_of(e->d_name);

		if (!pid || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		{
			char *p = xasprintf("%s/%s", dir, e->d_name);

			rmdir(p);	/* fails, as it should, while a process is in it */
			free(p);
		}
	}
	if (d)
		closedir(d);
}

void cgroup_remove_stale_kept(void)
{
	cgroup_discover();
	sweep_kept(where.v1_mem);
	sweep_kept(where.v1_cpu);
}

/*
 * The directory dir, made when missing (*made then 1): its descriptor,
 * or -1.
 */
static int open_or_make(const char *dir, int *made)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*made = 0;
	if (fd >= 0 || errno != ENOENT || mkdir(dir, 0755) < 0)
		return fd;
	*made = 1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* "-1", or a v1 limit at its maximum (no limit set), in dfd's file: 1; else 0. */
static int unlimited_at(int dfd, const char *file)
{
	long long v = read_ll_at(dfd, NULL, file);

	return v == -1 || v >= (1LL << 62);
}

/*
 * The v1 pair named keep_leaf: made when missing, else taken again when
 * it is empty and carries no limit (a limited job's cgroup is removed at
 * its end; one whose removal failed is not reused). 0, or -1 with cg
 * left NONE: the caller then makes a cgroup of the job's own. Every
 * file is opened relative to the directories' descriptors, and the ones
 * read again after the job stay open (struct cgroup).
 */
static int kept_take(struct cgroup *cg)
{
	char *dir, *cpu;
	int made = 0, cpu_made = 0, expected = 0, fd;

	if (!keep_leaf || !where.v1_mem ||
	    !__atomic_compare_exchange_n(&kept_busy, &expected, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return -1;
	dir = xasprintf("%s/%s", where.v1_mem, keep_leaf);
	cpu = where.v1_cpu ? xasprintf("%s/%s", where.v1_cpu, keep_leaf) : NULL;
	cg->dir_fd = open_or_make(dir, &made);
	if (cg->dir_fd < 0)
		goto fail;
	if (!made) {
		char b[64];

		/* empty: nothing at all to read (an orphan may still run here) */
		fd = openat(cg->dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, b, sizeof(b)) != 0 ||
		    !unlimited_at(cg->dir_fd, "memory.limit_in_bytes")) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
	}
	cg->join_fd[0] = openat(cg->dir_fd, "tasks", O_WRONLY | O_CLOEXEC);
	cg->peak_fd = openat(cg->dir_fd, "memory.max_usage_in_bytes", O_RDWR | O_CLOEXEC);
	if (cg->join_fd[0] < 0 || cg->peak_fd < 0)
		goto fail;
	if (cpu) {
		cg->cpu_dfd = open_or_make(cpu, &cpu_made);
		if (cg->cpu_dfd >= 0 && !cpu_made &&
		    !faccessat(cg->cpu_dfd, "cpu.cfs_quota_us", F_OK, 0) &&
		    !unlimited_at(cg->cpu_dfd, "cpu.cfs_quota_us")) {
			close(cg->cpu_dfd);
			cg->cpu_dfd = -1;
		}
		if (cg->cpu_dfd >= 0 &&
		    (cg->join_fd[1] = openat(cg->cpu_dfd, "tasks", O_WRONLY | O_CLOEXEC)) < 0) {
			close(cg->cpu_dfd);
			cg->cpu_dfd = -1;
		}
		if (cg->cpu_dfd < 0) {
			free(cpu);
			cpu = NULL;
		}
	}
	if (!made && write(cg->peak_fd, "0", 1) != 1)
		goto fail;
	if (cpu && !cpu_made) {
		fd = openat(cg->cpu_dfd, "cpuacct.usage", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
	}
	cg->usage_fd = openat(cg->dir_fd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
	cg->oom_fd = openat(cg->dir_fd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
	if (!made && (cg->base_mem = pread_ll(cg->usage_fd)) < 0)
		goto fail;
	cg->oom_base = made ? 0 : keyed_fd(cg->oom_fd, "oom_kill");
	if (cg->oom_base < 0)
		cg->oom_base = 0;
	cg->version = CGROUP_V1;
	cg->dir = dir;
	cg->cpu_dir = cpu;
	cg->has_mem = 1;
	cg->kept = 1;
	return 0;
fail:
	close_fds(cg);
	*cg = (struct cgroup)CGROUP_INIT;
	if (made)
		rmdir(dir);
	free(dir);
	free(cpu);
	__atomic_store_n(&kept_busy, 0, __ATOMIC_RELEASE);
	return -1;
}

/* Leave a kept cgroup for the next job when it can serve one. 0, or -1. */
static int kept_put(struct cgroup *cg)
{
	pid_t *pids;
	size_t nr = 0;
	long long used;

	if (!cg->kept)
		return -1;
	__atomic_store_n(&kept_busy, 0, __ATOMIC_RELEASE);
	if (cg->limited)
		return -1;
	if (!cg->empty) {
		if (cgroup_pids(cg, &pids, &nr) < 0)
			return -1;
		free(pids);
	}
	used = cg->usage_fd >= 0 ? pread_ll(cg->usage_fd) :
	       read_ll(cg->dir, "memory.usage_in_bytes");
	if (nr || used < 0 || used > CGROUP_REUSE_MAX_USAGE)
		return -1;
	close_fds(cg);
	free(cg->dir);
	free(cg->cpu_dir);
	*cg = (struct cgroup)CGROUP_INIT;
	return 0;
}

void cgroup_release(struct cgroup *cg)
{
	if (cg->kept) {
		if (kept_put(cg) < 0)
			cgroup_destroy(cg);
		return;
	}
	if (pool_put(cg) < 0)
		cgroup_destroy(cg);
}

int cgroup_create(struct cgroup *cg, const char *name)
{
	const char *delegated = getenv("CIDRE_CGROUP");
	unsigned long n = __atomic_add_fetch(&cgroup_seq, 1, __ATOMIC_RELAXED);
	char *leaf = xasprintf("cidre-%ld-%lu", (long)getpid(), n);
	int ret = -1;

	(void)name;
	*cg = (struct cgroup)CGROUP_INIT;
	if (delegated && !strcmp(delegated, "none"))
		goto done; /* accounting by rusage only, by request */
	if (delegated && *delegated) {
		ret = try_v2(cg, delegated, leaf);
		goto done;
	}
	cgroup_discover();
	/* 1. v2 with the memory controller. */
	if (where.v2 && where.v2_mem && !try_v2(cg, where.v2, leaf)) {
		if (cg->has_mem) {
			ret = 0;
			goto done;
		}
		cgroup_destroy(cg);
	}
	/* 2. v1 memory (+ cpuacct): the hybrid layout; a kept or idle one first. */
	if (!kept_take(cg) || !pool_take(cg) ||
	    !try_v1(cg, where.v1_mem, where.v1_cpu, leaf)) {
		ret = 0;
		goto done;
	}
	/* 3. v2 without memory: still tracks, kills and counts CPU. */
	if (where.v2 && !try_v2(cg, where.v2, leaf))
		ret = 0;
done:
	if (ret < 0 && cg->version != CGROUP_NONE)
		cgroup_destroy(cg);
	free(leaf);
	return ret;
}

int cgroup_join_child(const struct cgroup *cg)
{
	int i, ret = 0;

	for (i = 0; i < 4; i++)
		if (cg->join_fd[i] >= 0 && write(cg->join_fd[i], "0", 1) != 1)
			ret = -1;
	return ret;
}

int cgroup_pids(const struct cgroup *cg, pid_t **ret, size_t *nr)
{
	struct strbuf sb = STRBUF_INIT;
	pid_t *v = NULL;
	size_t n = 0, alloc = 0;
	char *p, *end;
	int fd;

	*ret = NULL;
	*nr = 0;
	if (!cg->dir)
		return -1;
	/* a new open each time: a v1 cgroup.procs fd may serve a cached list */
	fd = openat_in(cg->dir_fd, cg->dir, "cgroup.procs", O_RDONLY);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r;

		strbuf_grow(&sb, 4096);
		r = read(fd, sb.buf + sb.len, sb.alloc - sb.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		strbuf_setlen(&sb, sb.len + r);
	}
	close(fd);
	for (p = sb.buf; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0) {
			ALLOC_GROW(v, n + 1, alloc);
			v[n++] = (pid_t)pid;
		}
		while (*end == '\n')
			end++;
	}
	strbuf_release(&sb);
	*ret = v;
	*nr = n;
	return 0;
}

void cgroup_signal(const struct cgroup *cg, int sig)
{
	pid_t *pids;
	size_t nr, i;

	if (cg->version == CGROUP_NONE)
		return;
	if (sig == SIGKILL && cg->has_kill) {
		char *path = xasprintf("%s/cgroup.kill", cg->dir);
		int r = write_str(path, "1");

		free(path);
		if (!r)
			return;
	}
	if (cgroup_pids(cg, &pids, &nr) < 0)
		return;
	for (i = 0; i < nr; i++)
		kill(pids[i], sig);
	free(pids);
}

int cgroup_populated(const struct cgroup *cg)
{
	struct strbuf sb = STRBUF_INIT;
	char *p;
	int r = -1;

	if (cg->version != CGROUP_V2 || cg->events_fd < 0)
		return -1;
	strbuf_grow(&sb, 256);
	if (pread(cg->events_fd, sb.buf, sb.alloc - 1, 0) > 0) {
		sb.buf[sb.alloc - 1] = '\0';
		p = strstr(sb.buf, "populated ");
		if (p)
			r = p[10] == '1';
	}
	strbuf_release(&sb);
	return r;
}

static long long read_ll(const char *dir, const char *file)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xasprintf("%s/%s", dir, file);
	long long v = -1;

	if (!read_small(path, &sb) && sb.len) {
		char *end;

		errno = 0;
		v = strtoll(sb.buf, &end, 10);
		if (errno || end == sb.buf)
			v = -1;
	}
	strbuf_release(&sb);
	free(path);
	return v;
}

void cgroup_sample(struct cgroup *cg)
{
	long long v;

	if (cg->version != CGROUP_V2 || !cg->has_mem || cg->has_peak)
		return;
	v = read_ll(cg->dir, "memory.current");
	if (v > cg->sampled)
		cg->sampled = v;
}

long long cgroup_peak_mem(const struct cgroup *cg)
{
	if (!cg->has_mem)
		return -1;
	if (cg->version == CGROUP_V1) {
		long long v = cg->peak_fd >= 0 ? pread_ll(cg->peak_fd) :
			      read_ll(cg->dir, "memory.max_usage_in_bytes");

		if (v < 0 || cg->base_mem <= 0)
			return v;
		/*
		 * What an earlier job left charged is not this one's. But a
		 * small job can be served entirely from pages the controller
		 * charged ahead (per CPU) before the watermark was reset, so
		 * the watermark never moves: then the cgroup's whole use while
		 * it ran, never a peak of 0 for a job that ran.
		 */
		return v > cg->base_mem ? v - cg->base_mem : v;
	}
	if (cg->has_peak)
		return read_ll(cg->dir, "memory.peak");
	return cg->sampled;
}

/* Value of "key N" in a flat-keyed file, or -1. */
static long long keyed(const char *dir, const char *file, const char *key)
{
	struct strbuf sb = STRBUF_INIT;
	char *path = xasprintf("%s/%s", dir, file);
	long long v = -1;

	if (!read_small(path, &sb))
		v = keyed_in(sb.buf, key);
	strbuf_release(&sb);
	free(path);
	return v;
}

int cgroup_cpu(const struct cgroup *cg, double *user, double *sys)
{
	long long u, s;

	if (cg->version == CGROUP_V2) {
		u = keyed(cg->dir, "cpu.stat", "user_usec");
		s = keyed(cg->dir, "cpu.stat", "system_usec");
		if (u < 0 || s < 0)
			return -1;
		*user = u / 1e6;
		*sys = s / 1e6;
		return 0;
	}
	if (cg->version != CGROUP_V1 || !cg->cpu_dir)
		return -1;
	u = read_ll_at(cg->cpu_dfd, cg->cpu_dir, "cpuacct.usage_user");
	s = read_ll_at(cg->cpu_dfd, cg->cpu_dir, "cpuacct.usage_sys");
	if (u >= 0 && s >= 0) {
		*user = u / 1e9;
		*sys = s / 1e9;
		return 0;
	}
	u = keyed(cg->cpu_dir, "cpuacct.stat", "user");
	s = keyed(cg->cpu_dir, "cpuacct.stat", "system");
	if (u < 0 || s < 0)
		return -1;
	*user = (double)u / sysconf(_SC_CLK_TCK);
	*sys = (double)s / sysconf(_SC_CLK_TCK);
	return 0;
}

void cgroup_destroy(struct cgroup *cg)
{
	if (cg->kept)
		__atomic_store_n(&kept_busy, 0, __ATOMIC_RELEASE);
	close_fds(cg);
	if (cg->dir)
		rmdir(cg->dir);
	if (cg->cpu_dir)
		rmdir(cg->cpu_dir);
	if (cg->pids_dir)
		rmdir(cg->pids_dir);
	if (cg->quota_dir)
		rmdir(cg->quota_dir);
	free(cg->dir);
	free(cg->cpu_dir);
	free(cg->pids_dir);
	free(cg->quota_dir);
	*cg = (struct cgroup)CGROUP_INIT;
}

/* ---- limits ------------------------------------------------------- */

/* A v1 sibling in hierarchy base for limits; its tasks fd in *fd. */
static char *v1_sibling(const char *base, const char *leaf_of, int *fd)
{
	const char *leaf = strrchr(leaf_of, '/');
	char *dir;

	if (!base || !leaf)
		return NULL;
	dir = xasprintf("%s%s", base, leaf);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	*fd = open_in(dir, "tasks", O_WRONLY);
	if (*fd < 0) {
		rmdir(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static int set_in(const char *dir, const char *file, const char *val,
		  struct strbuf *err)
{
	if (!write_in(dir, file, val))
		return 0;
	strbuf_addf(err, "cannot set %s/%s to %s: %s", dir, file, val,
		    strerror(errno));
	return -1;
}

static int limit_v1(struct cgroup *cg, const struct proc_limits *lim,
		    struct strbuf *err)
{
	char v[64];

	if (lim->memory > 0) {
		snprintf(v, sizeof(v), "%lld", lim->memory);
		if (set_in(cg->dir, "memory.limit_in_bytes", v, err) < 0)
			return -1;
		/* no swap beyond the limit, where swap accounting exists */
		if (exists(cg->dir, "memory.memsw.limit_in_bytes") &&
		    set_in(cg->dir, "memory.memsw.limit_in_bytes", v, err) < 0)
			return -1;
	}
	if (lim->pids > 0) {
		pthread_once(&limits_once, discover_limits);
		cg->pids_dir = v1_sibling(where.v1_pids, cg->dir, &cg->join_fd[2]);
		if (!cg->pids_dir) {
			strbuf_addstr(err, "no usable cgroup v1 pids hierarchy "
				      "for the pids limit");
			return -1;
		}
		snprintf(v, sizeof(v), "%lld", lim->pids);
		if (set_in(cg->pids_dir, "pids.max", v, err) < 0)
			return -1;
	}
	if (lim->cpus > 0) {
		const char *qd;

		pthread_once(&limits_once, discover_limits);
		if (cg->cpu_dir && where.v1_quota && where.v1_cpu &&
		    !strcmp(where.v1_quota, where.v1_cpu)) {
			qd = cg->cpu_dir; /* cpu,cpuacct mounted together */
		} else {
			cg->quota_dir = v1_sibling(where.v1_quota, cg->dir,
						   &cg->join_fd[3]);
			qd = cg->quota_dir;
		}
		if (!qd) {
			strbuf_addstr(err, "no usable cgroup v1 cpu hierarchy "
				      "for the cpus limit");
			return -1;
		}
		snprintf(v, sizeof(v), "%lld", (long long)(lim->cpus * 100000));
		if (set_in(qd, "cpu.cfs_period_us", "100000", err) < 0 ||
		    set_in(qd, "cpu.cfs_quota_us", v, err) < 0)
			return -1;
	}
	return 0;
}

static int limit_v2(struct cgroup *cg, const struct proc_limits *lim,
		    struct strbuf *err)
{
	char *parent = xstrdup(cg->dir), *slash = strrchr(parent, '/');
	char v[64];
	int ret = -1;

	if (slash)
		*slash = '\0';
	if (lim->pids > 0)
		v2_enable(parent, cg->dir, "pids");
	if (lim->cpus > 0)
		v2_enable(parent, cg->dir, "cpu");
	if (lim->memory > 0) {
		if (!cg->has_mem) {
			strbuf_addf(err, "the memory controller is not available "
				    "below %s (systemd gives it to a unit's "
				    "cgroup with Delegate=yes)", parent);
			goto done;
		}
		snprintf(v, sizeof(v), "%lld", lim->memory);
		if (set_in(cg->dir, "memory.max", v, err) < 0)
			goto done;
		if (exists(cg->dir, "memory.swap.max") &&
		    set_in(cg->dir, "memory.swap.max", "0", err) < 0)
			goto done;
	}
	if (lim->pids > 0) {
		snprintf(v, sizeof(v), "%lld", lim->pids);
		if (set_in(cg->dir, "pids.max", v, err) < 0)
			goto done;
	}
	if (lim->cpus > 0) {
		snprintf(v, sizeof(v), "%lld 100000", (long long)(lim->cpus * 100000));
		if (set_in(cg->dir, "cpu.max", v, err) < 0)
			goto done;
	}
	ret = 0;
done:
	free(parent);
	return ret;
}

int cgroup_limit(struct cgroup *cg, const struct proc_limits *lim,
		 struct strbuf *err)
{
	if (!PROC_LIMITS_SET(lim))
		return 0;
	cg->limited = 1;
	if (cg->version == CGROUP_V1)
		return limit_v1(cg, lim, err);
	if (cg->version == CGROUP_V2)
		return limit_v2(cg, lim, err);
	{
		const char *v = getenv("CIDRE_CGROUP");

		if (v && !strcmp(v, "none"))
			strbuf_addstr(err, "CIDRE_CGROUP=none: no cgroup to "
				      "apply them in");
		else
			strbuf_addstr(err, "no cgroup could be made for the job: "
				      "run cidre in a cgroup delegated to you "
				      "(systemd-run --user --scope -p "
				      "Delegate=yes, or Delegate=yes in its "
				      "service's unit), or set CIDRE_CGROUP to "
				      "a delegated directory");
	}
	return -1;
}

long long cgroup_oom_kills(const struct cgroup *cg)
{
	long long v;

	if (!cg->dir)
		return 0;
	if (cg->version == CGROUP_V2)
		v = keyed(cg->dir, "memory.events", "oom_kill");
	else if (cg->oom_fd >= 0)
		v = keyed_fd(cg->oom_fd, "oom_kill");
	else
		v = keyed(cg->dir, "memory.oom_control", "oom_kill");
	return v > cg->oom_base ? v - cg->oom_base : 0;
}

long long cgroup_pids_refused(const struct cgroup *cg)
{
	const char *d = cg->version == CGROUP_V2 ? cg->dir : cg->pids_dir;
	long long v;

	if (!d)
		return 0;
	v = keyed(d, "pids.events", "max");
	return v > 0 ? v : 0;
}
