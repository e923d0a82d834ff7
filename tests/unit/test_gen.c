#include <dirent.h>
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
#include "kontor/gen.h"
#include "kontor/ident.h"
#include "kontor/import.h"
#include "kontor/land.h"
#include "kontor/mapping.h"
#include "rm_dir.h"

static char *slurp(const char *path, size_t *len)
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
	if (len)
		*len = (size_t)n;
	return buf;
}

static void gen(const char *dir, uint64_t seed, uint64_t n,
		struct kt_gen_summary *sum)
{
	struct kt_gen_opts o;
	struct kt_error err;

	memset(&o, 0, sizeof(o));
	o.seed = seed;
	o.records = n;
	o.out_dir = dir;
	if (kt_gen_run(&o, sum, &err) != KT_OK)
		fail_msg("generate failed: %s", err.msg);
}

static void data_file(enum kt_land l, char *buf, size_t cap)
{
	const char *c = kt_land_code(l);
	int jsonl = l == KT_LAND_BE || l == KT_LAND_HH;

	snprintf(buf, cap, "%c%c.%s", c[0] + 32, c[1] + 32,
		 jsonl ? "jsonl" : "csv");
}

static void test_files_and_counts(void **state)
{
	char dir[] = "/tmp/kontor-gen-XXXXXX";
	struct kt_gen_summary sum;
	uint64_t rows = 0, rej = 0;
	char path[256], *truth;
	size_t lines = 0;

	assert_non_null(mkdtemp(dir));
	gen(dir, 5, 3000, &sum);
	assert_int_equal(sum.rows, 3000);
	assert_true(sum.entities > 1000 && sum.entities < 3000);
	for (int l = 1; l <= KT_LAND_COUNT; l++) {
		struct kt_mapping *m;
		struct kt_error err;
		char f[32];

		/* every Land has rows, each kind of bad row, a mapping */
		assert_true(sum.rows_by_land[l] > 0);
		assert_true(sum.rejects_by_land[l] >= 4);
		rows += sum.rows_by_land[l];
		rej += sum.rejects_by_land[l];
		data_file((enum kt_land)l, f, sizeof(f));
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		assert_int_equal(access(path, R_OK), 0);
		snprintf(path, sizeof(path), "%s/%c%c.mapping.json", dir, f[0],
			 f[1]);
		if (kt_mapping_load_file(path, &m, &err) != KT_OK)
			fail_msg("%s: %s", path, err.msg);
		assert_int_equal(m->land, l);
		kt_mapping_free(m);
	}
	assert_int_equal(rows, sum.rows);
	assert_int_equal(rej, sum.expected_rejects);
	snprintf(path, sizeof(path), "%s/truth.csv", dir);
	truth = slurp(path, NULL);
	assert_non_null(truth);
	for (char *p = truth; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines - 1, sum.rows - sum.expected_rejects);
	assert_true(strncmp(truth, "record_id,entity_id\n", 20) == 0);
	free(truth);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	{
		json_error_t je;
		json_t *m = json_load_file(path, 0, &je);
		assert_non_null(m);
		assert_int_equal(
		    json_integer_value(json_object_get(m, "records")), 3000);
		assert_int_equal(
		    json_integer_value(json_object_get(m, "expected_rejects")),
		    (json_int_t)sum.expected_rejects);
		assert_int_equal(json_object_size(json_object_get(m, "lands")),
				 16);
		json_decref(m);
	}
	rm_flat(dir);
}

/* Same seed and size: byte-identical files; another seed: different. */
static void test_reproducible(void **state)
{
	char a[] = "/tmp/kontor-gen-XXXXXX", b[] = "/tmp/kontor-gen-XXXXXX";
	char c[] = "/tmp/kontor-gen-XXXXXX";
	struct kt_gen_summary sum;
	const char *names[] = {"truth.csv", "manifest.json",  "by.csv",
			       "bw.csv",    "be.jsonl",	      "rp.csv",
			       "hh.jsonl",  "sn.mapping.json"};

	assert_non_null(mkdtemp(a));
	assert_non_null(mkdtemp(b));
	assert_non_null(mkdtemp(c));
	gen(a, 11, 1500, &sum);
	gen(b, 11, 1500, &sum);
	gen(c, 12, 1500, &sum);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char pa[256], pb[256], pc[256];
		size_t la, lb, lc;
		char *da, *db, *dc;

		snprintf(pa, sizeof(pa), "%s/%s", a, names[i]);
		snprintf(pb, sizeof(pb), "%s/%s", b, names[i]);
		snprintf(pc, sizeof(pc), "%s/%s", c, names[i]);
		da = slurp(pa, &la);
		db = slurp(pb, &lb);
		dc = slurp(pc, &lc);
		assert_int_equal(la, lb);
		assert_memory_equal(da, db, la);
		if (strstr(names[i], "mapping") == NULL)
			assert_true(la != lc || memcmp(da, dc, la) != 0);
		free(da);
		free(db);
		free(dc);
	}
	rm_flat(a);
	rm_flat(b);
	rm_flat(c);
}

/* The importer agrees with the manifest, and the data has the traps. */
static void test_import_agrees(void **state)
{
	char dir[] = "/tmp/kontor-gen-XXXXXX";
	struct kt_gen_summary gs;
	struct kt_import_source src[KT_LAND_COUNT];
	const char *files[KT_LAND_COUNT][1];
	char maps[KT_LAND_COUNT][256], data[KT_LAND_COUNT][256];
	struct kt_import_opts o;
	struct kt_import_summary is;
	struct kt_error err;
	char out[256], rej[256], *recs;

	assert_non_null(mkdtemp(dir));
	gen(dir, 3, 4000, &gs);
	for (int l = 1; l <= KT_LAND_COUNT; l++) {
		char f[32];
		data_file((enum kt_land)l, f, sizeof(f));
		snprintf(data[l - 1], sizeof(data[0]), "%s/%s", dir, f);
		snprintf(maps[l - 1], sizeof(maps[0]), "%s/%c%c.mapping.json",
			 dir, f[0], f[1]);
		files[l - 1][0] = data[l - 1];
		src[l - 1].mapping_path = maps[l - 1];
		src[l - 1].files = files[l - 1];
		src[l - 1].n_files = 1;
	}
	memset(&o, 0, sizeof(o));
	snprintf(out, sizeof(out), "%s/records.jsonl", dir);
	snprintf(rej, sizeof(rej), "%s/rejects.csv", dir);
	o.out_path = out;
	o.rejects_path = rej;
	if (kt_import_run(src, KT_LAND_COUNT, &o, &is, &err) != KT_OK)
		fail_msg("import: %s", err.msg);
	assert_int_equal(is.rows, gs.rows);
	assert_int_equal(is.rejected, gs.expected_rejects);
	assert_int_equal(is.imported, gs.rows - gs.expected_rejects);
	for (int l = 1; l <= KT_LAND_COUNT; l++)
		assert_int_equal(is.rejected_by_land[l], gs.rejects_by_land[l]);
	/* each kind of bad row came through */
	assert_true(is.rejected_by_field[KT_FIELD_ACCOUNT_ID] > 0);
	assert_true(is.rejected_by_field[KT_FIELD_NAME] > 0);
	assert_true(is.duplicate_ids > 0);
	assert_true(is.wrong_field_count > 0);
	/* mostly valid identifiers, some deliberately broken */
	assert_true(is.vat_invalid > 0);
	assert_true(is.vat_invalid * 10 < is.vat_valid);
	assert_true(is.taxno_invalid * 20 < is.taxno_valid);
	assert_true(
	    (double)is.register_known >
	    0.9 * (double)(is.register_known + is.register_unknown_court));
	assert_true(is.postcode_restored > 0);
	recs = slurp(out, NULL);
	assert_non_null(strstr(recs, "Verwaltungs-GmbH"));
	assert_non_null(strstr(recs, "\"legal_form\":\"GMBH_CO_KG\""));
	assert_non_null(strstr(recs, "\"legal_form\":\"EK\""));
	assert_non_null(strstr(recs, "\"legal_form\":\"EV\""));
	assert_non_null(strstr(recs, "\"postcode_restored\":true"));
	free(recs);
	rm_flat(dir);
}

static void test_errors(void **state)
{
	struct kt_gen_opts o;
	struct kt_gen_summary sum;
	struct kt_error err;

	memset(&o, 0, sizeof(o));
	o.records = 15;
	o.out_dir = "/tmp/x";
	assert_int_equal(kt_gen_run(&o, &sum, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "--records must be between 16 and 10000000");
	o.records = 100;
	o.out_dir = NULL;
	assert_int_equal(kt_gen_run(&o, &sum, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "--out is required");
	o.out_dir = "/proc/kontor-no/x";
	assert_int_equal(kt_gen_run(&o, &sum, &err), KT_ERR_IO);
	assert_true(strncmp(err.msg, "/proc/kontor-no: ", 17) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_files_and_counts),
	    cmocka_unit_test(test_reproducible),
	    cmocka_unit_test(test_import_agrees),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
