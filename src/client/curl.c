/*
 * The API client's libcurl transport: https:// and host names. Linked
 * into cidre-client only (see xfer.h and docs/internals/client.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client/xfer.h"
#include "util/xalloc.h"

static int ready;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ((void **)ud)[0];
	CURL *h = ((void **)ud)[1];
	size_t n = size * nmemb;

	if (!x->status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	return xfer_body(x, ptr, n) ? 0 : n;
}

int xfer_curl(struct xfer *x)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	void *ud[2];
	CURLcode res;
	CURL *h;
	size_t i;

	if (!ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(x->errbuf, sizeof(x->errbuf), "cannot initialise libcurl");
			return -1;
		}
		ready = 1;
	}
	h = curl_easy_init();
	if (!h) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot initialise libcurl");
		return -1;
	}
	ud[0] = x;
	ud[1] = h;
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, x->connect_timeout);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "cidre/" CIDRE_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ud);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (strcmp(x->method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
	for (i = 0; i < x->nr_headers; i++)
		headers = curl_slist_append(headers, x->headers[i]);
	if (headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (x->payload) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->payload);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->payload_len);
	}
	if (x->timeout)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, x->timeout);
	if (x->stall_timeout) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, x->stall_timeout);
	}
	res = curl_easy_perform(h);
	if (!x->status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status >= 300 && x->status < 400) {
		char *loc = NULL;

		if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			x->location = xstrdup(loc);
	}
	if (res != CURLE_OK && !x->sink_failed && !x->too_big)
		snprintf(x->errbuf, sizeof(x->errbuf), "%s",
			 errbuf[0] ? errbuf : curl_easy_strerror(res));
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return res == CURLE_OK ? 0 : -1;
}

void xfer_curl_cleanup(void)
{
	if (ready) {
		curl_global_cleanup();
		ready = 0;
	}
}
