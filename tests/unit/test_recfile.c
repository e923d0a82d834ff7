/*
 * records.jsonl as input of the later stages: reading records back, the
 * matcher table through kt_rec_match_row (the same with any number of
 * threads), and the exact errors.
 */
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
#include "kontor/match.h"
#include "kontor/recfile.h"

#include "migrate_fixture.h"

static struct migrate_fixture fx;

static int setup(void **state)
{
	return migrate_fixture_import(&fx);
}

static int teardown(void **state)
{
	migrate_fixture_remove(&fx);
	return 0;
}

static struct kt_match_profile *company_profile(void)
{
	char path[512];
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	snprintf(path, sizeof(path), "%s/docs/profiles/company.json",
		 getenv("KONTOR_SOURCE_DIR"));
	if (kt_match_profile_load_file(path, &p, &err) != KT_OK)
		fail_msg("%s", err.msg);
	return p;
}

static char *put(const char *name, const char *text)
{
	char *path = NULL;
	FILE *f;

	if (asprintf(&path, "%s/%s", fx.dir, name) < 0)
		fail();
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_read_records(void **state)
{
	struct kt_recfile *f = NULL;
	struct kt_rec *r;
	struct kt_error err;
	uint64_t n = 0;
	int rc;

	assert_int_equal(kt_recfile_open(fx.records, &f, &err), KT_OK);
	while ((rc = kt_recfile_next(f, &r, &err)) == 1) {
		assert_true(r->account_id[0] != '\0');
		assert_true(r->name.key[0] != '\0');
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, fx.sum.imported);
	assert_int_equal(kt_recfile_line(f), n);
	assert_int_equal(kt_recfile_bytes_read(f), kt_recfile_size(f));
	kt_recfile_close(f);
	assert_int_equal(kt_recfile_sniff(fx.records, &err), 1);
	assert_int_equal(kt_recfile_open("/nonexistent/r.jsonl", &f, &err),
			 KT_ERR_IO);
	assert_string_equal(err.msg,
			    "/nonexistent/r.jsonl: No such file or directory");
}

/* The table holds each record's matcher row; one thread or four give the
 * same table. */
static void test_load_table(void **state)
{
	struct kt_match_profile *p = company_profile();
	struct kt_match_table *t1 = NULL, *t4 = NULL;
	struct kt_recfile *f = NULL;
	struct kt_rec *r;
	struct kt_error err;
	int rc;

	assert_int_equal(kt_match_table_new(p, &t1), KT_OK);
	assert_int_equal(kt_match_table_new(p, &t4), KT_OK);
	if (kt_recfile_load_table(fx.records, t1, 1, NULL, &err) != KT_OK ||
	    kt_recfile_load_table(fx.records, t4, 4, NULL, &err) != KT_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(kt_match_table_size(t1), fx.sum.imported);
	assert_int_equal(kt_match_table_size(t4), fx.sum.imported);
	assert_int_equal(kt_recfile_open(fx.records, &f, &err), KT_OK);
	for (uint32_t i = 0; (rc = kt_recfile_next(f, &r, &err)) == 1; i++) {
		const char *row[KT_REC_MATCH_NCOLS];
		char id[80];

		assert_int_equal(kt_rec_match_row(r, row), KT_OK);
		kt_rec_id(r, id, sizeof(id));
		assert_string_equal(kt_match_table_id(t1, i), id);
		assert_string_equal(kt_match_table_id(t4, i), id);
		for (unsigned c = 0; c < KT_REC_MATCH_NCOLS; c++) {
			int k = kt_match_profile_field_index(
			    p, kt_rec_match_column(c));

			assert_true(k >= 0);
			assert_string_equal(kt_match_table_value(t1, i, k),
					    row[c]);
			assert_string_equal(kt_match_table_value(t4, i, k),
					    row[c]);
			/* present values are valid: invalid ones are blank */
			assert_int_equal(kt_match_table_valid(t1, i, k),
					 row[c][0] != '\0');
		}
	}
	assert_int_equal(rc, 0);
	kt_recfile_close(f);
	kt_match_table_free(t1);
	kt_match_table_free(t4);
	kt_match_profile_free(p);
}

static void load_fails(const char *name, const char *text, const char *profile,
		       int code, const char *want)
{
	struct kt_match_profile *p = NULL;
	struct kt_match_table *t = NULL;
	struct kt_error err;
	char *path = put(name, text), msg[600];

	if (profile != NULL) {
		assert_int_equal(
		    kt_match_profile_load_string(profile, &p, &err), KT_OK);
	} else {
		p = company_profile();
	}
	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	assert_int_equal(kt_recfile_load_table(path, t, 2, NULL, &err), code);
	/* want names the file as "@": the temp path goes there */
	{
		const char *at = strchr(want, '@');

		if (at != NULL)
			snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - want),
				 want, path, at + 1);
		else
			snprintf(msg, sizeof(msg), "%s", want);
	}
	assert_string_equal(err.msg, msg);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(path);
}

#define REC(id)                                                                \
	"{\"id\":\"BY:" id "\",\"land\":\"BY\",\"account_id\":\"" id           \
	"\",\"name\":{\"raw\":\"A GmbH\",\"display\":\"A GmbH\",\"key\":"      \
	"\"a\"},\"legal_form\":\"GMBH\"}\n"

static void test_load_errors(void **state)
{
	load_fails("bad.jsonl", REC("1") "{\"id\": nope}\n", NULL,
		   KT_ERR_INVALID,
		   "@:2: invalid JSON at column 11: invalid token near "
		   "'nope'");
	load_fails("noname.jsonl",
		   REC("1") "\n"
			    "{\"land\":\"BY\"}\n",
		   NULL, KT_ERR_INVALID, "@:3: record: .account_id: required");
	load_fails("dup.jsonl", REC("1") REC("2") REC("1"), NULL,
		   KT_ERR_CONFLICT, "@:3: duplicate id 'BY:1'");
	load_fails("cols.jsonl", REC("1"),
		   "{\"fields\":[{\"name\":\"plz\",\"comparison\":\"exact\"}],"
		   "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
		   "\"exact\",\"keys\":[[{\"field\":\"plz\"}]]}]},"
		   "\"thresholds\":{\"auto_merge\":4,\"review\":0}}",
		   KT_ERR_INVALID,
		   "profile field 'plz' is not a column of the importer's "
		   "records (name_key, legal_form, vat, taxno, register, "
		   "postcode, city, street, house_number, email)");
}

static void test_sniff(void **state)
{
	struct kt_error err;
	char *flat = put("flat.jsonl", "{\"id\":\"x\",\"name_key\":\"a\"}\n");
	char *empty = put("empty.jsonl", "");

	assert_int_equal(kt_recfile_sniff(flat, &err), 0);
	assert_int_equal(kt_recfile_sniff(empty, &err), 0);
	free(flat);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_records),
	    cmocka_unit_test(test_load_table),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_sniff),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
