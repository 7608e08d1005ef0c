/*
 * libFuzzer target for the pipeline loader: the input becomes the
 * pipeline file of an otherwise empty repository and is loaded, resolved
 * and checked; each job of what loads is loaded again alone from its cut
 * and must be the same job; and the input is read as a cut too. Must
 * never crash, hang or leak, whatever the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/model.h"
#include "util/strbuf.h"
#include "util/strvec.h"

/* The scratch directory, made once per fuzzing process. */
static char *root;

/* At the fuzzer's exit: the scratch directory and its one file go. */
static void scratch_remove(void)
{
	struct strbuf path = STRBUF_INIT;

	strbuf_addf(&path, "%s/.gitlab-ci.yml", root);
	unlink(path.buf);
	rmdir(root);
	strbuf_release(&path);
}

static const char *scratch_root(void)
{
	char tmpl[] = "/tmp/fuzz-load.XXXXXX";

	if (!root) {
		if (!mkdtemp(tmpl))
			abort();
		root = strdup(tmpl);
		if (!root)
			abort();
		atexit(scratch_remove);
	}
	return root;
}

/*
 * Every job of a pipeline that loaded loads alone from its cut, as the
 * same job (the server's supervisors rely on it).
 */
static void check_cuts(const struct load_opts *o, const struct pipeline *p)
{
	size_t i, k;

	for (i = 0; i < p->jobs_nr; i++) {
		const struct job *w = p->jobs[i];
		struct diag d = DIAG_INIT;
		struct load_opts co = *o;
		struct pipeline *one = NULL;

		co.file = p->file;
		if (!w->cut || pipeline_load_cut(&co, p->cut_globals, w->cut, &one, &d) < 0)
			abort();
		if (one->jobs_nr != 1 || strcmp(one->jobs[0]->name, w->name) ||
		    strcmp(one->jobs[0]->stage, w->stage) ||
		    one->jobs[0]->script.nr != w->script.nr ||
		    one->jobs[0]->variables.nr != w->variables.nr ||
		    one->jobs[0]->when != w->when || one->stages.nr != p->stages.nr)
			abort();
		for (k = 0; k < w->script.nr; k++)
			if (strcmp(one->jobs[0]->script.v[k], w->script.v[k]))
				abort();
		pipeline_free(one);
		diag_clear(&d);
	}
}

/* include:rules:changes sees a push's files: the globs are matched */
static const struct strvec *changed_files(void *ud)
{
	static struct strvec files = STRVEC_INIT;

	(void)ud;
	if (!files.nr) {
		strvec_push(&files, ".gitlab-ci.yml");
		strvec_push(&files, "docs/guide/a.md");
		strvec_push(&files, "src/{a}.c");
	}
	return &files;
}

/*
 * include:project: project "self" holds the input itself at every path
 * (nesting runs into the limits), any other project a small template
 * with a local include of its own, and no file "missing.yml".
 */
static const uint8_t *input;
static size_t input_size;

static int project_file(void *ud, const char *project, const char *ref, const char *file,
			size_t max, struct strbuf *out, struct strbuf *err)
{
	(void)ud;
	(void)ref;
	if (!strcmp(file, "missing.yml")) {
		strbuf_addstr(err, "no such file");
		return -1;
	}
	if (!strcmp(project, "self")) {
		if (input_size > max || memchr(input, 0, input_size)) {
			strbuf_addstr(err, "too large");
			return -1;
		}
		strbuf_add(out, input, input_size);
		return 0;
	}
	if (!strcmp(file, "l.yml"))
		strbuf_addstr(out, ".tmpl: {variables: {T: \"1\"}}\n");
	else
		strbuf_addstr(out, "include: [{local: l.yml}]\ntmpl-job: {extends: .tmpl, "
			      "script: [x]}\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf path = STRBUF_INIT;
	struct load_opts o;
	struct diag d = DIAG_INIT;
	struct pipeline *p = NULL;
	FILE *f;

	strbuf_addf(&path, "%s/.gitlab-ci.yml", scratch_root());
	f = fopen(path.buf, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);

	memset(&o, 0, sizeof(o));
	o.root = scratch_root();
	o.cut = 1;
	/* half the inputs with a push's files, half without */
	if (size && (data[0] & 1))
		o.changed = changed_files;
	/* and half with other projects to include */
	input = data;
	input_size = size;
	if (size && (data[0] & 2))
		o.project_file = project_file;
	if (!pipeline_load(&o, &p, &d)) {
		check_cuts(&o, p);
		pipeline_free(p);
	}
	diag_clear(&d);
	/* the input as a cut itself: an error or a pipeline, never a crash */
	if (memchr(data, 0, size) == NULL) {
		char *text = strndup((const char *)data, size);

		if (!text)
			abort();
		p = NULL;
		if (!pipeline_load_cut(&o, "M0:", text, &p, &d))
			pipeline_free(p);
		diag_clear(&d);
		free(text);
	}
	strbuf_release(&path);
	return 0;
}
