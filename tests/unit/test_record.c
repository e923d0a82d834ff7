#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/mapping.h"
#include "kontor/record.h"
#include "kontor/util.h"

/* Columns of the test mapping, in order. */
enum {
	C_ID,
	C_NAME,
	C_LF,
	C_STREET,
	C_PLZ,
	C_CITY,
	C_VAT,
	C_TAX,
	C_HR,
	C_WID,
	C_MAIL,
	C_MAIL2,
	C_CNAME,
	C_CMAIL,
	C_CVER,
	C_HASH,
	C_ROLE,
	C_DATE,
	C_N
};

static const char MAP[] =
    "{\"land\":\"BY\",\"source\":\"by-test\",\"delimiter\":\";\","
    "\"columns\":["
    "{\"column\":\"id\",\"field\":\"account_id\"},"
    "{\"column\":\"firma\",\"field\":\"name\"},"
    "{\"column\":\"rf\",\"field\":\"legal_form\"},"
    "{\"column\":\"str\",\"field\":\"street\"},"
    "{\"column\":\"plz\",\"field\":\"postcode\",\"numeric\":true},"
    "{\"column\":\"ort\",\"field\":\"city\"},"
    "{\"column\":\"ust\",\"field\":\"vat_id\"},"
    "{\"column\":\"stnr\",\"field\":\"tax_number\"},"
    "{\"column\":\"hr\",\"field\":\"register\"},"
    "{\"column\":\"wid\",\"field\":\"w_idnr\"},"
    "{\"column\":\"mail\",\"field\":\"email\"},"
    "{\"column\":\"mail2\",\"field\":\"email\"},"
    "{\"column\":\"kontakt\",\"field\":\"contact_name\"},"
    "{\"column\":\"kmail\",\"field\":\"contact_email\"},"
    "{\"column\":\"kver\",\"field\":\"contact_email_verified\"},"
    "{\"column\":\"hash\",\"field\":\"contact_password_hash\"},"
    "{\"column\":\"rolle\",\"field\":\"contact_role\"},"
    "{\"column\":\"datum\",\"field\":\"confirmed_at\"}]}";

struct fx {
	struct kt_mapping *m;
	struct kt_rec *r;
	const char *v[C_N];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kt_error err;

	assert_non_null(f);
	assert_int_equal(kt_mapping_load_string(MAP, &f->m, &err), KT_OK);
	assert_non_null(f->r = kt_rec_new());
	f->v[C_ID] = " 100234 ";
	f->v[C_NAME] = "MÜLLER BAU GMBH & CO. KG";
	f->v[C_LF] = "";
	f->v[C_STREET] = "Hans-Böckler-Str. 12 a";
	f->v[C_PLZ] = "1067.0";
	f->v[C_CITY] = "Dresden";
	f->v[C_VAT] = "de 123 456 788";
	f->v[C_TAX] = "201/123/12340";
	f->v[C_HR] = "HRA 4711, Amtsgericht Dresden";
	f->v[C_WID] = "";
	f->v[C_MAIL] = "Info@Mueller-Bau.DE; buero@mueller-bau.de";
	f->v[C_MAIL2] = "info@mueller-bau.de";
	f->v[C_CNAME] = "MÜLLER, HANS";
	f->v[C_CMAIL] = "H.Mueller@Mueller-Bau.de";
	f->v[C_CVER] = "ja";
	f->v[C_HASH] = "$2y$10$abcdefghijklmnopqrstuv";
	f->v[C_ROLE] = "ADMINISTRATOR";
	f->v[C_DATE] = "02.05.2023";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	kt_rec_free(f->r);
	kt_mapping_free(f->m);
	free(f);
	return 0;
}

static int build(struct fx *f, struct kt_rec_reject *rej)
{
	return kt_rec_build(f->r, f->m, f->v, "by.csv", 17, rej);
}

static int has_issue(const struct kt_rec *r, enum kt_field fld,
		     const char *reason)
{
	for (size_t i = 0; i < r->n_issues; i++)
		if (r->issues[i].field == fld &&
		    strcmp(r->issues[i].reason, reason) == 0)
			return 1;
	return 0;
}

static void dump_issues(const struct kt_rec *r)
{
	for (size_t i = 0; i < r->n_issues; i++)
		print_message("issue %s: %s\n",
			      kt_mapping_field_name(r->issues[i].field),
			      r->issues[i].reason);
}

static void test_build(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	struct kt_rec *r = f->r;
	char id[32];

	assert_int_equal(build(f, &rej), KT_OK);
	assert_int_equal(r->land, KT_LAND_BY);
	assert_string_equal(r->source, "by-test");
	assert_string_equal(r->file, "by.csv");
	assert_int_equal(r->line, 17);
	assert_string_equal(r->account_id, "100234");
	assert_int_equal(kt_rec_id(r, id, sizeof(id)), KT_OK);
	assert_string_equal(id, "BY:100234");
	assert_string_equal(r->confirmed_at, "2023-05-02");
	assert_string_equal(r->name.raw, "MÜLLER BAU GMBH & CO. KG");
	assert_string_equal(r->name.display, "Müller Bau GmbH & Co. KG");
	assert_string_equal(r->name.key, "mueller bau");
	assert_int_equal(r->legal_form, KT_LF_GMBH_CO_KG);
	assert_string_equal(r->addr.street, "Hans-Böckler-Str.");
	assert_string_equal(r->addr.street_key, "hans boeckler str");
	assert_string_equal(r->addr.house_number, "12a");
	assert_string_equal(r->addr.postcode, "01067");
	assert_true(r->addr.postcode_restored);
	assert_string_equal(r->addr.city, "Dresden");
	assert_string_equal(r->addr.city_key, "dresden");
	assert_string_equal(r->vat.raw, "de 123 456 788");
	assert_string_equal(r->vat.norm, "DE123456788");
	assert_true(r->vat.valid);
	/* a Saxon number in a Bavarian export: the postcode picks SN */
	assert_string_equal(r->taxno.norm, "3201012312340");
	assert_true(r->taxno.valid);
	assert_int_equal(r->taxno_land, KT_LAND_SN);
	assert_true(r->reg.valid);
	assert_true(r->reg.court_known);
	assert_string_equal(r->reg.court_id, "dresden");
	assert_string_equal(r->reg.type, "HRA");
	assert_string_equal(r->reg.number, "4711");
	assert_int_equal(r->n_emails, 2);
	assert_string_equal(r->emails[0], "Info@mueller-bau.de");
	assert_string_equal(r->emails[1], "buero@mueller-bau.de");
	assert_string_equal(r->contact.name, "Hans Müller");
	assert_string_equal(r->contact.name_key, "hans mueller");
	assert_string_equal(r->contact.email, "H.Mueller@mueller-bau.de");
	assert_true(r->contact.email_valid);
	assert_true(r->contact.email_verified);
	assert_string_equal(r->contact.password_hash,
			    "$2y$10$abcdefghijklmnopqrstuv");
	assert_string_equal(r->contact.role, "Administrator");
	if (r->n_issues != 0)
		dump_issues(r);
	assert_int_equal(r->n_issues, 0);
}

static void test_issues(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	struct kt_rec *r = f->r;

	f->v[C_NAME] = "Müller Bau GmbH";
	f->v[C_LF] = "Sonstige";
	f->v[C_VAT] = "DE123456789";
	f->v[C_TAX] = "21/815/12345";
	f->v[C_HR] = "HRB 4711";
	f->v[C_WID] = "DE123456788-1";
	f->v[C_PLZ] = "80331";
	f->v[C_MAIL] = "info(at)mueller.de";
	f->v[C_MAIL2] = "";
	f->v[C_CMAIL] = "h.mueller@";
	f->v[C_CVER] = "vielleicht";
	f->v[C_DATE] = "31.02.2023";
	f->v[C_STREET] = "Marienplatz #8";
	assert_int_equal(build(f, &rej), KT_OK);
	/* invalid identifiers are kept, flagged */
	assert_string_equal(r->vat.raw, "DE123456789");
	assert_string_equal(r->vat.norm, "DE123456789");
	assert_false(r->vat.valid);
	assert_false(r->taxno.valid);
	assert_string_equal(r->taxno.raw, "21/815/12345");
	assert_false(r->widnr.valid);
	assert_true(r->reg.valid);
	assert_false(r->reg.court_known);
	assert_int_equal(r->n_emails, 0);
	assert_false(r->contact.email_valid);
	assert_false(r->contact.email_verified);
	assert_string_equal(r->confirmed_at, "");
	assert_true(
	    has_issue(r, KT_FIELD_LEGAL_FORM, "unknown legal form 'Sonstige'"));
	assert_true(
	    has_issue(r, KT_FIELD_VAT_ID, "check digit is 9, expected 8"));
	assert_true(has_issue(r, KT_FIELD_TAX_NUMBER,
			      "Land unknown: not the notation of BY; the "
			      "notation fits BE, HH, NI, RP"));
	assert_true(has_issue(r, KT_FIELD_W_IDNR, "suffix must have 5 digits"));
	assert_true(has_issue(r, KT_FIELD_REGISTER,
			      "no register court: 'HRB 4711' alone identifies "
			      "nothing"));
	assert_true(has_issue(r, KT_FIELD_EMAIL,
			      "invalid e-mail 'info(at)mueller.de': missing "
			      "'@'"));
	assert_true(has_issue(r, KT_FIELD_CONTACT_EMAIL,
			      "invalid e-mail 'h.mueller@': empty domain"));
	assert_true(
	    has_issue(r, KT_FIELD_CONTACT_EMAIL_VERIFIED,
		      "not a yes/no value: 'vielleicht' (taken as no)"));
	assert_true(
	    has_issue(r, KT_FIELD_CONFIRMED_AT, "not a date: '31.02.2023'"));
	/* no number-like tail: all of it is the street */
	assert_string_equal(r->addr.street, "Marienplatz #8");
	assert_string_equal(r->addr.house_number, "");

	/* conflicting legal forms, HRA for a GmbH, unknown court, bad PLZ */
	f->v[C_NAME] = "Müller GmbH";
	f->v[C_LF] = "KG";
	f->v[C_HR] = "HRA 1 Amtsgericht Atlantis";
	f->v[C_PLZ] = "803";
	assert_int_equal(build(f, &rej), KT_OK);
	assert_int_equal(r->legal_form, KT_LF_GMBH);
	assert_true(has_issue(r, KT_FIELD_LEGAL_FORM,
			      "the column says KG, the name says GMBH; the "
			      "name wins"));
	assert_true(has_issue(r, KT_FIELD_REGISTER,
			      "register court 'Atlantis' is not in the table "
			      "of register courts"));
	assert_true(has_issue(r, KT_FIELD_REGISTER,
			      "HRA entry for legal form GMBH (expected HRB)"));
	assert_true(has_issue(r, KT_FIELD_POSTCODE,
			      "postcode has only 3 digits: '803'"));
	assert_string_equal(r->addr.postcode, "");
}

static void test_rejects(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	char big[KT_NORM_TEXT_MAX + 2];

	f->v[C_ID] = "  ";
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_int_equal(rej.field, KT_FIELD_ACCOUNT_ID);
	assert_string_equal(rej.reason, "missing account id");
	f->v[C_ID] =
	    "12345678901234567890123456789012345678901234567890123456789"
	    "0123456";
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_string_equal(rej.reason, "account id longer than 64 characters");
	f->v[C_ID] = "12\x01";
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_string_equal(rej.reason,
			    "account id contains control characters");
	f->v[C_ID] = "7";
	f->v[C_NAME] = "";
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_int_equal(rej.field, KT_FIELD_NAME);
	assert_string_equal(rej.reason, "missing company name");
	f->v[C_NAME] = "...";
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_string_equal(rej.reason, "empty name");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f->v[C_NAME] = "ok";
	f->v[C_CITY] = big;
	assert_int_equal(build(f, &rej), KT_ERR_INVALID);
	assert_int_equal(rej.field, KT_FIELD_CITY);
	assert_string_equal(rej.reason, "longer than 1024 bytes");
}

static void test_required(void **state)
{
	struct kt_mapping *m;
	struct kt_error err;
	struct kt_rec *r = kt_rec_new();
	struct kt_rec_reject rej;
	const char *v[3] = {"1", "Müller GmbH", ""};

	assert_int_equal(
	    kt_mapping_load_string(
		"{\"land\":\"HH\",\"columns\":["
		"{\"column\":\"a\",\"field\":\"account_id\"},"
		"{\"column\":\"b\",\"field\":\"name\"},"
		"{\"column\":\"c\",\"field\":\"vat_id\",\"required\":true}]}",
		&m, &err),
	    KT_OK);
	assert_int_equal(kt_rec_build(r, m, v, "hh.csv", 2, &rej),
			 KT_ERR_INVALID);
	assert_int_equal(rej.field, KT_FIELD_VAT_ID);
	assert_string_equal(rej.reason, "required field is empty");
	kt_mapping_free(m);
	kt_rec_free(r);
	kt_rec_free(NULL);
}

static void test_split_columns(void **state)
{
	struct kt_mapping *m;
	struct kt_error err;
	struct kt_rec *r = kt_rec_new();
	struct kt_rec_reject rej;
	const char *v[8] = {
	    "9",      "Nordlicht AG", "Kiel",	  "HRB",
	    "804 KI", "Anna",	      "Schröder", "Holstenstr. 1, 24103 Kiel"};
	const char *row[KT_REC_MATCH_NCOLS];

	assert_int_equal(kt_mapping_load_string(
			     "{\"land\":\"SH\",\"columns\":["
			     "{\"index\":0,\"field\":\"account_id\"},"
			     "{\"index\":1,\"field\":\"name\"},"
			     "{\"index\":2,\"field\":\"register_court\"},"
			     "{\"index\":3,\"field\":\"register_type\"},"
			     "{\"index\":4,\"field\":\"register_number\"},"
			     "{\"index\":5,\"field\":\"contact_first_name\"},"
			     "{\"index\":6,\"field\":\"contact_last_name\"},"
			     "{\"index\":7,\"field\":\"address_line\"}]}",
			     &m, &err),
			 KT_OK);
	assert_int_equal(kt_rec_build(r, m, v, "sh.csv", 3, &rej), KT_OK);
	assert_string_equal(r->reg.raw, "HRB 804 KI, Amtsgericht Kiel");
	assert_string_equal(r->reg.suffix, "KI");
	assert_true(r->reg.court_known);
	assert_string_equal(r->contact.name, "Anna Schröder");
	assert_string_equal(r->addr.street, "Holstenstr.");
	assert_string_equal(r->addr.house_number, "1");
	assert_string_equal(r->addr.postcode, "24103");
	assert_string_equal(r->addr.city, "Kiel");
	assert_int_equal(kt_rec_match_row(r, row), KT_OK);
	assert_string_equal(row[4], "kiel|HRB|804 KI");
	assert_string_equal(row[2], "");
	assert_string_equal(row[9], "");

	v[7] = "irgendwo";
	assert_int_equal(kt_rec_build(r, m, v, "sh.csv", 3, &rej), KT_OK);
	assert_true(
	    has_issue(r, KT_FIELD_ADDRESS_LINE, "no postcode and city found"));
	assert_string_equal(r->addr.street, "irgendwo");
	kt_mapping_free(m);
	kt_rec_free(r);
}

static void test_taxno_land(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;

	/* Stade (NI) in a Bavarian export: postcode zone 21 is shared by
	 * three Länder, the register court says Niedersachsen. */
	f->v[C_PLZ] = "21682";
	f->v[C_CITY] = "Stade";
	f->v[C_HR] = "Amtsgericht Stade HRB 77";
	f->v[C_TAX] = "24/815/08151";
	assert_int_equal(build(f, &rej), KT_OK);
	assert_true(f->r->taxno.valid);
	assert_string_equal(f->r->taxno.norm, "2324081508151");
	assert_int_equal(f->r->taxno_land, KT_LAND_NI);
	assert_int_equal(f->r->reg_land, KT_LAND_NI);
	/* without the court it cannot be placed */
	f->v[C_HR] = "";
	assert_int_equal(build(f, &rej), KT_OK);
	assert_false(f->r->taxno.valid);
	assert_true(has_issue(f->r, KT_FIELD_TAX_NUMBER,
			      "Land unknown: not the notation of BY; the "
			      "notation fits BE, HH, NI, RP"));
}

static void test_match_row(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	const char *row[KT_REC_MATCH_NCOLS];

	assert_int_equal(build(f, &rej), KT_OK);
	assert_int_equal(kt_rec_match_row(f->r, row), KT_OK);
	assert_string_equal(row[0], "mueller bau");
	assert_string_equal(row[1], "GMBH_CO_KG");
	assert_string_equal(row[2], "DE123456788");
	assert_string_equal(row[3], "3201012312340");
	assert_string_equal(row[4], "dresden|HRA|4711");
	assert_string_equal(row[5], "01067");
	assert_string_equal(row[6], "dresden");
	assert_string_equal(row[7], "hans boeckler str");
	assert_string_equal(row[8], "12a");
	assert_string_equal(row[9], "buero@mueller-bau.de "
				    "h.mueller@mueller-bau.de "
				    "info@mueller-bau.de");
	assert_string_equal(kt_rec_match_column(0), "name_key");
	assert_string_equal(kt_rec_match_column(9), "email");
	assert_string_equal(kt_rec_match_column(10), "");

	/* invalid identifiers never reach the matcher; a W-IdNr core
	 * stands in for a missing VAT id */
	f->v[C_VAT] = "DE123456789";
	f->v[C_TAX] = "12345";
	f->v[C_HR] = "HRB 1";
	f->v[C_WID] = "DE812345673-00001";
	assert_int_equal(build(f, &rej), KT_OK);
	assert_int_equal(kt_rec_match_row(f->r, row), KT_OK);
	assert_string_equal(row[2], "DE812345673");
	assert_string_equal(row[3], "");
	assert_string_equal(row[4], "");
}

static void test_json_roundtrip(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	json_error_t je;
	json_t *o;
	struct kt_rec *back = kt_rec_new();
	struct kt_error err;
	const char *a[KT_REC_MATCH_NCOLS], *b[KT_REC_MATCH_NCOLS];

	f->v[C_NAME] = "Müller \"Bau\"\tGmbH i.L.";
	f->v[C_VAT] = "DE123456789";
	assert_int_equal(build(f, &rej), KT_OK);
	assert_int_equal(kt_rec_write_json(f->r, mem), KT_OK);
	fclose(mem);
	assert_true(len > 0 && buf[len - 1] == '\n');
	assert_null(memchr(buf, '\n', len - 1));
	o = json_loadb(buf, len, 0, &je);
	if (o == NULL)
		fail_msg("bad JSON: %s: %s", je.text, buf);
	assert_string_equal(json_string_value(json_object_get(o, "id")),
			    "BY:100234");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(o, "name"), "raw")),
			    "Müller \"Bau\"\tGmbH i.L.");
	assert_int_equal(kt_rec_from_json(back, o, &err), KT_OK);
	assert_string_equal(back->account_id, f->r->account_id);
	assert_string_equal(back->name.display, f->r->name.display);
	assert_int_equal(back->legal_form, f->r->legal_form);
	assert_int_equal(back->name_state, KT_NORM_STATE_LIQUIDATION);
	assert_false(back->vat.valid);
	assert_int_equal(back->n_issues, f->r->n_issues);
	assert_int_equal(back->taxno_land, KT_LAND_SN);
	assert_string_equal(back->contact.password_hash,
			    f->r->contact.password_hash);
	assert_int_equal(kt_rec_match_row(f->r, a), KT_OK);
	assert_int_equal(kt_rec_match_row(back, b), KT_OK);
	for (int i = 0; i < KT_REC_MATCH_NCOLS; i++)
		assert_string_equal(a[i], b[i]);
	json_decref(o);
	free(buf);

	/* rejects of malformed records */
	o = json_loads("{\"land\":\"XX\",\"account_id\":\"1\",\"name\":{"
		       "\"key\":\"a\"}}",
		       0, &je);
	assert_int_equal(kt_rec_from_json(back, o, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "record: .land: unknown Land code");
	json_decref(o);
	o = json_loads("{\"land\":\"BY\",\"account_id\":\"1\",\"name\":{"
		       "\"key\":7}}",
		       0, &je);
	assert_int_equal(kt_rec_from_json(back, o, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "record: .name.key: expected a string");
	json_decref(o);
	o = json_loads("{\"land\":\"BY\",\"name\":{\"key\":\"a\"}}", 0, &je);
	assert_int_equal(kt_rec_from_json(back, o, &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "record: .account_id: required");
	json_decref(o);
	kt_rec_free(back);
}

static void test_dates_bools(void **state)
{
	static const char *const ok[][2] = {
	    {"2023-05-02", "2023-05-02"},
	    {"2023-05-02T10:11:12Z", "2023-05-02"},
	    {"2023-05-02 10:11", "2023-05-02"},
	    {"02.05.2023", "2023-05-02"},
	    {"2.5.2023", "2023-05-02"},
	    {"29.02.2024 08:00:00", "2024-02-29"},
	    {"1683028800", "2023-05-02"},
	};
	static const char *const bad[] = {
	    "",	       "2023-13-01", "29.02.2023", "2023/05/02",  "02.05.23",
	    "gestern", "1.1.1900",   "123.4.2023", "99999999999",
	};
	char out[11];
	int b;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(kt_rec_parse_date(ok[i][0], out), KT_OK);
		assert_string_equal(out, ok[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kt_rec_parse_date(bad[i], out) != KT_ERR_INVALID)
			fail_msg("date \"%s\" accepted: %s", bad[i], out);
		assert_string_equal(out, "");
	}
	assert_int_equal(kt_rec_parse_bool("JA", &b), KT_OK);
	assert_true(b);
	assert_int_equal(kt_rec_parse_bool(" x ", &b), KT_OK);
	assert_true(b);
	assert_int_equal(kt_rec_parse_bool("Nein", &b), KT_OK);
	assert_false(b);
	assert_int_equal(kt_rec_parse_bool("", &b), KT_OK);
	assert_false(b);
	assert_int_equal(kt_rec_parse_bool("2", &b), KT_ERR_INVALID);
	assert_int_equal(kt_rec_parse_bool("vielleicht-ja-nein", &b),
			 KT_ERR_INVALID);
}

static void test_reuse(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;

	/* many builds on one record: the arena is rewound, not grown */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(build(f, &rej), KT_OK);
	assert_string_equal(f->r->name.key, "mueller bau");
}

/* Random text in every column: no crash, valid UTF-8 JSON out. */
static void test_garbage(void **state)
{
	struct fx *f = *state;
	struct kt_rec_reject rej;
	static char vals[C_N][96];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static const char alphabet[] =
	    "aZ0 9.,;-/&+()'\"@#\t\xc3\xa4\xc3\x9f\xe2\x82\xac"
	    "HRBGmbHDE";

	for (int round = 0; round < 3000; round++) {
		for (int c = 0; c < C_N; c++) {
			size_t n, w = 0;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			n = (size_t)(x % 60);
			while (w < n) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				vals[c][w++] =
				    alphabet[x % (sizeof(alphabet) - 1)];
			}
			vals[c][w] = '\0';
			/* keep the random text valid UTF-8, as readers do */
			while (w > 0 && !kt_utf8_valid(vals[c], w))
				vals[c][--w] = '\0';
			f->v[c] = vals[c];
		}
		if (build(f, &rej) == KT_OK) {
			char *buf = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&buf, &len);
			const char *row[KT_REC_MATCH_NCOLS];
			json_error_t je;
			json_t *o;

			assert_int_equal(kt_rec_write_json(f->r, m), KT_OK);
			fclose(m);
			assert_true(kt_utf8_valid(buf, len));
			o = json_loadb(buf, len, 0, &je);
			if (o == NULL)
				fail_msg("bad JSON %s: %s", je.text, buf);
			json_decref(o);
			free(buf);
			assert_int_equal(kt_rec_match_row(f->r, row), KT_OK);
			for (int i = 0; i < KT_REC_MATCH_NCOLS; i++)
				assert_true(
				    kt_utf8_valid(row[i], strlen(row[i])));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_build, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_issues, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
	    cmocka_unit_test(test_required),
	    cmocka_unit_test(test_split_columns),
	    cmocka_unit_test_setup_teardown(test_taxno_land, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_match_row, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_roundtrip, setup,
					    teardown),
	    cmocka_unit_test(test_dates_bools),
	    cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
