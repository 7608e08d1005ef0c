/*
 * The sandbox executor's bubblewrap command line. See sandbox.h and
 * docs/internals/sandbox.md.
 */
#include "exec/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/proc.h"
#include "util/xalloc.h"

/* Top-level names of an image that the sandbox provides itself. */
static int provided(const char *name, const char *builds_top)
{
	return !strcmp(name, "proc") || !strcmp(name, "dev") ||
	       !strcmp(name, "tmp") || !strcmp(name, builds_top);
}

/*
 * With this host's / as the image: only its system directories, and
 * never its secrets. Anything else (/root, /home, /srv, /var, /work...)
 * is not there.
 */
static const char *const host_dirs[] = {
	"bin", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr",
};
static const char *const host_masked[] = {
	"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-",
	"/etc/sudoers", "/etc/ssh",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The image's part of the command line: its top-level names (but what
 * the sandbox provides itself, and on the host's / only its system
 * directories) bound read-only or linked, and on the host its secrets
 * covered. Appended to out.
 */
static int root_args_read(const char *root, const char *top, struct strvec *out,
			  struct strbuf *err)
{
	struct strvec names = STRVEC_INIT;
	struct dirent *de;
	size_t i;
	int dfd;
	DIR *d = opendir(root);

	if (!d) {
		strbuf_addf(err, "cannot read image root %s: %s", root, strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    provided(de->d_name, top))
			continue;
		if (!strcmp(root, "/")) {
			for (i = 0; i < sizeof(host_dirs) / sizeof(*host_dirs); i++)
				if (!strcmp(de->d_name, host_dirs[i]))
					break;
			if (i == sizeof(host_dirs) / sizeof(*host_dirs))
				continue;
		}
		strvec_push(&names, de->d_name);
	}
	/* the same image gives the same command line */
	qsort(names.v, names.nr, sizeof(*names.v), cmp_str);
	for (i = 0; i < names.nr; i++) {
		const char *n = names.v[i];
		struct stat st;

		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t len = readlinkat(dfd, n, target, sizeof(target) - 1);

			if (len <= 0)
				continue;
			target[len] = '\0';
			strvec_push(out, "--symlink");
			strvec_push(out, target);
			strvec_pushf(out, "/%s", n);
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			strvec_push(out, "--ro-bind");
			strvec_pushf(out, "%s%s%s", root, strcmp(root, "/") ? "/" : "", n);
			strvec_pushf(out, "/%s", n);
		}
		/* devices, fifos, sockets at the top: left out */
	}
	if (!strcmp(root, "/")) {
		for (i = 0; i < sizeof(host_masked) / sizeof(*host_masked); i++) {
			struct stat st;

			if (lstat(host_masked[i], &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				strvec_push(out, "--tmpfs");
				strvec_push(out, host_masked[i]);
			} else if (S_ISREG(st.st_mode)) {
				strvec_push(out, "--ro-bind");
				strvec_push(out, "/dev/null");
				strvec_push(out, host_masked[i]);
			}
		}
	}
	closedir(d);
	strvec_clear(&names);
	return 0;
}

/*
 * root_args_read's answer, kept while the root directory (and, for the
 * host's /, /etc, which holds what is covered) is the same inode with
 * the same change times: a name added, removed or replaced there
 * changes them. A run asks for every sandbox it prepares (19 times for
 * six jobs), and each read of the host's / was some 25 system calls.
 * Not kept when either changed in the last RACY_MS: a file system's
 * times can be as coarse as the kernel's tick, so a change in the same
 * tick as the read would leave the times as they were (git's "racy"
 * index entries).
 */
#define RACY_MS 100
static struct {
	pthread_mutex_t lock;
	int have;
	char *root, *top;
	struct stat st, etc;
	struct strvec args;
} root_cache = { PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, { 0 }, { 0 }, STRVEC_INIT };

static int same_dir(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int racy(const struct stat *st, const struct timespec *now)
{
	int64_t ms = (int64_t)(now->tv_sec - st->st_ctim.tv_sec) * 1000 +
		     (now->tv_nsec - st->st_ctim.tv_nsec) / 1000000;

	return ms < RACY_MS;
}

static int root_args(const char *root, const char *top, struct strvec *out,
		     struct strbuf *err)
{
	struct timespec now;
	struct strvec fresh = STRVEC_INIT;
	struct stat st, etc;
	size_t i;
	int hit;

	memset(&etc, 0, sizeof(etc));
	if (stat(root, &st) < 0) {
		strbuf_addf(err, "cannot read image root %s: %s", root, strerror(errno));
		return -1;
	}
	if (!strcmp(root, "/") && stat("/etc", &etc) < 0)
		memset(&etc, 0, sizeof(etc));
	pthread_mutex_lock(&root_cache.lock);
	hit = root_cache.have && !strcmp(root_cache.root, root) &&
	      !strcmp(root_cache.top, top) && same_dir(&root_cache.st, &st) &&
	      same_dir(&root_cache.etc, &etc);
	if (hit)
		for (i = 0; i < root_cache.args.nr; i++)
			strvec_push(out, root_cache.args.v[i]);
	pthread_mutex_unlock(&root_cache.lock);
	if (hit)
		return 0;
	if (root_args_read(root, top, &fresh, err) < 0)
		return -1;
	for (i = 0; i < fresh.nr; i++)
		strvec_push(out, fresh.v[i]);
	clock_gettime(CLOCK_REALTIME, &now);
	if (racy(&st, &now) || racy(&etc, &now)) {
		strvec_clear(&fresh);
		return 0;
	}
	pthread_mutex_lock(&root_cache.lock);
	free(root_cache.root);
	free(root_cache.top);
	strvec_clear(&root_cache.args);
	root_cache.root = xstrdup(root);
	root_cache.top = xstrdup(top);
	root_cache.st = st;
	root_cache.etc = etc;
	root_cache.args = fresh;
	root_cache.have = 1;
	pthread_mutex_unlock(&root_cache.lock);
	return 0;
}

int sandbox_argv(const struct sandbox_opts *o, struct strvec *argv,
		 struct strbuf *err)
{
	struct strvec mounts = STRVEC_INIT;
	char *top = NULL;
	const char *slash;
	size_t i;
	int ret = -1;

	if (!o->root || o->root[0] != '/' || !o->project_dir ||
	    o->project_dir[0] != '/' || !o->project_dir[1]) {
		strbuf_addstr(err, "the image root and the project dir must be "
			      "absolute paths");
		return -1;
	}
	slash = strchr(o->project_dir + 1, '/');
	top = slash ? xstrndup(o->project_dir + 1, slash - (o->project_dir + 1))
		    : xstrdup(o->project_dir + 1);
	if (root_args(o->root, top, &mounts, err) < 0) {
		free(top);
		return -1;
	}

	strvec_push(argv, o->bwrap);
	strvec_push(argv, "--unshare-user");
	strvec_push(argv, "--unshare-ipc");
	strvec_push(argv, "--unshare-pid");
	strvec_push(argv, "--unshare-uts");
	strvec_push(argv, "--unshare-cgroup-try");
	if (!o->network)
		strvec_push(argv, "--unshare-net");
	strvec_push(argv, "--die-with-parent");
	strvec_pushf(argv, "--uid");
	strvec_pushf(argv, "%ld", o->uid >= 0 ? o->uid : (long)SANDBOX_DEFAULT_ID);
	strvec_pushf(argv, "--gid");
	strvec_pushf(argv, "%ld", o->gid >= 0 ? o->gid : (long)SANDBOX_DEFAULT_ID);
	strvec_push(argv, "--hostname");
	strvec_push(argv, "cidre-job");
	strvec_push(argv, "--cap-drop");
	strvec_push(argv, "ALL");
	for (i = 0; i < mounts.nr; i++)
		strvec_push(argv, mounts.v[i]);
	strvec_clear(&mounts);
	if (o->hosts) {
		/* the services' names (the image's /etc/hosts is the mount point) */
		strvec_push(argv, "--ro-bind");
		strvec_push(argv, o->hosts);
		strvec_push(argv, "/etc/hosts");
	}
	strvec_push(argv, "--dev");
	strvec_push(argv, "/dev");
	/* /dev read-only but its shm, a tmpfs: what a pool's inits make,
	   whose /dev serves job after job */
	strvec_push(argv, "--tmpfs");
	strvec_push(argv, "/dev/shm");
	strvec_push(argv, "--remount-ro");
	strvec_push(argv, "/dev");
	strvec_push(argv, "--proc");
	strvec_push(argv, "/proc");
	strvec_push(argv, "--tmpfs");
	strvec_push(argv, "/tmp");
	strvec_push(argv, "--dir");
	strvec_push(argv, o->project_dir);
	strvec_push(argv, "--bind");
	strvec_push(argv, o->workdir);
	strvec_push(argv, o->project_dir);
	strvec_push(argv, "--remount-ro");
	strvec_push(argv, "/");
	strvec_push(argv, "--chdir");
	strvec_push(argv, o->project_dir);
	strvec_push(argv, "--info-fd");
	strvec_pushf(argv, "%d", SANDBOX_INFO_FD);
	strvec_push(argv, "--block-fd");
	strvec_pushf(argv, "%d", SANDBOX_BLOCK_FD);
	strvec_push(argv, "--");
	ret = 0;
	free(top);
	return ret;
}

/* ---- the trampoline ---------------------------------------------- */

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

static const char job_magic[4] = { 'C', 'S', 'J', '1' };

void sandbox_init_argv(char *const *wrap, struct strvec *out)
{
	size_t nr = 0, i;

	while (wrap[nr])
		nr++;
	/* sandbox_argv ends with --block-fd N --: the trampoline reads
	   the socket itself, and bwrap runs it at once */
	if (nr >= 3 && !strcmp(wrap[nr - 3], "--block-fd") &&
	    !strcmp(wrap[nr - 1], "--"))
		nr -= 3;
	for (i = 0; i < nr; i++)
		strvec_push(out, wrap[i]);
	strvec_push(out, "--");
	strvec_pushf(out, "/proc/self/fd/%d", SANDBOX_EXE_FD);
	strvec_push(out, SANDBOX_INIT_CMD);
}

static int exe_fd = -1;
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

/* Whether this process was linked statically: no program interpreter. */
static int linked_statically(void)
{
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	unsigned long i, n = getauxval(AT_PHNUM);

	if (!ph || !n)
		return 0;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_INTERP)
			return 0;
	return 1;
}

static void open_exe(void)
{
	const char *off = getenv("CIDRE_SANDBOX_INIT");

	if ((off && !strcmp(off, "0")) || !linked_statically())
		return;
	exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
}

int sandbox_init_exe(void)
{
	pthread_once(&exe_once, open_exe);
	return exe_fd;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int sandbox_job_encode(struct strbuf *out, const char *cwd, char *const *argv,
		       char *const *env, struct strbuf *err)
{
	size_t start = out->len, argc = 0, n = 1, i;
	unsigned char hdr[8];

	if (!cwd || cwd[0] != '/') {
		strbuf_addstr(err, "the job's directory must be an absolute path");
		return -1;
	}
	while (argv && argv[argc])
		argc++;
	if (!argc || argv[0][0] != '/') {
		strbuf_addstr(err, "the job's command must be an absolute path");
		return -1;
	}
	memcpy(hdr, job_magic, 4);
	put_le32(hdr + 4, 0);
	strbuf_add(out, hdr, sizeof(hdr));
	strbuf_add(out, cwd, strlen(cwd) + 1);
	strbuf_addf(out, "%zu", argc);
	strbuf_addch(out, '\0');
	for (i = 0; i < argc; i++, n++)
		strbuf_add(out, argv[i], strlen(argv[i]) + 1);
	for (i = 0; env && env[i]; i++, n++)
		strbuf_add(out, env[i], strlen(env[i]) + 1);
	if (out->len - start - sizeof(hdr) > SANDBOX_JOB_MAX ||
	    n > SANDBOX_JOB_STRINGS) {
		strbuf_addf(err, "the job's command and environment (%zu bytes, "
			    "%zu strings) pass the sandbox's limit (%d bytes, "
			    "%d strings)", out->len - start - sizeof(hdr), n,
			    SANDBOX_JOB_MAX, SANDBOX_JOB_STRINGS);
		strbuf_setlen(out, start);
		return -1;
	}
	put_le32((unsigned char *)out->buf + start + 4,
		 (uint32_t)(out->len - start - sizeof(hdr)));
	return 0;
}

int sandbox_job_decode(char *payload, size_t len, struct sandbox_job *job,
		       struct strbuf *err)
{
	size_t nstr = 0, i, k, argc;
	char *p, *end = payload + len, *num;
	char **v;

	memset(job, 0, sizeof(*job));
	if (!len || len > SANDBOX_JOB_MAX || payload[len - 1]) {
		strbuf_addstr(err, "malformed job description: empty, too long "
			      "or not NUL-terminated");
		return -1;
	}
	for (p = payload; p < end; p += strlen(p) + 1)
		if (++nstr > SANDBOX_JOB_STRINGS + 2) {
			strbuf_addf(err, "job description with over %d strings",
				    SANDBOX_JOB_STRINGS);
			return -1;
		}
	if (nstr < 3) {
		strbuf_addstr(err, "malformed job description: no command");
		return -1;
	}
	job->cwd = payload;
	num = payload + strlen(payload) + 1;
	if (job->cwd[0] != '/') {
		strbuf_addstr(err, "malformed job description: a relative directory");
		return -1;
	}
	argc = 0;
	for (p = num; *p; p++) {
		if (*p < '0' || *p > '9' || argc > SANDBOX_JOB_STRINGS) {
			argc = 0;
			break;
		}
		argc = argc * 10 + (size_t)(*p - '0');
	}
	if (!argc || argc > nstr - 2) {
		strbuf_addf(err, "malformed job description: argument count "
			    "\"%.20s\" for %zu strings", num, nstr - 2);
		return -1;
	}
	v = calloc(nstr - 2 + 2, sizeof(*v));
	if (!v) {
		strbuf_addstr(err, "out of memory");
		return -1;
	}
	p = num + strlen(num) + 1;
	for (i = 0; p < end; i++, p += strlen(p) + 1)
		v[i] = p;
	/* argv is v[0..argc) NULL-terminated, env follows: shift it by one */
	memmove(v + argc + 1, v + argc, (nstr - 2 - argc) * sizeof(*v));
	v[argc] = NULL;
	v[nstr - 2 + 1] = NULL;
	job->argv = v;
	job->env = v + argc + 1;
	if (v[0][0] != '/') {
		strbuf_addstr(err, "malformed job description: the command is "
			      "not an absolute path");
		sandbox_job_release(job);
		return -1;
	}
	for (k = 0; job->env[k]; k++)
		if (job->env[k][0] == '=' || !strchr(job->env[k], '=')) {
			strbuf_addf(err, "malformed job description: environment "
				    "entry %zu is not NAME=value", k);
			sandbox_job_release(job);
			return -1;
		}
	return 0;
}

void sandbox_job_release(struct sandbox_job *job)
{
	free(job->argv);
	memset(job, 0, sizeof(*job));
}

/* read() until n bytes or EOF; the count read, -1 on an error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (!r)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * The job's environment with what bwrap added to ours (it was started
 * with none; it sets PWD) applied as setenv() does it: an entry of the
 * same name replaced in place, else added at the end. What a job run by
 * bwrap directly gets. The array is new; the strings are not copied.
 */
static char **env_with_ours(char **job)
{
	size_t n = 0, m = 0, i, k;
	char **env;

	while (job[n])
		n++;
	while (environ && environ[m])
		m++;
	env = calloc(n + m + 1, sizeof(*env));
	if (!env)
		return NULL;
	memcpy(env, job, n * sizeof(*env));
	for (i = 0; i < m; i++) {
		size_t len = strcspn(environ[i], "=");

		if (!environ[i][len] || !len)
			continue;
		for (k = 0; k < n; k++)
			if (!strncmp(env[k], environ[i], len + 1))
				break;
		env[k] = environ[i];
		if (k == n)
			n++;
	}
	env[n] = NULL;
	return env;
}

int sandbox_job_read(int fd, char **ret_payload, struct sandbox_job *job,
		     struct strbuf *err)
{
	unsigned char hdr[8];
	char *payload = NULL;
	uint32_t len;
	ssize_t n;

	memset(job, 0, sizeof(*job));
	*ret_payload = NULL;
	n = read_full(fd, hdr, sizeof(hdr));
	if (n < 0) {
		strbuf_addf(err, "reading the job: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		strbuf_addstr(err, "the sandbox was let go of without a job");
		return -1;
	}
	if ((size_t)n < sizeof(hdr) || memcmp(hdr, job_magic, 4)) {
		strbuf_addf(err, "not a job description (%zd bytes)", n);
		return -1;
	}
	len = get_le32(hdr + 4);
	if (!len || len > SANDBOX_JOB_MAX) {
		strbuf_addf(err, "a job description of %lu bytes (the limit is "
			    "%d)", (unsigned long)len, SANDBOX_JOB_MAX);
		return -1;
	}
	payload = malloc(len);
	if (!payload) {
		strbuf_addstr(err, "out of memory");
		return -1;
	}
	n = read_full(fd, payload, len);
	if (n < 0) {
		strbuf_addf(err, "reading the job: %s", strerror(errno));
		free(payload);
		return -1;
	}
	if ((size_t)n < len) {
		strbuf_addf(err, "the job description ended early (%zd of %lu "
			    "bytes)", n, (unsigned long)len);
		free(payload);
		return -1;
	}
	if (sandbox_job_decode(payload, len, job, err) < 0) {
		free(payload);
		return -1;
	}
	*ret_payload = payload;
	return 0;
}

char **sandbox_job_env(char **job_env)
{
	return env_with_ours(job_env);
}

void sandbox_init_fail(const struct strbuf *err)
{
	struct strbuf line = STRBUF_INIT;
	const char *p;
	size_t left;

	strbuf_addf(&line, "cidre %s: %s\n", SANDBOX_INIT_CMD, err->buf);
	for (p = line.buf, left = line.len; left; ) {
		ssize_t w = write(2, p, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	strbuf_release(&line);
}

int sandbox_init_main(void)
{
	struct strbuf err = STRBUF_INIT;
	struct sandbox_job job;
	char *payload = NULL, **env = NULL;

	memset(&job, 0, sizeof(job));
	if (sandbox_job_read(SANDBOX_BLOCK_FD, &payload, &job, &err) < 0)
		goto fail;
	env = env_with_ours(job.env);
	if (!env) {
		strbuf_addstr(&err, "out of memory");
		goto fail;
	}
	if (chdir(job.cwd) < 0) {
		strbuf_addf(&err, "cannot enter %s: %s", job.cwd, strerror(errno));
		goto fail;
	}
	/* nothing of ours goes to the job: not the socket, not our binary */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		int fd;

		for (fd = 3; fd < 4096; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	execve(job.argv[0], job.argv, env);
	strbuf_addf(&err, "cannot run %s: %s", job.argv[0], strerror(errno));
fail:
	sandbox_init_fail(&err);
	free(env);
	sandbox_job_release(&job);
	free(payload);
	strbuf_release(&err);
	return 127;
}

/* Whether rel (no leading '/') is an executable regular file in root,
 * resolving every link inside root. */
static int exec_in_root(int rootfd, const char *rel)
{
	struct open_how how;
	struct stat st;
	long fd;
	int ok;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	if (fd < 0)
		return 0;
	ok = !fstat((int)fd, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111);
	close((int)fd);
	return ok;
}

const char *sandbox_shell(const char *root, struct strbuf *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *sh = NULL;

	if (fd < 0) {
		strbuf_addf(err, "image root %s: %s", root, strerror(errno));
		return NULL;
	}
	if (exec_in_root(fd, "bin/bash"))
		sh = "/bin/bash";
	else if (exec_in_root(fd, "bin/sh"))
		sh = "/bin/sh";
	else
		strbuf_addf(err, "image root %s has no shell (neither /bin/bash "
			    "nor /bin/sh)", root);
	close(fd);
	return sh;
}

char *sandbox_which(const char *root, const char *name, const char *path,
		    struct strbuf *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char *found = NULL;

	if (fd < 0) {
		strbuf_addf(err, "image root %s: %s", root, strerror(errno));
		return NULL;
	}
	if (strchr(name, '/')) {
		char *abs = name[0] == '/' ? xstrdup(name) : xasprintf("/%s", name);

		if (exec_in_root(fd, abs + 1))
			found = abs;
		else
			free(abs);
	} else {
		const char *p = path ? path : "";

		while (!found && *p) {
			size_t n = strcspn(p, ":");

			if (n && p[0] == '/') {
				char *cand = xasprintf("%.*s/%s", (int)n, p, name);

				if (exec_in_root(fd, cand + 1))
					found = cand;
				else
					free(cand);
			}
			p += n;
			if (*p == ':')
				p++;
		}
	}
	close(fd);
	if (!found)
		strbuf_addf(err, "%s is not an executable file in the image%s%s",
			    name, strchr(name, '/') ? "" : " (PATH=",
			    strchr(name, '/') ? "" : path ? path : "");
	if (!found && !strchr(name, '/'))
		strbuf_addch(err, ')');
	return found;
}

/*
 * Whether bwrap can run here, found once per process (the answer does
 * not change under a running cidre): bwrap_path is the binary, bwrap_err
 * the reason it cannot run.
 */
static struct {
	char *path;
	struct strbuf err;
} probe;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

/* can_unshare()'s child: made, it is the answer; it ends at once */
static int unshare_child(void *arg)
{
	syscall(SYS_exit_group, 0);
	return 0;
}

/*
 * Whether this process can make a user and a pid namespace itself: a
 * child made with both that exits at once (~0.2 ms, against 3-9 ms for
 * starting bwrap). An unprivileged bwrap makes its namespaces with our
 * privileges, so when we can, it can. Only whether the child was made
 * counts: another thread of ours may reap it before we do.
 */
static int can_unshare(void)
{
	/*
	 * Sharing our memory (vfork-like): no copy of the page tables, whose
	 * lock a copy would hold while the run's other threads start git.
	 */
	char stack[4096] __attribute__((aligned(16)));
	pid_t pid = clone(unshare_child, stack + sizeof(stack),
			  CLONE_VM | CLONE_VFORK | CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD,
			  NULL);

	if (pid < 0)
		return 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 1;
}

/*
 * Whether bwrap can make the namespaces a job needs, asked the cheapest
 * way. First the binary: $CIDRE_BWRAP or bwrap in PATH, executable.
 * When it is not set-uid and this process can make the namespaces
 * itself (can_unshare), that is the answer. Otherwise (a set-uid bwrap,
 * or user namespaces only for programs a security module allows, as
 * Ubuntu's AppArmor does for bwrap) bwrap itself is asked: a user and a
 * pid namespace around a command that does not exist. Nothing is
 * mounted, no network namespace is made (its teardown is slow); bwrap
 * then fails at execvp, after the namespaces, and says so.
 */
static void probe_bwrap(void)
{
	const char *env = getenv("CIDRE_BWRAP");
	const char *cand = env && *env ? env : "bwrap";
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	const char *argv[] = { NULL, "--unshare-user", "--unshare-pid", "--",
			       "/nonexistent/cidre-probe", NULL };
	char *path = NULL;
	struct stat st;
	int status = -1;

	strbuf_init(&probe.err, 0);
	if (strchr(cand, '/')) {
		if (!access(cand, X_OK))
			path = xstrdup(cand);
	} else {
		const char *dirs = getenv("PATH");
		const char *p = dirs && *dirs ? dirs : "/usr/bin:/bin";

		while (*p && !path) {
			size_t n = strcspn(p, ":");
			char *full = xasprintf("%.*s/%s", (int)n, p, cand);

			if (n && full[0] == '/' && !access(full, X_OK))
				path = full;
			else
				free(full);
			p += n;
			p += *p == ':';
		}
	}
	if (!path) {
		strbuf_addf(&probe.err, "bubblewrap (%s) cannot run here: %s", cand,
			    strchr(cand, '/') ? strerror(errno) : "not found in PATH");
		return;
	}
	if (!stat(path, &st) && !(st.st_mode & S_ISUID) && can_unshare()) {
		probe.path = path;
		return;
	}
	argv[0] = path;
	if (proc_capture(argv, NULL, NULL, 4096, &out, &status, &err) < 0 ||
	    !strstr(err.buf, "cidre-probe")) {
		strbuf_rtrim(&err);
		strbuf_addf(&probe.err, "bubblewrap (%s) cannot run here: %s",
			    cand, err.len ? err.buf : "it failed");
		free(path);
	} else {
		probe.path = path;
	}
	strbuf_release(&out);
	strbuf_release(&err);
}

const char *sandbox_bwrap(struct strbuf *err)
{
	pthread_once(&probe_once, probe_bwrap);
	if (!probe.path)
		strbuf_addstr(err, probe.err.buf);
	return probe.path;
}

int sandbox_check_member(const char *path, struct strbuf *err)
{
	const char *p = path;

	if (!*path) {
		strbuf_addstr(err, "an empty member name");
		return -1;
	}
	if (*path == '/') {
		strbuf_addf(err, "member \"%s\" has an absolute path", path);
		return -1;
	}
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			strbuf_addf(err, "member \"%s\" has a \"..\" component", path);
			return -1;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

int sandbox_check_symlink(const char *path, const char *target,
			  struct strbuf *err)
{
	const char *p;
	long depth = 0;

	if (sandbox_check_member(path, err) < 0)
		return -1;
	if (!*target) {
		strbuf_addf(err, "symbolic link \"%s\" has an empty target", path);
		return -1;
	}
	if (*target == '/')
		return 0; /* resolved inside the image's root */
	/* the link's own directory: one level per component before the last */
	for (p = path; *p; ) {
		size_t n = strcspn(p, "/");
		const char *next = p + n;

		while (*next == '/')
			next++;
		if (*next && !(n == 1 && p[0] == '.'))
			depth++; /* a directory above the link */
		p = next;
	}
	for (p = target; *p; ) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0) {
				strbuf_addf(err, "symbolic link \"%s\" -> \"%s\" points "
					    "outside the image", path, target);
				return -1;
			}
		} else if (n && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}
