#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/match.h"
#include "kontor/matchsynth.h"

/* ---- helpers ---------------------------------------------------------- */

static struct kt_match_profile *profile(const char *json)
{
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	if (kt_match_profile_load_string(json, &p, &err) != KT_OK)
		fail_msg("profile rejected: %s", err.msg);
	return p;
}

static char *source_path(const char *rel)
{
	const char *dir = getenv("KONTOR_SOURCE_DIR");
	char *p = NULL;

	if (dir == NULL)
		fail_msg("KONTOR_SOURCE_DIR not set (run through ctest)");
	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		fail();
	return p;
}

static struct kt_match_profile *company_profile(void)
{
	char *path = source_path("docs/profiles/company.json");
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	if (kt_match_profile_load_file(path, &p, &err) != KT_OK)
		fail_msg("%s", err.msg);
	free(path);
	return p;
}

/* Write text to a fresh temp file; the caller unlinks and frees. */
static char *temp_file(const char *suffix, const char *text, size_t n)
{
	char *path = NULL;
	FILE *f;
	int fd;

	if (asprintf(&path, "/tmp/kt_match_XXXXXX%s", suffix) < 0)
		fail();
	fd = mkstemps(path, (int)strlen(suffix));
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
	return path;
}

static void add(struct kt_match_table *t, const char *id,
		const char *const *vals, const int *valid)
{
	struct kt_error err;

	if (kt_match_table_add(t, id, vals, valid, &err) != KT_OK)
		fail_msg("add %s: %s", id, err.msg);
}

static int has_pair(const struct kt_match *m, const struct kt_match_table *t,
		    const char *x, const char *y)
{
	uint32_t a, b;

	assert_int_equal(kt_match_table_find(t, x, &a), KT_OK);
	assert_int_equal(kt_match_table_find(t, y, &b), KT_OK);
	return kt_match_find_pair(m, a, b) >= 0;
}

/* A profile of five fields with one pass given by the caller. */
static struct kt_match_profile *small_profile(const char *blocking)
{
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\"name\":\"small\",\"fields\":["
		 "{\"name\":\"name\",\"comparison\":\"jaro_winkler\","
		 "\"bands\":[0.9]},"
		 "{\"name\":\"city\",\"comparison\":\"exact\"},"
		 "{\"name\":\"vat\",\"comparison\":\"identifier\","
		 "\"strong\":true},"
		 "{\"name\":\"reg\",\"comparison\":\"identifier\","
		 "\"strong\":true,\"scope_parts\":1},"
		 "{\"name\":\"pc\",\"comparison\":\"numeric\","
		 "\"bands\":[0,10]}],"
		 "\"blocking\":%s,"
		 "\"thresholds\":{\"auto_merge\":4,\"review\":0}}",
		 blocking);
	return profile(json);
}

static struct kt_match *run_blocking(const struct kt_match_profile *p,
				     const struct kt_match_table *t)
{
	struct kt_match *m = NULL;
	struct kt_error err;

	assert_int_equal(kt_match_new(p, t, 2, &m, &err), KT_OK);
	if (kt_match_block(m, &err) != KT_OK)
		fail_msg("%s", err.msg);
	return m;
}

/* ---- table ------------------------------------------------------------ */

static void test_table(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	struct kt_match_table *t = NULL;
	const char *v1[] = {"mueller bau", "kiel", "DE123456788", NULL, ""};
	const int valid[] = {1, 1, 0, 1, 1};
	char big[KT_MATCH_VALUE_MAX + 2];
	const char *v2[] = {big, "", "", "", ""};
	const char *v3[] = {"m\xfcller", "", "", "", ""};
	struct kt_error err;
	uint32_t rec;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "r1", v1, NULL);
	add(t, "r2", v1, valid);
	assert_int_equal(kt_match_table_size(t), 2);
	assert_ptr_equal(kt_match_table_profile(t), p);
	assert_int_equal(kt_match_table_find(t, "r2", &rec), KT_OK);
	assert_int_equal(rec, 1);
	assert_int_equal(kt_match_table_find(t, "r3", &rec), KT_ERR_NOTFOUND);
	assert_string_equal(kt_match_table_id(t, 0), "r1");
	assert_null(kt_match_table_id(t, 2));
	assert_string_equal(kt_match_table_value(t, 0, 0), "mueller bau");
	assert_string_equal(kt_match_table_value(t, 0, 3), "");
	/* Valid when present unless flagged; missing is never valid. */
	assert_true(kt_match_table_valid(t, 0, 2));
	assert_false(kt_match_table_valid(t, 1, 2));
	assert_false(kt_match_table_valid(t, 0, 3));
	assert_false(kt_match_table_valid(t, 0, 4));

	assert_int_equal(kt_match_table_add(t, "r1", v1, NULL, &err),
			 KT_ERR_CONFLICT);
	assert_string_equal(err.msg, "duplicate id 'r1'");
	assert_int_equal(kt_match_table_add(t, "bad\tid", v1, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "id: must be 1 to 256 bytes of UTF-8 without "
			    "control characters");
	assert_int_equal(kt_match_table_add(t, "", v1, NULL, &err),
			 KT_ERR_INVALID);
	assert_int_equal(kt_match_table_add(t, NULL, v1, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "id: required");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(kt_match_table_add(t, "r9", v2, NULL, &err),
			 KT_ERR_LIMIT);
	assert_string_equal(err.msg, "field 'name': longer than 1024 bytes");
	assert_int_equal(kt_match_table_add(t, "r9", v3, NULL, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "field 'name': not valid UTF-8");
	/* A failed add leaves nothing behind: r9 is still free. */
	add(t, "r9", v1, NULL);
	assert_int_equal(kt_match_table_find(t, "r9", &rec), KT_OK);
	assert_int_equal(rec, 2);
	kt_match_table_free(t);
	kt_match_table_free(NULL);
	kt_match_profile_free(p);
}

static void read_fails(const struct kt_match_profile *p, const char *suffix,
		       const char *text, size_t n, int code, const char *msg)
{
	struct kt_match_table *t = NULL;
	char *path = temp_file(suffix, text, n);
	char want[512];
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	assert_int_equal(
	    kt_match_table_read_file(t, path, KT_MATCH_FORMAT_AUTO, &err),
	    code);
	snprintf(want, sizeof(want), "%s%s", path, msg);
	if (strcmp(err.msg, want) != 0)
		fail_msg("got  %s\nwant %s", err.msg, want);
	unlink(path);
	free(path);
	kt_match_table_free(t);
}

static void test_read_tsv(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	const char *text =
	    "\xef\xbb\xbfid\tname\tcity\tvat\treg\tpc\tvat.valid\textra\r\n"
	    "r1\tm\xc3\xbcller\\tbau\tkiel\tDE1\t\t24103\t0\tx\r\n"
	    "\n"
	    "r2\tschmidt\\\\\t\tDE2\tk|1\t\t\tignored\n"
	    "r3\tweber\tkiel\tDE3\t\t\ttrue\t";
	struct kt_match_table *t = NULL;
	char *path = temp_file(".tsv", text, strlen(text));
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	if (kt_match_table_read_file(t, path, KT_MATCH_FORMAT_AUTO, &err) !=
	    KT_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(kt_match_table_size(t), 3);
	assert_string_equal(kt_match_table_value(t, 0, 0),
			    "m\xc3\xbcller\tbau");
	assert_string_equal(kt_match_table_value(t, 1, 0), "schmidt\\");
	assert_string_equal(kt_match_table_value(t, 1, 1), "");
	assert_false(kt_match_table_valid(t, 0, 2)); /* flagged 0 */
	assert_true(kt_match_table_valid(t, 1, 2));  /* empty flag: present */
	assert_true(kt_match_table_valid(t, 2, 2));
	assert_string_equal(kt_match_table_id(t, 2), "r3");
	unlink(path);
	free(path);
	kt_match_table_free(t);

	read_fails(p, ".tsv", "", 0, KT_ERR_INVALID,
		   ": empty file (no header)");
	read_fails(p, ".tsv", "name\tcity\tvat\treg\tpc\n", 19, KT_ERR_INVALID,
		   ":1: header has no 'id' column");
	read_fails(p, ".tsv", "id\tname\tvat\treg\tpc\n", 19, KT_ERR_INVALID,
		   ":1: header has no column for field 'city'");
	read_fails(p, ".tsv", "id\tname\tname\n", 13, KT_ERR_INVALID,
		   ":1: column 'name' twice");
	text =
	    "id\tname\tcity\tvat\treg\tpc\nr1\ta\tb\tc\td\te\nr2\ta\tb\tc\td\n";
	read_fails(p, ".tsv", text, strlen(text), KT_ERR_INVALID,
		   ":3: 5 columns, the header has 6");
	text = "id\tname\tcity\tvat\treg\tpc\nr1\ta\tb\tc\td\te\tf\n";
	read_fails(p, ".tsv", text, strlen(text), KT_ERR_INVALID,
		   ":2: more than the header's 6 columns");
	text = "id\tname\tcity\tvat\treg\tpc\nr1\ta\\x\tb\tc\td\te\n";
	read_fails(p, ".tsv", text, strlen(text), KT_ERR_INVALID,
		   ":2: column 2: unknown escape (only \\t \\n \\r \\\\)");
	text =
	    "id\tname\tcity\tvat\treg\tpc\tvat.valid\nr1\ta\tb\tc\td\te\tyes\n";
	read_fails(
	    p, ".tsv", text, strlen(text), KT_ERR_INVALID,
	    ":2: column 'vat.valid': must be 1, 0, true, false or empty");
	text = "id\tname\tcity\tvat\treg\tpc\nr1\ta\tb\tc\td\te\nr1\ta\tb\tc\td"
	       "\te\n";
	read_fails(p, ".tsv", text, strlen(text), KT_ERR_CONFLICT,
		   ":3: duplicate id 'r1'");
	text = "id\tname\tcity\tvat\treg\tpc\nr1\ta\xff\tb\tc\td\te\n";
	read_fails(p, ".tsv", text, strlen(text), KT_ERR_INVALID,
		   ":2: field 'name': not valid UTF-8");
	read_fails(p, ".tsv",
		   "id\tname\tcity\tvat\treg\tpc\nr1\ta\0\tb\tc\td\te\n", 37,
		   KT_ERR_INVALID, ":2: NUL byte");
	{
		size_t n = 1024 * 1024 + 100;
		char *big = malloc(n);

		assert_non_null(big);
		memset(big, 'a', n);
		memcpy(big, "id\tname\tcity\tvat\treg\tpc\nr", 25);
		read_fails(p, ".tsv", big, n, KT_ERR_LIMIT,
			   ":2: line longer than 1048576 bytes");
		free(big);
	}
	{
		struct kt_match_table *t2 = NULL;

		assert_int_equal(kt_match_table_new(p, &t2), KT_OK);
		assert_int_equal(
		    kt_match_table_read_file(t2, "/nonexistent.tsv",
					     KT_MATCH_FORMAT_TSV, &err),
		    KT_ERR_IO);
		assert_string_equal(err.msg,
				    "/nonexistent.tsv: No such file or "
				    "directory");
		kt_match_table_free(t2);
	}
	kt_match_profile_free(p);
}

static void test_read_jsonl(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	const char *text =
	    "{\"id\":\"r1\",\"name\":\"m\\u00fcller\",\"vat\":\"DE1\","
	    "\"vat.valid\":false,\"other\":[1,2]}\n"
	    "\n"
	    "{\"id\":\"r2\",\"name\":null,\"city\":\"kiel\"}\n";
	struct kt_match_table *t = NULL;
	char *path = temp_file(".jsonl", text, strlen(text));
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	if (kt_match_table_read_file(t, path, KT_MATCH_FORMAT_AUTO, &err) !=
	    KT_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(kt_match_table_size(t), 2);
	assert_string_equal(kt_match_table_value(t, 0, 0), "m\xc3\xbcller");
	assert_false(kt_match_table_valid(t, 0, 2));
	assert_string_equal(kt_match_table_value(t, 1, 0), "");
	assert_string_equal(kt_match_table_value(t, 1, 1), "kiel");
	unlink(path);
	free(path);
	kt_match_table_free(t);

	text = "{\"name\":\"x\"}\n";
	read_fails(p, ".jsonl", text, strlen(text), KT_ERR_INVALID,
		   ":1: .id: required, a string");
	text = "{\"id\":\"a\"}\n{\"id\":\"b\",\"name\":5}\n";
	read_fails(p, ".jsonl", text, strlen(text), KT_ERR_INVALID,
		   ":2: .name: must be a string or null");
	text = "{\"id\":\"a\",\"vat.valid\":\"yes\"}\n";
	read_fails(p, ".jsonl", text, strlen(text), KT_ERR_INVALID,
		   ":1: .vat.valid: must be true, false or null");
	text = "[1]\n";
	read_fails(p, ".jsonl", text, strlen(text), KT_ERR_INVALID,
		   ":1: not a JSON object");
	text = "{\"id\":\"a\"}\n{\"id\":\"a\"}\n";
	read_fails(p, ".jsonl", text, strlen(text), KT_ERR_CONFLICT,
		   ":2: duplicate id 'a'");
	{
		struct kt_match_table *t2 = NULL;
		char *bad = temp_file(".ndjson", "{\"id\":", 6);

		assert_int_equal(kt_match_table_new(p, &t2), KT_OK);
		assert_int_equal(kt_match_table_read_file(
				     t2, bad, KT_MATCH_FORMAT_AUTO, &err),
				 KT_ERR_INVALID);
		assert_non_null(strstr(err.msg, ":1: column "));
		unlink(bad);
		free(bad);
		kt_match_table_free(t2);
	}
	kt_match_profile_free(p);
}

static void test_tsv_roundtrip(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	struct kt_match_table *t = NULL, *t2 = NULL;
	const char *v[] = {"a\tb\\c\nd", "kiel", "DE1", "", "1"};
	const int valid[] = {1, 1, 0, 1, 1};
	char *buf = NULL, *path;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "x,1", v, valid);
	assert_int_equal(kt_match_table_write_tsv(t, f), KT_OK);
	fclose(f);
	path = temp_file(".tsv", buf, n);
	assert_int_equal(kt_match_table_new(p, &t2), KT_OK);
	if (kt_match_table_read_file(t2, path, KT_MATCH_FORMAT_TSV, &err) !=
	    KT_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(kt_match_table_id(t2, 0), "x,1");
	for (unsigned c = 0; c < 5; c++) {
		assert_string_equal(kt_match_table_value(t2, 0, c), v[c]);
		assert_int_equal(kt_match_table_valid(t2, 0, c),
				 kt_match_table_valid(t, 0, c));
	}
	unlink(path);
	free(path);
	free(buf);
	kt_match_table_free(t);
	kt_match_table_free(t2);
	kt_match_profile_free(p);
}

static void test_labels(void **state)
{
	const char *csv = "record,entity,extra\n"
			  "r1,e1,x\n"
			  "\"r,2\",\"e\"\"1\"\n"
			  "r3,e2\n";
	char *path = temp_file(".csv", csv, strlen(csv)), *bad;
	struct kt_match_labels *l = NULL;
	struct kt_error err;

	if (kt_match_labels_read(path, &l, &err) != KT_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(kt_match_labels_size(l), 3);
	kt_match_labels_free(l);
	unlink(path);
	free(path);

	csv = "id,entity\nr1,e1\nr1,e2\n";
	bad = temp_file(".csv", csv, strlen(csv));
	assert_int_equal(kt_match_labels_read(bad, &l, &err), KT_ERR_CONFLICT);
	assert_non_null(strstr(err.msg, ":3: duplicate id 'r1'"));
	unlink(bad);
	free(bad);
	csv = "id,entity\n\"r1,e1\n";
	bad = temp_file(".csv", csv, strlen(csv));
	assert_int_equal(kt_match_labels_read(bad, &l, &err), KT_ERR_INVALID);
	assert_non_null(strstr(err.msg, ":2: malformed quotes"));
	unlink(bad);
	free(bad);
	csv = "id\tentity\nr1\n";
	bad = temp_file(".tsv", csv, strlen(csv));
	assert_int_equal(kt_match_labels_read(bad, &l, &err), KT_ERR_INVALID);
	assert_non_null(strstr(err.msg, ":2: expected an id and a label"));
	unlink(bad);
	free(bad);
	assert_null(l);
}

/* ---- blocking --------------------------------------------------------- */

static void test_block_identifiers(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"ids\",\"method\":\"exact\",\"keys\":["
	    "[{\"field\":\"vat\",\"valid_only\":true}],"
	    "[{\"field\":\"reg\",\"valid_only\":true}]]}]}");
	struct kt_match_table *t = NULL;
	const char *a[] = {"a", "", "DE1", "k|1", ""};
	const char *b[] = {"b", "", "DE1", "", ""};
	const char *c[] = {"c", "", "DE2", "k|1", ""};
	const char *d[] = {"d", "", "DE2", "", ""};
	const char *e[] = {"e", "", "", "", ""};
	const int invalid_vat[] = {1, 1, 0, 1, 1};
	struct kt_match *m;
	const struct kt_match_pass_stats *st;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "a", a, NULL);
	add(t, "b", b, NULL);
	add(t, "c", c, NULL);
	add(t, "d", d, invalid_vat); /* same string, but not valid */
	add(t, "e", e, NULL);
	m = run_blocking(p, t);
	/* a-b share a valid VAT, a-c a register; c-d share an invalid VAT. */
	assert_int_equal(kt_match_npairs(m), 2);
	assert_true(has_pair(m, t, "a", "b"));
	assert_true(has_pair(m, t, "c", "a"));
	assert_false(has_pair(m, t, "c", "d"));
	st = kt_match_pass(m, 0);
	assert_string_equal(st->name, "ids");
	assert_int_equal(st->keys, 5); /* 3 VAT + 2 register */
	assert_int_equal(st->blocks, 2);
	assert_int_equal(st->produced, 2);
	assert_int_equal(st->new_pairs, 2);
	assert_null(kt_match_pass(m, 1));
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

static void test_block_tokens_and_oversize(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"max_block_size\":3,\"passes\":[{\"name\":\"tok\",\"method\":"
	    "\"exact\",\"keys\":[[{\"field\":\"pc\"},{\"field\":\"name\","
	    "\"transform\":\"tokens\",\"min_length\":3}]]}]}");
	struct kt_match_profile *pw = small_profile(
	    "{\"max_block_size\":3,\"oversize_window\":2,"
	    "\"oversize_sort_field\":\"name\",\"passes\":[{\"name\":\"tok\","
	    "\"method\":\"exact\",\"keys\":[[{\"field\":\"pc\"},{\"field\":"
	    "\"name\",\"transform\":\"tokens\",\"min_length\":3}]]}]}");
	const char *rows[][5] = {
	    {"mueller bau", "", "", "", "24103"},
	    {"bau mueller bau", "", "", "", "24103"},
	    {"mueller ab", "", "", "", "24103"},
	    {"schmidt ab", "", "", "", "24103"},  /* "ab" too short */
	    {"mueller bau", "", "", "", "10115"}, /* other postcode */
	    {"mueller", "", "", "", "24103"},
	};
	const struct kt_match_pass_stats *st;
	struct kt_match_table *t = NULL, *tw = NULL;
	struct kt_match *m;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	assert_int_equal(kt_match_table_new(pw, &tw), KT_OK);
	for (int i = 0; i < 6; i++) {
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		add(t, id, rows[i], NULL);
		add(tw, id, rows[i], NULL);
	}
	m = run_blocking(p, t);
	st = kt_match_pass(m, 0);
	/* Block "24103 mueller" has r0 r1 r2 r5: 4 > 3, skipped. Block
	 * "24103 bau" has r0 r1 (r1's "bau" twice counts once). */
	assert_int_equal(st->oversize_blocks, 1);
	assert_int_equal(st->oversize_records, 4);
	assert_int_equal(kt_match_npairs(m), 1);
	assert_true(has_pair(m, t, "r0", "r1"));
	assert_false(has_pair(m, t, "r0", "r4"));
	assert_false(has_pair(m, t, "r2", "r3"));
	kt_match_free(m);
	/* Windowed instead: the oversize block sorted by name, window 2
	 * pairs neighbours: bau mueller bau | mueller | mueller ab |
	 * mueller bau. */
	m = run_blocking(pw, tw);
	st = kt_match_pass(m, 0);
	assert_int_equal(st->oversize_blocks, 1);
	assert_true(has_pair(m, tw, "r1", "r5"));
	assert_true(has_pair(m, tw, "r5", "r2"));
	assert_true(has_pair(m, tw, "r2", "r0"));
	assert_true(has_pair(m, tw, "r0", "r1")); /* from block "bau" */
	assert_false(has_pair(m, tw, "r1", "r2"));
	assert_int_equal(kt_match_npairs(m), 4);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_table_free(tw);
	kt_match_profile_free(p);
	kt_match_profile_free(pw);
}

static void test_block_phonetic_prefix(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"ph\",\"method\":\"exact\",\"keys\":[[{"
	    "\"field\":\"name\",\"transform\":\"cologne\"},{\"field\":\"pc\","
	    "\"transform\":\"prefix\",\"length\":2}]]}]}");
	const char *rows[][5] = {
	    {"Meyer", "", "", "", "24103"},   {"Maier", "", "", "", "24999"},
	    {"Mayr", "", "", "", "10115"},    {"Müller", "", "", "", "24103"},
	    {"Mueller", "", "", "", "24000"}, {"---", "", "", "", "24103"},
	    {"", "", "", "", "24103"},
	};
	struct kt_match_table *t = NULL;
	struct kt_match *m;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	for (int i = 0; i < 7; i++) {
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		add(t, id, rows[i], NULL);
	}
	m = run_blocking(p, t);
	assert_true(has_pair(m, t, "r0", "r1"));  /* 67 in 24xxx */
	assert_false(has_pair(m, t, "r0", "r2")); /* 67 but in 10xxx */
	assert_true(has_pair(m, t, "r3", "r4"));  /* 657 in 24xxx */
	assert_int_equal(kt_match_npairs(m), 2);  /* no code: no key */
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

static void test_block_sorted_neighbourhood(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":["
	    "{\"name\":\"fwd\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\",\"window\":2},"
	    "{\"name\":\"rev\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\",\"window\":2,\"reversed\":true}]}");
	const char *names[] = {"kraus bau", "brause bau", "ernst bau",
			       "xraus bau", "zander",	  ""};
	struct kt_match_table *t = NULL;
	const struct kt_match_pass_stats *fwd, *rev;
	struct kt_match *m;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	for (int i = 0; i < 6; i++) {
		const char *v[] = {names[i], "", "", "", ""};
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		add(t, id, v, NULL);
	}
	m = run_blocking(p, t);
	fwd = kt_match_pass(m, 0);
	rev = kt_match_pass(m, 1);
	/* Forward: brause ernst kraus xraus zander -> 4 neighbour pairs. */
	assert_int_equal(fwd->keys, 5);
	assert_int_equal(fwd->produced, 4);
	assert_true(has_pair(m, t, "r1", "r2"));
	assert_true(has_pair(m, t, "r3", "r4"));
	/* Reversed, the typo in the first letter sorts "kraus bau" next to
	 * "xraus bau": "uab suark" / "uab suarx". */
	assert_true(has_pair(m, t, "r0", "r3"));
	assert_true(rev->new_pairs >= 1);
	assert_int_equal(rev->produced, 4);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

static void test_block_minhash_and_union(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":["
	    "{\"name\":\"mh\",\"method\":\"minhash_lsh\",\"field\":\"name\","
	    "\"bands\":16,\"rows\":2},"
	    "{\"name\":\"again\",\"method\":\"minhash_lsh\",\"field\":"
	    "\"name\",\"bands\":16,\"rows\":2}]}");
	const char *names[] = {"bergmann motoren", "bergmanngmotoren",
			       "bergmann motoren", "quxxly zzyzx"};
	struct kt_match_table *t = NULL;
	const struct kt_match_pass_stats *a, *b;
	struct kt_match *m;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	for (int i = 0; i < 4; i++) {
		const char *v[] = {names[i], "", "", "", ""};
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		add(t, id, v, NULL);
	}
	m = run_blocking(p, t);
	a = kt_match_pass(m, 0);
	b = kt_match_pass(m, 1);
	/* Equal strings share every band; a near-copy (one space turned
	 * into a letter) almost surely shares one of 16 bands. */
	assert_true(has_pair(m, t, "r0", "r2"));
	assert_true(has_pair(m, t, "r0", "r1"));
	assert_false(has_pair(m, t, "r0", "r3"));
	assert_int_equal(a->keys, 64);
	/* The second pass is the same: nothing new, but all produced, and
	 * every pair carries both pass bits. */
	assert_int_equal(b->produced, a->produced);
	assert_int_equal(b->new_pairs, 0);
	for (size_t i = 0; i < kt_match_npairs(m); i++) {
		uint32_t x, y;
		unsigned mask;
		uint64_t pat;

		kt_match_pair(m, i, &x, &y, &mask, &pat);
		assert_true(x < y);
		assert_int_equal(mask, 3);
	}
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* ---- EM --------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static double unit(uint64_t *s)
{
	return (double)rnd(s) / 9007199254740992.0;
}

static unsigned draw(uint64_t *s, const double *p, unsigned n)
{
	double u = unit(s), c = 0;

	for (unsigned l = 1; l < n; l++) {
		c += p[l];
		if (u < c)
			return l;
	}
	return n - 1;
}

/*
 * Patterns drawn from a known model must give that model back: three
 * conditionally independent fields identify a two-class mixture.
 */
static void test_em_recovers_known_model(void **state)
{
	struct kt_match_profile *p = profile(
	    "{\"fields\":["
	    "{\"name\":\"x\",\"comparison\":\"exact\"},"
	    "{\"name\":\"y\",\"comparison\":\"jaro_winkler\",\"bands\":[0.9]},"
	    "{\"name\":\"z\",\"comparison\":\"numeric\",\"bands\":[0,10,100]}],"
	    "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	    "\"keys\":[[{\"field\":\"x\"}]]}]},"
	    "\"thresholds\":{\"auto_merge\":4,\"review\":0},"
	    "\"em\":{\"max_iterations\":1000,\"tolerance\":1e-9}}");
	const double m_true[3][5] = {
	    {0, 0.9, 0.1}, {0, 0.7, 0.2, 0.1}, {0, 0.6, 0.25, 0.1, 0.05}};
	const double u_true[3][5] = {
	    {0, 0.05, 0.95}, {0, 0.01, 0.04, 0.95}, {0, 0.02, 0.03, 0.15, 0.8}};
	const unsigned nl[3] = {3, 4, 5};
	const double lambda = 0.15;
	uint64_t pats[4 * 5 * 6], counts[4 * 5 * 6] = {0}, s = 42;
	size_t npat = 0;
	struct kt_match_model model;
	unsigned it;
	int conv;

	for (unsigned a = 0; a < 3; a++)
		for (unsigned b = 0; b < 4; b++)
			for (unsigned c = 0; c < 5; c++)
				pats[npat++] = a | b << 4 | c << 8;
	for (int i = 0; i < 400000; i++) {
		int match = unit(&s) < lambda;
		uint64_t pat = 0;

		for (unsigned f = 0; f < 3; f++) {
			unsigned l =
			    unit(&s) < 0.1
				? 0 /* missing at random */
				: draw(&s, match ? m_true[f] : u_true[f],
				       nl[f]);
			pat |= (uint64_t)l << (4 * f);
		}
		for (size_t k = 0; k < npat; k++)
			if (pats[k] == pat)
				counts[k]++;
	}
	kt_match_model_init(p, &model);
	it = kt_match_em_fit(&model, pats, counts, npat, kt_match_profile_em(p),
			     &conv);
	assert_true(conv);
	assert_true(it > 2);
	assert_float_equal(model.lambda, lambda, 0.01);
	for (unsigned f = 0; f < 3; f++)
		for (unsigned l = 1; l < nl[f]; l++) {
			if (fabs(model.m[f][l] - m_true[f][l]) > 0.02 ||
			    fabs(model.u[f][l] - u_true[f][l]) > 0.01)
				fail_msg(
				    "field %u level %u: m %.4f (true %.4f) "
				    "u %.4f (true %.4f)",
				    f, l, model.m[f][l], m_true[f][l],
				    model.u[f][l], u_true[f][l]);
		}
	/* Weights follow: agreement positive, disagreement negative. */
	assert_true(kt_match_model_weight(&model, 0, 1) > 3);
	assert_true(kt_match_model_weight(&model, 0, 2) < -3);
	assert_float_equal(kt_match_model_weight(&model, 0, 0), 0, 0);
	/* No pattern, no change. */
	{
		struct kt_match_model before = model;

		kt_match_em_fit(&model, pats, counts, 0, kt_match_profile_em(p),
				&conv);
		assert_memory_equal(&before, &model, sizeof(model));
	}
	kt_match_profile_free(p);
}

struct synth {
	struct kt_match_profile *p;
	struct kt_match_table *t;
	uint32_t *truth;
	struct kt_match *m;
};

static struct synth synth_run(size_t records, uint64_t seed)
{
	struct kt_matchsynth_params sp;
	struct synth s = {0};
	struct kt_error err;

	s.p = company_profile();
	kt_matchsynth_defaults(&sp);
	sp.records = records;
	sp.seed = seed;
	if (kt_matchsynth_generate(s.p, &sp, &s.t, &s.truth, &err) != KT_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(kt_match_new(s.p, s.t, 2, &s.m, &err), KT_OK);
	kt_match_set_truth(s.m, s.truth);
	if (kt_match_block(s.m, &err) != KT_OK ||
	    kt_match_compare(s.m, &err) != KT_OK ||
	    kt_match_estimate(s.m, NULL, &err) != KT_OK ||
	    kt_match_cluster(s.m, &err) != KT_OK)
		fail_msg("%s", err.msg);
	return s;
}

static void synth_free(struct synth *s)
{
	kt_match_free(s->m);
	kt_match_table_free(s->t);
	kt_match_profile_free(s->p);
	free(s->truth);
}

/*
 * On generated data, EM's m and u must be close to what the generator's
 * truth says they are among the candidate pairs: m(level) = share of true
 * pairs at that level, u(level) likewise for the other pairs.
 */
static void test_em_on_synthetic_table(void **state)
{
	struct synth s = synth_run(20000, 7);
	const struct kt_match_model *model = kt_match_get_model(s.m);
	double cm[KT_MATCH_MAX_FIELDS][KT_MATCH_MAX_LEVELS] = {{0}};
	double cu[KT_MATCH_MAX_FIELDS][KT_MATCH_MAX_LEVELS] = {{0}};
	double nm[KT_MATCH_MAX_FIELDS] = {0}, nu[KT_MATCH_MAX_FIELDS] = {0};
	double tm = 0, tt = 0;
	/* name_key, legal_form, vat, taxno, register, email */
	const unsigned fields[] = {0, 1, 2, 3, 4, 9};

	assert_non_null(model);
	for (size_t i = 0; i < kt_match_npairs(s.m); i++) {
		uint32_t a, b;
		unsigned mask;
		uint64_t pat;
		int match;

		kt_match_pair(s.m, i, &a, &b, &mask, &pat);
		match = s.truth[a] == s.truth[b];
		tm += match;
		tt++;
		for (unsigned f = 0; f < 10; f++) {
			unsigned l = kt_match_pattern_level(pat, f);

			if (l == 0)
				continue;
			if (match) {
				cm[f][l]++;
				nm[f]++;
			} else {
				cu[f][l]++;
				nu[f]++;
			}
		}
	}
	assert_float_equal(model->lambda, tm / tt, 0.02);
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		unsigned f = fields[k];

		for (unsigned l = 1; l < model->nlevels[f]; l++) {
			double em = cm[f][l] / nm[f], eu = cu[f][l] / nu[f];

			if (fabs(model->m[f][l] - em) > 0.05 ||
			    fabs(model->u[f][l] - eu) > 0.05)
				fail_msg("field %u level %u: EM m %.4f u %.4f, "
					 "truth m %.4f u %.4f",
					 f, l, model->m[f][l], model->u[f][l],
					 em, eu);
		}
	}
	synth_free(&s);
}

/* ---- scoring and clustering ----------------------------------------- */

static void test_quality_on_synthetic_data(void **state)
{
	struct synth s = synth_run(30000, 3);
	struct kt_match_eval ev;
	uint32_t ncl;
	const uint32_t *cl = kt_match_clusters(s.m, &ncl);
	json_t *sum = kt_match_summary_json(s.m), *b;

	assert_non_null(cl);
	assert_int_equal(
	    kt_match_eval_labels(cl, s.truth, kt_match_table_size(s.t), &ev),
	    KT_OK);
	/* Floors well below what the default profile reaches (about 0.99),
	 * high enough that a broken weight or threshold fails. */
	if (ev.precision < 0.98 || ev.recall < 0.95 || ev.f1 < 0.97)
		fail_msg("precision %.4f recall %.4f F1 %.4f", ev.precision,
			 ev.recall, ev.f1);
	assert_int_equal(kt_match_count_conflicts(s.t, cl), 0);
	b = json_object_get(sum, "blocking");
	assert_true(json_real_value(json_object_get(b, "completeness")) > 0.98);
	assert_non_null(json_object_get(sum, "eval"));
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(sum, "clusters"), "conflicting")),
			 0);
	json_decref(sum);
	synth_free(&s);
}

/*
 * Hand-made records on top of generated background: a known duplicate
 * must score at or above auto-merge and share a cluster; the general
 * partner of a GmbH & Co. KG (same address, near-identical name, its own
 * VAT id) and a namesake elsewhere must not.
 */
static void test_known_pairs(void **state)
{
	struct kt_match_profile *p = company_profile();
	struct kt_matchsynth_params sp;
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	uint32_t *truth = NULL, a, b, c, d, e, ncl;
	struct kt_match_explanation ex;
	struct kt_error err;
	const uint32_t *cl;
	const char *dup1[] = {"kraemer stahlbau",
			      "gmbh",
			      "DE123456788",
			      "",
			      "kiel|HRB|4711",
			      "24103",
			      "kiel",
			      "hauptstr",
			      "12",
			      "info@kraemer.de"};
	const char *dup2[] = {
	    "kramer stahlbau", "gmbh", "",	   "",	 "kiel|HRB|4711",
	    "24103",	       "kiel", "hauptstr", "12", ""};
	const char *kg[] = {"ostwind energie",
			    "gmbh_co_kg",
			    "DE812345673",
			    "",
			    "kiel|HRA|900",
			    "24105",
			    "kiel",
			    "hafenstr",
			    "1",
			    "info@ostwind.de"};
	const char *gp[] = {"ostwind energie verwaltung",
			    "gmbh",
			    "DE271543989",
			    "",
			    "kiel|HRB|901",
			    "24105",
			    "kiel",
			    "hafenstr",
			    "1",
			    "info@ostwind.de"};
	const char *namesake[] = {
	    "kraemer stahlbau", "gmbh",	   "",	"", "", "80331",
	    "muenchen",		"isarweg", "7", ""};

	kt_matchsynth_defaults(&sp);
	sp.records = 20000;
	sp.seed = 11;
	assert_int_equal(kt_matchsynth_generate(p, &sp, &t, &truth, &err),
			 KT_OK);
	add(t, "dup1", dup1, NULL);
	add(t, "dup2", dup2, NULL);
	add(t, "kg", kg, NULL);
	add(t, "gp", gp, NULL);
	add(t, "namesake", namesake, NULL);
	assert_int_equal(kt_match_table_find(t, "dup1", &a), KT_OK);
	assert_int_equal(kt_match_table_find(t, "dup2", &b), KT_OK);
	assert_int_equal(kt_match_table_find(t, "kg", &c), KT_OK);
	assert_int_equal(kt_match_table_find(t, "gp", &d), KT_OK);
	assert_int_equal(kt_match_table_find(t, "namesake", &e), KT_OK);
	assert_int_equal(kt_match_new(p, t, 0, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	assert_int_equal(kt_match_estimate(m, NULL, &err), KT_OK);
	assert_int_equal(kt_match_cluster(m, &err), KT_OK);
	cl = kt_match_clusters(m, &ncl);

	assert_int_equal(kt_match_explain(m, a, b, &ex, &err), KT_OK);
	assert_true(ex.candidate);
	if (ex.weight < kt_match_profile_auto_merge(p))
		fail_msg("known duplicate scored %.2f", ex.weight);
	assert_int_equal(ex.decision, KT_MATCH_MERGE);
	assert_int_equal(cl[a], cl[b]);

	assert_int_equal(kt_match_explain(m, c, d, &ex, &err), KT_OK);
	assert_true(ex.candidate);
	assert_int_equal(ex.conflict_field, 2); /* vat */
	if (ex.weight >= kt_match_profile_auto_merge(p))
		fail_msg("general partner scored %.2f", ex.weight);
	assert_true(cl[c] != cl[d]);

	assert_int_equal(kt_match_explain(m, a, e, &ex, &err), KT_OK);
	if (ex.weight >= kt_match_profile_review(p))
		fail_msg("namesake scored %.2f", ex.weight);
	assert_true(cl[a] != cl[e]);
	assert_int_equal(ex.same_cluster, 0);

	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(truth);
}

/* The level of each comparison for hand-picked values. */
static void test_comparison_levels(void **state)
{
	struct kt_match_profile *p =
	    profile("{\"fields\":["
		    "{\"name\":\"jw\",\"comparison\":\"jaro_winkler\","
		    "\"bands\":[0.95,0.8]},"
		    "{\"name\":\"ts\",\"comparison\":\"token_set\","
		    "\"bands\":[0.6,0.3]},"
		    "{\"name\":\"tc\",\"comparison\":\"token_set\","
		    "\"bands\":[0.9],\"measure\":\"containment\"},"
		    "{\"name\":\"num\",\"comparison\":\"numeric\","
		    "\"bands\":[0,10]},"
		    "{\"name\":\"lev\",\"comparison\":\"levenshtein\","
		    "\"bands\":[1,2]},"
		    "{\"name\":\"ex\",\"comparison\":\"exact\"},"
		    "{\"name\":\"id\",\"comparison\":\"identifier\","
		    "\"scope_parts\":2}],"
		    "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
		    "\"exact\",\"keys\":[[{\"field\":\"ex\"}]]}]},"
		    "\"thresholds\":{\"auto_merge\":4,\"review\":0}}");
	/* Rows: the base record, then one per expectation. */
	const char *rows[][7] = {
	    {"martha", "a b c", "a b", "24103", "kitten", "x", "kiel|HRB|1"},
	    {"marhta", "a b c d e", "a b c", "24103", "sitten", "x",
	     "kiel|HRB|1"},
	    {"martha", "a b x y", "b x", "24110", "sittin", "y", "kiel|HRB|2"},
	    {"zzzzzz", "x y z", "", "nope", "kitten", "", "kiel|HRA|1"},
	    {"marta", "a", "a b", "24200", "sitting", "x", "bonn|HRB|1"},
	};
	/* Expected levels of rows 1..4 against row 0. */
	const unsigned want[4][7] = {
	    /* JW .961, Jaccard .6, containment 1, diff 0, 1 edit, =, = */
	    {2, 2, 2, 1, 2, 1, 1},
	    /* =, Jaccard .4, containment .5, diff 7, 2 edits, !=, same
	     * court and register, other number */
	    {1, 3, 3, 2, 3, 2, 2},
	    /* else, Jaccard 0, missing, no number, =, missing, HRA */
	    {4, 4, 0, 0, 1, 0, 3},
	    /* JW .967, Jaccard 1/3, =, diff 97, 3 edits, =, other court */
	    {2, 3, 1, 3, 4, 1, 3},
	};
	const int valid[] = {1, 1, 1, 1, 1, 1, 1};
	const int invalid_id[] = {1, 1, 1, 1, 1, 1, 0};
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_match_model model;
	struct kt_match_explanation ex;
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		add(t, id, rows[i], valid);
	}
	add(t, "r5", rows[0], invalid_id);
	assert_int_equal(kt_match_new(p, t, 1, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	kt_match_model_init(p, &model);
	assert_int_equal(kt_match_set_model(m, &model, &err), KT_OK);
	for (uint32_t r = 1; r <= 4; r++) {
		assert_int_equal(kt_match_explain(m, 0, r, &ex, &err), KT_OK);
		for (unsigned f = 0; f < 7; f++)
			if (ex.fields[f].level != want[r - 1][f])
				fail_msg("row %u field %u: level %u (%s), "
					 "want %u; similarity %g",
					 r, f, ex.fields[f].level,
					 kt_match_profile_level_name(
					     p, f, ex.fields[f].level),
					 want[r - 1][f],
					 ex.fields[f].similarity);
	}
	assert_int_equal(kt_match_explain(m, 0, 1, &ex, &err), KT_OK);
	assert_float_equal(ex.fields[0].similarity, 0.9611, 0.0001);
	assert_float_equal(ex.fields[1].similarity, 0.6, 1e-12);
	assert_float_equal(ex.fields[4].similarity, 1, 0);
	/* An invalid identifier is missing as far as scoring goes. */
	assert_int_equal(kt_match_explain(m, 0, 5, &ex, &err), KT_OK);
	assert_int_equal(ex.fields[6].level, 0);
	assert_float_equal(ex.fields[6].weight, 0, 0);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* Term-frequency adjustment: an exact agreement on a value many records
 * share weighs less than one on a rare value, by log2(mean count / count),
 * within the field's bounds; other levels are untouched. */
static void test_tf_adjust(void **state)
{
	struct kt_match_profile *p = profile(
	    "{\"fields\":["
	    "{\"name\":\"name\",\"comparison\":\"exact\","
	    "\"tf_adjust\":{\"max_up\":0.5,\"max_down\":3}},"
	    "{\"name\":\"city\",\"comparison\":\"exact\"}],"
	    "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	    "\"keys\":[[{\"field\":\"city\"}]]}]},"
	    "\"thresholds\":{\"auto_merge\":4,\"review\":0}}");
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_match_explanation ex;
	struct kt_error err;
	uint32_t a, b;
	char id[16];
	/* "common" 16 times, "rare" twice, "solo" once: sum c = 19,
	 * sum c^2 = 256 + 4 + 1, mean = 261 / 19 */
	const double mean = 261.0 / 19;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	for (int i = 0; i < 16; i++) {
		const char *v[] = {"common", "town"};

		snprintf(id, sizeof(id), "c%d", i);
		add(t, id, v, NULL);
	}
	{
		const char *r[] = {"rare", "town"}, *o[] = {"solo", "town"};

		add(t, "r0", r, NULL);
		add(t, "r1", r, NULL);
		add(t, "s0", o, NULL);
	}
	assert_int_equal(kt_match_new(p, t, 1, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	assert_int_equal(kt_match_estimate(m, NULL, &err), KT_OK);
	assert_int_equal(kt_match_cluster(m, &err), KT_OK);

	kt_match_table_find(t, "c0", &a);
	kt_match_table_find(t, "c1", &b);
	assert_int_equal(kt_match_explain(m, a, b, &ex, &err), KT_OK);
	assert_int_equal(ex.fields[0].level, 1);
	assert_float_equal(ex.fields[0].tf, log2(mean / 16), 1e-6);
	kt_match_table_find(t, "r0", &a);
	kt_match_table_find(t, "r1", &b);
	assert_int_equal(kt_match_explain(m, a, b, &ex, &err), KT_OK);
	/* log2(mean / 2) = 2.78, capped by max_up */
	assert_float_equal(ex.fields[0].tf, 0.5, 1e-6);
	assert_float_equal(
	    ex.fields[0].weight,
	    kt_match_model_weight(kt_match_get_model(m), 0, 1) + 0.5, 1e-6);
	/* a disagreement is not adjusted; the other field has no tf */
	kt_match_table_find(t, "s0", &b);
	assert_int_equal(kt_match_explain(m, a, b, &ex, &err), KT_OK);
	assert_int_equal(ex.fields[0].level, 2);
	assert_true(ex.fields[0].tf == 0 && ex.fields[1].tf == 0);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* fixed_m: EM leaves the fixed level's m where the profile put it and
 * shares the rest among the free levels. */
static void test_em_fixed_m(void **state)
{
	struct kt_match_profile *p = profile(
	    "{\"fields\":["
	    "{\"name\":\"x\",\"comparison\":\"exact\"},"
	    "{\"name\":\"v\",\"comparison\":\"identifier\",\"strong\":true,"
	    "\"fixed_m\":{\"disagree\":0.002}}],"
	    "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	    "\"keys\":[[{\"field\":\"x\"}]]}]},"
	    "\"thresholds\":{\"auto_merge\":4,\"review\":0}}");
	/* many "look-alike" pairs: x agrees and v disagrees */
	uint64_t pats[] = {1 | 1 << 4, 1 | 2 << 4, 2 | 2 << 4, 2 | 1 << 4};
	uint64_t counts[] = {1000, 5000, 20000, 10};
	struct kt_match_model model;
	int conv;

	kt_match_model_init(p, &model);
	assert_float_equal(model.m[1][2], 0.002, 1e-12);
	kt_match_em_fit(&model, pats, counts, 4, kt_match_profile_em(p), &conv);
	assert_float_equal(model.m[1][2], 0.002, 1e-12);
	assert_float_equal(model.m[1][1], 0.998, 1e-12);
	assert_true(kt_match_model_weight(&model, 1, 2) < -5);
	kt_match_profile_free(p);
}

/* The review queue: every pair between the thresholds, exported as CSV
 * and escaped HTML, and decisions read back into the clustering. */
static void test_review(void **state)
{
	struct kt_match_profile *p = profile(
	    "{\"fields\":["
	    "{\"name\":\"name\",\"comparison\":\"exact\"},"
	    "{\"name\":\"vat\",\"comparison\":\"identifier\",\"strong\":true}],"
	    "\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
	    "\"sorted_neighbourhood\",\"field\":\"name\",\"window\":4}]},"
	    "\"thresholds\":{\"auto_merge\":100,\"review\":-100}}");
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_match_decisions *d = NULL;
	struct kt_error err;
	char *csvp = NULL, *htmlp = NULL, *buf = NULL, *dec;
	size_t n = 0;
	FILE *f;
	uint32_t a, b, c, x;
	const char *v1[] = {"<script>alert(1)</script>", "DE123456788"};
	const char *v2[] = {"<script>alert(1)</script>", ""};
	const char *v3[] = {"Müller & \"Söhne\"", ""};
	const char *v4[] = {"zeta, \"quoted\"", ""};

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "a", v1, NULL);
	add(t, "b", v2, NULL);
	add(t, "c", v3, NULL);
	add(t, "x", v4, NULL);
	assert_int_equal(kt_match_new(p, t, 1, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	assert_int_equal(kt_match_estimate(m, NULL, &err), KT_OK);
	assert_int_equal(kt_match_cluster(m, &err), KT_OK);
	/* 4 records, window 4: all 6 pairs, none joined */
	assert_int_equal(kt_match_review_count(m), 6);
	csvp = temp_file(".csv", "", 0);
	htmlp = temp_file(".html", "", 0);
	f = fopen(csvp, "w");
	assert_int_equal(kt_match_write_review_csv(m, f), KT_OK);
	fclose(f);
	f = fopen(htmlp, "w");
	assert_int_equal(kt_match_write_review_html(m, "Review <1>", f), KT_OK);
	fclose(f);
	f = fopen(htmlp, "r");
	assert_int_equal(getdelim(&buf, &n, '\0', f) > 0, 1);
	fclose(f);
	assert_null(strstr(buf, "<script>"));
	assert_non_null(strstr(buf, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(buf, "Müller &amp; &quot;Söhne&quot;"));
	assert_non_null(strstr(buf, "<title>Review &lt;1&gt;</title>"));
	free(buf);
	buf = NULL;
	f = fopen(csvp, "r");
	assert_int_equal(getdelim(&buf, &n, '\0', f) > 0, 1);
	fclose(f);
	assert_int_equal(strncmp(buf,
				 "decision,id_a,id_b,weight,probability,"
				 "name:a,name:b,name:level,name:weight,"
				 "vat:a,vat:b,vat:level,vat:weight\n",
				 99),
			 0);
	assert_non_null(strstr(buf, "\"zeta, \"\"quoted\"\"\""));
	free(buf);
	buf = NULL;

	/* accept a~b, c~x and b~c, reject a~x; a~c undecided */
	{
		static const char text[] = "id_b,decision,id_a,extra\n"
					   "b,accept,a,1\n"
					   "x,yes,c,2\n"
					   "x,reject,a,3\n"
					   "c,,a,4\n"
					   "a,ACCEPT,b,5\n"
					   "c,accept,b,6\n";

		dec = temp_file(".csv", text, strlen(text));
	}
	assert_int_equal(kt_match_decisions_read(dec, t, &d, &err), KT_OK);
	assert_int_equal(kt_match_decisions_accepted(d), 3);
	assert_int_equal(kt_match_decisions_rejected(d), 1);
	kt_match_free(m);
	assert_int_equal(kt_match_new(p, t, 1, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	assert_int_equal(kt_match_estimate(m, NULL, &err), KT_OK);
	kt_match_set_decisions(m, d);
	assert_int_equal(kt_match_cluster(m, &err), KT_OK);
	kt_match_table_find(t, "a", &a);
	kt_match_table_find(t, "b", &b);
	kt_match_table_find(t, "c", &c);
	kt_match_table_find(t, "x", &x);
	{
		uint32_t nc;
		const uint32_t *cl = kt_match_clusters(m, &nc);
		json_t *sum = kt_match_summary_json(m);
		json_t *r = json_object_get(sum, "review");

		/* b ~ c and c ~ x together would put a and x into one
		 * cluster: a ~ x was rejected, so the one taken last is cut,
		 * through the chain */
		assert_int_equal(cl[a], cl[b]);
		assert_int_not_equal(cl[a], cl[x]);
		assert_true(cl[c] == cl[x] || cl[c] == cl[b]);
		assert_int_equal(nc, 2);
		assert_int_equal(
		    json_integer_value(json_object_get(r, "accepted_joined")),
		    2);
		assert_int_equal(
		    json_integer_value(json_object_get(r, "accepted_refused")),
		    1);
		/* the undecided pairs between different clusters remain */
		assert_int_equal(
		    json_integer_value(json_object_get(r, "queue")),
		    kt_match_review_count(m));
		json_decref(sum);
	}
	{
		char *pp = temp_file(".csv", "", 0);

		f = fopen(pp, "w");
		assert_int_equal(kt_match_write_pairs(m, f, 0), KT_OK);
		fclose(f);
		f = fopen(pp, "r");
		assert_int_equal(getdelim(&buf, &n, '\0', f) > 0, 1);
		fclose(f);
		assert_non_null(strstr(buf, "accepted in review"));
		assert_non_null(strstr(buf, "cannot-link review: "));
		assert_non_null(strstr(buf, " were rejected"));
		free(buf);
		buf = NULL;
		unlink(pp);
		free(pp);
	}
	kt_match_decisions_free(d);
	unlink(dec);
	free(dec);

	/* refusals */
	{
		struct {
			const char *text;
			const char *msg;
		} bad[] = {
		    {"a,b\n", ":1: the header needs the columns id_a, id_b "
			      "and decision (as in the review export)"},
		    {"id_a,id_b,decision\na,b,vielleicht\n",
		     ":2: decision 'vielleicht': expected accept or reject (or "
		     "empty: undecided)"},
		    {"id_a,id_b,decision\na,zz,accept\n",
		     ":2: no record 'zz' in the records"},
		    {"id_a,id_b,decision\na,a,accept\n",
		     ":2: a pair needs two different records"},
		    {"id_a,id_b,decision\na,b,accept\nb,a,reject\n",
		     ":3: a ~ b was accepted on line 2"},
		    {"id_a,id_b,decision\na\n",
		     ":2: 1 columns, fewer than the header's"},
		    {"", ": empty file"},
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char *path =
			    temp_file(".csv", bad[i].text, strlen(bad[i].text));

			assert_int_equal(
			    kt_match_decisions_read(path, t, &d, &err),
			    KT_ERR_INVALID);
			assert_null(d);
			if (strstr(err.msg, bad[i].msg) == NULL)
				fail_msg("got: %s\nwant: ...%s", err.msg,
					 bad[i].msg);
			unlink(path);
			free(path);
		}
	}
	unlink(csvp);
	unlink(htmlp);
	free(csvp);
	free(htmlp);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* Every explanation adds up: prior + fields + groups = total = the weight
 * the run used for its decision. */
static void test_explain_sums(void **state)
{
	struct synth s = synth_run(5000, 5);
	const struct kt_match_model *model = kt_match_get_model(s.m);
	struct kt_match_explanation ex;
	struct kt_error err;
	size_t checked = 0;

	for (size_t i = 0; i < kt_match_npairs(s.m); i += 7) {
		uint32_t a, b;
		unsigned mask;
		uint64_t pat;
		double sum, tf = 0;

		kt_match_pair(s.m, i, &a, &b, &mask, &pat);
		assert_int_equal(kt_match_explain(s.m, b, a, &ex, &err), KT_OK);
		assert_true(ex.candidate);
		assert_int_equal(ex.passes, mask);
		sum = ex.prior;
		for (unsigned f = 0; f < 10; f++) {
			sum += ex.fields[f].weight;
			tf += ex.fields[f].tf;
			assert_int_equal(ex.fields[f].level,
					 kt_match_pattern_level(pat, f));
			/* only an exact agreement is adjusted */
			if (ex.fields[f].level != 1)
				assert_true(ex.fields[f].tf == 0);
		}
		for (unsigned g = 0; g < model->ngroups; g++)
			sum += ex.groups[g].weight;
		assert_float_equal(sum, ex.weight, 1e-9);
		/* the pattern's weight plus the term-frequency adjustments */
		assert_float_equal(ex.weight,
				   kt_match_model_match_weight(model, pat) + tf,
				   1e-9);
		assert_float_equal(ex.probability, 1 / (1 + exp2(-ex.weight)),
				   1e-12);
		checked++;
	}
	assert_true(checked > 100);
	/* Explaining a pair no pass proposed still works. */
	assert_int_equal(kt_match_explain(s.m, 0, 4999, &ex, &err), KT_OK);
	assert_int_equal(kt_match_explain(s.m, 3, 3, &ex, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "explain: two different records needed");
	{
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);
		json_t *j;

		kt_match_explain_print(s.m, &ex, f);
		fclose(f);
		assert_non_null(strstr(buf, "total"));
		assert_non_null(strstr(buf, "[address]"));
		free(buf);
		j = kt_match_explain_json(s.m, &ex);
		assert_int_equal(json_array_size(json_object_get(j, "fields")),
				 10);
		json_decref(j);
	}
	synth_free(&s);
}

/* Records in a cluster never hold conflicting valid strong identifiers,
 * whatever the edges; every accepted edge is either joined or cut, and a
 * cut edge really would have joined conflicting clusters. */
static int conflicts(const struct kt_match_table *t, uint32_t x, uint32_t y)
{
	for (unsigned f = 2; f <= 3; f++) {
		const char *a = kt_match_table_value(t, x, f);
		const char *b = kt_match_table_value(t, y, f);

		if (!kt_match_table_valid(t, x, f) ||
		    !kt_match_table_valid(t, y, f) || strcmp(a, b) == 0)
			continue;
		/* reg: a conflict only within one scope (before the '|') */
		if (f == 3 && (strcspn(a, "|") != strcspn(b, "|") ||
			       strncmp(a, b, strcspn(a, "|")) != 0))
			continue;
		return 1;
	}
	return 0;
}

static void test_cannot_link_random(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	uint64_t s = 2024;

	for (int round = 0; round < 400; round++) {
		struct kt_match_table *t = NULL;
		struct kt_match_edge edges[300];
		struct kt_match_cut *cuts = NULL;
		uint32_t cluster[60], ncl = 0;
		size_t ncuts = 0, n = 20 + rnd(&s) % 40, ne = rnd(&s) % 300;
		struct kt_error err;

		assert_int_equal(kt_match_table_new(p, &t), KT_OK);
		for (size_t i = 0; i < n; i++) {
			char id[32], vat[16], reg[32];
			const char *v[] = {"x", "", vat, reg, ""};
			int valid[] = {1, 1, 1, 1, 1};

			snprintf(id, sizeof(id), "r%zu", i);
			snprintf(vat, sizeof(vat), "%s",
				 rnd(&s) % 2
				     ? ""
				     : (const char *[]){"DE1", "DE2", "DE3",
							"DE4"}[rnd(&s) % 4]);
			snprintf(reg, sizeof(reg), "c%u|%u",
				 (unsigned)(rnd(&s) % 3),
				 (unsigned)(rnd(&s) % 4));
			if (rnd(&s) % 2)
				reg[0] = '\0';
			valid[2] = rnd(&s) % 5 != 0;
			valid[3] = rnd(&s) % 5 != 0;
			add(t, id, v, valid);
		}
		for (size_t i = 0; i < ne; i++) {
			edges[i].a = (uint32_t)(rnd(&s) % n);
			edges[i].b = (uint32_t)(rnd(&s) % n);
			edges[i].weight = (double)(rnd(&s) % 250) / 10.0 - 5;
		}
		assert_int_equal(kt_match_cluster_edges(t, edges, ne, 0,
							cluster, &ncl, &cuts,
							&ncuts, &err),
				 KT_OK);
		assert_int_equal(kt_match_count_conflicts(t, cluster), 0);
		for (uint32_t x = 0; x < n; x++)
			for (uint32_t y = x + 1; y < n; y++)
				if (cluster[x] == cluster[y] &&
				    conflicts(t, x, y))
					fail_msg(
					    "round %d: r%u and r%u conflict "
					    "in one cluster",
					    round, x, y);
		for (size_t i = 0; i < ncuts; i++) {
			int found = 0;

			assert_true(cluster[cuts[i].a] != cluster[cuts[i].b]);
			assert_int_equal(cluster[cuts[i].holder_a],
					 cluster[cuts[i].a]);
			assert_int_equal(cluster[cuts[i].holder_b],
					 cluster[cuts[i].b]);
			for (uint32_t x = 0; x < n && !found; x++)
				for (uint32_t y = 0; y < n && !found; y++)
					found =
					    cluster[x] == cluster[cuts[i].a] &&
					    cluster[y] == cluster[cuts[i].b] &&
					    conflicts(t, x, y);
			assert_true(found);
		}
		/* An accepted edge not cut ends inside one cluster. */
		for (size_t i = 0; i < ne; i++) {
			int cut = 0;

			if (edges[i].weight < 0)
				continue;
			for (size_t k = 0; k < ncuts; k++)
				cut |= cuts[k].a == edges[i].a &&
				       cuts[k].b == edges[i].b;
			if (!cut)
				assert_int_equal(cluster[edges[i].a],
						 cluster[edges[i].b]);
		}
		/* Edges come out strongest first. */
		for (size_t i = 1; i < ne; i++)
			assert_true(edges[i - 1].weight >= edges[i].weight);
		free(cuts);
		kt_match_table_free(t);
	}
	kt_match_profile_free(p);
}

/* The weakest link goes: a-b strong, b-c weak, a and c in conflict. */
static void test_cut_weakest_link(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"s\",\"method\":\"sorted_neighbourhood\","
	    "\"field\":\"name\"}]}");
	struct kt_match_table *t = NULL;
	const char *a[] = {"x", "", "DE1", "", ""};
	const char *b[] = {"x", "", "", "", ""};
	const char *c[] = {"x", "", "DE2", "", ""};
	struct kt_match_edge edges[] = {{1, 2, 5.0}, {0, 1, 9.0}, {0, 2, -1.0}};
	struct kt_match_cut *cuts = NULL;
	uint32_t cluster[3], ncl;
	size_t ncuts;
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "a", a, NULL);
	add(t, "b", b, NULL);
	add(t, "c", c, NULL);
	assert_int_equal(kt_match_cluster_edges(t, edges, 3, 0, cluster, &ncl,
						&cuts, &ncuts, &err),
			 KT_OK);
	assert_int_equal(ncl, 2);
	assert_int_equal(cluster[0], cluster[1]);
	assert_true(cluster[2] != cluster[0]);
	assert_int_equal(ncuts, 1);
	assert_int_equal(cuts[0].a, 1);
	assert_int_equal(cuts[0].b, 2);
	assert_float_equal(cuts[0].weight, 5.0, 0);
	assert_int_equal(cuts[0].field, 2);
	assert_int_equal(cuts[0].holder_a, 0);
	assert_int_equal(cuts[0].holder_b, 2);
	free(cuts);
	edges[0].a = 7;
	assert_int_equal(kt_match_cluster_edges(t, edges, 3, 0, cluster, &ncl,
						&cuts, &ncuts, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "cluster: edge 0 names a record outside "
				     "the table");
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* ---- evaluation, model files, outputs ------------------------------- */

static void test_eval(void **state)
{
	const uint32_t truth[] = {0, 0, 0, 1, 1, 2, KT_MATCH_NONE};
	const uint32_t pred[] = {1, 1, 2, 2, 2, 3, 3};
	struct kt_match_eval ev;

	assert_int_equal(kt_match_eval_labels(pred, truth, 7, &ev), KT_OK);
	assert_int_equal(ev.records, 6);
	assert_int_equal(ev.true_pairs, 4);
	assert_int_equal(ev.predicted_pairs, 4);
	assert_int_equal(ev.true_positives, 2);
	assert_float_equal(ev.precision, 0.5, 1e-12);
	assert_float_equal(ev.recall, 0.5, 1e-12);
	assert_float_equal(ev.f1, 0.5, 1e-12);
	assert_int_equal(ev.clusters, 3);
	assert_int_equal(ev.entities, 3);
	assert_int_equal(ev.false_merges, 1);
	assert_int_equal(ev.split_entities, 1);
	/* Perfect. */
	assert_int_equal(kt_match_eval_labels(truth, truth, 6, &ev), KT_OK);
	assert_float_equal(ev.f1, 1.0, 1e-12);
	assert_int_equal(ev.false_merges, 0);
}

static void test_eval_files(void **state)
{
	const char *truth = "id,entity\na,1\nb,1\nc,2\nd,2\nonly_truth,3\n";
	const char *pred =
	    "id\tcluster\na\tx\nb\tx\nc\tx\nd\ty\nonly_pred\tz\n";
	char *tp = temp_file(".csv", truth, strlen(truth));
	char *pp = temp_file(".tsv", pred, strlen(pred));
	char *np = temp_file(".csv", "id,c\nq,1\n", 9);
	struct kt_match_eval ev;
	size_t ot, op;
	struct kt_error err;

	assert_int_equal(kt_match_eval_files(tp, pp, &ev, &ot, &op, &err),
			 KT_OK);
	assert_int_equal(ot, 1);
	assert_int_equal(op, 1);
	assert_int_equal(ev.records, 4);
	assert_int_equal(ev.true_positives, 1);
	assert_int_equal(ev.predicted_pairs, 3);
	assert_int_equal(ev.true_pairs, 2);
	assert_int_equal(ev.false_merges, 1);
	assert_int_equal(kt_match_eval_files(tp, np, &ev, &ot, &op, &err),
			 KT_ERR_INVALID);
	assert_non_null(strstr(err.msg, "have no record id in common"));
	unlink(tp);
	unlink(pp);
	unlink(np);
	free(tp);
	free(pp);
	free(np);
}

static void test_model_file_roundtrip(void **state)
{
	struct synth s = synth_run(3000, 9);
	const struct kt_match_model *model = kt_match_get_model(s.m);
	struct kt_match_model loaded;
	json_t *j = kt_match_model_to_json(s.p, model);
	char *text = json_dumps(j, JSON_REAL_PRECISION(17));
	char *path = temp_file(".json", text, strlen(text)), *bad;
	struct kt_error err;

	if (kt_match_model_load_file(s.p, path, &loaded, &err) != KT_OK)
		fail_msg("%s", err.msg);
	assert_float_equal(loaded.lambda, model->lambda, 1e-12);
	for (unsigned f = 0; f < 10; f++)
		for (unsigned l = 0; l < model->nlevels[f]; l++)
			assert_float_equal(kt_match_model_weight(&loaded, f, l),
					   kt_match_model_weight(model, f, l),
					   1e-9);
	for (unsigned c = 0; c < model->gsize[0]; c++)
		assert_float_equal(kt_match_model_group_weight(&loaded, 0, c),
				   kt_match_model_group_weight(model, 0, c),
				   1e-9);
	/* A run can take the loaded model instead of estimating. */
	assert_int_equal(kt_match_set_model(s.m, &loaded, &err), KT_OK);
	loaded.nlevels[0]++;
	assert_int_equal(kt_match_set_model(s.m, &loaded, &err),
			 KT_ERR_INVALID);
	bad = temp_file(".json", "{\"lambda\":2}", 12);
	assert_int_equal(kt_match_model_load_file(s.p, bad, &loaded, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "model: .lambda: must be a number in (0, 1)");
	unlink(bad);
	free(bad);
	json_array_remove(json_object_get(j, "fields"), 0);
	free(text);
	text = json_dumps(j, 0);
	bad = temp_file(".json", text, strlen(text));
	assert_int_equal(kt_match_model_load_file(s.p, bad, &loaded, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "model: must list the profile's 6 "
				     "ungrouped fields and 1 groups");
	unlink(bad);
	free(bad);
	unlink(path);
	free(path);
	free(text);
	json_decref(j);
	synth_free(&s);
}

static void test_outputs_and_order(void **state)
{
	struct kt_match_profile *p = small_profile(
	    "{\"passes\":[{\"name\":\"ids\",\"method\":\"exact\",\"keys\":["
	    "[{\"field\":\"city\"}]]}]}");
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	const char *a[] = {"mueller bau", "kiel", "DE1", "", "24103"};
	const char *b[] = {"mueller bau", "kiel", "DE1", "", "24103"};
	const char *c[] = {"mueller bau", "kiel", "DE2", "", "24103"};
	char *buf = NULL;
	size_t n = 0;
	FILE *f;
	struct kt_error err;

	assert_int_equal(kt_match_table_new(p, &t), KT_OK);
	add(t, "a", a, NULL);
	add(t, "b,1", b, NULL);
	add(t, "c", c, NULL);
	assert_int_equal(kt_match_new(p, t, 1, &m, &err), KT_OK);
	/* Stages in order, once. */
	assert_int_equal(kt_match_compare(m, &err), KT_ERR_INVALID);
	assert_int_equal(kt_match_cluster(m, &err), KT_ERR_INVALID);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_ERR_INVALID);
	assert_int_equal(kt_match_estimate(m, NULL, &err), KT_ERR_INVALID);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	{
		/* A fixed model: names and identifiers decide. */
		struct kt_match_model model;

		kt_match_model_init(p, &model);
		model.lambda = 0.5;
		assert_int_equal(kt_match_set_model(m, &model, &err), KT_OK);
	}
	assert_int_equal(kt_match_cluster(m, &err), KT_OK);
	f = open_memstream(&buf, &n);
	assert_int_equal(kt_match_write_clusters(m, f), KT_OK);
	fclose(f);
	/* a and "b,1" merge (quoted id); c holds another VAT: cut. */
	assert_string_equal(buf, "id,cluster\na,a\n\"b,1\",a\nc,c\n");
	free(buf);
	f = open_memstream(&buf, &n);
	assert_int_equal(kt_match_write_pairs(m, f, 1), KT_OK);
	fclose(f);
	assert_non_null(strstr(buf, "id_a,id_b,weight,probability,decision,"
				    "passes,note\n"));
	assert_non_null(strstr(buf, ",merge,ids,\n"));
	assert_non_null(strstr(buf, ",cut,ids,cannot-link vat: DE1 (a) vs "
				    "DE2 (c)\n"));
	free(buf);
	assert_int_equal(kt_match_ncuts(m), 2);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
}

/* No records, one record, no candidate pairs: every stage still runs. */
static void test_degenerate_tables(void **state)
{
	struct kt_match_profile *p = company_profile();

	for (int n = 0; n <= 2; n++) {
		struct kt_match_table *t = NULL;
		struct kt_match *m = NULL;
		struct kt_error err;
		char *buf = NULL;
		size_t len = 0;
		FILE *f;
		json_t *sum;
		uint32_t ncl;

		assert_int_equal(kt_match_table_new(p, &t), KT_OK);
		for (int i = 0; i < n; i++) {
			const char *v[10] = {i ? "abc gmbh" : "xyz ag"};
			char id[16];

			snprintf(id, sizeof(id), "r%d", i);
			add(t, id, v, NULL);
		}
		assert_int_equal(kt_match_new(p, t, 2, &m, &err), KT_OK);
		assert_int_equal(kt_match_block(m, &err), KT_OK);
		assert_int_equal(kt_match_compare(m, &err), KT_OK);
		assert_int_equal(kt_match_estimate(m, NULL, &err), KT_OK);
		assert_int_equal(kt_match_cluster(m, &err), KT_OK);
		assert_non_null(kt_match_clusters(m, &ncl));
		assert_int_equal(ncl, n);
		f = open_memstream(&buf, &len);
		assert_int_equal(kt_match_write_pairs(m, f, 1), KT_OK);
		assert_int_equal(kt_match_write_clusters(m, f), KT_OK);
		fclose(f);
		assert_non_null(strstr(buf, "id,cluster\n"));
		free(buf);
		sum = kt_match_summary_json(m);
		assert_int_equal(
		    json_integer_value(json_object_get(sum, "records")), n);
		json_decref(sum);
		kt_match_free(m);
		kt_match_table_free(t);
	}
	kt_match_profile_free(p);
}

/* Labels seed EM: with every record labelled and no iterations, the model
 * is the labelled pairs' level frequencies. */
static void test_em_seeded_from_labels(void **state)
{
	char *path = source_path("docs/profiles/company.json"), *text = NULL;
	struct kt_match_profile *p = NULL;
	struct kt_matchsynth_params sp;
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	uint32_t *truth = NULL;
	struct kt_error err;
	double nm = 0, n = 0, agree = 0, present = 0;
	json_t *root, *sum;
	json_error_t jerr;

	root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	json_object_set_new(json_object_get(root, "em"), "max_iterations",
			    json_integer(0));
	text = json_dumps(root, 0);
	p = profile(text);
	kt_matchsynth_defaults(&sp);
	sp.records = 3000;
	assert_int_equal(kt_matchsynth_generate(p, &sp, &t, &truth, &err),
			 KT_OK);
	assert_int_equal(kt_match_new(p, t, 2, &m, &err), KT_OK);
	assert_int_equal(kt_match_block(m, &err), KT_OK);
	assert_int_equal(kt_match_compare(m, &err), KT_OK);
	assert_int_equal(kt_match_estimate(m, truth, &err), KT_OK);
	for (size_t i = 0; i < kt_match_npairs(m); i++) {
		uint32_t a, b;
		unsigned mask;
		uint64_t pat;

		kt_match_pair(m, i, &a, &b, &mask, &pat);
		n++;
		if (truth[a] != truth[b])
			continue;
		nm++;
		/* legal_form (field 1): exact among the present levels */
		if (kt_match_pattern_level(pat, 1) != 0) {
			present++;
			agree += kt_match_pattern_level(pat, 1) == 1;
		}
	}
	assert_float_equal(kt_match_get_model(m)->lambda, nm / n, 1e-12);
	/* Two levels, each with half a pseudo-count. */
	assert_float_equal(kt_match_get_model(m)->m[1][1],
			   (agree + 0.5) / (present + 1.0), 1e-12);
	assert_true(kt_match_get_model(m)->m[1][1] > 0.95);
	sum = kt_match_summary_json(m);
	assert_true(json_is_true(
	    json_object_get(json_object_get(sum, "em"), "seeded_from_labels")));
	json_decref(sum);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(truth);
	free(text);
	free(path);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_read_tsv),
	    cmocka_unit_test(test_read_jsonl),
	    cmocka_unit_test(test_tsv_roundtrip),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_block_identifiers),
	    cmocka_unit_test(test_block_tokens_and_oversize),
	    cmocka_unit_test(test_block_phonetic_prefix),
	    cmocka_unit_test(test_block_sorted_neighbourhood),
	    cmocka_unit_test(test_block_minhash_and_union),
	    cmocka_unit_test(test_em_recovers_known_model),
	    cmocka_unit_test(test_em_on_synthetic_table),
	    cmocka_unit_test(test_em_seeded_from_labels),
	    cmocka_unit_test(test_degenerate_tables),
	    cmocka_unit_test(test_quality_on_synthetic_data),
	    cmocka_unit_test(test_known_pairs),
	    cmocka_unit_test(test_comparison_levels),
	    cmocka_unit_test(test_explain_sums),
	    cmocka_unit_test(test_tf_adjust),
	    cmocka_unit_test(test_review),
	    cmocka_unit_test(test_em_fixed_m),
	    cmocka_unit_test(test_cannot_link_random),
	    cmocka_unit_test(test_cut_weakest_link),
	    cmocka_unit_test(test_eval),
	    cmocka_unit_test(test_eval_files),
	    cmocka_unit_test(test_model_file_roundtrip),
	    cmocka_unit_test(test_outputs_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
