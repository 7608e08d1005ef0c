#ifndef CIDRE_LOADER_H
#define CIDRE_LOADER_H

/*
 * Internal interface between the two halves of the pipeline loader:
 * load.c reads files and resolves include, extends and !reference on the
 * YAML tree; model.c turns the resolved tree into struct pipeline.
 * Not for use outside src/pipeline/.
 */

#include "pipeline/model.h"
#include "pipeline/yaml.h"

#define PIPELINE_MAX_JOBS 2000
#define PIPELINE_MAX_DEPTH 100
#define PIPELINE_MAX_EXTENDS_DEPTH 11
#define PIPELINE_MAX_REFERENCE_DEPTH 10
#define PIPELINE_MAX_INCLUDE_DEPTH 100

/* 1 if key is a top-level keyword rather than a job name. */
int pipeline_is_global_keyword(const char *key);
/* The global keyword key is a typo of, if it is one (util/suggest.h), or NULL */
const char *pipeline_global_keyword_near(const char *key);

/*
 * Fill p (stages, variables, workflow, jobs) from the fully resolved root
 * map, applying default: and inherit:, type-checking every keyword and
 * checking cross-job references (stages, needs, dependencies). Every
 * problem is added to d.
 */
void pipeline_model_build(struct pipeline *p, const struct ynode *root,
			  struct diag *d);

#endif
