/*
 * Job reports: JUnit XML (our own reader, xml.c), dotenv, coverage regex.
 * See reports.h.
 */
#include "exec/reports.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exec/xml.h"
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

/* What an open element is to the JUnit reader. */
enum junit_frame { F_SUITE, F_CASE, F_RESULT, F_OTHER };

struct junit_reader {
	struct junit_report r;          /* cases of this file only */
	unsigned char kind[XML_MAX_DEPTH + 1];
	char *suite[XML_MAX_DEPTH + 1]; /* F_SUITE: name, NULL = inherited */
	size_t result_depth;            /* of the F_RESULT element, or 0 */
	char *message;                  /* its message attribute */
	struct strbuf text;             /* its text, the first CAP+1 bytes */
	int text_more;                  /* non-space text beyond those */
};

/* The innermost suite name at or above depth d, or NULL. */
static const char *suite_at(const struct junit_reader *j, size_t d)
{
	for (; d; d--)
		if (j->kind[d] == F_SUITE && j->suite[d])
			return j->suite[d];
	return NULL;
}

static char *attr_or_empty(const struct xml_reader *x, const char *name)
{
	const char *v = xml_attr(x, name);

	return xstrdup(v ? v : "");
}

static double attr_time(const struct xml_reader *x)
{
	const char *s = xml_attr(x, "time");
	char *end;
	double t = 0;

	if (s) {
		t = strtod(s, &end);
		if (end == s || !isfinite(t) || t < 0)
			t = 0;
	}
	return t;
}

static void case_start(struct junit_reader *j, const struct xml_reader *x,
		       const char *suite)
{
	struct junit_case *jc;

	ALLOC_GROW(j->r.cases, j->r.nr + 1, j->r.alloc);
	jc = &j->r.cases[j->r.nr++];
	memset(jc, 0, sizeof(*jc));
	jc->suite = xstrdup(suite ? suite : "");
	jc->classname = attr_or_empty(x, "classname");
	jc->name = attr_or_empty(x, "name");
	jc->time = attr_time(x);
	jc->status = JUNIT_PASSED;
}

static void case_end(struct junit_reader *j)
{
	struct junit_case *jc = &j->r.cases[j->r.nr - 1];

	j->r.tests++;
	j->r.time += jc->time;
	switch (jc->status) {
	case JUNIT_PASSED: j->r.passed++; break;
	case JUNIT_FAILED: j->r.failed++; break;
	case JUNIT_ERROR: j->r.errors++; break;
	case JUNIT_SKIPPED: j->r.skipped++; break;
	}
}

/*
 * A <failure>, <error> or <skipped> directly in the current case: failure
 * and error outrank skipped; the first of a kind wins. Returns whether it
 * becomes the case's result (its text is then collected).
 */
static int result_start(struct junit_reader *j, const struct xml_reader *x)
{
	struct junit_case *jc = &j->r.cases[j->r.nr - 1];
	enum junit_status st;
	const char *m;

	if (!strcmp(x->name, "failure"))
		st = JUNIT_FAILED;
	else if (!strcmp(x->name, "error"))
		st = JUNIT_ERROR;
	else if (!strcmp(x->name, "skipped"))
		st = JUNIT_SKIPPED;
	else
		return 0;
	if (jc->status != JUNIT_PASSED &&
	    !(jc->status == JUNIT_SKIPPED && st != JUNIT_SKIPPED))
		return 0;
	jc->status = st;
	m = xml_attr(x, "message");
	j->message = m ? xstrdup(m) : NULL;
	strbuf_reset(&j->text);
	j->text_more = 0;
	j->result_depth = x->depth;
	return 1;
}

/* All text below the result element counts, nested elements' included. */
static void result_text(struct junit_reader *j, const char *s, size_t len)
{
	size_t room = JUNIT_MESSAGE_MAX + 1 - j->text.len, i;

	if (len > room) {
		for (i = room; i < len && !j->text_more; i++)
			j->text_more = !isspace((unsigned char)s[i]);
		len = room;
	}
	strbuf_add(&j->text, s, len);
}

/* The message: the attribute, then the text if it says more, cut to 4 KiB. */
static void result_end(struct junit_reader *j)
{
	struct junit_case *jc = &j->r.cases[j->r.nr - 1];
	struct strbuf msg = STRBUF_INIT;
	const char *m = j->message;

	if (m)
		strbuf_addstr(&msg, m);
	/* text cut short with more to come: trailing space is not trailing */
	if (!j->text_more)
		strbuf_rtrim(&j->text);
	if (j->text.len && (!m || strcmp(m, j->text.buf) || j->text_more)) {
		if (msg.len)
			strbuf_addstr(&msg, "\n\n");
		strbuf_add(&msg, j->text.buf, j->text.len);
	}
	utf8_truncate(&msg, JUNIT_MESSAGE_MAX);
	free(jc->message);
	jc->message = msg.len ? strbuf_detach(&msg, NULL) : NULL;
	strbuf_release(&msg);
	free(j->message);
	j->message = NULL;
	j->result_depth = 0;
}

/*
 * A start tag at depth d: what it is, given its parent. Returns -1 for a
 * root element that is not JUnit.
 */
static int element_start(struct junit_reader *j, const struct xml_reader *x,
			 const char *path, struct strbuf *err)
{
	size_t d = x->depth;
	int parent = d > 1 ? j->kind[d - 1] : F_SUITE;
	int kind = F_OTHER;

	j->suite[d] = NULL;
	if (d == 1 && strcmp(x->name, "testsuites") && strcmp(x->name, "testsuite") &&
	    strcmp(x->name, "testcase")) {
		strbuf_addf(err, "%s: not a JUnit report (root element <%s>)", path,
			    x->name);
		return -1;
	}
	if (parent == F_SUITE) {
		if (!strcmp(x->name, "testsuite")) {
			kind = F_SUITE;
			j->suite[d] = xstrdup_or_null(xml_attr(x, "name"));
		} else if (!strcmp(x->name, "testsuites")) {
			kind = F_SUITE;
		} else if (!strcmp(x->name, "testcase")) {
			kind = F_CASE;
			case_start(j, x, suite_at(j, d - 1));
		}
	} else if (parent == F_CASE && result_start(j, x)) {
		kind = F_RESULT;
	}
	j->kind[d] = kind;
	return 0;
}

static void element_end(struct junit_reader *j, size_t d)
{
	switch (j->kind[d]) {
	case F_RESULT: result_end(j); break;
	case F_CASE: case_end(j); break;
	case F_SUITE:
		free(j->suite[d]);
		j->suite[d] = NULL;
		break;
	}
}

/* Parse the document in buf into j->r; errors are "path:line:col: ...". */
static int junit_read(struct junit_reader *j, const char *buf, size_t len,
		      const char *path, struct strbuf *err)
{
	struct xml_reader x;
	struct strbuf xerr = STRBUF_INIT;
	int ev, ret = -1;

	xml_reader_init(&x, buf, len);
	for (;;) {
		/* text matters only inside a result; elsewhere it is just checked */
		x.text_max = j->result_depth ? SIZE_MAX : 0;
		ev = xml_next(&x, &xerr);
		if (ev < 0) {
			strbuf_addf(err, "%s:%s", path, xerr.buf);
			break;
		}
		if (ev == XML_EOF) {
			ret = 0;
			break;
		}
		if (ev == XML_START && element_start(j, &x, path, err) < 0)
			break;
		if (ev == XML_END)
			element_end(j, x.depth);
		if (ev == XML_TEXT && j->result_depth)
			result_text(j, x.text, x.text_len);
	}
	xml_reader_release(&x);
	strbuf_release(&xerr);
	return ret;
}

int junit_parse_file(const char *path, struct junit_report *r, size_t max,
		     struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct junit_reader *j = NULL;
	struct stat st;
	size_t i;
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
	if (buf.len > max) {
		strbuf_addf(err, "%s: report too large", path);
		goto done;
	}
	j = xcalloc(1, sizeof(*j));
	junit_report_init(&j->r);
	strbuf_init(&j->text, 0);
	if (junit_read(j, buf.buf, buf.len, path, err) < 0)
		goto done;
	/* all or nothing: r only grows once the whole file has been read */
	ALLOC_GROW(r->cases, r->nr + j->r.nr, r->alloc);
	if (j->r.nr)
		memcpy(r->cases + r->nr, j->r.cases, j->r.nr * sizeof(*r->cases));
	r->nr += j->r.nr;
	r->tests += j->r.tests;
	r->passed += j->r.passed;
	r->failed += j->r.failed;
	r->errors += j->r.errors;
	r->skipped += j->r.skipped;
	r->time += j->r.time;
	free(j->r.cases);
	junit_report_init(&j->r);
	ret = 0;
done:
	if (j) {
		junit_report_clear(&j->r);
		for (i = 0; i < ARRAY_SIZE(j->suite); i++)
			free(j->suite[i]);
		free(j->message);
		strbuf_release(&j->text);
		free(j);
	}
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
