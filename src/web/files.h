#ifndef CIDRE_WEB_FILES_H
#define CIDRE_WEB_FILES_H

/*
 * The web UI's templates and static files, embedded into the server at
 * build time (scripts/embed.sh writes BUILD/gen/web_files.c from
 * src/web/templates/ and src/web/static/).
 */

#include <stddef.h>

struct web_file {
	const char *name;       /* "templates/job.html", "static/cidre.css" */
	const char *data;       /* NUL-terminated text */
	size_t len;             /* 0 in the table: web_file_get() measures */
};

extern const struct web_file web_files[];
extern const size_t web_files_nr;

/* The file's text (static storage), or NULL; *len its length when not NULL. */
const char *web_file_get(const char *name, size_t *len);

#endif
