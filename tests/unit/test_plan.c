/*
 * The plan file: built from the fixture's records and clusters, written
 * with its digest and job id (deterministic), read back with every unit
 * checked; edited or truncated plans and malformed units are refused with
 * precise messages.
 */
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
#include "kontor/match.h"
#include "kontor/plan.h"
#include "kontor/recfile.h"

#include "migrate_fixture.h"

static struct migrate_fixture fx;
static char clusters[160];

/* clusters.csv from a match run over the fixture, like the CLI's */
static int setup(void **state)
{
	struct kt_match_profile *p = NULL;
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_error err;
	char path[512];
	FILE *f;
	int r;

	if (migrate_fixture_import(&fx) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/docs/profiles/company.json",
		 getenv("KONTOR_SOURCE_DIR"));
	snprintf(clusters, sizeof(clusters), "%s/clusters.csv", fx.dir);
	r = kt_match_profile_load_file(path, &p, &err);
	if (r == KT_OK)
		r = kt_match_table_new(p, &t);
	if (r == KT_OK)
		r = kt_recfile_load_table(fx.records, t, 2, NULL, &err);
	if (r == KT_OK)
		r = kt_match_new(p, t, 2, &m, &err);
	if (r == KT_OK && (r = kt_match_block(m, &err)) == KT_OK &&
	    (r = kt_match_compare(m, &err)) == KT_OK &&
	    (r = kt_match_estimate(m, NULL, &err)) == KT_OK)
		r = kt_match_cluster(m, &err);
	if (r == KT_OK && (f = fopen(clusters, "w")) != NULL) {
		r = kt_match_write_clusters(m, f);
		fclose(f);
	}
	if (r != KT_OK)
		fprintf(stderr, "setup: %s\n", err.msg);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	return r == KT_OK ? 0 : -1;
}

static int teardown(void **state)
{
	migrate_fixture_remove(&fx);
	return 0;
}

static struct kt_merge_rules *rules(void)
{
	struct kt_merge_rules *r = NULL;
	struct kt_error err;

	assert_int_equal(
	    kt_merge_rules_load_string(kt_merge_rules_default_json(), &r, &err),
	    KT_OK);
	return r;
}

static char *path_in(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", fx.dir, name) < 0)
		fail();
	return p;
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	buf = malloc(*n + 1);
	assert_int_equal(fread(buf, 1, *n, f), *n);
	buf[*n] = '\0';
	fclose(f);
	return buf;
}

static void spit(const char *path, const char *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
}

static void test_build_write_read(void **state)
{
	struct kt_merge_rules *r = rules();
	struct kt_merge *m = NULL;
	struct kt_plan *p = NULL;
	struct kt_merge_summary s;
	struct kt_error err;
	char job[KT_PLAN_JOB_MAX], job2[KT_PLAN_JOB_MAX];
	char *out = path_in("plan.jsonl"), *out2 = path_in("plan2.jsonl");
	char *a, *b;
	size_t na, nb, len;
	const char *line;
	uint64_t n, count = 0;
	struct stat st;
	int rc;

	if (kt_plan_build(fx.records, clusters, r, NULL, &m, &err) != KT_OK)
		fail_msg("%s", err.msg);
	kt_merge_summary_get(m, &s);
	assert_int_equal(s.records, fx.sum.imported);
	assert_true(s.clusters < s.records);
	assert_true(s.people > 0 && s.memberships >= s.people);
	assert_int_equal(kt_plan_write(out, m, NULL, job, &err), KT_OK);
	assert_int_equal(kt_plan_write(out2, m, NULL, job2, &err), KT_OK);
	assert_string_equal(job, job2);
	assert_int_equal(strncmp(job, "job-", 4), 0);
	assert_int_equal(strlen(job), 16);
	/* the same inputs, byte for byte the same plan */
	a = slurp(out, &na);
	b = slurp(out2, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(b);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(kt_plan_open(out, &p, &err), KT_OK);
	assert_string_equal(kt_plan_job(p), job);
	assert_int_equal(kt_plan_units(p), s.clusters);
	while ((rc = kt_plan_next(p, &line, &len, &n, &err)) == 1) {
		json_t *u = json_loadb(line, len, 0, NULL);

		assert_non_null(u);
		assert_int_equal(n, ++count);
		assert_int_equal(json_integer_value(json_object_get(u, "n")),
				 n);
		assert_int_equal(kt_plan_unit_check(u, &err), KT_OK);
		json_decref(u);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(count, s.clusters);
	kt_plan_close(p);
	/* seek: resume after unit 10 */
	assert_int_equal(kt_plan_open(out, &p, &err), KT_OK);
	assert_int_equal(kt_plan_seek(p, 10, &err), KT_OK);
	assert_int_equal(kt_plan_next(p, &line, &len, &n, &err), 1);
	assert_int_equal(n, 11);
	kt_plan_close(p);

	/* an edited unit: the digest no longer matches */
	{
		char *pos = strstr(a, "\"legal_name\":\"") + 14;

		*pos = *pos == 'X' ? 'Y' : 'X';
		spit(out2, a, na);
		assert_int_equal(kt_plan_open(out2, &p, &err), KT_ERR_INVALID);
		assert_null(p);
		assert_non_null(strstr(err.msg, "the units do not match the "
						"header's digest (file edited "
						"or truncated?)"));
	}
	/* truncated: a unit less than the header says */
	{
		size_t cut = na - 2;

		while (a[cut - 1] != '\n')
			cut--;
		spit(out2, a, cut);
		assert_int_equal(kt_plan_open(out2, &p, &err), KT_ERR_INVALID);
		assert_non_null(strstr(err.msg, "the header says"));
	}
	spit(out2, "{\"hello\":1}\n", 12);
	assert_int_equal(kt_plan_open(out2, &p, &err), KT_ERR_INVALID);
	assert_non_null(
	    strstr(err.msg, ":1: not a kontor-migrate plan (version 1)"));
	spit(out2, "", 0);
	assert_int_equal(kt_plan_open(out2, &p, &err), KT_ERR_INVALID);
	assert_non_null(strstr(err.msg, ": empty file"));
	free(a);
	free(out);
	free(out2);
	kt_merge_free(m);
	kt_merge_rules_free(r);
}

static void build_fails(const char *clusters_text, const char *want)
{
	struct kt_merge_rules *r = rules();
	struct kt_merge *m = NULL;
	struct kt_error err;
	char *cl = path_in("bad-clusters.csv");

	spit(cl, clusters_text, strlen(clusters_text));
	assert_int_equal(kt_plan_build(fx.records, cl, r, NULL, &m, &err),
			 KT_ERR_INVALID);
	assert_null(m);
	if (strstr(err.msg, want) == NULL)
		fail_msg("got: %s\nwant: ...%s", err.msg, want);
	free(cl);
	kt_merge_rules_free(r);
}

static void test_build_errors(void **state)
{
	size_t n;
	char *all = slurp(clusters, &n), *nl, *extra;

	build_fails("record,cluster\nBY:1,BY:1\n",
		    ":1: expected the header id,cluster");
	build_fails("", ": empty file");
	/* a record that match never saw */
	nl = strrchr(all, '\n');
	*nl = '\0';
	nl = strrchr(all, '\n');
	nl[1] = '\0';
	build_fails(all, "is not in ");
	/* an id of clusters.csv that the records lack */
	free(all);
	all = slurp(clusters, &n);
	if (asprintf(&extra, "%sXX:nobody,XX:nobody\n", all) < 0)
		fail();
	build_fails(extra, "1 ids are not in");
	free(extra);
	if (asprintf(&extra, "%sBY:1x\n", all) < 0)
		fail();
	build_fails(extra, "expected id,cluster");
	free(extra);
	free(all);
}

static void unit_fails(const char *json, const char *want)
{
	struct kt_error err;
	json_t *u = json_loads(json, 0, NULL);

	assert_non_null(u);
	assert_int_equal(kt_plan_unit_check(u, &err), KT_ERR_INVALID);
	if (strcmp(err.msg, want) != 0)
		fail_msg("got:  %s\nwant: %s", err.msg, want);
	json_decref(u);
}

#define UNIT(org, people)                                                      \
	"{\"n\":1,\"unit\":\"BY:1\",\"org\":" org                              \
	",\"sources\":[\"BY:1\"],\"people\":" people "}"
#define ORG "{\"legal_name\":\"A GmbH\"}"
#define P(extra)                                                               \
	"[{\"email\":\"a@b.de\",\"email_verified\":\"1\",\"role\":"            \
	"\"admin\"" extra "}]"

static void test_unit_check(void **state)
{
	struct kt_error err;
	json_t *u = json_loads(UNIT(ORG, P(",\"pwhash\":\"{SSHA}x\",\"legacy\":"
					   "{\"BY:1\":\"{SSHA}x\"}")),
			       0, NULL);

	assert_int_equal(kt_plan_unit_check(u, &err), KT_OK);
	json_decref(u);
	unit_fails(UNIT("{}", "[]"), ".org.legal_name: required");
	unit_fails(UNIT("{\"legal_name\":\"A\",\"colour\":\"red\"}", "[]"),
		   ".org.colour: unknown field");
	unit_fails(UNIT("{\"legal_name\":\"A {x}\"}", "[]"),
		   ".org.legal_name: must be text of at most 1024 bytes "
		   "without control characters or braces");
	unit_fails(UNIT("{\"legal_name\":\"A\",\"vat\":\"DE123456789\","
			"\"vat_valid\":\"1\"}",
			"[]"),
		   ".org.vat: marked valid but is not");
	unit_fails(UNIT("{\"legal_name\":\"A\",\"vat_valid\":\"yes\"}", "[]"),
		   ".org.vat_valid: must be \"0\" or \"1\"");
	unit_fails(UNIT("{\"legal_name\":\"A\",\"taxno\":\"123\","
			"\"taxno_valid\":\"1\"}",
			"[]"),
		   ".org.taxno: marked valid but is not 13 digits");
	unit_fails(UNIT("{\"legal_name\":\"A\",\"hr_valid\":\"1\"}", "[]"),
		   ".org.hr_valid: a valid register entry needs court, type "
		   "and number");
	unit_fails("{\"n\":1,\"unit\":\"BY:1\",\"org\":" ORG
		   ",\"sources\":[\"XY:1\"],\"people\":[]}",
		   ".sources: [0]: not LAND:account-id");
	unit_fails("{\"n\":1,\"unit\":\"BY:1\",\"org\":" ORG
		   ",\"sources\":[],\"people\":[]}",
		   ".sources: must be 1 to 1000 source links");
	unit_fails(UNIT(ORG, P(",\"role\":\"owner\"")),
		   ".people[0]: role: must be admin, member or "
		   "representative");
	unit_fails(UNIT(ORG, "[{\"email\":\"A@b.de\",\"email_verified\":"
			     "\"1\",\"role\":\"admin\"}]"),
		   ".people[0]: email: must be lower case");
	unit_fails(UNIT(ORG, "[{\"email\":\"ab.de\",\"email_verified\":"
			     "\"1\",\"role\":\"admin\"}]"),
		   ".people[0]: email: not a valid address");
	unit_fails(UNIT(ORG, P(",\"email_verified\":\"true\"")),
		   ".people[0]: email_verified: must be \"0\" or \"1\"");
	unit_fails(UNIT(ORG, P(",\"legacy\":{\"nowhere\":\"x\"}")),
		   ".people[0]: legacy: 'nowhere' must name a source and "
		   "hold a hash");
	unit_fails(UNIT(ORG, P(",\"pwhash\":\"a\\nb\"")),
		   ".people[0]: pwhash: at most 1024 bytes of text");
	unit_fails(UNIT(ORG, P(",\"admin\":true")),
		   ".people[0]: unknown key 'admin'");
	unit_fails("{\"n\":1,\"unit\":\"BY:1\",\"extra\":1}",
		   ".: unknown key 'extra'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_write_read),
	    cmocka_unit_test(test_build_errors),
	    cmocka_unit_test(test_unit_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
