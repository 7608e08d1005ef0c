/* Unit tests for src/exec/xml.c: the XML pull reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exec/xml.h"
#include "util/xalloc.h"

/*
 * Read the whole document; the events go to out as <name a=v ...>, </name>
 * and [text]. Returns xml_next's final result (0 or -1).
 */
static int trace(const char *xml, size_t len, size_t text_max,
		 struct strbuf *out, struct strbuf *err)
{
	struct xml_reader x;
	size_t i, depth = 0;
	int ev;

	xml_reader_init(&x, xml, len);
	x.text_max = text_max;
	while ((ev = xml_next(&x, err)) > 0) {
		switch (ev) {
		case XML_START:
			assert_int_equal(x.depth, ++depth);
			strbuf_addf(out, "<%s", x.name);
			for (i = 0; i < x.nattrs; i++) {
				assert_int_equal(strlen(x.attrs[i].value), x.attrs[i].value_len);
				strbuf_addf(out, " %s=%s", x.attrs[i].name, x.attrs[i].value);
			}
			strbuf_addch(out, '>');
			break;
		case XML_END:
			assert_int_equal(x.depth, depth--);
			strbuf_addf(out, "</%s>", x.name);
			break;
		case XML_TEXT:
			assert_int_equal(x.depth, depth);
			assert_int_equal(strlen(x.text), x.text_len);
			strbuf_addf(out, "[%s%s]", x.text, x.text_cut ? "..." : "");
			break;
		}
	}
	if (ev < 0)
		assert_int_equal(xml_next(&x, err), -1); /* errors are final */
	else
		assert_int_equal(xml_next(&x, err), XML_EOF);
	xml_reader_release(&x);
	return ev;
}

static void expect_n(const char *xml, size_t len, const char *want)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int r = trace(xml, len, SIZE_MAX, &out, &err);

	if (r)
		print_message("xml: %s\n", err.buf);
	assert_int_equal(r, 0);
	assert_string_equal(out.buf, want);
	strbuf_release(&out);
	strbuf_release(&err);
}

static void expect(const char *xml, const char *want)
{
	expect_n(xml, strlen(xml), want);
}

/* want: "LINE:COL: " followed by the start of the message. */
static void expect_error_n(const char *xml, size_t len, const char *want)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int r = trace(xml, len, SIZE_MAX, &out, &err);

	if (r != -1 || strncmp(err.buf, want, strlen(want)))
		print_message("xml: %d '%s', want '%s'\n", r, err.buf, want);
	assert_int_equal(r, -1);
	assert_int_equal(strncmp(err.buf, want, strlen(want)), 0);
	strbuf_release(&out);
	strbuf_release(&err);
}

static void expect_error(const char *xml, const char *want)
{
	expect_error_n(xml, strlen(xml), want);
}

static void test_basic(void **state)
{
	expect("<a x=\"1\" y='2'>hi<b/>there<c\n z = \"3\" ></c ></a>",
	       "<a x=1 y=2>[hi]<b></b>[there]<c z=3></c></a>");
	expect("<a/>", "<a></a>");
	expect("\xef\xbb\xbf<a/>", "<a></a>");                /* BOM */
	expect("<ns:a xmlns:ns='u' ns:b='c'/>", "<ns:a xmlns:ns=u ns:b=c></ns:a>");
	expect("<\xc3\xa9l\xc3\xa9ment \xc3\xa9t\xc3\xa9='\xe2\x98\xba'/>",
	       "<\xc3\xa9l\xc3\xa9ment \xc3\xa9t\xc3\xa9=\xe2\x98\xba></\xc3\xa9l\xc3\xa9ment>");
	expect("<a b=''>  </a>", "<a b=>[  ]</a>");
	expect("<a>x]y]]z</a>", "<a>[x]y]]z]</a>");
}

static void test_entities(void **state)
{
	expect("<a t=\"&lt;&gt;&amp;&apos;&quot;\">&lt;&gt;&amp;&apos;&quot;</a>",
	       "<a t=<>&'\">[<>&'\"]</a>");
	expect("<a>&amp;lt;</a>", "<a>[&lt;]</a>"); /* decoded once */
	expect("<a t='\"' u=\"'\"/>", "<a t=\" u='></a>");
	expect_error("<a>&LT;</a>", "1:4: undefined entity &LT;");
}

static void test_char_refs(void **state)
{
	expect("<a>&#65;&#x42;&#xe9;&#x263A;&#x1F600;&#0000065;</a>",
	       "<a>[AB\xc3\xa9\xe2\x98\xba\xf0\x9f\x98\x80" "A]</a>");
	expect("<a v='&#9;&#10;&#13;'/>", "<a v=\t\n\r></a>"); /* refs not normalised */
	expect_error("<a>&#0;</a>", "1:4: character reference");
	expect_error("<a>&#xD800;</a>", "1:4: character reference");
	expect_error("<a>&#x110000;</a>", "1:4: character reference");
	expect_error("<a>&#99999999999999999999;</a>", "1:4: character reference");
	expect_error("<a>&#xFFFE;</a>", "1:4: character reference");
	expect_error("<a>&#X41;</a>", "1:4: malformed character reference");
	expect_error("<a>&#;</a>", "1:4: malformed character reference");
	expect_error("<a>&#x;</a>", "1:4: malformed character reference");
	expect_error("<a>&#65</a>", "1:4: malformed character reference");
	expect_error("<a>&#6a;</a>", "1:4: malformed character reference");
	expect_error("<a>x &foo; y</a>", "1:6: undefined entity &foo;");
	expect_error("<a b='&nbsp;'/>", "1:7: undefined entity &nbsp;");
	{
		/* a long name is quoted in part, never cutting a character */
		struct strbuf xml = STRBUF_INIT, want = STRBUF_INIT;
		int i;

		strbuf_addstr(&xml, "<a>&x");
		strbuf_addstr(&want, "1:4: undefined entity &x");
		for (i = 0; i < 40; i++) {
			strbuf_addstr(&xml, "\xc3\xa9");
			if (i < 31)
				strbuf_addstr(&want, "\xc3\xa9");
		}
		strbuf_addstr(&xml, ";</a>");
		strbuf_addstr(&want, "...; (");
		expect_error(xml.buf, want.buf);
		strbuf_release(&xml);
		strbuf_release(&want);
	}
	expect_error("<a>fish & chips</a>", "1:9: '&' must start a reference");
	expect_error("<a>&amp</a>", "1:4: '&' must start a reference");
}

static void test_cdata_comments_pi(void **state)
{
	expect("<a><![CDATA[<b>&amp;]]]]><![CDATA[>]]></a>",
	       "<a>[<b>&amp;]]][>]</a>");
	expect("<a><![CDATA[]]></a>", "<a>[]</a>");
	expect("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone='yes' ?>\n"
	       "<!-- c -->\n<?pi data?>\n<a><!-- x --><?p?>t<!---->u</a>\n"
	       "<!-- after --><?after?>\n",
	       "<a>[t][u]</a>");
	expect("<?xml version='1.1'?><a/>", "<a></a>");
	expect_error("<a><![CDATA[x</a>", "1:4: CDATA section is not closed");
	expect_error("<![CDATA[x]]><a/>", "1:1: CDATA section outside");
	expect_error("<a><!-- a -- b --></a>", "1:11: '--' is not allowed");
	expect_error("<a><!-- a ---></a>", "1:11: '--' is not allowed");
	expect_error("<a><!-- a </a>", "1:4: comment is not closed");
	expect_error("<a><?p x</a>", "1:4: processing instruction is not closed");
	expect_error("<a><?p\x01?></a>", "1:7: expected white space after");
	expect_error("<a><? p?></a>", "1:6: expected a processing instruction target");
	expect_error("<a/>\n  <?xml version='1.0'?>", "2:3: the XML declaration must be");
	expect_error("<?XML version='1.0'?><a/>", "1:1: the XML declaration must be");
	expect_error(" <?xml version='1.0'?><a/>", "1:2: the XML declaration must be");
	expect_error("<?xml encoding='UTF-8'?><a/>", "1:7: expected version");
	expect_error("<?xml version='2.0'?><a/>", "1:16: unsupported XML version");
	expect_error("<?xml version='1.0' encoding='EBCDIC'?><a/>",
		     "1:31: unsupported encoding EBCDIC");
	expect_error("<?xml version='1.0' standalone='maybe'?><a/>",
		     "1:33: standalone must be");
	expect_error("<?xml version='1.0'", "1:1: the XML declaration is not closed");
	expect_error("<!DOCTYPE a><a/>", "1:1: DOCTYPE declarations are not allowed");
	expect_error("<a/><!DOCTYPE a>", "1:5: DOCTYPE declarations are not allowed");
	expect_error("<!ELEMENT a ANY><a/>", "1:1: unsupported markup declaration");
}

static void test_encodings_and_chars(void **state)
{
	/* CR LF and CR become LF; in attributes tab, CR, LF become a space */
	expect("<a b='x\ty\r\nz\rw'>1\r\n2\r3\n</a>", "<a b=x y z w>[1\n2\n3\n]</a>");
	expect("<?xml version='1.0' encoding='ISO-8859-1'?><a b='\xe9'>\xff</a>",
	       "<a b=\xc3\xa9>[\xc3\xbf]</a>");
	expect("<?xml version='1.0' encoding='us-ascii'?><a/>", "<a></a>");
	expect_error("<?xml version='1.0' encoding='ISO-8859-1'?>\n<a>\xe9</b>",
		     "2:5: end tag </b>"); /* columns count characters */
	expect_error("<a>\xc3\xa9\xc3\xa9</b>", "1:6: end tag </b>");
	expect_error("\xff\xfe<\0a\0/\0>\0", "1:1: UTF-16 is not supported");
	expect_error("<a>\x01</a>", "1:4: character U+0001");
	expect_error("<a b='\x1f'/>", "1:7: character U+001F");
	expect_error_n("<a>\0</a>", 8, "1:4: character U+0000");
	expect_error("<a>\xc3</a>", "1:4: invalid UTF-8 (byte 0xC3)");
	expect_error("<a>\xc0\xaf</a>", "1:4: invalid UTF-8");      /* overlong */
	expect_error("<a>\xed\xa0\x80</a>", "1:4: character U+D800");  /* surrogate */
	expect_error("<a>\xef\xbf\xbe</a>", "1:4: character U+FFFE");
	expect_error("<a>\xf4\x90\x80\x80</a>", "1:4: invalid UTF-8"); /* > U+10FFFF */
	expect_error("<a>x</a>\n\n  \xe9", "3:3: text after the root element");
	expect_error("<a><!-- \x02 --></a>", "1:9: character U+0002");
	expect_error("<a>x]]>y</a>", "1:5: ']]>' is not allowed");
}

static void test_malformed(void **state)
{
	expect_error("", "1:1: no root element");
	expect_error("  \n <!-- only -->\n", "3:1: no root element");
	expect_error("<a></b>", "1:4: end tag </b> does not match <a> (opened at 1:1)");
	expect_error("<a>\n  <b>\n</a>", "3:1: end tag </a> does not match <b> (opened at 2:3)");
	expect_error("<a><b>", "1:7: end of document inside <b> (opened at 1:4)");
	expect_error("<a/><b/>", "1:5: a second root element");
	expect_error("</a>", "1:1: end tag without a start tag");
	expect_error("<a/></a>", "1:5: end tag without a start tag");
	expect_error("x<a/>", "1:1: text before the root element");
	expect_error("<a/>x", "1:5: text after the root element");
	expect_error("<a/>&amp;", "1:5: text after the root element");
	expect_error("<1a/>", "1:2: expected an element name");
	expect_error("< a/>", "1:2: expected an element name");
	expect_error("<a></ a>", "1:6: expected an element name");
	expect_error("<a></a b>", "1:8: expected '>' to end </a>");
	expect_error("<a b=1/>", "1:6: the value of attribute b must be quoted");
	expect_error("<a b/>", "1:5: expected '=' after attribute b");
	expect_error("<a b='1' b=\"2\"/>", "1:10: duplicate attribute b");
	expect_error("<a b='1'c='2'/>", "1:9: expected white space, '>' or '/>' in <a>");
	expect_error("<a b='<'/>", "1:7: '<' in the value of attribute b");
	expect_error("<a b='x", "1:6: the value of attribute b is not closed");
	expect_error("<a b='x'", "1:1: tag <a> is not closed");
	expect_error("<a / >", "1:4: expected '>' after '/'");
	expect_error("<a -b='1'/>", "1:4: expected an attribute name");
}

static void test_limits(void **state)
{
	struct strbuf xml = STRBUF_INIT, want = STRBUF_INIT, name = STRBUF_INIT;
	int i;

	/* nesting: XML_MAX_DEPTH elements are fine, one more is not */
	for (i = 0; i < XML_MAX_DEPTH; i++)
		strbuf_addstr(&xml, "<d>");
	for (i = 0; i < XML_MAX_DEPTH; i++)
		strbuf_addstr(&xml, "</d>");
	strbuf_addstr(&want, xml.buf);
	expect(xml.buf, want.buf);
	strbuf_reset(&xml);
	for (i = 0; i <= XML_MAX_DEPTH; i++)
		strbuf_addstr(&xml, "<d>");
	expect_error(xml.buf, "1:769: elements nested deeper than 256");

	/* attributes: XML_MAX_ATTRS on one element, then one too many */
	strbuf_reset(&xml);
	strbuf_reset(&want);
	strbuf_addstr(&xml, "<a");
	strbuf_addstr(&want, "<a");
	for (i = 0; i < XML_MAX_ATTRS; i++) {
		strbuf_addf(&xml, " a%d='%d'", i, i);
		strbuf_addf(&want, " a%d=%d", i, i);
	}
	strbuf_addstr(&want, "></a>");
	strbuf_addstr(&xml, "/>");
	expect(xml.buf, want.buf);
	strbuf_setlen(&xml, xml.len - 2);
	strbuf_addstr(&xml, " x='1'/>");
	expect_error(xml.buf, "1:");
	{
		struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;

		assert_int_equal(trace(xml.buf, xml.len, SIZE_MAX, &out, &err), -1);
		assert_non_null(strstr(err.buf, "more than 256 attributes on <a>"));
		strbuf_release(&out);
		strbuf_release(&err);
	}
	/* a duplicate among many attributes, through the hash table */
	strbuf_reset(&xml);
	strbuf_addstr(&xml, "<a");
	for (i = 0; i < 200; i++)
		strbuf_addf(&xml, " a%d=''", i);
	strbuf_addstr(&xml, " a137=''/>");
	expect_error(xml.buf, "1:");

	/* names: XML_MAX_NAME bytes, then one more */
	for (i = 0; i < XML_MAX_NAME; i++)
		strbuf_addch(&name, 'n');
	strbuf_reset(&xml);
	strbuf_addf(&xml, "<%s %s='v'/>", name.buf, name.buf);
	strbuf_reset(&want);
	strbuf_addf(&want, "<%s %s=v></%s>", name.buf, name.buf, name.buf);
	expect(xml.buf, want.buf);
	strbuf_reset(&xml);
	strbuf_addf(&xml, "<%sn/>", name.buf);
	expect_error(xml.buf, "1:2: name longer than 1024 bytes");
	strbuf_reset(&xml);
	strbuf_addf(&xml, "<a %sn='1'/>", name.buf);
	expect_error(xml.buf, "1:4: name longer than 1024 bytes");

	/* a huge attribute value and a huge text are fine */
	strbuf_reset(&xml);
	strbuf_reset(&want);
	strbuf_addstr(&xml, "<a v='");
	for (i = 0; i < (1 << 20); i++)
		strbuf_addch(&xml, 'a' + i % 26);
	strbuf_addstr(&xml, "&amp;'/>");
	strbuf_addstr(&want, "<a v=");
	strbuf_add(&want, xml.buf + 6, 1 << 20);
	strbuf_addstr(&want, "&></a>");
	expect(xml.buf, want.buf);
	strbuf_release(&xml);
	strbuf_release(&want);
	strbuf_release(&name);
}

static void test_text_max(void **state)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	const char *xml = "<a>\xc3\xa9\xc3\xa9\xc3\xa9<![CDATA[abcdef]]>&#xe9;x<b/>\xe2\x98\xba</a>";

	/* cut on a character boundary; the rest is still checked */
	assert_int_equal(trace(xml, strlen(xml), 2, &out, &err), 0);
	assert_string_equal(out.buf, "<a>[\xc3\xa9...][ab...][\xc3\xa9...]<b></b>[...]</a>");
	strbuf_reset(&out);
	assert_int_equal(trace(xml, strlen(xml), 0, &out, &err), 0);
	assert_string_equal(out.buf, "<a>[...][...][...]<b></b>[...]</a>");
	strbuf_reset(&out);
	assert_int_equal(trace("<a>ok\x01</a>", 9, 0, &out, &err), -1);
	assert_non_null(strstr(err.buf, "1:6: character U+0001"));
	strbuf_release(&out);
	strbuf_release(&err);
}

static void test_attr_lookup(void **state)
{
	struct strbuf err = STRBUF_INIT;
	struct xml_reader x;
	const char *xml = "<a name='n' time=\"1.5\"><b/></a>";

	xml_reader_init(&x, xml, strlen(xml));
	assert_int_equal(xml_next(&x, &err), XML_START);
	assert_string_equal(xml_attr(&x, "name"), "n");
	assert_string_equal(xml_attr(&x, "time"), "1.5");
	assert_null(xml_attr(&x, "nam"));
	assert_int_equal(xml_next(&x, &err), XML_START);
	assert_null(xml_attr(&x, "name"));
	assert_int_equal(xml_next(&x, &err), XML_END);
	assert_null(xml_attr(&x, "name"));
	assert_string_equal(x.name, "b");
	/* released half-way: nothing leaks (checked under ASan) */
	xml_reader_release(&x);
	xml_reader_release(&x);
	assert_int_equal(err.len, 0);
	strbuf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_entities),
		cmocka_unit_test(test_char_refs),
		cmocka_unit_test(test_cdata_comments_pi),
		cmocka_unit_test(test_encodings_and_chars),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_text_max),
		cmocka_unit_test(test_attr_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
