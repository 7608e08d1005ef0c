#ifndef CIDRE_YAML_H
#define CIDRE_YAML_H

/*
 * A small YAML node tree for the pipeline loader: maps, sequences and
 * scalars, each with the file:line:col it came from and its tag. Built
 * from libfyaml's event stream with anchors and aliases expanded (aliases
 * are deep copies), YAML merge keys (`<<`) applied and duplicate keys
 * reported. Every node is owned by its parent; ynode_free() frees a
 * subtree.
 *
 * The builder enforces limits: nesting depth and the number of nodes
 * (which bounds alias expansion, the "billion laughs").
 */

#include <stddef.h>

#include "util/diag.h"

enum ynode_type {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

/* How a scalar resolves (YAML 1.1 as GitLab's Ruby parser reads it). */
enum yscalar_kind {
	YS_NULL,
	YS_BOOL,
	YS_INT,
	YS_FLOAT,
	YS_STR,
};

struct ynode;

struct ypair {
	char *key;
	struct pos key_pos;
	struct ynode *val;
};

struct ynode {
	enum ynode_type type;
	struct pos pos;
	char *tag;            /* e.g. "!reference"; NULL without a tag */
	/* YNODE_SCALAR */
	char *str;
	int plain;            /* unquoted: subject to null/bool/int resolution */
	/* YNODE_SEQ */
	struct ynode **items;
	size_t nr, alloc;
	/* YNODE_MAP, in file order, keys unique */
	struct ypair *pairs;
	size_t pairs_nr, pairs_alloc;
};

struct yaml_limits {
	int max_depth;        /* nesting levels; 0 = 100 */
	size_t max_nodes;     /* per document after alias expansion; 0 = 500000 */
	/*
	 * A duplicate key is a warning, not an error: GitLab's Ruby parser
	 * takes the later value without a word, and pipelines rely on it.
	 */
	int dup_keys_warn;
};

/*
 * Parse buf (len bytes) as YAML. file is the interned name used in every
 * position (it must outlive the nodes and d). Each document becomes one
 * tree; an empty stream yields no documents. On success returns 0 and
 * sets *ret_docs (malloc'ed array, free with yaml_docs_free) and *ret_nr.
 * Recoverable problems (a duplicate key: the later value wins, as in
 * GitLab, an error or with lim->dup_keys_warn a warning; a non-scalar
 * key: dropped) are added to d and a tree is still
 * returned, so the caller can go on and report more. Fatal ones (syntax,
 * unknown alias, limits) are added to d and -1 is returned.
 */
int yaml_parse(const char *file, const char *buf, size_t len,
	       const struct yaml_limits *lim, struct ynode ***ret_docs,
	       size_t *ret_nr, struct diag *d);
void yaml_docs_free(struct ynode **docs, size_t nr);

struct ynode *ynode_new(enum ynode_type type, const struct pos *pos);
struct ynode *ynode_new_scalar(const char *s, const struct pos *pos);
/* Frees node and its subtree; NULL is fine. */
void ynode_free(struct ynode *node);
/*
 * Deep copy. When budget is not NULL each copied node decrements *budget
 * and NULL is returned (nothing allocated) once it would go below zero.
 */
struct ynode *ynode_dup(const struct ynode *node, size_t *budget);
size_t ynode_count(const struct ynode *node);

enum yscalar_kind yscalar_kind(const struct ynode *node);
/* 1 if node is a scalar resolving to null (or node is NULL). */
int ynode_is_null(const struct ynode *node);
/*
 * The text GitLab gets for a plain scalar that its parser (Ruby's Psych,
 * YAML 1.1) reads as a number and then turns back into a string with
 * to_s: 3.10 is "3.1", 010 is "8", 0x1F "31", 1_000 "1000", 1:30 "5400".
 * Any other node's text is returned as it is. The result is node->str or
 * buf->buf; buf is reset first.
 */
const char *yscalar_ruby_str(const struct ynode *node, struct strbuf *buf);
const char *ynode_type_name(const struct ynode *node);

/* Map access; NULL when node is not a map or key is absent. */
struct ypair *ymap_find(const struct ynode *map, const char *key);
struct ynode *ymap_get(const struct ynode *map, const char *key);
/* Add or replace key (takes ownership of val). */
void ymap_set_take(struct ynode *map, const char *key,
		   const struct pos *key_pos, struct ynode *val);
/* Remove key and free its value; no-op when absent. */
void ymap_del(struct ynode *map, const char *key);
/* Detach and return the value of key (the pair is removed). */
struct ynode *ymap_take(struct ynode *map, const char *key);
void yseq_push_take(struct ynode *seq, struct ynode *item);

/*
 * GitLab's (Rails') deep_merge: for each key of src, when both values are
 * maps merge them recursively, else dst's value is replaced by a copy of
 * src's. Returns -1 (dst partially merged) when the budget runs out.
 */
int ynode_deep_merge(struct ynode *dst, const struct ynode *src,
		     size_t *budget);

/*
 * The exact text form of a tree (ycode.c): tags, plain/quoted scalars,
 * sequences and maps in order, without positions. ynode_encode appends
 * n's to sb. ynode_decode reads len bytes of s back, every node at pos,
 * at most max_nodes of them; NULL with err on anything else than one
 * whole node.
 */
struct strbuf;
void ynode_encode(struct strbuf *sb, const struct ynode *n);
struct ynode *ynode_decode(const char *s, size_t len, const struct pos *pos,
			   size_t max_nodes, struct strbuf *err);

/* Parsers kept undestroyed after a failed stream (see yaml.c), for tests. */
size_t yaml_kept_parsers(void);

#endif
