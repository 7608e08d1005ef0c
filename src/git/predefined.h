#ifndef CIDRE_PREDEFINED_H
#define CIDRE_PREDEFINED_H

#include "git/gitinfo.h"
#include "pipeline/vars.h"

struct ci_predef {
	const char *builds_dir;   /* CI_BUILDS_DIR */
	const char *file;         /* CI_CONFIG_PATH */
	const char *source;       /* CI_PIPELINE_SOURCE */
	const char *runner;       /* CI_RUNNER_DESCRIPTION */
	const char *project;      /* CI_PROJECT_NAME; NULL: toplevel's base name */
	const char *namespace;    /* CI_PROJECT_NAMESPACE; NULL: "local" */
	long long pipeline_id;    /* CI_PIPELINE_ID and _IID */
	/* the server's own URL (no trailing slash), or NULL (cidre run):
	   CI_SERVER_URL and the rest, CI_PROJECT_URL, CI_PIPELINE_URL,
	   CI_PAGES_URL */
	const char *server_url;
};

/*
 * GitLab's pipeline-level predefined variables for gi's commit, set in
 * vl (CI, CI_COMMIT_*, CI_PIPELINE_*, CI_PROJECT_*, CI_RUNNER_*, ...).
 */
void ci_predefined(const struct gitinfo *gi, const struct ci_predef *o,
		   struct varlist *vl);

/* GitLab's slug: lowercase, [a-z0-9] kept, others one '-', 63 bytes. */
void ci_slugify(struct strbuf *out, const char *s);

#endif
