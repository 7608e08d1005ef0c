/* Unit tests for src/exec/reports.c: JUnit, dotenv, coverage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/reports.h"
#include "util/xalloc.h"

static char root[4096];

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/cidre-t-rep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	struct strbuf cmd = STRBUF_INIT;
	int r;

	strbuf_addf(&cmd, "rm -rf '%s'", root);
	r = system(cmd.buf);
	strbuf_release(&cmd);
	return r ? -1 : 0;
}

/* Write content to root/name; returns the path (caller frees). */
static char *put(const char *name, const char *content, size_t len)
{
	char *path = xasprintf("%s/%s", root, name);
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

static const char pytest_xml[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	"<testsuites><testsuite name=\"pytest\" errors=\"1\" failures=\"1\" "
	"skipped=\"1\" tests=\"4\" time=\"0.05\">"
	"<testcase classname=\"tests.test_a\" name=\"test_ok\" time=\"0.001\"/>"
	"<testcase classname=\"tests.test_a\" name=\"test_fail\" time=\"0.002\">"
	"<failure message=\"assert 1 == 2\">def test_fail():\n&gt;   assert 1 == 2\n"
	"E   assert 1 == 2</failure></testcase>"
	"<testcase classname=\"tests.test_a\" name=\"test_skip\" time=\"0\">"
	"<skipped type=\"pytest.skip\" message=\"not today\">skip reason</skipped></testcase>"
	"<testcase classname=\"tests.test_a\" name=\"test_err\" time=\"0.5\">"
	"<error message=\"fixture broke\"/></testcase>"
	"</testsuite></testsuites>";

static const char jest_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<testsuites name=\"jest tests\" tests=\"2\" failures=\"1\" errors=\"0\" time=\"1.2\">\n"
	"  <testsuite name=\"sum.test.js\" errors=\"0\" failures=\"1\" skipped=\"0\" "
	"timestamp=\"2024-01-01T00:00:00\" time=\"1.1\" tests=\"2\">\n"
	"    <testcase classname=\"sum adds\" name=\"sum adds 1 + 2\" time=\"0.003\">\n"
	"    </testcase>\n"
	"    <testcase classname=\"sum fails\" name=\"sum fails\" time=\"0.004\">\n"
	"      <failure><![CDATA[Error: expect(received).toBe(expected) <b>&amp;</b>]]></failure>\n"
	"    </testcase>\n"
	"  </testsuite>\n"
	"</testsuites>\n";

/* cmocka's own XML output: a single <testsuite> root is accepted too. */
static const char cmocka_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"
	"<testsuite name=\"tests\" time=\"0.000\" tests=\"2\" failures=\"1\" "
	"errors=\"0\" skipped=\"0\" >\n"
	"  <testcase name=\"test_a\" time=\"0.000\" >\n  </testcase>\n"
	"  <testcase name=\"test_b\" time=\"0.000\" >\n"
	"    <failure><![CDATA[0x1 != 0x2\nt.c:10: error: Failure!]]></failure>\n"
	"  </testcase>\n"
	"</testsuite>\n";

static const char nested_xml[] =
	"<testsuites><testsuite name=\"outer\"><testsuite name=\"inner\">"
	"<testcase name=\"deep\" classname=\"k\" time=\"1.5\"/></testsuite>"
	"<testcase name=\"shallow\" time=\"bogus\"/></testsuite></testsuites>";

static void parse_ok(const char *name, const char *xml, struct junit_report *r)
{
	struct strbuf err = STRBUF_INIT;
	char *path = put(name, xml, strlen(xml));
	int ret = junit_parse_file(path, r, 0, &err);

	if (ret)
		print_message("junit: %s\n", err.buf);
	assert_int_equal(ret, 0);
	free(path);
	strbuf_release(&err);
}

static void test_junit_pytest(void **state)
{
	struct junit_report r;

	junit_report_init(&r);
	parse_ok("pytest.xml", pytest_xml, &r);
	assert_int_equal(r.tests, 4);
	assert_int_equal(r.passed, 1);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.skipped, 1);
	assert_int_equal(r.errors, 1);
	assert_true(r.time > 0.502 && r.time < 0.504);
	assert_string_equal(r.cases[0].suite, "pytest");
	assert_string_equal(r.cases[0].classname, "tests.test_a");
	assert_string_equal(r.cases[0].name, "test_ok");
	assert_null(r.cases[0].message);
	assert_int_equal(r.cases[1].status, JUNIT_FAILED);
	assert_string_equal(r.cases[1].message,
			    "assert 1 == 2\n\ndef test_fail():\n>   assert 1 == 2\nE   assert 1 == 2");
	assert_int_equal(r.cases[2].status, JUNIT_SKIPPED);
	assert_int_equal(r.cases[3].status, JUNIT_ERROR);
	assert_string_equal(r.cases[3].message, "fixture broke");
	junit_report_clear(&r);
}

static void test_junit_jest_and_cmocka(void **state)
{
	struct junit_report r;

	junit_report_init(&r);
	parse_ok("jest.xml", jest_xml, &r);
	parse_ok("cmocka.xml", cmocka_xml, &r); /* cases accumulate */
	assert_int_equal(r.tests, 4);
	assert_int_equal(r.failed, 2);
	assert_int_equal(r.passed, 2);
	assert_string_equal(r.cases[0].suite, "sum.test.js");
	assert_string_equal(r.cases[1].message,
			    "Error: expect(received).toBe(expected) <b>&amp;</b>");
	assert_string_equal(r.cases[2].suite, "tests");
	assert_string_equal(r.cases[2].classname, "");
	assert_string_equal(r.cases[3].message, "0x1 != 0x2\nt.c:10: error: Failure!");
	junit_report_clear(&r);
}

static void test_junit_nested(void **state)
{
	struct junit_report r;

	junit_report_init(&r);
	parse_ok("nested.xml", nested_xml, &r);
	assert_int_equal(r.nr, 2);
	assert_string_equal(r.cases[0].suite, "inner");
	assert_true(r.cases[0].time == 1.5);
	assert_string_equal(r.cases[1].suite, "outer");
	assert_true(r.cases[1].time == 0);
	junit_report_clear(&r);
}

static void test_junit_message_truncated(void **state)
{
	struct strbuf xml = STRBUF_INIT;
	struct junit_report r;
	size_t i;

	strbuf_addstr(&xml, "<testsuite><testcase name=\"t\"><failure>");
	for (i = 0; i < 3000; i++)
		strbuf_addstr(&xml, "\xc3\xa9"); /* é: 2 bytes, 6000 total */
	strbuf_addstr(&xml, "</failure></testcase></testsuite>");
	junit_report_init(&r);
	parse_ok("long.xml", xml.buf, &r);
	assert_true(strlen(r.cases[0].message) <= 4096);
	assert_true(strlen(r.cases[0].message) >= 4094);
	assert_int_equal(strlen(r.cases[0].message) % 2, 0); /* not split */
	junit_report_clear(&r);
	strbuf_release(&xml);
}

static void expect_junit_error(const char *name, const char *xml, size_t max,
			       const char *needle)
{
	struct strbuf err = STRBUF_INIT;
	struct junit_report r;
	char *path = put(name, xml, strlen(xml));

	junit_report_init(&r);
	assert_int_equal(junit_parse_file(path, &r, max, &err), -1);
	if (!strstr(err.buf, needle))
		print_message("error '%s' lacks '%s'\n", err.buf, needle);
	assert_non_null(strstr(err.buf, needle));
	assert_int_equal(r.nr, 0);
	junit_report_clear(&r);
	free(path);
	strbuf_release(&err);
}

static void test_junit_bad(void **state)
{
	expect_junit_error("bad1.xml", "<testsuite><testcase name=\"x\"></testsuite>",
			   0, "bad1.xml:1: ");
	expect_junit_error("bad2.xml", "", 0, "bad2.xml");
	expect_junit_error("bad3.xml", "<html><body/></html>", 0, "not a JUnit report");
	expect_junit_error("big.xml", pytest_xml, 100, "too large");
	expect_junit_error("xxe.xml",
		"<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<testsuite><testcase name=\"&x;\"/></testsuite>", 0, "xxe.xml:1: ");
	expect_junit_error("dtd.xml", "<!DOCTYPE testsuite><testsuite/>", 0, "DOCTYPE");
	expect_junit_error("lol.xml",
		"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<testsuite><testcase name=\"&c;\"/></testsuite>", 0, "xml");
}

static void expect_dotenv(const char *content, int want_ret, const char *want)
{
	struct varlist v = VARLIST_INIT;
	struct strbuf err = STRBUF_INIT, got = STRBUF_INIT;
	char *path = put("report.env", content, strlen(content));
	size_t i;
	int r = dotenv_parse_file(path, &v, &err);

	if (r != want_ret || (r && !strstr(err.buf, want)))
		print_message("dotenv: %d %s\n", r, err.buf);
	assert_int_equal(r, want_ret);
	if (r == 0) {
		for (i = 0; i < v.nr; i++)
			strbuf_addf(&got, "%s[%s]", v.v[i].key, v.v[i].value);
		assert_string_equal(got.buf, want);
	} else {
		assert_non_null(strstr(err.buf, want));
		assert_int_equal(v.nr, 0);
	}
	varlist_clear(&v);
	strbuf_release(&err);
	strbuf_release(&got);
	free(path);
}

static void test_dotenv(void **state)
{
	struct strbuf many = STRBUF_INIT, big = STRBUF_INIT;
	int i;

	expect_dotenv("A=1\nB_2=two words\n", 0, "A[1]B_2[two words]");
	expect_dotenv("# comment\n\n  X = spaced  \r\nY=\"quoted # not comment\"\nZ='single'\n",
		      0, "X[spaced]Y[quoted # not comment]Z[single]");
	expect_dotenv("A=1\nA=2\n", 0, "A[2]");
	expect_dotenv("EMPTY=\nQ=\"\"\nHALF=\"open\n", 0, "EMPTY[]Q[]HALF[\"open]");
	expect_dotenv("URL=https://x.example/?a=b&c=d", 0, "URL[https://x.example/?a=b&c=d]");
	expect_dotenv("1BAD=x\n", -1, "invalid variable name");
	expect_dotenv("BAD-NAME=x\n", -1, "invalid variable name");
	expect_dotenv("export A=1\n", -1, "invalid variable name");
	expect_dotenv("JUSTTEXT\n", -1, ":1: invalid line");
	for (i = 0; i < 21; i++)
		strbuf_addf(&many, "V%d=%d\n", i, i);
	expect_dotenv(many.buf, -1, "more than 20");
	for (i = 0; i < 600; i++)
		strbuf_addstr(&big, "#########\n");
	expect_dotenv(big.buf, -1, "larger than");
	strbuf_release(&many);
	strbuf_release(&big);
}

static void expect_cov(const char *re, const char *log, int want_ret, double want)
{
	double got = -1;
	int r = coverage_extract(re, log, strlen(log), &got);

	if (r != want_ret || (r == 1 && got != want))
		print_message("coverage /%s/: %d %f\n", re, r, got);
	assert_int_equal(r, want_ret);
	if (r == 1)
		assert_true(got == want);
}

static void test_coverage(void **state)
{
	const char *log = "running\nTOTAL    120   12    90%\nsome text 55%\n"
			  "Lines: 81.25% (13/16)\ndone\n";

	expect_cov("TOTAL.*\\s+(\\d+%)$", log, 1, 90);
	expect_cov("/Lines:\\s*\\d+\\.\\d+%/", log, 1, 81.25);
	expect_cov("\\d+%", log, 1, 25);               /* last match: "25%" */
	expect_cov("\\d+(?:\\.\\d+)?%", log, 1, 81.25);
	expect_cov("\\d+(\\.\\d+)?%", log, 1, 25);     /* GitLab: last group */
	expect_cov("(?:Statements|Lines)\\s*:\\s*([\\d.]+)%", log, 1, 81.25);
	expect_cov("Branches: \\d+%", log, 0, 0);
	expect_cov("([unclosed", log, -1, 0);
	expect_cov("Coverage: \\d+", "Coverage: 7 and \0 nul", 1, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junit_pytest),
		cmocka_unit_test(test_junit_jest_and_cmocka),
		cmocka_unit_test(test_junit_nested),
		cmocka_unit_test(test_junit_message_truncated),
		cmocka_unit_test(test_junit_bad),
		cmocka_unit_test(test_dotenv),
		cmocka_unit_test(test_coverage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
