/*
 * The sandbox executor's bubblewrap command line. See sandbox.h and
 * docs/internals/sandbox.md.
 */
#include "exec/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

int sandbox_argv(const struct sandbox_opts *o, struct strvec *argv,
		 struct strbuf *err)
{
	struct strvec names = STRVEC_INIT;
	char *top = NULL;
	const char *slash;
	DIR *d;
	struct dirent *de;
	size_t i;
	int dfd, ret = -1;

	if (!o->root || o->root[0] != '/' || !o->project_dir ||
	    o->project_dir[0] != '/' || !o->project_dir[1]) {
		strbuf_addstr(err, "the image root and the project dir must be "
			      "absolute paths");
		return -1;
	}
	d = opendir(o->root);
	if (!d) {
		strbuf_addf(err, "cannot read image root %s: %s", o->root,
			    strerror(errno));
		return -1;
	}
	dfd = dirfd(d);
	slash = strchr(o->project_dir + 1, '/');
	top = slash ? xstrndup(o->project_dir + 1, slash - (o->project_dir + 1))
		    : xstrdup(o->project_dir + 1);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    provided(de->d_name, top))
			continue;
		if (!strcmp(o->root, "/")) {
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
			strvec_push(argv, "--symlink");
			strvec_push(argv, target);
			strvec_pushf(argv, "/%s", n);
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			strvec_push(argv, "--ro-bind");
			strvec_pushf(argv, "%s%s%s", o->root,
				     strcmp(o->root, "/") ? "/" : "", n);
			strvec_pushf(argv, "/%s", n);
		}
		/* devices, fifos, sockets at the top: left out */
	}
	if (!strcmp(o->root, "/")) {
		for (i = 0; i < sizeof(host_masked) / sizeof(*host_masked); i++) {
			struct stat st;

			if (lstat(host_masked[i], &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode)) {
				strvec_push(argv, "--tmpfs");
				strvec_push(argv, host_masked[i]);
			} else if (S_ISREG(st.st_mode)) {
				strvec_push(argv, "--ro-bind");
				strvec_push(argv, "/dev/null");
				strvec_push(argv, host_masked[i]);
			}
		}
	}
	strvec_push(argv, "--dev");
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
	closedir(d);
	free(top);
	strvec_clear(&names);
	return ret;
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

/*
 * Whether bwrap can make the namespaces a job needs, asked the cheapest
 * way: a user and a pid namespace around a command that does not exist.
 * Nothing is mounted, no network namespace is made (its teardown is
 * slow); bwrap then fails at execvp, after the namespaces, and says so.
 */
static void probe_bwrap(void)
{
	const char *env = getenv("CIDRE_BWRAP");
	const char *cand = env && *env ? env : "bwrap";
	const char *argv[] = { cand, "--unshare-user", "--unshare-pid", "--",
			       "/nonexistent/cidre-probe", NULL };
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int status = -1;

	strbuf_init(&probe.err, 0);
	if (proc_capture(argv, NULL, NULL, 4096, &out, &status, &err) < 0 ||
	    !strstr(err.buf, "cidre-probe")) {
		strbuf_rtrim(&err);
		strbuf_addf(&probe.err, "bubblewrap (%s) cannot run here: %s",
			    cand, err.len ? err.buf : "it failed");
	} else if (cand[0] == '/') {
		probe.path = xstrdup(cand);
	} else {
		const char *path = getenv("PATH");
		const char *p = path && *path ? path : "/usr/bin:/bin";

		while (*p && !probe.path) {
			size_t n = strcspn(p, ":");
			char *full = xasprintf("%.*s/%s", (int)n, p, cand);

			if (!access(full, X_OK))
				probe.path = full;
			else
				free(full);
			p += n;
			p += *p == ':';
		}
		if (!probe.path)
			strbuf_addf(&probe.err, "%s not found in PATH", cand);
	}
	strbuf_release(&out);
	strbuf_release(&err);
}

static void *probe_thread(void *arg)
{
	pthread_once(&probe_once, probe_bwrap);
	return arg;
}

void sandbox_probe_start(void)
{
	pthread_t t;
	pthread_attr_t a;

	if (pthread_attr_init(&a))
		return;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, probe_thread, NULL))
		errno = 0; /* sandbox_bwrap() will probe in its caller's thread */
	pthread_attr_destroy(&a);
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
