/*
 * A file over HTTP(S), for include:remote: see fetch.h. curl does the
 * transfer (TLS, proxies, redirects): our static binaries have no TLS of
 * their own, and curl is where the machine's CA certificates and proxy
 * settings already work.
 */
#include "exec/fetch.h"

#include <stdio.h>
#include <string.h>

#include "exec/proc.h"

int fetch_url(void *ud, const char *url, size_t max, struct strbuf *out,
	      struct strbuf *err)
{
	char maxs[32], tmo[16];
	const char *argv[] = {
		"curl", "-sS", "-f", "-L", "--proto", "=http,https", "--proto-redir",
		"=http,https", "--max-redirs", "5", "--max-time", tmo, "--max-filesize",
		maxs, "--", url, NULL,
	};
	struct strbuf cerr = STRBUF_INIT;
	int status = -1;

	(void)ud;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		strbuf_addstr(err, "only http:// and https:// URLs can be included");
		return -1;
	}
	snprintf(maxs, sizeof(maxs), "%zu", max);
	snprintf(tmo, sizeof(tmo), "%d", FETCH_TIMEOUT);
	if (proc_capture(argv, NULL, NULL, max, out, &status, &cerr) < 0) {
		strbuf_rtrim(&cerr);
		if (strstr(cerr.buf, "No such file") || strstr(cerr.buf, "not found"))
			strbuf_addstr(err, "curl is needed to include remote files, and it "
				      "is not installed");
		else
			strbuf_addf(err, "%s", cerr.len ? cerr.buf : "cannot run curl");
		strbuf_release(&cerr);
		return -1;
	}
	if (status) {
		strbuf_rtrim(&cerr);
		/* curl: (22) The requested URL returned error: 404 */
		strbuf_addf(err, "%s", cerr.len ? cerr.buf : "the transfer failed");
		if (status == 63)
			strbuf_addf(err, " (larger than %zu bytes)", max);
		strbuf_release(&cerr);
		return -1;
	}
	strbuf_release(&cerr);
	return 0;
}
