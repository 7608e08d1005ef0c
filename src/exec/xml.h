#ifndef CIDRE_XML_H
#define CIDRE_XML_H

/*
 * A small, strict, bounded XML 1.0 pull reader: the subset cidre needs to
 * read JUnit reports, without libxml2.
 *
 * Non-validating, no namespace processing (a prefixed name is just a name
 * with a colon), no DTD: a DOCTYPE is refused, so the only entities are the
 * five predefined ones and character references, both decoded to UTF-8.
 * Comments, processing instructions and the XML declaration are checked
 * and skipped. Input must be UTF-8 (an optional BOM is skipped) or declare
 * US-ASCII or ISO-8859-1 (converted to UTF-8 first).
 *
 * Well-formedness is checked as the document is read: matching end tags,
 * quoted attribute values without '<', no duplicate attributes, exactly one
 * root element, only white space outside it, valid UTF-8 and XML Chars,
 * no "]]>" in text. The first error ends the document: xml_next() returns
 * -1 with "LINE:COLUMN: message" (both 1-based, the column counted in
 * characters) appended to err, and -1 on every later call.
 *
 * Limits: XML_MAX_DEPTH open elements, XML_MAX_ATTRS attributes on one
 * element, XML_MAX_NAME bytes in a name. The caller bounds the input size.
 *
 * Line ends are normalised (CR LF and lone CR become LF); in attribute
 * values tab, CR and LF become a space (XML's CDATA-attribute rule).
 */

#include <stddef.h>

#include "util/strbuf.h"

#define XML_MAX_DEPTH 256
#define XML_MAX_ATTRS 256
#define XML_MAX_NAME 1024

enum xml_event {
	XML_EOF = 0,   /* end of a well-formed document */
	XML_START,     /* start tag or empty-element tag: name, attrs */
	XML_END,       /* end tag; an empty-element tag yields START then END */
	XML_TEXT,      /* character data, or one CDATA section: text */
};

struct xml_attr_pos;

struct xml_attr {
	const char *name;
	const char *value;       /* decoded, NUL-terminated */
	size_t value_len;
};

struct xml_reader {
	/*
	 * The current event, valid until the next xml_next() or
	 * xml_reader_release(). depth is 1 for the root element; for
	 * XML_TEXT it is the depth of the enclosing element.
	 */
	const char *name;
	const struct xml_attr *attrs;
	size_t nattrs;
	const char *text;        /* decoded, NUL-terminated */
	size_t text_len;
	int text_cut;            /* 1 when text_max dropped part of the text */
	size_t depth;

	/*
	 * Set by the caller at any time: keep at most this many bytes of
	 * the next XML_TEXT events (cut on a character boundary; the rest
	 * is still checked). 0 skips decoding. Default: no limit.
	 */
	size_t text_max;

	/* private */
	const char *buf;
	size_t len, pos, start, open;
	int state, pending_end;
	struct strbuf tag;       /* current tag: name, attribute names, values */
	struct strbuf txt;       /* current text */
	struct strbuf stack;     /* open element names, each NUL-terminated */
	struct strbuf conv;      /* the input converted to UTF-8, if it was not */
	size_t *stack_name, *stack_pos;
	struct xml_attr *attr_v;
	struct xml_attr_pos *attr_pos;
	unsigned short hash[2 * XML_MAX_ATTRS];
};

/*
 * Start reading the len bytes at buf, which must stay valid and unchanged
 * until xml_reader_release(). Never fails.
 */
void xml_reader_init(struct xml_reader *x, const char *buf, size_t len);

/* Free what the reader allocated; x may then be initialised again. */
void xml_reader_release(struct xml_reader *x);

/*
 * Read the next event. Returns an enum xml_event (XML_EOF once the whole
 * document has been read and found well-formed), or -1 with
 * "LINE:COLUMN: message" appended to err.
 */
int xml_next(struct xml_reader *x, struct strbuf *err);

/*
 * The value of attribute name on the current XML_START event, or NULL if
 * the element has none.
 */
const char *xml_attr(const struct xml_reader *x, const char *name);

#endif
