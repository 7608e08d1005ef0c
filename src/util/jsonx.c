/* JSON values written alike everywhere (jsonx.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/jsonx.h"
#include "util/strbuf.h"
#include "util/utf8.h"

json_t *json_time(int64_t ms)
{
	char buf[40];
	time_t t;
	struct tm tm;
	size_t n;

	if (ms <= 0)
		return json_null();
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
	return json_string(buf);
}

json_t *json_str_or_null(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i = 0;
	json_t *v;
	int k;

	if (!s)
		return json_null();
	if ((v = json_string(s)))
		return v;
	/* not UTF-8 (a file or branch name from outside): U+FFFD for each bad byte */
	n = strlen(s);
	while (i < n) {
		k = utf8_seq(u + i, n - i);
		if (k > 0) {
			strbuf_add(&sb, s + i, (size_t)k);
			i += (size_t)k;
		} else {
			strbuf_addstr(&sb, "\xef\xbf\xbd");
			i++;
		}
	}
	v = json_string(sb.buf ? sb.buf : "");
	strbuf_release(&sb);
	return v ? v : json_null();
}

json_t *json_seconds(int64_t a, int64_t b)
{
	/* milliseconds as seconds, printed without binary noise */
	return a > 0 && b >= a ? json_real((double)(b - a) / 1000.0) : json_null();
}

void json_append_list(json_t *a, const char *list)
{
	while (*list) {
		const char *e = strchr(list, ',');
		size_t n = e ? (size_t)(e - list) : strlen(list);

		if (n)
			json_array_append_new(a, json_stringn(list, n));
		list += n;
		if (*list)
			list++;
	}
}

/* Bytes that go into a JSON string as they are: printable ASCII but " and \. */
static int plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Append the run of plain bytes of s at i (before n) to out; where it ends. */
static size_t copy_plain(struct strbuf *out, const char *s, size_t i, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = i;

	while (run < n && plain(u[run]))
		run++;
	strbuf_add(out, s + i, run - i);
	return run;
}

size_t json_str_escape_clean(struct strbuf *out, const char *s, size_t n, int last)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run;
	char esc[6];
	int l;

	strbuf_grow(out, n + n / 8 + 8);
	while (i < n) {
		if ((run = copy_plain(out, s, i, n)) > i) {
			i = run;
			continue;
		}
		if (u[i] >= 0x80) {
			l = utf8_seq(u + i, n - i);
			if (l < 0 && !last)
				break;
			if (l <= 0) {
				strbuf_add(out, "\xef\xbf\xbd", 3);
				i++;
			} else {
				strbuf_add(out, s + i, (size_t)l);
				i += (size_t)l;
			}
			continue;
		}
		esc[0] = '\\';
		switch (u[i]) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\t': esc[1] = 't'; break;
		case '\r': esc[1] = 'r'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 15];
			strbuf_add(out, esc, 6);
			i++;
			continue;
		}
		strbuf_add(out, esc, 2);
		i++;
	}
	return i;
}

/* The value of 4 hex digits at s, or -1. */
static long hex4(const unsigned char *s)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static void add_utf8(struct strbuf *out, unsigned long cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		strbuf_add(out, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(out, b, 4);
	}
}

size_t json_str_unescape(struct strbuf *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run, start = out->len;
	long cp, lo;
	int l;

	strbuf_grow(out, n);
	while (i < n) {
		if ((run = copy_plain(out, s, i, n)) > i) {
			i = run;
			continue;
		}
		if (u[i] == '"')
			return i + 1;
		if (u[i] >= 0x80) {
			l = utf8_seq(u + i, n - i);
			if (l <= 0)
				break;
			strbuf_add(out, s + i, (size_t)l);
			i += (size_t)l;
			continue;
		}
		if (u[i] != '\\' || i + 1 >= n)
			break;	/* a control character, or the input ends */
		switch (u[i + 1]) {
		case '"': strbuf_addch(out, '"'); break;
		case '\\': strbuf_addch(out, '\\'); break;
		case '/': strbuf_addch(out, '/'); break;
		case 'b': strbuf_addch(out, '\b'); break;
		case 'f': strbuf_addch(out, '\f'); break;
		case 'n': strbuf_addch(out, '\n'); break;
		case 'r': strbuf_addch(out, '\r'); break;
		case 't': strbuf_addch(out, '\t'); break;
		case 'u':
			if (i + 6 > n || (cp = hex4(u + i + 2)) < 0)
				goto bad;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad;	/* a low surrogate alone */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 12 > n || u[i + 6] != '\\' || u[i + 7] != 'u' ||
				    (lo = hex4(u + i + 8)) < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			add_utf8(out, (unsigned long)cp);
			i += 6;
			continue;
		default:
			goto bad;
		}
		i += 2;
	}
bad:
	strbuf_setlen(out, start);
	return 0;
}
