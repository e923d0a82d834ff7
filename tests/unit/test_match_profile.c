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

/* A minimal valid profile, with a hole for each section under test. */
#define FIELDS_OK                                                              \
	"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\"},"               \
	"{\"name\":\"b\",\"comparison\":\"jaro_winkler\",\"bands\":[0.9]}]"
#define BLOCKING_OK                                                            \
	"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","      \
	"\"keys\":[[{\"field\":\"a\"}]]}]}"
#define THRESHOLDS_OK "\"thresholds\":{\"auto_merge\":4,\"review\":0}"

static void load_ok(const char *json)
{
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	if (kt_match_profile_load_string(json, &p, &err) != KT_OK)
		fail_msg("rejected: %s\n%s", err.msg, json);
	kt_match_profile_free(p);
}

static void load_fails(const char *json, int code, const char *msg)
{
	struct kt_match_profile *p = (void *)1;
	struct kt_error err;

	kt_error_clear(&err);
	assert_int_equal(kt_match_profile_load_string(json, &p, &err), code);
	assert_null(p);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("message\n  got:  %s\n  want: %s\nfor %s", err.msg,
			 msg, json);
}

static char *data_path(const char *rel)
{
	const char *dir = getenv("KONTOR_SOURCE_DIR");
	char *p = NULL;

	if (dir == NULL)
		fail_msg("KONTOR_SOURCE_DIR not set (run through ctest)");
	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		fail();
	return p;
}

static void test_company_profile(void **state)
{
	static const char *const order[] = {
	    "name_key", "legal_form", "vat",	"taxno",	"register",
	    "postcode", "city",	      "street", "house_number", "email",
	};
	char *path = data_path("docs/profiles/company.json");
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	if (kt_match_profile_load_file(path, &p, &err) != KT_OK)
		fail_msg("%s", err.msg);
	free(path);
	assert_string_equal(kt_match_profile_name(p), "company");
	/* The importer writes its columns in this order. */
	assert_int_equal(kt_match_profile_nfields(p), 10);
	for (unsigned f = 0; f < 10; f++)
		assert_string_equal(kt_match_profile_field(p, f), order[f]);
	assert_true(kt_match_profile_field_strong(p, 2));  /* vat */
	assert_true(kt_match_profile_field_strong(p, 4));  /* register */
	assert_false(kt_match_profile_field_strong(p, 3)); /* taxno */
	assert_int_equal(kt_match_profile_ngroups(p), 1);
	assert_string_equal(kt_match_profile_group(p, 0), "address");
	assert_int_equal(kt_match_profile_field_group(p, 5), 0);
	assert_int_equal(kt_match_profile_field_group(p, 0), -1);
	assert_int_equal(kt_match_profile_nlevels(p, 2), 3);
	assert_string_equal(kt_match_profile_level_name(p, 2, 0),
			    "missing/invalid");
	assert_string_equal(kt_match_profile_level_name(p, 4, 3),
			    "other_scope");
	assert_string_equal(kt_match_profile_level_name(p, 0, 2), "jw>=0.95");
	assert_string_equal(kt_match_profile_pass(p, 0), "identifiers");
	assert_true(kt_match_profile_auto_merge(p) >
		    kt_match_profile_review(p));
	kt_match_profile_free(p);
}

static void test_levels(void **state)
{
	struct kt_match_profile *p = NULL;
	struct kt_error err;

	assert_int_equal(
	    kt_match_profile_load_string(
		"{\"fields\":["
		"{\"name\":\"e\",\"comparison\":\"exact\"},"
		"{\"name\":\"j\",\"comparison\":\"jaro_winkler\",\"bands\":[0."
		"9,0.8]},"
		"{\"name\":\"t\",\"comparison\":\"token_set\",\"bands\":[0.5],"
		"\"measure\":\"containment\"},"
		"{\"name\":\"n\",\"comparison\":\"numeric\",\"bands\":[0,10]},"
		"{\"name\":\"i\",\"comparison\":\"identifier\",\"strong\":true}"
		","
		"{\"name\":\"l\",\"comparison\":\"levenshtein\",\"bands\":[1,2]"
		"}],"
		"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
		"\"exact\","
		"\"keys\":[[{\"field\":\"e\"}]]}]}," THRESHOLDS_OK "}",
		&p, &err),
	    KT_OK);
	assert_int_equal(kt_match_profile_nlevels(p, 0), 3);
	assert_string_equal(kt_match_profile_level_name(p, 0, 2), "else");
	assert_int_equal(kt_match_profile_nlevels(p, 1), 5);
	assert_string_equal(kt_match_profile_level_name(p, 1, 3), "jw>=0.8");
	assert_string_equal(kt_match_profile_level_name(p, 2, 2),
			    "contain>=0.5");
	assert_int_equal(kt_match_profile_nlevels(p, 3), 4);
	assert_string_equal(kt_match_profile_level_name(p, 3, 1), "diff<=0");
	assert_int_equal(kt_match_profile_nlevels(p, 4), 3);
	assert_string_equal(kt_match_profile_level_name(p, 5, 3), "lev<=2");
	assert_string_equal(kt_match_profile_level_name(p, 5, 9), "?");
	kt_match_profile_free(p);
}

static void test_rejects_fields(void **state)
{
	const char *tail = "," BLOCKING_OK "," THRESHOLDS_OK "}";
	struct {
		const char *fields;
		const char *msg;
	} cases[] = {
	    {"\"fields\":[]",
	     "profile: .fields: must be an array of 1 to 16 fields"},
	    {"\"fields\":[{\"name\":\"A\",\"comparison\":\"exact\"}]",
	     "profile: .fields[0].name: must match [a-z][a-z0-9_]*, at most "
	     "32 characters"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\"},"
	     "{\"name\":\"a\",\"comparison\":\"exact\"}]",
	     "profile: .fields[1].name: duplicate field 'a'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\"},"
	     "{\"name\":\"b\",\"comparison\":\"exact\"},"
	     "{\"name\":\"c\",\"comparison\":\"foo\"}]",
	     "profile: .fields[2].comparison: unknown comparison 'foo'"},
	    {"\"fields\":[{\"name\":\"a\"}]",
	     "profile: .fields[0].comparison: required"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"weight\":2}]",
	     "profile: .fields[0].weight: unknown key"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"jaro_winkler\"}]",
	     "profile: .fields[0].bands: required"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"bands\":[0.9]}]",
	     "profile: .fields[0].bands: not used by comparison 'exact'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"jaro_winkler\","
	     "\"bands\":[0.8,0.9]}]",
	     "profile: .fields[0].bands[1]: bands must be numbers in (0, 1], "
	     "strictly decreasing"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"jaro_winkler\","
	     "\"bands\":[0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1]}]",
	     "profile: .fields[0].bands: must be 1 to 8 numbers in (0, 1], "
	     "strictly decreasing"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"numeric\","
	     "\"bands\":[-1]}]",
	     "profile: .fields[0].bands[0]: bands must be numbers >= 0, "
	     "strictly increasing"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"levenshtein\","
	     "\"bands\":[1.5]}]",
	     "profile: .fields[0].bands[0]: bands must be integers from 1 to "
	     "256, strictly increasing"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"measure\":\"jaccard\"}]",
	     "profile: .fields[0].measure: only for comparison 'token_set'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"token_set\","
	     "\"bands\":[0.5],\"measure\":\"dice\"}]",
	     "profile: .fields[0].measure: unknown measure 'dice'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"strong\":true}]",
	     "profile: .fields[0].strong: only for comparison 'identifier'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"strong\":1}]",
	     "profile: .fields[0].strong: must be true or false"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"scope_parts\":8}]",
	     "profile: .fields[0].scope_parts: must be an integer from 0 to 7"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"separator\":\"||\"}]",
	     "profile: .fields[0].separator: must be one printable ASCII "
	     "character"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\"},"
	     "{\"name\":\"b\",\"comparison\":\"exact\",\"group\":\"adr\"}]",
	     "profile: .fields[1].group: group 'adr' has only one field"},
	    {"\"fields\":["
	     "{\"name\":\"a\",\"comparison\":\"jaro_winkler\",\"bands\":[0.9,"
	     "0.8,0.7,0.6,0.5],\"group\":\"g\"},"
	     "{\"name\":\"b\",\"comparison\":\"jaro_winkler\",\"bands\":[0.9,"
	     "0.8,0.7,0.6,0.5],\"group\":\"g\"},"
	     "{\"name\":\"c\",\"comparison\":\"jaro_winkler\",\"bands\":[0.9,"
	     "0.8,0.7,0.6,0.5],\"group\":\"g\"}]",
	     "profile: .fields[2].group: group 'g' has more than 256 level "
	     "combinations"},
	    {"\"fields\":["
	     "{\"name\":\"a\",\"comparison\":\"exact\",\"group\":\"g1\"},"
	     "{\"name\":\"b\",\"comparison\":\"exact\",\"group\":\"g2\"},"
	     "{\"name\":\"c\",\"comparison\":\"exact\",\"group\":\"g3\"},"
	     "{\"name\":\"d\",\"comparison\":\"exact\",\"group\":\"g4\"},"
	     "{\"name\":\"e\",\"comparison\":\"exact\",\"group\":\"g5\"}]",
	     "profile: .fields[4].group: more than 4 groups"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"tf_adjust\":true}]",
	     "profile: .fields[0].tf_adjust: only for comparisons with an "
	     "'exact' level"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"tf_adjust\":1}]",
	     "profile: .fields[0].tf_adjust: must be true, false or "
	     "{\"max_up\", \"max_down\"}"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"tf_adjust\":{\"max_up\":21}}]",
	     "profile: .fields[0].tf_adjust.max_up: must be a number from 0 "
	     "to 20"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"tf_adjust\":{\"up\":1}}]",
	     "profile: .fields[0].tf_adjust.up: unknown key"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
	     "\"group\":\"g\",\"tf_adjust\":true},"
	     "{\"name\":\"b\",\"comparison\":\"exact\",\"group\":\"g\"}]",
	     "profile: .fields[0].tf_adjust: not for a field in a group"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"fixed_m\":{\"differ\":0.01}}]",
	     "profile: .fields[0].fixed_m.differ: not a level of field 'a'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"fixed_m\":{\"missing/invalid\":0.01}}]",
	     "profile: .fields[0].fixed_m.missing/invalid: not a level of "
	     "field 'a'"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"fixed_m\":{\"disagree\":1}}]",
	     "profile: .fields[0].fixed_m.disagree: must be a number in (0, "
	     "1)"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"fixed_m\":{\"disagree\":0.5,\"agree\":0.4}}]",
	     "profile: .fields[0].fixed_m: must leave at least one level "
	     "free and their sum below 1"},
	    {"\"fields\":[{\"name\":\"a\",\"comparison\":\"identifier\","
	     "\"fixed_m\":[0.1]}]",
	     "profile: .fields[0].fixed_m: must be an object of level: m"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[2048];

		snprintf(json, sizeof(json), "{%s%s", cases[i].fields, tail);
		load_fails(json, KT_ERR_INVALID, cases[i].msg);
	}
}

static void test_rejects_blocking(void **state)
{
	const char *head = "{" FIELDS_OK ",";
	const char *tail = "," THRESHOLDS_OK "}";
	struct {
		const char *blocking;
		const char *msg;
	} cases[] = {
	    {"\"blocking\":{\"passes\":[]}",
	     "profile: .blocking.passes: must be an array of 1 to 8 passes"},
	    {"\"blocking\":{}", "profile: .blocking.passes: required"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"magic\"}]"
	     "}",
	     "profile: .blocking.passes[0].method: unknown method 'magic'"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\"}]}",
	     "profile: .blocking.passes[0].method: required"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\"},{\"field\":\"plz\"}]]}]}",
	     "profile: .blocking.passes[0].keys[0][1].field: unknown field "
	     "'plz'"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\",\"transform\":\"tokens\"},"
	     "{\"field\":\"b\",\"transform\":\"tokens\"}]]}]}",
	     "profile: .blocking.passes[0].keys[0][1]: at most one 'tokens' "
	     "part per key"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\",\"transform\":\"prefix\"}]]}]}",
	     "profile: .blocking.passes[0].keys[0][0].length: required"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\",\"length\":2}]]}]}",
	     "profile: .blocking.passes[0].keys[0][0].length: only for "
	     "transform 'prefix'"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\",\"transform\":\"soundex\"}]]}]}",
	     "profile: .blocking.passes[0].keys[0][0].transform: unknown "
	     "transform 'soundex'"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[]}]}",
	     "profile: .blocking.passes[0].keys: must be an array of 1 to 8 "
	     "keys (arrays of parts)"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":\"exact\","
	     "\"keys\":[[{\"field\":\"a\"}]],\"window\":3}]}",
	     "profile: .blocking.passes[0].window: unknown key"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
	     "\"sorted_neighbourhood\",\"field\":\"a\",\"window\":1}]}",
	     "profile: .blocking.passes[0].window: must be an integer from 2 "
	     "to 1000"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
	     "\"minhash_lsh\",\"field\":\"b\",\"rows\":9}]}",
	     "profile: .blocking.passes[0].rows: must be an integer from 1 to "
	     "8"},
	    {"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
	     "\"sorted_neighbourhood\",\"field\":\"a\"},{\"name\":\"p\","
	     "\"method\":\"sorted_neighbourhood\",\"field\":\"b\"}]}",
	     "profile: .blocking.passes[1].name: duplicate pass 'p'"},
	    {"\"blocking\":{\"oversize_window\":5,\"passes\":[{\"name\":\"p\","
	     "\"method\":\"sorted_neighbourhood\",\"field\":\"a\"}]}",
	     "profile: .blocking.oversize_sort_field: required when "
	     "oversize_window is set"},
	    {"\"blocking\":{\"max_block_size\":1,\"passes\":[]}",
	     "profile: .blocking.max_block_size: must be an integer from 2 to "
	     "1000000"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[2048];

		snprintf(json, sizeof(json), "%s%s%s", head, cases[i].blocking,
			 tail);
		load_fails(json, KT_ERR_INVALID, cases[i].msg);
	}
}

static void test_rejects_root(void **state)
{
	const char *body = FIELDS_OK "," BLOCKING_OK;
	struct {
		const char *rest;
		const char *msg;
	} cases[] = {
	    {"", "profile: .thresholds: required"},
	    {",\"thresholds\":{\"auto_merge\":2,\"review\":3}",
	     "profile: .thresholds.review: must not exceed auto_merge (2)"},
	    {",\"thresholds\":{\"auto_merge\":\"high\",\"review\":3}",
	     "profile: .thresholds.auto_merge: must be a number from -200 to "
	     "200"},
	    {"," THRESHOLDS_OK ",\"em\":{\"foo\":1}",
	     "profile: .em.foo: unknown key"},
	    {"," THRESHOLDS_OK ",\"em\":{\"fix_u\":true,\"u_sample_pairs\":0}",
	     "profile: .em.fix_u: needs u_sample_pairs > 0 (u comes from the "
	     "sample)"},
	    {"," THRESHOLDS_OK ",\"em\":{\"tolerance\":0}",
	     "profile: .em.tolerance: must be a number from 1e-12 to 0.1"},
	    {"," THRESHOLDS_OK ",\"version\":2",
	     "profile: .version: must be an integer from 1 to 1"},
	    {"," THRESHOLDS_OK ",\"extra\":true",
	     "profile: .extra: unknown key"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[2048];

		snprintf(json, sizeof(json), "{%s%s}", body, cases[i].rest);
		load_fails(json, KT_ERR_INVALID, cases[i].msg);
	}
	load_fails("[]", KT_ERR_INVALID, "profile: .: must be an object");
	load_fails("{" BLOCKING_OK "," THRESHOLDS_OK "}", KT_ERR_INVALID,
		   "profile: .fields: required");
	load_fails("{" FIELDS_OK "," THRESHOLDS_OK "}", KT_ERR_INVALID,
		   "profile: .blocking: required");
	/* Syntax errors come with line and column. */
	{
		struct kt_match_profile *p = NULL;
		struct kt_error err;

		assert_int_equal(
		    kt_match_profile_load_string("{\n  \"a\": }", &p, &err),
		    KT_ERR_INVALID);
		assert_non_null(strstr(err.msg, "profile: line 2, column"));
		assert_int_equal(kt_match_profile_load_string(
				     "{\"name\":1,\"name\":2}", &p, &err),
				 KT_ERR_INVALID);
		assert_non_null(strstr(err.msg, "duplicate object key"));
	}
}

static void test_files(void **state)
{
	struct kt_match_profile *p = NULL;
	struct kt_error err;
	char path[] = "/tmp/kt_profile_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	assert_int_equal(
	    kt_match_profile_load_file("/nonexistent/p.json", &p, &err),
	    KT_ERR_IO);
	assert_string_equal(err.msg, "profile: /nonexistent/p.json: No such "
				     "file or directory");
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < KT_MATCH_PROFILE_MAX / 8 + 1; i++)
		fputs("        ", f);
	fclose(f);
	assert_int_equal(kt_match_profile_load_file(path, &p, &err),
			 KT_ERR_LIMIT);
	assert_non_null(strstr(err.msg, "larger than 1048576 bytes"));
	f = fopen(path, "w");
	fputs("{\"name\":\"x\0\"}", f);
	fwrite("{\"a\":\0}", 1, 7, f);
	fclose(f);
	assert_int_equal(kt_match_profile_load_file(path, &p, &err),
			 KT_ERR_INVALID);
	assert_non_null(strstr(err.msg, "contains a NUL byte"));
	unlink(path);
	load_ok("{" FIELDS_OK "," BLOCKING_OK "," THRESHOLDS_OK "}");
	load_ok("{\"fields\":[{\"name\":\"a\",\"comparison\":\"exact\","
		"\"tf_adjust\":{\"max_up\":0,\"max_down\":4}},"
		"{\"name\":\"b\",\"comparison\":\"identifier\",\"scope_parts\":"
		"1,\"fixed_m\":{\"disagree\":0.001,\"other_scope\":0.01}}],"
		"\"blocking\":{\"passes\":[{\"name\":\"p\",\"method\":"
		"\"exact\",\"keys\":[[{\"field\":\"a\"}]]}]}," THRESHOLDS_OK
		"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_company_profile),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_rejects_fields),
	    cmocka_unit_test(test_rejects_blocking),
	    cmocka_unit_test(test_rejects_root),
	    cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
