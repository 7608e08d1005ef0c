/* The web UI's routes (web.h). */
#include "server/server.h"
#include "web/web.h"

static int h_root(struct http_request *req, void *ud)
{
	static const char page[] =
		"<!doctype html><html><head><meta charset=\"utf-8\"><title>cidre</title></head>"
		"<body><h1>cidre</h1><p>The API is under <a href=\"/api/v1/pipelines\">"
		"/api/v1</a>; metrics at <a href=\"/metrics\">/metrics</a>.</p></body></html>\n";

	return http_respond_data(req, 200, "text/html; charset=utf-8", page, sizeof(page) - 1);
}

const struct http_route web_routes[] = {
	{ "GET", "/", h_root },
};
const size_t web_routes_nr = sizeof(web_routes) / sizeof(web_routes[0]);
