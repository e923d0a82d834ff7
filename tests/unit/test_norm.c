#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/land.h"
#include "kontor/norm.h"

static void fold_eq(const char *in, unsigned flags, const char *want)
{
	char out[256];

	assert_int_equal(kt_norm_fold(in, strlen(in), out, sizeof(out), flags),
			 KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
}

static void test_fold(void **state)
{
	fold_eq("Müller Bau GmbH", 0, "mueller bau gmbh");
	fold_eq("MÜLLER BAU GMBH", 0, "mueller bau gmbh");
	fold_eq("Mueller  Bau   GmbH", 0, "mueller bau gmbh");
	fold_eq("Straße", 0, "strasse");
	fold_eq("STRAẞE", 0, "strasse");
	fold_eq("Äpfel Öl Übel", 0, "aepfel oel uebel");
	fold_eq("Café Crème Señor Łódź Œuvre Ærø Ĳssel", 0,
		"cafe creme senor lodz oeuvre aero ijssel");
	fold_eq("Müller's Backstube", 0, "muellers backstube");
	fold_eq("Müller’s Backstube", 0, "muellers backstube");
	fold_eq("  Hans-Böckler-Str. 12a ", 0, "hans boeckler str 12a");
	fold_eq("Müller & Söhne", 0, "mueller soehne");
	fold_eq("Müller & Söhne", KT_NORM_FOLD_AMP, "mueller und soehne");
	fold_eq("A+B", KT_NORM_FOLD_AMP, "a und b");
	fold_eq("Ελληνικά Müller", 0, "Ελληνικά mueller");
	fold_eq("", 0, "");
	fold_eq("...", 0, "");
	/* loose: dropped umlauts meet both other spellings */
	fold_eq("Müller", KT_NORM_FOLD_LOOSE, "muller");
	fold_eq("Mueller", KT_NORM_FOLD_LOOSE, "muller");
	fold_eq("Muller", KT_NORM_FOLD_LOOSE, "muller");
	fold_eq("Schröder Bäcker", KT_NORM_FOLD_LOOSE, "schroder backer");
}

static void test_fold_errors(void **state)
{
	char out[8];

	assert_int_equal(kt_norm_fold("\xc3\x28", 2, out, sizeof(out), 0),
			 KT_ERR_INVALID);
	assert_int_equal(kt_norm_fold("abcdefghijkl", 12, out, sizeof(out), 0),
			 KT_ERR_LIMIT);
	assert_int_equal(kt_norm_fold("a", 1, out, 0, 0), KT_ERR_LIMIT);
}

static void display_eq(const char *in, const char *want)
{
	char out[256];

	assert_int_equal(kt_norm_display(in, out, sizeof(out)), KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("display(\"%s\") = \"%s\", want \"%s\"", in, out,
			 want);
}

static void test_display(void **state)
{
	display_eq("  Müller   Bau\tGmbH ", "Müller Bau GmbH");
	display_eq("MÜLLER-LÜDENSCHEIDT UND SÖHNE",
		   "Müller-Lüdenscheidt und Söhne");
	display_eq("IT SERVICE ÖZDEMIR", "IT Service Özdemir");
	display_eq("ÄRZTEHAUS AM MARKT", "Ärztehaus am Markt");
	display_eq("3D DRUCK", "3D Druck");
	display_eq("eBay Shop", "eBay Shop");
	display_eq("A", "A");
}

static void name_eq(const char *raw, const char *col, const char *display,
		    const char *key, enum kt_lf lf)
{
	struct kt_norm_company c;
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_norm_company_name(raw, col, &c, &err) != KT_OK)
		fail_msg("name(\"%s\") failed: %s", raw, err.msg);
	if (strcmp(c.display, display) != 0)
		fail_msg("display(\"%s\") = \"%s\", want \"%s\"", raw,
			 c.display, display);
	if (strcmp(c.key, key) != 0)
		fail_msg("key(\"%s\") = \"%s\", want \"%s\"", raw, c.key, key);
	if (c.legal_form != lf)
		fail_msg("lf(\"%s\") = %s, want %s", raw,
			 kt_norm_lf_code(c.legal_form), kt_norm_lf_code(lf));
}

static void test_company_names(void **state)
{
	name_eq("Müller Bau GmbH", NULL, "Müller Bau GmbH", "mueller bau",
		KT_LF_GMBH);
	name_eq("MÜLLER BAU GMBH", NULL, "Müller Bau GmbH", "mueller bau",
		KT_LF_GMBH);
	name_eq("Mueller Bau G.m.b.H.", NULL, "Mueller Bau GmbH", "mueller bau",
		KT_LF_GMBH);
	name_eq("Müller Bau Gesellschaft mit beschränkter Haftung", NULL,
		"Müller Bau GmbH", "mueller bau", KT_LF_GMBH);
	name_eq("Müller Bau Gesellschaft mit beschraenkter Haftung", NULL,
		"Müller Bau GmbH", "mueller bau", KT_LF_GMBH);
	name_eq("Müller Bauträgergesellschaft mbH", NULL,
		"Müller Bauträgergesellschaft mbH",
		"mueller bautraegergesellschaft", KT_LF_GMBH);
	/* "& Co." forms are whole forms, not "KG" */
	name_eq("Müller Bau GmbH & Co. KG", NULL, "Müller Bau GmbH & Co. KG",
		"mueller bau", KT_LF_GMBH_CO_KG);
	name_eq("Müller Bau GmbH&Co.KG", NULL, "Müller Bau GmbH & Co. KG",
		"mueller bau", KT_LF_GMBH_CO_KG);
	name_eq("Müller Bau GmbH u. Co. KG", NULL, "Müller Bau GmbH & Co. KG",
		"mueller bau", KT_LF_GMBH_CO_KG);
	name_eq("Müller Bau GmbH + Co KG", NULL, "Müller Bau GmbH & Co. KG",
		"mueller bau", KT_LF_GMBH_CO_KG);
	name_eq("Müller Bau GmbH und Co. KG", NULL, "Müller Bau GmbH & Co. KG",
		"mueller bau", KT_LF_GMBH_CO_KG);
	name_eq("Müller Bau UG (haftungsbeschränkt) & Co. KG", NULL,
		"Müller Bau UG (haftungsbeschränkt) & Co. KG", "mueller bau",
		KT_LF_GMBH_CO_KG);
	name_eq("Müller Verwaltungs-GmbH", NULL, "Müller Verwaltungs-GmbH",
		"mueller verwaltungs", KT_LF_GMBH);
	name_eq("Müller KG", NULL, "Müller KG", "mueller", KT_LF_KG);
	name_eq("Müller Kommanditgesellschaft", NULL, "Müller KG", "mueller",
		KT_LF_KG);
	name_eq("Schmidt oHG", NULL, "Schmidt OHG", "schmidt", KT_LF_OHG);
	name_eq("Schmidt & Weber OHG", NULL, "Schmidt & Weber OHG",
		"schmidt und weber", KT_LF_OHG);
	name_eq("Software Schmidt UG (haftungsbeschränkt)", NULL,
		"Software Schmidt UG (haftungsbeschränkt)", "software schmidt",
		KT_LF_UG);
	name_eq("Software Schmidt UG (hb)", NULL,
		"Software Schmidt UG (haftungsbeschränkt)", "software schmidt",
		KT_LF_UG);
	name_eq("Software Schmidt UG haftungsbeschraenkt", NULL,
		"Software Schmidt UG (haftungsbeschränkt)", "software schmidt",
		KT_LF_UG);
	name_eq("Nordlicht AG", NULL, "Nordlicht AG", "nordlicht", KT_LF_AG);
	name_eq("Nordlicht Aktiengesellschaft", NULL, "Nordlicht AG",
		"nordlicht", KT_LF_AG);
	name_eq("Nordlicht GmbH & Co. KGaA", NULL, "Nordlicht GmbH & Co. KGaA",
		"nordlicht", KT_LF_KGAA);
	name_eq("Nordlicht SE", NULL, "Nordlicht SE", "nordlicht", KT_LF_SE);
	name_eq("Nordlicht SE & Co. KGaA", NULL, "Nordlicht SE & Co. KGaA",
		"nordlicht", KT_LF_SE);
	name_eq("Blumen Meier e.K.", NULL, "Blumen Meier e.K.", "blumen meier",
		KT_LF_EK);
	name_eq("Blumen Meier e. K.", NULL, "Blumen Meier e.K.", "blumen meier",
		KT_LF_EK);
	name_eq("Blumen Meier eK", NULL, "Blumen Meier e.K.", "blumen meier",
		KT_LF_EK);
	name_eq("Blumen Meier e.Kfm.", NULL, "Blumen Meier e.Kfm.",
		"blumen meier", KT_LF_EK);
	name_eq("Blumen Meier Inh. Hans Meier", NULL,
		"Blumen Meier Inh. Hans Meier", "blumen meier", KT_LF_EINZEL);
	name_eq("BLUMEN MEIER INH. HANS MEIER", NULL,
		"Blumen Meier Inh. Hans Meier", "blumen meier", KT_LF_EINZEL);
	name_eq("Blumen Meier e.K. Inh. Hans Meier", NULL,
		"Blumen Meier e.K. Inh. Hans Meier", "blumen meier", KT_LF_EK);
	name_eq("Sportfreunde Kiel e.V.", NULL, "Sportfreunde Kiel e.V.",
		"sportfreunde kiel", KT_LF_EV);
	name_eq("Sportfreunde Kiel eingetragener Verein", NULL,
		"Sportfreunde Kiel e.V.", "sportfreunde kiel", KT_LF_EV);
	name_eq("Raiffeisenbank Nord eG", NULL, "Raiffeisenbank Nord eG",
		"raiffeisenbank nord", KT_LF_EG);
	name_eq("Raiffeisenbank Nord e.G.", NULL, "Raiffeisenbank Nord eG",
		"raiffeisenbank nord", KT_LF_EG);
	name_eq("Weber & Koch GbR", NULL, "Weber & Koch GbR", "weber und koch",
		KT_LF_GBR);
	name_eq("Weber & Koch eGbR", NULL, "Weber & Koch eGbR",
		"weber und koch", KT_LF_GBR);
	name_eq("Weber Rechtsanwälte PartG mbB", NULL,
		"Weber Rechtsanwälte PartG mbB", "weber rechtsanwaelte",
		KT_LF_PARTG);
	name_eq("Weber Rechtsanwälte PartGmbB", NULL,
		"Weber Rechtsanwälte PartG mbB", "weber rechtsanwaelte",
		KT_LF_PARTG);
	name_eq("Weber & Partner", NULL, "Weber & Partner", "weber",
		KT_LF_PARTG);
	name_eq("Weber & Partner GmbH", NULL, "Weber & Partner GmbH",
		"weber und partner", KT_LF_GMBH);
	name_eq("Lebenshilfe gGmbH", NULL, "Lebenshilfe gGmbH", "lebenshilfe",
		KT_LF_GGMBH);
	name_eq("Bertelsmann Stiftung", NULL, "Bertelsmann Stiftung",
		"bertelsmann", KT_LF_STIFTUNG);
	name_eq("Stadtwerke Kiel AöR", NULL, "Stadtwerke Kiel AöR",
		"stadtwerke kiel", KT_LF_AOER);
	name_eq("Handwerkskammer Hamburg KdöR", NULL,
		"Handwerkskammer Hamburg KdöR", "handwerkskammer hamburg",
		KT_LF_KDOER);
	name_eq("Nord VVaG", NULL, "Nord VVaG", "nord", KT_LF_VVAG);
	name_eq("Tee Import Ltd.", NULL, "Tee Import Ltd.", "tee import",
		KT_LF_LTD);
	/* states are not forms */
	name_eq("Müller Bau GmbH i.L.", NULL, "Müller Bau GmbH i.L.",
		"mueller bau", KT_LF_GMBH);
	name_eq("Müller Bau GmbH in Liquidation", NULL, "Müller Bau GmbH i.L.",
		"mueller bau", KT_LF_GMBH);
	name_eq("Müller Bau UG (haftungsbeschränkt) i.G.", NULL,
		"Müller Bau UG (haftungsbeschränkt) i.G.", "mueller bau",
		KT_LF_UG);
	/* no form: KT_LF_NONE, not "sole trader" */
	name_eq("Müller Bau", NULL, "Müller Bau", "mueller bau", KT_LF_NONE);
	/* form from the column */
	name_eq("Müller Bau", "GmbH", "Müller Bau GmbH", "mueller bau",
		KT_LF_GMBH);
	name_eq("Müller Bau", "Gesellschaft mit beschränkter Haftung",
		"Müller Bau GmbH", "mueller bau", KT_LF_GMBH);
	name_eq("Hans Müller", "Einzelunternehmen", "Hans Müller",
		"hans mueller", KT_LF_EINZEL);
	/* "Inh." alone is weaker than a form in the column */
	name_eq("Blumen Meier Inh. Hans Meier", "e.K.",
		"Blumen Meier Inh. Hans Meier", "blumen meier", KT_LF_EK);
	/* A.B.C. and Fa. */
	name_eq("A.B.C. Reinigung GmbH", NULL, "A.B.C. Reinigung GmbH",
		"abc reinigung", KT_LF_GMBH);
	name_eq("Fa. Müller Bau", NULL, "Fa. Müller Bau", "mueller bau",
		KT_LF_NONE);
	name_eq("\"Müller Bau GmbH\"", NULL, "Müller Bau GmbH", "mueller bau",
		KT_LF_GMBH);
	/* A name that is only a form keeps it as its key */
	name_eq("GmbH", NULL, "GmbH", "gmbh", KT_LF_NONE);
	/* ae/oe/ue spellings and ALL CAPS give the same key */
	name_eq("SCHROEDER & SOEHNE GMBH", NULL, "Schroeder & Soehne GmbH",
		"schroeder und soehne", KT_LF_GMBH);
	name_eq("Schröder & Söhne GmbH", NULL, "Schröder & Söhne GmbH",
		"schroeder und soehne", KT_LF_GMBH);
}

static void test_company_conflict(void **state)
{
	struct kt_norm_company c;

	assert_int_equal(
	    kt_norm_company_name("Müller GmbH & Co. KG", "GmbH", &c, NULL),
	    KT_OK);
	assert_int_equal(c.legal_form, KT_LF_GMBH_CO_KG);
	assert_int_equal(c.legal_form_column, KT_LF_GMBH);
	assert_int_equal(c.legal_form_in_name, KT_LF_GMBH_CO_KG);
	assert_true(c.legal_form_conflict);
	assert_int_equal(kt_norm_company_name("Müller GmbH", "GmbH", &c, NULL),
			 KT_OK);
	assert_false(c.legal_form_conflict);
	assert_int_equal(kt_norm_company_name("Blumen Meier Inh. Hans Meier",
					      "e.K.", &c, NULL),
			 KT_OK);
	assert_int_equal(c.legal_form, KT_LF_EK);
	assert_int_equal(c.legal_form_in_name, KT_LF_EINZEL);
	assert_false(c.legal_form_conflict);
	/* unknown column text is ignored */
	assert_int_equal(kt_norm_company_name("Müller", "Sonstige", &c, NULL),
			 KT_OK);
	assert_int_equal(c.legal_form, KT_LF_NONE);
	assert_int_equal(
	    kt_norm_company_name("Müller GmbH i.L.", NULL, &c, NULL), KT_OK);
	assert_int_equal(c.state, KT_NORM_STATE_LIQUIDATION);
}

static void test_company_errors(void **state)
{
	struct kt_norm_company c;
	struct kt_error err;
	char big[KT_NORM_TEXT_MAX + 10];

	assert_int_equal(kt_norm_company_name("   ", NULL, &c, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "empty name");
	assert_int_equal(kt_norm_company_name(NULL, NULL, &c, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "empty name");
	assert_int_equal(kt_norm_company_name("M\xfcller", NULL, &c, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "name is not valid UTF-8");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(kt_norm_company_name(big, NULL, &c, &err),
			 KT_ERR_LIMIT);
	assert_string_equal(err.msg, "name longer than 1024 bytes");
}

static void test_legal_form_column(void **state)
{
	static const struct {
		const char *in;
		enum kt_lf lf;
	} ok[] = {
	    {"GmbH", KT_LF_GMBH},
	    {"Gmbh", KT_LF_GMBH},
	    {"G.m.b.H.", KT_LF_GMBH},
	    {"GMBH", KT_LF_GMBH},
	    {"GMBH_CO_KG", KT_LF_GMBH_CO_KG},
	    {"GmbH & Co. KG", KT_LF_GMBH_CO_KG},
	    {"GmbH & Co KG", KT_LF_GMBH_CO_KG},
	    {"AG & Co. KG", KT_LF_GMBH_CO_KG},
	    {"UG (haftungsbeschränkt)", KT_LF_UG},
	    {"Unternehmergesellschaft (haftungsbeschränkt)", KT_LF_UG},
	    {"e.K.", KT_LF_EK},
	    {"e.Kfr.", KT_LF_EK},
	    {"Eingetragener Kaufmann", KT_LF_EK},
	    {"e.V.", KT_LF_EV},
	    {"eV", KT_LF_EV},
	    {"Verein", KT_LF_EV},
	    {"Genossenschaft", KT_LF_EG},
	    {"GbR", KT_LF_GBR},
	    {"Gesellschaft bürgerlichen Rechts", KT_LF_GBR},
	    {"PartG mbB", KT_LF_PARTG},
	    {"Partnerschaftsgesellschaft", KT_LF_PARTG},
	    {"Einzelunternehmen", KT_LF_EINZEL},
	    {"Einzelunternehmer", KT_LF_EINZEL},
	    {"KGaA", KT_LF_KGAA},
	    {"Kommanditgesellschaft auf Aktien", KT_LF_KGAA},
	    {"Stiftung", KT_LF_STIFTUNG},
	    {"Körperschaft des öffentlichen Rechts", KT_LF_KDOER},
	    {"Anstalt des öffentlichen Rechts", KT_LF_AOER},
	    {"VVaG", KT_LF_VVAG},
	    {"SE", KT_LF_SE},
	    {"Societas Europaea", KT_LF_SE},
	    {"OHG", KT_LF_OHG},
	    {"offene Handelsgesellschaft", KT_LF_OHG},
	    {"o.H.G.", KT_LF_OHG},
	    {"Ges.m.b.H.", KT_LF_GMBH},
	    {"GesmbH", KT_LF_GMBH},
	    {"GmbH & Cie. KG", KT_LF_GMBH_CO_KG},
	    {"G.m.b.H. & Co. KG", KT_LF_GMBH_CO_KG},
	    {"UG & Co. KG", KT_LF_GMBH_CO_KG},
	    {"Stiftung & Co. KG", KT_LF_GMBH_CO_KG},
	    {"UG (haftungsbeschr.)", KT_LF_UG},
	    {"gemeinnützige GmbH", KT_LF_GGMBH},
	    {"K.d.ö.R.", KT_LF_KDOER},
	    {"A.ö.R.", KT_LF_AOER},
	    {"V.V.a.G.", KT_LF_VVAG},
	    {"Versicherungsverein auf Gegenseitigkeit", KT_LF_VVAG},
	    {"Europäische Gesellschaft", KT_LF_SE},
	    {"EWIV", KT_LF_EWIV},
	    {"Limited", KT_LF_LTD},
	    {"Partnerschaftsgesellschaft mit beschränkter Berufshaftung",
	     KT_LF_PARTG},
	    {"Kleingewerbe", KT_LF_EINZEL},
	    {"Einzelfirma", KT_LF_EINZEL},
	    {"eingetragene Kauffrau", KT_LF_EK},
	    {"Gesellschaft mbH", KT_LF_GMBH},
	    {"Gesellschaft mit beschraenkter Haftung", KT_LF_GMBH},
	    {"", KT_LF_NONE},
	    {"  ", KT_LF_NONE},
	};
	enum kt_lf lf;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (kt_norm_legal_form(ok[i].in, &lf) != KT_OK)
			fail_msg("legal_form(\"%s\") failed", ok[i].in);
		if (lf != ok[i].lf)
			fail_msg("legal_form(\"%s\") = %s", ok[i].in,
				 kt_norm_lf_code(lf));
	}
	assert_int_equal(kt_norm_legal_form("Sonstige", &lf), KT_ERR_INVALID);
	assert_int_equal(lf, KT_LF_NONE);
	assert_int_equal(kt_norm_legal_form("Müller GmbH", &lf),
			 KT_ERR_INVALID);
	assert_int_equal(kt_norm_legal_form("\xff", &lf), KT_ERR_INVALID);
}

static void test_lf_table(void **state)
{
	enum kt_lf lf;

	for (int i = 1; i < KT_LF_COUNT; i++) {
		assert_int_equal(kt_norm_lf_from_code(kt_norm_lf_code(i), &lf),
				 KT_OK);
		assert_int_equal(lf, i);
		assert_true(strlen(kt_norm_lf_label(i)) > 0);
	}
	assert_string_equal(kt_norm_lf_code(KT_LF_NONE), "");
	assert_string_equal(kt_norm_lf_code((enum kt_lf)99), "");
	assert_string_equal(kt_norm_lf_register(KT_LF_GMBH), "HRB");
	assert_string_equal(kt_norm_lf_register(KT_LF_GMBH_CO_KG), "HRA");
	assert_string_equal(kt_norm_lf_register(KT_LF_EG), "GnR");
	assert_string_equal(kt_norm_lf_register(KT_LF_EV), "VR");
	assert_string_equal(kt_norm_lf_register(KT_LF_PARTG), "PR");
	assert_string_equal(kt_norm_lf_register(KT_LF_GBR), "GsR");
	assert_int_equal(kt_norm_lf_from_code("gmbh", &lf), KT_ERR_INVALID);
	assert_int_equal(kt_norm_lf_from_code("", &lf), KT_ERR_INVALID);
}

static void plz_eq(const char *in, enum kt_land land, int numeric,
		   const char *want, unsigned want_flags)
{
	char out[6];
	unsigned flags;
	struct kt_error err;

	if (kt_norm_postcode(in, land, numeric, out, &flags, &err) != KT_OK)
		fail_msg("postcode(\"%s\") failed: %s", in, err.msg);
	assert_string_equal(out, want);
	assert_int_equal(flags, want_flags);
}

static void plz_bad(const char *in, int numeric, const char *msg)
{
	char out[6];
	unsigned flags;
	struct kt_error err;

	assert_int_equal(
	    kt_norm_postcode(in, KT_LAND_NONE, numeric, out, &flags, &err),
	    KT_ERR_INVALID);
	assert_string_equal(err.msg, msg);
	assert_string_equal(out, "");
}

static void test_postcode(void **state)
{
	plz_eq("24103", KT_LAND_SH, 0, "24103", 0);
	plz_eq(" 24103 ", KT_LAND_NONE, 0, "24103", 0);
	plz_eq("D-24103", KT_LAND_NONE, 0, "24103", 0);
	plz_eq("DE-24103", KT_LAND_NONE, 0, "24103", 0);
	plz_eq("1067", KT_LAND_SN, 0, "01067", KT_NORM_PLZ_PADDED);
	plz_eq("1067", KT_LAND_NONE, 0, "01067", KT_NORM_PLZ_PADDED);
	plz_eq("1067", KT_LAND_BY, 0, "01067",
	       KT_NORM_PLZ_PADDED | KT_NORM_PLZ_OFF_LAND);
	plz_eq("1067.0", KT_LAND_SN, 1, "01067",
	       KT_NORM_PLZ_PADDED | KT_NORM_PLZ_NUMBER);
	plz_eq("24103,0", KT_LAND_SH, 1, "24103", KT_NORM_PLZ_NUMBER);
	plz_bad("", 0, "empty postcode");
	plz_bad("   ", 0, "empty postcode");
	plz_bad("123", 0, "postcode has only 3 digits");
	plz_bad("241034", 0, "postcode has more than 5 digits");
	plz_bad("24l03", 0, "postcode must be 5 digits");
	plz_bad("1067.0", 0, "postcode must be 5 digits");
	plz_bad("00123", 0, "postcode zone 00 does not exist");
	plz_bad("123", 1, "postcode has only 3 digits");
}

static void split_eq(const char *in, const char *street, const char *num)
{
	char s[128], n[32];

	assert_int_equal(kt_norm_street_split(in, s, sizeof(s), n, sizeof(n)),
			 KT_OK);
	if (strcmp(s, street) != 0 || strcmp(n, num) != 0)
		fail_msg("split(\"%s\") = \"%s\" / \"%s\"", in, s, n);
}

static void test_street_split(void **state)
{
	split_eq("Hauptstr. 12a", "Hauptstr.", "12a");
	split_eq("Hauptstraße 12 a", "Hauptstraße", "12 a");
	split_eq("Straße des 17. Juni 135", "Straße des 17. Juni", "135");
	split_eq("Am Markt 4 - 8", "Am Markt", "4 - 8");
	split_eq("Am Markt 4-8", "Am Markt", "4-8");
	split_eq("Lindenweg 12/1", "Lindenweg", "12/1");
	split_eq("Lindenweg 12 1/2", "Lindenweg", "12 1/2");
	split_eq("Hauptstr.12", "Hauptstr.", "12");
	split_eq("Hauptstr., 12", "Hauptstr.", "12");
	split_eq("Am Markt", "Am Markt", "");
	split_eq("C4 12", "C4", "12");
	split_eq("", "", "");
}

static void skey_eq(const char *in, const char *want)
{
	char out[128];

	assert_int_equal(kt_norm_street_key(in, out, sizeof(out)), KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("street_key(\"%s\") = \"%s\", want \"%s\"", in, out,
			 want);
}

static void test_street_key(void **state)
{
	skey_eq("Hauptstraße", "haupt str");
	skey_eq("Hauptstr.", "haupt str");
	skey_eq("Hauptstrasse", "haupt str");
	skey_eq("HAUPTSTRASSE", "haupt str");
	skey_eq("Hauptstrase", "haupt str");
	skey_eq("Hans-Böckler-Str.", "hans boeckler str");
	skey_eq("Hans-Böckler-Straße", "hans boeckler str");
	skey_eq("Hans Böckler Straße", "hans boeckler str");
	skey_eq("Hans-Boeckler-Strasse", "hans boeckler str");
	skey_eq("Straße des 17. Juni", "str des 17 juni");
	skey_eq("Marktplatz", "markt platz");
	skey_eq("Markt Pl.", "markt platz");
	skey_eq("St.-Georg-Weg", "sankt georg weg");
	skey_eq("Am Markt", "am markt");
	assert_true(kt_norm_street_is_po_box("Postfach 12 34"));
	assert_true(kt_norm_street_is_po_box("PF 1234"));
	assert_false(kt_norm_street_is_po_box("Pfarrweg 3"));
}

static void test_house_number(void **state)
{
	static const char *const ok[][2] = {
	    {"16 c", "16c"},	{"16c", "16c"},	      {"16 C", "16c"},
	    {"4-8", "4-8"},	{"4 - 8", "4-8"},     {"12/1", "12/1"},
	    {"12 / 1", "12/1"}, {"12 1/2", "12 1/2"}, {" 7 ", "7"},
	    {"4a-4c", "4a-4c"},
	};
	char out[32];
	struct kt_error err;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(
		    kt_norm_house_number(ok[i][0], out, sizeof(out), &err),
		    KT_OK);
		assert_string_equal(out, ok[i][1]);
	}
	assert_int_equal(kt_norm_house_number("", out, sizeof(out), &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "empty house number");
	assert_int_equal(kt_norm_house_number("a12", out, sizeof(out), &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "house number must start with a digit");
	assert_int_equal(kt_norm_house_number("12#", out, sizeof(out), &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "house number contains '#'");
}

static void ckey_eq(const char *in, const char *want)
{
	char out[128];

	assert_int_equal(kt_norm_city_key(in, out, sizeof(out)), KT_OK);
	if (strcmp(out, want) != 0)
		fail_msg("city_key(\"%s\") = \"%s\", want \"%s\"", in, out,
			 want);
}

static void test_city(void **state)
{
	ckey_eq("Frankfurt am Main", "frankfurt am main");
	ckey_eq("Frankfurt a. M.", "frankfurt am main");
	ckey_eq("Frankfurt/Main", "frankfurt am main");
	ckey_eq("FRANKFURT A.M.", "frankfurt am main");
	ckey_eq("Freiburg im Breisgau", "freiburg im breisgau");
	ckey_eq("Freiburg i. Br.", "freiburg im breisgau");
	ckey_eq("Frankfurt (Oder)", "frankfurt oder");
	ckey_eq("Frankfurt/Oder", "frankfurt oder");
	ckey_eq("Weiden i.d.OPf.", "weiden in der opf");
	ckey_eq("Halle (Saale)", "halle saale");
	ckey_eq("St. Ingbert", "sankt ingbert");
	ckey_eq("Kiel.", "kiel");
	ckey_eq("Berlin-Mitte", "berlin mitte");
	ckey_eq("Görlitz", "goerlitz");
}

static void test_address_line(void **state)
{
	struct kt_norm_address a;
	struct kt_error err;

	assert_int_equal(
	    kt_norm_address_line("Hauptstr. 12a, 24103 Kiel", &a, &err), KT_OK);
	assert_string_equal(a.street, "Hauptstr.");
	assert_string_equal(a.house_number, "12a");
	assert_string_equal(a.postcode, "24103");
	assert_string_equal(a.city, "Kiel");
	assert_int_equal(
	    kt_norm_address_line("Hauptstr. 12a 24103 Kiel", &a, &err), KT_OK);
	assert_string_equal(a.street, "Hauptstr.");
	assert_string_equal(a.house_number, "12a");
	assert_string_equal(a.postcode, "24103");
	assert_string_equal(a.city, "Kiel");
	assert_int_equal(
	    kt_norm_address_line("Straße des 17. Juni 135, D-10623 Berlin", &a,
				 &err),
	    KT_OK);
	assert_string_equal(a.street, "Straße des 17. Juni");
	assert_string_equal(a.house_number, "135");
	assert_string_equal(a.postcode, "10623");
	assert_string_equal(a.city, "Berlin");
	assert_int_equal(
	    kt_norm_address_line("Prager Str. 4 - 8, 1067 Dresden", &a, &err),
	    KT_OK);
	assert_string_equal(a.street, "Prager Str.");
	assert_string_equal(a.house_number, "4 - 8");
	assert_string_equal(a.postcode, "1067");
	assert_string_equal(a.city, "Dresden");
	assert_int_equal(
	    kt_norm_address_line("60311 Frankfurt am Main, Zeil 5", &a, &err),
	    KT_OK);
	assert_string_equal(a.street, "Zeil");
	assert_string_equal(a.house_number, "5");
	assert_string_equal(a.postcode, "60311");
	assert_string_equal(a.city, "Frankfurt am Main");
	assert_int_equal(kt_norm_address_line("Hauptstr. 12, Kiel", &a, &err),
			 KT_ERR_INVALID);
	assert_string_equal(err.msg, "no postcode and city found");
}

static void email_ok(const char *in, const char *want)
{
	char out[KT_NORM_EMAIL_MAX + 1];
	struct kt_error err;

	if (kt_norm_email(in, out, sizeof(out), &err) != KT_OK)
		fail_msg("email(\"%s\") failed: %s", in, err.msg);
	assert_string_equal(out, want);
}

static void email_bad(const char *in, const char *msg)
{
	char out[KT_NORM_EMAIL_MAX + 1];
	struct kt_error err;

	kt_error_clear(&err);
	if (kt_norm_email(in, out, sizeof(out), &err) != KT_ERR_INVALID)
		fail_msg("email(\"%s\") accepted", in);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("email(\"%s\"): \"%s\", want \"%s\"", in, err.msg,
			 msg);
}

static void test_email(void **state)
{
	email_ok("info@mueller-bau.de", "info@mueller-bau.de");
	email_ok("  Info@Mueller-Bau.DE ", "Info@mueller-bau.de");
	email_ok("mailto:h.mueller@example.com", "h.mueller@example.com");
	email_ok("<h.mueller@example.com>", "h.mueller@example.com");
	email_ok("first.last+tag@sub.example.co.uk",
		 "first.last+tag@sub.example.co.uk");
	email_ok("x@xn--mller-kva.de", "x@xn--mller-kva.de");
	email_ok("x@müller.de", "x@müller.de");
	email_ok("x@example.xn--p1ai", "x@example.xn--p1ai");
	email_bad("", "empty e-mail address");
	email_bad("  ", "empty e-mail address");
	email_bad("info.mueller.de", "missing '@'");
	email_bad("a@b@c.de", "more than one '@'");
	email_bad("@example.com", "empty local part");
	email_bad(".a@example.com", "local part starts or ends with a dot");
	email_bad("a.@example.com", "local part starts or ends with a dot");
	email_bad("a..b@example.com", "two dots in a row");
	email_bad("a b@example.com", "invalid character ' ' in the local part");
	email_bad("a@", "empty domain");
	email_bad("a@localhost", "domain has no dot");
	email_bad("a@example..com", "empty label in the domain");
	email_bad("a@-example.com", "domain label starts or ends with '-'");
	email_bad("a@exa_mple.com", "invalid character '_' in the domain");
	email_bad("a@example.c", "top-level domain too short");
	email_bad("a@example.123", "top-level domain must be letters");
	email_bad(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa@example.com",
	    "local part longer than 64 characters");
}

static void person_eq(const char *in, const char *display, const char *key)
{
	char d[128], k[128];

	assert_int_equal(kt_norm_person_name(in, d, sizeof(d), k, sizeof(k)),
			 KT_OK);
	if (strcmp(d, display) != 0 || strcmp(k, key) != 0)
		fail_msg("person(\"%s\") = \"%s\" / \"%s\"", in, d, k);
}

static void test_person(void **state)
{
	person_eq("Hans Müller", "Hans Müller", "hans mueller");
	person_eq("MÜLLER, HANS", "Hans Müller", "hans mueller");
	person_eq("Müller, Hans", "Hans Müller", "hans mueller");
	person_eq("hans mueller", "Hans Mueller", "hans mueller");
	person_eq("Herr Dr. Hans Müller", "Dr. Hans Müller", "hans mueller");
	person_eq("Frau Prof. Dr. Eva von Weber", "Prof. Dr. Eva von Weber",
		  "eva von weber");
	person_eq("ANNA-LENA SCHRÖDER", "Anna-Lena Schröder",
		  "anna lena schroeder");
	person_eq("", "", "");
}

static void test_land(void **state)
{
	enum kt_land l;

	assert_int_equal(kt_land_parse("BY", &l), KT_OK);
	assert_int_equal(l, KT_LAND_BY);
	assert_int_equal(kt_land_parse("DE-TH", &l), KT_OK);
	assert_int_equal(l, KT_LAND_TH);
	assert_int_equal(kt_land_parse("by", &l), KT_ERR_INVALID);
	assert_int_equal(l, KT_LAND_NONE);
	assert_int_equal(kt_land_parse("XX", &l), KT_ERR_INVALID);
	assert_int_equal(kt_land_parse(NULL, &l), KT_ERR_INVALID);
	assert_string_equal(kt_land_code(KT_LAND_NW), "NW");
	assert_string_equal(kt_land_name(KT_LAND_TH), "Thüringen");
	assert_string_equal(kt_land_code(KT_LAND_NONE), "");
	assert_string_equal(kt_land_code((enum kt_land)42), "");
	{
		/* codes in enum order match KT_LAND_CODES */
		char all[64] = "";
		size_t w = 0;
		for (int i = 1; i <= KT_LAND_COUNT; i++)
			w +=
			    (size_t)snprintf(all + w, sizeof(all) - w, "%s%s",
					     i > 1 ? " " : "", kt_land_code(i));
		assert_string_equal(all, KT_LAND_CODES);
	}
	assert_int_equal(kt_land_from_postcode("01067"), KT_LAND_SN);
	assert_int_equal(kt_land_from_postcode("80331"), KT_LAND_BY);
	assert_int_equal(kt_land_from_postcode("24103"), KT_LAND_SH);
	assert_int_equal(kt_land_from_postcode("10115"), KT_LAND_BE);
	assert_int_equal(kt_land_from_postcode("14467"), KT_LAND_NONE);
	assert_int_equal(kt_land_from_postcode("89073"), KT_LAND_NONE);
	assert_int_equal(kt_land_from_postcode("1067"), KT_LAND_NONE);
	assert_int_equal(kt_land_from_postcode("abcde"), KT_LAND_NONE);
	assert_true(kt_land_has_zero_postcodes(KT_LAND_SN));
	assert_false(kt_land_has_zero_postcodes(KT_LAND_BE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_fold_errors),
	    cmocka_unit_test(test_display),
	    cmocka_unit_test(test_company_names),
	    cmocka_unit_test(test_company_conflict),
	    cmocka_unit_test(test_company_errors),
	    cmocka_unit_test(test_legal_form_column),
	    cmocka_unit_test(test_lf_table),
	    cmocka_unit_test(test_postcode),
	    cmocka_unit_test(test_street_split),
	    cmocka_unit_test(test_street_key),
	    cmocka_unit_test(test_house_number),
	    cmocka_unit_test(test_city),
	    cmocka_unit_test(test_address_line),
	    cmocka_unit_test(test_email),
	    cmocka_unit_test(test_person),
	    cmocka_unit_test(test_land),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
