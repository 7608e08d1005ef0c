/*
 * Unit tests for src/util/zipw.c and src/util/zipr.c: DOS times, the
 * headers' bytes (ZIP64 ones with sizes and offsets no test could
 * write), archives read back by Python's zipfile and by zipr in pieces
 * of every size, and the reader's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "testlib.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/zipr.h"
#include "util/zipw.h"


static void test_dos_time(void **state)
{
	uint16_t t, d;

	/* 2024-02-29T13:45:11Z: seconds halved, down */
	zipw_dos_time(1709214311, &t, &d);
	assert_int_equal(t, 13 << 11 | 45 << 5 | 5);
	assert_int_equal(d, (2024 - 1980) << 9 | 2 << 5 | 29);
	/* before 1980: its first second */
	zipw_dos_time(0, &t, &d);
	assert_int_equal(t, 0);
	assert_int_equal(d, 0 << 9 | 1 << 5 | 1);
	/* past 2107: its last */
	zipw_dos_time(INT64_C(5000000000), &t, &d);
	assert_int_equal(t, 23 << 11 | 59 << 5 | 29);
	assert_int_equal(d, 127 << 9 | 12 << 5 | 31);
}

/* An archive of n entries named and filled by the caller, in memory. */
static void build(struct zipw_entry *e, const char **data, size_t n, struct strbuf *out)
{
	unsigned char buf[ZIPW_CENTRAL_MAX];
	struct zipw_layout lay;
	size_t i;

	/* an entry whose CRC is known first has it before the layout */
	for (i = 0; i < n; i++)
		if (e[i].crc_first)
			e[i].crc = (uint32_t)crc32(0, (const Bytef *)data[i], (uInt)e[i].size);
	assert_int_equal(zipw_layout(e, n, &lay), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(out->len, e[i].offset);
		strbuf_add(out, buf, zipw_local(&e[i], buf));
		strbuf_add(out, data[i], (size_t)e[i].size);
		if (e[i].crc_first)
			continue;
		e[i].crc = (uint32_t)crc32(0, (const Bytef *)data[i], (uInt)e[i].size);
		strbuf_add(out, buf, zipw_descriptor(&e[i], buf));
	}
	assert_int_equal(out->len, lay.cd_offset);
	for (i = 0; i < n; i++)
		strbuf_add(out, buf, zipw_central(&e[i], buf));
	strbuf_add(out, buf, zipw_end(&lay, buf));
	assert_int_equal(out->len, lay.total);
}

static void entry(struct zipw_entry *e, const char *name, const char *data, unsigned mode)
{
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->name_len = strlen(name);
	e->size = strlen(data);
	e->mode = mode;
	zipw_dos_time(1709214311, &e->dos_time, &e->dos_date);
}

/* Python's zipfile reads it: names, sizes, modes, CRCs, UTF-8 flag. */
static void test_python_reads(void **state)
{
	const char *data[] = { "data\n", "#!/bin/sh\necho tool\n", "", "caf\xc3\xa9" };
	struct zipw_entry e[4];
	struct strbuf zip = STRBUF_INIT;
	char dir[256], *path;

	entry(&e[0], "out/a.txt", data[0], 0644);
	entry(&e[1], "out/sub/tool", data[1], 0755);
	entry(&e[2], "out/empty", data[2], 0644);
	entry(&e[3], "out/caf\xc3\xa9.txt", data[3], 0600);
	build(e, data, 4, &zip);
	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-zip"), 0);
	path = test_write_file(dir, "a.zip", zip.buf, zip.len);
	test_sh(dir, "python3 -c '\n"
		"import zipfile, sys\n"
		"z = zipfile.ZipFile(\"a.zip\")\n"
		"assert z.testzip() is None\n"
		"got = [(i.filename, i.file_size, i.external_attr >> 16, i.create_system,\n"
		"        i.flag_bits & 0x808, i.date_time) for i in z.infolist()]\n"
		"want = [(\"out/a.txt\", 5, 0o100644, 3, 0x808, (2024, 2, 29, 13, 45, 10)),\n"
		"        (\"out/sub/tool\", 20, 0o100755, 3, 0x808, (2024, 2, 29, 13, 45, 10)),\n"
		"        (\"out/empty\", 0, 0o100644, 3, 0x808, (2024, 2, 29, 13, 45, 10)),\n"
		"        (\"out/caf\\u00e9.txt\", 5, 0o100600, 3, 0x808, (2024, 2, 29, 13, 45, 10))]\n"
		"assert got == want, got\n"
		"assert z.read(\"out/sub/tool\") == b\"#!/bin/sh\\necho tool\\n\"\n'");
	free(path);
	test_rmtree(dir);
	strbuf_release(&zip);
}

/* ZIP64: a 5 GiB entry past 4 GiB, 70,000 entries: the fields, by hand. */
static void test_zip64_headers(void **state)
{
	unsigned char buf[ZIPW_CENTRAL_MAX];
	struct zipw_entry e;
	struct zipw_layout lay;
	size_t n;

	memset(&e, 0, sizeof(e));
	e.name = "big";
	e.name_len = 3;
	e.size = UINT64_C(5) << 30;
	e.offset = UINT64_C(6) << 30;
	e.crc = 0x12345678;
	e.mode = 0644;

	n = zipw_local(&e, buf);
	assert_int_equal(n, zipw_local_len(&e));
	assert_int_equal(n, 30 + 3 + 20);
	assert_int_equal(zip_le16(buf + 4), 45);
	assert_int_equal(zip_le16(buf + 6), 0x0808);
	assert_int_equal(zip_le32(buf + 18), 0);
	assert_int_equal(zip_le32(buf + 22), 0);
	assert_int_equal(zip_le16(buf + 28), 20);
	assert_int_equal(zip_le16(buf + 33), 1);           /* the ZIP64 field */
	assert_int_equal(zip_le16(buf + 35), 16);

	n = zipw_descriptor(&e, buf);
	assert_int_equal(n, 24);
	assert_int_equal(zip_le32(buf), ZIP_SIG_DESC);
	assert_int_equal(zip_le32(buf + 4), 0x12345678);
	assert_true(zip_le64(buf + 8) == e.size && zip_le64(buf + 16) == e.size);

	n = zipw_central(&e, buf);
	assert_int_equal(n, zipw_central_len(&e));
	assert_int_equal(n, 46 + 3 + 4 + 24);
	assert_int_equal(zip_le16(buf + 4), 3 << 8 | 63);
	assert_int_equal(zip_le32(buf + 20), ZIP_MAX32);
	assert_int_equal(zip_le32(buf + 24), ZIP_MAX32);
	assert_int_equal(zip_le32(buf + 38), 0100644u << 16);
	assert_int_equal(zip_le32(buf + 42), ZIP_MAX32);
	assert_int_equal(zip_le16(buf + 49), 1);
	assert_int_equal(zip_le16(buf + 51), 24);
	assert_true(zip_le64(buf + 53) == e.size && zip_le64(buf + 61) == e.size);
	assert_true(zip_le64(buf + 69) == e.offset);

	/* only the offset is too large: an 8-byte field, 32-bit sizes */
	e.size = 10;
	assert_int_equal(zipw_local_len(&e), 30 + 3);
	assert_int_equal(zipw_desc_len(&e), 16);
	n = zipw_central(&e, buf);
	assert_int_equal(n, 46 + 3 + 4 + 8);
	assert_int_equal(zip_le32(buf + 20), 10);
	assert_true(zip_le64(buf + 53) == e.offset);

	/* the end: ZIP64 record, locator, then the clamped classic one */
	lay.nr = 70000;
	lay.cd_offset = UINT64_C(7) << 30;
	lay.cd_size = 1000;
	n = zipw_end(&lay, buf);
	assert_int_equal(n, zipw_end_len(&lay));
	assert_int_equal(n, 56 + 20 + 22);
	assert_int_equal(zip_le32(buf), ZIP_SIG_Z64_END);
	assert_true(zip_le64(buf + 24) == 70000 && zip_le64(buf + 32) == 70000);
	assert_true(zip_le64(buf + 40) == 1000 && zip_le64(buf + 48) == lay.cd_offset);
	assert_int_equal(zip_le32(buf + 56), ZIP_SIG_Z64_LOC);
	assert_true(zip_le64(buf + 64) == lay.cd_offset + lay.cd_size);
	assert_int_equal(zip_le32(buf + 76), ZIP_SIG_END);
	assert_int_equal(zip_le16(buf + 84), ZIP_MAX16);
	assert_int_equal(zip_le32(buf + 88), 1000);
	assert_int_equal(zip_le32(buf + 92), ZIP_MAX32);

	/* a small archive has the classic end alone */
	lay.nr = 65534;
	lay.cd_offset = 100;
	assert_int_equal(zipw_end_len(&lay), 22);
}

/* 65,535 entries: a real archive with ZIP64 end records, read by Python. */
static void test_many_entries(void **state)
{
	size_t n = 65535, i;
	struct zipw_entry *e = xcalloc(n, sizeof(*e));
	const char **data = xcalloc(n, sizeof(*data));
	char (*names)[16] = xcalloc(n, sizeof(*names));
	struct strbuf zip = STRBUF_INIT;
	char dir[256], *path;

	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "f%05zu", i);
		data[i] = i % 2 ? "x" : "";
		entry(&e[i], names[i], data[i], 0644);
	}
	build(e, data, n, &zip);
	assert_int_equal(zip_le32((unsigned char *)zip.buf + zip.len - 22 - 20 - 56),
			 ZIP_SIG_Z64_END);
	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-zip"), 0);
	path = test_write_file(dir, "many.zip", zip.buf, zip.len);
	test_sh(dir, "python3 -c '\n"
		"import zipfile\n"
		"z = zipfile.ZipFile(\"many.zip\")\n"
		"n = z.namelist()\n"
		"assert len(n) == 65535 and n[-1] == \"f65534\", len(n)\n"
		"assert z.read(\"f65533\") == b\"x\"\n'");
	free(path);
	test_rmtree(dir);
	strbuf_release(&zip);
	free(e);
	free(data);
	free(names);
}

/* ---- the reader ---- */

struct got {
	struct strbuf log;
	const char *const *sizes;   /* name, size, ... NULL: as the header says */
	int refuse;                 /* refuse the entry named this (index + 1) */
	int entries;
};

static int got_entry(void *ctx, const struct zipr_entry *e, uint64_t *size)
{
	struct got *g = ctx;
	size_t i;

	strbuf_addf(&g->log, "[%s]", e->name);
	if (++g->entries == g->refuse)
		return -1;
	if (e->has_size)
		return 0;
	for (i = 0; g->sizes && g->sizes[i]; i += 2)
		if (!strcmp(g->sizes[i], e->name)) {
			*size = strtoull(g->sizes[i + 1], NULL, 10);
			return 0;
		}
	return -1;
}

static int got_data(void *ctx, const char *buf, size_t len)
{
	struct got *g = ctx;

	strbuf_add(&g->log, buf, len);
	return 0;
}

static int got_done(void *ctx, const struct zipr_entry *e)
{
	struct got *g = ctx;

	strbuf_addf(&g->log, "<%08x>", (unsigned)e->crc);
	return 0;
}

static const struct zipr_ops got_ops = { got_entry, got_data, got_done };

/* Read zip[0..len) in pieces of step bytes: zipr's result, its log in g. */
static int read_zip(const char *zip, size_t len, size_t step, struct got *g,
		    struct strbuf *err)
{
	struct zipr z;
	size_t off;
	int rc = 0;

	zipr_init(&z, &got_ops, g);
	strbuf_reset(&g->log);
	g->entries = 0;
	for (off = 0; off < len && !rc; off += step)
		rc = zipr_feed(&z, zip + off, len - off < step ? len - off : step);
	if (!rc)
		rc = zipr_finish(&z);
	strbuf_reset(err);
	if (rc == ZIPR_EFORMAT)
		strbuf_addstr(err, zipr_error(&z));
	zipr_release(&z);
	return rc;
}

static const char *const sizes[] = {
	"out/a.txt", "5", "out/sub/tool", "20", "out/empty", "0", NULL,
};

static void sample(struct strbuf *zip)
{
	const char *data[] = { "data\n", "#!/bin/sh\necho tool\n", "" };
	struct zipw_entry e[3];

	entry(&e[0], "out/a.txt", data[0], 0644);
	entry(&e[1], "out/sub/tool", data[1], 0755);
	entry(&e[2], "out/empty", data[2], 0644);
	build(e, data, 3, zip);
}

/*
 * Entries whose CRC is known first: CRC and sizes in the local header, no
 * descriptor, bit 3 clear; mixed with entries that have one. Python reads
 * the archive; a reader that walks the local headers alone, as a
 * streaming one does (Java's ZipInputStream), finds every such entry's
 * data by its header; zipr reads it in any piece size.
 */
static void test_crc_first(void **state)
{
	const char *data[] = { "data\n", "#!/bin/sh\necho tool\n", "", "last\n" };
	struct zipw_entry e[4];
	struct strbuf zip = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	struct got g = { STRBUF_INIT, NULL, 0, 0 };
	const char *const sz[] = { "out/a.txt", "5", "out/sub/tool", "20", "out/empty", "0",
				   "out/z.txt", "5", NULL };
	char dir[256], *path;
	size_t step;

	entry(&e[0], "out/a.txt", data[0], 0644);
	entry(&e[1], "out/sub/tool", data[1], 0755);
	entry(&e[2], "out/empty", data[2], 0644);
	entry(&e[3], "out/z.txt", data[3], 0644);
	e[0].crc_first = e[2].crc_first = e[3].crc_first = 1;
	build(e, data, 4, &zip);
	assert_int_equal(zipw_desc_len(&e[0]), 0);
	assert_int_equal(zipw_desc_len(&e[1]), 16);
	/* the first local header: flags, CRC, both sizes */
	assert_int_equal(zip_le16((const unsigned char *)zip.buf + 6), 0x0800);
	assert_int_equal(zip_le32((const unsigned char *)zip.buf + 14),
			 (uint32_t)crc32(0, (const Bytef *)"data\n", 5));
	assert_int_equal(zip_le32((const unsigned char *)zip.buf + 18), 5);
	assert_int_equal(zip_le32((const unsigned char *)zip.buf + 22), 5);
	assert_int_equal(test_tmpdir(dir, sizeof(dir), "t-zip"), 0);
	path = test_write_file(dir, "m.zip", zip.buf, zip.len);
	test_sh(dir, "python3 -c '\n"
		"import struct, zipfile, zlib\n"
		"z = zipfile.ZipFile(\"m.zip\")\n"
		"assert z.testzip() is None\n"
		"assert [i.flag_bits for i in z.infolist()] == [0x800, 0x808, 0x800, 0x800]\n"
		"d = open(\"m.zip\", \"rb\").read()\n"
		"p, seen = 0, []\n"
		"while d[p:p + 4] == b\"PK\\x03\\x04\":\n"
		"    flags, crc, csize, size, nl, xl = struct.unpack(\"<6xH6xIIIHH\", d[p:p + 30])\n"
		"    name = d[p + 30:p + 30 + nl].decode()\n"
		"    p += 30 + nl + xl\n"
		"    if flags & 8:\n"
		"        seen.append(name)\n"
		"        p += z.getinfo(name).file_size + 16\n"
		"        continue\n"
		"    assert zlib.crc32(d[p:p + size]) == crc and csize == size, name\n"
		"    seen.append(name)\n"
		"    p += size\n"
		"assert seen == [\"out/a.txt\", \"out/sub/tool\", \"out/empty\", \"out/z.txt\"], seen\n"
		"assert d[p:p + 4] == b\"PK\\x01\\x02\"\n'");
	g.sizes = sz;
	strbuf_addf(&want, "[out/a.txt]data\n<%08x>[out/sub/tool]#!/bin/sh\necho tool\n"
		    "<%08x>[out/empty]<00000000>[out/z.txt]last\n<%08x>",
		    (unsigned)crc32(0, (const Bytef *)"data\n", 5),
		    (unsigned)crc32(0, (const Bytef *)"#!/bin/sh\necho tool\n", 20),
		    (unsigned)crc32(0, (const Bytef *)"last\n", 5));
	for (step = 1; step <= zip.len; step++) {
		assert_int_equal(read_zip(zip.buf, zip.len, step, &g, &err), 0);
		assert_string_equal(g.log.buf, want.buf);
	}
	/* a ZIP64 one: the 32-bit sizes say so, the field has them */
	{
		unsigned char buf[ZIPW_LOCAL_MAX];
		struct zipw_entry b;

		memset(&b, 0, sizeof(b));
		b.name = "big";
		b.name_len = 3;
		b.size = UINT64_C(5) << 30;
		b.crc = 0x12345678;
		b.crc_first = 1;
		assert_int_equal(zipw_local(&b, buf), 30 + 3 + 20);
		assert_int_equal(zip_le16(buf + 6), 0x0800);
		assert_int_equal(zip_le32(buf + 14), 0x12345678);
		assert_int_equal(zip_le32(buf + 18), ZIP_MAX32);
		assert_int_equal(zip_le32(buf + 22), ZIP_MAX32);
		assert_true(zip_le64(buf + 37) == b.size && zip_le64(buf + 45) == b.size);
		assert_int_equal(zipw_desc_len(&b), 0);
	}
	free(path);
	test_rmtree(dir);
	strbuf_release(&zip);
	strbuf_release(&err);
	strbuf_release(&want);
	strbuf_release(&g.log);
}

static void test_reader_round_trip(void **state)
{
	struct strbuf zip = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;
	struct got g = { STRBUF_INIT, sizes, 0, 0 };
	size_t step;

	sample(&zip);
	strbuf_addf(&want, "[out/a.txt]data\n<%08x>[out/sub/tool]#!/bin/sh\necho tool\n"
		    "<%08x>[out/empty]<00000000>",
		    (unsigned)crc32(0, (const Bytef *)"data\n", 5),
		    (unsigned)crc32(0, (const Bytef *)"#!/bin/sh\necho tool\n", 20));
	for (step = 1; step <= zip.len; step++) {
		assert_int_equal(read_zip(zip.buf, zip.len, step, &g, &err), 0);
		assert_string_equal(g.log.buf, want.buf);
	}
	/* no entries at all: the end record alone */
	strbuf_reset(&zip);
	build(NULL, NULL, 0, &zip);
	assert_int_equal(zip.len, 22);
	assert_int_equal(read_zip(zip.buf, zip.len, 7, &g, &err), 0);
	strbuf_release(&zip);
	strbuf_release(&err);
	strbuf_release(&want);
	strbuf_release(&g.log);
}

/* Each cut of the archive is an error; inside an entry, naming it. */
static void test_reader_truncated(void **state)
{
	struct strbuf zip = STRBUF_INIT, err = STRBUF_INIT;
	struct got g = { STRBUF_INIT, sizes, 0, 0 };
	size_t cut;

	sample(&zip);
	for (cut = 0; cut < zip.len; cut++)
		assert_int_equal(read_zip(zip.buf, cut, 3, &g, &err), ZIPR_EFORMAT);
	assert_int_equal(read_zip(zip.buf, 40, 40, &g, &err), ZIPR_EFORMAT);
	assert_string_equal(err.buf, "out/a.txt: the archive ends inside this entry");
	/* and a byte more is one too many */
	strbuf_addch(&zip, 0);
	assert_int_equal(read_zip(zip.buf, zip.len, 5, &g, &err), ZIPR_EFORMAT);
	assert_string_equal(err.buf, "data after the end of the archive");
	strbuf_release(&zip);
	strbuf_release(&err);
	strbuf_release(&g.log);
}

static void expect_refusal(const struct strbuf *zip, const char *const *sz, const char *msg)
{
	struct strbuf err = STRBUF_INIT;
	struct got g = { STRBUF_INIT, sz, 0, 0 };

	assert_int_equal(read_zip(zip->buf, zip->len, 64, &g, &err), ZIPR_EFORMAT);
	if (!strstr(err.buf, msg))
		fail_msg("'%s' does not say '%s'", err.buf, msg);
	strbuf_release(&err);
	strbuf_release(&g.log);
}

static void test_reader_refusals(void **state)
{
	static const char *const wrong[] = { "out/a.txt", "4", NULL };
	struct strbuf zip = STRBUF_INIT, bad = STRBUF_INIT;
	struct got g = { STRBUF_INIT, sizes, 2, 0 };
	struct strbuf err = STRBUF_INIT;

	sample(&zip);
	/* a size the listing does not agree with */
	expect_refusal(&zip, wrong, "out/a.txt: ");
	/* compressed */
	strbuf_add(&bad, zip.buf, zip.len);
	bad.buf[8] = 8;
	expect_refusal(&bad, sizes, "out/a.txt: compressed (method 8)");
	/* encrypted */
	strbuf_reset(&bad);
	strbuf_add(&bad, zip.buf, zip.len);
	bad.buf[6] |= 1;
	expect_refusal(&bad, sizes, "out/a.txt: encrypted");
	/* a name longer than the cap */
	strbuf_reset(&bad);
	strbuf_add(&bad, zip.buf, zip.len);
	bad.buf[26] = (char)0xff;
	bad.buf[27] = (char)0xff;
	expect_refusal(&bad, sizes, "an entry name of 65535 bytes");
	/* not a ZIP at all */
	expect_refusal(&(struct strbuf){ .buf = (char *)"GIF89a", .len = 6 }, sizes,
		       "not a ZIP record at byte 0");
	/* the end record's count changed */
	strbuf_reset(&bad);
	strbuf_add(&bad, zip.buf, zip.len);
	bad.buf[bad.len - 12] = 2;
	expect_refusal(&bad, sizes, "the end record does not match");
	/* a descriptor's size changed */
	strbuf_reset(&bad);
	strbuf_add(&bad, zip.buf, zip.len);
	bad.buf[30 + 9 + 5 + 8] = 6;
	bad.buf[30 + 9 + 5 + 12] = 6;
	expect_refusal(&bad, sizes, "out/a.txt: the archive says 6 bytes, 5 were expected");
	/* the caller refuses the second entry */
	assert_int_equal(read_zip(zip.buf, zip.len, 9, &g, &err), ZIPR_ECALLBACK);
	strbuf_release(&zip);
	strbuf_release(&bad);
	strbuf_release(&err);
	strbuf_release(&g.log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dos_time),
		cmocka_unit_test(test_python_reads),
		cmocka_unit_test(test_zip64_headers),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_reader_round_trip),
		cmocka_unit_test(test_crc_first),
		cmocka_unit_test(test_reader_truncated),
		cmocka_unit_test(test_reader_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
