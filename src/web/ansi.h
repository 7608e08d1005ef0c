#ifndef CIDRE_ANSI_H
#define CIDRE_ANSI_H

/*
 * A job log rendered as HTML, fed in chunks of any size (a 50 MB log is
 * read in bounded pieces and never held whole).
 *
 *  - one <span class="l" id="LN"> per line (its newline inside), with a
 *    link to its anchor #LN;
 *  - SGR escapes (ESC [ ... m: bold, italic, underline, 8/16, 256 and
 *    24-bit colours) become <span>s with classes or a colour the server
 *    computed; every other escape sequence (cursor movement, OSC titles
 *    and hyperlinks, ...) and control character is dropped;
 *  - a carriage return inside a line keeps what follows it (progress bars);
 *  - GitLab's section markers, "section_start:TIME:NAME[collapsed=true]\r\e[0K"
 *    and "section_end:TIME:NAME\r\e[0K", open and close <details>
 *    sections (at most ANSI_MAX_DEPTH nested; deeper ones are plain lines);
 *  - text is HTML-escaped and invalid UTF-8 becomes U+FFFD.
 * A line longer than ANSI_MAX_LINE bytes is cut into several.
 */

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

#define ANSI_MAX_LINE  65536
#define ANSI_MAX_DEPTH 16
#define ANSI_MAX_NAME  64

struct ansi_sgr {
	int fg, bg;              /* -1 default, 0..15 a palette class, 16+: rgb below */
	uint32_t fg_rgb, bg_rgb;
	unsigned bold : 1, dim : 1, italic : 1, underline : 1, inverse : 1;
};

struct ansi {
	struct ansi_sgr sgr;     /* the colours in effect (they carry across lines) */
	struct strbuf line;      /* the current line's bytes, not yet rendered */
	uint64_t lineno;         /* lines rendered */
	int depth;               /* open sections */
	char names[ANSI_MAX_DEPTH][ANSI_MAX_NAME + 1];
};

void ansi_init(struct ansi *a);
void ansi_release(struct ansi *a);
/* Render every complete line of the n bytes at s into out (the rest waits). */
void ansi_feed(struct ansi *a, const char *s, size_t n, struct strbuf *out);
/* Render the last, unterminated line, if any (open sections stay open). */
void ansi_flush(struct ansi *a, struct strbuf *out);
/* Close the open sections. */
void ansi_close(struct ansi *a, struct strbuf *out);

#endif
