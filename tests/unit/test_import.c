#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/import.h"

struct fx {
	char dir[64];
	char path[8][128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/kontor-import-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char p[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *put(struct fx *f, int slot, const char *name,
		       const char *data, size_t len)
{
	FILE *fp;
	char tmp[sizeof(f->path[0])];

	snprintf(tmp, sizeof(tmp), "%s/%s", f->dir, name);
	memcpy(f->path[slot], tmp, sizeof(tmp));
	fp = fopen(f->path[slot], "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	return f->path[slot];
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const char BY_MAP[] =
    "{\"land\":\"BY\",\"delimiter\":\";\",\"encoding\":\"windows-1252\","
    "\"columns\":["
    "{\"column\":\"Nr\",\"field\":\"account_id\"},"
    "{\"column\":\"Firma\",\"field\":\"name\"},"
    "{\"column\":\"PLZ\",\"field\":\"postcode\",\"numeric\":true},"
    "{\"column\":\"Ort\",\"field\":\"city\"},"
    "{\"column\":\"USt\",\"field\":\"vat_id\"}]}";

/* Windows-1252: ü = 0xfc */
static const char BY_CSV[] =
    "Nr;Firma;PLZ;Ort;USt\r\n"
    "1;M\xfcller Bau GmbH;1067;Dresden;DE123456788\r\n"
    "2;;80331;M\xfcnchen;\r\n"
    "3;\"Weber; Koch GbR\";80331;M\xfcnchen;DE123456789\r\n"
    "1;Doppelt GmbH;80331;M\xfcnchen;\r\n"
    "4;zu kurz\r\n"
    ";Ohne Nummer GmbH;80331;M\xfcnchen;\r\n";

static const char HH_MAP[] =
    "{\"land\":\"HH\",\"format\":\"jsonl\",\"columns\":["
    "{\"column\":\"id\",\"field\":\"account_id\"},"
    "{\"column\":\"firma.name\",\"field\":\"name\"},"
    "{\"column\":\"plz\",\"field\":\"postcode\",\"numeric\":true},"
    "{\"column\":\"mails\",\"field\":\"email\"}]}";

static const char HH_JSONL[] =
    "{\"id\":\"1\",\"firma\":{\"name\":\"Hanse Logistik GmbH\"},\"plz\":20095,"
    "\"mails\":[\"info@hanse.de\",\"x@hanse.de\"]}\n"
    "{\"id\":\"2\",\"firma\":{\"name\":{\"oops\":1}},\"plz\":20095}\n";

static void run_ok(struct fx *f, struct kt_import_source *src, size_t n,
		   struct kt_import_summary *sum)
{
	struct kt_import_opts o;
	struct kt_error err;
	char out[128], rej[128];

	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%s/records.jsonl", f->dir);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", f->dir);
	o.out_path = out;
	o.rejects_path = rej;
	o.progress = KT_PROGRESS_OFF;
	if (kt_import_run(src, n, &o, sum, &err) != KT_OK)
		fail_msg("import failed: %s", err.msg);
}

static void test_import(void **state)
{
	struct fx *f = *state;
	struct kt_import_summary sum;
	const char *by_files[1], *hh_files[1];
	struct kt_import_source src[2];
	char path[128], *recs, *rejs;
	struct stat st;

	src[0].mapping_path = put(f, 0, "by.json", BY_MAP, strlen(BY_MAP));
	by_files[0] = put(f, 1, "by.csv", BY_CSV, strlen(BY_CSV));
	src[0].files = by_files;
	src[0].n_files = 1;
	src[1].mapping_path = put(f, 2, "hh.json", HH_MAP, strlen(HH_MAP));
	hh_files[0] = put(f, 3, "hh.jsonl", HH_JSONL, strlen(HH_JSONL));
	src[1].files = hh_files;
	src[1].n_files = 1;
	run_ok(f, src, 2, &sum);

	assert_int_equal(sum.files, 2);
	assert_int_equal(sum.rows, 8);
	assert_int_equal(sum.imported, 3);
	assert_int_equal(sum.rejected, 5);
	assert_int_equal(sum.rejected_by_field[KT_FIELD_NAME], 2);
	assert_int_equal(sum.rejected_by_field[KT_FIELD_ACCOUNT_ID], 2);
	assert_int_equal(sum.rejected_by_field[KT_FIELD_IGNORE], 1);
	assert_int_equal(sum.duplicate_ids, 1);
	assert_int_equal(sum.wrong_field_count, 1);
	assert_int_equal(sum.vat_valid, 1);
	assert_int_equal(sum.vat_invalid, 1);
	assert_int_equal(sum.postcode_restored, 1);
	assert_int_equal(sum.imported_by_land[KT_LAND_BY], 2);
	assert_int_equal(sum.imported_by_land[KT_LAND_HH], 1);

	snprintf(path, sizeof(path), "%s/records.jsonl", f->dir);
	recs = slurp(path);
	assert_non_null(recs);
	assert_int_equal(count_lines(recs), 3);
	assert_non_null(strstr(recs, "\"display\":\"Müller Bau GmbH\""));
	assert_non_null(strstr(recs, "\"postcode\":\"01067\""));
	assert_non_null(strstr(recs, "\"emails\":[\"info@hanse.de\","
				     "\"x@hanse.de\"]"));
	/* records hold password hashes: not world-readable */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(recs);

	snprintf(path, sizeof(path), "%s/rejects.csv", f->dir);
	rejs = slurp(path);
	assert_non_null(rejs);
	{
		char want[2048];
		snprintf(want, sizeof(want),
			 "file,line,account_id,field,reason\n"
			 "%s,3,2,name,missing company name\n"
			 "%s,5,1,account_id,duplicate account id (first at "
			 "%s:2)\n"
			 "%s,6,,row,\"expected 5 fields, found 2\"\n"
			 "%s,7,,account_id,missing account id\n"
			 "%s,2,2,name,\"expected text, found an object\"\n",
			 by_files[0], by_files[0], by_files[0], by_files[0],
			 by_files[0], hh_files[0]);
		assert_string_equal(rejs, want);
	}
	free(rejs);

	/* the summary as JSON */
	{
		json_t *j = kt_import_summary_json(&sum);
		assert_int_equal(
		    json_integer_value(json_object_get(j, "rejected")), 5);
		assert_int_equal(
		    json_integer_value(json_object_get(
			json_object_get(json_object_get(j, "lands"), "BY"),
			"imported")),
		    2);
		json_decref(j);
	}
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		kt_import_summary_print(&sum, m);
		fclose(m);
		assert_non_null(strstr(buf, "imported 3\n"));
		assert_non_null(strstr(buf, "rejected 5  (row 1, account_id 2, "
					    "name 2)\n"));
		free(buf);
	}
}

/* A malformed file anywhere: error with file and line, and no output. */
static void test_malformed_stops(void **state)
{
	struct fx *f = *state;
	struct kt_import_source src;
	struct kt_import_opts o;
	struct kt_import_summary sum;
	struct kt_error err;
	const char *files[2];
	char out[128], rej[128], want[256];
	static const char bad[] = "Nr;Firma;PLZ;Ort;USt\r\n"
				  "5;Gut GmbH;80331;M\xfcnchen;\r\n"
				  "6;\"Kaputt GmbH;80331;M\xfcnchen;\r\n";
	DIR *d;
	struct dirent *e;
	int n = 0;

	src.mapping_path = put(f, 0, "by.json", BY_MAP, strlen(BY_MAP));
	files[0] = put(f, 1, "good.csv", BY_CSV, strlen(BY_CSV));
	files[1] = put(f, 2, "bad.csv", bad, strlen(bad));
	src.files = files;
	src.n_files = 2;
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%s/records.jsonl", f->dir);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", f->dir);
	o.out_path = out;
	o.rejects_path = rej;
	assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err),
			 KT_ERR_INVALID);
	snprintf(want, sizeof(want), "%s:3: unterminated quoted field",
		 files[1]);
	assert_string_equal(err.msg, want);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(access(rej, F_OK), -1);
	/* no temporary files left either: only the three inputs */
	d = opendir(f->dir);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 3);
}

/* want: the expected message; with_file: prefixed by the input's path */
static void import_err(struct fx *f, const char *map, const char *data,
		       const char *encoding, int code, int with_file,
		       const char *msg)
{
	struct kt_import_source src;
	struct kt_import_opts o;
	struct kt_import_summary sum;
	struct kt_error err;
	const char *files[1];
	char out[128], rej[128], want[512];

	src.mapping_path = put(f, 0, "m.json", map, strlen(map));
	files[0] = put(f, 1, "in.csv", data, strlen(data));
	src.files = files;
	src.n_files = 1;
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%s/records.jsonl", f->dir);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", f->dir);
	o.out_path = out;
	o.rejects_path = rej;
	o.encoding = encoding;
	kt_error_clear(&err);
	assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err), code);
	snprintf(want, sizeof(want), "%s%s", with_file ? files[0] : "", msg);
	assert_string_equal(err.msg, want);
	assert_int_equal(access(out, F_OK), -1);
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	struct kt_import_source src;
	struct kt_import_opts o;
	struct kt_import_summary sum;
	struct kt_error err;

	/* missing column, empty file, bad encoding */
	import_err(f, BY_MAP, "Nr;Name;PLZ;Ort;USt\n1;x;1;x;x\n", NULL,
		   KT_ERR_INVALID, 1,
		   ":1: column 'Firma' is not in the header");
	import_err(f, BY_MAP, "", NULL, KT_ERR_INVALID, 1,
		   ":1: empty file: no header");
	import_err(f, BY_MAP, "Nr;Firma;PLZ;Ort;USt\n1;M\xfcller;1;x;x\n",
		   "utf-8", KT_ERR_INVALID, 1,
		   ":2: invalid UTF-8 in field 2 (is the file Windows-1252? "
		   "set the encoding)");
	import_err(f, BY_MAP, "x", "utf-16", KT_ERR_INVALID, 0,
		   "--encoding: unknown encoding 'utf-16' (expected utf-8, "
		   "windows-1252 or iso-8859-1)");
	import_err(f, "{\"land\":\"XX\"}", "x", NULL, KT_ERR_INVALID, 0,
		   "mapping: .land: unknown Land code 'XX' (expected one of BW "
		   "BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH)");

	/* options */
	memset(&o, 0, sizeof(o));
	memset(&src, 0, sizeof(src));
	assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "--out and --rejects are required");
	o.out_path = o.rejects_path = "/tmp/x";
	assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "--out and --rejects must differ");
	o.rejects_path = "/tmp/y";
	src.mapping_path = put(f, 0, "m.json", BY_MAP, strlen(BY_MAP));
	assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err),
			 KT_ERR_INVALID);
	{
		char want[256];
		snprintf(want, sizeof(want),
			 "%s: no input files follow this mapping",
			 src.mapping_path);
		assert_string_equal(err.msg, want);
	}
	{
		const char *files[1] = {"/nonexistent/in.csv"};
		src.files = files;
		src.n_files = 1;
		assert_int_equal(kt_import_run(&src, 1, &o, &sum, &err),
				 KT_ERR_IO);
		assert_string_equal(err.msg, "/nonexistent/in.csv: No such "
					     "file or directory");
	}
}

/* A header-less file binds by index on its first record. */
static void test_headerless(void **state)
{
	struct fx *f = *state;
	struct kt_import_source src;
	struct kt_import_summary sum;
	const char *files[1];
	static const char map[] =
	    "{\"land\":\"RP\",\"header\":false,\"delimiter\":\"|\","
	    "\"columns\":[{\"index\":0,\"field\":\"account_id\"},"
	    "{\"index\":2,\"field\":\"name\"}]}";
	static const char data[] = "A1|x|Mainzer Wein eG\n"
				   "A2|y|Rhein AG|extra\n"
				   "A3|z|Pfalz GmbH\n";

	src.mapping_path = put(f, 0, "rp.json", map, strlen(map));
	files[0] = put(f, 1, "rp.csv", data, strlen(data));
	src.files = files;
	src.n_files = 1;
	run_ok(f, &src, 1, &sum);
	assert_int_equal(sum.rows, 3);
	assert_int_equal(sum.imported, 2);
	assert_int_equal(sum.wrong_field_count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_import, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_stops, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_headerless, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
