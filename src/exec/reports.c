/*
 * Job reports: JUnit XML (libxml2), dotenv, coverage regex. See reports.h.
 */
#include "exec/reports.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "util/xalloc.h"

#define JUNIT_DEFAULT_MAX (30u << 20)
#define JUNIT_MESSAGE_MAX 4096
#define DOTENV_MAX_BYTES 5120
#define DOTENV_MAX_VARS 20

/* --- JUnit --------------------------------------------------------------- */

void junit_report_init(struct junit_report *r)
{
	memset(r, 0, sizeof(*r));
}

void junit_report_clear(struct junit_report *r)
{
	size_t i;

	for (i = 0; i < r->nr; i++) {
		free(r->cases[i].suite);
		free(r->cases[i].classname);
		free(r->cases[i].name);
		free(r->cases[i].message);
	}
	free(r->cases);
	junit_report_init(r);
}

/* libxml2 must never print: errors are read from the parser context. */
static void xml_silent_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static void xml_silent_generic(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* Cut sb to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_truncate(struct strbuf *sb, size_t max)
{
	size_t n = max;

	if (sb->len <= max)
		return;
	while (n && ((unsigned char)sb->buf[n] & 0xc0) == 0x80)
		n--;
	strbuf_setlen(sb, n);
}

/* Text and CDATA below node (entity references skipped), capped. */
static void add_text(struct strbuf *sb, xmlNodePtr node, size_t cap)
{
	xmlNodePtr c;

	for (c = node->children; c && sb->len <= cap; c = c->next) {
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    c->content)
			strbuf_addstr(sb, (const char *)c->content);
		else if (c->type == XML_ELEMENT_NODE)
			add_text(sb, c, cap);
	}
}

static char *attr_dup(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

static double attr_time(xmlNodePtr n)
{
	char *s = attr_dup(n, "time"), *end;
	double t = 0;

	if (s) {
		t = strtod(s, &end);
		if (end == s || !isfinite(t) || t < 0)
			t = 0;
		free(s);
	}
	return t;
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

static void add_case(struct junit_report *r, xmlNodePtr tc, const char *suite)
{
	struct junit_case *jc;
	xmlNodePtr c;

	ALLOC_GROW(r->cases, r->nr + 1, r->alloc);
	jc = &r->cases[r->nr++];
	memset(jc, 0, sizeof(*jc));
	jc->suite = xstrdup(suite ? suite : "");
	jc->classname = attr_dup(tc, "classname");
	if (!jc->classname)
		jc->classname = xstrdup("");
	jc->name = attr_dup(tc, "name");
	if (!jc->name)
		jc->name = xstrdup("");
	jc->time = attr_time(tc);
	jc->status = JUNIT_PASSED;

	for (c = tc->children; c; c = c->next) {
		enum junit_status st;
		struct strbuf msg = STRBUF_INIT, text = STRBUF_INIT;
		char *m;

		if (is_elem(c, "failure"))
			st = JUNIT_FAILED;
		else if (is_elem(c, "error"))
			st = JUNIT_ERROR;
		else if (is_elem(c, "skipped"))
			st = JUNIT_SKIPPED;
		else
			continue;
		/* failure/error outrank skipped; the first of a kind wins */
		if (jc->status != JUNIT_PASSED &&
		    !(jc->status == JUNIT_SKIPPED && st != JUNIT_SKIPPED))
			continue;
		jc->status = st;
		m = attr_dup(c, "message");
		if (m)
			strbuf_addstr(&msg, m);
		add_text(&text, c, JUNIT_MESSAGE_MAX);
		strbuf_rtrim(&text);
		if (text.len && (!m || strcmp(m, text.buf))) {
			if (msg.len)
				strbuf_addstr(&msg, "\n\n");
			strbuf_add(&msg, text.buf, text.len);
		}
		free(m);
		utf8_truncate(&msg, JUNIT_MESSAGE_MAX);
		free(jc->message);
		jc->message = msg.len ? strbuf_detach(&msg, NULL) : NULL;
		strbuf_release(&msg);
		strbuf_release(&text);
	}
	r->tests++;
	r->time += jc->time;
	switch (jc->status) {
	case JUNIT_PASSED: r->passed++; break;
	case JUNIT_FAILED: r->failed++; break;
	case JUNIT_ERROR: r->errors++; break;
	case JUNIT_SKIPPED: r->skipped++; break;
	}
}

static void walk_suite(struct junit_report *r, xmlNodePtr n, const char *suite)
{
	xmlNodePtr c;

	if (is_elem(n, "testcase")) {
		add_case(r, n, suite);
		return;
	}
	for (c = n->children; c; c = c->next) {
		if (is_elem(c, "testsuite")) {
			char *name = attr_dup(c, "name");

			walk_suite(r, c, name ? name : suite);
			free(name);
		} else if (is_elem(c, "testsuites")) {
			walk_suite(r, c, suite);
		} else if (is_elem(c, "testcase")) {
			add_case(r, c, suite);
		}
	}
}

int junit_parse_file(const char *path, struct junit_report *r, size_t max,
		     struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root;
	struct stat st;
	int ret = -1;

	if (!max)
		max = JUNIT_DEFAULT_MAX;
	if (stat(path, &st) < 0) {
		strbuf_addf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		strbuf_addf(err, "%s: %s", path, S_ISREG(st.st_mode) ?
			    "report too large" : "not a regular file");
		return -1;
	}
	if (strbuf_read_file(&buf, path, max) < 0) {
		strbuf_addf(err, "%s: %s", path, errno == EFBIG ?
			    "report too large" : strerror(errno));
		goto done;
	}
	if (buf.len > max || buf.len > (size_t)0x7fffffff) {
		strbuf_addf(err, "%s: report too large", path);
		goto done;
	}
	pthread_once(&xml_once, xml_init);
	/* Per-thread in libxml2: keeps this thread's parses quiet. */
	xmlSetStructuredErrorFunc(NULL, xml_silent_structured);
	xmlSetGenericErrorFunc(NULL, xml_silent_generic);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		xdie("out of memory");
	doc = xmlCtxtReadMemory(ctxt, buf.buf, (int)buf.len, path, NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR |
				XML_PARSE_NOWARNING);
	if (!doc) {
		xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
		struct strbuf m = STRBUF_INIT;

		strbuf_addstr(&m, e && e->message ? e->message : "not well-formed XML");
		strbuf_rtrim(&m);
		strbuf_addf(err, "%s:%d: %s", path, e ? e->line : 0, m.buf);
		strbuf_release(&m);
		goto done;
	}
	if (doc->intSubset || doc->extSubset) {
		strbuf_addf(err, "%s: DOCTYPE declarations are not allowed in JUnit reports",
			    path);
		goto done;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || (!is_elem(root, "testsuites") && !is_elem(root, "testsuite") &&
		      !is_elem(root, "testcase"))) {
		strbuf_addf(err, "%s: not a JUnit report (root element <%s>)", path,
			    root ? (const char *)root->name : "none");
		goto done;
	}
	if (is_elem(root, "testsuite")) {
		char *name = attr_dup(root, "name");

		walk_suite(r, root, name);
		free(name);
	} else {
		walk_suite(r, root, NULL);
	}
	ret = 0;
done:
	if (doc)
		xmlFreeDoc(doc);
	if (ctxt)
		xmlFreeParserCtxt(ctxt);
	strbuf_release(&buf);
	return ret;
}

/* --- dotenv -------------------------------------------------------------- */

static int name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
		      (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (i = 1; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int dotenv_parse_file(const char *path, struct varlist *out, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct varlist vl = VARLIST_INIT;
	const char *p, *end;
	int line = 0, ret = -1;
	size_t i;

	if (strbuf_read_file(&buf, path, DOTENV_MAX_BYTES) < 0) {
		if (errno == EFBIG)
			strbuf_addf(err, "%s: dotenv report larger than %d bytes",
				    path, DOTENV_MAX_BYTES);
		else
			strbuf_addf(err, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (buf.len > DOTENV_MAX_BYTES) {
		strbuf_addf(err, "%s: dotenv report larger than %d bytes", path,
			    DOTENV_MAX_BYTES);
		goto done;
	}
	if (memchr(buf.buf, '\0', buf.len)) {
		strbuf_addf(err, "%s: dotenv report contains a NUL byte", path);
		goto done;
	}
	for (p = buf.buf, end = buf.buf + buf.len; p < end; ) {
		const char *nl = memchr(p, '\n', end - p);
		const char *le = nl ? nl : end, *ks, *ke, *vs, *ve, *eq;

		line++;
		ks = p;
		p = nl ? nl + 1 : end;
		while (ks < le && is_blank(*ks))
			ks++;
		ve = le;
		while (ve > ks && is_blank(ve[-1]))
			ve--;
		if (ks == ve || *ks == '#')
			continue;
		eq = memchr(ks, '=', ve - ks);
		if (!eq) {
			strbuf_addf(err, "%s:%d: invalid line (expected KEY=VALUE)",
				    path, line);
			goto done;
		}
		ke = eq;
		while (ke > ks && is_blank(ke[-1]))
			ke--;
		if (!name_ok(ks, ke - ks)) {
			strbuf_addf(err, "%s:%d: invalid variable name '%.*s'",
				    path, line, (int)(ke - ks), ks);
			goto done;
		}
		vs = eq + 1;
		while (vs < ve && is_blank(*vs))
			vs++;
		if (ve - vs >= 2 && (*vs == '"' || *vs == '\'') && ve[-1] == *vs) {
			vs++;
			ve--;
		}
		{
			char *k = xstrndup(ks, ke - ks), *v = xstrndup(vs, ve - vs);

			varlist_set(&vl, k, v);
			free(k);
			free(v);
		}
		if (vl.nr > DOTENV_MAX_VARS) {
			strbuf_addf(err, "%s: more than %d variables in dotenv report",
				    path, DOTENV_MAX_VARS);
			goto done;
		}
	}
	for (i = 0; i < vl.nr; i++)
		varlist_set(out, vl.v[i].key, vl.v[i].value);
	ret = 0;
done:
	varlist_clear(&vl);
	strbuf_release(&buf);
	return ret;
}

/* --- coverage ------------------------------------------------------------ */

#define COVERAGE_GROUPS 32

/*
 * Translate a GitLab (RE2/Ruby-style) regex into POSIX ERE. POSIX has no
 * non-capturing groups: "(?:" becomes "(" and capturing[n] records which
 * POSIX group numbers were capturing in the original.
 */
static void to_posix(const char *re, struct strbuf *out, char *capturing)
{
	size_t len = strlen(re), group = 0;
	int in_class = 0;
	size_t i;

	if (len >= 2 && re[0] == '/' && re[len - 1] == '/') {
		re++;
		len -= 2;
	}
	for (i = 0; i < len; i++) {
		char c = re[i];

		if (c == '\\' && i + 1 < len) {
			const char *cls = NULL;
			char n = re[++i];

			switch (n) {
			case 'd': cls = in_class ? "0-9" : "[0-9]"; break;
			case 'D': cls = in_class ? NULL : "[^0-9]"; break;
			case 's': cls = in_class ? "[:space:]" : "[[:space:]]"; break;
			case 'S': cls = in_class ? NULL : "[^[:space:]]"; break;
			case 'w': cls = in_class ? "[:alnum:]_" : "[[:alnum:]_]"; break;
			case 'W': cls = in_class ? NULL : "[^[:alnum:]_]"; break;
			}
			if (cls) {
				strbuf_addstr(out, cls);
			} else if (in_class) {
				strbuf_addch(out, n); /* escapes are literal in [] */
			} else {
				strbuf_addch(out, '\\');
				strbuf_addch(out, n);
			}
			continue;
		}
		if (in_class) {
			if (c == ']')
				in_class = 0;
			strbuf_addch(out, c);
			continue;
		}
		if (c == '[') {
			in_class = 1;
			strbuf_addch(out, c);
			if (i + 1 < len && re[i + 1] == '^')
				strbuf_addch(out, re[++i]);
			if (i + 1 < len && re[i + 1] == ']')
				strbuf_addch(out, re[++i]);
			continue;
		}
		if (c == '(') {
			int nc = i + 2 < len && re[i + 1] == '?' && re[i + 2] == ':';

			if (++group < COVERAGE_GROUPS)
				capturing[group] = !nc;
			strbuf_addch(out, '(');
			i += nc ? 2 : 0;
			continue;
		}
		/* lazy quantifiers have no ERE form: match greedily */
		if (c == '?' && i && (re[i - 1] == '*' || re[i - 1] == '+' ||
				      re[i - 1] == '?' || re[i - 1] == '}') &&
		    !(i >= 2 && re[i - 2] == '\\'))
			continue;
		strbuf_addch(out, c);
	}
}

/*
 * GitLab scans the whole log with the regex; of the last match it takes
 * the last capture group (or the whole match without groups), then the
 * first number in that text.
 */
int coverage_extract(const char *regex, const char *log, size_t len, double *ret)
{
	struct strbuf pat = STRBUF_INIT, text = STRBUF_INIT;
	regmatch_t m[COVERAGE_GROUPS];
	char capturing[COVERAGE_GROUPS] = { 0 };
	regex_t re;
	size_t off = 0, i, nm, best_so = 0, best_eo = 0;
	int found = 0, eflags = 0;

	to_posix(regex, &pat, capturing);
	if (regcomp(&re, pat.buf, REG_EXTENDED | REG_NEWLINE)) {
		strbuf_release(&pat);
		return -1;
	}
	nm = re.re_nsub + 1 < ARRAY_SIZE(m) ? re.re_nsub + 1 : ARRAY_SIZE(m);
	strbuf_add(&text, log, len);
	for (i = 0; i < text.len; i++)
		if (!text.buf[i])
			text.buf[i] = ' ';
	while (off <= text.len &&
	       !regexec(&re, text.buf + off, nm, m, eflags)) {
		size_t g = nm - 1;

		while (g && !capturing[g])
			g--;
		if (m[g].rm_so < 0)
			g = 0;
		best_so = off + m[g].rm_so;
		best_eo = off + m[g].rm_eo;
		found = 1;
		off += m[0].rm_eo > m[0].rm_so ? (size_t)m[0].rm_eo :
		       (size_t)m[0].rm_so + 1;
		eflags = off && text.buf[off - 1] != '\n' ? REG_NOTBOL : 0;
	}
	regfree(&re);
	if (found) {
		const char *s = text.buf + best_so, *e = text.buf + best_eo;

		found = 0;
		while (s < e && !(*s >= '0' && *s <= '9'))
			s++;
		if (s < e) {
			char *num = xstrndup(s, e - s);

			*ret = strtod(num, NULL);
			free(num);
			found = 1;
		}
	}
	strbuf_release(&pat);
	strbuf_release(&text);
	return found;
}
