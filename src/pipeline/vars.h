#ifndef CIDRE_VARS_H
#define CIDRE_VARS_H

#include <stddef.h>

#include "util/diag.h"
#include "util/strbuf.h"

/*
 * CI/CD variables: an ordered list of key/value pairs. Keys are unique
 * within one list (varlist_set replaces). Layers of precedence are built
 * by applying lists one over another (varlist_merge).
 */
struct var {
	char *key;
	char *value;
	char *description; /* `value`/`description` form; NULL otherwise */
	int expand;        /* 0 for `expand: false`: value used verbatim */
	struct pos pos;
};

struct varlist {
	struct var *v;
	size_t nr, alloc;
};

#define VARLIST_INIT { NULL, 0, 0 }

void varlist_init(struct varlist *vl);
void varlist_clear(struct varlist *vl);
/* Set key to value (copies both); replaces an existing key in place. */
struct var *varlist_set(struct varlist *vl, const char *key, const char *value);
/* Value of key, or NULL. */
const char *varlist_get(const struct varlist *vl, const char *key);
struct var *varlist_find(const struct varlist *vl, const char *key);
/* Every variable of src set into dst (src wins). */
void varlist_merge(struct varlist *dst, const struct varlist *src);
void varlist_copy(struct varlist *dst, const struct varlist *src);
/* NULL-terminated "K=V" array (malloc'ed, free with varlist_env_free). */
char **varlist_to_env(const struct varlist *vl);
void varlist_env_free(char **env);

/*
 * Expand $VAR and ${VAR} in s as GitLab does for the keywords it expands:
 * unknown variables become empty, "$$" is a literal "$". Appends to out.
 * Nested references inside variable values are expanded too, to a fixed
 * depth, so A: "$B" with B: "x" expands to "x" (and cycles terminate).
 */
void vars_expand(const char *s, const struct varlist *vars, struct strbuf *out);
char *vars_expand_dup(const char *s, const struct varlist *vars);
/*
 * Expand every value in vl in place against the list itself (GitLab
 * expands variable values that reference other variables), honouring
 * `expand: false`.
 */
void vars_expand_all(struct varlist *vl);

#endif
