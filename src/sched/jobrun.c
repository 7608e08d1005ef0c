/*
 * One job, from workspace to reports (see jobrun.h): populate the
 * workspace, restore artifacts of its dependencies and its caches, run
 * before_script+script in one shell, after_script in another, collect
 * artifacts, reports and caches, and retry as `retry:` allows.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include "exec/artifacts.h"
#include "exec/cache.h"
#include "exec/copy.h"
#include "exec/image.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "exec/service.h"
#include "exec/spawn.h"
#include "exec/mask.h"
#include "exec/workspace.h"
#include "sched/jobrun.h"
#include "util/utctime.h"
#include "util/xalloc.h"

#define DEFAULT_TIMEOUT 3600
#define AFTER_SCRIPT_TIMEOUT 300
#define DEFAULT_MAX_LOG (64u << 20)

struct job_ctx {
	const struct jobrun *jr;
	const struct plan_job *pj;
	struct job_result *r;
	struct strbuf line;       /* partial output line */
	int log_fd;
	size_t log_bytes;
	size_t max_log;
	int log_truncated;
	int log_errno;            /* a write of the log failed so: no more output */
	char *workdir;
	/* the executor as set up for this job (setup_exec) */
	int sandbox;              /* 1: runs in a sandbox */
	struct strvec wrap;       /* the bwrap command line */
	struct strvec init;       /* the same with the trampoline (empty:
				     none; sandbox_init_argv) */
	char *inside;             /* the job's directory inside */
	const char *shell;        /* the shell inside */
	struct strvec senv;       /* a container image's base environment
				     (empty: sandbox_env) */
	struct strvec entry;      /* what runs the shell: image:entrypoint,
				     else the image's (the first word a
				     path inside); empty: none */
	struct proc_limits lim;
	char *setup_err;          /* the job cannot start: why */
	int setup_canceled;       /* … because it was canceled (a pull) */
	int silent;               /* jobrun_prestart: no notes, no records */
	/* a sandbox started ahead for the first attempt's script; NULL */
	struct proc_prestart *pre;
	int started;              /* jr->started was called */
	/* services: (setup_services, start_services) */
	struct job_svc *svcs;
	size_t svcs_nr;
	struct svc_holder holder;
	char *svc_dir;            /* WORKDIR.services: hosts, overlays */
	int svc_out[JOB_MAX_SERVICES]; /* their output's pipes (-1: none) */
	int debug_services;       /* CI_DEBUG_SERVICES: their output logged */
	struct strbuf svc_lines;  /* … its lines, until the log is at a
				     line's start */
	int log_bol;              /* the log is at a line's start */
};

/* A service of the job, as it will run. */
struct job_svc {
	char *image;              /* expanded */
	char *root;
	struct strvec argv;
	char **env;
	char *workdir;
	uid_t uid;
	gid_t gid;
	struct strvec aliases;
	int ports[16];
	size_t ports_nr;
	pid_t pid;
	struct strbuf tail;       /* its last output (for a warning) */
	struct strbuf part;       /* CI_DEBUG_SERVICES: its partial line */
};

/* 0, or -1 with errno (ENOSPC: the disk is full) */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * The log, up to its limit. A write that fails (a full disk) ends it:
 * log_errno says why, and on_output then asks for the job to be stopped
 * (docs/server.md, "When the disk is full").
 */
static void log_write(void *ud, const char *data, size_t len)
{
	struct job_ctx *jc = ud;
	static const char marker[] =
		"\n[cidre: log truncated: job output exceeded the log size limit]\n";

	if (jc->log_fd < 0 || jc->log_truncated || jc->log_errno)
		return;
	if (jc->log_bytes + len > jc->max_log) {
		if (write_all(jc->log_fd, data, jc->max_log - jc->log_bytes) < 0 ||
		    write_all(jc->log_fd, marker, sizeof(marker) - 1) < 0)
			jc->log_errno = errno;
		jc->log_truncated = 1;
		return;
	}
	if (write_all(jc->log_fd, data, len) < 0)
		jc->log_errno = errno;
	jc->log_bytes += len;
}

/* Everything bound for the log passes the masker first, when there is one. */
static void log_raw(struct job_ctx *jc, const char *data, size_t len)
{
	if (jc->jr->mask && mask_active(jc->jr->mask))
		mask_feed(jc->jr->mask, data, len, log_write, jc);
	else
		log_write(jc, data, len);
}

/* cidre's own notes go to the live output and the log alike. */
static void note(struct job_ctx *jc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct job_ctx *jc, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	if (jc->silent)
		return;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addch(&sb, '\n');
	if (jc->jr->print)
		jc->jr->print(jc->jr->ud, sb.buf, sb.len, 1);
	log_raw(jc, sb.buf, sb.len);
	jc->log_bol = 1;
	strbuf_release(&sb);
}

#define LIVE_LINE_MAX 65536

/* The held partial line, ended, to the live output. */
static void print_held(struct job_ctx *jc)
{
	strbuf_addch(&jc->line, '\n');
	jc->jr->print(jc->jr->ud, jc->line.buf, jc->line.len, 0);
	strbuf_reset(&jc->line);
}

/* Hold p, n as the partial line: a held line is cut at LIVE_LINE_MAX. */
static void hold(struct job_ctx *jc, const char *p, size_t n)
{
	size_t take;

	while (n) {
		if (jc->line.len >= LIVE_LINE_MAX)
			print_held(jc);
		take = LIVE_LINE_MAX - jc->line.len;
		if (take > n)
			take = n;
		strbuf_add(&jc->line, p, take);
		p += take;
		n -= take;
	}
}

/*
 * Live output: the whole lines of what was read, handed on in one call
 * (the lines ended in this chunk; the one held from before is completed
 * and handed on first); what follows the last newline is held. A line
 * longer than LIVE_LINE_MAX comes in pieces (a chunk is at most
 * PROC_READ_CHUNK, 64 KiB, so only a held line can be). Nothing is cut
 * or copied without a live output (the server's supervisors keep the
 * log only).
 */
static void svc_lines_flush(struct job_ctx *jc, int force);

static int on_output(void *ud, const char *data, size_t len)
{
	struct job_ctx *jc = ud;
	const char *end = data + len, *first, *last;

	log_raw(jc, data, len);
	if (len)
		jc->log_bol = data[len - 1] == '\n';
	if (jc->svc_lines.len && jc->log_bol)
		svc_lines_flush(jc, 0);
	if (!jc->jr->print || !len)
		return jc->log_errno ? -1 : 0;
	last = memrchr(data, '\n', len);
	if (!last) {
		hold(jc, data, len);
		return jc->log_errno ? -1 : 0;
	}
	if (jc->line.len) {
		first = memchr(data, '\n', len);
		hold(jc, data, (size_t)(first - data));
		print_held(jc);
		data = first + 1;
	}
	if (data <= last)
		jc->jr->print(jc->jr->ud, data, (size_t)(last - data) + 1, 0);
	hold(jc, last + 1, (size_t)(end - last - 1));
	return jc->log_errno ? -1 : 0;
}

static void flush_line(struct job_ctx *jc)
{
	if (jc->line.len && jc->jr->print)
		print_held(jc);
	strbuf_reset(&jc->line);
}

/*
 * What a sandboxed job inherits instead of our environment: nothing of
 * this host but a PATH for the image and a writable HOME.
 */
static char *const sandbox_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/tmp",
	"LANG=C.UTF-8",
	NULL
};

/* A sandboxed job's environment before its variables. */
static char *const *base_env(const struct job_ctx *jc)
{
	return jc->senv.nr ? jc->senv.v : sandbox_env;
}

static void human_size(char *buf, size_t n, long long b)
{
	if (b >= (1LL << 30) && !(b % (1LL << 30)))
		snprintf(buf, n, "%lld GiB", b >> 30);
	else if (b >= (1LL << 20))
		snprintf(buf, n, "%.0f MiB", b / 1048576.0);
	else
		snprintf(buf, n, "%lld bytes", b);
}

static int fallback_allowed(const struct jobrun_exec *ex, const struct job *def)
{
	return def->cidre.host_fallback == 1 ||
	       (def->cidre.host_fallback < 0 && ex && ex->host_fallback);
}

/* The pull policy when a job names none: $CIDRE_PULL_POLICY, else
   if-not-present. */
static unsigned default_pull_policy(void)
{
	const char *e = getenv("CIDRE_PULL_POLICY");

	if (e && !strcmp(e, "always"))
		return JOB_PULL_ALWAYS | JOB_PULL_IF_NOT_PRESENT;
	if (e && !strcmp(e, "never"))
		return JOB_PULL_NEVER;
	return JOB_PULL_IF_NOT_PRESENT;
}

/*
 * Pull image from its registry when the policy asks (as GitLab's runner
 * does: always, if-not-present, never, tried in that order), through
 * cidre-client, which has libcurl; the job's DOCKER_AUTH_CONFIG gives
 * the credentials. 0 (pulled, or nothing to do), or -1 with setup_err.
 */
static int pull_for_job(struct job_ctx *jc, const char *store, const char *image,
			unsigned pol, struct varlist *vars)
{
	const char *base = jc->jr->ctx ? jc->jr->ctx->project_dir : NULL;
	const char *auth = varlist_get(vars, "DOCKER_AUTH_CONFIG");
	int registered = image_registered(store, image);
	struct proc_capture pc;
	struct strbuf err = STRBUF_INIT;
	char *exe, *envs[2] = { NULL, NULL };
	int cancel = jc->jr->cancel_fd, ret = 0;

	if (!pol)
		pol = jc->jr->exec->pull_policy;
	if (!pol)
		pol = default_pull_policy();
	if (registered ? !(pol & JOB_PULL_ALWAYS) :
	    (!(pol & (JOB_PULL_ALWAYS | JOB_PULL_IF_NOT_PRESENT)) ||
	     image_is_path(image, base)))
		return 0;
	if (jc->silent) {
		/* jobrun_prestart: the pull is the job's, said in its log */
		jc->setup_err = xstrdup("pulled when the job starts");
		return -1;
	}
	exe = spawn_sibling("cidre-client");
	{
		const char *argv[] = { exe, "image", "--store", store, "pull", image,
				       NULL };

		if (auth)
			envs[0] = xasprintf("DOCKER_AUTH_CONFIG=%s", auth);
		note(jc, "Pulling image %s%s", image,
		     registered ? " (pull_policy: always)" : "");
		proc_capture_init(&pc);
		pc.argv = argv;
		pc.env = (const char *const *)envs;
		pc.max_out = 64 * 1024;
		/* a job canceled while its image is pulled stops the pull */
		pc.cancel_fd = cancel >= 0 ? &cancel : NULL;
		if (proc_capture_all(&pc, 1, &err) < 0)
			pc.status = -1;
	}
	strbuf_rtrim(&pc.out);
	strbuf_rtrim(&pc.errout);
	if (pc.canceled) {
		jc->setup_err = xasprintf("canceled while image \"%s\" was pulled",
					  image);
		jc->setup_canceled = 1;
		ret = -1;
	} else if (!pc.status) {
		note(jc, "%s", pc.out.buf);
	} else {
		/* "cidre image pull: why", the last line */
		const char *why;

		if (!err.len)
			strbuf_add(&err, pc.errout.buf, pc.errout.len);
		why = strrchr(err.buf, '\n');
		why = why ? why + 1 : err.buf;
		if (!strncmp(why, "cidre image pull: ", 18))
			why += 18;
		if (registered && (pol & JOB_PULL_IF_NOT_PRESENT)) {
			note(jc, "WARNING: pulling image %s failed (%s); the image "
			     "registered here is used (pull_policy: if-not-present)",
			     image, why);
		} else {
			jc->setup_err = xasprintf("image \"%s\": pulling it failed: %s",
						  image, *why ? why : "cidre-client failed");
			ret = -1;
		}
	}
	free(envs[0]);
	free(exe);
	proc_capture_release(&pc);
	strbuf_release(&err);
	return ret;
}

static int setup_services(struct job_ctx *jc, struct varlist *vars,
			  const char *store);

/*
 * Decide how the job runs: its limits (the job's cidre: keys over the
 * executor's defaults) and, for the sandbox executor, its image, shell
 * and bwrap command line. CI_PROJECT_DIR/CI_BUILDS_DIR become the paths
 * inside. A job that cannot run as asked gets setup_err (it fails before
 * starting).
 */
static void push_json_strings(struct strvec *v, json_t *a);

/*
 * What runs the job's shell in its image, as GitLab's Docker executor
 * starts a job: image:entrypoint when the job sets it ([""] or []:
 * nothing), else the image's ENTRYPOINT; its first word found as
 * execvp would inside the image, along the job's PATH. 0, or -1 with
 * jc->setup_err.
 */
static int setup_entrypoint(struct job_ctx *jc, const struct jobrun_exec *ex,
			    const char *root, const char *image)
{
	const struct job *def = jc->pj->def;
	struct strvec want = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT;
	const char *path = NULL;
	char *exe;
	size_t i;

	strvec_clear(&jc->entry);
	if (def->image_entrypoint_set) {
		strvec_copy(&want, &def->image_entrypoint);
	} else if (ex->image_store) {
		json_t *cfg = image_config(ex->image_store, root);

		push_json_strings(&want, json_object_get(cfg, "entrypoint"));
		json_decref(cfg);
	}
	if (!want.nr || !*want.v[0]) {
		strvec_clear(&want);
		return 0;
	}
	if (want.nr >= 2 && !strcmp(want.v[want.nr - 1], "-c")) {
		/*
		 * A shell taking a command string (["/bin/sh", "-c"], what
		 * GitLab's docs once advised as "no entrypoint"): given the
		 * job's shell and its words, it would run that shell with no
		 * script, which ends at once with 0. GitLab's runner feeds the
		 * script on standard input, where that works; here the shell
		 * runs the job itself.
		 */
		note(jc, "The entrypoint \"%s %s\" takes a command string: the job's "
		     "shell runs without it", want.v[0], want.v[1]);
		strvec_clear(&want);
		return 0;
	}
	for (i = 0; i < jc->senv.nr; i++)
		if (!strncmp(jc->senv.v[i], "PATH=", 5))
			path = jc->senv.v[i] + 5;
	for (i = 0; !path && sandbox_env[i]; i++)
		if (!strncmp(sandbox_env[i], "PATH=", 5))
			path = sandbox_env[i] + 5;
	exe = sandbox_which(root, want.v[0], path, &err);
	if (!exe) {
		jc->setup_err = xasprintf("image \"%s\": its entrypoint cannot run: "
					  "%s (image:entrypoint: [\"\"] runs the job "
					  "without it)", image, err.buf);
		strvec_clear(&want);
		strbuf_release(&err);
		return -1;
	}
	strvec_push_nodup(&jc->entry, exe);
	for (i = 1; i < want.nr; i++)
		strvec_push(&jc->entry, want.v[i]);
	strvec_clear(&want);
	strbuf_release(&err);
	return 0;
}

static void setup_exec(struct job_ctx *jc, struct varlist *vars)
{
	const struct jobrun *jr = jc->jr;
	const struct jobrun_exec *ex = jr->exec;
	const struct job *def = jc->pj->def;
	struct strbuf err = STRBUF_INIT, lims = STRBUF_INIT;
	struct sandbox_opts so;
	char *root = NULL, *name = NULL, *inside = NULL, *image = NULL;
	char *hosts_path = NULL;
	const char *proj, *bwrap;
	char b[64];

	/* image: takes the job's variables, as GitLab's does:
	   "node:$NODE_VERSION", "$CI_REGISTRY_IMAGE/builder:latest" */
	if (def->image && strchr(def->image, '$')) {
		image = vars_expand_dup(def->image, vars);
		if (strspn(image, " \t") == strlen(image)) {
			jc->setup_err = xasprintf("image \"%s\" expands to nothing "
						  "(are its variables set?)", def->image);
			free(image);
			return;
		}
	} else if (def->image) {
		image = xstrdup(def->image);
	}

	memset(&jc->lim, 0, sizeof(jc->lim));
	if (ex)
		jc->lim = ex->limits;
	if (def->cidre.memory)
		jc->lim.memory = def->cidre.memory;
	if (def->cidre.pids)
		jc->lim.pids = def->cidre.pids;
	if (def->cidre.cpus)
		jc->lim.cpus = def->cidre.cpus;
	if (jc->lim.memory) {
		human_size(b, sizeof(b), jc->lim.memory);
		strbuf_addf(&lims, ", memory %s", b);
	}
	if (jc->lim.pids)
		strbuf_addf(&lims, ", pids %lld", jc->lim.pids);
	if (jc->lim.cpus)
		strbuf_addf(&lims, ", cpus %g", jc->lim.cpus);

	if (!ex || ex->executor == JOBRUN_SHELL) {
		if (def->services_nr) {
			if (!ex || ex->image_on_host)
				note(jc, "services are not started: the shell executor "
				     "runs the job on this host (--executor sandbox "
				     "starts them)");
			else if (fallback_allowed(ex, def))
				note(jc, "services are not started: this runner has no "
				     "sandbox; host_fallback allows running the job on "
				     "this host");
			else {
				jc->setup_err = xasprintf("the job has services but this "
							  "runner's executor is shell, "
							  "which cannot run them (set "
							  "cidre: {host_fallback: true} "
							  "to run the job on the host "
							  "without them)");
				goto limits;
			}
		}
		if (!image)
			goto limits;
		if (!ex || ex->image_on_host)
			note(jc, "image \"%s\" is not used: the shell executor runs "
			     "the job on this host", image);
		else if (fallback_allowed(ex, def))
			note(jc, "image \"%s\" is not used: this runner has no sandbox; "
			     "host_fallback allows running the job on this host",
			     image);
		else
			jc->setup_err = xasprintf("the job names image \"%s\" but this "
						  "runner's executor is shell, which cannot "
						  "run images (set cidre: {host_fallback: true} "
						  "to run it on the host)", image);
		goto limits;
	}
	bwrap = sandbox_bwrap(&err);
	if (!bwrap) {
		if (fallback_allowed(ex, def)) {
			note(jc, "WARNING: the sandbox cannot run here (%s); "
			     "host_fallback allows running the job on this host", err.buf);
			goto limits;
		}
		jc->setup_err = xasprintf("the sandbox executor cannot run here: %s",
					  err.buf);
		goto done;
	}
	if (image && ex->image_store &&
	    pull_for_job(jc, ex->image_store, image, def->pull_policy, vars) < 0)
		goto done;
	if (!image) {
		root = xstrdup("/");
	} else if (image_resolve(ex->image_store ? ex->image_store : "/nonexistent",
				 image, jr->ctx ? jr->ctx->project_dir : NULL,
				 &root, &name, &err) < 0) {
		jc->setup_err = xasprintf("image: %s", err.buf);
		goto done;
	}
	strvec_clear(&jc->senv);
	if (name || image) {
		/* the image's Env over ours, as a container runtime starts the
		   job; HOME stays a writable one */
		char **ie = image_env(ex->image_store ? ex->image_store :
				      "/nonexistent", root);
		size_t k;

		for (k = 0; ie && sandbox_env[k]; k++)
			strvec_push(&jc->senv, sandbox_env[k]);
		for (k = 0; ie && ie[k]; k++) {
			if (strncmp(ie[k], "HOME=", 5))
				strvec_push(&jc->senv, ie[k]);
			free(ie[k]);
		}
		free(ie);
	}
	jc->shell = sandbox_shell(root, &err);
	if (!jc->shell) {
		jc->setup_err = xasprintf("image \"%s\": %s",
					  image ? image : "/", err.buf);
		goto done;
	}
	if (image && setup_entrypoint(jc, ex, root, image) < 0)
		goto done;
	proj = varlist_get(vars, "CI_PROJECT_NAME");
	if (!proj || !*proj || strchr(proj, '/') || !strcmp(proj, ".") ||
	    !strcmp(proj, ".."))
		proj = "project";
	inside = xasprintf("%s/%s", SANDBOX_BUILDS_DIR, proj);
	if (def->services_nr &&
	    setup_services(jc, vars, ex->image_store ? ex->image_store :
			   "/nonexistent") < 0)
		goto done;
	memset(&so, 0, sizeof(so));
	so.bwrap = bwrap;
	so.root = root;
	so.workdir = jc->workdir;
	so.project_dir = inside;
	so.network = def->cidre.network >= 0 ? def->cidre.network : ex->network;
	so.uid = ex->uid;
	so.gid = ex->gid;
	if (jc->svcs_nr) {
		/* the services' network, their names in /etc/hosts */
		char *eh = xasprintf("%s/etc/hosts", strcmp(root, "/") ? root : "");
		struct stat hst;

		so.network = 1;
		if (!lstat(eh, &hst) && S_ISREG(hst.st_mode))
			so.hosts = hosts_path = xasprintf("%s/hosts", jc->svc_dir);
		else
			note(jc, "WARNING: the image has no /etc/hosts to name the "
			     "services in: the job reaches them at 127.0.0.1");
		free(eh);
	}
	if (sandbox_argv(&so, &jc->wrap, &err) < 0) {
		jc->setup_err = xasprintf("sandbox: %s", err.buf);
		goto done;
	}
	jc->sandbox = 1;
	/* a job with services starts in their namespaces: no pool, no
	   trampoline (start_services) */
	if (sandbox_init_exe() >= 0 && !jc->svcs_nr)
		sandbox_init_argv(jc->wrap.v, &jc->init);
	free(jc->inside);
	jc->inside = xstrdup(inside);
	varlist_set(vars, "CI_PROJECT_DIR", inside);
	varlist_set(vars, "CI_BUILDS_DIR", SANDBOX_BUILDS_DIR);
	note(jc, "Running in a sandbox: image %s%s%s%s%s%s, network %s%s",
	     image ? image : "/ (this host's system directories, read-only)",
	     name ? " (" : "", name ? root : "", name ? ")" : "",
	     jc->entry.nr ? ", entrypoint " : "",
	     jc->entry.nr ? jc->entry.v[0] : "",
	     jc->svcs_nr ? "loopback only, with its services" :
	     so.network ? "shared" : "loopback only", lims.buf);
	strbuf_reset(&lims);
	if (name && ex->image_store && !jc->silent) {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		char *line;

		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		line = xasprintf("%s %s job %s #%lld", when,
				 varlist_get(vars, "CI_PROJECT_PATH") ?
				 varlist_get(vars, "CI_PROJECT_PATH") : proj,
				 jc->pj->name, jr->job_id);
		image_record_use(ex->image_store, name, line);
		free(line);
	}
limits:
	if (lims.len)
		note(jc, "Limits:%s", lims.buf + 1);
done:
	free(hosts_path);
	free(image);
	free(root);
	free(name);
	free(inside);
	strbuf_release(&err);
	strbuf_release(&lims);
}

/*
 * The job's environment: host's entries ("NAME=value"; a later NAME
 * replaces an earlier one's value in its place), then vars' over them
 * (replacing in place, new names appended), as "NAME=value" strings for
 * varlist_env_free(). What varlist_set() + varlist_merge() +
 * varlist_to_env() gave, without their copies, linear look-ups and
 * printf: that was ~280 k instructions per job (callgrind), a fifth of
 * the supervisor's user time.
 */
struct env_ent {
	const char *key;
	size_t klen;
	const char *value;
};

static uint32_t env_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

/* Put key=value in e[] (n of them), slot table t of mask+1 entries (index + 1). */
static void env_put(struct env_ent *e, size_t *n, size_t *t, size_t mask,
		    const char *key, size_t klen, const char *value)
{
	size_t i = env_hash(key, klen) & mask;

	for (; t[i]; i = (i + 1) & mask) {
		struct env_ent *x = &e[t[i] - 1];

		if (x->klen == klen && !memcmp(x->key, key, klen)) {
			x->value = value;
			return;
		}
	}
	e[*n].key = key;
	e[*n].klen = klen;
	e[*n].value = value;
	t[i] = ++*n;
}

static char **make_env(char *const *host, const struct varlist *vars)
{
	size_t nhost = 0, cap, mask = 15, n = 0, i;
	struct env_ent *e;
	size_t *t;
	char **env;

	while (host && host[nhost])
		nhost++;
	cap = nhost + vars->nr;
	while (mask + 1 < 2 * cap)
		mask = mask * 2 + 1;
	e = xcalloc(cap ? cap : 1, sizeof(*e));
	t = xcalloc(mask + 1, sizeof(*t));
	for (i = 0; i < nhost; i++) {
		const char *eq = strchr(host[i], '=');

		if (eq)
			env_put(e, &n, t, mask, host[i], (size_t)(eq - host[i]), eq + 1);
	}
	for (i = 0; i < vars->nr; i++)
		env_put(e, &n, t, mask, vars->v[i].key, strlen(vars->v[i].key),
			vars->v[i].value);
	env = xcalloc(n + 1, sizeof(*env));
	for (i = 0; i < n; i++) {
		size_t vlen = strlen(e[i].value);
		char *s = xmalloc(e[i].klen + vlen + 2);

		memcpy(s, e[i].key, e[i].klen);
		s[e[i].klen] = '=';
		memcpy(s + e[i].klen + 1, e[i].value, vlen + 1);
		env[i] = s;
	}
	free(t);
	free(e);
	return env;
}

int jobrun_retry_allows(const struct retry *rt, const char *reason, int exit_code,
			int attempts)
{
	size_t i;
	int ok = 0;

	if (attempts > rt->max)
		return 0;
	if (!rt->when.nr)
		ok = 1;
	for (i = 0; i < rt->when.nr && !ok; i++) {
		const char *w = rt->when.v[i];

		if (!strcmp(w, "always") || !strcmp(w, reason) ||
		    (!strcmp(w, "stuck_or_timeout_failure") &&
		     !strcmp(reason, "job_execution_timeout")) ||
		    (!strcmp(w, "unknown_failure") &&
		     !strcmp(reason, "unknown_failure")))
			ok = 1;
	}
	if (ok && rt->exit_codes.nr) {
		ok = 0;
		for (i = 0; i < rt->exit_codes.nr; i++)
			if (rt->exit_codes.v[i] == exit_code)
				ok = 1;
	}
	return ok;
}

int jobrun_failure_allowed(const struct plan_job *pj, int exit_code)
{
	size_t i;

	if (pj->allow_exit_codes.nr) {
		for (i = 0; i < pj->allow_exit_codes.nr; i++)
			if (pj->allow_exit_codes.v[i] == exit_code)
				return 1;
		return 0;
	}
	return pj->allow_failure == 1;
}

static void script_of(struct strbuf *out, const struct strvec *a,
		      const struct strvec *b, int colour)
{
	struct strvec all = STRVEC_INIT;

	if (a)
		strvec_copy(&all, a);
	if (b)
		strvec_copy(&all, b);
	proc_script_build(out, all.v, all.nr, colour);
	strvec_clear(&all);
}

static int on_status_matches(enum on_status w, int ok)
{
	return w == ON_ALWAYS || (w == ON_SUCCESS && ok) || (w == ON_FAILURE && !ok);
}

static void expand_list(const struct strvec *in, const struct varlist *vars,
			struct strvec *out)
{
	size_t i;

	for (i = 0; i < in->nr; i++)
		strvec_push_nodup(out, vars_expand_dup(in->v[i], vars));
}

/*
 * Parse the job's reports from the files its artifacts step collected
 * (GitLab uploads reports as artifacts, per artifacts:when).
 */
static void collect_reports(struct job_ctx *jc, const struct varlist *vars)
{
	const struct job *def = jc->pj->def;
	const struct strvec *got = &jc->r->artifacts;
	struct strvec paths = STRVEC_INIT;
	struct strbuf err = STRBUF_INIT, p = STRBUF_INIT;
	size_t i, j;

	expand_list(&def->artifacts.reports_junit, vars, &paths);
	for (j = 0; j < got->nr; j++) {
		for (i = 0; i < paths.nr; i++)
			if (glob_match_path(paths.v[i], got->v[j]))
				break;
		if (i == paths.nr)
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", jc->workdir, got->v[j]);
		if (!jc->r->has_junit)
			junit_report_init(&jc->r->junit);
		jc->r->has_junit = 1;
		if (junit_parse_file(p.buf, &jc->r->junit, 0, &err) < 0) {
			note(jc, "JUnit report %s: %s", got->v[j], err.buf);
			strbuf_reset(&err);
		}
	}
	strvec_clear(&paths);

	expand_list(&def->artifacts.reports_dotenv, vars, &paths);
	for (j = 0; j < got->nr; j++) {
		if (strvec_find(&paths, got->v[j]) < 0)
			continue;
		strbuf_reset(&p);
		strbuf_addf(&p, "%s/%s", jc->workdir, got->v[j]);
		if (dotenv_parse_file(p.buf, &jc->r->dotenv, &err) < 0) {
			note(jc, "dotenv report %s: %s", got->v[j], err.buf);
			strbuf_reset(&err);
		}
	}
	strvec_clear(&paths);
	strbuf_release(&p);
	strbuf_release(&err);
}

static void collect_artifacts(struct job_ctx *jc, const struct varlist *vars, int ok)
{
	const struct job *def = jc->pj->def;
	const struct artifacts *a = &def->artifacts;
	struct strvec paths = STRVEC_INIT, exclude = STRVEC_INIT;
	struct strbuf warn = STRBUF_INIT, err = STRBUF_INIT, dest = STRBUF_INIT;
	struct collect_spec spec;

	if (!a->set || !on_status_matches(a->when, ok))
		return;
	expand_list(&a->paths, vars, &paths);
	expand_list(&a->exclude, vars, &exclude);
	/* GitLab uploads report files as artifacts as well */
	expand_list(&a->reports_junit, vars, &paths);
	expand_list(&a->reports_dotenv, vars, &paths);
	spec.paths = &paths;
	spec.exclude = &exclude;
	spec.untracked = a->untracked;
	spec.tracked = jc->jr->files;
	strbuf_addstr(&dest, jc->jr->artifacts_dir);
	strvec_clear(&jc->r->artifacts);
	if (artifacts_collect(jc->workdir, &spec, dest.buf, &jc->r->artifacts,
			      &warn, &err) < 0) {
		/* a job whose artifacts are not kept did not pass (a full disk) */
		note(jc, "ERROR: collecting artifacts failed: %s", err.buf);
		if (jc->r->status == JOB_SUCCESS) {
			jc->r->status = JOB_FAILED;
			jc->r->failure_reason = "runner_system_failure";
		}
	}
	if (warn.len) {
		char *line, *save = NULL;

		for (line = strtok_r(warn.buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			note(jc, "artifacts: %s", line);
	}
	if (jc->r->artifacts.nr)
		note(jc, "Uploading artifacts: %zu file%s", jc->r->artifacts.nr,
		     jc->r->artifacts.nr == 1 ? "" : "s");
	strvec_clear(&paths);
	strvec_clear(&exclude);
	strbuf_release(&warn);
	strbuf_release(&err);
	strbuf_release(&dest);
}

static int prepare(struct job_ctx *jc, const struct varlist *vars, struct strbuf *err)
{
	const struct jobrun *jr = jc->jr;
	const struct plan_job *pj = jc->pj;
	size_t i;
	int ret = -1;

	if (jr->project_dir &&
	    workspace_populate(jr->project_dir, jr->files, jc->workdir, err) < 0)
		goto done;
	for (i = 0; i < jr->deps_nr; i++) {
		const struct jobrun_dep *d = &jr->deps[i];

		if (!d->artifacts_dir || !d->files)
			continue;
		if (artifacts_restore(d->artifacts_dir, jc->workdir, err) < 0)
			goto done;
		note(jc, "Downloaded artifacts of %s (%zu file%s)", d->name, d->files,
		     d->files == 1 ? "" : "s");
	}
	for (i = 0; i < pj->def->caches_nr; i++) {
		const struct cache *c = &pj->def->caches[i];
		struct strbuf key = STRBUF_INIT;
		char *hit = NULL;

		cache_key(c, jc->workdir, vars, &key);
		if (cache_restore(jr->cache_dir, c, key.buf, vars, jc->workdir,
				  &hit, err) < 0) {
			strbuf_release(&key);
			goto done;
		}
		if (hit)
			note(jc, "Restored cache %s", hit);
		else if (c->policy != CACHE_PUSH)
			note(jc, "No cache found for key %s", key.buf);
		free(hit);
		strbuf_release(&key);
	}
	ret = 0;
done:
	return ret;
}

static void save_caches(struct job_ctx *jc, const struct varlist *vars, int ok)
{
	const struct jobrun *jr = jc->jr;
	struct strbuf err = STRBUF_INIT;
	size_t i;

	for (i = 0; i < jc->pj->def->caches_nr; i++) {
		const struct cache *c = &jc->pj->def->caches[i];
		struct strbuf key = STRBUF_INIT;

		cache_key(c, jc->workdir, vars, &key);
		if (cache_save(jr->cache_dir, c, key.buf, vars, jc->workdir,
			       jr->files, ok, &err) < 0) {
			note(jc, "saving cache %s failed: %s", key.buf, err.buf);
			strbuf_reset(&err);
		}
		strbuf_release(&key);
	}
	strbuf_release(&err);
}

static void extract_coverage(struct job_ctx *jc)
{
	struct strbuf log = STRBUF_INIT;
	double pct;

	if (!jc->pj->def->coverage || !jc->r->log_path)
		return;
	if (strbuf_read_file(&log, jc->r->log_path, 0) < 0)
		return;
	if (coverage_extract(jc->pj->def->coverage, log.buf, log.len, &pct) == 1) {
		jc->r->has_coverage = 1;
		jc->r->coverage = pct;
	}
	strbuf_release(&log);
}

static void job_vars(struct job_ctx *jc, struct varlist *vars)
{
	const struct jobrun *jr = jc->jr;
	const struct plan_job *pj = jc->pj;
	char num[32], when[UTCTIME_ISO8601_LEN];
	size_t i;

	plan_job_vars(jr->plan, pj, jr->ctx, vars);
	/* dotenv reports of the jobs whose artifacts this job takes */
	for (i = 0; i < jr->deps_nr; i++)
		if (jr->deps[i].dotenv)
			varlist_merge(vars, jr->deps[i].dotenv);
	/* a project's variables, then the trigger's (which win, as in GitLab) */
	if (jr->secrets)
		varlist_merge(vars, jr->secrets);
	if (jr->ctx && jr->ctx->overrides)
		varlist_merge(vars, jr->ctx->overrides);
	varlist_set(vars, "CI_PROJECT_DIR", jc->workdir);
	snprintf(num, sizeof(num), "%lld", jr->job_id);
	varlist_set(vars, "CI_JOB_ID", num);
	{
		/* the server's job page, when a server runs it */
		const char *url = varlist_get(vars, "CI_SERVER_URL");

		if (url) {
			char *u = xasprintf("%s/jobs/%s", url, num);

			varlist_set(vars, "CI_JOB_URL", u);
			free(u);
		}
	}
	snprintf(num, sizeof(num), "%d", pj->def->timeout ? pj->def->timeout : DEFAULT_TIMEOUT);
	varlist_set(vars, "CI_JOB_TIMEOUT", num);
	/* not gmtime_r + strftime: their tzset reads /etc/localtime per job */
	utctime_iso8601(time(NULL), when);
	varlist_set(vars, "CI_JOB_STARTED_AT", when);
	varlist_set(vars, "CI_JOB_STATUS", "running");
}

int jobrun_prestart_enabled(void)
{
	const char *v = getenv("CIDRE_PRESTART");

	return !v || strcmp(v, "0");
}

int jobrun_prestart_takes_env(void)
{
	return sandbox_init_exe() >= 0;
}

/* A script of the job runs: tell the caller, the first time. */
static void on_start(void *ud)
{
	struct job_ctx *jc = ud;

	if (jc->started || !jc->jr->started)
		return;
	jc->started = 1;
	jc->jr->started(jc->jr->started_ud);
}

/* ---- services ---- */

/* How long a service's ports are waited for (GitLab's runner: 30 s). */
#define SERVICES_WAIT_MS 30000

static int write_file_all(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r;

	if (fd < 0)
		return -1;
	r = write_all(fd, p, n);
	if (close(fd) < 0)
		r = -1;
	return r;
}

static void services_release(struct job_ctx *jc)
{
	size_t i;

	for (i = 0; i < jc->svcs_nr; i++) {
		struct job_svc *v = &jc->svcs[i];

		free(v->image);
		free(v->root);
		strvec_clear(&v->argv);
		if (v->env)
			varlist_env_free(v->env);
		free(v->workdir);
		strvec_clear(&v->aliases);
		strbuf_release(&v->tail);
		strbuf_release(&v->part);
	}
	free(jc->svcs);
	jc->svcs = NULL;
	jc->svcs_nr = 0;
	free(jc->svc_dir);
	jc->svc_dir = NULL;
}

static void push_json_strings(struct strvec *v, json_t *a)
{
	json_t *e;
	size_t i;

	if (json_is_string(a)) {
		/* the shell form: ["/bin/sh", "-c", "…"], as Docker runs it */
		strvec_push(v, "/bin/sh");
		strvec_push(v, "-c");
		strvec_push(v, json_string_value(a));
		return;
	}
	json_array_foreach(a, i, e)
		if (json_is_string(e))
			strvec_push(v, json_string_value(e));
}

/*
 * The job's services: each image resolved (pulled when the policy says
 * so), what it runs (its entrypoint and command, or the job's), its
 * environment (its image's, the job's variables, its own), its user,
 * ports and names. 0, or -1 with setup_err.
 */
static int setup_services(struct job_ctx *jc, struct varlist *vars,
			  const char *store)
{
	const struct job *def = jc->pj->def;
	const char *base = jc->jr->ctx ? jc->jr->ctx->project_dir : NULL;
	struct strbuf err = STRBUF_INIT;
	size_t i, k;

	if (jc->silent) {
		/* jobrun_prestart: services start with the job, in its log */
		jc->setup_err = xstrdup("services start with the job");
		return -1;
	}
	jc->svcs = xcalloc(def->services_nr, sizeof(*jc->svcs));
	for (i = 0; i < JOB_MAX_SERVICES; i++)
		jc->svc_out[i] = -1;
	{
		/* as GitLab's runner reads it (Go's ParseBool) */
		const char *d = varlist_get(vars, "CI_DEBUG_SERVICES");

		jc->debug_services = d && (!strcmp(d, "1") || !strcmp(d, "t") ||
					   !strcmp(d, "T") || !strcmp(d, "true") ||
					   !strcmp(d, "TRUE") || !strcmp(d, "True"));
	}
	for (i = 0; i < def->services_nr; i++) {
		const struct job_service *ds = &def->services[i];
		struct job_svc *v = &jc->svcs[jc->svcs_nr++];
		struct varlist sv = VARLIST_INIT;
		json_t *cfg, *a;
		char *rname = NULL, **ie;
		struct strvec base_env = STRVEC_INIT;

		strvec_init(&v->argv);
		strvec_init(&v->aliases);
		strbuf_init(&v->tail, 0);
		strbuf_init(&v->part, 0);
		v->image = strchr(ds->name, '$') ? vars_expand_dup(ds->name, vars) :
			   xstrdup(ds->name);
		if (!*v->image) {
			jc->setup_err = xasprintf("service \"%s\" expands to nothing "
						  "(are its variables set?)", ds->name);
			return -1;
		}
		if (pull_for_job(jc, store, v->image, ds->pull_policy, vars) < 0)
			return -1;
		strbuf_reset(&err);
		if (image_resolve(store, v->image, base, &v->root, &rname, &err) < 0) {
			jc->setup_err = xasprintf("service %s: %s", v->image, err.buf);
			strbuf_release(&err);
			return -1;
		}
		free(rname);
		cfg = image_config(store, v->root);
		/* Docker's rule: an entrypoint given drops the image's command */
		if (ds->has_entrypoint) {
			for (k = 0; k < ds->entrypoint.nr; k++)
				strvec_push(&v->argv, ds->entrypoint.v[k]);
		} else {
			push_json_strings(&v->argv, json_object_get(cfg, "entrypoint"));
		}
		if (ds->has_command) {
			for (k = 0; k < ds->command.nr; k++)
				strvec_push(&v->argv, ds->command.v[k]);
		} else if (!ds->has_entrypoint) {
			push_json_strings(&v->argv, json_object_get(cfg, "cmd"));
		}
		v->workdir = xstrdup_or_null(json_string_value(json_object_get(cfg,
									      "workdir")));
		a = json_object_get(cfg, "ports");
		for (k = 0; k < json_array_size(a) && v->ports_nr < 16; k++)
			v->ports[v->ports_nr++] = (int)json_integer_value(json_array_get(a, k));
		strbuf_reset(&err);
		if (svc_user(v->root, json_string_value(json_object_get(cfg, "user")),
			     &v->uid, &v->gid, &err) < 0) {
			jc->setup_err = xasprintf("service %s: %s", v->image, err.buf);
			json_decref(cfg);
			strbuf_release(&err);
			return -1;
		}
		json_decref(cfg);
		if (!v->argv.nr) {
			jc->setup_err = xasprintf("service %s: its image has neither an "
						  "entrypoint nor a command (give "
						  "services:command)", v->image);
			return -1;
		}
		/* its names: alias:, else from the image's name */
		for (k = 0; k < ds->aliases.nr; k++)
			strvec_push(&v->aliases, ds->aliases.v[k]);
		if (!v->aliases.nr) {
			char *al[2] = { NULL, NULL };
			size_t n = svc_default_aliases(v->image, al);

			for (k = 0; k < n; k++) {
				strvec_push(&v->aliases, al[k]);
				free(al[k]);
			}
		}
		/* the image's environment, the job's variables, its own */
		ie = image_env(store, v->root);
		strvec_push(&base_env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			    "/usr/bin:/sbin:/bin");
		for (k = 0; ie && ie[k]; k++) {
			strvec_push(&base_env, ie[k]);
			free(ie[k]);
		}
		free(ie);
		for (k = 0; k < vars->nr; k++)
			varlist_set(&sv, vars->v[k].key, vars->v[k].value);
		for (k = 0; k < ds->variables.nr; k++) {
			char *x = vars_expand_dup(ds->variables.v[k].value, vars);

			varlist_set(&sv, ds->variables.v[k].key, x);
			free(x);
		}
		v->env = make_env(base_env.v, &sv);
		strvec_clear(&base_env);
		varlist_clear(&sv);
	}
	jc->svc_dir = xasprintf("%s.services", jc->workdir);
	strbuf_release(&err);
	return 0;
}

/*
 * Start the services before the job's script: their namespaces, each
 * service, the names in hosts; the job's bwrap then joins them. Waits
 * for each one's ports (GitLab's 30 s), warning with its last lines
 * when they do not open. 0, or -1 with err.
 */
#define SVC_TAIL_KEEP 4000        /* a service's last output kept */
#define SVC_LINES_MAX (1 << 20)   /* held for the log's line start */

/* The services' lines held (CI_DEBUG_SERVICES), to the log and the live
   output: when the job's output is at a line's start, or force. */
static void svc_lines_flush(struct job_ctx *jc, int force)
{
	if (!jc->svc_lines.len || (!force && !jc->log_bol))
		return;
	if (!jc->log_bol)
		log_raw(jc, "\n", 1);
	if (jc->jr->print)
		jc->jr->print(jc->jr->ud, jc->svc_lines.buf, jc->svc_lines.len, 0);
	log_raw(jc, jc->svc_lines.buf, jc->svc_lines.len);
	jc->log_bol = 1;
	strbuf_reset(&jc->svc_lines);
}

/* A line of service i's output, "[service:ALIAS] ", held for the log. */
static void svc_line(struct job_ctx *jc, size_t i, const char *p, size_t n)
{
	strbuf_addf(&jc->svc_lines, "[service:%s] ", jc->svcs[i].aliases.v[0]);
	strbuf_add(&jc->svc_lines, p, n && p[n - 1] == '\r' ? n - 1 : n);
	strbuf_addch(&jc->svc_lines, '\n');
}

/*
 * Service i's output is readable (or at its end): its last
 * SVC_TAIL_KEEP bytes are kept for a warning, and with
 * CI_DEBUG_SERVICES its lines go to the job's log, prefixed as GitLab's
 * runner prefixes them. Never more than a few reads: the job's own
 * output is read by the same loop.
 */
static void svc_side(void *ud, size_t i)
{
	struct job_ctx *jc = ud;
	struct job_svc *v = &jc->svcs[i];
	char buf[16384];
	int rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		ssize_t n = read(jc->svc_out[i], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				break;
			close(jc->svc_out[i]);  /* its end, or an error */
			jc->svc_out[i] = -1;
			if (jc->debug_services && v->part.len) {
				svc_line(jc, i, v->part.buf, v->part.len);
				strbuf_reset(&v->part);
			}
			break;
		}
		strbuf_add(&v->tail, buf, (size_t)n);
		if (v->tail.len > 2 * SVC_TAIL_KEEP) {
			memmove(v->tail.buf, v->tail.buf + v->tail.len - SVC_TAIL_KEEP,
				SVC_TAIL_KEEP);
			strbuf_setlen(&v->tail, SVC_TAIL_KEEP);
		}
		if (jc->debug_services) {
			const char *p = buf, *end = buf + n, *nl;

			while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
				strbuf_add(&v->part, p, (size_t)(nl - p));
				svc_line(jc, i, v->part.buf, v->part.len);
				strbuf_reset(&v->part);
				p = nl + 1;
			}
			strbuf_add(&v->part, p, (size_t)(end - p));
			if (v->part.len >= LIVE_LINE_MAX) {
				svc_line(jc, i, v->part.buf, v->part.len);
				strbuf_reset(&v->part);
			}
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	svc_lines_flush(jc, jc->svc_lines.len >= SVC_LINES_MAX);
}

static int start_services(struct job_ctx *jc, struct strbuf *err)
{
	struct strbuf hosts = STRBUF_INIT, why = STRBUF_INIT;
	struct strvec wrap = STRVEC_INIT;
	char *path;
	size_t i, k;

	if (copy_rmtree(jc->svc_dir, err) < 0 || copy_mkdirs(jc->svc_dir, err) < 0)
		return -1;
	strbuf_addstr(&hosts, "127.0.0.1\tlocalhost");
	for (i = 0; i < jc->svcs_nr; i++)
		for (k = 0; k < jc->svcs[i].aliases.nr; k++)
			strbuf_addf(&hosts, " %s", jc->svcs[i].aliases.v[k]);
	strbuf_addstr(&hosts, "\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	path = xasprintf("%s/hosts", jc->svc_dir);
	if (write_file_all(path, hosts.buf, hosts.len) < 0) {
		strbuf_addf(err, "cannot write %s: %s", path, strerror(errno));
		free(path);
		strbuf_release(&hosts);
		return -1;
	}
	strbuf_release(&hosts);
	if (svc_holder_start(&jc->holder, err) < 0) {
		free(path);
		return -1;
	}
	for (i = 0; i < jc->svcs_nr; i++) {
		struct job_svc *v = &jc->svcs[i];
		char *scratch = xasprintf("%s/%zu", jc->svc_dir, i);
		struct svc_spec sp;
		int fd = -1, pp[2];

		memset(&sp, 0, sizeof(sp));
		sp.root = v->root;
		sp.scratch = scratch;
		sp.argv = v->argv.v;
		sp.env = v->env;
		sp.workdir = v->workdir;
		sp.uid = v->uid;
		sp.gid = v->gid;
		sp.hosts = path;
		sp.hostname = v->aliases.v[0];
		note(jc, "Starting service %s as %s", v->image, v->aliases.v[0]);
		strbuf_reset(&v->tail);
		strbuf_reset(&v->part);
		/* its output: read by the job's loop (svc_side), never a file
		   it could fill the disk with */
		if (!pipe2(pp, O_CLOEXEC)) {
			fd = pp[1];
			jc->svc_out[i] = pp[0];
			fcntl(pp[0], F_SETFL, O_NONBLOCK);
		}
		sp.log_fd = fd;
		if (fd < 0) {
			strbuf_addf(err, "pipe: %s", strerror(errno));
			v->pid = -1;
		} else if (mkdir(scratch, 0755) < 0) {
			strbuf_addf(err, "cannot make %s: %s", scratch, strerror(errno));
			v->pid = -1;
		} else {
			strbuf_reset(&why);
			v->pid = svc_start(&jc->holder, &sp, &why);
			if (v->pid < 0)
				strbuf_addf(err, "service %s: %s", v->image, why.buf);
		}
		if (fd >= 0)
			close(fd);
		free(scratch);
		if (v->pid < 0) {
			free(path);
			strbuf_release(&why);
			return -1;
		}
	}
	free(path);
	for (i = 0; i < jc->svcs_nr; i++) {
		struct job_svc *v = &jc->svcs[i];
		struct svc_drain d = { jc->svc_out, jc->svcs_nr, svc_side, jc };
		int r;

		strbuf_reset(&why);
		r = svc_wait_ports(&jc->holder, v->pid, v->ports, v->ports_nr,
				   SERVICES_WAIT_MS, &d, &why);
		if (r < 0) {
			if (r == -2)
				v->pid = 0;     /* reaped */
			if (r == -2)
				note(jc, "WARNING: service %s probably did not start "
				     "properly: %s", v->image, why.buf);
			else
				note(jc, "WARNING: service %s probably did not start "
				     "properly: port %s not open after %d s", v->image,
				     why.buf, SERVICES_WAIT_MS / 1000);
			/* its last lines, as GitLab shows them: what is left in
			   its pipe (a pipe's worth at most, one call's reads) */
			if (jc->svc_out[i] >= 0)
				svc_side(jc, i);
			svc_lines_flush(jc, 1);
			strbuf_rtrim(&v->tail);
			if (v->tail.len) {
				size_t start = v->tail.len > 2000 ? v->tail.len - 2000 : 0;

				note(jc, "Service %s said:\n%.*s", v->image,
				     (int)(v->tail.len - start), v->tail.buf + start);
			}
		}
	}
	svc_lines_flush(jc, 1);
	/* the job's sandbox in the services' namespaces (a retry: the new ones) */
	if (jc->wrap.nr > 2 && !strcmp(jc->wrap.v[1], "sandbox-enter")) {
		free(jc->wrap.v[2]);
		jc->wrap.v[2] = xasprintf("/proc/%ld/ns", (long)jc->holder.pid);
		strbuf_release(&why);
		return 0;
	}
	strvec_push(&wrap, spawn_self_exe());
	strvec_push(&wrap, "sandbox-enter");
	strvec_pushf(&wrap, "/proc/%ld/ns", (long)jc->holder.pid);
	strvec_push(&wrap, "--");
	for (i = 0; i < jc->wrap.nr; i++)
		strvec_push(&wrap, jc->wrap.v[i]);
	strvec_clear(&jc->wrap);
	jc->wrap = wrap;
	strbuf_release(&why);
	return 0;
}

static void stop_services(struct job_ctx *jc)
{
	struct strbuf err = STRBUF_INIT;
	size_t i;

	if (!jc->svc_dir)
		return;
	for (i = 0; i < jc->svcs_nr; i++)
		if (jc->svc_out[i] >= 0)
			svc_side(jc, i);   /* what they wrote while the job ended */
	svc_lines_flush(jc, 1);
	for (i = 0; i < jc->svcs_nr; i++) {
		if (jc->svcs[i].pid > 0)
			svc_stop(jc->svcs[i].pid);
		jc->svcs[i].pid = 0;
		if (jc->svc_out[i] >= 0)
			close(jc->svc_out[i]);
		jc->svc_out[i] = -1;
	}
	if (jc->holder.pid > 0 && jc->holder.ranged && geteuid()) {
		/*
		 * What the services wrote belongs to our subordinate ids,
		 * which only the holder's namespace lets us remove.
		 */
		char *ns = xasprintf("/proc/%ld/ns", (long)jc->holder.pid);
		const char *argv[] = { spawn_self_exe(), "sandbox-enter", ns, "--",
				       "/bin/rm", "-rf", jc->svc_dir, NULL };
		struct strbuf out = STRBUF_INIT;
		int st;

		proc_capture(argv, NULL, NULL, 4096, &out, &st, &err);
		strbuf_release(&out);
		free(ns);
	}
	svc_holder_stop(&jc->holder);
	copy_rmtree(jc->svc_dir, &err);
	strbuf_release(&err);
}

/* The process spec of the job's scripts (script and timeout apart). */
static void fill_spec(struct job_ctx *jc, struct proc_spec *ps, char **env)
{
	memset(ps, 0, sizeof(*ps));
	ps->name = jc->pj->name;
	ps->workdir = jc->workdir;
	ps->env = env;
	ps->cancel_fd = jc->jr->cancel_fd;
	ps->on_output = on_output;
	ps->on_start = on_start;
	ps->ud = jc;
	if (jc->svcs_nr) {
		ps->side_fds = jc->svc_out;
		ps->side_nr = jc->svcs_nr;
		ps->on_side = svc_side;
	}
	if (jc->sandbox) {
		ps->wrap = jc->wrap.v;
		ps->shell = jc->shell;
		ps->entrypoint = jc->entry.nr ? jc->entry.v : NULL;
		ps->wrap_info_fd = SANDBOX_INFO_FD;
		ps->wrap_block_fd = SANDBOX_BLOCK_FD;
		if (jc->init.nr) {
			ps->init_argv = jc->init.v;
			ps->init_cwd = jc->inside;
			ps->init_exe = sandbox_init_exe();
			ps->init_exe_at = SANDBOX_EXE_FD;
			ps->pool = jc->jr->exec && jc->jr->exec->pool;
		}
	}
	ps->limits = &jc->lim;
}

/* The workspace directory, made when missing (a sandbox binds it). */
static int make_workdir(const char *dir)
{
	struct strbuf err = STRBUF_INIT;
	int ret = copy_mkdirs(dir, &err);

	strbuf_release(&err);
	return ret;
}

/* "2026-11-28T10:00:00Z", with optional fraction and a Z or ±hh:mm zone */
static int iso8601_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	s += i;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if (*s == 'Z')
		return !s[1];
	return (*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
		isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
		isdigit((unsigned char)s[5]) && !s[6];
}

/*
 * rel opened for reading beneath dir (openat2: no symbolic link, no
 * "..", nothing outside dir): its fd; -1 when it names no file there
 * (the text is no file name), -2 when a symbolic link is in the way.
 */
static int release_file(const char *dir, const char *rel)
{
	struct open_how how;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;
	long fd;

	if (dfd < 0)
		return -1;
	while (*rel == '/')
		rel++;
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = *rel ? syscall(SYS_openat2, dfd, rel, &how, sizeof(how)) : -1;
	e = errno;
	close(dfd);
	if (fd >= 0)
		return (int)fd;
	return e == ELOOP ? -2 : -1;
}

/* a release's text field: expanded, its length checked; NULL when unset */
static char *release_text(const char *s, const struct varlist *vars)
{
	return s ? vars_expand_dup(s, vars) : NULL;
}

/*
 * The job's release: (its script passed): the fields expanded with the
 * job's variables, the description read from a file of the project
 * directory when it names one (as GitLab's release step does), then
 * checked. r->release gets the release as JSON, which the server
 * records; 0, or -1 with the job failed and the log saying why.
 */
static int release_step(struct job_ctx *jc, const struct varlist *vars)
{
	const struct release *rel = &jc->pj->def->release;
	struct strbuf err = STRBUF_INIT, text = STRBUF_INIT;
	char *tag = release_text(rel->tag_name, vars), *name = release_text(rel->name, vars);
	char *desc = release_text(rel->description, vars), *ref = release_text(rel->ref, vars);
	char *msg = release_text(rel->tag_message, vars);
	char *at = release_text(rel->released_at, vars);
	json_t *o = NULL, *links, *ms;
	struct stat st;
	size_t i;
	int rc = -1;

	if (!tag || !*tag || strlen(tag) > 255 || strpbrk(tag, " \t\r\n~^:?*[\\") ||
	    strstr(tag, "..")) {
		strbuf_addf(&err, "tag_name \"%.80s\" is not a tag name", tag ? tag : "");
		goto done;
	}
	if (name && strlen(name) > 1024) {
		strbuf_addstr(&err, "name is longer than 1024 bytes");
		goto done;
	}
	if (at && !iso8601_ok(at)) {
		strbuf_addf(&err, "released_at \"%.80s\" is not an ISO 8601 time "
			    "(2026-11-28T10:00:00Z)", at);
		goto done;
	}
	if (desc && *desc && !strchr(desc, '\n') && strlen(desc) < 4096) {
		/*
		 * A description naming a file of the project directory is its
		 * text. The job wrote that directory and this process may read
		 * more than the job: no symbolic link is followed, and nothing
		 * outside it is reached.
		 */
		int fd = release_file(jc->workdir, desc);

		if (fd == -2) {
			strbuf_addf(&err, "description file %s: symbolic links are not "
				    "followed", desc);
			goto done;
		}
		if (fd >= 0) {
			ssize_t n = 1;

			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
			    st.st_size > RELEASE_MAX_DESCRIPTION) {
				close(fd);
				strbuf_addf(&err, "description file %s is not a regular file of "
					    "at most %d bytes", desc, RELEASE_MAX_DESCRIPTION);
				goto done;
			}
			strbuf_grow(&text, (size_t)st.st_size + 1);
			while (n > 0 && text.len <= RELEASE_MAX_DESCRIPTION) {
				n = read(fd, text.buf + text.len, text.alloc - text.len - 1);
				if (n > 0)
					strbuf_setlen(&text, text.len + (size_t)n);
				if (n > 0 && text.alloc - text.len < 2)
					strbuf_grow(&text, 4096);
			}
			close(fd);
			if (n < 0 || text.len > RELEASE_MAX_DESCRIPTION) {
				strbuf_addf(&err, "description file %s cannot be read, or is "
					    "over %d bytes", desc, RELEASE_MAX_DESCRIPTION);
				goto done;
			}
			strbuf_rtrim(&text);
			free(desc);
			desc = strbuf_detach(&text, NULL);
		}
	}
	if (desc && strlen(desc) > RELEASE_MAX_DESCRIPTION) {
		strbuf_addf(&err, "description is over %d bytes", RELEASE_MAX_DESCRIPTION);
		goto done;
	}
	o = json_object();
	json_object_set_new(o, "tag_name", json_string(tag));
	json_object_set_new(o, "name", json_string(name && *name ? name : tag));
	json_object_set_new(o, "description", json_string(desc ? desc : ""));
	if (ref && *ref)
		json_object_set_new(o, "ref", json_string(ref));
	if (msg && *msg)
		json_object_set_new(o, "tag_message", json_string(msg));
	if (at)
		json_object_set_new(o, "released_at", json_string(at));
	ms = json_array();
	for (i = 0; i < rel->milestones.nr; i++) {
		char *m = vars_expand_dup(rel->milestones.v[i], vars);

		json_array_append_new(ms, json_string(m));
		free(m);
	}
	json_object_set_new(o, "milestones", ms);
	links = json_array();
	for (i = 0; i < rel->links_nr; i++) {
		const struct release_link *l = &rel->links[i];
		char *n = vars_expand_dup(l->name, vars), *u = vars_expand_dup(l->url, vars);
		char *f = l->filepath ? vars_expand_dup(l->filepath, vars) : NULL;
		json_t *e;

		if (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) {
			strbuf_addf(&err, "link %s: url \"%.80s\" is not http(s)://", n, u);
			free(n);
			free(u);
			free(f);
			json_decref(links);
			goto done;
		}
		e = json_pack("{s:s, s:s, s:s}", "name", n, "url", u, "link_type",
			      l->link_type ? l->link_type : "other");
		if (e && f)
			json_object_set_new(e, "filepath", json_string(f));
		if (e)
			json_array_append_new(links, e);
		free(n);
		free(u);
		free(f);
	}
	json_object_set_new(o, "assets", json_pack("{s:o}", "links", links));
	free(jc->r->release);
	jc->r->release = json_dumps(o, JSON_COMPACT);
	note(jc, "Release %s (\"%s\"): %zu link%s, %zu bytes of description", tag,
	     name && *name ? name : tag, rel->links_nr, rel->links_nr == 1 ? "" : "s",
	     desc ? strlen(desc) : 0);
	rc = jc->r->release ? 0 : -1;
	if (rc < 0)
		strbuf_addstr(&err, "the release holds text that is not UTF-8");
done:
	if (rc < 0) {
		note(jc, "ERROR: Job failed: release: %s", err.buf);
		jc->r->status = JOB_FAILED;
		jc->r->failure_reason = "script_failure";
	}
	json_decref(o);
	free(tag);
	free(name);
	free(desc);
	free(ref);
	free(msg);
	free(at);
	strbuf_release(&err);
	strbuf_release(&text);
	return rc;
}

static void run_attempt(struct job_ctx *jc, const struct varlist *vars, char **env)
{
	const struct job *def = jc->pj->def;
	const struct jobrun *jr = jc->jr;
	struct job_result *r = jc->r;
	struct proc_spec ps;
	struct proc_result pr;
	struct proc_prestart *pre_after = NULL;
	struct strbuf script = STRBUF_INIT, err = STRBUF_INIT;
	int ok;

	fill_spec(jc, &ps, env);

	if (jc->setup_canceled) {
		r->status = JOB_CANCELED;
		note(jc, "Job canceled (%s)", jc->setup_err);
		goto done;
	}
	if (jc->setup_err) {
		note(jc, "ERROR: Job failed: %s", jc->setup_err);
		r->status = JOB_FAILED;
		r->failure_reason = "runner_system_failure";
		r->exit_code = -1;
		goto done;
	}
	if (jc->svcs_nr) {
		if (start_services(jc, &err) < 0) {
			note(jc, "ERROR: Job failed: services: %s", err.buf);
			r->status = JOB_FAILED;
			r->failure_reason = "runner_system_failure";
			r->exit_code = -1;
			goto done;
		}
		strbuf_reset(&err);
		ps.wrap = jc->wrap.v;
	}
	script_of(&script, &def->before_script, &def->script, jr->colour);
	ps.script = script.buf;
	ps.timeout_sec = def->timeout ? def->timeout : DEFAULT_TIMEOUT;
	/* the sandbox is set up while the workspace is (docs/internals/sandbox.md) */
	if (jc->sandbox && !jc->pre && jobrun_prestart_enabled() && !jc->svcs_nr &&
	    !make_workdir(jc->workdir))
		jc->pre = proc_prestart(&ps, &err);
	strbuf_reset(&err);
	if (prepare(jc, vars, &err) < 0) {
		note(jc, "ERROR: preparing the job failed: %s", err.buf);
		r->status = JOB_FAILED;
		r->failure_reason = "runner_system_failure";
		r->exit_code = -1;
		goto done;
	}
	ps.prestart = jc->pre;
	jc->pre = NULL;
	/*
	 * after_script's sandbox, set up while the script runs: through
	 * the trampoline it takes its script and CI_JOB_STATUS when it
	 * starts, so it can be started before they are known.
	 */
	if (jc->sandbox && def->after_script.nr && jobrun_prestart_enabled() &&
	    jobrun_prestart_takes_env() && !jc->svcs_nr)
		pre_after = proc_prestart(&ps, &err);
	strbuf_reset(&err);
	if (proc_run(&ps, &pr, &err) < 0) {
		note(jc, "ERROR: cannot start the job: %s", err.buf);
		r->status = JOB_FAILED;
		r->failure_reason = "runner_system_failure";
		r->exit_code = -1;
		goto done;
	}
	ps.prestart = NULL;
	r->prestarted |= pr.prestarted;
	flush_line(jc);
	r->exit_code = pr.exit_code;
	r->timed_out = pr.timed_out;
	r->peak_mem = pr.peak_mem;
	r->cpu = pr.cpu_user + pr.cpu_sys;
	r->accounting = pr.accounting;
	if (pr.pids_refused)
		note(jc, "WARNING: %lld process%s could not be started: the job "
		     "reached its limit of %lld processes (cidre:pids)",
		     pr.pids_refused, pr.pids_refused == 1 ? "" : "es", jc->lim.pids);
	if (pr.oom_kills && !pr.canceled && !pr.timed_out) {
		char b[64];

		human_size(b, sizeof(b), jc->lim.memory);
		note(jc, "%s: out of memory: the kernel's OOM killer ended %lld "
		     "process%s of this job%s%s", pr.exit_code ? "ERROR" : "WARNING",
		     pr.oom_kills, pr.oom_kills == 1 ? "" : "es",
		     jc->lim.memory ? " at its memory limit of " : "",
		     jc->lim.memory ? b : "");
	}
	if (pr.output_lost) {
		r->status = JOB_FAILED;
		r->failure_reason = "runner_system_failure";
		free(r->error);
		r->error = xasprintf("stopped: its log cannot be written: %s",
				     strerror(jc->log_errno ? jc->log_errno : EIO));
		note(jc, "ERROR: Job failed: %s", r->error);
	} else if (pr.canceled) {
		r->status = JOB_CANCELED;
		note(jc, "Job canceled");
	} else if (pr.timed_out) {
		r->status = JOB_FAILED;
		r->failure_reason = "job_execution_timeout";
		note(jc, "ERROR: Job failed: execution took longer than %ds", ps.timeout_sec);
	} else if (pr.exit_code && pr.oom_kills) {
		r->status = JOB_FAILED;
		r->failure_reason = "out_of_memory";
		note(jc, "ERROR: Job failed: out of memory (exit code %d)", pr.exit_code);
	} else if (pr.exit_code) {
		r->status = JOB_FAILED;
		r->failure_reason = "script_failure";
		note(jc, "ERROR: Job failed: exit code %d", pr.exit_code);
	} else {
		r->status = JOB_SUCCESS;
	}
	/* GitLab's release step: after the script, before after_script */
	if (r->status == JOB_SUCCESS && def->release.set)
		release_step(jc, vars);

	if (def->after_script.nr && r->status != JOB_CANCELED) {
		struct varlist after = VARLIST_INIT;
		char **aenv;

		varlist_copy(&after, vars);
		varlist_set(&after, "CI_JOB_STATUS",
			    r->status == JOB_SUCCESS ? "success" : "failed");
		aenv = make_env(jc->sandbox ? base_env(jc) : jr->host_env, &after);
		strbuf_reset(&script);
		script_of(&script, &def->after_script, NULL, jr->colour);
		note(jc, "Running after_script");
		ps.script = script.buf;
		ps.env = aenv;
		ps.timeout_sec = AFTER_SCRIPT_TIMEOUT;
		ps.prestart = pre_after;
		pre_after = NULL;
		if (proc_run(&ps, &pr, &err) < 0)
			note(jc, "WARNING: after_script could not start: %s", err.buf);
		else if (pr.exit_code)
			note(jc, "WARNING: after_script failed with exit code %d (ignored)",
			     pr.exit_code);
		ps.prestart = NULL;
		flush_line(jc);
		if (pr.peak_mem > r->peak_mem)
			r->peak_mem = pr.peak_mem;
		r->cpu += pr.cpu_user + pr.cpu_sys;
		varlist_env_free(aenv);
		varlist_clear(&after);
	}
	stop_services(jc);
	if (r->status != JOB_CANCELED) {
		ok = r->status == JOB_SUCCESS;
		collect_artifacts(jc, vars, ok);
		collect_reports(jc, vars);
		save_caches(jc, vars, ok);
	}
done:
	stop_services(jc);
	proc_prestart_discard(pre_after);
	proc_prestart_discard(jc->pre);
	jc->pre = NULL;
	strbuf_release(&script);
	strbuf_release(&err);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	if (!t0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

struct proc_prestart *jobrun_prestart(const struct jobrun *jr)
{
	struct job_ctx jc;
	struct varlist vars = VARLIST_INIT;
	struct strbuf script = STRBUF_INIT, err = STRBUF_INIT;
	struct proc_prestart *p = NULL;
	struct proc_spec ps;
	char **env = NULL;

	if (!jr->exec || jr->exec->executor != JOBRUN_SANDBOX ||
	    !jobrun_prestart_enabled())
		return NULL;
	memset(&jc, 0, sizeof(jc));
	jc.jr = jr;
	jc.pj = jr->pj;
	jc.log_fd = -1;
	jc.silent = 1;
	strbuf_init(&jc.line, 0);
	jc.workdir = xstrdup(jr->workdir);
	strvec_init(&jc.wrap);
	strvec_init(&jc.senv);
	strvec_init(&jc.entry);
	strvec_init(&jc.init);
	/* exactly what jobrun_run computes for it, so that proc_run can
	   tell whether the job is still the same when it starts */
	job_vars(&jc, &vars);
	setup_exec(&jc, &vars);
	if (!jc.sandbox || jc.setup_err || make_workdir(jc.workdir) < 0)
		goto done;
	env = make_env(base_env(&jc), &vars);
	fill_spec(&jc, &ps, env);
	script_of(&script, &jc.pj->def->before_script, &jc.pj->def->script,
		  jr->colour);
	ps.script = script.buf;
	p = proc_prestart(&ps, &err);
done:
	if (env)
		varlist_env_free(env);
	varlist_clear(&vars);
	strbuf_release(&script);
	strbuf_release(&err);
	strbuf_release(&jc.line);
	strvec_clear(&jc.wrap);
	strvec_clear(&jc.senv);
	strvec_clear(&jc.entry);
	strvec_clear(&jc.init);
	free(jc.inside);
	services_release(&jc);
	free(jc.setup_err);
	free(jc.workdir);
	return p;
}

void jobrun_run(const struct jobrun *jr, struct job_result *r)
{
	struct job_ctx jc;
	struct varlist vars = VARLIST_INIT;
	char **env;

	memset(&jc, 0, sizeof(jc));
	jc.jr = jr;
	jc.pj = jr->pj;
	jc.r = r;
	jc.max_log = jr->max_log ? jr->max_log : DEFAULT_MAX_LOG;
	strbuf_init(&jc.line, 0);
	strbuf_init(&jc.svc_lines, 0);
	jc.log_bol = 1;
	jc.workdir = xstrdup(jr->workdir);
	jc.pre = jr->prestart;
	r->log_path = xstrdup(jr->log_path);
	/*
	 * A log left by an earlier run is overwritten in place and cut to
	 * length at the end: truncating it first would free its blocks only
	 * to allocate them again (slow on file systems mounted with discard).
	 */
	jc.log_fd = open(r->log_path, O_WRONLY | O_CREAT | O_CLOEXEC |
			 (jr->log_append ? O_APPEND : 0), 0644);
	if (jc.log_fd >= 0 && jr->log_append) {
		struct stat st;

		if (!fstat(jc.log_fd, &st))
			jc.log_bytes = (size_t)st.st_size;
	}

	r->start = since(jr->t0);
	job_vars(&jc, &vars);
	strvec_init(&jc.wrap);
	strvec_init(&jc.senv);
	strvec_init(&jc.entry);
	strvec_init(&jc.init);
	setup_exec(&jc, &vars);
	if (jc.pj->def->environment.set) {
		r->env_name = xstrdup_or_null(varlist_get(&vars, "CI_ENVIRONMENT_NAME"));
		r->env_url = xstrdup_or_null(varlist_get(&vars, "CI_ENVIRONMENT_URL"));
	}
	env = make_env(jc.sandbox ? base_env(&jc) : jr->host_env, &vars);
	for (;;) {
		r->attempts++;
		run_attempt(&jc, &vars, env);
		if (r->status != JOB_FAILED || !jr->retry)
			break;
		if (!jobrun_retry_allows(&jc.pj->def->retry, r->failure_reason,
					 r->exit_code, r->attempts))
			break;
		note(&jc, "Retrying job (attempt %d of %d)", r->attempts + 1,
		     jc.pj->def->retry.max + 1);
		if (r->has_junit) {
			junit_report_clear(&r->junit);
			r->has_junit = 0;
		}
		varlist_clear(&r->dotenv);
	}
	if (r->status == JOB_FAILED && jobrun_failure_allowed(jc.pj, r->exit_code))
		r->allowed_failure = 1;
	if (jr->mask)
		mask_flush(jr->mask, log_write, &jc);
	if (jc.log_fd >= 0 && !jr->log_append) {
		/* cut what an earlier, longer log left after this one */
		off_t end = lseek(jc.log_fd, 0, SEEK_CUR);

		if (end >= 0 && ftruncate(jc.log_fd, end) < 0) {
			/* the old tail stays; the job's own bytes are all there */
		}
	}
	extract_coverage(&jc);
	r->duration = since(jr->t0) - r->start;

	if (jc.log_fd >= 0)
		close(jc.log_fd);
	proc_prestart_discard(jc.pre);
	varlist_env_free(env);
	varlist_clear(&vars);
	strbuf_release(&jc.line);
	strvec_clear(&jc.wrap);
	strvec_clear(&jc.senv);
	strvec_clear(&jc.entry);
	strvec_clear(&jc.init);
	free(jc.inside);
	services_release(&jc);
	strbuf_release(&jc.svc_lines);
	free(jc.setup_err);
	free(jc.workdir);
}
