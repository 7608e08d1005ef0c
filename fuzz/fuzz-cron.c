/*
 * libFuzzer target for cron expressions and TZif files. Input: a cron
 * expression; if it holds a NUL byte, the bytes after it are a TZif
 * file to compute next times in (else UTC and Europe/Paris's are used
 * when present). Every parsed expression must have a next time later
 * than the one before, whatever the zone. Must never crash, hang or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/cron.h"
#include "util/strbuf.h"
#include "util/tz.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	struct strbuf err = STRBUF_INIT;
	struct tz *tz = NULL;
	struct cron c;
	char *expr = xstrndup((const char *)data, elen);

	if (nul) {
		if (tz_parse(nul + 1, size - elen - 1, &tz, &err) < 0)
			tz = NULL;
		strbuf_reset(&err);
	}
	if (!tz && tz_load("Europe/Paris", &tz, &err) < 0)
		tz = tz_utc();
	if (cron_parse(expr, &c, &err) == 0) {
		int64_t t = 1764288000, next, i;	/* 2025-11-28 */

		(void)cron_min_interval(&c);
		for (i = 0; i < 3; i++) {
			if (cron_next(&c, t, tz, &next) < 0)
				break;
			if (next <= t)
				abort();
			t = next;
		}
	}
	tz_free(tz);
	free(expr);
	strbuf_release(&err);
	return 0;
}
