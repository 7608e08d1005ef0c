/*
 * cidre lint: load and validate a pipeline file, report every error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "exec/fetch.h"
#include "pipeline/model.h"
#include "util/strbuf.h"
#include "util/suggest.h"

const char cmd_lint_usage[] =
	"usage: cidre lint [--file PATH] [-C DIR] [--json]\n"
	"\n"
	"Load the pipeline (.cidre.yml, else .gitlab-ci.yml), resolve include,\n"
	"extends, !reference and default:, and check every keyword. Prints every\n"
	"error found, sorted by position, as\n"
	"  file:line:col: error: message\n"
	"\n"
	"options:\n"
	"  -C DIR             act as if cidre was started in DIR (the repository root)\n"
	"  -f, --file PATH    pipeline file, relative to the root (default:\n"
	"                     .cidre.yml, else .gitlab-ci.yml)\n"
	"      --json         print a JSON object {valid, file, errors, jobs, stages}\n"
	"                     on standard output instead\n"
	"\n"
	"include:rules:if is evaluated with no variables defined.\n"
	"\n"
	"exit status: 0 the pipeline is valid, 2 it is not (or cannot be read),\n"
	"129 usage error.\n";

struct lint_opts {
	const char *dir;
	const char *file;
	int json;
};

static int parse_opts(int argc, char **argv, struct lint_opts *o)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+C:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->dir = optarg;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'J':
			o->json = 1;
			break;
		default:
		{
			const char *best = suggest_long_option(argv[optind - 1], longopts);

			fprintf(stderr, "cidre lint: unknown or incomplete option '%s'%s%s%s\n",
				argv[optind - 1], best ? "; did you mean '--" : "",
				best ? best : "", best ? "'?" : "");
			return -1;
		}
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cidre lint: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* The entries of d at level, as [{file, line, column, message}]. */
static json_t *json_diags(const struct diag *d, enum diag_level level)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < d->nr; i++) {
		const struct diag_entry *e = &d->e[i];

		if (e->level != level)
			continue;
		json_array_append_new(arr, json_pack("{s:s?, s:i, s:i, s:s}",
			"file", e->file, "line", e->pos.line,
			"column", e->pos.col, "message", e->msg));
	}
	return arr;
}

static json_t *json_jobs(const struct pipeline *p)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; p && i < p->jobs_nr; i++) {
		const struct job *j = p->jobs[i];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
			"name", j->name, "stage", j->stage,
			"when", when_name(j->has_when ? j->when : WHEN_ON_SUCCESS)));
	}
	return arr;
}

static json_t *json_stages(const struct pipeline *p)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; p && i < p->stages.nr; i++)
		json_array_append_new(arr, json_string(p->stages.v[i]));
	return arr;
}

static size_t user_stages(const struct pipeline *p)
{
	/* .pre and .post are always there; count the ones the user has */
	return p->stages.nr >= 2 ? p->stages.nr - 2 : p->stages.nr;
}

int cmd_lint(int argc, char **argv)
{
	struct lint_opts o = { NULL, NULL, 0 };
	struct load_opts lo;
	struct varlist vars = VARLIST_INIT;
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	struct strbuf out = STRBUF_INIT;
	int ret;

	if (parse_opts(argc, argv, &o)) {
		fputs(cmd_lint_usage, stderr);
		return 129;
	}
	memset(&lo, 0, sizeof(lo));
	lo.root = o.dir ? o.dir : ".";
	lo.file = o.file;
	lo.vars = &vars;
	lo.vars_partial = 1; /* no ref, no pipeline: see docs/lint.md */
	lo.project_file = cmd_project_file;
	lo.remote_file = fetch_url;
	ret = pipeline_load(&lo, &p, &d) ? 2 : 0;
	diag_sort(&d);

	if (o.json) {
		json_t *obj = json_pack("{s:b, s:s, s:o, s:o, s:o, s:o}",
			"valid", ret == 0,
			"file", p ? p->file : (o.file ? o.file : ""),
			"errors", json_diags(&d, DIAG_ERROR),
			"warnings", json_diags(&d, DIAG_WARNING),
			"jobs", json_jobs(p),
			"stages", json_stages(p));
		char *s = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;

		if (s) {
			puts(s);
			free(s);
		}
		json_decref(obj);
	} else if (ret) {
		diag_format(&d, &out);
		fputs(out.buf, stderr);
	} else {
		/* warnings: what GitLab accepts silently but is likely a slip */
		diag_format(&d, &out);
		fputs(out.buf, stderr);
		printf("%s: pipeline is valid (%zu job%s, %zu stage%s)\n", p->file,
		       p->jobs_nr, p->jobs_nr == 1 ? "" : "s", user_stages(p),
		       user_stages(p) == 1 ? "" : "s");
	}
	strbuf_release(&out);
	pipeline_free(p);
	diag_clear(&d);
	varlist_clear(&vars);
	return ret;
}
