#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/jsonl.h"

static int count(const char *data, size_t len, size_t max_line, uint64_t *lines,
		 size_t nmax, struct kt_error *err)
{
	struct kt_jsonl *j;
	json_t *o;
	uint64_t line;
	int r, n = 0;

	assert_int_equal(
	    kt_jsonl_open_mem("t.jsonl", data, len, max_line, &j, err), KT_OK);
	while ((r = kt_jsonl_next(j, &o, &line, err)) == 1) {
		if ((size_t)n < nmax)
			lines[n] = line;
		n++;
		json_decref(o);
	}
	kt_jsonl_free(j);
	return r < 0 ? r : n;
}

static void test_read(void **state)
{
	const char *d =
	    "\xef\xbb\xbf{\"a\":1}\r\n\n   \n{\"b\":\"x\"}\n{\"c\":[]}";
	uint64_t lines[8];
	struct kt_error err;

	assert_int_equal(count(d, strlen(d), 0, lines, 8, &err), 3);
	assert_int_equal(lines[0], 1);
	assert_int_equal(lines[1], 4);
	assert_int_equal(lines[2], 5);
	assert_int_equal(count("", 0, 0, lines, 8, &err), 0);
}

static void err_eq(const char *d, size_t max_line, int code, const char *msg)
{
	uint64_t lines[8];
	struct kt_error err;

	kt_error_clear(&err);
	assert_int_equal(count(d, strlen(d), max_line, lines, 8, &err), code);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("jsonl error \"%s\", want \"%s\"", err.msg, msg);
}

static void test_errors(void **state)
{
	err_eq("{\"a\":1}\n{\"a\":\n", 0, KT_ERR_INVALID,
	       "t.jsonl:2: invalid JSON at column 5: unexpected token near end "
	       "of file");
	err_eq("{\"a\":1}\n[1,2]\n", 0, KT_ERR_INVALID,
	       "t.jsonl:2: expected a JSON object");
	err_eq("{\"a\":1,\"a\":2}\n", 0, KT_ERR_INVALID,
	       "t.jsonl:1: invalid JSON at column 10: duplicate object key "
	       "near '\"a\"'");
	err_eq("{\"a\":\"\xff\"}\n", 0, KT_ERR_INVALID,
	       "t.jsonl:1: invalid JSON at column 6: unable to decode byte "
	       "0xff near '\"'");
	err_eq("{}\n{\"a\":\"0123456789\"}\n", 10, KT_ERR_LIMIT,
	       "t.jsonl:2: line longer than 10 bytes");
	err_eq("\xff\xfe{", 0, KT_ERR_INVALID,
	       "t.jsonl:1: UTF-16 byte order mark: UTF-16 is not supported");
}

static void text_eq(const json_t *o, const char *path, const char *want)
{
	char buf[64];
	const char *reason;

	assert_int_equal(kt_jsonl_text(o, path, buf, sizeof(buf), &reason),
			 KT_OK);
	assert_string_equal(buf, want);
}

static void test_text(void **state)
{
	json_error_t je;
	json_t *o = json_loads(
	    "{\"name\":\"Müller\",\"plz\":1067,\"plzf\":1067.0,\"ok\":true,"
	    "\"no\":false,\"nil\":null,\"addr\":{\"street\":\"Hauptstr. 1\","
	    "\"geo\":{\"x\":1}},\"mails\":[\"a@b.de\",\"c@d.de\"],"
	    "\"bad\":[{\"x\":1}],\"nul\":\"a\\u0000b\"}",
	    JSON_ALLOW_NUL, &je);
	char buf[8];
	const char *reason;

	assert_non_null(o);
	text_eq(o, "name", "Müller");
	text_eq(o, "plz", "1067");
	text_eq(o, "plzf", "1067.0");
	text_eq(o, "ok", "true");
	text_eq(o, "no", "false");
	text_eq(o, "nil", "");
	text_eq(o, "missing", "");
	text_eq(o, "addr.street", "Hauptstr. 1");
	text_eq(o, "addr.missing", "");
	text_eq(o, "name.sub", "");
	text_eq(o, "mails", "a@b.de; c@d.de");
	assert_int_equal(
	    kt_jsonl_text(o, "addr.geo", buf, sizeof(buf), &reason),
	    KT_ERR_INVALID);
	assert_string_equal(reason, "expected text, found an object");
	assert_int_equal(kt_jsonl_text(o, "bad", buf, sizeof(buf), &reason),
			 KT_ERR_INVALID);
	assert_string_equal(reason,
			    "expected text, found nested values or a NUL "
			    "character");
	assert_int_equal(kt_jsonl_text(o, "nul", buf, sizeof(buf), &reason),
			 KT_ERR_INVALID);
	assert_int_equal(kt_jsonl_text(o, "mails", buf, sizeof(buf), &reason),
			 KT_ERR_LIMIT);
	assert_string_equal(reason, "value too long");
	assert_string_equal(buf, "");
	json_decref(o);
}

static void test_file(void **state)
{
	char path[] = "/tmp/kontor-jsonl-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	struct kt_jsonl *j;
	struct kt_error err;
	json_t *o;
	uint64_t line;
	int n = 0, r;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 5000; i++)
		fprintf(f, "{\"id\":%d,\"pad\":\"%0100d\"}\n", i, i);
	fclose(f);
	assert_int_equal(kt_jsonl_open(path, 200, &j, &err), KT_OK);
	while ((r = kt_jsonl_next(j, &o, &line, &err)) == 1) {
		assert_int_equal(json_integer_value(json_object_get(o, "id")),
				 n);
		assert_int_equal(line, (uint64_t)n + 1);
		json_decref(o);
		n++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(n, 5000);
	assert_true(kt_jsonl_bytes_read(j) > 5000 * 100);
	kt_jsonl_free(j);
	/* the same file with a line limit below its line length */
	assert_int_equal(kt_jsonl_open(path, 50, &j, &err), KT_OK);
	assert_int_equal(kt_jsonl_next(j, &o, &line, &err), KT_ERR_LIMIT);
	kt_jsonl_free(j);
	unlink(path);
	assert_int_equal(kt_jsonl_open("/nonexistent.jsonl", 0, &j, &err),
			 KT_ERR_IO);
	kt_jsonl_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
