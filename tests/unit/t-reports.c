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
#include "testlib.h"

static char root[4096];

static int setup(void **state)
{
	return test_tmpdir(root, sizeof(root), "cidre-t-rep");
}

static int teardown(void **state)
{
	return test_rmtree(root);
}

/* Write content to root/name; returns the path (caller frees). */
static char *put(const char *name, const char *content, size_t len)
{
	return test_write_file(root, name, content, len);
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
			   0, "bad1.xml:1:31: ");
	expect_junit_error("bad2.xml", "", 0, "bad2.xml");
	expect_junit_error("bad3.xml", "<html><body/></html>", 0, "not a JUnit report");
	expect_junit_error("big.xml", pytest_xml, 100, "too large");
	expect_junit_error("xxe.xml",
		"<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<testsuite><testcase name=\"&x;\"/></testsuite>", 0, "xxe.xml:1:22: ");
	expect_junit_error("dtd.xml", "<!DOCTYPE testsuite><testsuite/>", 0, "DOCTYPE");
	expect_junit_error("lol.xml",
		"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
		"<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
		"<testsuite><testcase name=\"&c;\"/></testsuite>", 0, "xml");
}

/* Comments, PIs, entities, CDATA and ignored elements in a real-looking report. */
static void test_junit_xml_features(void **state)
{
	static const char xml[] =
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<!-- generated -->\r\n<?xml-stylesheet href=\"x.xsl\"?>\r\n"
		"<testsuites>\r\n"
		" <testsuite name=\"a &amp; b\" tests=\"99\">\r\n"
		"  <properties><property name=\"p\" value=\"v\"/>"
		"<testcase name=\"not a case\"/></properties>\r\n"
		"  <testcase classname=\"k&#x2E;l\" name=\"&lt;&#233;&gt;\" time=\" 2.5\">"
		"<system-out>out &amp; about</system-out></testcase>\r\n"
		"  <testcase name=\"f\"><failure message=\"m\">line 1\r\n"
		"<![CDATA[<cdata> & ]]><!-- skipped --><b>bold</b> &#x263A;\r\n  </failure>"
		"<testcase name=\"nested case, ignored\"/></testcase>\r\n"
		"  <testcase name=\"m\"><failure message=\"same\">same</failure></testcase>\r\n"
		"  <testcase name=\"s\"><skipped message=\"later\"/><error message=\"e1\"/>"
		"<failure message=\"f2\"/><error message=\"e3\"/></testcase>\r\n"
		"  <testcase name=\"e\"><error message=\"\">  \r\n </error></testcase>\r\n"
		" </testsuite>\r\n"
		"</testsuites>\r\n<!-- trailer -->\r\n";
	struct junit_report r;

	junit_report_init(&r);
	parse_ok("features.xml", xml, &r);
	assert_int_equal(r.nr, 5);
	assert_int_equal(r.tests, 5);
	assert_int_equal(r.passed, 1);
	assert_int_equal(r.failed, 2);
	assert_int_equal(r.errors, 2);
	assert_string_equal(r.cases[0].suite, "a & b");
	assert_string_equal(r.cases[0].classname, "k.l");
	assert_string_equal(r.cases[0].name, "<\xc3\xa9>");
	assert_true(r.cases[0].time == 2.5);
	assert_null(r.cases[0].message);
	assert_int_equal(r.cases[1].status, JUNIT_FAILED);
	assert_string_equal(r.cases[1].message,
			    "m\n\nline 1\n<cdata> & bold \xe2\x98\xba");
	assert_string_equal(r.cases[2].message, "same"); /* not repeated */
	/* error outranks skipped; the first error wins over a later failure */
	assert_int_equal(r.cases[3].status, JUNIT_ERROR);
	assert_string_equal(r.cases[3].message, "e1");
	assert_int_equal(r.cases[4].status, JUNIT_ERROR);
	assert_null(r.cases[4].message);
	junit_report_clear(&r);
}

/* A report in ISO-8859-1 is converted; a lone <testcase> root works. */
static void test_junit_latin1_and_lone_case(void **state)
{
	struct junit_report r;

	junit_report_init(&r);
	parse_ok("latin1.xml", "<?xml version='1.0' encoding='iso-8859-1'?>"
		 "<testsuite name='caf\xe9'><testcase name='\xe0'/></testsuite>", &r);
	parse_ok("lone.xml", "<testcase name='t'><skipped>why</skipped></testcase>", &r);
	assert_int_equal(r.nr, 2);
	assert_string_equal(r.cases[0].suite, "caf\xc3\xa9");
	assert_string_equal(r.cases[0].name, "\xc3\xa0");
	assert_string_equal(r.cases[1].suite, "");
	assert_int_equal(r.cases[1].status, JUNIT_SKIPPED);
	assert_string_equal(r.cases[1].message, "why");
	assert_int_equal(r.skipped, 1);
	junit_report_clear(&r);
}

/* Malformed reports: path:line:column, and r is left exactly as it was. */
static void test_junit_malformed_positions(void **state)
{
	static const char half[] = "<testsuite><testcase name='ok'/><testcase name='bad'>"
				   "<failure>&#1;</failure></testcase></testsuite>";
	struct strbuf err = STRBUF_INIT;
	struct junit_report r;
	char *path;

	expect_junit_error("m1.xml", "<testsuite>\n  <testcase name=\"a\" name=\"b\"/>\n"
			   "</testsuite>", 0, "m1.xml:2:22: duplicate attribute name");
	expect_junit_error("m2.xml", "<testsuite>\n<testcase name=x/>", 0,
			   "m2.xml:2:16: the value of attribute name must be quoted");
	expect_junit_error("m3.xml", "<testsuite><testcase name=\"&bogus;\"/></testsuite>",
			   0, "m3.xml:1:28: undefined entity &bogus;");
	expect_junit_error("m4.xml", "<testsuite/><testsuite/>", 0,
			   "m4.xml:1:13: a second root element");
	expect_junit_error("m5.xml", "<testsuite>\n <testcase>\n  <failure>\xff</failure>",
			   0, "m5.xml:3:12: invalid UTF-8");
	expect_junit_error("m6.xml", "<testsuite><testcase/></testsuite>\ntrailing", 0,
			   "m6.xml:2:1: text after the root element");
	expect_junit_error("m7.xml", "<testsuite><testcase name='x'>", 0,
			   "m7.xml:1:31: end of document inside <testcase> (opened at 1:12)");
	expect_junit_error("m8.xml", "<?xml version='1.0' encoding='UTF-16'?><testsuite/>", 0,
			   "m8.xml:1:31: unsupported encoding UTF-16");

	/* all or nothing: a good file's cases stay, the bad one adds none */
	junit_report_init(&r);
	parse_ok("good.xml", nested_xml, &r);
	path = put("half.xml", half, strlen(half));
	assert_int_equal(junit_parse_file(path, &r, 0, &err), -1);
	assert_non_null(strstr(err.buf, "half.xml:1:"));
	assert_int_equal(r.nr, 2);
	assert_int_equal(r.tests, 2);
	assert_int_equal(r.passed, 2);
	assert_true(r.time == 1.5);
	junit_report_clear(&r);
	free(path);
	strbuf_release(&err);
}

static void test_junit_limits(void **state)
{
	struct strbuf xml = STRBUF_INIT, name = STRBUF_INIT;
	struct junit_report r;
	int i;

	/* 256 levels: 255 suites and a case; its suite is the innermost */
	for (i = 0; i < 255; i++)
		strbuf_addf(&xml, "<testsuite name=\"s%d\">", i);
	strbuf_addstr(&xml, "<testcase name=\"deep\"/>");
	for (i = 0; i < 255; i++)
		strbuf_addstr(&xml, "</testsuite>");
	junit_report_init(&r);
	parse_ok("deep.xml", xml.buf, &r);
	assert_int_equal(r.nr, 1);
	assert_string_equal(r.cases[0].suite, "s254");
	junit_report_clear(&r);

	/* one more level is refused */
	strbuf_reset(&xml);
	for (i = 0; i < 256; i++)
		strbuf_addstr(&xml, "<testsuite>");
	strbuf_addstr(&xml, "<testcase/>");
	expect_junit_error("deeper.xml", xml.buf, 0,
			   "deeper.xml:1:2817: elements nested deeper than 256");

	/* a 1 MiB attribute is kept whole; a 1 MiB message is cut to 4 KiB */
	for (i = 0; i < (1 << 20); i++)
		strbuf_addch(&name, 'a' + i % 26);
	strbuf_reset(&xml);
	strbuf_addf(&xml, "<testsuite><testcase name=\"%s\"><failure message=\"%s\">"
		    "%s</failure></testcase></testsuite>", name.buf, name.buf, name.buf);
	junit_report_init(&r);
	parse_ok("huge.xml", xml.buf, &r);
	assert_int_equal(strlen(r.cases[0].name), 1 << 20);
	assert_int_equal(strlen(r.cases[0].message), 4096);
	assert_memory_equal(r.cases[0].message, name.buf, 4096);
	junit_report_clear(&r);

	/* too many attributes, too long a name */
	strbuf_reset(&xml);
	strbuf_addstr(&xml, "<testsuite><testcase");
	for (i = 0; i < 257; i++)
		strbuf_addf(&xml, " a%d=\"\"", i);
	strbuf_addstr(&xml, "/></testsuite>");
	expect_junit_error("attrs.xml", xml.buf, 0, "more than 256 attributes");
	strbuf_reset(&xml);
	strbuf_addf(&xml, "<testsuite><%.1025s/></testsuite>", name.buf);
	expect_junit_error("name.xml", xml.buf, 0,
			   "name.xml:1:13: name longer than 1024 bytes");
	strbuf_release(&xml);
	strbuf_release(&name);
}

/* Text beyond the 4 KiB cut still decides what is trailing space. */
static void test_junit_message_spaces(void **state)
{
	struct strbuf xml = STRBUF_INIT, want = STRBUF_INIT;
	struct junit_report r;
	int i;

	strbuf_addstr(&xml, "<testsuite><testcase name=\"a\"><failure>x");
	for (i = 0; i < 5000; i++)
		strbuf_addch(&xml, ' ');
	strbuf_addstr(&xml, "</failure></testcase><testcase name=\"b\"><failure>x");
	for (i = 0; i < 5000; i++)
		strbuf_addch(&xml, ' ');
	strbuf_addstr(&xml, "<![CDATA[y]]></failure></testcase></testsuite>");
	junit_report_init(&r);
	parse_ok("spaces.xml", xml.buf, &r);
	assert_string_equal(r.cases[0].message, "x");
	strbuf_addch(&want, 'x');
	for (i = 0; i < 4095; i++)
		strbuf_addch(&want, ' ');
	assert_string_equal(r.cases[1].message, want.buf);
	junit_report_clear(&r);
	strbuf_release(&xml);
	strbuf_release(&want);
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
		cmocka_unit_test(test_junit_xml_features),
		cmocka_unit_test(test_junit_latin1_and_lone_case),
		cmocka_unit_test(test_junit_malformed_positions),
		cmocka_unit_test(test_junit_limits),
		cmocka_unit_test(test_junit_message_spaces),
		cmocka_unit_test(test_dotenv),
		cmocka_unit_test(test_coverage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
