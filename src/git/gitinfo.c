/*
 * The working tree's repository, read with the git command line: a few
 * `git` processes started together (see docs/internals/git.md for why not
 * libgit2). Only exec/ starts processes: this file builds the command
 * lines and parses what comes back.
 */
#include "git/gitinfo.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/proc.h"
#include "git/mirror.h"
#include "util/xalloc.h"

/* Output caps (bytes) for the git commands below. */
#define GITINFO_REFS_MAX (64 * 1024)          /* rev-parse: a path, refs */
#define GITINFO_COMMIT_MAX (16 * 1024 * 1024) /* log -1: the message */
#define GITINFO_CONFIG_MAX (1024 * 1024)      /* a few config values */
#define GITINFO_LIST_MAX (256 * 1024 * 1024)  /* file lists */

static const char zero_sha[] = "0000000000000000000000000000000000000000";

/*
 * Toplevel, bareness, what names origin/HEAD, whether main and master
 * exist, and HEAD's full name, one per line in that order; the globs
 * print nothing when nothing matches (a bracket makes them exact). On an
 * unborn branch it fails at the final HEAD.
 */
static const char *const revparse_argv[] = {
	"git", "rev-parse", "--is-bare-repository", "--show-toplevel",
	"--symbolic-full-name", "--glob=refs/remotes/origin/HEA[D]",
	"--glob=refs/heads/mai[n]", "--glob=refs/heads/maste[r]", "HEAD", NULL
};

/* HEAD's commit: sha, parents, author, committer time, tags, message. */
static const char *const log_argv[] = {
	"git", "log", "-1", "-z", "--no-show-signature",
	"--decorate-refs=refs/tags/",
	"--format=%H%x00%P%x00%an <%ae>%x00%ct%x00%D%x00%B", "HEAD", "--", NULL
};

/* Keys come back lower-cased but for the subsection (origin, the URL). */
static const char *const config_argv[] = {
	"git", "config", "-z", "--get-regexp",
	"^(init\\.defaultbranch|remote\\.origin\\.url|url\\..*\\.insteadof)$",
	NULL
};

static const char *const symref_argv[] = {
	"git", "symbolic-ref", "-q", "HEAD", NULL
};

static void set_unborn(struct gitinfo *gi)
{
	free(gi->sha);
	free(gi->before_sha);
	free(gi->message);
	free(gi->author);
	free(gi->timestamp);
	gi->sha = xstrdup(zero_sha);
	gi->before_sha = xstrdup(zero_sha);
	gi->message = xstrdup("");
	gi->author = xstrdup("");
	gi->timestamp = xstrdup("");
}

/* Next '\n'-terminated line of buf at *pos (NUL-terminated in place). */
static char *next_line(struct strbuf *sb, size_t *pos)
{
	char *s, *nl;

	if (*pos >= sb->len)
		return NULL;
	s = sb->buf + *pos;
	nl = memchr(s, '\n', sb->len - *pos);
	if (nl) {
		*nl = '\0';
		*pos = (size_t)(nl - sb->buf) + 1;
	} else {
		*pos = sb->len;
	}
	return s;
}

/* Next NUL-terminated field of buf at *pos; "" past the end. */
static char *next_field(struct strbuf *sb, size_t *pos)
{
	char *s;

	if (*pos >= sb->len)
		return sb->buf + sb->len;
	s = sb->buf + *pos;
	*pos += strlen(s) + 1;
	return s;
}

struct refs_seen {
	char *origin_head;         /* branch origin/HEAD names, or NULL */
	int has_main, has_master;
};

/*
 * rev-parse's lines after the toplevel: the refs the globs matched, then
 * (when it succeeded) HEAD's full name, which sets gi->branch.
 */
static void parse_refs(struct strbuf *sb, size_t pos, int head_ok,
		       struct gitinfo *gi, struct refs_seen *rs)
{
	struct strvec lines = STRVEC_INIT;
	const char *s;
	size_t i, nr;
	char *l;

	while ((l = next_line(sb, &pos)))
		strvec_push(&lines, l);
	nr = lines.nr;
	if (head_ok && nr) {
		s = lines.v[--nr];
		if (!strncmp(s, "refs/heads/", 11) && s[11])
			gi->branch = xstrdup(s + 11);
	}
	for (i = 0; i < nr; i++) {
		s = lines.v[i];
		if (!strncmp(s, "refs/remotes/origin/", 20) && s[20] &&
		    strcmp(s + 20, "HEAD") && !rs->origin_head)
			rs->origin_head = xstrdup(s + 20);
		else if (!strcmp(s, "refs/heads/main"))
			rs->has_main = 1;
		else if (!strcmp(s, "refs/heads/master"))
			rs->has_master = 1;
	}
	strvec_clear(&lines);
}

/* The alphabetically first "tag: NAME" of a %D decoration list. */
static char *first_tag(const char *deco)
{
	const char *p = deco, *end;
	char *best = NULL;

	while (*p) {
		end = strstr(p, ", ");
		if (!end)
			end = p + strlen(p);
		if (!strncmp(p, "tag: ", 5) && end > p + 5) {
			char *t = xstrndup(p + 5, (size_t)(end - p - 5));

			if (!best || strcmp(t, best) < 0) {
				free(best);
				best = t;
			} else {
				free(t);
			}
		}
		p = *end ? end + 2 : end;
	}
	return best;
}

static void parse_commit(struct strbuf *sb, struct gitinfo *gi)
{
	const char *sha, *parents, *author, *when, *deco, *msg;
	char buf[64];
	struct tm tm;
	time_t t;
	size_t pos = 0;

	sha = next_field(sb, &pos);
	parents = next_field(sb, &pos);
	author = next_field(sb, &pos);
	when = next_field(sb, &pos);
	deco = next_field(sb, &pos);
	msg = next_field(sb, &pos);
	if (strlen(sha) < 40) {
		set_unborn(gi);
		return;
	}
	gi->sha = xstrdup(sha);
	gi->before_sha = strlen(parents) >= 40 ?
			 xstrndup(parents, strcspn(parents, " ")) :
			 xstrdup(zero_sha);
	if (!gi->branch)
		gi->tag = first_tag(deco);
	gi->message = xstrdup(msg);
	gi->author = xstrdup(author);
	t = (time_t)strtoll(when, NULL, 10);
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gi->timestamp = xstrdup(buf);
}

/*
 * url with the longest matching url.<base>.insteadOf prefix replaced by
 * its base, as git and libgit2 do for a remote's URL.
 */
static char *rewrite_url(const char *url, const struct strvec *bases,
			 const struct strvec *prefixes)
{
	size_t i, best = 0, blen = 0;

	for (i = 0; i < prefixes->nr; i++) {
		size_t l = strlen(prefixes->v[i]);

		if (l > blen && !strncmp(url, prefixes->v[i], l)) {
			best = i;
			blen = l;
		}
	}
	if (!blen)
		return xstrdup(url);
	return xasprintf("%s%s", bases->v[best], url + blen);
}

static void parse_config(struct strbuf *sb, struct gitinfo *gi,
			 char **ret_default)
{
	struct strvec bases = STRVEC_INIT, prefixes = STRVEC_INIT;
	char *url = NULL;
	size_t pos = 0;

	while (pos < sb->len) {
		char *key = next_field(sb, &pos), *val = strchr(key, '\n');
		size_t kl;

		if (!val)
			continue; /* a bare key: boolean true, no string */
		*val++ = '\0';
		kl = strlen(key);
		if (!strcmp(key, "init.defaultbranch")) {
			free(*ret_default);
			*ret_default = *val ? xstrdup(val) : NULL;
		} else if (!strcmp(key, "remote.origin.url")) {
			free(url);
			url = xstrdup(val);
		} else if (kl > 14 && !strncmp(key, "url.", 4) &&
			   !strcmp(key + kl - 10, ".insteadof") && *val) {
			strvec_push_nodup(&bases, xstrndup(key + 4, kl - 14));
			strvec_push(&prefixes, val);
		}
	}
	if (url) {
		gi->remote_url = rewrite_url(url, &bases, &prefixes);
		free(url);
	}
	strvec_clear(&bases);
	strvec_clear(&prefixes);
}

static void not_a_repo(struct gitinfo *gi, const char *abs)
{
	gi->is_repo = 0;
	gi->toplevel = xstrdup(abs);
	set_unborn(gi);
	gi->default_branch = xstrdup("main");
}

int gitinfo_read(const char *dir, struct gitinfo *gi, struct strbuf *err)
{
	struct proc_capture pc[3];
	struct refs_seen rs = { NULL, 0, 0 };
	char abs[PATH_MAX], *cfg_default = NULL, *l;
	size_t pos = 0, i;
	int ret = -1;

	memset(gi, 0, sizeof(*gi));
	if (!realpath(dir, abs)) {
		strbuf_addf(err, "%s: cannot resolve path", dir);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		proc_capture_init(&pc[i]);
		pc[i].cwd = abs;
		pc[i].env = proc_git_env;
	}
	pc[0].argv = revparse_argv;
	pc[0].max_out = GITINFO_REFS_MAX;
	pc[1].argv = log_argv;
	pc[1].max_out = GITINFO_COMMIT_MAX;
	pc[2].argv = config_argv;
	pc[2].max_out = GITINFO_CONFIG_MAX;
	if (proc_capture_all(pc, 3, err) < 0) {
		if (pc[0].status != -1)
			goto done;
		/* No git to run: nothing here can be a repository to us. */
		strbuf_reset(err);
		not_a_repo(gi, abs);
		ret = 0;
		goto done;
	}

	l = next_line(&pc[0].out, &pos);
	if (l && !strcmp(l, "true")) {
		strbuf_addf(err, "%s: bare repository has no working tree", abs);
		goto done;
	}
	l = next_line(&pc[0].out, &pos);
	if (!l || l[0] != '/') {
		/* Not in a repository (or one we may not use: as libgit2). */
		not_a_repo(gi, abs);
		ret = 0;
		goto done;
	}
	gi->is_repo = 1;
	gi->toplevel = xstrdup(l);
	parse_refs(&pc[0].out, pos, pc[0].status == 0, gi, &rs);
	if (pc[0].status == 0 && pc[1].status == 0) {
		parse_commit(&pc[1].out, gi);
		if (gi->tag)
			gi->tag_message = git_tag_message(NULL, abs, gi->tag);
	} else {
		/* An unborn branch: HEAD still names it. */
		set_unborn(gi);
		if (!gi->branch) {
			struct strbuf ref = STRBUF_INIT, why = STRBUF_INIT;
			int st;

			if (!proc_capture(symref_argv, abs, proc_git_env,
					  GITINFO_REFS_MAX, &ref, &st, &why) &&
			    !st && !strncmp(ref.buf, "refs/heads/", 11)) {
				strbuf_rtrim(&ref);
				gi->branch = xstrdup(ref.buf + 11);
			}
			strbuf_release(&ref);
			strbuf_release(&why);
		}
	}
	parse_config(&pc[2].out, gi, &cfg_default);
	gi->default_branch = rs.origin_head ? xstrdup(rs.origin_head) :
			     cfg_default ? xstrdup(cfg_default) :
			     rs.has_main ? xstrdup("main") :
			     rs.has_master ? xstrdup("master") : xstrdup("main");
	ret = 0;
done:
	for (i = 0; i < 3; i++)
		proc_capture_release(&pc[i]);
	free(rs.origin_head);
	free(cfg_default);
	if (ret < 0)
		gitinfo_release(gi);
	return ret;
}

void gitinfo_release(struct gitinfo *gi)
{
	free(gi->toplevel);
	free(gi->sha);
	free(gi->before_sha);
	free(gi->branch);
	free(gi->tag);
	free(gi->tag_message);
	free(gi->default_branch);
	free(gi->message);
	free(gi->author);
	free(gi->timestamp);
	free(gi->remote_url);
	memset(gi, 0, sizeof(*gi));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split NUL-terminated names into v. */
static void push_names(const struct strbuf *sb, struct strvec *v)
{
	size_t pos = 0;

	while (pos < sb->len) {
		const char *s = sb->buf + pos;

		pos += strlen(s) + 1;
		if (*s)
			strvec_push(v, s);
	}
}

/*
 * The NUL-separated names of a (a diff) and b (untracked files), sorted,
 * each once, appended to out; when out had names already (first), only
 * those it lacks.
 */
static void add_names(const struct strbuf *a, const struct strbuf *b, struct strvec *out,
		      size_t first)
{
	struct strvec names = STRVEC_INIT;
	size_t i;

	push_names(a, &names);
	push_names(b, &names);
	qsort(names.v, names.nr, sizeof(char *), cmp_str);
	for (i = 0; i < names.nr; i++) {
		if (i && !strcmp(names.v[i], names.v[i - 1]))
			continue; /* deleted from the index, yet on disk */
		if (first && strvec_find(out, names.v[i]) >= 0)
			continue;
		strvec_push(out, names.v[i]);
	}
	strvec_clear(&names);
}

int gitinfo_changed_files(const struct gitinfo *gi, struct strvec *out,
			  struct strbuf *err)
{
	const char *diff_argv[] = {
		"git", "diff", "--name-only", "-z", "--no-renames",
		"--no-ext-diff", "--no-relative", NULL, NULL, "--", NULL
	};
	static const char *const others_argv[] = {
		"git", "ls-files", "-z", "--others", "--exclude-standard", NULL
	};
	struct proc_capture pc[2];
	struct strbuf ref = STRBUF_INIT;
	size_t i, first = out->nr;
	int ret = 1, by_merge_base;

	if (!gi->is_repo || !strcmp(gi->sha, zero_sha))
		return 1;
	for (i = 0; i < 2; i++) {
		proc_capture_init(&pc[i]);
		pc[i].cwd = gi->toplevel;
		pc[i].env = proc_git_env;
		pc[i].max_out = GITINFO_LIST_MAX;
	}
	pc[0].argv = diff_argv;
	pc[1].argv = others_argv;
	/*
	 * Off the default branch: from the merge base with it, when it
	 * exists locally and there is one. Else (or failing that) the last
	 * push is HEAD's own change: from its parent.
	 */
	by_merge_base = gi->branch && strcmp(gi->branch, gi->default_branch);
	if (by_merge_base) {
		strbuf_addf(&ref, "refs/heads/%s", gi->default_branch);
		diff_argv[7] = "--merge-base";
		diff_argv[8] = ref.buf;
	} else if (strcmp(gi->before_sha, zero_sha)) {
		diff_argv[7] = gi->before_sha;
		diff_argv[8] = "--";
		diff_argv[9] = NULL;
	} else {
		goto done;
	}
	if (proc_capture_all(pc, 2, err) < 0) {
		ret = -1;
		goto done;
	}
	if (pc[0].status && by_merge_base && strcmp(gi->before_sha, zero_sha)) {
		/* no such branch, or no merge base */
		diff_argv[7] = gi->before_sha;
		diff_argv[8] = "--";
		diff_argv[9] = NULL;
		strbuf_reset(&pc[0].out);
		strbuf_reset(&pc[0].errout);
		if (proc_capture_all(pc, 1, err) < 0) {
			ret = -1;
			goto done;
		}
	}
	if (pc[0].status) {
		ret = 1;
		goto done;
	}
	if (pc[1].status) {
		strbuf_addf(err, "git ls-files: %s", pc[1].errout.buf);
		strbuf_rtrim(err);
		ret = -1;
		goto done;
	}
	add_names(&pc[0].out, &pc[1].out, out, first);
	ret = 0;
done:
	for (i = 0; i < 2; i++)
		proc_capture_release(&pc[i]);
	strbuf_release(&ref);
	return ret;
}

int gitinfo_changed_since(const struct gitinfo *gi, const char *ref, struct strvec *out,
			  struct strbuf *err)
{
	const char *verify_argv[] = {
		"git", "rev-parse", "--verify", "--quiet", NULL, NULL
	};
	const char *diff_argv[] = {
		"git", "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff",
		"--no-relative", "--merge-base", NULL, "--", NULL
	};
	static const char *const others_argv[] = {
		"git", "ls-files", "-z", "--others", "--exclude-standard", NULL
	};
	struct proc_capture pc[2];
	struct strbuf spec = STRBUF_INIT;
	size_t i;
	int ret = -1;

	if (!gi->is_repo) {
		strbuf_addstr(err, "not in a git repository");
		return -1;
	}
	if (!*ref || *ref == '-' || strlen(ref) > 1024) {
		strbuf_addf(err, "invalid ref \"%s\"", ref);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		proc_capture_init(&pc[i]);
		pc[i].cwd = gi->toplevel;
		pc[i].env = proc_git_env;
		pc[i].max_out = GITINFO_LIST_MAX;
	}
	strbuf_addf(&spec, "%s^{commit}", ref);
	verify_argv[4] = spec.buf;
	pc[0].argv = verify_argv;
	if (proc_capture_all(pc, 1, err) < 0)
		goto done;
	if (pc[0].status) {
		strbuf_addf(err, "no commit named \"%s\" in the repository", ref);
		goto done;
	}
	strbuf_reset(&pc[0].out);
	strbuf_reset(&pc[0].errout);
	diff_argv[8] = ref;
	pc[0].argv = diff_argv;
	pc[1].argv = others_argv;
	if (proc_capture_all(pc, 2, err) < 0)
		goto done;
	for (i = 0; i < 2; i++)
		if (pc[i].status) {
			strbuf_addf(err, "git %s: %s", i ? "ls-files" : "diff --merge-base",
				    pc[i].errout.buf);
			strbuf_rtrim(err);
			goto done;
		}
	add_names(&pc[0].out, &pc[1].out, out, out->nr);
	ret = 0;
done:
	for (i = 0; i < 2; i++)
		proc_capture_release(&pc[i]);
	strbuf_release(&spec);
	return ret;
}
