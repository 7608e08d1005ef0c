/*
 * cidre run: run the pipeline of the working tree on this machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "exec/cgroup.h"
#include "exec/fetch.h"
#include "exec/image.h"
#include "exec/pool.h"
#include "exec/proc.h"
#include "exec/sandbox.h"
#include "exec/workspace.h"
#include "git/gitinfo.h"
#include "git/predefined.h"
#include "pipeline/model.h"
#include "pipeline/plan.h"
#include "sched/jobrun.h"
#include "sched/sched.h"
#include "util/suggest.h"
#include "util/xalloc.h"

extern char **environ;

const char cmd_run_usage[] =
	"usage: cidre run [OPTIONS] [JOB...]\n"
	"\n"
	"Run the pipeline of the current git working tree on this machine, with\n"
	"no server: tracked and untracked (not ignored) files, so uncommitted work\n"
	"is tested. Each job runs in its own fresh workspace under .cidre/builds.\n"
	"\n"
	"options:\n"
	"  -C DIR             run as if cidre was started in DIR\n"
	"  -f, --file PATH    pipeline file (default: .cidre.yml, else .gitlab-ci.yml)\n"
	"  -j, --jobs N       run at most N jobs at once (default: number of cores)\n"
	"      --job JOB      run only JOB (repeatable; same as naming it)\n"
	"      --needs        also run what the selected jobs need, transitively\n"
	"  -v, --variable K=V set a pipeline variable (repeatable; wins over all)\n"
	"      --input N=V    an input of the pipeline file's spec:inputs (repeatable;\n"
	"                     V is YAML: 3, true, [a, b], text)\n"
	"      --manual JOB   run the manual job JOB too (repeatable)\n"
	"      --all-manual   run every manual job\n"
	"      --list         show the plan (job, stage, when, needs) and exit\n"
	"      --json[=FILE]  write a JSON report to FILE, or to standard output\n"
	"                     (job output then goes to standard error)\n"
	"  -q, --quiet        no live job output; only the summary\n"
	"      --color=WHEN   colour output: auto (default), always, never\n"
	"      --source NAME  CI_PIPELINE_SOURCE (default: push)\n"
	"      --executor E   shell (default: on this host) or sandbox (each job\n"
	"                     in a bubblewrap sandbox with its image as /)\n"
	"      --images DIR   the image store (default: $CIDRE_IMAGES, else\n"
	"                     $XDG_DATA_HOME/cidre/images, ~/.local/share/...)\n"
	"      --memory SIZE, --pids N, --cpus N\n"
	"                     default limits of every job (cidre: keys win)\n"
	"      --network      sandboxed jobs share this host's network\n"
	"      --pull POLICY  pull images not registered (if-not-present, the\n"
	"                     default), ask the registry each time (always), or\n"
	"                     never; for jobs whose image:pull_policy is unset\n"
	"\n"
	"exit status: 0 pipeline passed (allowed failures warn), 1 it failed,\n"
	"2 configuration error, 130 interrupted (jobs canceled).\n";

struct run_opts {
	const char *dir;
	const char *file;
	int jobs;
	struct strvec only;
	int with_needs;
	struct varlist vars;
	struct varlist inputs;   /* --input: the pipeline file's spec:inputs */
	struct strvec manual;
	int all_manual;
	int list;
	const char *json;     /* NULL: none; "-": stdout */
	int quiet;
	int colour;
	const char *source;
	const char *executor;
	const char *images;
	const char *memory, *pids, *cpus;
	int network;
	unsigned pull;        /* --pull, JOB_PULL_*; 0 unset */
};

/* --memory, --pids, --cpus into lim, checked as the cidre: keys are. */
static int limits_parse(const struct run_opts *o, struct proc_limits *lim)
{
	char *end;

	memset(lim, 0, sizeof(*lim));
	if (o->memory) {
		double v = strtod(o->memory, &end);
		long long mult = 1;

		switch (*end) {
		case 'k': case 'K': mult = 1LL << 10; end++; break;
		case 'm': case 'M': mult = 1LL << 20; end++; break;
		case 'g': case 'G': mult = 1LL << 30; end++; break;
		case 't': case 'T': mult = 1LL << 40; end++; break;
		}
		if (mult > 1 && (*end == 'i' || *end == 'I'))
			end++;
		if (mult > 1 && (*end == 'b' || *end == 'B'))
			end++;
		if (*end || end == o->memory || v * mult < JOB_CIDRE_MIN_MEMORY ||
		    v * mult > JOB_CIDRE_MAX_MEMORY) {
			fprintf(stderr, "cidre run: --memory wants a size from 4M to "
				"1T, like 512M, got '%s'\n", o->memory);
			return -1;
		}
		lim->memory = (long long)(v * mult);
	}
	if (o->pids) {
		long long v = strtoll(o->pids, &end, 10);

		if (*end || end == o->pids || v < 1 || v > JOB_CIDRE_MAX_PIDS) {
			fprintf(stderr, "cidre run: --pids wants a number from 1 to %d\n",
				JOB_CIDRE_MAX_PIDS);
			return -1;
		}
		lim->pids = v;
	}
	if (o->cpus) {
		double v = strtod(o->cpus, &end);

		if (*end || end == o->cpus || !(v >= 0.01 && v <= JOB_CIDRE_MAX_CPUS)) {
			fprintf(stderr, "cidre run: --cpus wants a number from 0.01 to %d\n",
				JOB_CIDRE_MAX_CPUS);
			return -1;
		}
		lim->cpus = v;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	enum { OPT_JOB = 256, OPT_NEEDS, OPT_MANUAL, OPT_ALL_MANUAL, OPT_LIST,
	       OPT_JSON, OPT_COLOR, OPT_SOURCE, OPT_EXECUTOR, OPT_IMAGES,
	       OPT_MEMORY, OPT_PIDS, OPT_CPUS, OPT_NETWORK, OPT_INPUT, OPT_PULL };
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "job", required_argument, NULL, OPT_JOB },
		{ "needs", no_argument, NULL, OPT_NEEDS },
		{ "variable", required_argument, NULL, 'v' },
		{ "input", required_argument, NULL, OPT_INPUT },
		{ "manual", required_argument, NULL, OPT_MANUAL },
		{ "all-manual", no_argument, NULL, OPT_ALL_MANUAL },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "json", optional_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, 'q' },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "colour", required_argument, NULL, OPT_COLOR },
		{ "source", required_argument, NULL, OPT_SOURCE },
		{ "executor", required_argument, NULL, OPT_EXECUTOR },
		{ "images", required_argument, NULL, OPT_IMAGES },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "pids", required_argument, NULL, OPT_PIDS },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "network", no_argument, NULL, OPT_NETWORK },
		{ "pull", required_argument, NULL, OPT_PULL },
		{ NULL, 0, NULL, 0 },
	};
	const char *colour = "auto";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "C:f:j:v:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->dir = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > 1024) {
				fprintf(stderr, "cidre run: -j wants a number from 1 to 1024\n");
				return -1;
			}
			o->jobs = (int)n;
			break;
		}
		case OPT_JOB:
			strvec_push(&o->only, optarg);
			break;
		case OPT_NEEDS:
			o->with_needs = 1;
			break;
		case 'v': {
			const char *eq = strchr(optarg, '=');
			char *k;

			if (!eq || eq == optarg) {
				fprintf(stderr, "cidre run: --variable wants KEY=VALUE, got '%s'\n",
					optarg);
				return -1;
			}
			k = xstrndup(optarg, (size_t)(eq - optarg));
			varlist_set(&o->vars, k, eq + 1);
			free(k);
			break;
		}
		case OPT_INPUT: {
			const char *eq = strchr(optarg, '=');
			char *k;

			if (!eq || eq == optarg) {
				fprintf(stderr, "cidre run: --input wants NAME=VALUE, got '%s'\n",
					optarg);
				return -1;
			}
			k = xstrndup(optarg, (size_t)(eq - optarg));
			varlist_set(&o->inputs, k, eq + 1);
			free(k);
			break;
		}
		case OPT_MANUAL:
			strvec_push(&o->manual, optarg);
			break;
		case OPT_ALL_MANUAL:
			o->all_manual = 1;
			break;
		case OPT_LIST:
			o->list = 1;
			break;
		case OPT_JSON:
			o->json = optarg ? optarg : "-";
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_COLOR:
			colour = optarg;
			break;
		case OPT_SOURCE:
			o->source = optarg;
			break;
		case OPT_EXECUTOR:
			if (strcmp(optarg, "shell") && strcmp(optarg, "sandbox")) {
				fprintf(stderr, "cidre run: --executor wants shell or "
					"sandbox, got '%s'\n", optarg);
				return -1;
			}
			o->executor = optarg;
			break;
		case OPT_IMAGES:
			o->images = optarg;
			break;
		case OPT_PULL:
			if (!strcmp(optarg, "always"))
				o->pull = JOB_PULL_ALWAYS | JOB_PULL_IF_NOT_PRESENT;
			else if (!strcmp(optarg, "if-not-present"))
				o->pull = JOB_PULL_IF_NOT_PRESENT;
			else if (!strcmp(optarg, "never"))
				o->pull = JOB_PULL_NEVER;
			else {
				fprintf(stderr, "cidre run: --pull wants always, "
					"if-not-present or never, got '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_MEMORY:
			o->memory = optarg;
			break;
		case OPT_PIDS:
			o->pids = optarg;
			break;
		case OPT_CPUS:
			o->cpus = optarg;
			break;
		case OPT_NETWORK:
			o->network = 1;
			break;
		default: {
			/* getopt said what it refused */
			const char *best = suggest_long_option(argv[optind - 1], longopts);

			if (best)
				fprintf(stderr, "did you mean '--%s'?\n", best);
			fprintf(stderr, "see 'cidre run -h'\n");
			return -1;
		}
		}
	}
	for (; optind < argc; optind++)
		strvec_push(&o->only, argv[optind]);
	if (!strcmp(colour, "always"))
		o->colour = 1;
	else if (!strcmp(colour, "never"))
		o->colour = 0;
	else if (!strcmp(colour, "auto"))
		o->colour = -1;
	else {
		fprintf(stderr, "cidre run: --color wants auto, always or never\n");
		return -1;
	}
	return 0;
}

/*
 * Read, increment and write back a counter file under the state dir,
 * under an exclusive lock. Counters only grow, so the new text is never
 * shorter than the old and the file is rewritten in place, not
 * truncated (truncation waits for the disk where it discards).
 */
static int next_counter(const char *state_dir, const char *name, int step)
{
	struct strbuf path = STRBUF_INIT;
	int fd, n = 0;
	char buf[32];

	strbuf_addf(&path, "%s/%s", state_dir, name);
	fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		goto done;
	if (flock(fd, LOCK_EX) == 0) {
		ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);

		buf[r > 0 ? r : 0] = '\0';
		n = atoi(buf);
		if (n < 0)
			n = 0;
		snprintf(buf, sizeof(buf), "%d\n", n + step);
		if (pwrite(fd, buf, strlen(buf), 0) < 0)
			n = 0;
	}
	close(fd);
done:
	strbuf_release(&path);
	return n + 1;
}

static const char *when_label(const struct plan_job *pj)
{
	if (pj->when == WHEN_MANUAL && pj->run_manual)
		return "manual (run)";
	return when_name(pj->when);
}

static void print_list(const struct plan *plan)
{
	size_t i, n;
	int w = 3;

	for (i = 0; i < plan->nr; i++)
		if ((int)strlen(plan->jobs[i].name) > w)
			w = (int)strlen(plan->jobs[i].name);
	printf("%-*s  %-10s  %-12s  %-13s  %s\n", w, "JOB", "STAGE", "WHEN",
	       "ALLOW FAILURE", "NEEDS");
	for (i = 0; i < plan->nr; i++) {
		const struct plan_job *pj = &plan->jobs[i];
		struct strbuf needs = STRBUF_INIT;

		if (pj->has_needs) {
			for (n = 0; n < pj->needs_nr; n++)
				strbuf_addf(&needs, "%s%s", n ? ", " : "",
					    plan->jobs[pj->needs[n].job].name);
			if (!pj->needs_nr)
				strbuf_addstr(&needs, "[]");
		}
		printf("%-*s  %-10s  %-12s  %-13s  %s\n", w, pj->name,
		       plan->stages.v[pj->stage], when_label(pj),
		       pj->allow_failure ? "yes" : "no", needs.buf);
		strbuf_release(&needs);
	}
}

static void human_bytes(char *buf, size_t n, long long b)
{
	if (b < 0)
		snprintf(buf, n, "-");
	else if (b < 1024 * 1024)
		snprintf(buf, n, "%.0f KB", b / 1024.0);
	else if (b < 1024LL * 1024 * 1024)
		snprintf(buf, n, "%.1f MB", b / (1024.0 * 1024));
	else
		snprintf(buf, n, "%.2f GB", b / (1024.0 * 1024 * 1024));
}

static const char *status_colour(const struct job_result *r)
{
	switch (r->status) {
	case JOB_SUCCESS:
		return "\033[32m";
	case JOB_FAILED:
		return r->allowed_failure ? "\033[33m" : "\033[31m";
	case JOB_CANCELED:
		return "\033[31m";
	default:
		return "\033[2m";
	}
}

static void print_summary(FILE *f, const struct plan *plan,
			  const struct job_result *res, const char *status,
			  int pipeline_id, double total, int colour)
{
	size_t i;
	int w = 3, allowed = 0;

	for (i = 0; i < plan->nr; i++)
		if ((int)strlen(plan->jobs[i].name) > w)
			w = (int)strlen(plan->jobs[i].name);
	fprintf(f, "\n%-*s  %-10s  %-17s %9s %9s  %s\n", w, "JOB", "STAGE",
		"STATUS", "DURATION", "PEAK MEM", "TESTS");
	for (i = 0; i < plan->nr; i++) {
		const struct job_result *r = &res[i];
		struct strbuf st = STRBUF_INIT, tests = STRBUF_INIT;
		char dur[32] = "-", mem[32] = "-";

		strbuf_addstr(&st, job_status_name(r->status));
		if (r->allowed_failure) {
			strbuf_addstr(&st, " (allowed)");
			allowed++;
		}
		if (r->attempts > 1)
			strbuf_addf(&st, " x%d", r->attempts);
		if (r->status == JOB_SUCCESS || r->status == JOB_FAILED ||
		    (r->status == JOB_CANCELED && r->attempts)) {
			snprintf(dur, sizeof(dur), "%.2fs", r->duration);
			human_bytes(mem, sizeof(mem), r->peak_mem);
		}
		if (r->has_junit)
			strbuf_addf(&tests, "%zu passed, %zu failed%s", r->junit.passed,
				    r->junit.failed + r->junit.errors,
				    r->junit.skipped ? "" : "");
		if (r->has_junit && r->junit.skipped)
			strbuf_addf(&tests, ", %zu skipped", r->junit.skipped);
		if (r->has_coverage)
			strbuf_addf(&tests, "%scoverage %.2f%%", tests.len ? "; " : "",
				    r->coverage);
		fprintf(f, "%-*s  %-10s  %s%-17s%s %9s %9s  %s\n", w,
			plan->jobs[i].name, plan->stages.v[plan->jobs[i].stage],
			colour ? status_colour(r) : "", st.buf, colour ? "\033[0m" : "",
			dur, mem, tests.buf);
		strbuf_release(&st);
		strbuf_release(&tests);
	}
	fprintf(f, "\npipeline #%d %s%s%s", pipeline_id,
		colour ? (!strcmp(status, "success") ? "\033[32m" : "\033[31m") : "",
		!strcmp(status, "success") ? "passed" : status,
		colour ? "\033[0m" : "");
	if (allowed && !strcmp(status, "success"))
		fprintf(f, " with warnings (%d allowed failure%s)", allowed,
			allowed > 1 ? "s" : "");
	fprintf(f, " in %.2fs", total);
	fputc('\n', f);
	/* a Pages job's site, as a server would serve it (docs/pages.md) */
	for (i = 0; i < plan->nr; i++) {
		const struct job *def = plan->jobs[i].def;

		const char *dir = def->pages_publish ? def->pages_publish : "public";
		int n = (int)strlen(dir);

		while (n > 1 && dir[n - 1] == '/')
			n--;
		if (def->pages > 0 && res[i].status == JOB_SUCCESS)
			fprintf(f, "Pages site of %s: .cidre/artifacts/%s/%.*s/index.html\n",
				plan->jobs[i].name, plan->jobs[i].name, n, dir);
	}
}

static json_t *json_strvec(const struct strvec *sv)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sv->nr; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static int write_json(const char *path, const struct plan *plan,
		      const struct job_result *res, const char *status,
		      int pipeline_id, double total, const struct gitinfo *gi)
{
	json_t *root = json_object(), *jobs = json_array();
	size_t i, n;
	int ret;

	json_object_set_new(root, "id", json_integer(pipeline_id));
	json_object_set_new(root, "status", json_string(status));
	json_object_set_new(root, "name", plan->name ? json_string(plan->name) : json_null());
	json_object_set_new(root, "duration", json_real(total));
	json_object_set_new(root, "sha", json_string(gi->sha));
	json_object_set_new(root, "ref", json_string(gi->branch ? gi->branch :
							gi->tag ? gi->tag : gi->sha));
	json_object_set_new(root, "stages", json_strvec(&plan->stages));
	for (i = 0; i < plan->nr; i++) {
		const struct plan_job *pj = &plan->jobs[i];
		const struct job_result *r = &res[i];
		json_t *j = json_object(), *needs = json_array();

		json_object_set_new(j, "name", json_string(pj->name));
		json_object_set_new(j, "stage", json_string(plan->stages.v[pj->stage]));
		json_object_set_new(j, "status", json_string(job_status_name(r->status)));
		json_object_set_new(j, "when", json_string(when_name(pj->when)));
		json_object_set_new(j, "allow_failure", json_boolean(pj->allow_failure));
		json_object_set_new(j, "allowed_failure", json_boolean(r->allowed_failure));
		json_object_set_new(j, "exit_code", r->attempts ? json_integer(r->exit_code) : json_null());
		json_object_set_new(j, "failure_reason", r->failure_reason ?
				    json_string(r->failure_reason) : json_null());
		json_object_set_new(j, "attempts", json_integer(r->attempts));
		json_object_set_new(j, "started_at", json_real(r->start));
		json_object_set_new(j, "duration", json_real(r->duration));
		json_object_set_new(j, "peak_memory", r->peak_mem >= 0 ?
				    json_integer(r->peak_mem) : json_null());
		json_object_set_new(j, "cpu_seconds", json_real(r->cpu));
		json_object_set_new(j, "accounting", r->accounting ?
				    json_string(r->accounting) : json_null());
		for (n = 0; n < pj->needs_nr; n++)
			json_array_append_new(needs, json_string(plan->jobs[pj->needs[n].job].name));
		json_object_set_new(j, "needs", pj->has_needs ? needs : (json_decref(needs), json_null()));
		if (r->has_junit) {
			json_t *t = json_object();

			json_object_set_new(t, "total", json_integer((json_int_t)r->junit.tests));
			json_object_set_new(t, "passed", json_integer((json_int_t)r->junit.passed));
			json_object_set_new(t, "failed", json_integer((json_int_t)r->junit.failed));
			json_object_set_new(t, "errors", json_integer((json_int_t)r->junit.errors));
			json_object_set_new(t, "skipped", json_integer((json_int_t)r->junit.skipped));
			json_object_set_new(j, "tests", t);
		}
		if (r->has_coverage)
			json_object_set_new(j, "coverage", json_real(r->coverage));
		json_object_set_new(j, "artifacts", json_strvec(&r->artifacts));
		if (pj->def->artifacts.set && pj->def->artifacts.expire_in)
			json_object_set_new(j, "artifacts_expire_in",
					    json_string(pj->def->artifacts.expire_in));
		if (pj->def->environment.set) {
			json_t *e = json_object();

			json_object_set_new(e, "name", json_string(r->env_name ? r->env_name :
							pj->def->environment.name));
			if (r->env_url || pj->def->environment.url)
				json_object_set_new(e, "url", json_string(r->env_url ? r->env_url :
							pj->def->environment.url));
			json_object_set_new(e, "action", json_string(pj->def->environment.action ?
						pj->def->environment.action : "start"));
			json_object_set_new(j, "environment", e);
		}
		if (pj->def->artifacts.set && pj->def->artifacts.name)
			json_object_set_new(j, "artifacts_name",
					    json_string(pj->def->artifacts.name));
		if (pj->def->image)
			json_object_set_new(j, "image", json_string(pj->def->image));
		json_object_set_new(j, "tags", json_strvec(&pj->def->tags));
		json_object_set_new(j, "interruptible", pj->interruptible < 0 ?
				    json_null() : json_boolean(pj->interruptible));
		if (pj->def->resource_group)
			json_object_set_new(j, "resource_group", json_string(pj->def->resource_group));
		json_object_set_new(j, "log", r->log_path ? json_string(r->log_path) : json_null());
		json_array_append_new(jobs, j);
	}
	json_object_set_new(root, "jobs", jobs);
	if (!strcmp(path, "-"))
		ret = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) || fputc('\n', stdout) == EOF;
	else
		ret = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	json_decref(root);
	return ret ? -1 : 0;
}

static int rules_use_changes(const struct rules *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		if (r->v[i].has_changes)
			return 1;
	return 0;
}

/* The working tree's changed files, found once, when first asked for. */
struct lazy_changed {
	const struct gitinfo *gi;
	struct strvec *files;
	int state;              /* 0 not asked yet, 1 known, -1 nothing to compare with */
};

static const struct strvec *lazy_changed_get(void *ud)
{
	struct lazy_changed *l = ud;

	if (!l->state) {
		struct strbuf err = STRBUF_INIT;

		l->state = gitinfo_changed_files(l->gi, l->files, &err) == 0 ? 1 : -1;
		strbuf_release(&err);
	}
	return l->state > 0 ? l->files : NULL;
}

/* rules:changes:compare_to in a local run */
static int run_changed_since(void *ud, const char *ref, struct strvec *out,
			     struct strbuf *err)
{
	return gitinfo_changed_since(ud, ref, out, err);
}

/* Whether any rules:changes / only:changes / except:changes needs the diff. */
static int pipeline_uses_changes(const struct pipeline *p)
{
	size_t i;

	if (rules_use_changes(&p->workflow_rules))
		return 1;
	for (i = 0; i < p->jobs_nr; i++) {
		const struct job *j = p->jobs[i];

		if (rules_use_changes(&j->rules) || j->only.changes.nr ||
		    j->except.changes.nr)
			return 1;
	}
	return 0;
}

/* The working tree is listed while the pipeline is loaded and planned. */
struct lister {
	pthread_t thread;
	const char *dir;
	struct strvec *files;
	struct strbuf err;
	int ret;
};

static void *list_files(void *arg)
{
	struct lister *l = arg;

	l->ret = workspace_list(l->dir, l->files, &l->err);
	return NULL;
}

static long ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

/* Keep the state directory out of `git status` of the user's repository. */
static void state_dir_init(const char *state_dir)
{
	struct strbuf p = STRBUF_INIT;
	int fd;

	if (mkdir(state_dir, 0755) < 0 && errno != EEXIST)
		return;
	strbuf_addf(&p, "%s/.gitignore", state_dir);
	fd = open(p.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, "*\n", 2) != 2) {
			/* harmless: .cidre/ then shows up as untracked */
		}
		close(fd);
	}
	strbuf_release(&p);
}

/*
 * The repository's top as git finds it, by the nearest .git up from
 * the working directory, in dir. 0, or -1 when there is none.
 */
int (*cmd_project_file)(void *ud, const char *project, const char *ref, const char *file,
			size_t max, struct strbuf *out, struct strbuf *err);

int run_repo_top(struct strbuf *dir)
{
	struct stat st;
	char cwd[4096];

	strbuf_reset(dir);
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	strbuf_addstr(dir, cwd);
	for (;;) {
		size_t len = dir->len;
		char *slash;

		strbuf_addstr(dir, "/.git");
		if (!lstat(dir->buf, &st)) {
			strbuf_setlen(dir, len);
			return 0;
		}
		strbuf_setlen(dir, len);
		slash = strrchr(dir->buf, '/');
		if (!slash || slash == dir->buf)
			return -1;
		strbuf_setlen(dir, (size_t)(slash - dir->buf));
	}
}

/*
 * The sandbox pool the last run here used, started now (exec/pool.h,
 * pool_warm): its set-up overlaps reading the working tree and planning.
 * A wrong guess of the repository only starts a pool nobody uses.
 */
static void warm_pool(void)
{
	struct strbuf dir = STRBUF_INIT, err = STRBUF_INIT;
	const char *v = getenv("CIDRE_SANDBOX_POOL");
	const char *idle_s = getenv("CIDRE_SANDBOX_POOL_IDLE");
	const char *ci = getenv("CI");
	/* a CI job's processes should end with it: no pool stays there */
	int idle = ci && *ci && strcmp(ci, "false") && strcmp(ci, "0") ?
		   0 : POOL_IDLE_DEFAULT;

	if (v && !strcmp(v, "0"))
		return;
	idle = pool_idle_env(idle_s, idle);
	if (idle < 0) {
		fprintf(stderr, "cidre: CIDRE_SANDBOX_POOL_IDLE=%s is not a "
			"number of seconds (0 to 86400): the sandbox pool "
			"ends with this run\n", idle_s);
		idle = 0;
	}
	if (run_repo_top(&dir) == 0) {
		strbuf_addstr(&dir, "/.cidre/pool-line");
		pool_warm(dir.buf, sandbox_bwrap(&err), sandbox_init_exe(), idle);
	}
	strbuf_release(&dir);
	strbuf_release(&err);
}

static void *warm_thread(void *arg)
{
	warm_pool();
	return arg;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct gitinfo gi;
	struct strbuf err = STRBUF_INIT, state = STRBUF_INIT, builds = STRBUF_INIT;
	struct ci_predef po;
	struct diag d = DIAG_INIT;
	struct load_opts lo;
	struct pipeline *p = NULL;
	struct plan plan;
	struct plan_ctx ctx;
	struct varlist pre = VARLIST_INIT;
	struct strvec files = STRVEC_INIT, changed = STRVEC_INIT;
	struct lazy_changed lc = { 0 };
	struct job_result *res = NULL;
	struct sched_opts so;
	struct timespec t0, t1;
	const char *status;
	FILE *out = stdout;
	int ret = 2, pipeline_id, interrupted, has_plan = 0, listing = 0;
	struct jobrun_exec ex;
	char *images = NULL;
	struct lister lister = { .ret = 0, .err = STRBUF_INIT };
	pthread_t warmer;
	int warming = 0;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&o, 0, sizeof(o));
	strvec_init(&o.only);
	strvec_init(&o.manual);
	varlist_init(&o.vars);
	varlist_init(&o.inputs);
	memset(&plan, 0, sizeof(plan));
	if (parse_opts(argc, argv, &o) < 0)
		goto done;
	if (o.dir && chdir(o.dir) < 0) {
		fprintf(stderr, "cidre run: cannot change to %s: %s\n", o.dir, strerror(errno));
		goto done;
	}
	if (!o.list)
		proc_prewarm();
	/*
	 * The bwrap probe and the pool's hello (~1-2 ms) in a thread of their
	 * own, beside reading the repository: joined before the first
	 * sandbox is asked for.
	 */
	if (!o.list && o.executor && !strcmp(o.executor, "sandbox"))
		warming = !pthread_create(&warmer, NULL, warm_thread, NULL);
	if (gitinfo_read(".", &gi, &err) < 0) {
		fprintf(stderr, "cidre run: %s\n", err.buf);
		goto done;
	}
	strbuf_addf(&state, "%s/.cidre", gi.toplevel);
	strbuf_addf(&builds, "%s/builds", state.buf);
	lister.dir = gi.toplevel;
	lister.files = &files;
	if (!o.list && pthread_create(&lister.thread, NULL, list_files, &lister) == 0)
		listing = 1;

	memset(&lo, 0, sizeof(lo));
	lo.root = gi.toplevel;
	lo.file = o.file;
	memset(&po, 0, sizeof(po));
	po.builds_dir = builds.buf;
	po.file = o.file ? o.file : ".gitlab-ci.yml";
	po.source = o.source ? o.source : "push";
	po.runner = o.executor && !strcmp(o.executor, "sandbox") ?
		    "cidre run (sandbox executor)" : "cidre run (shell executor)";
	ci_predefined(&gi, &po, &pre);
	varlist_merge(&pre, &o.vars);
	lo.vars = &pre;
	lo.inputs = &o.inputs;
	lc.gi = &gi;
	lc.files = &changed;
	lo.changed = lazy_changed_get;
	lo.changed_ud = &lc;
	lo.changed_since = run_changed_since;
	lo.changed_since_ud = &gi;
	lo.project_file = cmd_project_file;
	lo.remote_file = fetch_url;
	if (pipeline_load(&lo, &p, &d) < 0) {
		struct strbuf msg = STRBUF_INIT;

		diag_sort(&d);
		diag_format(&d, &msg);
		fputs(msg.buf, stderr);
		strbuf_release(&msg);
		goto release_git;
	}
	if (d.nr) {
		/* warnings only: the load succeeded */
		struct strbuf msg = STRBUF_INIT;

		diag_sort(&d);
		diag_format(&d, &msg);
		fputs(msg.buf, stderr);
		strbuf_release(&msg);
		diag_clear(&d);
	}
	varlist_clear(&pre);
	state_dir_init(state.buf);
	pipeline_id = o.list ? 0 : next_counter(state.buf, "pipeline-id", 1);
	po.file = p->file;
	po.pipeline_id = pipeline_id;
	ci_predefined(&gi, &po, &pre);

	memset(&ctx, 0, sizeof(ctx));
	ctx.predefined = &pre;
	ctx.overrides = &o.vars;
	ctx.project_dir = gi.toplevel;
	ctx.changed = pipeline_uses_changes(p) ? lazy_changed_get(&lc) : NULL;
	ctx.changed_since = run_changed_since;
	ctx.changed_since_ud = &gi;
	ctx.only_jobs = o.only.nr ? &o.only : NULL;
	ctx.with_needs = o.with_needs;
	ctx.manual_jobs = &o.manual;
	ctx.all_manual = o.all_manual;
	if (plan_build(p, &ctx, &plan, &d) < 0) {
		struct strbuf msg = STRBUF_INIT;

		diag_format(&d, &msg);
		fputs(msg.buf, stderr);
		strbuf_release(&msg);
		goto release_git;
	}
	has_plan = 1;
	if (plan.only_pre_post)
		fprintf(stderr, "cidre run: only jobs of the .pre and .post stages would "
			"run, and GitLab creates no pipeline of those alone\n");
	if (o.list) {
		print_list(&plan);
		ret = 0;
		goto release_git;
	}
	if (plan.only_pre_post) {
		ret = 0;
		goto release_git;
	}
	if (plan.workflow_skip) {
		fprintf(stderr, "cidre run: workflow:rules decided not to run this pipeline\n");
		ret = 0;
		goto release_git;
	}
	if (o.json && !strcmp(o.json, "-"))
		out = stderr;
	if (o.colour < 0)
		o.colour = isatty(fileno(out));

	memset(&ex, 0, sizeof(ex));
	ex.executor = o.executor && !strcmp(o.executor, "sandbox") ?
		      JOBRUN_SANDBOX : JOBRUN_SHELL;
	images = image_store_absolute(o.images ? xstrdup(o.images) :
				      image_default_store());
	ex.image_store = images;
	ex.image_on_host = 1;
	ex.network = o.network;
	ex.pull_policy = o.pull;
	ex.uid = ex.gid = -1;
	/* one bwrap for every sandbox of the run (exec/pool.h) */
	ex.pool = !getenv("CIDRE_SANDBOX_POOL") ||
		  strcmp(getenv("CIDRE_SANDBOX_POOL"), "0");
	if (limits_parse(&o, &ex.limits) < 0) {
		ret = 2;
		goto release_git;
	}
	if (ex.executor == JOBRUN_SANDBOX && !sandbox_bwrap(&err)) {
		fprintf(stderr, "cidre run: --executor sandbox: %s\n", err.buf);
		ret = 2;
		goto release_git;
	}
	memset(&so, 0, sizeof(so));
	so.exec = &ex;
	so.project_dir = gi.toplevel;
	so.files = &files;
	so.state_dir = state.buf;
	so.ctx = &ctx;
	so.host_env = environ;
	so.max_parallel = o.jobs ? o.jobs : (int)ncpus();
	so.colour = o.colour;
	so.quiet = o.quiet;
	so.out = out;
	so.pipeline_id = pipeline_id;
	so.first_job_id = next_counter(state.buf, "job-id", (int)plan.nr);
	if (warming) {
		pthread_join(warmer, NULL);
		warming = 0;
	}
	/* the first jobs' sandboxes set up while the tree is listed */
	so.early = sched_prestart(&plan, &so);

	if (listing) {
		pthread_join(lister.thread, NULL);
		listing = 0;
	} else {
		lister.ret = workspace_list(gi.toplevel, &files, &lister.err);
	}
	if (lister.ret < 0) {
		fprintf(stderr, "cidre run: listing the working tree: %s\n", lister.err.buf);
		sched_early_discard(so.early);
		goto release_git;
	}
	res = xcalloc(plan.nr ? plan.nr : 1, sizeof(*res));
	if (plan.name && *plan.name && !o.quiet)
		fprintf(out, "pipeline #%d: %s\n", pipeline_id, plan.name);
	interrupted = sched_run(&plan, &so, res, &err);
	if (interrupted < 0) {
		fprintf(stderr, "cidre run: %s\n", err.buf);
		ret = 1;
		goto release_git;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	status = sched_pipeline_status(&plan, res, interrupted);
	print_summary(out, &plan, res, status, pipeline_id,
		      (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		      o.colour);
	if (o.json && write_json(o.json, &plan, res, status, pipeline_id,
				 (double)(t1.tv_sec - t0.tv_sec) +
				 (t1.tv_nsec - t0.tv_nsec) / 1e9, &gi) < 0)
		fprintf(stderr, "cidre run: cannot write JSON report to %s\n", o.json);
	if (interrupted)
		ret = 130;
	else
		ret = !strcmp(status, "success") || !strcmp(status, "skipped") ? 0 : 1;
	/* what an earlier run killed with -9 left, after the jobs: not on their path */
	cgroup_remove_stale_kept();
release_git:
	if (listing)
		pthread_join(lister.thread, NULL);
	strbuf_release(&lister.err);
	if (res)
		for (i = 0; i < plan.nr; i++)
			job_result_release(&res[i]);
	free(res);
	if (has_plan)
		plan_release(&plan);
	pipeline_free(p);
	gitinfo_release(&gi);
done:
	if (warming)
		pthread_join(warmer, NULL);
	proc_prewarm_finish();
	diag_clear(&d);
	varlist_clear(&pre);
	varlist_clear(&o.vars);
	varlist_clear(&o.inputs);
	strvec_clear(&o.only);
	strvec_clear(&o.manual);
	strvec_clear(&files);
	strvec_clear(&changed);
	strbuf_release(&err);
	strbuf_release(&state);
	strbuf_release(&builds);
	free(images);
	return ret;
}
