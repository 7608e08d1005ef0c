#ifndef CIDRE_WEB_H
#define CIDRE_WEB_H

/*
 * The web UI: server-rendered pages, served by cidre server beside the
 * API (the server's route table is the API's routes, then these).
 * See docs/internals/web.md.
 */

#include <stddef.h>

#include "http/http.h"

extern const struct http_route web_routes[];
extern const size_t web_routes_nr;

#endif
