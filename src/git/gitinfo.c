#include "git/gitinfo.h"

#include <git2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/xalloc.h"

static const char zero_sha[] = "0000000000000000000000000000000000000000";

static void git_err(struct strbuf *err, const char *what)
{
	const git_error *e = git_error_last();

	strbuf_addf(err, "%s: %s", what, e && e->message ? e->message : "unknown error");
}

static char *oid_str(const git_oid *oid)
{
	char buf[GIT_OID_HEXSZ + 1];

	git_oid_tostr(buf, sizeof(buf), oid);
	return xstrdup(buf);
}

static char *default_branch(git_repository *repo)
{
	git_reference *ref = NULL;
	git_config *cfg = NULL;
	const char *s;
	char *res = NULL;

	if (!git_reference_lookup(&ref, repo, "refs/remotes/origin/HEAD")) {
		s = git_reference_symbolic_target(ref);
		if (s && !strncmp(s, "refs/remotes/origin/", 20))
			res = xstrdup(s + 20);
		git_reference_free(ref);
		if (res)
			return res;
	}
	if (!git_repository_config_snapshot(&cfg, repo)) {
		if (!git_config_get_string(&s, cfg, "init.defaultBranch"))
			res = xstrdup(s);
		git_config_free(cfg);
	}
	if (!res) {
		/* A repository whose only branch is master says so. */
		if (!git_reference_lookup(&ref, repo, "refs/heads/main")) {
			res = xstrdup("main");
			git_reference_free(ref);
		} else if (!git_reference_lookup(&ref, repo, "refs/heads/master")) {
			res = xstrdup("master");
			git_reference_free(ref);
		}
	}
	return res ? res : xstrdup("main");
}

static char *tag_at(git_repository *repo, const git_oid *head)
{
	git_strarray tags = { 0 };
	char *res = NULL;
	size_t i;

	if (git_tag_list(&tags, repo))
		return NULL;
	for (i = 0; i < tags.count && !res; i++) {
		struct strbuf name = STRBUF_INIT;
		git_object *obj = NULL;

		strbuf_addf(&name, "refs/tags/%s^{commit}", tags.strings[i]);
		if (!git_revparse_single(&obj, repo, name.buf)) {
			if (git_oid_equal(git_object_id(obj), head))
				res = xstrdup(tags.strings[i]);
			git_object_free(obj);
		}
		strbuf_release(&name);
	}
	git_strarray_dispose(&tags);
	return res;
}

static void read_head(git_repository *repo, struct gitinfo *gi)
{
	git_reference *head = NULL;
	git_commit *commit = NULL;
	const git_signature *sig;
	char when[64];
	struct tm tm;
	time_t t;

	if (git_repository_head(&head, repo))
		goto unborn;
	if (git_reference_is_branch(head))
		gi->branch = xstrdup(git_reference_shorthand(head));
	if (git_commit_lookup(&commit, repo, git_reference_target(head)))
		goto unborn;
	gi->sha = oid_str(git_commit_id(commit));
	if (git_commit_parentcount(commit))
		gi->before_sha = oid_str(git_commit_parent_id(commit, 0));
	if (!gi->branch)
		gi->tag = tag_at(repo, git_commit_id(commit));
	gi->message = xstrdup(git_commit_message(commit) ? git_commit_message(commit) : "");
	sig = git_commit_author(commit);
	gi->author = xasprintf("%s <%s>", sig->name, sig->email);
	t = (time_t)git_commit_time(commit);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gi->timestamp = xstrdup(when);
	git_commit_free(commit);
	git_reference_free(head);
	if (!gi->before_sha)
		gi->before_sha = xstrdup(zero_sha);
	return;
unborn:
	git_reference_free(head);
	if (!gi->branch) {
		/* unborn branch: HEAD names it symbolically */
		git_reference *sym = NULL;

		if (!git_reference_lookup(&sym, repo, "HEAD")) {
			const char *tgt = git_reference_symbolic_target(sym);

			if (tgt && !strncmp(tgt, "refs/heads/", 11))
				gi->branch = xstrdup(tgt + 11);
			git_reference_free(sym);
		}
	}
	gi->sha = xstrdup(zero_sha);
	gi->before_sha = xstrdup(zero_sha);
	gi->message = xstrdup("");
	gi->author = xstrdup("");
	gi->timestamp = xstrdup("");
}

int gitinfo_read(const char *dir, struct gitinfo *gi, struct strbuf *err)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	char abs[PATH_MAX];
	const char *wd;

	memset(gi, 0, sizeof(*gi));
	if (!realpath(dir, abs)) {
		strbuf_addf(err, "%s: cannot resolve path", dir);
		return -1;
	}
	git_libgit2_init();
	if (git_repository_open_ext(&repo, abs, 0, NULL)) {
		gi->toplevel = xstrdup(abs);
		gi->sha = xstrdup(zero_sha);
		gi->before_sha = xstrdup(zero_sha);
		gi->message = xstrdup("");
		gi->author = xstrdup("");
		gi->timestamp = xstrdup("");
		gi->default_branch = xstrdup("main");
		git_libgit2_shutdown();
		return 0;
	}
	gi->is_repo = 1;
	wd = git_repository_workdir(repo);
	if (!wd) {
		git_err(err, "bare repository has no working tree");
		git_repository_free(repo);
		git_libgit2_shutdown();
		gitinfo_release(gi);
		return -1;
	}
	gi->toplevel = xstrdup(wd);
	if (strlen(gi->toplevel) > 1 && gi->toplevel[strlen(gi->toplevel) - 1] == '/')
		gi->toplevel[strlen(gi->toplevel) - 1] = '\0';
	read_head(repo, gi);
	gi->default_branch = default_branch(repo);
	if (!git_remote_lookup(&remote, repo, "origin")) {
		gi->remote_url = xstrdup_or_null(git_remote_url(remote));
		git_remote_free(remote);
	}
	git_repository_free(repo);
	git_libgit2_shutdown();
	return 0;
}

void gitinfo_release(struct gitinfo *gi)
{
	free(gi->toplevel);
	free(gi->sha);
	free(gi->before_sha);
	free(gi->branch);
	free(gi->tag);
	free(gi->default_branch);
	free(gi->message);
	free(gi->author);
	free(gi->timestamp);
	free(gi->remote_url);
	memset(gi, 0, sizeof(*gi));
}

static int add_delta(const git_diff_delta *delta, float progress, void *payload)
{
	struct strvec *out = payload;

	(void)progress;
	if (delta->new_file.path && strvec_find(out, delta->new_file.path) < 0)
		strvec_push(out, delta->new_file.path);
	if (delta->old_file.path && strvec_find(out, delta->old_file.path) < 0)
		strvec_push(out, delta->old_file.path);
	return 0;
}

int gitinfo_changed_files(const struct gitinfo *gi, struct strvec *out,
			  struct strbuf *err)
{
	git_repository *repo = NULL;
	git_object *base_obj = NULL;
	git_commit *base = NULL;
	git_tree *tree = NULL;
	git_diff *diff = NULL;
	git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
	git_oid head_oid, def_oid, mb;
	struct strbuf ref = STRBUF_INIT;
	int ret = 1;

	if (!gi->is_repo || !strcmp(gi->sha, zero_sha))
		return 1;
	git_libgit2_init();
	if (git_repository_open(&repo, gi->toplevel)) {
		git_err(err, "open repository");
		ret = -1;
		goto done;
	}
	git_oid_fromstr(&head_oid, gi->sha);
	strbuf_addf(&ref, "refs/heads/%s", gi->default_branch);
	if (gi->branch && strcmp(gi->branch, gi->default_branch) &&
	    !git_reference_name_to_id(&def_oid, repo, ref.buf) &&
	    !git_merge_base(&mb, repo, &head_oid, &def_oid)) {
		if (git_commit_lookup(&base, repo, &mb))
			goto done;
	} else {
		/* On the default branch (or no default branch): the last push
		 * is HEAD's own change. */
		if (!strcmp(gi->before_sha, zero_sha))
			goto done;
		if (git_revparse_single(&base_obj, repo, gi->before_sha))
			goto done;
		if (git_commit_lookup(&base, repo, git_object_id(base_obj)))
			goto done;
	}
	if (git_commit_tree(&tree, base))
		goto done;
	opts.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS;
	if (git_diff_tree_to_workdir_with_index(&diff, repo, tree, &opts)) {
		git_err(err, "diff");
		ret = -1;
		goto done;
	}
	git_diff_foreach(diff, add_delta, NULL, NULL, NULL, out);
	ret = 0;
done:
	git_diff_free(diff);
	git_tree_free(tree);
	git_commit_free(base);
	git_object_free(base_obj);
	git_repository_free(repo);
	strbuf_release(&ref);
	git_libgit2_shutdown();
	return ret;
}
