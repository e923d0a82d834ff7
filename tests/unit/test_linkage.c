#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/linkage.h"

static struct kt_linkage *load(void)
{
	char path[4096];
	struct kt_linkage *l = NULL;
	struct kt_error err;

	snprintf(path, sizeof(path), "%s/docs/profiles/company.json",
		 getenv("KONTOR_SOURCE_DIR"));
	if (kt_linkage_load(path, NULL, &l, &err) != KT_OK)
		fail_msg("%s", err.msg);
	return l;
}

static const char *decision(json_t *res, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(res, i, e) if (strcmp(json_string_value(
						     json_object_get(e, "id")),
						 id) == 0) return json_string_value(
	    json_object_get(e, "decision"));
	return NULL;
}

static json_t *candidates(void)
{
	return json_pack(
	    "[{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
	    "{s:s,s:s,s:s},"
	    "{s:s,s:s,s:s,s:s,s:s,s:s}]",
	    "id", "same", "legal_name", "Muster Maschinenbau", "legal_form",
	    "GMBH", "vat", "DE123456788", "vat_valid", "1", "postcode",
	    "24103", "city", "Kiel", "street", "Holstenstraße", "id",
	    "other", "legal_name", "Bäckerei Sonnenschein", "postcode",
	    "22763", "id", "conflict", "legal_name", "Muster Maschinenbau",
	    "vat", "DE876543219", "vat_valid", "1", "postcode", "24103",
	    "city", "Kiel");
}

static void test_scores(void **state)
{
	struct kt_linkage *l = load();
	struct kt_error err;
	json_t *in = json_pack("{s:s,s:s,s:s,s:s,s:s}", "legal_name",
			       "MUSTER MASCHINENBAU G.m.b.H.", "vat",
			       "DE 123 456 788", "postcode", "24103", "city",
			       "Kiel", "street", "Holstenstr. 12");
	json_t *c = candidates(), *res = NULL;

	assert_int_equal(kt_linkage_score(l, "SH", in, c, &res, &err), KT_OK);
	assert_int_equal(json_array_size(res), 3);
	/* strongest first */
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(res, 0), "id")),
			    "same");
	assert_string_equal(decision(res, "same"), "merge");
	assert_string_equal(decision(res, "other"), "none");
	/* a different valid VAT id never links, however similar the name */
	assert_string_equal(decision(res, "conflict"), "none");
	json_decref(res);
	json_decref(in);
	json_decref(c);
	kt_linkage_free(l);
}

static void test_name_only_is_not_proof(void **state)
{
	struct kt_linkage *l = load();
	struct kt_error err;
	json_t *in = json_pack("{s:s,s:s}", "legal_name",
			       "Muster Maschinenbau GmbH", "postcode", "24103");
	json_t *c = candidates(), *res = NULL;

	assert_int_equal(kt_linkage_score(l, "SH", in, c, &res, &err), KT_OK);
	/* names and addresses alone make a review case at most */
	assert_string_not_equal(decision(res, "same"), "merge");
	assert_string_not_equal(decision(res, "conflict"), "merge");
	json_decref(res);
	json_decref(in);
	json_decref(c);
	kt_linkage_free(l);
}

static void test_agreeing_identifier_alone_is_a_review(void **state)
{
	struct kt_linkage *l = load();
	struct kt_error err;
	/* the VAT id of "same", everything else different */
	json_t *in = json_pack("{s:s,s:s,s:s,s:s}", "legal_name",
			       "Zweifel Logistik", "legal_form", "AG", "vat",
			       "DE123456788", "postcode", "80331");
	json_t *c = candidates(), *res = NULL;

	assert_int_equal(kt_linkage_score(l, "BY", in, c, &res, &err), KT_OK);
	assert_string_equal(decision(res, "same"), "review");
	assert_string_equal(decision(res, "other"), "none");
	assert_string_equal(decision(res, "conflict"), "none");
	json_decref(res);
	json_decref(in);
	json_decref(c);
	kt_linkage_free(l);
}

static void test_bad_inputs(void **state)
{
	struct kt_linkage *l = NULL;
	struct kt_error err;

	assert_int_not_equal(kt_linkage_load("/nonexistent.json", NULL, &l,
					     &err),
			     KT_OK);
	assert_null(l);
	l = load();
	{
		json_t *in = json_pack("{s:s}", "legal_name", "X"), *res = NULL;
		json_t *c = json_pack("[]");
		assert_int_not_equal(
		    kt_linkage_score(l, "XX", in, c, &res, &err), KT_OK);
		assert_null(res);
		json_decref(in);
		json_decref(c);
	}
	kt_linkage_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scores),
	    cmocka_unit_test(test_name_only_is_not_proof),
	    cmocka_unit_test(test_agreeing_identifier_alone_is_a_review),
	    cmocka_unit_test(test_bad_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
