/*
 * Unit tests for src/web/: the template engine's escaping, blocks and
 * URL checks; the log renderer's colours, dropped escapes, sections,
 * anchors and chunking; every embedded template renders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/ansi.h"
#include "web/files.h"
#include "web/tmpl.h"

static char *render(const char *t, const char *block, const struct tmpl_var *v, size_t n)
{
	struct strbuf out = STRBUF_INIT;

	assert_int_equal(tmpl_render(&out, t, block, v, n), 0);
	return strbuf_detach(&out, NULL);
}

static void test_escape(void **state)
{
	struct tmpl_var v[] = { tmpl_str("x", "<script>alert('1')</script>&\"") };
	char *s = render("<p title=\"{{x}}\">{{x}}</p>", NULL, v, 1);

	assert_string_equal(s, "<p title=\"&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;&quot;\">"
			    "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt;&amp;&quot;</p>");
	free(s);
}

static void test_raw_only_for_html(void **state)
{
	struct tmpl_var v[] = { tmpl_str("data", "<b>x</b>"), tmpl_html("svg", "<svg></svg>") };
	char *s = render("{{{data}}}|{{{svg}}}|{{svg}}|{{missing}}.", NULL, v, 2);

	/* a value from data is escaped even in a raw placeholder */
	assert_string_equal(s, "&lt;b&gt;x&lt;/b&gt;|<svg></svg>|&lt;svg&gt;&lt;/svg&gt;|.");
	free(s);
}

static void test_url(void **state)
{
	static const char *const bad[] = { "javascript:alert(1)", "JaVaScRiPt:x", "data:text/html,x",
					   "//evil.example", "/\\evil.example", "vbscript:x", "",
					   " javascript:x" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tmpl_var v[] = { tmpl_str("u", bad[i]) };
		char *s = render("<a href=\"{{u|url}}\">", NULL, v, 1);

		assert_string_equal(s, "<a href=\"#\">");
		free(s);
	}
	{
		struct tmpl_var v[] = { tmpl_str("u", "https://x.example/a?b=1&c=\"2\"") };
		char *s = render("<a href=\"{{u|url}}\">", NULL, v, 1);

		assert_string_equal(s, "<a href=\"https://x.example/a?b=1&amp;c=&quot;2&quot;\">");
		free(s);
	}
	assert_true(tmpl_url_ok("/jobs/1"));
	assert_true(tmpl_url_ok("HTTP://x"));
}

static void test_blocks(void **state)
{
	const char *t = "head {{#row}}<li>{{name}}</li>\n{{/row}}\ntail {{v}}";
	struct tmpl_var v[] = { tmpl_str("name", "a<b"), tmpl_str("v", "1") };
	struct strbuf out = STRBUF_INIT;
	char *s = render(t, NULL, v, 2);

	assert_string_equal(s, "head tail 1");
	free(s);
	s = render(t, "row", v, 2);
	assert_string_equal(s, "<li>a&lt;b</li>\n");
	free(s);
	assert_int_equal(tmpl_render(&out, t, "nope", v, 2), -1);
	assert_int_equal(tmpl_render(&out, "{{open", NULL, v, 2), -1);
	assert_int_equal(tmpl_render(&out, "{{#x}}never closed", NULL, v, 2), -1);
	strbuf_release(&out);
}

static void test_templates_render(void **state)
{
	size_t i;

	for (i = 0; i < web_files_nr; i++) {
		struct strbuf out = STRBUF_INIT;

		if (strncmp(web_files[i].name, "templates/", 10))
			continue;
		/* whole, and each block */
		assert_int_equal(tmpl_render(&out, web_files[i].data, NULL, NULL, 0), 0);
		{
			const char *p = web_files[i].data;

			while ((p = strstr(p, "{{#")) != NULL) {
				char name[64];
				size_t n = strcspn(p + 3, "}");

				assert_true(n < sizeof(name));
				memcpy(name, p + 3, n);
				name[n] = '\0';
				assert_int_equal(tmpl_render(&out, web_files[i].data, name, NULL, 0), 0);
				p += 3;
			}
		}
		strbuf_release(&out);
	}
	assert_non_null(web_file_get("static/cidre.js", NULL));
	assert_null(web_file_get("static/nope.js", NULL));
}

static char *ansi(const char *log, size_t chunk)
{
	struct ansi a;
	struct strbuf out = STRBUF_INIT;
	size_t n = strlen(log), i;

	ansi_init(&a);
	for (i = 0; i < n; i += chunk)
		ansi_feed(&a, log + i, n - i < chunk ? n - i : chunk, &out);
	ansi_flush(&a, &out);
	ansi_close(&a, &out);
	ansi_release(&a);
	return strbuf_detach(&out, NULL);
}

static void test_ansi_colours(void **state)
{
	char *s = ansi("\x1b[31mred\x1b[0m \x1b[1;38;5;208mo\x1b[0m\x1b[38;2;1;2;3mt\x1b[m\n", 1000);

	assert_string_equal(s, "<span class=\"l\" id=\"L1\"><a href=\"#L1\">1</a>"
			    "<span class=\"a f1\">red</span> <span class=\"a B\" style=\"color:#ff8700;\">o</span>"
			    "<span class=\"a\" style=\"color:#010203;\">t</span>\n</span>");
	free(s);
}

static void test_ansi_inert(void **state)
{
	/* markup, cursor moves, OSC title and hyperlink, C1 CSI, control bytes, bad UTF-8 */
	char *s = ansi("<script>alert(1)</script>\x1b[2J\x1b[H\x1b]0;pwned\x07"
		       "\x1b]8;;javascript:x\x1b\\link\x1b]8;;\x1b\\\xc2\x9b" "31m\x01\x7f\xff&\n", 7);

	assert_string_equal(s, "<span class=\"l\" id=\"L1\"><a href=\"#L1\">1</a>"
			    "&lt;script&gt;alert(1)&lt;/script&gt;link31m\xef\xbf\xbd&amp;\n</span>");
	assert_null(strchr(s, '\x1b'));
	free(s);
	/* a tab is kept (the fuzzer found it looping once) */
	s = ansi("\x1b[1ma\tb\n", 2);
	assert_non_null(strstr(s, "a\tb"));
	free(s);
}

static void test_ansi_sections(void **state)
{
	const char *log = "a\n\x1b[0Ksection_start:1:s1[collapsed=true]\r\x1b[0KHead <1>\n"
			  "in\n\x1b[0Ksection_end:1:s1\r\x1b[0K\nafter\rover\r\n"
			  "section_start:2:open\r\x1b[0Kx\n";
	char *s = ansi(log, 3), *t;

	assert_non_null(strstr(s, "<details class=\"sec\" data-name=\"s1\"><summary>"
			       "<span class=\"l\" id=\"L2\"><a href=\"#L2\">2</a>Head &lt;1&gt;\n</span></summary>"
			       "<span class=\"l\" id=\"L3\"><a href=\"#L3\">3</a>in\n</span></details>"
			       "<span class=\"l\" id=\"L5\"><a href=\"#L5\">5</a>over\n</span>"));
	assert_non_null(strstr(s, "<details class=\"sec\" data-name=\"open\" open>"));
	/* the open section is closed at the end */
	t = s + strlen(s) - strlen("</details>");
	assert_string_equal(t, "</details>");
	free(s);
	/* the same bytes in one chunk render the same */
	s = ansi(log, 1);
	t = ansi(log, 4096);
	assert_string_equal(s, t);
	free(s);
	free(t);
}

static void test_ansi_long_line(void **state)
{
	size_t n = ANSI_MAX_LINE * 2 + 10;
	char *log = malloc(n + 1), *s;

	memset(log, 'x', n);
	log[n] = '\0';
	s = ansi(log, 5000);
	assert_non_null(strstr(s, "id=\"L3\""));
	assert_null(strstr(s, "id=\"L4\""));
	free(s);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_raw_only_for_html),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_templates_render),
		cmocka_unit_test(test_ansi_colours),
		cmocka_unit_test(test_ansi_inert),
		cmocka_unit_test(test_ansi_sections),
		cmocka_unit_test(test_ansi_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
