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
