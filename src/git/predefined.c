/*
 * GitLab's predefined CI_* variables of a pipeline, from the facts about
 * its commit (struct gitinfo) and where and how it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "git/predefined.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

void ci_slugify(struct strbuf *out, const char *s)
{
	int dash = 0;

	for (; *s && out->len < 63; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			strbuf_addch(out, c);
			dash = 0;
		} else if (!dash && out->len) {
			strbuf_addch(out, '-');
			dash = 1;
		}
	}
	while (out->len && out->buf[out->len - 1] == '-')
		strbuf_setlen(out, out->len - 1);
}

static void set_slug(struct varlist *vl, const char *key, const char *value)
{
	struct strbuf sb = STRBUF_INIT;

	ci_slugify(&sb, value);
	varlist_set(vl, key, sb.buf);
	strbuf_release(&sb);
}

/*
 * What a server's URL ("https://ci.example.com:8443/cidre") says, as
 * GitLab's CI_SERVER_* variables, and its pages' URLs.
 */
static void server_urls(const char *url, const char *project, long long pipeline,
			struct varlist *vl)
{
	const char *sep = strstr(url, "://"), *hp, *end, *colon;
	char *scheme, *host, *port, *fqdn;
	struct strbuf s = STRBUF_INIT;

	if (!sep)
		return;
	scheme = xstrndup(url, (size_t)(sep - url));
	hp = sep + 3;
	end = hp + strcspn(hp, "/?#");
	if (*hp == '[') {
		const char *rb = memchr(hp, ']', (size_t)(end - hp));

		colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(hp, ':', (size_t)(end - hp));
	}
	host = xstrndup(hp, (size_t)((colon ? colon : end) - hp));
	port = colon ? xstrndup(colon + 1, (size_t)(end - colon - 1)) :
	       xstrdup(!strcmp(scheme, "https") ? "443" : "80");
	fqdn = xstrndup(hp, (size_t)(end - hp));
	varlist_set(vl, "CI_SERVER_URL", url);
	varlist_set(vl, "CI_SERVER_PROTOCOL", scheme);
	varlist_set(vl, "CI_SERVER_HOST", host);
	varlist_set(vl, "CI_SERVER_PORT", port);
	varlist_set(vl, "CI_SERVER_FQDN", fqdn);
	strbuf_addf(&s, "%s/p/%s", url, project);
	varlist_set(vl, "CI_PROJECT_URL", s.buf);
	strbuf_reset(&s);
	strbuf_addf(&s, "%s/pipelines/%lld", url, pipeline);
	varlist_set(vl, "CI_PIPELINE_URL", s.buf);
	strbuf_reset(&s);
	strbuf_addf(&s, "%s/pages/%s", url, project);
	varlist_set(vl, "CI_PAGES_URL", s.buf);
	varlist_set(vl, "CI_PAGES_HOSTNAME", host);
	strbuf_release(&s);
	free(scheme);
	free(host);
	free(port);
	free(fqdn);
}

static int is_merge_request(const char *source)
{
	return source && !strcmp(source, "merge_request_event");
}

void ci_predefined(const struct gitinfo *gi, const struct ci_predef *o,
		   struct varlist *vl)
{
	const char *ref = gi->branch ? gi->branch : gi->tag ? gi->tag : gi->sha;
	const char *name = o->project ? o->project : strrchr(gi->toplevel, '/');
	const char *nl;
	char num[32], when[64];
	time_t now = time(NULL);
	struct tm tm;

	if (!o->project)
		name = name && name[1] ? name + 1 : gi->toplevel;
	varlist_set(vl, "CI", "true");
	varlist_set(vl, "CIDRE", "true");
	varlist_set(vl, "CI_SERVER", "yes");
	varlist_set(vl, "CI_SERVER_NAME", "cidre");
	varlist_set(vl, "CI_SERVER_VERSION", CIDRE_VERSION);
	varlist_set(vl, "CI_COMMIT_SHA", gi->sha);
	snprintf(num, sizeof(num), "%.8s", gi->sha);
	varlist_set(vl, "CI_COMMIT_SHORT_SHA", num);
	varlist_set(vl, "CI_COMMIT_BEFORE_SHA", gi->before_sha);
	varlist_set(vl, "CI_COMMIT_REF_NAME", ref);
	set_slug(vl, "CI_COMMIT_REF_SLUG", ref);
	varlist_set(vl, "CI_COMMIT_REF_PROTECTED", "false");
	if (gi->branch && is_merge_request(o->source)) {
		/*
		 * A merge request pipeline of the branch into the default
		 * branch: GitLab sets no CI_COMMIT_BRANCH there, and the
		 * CI_MERGE_REQUEST_* variables that rules test instead.
		 */
		varlist_set(vl, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", gi->branch);
		varlist_set(vl, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
			    gi->default_branch);
		varlist_set(vl, "CI_MERGE_REQUEST_EVENT_TYPE", "detached");
		varlist_set(vl, "CI_MERGE_REQUEST_ID", "1");
		varlist_set(vl, "CI_MERGE_REQUEST_IID", "1");
	} else if (gi->branch) {
		varlist_set(vl, "CI_COMMIT_BRANCH", gi->branch);
	}
	if (gi->tag) {
		varlist_set(vl, "CI_COMMIT_TAG", gi->tag);
		varlist_set(vl, "CI_COMMIT_TAG_MESSAGE", gi->tag_message ? gi->tag_message : "");
	}
	varlist_set(vl, "CI_COMMIT_MESSAGE", gi->message);
	nl = strchr(gi->message, '\n');
	if (nl) {
		char *title = xstrndup(gi->message, (size_t)(nl - gi->message));
		const char *desc = nl + 1;

		while (*desc == '\n')
			desc++;
		varlist_set(vl, "CI_COMMIT_TITLE", title);
		varlist_set(vl, "CI_COMMIT_DESCRIPTION", desc);
		free(title);
	} else {
		varlist_set(vl, "CI_COMMIT_TITLE", gi->message);
		varlist_set(vl, "CI_COMMIT_DESCRIPTION", "");
	}
	varlist_set(vl, "CI_COMMIT_AUTHOR", gi->author);
	varlist_set(vl, "CI_COMMIT_TIMESTAMP", gi->timestamp);
	varlist_set(vl, "CI_DEFAULT_BRANCH", gi->default_branch);
	snprintf(num, sizeof(num), "%lld", o->pipeline_id);
	varlist_set(vl, "CI_PIPELINE_ID", num);
	varlist_set(vl, "CI_PIPELINE_IID", num);
	varlist_set(vl, "CI_PIPELINE_SOURCE", o->source);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	varlist_set(vl, "CI_PIPELINE_CREATED_AT", when);
	varlist_set(vl, "CI_PROJECT_NAME", name);
	varlist_set(vl, "CI_PROJECT_TITLE", name);
	varlist_set(vl, "CI_PROJECT_NAMESPACE", o->namespace ? o->namespace : "local");
	{
		struct strbuf p = STRBUF_INIT;

		strbuf_addf(&p, "%s/%s", o->namespace ? o->namespace : "local", name);
		varlist_set(vl, "CI_PROJECT_PATH", p.buf);
		set_slug(vl, "CI_PROJECT_PATH_SLUG", p.buf);
		strbuf_release(&p);
	}
	varlist_set(vl, "CI_PROJECT_ROOT_NAMESPACE", o->namespace ? o->namespace : "local");
	varlist_set(vl, "CI_REPOSITORY_URL", gi->remote_url ? gi->remote_url : gi->toplevel);
	varlist_set(vl, "CI_CONFIG_PATH", o->file);
	varlist_set(vl, "CI_BUILDS_DIR", o->builds_dir);
	varlist_set(vl, "CI_RUNNER_DESCRIPTION", o->runner);
	varlist_set(vl, "CI_RUNNER_EXECUTABLE_ARCH", "linux/amd64");
	varlist_set(vl, "CI_RUNNER_VERSION", CIDRE_VERSION);
	varlist_set(vl, "CI_JOB_STATUS", "running");
	if (o->server_url)
		server_urls(o->server_url, name, o->pipeline_id, vl);
}

