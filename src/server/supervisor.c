/*
 * The job supervisor process (see supervisor.h).
 */
#include "exec/mask.h"
#include "server/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exec/cas.h"
#include "exec/cgroup.h"
#include "exec/pool.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "exec/spawn.h"
#include "exec/workspace.h"
#include "git/mirror.h"
#include "sched/jobrun.h"
#include "server/pctx.h"
#include "util/fileio.h"
#include "util/jsonx.h"
#include "util/xalloc.h"

static int cancel_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(cancel_pipe[1], &c, 1) < 0) {
		/* nothing to do: the pipe is full, the job is being canceled */
	}
	errno = saved;
}

struct spec {
	json_t *root;
	long long job_id, pipeline_id;
	const char *name, *mirror, *sha, *ref, *workdir, *log, *result, *cas, *cache_dir, *ctx;
	/* the job's resolved definition (pctx_plan_cut); NULL: read the file */
	const char *cut_globals, *cut;
	size_t max_log;
	size_t max_artifacts;   /* 0: no limit */
};

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int read_spec(const char *path, struct spec *s, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	json_error_t je;

	memset(s, 0, sizeof(*s));
	/*
	 * Read whole, then parsed from memory: json_load_file() reads
	 * through stdio a character at a time (fgetc), a quarter more
	 * instructions for the same parse.
	 */
	if (strbuf_read_file(&text, path, SUPERVISOR_MAX_SPEC) < 0) {
		strbuf_addf(err, "%s: %s", path, errno == EFBIG ?
			    "larger than the supervisor's limit of 256 MiB" : strerror(errno));
		strbuf_release(&text);
		return -1;
	}
	if (!text.len || !text.buf[0]) {
		/* wiped: the job it held was given up (see claim_spec) */
		strbuf_release(&text);
		return -2;
	}
	s->root = json_loadb(text.buf, text.len, 0, &je);
	strbuf_release(&text);
	if (!s->root) {
		strbuf_addf(err, "%s: %s", path, je.text);
		return -1;
	}
	s->job_id = json_integer_value(json_object_get(s->root, "job_id"));
	s->pipeline_id = json_integer_value(json_object_get(s->root, "pipeline_id"));
	s->name = str(s->root, "name");
	s->mirror = str(s->root, "mirror");
	s->sha = str(s->root, "sha");
	s->ref = str(s->root, "ref");
	s->workdir = str(s->root, "workdir");
	s->log = str(s->root, "log");
	s->result = str(s->root, "result");
	s->cas = str(s->root, "cas");
	s->cache_dir = str(s->root, "cache_dir");
	s->ctx = str(s->root, "ctx");
	s->cut_globals = str(s->root, "cut_globals");
	s->cut = str(s->root, "cut");
	s->max_log = (size_t)json_integer_value(json_object_get(s->root, "max_log"));
	s->max_artifacts = (size_t)json_integer_value(json_object_get(s->root, "max_artifacts"));
	if (!s->name || !s->mirror || !s->sha || !s->workdir || !s->log ||
	    !s->result || !s->cas || !s->cache_dir || !s->ctx) {
		strbuf_addf(err, "%s: incomplete job spec", path);
		return -1;
	}
	return 0;
}

/* Whether the spec's project runs its jobs on the sandbox executor. */
static int spec_sandboxed(const struct spec *s)
{
	json_t *e = json_object_get(s->root, "exec");

	return json_is_object(e) && str(e, "executor") && !strcmp(str(e, "executor"), "sandbox");
}

/*
 * The project's pool line file when its jobs' sandboxes come from pool
 * daemons (exec/pool.h; the server's executor.pool, DATA/sandbox), else
 * NULL: not the sandbox, the pool turned off by $CIDRE_SANDBOX_POOL=0,
 * or daemons by $CIDRE_SANDBOX_POOL_IDLE=0 (a pool ending with this
 * one-job process would only add its start to a bwrap's).
 */
static const char *spec_pool_line(const struct spec *s, int *idle)
{
	const char *v = getenv("CIDRE_SANDBOX_POOL");

	if (!spec_sandboxed(s) || (v && !strcmp(v, "0")))
		return NULL;
	*idle = pool_idle_env(getenv("CIDRE_SANDBOX_POOL_IDLE"), POOL_IDLE_DEFAULT);
	return *idle > 0 ? str(json_object_get(s->root, "exec"), "pool_line") : NULL;
}

struct warm {
	const char *line;
	int idle;
};

/*
 * The project's pool daemon said hello to (or started) beside the
 * checkout; joined before the job's sandbox is asked for (pool_warm also
 * says where the daemons are: until then a sandbox would come from a
 * pool of this process's own).
 */
static void *warm_thread(void *arg)
{
	const struct warm *w = arg;
	struct strbuf err = STRBUF_INIT;

	pool_warm(w->line, sandbox_bwrap(&err), sandbox_init_exe(), w->idle);
	strbuf_release(&err);
	return NULL;
}

/* The spec's "exec" (the server's executor settings for the project). */
static void spec_exec(const struct spec *s, struct jobrun_exec *ex)
{
	json_t *e = json_object_get(s->root, "exec");

	memset(ex, 0, sizeof(*ex));
	ex->uid = ex->gid = -1;
	if (!json_is_object(e)) {
		/* a spec from before executors: as then, shell, image unused */
		ex->image_on_host = 1;
		return;
	}
	ex->executor = spec_sandboxed(s) ? JOBRUN_SANDBOX : JOBRUN_SHELL;
	ex->image_store = str(e, "images");
	ex->host_fallback = json_is_true(json_object_get(e, "host_fallback"));
	ex->network = json_is_true(json_object_get(e, "network"));
	ex->limits.memory = json_integer_value(json_object_get(e, "memory"));
	ex->limits.pids = json_integer_value(json_object_get(e, "pids"));
	ex->limits.cpus = json_number_value(json_object_get(e, "cpus"));
	if (json_is_integer(json_object_get(e, "uid")))
		ex->uid = (long)json_integer_value(json_object_get(e, "uid"));
	if (json_is_integer(json_object_get(e, "gid")))
		ex->gid = (long)json_integer_value(json_object_get(e, "gid"));
	ex->pull_policy = (unsigned)json_integer_value(json_object_get(e, "pull_policy")) &
			  (JOB_PULL_ALWAYS | JOB_PULL_IF_NOT_PRESENT | JOB_PULL_NEVER);
	{
		int idle;

		ex->pool = spec_pool_line(s, &idle) != NULL;
	}
}

/* Bytes of the regular files below dir. */
static long long tree_size(const char *dir)
{
	struct strbuf err = STRBUF_INIT;
	long long total = 0;

	cas_tree_size(dir, &total, &err);
	strbuf_release(&err);
	return total;
}

static void log_note(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_note(int fd, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	size_t off = 0;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addch(&sb, '\n');
	while (fd >= 0 && off < sb.len) {
		ssize_t w = write(fd, sb.buf + off, sb.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	strbuf_release(&sb);
}

static json_t *files_json(const struct cas_file *f, size_t nr)
{
	json_t *a = json_array();
	size_t i;

	/* a name that is not UTF-8 is kept with U+FFFD for its bad bytes, not lost */
	for (i = 0; i < nr; i++)
		json_array_append_new(a, json_pack("{s:o, s:I, s:s, s:i, s:I}",
						   "path", json_str_or_null(f[i].path),
						   "size", (json_int_t)f[i].size,
						   "sha256", f[i].sha256, "mode", f[i].mode,
						   "crc32", (json_int_t)f[i].crc32));
	return a;
}

static int json_files(json_t *a, struct cas_file **ret, size_t *nr)
{
	size_t i, n = json_array_size(a);
	struct cas_file *f = n ? xcalloc(n, sizeof(*f)) : NULL;

	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		const char *p = str(e, "path"), *h = str(e, "sha256");

		if (!p || !h || strlen(h) != 64) {
			cas_files_free(f, i);
			return -1;
		}
		f[i].path = xstrdup(p);
		memcpy(f[i].sha256, h, 65);
		f[i].size = json_integer_value(json_object_get(e, "size"));
		f[i].mode = (int)json_integer_value(json_object_get(e, "mode"));
	}
	*ret = f;
	*nr = n;
	return 0;
}

static const char *const junit_names[] = { "passed", "failed", "error", "skipped" };

/* expire_in: the job's artifacts:expire_in as written, or NULL (the server's default). */
static json_t *result_json(const struct job_result *r, const struct cas_file *arts,
			   size_t arts_nr, long long log_size, const char *expire_in)
{
	json_t *o = json_object(), *dot = json_object();
	size_t i;

	json_object_set_new(o, "status", json_string(job_status_name(r->status)));
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "failure_reason",
			    r->failure_reason ? json_string(r->failure_reason) : json_null());
	json_object_set_new(o, "allowed_failure", json_boolean(r->allowed_failure));
	json_object_set_new(o, "duration", json_real(r->duration));
	json_object_set_new(o, "peak_mem", json_integer(r->peak_mem));
	json_object_set_new(o, "cpu", json_real(r->cpu));
	json_object_set_new(o, "coverage", r->has_coverage ? json_real(r->coverage) : json_null());
	json_object_set_new(o, "env_name", r->env_name ? json_string(r->env_name) : json_null());
	json_object_set_new(o, "env_url", r->env_url ? json_string(r->env_url) : json_null());
	if (r->release)
		json_object_set_new(o, "release", json_loads(r->release, 0, NULL));
	json_object_set_new(o, "log_size", json_integer(log_size));
	if (r->error)
		json_object_set_new(o, "error", json_string(r->error));
	json_object_set_new(o, "artifacts", files_json(arts, arts_nr));
	if (expire_in)
		json_object_set_new(o, "expire_in", json_string(expire_in));
	for (i = 0; i < r->dotenv.nr; i++)
		json_object_set_new(dot, r->dotenv.v[i].key, json_str_or_null(r->dotenv.v[i].value));
	json_object_set_new(o, "dotenv", dot);
	if (r->has_junit) {
		json_t *t = json_object(), *cases = json_array();

		json_object_set_new(t, "total", json_integer((json_int_t)r->junit.tests));
		json_object_set_new(t, "failed", json_integer((json_int_t)r->junit.failed));
		json_object_set_new(t, "skipped", json_integer((json_int_t)r->junit.skipped));
		json_object_set_new(t, "errors", json_integer((json_int_t)r->junit.errors));
		for (i = 0; i < r->junit.nr && i < SUPERVISOR_MAX_CASES; i++) {
			const struct junit_case *c = &r->junit.cases[i];
			json_t *e = json_object();

			json_object_set_new(e, "suite", json_string(c->suite ? c->suite : ""));
			json_object_set_new(e, "classname", json_string(c->classname ? c->classname : ""));
			json_object_set_new(e, "name", json_string(c->name ? c->name : ""));
			json_object_set_new(e, "status", json_string(junit_names[c->status]));
			json_object_set_new(e, "time", json_real(c->time));
			json_object_set_new(e, "message", c->message ? json_string(c->message) : json_null());
			json_array_append_new(cases, e);
		}
		json_object_set_new(t, "cases", cases);
		json_object_set_new(o, "tests", t);
	}
	return o;
}

/*
 * The result file (the spec's "result": the runner slot's
 * WORK/slot-N.result.json), opened while the job's script runs
 * (jobrun's started callback) rather than after it, and rewritten in
 * place: it is the slot's, job after job, so the open finds an inode
 * that exists. A new file per job (RESULT.tmp renamed, as before) cost
 * an inode allocation, 0.05-1.5 ms of CPU on the development VM's ext4
 * (docs/internals/server.md). A job that never starts opens it when its
 * result is written.
 */
struct prep {
	const char *path;
	int fd;		/* open on path, or -1 */
};

/*
 * A new result file gets a block of its own at once (zeros: no result):
 * the result is written within it, and its length set within it, so a
 * result of up to a block is kept even once the disk has filled up
 * while the job ran (docs/server.md, "When the disk is full").
 */
static void prep_create(void *ud)
{
	static const char zeros[4096];
	struct prep *pr = ud;
	struct stat sb;

	if (pr->fd < 0)
		pr->fd = open(pr->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (pr->fd >= 0 && fstat(pr->fd, &sb) == 0 && sb.st_size == 0 &&
	    pwrite_full(pr->fd, zeros, sizeof(zeros), 0) < 0) {
		/* the disk is full already: the result is tried when known */
	}
}

static void prep_release(struct prep *pr)
{
	if (pr->fd >= 0)
		close(pr->fd);
}

/*
 * Write o, which names its job, to path in place. A reader (the runner,
 * after this process has ended) takes it only when it parses and names
 * the job it asks about, so a file cut short by a crash, or the slot's
 * previous job's, is no result. The file is never emptied: a
 * truncation that frees its block is, on a file system mounted with
 * `discard`, a discard the caller waits for (0.1-6 ms on the
 * development VM's journal-less ext4). The runner wipes it (zero
 * bytes) after each ingest; one it did not wipe (it stopped in
 * between) still holds an old result. So the first byte is made 'x',
 * the text after the first byte written over the old, the length set
 * (within the block), and the opening brace written last: until then
 * no JSON parses there, whatever mix of old and new bytes a crash
 * leaves.
 */
static int write_result(const char *path, json_t *o, struct prep *pr)
{
	int rc = -1, fd;
	char *text = json_dumps(o, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;

	if (!text || len < 2)
		goto done;
	fd = pr->fd;
	pr->fd = -1;
	if (fd < 0)
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto done;
	/* no fsync: the runner records the result as soon as this process ends */
	if (pwrite_full(fd, "x", 1, 0) == 0 &&
	    pwrite_full(fd, text + 1, len - 1, 1) == 0 &&
	    ftruncate(fd, (off_t)len) == 0 &&
	    pwrite_full(fd, text, 1, 0) == 0)
		rc = 0;
	close(fd);
done:
	free(text);
	return rc;
}

static void fail_result(struct job_result *r, const char *reason)
{
	r->status = JOB_FAILED;
	r->failure_reason = reason;
	r->exit_code = -1;
}

/*
 * Who runs this job, for a server that restarts before it recorded it:
 * "JOB PID STARTTIME\n" in SPEC.pid. The spec is the runner slot's, so
 * is this file: rewritten in place job after job, not a new file per
 * job (an inode allocation each, ~0.5 ms of CPU on the development VM).
 * The job id tells the runner whose it is; best effort (without it a
 * job the server did not record is failed, as before this file).
 */
static void write_pid_file(const char *spec_path, long long job)
{
	char *pf = xasprintf("%s.pid", spec_path), line[96];
	int fd = open(pf, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644), n;

	n = snprintf(line, sizeof(line), "%lld %ld %lld\n", job, (long)getpid(),
		     (long long)spawn_start_time(getpid()));
	if (fd >= 0 && (pwrite(fd, line, (size_t)n, 0) != n || ftruncate(fd, n) < 0)) {
		/* a partial line does not parse: the runner then has no pid, as without it */
	}
	if (fd >= 0)
		close(fd);
	free(pf);
}

/*
 * The slot's spec is rewritten for each job the slot runs, and a
 * supervisor may start late: the old server's job launcher serves a
 * request it received even once that server is gone, and a launcher held
 * up (stopped, starved) may do so after the next server's recovery gave
 * the job up and the slot went on to another job. So the spec is read
 * under its lock (flock, held until the pid file is written: recovery
 * takes the same lock before it gives a job up, runner.c fence_spec())
 * and is this supervisor's only if
 *   - it was not wiped (recovery wipes the spec of a job it gives up), and
 *   - the log it names is the file our stdout is: the launcher (or
 *     posix_spawn) opened the job's log from the request, so a spec
 *     written since for another job names another log.
 * Otherwise nothing is run, nothing written: exit SUPERVISOR_NOT_MINE.
 */
#define SUPERVISOR_NOT_MINE 3

static int spec_is_mine(const struct spec *s)
{
	struct stat out, log;

	if (!s->log || fstat(1, &out) < 0 || !S_ISREG(out.st_mode))
		return 1;	/* no log to tell by: as before this check */
	if (stat(s->log, &log) < 0)
		return errno != ENOENT;
	return out.st_dev == log.st_dev && out.st_ino == log.st_ino;
}

int supervisor_main(const char *spec_path)
{
	struct spec s;
	struct strbuf err = STRBUF_INIT, deps_root = STRBUF_INIT, art_dir = STRBUF_INIT;
	struct pctx ctx;
	struct pipeline *p = NULL;
	struct plan plan;
	struct job_result r;
	struct jobrun jr;
	struct jobrun_exec ex;
	struct jobrun_dep *deps = NULL;
	struct varlist *dep_env = NULL;
	struct varlist secrets = VARLIST_INIT;
	struct mask mask;
	struct cas_file *arts = NULL;
	struct strvec files = STRVEC_INIT;
	struct diag d;
	struct timespec t0;
	struct sigaction sa;
	size_t i, ndeps = 0, arts_nr = 0;
	const struct plan_job *pj = NULL;
	int have_plan = 0, log_fd = -1, rc = 1, need_files, planned, lock_fd, got;
	json_t *out = NULL, *jdeps;
	struct stat st;
	struct prep prep;
	struct warm warm;
	pthread_t warm_tid;
	int warming = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		/*
		 * jansson's hash seed from one getrandom() rather than its own
		 * open/read/close of /dev/urandom; 0 (failed) leaves that to it
		 */
		size_t seed = 0;

		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
			seed = 0;
		json_object_seed(seed);
	}
	mask_init(&mask);
	diag_init(&d);
	pctx_init(&ctx);
	memset(&r, 0, sizeof(r));
	memset(&plan, 0, sizeof(plan));
	r.peak_mem = -1;
	r.exit_code = -1;
	strvec_init(&r.artifacts);
	varlist_init(&r.dotenv);

	lock_fd = open(spec_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	while (lock_fd >= 0 && flock(lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	got = read_spec(spec_path, &s, &err);
	if (got == -2 || (got == 0 && !spec_is_mine(&s))) {
		/* not ours to run (see spec_is_mine): not a word in another job's log */
		json_decref(s.root);
		strbuf_release(&err);
		if (lock_fd >= 0)
			close(lock_fd);
		return SUPERVISOR_NOT_MINE;
	}
	if (got < 0) {
		fprintf(stderr, "cidre job-exec: %s\n", err.buf);
		json_decref(s.root);
		strbuf_release(&err);
		if (lock_fd >= 0)
			close(lock_fd);
		return 2;
	}
	{
		/* the project's secret variables; masked ones are masked in the log */
		json_t *sv = json_object_get(s.root, "secrets"), *e;
		size_t k;

		json_array_foreach(sv, k, e) {
			const char *key = str(e, "key"), *value = str(e, "value");

			if (!key || !value)
				continue;
			varlist_set(&secrets, key, value);
			if (json_is_true(json_object_get(e, "masked")))
				mask_add(&mask, value);
		}
	}
	if (pipe2(cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "cidre job-exec: pipe: %s\n", strerror(errno));
		json_decref(s.root);
		strbuf_release(&err);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		/*
		 * Started with every disposition at its default (the launcher's
		 * fork, or posix_spawn's POSIX_SPAWN_SETSIGDEF): the job's
		 * children need only these four reset.
		 */
		sigset_t mine;

		sigemptyset(&mine);
		sigaddset(&mine, SIGTERM);
		sigaddset(&mine, SIGINT);
		sigaddset(&mine, SIGHUP);
		sigaddset(&mine, SIGPIPE);
		proc_signals_changed_only(&mine);
	}

	/* the slot's cgroups, kept from job to job (see cgroup_keep_as) */
	cgroup_keep_as(str(s.root, "cgroup"));
	prep.path = s.result;
	prep.fd = -1;
	{
		/* tests (t3020): stalled with the spec's lock held while FILE exists */
		const char *t = getenv("CIDRE_TEST_SUPERVISOR_STOP");

		if (t && *t && access(t, F_OK) == 0)
			raise(SIGSTOP);
	}
	write_pid_file(spec_path, s.job_id);
	if (lock_fd >= 0)
		close(lock_fd);	/* the pid file says who runs it: the spec's lock goes */
	warm.line = spec_pool_line(&s, &warm.idle);
	if (warm.line && !(warming = pthread_create(&warm_tid, NULL, warm_thread, &warm) == 0))
		warm_thread(&warm);
	log_fd = open(s.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	log_note(log_fd, "Running with cidre %s on the embedded runner (%s executor)",
		 CIDRE_VERSION, spec_sandboxed(&s) ? "sandbox" : "shell");
	log_note(log_fd, "Checking out %.8s as detached HEAD (ref %s)...", s.sha,
		 s.ref ? s.ref : "");
	strbuf_addf(&deps_root, "%s.deps", s.workdir);
	strbuf_addf(&art_dir, "%s.artifacts", s.workdir);
	/* the workspace is the slot's, reused: mirror_checkout cleans it */
	cas_rmtree(deps_root.buf, NULL);
	cas_rmtree(art_dir.buf, NULL);
	if (mirror_checkout(s.mirror, s.sha, s.ref, s.workdir, 1, &err) < 0) {
		/* a damaged reused workspace is made again from nothing */
		strbuf_reset(&err);
		cas_rmtree(s.workdir, NULL);
	}
	if (access(s.workdir, F_OK) < 0 &&
	    mirror_checkout(s.mirror, s.sha, s.ref, s.workdir, 1, &err) < 0) {
		log_note(log_fd, "ERROR: checking out the commit failed: %s", err.buf);
		fail_result(&r, "runner_system_failure");
		goto write;
	}
	planned = pctx_from_json(s.ctx, &ctx, &err);
	if (planned == 0) {
		ctx.mirror = s.mirror;	/* rules:changes:compare_to */
		planned = s.cut_globals && s.cut ?
			  pctx_plan_cut(s.workdir, &ctx, s.name, s.cut_globals, s.cut, &p, &plan,
					&d) :
			  pctx_plan(s.workdir, &ctx, s.name, &p, &plan, &d);
	}
	if (planned < 0) {
		struct strbuf msg = STRBUF_INIT;

		diag_format(&d, &msg);
		log_note(log_fd, "ERROR: the pipeline cannot be planned again: %s%s",
			 err.buf, msg.buf);
		strbuf_release(&msg);
		fail_result(&r, "runner_system_failure");
		goto write;
	}
	have_plan = 1;
	for (i = 0; i < plan.nr && !pj; i++)
		if (!strcmp(plan.jobs[i].name, s.name))
			pj = &plan.jobs[i];
	if (!pj) {
		log_note(log_fd, "ERROR: job \"%s\" is not in the pipeline planned again", s.name);
		fail_result(&r, "runner_system_failure");
		goto write;
	}
	jdeps = json_object_get(s.root, "deps");
	ndeps = json_array_size(jdeps);
	if (ndeps) {
		deps = xcalloc(ndeps, sizeof(*deps));
		dep_env = xcalloc(ndeps, sizeof(*dep_env));
	}
	for (i = 0; i < ndeps; i++) {
		json_t *e = json_array_get(jdeps, i);
		struct cas_file *f = NULL;
		size_t nr = 0;
		json_t *de = json_object_get(e, "dotenv");

		varlist_init(&dep_env[i]);
		deps[i].name = str(e, "name") ? str(e, "name") : "?";
		deps[i].dotenv = &dep_env[i];
		if (json_is_object(de)) {
			const char *k;
			json_t *v;

			json_object_foreach(de, k, v)
				if (json_is_string(v))
					varlist_set(&dep_env[i], k, json_string_value(v));
		}
		if (json_files(json_object_get(e, "files"), &f, &nr) < 0) {
			log_note(log_fd, "ERROR: bad artifact list of %s", deps[i].name);
			fail_result(&r, "runner_system_failure");
			goto write;
		}
		if (nr) {
			char *dir = xasprintf("%s/%zu", deps_root.buf, i);

			if (cas_materialize(s.cas, f, nr, dir, &err) < 0) {
				log_note(log_fd, "ERROR: artifacts of %s: %s", deps[i].name, err.buf);
				cas_files_free(f, nr);
				free(dir);
				fail_result(&r, "runner_system_failure");
				goto write;
			}
			deps[i].artifacts_dir = dir;
			deps[i].files = nr;
		}
		cas_files_free(f, nr);
	}
	/* the tracked files matter only to "untracked" artifacts and caches */
	need_files = pj->def->artifacts.untracked;
	for (i = 0; i < pj->def->caches_nr; i++)
		need_files |= pj->def->caches[i].untracked;
	if (need_files && workspace_list(s.workdir, &files, &err) < 0) {
		log_note(log_fd, "ERROR: listing the workspace: %s", err.buf);
		fail_result(&r, "runner_system_failure");
		goto write;
	}
	close(log_fd);
	log_fd = -1;

	memset(&jr, 0, sizeof(jr));
	jr.plan = &plan;
	jr.pj = pj;
	{
		static struct plan_ctx pc;

		memset(&pc, 0, sizeof(pc));
		pc.predefined = &ctx.predefined;
		pc.overrides = &ctx.overrides;
		pc.project_dir = s.workdir;
		pc.changed = ctx.has_changed ? &ctx.changed : NULL;
		jr.ctx = &pc;
	}
	{
		extern char **environ;

		jr.host_env = environ;
	}
	jr.workdir = s.workdir;
	jr.files = &files;
	jr.deps = deps;
	jr.deps_nr = ndeps;
	jr.cache_dir = s.cache_dir;
	jr.artifacts_dir = art_dir.buf;
	jr.log_path = s.log;
	jr.log_append = 1;
	jr.max_log = s.max_log;
	jr.cancel_fd = cancel_pipe[0];
	jr.job_id = s.job_id;
	jr.t0 = &t0;
	jr.secrets = &secrets;
	jr.mask = &mask;
	spec_exec(&s, &ex);
	jr.exec = &ex;
	if (warming) {
		/* the pool's hello, before its first sandbox is asked for */
		pthread_join(warm_tid, NULL);
		warming = 0;
	}
	jr.started = prep_create;
	jr.started_ud = &prep;
	jobrun_run(&jr, &r);

	if (r.artifacts.nr && s.max_artifacts) {
		long long total = tree_size(art_dir.buf);

		if (total > (long long)s.max_artifacts) {
			log_fd = open(s.log, O_WRONLY | O_APPEND | O_CLOEXEC);
			log_note(log_fd, "ERROR: the artifacts are %lld bytes, over the server's "
				 "limits.artifacts_size (%zu bytes): not uploaded", total,
				 s.max_artifacts);
			close(log_fd);
			log_fd = -1;
			strvec_clear(&r.artifacts);
			if (r.status == JOB_SUCCESS || (r.status == JOB_FAILED && !r.allowed_failure)) {
				r.status = JOB_FAILED;
				r.failure_reason = "api_failure";
				r.allowed_failure = 0;
			}
		}
	}
	if (r.artifacts.nr && cas_put_dir(s.cas, art_dir.buf, &arts, &arts_nr, NULL, &err) < 0) {
		log_fd = open(s.log, O_WRONLY | O_APPEND | O_CLOEXEC);
		log_note(log_fd, "ERROR: storing artifacts failed: %s", err.buf);
		arts = NULL;
		arts_nr = 0;
		if (r.status == JOB_SUCCESS) {
			r.status = JOB_FAILED;
			r.failure_reason = "runner_system_failure";
		}
	}
write:
	if (log_fd >= 0)
		close(log_fd);
	out = result_json(&r, arts, arts_nr, stat(s.log, &st) ? 0 : (long long)st.st_size,
			  pj ? pj->def->artifacts.expire_in : NULL);
	json_object_set_new(out, "job_id", json_integer((json_int_t)s.job_id));
	if (write_result(s.result, out, &prep) == 0)
		rc = 0;
	else
		fprintf(stderr, "cidre job-exec: cannot write %s: %s\n", s.result, strerror(errno));
	json_decref(out);
	prep_release(&prep);
	if (warming)
		pthread_join(warm_tid, NULL);

	for (i = 0; i < ndeps; i++) {
		free((char *)deps[i].artifacts_dir);
		varlist_clear(&dep_env[i]);
	}
	free(deps);
	free(dep_env);
	cas_files_free(arts, arts_nr);
	strvec_clear(&files);
	job_result_release(&r);
	if (have_plan) {
		plan_release(&plan);
		pipeline_free(p);
	}
	pctx_release(&ctx);
	diag_clear(&d);
	json_decref(s.root);
	varlist_clear(&secrets);
	mask_release(&mask);
	cgroup_keep_as(NULL);
	strbuf_release(&err);
	strbuf_release(&deps_root);
	strbuf_release(&art_dir);
	return rc;
}
