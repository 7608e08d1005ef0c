#ifndef CIDRE_DIAG_H
#define CIDRE_DIAG_H

#include <stddef.h>

#include "util/strbuf.h"

/*
 * Diagnostics: an ordered list of located messages, printed as
 *   file:line:col: error: message
 * Library code adds to a struct diag instead of printing; the command
 * prints it once. Positions are 1-based; line 0 means "the file itself".
 */
struct pos {
	const char *file; /* interned: owned by the pipeline / loader, never freed here */
	int line;
	int col;
};

enum diag_level { DIAG_ERROR, DIAG_WARNING };

struct diag_entry {
	enum diag_level level;
	struct pos pos;
	char *file; /* private copy of pos.file for printing */
	char *msg;
	size_t seq; /* insertion order, for a stable sort */
};

struct diag {
	struct diag_entry *e;
	size_t nr, alloc;
	size_t errors;
	size_t max; /* stop recording after this many entries (0 = 1000) */
};

#define DIAG_INIT { NULL, 0, 0, 0, 0 }

void diag_init(struct diag *d);
void diag_clear(struct diag *d);
void diag_error(struct diag *d, const struct pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *d, const struct pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Append "file:line:col: error: msg\n" for each entry. */
void diag_format(const struct diag *d, struct strbuf *out);
/*
 * Sort entries by file, line, column (stable), dropping an entry equal to
 * an earlier one (same place, level and message).
 */
void diag_sort(struct diag *d);

#endif
