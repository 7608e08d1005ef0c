/*
 * A server pipeline's planning context as JSON, and planning with it.
 */
#include "server/pctx.h"
#include "exec/fetch.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "git/mirror.h"
#include "util/xalloc.h"

void pctx_init(struct pctx *c)
{
	memset(c, 0, sizeof(*c));
	varlist_init(&c->predefined);
	varlist_init(&c->overrides);
	varlist_init(&c->inputs);
	strvec_init(&c->changed);
	strvec_init(&c->files);
}

void pctx_release(struct pctx *c)
{
	if (!c)
		return;
	free(c->file);
	free(c->parent);
	c->parent = NULL;
	varlist_clear(&c->predefined);
	varlist_clear(&c->overrides);
	varlist_clear(&c->inputs);
	strvec_clear(&c->changed);
	strvec_clear(&c->files);
	c->file = NULL;
}

static json_t *vars_obj(const struct varlist *vl)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < vl->nr; i++)
		json_object_set_new(o, vl->v[i].key,
				    json_string(vl->v[i].value ? vl->v[i].value : ""));
	return o;
}

static int obj_vars(json_t *o, struct varlist *out, struct strbuf *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o)) {
		strbuf_addstr(err, "variables must be an object of strings");
		return -1;
	}
	json_object_foreach(o, k, v) {
		if (!json_is_string(v)) {
			strbuf_addf(err, "variable %s: the value must be a string", k);
			return -1;
		}
		varlist_set(out, k, json_string_value(v));
	}
	return 0;
}

char *pctx_vars_json(const struct varlist *vl)
{
	json_t *o = vars_obj(vl);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(o);
	return s;
}

int pctx_vars_parse(const char *json, struct varlist *out, struct strbuf *err)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);
	int rc;

	if (!o) {
		strbuf_addf(err, "bad variables JSON: %s", je.text);
		return -1;
	}
	rc = obj_vars(o, out, err);
	json_decref(o);
	return rc;
}

char *pctx_to_json(const struct pctx *c)
{
	json_t *o = json_object(), *ch;
	size_t i;
	char *s;

	if (c->file)
		json_object_set_new(o, "file", json_string(c->file));
	json_object_set_new(o, "predefined", vars_obj(&c->predefined));
	json_object_set_new(o, "overrides", vars_obj(&c->overrides));
	if (c->inputs.nr)
		json_object_set_new(o, "inputs", vars_obj(&c->inputs));
	if (c->has_changed) {
		ch = json_array();
		for (i = 0; i < c->changed.nr; i++)
			json_array_append_new(ch, json_string(c->changed.v[i]));
		json_object_set_new(o, "changed", ch);
	} else {
		json_object_set_new(o, "changed", json_null());
	}
	if (c->has_files) {
		ch = json_array();
		for (i = 0; i < c->files.nr; i++)
			json_array_append_new(ch, json_string(c->files.v[i]));
		json_object_set_new(o, "files", ch);
		json_object_set_new(o, "files_more", json_integer((json_int_t)c->files_more));
	} else if (c->parent) {
		json_object_set_new(o, "parent", json_string(c->parent));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

void pctx_set_files(struct pctx *c, const struct strvec *list)
{
	size_t i;

	strvec_clear(&c->files);
	for (i = 0; i < list->nr && i < PCTX_MAX_FILES; i++)
		strvec_push(&c->files, list->v[i]);
	c->files_more = list->nr - i;
	c->has_files = 1;
}

int pctx_from_json(const char *json, struct pctx *c, struct strbuf *err)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je), *v;
	size_t i;
	int rc = -1;

	if (!o || !json_is_object(o)) {
		strbuf_addf(err, "bad pipeline context: %s", o ? "not an object" : je.text);
		goto done;
	}
	v = json_object_get(o, "file");
	if (json_is_string(v))
		c->file = xstrdup(json_string_value(v));
	v = json_object_get(o, "predefined");
	if (v && obj_vars(v, &c->predefined, err) < 0)
		goto done;
	v = json_object_get(o, "overrides");
	if (v && obj_vars(v, &c->overrides, err) < 0)
		goto done;
	v = json_object_get(o, "inputs");
	if (v && obj_vars(v, &c->inputs, err) < 0)
		goto done;
	v = json_object_get(o, "changed");
	if (json_is_array(v)) {
		c->has_changed = 1;
		for (i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			if (json_is_string(e))
				strvec_push(&c->changed, json_string_value(e));
		}
	}
	v = json_object_get(o, "files");
	if (json_is_array(v)) {
		c->has_files = 1;
		for (i = 0; i < json_array_size(v) && i < PCTX_MAX_FILES; i++) {
			json_t *e = json_array_get(v, i);

			if (json_is_string(e))
				strvec_push(&c->files, json_string_value(e));
		}
		v = json_object_get(o, "files_more");
		if (json_is_integer(v) && json_integer_value(v) > 0)
			c->files_more = (size_t)json_integer_value(v);
	}
	v = json_object_get(o, "parent");
	if (!c->has_files && json_is_string(v))
		c->parent = xstrdup(json_string_value(v));
	rc = 0;
done:
	json_decref(o);
	return rc;
}

/* rules:changes:compare_to: from the merge base of ref and the commit */
static int mirror_since(void *ud, const char *ref, struct strvec *out, struct strbuf *err)
{
	const struct pctx *c = ud;

	return mirror_changed_since(c->mirror, ref, varlist_get(&c->predefined, "CI_COMMIT_SHA"),
				    out, err);
}

/* include:rules:changes: the push's files, when the context has them */
static const struct strvec *push_changed(void *ud)
{
	const struct pctx *c = ud;

	return c->has_changed ? &c->changed : NULL;
}

static int plan(const char *root, const struct pctx *c, const char *one_job,
		const char *globals, const char *cut, struct pipeline **ret_p,
		struct plan *ret_plan, struct diag *d)
{
	struct load_opts lo;
	struct plan_ctx ctx;
	struct varlist pre = VARLIST_INIT;
	struct pipeline *p = NULL;
	int rc;

	memset(&lo, 0, sizeof(lo));
	lo.root = root;
	lo.file = c->file;
	varlist_copy(&pre, &c->predefined);
	varlist_merge(&pre, &c->overrides);
	lo.vars = &pre;
	lo.changed = push_changed;
	lo.changed_ud = (void *)c;
	if (c->mirror) {
		lo.changed_since = mirror_since;
		lo.changed_since_ud = (void *)c;
	}
	lo.project_file = c->project_file;
	lo.project_file_ud = c->project_file_ud;
	lo.remote_file = c->remote_file ? c->remote_file : fetch_url;
	lo.remote_file_ud = c->remote_file_ud;
	lo.inputs = &c->inputs;
	if (globals) {
		const struct var *cf = varlist_find(&c->predefined, "CI_CONFIG_PATH");

		lo.file = c->file ? c->file : cf ? cf->value : NULL;
		rc = pipeline_load_cut(&lo, globals, cut, &p, d);
	} else {
		lo.cut = !one_job;
		rc = pipeline_load(&lo, &p, d);
	}
	varlist_clear(&pre);
	if (rc < 0) {
		diag_sort(d);
		return -1;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.predefined = &c->predefined;
	ctx.overrides = &c->overrides;
	ctx.project_dir = root;
	ctx.changed = c->has_changed ? &c->changed : NULL;
	if (c->mirror) {
		ctx.changed_since = mirror_since;
		ctx.changed_since_ud = (void *)c;
	}
	ctx.one_job = one_job;
	memset(ret_plan, 0, sizeof(*ret_plan));
	if (plan_build(p, &ctx, ret_plan, d) < 0) {
		pipeline_free(p);
		return -1;
	}
	*ret_p = p;
	return 0;
}

int pctx_plan(const char *root, const struct pctx *c, const char *one_job,
	      struct pipeline **ret_p,
	      struct plan *ret_plan, struct diag *d)
{
	return plan(root, c, one_job, NULL, NULL, ret_p, ret_plan, d);
}

int pctx_plan_cut(const char *root, const struct pctx *c, const char *instance,
		  const char *globals, const char *cut,
		  struct pipeline **ret_p, struct plan *ret_plan, struct diag *d)
{
	return plan(root, c, instance, globals, cut, ret_p, ret_plan, d);
}
