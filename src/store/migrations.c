/* The SQLite schema, one migration per entry (store_schema.h). */
#include "store/store_schema.h"
#include "util/xalloc.h"

const char *const store_migrations[] = {
	/* 1: projects, refs, pipelines, jobs, tests, artifacts, tokens */
	/*
	 * Projects are never removed, only marked deleted, so that their
	 * pipelines stay readable with the project's name; a name is unique
	 * among the live ones.
	 */
	"CREATE TABLE projects ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL,"
	" repo TEXT NOT NULL,"
	" branches TEXT NOT NULL,"
	" poll_interval INTEGER NOT NULL,"
	" hook_secret TEXT NOT NULL,"
	" webhook_secret TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" deleted INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX projects_name ON projects (name) WHERE deleted = 0;"

	"CREATE TABLE refs ("
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" ref TEXT NOT NULL,"
	" sha TEXT NOT NULL,"
	" PRIMARY KEY (project_id, ref)) WITHOUT ROWID;"

	/* AUTOINCREMENT: an id is never reused (logs and URLs name them) */
	"CREATE TABLE pipelines ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" ref TEXT NOT NULL,"
	" sha TEXT NOT NULL,"
	" before_sha TEXT,"
	" source TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" error TEXT,"
	" name TEXT,"
	" variables TEXT NOT NULL,"
	" ctx TEXT,"
	" created INTEGER NOT NULL,"
	" started INTEGER NOT NULL DEFAULT 0,"
	" finished INTEGER NOT NULL DEFAULT 0);"
	/* listings are newest first: each filter's index ends with id */
	"CREATE INDEX pipelines_project ON pipelines (project_id, id);"
	"CREATE INDEX pipelines_project_ref ON pipelines (project_id, ref, id);"
	"CREATE INDEX pipelines_project_status ON pipelines (project_id, status, id);"
	"CREATE INDEX pipelines_project_source ON pipelines (project_id, source, id);"
	"CREATE INDEX pipelines_ref ON pipelines (ref, id);"
	"CREATE INDEX pipelines_status ON pipelines (status, id);"
	"CREATE INDEX pipelines_source ON pipelines (source, id);"

	"CREATE TABLE jobs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" pipeline_id INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,"
	" project_id INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" stage TEXT NOT NULL,"
	" stage_idx INTEGER NOT NULL,"
	" plan_idx INTEGER NOT NULL,"
	" status TEXT NOT NULL,"
	" when_ TEXT NOT NULL,"
	" start_in_ms INTEGER NOT NULL DEFAULT 0,"
	" allow_failure INTEGER NOT NULL DEFAULT 0,"
	" interruptible INTEGER NOT NULL DEFAULT 0,"
	" resource_group TEXT,"
	" needs TEXT,"
	" deps TEXT,"
	" attempt INTEGER NOT NULL DEFAULT 1,"
	" max_retries INTEGER NOT NULL DEFAULT 0,"
	" retry_when TEXT,"
	" retried INTEGER NOT NULL DEFAULT 0,"
	" exit_code INTEGER NOT NULL DEFAULT -1,"
	" failure_reason TEXT,"
	" runner TEXT,"
	" pid INTEGER NOT NULL DEFAULT 0,"
	" pid_start INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL,"
	" queued INTEGER NOT NULL DEFAULT 0,"
	" started INTEGER NOT NULL DEFAULT 0,"
	" finished INTEGER NOT NULL DEFAULT 0,"
	" peak_mem INTEGER NOT NULL DEFAULT -1,"
	" cpu REAL NOT NULL DEFAULT -1,"
	" log_size INTEGER NOT NULL DEFAULT 0,"
	" coverage REAL NOT NULL DEFAULT -1,"
	" tests_total INTEGER NOT NULL DEFAULT -1,"
	" tests_failed INTEGER NOT NULL DEFAULT 0,"
	" tests_skipped INTEGER NOT NULL DEFAULT 0,"
	" tests_errors INTEGER NOT NULL DEFAULT 0,"
	" env_name TEXT,"
	" env_url TEXT);"
	"CREATE UNIQUE INDEX jobs_attempt ON jobs (pipeline_id, plan_idx, attempt);"
	/* the queue (claim order), running jobs, counts by status */
	"CREATE INDEX jobs_queue ON jobs (status, queued, id);"
	/* "does this resource group have a running job?" */
	"CREATE INDEX jobs_group ON jobs (resource_group, status)"
	" WHERE resource_group IS NOT NULL;"

	"CREATE TABLE tests ("
	" id INTEGER PRIMARY KEY,"
	" job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	" suite TEXT NOT NULL,"
	" classname TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" time REAL NOT NULL,"
	" message TEXT);"
	"CREATE INDEX tests_job ON tests (job_id, status);"

	"CREATE TABLE artifacts ("
	" job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
	" path TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" mode INTEGER NOT NULL,"
	" PRIMARY KEY (job_id, path)) WITHOUT ROWID;"

	"CREATE TABLE tokens ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL,"
	" hash TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL);",

	/* 2: users, sessions, memberships, token owners, public projects,
	 * secret variables, the audit log */
	"CREATE TABLE users ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" login TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL,"
	" email TEXT NOT NULL,"
	" password TEXT NOT NULL,"	/* argon2id string, or "" (no password login) */
	" admin INTEGER NOT NULL DEFAULT 0,"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	/* only a hash of the session id (the cookie) is kept */
	"CREATE TABLE sessions ("
	" hash TEXT PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" csrf TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX sessions_user ON sessions (user_id);"
	"CREATE TABLE members ("
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" role INTEGER NOT NULL,"
	" PRIMARY KEY (project_id, user_id)) WITHOUT ROWID;"
	"CREATE INDEX members_user ON members (user_id, project_id);"
	/* user_id 0: the administrator's tokens (the admin-token file) */
	"ALTER TABLE tokens ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX tokens_user ON tokens (user_id, id);"
	"ALTER TABLE projects ADD COLUMN public INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE variables ("
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" masked INTEGER NOT NULL,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (project_id, key)) WITHOUT ROWID;"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" remote TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" detail TEXT NOT NULL);",

	/* 3: the web UI's test history (one test's results across jobs) */
	"CREATE INDEX tests_name ON tests (name, classname, job_id);",
	/* 4: notifications: per-project settings, the event queue, the outbox */
	/*
	 * The runner only appends to notify_events (one insert per status
	 * change); the notify thread turns events into deliveries and deletes
	 * them. A delivery is one message to one receiver, retried with the
	 * same id; it ends done, failed or superseded (a newer commit status
	 * for the same pipeline made it pointless).
	 */
	"CREATE TABLE notify_settings ("
	" project_id INTEGER PRIMARY KEY REFERENCES projects (id),"
	" settings TEXT NOT NULL,"
	" updated INTEGER NOT NULL);"
	"CREATE TABLE notify_events ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" pipeline_id INTEGER NOT NULL,"
	" job_id INTEGER NOT NULL DEFAULT 0,"
	" status TEXT NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE deliveries ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" project_id INTEGER NOT NULL,"
	" pipeline_id INTEGER NOT NULL,"
	" job_id INTEGER NOT NULL DEFAULT 0,"
	" kind TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" request TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_at INTEGER NOT NULL,"
	" last_status INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);"
	"CREATE INDEX deliveries_due ON deliveries (state, next_at, id);"
	"CREATE INDEX deliveries_project ON deliveries (project_id, id);"
	"CREATE INDEX deliveries_pipeline ON deliveries (pipeline_id, kind, state);",
	/*
	 * 5: protected branches and protected variables. A NULL
	 * protected_branches is the repository's default branch; a pipeline
	 * records whether its branch was protected when it was made (as
	 * GitLab: later changes to the list do not reach it).
	 */
	"ALTER TABLE projects ADD COLUMN protected_branches TEXT;"
	"ALTER TABLE variables ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pipelines ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 6: retention. A job's artifacts expire at artifacts_expire_at (ms;
	 * NULL: never, or no artifacts); artifacts_expired is 0, or when the
	 * reaper deleted their rows. Jobs recorded before this version keep
	 * theirs (NULL). artifacts (sha256): "does any row still name this
	 * blob?" for the sweep of DATA/artifacts; audit (time): its pruning.
	 */
	"ALTER TABLE jobs ADD COLUMN artifacts_expire_at INTEGER;"
	"ALTER TABLE jobs ADD COLUMN artifacts_expired INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_artifacts_expire ON jobs (artifacts_expire_at)"
	" WHERE artifacts_expire_at IS NOT NULL AND artifacts_expired = 0;"
	"CREATE INDEX artifacts_sha256 ON artifacts (sha256);"
	"CREATE INDEX audit_time ON audit (time);",
	/*
	 * 7: pipeline schedules. next_run_at (ms) is the claim's
	 * compare-and-set key: a scheduler moves it from the value it read
	 * to the next time, and only the one whose UPDATE changed the row
	 * makes the pipeline. variables is a JSON object; owner a user id
	 * (0: the administrator's token). A pipeline a schedule made names
	 * it in schedule_id.
	 */
	"CREATE TABLE schedules ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" description TEXT NOT NULL,"
	" cron TEXT NOT NULL,"
	" cron_timezone TEXT NOT NULL,"
	" ref TEXT,"
	" variables TEXT NOT NULL,"
	" active INTEGER NOT NULL,"
	" owner INTEGER NOT NULL,"
	" next_run_at INTEGER NOT NULL,"
	" last_pipeline_id INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX schedules_project ON schedules (project_id, id);"
	"CREATE INDEX schedules_due ON schedules (next_run_at) WHERE active = 1;"
	"ALTER TABLE pipelines ADD COLUMN schedule_id INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 8: a finished job's dotenv report (a JSON object of its variables,
	 * for the jobs that take them: needs, dependencies). NULL: none, or
	 * the job was recorded before this version and its DATA/results
	 * file still holds it (the runner moves it here at start-up).
	 */
	"ALTER TABLE jobs ADD COLUMN dotenv TEXT;",
	/*
	 * 9: what a job's supervisor plans its job from, kept when the
	 * pipeline was planned: per plan job (plan_idx, shared by its
	 * attempts) its resolved definition, and at plan_idx -1 the
	 * pipeline's resolved top-level keywords (ynode_encode's form).
	 * Pipelines without rows (older ones) are planned from the file.
	 */
	"CREATE TABLE job_defs ("
	" pipeline_id INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,"
	" plan_idx INTEGER NOT NULL,"
	" def TEXT NOT NULL,"
	" PRIMARY KEY (pipeline_id, plan_idx)) WITHOUT ROWID;",
	/*
	 * 10: "has this pipeline a job to decide, or a running one?" by two
	 * index seeks (store_job_busy), where counting its jobs after each
	 * finished job read all of them (0.6 ms at 400 jobs).
	 */
	"CREATE INDEX jobs_pipeline_status ON jobs (pipeline_id, status);",
	/*
	 * 11: a manual job's manual_confirmation, the message the web page
	 * asks before playing it. NULL: none (and jobs recorded before).
	 */
	"ALTER TABLE jobs ADD COLUMN manual_confirmation TEXT;",
	/*
	 * 12: pipelines of a commit (`?sha=`, a prefix: a range on this
	 * index), newest first.
	 */
	"CREATE INDEX pipelines_sha ON pipelines (sha, id);",
	/*
	 * 13: tag pipelines. ref is then the tag's name (no refs/tags/),
	 * and tag 1; pipelines recorded before are all of branches.
	 */
	"ALTER TABLE pipelines ADD COLUMN tag INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 14: protected tags, comma-separated globs as protected_branches;
	 * NULL or "" none (GitLab protects no tag unless told).
	 */
	"ALTER TABLE projects ADD COLUMN protected_tags TEXT;",
	/*
	 * 15: a pipeline's workflow:auto_cancel, as planned: on_new_commit
	 * (conservative, interruptible, none) and on_job_failure (none,
	 * all); NULL is GitLab's default (conservative; none).
	 */
	"ALTER TABLE pipelines ADD COLUMN auto_cancel_on_new_commit TEXT;"
	"ALTER TABLE pipelines ADD COLUMN auto_cancel_on_job_failure TEXT;",
	/*
	 * 16: the merge (pull) requests the forges' webhooks told of: what
	 * CI_OPEN_MERGE_REQUESTS lists for a branch's pipelines.
	 */
	"CREATE TABLE merge_requests ("
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" iid INTEGER NOT NULL,"
	" source_branch TEXT NOT NULL,"
	" target_branch TEXT NOT NULL,"
	" title TEXT,"
	" url TEXT,"
	" state TEXT NOT NULL,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (project_id, iid)) WITHOUT ROWID;"
	"CREATE INDEX merge_requests_open ON merge_requests (project_id, source_branch)"
	" WHERE state = 'opened';",
	/*
	 * 17: releases, as jobs' release: keyword records them: one per
	 * project and tag (a later job's updates it). data is JSON:
	 * milestones, assets, tag_message. released_at is ISO 8601 text.
	 */
	"CREATE TABLE releases ("
	" project_id INTEGER NOT NULL REFERENCES projects (id),"
	" tag_name TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" description TEXT NOT NULL,"
	" ref TEXT,"
	" sha TEXT NOT NULL,"
	" released_at TEXT NOT NULL,"
	" data TEXT NOT NULL,"
	" pipeline_id INTEGER NOT NULL,"
	" job_id INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (project_id, tag_name)) WITHOUT ROWID;"
	"CREATE INDEX releases_newest ON releases (project_id, released_at);",
	/*
	 * 18: a Pages job's directory (pages:publish, expanded; NULL: not a
	 * Pages job), its deployment's path prefix ("" the main site) and
	 * how long after the job's end it is served (0: always); a site is
	 * the newest successful such job's artifacts.
	 */
	"ALTER TABLE jobs ADD COLUMN pages TEXT;"
	"ALTER TABLE jobs ADD COLUMN pages_prefix TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE jobs ADD COLUMN pages_expire_ms INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_pages ON jobs (project_id, pages_prefix, finished)"
	" WHERE pages IS NOT NULL AND status = 'success';",
	/*
	 * 19: an artifact's CRC-32, computed when it is stored, so that an
	 * archive of a job's artifacts gives it before each file's data
	 * (NULL: stored before; the archive then puts it after the data).
	 */
	"ALTER TABLE artifacts ADD COLUMN crc32 INTEGER;",
	/*
	 * 20: a finished pipeline's running time in ms, GitLab's "duration":
	 * the union of its jobs' runs (latest attempts), so that the wait
	 * for a manual job, the queue and a retry's gap are not in it. -1:
	 * not known (running, or finished before this column), and the
	 * readers take finished - started.
	 */
	"ALTER TABLE pipelines ADD COLUMN duration INTEGER NOT NULL DEFAULT -1;",
};

const size_t store_migrations_nr = ARRAY_SIZE(store_migrations);
