#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/ident.h"
#include "kontor/land.h"

/* ---- USt-IdNr: the reference's test vectors (section 9) ---------------- */

static void vat_ok(const char *in, const char *want)
{
	char out[12];
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_ident_vat_normalize(in, out, &err) != KT_OK)
		fail_msg("vat(\"%s\") rejected: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void vat_bad(const char *in, const char *msg, const char *out_want)
{
	char out[12];
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_ident_vat_normalize(in, out, &err) != KT_ERR_INVALID)
		fail_msg("vat(\"%s\") accepted", in);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("vat(\"%s\"): \"%s\", want \"%s\"", in, err.msg, msg);
	assert_string_equal(out, out_want);
}

static void test_vat(void **state)
{
	vat_ok("DE123456788", "DE123456788");
	vat_ok("DE812345673", "DE812345673");
	vat_ok("DE271543989", "DE271543989");
	vat_ok("de 123 456 788", "DE123456788");
	vat_ok(" DE 123456788\t", "DE123456788");
	vat_bad("DE123456789", "check digit is 9, expected 8", "DE123456789");
	vat_bad("DE812345674", "check digit is 4, expected 3", "DE812345674");
	vat_bad("DE12345678", "expected 9 digits after DE, found 8", "");
	vat_bad("DE1234567880", "expected 9 digits after DE, found 10", "");
	vat_bad("AT123456788", "not a German VAT id (country 'AT')", "");
	vat_bad("ATU12345678", "not a German VAT id (country 'AT')", "");
	vat_bad("123456788", "must start with DE", "");
	vat_bad("DE12345678X", "unexpected character 'X'", "");
	vat_bad("DE-123456788", "unexpected character '-'", "");
	vat_bad("", "empty VAT id", "");
	vat_bad("   ", "empty VAT id", "");
	vat_bad(NULL, "empty VAT id", "");
	vat_bad("DE1234567888888888888888888888888888888888", "VAT id too long",
		"");
}

static void test_vat_check_digit(void **state)
{
	/* The worked example of the reference: 12345678 -> 8. */
	assert_int_equal(kt_ident_vat_check_digit("12345678"), 8);
	assert_int_equal(kt_ident_vat_check_digit("81234567"), 3);
	assert_int_equal(kt_ident_vat_check_digit("27154398"), 9);
	assert_int_equal(kt_ident_vat_check_digit("1234567x"), -1);
	/* check = 10 maps to 0: search one such number and verify it. */
	{
		char d[16] = "00000000", v[24], o[12];
		int found = 0;
		for (int i = 10000000; i < 10001000 && !found; i++) {
			snprintf(d, sizeof(d), "%08d", i);
			if (kt_ident_vat_check_digit(d) == 0)
				found = 1;
		}
		assert_true(found);
		snprintf(v, sizeof(v), "DE%s0", d);
		assert_int_equal(kt_ident_vat_normalize(v, o, NULL), KT_OK);
		assert_string_equal(o, v);
	}
	/* every single-digit error is detected (ISO 7064 property) */
	{
		const char *good = "DE123456788";
		for (int pos = 2; pos < 11; pos++)
			for (char c = '0'; c <= '9'; c++) {
				char v[12], o[12];
				memcpy(v, good, 12);
				if (v[pos] == c)
					continue;
				v[pos] = c;
				assert_int_equal(
				    kt_ident_vat_normalize(v, o, NULL),
				    KT_ERR_INVALID);
			}
	}
}

/* ---- W-IdNr ---------------------------------------------------------- */

static void test_widnr(void **state)
{
	char out[18];
	struct kt_error err;

	assert_int_equal(
	    kt_ident_widnr_normalize("DE123456788-00001", out, &err), KT_OK);
	assert_string_equal(out, "DE123456788-00001");
	assert_int_equal(
	    kt_ident_widnr_normalize("de 123456788 - 00002", out, &err), KT_OK);
	assert_string_equal(out, "DE123456788-00002");
	assert_int_equal(
	    kt_ident_widnr_normalize("DE12345678800001", out, &err), KT_OK);
	assert_string_equal(out, "DE123456788-00001");
	assert_int_equal(kt_ident_widnr_normalize("DE123456788-1", out, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "suffix must have 5 digits");
	assert_string_equal(out, "");
	assert_int_equal(kt_ident_widnr_normalize("DE123456788", out, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "suffix must have 5 digits");
	assert_int_equal(
	    kt_ident_widnr_normalize("DE12345678-00001", out, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "expected 9 digits after DE");
	assert_int_equal(
	    kt_ident_widnr_normalize("DE123456788-000011", out, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "suffix must have 5 digits");
	assert_int_equal(
	    kt_ident_widnr_normalize("AT123456788-00001", out, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "must start with DE");
	assert_int_equal(
	    kt_ident_widnr_normalize("DE123456788/00001", out, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, "unexpected character '/'");
	assert_int_equal(kt_ident_widnr_normalize("", out, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "empty W-IdNr");
}

/* ---- Steuernummer ---------------------------------------------------- */

static void tax_ok(const char *in, enum kt_land land, const char *want)
{
	char out[14];
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_ident_taxno_normalize(in, land, out, &err) != KT_OK)
		fail_msg("taxno(\"%s\", %s) rejected: %s", in,
			 kt_land_code(land), err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("taxno(\"%s\", %s) = %s, want %s", in,
			 kt_land_code(land), out, want);
}

static void tax_bad(const char *in, enum kt_land land, const char *msg)
{
	char out[14];
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_ident_taxno_normalize(in, land, out, &err) != KT_ERR_INVALID)
		fail_msg("taxno(\"%s\", %s) accepted: %s", in,
			 kt_land_code(land), out);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("taxno(\"%s\"): \"%s\", want \"%s\"", in, err.msg,
			 msg);
	assert_string_equal(out, "");
}

static void test_taxno_reference(void **state)
{
	/* Reference section 9. */
	tax_ok("143/215/30457", KT_LAND_BY, "9143021530457");
	tax_ok("312/5071/0428", KT_LAND_NW, "5312050710428");
	tax_ok("045 228 61237", KT_LAND_HE, "2645022861237");
	tax_ok("21/815/12345", KT_LAND_BE, "1121081512345");
	tax_bad("21/815/12345", KT_LAND_NONE,
		"ambiguous without the Land: the notation fits BE, HH, NI, RP");
	tax_bad("914302153045", KT_LAND_NONE,
		"12 digits: neither a Land notation nor the 13-digit federal "
		"form");
	tax_bad("914302153045", KT_LAND_BY,
		"12 digits: neither a Land notation nor the 13-digit federal "
		"form");
}

static void test_taxno_all_lands(void **state)
{
	/* One constructed number per Land, in its printed notation. */
	static const struct {
		enum kt_land land;
		const char *in, *fed;
	} v[] = {
	    {KT_LAND_BW, "93815/08152", "2893081508152"},
	    {KT_LAND_BY, "181/815/08155", "9181081508155"},
	    {KT_LAND_BE, "21/815/08150", "1121081508150"},
	    {KT_LAND_BB, "048/815/08155", "3048081508155"},
	    {KT_LAND_HB, "75 815 08152", "2475081508152"},
	    {KT_LAND_HH, "02/815/08156", "2202081508156"},
	    {KT_LAND_HE, "013 815 08153", "2613081508153"},
	    {KT_LAND_MV, "079/815/08151", "4079081508151"},
	    {KT_LAND_NI, "24/815/08151", "2324081508151"},
	    {KT_LAND_NW, "133/8150/8159", "5133081508159"},
	    {KT_LAND_RP, "22/815/0815/4", ""}, /* bad: extra separator */
	    {KT_LAND_RP, "22/815/08154", "2722081508154"},
	    {KT_LAND_SL, "010/815/08182", "1010081508182"},
	    {KT_LAND_SN, "201/123/12340", "3201012312340"},
	    {KT_LAND_ST, "101/815/08154", "3101081508154"},
	    {KT_LAND_SH, "29 815 08158", "2129081508158"},
	    {KT_LAND_TH, "151/815/08156", "4151081508156"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[14], back[20];
		if (v[i].fed[0] == '\0') {
			assert_int_equal(kt_ident_taxno_normalize(
					     v[i].in, v[i].land, out, NULL),
					 KT_ERR_INVALID);
			continue;
		}
		tax_ok(v[i].in, v[i].land, v[i].fed);
		/* the federal form validates on its own and names the Land */
		tax_ok(v[i].fed, KT_LAND_NONE, v[i].fed);
		assert_int_equal(kt_ident_taxno_land(v[i].fed), v[i].land);
		/* and converts back to the printed notation */
		assert_int_equal(
		    kt_ident_taxno_format_land(v[i].fed, back, sizeof(back)),
		    KT_OK);
		assert_string_equal(back, v[i].in);
	}
}

static void test_taxno_notations(void **state)
{
	/* unseparated, spaces for slashes, slashes for spaces */
	tax_ok("14321530457", KT_LAND_BY, "9143021530457");
	tax_ok("143 215 30457", KT_LAND_BY, "9143021530457");
	tax_ok("045/228/61237", KT_LAND_HE, "2645022861237");
	tax_ok(" 9143021530457 ", KT_LAND_NONE, "9143021530457");
	tax_ok("9143021530457", KT_LAND_HH, "9143021530457");
	/* BW may also separate the Finanzamt: FF/BBB/UUUUP boundaries */
	tax_ok("93/815/08152", KT_LAND_BW, "2893081508152");

	tax_bad("", KT_LAND_BY, "empty tax number");
	tax_bad("  ", KT_LAND_BY, "empty tax number");
	tax_bad(NULL, KT_LAND_BY, "empty tax number");
	tax_bad("143/215/3045x", KT_LAND_BY, "unexpected character 'x'");
	tax_bad("/143/215/30457", KT_LAND_BY, "starts with a separator");
	tax_bad("1432/15/30457", KT_LAND_BY,
		"does not fit the notation of BY (FFF/BBB/UUUUP)");
	tax_bad("21/815/12345", KT_LAND_BY,
		"does not fit the notation of BY (FFF/BBB/UUUUP)");
	/* fixed leading digit: Sachsen numbers start with 2 */
	tax_bad("101/815/08154", KT_LAND_SN,
		"does not fit the notation of SN (2FF/BBB/UUUUP)");
	tax_bad("143/215/30457", KT_LAND_NONE,
		"ambiguous without the Land: the notation fits BY, ST, TH");
	tax_bad("14321530457", KT_LAND_NONE,
		"ambiguous without the Land: 11 digits in a Land notation");
	tax_bad("1943021530457", KT_LAND_NONE,
		"unknown Land prefix '19' in the federal form");
	tax_bad("9143121530457", KT_LAND_NONE,
		"fifth digit of the federal form must be 0");
	tax_bad("12345678901234567", KT_LAND_NONE, "more than 13 digits");
}

static void test_taxno_resolve(void **state)
{
	char out[14];
	enum kt_land used;
	struct kt_error err;
	enum kt_land by_then_be[] = {KT_LAND_BY, KT_LAND_BE};
	enum kt_land by_only[] = {KT_LAND_BY};
	enum kt_land none[] = {KT_LAND_NONE};

	/* first candidate that fits wins */
	assert_int_equal(kt_ident_taxno_resolve("21/815/12345", by_then_be, 2,
						out, &used, &err),
			 KT_OK);
	assert_string_equal(out, "1121081512345");
	assert_int_equal(used, KT_LAND_BE);
	/* a BW number in a Bayern export: its notation is unique */
	assert_int_equal(
	    kt_ident_taxno_resolve("93815/08152", by_only, 1, out, &used, &err),
	    KT_OK);
	assert_string_equal(out, "2893081508152");
	assert_int_equal(used, KT_LAND_BW);
	/* NRW's 3/4/4 grouping too */
	assert_int_equal(
	    kt_ident_taxno_resolve("312/5071/0428", none, 1, out, &used, &err),
	    KT_OK);
	assert_int_equal(used, KT_LAND_NW);
	/* federal forms need no Land */
	assert_int_equal(
	    kt_ident_taxno_resolve("5312050710428", NULL, 0, out, &used, &err),
	    KT_OK);
	assert_int_equal(used, KT_LAND_NW);
	/* no fit: the first candidate's reason */
	assert_int_equal(kt_ident_taxno_resolve("21/815/12345", by_only, 1, out,
						&used, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "Land unknown: not the notation of BY; "
				     "the notation fits BE, HH, NI, RP");
	assert_int_equal(kt_ident_taxno_resolve("2/1815/12345", by_only, 1, out,
						&used, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg,
			    "does not fit the notation of BY (FFF/BBB/UUUUP)");
	assert_string_equal(out, "");
	assert_int_equal(used, KT_LAND_NONE);
	assert_int_equal(
	    kt_ident_taxno_resolve("21/815/12345", none, 1, out, &used, &err),
	    KT_ERR_INVALID);
	assert_string_equal(
	    err.msg,
	    "ambiguous without the Land: the notation fits BE, HH, NI, RP");
	assert_int_equal(
	    kt_ident_taxno_format_land("1943021530457", out, sizeof(out)),
	    KT_ERR_INVALID);
	assert_int_equal(kt_ident_taxno_format_land("9143021530457", out, 5),
			 KT_ERR_LIMIT);
}

/* ---- Handelsregister ------------------------------------------------- */

static void reg_ok(const char *in, const char *court, int known,
		   const char *type, const char *number, const char *suffix,
		   const char *key)
{
	struct kt_ident_register r;
	struct kt_error err;
	char k[96];

	kt_error_clear(&err);
	if (kt_ident_register_parse(in, &r, &err) != KT_OK)
		fail_msg("register(\"%s\") rejected: %s", in, err.msg);
	if (strcmp(r.court, court) != 0 || r.court_known != known ||
	    strcmp(kt_ident_regtype_name(r.type), type) != 0 ||
	    strcmp(r.number, number) != 0 || strcmp(r.suffix, suffix) != 0)
		fail_msg("register(\"%s\") = (%s%s, %s, %s, %s)", in, r.court,
			 r.court_known ? "" : "?",
			 kt_ident_regtype_name(r.type), r.number, r.suffix);
	assert_int_equal(kt_ident_register_key(&r, k, sizeof(k)), KT_OK);
	assert_string_equal(k, key);
}

static void reg_bad(const char *in, const char *msg)
{
	struct kt_ident_register r;
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_ident_register_parse(in, &r, &err) != KT_ERR_INVALID)
		fail_msg("register(\"%s\") accepted", in);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("register(\"%s\"): \"%s\", want \"%s\"", in, err.msg,
			 msg);
}

static void test_register_reference(void **state)
{
	const char *ch = "Charlottenburg (Berlin)";
	const char *chk = "charlottenburg|HRB|12345 B";

	/* every notation of section 4 is the same entry */
	reg_ok("Amtsgericht Charlottenburg HRB 12345 B", ch, 1, "HRB", "12345",
	       "B", chk);
	reg_ok("AG Charlottenburg, HRB 12345 B", ch, 1, "HRB", "12345", "B",
	       chk);
	reg_ok("HRB 12345 B (AG Charlottenburg)", ch, 1, "HRB", "12345", "B",
	       chk);
	reg_ok("Charlottenburg (Berlin) HRB 12345 B", ch, 1, "HRB", "12345",
	       "B", chk);
	reg_ok("Registergericht: Amtsgericht Charlottenburg, Registernummer: "
	       "HRB 12345 B",
	       ch, 1, "HRB", "12345", "B", chk);
	reg_ok("Berlin (Charlottenburg) HRB 12345 B", ch, 1, "HRB", "12345",
	       "B", chk);
	reg_ok("Amtsgericht Charlottenburg (Berlin) HRB 12345", ch, 1, "HRB",
	       "12345", "", "charlottenburg|HRB|12345");
	/* court unknown: parsed, but no key */
	reg_ok("HRB12345B", "", 0, "HRB", "12345", "B", "");
	reg_ok("AG München, HRB 123456", "München", 1, "HRB", "123456", "",
	       "muenchen|HRB|123456");
	reg_ok("Pinneberg HRA 1749 IZ", "Pinneberg", 1, "HRA", "1749", "IZ",
	       "pinneberg|HRA|1749 IZ");
	reg_bad("HRC 12345", "unknown register type 'HRC'");
}

static void test_register_forms(void **state)
{
	reg_ok("HRB 1234, Amtsgericht Kiel", "Kiel", 1, "HRB", "1234", "",
	       "kiel|HRB|1234");
	reg_ok("AG Kiel HRB 1234 B", "Kiel", 1, "HRB", "1234", "B",
	       "kiel|HRB|1234 B");
	reg_ok("HR B 1234", "", 0, "HRB", "1234", "", "");
	reg_ok("HR A 1234 Amtsgericht Hamburg", "Hamburg", 1, "HRA", "1234", "",
	       "hamburg|HRA|1234");
	reg_ok("VR 123", "", 0, "VR", "123", "", "");
	reg_ok("GnR 45", "", 0, "GnR", "45", "", "");
	reg_ok("PR 7", "", 0, "PR", "7", "", "");
	reg_ok("GsR 12 Amtsgericht Köln", "Köln", 1, "GsR", "12", "",
	       "koeln|GsR|12");
	reg_ok("HRB 804 KI", "", 0, "HRB", "804", "KI", "");
	reg_ok("Amtsgericht Kiel HRB 804 KI", "Kiel", 1, "HRB", "804", "KI",
	       "kiel|HRB|804 KI");
	reg_ok("HRB 1234 AG Kiel", "Kiel", 1, "HRB", "1234", "",
	       "kiel|HRB|1234");
	reg_ok("HRB 01234 Kiel", "Kiel", 1, "HRB", "1234", "", "kiel|HRB|1234");
	reg_ok("HRB 1234 HOF", "Hof", 1, "HRB", "1234", "", "hof|HRB|1234");
	reg_ok("AMTSGERICHT FRANKFURT A.M. HRB 98765", "Frankfurt am Main", 1,
	       "HRB", "98765", "", "frankfurt_main|HRB|98765");
	reg_ok("AG Frankfurt/Main HRB 98765", "Frankfurt am Main", 1, "HRB",
	       "98765", "", "frankfurt_main|HRB|98765");
	reg_ok("Amtsgericht Frankfurt (Oder) HRB 55", "Frankfurt (Oder)", 1,
	       "HRB", "55", "", "frankfurt_oder|HRB|55");
	reg_ok("Handelsregister B Nr. 77 beim Amtsgericht Stuttgart",
	       "Stuttgart", 1, "HRB", "77", "", "stuttgart|HRB|77");
	reg_ok("Vereinsregister 4711, Amtsgericht Jena", "Jena", 1, "VR",
	       "4711", "", "jena|VR|4711");
	/* unknown court kept as written, unvalidated */
	reg_ok("Amtsgericht Atlantis HRB 1", "Atlantis", 0, "HRB", "1", "", "");
	reg_ok("Amtsgericht Frankfurt HRB 98765", "Frankfurt", 0, "HRB",
	       "98765", "", "");
	reg_ok("hrb 12 b amtsgericht kiel", "Kiel", 1, "HRB", "12", "B",
	       "kiel|HRB|12 B");

	reg_bad("", "empty register entry");
	reg_bad(" ,; ", "empty register entry");
	reg_bad(NULL, "empty register entry");
	reg_bad("GsR", "register number missing after GsR");
	reg_bad("HRB Kiel", "register number missing after HRB");
	reg_bad("Amtsgericht Kiel", "no register type and number found");
	reg_bad("HRB 1234567890123456", "register number too long");
	reg_bad("HRB 0", "register number 0");
	reg_bad("HRB 12 Amtsgericht \xff", "register entry is not valid UTF-8");
}

static void test_courts(void **state)
{
	const char *name, *id;
	enum kt_land land;
	int lands[KT_LAND_COUNT + 1] = {0};

	assert_int_equal(
	    kt_ident_court_lookup("Amtsgericht München", &name, &id, &land),
	    KT_OK);
	assert_string_equal(name, "München");
	assert_string_equal(id, "muenchen");
	assert_int_equal(land, KT_LAND_BY);
	assert_int_equal(kt_ident_court_lookup("AG Muenchen", NULL, &id, NULL),
			 KT_OK);
	assert_string_equal(id, "muenchen");
	assert_int_equal(
	    kt_ident_court_lookup("Freiburg i. Br.", NULL, &id, NULL), KT_OK);
	assert_string_equal(id, "freiburg");
	assert_int_equal(kt_ident_court_lookup("Atlantis", NULL, NULL, NULL),
			 KT_ERR_NOTFOUND);
	assert_int_equal(kt_ident_court_lookup("Amtsgericht", NULL, NULL, NULL),
			 KT_ERR_NOTFOUND);
	/* every Land has a court; ids are unique; names look themselves up */
	assert_true(kt_ident_court_count() > 100);
	for (size_t i = 0; i < kt_ident_court_count(); i++) {
		const char *n2, *id2;
		assert_int_equal(kt_ident_court_at(i, &name, &id, &land),
				 KT_OK);
		lands[land]++;
		assert_int_equal(kt_ident_court_lookup(name, &n2, &id2, NULL),
				 KT_OK);
		assert_string_equal(id2, id);
		for (size_t j = 0; j < i; j++) {
			const char *idj;
			kt_ident_court_at(j, NULL, &idj, NULL);
			assert_string_not_equal(idj, id);
		}
	}
	for (int l = 1; l <= KT_LAND_COUNT; l++)
		assert_true(lands[l] > 0);
	assert_int_equal(
	    kt_ident_court_at(kt_ident_court_count(), &name, &id, &land),
	    KT_ERR_NOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vat),
	    cmocka_unit_test(test_vat_check_digit),
	    cmocka_unit_test(test_widnr),
	    cmocka_unit_test(test_taxno_reference),
	    cmocka_unit_test(test_taxno_all_lands),
	    cmocka_unit_test(test_taxno_notations),
	    cmocka_unit_test(test_taxno_resolve),
	    cmocka_unit_test(test_register_reference),
	    cmocka_unit_test(test_register_forms),
	    cmocka_unit_test(test_courts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
