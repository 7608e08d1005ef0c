#ifndef CIDRE_INPUTS_H
#define CIDRE_INPUTS_H

/*
 * spec:inputs (GitLab's): a file's header document declares inputs;
 * include:inputs gives them values; "$[[ inputs.NAME ]]" (with the
 * functions expand_vars, truncate(a,b), posix_escape after "|") in the
 * file's values and keys is replaced. See inputs.c.
 */

#include <stddef.h>

#include "pipeline/vars.h"
#include "pipeline/yaml.h"
#include "util/diag.h"

/*
 * Interpolate doc (the file's content document) in place with the
 * inputs that header (its first document, {spec: {inputs: ...}}; NULL:
 * none) declares, valued by given (the include's inputs map, at
 * given_pos; NULL: the defaults). A whole value "$[[ inputs.x ]]" takes
 * the input's own type (number, boolean, array). vars: what expand_vars
 * expands. Nodes an array input copies count against *budget. Returns 0,
 * or -1 with the problems in d.
 */
int inputs_apply(struct diag *d, const char *file, const struct ynode *header,
		 const struct ynode *given, const struct pos *given_pos, struct ynode *doc,
		 const struct varlist *vars, size_t *budget);

#endif
