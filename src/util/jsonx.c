/* JSON values written alike everywhere (jsonx.h). */
#include <stdio.h>
#include <time.h>

#include "util/jsonx.h"

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
	return s ? json_string(s) : json_null();
}

json_t *json_seconds(int64_t a, int64_t b)
{
	/* milliseconds as seconds, printed without binary noise */
	return a > 0 && b >= a ? json_real((double)(b - a) / 1000.0) : json_null();
}
