#ifndef CIDRE_SERVER_H
#define CIDRE_SERVER_H

/*
 * The server daemon: state shared by its parts. Private to src/server/.
 *
 * Threads:
 *  - the main thread: signals (SIGHUP reload, SIGTERM/SIGINT stop);
 *  - HTTP pool threads: API handlers (api.c), pipeline creation
 *    (create.c) for triggers and hooks;
 *  - the runner thread (runner.c): the only one that advances pipelines,
 *    claims jobs, starts and reaps job supervisors;
 *  - the poller thread (runner.c): fetches polled repositories;
 *  - the log watcher thread (logs.c): wakes live log streams;
 *  - the notify thread (src/notify/): deliveries to forges, webhooks, SMTP.
 * Every thread has its own store handle (server_store()). The database
 * is the truth; in-memory state is only what can be rebuilt from it at
 * start (recovery).
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "http/http.h"
#include "server/config.h"
#include "store/store.h"

struct events;
struct logs;
struct notify;
struct runner;

struct server {
	char *data;                 /* absolute data directory */
	char *config_path;
	char *store_url;
	char *url;                  /* http://HOST:PORT, once listening */

	pthread_mutex_t cfg_lock;   /* guards cfg (SIGHUP swaps it) */
	struct server_config cfg;
	int listen_override;        /* --listen given: the file's listen is not used */
	char **old_names;           /* runner names of replaced configs (freed at stop) */
	size_t old_names_nr, old_names_alloc;

	struct http_server *http;
	struct logs *logs;
	struct events *events;     /* status events (events.c) */
	struct runner *runner;      /* owned by the runner thread */
	struct notify *notify;      /* the notify thread's (src/notify/) */

	/* requests to the runner thread, under lock; kick_fd wakes it */
	pthread_mutex_t lock;
	int kick_fd;
	int64_t *dirty;             /* pipelines to advance */
	size_t dirty_nr, dirty_alloc;
	int64_t *kill;              /* running jobs to cancel */
	size_t kill_nr, kill_alloc;
	int64_t *orphans;           /* pipelines create() could not finish nor fail */
	size_t orphans_nr, orphans_alloc;
	atomic_int stopping;

	pthread_t runner_thread, poller;
	int poll_fd;                /* eventfd: wakes the poller (stop) */
	pthread_t reaper;           /* retention.c */
	int reaper_fd;              /* eventfd: wakes the reaper (stop) */
	int reaper_started;
	pthread_t scheduler;        /* schedule.c */
	int sched_fd;               /* eventfd: wakes the scheduler (change, stop) */
	int sched_started;

	/* metrics (since start) */
	atomic_llong jobs_finished, jobs_failed, pipelines_created;
	atomic_llong jobs_unrecorded;  /* ended, not recorded yet (the runner's) */
	long long trimmed_at;      /* the main thread's: work counted at the last malloc_trim */
	atomic_llong http_requests;
	atomic_llong reaped_blobs, reaped_bytes, artifacts_expired_jobs; /* the reaper's */
	atomic_llong job_ms_sum;
	atomic_llong job_seconds_bucket[8]; /* <=0.1 0.5 1 5 30 60 300 +Inf */
	int64_t started_ms;
};

/* This thread's store handle (opened on first use), or NULL with err. */
struct store *server_store(struct server *srv, struct strbuf *err);
/*
 * Close this thread's store handle, if it has one (the next
 * server_store() opens another): for a thread going idle, so that its
 * connection's statements, schema and page cache are not kept, and the
 * heap's free pages go back to the system. The stack's pages below the
 * caller go too (stack_trim()): call it at a shallow frame. No handle of
 * this thread may be in use.
 */
void server_store_release(struct server *srv);
/*
 * Like server_store_release(), but the connection stays open: only its
 * cached statements and pages go (store_shrink()). For a thread that
 * goes on using the store now and then while idle (the runner's claim
 * once a second).
 */
void server_store_shrink(struct server *srv);
/* A copy of the current config's scalars (strings not copied: do not keep them). */
void server_cfg(struct server *srv, struct server_config *out);

/* Ask the runner to advance pipeline id (0: just look for work). */
void server_kick(struct server *srv, int64_t pipeline_id);
/* Ask the runner to kill running job id (it records the job canceled). */
void server_kill_job(struct server *srv, int64_t job_id);
/*
 * Pipeline id was recorded but neither its jobs nor its failure could be
 * (the store cannot write: a full disk): the runner fails it once it can.
 */
void server_orphan_pipeline(struct server *srv, int64_t id);

int64_t server_now_ms(void);
/*
 * The address people reach the server at, without a trailing slash: the
 * configuration's url, else the listening URL (read under cfg_lock; the
 * caller frees it).
 */
char *server_base_url(struct server *srv);
/* DATA/<sub>/<id><ext> */
char *server_path(const struct server *srv, const char *sub, int64_t id, const char *ext);
/* DATA/repos/NAME.git */
char *server_mirror_path(const struct server *srv, const char *project);

/* Server log lines on stderr: "2026-11-27T23:10:04Z cidre[PID]: info: ..." */
void slog_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void slog_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- create.c ---- */

struct trigger {
	const struct store_project *project;
	/*
	 * A branch's name (or refs/heads/NAME), a tag's (refs/tags/NAME, or
	 * NAME with tag set); NULL: the default branch. A bare name that is
	 * no branch is looked up as a tag, as GitLab's ref.
	 */
	const char *ref;
	const char *sha;         /* NULL: the ref's head after a fetch */
	const char *before;      /* NULL or the previous head (push) */
	const char *source;      /* push, webhook, poll, api, schedule */
	const struct varlist *vars; /* trigger variables; may be NULL */
	const struct varlist *inputs; /* the file's spec:inputs (name -> YAML text); may be NULL */
	int64_t schedule_id;     /* source "schedule": the schedule's id, else 0 */
	int fetched;             /* the mirror was just fetched */
	int tag;                 /* ref names a tag */
	int skip_ci;             /* the push said ci.skip (git push -o ci.skip) */
	/*
	 * A merge request's pipeline (source merge_request_event, ref its
	 * source branch, sha its head): its number, title, web page, target
	 * branch and that branch's head as the forge saw it (may be NULL).
	 */
	long long mr_iid;
	const char *mr_title, *mr_url, *mr_target, *mr_target_sha;
	/*
	 * Optional: what the caller records with the pipeline (the audit
	 * entry), called in the transaction that records its jobs, so that
	 * it commits with them and the runner's claim of the first job never
	 * waits for a write of its own; called after the pipeline is
	 * recorded otherwise (a broken pipeline file).
	 */
	void (*record)(struct store *st, int64_t pipeline_id, void *ud);
	void *record_ud;
};

/*
 * Create a pipeline for t: fetch, read the pipeline file at the commit,
 * plan, record pipeline and jobs, auto-cancel redundant pipelines, kick
 * the runner. A broken pipeline file records a failed pipeline (its
 * error says file:line:col) and still returns 0. Returns 0 with
 * *ret_id; -1 when nothing was recorded, *ret_status the HTTP status
 * that fits (400, 404, 503, 500) and the reason in err.
 */
int server_create_pipeline(struct server *srv, const struct trigger *t,
			   int64_t *ret_id, int *ret_status, struct strbuf *err);

/*
 * A pipeline's variables as callers give them (the API's trigger, a
 * schedule): a JSON object of at most TRIGGER_MAX_VARIABLES string
 * values of at most TRIGGER_MAX_VALUE bytes, names
 * [A-Za-z_][A-Za-z0-9_]* of at most 255 bytes. 0, or -1 with the
 * refusal in msg. json_t is jansson's.
 */
#define TRIGGER_MAX_VARIABLES 200
/* Push options one hook call may carry (git push -o). */
#define HOOK_MAX_PUSH_OPTIONS 100
#define TRIGGER_MAX_VALUE SETTINGS_MAX_VALUE
struct json_t;
int trigger_variables_check(const struct json_t *v, struct strbuf *msg);

/* Fetch a mirror (one fetch at a time in this process). */
int server_fetch(const char *mirror, struct strbuf *err);
/*
 * Clones (clone.c): a project's first clone runs on a thread of its own.
 * server_clone_start registers it (CLONE_BUSY: that name is being cloned;
 * CLONE_FULL: too many at once; err says so) and starts it with copies of
 * p and public_read. server_clone_wait waits at most ms: 0 cloned (the
 * caller adds the project), -1 failed (err), 1 still cloning: its thread
 * adds the project when it ends, or records why it could not. Either way
 * the caller lets go of *c. server_clone_state: 1 name is being cloned,
 * 2 its last clone failed (failure), 0 neither; repo and since_ms set
 * for 1 and 2. server_clones_abandon at stop: clones ending later only
 * clean up. server_clones_sweep at start: what a stopped server's clones
 * left (DATA/repos/NAME.git.cloning) is removed.
 */
struct clone;
#define CLONE_BUSY -2
#define CLONE_FULL -3
int server_clone_start(struct server *srv, const struct store_project *p, int public_read,
		       struct clone **ret, struct strbuf *err);
int server_clone_wait(struct clone *c, int ms, struct strbuf *err);
int server_clone_state(const char *name, struct strbuf *repo, int64_t *since_ms,
		       struct strbuf *failure);
void server_clones_abandon(void);
void server_clones_sweep(const struct server *srv);

/*
 * The project a name or a GitLab path names: the project of that name,
 * else of the path's last part (`group/ci-templates`). 0, or
 * STORE_NOTFOUND ("no project NAME on this server") or -1, with err.
 */
int server_project_by_path(struct store *st, const char *project, struct store_project *p,
			   struct strbuf *err);
/*
 * The file at path (no leading '/') of project p at ref (NULL: its
 * default branch), from its mirror, appended to out: at most max bytes.
 * A ref the mirror lacks is fetched once. 0, STORE_NOTFOUND (no such
 * ref or file; too large) or -1, with err.
 */
int server_project_file(struct server *srv, const struct store_project *p, const char *ref,
			const char *file, size_t max, struct strbuf *out, struct strbuf *err);

/* Branch name matches the project's branches: comma-separated globs, "*" all. */
int server_branch_matches(const char *glob, const char *branch);
/*
 * Whether branch is protected in project p: it matches one of
 * p->protected_branches, or, when that is NULL, it is default_branch
 * (the repository's; NULL: none known). Protected variables go only to
 * the jobs of pipelines made on a protected branch.
 */
int server_branch_protected(const struct store_project *p, const char *branch,
			    const char *default_branch);

/* ---- runner.c ---- */

int runner_start(struct server *srv, struct strbuf *err);
void runner_stop(struct server *srv);
int runner_poller_start(struct server *srv, struct strbuf *err);
void runner_poller_stop(struct server *srv);
/* Retry job id as a new attempt (pending); *ret_new its id. */
int runner_retry_job(struct server *srv, struct store *st, int64_t id, int64_t *ret_new,
		     struct strbuf *err);
/* Cancel a pipeline's unfinished jobs. */
int runner_cancel_pipeline(struct server *srv, struct store *st, int64_t id,
			   struct strbuf *err);
int runner_cancel_job(struct server *srv, struct store *st, int64_t id, struct strbuf *err);
int runner_play_job(struct server *srv, struct store *st, int64_t id, struct strbuf *err);
int runner_retry_pipeline(struct server *srv, struct store *st, int64_t id,
			  struct strbuf *err);
/* Cancel interruptible work of pipelines on the same ref older than newer_id. */
void runner_auto_cancel(struct server *srv, struct store *st, int64_t project_id,
			const char *ref, int64_t newer_id);

/*
 * A store failure as the API answers it: 404 (STORE_NOTFOUND), 409
 * (STORE_CONFLICT) or 500, with err's text (or "store error") in msg.
 * For the rules shared by the API and the web UI (settings.c, schedule.c).
 */
int server_store_status(int rc, const struct strbuf *err, struct strbuf *msg);

/* ---- schedule.c: pipeline schedules ---- */

struct store_schedule;
struct cron;
/* A schedule's description: at most this many bytes. */
#define SCHEDULE_DESC_MAX 255
/*
 * Check a schedule's cron and zone (and, when interval is set, the
 * cron against schedules.min_interval) and compute its next run after
 * now (ms) in *ret_next. 0, or 400 with the reason in err.
 */
int schedule_check(struct server *srv, const char *cron, const char *zone, int64_t now,
		   int interval, int64_t *ret_next, struct strbuf *err);
/*
 * Make schedule s's pipeline now (source "schedule", its variables) and
 * record it as the schedule's last one. A project or ref that is gone is
 * recorded as a failed pipeline with the reason (a deleted project's
 * schedule is also deactivated), and still returns 0 with its id. -1
 * when nothing could be recorded, *ret_status the HTTP status and err why.
 */
int schedule_run(struct server *srv, struct store *st, const struct store_schedule *s,
		 int64_t *ret_pipeline, int *ret_status, struct strbuf *err);
/*
 * The changes the API and the web UI make to schedules, with the same
 * rules: the caller has read the project and checked the developer role
 * (and for the web, the CSRF token). Each returns an HTTP status: the
 * success one (201 added or played, 200 changed or removed), else
 * 400/404/409/500 (502/503 for play) with the reason in msg and nothing
 * changed. They write the audit log entry and wake the scheduler.
 * schedule_add: s's cron is required; an empty description, zone
 * (UTC) and variables ({}) are filled in; s gets its id, owner, next run.
 * schedule_update: s as changed by the caller (read from the store
 * first); new_cron when its cron is new (schedules.min_interval is
 * checked then); what names the fields changed, for the audit log.
 */
struct principal;
int schedule_add(struct server *srv, struct store *st, struct http_request *req,
		 const struct principal *who, const struct store_project *p,
		 struct store_schedule *s, struct strbuf *msg);
int schedule_update(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p,
		    struct store_schedule *s, int new_cron, const char *what,
		    struct strbuf *msg);
int schedule_remove(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p,
		    const struct store_schedule *s, struct strbuf *msg);
int schedule_play(struct server *srv, struct store *st, struct http_request *req,
		  const struct principal *who, const struct store_project *p,
		  const struct store_schedule *s, int64_t *ret_pipeline, struct strbuf *msg);
int scheduler_start(struct server *srv, struct strbuf *err);
/* Look at the schedules again now (one was added, changed or removed). */
void scheduler_kick(struct server *srv);
/* After stopping is set. */
void scheduler_stop(struct server *srv);

/* ---- retention.c: artifacts' expiry, the sweep of DATA/artifacts, audit pruning ---- */

int retention_start(struct server *srv, struct strbuf *err);
/* A round now (the configuration was reloaded). */
void retention_kick(struct server *srv);
/* After stopping is set. */
void retention_stop(struct server *srv);

/* ---- logs.c ---- */

int logs_start(struct server *srv, struct strbuf *err);
void logs_stop(struct server *srv);
/* The job finished: its streams send what is left and end. */
void logs_job_finished(struct server *srv, int64_t job_id);
/*
 * Respond to req with the live log of job id from offset (SSE). access:
 * events_access_now() read before the caller authorised the request; the
 * stream ends once access changes (events_access_changed).
 */
int logs_stream(struct server *srv, struct http_request *req, int64_t job_id,
		uint64_t offset, int finished, uint64_t access);
/* Wake every follower (access changed: they end at their next read). */
void logs_wake_all(struct server *srv);

/* ---- events.c: status events for GET /api/v1/events ---- */

/* Keep the last backlog events (for Last-Event-ID and slow readers). */
int events_start(struct server *srv, size_t backlog);
/* After the HTTP server stopped. */
void events_stop(struct server *srv);
/*
 * Publish the current state of pipeline / job id (read from st) to every
 * stream that may see it. Call after each recorded status change; cheap
 * (one read by key, no I/O to clients), never blocks on a client.
 */
void events_pipeline(struct server *srv, struct store *st, int64_t id);
void events_job(struct server *srv, struct store *st, int64_t id);
/*
 * events_pipeline in two steps: the state read now (NULL without event
 * streams), published later (and freed). A new pipeline's event is read
 * before the runner is kicked, so that it says "created" even when the
 * runner has moved the pipeline on by the time it is published.
 */
json_t *events_pipeline_read(struct server *srv, struct store *st, int64_t id,
			     int64_t *project_id);
void events_pipeline_publish(struct server *srv, json_t *o, int64_t project_id, int64_t id);

/* What a stream may see, decided by the caller at connect. */
struct events_filter {
	const char *caller;        /* who (for the per-caller cap) */
	int all;                   /* every project, also later ones */
	const int64_t *projects;   /* else these projects (copied) */
	size_t projects_nr;
	int64_t pipeline_id;       /* not 0: only this pipeline's events */
	uint64_t access;           /* events_access_now() before authorising */
};
/* Respond to req with the event stream (honours Last-Event-ID); 429/503 over the caps. */
int events_stream(struct server *srv, struct http_request *req, const struct events_filter *f);
/*
 * Who may see what changed (a member, a project's public setting, a user,
 * a token, a session, a project removed): every open stream ends at its
 * next read, so its client reconnects (EventSource does, with
 * Last-Event-ID: nothing is lost) and is authorised again.
 */
void events_access_changed(struct server *srv);
/* The access generation: read it before deciding what a stream may see. */
uint64_t events_access_now(struct server *srv);

/* ---- settings.c: a project's settings, the rules shared by the API and the web UI ---- */

struct principal;
struct strvec;

#define SETTINGS_MAX_PROTECTED 100  /* protected branch globs of a project */
#define SETTINGS_MAX_GLOB 255       /* bytes of one glob */
#define SETTINGS_MAX_VALUE 10000    /* bytes of a secret variable's value */
#define SETTINGS_MAX_VARIABLES 200  /* secret variables of a project */
#define SETTINGS_MASK_MIN 8         /* as GitLab: shorter masked values would mask too much */

/*
 * Each function below acts for who on project p (a live project the
 * caller read and authorised: the maintainer role is checked again
 * here) and returns an HTTP status: 200 (201 for a new variable) when
 * done, else 400/403/404/409/500 with the reason in msg and nothing
 * changed. The audit log entry and events_access_changed() are theirs.
 * req: the request, for the audit log's address.
 */

/*
 * The comma-joined list of globs (malloc'ed into *ret; "" for none):
 * at most SETTINGS_MAX_PROTECTED, each 1..SETTINGS_MAX_GLOB bytes
 * without a comma or a control character. 0, or 400 with msg.
 */
int settings_protected_list(const struct strvec *globs, char **ret, struct strbuf *msg);
/* settings_protected_list's refusal, for a caller whose parser finds a bad glob first. */
void settings_protected_error(struct strbuf *msg);
/*
 * Set anonymous read (pub 0/1; -1 keeps it) and, when set_protected, the
 * protected branches (list from settings_protected_list; NULL: the
 * default branch), in one transaction. *p is updated on success.
 */
int settings_project_update(struct server *srv, struct store *st, struct http_request *req,
			    const struct principal *who, struct store_project *p, int pub,
			    int set_protected, const char *list, struct strbuf *msg);
/*
 * Set project p's protected tags (list from settings_protected_list; NULL
 * or "": none), as settings_project_update: the maintainer's role, the
 * audit entry, p updated; an HTTP status, msg saying why when not 200.
 */
int settings_project_protect_tags(struct server *srv, struct store *st, struct http_request *req,
				  const struct principal *who, struct store_project *p,
				  const char *list, struct strbuf *msg);
/* Whether tag is one of p's protected tags. */
int server_tag_protected(const struct store_project *p, const char *tag);
/* The role named name (viewer, developer, maintainer), or -1 with msg. */
int settings_role_parse(const char *name, struct strbuf *msg);
/* Give user login role_str on p, or remove the membership (role_str NULL). */
int settings_member(struct server *srv, struct store *st, struct http_request *req,
		    const struct principal *who, const struct store_project *p, const char *login,
		    const char *role_str, struct strbuf *msg);
/* 0 when k is a variable name ([A-Za-z_][A-Za-z0-9_]*, <= 255 bytes), else 400 with msg. */
int settings_variable_key_ok(const char *k, struct strbuf *msg);
/*
 * Add (201) or replace (200) secret variable key: value at most
 * SETTINGS_MAX_VALUE bytes; masked: one line of at least
 * SETTINGS_MASK_MIN; at most SETTINGS_MAX_VARIABLES per project.
 */
int settings_variable_set(struct server *srv, struct store *st, struct http_request *req,
			  const struct principal *who, const struct store_project *p,
			  const char *key, const char *value, int masked, int prot,
			  struct strbuf *msg);
/* Remove variable key (404 when there is none). */
int settings_variable_delete(struct server *srv, struct store *st, struct http_request *req,
			     const struct principal *who, const struct store_project *p,
			     const char *key, struct strbuf *msg);

/* ---- artzip.c ---- */

/*
 * Answer req with job j's n artifacts a (in path order; taken: freed in
 * every case) as one ZIP archive of stored entries, streamed with a
 * Content-Length (docs/internals/server.md): 410 when a blob is missing
 * from the store before the first byte; later, a blob gone or changed
 * cuts the response and is logged. Memory: the entries' names and
 * CRCs, and one header; the data is read 64 KiB at a time.
 */
void artzip_respond(struct http_request *req, struct server *srv,
		    const struct store_job *j, struct store_artifact *a, size_t n);

/* ---- api.c ---- */

/* The API's JSON of a pipeline / job (new references). */
json_t *api_pipeline_json(const struct store_pipeline *p);
json_t *api_job_json(const struct store_job *j);

extern const struct http_route server_routes[];
extern const size_t server_routes_nr;

#endif
