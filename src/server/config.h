#ifndef CIDRE_SERVER_CONFIG_H
#define CIDRE_SERVER_CONFIG_H

/*
 * The server's configuration file (YAML, DATA/config.yml by default):
 *
 *   listen: 127.0.0.1:8080
 *   store: sqlite:/var/lib/cidre/cidre.db   # default DATA/cidre.db
 *   runner:
 *     name: embedded
 *     slots: 2
 *   http:
 *     threads: 0          # 0: one per CPU
 *   limits:
 *     request_body: 1MiB
 *     log_size: 64MiB
 *     queue_length: 10000
 *     pipelines_per_push: 20
 *     artifacts_size: 1GiB
 *   poll:
 *     min_interval: 10
 *   schedules:               # pipeline schedules (docs/schedules.md)
 *     min_interval: 60       # seconds; a cron firing more often is refused
 *     max_per_project: 100
 *   url: https://ci.example.com    # links back in notifications; default: listen's
 *   smtp:                           # e-mail notifications (docs/notifications.md)
 *     url: smtp://127.0.0.1:25      # smtp:// or smtps://
 *     from: cidre@example.com
 *     username: cidre               # optional, with password
 *     password: secret
 *   notify:
 *     retry_base: 5s                # back-off: base x 1, 6, 24, 120, 720
 *     attempts: 6                   # then the delivery is marked failed
 *   artifacts:               # retention (docs/artifacts.md)
 *     expire_in: 30 days     # a job without artifacts:expire_in; or never
 *     keep_latest: true      # keep the newest successful pipeline's of each ref
 *   retention:
 *     interval: 600          # seconds between the reaper's rounds
 *     grace: 1h              # an unreferenced blob younger than this stays
 *   audit:
 *     keep_days: 365         # 0: keep forever; a fraction is allowed
 *   images: /srv/images      # the image store; default DATA/images
 *   executor:                # how jobs run (docs/sandbox.md)
 *     executor: shell        # or sandbox
 *     host_fallback: false   # shell: run jobs naming an image on the host
 *     network: false         # sandbox: share the host's network
 *     memory: 2GiB           # default limits of a job (cidre: keys win)
 *     pids: 1000
 *     cpus: 2
 *     uid: 65534             # sandbox: the job's uid and gid inside
 *     gid: 65534
 *     pull_policy: if-not-present  # or always, never: jobs naming none
 *   projects:                # the same settings for one project
 *     NAME: {executor: sandbox, network: true}
 *
 * Unknown keys and wrong types are errors with file:line:col. Sizes take
 * B, KiB, MiB, GiB (or k, M, G). SIGHUP reloads it: runner slots and
 * limits change at once; listen, store and http need a restart (a reload
 * that changes them says so and keeps the old values).
 */

#include <stddef.h>

#include "util/strbuf.h"

/* How jobs of a project run (executor: and projects.NAME:). */
struct server_exec {
	char project[128];      /* "" for executor: */
	int sandbox;            /* 1: the sandbox executor; -1 unset */
	int host_fallback;      /* -1 unset, 0, 1 */
	int network;            /* -1 unset, 0, 1 */
	long long memory, pids; /* 0 unset */
	double cpus;            /* 0 unset */
	int uid, gid;           /* sandbox: the job's ids inside; -1 unset */
	int pool;               /* sandbox: jobs from a pool daemon; -1 unset */
	unsigned pull_policy;   /* jobs naming none (JOB_PULL_*); 0 unset */
};

#define SERVER_MAX_EXEC_PROJECTS 64

struct server_config {
	char *listen;
	char *store;            /* NULL: DATA/cidre.db */
	char *runner_name;
	int slots;              /* jobs at once on the embedded runner, 1..256 */
	int http_threads;       /* 0: number of CPUs */
	size_t max_request_body;
	int max_connections;    /* limits.connections */
	int max_per_client;     /* limits.connections_per_client */
	size_t max_log;
	int max_queue;          /* pending jobs; a trigger beyond gets 503 */
	int max_pipelines_per_push;
	size_t max_artifacts;   /* per job */
	int poll_min_interval;  /* seconds */
	int schedules_min_interval; /* seconds: a schedule may not fire more often */
	int schedules_max_per_project;
	/* notifications (src/notify/); strings: read under cfg_lock and copied */
	char *public_url;       /* NULL: the listening URL */
	char *smtp_url, *smtp_from, *smtp_username, *smtp_password;
	int notify_retry_base_ms;
	int notify_attempts;
	int events_backlog;     /* status events kept for resume (read at start) */
	long long artifacts_expire_s; /* artifacts.expire_in: seconds; -1 never */
	int artifacts_keep_latest;
	int retention_interval; /* seconds between the reaper's rounds, >= 1 */
	long long retention_grace_s; /* an unreferenced blob younger than this stays */
	double audit_keep_days; /* 0: forever */
	char *images;           /* the image store; NULL: DATA/images */
	/*
	 * include:remote: the URL prefixes pipeline files may include from
	 * (include_remote_nr of them, each a NUL-terminated string in one
	 * block); include_remote_set 0: any http(s) URL. Read under cfg_lock.
	 */
	char *include_remote;
	int include_remote_nr;
	int include_remote_set;
	struct server_exec exec;
	struct server_exec exec_projects[SERVER_MAX_EXEC_PROJECTS];
	int exec_projects_nr;
};

/* The settings for project's jobs: its projects: entry over executor:. */
void server_config_exec(const struct server_config *c, const char *project,
			struct server_exec *out);

void server_config_defaults(struct server_config *c);
/*
 * Whether a pipeline file may include url (include_remote); 0, or -1
 * with the reason in err.
 */
int server_config_remote_ok(const struct server_config *c, const char *url,
			    struct strbuf *err);
void server_config_release(struct server_config *c);
/*
 * Read path over the defaults into c. A missing file is fine when
 * missing_ok (the defaults stand). 0, or -1 with every error in err.
 */
int server_config_load(const char *path, int missing_ok, struct server_config *c,
		       struct strbuf *err);
/* Parse "64MiB", "1k", "512": bytes. 0, or -1 on a bad size. */
int server_parse_size(const char *s, size_t *ret);

#endif
