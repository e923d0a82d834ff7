#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/csv.h"
#include "kontor/err.h"
#include "kontor/util.h"

/* Read all records of a memory CSV into "a|b|c\n" lines with "@line:". */
static int dump(const char *data, size_t len, const struct kt_csv_opts *o,
		char *out, size_t cap, struct kt_error *err)
{
	struct kt_csv *c;
	struct kt_csv_row row;
	size_t w = 0;
	int r;

	out[0] = '\0';
	if ((r = kt_csv_open_mem("t.csv", data, len, o, &c, err)) != KT_OK)
		return r;
	while ((r = kt_csv_next(c, &row, err)) == 1) {
		w += (size_t)snprintf(out + w, cap - w,
				      "@%llu:", (unsigned long long)row.line);
		for (size_t i = 0; i < row.n; i++) {
			assert_int_equal(strlen(row.field[i]), row.len[i]);
			w += (size_t)snprintf(out + w, cap - w, "%s%s",
					      i ? "|" : "", row.field[i]);
		}
		w += (size_t)snprintf(out + w, cap - w, "\n");
	}
	kt_csv_free(c);
	return r;
}

static void csv_eq(const char *in, const struct kt_csv_opts *o,
		   const char *want)
{
	char out[4096];
	struct kt_error err;

	kt_error_clear(&err);
	if (dump(in, strlen(in), o, out, sizeof(out), &err) != 0)
		fail_msg("csv failed: %s", err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("csv got:\n%swant:\n%s", out, want);
}

static void csv_err(const char *in, size_t len, const struct kt_csv_opts *o,
		    int code, const char *msg)
{
	char out[4096];
	struct kt_error err;

	kt_error_clear(&err);
	assert_int_equal(dump(in, len, o, out, sizeof(out), &err), code);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("csv error \"%s\", want \"%s\"", err.msg, msg);
}

static void test_basic(void **state)
{
	csv_eq("a,b,c\n1,2,3\n", NULL, "@1:a|b|c\n@2:1|2|3\n");
	/* CRLF, no final newline, lone CR */
	csv_eq("a,b\r\n1,2", NULL, "@1:a|b\n@2:1|2\n");
	csv_eq("a,b\r1,2\r", NULL, "@1:a|b\n@2:1|2\n");
	/* empty fields, trailing delimiter, blank lines skipped */
	csv_eq("a,,c\n,\n\n\r\nx,\n", NULL, "@1:a||c\n@2:|\n@5:x|\n");
	/* quoted: delimiter, doubled quote, newline (line numbers go on) */
	csv_eq("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\nnext,row\n", NULL,
	       "@1:a,b|say \"hi\"|two\nlines\n@3:next|row\n");
	csv_eq("\"\",\"\"\n", NULL, "@1:|\n");
	csv_eq("\"x\"\r\n\"y\"", NULL, "@1:x\n@2:y\n");
	/* a quote inside an unquoted field is literal */
	csv_eq("Müller \"Bau\" GmbH,2\n", NULL, "@1:Müller \"Bau\" GmbH|2\n");
	csv_eq("", NULL, "");
	csv_eq("\n\n", NULL, "");
}

static void test_options(void **state)
{
	struct kt_csv_opts o;

	kt_csv_opts_default(&o);
	o.delimiter = ';';
	csv_eq("a;\"b;c\";d\n", &o, "@1:a|b;c|d\n");
	o.delimiter = '\t';
	csv_eq("a\tb c\t\"d\te\"\n", &o, "@1:a|b c|d\te\n");
	o.delimiter = '|';
	o.quote = '\'';
	csv_eq("'a|b'|c\n", &o, "@1:a|b|c\n");
	o.quote = '\0';
	csv_eq("\"a|b\"|c\n", &o, "@1:\"a|b\"|c\n");
}

static void test_encodings(void **state)
{
	struct kt_csv_opts o;
	enum kt_csv_encoding e;

	kt_csv_opts_default(&o);
	/* UTF-8 BOM skipped */
	csv_eq("\xef\xbb\xbf"
	       "Name,Ort\nM\xc3\xbcller,K\xc3\xb6ln\n",
	       &o, "@1:Name|Ort\n@2:Müller|Köln\n");
	o.encoding = KT_CSV_WINDOWS_1252;
	csv_eq("M\xfcller,Stra\xdf"
	       "e,\x80,\x84x\x93\n",
	       &o, "@1:Müller|Straße|€|„x“\n");
	o.encoding = KT_CSV_ISO_8859_1;
	csv_eq("M\xfcller,\x80\n", &o, "@1:Müller|\xc2\x80\n");
	/* a UTF-8 BOM wins over a configured single-byte encoding */
	o.encoding = KT_CSV_WINDOWS_1252;
	csv_eq("\xef\xbb\xbf"
	       "M\xc3\xbcller\n",
	       &o, "@1:Müller\n");

	assert_int_equal(kt_csv_encoding_parse("UTF-8", &e), KT_OK);
	assert_int_equal(e, KT_CSV_UTF8);
	assert_int_equal(kt_csv_encoding_parse("cp1252", &e), KT_OK);
	assert_int_equal(e, KT_CSV_WINDOWS_1252);
	assert_int_equal(kt_csv_encoding_parse("Latin1", &e), KT_OK);
	assert_int_equal(e, KT_CSV_ISO_8859_1);
	assert_int_equal(kt_csv_encoding_parse("utf-16", &e), KT_ERR_INVALID);
	assert_int_equal(kt_csv_encoding_parse(NULL, &e), KT_ERR_INVALID);
	assert_string_equal(kt_csv_encoding_name(KT_CSV_WINDOWS_1252),
			    "windows-1252");

	{
		char out[32];
		size_t n, bad;
		assert_int_equal(kt_csv_to_utf8(KT_CSV_WINDOWS_1252, "\x9f\x8a",
						2, out, &n, &bad),
				 KT_OK);
		assert_string_equal(out, "ŸŠ");
		assert_int_equal(kt_csv_to_utf8(KT_CSV_WINDOWS_1252, "ab\x81",
						3, out, &n, &bad),
				 KT_ERR_INVALID);
		assert_int_equal(bad, 2);
		assert_int_equal(
		    kt_csv_to_utf8(KT_CSV_UTF8, "\xc3", 1, out, &n, &bad),
		    KT_ERR_INVALID);
	}
}

static void test_errors(void **state)
{
	struct kt_csv_opts o;

	csv_err("a,b\n\"open,c\nd\n", 14, NULL, KT_ERR_INVALID,
		"t.csv:2: unterminated quoted field");
	csv_err("a\n\"x\"y,b\n", 9, NULL, KT_ERR_INVALID,
		"t.csv:2: field 1: unexpected 'y' after closing quote");
	csv_err("a,b\nM\xfcller,x\n", 13, NULL, KT_ERR_INVALID,
		"t.csv:2: invalid UTF-8 in field 1 (is the file Windows-1252? "
		"set the encoding)");
	csv_err("a,\0b\n", 5, NULL, KT_ERR_INVALID,
		"t.csv:1: NUL byte in field 2");
	csv_err("\xff\xfe"
		"a\0",
		4, NULL, KT_ERR_INVALID,
		"t.csv:1: UTF-16 byte order mark: UTF-16 is not supported, "
		"save the file as UTF-8");
	kt_csv_opts_default(&o);
	o.encoding = KT_CSV_WINDOWS_1252;
	csv_err("ok\nx\x81y\n", 7, &o, KT_ERR_INVALID,
		"t.csv:2: byte 0x81 in field 1 is not defined in Windows-1252");
	kt_csv_opts_default(&o);
	o.max_field = 4;
	csv_err("abcd,e\nabcde\n", 13, &o, KT_ERR_LIMIT,
		"t.csv:2: field 1 longer than 4 bytes");
	kt_csv_opts_default(&o);
	o.max_fields = 3;
	csv_err("a,b,c\na,b,c,d\n", 14, &o, KT_ERR_LIMIT,
		"t.csv:2: more than 3 fields");
	kt_csv_opts_default(&o);
	o.max_record = 8;
	csv_err("a,b,c,d,e\n", 10, &o, KT_ERR_LIMIT,
		"t.csv:1: record longer than 8 bytes");
	/* bad options */
	kt_csv_opts_default(&o);
	o.delimiter = '"';
	csv_err("a", 1, &o, KT_ERR_INVALID, "t.csv: unusable delimiter");
	kt_csv_opts_default(&o);
	o.quote = '\n';
	csv_err("a", 1, &o, KT_ERR_INVALID, "t.csv: unusable quote character");
}

static void test_sticky_error(void **state)
{
	struct kt_csv *c;
	struct kt_csv_row row;
	struct kt_error err;
	const char *data = "ok\n\"bad\n";

	assert_int_equal(
	    kt_csv_open_mem("s.csv", data, strlen(data), NULL, &c, &err),
	    KT_OK);
	assert_int_equal(kt_csv_next(c, &row, &err), 1);
	assert_int_equal(kt_csv_next(c, &row, &err), KT_ERR_INVALID);
	kt_error_clear(&err);
	assert_int_equal(kt_csv_next(c, &row, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "s.csv:2: unterminated quoted field");
	kt_csv_free(c);
	kt_csv_free(NULL);
}

/* A file larger than the 64 KiB read chunk, with quotes and CRLF placed on
 * every possible chunk boundary. */
static void test_file_chunks(void **state)
{
	char path[] = "/tmp/kontor-csv-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	struct kt_csv *c;
	struct kt_csv_row row;
	struct kt_error err;
	const int n = 20000;
	int i = 0, r;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("\xef\xbb\xbfid;name;note\r\n", f);
	for (int k = 0; k < n; k++)
		fprintf(f, "%d;\"M\xc3\xbcller;%d\";\"a\"\"b\r\nc\"\r\n", k, k);
	fclose(f);

	struct kt_csv_opts o;
	kt_csv_opts_default(&o);
	o.delimiter = ';';
	assert_int_equal(kt_csv_open(path, &o, &c, &err), KT_OK);
	assert_int_equal(kt_csv_next(c, &row, &err), 1);
	assert_string_equal(row.field[0], "id");
	assert_true(kt_csv_had_bom(c));
	while ((r = kt_csv_next(c, &row, &err)) == 1) {
		char want[32];
		assert_int_equal(row.n, 3);
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(row.field[0], want);
		snprintf(want, sizeof(want), "Müller;%d", i);
		assert_string_equal(row.field[1], want);
		assert_string_equal(row.field[2], "a\"b\r\nc");
		assert_int_equal(row.line, 2 + 2 * (uint64_t)i);
		i++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(i, n);
	assert_true(kt_csv_bytes_read(c) > 64 * 1024);
	kt_csv_free(c);
	unlink(path);

	assert_int_equal(kt_csv_open("/nonexistent/x.csv", NULL, &c, &err),
			 KT_ERR_IO);
	assert_string_equal(err.msg,
			    "/nonexistent/x.csv: No such file or directory");
}

/* Random bytes: every call ends in a row, the end or a clean error. */
static void test_garbage(void **state)
{
	static const char alphabet[] = ",;\"\r\n ab\xc3\xa4\xff\x81\0";
	uint64_t x = 88172645463325252ull;
	char buf[512];

	for (int round = 0; round < 3000; round++) {
		struct kt_csv_opts o;
		struct kt_csv *c;
		struct kt_csv_row row;
		struct kt_error err;
		size_t n;
		int r, rows = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		kt_csv_opts_default(&o);
		o.encoding = (enum kt_csv_encoding)(round % 3);
		o.max_field = 64;
		o.max_fields = 16;
		assert_int_equal(kt_csv_open_mem("g.csv", buf, n, &o, &c, &err),
				 KT_OK);
		while ((r = kt_csv_next(c, &row, &err)) == 1) {
			for (size_t i = 0; i < row.n; i++)
				assert_true(
				    kt_utf8_valid(row.field[i], row.len[i]));
			rows++;
		}
		assert_true(r == 0 || r == KT_ERR_INVALID || r == KT_ERR_LIMIT);
		if (r < 0)
			assert_true(strncmp(err.msg, "g.csv:", 6) == 0);
		kt_csv_free(c);
	}
}

/* kt_csv_put quotes only what needs it, and its output reads back. */
static void test_put_roundtrip(void **state)
{
	static const char *const fields[] = {
	    "plain", "", "a,b", "say \"hi\"", "two\nlines", "cr\r", "Müller;x"};
	size_t n = sizeof(fields) / sizeof(fields[0]);
	char *buf = NULL, want[512];
	size_t len = 0, w = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		kt_csv_put(f, fields[i]);
	}
	fputc('\n', f);
	fclose(f);
	assert_string_equal(buf, "plain,,\"a,b\",\"say \"\"hi\"\"\",\"two\n"
				 "lines\",\"cr\r\",Müller;x\n");
	w += (size_t)snprintf(want, sizeof(want), "@1:");
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(want + w, sizeof(want) - w, "%s%s",
				      i ? "|" : "", fields[i]);
	snprintf(want + w, sizeof(want) - w, "\n");
	csv_eq(buf, NULL, want);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_encodings),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_sticky_error),
	    cmocka_unit_test(test_file_chunks),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_put_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
