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
#include "kontor/mapping.h"

static const char GOOD[] =
    "{\"source\":\"by-2024\",\"land\":\"BY\",\"encoding\":\"windows-1252\","
    "\"delimiter\":\";\",\"columns\":["
    "{\"column\":\"Kundennr\",\"field\":\"account_id\"},"
    "{\"column\":\"Firma\",\"field\":\"name\",\"required\":true},"
    "{\"column\":\"Rechtsform\",\"field\":\"legal_form\"},"
    "{\"column\":\"Straße\",\"field\":\"street\"},"
    "{\"column\":\"PLZ\",\"field\":\"postcode\",\"numeric\":true},"
    "{\"column\":\"Ort\",\"field\":\"city\"},"
    "{\"column\":\"HR\",\"field\":\"register\"},"
    "{\"column\":\"Mail1\",\"field\":\"email\"},"
    "{\"column\":\"Mail2\",\"field\":\"email\"},"
    "{\"column\":\"Intern\",\"field\":\"ignore\"},"
    "{\"column\":\"Alt\",\"field\":\"ignore\"}]}";

static void test_load(void **state)
{
	struct kt_mapping *m;
	struct kt_error err;

	assert_int_equal(kt_mapping_load_string(GOOD, &m, &err), KT_OK);
	assert_string_equal(m->source, "by-2024");
	assert_int_equal(m->land, KT_LAND_BY);
	assert_int_equal(m->format, KT_MAPPING_CSV);
	assert_int_equal(m->encoding, KT_CSV_WINDOWS_1252);
	assert_int_equal(m->delimiter, ';');
	assert_int_equal(m->quote, '"');
	assert_true(m->header);
	assert_int_equal(m->n_columns, 11);
	assert_string_equal(m->columns[1].column, "Firma");
	assert_int_equal(m->columns[1].field, KT_FIELD_NAME);
	assert_true(m->columns[1].required);
	assert_true(m->columns[4].numeric);
	assert_int_equal(m->columns[0].index, -1);

	/* round trip through the file format */
	{
		json_t *j = kt_mapping_to_json(m);
		char *s = json_dumps(j, 0);
		struct kt_mapping *m2;
		assert_int_equal(kt_mapping_load_string(s, &m2, &err), KT_OK);
		assert_int_equal(m2->n_columns, m->n_columns);
		assert_int_equal(m2->encoding, m->encoding);
		assert_true(m2->columns[4].numeric);
		kt_mapping_free(m2);
		free(s);
		json_decref(j);
	}
	kt_mapping_free(m);
	kt_mapping_free(NULL);

	/* defaults; JSON Lines with paths; headerless CSV by index */
	assert_int_equal(
	    kt_mapping_load_string(
		"{\"land\":\"DE-HH\",\"format\":\"jsonl\",\"columns\":["
		"{\"column\":\"id\",\"field\":\"account_id\"},"
		"{\"column\":\"company.name\",\"field\":\"name\"}]}",
		&m, &err),
	    KT_OK);
	assert_string_equal(m->source, "HH");
	assert_int_equal(m->format, KT_MAPPING_JSONL);
	kt_mapping_free(m);
	assert_int_equal(kt_mapping_load_string(
			     "{\"land\":\"SN\",\"header\":false,\"quote\":\"\","
			     "\"delimiter\":\"\\t\",\"columns\":["
			     "{\"index\":0,\"field\":\"account_id\"},"
			     "{\"index\":3,\"field\":\"name\"}]}",
			     &m, &err),
			 KT_OK);
	assert_int_equal(m->quote, '\0');
	assert_int_equal(m->delimiter, '\t');
	assert_int_equal(m->columns[1].index, 3);
	kt_mapping_free(m);
}

#define MIN_COLS                                                               \
	"{\"column\":\"a\",\"field\":\"account_id\"},"                         \
	"{\"column\":\"n\",\"field\":\"name\"}"

static void bad(const char *json, const char *msg)
{
	struct kt_mapping *m = (void *)1;
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_mapping_load_string(json, &m, &err) == KT_OK)
		fail_msg("accepted: %s", json);
	assert_null(m);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("got \"%s\", want \"%s\"", err.msg, msg);
}

static void test_errors(void **state)
{
	bad("{", "mapping: line 1, column 1: string or '}' expected near end "
		 "of file");
	bad("[]", "mapping: expected a JSON object");
	bad("{\"land\":\"BY\",\"colums\":[]}", "mapping: .colums: unknown key");
	bad("{\"columns\":[" MIN_COLS "]}", "mapping: .land: required");
	bad("{\"land\":\"XX\",\"columns\":[" MIN_COLS "]}",
	    "mapping: .land: unknown Land code 'XX' (expected one of BW BY BE "
	    "BB HB HH HE MV NI NW RP SL SN ST SH TH)");
	bad("{\"land\":7,\"columns\":[" MIN_COLS "]}",
	    "mapping: .land: expected a string");
	bad("{\"land\":\"BY\",\"format\":\"xml\",\"columns\":[" MIN_COLS "]}",
	    "mapping: .format: must be one of: csv, jsonl");
	bad("{\"land\":\"BY\",\"encoding\":\"utf-16\",\"columns\":[" MIN_COLS
	    "]}",
	    "mapping: .encoding: unknown encoding 'utf-16' (expected utf-8, "
	    "windows-1252 or iso-8859-1)");
	bad("{\"land\":\"BY\",\"format\":\"jsonl\",\"encoding\":\"cp1252\","
	    "\"columns\":[" MIN_COLS "]}",
	    "mapping: .encoding: JSON Lines are always UTF-8");
	bad("{\"land\":\"BY\",\"format\":\"jsonl\",\"delimiter\":\";\","
	    "\"columns\":[" MIN_COLS "]}",
	    "mapping: .delimiter: only for CSV files");
	bad("{\"land\":\"BY\",\"delimiter\":\";;\",\"columns\":[" MIN_COLS "]}",
	    "mapping: .delimiter: must be a single ASCII character other than "
	    "a quote or a line break");
	bad("{\"land\":\"BY\",\"delimiter\":\"\\\"\",\"columns\":[" MIN_COLS
	    "]}",
	    "mapping: .delimiter: must be a single ASCII character other than "
	    "a quote or a line break");
	bad("{\"land\":\"BY\",\"delimiter\":\";\",\"quote\":\";\","
	    "\"columns\":[" MIN_COLS "]}",
	    "mapping: .quote: must differ from the delimiter");
	bad("{\"land\":\"BY\",\"header\":\"yes\",\"columns\":[" MIN_COLS "]}",
	    "mapping: .header: expected a boolean");
	bad("{\"land\":\"BY\"}", "mapping: .columns: required");
	bad("{\"land\":\"BY\",\"columns\":[]}",
	    "mapping: .columns: expected a non-empty array");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS ",7]}",
	    "mapping: .columns[2]: expected an object");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"foo\"}]}",
	    "mapping: .columns[2].field: unknown canonical field 'foo'");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS ",{\"column\":\"x\"}]}",
	    "mapping: .columns[2].field: required");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"city\",\"colour\":1}]}",
	    "mapping: .columns[2].colour: unknown key");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS ",{\"field\":\"city\"}]}",
	    "mapping: .columns[2]: needs \"column\" or \"index\"");
	bad("{\"land\":\"BY\",\"format\":\"jsonl\",\"columns\":[" MIN_COLS
	    ",{\"field\":\"city\"}]}",
	    "mapping: .columns[2]: needs \"column\"");
	bad("{\"land\":\"BY\",\"format\":\"jsonl\",\"columns\":[" MIN_COLS
	    ",{\"index\":2,\"field\":\"city\"}]}",
	    "mapping: .columns[2].index: only for CSV files");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"index\":2,\"field\":\"city\"}]}",
	    "mapping: .columns[2]: give \"column\" or \"index\", not both");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"index\":-1,\"field\":\"city\"}]}",
	    "mapping: .columns[2].index: must be an integer between 0 and 511");
	bad("{\"land\":\"BY\",\"header\":false,\"columns\":[" MIN_COLS "]}",
	    "mapping: .columns[0].column: the file has no header "
	    "(\"header\": false): use \"index\"");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"\",\"field\":\"city\"}]}",
	    "mapping: .columns[2].column: must not be empty");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"a\\nb\",\"field\":\"city\"}]}",
	    "mapping: .columns[2].column: contains control characters");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"city\",\"numeric\":true}]}",
	    "mapping: .columns[2].numeric: only for the postcode field");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"name\"}]}",
	    "mapping: .columns[2].field: 'name' is already mapped by "
	    ".columns[1]");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"street\"},"
	    "{\"column\":\"y\",\"field\":\"address_line\"}]}",
	    "mapping: .columns[3].field: 'address_line' cannot be combined "
	    "with 'street' (.columns[2])");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"register\"},"
	    "{\"column\":\"y\",\"field\":\"register_number\"}]}",
	    "mapping: .columns[3].field: 'register_number' cannot be combined "
	    "with 'register' (.columns[2])");
	bad("{\"land\":\"BY\",\"columns\":[" MIN_COLS
	    ",{\"column\":\"x\",\"field\":\"contact_first_name\"},"
	    "{\"column\":\"y\",\"field\":\"contact_name\"}]}",
	    "mapping: .columns[3].field: 'contact_name' cannot be combined "
	    "with 'contact_first_name' (.columns[2])");
	bad("{\"land\":\"BY\",\"columns\":[{\"column\":\"n\",\"field\":"
	    "\"name\"}]}",
	    "mapping: .columns: no column maps to 'account_id'");
	bad("{\"land\":\"BY\",\"columns\":[{\"column\":\"a\",\"field\":"
	    "\"account_id\"}]}",
	    "mapping: .columns: no column maps to 'name'");
	bad("{\"land\":\"BY\",\"source\":\"\",\"columns\":[" MIN_COLS "]}",
	    "mapping: .source: 1 to 64 printable characters");
	bad(NULL, "mapping: no mapping text");
}

static void test_file(void **state)
{
	char path[] = "/tmp/kontor-map-XXXXXX";
	int fd = mkstemp(path);
	struct kt_mapping *m;
	struct kt_error err;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, GOOD, strlen(GOOD)), (ssize_t)strlen(GOOD));
	close(fd);
	assert_int_equal(kt_mapping_load_file(path, &m, &err), KT_OK);
	kt_mapping_free(m);
	unlink(path);
	assert_int_equal(kt_mapping_load_file("/nonexistent.json", &m, &err),
			 KT_ERR_IO);
	assert_string_equal(
	    err.msg, "mapping: /nonexistent.json: No such file or directory");
	assert_int_equal(kt_mapping_load_file("/tmp", &m, &err), KT_ERR_IO);
	assert_string_equal(err.msg, "mapping: /tmp: not a regular file");
}

static void test_bind(void **state)
{
	struct kt_mapping *m;
	struct kt_error err;
	size_t idx[16];
	char *hdr[] = {"Kundennr", " firma ", "Rechtsform", "Straße",
		       "PLZ",	   "Ort",     "HR",	    "Mail1",
		       "Mail2",	   "Intern",  "Alt"};
	char *dup[] = {"Kundennr", "Firma", "Firma"};

	assert_int_equal(kt_mapping_load_string(GOOD, &m, &err), KT_OK);
	assert_int_equal(
	    kt_mapping_bind_header(m, hdr, 11, "by.csv", 1, idx, &err), KT_OK);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1); /* trimmed, case-insensitive */
	assert_int_equal(idx[3], 3);
	assert_int_equal(idx[10], 10);
	assert_int_equal(
	    kt_mapping_bind_header(m, hdr, 3, "by.csv", 1, idx, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "by.csv:1: column 'Straße' is not in the header");
	assert_int_equal(
	    kt_mapping_bind_header(m, dup, 3, "by.csv", 1, idx, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "by.csv:1: column 'Firma' appears twice in the "
			    "header");
	kt_mapping_free(m);

	assert_int_equal(kt_mapping_load_string(
			     "{\"land\":\"SN\",\"header\":false,\"columns\":["
			     "{\"index\":0,\"field\":\"account_id\"},"
			     "{\"index\":12,\"field\":\"name\"}]}",
			     &m, &err),
			 KT_OK);
	assert_int_equal(
	    kt_mapping_bind_header(m, NULL, 10, "sn.csv", 1, idx, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "sn.csv:1: column index 12 is beyond the 10 "
			    "columns of the first record");
	kt_mapping_free(m);
}

static void test_fields(void **state)
{
	enum kt_field f;

	for (int i = 0; i < KT_FIELD_COUNT; i++) {
		assert_int_equal(
		    kt_mapping_field_parse(kt_mapping_field_name(i), &f),
		    KT_OK);
		assert_int_equal(f, i);
	}
	assert_int_equal(kt_mapping_field_parse("Name", &f), KT_ERR_INVALID);
	assert_string_equal(kt_mapping_field_name((enum kt_field)99), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load),   cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_file),   cmocka_unit_test(test_bind),
	    cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
