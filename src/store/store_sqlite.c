/*
 * The store on SQLite (store.h): WAL, one connection per handle, every
 * statement prepared once per handle and kept. The schema and why it is
 * shaped so: docs/internals/store.md.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_schema.h"
#include "util/xalloc.h"

#define BUSY_TIMEOUT_MS 5000

/* The statements a handle prepares on first use and keeps. */
enum stmt_id {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
	ST_PROJECT_ADD, ST_PROJECT_GET, ST_PROJECT_GET_ID, ST_PROJECT_LIST,
	ST_PROJECT_DELETE, ST_PROJECT_DELETE_REFS,
	ST_REF_GET, ST_REF_SET,
	ST_PIPELINE_ADD, ST_PIPELINE_GET, ST_PIPELINE_EXISTS, ST_PIPELINE_SET_STATUS,
	ST_PIPELINE_MAX_ID,
	ST_PIPELINE_UNFINISHED,
	ST_PIPELINE_SET_CTX, ST_PIPELINE_SET_AUTO_CANCEL, ST_MR_SET, ST_MR_OPEN,
	ST_RELEASE_SET, ST_RELEASE_LIST, ST_RELEASE_GET,
	ST_JOB_ADD, ST_JOB_GET, ST_JOB_PAGES, ST_JOB_PAGES_ALL, ST_JOB_EXISTS, ST_JOB_LIST_ALL, ST_JOB_LIST_LATEST,
	ST_JOB_TO_PENDING, ST_JOB_TO_RUNNING, ST_JOB_TO_FINISHED, ST_JOB_TO_CREATED,
	ST_JOB_TO_OTHER,
	ST_JOB_SET_RETRIED, ST_JOB_SET_LOG_SIZE, ST_JOB_CLAIM, ST_JOB_RUNNING,
	ST_JOB_COUNT, ST_JOB_TALLY, ST_JOB_ALLOWED_FAILED,
	ST_TEST_ADD, ST_TESTS_LIST, ST_TESTS_LIST_FAILED,
	ST_ARTIFACT_ADD, ST_ARTIFACTS_LIST, ST_ARTIFACT_GET,
	ST_ARTIFACTS_FROM, ST_ARTIFACTS_AFTER, ST_ARTIFACTS_SUM,
	ST_ARTIFACTS_EXPIRE_AT, ST_ARTIFACTS_KEEP, ST_ARTIFACTS_EXPIRE, ST_ARTIFACTS_DELETE,
	ST_ARTIFACT_BLOB_USED, ST_ARTIFACT_SET_CRC, ST_AUDIT_PRUNE, ST_JOB_RUNNING_SINCE,
	ST_TOKEN_ADD, ST_TOKEN_CHECK, ST_TOKEN_COUNT,
	ST_PROJECT_SET_PUBLIC, ST_PROJECT_SET_PROTECTED, ST_PROJECT_SET_PROTECTED_TAGS,
	ST_TOKEN_ADD_USER, ST_TOKEN_LOOKUP, ST_TOKEN_USED, ST_TOKEN_LIST, ST_TOKEN_REVOKE,
	ST_USER_ADD, ST_USER_GET, ST_USER_GET_ID, ST_USER_LIST, ST_USER_UPDATE,
	ST_SESSION_ADD, ST_SESSION_GET, ST_SESSION_TOUCH, ST_SESSION_DELETE,
	ST_SESSION_EXPIRE, ST_SESSION_PRUNE,
	ST_MEMBER_SET, ST_MEMBER_DELETE, ST_MEMBER_ROLE, ST_MEMBER_LIST,
	ST_VAR_SET, ST_VAR_DELETE, ST_VAR_LIST,
	ST_AUDIT_ADD, ST_AUDIT_LIST,
	ST_SECRET_LIST, ST_SECRET_VAR_SET, ST_SECRET_NOTIFY_SET, ST_SECRET_WEBHOOK_SET,
	ST_SECRET_HOOK_SET,
	ST_JOB_ACTIVE, ST_TEST_HISTORY, ST_PIPELINE_REFS,
	ST_JOB_SET_DOTENV, ST_JOB_DOTENV, ST_JOB_DEF_ADD, ST_JOB_DEFS, ST_JOB_BUSY,
	ST__NR
};

#define PROJECT_COLS \
	"id, name, repo, branches, poll_interval, hook_secret, webhook_secret, " \
	"created, deleted, public, protected_branches, protected_tags"

#define PIPELINE_COLS \
	"p.id, p.project_id, (SELECT name FROM projects WHERE id = p.project_id), " \
	"p.ref, p.sha, p.before_sha, p.source, p.status, p.error, p.name, " \
	"p.variables, p.ctx, p.created, p.started, p.finished, p.protected, p.schedule_id, " \
	"p.tag, p.auto_cancel_on_new_commit, p.auto_cancel_on_job_failure, p.duration"

#define JOB_COLS \
	"j.id, j.pipeline_id, j.project_id, j.name, j.stage, j.stage_idx, " \
	"j.plan_idx, j.status, j.when_, j.start_in_ms, j.allow_failure, " \
	"j.interruptible, j.resource_group, j.needs, j.deps, j.attempt, " \
	"j.max_retries, j.retried, j.exit_code, j.failure_reason, j.runner, " \
	"j.pid, j.pid_start, j.created, j.queued, j.started, j.finished, " \
	"j.peak_mem, j.cpu, j.log_size, j.coverage, j.tests_total, " \
	"j.tests_failed, j.tests_skipped, j.tests_errors, j.env_name, " \
	"j.env_url, (SELECT name FROM projects WHERE id = j.project_id), " \
	"j.retry_when, j.artifacts_expire_at, j.artifacts_expired, j.manual_confirmation, " \
	"j.pages, j.pages_prefix, j.pages_expire_ms"

#define TOKEN_COLS "id, name, user_id, created, last_used, revoked"
#define RELEASE_COLS \
	"project_id, tag_name, name, description, ref, sha, released_at, data, " \
	"pipeline_id, job_id, created, updated"
#define USER_COLS "id, login, name, email, password, admin, disabled, created"

/* Fields a finished transition fills; ?1 status, ?2 from, ?3 id. */
#define JOB_CAS "WHERE id = ?3 AND (?2 IS NULL OR status = ?2)"

static const char *const stmt_sql[ST__NR] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT store_op",
	[ST_RELEASE] = "RELEASE store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO store_op",

	[ST_PROJECT_ADD] =
		"INSERT INTO projects (name, repo, branches, poll_interval, "
		"hook_secret, webhook_secret, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_PROJECT_GET] =
		"SELECT " PROJECT_COLS " FROM projects WHERE name = ?1 AND deleted = 0",
	[ST_PROJECT_GET_ID] = "SELECT " PROJECT_COLS " FROM projects WHERE id = ?1",
	[ST_PROJECT_LIST] =
		"SELECT " PROJECT_COLS " FROM projects WHERE deleted = 0 ORDER BY name",
	[ST_PROJECT_DELETE] =
		"UPDATE projects SET deleted = ?2 WHERE name = ?1 AND deleted = 0 "
		"RETURNING id",
	[ST_PROJECT_DELETE_REFS] = "DELETE FROM refs WHERE project_id = ?1",

	[ST_REF_GET] = "SELECT sha FROM refs WHERE project_id = ?1 AND ref = ?2",
	[ST_REF_SET] =
		"INSERT INTO refs (project_id, ref, sha) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (project_id, ref) DO UPDATE SET sha = excluded.sha",

	[ST_PIPELINE_ADD] =
		"INSERT INTO pipelines (project_id, ref, sha, before_sha, source, "
		"status, error, name, variables, ctx, created, started, finished, protected, "
		"schedule_id, tag) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[ST_PIPELINE_GET] = "SELECT " PIPELINE_COLS " FROM pipelines p WHERE p.id = ?1",
	[ST_PIPELINE_MAX_ID] = "SELECT coalesce(max(id), 0) FROM pipelines",
	[ST_PIPELINE_EXISTS] = "SELECT 1 FROM pipelines WHERE id = ?1",
	/*
	 * Finished: the running time, GitLab's union of its jobs' runs
	 * (latest attempts that started and ended): a run starts a new
	 * piece where it begins after every earlier one ended (the gaps and
	 * islands of the window below), each piece's length summed. Running
	 * again (a retry, a manual job played): not finished, not known.
	 */
	[ST_PIPELINE_SET_STATUS] =
		"UPDATE pipelines SET status = ?1, "
		"started = CASE WHEN ?3 <> 0 THEN ?3 ELSE started END, "
		"finished = CASE WHEN ?4 <> 0 THEN ?4 "
		"WHEN ?1 IN ('created', 'pending', 'running') THEN 0 ELSE finished END, "
		"duration = CASE WHEN ?4 <> 0 THEN (SELECT coalesce(sum(e - b), 0) FROM ("
		"  SELECT min(s) AS b, max(f) AS e FROM ("
		"   SELECT s, f, sum(piece) OVER (ORDER BY s, f ROWS UNBOUNDED PRECEDING) AS k FROM ("
		"    SELECT s, f, CASE WHEN s <= max(f) OVER (ORDER BY s, f ROWS BETWEEN "
		"     UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS piece FROM ("
		"     SELECT started AS s, max(finished, started) AS f FROM jobs "
		"     WHERE pipeline_id = ?6 AND retried = 0 AND started > 0 AND finished > 0)))"
		"  GROUP BY k)) "
		"WHEN ?1 IN ('created', 'pending', 'running') THEN -1 ELSE duration END, "
		"error = coalesce(?5, error) "
		"WHERE id = ?6 AND (?2 IS NULL OR status = ?2)",
	[ST_PIPELINE_UNFINISHED] =
		"SELECT id FROM pipelines WHERE project_id = ?1 AND (?2 = '' OR ref = ?2) "
		"AND id < ?3 AND status IN ('created', 'pending', 'running', 'manual', 'scheduled') "
		"ORDER BY id",
	[ST_PIPELINE_SET_CTX] = "UPDATE pipelines SET ctx = ?2, name = ?3 WHERE id = ?1",
	[ST_MR_SET] =
		"INSERT INTO merge_requests (project_id, iid, source_branch, target_branch, "
		"title, url, state, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (project_id, iid) DO UPDATE SET source_branch = excluded.source_branch, "
		"target_branch = excluded.target_branch, title = excluded.title, "
		"url = excluded.url, state = excluded.state, updated = excluded.updated",
	[ST_MR_OPEN] =
		"SELECT iid FROM merge_requests WHERE project_id = ?1 AND source_branch = ?2 "
		"AND state = 'opened' ORDER BY iid LIMIT ?3",
	[ST_RELEASE_SET] =
		"INSERT INTO releases (project_id, tag_name, name, description, ref, sha, "
		"released_at, data, pipeline_id, job_id, created, updated) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) "
		"ON CONFLICT (project_id, tag_name) DO UPDATE SET name = excluded.name, "
		"description = excluded.description, ref = excluded.ref, sha = excluded.sha, "
		"released_at = excluded.released_at, data = excluded.data, "
		"pipeline_id = excluded.pipeline_id, job_id = excluded.job_id, "
		"updated = excluded.updated",
	[ST_RELEASE_LIST] =
		"SELECT " RELEASE_COLS " FROM releases WHERE project_id = ?1 "
		"ORDER BY released_at DESC, tag_name LIMIT ?2",
	[ST_RELEASE_GET] =
		"SELECT " RELEASE_COLS " FROM releases WHERE project_id = ?1 AND tag_name = ?2",
	[ST_PIPELINE_SET_AUTO_CANCEL] =
		"UPDATE pipelines SET auto_cancel_on_new_commit = ?2, "
		"auto_cancel_on_job_failure = ?3 WHERE id = ?1",

	/* project_id comes from the pipeline: a job cannot disagree with it */
	[ST_JOB_ADD] =
		"INSERT INTO jobs (pipeline_id, project_id, name, stage, stage_idx, "
		"plan_idx, status, when_, start_in_ms, allow_failure, interruptible, "
		"resource_group, needs, deps, attempt, max_retries, created, queued, "
		"retry_when, manual_confirmation, pages, pages_prefix, pages_expire_ms) "
		"SELECT ?1, p.project_id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
		"?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22 FROM pipelines p "
		"WHERE p.id = ?1 "
		"RETURNING id, project_id",
	[ST_JOB_GET] = "SELECT " JOB_COLS " FROM jobs j WHERE j.id = ?1",
	/* the site: the newest successful Pages job whose artifacts remain */
	[ST_JOB_PAGES] = "SELECT " JOB_COLS " FROM jobs j WHERE j.project_id = ?1 "
		"AND j.pages_prefix = ?2 AND j.pages IS NOT NULL AND j.status = 'success' "
		"AND j.artifacts_expired = 0 "
		"AND (j.pages_expire_ms = 0 OR j.finished + j.pages_expire_ms > ?3) "
		"ORDER BY j.finished DESC, j.id DESC LIMIT 1",
	/* each live deployment: the newest such job of each prefix */
	[ST_JOB_PAGES_ALL] = "SELECT " JOB_COLS " FROM jobs j WHERE j.project_id = ?1 "
		"AND j.id = (SELECT k.id FROM jobs k WHERE k.project_id = ?1 "
		"AND k.pages_prefix = j.pages_prefix AND k.pages IS NOT NULL "
		"AND k.status = 'success' AND k.artifacts_expired = 0 "
		"AND (k.pages_expire_ms = 0 OR k.finished + k.pages_expire_ms > ?2) "
		"ORDER BY k.finished DESC, k.id DESC LIMIT 1) "
		"ORDER BY j.pages_prefix LIMIT 1000",
	[ST_JOB_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
	[ST_JOB_SET_DOTENV] = "UPDATE jobs SET dotenv = ?2 WHERE id = ?1 RETURNING id",
	[ST_JOB_DOTENV] = "SELECT dotenv FROM jobs WHERE id = ?1",
	[ST_JOB_DEF_ADD] =
		"INSERT INTO job_defs (pipeline_id, plan_idx, def) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (pipeline_id, plan_idx) DO UPDATE SET def = excluded.def",
	[ST_JOB_DEFS] =
		"SELECT plan_idx, def FROM job_defs WHERE pipeline_id = ?1 AND plan_idx IN (-1, ?2)",
	[ST_JOB_LIST_ALL] =
		"SELECT " JOB_COLS " FROM jobs j WHERE j.pipeline_id = ?1 "
		"ORDER BY j.plan_idx, j.attempt",
	[ST_JOB_LIST_LATEST] =
		"SELECT " JOB_COLS " FROM jobs j WHERE j.pipeline_id = ?1 "
		"AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.pipeline_id = j.pipeline_id "
		"AND k.plan_idx = j.plan_idx AND k.attempt > j.attempt) "
		"ORDER BY j.plan_idx, j.attempt",
	[ST_JOB_TO_PENDING] =
		"UPDATE jobs SET status = ?1, queued = ?4 " JOB_CAS,
	[ST_JOB_TO_RUNNING] =
		"UPDATE jobs SET status = ?1, started = ?4, runner = ?5, pid = ?6, "
		"pid_start = ?7 " JOB_CAS,
	[ST_JOB_TO_FINISHED] =
		"UPDATE jobs SET status = ?1, finished = ?4, exit_code = ?5, "
		"failure_reason = ?6, peak_mem = ?7, cpu = ?8, "
		"log_size = CASE WHEN ?9 < 0 THEN log_size ELSE ?9 END, "
		"coverage = ?10, tests_total = ?11, tests_failed = ?12, "
		"tests_skipped = ?13, tests_errors = ?14, env_name = ?15, "
		"env_url = ?16, allow_failure = coalesce(?17, allow_failure) " JOB_CAS,
	/* back to created: as if just added (a retry re-plans skipped jobs) */
	[ST_JOB_TO_CREATED] =
		"UPDATE jobs SET status = ?1, queued = 0, started = 0, finished = 0, "
		"exit_code = -1, failure_reason = NULL, runner = NULL, pid = 0, "
		"pid_start = 0, peak_mem = -1, cpu = -1, log_size = 0, coverage = -1, "
		"tests_total = -1, tests_failed = 0, tests_skipped = 0, "
		"tests_errors = 0, env_name = NULL, env_url = NULL " JOB_CAS,
	[ST_JOB_TO_OTHER] = "UPDATE jobs SET status = ?1 " JOB_CAS,
	[ST_JOB_SET_RETRIED] = "UPDATE jobs SET retried = 1 WHERE id = ?1",
	[ST_JOB_SET_LOG_SIZE] = "UPDATE jobs SET log_size = ?2 WHERE id = ?1",
	/*
	 * One statement: it takes the write lock before it reads, so two
	 * handles (or processes) can never pick the same row.
	 */
	[ST_JOB_CLAIM] =
		"UPDATE jobs SET status = 'running', runner = ?1, started = ?2, "
		"pid = 0, pid_start = 0 "
		"WHERE status = 'pending' AND id = ("
		" SELECT q.id FROM jobs q WHERE q.status = 'pending' "
		" AND (q.resource_group IS NULL OR NOT EXISTS ("
		"  SELECT 1 FROM jobs r WHERE r.resource_group = q.resource_group "
		"  AND r.project_id = q.project_id AND r.status = 'running')) "
		" ORDER BY q.queued, q.id LIMIT 1) "
		"RETURNING id",
	[ST_JOB_RUNNING] =
		"SELECT " JOB_COLS " FROM jobs j WHERE j.status = 'running' ORDER BY j.id",
	[ST_JOB_COUNT] = "SELECT count(*) FROM jobs WHERE status = ?1",
	[ST_JOB_ALLOWED_FAILED] =
		"SELECT count(*) FROM jobs j WHERE j.pipeline_id = ?1 AND j.status = 'failed' "
		"AND j.allow_failure <> 0 "
		"AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.pipeline_id = j.pipeline_id "
		"AND k.plan_idx = j.plan_idx AND k.attempt > j.attempt)",
	/* created, scheduled and running jobs are always latest attempts */
	[ST_JOB_BUSY] =
		"SELECT EXISTS (SELECT 1 FROM jobs WHERE pipeline_id = ?1 "
		"AND status IN ('created', 'scheduled')), "
		"EXISTS (SELECT 1 FROM jobs WHERE pipeline_id = ?1 AND status = 'running')",
	[ST_JOB_TALLY] =
		"SELECT j.status, j.allow_failure != 0, j.started != 0, count(*) FROM jobs j "
		"WHERE j.pipeline_id = ?1 "
		"AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.pipeline_id = j.pipeline_id "
		"AND k.plan_idx = j.plan_idx AND k.attempt > j.attempt) "
		"GROUP BY 1, 2, 3",

	[ST_TEST_ADD] =
		"INSERT INTO tests (job_id, suite, classname, name, status, time, message) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_TESTS_LIST] =
		"SELECT suite, classname, name, status, time, message FROM tests "
		"WHERE job_id = ?1 ORDER BY id",
	[ST_TESTS_LIST_FAILED] =
		"SELECT suite, classname, name, status, time, message FROM tests "
		"WHERE job_id = ?1 AND status IN ('failed', 'error') ORDER BY id",

	[ST_ARTIFACT_ADD] =
		"INSERT INTO artifacts (job_id, path, size, sha256, mode, crc32) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (job_id, path) DO UPDATE "
		"SET size = excluded.size, sha256 = excluded.sha256, mode = excluded.mode, "
		"crc32 = excluded.crc32",
	[ST_ARTIFACTS_LIST] =
		"SELECT path, size, sha256, mode, crc32 FROM artifacts WHERE job_id = ?1 "
		"ORDER BY path",
	[ST_ARTIFACTS_FROM] =
		"SELECT path, size, sha256, mode, crc32 FROM artifacts "
		"WHERE job_id = ?1 AND path >= ?2 ORDER BY path LIMIT ?3",
	[ST_ARTIFACTS_AFTER] =
		"SELECT path, size, sha256, mode, crc32 FROM artifacts "
		"WHERE job_id = ?1 AND path > ?2 ORDER BY path LIMIT ?3",
	[ST_ARTIFACTS_SUM] =
		"SELECT count(*), coalesce(sum(size), 0) FROM artifacts "
		"WHERE job_id = ?1 AND path >= ?2 AND path < ?3",
	[ST_ARTIFACT_GET] =
		"SELECT path, size, sha256, mode, crc32 FROM artifacts "
		"WHERE job_id = ?1 AND path = ?2",
	[ST_ARTIFACTS_EXPIRE_AT] =
		"UPDATE jobs SET artifacts_expire_at = ?2 WHERE id = ?1 AND artifacts_expired = 0 "
		"RETURNING id",
	[ST_ARTIFACTS_KEEP] =
		"UPDATE jobs SET artifacts_expire_at = NULL WHERE id = ?1 AND artifacts_expired = 0 "
		"RETURNING id",
	/*
	 * Due jobs (jobs_artifacts_expire), but with keep_latest (?2) not
	 * those of the newest successful pipeline of their project's ref;
	 * the outer WHERE repeats the due test, so that it is a
	 * compare-and-set on the row even where the sub-select is not
	 * re-evaluated (PostgreSQL's READ COMMITTED).
	 */
	[ST_ARTIFACTS_EXPIRE] =
		"UPDATE jobs SET artifacts_expired = ?1 WHERE id IN ("
		" SELECT j.id FROM jobs j WHERE j.artifacts_expire_at IS NOT NULL"
		" AND j.artifacts_expire_at <= ?1 AND j.artifacts_expired = 0"
		" AND NOT (?2 AND EXISTS (SELECT 1 FROM pipelines p WHERE p.id = j.pipeline_id"
		"  AND p.status = 'success' AND NOT EXISTS (SELECT 1 FROM pipelines q"
		"  WHERE q.project_id = p.project_id AND q.ref = p.ref AND q.id > p.id"
		"  AND q.status = 'success')))"
		" ORDER BY j.artifacts_expire_at LIMIT ?3)"
		" AND artifacts_expire_at <= ?1 AND artifacts_expired = 0 RETURNING id",
	[ST_ARTIFACTS_DELETE] = "DELETE FROM artifacts WHERE job_id = ?1",
	[ST_JOB_RUNNING_SINCE] =
		"SELECT coalesce(min(started), 0) FROM jobs WHERE status = 'running'",
	[ST_ARTIFACT_BLOB_USED] = "SELECT 1 FROM artifacts WHERE sha256 = ?1 LIMIT 1",
	[ST_ARTIFACT_SET_CRC] =
		"UPDATE artifacts SET crc32 = ?2 WHERE sha256 = ?1 AND crc32 IS NULL",

	[ST_TOKEN_ADD] = "INSERT INTO tokens (name, hash, created) VALUES (?1, ?2, ?3)",
	[ST_TOKEN_CHECK] = "SELECT name FROM tokens WHERE hash = ?1 AND revoked = 0",
	[ST_TOKEN_COUNT] = "SELECT count(*) FROM tokens",

	[ST_PROJECT_SET_PUBLIC] =
		"UPDATE projects SET public = ?2 WHERE name = ?1 AND deleted = 0 RETURNING id",
	[ST_PROJECT_SET_PROTECTED] =
		"UPDATE projects SET protected_branches = ?2 WHERE name = ?1 AND deleted = 0 "
		"RETURNING id",
	[ST_PROJECT_SET_PROTECTED_TAGS] =
		"UPDATE projects SET protected_tags = ?2 WHERE name = ?1 AND deleted = 0 "
		"RETURNING id",

	[ST_TOKEN_ADD_USER] =
		"INSERT INTO tokens (name, hash, created, user_id) VALUES (?1, ?2, ?3, ?4)",
	[ST_TOKEN_LOOKUP] =
		"SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1 AND revoked = 0",
	[ST_TOKEN_USED] = "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
	[ST_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens WHERE user_id = ?1 ORDER BY id",
	[ST_TOKEN_REVOKE] =
		"UPDATE tokens SET revoked = 1 WHERE id = ?1 AND revoked = 0 "
		"AND (?2 < 0 OR user_id = ?2) RETURNING id",

	[ST_USER_ADD] =
		"INSERT INTO users (login, name, email, password, admin, disabled, created) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_USER_GET] = "SELECT " USER_COLS " FROM users WHERE login = ?1",
	[ST_USER_GET_ID] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
	[ST_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY login",
	[ST_USER_UPDATE] =
		"UPDATE users SET password = coalesce(?2, password), "
		"admin = CASE WHEN ?3 < 0 THEN admin ELSE ?3 END, "
		"disabled = CASE WHEN ?4 < 0 THEN disabled ELSE ?4 END WHERE id = ?1 RETURNING id",

	[ST_SESSION_ADD] =
		"INSERT INTO sessions (hash, user_id, csrf, created, expires, last_seen) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_SESSION_GET] =
		"SELECT user_id, csrf, created, expires, last_seen FROM sessions WHERE hash = ?1",
	[ST_SESSION_TOUCH] = "UPDATE sessions SET last_seen = ?2 WHERE hash = ?1",
	[ST_SESSION_DELETE] = "DELETE FROM sessions WHERE hash = ?1",
	[ST_SESSION_EXPIRE] = "DELETE FROM sessions WHERE expires < ?1",
	[ST_SESSION_PRUNE] =
		"DELETE FROM sessions WHERE user_id = ?1 AND hash NOT IN ("
		"SELECT hash FROM sessions WHERE user_id = ?1 ORDER BY created DESC LIMIT ?2)",

	[ST_MEMBER_SET] =
		"INSERT INTO members (project_id, user_id, role) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
	[ST_MEMBER_DELETE] =
		"DELETE FROM members WHERE project_id = ?1 AND user_id = ?2 RETURNING role",
	[ST_MEMBER_ROLE] = "SELECT role FROM members WHERE project_id = ?1 AND user_id = ?2",
	[ST_MEMBER_LIST] =
		"SELECT m.user_id, u.login, m.role FROM members m JOIN users u ON u.id = m.user_id "
		"WHERE m.project_id = ?1 ORDER BY u.login",

	[ST_VAR_SET] =
		"INSERT INTO variables (project_id, key, value, masked, updated, protected) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (project_id, key) DO UPDATE SET "
		"value = excluded.value, masked = excluded.masked, updated = excluded.updated, "
		"protected = excluded.protected",
	[ST_VAR_DELETE] =
		"DELETE FROM variables WHERE project_id = ?1 AND key = ?2 RETURNING masked",
	[ST_VAR_LIST] =
		"SELECT key, CASE WHEN ?2 THEN value END, masked, updated, protected FROM variables "
		"WHERE project_id = ?1 ORDER BY key",

	/* kinds as enum store_secret_kind; values not empty, starting with ?1 or not (?2) */
	[ST_SECRET_LIST] =
		"SELECT 0, project_id, key, value FROM variables "
		"WHERE value <> '' AND (substr(value, 1, length(?1)) = ?1) = ?2 "
		"UNION ALL SELECT 1, project_id, NULL, settings FROM notify_settings "
		"WHERE settings <> '' AND (substr(settings, 1, length(?1)) = ?1) = ?2 "
		"UNION ALL SELECT 2, id, NULL, webhook_secret FROM projects "
		"WHERE webhook_secret <> '' AND (substr(webhook_secret, 1, length(?1)) = ?1) = ?2 "
		"UNION ALL SELECT 3, id, NULL, hook_secret FROM projects "
		"WHERE hook_secret <> '' AND (substr(hook_secret, 1, length(?1)) = ?1) = ?2",
	[ST_SECRET_VAR_SET] =
		"UPDATE variables SET value = ?3 WHERE project_id = ?1 AND key = ?2",
	[ST_SECRET_NOTIFY_SET] =
		"UPDATE notify_settings SET settings = ?3 WHERE project_id = ?1",
	[ST_SECRET_WEBHOOK_SET] =
		"UPDATE projects SET webhook_secret = ?3 WHERE id = ?1",
	[ST_SECRET_HOOK_SET] =
		"UPDATE projects SET hook_secret = ?3 WHERE id = ?1",

	[ST_AUDIT_ADD] =
		"INSERT INTO audit (time, actor, remote, action, target, detail) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_AUDIT_LIST] =
		"SELECT id, time, actor, remote, action, target, detail FROM audit "
		"ORDER BY id DESC LIMIT ?1 OFFSET ?2",
	[ST_AUDIT_PRUNE] = "DELETE FROM audit WHERE time < ?1",

	/* the web UI: the jobs_queue index gives both statuses in order */
	[ST_JOB_ACTIVE] =
		"SELECT * FROM (SELECT " JOB_COLS " FROM jobs j WHERE j.status = 'running' "
		"ORDER BY j.queued, j.id LIMIT ?1) UNION ALL "
		"SELECT * FROM (SELECT " JOB_COLS " FROM jobs j WHERE j.status = 'pending' "
		"ORDER BY j.queued, j.id LIMIT ?1)",
	/* tests_name (migration 3): one test's latest results, newest first */
	[ST_TEST_HISTORY] =
		"SELECT t.job_id, j.pipeline_id, t.status FROM tests t JOIN jobs j ON j.id = t.job_id "
		"WHERE t.name = ?1 AND t.classname = ?2 AND j.project_id = ?3 AND t.job_id <= ?4 "
		"ORDER BY t.job_id DESC LIMIT ?5",
	/* a walk of pipelines_project_ref: each ref's newest pipeline */
	[ST_PIPELINE_REFS] =
		"SELECT ref, max(id) FROM pipelines WHERE project_id = ?1 GROUP BY ref "
		"ORDER BY 2 DESC LIMIT ?2",
};

/* Pipeline listings: one statement per combination of filters. */
#define PF_PROJECT 1
#define PF_REF     2
#define PF_STATUS  4
#define PF_SOURCE  8
#define PF_BEFORE  16
#define PF_VISIBLE 32
#define PF_SHA     64
#define PF_SCAN    128  /* visible projects: the table read backwards */
#define PF__NR     256

struct store {
	sqlite3 *db;
	int version;
	struct timespec busy_since;     /* busy_wait(): when this wait began */
	sqlite3_stmt *stmt[ST__NR];
	sqlite3_stmt *plist[PF__NR];
	sqlite3_stmt *pcount[PF__NR];   /* the same filters, counted */
	sqlite3_stmt *kept[STORE_KEPT_NR];      /* store_sqlite_kept() */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Turn a SQLite result code into the store's: a unique key taken is
 * STORE_CONFLICT, a missing referenced row STORE_NOTFOUND, a disk that is
 * full, failing or locked STORE_UNAVAILABLE, anything else -1. The
 * message goes to err either way.
 */
static int db_fail(struct store *st, int rc, const char *what, struct strbuf *err)
{
	if (err)
		strbuf_addf(err, "%s: %s", what, sqlite3_errmsg(st->db));
	switch (rc) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return STORE_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return STORE_NOTFOUND;
	}
	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_NOMEM:
	case SQLITE_CANTOPEN:
		return STORE_UNAVAILABLE;
	default:
		return -1;
	}
}

static int fail(struct strbuf *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct strbuf *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		strbuf_vaddf(err, fmt, ap);
		va_end(ap);
	}
	return code;
}

static sqlite3_stmt *prep(struct store *st, enum stmt_id id, struct strbuf *err)
{
	if (!st->stmt[id]) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &st->stmt[id], NULL);

		if (rc != SQLITE_OK) {
			db_fail(st, rc, "prepare", err);
			st->stmt[id] = NULL;
			return NULL;
		}
	}
	return st->stmt[id];
}

/* Ready a kept statement for its next use. */
static void done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

/* Binding helpers: return a SQLite code, SQLITE_OK (0) on success. */
static int b_text(sqlite3_stmt *s, int i, const char *v)
{
	return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* NULL is stored as "" (NOT NULL columns). */
static int b_text0(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_STATIC);
}

static int b_int(sqlite3_stmt *s, int i, int64_t v)
{
	return sqlite3_bind_int64(s, i, v);
}

static int b_dbl(sqlite3_stmt *s, int i, double v)
{
	return sqlite3_bind_double(s, i, v);
}

static char *col_str(sqlite3_stmt *s, int i)
{
	return xstrdup_or_null((const char *)sqlite3_column_text(s, i));
}

/* Step a statement that returns no row we need; reset it. */
static int exec_stmt(struct store *st, sqlite3_stmt *s, const char *what,
		     struct strbuf *err)
{
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;
	done(s);	/* the error and its message stay on the connection */
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, what, err);
	return 0;
}

static int exec_id(struct store *st, enum stmt_id id, const char *what,
		   struct strbuf *err)
{
	return exec_stmt(st, prep(st, id, err), what, err);
}

/*
 * Internal atomic sections: a transaction of their own, or a savepoint
 * inside the caller's store_begin() transaction.
 */
static int op_begin(struct store *st, int *nested, struct strbuf *err)
{
	*nested = !sqlite3_get_autocommit(st->db);
	return exec_id(st, *nested ? ST_SAVEPOINT : ST_BEGIN, "begin", err);
}

static void op_rollback(struct store *st, int nested)
{
	if (nested) {
		exec_id(st, ST_ROLLBACK_TO, "rollback", NULL);
		exec_id(st, ST_RELEASE, "rollback", NULL);
	} else if (!sqlite3_get_autocommit(st->db)) {
		exec_id(st, ST_ROLLBACK, "rollback", NULL);
	}
}

static int op_commit(struct store *st, int nested, struct strbuf *err)
{
	int r = exec_id(st, nested ? ST_RELEASE : ST_COMMIT, "commit", err);

	if (r)
		op_rollback(st, nested);
	return r;
}

/* ---- open, migrate, close ---- */

int store_schema_latest(void)
{
	return (int)store_migrations_nr;
}

static int read_version(struct store *st, int *ret, struct strbuf *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return fail(err, -1, "cannot read the schema version: %s",
			    sqlite3_errmsg(st->db));
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_fail(st, rc, "cannot read the schema version", err);
		sqlite3_finalize(s);
		return -1;
	}
	*ret = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static int newer_error(int v, struct strbuf *err)
{
	return fail(err, -1, "the database's schema version %d is newer than this "
		    "cidre knows (%d): upgrade cidre", v, store_schema_latest());
}

/*
 * Apply the missing migrations, each in its own IMMEDIATE transaction;
 * the version is read again under the write lock, so two processes
 * opening a new database together apply each migration once.
 */
static int migrate(struct store *st, struct strbuf *err)
{
	int v, latest = store_schema_latest();

	if (read_version(st, &v, err))
		return -1;
	while (v < latest) {
		char set[64];
		char *msg = NULL;

		if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return fail(err, -1, "cannot migrate the database: %s",
				    sqlite3_errmsg(st->db));
		if (read_version(st, &v, err))
			goto fail;
		if (v >= latest) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			break;
		}
		if (sqlite3_exec(st->db, store_migrations[v], NULL, NULL, &msg) != SQLITE_OK) {
			fail(err, -1, "migration %d: %s", v + 1,
			     msg ? msg : sqlite3_errmsg(st->db));
			sqlite3_free(msg);
			goto fail;
		}
		snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(st->db, set, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			db_fail(st, 0, "migration", err);
			goto fail;
		}
		v++;
		continue;
fail:
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (v > latest)
		return newer_error(v, err);
	st->version = v;
	return 0;
}

/*
 * The file path of url, or NULL (err set). "sqlite:PATH" and
 * "sqlite://PATH" name PATH; a plain path names itself. Anything else
 * that starts like a URL scheme ("postgres://...", "postgresql:...") is
 * refused, the message leaving the URL out: it may hold a password. (A
 * relative path with a colon before its first slash is taken for a
 * scheme: write it "./a:b".)
 */
static const char *url_path(const char *url, struct strbuf *err)
{
	const char *p;

	if (!url || !*url) {
		fail(err, -1, "empty store URL");
		return NULL;
	}
	if (!strncmp(url, "sqlite:", 7)) {
		p = url + 7;
		if (!strncmp(p, "//", 2))
			p += 2;
		if (!*p) {
			fail(err, -1, "store URL without a path");
			return NULL;
		}
		return p;
	}
	p = url;
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '+' || *p == '.' || *p == '-')
			p++;
		if (*p == ':') {
			fail(err, -1, "unsupported store URL (scheme %.*s): "
			     "only SQLite (sqlite:PATH or PATH) for now",
			     (int)(p - url > 32 ? 32 : p - url), url);
			return NULL;
		}
	}
	return url;
}

/*
 * Before the first connection: no up-front page cache. By default every
 * connection allocates (and touches) room for 20 pages at its first
 * transaction, ~85 KB each, most of it never used by our small queries;
 * pages are allocated one at a time instead, as they are needed.
 */
static void sqlite_config_once(void)
{
	if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0) != SQLITE_OK) {
		/* SQLite already initialised: its defaults stay */
	}
}

/*
 * Another handle holds the write lock: wait for it, at most
 * BUSY_TIMEOUT_MS in all. SQLite's own handler (sqlite3_busy_timeout)
 * sleeps 1 ms at the first try, then 2, 5, 10...: a thread that needs
 * the lock for a moment after another thread's short transaction (the
 * runner after an API request's commit: they are ~0.05 ms each) lost a
 * millisecond or more each time. Here the sleeps start at 20 µs and
 * double up to 2 ms. n: how many times this wait called us before.
 */
static int busy_wait(void *ud, int n)
{
	struct store *st = ud;
	struct timespec now, d;
	long waited_us, us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (n == 0)
		st->busy_since = now;
	waited_us = (now.tv_sec - st->busy_since.tv_sec) * 1000000L +
		    (now.tv_nsec - st->busy_since.tv_nsec) / 1000;
	if (waited_us >= BUSY_TIMEOUT_MS * 1000L)
		return 0;
	us = n < 7 ? 20L << n : 2000;
	d.tv_sec = 0;
	d.tv_nsec = us * 1000;
	nanosleep(&d, NULL);
	return 1;
}

int store_open(const char *url, struct store **ret, struct strbuf *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store *st;
	const char *path = url_path(url, err);
	int rc, fd;

	if (!path)
		return -1;
	pthread_once(&once, sqlite_config_once);
	/*
	 * Create the file ourselves, mode 0600: it holds hook secrets and
	 * token hashes. (SQLite would create it 0644; -wal and -shm copy
	 * the database's mode.) A missing parent directory fails here.
	 *
	 * Only when it does not exist yet: closing any descriptor of a file
	 * drops every POSIX lock the process holds on it, those of the
	 * connections other threads have open included. Without its locks
	 * the server looks gone to another process (the sqlite3 shell, a
	 * backup), whose close then takes the WAL for its own, checkpoints
	 * and deletes it under the server: "disk I/O error", lost writes.
	 */
	if (strcmp(path, ":memory:") && access(path, F_OK) < 0) {
		if (errno != ENOENT)
			return fail(err, -1, "cannot open %s: %s", path, strerror(errno));
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return fail(err, -1, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}

	st = xcalloc(1, sizeof(*st));
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		fail(err, -1, "cannot open %s: %s", path,
		     st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_handler(st->db, busy_wait, st);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; "
			 "PRAGMA synchronous = NORMAL; "
			 "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, -1, "cannot open %s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (migrate(st, err)) {
		if (err)
			strbuf_addf(err, " (%s)", path);
		goto fail;
	}
	/* the pages the migrations cached: read again when needed */
	sqlite3_db_release_memory(st->db);
	*ret = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < ST__NR; i++)
		sqlite3_finalize(st->stmt[i]);
	for (i = 0; i < PF__NR; i++) {
		sqlite3_finalize(st->plist[i]);
		sqlite3_finalize(st->pcount[i]);
	}
	for (i = 0; i < STORE_KEPT_NR; i++)
		sqlite3_finalize(st->kept[i]);
	sqlite3_close_v2(st->db);
	free(st);
}

void store_shrink(struct store *st)
{
	size_t i;

	for (i = 0; i < ST__NR; i++) {
		sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
	for (i = 0; i < PF__NR; i++) {
		sqlite3_finalize(st->plist[i]);
		sqlite3_finalize(st->pcount[i]);
		st->plist[i] = NULL;
		st->pcount[i] = NULL;
	}
	for (i = 0; i < STORE_KEPT_NR; i++) {
		sqlite3_finalize(st->kept[i]);
		st->kept[i] = NULL;
	}
	sqlite3_db_release_memory(st->db);
}

int store_schema_version(struct store *st)
{
	return st->version;
}

int store_begin(struct store *st, struct strbuf *err)
{
	if (!sqlite3_get_autocommit(st->db))
		return fail(err, -1, "a transaction is already open");
	return exec_id(st, ST_BEGIN, "begin", err);
}

int store_commit(struct store *st, struct strbuf *err)
{
	if (sqlite3_get_autocommit(st->db))
		return fail(err, -1, "no transaction is open");
	return exec_id(st, ST_COMMIT, "commit", err);
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		exec_id(st, ST_ROLLBACK, "rollback", NULL);
}

/* ---- projects ---- */

void store_project_release(struct store_project *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->repo);
	free(p->branches);
	free(p->hook_secret);
	free(p->webhook_secret);
	free(p->protected_branches);
	free(p->protected_tags);
	memset(p, 0, sizeof(*p));
}

void store_projects_free(struct store_project *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_project_release(&a[i]);
	free(a);
}

static void read_project(sqlite3_stmt *s, struct store_project *p)
{
	p->id = sqlite3_column_int64(s, 0);
	p->name = col_str(s, 1);
	p->repo = col_str(s, 2);
	p->branches = col_str(s, 3);
	p->poll_interval = sqlite3_column_int(s, 4);
	p->hook_secret = col_str(s, 5);
	p->webhook_secret = col_str(s, 6);
	p->created = sqlite3_column_int64(s, 7);
	p->deleted = sqlite3_column_int64(s, 8);
	p->public_read = sqlite3_column_int(s, 9);
	p->protected_branches = col_str(s, 10);
	p->protected_tags = col_str(s, 11);
}

int store_project_name_ok(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n < 1 || n > 64 || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int store_project_add(struct store *st, struct store_project *p, struct strbuf *err)
{
	sqlite3_stmt *s;
	int64_t created = p->created ? p->created : now_ms();
	int rc;

	if (!store_project_name_ok(p->name))
		return fail(err, -1, "invalid project name (want [A-Za-z0-9._-]{1,64}, "
			    "not . or ..)");
	if (!p->repo || !*p->repo)
		return fail(err, -1, "project %s: no repository", p->name);
	s = prep(st, ST_PROJECT_ADD, err);
	if (!s)
		return -1;
	if (b_text(s, 1, p->name) || b_text(s, 2, p->repo) ||
	    b_text(s, 3, p->branches ? p->branches : "*") ||
	    b_int(s, 4, p->poll_interval) || b_text0(s, 5, p->hook_secret) ||
	    b_text0(s, 6, p->webhook_secret) || b_int(s, 7, created)) {
		done(s);
		return db_fail(st, -1, "project add", err);
	}
	rc = exec_stmt(st, s, "project add", err);
	if (rc == STORE_CONFLICT)
		return rc;
	if (rc)
		return rc;
	p->id = sqlite3_last_insert_rowid(st->db);
	p->created = created;
	return 0;
}

/* Step s for at most one project; reset s. */
static int get_project(struct store *st, sqlite3_stmt *s, struct store_project *ret,
		       const char *what, struct strbuf *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		memset(ret, 0, sizeof(*ret));
		read_project(s, ret);
		done(s);
		return 0;
	}
	done(s);
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return db_fail(st, rc, what, err);
}

int store_project_get(struct store *st, const char *name,
		      struct store_project *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_GET, err);

	if (!s)
		return -1;
	if (b_text0(s, 1, name)) {
		done(s);
		return db_fail(st, -1, "project get", err);
	}
	return get_project(st, s, ret, "project get", err);
}

int store_project_get_id(struct store *st, int64_t id,
			 struct store_project *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_GET_ID, err);

	if (!s)
		return -1;
	b_int(s, 1, id);
	return get_project(st, s, ret, "project get", err);
}

int store_project_list(struct store *st, struct store_project **ret,
		       size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_LIST, err);
	struct store_project *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		memset(&a[n], 0, sizeof(a[n]));
		read_project(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_projects_free(a, n);
		return db_fail(st, rc, "project list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_project_delete(struct store *st, const char *name, struct strbuf *err)
{
	sqlite3_stmt *s;
	int nested, rc, r;
	int64_t id;

	if (op_begin(st, &nested, err))
		return -1;
	s = prep(st, ST_PROJECT_DELETE, err);
	if (!s)
		goto fail;
	b_text0(s, 1, name);
	b_int(s, 2, now_ms());
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	} else if (rc == SQLITE_DONE) {
		done(s);
		op_rollback(st, nested);
		return fail(err, STORE_NOTFOUND, "no project %s", name ? name : "");
	}
	done(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, rc, "project delete", err);
		goto fail;
	}
	s = prep(st, ST_PROJECT_DELETE_REFS, err);
	if (!s)
		goto fail;
	b_int(s, 1, id);
	if ((r = exec_stmt(st, s, "project delete", err)))
		goto fail;
	return op_commit(st, nested, err);
fail:
	op_rollback(st, nested);
	return -1;
}

int store_ref_get(struct store *st, int64_t project, const char *ref,
		  char *ret_sha, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_REF_GET, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project);
	if (b_text0(s, 2, ref)) {
		done(s);
		return db_fail(st, -1, "ref get", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *sha = (const char *)sqlite3_column_text(s, 0);
		size_t n = sha ? strlen(sha) : 0;

		if (n > 40)
			n = 40;
		memcpy(ret_sha, sha ? sha : "", n);
		ret_sha[n] = '\0';
	} else if (rc == SQLITE_DONE) {
		ret_sha[0] = '\0';
	}
	done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, rc, "ref get", err);
	return 0;
}

int store_ref_set(struct store *st, int64_t project, const char *ref,
		  const char *sha, struct strbuf *err)
{
	sqlite3_stmt *s;

	if (!ref || !sha || strlen(sha) > 40)
		return fail(err, -1, "ref set: want a ref and a sha of at most 40 characters");
	s = prep(st, ST_REF_SET, err);
	if (!s)
		return -1;
	b_int(s, 1, project);
	if (b_text(s, 2, ref) || b_text(s, 3, sha)) {
		done(s);
		return db_fail(st, -1, "ref set", err);
	}
	return exec_stmt(st, s, "ref set", err);
}

/* ---- pipelines ---- */

void store_pipeline_release(struct store_pipeline *p)
{
	if (!p)
		return;
	free(p->project);
	free(p->ref);
	free(p->sha);
	free(p->before_sha);
	free(p->source);
	free(p->status);
	free(p->error);
	free(p->name);
	free(p->variables);
	free(p->ctx);
	free(p->auto_cancel_on_new_commit);
	free(p->auto_cancel_on_job_failure);
	memset(p, 0, sizeof(*p));
}

void store_pipelines_free(struct store_pipeline *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_pipeline_release(&a[i]);
	free(a);
}

static void read_pipeline(sqlite3_stmt *s, struct store_pipeline *p)
{
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	p->project_id = sqlite3_column_int64(s, 1);
	p->project = col_str(s, 2);
	p->ref = col_str(s, 3);
	p->sha = col_str(s, 4);
	p->before_sha = col_str(s, 5);
	p->source = col_str(s, 6);
	p->status = col_str(s, 7);
	p->error = col_str(s, 8);
	p->name = col_str(s, 9);
	p->variables = col_str(s, 10);
	p->ctx = col_str(s, 11);
	p->created = sqlite3_column_int64(s, 12);
	p->started = sqlite3_column_int64(s, 13);
	p->finished = sqlite3_column_int64(s, 14);
	p->protected_ref = sqlite3_column_int(s, 15);
	p->schedule_id = sqlite3_column_int64(s, 16);
	p->tag = sqlite3_column_int(s, 17);
	p->auto_cancel_on_new_commit = col_str(s, 18);
	p->auto_cancel_on_job_failure = col_str(s, 19);
	p->duration = sqlite3_column_int64(s, 20);
}

int store_pipeline_add(struct store *st, struct store_pipeline *p, struct strbuf *err)
{
	sqlite3_stmt *s;
	int64_t created = p->created ? p->created : now_ms();
	int rc;

	if (!p->ref || !p->sha || !p->source)
		return fail(err, -1, "pipeline add: ref, sha and source are required");
	s = prep(st, ST_PIPELINE_ADD, err);
	if (!s)
		return -1;
	if (b_int(s, 1, p->project_id) || b_text(s, 2, p->ref) ||
	    b_text(s, 3, p->sha) || b_text(s, 4, p->before_sha) ||
	    b_text(s, 5, p->source) || b_text(s, 6, p->status ? p->status : "created") ||
	    b_text(s, 7, p->error) || b_text(s, 8, p->name) ||
	    b_text(s, 9, p->variables ? p->variables : "{}") || b_text(s, 10, p->ctx) ||
	    b_int(s, 11, created) || b_int(s, 12, p->started) ||
	    b_int(s, 13, p->finished) || b_int(s, 14, p->protected_ref ? 1 : 0) ||
	    b_int(s, 15, p->schedule_id) || b_int(s, 16, p->tag ? 1 : 0)) {
		done(s);
		return db_fail(st, -1, "pipeline add", err);
	}
	rc = exec_stmt(st, s, "pipeline add", err);
	if (rc)
		return rc;
	p->id = sqlite3_last_insert_rowid(st->db);
	p->created = created;
	return 0;
}

int store_pipeline_get(struct store *st, int64_t id,
		       struct store_pipeline *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PIPELINE_GET, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_pipeline(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "no pipeline %lld", (long long)id);
	return db_fail(st, rc, "pipeline get", err);
}

/*
 * The WHERE of a pipeline listing: only the filters given appear, so
 * each combination gets the plan of its index (a generic "?1 = 0 OR
 * project_id = ?1" would scan). A sha filter is a prefix: the range
 * [?9, ?9 || 'g') of lowercase hex on the sha index.
 */
static void pipeline_where(struct strbuf *sql, unsigned mask, const char *t)
{
	/* with a sha, its index: the others are then checked, not used */
	const char *u = (mask & PF_SHA) ? "+" : "";
	/*
	 * The visible projects' pipelines, when there are many (PF_SCAN):
	 * the newest ids above ?10 read backwards, each row's project
	 * looked up in the list (store_pipeline_list).
	 */
	const char *v = (mask & PF_SCAN) ? "+" : "";

	strbuf_addf(sql, " FROM pipelines %s WHERE 1", t);
	if (mask & PF_PROJECT)
		strbuf_addf(sql, " AND %s%s.project_id = ?1", u, t);
	if (mask & PF_REF)
		strbuf_addf(sql, " AND %s%s.ref = ?2", u, t);
	if (mask & PF_STATUS)
		strbuf_addf(sql, " AND %s%s.status = ?3", u, t);
	if (mask & PF_SOURCE)
		strbuf_addf(sql, " AND %s%s.source = ?4", u, t);
	if (mask & PF_BEFORE)
		strbuf_addf(sql, " AND %s%s.id < ?5", u, t);
	if (mask & PF_VISIBLE)
		strbuf_addf(sql, " AND %s%s.project_id IN (SELECT id FROM projects WHERE public = 1"
			    " UNION SELECT project_id FROM members WHERE user_id = ?8)", v, t);
	if (mask & PF_SHA)
		strbuf_addf(sql, " AND %s.sha >= ?9 AND %s.sha < ?9 || 'g'", t, t);
	if (mask & PF_SCAN)
		strbuf_addf(sql, " AND %s.id > ?10", t);
}

static sqlite3_stmt *pipeline_list_stmt(struct store *st, unsigned mask, int count,
					struct strbuf *err)
{
	sqlite3_stmt **slot = count ? &st->pcount[mask] : &st->plist[mask];
	struct strbuf sql = STRBUF_INIT;
	int rc;

	if (*slot)
		return *slot;
	/* ?6 and ?7 are always there, so binding ?1..?5 is always in range */
	if (count) {
		strbuf_addstr(&sql, "SELECT count(*) FROM (SELECT 1");
		pipeline_where(&sql, mask, "p");
		strbuf_addstr(&sql, " LIMIT ?6 + 0 * ?7)");
	} else if ((mask & (PF_VISIBLE | PF_SCAN)) == PF_VISIBLE) {
		/*
		 * The few visible pipelines through the index: only their ids
		 * sorted (the covering index), then the page's rows read; the
		 * rows sorted whole cost ~0.8 ms per 1,000.
		 */
		strbuf_addstr(&sql, "SELECT " PIPELINE_COLS " FROM pipelines p"
			      " WHERE p.id IN (SELECT q.id");
		pipeline_where(&sql, mask, "q");
		strbuf_addstr(&sql, " ORDER BY q.id DESC LIMIT ?6 OFFSET ?7) ORDER BY p.id DESC");
	} else {
		strbuf_addstr(&sql, "SELECT " PIPELINE_COLS);
		pipeline_where(&sql, mask, "p");
		strbuf_addstr(&sql, " ORDER BY p.id DESC LIMIT ?6 OFFSET ?7");
	}
	rc = sqlite3_prepare_v3(st->db, sql.buf, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
	strbuf_release(&sql);
	if (rc != SQLITE_OK) {
		db_fail(st, rc, "prepare", err);
		*slot = NULL;
	}
	return *slot;
}

/* The statement of filter f with its parameters bound, or NULL. */
static sqlite3_stmt *pipeline_list_bind(struct store *st, const struct store_pipeline_filter *f,
					int count, int64_t scan_floor, int64_t limit,
					struct strbuf *err)
{
	unsigned mask = scan_floor >= 0 ? PF_SCAN : 0;
	sqlite3_stmt *s;

	if (f->project_id)
		mask |= PF_PROJECT;
	if (f->ref)
		mask |= PF_REF;
	if (f->status)
		mask |= PF_STATUS;
	if (f->source)
		mask |= PF_SOURCE;
	if (f->before_id && !count)
		mask |= PF_BEFORE;
	if (f->visible_to)
		mask |= PF_VISIBLE;
	if (f->sha)
		mask |= PF_SHA;
	s = pipeline_list_stmt(st, mask, count, err);
	if (!s)
		return NULL;
	if (((mask & PF_PROJECT) && b_int(s, 1, f->project_id)) ||
	    ((mask & PF_REF) && b_text(s, 2, f->ref)) ||
	    ((mask & PF_STATUS) && b_text(s, 3, f->status)) ||
	    ((mask & PF_SOURCE) && b_text(s, 4, f->source)) ||
	    ((mask & PF_BEFORE) && b_int(s, 5, f->before_id)) ||
	    ((mask & PF_VISIBLE) && b_int(s, 8, f->visible_to)) ||
	    ((mask & PF_SHA) && b_text(s, 9, f->sha)) ||
	    ((mask & PF_SCAN) && b_int(s, 10, scan_floor)) ||
	    b_int(s, 6, limit) || b_int(s, 7, f->before_id || count ? 0 : f->offset)) {
		done(s);
		db_fail(st, -1, "pipeline list", err);
		return NULL;
	}
	return s;
}

int store_pipeline_count(struct store *st, const struct store_pipeline_filter *f,
			 int64_t max, int64_t *ret, struct strbuf *err)
{
	sqlite3_stmt *s;
	int rc;

	if (max < 1)
		return fail(err, -1, "pipeline count: max %lld below 1", (long long)max);
	s = pipeline_list_bind(st, f, 1, -1, max, err);
	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	done(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "pipeline count", err);
	return 0;
}

/* One listing statement's rows appended to *a; 0, or -1 (rows freed). */
static int pipeline_rows(struct store *st, const struct store_pipeline_filter *f,
			 int64_t scan_floor, struct store_pipeline **a, size_t *n,
			 struct strbuf *err)
{
	size_t alloc = 0;
	sqlite3_stmt *s = pipeline_list_bind(st, f, 0, scan_floor, f->limit, err);
	int rc;

	*a = NULL;
	*n = 0;
	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(*a, *n + 1, alloc);
		read_pipeline(s, &(*a)[(*n)++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_pipelines_free(*a, *n);
		*a = NULL;
		*n = 0;
		return db_fail(st, rc, "pipeline list", err);
	}
	return 0;
}

/*
 * The visible projects' pipelines (f->visible_to, no project or sha
 * filter), newest first, have no index in that order: searched by
 * project they are all read and sorted (100 ms for a page of 100,000).
 * When there are at most STORE_COUNT_MAX of them (counted, bounded),
 * their ids alone are sorted from the covering index (pipeline_list_stmt).
 * When there are more, the newest window of ids is read backwards,
 * each row's project looked up in the list: a full page there is the
 * answer (the newest visible ones are in it); else (the visible ones
 * are rare among the newest) the index serves after all.
 */
#define SCAN_WINDOW_MIN 4096

int store_pipeline_list(struct store *st, const struct store_pipeline_filter *f,
			struct store_pipeline **ret, size_t *nr, struct strbuf *err)
{
	struct store_pipeline *a = NULL;
	size_t n = 0;

	if (f->limit < 1 || f->limit > 1000)
		return fail(err, -1, "pipeline list: limit %d not in 1..1000", f->limit);
	if (f->offset < 0)
		return fail(err, -1, "pipeline list: negative offset");
	if (f->visible_to && !f->project_id && !f->sha) {
		int64_t many = f->count, top = f->before_id, floor, window;

		if (!f->counted &&
		    store_pipeline_count(st, f, STORE_COUNT_MAX + 1, &many, err) < 0)
			return -1;
		if (many > STORE_COUNT_MAX) {
			if (!top) {
				sqlite3_stmt *s = prep(st, ST_PIPELINE_MAX_ID, err);

				if (!s)
					return -1;
				if (sqlite3_step(s) != SQLITE_ROW) {
					done(s);
					return db_fail(st, -1, "pipeline list", err);
				}
				top = sqlite3_column_int64(s, 0) + 1;
				done(s);
			}
			window = 32 * ((int64_t)(f->before_id ? 0 : f->offset) + f->limit);
			if (window < SCAN_WINDOW_MIN)
				window = SCAN_WINDOW_MIN;
			floor = top - window > 0 ? top - window : 0;
			if (pipeline_rows(st, f, floor, &a, &n, err) < 0)
				return -1;
			if (n == (size_t)f->limit || !floor) {
				*ret = a;
				*nr = n;
				return 0;
			}
			store_pipelines_free(a, n);
		}
	}
	if (pipeline_rows(st, f, -1, &a, &n, err) < 0)
		return -1;
	*ret = a;
	*nr = n;
	return 0;
}

/* After a compare-and-set that changed nothing: which of the two? */
static int cas_lost(struct store *st, enum stmt_id exists, int64_t id,
		    const char *what, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, exists, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, id);
	rc = sqlite3_step(s);
	done(s);
	if (rc == SQLITE_ROW)
		return fail(err, STORE_CONFLICT, "%s %lld: status changed meanwhile",
			    what, (long long)id);
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "no %s %lld", what, (long long)id);
	return db_fail(st, rc, what, err);
}

int store_pipeline_set_status(struct store *st, int64_t id, const char *from,
			      const char *to, int64_t started, int64_t finished,
			      const char *error, struct strbuf *err)
{
	sqlite3_stmt *s;
	int r;

	if (!to)
		return fail(err, -1, "pipeline set status: no status");
	s = prep(st, ST_PIPELINE_SET_STATUS, err);
	if (!s)
		return -1;
	if (b_text(s, 1, to) || b_text(s, 2, from) || b_int(s, 3, started) ||
	    b_int(s, 4, finished) || b_text(s, 5, error) || b_int(s, 6, id)) {
		done(s);
		return db_fail(st, -1, "pipeline set status", err);
	}
	r = exec_stmt(st, s, "pipeline set status", err);
	if (r)
		return r;
	if (sqlite3_changes(st->db) == 0)
		return cas_lost(st, ST_PIPELINE_EXISTS, id, "pipeline", err);
	return 0;
}

int store_pipeline_set_ctx(struct store *st, int64_t id, const char *ctx,
			   const char *name, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PIPELINE_SET_CTX, err);
	int r;

	if (!s)
		return -1;
	if (b_int(s, 1, id) || b_text(s, 2, ctx) || b_text(s, 3, name)) {
		done(s);
		return db_fail(st, -1, "pipeline set ctx", err);
	}
	r = exec_stmt(st, s, "pipeline set ctx", err);
	if (r)
		return r;
	if (sqlite3_changes(st->db) == 0)
		return fail(err, STORE_NOTFOUND, "no pipeline %lld", (long long)id);
	return 0;
}

int store_merge_request_set(struct store *st, int64_t project_id, long long iid,
			    const char *source_branch, const char *target_branch,
			    const char *title, const char *url, const char *state,
			    struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_MR_SET, err);

	if (!s)
		return -1;
	if (b_int(s, 1, project_id) || b_int(s, 2, (int64_t)iid) || b_text(s, 3, source_branch) ||
	    b_text(s, 4, target_branch) || b_text(s, 5, title) || b_text(s, 6, url) ||
	    b_text(s, 7, state) || b_int(s, 8, now_ms())) {
		done(s);
		return db_fail(st, -1, "merge request set", err);
	}
	return exec_stmt(st, s, "merge request set", err);
}

int store_merge_requests_open(struct store *st, int64_t project_id, const char *source_branch,
			      long long *ret, size_t max, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_MR_OPEN, err);
	int rc;

	*nr = 0;
	if (!s)
		return -1;
	if (b_int(s, 1, project_id) || b_text(s, 2, source_branch) || b_int(s, 3, (int64_t)max)) {
		done(s);
		return db_fail(st, -1, "merge requests open", err);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *nr < max)
		ret[(*nr)++] = sqlite3_column_int64(s, 0);
	done(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(st, rc, "merge requests open", err);
	return 0;
}

void store_release_release(struct store_release *r)
{
	free(r->tag_name);
	free(r->name);
	free(r->description);
	free(r->ref);
	free(r->sha);
	free(r->released_at);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

void store_releases_free(struct store_release *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_release_release(&a[i]);
	free(a);
}

static void read_release(sqlite3_stmt *s, struct store_release *r)
{
	memset(r, 0, sizeof(*r));
	r->project_id = sqlite3_column_int64(s, 0);
	r->tag_name = col_str(s, 1);
	r->name = col_str(s, 2);
	r->description = col_str(s, 3);
	r->ref = col_str(s, 4);
	r->sha = col_str(s, 5);
	r->released_at = col_str(s, 6);
	r->data = col_str(s, 7);
	r->pipeline_id = sqlite3_column_int64(s, 8);
	r->job_id = sqlite3_column_int64(s, 9);
	r->created = sqlite3_column_int64(s, 10);
	r->updated = sqlite3_column_int64(s, 11);
}

int store_release_set(struct store *st, const struct store_release *r, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_RELEASE_SET, err);

	if (!s)
		return -1;
	if (b_int(s, 1, r->project_id) || b_text(s, 2, r->tag_name) || b_text(s, 3, r->name) ||
	    b_text(s, 4, r->description) || b_text(s, 5, r->ref) || b_text(s, 6, r->sha) ||
	    b_text(s, 7, r->released_at) || b_text(s, 8, r->data) ||
	    b_int(s, 9, r->pipeline_id) || b_int(s, 10, r->job_id) || b_int(s, 11, now_ms())) {
		done(s);
		return db_fail(st, -1, "release set", err);
	}
	return exec_stmt(st, s, "release set", err);
}

int store_release_list(struct store *st, int64_t project_id, int limit,
		       struct store_release **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_RELEASE_LIST, err);
	struct store_release *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*ret = NULL;
	*nr = 0;
	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_release(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_releases_free(a, n);
		return db_fail(st, rc, "release list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_release_get(struct store *st, int64_t project_id, const char *tag,
		      struct store_release *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_RELEASE_GET, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	if (b_text0(s, 2, tag)) {
		done(s);
		return db_fail(st, -1, "release get", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_release(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "no release %s", tag ? tag : "");
	return db_fail(st, rc, "release get", err);
}

int store_pipeline_set_auto_cancel(struct store *st, int64_t id, const char *on_new_commit,
				   const char *on_job_failure, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PIPELINE_SET_AUTO_CANCEL, err);

	if (!s)
		return -1;
	if (b_int(s, 1, id) || b_text(s, 2, on_new_commit) || b_text(s, 3, on_job_failure)) {
		done(s);
		return db_fail(st, -1, "pipeline set auto_cancel", err);
	}
	return exec_stmt(st, s, "pipeline set auto_cancel", err);
}

int store_pipeline_unfinished(struct store *st, int64_t project_id, const char *ref,
			      int64_t below, int64_t **ret_ids, size_t *nr,
			      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PIPELINE_UNFINISHED, err);
	int64_t *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 3, below > 0 ? below : INT64_MAX);
	if (b_text0(s, 2, ref)) {
		done(s);
		return db_fail(st, -1, "pipeline unfinished", err);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n++] = sqlite3_column_int64(s, 0);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		free(a);
		return db_fail(st, rc, "pipeline unfinished", err);
	}
	*ret_ids = a;
	*nr = n;
	return 0;
}

/* ---- jobs ---- */

void store_job_release(struct store_job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->stage);
	free(j->status);
	free(j->when);
	free(j->resource_group);
	free(j->needs);
	free(j->deps);
	free(j->failure_reason);
	free(j->runner);
	free(j->env_name);
	free(j->env_url);
	free(j->project);
	free(j->retry_when);
	free(j->manual_confirmation);
	free(j->pages);
	free(j->pages_prefix);
	memset(j, 0, sizeof(*j));
}

void store_jobs_free(struct store_job *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_job_release(&a[i]);
	free(a);
}

static void read_job(sqlite3_stmt *s, struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(s, 0);
	j->pipeline_id = sqlite3_column_int64(s, 1);
	j->project_id = sqlite3_column_int64(s, 2);
	j->name = col_str(s, 3);
	j->stage = col_str(s, 4);
	j->stage_idx = sqlite3_column_int(s, 5);
	j->plan_idx = sqlite3_column_int(s, 6);
	j->status = col_str(s, 7);
	j->when = col_str(s, 8);
	j->start_in_ms = sqlite3_column_int64(s, 9);
	j->allow_failure = sqlite3_column_int(s, 10);
	j->interruptible = sqlite3_column_int(s, 11);
	j->resource_group = col_str(s, 12);
	j->needs = col_str(s, 13);
	j->deps = col_str(s, 14);
	j->attempt = sqlite3_column_int(s, 15);
	j->max_retries = sqlite3_column_int(s, 16);
	j->retried = sqlite3_column_int(s, 17);
	j->exit_code = sqlite3_column_int(s, 18);
	j->failure_reason = col_str(s, 19);
	j->runner = col_str(s, 20);
	j->pid = sqlite3_column_int64(s, 21);
	j->pid_start = sqlite3_column_int64(s, 22);
	j->created = sqlite3_column_int64(s, 23);
	j->queued = sqlite3_column_int64(s, 24);
	j->started = sqlite3_column_int64(s, 25);
	j->finished = sqlite3_column_int64(s, 26);
	j->peak_mem = sqlite3_column_int64(s, 27);
	j->cpu = sqlite3_column_double(s, 28);
	j->log_size = sqlite3_column_int64(s, 29);
	j->coverage = sqlite3_column_double(s, 30);
	j->tests_total = sqlite3_column_int(s, 31);
	j->tests_failed = sqlite3_column_int(s, 32);
	j->tests_skipped = sqlite3_column_int(s, 33);
	j->tests_errors = sqlite3_column_int(s, 34);
	j->env_name = col_str(s, 35);
	j->env_url = col_str(s, 36);
	j->project = col_str(s, 37);
	j->retry_when = col_str(s, 38);
	j->artifacts_expire_at = sqlite3_column_int64(s, 39);
	j->artifacts_expired = sqlite3_column_int64(s, 40);
	j->manual_confirmation = col_str(s, 41);
	j->pages = col_str(s, 42);
	j->pages_prefix = col_str(s, 43);
	j->pages_expire_ms = sqlite3_column_int64(s, 44);
}

int store_job_add(struct store *st, struct store_job *j, struct strbuf *err)
{
	sqlite3_stmt *s;
	int64_t created = j->created ? j->created : now_ms();
	const char *status = j->status ? j->status : "created";
	int64_t queued = j->queued;
	int rc;

	if (!j->name || !j->stage)
		return fail(err, -1, "job add: name and stage are required");
	if (!queued && !strcmp(status, "pending"))
		queued = created;
	s = prep(st, ST_JOB_ADD, err);
	if (!s)
		return -1;
	if (b_int(s, 1, j->pipeline_id) || b_text(s, 2, j->name) ||
	    b_text(s, 3, j->stage) || b_int(s, 4, j->stage_idx) ||
	    b_int(s, 5, j->plan_idx) || b_text(s, 6, status) ||
	    b_text(s, 7, j->when ? j->when : "on_success") ||
	    b_int(s, 8, j->start_in_ms) || b_int(s, 9, !!j->allow_failure) ||
	    b_int(s, 10, !!j->interruptible) || b_text(s, 11, j->resource_group) ||
	    b_text(s, 12, j->needs) || b_text(s, 13, j->deps) ||
	    b_int(s, 14, j->attempt > 0 ? j->attempt : 1) ||
	    b_int(s, 15, j->max_retries) || b_int(s, 16, created) ||
	    b_int(s, 17, queued) || b_text(s, 18, j->retry_when) ||
	    b_text(s, 19, j->manual_confirmation) || b_text(s, 20, j->pages) ||
	    b_text(s, 21, j->pages_prefix ? j->pages_prefix : "") ||
	    b_int(s, 22, j->pages_expire_ms)) {
		done(s);
		return db_fail(st, -1, "job add", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		j->id = sqlite3_column_int64(s, 0);
		j->project_id = sqlite3_column_int64(s, 1);
		rc = sqlite3_step(s);
		done(s);
		if (rc != SQLITE_DONE)
			return db_fail(st, rc, "job add", err);
		j->created = created;
		j->queued = queued;
		if (j->attempt <= 0)
			j->attempt = 1;
		return 0;
	}
	done(s);
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "job add: no pipeline %lld",
			    (long long)j->pipeline_id);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return fail(err, STORE_CONFLICT,
			    "job add: pipeline %lld already has attempt %d of job %d",
			    (long long)j->pipeline_id, j->attempt > 0 ? j->attempt : 1,
			    j->plan_idx);
	return db_fail(st, rc, "job add", err);
}

/*
 * The job statement id answers for key (and, for ST_JOB_PAGES, prefix and
 * now): 0, STORE_NOTFOUND (none), -1.
 */
static int job_one(struct store *st, enum stmt_id id, int64_t key, const char *prefix,
		   int64_t now, struct store_job *ret, const char *none, const char *what,
		   struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, id, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, key);
	if (prefix && (b_text(s, 2, prefix) || b_int(s, 3, now))) {
		done(s);
		return db_fail(st, -1, what, err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_job(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "%s", none);
	return db_fail(st, rc, what, err);
}

int store_job_get(struct store *st, int64_t id, struct store_job *ret,
		  struct strbuf *err)
{
	char none[48];

	snprintf(none, sizeof(none), "no job %lld", (long long)id);
	return job_one(st, ST_JOB_GET, id, NULL, 0, ret, none, "job get", err);
}

int store_job_pages(struct store *st, int64_t project_id, const char *prefix,
		    int64_t now_ms, struct store_job *ret, struct strbuf *err)
{
	return job_one(st, ST_JOB_PAGES, project_id, prefix ? prefix : "", now_ms, ret,
		       "no Pages site: no successful Pages job", "pages job", err);
}

/* Step s (bound) into an array of jobs; reset s. */
static int collect_jobs(struct store *st, sqlite3_stmt *s, struct store_job **ret,
			size_t *nr, const char *what, struct strbuf *err)
{
	struct store_job *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_job(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_jobs_free(a, n);
		return db_fail(st, rc, what, err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_pages_list(struct store *st, int64_t project_id, int64_t now_ms,
		     struct store_job **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_PAGES_ALL, err);

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, now_ms);
	return collect_jobs(st, s, ret, nr, "pages list", err);
}

int store_job_list(struct store *st, int64_t pipeline_id, int all,
		   struct store_job **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, all ? ST_JOB_LIST_ALL : ST_JOB_LIST_LATEST, err);

	if (!s)
		return -1;
	b_int(s, 1, pipeline_id);
	return collect_jobs(st, s, ret, nr, "job list", err);
}

static int is_finished(const char *status)
{
	return !strcmp(status, "success") || !strcmp(status, "failed") ||
		!strcmp(status, "canceled") || !strcmp(status, "skipped");
}

/* What a transition without a record fills: now, and "unknown" results. */
static const struct store_job job_unknown = {
	.exit_code = -1, .peak_mem = -1, .cpu = -1, .log_size = -1,
	.coverage = -1, .tests_total = -1,
};

int store_job_transition(struct store *st, int64_t id, const char *from,
			 const char *to, const struct store_job *j,
			 struct strbuf *err)
{
	enum stmt_id which;
	sqlite3_stmt *s;
	int bad, r;

	if (!to)
		return fail(err, -1, "job transition: no status");
	if (!j)
		j = &job_unknown;
	if (!strcmp(to, "pending") || !strcmp(to, "scheduled"))
		which = ST_JOB_TO_PENDING;
	else if (!strcmp(to, "running"))
		which = ST_JOB_TO_RUNNING;
	else if (is_finished(to))
		which = ST_JOB_TO_FINISHED;
	else if (!strcmp(to, "created"))
		which = ST_JOB_TO_CREATED;
	else
		which = ST_JOB_TO_OTHER;
	s = prep(st, which, err);
	if (!s)
		return -1;
	bad = b_text(s, 1, to) || b_text(s, 2, from) || b_int(s, 3, id);
	switch (which) {
	case ST_JOB_TO_PENDING:
		bad = bad || b_int(s, 4, j->queued ? j->queued : now_ms());
		break;
	case ST_JOB_TO_RUNNING:
		bad = bad || b_int(s, 4, j->started ? j->started : now_ms()) ||
			b_text(s, 5, j->runner) || b_int(s, 6, j->pid) ||
			b_int(s, 7, j->pid_start);
		break;
	case ST_JOB_TO_FINISHED:
		bad = bad || b_int(s, 4, j->finished ? j->finished : now_ms()) ||
			b_int(s, 5, j->exit_code) || b_text(s, 6, j->failure_reason) ||
			b_int(s, 7, j->peak_mem) || b_dbl(s, 8, j->cpu) ||
			b_int(s, 9, j->log_size) || b_dbl(s, 10, j->coverage) ||
			b_int(s, 11, j->tests_total) || b_int(s, 12, j->tests_failed) ||
			b_int(s, 13, j->tests_skipped) || b_int(s, 14, j->tests_errors) ||
			b_text(s, 15, j->env_name) || b_text(s, 16, j->env_url) ||
			(j == &job_unknown ? sqlite3_bind_null(s, 17) :
			 b_int(s, 17, !!j->allow_failure));
		break;
	default:
		break;
	}
	if (bad) {
		done(s);
		return db_fail(st, -1, "job transition", err);
	}
	r = exec_stmt(st, s, "job transition", err);
	if (r)
		return r;
	if (sqlite3_changes(st->db) == 0)
		return cas_lost(st, ST_JOB_EXISTS, id, "job", err);
	return 0;
}

static int job_update(struct store *st, enum stmt_id which, int64_t id,
		      int64_t v, const char *what, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, which, err);
	int r;

	if (!s)
		return -1;
	b_int(s, 1, id);
	if (which == ST_JOB_SET_LOG_SIZE)
		b_int(s, 2, v);
	r = exec_stmt(st, s, what, err);
	if (r)
		return r;
	if (sqlite3_changes(st->db) == 0)
		return fail(err, STORE_NOTFOUND, "no job %lld", (long long)id);
	return 0;
}

int store_job_set_retried(struct store *st, int64_t id, struct strbuf *err)
{
	return job_update(st, ST_JOB_SET_RETRIED, id, 0, "job set retried", err);
}

int store_job_set_log_size(struct store *st, int64_t id, int64_t size,
			   struct strbuf *err)
{
	return job_update(st, ST_JOB_SET_LOG_SIZE, id, size, "job set log size", err);
}

int store_job_claim(struct store *st, const char *runner, int64_t now,
		    struct store_job *ret, struct strbuf *err)
{
	struct store_job j;
	sqlite3_stmt *s;
	int nested, rc, r;
	int64_t id = 0;

	/* the claim and the read of the claimed row, one transaction */
	if (op_begin(st, &nested, err))
		return -1;
	s = prep(st, ST_JOB_CLAIM, err);
	if (!s)
		goto fail;
	if (b_text(s, 1, runner) || b_int(s, 2, now ? now : now_ms())) {
		done(s);
		db_fail(st, -1, "job claim", err);
		goto fail;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	} else if (rc == SQLITE_DONE) {
		done(s);
		op_rollback(st, nested);
		return STORE_NOTFOUND;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, rc, "job claim", err);
		goto fail;
	}
	if (store_job_get(st, id, &j, err))
		goto fail;
	if ((r = op_commit(st, nested, err))) {
		store_job_release(&j);
		return r;
	}
	*ret = j;
	return 0;
fail:
	op_rollback(st, nested);
	return -1;
}

int store_job_running(struct store *st, struct store_job **ret, size_t *nr,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_RUNNING, err);

	if (!s)
		return -1;
	return collect_jobs(st, s, ret, nr, "job running", err);
}

/* Step a bound "SELECT count(*)" into *ret; reset s. */
static int get_count(struct store *st, sqlite3_stmt *s, int64_t *ret,
		     const char *what, struct strbuf *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	done(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, what, err);
	return 0;
}

int store_job_running_since(struct store *st, int64_t *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_RUNNING_SINCE, err);

	if (!s)
		return -1;
	return get_count(st, s, ret, "running since", err);
}

static int exec_returning(struct store *st, sqlite3_stmt *s, const char *what,
			  struct strbuf *err);

int store_job_set_dotenv(struct store *st, int64_t id, const char *json,
			 struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_SET_DOTENV, err);
	int rc;

	if (!s)
		return -1;
	if (b_int(s, 1, id) || b_text(s, 2, json)) {
		done(s);
		return db_fail(st, -1, "job dotenv", err);
	}
	rc = exec_returning(st, s, "job dotenv", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no job %lld", (long long)id);
	return rc;
}

int store_job_def_add(struct store *st, int64_t pipeline_id, int plan_idx,
		      const char *def, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_DEF_ADD, err);

	if (!s)
		return -1;
	if (b_int(s, 1, pipeline_id) || b_int(s, 2, plan_idx) || b_text(s, 3, def)) {
		done(s);
		return db_fail(st, -1, "job definition", err);
	}
	return exec_stmt(st, s, "job definition", err);
}

int store_job_defs(struct store *st, int64_t pipeline_id, int plan_idx,
		   char **ret_globals, char **ret_def, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_DEFS, err);
	int rc;

	*ret_globals = *ret_def = NULL;
	if (!s)
		return -1;
	if (b_int(s, 1, pipeline_id) || b_int(s, 2, plan_idx)) {
		done(s);
		return db_fail(st, -1, "job definition", err);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char **to = sqlite3_column_int(s, 0) < 0 ? ret_globals : ret_def;

		free(*to);
		*to = col_str(s, 1);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		free(*ret_globals);
		free(*ret_def);
		*ret_globals = *ret_def = NULL;
		return db_fail(st, rc, "job definition", err);
	}
	return 0;
}

int store_job_dotenv(struct store *st, int64_t id, char **ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_DOTENV, err);
	int rc;

	*ret = NULL;
	if (!s)
		return -1;
	if (b_int(s, 1, id)) {
		done(s);
		return db_fail(st, -1, "job dotenv", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*ret = col_str(s, 0);
	done(s);
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "no job %lld", (long long)id);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "job dotenv", err);
	return 0;
}

int store_job_count(struct store *st, const char *status, int64_t *ret,
		    struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_COUNT, err);

	if (!s)
		return -1;
	if (b_text0(s, 1, status)) {
		done(s);
		return db_fail(st, -1, "job count", err);
	}
	return get_count(st, s, ret, "job count", err);
}

int store_job_allowed_failed(struct store *st, int64_t pipeline_id, int64_t *ret,
			     struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_ALLOWED_FAILED, err);

	if (!s)
		return -1;
	b_int(s, 1, pipeline_id);
	return get_count(st, s, ret, "allowed failures", err);
}

int store_job_busy(struct store *st, int64_t pipeline_id, int *ret_undecided,
		   int *ret_running, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_BUSY, err);
	int rc;

	*ret_undecided = *ret_running = 0;
	if (!s)
		return -1;
	if (b_int(s, 1, pipeline_id)) {
		done(s);
		return db_fail(st, -1, "job busy", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret_undecided = sqlite3_column_int(s, 0);
		*ret_running = sqlite3_column_int(s, 1);
	}
	done(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "job busy", err);
	return 0;
}

int store_job_tally(struct store *st, int64_t pipeline_id, struct store_job_group *ret,
		    size_t max, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_TALLY, err);
	size_t n = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, pipeline_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(s, 0);

		if (n == max) {
			done(s);
			return fail(err, -1, "job tally: more than %zu groups", max);
		}
		snprintf(ret[n].status, sizeof(ret[n].status), "%s", status ? status : "");
		ret[n].allow_failure = sqlite3_column_int(s, 1);
		ret[n].started = sqlite3_column_int(s, 2);
		ret[n].n = sqlite3_column_int64(s, 3);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, "job tally", err);
	*nr = n;
	return 0;
}

/* ---- test cases ---- */

void store_test_release(struct store_test *t)
{
	if (!t)
		return;
	free(t->suite);
	free(t->classname);
	free(t->name);
	free(t->status);
	free(t->message);
	memset(t, 0, sizeof(*t));
}

void store_tests_free(struct store_test *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_test_release(&a[i]);
	free(a);
}

int store_tests_add(struct store *st, int64_t job_id, const struct store_test *a,
		    size_t nr, struct strbuf *err)
{
	sqlite3_stmt *s;
	int nested, r;
	size_t i;

	if (!nr)
		return 0;
	if (op_begin(st, &nested, err))
		return -1;
	s = prep(st, ST_TEST_ADD, err);
	if (!s) {
		op_rollback(st, nested);
		return -1;
	}
	for (i = 0; i < nr; i++) {
		const struct store_test *t = &a[i];

		if (b_int(s, 1, job_id) || b_text0(s, 2, t->suite) ||
		    b_text0(s, 3, t->classname) || b_text0(s, 4, t->name) ||
		    b_text0(s, 5, t->status) || b_dbl(s, 6, t->time) ||
		    b_text(s, 7, t->message)) {
			done(s);
			r = db_fail(st, -1, "tests add", err);
			goto fail;
		}
		if ((r = exec_stmt(st, s, "tests add", err)))
			goto fail;
	}
	return op_commit(st, nested, err);
fail:
	op_rollback(st, nested);
	return r;
}

int store_tests_list(struct store *st, int64_t job_id, int failed_only,
		     struct store_test **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, failed_only ? ST_TESTS_LIST_FAILED : ST_TESTS_LIST, err);
	struct store_test *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, job_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_test *t;

		ALLOC_GROW(a, n + 1, alloc);
		t = &a[n++];
		t->suite = col_str(s, 0);
		t->classname = col_str(s, 1);
		t->name = col_str(s, 2);
		t->status = col_str(s, 3);
		t->time = sqlite3_column_double(s, 4);
		t->message = col_str(s, 5);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_tests_free(a, n);
		return db_fail(st, rc, "tests list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

/* ---- artifacts ---- */

void store_artifact_release(struct store_artifact *a)
{
	if (!a)
		return;
	free(a->path);
	memset(a, 0, sizeof(*a));
}

void store_artifacts_free(struct store_artifact *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_artifact_release(&a[i]);
	free(a);
}

static void read_artifact(sqlite3_stmt *s, struct store_artifact *a)
{
	const char *sha = (const char *)sqlite3_column_text(s, 2);
	size_t n = sha ? strlen(sha) : 0;

	memset(a, 0, sizeof(*a));
	a->path = col_str(s, 0);
	a->size = sqlite3_column_int64(s, 1);
	if (n > 64)
		n = 64;
	memcpy(a->sha256, sha ? sha : "", n);
	a->sha256[n] = '\0';
	a->mode = sqlite3_column_int(s, 3);
	a->crc32 = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 4);
}

int store_artifacts_add(struct store *st, int64_t job_id, const struct store_artifact *a,
			size_t nr, struct strbuf *err)
{
	sqlite3_stmt *s;
	int nested, r;
	size_t i;

	if (!nr)
		return 0;
	for (i = 0; i < nr; i++)
		if (!a[i].path || !*a[i].path)
			return fail(err, -1, "artifacts add: an artifact without a path");
	if (op_begin(st, &nested, err))
		return -1;
	s = prep(st, ST_ARTIFACT_ADD, err);
	if (!s) {
		op_rollback(st, nested);
		return -1;
	}
	for (i = 0; i < nr; i++) {
		if (b_int(s, 1, job_id) || b_text(s, 2, a[i].path) ||
		    b_int(s, 3, a[i].size) ||
		    sqlite3_bind_text(s, 4, a[i].sha256, (int)strnlen(a[i].sha256, 64),
				      SQLITE_STATIC) ||
		    b_int(s, 5, a[i].mode) ||
		    (a[i].crc32 >= 0 ? b_int(s, 6, a[i].crc32) : sqlite3_bind_null(s, 6))) {
			done(s);
			r = db_fail(st, -1, "artifacts add", err);
			goto fail;
		}
		if ((r = exec_stmt(st, s, "artifacts add", err)))
			goto fail;
	}
	return op_commit(st, nested, err);
fail:
	op_rollback(st, nested);
	return r;
}

int store_artifacts_list(struct store *st, int64_t job_id,
			 struct store_artifact **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_ARTIFACTS_LIST, err);
	struct store_artifact *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, job_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_artifact(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_artifacts_free(a, n);
		return db_fail(st, rc, "artifacts list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_artifacts_from(struct store *st, int64_t job_id, const char *from, int after,
			 size_t limit, struct store_artifact **ret, size_t *nr,
			 struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, after ? ST_ARTIFACTS_AFTER : ST_ARTIFACTS_FROM, err);
	struct store_artifact *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, job_id);
	if (b_text0(s, 2, from)) {
		done(s);
		return db_fail(st, -1, "artifacts range", err);
	}
	b_int(s, 3, (int64_t)limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_artifact(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_artifacts_free(a, n);
		return db_fail(st, rc, "artifacts range", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_artifacts_sum(struct store *st, int64_t job_id, const char *from, const char *to,
			int64_t *ret_count, int64_t *ret_size, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_ARTIFACTS_SUM, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, job_id);
	if (b_text0(s, 2, from) || b_text0(s, 3, to)) {
		done(s);
		return db_fail(st, -1, "artifacts sum", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ret_count = sqlite3_column_int64(s, 0);
		*ret_size = sqlite3_column_int64(s, 1);
	}
	done(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "artifacts sum", err);
	return 0;
}

int store_artifact_get(struct store *st, int64_t job_id, const char *path,
		       struct store_artifact *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_ARTIFACT_GET, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, job_id);
	if (b_text0(s, 2, path)) {
		done(s);
		return db_fail(st, -1, "artifact get", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_artifact(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "job %lld has no artifact %s",
			    (long long)job_id, path ? path : "");
	return db_fail(st, rc, "artifact get", err);
}

/* ---- tokens ---- */

int store_token_add(struct store *st, const char *name, const char *hash,
		    int64_t *ret_id, struct strbuf *err)
{
	sqlite3_stmt *s;
	int r;

	if (!hash || strlen(hash) != 64)
		return fail(err, -1, "token add: want 64 hex characters of SHA-256");
	s = prep(st, ST_TOKEN_ADD, err);
	if (!s)
		return -1;
	if (b_text0(s, 1, name) || b_text(s, 2, hash) || b_int(s, 3, now_ms())) {
		done(s);
		return db_fail(st, -1, "token add", err);
	}
	r = exec_stmt(st, s, "token add", err);
	if (r)
		return r;
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_token_check(struct store *st, const char *hash, char **ret_name,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_CHECK, err);
	int rc;

	if (!s)
		return -1;
	if (b_text0(s, 1, hash)) {
		done(s);
		return db_fail(st, -1, "token check", err);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && ret_name)
		*ret_name = col_str(s, 0);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return db_fail(st, rc, "token check", err);
}

int store_token_count(struct store *st, int64_t *ret, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_COUNT, err);

	if (!s)
		return -1;
	return get_count(st, s, ret, "token count", err);
}

/* ---- projects: anonymous read ---- */

/* Step s, which RETURNs a row when it changed one; reset s. */
static int exec_returning(struct store *st, sqlite3_stmt *s, const char *what,
			  struct strbuf *err)
{
	int rc = sqlite3_step(s), found = rc == SQLITE_ROW;

	while (rc == SQLITE_ROW)
		rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, what, err);
	return found ? 0 : STORE_NOTFOUND;
}

int store_project_set_public(struct store *st, const char *name, int on, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_SET_PUBLIC, err);
	int rc;

	if (!s)
		return -1;
	b_text0(s, 1, name);
	b_int(s, 2, on ? 1 : 0);
	rc = exec_returning(st, s, "project set public", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no project %s", name ? name : "");
	return rc;
}

int store_project_set_protected(struct store *st, const char *name, const char *patterns,
				struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_SET_PROTECTED, err);
	int rc;

	if (!s)
		return -1;
	b_text0(s, 1, name);
	b_text(s, 2, patterns);
	rc = exec_returning(st, s, "project set protected branches", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no project %s", name ? name : "");
	return rc;
}

int store_project_set_protected_tags(struct store *st, const char *name,
				     const char *patterns, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PROJECT_SET_PROTECTED_TAGS, err);
	int rc;

	if (!s)
		return -1;
	b_text0(s, 1, name);
	b_text(s, 2, patterns && *patterns ? patterns : NULL);
	rc = exec_returning(st, s, "project set protected tags", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no project %s", name ? name : "");
	return rc;
}

/* ---- tokens owned by users ---- */

void store_token_release(struct store_token *t)
{
	if (!t)
		return;
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void store_tokens_free(struct store_token *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_token_release(&a[i]);
	free(a);
}

static void read_token(sqlite3_stmt *s, struct store_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(s, 0);
	t->name = col_str(s, 1);
	t->user_id = sqlite3_column_int64(s, 2);
	t->created = sqlite3_column_int64(s, 3);
	t->last_used = sqlite3_column_int64(s, 4);
	t->revoked = sqlite3_column_int(s, 5);
}

int store_token_add_user(struct store *st, const char *name, const char *hash,
			 int64_t user_id, int64_t *ret_id, struct strbuf *err)
{
	sqlite3_stmt *s;
	int r;

	if (!hash || strlen(hash) != 64)
		return fail(err, -1, "token add: want 64 hex characters of SHA-256");
	s = prep(st, ST_TOKEN_ADD_USER, err);
	if (!s)
		return -1;
	if (b_text0(s, 1, name) || b_text(s, 2, hash) || b_int(s, 3, now_ms()) ||
	    b_int(s, 4, user_id)) {
		done(s);
		return db_fail(st, -1, "token add", err);
	}
	r = exec_stmt(st, s, "token add", err);
	if (r)
		return r;
	if (ret_id)
		*ret_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_token_lookup(struct store *st, const char *hash, struct store_token *ret,
		       struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_LOOKUP, err);
	int rc;

	if (!s)
		return -1;
	b_text0(s, 1, hash);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		read_token(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return db_fail(st, rc, "token lookup", err);
}

int store_token_used(struct store *st, int64_t id, int64_t now, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_USED, err);

	if (!s)
		return -1;
	b_int(s, 1, id);
	b_int(s, 2, now ? now : now_ms());
	return exec_stmt(st, s, "token used", err);
}

int store_token_list(struct store *st, int64_t user_id, struct store_token **ret,
		     size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_LIST, err);
	struct store_token *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, user_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_token(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_tokens_free(a, n);
		return db_fail(st, rc, "token list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_token_revoke(struct store *st, int64_t id, int64_t user_id, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TOKEN_REVOKE, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, id);
	b_int(s, 2, user_id);
	rc = exec_returning(st, s, "token revoke", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no live token %lld", (long long)id);
	return rc;
}

/* ---- users ---- */

void store_user_release(struct store_user *u)
{
	if (!u)
		return;
	free(u->login);
	free(u->name);
	free(u->email);
	if (u->password)
		memset(u->password, 0, strlen(u->password));
	free(u->password);
	memset(u, 0, sizeof(*u));
}

void store_users_free(struct store_user *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		store_user_release(&a[i]);
	free(a);
}

int store_user_login_ok(const char *login)
{
	size_t i, n = login ? strlen(login) : 0;

	if (n < 1 || n > 64 || login[0] == '.' || login[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = login[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void read_user(sqlite3_stmt *s, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(s, 0);
	u->login = col_str(s, 1);
	u->name = col_str(s, 2);
	u->email = col_str(s, 3);
	u->password = col_str(s, 4);
	u->admin = sqlite3_column_int(s, 5);
	u->disabled = sqlite3_column_int(s, 6);
	u->created = sqlite3_column_int64(s, 7);
}

int store_user_add(struct store *st, struct store_user *u, struct strbuf *err)
{
	sqlite3_stmt *s;
	int64_t created = u->created ? u->created : now_ms();
	int rc;

	if (!store_user_login_ok(u->login))
		return fail(err, -1, "invalid login (want [A-Za-z0-9._-]{1,64}, "
			    "not starting with . or -)");
	s = prep(st, ST_USER_ADD, err);
	if (!s)
		return -1;
	if (b_text(s, 1, u->login) || b_text0(s, 2, u->name) || b_text0(s, 3, u->email) ||
	    b_text0(s, 4, u->password) || b_int(s, 5, u->admin ? 1 : 0) ||
	    b_int(s, 6, u->disabled ? 1 : 0) || b_int(s, 7, created)) {
		done(s);
		return db_fail(st, -1, "user add", err);
	}
	rc = exec_stmt(st, s, "user add", err);
	if (rc)
		return rc;
	u->id = sqlite3_last_insert_rowid(st->db);
	u->created = created;
	return 0;
}

static int get_user(struct store *st, sqlite3_stmt *s, struct store_user *ret,
		    struct strbuf *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		read_user(s, ret);
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return fail(err, STORE_NOTFOUND, "no such user");
	return db_fail(st, rc, "user get", err);
}

int store_user_get(struct store *st, const char *login, struct store_user *ret,
		   struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_USER_GET, err);

	if (!s)
		return -1;
	b_text0(s, 1, login);
	return get_user(st, s, ret, err);
}

int store_user_get_id(struct store *st, int64_t id, struct store_user *ret,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_USER_GET_ID, err);

	if (!s)
		return -1;
	b_int(s, 1, id);
	return get_user(st, s, ret, err);
}

int store_user_list(struct store *st, struct store_user **ret, size_t *nr,
		    struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_USER_LIST, err);
	struct store_user *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		read_user(s, &a[n++]);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_users_free(a, n);
		return db_fail(st, rc, "user list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_user_update(struct store *st, int64_t id, const char *password, int admin,
		      int disabled, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_USER_UPDATE, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, id);
	b_text(s, 2, password);
	b_int(s, 3, admin < 0 ? -1 : !!admin);
	b_int(s, 4, disabled < 0 ? -1 : !!disabled);
	rc = exec_returning(st, s, "user update", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no user %lld", (long long)id);
	return rc;
}

/* ---- sessions ---- */

int store_session_add(struct store *st, const char *hash, const struct store_session *se,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SESSION_ADD, err);

	if (!s)
		return -1;
	if (b_text0(s, 1, hash) || b_int(s, 2, se->user_id) || b_text0(s, 3, se->csrf) ||
	    b_int(s, 4, se->created ? se->created : now_ms()) || b_int(s, 5, se->expires) ||
	    b_int(s, 6, se->last_seen ? se->last_seen : now_ms())) {
		done(s);
		return db_fail(st, -1, "session add", err);
	}
	return exec_stmt(st, s, "session add", err);
}

int store_session_get(struct store *st, const char *hash, struct store_session *ret,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SESSION_GET, err);
	int rc;

	if (!s)
		return -1;
	b_text0(s, 1, hash);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(s, 1);

		memset(ret, 0, sizeof(*ret));
		ret->user_id = sqlite3_column_int64(s, 0);
		snprintf(ret->csrf, sizeof(ret->csrf), "%s", c ? c : "");
		ret->created = sqlite3_column_int64(s, 2);
		ret->expires = sqlite3_column_int64(s, 3);
		ret->last_seen = sqlite3_column_int64(s, 4);
	}
	done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return STORE_NOTFOUND;
	return db_fail(st, rc, "session get", err);
}

int store_session_touch(struct store *st, const char *hash, int64_t last_seen,
			struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SESSION_TOUCH, err);

	if (!s)
		return -1;
	b_text0(s, 1, hash);
	b_int(s, 2, last_seen ? last_seen : now_ms());
	return exec_stmt(st, s, "session touch", err);
}

int store_session_delete(struct store *st, const char *hash, int64_t now, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SESSION_DELETE, err);
	int r;

	if (!s)
		return -1;
	b_text0(s, 1, hash);
	r = exec_stmt(st, s, "session delete", err);
	if (r || now <= 0)
		return r;
	s = prep(st, ST_SESSION_EXPIRE, err);
	if (!s)
		return -1;
	b_int(s, 1, now);
	return exec_stmt(st, s, "session expire", err);
}

int store_session_prune(struct store *st, int64_t user_id, int keep, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SESSION_PRUNE, err);

	if (!s)
		return -1;
	b_int(s, 1, user_id);
	b_int(s, 2, keep);
	return exec_stmt(st, s, "session prune", err);
}

/* ---- members ---- */

void store_members_free(struct store_member *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++)
		free(a[i].login);
	free(a);
}

int store_member_set(struct store *st, int64_t project_id, int64_t user_id, int role,
		     struct strbuf *err)
{
	sqlite3_stmt *s;

	if (role < 1 || role > 3)
		return fail(err, -1, "member set: role %d not 1..3", role);
	s = prep(st, ST_MEMBER_SET, err);
	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, user_id);
	b_int(s, 3, role);
	return exec_stmt(st, s, "member set", err);
}

int store_member_delete(struct store *st, int64_t project_id, int64_t user_id,
			struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_MEMBER_DELETE, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, user_id);
	rc = exec_returning(st, s, "member delete", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "not a member");
	return rc;
}

int store_member_role(struct store *st, int64_t project_id, int64_t user_id, int *ret_role,
		      struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_MEMBER_ROLE, err);
	int rc, role = 0;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, user_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		role = sqlite3_column_int(s, 0);
	done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, rc, "member role", err);
	*ret_role = role;
	return 0;
}

int store_member_list(struct store *st, int64_t project_id, struct store_member **ret,
		      size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_MEMBER_LIST, err);
	struct store_member *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].user_id = sqlite3_column_int64(s, 0);
		a[n].login = col_str(s, 1);
		a[n].role = sqlite3_column_int(s, 2);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_members_free(a, n);
		return db_fail(st, rc, "member list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

/* ---- secret variables ---- */

void store_variables_free(struct store_variable *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++) {
		free(a[i].key);
		if (a[i].value)
			memset(a[i].value, 0, strlen(a[i].value));
		free(a[i].value);
	}
	free(a);
}

int store_variable_set(struct store *st, int64_t project_id, const char *key,
		       const char *value, int masked, int protected_only,
		       struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_VAR_SET, err);

	if (!s)
		return -1;
	if (b_int(s, 1, project_id) || b_text0(s, 2, key) || b_text0(s, 3, value) ||
	    b_int(s, 4, masked ? 1 : 0) || b_int(s, 5, now_ms()) ||
	    b_int(s, 6, protected_only ? 1 : 0)) {
		done(s);
		return db_fail(st, -1, "variable set", err);
	}
	return exec_stmt(st, s, "variable set", err);
}

int store_variable_delete(struct store *st, int64_t project_id, const char *key,
			  struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_VAR_DELETE, err);
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_text0(s, 2, key);
	rc = exec_returning(st, s, "variable delete", err);
	if (rc == STORE_NOTFOUND)
		return fail(err, rc, "no variable %s", key ? key : "");
	return rc;
}

int store_variable_list(struct store *st, int64_t project_id, int with_values,
			struct store_variable **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_VAR_LIST, err);
	struct store_variable *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, with_values ? 1 : 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].key = col_str(s, 0);
		a[n].value = col_str(s, 1);
		a[n].masked = sqlite3_column_int(s, 2);
		a[n].updated = sqlite3_column_int64(s, 3);
		a[n].protected_only = sqlite3_column_int(s, 4);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_variables_free(a, n);
		return db_fail(st, rc, "variable list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

/* ---- secrets as stored ---- */

void store_secrets_free(struct store_secret *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

int store_secret_list(struct store *st, const char *prefix, int sealed,
		      struct store_secret **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_SECRET_LIST, err);
	struct store_secret *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	*ret = NULL;
	*nr = 0;
	if (!s)
		return -1;
	b_text0(s, 1, prefix);
	b_int(s, 2, sealed ? 1 : 0);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].kind = (enum store_secret_kind)sqlite3_column_int(s, 0);
		a[n].project_id = sqlite3_column_int64(s, 1);
		a[n].key = col_str(s, 2);
		a[n].value = col_str(s, 3);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_secrets_free(a, n);
		return db_fail(st, rc, "secret list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_secret_rewrite(struct store *st, const struct store_secret *x, const char *value,
			 struct strbuf *err)
{
	static const enum stmt_id ids[] = {
		[STORE_SECRET_VARIABLE] = ST_SECRET_VAR_SET,
		[STORE_SECRET_NOTIFY] = ST_SECRET_NOTIFY_SET,
		[STORE_SECRET_WEBHOOK] = ST_SECRET_WEBHOOK_SET,
		[STORE_SECRET_HOOK] = ST_SECRET_HOOK_SET,
	};
	sqlite3_stmt *s;

	if ((unsigned)x->kind >= sizeof(ids) / sizeof(ids[0]))
		return fail(err, -1, "secret rewrite: unknown kind %d", (int)x->kind);
	s = prep(st, ids[x->kind], err);
	if (!s)
		return -1;
	if (b_int(s, 1, x->project_id) || b_text0(s, 2, x->key) || b_text0(s, 3, value)) {
		done(s);
		return db_fail(st, -1, "secret rewrite", err);
	}
	return exec_stmt(st, s, "secret rewrite", err);
}

/* ---- retention ---- */

int store_artifacts_set_expiry(struct store *st, int64_t job_id, int64_t expire_at,
			       struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, expire_at ? ST_ARTIFACTS_EXPIRE_AT : ST_ARTIFACTS_KEEP, err);
	int r;

	if (!s)
		return -1;
	if (b_int(s, 1, job_id) || (expire_at && b_int(s, 2, expire_at))) {
		done(s);
		return db_fail(st, -1, "artifacts expiry", err);
	}
	r = exec_returning(st, s, "artifacts expiry", err);
	if (r != STORE_NOTFOUND)
		return r;
	/* no such job, or its artifacts are gone already */
	s = prep(st, ST_JOB_EXISTS, err);
	if (!s)
		return -1;
	b_int(s, 1, job_id);
	r = sqlite3_step(s);
	done(s);
	if (r == SQLITE_ROW)
		return fail(err, STORE_CONFLICT, "the artifacts of job %lld expired already",
			    (long long)job_id);
	if (r != SQLITE_DONE)
		return db_fail(st, r, "artifacts expiry", err);
	return fail(err, STORE_NOTFOUND, "no job %lld", (long long)job_id);
}

int store_artifacts_expire(struct store *st, int64_t now, int keep_latest, int limit,
			   int64_t **ret_ids, size_t *ret_nr, struct strbuf *err)
{
	sqlite3_stmt *s;
	int64_t *ids = NULL;
	size_t n = 0, alloc = 0, i;
	int nested, rc;

	if (limit < 1)
		return fail(err, -1, "artifacts expire: limit %d", limit);
	if (op_begin(st, &nested, err))
		return -1;
	s = prep(st, ST_ARTIFACTS_EXPIRE, err);
	if (!s)
		goto fail;
	b_int(s, 1, now);
	b_int(s, 2, keep_latest ? 1 : 0);
	b_int(s, 3, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(ids, n + 1, alloc);
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	done(s);
	if (rc != SQLITE_DONE) {
		db_fail(st, rc, "artifacts expire", err);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		s = prep(st, ST_ARTIFACTS_DELETE, err);
		if (!s)
			goto fail;
		b_int(s, 1, ids[i]);
		if (exec_stmt(st, s, "artifacts expire", err))
			goto fail;
	}
	if (op_commit(st, nested, err))
		goto fail_committed;
	*ret_ids = ids;
	*ret_nr = n;
	return 0;
fail:
	op_rollback(st, nested);
fail_committed:
	free(ids);
	return -1;
}

int store_artifact_blob_used(struct store *st, const char *sha256, int *ret_used,
			     struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_ARTIFACT_BLOB_USED, err);
	int rc;

	if (!s)
		return -1;
	b_text(s, 1, sha256);
	rc = sqlite3_step(s);
	done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, rc, "artifact blob", err);
	*ret_used = rc == SQLITE_ROW;
	return 0;
}

int store_artifacts_set_crc(struct store *st, const char *sha256, uint32_t crc,
			    struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_ARTIFACT_SET_CRC, err);

	if (!s)
		return -1;
	if (b_text(s, 1, sha256) || b_int(s, 2, crc)) {
		done(s);
		return db_fail(st, -1, "artifact crc", err);
	}
	return exec_stmt(st, s, "artifact crc", err);
}

/* ---- audit log ---- */

void store_audit_free(struct store_audit *a, size_t nr)
{
	size_t i;

	for (i = 0; a && i < nr; i++) {
		free(a[i].actor);
		free(a[i].remote);
		free(a[i].action);
		free(a[i].target);
		free(a[i].detail);
	}
	free(a);
}

int store_audit_add(struct store *st, const struct store_audit *a, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_AUDIT_ADD, err);

	if (!s)
		return -1;
	if (b_int(s, 1, a->time ? a->time : now_ms()) || b_text0(s, 2, a->actor) ||
	    b_text0(s, 3, a->remote) || b_text0(s, 4, a->action) || b_text0(s, 5, a->target) ||
	    b_text0(s, 6, a->detail)) {
		done(s);
		return db_fail(st, -1, "audit add", err);
	}
	return exec_stmt(st, s, "audit add", err);
}

int store_audit_list(struct store *st, int limit, int offset, struct store_audit **ret,
		     size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s;
	struct store_audit *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (limit < 1 || limit > 1000 || offset < 0)
		return fail(err, -1, "audit list: limit %d not in 1..1000", limit);
	s = prep(st, ST_AUDIT_LIST, err);
	if (!s)
		return -1;
	b_int(s, 1, limit);
	b_int(s, 2, offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].id = sqlite3_column_int64(s, 0);
		a[n].time = sqlite3_column_int64(s, 1);
		a[n].actor = col_str(s, 2);
		a[n].remote = col_str(s, 3);
		a[n].action = col_str(s, 4);
		a[n].target = col_str(s, 5);
		a[n].detail = col_str(s, 6);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_audit_free(a, n);
		return db_fail(st, rc, "audit list", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_audit_prune(struct store *st, int64_t before, int64_t *ret_n, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_AUDIT_PRUNE, err);
	int r;

	if (!s)
		return -1;
	b_int(s, 1, before);
	r = exec_stmt(st, s, "audit prune", err);
	if (!r && ret_n)
		*ret_n = sqlite3_changes64(st->db);
	return r;
}

/* ---- the web UI's reads ---- */

int store_job_active(struct store *st, int limit, struct store_job **ret, size_t *nr,
		     struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_JOB_ACTIVE, err);

	if (!s)
		return -1;
	b_int(s, 1, limit);
	return collect_jobs(st, s, ret, nr, "active jobs", err);
}

int store_test_history(struct store *st, int64_t project_id, const char *classname,
		       const char *name, int64_t max_job, int limit,
		       struct store_test_run **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_TEST_HISTORY, err);
	struct store_test_run *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	if (b_text0(s, 1, name) || b_text0(s, 2, classname) || b_int(s, 3, project_id) ||
	    b_int(s, 4, max_job) || b_int(s, 5, limit)) {
		done(s);
		return db_fail(st, -1, "test history", err);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *t;

		ALLOC_GROW(a, n + 1, alloc);
		a[n].job_id = sqlite3_column_int64(s, 0);
		a[n].pipeline_id = sqlite3_column_int64(s, 1);
		t = sqlite3_column_text(s, 2);
		snprintf(a[n].status, sizeof(a[n].status), "%s", t ? (const char *)t : "");
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		free(a);
		return db_fail(st, rc, "test history", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

int store_pipeline_refs(struct store *st, int64_t project_id, int limit,
			struct store_ref_last **ret, size_t *nr, struct strbuf *err)
{
	sqlite3_stmt *s = prep(st, ST_PIPELINE_REFS, err);
	struct store_ref_last *a = NULL;
	size_t n = 0, alloc = 0;
	int rc;

	if (!s)
		return -1;
	b_int(s, 1, project_id);
	b_int(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ALLOC_GROW(a, n + 1, alloc);
		a[n].ref = col_str(s, 0);
		a[n].pipeline_id = sqlite3_column_int64(s, 1);
		n++;
	}
	done(s);
	if (rc != SQLITE_DONE) {
		store_refs_last_free(a, n);
		return db_fail(st, rc, "pipeline refs", err);
	}
	*ret = a;
	*nr = n;
	return 0;
}

void store_refs_last_free(struct store_ref_last *a, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(a[i].ref);
	free(a);
}

sqlite3 *store_sqlite_db(struct store *st)
{
	return st->db;
}

sqlite3_stmt *store_sqlite_kept(struct store *st, int slot, const char *sql)
{
	if (slot < 0 || slot >= STORE_KEPT_NR)
		return NULL;
	if (!st->kept[slot] &&
	    sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->kept[slot],
			       NULL) != SQLITE_OK) {
		sqlite3_finalize(st->kept[slot]);
		st->kept[slot] = NULL;
	}
	return st->kept[slot];
}
