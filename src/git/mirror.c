/*
 * Bare mirrors and checkouts from them, with the git command line.
 */
#include "git/mirror.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/cas.h"
#include "exec/proc.h"
#include "git/wtstat.h"
#include "util/xalloc.h"

#define MIRROR_OUT_MAX (16 * 1024 * 1024)
#define MIRROR_LIST_MAX (256 * 1024 * 1024)
/* An index smaller than this (some hundreds of files) is rewritten whole. */
#define MIRROR_SMALL_INDEX (64 * 1024)

static const char zero_sha[] = "0000000000000000000000000000000000000000";

int mirror_is_sha(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[40] == '\0';
}

/* Run git; 0 when it exited 0, else -1 with what it said in err. */
/*
 * Run git, its stdout into out (at most max bytes; 0: MIRROR_OUT_MAX),
 * stopped when cancel_fd (NULL: never) becomes readable. 0 when it ran
 * and succeeded; else -1 with "git VERB failed: its stderr" in err.
 */
static int git_stoppable(const char *const *argv, const char *cwd, size_t max,
			 struct strbuf *out, const int *cancel_fd, struct strbuf *err)
{
	struct proc_capture pc;
	struct strbuf e = STRBUF_INIT;
	int ret = -1;

	proc_capture_init(&pc);
	pc.argv = argv;
	pc.cwd = cwd;
	pc.env = proc_git_env;
	pc.max_out = max ? max : MIRROR_OUT_MAX;
	pc.cancel_fd = cancel_fd;
	if (proc_capture_all(&pc, 1, &e) < 0) {
		if (err)
			strbuf_add(err, e.buf, e.len);
	} else if (pc.status) {
		if (err) {
			strbuf_addf(err, "git %s failed", argv[1]);
			strbuf_rtrim(&pc.errout);
			if (pc.errout.len)
				strbuf_addf(err, ": %s", pc.errout.buf);
		}
	} else {
		if (out && !out->len) {
			struct strbuf t = *out;	/* no copy of a large listing */

			*out = pc.out;
			pc.out = t;
		} else if (out) {
			strbuf_add(out, pc.out.buf, pc.out.len);
		}
		ret = 0;
	}
	proc_capture_release(&pc);
	strbuf_release(&e);
	return ret;
}

static int git(const char *const *argv, const char *cwd, size_t max,
	       struct strbuf *out, struct strbuf *err)
{
	return git_stoppable(argv, cwd, max, out, NULL, err);
}

/* mirror_create's command line but its last two words (URL and directory) */
static const char *const create_words[] = { "git", "clone", "--mirror", "--quiet", "--" };
#define CREATE_WORDS (sizeof(create_words) / sizeof(create_words[0]))

int mirror_create(const char *url, const char *dir, const int *cancel_fd, struct strbuf *err)
{
	const char *argv[CREATE_WORDS + 3];
	size_t i;

	for (i = 0; i < CREATE_WORDS; i++)
		argv[i] = create_words[i];
	argv[i++] = url;
	argv[i++] = dir;
	argv[i] = NULL;
	return git_stoppable(argv, NULL, 0, NULL, cancel_fd, err);
}

int mirror_create_cmdline(const char *cmdline, size_t len, const char *dir)
{
	const char *p = cmdline, *end = cmdline + len;
	size_t i;

	if (!len || cmdline[len - 1])
		return 0;
	for (i = 0; i < CREATE_WORDS + 2; i++) {
		const char *w = i < CREATE_WORDS ? create_words[i] : i == CREATE_WORDS ? NULL : dir;

		if (p >= end || (w && strcmp(p, w)))
			return 0;
		p += strlen(p) + 1;
	}
	return p == end;
}

int mirror_fetch(const char *dir, struct strbuf *err)
{
	const char *argv[] = { "git", "--git-dir", dir, "fetch", "--quiet", "--prune",
			       "origin", NULL };

	return git(argv, NULL, 0, NULL, err);
}

int mirror_has_commit(const char *dir, const char *sha)
{
	char spec[64];
	const char *argv[] = { "git", "--git-dir", dir, "cat-file", "-e", spec, NULL };

	if (!mirror_is_sha(sha))
		return 0;
	snprintf(spec, sizeof(spec), "%s^{commit}", sha);
	return git(argv, NULL, 0, NULL, NULL) == 0;
}

int mirror_resolve(const char *dir, const char *ref, char *ret, struct strbuf *err)
{
	struct strbuf out = STRBUF_INIT, spec = STRBUF_INIT;
	const char *argv[] = { "git", "--git-dir", dir, "rev-parse", "--verify", "--quiet",
			       NULL, NULL };
	int rc = -1;

	if (!*ref || *ref == '-' || strlen(ref) > 1024) {
		strbuf_addf(err, "invalid ref \"%s\"", ref);
		return -1;
	}
	strbuf_addf(&spec, "%s^{commit}", ref);
	argv[6] = spec.buf;
	if (git(argv, NULL, 4096, &out, NULL) < 0) {
		strbuf_addf(err, "no commit named \"%s\" in the repository", ref);
		goto done;
	}
	strbuf_rtrim(&out);
	if (!mirror_is_sha(out.buf)) {
		strbuf_addf(err, "git rev-parse %s: unexpected output", ref);
		goto done;
	}
	memcpy(ret, out.buf, 41);
	rc = 0;
done:
	strbuf_release(&out);
	strbuf_release(&spec);
	return rc;
}

int mirror_read_file(const char *dir, const char *sha, const char *path, size_t max,
		     struct strbuf *out, struct strbuf *err)
{
	struct strbuf spec = STRBUF_INIT, size = STRBUF_INIT;
	const char *sargv[] = { "git", "--git-dir", dir, "cat-file", "-s", NULL, NULL };
	const char *argv[] = { "git", "--git-dir", dir, "cat-file", "blob", NULL, NULL };
	char *end;
	unsigned long long n;
	int rc = -1;

	if (!mirror_is_sha(sha) || !*path || *path == '/' || strlen(path) > 4096) {
		strbuf_addf(err, "invalid file \"%s\"", path);
		return -1;
	}
	strbuf_addf(&spec, "%s:%s", sha, path);
	sargv[5] = argv[5] = spec.buf;
	if (git(sargv, NULL, 64, &size, NULL) < 0) {
		strbuf_addf(err, "no file %s at commit %.8s", path, sha);
		goto done;
	}
	n = strtoull(size.buf, &end, 10);
	if (end == size.buf || n > max) {
		strbuf_addf(err, "%s is too large (more than %zu bytes)", path, max);
		goto done;
	}
	if (git(argv, NULL, max + 1, out, err) < 0) {
		if (!err->len)
			strbuf_addf(err, "%s is not a file at commit %.8s", path, sha);
		goto done;
	}
	rc = 0;
done:
	strbuf_release(&spec);
	strbuf_release(&size);
	return rc;
}

int mirror_branches(const char *dir, struct strvec *out, struct strbuf *err)
{
	return mirror_refs(dir, "refs/heads/", out, err);
}

int mirror_refs(const char *dir, const char *prefix, struct strvec *out, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *argv[] = { "git", "--git-dir", dir, "for-each-ref",
			       "--format=%(objectname) %(refname:lstrip=2)", prefix, NULL };
	char *line, *save = NULL;

	if (git(argv, NULL, MIRROR_LIST_MAX, &sb, err) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	for (line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) < 42 || line[40] != ' ')
			continue;
		line[40] = '\0';
		strvec_push(out, line + 41);
		strvec_push(out, line);
	}
	strbuf_release(&sb);
	return 0;
}

char *mirror_tag_message(const char *dir, const char *name)
{
	return git_tag_message(dir, NULL, name);
}

char *git_tag_message(const char *gitdir, const char *cwd, const char *name)
{
	struct strbuf out = STRBUF_INIT, ref = STRBUF_INIT;
	const char *argv[] = { "git", "--git-dir", gitdir, "for-each-ref", "--count=1",
			       "--format=%(objecttype)%00%(contents:subject)%00%(contents:body)",
			       NULL, NULL };
	const char *const *av = argv;
	char *ret = NULL;

	if (!*name || *name == '-' || strlen(name) > 1024 || strpbrk(name, "*?[\\"))
		return NULL;        /* not a ref name: for-each-ref would glob it */
	strbuf_addf(&ref, "refs/tags/%s", name);
	argv[6] = ref.buf;
	if (!gitdir) {
		/* the repository cwd is in: "git for-each-ref ..." */
		argv[2] = "git";
		av = argv + 2;
	}
	if (git(av, cwd, MIRROR_OUT_MAX, &out, NULL) == 0 && out.len) {
		const char *type = out.buf, *subject, *body;

		subject = memchr(out.buf, '\0', out.len);
		body = subject ? memchr(subject + 1, '\0', out.len - (size_t)(subject + 1 - out.buf)) : NULL;
		if (!subject || !body) {
			ret = NULL;
		} else if (strcmp(type, "tag")) {
			ret = xstrdup("");
		} else {
			struct strbuf m = STRBUF_INIT;

			strbuf_addstr(&m, subject + 1);
			strbuf_rtrim(&m);
			strbuf_add(&m, "\n\n", 2);
			strbuf_add(&m, body + 1, out.len - (size_t)(body + 1 - out.buf));
			strbuf_rtrim(&m);
			ret = strbuf_detach(&m, NULL);
		}
	}
	strbuf_release(&out);
	strbuf_release(&ref);
	return ret;
}

int mirror_commit(const char *dir, const char *sha, struct gitinfo *gi,
		  struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *argv[] = { "git", "--git-dir", dir, "log", "-1", "-z", "--no-show-signature",
			       "--format=%H%x00%P%x00%an <%ae>%x00%cI%x00%B", sha, "--", NULL };
	const char *f[5];
	size_t i, pos = 0;
	int ret = -1;

	if (!*sha || *sha == '-' || strlen(sha) > 1024) {
		strbuf_addf(err, "invalid revision \"%s\"", sha);
		return -1;
	}
	if (git(argv, NULL, MIRROR_OUT_MAX, &sb, NULL) < 0) {
		strbuf_addf(err, "no commit %s in the repository", sha);
		goto done;
	}
	for (i = 0; i < 5; i++) {
		if (pos >= sb.len) {
			strbuf_addstr(err, "git log: unexpected output");
			goto done;
		}
		f[i] = sb.buf + pos;
		pos += strlen(f[i]) + 1;
	}
	memset(gi, 0, sizeof(*gi));
	gi->is_repo = 1;
	gi->toplevel = xstrdup(dir);
	gi->sha = xstrdup(f[0]);
	gi->before_sha = strlen(f[1]) >= 40 ? xstrndup(f[1], 40) : xstrdup(zero_sha);
	gi->author = xstrdup(f[2]);
	gi->timestamp = xstrdup(f[3]);
	gi->message = xstrdup(f[4]);
	{
		size_t n = strlen(gi->message);

		while (n && gi->message[n - 1] == '\n')
			gi->message[--n] = '\0';
	}
	ret = 0;
done:
	strbuf_release(&sb);
	return ret;
}

/* Run git; its NUL-separated names (at most MIRROR_LIST_MAX bytes) appended to out. */
static int git_names(const char *const *argv, struct strvec *out, struct strbuf *err)
{
	struct strbuf sb = STRBUF_INIT;
	size_t pos = 0;

	if (git(argv, NULL, MIRROR_LIST_MAX, &sb, err) < 0) {
		strbuf_release(&sb);
		return -1;
	}
	while (pos < sb.len) {
		const char *p = sb.buf + pos;

		strvec_push(out, p);
		pos += strlen(p) + 1;
	}
	strbuf_release(&sb);
	return 0;
}

int mirror_changed(const char *dir, const char *before, const char *sha,
		   struct strvec *out, struct strbuf *err)
{
	const char *argv[] = { "git", "--git-dir", dir, "diff", "--name-only", "-z",
			       "--no-renames", before, sha, "--", NULL };

	if (!before || !mirror_is_sha(before) || !strcmp(before, zero_sha) ||
	    !mirror_has_commit(dir, before))
		return 1;
	return git_names(argv, out, err);
}

int mirror_changed_since(const char *dir, const char *ref, const char *sha,
			 struct strvec *out, struct strbuf *err)
{
	const char *base_argv[] = { "git", "--git-dir", dir, "merge-base", NULL, sha, NULL };
	const char *diff_argv[] = { "git", "--git-dir", dir, "diff", "--name-only", "-z",
				    "--no-renames", NULL, sha, "--", NULL };
	struct strbuf base = STRBUF_INIT;
	char commit[41];
	int rc = -1;

	if (!mirror_is_sha(sha)) {
		strbuf_addf(err, "not a commit: %s", sha ? sha : "(none)");
		return -1;
	}
	if (mirror_resolve(dir, ref, commit, err) < 0)
		return -1;
	base_argv[4] = commit;
	if (git(base_argv, NULL, 4096, &base, NULL) < 0) {
		/* no common history: everything of sha is new to it */
		rc = mirror_tree_files(dir, sha, out, err);
		goto done;
	}
	strbuf_rtrim(&base);
	if (!mirror_is_sha(base.buf)) {
		strbuf_addf(err, "git merge-base %s: unexpected output", ref);
		goto done;
	}
	diff_argv[7] = base.buf;
	rc = git_names(diff_argv, out, err);
done:
	strbuf_release(&base);
	return rc;
}

int mirror_tree_files(const char *dir, const char *sha, struct strvec *out,
		      struct strbuf *err)
{
	const char *argv[] = { "git", "--git-dir", dir, "ls-tree", "-r", "-z", "--name-only",
			       sha, NULL };

	if (!mirror_is_sha(sha)) {
		strbuf_addf(err, "not a commit: %s", sha ? sha : "(none)");
		return -1;
	}
	return git_names(argv, out, err);
}

static int write_file(const char *path, const char *text, struct strbuf *err)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return 0;
}

static int make_dir(const char *path, struct strbuf *err)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		strbuf_addf(err, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove everything in dir but its .git. */
static int empty_but_git(const char *dir, struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		strbuf_addf(err, "cannot read %s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".git"))
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", dir, de->d_name);
		rc = cas_rmtree(p.buf, err);
	}
	closedir(d);
	strbuf_release(&p);
	return rc;
}

/*
 * A repository at dest whose objects are the mirror's (alternates), made
 * by hand: what `git clone --shared --no-checkout` makes, without its
 * three processes.
 */
static int init_shared(const char *dir, const char *dest, struct strbuf *err)
{
	static const char *const subs[] = { "", "/.git", "/.git/objects", "/.git/objects/info",
					    "/.git/refs", "/.git/refs/heads", "/.git/refs/tags" };
	struct strbuf p = STRBUF_INIT, t = STRBUF_INIT;
	size_t i;
	int rc = -1;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s%s", dest, subs[i]);
		if (make_dir(p.buf, err) < 0)
			goto done;
	}
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/.git/objects/info/alternates", dest);
	if (dir[0] == '/') {
		strbuf_addf(&t, "%s/objects\n", dir);
	} else {
		char *cwd = getcwd(NULL, 0);

		strbuf_addf(&t, "%s/%s/objects\n", cwd ? cwd : ".", dir);
		free(cwd);
	}
	if (write_file(p.buf, t.buf, err) < 0)
		goto done;
	strbuf_reset(&p);
	strbuf_reset(&t);
	strbuf_addf(&p, "%s/.git/config", dest);
	strbuf_addf(&t, "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
		    "\tbare = false\n\tlogallrefupdates = false\n"
		    "[remote \"origin\"]\n\turl = %s\n", dir);
	if (write_file(p.buf, t.buf, err) < 0)
		goto done;
	rc = 0;
done:
	strbuf_release(&p);
	strbuf_release(&t);
	return rc;
}

/* Whether branch exists in the (bare) repository dir: loose or packed. */
static int has_branch(const char *dir, const char *branch)
{
	struct strbuf p = STRBUF_INIT, packed = STRBUF_INIT, want = STRBUF_INIT;
	struct stat st;
	int found;

	strbuf_addf(&p, "%s/refs/heads/%s", dir, branch);
	found = stat(p.buf, &st) == 0 && S_ISREG(st.st_mode);
	if (!found) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/packed-refs", dir);
		strbuf_addf(&want, " refs/heads/%s\n", branch);
		if (strbuf_read_file(&packed, p.buf, 64u << 20) == 0)
			found = strstr(packed.buf, want.buf) != NULL;
	}
	strbuf_release(&p);
	strbuf_release(&packed);
	strbuf_release(&want);
	return found;
}

char *mirror_head_branch(const char *dir)
{
	static const char *const usual[] = { "main", "master" };
	struct strbuf sb = STRBUF_INIT, p = STRBUF_INIT;
	char *r = NULL;
	size_t i;

	strbuf_addf(&p, "%s/HEAD", dir);
	if (strbuf_read_file(&sb, p.buf, 4096) == 0) {
		strbuf_rtrim(&sb);
		if (!strncmp(sb.buf, "ref: refs/heads/", 16) && sb.buf[16] &&
		    has_branch(dir, sb.buf + 16))
			r = xstrdup(sb.buf + 16);
	}
	/* HEAD names a branch that was never pushed: the usual names */
	for (i = 0; !r && i < sizeof(usual) / sizeof(usual[0]); i++)
		if (has_branch(dir, usual[i]))
			r = xstrdup(usual[i]);
	strbuf_release(&sb);
	strbuf_release(&p);
	return r ? r : xstrdup("main");
}

/* The local branch at sha, for tools that ask (when branch is a plain name). */
static int set_branch(const char *dest, const char *sha, const char *branch,
		      struct strbuf *err)
{
	struct strbuf p = STRBUF_INIT, t = STRBUF_INIT;
	int rc = 0;

	if (branch && *branch && *branch != '-' && !strstr(branch, "..") &&
	    strlen(branch) < 256 && !strchr(branch, '/')) {
		struct strbuf cur = STRBUF_INIT;

		strbuf_addf(&p, "%s/.git/refs/heads/%s", dest, branch);
		strbuf_addf(&t, "%s\n", sha);
		/* a reused workspace usually says so already: no write (a block per job) */
		if (strbuf_read_file(&cur, p.buf, 128) < 0 || strcmp(cur.buf, t.buf))
			rc = write_file(p.buf, t.buf, err);
		strbuf_release(&cur);
	}
	strbuf_release(&p);
	strbuf_release(&t);
	return rc;
}

int mirror_checkout(const char *dir, const char *sha, const char *branch,
		    const char *dest, int clean, struct strbuf *err)
{
	const char *clean_argv[] = { "git", "clean", "-ffdxq", NULL };
	const char *rt[] = { "git", "read-tree", "--reset", "-u", sha, NULL };
	struct strbuf p = STRBUF_INIT, t = STRBUF_INIT;
	struct stat st;
	int rc = -1, fresh;

	if (!mirror_is_sha(sha)) {
		strbuf_addf(err, "not a commit id: %s", sha);
		return -1;
	}
	strbuf_addf(&p, "%s/.git/objects/info/alternates", dest);
	fresh = stat(p.buf, &st) < 0;
	if (!fresh && !clean) {
		/* a tree nobody writes to: nothing to do when it is at sha */
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/.git/HEAD", dest);
		if (strbuf_read_file(&t, p.buf, 4096) == 0 && t.len >= 40 &&
		    !strncmp(t.buf, sha, 40)) {
			rc = 0;
			goto done;
		}
		strbuf_reset(&t);
	}
	if (!fresh && clean) {
		/* a job that left the tree as it found it: nothing to do */
		if (wtstat_clean(dest, sha)) {
			rc = set_branch(dest, sha, branch, err);
			goto done;
		}
		wtstat_unmark(dest);
	}
	if (fresh && init_shared(dir, dest, err) < 0)
		goto done;
	/* HEAD detached at the commit, and the branch at it for tools that ask */
	strbuf_reset(&p);
	strbuf_addf(&p, "%s/.git/HEAD", dest);
	strbuf_addf(&t, "%s\n", sha);
	if (write_file(p.buf, t.buf, err) < 0)
		goto done;
	if (set_branch(dest, sha, branch, err) < 0)
		goto done;
	/*
	 * A reused tree: what the last job left goes first. A small one is
	 * emptied here and written again whole by read-tree (one process
	 * instead of two); a large one is cleaned by git, which leaves the
	 * unchanged files alone.
	 */
	if (!fresh && clean) {
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/.git/index", dest);
		if (stat(p.buf, &st) == 0 && st.st_size < MIRROR_SMALL_INDEX) {
			/* and its index: read-tree then reads none, even a damaged one */
			if (empty_but_git(dest, err) < 0 || (unlink(p.buf) < 0 && errno != ENOENT))
				goto done;
		} else if (git(clean_argv, dest, 0, NULL, err) < 0) {
			goto done;
		}
	}
	if (git(rt, dest, 0, NULL, err) < 0)
		goto done;
	/* without a marker the next job only pays a read-tree */
	if (clean && wtstat_mark(dest, sha) < 0) {
		/* nothing to do */
	}
	rc = 0;
done:
	strbuf_release(&p);
	strbuf_release(&t);
	return rc;
}
