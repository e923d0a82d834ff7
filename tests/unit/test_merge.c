/*
 * Golden records and people: the rules file and its errors, survivorship
 * (valid identifiers first, most recently confirmed, source priority per
 * Land and per group), people merged by verified e-mail only, memberships
 * with the strongest role, legacy hashes per source, and the plan built
 * from the generator's fixture.
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
#include "kontor/merge.h"
#include "kontor/plan.h"

/* ---- helpers -------------------------------------------------------- */

static struct kt_merge_rules *rules(const char *json)
{
	struct kt_merge_rules *r = NULL;
	struct kt_error err;

	if (kt_merge_rules_load_string(
		json ? json : kt_merge_rules_default_json(), &r, &err) != KT_OK)
		fail_msg("rules rejected: %s", err.msg);
	return r;
}

/*
 * A record: land, account id, name, confirmed_at, then "key=value;..."
 * extras understood below (vat, vatok, reg, court, street, pc, city,
 * mail, verified, hash, role, lf).
 */
static void add(struct kt_merge *m, const char *cluster, const char *land,
		const char *id, const char *name, const char *confirmed,
		const char *extra)
{
	char json[8192], vat[256] = "", reg[512] = "", addr[512] = "",
			 contact[1024] = "";
	char mail[128] = "", hash[128] = "", role[64] = "", street[64] = "",
	     pc[16] = "", city[64] = "", court[64] = "", lf[32] = "";
	char vatv[32] = "", regn[32] = "";
	int vatok = 1, verified = 1;
	struct kt_rec *r = kt_rec_new();
	struct kt_error err;
	json_t *o;
	char *e = strdup(extra ? extra : ""), *tok, *next;

	for (tok = e; tok != NULL && *tok != '\0'; tok = next) {
		char *eq = strchr(tok, '=');
		const char *v;

		next = strchr(tok, ';');
		if (next != NULL)
			*next++ = '\0';
		assert_non_null(eq);
		*eq = '\0';
		v = eq + 1;
#define SET(k, buf)                                                            \
	if (strcmp(tok, k) == 0)                                               \
	snprintf(buf, sizeof(buf), "%s", v)
		SET("vat", vatv);
		SET("reg", regn);
		SET("court", court);
		SET("street", street);
		SET("pc", pc);
		SET("city", city);
		SET("mail", mail);
		SET("hash", hash);
		SET("role", role);
		SET("lf", lf);
#undef SET
		if (strcmp(tok, "vatok") == 0)
			vatok = v[0] == '1';
		if (strcmp(tok, "verified") == 0)
			verified = v[0] == '1';
	}
	free(e);
	if (vatv[0])
		snprintf(vat, sizeof(vat),
			 ",\"vat_id\":{\"raw\":\"%s\",\"norm\":\"%s\","
			 "\"valid\":%s}",
			 vatv, vatv, vatok ? "true" : "false");
	if (regn[0])
		snprintf(reg, sizeof(reg),
			 ",\"register\":{\"raw\":\"HRB %s, Amtsgericht %s\","
			 "\"court\":\"%s\",\"court_id\":\"%s\",\"court_known\":"
			 "%s,\"type\":\"HRB\",\"number\":\"%s\",\"suffix\":"
			 "\"\",\"valid\":true}",
			 regn, court, court, court, court[0] ? "true" : "false",
			 regn);
	snprintf(addr, sizeof(addr),
		 ",\"address\":{\"street\":\"%s\",\"house_number\":\"1\","
		 "\"postcode\":\"%s\",\"city\":\"%s\"}",
		 street, pc, city);
	if (mail[0])
		snprintf(
		    contact, sizeof(contact),
		    ",\"contact\":{\"name\":\"Person %s\",\"email\":\"%s\","
		    "\"email_valid\":%s,\"email_verified\":%s,"
		    "\"password_hash\":\"%s\",\"role\":\"%s\"}",
		    id, mail, strchr(mail, '@') ? "true" : "false",
		    verified ? "true" : "false", hash, role);
	snprintf(json, sizeof(json),
		 "{\"land\":\"%s\",\"account_id\":\"%s\",\"confirmed_at\":"
		 "\"%s\",\"name\":{\"raw\":\"%s\",\"display\":\"%s\","
		 "\"key\":\"%s\"},\"legal_form\":\"%s\"%s%s%s%s}",
		 land, id, confirmed, name, name, name, lf, vat, reg, addr,
		 contact);
	o = json_loads(json, 0, NULL);
	assert_non_null(o);
	if (kt_rec_from_json(r, o, &err) != KT_OK)
		fail_msg("record: %s\n%s", err.msg, json);
	if (kt_merge_add(m, r, cluster, &err) != KT_OK)
		fail_msg("add: %s", err.msg);
	json_decref(o);
	kt_rec_free(r);
}

static const char *org(json_t *u, const char *k)
{
	const char *s =
	    json_string_value(json_object_get(json_object_get(u, "org"), k));

	return s ? s : "";
}

static json_t *person(json_t *u, const char *email)
{
	size_t i;
	json_t *p;

	json_array_foreach(
	    json_object_get(u, "people"), i,
	    p) if (strcmp(json_string_value(json_object_get(p, "email")),
			  email) == 0) return p;
	return NULL;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- rules ---------------------------------------------------------- */

static void rules_fail(const char *json, const char *msg)
{
	struct kt_merge_rules *r = (void *)1;
	struct kt_error err;

	assert_int_equal(kt_merge_rules_load_string(json, &r, &err),
			 KT_ERR_INVALID);
	assert_null(r);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("got:  %s\nwant: %s", err.msg, msg);
}

static void test_rules(void **state)
{
	struct kt_merge_rules *r = rules(NULL), *f = NULL;
	struct kt_error err;
	char path[512];
	int known;

	assert_string_equal(kt_merge_rules_role(r, "Administrator", &known),
			    "admin");
	assert_true(known);
	assert_string_equal(kt_merge_rules_role(r, "Bevollmächtigter", &known),
			    "representative");
	assert_true(known);
	assert_string_equal(kt_merge_rules_role(r, "MITARBEITER", &known),
			    "member");
	assert_string_equal(kt_merge_rules_role(r, "Hausmeister", &known),
			    "member");
	assert_false(known);
	assert_string_equal(kt_merge_rules_role(r, "", &known), "member");
	kt_merge_rules_free(r);
	/* the shipped file is the built-in default */
	snprintf(path, sizeof(path), "%s/docs/rules/survivorship.json",
		 getenv("KONTOR_SOURCE_DIR"));
	if (kt_merge_rules_load_file(path, &f, &err) != KT_OK)
		fail_msg("%s", err.msg);
	kt_merge_rules_free(f);
	{
		FILE *fp = fopen(path, "r");
		char buf[8192];
		size_t n;

		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		assert_string_equal(buf, kt_merge_rules_default_json());
	}
	r = rules("{\"version\":1,\"unknown_role\":\"representative\","
		  "\"roles\":{\"admin\":[\"Chef\"]}}");
	assert_string_equal(kt_merge_rules_role(r, "chef", &known), "admin");
	assert_string_equal(kt_merge_rules_role(r, "admin", &known),
			    "representative");
	kt_merge_rules_free(r);

	rules_fail("{\"version\":2}", "rules: .version: must be 1");
	rules_fail("{\"version\":1,\"colour\":1}",
		   "rules: .: unknown key 'colour'");
	rules_fail("{\"version\":1,\"order\":[\"age\"]}",
		   "rules: .order: [0]: expected \"confirmed_at\" or "
		   "\"source_priority\"");
	rules_fail("{\"version\":1,\"order\":[\"confirmed_at\","
		   "\"confirmed_at\"]}",
		   "rules: .order: [1]: named twice");
	rules_fail("{\"version\":1,\"source_priority\":{\"XX\":1}}",
		   "rules: .source_priority: XX: unknown Land code (one of BW "
		   "BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH)");
	rules_fail("{\"version\":1,\"source_priority\":{\"BY\":1.5}}",
		   "rules: .source_priority: BY: must be an integer from "
		   "-1000 to 1000");
	rules_fail("{\"version\":1,\"groups\":{\"phone\":{}}}",
		   "rules: .groups: unknown group 'phone' (name, legal_form, "
		   "vat, taxno, register, wid, address, person)");
	rules_fail("{\"version\":1,\"groups\":{\"address\":{\"x\":1}}}",
		   "rules: .groups.address: unknown key 'x'");
	rules_fail("{\"version\":1,\"roles\":{\"boss\":[]}}",
		   "rules: .roles: unknown role 'boss' (admin, member or "
		   "representative)");
	rules_fail("{\"version\":1,\"roles\":{\"admin\":[\"\"]}}",
		   "rules: .roles: admin[0]: must be 1 to 64 bytes of UTF-8");
	rules_fail("{\"version\":1,\"unknown_role\":\"owner\"}",
		   "rules: .unknown_role: must be admin, member or "
		   "representative");
	rules_fail("{\"version\":1,\"max_legacy_hashes\":0}",
		   "rules: .max_legacy_hashes: must be an integer from 1 to "
		   "64");
	rules_fail("{\"version\":1,", "rules: line 1: string or '}' expected "
				      "near end of file");
	assert_int_equal(kt_merge_rules_load_file("/nonexistent", &f, &err),
			 KT_ERR_IO);
	assert_string_equal(err.msg, "rules: /nonexistent: cannot open");
}

/* ---- survivorship --------------------------------------------------- */

static void test_survivorship(void **state)
{
	struct kt_merge_rules *r = rules(NULL);
	struct kt_merge *m = NULL;
	struct kt_error err;
	json_t *u;

	assert_int_equal(kt_merge_new(r, &m), KT_OK);
	/* a valid VAT id beats a newer invalid one; the newest name and
	 * address win; an older record's register fills the gap */
	add(m, "c1", "BY", "1", "Alt GmbH", "2020-01-01",
	    "vat=DE123456788;reg=1234;court=kiel;street=Altweg;pc=24103;"
	    "city=Kiel;lf=GMBH");
	add(m, "c1", "HH", "2", "Neu GmbH", "2023-06-01",
	    "vat=DE123456789;vatok=0;street=Neuweg;pc=20095;city=Hamburg");
	add(m, "c1", "SH", "3", "Mitte GmbH", "2021-01-01", NULL);
	assert_int_equal(kt_merge_finish(m, &err), KT_OK);
	assert_int_equal(kt_merge_nunits(m), 1);
	u = kt_merge_unit_json(m, 0);
	assert_string_equal(str(u, "unit"), "c1");
	assert_string_equal(org(u, "legal_name"), "Neu GmbH");
	assert_string_equal(org(u, "legal_form"), "GMBH");
	assert_string_equal(org(u, "vat"), "DE123456788");
	assert_string_equal(org(u, "vat_valid"), "1");
	assert_string_equal(org(u, "hr_court"), "kiel");
	assert_string_equal(org(u, "hr_number"), "1234");
	assert_string_equal(org(u, "hr_valid"), "1");
	assert_string_equal(org(u, "street"), "Neuweg");
	assert_string_equal(org(u, "city"), "Hamburg");
	assert_string_equal(org(u, "country"), "DE");
	assert_int_equal(json_array_size(json_object_get(u, "sources")), 3);
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(u, "sources"), 0)),
	    "BY:1");
	assert_string_equal(str(json_object_get(u, "provenance"), "vat"),
			    "BY:1");
	assert_string_equal(str(json_object_get(u, "provenance"), "address"),
			    "HH:2");
	json_decref(u);
	kt_merge_free(m);
	kt_merge_rules_free(r);

	/* source priority first for the address only */
	r = rules("{\"version\":1,\"groups\":{\"address\":{\"order\":"
		  "[\"source_priority\",\"confirmed_at\"],"
		  "\"source_priority\":{\"BY\":5}}}}");
	assert_int_equal(kt_merge_new(r, &m), KT_OK);
	add(m, "c1", "BY", "1", "Alt GmbH", "2020-01-01",
	    "street=Altweg;pc=24103;city=Kiel");
	add(m, "c1", "HH", "2", "Neu GmbH", "2023-06-01",
	    "street=Neuweg;pc=20095;city=Hamburg");
	assert_int_equal(kt_merge_finish(m, &err), KT_OK);
	u = kt_merge_unit_json(m, 0);
	assert_string_equal(org(u, "street"), "Altweg");
	assert_string_equal(org(u, "legal_name"), "Neu GmbH");
	json_decref(u);
	kt_merge_free(m);
	kt_merge_rules_free(r);

	/* ties: the record id decides (deterministic); a complete address
	 * beats a newer partial one */
	r = rules(NULL);
	assert_int_equal(kt_merge_new(r, &m), KT_OK);
	add(m, "c9", "HH", "b", "Zwei AG", "2022-01-01",
	    "street=Weg;pc=20095;city=Hamburg");
	add(m, "c9", "BY", "a", "Eins AG", "2022-01-01", "city=München");
	assert_int_equal(kt_merge_finish(m, &err), KT_OK);
	u = kt_merge_unit_json(m, 0);
	assert_string_equal(org(u, "legal_name"), "Eins AG");
	assert_string_equal(org(u, "city"), "Hamburg");
	json_decref(u);
	kt_merge_free(m);
	kt_merge_rules_free(r);
}

/* ---- people --------------------------------------------------------- */

static void test_people(void **state)
{
	struct kt_merge_rules *r = rules(NULL);
	struct kt_merge *m = NULL;
	struct kt_merge_summary s;
	struct kt_error err;
	json_t *u0, *u1, *u2, *p, *legacy;
	size_t i;
	int found_shared = 0, found_dup = 0, found_bad = 0;

	assert_int_equal(kt_merge_new(r, &m), KT_OK);
	/* Anna, verified in two Länder and two companies: one person */
	add(m, "a", "BY", "1", "A GmbH", "2020-01-01",
	    "mail=Anna@Example.com;hash=$2y$10$abc;role=Benutzer");
	add(m, "a", "HH", "2", "A GmbH", "2022-01-01",
	    "mail=anna@example.com;hash={SSHA}xyz;role=Administrator");
	add(m, "b", "SH", "3", "B KG", "2021-01-01",
	    "mail=anna@example.com;hash=$6$salt$h;role=Bevollmächtigter");
	/* an unverified record with Anna's address is not Anna */
	add(m, "b", "NW", "4", "B KG", "2023-01-01",
	    "mail=anna@example.com;verified=0;hash=$1$evil;role=admin");
	/* two unverified accounts share an address: neither is migrated */
	add(m, "c", "BE", "5", "C eV", "2020-01-01",
	    "mail=info@c.de;verified=0;role=admin");
	add(m, "c", "BB", "6", "C eV", "2020-01-01",
	    "mail=info@c.de;verified=0;role=admin");
	/* one unverified account alone: a person, unverified */
	add(m, "c", "MV", "7", "C eV", "2020-01-01",
	    "mail=solo@c.de;verified=0;role=user");
	/* a contact without a valid address */
	add(m, "c", "TH", "8", "C eV", "2020-01-01",
	    "mail=kaputt.c.de;role=admin");
	assert_int_equal(kt_merge_finish(m, &err), KT_OK);
	assert_int_equal(kt_merge_nunits(m), 3);
	u0 = kt_merge_unit_json(m, 0);
	u1 = kt_merge_unit_json(m, 1);
	u2 = kt_merge_unit_json(m, 2);

	/* unit a: Anna, admin (strongest of member and admin) */
	assert_int_equal(json_array_size(json_object_get(u0, "people")), 1);
	p = person(u0, "anna@example.com");
	assert_non_null(p);
	assert_string_equal(str(p, "role"), "admin");
	assert_string_equal(str(p, "email_verified"), "1");
	/* the newest source's hash is the password; every source's is kept,
	 * exactly as exported */
	assert_string_equal(str(p, "pwhash"), "{SSHA}xyz");
	legacy = json_object_get(p, "legacy");
	assert_int_equal(json_object_size(legacy), 3);
	assert_string_equal(str(legacy, "BY:1"), "$2y$10$abc");
	assert_string_equal(str(legacy, "HH:2"), "{SSHA}xyz");
	assert_string_equal(str(legacy, "SH:3"), "$6$salt$h");
	assert_null(json_object_get(legacy, "NW:4"));
	assert_string_equal(str(p, "name"), "Person 2");

	/* unit b: Anna again (the same person), as representative; the
	 * unverified NW record adds nothing */
	assert_int_equal(json_array_size(json_object_get(u1, "people")), 1);
	p = person(u1, "anna@example.com");
	assert_string_equal(str(p, "role"), "representative");
	assert_string_equal(str(p, "pwhash"), "{SSHA}xyz");

	/* unit c: only solo@c.de, unverified */
	assert_int_equal(json_array_size(json_object_get(u2, "people")), 1);
	p = person(u2, "solo@c.de");
	assert_non_null(p);
	assert_string_equal(str(p, "email_verified"), "0");
	assert_string_equal(str(p, "role"), "member");

	for (i = 0; i < kt_merge_nskipped(m); i++) {
		const struct kt_merge_skipped *k = kt_merge_skipped_at(m, i);

		if (strcmp(k->source, "NW:4") == 0) {
			assert_string_equal(k->reason,
					    "unverified e-mail address of a "
					    "verified person: not merged into "
					    "it");
			assert_true(k->covered); /* Anna is in B anyway */
			found_dup = 1;
		} else if (strcmp(k->source, "BE:5") == 0 ||
			   strcmp(k->source, "BB:6") == 0) {
			assert_string_equal(k->reason,
					    "unverified e-mail address shared "
					    "by several accounts: not merged");
			assert_false(k->covered);
			found_shared++;
		} else if (strcmp(k->source, "TH:8") == 0) {
			assert_string_equal(k->reason,
					    "no valid e-mail address");
			assert_string_equal(k->email, "kaputt.c.de");
			found_bad = 1;
		} else {
			fail_msg("unexpected skip %s", k->source);
		}
	}
	assert_true(found_dup && found_shared == 2 && found_bad);
	kt_merge_summary_get(m, &s);
	assert_int_equal(s.records, 8);
	assert_int_equal(s.clusters, 3);
	assert_int_equal(s.multi_clusters, 3);
	assert_int_equal(s.people, 2);
	assert_int_equal(s.people_multi_source, 1);
	assert_int_equal(s.people_unverified, 1);
	assert_int_equal(s.memberships, 3);
	assert_int_equal(s.legacy_hashes, 3);
	assert_int_equal(s.contacts_skipped, 4);
	json_decref(u0);
	json_decref(u1);
	json_decref(u2);
	kt_merge_free(m);
	kt_merge_rules_free(r);
}

static void test_add_errors(void **state)
{
	struct kt_merge_rules *r = rules(NULL);
	struct kt_merge *m = NULL;
	struct kt_rec *rec = kt_rec_new();
	struct kt_error err;
	json_t *o;

	assert_int_equal(kt_merge_new(r, &m), KT_OK);
	add(m, "x", "BY", "1", "A", "", NULL);
	o = json_loads("{\"land\":\"BY\",\"account_id\":\"1\",\"name\":"
		       "{\"key\":\"a\"}}",
		       0, NULL);
	assert_int_equal(kt_rec_from_json(rec, o, &err), KT_OK);
	assert_int_equal(kt_merge_add(m, rec, "y", &err), KT_ERR_CONFLICT);
	assert_string_equal(err.msg, "BY:1: the record appears twice");
	json_decref(o);
	o = json_loads("{\"land\":\"BY\",\"account_id\":\"a b\",\"name\":"
		       "{\"key\":\"a\"}}",
		       0, NULL);
	assert_int_equal(kt_rec_from_json(rec, o, &err), KT_OK);
	assert_int_equal(kt_merge_add(m, rec, "y", &err), KT_ERR_INVALID);
	assert_string_equal(err.msg, "BY:a b: the account id cannot be a "
				     "source link (spaces, braces or control "
				     "characters)");
	json_decref(o);
	assert_int_equal(kt_merge_finish(m, &err), KT_OK);
	assert_int_equal(kt_merge_finish(m, &err), KT_ERR_INVALID);
	assert_int_equal(kt_merge_add(m, rec, "z", &err), KT_ERR_INVALID);
	kt_rec_free(rec);
	kt_merge_free(m);
	kt_merge_rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_survivorship),
	    cmocka_unit_test(test_people),
	    cmocka_unit_test(test_add_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
