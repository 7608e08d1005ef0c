#ifndef CIDRE_EXEC_FETCH_H
#define CIDRE_EXEC_FETCH_H

#include <stddef.h>

#include "util/strbuf.h"

/*
 * GET url (http or https only) into out, at most max bytes, with curl
 * (following redirects within those schemes, FETCH_TIMEOUT seconds in
 * all). 0, or -1 with the reason in err: curl missing, an HTTP error,
 * too large, too slow, a bad scheme. The signature of
 * load_opts.remote_file (ud unused).
 */
#define FETCH_TIMEOUT 10
int fetch_url(void *ud, const char *url, size_t max, struct strbuf *out,
	      struct strbuf *err);

#endif
