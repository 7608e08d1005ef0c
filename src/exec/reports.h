#ifndef CIDRE_REPORTS_H
#define CIDRE_REPORTS_H

/* Job reports: JUnit XML test results, dotenv variables, coverage. */

#include <stddef.h>

#include "pipeline/vars.h"
#include "util/strbuf.h"

enum junit_status { JUNIT_PASSED, JUNIT_FAILED, JUNIT_ERROR, JUNIT_SKIPPED };

struct junit_case {
	char *suite;
	char *classname;
	char *name;
	double time;
	enum junit_status status;
	char *message;           /* failure/error message, truncated to 4 KiB */
};

struct junit_report {
	size_t tests, passed, failed, errors, skipped;
	double time;
	struct junit_case *cases;
	size_t nr, alloc;
};

void junit_report_init(struct junit_report *r);
void junit_report_clear(struct junit_report *r);
/*
 * Parse one JUnit XML file (testsuites/testsuite/testcase, the formats of
 * JUnit, pytest, Jest, go-junit-report, cmocka) and add its cases to r.
 * Network access and external entities are disabled; files over max bytes
 * (0 = 30 MiB) are refused. Returns 0, or -1 with the reason in err.
 */
int junit_parse_file(const char *path, struct junit_report *r, size_t max,
		     struct strbuf *err);

/*
 * Parse a dotenv report (KEY=VALUE lines, GitLab's rules: variable names
 * [A-Za-z_][A-Za-z0-9_]*, optional quotes, at most 20 variables and 5 KiB)
 * into out. Returns 0, or -1 with the reason in err.
 */
int dotenv_parse_file(const char *path, struct varlist *out, struct strbuf *err);

/*
 * Apply a coverage regex (GitLab `coverage: '/.../'`) to a job log: the
 * last match wins; the first number in the match is the percentage.
 * Returns 1 and sets *ret when found, 0 otherwise, -1 on a bad regex.
 */
int coverage_extract(const char *regex, const char *log, size_t len, double *ret);

#endif
