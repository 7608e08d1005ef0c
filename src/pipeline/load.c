/*
 * The pipeline loader, first half: find and read the pipeline file,
 * expand `include`, then resolve `extends` and `!reference` on the YAML
 * tree. model.c builds the typed pipeline from the result.
 */
#include "pipeline/inputs.h"
#include "pipeline/loader.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/expr.h"
#include "util/suggest.h"
#include "pipeline/plan_glob.h"
#include "pipeline/vars.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

#define DEFAULT_MAX_FILE_SIZE (1024 * 1024)
#define DEFAULT_MAX_INCLUDES 150
/* nodes that merging, extends and !reference may create in one load */
#define LOAD_NODE_BUDGET 2000000
/* files looked at by one wildcard include or rules:exists */
#define GLOB_MAX_ENTRIES 50000
#define GLOB_MAX_DEPTH 32

struct loader {
	const struct load_opts *opts;
	struct pipeline *p;
	struct diag *d;
	const char *root;
	size_t max_file_size;
	size_t max_includes;
	size_t includes;
	int include_limit_hit;
	size_t budget;
	int budget_hit;
	/*
	 * The project whose file is being read (include:project), and its
	 * ref (NULL: its default branch); NULL: the repository at root.
	 * A local include inside such a file is that project's file.
	 */
	const char *src_project;
	const char *src_ref;
	int src_remote;         /* the file being read is a URL (include:remote) */
	double remote_start;    /* when the first remote file was asked for, or 0 */
	/* the files being loaded, the outermost first (interned names): a cycle's */
	const char **chain;
	size_t chain_nr, chain_alloc;
	/* include:inputs of the include being loaded (taken by load_file) */
	const struct ynode *inputs;
	const struct pos *inputs_pos;
};

static const char *const global_keywords[] = {
	"default", "include", "stages", "variables", "workflow", "image",
	"services", "cache", "before_script", "after_script", "types", "spec",
};

const char *pipeline_global_keyword_near(const char *key)
{
	return suggest_from(key, global_keywords, ARRAY_SIZE(global_keywords));
}

int pipeline_is_global_keyword(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(global_keywords); i++)
		if (!strcmp(global_keywords[i], key))
			return 1;
	return 0;
}

static const char *intern_file(struct loader *ld, const char *name)
{
	int i = strvec_find(&ld->p->files, name);

	if (i < 0) {
		strvec_push(&ld->p->files, name);
		i = (int)ld->p->files.nr - 1;
	}
	return ld->p->files.v[i];
}

static void budget_error(struct loader *ld, const struct pos *pos)
{
	if (!ld->budget_hit)
		diag_error(ld->d, pos, "pipeline too large: more than %d YAML nodes "
			   "after include, extends and !reference",
			   LOAD_NODE_BUDGET);
	ld->budget_hit = 1;
}

/* --- globs (include wildcards, include:rules:exists) ------------------- */

/*
 * GitLab's wildcard paths (Repository#search_files_by_wildcard_path):
 * `**` + `/` matches any run of directories or none, `**` anything
 * including '/', `*` anything but '/'. Every other character, `?`
 * included, is literal.
 */
static int glob_match(const char *pat, const char *s)
{
	while (*pat) {
		if (pat[0] == '*' && pat[1] == '*') {
			pat += 2;
			if (*pat == '/' && !*s)
				return 0;
			for (;; s++) {
				if (glob_match(pat, s))
					return 1;
				if (*pat == '/' && glob_match(pat + 1, s))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (*pat == '*') {
			pat++;
			for (;; s++) {
				if (glob_match(pat, s))
					return 1;
				if (!*s || *s == '/')
					return 0;
			}
		}
		if (!*s || *pat != *s)
			return 0;
		pat++;
		s++;
	}
	return !*s;
}

struct walk {
	const char *pattern;
	struct strvec *out;
	size_t seen;
	int stop_at_first;
};

static void walk_dir(struct walk *w, struct strbuf *abs, struct strbuf *rel,
		     int depth)
{
	DIR *dir;
	struct dirent *de;
	size_t abs_len = abs->len, rel_len = rel->len;

	if (depth > GLOB_MAX_DEPTH)
		return;
	dir = opendir(abs->buf);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!depth && !strcmp(de->d_name, ".git"))
			continue;
		if (++w->seen > GLOB_MAX_ENTRIES)
			break;
		strbuf_addch(abs, '/');
		strbuf_addstr(abs, de->d_name);
		if (rel->len)
			strbuf_addch(rel, '/');
		strbuf_addstr(rel, de->d_name);
		if (!lstat(abs->buf, &st)) {
			if (S_ISDIR(st.st_mode))
				walk_dir(w, abs, rel, depth + 1);
			else if (S_ISREG(st.st_mode) &&
				 glob_match(w->pattern, rel->buf))
				strvec_push(w->out, rel->buf);
		}
		strbuf_setlen(abs, abs_len);
		strbuf_setlen(rel, rel_len);
		if (w->stop_at_first && w->out->nr)
			break;
	}
	closedir(dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files under root matching pattern (relative, sorted) appended to out. */
static void glob_files(const char *root, const char *pattern,
		       struct strvec *out, int stop_at_first)
{
	struct strbuf abs = STRBUF_INIT, rel = STRBUF_INIT;
	struct walk w = { pattern, out, 0, stop_at_first };
	size_t start = out->nr;

	strbuf_addstr(&abs, root);
	walk_dir(&w, &abs, &rel, 0);
	if (out->nr - start > 1)
		qsort(out->v + start, out->nr - start, sizeof(*out->v), cmp_str);
	strbuf_release(&abs);
	strbuf_release(&rel);
}

static int path_exists(const char *root, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int r;

	strbuf_addf(&sb, "%s/%s", root, rel);
	r = !stat(sb.buf, &st);
	strbuf_release(&sb);
	return r;
}

/* rules:exists: any pattern matching a file (or naming a path) */
static int exists_any(const char *root, const struct ynode *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++) {
		const char *pat = list->items[i]->str;
		struct strvec out = STRVEC_INIT;
		int found;

		if (!pat)
			continue;
		while (*pat == '/')
			pat++;
		if (!strchr(pat, '*')) {
			if (path_exists(root, pat))
				return 1;
			continue;
		}
		glob_files(root, pat, &out, 1);
		found = out.nr > 0;
		strvec_clear(&out);
		if (found)
			return 1;
	}
	return 0;
}

/* --- include ----------------------------------------------------------- */

/* A map without a tag whose every value is a node (what a merge copies alike). */
static int plain_map(const struct ynode *m)
{
	size_t i;

	if (m->tag)
		return 0;
	for (i = 0; i < m->pairs_nr; i++)
		if (!m->pairs[i].val)
			return 0;
	return 1;
}

static struct ynode *load_file(struct loader *ld, const char *rel,
			       const struct pos *from, int depth);

static int has_yaml_ext(const char *path)
{
	size_t n = strlen(path);

	return (n > 4 && !strcmp(path + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(path + n - 5, ".yaml"));
}

static int path_escapes(const char *path)
{
	const char *p = path;

	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

static const char *const include_unsupported[] = {
	"template", "component", "integrity", "cache",
};

/*
 * include:rules:changes: a list of globs, or a map of them as `paths`
 * and `compare_to` (a ref: the files since its merge base with the
 * commit, as for jobs' rules). 1 when a glob (variables expanded)
 * matches a changed file or the changed files are not known, 0 when
 * none does or !asked (checked only), -1 on a malformed value or a
 * compare_to that names no commit (reported).
 */
static int include_changes(struct loader *ld, const struct ynode *v,
			   const struct varlist *vars, int asked)
{
	const struct ynode *paths = v, *compare_to = NULL;
	const struct strvec *changed;
	struct strvec since = STRVEC_INIT;
	size_t i, k;
	int match = 0;

	if (v->type == YNODE_MAP) {
		for (i = 0; i < v->pairs_nr; i++)
			if (strcmp(v->pairs[i].key, "paths") &&
			    strcmp(v->pairs[i].key, "compare_to")) {
				diag_error(ld->d, &v->pairs[i].key_pos,
					   "unknown keyword \"%s\" in include:rules:changes",
					   v->pairs[i].key);
				return -1;
			}
		paths = ymap_get(v, "paths");
		if (!paths) {
			diag_error(ld->d, &v->pos, "include:rules:changes needs \"paths\"");
			return -1;
		}
		compare_to = ymap_get(v, "compare_to");
		if (compare_to && compare_to->type != YNODE_SCALAR) {
			diag_error(ld->d, &compare_to->pos,
				   "include:rules:changes:compare_to must be a string");
			return -1;
		}
	}
	if (paths->type != YNODE_SEQ) {
		diag_error(ld->d, &paths->pos,
			   "include:rules:changes must be a list of file patterns");
		return -1;
	}
	for (i = 0; i < paths->nr; i++)
		if (paths->items[i]->type != YNODE_SCALAR) {
			diag_error(ld->d, &paths->items[i]->pos,
				   "include:rules:changes must be a list of file patterns");
			return -1;
		}
	if (!asked)
		return 0;	/* the rule's if failed already: checked, not evaluated */
	if (compare_to && ld->opts->changed_since) {
		struct strbuf err = STRBUF_INIT;
		char *ref = vars_expand_dup(compare_to->str, vars);
		int rc = ld->opts->changed_since(ld->opts->changed_since_ud, ref, &since, &err);

		if (rc < 0)
			diag_error(ld->d, &compare_to->pos,
				   "include:rules:changes:compare_to is not a valid ref: %s%s%s",
				   ref, err.len ? ": " : "", err.buf);
		free(ref);
		strbuf_release(&err);
		if (rc < 0) {
			strvec_clear(&since);
			return -1;
		}
		changed = &since;
	} else {
		changed = ld->opts->changed ? ld->opts->changed(ld->opts->changed_ud) : NULL;
		if (!changed)
			return 1;
	}
	for (i = 0; i < paths->nr && !match; i++) {
		char *g = vars_expand_dup(paths->items[i]->str, vars);

		for (k = 0; k < changed->nr && !match; k++)
			match = plan_glob_match(g, changed->v[k]);
		free(g);
	}
	strvec_clear(&since);
	return match;
}

/*
 * Evaluate include:rules. 1 include, 0 skip, -1 error (reported).
 */
static int include_rules(struct loader *ld, const struct ynode *rules)
{
	static const struct varlist empty = VARLIST_INIT;
	const struct varlist *vars = ld->opts->vars ? ld->opts->vars : &empty;
	size_t i, j;

	if (rules->type != YNODE_SEQ) {
		diag_error(ld->d, &rules->pos, "include:rules must be a list");
		return -1;
	}
	for (i = 0; i < rules->nr; i++) {
		const struct ynode *r = rules->items[i];
		const struct ynode *v;
		int match = 1;

		if (r->type != YNODE_MAP) {
			diag_error(ld->d, &r->pos, "include:rules entries must be maps");
			return -1;
		}
		for (j = 0; j < r->pairs_nr; j++) {
			const char *k = r->pairs[j].key;

			if (strcmp(k, "if") && strcmp(k, "exists") && strcmp(k, "when") &&
			    strcmp(k, "changes")) {
				diag_error(ld->d, &r->pairs[j].key_pos,
					   "unknown keyword \"%s\" in include:rules", k);
				return -1;
			}
		}
		v = ymap_get(r, "if");
		if (v) {
			struct strbuf err = STRBUF_INIT;
			int t;

			if (v->type != YNODE_SCALAR) {
				diag_error(ld->d, &v->pos, "include:rules:if must be a string");
				return -1;
			}
			t = expr_eval(v->str, vars, &err);
			if (t < 0) {
				diag_error(ld->d, &v->pos, "invalid expression in include:rules:if: %s",
					   err.buf);
				strbuf_release(&err);
				return -1;
			}
			strbuf_release(&err);
			match = match && t;
		}
		v = ymap_get(r, "changes");
		if (v) {
			int t = include_changes(ld, v, vars, match);

			if (t < 0)
				return -1;
			match = match && t;
		}
		v = ymap_get(r, "exists");
		if (v && match) {
			const struct ynode *paths = v;

			if (v->type == YNODE_MAP)
				paths = ymap_get(v, "paths");
			if (v->type == YNODE_SCALAR) {
				struct ynode tmp;
				struct ynode *one = (struct ynode *)v;

				memset(&tmp, 0, sizeof(tmp));
				tmp.type = YNODE_SEQ;
				tmp.items = &one;
				tmp.nr = 1;
				match = exists_any(ld->root, &tmp);
			} else if (!paths || paths->type != YNODE_SEQ) {
				diag_error(ld->d, &v->pos,
					   "include:rules:exists must be a string or a list of strings");
				return -1;
			} else {
				match = exists_any(ld->root, paths);
			}
		}
		if (!match)
			continue;
		v = ymap_get(r, "when");
		if (v) {
			if (v->type != YNODE_SCALAR ||
			    (strcmp(v->str, "never") && strcmp(v->str, "always"))) {
				diag_error(ld->d, &v->pos,
					   "include:rules:when must be \"always\" or \"never\"");
				return -1;
			}
			return strcmp(v->str, "never") ? 1 : 0;
		}
		return 1;
	}
	return 0;
}

/*
 * Load one included file (of the project ld->src_project names, if any)
 * and merge it into acc. -1 when the include limit is reached (said
 * once): the caller includes nothing more.
 */
static int include_file(struct loader *ld, struct ynode *acc, const char *path,
			const struct pos *pos, int depth)
{
	const struct ynode *given;
	const struct pos *given_pos;
	struct ynode *child;

	if (ld->includes >= ld->max_includes) {
		if (!ld->include_limit_hit)
			diag_error(ld->d, pos, "maximum of %zu includes exceeded",
				   ld->max_includes);
		ld->include_limit_hit = 1;
		return -1;
	}
	ld->includes++;
	given = ld->inputs;
	given_pos = ld->inputs_pos;
	child = load_file(ld, path, pos, depth + 1);
	ld->inputs = given;
	ld->inputs_pos = given_pos;
	if (!child)
		return 0;
	if (ynode_deep_merge(acc, child, &ld->budget))
		budget_error(ld, pos);
	ynode_free(child);
	return 0;
}

static void include_one(struct loader *ld, struct ynode *acc,
			const char *path, const struct pos *pos, int depth)
{
	struct strvec files = STRVEC_INIT;
	size_t i;

	while (*path == '/')
		path++;
	if (!*path) {
		diag_error(ld->d, pos, "include: empty path");
		return;
	}
	if (path_escapes(path)) {
		diag_error(ld->d, pos, "include \"%s\": path must stay inside the repository",
			   path);
		return;
	}
	if (strchr(path, '*') && ld->src_project) {
		diag_error(ld->d, pos, "include \"%s\": wildcards are not supported in a file "
			   "included from project %s", path, ld->src_project);
		return;
	}
	if (strchr(path, '*')) {
		struct strvec all = STRVEC_INIT;

		/* wildcards include the YAML files they match */
		glob_files(ld->root, path, &all, 0);
		for (i = 0; i < all.nr; i++)
			if (has_yaml_ext(all.v[i]))
				strvec_push(&files, all.v[i]);
		strvec_clear(&all);
		if (!files.nr)
			diag_error(ld->d, pos, "include \"%s\": no file matches", path);
	} else if (!has_yaml_ext(path)) {
		diag_error(ld->d, pos, "included file \"%s\" does not have a YAML extension "
			   "(.yml or .yaml)", path);
		return;
	} else {
		strvec_push(&files, path);
	}
	for (i = 0; i < files.nr; i++)
		if (include_file(ld, acc, files.v[i], pos, depth) < 0)
			break;
	strvec_clear(&files);
}

/* A string value of an include entry: its node, or NULL (reported). */
/*
 * The first variable s refers to ($NAME or ${NAME}) that vars lacks,
 * copied into name; 0 when there is none.
 */
static int unknown_var(const char *s, const struct varlist *vars,
		       struct strbuf *name)
{
	const char *p;

	for (p = s; (p = strchr(p, '$')); ) {
		const char *n = p + 1, *e;
		int brace = *n == '{';

		if (*n == '$') {
			p += 2;
			continue;
		}
		n += brace;
		for (e = n; (*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z') ||
			    (*e >= '0' && *e <= '9') || *e == '_'; e++)
			;
		p = e;
		if (e == n || (brace && *e != '}'))
			continue;
		strbuf_reset(name);
		strbuf_add(name, n, (size_t)(e - n));
		if (!varlist_find(vars, name->buf))
			return 1;
	}
	return 0;
}

/*
 * An include location (local path, project, ref, file) with variables
 * expanded, as GitLab expands them: an unknown one is empty. With
 * opts->vars_partial (cidre lint: the pipeline's variables are not
 * known) a location naming an unknown variable is not followed: a
 * warning at pos, and NULL. Caller frees.
 */
static char *include_expand(struct loader *ld, const char *s, const struct pos *pos)
{
	static const struct varlist empty = VARLIST_INIT;
	const struct varlist *vars = ld->opts->vars ? ld->opts->vars : &empty;
	struct strbuf name = STRBUF_INIT;

	if (!strchr(s, '$'))
		return xstrdup(s);
	if (ld->opts->vars_partial && unknown_var(s, vars, &name)) {
		diag_warning(ld->d, pos, "include \"%s\" not checked: $%s is only known "
			     "when the pipeline runs (cidre run --list resolves it)",
			     s, name.buf);
		strbuf_release(&name);
		return NULL;
	}
	if (unknown_var(s, vars, &name))
		diag_warning(ld->d, pos, "include \"%s\": $%s is not defined, so it is "
			     "empty (includes see predefined and project variables, not "
			     "the file's own variables:)", s, name.buf);
	strbuf_release(&name);
	return vars_expand_dup(s, vars);
}

static const struct ynode *include_str(struct loader *ld, const struct ynode *e,
				       const char *key)
{
	const struct ynode *v = ymap_get(e, key);

	if (v && (v->type != YNODE_SCALAR || yscalar_kind(v) == YS_NULL || !*v->str)) {
		diag_error(ld->d, &v->pos, "include:%s must be a non-empty string", key);
		return NULL;
	}
	return v;
}

/*
 * include:project: files of another project at a ref (GitLab's shared
 * templates), read through opts->project_file; local includes inside
 * them are files of that project at that ref.
 */
static void include_project(struct loader *ld, struct ynode *acc,
			    const struct ynode *e, int depth)
{
	const struct ynode *proj = include_str(ld, e, "project"), *ref, *file, *rules;
	const char *saved_project = ld->src_project, *saved_ref = ld->src_ref;
	struct strvec files = STRVEC_INIT;
	char *proj_name = NULL, *ref_name = NULL;
	size_t i;

	if (!proj)
		return;
	if (ymap_get(e, "local")) {
		diag_error(ld->d, &ymap_find(e, "local")->key_pos,
			   "an include entry has either local or project, not both");
		return;
	}
	ref = ymap_get(e, "ref");
	if (ref && !include_str(ld, e, "ref"))
		return;
	file = ymap_get(e, "file");
	if (!file) {
		diag_error(ld->d, &e->pos, "include:project needs \"file\"");
		return;
	}
	if (file->type == YNODE_SCALAR && yscalar_kind(file) != YS_NULL && *file->str) {
		strvec_push(&files, file->str);
	} else if (file->type == YNODE_SEQ && file->nr) {
		for (i = 0; i < file->nr; i++) {
			const struct ynode *f = file->items[i];

			if (f->type != YNODE_SCALAR || yscalar_kind(f) == YS_NULL || !*f->str) {
				diag_error(ld->d, &f->pos, "include:file entries must be "
					   "non-empty strings");
				strvec_clear(&files);
				return;
			}
			strvec_push(&files, f->str);
		}
	} else {
		diag_error(ld->d, &file->pos,
			   "include:file must be a path or a list of paths");
		return;
	}
	rules = ymap_get(e, "rules");
	if (rules && include_rules(ld, rules) <= 0) {
		strvec_clear(&files);
		return;
	}
	/* variables in the project, ref and files, as GitLab expands them */
	proj_name = include_expand(ld, proj->str, &proj->pos);
	ref_name = ref ? include_expand(ld, ref->str, &ref->pos) : NULL;
	if (!proj_name || (ref && !ref_name)) {
		free(proj_name);
		free(ref_name);
		strvec_clear(&files);
		return;
	}
	for (i = 0; i < files.nr; i++) {
		const struct pos *fpos = file->type == YNODE_SEQ ? &file->items[i]->pos :
					 &file->pos;
		char *x = include_expand(ld, files.v[i], fpos);

		if (!x) {
			free(proj_name);
			free(ref_name);
			strvec_clear(&files);
			return;
		}
		free(files.v[i]);
		files.v[i] = x;
	}
	if (!ld->opts->project_file) {
		diag_error(ld->d, &proj->pos, "include:project needs the cidre server, which "
			   "reads project %s from its mirror: cidre run and cidre lint read "
			   "the repository's own files only", proj_name);
		goto out;
	}
	for (i = 0; i < files.nr; i++) {
		const char *path = files.v[i];
		const struct pos *pos = file->type == YNODE_SEQ ? &file->items[i]->pos : &file->pos;
		int stop;

		while (*path == '/')
			path++;
		if (!*path || path_escapes(path) || strchr(path, '*')) {
			diag_error(ld->d, pos, "include:file \"%s\": a path inside project %s, "
				   "without wildcards", files.v[i], proj_name);
			continue;
		}
		if (!has_yaml_ext(path)) {
			diag_error(ld->d, pos, "included file \"%s\" does not have a YAML "
				   "extension (.yml or .yaml)", path);
			continue;
		}
		ld->src_project = proj_name;
		ld->src_ref = ref_name;
		stop = include_file(ld, acc, path, pos, depth) < 0;
		ld->src_project = saved_project;
		ld->src_ref = saved_ref;
		if (stop)
			break;
	}
out:
	free(proj_name);
	free(ref_name);
	strvec_clear(&files);
}

/*
 * include:remote (or a URL as the entry): the file at url, read with
 * load_opts.remote_file. Its own local includes are the project's files,
 * as in GitLab.
 */
static void include_remote(struct loader *ld, struct ynode *acc, const char *url,
			   const struct pos *pos, int depth)
{
	const char *saved_project = ld->src_project, *saved_ref = ld->src_ref;
	int saved_remote = ld->src_remote;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		diag_error(ld->d, pos, "include:remote \"%s\" must be an http:// or "
			   "https:// URL", url);
		return;
	}
	if (strlen(url) > 2048 || strpbrk(url, " \t\r\n")) {
		diag_error(ld->d, pos, "include:remote: not a URL (spaces, or more than "
			   "2048 bytes)");
		return;
	}
	if (!ld->opts->remote_file) {
		diag_error(ld->d, pos, "include:remote cannot be read here");
		return;
	}
	{
		/* all of a pipeline's remote files in a bounded time */
		struct timespec t;
		double now;

		clock_gettime(CLOCK_MONOTONIC, &t);
		now = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
		if (!ld->remote_start)
			ld->remote_start = now;
		else if (now - ld->remote_start > PIPELINE_REMOTE_SECONDS) {
			diag_error(ld->d, pos, "include:remote %s: the remote files took more "
				   "than %d seconds in all", url, PIPELINE_REMOTE_SECONDS);
			return;
		}
	}
	ld->src_project = NULL;
	ld->src_ref = NULL;
	ld->src_remote = 1;
	include_file(ld, acc, url, pos, depth);
	ld->src_project = saved_project;
	ld->src_ref = saved_ref;
	ld->src_remote = saved_remote;
}

static void include_entry(struct loader *ld, struct ynode *acc,
			  const struct ynode *e, int depth)
{
	const struct ynode *local, *remote, *rules;
	char *path;
	size_t i, j;

	if (e->type == YNODE_SCALAR && yscalar_kind(e) != YS_NULL) {
		if (!strncmp(e->str, "http://", 7) || !strncmp(e->str, "https://", 8)) {
			path = include_expand(ld, e->str, &e->pos);
			if (path)
				include_remote(ld, acc, path, &e->pos, depth);
			free(path);
			return;
		}
		path = include_expand(ld, e->str, &e->pos);
		if (path)
			include_one(ld, acc, path, &e->pos, depth);
		free(path);
		return;
	}
	if (e->type != YNODE_MAP) {
		diag_error(ld->d, &e->pos, "include entries must be strings or maps");
		return;
	}
	for (i = 0; i < e->pairs_nr; i++) {
		const char *k = e->pairs[i].key;

		for (j = 0; j < ARRAY_SIZE(include_unsupported); j++) {
			if (!strcmp(k, include_unsupported[j])) {
				diag_error(ld->d, &e->pairs[i].key_pos,
					   "keyword \"include:%s\" is not supported by cidre "
					   "(only files of the repository, of projects on the cidre server and at URLs can be included)", k);
				return;
			}
		}
		if (strcmp(k, "local") && strcmp(k, "rules") && strcmp(k, "project") &&
		    strcmp(k, "file") && strcmp(k, "ref") && strcmp(k, "inputs") &&
		    strcmp(k, "remote")) {
			diag_error(ld->d, &e->pairs[i].key_pos,
				   "unknown keyword \"%s\" in include", k);
			return;
		}
	}
	if (ymap_get(e, "project")) {
		ld->inputs = ymap_get(e, "inputs");
		ld->inputs_pos = ld->inputs ? &ymap_find(e, "inputs")->key_pos : NULL;
		include_project(ld, acc, e, depth);
		ld->inputs = NULL;
		return;
	}
	for (i = 0; i < e->pairs_nr; i++) {
		const char *k = e->pairs[i].key;

		if (!strcmp(k, "file") || !strcmp(k, "ref")) {
			diag_error(ld->d, &e->pairs[i].key_pos,
				   "include:%s goes with include:project", k);
			return;
		}
	}
	remote = ymap_get(e, "remote");
	if (remote && ymap_get(e, "local")) {
		diag_error(ld->d, &ymap_find(e, "remote")->key_pos,
			   "include:remote and include:local do not go together");
		return;
	}
	local = remote ? remote : ymap_get(e, "local");
	if (!local) {
		diag_error(ld->d, &e->pos, "include entry needs \"local\"");
		return;
	}
	if (local->type != YNODE_SCALAR || yscalar_kind(local) == YS_NULL) {
		diag_error(ld->d, &local->pos, "include:%s must be a string",
			   remote ? "remote" : "local");
		return;
	}
	rules = ymap_get(e, "rules");
	if (rules) {
		int r = include_rules(ld, rules);

		if (r <= 0)
			return;
	}
	path = include_expand(ld, local->str, &local->pos);
	ld->inputs = ymap_get(e, "inputs");
	ld->inputs_pos = ld->inputs ? &ymap_find(e, "inputs")->key_pos : NULL;
	if (path && remote)
		include_remote(ld, acc, path, &local->pos, depth);
	else if (path)
		include_one(ld, acc, path, &local->pos, depth);
	ld->inputs = NULL;
	free(path);
}

/* Expand the include: of root (removed from it) into acc. */
static void process_includes(struct loader *ld, struct ynode *acc,
			     struct ynode *inc, int depth)
{
	size_t i;

	if (depth > PIPELINE_MAX_INCLUDE_DEPTH) {
		diag_error(ld->d, &inc->pos, "includes nested too deep (more than %d levels)",
			   PIPELINE_MAX_INCLUDE_DEPTH);
		return;
	}
	if (inc->type == YNODE_SEQ) {
		for (i = 0; i < inc->nr; i++) {
			const struct ynode *e = inc->items[i];

			if (e->type == YNODE_SEQ) {
				diag_error(ld->d, &e->pos, "include entries must be strings or maps");
				continue;
			}
			include_entry(ld, acc, e, depth);
		}
		return;
	}
	include_entry(ld, acc, inc, depth);
}

/* A file's name in messages: its path, or PROJECT:PATH for another
 * project's (PROJECT@REF:PATH at a ref named). */
static const char *display_name(struct loader *ld, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	const char *r;

	if (!ld->src_project)
		return intern_file(ld, rel);
	strbuf_addstr(&sb, ld->src_project);
	if (ld->src_ref)
		strbuf_addf(&sb, "@%s", ld->src_ref);
	strbuf_addf(&sb, ":%s", rel);
	r = intern_file(ld, sb.buf);
	strbuf_release(&sb);
	return r;
}

/*
 * The pipeline's own inputs (load_opts.inputs: name -> YAML text) as a
 * map of nodes, each value read as YAML (3 a number, [a, b] a list). NULL
 * when one cannot be read (reported).
 */
static struct ynode *inputs_of(struct loader *ld, const struct varlist *in,
			       const struct pos *pos)
{
	struct yaml_limits lim = { 8, 1000, 1 };
	struct ynode *map = ynode_new(YNODE_MAP, pos);
	size_t i;

	for (i = 0; i < in->nr; i++) {
		struct diag d = DIAG_INIT;
		struct ynode **docs = NULL;
		size_t n = 0;
		const char *v = in->v[i].value ? in->v[i].value : "";

		if (strlen(v) > 65536 ||
		    yaml_parse("(input)", v, strlen(v), &lim, &docs, &n, &d) || n > 1 ||
		    (n == 1 && docs[0]->type == YNODE_MAP)) {
			diag_error(ld->d, pos, "input %s: \"%.80s\" is not a value (text, a "
				   "number, true or false, or a [list])", in->v[i].key, v);
			diag_clear(&d);
			yaml_docs_free(docs, n);
			ynode_free(map);
			return NULL;
		}
		ymap_set_take(map, in->v[i].key, pos, n ? docs[0] : ynode_new_scalar("", pos));
		if (n)
			docs[0] = NULL;
		yaml_docs_free(docs, n);
		diag_clear(&d);
	}
	return map;
}

/*
 * Read, parse and include-expand one file. Returns its tree (a map) or
 * NULL when it could not be loaded (reported).
 */
static struct ynode *load_file(struct loader *ld, const char *rel,
			       const struct pos *from, int depth)
{
	struct strbuf path = STRBUF_INIT, buf = STRBUF_INIT;
	struct yaml_limits lim = { PIPELINE_MAX_DEPTH, 0, 1 };
	struct ynode **docs = NULL, *root = NULL, *acc = NULL, *inc, *header = NULL;
	const char *file = display_name(ld, rel);
	struct pos fpos = { file, 0, 0 };
	const struct ynode *given = ld->inputs;
	const struct pos *given_pos = ld->inputs_pos;
	struct ynode *pipeline_inputs = NULL;
	size_t ndocs = 0, i;

	/* the inputs are this file's, not its own includes' */
	ld->inputs = NULL;
	ld->inputs_pos = NULL;

	/*
	 * A file that includes itself, directly or through others (a
	 * wildcard such as "**.yml" matches the file it is in): said as the
	 * cycle it is, rather than by the nesting limit it would reach.
	 * Including a file again from elsewhere (a diamond) is allowed.
	 */
	for (i = 0; from && i < ld->chain_nr; i++)
		if (ld->chain[i] == file) {
			struct strbuf c = STRBUF_INIT;
			size_t k;

			for (k = i; k < ld->chain_nr; k++)
				strbuf_addf(&c, "%s -> ", ld->chain[k]);
			strbuf_addstr(&c, file);
			diag_error(ld->d, from, "include cycle: %s", c.buf);
			strbuf_release(&c);
			return NULL;
		}
	ALLOC_GROW(ld->chain, ld->chain_nr + 1, ld->chain_alloc);
	ld->chain[ld->chain_nr++] = file;

	if (ld->src_remote) {
		struct strbuf err = STRBUF_INIT;

		if (ld->opts->remote_file(ld->opts->remote_file_ud, rel, ld->max_file_size,
					  &buf, &err) < 0) {
			diag_error(ld->d, from ? from : &fpos, "include:remote %s: %s", rel,
				   err.len ? err.buf : "cannot be read");
			strbuf_release(&err);
			goto out;
		}
		strbuf_release(&err);
		/* its includes: local ones are the project's */
		ld->src_remote = 0;
	} else if (ld->src_project) {
		struct strbuf err = STRBUF_INIT;

		if (ld->opts->project_file(ld->opts->project_file_ud, ld->src_project,
					   ld->src_ref, rel, ld->max_file_size, &buf, &err) < 0) {
			diag_error(ld->d, from ? from : &fpos, "include:project %s: %s",
				   ld->src_project, err.len ? err.buf : "cannot be read");
			strbuf_release(&err);
			goto out;
		}
		strbuf_release(&err);
	} else {
		if (!strcmp(ld->root, ".") || (!from && rel[0] == '/'))
			strbuf_addstr(&path, rel);
		else
			strbuf_addf(&path, "%s/%s", ld->root, rel);
	}
	if (!ld->src_project && !buf.len && path.len &&
	    strbuf_read_file(&buf, path.buf, ld->max_file_size)) {
		const struct pos *at = from ? from : &fpos;

		if (errno == EFBIG)
			diag_error(ld->d, at, "%s: file too large (more than %zu bytes)",
				   rel, ld->max_file_size);
		else if (errno == ENOENT && from)
			diag_error(ld->d, at, "included file \"%s\" does not exist", rel);
		else
			diag_error(ld->d, at, "cannot read %s: %s", rel, strerror(errno));
		goto out;
	}
	if (memchr(buf.buf, '\0', buf.len)) {
		diag_error(ld->d, &fpos, "file contains a NUL byte (not a YAML text file)");
		goto out;
	}
	if (yaml_parse(file, buf.buf, buf.len, &lim, &docs, &ndocs, ld->d))
		goto out;
	if (ndocs > 1) {
		/* empty documents do not count (GitLab's reject_empty): a
		 * file may end in "---" */
		size_t d, kept = 0;

		for (d = 0; d < ndocs; d++) {
			if (ynode_is_null(docs[d]) && !docs[d]->tag)
				ynode_free(docs[d]);
			else
				docs[kept++] = docs[d];
		}
		ndocs = kept;
	}
	if (ndocs > 1 && (ndocs > 2 || !ymap_get(docs[0], "spec"))) {
		diag_error(ld->d, &docs[1]->pos, ndocs > 2 ?
			   "a pipeline file holds at most two YAML documents: its spec: "
			   "header and its content" :
			   "a pipeline file must hold one YAML document (or a spec: header "
			   "and its content)");
		goto out;
	}
	if (ndocs == 2) {
		header = docs[0];
		root = docs[1];
		docs[0] = docs[1] = NULL;
	} else if (!ndocs || ynode_is_null(docs[0])) {
		root = ynode_new(YNODE_MAP, &fpos);
	} else {
		root = docs[0];
		docs[0] = NULL;
	}
	if (!from && ld->opts->inputs && ld->opts->inputs->nr) {
		pipeline_inputs = inputs_of(ld, ld->opts->inputs, &fpos);
		if (!pipeline_inputs)
			goto out;
		given = pipeline_inputs;
	}
	if (root->type == YNODE_MAP) {
		static const struct varlist none = VARLIST_INIT;

		if (inputs_apply(ld->d, file, header, given, given_pos ? given_pos : &fpos,
				 root, ld->opts->vars ? ld->opts->vars : &none, &ld->budget) < 0)
			goto out;
	}
	if (root->type != YNODE_MAP) {
		diag_error(ld->d, &root->pos, "the pipeline must be a map of keywords and "
			   "jobs, not %s", ynode_type_name(root));
		goto out;
	}
	acc = ynode_new(YNODE_MAP, &root->pos);
	inc = ymap_take(root, "include");
	if (inc) {
		process_includes(ld, acc, inc, depth);
		ynode_free(inc);
	}
	if (!acc->pairs_nr && plain_map(root) && ynode_count(root) - 1 <= ld->budget) {
		/*
		 * Nothing included: merging into the empty map would copy root
		 * whole. Take it instead, its nodes counted as the copy would.
		 */
		ld->budget -= ynode_count(root) - 1;
		ynode_free(acc);
		acc = root;
		root = NULL;
	} else if (ynode_deep_merge(acc, root, &ld->budget)) {
		budget_error(ld, &fpos);
	}
out:
	ld->chain_nr--;
	yaml_docs_free(docs, ndocs);
	ynode_free(header);
	ynode_free(pipeline_inputs);
	ynode_free(root);
	strbuf_release(&path);
	strbuf_release(&buf);
	return acc;
}

/* --- extends ----------------------------------------------------------- */

enum ext_state { EXT_NEW = 0, EXT_BUSY, EXT_DONE, EXT_FAILED };

struct ext_ctx {
	struct loader *ld;
	struct ynode *root;
	enum ext_state *state;
	int *height;
	struct strvec chain;
};

static int pair_index(const struct ynode *root, const char *key)
{
	size_t i;

	for (i = 0; i < root->pairs_nr; i++)
		if (!strcmp(root->pairs[i].key, key))
			return (int)i;
	return -1;
}

static int resolve_extends(struct ext_ctx *x, size_t idx)
{
	struct ypair *job = &x->root->pairs[idx];
	struct ynode *ext, *merged;
	struct ynode one;
	struct ynode *onep;
	const struct ynode *list;
	size_t i;
	int h = 0;

	if (x->state[idx] == EXT_DONE)
		return 0;
	if (x->state[idx] == EXT_FAILED)
		return -1;
	if (x->state[idx] == EXT_BUSY) {
		struct strbuf sb = STRBUF_INIT;
		int start = strvec_find(&x->chain, job->key);

		for (i = start < 0 ? 0 : (size_t)start; i < x->chain.nr; i++)
			strbuf_addf(&sb, "%s -> ", x->chain.v[i]);
		strbuf_addstr(&sb, job->key);
		ext = ymap_get(job->val, "extends");
		diag_error(x->ld->d, ext ? &ext->pos : &job->key_pos,
			   "job \"%s\": circular dependency in extends (%s)",
			   job->key, sb.buf);
		strbuf_release(&sb);
		return -1;
	}
	ext = job->val->type == YNODE_MAP ? ymap_get(job->val, "extends") : NULL;
	/* `extends:` with no value extends nothing (GitLab's Array(nil)) */
	if (ext && ext->type == YNODE_SCALAR && !ext->tag &&
	    yscalar_kind(ext) == YS_NULL)
		ext = NULL;
	if (!ext) {
		x->state[idx] = EXT_DONE;
		x->height[idx] = 0;
		return 0;
	}
	if (ext->type == YNODE_SCALAR && yscalar_kind(ext) == YS_STR) {
		memset(&one, 0, sizeof(one));
		one.type = YNODE_SEQ;
		onep = ext;
		one.items = &onep;
		one.nr = 1;
		list = &one;
	} else if (ext->type == YNODE_SEQ) {
		list = ext;
	} else {
		diag_error(x->ld->d, &ext->pos, "job \"%s\": \"extends\" must be a string "
			   "or a list of strings", job->key);
		x->state[idx] = EXT_FAILED;
		return -1;
	}
	x->state[idx] = EXT_BUSY;
	strvec_push(&x->chain, job->key);
	for (i = 0; i < list->nr; i++) {
		const struct ynode *b = list->items[i];
		int bi;

		if (b->type != YNODE_SCALAR || yscalar_kind(b) != YS_STR) {
			diag_error(x->ld->d, &b->pos, "job \"%s\": \"extends\" must be a "
				   "string or a list of strings", job->key);
			goto fail;
		}
		bi = pair_index(x->root, b->str);
		if (bi < 0 || pipeline_is_global_keyword(b->str)) {
			struct suggest sg;
			char hint[320];
			size_t k;

			suggest_init(&sg, b->str);
			for (k = 0; k < x->root->pairs_nr; k++)
				if (!pipeline_is_global_keyword(x->root->pairs[k].key))
					suggest_add(&sg, x->root->pairs[k].key);
			diag_error(x->ld->d, &b->pos, "job \"%s\" extends unknown job \"%s\"%s",
				   job->key, b->str, suggest_hint(hint, sizeof(hint), sg.best));
			goto fail;
		}
		if (x->root->pairs[bi].val->type != YNODE_MAP) {
			diag_error(x->ld->d, &b->pos, "job \"%s\" extends \"%s\", which is "
				   "not a map", job->key, b->str);
			goto fail;
		}
		if (resolve_extends(x, (size_t)bi))
			goto fail;
		if (x->height[bi] + 1 > h)
			h = x->height[bi] + 1;
	}
	strvec_pop(&x->chain);
	if (h > PIPELINE_MAX_EXTENDS_DEPTH) {
		diag_error(x->ld->d, &ext->pos, "job \"%s\": extends nested too deep "
			   "(more than %d levels)", job->key, PIPELINE_MAX_EXTENDS_DEPTH);
		x->state[idx] = EXT_FAILED;
		return -1;
	}
	/* job = merge(bases in order) then the job itself on top */
	merged = ynode_new(YNODE_MAP, &job->val->pos);
	for (i = 0; i < list->nr; i++) {
		const struct ynode *base = ymap_get(x->root, list->items[i]->str);

		if (ynode_deep_merge(merged, base, &x->ld->budget))
			goto budget;
	}
	if (ynode_deep_merge(merged, job->val, &x->ld->budget))
		goto budget;
	/* `list` may point into job->val: done with it */
	ynode_free(job->val);
	job->val = merged;
	x->state[idx] = EXT_DONE;
	x->height[idx] = h;
	return 0;
budget:
	ynode_free(merged);
	budget_error(x->ld, &ext->pos);
	x->state[idx] = EXT_FAILED;
	return -1;
fail:
	strvec_pop(&x->chain);
	x->state[idx] = EXT_FAILED;
	return -1;
}

static void process_extends(struct loader *ld, struct ynode *root)
{
	struct ext_ctx x;
	size_t i;

	memset(&x, 0, sizeof(x));
	x.ld = ld;
	x.root = root;
	x.state = xcalloc(root->pairs_nr + 1, sizeof(*x.state));
	x.height = xcalloc(root->pairs_nr + 1, sizeof(*x.height));
	strvec_init(&x.chain);
	for (i = 0; i < root->pairs_nr; i++) {
		if (pipeline_is_global_keyword(root->pairs[i].key))
			continue;
		if (root->pairs[i].val->type != YNODE_MAP)
			continue;
		resolve_extends(&x, i);
	}
	strvec_clear(&x.chain);
	free(x.state);
	free(x.height);
}

/* --- !reference -------------------------------------------------------- */

static int is_reference(const struct ynode *n)
{
	return n->tag && !strcmp(n->tag, "!reference");
}

static void resolve_refs(struct loader *ld, const struct ynode *root,
			 struct ynode **slot, int depth);

/* A copy of what the reference names, references in it resolved; NULL on error. */
static struct ynode *deref(struct loader *ld, const struct ynode *root,
			   const struct ynode *ref, int depth)
{
	const struct ynode *cur = root;
	struct ynode *copy;
	struct strbuf path = STRBUF_INIT;
	size_t i;

	if (ref->type != YNODE_SEQ || !ref->nr) {
		diag_error(ld->d, &ref->pos, "!reference needs a list like [job, key]");
		return NULL;
	}
	for (i = 0; i < ref->nr; i++) {
		const struct ynode *k = ref->items[i];

		if (k->type != YNODE_SCALAR) {
			diag_error(ld->d, &k->pos, "!reference entries must be strings");
			goto fail;
		}
		if (i)
			strbuf_addch(&path, ':');
		strbuf_addstr(&path, k->str);
		if (cur->type != YNODE_MAP || !ymap_find(cur, k->str)) {
			if (!i)
				diag_error(ld->d, &k->pos, "!reference: job \"%s\" not found",
					   k->str);
			else
				diag_error(ld->d, &k->pos, "!reference: key \"%s\" not found",
					   path.buf);
			goto fail;
		}
		cur = ymap_get(cur, k->str);
	}
	if (depth >= PIPELINE_MAX_REFERENCE_DEPTH) {
		diag_error(ld->d, &ref->pos, "!reference nested too deep (more than %d "
			   "levels)", PIPELINE_MAX_REFERENCE_DEPTH);
		goto fail;
	}
	copy = ynode_dup(cur, &ld->budget);
	if (!copy) {
		budget_error(ld, &ref->pos);
		goto fail;
	}
	strbuf_release(&path);
	resolve_refs(ld, root, &copy, depth + 1);
	return copy;
fail:
	strbuf_release(&path);
	return NULL;
}

static void resolve_refs(struct loader *ld, const struct ynode *root,
			 struct ynode **slot, int depth)
{
	struct ynode *n = *slot;
	size_t i;

	if (ld->budget_hit)
		return;
	if (is_reference(n)) {
		struct ynode *r = deref(ld, root, n, depth);

		if (!r) {
			/* leave an empty scalar so later checks do not cascade */
			r = ynode_new(YNODE_SCALAR, &n->pos);
			r->str = xstrdup("");
			r->tag = xstrdup("!reference-error");
		}
		ynode_free(n);
		*slot = r;
		return;
	}
	if (n->tag && n->tag[0] == '!' && n->tag[1] != '!' &&
	    strcmp(n->tag, "!reference-error")) {
		diag_error(ld->d, &n->pos, "unknown YAML tag \"%s\"", n->tag);
		free(n->tag);
		n->tag = NULL;
	}
	for (i = 0; i < n->nr; i++)
		resolve_refs(ld, root, &n->items[i], depth);
	for (i = 0; i < n->pairs_nr; i++)
		resolve_refs(ld, root, &n->pairs[i].val, depth);
}

/* --- entry point ------------------------------------------------------- */

/*
 * What a job's supervisor needs to plan that job alone (load_opts.cut):
 * the resolved root's top-level keywords, and each job's resolved node.
 */
static void keep_cuts(struct pipeline *p, const struct ynode *root)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i, k, n = 0;
	/* the model's jobs are the root's job pairs, in order */
	char *is_job = xcalloc(root->pairs_nr + 1, 1);

	for (i = k = 0; i < root->pairs_nr; i++) {
		const char *key = root->pairs[i].key;

		if (k < p->jobs_nr && !strcmp(key, p->jobs[k]->name)) {
			is_job[i] = 1;
			k++;
		} else if (key[0] != '.') {
			n++;	/* hidden keys were merged where they are used */
		}
	}
	strbuf_addf(&sb, "M%zu:", n);
	for (i = 0; i < root->pairs_nr; i++) {
		const struct ypair *kv = &root->pairs[i];

		if (is_job[i] || kv->key[0] == '.')
			continue;
		strbuf_addf(&sb, "%zu:%s", strlen(kv->key), kv->key);
		ynode_encode(&sb, kv->val);
	}
	p->cut_globals = strbuf_detach(&sb, NULL);
	for (i = k = 0; i < root->pairs_nr; i++) {
		if (!is_job[i])
			continue;
		strbuf_addf(&sb, "M1:%zu:%s", strlen(root->pairs[i].key), root->pairs[i].key);
		ynode_encode(&sb, root->pairs[i].val);
		p->jobs[k++]->cut = strbuf_detach(&sb, NULL);
	}
	free(is_job);
	strbuf_release(&sb);
}

void pipeline_free(struct pipeline *p);

static int file_exists(const char *root, const char *rel)
{
	struct strbuf sb = STRBUF_INIT;
	int r;

	strbuf_addf(&sb, "%s/%s", root, rel);
	r = !access(sb.buf, F_OK);
	strbuf_release(&sb);
	return r;
}

int pipeline_load(const struct load_opts *opts, struct pipeline **ret,
		  struct diag *d)
{
	struct loader ld;
	struct pipeline *p;
	struct ynode *root;
	const char *file;
	size_t errors = d->errors;
	size_t i;

	memset(&ld, 0, sizeof(ld));
	ld.opts = opts;
	ld.d = d;
	ld.root = opts->root && *opts->root ? opts->root : ".";
	ld.max_file_size = opts->max_file_size ? opts->max_file_size :
		DEFAULT_MAX_FILE_SIZE;
	ld.max_includes = opts->max_includes ? opts->max_includes :
		DEFAULT_MAX_INCLUDES;
	ld.budget = LOAD_NODE_BUDGET;

	p = xcalloc(1, sizeof(*p));
	strvec_init(&p->files);
	strvec_init(&p->stages);
	varlist_init(&p->variables);
	ld.p = p;

	if (opts->file)
		file = opts->file;
	else if (file_exists(ld.root, ".cidre.yml"))
		file = ".cidre.yml";
	else
		file = ".gitlab-ci.yml";
	p->file = xstrdup(file);
	if (!opts->file && !file_exists(ld.root, file)) {
		struct pos pos = { intern_file(&ld, file), 0, 0 };

		diag_error(d, &pos, "no pipeline file: neither .cidre.yml nor "
			   ".gitlab-ci.yml exists in %s", ld.root);
		pipeline_free(p);
		return -1;
	}

	root = load_file(&ld, file, NULL, 0);
	free(ld.chain);
	if (root) {
		process_extends(&ld, root);
		for (i = 0; i < root->pairs_nr && !ld.budget_hit; i++)
			resolve_refs(&ld, root, &root->pairs[i].val, 0);
		if (!ld.budget_hit)
			pipeline_model_build(p, root, d);
		if (opts->cut && d->errors == errors)
			keep_cuts(p, root);
		ynode_free(root);
	}
	if (d->errors > errors) {
		pipeline_free(p);
		return -1;
	}
	*ret = p;
	return 0;
}

int pipeline_load_cut(const struct load_opts *opts, const char *globals,
		      const char *cut, struct pipeline **ret, struct diag *d)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	struct strbuf err = STRBUF_INIT;
	struct ynode *root, *job = NULL;
	struct pos pos;
	size_t errors = d->errors;

	strvec_init(&p->files);
	strvec_init(&p->stages);
	varlist_init(&p->variables);
	p->one_job = 1;
	p->file = xstrdup(opts->file && *opts->file ? opts->file : ".gitlab-ci.yml");
	strvec_push(&p->files, p->file);
	pos.file = p->files.v[0];
	pos.line = pos.col = 0;
	root = ynode_decode(globals, strlen(globals), &pos, LOAD_NODE_BUDGET, &err);
	if (root && root->type != YNODE_MAP)
		strbuf_addstr(&err, "resolved pipeline text: the globals are not a map");
	else if (root && !(job = ynode_decode(cut, strlen(cut), &pos, LOAD_NODE_BUDGET, &err)))
		;
	else if (root && (job->type != YNODE_MAP || job->pairs_nr != 1 ||
			  pipeline_is_global_keyword(job->pairs[0].key) ||
			  job->pairs[0].key[0] == '.' || ymap_find(root, job->pairs[0].key)))
		strbuf_addstr(&err, "resolved pipeline text: not one job");
	if (err.len) {
		diag_error(d, &pos, "%s", err.buf);
	} else {
		ymap_set_take(root, job->pairs[0].key, &pos, job->pairs[0].val);
		job->pairs[0].val = NULL;
		pipeline_model_build(p, root, d);
	}
	ynode_free(job);
	ynode_free(root);
	strbuf_release(&err);
	if (d->errors > errors) {
		pipeline_free(p);
		return -1;
	}
	*ret = p;
	return 0;
}
