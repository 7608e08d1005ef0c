/*
 * libFuzzer target: the streaming ZIP reader (src/util/zipr.c) on
 * arbitrary archives. The first byte is the size of the pieces the rest
 * is fed in (1..256); an entry without a size in its header is taken to
 * have as many bytes as its name (the caller's listing, here). Checks,
 * besides no crash or leak: an entry's data never exceeds its size, its
 * end comes after exactly that many bytes, callbacks come in order, and
 * a finished archive had every entry ended.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/zipr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int in_entry;
	uint64_t want, got;
};

static int on_entry(void *ctx, const struct zipr_entry *e, uint64_t *size)
{
	struct seen *s = ctx;

	if (s->in_entry || strlen(e->name) != e->name_len || !e->name_len)
		abort();
	s->in_entry = 1;
	s->want = e->has_size ? e->size : e->name_len;
	s->got = 0;
	*size = e->name_len;
	return 0;
}

static int on_data(void *ctx, const char *buf, size_t len)
{
	struct seen *s = ctx;

	if (!s->in_entry || !len)
		abort();
	s->got += len;
	if (s->got > s->want)
		abort();
	return 0;
}

static int on_done(void *ctx, const struct zipr_entry *e)
{
	struct seen *s = ctx;

	if (!s->in_entry || s->got != s->want || e->size != s->want)
		abort();
	s->in_entry = 0;
	return 0;
}

static const struct zipr_ops ops = { on_entry, on_data, on_done };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0, 0, 0 };
	struct zipr *z;
	size_t step, off;
	int rc = 0;

	if (!size)
		return 0;
	step = (size_t)data[0] + 1;
	data++;
	size--;
	z = malloc(sizeof(*z));
	if (!z)
		return 0;
	zipr_init(z, &ops, &s);
	for (off = 0; off < size && !rc; off += step)
		rc = zipr_feed(z, (const char *)data + off, size - off < step ? size - off : step);
	if (!rc && zipr_finish(z) == 0 && s.in_entry)
		abort();
	if (rc && rc != ZIPR_EFORMAT)
		abort();
	if (rc && !strlen(zipr_error(z)))
		abort();
	zipr_release(z);
	free(z);
	return 0;
}
