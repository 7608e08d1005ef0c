#include "pipeline/vars.h"

#include <string.h>

#include "util/xalloc.h"

void varlist_init(struct varlist *vl)
{
	memset(vl, 0, sizeof(*vl));
}

void varlist_clear(struct varlist *vl)
{
	size_t i;

	for (i = 0; i < vl->nr; i++) {
		free(vl->v[i].key);
		free(vl->v[i].value);
		free(vl->v[i].description);
	}
	free(vl->v);
	varlist_init(vl);
}

struct var *varlist_find(const struct varlist *vl, const char *key)
{
	size_t i;

	for (i = 0; i < vl->nr; i++)
		if (!strcmp(vl->v[i].key, key))
			return &vl->v[i];
	return NULL;
}

const char *varlist_get(const struct varlist *vl, const char *key)
{
	struct var *v = varlist_find(vl, key);

	return v ? v->value : NULL;
}

struct var *varlist_set(struct varlist *vl, const char *key, const char *value)
{
	struct var *v = varlist_find(vl, key);

	if (v) {
		char *nv = xstrdup(value);

		free(v->value);
		v->value = nv;
		return v;
	}
	ALLOC_GROW(vl->v, vl->nr + 1, vl->alloc);
	v = &vl->v[vl->nr++];
	memset(v, 0, sizeof(*v));
	v->key = xstrdup(key);
	v->value = xstrdup(value);
	v->expand = 1;
	return v;
}

void varlist_merge(struct varlist *dst, const struct varlist *src)
{
	size_t i;

	if (!dst->nr) {
		/* src's keys are unique: no lookups (the common first merge) */
		ALLOC_GROW(dst->v, src->nr, dst->alloc);
		for (i = 0; i < src->nr; i++) {
			struct var *v = &dst->v[i];

			memset(v, 0, sizeof(*v));
			v->key = xstrdup(src->v[i].key);
			v->value = xstrdup(src->v[i].value);
			v->expand = src->v[i].expand;
			v->pos = src->v[i].pos;
			v->description = xstrdup_or_null(src->v[i].description);
		}
		dst->nr = src->nr;
		return;
	}
	for (i = 0; i < src->nr; i++) {
		struct var *v = varlist_set(dst, src->v[i].key, src->v[i].value);

		v->expand = src->v[i].expand;
		v->pos = src->v[i].pos;
		if (src->v[i].description) {
			free(v->description);
			v->description = xstrdup(src->v[i].description);
		}
	}
}

void varlist_copy(struct varlist *dst, const struct varlist *src)
{
	varlist_merge(dst, src);
}

char **varlist_to_env(const struct varlist *vl)
{
	char **env = xcalloc(vl->nr + 1, sizeof(*env));
	size_t i;

	for (i = 0; i < vl->nr; i++)
		env[i] = xasprintf("%s=%s", vl->v[i].key, vl->v[i].value);
	env[vl->nr] = NULL;
	return env;
}

void varlist_env_free(char **env)
{
	size_t i;

	if (!env)
		return;
	for (i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}
