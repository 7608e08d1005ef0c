/*
 * libFuzzer target for the pipeline loader: the input becomes the
 * pipeline file of an otherwise empty repository and is loaded, resolved
 * and checked. Must never crash, hang or leak, whatever the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline/model.h"
#include "util/strbuf.h"

/* The scratch directory, made once per fuzzing process. */
static char *root;

static const char *scratch_root(void)
{
	char tmpl[] = "/tmp/fuzz-load.XXXXXX";

	if (!root) {
		if (!mkdtemp(tmpl))
			abort();
		root = strdup(tmpl);
		if (!root)
			abort();
	}
	return root;
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
	if (!pipeline_load(&o, &p, &d))
		pipeline_free(p);
	diag_clear(&d);
	strbuf_release(&path);
	return 0;
}
