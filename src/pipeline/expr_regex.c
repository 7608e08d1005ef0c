#include "pipeline/expr_regex.h"

#include <string.h>

#include "util/hex.h"

/*
 * RE2 -> POSIX ERE translation. GitLab evaluates patterns with RE2; we
 * compile them with regcomp(REG_EXTENDED) after rewriting the constructs
 * people actually use in pipelines. Anything we cannot express is an
 * error rather than a silently different match.
 */

static int regex_fail(struct strbuf *err, const char *pat, size_t len,
		      const char *why)
{
	strbuf_addf(err, "invalid regular expression /%.*s/: %s",
		    (int)(len > 200 ? 200 : len), pat, why);
	return -1;
}

/* Append the bracket-expression body for a class shorthand; 0 if c is not one. */
static int class_body(int c, struct strbuf *out)
{
	switch (c) {
	case 'd':
		strbuf_addstr(out, "0-9");
		return 1;
	case 'w':
		strbuf_addstr(out, "[:alnum:]_");
		return 1;
	case 's':
		strbuf_addstr(out, "[:space:]");
		return 1;
	}
	return 0;
}

static int control_char(int c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case 'f': return '\f';
	case 'v': return '\v';
	}
	return 0;
}

/* Append literal byte c outside a bracket expression. */
static void add_literal(struct strbuf *out, int c)
{
	if (strchr(".[]()*+?{}|^$\\", c) && c)
		strbuf_addch(out, '\\');
	strbuf_addch(out, c);
}

/*
 * Translate a bracket expression starting at pat[*i] == '['. Leaves *i
 * after the closing ']'.
 */
static int translate_bracket(const char *pat, size_t len, size_t *i,
			     struct strbuf *out, struct strbuf *err)
{
	size_t j = *i + 1;
	int first = 1;

	strbuf_addch(out, '[');
	if (j < len && pat[j] == '^') {
		strbuf_addch(out, '^');
		j++;
	}
	for (; j < len; j++) {
		int c = pat[j];

		if (c == ']' && !first) {
			strbuf_addch(out, ']');
			*i = j + 1;
			return 0;
		}
		first = 0;
		if (c == '[' && j + 1 < len && pat[j + 1] == ':') {
			const char *end = memchr(pat + j + 2, ']', len - j - 2);

			if (!end || end[-1] != ':')
				return regex_fail(err, pat, len, "bad character class");
			strbuf_add(out, pat + j, end - (pat + j) + 1);
			j = end - pat;
			continue;
		}
		if (c != '\\') {
			strbuf_addch(out, c);
			continue;
		}
		if (++j >= len)
			return regex_fail(err, pat, len, "trailing backslash");
		c = pat[j];
		if (class_body(c, out))
			continue;
		if (c == 'D' || c == 'W' || c == 'S')
			return regex_fail(err, pat, len,
					  "negated class shorthand inside [] is not supported");
		if (control_char(c)) {
			strbuf_addch(out, control_char(c));
			continue;
		}
		if (c == ']' || c == '^' || c == '-')
			return regex_fail(err, pat, len,
					  "escaped ']', '^' or '-' inside [] is not supported; "
					  "place it first or last instead");
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			return regex_fail(err, pat, len, "unsupported escape inside []");
		strbuf_addch(out, c);
	}
	return regex_fail(err, pat, len, "unterminated [");
}

/*
 * Parse "{n}", "{n,}" or "{n,m}" at pat[i]; return its length and the
 * largest count in *ret_max, or 0 when it is not a repetition (then '{' is
 * a literal, as in RE2).
 */
static size_t parse_repeat(const char *pat, size_t len, size_t i, long *ret_max)
{
	size_t j = i + 1;
	long n = -1, m = -1;

	for (; j < len && pat[j] >= '0' && pat[j] <= '9'; j++)
		n = (n < 0 ? 0 : n) * 10 + (pat[j] - '0') % 1000000;
	if (n < 0 || n > 100000)
		return 0;
	if (j < len && pat[j] == ',') {
		for (j++; j < len && pat[j] >= '0' && pat[j] <= '9'; j++)
			m = (m < 0 ? 0 : m) * 10 + (pat[j] - '0');
		if (m > 100000 || (m >= 0 && m < n))
			return 0;
	} else {
		m = n;
	}
	if (j >= len || pat[j] != '}')
		return 0;
	*ret_max = m > n ? m : n;
	return j - i + 1;
}

#define REGEX_MAX_REPEAT 1000
#define REGEX_MAX_GROUPS 64

static int translate(const char *pat, size_t len, struct strbuf *out,
		     int *icase, struct strbuf *err)
{
	/* largest nested {n,m} product inside each open group */
	long gmax[REGEX_MAX_GROUPS + 1];
	long atom_mult = 1;
	size_t i = 0;
	int depth = 0;
	int quant = 0; /* 1 after a quantifier, 2 after its lazy '?' */

	gmax[0] = 1;
	if (len >= 4 && !memcmp(pat, "(?i)", 4)) {
		*icase = 1;
		i = 4;
	}
	while (i < len) {
		int c = pat[i];
		long rep;
		size_t rlen;

		if (quant == 1 && c == '?') {
			/* lazy quantifier: POSIX has none; same set of matches */
			quant = 2;
			i++;
			continue;
		}
		rlen = c == '{' ? parse_repeat(pat, len, i, &rep) : 0;
		if (quant && (c == '*' || c == '+' || c == '?' || rlen))
			return regex_fail(err, pat, len, "bad repetition operator");
		quant = 0;
		if (rlen) {
			if (rep > REGEX_MAX_REPEAT || atom_mult * rep > REGEX_MAX_REPEAT)
				return regex_fail(err, pat, len,
						  "repetition count too large (limit 1000)");
			if (atom_mult * rep > gmax[depth])
				gmax[depth] = atom_mult * rep;
			strbuf_add(out, pat + i, rlen);
			i += rlen;
			quant = 1;
			continue;
		}
		switch (c) {
		case '[':
			if (translate_bracket(pat, len, &i, out, err) < 0)
				return -1;
			atom_mult = 1;
			continue;
		case '(':
			if (depth >= REGEX_MAX_GROUPS)
				return regex_fail(err, pat, len, "groups nested too deeply");
			gmax[++depth] = 1;
			if (i + 1 < len && pat[i + 1] == '?') {
				if (i + 2 < len && pat[i + 2] == ':') {
					strbuf_addch(out, '(');
					i += 3;
					continue;
				}
				return regex_fail(err, pat, len,
						  "unsupported group construct (?...)");
			}
			strbuf_addch(out, '(');
			i++;
			continue;
		case ')':
			atom_mult = 1;
			if (depth > 0) {
				atom_mult = gmax[depth--];
				if (atom_mult > gmax[depth])
					gmax[depth] = atom_mult;
			}
			strbuf_addch(out, ')');
			i++;
			continue;
		case '*':
		case '+':
		case '?':
			strbuf_addch(out, c);
			quant = 1;
			i++;
			continue;
		case '{':
		case '}':
			strbuf_addch(out, '\\');
			strbuf_addch(out, c);
			atom_mult = 1;
			i++;
			continue;
		case '\\':
			atom_mult = 1;
			break;
		default:
			strbuf_addch(out, c);
			atom_mult = 1;
			i++;
			continue;
		}
		/* backslash escape */
		if (++i >= len)
			return regex_fail(err, pat, len, "trailing backslash");
		c = pat[i++];
		switch (c) {
		case 'd': case 'w': case 's':
			strbuf_addch(out, '[');
			class_body(c, out);
			strbuf_addch(out, ']');
			continue;
		case 'D': case 'W': case 'S':
			strbuf_addstr(out, "[^");
			class_body(c - 'A' + 'a', out);
			strbuf_addch(out, ']');
			continue;
		case 'A':
			strbuf_addch(out, '^');
			continue;
		case 'z': case 'Z':
			strbuf_addch(out, '$');
			continue;
		case 'b': case 'B':
			/* glibc supports \b and \B in ERE */
			strbuf_addch(out, '\\');
			strbuf_addch(out, c);
			continue;
		case 'x': {
			int h1 = i < len ? hex_value(pat[i]) : -1;
			int h2 = i + 1 < len ? hex_value(pat[i + 1]) : -1;

			if (h1 < 0 || h2 < 0 || (h1 == 0 && h2 == 0))
				return regex_fail(err, pat, len, "bad \\x escape");
			add_literal(out, h1 * 16 + h2);
			i += 2;
			continue;
		}
		}
		if (control_char(c)) {
			strbuf_addch(out, control_char(c));
			continue;
		}
		if (c >= '1' && c <= '9')
			return regex_fail(err, pat, len, "backreferences are not supported");
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			return regex_fail(err, pat, len, "unsupported escape sequence");
		add_literal(out, c);
	}
	return 0;
}

int expr_regex_compile(regex_t *re, const char *pat, size_t len,
		       const char *flags, size_t flags_len, struct strbuf *err)
{
	struct strbuf ere = STRBUF_INIT;
	int cflags = REG_EXTENDED;
	int icase = 0;
	size_t i;
	int rc;

	if (!len)
		return regex_fail(err, pat, len, "empty pattern");
	if (len > EXPR_REGEX_MAX)
		return regex_fail(err, pat, len, "pattern too long");
	if (memchr(pat, '\0', len))
		return regex_fail(err, pat, len, "NUL byte in pattern");
	for (i = 0; i < flags_len; i++) {
		switch (flags[i]) {
		case 'i':
			icase = 1;
			break;
		case 'm':
			cflags |= REG_NEWLINE;
			break;
		case 's':
			break;
		default:
			return regex_fail(err, pat, len, "unsupported flag (use i, m or s)");
		}
	}
	if (translate(pat, len, &ere, &icase, err) < 0) {
		strbuf_release(&ere);
		return -1;
	}
	if (icase)
		cflags |= REG_ICASE;
	rc = regcomp(re, ere.buf, cflags);
	if (rc) {
		char msg[128];

		regerror(rc, re, msg, sizeof(msg));
		regex_fail(err, pat, len, msg);
		strbuf_release(&ere);
		return -1;
	}
	strbuf_release(&ere);
	return 0;
}

int expr_regex_literal(const char *s, const char **ret_body, size_t *ret_len,
		       const char **ret_flags, size_t *ret_flags_len)
{
	size_t i, end;

	if (s[0] != '/')
		return 0;
	for (i = 1; s[i] && s[i] != '/'; i++)
		if (s[i] == '\\' && s[i + 1])
			i++;
	if (s[i] != '/' || i == 1)
		return 0;
	end = i;
	for (i = end + 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	*ret_body = s + 1;
	*ret_len = end - 1;
	*ret_flags = s + end + 1;
	*ret_flags_len = i - end - 1;
	return 1;
}

int expr_regex_match_literal(const char *lit, const char *subject,
			     struct strbuf *err)
{
	const char *body, *flags;
	size_t len, flags_len;
	regex_t re;
	int rc;

	if (!expr_regex_literal(lit, &body, &len, &flags, &flags_len)) {
		strbuf_addf(err, "not a regular expression literal: %s", lit);
		return -1;
	}
	if (expr_regex_compile(&re, body, len, flags, flags_len, err) < 0)
		return -1;
	rc = regexec(&re, subject, 0, NULL, 0);
	regfree(&re);
	return rc == 0;
}
