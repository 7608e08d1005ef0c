#ifndef CIDRE_WEBHOOK_H
#define CIDRE_WEBHOOK_H

/*
 * Forge push webhooks (GitHub, GitLab, Gitea and Forgejo, Gogs):
 * authenticate, classify and parse one delivery. No I/O: the caller hands over the headers and body
 * and acts on the result. See docs/internals/forge.md.
 */

#include <stddef.h>

#include "util/strbuf.h"

/* Bodies over this many bytes are refused (GitHub caps payloads at 25 MB). */
#define WEBHOOK_DEFAULT_MAX_BODY (25u * 1024 * 1024)

/* The header values of one delivery (NULL when absent) and its body. */
struct webhook_input {
	const char *github_event;      /* X-GitHub-Event */
	const char *github_signature;  /* X-Hub-Signature-256 */
	const char *gitlab_event;      /* X-Gitlab-Event */
	const char *gitlab_token;      /* X-Gitlab-Token */
	const char *gitea_event;       /* X-Gitea-Event (Forgejo sends it too) */
	const char *gitea_signature;   /* X-Gitea-Signature */
	const char *gogs_event;        /* X-Gogs-Event */
	const char *gogs_signature;    /* X-Gogs-Signature */
	/*
	 * Content-Type: application/x-www-form-urlencoded is a "form"
	 * delivery (the JSON in the payload field), anything else JSON.
	 */
	const char *content_type;
	const void *body;
	size_t len;
	size_t max_body;               /* 0 = WEBHOOK_DEFAULT_MAX_BODY */
};

/*
 * Fill in's header fields through a case-insensitive header lookup
 * (e.g. http_request_header with its request as ctx). Body untouched.
 */
void webhook_input_headers(struct webhook_input *in,
			   const char *(*header)(void *ctx, const char *name),
			   void *ctx);

enum webhook_forge {
	WEBHOOK_GITHUB = 1,
	WEBHOOK_GITLAB,
	WEBHOOK_GITEA,
	WEBHOOK_GOGS,
};

/* Results of webhook_parse(). */
#define WEBHOOK_PUSH          0   /* *ret filled: create a pipeline */
#define WEBHOOK_MERGE_REQUEST 2   /* *ret filled, its mr fields too: a merge request pipeline */
#define WEBHOOK_MERGE_REQUEST_STATE 3 /* *ret filled: a merge request's state, nothing to build */
#define WEBHOOK_IGNORED       1   /* authentic, not a push to build (202) */
#define WEBHOOK_UNAUTHORIZED (-1) /* no secret, bad signature/token (401) */
#define WEBHOOK_BAD_REQUEST  (-2) /* unknown forge, bad JSON, too big (400/413) */

/* One push. Every string is owned and non-NULL ("" when the forge sent none). */
struct webhook_push {
	enum webhook_forge forge;
	char *ref;        /* full name: "refs/heads/main", "refs/tags/v1" */
	char *before;     /* 40 hex, all zeros for a new branch */
	char *after;      /* 40 hex: the commit to build */
	char *clone_url;  /* https clone URL of the repository */
	char *repo_name;  /* "owner/name" (GitLab: path_with_namespace) */
	char *pusher;     /* login of who pushed */
	char *message;    /* the head commit's message (a merge request's title) */
	/*
	 * A merge request (pull request) opened, reopened or given new
	 * commits: ref is refs/heads/SOURCE, after its head, before "".
	 */
	long long mr_iid;      /* its number in the project (GitHub's, Gitea's number) */
	char *mr_title;
	char *mr_url;          /* its web page, or "" */
	char *target_branch;   /* the branch it would merge into */
	char *target_sha;      /* that branch's head the forge saw, or "" */
	char *mr_state;        /* opened, closed, merged (locked: GitLab's) */
};
#define WEBHOOK_PUSH_INIT { 0 }

/* Free the strings and reset to WEBHOOK_PUSH_INIT. */
void webhook_push_clear(struct webhook_push *p);

/*
 * Authenticate and parse one delivery against the project's secret
 * (NULL or "" = none configured: always WEBHOOK_UNAUTHORIZED).
 *
 * The forge is Gitea if X-Gitea-Event is present (Gitea and Forgejo
 * also send X-Gogs-Event and X-GitHub-Event), else Gogs if X-Gogs-Event
 * is, else GitLab if X-Gitlab-Event is, else GitHub if X-GitHub-Event
 * is; none is WEBHOOK_BAD_REQUEST. The signature or token is checked
 * (constant time) before the JSON is parsed: GitHub's over the body as
 * sent, Gitea's and Gogs' over the JSON (a form delivery's payload field,
 * decoded), as each forge signs. A push whose
 * "after" is all zeros (deletion) is WEBHOOK_IGNORED; a tag push is a
 * push (ref keeps its refs/tags/ name; the caller decides).
 *
 * Merge requests: GitHub's and Gitea's pull_request (opened, reopened,
 * synchronize[d]) and GitLab's Merge Request Hook (open, reopen, and
 * update with new commits) are WEBHOOK_MERGE_REQUEST; their other
 * actions are WEBHOOK_MERGE_REQUEST_STATE (what the request is now:
 * open, closed, merged), or WEBHOOK_IGNORED when the event does not say.
 *
 * Returns one of WEBHOOK_*; *ret is written only for WEBHOOK_PUSH and
 * WEBHOOK_MERGE_REQUEST[_STATE]; err says why for every other result
 * (and, for WEBHOOK_MERGE_REQUEST_STATE, why nothing is built).
 */
int webhook_parse(const struct webhook_input *in, const char *secret,
		  struct webhook_push *ret, struct strbuf *err);

#endif
